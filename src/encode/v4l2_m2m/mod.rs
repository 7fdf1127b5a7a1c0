//! Hardware video encoding through a V4L2 memory-to-memory **stateful encoder**
//! (`encoder = "v4l2m2m"`/`"auto"`): the Raspberry Pi's `bcm2835-codec` (H.264), and in tests
//! vicodec's FWHT encoder, which runs the same code path in the VM.
//!
//! Implements the kernel's stateful encoder interface
//! (`Documentation/userspace-api/media/v4l/dev-encoder.rst`), multi-planar only:
//!
//! * **Initialization** (dev-encoder.rst "Initialization"): `VIDIOC_S_FMT` on `CAPTURE` (the
//!   coded format, [`CodedFormat`]; H.264 asks for [`H264_CAPTURE_SIZEIMAGE`] so a 1080p IDR
//!   fits one buffer), then on `OUTPUT` (YU12; the format the driver accepted — its
//!   `bytesperline` and height — is what the copy uses, see [`InputLayout`]), `VIDIOC_S_PARM`
//!   for the rate, the controls (H.264 only, see [`h264_controls`]: CBR at the configured
//!   bitrate, `H264_I_PERIOD` = the segment period in frames, `REPEAT_SEQ_HEADER` = 1 so every
//!   IDR carries SPS/PPS, High profile, a level for the size and rate, min/max QP), then
//!   `VIDIOC_REQBUFS` on both queues (bcm2835-codec applies controls there), all `CAPTURE`
//!   buffers queued and `VIDIOC_STREAMON` on both.
//! * **Encoding** (dev-encoder.rst "Encoding"): each picture is queued on `OUTPUT` with a
//!   unique timestamp (a counter, not the PTS) and its metadata kept in a fixed-capacity FIFO;
//!   `CAPTURE` buffers carry the timestamp back. A `CAPTURE` buffer whose timestamp matches no
//!   queued input is dropped (bcm2835-codec's first buffer can be stale) — unless it holds only
//!   H.264 parameter sets (a codec-config buffer), which are then put in front of the next
//!   access unit; buffers with the
//!   same timestamp are joined into one access unit (a big IDR spilling over several buffers:
//!   a buffer filled to its length continues in the next one); the key flag comes from
//!   `V4L2_BUF_FLAG_KEYFRAME` (or an IDR NAL / FWHT I-frame header). `force_keyframe()` sets
//!   `V4L2_CID_MPEG_VIDEO_FORCE_KEY_FRAME` before the next picture (dev-encoder.rst "Encoding
//!   Parameter Changes"). `encode()` waits for the access unit of the picture it queued
//!   (synchronous: one in, one out, the lowest latency; no B-frames, so `dts = pts`);
//!   [`M2mEncoder::set_max_lag`] lets it return `Ok(false)` instead for encoders that hold
//!   pictures back.
//! * **Drain** (dev-encoder.rst "Drain"): [`M2mEncoder::drain`] issues `V4L2_ENC_CMD_STOP` and
//!   dequeues until `V4L2_BUF_FLAG_LAST`.
//! * **Zero copy** where the source allows: an encoder opened with [`Memory::Dmabuf`] takes
//!   pictures as DMABUF descriptors ([`M2mEncoder::encode_dmabuf`]; a camera's buffers are
//!   exported with `VIDIOC_EXPBUF`, [`export_buffer`]). The pipeline feeds pool I420 buffers:
//!   that path maps the `OUTPUT` buffers (MMAP) and copies into them, row by row when the
//!   driver's stride differs from the width (bcm2835-codec aligns YU12 rows to 64 bytes).
//! * Errors (ENODEV, EIO, a timeout waiting for the device) come back from
//!   [`VideoEncoder::encode`](crate::encode::VideoEncoder::encode) as `Err`, so a caller can
//!   fall back to software.
//!
//! **Why raw ioctls and not the `v4l2r` crate**: the `v4l` crate we already link has no
//! multi-planar support, but exports its ioctl wrapper and the bindgen types
//! (`v4l2_pix_format_mplane`, `v4l2_plane`, `v4l2_encoder_cmd`): the dozen ioctls needed
//! here fit in [`ioctl`] (a few hundred lines) behind the narrow [`M2mDevice`] trait, which
//! is also what makes the encoder testable with a fake device. `v4l2r` would add a second
//! bindgen-generated V4L2 binding and its typed state machinery to a binary that is already
//! over its 2 MB aarch64 budget.
//!
//! Allocation: the FIFO is a fixed array, the access-unit buffer and the caller's
//! [`EncodedVideo`](crate::encode::EncodedVideo) keep their capacity, buffer descriptors live
//! on the stack: nothing is allocated per picture once the largest access unit has been seen.

pub mod controls;
pub mod decoder;
pub mod device;
pub mod encoder;
pub mod input;
pub mod ioctl;

pub use controls::{h264_controls, h264_level, H264_MAX_QP, H264_MIN_QP};
pub use decoder::M2mDecoder;
pub use device::{Buffer, Command, Format, M2mDevice, Memory, Queue, Ready};
pub use encoder::{M2mCounters, M2mEncoder, H264_CAPTURE_SIZEIMAGE};
pub use input::{InputLayout, InputMeta};
pub use ioctl::{export_buffer, V4l2M2m};

use v4l::v4l_sys as sys;

/// The control ids the encoder sets (`V4L2_CID_MPEG_VIDEO_*`, ext-ctrls-codec.rst).
pub mod cid {
    use super::sys;
    /// `V4L2_CID_MPEG_VIDEO_BITRATE_MODE` (VBR/CBR).
    pub const BITRATE_MODE: u32 = sys::V4L2_CID_MPEG_VIDEO_BITRATE_MODE;
    /// `V4L2_CID_MPEG_VIDEO_BITRATE` (bits per second).
    pub const BITRATE: u32 = sys::V4L2_CID_MPEG_VIDEO_BITRATE;
    /// `V4L2_CID_MPEG_VIDEO_H264_I_PERIOD` (frames between IDRs on bcm2835-codec).
    pub const H264_I_PERIOD: u32 = sys::V4L2_CID_MPEG_VIDEO_H264_I_PERIOD;
    /// `V4L2_CID_MPEG_VIDEO_REPEAT_SEQ_HEADER` (SPS/PPS before every IDR).
    pub const REPEAT_SEQ_HEADER: u32 = sys::V4L2_CID_MPEG_VIDEO_REPEAT_SEQ_HEADER;
    /// `V4L2_CID_MPEG_VIDEO_H264_PROFILE`.
    pub const H264_PROFILE: u32 = sys::V4L2_CID_MPEG_VIDEO_H264_PROFILE;
    /// `V4L2_CID_MPEG_VIDEO_H264_LEVEL`.
    pub const H264_LEVEL: u32 = sys::V4L2_CID_MPEG_VIDEO_H264_LEVEL;
    /// `V4L2_CID_MPEG_VIDEO_H264_MIN_QP`.
    pub const H264_MIN_QP: u32 = sys::V4L2_CID_MPEG_VIDEO_H264_MIN_QP;
    /// `V4L2_CID_MPEG_VIDEO_H264_MAX_QP`.
    pub const H264_MAX_QP: u32 = sys::V4L2_CID_MPEG_VIDEO_H264_MAX_QP;
    /// `V4L2_CID_MPEG_VIDEO_FORCE_KEY_FRAME` (button).
    pub const FORCE_KEY_FRAME: u32 = sys::V4L2_CID_MPEG_VIDEO_FORCE_KEY_FRAME;
    /// `V4L2_CID_MPEG_VIDEO_GOP_SIZE` (vicodec's FWHT I-frame period).
    pub const GOP_SIZE: u32 = sys::V4L2_CID_MPEG_VIDEO_GOP_SIZE;
}

/// The coded format produced on the `CAPTURE` queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodedFormat {
    /// H.264 Annex B (`H264`): bcm2835-codec.
    H264,
    /// vicodec's FWHT (`FWHT`): the VM's stand-in, same interface.
    Fwht,
}

impl CodedFormat {
    /// The V4L2 four-character code.
    pub fn fourcc(self) -> [u8; 4] {
        match self {
            CodedFormat::H264 => *b"H264",
            CodedFormat::Fwht => *b"FWHT",
        }
    }

    /// True when `au` is a key frame by its content: an IDR NAL unit (H.264 §7.4.1.2) or a
    /// FWHT header with `V4L2_FWHT_FL_I_FRAME` (bit 10 of the big-endian flags at offset 20,
    /// after the 8-byte magic, version, width and height).
    pub fn is_key(self, au: &[u8]) -> bool {
        match self {
            CodedFormat::H264 => crate::codec::h264::first_slice_is_idr(au),
            CodedFormat::Fwht => {
                au.len() >= 24
                    && au[..8] == [0x4f, 0x4f, 0x4f, 0x4f, 0xff, 0xff, 0xff, 0xff]
                    && u32::from_be_bytes([au[20], au[21], au[22], au[23]]) & (1 << 10) != 0
            }
        }
    }
}

/// Looks for a stateful H.264 encoder: a `/dev/video*` node with multi-planar M2M
/// capabilities whose `CAPTURE` queue offers `H264`; a card name starting with
/// `bcm2835-codec` is preferred. Returns (path, card).
pub fn find_h264_encoder() -> Option<(String, String)> {
    let mut found: Option<(String, String)> = None;
    for path in crate::source::devices::video_nodes() {
        let Some(card) = h264_encoder_card(&path) else {
            continue;
        };
        if card.starts_with("bcm2835-codec") {
            return Some((path, card));
        }
        found.get_or_insert((path, card));
    }
    found
}

/// The card name of `path` if it is a multi-planar M2M node whose `CAPTURE` queue offers H.264
/// (also what `hlscam devices` lists as a hardware encoder).
pub(crate) fn h264_encoder_card(path: &str) -> Option<String> {
    let dev = V4l2M2m::open(path).ok()?;
    // SAFETY: zeroed POD filled by QUERYCAP.
    let mut c: sys::v4l2_capability = unsafe { std::mem::zeroed() };
    unsafe {
        v4l::v4l2::ioctl(
            dev.fd(),
            v4l::v4l2::vidioc::VIDIOC_QUERYCAP,
            &mut c as *mut _ as *mut std::os::raw::c_void,
        )
        .ok()?
    };
    let caps = if c.capabilities & sys::V4L2_CAP_DEVICE_CAPS != 0 {
        c.device_caps
    } else {
        c.capabilities
    };
    // Only the multi-planar API is implemented here (what bcm2835-codec offers).
    if caps & sys::V4L2_CAP_VIDEO_M2M_MPLANE == 0 {
        return None;
    }
    if !dev.formats(Queue::Capture).contains(b"H264") {
        return None;
    }
    dev.card().ok()
}
