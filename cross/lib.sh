# shellcheck shell=bash
# Shared by cross/*.sh and size-reports/*.sh. Sourcing it only computes paths;
# `cross_ensure_tools` installs what is missing (idempotent, quick when present).

CROSS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$CROSS_DIR/.." && pwd)

# Pinned versions (see ../shared/CROSS.md). Change them together.
RTTPD_TOOLCHAIN=${RTTPD_TOOLCHAIN:-1.95.0}
ZIGLANG_VERSION=0.17.1
CARGO_ZIGBUILD_VERSION=0.24.1

ALL_TARGETS=(
  armv7-unknown-linux-musleabihf
  aarch64-unknown-linux-musl
  arm-unknown-linux-musleabihf
  mipsel-unknown-linux-musl
  mips-unknown-linux-musl
  x86_64-unknown-linux-musl
)
# Targets rustup serves a prebuilt std for (for 1.95.0); the rest need -Zbuild-std.
RUSTUP_STD_TARGETS=(aarch64-unknown-linux-musl x86_64-unknown-linux-musl)

# Everything downloaded lives outside the repo and can be recreated by cross_ensure_tools.
if [ -z "${RTTPD_CROSS_HOME:-}" ]; then
  if [ -w /opt ] || [ -d /opt/rttpd-cross ]; then RTTPD_CROSS_HOME=/opt/rttpd-cross
  else RTTPD_CROSS_HOME=${XDG_CACHE_HOME:-$HOME/.cache}/rttpd-cross; fi
fi
export RTTPD_CROSS_HOME
export PATH="$RTTPD_CROSS_HOME/venv/bin:$HOME/.cargo/bin:$PATH"
# zig's per-target musl build (~1 min per target, once) and cargo-zigbuild's files.
export ZIG_GLOBAL_CACHE_DIR="$RTTPD_CROSS_HOME/cache/zig"
export ZIG_LOCAL_CACHE_DIR="$RTTPD_CROSS_HOME/cache/zig"
export CARGO_ZIGBUILD_CACHE_DIR="$RTTPD_CROSS_HOME/cache/cargo-zigbuild"
export CARGO_ZIGBUILD_ZIG_COMMAND="$RTTPD_CROSS_HOME/venv/bin/python3"
export CARGO_ZIGBUILD_ZIG_COMMAND_ARGS="-m ziglang"
export RUSTUP_TOOLCHAIN="$RTTPD_TOOLCHAIN"
# -Zbuild-std on the stable toolchain.
export RUSTC_BOOTSTRAP=1

CROSS_CARGO_CONFIG="$CROSS_DIR/config.toml"

cross_log() { printf '[cross] %s\n' "$*" >&2; }
cross_die() { printf '[cross] ERROR: %s\n' "$*" >&2; exit 1; }

cross_known_target() {
  local t
  for t in "${ALL_TARGETS[@]}"; do [ "$t" = "$1" ] && return 0; done
  return 1
}

# Sets TARGETS from the arguments (default: all six); dies on an unknown one,
# and on a RUSTFLAGS in the environment: cargo would let it replace
# cross/config.toml's rustflags (link-self-contained=no, crt-static, MIPS's
# --cfg=fix_y2038) and build broken binaries.
cross_parse_targets() {
  [ -z "${RUSTFLAGS:-}${CARGO_ENCODED_RUSTFLAGS:-}" ] \
    || cross_die "RUSTFLAGS would replace cross/config.toml's rustflags; use RTTPD_EXTRA_RUSTFLAGS"
  TARGETS=("$@")
  [ $# -gt 0 ] || TARGETS=("${ALL_TARGETS[@]}")
  local t
  for t in "${TARGETS[@]}"; do
    cross_known_target "$t" || cross_die "unknown target $t (known: ${ALL_TARGETS[*]})"
  done
}

cross_has_rustup_std() {
  local t
  for t in "${RUSTUP_STD_TARGETS[@]}"; do [ "$t" = "$1" ] && return 0; done
  return 1
}

# qemu-user binary for a target (the cpu is chosen in config.toml's runner).
cross_qemu_for() {
  case "$1" in
    armv7-*|arm-*) echo qemu-arm-static ;;
    aarch64-*) echo qemu-aarch64-static ;;
    mipsel-*) echo qemu-mipsel-static ;;
    mips-*) echo qemu-mips-static ;;
    x86_64-*) echo "" ;;
  esac
}

cross_ensure_tools() {
  local need_apt=()
  command -v qemu-arm-static >/dev/null 2>&1 || need_apt+=(qemu-user-static)
  command -v readelf >/dev/null 2>&1 || need_apt+=(binutils)
  command -v python3 >/dev/null 2>&1 || need_apt+=(python3 python3-venv)
  if [ ${#need_apt[@]} -gt 0 ]; then
    cross_log "apt-get install ${need_apt[*]}"
    local sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need_apt[@]}" >/dev/null
  fi

  local stamp="$RTTPD_CROSS_HOME/venv/.rttpd-ziglang-$ZIGLANG_VERSION-zigbuild-$CARGO_ZIGBUILD_VERSION"
  if [ ! -e "$stamp" ]; then
    cross_log "python venv with ziglang==$ZIGLANG_VERSION cargo-zigbuild==$CARGO_ZIGBUILD_VERSION in $RTTPD_CROSS_HOME/venv"
    mkdir -p "$RTTPD_CROSS_HOME"
    [ -x "$RTTPD_CROSS_HOME/venv/bin/pip" ] || python3 -m venv "$RTTPD_CROSS_HOME/venv" \
      || cross_die "python3 -m venv failed (apt-get install python3-venv?)"
    "$RTTPD_CROSS_HOME/venv/bin/pip" install -q --disable-pip-version-check \
      "ziglang==$ZIGLANG_VERSION" "cargo-zigbuild==$CARGO_ZIGBUILD_VERSION"
    touch "$stamp"
  fi

  command -v rustup >/dev/null 2>&1 || cross_die "rustup not found (install it from your distribution or rustup.rs)"
  local sysroot; sysroot=$(rustc --print sysroot 2>/dev/null || true)
  if [ -z "$sysroot" ] || [ ! -d "$sysroot/lib/rustlib/src/rust/library" ] \
     || [ ! -d "$sysroot/lib/rustlib/aarch64-unknown-linux-musl" ] \
     || [ ! -d "$sysroot/lib/rustlib/x86_64-unknown-linux-musl" ] \
     || [ ! -x "$(cross_llvm_bin "$sysroot")/llvm-strip" ]; then
    cross_log "rustup toolchain $RTTPD_TOOLCHAIN with rust-src, llvm-tools and the musl targets rustup serves"
    rustup toolchain install "$RTTPD_TOOLCHAIN" --profile minimal --no-self-update \
      --component rust-src --component llvm-tools "${RUSTUP_STD_TARGETS[@]/#/--target=}" >&2
  fi
  LLVM_BIN=$(cross_llvm_bin "$(rustc --print sysroot)")
}

# llvm-strip/llvm-nm/llvm-size of the pinned toolchain (rustup component llvm-tools).
cross_llvm_bin() {
  local host; host=$(rustc -vV | sed -n 's/^host: //p')
  echo "$1/lib/rustlib/$host/bin"
}

# Succeeds when $1 is a static ELF executable (no PT_INTERP, no DT_NEEDED).
cross_check_static() {
  local bin=$1 hdr
  [ -f "$bin" ] || { cross_log "$bin: missing"; return 1; }
  hdr=$(LC_ALL=C readelf -lW "$bin" 2>/dev/null) || { cross_log "$bin: not an ELF file"; return 1; }
  if grep -q 'INTERP' <<<"$hdr"; then cross_log "$bin: has PT_INTERP (dynamically linked)"; return 1; fi
  if LC_ALL=C readelf -dW "$bin" 2>/dev/null | grep -q '(NEEDED)'; then
    cross_log "$bin: has DT_NEEDED entries"; return 1
  fi
  return 0
}
