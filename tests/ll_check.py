#!/usr/bin/env python3
"""Checks LL-HLS media playlists against RFC 8216bis and Apple's rules, parsing them with the
independent `m3u8` package (PyPI, installed by `make test` into target/pydeps).

usage: ll_check.py DIR
DIR holds playlists captured in order, named NNNN-full.m3u8 / NNNN-delta.m3u8 (a delta is the
answer to `_HLS_skip=YES`). Exit status 0 when every rule holds, 1 with the violations listed.

Written from the spec text, separately from the renderer in src/hls/ll_playlist.rs.
"""
import os
import re
import sys

import m3u8

EPS = 0.0015  # playlist durations carry 3 decimals
errors = []


def fail(name, msg):
    errors.append(f"{name}: {msg}")


NAME = re.compile(r"^seg(\d+)\.(ts|m4s)$")
PART = re.compile(r"^seg(\d+)\.(\d+)\.(ts|m4s)$")


def check_one(name, text, delta):
    p = m3u8.loads(text)
    target = p.target_duration
    sc, pi = p.server_control, p.part_inf
    if not text.startswith("#EXTM3U\n"):
        fail(name, "does not start with #EXTM3U")
    if sc is None or pi is None:
        fail(name, "no EXT-X-SERVER-CONTROL or EXT-X-PART-INF")
        return None
    pt = pi.part_target
    # Version: PART-INF/SERVER-CONTROL/MAP need 6, SKIP needs 9; Chromium rejects > 10.
    need = 9 if p.skip else 6
    if p.version is None or p.version < need or p.version > 10:
        fail(name, f"EXT-X-VERSION {p.version}, need {need}..=10")
    if sc.can_block_reload != "YES":
        fail(name, "CAN-BLOCK-RELOAD is not YES")
    if sc.part_hold_back is None or sc.part_hold_back < 3 * pt - EPS:
        fail(name, f"PART-HOLD-BACK {sc.part_hold_back} < 3 x PART-TARGET {pt}")
    if sc.hold_back is None or sc.hold_back < 3 * target - EPS:
        fail(name, f"HOLD-BACK {sc.hold_back} < 3 x target {target}")
    if sc.can_skip_until is not None and sc.can_skip_until < 6 * target - EPS:
        fail(name, f"CAN-SKIP-UNTIL {sc.can_skip_until} < 6 x target")
    if not delta and p.skip:
        fail(name, "EXT-X-SKIP in a playlist that did not ask for it")
    if p.skip and sc.can_skip_until is None:
        fail(name, "EXT-X-SKIP without CAN-SKIP-UNTIL")
    skipped = p.skip.skipped_segments if p.skip else 0
    segs = [s for s in p.segments if s.uri is not None]
    open_parts = [s for s in p.segments if s.uri is None]
    if len(open_parts) > 1:
        fail(name, "parts after the last segment split in several groups")
    # Sequence numbers: URIs seg<N> with N = MEDIA-SEQUENCE + skipped + index.
    for i, s in enumerate(segs):
        m = NAME.match(s.uri)
        if not m:
            fail(name, f"segment URI {s.uri}")
            continue
        if int(m.group(1)) != p.media_sequence + skipped + i:
            fail(name, f"{s.uri} at index {i}, media sequence {p.media_sequence}+{skipped}")
        if round(s.duration) > target:
            fail(name, f"{s.uri} EXTINF {s.duration} rounds above target {target}")
        if s.program_date_time is None:
            fail(name, f"{s.uri} has no EXT-X-PROGRAM-DATE-TIME")
    # fMP4 (RFC 8216bis §4.4.4.5): every segment, and the open one's parts, after an
    # EXT-X-MAP naming an init segment; MPEG-TS: no EXT-X-MAP; one container throughout.
    kinds = {NAME.match(s.uri).group(2) for s in segs if NAME.match(s.uri)}
    kinds |= {PART.match(x.uri).group(3) for s in p.segments for x in s.parts if PART.match(x.uri)}
    if len(kinds) > 1:
        fail(name, f"segments and parts in several containers: {kinds}")
    maps = re.findall(r'^#EXT-X-MAP:URI="([^"]*)"', text, re.M)
    for s in p.segments:
        if s.uri is not None:
            init = s.init_section.uri if s.init_section is not None else None
        else:
            # The m3u8 package attaches maps to segments with a URI only; the open segment
            # is last, so the last EXT-X-MAP of the text is the one in force for its parts.
            init = maps[-1] if maps else None
        label = s.uri or "the open segment's parts"
        if "m4s" in kinds and not (init and re.match(r"^init\d+\.mp4$", init)):
            fail(name, f"{label}: fMP4 without EXT-X-MAP (init {init})")
        if "ts" in kinds and init is not None:
            fail(name, f"{label}: EXT-X-MAP in an MPEG-TS playlist")
    next_msn = p.media_sequence + skipped + len(segs)
    # Playlist end time, from the end.
    groups = [(s, int(NAME.match(s.uri).group(1)) if NAME.match(s.uri) else -1, s.duration) for s in segs]
    if open_parts:
        groups.append((open_parts[0], next_msn, sum(x.duration for x in open_parts[0].parts)))
    end = 0.0
    age = {}
    for _, msn, dur in reversed(groups):
        age[msn] = end  # time from this segment's end to the playlist's end
        end += dur
    if delta and sc.can_skip_until is not None and not p.skip:
        # A full answer is right only while nothing is old enough to skip.
        if any(age[m] >= sc.can_skip_until + EPS for _, m, _ in groups if m >= 0):
            fail(name, "delta update requested and possible, but no EXT-X-SKIP")
    # The tags of the open segment (after the last URI line): the m3u8 package attaches
    # DISCONTINUITY and PROGRAM-DATE-TIME only to segments with a URI, so read them raw.
    lines = text.splitlines()
    last_uri = max((i for i, l in enumerate(lines) if l and not l.startswith("#")), default=-1)
    tail = lines[last_uri + 1:]
    first_part = next((i for i, l in enumerate(tail) if l.startswith("#EXT-X-PART:")), None)
    open_disc = first_part is not None and "#EXT-X-DISCONTINUITY" in tail[:first_part]
    if first_part is not None and not any(
        l.startswith("#EXT-X-PROGRAM-DATE-TIME:") for l in tail[:first_part]
    ):
        fail(name, "no EXT-X-PROGRAM-DATE-TIME before the open segment's first part")
    for i, (s, msn, _) in enumerate(groups):
        complete = s.uri is not None
        # A segment adopted from an earlier run (before a discontinuity) has no parts.
        before_discontinuity = i + 1 < len(groups) and (
            groups[i + 1][0].discontinuity or (groups[i + 1][0].uri is None and open_disc)
        )
        parts = s.parts
        if not parts:
            if msn == next_msn - 1 and not p.is_endlist and not before_discontinuity:
                fail(name, f"seg{msn}: no parts although it is the last segment")
            continue
        if age[msn] > 3 * target + EPS:
            fail(name, f"seg{msn}: parts listed {age[msn]:.3f}s from the end (> 3 x target)")
        for k, x in enumerate(parts):
            m = PART.match(x.uri or "")
            if not m or int(m.group(1)) != msn or int(m.group(2)) != k:
                fail(name, f"part {x.uri} is not seg{msn}.{k}")
            last = complete and k == len(parts) - 1
            if x.duration > pt + EPS:
                fail(name, f"{x.uri} {x.duration} > PART-TARGET {pt}")
            if x.duration < 0.85 * pt - EPS and x.independent != "YES" and not last:
                fail(name, f"{x.uri} {x.duration} < 85 % of PART-TARGET")
            if k == 0 and x.independent != "YES":
                fail(name, f"{x.uri}: first part of a segment is not INDEPENDENT=YES")
        if complete and abs(sum(x.duration for x in parts) - s.duration) > 0.001 * len(parts) + EPS:
            fail(name, f"seg{msn}: parts sum {sum(x.duration for x in parts)} != EXTINF {s.duration}")
    # Exactly one preload hint of type PART, naming the next part.
    hints = text.count("#EXT-X-PRELOAD-HINT:")
    if p.is_endlist:
        if hints:
            fail(name, "preload hint after ENDLIST")
    else:
        if hints != 1 or p.preload_hint is None or p.preload_hint.hint_type != "PART":
            fail(name, f"{hints} preload hints")
        else:
            k = len(open_parts[0].parts) if open_parts else 0
            m = PART.match(p.preload_hint.uri)
            if not m or (int(m.group(1)), int(m.group(2))) != (next_msn, k):
                fail(name, f"preload hint {p.preload_hint.uri}, next part is seg{next_msn}.{k}")
    return p, next_msn, skipped, segs


def main():
    d = sys.argv[1]
    names = sorted(f for f in os.listdir(d) if f.endswith(".m3u8"))
    if not names:
        print("no playlists", file=sys.stderr)
        return 1
    last_full = None
    seen = {}
    deltas = fulls = parts = 0
    disc_seen = 0
    for n in names:
        text = open(os.path.join(d, n)).read()
        delta = n.endswith("-delta.m3u8")
        r = check_one(n, text, delta)
        if r is None:
            continue
        p, next_msn, skipped, segs = r
        deltas += bool(p.skip)
        fulls += not delta
        parts += sum(len(s.parts) for s in p.segments)
        disc_seen += text.count("#EXT-X-DISCONTINUITY\n")
        # Across playlists: a segment keeps its duration and discontinuity flag; sequence
        # numbers never go back.
        for s in segs:
            prev = seen.get(s.uri)
            if prev and (abs(prev[0] - s.duration) > EPS or prev[1] != s.discontinuity):
                fail(n, f"{s.uri} changed between playlists")
            seen[s.uri] = (s.duration, s.discontinuity)
        if last_full is not None and p.media_sequence < last_full.media_sequence:
            fail(n, "media sequence went back")
        if last_full is not None and p.discontinuity_sequence < last_full.discontinuity_sequence:
            fail(n, "discontinuity sequence went back")
        if not delta:
            last_full = p
    print(f"ll_check: {len(names)} playlists ({fulls} full, {deltas} with EXT-X-SKIP), "
          f"{parts} part tags, {disc_seen} discontinuity tags, {len(errors)} violations")
    if os.environ.get("LL_CHECK_EXPECT_SKIP") and deltas == 0:
        fail(d, "no delta update seen")
    if os.environ.get("LL_CHECK_EXPECT_DISCONTINUITY") and disc_seen == 0:
        fail(d, "no EXT-X-DISCONTINUITY seen")
    for e in errors:
        print(e)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
