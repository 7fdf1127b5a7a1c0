#!/usr/bin/env bash
# Audio layout for adaptive bitrate (issue 15): audio muxed into every variant vs. one audio
# rendition, played by hls.js and by Chromium's native HLS player. An experiment, not a test
# (not in CI, not in bench/all.sh); the findings are in BENCHMARKS.md, "Audio layout".
#
# Usage: bench/abr_audio_layout.sh [SECONDS=25] [THROTTLED_SECONDS=45]
# Env:   PORT=8093 (and PORT+1)  WORK=/dev/shm/hlscam_abr_audio  OUT=bench/results/abr_audio_<date>.jsonl
#        THROTTLE=8:28:900 (from 8 s to 28 s after the first 'playing', 900 kbit/s: between the
#        two variants)  BASE_KBIT=8000 (the link outside that window, so hls.js's bandwidth
#        estimate is not loopback's ~100 Mbit/s)  WEAK=8:28:250 (the "weak" run: a link below
#        the lowest video variant, above the audio-only one)  RUNS="plain throttle weak" (which
#        runs, per layout x engine)  ENGINES="hlsjs native"  REPS=1 (rounds of RUNS)
#
# For each layout, one ffmpeg (the same lavfi sources: testsrc2 1280x720@30 with the wall clock
# burnt in, a 440 Hz sine; libx264 ultrafast, IDR every 1 s = 1 s segments; AAC 64k mono) writes
# a live stream, tests/browser/standin.py serves it on 127.0.0.1 as hlscam does (/index.m3u8,
# /v/<name>/live.m3u8, /v/<name>/seg<N>.ts), and the master is printed:
#   muxed  2 variants 720p 1500k / 360p 400k, each segment video + AAC, plus an audio-only
#          variant (what hlscam main writes): -var_stream_map "v:0,a:0 v:1,a:1 a:2"
#   group  2 video-only variants, one audio rendition (EXT-X-MEDIA:TYPE=AUDIO, AUDIO= on each
#          variant; ffmpeg also lists it as an audio-only variant):
#          -var_stream_map "v:0,agroup:aud v:1,agroup:aud a:0,agroup:aud"
# Then bench/abr_audio_probe.js plays /index.m3u8 with hls.js and with the native player, for
# SECONDS unthrottled and for THROTTLED_SECONDS with the throttle (CDP network emulation), and
# prints one JSON line per run (kept in OUT) and a table at the end.
# Needs: ffmpeg, python3, chromium, npm ci in tests/browser and web.
set -euo pipefail
SECS=${1:-25}; TSECS=${2:-45}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PORT=${PORT:-8093}
WORK=${WORK:-/dev/shm/hlscam_abr_audio}
OUT=${OUT:-$ROOT/bench/results/abr_audio_$(date -u +%F).jsonl}
THROTTLE=${THROTTLE:-8:28:900}
WEAK=${WEAK:-8:28:250}
RUNS=${RUNS:-plain throttle weak}
BASE_KBIT=${BASE_KBIT:-8000}
mkdir -p "$(dirname "$OUT")"; : > "$OUT"

VF="drawtext=text='%{localtime\:%T}':fontcolor=white:fontsize=48:box=1:boxcolor=black@0.6:x=20:y=h-th-20"
fontfile=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
[ -f "$fontfile" ] && VF="$VF:fontfile=$fontfile"

FF='' SRV=''
stop() {
  if [ -n "$FF" ]; then kill "$FF" 2>/dev/null; wait "$FF" 2>/dev/null || true; fi
  if [ -n "$SRV" ]; then kill "$SRV" 2>/dev/null; wait "$SRV" 2>/dev/null || true; fi
  FF='' SRV=''
  return 0
}
trap stop EXIT INT TERM

# start LAYOUT PORT: ffmpeg + standin.py for LAYOUT (muxed|group) in $WORK/LAYOUT.
start() {
  local layout=$1 port=$2 dir=$WORK/$1 maps vsm
  rm -rf "$dir"; mkdir -p "$dir/v"
  if [ "$layout" = muxed ]; then
    maps=(-map '[v0]' -map '[v1]' -map 1:a -map 1:a -map 1:a)
    vsm="v:0,a:0,name:720p v:1,a:1,name:360p a:2,name:audio"
  else
    maps=(-map '[v0]' -map '[v1]' -map 1:a)
    vsm="v:0,agroup:aud,name:720p v:1,agroup:aud,name:360p a:0,agroup:aud,name:audio"
  fi
  ffmpeg -hide_banner -nostdin -loglevel error -re \
    -f lavfi -i "testsrc2=size=1280x720:rate=30" \
    -f lavfi -i "sine=frequency=440:sample_rate=48000" \
    -filter_complex "[0:v]$VF,split=2[v0][s1];[s1]scale=640:360[v1]" "${maps[@]}" \
    -c:v libx264 -preset ultrafast -tune zerolatency -pix_fmt yuv420p \
    -g 30 -keyint_min 30 -sc_threshold 0 \
    -b:v:0 1500k -maxrate:v:0 1500k -bufsize:v:0 1500k -b:v:1 400k -maxrate:v:1 400k -bufsize:v:1 400k \
    -c:a aac -b:a 64k -ac 1 \
    -f hls -hls_time 1 -hls_list_size 10 \
    -hls_flags delete_segments+independent_segments+program_date_time+temp_file \
    -var_stream_map "$vsm" -master_pl_name index.m3u8 \
    -hls_segment_filename "$dir/v/%v/seg%d.ts" "$dir/v/%v/live.m3u8" &
  FF=$!
  python3 "$ROOT/tests/browser/standin.py" "$dir" "$port" >/dev/null 2>&1 &
  SRV=$!
  for _ in $(seq 1 100); do [ -s "$dir/v/index.m3u8" ] && break; sleep 0.1; done
  # ffmpeg writes the master next to the variant directories; serve it at /index.m3u8 with its
  # URIs (variant lines and EXT-X-MEDIA URI="…") relative to there.
  sed -e 's|^\([^#].*\)$|v/\1|' -e 's|URI="|URI="v/|' "$dir/v/index.m3u8" > "$dir/index.m3u8.tmp"
  mv "$dir/index.m3u8.tmp" "$dir/index.m3u8"
  sleep 6   # a few segments listed before the players start
  echo "== $layout: http://127.0.0.1:$port/index.m3u8"
  sed '/^$/d' "$dir/index.m3u8"
  for v in 720p 360p audio; do
    printf '   %-5s seg2.ts streams: %s\n' "$v" \
      "$(ffprobe -v error -show_entries stream=codec_name -of csv=p=0 "$dir/v/$v/seg2.ts" | sort -u | tr '\n' ' ')"
  done
}

# Segment bytes per second of media for each playlist directory (what a client per variant and
# the origin/disk carry), from the segments on disk at the end of the layout's runs.
bytes() {
  local layout=$1 dir=$WORK/$1
  for v in 720p 360p audio; do
    python3 - "$dir/v/$v" "$layout" "$v" >>"$OUT" <<'EOF'
import json, os, re, sys
d, layout, v = sys.argv[1:]
pl = open(os.path.join(d, "live.m3u8")).read()
durs = [float(x) for x in re.findall(r"#EXTINF:([0-9.]+)", pl)]
segs = [l for l in pl.splitlines() if l and not l.startswith("#")]
size = sum(os.path.getsize(os.path.join(d, s)) for s in segs if os.path.exists(os.path.join(d, s)))
print(json.dumps({"bytes": True, "layout": layout, "playlist": v, "segments": len(segs),
                  "kbit_per_s": round(size * 8 / 1000 / sum(durs), 1)}))
EOF
  done
}

probe() { # layout mode seconds port [THROTTLE]
  local layout=$1 mode=$2 secs=$3 port=$4 thr=${5:-} line
  if [ -n "$thr" ]; then
    line=$(THROTTLE=$thr BASE_KBIT=$BASE_KBIT node "$ROOT/bench/abr_audio_probe.js" "http://127.0.0.1:$port/index.m3u8" "$mode" "$secs" || true)
  else
    line=$(env -u THROTTLE -u BASE_KBIT node "$ROOT/bench/abr_audio_probe.js" "http://127.0.0.1:$port/index.m3u8" "$mode" "$secs" || true)
  fi
  echo "$line" | python3 -c 'import json,sys; d=json.load(sys.stdin); d["layout"]=sys.argv[1]; d["throttled"]=sys.argv[2]; print(json.dumps(d))' "$layout" "$thr" | tee -a "$OUT"
}

i=0
for layout in muxed group; do
  port=$((PORT + i)); i=$((i + 1))
  start "$layout" "$port"
  for _ in $(seq 1 "${REPS:-1}"); do
    for mode in ${ENGINES:-hlsjs native}; do
      for run in $RUNS; do
        case $run in
          plain) probe "$layout" "$mode" "$SECS" "$port" ;;
          throttle) probe "$layout" "$mode" "$TSECS" "$port" "$THROTTLE" ;;
          weak) probe "$layout" "$mode" "$TSECS" "$port" "$WEAK" ;;
          *) echo "unknown run $run in RUNS" >&2; exit 2 ;;
        esac
      done
    done
  done
  bytes "$layout"
  stop
done

python3 - "$OUT" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def segs(r):  # segment requests per playlist directory
    n = {}
    for path, c in r.get("requests", {}).items():
        if path.endswith(".ts"):
            k = path.split("/")[-2]
            n[k] = n.get(k, 0) + c
    return dict(sorted(n.items()))
print("\nlayout engine throttle    plays start_s played_s waits stalls(max s) audio_B   gaps/holes skips av_ms pl_req/s seg_req/s switch:stalls/gaps picture heights")
for r in rows:
    if r.get("bytes"):
        continue
    st = r.get("stalls_waiting", []) + r.get("stalls_frozen", [])
    sw = " ".join(f"{x['at_s']:.0f}s:{x['h']}" for x in r.get("picture_heights", []))
    holes = sum(len(b["holes_in_played"]) for b in r.get("buffers", []) if "audio" in b["mime"])
    print(f"{r['layout']:6} {r['mode']:6} {(r['throttled'] or '-'):12} {str(r.get('plays')):5} "
          f"{r.get('startup_s')!s:7} {r.get('played_s')!s:8} {r.get('waiting_events')!s:5} "
          f"{len(st)} ({r.get('stall_total_s')})     {r.get('audio_decoded_bytes')!s:8} "
          f"{len(r.get('audio_gaps', []))}/{holes}        {len(r.get('skips', []))}     {r.get('av_start_offset_ms')!s:5} {r.get('playlist_req_per_s')!s:8} {r.get('segment_req_per_s')!s:9} "
          + (" ".join(f"{x['stalls']}/{x['audio_gaps']}" for x in r.get("switch_effects", [])) or "-") + "  " + sw
          + "  segs " + " ".join(f"{k}:{v}" for k, v in segs(r).items())
          + ("  ERRORS " + "; ".join(r["errors"]) if r.get("errors") else ""))
print("\nsegment bitrate per playlist (kbit/s of media):")
for r in rows:
    if r.get("bytes"):
        print(f"  {r['layout']:6} {r['playlist']:6} {r['kbit_per_s']}")
EOF
