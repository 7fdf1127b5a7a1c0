//! Adaptive bitrate end to end: the real `hlscam` binary with three `[[variant]]`s (one at half
//! the frame rate) and the audio-only rendition, fetched over HTTP on 127.0.0.1 and parsed by
//! the independent `m3u8` parser (tests/abr_check.py); every segment of every rendition probed
//! and decoded by ffmpeg.
//!
//! Checked: the master playlist's rules (RFC 8216 §4.3.4.2: `BANDWIDTH` ≥ the peak segment bit
//! rate of what is listed, `AVERAGE-BANDWIDTH`, `CODECS` from the real SPS and AAC profile as
//! ffprobe reads them, `RESOLUTION`, `FRAME-RATE`, `EXT-X-INDEPENDENT-SEGMENTS`); segments of
//! all video renditions with the same numbers, durations, first PTS and PDT; the audio-only
//! rendition within one AAC frame of them; low-latency renditions reporting each other
//! (`EXT-X-RENDITION-REPORT`) and answering blocking reloads; `/live.m3u8` still the first.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

#[path = "support/hlscam_proc.rs"]
mod hlscam_proc;
#[path = "support/tools.rs"]
mod tools;

use tools::{ffmpeg_clean, ffprobe, fresh_dir, python};

const VARIANTS: &str = r#"
[[variant]]
name = "360p"
width = 640
height = 360
bitrate_kbps = 900
[[variant]]
name = "180p"
width = 320
height = 180
bitrate_kbps = 250
encoder = "openh264"
[[variant]]
name = "90p"
width = 160
height = 90
fps = 15
bitrate_kbps = 100
"#;

/// Three variants at 640x360 capture, 1 s segments; `extra` adds sections (after `[hls]`).
fn config(dir: &Path, low_latency: bool, extra: &str) -> std::path::PathBuf {
    let toml = format!(
        "[video]\nsource = \"testsrc\"\nwidth = 640\nheight = 360\nfps = 30\n\
         [audio]\nsource = \"tone\"\n\
         [hls]\ndir = \"{}\"\nsegment_seconds = 1\nlow_latency = {low_latency}\n{extra}{VARIANTS}",
        dir.join("out").display()
    );
    let path = dir.join("hlscam.toml");
    std::fs::write(&path, toml).unwrap();
    path
}

fn fetch(port: u16, out: &Path, media: bool) -> Value {
    let base = format!("http://127.0.0.1:{port}");
    let mut args = vec![base.as_str(), out.to_str().unwrap()];
    if !media {
        args.push("--no-media");
    }
    let text = python("tests/abr_check.py", "target/pydeps", &args, &[]);
    let line = text
        .lines()
        .find(|l| l.starts_with('{'))
        .expect("JSON line");
    serde_json::from_str(line).unwrap()
}

fn get(port: u16, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text[9..12].parse().unwrap();
    let body = text.split_once("\r\n\r\n").map_or("", |x| x.1).to_owned();
    (status, body)
}

/// `pts_time` of the first packet of stream `sel` (`v:0`, `a:0`) in `file`.
fn first_pts(file: &str, sel: &str) -> f64 {
    let out = ffprobe(&[
        "-select_streams",
        sel,
        "-read_intervals",
        "%+#1",
        "-show_entries",
        "packet=pts_time",
        "-of",
        "csv=p=0",
        file,
    ]);
    out.split([',', '\n'])
        .next()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or_else(|| panic!("pts of {file}: {out:?}"))
}

/// (profile, level, width, height, avg_frame_rate) of the video stream and the audio profile.
fn probe(file: &str) -> (String, i64, i64, i64, String, String) {
    let v = ffprobe(&[
        "-select_streams",
        "v:0",
        "-show_entries",
        "stream=profile,level,width,height,avg_frame_rate",
        "-of",
        "json",
        file,
    ]);
    let v: Value = serde_json::from_str(&v).unwrap();
    let s = &v["streams"][0];
    let a = ffprobe(&[
        "-select_streams",
        "a:0",
        "-show_entries",
        "stream=profile",
        "-of",
        "csv=p=0",
        file,
    ]);
    (
        s["profile"].as_str().unwrap().to_owned(),
        s["level"].as_i64().unwrap(),
        s["width"].as_i64().unwrap(),
        s["height"].as_i64().unwrap(),
        s["avg_frame_rate"].as_str().unwrap().to_owned(),
        // (MPEG-TS: listed under its program too.)
        a.lines().find(|l| !l.is_empty()).unwrap_or("").to_owned(),
    )
}

#[test]
fn renditions_align_decode_and_the_master_tells_the_truth() {
    let dir = fresh_dir("abr-e2e");
    // LL-HLS with recording on: MPEG-TS renditions (the other test has fMP4), and the
    // recorder takes the first rendition.
    let rec = dir.join("rec");
    std::fs::create_dir_all(&rec).unwrap();
    let cfg = config(
        &dir,
        true,
        &format!(
            "[record]\nmode = \"continuous\"\ndir = \"{}\"\nmin_free_percent = 0\n",
            rec.display()
        ),
    );
    // Unpaced (no frame dropped anywhere), 8 s of media, then served as it ended.
    let (_proc, port) = hlscam_proc::start(
        env!("CARGO_BIN_EXE_hlscam"),
        &cfg,
        &["--fast", "--duration", "8", "--linger", "120"],
        &[],
    );
    let deadline = Instant::now() + Duration::from_secs(90);
    while !get(port, "/live.m3u8").1.contains("#EXT-X-ENDLIST") {
        assert!(Instant::now() < deadline, "the run never ended");
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = dir.join("media");
    std::fs::create_dir_all(&out).unwrap();
    let r = fetch(port, &out, true);
    let master = r["master"]["text"].as_str().unwrap();
    assert!(master.starts_with("#EXTM3U\n"), "{master}");
    assert!(
        master.contains("\n#EXT-X-INDEPENDENT-SEGMENTS\n"),
        "{master}"
    );
    let variants = r["master"]["variants"].as_array().unwrap();
    let uris: Vec<&str> = variants
        .iter()
        .map(|v| v["uri"].as_str().unwrap())
        .collect();
    assert_eq!(
        uris,
        [
            "live.m3u8",
            "v/180p/live.m3u8",
            "v/90p/live.m3u8",
            "v/audio/live.m3u8"
        ]
    );
    // /live.m3u8 is still the first rendition.
    assert_eq!(r["renditions"][0]["uri"], "live.m3u8");
    let rends = r["renditions"].as_array().unwrap();

    for (v, rend) in variants.iter().zip(rends) {
        let segs = rend["segments"].as_array().unwrap();
        assert!(segs.len() >= 6, "{}: {} segments", v["uri"], segs.len());
        assert_eq!(rend["ended"], true);
        // BANDWIDTH is at least the peak segment bit rate of the listed segments (their
        // EXTINF is rounded to the millisecond: allow that much), AVERAGE their mean.
        let rates: Vec<f64> = segs
            .iter()
            .map(|s| s["bytes"].as_f64().unwrap() * 8.0 / s["duration"].as_f64().unwrap())
            .collect();
        let peak = rates.iter().cloned().fold(0.0, f64::max);
        let bw = v["bandwidth"].as_f64().unwrap();
        let avg = v["average_bandwidth"].as_f64().unwrap();
        let total_bits: f64 = segs
            .iter()
            .map(|s| s["bytes"].as_f64().unwrap() * 8.0)
            .sum();
        let total_s: f64 = segs.iter().map(|s| s["duration"].as_f64().unwrap()).sum();
        assert!(
            bw >= peak * 0.999,
            "{}: BANDWIDTH {bw} < peak {peak}",
            v["uri"]
        );
        assert!(
            bw <= peak * 1.01,
            "{}: BANDWIDTH {bw} ≫ peak {peak}",
            v["uri"]
        );
        let mean = total_bits / total_s;
        assert!(
            (avg - mean).abs() <= mean * 0.01,
            "{}: AVERAGE {avg} vs {mean}",
            v["uri"]
        );
        assert!(avg <= bw);
        // Every segment decodes cleanly.
        for s in segs {
            ffmpeg_clean(&["-i", s["file"].as_str().unwrap(), "-f", "null", "-"]);
        }
        // CODECS, RESOLUTION and FRAME-RATE are what ffprobe finds.
        let codecs = v["codecs"].as_str().unwrap();
        let file = segs[1]["file"].as_str().unwrap();
        if rend["uri"] == "v/audio/live.m3u8" {
            assert_eq!(codecs, "mp4a.40.2");
            assert!(v["resolution"].is_null());
            // (ffprobe lists the stream under its program too: "audio" twice.)
            let types = tools::stream_types(file);
            assert!(
                types.contains("audio") && !types.contains("video"),
                "{types}"
            );
            continue;
        }
        let (profile, level, w, h, rate, audio) = probe(file);
        let (avc, aac) = codecs.split_once(',').expect("video and audio codecs");
        let profile_hex = match profile.as_str() {
            "Constrained Baseline" | "Baseline" => "42",
            "Main" => "4D",
            "High" => "64",
            p => panic!("profile {p}"),
        };
        assert_eq!(
            &avc[..7],
            &format!("avc1.{profile_hex}"),
            "{codecs} vs {profile}"
        );
        assert_eq!(
            i64::from_str_radix(&avc[9..11], 16).unwrap(),
            level,
            "{codecs} vs level {level}"
        );
        assert_eq!(aac, "mp4a.40.2");
        assert_eq!(audio, "LC");
        let res = v["resolution"].as_array().unwrap();
        assert_eq!((res[0].as_i64().unwrap(), res[1].as_i64().unwrap()), (w, h));
        let (n, d) = rate.split_once('/').unwrap();
        let fps = n.parse::<f64>().unwrap() / d.parse::<f64>().unwrap();
        assert!(
            (v["frame_rate"].as_f64().unwrap() - fps).abs() < 0.5,
            "{rate}"
        );
    }

    // Video renditions: the same segments, cut at the same media times.
    let video = &rends[..3];
    let seqs = |r: &Value| -> Vec<String> {
        r["segments"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                s["uri"]
                    .as_str()
                    .unwrap()
                    .split('.')
                    .next()
                    .unwrap()
                    .to_owned()
            })
            .collect()
    };
    for r in &rends[1..] {
        assert_eq!(r["media_sequence"], video[0]["media_sequence"]);
        assert_eq!(seqs(r), seqs(&video[0]), "{}", r["uri"]);
    }
    let n = video[0]["segments"].as_array().unwrap().len();
    for k in 0..n {
        let seg = |r: &Value| r["segments"][k].clone();
        let top = seg(&video[0]);
        let t0 = first_pts(top["file"].as_str().unwrap(), "v:0");
        for r in &video[1..] {
            let s = seg(r);
            assert_eq!(
                s["duration"], top["duration"],
                "segment {k} of {}",
                r["uri"]
            );
            assert_eq!(s["pdt"], top["pdt"], "segment {k} of {}", r["uri"]);
            let t = first_pts(s["file"].as_str().unwrap(), "v:0");
            assert!(
                (t - t0).abs() < 1e-6,
                "segment {k} of {}: {t} vs {t0}",
                r["uri"]
            );
        }
        // The audio-only rendition cuts within one AAC frame (21.3 ms) of the video's.
        let a = seg(&rends[3]);
        if k + 1 < n {
            let (da, dv) = (
                a["duration"].as_f64().unwrap(),
                top["duration"].as_f64().unwrap(),
            );
            assert!(
                (da - dv).abs() < 0.022,
                "segment {k}: audio {da} s, video {dv} s"
            );
        }
        let pdt = |s: &Value| {
            let t = s["pdt"].as_str().unwrap();
            // "...:SS.mmm+00:00": compare the seconds within the minute (runs are short).
            t[17..23].parse::<f64>().unwrap() + 60.0 * t[14..16].parse::<f64>().unwrap()
        };
        assert!(
            (pdt(&a) - pdt(&top)).abs() < 0.022,
            "segment {k}: {a} vs {top}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn low_latency_renditions_report_each_other_and_block() {
    let dir = fresh_dir("abr-ll");
    let cfg = config(&dir, true, "");
    let (_proc, port) = hlscam_proc::start(
        env!("CARGO_BIN_EXE_hlscam"),
        &cfg,
        &["--duration", "30"],
        &[],
    );
    // The master waits until every rendition has a segment: 503, then 200.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen_503 = false;
    loop {
        let (status, body) = get(port, "/index.m3u8");
        match status {
            200 => break,
            503 => seen_503 = true,
            s => panic!("/index.m3u8: {s} {body}"),
        }
        assert!(Instant::now() < deadline, "no master playlist");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        seen_503,
        "the master was offered before every rendition had a segment"
    );
    std::thread::sleep(Duration::from_secs(2));
    let r = fetch(port, &dir, false);
    for rend in r["renditions"].as_array().unwrap() {
        let reports = rend["reports"].as_array().unwrap();
        let mut uris: Vec<&str> = reports.iter().map(|x| x["uri"].as_str().unwrap()).collect();
        uris.sort();
        let mut want: Vec<String> = [
            "live.m3u8",
            "v/180p/live.m3u8",
            "v/90p/live.m3u8",
            "v/audio/live.m3u8",
        ]
        .iter()
        .filter(|u| **u != rend["uri"].as_str().unwrap())
        .map(|u| {
            if rend["uri"] == "live.m3u8" {
                u.to_string()
            } else {
                format!("../../{u}")
            }
        })
        .collect();
        want.sort();
        assert_eq!(uris, want, "reports in {}", rend["uri"]);
        // A report names a part that exists: a blocking request for the next one answers.
        for x in reports {
            let (msn, part) = (
                x["last_msn"].as_u64().unwrap(),
                x["last_part"].as_u64().unwrap(),
            );
            // Relative to /v/<name>/live.m3u8, "../../" is the root.
            let u = x["uri"].as_str().unwrap();
            let path = format!("/{}", u.strip_prefix("../../").unwrap_or(u));
            let (status, body) = get(
                port,
                &format!("{path}?_HLS_msn={msn}&_HLS_part={}", part + 1),
            );
            assert_eq!(status, 200, "{path}: {body}");
            assert!(body.contains(&format!("seg{msn}.")), "{path}");
        }
    }
    // The status API lists every rendition with its figures.
    let (_, status) = get(port, "/api/status");
    let st: Value = serde_json::from_str(&status).unwrap();
    let names: Vec<&str> = st["renditions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["360p", "180p", "90p", "audio"]);
    assert!(st["renditions"][2]["frames_out"].as_u64().unwrap() > 0);
    assert_eq!(st["renditions"][2]["fps"], 15);
    let _ = std::fs::remove_dir_all(&dir);
}
