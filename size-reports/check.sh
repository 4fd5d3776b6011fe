#!/usr/bin/env bash
# Fail when a target's stripped binary (from cross/build.sh) exceeds its budget.
#   size-reports/check.sh [TARGET...]   default: every target in size-reports/budget.txt
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
target_dir=${CARGO_TARGET_DIR:-$repo/target}
budget_file="$here/budget.txt"

declare -A budget=()
order=()
while read -r t b _; do
  case "$t" in ''|\#*) continue ;; esac
  [[ "$b" =~ ^[0-9]+$ ]] || { echo "size-reports/budget.txt: bad budget for $t: '$b'" >&2; exit 2; }
  budget[$t]=$b; order+=("$t")
done < "$budget_file"

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${order[@]}")
pass=0 fail=0
printf '%-34s %10s %10s %8s  %s\n' target bytes budget used result
for t in "${targets[@]}"; do
  b=${budget[$t]:-}
  f="$target_dir/cross/$t/rttpd"
  if [ -z "$b" ]; then
    printf '%-34s %10s %10s %8s  %s\n' "$t" - - - "FAIL: no budget in size-reports/budget.txt"; fail=$((fail+1)); continue
  fi
  if [ ! -f "$f" ]; then
    printf '%-34s %10s %10s %8s  %s\n' "$t" - "$b" - "FAIL: $f missing (run cross/build.sh $t)"; fail=$((fail+1)); continue
  fi
  s=$(stat -c %s "$f")
  pct=$(( s * 100 / b ))
  if [ "$s" -gt "$b" ]; then
    printf '%-34s %10s %10s %7s%%  %s\n' "$t" "$s" "$b" "$pct" "FAIL: over budget by $((s - b)) bytes"; fail=$((fail+1))
  else
    printf '%-34s %10s %10s %7s%%  %s\n' "$t" "$s" "$b" "$pct" ok; pass=$((pass+1))
  fi
done
echo "size budgets: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
