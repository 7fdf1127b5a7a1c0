//! Media time: typed 90 kHz / 27 MHz values and the clocks they come from.
//!
//! One media time unit everywhere: [`Pts90k`], ticks of the 90 kHz MPEG system clock
//! (ISO/IEC 13818-1 §2.4.2). Inside hlscam media time is an *unwrapped* `u64` that starts near
//! zero and grows for the life of the process (2^64 ticks are 6.5 million years); it is reduced to
//! the 33 bits of the wire format only when a PES header or PCR is written
//! ([`Pts90k::wire33`]), so the 26.5-hour wrap of PTS/DTS is a property of the writer alone and
//! never of comparisons. Tests start media time just below 2^33 to cross the wrap.
//!
//! Clocks sit behind the [`Clock`] trait so every stage takes "now" as an argument and tests
//! run faster than real time with [`SimClock`].

use std::fmt;
use std::ops::{Add, Sub};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Ticks per second of the 90 kHz presentation clock.
pub const HZ_90K: u64 = 90_000;
/// Ticks per second of the 27 MHz system clock (PCR).
pub const HZ_27M: u64 = 27_000_000;
/// Mask of a 33-bit PTS/DTS/PCR-base field.
pub const MASK_33: u64 = (1 << 33) - 1;

/// A presentation or decoding time in 90 kHz ticks, unwrapped.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pts90k(pub u64);

impl Pts90k {
    /// Zero.
    pub const ZERO: Pts90k = Pts90k(0);

    /// From a duration (truncating below one tick).
    pub fn from_duration(d: Duration) -> Self {
        Pts90k((d.as_nanos() * HZ_90K as u128 / 1_000_000_000) as u64)
    }
    /// From milliseconds.
    pub const fn from_millis(ms: u64) -> Self {
        Pts90k(ms * 90)
    }
    /// As a duration.
    pub fn to_duration(self) -> Duration {
        Duration::from_nanos((self.0 as u128 * 1_000_000_000 / HZ_90K as u128) as u64)
    }
    /// Whole milliseconds, rounded to nearest.
    pub const fn as_millis_rounded(self) -> u64 {
        (self.0 + 45) / 90
    }
    /// The 33-bit value that goes on the wire.
    pub const fn wire33(self) -> u64 {
        self.0 & MASK_33
    }
    /// `self - other`, or zero when `other` is later.
    pub fn saturating_sub(self, other: Pts90k) -> Pts90k {
        Pts90k(self.0.saturating_sub(other.0))
    }
    /// The same instant on the 27 MHz clock.
    pub const fn to_pcr(self) -> Pcr27M {
        Pcr27M(self.0 * 300)
    }
}

impl Add for Pts90k {
    type Output = Pts90k;
    fn add(self, rhs: Pts90k) -> Pts90k {
        Pts90k(self.0 + rhs.0)
    }
}

impl Sub for Pts90k {
    type Output = Pts90k;
    fn sub(self, rhs: Pts90k) -> Pts90k {
        Pts90k(self.0 - rhs.0)
    }
}

impl fmt::Display for Pts90k {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:05}s", self.0 / HZ_90K, self.0 % HZ_90K)
    }
}

/// A program clock reference in 27 MHz ticks, unwrapped.
///
/// On the wire it is split into a 33-bit base (90 kHz) and a 9-bit extension (0..300).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pcr27M(pub u64);

impl Pcr27M {
    /// The 33-bit base (units of 300 ticks, i.e. 90 kHz), reduced modulo 2^33.
    pub const fn base33(self) -> u64 {
        (self.0 / 300) & MASK_33
    }
    /// The 9-bit extension, 0..300.
    pub const fn ext9(self) -> u16 {
        (self.0 % 300) as u16
    }
    /// Back to 90 kHz, truncating.
    pub const fn to_pts(self) -> Pts90k {
        Pts90k(self.0 / 300)
    }
}

/// The two clocks every stage needs, behind a trait so tests can simulate them.
pub trait Clock: Send + Sync {
    /// Monotonic time since an arbitrary, fixed origin (CLOCK_MONOTONIC in production).
    fn monotonic(&self) -> Duration;
    /// Wall-clock time (for `EXT-X-PROGRAM-DATE-TIME` and the burned-in clock).
    fn wall(&self) -> SystemTime;
}

/// The real clocks.
#[derive(Debug, Clone, Copy)]
pub struct SystemClock {
    origin: Instant,
}

impl SystemClock {
    /// A system clock whose monotonic origin is now.
    pub fn new() -> Self {
        SystemClock {
            origin: Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn monotonic(&self) -> Duration {
        self.origin.elapsed()
    }
    fn wall(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A simulated clock: time moves only when a test calls [`SimClock::advance`].
///
/// Cloning shares the same time.
#[derive(Debug, Clone)]
pub struct SimClock {
    nanos: Arc<AtomicU64>,
    wall_origin: SystemTime,
}

impl SimClock {
    /// Starts at monotonic zero, with wall time `wall_origin`.
    pub fn new(wall_origin: SystemTime) -> Self {
        SimClock {
            nanos: Arc::new(AtomicU64::new(0)),
            wall_origin,
        }
    }
    /// Starts at 2026-01-01T00:00:00Z.
    pub fn at_2026() -> Self {
        Self::new(UNIX_EPOCH + Duration::from_secs(1_767_225_600))
    }
    /// Moves both clocks forward.
    pub fn advance(&self, d: Duration) {
        self.nanos.fetch_add(d.as_nanos() as u64, Ordering::SeqCst);
    }
}

impl Clock for SimClock {
    fn monotonic(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Ordering::SeqCst))
    }
    fn wall(&self) -> SystemTime {
        self.wall_origin + self.monotonic()
    }
}

/// Writes `t` as an ISO 8601 UTC date-time with milliseconds (`2026-01-01T00:00:00.000Z`),
/// the form `EXT-X-PROGRAM-DATE-TIME` takes (RFC 8216 §4.3.2.6). No allocation.
pub fn write_iso8601<W: fmt::Write>(w: &mut W, t: SystemTime) -> fmt::Result {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (y, m, day) = civil_from_days((secs / 86_400) as i64);
    let sod = secs % 86_400;
    write!(
        w,
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        y,
        m,
        day,
        sod / 3600,
        (sod / 60) % 60,
        sod % 60,
        d.subsec_millis()
    )
}

/// Local-free `HH:MM:SS.mmm` (UTC) of a wall time, for the burned-in clock.
pub fn hms_millis(t: SystemTime) -> (u8, u8, u8, u16) {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let sod = d.as_secs() % 86_400;
    (
        (sod / 3600) as u8,
        ((sod / 60) % 60) as u8,
        (sod % 60) as u8,
        d.subsec_millis() as u16,
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `YYYYMMDDTHHMMSSZ` (ISO 8601 basic format, UTC, whole seconds) of `t`: S3's `x-amz-date`
/// and the recording chunk names.
pub fn basic_utc(t: std::time::SystemTime) -> String {
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let sod = secs % 86_400;
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    )
}

/// A time as the HTTP API and URLs take it (issue 13): RFC 3339 UTC
/// (`2026-12-06T10:00:00Z`, fractions of a second allowed, parsed by the `humantime` crate),
/// Unix seconds (`1796551200`, `1796551200.5`), or `now` (which gives `now`).
pub fn parse_api_time(s: &str, now: SystemTime) -> Result<SystemTime, String> {
    let s = s.trim();
    if s == "now" {
        return Ok(now);
    }
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return s
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v < 1e11)
            .map(|v| UNIX_EPOCH + Duration::from_secs_f64(v))
            .ok_or_else(|| format!("{s:?} is not a time (Unix seconds out of range)"));
    }
    humantime::parse_rfc3339(s).map_err(|e| {
        format!("{s:?} is not a time ({e}; use RFC 3339 UTC like 2026-12-06T10:00:00Z, Unix seconds or now)")
    })
}

/// `t` as RFC 3339 UTC with milliseconds (`2026-12-06T10:00:00.000Z`), for JSON answers.
pub fn rfc3339(t: SystemTime) -> String {
    let mut s = String::with_capacity(24);
    let _ = write_iso8601(&mut s, t);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pts_conversions() {
        assert_eq!(Pts90k::from_millis(2000), Pts90k(180_000));
        assert_eq!(
            Pts90k::from_duration(Duration::from_millis(40)),
            Pts90k(3600)
        );
        assert_eq!(Pts90k(3600).to_duration(), Duration::from_millis(40));
        assert_eq!(Pts90k(3044).as_millis_rounded(), 34);
        assert_eq!(Pts90k(MASK_33 + 5).wire33(), 4);
        let pcr = Pts90k(MASK_33 + 2).to_pcr();
        assert_eq!(pcr.base33(), 1);
        assert_eq!(Pcr27M(301).ext9(), 1);
        assert_eq!(Pcr27M(301).base33(), 1);
    }

    #[test]
    fn iso8601() {
        let mut s = String::new();
        let t = UNIX_EPOCH + Duration::from_millis(1_767_225_600_123 + 86_400_000 * 59);
        write_iso8601(&mut s, t).unwrap();
        assert_eq!(s, "2026-03-01T00:00:00.123Z");
        s.clear();
        write_iso8601(&mut s, UNIX_EPOCH + Duration::from_secs(951_782_400)).unwrap();
        assert_eq!(s, "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn api_times() {
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let t = |s| parse_api_time(s, now);
        assert_eq!(t("now"), Ok(now));
        assert_eq!(
            t("1796551200"),
            Ok(UNIX_EPOCH + Duration::from_secs(1_796_551_200))
        );
        assert_eq!(
            t("1796551200.5"),
            Ok(UNIX_EPOCH + Duration::from_millis(1_796_551_200_500))
        );
        assert_eq!(
            t("2026-03-01T00:00:00.123Z"),
            Ok(UNIX_EPOCH + Duration::from_millis(1_772_323_200_123))
        );
        assert_eq!(
            rfc3339(t("2026-03-01T00:00:00.123Z").unwrap()),
            "2026-03-01T00:00:00.123Z"
        );
        for bad in [
            "",
            "yesterday",
            "2026-13-01T00:00:00Z",
            "1.2.3",
            "99999999999999",
            "2026-03-01",
        ] {
            assert!(t(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sim_clock_moves_only_when_told() {
        let c = SimClock::at_2026();
        assert_eq!(c.monotonic(), Duration::ZERO);
        c.advance(Duration::from_millis(1500));
        let c2 = c.clone();
        assert_eq!(c2.monotonic(), Duration::from_millis(1500));
        assert_eq!(hms_millis(c2.wall()), (0, 0, 1, 500));
    }
}
