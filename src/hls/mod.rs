//! HLS output: one producer of segments and LL-HLS parts, and the consumers that take them
//! (RFC 8216 / 8216bis, Apple's HLS authoring spec; DESIGN §1b).
//!
//! ```text
//! push_video / push_audio ─► Segmenter (segment cuts on IDRs) + PartCutter (parts, LL mode)
//!                             ─► container muxer (TS | fMP4) ─► SegmentWriter (64 KiB buffer)
//!                                  ├─► the live store: .seg<N>.ts.part and .seg<N>.<K>.ts.part
//!                                  │   (fMP4: .m4s, and init<G>.mp4 before a segment needing it)
//!                                  └─► extra consumers (recorder, publisher): every byte
//!   on a part end:    commit the part → LL playlist (file + LiveShared → HTTP)
//!   on a segment end: commit (rename to seg<N>.ts) → Ring::publish → playlist → state file
//!                     → delete what has left the window past retention
//! ```
//!
//! - [`segmenter`]: when to cut segments, EXTINF durations, when to ask for an IDR.
//! - `muxer` (private): the TS or fMP4 muxer behind one interface (chunks = parts/segments).
//! - [`parts`]: when to cut LL-HLS parts and how long they are.
//! - [`consumer`]: the consumer trait and the events every consumer gets.
//! - `live` (private): the live ring — numbering, commits, window, playlists, state, deletion.
//! - [`ring`]: live window, media/discontinuity sequence, RFC 8216 §6.2.2 retention, slot count.
//! - [`playlist`], [`ll_playlist`]: the classic and the LL playlist text into fixed buffers.
//! - [`shared`]: what the HTTP server reads, and the blocking-reload rules.
//! - [`state`]: the restart state file.
//! - [`store`]: the storage trait, the real directory store and an in-memory fake with fault
//!   injection.
//! - [`writer`]: the byte sink with its fixed write buffer.
//!
//! Classic mode (`low_latency` off) writes exactly what it always has: no parts, version 3
//! playlists. Storage errors on the frame path (a full tmpfs, say) never corrupt what is
//! published: the partial segment and its parts are deleted, the previous playlist stays, the
//! next segment starts at the next cut and carries `EXT-X-DISCONTINUITY` (its continuity counters
//! and timestamps jump). The error is returned once so the pipeline can count it. Once warm, no
//! call allocates.

pub mod consumer;
pub mod error;
pub mod ll_playlist;
pub mod master;
pub mod parts;
pub mod playlist;
pub mod ring;
pub mod segmenter;
pub mod shared;
pub mod state;
pub mod store;
pub mod writer;

mod container;
mod live;
mod muxer;
mod restore;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

pub use container::Container;
pub use error::HlsError;
pub use parts::PartPlan;
pub use ring::{SegmentEntry, MAX_WINDOW};
pub use shared::LiveShared;
pub use store::{FileStore, MemStore, SegmentStore, StoreError, StoreEvent, StoreOp};

use crate::fmp4::AudioParams;
use crate::media::{AudioAu, VideoAu};
use crate::time::{Pts90k, HZ_90K};
use crate::ts::MuxConfig;
use consumer::{Consumer, SegmentDone, SegmentStart};
use live::{LiveRing, LlSettings};
use muxer::Muxer;
use parts::{ClosedPart, PartCutter, PartStep};
use segmenter::{Closed, Segmenter, VideoStep};
use writer::SegmentWriter;

/// Smallest live window (RFC 8216 §6.2.2 needs ≥ 3 target durations; Apple recommends 6).
pub const MIN_WINDOW: usize = 6;
/// Default state file name inside the output directory.
pub const DEFAULT_STATE_NAME: &str = ".hlscam-state";

/// Settings of the HLS output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HlsConfig {
    /// Output directory (tmpfs in production); created if missing.
    pub dir: PathBuf,
    /// Configured segment duration: a whole number of seconds; also `EXT-X-TARGETDURATION`.
    pub segment_duration: Pts90k,
    /// Segments in the live playlist (`MIN_WINDOW..=MAX_WINDOW`).
    pub window: usize,
    /// State file; an empty path means `<dir>/.hlscam-state`.
    pub state_file: PathBuf,
    /// Muxer settings (MPEG-TS).
    pub mux: MuxConfig,
    /// Segment container.
    pub container: Container,
    /// The AAC track fMP4 init segments describe (`None`: video only). MPEG-TS takes its
    /// audio from `mux.audio_pid` and the ADTS headers.
    pub audio: Option<AudioParams>,
    /// LL-HLS parts; `None` for classic HLS.
    pub low_latency: Option<PartPlan>,
}

impl HlsConfig {
    /// Classic MPEG-TS settings with the default state file and muxer configuration.
    pub fn new(dir: impl Into<PathBuf>, segment_secs: u32, window: usize) -> Self {
        HlsConfig {
            dir: dir.into(),
            segment_duration: Pts90k(segment_secs as u64 * HZ_90K),
            window,
            state_file: PathBuf::new(),
            mux: MuxConfig::default(),
            container: Container::Ts,
            audio: None,
            low_latency: None,
        }
    }

    /// The same settings in fMP4 (CMAF) segments with audio track `audio`.
    pub fn with_fmp4(mut self, audio: Option<AudioParams>) -> Self {
        self.container = Container::Fmp4;
        self.audio = audio;
        self
    }

    /// The same settings with LL-HLS parts of `plan`.
    pub fn with_parts(mut self, plan: PartPlan) -> Self {
        self.low_latency = Some(plan);
        self
    }

    /// The state file path with the default applied.
    pub fn state_path(&self) -> PathBuf {
        if self.state_file.as_os_str().is_empty() {
            self.dir.join(DEFAULT_STATE_NAME)
        } else {
            self.state_file.clone()
        }
    }

    /// Checks the rules of DESIGN §2 items 10, 13 and 17; returns the target duration in
    /// seconds.
    pub fn validate(&self) -> Result<u32, HlsError> {
        let d = self.segment_duration.0;
        if d == 0 || d % HZ_90K != 0 || d / HZ_90K > 3600 {
            return Err(HlsError::config(format!(
                "segment duration {} must be a whole number of seconds in 1..=3600",
                self.segment_duration
            )));
        }
        if !(MIN_WINDOW..=MAX_WINDOW).contains(&self.window) {
            return Err(HlsError::config(format!(
                "window {} must be {MIN_WINDOW}..={MAX_WINDOW} segments",
                self.window
            )));
        }
        if self.dir.as_os_str().is_empty() {
            return Err(HlsError::config("empty output directory"));
        }
        if let Some(p) = &self.low_latency {
            let parts = d.div_ceil(p.duration.0.max(1));
            if p.part_target.0 > d || parts as usize > parts::MAX_PARTS_PER_SEGMENT / 2 {
                return Err(HlsError::config(format!(
                    "parts of {} do not fit segments of {}",
                    p.duration, self.segment_duration
                )));
            }
        }
        Ok((d / HZ_90K) as u32)
    }
}

/// A segment that was just completed and listed in the playlist.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    /// Its media sequence number (`seg<seq>.ts`).
    pub seq: u64,
    /// Its EXTINF duration.
    pub duration: Pts90k,
    /// Its size in bytes.
    pub bytes: u64,
}

/// The HLS output: producer (segmenter, part cutter, muxer) and the live ring over a
/// [`SegmentStore`], plus any extra [`Consumer`]s.
pub struct HlsOutput<S: SegmentStore = FileStore> {
    mux: Muxer,
    writer: SegmentWriter<S>,
    seg: Segmenter,
    parts: Option<PartCutter>,
    live: LiveRing,
    /// The segment being written, as its consumers were told.
    open: Option<SegmentStart>,
    /// Nanoseconds spent publishing (commit, playlist, state, deletions) so far.
    publish_ns: u64,
    /// Video access units muxed into a segment so far.
    frames_muxed: u64,
}

impl<S: SegmentStore> std::fmt::Debug for HlsOutput<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HlsOutput")
            .field("target_secs", &self.live.target_secs)
            .field("next_seq", &self.live.next_seq)
            .field("media_seq", &self.live.ring.media_seq())
            .field("disc_seq", &self.live.ring.disc_seq())
            .field("window", &self.live.ring.len())
            .field("published", &self.live.published)
            .field("dropped", &self.live.dropped)
            .finish_non_exhaustive()
    }
}

impl HlsOutput<FileStore> {
    /// Creates the directory, loads the state, adopts the previous run's window and removes
    /// every other segment file.
    pub fn open(cfg: HlsConfig) -> Result<HlsOutput<FileStore>, HlsError> {
        cfg.validate()?;
        let store = FileStore::open(&cfg.dir, &cfg.state_path(), cfg.container)?;
        Self::with_store(cfg, store)
    }

    /// The output directory.
    pub fn dir(&self) -> &Path {
        self.writer.store().dir()
    }
}

impl<S: SegmentStore> HlsOutput<S> {
    /// Like [`HlsOutput::open`] over any store (tests use [`MemStore`]). `cfg.dir` and
    /// `cfg.state_file` are not used; the store decides where things go.
    pub fn with_store(cfg: HlsConfig, mut store: S) -> Result<HlsOutput<S>, HlsError> {
        let target_secs = cfg.validate()?;
        let restart = restore::plan(&mut store, target_secs, cfg.window, cfg.container)?;
        let ll = cfg.low_latency.map(|p| LlSettings {
            part_target: p.part_target,
        });
        let mut live = LiveRing::new(target_secs, cfg.window, cfg.container, ll, restart.next_seq);
        live.ring
            .restore(restart.media_seq, restart.disc_seq, &restart.adopted);
        live.ring.set_media_seq_if_empty(restart.next_seq);
        if cfg.container == Container::Fmp4 {
            live.fmp4 = Some(restart.fmp4);
            for &g in &restart.inits {
                let first = restart
                    .adopted
                    .iter()
                    .find(|e| e.map == g)
                    .map_or(0, |e| e.seq);
                live.adopt_init(g, first);
            }
        }
        let mut seg = Segmenter::new(cfg.segment_duration);
        if restart.previous_run {
            seg.mark_discontinuity();
        }
        let mut out = HlsOutput {
            mux: Muxer::new(
                cfg.container == Container::Fmp4,
                cfg.mux,
                cfg.audio,
                restart.fmp4.decode_end,
            ),
            writer: SegmentWriter::new(store),
            seg,
            parts: cfg.low_latency.map(PartCutter::new),
            live,
            open: None,
            publish_ns: 0,
            frames_muxed: 0,
        };
        // The playlist first names only adopted (complete) segments; then the rest goes.
        if out.live.ring.is_empty() {
            out.writer.store_mut().remove_playlist()?;
        } else {
            out.live
                .write_playlist(&mut out.writer, false)
                .map_err(|e| setup_err("writing playlist", e))?;
        }
        out.live
            .write_state(&mut out.writer)
            .map_err(|e| setup_err("writing state", e))?;
        for &seq in &restart.remove {
            out.writer
                .store_mut()
                .remove_segment(seq)
                .map_err(|e| setup_err("removing old segment", e))?;
        }
        for name in &restart.leftovers {
            out.writer.store_mut().remove_leftover(name)?;
        }
        log::info!(
            "HLS output: {}{}, target {}s, window {}, {} slots, next seg{}.{}, media sequence {}, \
             {} adopted",
            cfg.container,
            match &cfg.low_latency {
                Some(p) => format!(
                    ", LL-HLS parts of {} frames ({:.1} ms, PART-TARGET {:.3} s)",
                    p.frames,
                    p.millis(),
                    p.part_target.0 as f64 / 90_000.0
                ),
                None => String::new(),
            },
            target_secs,
            cfg.window,
            ring::total_slots(cfg.window, target_secs),
            out.live.next_seq,
            cfg.container.ext(),
            out.live.ring.media_seq(),
            out.live.ring.len()
        );
        Ok(out)
    }

    /// Publishes every playlist from now on to `shared` (the HTTP server's view), starting
    /// with the current one.
    pub fn share(&mut self, shared: Arc<LiveShared>) {
        self.live.set_shared(shared);
        if !self.live.ring.is_empty() {
            let _ = self.live.write_playlist(&mut self.writer, false);
        }
    }

    /// Adds a consumer of every part and segment from the next segment on.
    pub fn add_consumer(&mut self, c: Box<dyn Consumer>) {
        self.writer.add_consumer(c);
    }

    /// Feeds one video access unit (decoding order) captured at wall-clock `wall`. Returns the
    /// segment this call completed and published, if any.
    pub fn push_video(
        &mut self,
        au: &VideoAu,
        wall: SystemTime,
    ) -> Result<Option<Published>, HlsError> {
        let Some(result) = self.step(au.pts, au.dts, au.key, wall, Some(au)) else {
            return Ok(None);
        };
        let muxed = self.mux.push_video(au, &mut self.writer);
        if muxed.is_ok() {
            self.frames_muxed += 1;
        }
        self.settle(result, muxed)
    }

    /// Feeds one AAC frame to an audio-only output (MPEG-TS without a video PID; the PCR rides
    /// on the audio PID). `cut` begins a segment at this frame — where the video renditions
    /// begin theirs — captured at `wall`; frames before the first cut are dropped. Parts are
    /// cut on the frames' times as for video.
    pub fn push_audio_only(
        &mut self,
        au: &AudioAu,
        cut: bool,
        wall: SystemTime,
    ) -> Result<Option<Published>, HlsError> {
        if cut {
            self.seg.force_cut();
        }
        let Some(result) = self.step(au.pts, au.pts, cut, wall, None) else {
            return Ok(None);
        };
        let muxed = self.mux.push_audio(au, &mut self.writer);
        self.settle(result, muxed)
    }

    /// The segmenter's and part cutter's step for a frame at `pts` (`dts`; an IDR or audio cut
    /// when `key`): cuts and publishes as due and begins the next segment or part. `None` when
    /// the frame is dropped (before the first key, or while a discontinuity waits for one).
    fn step(
        &mut self,
        pts: Pts90k,
        dts: Pts90k,
        key: bool,
        wall: SystemTime,
        video: Option<&VideoAu>,
    ) -> Option<Result<Option<Published>, HlsError>> {
        let mut result = Ok(None);
        match self.seg.video(pts, key, wall) {
            VideoStep::Drop => return None,
            VideoStep::Append => {
                if let Some(PartStep::Cut(p)) =
                    self.parts.as_mut().map(|c| c.video(pts, key, false))
                {
                    result = self.mux.end_chunk(dts, &mut self.writer).map(|()| None);
                    self.close_part(&p, false);
                    self.writer.begin_part(p.index + 1);
                    self.mux.begin_chunk(&mut self.writer);
                }
            }
            VideoStep::Start { discontinuity } => {
                self.begin_segment(pts, key, video, wall, discontinuity);
            }
            VideoStep::Cut {
                closed,
                discontinuity,
            } => {
                let ended = self.mux.end_chunk(dts, &mut self.writer);
                result = self.publish(closed, false);
                if let Err(e) = ended {
                    match &result {
                        // The segment is out: report its publication, log the lost samples.
                        Ok(Some(p)) => log::warn!("HLS: end of seg{}: {e}", p.seq),
                        Ok(None) => result = Err(e),
                        Err(_) => {}
                    }
                }
                self.begin_segment(pts, key, video, wall, discontinuity);
            }
        }
        Some(result)
    }

    /// At most one error per call: the publication's, else the new segment's, else the
    /// muxer's. `segments_dropped` counts every dropped segment.
    fn settle(
        &mut self,
        result: Result<Option<Published>, HlsError>,
        muxed: Result<(), HlsError>,
    ) -> Result<Option<Published>, HlsError> {
        let fresh = self.writer.take_new_error();
        if let Some(e) = fresh {
            log::warn!("HLS: {e}; dropping this segment");
        }
        let published = result?;
        if let Some(e) = fresh {
            return Err(e.into());
        }
        muxed?;
        Ok(published)
    }

    /// Feeds one audio frame (interleaved with video by DTS).
    pub fn push_audio(&mut self, au: &AudioAu) -> Result<(), HlsError> {
        if !self.seg.audio(au.pts) {
            return Ok(());
        }
        let muxed = self.mux.push_audio(au, &mut self.writer);
        if let Some(e) = self.writer.take_new_error() {
            log::warn!("HLS: {e}; dropping this segment");
            return Err(e.into());
        }
        muxed
    }

    /// The source changed: cut at the next IDR regardless of length; that segment carries
    /// `EXT-X-DISCONTINUITY`. Audio and non-IDR video are dropped until then.
    pub fn mark_discontinuity(&mut self) {
        self.seg.mark_discontinuity();
    }

    /// True when the pipeline should force an IDR now (the open segment would otherwise run
    /// past target + 0.4 s, or a discontinuity waits for an IDR).
    pub fn wants_keyframe(&self) -> bool {
        self.seg.wants_keyframe()
    }

    /// Closes and publishes the open segment, returned when there was one. With
    /// `end_of_stream` the playlist gets `EXT-X-ENDLIST`; otherwise it stays live (a restarted
    /// process continues it).
    pub fn finish(&mut self, end_of_stream: bool) -> Result<Option<Published>, HlsError> {
        let mut last = None;
        if let Some(closed) = self.seg.finish() {
            let end = self.mux.video_end(closed.start + closed.duration);
            let ended = self.mux.end_chunk(end, &mut self.writer);
            last = self.publish(closed, end_of_stream)?;
            ended?;
        } else if end_of_stream && !self.live.ring.is_empty() {
            self.live.write_playlist(&mut self.writer, true)?;
        }
        for c in self.writer.consumers() {
            c.finish(end_of_stream);
        }
        Ok(last)
    }

    /// The sequence number the next segment gets.
    pub fn next_sequence(&self) -> u64 {
        self.live.next_seq
    }

    /// Numbers the next segment `seq` when that is later than its own next number: the
    /// renditions of one stream share segment numbers, so one added since the last run joins
    /// at the others'. Possible only before the first segment, with no adopted window (the
    /// playlist's numbering must stay contiguous); returns whether the next number is `seq`.
    pub fn skip_to_sequence(&mut self, seq: u64) -> bool {
        if seq > self.live.next_seq && self.open.is_none() && self.live.ring.is_empty() {
            self.live.next_seq = seq;
            self.live.ring.set_media_seq_if_empty(seq);
        }
        self.live.next_seq == seq
    }

    /// Takes the output off the air for good (a rendition stopped while the stream goes on):
    /// the playlist file goes, so its URL answers 404 and players move to another rendition.
    pub fn withdraw(&mut self) -> Result<(), HlsError> {
        self.writer.store_mut().remove_playlist()
    }

    /// `EXT-X-TARGETDURATION` (seconds), fixed for the run.
    pub fn target_duration_secs(&self) -> u32 {
        self.live.target_secs
    }
    /// Segments published by this process.
    pub fn segments_published(&self) -> u64 {
        self.live.published
    }
    /// LL-HLS parts published by this process.
    pub fn parts_published(&self) -> u64 {
        self.live.parts_published()
    }
    /// Parts longer than `PART-TARGET` (a frame came late at a part boundary).
    pub fn parts_overlong(&self) -> u64 {
        self.live.parts_overlong()
    }
    /// Current `EXT-X-MEDIA-SEQUENCE`.
    pub fn media_sequence(&self) -> u64 {
        self.live.ring.media_seq()
    }
    /// Current `EXT-X-DISCONTINUITY-SEQUENCE`.
    pub fn discontinuity_sequence(&self) -> u64 {
        self.live.ring.disc_seq()
    }
    /// Segments dropped because of storage errors.
    pub fn segments_dropped(&self) -> u64 {
        self.live.dropped
    }
    /// Published segments whose rounded duration exceeded the target (IDR request ignored).
    pub fn segments_overlong(&self) -> u64 {
        self.live.overlong
    }
    /// Retired segments deleted before their RFC 8216 §6.2.2 retention ended.
    pub fn forced_deletions(&self) -> u64 {
        self.live.ring.forced_deletions()
    }
    /// The live window, oldest first.
    pub fn window(&self) -> impl Iterator<Item = &SegmentEntry> + '_ {
        self.live.ring.entries()
    }
    /// The store.
    pub fn store(&self) -> &S {
        self.writer.store()
    }
    /// The store, mutably (tests inject faults through it).
    pub fn store_mut(&mut self) -> &mut S {
        self.writer.store_mut()
    }
    /// Consumes the output, returning its store (tests reopen on it to simulate a restart).
    pub fn into_store(self) -> S {
        let HlsOutput { writer, .. } = self;
        writer.into_store()
    }
    /// Total time spent publishing segments and parts so far (renames, playlist writes, state
    /// file writes, deletions), in nanoseconds. Everything else `push_video`/`push_audio`/
    /// `finish` do is muxing.
    pub fn publish_nanos(&self) -> u64 {
        self.publish_ns
    }
    /// Video access units muxed into a segment (including those of dropped segments).
    pub fn frames_muxed(&self) -> u64 {
        self.frames_muxed
    }
    /// TS packets the muxer has produced (including those of dropped segments; 0 for fMP4).
    pub fn packets_written(&self) -> u64 {
        self.mux.packets_written()
    }

    fn begin_segment(
        &mut self,
        pts: Pts90k,
        key: bool,
        video: Option<&VideoAu>,
        wall: SystemTime,
        discontinuity: bool,
    ) {
        let failed = video.and_then(|au| self.new_init(au, discontinuity));
        let (seq, disc) = self.live.begin(wall, discontinuity);
        self.writer.begin(seq);
        if let Some(e) = failed {
            self.writer.abandon(e);
        }
        let start = SegmentStart {
            seq,
            pts,
            wall,
            discontinuity: disc,
            map: self.live.map,
        };
        for c in self.writer.consumers() {
            c.begin_segment(&start);
        }
        self.open = Some(start);
        if let Some(pc) = &mut self.parts {
            pc.video(pts, key, true);
            self.writer.begin_part(0);
        }
        self.mux.begin_chunk(&mut self.writer);
    }

    /// fMP4: writes `init<G>.mp4` when segment `au` needs a new one, and adopts it from the
    /// segment about to begin. The error, if any, dooms that segment.
    fn new_init(&mut self, au: &VideoAu, discontinuity: bool) -> Option<StoreError> {
        let fmp4 = self.live.fmp4.as_mut()?;
        let gen = fmp4.next_init;
        let bytes = match self.mux.segment_init(au, discontinuity) {
            Ok(None) => return None,
            Ok(Some(b)) => b,
            Err(e) => {
                log::warn!(
                    "HLS: no initialisation segment for seg{}: {e}",
                    self.live.next_seq
                );
                return Some(StoreError::new(StoreOp::Init, gen.into(), libc::EINVAL));
            }
        };
        if let Err(e) = self.writer.store_mut().write_init(gen, bytes) {
            log::warn!("HLS: {e}");
            self.mux.forget_init();
            return Some(e);
        }
        for c in self.writer.consumers() {
            c.init(gen, bytes);
        }
        fmp4.next_init = gen + 1;
        self.live.adopt_init(gen, self.live.next_seq);
        None
    }

    /// Commits a finished part and tells the consumers; `quiet` when its segment completes in
    /// the same step (one playlist for both).
    fn close_part(&mut self, p: &ClosedPart, quiet: bool) {
        let t0 = std::time::Instant::now();
        if let Some(done) = self.live.part(&mut self.writer, p, quiet) {
            for c in self.writer.consumers() {
                c.part(&done);
            }
        }
        self.publish_ns += t0.elapsed().as_nanos() as u64;
    }

    /// Last part → commit → playlist → state → deletions. Never names an incomplete segment.
    fn publish(&mut self, closed: Closed, endlist: bool) -> Result<Option<Published>, HlsError> {
        if let Some(p) = self
            .parts
            .as_mut()
            .and_then(|c| c.finish(closed.start + closed.duration))
        {
            self.close_part(&p, true);
        }
        if let (Some(f), Some(end)) = (self.live.fmp4.as_mut(), self.mux.decode_end()) {
            f.decode_end = end;
        }
        // Extra consumers get the segment whatever the live store made of it: its failure
        // (a full tmpfs) is not theirs.
        if let Some(start) = self.open.take() {
            let done = SegmentDone {
                seq: start.seq,
                start: closed.start,
                duration: closed.duration,
                wall: closed.wall,
                discontinuity: start.discontinuity,
                bytes: self.writer.segment_bytes(),
                map: start.map,
            };
            for c in self.writer.consumers() {
                c.segment(&done);
            }
        }
        let t0 = std::time::Instant::now();
        let r = self.live.segment(&mut self.writer, closed, endlist);
        self.publish_ns += t0.elapsed().as_nanos() as u64;
        r
    }
}

fn setup_err(what: &str, e: StoreError) -> HlsError {
    HlsError::setup(
        format!("{what} ({e})"),
        std::io::Error::from_raw_os_error(e.errno),
    )
}
