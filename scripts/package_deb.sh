#!/usr/bin/env bash
# scripts/package_deb.sh — build hlscam .deb packages with cargo-deb for amd64, arm64 and armhf,
# then inspect each one (dpkg-deb -I/-c) and, for the host architecture, unpack it into a
# scratch root (dpkg -x) and run the packaged binary's check-config on the packaged config.
#
#   scripts/package_deb.sh                     all three
#   ARCHES="arm64" scripts/package_deb.sh
#   PROFILE=release scripts/package_deb.sh     (default "release": the profile cargo-deb uses)
#
# Run `npm ci --prefix web` first (the Makefile does) so hls.js is embedded; REQUIRE_HLSJS=1
# turns its absence into an error. Output: target/debian-out/hlscam_<version>_<arch>.deb
set -euo pipefail
cd "$(dirname "$0")/.."

ARCHES="${ARCHES:-amd64 arm64 armhf}"
PROFILE="${PROFILE:-release}"
OUT="${OUT:-target/debian-out}"
mkdir -p "$OUT"

log() { printf '[package_deb] %s\n' "$*" >&2; }

if ! cargo deb --version >/dev/null 2>&1; then
  log "installing cargo-deb from crates.io"
  cargo install cargo-deb --locked
fi
for f in README.md LICENSE debian/copyright systemd/hlscam.service systemd/hlscam.toml; do
  [ -e "$f" ] || { log "missing $f (the package ships it)"; exit 1; }
done
if [ ! -e web/node_modules/hls.js/dist/hls.min.js ]; then
  if [ "${REQUIRE_HLSJS:-0}" = 1 ]; then log "hls.js missing: run 'npm ci --prefix web'"; exit 1; fi
  log "warning: web/node_modules missing — packaging a binary WITHOUT hls.js (run 'npm ci --prefix web')"
fi

host_arch=$(dpkg --print-architecture)
summary=()
for arch in $ARCHES; do
  case "$arch" in
    amd64) triple=x86_64-unknown-linux-gnu; cc=gcc; machine="X86-64"; ;;
    arm64) triple=aarch64-unknown-linux-gnu; cc=aarch64-linux-gnu-gcc; machine="AArch64" ;;
    armhf) triple=armv7-unknown-linux-gnueabihf; cc=arm-linux-gnueabihf-gcc; machine="ARM" ;;
    *) log "unknown arch $arch (amd64|arm64|armhf)"; exit 64 ;;
  esac
  if ! command -v "$cc" >/dev/null 2>&1 && [ "$arch" != amd64 ]; then
    CROSS_ARCHES="$arch" SKIP_QEMU=1 scripts/setup_cross.sh
  fi
  rustup target list --installed 2>/dev/null | grep -qx "$triple" || rustup target add "$triple"

  log "=== $arch ($triple, profile $PROFILE)"
  # The profile strips (strip = true), so cargo-deb does not need a cross `strip`.
  # The board targets link with DT_RELR (glibc >= 2.36): their variant states that floor.
  variant=()
  [ "$arch" = amd64 ] || variant=(--variant board)
  deb=$(cargo deb --locked --profile "$PROFILE" --target "$triple" "${variant[@]}" --output "$OUT" | tail -1)
  [ -f "$deb" ] || { log "cargo deb produced no file ($deb)"; exit 1; }

  # ---- inspect
  info=$(dpkg-deb -I "$deb")
  contents=$(dpkg-deb -c "$deb")
  fail=0
  check() { if eval "$2"; then :; else log "FAIL $arch: $1"; fail=1; fi; }
  field() { dpkg-deb -f "$deb" "$1"; }
  check "Package is hlscam" '[ "$(field Package)" = hlscam ]'
  check "Architecture is $arch" '[ "$(field Architecture)" = "$arch" ]'
  if readelf -V "target/$triple/$PROFILE/hlscam" 2>/dev/null | grep -q GLIBC_ABI_DT_RELR; then
    check "Depends has libc6 (>= 2.36) (DT_RELR)" 'grep -q "libc6 (>= 2.36)" <<<"$(field Depends)"'
  fi
  for p in ./usr/bin/hlscam ./etc/hlscam/hlscam.toml ./usr/lib/sysusers.d/hlscam.conf \
           ./usr/share/doc/hlscam/copyright ./usr/share/doc/hlscam/README.md \
           ./usr/share/doc/hlscam/boards.md ./usr/share/doc/hlscam/board/pi5.toml; do
    check "contains $p" 'grep -q " $p\$" <<<"$contents"'
  done
  check "contains the unit" 'grep -Eq " \./(usr/)?lib/systemd/system/hlscam\.service$" <<<"$contents"'
  ctl=$(mktemp -d)
  dpkg-deb -e "$deb" "$ctl"
  check "conffile /etc/hlscam/hlscam.toml" 'grep -qx /etc/hlscam/hlscam.toml "$ctl/conffiles"'
  check "postinst runs systemd-sysusers" 'grep -q "systemd-sysusers" "$ctl/postinst"'
  check "postinst enables the unit" 'grep -q "deb-systemd-helper" "$ctl/postinst"'
  # (capture first: `... | grep -q` under pipefail fails spuriously when grep exits early)
  copyright=$(dpkg-deb --fsys-tarfile "$deb" | tar -xOf - ./usr/share/doc/hlscam/copyright)
  check "copyright mentions the FDK AAC licence" 'grep -q "Software License for The Fraunhofer FDK AAC Codec" <<<"$copyright"'
  check "copyright carries the OpenH264 BSD licence" 'grep -q "Copyright (c) 2013, Cisco Systems" <<<"$copyright"'
  rm -rf "$ctl"
  bin_tmp=$(mktemp)
  dpkg-deb --fsys-tarfile "$deb" | tar -xOf - ./usr/bin/hlscam >"$bin_tmp"
  check "binary is $machine" 'readelf -h "$bin_tmp" | grep -q "Machine:.*$machine"'
  check "binary is stripped" '! readelf -S "$bin_tmp" | grep -q "\.symtab"'
  # Every shared library the binary needs must come from a package named in Depends.
  deps=$(field Depends)
  for lib in $(readelf -d "$bin_tmp" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    case "$lib" in
      libasound.so.2) pkg=libasound2 ;;
      libstdc++.so.6) pkg=libstdc++6 ;;
      libgcc_s.so.1)  pkg=libc6 ;;  # libc6 Depends: libgcc-s1 (cargo-deb leaves it implicit)
      libc.so.6|libm.so.6|ld-linux*) pkg=libc6 ;;
      *) pkg="?$lib" ;;
    esac
    check "Depends covers $lib ($pkg)" 'tr ",|" "\n\n" <<<"$deps" | awk "{print \$1}" | grep -qxF "$pkg"'
  done
  bin_size=$(stat -c %s "$bin_tmp"); rm -f "$bin_tmp"

  # ---- unpack and run on the host architecture
  if [ "$arch" = "$host_arch" ]; then
    root=$(mktemp -d)
    dpkg -x "$deb" "$root"
    if "$root/usr/bin/hlscam" check-config "$root/etc/hlscam/hlscam.toml" >/dev/null; then
      log "ok $arch: unpacked binary accepts the packaged /etc/hlscam/hlscam.toml"
    else
      log "FAIL $arch: unpacked binary refuses the packaged config"; fail=1
    fi
    # Stream 2 s with the packaged config, redirected into the scratch root (test pattern when
    # there is no camera): the packaged binary must publish segments.
    sed -e "s|^dir = .*|dir = \"$root/run/hlscam\"|" \
        -e "s|^state_file = .*|state_file = \"$root/var/lib/hlscam/state\"|" \
        "$root/etc/hlscam/hlscam.toml" >"$root/test.toml"
    if timeout 120 "$root/usr/bin/hlscam" --config "$root/test.toml" --listen 127.0.0.1:0 \
         --duration 2 --fast >/dev/null 2>"$root/run.log" && compgen -G "$root/run/hlscam/seg0.*" >/dev/null \
         && [ -f "$root/run/hlscam/live.m3u8" ]; then
      log "ok $arch: unpacked binary streamed $(ls "$root/run/hlscam" | grep -c '^seg') segments"
    else
      log "FAIL $arch: unpacked binary did not stream"; tail -5 "$root/run.log" >&2; fail=1
    fi
    rm -rf "$root"
  fi

  printf '%s\n' "$info" | sed 's/^/    /' >&2
  printf '%s\n' "$contents" | awk '{print "    " $1, $3, $6}' >&2
  [ "$fail" = 0 ] || exit 1
  summary+=("$(printf '%-6s %-45s deb %8s B  binary %8s B  Installed-Size %s KiB' \
    "$arch" "$(basename "$deb")" "$(stat -c %s "$deb")" "$bin_size" "$(field Installed-Size)")")
done

echo "=== packages in $OUT"
for s in "${summary[@]}"; do echo "$s"; done
