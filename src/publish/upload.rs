//! The upload thread of one target: takes queued segments in order, writes them (after their
//! fMP4 init segment), then the playlist of what the origin acknowledged, and deletes retired
//! segments when their retention is over. Failures are retried with exponential backoff and
//! jitter; a segment is given up once it has left the local window (newer ones are waiting),
//! and at the end of a run after [`CLOSING_ATTEMPTS`].

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::origin::Origin;
use super::remote::{ObjectKind, Remote, RemoteError, MEDIA_CACHE, PLAYLIST_CACHE};
use super::{PublishSetup, RateLimit, SegBuf, Shared};
use crate::hls::playlist::PlaylistBuf;
use crate::hls::ring::SegmentEntry;
use crate::hls::store::PLAYLIST_NAME;
use crate::hls::Container;

/// First retry delay; doubled per consecutive failure up to [`BACKOFF_MAX`].
pub const BACKOFF_MIN: Duration = Duration::from_millis(250);
/// Longest retry delay.
pub const BACKOFF_MAX: Duration = Duration::from_secs(4);
/// Attempts per object once the run is over.
pub const CLOSING_ATTEMPTS: u32 = 2;
/// Content type of the playlist.
const PLAYLIST: ObjectKind = ObjectKind {
    content_type: "application/vnd.apple.mpegurl",
    cache_control: PLAYLIST_CACHE,
};

/// Why a segment could not be written.
enum Fail {
    /// The origin failed: retry.
    Remote(&'static str, RemoteError),
    /// Its init segment is gone (replaced by a newer one): skip it.
    NoInit(u32),
}

pub(crate) struct Uploader {
    shared: Arc<Shared>,
    remote: Box<dyn Remote>,
    origin: Origin,
    container: Container,
    window: u64,
    playlist: Box<PlaylistBuf>,
    init: Vec<u8>,
    /// Publication times of acknowledged segments the origin playlist does not list yet.
    waiting_lag: Vec<Instant>,
    playlist_dirty: bool,
    failures: u32,
    rng: u64,
    log: RateLimit,
}

impl Uploader {
    pub fn new(shared: Arc<Shared>, remote: Box<dyn Remote>, s: &PublishSetup) -> Uploader {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64)
            ^ u64::from(std::process::id()) << 32;
        Uploader {
            shared,
            remote,
            origin: Origin::new(s.target_secs, s.window, s.container),
            container: s.container,
            window: s.window as u64,
            playlist: Box::new(PlaylistBuf::new()),
            init: Vec::with_capacity(super::INIT_CAP),
            waiting_lag: Vec::with_capacity(super::SLOTS * 2),
            playlist_dirty: false,
            failures: 0,
            rng: seed | 1,
            log: RateLimit::default(),
        }
    }

    fn target(&self) -> &str {
        &self.shared.status.target
    }

    /// Reads the playlist an earlier process left on the origin, to continue its numbers.
    fn resync(&mut self) {
        let mut text = Vec::new();
        match self.remote.get(PLAYLIST_NAME, &mut text) {
            Ok(true) => {
                let text = String::from_utf8_lossy(&text);
                self.origin.resync(&text, Instant::now());
                log::info!(
                    "publish {}: continuing after the origin's existing playlist",
                    self.target()
                );
            }
            Ok(false) => {}
            Err(e) => log::warn!(
                "publish {}: could not read the origin's playlist ({e}); starting afresh",
                self.target()
            ),
        }
        self.count_bytes();
    }

    fn count_bytes(&self) {
        self.shared
            .status
            .bytes_sent
            .store(self.remote.bytes_sent(), Relaxed);
    }

    /// Exponential backoff with jitter: half the delay fixed, half random.
    fn backoff(&mut self) -> Duration {
        let exp = BACKOFF_MIN.saturating_mul(1 << self.failures.min(5).saturating_sub(1));
        let d = exp.min(BACKOFF_MAX);
        // xorshift64
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let half = d.as_millis() as u64 / 2;
        Duration::from_millis(half + self.rng % (half + 1))
    }

    fn failed(&mut self, what: &str, name: &str, e: &RemoteError) -> Duration {
        self.failures += 1;
        let st = &self.shared.status;
        st.failed.fetch_add(1, Relaxed);
        st.set_error(&format!("{what} {name}: {e}"));
        let wait = self.backoff();
        if let Some(held) = self.log.allow(Instant::now()) {
            log::warn!(
                "publish {}: {what} {name}: {e}; retrying in {} ms ({} failures in a row{})",
                self.target(),
                wait.as_millis(),
                self.failures,
                if held > 0 {
                    format!(", {held} lines held back")
                } else {
                    String::new()
                }
            );
        }
        wait
    }

    fn succeeded(&mut self) {
        if self.failures > 0 {
            log::info!(
                "publish {}: origin answering again after {} failed requests",
                self.target(),
                self.failures
            );
            self.failures = 0;
        }
        self.shared.status.uploaded.fetch_add(1, Relaxed);
        self.count_bytes();
    }

    /// Writes the init segment `job` needs (fMP4) and the segment itself, and lists it.
    fn upload(&mut self, job: &SegBuf) -> Result<(), Fail> {
        let d = &job.done;
        if self.container == Container::Fmp4 && self.origin.init_acked != Some(d.map) {
            {
                let slot = self.shared.init.lock().unwrap_or_else(|e| e.into_inner());
                if slot.gen != Some(d.map) {
                    return Err(Fail::NoInit(d.map));
                }
                self.init.clear();
                self.init.extend_from_slice(&slot.bytes);
            }
            let name = format!("init{}.mp4", d.map);
            let kind = ObjectKind {
                content_type: "video/mp4",
                cache_control: MEDIA_CACHE,
            };
            self.remote
                .put(&name, kind, &self.init)
                .map_err(|e| Fail::Remote("PUT", e))?;
            self.origin.init_acked = Some(d.map);
            self.succeeded();
        }
        let name = self.origin.segment_name(d.seq);
        let kind = ObjectKind {
            content_type: self.container.content_type(),
            cache_control: MEDIA_CACHE,
        };
        self.remote
            .put(&name, kind, &job.data)
            .map_err(|e| Fail::Remote("PUT", e))?;
        self.succeeded();
        let st = &self.shared.status;
        st.media_bytes.fetch_add(job.data.len() as u64, Relaxed);
        self.origin.append(
            SegmentEntry {
                seq: d.seq,
                duration: d.duration,
                pdt: d.wall,
                discontinuity: d.discontinuity,
                map: d.map,
            },
            Instant::now(),
        );
        self.waiting_lag.push(job.done_at);
        self.playlist_dirty = true;
        Ok(())
    }

    fn put_playlist(&mut self, endlist: bool) -> Result<(), RemoteError> {
        self.origin.render(&mut self.playlist, endlist);
        self.remote
            .put(PLAYLIST_NAME, PLAYLIST, self.playlist.as_bytes())?;
        self.succeeded();
        self.playlist_dirty = false;
        let now = Instant::now();
        for t in self.waiting_lag.drain(..) {
            self.shared.status.record_lag(now.duration_since(t));
        }
        Ok(())
    }

    /// At the end of a run, retries come quickly (the run waits at most [`super::DRAIN`]).
    fn closing_wait(closing: bool, wait: Duration) -> Duration {
        if closing {
            wait.min(Duration::from_millis(200))
        } else {
            wait
        }
    }

    fn release(&self, job: SegBuf) {
        self.shared.lock().free.push(job);
    }

    pub fn run(mut self) {
        self.resync();
        let mut current: Option<(SegBuf, u32)> = None;
        let mut retry_at: Option<Instant> = None;
        let end_of_stream = loop {
            // Wait for work: a segment, a playlist to write, a deletion due, or the end.
            let (closing, newest) = {
                let mut q = self.shared.lock();
                loop {
                    if current.is_none() {
                        if let Some(j) = q.jobs.pop_front() {
                            current = Some((j, 0));
                            self.shared
                                .status
                                .queue_depth
                                .store(q.jobs.len() as u64, Relaxed);
                        }
                    }
                    let now = Instant::now();
                    if q.closed && current.is_none() && q.jobs.is_empty() && !self.playlist_dirty {
                        break;
                    }
                    let ready = retry_at.map_or(true, |t| t <= now);
                    let due = self.origin.next_due().is_some_and(|d| d <= now) && !q.closed;
                    if ready && (current.is_some() || self.playlist_dirty || due) {
                        break;
                    }
                    let mut wake = now + Duration::from_secs(1);
                    for t in [retry_at, self.origin.next_due()].into_iter().flatten() {
                        wake = wake.min(t.max(now + Duration::from_millis(1)));
                    }
                    q = self
                        .shared
                        .cv
                        .wait_timeout(q, wake - now)
                        .unwrap_or_else(|e| e.into_inner())
                        .0;
                }
                if q.closed && current.is_none() && q.jobs.is_empty() && !self.playlist_dirty {
                    break q.end_of_stream;
                }
                (q.closed, q.newest)
            };
            retry_at = None;
            if let Some((job, attempts)) = current.take() {
                self.shared.status.lag_ms.store(
                    job.done_at.elapsed().as_millis().min(u64::MAX as u128) as u64,
                    Relaxed,
                );
                match self.upload(&job) {
                    Ok(()) => self.release(job),
                    Err(Fail::NoInit(g)) => {
                        self.shared.status.skipped.fetch_add(1, Relaxed);
                        log::warn!(
                            "publish {}: seg{} skipped: its init{g}.mp4 was replaced before it \
                             could be written",
                            self.target(),
                            job.done.seq
                        );
                        self.release(job);
                    }
                    Err(Fail::Remote(what, e)) => {
                        let name = self.origin.segment_name(job.done.seq);
                        let wait = self.failed(what, &name, &e);
                        let stale = newest.saturating_sub(job.done.seq) >= self.window;
                        if stale || (closing && attempts + 1 >= CLOSING_ATTEMPTS) {
                            self.shared.status.skipped.fetch_add(1, Relaxed);
                            self.release(job);
                        } else {
                            current = Some((job, attempts + 1));
                        }
                        retry_at = Some(Instant::now() + Self::closing_wait(closing, wait));
                        continue;
                    }
                }
            }
            if self.playlist_dirty {
                if let Err(e) = self.put_playlist(false) {
                    let wait = self.failed("PUT", PLAYLIST_NAME, &e);
                    retry_at = Some(Instant::now() + Self::closing_wait(closing, wait));
                    if closing && self.failures >= CLOSING_ATTEMPTS {
                        self.playlist_dirty = false;
                    }
                    continue;
                }
            }
            // Deletions that are due, while nothing else waits.
            let now = Instant::now();
            while let Some(r) = self.origin.due(now) {
                match self.remote.delete(&r.name) {
                    Ok(()) => {
                        self.shared.status.deleted.fetch_add(1, Relaxed);
                        self.count_bytes();
                        self.failures = 0;
                    }
                    Err(e) => {
                        let wait = self.failed("DELETE", &r.name, &e);
                        self.origin.retry_delete(r, wait);
                        retry_at = Some(Instant::now() + wait);
                        break;
                    }
                }
                if !self.shared.lock().jobs.is_empty() {
                    break;
                }
            }
        };
        if end_of_stream && !self.origin.is_empty() {
            for _ in 0..CLOSING_ATTEMPTS {
                match self.put_playlist(true) {
                    Ok(()) => break,
                    Err(e) => {
                        let wait = self.failed("PUT", PLAYLIST_NAME, &e);
                        std::thread::sleep(Self::closing_wait(true, wait));
                    }
                }
            }
        }
        if self.origin.forgotten > 0 {
            log::warn!(
                "publish {}: {} retired objects were never deleted (too many pending)",
                self.target(),
                self.origin.forgotten
            );
        }
        self.shared.lock().finished = true;
        self.shared.cv.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::super::{PublishSetup, Publisher, TargetStatus};
    use super::*;
    use crate::hls::consumer::{Consumer, SegmentDone, SegmentStart};
    use crate::time::Pts90k;
    use std::sync::Mutex;
    use std::time::UNIX_EPOCH;

    /// Records every request; fails the requests numbered in `fail`.
    struct Fake {
        log: Arc<Mutex<Vec<String>>>,
        /// name → body, what the origin holds.
        objects: Arc<Mutex<std::collections::BTreeMap<String, Vec<u8>>>>,
        fail: Vec<usize>,
        n: usize,
        /// While set, every request fails (connection refused, say).
        down: Option<Arc<std::sync::atomic::AtomicBool>>,
    }

    impl Remote for Fake {
        fn put(&mut self, name: &str, kind: ObjectKind, body: &[u8]) -> Result<(), RemoteError> {
            self.n += 1;
            let down = self.down.as_ref().is_some_and(|d| d.load(Relaxed));
            if down || self.fail.contains(&self.n) {
                return Err(RemoteError::Status(503));
            }
            if name == PLAYLIST_NAME {
                // The playlist names only objects the origin already has.
                let objects = self.objects.lock().unwrap();
                let text = std::str::from_utf8(body).unwrap();
                for l in text.lines() {
                    let uri = l
                        .strip_prefix("#EXT-X-MAP:URI=\"")
                        .map(|r| r.trim_end_matches('"'))
                        .or((!l.starts_with('#')).then_some(l));
                    if let Some(u) = uri {
                        assert!(objects.contains_key(u), "{u} named before it was written");
                    }
                }
            }
            self.log
                .lock()
                .unwrap()
                .push(format!("PUT {name} {}", kind.content_type));
            self.objects
                .lock()
                .unwrap()
                .insert(name.to_owned(), body.to_vec());
            Ok(())
        }
        fn delete(&mut self, name: &str) -> Result<(), RemoteError> {
            self.log.lock().unwrap().push(format!("DELETE {name}"));
            self.objects.lock().unwrap().remove(name);
            Ok(())
        }
        fn get(&mut self, _: &str, _: &mut Vec<u8>) -> Result<bool, RemoteError> {
            Ok(false)
        }
        fn bytes_sent(&self) -> u64 {
            0
        }
    }

    fn segment(p: &mut Publisher, seq: u64, map: u32) {
        let wall = UNIX_EPOCH + Duration::from_secs(1_767_225_600 + seq);
        p.begin_segment(&SegmentStart {
            seq,
            pts: Pts90k(seq * 90_000),
            wall,
            discontinuity: false,
            map,
        });
        let body = [seq as u8; 1000];
        p.data(&body[..600]);
        p.data(&body[600..]);
        p.segment(&SegmentDone {
            seq,
            start: Pts90k(seq * 90_000),
            duration: Pts90k(90_000),
            wall,
            discontinuity: false,
            bytes: 1000,
            map,
        });
    }

    #[test]
    fn init_then_segment_then_playlist_and_retries_after_failures() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let objects = Arc::new(Mutex::new(std::collections::BTreeMap::new()));
        let fake = Fake {
            log: log.clone(),
            objects: objects.clone(),
            // The first segment's PUT and a later playlist fail once.
            fail: vec![2, 5],
            n: 0,
            down: None,
        };
        let setup = PublishSetup {
            target_secs: 1,
            window: 6,
            container: Container::Fmp4,
            segment_cap: 4096,
        };
        let status = Arc::new(TargetStatus::new("http", "fake".into()));
        let mut p = Publisher::new(Box::new(fake), &setup, status.clone());
        p.init(0, b"\0\0\0\x08ftyp");
        for seq in 0..3 {
            segment(&mut p, seq, 0);
            std::thread::sleep(Duration::from_millis(600));
        }
        p.finish(true);
        drop(p);
        let log = log.lock().unwrap();
        assert_eq!(
            log[..4],
            [
                "PUT init0.mp4 video/mp4",
                "PUT seg0.m4s video/iso.segment",
                "PUT live.m3u8 application/vnd.apple.mpegurl",
                "PUT seg1.m4s video/iso.segment",
            ],
            "{log:?}"
        );
        assert_eq!(status.failed.load(Relaxed), 2);
        assert_eq!(status.skipped.load(Relaxed), 0);
        let objects = objects.lock().unwrap();
        let pl = std::str::from_utf8(&objects[PLAYLIST_NAME]).unwrap();
        assert!(pl.contains("#EXT-X-MAP:URI=\"init0.mp4\"\n"), "{pl}");
        assert!(pl.ends_with("seg2.m4s\n#EXT-X-ENDLIST\n"), "{pl}");
        assert_eq!(objects["seg1.m4s"], vec![1u8; 1000]);
        assert!(status.lag.count() == 3, "one lag figure per segment");
    }

    #[test]
    fn a_full_queue_drops_the_oldest_and_the_origin_marks_the_gap() {
        let log = Arc::new(Mutex::new(Vec::new()));
        let objects = Arc::new(Mutex::new(std::collections::BTreeMap::new()));
        let down = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let fake = Fake {
            log: log.clone(),
            objects: objects.clone(),
            fail: Vec::new(),
            n: 0,
            down: Some(down.clone()),
        };
        let setup = PublishSetup {
            target_secs: 1,
            window: 6,
            container: Container::Ts,
            segment_cap: 4096,
        };
        let status = Arc::new(TargetStatus::new("http", "fake".into()));
        let mut p = Publisher::new(Box::new(fake), &setup, status.clone());
        for seq in 0..3 {
            segment(&mut p, seq, 0);
            std::thread::sleep(Duration::from_millis(100));
        }
        // The origin goes away while 8 segments come: the queue (2 waiting) drops the oldest.
        down.store(true, Relaxed);
        for seq in 3..11 {
            segment(&mut p, seq, 0);
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(500));
        let uploaded = status.uploaded.load(Relaxed);
        down.store(false, Relaxed);
        let until = Instant::now() + Duration::from_secs(10);
        while status.uploaded.load(Relaxed) == uploaded && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(20));
        }
        for seq in 11..13 {
            segment(&mut p, seq, 0);
            std::thread::sleep(Duration::from_millis(100));
        }
        p.finish(true);
        drop(p);
        assert!(status.failed.load(Relaxed) > 0);
        assert!(status.skipped.load(Relaxed) >= 4, "{status:?}");
        let objects = objects.lock().unwrap();
        let pl = std::str::from_utf8(&objects[PLAYLIST_NAME]).unwrap();
        let uris: Vec<&str> = pl.lines().filter(|l| !l.starts_with('#')).collect();
        assert!(uris.ends_with(&["seg11.ts", "seg12.ts"]), "{pl}");
        assert!(
            uris.len() == 6 && uris.contains(&"seg2.ts"),
            "a full window: {pl}"
        );
        // The gap after seg2 is marked, and the origin numbers its own list consecutively.
        let after = pl.lines().skip_while(|l| *l != "seg2.ts").nth(1).unwrap();
        assert_eq!(after, "#EXT-X-DISCONTINUITY", "{pl}");
        let appended = log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.starts_with("PUT seg"))
            .count();
        let media_seq = format!("#EXT-X-MEDIA-SEQUENCE:{}\n", appended - 6);
        assert!(pl.contains(&media_seq), "{media_seq} in {pl}");
        // Only objects it wrote are named (the fake checks every playlist it is sent).
    }
}
