//! Shared helpers of the recording tests (tests/record.rs, tests/record_http.rs,
//! tests/record_events.rs): the config of a paced recording, the chunk files of a recordings
//! directory, whether a segment begins with a PAT and an IDR, and a chunk checked against its
//! index (every record a whole segment, contiguous, covering the file; ffmpeg decodes it).
//!
//! Included with `#[path = "support/recording.rs"] mod recording;` beside `tools`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use hlscam::record::index::{self, IndexRecord};

use super::tools;

/// Writes `work/hlscam.toml`: 320×240 test pattern at 30 fps and a tone, live HLS in `live`
/// with `segment_seconds`, continuous recording to `rec` in 1-minute chunks, fsync every 1 s.
pub fn config(work: &Path, live: &Path, rec: &Path, segment_seconds: u32) -> PathBuf {
    config_with(
        work,
        live,
        rec,
        &format!("segment_seconds = {segment_seconds}\n"),
        "mode = \"continuous\"\n",
    )
}

/// Writes `work/hlscam.toml` like [`config`], with the `[hls]` lines `hls` and the `[record]`
/// lines `record` (the mode at least). `min_free_percent = 0`: a nearly full disk (CI after the
/// cross builds) must not make retention delete the footage under test.
pub fn config_with(work: &Path, live: &Path, rec: &Path, hls: &str, record: &str) -> PathBuf {
    let cfg = work.join("hlscam.toml");
    std::fs::write(
        &cfg,
        format!(
            "[video]\nsource = \"testsrc\"\nwidth = 320\nheight = 240\nfps = 30\n\
             bitrate_kbps = 400\n[audio]\nsource = \"tone\"\n\
             [hls]\ndir = \"{}\"\n{hls}\
             [record]\ndir = \"{}\"\nchunk_minutes = 1\nfsync_seconds = 1\nmin_free_percent = 0\n{record}",
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

/// The valid index records of chunk file `c`.
pub fn records(c: &Path) -> Vec<IndexRecord> {
    index::parse(&std::fs::read(format!("{}.idx", c.display())).unwrap()).0
}

/// Wall clock of a record's first frame, milliseconds since 1970.
pub fn start_ms(r: &IndexRecord) -> u64 {
    r.wall_ns / 1_000_000
}

/// Wall clock at the end of a record's segment, milliseconds since 1970.
pub fn end_ms(r: &IndexRecord) -> u64 {
    (r.wall_ns + r.duration.0 * 100_000 / 9) / 1_000_000
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

/// Whether `seg` begins with a PAT packet, and has a video PES with random_access_indicator
/// carrying an H.264 IDR slice (NAL type 5) before any other video PES.
pub fn starts_with_pat_and_idr(seg: &[u8]) -> bool {
    if seg.len() < 188 || seg[0] != 0x47 || seg[1] & 0x40 == 0 || seg[1] & 0x1f != 0 || seg[2] != 0
    {
        return false;
    }
    let mut video: Vec<u8> = Vec::new();
    let mut vpid = None;
    for p in seg.chunks(188) {
        let pid = (u16::from(p[1] & 0x1f) << 8) | u16::from(p[2]);
        let pusi = p[1] & 0x40 != 0;
        let afc = (p[3] >> 4) & 3;
        let (payload, rai) = match afc {
            1 => (&p[4..], false),
            3 => (&p[5 + usize::from(p[4])..], p[4] > 0 && p[5] & 0x40 != 0),
            _ => continue,
        };
        if vpid.is_none() && pusi && payload.len() > 4 && payload[..4] == [0, 0, 1, 0xE0] {
            if !rai {
                return false;
            }
            vpid = Some(pid);
            video.extend_from_slice(payload);
        } else if Some(pid) == vpid {
            if pusi {
                break;
            }
            video.extend_from_slice(payload);
        }
    }
    video
        .windows(4)
        .any(|w| w[..3] == [0, 0, 1] && w[3] & 0x1f == 5)
}

/// Checks one chunk against its index; returns its records.
pub fn check_chunk(chunk: &Path) -> Vec<IndexRecord> {
    let bytes = std::fs::read(chunk).unwrap();
    let idx = std::fs::read(format!("{}.idx", chunk.display())).unwrap();
    let (recs, torn) = index::parse(&idx);
    assert!(!torn, "{}: index has an invalid tail", chunk.display());
    assert_eq!(idx.len(), recs.len() * index::RECORD_LEN);
    assert!(!recs.is_empty(), "{}: empty index", chunk.display());
    let mut next = 0;
    for r in &recs {
        assert_eq!(r.offset, next, "{}: ranges contiguous", chunk.display());
        next = r.end();
        let seg = &bytes[r.offset as usize..r.end() as usize];
        assert!(
            starts_with_pat_and_idr(seg),
            "{} seg{}: no PAT + IDR at offset {}",
            chunk.display(),
            r.seq,
            r.offset
        );
    }
    assert_eq!(
        next,
        bytes.len() as u64,
        "{}: index covers the chunk",
        chunk.display()
    );
    let c = chunk.to_str().unwrap();
    tools::ffmpeg_clean(&["-i", c, "-f", "null", "-"]);
    recs
}
