//! The mux side of a rendition: interleaving its encoded video and audio by timestamp into its
//! HLS output (or, for the audio-only rendition, cutting its audio where the video renditions
//! cut), and the channels that feed it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use super::STALL;

/// Reusable encoded-frame buffers per stream.
const ENCODED_BUFFERS: usize = 8;
/// Reusable encoded-audio buffers (each up to `AUDIO_BATCH_FRAMES` AAC frames, ≈ 85 ms): enough
/// to hold ≈ 2.7 s of audio while the mux thread waits for a slow video encoder, so the audio
/// thread keeps reading the microphone and ALSA does not overrun into silence.
const AUDIO_BUFFERS: usize = 32;
/// Initial capacity of an encoded video buffer (an IDR at high bitrate fits; grows once if not).
const VIDEO_BUF_BYTES: usize = 1 << 20;
/// An IDR is muxed (and the segment it ends published) without waiting for audio when the last
/// muxed audio frame started at most this long before it: the audio still to come then starts
/// within the muxer's 100 ms PCR lead (`MuxConfig::max_audio_pes`) of the IDR's DTS.
const EARLY_CUT_AUDIO_GAP: Pts90k = Pts90k::from_millis(75);
use crate::codec::adts::AdtsHeader;
use crate::encode::{EncodedAudio, EncodedVideo};
use crate::error::{Error, ErrorKind};
use crate::hls::master::RenditionInfo;
use crate::hls::HlsOutput;
use crate::media::AudioAu;
use crate::queue::{
    channel, DropOldestQueue, Pop, Receiver, RecvTimeoutError, Sender, TryRecvError,
};
use crate::stats::Stats;
use crate::time::{Clock, Pts90k};

/// Capture-to-downloadable latency: the capture time of each frame muxed into the open segment,
/// recorded into [`Stats::latency`] when that segment is published.
#[derive(Default)]
pub(super) struct LatencyTrack {
    /// The clock the sources stamp `captured` with; no figures without it.
    pub clock: Option<Arc<dyn Clock>>,
    /// Allocated once (`LATENCY_FRAMES`), never grown.
    pub open: Vec<Duration>,
}

impl LatencyTrack {
    /// A frame was muxed into the open segment.
    fn frame(&mut self, captured: Duration) {
        if self.clock.is_some() && self.open.len() < self.open.capacity() {
            self.open.push(captured);
        }
    }
    /// The open segment was published now: every frame of it becomes downloadable.
    fn published(&mut self, stats: &Stats) {
        if let Some(clock) = &self.clock {
            let now = clock.monotonic();
            for &c in &self.open {
                stats.latency.record(now.saturating_sub(c));
            }
        }
        self.open.clear();
    }
}

/// The channels of one lane: encoded video (and its free buffers) from the encoder to the mux
/// thread, encoded audio (and its free buffers) from the audio thread, the IDR request flag.
pub(super) struct Wires {
    encoder: Option<(Sender<EncodedVideo>, Receiver<EncodedVideo>)>,
    audio: Option<(Sender<EncodedAudio>, Receiver<EncodedAudio>)>,
    mux: Option<MuxInputs>,
    force_idr: Arc<AtomicBool>,
}

impl Wires {
    pub fn new(audio: bool) -> Self {
        let (vtx, vrx) = channel::<EncodedVideo>(ENCODED_BUFFERS);
        let (vfree_tx, vfree_rx) = channel::<EncodedVideo>(ENCODED_BUFFERS);
        for _ in 0..ENCODED_BUFFERS {
            let _ = vfree_tx.send(EncodedVideo::with_capacity(VIDEO_BUF_BYTES));
        }
        let (atx, arx) = channel::<EncodedAudio>(AUDIO_BUFFERS);
        let (afree_tx, afree_rx) = channel::<EncodedAudio>(AUDIO_BUFFERS);
        if audio {
            for _ in 0..AUDIO_BUFFERS {
                let _ = afree_tx.send(EncodedAudio::with_capacity(8 * 1024));
            }
        }
        Wires {
            encoder: Some((vtx, vfree_rx)),
            audio: audio.then_some((atx, afree_rx)),
            mux: Some(MuxInputs {
                vrx,
                arx: audio.then_some(arx),
                vfree: vfree_tx,
                afree: afree_tx,
            }),
            force_idr: Arc::new(AtomicBool::new(false)),
        }
    }

    pub fn encoder_side(
        &mut self,
    ) -> (
        Sender<EncodedVideo>,
        Receiver<EncodedVideo>,
        Arc<AtomicBool>,
    ) {
        let (tx, free) = self.encoder.take().expect("one encoder per lane");
        (tx, free, self.force_idr.clone())
    }

    pub fn audio_side(&mut self) -> Option<(Sender<EncodedAudio>, Receiver<EncodedAudio>)> {
        self.audio.take()
    }

    pub fn mux_side(mut self) -> (MuxInputs, Arc<AtomicBool>) {
        (self.mux.take().expect("one mux per lane"), self.force_idr)
    }
}

/// The mux side of one rendition: its counters and what happens at its segments.
pub(super) struct MuxLane {
    pub name: String,
    pub stats: Arc<Stats>,
    pub latency: LatencyTrack,
    pub on_first_segment: Option<Box<dyn FnOnce() + Send>>,
    pub low_latency: bool,
    /// The master playlist's figures of this rendition.
    pub info: Option<Arc<RenditionInfo>>,
    /// Set when the governor stopped this rendition.
    pub stopped: Option<Arc<AtomicBool>>,
}

impl MuxLane {
    /// A segment was published.
    fn published(&mut self, p: &crate::hls::Published) {
        Stats::add(&self.stats.segments, 1);
        if let Some(i) = &self.info {
            i.segment(p.bytes, p.duration);
        }
        if let Some(f) = self.on_first_segment.take() {
            f();
        }
    }

    /// Closes the output after the inputs ended: the last segment is published (with
    /// `EXT-X-ENDLIST` when `ended`); a stopped rendition withdraws its playlist instead.
    pub fn finish(&mut self, hls: &mut HlsOutput, ended: bool) -> Result<(), Error> {
        if self
            .stopped
            .as_ref()
            .is_some_and(|s| s.load(Ordering::SeqCst))
        {
            if let Some(i) = &self.info {
                i.stop();
            }
            return hls
                .withdraw()
                .map_err(|e| Error::new(ErrorKind::Output, e.to_string()));
        }
        let publish_ns = hls.publish_nanos();
        let t0 = Instant::now();
        let finished = hls.finish(ended);
        let (spent, publish) = (
            t0.elapsed().as_nanos() as u64,
            hls.publish_nanos() - publish_ns,
        );
        Stats::add(&self.stats.mux_ns, spent.saturating_sub(publish));
        Stats::add(&self.stats.publish_ns, publish);
        if let Ok(Some(p)) = &finished {
            // A run so short (or so starved) that its first segment is the final one is still
            // ready once that segment is out.
            self.latency.published(&self.stats);
            self.published(p);
        }
        finished
            .map(|_| ())
            .map_err(|e| Error::new(ErrorKind::Output, format!("{}: {e}", self.name)))
    }

    /// Interleaves encoded video and audio by timestamp into `hls` until both inputs close.
    /// Returns true when the inputs ended by themselves (not by an error).
    pub fn run(
        &mut self,
        hls: &mut HlsOutput,
        inp: MuxInputs,
        force_idr: &AtomicBool,
    ) -> Result<bool, Error> {
        let mut v: Option<EncodedVideo> = None;
        let mut a: Option<EncodedAudio> = None;
        let mut video_open = true;
        let mut video_stalled = false;
        let mut started = false;
        let mut audio_open = inp.arx.is_some();
        let mut last_audio: Option<Pts90k> = None;
        let low_latency = self.low_latency;
        loop {
            if self
                .stopped
                .as_ref()
                .is_some_and(|s| s.load(Ordering::Relaxed))
            {
                return Ok(false);
            }
            if v.is_none() && video_open {
                match inp.vrx.recv_timeout(STALL) {
                    Ok(x) => {
                        v = Some(x);
                        video_stalled = false;
                    }
                    Err(RecvTimeoutError::Disconnected) => video_open = false,
                    Err(RecvTimeoutError::Timeout) => video_stalled = true,
                }
            }
            if a.is_none() && audio_open {
                if let Some(arx) = &inp.arx {
                    // Block for audio only when there is something to interleave it with
                    // (or nothing else to wait for); otherwise just look. An IDR closes the
                    // open segment: it does not wait for the audio still in the AAC encoder
                    // (its look-ahead holds ~60-90 ms back) when that audio stays within the
                    // muxer's PCR lead: it goes into the next segment, still before its PTS.
                    // In LL-HLS mode every part carries the audio of its span: no early cut.
                    let early_cut = !low_latency
                        && v.as_ref().is_some_and(|v| {
                            v.key
                                && last_audio.is_some_and(|la| {
                                    v.dts.saturating_sub(la) <= EARLY_CUT_AUDIO_GAP
                                })
                        });
                    let got = if (v.is_some() && !early_cut) || !video_open {
                        arx.recv_timeout(STALL).map_err(|e| match e {
                            RecvTimeoutError::Timeout => TryRecvError::Empty,
                            RecvTimeoutError::Disconnected => TryRecvError::Disconnected,
                        })
                    } else {
                        arx.try_recv()
                    };
                    match got {
                        Ok(x) => a = Some(x),
                        Err(TryRecvError::Disconnected) => audio_open = false,
                        Err(TryRecvError::Empty) => {}
                    }
                }
            }
            let take_audio = match (&v, &a) {
                (Some(v), Some(a)) => a.pts < v.dts,
                // Video silent for STALL (or ended): audio goes on alone.
                (None, Some(_)) => !video_open || video_stalled,
                (Some(_), None) => false,
                (None, None) => {
                    if !video_open && !audio_open {
                        return Ok(true);
                    }
                    continue;
                }
            };
            let t0 = Instant::now();
            let publish_ns = hls.publish_nanos();
            if take_audio {
                if let Some(buf) = a.take() {
                    last_audio = Some(buf.pts);
                    if let Err(e) = hls.push_audio(&buf.au()) {
                        log::warn!("audio frame at {} not muxed: {e}", buf.pts);
                    }
                    let _ = inp.afree.send(buf);
                }
            } else if let Some(buf) = v.take() {
                // The first frame of a run is always flagged; HlsOutput itself marks a join
                // with an earlier run, so only later switches are discontinuities here.
                if buf.discontinuity && hls.segments_published() + u64::from(started) > 0 {
                    hls.mark_discontinuity();
                    Stats::add(&self.stats.restarts, 1);
                }
                let (muxed, dropped) = (hls.frames_muxed(), hls.segments_dropped());
                let parts = hls.parts_published();
                let pushed = hls.push_video(&buf.au(), buf.wall);
                // A frame is downloadable once its part (LL-HLS) or its segment is published.
                if matches!(pushed, Ok(Some(_))) || hls.parts_published() > parts {
                    self.latency.published(&self.stats);
                } else if hls.segments_dropped() > dropped {
                    self.latency.open.clear();
                }
                if hls.frames_muxed() > muxed {
                    self.latency.frame(buf.captured);
                    if let Some(i) = &self.info {
                        i.video_au(&buf.data, buf.key);
                    }
                }
                match pushed {
                    Ok(Some(p)) => {
                        log::debug!(
                            "{}: segment seg{} published: {} ms, {} bytes",
                            self.name,
                            p.seq,
                            p.duration.as_millis_rounded(),
                            p.bytes
                        );
                        self.published(&p);
                    }
                    Ok(None) => {}
                    Err(e) => log::warn!("video frame at {} not muxed: {e}", buf.pts),
                }
                started = true;
                if hls.wants_keyframe() {
                    force_idr.store(true, Ordering::Relaxed);
                }
                let _ = inp.vfree.send(buf);
            }
            // Publishing happens inside push_video at a cut: counted apart from muxing.
            let publish = hls.publish_nanos() - publish_ns;
            let spent = t0.elapsed().as_nanos() as u64;
            Stats::add(&self.stats.mux_ns, spent.saturating_sub(publish));
            Stats::add(&self.stats.publish_ns, publish);
        }
    }
}

pub(super) struct MuxInputs {
    pub vrx: Receiver<EncodedVideo>,
    pub arx: Option<Receiver<EncodedAudio>>,
    pub vfree: Sender<EncodedVideo>,
    pub afree: Sender<EncodedAudio>,
}

/// Where the video renditions begin their segments: (PTS, wall clock) of each keyframe the
/// capture thread decided, for the audio-only rendition to cut at the same media times, and
/// how far the capture has decided.
pub(crate) struct Cuts {
    /// (PTS, wall clock, discontinuity) of each cut.
    queue: DropOldestQueue<Cut>,
    /// PTS + 1 of the last picture decided (0: none yet); `u64::MAX` once the capture ended.
    decided: AtomicU64,
}

/// A keyframe of the video renditions: its PTS, its wall clock, and whether it begins a
/// discontinuity (the source was switched).
type Cut = (Pts90k, SystemTime, bool);

/// Longest wait of the audio-only rendition for the capture to decide a picture's time (only
/// unpaced runs, where audio can run ahead of video, ever wait).
const DECIDED_WAIT: Duration = Duration::from_millis(500);

impl Cuts {
    pub fn new(capacity: usize) -> Self {
        Cuts {
            queue: DropOldestQueue::new(capacity),
            decided: AtomicU64::new(0),
        }
    }

    /// The capture decided the picture at `pts` (a cut when `cut`, captured at `wall`; the
    /// video renditions mark a discontinuity there when `discontinuity`).
    pub fn decided(&self, pts: Pts90k, cut: bool, wall: SystemTime, discontinuity: bool) {
        if cut {
            self.queue.push((pts, wall, discontinuity));
        }
        self.decided.store(pts.0 + 1, Ordering::Release);
    }

    /// The capture ended: nothing more will be decided.
    pub fn end(&self) {
        self.decided.store(u64::MAX, Ordering::Release);
    }

    /// Waits (bounded) until every cut at or before `pts` is known.
    fn wait_decided(&self, pts: Pts90k) {
        let deadline = Instant::now() + DECIDED_WAIT;
        while self.decided.load(Ordering::Acquire) <= pts.0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

impl MuxLane {
    /// The audio-only rendition: every AAC frame of every batch to `hls`, a segment begun at
    /// the first frame at or after each cut the video renditions made. Returns true when the
    /// audio ended by itself.
    pub fn run_audio_only(
        &mut self,
        hls: &mut HlsOutput,
        arx: &Receiver<EncodedAudio>,
        afree: &Sender<EncodedAudio>,
        cuts: &Cuts,
    ) -> bool {
        let mut next: Option<Cut> = None;
        loop {
            let batch = match arx.recv_timeout(STALL) {
                Ok(b) => b,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => return true,
            };
            let t0 = Instant::now();
            let (mut off, mut k) = (0, 0u64);
            while let Ok(h) = AdtsHeader::parse(&batch.data[off..]) {
                let end = (off + h.frame_length).min(batch.data.len());
                let pts =
                    batch.pts + Pts90k(k * 1024 * crate::time::HZ_90K / u64::from(h.sample_rate));
                // The last cut due at or before this frame (a late frame may pass several).
                cuts.wait_decided(pts);
                let mut cut = None;
                loop {
                    if next.is_none() {
                        if let Pop::Item(c) = cuts.queue.pop_timeout(Duration::ZERO) {
                            next = Some(c);
                        }
                    }
                    match next {
                        Some(c) if pts >= c.0 => cut = next.take(),
                        _ => break,
                    }
                }
                // The wall clock of this frame: the video's at the cut, plus how much later it
                // starts.
                let wall = cut.map_or(SystemTime::UNIX_EPOCH, |(t, w, _)| {
                    w + pts.saturating_sub(t).to_duration()
                });
                // The video renditions mark a source switch (not the run's first picture,
                // which every source flags): so does this one, to keep the discontinuity
                // sequences of all renditions equal, though its audio runs on unbroken.
                if cut.is_some_and(|c| c.2) && hls.segments_published() > 0 {
                    hls.mark_discontinuity();
                }
                let au = AudioAu {
                    data: &batch.data[off..end],
                    pts,
                };
                match hls.push_audio_only(&au, cut.is_some(), wall) {
                    Ok(Some(p)) => self.published(&p),
                    Ok(None) => {}
                    Err(e) => log::warn!("rendition {}: audio at {pts} not muxed: {e}", self.name),
                }
                if end <= off {
                    break;
                }
                (off, k) = (end, k + 1);
                if off >= batch.data.len() {
                    break;
                }
            }
            let _ = afree.send(batch);
            Stats::add(&self.stats.mux_ns, t0.elapsed().as_nanos() as u64);
        }
    }
}
