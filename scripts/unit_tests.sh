#!/usr/bin/env bash
# scripts/unit_tests.sh — `make unit`: every target `cargo test --all-targets` runs, in two lanes
# at once. The paced tests (the real binary recording or publishing in real time: they mostly
# wait on the clock, at 320x240 the encoder takes a few % of a core) run one after another in
# a second lane beside the rest, which saves their ~4 minutes of waiting on a 2-core machine.
# Everything is built first, so the two `cargo test` runs only run (cargo takes no lock then).
# The paced lane's output is printed after the rest's, whole; the exit status is non-zero if
# any test of either lane failed.
#
#   PACED="record_http record" scripts/unit_tests.sh     (default: the list below)
set -uo pipefail
cd "$(dirname "$0")/.."
CARGO=${CARGO:-cargo}
PACED=${PACED:-record_http record publish_nginx record_events publish_s3 abr_governor}

$CARGO test --all-targets --no-run || exit 1
paced=()
for t in $PACED; do paced+=(--test "$t"); done
rest=(--lib --bins --benches --examples)
for f in tests/*.rs; do
  n=$(basename "$f" .rs)
  [[ " $PACED " == *" $n "* ]] || rest+=(--test "$n")
done
log=target/unit-paced.log
start=$(date +%s)
$CARGO test "${paced[@]}" --no-fail-fast >"$log" 2>&1 &
pid=$!
$CARGO test "${rest[@]}" --no-fail-fast
rc_rest=$?
wait "$pid"
rc_paced=$?
echo "=== paced lane (ran beside the tests above): $PACED"
cat "$log"
echo "=== unit tests: rest rc=$rc_rest, paced rc=$rc_paced, $(( $(date +%s) - start )) s"
[ "$rc_rest" = 0 ] && [ "$rc_paced" = 0 ]
