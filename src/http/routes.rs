//! Routing: which request target names which resource, and the reply for it.
//!
//! Only a fixed set of names is ever served: the built-in routes and, from the segment directory,
//! `live.m3u8` and the media names the HLS output writes ([`media_name`]: `seg<N>.ts`,
//! `seg<N>.<K>.ts`, `seg<N>.m4s`, `seg<N>.<K>.m4s`, `init<G>.mp4`, canonical decimals). A
//! filesystem path is built only from a name that passed [`media_name`] (or the constant
//! `live.m3u8`), so no encoding of `..`, `/`, `\` or NUL in the URL can reach the filesystem.
//! Targets that look like an attack (percent-encoding, backslashes, dot segments, hidden files,
//! empty segments) get 400 and a warning; other unknown names get 404.
//!
//! Caching and types follow RFC 8216 §4 and Apple's HLS authoring spec: the playlist is
//! `application/vnd.apple.mpegurl` with `Cache-Control: no-cache` (gzip when the client accepts
//! it, RFC 9110 §12.5.3; low-latency delivery directives in [`super::live`]), segments and parts
//! are `video/mp2t` or `video/iso.segment` (init segments `video/mp4`) with a one-year
//! `immutable` lifetime (names are never reused) and support single byte ranges (RFC 9110 §14).
//! A `Range` with several ranges is ignored and the whole file is sent with 200, as RFC 9110
//! §14.2 allows; a `Range` sent with `If-Range` is ignored too (the server has no validators to
//! compare). The built-in routes (`/`, `/hls.min.js`, `/api/status`, `/healthz`) ignore `Range`
//! and answer 200 in full. `/hls.min.js` is embedded gzip-compressed: it is sent as is with
//! `Content-Encoding: gzip` when the request accepts gzip, else decompressed while it is sent
//! ([`Body::Gunzip`]); both carry `Vary: Accept-Encoding` and an exact `Content-Length`.

use super::events;
use super::live::{self, Directives, PlaylistAnswer};
use super::player;
use super::recordings::{self, RecRoute};
use super::renditions::{self, RenditionRoute, Renditions};
use super::request::{Head, Method};
use crate::hls::shared::LiveShared;
use crate::hls::store::{parse_init_name, parse_part_name, parse_segment_name};
use crate::hls::Container;
use crate::record::RecordAccess;
use crate::stats::Stats;
use flate2::{write::GzEncoder, Compression};
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::atomic::AtomicBool;
use tiny_http::Header;

/// Largest playlist the server will load (a 6-segment live playlist is well under 1 KiB).
pub const MAX_PLAYLIST: u64 = 1 << 20;
/// The playlist's file name in the segment directory.
pub const PLAYLIST: &str = "live.m3u8";
/// Methods the server implements (the `Allow` header of 405 and preflight answers).
pub const ALLOW: &str = "GET, HEAD, POST, DELETE, OPTIONS";

const CT_PLAYLIST: &str = "application/vnd.apple.mpegurl";
const CT_INIT: &str = "video/mp4";
const CACHE_SEGMENT: &str = "public, max-age=31536000, immutable";
const CACHE_HLSJS: &str = "public, max-age=604800";

/// A resource named by a request target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route<'a> {
    /// `/live.m3u8`
    Playlist,
    /// `/index.m3u8`, the master playlist ([`renditions`]).
    Master,
    /// `/v/<name>/live.m3u8`: the playlist of a rendition after the first.
    RenditionPlaylist(&'a str),
    /// `/v/<name>/<file>`: a media file of a rendition after the first.
    RenditionMedia(&'a str, &'a str, Media),
    /// A media file: its name (already checked by [`media_name`]) and what it is.
    Media(&'a str, Media),
    /// `/` or `/index.html`
    Index,
    /// `/hls.min.js`
    HlsJs,
    /// `/api/status`
    Status,
    /// `/healthz`
    Health,
    /// `*` (only meaningful with `OPTIONS`)
    Asterisk,
    /// `/api/events`, `/api/record/start`, `/api/record/stop` (`POST`, [`events`]).
    RecordControl(events::Action),
    /// A recordings route ([`super::recordings`]).
    Recording(RecRoute<'a>),
}

/// Why a target names no resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reject {
    /// A plausible but unknown name (404, logged at debug).
    NotFound,
    /// A target that tries to escape or smuggle bytes (400, logged at warn with this reason).
    Suspicious(&'static str),
}

/// A media file the HLS output writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Media {
    /// `seg<N>.<ext>`
    Segment(Container),
    /// `seg<N>.<K>.<ext>`: part `K` of segment `N`.
    Part(Container, u64, u32),
    /// `init<G>.mp4`
    Init,
}

/// What a media file name names, if it is one the HLS output writes.
pub fn media_name(name: &str) -> Option<Media> {
    if parse_init_name(name).is_some() {
        return Some(Media::Init);
    }
    [Container::Ts, Container::Fmp4].into_iter().find_map(|c| {
        if parse_segment_name(name, c).is_some() {
            Some(Media::Segment(c))
        } else {
            parse_part_name(name, c).map(|(n, k)| Media::Part(c, n, k))
        }
    })
}

/// Maps a request target (origin-form, absolute-form or `*`) to a route. The query is ignored.
pub fn classify(target: &str) -> Result<Route<'_>, Reject> {
    if target == "*" {
        return Ok(Route::Asterisk);
    }
    let mut path = target;
    // absolute-form (RFC 9112 §3.2.2): drop scheme and authority.
    for scheme in ["http://", "https://"] {
        if path.len() >= scheme.len() && path[..scheme.len()].eq_ignore_ascii_case(scheme) {
            let rest = &path[scheme.len()..];
            path = rest.find('/').map_or("/", |i| &rest[i..]);
            break;
        }
    }
    if !path.starts_with('/') {
        return Err(Reject::Suspicious("target is not an absolute path"));
    }
    let path = path.split(['?', '#']).next().unwrap_or("/");
    if path.contains('%') {
        return Err(Reject::Suspicious("percent-encoded bytes in path"));
    }
    if path.contains('\\') {
        return Err(Reject::Suspicious("backslash in path"));
    }
    if path.contains("/.") {
        return Err(Reject::Suspicious("dot segment or hidden file in path"));
    }
    if path.contains("//") {
        return Err(Reject::Suspicious("empty path segment"));
    }
    match path {
        "/live.m3u8" => Ok(Route::Playlist),
        "/index.m3u8" => Ok(Route::Master),
        "/" | "/index.html" => Ok(Route::Index),
        "/hls.min.js" => Ok(Route::HlsJs),
        "/api/status" => Ok(Route::Status),
        "/healthz" => Ok(Route::Health),
        p if p.starts_with("/v/") => match renditions::split_path(p) {
            Some((name, PLAYLIST)) => Ok(Route::RenditionPlaylist(name)),
            Some((name, file)) => media_name(file)
                .map(|m| Route::RenditionMedia(name, file, m))
                .ok_or(Reject::NotFound),
            None => Err(Reject::NotFound),
        },
        p => match events::Action::from_path(p) {
            Some(a) => Ok(Route::RecordControl(a)),
            None => match (recordings::classify(p), media_name(&p[1..])) {
                (Some(r), _) => Ok(Route::Recording(r)),
                (None, Some(m)) => Ok(Route::Media(&p[1..], m)),
                (None, None) => Err(Reject::NotFound),
            },
        },
    }
}

/// Outcome of a `Range` header against a representation of known length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// Send the whole representation (no Range, or one the server ignores).
    Full,
    /// Send bytes `first..=last` with 206.
    Partial {
        /// First byte offset.
        first: u64,
        /// Last byte offset, inclusive.
        last: u64,
    },
    /// 416 with `Content-Range: bytes */len`.
    Unsatisfiable,
}

/// Evaluates a `Range` field value (RFC 9110 §14.1.2) for a representation of `len` bytes.
/// Syntactically invalid values, other units and multiple ranges give [`ByteRange::Full`].
pub fn parse_range(value: &str, len: u64) -> ByteRange {
    let v = value.trim();
    if v.len() < 6 || !v[..6].eq_ignore_ascii_case("bytes=") {
        return ByteRange::Full;
    }
    let spec = v[6..].trim();
    if spec.contains(',') {
        return ByteRange::Full;
    }
    let Some((a, b)) = spec.split_once('-') else {
        return ByteRange::Full;
    };
    let num = |s: &str| -> Option<u64> {
        if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        // More digits than u64 holds: saturate (a huge offset is simply past the end).
        Some(s.parse::<u64>().unwrap_or(u64::MAX))
    };
    let (a, b) = (a.trim(), b.trim());
    match (a.is_empty(), b.is_empty()) {
        (true, true) => ByteRange::Full,
        (true, false) => match num(b) {
            None => ByteRange::Full,
            Some(0) => ByteRange::Unsatisfiable,
            Some(_) if len == 0 => ByteRange::Unsatisfiable,
            Some(n) => ByteRange::Partial {
                first: len.saturating_sub(n),
                last: len - 1,
            },
        },
        (false, _) => {
            let Some(first) = num(a) else {
                return ByteRange::Full;
            };
            let last = if b.is_empty() {
                u64::MAX
            } else {
                match num(b) {
                    Some(l) if l >= first => l,
                    _ => return ByteRange::Full,
                }
            };
            if first >= len {
                ByteRange::Unsatisfiable
            } else {
                ByteRange::Partial {
                    first,
                    last: last.min(len - 1),
                }
            }
        }
    }
}

/// Whether an `Accept-Encoding` value accepts gzip with a non-zero quality (RFC 9110 §12.5.3).
pub fn accepts_gzip(value: &str) -> bool {
    value.split(',').any(|item| {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or("").trim();
        if !(coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip")) {
            return false;
        }
        for p in parts {
            let p = p.trim();
            if p.len() >= 2 && p[..2].eq_ignore_ascii_case("q=") {
                return p[2..].trim().parse::<f32>().is_ok_and(|q| q > 0.0);
            }
        }
        true
    })
}

/// The body of a reply.
#[derive(Debug)]
pub enum Body {
    /// No body (`Content-Length: 0`, or none for 204).
    Empty,
    /// Bytes compiled into the binary.
    Static(&'static [u8]),
    /// Bytes built for this request.
    Bytes(Vec<u8>),
    /// A gzip member compiled into the binary, sent decompressed (`len` bytes once inflated).
    Gunzip {
        /// The gzip member (RFC 1952).
        gz: &'static [u8],
        /// Its decompressed length: the `Content-Length`.
        len: u64,
    },
    /// `len` bytes of an open file starting at `offset`.
    File {
        /// The open file (it stays readable even if the ring deletes it meanwhile).
        file: File,
        /// First byte to send.
        offset: u64,
        /// Number of bytes to send.
        len: u64,
    },
    /// `len` bytes a producer writes while the reply is sent (a clip being remuxed); the
    /// connection is closed, not reused, when it writes any other number.
    Stream {
        /// The exact number of bytes the producer writes: the `Content-Length`.
        len: u64,
        /// Writes the body; returns the bytes written.
        producer: Producer,
    },
}

/// What a [`Producer`] runs: writes the body into the connection, returns the bytes written.
pub type WriteBody = dyn FnOnce(&mut dyn std::io::Write) -> std::io::Result<u64> + Send;

/// The writer of a [`Body::Stream`].
pub struct Producer(pub Box<WriteBody>);

impl std::fmt::Debug for Producer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Producer")
    }
}

impl Body {
    /// The body's length in bytes (its `Content-Length`).
    pub fn len(&self) -> u64 {
        match self {
            Body::Empty => 0,
            Body::Static(b) => b.len() as u64,
            Body::Bytes(b) => b.len() as u64,
            Body::Gunzip { len, .. } => *len,
            Body::File { len, .. } | Body::Stream { len, .. } => *len,
        }
    }

    /// Whether the body has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A response before serialisation.
#[derive(Debug)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Header fields (never `Content-Length`, `Connection` or `Transfer-Encoding`).
    pub headers: Vec<Header>,
    /// The body.
    pub body: Body,
}

/// Builds a header from ASCII parts (every caller passes ASCII).
pub fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes())
        .unwrap_or_else(|_| Header::from_bytes(&b"X-Invalid"[..], &b"1"[..]).expect("ascii"))
}

impl Reply {
    pub(crate) fn new(status: u16, body: Body) -> Reply {
        Reply {
            status,
            headers: Vec::with_capacity(8),
            body,
        }
    }

    pub(crate) fn with(mut self, name: &str, value: &str) -> Reply {
        self.headers.push(header(name, value));
        self
    }

    pub(crate) fn cors(self) -> Reply {
        self.with("Access-Control-Allow-Origin", "*")
    }

    /// A short plain-text reply that is never cached.
    pub fn text(status: u16, text: &'static str) -> Reply {
        Reply::new(status, Body::Static(text.as_bytes()))
            .with("Content-Type", "text/plain; charset=utf-8")
            .with("Cache-Control", "no-store")
    }

    /// A plain-text reply built for this request (an error message naming the bad input).
    pub fn message(status: u16, text: String) -> Reply {
        Reply::new(status, Body::Bytes(text.into_bytes()))
            .with("Content-Type", "text/plain; charset=utf-8")
            .with("Cache-Control", "no-store")
    }

    /// 405 with `Allow`.
    pub fn method_not_allowed() -> Reply {
        Reply::text(405, "method not allowed\n").with("Allow", ALLOW)
    }
}

/// What [`respond`] needs from the server.
#[derive(Debug, Clone, Copy)]
pub struct Ctx<'a> {
    /// The segment directory.
    pub dir: &'a Path,
    /// Counters for `/api/status`.
    pub stats: &'a Stats,
    /// What the mux thread publishes (playlist and low-latency progress), when it runs in this
    /// process; without it the playlist is read from `dir` and nothing is ever held.
    pub live: Option<&'a LiveShared>,
    /// Set when the server shuts down: held requests end (503).
    pub stop: &'a AtomicBool,
    /// Recording, when `[record]` is on.
    pub record: Option<&'a RecordAccess>,
    /// The renditions and the master playlist (`None`: `/index.m3u8` and `/v/` are 404).
    pub renditions: Option<&'a Renditions>,
    /// The rendition whose playlist or media is being served (`None`: the first, at `/`).
    pub rendition: Option<&'a str>,
}

/// The reply to a parsed request and its body (at most
/// [`MAX_BODY`](super::request::MAX_BODY) bytes, empty when none was sent). `Err` carries the
/// reason of a suspicious target for the log.
pub fn respond(head: &Head<'_>, body: &[u8], ctx: Ctx<'_>) -> Result<Reply, (Reply, &'static str)> {
    let route = match classify(head.target) {
        Ok(r) => r,
        Err(Reject::NotFound) => return Ok(Reply::text(404, "not found\n")),
        Err(Reject::Suspicious(why)) => return Err((Reply::text(400, "bad request\n"), why)),
    };
    match (head.method, route) {
        (Method::Other, _) => Ok(Reply::method_not_allowed()),
        (Method::Options, _) => Ok(preflight()),
        (Method::Post, Route::RecordControl(a)) => Ok(events::respond(
            a,
            body,
            ctx.record,
            std::time::SystemTime::now(),
        )),
        (_, Route::RecordControl(_)) => {
            Ok(Reply::text(405, "method not allowed (POST)\n").with("Allow", "POST, OPTIONS"))
        }
        (_, Route::Recording(r)) => Ok(recordings::respond(head, r, ctx)),
        // No other route takes a body.
        (Method::Post | Method::Delete, _) => Ok(Reply::method_not_allowed()),
        (_, Route::Asterisk) => Err((
            Reply::text(400, "bad request\n"),
            "'*' target without OPTIONS",
        )),
        (_, Route::Playlist) => Ok(playlist(head, ctx)),
        (_, Route::Master) => Ok(match ctx.renditions.map(renditions::master) {
            Some(Ok(text)) => playlist_reply(head, text, "no-cache"),
            Some(Err(reply)) => reply,
            None => Reply::text(404, "not found\n"),
        }),
        // A stopped rendition's playlist is gone; its media stays until it is deleted.
        (_, Route::RenditionPlaylist(name)) => Ok(match in_rendition(ctx, name) {
            Some((c, r)) if r.info.running() => playlist(head, c),
            _ => Reply::text(404, "not found\n"),
        }),
        (_, Route::RenditionMedia(name, file, m)) => Ok(match in_rendition(ctx, name) {
            Some((c, _)) => media(head, c, file, m),
            None => Reply::text(404, "not found\n"),
        }),
        (_, Route::Media(name, m)) => Ok(media(head, ctx, name, m)),
        (_, Route::Index) => Ok(Reply::new(200, Body::Static(player::page_html()))
            .with("Content-Type", "text/html; charset=utf-8")
            .with("Cache-Control", "no-cache")),
        (_, Route::HlsJs) => Ok(hlsjs(head)),
        (_, Route::Status) => Ok(status(ctx.stats)),
        (_, Route::Health) => Ok(if ctx.dir.join(PLAYLIST).is_file() {
            Reply::text(200, "ok\n")
        } else {
            Reply::text(503, "no playlist yet\n")
        }),
    }
}

/// `/hls.min.js`: the embedded gzip member as is when the client accepts gzip, else inflated.
fn hlsjs(head: &Head<'_>) -> Reply {
    let Some(gz) = player::hlsjs_gzip() else {
        return Reply::text(404, "not found\n");
    };
    let reply = if head.header("accept-encoding").is_some_and(accepts_gzip) {
        Reply::new(200, Body::Static(gz)).with("Content-Encoding", "gzip")
    } else {
        Reply::new(
            200,
            Body::Gunzip {
                gz,
                len: player::HLSJS_LEN,
            },
        )
    };
    reply
        .with("Content-Type", "application/javascript; charset=utf-8")
        .with("Cache-Control", CACHE_HLSJS)
        .with("Vary", "Accept-Encoding")
}

/// CORS preflight answer (Fetch standard §3.2): 204 with the allowed methods and headers.
fn preflight() -> Reply {
    Reply::new(204, Body::Empty)
        .cors()
        .with("Access-Control-Allow-Methods", ALLOW)
        .with(
            "Access-Control-Allow-Headers",
            "Range, If-Range, If-None-Match, Accept, Content-Type",
        )
        .with("Access-Control-Max-Age", "86400")
        .with("Allow", ALLOW)
}

fn status(stats: &Stats) -> Reply {
    json_reply(200, &stats.snapshot())
}

/// `value` as JSON with `status`, never cached, CORS (500 when it cannot be serialised).
pub(crate) fn json_reply(status: u16, value: &impl serde::Serialize) -> Reply {
    match serde_json::to_vec(value) {
        Ok(json) => Reply::new(status, Body::Bytes(json))
            .with("Content-Type", "application/json")
            .with("Cache-Control", "no-store")
            .cors(),
        Err(_) => Reply::text(500, "internal error\n"),
    }
}

fn read_playlist(dir: &Path) -> io::Result<Vec<u8>> {
    let file = File::open(dir.join(PLAYLIST))?;
    let mut data = Vec::with_capacity(2048);
    file.take(MAX_PLAYLIST + 1).read_to_end(&mut data)?;
    if data.len() as u64 > MAX_PLAYLIST {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "playlist larger than 1 MiB",
        ));
    }
    Ok(data)
}

fn gzip(data: &[u8]) -> io::Result<Vec<u8>> {
    let mut enc = GzEncoder::new(Vec::with_capacity(data.len() / 2 + 64), Compression::fast());
    enc.write_all(data)?;
    enc.finish()
}

/// `ctx` for serving rendition `name`'s directory and published state, and its route.
fn in_rendition<'a>(ctx: Ctx<'a>, name: &'a str) -> Option<(Ctx<'a>, &'a RenditionRoute)> {
    let r = ctx.renditions?.route(name)?;
    let c = Ctx {
        dir: &r.dir,
        live: Some(&r.live),
        rendition: Some(name),
        ..ctx
    };
    Some((c, r))
}

fn playlist(head: &Head<'_>, ctx: Ctx<'_>) -> Reply {
    let d = match Directives::parse(head.target) {
        Ok(d) => d,
        Err(why) => {
            log::debug!("http: {}: {why}", head.target);
            return Reply::text(400, "bad delivery directive\n").cors();
        }
    };
    let answer = match ctx.live {
        Some(l) => live::playlist(l, d, ctx.stop),
        None => PlaylistAnswer::NotPublished,
    };
    let (data, cache) = match answer {
        PlaylistAnswer::Text(t, cache) => (t, cache),
        PlaylistAnswer::Status(code, why) => return Reply::text(code, why).cors(),
        PlaylistAnswer::NotPublished => match read_playlist(ctx.dir) {
            Ok(d) => (d, "no-cache".to_owned()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Reply::text(404, "no playlist yet\n")
            }
            Err(e) => {
                log::warn!(
                    "http: cannot read {}: {e}",
                    ctx.dir.join(PLAYLIST).display()
                );
                return Reply::text(500, "internal error\n");
            }
        },
    };
    let mut data = data;
    if let Some(r) = ctx.renditions {
        renditions::append_reports(&mut data, r, ctx.rendition);
    }
    playlist_reply(head, data, &cache)
}

/// 200 with playlist text `data`: gzip when the client accepts it, the playlist type,
/// `Cache-Control: cache`, `Vary: Accept-Encoding`, CORS.
pub(crate) fn playlist_reply(head: &Head<'_>, data: Vec<u8>, cache: &str) -> Reply {
    let gz = head.header("accept-encoding").is_some_and(accepts_gzip);
    let reply = if gz {
        match gzip(&data) {
            Ok(z) => Reply::new(200, Body::Bytes(z)).with("Content-Encoding", "gzip"),
            Err(e) => {
                log::warn!("http: gzip of playlist failed: {e}");
                Reply::new(200, Body::Bytes(data))
            }
        }
    } else {
        Reply::new(200, Body::Bytes(data))
    };
    reply
        .with("Content-Type", CT_PLAYLIST)
        .with("Cache-Control", cache)
        .with("Vary", "Accept-Encoding")
        .cors()
}

fn open_len(path: &Path) -> io::Result<(File, u64)> {
    let f = File::open(path)?;
    let len = f.metadata()?.len();
    Ok((f, len))
}

fn media(head: &Head<'_>, ctx: Ctx<'_>, name: &str, m: Media) -> Reply {
    debug_assert_eq!(media_name(name), Some(m));
    let path = ctx.dir.join(name);
    let mut opened = open_len(&path);
    // The part the preload hint names is held until it is complete (RFC 8216bis §6.2.6).
    if let (Err(e), Media::Part(_, seq, k), Some(l)) = (&opened, m, ctx.live) {
        if e.kind() == io::ErrorKind::NotFound {
            if let Err(reply) = live::hold_part(l, seq, k, ctx.stop) {
                return reply.cors();
            }
            opened = open_len(&path);
        }
    }
    let (file, len) = match opened {
        Ok(x) => x,
        // The ring may delete a segment between a client's playlist fetch and this open.
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Reply::text(404, "not found\n"),
        Err(e) => {
            log::warn!("http: cannot open {name}: {e}");
            return Reply::text(500, "internal error\n");
        }
    };
    let content_type = match m {
        Media::Segment(c) | Media::Part(c, ..) => c.content_type(),
        Media::Init => CT_INIT,
    };
    file_reply(head, file, len, content_type, CACHE_SEGMENT, None)
}

/// Whether an `If-None-Match` value lists `etag` (weak comparison, RFC 9110 §13.1.2) or is `*`.
pub fn none_match(value: &str, etag: &str) -> bool {
    let bare = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    value.trim() == "*" || value.split(',').any(|t| bare(t) == bare(etag))
}

/// The reply that sends an open file of `len` bytes: 200, or 206 for a single `Range`, or 416;
/// `Accept-Ranges`, exact `Content-Length`. With a strong `etag`: `ETag` on every answer, 304
/// when `If-None-Match` lists it, and a `Range` sent with `If-Range` is honoured only when
/// `If-Range` is that tag (without one, such a `Range` is ignored: nothing to compare).
pub(crate) fn file_reply(
    head: &Head<'_>,
    file: File,
    len: u64,
    content_type: &str,
    cache: &str,
    etag: Option<&str>,
) -> Reply {
    if let (Some(tag), Some(inm)) = (etag, head.header("if-none-match")) {
        if none_match(inm, tag) {
            return Reply::new(304, Body::Empty)
                .with("ETag", tag)
                .with("Cache-Control", cache)
                .cors();
        }
    }
    let range = match (head.header("range"), head.header("if-range"), etag) {
        (Some(r), None, _) => parse_range(r, len),
        (Some(r), Some(ir), Some(tag)) if ir.trim() == tag => parse_range(r, len),
        _ => ByteRange::Full,
    };
    let reply = match range {
        ByteRange::Full => Reply::new(
            200,
            Body::File {
                file,
                offset: 0,
                len,
            },
        ),
        ByteRange::Partial { first, last } => Reply::new(
            206,
            Body::File {
                file,
                offset: first,
                len: last - first + 1,
            },
        )
        .with("Content-Range", &format!("bytes {first}-{last}/{len}")),
        ByteRange::Unsatisfiable => Reply::new(416, Body::Empty)
            .with("Content-Range", &format!("bytes */{len}"))
            .with("Cache-Control", "no-store"),
    };
    let mut reply = if reply.status == 416 {
        reply
    } else {
        reply.with("Cache-Control", cache)
    };
    if let Some(tag) = etag {
        reply = reply.with("ETag", tag);
    }
    reply
        .with("Content-Type", content_type)
        .with("Accept-Ranges", "bytes")
        .with(
            "Access-Control-Expose-Headers",
            "Content-Length, Content-Range, Accept-Ranges, ETag",
        )
        .cors()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_names() {
        for ok in ["seg0.ts", "seg123.ts", "seg12345678901234567890.ts"] {
            assert_eq!(media_name(ok), Some(Media::Segment(Container::Ts)), "{ok}");
        }
        assert_eq!(
            media_name("seg7.m4s"),
            Some(Media::Segment(Container::Fmp4))
        );
        assert_eq!(
            media_name("seg7.3.ts"),
            Some(Media::Part(Container::Ts, 7, 3))
        );
        assert_eq!(
            media_name("seg7.0.m4s"),
            Some(Media::Part(Container::Fmp4, 7, 0))
        );
        assert_eq!(media_name("init4.mp4"), Some(Media::Init));
        for bad in [
            "seg07.ts",
            "seg7.03.ts",
            "seg7..ts",
            "init.mp4",
            "init1.m4s",
            "seg1.mp4",
        ] {
            assert_eq!(media_name(bad), None, "{bad}");
        }
        for bad in [
            "seg.ts",
            "seg123456789012345678901.ts",
            "seg1.ts.part",
            ".seg1.ts.part",
            "Seg1.ts",
            "seg1.TS",
            "seg-1.ts",
            "seg1a.ts",
            "seg1.ts/",
            "xseg1.ts",
            "seg١.ts",
        ] {
            assert_eq!(media_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn classify_known_and_evil_targets() {
        assert_eq!(classify("/live.m3u8"), Ok(Route::Playlist));
        assert_eq!(classify("/live.m3u8?_HLS_msn=3"), Ok(Route::Playlist));
        let seg42 = Route::Media("seg42.ts", Media::Segment(Container::Ts));
        assert_eq!(classify("/seg42.ts"), Ok(seg42));
        assert_eq!(classify("http://cam.local:8080/seg42.ts"), Ok(seg42));
        assert_eq!(classify("HTTP://cam"), Ok(Route::Index));
        assert_eq!(classify("/"), Ok(Route::Index));
        assert_eq!(classify("*"), Ok(Route::Asterisk));
        assert_eq!(classify("/etc/passwd"), Err(Reject::NotFound));
        assert_eq!(classify("/favicon.ico"), Err(Reject::NotFound));
        assert_eq!(
            classify("/rec/20261206T100000Z.ts?x=1"),
            Ok(Route::Recording(RecRoute::Chunk("20261206T100000Z.ts")))
        );
        assert_eq!(
            classify("/api/recordings?from=now"),
            Ok(Route::Recording(RecRoute::List))
        );
        assert_eq!(classify("/rec/live.m3u8"), Err(Reject::NotFound));
        assert_eq!(classify("/rec/seg1.ts"), Err(Reject::NotFound));
        assert_eq!(classify("/index.m3u8"), Ok(Route::Master));
        assert_eq!(
            classify("/v/360p/live.m3u8?_HLS_msn=4&_HLS_part=1"),
            Ok(Route::RenditionPlaylist("360p"))
        );
        assert_eq!(
            classify("/v/audio/seg7.2.ts"),
            Ok(Route::RenditionMedia(
                "audio",
                "seg7.2.ts",
                Media::Part(Container::Ts, 7, 2)
            ))
        );
        for missing in [
            "/v/360p/x.ts",
            "/v/360p",
            "/v/A/live.m3u8",
            "/v/a/b/live.m3u8",
        ] {
            assert_eq!(classify(missing), Err(Reject::NotFound), "{missing}");
        }
        for evil in [
            "/v/360p/../live.m3u8",
            "/v/360p/.hlscam-state",
            "/v/%2e%2e/live.m3u8",
            "/v//live.m3u8",
            "/../live.m3u8",
            "/seg1.ts/../live.m3u8",
            "/%2e%2e/etc/passwd",
            "/seg1.ts%00",
            "/%252e%252e/x",
            "/..%2fseg1.ts",
            "/..\\seg1.ts",
            "/.seg1.ts.part",
            "/.hlscam-state",
            "/rec/../20261206T100000Z.ts",
            "/rec/.hlscam-rec",
            "/rec/20261206T100000Z.ts%00",
            "//etc/passwd",
            "live.m3u8",
        ] {
            assert!(
                matches!(classify(evil), Err(Reject::Suspicious(_))),
                "{evil}"
            );
        }
    }

    #[test]
    fn ranges() {
        use ByteRange::*;
        assert_eq!(parse_range("bytes=0-9", 100), Partial { first: 0, last: 9 });
        assert_eq!(
            parse_range("bytes=90-", 100),
            Partial {
                first: 90,
                last: 99
            }
        );
        assert_eq!(
            parse_range("bytes=90-1000", 100),
            Partial {
                first: 90,
                last: 99
            }
        );
        assert_eq!(
            parse_range("bytes=-10", 100),
            Partial {
                first: 90,
                last: 99
            }
        );
        assert_eq!(
            parse_range("bytes=-1000", 100),
            Partial { first: 0, last: 99 }
        );
        assert_eq!(parse_range("Bytes = 5-5", 100), Full); // space before '=' is not the syntax
        assert_eq!(
            parse_range("bytes= 5-5", 100),
            Partial { first: 5, last: 5 }
        );
        assert_eq!(parse_range("bytes=100-", 100), Unsatisfiable);
        assert_eq!(
            parse_range("bytes=99999999999999999999999-", 100),
            Unsatisfiable
        );
        assert_eq!(parse_range("bytes=-0", 100), Unsatisfiable);
        assert_eq!(parse_range("bytes=-5", 0), Unsatisfiable);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), Full);
        assert_eq!(parse_range("bytes=9-1", 100), Full);
        assert_eq!(parse_range("bytes=a-b", 100), Full);
        assert_eq!(parse_range("bytes=-", 100), Full);
        assert_eq!(parse_range("items=0-1", 100), Full);
    }

    #[test]
    fn entity_tag_lists() {
        assert!(none_match("\"a-1\"", "\"a-1\""));
        assert!(none_match("\"x\", W/\"a-1\"", "\"a-1\""));
        assert!(none_match("*", "\"a-1\""));
        assert!(!none_match("\"a-2\"", "\"a-1\""));
        assert!(!none_match("", "\"a-1\""));
    }

    #[test]
    fn gzip_acceptance() {
        assert!(accepts_gzip("gzip"));
        assert!(accepts_gzip("deflate, GZIP;q=0.5, br"));
        assert!(!accepts_gzip("gzip;q=0"));
        assert!(!accepts_gzip("gzip; q=0.0"));
        assert!(!accepts_gzip("br, deflate"));
        assert!(!accepts_gzip("identity"));
    }
}
