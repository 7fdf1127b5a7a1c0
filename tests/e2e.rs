//! End to end: the real `hlscam` binary on 127.0.0.1 with `--fast --duration`, every segment and
//! the playlist fetched over HTTP, headers checked, every segment decoded by ffmpeg, the playlist
//! parsed by an independent parser (m3u8-rs), and the A/V offset of the beep against the flash
//! measured in the decoded output.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[path = "support/hlscam_proc.rs"]
mod hlscam_proc;
#[path = "support/tools.rs"]
mod tools;

use tools::{ffmpeg_clean, ffprobe, first_video_frame, fresh_tmpfs_dir, stream_types};

const FPS: u32 = 30;

/// Starts hlscam and returns it with the port it announced.
fn start(config: &Path, extra: &[&str]) -> (hlscam_proc::Hlscam, u16) {
    hlscam_proc::start(env!("CARGO_BIN_EXE_hlscam"), config, extra, &[])
}

struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A plain HTTP/1.1 GET over a fresh connection (Connection: close), body read to EOF.
fn get(port: u16, path: &str) -> Resp {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Resp {
        status,
        headers,
        body: raw[split + 4..].to_vec(),
    }
}

fn write_config(dir: &Path, width: u32, height: u32) -> PathBuf {
    let cfg = dir.join("hlscam.toml");
    let out = dir.join("out");
    std::fs::write(
        &cfg,
        format!(
            "[video]\nsource = \"testsrc\"\nwidth = {width}\nheight = {height}\nfps = {FPS}\nbitrate_kbps = 600\n\
             [audio]\nsource = \"tone\"\nsample_rate = 48000\nchannels = 1\n\
             [hls]\ndir = \"{}\"\nsegment_seconds = 1\nwindow = 6\ncontainer = \"ts\"\n",
            out.display()
        ),
    )
    .unwrap();
    cfg
}

#[test]
fn fast_finite_run_is_served_decodable_and_in_sync() {
    let dir = fresh_tmpfs_dir("e2e-fast");
    let cfg = write_config(&dir, 320, 240);
    let (_p, port) = start(&cfg, &["--fast", "--duration", "12", "--linger", "60"]);

    // Wait (bounded) for the finished playlist.
    let deadline = Instant::now() + Duration::from_secs(120);
    let playlist = loop {
        let r = get(port, "/live.m3u8");
        if r.status == 200 && String::from_utf8_lossy(&r.body).contains("#EXT-X-ENDLIST") {
            break r;
        }
        assert!(Instant::now() < deadline, "no finished playlist in time");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        playlist.header("Content-Type"),
        Some("application/vnd.apple.mpegurl")
    );
    assert_eq!(playlist.header("Cache-Control"), Some("no-cache"));
    assert!(playlist.header("Transfer-Encoding").is_none());
    assert_eq!(
        playlist
            .header("Content-Length")
            .map(|v| v.parse::<usize>().unwrap()),
        Some(playlist.body.len())
    );
    let text = String::from_utf8(playlist.body.clone()).unwrap();
    assert!(text.starts_with("#EXTM3U\n"), "{text}");
    let pl = match m3u8_rs::parse_playlist_res(&playlist.body) {
        Ok(m3u8_rs::Playlist::MediaPlaylist(p)) => p,
        other => panic!("not a media playlist: {other:?}"),
    };
    assert!(pl.end_list);
    // The default is low-latency: EXT-X-PART-INF / SERVER-CONTROL need version 6.
    assert_eq!(pl.version, Some(6));
    assert_eq!(pl.target_duration, 1);
    assert!(pl.independent_segments);
    assert!(pl.segments.len() >= 6, "window of 6: {text}");
    assert_eq!(text.matches("#EXT-X-DISCONTINUITY-SEQUENCE:").count(), 1);
    assert_eq!(
        text.matches("#EXT-X-PROGRAM-DATE-TIME:").count(),
        pl.segments.len()
    );

    // Every segment over HTTP, headers checked, decoded alone with no error.
    let mut all = Vec::new();
    let mut total = 0f64;
    for seg in &pl.segments {
        assert!((seg.duration.round() as u64) <= pl.target_duration);
        total += seg.duration as f64;
        let r = get(port, &format!("/{}", seg.uri));
        assert_eq!(r.status, 200, "{}", seg.uri);
        assert_eq!(r.header("Content-Type"), Some("video/mp2t"));
        assert!(
            r.header("Transfer-Encoding").is_none(),
            "chunked segment {}",
            seg.uri
        );
        assert_eq!(
            r.header("Content-Length")
                .unwrap()
                .parse::<usize>()
                .unwrap(),
            r.body.len()
        );
        assert!(r.header("Cache-Control").unwrap().contains("max-age="));
        assert_eq!(r.body.len() % 188, 0);
        let path = dir.join(&seg.uri);
        std::fs::write(&path, &r.body).unwrap();
        let p = path.to_str().unwrap();
        ffmpeg_clean(&["-i", p, "-f", "null", "-"]);
        let streams = stream_types(p);
        assert!(
            streams.contains("video") && streams.contains("audio"),
            "{streams}"
        );
        let first = first_video_frame(p);
        assert!(
            first.starts_with("1,I"),
            "{} does not start with a key frame: {first}",
            seg.uri
        );
        all.extend_from_slice(&r.body);
    }
    // The window's EXTINF sum equals its media time to within a frame.
    let frames = (total * FPS as f64).round();
    assert!(
        (total - frames / FPS as f64).abs() < 0.0005,
        "EXTINF sum {total} not a whole number of frames"
    );

    // A/V sync: beep onsets against flash frames, in the concatenated window.
    let whole = dir.join("window.ts");
    std::fs::write(&whole, &all).unwrap();
    let offset = av_offset(&whole);
    assert!(
        offset.abs() <= 1.0 / FPS as f64 + 1e-3,
        "beep vs flash offset {offset:.4} s is more than one frame"
    );
    eprintln!("A/V offset of beep vs flash: {:.1} ms", offset * 1000.0);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Mean offset (audio − video, seconds) between each beep onset and the flash frame it matches.
fn av_offset(ts: &Path) -> f64 {
    let p = ts.to_str().unwrap();
    // Video: presentation time and mean luma of every frame.
    let times: Vec<f64> = ffprobe(&[
        "-select_streams",
        "v",
        "-show_entries",
        "frame=pts_time",
        "-of",
        "csv=p=0",
        p,
    ])
    .lines()
    .filter_map(|l| l.trim().trim_end_matches(',').parse().ok())
    .collect();
    let gray = ffmpeg_clean(&[
        "-i",
        p,
        "-an",
        "-vf",
        "scale=16:16,format=gray",
        "-fps_mode",
        "passthrough",
        "-f",
        "rawvideo",
        "-",
    ]);
    let lumas: Vec<f64> = gray
        .chunks_exact(256)
        .map(|f| f.iter().map(|&b| b as f64).sum::<f64>() / 256.0)
        .collect();
    assert_eq!(times.len(), lumas.len(), "one luma per frame");
    let max = lumas.iter().cloned().fold(0.0, f64::max);
    let min = lumas.iter().cloned().fold(255.0, f64::min);
    let thr = (max + min) / 2.0;
    let flashes: Vec<f64> = (0..lumas.len())
        .filter(|&i| lumas[i] > thr && (i == 0 || lumas[i - 1] <= thr))
        .map(|i| times[i])
        .collect();
    assert!(
        flashes.len() >= 4,
        "flashes found: {flashes:?} (lumas {min:.0}..{max:.0})"
    );

    // Audio: start time of the stream and the PCM, then beep onsets by short-window RMS.
    let start: f64 = ffprobe(&[
        "-select_streams",
        "a",
        "-show_entries",
        "stream=start_time",
        "-of",
        "csv=p=0",
        p,
    ])
    .lines()
    .find_map(|l| l.trim().trim_end_matches(',').parse().ok())
    .expect("audio start_time");
    let pcm = ffmpeg_clean(&[
        "-i", p, "-vn", "-ac", "1", "-ar", "48000", "-f", "s16le", "-",
    ]);
    let samples: Vec<f64> = pcm
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]) as f64)
        .collect();
    let win = 96; // 2 ms
    let rms: Vec<f64> = samples
        .chunks(win)
        .map(|c| (c.iter().map(|s| s * s).sum::<f64>() / c.len() as f64).sqrt())
        .collect();
    let rmax = rms.iter().cloned().fold(0.0, f64::max);
    let rthr = rmax * 0.75;
    let beeps: Vec<f64> = (1..rms.len())
        .filter(|&i| rms[i] > rthr && rms[i - 1] <= rthr)
        .map(|i| start + (i * win) as f64 / 48_000.0)
        .collect();
    assert!(beeps.len() >= 4, "beeps found: {beeps:?}");

    let mut diffs = Vec::new();
    for f in &flashes {
        if let Some(b) = beeps
            .iter()
            .min_by(|a, b| (*a - f).abs().total_cmp(&(*b - f).abs()))
        {
            if (b - f).abs() < 0.5 {
                diffs.push(b - f);
            }
        }
    }
    assert!(
        diffs.len() >= 4,
        "matched beeps to flashes: flashes {flashes:?} beeps {beeps:?}"
    );
    diffs.iter().sum::<f64>() / diffs.len() as f64
}
