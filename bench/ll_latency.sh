#!/usr/bin/env bash
# Glass-to-glass latency side by side, paced 1280x720@30 on loopback, headless Chromium on the
# player page for SECS (default 60) per run: LL-HLS (200 ms parts, 1 s and 2 s segments) in
# MPEG-TS and in fMP4, classic 1 s and classic 2 s segments (TS), each with hls.js
# (lowLatencyMode) and Chromium's native player. Figures over the second half of each run (after start-up and catch-up): median and
# p95 of the wall-clock latency (now − PROGRAM-DATE-TIME of the picture on screen) and of the
# player's own latency figure, stalls after start.
# Usage: bench/ll_latency.sh [SECS]   (MODES="ll-ts-1s ..." ENGINES=hlsjs pick a subset)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
SECS=${1:-60}
PORT=${PORT:-18080}
BIN=${HLSCAM_BIN:-target/release/hlscam}
[ -x "$BIN" ] || { echo "build first: cargo build --release" >&2; exit 2; }
WORK=${WORK:-/dev/shm/hlscam_bench}/ll_latency; rm -rf "$WORK"; mkdir -p "$WORK"
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null || true; }
trap cleanup EXIT INT TERM
echo "# ll_latency.sh $(date -u +%FT%TZ), $(nproc) cores, ${SECS} s per run, 1280x720@30"
printf '%-16s %-7s %9s %9s %9s %9s %7s %s\n' mode engine wall_p50 wall_p95 lat_p50 lat_p95 stalls errors
for mode in ${MODES:-ll-ts-1s ll-fmp4-1s ll-ts-2s ll-fmp4-2s classic-1s classic-2s}; do
  case $mode in ll-*) ll=true ;; *) ll=false ;; esac
  case $mode in *fmp4*) container=fmp4 ;; *) container=ts ;; esac
  seg=${mode##*-}; seg=${seg%s}
  ll_toml "$WORK/$mode.toml" "$WORK/$mode" "127.0.0.1:$PORT" "$seg" "$ll" "$container"
  "$BIN" --config "$WORK/$mode.toml" >"$WORK/$mode.log" 2>&1 &
  PID=$!
  for _ in $(seq 150); do
    [ "$(curl -s "http://127.0.0.1:$PORT/live.m3u8" | grep -c '^seg' || true)" -ge 3 ] && break
    sleep 0.2
  done
  for engine in ${ENGINES:-hlsjs native}; do
    j=$(PLAY_CHECK_SCREENSHOT="$WORK/$mode-$engine.png" tests/browser/run.sh \
      "http://127.0.0.1:$PORT/?engine=$engine" "$SECS" 2>>"$WORK/browser.log" | tail -1) || true
    echo "$j" > "$WORK/$mode-$engine.json"
    python3 - "$mode" "$engine" "$j" <<'PY'
import json, sys
mode, engine, j = sys.argv[1:4]
try:
    d = json.loads(j)
except Exception:
    print(f"{mode:<16} {engine:<7} no result: {j[:120]}"); sys.exit()
print(f"{mode:<16} {engine:<7} {d.get('wallclock_median_s')!s:>9} {d.get('wallclock_p95_s')!s:>9} "
      f"{d.get('latency_median_s')!s:>9} {d.get('latency_p95_s')!s:>9} {d.get('stalls_after_start')!s:>7} {len(d.get('errors') or [])}")
PY
  done
  kill "$PID"; wait "$PID" 2>/dev/null || true; PID=
done
