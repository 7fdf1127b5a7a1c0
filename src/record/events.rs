//! Event recording (`[record] mode = "events"`, issue 13): armed windows, their merging, the
//! pre-roll taken from the live ring, and the event log `<dir>/events.jsonl`.
//!
//! ```text
//! HTTP threads                 Control (Mutex + one atomic)       mux thread (Recorder)
//!  POST /api/events ─────────► windows: merged [from, to]  ◄──── segment(): reads armed_until
//!  POST /api/record/start ───► open window (to = ∞)              (one atomic load): queue
//!  POST /api/record/stop ────► closes it at now                  the segment, or hand its
//!                              lines for events.jsonl            buffer back; its metadata
//!                                       │                        goes to the recent ring
//!                                       ▼                                  │
//!                              writer thread: writes the lines; for each segment due (inside
//!                              a window) and not queued — the pre-roll, already in the live
//!                              ring when the event came — reads seg<N>.ts from `hls.dir`
//! ```
//!
//! - An event at wall time `t` arms `[t − pre, t + post]`; windows that overlap or touch
//!   merge ([`merge`]). A manual start arms `[now − pre_seconds, ∞)` until the stop, which
//!   closes it at the stop's time. Times are the wall clock of the segments' first frames
//!   (`SegmentDone::wall`), the clock `EXT-X-PROGRAM-DATE-TIME` shows.
//! - A segment `[wall, wall + duration)` is due when it overlaps a window ([`due`]): the
//!   recording is the window rounded outward to whole live segments, and live segments begin
//!   on IDRs, so the pre-roll begins on a keyframe.
//! - The mux thread keeps the metadata of the last [`RECENT`] segments (a fixed
//!   `heapless::Deque`, no allocation). When an event arms, the segments before it that are
//!   due were never queued: the writer reads them from the live ring's files
//!   ([`preroll`] picks them); one the ring has already deleted is skipped and logged.
//! - In `continuous` mode events are accepted and logged the same way (timeline markers);
//!   nothing else changes.
//! - Event log: one JSON object per line, `{"at","label","trigger","from","to"}` (RFC 3339,
//!   `to` null while a manual recording is open), appended by the writer thread with one
//!   `write` per line (never to a missing disk: the lines wait for the guard) and fsynced with
//!   the next data fsync.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Mutex, MutexGuard, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::Shared;
use crate::config::{RecordMode, RecordSettings};
use crate::hls::consumer::SegmentDone;

/// Segments whose metadata the recorder keeps for pre-roll: more than the largest live window
/// (60 segments) plus the segments that linger after it.
pub const RECENT: usize = 128;
/// The event log's file name in the recordings directory (read back by [`super::catalog`]).
pub use super::catalog::EVENTS_FILE;
/// Windows kept after they end (the writer may still be catching up on them).
const KEEP_ENDED: Duration = Duration::from_secs(3600);
/// Most windows kept; the oldest go first.
const MAX_WINDOWS: usize = 4096;
/// Most event-log lines waiting for the disk; the oldest go first.
const MAX_LINES: usize = 1024;
/// Longest event label, bytes.
pub const MAX_LABEL: usize = 64;
/// The end of an open window.
pub const OPEN: u64 = u64::MAX;

/// Nanoseconds since 1970 of `t` (0 before 1970, saturating).
pub fn wall_ns(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos()
        .min(u128::from(u64::MAX)) as u64
}

fn ns_time(ns: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_nanos(ns)
}

/// An armed stretch of wall-clock time, nanoseconds since 1970, both ends included; `to` is
/// [`OPEN`] while a manual recording runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// First armed instant.
    pub from: u64,
    /// Last armed instant ([`OPEN`]: until stopped).
    pub to: u64,
}

/// Adds `w` to the sorted, disjoint `windows`, merging every window it overlaps or touches.
pub fn merge(windows: &mut Vec<Window>, w: Window) {
    let mut m = w;
    windows.retain(|x| {
        let joins = x.from <= m.to && m.from <= x.to;
        if joins {
            m.from = m.from.min(x.from);
            m.to = m.to.max(x.to);
        }
        !joins
    });
    let at = windows.partition_point(|x| x.from < m.from);
    windows.insert(at, m);
}

/// Whether the segment starting at wall clock `wall` (ns) and lasting `dur` (ns) overlaps one
/// of `windows`.
pub fn due(windows: &[Window], wall: u64, dur: u64) -> bool {
    let end = wall.saturating_add(dur);
    windows.iter().any(|w| wall <= w.to && end > w.from)
}

/// Whether the segment `d` overlaps one of `windows`.
pub fn segment_due(windows: &[Window], d: &SegmentDone) -> bool {
    due(
        windows,
        wall_ns(d.wall),
        d.duration.to_duration().as_nanos() as u64,
    )
}

/// A recent segment, as the mux thread saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recent {
    /// Its `SegmentDone`.
    pub done: SegmentDone,
    /// Whether its bytes were queued to the writer.
    pub queued: bool,
}

/// The pre-roll: the recent segments, in sequence order, that are due and were not queued,
/// after `after` (the last written, if any) and before `before`: the writer reads them from
/// the live ring. Whole segments, so the first begins on a keyframe.
pub fn preroll<'a>(
    recent: impl IntoIterator<Item = &'a Recent>,
    windows: &[Window],
    after: Option<u64>,
    before: u64,
) -> Vec<SegmentDone> {
    let mut v: Vec<SegmentDone> = recent
        .into_iter()
        .filter(|r| !r.queued && r.done.seq < before && after.map_or(true, |a| r.done.seq > a))
        .filter(|r| segment_due(windows, &r.done))
        .map(|r| r.done)
        .collect();
    v.sort_by_key(|d| d.seq);
    v
}

/// How an event was triggered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    /// `POST /api/events`.
    Event,
    /// `POST /api/record/start` or `stop`.
    Manual,
}

/// One line of `events.jsonl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventLine {
    /// When it was received (RFC 3339).
    pub at: String,
    /// Its label.
    pub label: String,
    /// What triggered it.
    pub trigger: Trigger,
    /// Start of its window.
    pub from: String,
    /// End of its window (`None` while a manual recording is open).
    pub to: Option<String>,
}

impl EventLine {
    fn new(at: SystemTime, label: &str, trigger: Trigger, w: Window) -> Self {
        EventLine {
            at: crate::time::rfc3339(at),
            label: label.to_owned(),
            trigger,
            from: crate::time::rfc3339(ns_time(w.from)),
            to: (w.to != OPEN).then(|| crate::time::rfc3339(ns_time(w.to))),
        }
    }
}

/// Checks an event label: 1..=[`MAX_LABEL`] bytes, no control characters.
pub fn check_label(label: &str) -> Result<(), String> {
    if label.is_empty() || label.len() > MAX_LABEL {
        return Err(format!("label must be 1..={MAX_LABEL} bytes"));
    }
    if label.chars().any(char::is_control) {
        return Err("label must not hold control characters".into());
    }
    Ok(())
}

#[derive(Debug, Default)]
struct State {
    windows: Vec<Window>,
    /// The open manual recording: its label and window start.
    manual: Option<(String, u64)>,
    /// Lines for `events.jsonl` not written yet.
    lines: Vec<String>,
}

/// The events control handle (see the module docs): shared by the HTTP threads (which arm),
/// the mux thread (one atomic load per segment) and the writer (which reads the windows).
#[derive(Debug)]
pub struct Control {
    mode: RecordMode,
    pre: u32,
    post: u32,
    pre_limit: u32,
    state: Mutex<State>,
    /// End of the latest window, ns ([`OPEN`]: a manual recording runs; 0: never armed).
    armed_until: AtomicU64,
    wake: Weak<Shared>,
}

/// What `POST /api/events` armed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Armed {
    /// Start of the event's window.
    pub from: SystemTime,
    /// End of the event's window.
    pub to: SystemTime,
}

impl Control {
    /// A control for `[record]` `r` whose live ring holds `pre_limit` seconds; `wake` is the
    /// recorder it wakes.
    pub(crate) fn new(r: &RecordSettings, pre_limit: u32, wake: Weak<Shared>) -> Self {
        Control {
            mode: r.mode,
            pre: r.pre_seconds,
            post: r.post_seconds,
            pre_limit: pre_limit.max(r.pre_seconds),
            state: Mutex::new(State::default()),
            armed_until: AtomicU64::new(0),
            wake,
        }
    }

    /// A control that wakes nothing (tests, and a recorder-less check of the API).
    pub fn detached(r: &RecordSettings) -> Self {
        Control::new(r, r.pre_seconds, Weak::new())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `[record] pre_seconds`.
    pub fn pre_seconds(&self) -> u32 {
        self.pre
    }
    /// `[record] post_seconds`.
    pub fn post_seconds(&self) -> u32 {
        self.post
    }
    /// The largest `pre` one event may ask for: what the live ring holds.
    pub fn pre_limit(&self) -> u32 {
        self.pre_limit
    }
    /// The recording mode.
    pub fn mode(&self) -> RecordMode {
        self.mode
    }

    /// End of the latest armed window, ns since 1970 ([`OPEN`] while a manual recording runs,
    /// 0 before any): the mux thread's one read per segment.
    pub fn armed_until(&self) -> u64 {
        self.armed_until.load(Relaxed)
    }

    /// The armed windows (writer thread).
    pub fn windows(&self) -> Vec<Window> {
        self.lock().windows.clone()
    }

    /// Takes the event-log lines not written yet (writer thread).
    pub fn take_lines(&self) -> Vec<String> {
        std::mem::take(&mut self.lock().lines)
    }

    /// Puts back lines the writer could not write (they go before any newer ones).
    pub fn restore_lines(&self, mut lines: Vec<String>) {
        let mut s = self.lock();
        lines.append(&mut s.lines);
        let extra = lines.len().saturating_sub(MAX_LINES);
        if extra > 0 {
            log::warn!("record: {extra} event log lines dropped (the disk is missing)");
            lines.drain(..extra);
        }
        s.lines = lines;
    }

    fn arm(&self, s: &mut State, w: Window, now: SystemTime) {
        if self.mode != RecordMode::Events {
            return;
        }
        merge(&mut s.windows, w);
        let old = wall_ns(now).saturating_sub(KEEP_ENDED.as_nanos() as u64);
        s.windows.retain(|x| x.to >= old);
        let extra = s.windows.len().saturating_sub(MAX_WINDOWS);
        s.windows.drain(..extra);
        let until = s.windows.iter().map(|x| x.to).max().unwrap_or(0);
        self.armed_until.store(until, Relaxed);
    }

    fn log(&self, s: &mut State, line: &EventLine) {
        match serde_json::to_string(line) {
            Ok(l) => {
                s.lines.push(l);
                let extra = s.lines.len().saturating_sub(MAX_LINES);
                s.lines.drain(..extra);
            }
            Err(e) => log::warn!("record: event not logged: {e}"),
        }
        log::info!(
            "record: {} {:?} at {} ({} → {})",
            if line.trigger == Trigger::Event {
                "event"
            } else {
                "manual"
            },
            line.label,
            line.at,
            line.from,
            line.to.as_deref().unwrap_or("stop")
        );
    }

    fn wake(&self) {
        if let Some(sh) = self.wake.upgrade() {
            // Taking the queue lock orders this with the writer's check before it waits.
            drop(sh.lock());
            sh.cv.notify_all();
        }
    }

    /// An event `label` at `now` with `pre`/`post` seconds (the configured ones when `None`):
    /// arms its window (events mode) and logs it.
    pub fn event(
        &self,
        label: &str,
        pre: Option<u32>,
        post: Option<u32>,
        now: SystemTime,
    ) -> Armed {
        let t = wall_ns(now);
        let pre = u64::from(pre.unwrap_or(self.pre)) * 1_000_000_000;
        let post = u64::from(post.unwrap_or(self.post)) * 1_000_000_000;
        let w = Window {
            from: t.saturating_sub(pre),
            to: t.saturating_add(post),
        };
        let mut s = self.lock();
        self.arm(&mut s, w, now);
        self.log(&mut s, &EventLine::new(now, label, Trigger::Event, w));
        drop(s);
        self.wake();
        Armed {
            from: ns_time(w.from),
            to: ns_time(w.to),
        }
    }

    /// Starts a manual recording at `now` (with `pre_seconds` of pre-roll) until [`stop`];
    /// a second start while one runs changes nothing but is logged. Returns whether
    /// footage is being recorded.
    ///
    /// [`stop`]: Control::stop
    pub fn start(&self, label: &str, now: SystemTime) -> bool {
        let t = wall_ns(now);
        let w = Window {
            from: t.saturating_sub(u64::from(self.pre) * 1_000_000_000),
            to: OPEN,
        };
        let mut s = self.lock();
        let from = match &s.manual {
            Some((_, from)) => *from,
            None => {
                s.manual = Some((label.to_owned(), w.from));
                w.from
            }
        };
        self.arm(&mut s, w, now);
        let line = EventLine::new(now, label, Trigger::Manual, Window { from, to: OPEN });
        self.log(&mut s, &line);
        drop(s);
        self.wake();
        self.mode != RecordMode::Off
    }

    /// Stops a manual recording at `now`: its window ends there (events already armed past
    /// `now` still run). Returns whether footage after `now` is still being recorded.
    pub fn stop(&self, now: SystemTime) -> bool {
        let t = wall_ns(now);
        let mut s = self.lock();
        if let Some((label, from)) = s.manual.take() {
            if self.mode == RecordMode::Events {
                for w in s.windows.iter_mut().filter(|w| w.to == OPEN) {
                    w.to = t.max(w.from);
                }
                self.arm(&mut s, Window { from: t, to: t }, now);
            }
            let line = EventLine::new(now, &label, Trigger::Manual, Window { from, to: t });
            self.log(&mut s, &line);
        }
        drop(s);
        self.wake();
        self.recording(now)
    }

    /// Whether footage after `now` is being recorded (an armed window ends later).
    pub fn recording(&self, now: SystemTime) -> bool {
        match self.mode {
            RecordMode::Off => false,
            RecordMode::Continuous => true,
            RecordMode::Events => self.armed_until() > wall_ns(now),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Pts90k;

    const S: u64 = 1_000_000_000;

    fn w(from: u64, to: u64) -> Window {
        Window {
            from: from * S,
            to: to * S,
        }
    }

    fn seg(seq: u64, wall_s: u64) -> SegmentDone {
        SegmentDone {
            seq,
            start: Pts90k(seq * 180_000),
            duration: Pts90k(180_000),
            wall: UNIX_EPOCH + Duration::from_secs(wall_s),
            discontinuity: false,
            bytes: 188,
            map: 0,
        }
    }

    #[test]
    fn overlapping_and_touching_windows_merge_disjoint_ones_stay_sorted() {
        let mut v = Vec::new();
        merge(&mut v, w(100, 110));
        merge(&mut v, w(130, 140));
        merge(&mut v, w(50, 60));
        assert_eq!(v, vec![w(50, 60), w(100, 110), w(130, 140)]);
        // Overlapping the first: extends it.
        merge(&mut v, w(105, 115));
        assert_eq!(v, vec![w(50, 60), w(100, 115), w(130, 140)]);
        // Touching (115 = 115): merges; and bridging two windows makes one.
        merge(&mut v, w(115, 130));
        assert_eq!(v, vec![w(50, 60), w(100, 140)]);
        // Inside: nothing changes.
        merge(&mut v, w(120, 125));
        assert_eq!(v, vec![w(50, 60), w(100, 140)]);
        // An open window swallows everything it reaches.
        merge(
            &mut v,
            Window {
                from: 55 * S,
                to: OPEN,
            },
        );
        assert_eq!(
            v,
            vec![Window {
                from: 50 * S,
                to: OPEN
            }]
        );
    }

    #[test]
    fn control_merges_events_and_opens_and_closes_manual_recordings() {
        let r = RecordSettings {
            mode: RecordMode::Events,
            pre_seconds: 5,
            post_seconds: 10,
            ..RecordSettings::default()
        };
        let c = Control::detached(&r);
        let at = |s: u64| UNIX_EPOCH + Duration::from_secs(s);
        assert_eq!(c.armed_until(), 0);
        assert!(!c.recording(at(1000)));
        let a = c.event("door", None, None, at(1000));
        assert_eq!((a.from, a.to), (at(995), at(1010)));
        // Overlapping: one window to 1018.
        c.event("door", Some(2), Some(10), at(1008));
        assert_eq!(c.windows(), vec![w(995, 1018)]);
        assert_eq!(c.armed_until(), 1018 * S);
        assert!(c.recording(at(1017)) && !c.recording(at(1018)));
        // A manual start later: open; a stop closes it at the stop.
        assert!(c.start("manual", at(2000)));
        assert_eq!(c.armed_until(), OPEN);
        assert!(c.recording(at(2029)));
        assert!(!c.stop(at(2030)), "stopped: not recording");
        assert_eq!(c.windows(), vec![w(995, 1018), w(1995, 2030)]);
        assert!(!c.recording(at(2031)));
        let lines = c.take_lines();
        assert_eq!(lines.len(), 4);
        let first: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
        assert_eq!(
            first,
            serde_json::json!({"at": "1970-01-01T00:16:40.000Z", "label": "door",
                "trigger": "event", "from": "1970-01-01T00:16:35.000Z",
                "to": "1970-01-01T00:16:50.000Z"})
        );
        let start: serde_json::Value = serde_json::from_str(&lines[2]).unwrap();
        assert_eq!(start["trigger"], "manual");
        assert_eq!(start["to"], serde_json::Value::Null);
        let stop: serde_json::Value = serde_json::from_str(&lines[3]).unwrap();
        assert_eq!(stop["label"], "manual");
        assert_eq!(stop["from"], "1970-01-01T00:33:15.000Z");
        assert_eq!(stop["to"], "1970-01-01T00:33:50.000Z");
        assert!(c.take_lines().is_empty());

        // Continuous mode: logged, never arms.
        let cont = Control::detached(&RecordSettings {
            mode: RecordMode::Continuous,
            ..r
        });
        cont.event("door", None, None, at(1000));
        assert!(cont.windows().is_empty() && cont.recording(at(5)));
        assert_eq!(cont.take_lines().len(), 1);
    }

    #[test]
    fn preroll_takes_whole_segments_covering_t_minus_pre_that_were_not_queued() {
        // 2 s segments at wall 100, 102, … (seq 0..10); an event at 111.5 with pre 5 arms
        // [106.5, 121.5]: the segment holding 106.5 begins at 106 (seq 3).
        let recent: Vec<Recent> = (0..10)
            .map(|i| Recent {
                done: seg(i, 100 + 2 * i),
                queued: i == 9,
            })
            .collect();
        let win = [Window {
            from: 106 * S + S / 2,
            to: 121 * S + S / 2,
        }];
        let seqs = |v: Vec<SegmentDone>| v.iter().map(|d| d.seq).collect::<Vec<_>>();
        // Queued seg9 comes as a job; 0..=2 end before the window.
        assert_eq!(
            seqs(preroll(&recent, &win, None, 9)),
            vec![3, 4, 5, 6, 7, 8]
        );
        assert_eq!(
            seqs(preroll(&recent, &win, None, u64::MAX)),
            vec![3, 4, 5, 6, 7, 8]
        );
        // Already written up to 5: the rest only.
        assert_eq!(seqs(preroll(&recent, &win, Some(5), 9)), vec![6, 7, 8]);
        // A segment that ends exactly where a window begins is not in it; one that begins at
        // its end is.
        assert!(!due(&[w(10, 20)], 8 * S, 2 * S));
        assert!(due(&[w(10, 20)], 20 * S, 2 * S));
        assert!(!due(&[w(10, 20)], 20 * S + 1, 2 * S));
        // No window: nothing.
        assert!(preroll(&recent, &[], None, u64::MAX).is_empty());
        // Out of order in the ring (never happens, but the order is the sequence's).
        let mut rev = recent.clone();
        rev.reverse();
        assert_eq!(seqs(preroll(&rev, &win, Some(6), 9)), vec![7, 8]);
    }

    #[test]
    fn labels_are_checked() {
        assert!(check_label("door").is_ok());
        assert!(check_label("").is_err());
        assert!(check_label(&"x".repeat(65)).is_err());
        assert!(check_label("a\nb").is_err());
    }
}
