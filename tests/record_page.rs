//! The player page's Recordings view in headless Chromium against the real binary (issue 13
//! "The page"): hlscam records continuously for 15 s in 1-minute chunks (fsync every 1 s),
//! stops, pauses 4 s (a gap), and records again; after 10 s of the second run
//! tests/browser/rec_check.js drives the page while it keeps recording: the timeline drawn
//! from `/api/recordings` (spans, the gap, the live edge) at 24 h and zoomed to 1 h, taps that
//! play from the tapped time by `PROGRAM-DATE-TIME` within one segment with hls.js and
//! natively, −10 s, the clip download (an MP4) and Keep (the chunk is then locked).

#[path = "support/hlscam_proc.rs"]
mod hlscam_proc;
#[path = "support/recording.rs"]
mod recording;
#[path = "support/tools.rs"]
mod tools;

use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_hlscam");
/// Live (and so recorded) segment length, seconds.
const SEGMENT_SECONDS: u32 = 2;

#[test]
fn recordings_view_in_chromium() {
    let work = tools::fresh_dir("record-page");
    let (_live, rec, cfg) = recording::dirs_and_config(&work, SEGMENT_SECONDS);

    // Run 1: 15 s of recording, then the process ends.
    let (mut a, _) = hlscam_proc::start(BIN, &cfg, &["--duration", "15"], &[]);
    let until = Instant::now() + Duration::from_secs(40);
    while a.0.try_wait().unwrap().is_none() {
        assert!(Instant::now() < until, "run 1 did not end");
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(a);
    // The pause is the gap.
    std::thread::sleep(Duration::from_secs(4));

    // Run 2 records on while the browser plays.
    let (b, port) = hlscam_proc::start(BIN, &cfg, &[], &[]);
    std::thread::sleep(Duration::from_secs(10));
    assert_eq!(recording::chunks(&rec).len(), 2, "one chunk per run");
    tools::node_browser_check(
        "rec_check.js",
        &[
            &format!("http://127.0.0.1:{port}"),
            &SEGMENT_SECONDS.to_string(),
        ],
    );
    drop(b);
    let _ = std::fs::remove_dir_all(work);
}
