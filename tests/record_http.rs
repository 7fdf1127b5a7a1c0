//! Recording playback over real HTTP on 127.0.0.1 with the real binary (issue 13 "Playback"):
//! a paced continuous recording in 1-minute chunks (61 s, so the chunk rotates), a restart
//! after a pause (a gap), then the recordings API (spans, gap, days, storage, events, locks)
//! checked against the index files on disk; the VOD playlist of the whole span read by two
//! independent parsers (PyPI `m3u8` through tests/rec_vod_check.py, and the m3u8-rs crate)
//! that must agree; every byte range fetched with `Range` (206, TS sync, an IDR with SPS/PPS
//! read by the `mpeg2ts` crate, the exact bytes of the file); EXTINF sums against ffprobe's
//! duration of each chunk; `EXT-X-DISCONTINUITY` at the restart only; ETag / If-None-Match /
//! If-Range / 416; a `to=now` EVENT playlist that grows while recording; ffmpeg plays the VOD
//! playlist over HTTP; clip export across the rotation and the gap (tests/support/clip_check.rs);
//! and a retention pass of the real binary (`max_bytes = 1`) that deletes everything but the
//! locked chunk and the one being written.

#[path = "support/clip_check.rs"]
mod clip_check;
#[path = "support/hlscam_proc.rs"]
mod hlscam_proc;
mod http_util;
#[path = "support/recording.rs"]
mod recording;
#[path = "support/tools.rs"]
mod tools;
#[path = "support/ts_check.rs"]
mod ts_check;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hlscam::record::index::IndexRecord;
use http_util::{req, Resp};
use recording::{chunks, dirs_and_config, end_ms, records, start_ms};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_hlscam");
/// One frame at 30 fps, seconds.
const FRAME: f64 = 1.0 / 30.0;

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn get(port: u16, target: &str) -> Resp {
    req(addr(port), "GET", target, "")
}

fn json(port: u16, target: &str) -> Value {
    let r = get(port, target);
    assert_eq!(
        r.status,
        200,
        "{target}: {}",
        String::from_utf8_lossy(&r.body)
    );
    assert_eq!(r.header("content-type"), Some("application/json"));
    serde_json::from_slice(&r.body).unwrap()
}

/// Milliseconds since 1970 of an API time.
fn ms(v: &Value) -> u64 {
    let t = hlscam::time::parse_api_time(v.as_str().expect("a time string"), UNIX_EPOCH).unwrap();
    t.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

fn secs_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn stem(c: &Path) -> String {
    c.file_stem().unwrap().to_str().unwrap().to_owned()
}

/// One segment as both parsers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Seg {
    uri: String,
    ms: u64,
    len: u64,
    offset: u64,
    discontinuity: bool,
    pdt_ms: i64,
}

/// Parses a VOD playlist with the PyPI `m3u8` package (which also checks the rules, `kind` =
/// "vod" or "event") and with m3u8-rs; asserts they agree and returns the segments.
fn parse_both(text: &str, kind: &str, scratch: &Path) -> Vec<Seg> {
    let file = scratch.join(format!("{kind}.m3u8"));
    std::fs::write(&file, text).unwrap();
    let out = tools::python(
        "tests/rec_vod_check.py",
        "target/pydeps",
        &[file.to_str().unwrap(), kind],
        &[],
    );
    let v: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    let py: Vec<Seg> = v["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| Seg {
            uri: s["uri"].as_str().unwrap().to_owned(),
            ms: s["ms"].as_u64().unwrap(),
            len: s["len"].as_u64().unwrap(),
            offset: s["offset"].as_u64().unwrap(),
            discontinuity: s["discontinuity"].as_bool().unwrap(),
            pdt_ms: s["pdt_ms"].as_i64().unwrap(),
        })
        .collect();
    let pl = m3u8_rs::parse_media_playlist_res(text.as_bytes()).expect("m3u8-rs parses it");
    assert_eq!(pl.version, Some(4));
    assert!(pl.independent_segments);
    assert_eq!(pl.target_duration, v["target"].as_u64().unwrap());
    let want = if kind == "vod" {
        m3u8_rs::MediaPlaylistType::Vod
    } else {
        m3u8_rs::MediaPlaylistType::Event
    };
    assert_eq!(pl.playlist_type, Some(want));
    assert_eq!(pl.end_list, kind == "vod");
    let rs: Vec<Seg> = pl
        .segments
        .iter()
        .map(|s| {
            let br = s.byte_range.as_ref().expect("EXT-X-BYTERANGE");
            Seg {
                uri: s.uri.clone(),
                ms: (f64::from(s.duration) * 1000.0).round() as u64,
                len: br.length,
                offset: br.offset.expect("a byte range offset"),
                discontinuity: s.discontinuity,
                pdt_ms: s
                    .program_date_time
                    .expect("PROGRAM-DATE-TIME")
                    .timestamp_millis(),
            }
        })
        .collect();
    assert_eq!(py, rs, "the two parsers disagree");
    py
}

fn vod(port: u16, from: &str, to: &str) -> String {
    let r = get(port, &format!("/vod/{from}/{to}/index.m3u8"));
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        r.header("content-type"),
        Some("application/vnd.apple.mpegurl")
    );
    String::from_utf8(r.body).unwrap()
}

/// While the first run records: the chunk being written is `growing`, a `to=now` playlist is
/// an EVENT playlist that grows, and the chunk's ETag changes as it grows.
fn check_growing(port: u16, from: u64, scratch: &Path) {
    let until = Instant::now() + Duration::from_secs(20);
    let span = loop {
        let v = json(port, &format!("/api/recordings?from={from}"));
        if let Some(s) = v["spans"].as_array().and_then(|a| a.first()) {
            if ms(&s["end"]) >= ms(&s["start"]) + 4000 {
                break s.clone();
            }
        }
        assert!(Instant::now() < until, "no span recorded: {v}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(span["growing"], true, "{span}");
    assert_eq!(span["locked"], false);
    assert_eq!(span["trigger"], "continuous");
    let id = span["id"].as_str().unwrap().to_owned();
    let chunk = format!("/rec/{id}.ts");
    let first = get(port, &chunk);
    assert_eq!(first.status, 200);
    assert_eq!(first.header("cache-control"), Some("no-cache"));
    let tag = first.header("etag").unwrap().to_owned();

    let a = parse_both(&vod(port, &from.to_string(), "now"), "event", scratch);
    std::thread::sleep(Duration::from_secs(5));
    let b = parse_both(&vod(port, &from.to_string(), "now"), "event", scratch);
    assert!(
        b.len() >= a.len() + 2,
        "{} then {} segments",
        a.len(),
        b.len()
    );
    assert_eq!(b[..a.len()], a[..], "an EVENT playlist only appends");

    let again = req(
        addr(port),
        "GET",
        &chunk,
        &format!("If-None-Match: {tag}\r\n"),
    );
    assert_eq!(again.status, 200, "the chunk grew: not 304");
    assert_ne!(again.header("etag"), Some(tag.as_str()));
    assert!(again.body.len() > first.body.len());
}

/// Polls `/api/status` until the recorder has stopped (the run's `--duration` is over).
fn wait_stopped(port: u16) {
    let until = Instant::now() + Duration::from_secs(40);
    loop {
        let v = json(port, "/api/status");
        if v["record"]["state"] == "stopped" {
            return;
        }
        assert!(Instant::now() < until, "recorder still {}", v["record"]);
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn check_api(port: u16, rec: &Path, from: u64, to: u64, cs: &[PathBuf]) {
    let recs: Vec<Vec<IndexRecord>> = cs.iter().map(|c| records(c)).collect();
    let v = json(port, &format!("/api/recordings?from={from}&to={to}"));
    let spans = v["spans"].as_array().unwrap();
    assert_eq!(spans.len(), 3, "{v}");
    for ((s, c), r) in spans.iter().zip(cs).zip(&recs) {
        assert_eq!(s["id"], stem(c));
        assert_eq!(ms(&s["start"]), start_ms(&r[0]), "{s}");
        assert_eq!(ms(&s["end"]), end_ms(r.last().unwrap()), "{s}");
        assert_eq!(s["bytes"], r.last().unwrap().end());
        assert_eq!(s["bytes"], std::fs::metadata(c).unwrap().len());
        assert_eq!(
            (&s["growing"], &s["locked"], &s["unsynced"]),
            (
                &Value::Bool(false),
                &Value::Bool(false),
                // FLAG_UNSYNCED follows the kernel's clock state (adjtimex), as the recorder's.
                &Value::Bool(!hlscam::record::clock::system_synced())
            )
        );
        assert_eq!(s["trigger"], "continuous");
    }
    // The rotation inside the first run is no gap; the restart is, from the end of the first
    // run's last segment to the first frame of the second run.
    let gaps = v["gaps"].as_array().unwrap();
    assert_eq!(gaps.len(), 1, "{v}");
    assert_eq!(ms(&gaps[0]["start"]), end_ms(recs[1].last().unwrap()));
    assert_eq!(ms(&gaps[0]["end"]), start_ms(&recs[2][0]));
    assert!(ms(&gaps[0]["end"]) - ms(&gaps[0]["start"]) >= 2000);
    // events.jsonl (written here as the events API writes it): two lines in the range, one
    // out of it, one torn by a crash.
    let evs = v["events"].as_array().unwrap();
    let labels: Vec<&str> = evs.iter().map(|e| e["label"].as_str().unwrap()).collect();
    assert_eq!(labels, ["door", "manual start"], "{v}");
    assert_eq!(evs[1]["trigger"], "manual");
    assert_eq!(ms(&evs[0]["at"]), start_ms(&recs[0][0]) + 5000);

    let days = json(port, "/api/recordings/days");
    let days = days["days"].as_array().unwrap();
    let bytes: u64 = days.iter().map(|d| d["bytes"].as_u64().unwrap()).sum();
    let secs: f64 = days.iter().map(|d| d["seconds"].as_f64().unwrap()).sum();
    let want_bytes: u64 = recs.iter().map(|r| r.last().unwrap().end()).sum();
    let want_secs: f64 = recs
        .iter()
        .map(|r| (end_ms(r.last().unwrap()) - start_ms(&r[0])) as f64 / 1000.0)
        .sum();
    assert!(
        bytes.abs_diff(want_bytes) <= days.len() as u64,
        "{bytes} vs {want_bytes}"
    );
    assert!((secs - want_secs).abs() < 0.01, "{secs} vs {want_secs}");
    let today = &hlscam::time::rfc3339(SystemTime::now())[..10];
    assert!(days.iter().any(|d| d["day"] == today), "{days:?}");

    let st = json(port, "/api/storage");
    let on_disk: u64 = cs
        .iter()
        .map(|c| {
            std::fs::metadata(c).unwrap().len()
                + std::fs::metadata(format!("{}.idx", c.display()))
                    .unwrap()
                    .len()
        })
        .sum();
    assert_eq!(st["dir"], rec.display().to_string());
    assert_eq!(st["state"], "stopped");
    assert_eq!(st["used_bytes"], on_disk, "{st}");
    let (free, total) = (
        st["free_bytes"].as_u64().unwrap(),
        st["total_bytes"].as_u64().unwrap(),
    );
    assert!(free > 0 && total >= free, "{st}");
    assert_eq!(ms(&st["oldest"]), start_ms(&recs[0][0]));
    assert_eq!(ms(&st["newest"]), end_ms(recs[2].last().unwrap()));
    let rate = want_bytes as f64 / want_secs * 3600.0;
    let bph = st["bytes_per_hour"].as_f64().unwrap();
    assert!((bph - rate).abs() / rate < 0.01, "{bph} vs {rate}");
    assert!(st["days_left"].as_f64().unwrap() >= 0.0, "{st}");
    assert_eq!(st["last_error"], "");
}

fn check_vod(port: u16, from: u64, to: u64, cs: &[PathBuf], scratch: &Path) {
    let recs: Vec<Vec<IndexRecord>> = cs.iter().map(|c| records(c)).collect();
    let text = vod(port, &from.to_string(), &to.to_string());
    let segs = parse_both(&text, "vod", scratch);
    let all: Vec<(&PathBuf, &IndexRecord)> = cs
        .iter()
        .zip(&recs)
        .flat_map(|(c, r)| r.iter().map(move |r| (c, r)))
        .collect();
    assert_eq!(segs.len(), all.len(), "every recorded segment, once");
    let first_b = recs[0].len() + recs[1].len();
    for (i, (s, (c, r))) in segs.iter().zip(&all).enumerate() {
        let name = c.file_name().unwrap().to_str().unwrap();
        assert_eq!(s.uri, format!("/rec/{name}"));
        assert_eq!((s.offset, s.len), (r.offset, u64::from(r.len)));
        assert_eq!(s.pdt_ms as u64, start_ms(r));
        assert_eq!(s.discontinuity, i == first_b, "segment {i}");
    }
    // EXTINF sums: each chunk's against ffprobe's duration of the chunk file, and the whole
    // against the recorded media time; within one frame.
    let mut at = 0;
    let mut total_ms = 0;
    for (c, r) in cs.iter().zip(&recs) {
        let sum_ms: u64 = segs[at..at + r.len()].iter().map(|s| s.ms).sum();
        at += r.len();
        total_ms += sum_ms;
        let probed: f64 = tools::ffprobe(&[
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
            c.to_str().unwrap(),
        ])
        .trim()
        .parse()
        .unwrap();
        let d = (sum_ms as f64 / 1000.0 - probed).abs();
        assert!(
            d <= FRAME + 0.001,
            "{}: EXTINF {sum_ms} ms, ffprobe {probed} s",
            stem(c)
        );
    }
    let media: u64 = all.iter().map(|(_, r)| r.duration.0).sum();
    assert!((total_ms as f64 / 1000.0 - media as f64 / 90_000.0).abs() <= FRAME);
    assert!(media >= 60 * 90_000, "at least 60 s recorded: {media}");

    // Every byte range with Range: 206, exactly the file's bytes, TS sync, an IDR after SPS
    // and PPS in its first video access unit.
    for (s, (c, r)) in segs.iter().zip(&all) {
        let last = s.offset + s.len - 1;
        let resp = req(
            addr(port),
            "GET",
            &s.uri,
            &format!("Range: bytes={}-{last}\r\n", s.offset),
        );
        assert_eq!(resp.status, 206, "{} {}", s.uri, s.offset);
        let size = std::fs::metadata(c).unwrap().len();
        let want_range = format!("bytes {}-{last}/{size}", s.offset);
        assert_eq!(resp.header("content-range"), Some(want_range.as_str()));
        assert_eq!(resp.header("content-type"), Some("video/mp2t"));
        assert_eq!(resp.body.len() as u64, s.len);
        let file = std::fs::read(c).unwrap();
        assert!(resp.body[..] == file[r.offset as usize..r.end() as usize]);
        assert_eq!(resp.body[0], 0x47);
        let nals = ts_check::first_video_nal_types(&resp.body);
        let idr = nals.iter().position(|&t| t == 5);
        assert!(
            idr.is_some_and(|i| nals[..i].contains(&7) && nals[..i].contains(&8)),
            "{}@{}: first access unit {nals:?}",
            s.uri,
            s.offset
        );
    }

    // ffmpeg plays the playlist over HTTP, byte ranges, discontinuity and all.
    let url = format!("http://127.0.0.1:{port}/vod/{from}/{to}/index.m3u8");
    tools::ffmpeg_clean(&["-i", &url, "-f", "null", "-"]);
}

fn check_chunk_headers(port: u16, c: &Path) {
    let uri = format!("/rec/{}", c.file_name().unwrap().to_str().unwrap());
    let size = std::fs::metadata(c).unwrap().len();
    let r = get(port, &uri);
    assert_eq!(r.status, 200);
    assert_eq!(r.content_length(), Some(size));
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
    assert_eq!(r.header("content-type"), Some("video/mp2t"));
    assert_eq!(r.header("cache-control"), Some("public, max-age=3600"));
    let tag = r.header("etag").unwrap().to_owned();
    assert!(tag.starts_with('"') && tag.ends_with('"'), "strong: {tag}");
    assert_eq!(get(port, &uri).header("etag"), Some(tag.as_str()), "stable");
    let nm = req(
        addr(port),
        "GET",
        &uri,
        &format!("If-None-Match: {tag}\r\n"),
    );
    assert_eq!(nm.status, 304);
    assert!(nm.body.is_empty());
    assert_eq!(nm.header("etag"), Some(tag.as_str()));
    let nm = req(addr(port), "GET", &uri, "If-None-Match: \"other\"\r\n");
    assert_eq!(nm.status, 200);
    let r416 = req(
        addr(port),
        "GET",
        &uri,
        &format!("Range: bytes={size}-\r\n"),
    );
    assert_eq!(r416.status, 416);
    let want = format!("bytes */{size}");
    assert_eq!(r416.header("content-range"), Some(want.as_str()));
    let ir = req(
        addr(port),
        "GET",
        &uri,
        &format!("Range: bytes=0-187\r\nIf-Range: {tag}\r\n"),
    );
    assert_eq!((ir.status, ir.body.len()), (206, 188));
    let ir = req(
        addr(port),
        "GET",
        &uri,
        "Range: bytes=0-187\r\nIf-Range: \"old\"\r\n",
    );
    assert_eq!((ir.status, ir.content_length()), (200, Some(size)));
    let head = req(addr(port), "HEAD", &uri, "");
    assert_eq!((head.status, head.content_length()), (200, Some(size)));
}

fn check_refusals(port: u16) {
    let bad = get(port, "/vod/yesterday/now/index.m3u8");
    assert_eq!(bad.status, 400);
    assert!(String::from_utf8_lossy(&bad.body).contains("is not a time"));
    let bad = get(port, "/api/recordings?from=2026-13-01T00:00:00Z");
    assert_eq!(bad.status, 400);
    assert!(String::from_utf8_lossy(&bad.body).starts_with("from: "));
    assert_eq!(get(port, "/vod/100/50/index.m3u8").status, 400);
    assert_eq!(
        get(port, "/vod/100/200/index.m3u8").status,
        404,
        "nothing then"
    );
    assert_eq!(get(port, "/rec/..%2f.hlscam-rec").status, 400);
    assert_eq!(get(port, "/rec/../events.jsonl").status, 400);
    assert_eq!(get(port, "/rec/20000101T000000Z.ts").status, 404);
    assert_eq!(get(port, "/rec/20000101T000000Z.ts.idx").status, 404);
    assert_eq!(get(port, "/rec/events.jsonl").status, 404);
    assert_eq!(req(addr(port), "POST", "/api/recordings", "").status, 405);
    assert_eq!(
        get(port, "/api/recordings/20000101T000000Z/lock").status,
        405
    );
    let r = req(
        addr(port),
        "POST",
        "/api/recordings/20000101T000000Z/lock",
        "",
    );
    assert_eq!(r.status, 404);
}

fn lock(port: u16, id: &str, method: &str) -> Value {
    // A body is read and ignored (the request after it on the connection would still work).
    let r = req(
        addr(port),
        method,
        &format!("/api/recordings/{id}/lock"),
        "Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    serde_json::from_slice(&r.body).unwrap()
}

fn check_locks(port: u16, rec: &Path, from: u64, to: u64, c: &Path) {
    let id = stem(c);
    let marker = rec.join(format!("{}.lock", c.file_name().unwrap().to_str().unwrap()));
    assert_eq!(
        lock(port, &id, "POST"),
        serde_json::json!({"id": id, "locked": true})
    );
    assert!(marker.is_file());
    let v = json(port, &format!("/api/recordings?from={from}&to={to}"));
    let locked: Vec<bool> = v["spans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["locked"].as_bool().unwrap())
        .collect();
    assert_eq!(locked, [true, false, false]);
    assert_eq!(lock(port, &id, "DELETE")["locked"], false);
    assert!(!marker.exists());
    assert_eq!(lock(port, &id, "POST")["locked"], true);
    assert!(marker.is_file());
}

fn write_events(rec: &Path, first: &IndexRecord) {
    let t = |ms: u64| hlscam::time::rfc3339(UNIX_EPOCH + Duration::from_millis(ms));
    let at = start_ms(first) + 5000;
    let line = |ms: u64, label: &str, trigger: &str| {
        format!(
            "{{\"at\":\"{}\",\"label\":\"{label}\",\"trigger\":\"{trigger}\",\"from\":\"{}\",\"to\":null}}\n",
            t(ms),
            t(ms)
        )
    };
    let text = line(at, "door", "event")
        + &line(at + 1000, "manual start", "manual")
        + &line(1_000_000, "long ago", "event")
        + "{\"at\":\"2026-";
    std::fs::write(rec.join("events.jsonl"), text).unwrap();
}

#[test]
fn recordings_api_and_vod_playback_over_http() {
    let work = tools::fresh_dir("record-http");
    let (_live, rec, cfg) = dirs_and_config(&work, 2);
    let from = secs_now() - 5;

    // Run 1: 61 s, so the 1-minute chunk rotates once.
    let (mut a, port) = hlscam_proc::start(BIN, &cfg, &["--duration", "61"], &[]);
    check_growing(port, from, &work);
    let until = Instant::now() + Duration::from_secs(90);
    while a.0.try_wait().unwrap().is_none() {
        assert!(Instant::now() < until, "run 1 did not end");
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(a.0.wait().unwrap().success());
    drop(a);
    // The pause makes a gap of at least 2 s.
    std::thread::sleep(Duration::from_secs(2));

    // Run 2: 8 s, then the server stays up for the checks.
    let (b, port) = hlscam_proc::start(BIN, &cfg, &["--duration", "8", "--linger", "120"], &[]);
    wait_stopped(port);
    let to = secs_now() + 1;
    let cs = chunks(&rec);
    assert_eq!(cs.len(), 3, "two chunks of run 1, one of run 2: {cs:?}");
    write_events(&rec, &records(&cs[0])[0]);

    check_api(port, &rec, from, to, &cs);
    check_vod(port, from, to, &cs, &work);
    check_chunk_headers(port, &cs[0]);
    check_refusals(port);
    check_locks(port, &rec, from, to, &cs[0]);
    clip_check::check_clips(addr(port), &work, &cs, 600);
    drop(b);

    // Run 3 with max_bytes = 1: its first chunk's retention pass deletes every chunk but the
    // locked one (and the one it is writing).
    let text = std::fs::read_to_string(&cfg).unwrap() + "max_bytes = 1\n";
    std::fs::write(&cfg, text).unwrap();
    let (mut c, _) = hlscam_proc::start(BIN, &cfg, &["--duration", "3"], &[]);
    assert!(c.0.wait().unwrap().success());
    drop(c);
    assert!(cs[0].is_file(), "the locked chunk is kept");
    assert!(Path::new(&format!("{}.idx", cs[0].display())).is_file());
    for gone in &cs[1..] {
        assert!(!gone.exists(), "{} not deleted", gone.display());
        assert!(!Path::new(&format!("{}.idx", gone.display())).exists());
    }
    let left = chunks(&rec);
    assert_eq!(left.len(), 2, "the locked chunk and run 3's: {left:?}");
    std::fs::remove_dir_all(&work).unwrap();
}

#[test]
fn recording_routes_are_404_when_recording_is_off() {
    let f = http_util::Fixture::new("rec-off");
    for target in [
        "/api/recordings",
        "/api/recordings/days",
        "/api/storage",
        "/vod/now/now/index.m3u8",
        "/rec/20261206T100000Z.ts",
        "/api/clip.mp4?from=0&to=1",
    ] {
        let r = req(f.addr, "GET", target, "");
        assert_eq!(r.status, 404, "{target}");
    }
    let r = req(f.addr, "POST", "/api/recordings/20261206T100000Z/lock", "");
    assert_eq!(r.status, 404);
}
