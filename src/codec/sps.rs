//! H.264 sequence parameter set: the few fields a container needs (ITU-T H.264 §7.3.2.1.1
//! `seq_parameter_set_data`, §7.4.2.1.1 semantics).
//!
//! [`Sps::parse`] takes the SPS NAL unit as it stands in the byte stream — NAL header byte
//! included, start code excluded — removes the emulation prevention bytes (§7.4.1,
//! `00 00 03`) into a fixed stack buffer of [`RBSP_MAX`] bytes and reads the exp-Golomb coded
//! fields up to `frame_cropping` (§9.1). It covers every `chroma_format_idc` (High profiles,
//! with `seq_scaling_matrix` lists skipped), `pic_order_cnt_type` 0, 1 and 2, field coding
//! (`frame_mbs_only_flag` 0) and the cropping rectangle (§7.4.2.1.1 `CropUnitX`/`CropUnitY`).
//! Nothing here allocates or panics on any input.

use std::fmt;

/// Bytes of RBSP (after emulation prevention removal) kept for parsing; the fields read here
/// end long before this in any real SPS.
pub const RBSP_MAX: usize = 256;

/// Why a NAL unit was not accepted as an SPS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpsError {
    /// Not a NAL unit of type 7 (or empty).
    NotSps,
    /// The fields ran past the end of the data (or past [`RBSP_MAX`] bytes).
    Truncated,
    /// A field holds a value the standard does not allow (exp-Golomb code longer than 32 bits,
    /// `chroma_format_idc` > 3, `pic_order_cnt_type` > 2, cropping larger than the picture…).
    Invalid,
}

impl fmt::Display for SpsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SpsError::NotSps => "not an H.264 SPS NAL unit",
            SpsError::Truncated => "H.264 SPS truncated",
            SpsError::Invalid => "H.264 SPS holds an invalid value",
        })
    }
}

impl std::error::Error for SpsError {}

/// The fields of an SPS that a container needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sps {
    /// `profile_idc` (66 Baseline, 77 Main, 100 High, …).
    pub profile_idc: u8,
    /// The byte of `constraint_set0..5_flag` and `reserved_zero_2bits`.
    pub constraint_flags: u8,
    /// `level_idc` (level × 10).
    pub level_idc: u8,
    /// `chroma_format_idc` (1 = 4:2:0, the default when the profile does not code it).
    pub chroma_format_idc: u8,
    /// `bit_depth_luma_minus8`.
    pub bit_depth_luma_minus8: u8,
    /// `bit_depth_chroma_minus8`.
    pub bit_depth_chroma_minus8: u8,
    /// Displayed width in luma samples (after cropping).
    pub width: u32,
    /// Displayed height in luma samples (after cropping; whole frames, also for field coding).
    pub height: u32,
}

/// The RFC 6381 codec string `avc1.PPCCLL` of an [`Sps`], formatted without allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodecString([u8; 11]);

impl CodecString {
    /// The string, e.g. `avc1.42C01F`.
    pub fn as_str(&self) -> &str {
        // Only ASCII is ever written into the array.
        std::str::from_utf8(&self.0).unwrap_or("avc1")
    }

    /// The 11 ASCII bytes.
    pub fn as_bytes(&self) -> &[u8; 11] {
        &self.0
    }
}

impl fmt::Display for CodecString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// True for the profiles whose SPS codes `chroma_format_idc`, bit depths and scaling matrices
/// (§7.3.2.1.1).
pub const fn has_chroma_info(profile_idc: u8) -> bool {
    matches!(
        profile_idc,
        100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135
    )
}

impl Sps {
    /// Parses the SPS NAL unit `nal` (header byte included, no start code).
    pub fn parse(nal: &[u8]) -> Result<Sps, SpsError> {
        match nal.first() {
            Some(h) if h & 0x1F == 7 => {}
            _ => return Err(SpsError::NotSps),
        }
        let mut rbsp = [0u8; RBSP_MAX];
        let n = unescape(&nal[1..], &mut rbsp);
        let mut r = BitReader::new(&rbsp[..n]);
        let profile_idc = r.bits(8)? as u8;
        let constraint_flags = r.bits(8)? as u8;
        let level_idc = r.bits(8)? as u8;
        let _seq_parameter_set_id = r.ue()?;
        let (mut chroma_format_idc, mut separate_colour_plane) = (1, false);
        let (mut depth_luma, mut depth_chroma) = (0, 0);
        if has_chroma_info(profile_idc) {
            chroma_format_idc = r.ue()?;
            if chroma_format_idc > 3 {
                return Err(SpsError::Invalid);
            }
            if chroma_format_idc == 3 {
                separate_colour_plane = r.bit()?;
            }
            depth_luma = r.ue()?;
            depth_chroma = r.ue()?;
            if depth_luma > 6 || depth_chroma > 6 {
                return Err(SpsError::Invalid);
            }
            let _qpprime_y_zero_transform_bypass = r.bit()?;
            if r.bit()? {
                let lists = if chroma_format_idc == 3 { 12 } else { 8 };
                for i in 0..lists {
                    if r.bit()? {
                        skip_scaling_list(&mut r, if i < 6 { 16 } else { 64 })?;
                    }
                }
            }
        }
        let _log2_max_frame_num_minus4 = r.ue()?;
        match r.ue()? {
            0 => {
                let _log2_max_pic_order_cnt_lsb_minus4 = r.ue()?;
            }
            1 => {
                let _delta_pic_order_always_zero = r.bit()?;
                let _offset_for_non_ref_pic = r.se()?;
                let _offset_for_top_to_bottom_field = r.se()?;
                let cycle = r.ue()?;
                if cycle > 255 {
                    return Err(SpsError::Invalid);
                }
                for _ in 0..cycle {
                    let _offset_for_ref_frame = r.se()?;
                }
            }
            2 => {}
            _ => return Err(SpsError::Invalid),
        }
        let _max_num_ref_frames = r.ue()?;
        let _gaps_in_frame_num_value_allowed = r.bit()?;
        let width_mbs = u64::from(r.ue()?) + 1;
        let height_map_units = u64::from(r.ue()?) + 1;
        let frame_mbs_only = r.bit()?;
        if !frame_mbs_only {
            let _mb_adaptive_frame_field = r.bit()?;
        }
        let _direct_8x8_inference = r.bit()?;
        let field_factor = if frame_mbs_only { 1 } else { 2 };
        let mut width = width_mbs * 16;
        let mut height = height_map_units * 16 * field_factor;
        if r.bit()? {
            let (left, right) = (u64::from(r.ue()?), u64::from(r.ue()?));
            let (top, bottom) = (u64::from(r.ue()?), u64::from(r.ue()?));
            // §7.4.2.1.1: ChromaArrayType 0 (monochrome or separate planes) crops in luma
            // samples; otherwise in chroma samples (SubWidthC × SubHeightC).
            let chroma_array_type = if separate_colour_plane {
                0
            } else {
                chroma_format_idc
            };
            let (unit_x, unit_y) = match chroma_array_type {
                1 => (2, 2),
                2 => (2, 1),
                _ => (1, 1),
            };
            let crop_w = unit_x * (left + right);
            let crop_h = unit_y * field_factor * (top + bottom);
            if crop_w >= width || crop_h >= height {
                return Err(SpsError::Invalid);
            }
            width -= crop_w;
            height -= crop_h;
        }
        Ok(Sps {
            profile_idc,
            constraint_flags,
            level_idc,
            chroma_format_idc: chroma_format_idc as u8,
            bit_depth_luma_minus8: depth_luma as u8,
            bit_depth_chroma_minus8: depth_chroma as u8,
            width: u32::try_from(width).map_err(|_| SpsError::Invalid)?,
            height: u32::try_from(height).map_err(|_| SpsError::Invalid)?,
        })
    }

    /// The RFC 6381 codec string `avc1.PPCCLL`: profile, constraint flags and level in
    /// upper-case hex.
    pub fn codec_string(&self) -> CodecString {
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        let mut s = *b"avc1.000000";
        for (i, b) in [self.profile_idc, self.constraint_flags, self.level_idc]
            .into_iter()
            .enumerate()
        {
            s[5 + 2 * i] = HEX[(b >> 4) as usize];
            s[6 + 2 * i] = HEX[(b & 0x0F) as usize];
        }
        CodecString(s)
    }
}

/// Copies `src` into `dst` without its emulation prevention bytes (the `03` of every
/// `00 00 03`, §7.4.1); stops when `dst` is full. Returns the bytes written.
pub fn unescape(src: &[u8], dst: &mut [u8]) -> usize {
    let (mut n, mut zeros) = (0, 0);
    for &b in src {
        if n == dst.len() {
            break;
        }
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        dst[n] = b;
        n += 1;
    }
    n
}

/// Skips one `scaling_list(…, sizeOfScalingList, …)` (§7.3.2.1.1.1).
fn skip_scaling_list(r: &mut BitReader<'_>, size: usize) -> Result<(), SpsError> {
    let (mut last, mut next) = (8i64, 8i64);
    for _ in 0..size {
        if next != 0 {
            let delta = r.se()?;
            if !(-128..=127).contains(&delta) {
                return Err(SpsError::Invalid);
            }
            next = (last + i64::from(delta) + 256) % 256;
        }
        if next != 0 {
            last = next;
        }
    }
    Ok(())
}

/// MSB-first bit reader with exp-Golomb codes (§9.1) over an RBSP.
#[derive(Debug)]
struct BitReader<'a> {
    data: &'a [u8],
    /// Next bit, counted from the first byte's MSB.
    pos: usize,
}

impl<'a> BitReader<'a> {
    fn new(data: &'a [u8]) -> Self {
        BitReader { data, pos: 0 }
    }

    fn bit(&mut self) -> Result<bool, SpsError> {
        let byte = self.data.get(self.pos / 8).ok_or(SpsError::Truncated)?;
        let b = (byte >> (7 - self.pos % 8)) & 1;
        self.pos += 1;
        Ok(b == 1)
    }

    /// `n` ≤ 32 bits as an unsigned number.
    fn bits(&mut self, n: u32) -> Result<u32, SpsError> {
        let mut v = 0u32;
        for _ in 0..n {
            v = (v << 1) | u32::from(self.bit()?);
        }
        Ok(v)
    }

    /// `ue(v)`: codes up to 2^32 − 2.
    fn ue(&mut self) -> Result<u32, SpsError> {
        let mut zeros = 0;
        while !self.bit()? {
            zeros += 1;
            if zeros > 31 {
                return Err(SpsError::Invalid);
            }
        }
        let rest = self.bits(zeros)?;
        Ok(((1u64 << zeros) - 1 + u64::from(rest)) as u32)
    }

    /// `se(v)`.
    fn se(&mut self) -> Result<i32, SpsError> {
        let k = i64::from(self.ue()?);
        let v = if k % 2 == 1 { (k + 1) / 2 } else { -(k / 2) };
        Ok(v as i32)
    }
}

#[cfg(test)]
#[path = "sps_tests.rs"]
mod tests;
