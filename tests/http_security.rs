//! Only the ring's files are served: hostile targets get 4xx, never file contents, and a
//! warning naming the client.

mod http_util;

use http_util::*;
use std::io::{BufReader, Read, Write};
use std::net::SocketAddr;
use std::sync::Mutex;

/// Captures log records so the tests can check the warnings.
struct Capture;
static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, r: &log::Record<'_>) {
        LINES
            .lock()
            .unwrap()
            .push(format!("{} {}", r.level(), r.args()));
    }
    fn flush(&self) {}
}

fn init_log() {
    static L: Capture = Capture;
    let _ = log::set_logger(&L);
    log::set_max_level(log::LevelFilter::Debug);
}

/// The warnings that mention this client address.
fn warnings_for(client: SocketAddr) -> Vec<String> {
    let tag = client.to_string();
    LINES
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.starts_with("WARN") && l.contains(&tag))
        .cloned()
        .collect()
}

/// Sends raw bytes, returns (response, the client's own address).
fn raw(addr: SocketAddr, bytes: &[u8]) -> (Resp, SocketAddr) {
    let mut s = connect(addr);
    let me = s.local_addr().unwrap();
    s.write_all(bytes).unwrap();
    let mut r = BufReader::new(s);
    (read_response(&mut r, false).unwrap(), me)
}

fn assert_no_secret(r: &Resp, what: &str) {
    let body = String::from_utf8_lossy(&r.body);
    for secret in ["SECRET", "root:", "#EXTM3U", "OUTSIDE"] {
        assert!(!body.contains(secret), "{what}: leaked {secret:?}: {body}");
    }
    assert_ne!(r.body.len(), 1000, "{what}: looks like seg1.ts");
}

#[test]
fn hostile_targets_get_4xx_and_a_warning() {
    init_log();
    let f = Fixture::new("evil");
    // A file next to the segment directory that traversal would reach.
    let outside = f
        .dir
        .0
        .parent()
        .unwrap()
        .join(format!("hlscam-outside-{}.txt", std::process::id()));
    std::fs::write(&outside, b"OUTSIDE").unwrap();
    let outside_name = outside.file_name().unwrap().to_str().unwrap().to_string();
    let dir_name = f.dir.0.file_name().unwrap().to_str().unwrap().to_string();

    let suspicious: Vec<String> = vec![
        "/../live.m3u8".into(),
        format!("/../{outside_name}"),
        format!("/%2e%2e/{outside_name}"),
        format!("/%2E%2E%2F{outside_name}"),
        format!("/..%2f{outside_name}"),
        format!("/%252e%252e%252f{outside_name}"),
        format!("/..\\{outside_name}"),
        format!("/..%5c{outside_name}"),
        format!("/../{dir_name}/seg1.ts"),
        "/seg1.ts/../live.m3u8".into(),
        "/seg1.ts%00".into(),
        "/seg1.ts%00.m3u8".into(),
        "/.seg3.ts.part".into(),
        "/.live.m3u8.part".into(),
        "/.hlscam-state".into(),
        "/./seg1.ts".into(),
        "//etc/passwd".into(),
        "/seg1.ts\\".into(),
        "%2flive.m3u8".into(),
        "live.m3u8".into(),
    ];
    for t in &suspicious {
        let (r, me) = raw(
            f.addr,
            format!("GET {t} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes(),
        );
        assert_eq!(r.status, 400, "{t}");
        assert_no_secret(&r, t);
        let w = warnings_for(me);
        assert!(
            w.iter().any(|l| l.contains("rejected target")),
            "{t}: no warning naming {me}: {w:?}"
        );
    }
    // Plausible but unknown names: 404, nothing served.
    for t in [
        "/etc/passwd",
        "/seg1",
        "/seg1.ts.part",
        "/SEG1.TS",
        "/seg-1.ts",
        "/live.m3u",
    ] {
        let r = get(f.addr, t);
        assert_eq!(r.status, 404, "{t}");
        assert_no_secret(&r, t);
    }
    // Raw bytes the parser refuses outright.
    let bad_lines: [&[u8]; 5] = [
        b"GET /seg1.ts\0 HTTP/1.1\r\n\r\n",
        b"GET /seg1.ts\x7f HTTP/1.1\r\n\r\n",
        b"GET /s\xc3\xa9g1.ts HTTP/1.1\r\n\r\n",
        b"GET /seg1.ts\tHTTP/1.1\r\n\r\n",
        b"GET /seg1.ts HTTP/1.1\r\nX: a\0b\r\n\r\n",
    ];
    for b in bad_lines {
        let (r, me) = raw(f.addr, b);
        assert_eq!(r.status, 400, "{:?}", String::from_utf8_lossy(b));
        assert_no_secret(&r, "raw");
        assert!(!warnings_for(me).is_empty(), "no warning for {me}");
    }
    std::fs::remove_file(&outside).unwrap();
}

#[test]
fn over_long_request_line_gets_414_and_close() {
    init_log();
    let f = Fixture::new("long");
    let long = format!(
        "GET /seg1.ts?{} HTTP/1.1\r\nHost: x\r\n\r\n",
        "a".repeat(2048)
    );
    let mut s = connect(f.addr);
    let me = s.local_addr().unwrap();
    s.write_all(long.as_bytes()).unwrap();
    let mut r = BufReader::new(s);
    let resp = read_response(&mut r, false).unwrap();
    assert_eq!(resp.status, 414);
    assert_eq!(resp.header("connection"), Some("close"));
    let mut rest = Vec::new();
    let _ = r.read_to_end(&mut rest);
    assert!(rest.is_empty());
    assert!(warnings_for(me).iter().any(|l| l.contains("1 KiB")));

    // A request line that never ends is cut at the limit too (no newline ever sent).
    let mut s = connect(f.addr);
    s.write_all(b"GET /").unwrap();
    s.write_all(&[b'a'; 1500]).unwrap();
    let mut r = BufReader::new(s);
    assert_eq!(read_response(&mut r, false).unwrap().status, 414);
}

#[test]
fn oversized_header_block_gets_431() {
    let f = Fixture::new("431");
    let mut req = String::from("GET /live.m3u8 HTTP/1.1\r\nHost: x\r\n");
    for i in 0..200 {
        req.push_str(&format!("X-Filler-{i}: {}\r\n", "v".repeat(40)));
    }
    req.push_str("\r\n");
    let (r, _) = raw(f.addr, req.as_bytes());
    assert_eq!(r.status, 431);
    assert_no_secret(&r, "431");
    let (r, _) = raw(f.addr, b"GET /live.m3u8 HTTP/2.0\r\n\r\n");
    assert_eq!(r.status, 505);
}

#[test]
fn oversized_chunked_and_bad_length_bodies_are_refused_and_closed() {
    init_log();
    let f = Fixture::new("bodies");
    for (raw_req, status) in [
        (
            format!(
                "POST /live.m3u8 HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
                8193
            ),
            413,
        ),
        (
            "POST /live.m3u8 HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n"
                .to_string(),
            413,
        ),
        (
            "POST /live.m3u8 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
                .to_string(),
            411,
        ),
        (
            "GET /live.m3u8 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"
                .to_string(),
            400,
        ),
    ] {
        let mut s = connect(f.addr);
        let me = s.local_addr().unwrap();
        s.write_all(raw_req.as_bytes()).unwrap();
        // What follows the head is never taken for a request.
        s.write_all(b"GET /seg1.ts HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut r = BufReader::new(s);
        let resp = read_response(&mut r, false).unwrap();
        assert_eq!(resp.status, status, "{raw_req:?}");
        assert_eq!(resp.header("connection"), Some("close"));
        assert_no_secret(&resp, "body refusal");
        let mut rest = Vec::new();
        let _ = r.read_to_end(&mut rest);
        assert!(rest.is_empty(), "{status}: more after the refusal");
        assert!(!warnings_for(me).is_empty(), "{status} not logged");
    }
}
