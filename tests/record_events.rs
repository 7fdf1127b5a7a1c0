//! Event recording with the real binary (`[record] mode = "events"`, pre 4 s / post 4 s,
//! 1 s segments, test pattern + tone, paced), driven over real HTTP on 127.0.0.1: two
//! overlapping `POST /api/events` give one contiguous recording covering both windows rounded
//! outward to whole segments, its first segment an IDR taken from the live ring (pre-roll); a
//! manual `POST /api/record/start` … `stop` gives a second one; nothing is recorded outside the
//! windows; every record carries FLAG_EVENT; `events.jsonl` holds the four lines; bad bodies
//! get 400.

#[path = "support/hlscam_proc.rs"]
mod hlscam_proc;
mod http_util;
#[path = "support/recording.rs"]
mod recording;
#[path = "support/tools.rs"]
mod tools;

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hlscam::record::index::{IndexRecord, FLAG_CLOCK_STEP, FLAG_EVENT, FLAG_UNSYNCED};
use http_util::{exchange, Resp};

const BIN: &str = env!("CARGO_BIN_EXE_hlscam");

fn post(addr: SocketAddr, path: &str, body: &str) -> Resp {
    let raw = format!(
        "POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    exchange(addr, raw.as_bytes(), false)
}

fn json(r: &Resp) -> serde_json::Value {
    serde_json::from_slice(&r.body).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&r.body));
    })
}

fn ns(v: &serde_json::Value) -> u64 {
    let t = hlscam::time::parse_api_time(v.as_str().expect("a time"), SystemTime::now()).unwrap();
    t.duration_since(UNIX_EPOCH).unwrap().as_nanos() as u64
}

fn live_segments(live: &Path) -> usize {
    std::fs::read_dir(live)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            let n = e.file_name();
            let n = n.to_string_lossy();
            n.starts_with("seg") && n.ends_with(".ts") && n.matches('.').count() == 1
        })
        .count()
}

/// `recs` (one chunk) cover `[from, to]` rounded outward to whole segments, contiguously.
fn covers(recs: &[IndexRecord], from: u64, to: u64, what: &str) {
    let dur = |r: &IndexRecord| r.duration.0 * 1_000_000_000 / 90_000;
    let (first, last) = (recs[0], recs[recs.len() - 1]);
    assert!(
        first.wall_ns <= from && from < first.wall_ns + dur(&first),
        "{what}: the first segment [{}, +{}] holds the window's start {from}",
        first.wall_ns,
        dur(&first)
    );
    // The last due segment begins at or before the end; the next one (not recorded) after it.
    let slack = 50_000_000;
    assert!(
        last.wall_ns <= to && to < last.wall_ns + dur(&last) + slack,
        "{what}: the last segment [{}, +{}] holds the window's end {to}",
        last.wall_ns,
        dur(&last)
    );
    for w in recs.windows(2) {
        assert_eq!(w[1].seq, w[0].seq + 1, "{what}: contiguous");
        let gap = w[1].wall_ns as i128 - (w[0].wall_ns + dur(&w[0])) as i128;
        assert!(gap.abs() < 100_000_000, "{what}: seg{} follows", w[1].seq);
    }
}

#[test]
fn events_and_manual_recordings_cover_their_windows_and_nothing_else() {
    let work = tools::fresh_dir("record-events");
    let live = work.join("live");
    let rec = work.join("rec");
    std::fs::create_dir_all(&rec).unwrap();
    let cfg = recording::config_with(
        &work,
        &live,
        &rec,
        "segment_seconds = 1\nwindow = 6\n",
        "mode = \"events\"\npre_seconds = 4\npost_seconds = 4\n",
    );
    let started = Instant::now();
    let (mut p, port) = hlscam_proc::start(BIN, &cfg, &["--duration", "60"], &[]);
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    // The ring holds the pre-roll once 6 segments are out.
    while live_segments(&live) < 6 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no live segments"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        std::fs::read_dir(&rec)
            .unwrap()
            .flatten()
            .all(|e| !e.file_name().to_string_lossy().ends_with(".ts")),
        "nothing recorded before an event"
    );

    // Bad requests first: they arm nothing.
    for (body, why) in [
        ("{\"label\":", "bad JSON body"),
        ("{\"when\":1}", "unknown field `when`"),
        ("{\"pre\":7}", "pre = 7: must be 0..=6"),
        ("{\"post\":99999}", "must be 0..=3600"),
    ] {
        let r = post(addr, "/api/events", body);
        assert_eq!(r.status, 400, "{body}");
        assert!(String::from_utf8_lossy(&r.body).contains(why), "{body}");
    }
    assert_eq!(http_util::get(addr, "/api/events").status, 405);

    // Two overlapping events: [t1 − 4, t1 + 4] and [t2 − 1, t2 + 3], t2 = t1 + 2.
    let r = post(addr, "/api/events", "{\"label\":\"door\"}");
    assert_eq!(r.status, 202);
    let e1 = json(&r);
    assert_eq!(e1["label"], "door");
    std::thread::sleep(Duration::from_secs(2));
    let r = post(
        addr,
        "/api/events",
        "{\"label\":\"door2\",\"pre\":1,\"post\":3}",
    );
    assert_eq!(r.status, 202);
    let e2 = json(&r);
    let (w1_from, w1_to) = (ns(&e1["from"]), ns(&e2["to"]));
    assert!(ns(&e2["from"]) < ns(&e1["to"]), "they overlap");
    assert_eq!(ns(&e1["to"]) - ns(&e1["from"]), 8_000_000_000);

    // A manual recording 7 s after the merged window ends (its pre-roll 4 s: a gap between).
    std::thread::sleep(Duration::from_secs(10));
    let r = post(addr, "/api/record/start", "{\"label\":\"porch\"}");
    assert_eq!(
        (r.status, json(&r)),
        (200, serde_json::json!({"recording": true}))
    );
    std::thread::sleep(Duration::from_secs(3));
    let r = post(addr, "/api/record/stop", "");
    assert_eq!(
        (r.status, json(&r)),
        (200, serde_json::json!({"recording": false}))
    );
    // Let the segment holding the stop finish and reach the disk, then end the run.
    std::thread::sleep(Duration::from_secs(3));
    let status = json(&http_util::get(addr, "/api/status"));
    // The recordings API (branch rechttp) lists both as event spans, and the four lines.
    let from =
        hlscam::time::rfc3339(UNIX_EPOCH + Duration::from_nanos(w1_from) - Duration::from_secs(60));
    let list = json(&http_util::get(
        addr,
        &format!("/api/recordings?from={from}&to=now"),
    ));
    // SAFETY: a plain signal to the child this test started, by its PID.
    unsafe { libc::kill(p.0.id() as libc::pid_t, libc::SIGTERM) };
    assert!(p.0.wait().unwrap().success());
    assert!(started.elapsed() < Duration::from_secs(45));

    let log = std::fs::read_to_string(rec.join("events.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "{log}");
    let labels: Vec<&str> = lines.iter().map(|l| l["label"].as_str().unwrap()).collect();
    assert_eq!(labels, ["door", "door2", "porch", "porch"]);
    assert_eq!(lines[0]["trigger"], "event");
    assert_eq!(
        (&lines[0]["from"], &lines[0]["to"]),
        (&e1["from"], &e1["to"])
    );
    assert_eq!(lines[2]["trigger"], "manual");
    assert!(lines[2]["to"].is_null(), "open while it runs");
    let (w2_from, w2_to) = (ns(&lines[3]["from"]), ns(&lines[3]["to"]));
    assert_eq!(lines[3]["from"], lines[2]["from"]);
    assert!(w2_from > w1_to + 2_000_000_000, "a gap between the windows");

    let cs = recording::chunks(&rec);
    assert_eq!(cs.len(), 2, "one chunk per window, nothing else: {cs:?}");
    let spans = list["spans"].as_array().expect("spans");
    assert_eq!(spans.len(), 2, "{list}");
    for (s, c) in spans.iter().zip(&cs) {
        assert_eq!(s["trigger"], "event", "{s}");
        assert_eq!(s["id"].as_str(), c.file_stem().and_then(|n| n.to_str()));
    }
    let listed: Vec<&str> = list["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["label"].as_str().unwrap())
        .collect();
    assert_eq!(listed, labels, "{list}");
    let synced = hlscam::record::clock::system_synced();
    let mut total = 0;
    for (c, (from, to), what) in [
        (&cs[0], (w1_from, w1_to), "merged events"),
        (&cs[1], (w2_from, w2_to), "manual"),
    ] {
        let recs = recording::check_chunk(c);
        covers(&recs, from, to, what);
        for r in &recs {
            assert!(r.flags & FLAG_EVENT != 0, "{what} seg{}: FLAG_EVENT", r.seq);
            assert_eq!(r.flags & FLAG_CLOCK_STEP, 0);
            assert_eq!(r.flags & FLAG_UNSYNCED != 0, !synced, "adjtimex agrees");
        }
        // The pre-roll begins on a keyframe: what ffprobe sees first is an IDR.
        assert_eq!(tools::first_video_frame(c.to_str().unwrap()).trim(), "1,I");
        total += recs.len();
    }
    // 4 + 2 + 1 + 3 = 10 s of merged window and 4 + 3 s of manual one, in 1 s segments.
    assert!((17..=22).contains(&total), "segments recorded: {total}");
    let r = &status["record"];
    assert_eq!(r["segments"].as_u64(), Some(total as u64), "{r}");
    assert_eq!(r["errors"], 0, "{r}");
    std::fs::remove_dir_all(&work).unwrap();
}
