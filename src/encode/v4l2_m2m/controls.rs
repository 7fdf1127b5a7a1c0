//! Encoder controls (ext-ctrls-codec.rst, `V4L2_CID_MPEG_VIDEO_*`) for H.264, set during
//! dev-encoder.rst "Initialization" step 4 (before `REQBUFS`).

use super::cid;
use crate::source::VideoFormat;
use v4l::v4l_sys as sys;

/// The H.264 level for `fmt` (ITU-T H.264 Table A-1: frame size and macroblock rate), at
/// least 3.1 and at most 4.2 (bcm2835-codec's range), as a `V4L2_MPEG_VIDEO_H264_LEVEL_*` value.
pub fn h264_level(fmt: VideoFormat) -> i32 {
    let mbs = (fmt.width.div_ceil(16) * fmt.height.div_ceil(16)) as u64;
    let rate = mbs * fmt.fps.max(1) as u64;
    // (level value, max frame size in MBs, max MB/s)
    const LEVELS: [(u32, u64, u64); 5] = [
        (
            sys::v4l2_mpeg_video_h264_level_V4L2_MPEG_VIDEO_H264_LEVEL_3_1,
            3600,
            108_000,
        ),
        (
            sys::v4l2_mpeg_video_h264_level_V4L2_MPEG_VIDEO_H264_LEVEL_3_2,
            5120,
            216_000,
        ),
        (
            sys::v4l2_mpeg_video_h264_level_V4L2_MPEG_VIDEO_H264_LEVEL_4_0,
            8192,
            245_760,
        ),
        (
            sys::v4l2_mpeg_video_h264_level_V4L2_MPEG_VIDEO_H264_LEVEL_4_1,
            8192,
            245_760,
        ),
        (
            sys::v4l2_mpeg_video_h264_level_V4L2_MPEG_VIDEO_H264_LEVEL_4_2,
            8704,
            522_240,
        ),
    ];
    for (l, f, r) in LEVELS {
        if mbs <= f && rate <= r {
            return l as i32;
        }
    }
    LEVELS[4].0 as i32
}

/// The H.264 controls set before `REQBUFS` (dev-encoder.rst "Initialization" step 4; the
/// bcm2835-codec applies them at the first `REQBUFS`): (id, value, required). Optional ones
/// that the driver refuses are logged and skipped.
pub fn h264_controls(
    fmt: VideoFormat,
    bitrate_kbps: u32,
    gop_frames: u32,
) -> [(u32, i32, bool); 8] {
    [
        (
            cid::BITRATE_MODE,
            sys::v4l2_mpeg_video_bitrate_mode_V4L2_MPEG_VIDEO_BITRATE_MODE_CBR as i32,
            false,
        ),
        (
            cid::BITRATE,
            (bitrate_kbps.saturating_mul(1000)).min(i32::MAX as u32) as i32,
            true,
        ),
        (
            cid::H264_I_PERIOD,
            gop_frames.min(i32::MAX as u32) as i32,
            true,
        ),
        (cid::REPEAT_SEQ_HEADER, 1, true),
        (
            cid::H264_PROFILE,
            sys::v4l2_mpeg_video_h264_profile_V4L2_MPEG_VIDEO_H264_PROFILE_HIGH as i32,
            false,
        ),
        (cid::H264_LEVEL, h264_level(fmt), false),
        (cid::H264_MIN_QP, H264_MIN_QP, false),
        (cid::H264_MAX_QP, H264_MAX_QP, false),
    ]
}

/// Lowest QP: no bits wasted on pictures that are already near-perfect (static scenes).
pub const H264_MIN_QP: i32 = 16;
/// Highest QP: a quality floor when the rate control starves (busy scenes).
pub const H264_MAX_QP: i32 = 44;
