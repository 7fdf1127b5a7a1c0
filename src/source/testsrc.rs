//! The built-in test pattern: a moving picture with a burned-in clock and frame counter, and a
//! once-a-second flash for lip-sync checks against [`super::tone`].
//!
//! Picture layout (I420, tightly packed as in [`RawFrame::planes`]; every region boundary is on
//! an even row/column so chroma rows map 1:2 onto luma rows):
//!
//! ```text
//! ┌──────────────────────────────────┐  0
//! │ 75 % colour bars  ■ moving box   │  bars (2/3 of the top area); the black box moves
//! │                                  │  `step` pixels right per frame and wraps
//! ├──────────────────────────────────┤
//! │ luma ramp scrolling each frame   │  ramp strip (1/3 of the top area)
//! ├──────────────────────────────────┤  top_h
//! │ HH:MM:SS.mmm   (UTC, wall clock) │  text panel: black, white 5×7 glyphs scaled so a
//! │ FRAME 123456                     │  glyph is ≥ 1/10 of the picture height (720p: 77 px)
//! │ optional message (slate)         │
//! └──────────────────────────────────┘  h
//! ```
//!
//! **Flash:** on frames whose index satisfies `frame_index % fps == 0` (media time 0 s, 1 s, 2 s,
//! …) the whole top area (bars, box and ramp) is white (Y 235, neutral chroma); the text panel
//! stays as it is, so the clock remains readable on the flash frame.
//!
//! Rendering is row copies from rows precomputed in [`TestPattern::new`] and `fill`s: no
//! allocation and no per-pixel branching per frame.

use super::font;
use super::{RawFrame, SourceError, VideoFormat, VideoSource};
use crate::pool::Pool;
use crate::time::{hms_millis, Clock, Pts90k, HZ_90K};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Luma of black and white (BT.601 video range).
const Y_BLACK: u8 = 16;
const Y_WHITE: u8 = 235;
/// Neutral chroma.
const C_NEUTRAL: u8 = 128;
/// 75 % colour bars (Y, U, V), BT.601: white, yellow, cyan, green, magenta, red, blue.
const BARS: [(u8, u8, u8); 7] = [
    (180, 128, 128),
    (162, 44, 142),
    (131, 156, 44),
    (112, 72, 58),
    (84, 184, 198),
    (65, 100, 212),
    (35, 212, 114),
];

fn even(v: usize) -> usize {
    v & !1
}

/// Renders the test picture into I420 buffers; everything per-geometry is computed in `new`.
#[derive(Debug, Clone)]
pub struct TestPattern {
    fmt: VideoFormat,
    bar_y: Vec<u8>,
    bar_u: Vec<u8>,
    bar_v: Vec<u8>,
    /// Two periods of the luma ramp, so any scroll offset is one contiguous copy.
    ramp: Vec<u8>,
    bars_h: usize,
    top_h: usize,
    box_size: usize,
    box_y: usize,
    box_step: usize,
    scale: usize,
    line_h: usize,
    margin: usize,
}

impl TestPattern {
    /// Precomputes the rows and layout for `fmt` (width and height even and non-zero).
    pub fn new(fmt: VideoFormat) -> Self {
        let (w, h) = (fmt.width as usize, fmt.height as usize);
        let fps = fmt.fps.max(1) as usize;
        // Glyph height 7·scale ≥ h/10, but the 12 characters of the clock must fit the width.
        let scale = h
            .div_ceil(70)
            .min(w.saturating_sub(4) / (12 * font::ADVANCE))
            .max(1);
        let line_h = even(9 * scale + 1);
        let margin = 2 * scale;
        let panel_h = even(3 * line_h + 2 * scale).min(even(h));
        let top_h = even(h) - panel_h;
        let bars_h = even(top_h * 2 / 3);
        let box_size = even(bars_h / 2).min(even(w / 4));
        let box_y = even((bars_h - box_size) / 2);
        let box_step = even((w / (4 * fps)).max(2));

        let bar_y: Vec<u8> = (0..w).map(|x| BARS[x * 7 / w.max(1)].0).collect();
        let bar_u: Vec<u8> = (0..w / 2).map(|c| BARS[2 * c * 7 / w.max(1)].1).collect();
        let bar_v: Vec<u8> = (0..w / 2).map(|c| BARS[2 * c * 7 / w.max(1)].2).collect();
        let ramp: Vec<u8> = (0..2 * w)
            .map(|x| Y_BLACK + ((x % w.max(1)) * (Y_WHITE - Y_BLACK) as usize / w.max(1)) as u8)
            .collect();
        TestPattern {
            fmt,
            bar_y,
            bar_u,
            bar_v,
            ramp,
            bars_h,
            top_h,
            box_size,
            box_y,
            box_step,
            scale,
            line_h,
            margin,
        }
    }

    /// The geometry this pattern was built for.
    pub fn format(&self) -> VideoFormat {
        self.fmt
    }

    /// Height in pixels of one glyph of the clock and counter (7 × the font scale).
    pub fn glyph_height(&self) -> usize {
        font::GLYPH_H * self.scale
    }

    /// True when frame `frame_index` is a flash frame (`frame_index % fps == 0`).
    pub fn is_flash(&self, frame_index: u64) -> bool {
        frame_index % self.fmt.fps.max(1) as u64 == 0
    }

    /// Luma rows `[0, top)` that turn white on flash frames.
    pub fn flash_rows(&self) -> std::ops::Range<usize> {
        0..self.top_h
    }

    /// Renders frame `frame_index` into `out` (at least `fmt.i420_len()` bytes, tight I420),
    /// showing `wall` as `HH:MM:SS.mmm` UTC and `message`, if any, on the third text line.
    ///
    /// If `fmt` differs from the geometry given to `new`, the pattern is rebuilt first (this
    /// allocates; it happens only on a geometry change). Panics if `out` is too short.
    pub fn render(
        &mut self,
        out: &mut [u8],
        fmt: VideoFormat,
        frame_index: u64,
        wall: SystemTime,
        message: Option<&str>,
    ) {
        if fmt != self.fmt {
            *self = TestPattern::new(fmt);
        }
        let (w, h) = (fmt.width as usize, fmt.height as usize);
        let (cw, ch) = (w / 2, h / 2);
        let (y_plane, rest) = out[..fmt.i420_len()].split_at_mut(w * h);
        let (u_plane, v_plane) = rest.split_at_mut(cw * ch);
        let flash = self.is_flash(frame_index);

        // Luma.
        let (top, panel) = y_plane.split_at_mut(self.top_h * w);
        if flash {
            top.fill(Y_WHITE);
        } else {
            let (bars, ramp) = top.split_at_mut(self.bars_h * w);
            for row in bars.chunks_exact_mut(w) {
                row.copy_from_slice(&self.bar_y);
            }
            let off = (frame_index as usize).wrapping_mul(self.box_step) % w.max(1);
            for row in ramp.chunks_exact_mut(w) {
                row.copy_from_slice(&self.ramp[off..off + w]);
            }
            let span = w - self.box_size;
            let bx = if span == 0 {
                0
            } else {
                even((frame_index as usize).wrapping_mul(self.box_step) % span)
            };
            for row in bars
                .chunks_exact_mut(w)
                .skip(self.box_y)
                .take(self.box_size)
            {
                row[bx..bx + self.box_size].fill(Y_BLACK);
            }
            // Chroma of the top area: bars with a neutral box, neutral ramp.
            let (cb, cx, cs) = (self.bars_h / 2, bx / 2, self.box_size / 2);
            let cy = self.box_y / 2;
            for (plane, bar) in [(&mut *u_plane, &self.bar_u), (&mut *v_plane, &self.bar_v)] {
                for (r, row) in plane[..cb * cw].chunks_exact_mut(cw).enumerate() {
                    row.copy_from_slice(bar);
                    if r >= cy && r < cy + cs {
                        row[cx..cx + cs].fill(C_NEUTRAL);
                    }
                }
                plane[cb * cw..self.top_h / 2 * cw].fill(C_NEUTRAL);
            }
        }
        if flash {
            u_plane[..self.top_h / 2 * cw].fill(C_NEUTRAL);
            v_plane[..self.top_h / 2 * cw].fill(C_NEUTRAL);
        }
        panel.fill(Y_BLACK);
        u_plane[self.top_h / 2 * cw..].fill(C_NEUTRAL);
        v_plane[self.top_h / 2 * cw..].fill(C_NEUTRAL);

        // Text, luma only (panel chroma is neutral, so is the ink).
        let (hh, mm, ss, ms) = hms_millis(wall);
        let mut clock = *b"00:00:00.000";
        put_digits(&mut clock[0..2], hh as u64);
        put_digits(&mut clock[3..5], mm as u64);
        put_digits(&mut clock[6..8], ss as u64);
        put_digits(&mut clock[9..12], ms as u64);
        let mut counter = *b"FRAME 00000000000000000000";
        let digits = put_number(&mut counter[6..], frame_index);
        let counter = &counter[..6 + digits];

        let panel_h = h - self.top_h;
        let (s, m) = (self.scale, self.margin);
        font::draw_text(panel, w, w, panel_h, m, s, s, Y_WHITE, &clock);
        font::draw_text(
            panel,
            w,
            w,
            panel_h,
            m,
            s + self.line_h,
            s,
            Y_WHITE,
            counter,
        );
        if let Some(msg) = message {
            let msg = msg.as_bytes();
            let fit = w.saturating_sub(2 * m) / (msg.len().max(1) * font::ADVANCE);
            let ms = fit.clamp(1, s);
            let y = s + 2 * self.line_h;
            font::draw_text(panel, w, w, panel_h, m, y, ms, Y_WHITE, msg);
        }
    }
}

/// Writes `v` zero-padded into all of `dst` (most significant digit first).
fn put_digits(dst: &mut [u8], mut v: u64) {
    for d in dst.iter_mut().rev() {
        *d = b'0' + (v % 10) as u8;
        v /= 10;
    }
}

/// Writes `v` in decimal at the start of `dst`, returns the number of digits.
fn put_number(dst: &mut [u8], v: u64) -> usize {
    let mut n = 1;
    let mut t = v / 10;
    while t > 0 {
        n += 1;
        t /= 10;
    }
    put_digits(&mut dst[..n], v);
    n
}

/// A [`VideoSource`] that renders [`TestPattern`] frames, paced to real time or as fast as the
/// consumer takes them (`--fast`).
///
/// Frame `i` has `pts = i·90000/fps` (integer arithmetic from frame 0: no drift), `seq = i`,
/// `discontinuity = (i == 0)`, `captured = clock.monotonic()`. Its `wall` (also the burned-in
/// clock) is `clock.wall()` when paced, and `start_wall + pts` when not paced. A paced source
/// sleeps until `start_mono + pts` on the clock's monotonic time. When the pool has no free
/// buffer the frame is dropped ([`SourceError::PoolExhausted`]) and its index is skipped, so
/// media time keeps up with real time.
pub struct TestSource {
    pattern: TestPattern,
    clock: Arc<dyn Clock>,
    paced: bool,
    next: u64,
    start_mono: Duration,
    start_wall: SystemTime,
    message: Option<String>,
}

impl TestSource {
    /// A source of `fmt` frames timed by `clock`; media time 0 is the first `next_frame` call.
    pub fn new(fmt: VideoFormat, clock: Arc<dyn Clock>, paced: bool) -> Self {
        TestSource {
            pattern: TestPattern::new(fmt),
            start_mono: clock.monotonic(),
            start_wall: clock.wall(),
            clock,
            paced,
            next: 0,
            message: None,
        }
    }

    /// Sets the message line (e.g. `NO SIGNAL`) shown from the next frame on.
    pub fn set_message(&mut self, message: Option<String>) {
        self.message = message;
    }

    /// Media time of frame `i` at `fps`.
    pub fn pts_of(i: u64, fps: u32) -> Pts90k {
        Pts90k(i * HZ_90K / fps.max(1) as u64)
    }
}

impl VideoSource for TestSource {
    fn name(&self) -> &str {
        "testsrc"
    }

    fn format(&self) -> VideoFormat {
        self.pattern.format()
    }

    fn next_frame(&mut self, pool: &Pool) -> Result<RawFrame, SourceError> {
        let fmt = self.pattern.format();
        let i = self.next;
        self.next += 1;
        let pts = Self::pts_of(i, fmt.fps);
        if i == 0 {
            // Media time 0 is the first frame asked for, so a consumer that starts late (encoder
            // start-up) does not receive a burst of overdue frames.
            self.start_mono = self.clock.monotonic();
            self.start_wall = self.clock.wall();
        }
        if self.paced {
            let due = self.start_mono + pts.to_duration();
            let now = self.clock.monotonic();
            if now < due {
                std::thread::sleep(due - now);
            }
        }
        let mut buf = pool.try_take().ok_or(SourceError::PoolExhausted)?;
        if buf.len() < fmt.i420_len() {
            return Err(SourceError::Io(format!(
                "testsrc: pool buffers of {} bytes are smaller than a {}x{} I420 frame ({} bytes)",
                buf.len(),
                fmt.width,
                fmt.height,
                fmt.i420_len()
            )));
        }
        let captured = self.clock.monotonic();
        let wall = if self.paced {
            self.clock.wall()
        } else {
            self.start_wall + pts.to_duration()
        };
        self.pattern
            .render(&mut buf, fmt, i, wall, self.message.as_deref());
        Ok(RawFrame {
            buf,
            format: fmt,
            pts,
            captured,
            wall,
            seq: i,
            discontinuity: i == 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_formatting() {
        let mut b = [0u8; 20];
        assert_eq!(put_number(&mut b, 0), 1);
        assert_eq!(&b[..1], b"0");
        assert_eq!(put_number(&mut b, 1234567), 7);
        assert_eq!(&b[..7], b"1234567");
        assert_eq!(put_number(&mut b, u64::MAX), 20);
        assert_eq!(&b[..20], b"18446744073709551615");
    }

    #[test]
    fn glyphs_are_a_tenth_of_720p() {
        let p = TestPattern::new(VideoFormat {
            width: 1280,
            height: 720,
            fps: 30,
        });
        assert!(p.glyph_height() >= 72, "{}", p.glyph_height());
        // The clock still fits at small sizes.
        let p = TestPattern::new(VideoFormat {
            width: 320,
            height: 240,
            fps: 30,
        });
        assert!(p.glyph_height() >= 24);
    }
}
