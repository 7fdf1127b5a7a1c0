//! Routes, headers, ranges, gzip, HEAD, CORS and status codes over real HTTP on 127.0.0.1.

mod http_util;
#[path = "support/tools.rs"]
mod tools;

use flate2::read::GzDecoder;
use http_util::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;
use tools::ffmpeg;

#[test]
fn playlist_headers_and_body() {
    let f = Fixture::new("pl");
    let r = get(f.addr, "/live.m3u8");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("application/vnd.apple.mpegurl")
    );
    assert_eq!(r.header("cache-control"), Some("no-cache"));
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_eq!(r.header("vary"), Some("Accept-Encoding"));
    assert_eq!(r.header("content-encoding"), None);
    assert_eq!(r.content_length(), Some(PLAYLIST.len() as u64));
    assert_eq!(r.body, PLAYLIST.as_bytes());
    assert_eq!(r.count("transfer-encoding"), 0);
    assert!(r.header("date").is_some());
    // The query string is ignored.
    let q = get(f.addr, "/live.m3u8?_HLS_msn=5&x=/../../etc/passwd");
    assert_eq!(q.status, 200);
    assert_eq!(q.body, PLAYLIST.as_bytes());
}

#[test]
fn playlist_gzip_when_accepted() {
    let f = Fixture::new("gz");
    let r = req(
        f.addr,
        "GET",
        "/live.m3u8",
        "Accept-Encoding: br, gzip;q=0.8\r\n",
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert_eq!(r.header("vary"), Some("Accept-Encoding"));
    assert_eq!(r.content_length(), Some(r.body.len() as u64));
    let mut text = String::new();
    GzDecoder::new(&r.body[..])
        .read_to_string(&mut text)
        .unwrap();
    assert_eq!(text, PLAYLIST);

    let head = req(f.addr, "HEAD", "/live.m3u8", "Accept-Encoding: gzip\r\n");
    assert_eq!(head.content_length(), r.content_length());
    assert!(head.body.is_empty());

    let refused = req(f.addr, "GET", "/live.m3u8", "Accept-Encoding: gzip;q=0\r\n");
    assert_eq!(refused.header("content-encoding"), None);
    assert_eq!(refused.body, PLAYLIST.as_bytes());
}

#[test]
fn big_segment_has_content_length_not_chunked() {
    let f = Fixture::new("big");
    let want = read_file(&f.path("seg2.ts"));
    assert!(want.len() >= 1 << 20);
    // `TE: chunked` must not switch the server to chunked framing either.
    let r = req(f.addr, "GET", "/seg2.ts", "TE: chunked\r\n");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("video/mp2t"));
    assert_eq!(r.content_length(), Some(want.len() as u64));
    assert_eq!(r.count("transfer-encoding"), 0);
    assert_eq!(
        r.header("cache-control"),
        Some("public, max-age=31536000, immutable")
    );
    assert_eq!(r.header("accept-ranges"), Some("bytes"));
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert!(r.body == want, "segment bytes differ");
}

#[test]
fn head_on_every_route_has_headers_and_no_body() {
    let f = Fixture::new("head");
    let routes = [
        "/live.m3u8",
        "/seg1.ts",
        "/seg2.ts",
        "/",
        "/index.html",
        "/hls.min.js",
        "/api/status",
        "/healthz",
        "/seg99.ts",
    ];
    // One keep-alive connection: if a HEAD response carried a body, the next response would
    // not parse.
    let mut s = connect(f.addr);
    let mut r = BufReader::new(s.try_clone().unwrap());
    for path in routes {
        write!(s, "HEAD {path} HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
        let h = read_response(&mut r, true).unwrap();
        write!(s, "GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
        let g = read_response(&mut r, false).unwrap();
        assert_eq!(h.status, g.status, "{path}");
        assert!(
            h.content_length().is_some(),
            "{path}: HEAD without Content-Length"
        );
        if path != "/api/status" {
            // The status JSON changes between the two requests (uptime, counters).
            assert_eq!(h.content_length(), g.content_length(), "{path}");
        }
        assert_eq!(h.header("content-type"), g.header("content-type"), "{path}");
    }
}

#[test]
fn byte_ranges_on_segments() {
    let f = Fixture::new("range");
    let want = read_file(&f.path("seg2.ts"));
    let len = want.len() as u64;
    let cases: [(&str, u64, u64); 4] = [
        ("bytes=0-99", 0, 99),
        ("bytes=1000000-", 1_000_000, len - 1),
        ("bytes=-188", len - 188, len - 1),
        ("bytes=5-5", 5, 5),
    ];
    for (range, first, last) in cases {
        let r = req(f.addr, "GET", "/seg2.ts", &format!("Range: {range}\r\n"));
        assert_eq!(r.status, 206, "{range}");
        assert_eq!(
            r.header("content-range"),
            Some(format!("bytes {first}-{last}/{len}").as_str())
        );
        assert_eq!(r.content_length(), Some(last - first + 1));
        assert!(r.body == want[first as usize..=last as usize], "{range}");
        assert_eq!(r.header("content-type"), Some("video/mp2t"));
    }
    for unsat in ["bytes=2000000-", "bytes=-0"] {
        let r = req(f.addr, "GET", "/seg2.ts", &format!("Range: {unsat}\r\n"));
        assert_eq!(r.status, 416, "{unsat}");
        assert_eq!(
            r.header("content-range"),
            Some(format!("bytes */{len}").as_str())
        );
        assert_eq!(r.content_length(), Some(0));
    }
    // Multiple ranges, malformed ranges and If-Range are ignored: 200 with the whole segment.
    for ignored in [
        "Range: bytes=0-1,5-6\r\n",
        "Range: bytes=9-1\r\n",
        "Range: pages=1-2\r\n",
        "Range: bytes=0-1\r\nIf-Range: \"x\"\r\n",
    ] {
        let r = req(f.addr, "GET", "/seg2.ts", ignored);
        assert_eq!(r.status, 200, "{ignored:?}");
        assert_eq!(r.content_length(), Some(len));
        assert_eq!(r.header("content-range"), None);
    }
    let h = req(f.addr, "HEAD", "/seg2.ts", "Range: bytes=10-19\r\n");
    assert_eq!(h.status, 206);
    assert_eq!(h.content_length(), Some(10));
}

#[test]
fn options_preflight_and_disallowed_methods() {
    let f = Fixture::new("opt");
    let r = req(
        f.addr,
        "OPTIONS",
        "/seg1.ts",
        "Origin: http://x\r\nAccess-Control-Request-Method: GET\r\nAccess-Control-Request-Headers: range\r\n",
    );
    assert_eq!(r.status, 204);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert!(r
        .header("access-control-allow-methods")
        .unwrap()
        .contains("GET"));
    assert!(r
        .header("access-control-allow-headers")
        .unwrap()
        .to_ascii_lowercase()
        .contains("range"));
    assert_eq!(r.header("content-length"), None);
    assert_eq!(req(f.addr, "OPTIONS", "*", "").status, 204);

    assert!(r
        .header("access-control-allow-methods")
        .unwrap()
        .contains("POST"));
    assert!(r
        .header("access-control-allow-headers")
        .unwrap()
        .contains("Content-Type"));

    for m in ["POST", "PUT", "DELETE", "PATCH", "TRACE", "BREW"] {
        let r = req(f.addr, m, "/live.m3u8", "");
        assert_eq!(r.status, 405, "{m}");
        assert_eq!(r.header("allow"), Some("GET, HEAD, POST, DELETE, OPTIONS"));
    }
}

#[test]
fn request_bodies_are_consumed_and_pipelining_continues() {
    let f = Fixture::new("bodies");
    let mut s = connect(f.addr);
    // A POST with a body (405 on this route), a GET carrying a body, a DELETE without one and
    // a plain GET, all pipelined in one write: every body is consumed exactly, so each
    // following request is parsed from the right byte.
    s.write_all(
        b"POST /live.m3u8 HTTP/1.1\r\nHost: t\r\nContent-Length: 25\r\n\r\nGET /seg1.ts HTTP/1.1\r\n\r\n\
          GET /seg1.ts HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello\
          DELETE /seg1.ts HTTP/1.1\r\nHost: t\r\n\r\n\
          GET /live.m3u8 HTTP/1.1\r\nHost: t\r\n\r\n",
    )
    .unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let a = read_response(&mut r, false).unwrap();
    assert_eq!(a.status, 405);
    assert_eq!(a.header("connection"), None);
    let b = read_response(&mut r, false).unwrap();
    assert_eq!((b.status, b.body.len()), (200, 1000));
    assert_eq!(read_response(&mut r, false).unwrap().status, 405);
    let d = read_response(&mut r, false).unwrap();
    assert_eq!(d.body, PLAYLIST.as_bytes());

    // A body sent in pieces after the head, with `Expect: 100-continue` answered first; the
    // request after it on the same connection still works.
    s.write_all(
        b"POST /live.m3u8 HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 8192\r\n\r\n",
    )
    .unwrap();
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    assert_eq!(line, "HTTP/1.1 100 Continue\r\n");
    line.clear();
    r.read_line(&mut line).unwrap();
    assert_eq!(line, "\r\n");
    for _ in 0..4 {
        s.write_all(&[b'x'; 2048]).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    s.write_all(b"GET /seg1.ts HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut r, false).unwrap().status, 405);
    let e = read_response(&mut r, false).unwrap();
    assert_eq!((e.status, e.body.len()), (200, 1000));
    assert_eq!(e.header("connection"), Some("close"));
    let mut rest = Vec::new();
    r.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
}

#[test]
fn missing_and_vanished_segments_are_404() {
    let f = Fixture::new("404");
    assert_eq!(get(f.addr, "/seg7.ts").status, 404);
    assert_eq!(get(f.addr, "/seg1.ts").status, 200);
    // The ring deletes a segment a client still has in its playlist.
    std::fs::remove_file(f.path("seg1.ts")).unwrap();
    let r = get(f.addr, "/seg1.ts");
    assert_eq!(r.status, 404);
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(get(f.addr, "/nothing-here").status, 404);
}

#[test]
fn status_json_and_request_counter() {
    let f = Fixture::new("status");
    let before = f.stats.requests.load(Relaxed);
    let r = get(f.addr, "/api/status");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    for key in [
        "uptime_s",
        "source",
        "encoder",
        "frames_out",
        "fps",
        "drops",
        "bitrate_kbps",
        "segments",
        "clients",
        "restarts",
        "encoder_fallbacks",
    ] {
        assert!(v.get(key).is_some(), "missing {key} in {v}");
    }
    // The requesting connection itself is open while the snapshot is taken.
    assert!(v["clients"].as_u64().unwrap() >= 1);
    get(f.addr, "/live.m3u8");
    get(f.addr, "/seg9.ts");
    assert!(f.stats.requests.load(Relaxed) >= before + 3);
}

#[test]
fn healthz_follows_the_playlist() {
    let f = Fixture::with("health", 4, Duration::from_secs(5), false);
    let r = get(f.addr, "/healthz");
    assert_eq!(r.status, 503);
    assert_eq!(get(f.addr, "/live.m3u8").status, 404);
    std::fs::write(f.path("live.m3u8"), PLAYLIST).unwrap();
    let r = get(f.addr, "/healthz");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, b"ok\n");
}

#[test]
fn player_page_and_hlsjs() {
    let f = Fixture::new("page");
    for p in ["/", "/index.html"] {
        let r = get(f.addr, p);
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
        assert_eq!(r.body, hlscam::http::player::page_html());
    }
    let r = get(f.addr, "/hls.min.js");
    match hlscam::http::player::hlsjs() {
        Some(js) => {
            assert_eq!(r.status, 200);
            assert!(r
                .header("content-type")
                .unwrap()
                .starts_with("application/javascript"));
            assert!(r.header("cache-control").unwrap().contains("max-age="));
            assert_eq!(r.header("vary"), Some("Accept-Encoding"));
            assert_eq!(r.header("content-encoding"), None);
            assert_eq!(r.body, js);
        }
        None => assert_eq!(r.status, 404),
    }
}

/// `/hls.min.js` with and without `Accept-Encoding: gzip` yields npm's file byte for byte (after
/// gunzip for the gzip answer), with exact `Content-Length`s, matching HEADs, and `Range` ignored
/// as on the other built-in routes.
#[test]
fn hlsjs_gzip_and_identity_match_node_modules() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/web/node_modules/hls.js/dist/hls.min.js"
    );
    let f = Fixture::new("hlsjs");
    let Ok(npm) = std::fs::read(path) else {
        // Not bundled (no `npm ci`): the route is absent whatever the client accepts.
        assert_eq!(hlscam::http::player::hlsjs_gzip(), None);
        for ae in ["", "Accept-Encoding: gzip\r\n"] {
            assert_eq!(req(f.addr, "GET", "/hls.min.js", ae).status, 404);
        }
        return;
    };
    assert!(npm.len() > 100_000);

    let plain = get(f.addr, "/hls.min.js");
    assert_eq!(plain.status, 200);
    assert_eq!(plain.header("content-encoding"), None);
    assert_eq!(plain.header("vary"), Some("Accept-Encoding"));
    assert_eq!(plain.count("transfer-encoding"), 0);
    assert_eq!(plain.content_length(), Some(npm.len() as u64));
    assert!(plain.body == npm, "identity body differs from node_modules");

    for ae in ["gzip", "deflate, gzip;q=0.5, br", "x-gzip"] {
        let gz = req(
            f.addr,
            "GET",
            "/hls.min.js",
            &format!("Accept-Encoding: {ae}\r\n"),
        );
        assert_eq!(gz.status, 200, "{ae}");
        assert_eq!(gz.header("content-encoding"), Some("gzip"), "{ae}");
        assert_eq!(gz.header("vary"), Some("Accept-Encoding"));
        assert_eq!(gz.content_length(), Some(gz.body.len() as u64));
        assert!(gz.body.len() * 2 < npm.len(), "{} bytes", gz.body.len());
        let mut inflated = Vec::new();
        GzDecoder::new(&gz.body[..])
            .read_to_end(&mut inflated)
            .unwrap();
        assert!(inflated == npm, "gunzipped body differs from node_modules");

        let head = req(
            f.addr,
            "HEAD",
            "/hls.min.js",
            &format!("Accept-Encoding: {ae}\r\n"),
        );
        assert_eq!(head.status, 200);
        assert_eq!(head.content_length(), gz.content_length());
        assert_eq!(head.header("content-encoding"), Some("gzip"));
        assert!(head.body.is_empty());
    }

    // gzip refused with q=0: identity.
    let refused = req(
        f.addr,
        "GET",
        "/hls.min.js",
        "Accept-Encoding: gzip;q=0\r\n",
    );
    assert_eq!(refused.header("content-encoding"), None);
    assert!(refused.body == npm);

    // Range is ignored on built-in routes: 200 and the whole body, in either coding.
    let ranged = req(f.addr, "GET", "/hls.min.js", "Range: bytes=0-99\r\n");
    assert_eq!(ranged.status, 200);
    assert_eq!(ranged.header("content-range"), None);
    assert!(ranged.body == npm);
    let ranged = req(
        f.addr,
        "GET",
        "/hls.min.js",
        "Range: bytes=0-99\r\nAccept-Encoding: gzip\r\n",
    );
    assert_eq!(ranged.status, 200);
    assert_eq!(ranged.header("content-range"), None);
    assert_eq!(ranged.content_length(), Some(ranged.body.len() as u64));
}

#[test]
fn keep_alive_pipelining_and_http10_close() {
    let f = Fixture::new("ka");
    let mut s = connect(f.addr);
    // Two pipelined requests in one write, then a third later on the same connection.
    s.write_all(
        b"GET /seg1.ts HTTP/1.1\r\nHost: t\r\n\r\nGET /live.m3u8 HTTP/1.1\r\nHost: t\r\n\r\n",
    )
    .unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let a = read_response(&mut r, false).unwrap();
    let b = read_response(&mut r, false).unwrap();
    assert_eq!((a.status, a.body.len()), (200, 1000));
    assert_eq!(b.body, PLAYLIST.as_bytes());
    assert_eq!(a.header("connection"), None);
    s.write_all(b"GET http://cam.local/seg1.ts HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let c = read_response(&mut r, false).unwrap();
    assert_eq!(c.status, 200);
    assert_eq!(c.header("connection"), Some("close"));
    let mut rest = Vec::new();
    r.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());

    // HTTP/1.0: one response, then the server closes.
    let mut s = connect(f.addr);
    s.write_all(b"GET /live.m3u8 HTTP/1.0\r\n\r\n").unwrap();
    let mut r = BufReader::new(s);
    let d = read_response(&mut r, false).unwrap();
    assert_eq!(d.body, PLAYLIST.as_bytes());
    assert_eq!(d.header("connection"), Some("close"));
    let mut rest = Vec::new();
    r.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
}

#[test]
fn real_ts_segment_survives_the_trip() {
    let f = Fixture::new("ffmpeg");
    let seg = f.path("seg5.ts");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=160x120:rate=10",
        "-t",
        "1",
        "-c:v",
        "libx264",
        "-f",
        "mpegts",
        seg.to_str().unwrap(),
    ]);
    let r = get(f.addr, "/seg5.ts");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, read_file(&seg));
    let out = f.dir.0.join("downloaded.ts");
    std::fs::write(&out, &r.body).unwrap();
    let probe = std::process::Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name:format=format_name",
        ])
        .args(["-of", "default=nw=1"])
        .arg(&out)
        .output()
        .expect("ffprobe runs");
    let text = String::from_utf8_lossy(&probe.stdout);
    assert!(text.contains("codec_name=h264"), "{text}");
    assert!(text.contains("format_name=mpegts"), "{text}");
}
