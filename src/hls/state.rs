//! The restart state file: enough to continue numbering and rebuild the live window after the
//! process restarts (RFC 8216 §6.2.2: the media sequence number must never go back, and
//! discontinuity numbering must stay consistent for clients that keep polling).
//!
//! A small line-oriented text format, written on every publish through
//! [`super::store::SegmentStore::write_state`] (temp file, fsync, rename, fsync directory):
//!
//! ```text
//! hlscam-hls-state 1
//! target 2
//! next 44
//! media 38
//! disc 1
//! fmp4 3 81234567                         (fMP4 only: next init generation, next decode time)
//! seg 38 180000 1767225600000 0 [2]
//! ...                                     (seq, duration in 90 kHz ticks, PDT in ms since
//! end                                      the Unix epoch, discontinuity 0/1, fMP4 only: the
//! ```                                      init generation of the segment)
//!
//! An MPEG-TS output writes neither the `fmp4` line nor the fifth field, so its state file is
//! what it has always been.
//!
//! [`encode`] writes into a fixed buffer without allocating; [`decode`] (start-up only) rejects
//! anything malformed so the caller can start fresh.

use std::fmt::{self, Write};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::ring::{SegmentEntry, MAX_WINDOW};
use crate::time::Pts90k;

/// Capacity of the state buffer (a full [`MAX_WINDOW`] window at 20-digit numbers fits).
pub const STATE_CAP: usize = 8192;
/// The fixed buffer the state is encoded into.
pub type StateBuf = heapless::String<STATE_CAP>;

const MAGIC: &str = "hlscam-hls-state 1";

/// What the state file records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SavedState {
    /// Target duration (s) the window was written with.
    pub target_secs: u32,
    /// Sequence number the next segment would have had.
    pub next_seq: u64,
    /// `EXT-X-MEDIA-SEQUENCE` of the saved window.
    pub media_seq: u64,
    /// `EXT-X-DISCONTINUITY-SEQUENCE` of the saved window.
    pub disc_seq: u64,
    /// fMP4 outputs: where the next run continues.
    pub fmp4: Option<Fmp4State>,
    /// The window, oldest first, consecutive sequence numbers from `media_seq`.
    pub entries: Vec<SegmentEntry>,
}

/// The part of the state only an fMP4 output has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Fmp4State {
    /// Generation the next initialisation segment gets (`init<G>.mp4` names are never reused).
    pub next_init: u32,
    /// Decode time (90 kHz) at which the next fragment's video starts, so `tfdt` continues.
    pub decode_end: u64,
}

/// Why a state file was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorruptState(pub String);

impl fmt::Display for CorruptState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "corrupt HLS state: {}", self.0)
    }
}

impl std::error::Error for CorruptState {}

fn pdt_millis(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap_or_default().as_millis() as u64
}

/// Encodes the state into `w` (cleared by the caller). No allocation.
pub fn encode<'a, W: Write>(
    w: &mut W,
    target_secs: u32,
    next_seq: u64,
    media_seq: u64,
    disc_seq: u64,
    fmp4: Option<Fmp4State>,
    entries: impl Iterator<Item = &'a SegmentEntry>,
) -> fmt::Result {
    write!(
        w,
        "{MAGIC}\ntarget {target_secs}\nnext {next_seq}\nmedia {media_seq}\ndisc {disc_seq}\n"
    )?;
    if let Some(f) = fmp4 {
        writeln!(w, "fmp4 {} {}", f.next_init, f.decode_end)?;
    }
    for e in entries {
        write!(
            w,
            "seg {} {} {} {}",
            e.seq,
            e.duration.0,
            pdt_millis(e.pdt),
            u8::from(e.discontinuity)
        )?;
        if fmp4.is_some() {
            write!(w, " {}", e.map)?;
        }
        w.write_char('\n')?;
    }
    w.write_str("end\n")
}

fn bad(msg: impl Into<String>) -> CorruptState {
    CorruptState(msg.into())
}

fn field<'a>(line: Option<&'a str>, key: &str) -> Result<&'a str, CorruptState> {
    let line = line.ok_or_else(|| bad(format!("missing `{key}`")))?;
    line.strip_prefix(key)
        .and_then(|r| r.strip_prefix(' '))
        .ok_or_else(|| bad(format!("expected `{key}`, found `{line}`")))
}

fn num<T: std::str::FromStr>(s: &str, what: &str) -> Result<T, CorruptState> {
    s.parse().map_err(|_| bad(format!("bad {what} `{s}`")))
}

/// Parses a state file; any deviation from the format is an error.
pub fn decode(bytes: &[u8]) -> Result<SavedState, CorruptState> {
    let text = std::str::from_utf8(bytes).map_err(|_| bad("not UTF-8"))?;
    let mut lines = text.lines();
    if lines.next() != Some(MAGIC) {
        return Err(bad("missing header"));
    }
    let target_secs = num(field(lines.next(), "target")?, "target")?;
    let next_seq: u64 = num(field(lines.next(), "next")?, "next")?;
    let media_seq: u64 = num(field(lines.next(), "media")?, "media")?;
    let disc_seq = num(field(lines.next(), "disc")?, "disc")?;
    let mut entries = Vec::new();
    let mut fmp4 = None;
    let mut pending = lines.next();
    if let Some(rest) = pending.and_then(|l| l.strip_prefix("fmp4 ")) {
        let (g, d) = rest
            .split_once(' ')
            .ok_or_else(|| bad(format!("bad fmp4 line `{rest}`")))?;
        fmp4 = Some(Fmp4State {
            next_init: num(g, "init generation")?,
            decode_end: num(d, "decode time")?,
        });
        pending = lines.next();
    }
    loop {
        let line = pending.take().or_else(|| lines.next());
        let line = line.ok_or_else(|| bad("missing `end`"))?;
        if line == "end" {
            break;
        }
        let rest = field(Some(line), "seg")?;
        let mut it = rest.split(' ');
        let mut next = |what| it.next().ok_or_else(|| bad(format!("missing {what}")));
        let seq: u64 = num(next("seq")?, "seq")?;
        let ticks: u64 = num(next("duration")?, "duration")?;
        let ms: u64 = num(next("pdt")?, "pdt")?;
        let disc = match next("discontinuity")? {
            "0" => false,
            "1" => true,
            other => return Err(bad(format!("bad discontinuity flag `{other}`"))),
        };
        let map = match (fmp4.is_some(), it.next()) {
            (true, Some(g)) => num(g, "init generation")?,
            (true, None) => return Err(bad(format!("missing init generation in `{line}`"))),
            (false, Some(_)) => return Err(bad(format!("trailing data in `{line}`"))),
            (false, None) => 0,
        };
        if it.next().is_some() {
            return Err(bad(format!("trailing data in `{line}`")));
        }
        if seq != media_seq + entries.len() as u64 {
            return Err(bad(format!("segment {seq} out of sequence")));
        }
        if entries.len() == MAX_WINDOW {
            return Err(bad("window too long"));
        }
        entries.push(SegmentEntry {
            seq,
            duration: Pts90k(ticks),
            pdt: UNIX_EPOCH + Duration::from_millis(ms),
            discontinuity: disc,
            map,
        });
    }
    if lines.next().is_some() {
        return Err(bad("data after `end`"));
    }
    if next_seq < media_seq + entries.len() as u64 {
        return Err(bad("next sequence number behind the window"));
    }
    Ok(SavedState {
        target_secs,
        next_seq,
        media_seq,
        disc_seq,
        fmp4,
        entries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SavedState {
        let t0 = UNIX_EPOCH + Duration::from_millis(1_767_225_600_123);
        SavedState {
            target_secs: 2,
            next_seq: 12,
            media_seq: 10,
            disc_seq: 4,
            fmp4: None,
            entries: vec![
                SegmentEntry {
                    seq: 10,
                    duration: Pts90k(180_000),
                    pdt: t0,
                    discontinuity: true,
                    map: 0,
                },
                SegmentEntry {
                    seq: 11,
                    duration: Pts90k(183_003),
                    pdt: t0 + Duration::from_secs(2),
                    discontinuity: false,
                    map: 0,
                },
            ],
        }
    }

    fn enc(s: &SavedState) -> StateBuf {
        let mut b = StateBuf::new();
        encode(
            &mut b,
            s.target_secs,
            s.next_seq,
            s.media_seq,
            s.disc_seq,
            s.fmp4,
            s.entries.iter(),
        )
        .unwrap();
        b
    }

    #[test]
    fn round_trip() {
        let s = sample();
        let b = enc(&s);
        assert_eq!(
            b.as_str(),
            "hlscam-hls-state 1\ntarget 2\nnext 12\nmedia 10\ndisc 4\n\
             seg 10 180000 1767225600123 1\nseg 11 183003 1767225602123 0\nend\n"
        );
        assert_eq!(decode(b.as_bytes()).unwrap(), s);
    }

    #[test]
    fn fmp4_round_trip() {
        let mut s = sample();
        s.fmp4 = Some(Fmp4State {
            next_init: 3,
            decode_end: 81_234_567,
        });
        s.entries[0].map = 1;
        s.entries[1].map = 2;
        let b = enc(&s);
        assert!(b.contains("disc 4\nfmp4 3 81234567\nseg 10 180000 1767225600123 1 1\n"));
        assert_eq!(decode(b.as_bytes()).unwrap(), s);
        assert!(decode(b.replace(" 1 1\n", " 1\n").as_bytes()).is_err());
    }

    #[test]
    fn full_window_fits() {
        let mut s = sample();
        s.media_seq = u64::MAX / 2;
        s.entries = (0..MAX_WINDOW as u64)
            .map(|i| SegmentEntry {
                seq: s.media_seq + i,
                duration: Pts90k(u64::MAX / 4),
                pdt: UNIX_EPOCH + Duration::from_millis(99_999_999_999_999),
                discontinuity: true,
                map: u32::MAX,
            })
            .collect();
        s.fmp4 = Some(Fmp4State {
            next_init: u32::MAX,
            decode_end: u64::MAX,
        });
        s.next_seq = u64::MAX;
        assert_eq!(decode(enc(&s).as_bytes()).unwrap(), s);
    }

    #[test]
    fn corrupt_files_are_rejected() {
        let good = enc(&sample());
        let good = good.as_str();
        let cases = [
            String::new(),
            "garbage".to_owned(),
            good[..good.len() - 4].to_owned(), // truncated: no `end`
            good.replace("next 12", "next x"), // bad number
            good.replace("seg 11", "seg 13"),  // gap
            good.replace(" 0\nend", " 2\nend"), // bad flag
            good.replace("next 12", "next 11"), // behind the window
            format!("{good}extra\n"),          // trailing data
            good.replace("target 2\n", ""),    // missing field
        ];
        for c in &cases {
            assert!(decode(c.as_bytes()).is_err(), "accepted {c:?}");
        }
        assert!(decode(&[0xff, 0xfe]).is_err());
    }
}
