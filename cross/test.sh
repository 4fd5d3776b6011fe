#!/usr/bin/env bash
# Run rttpd's unit tests (cargo test --lib) for each target under qemu-user, then
# the platform probe (cross/probe: poll timeouts, 64-bit offsets, clocks).
#   cross/test.sh [TARGET...]         default: all six targets
# Tests build in the dev profile: `cargo test --release` with -Zbuild-std and
# panic=abort fails (duplicate lang item; CROSS.md pitfall 3).
# Environment: RTTPD_CROSS_HOME as for build.sh; RTTPD_SKIP_PROBE=1 skips the probe.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

cross_parse_targets "$@"
targets=("${TARGETS[@]}")

cross_ensure_tools
cd "$REPO_DIR"
target_dir=${CARGO_TARGET_DIR:-$REPO_DIR/target}
export CARGO_TARGET_DIR=$target_dir

# The probe is built from a copy that uses rttpd's Cargo.lock, so polling/rustix/
# libc/nix are the versions rttpd ships; it shares rttpd's target dir (and std).
probe_src="$target_dir/cross/probe-src"
if [ "${RTTPD_SKIP_PROBE:-0}" != 1 ]; then
  mkdir -p "$probe_src/src"
  cp -f "$CROSS_DIR/probe/Cargo.toml" "$probe_src/Cargo.toml"
  cp -f "$CROSS_DIR/probe/src/main.rs" "$probe_src/src/main.rs"
  cp -f "$REPO_DIR/Cargo.lock" "$probe_src/Cargo.lock"   # cargo prunes what the probe does not use
fi

failed=()
for t in "${targets[@]}"; do
  start=$(date +%s)
  build_std=()
  # Prebuilt std from rustup where it exists (faster); std from source elsewhere.
  cross_has_rustup_std "$t" || build_std=(-Zbuild-std=std,panic_abort)
  cross_log "unit tests for $t (runner: $(cross_qemu_for "$t") ${build_std[*]})"
  if ! cargo --config "$CROSS_CARGO_CONFIG" test --locked --lib --target "$t" "${build_std[@]}"; then
    failed+=("$t (unit tests)")
  fi
  if [ "${RTTPD_SKIP_PROBE:-0}" != 1 ]; then
    cross_log "platform probe for $t"
    # TMPDIR on the host's disk: the probe makes a sparse 5 GiB file there.
    if ! TMPDIR="$target_dir/cross" cargo --config "$CROSS_CARGO_CONFIG" run -q \
         --manifest-path "$probe_src/Cargo.toml" --target "$t" "${build_std[@]}"; then
      failed+=("$t (probe)")
    fi
  fi
  cross_log "$t: done in $(( $(date +%s) - start ))s"
done

if [ ${#failed[@]} -gt 0 ]; then cross_die "failed: ${failed[*]}"; fi
cross_log "all targets passed: ${targets[*]}"
