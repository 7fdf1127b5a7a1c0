//! The recordings API and VOD playback over HTTP (issue 13 "Playback"), read from the
//! recordings directory through [`crate::record::catalog`]. Every route answers 404 when
//! `[record]` is off ([`Ctx::record`] is `None`).
//!
//! | route | answer |
//! | --- | --- |
//! | `GET /api/recordings?from=&to=` | spans (one per chunk), gaps and events of the range (default: the last 24 h), JSON |
//! | `GET /api/recordings/days` | recorded bytes and seconds per UTC day, JSON |
//! | `GET /api/storage` | the disk: used, free, oldest, newest, rate, days left, last error, JSON |
//! | `POST`, `DELETE /api/recordings/{id}/lock` | sets or removes a chunk's lock marker, JSON |
//! | `GET /vod/{from}/{to}/index.m3u8` | a VOD playlist of the range (`EVENT` while it grows) |
//! | `GET /rec/{chunk}.ts` | a chunk file: `Range`/206/416, `ETag`, `If-None-Match`/304 |
//! | `GET /api/clip.mp4?from=&to=` | the range as one MP4 file ([`super::clip`]) |
//!
//! Times in queries and paths are what [`parse_api_time`] reads (RFC 3339 UTC, Unix seconds,
//! `now`); a bad one gets 400 with its message. `%XX` escapes are decoded in query values
//! only: the path of a VOD playlist must carry its times literally (`:` is allowed in a path)
//! or as Unix seconds, since the router refuses percent signs in paths. Chunk names and ids
//! pass [`is_chunk_name`] / [`is_chunk_id`] before they are joined to the directory.
//!
//! VOD playlists (DESIGN §2 items 9–11, 14, 19): `EXT-X-VERSION:4` (byte ranges),
//! `EXT-X-TARGETDURATION` the ceiling of the longest `EXTINF`, `EXT-X-INDEPENDENT-SEGMENTS`,
//! `EXT-X-PROGRAM-DATE-TIME` on every segment, `EXTINF` in milliseconds rounded so that the
//! running sums never drift ([`catalog::extinf_ms`]), `EXT-X-BYTERANGE` into `/rec/<chunk>.ts`,
//! `EXT-X-DISCONTINUITY` before every segment that does not continue the one before
//! ([`catalog::breaks`]). `PLAYLIST-TYPE:VOD` with `ENDLIST`; `EVENT` without `ENDLIST` when
//! `to` is now or later and the last segment is in the chunk being written (a player reloads
//! it and sees it grow).
//!
//! Chunk files: `video/mp2t`, a strong `ETag` from inode, size and modification time (a chunk
//! that grows gets a new tag with every write, so `If-None-Match` never answers 304 for bytes
//! the client has not seen), `Cache-Control: no-cache` while the chunk grows, one hour once
//! closed (retention may delete it; a repair after a crash may cut its tail).

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::request::{Head, Method};
use super::routes::{file_reply, json_reply, playlist_reply, Ctx, Reply};
use crate::record::catalog::{self, wall, Loaded};
use crate::record::chunk::{is_chunk_id, is_chunk_name, CHUNK_EXT};
use crate::record::retention::{statvfs, Fs};
use crate::record::{RecordAccess, RecordSetup};
use crate::time::{parse_api_time, rfc3339};

/// Default length of the `/api/recordings` range.
pub const DEFAULT_RANGE: Duration = Duration::from_secs(24 * 3600);
const CACHE_GROWING: &str = "no-cache";
const CACHE_CLOSED: &str = "public, max-age=3600";
const CT_TS: &str = "video/mp2t";

/// A recordings route (names already checked).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecRoute<'a> {
    /// `/api/recordings`
    List,
    /// `/api/recordings/days`
    Days,
    /// `/api/storage`
    Storage,
    /// `/api/recordings/{id}/lock`: the chunk id.
    Lock(&'a str),
    /// `/vod/{from}/{to}/index.m3u8`: the two times as sent.
    Vod(&'a str, &'a str),
    /// `/rec/{chunk}.ts`: the chunk's file name.
    Chunk(&'a str),
    /// `/api/clip.mp4` ([`super::clip`]).
    Clip,
}

/// The recordings route a path (no query) names, if any.
pub fn classify(path: &str) -> Option<RecRoute<'_>> {
    match path {
        "/api/recordings" => return Some(RecRoute::List),
        "/api/recordings/days" => return Some(RecRoute::Days),
        "/api/storage" => return Some(RecRoute::Storage),
        "/api/clip.mp4" => return Some(RecRoute::Clip),
        _ => {}
    }
    if let Some(id) = path
        .strip_prefix("/api/recordings/")
        .and_then(|r| r.strip_suffix("/lock"))
    {
        return is_chunk_id(id).then_some(RecRoute::Lock(id));
    }
    if let Some(times) = path
        .strip_prefix("/vod/")
        .and_then(|r| r.strip_suffix("/index.m3u8"))
    {
        let (from, to) = times.split_once('/')?;
        return (!from.is_empty() && !to.is_empty() && !to.contains('/'))
            .then_some(RecRoute::Vod(from, to));
    }
    let name = path.strip_prefix("/rec/")?;
    is_chunk_name(name).then_some(RecRoute::Chunk(name))
}

/// The reply to a recordings request.
pub fn respond(head: &Head<'_>, route: RecRoute<'_>, ctx: Ctx<'_>) -> Reply {
    let Some(rec) = ctx.record else {
        return Reply::text(404, "recording is off\n");
    };
    let read = matches!(head.method, Method::Get | Method::Head);
    let dir = rec.settings.dir.as_path();
    let now = SystemTime::now();
    match route {
        RecRoute::Lock(id) => match head.method {
            Method::Post => lock(dir, id, true),
            Method::Delete => lock(dir, id, false),
            _ => Reply::method_not_allowed(),
        },
        _ if !read => Reply::method_not_allowed(),
        RecRoute::List => match range(head.target, now) {
            Ok((from, to)) => list(rec, from, to),
            Err(msg) => Reply::message(400, msg).cors(),
        },
        RecRoute::Days => days(dir),
        RecRoute::Storage => storage(rec),
        RecRoute::Vod(from, to) => match (parse_api_time(from, now), parse_api_time(to, now)) {
            (Ok(f), Ok(t)) if f <= t => vod(head, rec, f, t, t >= now),
            (Ok(_), Ok(_)) => Reply::message(400, format!("{from:?} is after {to:?}\n")).cors(),
            (Err(e), _) | (_, Err(e)) => Reply::message(400, format!("{e}\n")).cors(),
        },
        RecRoute::Chunk(name) => chunk(head, rec, name),
        RecRoute::Clip => super::clip::respond(head.target, rec, now),
    }
}

/// Decodes `%XX` escapes (and nothing else) of a query value.
fn unescape(v: &str) -> String {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        match (
            b[i],
            b.get(i + 1).copied().and_then(hex),
            b.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, ..) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The value of query parameter `key` of `target`, unescaped.
pub(super) fn query_param(target: &str, key: &str) -> Option<String> {
    let (_, q) = target.split_once('?')?;
    q.split('#')
        .next()?
        .split('&')
        .filter_map(|p| p.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| unescape(v))
}

/// `from` and `to` of a query: `to` defaults to now, `from` to [`DEFAULT_RANGE`] before `to`.
pub(super) fn range(target: &str, now: SystemTime) -> Result<(SystemTime, SystemTime), String> {
    let get = |k: &str| {
        query_param(target, k)
            .filter(|v| !v.is_empty())
            .map(|v| parse_api_time(&v, now).map_err(|e| format!("{k}: {e}\n")))
            .transpose()
    };
    let to = get("to")?.unwrap_or(now);
    let from = get("from")?.unwrap_or_else(|| to.checked_sub(DEFAULT_RANGE).unwrap_or(UNIX_EPOCH));
    if from > to {
        return Err("from is after to\n".into());
    }
    Ok((from, to))
}

fn io_error(what: &str, e: &std::io::Error) -> Reply {
    log::warn!("http: recordings: {what}: {e}");
    Reply::text(500, "cannot read the recordings directory\n").cors()
}

#[derive(Serialize)]
struct Span {
    id: String,
    start: String,
    end: String,
    bytes: u64,
    trigger: &'static str,
    locked: bool,
    growing: bool,
    unsynced: bool,
}

#[derive(Serialize)]
struct Gap {
    start: String,
    end: String,
}

#[derive(Serialize)]
struct Event {
    at: String,
    label: String,
    trigger: String,
}

#[derive(Serialize)]
struct List {
    from: String,
    to: String,
    spans: Vec<Span>,
    gaps: Vec<Gap>,
    events: Vec<Event>,
}

/// The chunks that may overlap `[from, to]` (the one being written marked).
pub(super) fn load(
    rec: &RecordAccess,
    from: SystemTime,
    to: SystemTime,
) -> std::io::Result<Loaded> {
    let current = rec.status.current();
    catalog::load(&rec.settings.dir, current.as_deref(), from, to)
}

fn list(rec: &RecordAccess, from: SystemTime, to: SystemTime) -> Reply {
    let l = match load(rec, from, to) {
        Ok(l) => l,
        Err(e) => return io_error("listing", &e),
    };
    // A truncated answer says where it stops: ask again from there.
    let to = l.truncated.map_or(to, |t| t.min(to));
    let spans = catalog::spans_in(&l, from, to)
        .into_iter()
        .filter_map(|i| {
            let c = &l.chunks[i];
            let s = c.span()?;
            Some(Span {
                id: catalog::chunk_id(&c.info.name).to_owned(),
                start: rfc3339(s.start),
                end: rfc3339(s.end),
                bytes: s.bytes,
                trigger: if s.event { "event" } else { "continuous" },
                locked: c.info.locked,
                growing: c.growing,
                unsynced: s.unsynced,
            })
        })
        .collect();
    let gaps = catalog::gaps(&l, from, to)
        .into_iter()
        .map(|(a, b)| Gap {
            start: rfc3339(a),
            end: rfc3339(b),
        })
        .collect();
    let events = match catalog::events(&rec.settings.dir, from, to) {
        Ok(ev) => ev
            .into_iter()
            .map(|(at, e)| Event {
                at: rfc3339(at),
                label: e.label,
                trigger: e.trigger,
            })
            .collect(),
        Err(e) => return io_error("reading the events", &e),
    };
    json_reply(
        200,
        &List {
            from: rfc3339(from),
            to: rfc3339(to),
            spans,
            gaps,
            events,
        },
    )
}

#[derive(Serialize)]
struct Day {
    day: String,
    bytes: u64,
    seconds: f64,
}

#[derive(Serialize)]
struct Days {
    days: Vec<Day>,
}

fn days(dir: &Path) -> Reply {
    let all = match (Fs {
        dir: dir.to_path_buf(),
    })
    .chunks()
    .and_then(|all| catalog::summaries(dir, &all))
    {
        Ok(s) => s,
        Err(e) => return io_error("listing days", &e),
    };
    let days = catalog::days(&all)
        .into_iter()
        .map(|(day, bytes, secs)| {
            let b = crate::time::basic_utc(UNIX_EPOCH + Duration::from_secs(day * 86_400));
            Day {
                day: format!("{}-{}-{}", &b[0..4], &b[4..6], &b[6..8]),
                bytes,
                seconds: (secs * 1000.0).round() / 1000.0,
            }
        })
        .collect();
    json_reply(200, &Days { days })
}

#[derive(Serialize)]
struct Storage {
    dir: String,
    state: &'static str,
    used_bytes: u64,
    free_bytes: u64,
    total_bytes: u64,
    oldest: Option<String>,
    newest: Option<String>,
    bytes_per_hour: u64,
    days_left: Option<f64>,
    last_error: String,
}

fn storage(rec: &RecordAccess) -> Reply {
    let dir = rec.settings.dir.as_path();
    let snap = rec.status.snapshot();
    let listed = (Fs {
        dir: dir.to_path_buf(),
    })
    .chunks()
    .and_then(|all| Ok((catalog::summaries(dir, &all)?, all)));
    // A missing disk is an answer, not an error: the state says so.
    let (sums, all) = listed.unwrap_or_default();
    let space = statvfs(dir).ok();
    let used: u64 = all.iter().map(|c| c.bytes).sum();
    let media_bytes: u64 = sums.iter().map(|s| s.bytes).sum();
    let secs: f64 = sums
        .iter()
        .map(|s| {
            s.end
                .duration_since(s.start)
                .unwrap_or_default()
                .as_secs_f64()
        })
        .sum();
    let per_hour = if secs >= 1.0 {
        (media_bytes as f64 / secs * 3600.0) as u64
    } else {
        0
    };
    let limits = RecordSetup::new(&rec.settings, 0).limits;
    let days_left = space.filter(|_| per_hour > 0).map(|sp| {
        let goal = sp.total / 100 * u64::from(limits.min_free_percent);
        let mut room = sp.avail.saturating_sub(goal);
        if limits.max_bytes > 0 {
            room = room.min(limits.max_bytes.saturating_sub(used));
        }
        (room as f64 / per_hour as f64 / 24.0 * 100.0).round() / 100.0
    });
    json_reply(
        200,
        &Storage {
            dir: snap.dir,
            state: snap.state,
            used_bytes: used,
            free_bytes: space.map_or(0, |s| s.avail),
            total_bytes: space.map_or(0, |s| s.total),
            oldest: sums.iter().map(|s| s.start).min().map(rfc3339),
            newest: sums.iter().map(|s| s.end).max().map(rfc3339),
            bytes_per_hour: per_hour,
            days_left,
            last_error: snap.last_error,
        },
    )
}

#[derive(Serialize)]
struct Lock<'a> {
    id: &'a str,
    locked: bool,
}

fn lock(dir: &Path, id: &str, locked: bool) -> Reply {
    let name = format!("{id}{CHUNK_EXT}");
    match catalog::set_lock(dir, &name, locked) {
        Ok(true) => {
            log::info!(
                "record: {name} {}",
                if locked { "locked" } else { "unlocked" }
            );
            json_reply(200, &Lock { id, locked })
        }
        Ok(false) => Reply::text(404, "no such recording\n").cors(),
        Err(e) => io_error("setting a lock", &e),
    }
}

/// The VOD playlist text of `segs` (see the module docs).
pub fn vod_playlist(segs: &[catalog::Seg<'_>], event: bool) -> String {
    let ms = catalog::extinf_ms(segs.iter().map(|s| s.rec.duration));
    let target = ms
        .iter()
        .map(|m| m.div_ceil(1000))
        .max()
        .unwrap_or(1)
        .max(1);
    let mut p = String::with_capacity(256 + segs.len() * 140);
    p.push_str("#EXTM3U\n#EXT-X-VERSION:4\n");
    p.push_str(&format!("#EXT-X-TARGETDURATION:{target}\n"));
    p.push_str("#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-DISCONTINUITY-SEQUENCE:0\n");
    p.push_str(if event {
        "#EXT-X-PLAYLIST-TYPE:EVENT\n"
    } else {
        "#EXT-X-PLAYLIST-TYPE:VOD\n"
    });
    p.push_str("#EXT-X-INDEPENDENT-SEGMENTS\n");
    for (s, ms) in segs.iter().zip(ms) {
        if s.discontinuity {
            p.push_str("#EXT-X-DISCONTINUITY\n");
        }
        p.push_str(&format!(
            "#EXT-X-PROGRAM-DATE-TIME:{}\n#EXTINF:{}.{:03},\n#EXT-X-BYTERANGE:{}@{}\n/rec/{}\n",
            rfc3339(wall(&s.rec)),
            ms / 1000,
            ms % 1000,
            s.rec.len,
            s.rec.offset,
            s.chunk
        ));
    }
    if !event {
        p.push_str("#EXT-X-ENDLIST\n");
    }
    p
}

fn vod(head: &Head<'_>, rec: &RecordAccess, from: SystemTime, to: SystemTime, live: bool) -> Reply {
    let l = match load(rec, from, to) {
        Ok(l) => l,
        Err(e) => return io_error("building a playlist", &e),
    };
    let segs = catalog::segments(&l, from, to);
    let Some(last) = segs.last() else {
        return Reply::text(404, "nothing recorded in this range\n").cors();
    };
    let event = live && last.growing && l.truncated.is_none();
    let text = vod_playlist(&segs, event);
    playlist_reply(head, text.into_bytes(), "no-cache")
}

fn chunk(head: &Head<'_>, rec: &RecordAccess, name: &str) -> Reply {
    debug_assert!(is_chunk_name(name));
    let opened =
        std::fs::File::open(rec.settings.dir.join(name)).and_then(|f| f.metadata().map(|m| (f, m)));
    let (file, meta) = match opened {
        Ok(x) => x,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Reply::text(404, "not found\n").cors()
        }
        Err(e) => return io_error("opening a chunk", &e),
    };
    let growing = rec.status.current().as_deref() == Some(name);
    let etag = format!(
        "\"{:x}-{:x}-{:x}.{:x}\"",
        meta.ino(),
        meta.len(),
        meta.mtime(),
        meta.mtime_nsec()
    );
    let cache = if growing { CACHE_GROWING } else { CACHE_CLOSED };
    file_reply(head, file, meta.len(), CT_TS, cache, Some(&etag))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_recording_paths() {
        assert_eq!(classify("/api/recordings"), Some(RecRoute::List));
        assert_eq!(classify("/api/recordings/days"), Some(RecRoute::Days));
        assert_eq!(classify("/api/storage"), Some(RecRoute::Storage));
        assert_eq!(classify("/api/clip.mp4"), Some(RecRoute::Clip));
        assert_eq!(
            classify("/api/recordings/20261206T100000Z-2/lock"),
            Some(RecRoute::Lock("20261206T100000Z-2"))
        );
        assert_eq!(
            classify("/vod/2026-12-06T10:00:00Z/now/index.m3u8"),
            Some(RecRoute::Vod("2026-12-06T10:00:00Z", "now"))
        );
        assert_eq!(
            classify("/rec/20261206T100000Z.ts"),
            Some(RecRoute::Chunk("20261206T100000Z.ts"))
        );
        for bad in [
            "/api/recordings/x/lock",
            "/api/recordings/20261206T100000Z.ts/lock",
            "/api/recordings/20261206T100000Z/unlock",
            "/vod/a/b/c/index.m3u8",
            "/vod//now/index.m3u8",
            "/vod/now/index.m3u8",
            "/rec/20261206T100000Z.ts.idx",
            "/rec/20261206T100000Z.ts.lock",
            "/rec/x/20261206T100000Z.ts",
            "/rec/events.jsonl",
        ] {
            assert_eq!(classify(bad), None, "{bad}");
        }
    }

    #[test]
    fn query_ranges_and_escapes() {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        assert_eq!(
            range("/api/recordings", now),
            Ok((now - DEFAULT_RANGE, now))
        );
        let (f, t) = range(
            "/api/recordings?from=2027-01-15T06%3A00%3A00Z&to=1800000000&x=1",
            now,
        )
        .unwrap();
        assert_eq!(t, now);
        assert_eq!(f, UNIX_EPOCH + Duration::from_secs(1_800_000_000 - 7200));
        let e = range("/api/recordings?from=yesterday", now).unwrap_err();
        assert!(e.starts_with("from: \"yesterday\" is not a time"), "{e}");
        assert!(range("/api/recordings?from=1800000001&to=1800000000", now).is_err());
        assert_eq!(unescape("a%2Fb%zz%4"), "a/b%zz%4");
    }
}
