#!/bin/bash
# record_guest.sh — runs inside the vmtest VM for record_reset.sh: the real `hlscam` binary
# recording onto the ext4 virtio disk (/dev/vda, VMTEST_DISK) from its test pattern + tone.
#   usage (in the guest): record_guest.sh record|repair HLSCAM_BINARY SHARED_DIR
#   record   mounts the disk, records continuously (fsync_seconds = 1, 1 s segments) with the
#            live HLS in SHARED_DIR/live (a VMTEST_RW dir: the host sees what was published)
#            until the host kills the VM (hlscam's log: SHARED_DIR/record.log)
#   repair   mounts the disk again (ext4 replays its journal), lists the recording directory as
#            the power cut left it (SHARED_DIR/before.txt), runs hlscam for 2 s (its start-up
#            repair logs what it repaired: SHARED_DIR/repair.log, exit code in repair.rc) and
#            unmounts the disk cleanly for the host to read it
set -u
PHASE=$1; BIN=$2; X=$3
MNT=/mnt/hlscam-rec
REC=$MNT/rec

log() { echo "guest[$(cut -d' ' -f1 /proc/uptime)]: $*" | tee -a "$X/guest.log" >&2; }

modprobe -a virtio_blk ext4 || { log "modprobe virtio_blk ext4 failed"; exit 1; }
for _ in $(seq 1 50); do [[ -b /dev/vda ]] && break; sleep 0.1; done
mkdir -p "$MNT"
mount -t ext4 /dev/vda "$MNT" || { log "cannot mount /dev/vda"; exit 1; }
mkdir -p "$REC"
cat >"$X/hlscam.toml" <<EOF
[video]
source = "testsrc"
width = 320
height = 240
fps = 15
bitrate_kbps = 300
[audio]
source = "tone"
[hls]
dir = "$X/live"
segment_seconds = 1
[record]
mode = "continuous"
dir = "$REC"
chunk_minutes = 1
fsync_seconds = 1
EOF

case $PHASE in
  record)
    log "recording to $REC"
    exec "$BIN" --config "$X/hlscam.toml" --listen 127.0.0.1:8080 >"$X/record.log" 2>&1
    ;;
  repair)
    ls -la "$REC" >"$X/before.txt"
    log "starting hlscam after the reset"
    "$BIN" --config "$X/hlscam.toml" --listen 127.0.0.1:8080 --duration 2 >"$X/repair.log" 2>&1
    echo $? >"$X/repair.rc"
    umount "$MNT" || { log "cannot unmount the disk"; exit 1; }
    log "disk unmounted"
    ;;
  *) log "unknown phase $PHASE"; exit 2 ;;
esac
