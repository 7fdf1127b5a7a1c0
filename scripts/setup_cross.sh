#!/usr/bin/env bash
# scripts/setup_cross.sh — idempotent, Docker-free cross-compilation setup for hlscam on
# Debian 12 (bookworm) x86_64. Adapted from the team's shared recipe (cross/NOTES.md).
#
# Installs (only what is missing):
#   host   : gcc/g++, pkg-config, libasound2-dev, libclang (bindgen for v4l2-sys-mit), nasm (x86 SIMD for openh264)
#   arm64  : gcc/g++-aarch64-linux-gnu, libasound2-dev:arm64, libstdc++6:arm64   (Pi 3/4/5, 64-bit OS)
#   armhf  : gcc/g++-arm-linux-gnueabihf, libasound2-dev:armhf, libstdc++6:armhf  (Pi 2/3/Zero 2, 32-bit OS; ARMv7)
#   qemu-user (qemu-aarch64 / qemu-arm) to run the cross-built tests without binfmt_misc
#   rustup targets aarch64-unknown-linux-gnu, armv7-unknown-linux-gnueabihf
#
# The project's .cargo/config.toml already holds the linker/runner/pkg-config settings, so
# this script only installs. Usage (root, or a user with sudo):
#   scripts/setup_cross.sh                      both arches
#   CROSS_ARCHES="arm64" scripts/setup_cross.sh only aarch64
#   SKIP_QEMU=1 scripts/setup_cross.sh          build only, no emulator
# Re-running is cheap: every step checks before acting.
set -euo pipefail

CROSS_ARCHES="${CROSS_ARCHES:-arm64 armhf}"
export DEBIAN_FRONTEND=noninteractive
APT_GET=(apt-get -o DPkg::Lock::Timeout=600 -y --no-install-recommends)

log() { printf '[setup_cross] %s\n' "$*" >&2; }

# apt-get update with retries: a mirror mid-sync answers "File has unexpected
# size ... Mirror sync in progress?" for a minute or two.
apt_update() {
  local i
  for i in 1 2 3; do
    if $SUDO apt-get -o DPkg::Lock::Timeout=600 -o Acquire::Retries=3 update -qq; then return 0; fi
    [ "$i" = 3 ] && break
    log "apt-get update failed (try $i); retrying in $((i * 10))s"
    sleep $((i * 10))
  done
  log "apt-get update kept failing; continuing with the lists we have"
  return 0
}

if [ "$(id -u)" -ne 0 ]; then
  # sudo drops the environment, so pass DEBIAN_FRONTEND explicitly
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo env DEBIAN_FRONTEND=noninteractive"; else log "need root (or sudo)"; exit 1; fi
else
  SUDO=
fi

# ---------------------------------------------------------------- dpkg arches
need_update=0
# (capture first: `dpkg ... | grep -q` + pipefail fails spuriously on SIGPIPE)
foreign=$(dpkg --print-foreign-architectures)
for a in $CROSS_ARCHES; do
  if ! grep -qx "$a" <<<"$foreign"; then
    log "dpkg --add-architecture $a"
    $SUDO dpkg --add-architecture "$a"
    need_update=1
  fi
done

# ---------------------------------------------------------------- package list
pkgs=(gcc g++ make pkg-config libc6-dev libasound2-dev libclang1-14 libclang-common-14-dev nasm)
for a in $CROSS_ARCHES; do
  case "$a" in
    arm64) pkgs+=(gcc-aarch64-linux-gnu g++-aarch64-linux-gnu libc6-dev-arm64-cross
                  libasound2-dev:arm64 libstdc++6:arm64) ;;
    armhf) pkgs+=(gcc-arm-linux-gnueabihf g++-arm-linux-gnueabihf libc6-dev-armhf-cross
                  libasound2-dev:armhf libstdc++6:armhf) ;;
    *) log "unknown arch $a (expected arm64/armhf)"; exit 1 ;;
  esac
done
[ "${SKIP_QEMU:-0}" = 1 ] || pkgs+=(qemu-user)

missing=()
for p in "${pkgs[@]}"; do
  # dpkg-query understands "name:arch"; a bare name means the native arch.
  st=$(dpkg-query -W -f='${db:Status-Abbrev}' "$p" 2>/dev/null || true)
  [ "${st:0:2}" = "ii" ] || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  # apt lists may be absent on a fresh machine, or stale after adding an arch
  if [ "$need_update" = 1 ] || [ -z "$(ls -A /var/lib/apt/lists 2>/dev/null | grep -v -e lock -e partial)" ]; then
    log "apt-get update"; apt_update
  fi
  log "installing: ${missing[*]}"
  if ! $SUDO "${APT_GET[@]}" install "${missing[@]}"; then
    log "install failed; refreshing lists and retrying once"
    apt_update
    $SUDO "${APT_GET[@]}" install "${missing[@]}"
  fi
else
  log "all Debian packages already installed"
fi

# ---------------------------------------------------------------- rust targets
if command -v rustup >/dev/null 2>&1; then
  want=()
  for a in $CROSS_ARCHES; do
    case "$a" in
      arm64) want+=(aarch64-unknown-linux-gnu) ;;
      armhf) want+=(armv7-unknown-linux-gnueabihf) ;;
    esac
  done
  have=$(rustup target list --installed)
  for t in "${want[@]}"; do
    if ! grep -qx "$t" <<<"$have"; then log "rustup target add $t"; rustup target add "$t"; fi
  done
else
  log "rustup not found: install the targets yourself"
fi

# ---------------------------------------------------------------- sanity check
for a in $CROSS_ARCHES; do
  case "$a" in
    arm64) cc=aarch64-linux-gnu-gcc; pc=/usr/lib/aarch64-linux-gnu/pkgconfig; q=qemu-aarch64 ;;
    armhf) cc=arm-linux-gnueabihf-gcc; pc=/usr/lib/arm-linux-gnueabihf/pkgconfig; q=qemu-arm ;;
  esac
  command -v "$cc" >/dev/null || { log "missing $cc"; exit 1; }
  PKG_CONFIG_LIBDIR="$pc" pkg-config --exists alsa || { log "alsa.pc for $a not found in $pc"; exit 1; }
  if [ "${SKIP_QEMU:-0}" != 1 ]; then command -v "$q" >/dev/null || { log "missing $q"; exit 1; }; fi
done
log "ok: $(for a in $CROSS_ARCHES; do printf '%s ' "$a"; done)ready"
