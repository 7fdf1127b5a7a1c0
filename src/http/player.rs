//! The embedded player page and hls.js, served at `/` and `/hls.min.js`.
//!
//! The page (`web/index.html`, self-contained, no external URLs) plays `/live.m3u8` in a
//! `<video>`: with hls.js (loaded from `/hls.min.js`, `lowLatencyMode`, catching up at up to
//! 1.5×) wherever Media Source Extensions or `ManagedMediaSource` (iOS Safari 17.1+) exist,
//! since it plays LL-HLS parts; with the browser's native HLS player only where neither exists
//! and `canPlayType("application/vnd.apple.mpegurl")` is non-empty (older iPhones).
//! `?engine=native` or `?engine=hlsjs` in the page URL forces one; `?src=<playlist URL>` plays
//! that playlist instead (the copy on an origin the board publishes to). It starts
//! muted (browsers block autoplay with sound) with an unmute button, polls `/api/status` every
//! 2 s and shows the figures, the engine in use and the latency behind the live edge.
//! Its Recordings tab (`/#rec`) draws the recordings API as a day timeline, plays `/vod/`
//! ranges from a tap, shows the picture's `PROGRAM-DATE-TIME`, and exports and keeps clips
//! (README "The Recordings view"); with `[record]` off it says so.
//!
//! hls.js (RFC 8216 client in JavaScript, Apache-2.0) is a pinned npm dependency of
//! `web/package.json`; `build.rs` embeds it when `npm ci --prefix web` has fetched it,
//! gzip-compressed (RFC 1952; ~190 KB instead of 624 KB of the binary). The server sends the gzip
//! member as is to clients that accept gzip (every browser) and decompresses it while sending to
//! the others. Without it [`hlsjs_gzip`] returns `None`, the server answers 404 for
//! `/hls.min.js`, and the page still plays natively where it can and otherwise tells the viewer
//! that hls.js is not bundled.
//!
//! [`page_html`] and [`hlsjs_gzip`] neither allocate nor panic: the bodies are `'static` bytes in
//! the binary. [`hlsjs`] decompresses into a new `Vec` (tests and tools; the server streams).

mod assets {
    include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));
}

pub use assets::{HLSJS_BUNDLED, HLSJS_LEN, HLSJS_VERSION};

/// MIME type of [`page_html`].
pub const PAGE_CONTENT_TYPE: &str = "text/html; charset=utf-8";
/// MIME type of [`hlsjs_gzip`] (once decompressed).
pub const HLSJS_CONTENT_TYPE: &str = "text/javascript; charset=utf-8";

static PAGE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/index.html"));
static HLSJS_GZ: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/hls.min.js.gz"));

/// The player page (`web/index.html`), served at `/`.
pub fn page_html() -> &'static [u8] {
    PAGE
}

/// hls.js (`hls.min.js`, served at `/hls.min.js`) as one gzip member that decompresses to
/// [`HLSJS_LEN`] bytes, or `None` when the build did not bundle it.
pub fn hlsjs_gzip() -> Option<&'static [u8]> {
    if HLSJS_BUNDLED && !HLSJS_GZ.is_empty() {
        Some(HLSJS_GZ)
    } else {
        None
    }
}

/// hls.js decompressed into a new `Vec` of [`HLSJS_LEN`] bytes, or `None` when not bundled.
pub fn hlsjs() -> Option<Vec<u8>> {
    use std::io::Read;
    let gz = hlsjs_gzip()?;
    let mut js = Vec::with_capacity(HLSJS_LEN as usize);
    flate2::bufread::GzDecoder::new(gz)
        .read_to_end(&mut js)
        .expect("the embedded gzip member is valid (checked by the tests)");
    Some(js)
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
        // The master playlist, or with ?src= another copy of the stream (an origin the board
        // publishes to).
        assert!(t.contains("SRC = q.get('src') || '/index.m3u8'"));
        assert!(t.contains("'/hls.min.js'"));
        assert!(t.contains("'/api/status'"));
        assert!(t.contains("application/vnd.apple.mpegurl"));
        assert!(t.contains("hls.js not bundled (build with npm): this browser needs native HLS"));
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
        // 21,188 bytes with the Recordings view (8,546 before it); raw, the server does not gzip it.
        assert!(page_html().len() < 24 * 1024, "{} bytes", page_html().len());
        let t = text();
        assert!(
            !t.contains("http://") && !t.contains("https://"),
            "external URL"
        );
        assert!(!t.contains("//cdn"), "external URL");
    }

    /// The embedded hls.js decompresses to exactly npm's file when `npm ci --prefix web` ran,
    /// else is absent.
    #[test]
    fn hlsjs_matches_node_modules() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/web/node_modules/hls.js/dist/hls.min.js"
        );
        let on_disk = std::fs::read(path).ok();
        let js = hlsjs();
        assert!(js == on_disk, "rebuild after npm ci?");
        assert_eq!(js.is_some(), HLSJS_BUNDLED);
        assert_eq!(hlsjs_gzip().is_some(), HLSJS_BUNDLED);
        let version = format!("\"{HLSJS_VERSION}\"");
        match js {
            Some(js) => {
                assert_eq!(js.len() as u64, HLSJS_LEN);
                let gz = hlsjs_gzip().unwrap();
                // RFC 1952 §2.3: magic, CM = 8 (deflate); ISIZE trailer = length mod 2^32.
                assert_eq!(&gz[..3], &[0x1f, 0x8b, 8]);
                let isize = u32::from_le_bytes(gz[gz.len() - 4..].try_into().unwrap());
                assert_eq!(u64::from(isize), HLSJS_LEN);
                // Best compression: minified JS shrinks to well under a half.
                assert!(
                    gz.len() * 2 < js.len(),
                    "{} -> {} bytes",
                    js.len(),
                    gz.len()
                );
                assert!(js.len() > 100_000, "hls.min.js is {} bytes", js.len());
                assert!(
                    js.windows(version.len()).any(|w| w == version.as_bytes()),
                    "hls.min.js does not carry its version {version}"
                );
            }
            None => {
                assert_eq!(version, "\"\"");
                assert_eq!(HLSJS_LEN, 0);
            }
        }
    }

    /// The page served is the file in the source tree.
    #[test]
    fn page_is_web_index_html() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/web/index.html");
        assert_eq!(page_html(), std::fs::read(path).expect("web/index.html"));
    }
}
