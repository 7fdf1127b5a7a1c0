#!/usr/bin/env bash
# Latency, paced (real time) at 1280x720@30, 2 s segments:
#  1. hlscam's own figure: capture -> segment listed in the playlist, every frame, p50/p99 from
#     /api/status and the exit summary (fixed histogram filled in the mux thread).
#  2. The same from outside: bench/edge_watch.py polls the playlist over HTTP (every 20 ms) and
#     dates each new segment's frames by its PROGRAM-DATE-TIME; run on hlscam and, afterwards,
#     on ffmpeg's live HLS (tests/browser/standin.sh: -re testsrc2 720p30, libx264 veryfast
#     zerolatency, GOP 2 s, hls_time 2, PDT) for the same length.
#  3. What a player sees: headless Chromium (tests/browser/run.sh) on the player page, natively
#     and with hls.js, on hlscam and on the ffmpeg stand-in (same page, same engine):
#     latency_s (behind the live edge) and wallclock_latency_s (now - PDT of the playhead).
#
# Usage: bench/latency.sh [SECONDS]   (default 300: the 5-minute run; e.g. 60 for a quick one)
# Env:   PORT=18080 (hlscam), PEER_PORT=18090 (ffmpeg stand-in), BROWSER_SECS=20
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-300}
PORT=${PORT:-18080} PEER_PORT=${PEER_PORT:-18090} BROWSER_SECS=${BROWSER_SECS:-20}
WORK=${WORK:-/dev/shm/hlscam_bench}
. bench/lib.sh
BIN=${HLSCAM_BIN:-target/release/hlscam}
[ -x "$BIN" ] || { echo "build first: cargo build --release" >&2; exit 2; }
OUT=$WORK/latency; rm -rf "$OUT"; mkdir -p "$OUT"
hlscam_toml "$OUT/hlscam.toml" "$OUT/hls" "127.0.0.1:$PORT"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM
wait_playlist() { for _ in $(seq 200); do curl -sf "$1" -o /dev/null && return 0; sleep 0.1; done; return 1; }
browser() { # browser NAME URL -> one JSON line (or an error note)
  local j
  j=$(PLAY_CHECK_SCREENSHOT="$OUT/$1.png" tests/browser/run.sh "$2" "$BROWSER_SECS" 2>>"$OUT/browser.log" | tail -1) || true
  echo "$1 $j"
}
fields() { python3 -c 'import json,sys
n,_,j=sys.stdin.read().partition(" ")
try: d=json.loads(j)
except Exception: print(n, "no result:", j.strip()[:200]); sys.exit()
print("%-22s engine=%s played=%s latency_s=%s wallclock_latency_s=%s startup_s=%s frames_decoded=%s errors=%d" % (n, d.get("engine"), d.get("played"), d.get("latency_s"), d.get("wallclock_latency_s"), d.get("startup_s"), d.get("frames_decoded"), len(d.get("errors") or [])))'; }

echo "# latency.sh $(date -u +%FT%TZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), ${SECS} s paced runs"
# ---- hlscam ------------------------------------------------------------------------------
"$BIN" --config "$OUT/hlscam.toml" --duration "$SECS" --log-level info 2>"$OUT/hlscam.log" &
HP=$!; PIDS+=($HP)
wait_playlist "http://127.0.0.1:$PORT/live.m3u8"
python3 bench/edge_watch.py "http://127.0.0.1:$PORT/live.m3u8" $((SECS - 6)) 30 > "$OUT/edge_hlscam.json" &
EW=$!; PIDS+=($EW)
# /api/status every 2 s while hlscam runs; the last good answer is kept
( while kill -0 $HP 2>/dev/null; do curl -sf "http://127.0.0.1:$PORT/api/status" > "$OUT/status.tmp" &&
    mv "$OUT/status.tmp" "$OUT/status.json"; sleep 2; done ) &
PIDS+=($!)
sleep 6
browser hlscam_native "http://127.0.0.1:$PORT/?engine=native" > "$OUT/br_hlscam_native.txt"
browser hlscam_hlsjs "http://127.0.0.1:$PORT/?engine=hlsjs" > "$OUT/br_hlscam_hlsjs.txt"
wait $EW || true
wait $HP || true
# ---- ffmpeg (live, -re) ------------------------------------------------------------------
tests/browser/standin.sh "$PEER_PORT" "$OUT/ffmpeg" 1280x720 30 2>"$OUT/ffmpeg.log" &
FP=$!; PIDS+=($FP)
wait_playlist "http://127.0.0.1:$PEER_PORT/live.m3u8"
python3 bench/edge_watch.py "http://127.0.0.1:$PEER_PORT/live.m3u8" $((SECS - 6)) 30 > "$OUT/edge_ffmpeg.json" &
EW=$!; PIDS+=($EW)
sleep 6
browser ffmpeg_native "http://127.0.0.1:$PEER_PORT/?engine=native" > "$OUT/br_ffmpeg_native.txt"
browser ffmpeg_hlsjs "http://127.0.0.1:$PEER_PORT/?engine=hlsjs" > "$OUT/br_ffmpeg_hlsjs.txt"
wait $EW || true
kill $FP 2>/dev/null || true; wait $FP 2>/dev/null || true

echo "## hlscam's own capture -> downloadable figure (all frames of the run)"
python3 -c 'import json; d=json.load(open("'"$OUT/status.json"'")); print("api/status (last poll, up to 2 s before the end): latency_p50_ms=%s latency_p99_ms=%s latency_max_ms=%s latency_frames=%s drops=%s" % (d.get("latency_p50_ms"), d.get("latency_p99_ms"), d.get("latency_max_ms"), d.get("latency_frames"), d.get("drops")))' || echo "api/status: unavailable"
grep -h '\] stages:' "$OUT/hlscam.log" | sed 's/^.*\] /exit summary: /'
echo "## from outside: playlist polled every 20 ms, frames dated by PROGRAM-DATE-TIME"
echo "hlscam $(cat "$OUT/edge_hlscam.json")"
echo "ffmpeg $(cat "$OUT/edge_ffmpeg.json")"
echo "## headless Chromium on the player page ($BROWSER_SECS s each)"
for f in hlscam_native hlscam_hlsjs ffmpeg_native ffmpeg_hlsjs; do fields < "$OUT/br_$f.txt"; done
echo "# goal: capture -> downloadable p99 <= segment duration + 100 ms = 2100 ms"
