//! The live ring: the first consumer of the output stage. It numbers segments, commits them and
//! their LL-HLS parts into the store, keeps the live window ([`Ring`]), renders the playlists
//! (classic or LL, full and delta), saves the restart state, deletes what has left the window
//! once RFC 8216 §6.2.2 allows it, and publishes the playlist to the HTTP server
//! ([`LiveShared`]).
//!
//! Order on every publication: media committed (renamed into place) → playlist rendered and
//! replaced → state saved (segments only) → files past retention deleted. So the playlist never
//! names a part or segment that is not complete, and nothing it named is deleted before its time.
//!
//! Parts (RFC 8216bis §4.4.4.9, §6.2.2): listed for the open segment and for complete segments
//! that end less than three target durations before the last complete segment's end; their
//! files are deleted once that distance reaches six target durations (listed for three, then
//! fetchable for as long again). Once warm nothing here allocates.

use std::sync::Arc;
use std::time::SystemTime;

use heapless::{Deque, Vec as HVec};

use super::consumer::PartDone;
use super::ll_playlist::{self, ListedSegment, LlHeader, LlPlaylistBuf, OpenSegment, PartEntry};
use super::parts::{ClosedPart, MAX_PARTS_PER_SEGMENT};
use super::playlist::{self, PlaylistBuf, PlaylistHeader};
use super::ring::{self, Ring, SegmentEntry};
use super::segmenter::Closed;
use super::shared::{LiveShared, LlProgress};
use super::state::{self, Fmp4State, StateBuf};
use super::store::{SegmentStore, StoreError};
use super::writer::SegmentWriter;
use super::{Container, HlsError, Published};
use crate::time::{Pts90k, HZ_90K};

/// Complete segments whose parts are remembered for listing.
const RECENT: usize = 8;
/// Segments whose part files wait for deletion.
const PART_SETS: usize = 64;
/// Initialisation segments on disk at once.
const INITS: usize = 16;

/// Low-latency settings of the live ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LlSettings {
    /// `PART-TARGET`.
    pub part_target: Pts90k,
}

#[derive(Debug)]
struct OpenSeg {
    seq: u64,
    pdt: SystemTime,
    discontinuity: bool,
    map: u32,
    parts: HVec<PartEntry, MAX_PARTS_PER_SEGMENT>,
}

#[derive(Debug)]
struct SegParts {
    seq: u64,
    /// Live-ring clock at the segment's end.
    end: Pts90k,
    parts: HVec<PartEntry, MAX_PARTS_PER_SEGMENT>,
}

#[derive(Debug, Clone, Copy)]
struct PartFiles {
    seq: u64,
    count: u32,
    end: Pts90k,
}

#[derive(Debug)]
struct Ll {
    settings: LlSettings,
    can_skip_until: Option<Pts90k>,
    open: Option<OpenSeg>,
    recent: Deque<SegParts, RECENT>,
    files: Deque<PartFiles, PART_SETS>,
    full: Box<LlPlaylistBuf>,
    delta: Box<LlPlaylistBuf>,
    parts_published: u64,
    parts_overlong: u64,
}

/// The live ring (see the module docs).
#[derive(Debug)]
pub(super) struct LiveRing {
    pub target_secs: u32,
    container: Container,
    pub ring: Ring,
    text: Box<PlaylistBuf>,
    ll: Option<Box<Ll>>,
    state_buf: Box<StateBuf>,
    /// Number of the next segment to open (numbers of dropped segments are reused).
    pub next_seq: u64,
    /// The open segment carries EXT-X-DISCONTINUITY for a reason the segmenter does not know.
    open_forced_disc: bool,
    /// A segment was dropped: the next one carries EXT-X-DISCONTINUITY.
    lost: bool,
    /// Media time of the segments published by this process.
    clock: Pts90k,
    pub published: u64,
    pub dropped: u64,
    pub overlong: u64,
    shared: Option<Arc<LiveShared>>,
    /// fMP4: next init generation and decode time to save.
    pub fmp4: Option<Fmp4State>,
    /// fMP4: generation of the initialisation segment new segments use.
    pub map: u32,
    /// fMP4: initialisation segments on disk, with the first segment that uses each.
    inits: Deque<(u32, u64), INITS>,
}

impl LiveRing {
    pub fn new(
        target_secs: u32,
        window: usize,
        container: Container,
        ll: Option<LlSettings>,
        next_seq: u64,
    ) -> LiveRing {
        let window_secs = window as u64 * u64::from(target_secs);
        let ll = ll.map(|settings| {
            Box::new(Ll {
                settings,
                // Offered only when a delta update can skip something (§4.4.3.8: at least six
                // target durations).
                can_skip_until: (window_secs > 6 * u64::from(target_secs))
                    .then(|| Pts90k(6 * u64::from(target_secs) * HZ_90K)),
                open: None,
                recent: Deque::new(),
                files: Deque::new(),
                full: Box::new(LlPlaylistBuf::new()),
                delta: Box::new(LlPlaylistBuf::new()),
                parts_published: 0,
                parts_overlong: 0,
            })
        });
        LiveRing {
            target_secs,
            container,
            ring: Ring::new(window, target_secs),
            text: Box::new(PlaylistBuf::new()),
            ll,
            state_buf: Box::new(StateBuf::new()),
            next_seq,
            open_forced_disc: false,
            lost: false,
            clock: Pts90k::ZERO,
            published: 0,
            dropped: 0,
            overlong: 0,
            shared: None,
            fmp4: (container == Container::Fmp4).then(Fmp4State::default),
            map: 0,
            inits: Deque::new(),
        }
    }

    pub fn set_shared(&mut self, shared: Arc<LiveShared>) {
        self.shared = Some(shared);
    }

    /// Remembers an initialisation segment on disk, used from segment `first_seq` on.
    pub fn adopt_init(&mut self, gen: u32, first_seq: u64) {
        if self.inits.is_full() {
            self.inits.pop_front();
        }
        let _ = self.inits.push_back((gen, first_seq));
        self.map = gen;
    }

    pub fn parts_published(&self) -> u64 {
        self.ll.as_ref().map_or(0, |l| l.parts_published)
    }
    pub fn parts_overlong(&self) -> u64 {
        self.ll.as_ref().map_or(0, |l| l.parts_overlong)
    }

    /// A segment begins: its number, and whether it carries a discontinuity.
    pub fn begin(&mut self, pdt: SystemTime, discontinuity: bool) -> (u64, bool) {
        self.open_forced_disc = std::mem::take(&mut self.lost) && !discontinuity;
        let disc = discontinuity || self.open_forced_disc;
        let seq = self.next_seq;
        if let Some(ll) = &mut self.ll {
            ll.open = Some(OpenSeg {
                seq,
                pdt,
                discontinuity: disc,
                map: self.map,
                parts: HVec::new(),
            });
        }
        (seq, disc)
    }

    /// A part of the open segment is complete: commit it and, unless `quiet` (the segment
    /// completes in the same step), republish the playlist.
    pub fn part<S: SegmentStore>(
        &mut self,
        w: &mut SegmentWriter<S>,
        p: &ClosedPart,
        quiet: bool,
    ) -> Option<PartDone> {
        let bytes = w.commit_part().ok()?;
        let ll = self.ll.as_mut()?;
        let open = ll.open.as_mut()?;
        let entry = PartEntry {
            index: p.index,
            duration: p.duration,
            independent: p.independent,
        };
        if open.parts.push(entry).is_err() {
            log::warn!("HLS: more than {MAX_PARTS_PER_SEGMENT} parts in a segment; not listed");
            return None;
        }
        ll.parts_published += 1;
        if p.overlong {
            ll.parts_overlong += 1;
            log::debug!(
                "HLS: part {} of seg{} lasts {} > PART-TARGET {}",
                p.index,
                open.seq,
                p.duration,
                ll.settings.part_target
            );
        }
        let done = PartDone {
            seq: open.seq,
            index: p.index,
            start: p.start,
            duration: p.duration,
            independent: p.independent,
            bytes,
        };
        if !quiet {
            let _ = self.write_playlist(w, false);
        }
        Some(done)
    }

    /// Commit → playlist → state → deletions. Never names an incomplete segment.
    pub fn segment<S: SegmentStore>(
        &mut self,
        w: &mut SegmentWriter<S>,
        closed: Closed,
        endlist: bool,
    ) -> Result<Option<Published>, HlsError> {
        let open = self.ll.as_mut().and_then(|l| l.open.take());
        let (seq, bytes) = match w.commit() {
            Ok(r) => r,
            Err((e, new)) => {
                self.dropped += 1;
                self.lost = true;
                log::warn!("HLS: dropped segment {} ({e})", self.next_seq);
                if let Some(o) = open {
                    self.drop_parts(w, o);
                }
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
            map: self.map,
        };
        if ring::rounded_secs(entry.duration) > u64::from(self.target_secs) {
            self.overlong += 1;
            log::warn!(
                "HLS: seg{seq} lasts {} > target {}s (keyframe request not honoured)",
                entry.duration,
                self.target_secs
            );
        }
        self.ring.publish(entry);
        self.clock = self.clock + entry.duration;
        self.published += 1;
        if let (Some(ll), Some(o)) = (self.ll.as_mut(), open) {
            if ll.recent.is_full() {
                ll.recent.pop_front();
            }
            let _ = ll.recent.push_back(SegParts {
                seq,
                end: self.clock,
                parts: o.parts,
            });
            if ll.files.is_full() {
                // More short segments than slots: the oldest part files go early.
                if let Some(f) = ll.files.pop_front() {
                    remove_parts(w, f);
                }
            }
            let n = ll.recent.back().map_or(0, |r| r.parts.len() as u32);
            let _ = ll.files.push_back(PartFiles {
                seq,
                count: n,
                end: self.clock,
            });
        }
        let playlist = self.write_playlist(w, endlist);
        let state = self.write_state(w);
        let removal = self.expire(w);
        playlist.and(state).and(removal)?;
        Ok(Some(Published {
            seq,
            duration: entry.duration,
            bytes,
        }))
    }

    /// The open segment's parts were published but the segment is lost: unlist and delete them.
    fn drop_parts<S: SegmentStore>(&mut self, w: &mut SegmentWriter<S>, o: OpenSeg) {
        let files = PartFiles {
            seq: o.seq,
            count: o.parts.len() as u32,
            end: self.clock,
        };
        let _ = self.write_playlist(w, false);
        remove_parts(w, files);
    }

    /// Deletes retired segments, part files and unused initialisation segments.
    fn expire<S: SegmentStore>(&mut self, w: &mut SegmentWriter<S>) -> Result<(), StoreError> {
        let mut result = Ok(());
        while let Some(old) = self.ring.pop_expired() {
            if let Err(e) = w.store_mut().remove_segment(old) {
                log::warn!("HLS: {e}");
                result = Err(e);
            }
        }
        let six = Pts90k(6 * u64::from(self.target_secs) * HZ_90K);
        if let Some(ll) = &mut self.ll {
            while let Some(f) = ll.files.front().copied() {
                if self.clock.saturating_sub(f.end) < six {
                    break;
                }
                ll.files.pop_front();
                remove_parts(w, f);
            }
        }
        // The oldest segment still on disk (retired ones included).
        let oldest = self
            .ring
            .retired()
            .next()
            .or_else(|| self.ring.entries().next().map(|e| e.seq))
            .unwrap_or(self.next_seq);
        while self.inits.len() > 1 {
            let (Some(&(gen, _)), Some(&(_, next_first))) =
                (self.inits.front(), self.inits.iter().nth(1))
            else {
                break;
            };
            if next_first > oldest {
                break;
            }
            self.inits.pop_front();
            if let Err(e) = w.store_mut().remove_init(gen) {
                log::warn!("HLS: {e}");
            }
        }
        result
    }

    /// Renders the playlist(s), replaces the file and publishes them to the HTTP server.
    pub fn write_playlist<S: SegmentStore>(
        &mut self,
        w: &mut SegmentWriter<S>,
        endlist: bool,
    ) -> Result<(), StoreError> {
        match &mut self.ll {
            None => {
                self.text.clear();
                let h = PlaylistHeader {
                    target_secs: self.target_secs,
                    media_seq: self.ring.media_seq(),
                    disc_seq: self.ring.disc_seq(),
                    endlist,
                    container: self.container,
                };
                // Cannot fail: PLAYLIST_CAP covers MAX_WINDOW (see playlist::worst_case_len).
                let r = playlist::render(&mut *self.text, &h, self.ring.entries());
                debug_assert!(r.is_ok());
            }
            Some(ll) => render_ll(
                ll,
                &self.ring,
                self.container,
                self.target_secs,
                self.clock,
                self.next_seq,
                endlist,
            ),
        }
        let text: &[u8] = match &self.ll {
            None => self.text.as_bytes(),
            Some(ll) => ll.full.as_bytes(),
        };
        let r = w.store_mut().write_playlist(text);
        if let Err(e) = &r {
            log::warn!("HLS: {e}; the previous playlist stays");
        }
        if let Some(shared) = &self.shared {
            let (delta, progress) = match &self.ll {
                Some(ll) => (ll.delta.as_bytes(), Some(self.progress(ll))),
                None => (&b""[..], None),
            };
            shared.publish(text, delta, progress, endlist);
        }
        r
    }

    fn progress(&self, ll: &Ll) -> LlProgress {
        let (open_seq, open_parts) = match &ll.open {
            Some(o) => (o.seq, o.parts.len() as u32),
            None => (self.next_seq, 0),
        };
        let last_parts = ll
            .recent
            .back()
            .filter(|r| r.seq + 1 == open_seq)
            .map_or(0, |r| r.parts.len() as u32);
        LlProgress {
            target: Pts90k(u64::from(self.target_secs) * HZ_90K),
            part_target: ll.settings.part_target,
            open_seq,
            open_parts,
            last_parts,
        }
    }

    pub fn write_state<S: SegmentStore>(
        &mut self,
        w: &mut SegmentWriter<S>,
    ) -> Result<(), StoreError> {
        self.state_buf.clear();
        let r = state::encode(
            &mut *self.state_buf,
            self.target_secs,
            self.next_seq,
            self.ring.media_seq(),
            self.ring.disc_seq(),
            self.fmp4,
            self.ring.entries(),
        );
        debug_assert!(r.is_ok());
        let r = w.store_mut().write_state(self.state_buf.as_bytes());
        if let Err(e) = &r {
            log::warn!("HLS: {e}");
        }
        r
    }
}

fn remove_parts<S: SegmentStore>(w: &mut SegmentWriter<S>, f: PartFiles) {
    for k in 0..f.count {
        if let Err(e) = w.store_mut().remove_part(f.seq, k) {
            log::warn!("HLS: {e}");
        }
    }
}

/// Renders the full and (when offered) delta LL playlists into `ll`'s buffers.
fn render_ll(
    ll: &mut Ll,
    ring: &Ring,
    container: Container,
    target_secs: u32,
    clock: Pts90k,
    next_seq: u64,
    endlist: bool,
) {
    let h = LlHeader {
        target_secs,
        part_target: ll.settings.part_target,
        can_skip_until: ll.can_skip_until,
        media_seq: ring.media_seq(),
        disc_seq: ring.disc_seq(),
        container,
        endlist,
    };
    let three = Pts90k(3 * u64::from(target_secs) * HZ_90K);
    let recent = &ll.recent;
    let listed = || {
        ring.entries().map(move |e| ListedSegment {
            entry: e,
            parts: recent
                .iter()
                .find(|r| r.seq == e.seq && clock.saturating_sub(r.end) < three)
                .map_or(&[][..], |r| &r.parts[..]),
        })
    };
    let open = ll.open.as_ref().map(|o| OpenSegment {
        seq: o.seq,
        pdt: o.pdt,
        discontinuity: o.discontinuity,
        map: o.map,
        parts: &o.parts,
    });
    let hint = match &ll.open {
        Some(o) => (o.seq, o.parts.len() as u32),
        None => (next_seq, 0),
    };
    ll.full.clear();
    // Cannot fail: LL_PLAYLIST_CAP covers 60 segments and 30 s of 100 ms parts.
    let r = ll_playlist::render(&mut *ll.full, &h, 0, listed(), open, Some(hint));
    debug_assert!(r.is_ok(), "LL playlist overflow");
    ll.delta.clear();
    if let Some(until) = ll.can_skip_until {
        // Skip the oldest segments that end more than CAN-SKIP-UNTIL before the playlist's end
        // (§4.4.5.2's Skip Boundary), so every segment within it is listed.
        let total = ring.window_duration();
        let mut before_end = total;
        let mut skip = 0;
        for e in ring.entries() {
            before_end = before_end.saturating_sub(e.duration);
            if before_end < until {
                break;
            }
            skip += 1;
        }
        if skip > 0 {
            let r = ll_playlist::render(&mut *ll.delta, &h, skip, listed(), open, Some(hint));
            debug_assert!(r.is_ok(), "LL delta playlist overflow");
        }
    }
}
