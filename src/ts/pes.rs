//! PES packet headers (ISO/IEC 13818-1 §2.4.3.6 `PES_packet`, §2.4.3.7 semantics) with the
//! 33-bit PTS/DTS encoding of Table 2-21.
//!
//! ```text
//! 0-2   packet_start_code_prefix 00 00 01
//! 3     stream_id (0xE0 video, 0xC0 audio)
//! 4-5   PES_packet_length (bytes after this field; 0 = unbounded, video only)
//! 6     '10' scrambling(2) priority(1) data_alignment(1) copyright(1) original(1)
//! 7     PTS_DTS_flags(2) ESCR ES_rate trick copy_info CRC extension
//! 8     PES_header_data_length
//! 9-13  PTS: '0010'|'0011' PTS[32..30] 1 PTS[29..15] 1 PTS[14..0] 1
//! 14-18 DTS: '0001' …                    (when PTS_DTS_flags = '11')
//! ```
//! Timestamps are unwrapped [`Pts90k`] inside hlscam and reduced with [`Pts90k::wire33`] here
//! alone. [`PesHeader::emit`] panics only if its buffer is shorter than [`PesHeader::len`];
//! [`PesPacket::new_checked`] validates so that its accessors do not panic.

use crate::time::{Pts90k, MASK_33};

/// `stream_id` of the first video stream.
pub const STREAM_ID_VIDEO: u8 = 0xE0;
/// `stream_id` of the first MPEG audio stream (also used for AAC in ADTS).
pub const STREAM_ID_AUDIO: u8 = 0xC0;
/// Largest `PES_packet_length`.
pub const MAX_PES_PACKET_LENGTH: usize = 0xFFFF;

/// A PES header as written: PTS always, DTS when it differs from PTS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PesHeader {
    /// `stream_id`.
    pub stream_id: u8,
    /// Presentation time.
    pub pts: Pts90k,
    /// Decoding time; written only when `Some` and different from `pts`.
    pub dts: Option<Pts90k>,
}

impl PesHeader {
    fn writes_dts(&self) -> bool {
        matches!(self.dts, Some(d) if d != self.pts)
    }

    /// Header length in bytes: 14, or 19 with a DTS.
    pub fn len(&self) -> usize {
        if self.writes_dts() {
            19
        } else {
            14
        }
    }

    /// Always false: a header is never empty (for clippy's `len_without_is_empty`).
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The `PES_packet_length` for `payload_len` elementary-stream bytes: exact when it fits
    /// in 16 bits, else 0 (unbounded — allowed for video only, §2.4.3.7).
    pub fn packet_length(&self, payload_len: usize) -> u16 {
        let l = self.len() - 6 + payload_len;
        if l > MAX_PES_PACKET_LENGTH {
            0
        } else {
            l as u16
        }
    }

    /// Writes the header into `buf[..self.len()]` with `data_alignment_indicator` set.
    pub fn emit(&self, buf: &mut [u8], payload_len: usize) {
        let dts = self.writes_dts();
        buf[0..3].copy_from_slice(&[0, 0, 1]);
        buf[3] = self.stream_id;
        buf[4..6].copy_from_slice(&self.packet_length(payload_len).to_be_bytes());
        buf[6] = 0x84;
        buf[7] = if dts { 0xC0 } else { 0x80 };
        buf[8] = if dts { 10 } else { 5 };
        write_timestamp(&mut buf[9..14], if dts { 0x3 } else { 0x2 }, self.pts);
        if let (true, Some(d)) = (dts, self.dts) {
            write_timestamp(&mut buf[14..19], 0x1, d);
        }
    }
}

/// Writes a 5-byte PTS/DTS field: 4-bit `prefix`, then the 33-bit wire value in 3/15/15-bit
/// parts each followed by a marker bit. Panics if `buf` is shorter than 5 bytes.
pub fn write_timestamp(buf: &mut [u8], prefix: u8, t: Pts90k) {
    let v = t.wire33();
    buf[0] = (prefix << 4) | (((v >> 30) as u8 & 0x07) << 1) | 1;
    buf[1] = (v >> 22) as u8;
    buf[2] = ((v >> 14) as u8 & 0xFE) | 1;
    buf[3] = (v >> 7) as u8;
    buf[4] = ((v << 1) as u8 & 0xFE) | 1;
}

/// Reads a 5-byte PTS/DTS field back to its 33-bit wire value. Panics if `buf` is shorter than
/// 5 bytes.
pub fn read_timestamp(buf: &[u8]) -> u64 {
    let v = (((buf[0] as u64 >> 1) & 0x07) << 30)
        | ((buf[1] as u64) << 22)
        | ((buf[2] as u64 >> 1) << 15)
        | ((buf[3] as u64) << 7)
        | (buf[4] as u64 >> 1);
    v & MASK_33
}

/// Why bytes are not the start of a PES packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PesError {
    /// Shorter than the header says.
    Truncated,
    /// No `00 00 01` prefix or bad marker bits.
    Malformed,
}

/// A read view of the start of a PES packet (its header and the first payload bytes).
#[derive(Debug, Clone)]
pub struct PesPacket<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> PesPacket<T> {
    /// Checks the prefix, the `'10'` marker and that the optional header fits.
    pub fn new_checked(buffer: T) -> Result<Self, PesError> {
        let b = buffer.as_ref();
        if b.len() < 9 {
            return Err(PesError::Truncated);
        }
        if b[..3] != [0, 0, 1] || b[6] & 0xC0 != 0x80 {
            return Err(PesError::Malformed);
        }
        let flags = b[7] >> 6;
        let need = match flags {
            0b10 => 5,
            0b11 => 10,
            0b00 => 0,
            _ => return Err(PesError::Malformed),
        };
        if (b[8] as usize) < need {
            return Err(PesError::Malformed);
        }
        if b.len() < 9 + b[8] as usize {
            return Err(PesError::Truncated);
        }
        Ok(PesPacket { buffer })
    }

    /// `stream_id`.
    pub fn stream_id(&self) -> u8 {
        self.buffer.as_ref()[3]
    }

    /// `PES_packet_length`.
    pub fn packet_length(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[4], b[5]])
    }

    /// The 33-bit PTS, if present.
    pub fn pts(&self) -> Option<u64> {
        let b = self.buffer.as_ref();
        (b[7] & 0x80 != 0).then(|| read_timestamp(&b[9..14]))
    }

    /// The 33-bit DTS, if present.
    pub fn dts(&self) -> Option<u64> {
        let b = self.buffer.as_ref();
        (b[7] & 0xC0 == 0xC0).then(|| read_timestamp(&b[14..19]))
    }

    /// Bytes after the header.
    pub fn payload(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        &b[9 + b[8] as usize..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pts_only_header() {
        let mut b = [0xA5u8; 16];
        let h = PesHeader {
            stream_id: STREAM_ID_AUDIO,
            pts: Pts90k(0x1_2345_6789),
            dts: None,
        };
        h.emit(&mut b, 100);
        // 0x1_2345_6789: bits 32..30 = 100, 29..22 = 0x8D, 21..15 = 0x0A, 14..7 = 0xCF, 6..0 = 0x09
        assert_eq!(
            b,
            [0, 0, 1, 0xC0, 0, 108, 0x84, 0x80, 5, 0x29, 0x8D, 0x15, 0xCF, 0x13, 0xA5, 0xA5]
        );
        let p = PesPacket::new_checked(&b[..]).unwrap();
        assert_eq!(p.pts(), Some(0x1_2345_6789));
        assert_eq!(p.dts(), None);
        assert_eq!(p.payload(), &[0xA5, 0xA5]);
        assert_eq!(h.len(), 14);
    }

    #[test]
    fn pts_dts_header_wraps_past_2_pow_33() {
        let mut b = [0xA5u8; 20];
        let pts = Pts90k((1 << 33) + 3003); // wraps to 3003
        let dts = Pts90k((1 << 33) - 1); // the last value before the wrap
        let h = PesHeader {
            stream_id: STREAM_ID_VIDEO,
            pts,
            dts: Some(dts),
        };
        h.emit(&mut b, 70_000);
        assert_eq!(&b[..9], &[0, 0, 1, 0xE0, 0, 0, 0x84, 0xC0, 10]);
        // PTS 3003 = 0xBBB, DTS 2^33-1 (all ones).
        assert_eq!(&b[9..14], &[0x31, 0x00, 0x01, 0x17, 0x77]);
        assert_eq!(&b[14..19], &[0x1F, 0xFF, 0xFF, 0xFF, 0xFF]);
        assert_eq!(b[19], 0xA5);
        let p = PesPacket::new_checked(&b[..]).unwrap();
        assert_eq!((p.pts(), p.dts()), (Some(3003), Some(MASK_33)));
        assert_eq!(h.packet_length(100), 113);
        // Equal DTS is not written.
        let h = PesHeader {
            stream_id: STREAM_ID_VIDEO,
            pts,
            dts: Some(pts),
        };
        assert_eq!(h.len(), 14);
    }

    #[test]
    fn rejects_garbage() {
        assert_eq!(
            PesPacket::new_checked(&[0u8; 4][..]).unwrap_err(),
            PesError::Truncated
        );
        let b = [0, 0, 2, 0xE0, 0, 0, 0x80, 0x80, 5, 0, 0, 0, 0, 0];
        assert_eq!(
            PesPacket::new_checked(&b[..]).unwrap_err(),
            PesError::Malformed
        );
        let b = [0, 0, 1, 0xE0, 0, 0, 0x80, 0x80, 5, 0, 0];
        assert_eq!(
            PesPacket::new_checked(&b[..]).unwrap_err(),
            PesError::Truncated
        );
    }
}
