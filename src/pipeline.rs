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

mod audio;
pub mod lanes;
mod mux;

use crate::encode::{AudioEncoder, EncodeError, EncodedVideo, VideoEncoder};
use crate::error::{Error, ErrorKind};
use crate::hls::consumer::Consumer;
use crate::hls::master::RenditionInfo;
use crate::hls::{HlsConfig, HlsOutput, LiveShared};
use crate::pool::Pool;
use crate::queue::DropOldestQueue;
use crate::queue::{Receiver, Sender};
use crate::source::{AudioSource, SourceError, VideoFormat, VideoSource};
use crate::stats::Stats;
use crate::time::{Clock, Pts90k};
use audio::{audio_loop, AudioCopy, AudioLimits, AUDIO_BATCH_FRAMES};
use lanes::{KeyClock, LaneInput};
use mux::{Cuts, LatencyTrack, MuxLane, Wires};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

/// How long the mux thread waits for one stream before muxing the other alone.
pub const STALL: Duration = Duration::from_millis(500);
/// Raw frames that may wait for the encoder before the oldest is dropped (paced runs).
const RAW_QUEUE: usize = 3;
/// Raw frames waiting for the encoder in unpaced (`fast`) runs: back-pressure keeps the queue
/// full, so a deeper one only holds more 1.4 MB (720p) buffers without feeding the encoder
/// any faster; rendering a frame takes a small fraction of encoding it.
const RAW_QUEUE_FAST: usize = 1;
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

/// One more rendition of the stream (adaptive bitrate), beside the first: the same capture,
/// scaled to its size, encoded by its own encoder into its own output.
pub struct Rendition {
    /// Its name (logs, thread names).
    pub name: String,
    /// Its picture size and rate (≤ the capture's; the rate divides the capture's).
    pub format: VideoFormat,
    /// Its output: another directory and state file than the first rendition's.
    pub hls: HlsConfig,
    /// Where its playlists are published for the HTTP server.
    pub live: Option<Arc<LiveShared>>,
    /// Its encoder.
    pub make_encoder: EncoderFactory,
    /// Its counters (frames out, drops, encode time, segments).
    pub stats: Arc<Stats>,
    /// Its figures for the master playlist.
    pub info: Option<Arc<RenditionInfo>>,
}

/// The audio-only rendition: the stream's audio alone (MPEG-TS), cut where the video
/// renditions cut.
pub struct AudioOnlyRendition {
    /// Its output (`container` must be MPEG-TS and `mux.video_pid` `None`).
    pub hls: HlsConfig,
    /// Where its playlists are published for the HTTP server.
    pub live: Option<Arc<LiveShared>>,
    /// Its counters (segments, audio batches missed).
    pub stats: Arc<Stats>,
    /// Its figures for the master playlist.
    pub info: Option<Arc<RenditionInfo>>,
}

/// The threads of one streaming run.
pub struct Pipeline {
    cfg: PipelineConfig,
    stats: Arc<Stats>,
    stop: Arc<AtomicBool>,
    on_first_segment: Option<Box<dyn FnOnce() + Send>>,
    latency: LatencyTrack,
    consumers: Vec<Box<dyn Consumer>>,
    renditions: Vec<Rendition>,
    first_format: Option<VideoFormat>,
    first_info: Option<Arc<RenditionInfo>>,
    audio_only: Option<AudioOnlyRendition>,
}

impl Pipeline {
    /// A pipeline that stops early when `stop` becomes true (signals).
    pub fn new(cfg: PipelineConfig, stats: Arc<Stats>, stop: Arc<AtomicBool>) -> Self {
        Pipeline {
            cfg,
            stats,
            stop,
            on_first_segment: None,
            latency: LatencyTrack::default(),
            consumers: Vec::new(),
            renditions: Vec::new(),
            first_format: None,
            first_info: None,
            audio_only: None,
        }
    }

    /// The first rendition's picture size and rate (default: the capture's) and its figures
    /// for the master playlist.
    pub fn first_rendition(&mut self, format: VideoFormat, info: Option<Arc<RenditionInfo>>) {
        self.first_format = Some(format);
        self.first_info = info;
    }

    /// Adds the audio-only rendition (used only when the run has audio and raw video).
    pub fn add_audio_only(&mut self, r: AudioOnlyRendition) {
        self.audio_only = Some(r);
    }

    /// Adds a rendition after the first (and after those added before). Consumers
    /// ([`add_consumer`](Self::add_consumer)) get the first rendition only.
    pub fn add_rendition(&mut self, r: Rendition) {
        self.renditions.push(r);
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
        let renditions = std::mem::take(&mut self.renditions);
        if matches!(input, VideoInput::Encoded(_)) && !renditions.is_empty() {
            return Err(Error::new(
                ErrorKind::Config,
                "renditions need raw pictures to scale, not the camera's own H.264",
            ));
        }
        let mut hls = open_output(&self.cfg.hls, &self.cfg.live)?;
        for c in self.consumers.drain(..) {
            hls.add_consumer(c);
        }
        let mut outputs = Vec::with_capacity(renditions.len());
        for r in &renditions {
            outputs.push(open_output(&r.hls, &r.live)?);
        }
        let audio_only = self
            .audio_only
            .take()
            .filter(|_| audio.is_some() && matches!(input, VideoInput::Raw(..)));
        let mut audio_out = match &audio_only {
            Some(r) => Some(open_output(&r.hls, &r.live)?),
            None => None,
        };
        // Every rendition numbers its segments alike: one added since the last run joins at
        // the others' number.
        let next = outputs
            .iter()
            .chain(&audio_out)
            .map(HlsOutput::next_sequence)
            .fold(hls.next_sequence(), u64::max);
        let names = std::iter::once(FIRST)
            .chain(renditions.iter().map(|r| r.name.as_str()))
            .chain(audio_out.as_ref().map(|_| AUDIO_ONLY));
        for (o, name) in std::iter::once(&mut hls)
            .chain(outputs.iter_mut())
            .chain(audio_out.as_mut())
            .zip(names)
        {
            if !o.skip_to_sequence(next) {
                log::warn!(
                    "rendition {name}: its saved window ends before seg{next}; its segment \
                     numbers differ from the others' until the window has turned over"
                );
            }
        }
        let has_audio = audio.is_some();
        let (duration, fast) = (self.cfg.duration, self.cfg.fast);
        let low_latency = self.cfg.hls.low_latency.is_some();
        let mut wires: Vec<Wires> = (0..=renditions.len())
            .map(|_| Wires::new(has_audio))
            .collect();
        let mut threads = Vec::new();
        let mut raw_queues = Vec::new();
        let mut stopped: Vec<Option<Arc<AtomicBool>>> = vec![None; wires.len()];
        let cuts = audio_only.as_ref().map(|_| Arc::new(Cuts::new(CUTS)));
        let mut audio_wires = audio_only.as_ref().map(|_| Wires::new(true));
        let mut extra = Vec::with_capacity(renditions.len());
        match input {
            VideoInput::Raw(video, make_encoder) => {
                let fmt = video.format();
                // In use at once per lane: the queue, the frame being captured (or scaled), the
                // frame being encoded, and one the drop-oldest queue has just pushed out
                // (paced) — never exhausted in fast runs.
                let depth = if fast { RAW_QUEUE_FAST } else { RAW_QUEUE };
                let pool = Pool::new(depth + 3, fmt.i420_len());
                let first = (
                    FIRST.to_string(),
                    self.first_format.unwrap_or(fmt),
                    make_encoder,
                    self.stats.clone(),
                );
                let mut specs = vec![first];
                for r in renditions {
                    specs.push((r.name.clone(), r.format, r.make_encoder, r.stats.clone()));
                    extra.push((r.name, r.stats, r.info));
                }
                let mut inputs = Vec::with_capacity(specs.len());
                let mut direct = false;
                for (i, (name, lane_fmt, mut make, stats)) in specs.into_iter().enumerate() {
                    let enc = make(lane_fmt).map_err(|e| {
                        Error::new(
                            ErrorKind::Encoder,
                            format!("video encoder for {lane_fmt:?}: {e}"),
                        )
                    })?;
                    let queue = Arc::new(DropOldestQueue::new(depth));
                    let mut input =
                        LaneInput::new(&name, lane_fmt, fmt.fps, queue.clone(), stats.clone());
                    // The first lane of the capture's size takes the captured buffers.
                    if !direct && (lane_fmt.width, lane_fmt.height) == (fmt.width, fmt.height) {
                        input = input.direct();
                        direct = true;
                    } else {
                        input = input.scaled_into(Pool::new(depth + 3, lane_fmt.i420_len()));
                    }
                    stopped[i] = Some(input.stopped.clone());
                    inputs.push(input);
                    raw_queues.push(queue.clone());
                    let (vtx, vfree_rx, force) = wires[i].encoder_side();
                    threads.push(spawn(&format!("encode-{name}"), move || {
                        lanes::encode_loop(enc, &mut make, &queue, vtx, vfree_rx, &stats, &force)
                    })?);
                }
                // With several renditions the keyframes are decided once, for all of them.
                let keys = (inputs.len() > 1 || cuts.is_some())
                    .then(|| KeyClock::new(self.cfg.hls.segment_duration));
                let (stats, stop, cuts) = (self.stats.clone(), self.stop.clone(), cuts.clone());
                threads.push(spawn("capture", move || {
                    lanes::capture_loop(
                        video,
                        &pool,
                        inputs,
                        (keys, cuts),
                        &stats,
                        &stop,
                        (duration, fast),
                    )
                })?);
            }
            VideoInput::Encoded(src) => {
                let (stats, stop) = (self.stats.clone(), self.stop.clone());
                let (vtx, vfree_rx, _) = wires[0].encoder_side();
                threads.push(spawn("capture", move || {
                    passthrough_loop(src, vtx, vfree_rx, &stats, &stop, duration)
                })?);
            }
        }
        if let Some((src, enc)) = audio {
            let (stats, stop) = (self.stats.clone(), self.stop.clone());
            let limits = AudioLimits {
                duration,
                // LL-HLS: a part must carry the audio of its time span, so audio reaches
                // the muxer frame by frame instead of waiting for a batch to fill.
                batch_frames: if low_latency { 1 } else { AUDIO_BATCH_FRAMES },
            };
            let (atx, afree_rx) = wires[0].audio_side().expect("audio wires");
            let audio_only_stats = audio_only.as_ref().map(|r| &r.stats);
            let copies: Vec<AudioCopy> = wires[1..]
                .iter_mut()
                .zip(extra.iter().map(|e| &e.1))
                .chain(audio_wires.as_mut().zip(audio_only_stats))
                .filter_map(|(w, stats)| {
                    w.audio_side().map(|(out, free)| AudioCopy {
                        out,
                        free,
                        stats: stats.clone(),
                    })
                })
                .collect();
            threads.push(spawn("audio", move || {
                audio_loop(src, enc, atx, &copies, afree_rx, &stats, &stop, limits)
            })?);
        }

        // Every other rendition muxes on a thread of its own.
        let mut rest = wires.drain(..);
        let first_wires = rest.next().expect("the first lane's wires");
        for (((mut out, w), (name, stats, info)), stop_flag) in outputs
            .into_iter()
            .zip(rest)
            .zip(extra)
            .zip(stopped.iter().skip(1).cloned())
        {
            let mut lane = MuxLane {
                name: name.clone(),
                stats,
                latency: LatencyTrack::default(),
                on_first_segment: None,
                low_latency,
                info,
                stopped: stop_flag,
            };
            let (inputs, force) = w.mux_side();
            let stop = self.stop.clone();
            threads.push(spawn(&format!("mux-{name}"), move || {
                let ended = lane.run(&mut out, inputs, &force).unwrap_or(false)
                    && !stop.load(Ordering::SeqCst);
                if let Err(e) = lane.finish(&mut out, ended) {
                    log::warn!("rendition {name}: {e}");
                }
            })?);
        }

        if let (Some(r), Some(mut out), Some(w), Some(cuts)) =
            (audio_only, audio_out, audio_wires, cuts)
        {
            let mut lane = MuxLane {
                name: AUDIO_ONLY.to_string(),
                stats: r.stats,
                latency: LatencyTrack::default(),
                on_first_segment: None,
                low_latency,
                info: r.info,
                stopped: None,
            };
            let (inputs, _) = w.mux_side();
            let stop = self.stop.clone();
            threads.push(spawn("mux-audio", move || {
                let ended = match &inputs.arx {
                    Some(arx) => lane.run_audio_only(&mut out, arx, &inputs.afree, &cuts),
                    None => true,
                } && !stop.load(Ordering::SeqCst);
                if let Err(e) = lane.finish(&mut out, ended) {
                    log::warn!("rendition {AUDIO_ONLY}: {e}");
                }
            })?);
        }

        let mut lane = MuxLane {
            name: FIRST.to_string(),
            stats: self.stats.clone(),
            latency: std::mem::take(&mut self.latency),
            on_first_segment: self.on_first_segment.take(),
            low_latency,
            info: self.first_info.take(),
            stopped: None,
        };
        let (inputs, force) = first_wires.mux_side();
        let result = lane.run(&mut hls, inputs, &force);
        for q in &raw_queues {
            q.close();
        }
        for t in threads {
            if t.join().is_err() {
                log::error!("a pipeline thread panicked");
            }
        }
        let ended = result? && !self.stop.load(Ordering::SeqCst);
        lane.finish(&mut hls, ended)?;
        Ok(Summary {
            segments: hls.segments_published(),
            ended,
        })
    }
}

/// The name of the first rendition in logs (it has no `[[variant]]` name of its own when none
/// is configured).
const FIRST: &str = "first";
/// The audio-only rendition's name in logs.
const AUDIO_ONLY: &str = "audio";
/// Cuts waiting for the audio-only rendition (it is less than a second behind the capture).
const CUTS: usize = 8;

fn open_output(cfg: &HlsConfig, live: &Option<Arc<LiveShared>>) -> Result<HlsOutput, Error> {
    let mut out =
        HlsOutput::open(cfg.clone()).map_err(|e| Error::new(ErrorKind::Output, e.to_string()))?;
    if let Some(live) = live {
        out.share(live.clone());
    }
    Ok(out)
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

fn spawn<F: FnOnce() + Send + 'static>(name: &str, f: F) -> Result<thread::JoinHandle<()>, Error> {
    thread::Builder::new()
        .name(name.to_string())
        .spawn(f)
        .map_err(|e| Error::new(ErrorKind::Internal, format!("spawn {name} thread: {e}")))
}

/// CPU time consumed by the calling thread, ns (`CLOCK_THREAD_CPUTIME_ID`; no allocation).
pub(crate) fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the call only writes it.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}
