#!/usr/bin/env bash
# Stand-in for a running hlscam: ffmpeg makes a live HLS stream (testsrc2 + 440 Hz tone, H.264 +
# mono AAC, seg<N>.ts / live.m3u8 like hlscam) and standin.py serves it with the player page,
# /hls.min.js and a fake /api/status on 127.0.0.1.
# Usage: tests/browser/standin.sh [PORT] [DIR] [SIZE] [FPS]
#   defaults: PORT=8090 DIR=/dev/shm/hlscam_standin SIZE=640x360 FPS=30
# Then: tests/browser/run.sh "http://127.0.0.1:PORT/?engine=hlsjs" 12   (after ~6 s of warm-up)
# Runs until its PID is killed (kills ffmpeg and the server on exit).
set -euo pipefail
PORT=${1:-8090}; DIR=${2:-/dev/shm/hlscam_standin}; SIZE=${3:-640x360}; FPS=${4:-30}
HERE=$(cd "$(dirname "$0")" && pwd)
rm -rf "$DIR"; mkdir -p "$DIR"
# libx264 because Debian's ffmpeg has no libopenh264. GOP = 2 s = segment length, so every
# segment starts with an IDR. The wall clock is burnt in (read latency off screenshots).
VF="drawtext=text='%{localtime\:%T}':fontcolor=white:fontsize=48:box=1:boxcolor=black@0.6:x=20:y=h-th-20"
fontfile=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
[ -f "$fontfile" ] && VF="$VF:fontfile=$fontfile"
ffmpeg -hide_banner -nostdin -loglevel warning -re \
  -f lavfi -i "testsrc2=size=${SIZE}:rate=${FPS}" \
  -f lavfi -i "sine=frequency=440:sample_rate=48000" \
  -vf "$VF" \
  -c:v libx264 -preset veryfast -tune zerolatency -profile:v main -pix_fmt yuv420p \
  -g $((FPS*2)) -keyint_min $((FPS*2)) -sc_threshold 0 -b:v 1500k \
  -c:a aac -b:a 96k -ac 1 \
  -f hls -hls_time 2 -hls_list_size 6 \
  -hls_flags delete_segments+program_date_time+independent_segments+temp_file \
  -hls_segment_filename "$DIR/seg%d.ts" "$DIR/live.m3u8" &
FF=$!
python3 "$HERE/standin.py" "$DIR" "$PORT" &
SRV=$!
trap 'kill $FF $SRV 2>/dev/null; wait $FF $SRV 2>/dev/null' EXIT INT TERM
wait -n $FF $SRV
