//! Real H.264 (libx264, 320x240@30, 2 s, IDR every 30 frames) and AAC (ffmpeg's encoder,
//! 48 kHz mono) through `hlscam::fmp4` into an init segment and ten 200 ms fragments, then
//! checked by independent tools: ffprobe sees both streams with every frame, ffmpeg decodes the
//! concatenation and init + one middle fragment without a message, packet timestamps start at
//! the 10 s the timeline was given and never go back; and our own boxes read back with
//! continuous `tfdt` and increasing `mfhd` sequence numbers. The same files also play as an
//! HLS fMP4 playlist through ffmpeg's HLS demuxer.

use std::fs::File;
use std::path::Path;

use hlscam::codec::adts::AdtsFrames;
use hlscam::codec::annexb::AuSplitter;
use hlscam::codec::h264::{NalIter, NAL_PPS, NAL_SPS};
use hlscam::fmp4::boxes::{find, BoxIter};
use hlscam::fmp4::{write_init, AudioParams, Fmp4Muxer, MuxerLimits, TrackParams};

#[path = "support/tools.rs"]
mod tools;
use tools::{ffmpeg, ffmpeg_clean, ffprobe, fresh_dir};

/// Media time of the first video frame: 10 s.
const T0: u64 = 900_000;
const FRAME: u64 = 3000;
const FRAMES_PER_FRAGMENT: usize = 6;

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes(b[..4].try_into().unwrap())
}

/// Per track of one fragment: (track ID, tfdt, sum of sample durations, samples).
fn read_fragment(frag: &[u8]) -> (u32, Vec<(u32, u64, u64, usize)>) {
    let moof = find(frag, &[b"moof"]).expect("fragment starts with moof");
    let seq = be32(&find(moof, &[b"mfhd"]).unwrap()[4..]);
    let mut tracks = Vec::new();
    for traf in BoxIter::new(moof).filter(|b| &b.fourcc == b"traf") {
        let id = be32(&find(traf.body, &[b"tfhd"]).unwrap()[4..]);
        let tfdt = find(traf.body, &[b"tfdt"]).unwrap();
        let tfdt = u64::from_be_bytes(tfdt[4..12].try_into().unwrap());
        let trun = find(traf.body, &[b"trun"]).unwrap();
        let flags = be32(trun) & 0xFF_FFFF;
        let n = be32(&trun[4..]) as usize;
        let per_sample = 4 * (flags >> 8 & 0xF).count_ones() as usize;
        assert_eq!(flags & 0x100, 0x100, "per-sample durations");
        let durations: u64 = (0..n)
            .map(|i| be32(&trun[12 + i * per_sample..]) as u64)
            .sum();
        tracks.push((id, tfdt, durations, n));
    }
    (seq, tracks)
}

/// `key=value` lines of ffprobe's default `-show_streams` output, per stream.
fn streams(file: &str) -> Vec<Vec<(String, String)>> {
    let out = ffprobe(&["-show_streams", "-count_frames", file]);
    let mut v: Vec<Vec<(String, String)>> = Vec::new();
    for line in out.lines() {
        if line == "[STREAM]" {
            v.push(Vec::new());
        } else if let Some((k, val)) = line.split_once('=') {
            v.last_mut().unwrap().push((k.to_string(), val.to_string()));
        }
    }
    v
}

fn field<'a>(s: &'a [(String, String)], key: &str) -> &'a str {
    &s.iter().find(|(k, _)| k == key).unwrap().1
}

/// (pts, dts) of every packet of stream `sel` in `file`, in its time base.
fn packets(file: &str, sel: &str) -> Vec<(i64, i64)> {
    let out = ffprobe(&[
        "-select_streams",
        sel,
        "-show_entries",
        "packet=pts,dts",
        "-of",
        "csv=p=0",
        file,
    ]);
    out.lines()
        .map(|l| {
            let (p, d) = l.split_once(',').unwrap();
            (p.parse().unwrap(), d.trim().parse().unwrap())
        })
        .collect()
}

/// The access units (with their key flag) of an Annex B file.
fn access_units(path: &Path) -> Vec<(Vec<u8>, bool)> {
    let mut split = AuSplitter::new(1 << 16);
    let mut file = File::open(path).unwrap();
    let mut au = Vec::new();
    let mut aus = Vec::new();
    while let Some(info) = split.next_au(&mut file, &mut au).unwrap() {
        aus.push((au.clone(), info.key));
    }
    if let Some(info) = split.finish(&mut au) {
        aus.push((au.clone(), info.key));
    }
    aus
}

/// The init segment for the SPS/PPS of the first access unit `au0` and `audio`.
fn init_for(au0: &[u8], audio: Option<AudioParams>) -> Vec<u8> {
    let nal = |t| NalIter::new(au0).find(|n| n.nal_type == t).unwrap().bytes;
    let params = TrackParams {
        width: 0,
        height: 0,
        sps: nal(NAL_SPS),
        pps: nal(NAL_PPS),
        audio,
        duration_ms: None,
    };
    let mut scratch = [0u8; 4096];
    write_init(&params, &mut scratch).unwrap().to_vec()
}

fn generate(dir: &Path) -> (Vec<(Vec<u8>, bool)>, Vec<u8>) {
    let v = dir.join("v.h264");
    let a = dir.join("a.aac");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=320x240:rate=30",
        "-t",
        "2",
        "-pix_fmt",
        "yuv420p",
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
        "-f",
        "h264",
        v.to_str().unwrap(),
    ]);
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=f=440:sample_rate=48000",
        "-t",
        "2",
        "-c:a",
        "aac",
        "-f",
        "adts",
        a.to_str().unwrap(),
    ]);
    (access_units(&v), std::fs::read(&a).unwrap())
}

#[test]
fn fragments_probe_and_decode() {
    let dir = fresh_dir("fmp4");
    let (aus, aac) = generate(&dir);
    assert_eq!(aus.len(), 60);
    assert!(aus[0].1 && aus[30].1 && !aus[1].1);
    let frames: Vec<&[u8]> = AdtsFrames::new(&aac).map(|f| f.unwrap().1).collect();
    let (h, _) = AdtsFrames::new(&aac).next().unwrap().unwrap();
    let audio = AudioParams::from_adts(&h);
    assert_eq!((audio.sample_rate, audio.channels), (48_000, 1));

    let init = init_for(&aus[0].0, Some(audio));
    std::fs::write(dir.join("init.mp4"), &init).unwrap();

    let mut mux = Fmp4Muxer::new(Some(audio), MuxerLimits::default());
    let mut fragments = Vec::new();
    let mut next_audio = 0;
    for (k, chunk) in aus.chunks(FRAMES_PER_FRAGMENT).enumerate() {
        let first = k * FRAMES_PER_FRAGMENT;
        for (i, (au, key)) in chunk.iter().enumerate() {
            let t = T0 + (first + i) as u64 * FRAME;
            mux.push_video(au, t, t, *key).unwrap();
        }
        let end = T0 + (first + chunk.len()) as u64 * FRAME;
        let last = first + chunk.len() == aus.len();
        // Audio frames that start before the fragment's end (all that is left at the end),
        // pushed two at a time where possible.
        while next_audio < frames.len() {
            let pts = T0 + next_audio as u64 * 1920;
            if pts >= end && !last {
                break;
            }
            let n = if next_audio + 1 < frames.len() { 2 } else { 1 };
            let bytes = frames[next_audio..next_audio + n].concat();
            assert_eq!(mux.push_audio(&bytes, pts), Ok(n));
            next_audio += n;
        }
        let mut frag = Vec::new();
        let n = mux.fragment(end, &mut frag).unwrap();
        assert_eq!(n, frag.len());
        std::fs::write(dir.join(format!("frag{k}.m4s")), &frag).unwrap();
        fragments.push(frag);
    }
    assert_eq!(fragments.len(), 10);

    // Our own boxes: sequence numbers 1.., tfdt continuous from 10 s on both tracks.
    let (mut video_next, mut audio_next) = (T0, T0 * 48_000 / 90_000);
    let (mut video_samples, mut audio_samples) = (0, 0);
    for (k, frag) in fragments.iter().enumerate() {
        let (seq, tracks) = read_fragment(frag);
        assert_eq!(seq, k as u32 + 1);
        for (id, tfdt, dur, n) in tracks {
            let next = if id == 1 {
                video_samples += n;
                &mut video_next
            } else {
                audio_samples += n;
                &mut audio_next
            };
            assert_eq!(tfdt, *next, "fragment {k} track {id}");
            *next += dur;
        }
    }
    assert_eq!((video_samples, audio_samples), (60, frames.len()));
    assert_eq!(video_next, T0 + 60 * FRAME);

    let concat = dir.join("concat.mp4");
    let mut all = init.clone();
    for f in &fragments {
        all.extend_from_slice(f);
    }
    std::fs::write(&concat, &all).unwrap();
    let concat = concat.to_str().unwrap();

    let s = streams(concat);
    assert_eq!(s.len(), 2);
    assert_eq!(field(&s[0], "codec_name"), "h264");
    assert_eq!(
        (field(&s[0], "width"), field(&s[0], "height")),
        ("320", "240")
    );
    assert_eq!(field(&s[0], "nb_read_frames"), "60");
    assert_eq!(field(&s[1], "codec_name"), "aac");
    assert_eq!(field(&s[1], "sample_rate"), "48000");
    assert_eq!(field(&s[1], "nb_read_frames"), frames.len().to_string());

    ffmpeg_clean(&["-i", concat, "-f", "null", "-"]);

    // Timestamps: start at 10 s on both tracks, never go back, no B-frames (pts = dts).
    let v = packets(concat, "v:0");
    assert_eq!(v.len(), 60);
    assert_eq!(v[0], (T0 as i64, T0 as i64));
    assert!(v.windows(2).all(|w| w[1].1 > w[0].1 && w[1].0 > w[0].0));
    assert!(v.iter().all(|(p, d)| p == d));
    let a = packets(concat, "a:0");
    assert_eq!(a.len(), frames.len());
    assert_eq!(a[0].1, 480_000);
    assert!(a.windows(2).all(|w| w[1].1 == w[0].1 + 1024));

    // Init + the middle fragment that starts at the second IDR (frame 30) decodes alone.
    let middle = dir.join("middle.mp4");
    std::fs::write(&middle, [&init[..], &fragments[5]].concat()).unwrap();
    let middle = middle.to_str().unwrap();
    ffmpeg_clean(&["-i", middle, "-f", "null", "-"]);
    let s = streams(middle);
    assert_eq!(field(&s[0], "nb_read_frames"), "6");
    let v = packets(middle, "v:0");
    assert_eq!(v[0].1, (T0 + 30 * FRAME) as i64);

    // The same files as an HLS fMP4 playlist (RFC 8216 §4.3.2.5 EXT-X-MAP) through ffmpeg's
    // HLS demuxer.
    let mut m3u8 = String::from(
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:1\n#EXT-X-MAP:URI=\"init.mp4\"\n",
    );
    for k in 0..fragments.len() {
        m3u8.push_str(&format!("#EXTINF:0.200,\nfrag{k}.m4s\n"));
    }
    m3u8.push_str("#EXT-X-ENDLIST\n");
    let playlist = dir.join("p.m3u8");
    std::fs::write(&playlist, m3u8).unwrap();
    let playlist = playlist.to_str().unwrap();
    ffmpeg_clean(&["-i", playlist, "-f", "null", "-"]);
    let s = streams(playlist);
    assert_eq!(field(&s[0], "nb_read_frames"), "60");
    assert_eq!(field(&s[1], "nb_read_frames"), frames.len().to_string());

    std::fs::remove_dir_all(&dir).unwrap();
}

/// B-frames (libx264 `-bf 2`, decode order ≠ presentation order): the signed composition
/// offsets of the version 1 `trun` give ffprobe back the source's PTS and DTS.
#[test]
fn b_frames_keep_their_timestamps() {
    let dir = fresh_dir("fmp4-bframes");
    let src = dir.join("b.mp4");
    let es = dir.join("b.h264");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=320x240:rate=30",
        "-t",
        "1",
        "-pix_fmt",
        "yuv420p",
        "-c:v",
        "libx264",
        "-bf",
        "2",
        "-g",
        "30",
        "-x264-params",
        "aud=1",
        "-video_track_timescale",
        "90000",
        src.to_str().unwrap(),
    ]);
    ffmpeg(&[
        "-i",
        src.to_str().unwrap(),
        "-c:v",
        "copy",
        "-bsf:v",
        "h264_mp4toannexb",
        "-f",
        "h264",
        es.to_str().unwrap(),
    ]);
    // Source timestamps in decode order; DTS starts below zero, so shift everything by T0.
    let want: Vec<(i64, i64)> = packets(src.to_str().unwrap(), "v:0")
        .into_iter()
        .map(|(p, d)| (p + T0 as i64, d + T0 as i64))
        .collect();
    assert_eq!(want.len(), 30);
    assert!(want.iter().any(|(p, d)| p != d), "the source has B-frames");

    let aus = access_units(&es);
    assert_eq!(aus.len(), want.len());
    let mut out = init_for(&aus[0].0, None);
    let mut mux = Fmp4Muxer::new(None, MuxerLimits::default());
    for (i, ((data, key), &(pts, dts))) in aus.iter().zip(&want).enumerate() {
        if i > 0 && i % 10 == 0 {
            mux.fragment(dts as u64, &mut out).unwrap();
        }
        mux.push_video(data, pts as u64, dts as u64, *key).unwrap();
    }
    mux.fragment(want[29].1 as u64 + FRAME, &mut out).unwrap();
    let file = dir.join("b_frag.mp4");
    std::fs::write(&file, &out).unwrap();
    let file = file.to_str().unwrap();
    ffmpeg_clean(&["-i", file, "-f", "null", "-"]);
    assert_eq!(packets(file, "v:0"), want);
    std::fs::remove_dir_all(&dir).unwrap();
}
