//! One client connection: read request heads under a deadline, answer, repeat (RFC 9112 §9).
//!
//! Deadlines, all derived from `io_timeout`:
//! - a request head (including the idle wait for it on a kept-alive connection) and its body
//!   must arrive completely within `io_timeout`; a client that drips bytes slowly is cut off
//!   (408) when the deadline passes, not when a single read stalls;
//! - a response must be written within `io_timeout + len / 16 KiB/s`, and every single write
//!   within `io_timeout` (`SO_SNDTIMEO`), so a client that stops reading cannot pin the thread.
//!
//! Response heads are serialised by `tiny_http::Response::raw_print` (status line, `Date`,
//! `Content-Length`); this module adds `Connection: close` when it closes, removes the
//! `Content-Length` that tiny_http puts on 204 (RFC 9110 §8.6 forbids it), and writes the body
//! itself so the framing is always `Content-Length`.
//!
//! Request bodies: a `Content-Length` body of at most [`MAX_BODY`] bytes is read into the same
//! receive buffer right after its head (bytes that arrived with the head count), handed to
//! [`respond`] and consumed, so the next pipelined request starts right after it — whatever the
//! method (a body on `GET` is read and ignored). `Expect: 100-continue` is answered with
//! `100 Continue` before the body is read. `Transfer-Encoding` (411), a longer body (413) and a
//! bad `Content-Length` (400) are answered and the connection is closed, since the end of such
//! a body cannot be found.

use super::renditions::Renditions;
use super::request::{parse_head, Head, Method, Parse, MAX_BODY, MAX_HEAD};
use super::routes::{respond, Body, Ctx, Reply};
use crate::hls::shared::LiveShared;
use crate::record::RecordAccess;
use crate::stats::Stats;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};
use tiny_http::{HTTPVersion, Response, StatusCode};

/// Slowest response transfer rate tolerated, bytes per second (beyond the base `io_timeout`).
pub const MIN_SEND_RATE: u64 = 16 * 1024;
/// Body copy buffer per connection.
const COPY_BUF: usize = 32 * 1024;
/// How long, and how many bytes, a closing connection drains before the socket is closed, so
/// that unread request bytes do not turn the close into a reset that destroys the response.
const LINGER: Duration = Duration::from_millis(500);
const LINGER_BYTES: usize = 64 * 1024;

/// Everything one connection needs, borrowed from the server.
#[derive(Debug, Clone, Copy)]
pub struct ConnCtx<'a> {
    /// The segment directory.
    pub dir: &'a Path,
    /// Shared counters (`requests` is incremented per response).
    pub stats: &'a Stats,
    /// Per-operation timeout and request-head deadline.
    pub io_timeout: Duration,
    /// Set when the server shuts down: stop after the current response.
    pub stop: &'a AtomicBool,
    /// The mux thread's published playlist and LL-HLS progress, if it runs in this process.
    pub live: Option<&'a LiveShared>,
    /// Recording, when `[record]` is on.
    pub record: Option<&'a RecordAccess>,
    /// The renditions and the master playlist.
    pub renditions: Option<&'a Renditions>,
}

/// Serves one connection until the client closes, a deadline passes, an error occurs or the
/// server stops. Never panics on client input.
pub fn serve(mut stream: TcpStream, peer: SocketAddr, cx: ConnCtx<'_>) {
    // A head and its body always fit: `parse_head` refuses heads over MAX_HEAD.
    let mut buf = vec![0u8; MAX_HEAD + MAX_BODY];
    let mut copy = vec![0u8; COPY_BUF];
    let mut out: Vec<u8> = Vec::with_capacity(1024);
    let mut filled = 0usize;
    while !cx.stop.load(Relaxed) {
        let deadline = Instant::now() + cx.io_timeout;
        let mut continued = false;
        let mut head_done = false;
        // Read until a complete head and its body are buffered, or give up. The head is parsed
        // again after each read (at most MAX_HEAD bytes scanned), so no borrow of `buf`
        // outlives a read into it.
        let (consumed, close) = loop {
            let refusal = match parse_head(&buf[..filled]) {
                Parse::Complete(head, used) => match head.body_len() {
                    Ok(n) if filled >= used + n => {
                        let body = &buf[used..used + n];
                        let close = handle(&mut stream, peer, &head, body, cx, &mut out, &mut copy);
                        break (used + n, close);
                    }
                    Ok(_) => {
                        head_done = true;
                        if !continued && expects_continue(&head) {
                            continued = true;
                            let mut w = DeadlineWriter {
                                stream: &mut stream,
                                deadline,
                                io_timeout: cx.io_timeout,
                            };
                            if w.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").is_err() {
                                return;
                            }
                        }
                        None
                    }
                    Err(e) => Some((e.status(), e.body(), e.reason())),
                },
                Parse::Error(e) => Some((e.status(), e.body(), e.reason())),
                Parse::Partial => None,
            };
            if let Some((status, body, reason)) = refusal {
                return refuse(stream, peer, status, body, reason, cx, &mut out, &mut copy);
            }
            let now = Instant::now();
            if now >= deadline {
                if filled == 0 {
                    log::debug!("http: {peer}: idle, closing");
                    return linger_close(stream);
                }
                let part = if head_done { "body" } else { "head" };
                let reason = format!("request {part} incomplete after {:?}", cx.io_timeout);
                let body = "request timeout\n";
                return refuse(stream, peer, 408, body, &reason, cx, &mut out, &mut copy);
            }
            if stream.set_read_timeout(Some(deadline - now)).is_err() {
                return;
            }
            // Never an empty slice: a partial head is < MAX_HEAD bytes and a missing body
            // ends before MAX_HEAD + MAX_BODY.
            debug_assert!(filled < buf.len());
            match stream.read(&mut buf[filled..]) {
                Ok(0) => return, // client closed
                Ok(n) => filled += n,
                Err(e) if is_timeout(&e) || e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    log::debug!("http: {peer}: read error: {e}");
                    return;
                }
            }
        };
        match close {
            Keep::Open => {
                buf.copy_within(consumed..filled, 0);
                filled -= consumed;
            }
            Keep::Close => return linger_close(stream),
            Keep::Dead => return,
        }
    }
}

/// What to do with the connection after a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keep {
    Open,
    Close,
    Dead,
}

/// Answers a request that cannot be read (`status`, plain text `body`, `reason` for the log),
/// counts it and closes the connection.
#[allow(clippy::too_many_arguments)]
fn refuse(
    mut stream: TcpStream,
    peer: SocketAddr,
    status: u16,
    body: &'static str,
    reason: &str,
    cx: ConnCtx<'_>,
    out: &mut Vec<u8>,
    copy: &mut [u8],
) {
    log::warn!("http: {peer}: {reason}; answering {status}");
    let reply = Reply::text(status, body);
    let _ = send(&mut stream, reply, false, true, cx.io_timeout, out, copy);
    Stats::add(&cx.stats.requests, 1);
    linger_close(stream)
}

/// Whether the client waits for `100 Continue` before it sends the body (RFC 9110 §10.1.1).
fn expects_continue(head: &Head<'_>) -> bool {
    head.minor >= 1
        && head
            .header("expect")
            .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
}

fn handle(
    stream: &mut TcpStream,
    peer: SocketAddr,
    head: &Head<'_>,
    body: &[u8],
    cx: ConnCtx<'_>,
    out: &mut Vec<u8>,
    copy: &mut [u8],
) -> Keep {
    let ctx = Ctx {
        dir: cx.dir,
        stats: cx.stats,
        live: cx.live,
        stop: cx.stop,
        record: cx.record,
        renditions: cx.renditions,
        rendition: None,
    };
    let (reply, suspicious) = match respond(head, body, ctx) {
        Ok(r) => (r, false),
        Err((r, why)) => {
            log::warn!(
                "http: {peer}: rejected target {:?}: {why}",
                head.target.get(..200).unwrap_or(head.target)
            );
            (r, true)
        }
    };
    // HTTP/1.0 connections are closed after one response, as is one whose target looks like
    // an attack. The body has been consumed, so the connection stays usable otherwise.
    let close =
        head.minor == 0 || head.connection_has("close") || cx.stop.load(Relaxed) || suspicious;
    let status = reply.status;
    let len = reply.body.len();
    let head_only = head.method == Method::Head;
    Stats::add(&cx.stats.requests, 1);
    let res = send(stream, reply, head_only, close, cx.io_timeout, out, copy);
    log::debug!(
        "http: {peer} {} {} -> {status} {len}{}",
        head.method_str,
        head.target,
        if res.is_err() { " (aborted)" } else { "" }
    );
    match res {
        Err(e) => {
            log::debug!("http: {peer}: write failed: {e}");
            Keep::Dead
        }
        Ok(()) if close => Keep::Close,
        Ok(()) => Keep::Open,
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// A writer that fails with `TimedOut` once `deadline` has passed, each write bounded by
/// `min(io_timeout, time left)`.
struct DeadlineWriter<'a> {
    stream: &'a mut TcpStream,
    deadline: Instant,
    io_timeout: Duration,
}

impl Write for DeadlineWriter<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let now = Instant::now();
        if now >= self.deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "response deadline passed",
            ));
        }
        let t = (self.deadline - now).min(self.io_timeout);
        self.stream
            .set_write_timeout(Some(t.max(Duration::from_millis(1))))?;
        self.stream.write(data).map_err(|e| {
            if is_timeout(&e) {
                io::Error::new(io::ErrorKind::TimedOut, "client not reading")
            } else {
                e
            }
        })
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

/// Serialises `reply` and writes it. `out` and `copy` are the connection's reusable buffers.
pub(crate) fn send(
    stream: &mut TcpStream,
    reply: Reply,
    head_only: bool,
    close: bool,
    io_timeout: Duration,
    out: &mut Vec<u8>,
    copy: &mut [u8],
) -> io::Result<()> {
    let Reply {
        status,
        mut headers,
        body,
    } = reply;
    let len = body.len();
    headers.push(super::routes::header("Server", "hlscam"));
    let resp = Response::new(
        StatusCode(status),
        headers,
        io::empty(),
        Some(len as usize),
        None,
    )
    .with_chunked_threshold(usize::MAX);
    out.clear();
    // Request headers are deliberately not passed: tiny_http would honour a `TE: chunked`
    // request header and switch to chunked framing.
    resp.raw_print(&mut *out, HTTPVersion(1, 1), &[], true, None)?;
    fix_head(out, status, close)?;
    let mut w = DeadlineWriter {
        stream,
        deadline: Instant::now()
            + io_timeout
            + Duration::from_secs(if head_only { 0 } else { len / MIN_SEND_RATE }),
        io_timeout,
    };
    if head_only {
        return w.write_all(out);
    }
    match body {
        Body::Empty => w.write_all(out),
        Body::Static(b) => {
            out.extend_from_slice(b);
            w.write_all(out)
        }
        Body::Bytes(b) => {
            out.extend_from_slice(&b);
            w.write_all(out)
        }
        Body::Gunzip { gz, len } => {
            w.write_all(out)?;
            let mut dec = flate2::bufread::GzDecoder::new(gz);
            let mut sent = 0u64;
            loop {
                let n = match dec.read(copy) {
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                };
                if n == 0 {
                    break;
                }
                sent += n as u64;
                if sent > len {
                    break;
                }
                w.write_all(&copy[..n])?;
            }
            if sent == len {
                Ok(())
            } else {
                // Never happens with the build's own gzip member; the framing would be wrong.
                Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "embedded gzip length differs",
                ))
            }
        }
        Body::File {
            mut file,
            offset,
            len,
        } => {
            w.write_all(out)?;
            file.seek(SeekFrom::Start(offset))?;
            let mut left = len;
            while left > 0 {
                let want = left.min(copy.len() as u64) as usize;
                let n = match file.read(&mut copy[..want]) {
                    Ok(0) => {
                        // Shorter than announced: the connection cannot be reused.
                        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "file shrank"));
                    }
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                };
                w.write_all(&copy[..n])?;
                left -= n as u64;
            }
            Ok(())
        }
        Body::Stream { len, producer } => {
            w.write_all(out)?;
            let mut exact = Exact {
                w: io::BufWriter::with_capacity(copy.len(), &mut w),
                left: len,
            };
            (producer.0)(&mut exact)?;
            exact.w.flush()?;
            if exact.left == 0 {
                Ok(())
            } else {
                // Shorter than announced: the connection cannot be reused.
                Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "body shorter than its Content-Length",
                ))
            }
        }
    }
}

/// Passes at most `left` bytes on; more is an error (the `Content-Length` was sent).
struct Exact<W: Write> {
    w: W,
    left: u64,
}

impl<W: Write> Write for Exact<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.len() as u64 > self.left {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "body longer than its Content-Length",
            ));
        }
        let n = self.w.write(buf)?;
        self.left -= n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.w.flush()
    }
}

/// Adjusts the head tiny_http produced: `Connection: close` when closing, and no
/// `Content-Length` on 1xx/204/304 (RFC 9110 §8.6). Also checks that tiny_http chose
/// `Content-Length` framing.
fn fix_head(out: &mut Vec<u8>, status: u16, close: bool) -> io::Result<()> {
    let bad = || io::Error::other("unexpected response head");
    if !out.ends_with(b"\r\n\r\n") || find_sub(out, b"\r\nTransfer-Encoding:").is_some() {
        return Err(bad());
    }
    if matches!(status, 100..=199 | 204 | 304) {
        if let Some(i) = find_sub(out, b"\r\nContent-Length: ") {
            let end = find_sub(&out[i + 2..], b"\r\n").ok_or_else(bad)? + i + 2;
            out.drain(i..end);
        }
    }
    if close {
        out.truncate(out.len() - 2);
        out.extend_from_slice(b"Connection: close\r\n\r\n");
    }
    Ok(())
}

fn find_sub(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Half-closes, drains what the client still sends for a short bounded time, then closes.
fn linger_close(mut stream: TcpStream) {
    let _ = stream.shutdown(Shutdown::Write);
    let deadline = Instant::now() + LINGER;
    let mut sink = [0u8; 4096];
    let mut drained = 0usize;
    while drained < LINGER_BYTES {
        let now = Instant::now();
        if now >= deadline || stream.set_read_timeout(Some(deadline - now)).is_err() {
            break;
        }
        match stream.read(&mut sink) {
            Ok(0) => break,
            Ok(n) => drained += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fix_head_adds_connection_close_and_strips_204_length() {
        let mut h = b"HTTP/1.1 204 No Content\r\nDate: x\r\nContent-Length: 0\r\n\r\n".to_vec();
        fix_head(&mut h, 204, true).unwrap();
        assert_eq!(
            h,
            b"HTTP/1.1 204 No Content\r\nDate: x\r\nConnection: close\r\n\r\n".to_vec()
        );
        let mut h = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n".to_vec();
        fix_head(&mut h, 200, false).unwrap();
        assert_eq!(h, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n".to_vec());
        let mut h = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        assert!(fix_head(&mut h, 200, false).is_err());
    }

    #[test]
    fn a_stream_body_must_write_exactly_its_length() {
        use super::super::routes::Producer;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        for (announced, written) in [(10u64, 10usize), (10, 4), (10, 11)] {
            let client = std::thread::spawn(move || {
                let mut c = TcpStream::connect(addr).unwrap();
                c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                let mut got = Vec::new();
                let _ = c.read_to_end(&mut got);
                got
            });
            let (mut server, _) = listener.accept().unwrap();
            let producer = Producer(Box::new(move |w| {
                w.write_all(&vec![b'x'; written])?;
                Ok(written as u64)
            }));
            let reply = Reply::new(
                200,
                Body::Stream {
                    len: announced,
                    producer,
                },
            );
            let (mut out, mut copy) = (Vec::new(), vec![0u8; 4096]);
            let sent = send(
                &mut server,
                reply,
                false,
                true,
                Duration::from_secs(5),
                &mut out,
                &mut copy,
            );
            drop(server);
            let got = client.join().unwrap();
            let text = String::from_utf8_lossy(&got);
            assert!(text.contains("Content-Length: 10\r\n"), "{text}");
            if written as u64 == announced {
                sent.unwrap();
                assert!(text.ends_with("\r\n\r\nxxxxxxxxxx"), "{text}");
            } else {
                let e = sent.unwrap_err();
                assert!(e.to_string().contains("Content-Length"), "{written}: {e}");
            }
        }
    }
}
