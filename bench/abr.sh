#!/usr/bin/env bash
# Adaptive bitrate: what each added rendition costs. hlscam streams paced (real time) the test
# pattern at 1280x720@30 + AAC for SECONDS, all on openh264, as
#   r1    one rendition, 720p 2000 kb/s (no [[variant]]: today's single stream)
#   r2    [[variant]] 720p 2000 kb/s + 360p 600 kb/s
#   r2a   the same + the audio-only rendition
#   r3    720p + 360p + 180p 200 kb/s (+ audio-only)
# and prints CPU (user+sys, % of one core) and peak RSS per case, the difference per added
# rendition, the capture thread's cost per frame (capture + scaling every lower rendition, from
# the stage line hlscam logs at exit) and the drops /api/status reported last.
#
# Usage: bench/abr.sh [SECONDS] [RUNS]   (defaults 60 and 1)
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-60} RUNS=${2:-1}
WORK=${WORK:-/dev/shm/hlscam_bench_abr}
export CASE_TIMEOUT=$((SECS + 30))
. bench/lib.sh
BIN=${HLSCAM_BIN:-target/release/hlscam}
[ -x "$BIN" ] || { echo "build first: cargo build --release" >&2; exit 2; }
: > "$RAW"
echo "# abr.sh $(date -u +%FT%TZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), ${SECS} s paced, $RUNS run(s)"

variant() { # variant NAME W H KBPS
  printf '[[variant]]\nname = "%s"\nwidth = %s\nheight = %s\nbitrate_kbps = %s\nencoder = "openh264"\n' "$@"
}

toml() { # toml CASE AUDIO_ONLY VARIANTS...
  local f=$WORK/$1.toml audio_only=$2; shift 2
  cat > "$f" <<TOML
[video]
source = "testsrc"
width = 1280
height = 720
fps = 30
bitrate_kbps = 2000
encoder = "openh264"
[audio]
source = "tone"
[hls]
dir = "OUT"
segment_seconds = 2
audio_only = $audio_only
[http]
listen = "127.0.0.1:0"
TOML
  for v in "$@"; do echo "$v" >> "$f"; done
  echo "$f"
}

V720=$(variant 720p 1280 720 2000)
V360=$(variant 360p 640 360 600)
V180=$(variant 180p 320 180 200)
declare -A CFG=(
  [r1]=$(toml r1 false)
  [r2]=$(toml r2 false "$V720" "$V360")
  [r2a]=$(toml r2a true "$V720" "$V360")
  [r3]=$(toml r3 true "$V720" "$V360" "$V180")
)
CASES=(r1 r2 r2a r3)
for run in $(seq "$RUNS"); do
  for c in "${CASES[@]}"; do
    sed "s#OUT#$WORK/out_$c#" "${CFG[$c]}" > "$WORK/$c.run.toml"
    measure "$c" "$BIN" --config "$WORK/$c.run.toml" --duration "$SECS"
    grep -o 'capture [0-9.]* µs/frame' "$WORK/log_$c.txt" | tail -1 | sed "s/^/# $c: /" >&2 || true
    grep -c 'stopping rendition' "$WORK/log_$c.txt" | sed "s/^/# $c: renditions stopped by the governor: /" >&2 || true
  done
done
summarize "${CASES[@]}"
cpu() { col 2 "$1" | median; }
rss() { col 6 "$1" | median; }
awk -v s="$SECS" -v c1="$(cpu r1)" -v c2="$(cpu r2)" -v c2a="$(cpu r2a)" -v c3="$(cpu r3)" \
  -v r1="$(rss r1)" -v r2="$(rss r2)" -v r2a="$(rss r2a)" -v r3="$(rss r3)" 'BEGIN{
  printf "cpu %% of one core: r1 %.1f, r2 %.1f, r2a %.1f, r3 %.1f\n", c1*100/s, c2*100/s, c2a*100/s, c3*100/s
  printf "added 360p rendition: +%.1f %% of a core, +%.1f MB RSS\n", (c2-c1)*100/s, r2-r1
  printf "added audio-only rendition: +%.1f %% of a core, +%.1f MB RSS\n", (c2a-c2)*100/s, r2a-r2
  printf "added 180p rendition: +%.1f %% of a core, +%.1f MB RSS\n", (c3-c2a)*100/s, r3-r2a
}'
