#!/usr/bin/env bash
# hlscam browser test driver: plays URL for SECONDS in headless Chromium and passes only when
# playback advanced >= 5 s (MIN_ADVANCE_S) with no player error (STRICT: hls.js fatal errors,
# <video> errors, play() rejections, page/console errors, failed requests, HTTP >= 400).
# Usage: tests/browser/run.sh URL SECONDS
#   URL: the streamer's player page (http://127.0.0.1:PORT/?engine=native or ?engine=hlsjs)
#        or a playlist (…/live.m3u8, played by the harness's own page).
# Env passed through: PLAY_CHECK_SCREENSHOT, VIEWPORT, MOBILE, UNMUTE, CHROMIUM, PLAY_MODE.
# Prints the JSON result line; exit 0 = pass, 1 = fail, 2 = harness error.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
if [ $# -ne 2 ]; then sed -n '5,7p' "$0" >&2; exit 2; fi
URL=$1 SECS=$2
export MIN_ADVANCE_S=${MIN_ADVANCE_S:-5} STRICT=1
if awk -v s="$SECS" -v m="$MIN_ADVANCE_S" 'BEGIN{exit !(s < m + 1)}'; then
  echo "run.sh: SECONDS=$SECS is too short to see $MIN_ADVANCE_S s of playback (startup takes ~1 s)" >&2
fi
"$HERE/play_check.sh" "$URL" "$SECS"
verdict run.sh $? "$URL" played/advanced_s/errors
