//! hlscam: a camera and a microphone in, a live HLS stream out.
//!
//! ```text
//! V4L2 camera ──► video encoder ──┐   (V4L2 M2M hardware H.264, or openh264)
//! ALSA mic ─────► AAC (fdk-aac) ──┼─► MPEG-TS muxer ─► segmenter ─► tmpfs ring ─► HTTP server
//! test pattern / tone ────────────┘
//! ```
//!
//! The core ([`ts`], [`hls`]) does no I/O of its own beyond the segment ring's files and takes
//! time as an argument; the binary (`src/main.rs`) wires threads around it ([`pipeline`]).
#![warn(missing_docs)]

pub mod cli;
pub mod codec;
pub mod config;
pub mod encode;
pub mod error;
pub mod fmp4;
pub mod hls;
pub mod http;
pub mod media;
pub mod notify;
pub mod pipeline;
pub mod pool;
pub mod publish;
pub mod queue;
pub mod record;
pub mod scale;
pub mod source;
pub mod stats;
pub mod time;
pub mod ts;
pub mod vod;
