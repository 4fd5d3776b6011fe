#!/usr/bin/env bash
# Register qemu-user-static with binfmt_misc for arm, aarch64, mips and mipsel, so
# that the kernel runs foreign-arch ELF binaries through qemu. Needed when a binary
# under test execs a binary of its own arch: rttpd's pmaster spawns its children
# by fork + exec of /proc/self/exe, and integration tests exec the rttpd binary.
# Without it such an execve fails with ENOEXEC (qemu-user hands execve to the
# host kernel; for /proc/self/exe it substitutes the path it was started with).
#
#   cross/qemu-binfmt.sh            register what is missing; print the state
#   cross/qemu-binfmt.sh --check    change nothing; exit 1 unless all four work
#
# Idempotent, needs root. Never unregisters or changes an existing entry: an arch
# that already has a handler (ours, the distribution's or any other with the same
# ELF magic) is left as it is. Registrations use Debian's /usr/lib/binfmt.d/qemu-*.conf
# lines (flags OPF: F opens the interpreter now, so it also works in chroots and
# mount namespaces). They last until reboot; `echo -1 > /proc/sys/fs/binfmt_misc/qemu-arm`
# removes one by hand.
#
# Notes for tests (cross/README.md has more):
# - Start the binary by an absolute path: qemu 7.2 answers /proc/self/exe with the
#   path it was given, so after a chdir a relative one no longer resolves (ENOENT).
# - A child started through binfmt gets qemu's default CPU; set QEMU_CPU (e.g.
#   arm1176 for ARMv6) in the environment to keep the CPU model across exec.
set -euo pipefail

MNT=/proc/sys/fs/binfmt_misc
ARCHES=(arm aarch64 mips mipsel)
check_only=0
[ "${1:-}" = "--check" ] && check_only=1

log() { printf '[binfmt] %s\n' "$*" >&2; }

# Debian's entries; used when /usr/lib/binfmt.d/qemu-<arch>.conf is missing.
fallback_line() {
  local interp; interp=$(command -v "qemu-$1-static" || true)
  [ -n "$interp" ] || return 1
  case "$1" in
    arm)     echo ":qemu-arm:M::\\x7f\\x45\\x4c\\x46\\x01\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02\\x00\\x28\\x00:\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff\\xff:$interp:F" ;;
    aarch64) echo ":qemu-aarch64:M::\\x7f\\x45\\x4c\\x46\\x02\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02\\x00\\xb7\\x00:\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff\\xff:$interp:F" ;;
    mips)    echo ":qemu-mips:M::\\x7f\\x45\\x4c\\x46\\x01\\x02\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02\\x00\\x08\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00:\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00\\xfe\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x20:$interp:F" ;;
    mipsel)  echo ":qemu-mipsel:M::\\x7f\\x45\\x4c\\x46\\x01\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02\\x00\\x08\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00:\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00\\xfe\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff\\xff\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x20:$interp:F" ;;
  esac
}

conf_line() {
  local f=/usr/lib/binfmt.d/qemu-$1.conf
  if [ -r "$f" ] && [ -x "$(sed -n 's/^:[^:]*:M:[^:]*:[^:]*:[^:]*:\([^:]*\):.*/\1/p' "$f")" ]; then
    grep -m1 '^:' "$f"
  else
    fallback_line "$1"
  fi
}

# Magic field of a registration line, as binfmt_misc prints it (lowercase hex).
line_magic() {
  printf '%s' "$1" | cut -d: -f5 | sed 's/\\x//g' | tr 'A-F' 'a-f'
}

# Name of an enabled entry that handles this magic, if any.
handled_by() {
  local magic=$1 e
  for e in "$MNT"/*; do
    case "${e##*/}" in register|status) continue ;; esac
    [ -r "$e" ] || continue
    grep -qx 'enabled' "$e" || continue
    # Compare on the length of our magic: entries may use a longer or shorter one.
    local m; m=$(sed -n 's/^magic //p' "$e")
    [ -n "$m" ] || continue
    if [ "${m:0:${#magic}}" = "$magic" ] || [ "${magic:0:${#m}}" = "$m" ]; then
      echo "${e##*/}"; return 0
    fi
  done
  return 1
}

if [ "$check_only" = 0 ]; then
  [ "$(id -u)" = 0 ] || { log "needs root"; exit 1; }
  if ! command -v qemu-arm-static >/dev/null 2>&1; then
    log "installing qemu-user-static"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user-static >/dev/null
  fi
  if [ ! -e "$MNT/register" ]; then
    grep -qw binfmt_misc /proc/filesystems || modprobe binfmt_misc 2>/dev/null || true
    mount -t binfmt_misc binfmt_misc "$MNT" || { log "cannot mount binfmt_misc on $MNT"; exit 1; }
    log "mounted binfmt_misc on $MNT"
  fi
  if [ "$(cat "$MNT/status" 2>/dev/null)" != enabled ]; then
    log "binfmt_misc is globally disabled ($MNT/status); not changing that"; exit 1
  fi
fi

missing=0
for a in "${ARCHES[@]}"; do
  line=$(conf_line "$a") || { log "$a: no qemu-$a-static"; missing=1; continue; }
  magic=$(line_magic "$line")
  if h=$(handled_by "$magic" 2>/dev/null); then
    log "$a: handled by '$h' ($(sed -n 's/^interpreter //p' "$MNT/$h"), flags $(sed -n 's/^flags: //p' "$MNT/$h"))"
    continue
  fi
  if [ "$check_only" = 1 ]; then log "$a: not registered"; missing=1; continue; fi
  name=$(printf '%s' "$line" | cut -d: -f2)
  if [ -e "$MNT/$name" ]; then
    # An entry of that name exists but is disabled: it is not ours to change.
    log "$a: '$name' exists but is disabled; leaving it (enable with: echo 1 > $MNT/$name)"
    missing=1; continue
  fi
  if printf '%s' "$line" > "$MNT/register"; then
    log "$a: registered '$name' ($(sed -n 's/^interpreter //p' "$MNT/$name"), flags $(sed -n 's/^flags: //p' "$MNT/$name"))"
  else
    log "$a: registration failed"; missing=1
  fi
done
exit "$missing"
