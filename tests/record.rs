//! Recording with the real binary (`[record] mode = "continuous"`, test pattern + tone, paced):
//! the chunk decodes cleanly, its index names whole segments (PAT first, then an IDR),
//! contiguous, whose durations add up to the chunk's, byte-identical to the live ring's
//! `seg<N>.ts`; `/api/status` reports the recorder. And a crash test: 20 `kill -9` at seeded
//! random moments into the same directory, after which every chunk the restarts' repair left
//! decodes cleanly and matches its index, with at most the fsync interval lost per crash.

#[path = "support/hlscam_proc.rs"]
mod hlscam_proc;
#[path = "support/recording.rs"]
mod recording;
#[path = "support/tools.rs"]
mod tools;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use recording::{check_chunk, chunks, config, dirs_and_config};
use std::time::{Duration, Instant};

use hlscam::record::index::{self, IndexRecord};

const BIN: &str = env!("CARGO_BIN_EXE_hlscam");

/// The body of `GET path`, or "" when the server no longer listens (the run is ending: it
/// stops serving a moment before the process exits).
fn get(port: u16, path: &str) -> String {
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default()
}

#[test]
fn continuous_recording_matches_the_live_segments() {
    let work = tools::fresh_dir("record-e2e");
    let (live, rec, cfg) = dirs_and_config(&work, 2);
    let started = Instant::now();
    let (mut p, port) = hlscam_proc::start(BIN, &cfg, &["--duration", "12", "--linger", "2"], &[]);
    let mut status = String::new();
    let mut live_copies: Vec<(u64, Vec<u8>)> = Vec::new();
    while p.0.try_wait().unwrap().is_none() {
        assert!(started.elapsed() < Duration::from_secs(60), "run ended");
        let s = get(port, "/api/status");
        if s.contains("\"record\"") {
            status = s;
        }
        // Copy the live segments while they are in the ring.
        for e in std::fs::read_dir(&live).into_iter().flatten().flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if let Some(seq) = n.strip_prefix("seg").and_then(|r| r.strip_suffix(".ts")) {
                let Ok(seq) = seq.parse::<u64>() else {
                    continue;
                };
                if !live_copies.iter().any(|(s, _)| *s == seq) {
                    if let Ok(b) = std::fs::read(e.path()) {
                        live_copies.push((seq, b));
                    }
                }
            }
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(p.0.wait().unwrap().success());
    let v: serde_json::Value = serde_json::from_str(&status).expect(&status);
    let r = &v["record"];
    assert_eq!(r["dir"], rec.display().to_string());
    assert!(r["segments"].as_u64().unwrap() >= 4, "{r}");
    assert!(r["bytes_written"].as_u64().unwrap() > 100_000, "{r}");
    assert_eq!(r["chunks"], 1, "{r}");
    assert_eq!(r["errors"], 0, "{r}");
    assert!(rec.join(".hlscam-rec").exists(), "marker written");

    let cs = chunks(&rec);
    assert_eq!(cs.len(), 1, "{cs:?}");
    let name = cs[0].file_name().unwrap().to_str().unwrap().to_owned();
    assert!(hlscam::record::chunk::is_chunk_name(&name), "{name}");
    let recs = check_chunk(&cs[0]);
    assert_eq!(recs.len(), 6, "12 s of 2 s segments");
    // Durations add up to the recorded time (ffprobe's), within one frame.
    let sum: u64 = recs.iter().map(|r| r.duration.0).sum();
    let probed: f64 = tools::ffprobe(&[
        "-show_entries",
        "format=duration",
        "-of",
        "csv=p=0",
        cs[0].to_str().unwrap(),
    ])
    .trim()
    .parse()
    .unwrap();
    let diff = (sum as f64 / 90_000.0 - probed).abs();
    assert!(
        diff <= 1.0 / 30.0 + 1e-6,
        "index {sum} vs ffprobe {probed} s"
    );
    assert!((sum as i64 - 12 * 90_000).abs() <= 3000, "{sum}");
    // Byte for byte the live segments.
    let bytes = std::fs::read(&cs[0]).unwrap();
    let mut compared = 0;
    for (seq, live_seg) in &live_copies {
        if let Some(r) = recs.iter().find(|r| r.seq == *seq) {
            assert!(
                bytes[r.offset as usize..r.end() as usize] == live_seg[..],
                "seg{seq} differs from the live one"
            );
            compared += 1;
        }
    }
    assert!(
        compared >= 4,
        "compared {compared} of {}",
        live_copies.len()
    );
    std::fs::remove_dir_all(&work).unwrap();
}

/// The highest `seg<N>.ts` the live playlist names.
fn last_live_seq(live: &Path) -> Option<u64> {
    let pl = std::fs::read_to_string(live.join("live.m3u8")).ok()?;
    pl.lines()
        .filter_map(|l| l.strip_prefix("seg")?.strip_suffix(".ts")?.parse().ok())
        .max()
}

#[test]
fn kill_9_at_random_moments_leaves_everything_playable() {
    let work = tools::fresh_dir("record-crash");
    let (live, rec, cfg) = dirs_and_config(&work, 1);
    let mut seed: u64 = 0x5eed_1234;
    let mut rand = move || {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
        (seed >> 33) as f64 / (1u64 << 31) as f64
    };
    let mut recorded_max = 0u64;
    let mut live_before = last_live_seq(&live);
    let mut checked_losses = 0;
    let mut needed_repair = 0;
    for run in 0..20 {
        let (mut p, _) = hlscam_proc::start(BIN, &cfg, &[], &[]);
        std::thread::sleep(Duration::from_secs_f64(1.5 + 1.5 * rand()));
        p.0.kill().unwrap(); // SIGKILL, by the PID this test started
        p.0.wait().unwrap();
        drop(p);
        // Whether this crash left something for the next start's repair to cut.
        for c in chunks(&rec) {
            let len = std::fs::metadata(&c).unwrap().len();
            let end = std::fs::read(format!("{}.idx", c.display()))
                .map(|b| index::parse(&b).0.last().map_or(0, IndexRecord::end))
                .unwrap_or(0);
            if len > end {
                needed_repair += 1;
            }
        }
        // Loss bound: what the live playlist had published vs what the index holds (after the
        // next start's repair, checked below through the final state).
        let live_now = last_live_seq(&live);
        if live_now > live_before {
            let newest = std::fs::read_dir(&rec)
                .unwrap()
                .filter_map(|e| {
                    let p = e.unwrap().path();
                    (p.extension()? == "idx").then_some(p)
                })
                .flat_map(|p| index::parse(&std::fs::read(p).unwrap()).0)
                .map(|r| r.seq)
                .max()
                .unwrap_or(0);
            // fsync_seconds = 1 and 1 s segments: at most the segment after the last fsync
            // and the one in the queue are missing.
            if let Some(n) = live_now {
                assert!(
                    newest + 2 >= n,
                    "run {run}: live reached seg{n}, index only seg{newest} (before: {live_before:?})"
                );
                checked_losses += 1;
            }
            recorded_max = recorded_max.max(newest);
        }
        live_before = live_now;
    }
    assert!(
        checked_losses >= 10,
        "runs that published: {checked_losses}"
    );
    // With fsync_seconds = segment length every segment is synced as it is written, so a
    // kill rarely lands between a write and its index record; a power cut can leave a torn
    // tail anyway: make one (as the unit tests' fixtures do) for the next start to repair.
    eprintln!("crashes that left a chunk longer than its index: {needed_repair}");
    let last_chunk = chunks(&rec).pop().expect("a chunk");
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&last_chunk)
        .unwrap();
    f.write_all(&[0xA5; 5000]).unwrap();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(format!("{}.idx", last_chunk.display()))
        .unwrap();
    f.write_all(&[0xA5; 20]).unwrap();
    // One clean run: its start repairs the last crash; then everything must be playable.
    let (mut p, _) = hlscam_proc::start(BIN, &cfg, &["--duration", "3"], &[]);
    assert!(p.0.wait().unwrap().success());
    drop(p);
    let cs = chunks(&rec);
    assert!(cs.len() >= 10, "{} chunks", cs.len());
    let mut last = 0;
    for c in &cs {
        for r in check_chunk(c) {
            assert!(r.seq > last || last == 0, "sequence grows across chunks");
            last = r.seq;
        }
    }
    assert!(last > recorded_max);
    let leftovers: Vec<_> = std::fs::read_dir(&rec)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !(n.ends_with(".ts") || n.ends_with(".ts.idx") || n == ".hlscam-rec"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    std::fs::remove_dir_all(&work).unwrap();
}

/// Unmounts the test's tmpfs when dropped.
struct Mount(PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_deletes_the_oldest_chunks_and_recording_goes_on() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: mounting a small tmpfs needs root");
        return;
    }
    let work = tools::fresh_dir("record-full");
    let live = work.join("live");
    let rec = work.join("rec");
    std::fs::create_dir_all(&rec).unwrap();
    let ok = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(&rec)
        .status()
        .unwrap();
    assert!(ok.success(), "mount a 1 MiB tmpfs");
    let _mount = Mount(rec.clone());
    // Three old recordings of 280 KB each (valid index records over them) fill most of it.
    std::fs::write(rec.join(".hlscam-rec"), b"hlscam recordings\n").unwrap();
    let old = [
        "20200101T000000Z.ts",
        "20200101T000500Z.ts",
        "20200101T001000Z.ts",
    ];
    for name in old {
        let mut bytes = vec![0xFFu8; 280_000];
        bytes[0] = 0x47;
        std::fs::write(rec.join(name), &bytes).unwrap();
        let r = IndexRecord {
            offset: 0,
            len: bytes.len() as u32,
            duration: hlscam::time::Pts90k(5 * 60 * 90_000),
            pts: hlscam::time::Pts90k(0),
            wall_ns: 0,
            seq: 0,
            flags: 0,
        };
        std::fs::write(rec.join(format!("{name}.idx")), r.encode()).unwrap();
    }
    let cfg = config(&work, &live, &rec, 1);
    let (mut p, port) = hlscam_proc::start(BIN, &cfg, &["--duration", "12", "--linger", "1"], &[]);
    let mut status = String::new();
    while p.0.try_wait().unwrap().is_none() {
        let s = get(port, "/api/status");
        if s.contains("\"record\"") {
            status = s;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    let v: serde_json::Value = serde_json::from_str(&status).expect(&status);
    let r = &v["record"];
    // ~12 s at ~450 kb/s does not fit beside the old recordings: the oldest went first.
    assert!(!rec.join(old[0]).exists(), "oldest deleted: {r}");
    assert!(!rec.join(format!("{}.idx", old[0])).exists());
    assert!(r["deleted"].as_u64().unwrap() >= 1, "{r}");
    assert!(
        r["segments"].as_u64().unwrap() >= 10,
        "recording went on: {r}"
    );
    let new: Vec<PathBuf> = chunks(&rec)
        .into_iter()
        .filter(|c| !old.iter().any(|o| c.ends_with(o)))
        .collect();
    assert_eq!(new.len(), 1);
    check_chunk(&new[0]);
    drop(_mount);
    std::fs::remove_dir_all(&work).unwrap();
}

#[test]
fn a_missing_disk_stops_recording_until_it_is_back() {
    let work = tools::fresh_dir("record-guard");
    let live = work.join("live");
    let rec = work.join("rec"); // does not exist yet: the disk is "not mounted"
    let cfg = config(&work, &live, &rec, 1);
    let (mut p, port) = hlscam_proc::start(BIN, &cfg, &["--duration", "9", "--linger", "1"], &[]);
    let state = |port| -> Option<String> {
        let v: serde_json::Value = serde_json::from_str(&get(port, "/api/status")).ok()?;
        v["record"]["state"].as_str().map(str::to_owned)
    };
    let until = Instant::now() + Duration::from_secs(5);
    while state(port).as_deref() != Some("disk missing") {
        assert!(Instant::now() < until, "state {:?}", state(port));
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!rec.exists(), "dir never created");
    // Another disk with recordings but no marker is not ours either.
    std::fs::create_dir(&rec).unwrap();
    std::fs::write(rec.join("20200101T000000Z.ts"), b"not ours").unwrap();
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(state(port).as_deref(), Some("disk missing"));
    assert!(!rec.join(".hlscam-rec").exists());
    // Ours again: recording resumes within the guard's period.
    std::fs::write(rec.join(".hlscam-rec"), b"hlscam recordings\n").unwrap();
    let until = Instant::now() + Duration::from_secs(5);
    while state(port).as_deref() != Some("recording") {
        assert!(Instant::now() < until, "state {:?}", state(port));
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(p.0.wait().unwrap().success());
    let new: Vec<PathBuf> = chunks(&rec)
        .into_iter()
        .filter(|c| !c.ends_with("20200101T000000Z.ts"))
        .collect();
    assert_eq!(new.len(), 1, "{new:?}");
    check_chunk(&new[0]);
    std::fs::remove_dir_all(&work).unwrap();
}
