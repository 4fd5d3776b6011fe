#!/usr/bin/env bash
# Smoke test of the cross-built binaries: cross/smoke.py per target, from the host.
#   cross/smoke.sh [TARGET...]        default: all six targets
# Needs target/cross/<target>/rttpd (cross/build.sh), and root for binfmt_misc
# (cross/qemu-binfmt.sh, run here: rttpd's pmaster fork+execs /proc/self/exe)
# and for the privilege-drop checks. Exits non-zero if any target failed.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${ALL_TARGETS[@]}")
for t in "${targets[@]}"; do cross_known_target "$t" || cross_die "unknown target $t (known: ${ALL_TARGETS[*]})"; done

target_dir=${CARGO_TARGET_DIR:-$REPO_DIR/target}
missing=()
for t in "${targets[@]}"; do [ -x "$target_dir/cross/$t/rttpd" ] || missing+=("$t"); done
[ ${#missing[@]} -eq 0 ] || cross_die "no binary for: ${missing[*]} (run cross/build.sh ${missing[*]} first)"

if [ "$(id -u)" = 0 ]; then
  bash "$CROSS_DIR/qemu-binfmt.sh" || cross_die "binfmt_misc registration failed (see above)"
else
  cross_log "not root: checking binfmt_misc only; the privilege-drop checks are skipped"
  bash "$CROSS_DIR/qemu-binfmt.sh" --check || cross_die "qemu is not registered with binfmt_misc (run cross/qemu-binfmt.sh as root)"
fi

results=()
failed=0
for t in "${targets[@]}"; do
  start=$(date +%s%N)
  if python3 "$CROSS_DIR/smoke.py" --target "$t" --bin "$target_dir/cross/$t/rttpd"; then r=PASS; else r=FAIL; failed=1; fi
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  results+=("$(printf '%-34s %s %4d.%01ds' "$t" "$r" $((ms / 1000)) $((ms % 1000 / 100)))")
done

echo
echo "smoke test summary:"
printf '  %s\n' "${results[@]}"
exit "$failed"
