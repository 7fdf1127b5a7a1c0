//! Chunk files: names and the MPEG-TS scan a repair rebuilds a lost index with.
//!
//! A chunk is `YYYYMMDDTHHMMSSZ.ts` (UTC start of its first segment; `-N` before `.ts` when
//! the name is taken), holding whole live segments byte for byte. Every segment the muxer
//! writes begins with a PAT packet (payload unit start, PID 0), then the PMT, then the IDR's
//! PES (DESIGN §1b): the scan cuts at PATs.

use std::time::SystemTime;

use crate::time::Pts90k;

/// MPEG-TS packet size.
pub const TS_PACKET: usize = 188;
/// Chunk file extension.
pub const CHUNK_EXT: &str = ".ts";
/// Index file extension (after the chunk's whole name).
pub const INDEX_EXT: &str = ".idx";
/// Lock marker extension (after the chunk's whole name): retention keeps a chunk that has one.
pub const LOCK_EXT: &str = ".lock";
/// Suffix of files being written by something that did not finish (removed by repair).
pub const TMP_EXT: &str = ".tmp";

/// `YYYYMMDDTHHMMSSZ` of `t` (UTC).
pub fn stamp(t: SystemTime) -> String {
    crate::time::basic_utc(t)
}

/// The chunk name for `t` with collision number `n` (0 = none).
pub fn chunk_name(t: SystemTime, n: u32) -> String {
    if n == 0 {
        format!("{}{CHUNK_EXT}", stamp(t))
    } else {
        format!("{}-{n}{CHUNK_EXT}", stamp(t))
    }
}

/// Whether `name` is a chunk's name (`YYYYMMDDTHHMMSSZ[-N].ts`).
pub fn is_chunk_name(name: &str) -> bool {
    name.strip_suffix(CHUNK_EXT).is_some_and(is_chunk_id)
}

/// Whether `id` is a chunk's id: its name without `.ts` (`YYYYMMDDTHHMMSSZ[-N]`), as the
/// recordings API names spans.
pub fn is_chunk_id(id: &str) -> bool {
    let (stamp, n) = id.split_once('-').unwrap_or((id, "0"));
    let b = stamp.as_bytes();
    b.len() == 16
        && b[8] == b'T'
        && b[15] == b'Z'
        && b[..8].iter().chain(&b[9..15]).all(u8::is_ascii_digit)
        && !n.is_empty()
        && n.bytes().all(|c| c.is_ascii_digit())
}

/// A segment found by [`scan`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    /// Byte offset.
    pub offset: u64,
    /// Byte length.
    pub len: u64,
    /// PTS of its first video PES, if one was found.
    pub pts: Option<Pts90k>,
    /// Whether its first video PES had `random_access_indicator` set.
    pub idr: bool,
}

fn pes_pts(p: &[u8]) -> Option<u64> {
    // p: PES header onwards. 00 00 01 sid len(2) flags(2) hdrlen pts(5)
    if p.len() < 14 || p[..3] != [0, 0, 1] || p[7] & 0x80 == 0 {
        return None;
    }
    let t = &p[9..14];
    Some(
        (u64::from(t[0] >> 1) & 7) << 30
            | u64::from(t[1]) << 22
            | (u64::from(t[2]) >> 1) << 15
            | u64::from(t[3]) << 7
            | u64::from(t[4]) >> 1,
    )
}

/// The segments of a chunk's bytes: cut before every PAT that starts a payload, up to the last
/// whole packet in sync. Bytes before the first PAT, or a packet out of sync, end the scan.
pub fn scan(bytes: &[u8]) -> Vec<Found> {
    let mut out: Vec<Found> = Vec::new();
    let mut video_seen = false;
    let mut pos = 0usize;
    while pos + TS_PACKET <= bytes.len() {
        let p = &bytes[pos..pos + TS_PACKET];
        if p[0] != 0x47 {
            break;
        }
        let pusi = p[1] & 0x40 != 0;
        let pid = (u16::from(p[1] & 0x1f) << 8) | u16::from(p[2]);
        let afc = (p[3] >> 4) & 3;
        if pid == 0 && pusi {
            if let Some(last) = out.last_mut() {
                last.len = pos as u64 - last.offset;
            }
            out.push(Found {
                offset: pos as u64,
                len: 0,
                pts: None,
                idr: false,
            });
            video_seen = false;
        } else if out.is_empty() {
            break;
        } else if pusi && !video_seen {
            let (payload, rai) = match afc {
                1 => (&p[4..], false),
                3 => {
                    let al = usize::from(p[4]);
                    let rai = al > 0 && p[5] & 0x40 != 0;
                    (p.get(5 + al..).unwrap_or(&[]), rai)
                }
                _ => (&[][..], false),
            };
            if payload.len() > 3 && payload[3] & 0xF0 == 0xE0 {
                video_seen = true;
                if let Some(last) = out.last_mut() {
                    last.pts = pes_pts(payload).map(Pts90k);
                    last.idr = rai;
                }
            }
        }
        pos += TS_PACKET;
    }
    if let Some(last) = out.last_mut() {
        last.len = pos as u64 - last.offset;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_by_time_and_are_recognised() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_780_000_000);
        assert_eq!(chunk_name(t, 0), "20260528T202640Z.ts");
        assert_eq!(chunk_name(t, 2), "20260528T202640Z-2.ts");
        assert!(is_chunk_name("20260528T202640Z.ts"));
        assert!(is_chunk_name("20260528T202640Z-2.ts"));
        assert!(is_chunk_id("20260528T202640Z-2"));
        assert!(!is_chunk_id("20260528T202640Z.ts"));
        assert!(!is_chunk_id("../20260528T202640Z"));
        for bad in [
            "20260528T202640Z.ts.idx",
            "x.ts",
            "20260528T202640Z-.ts",
            "seg1.ts",
        ] {
            assert!(!is_chunk_name(bad), "{bad}");
        }
    }
}
