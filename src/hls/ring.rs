//! The segment ring: which published segments are in the live window, which have left it but
//! must stay downloadable, and when each may be deleted (RFC 8216 §6.2.2).
//!
//! §6.2.2: "When the server removes a Media Segment URI from the Playlist, the corresponding
//! Media Segment MUST remain available to clients for a period of time equal to the duration of
//! the segment plus the duration of the longest Playlist file distributed by the server
//! containing that segment." So a segment leaving the window is *retired* with a deadline of
//! `its duration + the duration of the window that still contained it`, measured on the media
//! time of segments published afterwards (segments are published in real time, one per segment
//! duration), and deleted once that much media has been published since.
//!
//! ## Slot arithmetic
//! Let `W` be the window (segments) and `S` the configured segment duration (whole seconds).
//! Every segment cut by the duration rule lasts at least `S` and, because the pipeline forces an
//! IDR when asked ([`super::segmenter::Segmenter::wants_keyframe`]), less than `S + ½`. A
//! retired segment therefore needs at most `(S + ½) + W·(S + ½) = (W + 1)(S + ½)` of media
//! published after it, and every later segment contributes at least `S`, so at most
//! `R = ⌈(W + 1)(2S + 1) / 2S⌉` retired segments are ever waiting ([`retired_slots`]).
//! The directory then holds at most `W + R` complete segments, plus one slot for the segment being
//! written (first `.part`, then briefly complete before the window moves): [`total_slots`]
//! `= W + R + 1` (for `W = 6`, `S = 2`: `6 + 9 + 1 = 16`; for large `S` it tends to
//! `W + (W + 1) + 1`). Short segments (cut early by a discontinuity) could need more; then the
//! oldest retired segment is deleted early and counted ([`Ring::forced_deletions`]).
//!
//! All storage is fixed-size ([`heapless::Deque`]); publishing never allocates.

use std::time::SystemTime;

use heapless::Deque;

use crate::time::{Pts90k, HZ_90K};

/// Largest live window (segments) a playlist may carry; fixes buffer sizes.
pub const MAX_WINDOW: usize = 60;
/// Largest number of retired segments the ring can hold (`retired_slots(MAX_WINDOW, 1)` + 1).
pub const MAX_RETIRED: usize = 93;

/// One published segment as the playlist and the state file describe it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentEntry {
    /// Media sequence number (also its file name `seg<seq>.ts`).
    pub seq: u64,
    /// Exact duration (EXTINF).
    pub duration: Pts90k,
    /// Wall-clock time of its first frame (EXT-X-PROGRAM-DATE-TIME).
    pub pdt: SystemTime,
    /// Whether it is preceded by `EXT-X-DISCONTINUITY`.
    pub discontinuity: bool,
    /// Generation of its fMP4 initialisation segment (`init<map>.mp4`); 0 for MPEG-TS.
    pub map: u32,
}

/// `R`: retired segments that may be waiting for deletion (see the module docs).
pub fn retired_slots(window: usize, segment_secs: u32) -> usize {
    let s2 = 2 * segment_secs.max(1) as usize;
    ((window + 1) * (s2 + 1)).div_ceil(s2)
}

/// `W + R + 1`: the most segment files (complete or partial) ever in the directory.
pub fn total_slots(window: usize, segment_secs: u32) -> usize {
    window + retired_slots(window, segment_secs) + 1
}

#[derive(Debug, Clone, Copy)]
struct Retired {
    seq: u64,
    /// Published media time at which it may be deleted.
    deadline: Pts90k,
}

/// Window and retired segments, media sequence and discontinuity sequence.
#[derive(Debug)]
pub struct Ring {
    window_len: usize,
    retired_cap: usize,
    window: Deque<SegmentEntry, MAX_WINDOW>,
    retired: Deque<Retired, MAX_RETIRED>,
    media_seq: u64,
    disc_seq: u64,
    /// Total media time published by this process.
    clock: Pts90k,
    forced: u64,
}

impl Ring {
    /// An empty ring for `window` segments of nominally `segment_secs` seconds.
    /// `window` must be `1..=MAX_WINDOW` and `segment_secs ≥ 1` (validated by the caller).
    pub fn new(window: usize, segment_secs: u32) -> Ring {
        assert!((1..=MAX_WINDOW).contains(&window), "window out of range");
        Ring {
            window_len: window,
            retired_cap: retired_slots(window, segment_secs).min(MAX_RETIRED - 1),
            window: Deque::new(),
            retired: Deque::new(),
            media_seq: 0,
            disc_seq: 0,
            clock: Pts90k::ZERO,
            forced: 0,
        }
    }

    /// Restores the window after a restart. `entries` must have consecutive sequence numbers
    /// starting at `media_seq`; at most the last `window` entries are kept.
    pub fn restore(&mut self, media_seq: u64, disc_seq: u64, entries: &[SegmentEntry]) {
        self.window.clear();
        self.retired.clear();
        self.media_seq = media_seq;
        self.disc_seq = disc_seq;
        for (i, e) in entries.iter().enumerate() {
            debug_assert_eq!(e.seq, media_seq + i as u64);
            let _ = self.window.push_back(*e);
        }
        while self.window.len() > self.window_len {
            self.pop_front_of_window();
        }
    }

    fn pop_front_of_window(&mut self) -> Option<SegmentEntry> {
        let e = self.window.pop_front()?;
        self.media_seq = e.seq + 1;
        // RFC 8216 §6.2.2: removing an EXT-X-DISCONTINUITY tag increments
        // EXT-X-DISCONTINUITY-SEQUENCE, so the remaining segments keep their numbers.
        if e.discontinuity {
            self.disc_seq += 1;
        }
        Some(e)
    }

    /// Adds a newly committed segment at the live edge; moves the oldest window segment, if the
    /// window overflows, to the retired list with its §6.2.2 deadline. The caller must drain
    /// [`Ring::pop_expired`] after every publish (that keeps the retired list below capacity).
    pub fn publish(&mut self, e: SegmentEntry) {
        if self.window.is_empty() {
            self.media_seq = e.seq;
        }
        debug_assert_eq!(e.seq, self.media_seq + self.window.len() as u64);
        self.clock = self.clock + e.duration;
        if self.window.len() == self.window_len {
            let playlist_dur = self.window_duration();
            if let Some(old) = self.pop_front_of_window() {
                let deadline = self.clock + old.duration + playlist_dur;
                if self
                    .retired
                    .push_back(Retired {
                        seq: old.seq,
                        deadline,
                    })
                    .is_err()
                {
                    unreachable!("retired list is drained below capacity after every publish");
                }
            }
        }
        let _ = self.window.push_back(e);
    }

    /// Next segment that may be deleted now: one whose deadline has passed, or the oldest one
    /// when more than `R` are waiting (counted as forced). Call until `None` after the playlist
    /// has been replaced.
    pub fn pop_expired(&mut self) -> Option<u64> {
        let front = *self.retired.front()?;
        if front.deadline <= self.clock {
            self.retired.pop_front();
            return Some(front.seq);
        }
        if self.retired.len() > self.retired_cap {
            self.forced += 1;
            log::warn!(
                "segment ring full: deleting seg{}.ts before its RFC 8216 §6.2.2 retention",
                front.seq
            );
            self.retired.pop_front();
            return Some(front.seq);
        }
        None
    }

    /// Sum of the window's durations.
    pub fn window_duration(&self) -> Pts90k {
        self.window
            .iter()
            .fold(Pts90k::ZERO, |acc, e| acc + e.duration)
    }
    /// The live window, oldest first.
    pub fn entries(&self) -> impl Iterator<Item = &SegmentEntry> + '_ {
        self.window.iter()
    }
    /// Number of segments in the window.
    pub fn len(&self) -> usize {
        self.window.len()
    }
    /// True when nothing has been published.
    pub fn is_empty(&self) -> bool {
        self.window.is_empty()
    }
    /// `EXT-X-MEDIA-SEQUENCE`: sequence number of the first window segment.
    pub fn media_seq(&self) -> u64 {
        self.media_seq
    }
    /// Sets the media sequence of an empty window (the next segment's number).
    pub fn set_media_seq_if_empty(&mut self, seq: u64) {
        if self.window.is_empty() {
            self.media_seq = seq;
        }
    }
    /// `EXT-X-DISCONTINUITY-SEQUENCE`.
    pub fn disc_seq(&self) -> u64 {
        self.disc_seq
    }
    /// Sequence numbers of retired segments still on disk.
    pub fn retired(&self) -> impl Iterator<Item = u64> + '_ {
        self.retired.iter().map(|r| r.seq)
    }
    /// Retired segments deleted before their retention period ended.
    pub fn forced_deletions(&self) -> u64 {
        self.forced
    }
    /// The configured window.
    pub fn window_len(&self) -> usize {
        self.window_len
    }
}

/// Whole seconds of a duration rounded to nearest (how players compare EXTINF to the target).
pub fn rounded_secs(d: Pts90k) -> u64 {
    (d.0 + HZ_90K / 2) / HZ_90K
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn entry(seq: u64, ms: u64, disc: bool) -> SegmentEntry {
        SegmentEntry {
            seq,
            duration: Pts90k::from_millis(ms),
            pdt: UNIX_EPOCH,
            discontinuity: disc,
            map: 0,
        }
    }

    #[test]
    fn slot_arithmetic() {
        assert_eq!(retired_slots(6, 2), 9); // ⌈7·5/4⌉ = ⌈8.75⌉
        assert_eq!(total_slots(6, 2), 16);
        assert_eq!(retired_slots(6, 1), 11); // ⌈7·3/2⌉
        assert_eq!(retired_slots(6, 1000), 8); // ⌈7·2001/2000⌉ → W + 2
        assert!(retired_slots(MAX_WINDOW, 1) < MAX_RETIRED);
        // The bound holds: R segments of at least S cover (W+1)(S+½).
        for w in 6..=MAX_WINDOW {
            for s in 1..10u32 {
                let r = retired_slots(w, s) as f64;
                assert!(r * s as f64 >= (w as f64 + 1.0) * (s as f64 + 0.5));
            }
        }
    }

    #[test]
    fn retention_follows_rfc8216_6_2_2() {
        let mut r = Ring::new(6, 2);
        let mut deleted = Vec::new();
        for seq in 0..40 {
            r.publish(entry(seq, 2000, false));
            while let Some(s) = r.pop_expired() {
                deleted.push((seq, s));
            }
        }
        // seg0 leaves when seg6 is published (clock 14 s) with a 12 s window → deadline
        // 14 + 2 + 12 = 28 s, reached when seg13 is published.
        assert_eq!(deleted[0], (13, 0));
        for &(at, s) in &deleted {
            assert_eq!(at, s + 13);
        }
        assert_eq!(r.forced_deletions(), 0);
        assert_eq!(r.media_seq(), 34);
        // Window 6 + 7 retired (= W + 1 for exactly-S segments), within R = 9.
        assert_eq!(r.retired().count(), 7);
    }

    #[test]
    fn longest_segments_stay_within_slots() {
        let mut r = Ring::new(6, 2);
        for seq in 0..60 {
            // Alternate 2.0 s and 2.49 s segments.
            r.publish(entry(seq, if seq % 2 == 0 { 2000 } else { 2490 }, false));
            while r.pop_expired().is_some() {}
            assert!(r.len() + r.retired().count() < total_slots(6, 2));
        }
        assert_eq!(r.forced_deletions(), 0);
    }

    #[test]
    fn short_segments_force_deletion() {
        let mut r = Ring::new(6, 2);
        // Long segments fill the window, then a storm of 0.1 s segments (discontinuities)
        // retires them faster than their retention allows.
        for seq in 0..40 {
            r.publish(entry(seq, if seq < 8 { 2400 } else { 100 }, true));
            while r.pop_expired().is_some() {}
            assert!(r.retired().count() <= retired_slots(6, 2));
        }
        assert!(r.forced_deletions() > 0);
    }

    #[test]
    fn discontinuity_sequence_counts_tags_leaving() {
        let mut r = Ring::new(6, 2);
        for seq in 0..6 {
            r.publish(entry(seq, 2000, seq == 2));
        }
        assert_eq!((r.media_seq(), r.disc_seq()), (0, 0));
        r.publish(entry(6, 2000, false)); // seg0 leaves
        r.publish(entry(7, 2000, false)); // seg1 leaves
        assert_eq!((r.media_seq(), r.disc_seq()), (2, 0));
        r.publish(entry(8, 2000, false)); // seg2 and its tag leave
        assert_eq!((r.media_seq(), r.disc_seq()), (3, 1));
    }
}
