//! Request-head parsing with hard limits (RFC 9112 §2.2, §3 request line, §5 field syntax).
//!
//! [`parse_head`] is a borrowed view over the connection's receive buffer: it allocates nothing
//! and either reports that more bytes are needed, or returns the parsed head and how many bytes
//! it used, or a [`HeadError`] that maps to a 4xx/5xx status. Limits: request line
//! ≤ [`MAX_REQUEST_LINE`] bytes (else 414), whole head ≤ [`MAX_HEAD`] bytes and
//! ≤ [`MAX_HEADERS`] fields (else 431). Only visible ASCII is accepted in the request target and
//! field values, so NUL bytes, controls and non-ASCII never reach the router.
//!
//! Request bodies (RFC 9112 §6): [`Head::body_len`] tells how many body bytes follow the head.
//! Only `Content-Length` framing up to [`MAX_BODY`] bytes is accepted; `Transfer-Encoding`
//! gives 411, a longer body 413 and an invalid or conflicting `Content-Length` 400 (§6.3).

/// Longest request line accepted (method, target and version); longer gets 414.
pub const MAX_REQUEST_LINE: usize = 1024;
/// Largest request head (request line + fields + blank line); larger gets 431.
pub const MAX_HEAD: usize = 8192;
/// Most header fields accepted; more gets 431.
pub const MAX_HEADERS: usize = 64;
/// Largest request body accepted (JSON of the API is far smaller); larger gets 413.
pub const MAX_BODY: usize = 8192;

/// Request methods the server distinguishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// `GET`
    Get,
    /// `HEAD`
    Head,
    /// `OPTIONS`
    Options,
    /// `POST`
    Post,
    /// `DELETE`
    Delete,
    /// Any other syntactically valid method (answered with 405).
    Other,
}

/// Why a request head was rejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeadError {
    /// Request line longer than [`MAX_REQUEST_LINE`] (414).
    UriTooLong,
    /// Head larger than [`MAX_HEAD`] or with more than [`MAX_HEADERS`] fields (431).
    HeadTooLarge,
    /// Malformed request line: bad method token, bad target bytes, missing parts (400).
    BadRequestLine,
    /// Malformed header field line, obsolete line folding or bad bytes (400).
    BadHeader,
    /// A well-formed HTTP version other than 1.0/1.1 (505).
    UnsupportedVersion,
}

impl HeadError {
    /// The status code to answer with.
    pub fn status(self) -> u16 {
        match self {
            HeadError::UriTooLong => 414,
            HeadError::HeadTooLarge => 431,
            HeadError::BadRequestLine | HeadError::BadHeader => 400,
            HeadError::UnsupportedVersion => 505,
        }
    }

    /// The plain-text body of the error response.
    pub fn body(self) -> &'static str {
        match self {
            HeadError::UriTooLong => "URI too long\n",
            HeadError::HeadTooLarge => "request header fields too large\n",
            HeadError::BadRequestLine | HeadError::BadHeader => "bad request\n",
            HeadError::UnsupportedVersion => "HTTP version not supported\n",
        }
    }

    /// A short reason for the log.
    pub fn reason(self) -> &'static str {
        match self {
            HeadError::UriTooLong => "request line longer than 1 KiB",
            HeadError::HeadTooLarge => "request head too large",
            HeadError::BadRequestLine => "malformed request line",
            HeadError::BadHeader => "malformed header field",
            HeadError::UnsupportedVersion => "unsupported HTTP version",
        }
    }
}

/// Why a request's body framing is refused; the connection is closed after the answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyError {
    /// `Transfer-Encoding` (chunked or any other coding) is not accepted (411).
    TransferEncoding,
    /// `Content-Length` above [`MAX_BODY`] (413).
    TooLarge,
    /// `Content-Length` that is not a decimal number, or several differing values (400).
    BadLength,
}

impl BodyError {
    /// The status code to answer with.
    pub fn status(self) -> u16 {
        match self {
            BodyError::TransferEncoding => 411,
            BodyError::TooLarge => 413,
            BodyError::BadLength => 400,
        }
    }

    /// The plain-text body of the error response.
    pub fn body(self) -> &'static str {
        match self {
            BodyError::TransferEncoding => "length required: send a Content-Length body\n",
            BodyError::TooLarge => "request body larger than 8 KiB\n",
            BodyError::BadLength => "bad Content-Length\n",
        }
    }

    /// A short reason for the log.
    pub fn reason(self) -> &'static str {
        match self {
            BodyError::TransferEncoding => "request body with Transfer-Encoding",
            BodyError::TooLarge => "request body larger than 8 KiB",
            BodyError::BadLength => "invalid Content-Length",
        }
    }
}

/// A parsed request head borrowing the receive buffer.
#[derive(Debug, Clone, Copy)]
pub struct Head<'a> {
    /// The method.
    pub method: Method,
    /// The method as sent (for logs).
    pub method_str: &'a str,
    /// The request target as sent (origin-form, absolute-form or `*`), visible ASCII only.
    pub target: &'a str,
    /// Minor HTTP version: 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor: u8,
    /// The header block (field lines separated by `\n`, possibly `\r\n`), already validated.
    fields: &'a str,
}

impl<'a> Head<'a> {
    /// The value of the first field named `name` (case-insensitive), trimmed.
    pub fn header(&self, name: &str) -> Option<&'a str> {
        self.headers()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// All fields as `(name, value)` pairs, in order.
    pub fn headers(&self) -> impl Iterator<Item = (&'a str, &'a str)> {
        self.fields.split('\n').filter_map(|line| {
            let line = line.strip_suffix('\r').unwrap_or(line);
            let (n, v) = line.split_once(':')?;
            Some((n, v.trim_matches(|c| c == ' ' || c == '\t')))
        })
    }

    /// Whether `Connection` lists the token `token` (case-insensitive).
    pub fn connection_has(&self, token: &str) -> bool {
        self.headers()
            .filter(|(n, _)| n.eq_ignore_ascii_case("connection"))
            .any(|(_, v)| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    }

    /// The number of body bytes that follow the head (0 without `Content-Length`), or why the
    /// body is refused. A `Content-Length` list of equal values counts as one (RFC 9112 §6.3).
    pub fn body_len(&self) -> Result<usize, BodyError> {
        let mut len: Option<u64> = None;
        for (n, v) in self.headers() {
            if n.eq_ignore_ascii_case("transfer-encoding") {
                return Err(BodyError::TransferEncoding);
            }
            if !n.eq_ignore_ascii_case("content-length") {
                continue;
            }
            for item in v.split(',') {
                let item = item.trim();
                if item.is_empty() || !item.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(BodyError::BadLength);
                }
                // More digits than u64 holds is simply too large.
                let l = item.parse::<u64>().unwrap_or(u64::MAX);
                if len.is_some_and(|prev| prev != l) {
                    return Err(BodyError::BadLength);
                }
                len = Some(l);
            }
        }
        match len {
            Some(l) if l > MAX_BODY as u64 => Err(BodyError::TooLarge),
            Some(l) => Ok(l as usize),
            None => Ok(0),
        }
    }
}

/// Outcome of [`parse_head`].
#[derive(Debug)]
pub enum Parse<'a> {
    /// The head is not complete yet and within limits: read more.
    Partial,
    /// A complete head and the number of buffer bytes it used (including the blank line).
    Complete(Head<'a>, usize),
    /// The head is invalid or over a limit.
    Error(HeadError),
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn find(hay: &[u8], from: usize, needle: u8) -> Option<usize> {
    hay.get(from..)?
        .iter()
        .position(|&b| b == needle)
        .map(|p| p + from)
}

/// Parses one request head from the start of `buf`.
pub fn parse_head(buf: &[u8]) -> Parse<'_> {
    // RFC 9112 §2.2: ignore empty lines received before the request line.
    let start = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len());
    let line_end = match find(buf, start, b'\n') {
        Some(i) => i,
        None if buf.len() - start > MAX_REQUEST_LINE => return Parse::Error(HeadError::UriTooLong),
        None if buf.len() >= MAX_HEAD => return Parse::Error(HeadError::HeadTooLarge),
        None => return Parse::Partial,
    };
    let mut line = &buf[start..line_end];
    if let Some(l) = line.strip_suffix(b"\r") {
        line = l;
    }
    if line.len() > MAX_REQUEST_LINE {
        return Parse::Error(HeadError::UriTooLong);
    }
    // Find the blank line that ends the head.
    let mut pos = line_end + 1;
    let mut count = 0usize;
    let fields_start = pos;
    let head_end = loop {
        let Some(nl) = find(buf, pos, b'\n') else {
            if buf.len() >= MAX_HEAD {
                return Parse::Error(HeadError::HeadTooLarge);
            }
            return Parse::Partial;
        };
        let raw = &buf[pos..nl];
        let l = raw.strip_suffix(b"\r").unwrap_or(raw);
        if l.is_empty() {
            break nl + 1;
        }
        count += 1;
        if count > MAX_HEADERS {
            return Parse::Error(HeadError::HeadTooLarge);
        }
        if let Err(e) = check_field(l) {
            return Parse::Error(e);
        }
        pos = nl + 1;
    };
    if head_end > MAX_HEAD {
        return Parse::Error(HeadError::HeadTooLarge);
    }
    let fields_end = head_end.saturating_sub(1).max(fields_start);
    // Every byte was checked to be ASCII above, so these conversions cannot fail.
    let (Ok(line), Ok(fields)) = (
        std::str::from_utf8(line),
        std::str::from_utf8(&buf[fields_start..fields_end]),
    ) else {
        return Parse::Error(HeadError::BadHeader);
    };
    match parse_request_line(line) {
        Ok((method, method_str, target, minor)) => Parse::Complete(
            Head {
                method,
                method_str,
                target,
                minor,
                fields,
            },
            head_end,
        ),
        Err(e) => Parse::Error(e),
    }
}

/// `field-name ":" OWS field-value OWS` with a token name and visible ASCII / SP / HTAB value.
fn check_field(l: &[u8]) -> Result<(), HeadError> {
    if l[0] == b' ' || l[0] == b'\t' {
        return Err(HeadError::BadHeader); // obs-fold (RFC 9112 §5.2): reject
    }
    let colon = l
        .iter()
        .position(|&b| b == b':')
        .ok_or(HeadError::BadHeader)?;
    if colon == 0 || !l[..colon].iter().all(|&b| is_tchar(b)) {
        return Err(HeadError::BadHeader);
    }
    if !l[colon + 1..]
        .iter()
        .all(|&b| b == b'\t' || (b' '..=b'~').contains(&b))
    {
        return Err(HeadError::BadHeader);
    }
    Ok(())
}

fn parse_request_line(line: &str) -> Result<(Method, &str, &str, u8), HeadError> {
    let mut parts = line.split(' ');
    let (Some(m), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(HeadError::BadRequestLine);
    };
    if m.is_empty() || !m.bytes().all(is_tchar) {
        return Err(HeadError::BadRequestLine);
    }
    if target.is_empty() || !target.bytes().all(|b| (b'!'..=b'~').contains(&b)) {
        return Err(HeadError::BadRequestLine);
    }
    let minor = match version {
        "HTTP/1.1" => 1,
        "HTTP/1.0" => 0,
        v if v.len() == 8
            && v.starts_with("HTTP/")
            && v.as_bytes()[5].is_ascii_digit()
            && v.as_bytes()[6] == b'.'
            && v.as_bytes()[7].is_ascii_digit() =>
        {
            return Err(HeadError::UnsupportedVersion)
        }
        _ => return Err(HeadError::BadRequestLine),
    };
    let method = match m {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "OPTIONS" => Method::Options,
        "POST" => Method::Post,
        "DELETE" => Method::Delete,
        _ => Method::Other,
    };
    Ok((method, m, target, minor))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(buf: &[u8]) -> (Head<'_>, usize) {
        match parse_head(buf) {
            Parse::Complete(h, n) => (h, n),
            other => panic!("expected a complete head, got {other:?}"),
        }
    }

    fn err(buf: &[u8]) -> HeadError {
        match parse_head(buf) {
            Parse::Error(e) => e,
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn parses_a_simple_head_and_reports_its_length() {
        let req =
            b"GET /live.m3u8?x=1 HTTP/1.1\r\nHost: a\r\nAccept-Encoding:  gzip, br \r\n\r\nGET /";
        let (h, n) = complete(req);
        assert_eq!(n, req.len() - 5);
        assert_eq!(h.method, Method::Get);
        assert_eq!(h.target, "/live.m3u8?x=1");
        assert_eq!(h.minor, 1);
        assert_eq!(h.header("accept-encoding"), Some("gzip, br"));
        assert_eq!(h.header("host"), Some("a"));
        assert_eq!(h.header("range"), None);
        assert_eq!(h.body_len(), Ok(0));
    }

    #[test]
    fn partial_until_blank_line_and_tolerates_bare_lf_and_leading_crlf() {
        assert!(matches!(parse_head(b""), Parse::Partial));
        assert!(matches!(parse_head(b"GET / HT"), Parse::Partial));
        assert!(matches!(
            parse_head(b"GET / HTTP/1.1\r\nHost: a\r\n"),
            Parse::Partial
        ));
        let (h, n) = complete(b"\r\nHEAD /x HTTP/1.0\nConnection: close\n\n");
        assert_eq!(n, 38);
        assert_eq!(h.method, Method::Head);
        assert_eq!(h.minor, 0);
        assert!(h.connection_has("close"));
    }

    #[test]
    fn limits_give_414_and_431() {
        let mut long = b"GET /".to_vec();
        long.extend(std::iter::repeat(b'a').take(MAX_REQUEST_LINE));
        assert_eq!(err(&long), HeadError::UriTooLong); // no newline yet, already too long
        long.extend_from_slice(b" HTTP/1.1\r\n\r\n");
        assert_eq!(err(&long), HeadError::UriTooLong);
        assert_eq!(HeadError::UriTooLong.status(), 414);

        let mut many = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..=MAX_HEADERS {
            many.extend_from_slice(format!("X-{i}: v\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(err(&many), HeadError::HeadTooLarge);

        let mut big = b"GET / HTTP/1.1\r\n".to_vec();
        big.extend(std::iter::repeat(b'a').take(MAX_HEAD));
        assert_eq!(err(&big), HeadError::HeadTooLarge);
        assert_eq!(HeadError::HeadTooLarge.status(), 431);
    }

    #[test]
    fn rejects_bad_bytes_and_syntax() {
        assert_eq!(
            err(b"GET /seg1.ts\0 HTTP/1.1\r\n\r\n"),
            HeadError::BadRequestLine
        );
        assert_eq!(
            err("GET /s\u{e9}g HTTP/1.1\r\n\r\n".as_bytes()),
            HeadError::BadRequestLine
        );
        assert_eq!(err(b"GET  / HTTP/1.1\r\n\r\n"), HeadError::BadRequestLine);
        assert_eq!(err(b"GET / HTTP/1.1 x\r\n\r\n"), HeadError::BadRequestLine);
        assert_eq!(err(b"G(T / HTTP/1.1\r\n\r\n"), HeadError::BadRequestLine);
        assert_eq!(err(b"GET / FTP/1.1\r\n\r\n"), HeadError::BadRequestLine);
        assert_eq!(
            err(b"GET / HTTP/2.0\r\n\r\n"),
            HeadError::UnsupportedVersion
        );
        assert_eq!(
            err(b"GET / HTTP/1.1\r\nNo colon\r\n\r\n"),
            HeadError::BadHeader
        );
        assert_eq!(
            err(b"GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n"),
            HeadError::BadHeader
        );
        assert_eq!(
            err(b"GET / HTTP/1.1\r\nA: b\0\r\n\r\n"),
            HeadError::BadHeader
        );
        assert_eq!(
            err(b"GET / HTTP/1.1\r\nA b: c\r\n\r\n"),
            HeadError::BadHeader
        );
    }

    #[test]
    fn methods_and_bodies() {
        let (h, _) = complete(b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
        assert_eq!(h.method, Method::Post);
        assert_eq!(h.method_str, "POST");
        assert_eq!(h.body_len(), Ok(3));
        let (h, _) = complete(b"DELETE /x HTTP/1.1\r\n\r\n");
        assert_eq!(h.method, Method::Delete);
        assert_eq!(h.body_len(), Ok(0));
        let (h, _) = complete(b"PUT / HTTP/1.1\r\n\r\n");
        assert_eq!(h.method, Method::Other);
        let (h, _) = complete(b"OPTIONS * HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
        assert_eq!(h.method, Method::Options);
        assert_eq!(h.target, "*");
        assert_eq!(h.body_len(), Err(BodyError::TransferEncoding));
        assert_eq!(BodyError::TransferEncoding.status(), 411);
        let (h, _) = complete(b"GET / HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
        assert_eq!(h.body_len(), Ok(0));
    }

    #[test]
    fn content_length_limits_and_syntax() {
        let body_len = |fields: &str| {
            let raw = format!("POST / HTTP/1.1\r\n{fields}\r\n");
            match parse_head(raw.as_bytes()) {
                Parse::Complete(h, _) => h.body_len(),
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(
            body_len(&format!("Content-Length: {MAX_BODY}\r\n")),
            Ok(MAX_BODY)
        );
        let over = MAX_BODY + 1;
        assert_eq!(
            body_len(&format!("Content-Length: {over}\r\n")),
            Err(BodyError::TooLarge)
        );
        assert_eq!(
            body_len("Content-Length: 99999999999999999999999\r\n"),
            Err(BodyError::TooLarge)
        );
        assert_eq!(BodyError::TooLarge.status(), 413);
        assert_eq!(body_len("Content-Length: 5, 5\r\n"), Ok(5));
        assert_eq!(
            body_len("Content-Length: 5\r\nContent-Length: 5\r\n"),
            Ok(5)
        );
        for bad in [
            "Content-Length: 5\r\nContent-Length: 6\r\n",
            "Content-Length: 5, 6\r\n",
            "Content-Length: -1\r\n",
            "Content-Length: +5\r\n",
            "Content-Length: 0x10\r\n",
            "Content-Length:\r\n",
        ] {
            assert_eq!(body_len(bad), Err(BodyError::BadLength), "{bad:?}");
        }
        assert_eq!(
            body_len("Content-Length: 3\r\nTransfer-Encoding: gzip\r\n"),
            Err(BodyError::TransferEncoding)
        );
    }
}
