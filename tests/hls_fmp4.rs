//! HlsOutput in fMP4 (CMAF) over the in-memory store: init segments written before the segment
//! that needs them and again when the parameter sets change, EXT-X-MAP where they apply, a
//! failed init write dropping only the segment that needed it, consumers told of each init
//! before the segment, and the fragments of a segment parsed box by box.

mod hls_support;

use std::sync::{Arc, Mutex};

use hls_support::Synth;
use hlscam::fmp4::AudioParams;
use hlscam::hls::consumer::{Consumer, SegmentStart};
use hlscam::hls::Container;
use hlscam::hls::{HlsConfig, HlsOutput, MemStore, PartPlan, StoreEvent, StoreOp};

const AAC: AudioParams = AudioParams {
    sample_rate: 48_000,
    channels: 1,
    object_type: 2,
};

fn open() -> HlsOutput<MemStore> {
    let cfg = HlsConfig::new("/nonexistent-unused", 2, 6)
        .with_parts(PartPlan::new(200, 30))
        .with_fmp4(Some(AAC));
    HlsOutput::with_store(cfg, MemStore::for_container(Container::Fmp4)).expect("open")
}

/// Records the init and segment-start events a consumer sees.
struct Log(Arc<Mutex<Vec<String>>>);

impl Consumer for Log {
    fn init(&mut self, gen: u32, bytes: &[u8]) {
        assert_eq!(&bytes[4..8], b"ftyp");
        self.0.lock().unwrap().push(format!("init{gen}"));
    }
    fn begin_segment(&mut self, s: &SegmentStart) {
        self.0
            .lock()
            .unwrap()
            .push(format!("seg{}:map{}", s.seq, s.map));
    }
    fn data(&mut self, _: &[u8]) {}
}

/// The top-level boxes of `data`: (type, size); panics on a box that runs past the end.
fn boxes(data: &[u8]) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let size = u32::from_be_bytes(data[at..at + 4].try_into().unwrap()) as usize;
        assert!(
            size >= 8 && at + size <= data.len(),
            "box at {at} of size {size}"
        );
        out.push((
            String::from_utf8_lossy(&data[at + 4..at + 8]).into_owned(),
            size,
        ));
        at += size;
    }
    out
}

#[test]
fn init_segments_follow_parameter_set_changes() {
    let mut out = open();
    let log = Arc::new(Mutex::new(Vec::new()));
    out.add_consumer(Box::new(Log(log.clone())));
    let mut s = Synth::new(3000, 60);
    s.run(&mut out, 3 * 60);
    s.level = 0x1F; // the encoder restarted with other parameter sets
    s.run(&mut out, 2 * 60 + 1);

    let st = out.store();
    assert!(st.files.contains_key("init0.mp4") && st.files.contains_key("init1.mp4"));
    assert_eq!(
        boxes(&st.files["init1.mp4"])
            .iter()
            .map(|b| b.0.as_str())
            .collect::<Vec<_>>(),
        ["ftyp", "moov"]
    );
    // init1 is written before the segment that needs it begins.
    let at = |pred: &dyn Fn(&StoreEvent) -> bool| st.events.iter().position(pred).unwrap();
    assert!(at(&|e| matches!(e, StoreEvent::Init(1, _))) < at(&|e| *e == StoreEvent::Begin(3)));
    assert_eq!(
        &log.lock().unwrap()[..],
        [
            "init0",
            "seg0:map0",
            "seg1:map0",
            "seg2:map0",
            "init1",
            "seg3:map1",
            "seg4:map1",
            "seg5:map1"
        ]
    );
    // EXT-X-MAP before the first segment and where the init segment changes, nowhere else.
    let pl = st.playlist().unwrap();
    let maps: Vec<(usize, &str)> = pl
        .lines()
        .enumerate()
        .filter(|(_, l)| l.starts_with("#EXT-X-MAP:"))
        .collect();
    let seg3 = pl.lines().position(|l| l == "seg3.m4s").unwrap();
    let seg0 = pl.lines().position(|l| l == "seg0.m4s").unwrap();
    assert_eq!(maps.len(), 2, "{pl}");
    assert!(maps[0].1.contains("init0.mp4") && maps[0].0 < seg0, "{pl}");
    assert!(
        maps[1].1.contains("init1.mp4") && maps[1].0 < seg3 && maps[1].0 > seg0,
        "{pl}"
    );
    // A segment is its parts' moof + mdat pairs: ten parts of 200 ms, each one fragment.
    let seg = &st.files["seg3.m4s"];
    let kinds: Vec<String> = boxes(seg).into_iter().map(|b| b.0).collect();
    assert_eq!(kinds, ["moof", "mdat"].repeat(10), "seg3.m4s");
    let mut joined = Vec::new();
    for k in 0..10 {
        joined.extend_from_slice(&st.files[&format!("seg3.{k}.m4s")]);
    }
    assert!(&joined == seg, "parts concatenate to the segment");
}

#[test]
fn failed_init_write_drops_only_the_segment_that_needed_it() {
    let mut out = open();
    out.store_mut().fail_next(StoreOp::Init, libc::ENOSPC);
    let mut s = Synth::new(3000, 60);
    // The first segment cannot get its init segment: it is dropped (reported once), and the
    // next one writes init0 and is published.
    let mut errors = 0;
    for _ in 0..(3 * 60 + 1) {
        if s.step(&mut out, false).is_err() {
            errors += 1;
        }
    }
    assert_eq!(errors, 1);
    assert_eq!(out.segments_dropped(), 1);
    let st = out.store();
    assert!(st.files.contains_key("init0.mp4"));
    // The lost segment's number is reused; the gap shows as a discontinuity and in the
    // program date-times (the first listed segment began 2 s in).
    let pl = st.playlist().unwrap();
    let first = pl
        .lines()
        .position(|l| l.starts_with("#EXT-X-PROGRAM-DATE-TIME:"))
        .unwrap();
    let lines: Vec<&str> = pl.lines().collect();
    assert_eq!(
        &lines[first - 2..=first],
        [
            "#EXT-X-DISCONTINUITY",
            "#EXT-X-MAP:URI=\"init0.mp4\"",
            "#EXT-X-PROGRAM-DATE-TIME:2026-01-01T00:00:02.000Z"
        ],
        "{pl}"
    );
}
