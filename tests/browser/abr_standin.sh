#!/usr/bin/env bash
# Stand-in for a hlscam with [[variant]]s: ffmpeg makes one live capture (testsrc2 720p30 +
# 440 Hz tone) into H.264 + AAC variants cut at the same 1 s IDR-aligned segments, a master
# playlist /index.m3u8 whose URIs are v/<name>/live.m3u8 (the highest first, as hlscam lists
# them), and standin.py serves it (with the player page) on 127.0.0.1.
# Usage: tests/browser/abr_standin.sh [PORT] [DIR]   defaults: PORT=8091 DIR=/dev/shm/hlscam_abr_standin
# Env:   LADDER="1280x720:2500k 640x360:800k 426x240:250k" (the default; each WxH:RATE is a
#        variant named <H>p)
# Then:  node tests/browser/abr_check.js "http://127.0.0.1:PORT/?engine=hlsjs&src=/index.m3u8"
#        (or the master itself: http://127.0.0.1:PORT/index.m3u8) after ~4 s of warm-up.
# Runs until its PID is killed (kills ffmpeg and the server on exit).
set -euo pipefail
PORT=${1:-8091}; DIR=${2:-/dev/shm/hlscam_abr_standin}
HERE=$(cd "$(dirname "$0")" && pwd)
read -r -a ladder <<<"${LADDER:-1280x720:2500k 640x360:800k 426x240:250k}"
rm -rf "$DIR"; mkdir -p "$DIR/v"
# libx264 ultrafast (a third of a core for three variants here, leaving room for Chromium);
# GOP = 1 s = segment length, no scene cuts, so every segment of every variant starts with an
# IDR. maxrate/bufsize of one second keep each segment near its variant's bitrate.
n=${#ladder[@]}
split="[0:v]split=$n"; scale=""; maps=(); rc=(); vsm=""
for i in "${!ladder[@]}"; do
  size=${ladder[$i]%%:*} rate=${ladder[$i]#*:}
  split+="[s$i]"
  scale+=";[s$i]scale=${size/x/:}[v$i]"
  maps+=(-map "[v$i]")
  rc+=(-b:v:$i "$rate" -maxrate:v:$i "$rate" -bufsize:v:$i "$rate")
  vsm+=" v:$i,a:$i,name:${size#*x}p"
done
for i in "${!ladder[@]}"; do maps+=(-map 1:a); done
ffmpeg -hide_banner -nostdin -loglevel warning -re \
  -f lavfi -i "testsrc2=size=1280x720:rate=30" \
  -f lavfi -i "sine=frequency=440:sample_rate=48000" \
  -filter_complex "$split$scale" "${maps[@]}" \
  -c:v libx264 -preset ultrafast -tune zerolatency -pix_fmt yuv420p \
  -g 30 -keyint_min 30 -sc_threshold 0 "${rc[@]}" \
  -c:a aac -b:a 64k -ac 1 \
  -f hls -hls_time 1 -hls_list_size 10 \
  -hls_flags delete_segments+independent_segments+program_date_time+temp_file \
  -var_stream_map "${vsm# }" -master_pl_name index.m3u8 \
  -hls_segment_filename "$DIR/v/%v/seg%d.ts" "$DIR/v/%v/live.m3u8" &
FF=$!
python3 "$HERE/standin.py" "$DIR" "$PORT" &
SRV=$!
trap 'kill $FF $SRV 2>/dev/null; wait $FF $SRV 2>/dev/null' EXIT INT TERM
# ffmpeg writes the master once, next to the variant directories (DIR/v/index.m3u8); serve it
# at /index.m3u8 as hlscam does, its URIs made relative to there.
for _ in $(seq 1 100); do
  [ -s "$DIR/v/index.m3u8" ] && break
  sleep 0.1
done
sed 's|^\([^#].*\)$|v/\1|' "$DIR/v/index.m3u8" > "$DIR/index.m3u8.tmp"
mv "$DIR/index.m3u8.tmp" "$DIR/index.m3u8"
wait -n $FF $SRV
