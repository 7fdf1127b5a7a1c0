#!/usr/bin/env bash
# run.sh — hlscam's real-device tests in a QEMU VM (Debian kernel with vivid, vicodec,
# v4l2loopback, snd-aloop; see README.md beside this file). Self-contained:
#   1. builds/refreshes the VM image (build_image.sh, cache in $VMTEST_CACHE or /var/tmp/vmtest)
#   2. builds the `hw` test binary (tests/hw.rs) in release (HW_PROFILE=dev for a debug build:
#      under TCG a debug build is too slow for the frame-rate and MJPEG checks)
#   3. boots the VM with run_in_vm.sh and runs guest.sh (440 Hz tone + the binary)
# Prints the binary's per-check lines and its summary `vm: N passed, N failed`; exits non-zero
# on any failure (124/125: VM timeout/failure).
#   usage: tests/vm/run.sh [CHECK-NAME-FILTER]
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
cd "$ROOT"
"$HERE/build_image.sh" >&2
PROFILE_ARGS=()
[[ ${HW_PROFILE:-release} == release ]] && PROFILE_ARGS=(--release)
# The hw test executable (not the hlscam binary, which cargo also reports when it builds it).
BIN=$(cargo test "${PROFILE_ARGS[@]}" --test hw --no-run --message-format=json 2>/dev/null \
  | python3 -c 'import json,sys
for l in sys.stdin:
    try: m = json.loads(l)
    except ValueError: continue
    if m.get("reason") == "compiler-artifact" and m.get("target", {}).get("name") == "hw" and m.get("executable"):
        print(m["executable"])' | tail -n1)
[[ -x $BIN ]] || { echo "vm: could not build the hw test binary" >&2; cargo test "${PROFILE_ARGS[@]}" --test hw --no-run; exit 1; }
echo "vm: running $BIN in the VM" >&2
# two loopback nodes: /dev/video10 (MJPEG) and /dev/video11 (H.264); a node keeps the format of
# its first producer for the rest of the boot
export VMTEST_V4L2LOOPBACK_OPTS=${VMTEST_V4L2LOOPBACK_OPTS:-devices=2 video_nr=10,11 card_label=vmtest-loopback,vmtest-loopback-h264 exclusive_caps=1,1}
OUT=$(mktemp "${TMPDIR:-/var/tmp}/hlscam-vm.XXXXXX")
trap 'rm -f "$OUT"' EXIT
rc=0
export VMTEST_VICODEC_OPTS=${VMTEST_VICODEC_OPTS:-multiplanar=1}
VMTEST_TIMEOUT=${VMTEST_TIMEOUT:-900} "$HERE/run_in_vm.sh" "$HERE/guest.sh" "$BIN" "$@" > >(tee "$OUT") || rc=$?
sleep 0.2   # let tee drain
if ((rc)) || ! grep -q '^vm: [0-9]* passed, 0 failed$' "$OUT"; then
  grep -q '^vm: [0-9]* passed' "$OUT" || echo "vm: 0 passed, 1 failed (the VM run ended with code $rc before a summary)"
  exit 1
fi
