#!/usr/bin/env bash
# Real-browser live HLS playback check (headless Chromium via playwright-core).
# Usage: play_check.sh URL [seconds]   (URL = .m3u8 playlist, or a page with a <video>, e.g. the
#        player page http://127.0.0.1:8080/?engine=hlsjs)
# Env:   PLAY_MODE=auto|native|hlsjs  PLAY_CHECK_SCREENSHOT=out.png  CHROMIUM=/usr/bin/chromium
#        MIN_ADVANCE_S=1.0  HLSJS_CONFIG='{..}'  VIEWPORT=390x844  MOBILE=1  UNMUTE=0  STRICT=1
# Prints one JSON line; exit 0 if currentTime advanced, 1 if not, 2 on harness error.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
if [ $# -lt 1 ]; then sed -n '2,7p' "$0" >&2; exit 2; fi
. "$HERE/lib.sh"
ensure_browser played
export PLAY_CHECK_SCREENSHOT=${PLAY_CHECK_SCREENSHOT:-$HERE/play_check.png}
exec node "$HERE/play_check.js" "$@"
