//! The live media playlist (RFC 8216 §4.3), rendered into a fixed buffer.
//!
//! Tags, in order: `#EXTM3U` (§4.3.1.1), `#EXT-X-VERSION` (§4.3.1.2; 3 for decimal EXTINF,
//! §7; 6 for `EXT-X-MAP` in fMP4 playlists), `#EXT-X-TARGETDURATION` (§4.3.3.1),
//! `#EXT-X-MEDIA-SEQUENCE` (§4.3.3.2), `#EXT-X-DISCONTINUITY-SEQUENCE` (§4.3.3.3, always
//! present), `#EXT-X-INDEPENDENT-SEGMENTS` (§4.3.5.1), then per segment `#EXT-X-DISCONTINUITY`
//! (§4.3.2.3) when marked, `#EXT-X-MAP` (§4.3.2.5, fMP4: before the first segment and wherever
//! the initialisation segment changes), `#EXT-X-PROGRAM-DATE-TIME` (§4.3.2.6),
//! `#EXTINF:<s>.<mmm>,` (§4.3.2.1) and the URI, and `#EXT-X-ENDLIST` (§4.3.3.4) when the run
//! is over. MPEG-TS playlists are exactly what they were before fMP4 existed.
//!
//! Rendering writes with `core::fmt::Write` into a [`heapless::String`] of [`PLAYLIST_CAP`]
//! bytes, which holds a window of [`MAX_WINDOW`] segments with every tag at its longest
//! (see [`worst_case_len`]), so it cannot fail and never allocates.

use std::fmt::{self, Write};

use super::ring::{SegmentEntry, MAX_WINDOW};
use super::Container;
use crate::time::{write_iso8601, Pts90k};

/// Capacity of the playlist buffer.
pub const PLAYLIST_CAP: usize = 16384;

/// The fixed buffer a playlist is rendered into.
pub type PlaylistBuf = heapless::String<PLAYLIST_CAP>;

/// Header fields of one rendering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlaylistHeader {
    /// `EXT-X-TARGETDURATION` in whole seconds.
    pub target_secs: u32,
    /// `EXT-X-MEDIA-SEQUENCE`.
    pub media_seq: u64,
    /// `EXT-X-DISCONTINUITY-SEQUENCE`.
    pub disc_seq: u64,
    /// Append `EXT-X-ENDLIST`.
    pub endlist: bool,
    /// The segments' container.
    pub container: Container,
}

/// Writes `EXTINF`'s value: seconds with exactly three decimals, rounded to the millisecond.
pub fn write_extinf_secs<W: Write>(w: &mut W, d: Pts90k) -> fmt::Result {
    let ms = d.as_millis_rounded();
    write!(w, "{}.{:03}", ms / 1000, ms % 1000)
}

/// Renders the playlist into `w` (cleared by the caller).
pub fn render<'a, W: Write>(
    w: &mut W,
    h: &PlaylistHeader,
    entries: impl Iterator<Item = &'a SegmentEntry>,
) -> fmt::Result {
    let fmp4 = h.container == Container::Fmp4;
    write!(
        w,
        "#EXTM3U\n#EXT-X-VERSION:{}\n#EXT-X-TARGETDURATION:{}\n#EXT-X-MEDIA-SEQUENCE:{}\n\
         #EXT-X-DISCONTINUITY-SEQUENCE:{}\n#EXT-X-INDEPENDENT-SEGMENTS\n",
        if fmp4 { 6 } else { 3 },
        h.target_secs,
        h.media_seq,
        h.disc_seq
    )?;
    let mut map = None;
    for e in entries {
        if e.discontinuity {
            w.write_str("#EXT-X-DISCONTINUITY\n")?;
        }
        if fmp4 && map != Some(e.map) {
            writeln!(w, "#EXT-X-MAP:URI=\"init{}.mp4\"", e.map)?;
            map = Some(e.map);
        }
        w.write_str("#EXT-X-PROGRAM-DATE-TIME:")?;
        write_iso8601(w, e.pdt)?;
        w.write_str("\n#EXTINF:")?;
        write_extinf_secs(w, e.duration)?;
        write!(w, ",\nseg{}.{}\n", e.seq, h.container.ext())?;
    }
    if h.endlist {
        w.write_str("#EXT-X-ENDLIST\n")?;
    }
    Ok(())
}

/// The longest possible rendering of `window` segments (every number at 20 digits, every
/// segment a discontinuity with its own `EXT-X-MAP`, a 5-digit year).
pub fn worst_case_len(window: usize) -> usize {
    let header = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:\n#EXT-X-MEDIA-SEQUENCE:\n\
                  #EXT-X-DISCONTINUITY-SEQUENCE:\n#EXT-X-INDEPENDENT-SEGMENTS\n"
        .len()
        + 10
        + 20
        + 20;
    let entry = "#EXT-X-DISCONTINUITY\n".len()
        + "#EXT-X-PROGRAM-DATE-TIME:\n".len()
        + "+99999-12-31T23:59:59.999Z".len()
        + "#EXTINF:.000,\n".len()
        + 17
        + "seg.m4s\n".len()
        + 20
        + "#EXT-X-MAP:URI=\"init.mp4\"\n".len()
        + 10;
    header + window * entry + "#EXT-X-ENDLIST\n".len()
}

const _: () = assert!(MAX_WINDOW * 200 + 200 <= PLAYLIST_CAP);

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn capacity_covers_max_window() {
        assert!(worst_case_len(MAX_WINDOW) <= PLAYLIST_CAP);
    }

    #[test]
    fn extinf_is_exact_milliseconds() {
        let mut s = heapless::String::<32>::new();
        write_extinf_secs(&mut s, Pts90k(180_000)).unwrap();
        assert_eq!(s, "2.000");
        s.clear();
        write_extinf_secs(&mut s, Pts90k(3003 * 60)).unwrap(); // 60 frames at 29.97
        assert_eq!(s, "2.002");
        s.clear();
        write_extinf_secs(&mut s, Pts90k(45)).unwrap();
        assert_eq!(s, "0.001");
    }

    #[test]
    fn golden_playlist() {
        let t0 = UNIX_EPOCH + Duration::from_millis(1_767_225_600_000);
        let e = |seq, ms, off_ms, disc| SegmentEntry {
            seq,
            duration: Pts90k::from_millis(ms),
            pdt: t0 + Duration::from_millis(off_ms),
            discontinuity: disc,
            map: 0,
        };
        let entries = [
            e(41, 2000, 0, false),
            e(42, 2033, 2000, false),
            e(43, 1200, 4033, false),
            e(44, 2000, 9000, true),
        ];
        let mut buf = PlaylistBuf::new();
        let h = PlaylistHeader {
            target_secs: 2,
            media_seq: 41,
            disc_seq: 3,
            endlist: true,
            container: Container::Ts,
        };
        render(&mut buf, &h, entries.iter()).unwrap();
        let golden = "#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:41
#EXT-X-DISCONTINUITY-SEQUENCE:3
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:00.000Z
#EXTINF:2.000,
seg41.ts
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:02.000Z
#EXTINF:2.033,
seg42.ts
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:04.033Z
#EXTINF:1.200,
seg43.ts
#EXT-X-DISCONTINUITY
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:09.000Z
#EXTINF:2.000,
seg44.ts
#EXT-X-ENDLIST
";
        assert_eq!(buf.as_str(), golden);

        buf.clear();
        let live = PlaylistHeader {
            endlist: false,
            ..h
        };
        render(&mut buf, &live, entries[..1].iter()).unwrap();
        assert!(buf.ends_with("seg41.ts\n"));
        assert!(!buf.contains("ENDLIST"));
    }

    #[test]
    fn fmp4_playlist_maps_before_the_first_segment_and_on_change() {
        let t0 = UNIX_EPOCH + Duration::from_millis(1_767_225_600_000);
        let e = |seq, map, disc| SegmentEntry {
            seq,
            duration: Pts90k::from_millis(1000),
            pdt: t0 + Duration::from_secs(seq - 7),
            discontinuity: disc,
            map,
        };
        let entries = [e(7, 3, false), e(8, 3, false), e(9, 4, true)];
        let h = PlaylistHeader {
            target_secs: 1,
            media_seq: 7,
            disc_seq: 0,
            endlist: false,
            container: Container::Fmp4,
        };
        let mut buf = PlaylistBuf::new();
        render(&mut buf, &h, entries.iter()).unwrap();
        let golden = "#EXTM3U
#EXT-X-VERSION:6
#EXT-X-TARGETDURATION:1
#EXT-X-MEDIA-SEQUENCE:7
#EXT-X-DISCONTINUITY-SEQUENCE:0
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MAP:URI=\"init3.mp4\"
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:00.000Z
#EXTINF:1.000,
seg7.m4s
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:01.000Z
#EXTINF:1.000,
seg8.m4s
#EXT-X-DISCONTINUITY
#EXT-X-MAP:URI=\"init4.mp4\"
#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:02.000Z
#EXTINF:1.000,
seg9.m4s
";
        assert_eq!(buf.as_str(), golden);
    }
}
