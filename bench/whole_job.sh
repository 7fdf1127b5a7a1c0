#!/usr/bin/env bash
# Whole job, side by side, in one run: 30 s of 1280x720@30 video + 48 kHz stereo audio ->
# H.264 2 Mb/s (IDR every 2 s) + AAC 128 kb/s -> 2 s MPEG-TS segments, 6-entry playlist, old
# segments deleted, nothing paced. Runs alternate (hlscam, gst, ffmpeg, ..., hlscam, ...) so
# the machine's drift hits every case alike; medians and ratios of the medians are printed.
#
# Cases:
#   hlscam              the binary: `--fast --duration 30`, its built-in test pattern + tone
#                       (pattern rendered in-process, cost included; content differs from
#                       testsrc2: mostly flat colour, openh264 undershoots the bitrate on it)
#   hlscam_file         hlscam's pipeline (examples/encode_file.rs) fed the SAME raw files as
#                       the peers: identical input, raw-file reading included
#   gst_openh264_file   GStreamer: raw files -> openh264enc + avenc_aac -> hlssink2
#   ffmpeg_x264uf_file  ffmpeg: raw files -> libx264 ultrafast/zerolatency + aac -> -f hls
#   gst_openh264_synth  GStreamer with in-process synthetic sources (videotestsrc smpte +
#                       audiotestsrc), the GStreamer analogue of hlscam's built-in sources
#   ffmpeg_lavfi_x264uf ffmpeg with lavfi testsrc2 + sine generated in-process
#
# Usage: bench/whole_job.sh [RUNS]   (default 3; RUNS=5 for steadier medians)
# Env:   WORK=/dev/shm/hlscam_bench (1.3 GB of raw input is generated there once and kept)
#        CASES='regex' to run a subset; HLSCAM_BIN, ENCODE_FILE_BIN to test other builds;
#        HLSCAM_BEFORE=path/to/older/hlscam adds a case hlscam_before (before/after, same run).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
CASES=${CASES:-.}
WORK=${WORK:-/dev/shm/hlscam_bench}
. bench/lib.sh
RAW=$WORK/raw_whole_job.txt; : > "$RAW"
BIN=${HLSCAM_BIN:-target/release/hlscam}
EF=${ENCODE_FILE_BIN:-target/release/examples/encode_file}
[ -x "$BIN" ] && [ -x "$EF" ] || { echo "build first: cargo build --release --bin hlscam --example encode_file" >&2; exit 2; }
W=1280 H=720 FPS=30 SECS=30
YUV=$WORK/src_720p30.yuv PCM=$WORK/src_48k_s16le.pcm
FF="ffmpeg -hide_banner -nostdin -loglevel error -y"
[ -s "$YUV" ] || $FF -f lavfi -i testsrc2=size=${W}x${H}:rate=$FPS -t $SECS -pix_fmt yuv420p -f rawvideo "$YUV"
[ -s "$PCM" ] || $FF -f lavfi -i sine=frequency=440:sample_rate=48000 -t $SECS -ac 2 -f s16le "$PCM"
hlscam_toml "$WORK/hlscam.toml" "$WORK/unused"

HLSF="-f hls -hls_time 2 -hls_list_size 6 -hls_flags delete_segments"
X264="-c:v libx264 -preset ultrafast -tune zerolatency -b:v 2M -maxrate 2M -bufsize 4M -g 60 -keyint_min 60 -sc_threshold 0"
GVSRC="filesrc location=$YUV blocksize=$((W*H*3/2)) ! rawvideoparse width=$W height=$H format=i420 framerate=$FPS/1"
GASRC="filesrc location=$PCM ! rawaudioparse format=pcm pcm-format=s16le sample-rate=48000 num-channels=2"
GENC="openh264enc bitrate=2000000 rate-control=bitrate gop-size=60 ! h264parse"
GAAC="audioconvert ! avenc_aac bitrate=128000 ! aacparse"
# send-keyframe-requests=false: the encoder's own 2 s GOP cuts the segments (see peers.sh).
GSINK="hlssink2 name=hls send-keyframe-requests=false target-duration=2 max-files=6 playlist-length=6 location=OUT/seg%05d.ts playlist-location=OUT/live.m3u8"
G="gst-launch-1.0 -q"

run() { [[ $1 =~ $CASES ]] && measure "$@" || true; }
echo "# whole_job.sh $(date -u +%FT%TZ), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), runs=$RUNS"
for ((i = 1; i <= RUNS; i++)); do
  run hlscam $BIN --config "$WORK/hlscam.toml" --dir OUT --fast --duration $SECS --log-level info
  [ -z "${HLSCAM_BEFORE:-}" ] || run hlscam_before "$HLSCAM_BEFORE" --config "$WORK/hlscam.toml" --dir OUT --fast --duration $SECS --log-level info
  run gst_openh264_file $G $GVSRC ! queue ! $GENC ! queue ! hls.video $GASRC ! $GAAC ! queue ! hls.audio $GSINK
  run ffmpeg_x264uf_file $FF -f rawvideo -pix_fmt yuv420p -s ${W}x${H} -r $FPS -i $YUV -f s16le -ar 48000 -ac 2 -i $PCM \
    $X264 -c:a aac -b:a 128k $HLSF OUT/live.m3u8
  run hlscam_file $EF $YUV $PCM OUT ${W}x${H} $FPS 2000 128
  run gst_openh264_synth $G videotestsrc pattern=smpte num-buffers=$((SECS * FPS)) ! video/x-raw,format=I420,width=$W,height=$H,framerate=$FPS/1 \
    ! queue ! $GENC ! queue ! hls.video \
    audiotestsrc wave=sine freq=440 num-buffers=$((SECS * 48000 / 1024)) samplesperbuffer=1024 ! audio/x-raw,rate=48000,channels=2 \
    ! $GAAC ! queue ! hls.audio $GSINK
  run ffmpeg_lavfi_x264uf $FF -f lavfi -i testsrc2=size=${W}x${H}:rate=$FPS -f lavfi -i sine=frequency=440:sample_rate=48000 \
    -t $SECS -pix_fmt yuv420p $X264 -c:a aac -b:a 128k -ac 2 $HLSF OUT/live.m3u8
done
echo "# medians of $RUNS alternating runs (cpu = user+sys s, wall s, peak RSS MB incl. shared libs; kbps = output bitrate of the final window)"
summarize hlscam ${HLSCAM_BEFORE:+hlscam_before} hlscam_file gst_openh264_file ffmpeg_x264uf_file gst_openh264_synth ffmpeg_lavfi_x264uf
echo "# ratios (hlscam / peer, medians of the same run); goals: cpu <= 0.8 of GStreamer+openh264, peak RSS <= 0.3 of the best peer"
ratio hlscam_file gst_openh264_file
ratio hlscam_file ffmpeg_x264uf_file
ratio hlscam gst_openh264_synth
ratio hlscam ffmpeg_lavfi_x264uf
ratio hlscam gst_openh264_file
[ -z "${HLSCAM_BEFORE:-}" ] || ratio hlscam hlscam_before
grep -h '\] stages:' "$WORK/log_hlscam.txt" | sed 's/^.*\] /# hlscam last run: /' || true
grep -h 'stages:' "$WORK/log_hlscam_file.txt" | sed 's/^/# hlscam_file last run: /' || true
