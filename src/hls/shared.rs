//! [`LiveShared`]: what the mux thread publishes for the HTTP server — the current playlist (full
//! and delta renderings) and, in low-latency mode, how far the stream has got — and the rules
//! of RFC 8216bis §6.2.5.2 (blocking playlist reload) and §6.2.6 (preload hints) applied to it.
//!
//! The mux thread renders into its own fixed buffers, then copies them in under the mutex (the
//! buffers here are allocated once with their full capacity, so a copy never allocates) and
//! wakes every held request ([`LiveShared::wait_for`]). Readers copy out what they need under
//! the lock; holding it is never longer than a copy of a few kilobytes.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::ll_playlist::LL_PLAYLIST_CAP;
use crate::time::{Pts90k, HZ_90K};

/// How far a low-latency stream has got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LlProgress {
    /// `EXT-X-TARGETDURATION`.
    pub target: Pts90k,
    /// `PART-TARGET`.
    pub part_target: Pts90k,
    /// Sequence number of the segment being written (the next to complete).
    pub open_seq: u64,
    /// Parts of it published so far.
    pub open_parts: u32,
    /// Parts of the last complete segment (`open_seq − 1`), if it is still in the playlist.
    pub last_parts: u32,
}

/// What a blocking playlist request, or a request for a hinted part, is waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    /// Answer now.
    Ready,
    /// Hold the request.
    Wait,
    /// 400 Bad Request: the request is too far ahead or malformed (§6.2.5.2).
    TooFar,
}

/// Parts a request may run ahead of the last published one (RFC 8216bis §6.2.5.2's "Advance
/// Part Limit": three, or more when the part target is under a second, 3 s worth of parts).
pub fn advance_part_limit(part_target: Pts90k) -> u64 {
    if part_target.0 >= HZ_90K {
        3
    } else {
        (3 * HZ_90K).div_ceil(part_target.0.max(1))
    }
}

impl LlProgress {
    /// Whether the playlist satisfies `_HLS_msn=msn[&_HLS_part=part]` (§6.2.5.2): it must
    /// contain segment `msn` (complete) or, with `part`, part `part` of segment `msn` (a part
    /// index past the end of a complete segment means part 0 of the next one).
    pub fn playlist(&self, msn: u64, part: Option<u32>) -> Readiness {
        let last_complete = self.open_seq.checked_sub(1);
        // "More than two past the last Media Segment in the Playlist" is refused.
        if msn > self.open_seq.saturating_sub(1).saturating_add(2) {
            return Readiness::TooFar;
        }
        let Some(part) = part else {
            return match last_complete {
                Some(l) if msn <= l => Readiness::Ready,
                _ => Readiness::Wait,
            };
        };
        let (msn, part) = match last_complete {
            Some(l) if msn < l => return Readiness::Ready,
            Some(l) if msn == l && part < self.last_parts => return Readiness::Ready,
            Some(l) if msn == l => (l + 1, 0),
            _ => (msn, part),
        };
        // Position of the requested part against the last published one, in parts.
        let wanted = if msn == self.open_seq {
            u64::from(part)
        } else if msn > self.open_seq {
            // Parts of segments not begun: count at least a whole segment per segment ahead.
            let per_segment = self.target.0.div_ceil(self.part_target.0.max(1));
            (msn - self.open_seq) * per_segment + u64::from(part)
        } else {
            return Readiness::Ready;
        };
        if wanted < u64::from(self.open_parts) {
            return Readiness::Ready;
        }
        let ahead = wanted + 1 - u64::from(self.open_parts);
        if ahead > advance_part_limit(self.part_target) {
            Readiness::TooFar
        } else {
            Readiness::Wait
        }
    }

    /// Whether part `part` of segment `seq` is published (`Ready`), the one the preload hint
    /// names (`Wait`: hold the request until it is), or neither (`TooFar`: 404).
    pub fn part(&self, seq: u64, part: u32) -> Readiness {
        if seq < self.open_seq || (seq == self.open_seq && part < self.open_parts) {
            Readiness::Ready
        } else if seq == self.open_seq && part == self.open_parts {
            Readiness::Wait
        } else {
            Readiness::TooFar
        }
    }
}

/// The published state.
#[derive(Debug)]
pub struct Published {
    /// Bumped on every publication.
    pub generation: u64,
    /// The full playlist (empty before the first segment).
    pub full: Vec<u8>,
    /// The delta update (`_HLS_skip=YES`), or empty when none is offered.
    pub delta: Vec<u8>,
    /// Low-latency progress; `None` in classic mode.
    pub ll: Option<LlProgress>,
    /// The playlist has `EXT-X-ENDLIST`: blocking directives are ignored.
    pub ended: bool,
}

/// How often a held request looks at the server's stop flag.
const STOP_POLL: Duration = Duration::from_millis(100);

/// Shared between the mux thread (writer) and the HTTP server (readers).
pub struct LiveShared {
    state: Mutex<Published>,
    changed: Condvar,
}

impl std::fmt::Debug for LiveShared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveShared").finish_non_exhaustive()
    }
}

impl LiveShared {
    /// Empty, with buffers of the full LL playlist capacity.
    pub fn new() -> Arc<LiveShared> {
        Arc::new(LiveShared {
            state: Mutex::new(Published {
                generation: 0,
                full: Vec::with_capacity(LL_PLAYLIST_CAP),
                delta: Vec::with_capacity(LL_PLAYLIST_CAP),
                ll: None,
                ended: false,
            }),
            changed: Condvar::new(),
        })
    }

    /// Locks the published state for reading.
    pub fn lock(&self) -> MutexGuard<'_, Published> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Calls `ready` on the published state now and after every publication until it returns
    /// `Some`, `deadline` passes or `stop` is set (then `None`). `ready` runs under the lock.
    pub fn wait_for<T>(
        &self,
        deadline: Instant,
        stop: &AtomicBool,
        mut ready: impl FnMut(&Published) -> Option<T>,
    ) -> Option<T> {
        let mut g = self.lock();
        loop {
            if let Some(t) = ready(&g) {
                return Some(t);
            }
            let now = Instant::now();
            if now >= deadline || stop.load(Relaxed) {
                return None;
            }
            g = self
                .changed
                .wait_timeout(g, (deadline - now).min(STOP_POLL))
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Replaces the published state and wakes every held request. Allocation-free while the texts fit
    /// the buffers' capacity (they always do: both are rendered into `LL_PLAYLIST_CAP` buffers).
    pub fn publish(&self, full: &[u8], delta: &[u8], ll: Option<LlProgress>, ended: bool) {
        {
            let mut s = self.lock();
            s.generation += 1;
            s.full.clear();
            s.full.extend_from_slice(full);
            s.delta.clear();
            s.delta.extend_from_slice(delta);
            s.ll = ll;
            s.ended = ended;
        }
        self.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Readiness::*;

    fn progress(open_seq: u64, open_parts: u32, last_parts: u32) -> LlProgress {
        LlProgress {
            target: Pts90k(2 * HZ_90K),
            part_target: Pts90k::from_millis(205),
            open_seq,
            open_parts,
            last_parts,
        }
    }

    #[test]
    fn blocking_reload_rules() {
        // Segment 10 is open with parts 0..=2 out; segment 9 had 10 parts.
        let p = progress(10, 3, 10);
        assert_eq!(p.playlist(9, None), Ready);
        assert_eq!(p.playlist(10, None), Wait); // a whole segment: not complete yet
        assert_eq!(p.playlist(5, Some(0)), Ready);
        assert_eq!(p.playlist(9, Some(9)), Ready);
        assert_eq!(p.playlist(9, Some(10)), Ready); // = part 0 of 10, published
        assert_eq!(p.playlist(10, Some(2)), Ready);
        assert_eq!(p.playlist(10, Some(3)), Wait);
        // Advance limit for 205 ms parts: 15 parts.
        assert_eq!(advance_part_limit(Pts90k::from_millis(205)), 15);
        assert_eq!(p.playlist(10, Some(17)), Wait);
        assert_eq!(p.playlist(10, Some(18)), TooFar);
        assert_eq!(p.playlist(11, Some(0)), Wait); // 10 parts per 2 s segment ahead
        assert_eq!(p.playlist(11, None), Wait);
        assert_eq!(p.playlist(12, Some(0)), TooFar);
        assert_eq!(p.playlist(12, None), TooFar); // more than 2 past the last segment, 9
                                                  // Segment 10 just opened, nothing of it published: 9's end part index means 10.0.
        let q = progress(10, 0, 10);
        assert_eq!(q.playlist(9, Some(10)), Wait);
        assert_eq!(q.playlist(10, Some(0)), Wait);
        // First segment of a run.
        let f = progress(0, 0, 0);
        assert_eq!(f.playlist(0, Some(0)), Wait);
        assert_eq!(f.playlist(0, None), Wait);
        assert_eq!(f.playlist(3, None), TooFar);
        assert_eq!(f.playlist(2, None), Wait);
        assert_eq!(advance_part_limit(Pts90k(HZ_90K)), 3);
    }

    #[test]
    fn preload_hint_rules() {
        let p = progress(10, 3, 10);
        assert_eq!(p.part(9, 4), Ready);
        assert_eq!(p.part(10, 2), Ready);
        assert_eq!(p.part(10, 3), Wait);
        assert_eq!(p.part(10, 4), TooFar);
        assert_eq!(p.part(11, 0), TooFar);
    }

    #[test]
    fn publish_wakes_and_replaces() {
        let s = LiveShared::new();
        let stop = AtomicBool::new(false);
        let far = Instant::now() + Duration::from_secs(30);
        s.publish(b"a", b"", None, false);
        let s2 = s.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            s2.publish(b"bb", b"d", Some(progress(1, 0, 0)), true);
        });
        let got = s.wait_for(far, &stop, |p| (p.generation == 2).then(|| p.full.clone()));
        t.join().unwrap();
        assert_eq!(got.as_deref(), Some(&b"bb"[..]));
        let g = s.lock();
        assert_eq!((&g.delta[..], g.ended), (&b"d"[..], true));
        drop(g);
        // Deadline and stop end a wait that is never satisfied.
        let soon = Instant::now() + Duration::from_millis(30);
        assert_eq!(s.wait_for(soon, &stop, |_| None::<()>), None);
        stop.store(true, Relaxed);
        assert_eq!(s.wait_for(far, &stop, |_| None::<()>), None);
    }
}
