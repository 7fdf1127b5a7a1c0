#!/usr/bin/env bash
# hlscam adaptive-bitrate browser test driver (issue 15): headless Chromium plays the master with
# hls.js, the page's network is throttled through the DevTools protocol and lifted again; passes
# only when hls.js switched down and back up with no stall longer than one target duration and
# no player error (tests/browser/abr_check.js says how it decides).
# Usage: tests/browser/abr_check.sh URL
#   URL: the streamer's player page (http://127.0.0.1:PORT/?engine=hlsjs, which plays /index.m3u8)
#        or a master playlist (…/index.m3u8, played by the harness's own page with hls.js).
# Env passed through: ABR_* timings and throttle, HLSJS_CONFIG, ABR_SHOT, CHROMIUM.
# Prints the JSON result line; exit 0 = pass, 1 = fail, 2 = harness error.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
if [ $# -ne 1 ]; then sed -n '6,8p' "$0" >&2; exit 2; fi
. "$HERE/lib.sh"
ensure_browser ok
node "$HERE/abr_check.js" "$1"
verdict abr_check.sh $? "$1" verdict/checks/stalls
