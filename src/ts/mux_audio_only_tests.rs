//! Tests of audio-only programs (`video_pid: None`): the PCR on the audio PID (ISO/IEC
//! 13818-1 §2.4.4.9, `PCR_PID`), carried in the audio packets' adaptation fields.

use super::*;
use crate::codec::adts::write_adts_header;
use crate::ts::packet::Packet;
use crate::ts::pes::PesPacket;
use crate::ts::psi::Section;
use std::process::Command;

const AUDIO: u16 = 0x101;

fn audio_only() -> MuxConfig {
    MuxConfig {
        video_pid: None,
        ..MuxConfig::default()
    }
}

/// `n` ADTS frames at 48 kHz (1920 ticks each), frame `k` `150 + 37·k mod 300` bytes long.
fn frames(n: usize) -> Vec<Vec<u8>> {
    (0..n)
        .map(|k| {
            let len = 150 + (37 * k) % 300;
            let mut f = vec![k as u8; len];
            let mut h = [0; 7];
            write_adts_header(&mut h, 1, 3, 1, len);
            f[..7].copy_from_slice(&h);
            f
        })
        .collect()
}

/// Muxes `frames` from `t0` in AUs of 1 to 5 frames in turn, with a segment cut (flush, PAT/PMT)
/// every 2 s.
fn mux(frames: &[Vec<u8>], t0: u64) -> Vec<u8> {
    let mut m = TsMuxer::new(audio_only());
    let mut out = Vec::new();
    let mut i = 0;
    let mut call = 0;
    let mut next_cut = t0;
    while i < frames.len() {
        let n = (call % 5 + 1).min(frames.len() - i);
        call += 1;
        let pts = t0 + i as u64 * 1920;
        if pts >= next_cut {
            m.flush_audio(&mut out);
            m.write_psi(&mut out);
            next_cut += 180_000;
        }
        let data = frames[i..i + n].concat();
        m.push_audio(
            &AudioAu {
                data: &data,
                pts: Pts90k(pts),
            },
            &mut out,
        )
        .unwrap();
        i += n;
    }
    m.flush_audio(&mut out);
    assert_eq!(m.packets_written() as usize * PACKET_LEN, out.len());
    out
}

#[test]
fn audio_only_program_keeps_the_rules() {
    let f = frames(400);
    for t0 in [900_000, (1 << 33) - 90_000] {
        let ts = mux(&f, t0);
        let mut pmt = None;
        let mut cc: Option<u8> = None;
        let mut last_pcr: Option<u64> = None;
        let mut pcrs = vec![];
        let mut payload: Vec<Vec<u8>> = vec![];
        let mut ptss = vec![];
        for c in ts.chunks(PACKET_LEN) {
            let p = Packet::new_checked(c).unwrap();
            if p.pid() == 0x1000 {
                pmt = Some(p.payload()[1..].to_vec());
            }
            if let Some(pcr) = p.pcr() {
                assert_eq!(p.pid(), AUDIO, "PCR only on the audio PID");
                assert_eq!(pcr.0 % 300, 0);
                let v = pcr.0 / 300;
                // Unwrap the 33-bit base against the previous PCR.
                let v = match last_pcr {
                    Some(l) => l + ((v.wrapping_sub(l)) & ((1 << 33) - 1)),
                    None => v + (t0 & !((1 << 33) - 1)),
                };
                if let Some(l) = last_pcr {
                    assert!(v >= l && v - l <= 3600, "PCR {l} -> {v}: more than 40 ms");
                }
                last_pcr = Some(v);
                pcrs.push(v);
            }
            assert!(matches!(p.pid(), 0 | 0x1000 | AUDIO), "pid {:#x}", p.pid());
            if p.pid() != AUDIO {
                continue;
            }
            // Counter: +1 on packets with payload, repeated on adaptation-only packets.
            if let Some(prev) = cc {
                let want = if p.has_payload() {
                    (prev + 1) & 15
                } else {
                    prev
                };
                assert_eq!(p.cc(), want);
            }
            cc = Some(p.cc());
            if p.pusi() {
                let pes = PesPacket::new_checked(p.payload()).unwrap();
                let pts = pes.pts().unwrap();
                let pts = t0 + ((pts.wrapping_sub(t0)) & ((1 << 33) - 1));
                // The PES reaches the decoder before its PTS: PCR ≤ PTS, by at most the lead.
                let pcr = last_pcr.expect("a PCR before the first PES");
                assert!(pcr <= pts && pts - pcr <= 9000, "PCR {pcr}, PTS {pts}");
                ptss.push((pts, pcr));
                payload.push(p.payload().to_vec());
            } else if p.has_payload() {
                payload.last_mut().unwrap().extend_from_slice(p.payload());
            }
        }
        // PMT: only the audio stream, PCR_PID = the audio PID.
        let pmt = pmt.unwrap();
        let s = Section::new_checked(&pmt[..]).unwrap();
        assert_eq!(s.table_id(), 2);
        assert_eq!(
            s.data(),
            [0xE1, 0x01, 0xF0, 0x00, 0x0F, 0xE1, 0x01, 0xF0, 0x00]
        );
        // Every PCR inside a PES is at or before that PES's PTS.
        let mut all = vec![];
        for (k, b) in payload.iter().enumerate() {
            let pes = PesPacket::new_checked(&b[..]).unwrap();
            assert_eq!(pes.packet_length() as usize, b.len() - 6, "exact length");
            all.extend_from_slice(pes.payload());
            let (pts, _) = ptss[k];
            assert!(pts - t0 <= 400 * 1920);
        }
        assert_eq!(all, f.concat(), "every frame once, in order");
        assert!(pcrs.len() >= 400 * 1920 / 3600, "{} PCRs", pcrs.len());
    }
}

#[test]
fn audio_only_refuses_video() {
    let mut m = TsMuxer::new(audio_only());
    let mut out = Vec::new();
    let v = VideoAu {
        data: &[0, 0, 0, 1, 0x09, 0xF0],
        pts: Pts90k(0),
        dts: Pts90k(0),
        key: false,
    };
    assert_eq!(
        m.push_video(&v, &mut out),
        Err(MuxError::VideoPidNotConfigured)
    );
    assert!(out.is_empty());
}

fn run(dir: &std::path::Path, cmd: &str, args: &[&str]) -> (String, String) {
    let o = Command::new(cmd)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{cmd} must be installed (/usr/bin/{cmd}): {e}"));
    let (out, err) = (
        String::from_utf8_lossy(&o.stdout).to_string(),
        String::from_utf8_lossy(&o.stderr).to_string(),
    );
    assert!(o.status.success(), "{cmd} {args:?}: {err}");
    (out, err)
}

/// Real AAC from ffmpeg, muxed as an audio-only program: ffprobe/ffmpeg decode every frame
/// without an error, and our PMT is byte for byte the one ffmpeg writes for the same
/// audio-only program (PCR_PID = the audio PID).
#[test]
fn ffmpeg_decodes_audio_only_output_and_writes_the_same_pmt() {
    let dir = std::env::temp_dir().join(format!("hlscam-ts-audio-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sine = "sine=frequency=440:sample_rate=48000";
    let aac = ["-c:a", "aac", "-ac", "1", "-b:a", "96k", "-t", "3"];
    let mut args = vec!["-v", "error", "-y", "-f", "lavfi", "-i", sine];
    args.extend(aac);
    run(
        &dir,
        "ffmpeg",
        &[&args[..], &["-f", "adts", "in.aac"]].concat(),
    );
    let mut ff_ts = args.clone();
    ff_ts.extend([
        "-mpegts_pmt_start_pid",
        "0x1000",
        "-mpegts_start_pid",
        "0x101",
        "-f",
        "mpegts",
        "ff.ts",
    ]);
    run(&dir, "ffmpeg", &ff_ts);

    let data = std::fs::read(dir.join("in.aac")).unwrap();
    let f: Vec<Vec<u8>> = AdtsFrames::new(&data)
        .map(|r| r.unwrap().1.to_vec())
        .collect();
    assert!(f.len() > 100);
    std::fs::write(dir.join("out.ts"), mux(&f, 90_000)).unwrap();

    let (out, err) = run(
        &dir,
        "ffprobe",
        &[
            "-v",
            "error",
            "-count_frames",
            "-show_entries",
            "stream=codec_name,codec_type,nb_read_frames",
            "-of",
            "csv=p=0",
            "out.ts",
        ],
    );
    assert!(err.is_empty(), "ffprobe errors: {err}");
    // One stream (ffprobe lists it under the program and on its own).
    let want = format!("aac,audio,{}", f.len());
    assert!(out.lines().any(|l| l == want), "{out}");
    assert!(out.lines().all(|l| l.is_empty() || l == want), "{out}");
    let (_, err) = run(
        &dir,
        "ffmpeg",
        &["-v", "error", "-i", "out.ts", "-f", "null", "-"],
    );
    assert!(err.is_empty(), "ffmpeg decode errors: {err}");

    // The PMT sections, from each file's first packet on PID 0x1000.
    let pmt = |ts: &[u8]| -> Vec<u8> {
        let p = ts
            .chunks(PACKET_LEN)
            .map(|c| Packet::new_checked(c).unwrap())
            .find(|p| p.pid() == 0x1000)
            .unwrap();
        let b = &p.payload()[1..];
        let s = Section::new_checked(b).unwrap();
        b[..3 + s.section_length()].to_vec()
    };
    let ours = pmt(&std::fs::read(dir.join("out.ts")).unwrap());
    let theirs = pmt(&std::fs::read(dir.join("ff.ts")).unwrap());
    assert_eq!(ours, theirs, "PMT of an audio-only program");
    std::fs::remove_dir_all(&dir).unwrap();
}
