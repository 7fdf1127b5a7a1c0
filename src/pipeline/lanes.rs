//! Renditions (lanes): one capture feeds every rendition's encoder.
//!
//! ```text
//! capture ─► key clock (IDR on the same frames for all) ─┬─► lane 0: [drop-oldest queue] ─► encoder 0
//!                                                        ├─► lane 1: scale into its pool ─► queue ─► encoder 1
//!                                                        └─► …
//! ```
//!
//! - The capture thread scales each picture once per lane whose size differs from the capture
//!   (into that lane's own fixed pool) and hands the captured buffer itself to the first lane of
//!   the capture's size. A lane at a lower frame rate takes every n-th picture, and always a
//!   keyframe's.
//! - With several lanes, keyframes are decided here, on the capture's media time, not by each
//!   encoder's own counter: every lane forces an IDR on the same picture, so segments (and the
//!   parts that follow from their start) begin at the same media time in every rendition. A
//!   picture a lane drops hands its keyframe mark to the one that survives it (one frame later
//!   in that lane only).
//! - [`Governor`]: when a paced run's encoders cannot keep up (a lane dropping more than
//!   [`OVERLOAD_SHARE`] of its pictures over [`OVERLOAD_WINDOW`]), the lowest rendition still
//!   running is stopped — never the first — and logged; the others get its CPU back.
//! - Nothing allocates once running: scalers and pools are made at start (a scaler again only
//!   when the camera's geometry changes).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::encode::{EncodedVideo, VideoEncoder};
use crate::pool::Pool;
use crate::queue::{DropOldestQueue, Pop, Receiver, Sender};
use crate::scale::Scaler;
use crate::source::{RawFrame, SourceError, VideoFormat, VideoSource};
use crate::stats::Stats;
use crate::time::Pts90k;

use super::mux::Cuts;
use super::{thread_cpu_ns, EncoderFactory};

/// A lane whose drops exceed this share of its pictures over [`OVERLOAD_WINDOW`] is overloaded.
pub const OVERLOAD_SHARE: f64 = 0.10;
/// How long drops are counted before the governor acts.
pub const OVERLOAD_WINDOW: Duration = Duration::from_secs(10);

/// A picture on its way to one lane's encoder.
pub(crate) struct LaneFrame {
    pub frame: RawFrame,
    /// Encode as an IDR: a segment starts here in every rendition.
    pub key: bool,
}

/// Decides the keyframes of all lanes: the first picture at or after each segment boundary,
/// and every discontinuity. (At, not near: the segmenter cuts on an IDR only once the segment
/// has reached its target duration.)
#[derive(Debug, Clone, Copy)]
pub struct KeyClock {
    every: Pts90k,
    next: Option<Pts90k>,
}

impl KeyClock {
    /// Keyframes every `every` of media time.
    pub fn new(every: Pts90k) -> Self {
        KeyClock { every, next: None }
    }

    /// Whether the picture at `pts` must be an IDR.
    pub fn is_key(&mut self, pts: Pts90k, discontinuity: bool) -> bool {
        let due = match self.next {
            None => true,
            Some(n) => discontinuity || pts >= n,
        };
        if due {
            self.next = Some(pts + self.every);
        }
        due
    }
}

/// The capture side of one lane.
pub(crate) struct LaneInput {
    pub name: String,
    /// The lane's picture size and rate.
    pub format: VideoFormat,
    pub queue: Arc<DropOldestQueue<LaneFrame>>,
    pub stats: Arc<Stats>,
    /// Set once the lane is stopped for good (overload).
    pub stopped: Arc<AtomicBool>,
    /// Where scaled pictures go (`None` for a lane taking the captured buffers).
    pool: Option<Pool>,
    scaler: Option<Scaler>,
    /// Capture pictures per lane picture (capture fps / lane fps).
    step: u32,
    since: u32,
    /// A keyframe this lane could not take (no free buffer): the next picture it takes is one.
    owed_key: bool,
}

impl LaneInput {
    pub fn new(
        name: &str,
        format: VideoFormat,
        capture_fps: u32,
        queue: Arc<DropOldestQueue<LaneFrame>>,
        stats: Arc<Stats>,
    ) -> Self {
        LaneInput {
            name: name.to_owned(),
            format,
            queue,
            stats,
            stopped: Arc::new(AtomicBool::new(false)),
            pool: None,
            scaler: None,
            step: (capture_fps / format.fps.max(1)).max(1),
            since: u32::MAX,
            owed_key: false,
        }
    }

    /// The lane takes the captured buffers themselves (its size is the capture's).
    pub fn direct(mut self) -> Self {
        self.pool = None;
        self
    }

    /// The lane scales each picture into a buffer of `pool`.
    pub fn scaled_into(mut self, pool: Pool) -> Self {
        self.pool = Some(pool);
        self
    }

    fn takes(&mut self, key: bool) -> bool {
        if self.stopped.load(Ordering::Relaxed) {
            return false;
        }
        self.since = self.since.saturating_add(1);
        if key || self.since >= self.step {
            self.since = 0;
            return true;
        }
        false
    }

    /// The lane's copy of `src`: scaled into a buffer of its pool (`None`: pool exhausted, the
    /// encoder is behind — counted as a drop).
    fn scaled(&mut self, src: &RawFrame) -> Option<RawFrame> {
        let pool = self.pool.as_ref()?;
        let (sw, sh) = (src.format.width, src.format.height);
        // A camera smaller than the lane (it gave another size than asked): encode it as is.
        let (dw, dh) = (self.format.width.min(sw), self.format.height.min(sh));
        if self.scaler.as_ref().map(|s| (s.src_size(), s.dst_size())) != Some(((sw, sh), (dw, dh)))
        {
            match Scaler::new(sw, sh, dw, dh) {
                Ok(s) => self.scaler = Some(s),
                Err(e) => {
                    log::warn!("rendition {}: {e}", self.name);
                    return None;
                }
            }
        }
        let mut lease = pool.try_take()?;
        let format = VideoFormat {
            width: dw,
            height: dh,
            fps: self.format.fps,
        };
        if let Some(s) = &mut self.scaler {
            s.scale(
                &src.buf[..src.format.i420_len()],
                &mut lease[..format.i420_len()],
            );
        }
        Some(RawFrame {
            buf: lease,
            format,
            pts: src.pts,
            captured: src.captured,
            wall: src.wall,
            seq: src.seq,
            discontinuity: src.discontinuity,
        })
    }

    fn push(&self, lf: LaneFrame, fast: bool) -> Result<(), ()> {
        if fast {
            return self.queue.push_wait(lf).map_err(|_| ());
        }
        if self.queue.push_merge(lf, |dropped, survivor| {
            // A keyframe or a source switch must not vanish with the picture that carried it.
            survivor.key |= dropped.key;
            survivor.frame.discontinuity |= dropped.frame.discontinuity;
        }) {
            Stats::add(&self.stats.drops, 1);
        }
        Ok(())
    }
}

/// Stops the lowest running rendition when some lane keeps dropping pictures.
#[derive(Debug)]
pub struct Governor {
    since: Instant,
    /// (frames offered, drops) per lane at `since`.
    base: Vec<(u64, u64)>,
}

impl Governor {
    /// Counting from `now` for `lanes` lanes.
    pub fn new(lanes: usize, now: Instant) -> Self {
        Governor {
            since: now,
            base: vec![(0, 0); lanes],
        }
    }

    /// Given each lane's (pictures offered, drops, running) so far, the lane to stop now, if
    /// any: once per [`OVERLOAD_WINDOW`], when a running lane dropped more than
    /// [`OVERLOAD_SHARE`] of what it was offered, the last running lane after the first.
    pub fn check(&mut self, now: Instant, lanes: &[(u64, u64, bool)]) -> Option<usize> {
        if now.duration_since(self.since) < OVERLOAD_WINDOW {
            return None;
        }
        let overloaded = lanes
            .iter()
            .zip(&self.base)
            .any(|(&(o, d, run), &(bo, bd))| {
                let (offered, dropped) = (o.saturating_sub(bo), d.saturating_sub(bd));
                run && offered > 0 && dropped as f64 > OVERLOAD_SHARE * offered as f64
            });
        self.since = now;
        for (b, &(o, d, _)) in self.base.iter_mut().zip(lanes) {
            *b = (o, d);
        }
        if !overloaded {
            return None;
        }
        lanes.iter().rposition(|l| l.2).filter(|&i| i > 0)
    }
}

/// The capture thread: each picture to every lane that takes it.
pub(crate) fn capture_loop(
    mut video: Box<dyn VideoSource>,
    pool: &Pool,
    mut lanes: Vec<LaneInput>,
    keys: (Option<KeyClock>, Option<Arc<Cuts>>),
    stats: &Stats,
    stop: &AtomicBool,
    limits: (Option<Pts90k>, bool),
) {
    let (duration, fast) = limits;
    let (mut keys, cuts) = keys;
    log::info!("video source {} at {:?}", video.name(), video.format());
    let mut offered = vec![0u64; lanes.len()];
    let mut running = Vec::with_capacity(lanes.len());
    let mut governor = Governor::new(lanes.len(), Instant::now());
    'frames: while !stop.load(Ordering::Relaxed) {
        // CPU time, not wall time: next_frame blocks until the frame is due (paced sources,
        // cameras), and that wait is not a cost.
        let t0 = thread_cpu_ns();
        let frame = match video.next_frame(pool) {
            Ok(f) => f,
            Err(SourceError::End) => break,
            Err(SourceError::PoolExhausted) => {
                Stats::add(&stats.drops, 1);
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
            Err(e) => {
                log::warn!("video source {}: {e}", video.name());
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        if duration.is_some_and(|d| frame.pts >= d) {
            break;
        }
        Stats::add(&stats.frames_in, 1);
        let key = keys
            .as_mut()
            .is_some_and(|k| k.is_key(frame.pts, frame.discontinuity));
        if let Some(c) = &cuts {
            c.decided(frame.pts, key, frame.wall, frame.discontinuity);
        }
        let mut original = Some(frame);
        // Scaled copies first, from the captured picture; then the picture itself to its lane.
        let mut direct = None;
        for (i, lane) in lanes.iter_mut().enumerate() {
            let Some(src) = original.as_ref() else { break };
            let key = key || lane.owed_key;
            if !lane.takes(key || src.discontinuity) {
                continue;
            }
            offered[i] += 1;
            lane.owed_key = false;
            if lane.pool.is_none() {
                direct = Some((i, key));
                continue;
            }
            match lane.scaled(src) {
                Some(f) => {
                    if lane.push(LaneFrame { frame: f, key }, fast).is_err() {
                        break 'frames;
                    }
                }
                None => {
                    lane.owed_key = key;
                    Stats::add(&lane.stats.drops, 1);
                }
            }
        }
        if let (Some((i, key)), Some(f)) = (direct, original.take()) {
            if lanes[i].push(LaneFrame { frame: f, key }, fast).is_err() {
                break;
            }
        }
        Stats::add(&stats.capture_ns, thread_cpu_ns().saturating_sub(t0));
        if lanes.len() > 1 && !fast {
            running.clear();
            running.extend(lanes.iter().zip(&offered).map(|(l, &o)| {
                (
                    o,
                    l.stats.drops.load(Ordering::Relaxed),
                    !l.stopped.load(Ordering::Relaxed),
                )
            }));
            if let Some(i) = governor.check(Instant::now(), &running) {
                let lane = &lanes[i];
                log::warn!(
                    "the encoders cannot keep up with every rendition: stopping rendition {} \
                     ({}x{}), the lowest still running; the master playlist no longer lists it",
                    lane.name,
                    lane.format.width,
                    lane.format.height
                );
                lane.stopped.store(true, Ordering::SeqCst);
                lane.queue.close();
            }
        }
    }
    for l in &lanes {
        l.queue.close();
    }
    if let Some(c) = &cuts {
        c.end();
    }
}

/// One lane's encoder thread.
pub(crate) fn encode_loop(
    mut enc: Box<dyn VideoEncoder>,
    make_encoder: &mut EncoderFactory,
    raw: &DropOldestQueue<LaneFrame>,
    out: Sender<EncodedVideo>,
    free: Receiver<EncodedVideo>,
    stats: &Stats,
    force_idr: &AtomicBool,
) {
    let mut fmt: Option<VideoFormat> = None;
    let mut spare: Option<EncodedVideo> = None;
    loop {
        let LaneFrame { frame, key } = match raw.pop_timeout(Duration::from_millis(200)) {
            Pop::Item(f) => f,
            Pop::Timeout => continue,
            Pop::Closed => break,
        };
        if fmt.is_some_and(|f| f != frame.format) {
            log::info!(
                "geometry changed to {:?}: rebuilding the encoder",
                frame.format
            );
            match make_encoder(frame.format) {
                Ok(e) => enc = e,
                Err(e) => {
                    log::error!("encoder for {:?}: {e}", frame.format);
                    continue;
                }
            }
        }
        fmt = Some(frame.format);
        if key | frame.discontinuity | force_idr.swap(false, Ordering::Relaxed) {
            enc.force_keyframe();
        }
        let Some(mut buf) = spare.take().or_else(|| free.recv().ok()) else {
            break;
        };
        let t0 = Instant::now();
        let res = enc.encode(&frame, &mut buf);
        Stats::add(&stats.encode_ns, t0.elapsed().as_nanos() as u64);
        drop(frame);
        match res {
            Ok(true) => {
                Stats::add(&stats.frames_out, 1);
                Stats::add(&stats.video_bytes, buf.data.len() as u64);
                if out.send(buf).is_err() {
                    break;
                }
            }
            Ok(false) => spare = Some(buf),
            Err(e) => {
                log::warn!("{} failed on a frame: {e}", enc.name());
                spare = Some(buf);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_fall_on_segment_boundaries_and_discontinuities() {
        let mut k = KeyClock::new(Pts90k(180_000));
        // Frames 3000 ticks apart, every 7th 40 late, frame 60 10 early.
        let pts = |i: u64| match i {
            60 => 180_000 - 10,
            _ if i % 7 == 0 => i * 3000 + 40,
            _ => i * 3000,
        };
        let keys: Vec<u64> = (0..130u64)
            .filter(|&i| k.is_key(Pts90k(pts(i)), false))
            .collect();
        assert_eq!(keys, [0, 61, 121]);
        assert!(k.is_key(Pts90k(130 * 3000), true));
        assert!(!k.is_key(Pts90k(131 * 3000), false));
    }

    #[test]
    fn governor_stops_the_lowest_running_lane_after_the_first() {
        let t0 = Instant::now();
        let mut g = Governor::new(3, t0);
        // Within the window: nothing, whatever the drops.
        assert_eq!(g.check(t0, &[(10, 9, true); 3]), None);
        let t1 = t0 + OVERLOAD_WINDOW;
        assert_eq!(
            g.check(t1, &[(300, 0, true), (300, 10, true), (300, 20, true)]),
            None
        );
        let t2 = t1 + OVERLOAD_WINDOW;
        assert_eq!(
            g.check(t2, &[(600, 40, true), (600, 10, true), (600, 20, true)]),
            Some(2)
        );
        let t3 = t2 + OVERLOAD_WINDOW;
        assert_eq!(
            g.check(t3, &[(900, 80, true), (900, 10, true), (600, 20, false)]),
            Some(1)
        );
        let t4 = t3 + OVERLOAD_WINDOW;
        assert_eq!(
            g.check(t4, &[(1200, 200, true), (900, 10, false), (600, 20, false)]),
            None
        );
    }
}
