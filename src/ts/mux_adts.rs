//! What the muxer reads of an audio access unit before it writes it: the ADTS frames' layout
//! and sample counts ([`scan_adts`], one pass over the headers, a fast path for the uniform
//! frames of one encoder) and their lengths in 90 kHz ticks. Part of [`super`] (the muxer).

use std::num::NonZeroU64;

use crate::codec::adts::{AdtsFrames, AdtsHeader, SAMPLES_PER_BLOCK, SAMPLE_RATES};
use crate::time::{Pts90k, HZ_90K};

/// What [`scan_adts`] found in an access unit. 16 bytes with a niche (`samples` is never 0),
/// so `Option<AdtsScan>` comes back in two registers rather than through memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct AdtsScan {
    /// Samples per channel in all frames.
    pub(super) samples: NonZeroU64,
    /// `frame_length` of the first frame (13 bits).
    pub(super) first_len: u16,
    /// `sampling_frequency_index` of the first frame (below `SAMPLE_RATES.len()`).
    pub(super) first_sri: u8,
    /// Raw data blocks of the first frame (1..=4).
    pub(super) first_blocks: u8,
    /// `sampling_frequency_index` of the last frame.
    pub(super) last_sri: u8,
}

impl AdtsScan {
    /// `samples` is at least one frame's 1024: `None` only for a count of 0, which no scan
    /// produces.
    #[inline(always)]
    pub(super) fn new(
        samples: u64,
        first_len: usize,
        first_sri: u8,
        first_blocks: u8,
        last_sri: u8,
    ) -> Option<Self> {
        Some(AdtsScan {
            samples: NonZeroU64::new(samples)?,
            first_len: first_len as u16,
            first_sri,
            first_blocks,
            last_sri,
        })
    }
}

/// Header bits a frame must share with the first frame of its access unit for the fast walk
/// of [`scan_adts`] (as bits of the header's first 8 bytes read big-endian): syncword, ID,
/// layer, protection_absent, profile, sampling_frequency_index, channel_configuration, and
/// number_of_raw_data_blocks_in_frame (so the samples are frames × the first's).
pub(super) const ADTS_FIXED_MASK: u64 = 0xFFFF_FDC0_0000_0300;

/// Checks that `data` is a run of complete ADTS frames: the checks of [`AdtsHeader::parse`]
/// and [`AdtsFrames`], with the same verdict and result as [`scan_adts_general`].
///
/// The first header is checked in full from one 8-byte big-endian load; every later header
/// is one 8-byte load, one masked compare with the first (the fields in
/// [`ADTS_FIXED_MASK`], which make it valid when the first is) and its `frame_length`
/// checked against the bytes left. Anything else (a frame that differs in those fields, a
/// bad length, a last frame shorter than 8 bytes, an access unit shorter than 8 bytes) goes
/// to [`scan_adts_general`], which decides.
#[inline(always)]
pub(super) fn scan_adts(data: &[u8]) -> Option<AdtsScan> {
    let Some(h) = data.first_chunk::<8>() else {
        return scan_adts_general(data);
    };
    let first = u64::from_be_bytes(*h);
    let sri = (first >> 42) as u8 & 0x0F;
    // 7, or 9 with a CRC (protection_absent = 0).
    let header_len = 9 - 2 * ((first >> 48) as usize & 1);
    let first_len = (first >> 21) as usize & 0x1FFF;
    // The header's first 22 bits: syncword (21..10), ID, layer (8..7), protection_absent,
    // profile, sampling_frequency_index (3..0). Syncword all ones, layer 0 and index ≤ 12 in
    // one compare: index + 3 carries into bit 4 (masked to 0) exactly when the index is ≥ 13.
    const { assert!(SAMPLE_RATES.len() == 13) };
    let top = (first >> 42) as u32;
    if ((top & 0x3F_FD8F) + 3) & 0x3F_FD90 != 0x3F_FC00
        || first_len < header_len
        || first_len > data.len()
    {
        return scan_adts_general(data);
    }
    let mut rest = &data[first_len..];
    let mut frames = 1;
    while let Some(h) = rest.first_chunk::<8>() {
        let y = u64::from_be_bytes(*h);
        let len = (y >> 21) as usize & 0x1FFF;
        if (y ^ first) & ADTS_FIXED_MASK != 0 || len < header_len || len > rest.len() {
            return scan_adts_general(data);
        }
        frames += 1;
        rest = &rest[len..];
    }
    if !rest.is_empty() {
        return scan_adts_general(data);
    }
    let blocks = ((first >> 8) & 0x03) as u8 + 1;
    let samples = frames * blocks as u64 * SAMPLES_PER_BLOCK as u64;
    AdtsScan::new(samples, first_len, sri, blocks, sri)
}

/// [`scan_adts`] for any access unit, through [`AdtsHeader::parse`] and [`AdtsFrames`]: each
/// header checked on its own (frames may differ in rate or channels). The cold path: the fast
/// walk sends only what it cannot decide here.
#[inline(never)]
pub(super) fn scan_adts_general(data: &[u8]) -> Option<AdtsScan> {
    let first = AdtsHeader::parse(data).ok()?;
    let mut samples = 0;
    let mut last_sri = 0;
    for r in AdtsFrames::new(data) {
        let (h, _) = r.ok()?;
        samples += h.samples() as u64;
        last_sri = h.sample_rate_index;
    }
    AdtsScan::new(
        samples,
        first.frame_length,
        first.sample_rate_index,
        first.blocks,
        last_sri,
    )
}

/// Whether `samples` at `SAMPLE_RATES[sri]` last at most `max` (`samples × 90 000 / rate ≤
/// max`, without the division).
#[inline]
pub(super) fn fits_ticks(samples: u64, sri: u8, max: Pts90k) -> bool {
    samples * HZ_90K < (max.0 + 1) * SAMPLE_RATES[sri as usize] as u64
}

/// `samples × 90 000 / rate` for the sample rate of `h`.
pub(super) fn samples_to_ticks(samples: u64, h: &AdtsHeader) -> u64 {
    samples * HZ_90K / h.sample_rate as u64
}

/// 90 kHz ticks of an ADTS frame of 1..=4 raw data blocks, per `sampling_frequency_index`:
/// a table lookup instead of a division for the usual one-frame access unit.
pub(super) const FRAME_TICKS: [[u64; 4]; SAMPLE_RATES.len()] = {
    let mut t = [[0; 4]; SAMPLE_RATES.len()];
    let mut i = 0;
    while i < SAMPLE_RATES.len() {
        let mut b = 0;
        while b < 4 {
            t[i][b] = (b as u64 + 1) * SAMPLES_PER_BLOCK as u64 * HZ_90K / SAMPLE_RATES[i] as u64;
            b += 1;
        }
        i += 1;
    }
    t
};

/// Ticks of an ADTS frame of `blocks` (1..=4) raw data blocks at `SAMPLE_RATES[sri]`
/// (`sri` below `SAMPLE_RATES.len()`).
#[inline(always)]
pub(super) fn frame_ticks(sri: u8, blocks: u8) -> u64 {
    FRAME_TICKS[sri as usize][blocks as usize - 1]
}
