//! Keeps video flowing when the camera does not: reopen with backoff, "no signal" slate meanwhile.
//!
//! [`SupervisedVideo`] wraps an *opener* (a closure that opens the real source) and is itself a
//! [`VideoSource`]. When the camera is missing at start, unplugged, or fails (EIO, ENODEV,
//! timeouts) it:
//!
//! 1. logs why, drops the failed source and counts a restart (`Stats::restarts`);
//! 2. returns slate frames — the [`Slate`] (the test pattern) with a message such as
//!    `NO SIGNAL: /dev/video0 GONE - RETRYING` — paced at the configured frame rate, stamped
//!    from the same monotonic clock, so PTS stay continuous and viewers keep a live stream;
//! 3. calls the opener again after a backoff that doubles from [`BACKOFF_MIN`] to
//!    [`BACKOFF_MAX`] (reset by the first good frame).
//!
//! The first frame after each switch (camera → slate, slate → camera) has
//! `discontinuity = true` (not the very first frame of the run). The slate keeps the geometry
//! of the last camera frames (or the configured one), so the encoder is rebuilt only when the
//! camera comes back with another geometry, which [`VideoSource::format`] then shows.
//!
//! All waiting goes through a [`Sleeper`], so tests drive it with a [`SimClock`] and
//! [`SimSleeper`] without sleeping.
//!
//! [`SimClock`]: crate::time::SimClock

use super::{RawFrame, SourceError, VideoFormat, VideoSource};
use crate::pool::Pool;
use crate::stats::Stats;
use crate::time::{Clock, Pts90k, SimClock};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// First retry delay after a failure.
pub const BACKOFF_MIN: Duration = Duration::from_millis(500);
/// Longest retry delay.
pub const BACKOFF_MAX: Duration = Duration::from_secs(8);

/// The retry delay after another failure: `d` doubled, at most [`BACKOFF_MAX`] (used by every
/// source that reopens itself: camera, microphone, rpicam-vid).
pub fn next_backoff(d: Duration) -> Duration {
    (d * 2).min(BACKOFF_MAX)
}

/// Draws the picture shown while the camera is away.
pub trait Slate: Send {
    /// Renders frame `frame_index` of `fmt` into `out` (an I420 buffer), with `message` burned in.
    fn render(
        &mut self,
        out: &mut [u8],
        fmt: VideoFormat,
        frame_index: u64,
        wall: SystemTime,
        message: Option<&str>,
    );
}

/// The real slate: the test source's pattern (clock, moving box) with the message burned in.
impl Slate for super::testsrc::TestPattern {
    fn render(
        &mut self,
        out: &mut [u8],
        fmt: VideoFormat,
        frame_index: u64,
        wall: SystemTime,
        message: Option<&str>,
    ) {
        super::testsrc::TestPattern::render(self, out, fmt, frame_index, wall, message)
    }
}

/// A plain slate: mid-grey luma with a bar that moves one step per frame (no text). Used when
/// no test pattern is available; the real one is the test source's pattern.
#[derive(Debug, Default, Clone, Copy)]
pub struct GreySlate;

impl Slate for GreySlate {
    fn render(
        &mut self,
        out: &mut [u8],
        fmt: VideoFormat,
        frame_index: u64,
        _wall: SystemTime,
        _message: Option<&str>,
    ) {
        let (w, h) = (fmt.width as usize, fmt.height as usize);
        let len = fmt.i420_len().min(out.len());
        out[..len].fill(128);
        let x = (frame_index as usize * 8) % w.max(1);
        for row in out[..(w * h).min(len)].chunks_exact_mut(w.max(1)) {
            let end = (x + 8).min(row.len());
            row[x..end].fill(235);
        }
    }
}

/// Waits until a monotonic deadline of a clock.
pub trait Sleeper: Send {
    /// Returns once `clock.monotonic() >= deadline` (or at once if it already is).
    fn sleep_until(&mut self, clock: &dyn Clock, deadline: Duration);
}

/// Sleeps the thread (production).
#[derive(Debug, Default, Clone, Copy)]
pub struct ThreadSleeper;

impl Sleeper for ThreadSleeper {
    fn sleep_until(&mut self, clock: &dyn Clock, deadline: Duration) {
        let now = clock.monotonic();
        if deadline > now {
            std::thread::sleep(deadline - now);
        }
    }
}

/// Advances a [`SimClock`] instead of sleeping (tests).
#[derive(Debug, Clone)]
pub struct SimSleeper(pub SimClock);

impl Sleeper for SimSleeper {
    fn sleep_until(&mut self, clock: &dyn Clock, deadline: Duration) {
        let now = clock.monotonic();
        if deadline > now {
            self.0.advance(deadline - now);
        }
    }
}

/// Opens (or reopens) the supervised source.
pub type Opener = Box<dyn FnMut() -> Result<Box<dyn VideoSource>, SourceError> + Send>;

/// A video source that survives its camera (see the module docs).
pub struct SupervisedVideo {
    opener: Opener,
    current: Option<Box<dyn VideoSource>>,
    slate: Box<dyn Slate>,
    clock: Arc<dyn Clock>,
    sleeper: Box<dyn Sleeper>,
    stats: Option<Arc<Stats>>,
    label: String,
    name: String,
    fmt: VideoFormat,
    backoff: Duration,
    next_retry: Duration,
    next_slate: Pts90k,
    slate_index: u64,
    message: String,
    pending_discontinuity: bool,
    started: bool,
    last_pts: Option<Pts90k>,
    seq: u64,
}

impl std::fmt::Debug for SupervisedVideo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SupervisedVideo")
            .field("name", &self.name)
            .field("format", &self.fmt)
            .field("live", &self.current.is_some())
            .finish()
    }
}

impl SupervisedVideo {
    /// Supervises the source `opener` opens; `label` names the device in logs and on the slate
    /// (e.g. `/dev/video0`), `want` is the configured format (the slate's until a camera frame
    /// arrives). The first open is attempted on the first [`next_frame`](VideoSource::next_frame).
    pub fn new(
        label: &str,
        want: VideoFormat,
        opener: Opener,
        slate: Box<dyn Slate>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        SupervisedVideo {
            opener,
            current: None,
            slate,
            clock,
            sleeper: Box::new(ThreadSleeper),
            stats: None,
            label: label.to_string(),
            name: format!("slate:{label}"),
            fmt: want,
            backoff: BACKOFF_MIN,
            next_retry: Duration::ZERO,
            next_slate: Pts90k::ZERO,
            slate_index: 0,
            message: format!("NO SIGNAL: {label} STARTING"),
            pending_discontinuity: false,
            started: false,
            last_pts: None,
            seq: 0,
        }
    }

    /// Replaces the sleeper (tests pass a [`SimSleeper`]).
    pub fn with_sleeper(mut self, s: Box<dyn Sleeper>) -> Self {
        self.sleeper = s;
        self
    }

    /// Counts restarts in `stats.restarts` and reports the source name in `stats`.
    pub fn with_stats(mut self, stats: Arc<Stats>) -> Self {
        self.stats = Some(stats);
        self
    }

    /// True while the real source is delivering (false while the slate is shown).
    pub fn is_live(&self) -> bool {
        self.current.is_some()
    }

    /// The slate's current message.
    pub fn message(&self) -> &str {
        &self.message
    }

    fn lost(&mut self, e: &SourceError) {
        let what = match e {
            SourceError::Gone(_) => "GONE",
            SourceError::Timeout(_) => "NOT RESPONDING",
            _ => "FAILED",
        };
        self.message = format!("NO SIGNAL: {} {what} - RETRYING", self.label);
        let now = self.clock.monotonic();
        self.next_retry = now + self.backoff;
        log::warn!(
            "video: {} failed ({e}); showing the slate, retrying in {:.1} s",
            self.name,
            self.backoff.as_secs_f64()
        );
        self.backoff = next_backoff(self.backoff);
        self.name = format!("slate:{}", self.label);
        if let Some(s) = &self.stats {
            Stats::add(&s.restarts, 1);
            s.set_source(&self.name);
        }
        if self.started {
            self.pending_discontinuity = true;
        }
        self.next_slate = self.next_slate.max(Pts90k::from_duration(now));
    }

    fn try_open(&mut self) {
        match (self.opener)() {
            Ok(src) => {
                log::info!(
                    "video: {} opened ({}x{} @ {} fps)",
                    src.name(),
                    src.format().width,
                    src.format().height,
                    src.format().fps
                );
                self.name = src.name().to_string();
                if let Some(s) = &self.stats {
                    s.set_source(&self.name);
                }
                self.current = Some(src);
            }
            Err(e) => {
                let what = match e {
                    SourceError::Gone(_) => "GONE",
                    _ => "FAILED",
                };
                self.message = format!("NO SIGNAL: {} {what} - RETRYING", self.label);
                log::warn!(
                    "video: cannot open {} ({e}); retrying in {:.1} s",
                    self.label,
                    self.backoff.as_secs_f64()
                );
                self.next_retry = self.clock.monotonic() + self.backoff;
                self.backoff = next_backoff(self.backoff);
            }
        }
    }

    fn finish(&mut self, mut f: RawFrame) -> RawFrame {
        if let Some(last) = self.last_pts {
            if f.pts <= last {
                f.pts = Pts90k(last.0 + 1);
            }
        }
        self.last_pts = Some(f.pts);
        f.discontinuity = std::mem::take(&mut self.pending_discontinuity);
        self.started = true;
        self.seq += 1;
        f.seq = self.seq;
        f
    }

    fn slate_frame(&mut self, pool: &Pool) -> Result<RawFrame, SourceError> {
        // Cadence kept in 90 kHz ticks so every slate step is exactly one frame; if we fell
        // behind by more than a frame (a source timed out), restart the cadence from now.
        let frame = self.fmt.frame_ticks();
        let now_pts = Pts90k::from_duration(self.clock.monotonic());
        let pts = self.next_slate.max(now_pts.saturating_sub(frame));
        let due = pts.to_duration();
        self.sleeper.sleep_until(&*self.clock, due);
        self.next_slate = pts + frame;
        let mut buf = pool.try_take().ok_or(SourceError::PoolExhausted)?;
        if buf.len() < self.fmt.i420_len() {
            return Err(SourceError::Io(format!(
                "pool buffers ({} B) too small for the slate ({}x{})",
                buf.len(),
                self.fmt.width,
                self.fmt.height
            )));
        }
        let wall = self.clock.wall();
        self.slate.render(
            &mut buf,
            self.fmt,
            self.slate_index,
            wall,
            Some(&self.message),
        );
        self.slate_index += 1;
        Ok(self.finish(RawFrame {
            buf,
            format: self.fmt,
            pts,
            captured: due,
            wall,
            seq: 0,
            discontinuity: false,
        }))
    }
}

impl VideoSource for SupervisedVideo {
    fn name(&self) -> &str {
        &self.name
    }

    fn format(&self) -> VideoFormat {
        match &self.current {
            Some(s) => s.format(),
            None => self.fmt,
        }
    }

    fn next_frame(&mut self, pool: &Pool) -> Result<RawFrame, SourceError> {
        if self.current.is_none() && self.clock.monotonic() >= self.next_retry {
            self.try_open();
            if self.current.is_some() && self.started {
                self.pending_discontinuity = true;
            }
        }
        if let Some(src) = self.current.as_mut() {
            match src.next_frame(pool) {
                Ok(f) => {
                    self.backoff = BACKOFF_MIN;
                    self.fmt = f.format;
                    return Ok(self.finish(f));
                }
                Err(SourceError::PoolExhausted) => return Err(SourceError::PoolExhausted),
                Err(SourceError::End) => return Err(SourceError::End),
                Err(e) => {
                    // Drop the failed source (closing it) before showing the slate.
                    self.current = None;
                    self.lost(&e);
                }
            }
        }
        self.slate_frame(pool)
    }
}

/// The usual wiring: the V4L2 camera `device` (path or card name) supervised, with the test
/// pattern as slate; drops and restarts counted in `stats` when given.
pub fn supervised_camera(
    device: &str,
    want: VideoFormat,
    clock: Arc<dyn Clock>,
    stats: Option<Arc<Stats>>,
) -> SupervisedVideo {
    let (dev, c, st) = (device.to_string(), clock.clone(), stats.clone());
    let opener: Opener = Box::new(move || {
        let src = super::v4l2::V4l2Source::open_with_clock(&dev, want, c.clone())?;
        Ok(match &st {
            Some(s) => Box::new(src.with_stats(s.clone())) as Box<dyn VideoSource>,
            None => Box::new(src),
        })
    });
    let slate = Box::new(super::testsrc::TestPattern::new(want));
    let sv = SupervisedVideo::new(device, want, opener, slate, clock);
    match stats {
        Some(s) => sv.with_stats(s),
        None => sv,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_camera_gives_a_slate_not_an_error() {
        let clock = SimClock::at_2026();
        let want = VideoFormat {
            width: 64,
            height: 36,
            fps: 30,
        };
        let mut sv = supervised_camera(
            "/dev/video-hlscam-none",
            want,
            Arc::new(clock.clone()),
            None,
        )
        .with_sleeper(Box::new(SimSleeper(clock)));
        let pool = Pool::new(2, want.i420_len());
        let f = sv.next_frame(&pool).unwrap();
        assert_eq!(f.format, want);
        assert!(!sv.is_live());
        assert_eq!(
            sv.message(),
            "NO SIGNAL: /dev/video-hlscam-none GONE - RETRYING"
        );
    }

    #[test]
    fn grey_slate_draws_a_moving_bar() {
        let fmt = VideoFormat {
            width: 32,
            height: 4,
            fps: 30,
        };
        let mut buf = vec![0xA5u8; fmt.i420_len()];
        GreySlate.render(&mut buf, fmt, 1, SystemTime::UNIX_EPOCH, None);
        assert_eq!(&buf[0..8], &[128; 8]);
        assert_eq!(&buf[8..16], &[235; 8]);
        assert!(buf[32 * 4..].iter().all(|&b| b == 128));
    }
}
