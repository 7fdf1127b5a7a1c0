//! Placeholder for the embedded player page (the `web` helper owns the real file).
//!
//! Only the two functions the server calls are provided so the `http` branch compiles; the lead
//! replaces this file with the web helper's version when merging.

/// The player page served at `/` and `/index.html` (`text/html; charset=utf-8`).
pub fn page_html() -> &'static [u8] {
    b"<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>hlscam</title></head>\n<body><video src=\"/live.m3u8\" controls autoplay muted playsinline></video></body></html>\n"
}

/// The bundled `hls.min.js`, served at `/hls.min.js` when present.
pub fn hlsjs() -> Option<&'static [u8]> {
    None
}
