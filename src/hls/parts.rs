//! LL-HLS partial segments: when to cut a part, and how long the parts are (pure logic, no I/O).
//!
//! RFC 8216bis §4.4.4.9 (`EXT-X-PART`) and Apple's authoring spec (LL-HLS):
//! - a Partial Segment lasts at most the Part Target Duration (`EXT-X-PART-INF:PART-TARGET`),
//!   and every part except the last one of its parent segment lasts at least 85 % of it;
//! - parts start on any frame; the first part of a segment starts with its IDR and is
//!   `INDEPENDENT=YES` (so is any other part that happens to start with an IDR).
//!
//! The part duration is a whole number of frames at the configured rate ([`PartPlan::new`]:
//! `part_ms` rounded to frames, as MediaMTX does because iOS fails on parts under 85 % of the
//! target). [`PartCutter::video`] is fed every video frame that goes into the open segment and
//! decides, *on the arrival of a frame*, whether that frame starts a new part: it does when the
//! open part already spans `part − ½ frame` of media up to the frame's PTS. So a part's duration
//! is exact — `first PTS of the next part − its first PTS` — and with a steady camera each part
//! holds exactly the planned number of frames. A frame that arrives late (a dropped frame right
//! at a boundary) makes that one part longer than planned; it is reported (`overlong`) and
//! counted, like an overlong segment.
//!
//! [`PartPlan::part_target`] is what the playlist announces: the planned duration plus an eighth
//! of a frame for timestamp jitter, rounded up to the millisecond, so parts of the planned frame
//! count never exceed it while every full part stays well above 85 % of it.

use crate::time::{Pts90k, HZ_90K};

/// Smallest and largest configurable part duration (`[hls] part_ms`).
pub const PART_MS_RANGE: std::ops::RangeInclusive<u32> = 100..=1000;
/// Most parts one segment can have (10 s segments of 100 ms parts, with room for late cuts).
pub const MAX_PARTS_PER_SEGMENT: usize = 128;

/// The part duration chosen for a configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartPlan {
    /// Frames per part.
    pub frames: u32,
    /// Planned part duration (`frames` frames at the configured rate).
    pub duration: Pts90k,
    /// Nominal frame duration at the configured rate.
    pub frame: Pts90k,
    /// `PART-TARGET`: `duration` + ⅛ frame, rounded up to whole milliseconds.
    pub part_target: Pts90k,
}

impl PartPlan {
    /// `part_ms` rounded to a whole number of frames (at least one) at `fps`.
    pub fn new(part_ms: u32, fps: u32) -> PartPlan {
        Self::with_frames(part_ms, fps.max(1) as u64, 1)
    }

    /// The same for an audio-only output: frames of 1024 samples (AAC) at `sample_rate`.
    pub fn audio(part_ms: u32, sample_rate: u32) -> PartPlan {
        Self::with_frames(part_ms, sample_rate.max(1) as u64, 1024)
    }

    /// Parts of whole frames of `per` ticks of a `rate` Hz clock.
    fn with_frames(part_ms: u32, rate: u64, per: u64) -> PartPlan {
        let frames = ((part_ms as u64 * rate + 500 * per) / (1000 * per)).max(1);
        let duration = Pts90k(frames * per * HZ_90K / rate);
        let frame = Pts90k(per * HZ_90K / rate);
        let with_jitter = duration.0 + frame.0 / 8;
        let part_target = Pts90k(with_jitter.div_ceil(90) * 90);
        PartPlan {
            frames: frames as u32,
            duration,
            frame,
            part_target,
        }
    }

    /// Milliseconds of the planned duration (rounded), for the start-up log line.
    pub fn millis(&self) -> f64 {
        self.duration.0 as f64 / 90.0
    }
}

/// A part the cutter closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClosedPart {
    /// Index within its parent segment (0 = the segment's first part).
    pub index: u32,
    /// PTS of its first video frame.
    pub start: Pts90k,
    /// Its duration: the next part's first PTS minus `start`.
    pub duration: Pts90k,
    /// Starts with an IDR (`INDEPENDENT=YES`).
    pub independent: bool,
    /// Video frames in it.
    pub frames: u32,
    /// Longer than the announced `PART-TARGET` (a frame came late at the boundary).
    pub overlong: bool,
}

#[derive(Debug, Clone, Copy)]
struct Open {
    index: u32,
    start: Pts90k,
    independent: bool,
    frames: u32,
}

/// What a video frame does to the parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartStep {
    /// The frame goes into the open part.
    Append,
    /// The frame starts the first part of a new segment (no part was open).
    Begin,
    /// Close the open part (`closed`), then the frame starts the next part.
    Cut(ClosedPart),
}

/// Part cut decisions for one stream.
#[derive(Debug, Clone)]
pub struct PartCutter {
    plan: PartPlan,
    open: Option<Open>,
}

impl PartCutter {
    /// A cutter for parts of `plan`.
    pub fn new(plan: PartPlan) -> Self {
        PartCutter { plan, open: None }
    }

    /// The plan.
    pub fn plan(&self) -> &PartPlan {
        &self.plan
    }

    /// Decides for a video frame at `pts` that goes into a segment; `new_segment` when the frame
    /// starts a segment (the open part, if any, is then the last part of the previous one: the
    /// caller closes it with [`PartCutter::finish`] first).
    pub fn video(&mut self, pts: Pts90k, key: bool, new_segment: bool) -> PartStep {
        let Some(open) = self.open else {
            self.open = Some(Open {
                index: 0,
                start: pts,
                independent: key,
                frames: 1,
            });
            return PartStep::Begin;
        };
        debug_assert!(!new_segment, "finish the open part before a new segment");
        let span = pts.saturating_sub(open.start);
        if span.0 + self.plan.frame.0 / 2 >= self.plan.duration.0 {
            let closed = self.close(open, pts);
            self.open = Some(Open {
                index: open.index + 1,
                start: pts,
                independent: key,
                frames: 1,
            });
            return PartStep::Cut(closed);
        }
        if let Some(o) = &mut self.open {
            o.frames += 1;
        }
        PartStep::Append
    }

    fn close(&self, open: Open, end: Pts90k) -> ClosedPart {
        let duration = end.saturating_sub(open.start);
        ClosedPart {
            index: open.index,
            start: open.start,
            duration,
            independent: open.independent,
            frames: open.frames,
            overlong: duration > self.plan.part_target,
        }
    }

    /// Closes the open part at `end` (the next segment's first PTS, or the end of the stream):
    /// the last part of its segment. `None` when no part is open.
    pub fn finish(&mut self, end: Pts90k) -> Option<ClosedPart> {
        let open = self.open.take()?;
        Some(self.close(open, end))
    }

    /// Drops the open part without closing it (its segment was abandoned).
    pub fn reset(&mut self) {
        self.open = None;
    }

    /// Index of the part being filled, or of the next part when none is open.
    pub fn open_index(&self) -> Option<u32> {
        self.open.map(|o| o.index)
    }

    /// PTS of the open part's first frame.
    pub fn open_start(&self) -> Option<Pts90k> {
        self.open.map(|o| o.start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audio_plans_round_to_whole_aac_frames() {
        // 200 ms at 48 kHz: 9.375 frames of 21.333 ms → 9 frames, 192 ms.
        let p = PartPlan::audio(200, 48_000);
        assert_eq!(
            (p.frames, p.duration, p.frame),
            (9, Pts90k(17_280), Pts90k(1920))
        );
        assert_eq!(p.part_target, Pts90k(17_550));
        assert_eq!(PartPlan::audio(1000, 8000).frames, 8);
    }

    #[test]
    fn plans_round_to_whole_frames() {
        let p = PartPlan::new(200, 30);
        assert_eq!(
            (p.frames, p.duration, p.frame),
            (6, Pts90k(18_000), Pts90k(3000))
        );
        // 200 ms + 3000/8 ticks (4.17 ms) = 204.17 ms → 205 ms.
        assert_eq!(p.part_target, Pts90k::from_millis(205));
        let p = PartPlan::new(200, 24);
        assert_eq!(p.frames, 5);
        assert_eq!(p.duration, Pts90k(18_750)); // 208.33 ms
        assert_eq!(p.part_target, Pts90k::from_millis(214));
        assert_eq!(PartPlan::new(100, 5).frames, 1); // never zero frames
        assert_eq!(PartPlan::new(1000, 120).frames, 120);
        for fps in 1..=120 {
            for ms in [100, 200, 333, 500, 1000] {
                let p = PartPlan::new(ms, fps);
                // Full parts are at least 85 % of the announced target.
                assert!(
                    p.duration.0 * 100 >= p.part_target.0 * 85,
                    "{ms} ms @ {fps}"
                );
                assert!(p.part_target >= p.duration);
            }
        }
    }

    #[test]
    fn steady_frames_make_parts_of_the_planned_count() {
        let mut c = PartCutter::new(PartPlan::new(200, 30));
        let mut closed = Vec::new();
        for i in 0..60u64 {
            let pts = Pts90k(1_000_000 + i * 3000);
            match c.video(pts, i == 0, i == 0) {
                PartStep::Cut(p) => closed.push(p),
                PartStep::Begin => assert_eq!(i, 0),
                PartStep::Append => {}
            }
        }
        let last = c.finish(Pts90k(1_000_000 + 60 * 3000)).unwrap();
        closed.push(last);
        assert_eq!(closed.len(), 10);
        for (k, p) in closed.iter().enumerate() {
            assert_eq!(p.index, k as u32);
            assert_eq!(p.frames, 6);
            assert_eq!(p.duration, Pts90k(18_000));
            assert_eq!(p.independent, k == 0);
            assert!(!p.overlong);
        }
        assert!(c.finish(Pts90k(0)).is_none());
    }

    #[test]
    fn jitter_keeps_the_frame_count_and_a_late_frame_is_overlong() {
        let mut c = PartCutter::new(PartPlan::new(200, 30));
        let jitter = [0i64, 40, -35, 20, -44, 10, 44, -20, 0, 30, -30, 5];
        let mut parts = Vec::new();
        for (i, j) in jitter.iter().enumerate() {
            let pts = Pts90k((90_000 + i as i64 * 3000 + j) as u64);
            if let PartStep::Cut(p) = c.video(pts, i == 0, i == 0) {
                parts.push(p);
            }
        }
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].frames, 6);
        assert!(!parts[0].overlong);
        // Frame 12 (due at +36000) is dropped; 13 arrives: the part spans 7 frame times,
        // measured from the real (jittered, +44) start of frame 6.
        let p = match c.video(Pts90k(90_000 + 13 * 3000), false, false) {
            PartStep::Cut(p) => p,
            s => panic!("{s:?}"),
        };
        assert_eq!(p.duration, Pts90k(13 * 3000 - (6 * 3000 + 44)));
        assert!(p.overlong);
    }

    #[test]
    fn a_part_starting_with_an_idr_is_independent() {
        let mut c = PartCutter::new(PartPlan::new(100, 30));
        assert_eq!(c.video(Pts90k(0), true, true), PartStep::Begin);
        c.video(Pts90k(3000), false, false);
        c.video(Pts90k(6000), false, false);
        match c.video(Pts90k(9000), true, false) {
            PartStep::Cut(p) => assert!(p.independent && p.index == 0),
            s => panic!("{s:?}"),
        }
        let p = c.finish(Pts90k(12_000)).unwrap();
        assert!(p.independent);
        assert_eq!((p.index, p.frames), (1, 1));
    }
}
