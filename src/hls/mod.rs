//! HLS output: IDR-aligned segments of MPEG-TS in a ring of files, a live playlist, and a state
//! file that lets a restarted process continue the stream (RFC 8216, Apple's HLS authoring spec).
//!
//! [`HlsOutput`] owns the whole chain after the encoders:
//!
//! ```text
//! push_video / push_audio ─► Segmenter (cut decisions, pure) ─► TsMuxer ─► SegmentWriter
//!                                                                 (64 KiB buffer → .seg<N>.ts.part)
//!   on a cut: commit (rename to seg<N>.ts) → Ring::publish → playlist (temp + rename)
//!             → state file (temp + fsync + rename) → delete segments past retention
//! ```
//!
//! - [`segmenter`]: when to cut, EXTINF durations, when to ask for an IDR.
//! - [`ring`]: live window, media/discontinuity sequence, RFC 8216 §6.2.2 retention, slot count.
//! - [`playlist`]: the playlist text into a fixed buffer.
//! - [`state`]: the restart state file.
//! - [`store`]: the storage trait, the real directory store and an in-memory fake with fault
//!   injection.
//! - [`writer`]: the packet sink with its fixed write buffer.
//!
//! Storage errors on the frame path (a full tmpfs, say) never corrupt what is published: the
//! partial segment is deleted, the previous playlist stays, the next segment starts at the next
//! cut and carries `EXT-X-DISCONTINUITY` (its continuity counters and timestamps jump). The error
//! is returned once so the pipeline can count it. Once warm, no call allocates.

pub mod error;
pub mod playlist;
pub mod ring;
pub mod segmenter;
pub mod state;
pub mod store;
pub mod writer;

use std::path::{Path, PathBuf};
use std::time::SystemTime;

pub use error::HlsError;
pub use ring::{SegmentEntry, MAX_WINDOW};
pub use store::{FileStore, MemStore, SegmentStore, StoreError, StoreEvent, StoreOp};

use crate::media::{AudioAu, VideoAu};
use crate::time::{Pts90k, HZ_90K};
use crate::ts::{MuxConfig, TsMuxer};
use playlist::{PlaylistBuf, PlaylistHeader};
use ring::Ring;
use segmenter::{Closed, Segmenter, VideoStep};
use state::StateBuf;
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
    /// Muxer settings.
    pub mux: MuxConfig,
}

impl HlsConfig {
    /// Settings with the default state file and muxer configuration.
    pub fn new(dir: impl Into<PathBuf>, segment_secs: u32, window: usize) -> Self {
        HlsConfig {
            dir: dir.into(),
            segment_duration: Pts90k(segment_secs as u64 * HZ_90K),
            window,
            state_file: PathBuf::new(),
            mux: MuxConfig::default(),
        }
    }

    /// The state file path with the default applied.
    pub fn state_path(&self) -> PathBuf {
        if self.state_file.as_os_str().is_empty() {
            self.dir.join(DEFAULT_STATE_NAME)
        } else {
            self.state_file.clone()
        }
    }

    /// Checks the rules of DESIGN §2 items 10 and 13; returns the target duration in seconds.
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
        // Window ≥ 3 × target duration: with segments of at least the target, any window of
        // three or more segments satisfies it; checked for completeness.
        if (self.window as u64) * d < 3 * d {
            return Err(HlsError::config("window shorter than 3 target durations"));
        }
        if self.dir.as_os_str().is_empty() {
            return Err(HlsError::config("empty output directory"));
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

/// The HLS output: muxer, segmenter, ring, playlist and state over a [`SegmentStore`].
pub struct HlsOutput<S: SegmentStore = FileStore> {
    target_secs: u32,
    mux: TsMuxer,
    writer: SegmentWriter<S>,
    seg: Segmenter,
    ring: Ring,
    text: Box<PlaylistBuf>,
    state_buf: Box<StateBuf>,
    /// Number of the next segment to open (numbers of dropped segments are reused).
    next_seq: u64,
    /// The open segment carries EXT-X-DISCONTINUITY for a reason the segmenter does not know.
    open_forced_disc: bool,
    /// A segment was dropped: the next one carries EXT-X-DISCONTINUITY.
    lost: bool,
    published: u64,
    dropped: u64,
    overlong: u64,
    /// Nanoseconds spent publishing (commit, playlist, state, deletions) so far.
    publish_ns: u64,
}

impl<S: SegmentStore> std::fmt::Debug for HlsOutput<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HlsOutput")
            .field("target_secs", &self.target_secs)
            .field("next_seq", &self.next_seq)
            .field("media_seq", &self.ring.media_seq())
            .field("disc_seq", &self.ring.disc_seq())
            .field("window", &self.ring.len())
            .field("published", &self.published)
            .field("dropped", &self.dropped)
            .finish_non_exhaustive()
    }
}

impl HlsOutput<FileStore> {
    /// Creates the directory, loads the state, adopts the previous run's window and removes
    /// every other segment file.
    pub fn open(cfg: HlsConfig) -> Result<HlsOutput<FileStore>, HlsError> {
        cfg.validate()?;
        let store = FileStore::open(&cfg.dir, &cfg.state_path())?;
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
        let restart = restore::plan(&mut store, target_secs, cfg.window)?;
        let mut ring = Ring::new(cfg.window, target_secs);
        ring.restore(restart.media_seq, restart.disc_seq, &restart.adopted);
        ring.set_media_seq_if_empty(restart.next_seq);
        let mut seg = Segmenter::new(cfg.segment_duration);
        if restart.previous_run {
            seg.mark_discontinuity();
        }
        let mut out = HlsOutput {
            target_secs,
            mux: TsMuxer::new(cfg.mux),
            writer: SegmentWriter::new(store),
            seg,
            ring,
            text: Box::new(PlaylistBuf::new()),
            state_buf: Box::new(StateBuf::new()),
            next_seq: restart.next_seq,
            open_forced_disc: false,
            lost: false,
            published: 0,
            dropped: 0,
            overlong: 0,
            publish_ns: 0,
        };
        // The playlist first names only adopted (complete) segments; then the rest goes.
        if out.ring.is_empty() {
            out.writer.store_mut().remove_playlist()?;
        } else {
            out.write_playlist(false)
                .map_err(|e| setup_err("writing playlist", e))?;
        }
        out.write_state()
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
            "HLS output: target {}s, window {}, {} slots, next seg{}.ts, media sequence {}, \
             {} adopted",
            target_secs,
            cfg.window,
            ring::total_slots(cfg.window, target_secs),
            out.next_seq,
            out.ring.media_seq(),
            out.ring.len()
        );
        Ok(out)
    }

    /// Feeds one video access unit (decoding order) captured at wall-clock `wall`. Returns the
    /// segment this call completed and published, if any.
    pub fn push_video(
        &mut self,
        au: &VideoAu,
        wall: SystemTime,
    ) -> Result<Option<Published>, HlsError> {
        let mut result = Ok(None);
        match self.seg.video(au.pts, au.key, wall) {
            VideoStep::Drop => return Ok(None),
            VideoStep::Append => {}
            VideoStep::Start { discontinuity } => self.begin_segment(discontinuity),
            VideoStep::Cut {
                closed,
                discontinuity,
            } => {
                self.mux.flush_audio(&mut self.writer);
                result = self.publish(closed, false);
                self.begin_segment(discontinuity);
            }
        }
        let muxed = self.mux.push_video(au, &mut self.writer);
        // At most one error per call: the publication's, else the new segment's, else the
        // muxer's. `segments_dropped` counts every dropped segment.
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
        Ok(muxed?)
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

    /// Closes and publishes the open segment. With `end_of_stream` the playlist gets
    /// `EXT-X-ENDLIST`; otherwise it stays live (a restarted process continues it).
    pub fn finish(&mut self, end_of_stream: bool) -> Result<(), HlsError> {
        if let Some(closed) = self.seg.finish() {
            self.mux.flush_audio(&mut self.writer);
            self.publish(closed, end_of_stream)?;
        } else if end_of_stream && !self.ring.is_empty() {
            self.write_playlist(true)?;
        }
        Ok(())
    }

    /// `EXT-X-TARGETDURATION` (seconds), fixed for the run.
    pub fn target_duration_secs(&self) -> u32 {
        self.target_secs
    }
    /// Segments published by this process.
    pub fn segments_published(&self) -> u64 {
        self.published
    }
    /// Current `EXT-X-MEDIA-SEQUENCE`.
    pub fn media_sequence(&self) -> u64 {
        self.ring.media_seq()
    }
    /// Current `EXT-X-DISCONTINUITY-SEQUENCE`.
    pub fn discontinuity_sequence(&self) -> u64 {
        self.ring.disc_seq()
    }
    /// Segments dropped because of storage errors.
    pub fn segments_dropped(&self) -> u64 {
        self.dropped
    }
    /// Published segments whose rounded duration exceeded the target (IDR request ignored).
    pub fn segments_overlong(&self) -> u64 {
        self.overlong
    }
    /// Retired segments deleted before their RFC 8216 §6.2.2 retention ended.
    pub fn forced_deletions(&self) -> u64 {
        self.ring.forced_deletions()
    }
    /// The live window, oldest first.
    pub fn window(&self) -> impl Iterator<Item = &SegmentEntry> + '_ {
        self.ring.entries()
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
    /// Total time spent publishing segments so far (segment rename, playlist write, state file
    /// write, ring deletions), in nanoseconds. Everything else `push_video`/`push_audio`/
    /// `finish` do is muxing.
    pub fn publish_nanos(&self) -> u64 {
        self.publish_ns
    }
    /// TS packets the muxer has produced (including those of dropped segments).
    pub fn packets_written(&self) -> u64 {
        self.mux.packets_written()
    }

    fn begin_segment(&mut self, discontinuity: bool) {
        self.open_forced_disc = std::mem::take(&mut self.lost) && !discontinuity;
        self.writer.begin(self.next_seq);
        self.mux.write_psi(&mut self.writer);
    }

    /// Commit → playlist → state → deletions. Never names an incomplete segment.
    fn publish(&mut self, closed: Closed, endlist: bool) -> Result<Option<Published>, HlsError> {
        let t0 = std::time::Instant::now();
        let r = self.publish_inner(closed, endlist);
        self.publish_ns += t0.elapsed().as_nanos() as u64;
        r
    }

    fn publish_inner(
        &mut self,
        closed: Closed,
        endlist: bool,
    ) -> Result<Option<Published>, HlsError> {
        let (seq, bytes) = match self.writer.commit() {
            Ok(r) => r,
            Err((e, new)) => {
                self.dropped += 1;
                self.lost = true;
                log::warn!("HLS: dropped segment {} ({e})", self.next_seq);
                // An error already returned when the write failed is not returned twice.
                return if new { Err(e.into()) } else { Ok(None) };
            }
        };
        self.next_seq = seq + 1;
        let entry = SegmentEntry {
            seq,
            duration: closed.duration,
            pdt: closed.wall,
            discontinuity: closed.discontinuity || self.open_forced_disc,
        };
        if ring::rounded_secs(entry.duration) > self.target_secs as u64 {
            self.overlong += 1;
            log::warn!(
                "HLS: seg{seq}.ts lasts {} > target {}s (keyframe request not honoured)",
                entry.duration,
                self.target_secs
            );
        }
        self.ring.publish(entry);
        self.published += 1;
        let playlist = self.write_playlist(endlist);
        let state = self.write_state();
        let mut removal = Ok(());
        while let Some(old) = self.ring.pop_expired() {
            if let Err(e) = self.writer.store_mut().remove_segment(old) {
                log::warn!("HLS: {e}");
                removal = Err(e);
            }
        }
        playlist.and(state).and(removal)?;
        Ok(Some(Published {
            seq,
            duration: entry.duration,
            bytes,
        }))
    }

    fn write_playlist(&mut self, endlist: bool) -> Result<(), StoreError> {
        self.text.clear();
        let h = PlaylistHeader {
            target_secs: self.target_secs,
            media_seq: self.ring.media_seq(),
            disc_seq: self.ring.disc_seq(),
            endlist,
        };
        // Cannot fail: PLAYLIST_CAP covers MAX_WINDOW (see playlist::worst_case_len).
        let r = playlist::render(&mut *self.text, &h, self.ring.entries());
        debug_assert!(r.is_ok());
        let r = self.writer.store_mut().write_playlist(self.text.as_bytes());
        if let Err(e) = &r {
            log::warn!("HLS: {e}; the previous playlist stays");
        }
        r
    }

    fn write_state(&mut self) -> Result<(), StoreError> {
        self.state_buf.clear();
        let r = state::encode(
            &mut *self.state_buf,
            self.target_secs,
            self.next_seq,
            self.ring.media_seq(),
            self.ring.disc_seq(),
            self.ring.entries(),
        );
        debug_assert!(r.is_ok());
        let r = self
            .writer
            .store_mut()
            .write_state(self.state_buf.as_bytes());
        if let Err(e) = &r {
            log::warn!("HLS: {e}");
        }
        r
    }
}

fn setup_err(what: &str, e: StoreError) -> HlsError {
    HlsError::setup(
        format!("{what} ({e})"),
        std::io::Error::from_raw_os_error(e.errno),
    )
}

mod restore;
