//! AAC in ADTS framing (ISO/IEC 14496-3 §1.A.2.2, `adts_fixed_header` + `adts_variable_header`).
//!
//! ```text
//! byte 0-1  syncword 0xFFF (12) | ID (1) | layer 00 (2) | protection_absent (1)
//! byte 2    profile (2) | sampling_frequency_index (4) | private (1) | channel_config (3 of 3..)
//! byte 3-5  … | frame_length (13, header included) | buffer_fullness (11)
//! byte 6    … | number_of_raw_data_blocks_in_frame (2)
//! ```
//! [`AdtsHeader::parse`] and [`AdtsFrames`] never panic; they return [`AdtsError`] on bad input.

use std::fmt;

/// Sampling frequencies by `sampling_frequency_index` (ISO/IEC 14496-3 Table 1.18).
pub const SAMPLE_RATES: [u32; 13] = [
    96_000, 88_200, 64_000, 48_000, 44_100, 32_000, 24_000, 22_050, 16_000, 12_000, 11_025, 8_000,
    7_350,
];

/// Samples per channel in one raw data block (AAC LC).
pub const SAMPLES_PER_BLOCK: u32 = 1024;

/// Length of an ADTS header without CRC.
pub const HEADER_LEN: usize = 7;

/// Why an ADTS frame was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdtsError {
    /// Fewer than 7 bytes.
    TooShort,
    /// No 0xFFF syncword or layer ≠ 0.
    BadSync,
    /// Reserved sampling frequency index.
    BadSampleRate,
    /// `frame_length` shorter than the header.
    BadLength,
    /// `frame_length` runs past the end of the data.
    Truncated,
}

impl fmt::Display for AdtsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AdtsError::TooShort => "ADTS header shorter than 7 bytes",
            AdtsError::BadSync => "no ADTS syncword",
            AdtsError::BadSampleRate => "reserved ADTS sampling frequency index",
            AdtsError::BadLength => "ADTS frame_length shorter than its header",
            AdtsError::Truncated => "ADTS frame runs past the end of the data",
        })
    }
}

impl std::error::Error for AdtsError {}

/// The fields of one ADTS header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AdtsHeader {
    /// `profile` field: audio object type − 1 (1 = AAC LC).
    pub profile: u8,
    /// `sampling_frequency_index`.
    pub sample_rate_index: u8,
    /// Sampling frequency in Hz.
    pub sample_rate: u32,
    /// `channel_configuration`.
    pub channels: u8,
    /// Whole frame length in bytes, header included.
    pub frame_length: usize,
    /// 7, or 9 when a CRC follows the header.
    pub header_len: usize,
    /// Raw data blocks in the frame (1..=4).
    pub blocks: u8,
}

impl AdtsHeader {
    /// Parses the header at the start of `b` (the frame itself may be truncated: see
    /// [`AdtsFrames`] for a checked walk).
    pub fn parse(b: &[u8]) -> Result<AdtsHeader, AdtsError> {
        if b.len() < HEADER_LEN {
            return Err(AdtsError::TooShort);
        }
        if b[0] != 0xFF || b[1] & 0xF6 != 0xF0 {
            return Err(AdtsError::BadSync);
        }
        let header_len = if b[1] & 1 == 1 { 7 } else { 9 };
        let sample_rate_index = (b[2] >> 2) & 0x0F;
        let sample_rate = *SAMPLE_RATES
            .get(sample_rate_index as usize)
            .ok_or(AdtsError::BadSampleRate)?;
        let frame_length =
            ((b[3] as usize & 0x03) << 11) | ((b[4] as usize) << 3) | (b[5] as usize >> 5);
        if frame_length < header_len {
            return Err(AdtsError::BadLength);
        }
        Ok(AdtsHeader {
            profile: b[2] >> 6,
            sample_rate_index,
            sample_rate,
            channels: ((b[2] & 1) << 2) | (b[3] >> 6),
            frame_length,
            header_len,
            blocks: (b[6] & 0x03) + 1,
        })
    }

    /// Samples per channel carried by the frame.
    pub fn samples(&self) -> u32 {
        SAMPLES_PER_BLOCK * self.blocks as u32
    }
}

/// Iterator over concatenated ADTS frames: yields each header with the whole frame's bytes.
/// After the first error it yields nothing more.
#[derive(Debug, Clone)]
pub struct AdtsFrames<'a> {
    rest: &'a [u8],
}

impl<'a> AdtsFrames<'a> {
    /// Walks `data`.
    pub fn new(data: &'a [u8]) -> Self {
        AdtsFrames { rest: data }
    }
}

impl<'a> Iterator for AdtsFrames<'a> {
    type Item = Result<(AdtsHeader, &'a [u8]), AdtsError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let r = AdtsHeader::parse(self.rest).and_then(|h| {
            if h.frame_length > self.rest.len() {
                Err(AdtsError::Truncated)
            } else {
                Ok(h)
            }
        });
        match r {
            Ok(h) => {
                let (frame, rest) = self.rest.split_at(h.frame_length);
                self.rest = rest;
                Some(Ok((h, frame)))
            }
            Err(e) => {
                self.rest = &[];
                Some(Err(e))
            }
        }
    }
}

/// Writes a 7-byte ADTS header (MPEG-4, no CRC, one raw data block, buffer fullness 0x7FF =
/// variable rate). `frame_len` is the whole frame including these 7 bytes (≤ 8191);
/// `profile` is audio object type − 1, `channels` the channel configuration.
pub fn write_adts_header(
    out: &mut [u8; 7],
    profile: u8,
    sample_rate_index: u8,
    channels: u8,
    frame_len: usize,
) {
    let len = frame_len & 0x1FFF;
    out[0] = 0xFF;
    out[1] = 0xF1;
    out[2] = ((profile & 3) << 6) | ((sample_rate_index & 0x0F) << 2) | ((channels >> 2) & 1);
    out[3] = ((channels & 3) << 6) | ((len >> 11) as u8 & 0x03);
    out[4] = (len >> 3) as u8;
    out[5] = ((len as u8 & 0x07) << 5) | 0x1F;
    out[6] = 0xFC;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_bytes_and_round_trip() {
        let mut h = [0xA5; 7];
        write_adts_header(&mut h, 1, 3, 2, 371);
        // 371 = 0b001_0111_0011
        assert_eq!(h, [0xFF, 0xF1, 0x4C, 0x80, 0x2E, 0x7F, 0xFC]);
        let p = AdtsHeader::parse(&h).unwrap();
        assert_eq!(
            p,
            AdtsHeader {
                profile: 1,
                sample_rate_index: 3,
                sample_rate: 48_000,
                channels: 2,
                frame_length: 371,
                header_len: 7,
                blocks: 1
            }
        );
        assert_eq!(p.samples(), 1024);
    }

    #[test]
    fn frames_walk_and_errors() {
        let mut data = [0u8; 30];
        let mut h = [0; 7];
        write_adts_header(&mut h, 1, 4, 1, 10);
        data[..7].copy_from_slice(&h);
        write_adts_header(&mut h, 1, 4, 1, 20);
        data[10..17].copy_from_slice(&h);
        let lens: Vec<_> = AdtsFrames::new(&data).map(|r| r.unwrap().1.len()).collect();
        assert_eq!(lens, [10, 20]);
        let r: Vec<_> = AdtsFrames::new(&data[..29]).collect();
        assert_eq!(r[1], Err(AdtsError::Truncated));
        assert_eq!(AdtsHeader::parse(&[0xFF; 3]), Err(AdtsError::TooShort));
        assert_eq!(AdtsHeader::parse(&[0; 7]), Err(AdtsError::BadSync));
        write_adts_header(&mut h, 1, 15, 1, 20);
        assert_eq!(AdtsHeader::parse(&h), Err(AdtsError::BadSampleRate));
        write_adts_header(&mut h, 1, 3, 1, 5);
        assert_eq!(AdtsHeader::parse(&h), Err(AdtsError::BadLength));
    }
}
