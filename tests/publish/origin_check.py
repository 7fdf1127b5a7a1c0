#!/usr/bin/env python3
"""Checks the classic media playlists an origin served over time (RFC 8216 §4, §6.2.1-6.2.2),
parsing them with the independent `m3u8` package (PyPI, installed by `make test` into
target/pydeps). Written from the spec text, separately from src/hls/playlist.rs and
src/publish/origin.rs.

usage: origin_check.py DIR
DIR holds the playlists captured in order, named NNNNNN.m3u8. Rules checked:
- each playlist: #EXTM3U first; EXT-X-VERSION 3 (MPEG-TS) or >= 6 with EXT-X-MAP (fMP4);
  EXT-X-TARGETDURATION present and every EXTINF rounded <= it; EXT-X-PROGRAM-DATE-TIME on
  every segment; EXT-X-DISCONTINUITY-SEQUENCE present; one container; fMP4 segments after a map;
- across playlists: target duration never changes; media and discontinuity sequence never go
  back; a URI keeps its media sequence number and its discontinuity sequence number in every
  playlist that lists it (§6.2.1, §6.2.2); once EXT-X-ENDLIST appears the playlist is final.
Prints a summary line; exit status 0 when every rule holds, 1 with the violations listed.
"""
import os
import re
import sys

import m3u8

errors = []
NAME = re.compile(r"^seg(\d+)\.(ts|m4s)$")


def fail(name, msg):
    errors.append(f"{name}: {msg}")


def main():
    d = sys.argv[1]
    names = sorted(n for n in os.listdir(d) if n.endswith(".m3u8"))
    if not names:
        print("origin_check: no playlists")
        return 1
    target = None
    last_media = last_disc = -1
    seen = {}  # uri -> (media sequence number, discontinuity sequence number)
    final = None
    gaps = 0
    for n in names:
        text = open(os.path.join(d, n), encoding="utf-8").read()
        if final is not None and text != final:
            fail(n, "changed after EXT-X-ENDLIST")
        if not text.startswith("#EXTM3U\n"):
            fail(n, "does not start with #EXTM3U")
        p = m3u8.loads(text)
        if p.target_duration is None:
            fail(n, "no EXT-X-TARGETDURATION")
            continue
        if target is None:
            target = p.target_duration
        elif p.target_duration != target:
            fail(n, f"EXT-X-TARGETDURATION changed {target} -> {p.target_duration}")
        if "#EXT-X-DISCONTINUITY-SEQUENCE:" not in text:
            fail(n, "no EXT-X-DISCONTINUITY-SEQUENCE")
        media = p.media_sequence or 0
        disc = p.discontinuity_sequence or 0
        if media < last_media:
            fail(n, f"EXT-X-MEDIA-SEQUENCE went back {last_media} -> {media}")
        if disc < last_disc:
            fail(n, f"EXT-X-DISCONTINUITY-SEQUENCE went back {last_disc} -> {disc}")
        last_media, last_disc = media, disc
        kinds = set()
        has_map = "#EXT-X-MAP:" in text
        for i, s in enumerate(p.segments):
            m = NAME.match(s.uri or "")
            if not m:
                fail(n, f"segment URI {s.uri}")
                continue
            kinds.add(m.group(2))
            if s.discontinuity:
                disc += 1
                if i > 0:
                    gaps += 1
            num = media + i
            if s.uri in seen and seen[s.uri] != (num, disc):
                fail(n, f"{s.uri} is ({num}, disc {disc}) here, {seen[s.uri]} before")
            seen[s.uri] = (num, disc)
            if round(s.duration) > target:
                fail(n, f"{s.uri} EXTINF {s.duration} rounds above {target}")
            if s.program_date_time is None:
                fail(n, f"{s.uri} has no EXT-X-PROGRAM-DATE-TIME")
            if m.group(2) == "m4s" and s.init_section is None:
                fail(n, f"{s.uri} has no EXT-X-MAP before it")
        if len(kinds) > 1:
            fail(n, f"several containers {kinds}")
        want = 6 if "m4s" in kinds else 3
        if (p.version or 1) < want or ("ts" in kinds and has_map):
            fail(n, f"EXT-X-VERSION {p.version} / EXT-X-MAP in a {kinds} playlist")
        if p.is_endlist:
            final = text
    print(
        f"origin_check: {len(names)} playlists, {len(seen)} segments, {gaps} discontinuities "
        f"inside a window, {len(errors)} violations"
    )
    for e in errors[:40]:
        print(e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
