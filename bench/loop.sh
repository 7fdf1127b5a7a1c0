#!/usr/bin/env bash
# bench/loop.sh N DIR CMD...: creates DIR/1..DIR/N, then runs CMD N times in a row with the
# literal token ITER in its arguments replaced by the iteration number; stops at the first failure.
# An iteration still running after ITER_TIMEOUT s (default 10) is killed; when its playlist is
# complete (#EXT-X-ENDLIST written: GStreamer 1.22 hlssink2 sometimes never exits after that) it
# counts as done and is reported on stderr ("hung after finishing"), else the loop fails.
set -u
n=$1 dir=$2; shift 2
mkdir -p $(seq -f "$dir/%g" 1 "$n")
for ((i = 1; i <= n; i++)); do
  rc=0; timeout -s KILL "${ITER_TIMEOUT:-10}" "${@//ITER/$i}" >/dev/null || rc=$?
  if [ $rc = 137 ] && grep -qs '#EXT-X-ENDLIST' "$dir/$i/live.m3u8"; then
    echo "loop.sh: iteration $i hung after finishing (killed; its CPU is counted, its wall is not meaningful)" >&2
  elif [ $rc != 0 ]; then
    echo "loop.sh: iteration $i failed (rc $rc)" >&2; exit 1
  fi
done
