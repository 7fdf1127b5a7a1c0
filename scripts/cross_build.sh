#!/usr/bin/env bash
# scripts/cross_build.sh — build the hlscam binary for one board architecture, no Docker.
#
#   scripts/cross_build.sh aarch64|armv7|amd64 [PROFILE]     (PROFILE defaults to "release")
#
# Called by `make cross-aarch64` / `make cross-armv7`. Uses Debian's cross toolchains via
# .cargo/config.toml; runs scripts/setup_cross.sh first when the cross compiler is missing
# (SKIP_SETUP=1 to never do that). The Makefile runs `npm ci --prefix web` before this so that
# build.rs embeds hls.js. Prints the binary path, its size, and the glibc floor it needs.
set -euo pipefail
cd "$(dirname "$0")/.."

arch="${1:-}"
profile="${2:-release}"
case "$arch" in
  aarch64|arm64) triple=aarch64-unknown-linux-gnu; cc=aarch64-linux-gnu-gcc; deb=arm64 ;;
  armv7|armhf)   triple=armv7-unknown-linux-gnueabihf; cc=arm-linux-gnueabihf-gcc; deb=armhf ;;
  amd64|x86_64)  triple=x86_64-unknown-linux-gnu; cc=gcc; deb=amd64 ;;
  *) echo "usage: $0 aarch64|armv7|amd64 [profile]" >&2; exit 64 ;;
esac

if ! command -v "$cc" >/dev/null 2>&1 && [ "${SKIP_SETUP:-0}" != 1 ]; then
  [ "$deb" = amd64 ] || CROSS_ARCHES="$deb" SKIP_QEMU=1 scripts/setup_cross.sh
fi
if ! rustup target list --installed 2>/dev/null | grep -qx "$triple"; then
  rustup target add "$triple"
fi
[ -e web/node_modules/hls.js/dist/hls.min.js ] ||
  echo "cross_build: note: web/node_modules missing (run 'npm ci --prefix web'); hls.js will not be embedded" >&2

start=$(date +%s)
cargo build --locked --profile "$profile" --target "$triple" --bin hlscam
dir=$([ "$profile" = dev ] && echo debug || echo "$profile")
bin="${CARGO_TARGET_DIR:-target}/$triple/$dir/hlscam"

size=$(stat -c %s "$bin")
# Size after stripping, whether or not the profile strips (never modifies $bin).
strip_tool=strip
case "$triple" in
  aarch64-*) strip_tool=aarch64-linux-gnu-strip ;;
  armv7-*)   strip_tool=arm-linux-gnueabihf-strip ;;
esac
tmp=$(mktemp); trap 'rm -f "$tmp"' EXIT
if command -v "$strip_tool" >/dev/null 2>&1; then
  "$strip_tool" -o "$tmp" "$bin"; stripped=$(stat -c %s "$tmp")
else
  stripped="?"
fi
glibc=$(readelf -V --wide "$bin" 2>/dev/null | grep -o 'GLIBC_[0-9][0-9.]*' | sort -uV | tail -1 || true)
# DT_RELR packed relocations (scripts/lld-cc-*) add a GLIBC_ABI_DT_RELR need: glibc 2.36.
if readelf -V --wide "$bin" 2>/dev/null | grep -q GLIBC_ABI_DT_RELR; then
  glibc="GLIBC_2.36 (GLIBC_ABI_DT_RELR; symbols up to $glibc)"
fi
echo "cross_build: $triple ($profile) built in $(( $(date +%s) - start ))s"
echo "cross_build: binary   $bin"
echo "cross_build: size     $size bytes (stripped: $stripped bytes)"
echo "cross_build: needs    ${glibc:-?} (Raspberry Pi OS bookworm has 2.36; bullseye 2.31 is too old)"
