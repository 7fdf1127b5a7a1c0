//! Build script: embeds the player page and, when npm has fetched it, hls.js.
//!
//! `web/index.html` is copied to `$OUT_DIR/index.html`. hls.js comes from the npm registry as a
//! pinned dependency of `web/package.json`; the Makefile runs `npm ci --prefix web`, which puts it
//! at `web/node_modules/hls.js/dist/hls.min.js`. When that file exists it is copied to
//! `$OUT_DIR/hls.min.js.gz`, gzip-compressed (RFC 1952, flate2 at best compression: 624 KB →
//! ~190 KB of the binary), and `src/http/player.rs` embeds that; the server sends it as is with
//! `Content-Encoding: gzip`, or decompresses it while sending. When the file does not exist (no
//! npm, offline build) the build still succeeds and the binary serves the page without hls.js,
//! which then plays through the browser's native HLS and says what is missing elsewhere.
//!
//! This script never runs npm and never touches the network.
use flate2::{write::GzEncoder, Compression};
use std::{env, fs, io::Write, path::Path};

fn main() {
    let out = env::var("OUT_DIR").expect("cargo sets OUT_DIR");
    let out = Path::new(&out);
    let page = Path::new("web/index.html");
    let hlsjs = Path::new("web/node_modules/hls.js/dist/hls.min.js");
    let hlsjs_pkg = Path::new("web/node_modules/hls.js/package.json");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed={}", page.display());
    // A missing file would make cargo rerun this script on every build; the `web` directory
    // always exists and its scan notices `npm ci` creating or replacing node_modules.
    println!("cargo:rerun-if-changed=web");
    if hlsjs.exists() {
        println!("cargo:rerun-if-changed={}", hlsjs.display());
    }

    fs::copy(page, out.join("index.html")).expect("copy web/index.html into OUT_DIR");

    let out_js = out.join("hls.min.js.gz");
    let (bundled, version, len) = match fs::read(hlsjs) {
        Ok(bytes) if !bytes.is_empty() => {
            fs::write(&out_js, gzip(&bytes)).expect("write OUT_DIR/hls.min.js.gz");
            let version = fs::read_to_string(hlsjs_pkg)
                .ok()
                .and_then(|pkg| json_string_field(&pkg, "version"))
                .unwrap_or_else(|| "unknown".to_string());
            (true, version, bytes.len())
        }
        _ => {
            println!(
                "cargo:warning=hls.js not bundled ({} missing): run `npm ci --prefix web` \
                 (or `make`) so browsers without native HLS can play",
                hlsjs.display()
            );
            fs::write(&out_js, b"").expect("write OUT_DIR/hls.min.js.gz");
            (false, String::new(), 0)
        }
    };
    let consts = format!(
        "/// Whether hls.js was found at build time and embedded.\n\
         pub const HLSJS_BUNDLED: bool = {bundled};\n\
         /// The embedded hls.js version (empty when not bundled).\n\
         pub const HLSJS_VERSION: &str = {version:?};\n\
         /// Length of the embedded hls.js after decompression, in bytes (0 when not bundled).\n\
         pub const HLSJS_LEN: u64 = {len};\n"
    );
    fs::write(out.join("web_assets.rs"), consts).expect("write OUT_DIR/web_assets.rs");
}

/// `data` as one gzip member at the best compression level (deterministic: mtime 0, no name).
fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::with_capacity(data.len() / 3), Compression::best());
    enc.write_all(data).expect("gzip into a Vec");
    enc.finish().expect("gzip into a Vec")
}

/// The value of `"name": "..."` in a small JSON document (no escapes in the value expected).
fn json_string_field(json: &str, name: &str) -> Option<String> {
    let key = format!("\"{name}\"");
    let rest = &json[json.find(&key)? + key.len()..];
    let rest = rest
        .trim_start()
        .strip_prefix(':')?
        .trim_start()
        .strip_prefix('"')?;
    Some(rest[..rest.find('"')?].to_string())
}
