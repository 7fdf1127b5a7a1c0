//! The HTTP server that serves the live stream (RFC 8216 §4 over HTTP/1.1, RFC 9110/9112).
//!
//! Routes, all answering `GET`, `HEAD` and `OPTIONS` (CORS preflight); `POST` and `DELETE` with a
//! `Content-Length` body of at most [`request::MAX_BODY`] bytes are read ([`conn`]) and answered
//! 405 by routes that take none:
//!
//! | path | content |
//! | --- | --- |
//! | `/live.m3u8` | the published playlist (else `<dir>/live.m3u8`), `application/vnd.apple.mpegurl`, `no-cache`, gzip when accepted; LL-HLS blocking reload and delta updates ([`live`]) |
//! | `/seg<N>.ts`, `/seg<N>.<K>.ts`, `/seg<N>.m4s`, `/seg<N>.<K>.m4s`, `/init<G>.mp4` | the file in `<dir>` ([`routes::media_name`]), one-year `immutable`, single byte ranges; the preload-hinted part is held until complete |
//! | `/`, `/index.html` | the embedded player page ([`player::page_html`]) |
//! | `/hls.min.js` | the bundled hls.js when the build has it ([`player::hlsjs_gzip`]; gzip-encoded when accepted) |
//! | `/api/status` | JSON of [`crate::stats::Stats::snapshot`] |
//! | `/healthz` | `200 ok` when `<dir>/live.m3u8` exists, `503` otherwise |
//!
//! Why not `tiny_http::Server`: it has no connection cap, no socket timeouts, spawns a thread per
//! busy connection without bound and reads request lines of unbounded length, so a handful of
//! slow clients ("slowloris") can pin threads or memory. This module therefore accepts
//! connections itself ([`server`]), caps them, puts a deadline on every request head and every
//! response ([`conn`]), parses request heads with hard size limits ([`request`]) and uses
//! `tiny_http::Response` only to serialise response heads (status line, `Date`, header
//! validation). Framing is always `Content-Length`, never chunked.
//!
//! The server only ever reads files from the segment directory, so it can never block the media
//! pipeline.

pub mod conn;
pub mod events;
pub mod live;
pub mod player;
pub mod recordings;
pub mod request;
pub mod routes;
pub mod server;

pub use server::{HttpConfig, HttpServer};
