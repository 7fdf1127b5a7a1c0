//! The embedded player page and hls.js, served at `/` and `/hls.min.js`.
//!
//! The page (`web/index.html`, self-contained, no external URLs) plays `/live.m3u8` in a
//! `<video>`: with the browser's native HLS player when
//! `canPlayType("application/vnd.apple.mpegurl")` is non-empty (Safari/iOS, Android Chrome,
//! recent desktop Chrome), otherwise with hls.js over Media Source Extensions, loaded from
//! `/hls.min.js`. `?engine=native` or `?engine=hlsjs` in the page URL forces one. It starts
//! muted (browsers block autoplay with sound) with an unmute button, polls `/api/status` every
//! 2 s and shows the figures, the engine in use and the latency behind the live edge.
//!
//! hls.js (RFC 8216 client in JavaScript, Apache-2.0) is a pinned npm dependency of
//! `web/package.json`; `build.rs` embeds it when `npm ci --prefix web` has fetched it. Without it
//! [`hlsjs`] returns `None`, the server answers 404 for `/hls.min.js`, and the page still plays
//! natively where it can and otherwise tells the viewer that hls.js is not bundled.
//!
//! Nothing here allocates or can panic: both bodies are `'static` bytes in the binary.

mod assets {
    include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));
}

pub use assets::{HLSJS_BUNDLED, HLSJS_VERSION};

/// MIME type of [`page_html`].
pub const PAGE_CONTENT_TYPE: &str = "text/html; charset=utf-8";
/// MIME type of [`hlsjs`].
pub const HLSJS_CONTENT_TYPE: &str = "text/javascript; charset=utf-8";

static PAGE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/index.html"));
static HLSJS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/hls.min.js"));

/// The player page (`web/index.html`), served at `/`.
pub fn page_html() -> &'static [u8] {
    PAGE
}

/// hls.js (`hls.min.js`), served at `/hls.min.js`, or `None` when the build did not bundle it.
pub fn hlsjs() -> Option<&'static [u8]> {
    if HLSJS_BUNDLED && !HLSJS.is_empty() {
        Some(HLSJS)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text() -> &'static str {
        std::str::from_utf8(page_html()).expect("page is UTF-8")
    }

    #[test]
    fn page_is_the_player() {
        let t = text();
        assert!(t.starts_with("<!doctype html>"));
        assert!(t.contains(r#"<meta name="viewport""#));
        assert!(t.contains("<video id=\"v\" muted autoplay playsinline"));
        assert!(t.contains("'/live.m3u8'"));
        assert!(t.contains("'/hls.min.js'"));
        assert!(t.contains("'/api/status'"));
        assert!(t.contains("application/vnd.apple.mpegurl"));
        assert!(t.contains("hls.js not bundled: this browser needs native HLS"));
        for field in [
            "uptime_s",
            "source",
            "audio_source",
            "encoder",
            "frames_in",
            "frames_out",
            "fps",
            "drops",
            "bitrate_kbps",
            "segments",
            "clients",
            "encode_ms_per_frame",
            "restarts",
        ] {
            assert!(t.contains(&format!("['{field}',")), "status field {field}");
        }
    }

    #[test]
    fn page_is_small_and_self_contained() {
        assert!(page_html().len() < 8 * 1024, "{} bytes", page_html().len());
        let t = text();
        assert!(
            !t.contains("http://") && !t.contains("https://"),
            "external URL"
        );
        assert!(!t.contains("//cdn"), "external URL");
    }

    /// The embedded hls.js is exactly npm's file when `npm ci --prefix web` ran, else absent.
    #[test]
    fn hlsjs_matches_node_modules() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/web/node_modules/hls.js/dist/hls.min.js"
        );
        let on_disk = std::fs::read(path).ok();
        assert_eq!(hlsjs(), on_disk.as_deref(), "rebuild after npm ci?");
        assert_eq!(hlsjs().is_some(), HLSJS_BUNDLED);
        let version = format!("\"{HLSJS_VERSION}\"");
        match hlsjs() {
            Some(js) => {
                assert!(js.len() > 100_000, "hls.min.js is {} bytes", js.len());
                assert!(
                    js.windows(version.len()).any(|w| w == version.as_bytes()),
                    "hls.min.js does not carry its version {version}"
                );
            }
            None => assert_eq!(version, "\"\""),
        }
    }

    /// The page served is the file in the source tree.
    #[test]
    fn page_is_web_index_html() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/web/index.html");
        assert_eq!(page_html(), std::fs::read(path).expect("web/index.html"));
    }
}
