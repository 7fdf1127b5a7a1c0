//! Real H.264 + AAC from ffmpeg through HlsOutput into a directory, then checked by independent
//! tools: every segment decodes with ffmpeg without a message, ffprobe sees both streams and a
//! key frame first, and the playlist parsed by m3u8-rs keeps every rule of DESIGN §2 (9–15).
//! Also a restart on the same state file.

mod hls_support;

use std::path::{Path, PathBuf};
use std::process::Command;

use hls_support::t0;
use hlscam::codec::adts::AdtsFrames;
use hlscam::codec::h264::is_idr;
use hlscam::hls::{HlsConfig, HlsOutput, Published};
use hlscam::media::{AudioAu, VideoAu};
use hlscam::time::Pts90k;

const FPS_TICKS: u64 = 3000;
const AAC_TICKS: u64 = 1024 * 90_000 / 48_000;

struct Media {
    video: Vec<u8>,
    aus: Vec<(usize, usize, bool)>,
    audio: Vec<u8>,
    frames: Vec<(usize, usize)>,
}

fn ffmpeg(args: &[&str]) {
    let o = Command::new("ffmpeg")
        .args(args)
        .output()
        .expect("ffmpeg runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn generate(dir: &Path) -> Media {
    let v = dir.join("v.h264");
    let a = dir.join("a.aac");
    let lavfi = ["-f", "lavfi", "-i", "testsrc=size=320x240:rate=30"];
    let mut args = vec!["-y", "-v", "error"];
    args.extend(lavfi);
    args.extend([
        "-t",
        "7",
        "-c:v",
        "libx264",
        "-g",
        "30",
        "-keyint_min",
        "30",
        "-sc_threshold",
        "0",
        "-bf",
        "0",
        "-x264-params",
        "aud=1",
        "-bsf:v",
        "h264_mp4toannexb",
        "-an",
        "-f",
        "h264",
    ]);
    args.push(v.to_str().unwrap());
    ffmpeg(&args);
    ffmpeg(&[
        "-y",
        "-v",
        "error",
        "-f",
        "lavfi",
        "-i",
        "sine=f=440:sample_rate=48000",
        "-t",
        "7",
        "-c:a",
        "aac",
        "-f",
        "adts",
        a.to_str().unwrap(),
    ]);
    let video = std::fs::read(&v).unwrap();
    let audio = std::fs::read(&a).unwrap();
    // Split Annex B at every AUD (00 00 00 01 09).
    let mut starts: Vec<usize> = video
        .windows(5)
        .enumerate()
        .filter(|(_, w)| *w == [0, 0, 0, 1, 9])
        .map(|(i, _)| i)
        .collect();
    assert_eq!(starts[0], 0);
    starts.push(video.len());
    let aus = starts
        .windows(2)
        .map(|w| (w[0], w[1], is_idr(&video[w[0]..w[1]])))
        .collect::<Vec<_>>();
    assert_eq!(aus.len(), 210);
    let mut frames = Vec::new();
    let mut off = 0;
    for f in AdtsFrames::new(&audio) {
        let (_, bytes) = f.expect("valid ADTS");
        frames.push((off, off + bytes.len()));
        off += bytes.len();
    }
    assert!(frames.len() > 300);
    Media {
        video,
        aus,
        audio,
        frames,
    }
}

/// Feeds video AUs `range` (and the audio of that time span) interleaved by timestamp.
fn feed(out: &mut HlsOutput, m: &Media, range: std::ops::Range<usize>) -> Vec<Published> {
    let mut published = Vec::new();
    let mut k = m
        .frames
        .iter()
        .enumerate()
        .position(|(k, _)| k as u64 * AAC_TICKS >= range.start as u64 * FPS_TICKS)
        .unwrap_or(m.frames.len());
    for i in range {
        let pts = Pts90k(i as u64 * FPS_TICKS);
        while k < m.frames.len() && Pts90k(k as u64 * AAC_TICKS) <= pts {
            let (a, b) = m.frames[k];
            out.push_audio(&AudioAu {
                data: &m.audio[a..b],
                pts: Pts90k(k as u64 * AAC_TICKS),
            })
            .unwrap();
            k += 1;
        }
        let (a, b, key) = m.aus[i];
        let au = VideoAu {
            data: &m.video[a..b],
            pts,
            dts: pts,
            key,
        };
        if let Some(p) = out.push_video(&au, t0() + pts.to_duration()).unwrap() {
            published.push(p);
        }
    }
    published
}

fn probe(args: &[&str], file: &Path) -> String {
    let o = Command::new("ffprobe")
        .args(["-v", "error"])
        .args(args)
        .arg(file)
        .output()
        .expect("ffprobe runs");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

/// Decodes and probes one segment; returns its number of video frames.
fn check_segment(path: &Path) -> u64 {
    let o = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-f", "null", "-"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", path.display());
    assert!(
        o.stderr.is_empty(),
        "{}: {}",
        path.display(),
        String::from_utf8_lossy(&o.stderr)
    );
    let streams = probe(
        &["-show_entries", "stream=codec_type", "-of", "csv=p=0"],
        path,
    );
    assert!(streams.lines().any(|l| l == "video"), "{streams}");
    assert!(streams.lines().any(|l| l == "audio"), "{streams}");
    let first = probe(
        &[
            "-select_streams",
            "v:0",
            "-read_intervals",
            "%+#1",
            "-show_entries",
            "frame=key_frame,pict_type",
            "-of",
            "csv=p=0",
        ],
        path,
    );
    assert_eq!(
        first.lines().next(),
        Some("1,I"),
        "{}: {first}",
        path.display()
    );
    let n = probe(
        &[
            "-select_streams",
            "v:0",
            "-count_frames",
            "-show_entries",
            "stream=nb_read_frames",
            "-of",
            "csv=p=0",
        ],
        path,
    );
    n.lines()
        .next()
        .unwrap_or("")
        .trim()
        .parse()
        .expect("frame count")
}

/// Checks the playlist rules; returns it.
fn check_playlist(dir: &Path, target: u64, window: usize, endlist: bool) -> m3u8_rs::MediaPlaylist {
    let bytes = std::fs::read(dir.join("live.m3u8")).unwrap();
    let text = std::str::from_utf8(&bytes).expect("UTF-8");
    assert!(text.starts_with("#EXTM3U\n"), "no BOM, #EXTM3U first");
    assert_eq!(text.matches("#EXT-X-VERSION:").count(), 1);
    assert!(text.contains("#EXT-X-DISCONTINUITY-SEQUENCE:"));
    let pl = m3u8_rs::parse_media_playlist_res(&bytes).expect("m3u8-rs parses it");
    assert_eq!(pl.version, Some(3));
    assert_eq!(pl.target_duration, target);
    assert!(pl.independent_segments);
    assert_eq!(pl.end_list, endlist);
    assert_eq!(pl.segments.len(), window);
    for (i, s) in pl.segments.iter().enumerate() {
        assert_eq!(s.uri, format!("seg{}.ts", pl.media_sequence + i as u64));
        assert!(s.program_date_time.is_some(), "PDT on {}", s.uri);
        assert!(
            (s.duration as f64).round() as u64 <= target,
            "{} lasts {}",
            s.uri,
            s.duration
        );
        assert!(dir.join(&s.uri).is_file());
    }
    pl
}

fn tempdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("hlscam-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn ffmpeg_media_through_hls_output() {
    let work = tempdir("ffmpeg");
    let m = generate(&work);
    let dir = work.join("out");
    let mut out = HlsOutput::open(HlsConfig::new(&dir, 1, 6)).unwrap();
    let mut published = feed(&mut out, &m, 0..m.aus.len());
    out.finish(true).unwrap();
    assert_eq!(published.len(), 6);
    published.push(Published {
        seq: 6,
        duration: out.window().last().unwrap().duration,
        bytes: 0,
    });
    // Seven 1 s segments; the sum of EXTINF equals the media time (210 frames) exactly.
    let total: u64 = published.iter().map(|p| p.duration.0).sum();
    assert_eq!(total, 210 * FPS_TICKS);

    let pl = check_playlist(&dir, 1, 6, true);
    assert_eq!((pl.media_sequence, pl.discontinuity_sequence), (1, 0));
    let mut concat = Vec::new();
    for s in &pl.segments {
        assert!(!s.discontinuity);
        let path = dir.join(&s.uri);
        let frames = check_segment(&path);
        // EXTINF = frames × 1/30 s, to the millisecond.
        let ms = (frames * 1000 + 15) / 30;
        assert_eq!((s.duration as f64 * 1000.0).round() as u64, ms, "{}", s.uri);
        concat.extend(std::fs::read(&path).unwrap());
    }
    // Concatenated segments decode as one stream (CC and timestamps continue).
    let cat = work.join("all.ts");
    std::fs::write(&cat, &concat).unwrap();
    assert_eq!(check_segment(&cat), 180);
    std::fs::remove_dir_all(&work).unwrap();
}

#[test]
fn restart_continues_numbering_and_window() {
    let work = tempdir("restart");
    let m = generate(&work);
    let dir = work.join("out");
    let cfg = || {
        let mut c = HlsConfig::new(&dir, 1, 6);
        c.state_file = work.join("state");
        c
    };
    let mut out = HlsOutput::open(cfg()).unwrap();
    feed(&mut out, &m, 0..120);
    out.finish(false).unwrap();
    let first = check_playlist(&dir, 1, 4, false);
    assert_eq!(first.media_sequence, 0);
    drop(out);

    let mut out = HlsOutput::open(cfg()).unwrap();
    assert_eq!(out.media_sequence(), 0);
    let p = feed(&mut out, &m, 120..m.aus.len());
    out.finish(false).unwrap();
    assert_eq!(p[0].seq, 4, "numbering continues");
    let pl = check_playlist(&dir, 1, 6, false);
    assert_eq!(pl.media_sequence, 1);
    let uris: Vec<&str> = pl.segments.iter().map(|s| s.uri.as_str()).collect();
    assert_eq!(
        uris,
        ["seg1.ts", "seg2.ts", "seg3.ts", "seg4.ts", "seg5.ts", "seg6.ts"]
    );
    let flags: Vec<bool> = pl.segments.iter().map(|s| s.discontinuity).collect();
    assert_eq!(flags, [false, false, false, true, false, false]);
    // The adopted segments are the previous run's files, untouched.
    for s in &first.segments[1..] {
        assert!(dir.join(&s.uri).is_file());
        check_segment(&dir.join(&s.uri));
    }
    for s in &pl.segments[3..] {
        check_segment(&dir.join(&s.uri));
    }
    // A third start sees the saved state: media sequence never goes back.
    drop(out);
    let out = HlsOutput::open(cfg()).unwrap();
    assert_eq!(out.media_sequence(), 1);
    std::fs::remove_dir_all(&work).unwrap();
}
