#!/usr/bin/env bash
# Build static, stripped release binaries of rttpd for the router targets.
#   cross/build.sh [TARGET...]        default: all six targets
# Output: ${CARGO_TARGET_DIR:-target}/cross/<target>/rttpd
# Installs what it needs when missing (qemu-user-static, a venv with zig and
# cargo-zigbuild, the pinned rustup toolchain with rust-src); see cross/README.md.
#
# Environment:
#   RTTPD_CROSS_HOME     where tools and caches live (default /opt/rttpd-cross)
#   RTTPD_BUILD_STD_FEATURES  std features for -Zbuild-std-features (default
#                        optimize_for_size; any value drops std's backtrace support)
#   RTTPD_IMMEDIATE_ABORT  1 (default): -Cpanic=immediate-abort (no panic message,
#                        ~55 KB smaller on armv7) and -Cforce-unwind-tables=no (no
#                        .eh_frame: ~40 KB more); 0 keeps panic messages and unwind
#                        tables (see cross/README.md)
#   RTTPD_EXTRA_RUSTFLAGS extra rustflags, space separated (appended to cross/config.toml's)
#
# The profile is Cargo.toml's release profile except strip: cargo links unstripped
# (target/<target>/release/rttpd, read by size-reports/update.sh) and this script
# strips with llvm-strip --strip-all, which also drops MIPS's .pdr section
# (~60 KB that lld's --strip-all keeps).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cross_parse_targets "$@"
targets=("${TARGETS[@]}")

cross_ensure_tools
cd "$REPO_DIR"
target_dir=${CARGO_TARGET_DIR:-$REPO_DIR/target}
features=${RTTPD_BUILD_STD_FEATURES-optimize_for_size}

failed=()
for t in "${targets[@]}"; do
  start=$(date +%s)
  out="$target_dir/cross/$t"
  rm -f "$out/rttpd"
  flags=${RTTPD_EXTRA_RUSTFLAGS:-}
  # Nothing unwinds after an immediate abort, so no unwind tables either
  # (.eh_frame: ~40 KB of x86_64's 292 KB).
  [ "${RTTPD_IMMEDIATE_ABORT:-1}" = 1 ] && flags="$flags -Zunstable-options -Cpanic=immediate-abort -Cforce-unwind-tables=no"
  extra=()
  if [ -n "${flags// /}" ]; then
    # shellcheck disable=SC2086
    list=$(printf '"%s",' $flags); extra=(--config "target.$t.rustflags=[${list%,}]")
  fi
  # Every target builds std from source: prebuilt std exists only for aarch64 and
  # x86_64, and building it with panic_abort and without backtrace halves the binary.
  build_std=(-Zbuild-std=std,panic_abort)
  [ -n "$features" ] && build_std+=("-Zbuild-std-features=$features")
  cross_log "building $t"
  if ! cargo --config "$CROSS_CARGO_CONFIG" "${extra[@]}" --config profile.release.strip=false \
       build --locked --release \
       --target "$t" "${build_std[@]}" --bin rttpd; then
    failed+=("$t (build)"); continue
  fi
  mkdir -p "$out"
  if ! "$LLVM_BIN/llvm-strip" --strip-all -o "$out/rttpd.tmp" "$target_dir/$t/release/rttpd"; then
    failed+=("$t (strip)"); continue
  fi
  mv -f "$out/rttpd.tmp" "$out/rttpd"
  if ! cross_check_static "$out/rttpd"; then failed+=("$t (not static)"); continue; fi
  if LC_ALL=C readelf -SW "$out/rttpd" | grep -q '\.symtab'; then
    cross_log "$out/rttpd: not stripped"; failed+=("$t (not stripped)"); continue
  fi
  cross_log "$t: $(stat -c %s "$out/rttpd") bytes, static, stripped, $(( $(date +%s) - start ))s"
done

printf '%-34s %10s\n' target bytes
for t in "${targets[@]}"; do
  f="$target_dir/cross/$t/rttpd"
  [ -f "$f" ] && printf '%-34s %10s\n' "$t" "$(stat -c %s "$f")"
done
if [ ${#failed[@]} -gt 0 ]; then cross_die "failed: ${failed[*]}"; fi
