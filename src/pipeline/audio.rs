//! The audio thread: PCM from the source, AAC from the encoder, batches to every rendition.
//!
//! Audio is encoded once. The first rendition gets each batch itself; every other rendition
//! (and the audio-only one) gets a copy in one of its own reusable buffers. A rendition whose
//! buffers are all in use (its mux thread is behind) misses that batch, which is counted in
//! its `drops`; the others are not held up.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use crate::encode::{AudioEncoder, EncodedAudio};
use crate::queue::{Receiver, Sender};
use crate::source::{AudioSource, SourceError};
use crate::stats::Stats;
use crate::time::Pts90k;

/// Where one more rendition's audio goes: its channel, its free buffers, its counters.
pub(crate) struct AudioCopy {
    pub out: Sender<EncodedAudio>,
    pub free: Receiver<EncodedAudio>,
    pub stats: Arc<Stats>,
}

impl AudioCopy {
    fn send(&self, b: &EncodedAudio) {
        match self.free.try_recv() {
            Ok(mut c) => {
                c.data.clear();
                c.data.extend_from_slice(&b.data);
                c.pts = b.pts;
                c.frames = b.frames;
                // A rendition that has stopped has closed its channel: nothing to do.
                let _ = self.out.send(c);
            }
            Err(_) => Stats::add(&self.stats.drops, 1),
        }
    }
}

/// AAC frames gathered into one [`EncodedAudio`] before it goes to the mux thread.
///
/// The trade-off: fewer, larger PES. The muxer writes a batch that spans at most its
/// `max_audio_pes` (100 ms) as one PES straight from the batch's bytes — one copy instead of
/// two, and one call, PES header and PCR check per batch instead of per frame — and the
/// channel carries a quarter of the messages. The price is latency: a frame waits for up to
/// three more (4 frames ≈ 85 ms at 48 kHz, 93 ms at 44.1 kHz) before audio reaches the
/// muxer, far below the segment latency of classic HLS (a player is at least one 2 s segment
/// behind); LL-HLS sends single frames ([`AudioLimits::batch_frames`]). At lower sample rates
/// batches are cut to [`AUDIO_BATCH_SPAN`].
pub(crate) const AUDIO_BATCH_FRAMES: u32 = 4;
/// Longest media time one audio batch spans: the muxer's default `max_audio_pes`, so every
/// batch is one PES at any sample rate (4 frames at 44.1 and 48 kHz, 3 at 32 kHz, 1 at
/// 16 kHz and below). The encoded-audio buffers (8 KiB) hold 4 frames of the largest AAC-LC
/// frame (6 144 bits per channel, 2 channels: 4 × 1 543 bytes).
const AUDIO_BATCH_SPAN: Pts90k = Pts90k::from_millis(100);

/// When the audio thread stops and how many frames it gathers per message.
#[derive(Debug, Clone, Copy)]
pub(crate) struct AudioLimits {
    pub duration: Option<Pts90k>,
    pub batch_frames: u32,
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn audio_loop(
    mut src: Box<dyn AudioSource>,
    mut enc: Box<dyn AudioEncoder>,
    out: Sender<EncodedAudio>,
    copies: &[AudioCopy],
    free: Receiver<EncodedAudio>,
    stats: &Stats,
    stop: &AtomicBool,
    limits: AudioLimits,
) {
    let AudioLimits {
        duration,
        batch_frames,
    } = limits;
    let fmt = src.format();
    log::info!("audio source {} at {:?}", src.name(), fmt);
    let mut pcm = vec![0i16; enc.frame_len() * fmt.channels as usize];
    let rate = u64::from(fmt.sample_rate.max(1));
    let frame_samples = enc.frame_len() as u64;
    let ticks = |samples: u64| Pts90k(samples * crate::time::HZ_90K / rate);
    let frame_ticks = ticks(frame_samples).0.max(1);
    let per_batch = (AUDIO_BATCH_SPAN.0 / frame_ticks).clamp(1, u64::from(batch_frames.max(1)));
    // The encoder writes each frame here; it is appended to the batch (allocated once, here).
    let mut frame = EncodedAudio::with_capacity(8 * 1024);
    let mut batch: Option<EncodedAudio> = None;
    let send = |b: EncodedAudio| {
        Stats::add(&stats.audio_frames, b.frames as u64);
        Stats::add(&stats.audio_bytes, b.data.len() as u64);
        for c in copies {
            c.send(&b);
        }
        out.send(b).is_ok()
    };
    while !stop.load(Ordering::Relaxed) {
        let pts = match src.read(&mut pcm) {
            Ok(p) => p,
            Err(SourceError::End) => break,
            Err(e) => {
                log::warn!("audio source {}: {e}", src.name());
                thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        if duration.is_some_and(|d| pts >= d) {
            break;
        }
        let t0 = Instant::now();
        let res = enc.encode(&pcm, pts, &mut frame);
        Stats::add(&stats.aac_ns, t0.elapsed().as_nanos() as u64);
        match res {
            Ok(true) => {}
            Ok(false) => continue,
            Err(e) => {
                log::warn!("AAC encoder failed: {e}");
                continue;
            }
        }
        // The muxer times a batch's frames by sample count from its PTS: a frame that does not
        // follow on (a gap in the source) or does not fit the buffer starts a new batch.
        if let Some(b) = &batch {
            let next = b.pts + ticks(u64::from(b.frames) * frame_samples);
            if frame.pts.0.abs_diff(next.0) > frame_ticks / 2
                || b.data.len() + frame.data.len() > b.data.capacity()
            {
                if let Some(b) = batch.take() {
                    if !send(b) {
                        return;
                    }
                }
            }
        }
        let b = match &mut batch {
            Some(b) => b,
            None => {
                let Ok(mut b) = free.recv() else {
                    return;
                };
                b.data.clear();
                b.frames = 0;
                b.pts = frame.pts;
                batch.insert(b)
            }
        };
        b.data.extend_from_slice(&frame.data);
        b.frames += frame.frames;
        if u64::from(b.frames) >= per_batch {
            if let Some(b) = batch.take() {
                if !send(b) {
                    return;
                }
            }
        }
    }
    // End of stream (or stop): the partial batch goes too.
    if let Some(b) = batch {
        send(b);
    }
}
