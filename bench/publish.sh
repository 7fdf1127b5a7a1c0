#!/usr/bin/env bash
# Cost of publishing (issue 14): hlscam streams paced (real time) 1280x720@30 2 Mb/s + AAC in
# 2 s segments for SECONDS, side by side:
#   no_target      no [[publish]]
#   nginx          publishing to nginx on 127.0.0.1 (tests/publish/nginx.conf, WebDAV + Basic auth)
#   nginx_viewers  the same with VIEWERS viewers pulling from nginx (bench/scale_client.py: each
#                  polls live.m3u8 every second and fetches every new segment, bounded by time)
#   s3             publishing to moto's S3 server (an emulator; signature checking on)
# Reports per case: hlscam's CPU (user+sys, /usr/bin/time, % of one core) and peak RSS,
# pipeline drops, and for the targets (/api/status "publish"): upload lag local playlist ->
# origin playlist p50/p99, bytes sent per media byte, failed/skipped requests; the viewers'
# answers from nginx. The point: CPU and RSS with 200 viewers on nginx equal those without.
#
# Usage: bench/publish.sh [SECONDS] [VIEWERS]   (defaults 40 and 200)
# Needs: nginx (make test-deps), target/pydeps-s3 (moto), a release build.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-40} VIEWERS=${2:-200} PORT=${PORT:-18091} NPORT=${NGINX_PORT:-18092} SPORT=${S3_PORT:-18093}
WORK=${WORK:-/dev/shm/hlscam_bench}
. bench/lib.sh
BIN=${HLSCAM_BIN:-target/release/hlscam}
[ -x "$BIN" ] || { echo "build first: cargo build --release" >&2; exit 2; }
OUT=$WORK/publish; rm -rf "$OUT"; mkdir -p "$OUT"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM
echo "# publish.sh $(date -u +%FT%TZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), ${SECS} s paced, $VIEWERS viewers"

# nginx, its own prefix and port.
NGX=$OUT/nginx; mkdir -p "$NGX/www" "$NGX/tmp"
sed -e "s|@PREFIX@|$NGX|g" -e "s|@PORT@|$NPORT|g" tests/publish/nginx.conf > "$NGX/nginx.conf"
sed -i 's|access_log .*;|access_log off;|' "$NGX/nginx.conf"
cp tests/publish/cors.conf "$NGX/cors.conf"
echo 'cam:{PLAIN}s3cret' > "$NGX/htpasswd"
echo 'cam:s3cret' > "$OUT/origin.secret"
/usr/sbin/nginx -p "$NGX" -c "$NGX/nginx.conf" -e "$NGX/error.log" & PIDS+=($!)
# moto's S3 server with IAM auth on after the setup's 4 actions.
INITIAL_NO_AUTH_ACTION_COUNT=4 PYTHONPATH=target/pydeps-s3 \
  python3 -m moto.server -H 127.0.0.1 -p "$SPORT" >/dev/null 2>&1 & PIDS+=($!)
for _ in $(seq 200); do curl -s -o /dev/null "http://127.0.0.1:$SPORT/" && break; sleep 0.1; done
PYTHONPATH=target/pydeps-s3 python3 tests/publish/s3_check.py setup "http://127.0.0.1:$SPORT" \
  "$OUT/aws.credentials" live

conf() { # conf FILE TARGET(none|nginx|s3)
  hlscam_toml "$1" "$OUT/hls" "127.0.0.1:$PORT"
  case $2 in
    nginx) printf '[[publish]]\nkind = "http"\nurl = "http://127.0.0.1:%s/"\ncredentials_file = "%s"\n' \
      "$NPORT" "$OUT/origin.secret" >> "$1" ;;
    s3) printf '[[publish]]\nkind = "s3"\nendpoint = "http://127.0.0.1:%s"\nbucket = "live"\nprefix = "bench/"\ncredentials_file = "%s"\n' \
      "$SPORT" "$OUT/aws.credentials" >> "$1" ;;
  esac
}

one() { # one NAME TARGET NVIEWERS
  local name=$1 target=$2 n=$3
  rm -rf "$OUT/hls"
  conf "$OUT/$name.toml" "$target"
  /usr/bin/time -v -o "$OUT/time_$name.txt" "$BIN" --config "$OUT/$name.toml" --duration "$SECS" \
    2>"$OUT/log_$name.txt" &
  local tp=$!; PIDS+=($tp)
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/live.m3u8" -o /dev/null && break; sleep 0.1; done
  ( while kill -0 $tp 2>/dev/null; do curl -sf "http://127.0.0.1:$PORT/api/status" > "$OUT/st.tmp" &&
      mv "$OUT/st.tmp" "$OUT/status_$name.json"; sleep 1; done ) &
  PIDS+=($!)
  if [ "$n" -gt 0 ]; then
    sleep 6
    python3 bench/scale_client.py "127.0.0.1:$NPORT" "$n" $((SECS - 12)) > "$OUT/viewers_$name.json"
  fi
  wait $tp || true
  awk -F': ' -v n="$name" '/User time/{u=$2} /System time/{s=$2} /Maximum resident/{r=$2}
    END{printf "%-14s hlscam cpu_s=%.2f = %.1f %% of one core, peak_rss_mb=%.1f\n", n, u+s, (u+s)*100/'"$SECS"', r/1024}' "$OUT/time_$name.txt"
  python3 - "$OUT/status_$name.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
line = "   drops=%s segments=%s" % (d["drops"], d["segments"])
for p in d.get("publish", []):
    per = p["bytes_sent"] / p["media_bytes"] if p["media_bytes"] else 0
    line += ("; %s: uploaded=%s failed=%s skipped=%s deleted=%s lag_p50_ms=%s lag_p99_ms=%s "
             "bytes_sent_per_media_byte=%.4f" % (p["kind"], p["uploaded"], p["failed"], p["skipped"],
             p["deleted"], p["lag_p50_ms"], p["lag_p99_ms"], per))
print(line)
PY
  [ "$n" -gt 0 ] && echo "   viewers (from nginx): $(cat "$OUT/viewers_$name.json")" || true
}
one no_target none 0
one nginx nginx 0
one nginx_viewers nginx "$VIEWERS"
one s3 s3 0
