//! LL-HLS end to end: the real `hlscam` binary (paced test sources) on 127.0.0.1, driven like
//! hls.js drives it — blocking playlist reloads on one kept-alive connection, the hinted part
//! requested before it exists, delta updates — with every playlist checked by the independent
//! `m3u8` parser (tests/ll_check.py), every part and segment probed or decoded by ffmpeg, parts
//! concatenated against their segment, timestamps continuous across parts, and a restart
//! continuing the playlist with EXT-X-DISCONTINUITY.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

#[path = "support/hlscam_proc.rs"]
mod hlscam_proc;
#[path = "support/tools.rs"]
mod tools;

use tools::{ffmpeg_clean, ffprobe, fresh_tmpfs_dir};

struct Resp {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.head.split("\r\n").skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One kept-alive HTTP/1.1 connection (bodies framed by Content-Length, as the server sends).
struct Conn {
    s: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    fn new(port: u16) -> Conn {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
        Conn { s, buf: Vec::new() }
    }

    fn get(&mut self, path: &str) -> Resp {
        self.request(path, "")
    }

    /// GET with extra header lines (each ending in CRLF).
    fn request(&mut self, path: &str, extra: &str) -> Resp {
        write!(
            self.s,
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n"
        )
        .unwrap();
        let end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i;
            }
            self.fill();
        };
        let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
        self.buf.drain(..end + 4);
        let status = head[9..12].parse().unwrap();
        let mut r = Resp {
            status,
            head,
            body: Vec::new(),
        };
        let len: usize = r.header("Content-Length").map_or(0, |v| v.parse().unwrap());
        while self.buf.len() < len {
            self.fill();
        }
        r.body = self.buf.drain(..len).collect();
        r
    }

    fn fill(&mut self) {
        let mut b = [0u8; 65536];
        let n = self.s.read(&mut b).expect("read");
        assert!(n > 0, "server closed a kept-alive connection");
        self.buf.extend_from_slice(&b[..n]);
    }
}

/// A part's URI, listed duration and bytes.
type FetchedPart = (String, f64, Vec<u8>);

fn write_config(dir: &Path, out: &Path, container: &str) -> PathBuf {
    let cfg = dir.join("hlscam.toml");
    std::fs::write(
        &cfg,
        format!(
            "[video]\nsource = \"testsrc\"\nwidth = 320\nheight = 240\nfps = 30\nbitrate_kbps = 500\n\
             [audio]\nsource = \"tone\"\nsample_rate = 48000\nchannels = 1\n\
             [hls]\ndir = \"{}\"\nsegment_seconds = 1\nwindow = 12\nlow_latency = true\n\
             part_ms = 200\ncontainer = \"{container}\"\n",
            out.display()
        ),
    )
    .unwrap();
    cfg
}

/// `(msn, part)` of the preload hint.
fn hint(playlist: &str) -> (u64, u32) {
    let line = playlist
        .lines()
        .find(|l| l.starts_with("#EXT-X-PRELOAD-HINT:"))
        .unwrap_or_else(|| panic!("no preload hint in\n{playlist}"));
    let uri = line
        .split("URI=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let mut it = uri.trim_start_matches("seg").split('.');
    (
        it.next().unwrap().parse().unwrap(),
        it.next().unwrap().parse().unwrap(),
    )
}

fn wait_for_hint(port: u16) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = Conn::new(port).get("/live.m3u8");
        if r.status == 200 && r.text().contains("#EXT-X-PRELOAD-HINT") {
            return r.text();
        }
        assert!(Instant::now() < deadline, "no LL playlist in time");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() - 1) as f64 * p).round() as usize]
}

/// Follows the live edge for `secs` with blocking reloads; saves every playlist into `cap`
/// (numbered from `first`), and returns the publication-to-answer delays in ms.
fn follow(port: u16, cap: &Path, first: usize, secs: u64, out: &Path, ext: &str) -> Vec<f64> {
    let mut c = Conn::new(port);
    let mut pl = wait_for_hint(port);
    let mut delays = Vec::new();
    let end = Instant::now() + Duration::from_secs(secs);
    let mut n = first;
    while Instant::now() < end {
        let (msn, part) = hint(&pl);
        let skip = n % 4 == 3;
        let url = format!(
            "/live.m3u8?_HLS_msn={msn}&_HLS_part={part}{}",
            if skip { "&_HLS_skip=YES" } else { "" }
        );
        let r = c.get(&url);
        let answered = SystemTime::now();
        assert_eq!(r.status, 200, "{url}: {}", r.text());
        let text = r.text();
        let uri = format!("seg{msn}.{part}.{ext}");
        assert!(
            text.contains(&uri) || text.contains(&format!("seg{msn}.{ext}")),
            "{url} answered without {uri}:\n{text}"
        );
        assert!(r
            .header("Cache-Control")
            .unwrap()
            .starts_with("public, max-age="));
        // The part's file got its last byte just before publication.
        if let Ok(m) = std::fs::metadata(out.join(&uri)).and_then(|m| m.modified()) {
            if let Ok(d) = answered.duration_since(m) {
                delays.push(d.as_secs_f64() * 1000.0);
            }
        }
        let kind = if skip { "delta" } else { "full" };
        std::fs::write(cap.join(format!("{n:04}-{kind}.m3u8")), &r.body).unwrap();
        n += 1;
        pl = text;
    }
    delays
}

fn check_playlists(cap: &Path, env: &[(&str, &str)]) {
    tools::python(
        "tests/ll_check.py",
        "target/pydeps",
        &[cap.to_str().unwrap()],
        env,
    );
}

/// Start time (first PTS, seconds) of the video stream of a TS file, by ffprobe.
fn first_video_pts(file: &str) -> f64 {
    let out = ffprobe(&[
        "-select_streams",
        "v:0",
        "-show_entries",
        "stream=start_time",
        "-of",
        "csv=p=0",
        file,
    ]);
    // ffprobe lists the stream once on its own and once inside its program.
    out.split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{file}: start_time {out:?}"))
}

#[test]
fn ts_parts_blocking_reload_and_restart() {
    parts_blocking_reload_and_restart("ts");
}

#[test]
fn fmp4_parts_blocking_reload_and_restart() {
    parts_blocking_reload_and_restart("fmp4");
}

/// The probe input for a part or segment: itself (TS) or its init segment then itself (fMP4).
fn probe_file(media: &Path, name: &str, body: &[u8], init: Option<&[u8]>) -> String {
    let f = media.join(name);
    let mut bytes = init.unwrap_or_default().to_vec();
    bytes.extend_from_slice(body);
    std::fs::write(&f, bytes).unwrap();
    f.to_str().unwrap().to_owned()
}

/// A segment listed with parts, as fetched: its URI, init segment URI (fMP4), bytes and
/// parts.
struct Fetched {
    seg: String,
    map: Option<String>,
    body: Vec<u8>,
    parts: Vec<FetchedPart>,
}

/// Every segment of `pl` with parts, and its parts, downloaded over `c`.
fn fetch_listed(c: &mut Conn, pl: &str) -> Vec<Fetched> {
    let mut out = Vec::new();
    let mut map = None;
    let mut cur: Vec<(String, f64)> = Vec::new();
    for l in pl.lines() {
        if let Some(a) = l.strip_prefix("#EXT-X-MAP:URI=\"") {
            map = Some(a.trim_end_matches('"').to_owned());
        } else if let Some(a) = l.strip_prefix("#EXT-X-PART:") {
            let dur: f64 = a
                .split("DURATION=")
                .nth(1)
                .unwrap()
                .split(',')
                .next()
                .unwrap()
                .parse()
                .unwrap();
            let uri = a.split("URI=\"").nth(1).unwrap().split('"').next().unwrap();
            cur.push((uri.to_owned(), dur));
        } else if l.starts_with("seg") {
            let parts = std::mem::take(&mut cur);
            if parts.is_empty() {
                continue;
            }
            // Download everything first (parts are deleted 6 target durations after they
            // were live), then probe.
            let body = c.get(&format!("/{l}")).body;
            let parts = parts
                .into_iter()
                .map(|(uri, dur)| {
                    let r = c.get(&format!("/{uri}"));
                    assert_eq!(r.status, 200, "{uri}");
                    (uri, dur, r.body)
                })
                .collect();
            out.push(Fetched {
                seg: l.to_owned(),
                map: map.clone(),
                body,
                parts,
            });
        }
    }
    out
}

fn parts_blocking_reload_and_restart(container: &str) {
    let fmp4 = container == "fmp4";
    let ext = if fmp4 { "m4s" } else { "ts" };
    let dir = fresh_tmpfs_dir(&format!("ll-{container}"));
    let out = dir.join("out");
    let cap = dir.join("playlists");
    std::fs::create_dir_all(&cap).unwrap();
    let cfg = write_config(&dir, &out, container);
    let (proc1, port) = hlscam_proc::start(env!("CARGO_BIN_EXE_hlscam"), &cfg, &[], &[]);
    let mut delays = follow(port, &cap, 0, if fmp4 { 6 } else { 8 }, &out, ext);

    // Malformed and too-far requests get 400 at once; an unknown part 404.
    let mut c = Conn::new(port);
    let pl = c.get("/live.m3u8").text();
    let (msn, part) = hint(&pl);
    for bad in [
        format!("/live.m3u8?_HLS_msn={}", msn + 2),
        format!("/live.m3u8?_HLS_msn={msn}&_HLS_part={}", part + 20),
        "/live.m3u8?_HLS_part=1".to_owned(),
        "/live.m3u8?_HLS_msn=x".to_owned(),
    ] {
        let t0 = Instant::now();
        let r = c.get(&bad);
        assert_eq!(r.status, 400, "{bad}");
        assert!(t0.elapsed() < Duration::from_millis(500), "{bad} was held");
    }
    assert_eq!(c.get(&format!("/seg{}.3.{ext}", msn + 1)).status, 404);

    // The hinted part, asked for before it exists, is held and answered complete.
    let (msn, part) = hint(&c.get("/live.m3u8").text());
    let t0 = Instant::now();
    let r = c.get(&format!("/seg{msn}.{part}.{ext}"));
    let held = t0.elapsed();
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("Cache-Control"),
        Some("public, max-age=31536000, immutable")
    );
    let content_type = if fmp4 {
        "video/iso.segment"
    } else {
        "video/mp2t"
    };
    assert_eq!(r.header("Content-Type"), Some(content_type));
    if fmp4 {
        assert_eq!(&r.body[4..8], b"moof", "a part is one moof + mdat");
    } else {
        assert_eq!(r.body.len() % 188, 0);
    }
    assert!(held < Duration::from_millis(600), "held {held:?}");
    let on_disk = std::fs::read(out.join(format!("seg{msn}.{part}.{ext}"))).unwrap();
    assert_eq!(r.body, on_disk, "a held part is served complete");
    // Range on a part.
    let r = c.request(&format!("/seg{msn}.{part}.{ext}"), "Range: bytes=0-187\r\n");
    assert_eq!(r.status, 206);
    assert_eq!(r.body, on_disk[..188]);

    // Every listed part and segment: parts demux (TS: PAT/PMT first; fMP4: init + part),
    // with video and audio; independent parts and segments decode cleanly; parts concatenate
    // to their segment; video start times advance by the part durations across parts and
    // segments.
    let pl = c.get("/live.m3u8").text();
    let media = dir.join("media");
    std::fs::create_dir_all(&media).unwrap();
    let fetched = fetch_listed(&mut c, &pl);
    assert!(fetched.len() >= 2, "{pl}");
    let inits: Vec<(String, Vec<u8>)> = fetched
        .iter()
        .filter_map(|f| f.map.clone())
        .map(|m| {
            let r = c.get(&format!("/{m}"));
            assert_eq!(r.status, 200, "{m}");
            assert_eq!(r.header("Content-Type"), Some("video/mp4"), "{m}");
            assert_eq!(&r.body[4..8], b"ftyp", "{m}");
            (m, r.body)
        })
        .collect();
    assert_eq!(inits.is_empty(), !fmp4, "EXT-X-MAP only for fMP4:\n{pl}");
    let init_of = |f: &Fetched| {
        f.map
            .as_ref()
            .map(|m| &inits.iter().find(|(n, _)| n == m).unwrap().1[..])
    };
    let mut expect_pts: Option<f64> = None;
    for f in &fetched {
        let init = init_of(f);
        let seg_file = probe_file(&media, &f.seg, &f.body, init);
        ffmpeg_clean(&["-i", &seg_file, "-f", "null", "-"]);
        let mut joined = Vec::new();
        for (k, (uri, dur, body)) in f.parts.iter().enumerate() {
            if fmp4 {
                assert_eq!(&body[4..8], b"moof", "{uri} starts with a moof");
            } else {
                // Sync byte, PID 0 with payload start (the PAT), payload only (any counter).
                assert_eq!(&body[..3], &[0x47, 0x40, 0x00], "{uri} starts with a PAT");
                assert_eq!(body[3] & 0x30, 0x10, "{uri}");
            }
            let file = probe_file(&media, uri, body, init);
            let types = tools::stream_types(&file);
            assert!(
                types.contains("video") && types.contains("audio"),
                "{uri}: {types}"
            );
            if k == 0 {
                ffmpeg_clean(&["-i", &file, "-f", "null", "-"]);
            }
            let pts = first_video_pts(&file);
            if let Some(e) = expect_pts {
                assert!(
                    (pts - e).abs() < 0.002,
                    "{uri}: first PTS {pts}, expected {e}"
                );
            }
            expect_pts = Some(pts + dur);
            joined.extend_from_slice(body);
        }
        assert!(
            joined == f.body,
            "parts of {} do not concatenate to it",
            f.seg
        );
    }

    // Keep-alive held throughout: all of the above went over one connection each.
    // A restart continues the playlist with a discontinuity.
    drop(c);
    let pid = proc1.0.id().to_string();
    let _ = Command::new("kill").args(["-TERM", &pid]).status();
    let mut proc1 = proc1;
    let deadline = Instant::now() + Duration::from_secs(20);
    while proc1.0.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "hlscam did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
    let (_proc2, port2) = hlscam_proc::start(env!("CARGO_BIN_EXE_hlscam"), &cfg, &[], &[]);
    delays.extend(follow(port2, &cap, 1000, 4, &out, ext));
    check_playlists(
        &cap,
        &[
            ("LL_CHECK_EXPECT_SKIP", "1"),
            ("LL_CHECK_EXPECT_DISCONTINUITY", "1"),
        ],
    );
    if fmp4 {
        // tfdt continues across the restart: the segment after the discontinuity starts where
        // the one before it ends, with a new init segment.
        let pl = Conn::new(port2).get("/live.m3u8").text();
        let lines: Vec<&str> = pl.lines().collect();
        let at = lines
            .iter()
            .position(|l| *l == "#EXT-X-DISCONTINUITY")
            .unwrap_or_else(|| panic!("no discontinuity in\n{pl}"));
        assert!(lines[at + 1].starts_with("#EXT-X-MAP:"), "{pl}");
        let seg_before = lines[..at]
            .iter()
            .rev()
            .find(|l| l.starts_with("seg"))
            .unwrap();
        let extinf_before: f64 = lines[..at]
            .iter()
            .rev()
            .find_map(|l| l.strip_prefix("#EXTINF:"))
            .unwrap()
            .trim_end_matches(',')
            .parse()
            .unwrap();
        let seg_after = lines[at..].iter().find(|l| l.starts_with("seg")).unwrap();
        let maps: Vec<&str> = pl
            .lines()
            .filter_map(|l| l.strip_prefix("#EXT-X-MAP:URI=\""))
            .map(|m| m.trim_end_matches('"'))
            .collect();
        let start = |seg: &str, map: &str| {
            let init = std::fs::read(out.join(map)).unwrap();
            let body = std::fs::read(out.join(seg)).unwrap();
            first_video_pts(&probe_file(&media, seg, &body, Some(&init)))
        };
        let before = start(seg_before, maps[maps.len() - 2]);
        let after = start(seg_after, maps[maps.len() - 1]);
        assert!(
            (after - (before + extinf_before)).abs() < 0.002,
            "{seg_after} starts at {after}, {seg_before} at {before} + {extinf_before}"
        );
    }
    assert!(delays.len() > 20, "{} delays", delays.len());
    let (p50, p99) = (percentile(&mut delays, 0.5), percentile(&mut delays, 0.99));
    eprintln!(
        "{container}: part file written -> blocked playlist answered: p50 {p50:.1} ms, p99 {p99:.1} ms ({} reloads)",
        delays.len()
    );
    // Goal 10 ms on loopback (bench/ll_clients.sh measures it under load); bounded loosely here
    // so a busy CI machine does not fail the build, yet a reload that waits for the next part
    // (200 ms) or polls would.
    assert!(p50 < 50.0, "p50 {p50:.1} ms");
    let _ = std::fs::remove_dir_all(&dir);
}
