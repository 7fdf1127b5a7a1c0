//! Slow and idle clients cannot pin the server: connection cap, request-head deadline, write
//! deadline, shutdown. Bounds are generous; nothing asserts a duration.

mod http_util;

use http_util::*;
use std::io::{BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

const MAX: usize = 8;
const TIMEOUT: Duration = Duration::from_secs(1);

/// Sleeps in small steps until `cond` holds, at most `steps` × 50 ms.
fn eventually(steps: u32, mut cond: impl FnMut() -> bool) -> bool {
    for _ in 0..steps {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    cond()
}

#[test]
fn stalled_connections_cannot_lock_out_a_normal_client() {
    let f = Fixture::with("slowloris", MAX, TIMEOUT, true);
    // MAX + 4 connections that send half a request line and then nothing.
    let mut stalled: Vec<TcpStream> = (0..MAX + 4)
        .map(|_| {
            let mut s = connect(f.addr);
            s.write_all(b"GET /live.m3u8 HT").unwrap();
            s
        })
        .collect();
    // The server holds at most MAX of them at once.
    let mut peak = 0;
    eventually(10, || {
        peak = peak.max(f.stats.clients.load(Relaxed));
        false
    });
    assert!(peak as usize <= MAX, "peak {peak} connections open");

    // A normal client still gets the playlist (it waits in the backlog for a free slot).
    let r = get(f.addr, "/live.m3u8");
    assert_eq!(r.status, 200);
    assert_eq!(r.body, PLAYLIST.as_bytes());

    // Every stalled connection is answered (408) and closed by the server.
    for s in &mut stalled {
        assert!(
            closed_by_server(s, CLIENT_TIMEOUT),
            "stalled connection left open"
        );
    }
    assert!(eventually(200, || f.stats.clients.load(Relaxed) == 0));
}

#[test]
fn stalled_connection_gets_408() {
    let f = Fixture::with("408", MAX, TIMEOUT, true);
    let mut s = connect(f.addr);
    s.write_all(b"GET /live.m3u8 HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let mut r = BufReader::new(s);
    let resp = read_response(&mut r, false).unwrap();
    assert_eq!(resp.status, 408);
    assert_eq!(resp.header("connection"), Some("close"));
}

#[test]
fn drip_fed_request_head_is_cut_off() {
    let f = Fixture::with("drip", MAX, TIMEOUT, true);
    let mut s = connect(f.addr);
    // One header byte every 200 ms never completes a head; each read alone is well inside the
    // per-read timeout, so only the whole-head deadline can end it.
    s.write_all(b"GET /live.m3u8 HTTP/1.1\r\n").unwrap();
    let mut cut = false;
    for _ in 0..100 {
        if s.write_all(b"X").is_err() {
            cut = true;
            break;
        }
        if closed_by_server(&mut s, Duration::from_millis(200)) {
            cut = true;
            break;
        }
    }
    assert!(cut, "server kept a drip-fed head open for 100 bytes");
}

#[test]
fn slow_request_body_gets_408() {
    let f = Fixture::with("slowbody", MAX, TIMEOUT, true);
    let mut s = connect(f.addr);
    // The head is complete at once; the body (100 bytes announced) arrives one byte per 200 ms,
    // so only the request deadline (head + body within TIMEOUT) can end it.
    s.write_all(b"POST /live.m3u8 HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
        .unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let writer = std::thread::spawn(move || {
        for _ in 0..50 {
            if s.write_all(b"X").is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    let resp = read_response(&mut r, false).unwrap();
    assert_eq!(resp.status, 408);
    assert_eq!(resp.header("connection"), Some("close"));
    writer.join().unwrap();
}

#[test]
fn idle_keep_alive_connection_is_closed() {
    let f = Fixture::with("idle", MAX, TIMEOUT, true);
    let mut s = connect(f.addr);
    s.write_all(b"GET /seg1.ts HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    assert_eq!(read_response(&mut r, false).unwrap().status, 200);
    assert!(closed_by_server(&mut s, CLIENT_TIMEOUT));
    assert!(eventually(200, || f.stats.clients.load(Relaxed) == 0));
}

#[test]
fn client_that_never_reads_is_dropped() {
    let f = Fixture::with("noread", 1, TIMEOUT, true);
    // Ask for the 1.5 MiB segment many times and never read: the socket buffers fill up and
    // the server's writes stall.
    let mut s = connect(f.addr);
    let mut pipelined = Vec::new();
    for _ in 0..20 {
        pipelined.extend_from_slice(b"GET /seg2.ts HTTP/1.1\r\nHost: x\r\n\r\n");
    }
    s.write_all(&pipelined).unwrap();
    assert!(
        eventually(400, || f.stats.clients.load(Relaxed) == 0),
        "writer still pinned"
    );
    // With a cap of one, the slot is free again for a normal client.
    let r = get(f.addr, "/live.m3u8");
    assert_eq!(r.status, 200);
    drop(s);
}

#[test]
fn shutdown_closes_connections_and_stops_listening() {
    let mut f = Fixture::with("shutdown", MAX, Duration::from_secs(30), true);
    let mut idle = connect(f.addr);
    idle.write_all(b"GET /live").unwrap();
    assert!(eventually(100, || f.stats.clients.load(Relaxed) == 1));
    f.server.take().unwrap().shutdown();
    assert!(closed_by_server(&mut idle, CLIENT_TIMEOUT));
    assert_eq!(f.stats.clients.load(Relaxed), 0);
    assert!(TcpStream::connect(f.addr).is_err(), "still listening");
}

/// The fact the server's design note cites: on Linux an accepted socket inherits
/// SO_RCVTIMEO/SO_SNDTIMEO from its listener (std exposes no setter on `TcpListener`, hence
/// libc). The server sets both on every accepted socket regardless.
#[cfg(target_os = "linux")]
#[test]
fn linux_accepted_sockets_inherit_listener_timeouts() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let tv = libc::timeval {
        tv_sec: 3,
        tv_usec: 0,
    };
    for opt in [libc::SO_RCVTIMEO, libc::SO_SNDTIMEO] {
        // SAFETY: valid fd owned by `l`; pointer and length describe a live `timeval`.
        let rc = unsafe {
            libc::setsockopt(
                l.as_raw_fd(),
                libc::SOL_SOCKET,
                opt,
                &tv as *const libc::timeval as *const libc::c_void,
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0);
    }
    let _c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
    let (a, _) = l.accept().unwrap();
    assert_eq!(a.read_timeout().unwrap(), Some(Duration::from_secs(3)));
    assert_eq!(a.write_timeout().unwrap(), Some(Duration::from_secs(3)));
}
