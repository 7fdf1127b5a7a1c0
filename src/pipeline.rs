//! Wiring: the capture, encoder, audio and mux threads and the bounded queues between them.
//!
//! ```text
//! capture ─RawFrame(Lease)─► [drop-oldest queue] ─► video encoder ─EncodedVideo─┐
//!                                                                               ├─► mux (this thread): interleave by DTS ─► HlsOutput
//! audio source ─► AAC encoder ─EncodedAudio─────────────────────────────────────┘
//! ```
//!
//! - Raw frames live in a fixed [`Pool`]; when the encoder is slower than the camera the oldest
//!   waiting frame is dropped and counted (paced runs). Unpaced (`--fast`) runs apply
//!   back-pressure instead, so no frame is lost.
//! - Encoded buffers circulate: each encoder owns a fixed set of reusable output buffers that the
//!   mux thread sends back after muxing, so nothing on the frame path allocates once warm.
//! - The mux thread interleaves by timestamp: it holds at most one video and one audio item and
//!   always muxes the earlier one; when one stream is silent for [`STALL`] the other goes on
//!   alone.
//! - Time limits (`--duration`) are media time: sources stop once a frame's PTS reaches it.

use crate::encode::{AudioEncoder, EncodeError, EncodedAudio, EncodedVideo, VideoEncoder};
use crate::error::{Error, ErrorKind};
use crate::hls::consumer::Consumer;
use crate::hls::{HlsConfig, HlsOutput, LiveShared};
use crate::pool::Pool;
use crate::queue::{channel, Receiver, RecvTimeoutError, Sender, TryRecvError};
use crate::queue::{DropOldestQueue, Pop};
use crate::source::{AudioSource, SourceError, VideoFormat, VideoSource};
use crate::stats::Stats;
use crate::time::{Clock, Pts90k};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// How long the mux thread waits for one stream before muxing the other alone.
pub const STALL: Duration = Duration::from_millis(500);
/// Raw frames that may wait for the encoder before the oldest is dropped (paced runs).
const RAW_QUEUE: usize = 3;
/// Raw frames waiting for the encoder in unpaced (`fast`) runs: back-pressure keeps the queue
/// full, so a deeper one only holds more 1.4 MB (720p) buffers without feeding the encoder
/// any faster; rendering a frame takes a small fraction of encoding it.
const RAW_QUEUE_FAST: usize = 1;
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
/// Capture times kept for the open segment (latency figures): 10 s at 120 fps is 1200 frames;
/// frames beyond this many in one segment are not counted.
const LATENCY_FRAMES: usize = 4096;

/// Builds a video encoder for a geometry (called again only when the geometry changes).
pub type EncoderFactory =
    Box<dyn FnMut(VideoFormat) -> Result<Box<dyn VideoEncoder>, EncodeError> + Send>;

/// Everything the pipeline needs besides its sources and encoders.
pub struct PipelineConfig {
    /// Where and how segments are written.
    pub hls: HlsConfig,
    /// Stop after this much media time (a finite run ends with `EXT-X-ENDLIST`).
    pub duration: Option<Pts90k>,
    /// Sources are not paced by the wall clock: apply back-pressure instead of dropping frames.
    pub fast: bool,
    /// Where the playlist and LL-HLS progress are published for this process's HTTP server.
    pub live: Option<Arc<LiveShared>>,
}

/// What a finished run did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Segments published.
    pub segments: u64,
    /// True when the run ended by reaching `duration` (playlist closed with ENDLIST).
    pub ended: bool,
}

/// The threads of one streaming run.
pub struct Pipeline {
    cfg: PipelineConfig,
    stats: Arc<Stats>,
    stop: Arc<AtomicBool>,
    on_first_segment: Option<Box<dyn FnOnce() + Send>>,
    latency: LatencyTrack,
    consumers: Vec<Box<dyn Consumer>>,
}

/// Capture-to-downloadable latency: the capture time of each frame muxed into the open segment,
/// recorded into [`Stats::latency`] when that segment is published.
struct LatencyTrack {
    /// The clock the sources stamp `captured` with; no figures without it.
    clock: Option<Arc<dyn Clock>>,
    /// Allocated once (`LATENCY_FRAMES`), never grown.
    open: Vec<Duration>,
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

impl Pipeline {
    /// A pipeline that stops early when `stop` becomes true (signals).
    pub fn new(cfg: PipelineConfig, stats: Arc<Stats>, stop: Arc<AtomicBool>) -> Self {
        Pipeline {
            cfg,
            stats,
            stop,
            on_first_segment: None,
            latency: LatencyTrack {
                clock: None,
                open: Vec::new(),
            },
            consumers: Vec::new(),
        }
    }

    /// Adds a consumer of every part and segment of the output (an origin publisher, say),
    /// from the run's first segment on.
    pub fn add_consumer(&mut self, c: Box<dyn Consumer>) {
        self.consumers.push(c);
    }

    /// Records capture-to-downloadable latency into [`Stats::latency`], reading "now" from
    /// `clock`, which must be the clock the video source stamps [`RawFrame::captured`] with.
    ///
    /// [`RawFrame::captured`]: crate::source::RawFrame::captured
    pub fn latency_clock(&mut self, clock: Arc<dyn Clock>) {
        self.latency.clock = Some(clock);
        self.latency.open = Vec::with_capacity(LATENCY_FRAMES);
    }

    /// Calls `f` once, when the first segment has been published (systemd `READY=1`).
    pub fn on_first_segment(&mut self, f: impl FnOnce() + Send + 'static) {
        self.on_first_segment = Some(Box::new(f));
    }

    /// Runs until the sources end, `duration` is reached or `stop` is set; muxes on this thread.
    pub fn run(
        self,
        video: Box<dyn VideoSource>,
        make_encoder: EncoderFactory,
        audio: Option<(Box<dyn AudioSource>, Box<dyn AudioEncoder>)>,
    ) -> Result<Summary, Error> {
        self.run_input(VideoInput::Raw(video, make_encoder), audio)
    }

    /// As [`run`](Self::run) for a source that delivers H.264 itself (a camera's own encoder,
    /// `encoder = "camera"`): no raw frames and no encoder; the muxer adds AUD/SPS/PPS.
    pub fn run_encoded(
        self,
        video: Box<dyn EncodedVideoSource>,
        audio: Option<(Box<dyn AudioSource>, Box<dyn AudioEncoder>)>,
    ) -> Result<Summary, Error> {
        self.run_input(VideoInput::Encoded(video), audio)
    }

    fn run_input(
        mut self,
        input: VideoInput,
        audio: Option<(Box<dyn AudioSource>, Box<dyn AudioEncoder>)>,
    ) -> Result<Summary, Error> {
        let mut hls = HlsOutput::open(self.cfg.hls.clone())
            .map_err(|e| Error::new(ErrorKind::Output, e.to_string()))?;
        if let Some(live) = &self.cfg.live {
            hls.share(live.clone());
        }
        for c in self.consumers.drain(..) {
            hls.add_consumer(c);
        }
        let force_idr = Arc::new(AtomicBool::new(false));
        let (vtx, vrx) = channel::<EncodedVideo>(ENCODED_BUFFERS);
        let (vfree_tx, vfree_rx) = channel::<EncodedVideo>(ENCODED_BUFFERS);
        for _ in 0..ENCODED_BUFFERS {
            let _ = vfree_tx.send(EncodedVideo::with_capacity(VIDEO_BUF_BYTES));
        }
        let (atx, arx) = channel::<EncodedAudio>(AUDIO_BUFFERS);
        let (afree_tx, afree_rx) = channel::<EncodedAudio>(AUDIO_BUFFERS);
        for _ in 0..AUDIO_BUFFERS {
            let _ = afree_tx.send(EncodedAudio::with_capacity(8 * 1024));
        }

        let (duration, fast) = (self.cfg.duration, self.cfg.fast);
        let (video_threads, raw) = match input {
            VideoInput::Raw(video, mut make_encoder) => {
                let fmt = video.format();
                let first_encoder = make_encoder(fmt).map_err(|e| {
                    Error::new(
                        ErrorKind::Encoder,
                        format!("video encoder for {fmt:?}: {e}"),
                    )
                })?;
                // In use at once: the queue, the frame being captured, the frame being encoded,
                // and one the drop-oldest queue has just pushed out (paced) — never exhausted in
                // fast runs.
                let depth = if fast { RAW_QUEUE_FAST } else { RAW_QUEUE };
                let pool = Pool::new(depth + 3, fmt.i420_len());
                let raw = Arc::new(DropOldestQueue::new(depth));
                let capture = {
                    let (raw, stats, stop) = (raw.clone(), self.stats.clone(), self.stop.clone());
                    spawn("capture", move || {
                        capture_loop(video, &pool, &raw, &stats, &stop, duration, fast)
                    })?
                };
                let encoder = {
                    let (raw, stats, force) = (raw.clone(), self.stats.clone(), force_idr.clone());
                    spawn("encode", move || {
                        encode_loop(
                            first_encoder,
                            &mut make_encoder,
                            &raw,
                            vtx,
                            vfree_rx,
                            &stats,
                            &force,
                        )
                    })?
                };
                (vec![capture, encoder], Some(raw))
            }
            VideoInput::Encoded(src) => {
                let (stats, stop) = (self.stats.clone(), self.stop.clone());
                let capture = spawn("capture", move || {
                    passthrough_loop(src, vtx, vfree_rx, &stats, &stop, duration)
                })?;
                (vec![capture], None)
            }
        };
        let has_audio = audio.is_some();
        let audio_thread = match audio {
            Some((src, enc)) => {
                let (stats, stop) = (self.stats.clone(), self.stop.clone());
                let limits = AudioLimits {
                    duration: self.cfg.duration,
                    // LL-HLS: a part must carry the audio of its time span, so audio reaches
                    // the muxer frame by frame instead of waiting for a batch to fill.
                    batch_frames: if self.cfg.hls.low_latency.is_some() {
                        1
                    } else {
                        AUDIO_BATCH_FRAMES
                    },
                };
                Some(spawn("audio", move || {
                    audio_loop(src, enc, atx, afree_rx, &stats, &stop, limits)
                })?)
            }
            None => {
                drop((atx, afree_rx));
                None
            }
        };

        let mux = MuxInputs {
            vrx,
            arx: if has_audio { Some(arx) } else { None },
            vfree: vfree_tx,
            afree: afree_tx,
        };
        let result = self.mux_loop(&mut hls, mux, &force_idr);
        if let Some(raw) = &raw {
            raw.close();
        }
        for t in video_threads.into_iter().chain(audio_thread) {
            if t.join().is_err() {
                log::error!("a pipeline thread panicked");
            }
        }
        let ended = result? && !self.stop.load(Ordering::SeqCst);
        let (published, publish_ns) = (hls.segments_published(), hls.publish_nanos());
        let t0 = Instant::now();
        let finished = hls.finish(ended);
        let (spent, publish) = (
            t0.elapsed().as_nanos() as u64,
            hls.publish_nanos() - publish_ns,
        );
        Stats::add(&self.stats.mux_ns, spent.saturating_sub(publish));
        Stats::add(&self.stats.publish_ns, publish);
        if hls.segments_published() > published {
            Stats::add(&self.stats.segments, 1);
            self.latency.published(&self.stats);
            // A run so short (or so starved) that its first segment is the final one is still
            // ready once that segment is out.
            if let Some(f) = self.on_first_segment.take() {
                f();
            }
        }
        finished.map_err(|e| Error::new(ErrorKind::Output, e.to_string()))?;
        Ok(Summary {
            segments: hls.segments_published(),
            ended,
        })
    }

    /// Interleaves encoded video and audio by timestamp into `hls` until both inputs close.
    /// Returns true when the inputs ended by themselves (not by an error).
    fn mux_loop(
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
        let low_latency = self.cfg.hls.low_latency.is_some();
        loop {
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
                }
                match pushed {
                    Ok(Some(p)) => {
                        Stats::add(&self.stats.segments, 1);
                        log::debug!(
                            "segment seg{}.ts published: {} ms, {} bytes",
                            p.seq,
                            p.duration.as_millis_rounded(),
                            p.bytes
                        );
                        if let Some(f) = self.on_first_segment.take() {
                            f();
                        }
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

/// A source that delivers encoded H.264 access units itself (a camera's own encoder).
pub trait EncodedVideoSource: Send {
    /// Short name for logs and `/api/status`.
    fn name(&self) -> &str;
    /// Fills `out` (its `data` cleared first, capacity reused) with the next access unit in
    /// Annex B form, with its times, key flag and discontinuity flag.
    fn next_au(&mut self, out: &mut EncodedVideo) -> Result<(), SourceError>;
}

enum VideoInput {
    Raw(Box<dyn VideoSource>, EncoderFactory),
    Encoded(Box<dyn EncodedVideoSource>),
}

/// The capture thread of an encoded source: access units straight into encoded buffers.
fn passthrough_loop(
    mut src: Box<dyn EncodedVideoSource>,
    out: Sender<EncodedVideo>,
    free: Receiver<EncodedVideo>,
    stats: &Stats,
    stop: &AtomicBool,
    duration: Option<Pts90k>,
) {
    log::info!(
        "video source {} (the camera's own H.264, not re-encoded)",
        src.name()
    );
    let mut spare: Option<EncodedVideo> = None;
    while !stop.load(Ordering::Relaxed) {
        let Some(mut buf) = spare.take().or_else(|| free.recv().ok()) else {
            break;
        };
        match src.next_au(&mut buf) {
            Ok(()) => {
                if duration.is_some_and(|d| buf.pts >= d) {
                    break;
                }
                Stats::add(&stats.frames_in, 1);
                Stats::add(&stats.frames_out, 1);
                Stats::add(&stats.video_bytes, buf.data.len() as u64);
                if out.send(buf).is_err() {
                    break;
                }
            }
            Err(SourceError::End) => break,
            Err(e) => {
                log::warn!("video source {}: {e}", src.name());
                spare = Some(buf);
                thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

struct MuxInputs {
    vrx: Receiver<EncodedVideo>,
    arx: Option<Receiver<EncodedAudio>>,
    vfree: Sender<EncodedVideo>,
    afree: Sender<EncodedAudio>,
}

fn spawn<F: FnOnce() + Send + 'static>(name: &str, f: F) -> Result<thread::JoinHandle<()>, Error> {
    thread::Builder::new()
        .name(name.to_string())
        .spawn(f)
        .map_err(|e| Error::new(ErrorKind::Internal, format!("spawn {name} thread: {e}")))
}

fn capture_loop(
    mut video: Box<dyn VideoSource>,
    pool: &Pool,
    raw: &DropOldestQueue<crate::source::RawFrame>,
    stats: &Stats,
    stop: &AtomicBool,
    duration: Option<Pts90k>,
    fast: bool,
) {
    log::info!("video source {} at {:?}", video.name(), video.format());
    while !stop.load(Ordering::Relaxed) {
        // CPU time, not wall time: next_frame blocks until the frame is due (paced sources,
        // cameras), and that wait is not a cost.
        let t0 = thread_cpu_ns();
        match video.next_frame(pool) {
            Ok(frame) => {
                Stats::add(&stats.capture_ns, thread_cpu_ns().saturating_sub(t0));
                if duration.is_some_and(|d| frame.pts >= d) {
                    break;
                }
                Stats::add(&stats.frames_in, 1);
                if fast {
                    if raw.push_wait(frame).is_err() {
                        break;
                    }
                } else if raw.push_merge(frame, |dropped, survivor| {
                    // A source switch must not vanish with the frame that carried it.
                    survivor.discontinuity |= dropped.discontinuity;
                }) {
                    Stats::add(&stats.drops, 1);
                }
            }
            Err(SourceError::End) => break,
            Err(SourceError::PoolExhausted) => {
                Stats::add(&stats.drops, 1);
                thread::sleep(Duration::from_millis(5));
            }
            Err(e) => {
                log::warn!("video source {}: {e}", video.name());
                thread::sleep(Duration::from_millis(100));
            }
        }
    }
    raw.close();
}

/// CPU time consumed by the calling thread, ns (`CLOCK_THREAD_CPUTIME_ID`; no allocation).
fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the call only writes it.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn encode_loop(
    mut enc: Box<dyn VideoEncoder>,
    make_encoder: &mut EncoderFactory,
    raw: &DropOldestQueue<crate::source::RawFrame>,
    out: Sender<EncodedVideo>,
    free: Receiver<EncodedVideo>,
    stats: &Stats,
    force_idr: &AtomicBool,
) {
    let mut fmt: Option<VideoFormat> = None;
    let mut spare: Option<EncodedVideo> = None;
    loop {
        let frame = match raw.pop_timeout(Duration::from_millis(200)) {
            Pop::Item(f) => f,
            Pop::Timeout => continue,
            Pop::Closed => break,
        };
        if fmt.is_some_and(|f| f != frame.format) {
            log::info!(
                "geometry changed to {:?}: rebuilding the encoder",
                frame.format
            );
            match make_encoder(frame.format) {
                Ok(e) => enc = e,
                Err(e) => {
                    log::error!("encoder for {:?}: {e}", frame.format);
                    continue;
                }
            }
        }
        fmt = Some(frame.format);
        if frame.discontinuity || force_idr.swap(false, Ordering::Relaxed) {
            enc.force_keyframe();
        }
        let Some(mut buf) = spare.take().or_else(|| free.recv().ok()) else {
            break;
        };
        let t0 = Instant::now();
        let res = enc.encode(&frame, &mut buf);
        Stats::add(&stats.encode_ns, t0.elapsed().as_nanos() as u64);
        drop(frame);
        match res {
            Ok(true) => {
                Stats::add(&stats.frames_out, 1);
                Stats::add(&stats.video_bytes, buf.data.len() as u64);
                if out.send(buf).is_err() {
                    break;
                }
            }
            Ok(false) => spare = Some(buf),
            Err(e) => {
                log::warn!("{} failed on a frame: {e}", enc.name());
                spare = Some(buf);
            }
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
const AUDIO_BATCH_FRAMES: u32 = 4;
/// Longest media time one audio batch spans: the muxer's default `max_audio_pes`, so every
/// batch is one PES at any sample rate (4 frames at 44.1 and 48 kHz, 3 at 32 kHz, 1 at
/// 16 kHz and below). The encoded-audio buffers (8 KiB) hold 4 frames of the largest AAC-LC
/// frame (6 144 bits per channel, 2 channels: 4 × 1 543 bytes).
const AUDIO_BATCH_SPAN: Pts90k = Pts90k::from_millis(100);

/// When the audio thread stops and how many frames it gathers per message.
#[derive(Debug, Clone, Copy)]
struct AudioLimits {
    duration: Option<Pts90k>,
    batch_frames: u32,
}

fn audio_loop(
    mut src: Box<dyn AudioSource>,
    mut enc: Box<dyn AudioEncoder>,
    out: Sender<EncodedAudio>,
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
