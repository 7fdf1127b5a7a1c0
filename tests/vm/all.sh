#!/usr/bin/env bash
# all.sh — every VM test: the capture library checks (run.sh → tests/hw.rs, `vm: ...` summary)
# and the real binary streaming from the VM's devices (stream_e2e.sh, `vm-stream: ...`
# summary), and a power cut while recording onto ext4 (record_reset.sh, `vm-record: ...`).
# Runs all even if one fails; exits non-zero if any failed.
#   usage: tests/vm/all.sh        (for `make test`: one line, e.g. `tests/vm/all.sh`)
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
rc=0
"$HERE/run.sh" || rc=1
"$HERE/stream_e2e.sh" || rc=1
"$HERE/record_reset.sh" || rc=1
((rc)) && echo "vm-all: FAILED" || echo "vm-all: ok"
exit $rc
