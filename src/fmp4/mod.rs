//! Fragmented MP4 / CMAF writing (ISO/IEC 14496-12 ISO base media file format, 14496-15 §5
//! for AVC, 14496-14 + 14496-3 for AAC, ISO/IEC 23000-19 CMAF): H.264 on track 1 and optional
//! AAC-LC on track 2, for HLS fMP4 segments (RFC 8216 §3.3).
//!
//! ```text
//! init segment   ftyp  moov ─ mvhd, trak (video: tkhd, mdia ─ mdhd 90 kHz, hdlr vide, minf ─ vmhd,
//!                             dinf, stbl ─ stsd avc1+avcC, empty stts/stsc/stsz/stco),
//!                             trak (audio: … mdhd sample rate, smhd, stsd mp4a+esds), mvex ─ trex ×2
//! each fragment  moof ─ mfhd (sequence_number), traf per track ─ tfhd (default-base-is-moof),
//!                       tfdt (v1), trun (data_offset, per-sample duration/size/flags/cto)
//!                mdat ─ video samples (AVCC, 4-byte lengths), then audio samples (raw AAC)
//! ```
//!
//! Same contract as [`crate::ts`]: [`boxes`] writes boxes into a caller-provided buffer
//! ([`BoxWriter`], sizes back-patched, an error instead of a panic when the buffer is too
//! small); [`init`] builds the init segment from SPS/PPS and the audio parameters
//! ([`write_init`]); [`fragment`] holds the one stateful part, [`Fmp4Muxer`], which allocates
//! only in `new` and writes each fragment into a caller's [`ByteSink`].

pub mod boxes;
pub mod fragment;
pub mod init;

use std::fmt;

use crate::codec::adts::AdtsError;
use crate::codec::sps::SpsError;

pub use boxes::BoxWriter;
pub use fragment::{Fmp4Muxer, MuxerLimits, Timeline};
pub use init::{write_init, AudioParams, TrackParams};

/// Track ID of the video track.
pub const VIDEO_TRACK_ID: u32 = 1;
/// Track ID of the audio track.
pub const AUDIO_TRACK_ID: u32 = 2;
/// Timescale of the video track (and of the timestamps the muxer takes): 90 kHz.
pub const VIDEO_TIMESCALE: u32 = 90_000;

/// Where finished bytes go. Infallible: a sink that does I/O latches its own error.
pub trait ByteSink {
    /// Appends `bytes` to the output.
    fn put(&mut self, bytes: &[u8]);

    /// Whether the sink has latched an error (nothing more it is given gets written), so a
    /// producer can stop early. `false` for sinks that cannot fail.
    fn failed(&self) -> bool {
        false
    }
}

/// Appends to the vector (tests, small tools).
impl ByteSink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// Why a box, the init segment or a fragment could not be written, or a sample was refused.
/// A refused sample leaves the muxer as it was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fmp4Error {
    /// The caller's scratch buffer is too small for what was written into it.
    ScratchTooSmall,
    /// The SPS given for the init segment does not parse.
    Sps(SpsError),
    /// SPS or PPS empty or longer than 65 535 bytes (avcC stores 16-bit lengths).
    ParamSetLength,
    /// The audio parameters cannot be described (sample rate 0 or above 16 777 215 Hz,
    /// 0 or more than 7 channels, object type 0 or above 30).
    AudioParams,
    /// The fragment's video sample table is full: write a fragment first.
    VideoSamplesFull,
    /// The fragment's audio sample table is full: write a fragment first.
    AudioSamplesFull,
    /// The fragment's video payload buffer is full: write a fragment first (or the access
    /// unit alone is larger than the buffer).
    VideoDataFull,
    /// The fragment's audio payload buffer is full: write a fragment first.
    AudioDataFull,
    /// An access unit with no NAL unit left after AUD/SPS/PPS are dropped.
    EmptyAccessUnit,
    /// DTS not after the previous sample's, `video_end_dts` not after the last sample's DTS,
    /// a decode time before the timeline's start, or `pts − dts` outside `i32`.
    Timestamp,
    /// Bad ADTS framing in the audio data.
    Adts(AdtsError),
    /// An ADTS frame with more than one raw data block (cannot be split without the CRC
    /// positions) or whose sample rate, channels or profile differ from the init segment's.
    AdtsMismatch,
    /// Audio pushed into a muxer without an audio track.
    NoAudioTrack,
}

impl fmt::Display for Fmp4Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fmp4Error::ScratchTooSmall => f.write_str("fMP4: scratch buffer too small"),
            Fmp4Error::Sps(e) => write!(f, "fMP4: {e}"),
            Fmp4Error::ParamSetLength => f.write_str("fMP4: SPS/PPS empty or longer than 65535"),
            Fmp4Error::AudioParams => f.write_str("fMP4: unsupported audio parameters"),
            Fmp4Error::VideoSamplesFull => f.write_str("fMP4: video sample table full"),
            Fmp4Error::AudioSamplesFull => f.write_str("fMP4: audio sample table full"),
            Fmp4Error::VideoDataFull => f.write_str("fMP4: video payload buffer full"),
            Fmp4Error::AudioDataFull => f.write_str("fMP4: audio payload buffer full"),
            Fmp4Error::EmptyAccessUnit => f.write_str("fMP4: access unit without slices"),
            Fmp4Error::Timestamp => f.write_str("fMP4: timestamps out of order or range"),
            Fmp4Error::Adts(e) => write!(f, "fMP4: {e}"),
            Fmp4Error::AdtsMismatch => {
                f.write_str("fMP4: ADTS frame does not match the audio track (or >1 block)")
            }
            Fmp4Error::NoAudioTrack => f.write_str("fMP4: no audio track"),
        }
    }
}

impl std::error::Error for Fmp4Error {}

impl From<SpsError> for Fmp4Error {
    fn from(e: SpsError) -> Self {
        Fmp4Error::Sps(e)
    }
}

impl From<AdtsError> for Fmp4Error {
    fn from(e: AdtsError) -> Self {
        Fmp4Error::Adts(e)
    }
}
