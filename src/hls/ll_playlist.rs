//! The Low-Latency HLS media playlist (RFC 8216bis §4.4; Apple's HLS authoring spec, LL-HLS),
//! rendered into a fixed buffer. A pure function of the live state; [`super::playlist`] renders
//! the classic playlist, which is what this one is without parts.
//!
//! Tags, in order:
//! - `#EXTM3U`, `#EXT-X-VERSION` (the highest any tag used needs: 3 for decimal `EXTINF`, 6 for
//!   `EXT-X-MAP` in a media playlist, 9 for `EXT-X-SKIP`; §7 — never above 10, which Chromium's
//!   native player refuses), `#EXT-X-TARGETDURATION`;
//! - `#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=…,PART-HOLD-BACK=…,HOLD-BACK=…`
//!   (§4.4.3.8: `PART-HOLD-BACK` at least twice the part target — Apple: at least three times —
//!   and `HOLD-BACK` at least three target durations; `CAN-SKIP-UNTIL` at least six target
//!   durations, and only when the window is longer than that, so a skip can happen);
//! - `#EXT-X-PART-INF:PART-TARGET=…` (§4.4.3.7);
//! - `#EXT-X-MEDIA-SEQUENCE`, `#EXT-X-DISCONTINUITY-SEQUENCE`, `#EXT-X-INDEPENDENT-SEGMENTS`;
//! - for a delta update, `#EXT-X-SKIP:SKIPPED-SEGMENTS=n` (§4.4.5.2) in place of the oldest `n`
//!   segments;
//! - per segment: `#EXT-X-DISCONTINUITY`, `#EXT-X-MAP` (fMP4: before the first segment listed and
//!   wherever the initialisation segment changes), `#EXT-X-PROGRAM-DATE-TIME`, then — for
//!   segments within three target durations of the end (§4.4.4.9) — its `#EXT-X-PART` tags,
//!   then `#EXTINF` and the URI. The tags that belong to a segment precede its first part;
//! - the open segment: the same leading tags and its parts so far (no `EXTINF` yet);
//! - `#EXT-X-PRELOAD-HINT:TYPE=PART,URI=…` for the next part (§4.4.5.3), one only;
//! - `#EXT-X-ENDLIST` when the stream is over (then no preload hint).

use std::fmt::{self, Write};
use std::time::SystemTime;

use super::playlist::write_extinf_secs;
use super::ring::SegmentEntry;
use super::Container;
use crate::time::{write_iso8601, Pts90k};

/// Capacity of an LL playlist buffer: 60 segments plus 30 s of 100 ms parts at their longest.
pub const LL_PLAYLIST_CAP: usize = 64 * 1024;
/// The fixed buffer an LL playlist is rendered into.
pub type LlPlaylistBuf = heapless::String<LL_PLAYLIST_CAP>;

/// One published partial segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartEntry {
    /// Index within its segment (`seg<N>.<index>.<ext>`).
    pub index: u32,
    /// `DURATION`.
    pub duration: Pts90k,
    /// `INDEPENDENT=YES`.
    pub independent: bool,
}

/// Header values of one rendering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LlHeader {
    /// `EXT-X-TARGETDURATION` in whole seconds.
    pub target_secs: u32,
    /// `PART-TARGET`.
    pub part_target: Pts90k,
    /// `CAN-SKIP-UNTIL`, when delta updates are offered.
    pub can_skip_until: Option<Pts90k>,
    /// `EXT-X-MEDIA-SEQUENCE`.
    pub media_seq: u64,
    /// `EXT-X-DISCONTINUITY-SEQUENCE`.
    pub disc_seq: u64,
    /// The container (URI extension, `EXT-X-MAP`).
    pub container: Container,
    /// Append `EXT-X-ENDLIST` (and no preload hint).
    pub endlist: bool,
}

impl LlHeader {
    /// `PART-HOLD-BACK`: three part targets (Apple's MUST; RFC 8216bis asks for two).
    pub fn part_hold_back(&self) -> Pts90k {
        Pts90k(3 * self.part_target.0)
    }
    /// `HOLD-BACK`: three target durations (RFC 8216bis §4.4.3.8's minimum).
    pub fn hold_back(&self) -> Pts90k {
        Pts90k(3 * u64::from(self.target_secs) * crate::time::HZ_90K)
    }
}

/// A completed segment with the parts to list for it (empty when they are no longer listed).
#[derive(Debug, Clone, Copy)]
pub struct ListedSegment<'a> {
    /// The segment.
    pub entry: &'a SegmentEntry,
    /// Its parts, oldest first, or `&[]`.
    pub parts: &'a [PartEntry],
}

/// The segment being written, as far as it has parts.
#[derive(Debug, Clone, Copy)]
pub struct OpenSegment<'a> {
    /// Its sequence number.
    pub seq: u64,
    /// Wall clock of its first frame.
    pub pdt: SystemTime,
    /// Whether it begins a discontinuity.
    pub discontinuity: bool,
    /// Its initialisation segment (fMP4).
    pub map: u32,
    /// Its parts so far (at least one, else it is not rendered).
    pub parts: &'a [PartEntry],
}

/// Writes a duration as seconds with three decimals (rounded to the millisecond).
fn secs<W: Write>(w: &mut W, d: Pts90k) -> fmt::Result {
    write_extinf_secs(w, d)
}

/// The `EXT-X-VERSION` a rendering needs.
pub fn version(c: Container, skip: bool) -> u32 {
    match (skip, c) {
        (true, _) => 9,
        (false, Container::Fmp4) => 6,
        (false, Container::Ts) => 6,
    }
}

/// Tracks which initialisation segment the last `EXT-X-MAP` named.
struct Maps {
    c: Container,
    last: Option<u32>,
}

impl Maps {
    fn before<W: Write>(&mut self, w: &mut W, map: u32) -> fmt::Result {
        if self.c == Container::Fmp4 && self.last != Some(map) {
            writeln!(w, "#EXT-X-MAP:URI=\"init{map}.mp4\"")?;
        }
        self.last = Some(map);
        Ok(())
    }
}

fn leading<W: Write>(
    w: &mut W,
    maps: &mut Maps,
    disc: bool,
    map: u32,
    pdt: SystemTime,
) -> fmt::Result {
    if disc {
        w.write_str("#EXT-X-DISCONTINUITY\n")?;
    }
    maps.before(w, map)?;
    w.write_str("#EXT-X-PROGRAM-DATE-TIME:")?;
    write_iso8601(w, pdt)?;
    w.write_char('\n')
}

fn parts<W: Write>(w: &mut W, c: Container, seq: u64, parts: &[PartEntry]) -> fmt::Result {
    for p in parts {
        w.write_str("#EXT-X-PART:DURATION=")?;
        secs(w, p.duration)?;
        write!(w, ",URI=\"seg{seq}.{}.{}\"", p.index, c.ext())?;
        if p.independent {
            w.write_str(",INDEPENDENT=YES")?;
        }
        w.write_char('\n')?;
    }
    Ok(())
}

/// Renders the playlist into `w` (cleared by the caller). `skip` segments at the start of
/// `segments` are replaced by `EXT-X-SKIP` (a delta update; 0 for the full playlist). `hint` is
/// the next part `(seq, index)`, announced unless the playlist ends.
pub fn render<'a, W: Write>(
    w: &mut W,
    h: &LlHeader,
    skip: usize,
    segments: impl Iterator<Item = ListedSegment<'a>>,
    open: Option<OpenSegment<'_>>,
    hint: Option<(u64, u32)>,
) -> fmt::Result {
    write!(
        w,
        "#EXTM3U\n#EXT-X-VERSION:{}\n#EXT-X-TARGETDURATION:{}\n\
         #EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES",
        version(h.container, skip > 0),
        h.target_secs
    )?;
    if let Some(until) = h.can_skip_until {
        w.write_str(",CAN-SKIP-UNTIL=")?;
        secs(w, until)?;
    }
    w.write_str(",PART-HOLD-BACK=")?;
    secs(w, h.part_hold_back())?;
    w.write_str(",HOLD-BACK=")?;
    secs(w, h.hold_back())?;
    w.write_str("\n#EXT-X-PART-INF:PART-TARGET=")?;
    secs(w, h.part_target)?;
    write!(
        w,
        "\n#EXT-X-MEDIA-SEQUENCE:{}\n#EXT-X-DISCONTINUITY-SEQUENCE:{}\n\
         #EXT-X-INDEPENDENT-SEGMENTS\n",
        h.media_seq, h.disc_seq
    )?;
    if skip > 0 {
        writeln!(w, "#EXT-X-SKIP:SKIPPED-SEGMENTS={skip}")?;
    }
    let c = h.container;
    let mut maps = Maps { c, last: None };
    for s in segments.skip(skip) {
        let e = s.entry;
        leading(w, &mut maps, e.discontinuity, e.map, e.pdt)?;
        parts(w, c, e.seq, s.parts)?;
        w.write_str("#EXTINF:")?;
        write_extinf_secs(w, e.duration)?;
        write!(w, ",\nseg{}.{}\n", e.seq, c.ext())?;
    }
    if let Some(o) = open.filter(|o| !o.parts.is_empty()) {
        leading(w, &mut maps, o.discontinuity, o.map, o.pdt)?;
        parts(w, c, o.seq, o.parts)?;
    }
    if h.endlist {
        w.write_str("#EXT-X-ENDLIST\n")?;
    } else if let Some((seq, k)) = hint {
        writeln!(
            w,
            "#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"seg{seq}.{k}.{}\"",
            c.ext()
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn t(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(1_767_225_600_000 + ms)
    }

    fn part(index: u32, ms: u64) -> PartEntry {
        PartEntry {
            index,
            duration: Pts90k::from_millis(ms),
            independent: index == 0,
        }
    }

    #[test]
    fn golden_ll_playlist_ts_and_delta() {
        let seg = |seq, off, disc| SegmentEntry {
            seq,
            duration: Pts90k::from_millis(1000),
            pdt: t(off),
            discontinuity: disc,
            map: 0,
        };
        let entries = [seg(10, 0, false), seg(11, 1000, true), seg(12, 2000, false)];
        let p12 = [part(0, 400), part(1, 400), part(2, 200)];
        let p13 = [part(0, 400)];
        let h = LlHeader {
            target_secs: 1,
            part_target: Pts90k::from_millis(405),
            can_skip_until: Some(Pts90k::from_millis(6000)),
            media_seq: 10,
            disc_seq: 2,
            container: Container::Ts,
            endlist: false,
        };
        let listed = |e: &'static [SegmentEntry]| e;
        let _ = listed;
        let segs = || {
            entries.iter().map(|e| ListedSegment {
                entry: e,
                parts: if e.seq == 12 { &p12[..] } else { &[] },
            })
        };
        let open = OpenSegment {
            seq: 13,
            pdt: t(3000),
            discontinuity: false,
            map: 0,
            parts: &p13,
        };
        let mut buf = LlPlaylistBuf::new();
        render(&mut buf, &h, 0, segs(), Some(open), Some((13, 1))).unwrap();
        let golden = "#EXTM3U
#EXT-X-VERSION:6
#EXT-X-TARGETDURATION:1
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=6.000,PART-HOLD-BACK=1.215,HOLD-BACK=3.000
#EXT-X-PART-INF:PART-TARGET=0.405
#EXT-X-MEDIA-SEQUENCE:10
#EXT-X-DISCONTINUITY-SEQUENCE:2
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:00.000Z
#EXTINF:1.000,
seg10.ts
#EXT-X-DISCONTINUITY
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:01.000Z
#EXTINF:1.000,
seg11.ts
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:02.000Z
#EXT-X-PART:DURATION=0.400,URI=\"seg12.0.ts\",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.400,URI=\"seg12.1.ts\"
#EXT-X-PART:DURATION=0.200,URI=\"seg12.2.ts\"
#EXTINF:1.000,
seg12.ts
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:03.000Z
#EXT-X-PART:DURATION=0.400,URI=\"seg13.0.ts\",INDEPENDENT=YES
#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"seg13.1.ts\"
";
        assert_eq!(buf.as_str(), golden);

        buf.clear();
        render(&mut buf, &h, 2, segs(), Some(open), Some((13, 1))).unwrap();
        assert!(buf.contains("#EXT-X-VERSION:9\n"));
        assert!(buf.contains(
            "#EXT-X-SKIP:SKIPPED-SEGMENTS=2\n#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:02.000Z\n"
        ));
        assert!(!buf.contains("seg11.ts"));

        buf.clear();
        let end = LlHeader { endlist: true, ..h };
        render(&mut buf, &end, 0, segs(), None, Some((13, 0))).unwrap();
        assert!(buf.ends_with("seg12.ts\n#EXT-X-ENDLIST\n"));
        assert!(!buf.contains("PRELOAD-HINT"));
    }

    #[test]
    fn fmp4_maps_before_first_segment_and_on_change() {
        let seg = |seq, map| SegmentEntry {
            seq,
            duration: Pts90k::from_millis(2000),
            pdt: t(0),
            discontinuity: map == 2,
            map,
        };
        let entries = [seg(1, 1), seg(2, 1), seg(3, 2)];
        let h = LlHeader {
            target_secs: 2,
            part_target: Pts90k::from_millis(205),
            can_skip_until: None,
            media_seq: 1,
            disc_seq: 0,
            container: Container::Fmp4,
            endlist: false,
        };
        let p = [part(0, 200)];
        let open = OpenSegment {
            seq: 4,
            pdt: t(6000),
            discontinuity: false,
            map: 2,
            parts: &p,
        };
        let mut buf = LlPlaylistBuf::new();
        let segs = entries.iter().map(|e| ListedSegment {
            entry: e,
            parts: &[],
        });
        render(&mut buf, &h, 0, segs, Some(open), Some((4, 1))).unwrap();
        let maps: Vec<&str> = buf
            .lines()
            .filter(|l| l.starts_with("#EXT-X-MAP"))
            .collect();
        assert_eq!(
            maps,
            [
                "#EXT-X-MAP:URI=\"init1.mp4\"",
                "#EXT-X-MAP:URI=\"init2.mp4\""
            ]
        );
        assert!(buf.contains("#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"init2.mp4\"\n#EXT-X-PROGRAM"));
        assert!(buf.contains("seg3.m4s\n#EXT-X-PROGRAM-DATE-TIME"));
        assert!(buf.contains("URI=\"seg4.0.m4s\",INDEPENDENT=YES\n#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"seg4.1.m4s\"\n"));
        assert!(!buf.contains("CAN-SKIP-UNTIL"));
    }
}
