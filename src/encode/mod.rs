//! Encoders: raw pictures to H.264 access units, PCM to AAC frames in ADTS.

use crate::source::RawFrame;
use crate::time::Pts90k;
use std::fmt;
use std::time::{Duration, SystemTime};

/// An encoded H.264 access unit in a reusable buffer (its capacity is kept between frames).
#[derive(Debug, Clone)]
pub struct EncodedVideo {
    /// Annex B bytes.
    pub data: Vec<u8>,
    /// Presentation time.
    pub pts: Pts90k,
    /// Decoding time.
    pub dts: Pts90k,
    /// IDR picture.
    pub key: bool,
    /// Monotonic time the source frame was captured (latency figures).
    pub captured: Duration,
    /// Wall-clock time the source frame was captured.
    pub wall: SystemTime,
    /// First frame after a source switch (see [`RawFrame::discontinuity`]).
    pub discontinuity: bool,
}

impl EncodedVideo {
    /// An empty buffer able to hold `capacity` bytes without growing.
    pub fn with_capacity(capacity: usize) -> Self {
        EncodedVideo {
            data: Vec::with_capacity(capacity),
            pts: Pts90k::ZERO,
            dts: Pts90k::ZERO,
            key: false,
            captured: Duration::ZERO,
            wall: SystemTime::UNIX_EPOCH,
            discontinuity: false,
        }
    }
    /// The muxer's view of it.
    pub fn au(&self) -> crate::media::VideoAu<'_> {
        crate::media::VideoAu {
            data: &self.data,
            pts: self.pts,
            dts: self.dts,
            key: self.key,
        }
    }
}

/// Encoded AAC frames (ADTS) in a reusable buffer.
#[derive(Debug, Clone)]
pub struct EncodedAudio {
    /// One or more ADTS frames.
    pub data: Vec<u8>,
    /// Presentation time of the first frame.
    pub pts: Pts90k,
    /// Number of AAC frames in `data`.
    pub frames: u32,
}

impl EncodedAudio {
    /// An empty buffer able to hold `capacity` bytes without growing.
    pub fn with_capacity(capacity: usize) -> Self {
        EncodedAudio {
            data: Vec::with_capacity(capacity),
            pts: Pts90k::ZERO,
            frames: 0,
        }
    }
    /// The muxer's view of it.
    pub fn au(&self) -> crate::media::AudioAu<'_> {
        crate::media::AudioAu {
            data: &self.data,
            pts: self.pts,
        }
    }
}

/// An encoder failure, with what was being encoded.
#[derive(Debug)]
pub struct EncodeError {
    /// What failed, with context (encoder, frame, parameters).
    pub msg: String,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.msg)
    }
}

impl std::error::Error for EncodeError {}

/// Raw pictures in, H.264 out.
pub trait VideoEncoder: Send {
    /// Short name for logs and `/api/status` (`openh264`, `v4l2m2m:/dev/video11`).
    fn name(&self) -> &str;
    /// Encodes one picture into `out` (its `data` is cleared first; capacity reused).
    /// Returns `Ok(false)` when the encoder produced nothing for this picture.
    fn encode(&mut self, frame: &RawFrame, out: &mut EncodedVideo) -> Result<bool, EncodeError>;
    /// Makes the next encoded picture an IDR (with SPS/PPS).
    fn force_keyframe(&mut self);
}

/// PCM in, AAC (ADTS) out.
pub trait AudioEncoder: Send {
    /// Samples per channel the encoder takes per call (1024 for AAC-LC).
    fn frame_len(&self) -> usize;
    /// Encodes exactly `frame_len() × channels` interleaved samples whose first sample is at
    /// `pts`. `out.data` is cleared first; returns `Ok(false)` when no frame came out yet
    /// (encoder delay). Output PTS account for the encoder's delay.
    fn encode(
        &mut self,
        pcm: &[i16],
        pts: Pts90k,
        out: &mut EncodedAudio,
    ) -> Result<bool, EncodeError>;
}

pub mod aac;
pub mod fallback;
pub mod openh264;
pub mod v4l2_m2m;
