//! The publisher allocates nothing on the mux thread once warm: a counting global allocator
//! around 10 800 frames of video plus audio through HlsOutput into real files (tmpfs when
//! /dev/shm exists) with a [`Publisher`] consumer uploading to an HTTP origin on 127.0.0.1 —
//! once with an origin that answers (a small in-test server: `PUT` 201, `DELETE` 204), which
//! the unpaced run outruns so the drop-oldest path runs too, and once with a dead origin
//! (connection refused: every segment skipped). Its own test binary, with a single test, so
//! nothing else allocates on the measured thread (the upload thread's own allocations are not
//! counted: only the mux thread's are the frame path's).

#[path = "support/counting_alloc.rs"]
mod counting_alloc;
mod hls_support;
#[path = "support/tools.rs"]
mod tools;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use hls_support::Synth;
use hlscam::hls::{Container, HlsConfig, HlsOutput};
use hlscam::publish::remote::HttpOrigin;
use hlscam::publish::status::TargetStatus;
use hlscam::publish::{segment_capacity, PublishSetup, Publisher};

#[global_allocator]
static A: counting_alloc::Counting = counting_alloc::Counting;

/// An origin that answers every request (10 ms per `PUT`) on each connection it accepts until
/// the client closes it; counts the `PUT`s. At most `conns` connections, then it stops.
fn origin(conns: usize) -> (u16, Arc<AtomicU64>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let puts = Arc::new(AtomicU64::new(0));
    let p = puts.clone();
    std::thread::spawn(move || {
        for _ in 0..conns {
            let Ok((mut c, _)) = l.accept() else { return };
            let mut buf = Vec::new();
            let mut chunk = vec![0u8; 1 << 16];
            'conn: loop {
                // One request: head, then Content-Length bytes of body.
                let head_end = loop {
                    if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                    match c.read(&mut chunk) {
                        Ok(0) | Err(_) => break 'conn,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                };
                let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("Content-Length: "))
                    .map_or(0, |v| v.trim().parse().unwrap());
                while buf.len() < head_end + len {
                    match c.read(&mut chunk) {
                        Ok(0) | Err(_) => break 'conn,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                buf.drain(..head_end + len);
                let answer: &[u8] = if head.starts_with("PUT ") {
                    p.fetch_add(1, Ordering::SeqCst);
                    // A slow origin: the unpaced run outruns it.
                    std::thread::sleep(std::time::Duration::from_millis(10));
                    b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"
                } else if head.starts_with("DELETE ") {
                    b"HTTP/1.1 204 No Content\r\n\r\n"
                } else {
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
                };
                if c.write_all(answer).is_err() {
                    break 'conn;
                }
            }
        }
    });
    (port, puts)
}

#[test]
fn publisher_allocates_nothing_on_the_mux_thread() {
    let (_, n) = counting_alloc::measure(|| std::hint::black_box(vec![1u8; 10]));
    assert_eq!(n, 1, "the counter works");

    let (port, puts) = origin(64);
    let st = steady_state("alive", port);
    assert!(
        st.uploaded.load(Ordering::SeqCst) > 20,
        "segments reached the origin while measured"
    );
    assert!(puts.load(Ordering::SeqCst) > 20);
    assert!(
        st.skipped.load(Ordering::SeqCst) > 0,
        "the drop-oldest path ran too"
    );

    // A dead origin: the port of a listener that is gone.
    let dead = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let st = steady_state("dead", dead);
    assert_eq!(st.uploaded.load(Ordering::SeqCst), 0);
    assert!(st.skipped.load(Ordering::SeqCst) > 100);
}

/// Warms up (a full ring rotation), then counts the mux thread's allocations over 10 800
/// frames; returns the target's figures as they were at the end of the measured run.
fn steady_state(tag: &str, port: u16) -> Arc<TargetStatus> {
    let dir = tools::fresh_tmpfs_dir(&format!("publish-alloc-{tag}"));
    let mut out = HlsOutput::open(HlsConfig::new(&dir, 2, 6)).unwrap();
    let setup = PublishSetup {
        target_secs: 2,
        window: 6,
        container: Container::Ts,
        segment_cap: segment_capacity(2000, 2),
    };
    let status = Arc::new(TargetStatus::new("http", format!("test {tag}")));
    let remote = HttpOrigin::new(&format!("http://127.0.0.1:{port}/cam/"), None).unwrap();
    out.add_consumer(Box::new(Publisher::new(
        Box::new(remote),
        &setup,
        status.clone(),
    )));
    let mut s = Synth::new(3000, 60);
    let mut frames = 0;
    while out.store().dir().join("seg0.ts").exists() || frames < 60 {
        s.step(&mut out, false).unwrap();
        frames += 1;
        assert!(frames < 2000, "ring never rotated");
    }
    let uploaded_before = status.uploaded.load(Ordering::SeqCst);
    let (published, allocs) = counting_alloc::measure(|| {
        let mut published = 0u64;
        for _ in 0..10_800 {
            if let Ok(Some(_)) = s.step(&mut out, false) {
                published += 1;
            }
            // Roughly the pace of a 20× faster camera: the origin keeps up with part of it.
            if s.frame % 30 == 0 {
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        }
        published
    });
    assert_eq!(published, 180);
    assert_eq!(allocs, 0, "allocations on the mux thread ({tag} origin)");
    let snapshot = Arc::new(TargetStatus::new("http", String::new()));
    for (a, b) in [
        (&snapshot.uploaded, &status.uploaded),
        (&snapshot.skipped, &status.skipped),
    ] {
        a.store(b.load(Ordering::SeqCst), Ordering::SeqCst);
    }
    snapshot
        .uploaded
        .fetch_sub(uploaded_before, Ordering::SeqCst);
    out.finish(true).unwrap();
    drop(out);
    std::fs::remove_dir_all(&dir).unwrap();
    snapshot
}
