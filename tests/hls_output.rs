//! HlsOutput over the in-memory store: event order, cut decisions, full disk and I/O errors,
//! discontinuities and restarts — all with a simulated clock (synthetic timestamps).

mod hls_support;

use std::collections::BTreeSet;

use hls_support::{playlist_segments, t0, Synth};
use hlscam::hls::ring::total_slots;
use hlscam::hls::{HlsConfig, HlsOutput, MemStore, StoreEvent, StoreOp};
use hlscam::time::Pts90k;

fn cfg() -> HlsConfig {
    HlsConfig::new("/nonexistent-unused", 2, 6)
}

fn open(store: MemStore) -> HlsOutput<MemStore> {
    HlsOutput::with_store(cfg(), store).expect("open")
}

/// Replays the store's events and checks the publication rules: a playlist names only
/// committed segments, a removed segment is no longer named, never more segment files than
/// slots. Returns the events as short strings.
fn check_events(events: &[StoreEvent], slots: usize) -> Vec<String> {
    check_events_from(&[], events, slots)
}

/// [`check_events`] starting with the segments `existing` already complete.
fn check_events_from(existing: &[u64], events: &[StoreEvent], slots: usize) -> Vec<String> {
    let mut committed: BTreeSet<u64> = existing.iter().copied().collect();
    let mut listed: Vec<u64> = Vec::new();
    let mut out = Vec::new();
    for ev in events {
        match ev {
            StoreEvent::Begin(n) => {
                assert!(!committed.contains(n), "seg{n} rewritten while published");
                out.push(format!("B{n}"));
            }
            StoreEvent::Commit(n, size) => {
                assert_eq!(size % 188, 0);
                committed.insert(*n);
                out.push(format!("C{n}"));
            }
            StoreEvent::Abort(n) => out.push(format!("A{n}")),
            StoreEvent::Playlist(text) => {
                listed = playlist_segments(text);
                for s in &listed {
                    assert!(
                        committed.contains(s),
                        "playlist names seg{s} before it is complete"
                    );
                }
                out.push("P".into());
            }
            StoreEvent::State(_) => out.push("S".into()),
            StoreEvent::Remove(n) => {
                assert!(committed.remove(n));
                assert!(!listed.contains(n), "seg{n} removed while listed");
                out.push(format!("R{n}"));
            }
            other => panic!("classic TS output wrote {other:?}"),
        }
        assert!(
            committed.len() <= slots,
            "{} segment files",
            committed.len()
        );
    }
    out
}

#[test]
fn event_order_and_final_playlist() {
    let mut out = open(MemStore::new());
    let mut s = Synth::new(3000, 60);
    let published = s.run(&mut out, 900);
    out.finish(true).unwrap();
    assert_eq!(published.len(), 14);
    assert!(published.iter().all(|p| p.duration == Pts90k(180_000)));
    assert_eq!(out.segments_published(), 15);
    assert_eq!(out.media_sequence(), 9);

    let got = check_events(&out.store().events, total_slots(6, 2));
    let mut want = vec!["S".to_owned()];
    for n in 0..15u64 {
        want.extend([format!("B{n}"), format!("C{n}"), "P".into(), "S".into()]);
        if n >= 13 {
            // seg(n-13) left the window at publish n-7 with 12 s listed: 2 + 12 s later.
            want.push(format!("R{}", n - 13));
        }
    }
    assert_eq!(got, want);

    let mut golden = String::from(
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:9\n\
         #EXT-X-DISCONTINUITY-SEQUENCE:0\n#EXT-X-INDEPENDENT-SEGMENTS\n",
    );
    for n in 9..15 {
        golden += &format!(
            "#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:{:02}.000Z\n#EXTINF:2.000,\nseg{n}.ts\n",
            2 * n
        );
    }
    golden += "#EXT-X-ENDLIST\n";
    assert_eq!(out.store().playlist().unwrap(), golden);
    assert_eq!(out.store().segments(), (2..15).collect::<Vec<_>>());
    let _ = t0();
}

#[test]
fn idr_after_target_and_forced_keyframes() {
    // IDR every 45 frames (1.5 s) and no forcing: cuts at 3 s (first IDR ≥ 2 s) — overlong.
    let mut out = open(MemStore::new());
    let mut s = Synth::new(3000, 45);
    s.honour_keyframe_requests = false;
    let p = s.run(&mut out, 300);
    assert!(p.iter().all(|p| p.duration == Pts90k(270_000)));
    assert_eq!(out.segments_overlong(), p.len() as u64);

    // Only forced IDRs: the request comes when the next frame is 2.4 s in, so every segment
    // lasts 2.4 s (72 frames), rounded 2 ≤ target.
    let mut out = open(MemStore::new());
    let mut s = Synth::new(3000, 0);
    let p = s.run(&mut out, 900);
    assert_eq!(p.len(), 12);
    assert!(p.iter().all(|p| p.duration == Pts90k(216_000)));
    assert_eq!(out.segments_overlong(), 0);

    // 25 fps with IDRs every 50 frames: exactly 2 s.
    let mut out = open(MemStore::new());
    let mut s = Synth::new(3600, 50);
    let p = s.run(&mut out, 500);
    assert!(p.iter().all(|p| p.duration == Pts90k(180_000)));
}

#[test]
fn final_segment_duration_adds_one_frame() {
    let mut out = open(MemStore::new());
    let mut s = Synth::new(3000, 60);
    s.run(&mut out, 60 + 17);
    out.finish(true).unwrap();
    let w: Vec<_> = out.window().copied().collect();
    assert_eq!(w.len(), 2);
    assert_eq!(w[1].duration, Pts90k(17 * 3000));
    let pl = out.store().playlist().unwrap();
    assert!(
        pl.contains("#EXTINF:0.567,\nseg1.ts\n#EXT-X-ENDLIST\n"),
        "{pl}"
    );
}

#[test]
fn full_disk_drops_the_segment_and_keeps_the_playlist() {
    let mut out = open(MemStore::new());
    let mut s = Synth::new(3000, 60);
    s.run(&mut out, 300); // seg0..seg3 published, seg4 open (frames 240..)
    let before = out.store().playlist().unwrap().to_owned();
    out.store_mut().fail_segment_io = Some(libc::ENOSPC);
    let mut errors = 0;
    for _ in 0..250 {
        match s.step(&mut out, false) {
            Ok(p) => assert!(p.is_none(), "published while the disk is full"),
            Err(e) => {
                assert!(e.is_disk_full(), "{e}");
                errors += 1;
            }
        }
        assert_eq!(out.store().playlist().unwrap(), before);
    }
    // seg4 fails mid-write (found when it is cut at frame 300); every later attempt fails at
    // creation (cuts at 300, 360, 420, 480, 540): one error per call, five dropped segments
    // (the attempt begun at 540 is still open).
    assert_eq!(errors, 5);
    assert_eq!(out.segments_dropped(), 5);
    assert!(!out.store().has_part());
    out.store_mut().fail_segment_io = None;
    let p = s.run(&mut out, 200);
    assert_eq!(p[0].seq, 4, "numbers of dropped segments are reused");
    let pl = out.store().playlist().unwrap();
    assert!(
        pl.contains("#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME"),
        "{pl}"
    );
    let got = check_events(&out.store().events, total_slots(6, 2));
    let tail = got.join(" ");
    assert!(tail.contains("C3 P S B4 A4 A4"), "{tail}");
    assert!(tail.contains("A4 B4 C4 P S B5"), "{tail}");
}

#[test]
fn failed_rename_and_failed_playlist_write() {
    let mut out = open(MemStore::new());
    let mut s = Synth::new(3000, 60);
    s.run(&mut out, 61); // seg0 published, seg1 open
    out.store_mut().fail_next(StoreOp::Commit, libc::EIO);
    let mut err = None;
    for _ in 0..60 {
        if let Err(e) = s.step(&mut out, false) {
            err = Some(e);
        }
    }
    let e = err.expect("rename failure reported");
    assert!(!e.is_disk_full());
    assert_eq!(e.raw_os_error(), Some(libc::EIO));
    assert_eq!(
        e.to_string(),
        "renaming segment 1: Input/output error (os error 5)"
    );
    assert_eq!(playlist_segments(out.store().playlist().unwrap()), vec![0]);

    // Playlist replacement fails: the segment is complete and listed at the next publish.
    out.store_mut().fail_next(StoreOp::Playlist, libc::EIO);
    let mut errs = 0;
    for _ in 0..60 {
        if s.step(&mut out, false).is_err() {
            errs += 1;
        }
    }
    assert_eq!(errs, 1);
    assert_eq!(playlist_segments(out.store().playlist().unwrap()), vec![0]);
    assert_eq!(out.store().segments(), vec![0, 1]);
    s.run(&mut out, 60);
    let pl = out.store().playlist().unwrap();
    assert_eq!(playlist_segments(pl), vec![0, 1, 2]);
    assert!(pl.contains("#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:04"));
    check_events(&out.store().events, total_slots(6, 2));
}

#[test]
fn discontinuity_cuts_early_and_advances_the_sequence() {
    let mut out = open(MemStore::new());
    let mut s = Synth::new(3000, 60);
    s.run(&mut out, 60 + 20); // seg0 published, seg1 has 20 frames
    out.mark_discontinuity();
    assert!(out.wants_keyframe());
    s.honour_keyframe_requests = false;
    s.gop = 0;
    for _ in 0..3 {
        assert!(s.step(&mut out, false).unwrap().is_none()); // non-IDR: dropped
    }
    let p = s.step(&mut out, true).unwrap().expect("cut at the IDR");
    assert_eq!((p.seq, p.duration), (1, Pts90k(20 * 3000)));
    s.honour_keyframe_requests = true;
    s.gop = 60;
    s.frame = 0; // new source, new clock... a later base keeps the muxer's DTS rising
    s.base = s.base + Pts90k(100 * 3000);
    s.audio_k = 0;
    s.run(&mut out, 60 * 8);
    assert_eq!(out.discontinuity_sequence(), 1);
    let pl = out.store().playlist().unwrap();
    assert!(pl.contains("#EXT-X-DISCONTINUITY-SEQUENCE:1\n"), "{pl}");
    assert!(!pl.contains("#EXT-X-DISCONTINUITY\n"), "{pl}");
}

#[test]
fn restart_continues_the_playlist() {
    let mut out = open(MemStore::new());
    let mut s = Synth::new(3000, 60);
    s.run(&mut out, 600);
    out.finish(false).unwrap();
    let media = out.media_sequence();
    let before = playlist_segments(out.store().playlist().unwrap());
    assert_eq!(before, (4..10).collect::<Vec<_>>());
    assert!(!out.store().playlist().unwrap().contains("ENDLIST"));
    let mut store = out.into_store();
    store.events.clear();
    let existing = store.segments();

    let mut out = open(store);
    assert_eq!(out.media_sequence(), media);
    assert_eq!(playlist_segments(out.store().playlist().unwrap()), before);
    // Retired segments of the old run are gone; the window stays.
    assert_eq!(out.store().segments(), before);
    s.base = s.base + Pts90k(600 * 3000 + 90_000);
    s.frame = 0;
    s.audio_k = 0;
    let p = s.run(&mut out, 121);
    assert_eq!(p[0].seq, 10);
    let pl = out.store().playlist().unwrap();
    assert_eq!(playlist_segments(pl), (6..12).collect::<Vec<_>>());
    assert!(pl.contains("#EXT-X-MEDIA-SEQUENCE:6\n"), "{pl}");
    assert!(
        pl.contains("seg9.ts\n#EXT-X-DISCONTINUITY\n#EXT-X-PROGRAM-DATE-TIME"),
        "{pl}"
    );
    let got = check_events_from(&existing, &out.store().events, total_slots(6, 2));
    // Adopted window written first, then the old run's retired segments deleted.
    assert_eq!(got[..3], ["P", "S", "R0"]);
}

#[test]
fn corrupt_state_starts_fresh_above_existing_files() {
    let mut store = MemStore::new();
    store.state = Some(b"hlscam-hls-state 1\nnext 3\n".to_vec());
    store.files.insert("seg40.ts".into(), vec![1]);
    store.files.insert("seg41.ts".into(), vec![1]);
    store.files.insert(".seg42.ts.part".into(), vec![1]);
    store
        .files
        .insert("live.m3u8".into(), b"#EXTM3U\nseg40.ts\n".to_vec());
    let mut out = open(store);
    assert!(
        out.store().files.is_empty(),
        "{:?}",
        out.store().files.keys()
    );
    assert_eq!(out.media_sequence(), 42);
    let mut s = Synth::new(3000, 60);
    let p = s.run(&mut out, 61);
    assert_eq!(p[0].seq, 42);
    let pl = out.store().playlist().unwrap();
    assert!(pl.contains("#EXT-X-MEDIA-SEQUENCE:42\n#EXT-X-DISCONTINUITY-SEQUENCE:0\n"));
    assert!(pl.contains("#EXT-X-DISCONTINUITY\n"));
}

#[test]
fn configuration_is_validated() {
    for (secs, window) in [(2, 5), (2, 61), (0, 6)] {
        let e = HlsOutput::with_store(HlsConfig::new("/x", secs, window), MemStore::new())
            .expect_err("rejected");
        assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{e}");
    }
    let mut c = cfg();
    c.segment_duration = Pts90k(135_000);
    let e = HlsOutput::with_store(c, MemStore::new()).unwrap_err();
    assert!(e.to_string().contains("whole number of seconds"), "{e}");
}

/// What a consumer saw of each segment: its bytes, the size `segment()` reported, and whether
/// any byte came after that event.
#[derive(Default)]
struct Seen {
    open: Vec<u8>,
    done: Vec<(u64, Vec<u8>, u64)>,
    late_bytes: bool,
}

struct Collect(std::sync::Arc<std::sync::Mutex<Seen>>);

impl hlscam::hls::consumer::Consumer for Collect {
    fn begin_segment(&mut self, _: &hlscam::hls::consumer::SegmentStart) {
        let mut s = self.0.lock().unwrap();
        if !s.open.is_empty() {
            s.late_bytes = true;
        }
        s.open.clear();
    }
    fn data(&mut self, bytes: &[u8]) {
        self.0.lock().unwrap().open.extend_from_slice(bytes);
    }
    fn segment(&mut self, d: &hlscam::hls::consumer::SegmentDone) {
        let mut s = self.0.lock().unwrap();
        let bytes = std::mem::take(&mut s.open);
        s.done.push((d.seq, bytes, d.bytes));
    }
}

#[test]
fn classic_consumers_get_the_whole_segment_before_its_end() {
    // Classic mode: no part commit flushes the write buffer before `segment()`; segments of
    // more than one 64 KiB chunk (large frames) must still reach a consumer whole by then.
    let mut out = open(MemStore::new());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Seen::default()));
    out.add_consumer(Box::new(Collect(seen.clone())));
    let mut s = Synth::new(3000, 60);
    s.run(&mut out, 4 * 60 + 1);
    let seen = seen.lock().unwrap();
    assert!(!seen.late_bytes, "bytes arrived after their segment's end");
    assert_eq!(seen.done.len(), 4);
    for (seq, bytes, reported) in &seen.done {
        let file = &out.store().files[&format!("seg{seq}.ts")];
        assert!(file.len() > 65_536, "seg{seq} spans several write chunks");
        assert_eq!(bytes.len() as u64, *reported, "seg{seq}");
        assert!(
            bytes == file,
            "seg{seq}: the consumer's copy differs from the file"
        );
    }
}
