#!/usr/bin/env bash
# stream_e2e.sh — the real `hlscam` binary, streaming from the kernel's virtual devices in the
# vmtest VM, watched from the host (see README.md beside this file):
#   1. builds the release binary and the VM image (build_image.sh, cache in $VMTEST_CACHE)
#   2. boots the VM once with a forwarded port (VMTEST_HOSTFWD, guest :8080) and a shared
#      directory (VMTEST_RW); stream_guest.sh runs the scenarios one after the other:
#        yuyv, nv12  vivid /dev/video0 forced to that format (HLSCAM_V4L2_FORMATS), 640x360@30
#        mjpeg       v4l2loopback /dev/video10 fed MJPEG 640x480@30 by ffmpeg in the guest
#        h264        v4l2loopback /dev/video11 fed H.264 640x360@30 (libx264, GOP 30) by ffmpeg
#                    in the guest, hlscam with encoder = "camera" (muxed without re-encoding)
#        disc        vivid disconnected, removed (rmmod), reloaded (modprobe) mid-stream
#        faults      vivid's inject_vidioc_streamon_error, percentage_of_dropped_buffers=30,
#                    inject_fatal_streaming_error
#      with audio from snd-aloop (a 440 Hz sine into hw:Loopback,0,0, hlscam captures
#      plughw:Loopback,1,0)
#   3. for each scenario, fetches the playlist, segments and /api/status over HTTP from the
#      host, decodes the segments with ffmpeg, probes them with ffprobe and checks the tone
# Prints one line per check (`ok NAME: ...` / `FAIL NAME: ...`) and `vm-stream: N passed,
# N failed`; exits non-zero on any failure.
#   usage: tests/vm/stream_e2e.sh [SCENARIO...]      (default: yuyv nv12 mjpeg h264 disc faults)
#   knobs: STREAM_PORT (host port, default: a free one), STREAM_KEEP=1 (keep the work dir),
#          STREAM_AV_MS (A/V start offset limit per segment, 100), VMTEST_* (run_in_vm.sh)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
cd "$ROOT"
T0=$(date +%s)
"$HERE/build_image.sh" >&2
cargo build --release --bin hlscam >&2
BIN=$ROOT/target/release/hlscam
[[ -x $BIN ]] || { echo "vm-stream: 0 passed, 1 failed (no release binary)"; exit 1; }

X=$(mktemp -d "${TMPDIR:-/var/tmp}/hlscam-stream.XXXXXX")
chmod 777 "$X"
PORT=${STREAM_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}
VMPID=
cleanup() {
  # the VM runs in its own session (setsid): stop its whole group (run_in_vm.sh, timeout, qemu)
  [[ -n $VMPID ]] && kill -TERM -- "-$VMPID" 2>/dev/null && wait "$VMPID" 2>/dev/null
  [[ ${STREAM_KEEP:-0} == 1 ]] && echo "vm-stream: work dir kept: $X" >&2 || rm -rf "$X"
}
trap cleanup EXIT

# two loopback nodes, as run.sh: /dev/video10 (MJPEG) and /dev/video11 (H.264); a node keeps
# the format of its first producer for the rest of the boot
export VMTEST_V4L2LOOPBACK_OPTS=${VMTEST_V4L2LOOPBACK_OPTS:-devices=2 video_nr=10,11 card_label=vmtest-loopback,vmtest-loopback-h264 exclusive_caps=1,1}
echo "vm-stream: booting the VM (host port $PORT -> guest 8080, shared dir $X)" >&2
VMTEST_HOSTFWD="tcp:127.0.0.1:$PORT-:8080" VMTEST_RW="$X" VMTEST_TIMEOUT=${VMTEST_TIMEOUT:-600} \
  setsid "$HERE/run_in_vm.sh" "$HERE/stream_guest.sh" "$BIN" "$X" "$@" >"$X/vm.out" 2>"$X/vm.err" &
VMPID=$!

rc=0
X=$X PORT=$PORT VMPID=$VMPID AV_MS=${STREAM_AV_MS:-100} python3 - "$@" <<'PY' || rc=$?
import calendar, json, math, os, re, subprocess, sys, time, urllib.request

X, PORT, VMPID = os.environ["X"], int(os.environ["PORT"]), int(os.environ["VMPID"])
AV_MS = float(os.environ["AV_MS"])
BASE = f"http://127.0.0.1:{PORT}"
SCENARIOS = sys.argv[1:] or ["yuyv", "nv12", "mjpeg", "h264", "disc", "faults"]
passed = failed = 0


def check(name, ok, detail):
    global passed, failed
    print(f"{'ok' if ok else 'FAIL'} {name}: {detail}", flush=True)
    if ok:
        passed += 1
    else:
        failed += 1


def vm_alive():
    return os.path.exists(f"/proc/{VMPID}") and "zombie" not in open(f"/proc/{VMPID}/status").read()


def wait_step(step, timeout):
    """Waits for ready.<step> (True) or fail.<step>/the VM's end/timeout (False, why)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if os.path.exists(f"{X}/ready.{step}"):
            return True, ""
        if os.path.exists(f"{X}/fail.{step}"):
            return False, open(f"{X}/fail.{step}").read().strip()
        if not vm_alive():
            return False, "the VM ended"
        time.sleep(0.2)
    return False, f"no sign from the guest within {timeout} s"


def ack(step):
    open(f"{X}/ack.{step}", "w").write("ok\n")


def get(path, timeout=5):
    with urllib.request.urlopen(BASE + path, timeout=timeout) as r:
        return r.read()


def status():
    return json.loads(get("/api/status"))


def playlist():
    """(media sequence, [(seq, uri, extinf, discontinuity_before)]) of live.m3u8."""
    text = get("/live.m3u8").decode()
    m = re.search(r"#EXT-X-MEDIA-SEQUENCE:(\d+)", text)
    seq = int(m.group(1)) if m else 0
    segs, disc, dur = [], False, 0.0
    for line in text.splitlines():
        if line.startswith("#EXT-X-DISCONTINUITY") and not line.startswith("#EXT-X-DISCONTINUITY-SEQ"):
            disc = True
        elif line.startswith("#EXTINF:"):
            dur = float(line[8:].split(",")[0])
        elif line and not line.startswith("#"):
            segs.append((seq, line, dur, disc))
            seq, disc = seq + 1, False
    return int(m.group(1)) if m else 0, segs


def fetch(sc, uri):
    path = f"{X}/host-{sc}-{uri}"
    if not os.path.exists(path):
        open(path, "wb").write(get("/" + uri, timeout=10))
    return path


def decode_errors(path):
    # -enc_time_base -1: the null muxer keeps the 90 kHz input time base; with its default
    # (1/frame rate) capture-timed frames 28-33 ms apart collide ("non monotonically
    # increasing dts to muxer"), which says nothing about the stream
    p = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", path, "-enc_time_base", "-1",
                        "-f", "null", "-"],
                       capture_output=True, text=True)
    return "" if p.returncode == 0 and not p.stderr.strip() else (p.stderr.strip() or f"rc {p.returncode}")[:200]


def probe(path):
    p = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-show_entries",
                        "stream=codec_type,codec_name,width,height,start_time,nb_read_frames,sample_rate",
                        "-of", "json", path], capture_output=True, text=True)
    streams = json.loads(p.stdout or "{}").get("streams", [])
    return {s["codec_type"]: s for s in streams}


def first_video_frame(path):
    """(key_frame, pict_type) of the segment's first video frame, by ffprobe."""
    p = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-read_intervals", "%+#1",
                        "-show_entries", "frame=key_frame,pict_type", "-of", "json", path],
                       capture_output=True, text=True)
    frames = json.loads(p.stdout or "{}").get("frames", [])
    return (frames[0].get("key_frame"), frames[0].get("pict_type")) if frames else (None, None)


def tone(paths):
    """Over the segments' audio at 8 kHz, in 100-ms blocks: (share of the audible blocks'
    energy at 440 Hz, strongest frequency of the loudest block, rms of the audible blocks,
    share of blocks that are audible (rms > 100))."""
    pcm = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", "concat:" + "|".join(paths),
                          "-vn", "-ac", "1", "-ar", "8000", "-f", "s16le", "-"],
                         capture_output=True).stdout
    x = [int.from_bytes(pcm[i:i + 2], "little", signed=True) for i in range(0, len(pcm) - 1, 2)]
    blocks = [x[i:i + 800] for i in range(0, len(x) - 799, 800)]
    loud = [bl for bl in blocks if math.sqrt(sum(v * v for v in bl) / 800) > 100]
    if not loud:
        return 0.0, 0, 0.0, 0.0

    def power(bl, f):  # Goertzel; 440 Hz is bin-exact for 800 samples at 8 kHz
        w = 2 * math.cos(2 * math.pi * f / 8000)
        s1 = s2 = 0.0
        for v in bl:
            s1, s2 = v + w * s1 - s2, s1
        return s1 * s1 + s2 * s2 - w * s1 * s2

    energy = sum(sum(v * v for v in bl) for bl in loud)
    frac = sum(2 * power(bl, 440) / 800 for bl in loud) / energy
    top = max(loud, key=lambda bl: sum(v * v for v in bl))
    peak = max(range(100, 3901, 20), key=lambda f: power(top, f))
    return frac, peak, math.sqrt(energy / (800 * len(loud))), len(loud) / len(blocks)


def seg_checks(sc, segs, want_w, want_h):
    """Decode, probe, A/V offset and tone checks for fetched segments [(seq, path, extinf)]."""
    errs, avs, frames, secs, bad = [], [], 0, 0.0, []
    for seq, path, extinf in segs:
        e = decode_errors(path)
        if e:
            errs.append(f"seg{seq}: {e}")
        s = probe(path)
        v, a = s.get("video"), s.get("audio")
        if not v or v.get("codec_name") != "h264" or (v.get("width"), v.get("height")) != (want_w, want_h):
            bad.append(f"seg{seq} video {v and (v.get('codec_name'), v.get('width'), v.get('height'))}")
        if not a or a.get("codec_name") != "aac":
            bad.append(f"seg{seq} audio {a and a.get('codec_name')}")
        if v and a and v.get("start_time") and a.get("start_time"):
            avs.append((float(a["start_time"]) - float(v["start_time"])) * 1000)
        if v:
            frames += int(v.get("nb_read_frames") or 0)
            secs += extinf
    check(f"{sc}: segments decode", not errs and not bad and len(segs) >= 3,
          f"{len(segs)} segments fetched from the host ({', '.join(f'seg{s[0]}' for s in segs)}), "
          f"h264 {want_w}x{want_h} + aac, ffmpeg errors: {'; '.join(errs + bad) or 'none'}")
    worst = max((abs(d) for d in avs), default=float("inf"))
    check(f"{sc}: A/V offset", len(avs) == len(segs) and worst <= AV_MS,
          f"audio start - video start per segment (ffprobe start_time): "
          f"{', '.join(f'{d:+.1f}' for d in avs)} ms (limit {AV_MS:.0f})")
    frac, peak, rms, audible = tone([p for _, p, _ in segs])
    check(f"{sc}: 440 Hz tone", frac > 0.5 and peak in (420, 440, 460) and rms > 100,
          f"{frac * 100:.0f}% of the audible blocks' energy at 440 Hz, strongest bin of the "
          f"loudest block {peak} Hz, rms {rms:.0f}")
    # the tone plays without a break: silent blocks are captured audio hlscam lost (ALSA
    # overruns, replaced by silence)
    check(f"{sc}: audio continuity", audible >= 0.8,
          f"tone audible in {audible * 100:.0f}% of the 100-ms blocks (at least 80%)")
    return frames / secs if secs else 0.0


def stream_scenario(sc, w, h):
    ok, why = wait_step(sc, 300)
    if not ok:
        check(f"{sc}: serving", False, why)
        return None
    # wait (bounded) until the window holds 4 segments, then take the newest 3
    for _ in range(120):
        _, segs = playlist()
        if len(segs) >= 4:
            break
        time.sleep(0.5)
    segs = segs[-3:]
    got = [(seq, fetch(sc, uri), dur) for seq, uri, dur, _ in segs]
    st = status()
    ack(sc)
    fps = seg_checks(sc, got, w, h)
    if sc == "h264":
        firsts = [(seq, first_video_frame(path)) for seq, path, _ in got]
        check(f"{sc}: segments start with a key frame", len(firsts) >= 3 and all(k == 1 for _, (k, _) in firsts),
              "first video frame per segment (ffprobe key_frame/pict_type): "
              + ", ".join(f"seg{seq} {k}/{t}" for seq, (k, t) in firsts))
        check(f"{sc}: encoder camera", st.get("encoder") == "camera",
              f"/api/status encoder {st.get('encoder')!r} (want 'camera')")
    check(f"{sc}: status", st["segments"] >= 3 and st["source"].startswith("v4l2:"),
          f"source {st['source']}, audio {st['audio_source']}, segments {st['segments']}, "
          f"fps (average) {st['fps']}, in segments {fps:.1f}, drops {st['drops']}, restarts {st['restarts']}, "
          f"encode {st['encode_ms_per_frame']} ms/frame")
    return st


def disc_scenario():
    sc = "disc"
    ok, why = wait_step(sc, 300)
    if not ok:
        check(f"{sc}: serving", False, why)
        return
    seen, order = {}, []
    sources = []

    def poll(phase):
        try:
            st = status()
            _, segs = playlist()
        except Exception as e:  # the server must keep answering: note it, keep polling
            sources.append((phase, f"error {e}"))
            return
        sources.append((phase, st["source"]))
        for seq, uri, dur, disc in segs:
            if seq not in seen:
                seen[seq] = dict(uri=uri, dur=dur, disc=disc, phase=phase, source=st["source"],
                                 path=fetch(sc, uri))
                order.append(seq)

    poll("before")
    ack(sc)
    end = time.monotonic() + 150
    back_at = None  # newest segment seen before vivid was loaded again
    while time.monotonic() < end:
        phase = ("back" if os.path.exists(f"{X}/back.disc") else
                 "removed" if os.path.exists(f"{X}/removed.disc") else "disconnecting")
        if phase == "back" and back_at is None:
            back_at = max(order)
            end = min(end, time.monotonic() + 45)  # backoff is at most 8 s: 45 s is plenty
        poll(phase)
        if os.path.exists(f"{X}/fail.disc.back") or not vm_alive():
            break
        if phase == "back":
            after = [s for s in order if s > back_at and seen[s]["source"].startswith("v4l2:")]
            lastdisc = max((s for s in order if seen[s]["disc"]), default=None)
            if lastdisc is not None and lastdisc > back_at and len([s for s in after if s >= lastdisc]) >= 3:
                break
        time.sleep(0.4)
    ack("disc.back")
    if os.path.exists(f"{X}/fail.disc.back"):
        check(f"{sc}: vivid reload", False, open(f"{X}/fail.disc.back").read().strip())
    contiguous = order == list(range(order[0], order[0] + len(order))) if order else False
    gone = [s for s in order if seen[s]["phase"] == "removed"]
    slate_seen = any(src.startswith("slate:") for _, src in sources)
    check(f"{sc}: playlist advances while the camera is away",
          contiguous and slate_seen and len(gone) >= 2,
          f"media sequence {order[0] if order else '?'}..{order[-1] if order else '?'} without gaps: {contiguous}; "
          f"{len(gone)} segments published while vivid was removed; /api/status source "
          f"{'showed' if slate_seen else 'never showed'} slate:/dev/video0")
    discs = [s for s in order if seen[s]["disc"]]
    # the camera's return after the reload starts a segment published after vivid came back
    returned = [s for s in discs if back_at is not None and s > back_at]
    check(f"{sc}: EXT-X-DISCONTINUITY", len(discs) >= 2 and bool(returned),
          f"before seg{', seg'.join(map(str, discs))}; newest segment when vivid was loaded again: "
          f"seg{back_at}; marked return after the reload: {'seg' + str(returned[0]) if returned else 'none'}")
    lastdisc = returned[-1] if returned else None
    backsegs = [s for s in order if lastdisc is not None and s >= lastdisc]
    errs = [f"seg{s}: {e}" for s in order for e in [decode_errors(seen[s]["path"])] if e]
    check(f"{sc}: all segments decode", not errs and len(order) >= 6,
          f"{len(order)} segments (camera, slate, camera) decoded by ffmpeg, errors: {'; '.join(errs) or 'none'}")
    if len(backsegs) >= 3:
        seg_checks(f"{sc}: returned camera", [(s, seen[s]["path"], seen[s]["dur"]) for s in backsegs[:3]], 640, 360)
    else:
        check(f"{sc}: returned camera", False, f"only {len(backsegs)} camera segments after the return")
    srcs = []
    for _, s in sources:
        if not srcs or srcs[-1] != s:
            srcs.append(s)
    print(f"   {sc}: /api/status source sequence: {' -> '.join(srcs)}", flush=True)


def faults_scenario():
    sc = "faults"
    ok, why = wait_step(sc, 300)
    if not ok:
        check(f"{sc}: serving", False, why)
        return
    _, segs = playlist()
    got = [(seq, fetch(sc, uri), dur) for seq, uri, dur, _ in segs[-3:]]
    st = status()
    ack(sc)
    errs = [f"seg{s}: {e}" for s, p, _ in got for e in [decode_errors(p)] if e]
    check(f"{sc}: still streaming", len(got) >= 3 and not errs and st["source"].startswith("v4l2:"),
          f"after the faults: {len(got)} newest segments decode ({'; '.join(errs) or 'no errors'}), "
          f"source {st['source']}, segments {st['segments']}, drops {st['drops']}, restarts {st['restarts']}")


for sc in SCENARIOS:
    try:
        if sc in ("yuyv", "nv12"):
            stream_scenario(sc, 640, 360)
        elif sc == "mjpeg":
            stream_scenario(sc, 640, 480)
        elif sc == "h264":
            stream_scenario(sc, 640, 360)
        elif sc == "disc":
            disc_scenario()
        elif sc == "faults":
            faults_scenario()
        else:
            check(sc, False, "unknown scenario")
    except Exception as e:  # HTTP refused/timed out, bad JSON...: a failed scenario, go on
        check(f"{sc}: host side", False, f"{type(e).__name__}: {e}")
        ack(sc)
        ack(sc + ".back")

# what the guest left behind, once it is done
end = time.monotonic() + 120
while vm_alive() and time.monotonic() < end:
    time.sleep(0.5)


def log_of(sc):
    try:
        return open(f"{X}/{sc}.log", errors="replace").read()
    except OSError:
        return ""


def rc_of(sc):
    try:
        return open(f"{X}/{sc}.rc").read().strip()
    except OSError:
        return "?"


for sc in SCENARIOS:
    log = log_of(sc)
    panics = "panicked" in log
    check(f"{sc}: clean exit", rc_of(sc) == "0" and not panics,
          f"hlscam exit code after SIGTERM {rc_of(sc)}, panic in log: {panics}")
    if sc in ("yuyv", "nv12", "mjpeg", "h264"):
        want = {"yuyv": "YUYV 640x360", "nv12": "NV12 640x360", "mjpeg": "MJPG 640x480",
                "h264": "H264 640x360"}[sc]
        m = re.search(r"capturing (\S+ \d+x\d+) stride \d+ at (\d+) fps", log)
        check(f"{sc}: capture format", bool(m) and m.group(1) == want,
              f"log: capturing {m.group(1) + ' at ' + m.group(2) + ' fps' if m else '(no capture line)'}, want {want}")
    if sc == "h264":
        own = [l for l in log.splitlines() if "the camera's own H.264" in l]
        check(f"{sc}: log says the camera's own H.264", bool(own),
              f"log: {own[0].strip()[:200] if own else '(no line with the camera' + chr(39) + 's own H.264)'}")
    if sc == "disc":
        opened = len(re.findall(r"video: v4l2:\S+ opened", log))
        slate = len(re.findall(r"showing the slate", log))
        check(f"{sc}: log", opened >= 2 and slate >= 1,
              f"{opened} 'opened' lines, {slate} 'showing the slate' lines")
    if sc == "faults":
        def js(n):
            try:
                return json.load(open(f"{X}/faults.status.{n}.json"))
            except (OSError, ValueError):
                return None
        b0, b1, d1, f1 = js("base0"), js("base1"), js("drop1"), js("fatal1")
        streamon = [l for l in log.splitlines() if "STREAMON" in l]
        check(f"{sc}: STREAMON error", bool(streamon),
              f"log: {streamon[0].strip()[:220] if streamon else '(no STREAMON line)'}")
        gaps = [l for l in log.splitlines() if "sequence gap" in l]
        # the V4L2 source's own drop counter ("... dropped so far", camera sequence gaps only,
        # not the encoder-behind drops /api/status adds) at the guest's marks
        marks = {}
        try:
            for line in open(f"{X}/faults.marks"):
                k, t = line.split()
                marks[k] = float(t)
        except (OSError, ValueError):
            pass
        counter = []  # (epoch, so far)
        for l in gaps:
            m = re.match(r"(\S+?)(?:\.(\d+))?Z .*; (\d+) dropped so far", l)
            if m:
                t = calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S"))
                counter.append((t + float("0." + (m.group(2) or "0")), int(m.group(3))))

        def so_far(t):
            return max((n for ts, n in counter if ts <= t), default=0)

        if b0 and b1 and d1 and {"base0", "base1", "drop1"} <= marks.keys():
            base, fault = b1["drops"] - b0["drops"], d1["drops"] - b1["drops"]
            cbase = so_far(marks["base1"]) - so_far(marks["base0"])
            cfault = so_far(marks["drop1"]) - so_far(marks["base1"])
            # The snapshots and the marks are taken a moment apart: a gap logged between them
            # falls in one window and not the other, so allow one log line's worth of frames.
            slack = max((b[1] - a[1] for a, b in zip(counter, counter[1:])), default=1)
            check(f"{sc}: dropped buffers counted",
                  cfault > 0 and fault + slack >= cfault and cfault > cbase,
                  f"camera sequence gaps (log counter) +{cbase} in the 5 s before, +{cfault} in 5 s with "
                  f"percentage_of_dropped_buffers=30; /api/status drops (gaps + encoder behind) +{base} "
                  f"and +{fault} (edge slack {slack}); {len(gaps)} 'sequence gap' log lines, e.g. "
                  f"{gaps[0].strip()[:150] if gaps else '-'}")
        else:
            check(f"{sc}: dropped buffers counted", False, "status snapshots missing")
        slate = [l for l in log.splitlines() if "showing the slate" in l]
        if d1 and f1:
            check(f"{sc}: fatal streaming error", f1["restarts"] > d1["restarts"] and bool(slate),
                  f"restarts {d1['restarts']} -> {f1['restarts']}; log: {slate[-1].strip()[:200] if slate else '-'}")
        else:
            check(f"{sc}: fatal streaming error", False, "status snapshots missing")

print(f"vm-stream: {passed} passed, {failed} failed", flush=True)
sys.exit(1 if failed else 0)
PY
vmrc=0
wait "$VMPID" || vmrc=$?
VMPID=
if ((vmrc)); then
  echo "vm-stream: the VM run ended with code $vmrc; guest stderr:" >&2
  tail -n 30 "$X/vm.err" >&2
  ((rc)) || { echo "vm-stream: 0 passed, 1 failed (VM exit $vmrc)"; rc=1; }
fi
echo "vm-stream: $(($(date +%s) - T0)) s in all" >&2
exit $rc
