//! The chunk index: one append-only file `<chunk>.idx` per chunk of fixed-size binary records,
//! one per segment, each carrying its own CRC (DESIGN §2 item 20: the index is written after
//! the data it describes is on disk, and deleted before it).
//!
//! Why not SQLite: a record is [`RECORD_LEN`] = 48 bytes (a day of 2 s segments is 2 MiB of
//! index, no pages, journal or WAL); the only write is an `append` of whole records after the
//! data's fsync (one sequential write, no read-modify-write of B-tree pages); and the crash
//! semantics are simple to state and to repair: a torn or never-written tail fails its CRC and
//! is dropped, everything before it is valid, and deleting a chunk is two `unlink`s. SQLite
//! would add ~600 KB to a 2 MB binary for none of its query power (the index is read whole).
//!
//! CRC: the project's CRC-32/MPEG-2 ([`crate::ts::crc::crc32_mpeg2`]): the same polynomial as
//! the zlib CRC-32, so the same error detection on 44 bytes, and no new crate. Its initial
//! value 0xFFFFFFFF means an all-zero record (a hole left by a crash) does not check.
//!
//! Record layout, little-endian: offset u64, length u32, duration u32 (90 kHz), first PTS u64
//! (90 kHz), wall clock u64 (ns since 1970), sequence u64, flags u32, CRC u32 of the 44 bytes
//! before it.

use crate::time::Pts90k;
use crate::ts::crc::crc32_mpeg2;

/// Bytes per index record.
pub const RECORD_LEN: usize = 48;
/// Flag: the segment begins a discontinuity.
pub const FLAG_DISCONTINUITY: u32 = 1;
/// Flag: the record was rebuilt from the chunk by a repair (duration and wall clock derived).
pub const FLAG_REBUILT: u32 = 2;
/// Flag: the segment was recorded because of an event or a manual start (`mode = "events"`),
/// not by continuous recording.
pub const FLAG_EVENT: u32 = 4;
/// Flag: the wall clock was not synchronised (no NTP yet, `adjtimex` reports `TIME_ERROR`)
/// when the segment was recorded: its wall-clock time may be wrong.
pub const FLAG_UNSYNCED: u32 = 8;
/// Flag: the wall clock stepped (NTP sync, manual set) between the previous segment and this
/// one; the segment also begins a discontinuity.
pub const FLAG_CLOCK_STEP: u32 = 16;

/// One segment of a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexRecord {
    /// Byte offset in the chunk.
    pub offset: u64,
    /// Byte length.
    pub len: u32,
    /// Duration.
    pub duration: Pts90k,
    /// PTS of its first video frame.
    pub pts: Pts90k,
    /// Wall clock of its first frame, ns since 1970.
    pub wall_ns: u64,
    /// Live sequence number.
    pub seq: u64,
    /// [`FLAG_DISCONTINUITY`], [`FLAG_REBUILT`], [`FLAG_EVENT`], [`FLAG_UNSYNCED`],
    /// [`FLAG_CLOCK_STEP`].
    pub flags: u32,
}

impl IndexRecord {
    /// Offset of the byte after the segment.
    pub fn end(&self) -> u64 {
        self.offset + u64::from(self.len)
    }

    /// The record's bytes, CRC included.
    pub fn encode(&self) -> [u8; RECORD_LEN] {
        let mut b = [0u8; RECORD_LEN];
        b[0..8].copy_from_slice(&self.offset.to_le_bytes());
        b[8..12].copy_from_slice(&self.len.to_le_bytes());
        b[12..16].copy_from_slice(&(self.duration.0.min(u64::from(u32::MAX)) as u32).to_le_bytes());
        b[16..24].copy_from_slice(&self.pts.0.to_le_bytes());
        b[24..32].copy_from_slice(&self.wall_ns.to_le_bytes());
        b[32..40].copy_from_slice(&self.seq.to_le_bytes());
        b[40..44].copy_from_slice(&self.flags.to_le_bytes());
        let crc = crc32_mpeg2(&b[..44]);
        b[44..48].copy_from_slice(&crc.to_le_bytes());
        b
    }

    /// The record in `b`, or `None` when its CRC does not check.
    pub fn decode(b: &[u8; RECORD_LEN]) -> Option<IndexRecord> {
        let u64at = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap_or_default());
        let u32at = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap_or_default());
        if crc32_mpeg2(&b[..44]) != u32at(44) {
            return None;
        }
        Some(IndexRecord {
            offset: u64at(0),
            len: u32at(8),
            duration: Pts90k(u64::from(u32at(12))),
            pts: Pts90k(u64at(16)),
            wall_ns: u64at(24),
            seq: u64at(32),
            flags: u32at(40),
        })
    }
}

/// The leading valid records of an index file's bytes: reading stops at the first record that
/// is torn (short), fails its CRC, or does not follow the one before it (offsets contiguous
/// from 0). Returns the records and whether anything after them was dropped.
pub fn parse(bytes: &[u8]) -> (Vec<IndexRecord>, bool) {
    let mut out = Vec::with_capacity(bytes.len() / RECORD_LEN);
    let mut next = 0u64;
    let mut chunks = bytes.chunks_exact(RECORD_LEN);
    for c in chunks.by_ref() {
        let Some(r) = c.try_into().ok().and_then(IndexRecord::decode) else {
            return (out, true);
        };
        if r.offset != next || r.len == 0 {
            return (out, true);
        }
        next = r.end();
        out.push(r);
    }
    let torn = !chunks.remainder().is_empty();
    (out, torn)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(offset: u64, len: u32, seq: u64) -> IndexRecord {
        IndexRecord {
            offset,
            len,
            duration: Pts90k(180_000),
            pts: Pts90k(90_000 + seq * 180_000),
            wall_ns: 1_780_000_000_000_000_000 + seq,
            seq,
            flags: if seq == 0 { FLAG_DISCONTINUITY } else { 0 },
        }
    }

    #[test]
    fn records_round_trip_and_reject_any_flipped_bit() {
        let r = rec(376, 188 * 9, 3);
        let b = r.encode();
        assert_eq!(IndexRecord::decode(&b), Some(r));
        for i in 0..RECORD_LEN * 8 {
            let mut c = b;
            c[i / 8] ^= 1 << (i % 8);
            assert_eq!(IndexRecord::decode(&c), None, "bit {i}");
        }
        assert_eq!(IndexRecord::decode(&[0; RECORD_LEN]), None);
        assert_eq!(IndexRecord::decode(&[0xA5; RECORD_LEN]), None);
    }

    #[test]
    fn parse_stops_at_a_torn_or_foreign_tail() {
        let mut bytes = Vec::new();
        for (i, r) in [rec(0, 188, 0), rec(188, 376, 1), rec(564, 188, 2)]
            .iter()
            .enumerate()
        {
            let _ = i;
            bytes.extend_from_slice(&r.encode());
        }
        assert_eq!(
            parse(&bytes),
            (
                vec![rec(0, 188, 0), rec(188, 376, 1), rec(564, 188, 2)],
                false
            )
        );
        let mut torn = bytes.clone();
        torn.extend_from_slice(&[0xA5; 20]);
        assert_eq!(parse(&torn).0.len(), 3);
        assert!(parse(&torn).1);
        let mut bad = bytes[..RECORD_LEN * 2].to_vec();
        bad.extend_from_slice(&[0xA5; RECORD_LEN]);
        bad.extend_from_slice(&rec(564, 188, 2).encode());
        assert_eq!(parse(&bad), (vec![rec(0, 188, 0), rec(188, 376, 1)], true));
        // A gap in the offsets ends the valid part too.
        let mut gap = rec(0, 188, 0).encode().to_vec();
        gap.extend_from_slice(&rec(200, 188, 1).encode());
        assert_eq!(parse(&gap), (vec![rec(0, 188, 0)], true));
    }
}
