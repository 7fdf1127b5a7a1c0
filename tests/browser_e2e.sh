#!/usr/bin/env bash
# Real browser against the real binary: hlscam streams the paced test pattern + tone on
# 127.0.0.1; headless Chromium opens hlscam's own player page and must see currentTime advance
# >= 5 s with no player error, once with native HLS and once with hls.js forced.
# Usage: tests/browser_e2e.sh [BIN]   (default target/debug/hlscam)
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/debug/hlscam}
WORK=$(mktemp -d /tmp/hlscam-browser.XXXXXX)
PORT=${PORT:-18931}
cat > "$WORK/hlscam.toml" <<TOML
[video]
source = "testsrc"
width = 640
height = 360
fps = 30
bitrate_kbps = 800
[audio]
source = "tone"
[hls]
dir = "$WORK/out"
segment_seconds = 1
[http]
listen = "127.0.0.1:$PORT"
TOML
"$BIN" --config "$WORK/hlscam.toml" --duration 90 >"$WORK/hlscam.log" 2>&1 &
PID=$!
cleanup() { kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
# Wait (bounded) until the playlist lists 3 segments.
for _ in $(seq 1 100); do
  n=$(curl -s "http://127.0.0.1:$PORT/live.m3u8" 2>/dev/null | grep -c '^seg' || true)
  [ "${n:-0}" -ge 3 ] && break
  sleep 0.2
done
[ "${n:-0}" -ge 3 ] || { echo "browser_e2e: hlscam produced no playlist"; cat "$WORK/hlscam.log"; exit 1; }
pass=0 fail=0
for engine in native hlsjs; do
  if PLAY_CHECK_SCREENSHOT="$WORK/$engine.png" tests/browser/run.sh "http://127.0.0.1:$PORT/?engine=$engine" 10; then
    pass=$((pass + 1))
  else
    fail=$((fail + 1))
  fi
done
echo "browser: $pass passed, $fail failed"
[ "$fail" = 0 ]
