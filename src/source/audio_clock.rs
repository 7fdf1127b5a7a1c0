//! Audio media time from the sample count, anchored to the monotonic clock and slowly corrected.
//!
//! A sound card's crystal and the system's monotonic clock drift apart (0.1 % is 3.6 s an hour).
//! Stamping each buffer with "now" would follow the clock but jitter with scheduling; stamping
//! it with `samples / rate` would be smooth but drift away from the video, which is stamped from
//! the monotonic clock (DESIGN.md §1: one clock). [`AudioClock`] does both: the time of sample
//! `n` is `origin + n / rate + correction`, and on every buffer the correction moves a small
//! fraction ([`AudioClock::GAIN`]) of the way towards what the monotonic clock says, limited to
//! a slew of [`AudioClock::MAX_SLEW_PPM`] of the buffer's duration. So:
//!
//! * PTS are strictly increasing and each step is the buffer's duration within ±0.2 %
//!   (no jumps; a decoder never sees an overlap or a hole it would have to fix);
//! * against a 0.1 % drift the proportional loop settles at an error of
//!   `drift × buffer / GAIN` (0.1 % × 20 ms / 0.02 = 1 ms), far inside one AAC frame (1024
//!   samples, 21.3 ms at 48 kHz);
//! * scheduling jitter of the read wake-ups is averaged over about `1 / GAIN` buffers.
//!
//! It is a pure type: "now" is an argument ([`AudioClock::stamp`]), so tests drive hours of
//! simulated drift in milliseconds.
//!
//! Media time is the [`Clock::monotonic`](crate::time::Clock::monotonic) time expressed in 90 kHz
//! ticks — the same origin the V4L2 source uses for video.

use crate::time::{Pts90k, HZ_90K};
use std::time::Duration;

/// Sample-count media time with a slow proportional correction towards the monotonic clock.
#[derive(Debug, Clone)]
pub struct AudioClock {
    rate: u64,
    /// Monotonic time (ns) of sample 0, fixed at the first stamp.
    origin_ns: Option<i128>,
    /// Accumulated correction, ns.
    corr_ns: f64,
    last: Option<Pts90k>,
}

impl AudioClock {
    /// Fraction of the observed error corrected per buffer.
    pub const GAIN: f64 = 0.02;
    /// Largest correction per buffer, in parts per million of the buffer's duration.
    pub const MAX_SLEW_PPM: f64 = 2000.0;
    /// An error larger than this (the device stalled, or samples were lost uncounted) makes the
    /// clock re-anchor at once instead of slewing for minutes.
    pub const RESYNC: Duration = Duration::from_millis(500);

    /// A clock for `sample_rate` frames per second; anchored by the first [`stamp`](Self::stamp).
    pub fn new(sample_rate: u32) -> Self {
        AudioClock {
            rate: sample_rate.max(1) as u64,
            origin_ns: None,
            corr_ns: 0.0,
            last: None,
        }
    }

    fn frames_ns(&self, frames: u64) -> i128 {
        frames as i128 * 1_000_000_000 / self.rate as i128
    }

    /// Corrected monotonic time (ns) of sample index `n`.
    fn model_ns(&self, n: u64) -> Option<i128> {
        Some(self.origin_ns? + self.frames_ns(n) + self.corr_ns as i128)
    }

    /// Media time of a buffer of `frames` frames whose first frame has index `first`
    /// (frames delivered before it), given `now`: the monotonic time at which the buffer's
    /// last frame had just been captured (i.e. right after the read returned).
    pub fn stamp(&mut self, first: u64, frames: u64, now: Duration) -> Pts90k {
        let now_ns = now.as_nanos() as i128;
        let end = first + frames;
        match self.model_ns(end) {
            None => self.origin_ns = Some(now_ns - self.frames_ns(end)),
            Some(model_end) => {
                let err = (now_ns - model_end) as f64;
                if err.abs() > Self::RESYNC.as_nanos() as f64 {
                    log::warn!(
                        "audio clock: {:.1} ms off the monotonic clock, re-anchoring",
                        err / 1e6
                    );
                    self.corr_ns += err;
                } else {
                    let max = self.frames_ns(frames) as f64 * Self::MAX_SLEW_PPM / 1e6;
                    self.corr_ns += (err * Self::GAIN).clamp(-max, max);
                }
            }
        }
        let t = self.model_ns(first).unwrap_or(0).max(0) as u128;
        let mut pts = Pts90k((t * HZ_90K as u128 / 1_000_000_000) as u64);
        if let Some(last) = self.last {
            if pts <= last {
                pts = Pts90k(last.0 + 1);
            }
        }
        self.last = Some(pts);
        pts
    }

    /// Media time of a buffer starting at frame index `first` from the model alone, without a
    /// clock observation: for buffers that hold inserted silence (their end was not just
    /// captured, so "now" says nothing about them). Falls back to `now` before the first stamp.
    pub fn predict(&mut self, first: u64, frames: u64, now: Duration) -> Pts90k {
        if self.origin_ns.is_none() {
            return self.stamp(first, frames, now);
        }
        let t = self.model_ns(first).unwrap_or(0).max(0) as u128;
        let mut pts = Pts90k((t * HZ_90K as u128 / 1_000_000_000) as u64);
        if let Some(last) = self.last {
            if pts <= last {
                pts = Pts90k(last.0 + 1);
            }
        }
        self.last = Some(pts);
        pts
    }

    /// How many frames the count `delivered` lags what the monotonic clock says should have been
    /// captured by `now` (negative: ahead). Zero before the first stamp. A source that lost
    /// samples (overrun, device gone) inserts this many frames of silence so the track has no
    /// hole and the count stays on the clock.
    pub fn behind(&self, delivered: u64, now: Duration) -> i64 {
        match self.model_ns(delivered) {
            None => 0,
            Some(m) => ((now.as_nanos() as i128 - m) * self.rate as i128 / 1_000_000_000) as i64,
        }
    }

    /// Monotonic time at which frame index `n` is due (None before the first stamp).
    pub fn due(&self, n: u64) -> Option<Duration> {
        self.model_ns(n)
            .map(|ns| Duration::from_nanos(ns.max(0) as u64))
    }

    /// Sample rate.
    pub fn rate(&self) -> u32 {
        self.rate as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_stamp_anchors_and_steps_by_buffer() {
        let mut c = AudioClock::new(48_000);
        let p0 = c.stamp(0, 960, Duration::from_millis(1020));
        assert_eq!(p0, Pts90k::from_millis(1000));
        let p1 = c.stamp(960, 960, Duration::from_millis(1040));
        assert_eq!(p1.0 - p0.0, 1800);
        assert_eq!(c.behind(1920, Duration::from_millis(1060)), 960);
    }

    #[test]
    fn silence_for_lost_time_keeps_steps_nominal() {
        let mut c = AudioClock::new(48_000);
        let ms = Duration::from_millis;
        let mut n = 0;
        let mut pts = vec![];
        for i in 0..10 {
            pts.push(c.stamp(n, 960, ms(20 * (i + 1))));
            n += 960;
        }
        // The reader stalled: 600 ms lost; it owes 28_800 frames of silence, stamped by the
        // model only (30 buffers), then device samples resume, observed against the clock.
        assert_eq!(c.behind(n, ms(800)), 28_800);
        for _ in 0..30 {
            pts.push(c.predict(n, 960, ms(800)));
            n += 960;
        }
        for i in 0..5 {
            pts.push(c.stamp(n, 960, ms(820 + 20 * i)));
            n += 960;
        }
        assert!(pts.windows(2).all(|w| w[1].0 - w[0].0 == 1800), "{pts:?}");
    }

    #[test]
    fn big_error_resyncs() {
        let mut c = AudioClock::new(48_000);
        c.stamp(0, 960, Duration::from_millis(20));
        // one second of samples vanished: the next buffer ends at 1.04 s, not 40 ms.
        let p = c.stamp(960, 960, Duration::from_millis(1040));
        assert_eq!(p.as_millis_rounded(), 1020);
    }
}
