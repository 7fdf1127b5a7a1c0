//! Low-latency HLS delivery (RFC 8216bis §6.2.5): the playlist served from what the mux thread
//! published ([`LiveShared`]) with the delivery directives `_HLS_msn`, `_HLS_part` and
//! `_HLS_skip`, and requests for the part the preload hint names held until it is complete.
//!
//! Rules applied (§6.2.5.2, §6.2.6):
//! - `_HLS_msn=M[&_HLS_part=P]` is held until the playlist holds segment `M` (or part `P` of
//!   it), then answered at once; a held request is answered `503` after three target durations;
//!   `_HLS_msn` more than two segments past the last one, or a part beyond the Advance Part
//!   Limit, gets `400`, as do `_HLS_part` without `_HLS_msn` and values that are not decimal
//!   integers. Directives are ignored once the playlist has `EXT-X-ENDLIST`, and in classic mode.
//! - `_HLS_skip=YES` (or `v2`; there are no date ranges to skip) returns the delta update when
//!   one is offered, else the full playlist. Other query parameters (cache busters) are ignored.
//! - A part that is not on disk yet is held if it is the one the preload hint names, and
//!   answered `404` if it is neither published nor hinted.
//!
//! Caching: a response to a request with directives names only parts that stay fetchable for
//! another three target durations (they are deleted six target durations after leaving the
//! playlist), so it may be cached for three target durations (`max-age`); the plain playlist
//! is `no-cache`. Parts and segments are immutable (their names are never reused).

use super::routes::Reply;
use crate::hls::shared::{LiveShared, LlProgress, Published, Readiness};
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

/// The delivery directives of a playlist request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Directives {
    /// `_HLS_msn`.
    pub msn: Option<u64>,
    /// `_HLS_part`.
    pub part: Option<u32>,
    /// `_HLS_skip=YES` or `v2`.
    pub skip: bool,
}

fn decimal<T: std::str::FromStr>(v: &str) -> Result<T, &'static str> {
    if v.is_empty() || v.len() > 20 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err("delivery directive is not a decimal integer");
    }
    v.parse().map_err(|_| "delivery directive out of range")
}

impl Directives {
    /// Parses the query of a request target (the part after `?`, before `#`).
    pub fn parse(target: &str) -> Result<Directives, &'static str> {
        let mut d = Directives::default();
        let Some((_, query)) = target.split_once('?') else {
            return Ok(d);
        };
        let query = query.split('#').next().unwrap_or("");
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            match k {
                "_HLS_msn" => d.msn = Some(decimal(v)?),
                "_HLS_part" => d.part = Some(decimal(v)?),
                "_HLS_skip" => match v {
                    "YES" | "v2" => d.skip = true,
                    _ => return Err("_HLS_skip is neither YES nor v2"),
                },
                _ => {}
            }
        }
        if d.part.is_some() && d.msn.is_none() {
            return Err("_HLS_part without _HLS_msn");
        }
        Ok(d)
    }
}

/// What to do with a playlist request.
#[derive(Debug)]
pub enum PlaylistAnswer {
    /// Nothing published yet: serve the playlist file (or 404).
    NotPublished,
    /// The playlist text, and the `Cache-Control` value.
    Text(Vec<u8>, String),
    /// A status with a short text (400, 503).
    Status(u16, &'static str),
}

fn three_targets(ll: &LlProgress) -> Duration {
    Duration::from_micros(ll.target.0.saturating_mul(3).saturating_mul(1000) / 90)
}

/// How long a blocking request made before the output's first publication waits for it.
const FIRST_PUBLICATION: Duration = Duration::from_secs(3);

/// Answers a playlist request with directives `d`, holding it while the stream has not reached
/// what it asks for. `stop` ends a hold when the server shuts down (then 503).
pub fn playlist(live: &LiveShared, d: Directives, stop: &AtomicBool) -> PlaylistAnswer {
    let text = |p: &Published| {
        if d.skip && !p.delta.is_empty() {
            p.delta.clone()
        } else {
            p.full.clone()
        }
    };
    let plain = || "no-cache".to_owned();
    if d.msn.is_some() {
        // A blocking request while the output is still starting (the file on disk may be a
        // previous run's): wait for the first publication, then judge it against that.
        let first = Instant::now() + FIRST_PUBLICATION;
        live.wait_for(first, stop, |p| (p.generation > 0).then_some(()));
    }
    let ll = {
        let p = live.lock();
        if p.generation == 0 {
            return PlaylistAnswer::NotPublished;
        }
        match (d.msn, p.ll, p.ended) {
            (Some(_), Some(ll), false) => ll,
            _ => return PlaylistAnswer::Text(text(&p), plain()),
        }
    };
    let msn = d.msn.unwrap_or(0);
    let hold = three_targets(&ll);
    let cache = format!("public, max-age={}", hold.as_secs().max(1));
    let answer = live.wait_for(Instant::now() + hold, stop, |p| {
        let ready = match p.ll {
            None => Readiness::Ready,
            Some(_) if p.ended => Readiness::Ready,
            Some(ll) => ll.playlist(msn, d.part),
        };
        match ready {
            Readiness::Ready => Some(PlaylistAnswer::Text(text(p), cache.clone())),
            Readiness::TooFar => Some(PlaylistAnswer::Status(
                400,
                "_HLS_msn/_HLS_part too far ahead of the stream\n",
            )),
            Readiness::Wait => None,
        }
    });
    answer.unwrap_or(PlaylistAnswer::Status(
        503,
        "the requested part did not appear in time\n",
    ))
}

/// For a part that is not on disk: waits while it is the one the preload hint names. Returns
/// whether it was published meanwhile (then the caller opens it again), or the reply to send.
pub fn hold_part(live: &LiveShared, seq: u64, part: u32, stop: &AtomicBool) -> Result<(), Reply> {
    let not_found = || Reply::text(404, "not found\n");
    let ll = {
        let p = live.lock();
        match p.ll {
            Some(ll) if !p.ended => ll,
            _ => return Err(not_found()),
        }
    };
    if ll.part(seq, part) != Readiness::Wait {
        return Err(not_found());
    }
    let deadline = Instant::now() + three_targets(&ll);
    match live.wait_for(deadline, stop, |p| match p.ll {
        Some(ll) => match ll.part(seq, part) {
            Readiness::Wait if !p.ended => None,
            Readiness::Ready => Some(true),
            _ => Some(false),
        },
        None => Some(false),
    }) {
        Some(true) => Ok(()),
        Some(false) => Err(not_found()),
        None => Err(Reply::text(503, "the hinted part did not appear in time\n")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{Pts90k, HZ_90K};
    use std::sync::Arc;

    #[test]
    fn directives() {
        let p = Directives::parse;
        assert_eq!(p("/live.m3u8"), Ok(Directives::default()));
        assert_eq!(
            p("/live.m3u8?_HLS_msn=12&_HLS_part=3&_HLS_skip=YES&t=99"),
            Ok(Directives {
                msn: Some(12),
                part: Some(3),
                skip: true
            })
        );
        assert_eq!(p("/live.m3u8?_HLS_skip=v2").map(|d| d.skip), Ok(true));
        for bad in [
            "/live.m3u8?_HLS_part=1",
            "/live.m3u8?_HLS_msn=-1",
            "/live.m3u8?_HLS_msn=1x",
            "/live.m3u8?_HLS_msn=",
            "/live.m3u8?_HLS_msn=1&_HLS_part=99999999999",
            "/live.m3u8?_HLS_msn=99999999999999999999999",
            "/live.m3u8?_HLS_skip=NO",
        ] {
            assert!(p(bad).is_err(), "{bad}");
        }
    }

    fn progress(open_seq: u64, open_parts: u32) -> LlProgress {
        LlProgress {
            target: Pts90k(HZ_90K),
            part_target: Pts90k::from_millis(205),
            open_seq,
            open_parts,
            last_parts: 5,
        }
    }

    #[test]
    fn held_until_published_then_too_far_and_timeout() {
        let live = LiveShared::new();
        let stop = AtomicBool::new(false);
        assert!(matches!(
            playlist(&live, Directives::default(), &stop),
            PlaylistAnswer::NotPublished
        ));
        live.publish(b"v1", b"", Some(progress(3, 1)), false);
        let l2 = live.clone();
        let t0 = Instant::now();
        let pub_thread = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            let at = Instant::now();
            l2.publish(b"v2", b"", Some(progress(3, 2)), false);
            at
        });
        let d = Directives {
            msn: Some(3),
            part: Some(1),
            skip: false,
        };
        let a = playlist(&live, d, &stop);
        let answered = Instant::now();
        let published = pub_thread.join().unwrap();
        match a {
            PlaylistAnswer::Text(t, cache) => {
                assert_eq!(t, b"v2");
                assert_eq!(cache, "public, max-age=3");
            }
            other => panic!("{other:?}"),
        }
        // Held until the publication, not answered before it.
        assert!(answered >= published && answered - t0 >= Duration::from_millis(100));
        let far = Directives { msn: Some(9), ..d };
        assert!(matches!(
            playlist(&live, far, &stop),
            PlaylistAnswer::Status(400, _)
        ));
        // Nothing more is published: 503 after 3 target durations (3 s here).
        let t0 = Instant::now();
        let late = Directives {
            msn: Some(4),
            part: None,
            skip: false,
        };
        assert!(matches!(
            playlist(&live, late, &stop),
            PlaylistAnswer::Status(503, _)
        ));
        assert!(t0.elapsed() >= Duration::from_secs(3));
        // The hinted part is held; others are 404 at once.
        assert!(hold_part(&live, 3, 5, &stop).is_err_and(|r| r.status == 404));
        let l3: Arc<LiveShared> = live.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            l3.publish(b"v3", b"", Some(progress(3, 3)), false);
        });
        assert!(hold_part(&live, 3, 2, &stop).is_ok());
        t.join().unwrap();
        // Once ended, directives are ignored.
        live.publish(b"end", b"", Some(progress(4, 0)), true);
        match playlist(&live, late, &stop) {
            PlaylistAnswer::Text(t, c) => assert_eq!((&t[..], &c[..]), (&b"end"[..], "no-cache")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn blocking_request_before_the_first_publication_waits_for_it() {
        let live = LiveShared::new();
        let stop = AtomicBool::new(false);
        let l2 = live.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            l2.publish(b"first", b"", Some(progress(3, 1)), false);
        });
        let d = Directives {
            msn: Some(3),
            part: Some(0),
            skip: false,
        };
        match playlist(&live, d, &stop) {
            PlaylistAnswer::Text(t, cache) => {
                assert_eq!((&t[..], &cache[..]), (&b"first"[..], "public, max-age=3"))
            }
            other => panic!("{other:?}"),
        }
        t.join().unwrap();
    }
}
