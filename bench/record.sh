#!/usr/bin/env bash
# Recording cost (issue 13): the release binary, built-in test pattern + tone at the default
# settings (1280x720 30 fps 2000 kbit/s, 2 s segments; `[record]` defaults: fsync_seconds 10,
# chunk_minutes 5), paced, for MEDIA seconds, twice: `[record] mode = "off"` and
# `mode = "continuous"`. As in production the live HLS ring is on tmpfs (/dev/shm) and the
# recordings on a disk of their own: an ext4 file system (mkfs defaults, inode tables and
# journal initialised up front so no lazy-init writes run) on a loop device, so the block
# device's own counter (/sys/block/loopN/stat, sectors written) counts every byte that reached
# the disk: data, index, journal, in-place metadata, up to the final umount. Figures:
#   bytes per media byte   disk bytes written / bytes of the chunks recorded (goal <= 1.05),
#                          with what they are made of: chunk and index file bytes, pages
#                          dirtied again after an fsync (/proc/PID/io write_bytes beyond the
#                          file bytes), the file system's own writes (the rest: journal and
#                          metadata; /proc/fs/jbd2/loopN-8/info counts the transactions)
#   fsyncs per hour        /api/status "record".fsyncs scaled to one hour of media
#   CPU                    the "record" writer thread's own run time (schedstat, ns; sampled
#                          while it runs) and the jbd2 thread's, as a share of the "on" run's
#                          process CPU (utime + stime, whole process); and on - off of the
#                          whole process (same media length: noisy on a shared machine)
#                          (goal <= 2 %)
#   RSS added              VmHWM on - off (goal <= 2 MB)
# Needs root (losetup, mount). Usage: bench/record.sh [MEDIA_SECONDS]   (default 120)
# Env: WORK (/var/tmp/hlscam_bench_rec), HLSCAM_BIN (target/release/hlscam), MOUNT_OPTS (mount
# options of the test file system, e.g. lazytime; default none)
set -euo pipefail
cd "$(dirname "$0")/.."
MEDIA=${1:-120}
WORK=${WORK:-/var/tmp/hlscam_bench_rec}
BIN=${HLSCAM_BIN:-target/release/hlscam}
[[ $(id -u) == 0 ]] || { echo "bench/record.sh: needs root (a loop device for the disk)" >&2; exit 1; }
[[ -x $BIN ]] || cargo build --release --bin hlscam
LIVE=$(mktemp -d /dev/shm/hlscam_bench_live.XXXXXX)
[[ $(stat -f -c %T "$LIVE") == tmpfs ]] || { echo "bench/record.sh: /dev/shm is not tmpfs" >&2; exit 1; }
rm -rf "$WORK"; mkdir -p "$WORK/mnt"
LOOP=
cleanup() {
  mountpoint -q "$WORK/mnt" && umount "$WORK/mnt"
  [[ -n $LOOP ]] && losetup -d "$LOOP"
  rm -rf "$LIVE" "$WORK/disk.img"
}
trap cleanup EXIT
truncate -s 1G "$WORK/disk.img"
mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 "$WORK/disk.img"
LOOP=$(losetup -f --show "$WORK/disk.img")
DEV=$(basename "$LOOP")
mount -t ext4 ${MOUNT_OPTS:+-o "$MOUNT_OPTS"} "$LOOP" "$WORK/mnt"
REC=$WORK/mnt/rec
mkdir -p "$REC"
sync -f "$WORK/mnt"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
sectors() { awk '{print $7}' "/sys/block/$DEV/stat"; }
ns_of() { awk '{print $1}' "$1" 2>/dev/null || echo 0; }
JBD=$(pgrep -x "jbd2/$DEV-8" || true)   # the journal thread of this file system only

run() { # MODE -> prints "cpu_ticks hwm_kb write_bytes cancelled fsyncs record_ns jbd2_ns"
  local mode=$1 d=$WORK/$1
  mkdir -p "$d"
  printf '[video]\nsource = "testsrc"\n[audio]\nsource = "tone"\n[hls]\ndir = "%s"\n[record]\nmode = "%s"\ndir = "%s"\n' \
    "$LIVE/$mode" "$mode" "$REC" >"$d/hlscam.toml"
  local j0 j1
  j0=$(ns_of "/proc/$JBD/schedstat")
  "$BIN" --config "$d/hlscam.toml" --listen "127.0.0.1:$PORT" --duration "$MEDIA" --linger 5 \
    >"$d/log.txt" 2>&1 &
  local pid=$! st= tid= rns=0
  # until the log says it lingers (bounded): the writer thread's run time, sampled while
  # it lives (it ends with the run)
  for _ in $(seq 1 $((MEDIA * 10 + 600))); do
    grep -q 'serving the finished stream' "$d/log.txt" && break
    if [[ -z $tid ]]; then
      for t in /proc/$pid/task/*; do
        [[ $(cat "$t/comm" 2>/dev/null) == record ]] && tid=${t##*/}
      done
    fi
    [[ -n $tid && -r /proc/$pid/task/$tid/schedstat ]] && rns=$(ns_of "/proc/$pid/task/$tid/schedstat")
    sleep 0.1
  done
  sleep 0.5
  st=$(curl -s -m 2 "http://127.0.0.1:$PORT/api/status" || true)
  local cpu hwm wb cw
  cpu=$(awk '{print $14 + $15}' "/proc/$pid/stat")
  hwm=$(awk '/^VmHWM/{print $2}' "/proc/$pid/status")
  wb=$(awk '/^write_bytes/{print $2}' "/proc/$pid/io")
  cw=$(awk '/^cancelled_write_bytes/{print $2}' "/proc/$pid/io")
  wait "$pid" || true
  j1=$(ns_of "/proc/$JBD/schedstat")
  local fs
  fs=$(python3 -c 'import json,sys; d=json.loads(sys.argv[1] or "{}"); print((d.get("record") or {}).get("fsyncs", 0))' "$st")
  echo "$cpu $hwm $wb $cw $fs $rns $((j1 - j0))"
}

read -r cpu0 hwm0 _ _ _ _ _ < <(run off)
s0=$(sectors)
read -r cpu1 hwm1 wb1 cw1 fs1 rns1 jns1 < <(run continuous)
sync -f "$WORK/mnt"
JINFO=$(cat "/proc/fs/jbd2/$DEV-8/info" 2>/dev/null || true)
cb=$(cat "$REC"/*.ts | wc -c)
ib=$(cat "$REC"/*.idx | wc -c)
nf=$(find "$REC" -type f | wc -l)
umount "$WORK/mnt"
s1=$(sectors)
HZ=$(getconf CLK_TCK)
python3 - "$MEDIA" "$HZ" "$cpu0" "$hwm0" "$cpu1" "$hwm1" "$wb1" "$cw1" "$fs1" "$rns1" "$jns1" \
  "$cb" "$ib" "$nf" "$(( (s1 - s0) * 512 ))" "$JINFO" <<'PY'
import re, sys
a = sys.argv[1:]
media, hz, cpu0, hwm0, cpu1, hwm1, wb1, cw1, fs1, rns1, jns1, cb, ib, nf, disk = map(float, a[:15])
jinfo = a[15]
m = re.search(r"(\d+) transactions", jinfo)
tx = int(m.group(1)) if m else 0
m = re.search(r"(\d+) logged blocks per transaction", jinfo)
logged = int(m.group(1)) if m else 0
journal = tx * (logged + 1) * 4096  # at most: the logged blocks and a commit block each
print(f"record bench: {media:.0f} s of media, paced, default settings (fsync_seconds 10), "
      "live ring on tmpfs, recordings on ext4 on a loop device")
print(f"  off: cpu {cpu0 / hz:.2f} s, VmHWM {hwm0 / 1024:.1f} MB")
print(f"  on:  cpu {cpu1 / hz:.2f} s, VmHWM {hwm1 / 1024:.1f} MB, chunks {cb / 1e6:.3f} MB, "
      f"index {ib:.0f} B, {nf:.0f} files, fsyncs {fs1:.0f}")
print(f"  disk bytes written        {disk / 1e6:.3f} MB (loop device, to the umount)")
print(f"    chunk + index bytes     {(cb + ib) / 1e6:.3f} MB")
print(f"    pages dirtied again     {(wb1 - cw1 - cb - ib) / 1e3:.1f} kB (write_bytes {wb1 / 1e6:.3f} MB"
      f" - cancelled {cw1:.0f} - file bytes)")
print(f"    file system's own       {(disk - (wb1 - cw1)) / 1e3:.1f} kB (journal + metadata: disk - "
      f"write_bytes; jbd2: {tx} transactions of {logged} logged blocks + a commit block, "
      f"<= {journal / 1e3:.1f} kB)")
print(f"  disk bytes per media byte {disk / cb:.4f} (goal <= 1.05)")
print(f"  fsyncs per hour of media  {fs1 * 3600 / media:.0f}")
print(f"  CPU: writer thread {rns1 / 1e9:.3f} s + jbd2 {jns1 / 1e9:.3f} s = "
      f"{100 * (rns1 + jns1) / 1e9 / (cpu1 / hz):.2f} % of the process's {cpu1 / hz:.2f} s "
      "(goal <= 2 %)")
print(f"  CPU on - off (whole process) {(cpu1 - cpu0) / hz:+.2f} s = "
      f"{100 * (cpu1 - cpu0) / cpu1:+.2f} % (includes run-to-run noise)")
print(f"  RSS added                 {(hwm1 - hwm0) / 1024:.2f} MB (goal <= 2 MB)")
PY
