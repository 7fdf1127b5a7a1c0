#!/bin/bash
# guest.sh — runs inside the vmtest VM (see run.sh): starts a 440 Hz sine into
# hw:Loopback,0,0 (the tests capture it from hw:Loopback,1,0), runs the test binary given as $1
# (remaining args passed on), then stops the tone. The tests start their own ffmpeg feeders
# for v4l2loopback's /dev/video10 (MJPEG, H.264).
set -u
BIN=$1; shift
export HLSCAM_IN_VM=1
pids=()
speaker-test -D hw:Loopback,0,0 -c 2 -r 48000 -F S16_LE -t sine -f 440 >/dev/null 2>&1 & pids+=($!)
sleep 1
rc=0
"$BIN" "$@" || rc=$?
for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
wait 2>/dev/null
exit $rc
