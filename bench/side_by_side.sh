#!/usr/bin/env bash
# Whole job, side by side in one run: hlscam (`--fast --duration 30`, 1280x720@30 testsrc + 48 kHz
# tone -> openh264 2 Mb/s, 2 s IDR period + AAC -> 2 s TS segments, 6-entry playlist) against
# GStreamer doing the same with openh264enc + avenc_aac -> hlssink2 (the peers.sh case
# gst_openh264_hls), alternating runs; prints medians and the ratio hlscam / GStreamer.
#
# Usage: bench/side_by_side.sh [RUNS]     (default 3; needs a release build and GStreamer)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
BIN=${HLSCAM_BIN:-target/release/hlscam}
WORK=${WORK:-/dev/shm/hlscam_side_by_side}
PEERS=${PEERS:-../shared/bench/peers.sh}
[ -x "$BIN" ] || { echo "build first: cargo build --release" >&2; exit 2; }
mkdir -p "$WORK"
cat > "$WORK/hlscam.toml" <<TOML
[video]
source = "testsrc"
width = 1280
height = 720
fps = 30
bitrate_kbps = 2000
[audio]
source = "tone"
sample_rate = 48000
channels = 2
bitrate_kbps = 128
[hls]
dir = "$WORK/out"
segment_seconds = 2
window = 6
[http]
listen = "127.0.0.1:0"
TOML

measure_hlscam() {
  rm -rf "$WORK/out" "$WORK/out/.hlscam-state"
  /usr/bin/time -v -o "$WORK/time_hlscam.txt" "$BIN" --config "$WORK/hlscam.toml" --fast --duration 30 \
    --log-level warn >/dev/null 2>"$WORK/log_hlscam.txt"
  awk -F': ' '/User time/{u=$2} /System time/{s=$2} /Maximum resident/{r=$2}
    /Elapsed \(wall clock\)/{n=split($2,a,":"); w=0; for(i=1;i<=n;i++) w=w*60+a[i]}
    END{printf "%.2f %.2f %.1f\n", u+s, w, r/1024}' "$WORK/time_hlscam.txt"
}
measure_gst() {
  REPEAT=1 KEEP=1 WORK="$WORK/peers" bash "$PEERS" '^gst_openh264_hls$' | awk '/^case=/{
    for(i=1;i<=NF;i++){split($i,kv,"="); v[kv[1]]=kv[2]} printf "%s %s %s\n", v["cpu_s"], v["wall_s"], v["rss_mb"]}'
}
median() { sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }

: > "$WORK/h.txt"; : > "$WORK/g.txt"
for ((i = 1; i <= RUNS; i++)); do
  measure_hlscam >> "$WORK/h.txt"
  measure_gst >> "$WORK/g.txt"
done
for who in h g; do
  for col in 1 2 3; do eval "${who}${col}=$(awk -v c=$col '{print $c}' "$WORK/$who.txt" | median)"; done
done
printf 'case=hlscam           cpu_s=%s wall_s=%s rss_mb=%s runs=%d\n' "$h1" "$h2" "$h3" "$RUNS"
printf 'case=gst_openh264_hls cpu_s=%s wall_s=%s rss_mb=%s runs=%d\n' "$g1" "$g2" "$g3" "$RUNS"
awk -v a="$h1" -v b="$g1" -v c="$h3" -v d="$g3" 'BEGIN{printf "ratio hlscam/gst: cpu %.2f, peak RSS %.2f\n", a/b, c/d}'
segs=$(ls "$WORK/out"/seg*.ts 2>/dev/null | wc -l)
echo "hlscam segments left in the ring: $segs; playlist tail: $(tail -n 1 "$WORK/out/live.m3u8")"
[ -n "${KEEP:-}" ] || rm -rf "$WORK"
