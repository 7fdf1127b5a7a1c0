#!/usr/bin/env bash
# Real browser against the real binary: hlscam streams the paced test pattern + tone on
# 127.0.0.1; headless Chromium opens hlscam's own player page and must see currentTime advance
# >= 5 s with no player error and no stall after start, for 20 s each:
#   - low-latency HLS (the default: parts, blocking reload) with hls.js (lowLatencyMode; the
#     page's default wherever MSE exists) and with Chromium's native player (which must not
#     reject the LL playlist; it ignores the parts);
#   - classic HLS (low_latency = false) with both;
#   - each in both containers, MPEG-TS and fMP4 (CMAF);
#   - adaptive bitrate: two [[variant]]s, hls.js switching down under DevTools network
#     throttling and back up (tests/browser/abr_check.js), the native player on the master;
#   - the stream published to an nginx origin (tests/publish/nginx.conf, WebDAV + CORS), played
#     from nginx through the player page's ?src= with both engines (ORIGIN_SECS each).
# Prints each run's JSON line, including hls.js latency and the wall-clock latency (picture's
# PROGRAM-DATE-TIME against now).
# Usage: tests/browser_e2e.sh [BIN]   (default target/debug/hlscam; ORIGIN_ONLY=1 for the origin
#        case, ABR_ONLY=1 for the adaptive-bitrate case)
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/debug/hlscam}
WORK=$(mktemp -d /tmp/hlscam-browser.XXXXXX)
PORT=${PORT:-18931}
SECS=${BROWSER_SECS:-20}
PID=
NGINX_PID=
cleanup() {
  [ -n "$PID" ] && { kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; }
  [ -n "$NGINX_PID" ] && { kill "$NGINX_PID" 2>/dev/null; wait "$NGINX_PID" 2>/dev/null; }
  rm -rf "$WORK"
}
trap cleanup EXIT

VIDEO_360P='[video]
source = "testsrc"
width = 640
height = 360
fps = 30
bitrate_kbps = 800'
# start LL CONTAINER [VIDEO [EXTRA]]: $1 = low_latency true|false, $2 = container ts|fmp4,
# $3 = the [video] table (default VIDEO_360P), $4 = more TOML ([[variant]]s, [audio] keys; it
# goes right after [audio] source).
start() {
  cat > "$WORK/hlscam.toml" <<TOML
${3:-$VIDEO_360P}
[audio]
source = "tone"
${4:-}
[hls]
dir = "$WORK/out-$1-$2"
segment_seconds = 1
low_latency = $1
container = "$2"
[http]
listen = "127.0.0.1:$PORT"
${PUBLISH:-}
TOML
  "$BIN" --config "$WORK/hlscam.toml" --duration 120 >"$WORK/hlscam.log" 2>&1 &
  PID=$!
  # Wait (bounded) until the playlist lists 3 segments.
  for _ in $(seq 1 100); do
    kill -0 "$PID" 2>/dev/null || break
    n=$(curl -s "http://127.0.0.1:$PORT/live.m3u8" 2>/dev/null | grep -c '^seg' || true)
    [ "${n:-0}" -ge 3 ] && return 0
    sleep 0.2
  done
  echo "browser_e2e: hlscam produced no playlist"; cat "$WORK/hlscam.log"; exit 1
}
stop() { kill "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; PID=; }

pass=0 fail=0
play() { # play NAME URL SECONDS: one headless Chromium run, counted
  echo "browser_e2e: $1, $3 s"
  if MAX_STALLS=0 PLAY_CHECK_SCREENSHOT="$WORK/$1.png" tests/browser/run.sh "$2" "$3"; then
    pass=$((pass + 1))
  else
    fail=$((fail + 1))
  fi
}
# ORIGIN_ONLY=1: only the nginx-origin case; ABR_ONLY=1: only the adaptive-bitrate case.
[ -n "${ORIGIN_ONLY:-}${ABR_ONLY:-}" ] && RUNS=() || RUNS=("true ts" "true fmp4" "false ts" "false fmp4")
for run in "${RUNS[@]}"; do
  read -r ll container <<<"$run"
  start "$ll" "$container"
  for engine in hlsjs native; do
    play "low_latency=$ll-container=$container-engine=$engine" \
      "http://127.0.0.1:$PORT/?engine=$engine" "$SECS"
  done
  stop
done
# Adaptive bitrate (issue 15): one 720p capture, two renditions (plus the audio-only one, which
# hls.js leaves out); hls.js on the player page (which plays the master /index.m3u8) must switch
# down while the page's network is throttled through the DevTools protocol and back up when it
# is lifted, with no stall longer than one segment (tests/browser/abr_check.js), and Chromium's
# native player must play the master (PLAY_MODE=native on /index.m3u8).
#   - testsrc is easy to encode: the 720p rendition needs only ~0.6 Mbit/s whatever its budget,
#     so 360p gets 150 kb/s (~0.25 Mbit/s with the 32 kb/s audio) to make a ladder.
#   - The network: a good link of 2x the top BANDWIDTH, throttled to 0.8x it, then the good link
#     again (ABR_BASE_TOP, ABR_THROTTLE_TOP). Loopback unthrottled gives hls.js an estimate of
#     10-25 Mbit/s that takes ~10 s of slow loads to fall (its EWMA), stalling playback 1.5-2 s
#     meanwhile, and hls.js's emergency switch (abandoning a slow load) never fires with two
#     levels (it only tries levels above the lowest). Here: down in ~8 s with stalls of ~0.3 s,
#     up in ~16 s (0.7x behind 3x: stalls of 0.5-1.2 s, too close to the 1 s limit).
#   - Classic HLS (low_latency = false, 3 s behind live): with LL-HLS the player keeps ~0.6 s of
#     buffer and the same throttle stalls it 2.3 s before it switches down, up in 34 s
#     (ABR_LOW_LATENCY=true runs that; it fails).
VIDEO_720P='[video]
source = "testsrc"
width = 1280
height = 720
fps = 30
bitrate_kbps = 2500'
ABR_TOML='bitrate_kbps = 32
[[variant]]
name = "720p"
width = 1280
height = 720
fps = 30
bitrate_kbps = 2500
[[variant]]
name = "360p"
width = 640
height = 360
fps = 30
bitrate_kbps = 150'
if [ -z "${ORIGIN_ONLY:-}" ]; then
  start "${ABR_LOW_LATENCY:-false}" ts "$VIDEO_720P" "$ABR_TOML"
  echo "browser_e2e: abr, hls.js switching down and up"
  if ABR_BASE_TOP=${ABR_BASE_TOP:-2} ABR_THROTTLE_TOP=${ABR_THROTTLE_TOP:-0.8} ABR_SHOT="$WORK/abr.png" \
    tests/browser/abr_check.sh "http://127.0.0.1:$PORT/?engine=hlsjs"; then
    pass=$((pass + 1))
  else
    fail=$((fail + 1))
  fi
  PLAY_MODE=native play "abr-master-engine=native" "http://127.0.0.1:$PORT/index.m3u8" "${ABR_NATIVE_SECS:-12}"
  stop
fi
if [ -z "${ABR_ONLY:-}" ]; then
  # From an nginx origin: the board publishes, the browser reads only nginx (page ?src=).
  NPORT=${NGINX_PORT:-18932}
  ORIGIN_SECS=${ORIGIN_SECS:-12}
  NGX="$WORK/nginx"
  mkdir -p "$NGX/www" "$NGX/tmp"
  sed -e "s|@PREFIX@|$NGX|g" -e "s|@PORT@|$NPORT|g" tests/publish/nginx.conf > "$NGX/nginx.conf"
  cp tests/publish/cors.conf "$NGX/cors.conf"
  echo 'cam:{PLAIN}s3cret' > "$NGX/htpasswd"
  echo 'cam:s3cret' > "$WORK/origin.secret"
  /usr/sbin/nginx -p "$NGX" -c "$NGX/nginx.conf" -e "$NGX/error.log" &
  NGINX_PID=$!
  PUBLISH="[[publish]]
  kind = \"http\"
  url = \"http://127.0.0.1:$NPORT/cam/\"
  credentials_file = \"$WORK/origin.secret\""
  start false ts
  for _ in $(seq 1 100); do
    n=$(curl -s "http://127.0.0.1:$NPORT/cam/live.m3u8" 2>/dev/null | grep -c '^seg' || true)
    [ "${n:-0}" -ge 3 ] && break
    sleep 0.2
  done
  SRC="http://127.0.0.1:$NPORT/cam/live.m3u8"
  curl -s -D - -o /dev/null -H 'Origin: http://127.0.0.1' "$SRC" | grep -qi '^Access-Control-Allow-Origin: \*' \
    || { echo "browser_e2e: the origin sends no CORS header"; fail=$((fail + 1)); }
  for engine in hlsjs native; do
    play "nginx-origin-engine=$engine" "http://127.0.0.1:$PORT/?engine=$engine&src=$SRC" "$ORIGIN_SECS"
  done
  stop
  kill "$NGINX_PID" 2>/dev/null; wait "$NGINX_PID" 2>/dev/null; NGINX_PID=
fi
echo "browser: $pass passed, $fail failed"
[ "$fail" = 0 ]
