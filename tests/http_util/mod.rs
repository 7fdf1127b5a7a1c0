//! Shared helpers of the HTTP integration tests: a temporary segment directory, a server on
//! 127.0.0.1:0 and a tiny hand-written HTTP/1.1 client over std `TcpStream`.
#![allow(dead_code)]

use hlscam::http::{HttpConfig, HttpServer};
use hlscam::stats::Stats;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Client-side timeout: far above any server deadline used in the tests.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(20);

pub const PLAYLIST: &str = "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:1\n#EXTINF:2.000,\nseg1.ts\n#EXTINF:2.000,\nseg2.ts\n#EXTINF:2.000,\nseg3.ts\n";

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "hlscam-http-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Deterministic synthetic segment bytes (TS-like 188-byte packets with a counter).
pub fn synthetic(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| {
            if i % 188 == 0 {
                0x47
            } else {
                (i as u32).wrapping_mul(31).wrapping_add(seed as u32) as u8
            }
        })
        .collect()
}

/// A running server over a temp dir holding a playlist, `seg1.ts` (1000 bytes), `seg2.ts`
/// (1.5 MiB) and the writer's hidden files.
pub struct Fixture {
    pub dir: TempDir,
    pub stats: Arc<Stats>,
    pub server: Option<HttpServer>,
    pub addr: SocketAddr,
}

impl Fixture {
    pub fn new(tag: &str) -> Fixture {
        Fixture::with(tag, 8, Duration::from_secs(5), true)
    }

    pub fn with(tag: &str, max: usize, timeout: Duration, files: bool) -> Fixture {
        let dir = TempDir::new(tag);
        if files {
            std::fs::write(dir.0.join("live.m3u8"), PLAYLIST).unwrap();
            std::fs::write(dir.0.join("seg1.ts"), synthetic(1000, 1)).unwrap();
            std::fs::write(dir.0.join("seg2.ts"), synthetic(1536 * 1024, 2)).unwrap();
            std::fs::write(dir.0.join(".seg3.ts.part"), b"PARTIAL-SECRET").unwrap();
            std::fs::write(dir.0.join(".live.m3u8.part"), b"PARTIAL-SECRET").unwrap();
            std::fs::write(dir.0.join(".hlscam-state"), b"STATE-SECRET").unwrap();
        }
        let stats = Arc::new(Stats::new());
        let server = HttpServer::start(
            HttpConfig {
                listen: "127.0.0.1:0".into(),
                dir: dir.0.clone(),
                max_connections: max,
                io_timeout: timeout,
                live: None,
                record: None,
                renditions: None,
            },
            stats.clone(),
        )
        .unwrap();
        let addr = server.local_addr();
        Fixture {
            dir,
            stats,
            server: Some(server),
            addr,
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.0.join(name)
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some(s) = self.server.take() {
            s.shutdown();
        }
    }
}

/// A parsed response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn count(&self, name: &str) -> usize {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .count()
    }

    pub fn content_length(&self) -> Option<u64> {
        self.header("content-length").map(|v| v.parse().unwrap())
    }
}

pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect_timeout(&addr, CLIENT_TIMEOUT).unwrap();
    s.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
    s.set_write_timeout(Some(CLIENT_TIMEOUT)).unwrap();
    s
}

/// Reads one response. `head_only`: the request was HEAD (no body follows). Bodies are read by
/// `Content-Length`; a chunked response is an error (the server must never send one).
pub fn read_response<R: BufRead>(r: &mut R, head_only: bool) -> io::Result<Resp> {
    let mut line = String::new();
    if r.read_line(&mut line)? == 0 {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "no response"));
    }
    let mut parts = line.trim_end().splitn(3, ' ');
    assert_eq!(parts.next(), Some("HTTP/1.1"), "status line {line:?}");
    let status: u16 = parts.next().unwrap().parse().unwrap();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h)?;
        assert!(h.ends_with("\r\n"), "header line {h:?}");
        let h = h.trim_end_matches("\r\n");
        if h.is_empty() {
            break;
        }
        let (n, v) = h.split_once(':').expect("header has a colon");
        headers.push((n.to_string(), v.trim().to_string()));
    }
    let mut resp = Resp {
        status,
        headers,
        body: Vec::new(),
    };
    if resp
        .header("transfer-encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"))
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "chunked response",
        ));
    }
    let no_body = head_only || status == 204 || status == 304 || (100..200).contains(&status);
    if !no_body {
        let len = resp
            .content_length()
            .expect("Content-Length on every response");
        resp.body = vec![0u8; len as usize];
        r.read_exact(&mut resp.body)?;
    }
    Ok(resp)
}

/// Sends `raw` on a fresh connection and reads one response.
pub fn exchange(addr: SocketAddr, raw: &[u8], head_only: bool) -> Resp {
    let mut s = connect(addr);
    s.write_all(raw).unwrap();
    let mut r = BufReader::new(s);
    read_response(&mut r, head_only).unwrap()
}

/// `METHOD target` with `extra` header lines (each ending in `\r\n`).
pub fn req(addr: SocketAddr, method: &str, target: &str, extra: &str) -> Resp {
    let raw = format!("{method} {target} HTTP/1.1\r\nHost: test\r\n{extra}\r\n");
    exchange(addr, raw.as_bytes(), method == "HEAD")
}

pub fn get(addr: SocketAddr, target: &str) -> Resp {
    req(addr, "GET", target, "")
}

/// Reads until EOF; `Ok(true)` when the server closed (EOF or reset), `Ok(false)` on timeout.
pub fn closed_by_server(s: &mut TcpStream, within: Duration) -> bool {
    s.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return false
            }
            Err(_) => return true, // reset
        }
    }
}

pub fn read_file(p: &Path) -> Vec<u8> {
    std::fs::read(p).unwrap()
}
