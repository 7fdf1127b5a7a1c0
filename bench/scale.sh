#!/usr/bin/env bash
# Scale of the server: hlscam streams paced (real time) 1280x720@30 + AAC for SECONDS while
# CLIENTS clients on 127.0.0.1 (bench/scale_client.py: own keep-alive connection each) poll
# live.m3u8 every second and fetch every new segment. Reports: frames dropped by the pipeline
# (`drops` in /api/status, must stay 0), playlist response time p50/p99, hlscam's CPU seconds
# (user+sys, /usr/bin/time) and peak RSS, against the same run without clients.
#
# Usage: bench/scale.sh [SECONDS] [CLIENTS]   (defaults 60 and 50; http.max_connections = 64)
# Env:   PORT=18081
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-60} CLIENTS=${2:-50} PORT=${PORT:-18081}
WORK=${WORK:-/dev/shm/hlscam_bench}
. bench/lib.sh
BIN=${HLSCAM_BIN:-target/release/hlscam}
[ -x "$BIN" ] || { echo "build first: cargo build --release" >&2; exit 2; }
OUT=$WORK/scale; rm -rf "$OUT"; mkdir -p "$OUT"
hlscam_toml "$OUT/hlscam.toml" "$OUT/hls" "127.0.0.1:$PORT"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM
echo "# scale.sh $(date -u +%FT%TZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), ${SECS} s paced, $CLIENTS clients"

one() { # one NAME NCLIENTS
  local name=$1 n=$2
  rm -rf "$OUT/hls"
  /usr/bin/time -v -o "$OUT/time_$name.txt" "$BIN" --config "$OUT/hlscam.toml" --duration "$SECS" \
    --log-level info 2>"$OUT/log_$name.txt" &
  local tp=$!; PIDS+=($tp)
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/live.m3u8" -o /dev/null && break; sleep 0.1; done
  ( while kill -0 $tp 2>/dev/null; do curl -sf "http://127.0.0.1:$PORT/api/status" > "$OUT/st.tmp" &&
      mv "$OUT/st.tmp" "$OUT/status_$name.json"; sleep 2; done ) &
  PIDS+=($!)
  if [ "$n" -gt 0 ]; then
    python3 bench/scale_client.py "127.0.0.1:$PORT" "$n" $((SECS - 6)) > "$OUT/clients_$name.json"
  fi
  wait $tp || true
  awk -F': ' -v n="$name" '/User time/{u=$2} /System time/{s=$2} /Maximum resident/{r=$2}
    END{printf "%s: hlscam cpu_s=%.2f (user %.2f sys %.2f) = %.1f %% of one core, peak_rss_mb=%.1f\n", n, u+s, u, s, (u+s)*100/'"$SECS"', r/1024}' "$OUT/time_$name.txt"
  python3 -c 'import json; d=json.load(open("'"$OUT/status_$name.json"'")); print("   /api/status (last poll): drops=%s frames_in=%s frames_out=%s latency_p99_ms=%s" % (d["drops"], d["frames_in"], d["frames_out"], d.get("latency_p99_ms")))'
  grep -h '\] stages:' "$OUT/log_$name.txt" | sed 's/^.*\] /   exit summary: /'
  [ "$n" -gt 0 ] && echo "   clients: $(cat "$OUT/clients_$name.json")" || true
}
one no_clients 0
one with_clients "$CLIENTS"
