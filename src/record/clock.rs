//! The wall clock as the recorder sees it (issue 13, "No RTC on a Pi"): until NTP syncs, a
//! board without a real-time clock starts at 1970 or at the time it last shut down, and the
//! sync steps the clock by seconds or by years.
//!
//! - Unsynchronised: the kernel's `adjtimex` reports `TIME_ERROR` until a time daemon has
//!   disciplined the clock; segments recorded then carry [`super::index::FLAG_UNSYNCED`]. The
//!   probe is a plain `fn() -> bool` ([`SyncProbe`]) so tests can fake it.
//! - A step: between two consecutive recorded segments the wall clock moved by more (or less)
//!   than the media time did, by over [`STEP_TOLERANCE`] plus [`DRIFT_PPM`] of the media time
//!   between them (events mode compares segments minutes or hours apart, and a camera's
//!   clock drifts against the system's by up to ~100 ppm) ([`stepped`]). The segment after it
//!   gets [`super::index::FLAG_CLOCK_STEP`] and `FLAG_DISCONTINUITY` and begins a new chunk
//!   named by the new time.
//!
//! Ordering: chunk names follow the wall clock, so after a backward step the new chunk sorts
//! before footage recorded earlier (it is where the clock says it is), and a name already
//! taken gets the `-N` suffix (files are created with `O_EXCL`: nothing is overwritten or
//! appended to). Within a chunk the records are in recording order, and the live sequence
//! numbers in the index (monotonic within a run) give the recording order whenever the names
//! disagree with it; `FLAG_CLOCK_STEP` marks where they may.

/// Whether the system clock is synchronised.
pub type SyncProbe = fn() -> bool;

/// Wall clock moves that differ from the media time by more than this are steps: well above
/// the jitter of a segment's first-frame timestamp (a frame or two) and NTP slewing (at most
/// 0.5 ms/s), well below any real step.
pub const STEP_TOLERANCE_NS: u64 = 1_000_000_000;
/// [`STEP_TOLERANCE_NS`] as a `Duration`, for the docs.
pub const STEP_TOLERANCE: std::time::Duration = std::time::Duration::from_nanos(STEP_TOLERANCE_NS);
/// Drift allowed between media time and wall clock, parts per million of the media time: twice
/// a cheap crystal's error, so segments an hour apart may differ by 1.72 s, two seconds apart
/// by 1 s.
pub const DRIFT_PPM: i128 = 200;

/// The kernel's view: `adjtimex` (read only) does not return `TIME_ERROR`. A failing call
/// (a seccomp filter, say) counts as synchronised: no flag rather than a wrong one everywhere.
pub fn system_synced() -> bool {
    // SAFETY: `adjtimex` with `modes = 0` only reads the kernel's state into `tx`, a valid,
    // zeroed `timex` owned by this frame.
    let r = unsafe {
        let mut tx: libc::timex = std::mem::zeroed();
        libc::adjtimex(&mut tx)
    };
    r != libc::TIME_ERROR
}

/// Whether the wall clock stepped between a segment at (`prev_wall` ns, `prev_pts` 90 kHz)
/// and a later one of the same run at (`wall`, `pts`): the wall-clock delta differs from the
/// media-time delta by more than [`STEP_TOLERANCE_NS`] + [`DRIFT_PPM`] of it, either way.
pub fn stepped(prev_wall: u64, prev_pts: u64, wall: u64, pts: u64) -> bool {
    let media = i128::from(pts) - i128::from(prev_pts);
    let media_ns = media * 1_000_000_000 / 90_000;
    let wall_d = i128::from(wall) - i128::from(prev_wall);
    let tolerance = i128::from(STEP_TOLERANCE_NS) + media_ns.abs() * DRIFT_PPM / 1_000_000;
    (wall_d - media_ns).abs() > tolerance
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn steps_either_way_beyond_a_second_and_not_jitter() {
        let (w, p) = (1_780_000_000 * S, 900_000);
        // 2 s of media, 2 s ± 0.5 s of wall: not a step.
        assert!(!stepped(w, p, w + 2 * S, p + 180_000));
        assert!(!stepped(w, p, w + 2 * S + S / 2, p + 180_000));
        assert!(!stepped(w, p, w + 2 * S - S / 2, p + 180_000));
        // Forward by years, backward by seconds or years.
        assert!(stepped(w, p, w + 2 * S + 3 * 365 * 86_400 * S, p + 180_000));
        assert!(stepped(w, p, w + 2 * S - 2 * S, p + 180_000 + 90_000));
        assert!(stepped(w, p, 0, p + 180_000));
        // A long gap between events is fine when both clocks moved alike, or drifted apart by
        // a camera clock's error (3 h at 100 ppm: 1.08 s); a 10 s step over it is not.
        assert!(!stepped(w, p, w + 600 * S, p + 600 * 90_000));
        let h3 = 3 * 3600;
        assert!(!stepped(w, p, w + h3 * S + 1_080_000_000, p + h3 * 90_000));
        assert!(stepped(w, p, w + h3 * S + 10 * S, p + h3 * 90_000));
        assert!(stepped(w, p, w + h3 * S - 12 * S, p + h3 * 90_000));
    }
}
