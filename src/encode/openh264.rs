//! Software H.264 (Cisco OpenH264 through the `openh264` crate) for boards without a hardware
//! encoder and for `--fast` test runs.
//!
//! Settings follow what HLS needs (RFC 8216 §3.4 and Apple's HLS authoring spec: every segment
//! starts with an IDR; SPS/PPS in-band): real-time camera usage, bitrate rate control at the
//! configured rate, `max_frame_rate` = fps, **frame skipping off** (one access unit per picture,
//! so media time never has holes), IDR period = `idr_period_frames` (the pipeline passes
//! `segment_seconds × fps`), scene-change detection off (IDRs come only on the period or on
//! [`VideoEncoder::force_keyframe`]). OpenH264 writes SPS and PPS before every IDR and emits
//! Annex B with 4-byte start codes; no B-frames, so `dts = pts`.
//!
//! Input planes are borrowed from the frame's pool buffer (`YUVSlices`, no copy). Output is
//! copied NAL by NAL into the caller's [`EncodedVideo::data`], which keeps its capacity: once it
//! has grown to the largest access unit no further allocation happens on the Rust side
//! (OpenH264's own buffers live inside the C++ library).

use super::{EncodeError, EncodedVideo, VideoEncoder};
use crate::source::{RawFrame, VideoFormat};
use ::openh264::encoder::{
    BitRate, Encoder, EncoderConfig, FrameRate, FrameType, IntraFramePeriod, RateControlMode,
    UsageType,
};
use ::openh264::formats::YUVSlices;
use ::openh264::{OpenH264API, Timestamp};

/// OpenH264 behind [`VideoEncoder`].
pub struct OpenH264Encoder {
    enc: Encoder,
    fmt: VideoFormat,
    frames: u64,
}

impl OpenH264Encoder {
    /// An encoder for `fmt` pictures at `bitrate_kbps`, an IDR every `idr_period_frames`
    /// pictures (0 = only the first and forced ones), `threads` encoder threads (0 = OpenH264
    /// decides). Width and height must be even, non-zero and at most 3840×2160.
    pub fn new(
        fmt: VideoFormat,
        bitrate_kbps: u32,
        idr_period_frames: u32,
        threads: u16,
    ) -> Result<Self, EncodeError> {
        let (w, h) = (fmt.width, fmt.height);
        if w == 0 || h == 0 || w % 2 != 0 || h % 2 != 0 || w.max(h) > 3840 || w.min(h) > 2160 {
            return Err(EncodeError {
                msg: format!("openh264: unsupported picture size {w}x{h} (even, ≤ 3840x2160)"),
            });
        }
        if fmt.fps == 0 || bitrate_kbps == 0 || bitrate_kbps > 2_000_000 {
            return Err(EncodeError {
                msg: format!(
                    "openh264: invalid fps {} or bitrate {bitrate_kbps} kbps",
                    fmt.fps
                ),
            });
        }
        let cfg = EncoderConfig::new()
            .usage_type(UsageType::CameraVideoRealTime)
            .rate_control_mode(RateControlMode::Bitrate)
            .bitrate(BitRate::from_bps(bitrate_kbps * 1000))
            .max_frame_rate(FrameRate::from_hz(fmt.fps as f32))
            .skip_frames(false)
            .intra_frame_period(IntraFramePeriod::from_num_frames(idr_period_frames))
            .scene_change_detect(false)
            .num_threads(threads);
        let enc =
            Encoder::with_api_config(OpenH264API::from_source(), cfg).map_err(|e| EncodeError {
                msg: format!(
                    "openh264: creating the encoder for {w}x{h}@{}: {e}",
                    fmt.fps
                ),
            })?;
        Ok(OpenH264Encoder {
            enc,
            fmt,
            frames: 0,
        })
    }

    /// Pictures encoded so far.
    pub fn frames(&self) -> u64 {
        self.frames
    }
}

impl VideoEncoder for OpenH264Encoder {
    fn name(&self) -> &str {
        "openh264"
    }

    fn encode(&mut self, frame: &RawFrame, out: &mut EncodedVideo) -> Result<bool, EncodeError> {
        out.data.clear();
        let f = frame.format;
        if f.width == 0 || f.height == 0 || f.width % 2 != 0 || f.height % 2 != 0 {
            return Err(EncodeError {
                msg: format!(
                    "openh264: frame {} has odd size {}x{}",
                    frame.seq, f.width, f.height
                ),
            });
        }
        if frame.buf.len() < f.i420_len() {
            return Err(EncodeError {
                msg: format!(
                    "openh264: frame {} buffer holds {} bytes, {}x{} I420 needs {}",
                    frame.seq,
                    frame.buf.len(),
                    f.width,
                    f.height,
                    f.i420_len()
                ),
            });
        }
        // A geometry change re-initialises OpenH264, which then starts with an IDR.
        self.fmt = f;
        let (w, h) = (f.width as usize, f.height as usize);
        // `planes()` gives exactly h·w and (h/2)·(w/2) bytes: YUVSlices' length asserts hold.
        let yuv = YUVSlices::new(frame.planes(), (w, h), (w, w / 2, w / 2));
        let ts = Timestamp::from_millis(frame.pts.as_millis_rounded());
        let bs = self.enc.encode_at(&yuv, ts).map_err(|e| EncodeError {
            msg: format!(
                "openh264: encoding frame {} (pts {}): {e}",
                frame.seq, frame.pts
            ),
        })?;
        self.frames += 1;
        let kind = bs.frame_type();
        if matches!(kind, FrameType::Skip | FrameType::Invalid) {
            return Ok(false);
        }
        // `write_vec` appends each NAL with `extend_from_slice`: no allocation once `data` has
        // the capacity of the largest access unit.
        bs.write_vec(&mut out.data);
        if out.data.is_empty() {
            return Ok(false);
        }
        out.key = kind == FrameType::IDR;
        out.pts = frame.pts;
        out.dts = frame.pts;
        out.captured = frame.captured;
        out.wall = frame.wall;
        out.discontinuity = frame.discontinuity;
        Ok(true)
    }

    fn force_keyframe(&mut self) {
        self.enc.force_intra_frame();
    }
}
