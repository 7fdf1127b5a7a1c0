#!/usr/bin/env bash
# Cost of clip export (issue 13): hlscam records SECONDS of paced 1280x720@30 2 Mb/s + AAC
# (2 s segments, 1-minute chunks), then the whole recording is exported RUNS times each way:
#   hlscam_head   HEAD /api/clip.mp4 (one pass over the segments: the measuring run)
#   hlscam_get    GET /api/clip.mp4 to /dev/null (measuring run + sending run)
#   ffmpeg_frag   ffmpeg -c copy of the same chunk files into fragmented MP4 on a pipe
#                 (frag_keyframe+empty_moov+default_base_moof: what hlscam writes)
#   ffmpeg_mp4    ffmpeg -c copy into a plain MP4 file (moov at the end)
# Reports per case the median CPU (hlscam: user+sys of the server process over the request,
# from /proc/PID/stat; ffmpeg: /usr/bin/time), wall time, and memory (hlscam: the server's
# RSS growth during the request, sampled every 20 ms; ffmpeg: its whole peak RSS, libraries
# included, so not the same measure), the output size (HEAD: the Content-Length), and
# the ratios to ffmpeg_frag. The clip is checked: ffprobe's duration and picture count.
#
# Each case exports the clip REPEAT times in a row (default 10; CPU ticks are 10 ms) and
# reports per export, with the speed in media seconds per CPU second.
#
# Usage: bench/clip.sh [SECONDS] [RUNS]   (defaults 120 and 3). Needs a release build, ffmpeg.
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-120} RUNS=${2:-3} PORT=${PORT:-18094} REPEAT=${REPEAT:-10}
WORK=${WORK:-/dev/shm/hlscam_bench}
. bench/lib.sh
BIN=${HLSCAM_BIN:-target/release/hlscam}
[ -x "$BIN" ] || { echo "build first: cargo build --release" >&2; exit 2; }
OUT=$WORK/clip; rm -rf "$OUT"; mkdir -p "$OUT/rec"
PID=
cleanup() { [ -z "$PID" ] || kill "$PID" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM
echo "# clip.sh $(date -u +%FT%TZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), ${SECS} s recorded, $RUNS runs"

hlscam_toml "$OUT/hlscam.toml" "$OUT/hls" "127.0.0.1:$PORT"
printf '[record]\nmode = "continuous"\ndir = "%s"\nchunk_minutes = 1\nmin_free_percent = 0\nclip_max_seconds = 3600\n' \
  "$OUT/rec" >> "$OUT/hlscam.toml"
"$BIN" --config "$OUT/hlscam.toml" --duration "$SECS" --linger 3600 2>"$OUT/log.txt" &
PID=$!
base=http://127.0.0.1:$PORT
for _ in $(seq $((SECS * 10 + 600))); do
  curl -sf "$base/api/status" | grep -q '"state":"stopped"' && break
  sleep 0.1
done
curl -sf "$base/api/status" | grep -q '"state":"stopped"' || { echo "recording did not stop" >&2; exit 1; }
spans=$(curl -sf "$base/api/recordings?from=$(( $(date +%s) - SECS - 600 ))")
from=$(python3 -c 'import json,sys; s=json.load(sys.stdin)["spans"]; print(s[0]["start"])' <<<"$spans")
to=$(python3 -c 'import json,sys; s=json.load(sys.stdin)["spans"]; print(s[-1]["end"])' <<<"$spans")
url="$base/api/clip.mp4?from=$from&to=$to"
chunks=("$OUT"/rec/*.ts)
media=$(cat "${chunks[@]}" | wc -c)
echo "# recorded: ${#chunks[@]} chunks, $media bytes, $from .. $to"

ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
rss_kb() { awk '/^VmRSS/{print $2}' "/proc/$PID/status"; }
HZ=$(getconf CLK_TCK)
RESULTS=$OUT/results.txt; : > "$RESULTS"

server_case() { # server_case NAME CURL-ARGS...
  local name=$1; shift
  local base_rss peak t0 c0 wall cpu pid_s size
  base_rss=$(rss_kb); peak=$base_rss
  c0=$(ticks); t0=$(date +%s.%N)
  for _ in $(seq "$REPEAT"); do curl -sf -o "$OUT/clip.mp4" "$@" "$url"; done & pid_s=$!
  while kill -0 "$pid_s" 2>/dev/null; do
    r=$(rss_kb); [ "$r" -gt "$peak" ] && peak=$r; sleep 0.02
  done
  wait "$pid_s"
  wall=$(echo "($(date +%s.%N) - $t0) / $REPEAT" | bc -l)
  cpu=$(echo "($(ticks) - $c0) / $HZ / $REPEAT" | bc -l)
  size=$(stat -c %s "$OUT/clip.mp4")
  # HEAD: the announced length (the body curl saved is the head).
  [ "${1:-}" != -I ] || size=$(tr -d '\r' < "$OUT/clip.mp4" | awk 'tolower($1) == "content-length:" {print $2}')
  echo "$name $cpu $wall $(( (peak - base_rss) / 1024 )) $size" >> "$RESULTS"
}

ffmpeg_case() { # ffmpeg_case NAME OUTPUT-ARGS...
  local name=$1; shift
  /usr/bin/time -f '%U %S %e %M' -o "$OUT/time.txt" sh -c 'for _ in $(seq '"$REPEAT"'); do
      cat "$@" | ffmpeg -v error -f mpegts -i pipe:0 -map 0 -c copy -bsf:a aac_adtstoasc '"$*"'; done' \
    _ "${chunks[@]}"
  read -r u s e m < "$OUT/time.txt"
  local size=0; [ -f "$OUT/ff.mp4" ] && size=$(stat -c %s "$OUT/ff.mp4")
  echo "$name $(echo "($u + $s) / $REPEAT" | bc -l) $(echo "$e / $REPEAT" | bc -l) $(( m / 1024 )) $size" >> "$RESULTS"
  rm -f "$OUT/ff.mp4"
}

for _ in $(seq "$RUNS"); do
  server_case hlscam_head -I
  server_case hlscam_get
  ffmpeg_case ffmpeg_frag -movflags frag_keyframe+empty_moov+default_base_moof -f mp4 pipe:1 \> /dev/null
  ffmpeg_case ffmpeg_mp4 -f mp4 -y "$OUT/ff.mp4"
done

# The clip (of the last GET) is whole.
curl -sf -o "$OUT/clip.mp4" "$url"
probe=$(ffprobe -v error -count_packets -show_entries stream=codec_name,nb_read_packets:format=duration -of compact "$OUT/clip.mp4")
echo "# clip: $(stat -c %s "$OUT/clip.mp4") bytes; $(echo "$probe" | tr '\n' ' ')"

echo "case          cpu_s   wall_s  mem_mb  bytes"
awk '{ n[$1]++; cpu[$1, n[$1]] = $2; wall[$1, n[$1]] = $3; mem[$1] = ($4 > mem[$1] ? $4 : mem[$1]); size[$1] = $5 }
  function med(a, k, c,   i, j, t, v) { for (i = 1; i <= c; i++) v[i] = a[k, i]
    for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
    return v[int((c + 1) / 2)] }
  END { split("hlscam_head hlscam_get ffmpeg_frag ffmpeg_mp4", order, " ")
    for (o = 1; o <= 4; o++) { k = order[o]; if (!(k in n)) continue
      mc[k] = med(cpu, k, n[k]); mw[k] = med(wall, k, n[k])
      printf "%-13s %6.3f  %6.3f  %6d  %d\n", k, mc[k], mw[k], mem[k], size[k] }
    if (mc["ffmpeg_frag"] > 0) printf "ratio hlscam_get/ffmpeg_frag: cpu %.2f, wall %.2f\n",
      mc["hlscam_get"] / mc["ffmpeg_frag"], mw["hlscam_get"] / mw["ffmpeg_frag"] }' "$RESULTS"
awk -v secs="$SECS" '{ c[$1] += $2; n[$1]++ }
  END { for (k in c) if (c[k] > 0) printf "speed %-12s %6.0f media seconds per CPU second (mean)\n", k, secs / (c[k] / n[k]) }' "$RESULTS" | sort
