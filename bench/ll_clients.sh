#!/usr/bin/env bash
# LL-HLS under load and LL's CPU cost, paced at 1280x720@30 (2 s segments, 200 ms parts):
#  1. CPU of hlscam over the same SECS with low_latency = false and = true (MPEG-TS, and LL in
#     fMP4), no clients: the ratios LL / classic (goal <= 1.05); media bytes per second of each
#     (the containers' overhead); capture -> part downloadable in each LL run, and in an LL run
#     without audio (what the AAC encoder's delay adds).
#  2. LL with CLIENTS (default 100) LL-HLS clients (bench/ll_clients.py: each a blocking
#     playlist reload loop and a held preload-hint request, 2 connections per client;
#     max_connections raised to fit): server CPU and RSS, and part publication -> response
#     delay, per response and to the last client (p50/p99).
#  3. hlscam's own capture -> part downloadable figure (/api/status latency).
# Usage: bench/ll_clients.sh [SECS] [CLIENTS]   (default 30 100)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
SECS=${1:-30} CLIENTS=${2:-100}
PORT=${PORT:-18080}
BIN=${HLSCAM_BIN:-target/release/hlscam}
[ -x "$BIN" ] || { echo "build first: cargo build --release" >&2; exit 2; }
WORK=${WORK:-/dev/shm/hlscam_bench}/ll_clients; rm -rf "$WORK"; mkdir -p "$WORK"
PID=
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null || true; }
trap cleanup EXIT INT TERM
run() { # run NAME LOW_LATENCY [CONTAINER] [AUDIO] -> starts hlscam, PID set
  ll_toml "$WORK/$1.toml" "$WORK/$1" "127.0.0.1:$PORT" 2 "$2" "${3:-ts}" "${4:-tone}"
  "$BIN" --config "$WORK/$1.toml" >"$WORK/$1.log" 2>&1 &
  PID=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/live.m3u8" -o /dev/null && break; sleep 0.1; done
  sleep 3 # warm-up
}
ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
cpu_over() { local a b; a=$(ticks); sleep "$SECS"; b=$(ticks); echo "scale=1; ($b - $a) * 100 / $(getconf CLK_TCK) / $SECS" | bc; }
stop() { kill "$PID"; wait "$PID" 2>/dev/null || true; PID=; }
latency() { curl -s "http://127.0.0.1:$PORT/api/status" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(" ".join(f"{k}={v}" for k, v in d.items() if "latency" in k))'; }
rate() { # kbit/s of the segments listed in NAME's playlist
  python3 - "$WORK/$1" <<'PY'
import os, sys
d = sys.argv[1]; secs = size = 0.0
for l in open(os.path.join(d, "live.m3u8")):
    if l.startswith("#EXTINF:"): secs += float(l[8:].split(",")[0])
    elif l.startswith("seg"): size += os.path.getsize(os.path.join(d, l.strip()))
print(f"{size * 8 / secs / 1000:.0f}")
PY
}

echo "# ll_clients.sh $(date -u +%FT%TZ), $(nproc) cores, $SECS s per phase, $CLIENTS clients"
run classic false; classic=$(cpu_over); echo "classic_ts_kbit_s=$(rate classic)"; stop
run ll-fmp4 true fmp4; llf=$(cpu_over); echo "ll_fmp4_kbit_s=$(rate ll-fmp4) $(latency)"; stop
run ll-noaudio true ts none; sleep "$SECS"; echo "ll_ts_no_audio: $(latency)"; stop
run ll true; ll=$(cpu_over); echo "ll_ts_kbit_s=$(rate ll)"
echo "cpu_classic_pct=$classic cpu_ll_pct=$ll ratio=$(echo "scale=3; $ll / $classic" | bc) cpu_ll_fmp4_pct=$llf ratio_fmp4=$(echo "scale=3; $llf / $classic" | bc)"
echo "rss_ll_no_clients_mib=$(awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$PID/status") threads=$(awk '/Threads/ {print $2}' "/proc/$PID/status")"
python3 bench/ll_clients.py "127.0.0.1:$PORT" "$CLIENTS" "$SECS" "$PID" "$WORK/ll"
curl -s "http://127.0.0.1:$PORT/api/status" | python3 -c 'import json,sys; d=json.load(sys.stdin); print("capture->downloadable (part):", {k: v for k, v in d.items() if "latency" in k})'
stop
