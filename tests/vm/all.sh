#!/usr/bin/env bash
# all.sh — every VM test: the capture library checks (run.sh → tests/hw.rs, `vm: ...` summary)
# and the real binary streaming from the VM's devices (stream_e2e.sh, `vm-stream: ...`
# summary). Runs both even if the first fails; exits non-zero if either failed.
#   usage: tests/vm/all.sh        (for `make test`: one line, e.g. `tests/vm/all.sh`)
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
rc=0
"$HERE/run.sh" || rc=1
"$HERE/stream_e2e.sh" || rc=1
((rc)) && echo "vm-all: FAILED" || echo "vm-all: ok"
exit $rc
