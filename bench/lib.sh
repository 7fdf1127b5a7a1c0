# Shared helpers of the bench/ scripts (sourced, not run).
#
# measure CASE CMD...   runs CMD under /usr/bin/time -v (the literal token OUT in CMD becomes a
#   fresh output directory), kills it after CASE_TIMEOUT s and retries when it hangs (GStreamer
#   1.22 hlssink2 sometimes never posts EOS), and appends one line to $WORK/raw.txt:
#   CASE cpu_s user_s sys_s wall_s rss_mb segs kbps
#   (cpu = user + sys of the process and its children; rss = peak RSS including shared libraries;
#    segs = segments produced; kbps = bitrate of the segments left in the final playlist).
# summarize CASE...     prints, per case, the medians over the runs and min..max of cpu.
# ratio A B             prints A/B of the median cpu, wall and rss.
: "${WORK:=/dev/shm/hlscam_bench}"
: "${CASE_TIMEOUT:=60}"
mkdir -p "$WORK"
RAW=$WORK/raw.txt

measure() {
  local name=$1; shift
  local out=$WORK/out_$name tries=0 rc
  while :; do
    rm -rf "$out"; mkdir -p "$out"
    local cmd=("${@//OUT/$out}")
    rc=0
    /usr/bin/time -v -o "$WORK/time_$name.txt" timeout -k 5 "$CASE_TIMEOUT" "${cmd[@]}" \
      >"$WORK/log_$name.txt" 2>&1 || rc=$?
    if { [ $rc = 124 ] || [ $rc = 137 ]; } && [ $tries -lt 3 ]; then
      tries=$((tries + 1)); echo "# $name hung (rc $rc), retrying" >&2; continue
    fi
    break
  done
  if [ $rc != 0 ]; then
    echo "# $name FAILED rc=$rc: $(tail -c 400 "$WORK/log_$name.txt" | tr '\n' ' ')" >&2
    return 0
  fi
  local segs=0 kbps=0 pl=$out/live.m3u8
  if [ -f "$pl" ]; then
    segs=$(awk -F: '/MEDIA-SEQUENCE/{s=$2} /^#EXTINF/{n++} END{print s+n}' "$pl")
    kbps=$(awk -F'[:,]' -v d="$out" '/^#EXTINF/{t+=$2} /^[^#]/{f=f" "d"/"$0} END{print t" "f}' "$pl" |
      { read -r t files; [ -n "$files" ] && du -cb $files | tail -1 | awk -v t="$t" '{printf "%.0f", $1*8/1000/t}' || echo 0; })
  fi
  awk -F': ' -v n="$name" -v segs="$segs" -v kbps="$kbps" '
    /User time/{u=$2} /System time/{s=$2} /Maximum resident/{r=$2}
    /Elapsed \(wall clock\)/{k=split($2,a,":"); w=0; for(i=1;i<=k;i++) w=w*60+a[i]}
    END{printf "%s %.2f %.2f %.2f %.2f %.1f %s %s\n", n, u+s, u, s, w, r/1024, segs, kbps}' \
    "$WORK/time_$name.txt" | tee -a "$RAW" | sed 's/^/# run: /' >&2
}

# median of the numbers on stdin
median() { sort -g | awk '{a[NR]=$1} END{if (NR) print a[int((NR+1)/2)]; else print "nan"}'; }
col() { awk -v c="$1" -v n="$2" '$1==n{print $c}' "$RAW"; }

summarize() {
  local n
  for n in "$@"; do
    grep -q "^$n " "$RAW" 2>/dev/null || { echo "case=$n no successful run"; continue; }
    printf 'case=%-26s cpu_s=%-5s user_s=%-5s sys_s=%-5s wall_s=%-5s rss_mb=%-5s segs=%-3s kbps=%-5s runs=%s cpu_range=%s..%s\n' \
      "$n" "$(col 2 "$n" | median)" "$(col 3 "$n" | median)" "$(col 4 "$n" | median)" \
      "$(col 5 "$n" | median)" "$(col 6 "$n" | median)" "$(col 7 "$n" | median)" \
      "$(col 8 "$n" | median)" "$(col 2 "$n" | wc -l)" "$(col 2 "$n" | sort -g | head -1)" \
      "$(col 2 "$n" | sort -g | tail -1)"
  done
}

ratio() {
  awk -v a="$1" -v b="$2" -v ca="$(col 2 "$1" | median)" -v cb="$(col 2 "$2" | median)" \
    -v wa="$(col 5 "$1" | median)" -v wb="$(col 5 "$2" | median)" \
    -v ra="$(col 6 "$1" | median)" -v rb="$(col 6 "$2" | median)" 'BEGIN{
      printf "ratio %s / %s: cpu %.3f  wall %.3f  peak_rss %.3f\n", a, b,
        (cb > 0 ? ca / cb : 0), (wb > 0 ? wa / wb : 0), (rb > 0 ? ra / rb : 0)}'
}

# The hlscam configuration matching the peers: 1280x720@30, 2 Mb/s, 2 s segments, 6 entries,
# 48 kHz stereo AAC 128 kb/s, HTTP on an ephemeral loopback port.
hlscam_toml() { # hlscam_toml FILE OUTDIR [LISTEN]
  cat > "$1" <<TOML
[video]
source = "testsrc"
width = 1280
height = 720
fps = 30
bitrate_kbps = 2000
[audio]
source = "tone"
sample_rate = 48000
channels = 2
bitrate_kbps = 128
[hls]
dir = "$2"
segment_seconds = 2
window = 6
container = "ts"
[http]
listen = "${3:-127.0.0.1:0}"
max_connections = ${MAX_CONNECTIONS:-64}
[log]
level = "info"
TOML
}

ll_toml() { # ll_toml FILE OUTDIR LISTEN SEGMENT_SECONDS LOW_LATENCY [CONTAINER] [AUDIO]: the LL benches' 720p30 job
  cat > "$1" <<TOML
[video]
source = "testsrc"
width = 1280
height = 720
fps = 30
[audio]
source = "${7:-tone}"
[hls]
dir = "$2"
segment_seconds = $4
low_latency = $5
part_ms = 200
container = "${6:-ts}"
[http]
listen = "$3"
max_connections = 512
TOML
}
