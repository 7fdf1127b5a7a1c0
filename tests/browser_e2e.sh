#!/usr/bin/env bash
# Real browser against the real binary: hlscam streams the paced test pattern + tone on
# 127.0.0.1; headless Chromium opens hlscam's own player page and must see currentTime advance
# >= 5 s with no player error and no stall after start, for 20 s each:
#   - low-latency HLS (the default: parts, blocking reload) with hls.js (lowLatencyMode; the
#     page's default wherever MSE exists) and with Chromium's native player (which must not
#     reject the LL playlist; it ignores the parts);
#   - classic HLS (low_latency = false) with both;
#   - each in both containers, MPEG-TS and fMP4 (CMAF).
# Prints each run's JSON line, including hls.js latency and the wall-clock latency (picture's
# PROGRAM-DATE-TIME against now).
# Usage: tests/browser_e2e.sh [BIN]   (default target/debug/hlscam)
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/debug/hlscam}
WORK=$(mktemp -d /tmp/hlscam-browser.XXXXXX)
PORT=${PORT:-18931}
SECS=${BROWSER_SECS:-20}
PID=
cleanup() { [ -n "$PID" ] && { kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; }; rm -rf "$WORK"; }
trap cleanup EXIT

start() { # $1 = low_latency true|false, $2 = container ts|fmp4
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
dir = "$WORK/out-$1-$2"
segment_seconds = 1
low_latency = $1
container = "$2"
[http]
listen = "127.0.0.1:$PORT"
TOML
  "$BIN" --config "$WORK/hlscam.toml" --duration 120 >"$WORK/hlscam.log" 2>&1 &
  PID=$!
  # Wait (bounded) until the playlist lists 3 segments.
  for _ in $(seq 1 100); do
    n=$(curl -s "http://127.0.0.1:$PORT/live.m3u8" 2>/dev/null | grep -c '^seg' || true)
    [ "${n:-0}" -ge 3 ] && return 0
    sleep 0.2
  done
  echo "browser_e2e: hlscam produced no playlist"; cat "$WORK/hlscam.log"; exit 1
}
stop() { kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; PID=; }

pass=0 fail=0
for run in "true ts" "true fmp4" "false ts" "false fmp4"; do
  read -r ll container <<<"$run"
  start "$ll" "$container"
  for engine in hlsjs native; do
    echo "browser_e2e: low_latency=$ll container=$container engine=$engine, $SECS s"
    if MAX_STALLS=0 PLAY_CHECK_SCREENSHOT="$WORK/$ll-$container-$engine.png" \
        tests/browser/run.sh "http://127.0.0.1:$PORT/?engine=$engine" "$SECS"; then
      pass=$((pass + 1))
    else
      fail=$((fail + 1))
    fi
  done
  stop
done
echo "browser: $pass passed, $fail failed"
[ "$fail" = 0 ]
