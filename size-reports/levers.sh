#!/usr/bin/env bash
# Measure what each size lever is worth on the current crate (not run by CI; slow:
# every configuration rebuilds std). Writes size-reports/levers.txt.
#   size-reports/levers.sh [TARGET...]      default: armv7 and mipsel
# Sizes are bytes after llvm-strip --strip-all, as cross/build.sh ships them.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../cross/lib.sh"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(armv7-unknown-linux-musleabihf mipsel-unknown-linux-musl)
cross_ensure_tools
cd "$REPO_DIR"
out="$REPO_DIR/size-reports/levers.txt"

# name | profile overrides | -Zbuild-std value | -Zbuild-std-features value ("-" = not given) | extra rustflags
CONFIGS=(
  "cargo defaults (opt 3, no LTO, 16 CGU, unwind)|opt-level=3 lto=false codegen-units=16 panic=\"unwind\"|std|-|"
  "+ opt-level=z|opt-level=\"z\" lto=false codegen-units=16 panic=\"unwind\"|std|-|"
  "+ lto=true|opt-level=\"z\" lto=true codegen-units=16 panic=\"unwind\"|std|-|"
  "+ codegen-units=1|opt-level=\"z\" lto=true codegen-units=1 panic=\"unwind\"|std|-|"
  "+ panic=abort (= Cargo.toml today)||std,panic_abort|-|"
  "+ -Zbuild-std-features= (empty: drops backtrace)||std,panic_abort||"
  "+ optimize_for_size (= cross/build.sh)||std,panic_abort|optimize_for_size|"
  "+ -Cpanic=immediate-abort||std,panic_abort|optimize_for_size|-Zunstable-options -Cpanic=immediate-abort"
  "build.sh without lto (lto=false)|lto=false|std,panic_abort|optimize_for_size|"
  "build.sh with codegen-units=16|codegen-units=16|std,panic_abort|optimize_for_size|"
  "build.sh with opt-level=s|opt-level=\"s\"|std,panic_abort|optimize_for_size|"
  "build.sh with opt-level=3|opt-level=3|std,panic_abort|optimize_for_size|"
)

{
  echo "# Size levers, measured by size-reports/levers.sh on $(date -u +%Y-%m-%d) (toolchain $RTTPD_TOOLCHAIN)"
  echo "# crate at $(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo '?'); bytes after llvm-strip --strip-all"
  echo "# The first 8 rows are cumulative; the last 4 change one setting of the cross/build.sh configuration."
  echo "# Levers outside this table (measured on the skeleton): llvm-strip instead of lld's --strip-all drops"
  echo "# MIPS's .pdr section (mipsel 207,424 -> 147,000); -z max-page-size=4096 on 32-bit ARM removes up to"
  echo "# 64 KiB of segment padding (armv7 with immediate-abort 98,232 -> 36,792). Both are in cross/ already."
  echo "# On a hello-world skeleton LLVM's choices are not representative (opt-level 3 beat z here): re-run"
  echo "# this on the real server before changing the profile."
} > "$out.tmp"
header=$(printf '%-52s' "configuration"); for t in "${targets[@]}"; do header+=$(printf ' %12s' "${t%%-*}"); done
echo "$header" >> "$out.tmp"

for c in "${CONFIGS[@]}"; do
  IFS='|' read -r name prof bstd feats flags <<<"$c"
  row=$(printf '%-52s' "$name")
  for t in "${targets[@]}"; do
    args=(--config "$CROSS_CARGO_CONFIG" --config profile.release.strip=false)
    for p in $prof; do args+=(--config "profile.release.$p"); done
    if [ -n "$flags" ]; then
      # shellcheck disable=SC2086
      list=$(printf '"%s",' $flags); args+=(--config "target.$t.rustflags=[${list%,}]")
    fi
    zb=("-Zbuild-std=$bstd"); [ "$feats" = "-" ] || zb+=("-Zbuild-std-features=$feats")
    dir=$RTTPD_CROSS_HOME/levers/$t
    mkdir -p "$RTTPD_CROSS_HOME/levers"
    if CARGO_TARGET_DIR=$dir nice cargo "${args[@]}" build --locked --release --target "$t" "${zb[@]}" --bin rttpd \
         > "$dir.log" 2>&1 \
       && "$LLVM_BIN/llvm-strip" --strip-all -o "$dir.stripped" "$dir/$t/release/rttpd"; then
      row+=$(printf ' %12s' "$(stat -c %s "$dir.stripped")")
    else
      row+=$(printf ' %12s' "error"); cross_log "$name / $t failed, see $dir.log"
    fi
  done
  echo "$row" | tee -a "$out.tmp"
done
mv -f "$out.tmp" "$out"
