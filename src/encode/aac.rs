//! AAC-LC in ADTS (ISO/IEC 14496-3 §1.A.2 for ADTS, §4 for AAC-LC) through Fraunhofer FDK AAC
//! (`fdk-aac` crate; the bundled C sources are under the FDK licence, not MIT).
//!
//! Timing: the encoder delays the signal by `nDelay` samples per channel (`aacEncInfo`), i.e.
//! the n-th output frame (n = 0, 1, …) holds input samples starting at `n·1024 − nDelay`. This
//! encoder keeps a short history of the PTS of recent input calls and stamps each output frame
//! with the media time of its first input sample, so a decoder that plays frames at their PTS
//! reproduces the input timing. Output frames that start before the first input sample (the
//! priming frames) would need a PTS before the start of the stream: they are dropped.
//!
//! `encode` loops until FDK has consumed all input (it emits at most one frame per internal
//! call); every frame produced is appended to the caller's buffer, which keeps its capacity. The
//! per-frame scratch buffer (`maxOutBufBytes`) is allocated once in [`AacEncoder::new`].

use super::{AudioEncoder, EncodeError, EncodedAudio};
use crate::source::AudioFormat;
use crate::time::{Pts90k, HZ_90K};
use fdk_aac::enc::{AudioObjectType, BitRate, ChannelMode, Encoder, EncoderParams, Transport};

/// How many recent input calls are remembered for output timestamps (covers the codec delay
/// many times over for 1024-sample calls).
const HISTORY: usize = 16;

/// FDK AAC-LC behind [`AudioEncoder`].
pub struct AacEncoder {
    enc: Encoder,
    fmt: AudioFormat,
    frame_len: usize,
    delay: u64,
    scratch: Box<[u8]>,
    /// (first input sample index, its PTS) of recent input calls, in a ring.
    history: [(u64, Pts90k); HISTORY],
    hist_next: usize,
    hist_len: usize,
    /// Samples per channel fed so far.
    fed: u64,
    /// Frames produced by FDK so far (including dropped priming frames).
    produced: u64,
}

impl AacEncoder {
    /// An AAC-LC/ADTS encoder for `fmt` (1 or 2 channels; 44.1 or 48 kHz, or another AAC
    /// sampling rate FDK accepts) at `bitrate_kbps` constant bitrate.
    pub fn new(fmt: AudioFormat, bitrate_kbps: u32) -> Result<Self, EncodeError> {
        let channels = match fmt.channels {
            1 => ChannelMode::Mono,
            2 => ChannelMode::Stereo,
            n => {
                return Err(EncodeError {
                    msg: format!("aac: {n} channels unsupported (1 or 2)"),
                })
            }
        };
        let enc = Encoder::new(EncoderParams {
            bit_rate: BitRate::Cbr(bitrate_kbps.saturating_mul(1000)),
            sample_rate: fmt.sample_rate,
            transport: Transport::Adts,
            channels,
            audio_object_type: AudioObjectType::Mpeg4LowComplexity,
        })
        .map_err(|e| EncodeError {
            msg: format!(
                "aac: fdk-aac rejected {} Hz, {} ch, {bitrate_kbps} kbps: {e}",
                fmt.sample_rate, fmt.channels
            ),
        })?;
        let info = enc.info().map_err(|e| EncodeError {
            msg: format!("aac: reading encoder info: {e}"),
        })?;
        Ok(AacEncoder {
            enc,
            fmt,
            frame_len: info.frameLength as usize,
            delay: info.nDelay as u64,
            scratch: vec![0u8; (info.maxOutBufBytes as usize).max(768 * 2)].into_boxed_slice(),
            history: [(0, Pts90k::ZERO); HISTORY],
            hist_next: 0,
            hist_len: 0,
            fed: 0,
            produced: 0,
        })
    }

    /// The codec delay in samples per channel reported by FDK (`nDelay`).
    pub fn delay_samples(&self) -> u64 {
        self.delay
    }

    /// Media time of input sample `s` (per channel), from the newest input call at or before it.
    fn pts_of_sample(&self, s: u64) -> Pts90k {
        let rate = self.fmt.sample_rate.max(1) as u64;
        let mut best: Option<(u64, Pts90k)> = None;
        let mut oldest: Option<(u64, Pts90k)> = None;
        for k in 0..self.hist_len {
            let (start, pts) = self.history[(self.hist_next + HISTORY - 1 - k) % HISTORY];
            oldest = Some((start, pts));
            if start <= s {
                best = Some((start, pts));
                break;
            }
        }
        match best.or(oldest) {
            Some((start, pts)) if start <= s => Pts90k(pts.0 + (s - start) * HZ_90K / rate),
            Some((start, pts)) => pts.saturating_sub(Pts90k((start - s) * HZ_90K / rate)),
            None => Pts90k::ZERO,
        }
    }
}

impl AudioEncoder for AacEncoder {
    fn frame_len(&self) -> usize {
        self.frame_len
    }

    fn encode(
        &mut self,
        pcm: &[i16],
        pts: Pts90k,
        out: &mut EncodedAudio,
    ) -> Result<bool, EncodeError> {
        out.data.clear();
        out.frames = 0;
        let ch = self.fmt.channels.max(1) as usize;
        if pcm.len() % ch != 0 {
            return Err(EncodeError {
                msg: format!(
                    "aac: {} samples is not a multiple of {ch} channels",
                    pcm.len()
                ),
            });
        }
        self.history[self.hist_next] = (self.fed, pts);
        self.hist_next = (self.hist_next + 1) % HISTORY;
        self.hist_len = (self.hist_len + 1).min(HISTORY);
        self.fed += (pcm.len() / ch) as u64;

        let mut rest = pcm;
        while !rest.is_empty() {
            let info = self
                .enc
                .encode(rest, &mut self.scratch)
                .map_err(|e| EncodeError {
                    msg: format!("aac: encoding {} samples at {pts}: {e}", rest.len()),
                })?;
            if info.output_size > 0 {
                let n = self.produced;
                self.produced += 1;
                let start = n * self.frame_len as u64;
                // Frames starting before input sample 0 are priming: no valid PTS, dropped.
                if start >= self.delay {
                    let frame_pts = self.pts_of_sample(start - self.delay);
                    if out.frames == 0 {
                        out.pts = frame_pts;
                    }
                    out.data
                        .extend_from_slice(&self.scratch[..info.output_size]);
                    out.frames += 1;
                }
            } else if info.input_consumed == 0 {
                return Err(EncodeError {
                    msg: format!("aac: encoder took no input and gave no output at {pts}"),
                });
            }
            rest = &rest[info.input_consumed.min(rest.len())..];
        }
        Ok(out.frames > 0)
    }
}
