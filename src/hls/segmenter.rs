//! IDR-aligned cut decisions: pure logic, no I/O, time taken from the frames themselves.
//!
//! Contract (`push`-style, like retina's depacketizers): feed every video access unit to
//! [`Segmenter::video`] and every audio frame to [`Segmenter::audio`] in decoding order; each
//! call says what to do with that frame. A segment
//! - starts at an IDR (RFC 8216 §3 and Apple's authoring spec: every segment must be
//!   independently decodable; `EXT-X-INDEPENDENT-SEGMENTS`), so video before the first IDR is
//!   dropped, and so is audio before it;
//! - is cut at the first IDR whose PTS is at least the configured duration after the segment's
//!   first PTS, or at the first IDR after [`Segmenter::mark_discontinuity`];
//! - lasts (EXTINF, RFC 8216 §4.3.2.1) exactly `next segment's first PTS − its first PTS`; when
//!   no next segment follows on the same timeline (end of run, discontinuity) it lasts
//!   `last PTS + one frame − first PTS`, the frame estimated from the last two frames.
//!
//! [`Segmenter::wants_keyframe`] asks the encoder for an IDR when the next frame would be
//! [`KEYFRAME_SLACK`] past the target, which keeps every segment under `target + ½ s` (so its
//! rounded EXTINF never exceeds `EXT-X-TARGETDURATION`, §4.3.3.1) for frame rates ≥ 10 fps.
//!
//! While a discontinuity is pending, audio and non-IDR video are dropped: they belong to a new
//! source whose first decodable picture has not arrived yet.

use std::time::SystemTime;

use crate::time::Pts90k;

/// How far past the target the next frame may be before an IDR is requested (0.4 s).
pub const KEYFRAME_SLACK: Pts90k = Pts90k::from_millis(400);
/// Frame duration assumed before two frames have been seen (1/30 s).
pub const DEFAULT_FRAME: Pts90k = Pts90k(3000);

/// A finished segment's timing, as decided by the segmenter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Closed {
    /// PTS of its first video frame.
    pub start: Pts90k,
    /// Its EXTINF duration.
    pub duration: Pts90k,
    /// Wall clock of its first frame.
    pub wall: SystemTime,
    /// Whether it begins a discontinuity.
    pub discontinuity: bool,
    /// Video frames in it.
    pub frames: u32,
}

/// What to do with a video access unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoStep {
    /// Not part of any segment (before the first IDR, or while a discontinuity is pending).
    Drop,
    /// First segment: open it, write PAT/PMT, then this IDR.
    Start {
        /// The new segment begins a discontinuity.
        discontinuity: bool,
    },
    /// Close the open segment (flush audio first), then open the next with PAT/PMT and this IDR.
    Cut {
        /// The segment just closed.
        closed: Closed,
        /// The new segment begins a discontinuity.
        discontinuity: bool,
    },
    /// Append to the open segment.
    Append,
}

#[derive(Debug, Clone, Copy)]
struct Open {
    start: Pts90k,
    last: Pts90k,
    wall: SystemTime,
    discontinuity: bool,
    frames: u32,
}

/// The cut state machine.
#[derive(Debug, Clone)]
pub struct Segmenter {
    target: Pts90k,
    open: Option<Open>,
    pending_disc: bool,
    pending_cut: bool,
    frame: Pts90k,
    audio_floor: Pts90k,
}

impl Segmenter {
    /// A segmenter cutting at IDRs after `target` of media.
    pub fn new(target: Pts90k) -> Self {
        Segmenter {
            target,
            open: None,
            pending_disc: false,
            pending_cut: false,
            frame: DEFAULT_FRAME,
            audio_floor: Pts90k::ZERO,
        }
    }

    /// The configured segment duration.
    pub fn target(&self) -> Pts90k {
        self.target
    }

    /// The source changed: cut at the next IDR regardless of length and tag that segment.
    pub fn mark_discontinuity(&mut self) {
        self.pending_disc = true;
    }

    /// Cut at the next key whatever the open segment's length (an audio-only output cutting
    /// where the video renditions cut, an audio frame or so off their boundary).
    pub fn force_cut(&mut self) {
        self.pending_cut = true;
    }

    /// Whether a discontinuity is waiting for its IDR.
    pub fn discontinuity_pending(&self) -> bool {
        self.pending_disc
    }

    /// True when an IDR should be forced now: the next frame would be ≥ target + 0.4 s into the
    /// open segment, or a discontinuity waits for an IDR.
    pub fn wants_keyframe(&self) -> bool {
        match &self.open {
            Some(o) => {
                self.pending_disc || o.last + self.frame - o.start >= self.target + KEYFRAME_SLACK
            }
            None => self.pending_disc,
        }
    }

    /// Decides what to do with a video access unit at `pts` (IDR when `key`); `wall` is the
    /// wall clock of its capture.
    pub fn video(&mut self, pts: Pts90k, key: bool, wall: SystemTime) -> VideoStep {
        let Some(open) = self.open else {
            if !key {
                return VideoStep::Drop;
            }
            let discontinuity = std::mem::take(&mut self.pending_disc);
            self.begin(pts, wall, discontinuity);
            return VideoStep::Start { discontinuity };
        };
        if self.pending_disc && !key {
            return VideoStep::Drop;
        }
        if key
            && (self.pending_disc
                || std::mem::take(&mut self.pending_cut)
                || pts.saturating_sub(open.start) >= self.target)
        {
            let discontinuity = std::mem::take(&mut self.pending_disc);
            let end = if discontinuity {
                open.last + self.frame
            } else {
                pts
            };
            let closed = Closed {
                start: open.start,
                duration: end.saturating_sub(open.start),
                wall: open.wall,
                discontinuity: open.discontinuity,
                frames: open.frames,
            };
            if discontinuity {
                self.frame = DEFAULT_FRAME;
            } else {
                self.observe(open.last, pts);
            }
            self.begin(pts, wall, discontinuity);
            return VideoStep::Cut {
                closed,
                discontinuity,
            };
        }
        self.observe(open.last, pts);
        if let Some(o) = &mut self.open {
            o.last = pts;
            o.frames += 1;
        }
        VideoStep::Append
    }

    fn observe(&mut self, last: Pts90k, pts: Pts90k) {
        if pts > last {
            self.frame = pts - last;
        }
    }

    fn begin(&mut self, pts: Pts90k, wall: SystemTime, discontinuity: bool) {
        if discontinuity || self.open.is_none() {
            self.audio_floor = pts;
        }
        self.open = Some(Open {
            start: pts,
            last: pts,
            wall,
            discontinuity,
            frames: 1,
        });
    }

    /// Whether an audio frame at `pts` goes into the open segment (`false`: drop it).
    pub fn audio(&self, pts: Pts90k) -> bool {
        self.open.is_some() && !self.pending_disc && pts >= self.audio_floor
    }

    /// Closes the open segment at the end of a run (or before a pause): its duration is
    /// `last PTS + one frame − first PTS`. `None` when no segment is open.
    pub fn finish(&mut self) -> Option<Closed> {
        let o = self.open.take()?;
        Some(Closed {
            start: o.start,
            duration: (o.last + self.frame).saturating_sub(o.start),
            wall: o.wall,
            discontinuity: o.discontinuity,
            frames: o.frames,
        })
    }

    /// Whether a segment is open.
    pub fn is_open(&self) -> bool {
        self.open.is_some()
    }

    /// Media time from the open segment's first frame to its last frame.
    pub fn open_span(&self) -> Option<Pts90k> {
        self.open.map(|o| o.last - o.start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    const T: Pts90k = Pts90k(180_000);

    fn run(seg: &mut Segmenter, frames: &[(u64, bool)]) -> Vec<VideoStep> {
        frames
            .iter()
            .map(|&(pts, key)| seg.video(Pts90k(pts), key, UNIX_EPOCH))
            .collect()
    }

    #[test]
    fn drops_until_first_idr_then_cuts_at_idr_after_target() {
        let mut s = Segmenter::new(T);
        assert!(!s.audio(Pts90k(0)));
        // 30 fps, IDR every 45 frames (1.5 s): cut at the first IDR at or after 2 s → 3 s.
        let frames: Vec<(u64, bool)> = (0..200u64).map(|i| (i * 3000, i % 45 == 5)).collect();
        let steps = run(&mut s, &frames);
        assert!(steps[..5].iter().all(|s| *s == VideoStep::Drop));
        assert_eq!(
            steps[5],
            VideoStep::Start {
                discontinuity: false
            }
        );
        let cuts: Vec<(usize, Closed)> = steps
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match s {
                VideoStep::Cut { closed, .. } => Some((i, *closed)),
                _ => None,
            })
            .collect();
        assert_eq!(cuts.iter().map(|c| c.0).collect::<Vec<_>>(), vec![95, 185]);
        assert_eq!(cuts[0].1.start, Pts90k(15_000));
        assert_eq!(cuts[0].1.duration, Pts90k(270_000));
        assert_eq!(cuts[0].1.frames, 90);
        assert!(s.audio(Pts90k(15_000)));
        let last = s.finish().unwrap();
        // 185..=199: 15 frames incl. the last frame's own duration.
        assert_eq!(last.duration, Pts90k(15 * 3000));
        assert!(s.finish().is_none());
    }

    #[test]
    fn exact_target_idr_cuts() {
        let mut s = Segmenter::new(T);
        let frames: Vec<(u64, bool)> = (0..121u64).map(|i| (i * 3000, i % 60 == 0)).collect();
        let steps = run(&mut s, &frames);
        assert!(matches!(steps[60], VideoStep::Cut { closed, .. } if closed.duration == T));
        assert!(matches!(steps[120], VideoStep::Cut { .. }));
    }

    #[test]
    fn wants_keyframe_before_half_second_over() {
        let mut s = Segmenter::new(T);
        s.video(Pts90k(0), true, UNIX_EPOCH);
        let mut i = 1;
        while !s.wants_keyframe() {
            s.video(Pts90k(i * 3000), false, UNIX_EPOCH);
            i += 1;
        }
        // Last frame at 2.366 s: the next (forced IDR) lands at 2.4 s.
        assert_eq!(s.open_span(), Some(Pts90k((i - 1) * 3000)));
        assert_eq!(i * 3000, 216_000);
        let step = s.video(Pts90k(i * 3000), true, UNIX_EPOCH);
        assert!(
            matches!(step, VideoStep::Cut { closed, .. } if closed.duration == Pts90k(216_000))
        );
        assert!(!s.wants_keyframe());
    }

    #[test]
    fn discontinuity_cuts_early_and_tags() {
        let mut s = Segmenter::new(T);
        run(&mut s, &[(0, true), (3000, false), (6000, false)]);
        s.mark_discontinuity();
        assert!(s.wants_keyframe());
        assert!(!s.audio(Pts90k(9000)));
        // New source restarts its clock near zero; its non-IDR frames are dropped.
        assert_eq!(run(&mut s, &[(100, false)]), vec![VideoStep::Drop]);
        let step = s.video(Pts90k(200), true, UNIX_EPOCH);
        let VideoStep::Cut {
            closed,
            discontinuity,
        } = step
        else {
            panic!("{step:?}")
        };
        assert!(discontinuity);
        assert_eq!(closed.duration, Pts90k(9000)); // 3 frames of 3000
        assert!(!s.audio(Pts90k(199)));
        assert!(s.audio(Pts90k(200)));
        // The tagged segment reports the flag when it closes.
        assert!(s.finish().unwrap().discontinuity);
    }

    #[test]
    fn discontinuity_before_first_segment_tags_it() {
        let mut s = Segmenter::new(T);
        s.mark_discontinuity();
        assert_eq!(
            run(&mut s, &[(0, false), (3000, true)]),
            vec![
                VideoStep::Drop,
                VideoStep::Start {
                    discontinuity: true
                }
            ]
        );
    }
}
