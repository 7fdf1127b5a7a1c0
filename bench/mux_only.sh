#!/usr/bin/env bash
# Muxing alone, side by side in one run: 60 s of pre-encoded H.264 (1280x720@30, 2 Mb/s, IDR
# every 2 s, no B-frames) + AAC (48 kHz stereo 128 kb/s) -> 2 s MPEG-TS segments, 6-entry
# playlist, old segments deleted. Runs alternate; medians and ratios of the medians are printed.
#
# Cases:
#   hlscam_remux      examples/remux.rs: reads the Annex B .h264 and ADTS .aac, splits AUs and
#                     frames (hlscam::codec), stamps and interleaves them, feeds HlsOutput
#   hlscam_split_only the same minus muxing (read + split only): the input's own cost
#   ffmpeg_copy_es    ffmpeg -c copy from the same .h264 + .aac files -> -f hls
#   ffmpeg_copy_mp4   ffmpeg -c copy from the MP4 -> -f hls (peers.sh ffmpeg_copy60_hls)
#   ffmpeg_demux_null ffmpeg reading the MP4 and writing nothing (-f null): input + startup cost
#   gst_copy_mp4      qtdemux -> h264parse/aacparse -> hlssink2 (peers.sh gst_copy60_hls)
#   gst_demux_null    qtdemux -> fakesink: input + startup cost
#
# Each measured run executes the command LOOP times in a row (default 10; each iteration writes
# its own OUT/<i> directory) and the figures are divided by LOOP: time(1) reports CPU in steps of
# 0.01 s, coarser than one 60 s remux. Peak RSS is the largest single iteration.
#
# Usage: bench/mux_only.sh [RUNS]   (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
CASES=${CASES:-.}
WORK=${WORK:-/dev/shm/hlscam_bench}
. bench/lib.sh
RAW=$WORK/raw_mux_only.txt; : > "$RAW"
REMUX=${REMUX_BIN:-target/release/examples/remux}
[ -x "$REMUX" ] || { echo "build first: cargo build --release --example remux" >&2; exit 2; }
FF="ffmpeg -hide_banner -nostdin -loglevel error -y"
MP4=$WORK/src60_nobf.mp4 H264=$WORK/src60.h264 AAC=$WORK/src60.aac
# B-frames off (-bf 0): the .h264 carries no timestamps and remux stamps PTS = DTS.
[ -s "$MP4" ] || $FF -f lavfi -i testsrc2=size=1280x720:rate=30 -f lavfi -i sine=frequency=440:sample_rate=48000 \
  -t 60 -c:v libx264 -preset veryfast -bf 0 -b:v 2M -maxrate 2M -bufsize 4M -g 60 -keyint_min 60 -sc_threshold 0 \
  -pix_fmt yuv420p -c:a aac -b:a 128k -ac 2 -movflags +faststart "$MP4"
[ -s "$H264" ] || $FF -i "$MP4" -map 0:v -c copy -bsf:v h264_mp4toannexb -f h264 "$H264"
[ -s "$AAC" ] || $FF -i "$MP4" -map 0:a -c copy -f adts "$AAC"
HLSF="-f hls -hls_time 2 -hls_list_size 6 -hls_flags delete_segments"
GSINK="hlssink2 name=hls send-keyframe-requests=false target-duration=2 max-files=6 playlist-length=6 location=OUT/seg%05d.ts playlist-location=OUT/ITER/live.m3u8"
G="gst-launch-1.0 -q"

LOOP=${LOOP:-10}
# bench/loop.sh N DIR CMD...: mkdir DIR/1..N, then CMD N times with ITER replaced by 1..N.
run() { local n=$1; shift; [[ $n =~ $CASES ]] && measure "$n" bench/loop.sh "$LOOP" OUT "$@" || true; }
echo "# mux_only.sh $(date -u +%FT%TZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), runs=$RUNS; input $(du -b "$H264" | cut -f1) B h264 + $(du -b "$AAC" | cut -f1) B aac"
for ((i = 1; i <= RUNS; i++)); do
  run hlscam_remux $REMUX "$H264" "$AAC" OUT/ITER 30
  run ffmpeg_copy_mp4 $FF -i "$MP4" -c copy $HLSF OUT/ITER/live.m3u8
  run gst_copy_mp4 $G filesrc location="$MP4" ! qtdemux name=d d.video_0 ! h264parse ! queue ! hls.video \
    d.audio_0 ! aacparse ! queue ! hls.audio $GSINK
  run ffmpeg_copy_es $FF -framerate 30 -i "$H264" -i "$AAC" -c copy $HLSF OUT/ITER/live.m3u8
  run hlscam_split_only $REMUX "$H264" "$AAC" OUT/ITER 30 --split-only
  run ffmpeg_demux_null $FF -i "$MP4" -c copy -f null -
  run gst_demux_null $G filesrc location="$MP4" ! qtdemux name=d d.video_0 ! queue ! fakesink d.audio_0 ! queue ! fakesink
done
# per iteration: divide cpu, user, sys and wall by LOOP (segs/kbps: none, the outputs are in OUT/<i>)
awk -v l="$LOOP" '{printf "%s %.4f %.4f %.4f %.4f %s %s %s\n", $1, $2/l, $3/l, $4/l, $5/l, $6, $7, $8}' "$RAW" > "$RAW.tmp" && mv "$RAW.tmp" "$RAW"
echo "# medians of $RUNS alternating runs of $LOOP iterations each, per iteration (cpu = user+sys s, wall s, peak RSS MB)"
grep -h 'hung after finishing' "$WORK"/log_gst_*.txt 2>/dev/null | sed 's/^/# gst: /' | sort | uniq -c || true
summarize hlscam_remux hlscam_split_only ffmpeg_copy_es ffmpeg_copy_mp4 ffmpeg_demux_null gst_copy_mp4 gst_demux_null
echo "# ratios (hlscam / peer, same run); goal: muxing cpu <= 0.5 of ffmpeg -c copy"
ratio hlscam_remux ffmpeg_copy_mp4
ratio hlscam_remux ffmpeg_copy_es
ratio hlscam_remux gst_copy_mp4
awk -v h="$(col 2 hlscam_remux | median)" -v hs="$(col 2 hlscam_split_only | median)" \
    -v f="$(col 2 ffmpeg_copy_mp4 | median)" -v fs="$(col 2 ffmpeg_demux_null | median)" \
    -v g="$(col 2 gst_copy_mp4 | median)" -v gs="$(col 2 gst_demux_null | median)" 'BEGIN{
  printf "muxing beyond reading the input (cpu s): hlscam %.3f, ffmpeg %.3f, gst %.3f  (per iteration)\n", h-hs, f-fs, g-gs }'
for c in hlscam_remux ffmpeg_copy_mp4 gst_copy_mp4; do
  d=$WORK/out_$c/$LOOP
  [ -f "$d/live.m3u8" ] && echo "# $c output check (last iteration): $(awk -F: '/MEDIA-SEQUENCE/{s=$2} /^#EXTINF/{n++} END{print s+n}' "$d/live.m3u8") segments, last one decodes to $(ffprobe -v error -count_frames -select_streams v -show_entries stream=nb_read_frames -of csv=p=0 "$d/$(grep -v "^#" "$d/live.m3u8" | tail -1)" | head -1) video frames"
done
