#!/usr/bin/env python3
"""Checks a recordings VOD playlist (GET /vod/{from}/{to}/index.m3u8) against RFC 8216 and the
project's checklist (DESIGN.md §2 items 9-11, 14, 19), parsing it with the independent `m3u8`
package (PyPI, installed by `make test` into target/pydeps), and prints what it parsed as JSON
for the Rust test to compare with the m3u8-rs crate's reading.

usage: rec_vod_check.py PLAYLIST vod|event
Exit status 0 when every rule holds, 1 with the violations listed.
"""
import json
import math
import sys

import m3u8

path, kind = sys.argv[1], sys.argv[2]
text = open(path, encoding="utf-8").read()
p = m3u8.loads(text)
errors = []

if not text.startswith("#EXTM3U\n"):
    errors.append("does not start with #EXTM3U")
if text.count("#EXT-X-VERSION:") != 1 or p.version != 4:
    errors.append(f"EXT-X-VERSION {p.version}: byte ranges need exactly one, 4")
if not p.is_independent_segments:
    errors.append("no EXT-X-INDEPENDENT-SEGMENTS")
if p.playlist_type != kind:
    errors.append(f"PLAYLIST-TYPE {p.playlist_type}, expected {kind}")
if p.is_endlist != (kind == "vod"):
    errors.append(f"ENDLIST {p.is_endlist} in a {kind} playlist")
if not p.segments:
    errors.append("no segments")
longest = max((s.duration for s in p.segments), default=0)
if p.target_duration != math.ceil(longest - 1e-9):
    errors.append(f"TARGETDURATION {p.target_duration}, longest EXTINF {longest}")
segs = []
for i, s in enumerate(p.segments):
    if round(s.duration) > p.target_duration:
        errors.append(f"segment {i}: EXTINF {s.duration} over the target")
    if s.byterange is None or "@" not in s.byterange:
        errors.append(f"segment {i}: no EXT-X-BYTERANGE with an offset")
        continue
    if s.program_date_time is None:
        errors.append(f"segment {i}: no EXT-X-PROGRAM-DATE-TIME")
        continue
    if not s.uri.startswith("/rec/") or not s.uri.endswith(".ts"):
        errors.append(f"segment {i}: URI {s.uri}")
    length, offset = (int(x) for x in s.byterange.split("@"))
    segs.append({
        "uri": s.uri,
        "ms": round(s.duration * 1000),
        "len": length,
        "offset": offset,
        "discontinuity": bool(s.discontinuity),
        "pdt_ms": round(s.program_date_time.timestamp() * 1000),
    })
# PDT follows EXTINF inside every run without a discontinuity (within about a frame: the wall clock is read at capture).
for a, b in zip(segs, segs[1:]):
    if not b["discontinuity"] and abs(b["pdt_ms"] - a["pdt_ms"] - a["ms"]) > 40:
        errors.append(f"PDT jumps without a discontinuity at {b['uri']}@{b['offset']}")

print(json.dumps({"target": p.target_duration, "segments": segs}))
for e in errors:
    print(e, file=sys.stderr)
sys.exit(1 if errors else 0)
