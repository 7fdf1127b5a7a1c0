#!/bin/bash
# stream_guest.sh — runs inside the vmtest VM for stream_e2e.sh: drives the real `hlscam`
# binary through its scenarios while the host fetches the stream through a forwarded port.
#   usage (in the guest): stream_guest.sh HLSCAM_BINARY SHARED_DIR [SCENARIO...]
# SHARED_DIR is a VMTEST_RW directory: the handshake with the host and the results go there.
#   guest writes  ready.<step>   hlscam is serving (>= 2 segments) — the host may fetch
#                 fail.<step>    the step could not start (reason inside)
#                 <sc>.log       hlscam's log      <sc>.rc  its exit code after SIGTERM
#                 <sc>.status.<n>.json  /api/status at the named moments (faults)
#                 guest.log      this script's own log
#   host writes   ack.<step>     the host has fetched what it needed: go on
# Scenarios (all by default): yuyv nv12 mjpeg h264 disc faults. Audio: a 440 Hz sine played into
# hw:Loopback,0,0 by ffmpeg, captured by hlscam from plughw:Loopback,1,0 (48 kHz mono).
# Only processes started here are stopped, by PID.
set -u
BIN=$1; X=$2; shift 2
SCENARIOS=("$@"); ((${#SCENARIOS[@]})) || SCENARIOS=(yuyv nv12 mjpeg h264 disc faults)
# the same options as guest_init.sh / run_in_vm.sh (VMTEST_VIVID default)
VIVID_OPTS=(n_devs=1 node_types=0x1 num_inputs=1 input_types=0x0)
PORT=8080
ACK_TIMEOUT=${STREAM_ACK_TIMEOUT:-240}

log() { echo "guest[$(cut -d' ' -f1 /proc/uptime)]: $*" | tee -a "$X/guest.log" >&2; }

FEEDERS=()
HPID=
cleanup() {
  [[ -n $HPID ]] && kill "$HPID" 2>/dev/null
  for p in "${FEEDERS[@]}"; do kill "$p" 2>/dev/null; done
  wait 2>/dev/null
}
trap cleanup EXIT

# 440 Hz tone into the loopback (48 kHz mono S16, what hlscam captures on the other side)
ffmpeg -nostdin -loglevel warning -f lavfi -i "sine=frequency=440:sample_rate=48000" \
  -ac 1 -c:a pcm_s16le -f alsa hw:Loopback,0,0 >"$X/tone.log" 2>&1 &
FEEDERS+=($!)
# before any capture opens: the playback side fixes the loopback's format (bounded wait)
for _ in $(seq 1 120); do
  grep -q RUNNING /proc/asound/Loopback/pcm0p/sub0/status 2>/dev/null && break
  sleep 0.25
done
log "tone: $(grep -m1 state /proc/asound/Loopback/pcm0p/sub0/status 2>/dev/null || echo 'no status')"

config() { # NAME DEVICE WIDTH HEIGHT [ENCODER (openh264)]
  cat >"$X/$1.toml" <<EOF
[video]
source = "v4l2"
device = "$2"
width = $3
height = $4
fps = 30
encoder = "${5:-openh264}"
bitrate_kbps = 400
[audio]
source = "alsa"
device = "plughw:Loopback,1,0"
sample_rate = 48000
channels = 1
bitrate_kbps = 64
[hls]
dir = "/tmp/hls-$1"
segment_seconds = 1
window = 6
container = "ts"
[http]
listen = "0.0.0.0:$PORT"
[log]
level = "info"
EOF
}

segments() { curl -s -m 2 "http://127.0.0.1:$PORT/live.m3u8" 2>/dev/null | grep -c '^seg'; }

start() { # NAME [ENV=VALUE...]: starts hlscam, waits for >= 2 segments (bounded)
  local name=$1; shift
  log "$name: starting hlscam $*"
  env "$@" "$BIN" --config "$X/$name.toml" >"$X/$name.log" 2>&1 &
  HPID=$!
  for _ in $(seq 1 240); do
    kill -0 "$HPID" 2>/dev/null || { log "$name: hlscam exited early"; HPID=; return 1; }
    (($(segments) >= 2)) && { log "$name: serving"; return 0; }
    sleep 0.5
  done
  log "$name: no segments after 120 s"
  return 1
}

stop() { # NAME: SIGTERM, exit code into NAME.rc
  local name=$1 rc=0
  [[ -n $HPID ]] || return 0
  kill -TERM "$HPID" 2>/dev/null
  for _ in $(seq 1 100); do kill -0 "$HPID" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$HPID" 2>/dev/null && { log "$name: hlscam ignores SIGTERM, killing"; kill -KILL "$HPID"; }
  wait "$HPID" || rc=$?
  echo "$rc" >"$X/$name.rc"
  log "$name: hlscam stopped, exit $rc"
  HPID=
}

# /api/status at a named moment, and the moment (UTC epoch, the clock of hlscam's log lines)
status() {
  curl -s -m 3 "http://127.0.0.1:$PORT/api/status" >"$X/$1.status.$2.json"
  echo "$2 $(date +%s.%N)" >>"$X/$1.marks"
}

handshake() { # STEP: tell the host, wait for its ack (bounded)
  echo ok >"$X/ready.$1"
  for _ in $(seq 1 $((ACK_TIMEOUT * 5))); do [[ -e $X/ack.$1 ]] && return 0; sleep 0.2; done
  log "$1: no ack from the host after $ACK_TIMEOUT s"
  return 1
}

fail() { echo "$2" >"$X/fail.$1"; log "$1: FAILED: $2"; }

vivid_reload() { # disconnect, then rmmod (retried: hlscam may still hold the node), modprobe
  local ok=0
  for _ in $(seq 1 20); do
    v4l2-ctl -d /dev/video0 -c disconnect=1 2>/dev/null
    for _ in $(seq 1 10); do
      rmmod vivid 2>/dev/null && { ok=1; break 2; }
      sleep 0.05
    done
  done
  ((ok)) || { log "rmmod vivid kept failing"; return 1; }
  log "vivid removed"
  echo ok >"$X/removed.disc"
  sleep "${STREAM_GONE_SECONDS:-6}"
  modprobe vivid "${VIVID_OPTS[@]}" || { log "modprobe vivid failed"; return 1; }
  log "vivid loaded again"
  echo ok >"$X/back.disc"
}

scenario() {
  local sc=$1
  case $sc in
    yuyv | nv12)
      local fourcc=${sc^^}
      config "$sc" /dev/video0 640 360
      if start "$sc" HLSCAM_V4L2_FORMATS="$fourcc"; then status "$sc" end; handshake "$sc"
      else fail "$sc" "hlscam did not serve"; fi
      stop "$sc" ;;
    mjpeg)
      local fpid
      ffmpeg -nostdin -loglevel error -re -f lavfi -i testsrc=size=640x480:rate=30 \
        -c:v mjpeg -q:v 5 -f v4l2 /dev/video10 >"$X/mjpeg-feeder.log" 2>&1 &
      fpid=$!; FEEDERS+=("$fpid")
      for _ in $(seq 1 120); do
        v4l2-ctl -d /dev/video10 --get-fmt-video 2>/dev/null | grep -q "MJPG" && break
        sleep 0.5
      done
      config mjpeg /dev/video10 640 480
      if start mjpeg; then status mjpeg end; handshake mjpeg
      else fail mjpeg "hlscam did not serve"; fi
      stop mjpeg
      kill "$fpid" 2>/dev/null ;;
    h264)
      # the camera's own H.264 (encoder = "camera"): libx264 into v4l2loopback /dev/video11
      # (stream_e2e.sh loads it with two nodes, like run.sh), GOP 30 = one IDR per 1-s segment
      local hpid
      ffmpeg -nostdin -loglevel error -re -f lavfi -i testsrc=size=640x360:rate=30 \
        -c:v libx264 -preset ultrafast -tune zerolatency -g 30 -bf 0 -pix_fmt yuv420p \
        -f v4l2 /dev/video11 >"$X/h264-feeder.log" 2>&1 &
      hpid=$!; FEEDERS+=("$hpid")
      for _ in $(seq 1 120); do
        v4l2-ctl -d /dev/video11 --list-formats 2>/dev/null | grep -q "H264" && break
        sleep 0.5
      done
      config h264 /dev/video11 640 360 camera
      if start h264; then status h264 end; handshake h264
      else fail h264 "hlscam did not serve"; fi
      stop h264
      kill "$hpid" 2>/dev/null ;;
    disc)
      config disc /dev/video0 640 360
      if start disc; then
        if handshake disc; then
          vivid_reload || fail disc.back "vivid reload failed"
          handshake disc.back
        fi
        status disc end
      else fail disc "hlscam did not serve"; fi
      stop disc ;;
    faults)
      config faults /dev/video0 640 360
      # latched until the next STREAMON: hlscam's first open fails with it
      v4l2-ctl -d /dev/video0 -c inject_vidioc_streamon_error=1 || log "cannot set inject_vidioc_streamon_error"
      if start faults HLSCAM_V4L2_FORMATS=YUYV; then
        sleep 4; status faults base0; sleep 5; status faults base1
        v4l2-ctl -d /dev/video0 -c percentage_of_dropped_buffers=30
        sleep 5; status faults drop1
        v4l2-ctl -d /dev/video0 -c percentage_of_dropped_buffers=0
        v4l2-ctl -d /dev/video0 -c inject_fatal_streaming_error=1
        sleep 6; status faults fatal1
        handshake faults
      else fail faults "hlscam did not serve"; fi
      stop faults ;;
    *) fail "$sc" "unknown scenario" ;;
  esac
}

log "scenarios: ${SCENARIOS[*]}"
for sc in "${SCENARIOS[@]}"; do scenario "$sc"; done
echo ok >"$X/done"
log "all scenarios done"
