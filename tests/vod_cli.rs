//! `hlscam vod` end to end: the real binary packages MP4 and MPEG-TS files that ffmpeg makes at
//! test time (lavfi test pattern + tone, H.264 with an IDR every second + AAC), in both output
//! modes; the playlist is read by m3u8-rs, every segment / byte range is decoded by ffmpeg and
//! read by the `mpeg2ts` crate (starts with 0x47, first video access unit = AUD, SPS, PPS, IDR;
//! AUD first in every access unit),
//! and the EXTINF sum is held against ffprobe's duration of the source. Also: byte-identical
//! output on a second run, refusal of other codecs (MPEG-4 Part 2 in MP4, HEVC in TS) and of
//! missing input, usage errors.

#[path = "support/tools.rs"]
mod tools;
#[path = "support/ts_check.rs"]
mod ts_check;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use mpeg2ts::pes::{PesPacketReader, ReadPesPacket};
use mpeg2ts::ts::TsPacketReader;
use ts_check::nal_types;

const BIN: &str = env!("CARGO_BIN_EXE_hlscam");
/// One frame at 25 fps.
const FRAME: f64 = 1.0 / 25.0;

/// The source files, made once per test binary.
fn sources() -> &'static (PathBuf, PathBuf) {
    static S: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    S.get_or_init(|| {
        let dir = tools::fresh_dir("vod-src");
        let mp4 = dir.join("in.mp4");
        let ts = dir.join("in.ts");
        tools::ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=320x240:rate=25",
            "-f",
            "lavfi",
            "-i",
            "sine=f=440:r=48000",
            "-t",
            "12",
            "-c:v",
            "libx264",
            "-g",
            "25",
            "-c:a",
            "aac",
            mp4.to_str().unwrap(),
        ]);
        tools::ffmpeg(&[
            "-i",
            mp4.to_str().unwrap(),
            "-c",
            "copy",
            ts.to_str().unwrap(),
        ]);
        (mp4, ts)
    })
}

fn vod(args: &[&str]) -> Output {
    let out = Command::new(BIN).arg("vod").args(args).output().unwrap();
    eprintln!(
        "hlscam vod {args:?}: {:?}\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn source_duration(file: &Path) -> f64 {
    tools::ffprobe(&[
        "-show_entries",
        "format=duration",
        "-of",
        "csv=p=0",
        file.to_str().unwrap(),
    ])
    .trim()
    .parse()
    .unwrap()
}

/// Checks one segment's bytes: TS sync, ffmpeg decodes it cleanly, first video AU is
/// AUD, SPS, PPS, IDR; every video AU starts with an AUD.
fn check_segment(bytes: &[u8], scratch: &Path) {
    assert!(
        !bytes.is_empty() && bytes.len() % 188 == 0,
        "whole TS packets"
    );
    assert!(
        bytes.chunks(188).all(|p| p[0] == 0x47),
        "every packet starts with 0x47"
    );
    std::fs::write(scratch, bytes).unwrap();
    tools::ffmpeg_clean(&["-i", scratch.to_str().unwrap(), "-f", "null", "-"]);
    let frame = tools::first_video_frame(scratch.to_str().unwrap());
    assert!(
        frame.starts_with("1,I"),
        "first frame is a key frame: {frame}"
    );
    let mut r = PesPacketReader::new(TsPacketReader::new(bytes));
    let mut first = true;
    let mut video = 0;
    while let Some(pes) = r.read_pes_packet().unwrap() {
        if !pes.header.stream_id.is_video() {
            continue;
        }
        let types = nal_types(&pes.data);
        assert_eq!(types.first(), Some(&9), "AUD first in every access unit");
        if first {
            // AUD, then SPS and PPS (SEI may sit among them), then the IDR slice(s).
            let idr = types
                .iter()
                .position(|&t| t == 5)
                .expect("first AU is an IDR");
            let before = &types[..idr];
            assert!(
                before.contains(&7) && before.contains(&8),
                "SPS/PPS before IDR: {types:?}"
            );
            assert!(
                !before.contains(&1),
                "no non-IDR slice before the IDR: {types:?}"
            );
            first = false;
        }
        video += 1;
    }
    assert!(video > 0, "segment has video");
}

/// Packages `input` into a fresh directory and checks everything; returns the directory.
fn package_and_check(input: &Path, name: &str, single: bool) -> PathBuf {
    let out = tools::fresh_dir(name);
    let mut args = vec![
        input.to_str().unwrap(),
        out.to_str().unwrap(),
        "--segment-seconds",
        "4",
    ];
    if single {
        args.push("--single-file");
    }
    let o = vod(&args);
    assert_eq!(o.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(
        stderr.contains(" segments, ") && stderr.contains(" bytes"),
        "summary: {stderr}"
    );

    let text = std::fs::read(out.join("index.m3u8")).unwrap();
    let s = String::from_utf8(text.clone()).unwrap();
    assert!(s.starts_with("#EXTM3U\n"));
    assert!(s.contains("#EXT-X-INDEPENDENT-SEGMENTS\n"));
    let pl = m3u8_rs::parse_media_playlist_res(&text).expect("m3u8-rs parses it");
    assert_eq!(pl.playlist_type, Some(m3u8_rs::MediaPlaylistType::Vod));
    assert!(pl.end_list);
    assert_eq!(pl.version, Some(if single { 4 } else { 3 }));
    // 12 s at >= 4 s per segment, IDR every second: 4 + 4 + 4.
    assert_eq!(pl.segments.len(), 3, "{s}");
    let mut sum = 0.0;
    let mut next_offset = 0;
    let mut media = Vec::new();
    for (i, seg) in pl.segments.iter().enumerate() {
        let d = f64::from(seg.duration);
        sum += d;
        assert!(d.round() as u64 <= pl.target_duration);
        if i + 1 < pl.segments.len() {
            assert!(
                d >= 4.0 - 1e-6,
                "segment {i} is {d} s, under --segment-seconds"
            );
        }
        let bytes = if single {
            assert_eq!(seg.uri, "media.ts");
            if media.is_empty() {
                media = std::fs::read(out.join("media.ts")).unwrap();
            }
            let br = seg.byte_range.as_ref().expect("EXT-X-BYTERANGE");
            let off = br.offset.unwrap_or(next_offset);
            assert_eq!(off, next_offset, "byte ranges are contiguous");
            next_offset = off + br.length;
            media[off as usize..next_offset as usize].to_vec()
        } else {
            assert!(seg.byte_range.is_none());
            std::fs::read(out.join(&seg.uri)).unwrap()
        };
        check_segment(&bytes, &out.join(format!(".check{i}.ts")));
    }
    if single {
        assert_eq!(
            next_offset as usize,
            media.len(),
            "ranges cover the whole file"
        );
    }
    let src = source_duration(input);
    assert!(
        (sum - src).abs() <= FRAME,
        "EXTINF sum {sum} vs source {src}"
    );
    for e in std::fs::read_dir(&out).unwrap() {
        let name = e.unwrap().file_name().into_string().unwrap();
        assert!(!name.ends_with(".tmp"), "temporary file left: {name}");
    }
    out
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| !e.file_name().to_string_lossy().starts_with(".check"))
        .map(|e| {
            (
                e.file_name().into_string().unwrap(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn mp4_segments() {
    let d = package_and_check(&sources().0, "vod-mp4", false);
    let again = package_and_check(&sources().0, "vod-mp4-again", false);
    assert_eq!(
        files(&d),
        files(&again),
        "same input, byte-identical output"
    );
    let _ = std::fs::remove_dir_all(d);
    let _ = std::fs::remove_dir_all(again);
}

#[test]
fn mp4_single_file() {
    let d = package_and_check(&sources().0, "vod-mp4-single", true);
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn ts_segments() {
    let d = package_and_check(&sources().1, "vod-ts", false);
    let again = package_and_check(&sources().1, "vod-ts-again", false);
    assert_eq!(
        files(&d),
        files(&again),
        "same input, byte-identical output"
    );
    let _ = std::fs::remove_dir_all(d);
    let _ = std::fs::remove_dir_all(again);
}

#[test]
fn ts_single_file() {
    let d = package_and_check(&sources().1, "vod-ts-single", true);
    let _ = std::fs::remove_dir_all(d);
}

/// A refused input: exit status 1, the codec named, the ffmpeg command given, nothing written.
fn refused(input: &Path, codec: &str) {
    let out = tools::fresh_dir("vod-refused");
    let o = vod(&[input.to_str().unwrap(), out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(codec), "names {codec}: {err}");
    assert!(
        err.contains("ffmpeg -i IN -c:v libx264 -c:a aac OUT.mp4"),
        "{err}"
    );
    assert!(!out.join("index.m3u8").exists());
    let _ = std::fs::remove_dir_all(out);
}

#[test]
fn other_codecs_refused() {
    let dir = tools::fresh_dir("vod-bad");
    let mpeg4 = dir.join("mpeg4.mp4");
    tools::ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=25",
        "-t",
        "2",
        "-c:v",
        "mpeg4",
        mpeg4.to_str().unwrap(),
    ]);
    refused(&mpeg4, "unsupported codec");
    let hevc = dir.join("hevc.ts");
    tools::ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=320x240:rate=25",
        "-t",
        "1",
        "-c:v",
        "libx265",
        "-x265-params",
        "log-level=error",
        hevc.to_str().unwrap(),
    ]);
    refused(&hevc, "HEVC");
    let mp3 = dir.join("mp3.ts");
    tools::ffmpeg(&[
        "-i",
        sources().0.to_str().unwrap(),
        "-c:v",
        "copy",
        "-c:a",
        "libmp3lame",
        mp3.to_str().unwrap(),
    ]);
    refused(&mp3, "MP3");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn missing_or_unreadable_input() {
    let dir = tools::fresh_dir("vod-missing");
    let o = vod(&[
        dir.join("nope.mp4").to_str().unwrap(),
        dir.join("out").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("nope.mp4: No such file"));
    let junk = dir.join("junk.bin");
    std::fs::write(&junk, vec![7u8; 1000]).unwrap();
    let o = vod(&[junk.to_str().unwrap(), dir.join("out").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("neither MPEG-TS nor MP4"));
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn usage_errors_exit_2() {
    for args in [
        &["in.mp4"][..],
        &[],
        &["a", "b", "c"],
        &["a", "b", "--segment-seconds", "0"],
        &["a", "b", "--segment-seconds", "x"],
        &["a", "b", "--segment-seconds"],
        &["a", "b", "--single-file", "--single-file"],
        &["a", "b", "--bogus"],
    ] {
        let o = vod(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&o.stderr).starts_with("error: "));
    }
    let o = vod(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains("--single-file"));
    let o = Command::new(BIN).arg("--help").output().unwrap();
    assert!(String::from_utf8_lossy(&o.stdout).contains("vod "));
}

#[test]
fn cli_parses_vod() {
    use hlscam::cli::{Cli, Command};
    let c = Cli::try_parse_from(["hlscam", "vod", "a.mp4", "out", "--segment-seconds=3"]).unwrap();
    assert_eq!(
        c.command,
        Some(Command::Vod {
            input: "a.mp4".into(),
            outdir: "out".into(),
            segment_seconds: 3,
            single_file: false,
        })
    );
    let c = Cli::try_parse_from(["hlscam", "vod", "--single-file", "a.ts", "o"]).unwrap();
    assert_eq!(
        c.command,
        Some(Command::Vod {
            input: "a.ts".into(),
            outdir: "o".into(),
            segment_seconds: 6,
            single_file: true,
        })
    );
}

/// Kills the static server this test started (by its PID) when dropped.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// hls.js in headless Chromium plays both outputs (segment files from MP4, one byte-ranged
/// file from TS) served over 127.0.0.1, seeks into the last segment and plays on
/// (tests/browser/vod_check.js; tests/browser/range_server.py serves, with Range support).
#[test]
fn browser_plays_and_seeks() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let www = tools::fresh_dir("vod-www");
    let cases = [
        (&sources().0, "mp4", false),
        (&sources().1, "ts-single", true),
    ];
    for (input, name, single) in cases {
        let mut args = vec![
            input.to_str().unwrap().to_owned(),
            www.join(name).to_str().unwrap().to_owned(),
        ];
        if single {
            args.push("--single-file".to_owned());
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        assert_eq!(vod(&refs).status.code(), Some(0));
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let server = Server(
        Command::new("python3")
            .arg(root.join("tests/browser/range_server.py"))
            .arg(port.to_string())
            .arg(&www)
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "range_server.py did not start"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    for (input, name, _) in cases {
        let expected = source_duration(input);
        let url = format!("http://127.0.0.1:{port}/{name}/index.m3u8");
        tools::node_browser_check("vod_check.js", &[&url, &expected.to_string()]);
    }
    drop(server);
    let _ = std::fs::remove_dir_all(www);
}
