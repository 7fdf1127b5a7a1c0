#!/usr/bin/env bash
# Recording cost (issue 13): the release binary, built-in test pattern + tone at the default
# settings (`[record]` defaults: fsync_seconds 10, chunk_minutes 5), paced, for MEDIA seconds,
# twice: `[record] mode = "off"` and `mode = "continuous"` onto a real disk (ext4 under
# $WORK; tmpfs would not count write_bytes). Measured while the run lingers after its
# `--duration`, from /proc/PID:
#   bytes per media byte   io write_bytes of the "on" run / bytes of the chunks recorded
#                          (goal <= 1.05)
#   fsyncs per hour        /api/status "record".fsyncs scaled to one hour of media
#   CPU share              (cpu_on - cpu_off) / cpu_on, cpu = utime + stime (goal <= 2 %)
#   RSS added              VmHWM on - off (goal <= 2 MB)
# Usage: bench/record.sh [MEDIA_SECONDS]   (default 120)   Env: WORK (/var/tmp/hlscam_bench_rec),
#        HLSCAM_BIN (target/release/hlscam)
set -euo pipefail
cd "$(dirname "$0")/.."
MEDIA=${1:-120}
WORK=${WORK:-/var/tmp/hlscam_bench_rec}
BIN=${HLSCAM_BIN:-target/release/hlscam}
[[ -x $BIN ]] || cargo build --release --bin hlscam
rm -rf "$WORK"; mkdir -p "$WORK"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

run() { # MODE -> prints "cpu_ticks hwm_kb write_bytes fsyncs chunk_bytes"
  local mode=$1 d=$WORK/$1
  mkdir -p "$d/rec"
  printf '[video]\nsource = "testsrc"\n[audio]\nsource = "tone"\n[hls]\ndir = "%s"\n[record]\nmode = "%s"\ndir = "%s"\n' \
    "$d/live" "$mode" "$d/rec" >"$d/hlscam.toml"
  "$BIN" --config "$d/hlscam.toml" --listen "127.0.0.1:$PORT" --duration "$MEDIA" --linger 5 \
    >"$d/log.txt" 2>&1 &
  local pid=$! st=
  # the run is over when the log says it lingers; then sample /proc (bounded wait)
  for _ in $(seq 1 $((MEDIA * 10 + 600))); do
    grep -q 'serving the finished stream' "$d/log.txt" && break
    sleep 0.1
  done
  sleep 0.5
  st=$(curl -s -m 2 "http://127.0.0.1:$PORT/api/status" || true)
  local cpu hwm wb
  cpu=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  hwm=$(awk '/^VmHWM/{print $2}' "/proc/$pid/status")
  wb=$(awk '/^write_bytes/{print $2}' "/proc/$pid/io")
  wait "$pid" || true
  local fs cb
  fs=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1] or "{}"); print((d.get("record") or {}).get("fsyncs", 0))' "$st")
  cb=$(cat "$d"/rec/*.ts 2>/dev/null | wc -c || true)
  echo "$cpu $hwm $wb $fs $cb"
}

read -r cpu0 hwm0 wb0 _ _ < <(run off)
read -r cpu1 hwm1 wb1 fs1 cb1 < <(run continuous)
HZ=$(getconf CLK_TCK)
python3 - "$MEDIA" "$HZ" "$cpu0" "$hwm0" "$wb0" "$cpu1" "$hwm1" "$wb1" "$fs1" "$cb1" <<'PY'
import sys
media, hz, cpu0, hwm0, wb0, cpu1, hwm1, wb1, fs1, cb1 = map(float, sys.argv[1:])
print(f"record bench: {media:.0f} s of media, paced, default settings (fsync_seconds 10)")
print(f"  off: cpu {cpu0 / hz:.2f} s, VmHWM {hwm0 / 1024:.1f} MB, write_bytes {wb0 / 1e6:.2f} MB")
print(f"  on:  cpu {cpu1 / hz:.2f} s, VmHWM {hwm1 / 1024:.1f} MB, write_bytes {wb1 / 1e6:.2f} MB, "
      f"chunks {cb1 / 1e6:.2f} MB, fsyncs {fs1:.0f}")
ratio = (wb1 - wb0) / cb1 if cb1 else float("nan")
print(f"  disk bytes per media byte {ratio:.3f} (goal <= 1.05)")
print(f"  fsyncs per hour of media  {fs1 * 3600 / media:.0f}")
print(f"  CPU share of recording    {100 * (cpu1 - cpu0) / cpu1:.2f} % (goal <= 2 %)")
print(f"  RSS added                 {(hwm1 - hwm0) / 1024:.2f} MB (goal <= 2 MB)")
PY
