#!/usr/bin/env bash
# record_reset.sh — a power cut while recording onto ext4 (issue 13, crash safety):
#   1. builds the release binary and the VM image (build_image.sh, cache in $VMTEST_CACHE);
#      creates a 64 MiB raw disk image and formats it ext4 on the host (mkfs.ext4)
#   2. boots the VM with the image as its virtio disk (VMTEST_DISK); record_guest.sh records
#      continuously onto it (test pattern + tone, 1 s segments, fsync_seconds = 1), the live
#      HLS in a shared dir (VMTEST_RW); once seg4 is live, and a further random
#      0-1 s, QEMU is killed by its PID (VMTEST_PIDFILE): the guest loses its page cache and
#      everything not flushed to the disk, as in a power cut
#   3. boots again with the same disk: ext4 replays its journal, hlscam starts and repairs (its
#      log names what it repaired), records 2 s, the guest unmounts the disk
#   4. on the host: e2fsck -fn finds the filesystem clean; debugfs rdump copies the recordings
#      out; every index record checks (CRC-32/MPEG-2), the byte ranges are contiguous and cover
#      each chunk, every range starts with a TS packet and decodes cleanly with ffmpeg, each
#      chunk decodes whole and its ffprobe duration is its index's; what the live playlist had
#      published at the kill but the disk lost is <= fsync_seconds + one segment (the one
#      between its publication and its fsync); every chunk the repair changed is named in
#      its log; no temporaries are left
# Prints `ok|FAIL NAME: figures` lines and `vm-record: N passed, N failed`; exits non-zero on
# any failure. ~25 s wall under TCG (two boots of ~4 s, 7 s of recording, the checks' ffmpeg
# runs in parallel).
#   usage: tests/vm/record_reset.sh      knobs: RECORD_KEEP=1 (keep the work dir),
#          RECORD_SEED (the kill delay's seed, default: random, printed), VMTEST_* (run_in_vm.sh)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
cd "$ROOT"
T0=$(date +%s)
"$HERE/build_image.sh" >&2
cargo build --release --bin hlscam >&2
BIN=$ROOT/target/release/hlscam
[[ -x $BIN ]] || { echo "vm-record: 0 passed, 1 failed (no release binary)"; exit 1; }

X=$(mktemp -d "${TMPDIR:-/var/tmp}/hlscam-record.XXXXXX")
chmod 777 "$X"
IMG=$X/disk.img
VMPID=
cleanup() {
  # the VM runs in its own session (setsid): stop its whole group (run_in_vm.sh, timeout, qemu)
  [[ -n $VMPID ]] && kill -TERM -- "-$VMPID" 2>/dev/null && wait "$VMPID" 2>/dev/null
  [[ ${RECORD_KEEP:-0} == 1 ]] && echo "vm-record: work dir kept: $X" >&2 || rm -rf "$X"
}
trap cleanup EXIT

truncate -s 64M "$IMG"
mkfs.ext4 -q -F -L hlscam-rec "$IMG"
SEED=${RECORD_SEED:-$RANDOM}
RANDOM=$SEED
DELAY_MS=$((RANDOM % 1000))
# seg$KILL_AT is the 5th segment: the chunk then holds several fsynced segments, one in flight
KILL_AT=4
# only what this test uses is loaded (vivid is always: the image's init loads it)
export VMTEST_DISK=$IMG VMTEST_RW=$X VMTEST_V4L2LOOPBACK=0 VMTEST_VICODEC=0 VMTEST_VIM2M=0 \
  VMTEST_ALOOP=0 VMTEST_DUMMY=0

# ---- boot 1: record until the power cut
echo "vm-record: boot 1, recording onto ext4 (kill delay seed $SEED: +${DELAY_MS} ms)" >&2
VMTEST_PIDFILE=$X/qemu.pid VMTEST_TIMEOUT=150 \
  setsid "$HERE/run_in_vm.sh" "$HERE/record_guest.sh" record "$BIN" "$X" >"$X/vm1.out" 2>"$X/vm1.err" &
VMPID=$!
last_live() { sed -n 's/^seg\([0-9]*\)\.ts$/\1/p' "$X/live/live.m3u8" 2>/dev/null | tail -n1; }
published=0
for _ in $(seq 1 2400); do   # <= 120 s: boot (~5 s) + 5 segments
  kill -0 "$VMPID" 2>/dev/null || break
  [[ $(last_live) -ge $KILL_AT ]] && { published=1; break; }
  sleep 0.05
done
if ((published)); then
  sleep "$(printf '0.%03d' "$DELAY_MS")"
  QPID=$(cat "$X/qemu.pid")
  kill -KILL "$QPID"   # the QEMU this script started (pidfile): the power cut
  echo "vm-record: killed QEMU (pid $QPID) at $(date +%T.%N | cut -c1-12)" >&2
fi
cp "$X/live/live.m3u8" "$X/live_at_kill.m3u8" 2>/dev/null || true
wait "$VMPID" 2>/dev/null || true
VMPID=

rc=0
if ((published)); then
  # ---- boot 2: the same disk; hlscam's start-up repair, then a clean unmount
  echo "vm-record: boot 2, hlscam starts on the same disk" >&2
  VMTEST_TIMEOUT=120 "$HERE/run_in_vm.sh" "$HERE/record_guest.sh" repair "$BIN" "$X" \
    >"$X/vm2.out" 2>"$X/vm2.err" || rc=$?
fi
e2fsck -fn "$IMG" >"$X/e2fsck.log" 2>&1 && fsck=0 || fsck=$?
mkdir -p "$X/dump"
debugfs -R "rdump /rec $X/dump" "$IMG" >"$X/debugfs.log" 2>&1 || true

vmrc=0
X=$X KILL_AT=$KILL_AT PUBLISHED=$published BOOT2_RC=$rc FSCK=$fsck FSYNC=1 T0=$T0 python3 - <<'PY' || vmrc=$?
import os, re, subprocess, sys, time
from concurrent.futures import ThreadPoolExecutor

X = os.environ["X"]
passed = failed = 0


def check(name, ok, detail):
    global passed, failed
    print(f"{'ok' if ok else 'FAIL'} {name}: {detail}", flush=True)
    if ok:
        passed += 1
    else:
        failed += 1


def read(name):
    try:
        with open(os.path.join(X, name), errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def crc32_mpeg2(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc


def index(path):
    """The records of an index file (src/record/index.rs layout), or an error string."""
    b = open(path, "rb").read()
    if len(b) % 48:
        return f"{len(b)} bytes: not whole records"
    recs = []
    for i in range(0, len(b), 48):
        r = b[i:i + 48]
        if crc32_mpeg2(r[:44]) != int.from_bytes(r[44:48], "little"):
            return f"record {i // 48}: CRC does not check"
        recs.append({
            "offset": int.from_bytes(r[0:8], "little"),
            "len": int.from_bytes(r[8:12], "little"),
            "duration": int.from_bytes(r[12:16], "little") / 90000,
            "seq": int.from_bytes(r[32:40], "little"),
        })
    return recs


def ffmpeg_errors(args, data=None):
    p = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", *args, "-f", "null", "-"],
                       input=data, capture_output=True)
    return p.returncode, p.stderr.decode(errors="replace").strip()


if os.environ["PUBLISHED"] != "1":
    check("boot1_recording", False, f"seg{os.environ['KILL_AT']} not live before the deadline; "
          + read("record.log")[-2000:] + read("vm1.err")[-2000:])
    print(f"vm-record: {passed} passed, {failed} failed")
    sys.exit(1)
check("boot2", os.environ["BOOT2_RC"] == "0" and read("repair.rc").strip() == "0",
      f"VM rc {os.environ['BOOT2_RC']}, hlscam rc {read('repair.rc').strip() or '?'}"
      + ("" if os.environ["BOOT2_RC"] == "0" else " " + read("vm2.err")[-1500:]))
check("e2fsck", os.environ["FSCK"] == "0",
      f"e2fsck -fn rc {os.environ['FSCK']}" + ("" if os.environ["FSCK"] == "0" else
                                              " " + read("e2fsck.log")[-800:]))

rec = os.path.join(X, "dump", "rec")
names = sorted(os.listdir(rec)) if os.path.isdir(rec) else []
chunks = [n for n in names if n.endswith(".ts")]
# before.txt: `ls -la` of the directory as the power cut left it (boot 2, before hlscam)
before = {}
for line in read("before.txt").splitlines():
    f = line.split()
    if len(f) >= 9 and (f[-1].endswith(".ts") or f[-1].endswith(".idx")):
        before[f[-1]] = int(f[4])
old = [c for c in chunks if c in before]
check("chunks", len(old) >= 1 and len(chunks) > len(old),
      f"{len(old)} chunk(s) from before the reset, {len(chunks) - len(old)} after: {chunks}")

newest = -1
problems = []
ranges = 0
# the ffmpeg/ffprobe runs (one per indexed range, two per chunk) go to a pool: a problem
# is a future whose result is an error string or None
pool = ThreadPoolExecutor(max_workers=os.cpu_count() or 2)


def decodes(what, args, data=None):
    code, err = ffmpeg_errors(args, data)
    return f"{what}: ffmpeg: {err[:200]}" if code or err else None


def probes(c, path, total):
    probed = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration",
                             "-of", "csv=p=0", path], capture_output=True, text=True).stdout
    try:
        if abs(float(probed) - total) > 1 / 15 + 1e-3:
            return f"{c}: ffprobe {probed.strip()} s vs index {total:.3f} s"
    except ValueError:
        return f"{c}: ffprobe gave {probed!r}"
    return None


pending = []
for c in chunks:
    path = os.path.join(rec, c)
    recs = index(path + ".idx") if os.path.exists(path + ".idx") else "no index"
    if isinstance(recs, str) or not recs:
        problems.append(f"{c}: {recs or 'empty index'}")
        continue
    data = open(path, "rb").read()
    pos = 0
    for r in recs:
        if r["offset"] != pos:
            problems.append(f"{c} seg{r['seq']}: offset {r['offset']}, expected {pos}")
            break
        seg = data[r["offset"]:r["offset"] + r["len"]]
        pos += r["len"]
        ranges += 1
        if len(seg) != r["len"] or seg[:1] != b"\x47":
            problems.append(f"{c} seg{r['seq']}: range not in the file or no sync byte")
            continue
        pending.append(pool.submit(decodes, f"{c} seg{r['seq']}",
                                   ["-f", "mpegts", "-i", "pipe:0"], seg))
    if pos != len(data):
        problems.append(f"{c}: index covers {pos} of {len(data)} bytes")
    pending.append(pool.submit(decodes, c, ["-i", path]))
    pending.append(pool.submit(probes, c, path, sum(r["duration"] for r in recs)))
    if c in old:
        newest = max(newest, max(r["seq"] for r in recs))
problems += [p for p in (f.result() for f in pending) if p]
pool.shutdown()
check("playable", not problems and ranges > 0,
      f"{len(chunks)} chunks, {ranges} indexed byte ranges decoded" if not problems
      else "; ".join(problems[:6]))

# what was live at the kill but is not on the disk
pl = read("live_at_kill.m3u8")
live = []
dur = None
for line in pl.splitlines():
    if line.startswith("#EXTINF:"):
        dur = float(line[8:].split(",")[0])
    m = re.match(r"seg(\d+)\.ts$", line)
    if m:
        live.append((int(m.group(1)), dur))
last_live = max((s for s, _ in live), default=-1)
lost = sum(d for s, d in live if s > newest)
fsync = float(os.environ["FSYNC"])
seg = max((d for _, d in live), default=1.0)
check("loss", newest >= 0 and last_live >= 0 and lost <= fsync + seg + 1e-6,
      f"live had seg{last_live} at the kill, the disk has up to seg{newest}: "
      f"{lost:.2f} s lost (bound: fsync {fsync:g} s + one {seg:g} s segment)")

# every chunk the repair changed is named in its log
log = read("repair.log")
repairs = [l.split("record: ", 1)[1] for l in log.splitlines() if "record: repair" in l]
unlogged = [c for c in old if os.path.getsize(os.path.join(rec, c)) != before[c]
            and not any(c in l for l in repairs)]
check("repair_logged", not unlogged,
      f"{len(repairs)} repair line(s): {repairs[:4]}" if not unlogged
      else f"changed but not logged: {unlogged}")

extra = [n for n in names if not (n.endswith(".ts") or n.endswith(".ts.idx")
                                  or n == ".hlscam-rec")]
check("no_temporaries", not extra and ".hlscam-rec" in names,
      f"{len(names)} files: chunks, indexes and the marker only" if not extra
      else f"left: {extra}")
print(f"vm-record: {passed} passed, {failed} failed ({int(time.time()) - int(os.environ['T0'])} s)")
sys.exit(1 if failed else 0)
PY
exit $vmrc
