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
//! | `/api/recordings?from=&to=` | recorded spans, gaps and events of a range, JSON ([`recordings`]) |
//! | `/api/recordings/days` | recorded bytes and seconds per UTC day, JSON |
//! | `/api/storage` | the recordings disk: used, free, oldest, newest, rate, days left, JSON |
//! | `POST`, `DELETE /api/recordings/{id}/lock` | keep a recorded chunk from retention, or release it |
//! | `/vod/{from}/{to}/index.m3u8` | VOD playlist of a recorded range (`EVENT` while it grows), byte ranges into the chunks |
//! | `/rec/{chunk}.ts` | a recorded chunk file: byte ranges, `ETag`, `If-None-Match` |
//! | `/api/clip.mp4?from=&to=` | a recorded range remuxed into one MP4 file to download ([`clip`]) |
//!
//! The recording routes answer 404 when `[record]` is off.
//!
//! Why not `tiny_http::Server`: it has no connection cap, no socket timeouts, spawns a thread per
//! busy connection without bound and reads request lines of unbounded length, so a handful of
//! slow clients ("slowloris") can pin threads or memory. This module therefore accepts
//! connections itself ([`server`]), caps them, puts a deadline on every request head and every
//! response ([`conn`]), parses request heads with hard size limits ([`request`]) and uses
//! `tiny_http::Response` only to serialise response heads (status line, `Date`, header
//! validation). Framing is always `Content-Length`, never chunked.
//!
//! The server only ever reads files from the segment directory and the recordings directory
//! (and writes lock markers there), so it can never block the media pipeline.

pub mod clip;
pub mod conn;
pub mod events;
pub mod live;
pub mod player;
pub mod recordings;
pub mod renditions;
pub mod request;
pub mod routes;
pub mod server;

pub use server::{HttpConfig, HttpServer};
