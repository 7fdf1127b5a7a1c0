//! The built-in test tone: a quiet 440 Hz sine with a loud 1 kHz beep at every whole second of
//! media time, the same instants as the test pattern's flash frames ([`super::testsrc`]).
//!
//! Sample `n` (per channel, counted from 0) has media time `n·90000/rate`. The beep occupies
//! samples `k·rate .. k·rate + rate/20` (50 ms) for k = 0, 1, 2, …; every other sample is the
//! sine. Both oscillators are phase accumulators over one precomputed table, so the signal is
//! phase-continuous across `read` calls and a call allocates nothing. Channels carry the same
//! signal.

use super::{AudioFormat, AudioSource, SourceError};
use crate::time::{Clock, Pts90k, HZ_90K};
use std::sync::Arc;
use std::time::Duration;

/// Frequency of the continuous tone.
pub const TONE_HZ: u32 = 440;
/// Frequency of the once-a-second beep.
pub const BEEP_HZ: u32 = 1000;
/// Beep length in milliseconds.
pub const BEEP_MS: u32 = 50;
/// Peak amplitude of the tone (about −20 dBFS).
pub const TONE_AMPLITUDE: i16 = 3277;
/// Peak amplitude of the beep (about −3 dBFS).
pub const BEEP_AMPLITUDE: i16 = 23_197;

const TABLE_BITS: u32 = 12;
const TABLE_LEN: usize = 1 << TABLE_BITS;

/// A paced or unpaced sine-and-beep [`AudioSource`].
pub struct ToneSource {
    fmt: AudioFormat,
    clock: Arc<dyn Clock>,
    paced: bool,
    start_mono: Duration,
    /// Next sample index (per channel).
    next: u64,
    /// One period of a unit sine, scaled to i16 full scale.
    table: Box<[i16; TABLE_LEN]>,
    tone_phase: u32,
    tone_inc: u32,
    beep_phase: u32,
    beep_inc: u32,
    beep_len: u64,
}

impl ToneSource {
    /// A tone in `fmt` timed by `clock`; media time 0 is the moment of this call.
    pub fn new(fmt: AudioFormat, clock: Arc<dyn Clock>, paced: bool) -> Self {
        let rate = fmt.sample_rate.max(1) as u64;
        let mut table = Box::new([0i16; TABLE_LEN]);
        for (i, t) in table.iter_mut().enumerate() {
            let a = i as f64 / TABLE_LEN as f64 * std::f64::consts::TAU;
            *t = (a.sin() * 32767.0).round() as i16;
        }
        ToneSource {
            fmt,
            start_mono: clock.monotonic(),
            clock,
            paced,
            next: 0,
            table,
            tone_phase: 0,
            tone_inc: ((TONE_HZ as u64) << 32).div_euclid(rate) as u32,
            beep_phase: 0,
            beep_inc: ((BEEP_HZ as u64) << 32).div_euclid(rate) as u32,
            beep_len: rate * BEEP_MS as u64 / 1000,
        }
    }

    /// Samples per channel in one beep.
    pub fn beep_len(&self) -> u64 {
        self.beep_len
    }

    fn sample(&mut self, n: u64) -> i16 {
        let rate = self.fmt.sample_rate.max(1) as u64;
        let shift = 32 - TABLE_BITS;
        let tone = self.table[(self.tone_phase >> shift) as usize];
        self.tone_phase = self.tone_phase.wrapping_add(self.tone_inc);
        if n % rate < self.beep_len {
            let beep = self.table[(self.beep_phase >> shift) as usize];
            self.beep_phase = self.beep_phase.wrapping_add(self.beep_inc);
            (beep as i32 * BEEP_AMPLITUDE as i32 / 32767) as i16
        } else {
            // Restart the beep at phase 0 each second so every beep is identical.
            self.beep_phase = 0;
            (tone as i32 * TONE_AMPLITUDE as i32 / 32767) as i16
        }
    }
}

impl AudioSource for ToneSource {
    fn name(&self) -> &str {
        "tone"
    }

    fn format(&self) -> AudioFormat {
        self.fmt
    }

    fn read(&mut self, buf: &mut [i16]) -> Result<Pts90k, SourceError> {
        let ch = self.fmt.channels.max(1) as usize;
        if buf.len() % ch != 0 {
            return Err(SourceError::Io(format!(
                "tone: buffer of {} samples is not a multiple of {} channels",
                buf.len(),
                ch
            )));
        }
        let rate = self.fmt.sample_rate.max(1) as u64;
        let first = self.next;
        let frames = (buf.len() / ch) as u64;
        if first == 0 {
            // Media time 0 is the first read (see `TestSource`): no burst after a late start.
            self.start_mono = self.clock.monotonic();
        }
        if self.paced && frames > 0 {
            // The last sample of the chunk is due at start + (first + frames − 1) / rate.
            let last = first + frames - 1;
            let due = self.start_mono
                + Duration::from_nanos((last as u128 * 1_000_000_000 / rate as u128) as u64);
            let now = self.clock.monotonic();
            if now < due {
                std::thread::sleep(due - now);
            }
        }
        for (k, frame) in buf.chunks_exact_mut(ch).enumerate() {
            let s = self.sample(first + k as u64);
            frame.fill(s);
        }
        self.next = first + frames;
        Ok(Pts90k(first * HZ_90K / rate))
    }
}
