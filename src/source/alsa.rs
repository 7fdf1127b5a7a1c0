//! ALSA microphones: S16LE interleaved capture with overrun recovery, and silence while the
//! device is away, so the audio track never has a hole.
//!
//! Uses the ALSA PCM interface (alsa-lib `snd_pcm_*`, through the `alsa` crate): hardware
//! parameters `S16_LE`, `RW_INTERLEAVED`, the configured rate and channels exactly (use a
//! `plughw:` or `default` device for conversion), ~20 ms periods and a ~200 ms buffer.
//!
//! * Overruns (`EPIPE`) and suspends (`ESTRPIPE`) are recovered with `snd_pcm_recover`
//!   (`try_recover`) and counted ([`AlsaSource::overruns`]); the samples lost meanwhile are
//!   replaced by silence, sized from the monotonic clock ([`AudioClock::behind`]).
//! * Any other error (`ENODEV` from an unplugged USB microphone, `EBADFD`, `EIO`, a read that
//!   stalls for [`STALL`]) closes the device; until it reopens (retried with a backoff of
//!   0.5 s doubling to 8 s) [`read`](AudioSource::read) returns silence paced in real time.
//! * PTS follow the sample count ([`AudioClock`]): media time is the `Clock::monotonic` time of
//!   the clock given to [`AlsaSource::open_with_clock`], in 90 kHz ticks — the same as video.
//!
//! Steady state allocates nothing: reads go into the caller's buffer through
//! `io_unchecked::<i16>` (the format was fixed by `hw_params`).

use super::audio_clock::AudioClock;
use super::supervisor::{next_backoff, BACKOFF_MIN};
use super::v4l2::KernelMonotonic;
use super::{AudioFormat, AudioSource, SourceError};
use crate::time::{Clock, Pts90k};
use alsa::pcm::{Access, Format, HwParams, PCM};
use alsa::{Direction, ValueOr};
use std::sync::Arc;
use std::time::Duration;

/// A read that makes no progress for this long counts as a failed device.
pub const STALL: Duration = Duration::from_millis(1000);

fn err(device: &str, what: &str, e: alsa::Error) -> SourceError {
    let msg = format!("alsa {device}: {what}: {e}");
    match e.errno() {
        libc::ENODEV | libc::ENOENT | libc::ENXIO => SourceError::Gone(msg),
        _ => SourceError::Io(msg),
    }
}

/// Opens `device` for capture with exactly `fmt`, ~20 ms periods; returns the PCM and the
/// period size in frames.
fn open_pcm(device: &str, fmt: AudioFormat) -> Result<(PCM, usize), SourceError> {
    let pcm = PCM::new(device, Direction::Capture, true).map_err(|e| err(device, "open", e))?;
    let period;
    {
        let hw = HwParams::any(&pcm).map_err(|e| err(device, "hw_params_any", e))?;
        hw.set_access(Access::RWInterleaved)
            .map_err(|e| err(device, "access RW_INTERLEAVED", e))?;
        hw.set_format(Format::s16())
            .map_err(|e| err(device, "format S16", e))?;
        hw.set_channels(fmt.channels as u32)
            .map_err(|e| err(device, &format!("{} channel(s)", fmt.channels), e))?;
        hw.set_rate(fmt.sample_rate, ValueOr::Nearest)
            .map_err(|e| err(device, &format!("rate {}", fmt.sample_rate), e))?;
        let p = hw
            .set_period_size_near(
                (fmt.sample_rate / 50) as alsa::pcm::Frames,
                ValueOr::Nearest,
            )
            .map_err(|e| err(device, "period size", e))?;
        hw.set_buffer_size_near(p * 10)
            .map_err(|e| err(device, "buffer size", e))?;
        pcm.hw_params(&hw)
            .map_err(|e| err(device, "hw_params", e))?;
        period = p as usize;
    }
    let hw = pcm
        .hw_params_current()
        .map_err(|e| err(device, "hw_params_current", e))?;
    let rate = hw.get_rate().map_err(|e| err(device, "get_rate", e))?;
    if rate != fmt.sample_rate {
        return Err(SourceError::Io(format!(
            "alsa {device}: rate {} not supported (got {rate}); use a plughw: device",
            fmt.sample_rate
        )));
    }
    let buffer = hw.get_buffer_size().unwrap_or(0);
    drop(hw);
    pcm.start().map_err(|e| err(device, "start", e))?;
    log::info!(
        "alsa {device}: capturing S16_LE {} Hz x{}, period {period} frames, buffer {buffer} frames",
        fmt.sample_rate,
        fmt.channels
    );
    Ok((pcm, period))
}

/// A microphone (see the module docs).
pub struct AlsaSource {
    device: String,
    name: String,
    fmt: AudioFormat,
    pcm: Option<PCM>,
    clock: Arc<dyn Clock>,
    aclock: AudioClock,
    /// Frames delivered so far (device and silence).
    delivered: u64,
    /// Frames of silence owed (lost to an overrun) to put before the next device samples.
    owed: u64,
    overruns: u64,
    silence_frames: u64,
    backoff: Duration,
    next_retry: Duration,
}

impl std::fmt::Debug for AlsaSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlsaSource")
            .field("name", &self.name)
            .field("open", &self.pcm.is_some())
            .field("overruns", &self.overruns)
            .finish()
    }
}

impl AlsaSource {
    /// Opens `device` (`hw:1,0`, `plughw:Loopback,1`, `default`…) with media time = time since
    /// boot.
    pub fn open(device: &str, fmt: AudioFormat) -> Result<AlsaSource, SourceError> {
        Self::open_with_clock(device, fmt, Arc::new(KernelMonotonic))
    }

    /// As [`open`](Self::open), with media time from `clock`. Fails if the device cannot be
    /// opened now; later failures are handled inside (silence + retry).
    pub fn open_with_clock(
        device: &str,
        fmt: AudioFormat,
        clock: Arc<dyn Clock>,
    ) -> Result<AlsaSource, SourceError> {
        if fmt.channels == 0 || fmt.channels > 8 || fmt.sample_rate == 0 {
            return Err(SourceError::Io(format!(
                "alsa {device}: bad format {fmt:?}"
            )));
        }
        let (pcm, _) = open_pcm(device, fmt)?;
        Ok(Self::with_pcm(device, fmt, Some(pcm), clock))
    }

    /// The source's state around `pcm` (`None`: device away, silence until a retry opens it).
    fn with_pcm(
        device: &str,
        fmt: AudioFormat,
        pcm: Option<PCM>,
        clock: Arc<dyn Clock>,
    ) -> AlsaSource {
        AlsaSource {
            device: device.to_string(),
            name: format!("alsa:{device}"),
            fmt,
            pcm,
            clock,
            aclock: AudioClock::new(fmt.sample_rate),
            delivered: 0,
            owed: 0,
            overruns: 0,
            silence_frames: 0,
            backoff: BACKOFF_MIN,
            next_retry: Duration::ZERO,
        }
    }

    /// Like [`open_with_clock`](Self::open_with_clock), but a device that cannot be opened now
    /// is not an error: the source delivers silence at the right times and retries the device
    /// with backoff, exactly as after an unplug (a USB microphone plugged in later is picked up).
    pub fn open_or_retry(device: &str, fmt: AudioFormat, clock: Arc<dyn Clock>) -> AlsaSource {
        match Self::open_with_clock(device, fmt, clock.clone()) {
            Ok(src) => src,
            Err(e) => {
                log::warn!("{e}: streaming silence and retrying the device");
                Self::with_pcm(device, fmt, None, clock)
            }
        }
    }

    /// Overruns recovered so far.
    pub fn overruns(&self) -> u64 {
        self.overruns
    }

    /// Frames of silence inserted so far (overruns, device away).
    pub fn silence_frames(&self) -> u64 {
        self.silence_frames
    }

    /// True while the device is open.
    pub fn is_open(&self) -> bool {
        self.pcm.is_some()
    }

    fn lose_device(&mut self, e: SourceError) {
        log::warn!(
            "{}: {e}; inserting silence, retrying in {:.1} s",
            self.name,
            self.backoff.as_secs_f64()
        );
        self.pcm = None;
        self.next_retry = self.clock.monotonic() + self.backoff;
        self.backoff = next_backoff(self.backoff);
    }

    fn try_reopen(&mut self) {
        match open_pcm(&self.device, self.fmt) {
            Ok((pcm, _)) => {
                log::info!("{}: device back", self.name);
                self.pcm = Some(pcm);
                self.backoff = BACKOFF_MIN;
                // Anything between the last silence and now is owed as silence.
                let behind = self.aclock.behind(self.delivered, self.clock.monotonic());
                self.owed = behind.max(0) as u64;
            }
            Err(e) => {
                log::debug!("{}: reopen failed: {e}", self.name);
                self.next_retry = self.clock.monotonic() + self.backoff;
                self.backoff = next_backoff(self.backoff);
            }
        }
    }

    /// Reads device frames into `buf[filled..]`; returns frames added, or the device is lost.
    fn read_device(&mut self, buf: &mut [i16]) -> Result<usize, SourceError> {
        let Some(pcm) = self.pcm.as_ref() else {
            return Ok(0);
        };
        let deadline = self.clock.monotonic() + STALL;
        loop {
            // SAFETY: hw_params fixed the format to S16 (native endian) and this is the only
            // IO object of the PCM, dropped at the end of the statement.
            let r = unsafe { pcm.io_unchecked::<i16>() }.readi(buf);
            match r {
                Ok(n) => return Ok(n),
                Err(e) if e.errno() == libc::EAGAIN => {
                    if self.clock.monotonic() >= deadline {
                        return Err(SourceError::Timeout(format!(
                            "{}: no samples for {STALL:?}",
                            self.name
                        )));
                    }
                    match pcm.wait(Some(100)) {
                        Ok(_) => continue,
                        Err(e) if matches!(e.errno(), libc::EPIPE | libc::ESTRPIPE) => {
                            self.recover(e)?;
                            return Ok(0);
                        }
                        Err(e) => return Err(err(&self.device, "wait", e)),
                    }
                }
                Err(e) if matches!(e.errno(), libc::EPIPE | libc::ESTRPIPE | libc::EINTR) => {
                    self.recover(e)?;
                    return Ok(0);
                }
                Err(e) => return Err(err(&self.device, "readi", e)),
            }
        }
    }

    fn recover(&mut self, e: alsa::Error) -> Result<(), SourceError> {
        let Some(pcm) = self.pcm.as_ref() else {
            return Ok(());
        };
        if e.errno() != libc::EINTR {
            self.overruns += 1;
            log::warn!(
                "{}: overrun ({e}), recovered; {} so far",
                self.name,
                self.overruns
            );
        }
        pcm.try_recover(e, true)
            .map_err(|e| err(&self.device, "recover", e))?;
        let _ = pcm.start();
        Ok(())
    }
}

impl AudioSource for AlsaSource {
    fn name(&self) -> &str {
        &self.name
    }

    fn format(&self) -> AudioFormat {
        self.fmt
    }

    fn read(&mut self, buf: &mut [i16]) -> Result<Pts90k, SourceError> {
        let ch = self.fmt.channels as usize;
        let frames = buf.len() / ch;
        let buf = &mut buf[..frames * ch];
        let first = self.delivered;
        let mut filled = 0usize; // frames
        let silence_before = self.silence_frames;
        while filled < frames {
            if self.pcm.is_none() && self.clock.monotonic() >= self.next_retry {
                self.try_reopen();
            }
            if self.owed > 0 {
                let n = (self.owed as usize).min(frames - filled);
                buf[filled * ch..(filled + n) * ch].fill(0);
                filled += n;
                self.owed -= n as u64;
                self.silence_frames += n as u64;
                continue;
            }
            if self.pcm.is_none() {
                // Device away: silence, paced by the clock (at most one period ahead of it).
                let n = (frames - filled)
                    .min(self.fmt.sample_rate as usize / 50)
                    .max(1);
                if let Some(due) = self.aclock.due(self.delivered + (filled + n) as u64) {
                    let now = self.clock.monotonic();
                    if due > now {
                        std::thread::sleep(due - now);
                    }
                }
                buf[filled * ch..(filled + n) * ch].fill(0);
                filled += n;
                self.silence_frames += n as u64;
                continue;
            }
            match self.read_device(&mut buf[filled * ch..]) {
                Ok(0) => {
                    // Recovered from an overrun: owe the lost time as silence.
                    let behind = self
                        .aclock
                        .behind(self.delivered + filled as u64, self.clock.monotonic());
                    let period = self.fmt.sample_rate as i64 / 50;
                    if behind > period {
                        self.owed = (behind - period / 2) as u64;
                    }
                }
                Ok(n) => filled += n,
                Err(e) => self.lose_device(e),
            }
        }
        self.delivered += frames as u64;
        let now = self.clock.monotonic();
        if self.silence_frames != silence_before {
            // Inserted silence stands for time already past: no clock observation.
            Ok(self.aclock.predict(first, frames as u64, now))
        } else {
            Ok(self.aclock.stamp(first, frames as u64, now))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_device_fails_to_open() {
        let r = AlsaSource::open(
            "hw:hlscam_no_such_card",
            AudioFormat {
                sample_rate: 48_000,
                channels: 1,
            },
        );
        assert!(r.is_err());
    }
}
