//! Where raw media comes from: the [`VideoSource`] and [`AudioSource`] traits and their kinds.
//!
//! A video source fills pool buffers with I420 pictures ([`RawFrame`]); an audio source fills a
//! caller's buffer with interleaved S16 samples. Both stamp media time (90 kHz) once, at capture.

use crate::pool::{Lease, Pool};
use crate::time::Pts90k;
use std::fmt;
use std::time::{Duration, SystemTime};

/// Size and rate of a raw video stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VideoFormat {
    /// Width in pixels (even).
    pub width: u32,
    /// Height in pixels (even).
    pub height: u32,
    /// Nominal frames per second.
    pub fps: u32,
}

impl VideoFormat {
    /// Bytes of one tightly packed I420 picture.
    pub fn i420_len(&self) -> usize {
        let (w, h) = (self.width as usize, self.height as usize);
        w * h + 2 * (w / 2) * (h / 2)
    }
    /// Duration of one frame in 90 kHz ticks.
    pub fn frame_ticks(&self) -> Pts90k {
        Pts90k(crate::time::HZ_90K / self.fps.max(1) as u64)
    }
}

/// One raw picture: tightly packed I420 (Y `w×h`, then U and V `w/2×h/2`) in a pool buffer.
#[derive(Debug)]
pub struct RawFrame {
    /// The picture bytes (`format.i420_len()` of them are meaningful).
    pub buf: Lease,
    /// Geometry of this picture.
    pub format: VideoFormat,
    /// Media time of capture.
    pub pts: Pts90k,
    /// Monotonic time of capture (for latency figures).
    pub captured: Duration,
    /// Wall-clock time of capture (for `EXT-X-PROGRAM-DATE-TIME`).
    pub wall: SystemTime,
    /// Frame sequence number from the source.
    pub seq: u64,
    /// True on the first frame after the source was (re)opened or switched (camera lost → slate,
    /// slate → camera): the next segment must carry `EXT-X-DISCONTINUITY` and start with an IDR.
    pub discontinuity: bool,
}

impl RawFrame {
    /// The Y, U and V planes.
    pub fn planes(&self) -> (&[u8], &[u8], &[u8]) {
        let (w, h) = (self.format.width as usize, self.format.height as usize);
        let y = w * h;
        let c = (w / 2) * (h / 2);
        (
            &self.buf[..y],
            &self.buf[y..y + c],
            &self.buf[y + c..y + 2 * c],
        )
    }
}

/// Why a source could not deliver.
#[derive(Debug)]
pub enum SourceError {
    /// The device is missing or was unplugged (ENODEV, ENOENT): reopen with backoff.
    Gone(String),
    /// No data within the expected time.
    Timeout(String),
    /// Any other I/O failure (EIO, …): reopen with backoff.
    Io(String),
    /// No free buffer in the pool: the consumer is behind (the frame is dropped and counted).
    PoolExhausted,
    /// The source ended (finite input) — not an error for the pipeline, just the end.
    End,
}

impl fmt::Display for SourceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceError::Gone(s) => write!(f, "device gone: {s}"),
            SourceError::Timeout(s) => write!(f, "timeout: {s}"),
            SourceError::Io(s) => write!(f, "I/O error: {s}"),
            SourceError::PoolExhausted => write!(f, "no free frame buffer"),
            SourceError::End => write!(f, "end of source"),
        }
    }
}

impl std::error::Error for SourceError {}

/// A producer of raw pictures.
pub trait VideoSource: Send {
    /// Short name for logs and `/api/status` (e.g. `testsrc`, `v4l2:/dev/video0`).
    fn name(&self) -> &str;
    /// Geometry of the frames it produces now.
    fn format(&self) -> VideoFormat;
    /// Blocks until the next picture and returns it in a buffer taken from `pool`.
    /// Paced sources wait for the frame's time; unpaced ones return at once.
    fn next_frame(&mut self, pool: &Pool) -> Result<RawFrame, SourceError>;
}

/// Sample rate and channel count of an audio stream (always S16, interleaved).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioFormat {
    /// Samples per second per channel.
    pub sample_rate: u32,
    /// 1 or 2.
    pub channels: u16,
}

/// A producer of PCM samples.
pub trait AudioSource: Send {
    /// Short name for logs (e.g. `tone`, `alsa:hw:1,0`).
    fn name(&self) -> &str;
    /// Format of the samples.
    fn format(&self) -> AudioFormat;
    /// Fills all of `buf` (interleaved; `buf.len()` is a multiple of `channels`) and returns
    /// the media time of its first sample. Paced sources block until the samples are due.
    fn read(&mut self, buf: &mut [i16]) -> Result<Pts90k, SourceError>;
}

pub mod alsa;
pub mod audio_clock;
pub mod convert;
pub mod devices;
pub mod font;
pub mod rpicam;
pub mod supervisor;
pub mod testsrc;
pub mod tone;
pub mod v4l2;
