//! Shared helpers of the recording tests (tests/record.rs, tests/record_http.rs): the config of
//! a paced continuous recording and the chunk files of a recordings directory.
//!
//! Included with `#[path = "support/recording.rs"] mod recording;`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// Writes `work/hlscam.toml`: 320×240 test pattern at 30 fps and a tone, live HLS in `live`
/// with `segment_seconds`, continuous recording to `rec` in 1-minute chunks, fsync every 1 s.
pub fn config(work: &Path, live: &Path, rec: &Path, segment_seconds: u32) -> PathBuf {
    let cfg = work.join("hlscam.toml");
    std::fs::write(
        &cfg,
        format!(
            "[video]\nsource = \"testsrc\"\nwidth = 320\nheight = 240\nfps = 30\n\
             bitrate_kbps = 400\n[audio]\nsource = \"tone\"\n\
             [hls]\ndir = \"{}\"\nsegment_seconds = {segment_seconds}\n\
             [record]\nmode = \"continuous\"\ndir = \"{}\"\nchunk_minutes = 1\nfsync_seconds = 1\n",
            live.display(),
            rec.display()
        ),
    )
    .unwrap();
    cfg
}

/// `work/live` and `work/rec` (created) and [`config`] for them: `(live, rec, config file)`.
pub fn dirs_and_config(work: &Path, segment_seconds: u32) -> (PathBuf, PathBuf, PathBuf) {
    let (live, rec) = (work.join("live"), work.join("rec"));
    std::fs::create_dir_all(&rec).unwrap();
    let cfg = config(work, &live, &rec, segment_seconds);
    (live, rec, cfg)
}

/// The chunks in `dir`, sorted.
pub fn chunks(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "ts"))
        .collect();
    v.sort();
    v
}
