#!/usr/bin/env bash
# The whole benchmark suite (what `make bench` runs): whole job, muxing alone, server scale,
# latency. Needs: cargo, ffmpeg, GStreamer (gstreamer1.0-tools, -plugins-bad/-ugly, -libav),
# /usr/bin/time, curl, python3, chromium + tests/browser (npm ci). ~20 min with the defaults.
# Env: RUNS (whole_job, default 5), MUX_RUNS (default 5), SCALE_SECS (60), CLIENTS (50),
#      LATENCY_SECS (300).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bin hlscam --example encode_file --example remux
bench/whole_job.sh "${RUNS:-5}"
bench/mux_only.sh "${MUX_RUNS:-5}"
bench/scale.sh "${SCALE_SECS:-60}" "${CLIENTS:-50}"
bench/latency.sh "${LATENCY_SECS:-300}"
