//! Publishing to a real nginx origin (Debian's package, WebDAV `PUT`/`DELETE`, Basic auth on
//! writes) run by the test on 127.0.0.1 (tests/support/nginx.rs), with the real binary paced to
//! real time.
//!
//! - `ts_origin_survives_an_outage`: classic MPEG-TS; nginx is stopped for 20 s mid-run and
//!   started again. A poller reads the origin's playlist through nginx every 100 ms and checks
//!   that every object it names answers (never a missing one); every playlist it saw passes the
//!   independent `m3u8`-based tests/publish/origin_check.py (sequence numbers kept, gaps marked);
//!   the local stream is unaffected (0 dropped frames, no discontinuity); the origin resumes, its
//!   copy decodes cleanly with ffmpeg through nginx and equals the local segments byte for
//!   byte; retired segments are DELETEd (nginx's access log, the document root); `/api/status`
//!   shows the target's figures.
//! - `fmp4_ll_origin`: fMP4 with LL-HLS on locally: the origin gets `init0.mp4` before any
//!   playlist naming it, classic playlists with `EXT-X-MAP`, and decodes cleanly.

#[path = "support/hlscam_proc.rs"]
mod hlscam_proc;
#[path = "support/nginx.rs"]
mod nginx;
#[path = "support/tools.rs"]
mod tools;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hlscam::publish::client::Conn;
use nginx::Nginx;

fn write_config(dir: &Path, out: &Path, url: &str, container: &str, ll: bool) -> PathBuf {
    let secret = dir.join("origin.secret");
    std::fs::write(&secret, format!("{}:{}\n", nginx::USER, nginx::PASSWORD)).unwrap();
    let cfg = dir.join("hlscam.toml");
    std::fs::write(
        &cfg,
        format!(
            "[video]\nsource = \"testsrc\"\nwidth = 320\nheight = 240\nfps = 30\nbitrate_kbps = 400\n\
             [audio]\nsource = \"tone\"\n\
             [hls]\ndir = \"{}\"\nsegment_seconds = 1\nwindow = 6\nlow_latency = {ll}\n\
             container = \"{container}\"\n\
             [[publish]]\nkind = \"http\"\nurl = \"{url}\"\ncredentials_file = \"{}\"\n",
            out.display(),
            secret.display()
        ),
    )
    .unwrap();
    cfg
}

/// GET `path` on 127.0.0.1:`port`: (status, body).
fn get(port: u16, path: &str) -> (u16, Vec<u8>) {
    let mut c = Conn::new("127.0.0.1", port);
    let mut body = Vec::new();
    match c.request("GET", path, &[], b"", Some(&mut body)) {
        Ok(s) => (s, body),
        Err(_) => (0, body),
    }
}

/// The URIs a playlist names (segments and `EXT-X-MAP` init segments).
fn named(text: &str) -> Vec<String> {
    let mut v = Vec::new();
    for l in text.lines() {
        if let Some(rest) = l.strip_prefix("#EXT-X-MAP:URI=\"") {
            v.push(rest.split('"').next().unwrap().to_owned());
        } else if !l.starts_with('#') && !l.is_empty() {
            v.push(l.to_owned());
        }
    }
    v
}

#[derive(Default, Debug)]
struct Polls {
    ok: u64,
    refused: u64,
    /// Playlists that named an object the origin did not have.
    violations: Vec<String>,
    saved: usize,
    saw_discontinuity: bool,
    saw_endlist: bool,
}

/// Every 100 ms: the origin's playlist, and a HEAD of every object it names; every new
/// playlist saved into `cap`.
fn poll(port: u16, dir: &'static str, cap: PathBuf, stop: Arc<AtomicBool>, out: Arc<Mutex<Polls>>) {
    std::fs::create_dir_all(&cap).unwrap();
    let mut c = Conn::new("127.0.0.1", port);
    let mut last = Vec::new();
    // Bounded: at most 10 minutes of polling.
    for _ in 0..6000 {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let t = Instant::now();
        let mut body = Vec::new();
        match c.request("GET", &format!("{dir}live.m3u8"), &[], b"", Some(&mut body)) {
            Ok(200) => {
                let text = String::from_utf8(body.clone()).unwrap();
                let mut missing = Vec::new();
                for uri in named(&text) {
                    match c.request("HEAD", &format!("{dir}{uri}"), &[], b"", None) {
                        Ok(200) => {}
                        Ok(s) => missing.push(format!("{uri} -> {s}")),
                        // nginx went away between the two requests: not a verdict.
                        Err(_) => {}
                    }
                }
                let mut p = out.lock().unwrap();
                p.ok += 1;
                if !missing.is_empty() {
                    p.violations.push(format!("{missing:?} named by\n{text}"));
                }
                if body != last {
                    p.saw_discontinuity |= text.contains("#EXT-X-DISCONTINUITY\n");
                    p.saw_endlist |= text.contains("#EXT-X-ENDLIST");
                    std::fs::write(cap.join(format!("{:06}.m3u8", p.saved)), &body).unwrap();
                    p.saved += 1;
                    last = body;
                }
            }
            Ok(_) => {}
            Err(_) => {
                out.lock().unwrap().refused += 1;
                c.close();
            }
        }
        if let Some(rest) = Duration::from_millis(100).checked_sub(t.elapsed()) {
            std::thread::sleep(rest);
        }
    }
}

/// [`poll`] on its own thread.
struct Poller {
    stop: Arc<AtomicBool>,
    polls: Arc<Mutex<Polls>>,
    thread: std::thread::JoinHandle<()>,
}

impl Poller {
    fn start(port: u16, dir: &'static str, cap: PathBuf) -> Poller {
        let stop = Arc::new(AtomicBool::new(false));
        let polls = Arc::new(Mutex::new(Polls::default()));
        let (s, p) = (stop.clone(), polls.clone());
        let thread = std::thread::spawn(move || poll(port, dir, cap, s, p));
        Poller {
            stop,
            polls,
            thread,
        }
    }
    fn saw_endlist(&self) -> bool {
        self.polls.lock().unwrap().saw_endlist
    }
    /// Stops polling; what was seen.
    fn finish(self) -> Polls {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().unwrap();
        std::mem::take(&mut *self.polls.lock().unwrap())
    }
}

fn origin_check(cap: &Path) {
    let cap = cap.display().to_string();
    tools::python(
        "tests/publish/origin_check.py",
        "target/pydeps",
        &[&cap],
        &[],
    );
}

/// `/api/status` of the running binary.
fn status(port: u16) -> serde_json::Value {
    let (st, body) = get(port, "/api/status");
    assert_eq!(st, 200);
    serde_json::from_slice(&body).unwrap()
}

/// Waits (bounded) until `f` holds.
fn wait_until(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < until, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn listed_count(port: u16, path: &str) -> usize {
    let (st, body) = get(port, path);
    if st != 200 {
        return 0;
    }
    named(&String::from_utf8_lossy(&body))
        .iter()
        .filter(|u| u.starts_with("seg"))
        .count()
}

#[test]
fn ts_origin_survives_an_outage() {
    let t0 = Instant::now();
    let work = tools::fresh_dir("publish-nginx");
    let out = tools::fresh_tmpfs_dir("publish-nginx-out");
    let mut ngx = Nginx::start(&work.join("nginx"));
    let port = ngx.port;
    // Writes need the credentials: a PUT without them is refused.
    let mut c = Conn::new("127.0.0.1", port);
    assert_eq!(c.request("PUT", "/cam/x.ts", &[], b"x", None).unwrap(), 401);

    let cfg = write_config(&work, &out, &format!("{}cam/", ngx.url()), "ts", false);
    let (proc, hport) = hlscam_proc::start(
        env!("CARGO_BIN_EXE_hlscam"),
        &cfg,
        &["--duration", "42", "--linger", "3"],
        &[],
    );
    let cap = work.join("cap");
    let poller = Poller::start(port, "/cam/", cap.clone());

    // A full window on the origin, then 20 s without it.
    wait_until("6 segments on the origin", 40, || {
        listed_count(port, "/cam/live.m3u8") >= 6
    });
    ngx.stop();
    let down = Instant::now();
    let local_at_stop = status(hport)["segments"].as_u64().unwrap();
    std::thread::sleep(Duration::from_secs(20));
    let during = status(hport);
    assert!(
        during["publish"][0]["failed"].as_u64().unwrap() > 0,
        "{during}"
    );
    assert!(!during["publish"][0]["last_error"]
        .as_str()
        .unwrap()
        .is_empty());
    assert!(
        during["segments"].as_u64().unwrap() >= local_at_stop + 17,
        "the local stream went on during the outage: {during}"
    );
    ngx.restart();
    let up = Instant::now();
    eprintln!(
        "origin down {:?} (from {:?} into the run)",
        up - down,
        down - t0
    );
    // The origin resumes: a playlist naming a segment made after the restart.
    let newest_local = status(hport)["segments"].as_u64().unwrap();
    wait_until("the origin to resume", 15, || {
        let (st, body) = get(port, "/cam/live.m3u8");
        st == 200
            && named(&String::from_utf8_lossy(&body))
                .iter()
                .filter_map(|u| {
                    u.strip_prefix("seg")?
                        .strip_suffix(".ts")?
                        .parse::<u64>()
                        .ok()
                })
                .any(|s| s + 1 >= newest_local)
    });
    eprintln!("origin resumed {:?} after nginx restarted", up.elapsed());
    wait_until("the end of the run on the origin", 40, || {
        poller.saw_endlist()
    });
    let st = status(hport);
    let polls = poller.finish();
    drop(proc);

    // The local stream was not disturbed.
    eprintln!("status: {st}");
    assert_eq!(st["drops"].as_u64(), Some(0), "frames dropped: {st}");
    let local = std::fs::read_to_string(out.join("live.m3u8")).unwrap();
    assert!(!local.contains("#EXT-X-DISCONTINUITY\n"), "{local}");
    assert!(local.ends_with("#EXT-X-ENDLIST\n"));
    let p = &st["publish"][0];
    assert_eq!(p["kind"], "http");
    for k in [
        "uploaded",
        "failed",
        "skipped",
        "deleted",
        "bytes_sent",
        "media_bytes",
    ] {
        assert!(p[k].as_u64().unwrap() > 0, "{k}: {p}");
    }
    assert!(p["queue_depth"].as_u64().unwrap() <= 3);

    // The origin's playlist was valid at every moment and never named a missing object.
    eprintln!(
        "polls: {} answered, {} refused, {} saved",
        polls.ok, polls.refused, polls.saved
    );
    assert!(polls.violations.is_empty(), "{:?}", polls.violations);
    assert!(polls.ok > 100 && polls.refused > 100, "{polls:?}");
    assert!(polls.saw_discontinuity, "the skipped segments are marked");
    origin_check(&cap);

    // The origin's copy decodes through nginx and is the local stream byte for byte.
    let url = format!("{}cam/live.m3u8", ngx.url());
    tools::ffmpeg_clean(&["-i", &url, "-f", "null", "-"]);
    // (ffprobe lists an HLS input's streams once per program: each kind at least once.)
    let kinds = tools::stream_types(&url);
    assert!(
        kinds.contains("video") && kinds.contains("audio"),
        "{kinds}"
    );
    let www = ngx.prefix.join("www/cam");
    let origin_final = std::fs::read_to_string(www.join("live.m3u8")).unwrap();
    assert!(origin_final.ends_with("#EXT-X-ENDLIST\n"), "{origin_final}");
    let mut same = 0;
    for uri in named(&origin_final) {
        if let Ok(mine) = std::fs::read(out.join(&uri)) {
            assert!(
                mine == std::fs::read(www.join(&uri)).unwrap(),
                "{uri} differs"
            );
            same += 1;
        }
    }
    assert!(same >= 5, "{same} segments compared");

    // Retired segments were deleted: nginx logged the DELETEs, and only the window plus the
    // segments still within their retention time are left.
    let log = ngx.access_log();
    let deletes = log
        .lines()
        .filter(|l| l.contains("\"DELETE /cam/seg") && l.contains("\" 204 "))
        .count();
    assert!(deletes >= 6, "{deletes} DELETEs answered 204");
    let left = std::fs::read_dir(&www)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("seg")
        })
        .count();
    // (Left: the last window and what retired in the last retention time: the run's end does
    // not wait for their deletion.)
    assert!(left <= 20, "{left} segments left on the origin");
    assert!(!www.join("seg0.ts").exists());
    let _ = std::fs::remove_dir_all(&out);
    let _ = std::fs::remove_dir_all(&work);
    eprintln!("ts_origin_survives_an_outage: {:?}", t0.elapsed());
}

#[test]
fn fmp4_ll_origin() {
    let t0 = Instant::now();
    let work = tools::fresh_dir("publish-nginx-fmp4");
    let out = tools::fresh_tmpfs_dir("publish-nginx-fmp4-out");
    let ngx = Nginx::start(&work.join("nginx"));
    let port = ngx.port;
    let cfg = write_config(
        &work,
        &out,
        &format!("{}live/cam4", ngx.url()),
        "fmp4",
        true,
    );
    let (proc, _) = hlscam_proc::start(
        env!("CARGO_BIN_EXE_hlscam"),
        &cfg,
        &["--duration", "10", "--linger", "3"],
        &[],
    );
    let cap = work.join("cap");
    let poller = Poller::start(port, "/live/cam4/", cap.clone());
    wait_until("the end of the run on the origin", 40, || {
        poller.saw_endlist()
    });
    let polls = poller.finish();
    drop(proc);
    assert!(polls.violations.is_empty(), "{:?}", polls.violations);
    assert!(polls.ok > 30, "{polls:?}");
    origin_check(&cap);
    let www = ngx.prefix.join("www/live/cam4");
    let pl = std::fs::read_to_string(www.join("live.m3u8")).unwrap();
    assert!(pl.contains("#EXT-X-MAP:URI=\"init0.mp4\""), "{pl}");
    assert!(
        !pl.contains("#EXT-X-PART"),
        "the origin gets classic playlists: {pl}"
    );
    assert_eq!(
        std::fs::read(www.join("init0.mp4")).unwrap(),
        std::fs::read(out.join("init0.mp4")).unwrap()
    );
    // init0.mp4 was written before the first playlist.
    let log = ngx.access_log();
    let first = |what: &str| log.lines().position(|l| l.contains(what)).unwrap();
    assert!(first("PUT /live/cam4/init0.mp4") < first("PUT /live/cam4/live.m3u8"));
    let url = format!("{}live/cam4/live.m3u8", ngx.url());
    tools::ffmpeg_clean(&["-i", &url, "-f", "null", "-"]);
    // (ffprobe lists an HLS input's streams once per program: each kind at least once.)
    let kinds = tools::stream_types(&url);
    assert!(
        kinds.contains("video") && kinds.contains("audio"),
        "{kinds}"
    );
    let _ = std::fs::remove_dir_all(&out);
    let _ = std::fs::remove_dir_all(&work);
    eprintln!("fmp4_ll_origin: {:?}", t0.elapsed());
}
