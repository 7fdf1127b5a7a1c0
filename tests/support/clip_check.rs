//! Checks of `GET /api/clip.mp4` against a recording on disk (used by tests/record_http.rs,
//! which records two chunks in one run, a gap, and a third chunk in a second run):
//!
//! - a clip across the chunk rotation and one across the restart's gap: 200, `video/mp4`, the
//!   exact `Content-Length`, the file name from the first picture's UTC time and the
//!   duration; ffprobe finds H.264 and AAC, the first frame an IDR, the number of pictures the
//!   index records predict (the start snapped back to the segment's IDR, the end before the
//!   first picture at or after `to`), the duration in `mehd` that of the video, audio as long
//!   as the video; ffmpeg decodes it without an error; and every decoded picture is the
//!   picture ffmpeg decodes from the recorded segments themselves (framemd5), so across the
//!   gap the footage plays back to back;
//! - `HEAD` gives the same length and no body; a range longer than `clip_max_seconds`, a
//!   missing or bad time and `from` after `to` get 400; a range with nothing recorded 404.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use hlscam::record::index::IndexRecord;
use hlscam::time::basic_utc;

use super::http_util::req;
use super::recording::{records, start_ms};
use super::tools;

/// 90 kHz ticks of one picture at 30 fps.
const FRAME: u64 = 3_000;

fn iso_ms(ms: u64) -> String {
    hlscam::time::rfc3339(std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms))
}

/// Pictures between the first frames of `a` and `b`, recorded in one run.
fn frames_between(a: &IndexRecord, b: &IndexRecord) -> u64 {
    (b.pts.0 - a.pts.0) / FRAME
}

/// Pictures of `recs` (consecutive records of one run), whole.
fn frames_of(recs: &[&IndexRecord]) -> u64 {
    recs.iter().map(|r| r.duration.0 / FRAME).sum()
}

/// The decoded pictures' MD5s of `file` (video only), in order.
fn picture_md5s(file: &str) -> Vec<String> {
    let out = tools::ffmpeg_clean(&["-i", file, "-map", "0:v", "-f", "framemd5", "-"]);
    String::from_utf8(out)
        .unwrap()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.rsplit(',').next().unwrap().trim().to_owned())
        .collect()
}

/// The bytes of `segs` (chunk, record) concatenated: an MPEG-TS file of recorded segments.
fn segment_bytes(segs: &[(&Path, &IndexRecord)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (c, r) in segs {
        let data = std::fs::read(c).unwrap();
        out.extend_from_slice(&data[r.offset as usize..r.end() as usize]);
    }
    out
}

/// `key=value` fields of one ffprobe `-of compact` line whose first field is `kind`.
fn probe_line(text: &str, kind: &str) -> Vec<(String, String)> {
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("{kind}|")))
        .unwrap_or_else(|| panic!("no {kind} in {text}"));
    line.split('|')
        .skip(1)
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn field<'a>(fields: &'a [(String, String)], k: &str) -> &'a str {
    &fields.iter().find(|(n, _)| n == k).expect(k).1
}

/// Fetches the clip of `[from_ms, to_ms]`, checks it as the module docs say against
/// `frames` pictures starting at `first` (the record whose IDR it begins with) and the
/// recorded segments `segs`; returns the file's length.
fn check_one(
    addr: SocketAddr,
    scratch: &Path,
    tag: &str,
    (from_ms, to_ms): (u64, u64),
    first: &IndexRecord,
    frames: u64,
    segs: &[(&Path, &IndexRecord)],
) -> usize {
    let target = format!(
        "/api/clip.mp4?from={}&to={}",
        iso_ms(from_ms).replace(':', "%3A"),
        iso_ms(to_ms)
    );
    let r = req(addr, "GET", &target, "");
    assert_eq!(r.status, 200, "{tag}: {}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.header("content-type"), Some("video/mp4"));
    assert_eq!(r.content_length(), Some(r.body.len() as u64), "{tag}");
    let head = req(addr, "HEAD", &target, "");
    assert_eq!(head.status, 200);
    assert_eq!(
        head.content_length(),
        Some(r.body.len() as u64),
        "{tag}: HEAD"
    );
    assert!(head.body.is_empty());

    let file = scratch.join(format!("clip-{tag}.mp4"));
    std::fs::write(&file, &r.body).unwrap();
    let f = file.to_str().unwrap();
    assert_eq!(tools::stream_types(f), "video\naudio\n", "{tag}");
    assert_eq!(tools::first_video_frame(f).trim(), "1,I", "{tag}");
    let probe = tools::ffprobe(&[
        "-count_frames",
        "-show_entries",
        "stream=codec_name,duration,nb_read_frames,start_time:format=duration",
        "-of",
        "compact",
        f,
    ]);
    let (v, a, fmt) = (
        probe_line(&probe, "stream"),
        probe
            .lines()
            .filter(|l| l.starts_with("stream|"))
            .nth(1)
            .map(|l| probe_line(l, "stream"))
            .expect("an audio stream"),
        probe_line(&probe, "format"),
    );
    assert_eq!(field(&v, "codec_name"), "h264", "{probe}");
    assert_eq!(field(&a, "codec_name"), "aac", "{probe}");
    assert_eq!(
        field(&v, "nb_read_frames").parse::<u64>().unwrap(),
        frames,
        "{tag}: {probe}"
    );
    let num = |s: &str| s.parse::<f64>().unwrap();
    let want = frames as f64 / 30.0;
    let vdur = num(field(&v, "duration"));
    assert!(
        (vdur - want).abs() < 0.002,
        "{tag}: video {vdur} s, want {want}"
    );
    assert!(
        (num(field(&fmt, "duration")) - vdur).abs() < 0.002,
        "{tag}: mehd: {probe}"
    );
    let secs = num(field(&fmt, "duration")).round();
    let start = std::time::UNIX_EPOCH + std::time::Duration::from_nanos(first.wall_ns);
    assert_eq!(
        r.header("content-disposition"),
        Some(
            format!(
                "attachment; filename=\"hlscam-{}-{secs}s.mp4\"",
                basic_utc(start)
            )
            .as_str()
        ),
        "{tag}"
    );
    let (adur, astart) = (num(field(&a, "duration")), num(field(&a, "start_time")));
    assert!(astart < 0.03, "{tag}: audio starts at {astart}");
    assert!((adur + astart - vdur).abs() < 0.05, "{tag}: audio {adur} s");
    // Every picture is the recorded one.
    let ts = scratch.join(format!("clip-{tag}-segments.ts"));
    std::fs::write(&ts, segment_bytes(segs)).unwrap();
    let recorded = picture_md5s(ts.to_str().unwrap());
    let clip = picture_md5s(f);
    assert_eq!(clip.len() as u64, frames);
    assert!(recorded.len() >= clip.len());
    assert!(clip == recorded[..clip.len()], "{tag}: pictures differ");
    r.body.len()
}

/// Runs every clip check of the module docs; `cs` are the three chunks (two of the first
/// run, one of the second), `max_seconds` the configured `clip_max_seconds`.
pub fn check_clips(addr: SocketAddr, scratch: &Path, cs: &[PathBuf], max_seconds: u64) {
    let recs: Vec<Vec<IndexRecord>> = cs.iter().map(|c| records(c)).collect();
    let (r0, r1, r2) = (&recs[0], &recs[1], &recs[2]);
    // Run 1 lasts 61 s: its second chunk may hold a single short segment.
    assert!(r0.len() >= 2 && !r1.is_empty() && r2.len() >= 2);

    // Across the rotation: from inside the second-last segment of the first chunk (snapped
    // back to its IDR) to 0.25 s into the next chunk.
    let s = &r0[r0.len() - 2];
    let frames = frames_between(s, &r1[0]) + 8; // ceil(0.25 s × 30)
    let mut segs: Vec<(&Path, &IndexRecord)> = r0[r0.len() - 2..]
        .iter()
        .map(|r| (cs[0].as_path(), r))
        .collect();
    segs.extend(r1.iter().map(|r| (cs[1].as_path(), r)));
    let range = (start_ms(s) + 700, start_ms(&r1[0]) + 250);
    check_one(addr, scratch, "rotation", range, s, frames, &segs);

    // Across the gap between the runs: the last segment of run 1, back to back with run 2's
    // first segment and 1.25 s of its second.
    let s = r1.last().unwrap();
    let frames = frames_of(&[s]) + frames_between(&r2[0], &r2[1]) + 38; // ceil(1.25 s × 30)
    let mut segs: Vec<(&Path, &IndexRecord)> = vec![(cs[1].as_path(), s)];
    segs.extend(r2[..2].iter().map(|r| (cs[2].as_path(), r)));
    let range = (start_ms(s) + 250, start_ms(&r2[1]) + 1250);
    check_one(addr, scratch, "gap", range, s, frames, &segs);

    // Refusals.
    let first = start_ms(&r0[0]);
    let status = |target: &str| {
        let r = req(addr, "GET", target, "");
        (r.status, String::from_utf8_lossy(&r.body).into_owned())
    };
    let (st, body) = status(&format!(
        "/api/clip.mp4?from={}&to={}",
        iso_ms(first),
        iso_ms(first + (max_seconds + 1) * 1000)
    ));
    assert_eq!(st, 400, "{body}");
    assert!(body.contains("clip_max_seconds"), "{body}");
    let (st, body) = status(&format!(
        "/api/clip.mp4?from={}&to={}",
        iso_ms(first - 100_000),
        iso_ms(first - 50_000)
    ));
    assert_eq!(
        (st, body.as_str()),
        (404, "nothing recorded in this range\n")
    );
    for bad in [
        format!("/api/clip.mp4?from={}", iso_ms(first)),
        "/api/clip.mp4?from=yesterday&to=now".to_owned(),
        format!(
            "/api/clip.mp4?from={}&to={}",
            iso_ms(first + 9000),
            iso_ms(first)
        ),
    ] {
        assert_eq!(status(&bad).0, 400, "{bad}");
    }
    let post = req(
        addr,
        "POST",
        "/api/clip.mp4?from=0&to=1",
        "Content-Length: 0\r\n",
    );
    assert_eq!(post.status, 405);
}
