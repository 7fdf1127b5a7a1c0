"""Fetches hlscam's master playlist and every rendition over HTTP, parsed by the independent
`m3u8` parser (PyPI), and saves each segment (fMP4: behind its initialisation segment) for
tests/abr.rs to probe. Prints one JSON object:

{"master": {"text", "variants": [{"uri", "bandwidth", "average_bandwidth", "codecs",
 "resolution", "frame_rate"}]},
 "renditions": [{"uri", "target_duration", "media_sequence", "ended", "version",
  "segments": [{"uri", "duration", "bytes", "pdt", "file"}],
  "reports": [{"uri", "last_msn", "last_part"}]}]}

Usage: abr_check.py BASE_URL OUT_DIR [--no-media]
"""

import json
import os
import sys
import urllib.parse
import urllib.request

import m3u8


def get(url):
    with urllib.request.urlopen(url, timeout=20) as r:
        return r.read()


def main():
    base, out = sys.argv[1], sys.argv[2]
    media = "--no-media" not in sys.argv
    text = get(base + "/index.m3u8").decode()
    master = m3u8.loads(text, uri=base + "/index.m3u8")
    assert master.is_variant, "index.m3u8 is not a master playlist"
    result = {"master": {"text": text, "variants": []}, "renditions": []}
    for i, p in enumerate(master.playlists):
        si = p.stream_info
        result["master"]["variants"].append(
            {
                "uri": p.uri,
                "bandwidth": si.bandwidth,
                "average_bandwidth": si.average_bandwidth,
                "codecs": si.codecs,
                "resolution": list(si.resolution) if si.resolution else None,
                "frame_rate": si.frame_rate,
            }
        )
        url = urllib.parse.urljoin(base + "/index.m3u8", p.uri)
        pl = m3u8.loads(get(url).decode(), uri=url)
        r = {
            "uri": p.uri,
            "target_duration": pl.target_duration,
            "media_sequence": pl.media_sequence,
            "ended": pl.is_endlist,
            "version": pl.version,
            "segments": [],
            "reports": [
                {"uri": x.uri, "last_msn": x.last_msn, "last_part": x.last_part}
                for x in pl.rendition_reports
            ],
        }
        init = b""
        if media and pl.segment_map:
            init = get(urllib.parse.urljoin(url, pl.segment_map[0].uri))
        for k, s in enumerate(pl.segments):
            seg = {
                "uri": s.uri,
                "duration": s.duration,
                "pdt": s.program_date_time.isoformat() if s.program_date_time else None,
            }
            if media:
                data = get(urllib.parse.urljoin(url, s.uri))
                seg["bytes"] = len(data)
                name = os.path.join(out, "r%d-%s%s" % (i, s.uri.split(".")[0], os.path.splitext(s.uri)[1]))
                with open(name, "wb") as f:
                    f.write(init + data)
                seg["file"] = name
            r["segments"].append(seg)
        result["renditions"].append(r)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
