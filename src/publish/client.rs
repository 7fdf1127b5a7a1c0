//! A small HTTP/1.1 client for the upload threads (RFC 9112): one persistent connection to one
//! origin over [`std::net::TcpStream`], requests with a `Content-Length` body, response heads
//! parsed by `httparse`, bodies read by `Content-Length`, `chunked` or to the end of the
//! connection. Plain HTTP only (no TLS).
//!
//! A request that fails on a connection reused from an earlier request before any byte of the
//! answer arrived (the origin closed an idle keep-alive connection) is sent once more on a new
//! connection; every other failure goes back to the caller, which retries with backoff. Every
//! socket operation has a timeout, so a dead origin costs the upload thread at most
//! [`IO_TIMEOUT`] per attempt and never touches the pipeline.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Connect timeout.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// Read and write timeout of every socket operation.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);
/// Largest response head.
const MAX_HEAD: usize = 16 * 1024;
/// Largest response body kept (longer ones are refused).
const MAX_BODY: usize = 1 << 20;

/// Why a request got no answer.
#[derive(Debug)]
pub enum HttpError {
    /// Could not resolve or connect.
    Connect(io::Error),
    /// The connection failed while sending or reading.
    Io(io::Error),
    /// The answer was not valid HTTP/1.1.
    Protocol(&'static str),
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::Connect(e) => write!(f, "connect: {e}"),
            HttpError::Io(e) => write!(f, "connection: {e}"),
            HttpError::Protocol(m) => write!(f, "bad response: {m}"),
        }
    }
}

/// One persistent connection to `host:port`.
pub struct Conn {
    host: String,
    port: u16,
    /// The `Host` header value.
    host_header: String,
    stream: Option<TcpStream>,
    head: Vec<u8>,
    buf: Vec<u8>,
    /// Bytes written to the network so far (heads and bodies).
    pub bytes_sent: u64,
}

impl fmt::Debug for Conn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conn")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("connected", &self.stream.is_some())
            .finish_non_exhaustive()
    }
}

/// A header to send: name and value.
pub type Header<'a> = (&'a str, &'a str);

impl Conn {
    /// A connection to `host:port` (opened by the first request).
    pub fn new(host: &str, port: u16) -> Conn {
        let host_header = match (host.contains(':'), port) {
            (true, 80) => format!("[{host}]"),
            (true, p) => format!("[{host}]:{p}"),
            (false, 80) => host.to_owned(),
            (false, p) => format!("{host}:{p}"),
        };
        Conn {
            host: host.to_owned(),
            port,
            host_header,
            stream: None,
            head: Vec::with_capacity(1024),
            buf: Vec::with_capacity(4096),
            bytes_sent: 0,
        }
    }

    /// The `Host` header value (also what S3 signs).
    pub fn host_header(&self) -> &str {
        &self.host_header
    }

    /// Drops the connection (the next request opens a new one).
    pub fn close(&mut self) {
        self.stream = None;
    }

    /// Sends `method path` with `headers` and `body` and returns the status; the body of the
    /// answer goes to `out` when given (else it is read and dropped).
    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[Header<'_>],
        body: &[u8],
        mut out: Option<&mut Vec<u8>>,
    ) -> Result<u16, HttpError> {
        let reused = self.stream.is_some();
        match self.attempt(method, path, headers, body, out.as_deref_mut()) {
            Err(Attempt::Early(_)) if reused => {
                self.stream = None;
                self.attempt(method, path, headers, body, out)
                    .map_err(Attempt::into_error)
            }
            r => r.map_err(Attempt::into_error),
        }
    }

    fn connect(&mut self) -> Result<&mut TcpStream, HttpError> {
        if self.stream.is_none() {
            let addrs: Vec<SocketAddr> = (self.host.as_str(), self.port)
                .to_socket_addrs()
                .map_err(HttpError::Connect)?
                .collect();
            let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
            for a in addrs {
                match TcpStream::connect_timeout(&a, CONNECT_TIMEOUT) {
                    Ok(s) => {
                        s.set_read_timeout(Some(IO_TIMEOUT))
                            .and_then(|()| s.set_write_timeout(Some(IO_TIMEOUT)))
                            .and_then(|()| s.set_nodelay(true))
                            .map_err(HttpError::Connect)?;
                        self.stream = Some(s);
                        break;
                    }
                    Err(e) => last = e,
                }
            }
            if self.stream.is_none() {
                return Err(HttpError::Connect(last));
            }
        }
        Ok(self.stream.as_mut().expect("connected"))
    }

    fn attempt(
        &mut self,
        method: &str,
        path: &str,
        headers: &[Header<'_>],
        body: &[u8],
        out: Option<&mut Vec<u8>>,
    ) -> Result<u16, Attempt> {
        self.head.clear();
        let _ = write!(
            self.head,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n",
            self.host_header,
            body.len()
        );
        for (k, v) in headers {
            let _ = write!(self.head, "{k}: {v}\r\n");
        }
        self.head.extend_from_slice(b"\r\n");
        let mut head = std::mem::take(&mut self.head);
        let r = self.exchange(&head, body, method == "HEAD", out);
        head.clear();
        self.head = head;
        if r.is_err() {
            self.stream = None;
        }
        r
    }

    fn exchange(
        &mut self,
        head: &[u8],
        body: &[u8],
        head_only: bool,
        out: Option<&mut Vec<u8>>,
    ) -> Result<u16, Attempt> {
        let s = self.connect().map_err(Attempt::Fatal)?;
        s.write_all(head)
            .and_then(|()| s.write_all(body))
            .map_err(Attempt::Early)?;
        self.bytes_sent += (head.len() + body.len()) as u64;
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        let r = read_response(
            self.stream.as_mut().expect("connected"),
            &mut buf,
            head_only,
            out,
        );
        self.buf = buf;
        let (status, keep) = r?;
        if !keep {
            self.stream = None;
        }
        Ok(status)
    }
}

/// How an attempt failed: before any byte of the answer (may be retried on a new connection
/// when the connection was reused) or later.
enum Attempt {
    Early(io::Error),
    Fatal(HttpError),
}

impl Attempt {
    fn into_error(self) -> HttpError {
        match self {
            Attempt::Early(e) => HttpError::Io(e),
            Attempt::Fatal(e) => e,
        }
    }
}

/// Reads one response: `(status, keep the connection)`.
fn read_response(
    s: &mut TcpStream,
    buf: &mut Vec<u8>,
    head_only: bool,
    mut out: Option<&mut Vec<u8>>,
) -> Result<(u16, bool), Attempt> {
    let mut chunk = [0u8; 4096];
    // The head.
    let mut got_any = false;
    let (status, head_len, length, chunked, close) = loop {
        // Parse what is there first (an interim answer may have come with the final one).
        let need_more = buf.is_empty() || {
            let mut headers = [httparse::EMPTY_HEADER; 48];
            let mut r = httparse::Response::new(&mut headers);
            matches!(r.parse(buf), Ok(httparse::Status::Partial))
        };
        if need_more {
            let n = s.read(&mut chunk).map_err(|e| {
                if got_any {
                    Attempt::Fatal(HttpError::Io(e))
                } else {
                    Attempt::Early(e)
                }
            })?;
            if n == 0 {
                return Err(if got_any {
                    Attempt::Fatal(HttpError::Protocol("connection closed in the head"))
                } else {
                    Attempt::Early(io::Error::new(io::ErrorKind::UnexpectedEof, "closed"))
                });
            }
            got_any = true;
            buf.extend_from_slice(&chunk[..n]);
        }
        let mut headers = [httparse::EMPTY_HEADER; 48];
        let mut r = httparse::Response::new(&mut headers);
        match r.parse(buf) {
            Ok(httparse::Status::Complete(len)) => {
                let code = r.code.unwrap_or(0);
                if (100..200).contains(&code) {
                    // An interim answer (100 Continue): skip it.
                    buf.drain(..len);
                    continue;
                }
                let mut length = None;
                let (mut chunked, mut close) = (false, r.version == Some(0));
                for h in r.headers.iter() {
                    let v = std::str::from_utf8(h.value).unwrap_or("").trim();
                    if h.name.eq_ignore_ascii_case("content-length") {
                        length = Some(v.parse::<usize>().map_err(|_| {
                            Attempt::Fatal(HttpError::Protocol("bad Content-Length"))
                        })?);
                    } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
                        chunked = v.to_ascii_lowercase().contains("chunked");
                    } else if h.name.eq_ignore_ascii_case("connection") {
                        close = v.eq_ignore_ascii_case("close");
                    }
                }
                break (code, len, length, chunked, close);
            }
            Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD => {}
            Ok(httparse::Status::Partial) => {
                return Err(Attempt::Fatal(HttpError::Protocol("head too long")))
            }
            Err(_) => return Err(Attempt::Fatal(HttpError::Protocol("unparsable head"))),
        }
    };
    buf.drain(..head_len);
    if let Some(o) = out.as_deref_mut() {
        o.clear();
    }
    let no_body = head_only || status == 204 || status == 304;
    let fatal = |e| Attempt::Fatal(HttpError::Io(e));
    if no_body {
        return Ok((status, !close));
    }
    if chunked {
        read_chunked(s, buf, out).map_err(fatal)?;
        return Ok((status, !close));
    }
    match length {
        Some(len) => {
            read_exact_body(s, buf, len, out).map_err(fatal)?;
            Ok((status, !close))
        }
        None => {
            // Delimited by the end of the connection.
            read_to_close(s, buf, out).map_err(fatal)?;
            Ok((status, false))
        }
    }
}

fn keep(out: &mut Option<&mut Vec<u8>>, bytes: &[u8]) -> io::Result<()> {
    if let Some(o) = out {
        if o.len() + bytes.len() > MAX_BODY {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "body too long"));
        }
        o.extend_from_slice(bytes);
    }
    Ok(())
}

/// Makes `buf` hold at least `n` bytes, reading more from `s`.
fn fill(s: &mut TcpStream, buf: &mut Vec<u8>, n: usize) -> io::Result<()> {
    let mut chunk = [0u8; 4096];
    while buf.len() < n {
        let k = s.read(&mut chunk)?;
        if k == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "body cut short",
            ));
        }
        buf.extend_from_slice(&chunk[..k]);
    }
    Ok(())
}

fn read_exact_body(
    s: &mut TcpStream,
    buf: &mut Vec<u8>,
    len: usize,
    mut out: Option<&mut Vec<u8>>,
) -> io::Result<()> {
    let mut left = len;
    while left > 0 {
        if buf.is_empty() {
            fill(s, buf, 1)?;
        }
        let n = left.min(buf.len());
        keep(&mut out, &buf[..n])?;
        buf.drain(..n);
        left -= n;
    }
    Ok(())
}

fn read_to_close(
    s: &mut TcpStream,
    buf: &mut Vec<u8>,
    mut out: Option<&mut Vec<u8>>,
) -> io::Result<()> {
    keep(&mut out, buf)?;
    buf.clear();
    let mut chunk = [0u8; 4096];
    loop {
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        keep(&mut out, &chunk[..n])?;
    }
}

/// A `chunked` body (RFC 9112 §7.1); trailers are skipped.
fn read_chunked(
    s: &mut TcpStream,
    buf: &mut Vec<u8>,
    mut out: Option<&mut Vec<u8>>,
) -> io::Result<()> {
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "bad chunk");
    loop {
        let line = read_line(s, buf)?;
        let size_text = line.split(';').next().unwrap_or("").trim().to_owned();
        let size = usize::from_str_radix(&size_text, 16).map_err(|_| bad())?;
        if size == 0 {
            // Trailers until an empty line.
            while !read_line(s, buf)?.is_empty() {}
            return Ok(());
        }
        fill(s, buf, size + 2)?;
        keep(&mut out, &buf[..size])?;
        if &buf[size..size + 2] != b"\r\n" {
            return Err(bad());
        }
        buf.drain(..size + 2);
    }
}

/// One CRLF-terminated line from `buf` (reading more as needed), without the CRLF.
fn read_line(s: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<String> {
    loop {
        if let Some(i) = buf.windows(2).position(|w| w == b"\r\n") {
            let line = String::from_utf8_lossy(&buf[..i]).into_owned();
            buf.drain(..i + 2);
            return Ok(line);
        }
        if buf.len() > MAX_HEAD {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "line too long"));
        }
        let n = buf.len();
        fill(s, buf, n + 1)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A one-thread server answering each request on one connection with `answers` in turn.
    fn serve(answers: Vec<&'static [u8]>) -> (u16, std::thread::JoinHandle<Vec<String>>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let t = std::thread::spawn(move || {
            let (mut c, _) = l.accept().unwrap();
            c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut seen = Vec::new();
            for a in answers {
                let mut req = Vec::new();
                let mut b = [0u8; 1];
                while !req.ends_with(b"\r\n\r\n") {
                    c.read_exact(&mut b).unwrap();
                    req.push(b[0]);
                }
                let text = String::from_utf8(req).unwrap();
                let len: usize = text
                    .lines()
                    .find_map(|l| l.strip_prefix("Content-Length: "))
                    .unwrap()
                    .parse()
                    .unwrap();
                let mut body = vec![0; len];
                c.read_exact(&mut body).unwrap();
                seen.push(format!("{}|{}", text, String::from_utf8_lossy(&body)));
                c.write_all(a).unwrap();
            }
            seen
        });
        (port, t)
    }

    #[test]
    fn persistent_connection_lengths_and_chunks() {
        let (port, t) = serve(vec![
            b"HTTP/1.1 201 Created\r\nContent-Length: 5\r\n\r\nhello",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=1\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
        ]);
        let mut c = Conn::new("127.0.0.1", port);
        assert_eq!(c.host_header(), format!("127.0.0.1:{port}"));
        let mut out = Vec::new();
        let st = c
            .request(
                "PUT",
                "/a/seg1.ts",
                &[("Content-Type", "video/mp2t")],
                b"xyz",
                Some(&mut out),
            )
            .unwrap();
        assert_eq!((st, out.as_slice()), (201, &b"hello"[..]));
        let st = c
            .request("GET", "/a/live.m3u8", &[], b"", Some(&mut out))
            .unwrap();
        assert_eq!((st, out.as_slice()), (200, &b"abcde"[..]));
        assert_eq!(
            c.request("DELETE", "/a/seg0.ts", &[], b"", None).unwrap(),
            204
        );
        let seen = t.join().unwrap();
        assert_eq!(seen.len(), 3, "one connection carried all three");
        assert!(seen[0].starts_with("PUT /a/seg1.ts HTTP/1.1\r\nHost: 127.0.0.1:"));
        assert!(seen[0].contains("Content-Type: video/mp2t\r\n") && seen[0].ends_with("|xyz"));
        assert!(c.bytes_sent > 3);
    }

    #[test]
    fn a_closed_idle_connection_is_reopened_once() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let t = std::thread::spawn(move || {
            for close_after in [true, false] {
                let (mut c, _) = l.accept().unwrap();
                let mut b = [0u8; 1024];
                let _ = c.read(&mut b).unwrap();
                c.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                    .unwrap();
                if close_after {
                    drop(c);
                } else {
                    let _ = c.read(&mut b);
                }
            }
        });
        let mut c = Conn::new("127.0.0.1", port);
        assert_eq!(c.request("PUT", "/x", &[], b"", None).unwrap(), 200);
        std::thread::sleep(Duration::from_millis(50));
        // The server closed the first connection: the second request goes on a new one.
        assert_eq!(c.request("PUT", "/y", &[], b"", None).unwrap(), 200);
        c.close();
        t.join().unwrap();
    }

    #[test]
    fn refused_connections_are_errors() {
        let port = {
            let l = TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let mut c = Conn::new("127.0.0.1", port);
        assert!(matches!(
            c.request("PUT", "/x", &[], b"", None),
            Err(HttpError::Connect(_))
        ));
    }
}
