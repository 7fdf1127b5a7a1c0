//! Property tests of the TS muxer, checked by the independent `mpeg2ts` parser: random frame
//! sizes (0–5000 bytes), 5–60 fps, optional interleaved AAC in access units of 1 to 5 ADTS
//! frames each, a start just below 2^33 so every run crosses the 33-bit wrap. Deterministic: a fixed ChaCha seed, independent of
//! `PROPTEST_RNG_SEED`.

use hlscam::codec::adts::write_adts_header;
use hlscam::media::{AudioAu, VideoAu};
use hlscam::time::Pts90k;
use hlscam::ts::{MuxConfig, MuxError, TsMuxer, PACKET_LEN};
use mpeg2ts::ts::{ReadTsPacket, TsPacketReader, TsPayload};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestCaseError, TestRng, TestRunner};
use std::collections::HashMap;

const WRAP: u64 = 1 << 33;
const AUD: [u8; 6] = [0, 0, 0, 1, 0x09, 0xF0];
const VIDEO: u16 = 0x100;
const AUDIO: u16 = 0x101;

#[derive(Debug, Clone)]
struct Frame {
    size: usize,
    aud: bool,
    param_sets: bool,
    empty: bool,
}

#[derive(Debug, Clone)]
struct Scenario {
    fps: u64,
    gop: usize,
    before_wrap: u64,
    frames: Vec<Frame>,
    /// (sample rate index, frames per AU (1..=5, used in turn), frame sizes).
    audio: Option<(u8, Vec<usize>, Vec<usize>)>,
    fill: u8,
}

fn scenario() -> impl Strategy<Value = Scenario> {
    let frame = (
        0usize..5000,
        any::<bool>(),
        any::<bool>(),
        prop::bool::weighted(0.03),
    )
        .prop_map(|(size, aud, param_sets, empty)| Frame {
            size,
            aud,
            param_sets,
            empty,
        });
    let audio = prop::option::weighted(
        0.8,
        (
            prop::sample::select(vec![3u8, 4, 6, 11]),
            prop::collection::vec(1usize..=5, 1..40),
            prop::collection::vec(8usize..800, 1..150),
        ),
    );
    (
        5u64..=60,
        1usize..40,
        0u64..450_000,
        prop::collection::vec(frame, 1..90),
        audio,
        1u8..=255,
    )
        .prop_map(|(fps, gop, before_wrap, frames, audio, fill)| Scenario {
            fps,
            gop,
            before_wrap,
            frames,
            audio,
            fill,
        })
}

/// What the muxer was given, and what the output must contain.
struct Expect {
    /// (dts, pts, key, expected PES payload) per video AU, in order.
    video: Vec<(u64, u64, bool, Vec<u8>)>,
    /// (pts, end, bytes) per ADTS frame, in order.
    audio: Vec<(u64, u64, Vec<u8>)>,
    /// (pts, bytes) of each multi-frame audio AU that fits one PES (≤ 100 ms, 16-bit length):
    /// the muxer must write it as exactly one PES.
    whole_aus: Vec<(u64, Vec<u8>)>,
    /// Byte offsets in the output where `write_psi` was called.
    psi_at: Vec<usize>,
}

fn run_mux(s: &Scenario) -> (Vec<u8>, Expect) {
    let start = WRAP - s.before_wrap;
    let mut m = TsMuxer::new(MuxConfig::default());
    let mut out = Vec::new();
    let mut ex = Expect {
        video: vec![],
        audio: vec![],
        whole_aus: vec![],
        psi_at: vec![],
    };
    // Build the audio AUs.
    let mut audio_aus: Vec<(u64, Vec<u8>)> = vec![];
    if let Some((sri, per_au, sizes)) = &s.audio {
        let rate = [
            96_000u64, 88_200, 64_000, 48_000, 44_100, 32_000, 24_000, 22_050, 16_000, 12_000,
            11_025, 8_000,
        ][*sri as usize];
        let mut samples = 0u64;
        let mut rest = &sizes[..];
        for &n in per_au.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (chunk, more) = rest.split_at(n.min(rest.len()));
            rest = more;
            let au_pts = start + samples * 90_000 / rate;
            let mut data = vec![];
            let mut in_au = 0u64;
            for &len in chunk {
                let mut f = vec![s.fill.wrapping_add(len as u8); len];
                let mut h = [0u8; 7];
                write_adts_header(&mut h, 1, *sri, 2, len);
                f[..7].copy_from_slice(&h);
                // The muxer's contract: frame PTS follow the sample count from the AU's PTS.
                let pts = au_pts + in_au * 90_000 / rate;
                in_au += 1024;
                ex.audio
                    .push((pts, au_pts + in_au * 90_000 / rate, f.clone()));
                samples += 1024;
                data.extend_from_slice(&f);
            }
            if chunk.len() > 1 && in_au * 90_000 / rate <= 9_000 {
                ex.whole_aus.push((au_pts, data.clone()));
            }
            audio_aus.push((au_pts, data));
        }
    }
    let mut ai = 0;
    let mut sps_version = 0u8;
    let mut last_sps: Option<Vec<u8>> = None;
    for (i, f) in s.frames.iter().enumerate() {
        let dts = start + i as u64 * 90_000 / s.fps;
        // Audio up to this frame's DTS goes first (the pipeline interleaves by timestamp).
        while ai < audio_aus.len() && audio_aus[ai].0 < dts {
            let a = AudioAu {
                data: &audio_aus[ai].1,
                pts: Pts90k(audio_aus[ai].0),
            };
            m.push_audio(&a, &mut out).unwrap();
            ai += 1;
        }
        let key = i % s.gop == 0;
        if f.empty {
            let au = VideoAu {
                data: &[],
                pts: Pts90k(dts),
                dts: Pts90k(dts),
                key,
            };
            let before = out.len();
            assert_eq!(m.push_video(&au, &mut out), Err(MuxError::EmptyAccessUnit));
            assert_eq!(out.len(), before);
            continue;
        }
        let sps = vec![0x67, 0x42, 0xC0, 0x1E, sps_version | 1];
        let pps = vec![0x68, 0xCE, sps_version | 1];
        let mut au = vec![];
        if f.aud {
            au.extend_from_slice(&AUD);
        }
        let with_ps = key && (f.param_sets || last_sps.is_none());
        if with_ps {
            sps_version = sps_version.wrapping_add(2);
            au.extend_from_slice(&[0, 0, 0, 1]);
            au.extend_from_slice(&sps);
            au.extend_from_slice(&[0, 0, 1]);
            au.extend_from_slice(&pps);
            last_sps = Some([&[0, 0, 0, 1][..], &sps, &[0, 0, 0, 1], &pps].concat());
        }
        au.extend_from_slice(&[0, 0, 1, if key { 0x65 } else { 0x41 }]);
        au.extend((0..f.size).map(|k| (k as u8 ^ s.fill).max(1)));
        // Expected PES payload: AUD first, remembered parameter sets after it on IDRs.
        let (head, rest) = if f.aud {
            (&au[..6], &au[6..])
        } else {
            (&AUD[..], &au[..])
        };
        let mut want = head.to_vec();
        if key && !with_ps {
            want.extend_from_slice(last_sps.as_ref().unwrap());
        }
        want.extend_from_slice(rest);
        // B-frame-free stream with a constant composition offset.
        let pts = dts + 3000;
        if key {
            // Segment cut.
            m.flush_audio(&mut out);
            ex.psi_at.push(out.len());
            m.write_psi(&mut out);
        }
        let v = VideoAu {
            data: &au,
            pts: Pts90k(pts),
            dts: Pts90k(dts),
            key,
        };
        m.push_video(&v, &mut out).unwrap();
        ex.video.push((dts, pts, key, want));
    }
    while ai < audio_aus.len() {
        let a = AudioAu {
            data: &audio_aus[ai].1,
            pts: Pts90k(audio_aus[ai].0),
        };
        m.push_audio(&a, &mut out).unwrap();
        ai += 1;
    }
    m.flush_audio(&mut out);
    assert_eq!(m.packets_written() as usize * PACKET_LEN, out.len());
    (out, ex)
}

/// The unwrapped value of a 33-bit `w` nearest to `reference`.
fn unwrap33(w: u64, reference: u64) -> u64 {
    let base = reference - reference % WRAP;
    [base.wrapping_sub(WRAP), base, base + WRAP]
        .into_iter()
        .map(|b| b.wrapping_add(w))
        .min_by_key(|&u| u.abs_diff(reference))
        .unwrap()
}

struct Pes {
    pid: u16,
    pts: u64,
    dts: u64,
    rai: bool,
    pcr_in_first: bool,
    len_field: u16,
    data: Vec<u8>,
}

fn check(s: &Scenario, ts: &[u8], ex: &Expect) -> Result<(), TestCaseError> {
    let start = WRAP - s.before_wrap;
    prop_assert_eq!(ts.len() % PACKET_LEN, 0);
    let mut r = TsPacketReader::new(ts);
    let mut cc: HashMap<u16, u8> = HashMap::new();
    let mut pcrs: Vec<(usize, u64)> = vec![]; // (packet index, 27 MHz unwrapped)
    let mut pes: Vec<Pes> = vec![];
    let mut open: HashMap<u16, usize> = HashMap::new();
    let mut pat_at: Vec<usize> = vec![];
    let mut pes_index_at_pat: Vec<usize> = vec![];
    let mut idx = 0usize;
    while let Some(p) = r
        .read_ts_packet()
        .map_err(|e| TestCaseError::fail(format!("parse: {e}")))?
    {
        let pid = p.header.pid.as_u16();
        let c = p.header.continuity_counter.as_u8();
        let has_payload = p.payload.is_some();
        if let Some(&prev) = cc.get(&pid) {
            let want = if has_payload { (prev + 1) & 15 } else { prev };
            prop_assert_eq!(c, want, "CC on PID {:#x} at packet {}", pid, idx);
        }
        cc.insert(pid, c);
        let af = p.adaptation_field.as_ref();
        if let Some(pcr) = af.and_then(|a| a.pcr) {
            prop_assert_eq!(pid, VIDEO, "PCR only on the video PID");
            let v = pcr.as_u64();
            let u = unwrap33(v / 300, start) * 300 + v % 300;
            pcrs.push((idx, u));
        }
        if let Some(a) = af {
            if a.random_access_indicator {
                prop_assert!(a.pcr.is_some(), "RAI on the PCR PID without PCR");
            }
        }
        match p.payload {
            Some(TsPayload::Pat(pat)) => {
                prop_assert_eq!(pat.table.len(), 1);
                prop_assert_eq!(pat.table[0].program_map_pid.as_u16(), 0x1000);
                pat_at.push(idx);
                pes_index_at_pat.push(pes.len());
            }
            Some(TsPayload::Pmt(pmt)) => {
                prop_assert_eq!(pat_at.last().copied(), Some(idx - 1), "PMT right after PAT");
                prop_assert_eq!(pmt.pcr_pid.map(|p| p.as_u16()), Some(VIDEO));
                let st: Vec<(u8, u16)> = pmt
                    .es_info
                    .iter()
                    .map(|e| (e.stream_type as u8, e.elementary_pid.as_u16()))
                    .collect();
                prop_assert_eq!(st, vec![(0x1B, VIDEO), (0x0F, AUDIO)]);
            }
            Some(TsPayload::PesStart(x)) => {
                let pts = x.header.pts.expect("PTS").as_u64();
                let dts = x.header.dts.map_or(pts, |d| d.as_u64());
                let want_sid = if pid == VIDEO { 0xE0 } else { 0xC0 };
                prop_assert_eq!(x.header.stream_id.as_u8(), want_sid);
                open.insert(pid, pes.len());
                pes.push(Pes {
                    pid,
                    pts: unwrap33(pts, start),
                    dts: unwrap33(dts, start),
                    rai: af.is_some_and(|a| a.random_access_indicator),
                    pcr_in_first: af.is_some_and(|a| a.pcr.is_some()),
                    len_field: x.pes_packet_len,
                    data: x.data.to_vec(),
                });
            }
            Some(TsPayload::PesContinuation(b)) => {
                let i = *open.get(&pid).expect("continuation without start");
                pes[i].data.extend_from_slice(&b);
            }
            None => prop_assert_eq!(pid, VIDEO, "adaptation-only packets carry PCRs"),
            Some(other) => prop_assert!(false, "unexpected payload {:?}", other),
        }
        idx += 1;
    }
    // PAT then PMT are the first two packets after every write_psi.
    for &off in &ex.psi_at {
        prop_assert!(
            pat_at.contains(&(off / PACKET_LEN)),
            "no PAT at write_psi offset {}",
            off
        );
    }
    prop_assert_eq!(pat_at.first().copied(), Some(0));
    // PSI repeat: every PES is less than 0.5 s after the first PES that followed the last PAT.
    for (k, &first) in pes_index_at_pat.iter().enumerate() {
        let end = pes_index_at_pat.get(k + 1).copied().unwrap_or(pes.len());
        if first >= end {
            continue;
        }
        let stamp = pes[first].dts;
        for p in &pes[first..end] {
            prop_assert!(
                p.dts < stamp + 45_000,
                "PSI gap: PES at {} after PSI stamp {}",
                p.dts,
                stamp
            );
        }
    }
    // PCR spacing and PCR ≤ every PTS/DTS that follows it.
    prop_assert!(!pcrs.is_empty());
    for w in pcrs.windows(2) {
        prop_assert!(
            w[1].1 >= w[0].1 && w[1].1 - w[0].1 <= 40 * 27_000,
            "PCR gap {:?}",
            w
        );
    }
    let video: Vec<&Pes> = pes.iter().filter(|p| p.pid == VIDEO).collect();
    let audio: Vec<&Pes> = pes.iter().filter(|p| p.pid == AUDIO).collect();
    // Map each PES to the last PCR written before (or in) its first packet.
    let mut pi = 0;
    let mut last_pcr = None;
    let mut pes_first_packet: Vec<usize> = vec![];
    {
        // Recompute PES first-packet indices by walking packets once more with our own view.
        for (i, c) in ts.chunks(PACKET_LEN).enumerate() {
            let pk = hlscam::ts::packet::Packet::new_checked(c).unwrap();
            if pk.pusi() && (pk.pid() == VIDEO || pk.pid() == AUDIO) {
                pes_first_packet.push(i);
            }
        }
    }
    prop_assert_eq!(pes_first_packet.len(), pes.len());
    for (p, &at) in pes.iter().zip(&pes_first_packet) {
        while pi < pcrs.len() && pcrs[pi].0 <= at {
            last_pcr = Some(pcrs[pi].1);
            pi += 1;
        }
        if let Some(pcr) = last_pcr {
            prop_assert!(
                pcr <= p.dts * 300,
                "PCR {} after DTS {} (pid {:#x})",
                pcr / 300,
                p.dts,
                p.pid
            );
        }
    }
    // Video: payloads, timestamps, RAI + PCR on IDRs.
    prop_assert_eq!(video.len(), ex.video.len());
    for (got, (dts, pts, key, want)) in video.iter().zip(&ex.video) {
        prop_assert_eq!((got.dts, got.pts), (*dts, *pts));
        prop_assert_eq!(got.rai, *key);
        prop_assert!(got.pcr_in_first);
        prop_assert!(&got.data == want, "video payload differs at DTS {}", dts);
        prop_assert!(got.len_field == 0 || got.len_field as usize == got.data.len() + 13);
    }
    // Audio: exact lengths, frames concatenated in order, PES PTS = first frame's PTS, ≤ 100 ms.
    let mut fi = 0;
    let mut prev_pts = None;
    for a in &audio {
        prop_assert_eq!(
            a.len_field as usize,
            a.data.len() + 8,
            "audio PES length exact"
        );
        prop_assert!(prev_pts.map_or(true, |p| a.pts > p));
        prev_pts = Some(a.pts);
        prop_assert_eq!(a.pts, ex.audio[fi].0);
        let mut off = 0;
        let first = fi;
        while off < a.data.len() {
            let f = &ex.audio[fi].2;
            prop_assert!(a.data[off..].starts_with(f), "audio frame {} differs", fi);
            off += f.len();
            fi += 1;
        }
        if fi - first > 1 {
            prop_assert!(ex.audio[fi - 1].1 - a.pts <= 9_000, "audio PES over 100 ms");
        }
    }
    prop_assert_eq!(fi, ex.audio.len(), "every audio frame muxed");
    // The reassembled ADTS bytes are exactly the input.
    let got: Vec<u8> = audio.iter().flat_map(|a| a.data.iter().copied()).collect();
    let want: Vec<u8> = ex.audio.iter().flat_map(|f| f.2.iter().copied()).collect();
    prop_assert!(got == want, "audio bytes differ from the input");
    // Every multi-frame AU that fits one PES is one PES of its own.
    for (pts, data) in &ex.whole_aus {
        prop_assert!(
            audio.iter().any(|a| a.pts == *pts && &a.data == data),
            "AU at {} not written as one PES",
            pts
        );
    }
    for w in video.windows(2) {
        prop_assert!(w[1].pts > w[0].pts && w[1].dts > w[0].dts);
    }
    Ok(())
}

#[test]
fn muxer_output_parses_and_keeps_the_rules() {
    let cfg = Config {
        cases: 96,
        rng_algorithm: RngAlgorithm::ChaCha,
        failure_persistence: None,
        ..Config::default()
    };
    let seed: [u8; 32] = *b"hlscam ts muxer property seed 01";
    let mut runner = TestRunner::new_with_rng(cfg, TestRng::from_seed(RngAlgorithm::ChaCha, &seed));
    let wrapped = std::cell::Cell::new(0);
    let whole_aus = std::cell::Cell::new(0);
    runner
        .run(&scenario(), |s| {
            let (ts, ex) = run_mux(&s);
            whole_aus.set(whole_aus.get() + ex.whole_aus.len());
            if let (Some(f), Some(l)) = (ex.video.first(), ex.video.last()) {
                if f.0 < WRAP && l.0 >= WRAP {
                    wrapped.set(wrapped.get() + 1);
                }
            }
            check(&s, &ts, &ex)
        })
        .unwrap();
    let wrapped = wrapped.get();
    assert!(wrapped > 10, "only {wrapped} runs crossed the 33-bit wrap");
    let whole_aus = whole_aus.get();
    assert!(
        whole_aus > 200,
        "only {whole_aus} multi-frame AUs fit one PES"
    );
}

/// Real H.264 (libx264, AUD on, no B-frames) and AAC from ffmpeg (in AUs of 1 to 5 frames),
/// muxed across the 33-bit wrap with a segment cut at every IDR, then decoded by
/// ffprobe/ffmpeg: no error output, both streams present, every video and audio frame decoded.
#[test]
fn ffmpeg_decodes_muxed_real_streams() {
    use hlscam::codec::adts::AdtsFrames;
    use hlscam::codec::h264::{find_start_code, is_idr, NAL_AUD};
    use std::process::Command;

    let dir = std::env::temp_dir().join(format!("hlscam-ts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ff = |args: &[&str]| {
        let o = Command::new("ffmpeg")
            .args(args)
            .current_dir(&dir)
            .output()
            .expect("ffmpeg must be installed (/usr/bin/ffmpeg) for this test");
        assert!(
            o.status.success(),
            "ffmpeg {:?}: {}",
            args,
            String::from_utf8_lossy(&o.stderr)
        );
    };
    ff(&[
        "-v",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        "testsrc=size=320x240:rate=30",
        "-t",
        "2",
        "-c:v",
        "libx264",
        "-g",
        "30",
        "-x264-params",
        "aud=1:bframes=0",
        "-bsf:v",
        "h264_mp4toannexb",
        "-f",
        "h264",
        "in.h264",
    ]);
    ff(&[
        "-v",
        "error",
        "-y",
        "-f",
        "lavfi",
        "-i",
        "sine=frequency=440:sample_rate=48000",
        "-t",
        "2",
        "-ac",
        "1",
        "-c:a",
        "aac",
        "-b:a",
        "96k",
        "-f",
        "adts",
        "in.aac",
    ]);
    let h264 = std::fs::read(dir.join("in.h264")).unwrap();
    let aac = std::fs::read(dir.join("in.aac")).unwrap();

    // Split the byte stream into access units at each AUD.
    let mut cuts = vec![];
    let mut from = 0;
    while let Some((p, l)) = find_start_code(&h264, from) {
        if h264.get(p + l).is_some_and(|b| b & 0x1F == NAL_AUD) {
            cuts.push(p);
        }
        from = p + l;
    }
    cuts.push(h264.len());
    let aus: Vec<&[u8]> = cuts.windows(2).map(|w| &h264[w[0]..w[1]]).collect();
    assert_eq!(aus.len(), 60);
    let frames: Vec<&[u8]> = AdtsFrames::new(&aac).map(|r| r.unwrap().1).collect();
    assert!(frames.len() > 80);

    let start = WRAP - 90_000;
    let mut m = TsMuxer::new(MuxConfig::default());
    let mut out = Vec::new();
    // Byte offset of each ADTS frame in `aac`: audio goes in as AUs of 1 to 5 frames in turn.
    let offsets: Vec<usize> = std::iter::once(0)
        .chain(frames.iter().scan(0, |o, f| {
            *o += f.len();
            Some(*o)
        }))
        .collect();
    let mut ai = 0;
    let mut calls = 0;
    for (i, au) in aus.iter().enumerate() {
        let dts = start + i as u64 * 3000;
        while ai < frames.len() && start + ai as u64 * 1920 < dts {
            let n = (calls % 5 + 1).min(frames.len() - ai);
            calls += 1;
            let a = AudioAu {
                data: &aac[offsets[ai]..offsets[ai + n]],
                pts: Pts90k(start + ai as u64 * 1920),
            };
            m.push_audio(&a, &mut out).unwrap();
            ai += n;
        }
        let key = is_idr(au);
        if key {
            m.flush_audio(&mut out);
            m.write_psi(&mut out);
        }
        let v = VideoAu {
            data: au,
            pts: Pts90k(dts),
            dts: Pts90k(dts),
            key,
        };
        m.push_video(&v, &mut out).unwrap();
    }
    m.flush_audio(&mut out);
    std::fs::write(dir.join("out.ts"), &out).unwrap();

    let o = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-count_frames",
            "-show_entries",
            "stream=codec_name,codec_type,nb_read_frames",
            "-of",
            "csv=p=0",
            "out.ts",
        ])
        .current_dir(&dir)
        .output()
        .expect("ffprobe must be installed");
    let stdout = String::from_utf8_lossy(&o.stdout).to_string();
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(
        o.status.success() && stderr.is_empty(),
        "ffprobe errors: {stderr}"
    );
    assert!(stdout.contains("h264,video,60"), "{stdout}");
    assert!(
        stdout.contains(&format!("aac,audio,{ai}")),
        "{ai} AAC frames: {stdout}"
    );
    let o = Command::new("ffmpeg")
        .args(["-v", "error", "-i", "out.ts", "-f", "null", "-"])
        .current_dir(&dir)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(
        o.status.success() && stderr.is_empty(),
        "ffmpeg decode errors: {stderr}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
