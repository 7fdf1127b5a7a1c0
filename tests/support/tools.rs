//! Shared helpers of the integration tests: fresh scratch directories and running the real
//! ffmpeg/ffprobe (installed at /usr/bin) as independent decoders and probes.
//!
//! Included with `#[path = "support/tools.rs"] mod tools;` (a directory under `tests/` is not
//! built as its own test binary).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `<base>/hlscam-<name>-<pid>`, emptied if left over from an earlier run, and created.
fn fresh_dir_in(base: &Path, name: &str) -> PathBuf {
    let d = base.join(format!("hlscam-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A fresh, empty directory under the system temp dir (removing it is the caller's job).
pub fn fresh_dir(name: &str) -> PathBuf {
    fresh_dir_in(&std::env::temp_dir(), name)
}

/// A fresh, empty directory on tmpfs (`/dev/shm`) when the machine has it, else under the
/// system temp dir (removing it is the caller's job).
pub fn fresh_tmpfs_dir(name: &str) -> PathBuf {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        fresh_dir_in(shm, name)
    } else {
        fresh_dir(name)
    }
}

/// Runs `tool <fixed> <args>` and asserts it exited successfully (its stderr in the message).
fn run(tool: &str, fixed: &[&str], args: &[&str]) -> Output {
    let out = Command::new(tool)
        .args(fixed)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{tool} is installed (/usr/bin; make test installs it): {e}"));
    assert!(
        out.status.success(),
        "{tool} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs `ffmpeg -hide_banner -nostdin -v error -y <args>` and asserts it exited successfully.
fn run_ffmpeg(args: &[&str]) -> Output {
    run(
        "ffmpeg",
        &["-hide_banner", "-nostdin", "-v", "error", "-y"],
        args,
    )
}

/// Runs ffmpeg (errors-only logging, overwriting outputs), asserts it succeeded and returns
/// its stdout. For making fixtures and for decoding where only success is required.
pub fn ffmpeg(args: &[&str]) -> Vec<u8> {
    run_ffmpeg(args).stdout
}

/// Like [`ffmpeg`], and also asserts that ffmpeg reported no error at all (stderr empty at
/// `-v error`): the check of a clean decode.
pub fn ffmpeg_clean(args: &[&str]) -> Vec<u8> {
    let out = run_ffmpeg(args);
    assert!(
        out.stderr.is_empty(),
        "ffmpeg {args:?} reported errors: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// One lavfi `testsrc2` picture of `w×h` as raw tightly packed I420 (yuv420p), made by ffmpeg.
pub fn testsrc2_i420(w: u32, h: u32) -> Vec<u8> {
    let src = format!("testsrc2=s={w}x{h}");
    #[rustfmt::skip]
    let raw = ffmpeg(&[
        "-f", "lavfi", "-i", &src, "-frames:v", "1", "-pix_fmt", "yuv420p", "-f", "rawvideo", "-",
    ]);
    let (w, h) = (w as usize, h as usize);
    assert_eq!(
        raw.len(),
        w * h + 2 * (w / 2) * (h / 2),
        "ffmpeg's {w}x{h} picture"
    );
    raw
}

/// Runs `ffprobe -v error <args>`, asserts it succeeded and returns its stdout.
pub fn ffprobe(args: &[&str]) -> String {
    String::from_utf8(run("ffprobe", &["-v", "error"], args).stdout).unwrap()
}

/// The `codec_type` of every stream in `file`, one a line (`video`, `audio`).
pub fn stream_types(file: &str) -> String {
    ffprobe(&["-show_entries", "stream=codec_type", "-of", "csv=p=0", file])
}

/// `key_frame,pict_type` of the first frame of the first video stream of `file` (`1,I` for an
/// IDR).
pub fn first_video_frame(file: &str) -> String {
    ffprobe(&[
        "-select_streams",
        "v:0",
        "-read_intervals",
        "%+#1",
        "-show_entries",
        "frame=key_frame,pict_type",
        "-of",
        "csv=p=0",
        file,
    ])
}

/// Runs `python3 <repo>/<script> <args>` with `PYTHONPATH=<repo>/<pythonpath>` (packages that
/// `make test-deps` installs under target/) and the extra environment `env`, echoes its output
/// and asserts it succeeded; returns stdout and stderr.
pub fn python(script: &str, pythonpath: &str, args: &[&str], env: &[(&str, &str)]) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("python3")
        .arg(root.join(script))
        .args(args)
        .env("PYTHONPATH", root.join(pythonpath))
        .envs(env.iter().copied())
        .output()
        .expect("python3");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{script}: {text}");
    assert!(
        out.status.success(),
        "{script} {args:?} failed (make test-deps installs its packages into {pythonpath}):\n{text}"
    );
    text
}

/// Runs the Node.js browser check `tests/browser/<script>` with `args` (headless Chromium via
/// playwright-core; hls.js from web/node_modules), echoes its JSON report and asserts exit 0.
pub fn node_browser_check(script: &str, args: &[&str]) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(
        root.join("tests/browser/node_modules/playwright-core")
            .is_dir()
            && root.join("web/node_modules/hls.js").is_dir(),
        "playwright-core and hls.js are installed (make test-deps / make browser-deps)"
    );
    let o = Command::new("node")
        .arg(root.join("tests/browser").join(script))
        .args(args)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&o.stdout);
    eprintln!("{script}: {report}{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(o.status.code(), Some(0), "{script}: {report}");
}
