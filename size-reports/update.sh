#!/usr/bin/env bash
# Regenerate size-reports/<target>.txt: stripped size, sections, biggest
# contributors by crate and by symbol (llvm-nm on the unstripped link that
# cross/build.sh leaves in target/<target>/release/rttpd).
#   size-reports/update.sh [TARGET...]      default: all six targets
# Runs cross/build.sh first (seconds when nothing changed).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../cross/lib.sh"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${ALL_TARGETS[@]}")

bash "$CROSS_DIR/build.sh" "${targets[@]}"
cross_ensure_tools
target_dir=${CARGO_TARGET_DIR:-$REPO_DIR/target}

for t in "${targets[@]}"; do
  stripped="$target_dir/cross/$t/rttpd"
  linked="$target_dir/$t/release/rttpd"
  budget=$(awk -v t="$t" '$1==t {print $2}' "$here/budget.txt" 2>/dev/null || true)
  nmout=$(mktemp)
  "$LLVM_BIN/llvm-nm" -S --size-sort -C --defined-only "$linked" > "$nmout"
  {
    echo "# rttpd size report: $t"
    echo "# Regenerate with size-reports/update.sh; toolchain $RTTPD_TOOLCHAIN, cross/build.sh settings"
    echo "# (Cargo.toml release profile, -Zbuild-std=std,panic_abort, -Zbuild-std-features=${RTTPD_BUILD_STD_FEATURES-optimize_for_size}, llvm-strip)."
    echo
    printf 'stripped size: %s bytes (%s KiB)\n' "$(stat -c %s "$stripped")" "$(( ($(stat -c %s "$stripped") + 1023) / 1024 ))"
    [ -n "$budget" ] && printf 'budget:        %s bytes (size-reports/budget.txt)\n' "$budget"
    echo
    echo "Sections of the stripped binary (bytes):"
    "$LLVM_BIN/llvm-size" -A "$stripped" | awk 'NR>2 && NF>=2 && $2>0 {printf "  %-20s %9s\n", $1, $2}'
    echo
    echo "Symbols of the unstripped link, by crate (heuristic; code = text symbols):"
    python3 "$here/symbols.py" "$nmout" 30
  } > "$here/$t.txt"
  rm -f "$nmout"
  cross_log "wrote size-reports/$t.txt"
done
