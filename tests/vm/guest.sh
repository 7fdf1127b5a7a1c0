#!/bin/bash
# guest.sh — runs inside the vmtest VM (see run.sh): starts the feeders the hardware tests
# need, then the test binary given as $1 (remaining args passed on), then stops the feeders.
#   * MJPEG into v4l2loopback's /dev/video10 (ffmpeg testsrc 640x480@30)
#   * a 440 Hz sine into hw:Loopback,0,0 (captured by the tests from hw:Loopback,1,0)
set -u
BIN=$1; shift
export HLSCAM_IN_VM=1
pids=()
if command -v ffmpeg >/dev/null; then
  ffmpeg -nostdin -loglevel error -re -f lavfi -i testsrc=size=640x480:rate=30 \
    -c:v mjpeg -q:v 5 -f v4l2 /dev/video10 & pids+=($!)
  for _ in $(seq 60); do v4l2-ctl -d /dev/video10 --list-formats 2>/dev/null | grep -q MJPG && break; sleep 0.5; done
else
  echo "guest: ffmpeg not installed: MJPEG check will fail" >&2
fi
speaker-test -D hw:Loopback,0,0 -c 2 -r 48000 -F S16_LE -t sine -f 440 >/dev/null 2>&1 & pids+=($!)
sleep 1
rc=0
"$BIN" "$@" || rc=$?
for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
wait 2>/dev/null
exit $rc
