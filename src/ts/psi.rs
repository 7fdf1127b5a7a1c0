//! Program-specific information: the program association section (ISO/IEC 13818-1 §2.4.4.3,
//! Table 2-30) and the TS program map section (§2.4.4.8, Table 2-33), each in one packet.
//!
//! ```text
//! PAT: table_id 0x00 | '1' '0' '11' section_length(12) | transport_stream_id | '11' version(5)
//!      current_next(1) | section_number | last_section_number | program_number '111' PMT_PID | CRC32
//! PMT: table_id 0x02 | … | program_number | … | '111' PCR_PID | '1111' program_info_length(12)=0
//!      | { stream_type | '111' elementary_PID | '1111' ES_info_length=0 } | CRC32
//! ```
//! The CRC is CRC-32/MPEG-2 ([`super::crc`]). In the packet the section follows a
//! `pointer_field` of 0 and is padded to 188 bytes with 0xFF (§2.4.4.2). `emit` methods panic
//! only if the buffer is shorter than `len()`; [`Section::new_checked`] validates length and
//! CRC so that its accessors do not panic.

use super::crc::crc32_mpeg2;

/// `table_id` of the program association section.
pub const TABLE_ID_PAT: u8 = 0x00;
/// `table_id` of the TS program map section.
pub const TABLE_ID_PMT: u8 = 0x02;
/// `stream_type` for AVC video (ITU-T H.264).
pub const STREAM_TYPE_H264: u8 = 0x1B;
/// `stream_type` for AAC audio in ADTS (ISO/IEC 13818-7).
pub const STREAM_TYPE_AAC_ADTS: u8 = 0x0F;

/// Writes the 8-byte long-form section header; `body_len` counts the bytes after it, CRC
/// excluded.
fn emit_header(buf: &mut [u8], table_id: u8, extension: u16, body_len: usize) {
    let section_length = 5 + body_len + 4;
    buf[0] = table_id;
    buf[1] = 0xB0 | ((section_length >> 8) as u8 & 0x0F);
    buf[2] = section_length as u8;
    buf[3..5].copy_from_slice(&extension.to_be_bytes());
    buf[5] = 0xC1; // reserved '11', version 0, current_next_indicator 1
    buf[6] = 0; // section_number
    buf[7] = 0; // last_section_number
}

fn emit_crc(buf: &mut [u8], len: usize) {
    let crc = crc32_mpeg2(&buf[..len - 4]);
    buf[len - 4..len].copy_from_slice(&crc.to_be_bytes());
}

fn pid_bytes(pid: u16) -> [u8; 2] {
    [0xE0 | ((pid >> 8) as u8 & 0x1F), pid as u8]
}

/// A program association table with one program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatRepr {
    /// `transport_stream_id`.
    pub transport_stream_id: u16,
    /// `program_number` of the single program.
    pub program_number: u16,
    /// PID carrying that program's PMT.
    pub pmt_pid: u16,
}

impl PatRepr {
    /// Section length in bytes, from `table_id` through the CRC.
    pub const LEN: usize = 16;

    /// Writes the section into `buf[..16]`; returns 16.
    pub fn emit(&self, buf: &mut [u8]) -> usize {
        emit_header(buf, TABLE_ID_PAT, self.transport_stream_id, 4);
        buf[8..10].copy_from_slice(&self.program_number.to_be_bytes());
        buf[10..12].copy_from_slice(&pid_bytes(self.pmt_pid));
        emit_crc(buf, Self::LEN);
        Self::LEN
    }
}

/// One elementary stream of a program.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EsRepr {
    /// `stream_type`.
    pub stream_type: u8,
    /// `elementary_PID`.
    pub pid: u16,
}

/// A program map table: one program, no descriptors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PmtRepr<'a> {
    /// `program_number`.
    pub program_number: u16,
    /// `PCR_PID`.
    pub pcr_pid: u16,
    /// The elementary streams (at most 33 fit in one packet).
    pub streams: &'a [EsRepr],
}

impl PmtRepr<'_> {
    /// Section length in bytes, from `table_id` through the CRC.
    pub fn len(&self) -> usize {
        8 + 4 + 5 * self.streams.len() + 4
    }

    /// Always false (a section always has a header).
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Writes the section into `buf[..self.len()]`; returns the length.
    pub fn emit(&self, buf: &mut [u8]) -> usize {
        let len = self.len();
        emit_header(buf, TABLE_ID_PMT, self.program_number, len - 12);
        buf[8..10].copy_from_slice(&pid_bytes(self.pcr_pid));
        buf[10..12].copy_from_slice(&[0xF0, 0x00]);
        for (i, es) in self.streams.iter().enumerate() {
            let at = 12 + 5 * i;
            buf[at] = es.stream_type;
            buf[at + 1..at + 3].copy_from_slice(&pid_bytes(es.pid));
            buf[at + 3..at + 5].copy_from_slice(&[0xF0, 0x00]);
        }
        emit_crc(buf, len);
        len
    }
}

/// Why bytes are not a valid long-form section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SectionError {
    /// Shorter than `section_length` says.
    Truncated,
    /// `section_syntax_indicator` clear or too short to hold a CRC.
    Malformed,
    /// CRC mismatch.
    Crc,
}

/// A read view of a long-form PSI section (starting at `table_id`).
#[derive(Debug, Clone)]
pub struct Section<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Section<T> {
    /// Checks length, syntax indicator and CRC.
    pub fn new_checked(buffer: T) -> Result<Self, SectionError> {
        let b = buffer.as_ref();
        if b.len() < 3 {
            return Err(SectionError::Truncated);
        }
        if b[1] & 0x80 == 0 {
            return Err(SectionError::Malformed);
        }
        let sl = (((b[1] & 0x0F) as usize) << 8) | b[2] as usize;
        if sl < 9 {
            return Err(SectionError::Malformed);
        }
        if b.len() < 3 + sl {
            return Err(SectionError::Truncated);
        }
        if crc32_mpeg2(&b[..3 + sl]) != 0 {
            return Err(SectionError::Crc);
        }
        Ok(Section { buffer })
    }

    /// `table_id`.
    pub fn table_id(&self) -> u8 {
        self.buffer.as_ref()[0]
    }

    /// `section_length`.
    pub fn section_length(&self) -> usize {
        let b = self.buffer.as_ref();
        (((b[1] & 0x0F) as usize) << 8) | b[2] as usize
    }

    /// `transport_stream_id` (PAT) or `program_number` (PMT).
    pub fn table_id_extension(&self) -> u16 {
        let b = self.buffer.as_ref();
        u16::from_be_bytes([b[3], b[4]])
    }

    /// The table's loop bytes (after `last_section_number`, before the CRC).
    pub fn data(&self) -> &[u8] {
        &self.buffer.as_ref()[8..3 + self.section_length() - 4]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pat_bytes() {
        let mut b = [0xA5u8; 18];
        let n = PatRepr {
            transport_stream_id: 1,
            program_number: 1,
            pmt_pid: 0x1000,
        }
        .emit(&mut b);
        assert_eq!(n, 16);
        // Byte for byte what ffmpeg's mpegts muxer writes for the same table.
        assert_eq!(
            b[..16],
            [
                0x00, 0xB0, 0x0D, 0x00, 0x01, 0xC1, 0x00, 0x00, 0x00, 0x01, 0xF0, 0x00, 0x2A, 0xB1,
                0x04, 0xB2
            ]
        );
        assert_eq!(b[16..], [0xA5, 0xA5]);
        let s = Section::new_checked(&b[..]).unwrap();
        assert_eq!((s.table_id(), s.table_id_extension()), (0, 1));
        assert_eq!(s.data(), &[0x00, 0x01, 0xF0, 0x00]);
    }

    #[test]
    fn pmt_bytes() {
        let mut b = [0xA5u8; 28];
        let streams = [
            EsRepr {
                stream_type: STREAM_TYPE_H264,
                pid: 0x100,
            },
            EsRepr {
                stream_type: STREAM_TYPE_AAC_ADTS,
                pid: 0x101,
            },
        ];
        let pmt = PmtRepr {
            program_number: 1,
            pcr_pid: 0x100,
            streams: &streams,
        };
        assert_eq!(pmt.emit(&mut b), 26);
        // Byte for byte what ffmpeg's mpegts muxer writes for H.264 on 0x100 + AAC on 0x101.
        assert_eq!(
            b[..26],
            [
                0x02, 0xB0, 0x17, 0x00, 0x01, 0xC1, 0x00, 0x00, 0xE1, 0x00, 0xF0, 0x00, 0x1B, 0xE1,
                0x00, 0xF0, 0x00, 0x0F, 0xE1, 0x01, 0xF0, 0x00, 0x2F, 0x44, 0xB9, 0x9B
            ]
        );
        assert_eq!(b[26..], [0xA5, 0xA5]);
        let mut bad = b;
        bad[13] ^= 1;
        assert_eq!(
            Section::new_checked(&bad[..]).unwrap_err(),
            SectionError::Crc
        );
        assert_eq!(
            Section::new_checked(&b[..20]).unwrap_err(),
            SectionError::Truncated
        );
        assert_eq!(Section::new_checked(&b[..]).unwrap().data().len(), 14);
    }
}
