#!/usr/bin/env python3
"""Watches a live HLS playlist over HTTP and measures, for every new segment, how long after the
capture of its frames it became downloadable (listed in the playlist), from the outside.

Usage: edge_watch.py URL SECONDS [FPS]    (127.0.0.1 only; polls every 20 ms)

A segment's first frame was captured at its EXT-X-PROGRAM-DATE-TIME, frame k at PDT + k/FPS;
it is downloadable from the first poll that lists it. Prints one JSON line: segments seen,
per-frame latency p50/p99/max (ms) over all frames of those segments, and per-segment
first-frame (worst) and last-frame (best) latency medians. Polling adds up to 20 ms + one HTTP
round trip; PDT is the producer's own claim (hlscam: wall clock at capture; ffmpeg: its clock
when muxing started + durations).
"""
import datetime, json, re, sys, time, urllib.request

url, secs = sys.argv[1], float(sys.argv[2])
fps = float(sys.argv[3]) if len(sys.argv) > 3 else 30.0
assert url.startswith("http://127.0.0.1:"), "loopback only"
seen = {}
frames, firsts, lasts = [], [], []
end = time.time() + secs
polls = errors = 0
while time.time() < end:
    try:
        body = urllib.request.urlopen(url, timeout=2).read().decode()
        now = time.time()
        polls += 1
    except Exception:
        errors += 1
        time.sleep(0.2)
        continue
    pdt = dur = None
    for line in body.splitlines():
        if line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
            v = line.split(":", 1)[1].replace("Z", "+00:00")
            pdt = datetime.datetime.fromisoformat(v).timestamp()
        elif line.startswith("#EXTINF:"):
            dur = float(line[8:].split(",")[0])
        elif line and not line.startswith("#"):
            if line not in seen and pdt is not None and dur is not None and polls > 1:
                seen[line] = now
                n = max(1, round(dur * fps))
                for k in range(n):
                    frames.append(now - (pdt + k / fps))
                firsts.append(now - pdt)
                lasts.append(now - (pdt + (n - 1) / fps))
            elif line not in seen:
                seen[line] = None  # listed before we started watching: no figure
            if pdt is not None and dur is not None:
                pdt += dur  # PDT applies to the next segments too when not repeated
            dur = None
    time.sleep(0.02)


def q(v, p):
    if not v:
        return None
    v = sorted(v)
    return round(1000 * v[min(len(v) - 1, max(0, int(round(p * len(v) + 0.5)) - 1))])


print(json.dumps({
    "url": url, "segments": len(firsts), "frames": len(frames), "polls": polls, "errors": errors,
    "frame_latency_p50_ms": q(frames, 0.5), "frame_latency_p99_ms": q(frames, 0.99),
    "frame_latency_max_ms": q(frames, 1.0),
    "segment_first_frame_p50_ms": q(firsts, 0.5), "segment_last_frame_p50_ms": q(lasts, 0.5),
}))
