//! Build script: embeds the player page and, when npm has fetched it, hls.js.
//!
//! `web/index.html` is copied to `$OUT_DIR/index.html`. hls.js comes from the npm registry as a
//! pinned dependency of `web/package.json`; the Makefile runs `npm ci --prefix web`, which puts it
//! at `web/node_modules/hls.js/dist/hls.min.js`. When that file exists it is copied to
//! `$OUT_DIR/hls.min.js` and `src/http/player.rs` embeds it; when it does not (no npm, offline
//! build) the build still succeeds and the binary serves the page without hls.js, which then
//! plays through the browser's native HLS and says what is missing elsewhere.
//!
//! This script never runs npm and never touches the network.
use std::{env, fs, path::Path};

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

    let out_js = out.join("hls.min.js");
    let (bundled, version) = match fs::read(hlsjs) {
        Ok(bytes) if !bytes.is_empty() => {
            fs::write(&out_js, &bytes).expect("write OUT_DIR/hls.min.js");
            let version = fs::read_to_string(hlsjs_pkg)
                .ok()
                .and_then(|pkg| json_string_field(&pkg, "version"))
                .unwrap_or_else(|| "unknown".to_string());
            (true, version)
        }
        _ => {
            println!(
                "cargo:warning=hls.js not bundled ({} missing): run `npm ci --prefix web` \
                 (or `make`) so browsers without native HLS can play",
                hlsjs.display()
            );
            fs::write(&out_js, b"").expect("write OUT_DIR/hls.min.js");
            (false, String::new())
        }
    };
    let consts = format!(
        "/// Whether hls.js was found at build time and embedded.\n\
         pub const HLSJS_BUNDLED: bool = {bundled};\n\
         /// The embedded hls.js version (empty when not bundled).\n\
         pub const HLSJS_VERSION: &str = {version:?};\n"
    );
    fs::write(out.join("web_assets.rs"), consts).expect("write OUT_DIR/web_assets.rs");
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
