//! Benchmark helper: hlscam's muxer path alone. Reads pre-encoded H.264 (Annex B) and AAC (ADTS),
//! splits access units and ADTS frames with `hlscam::codec`, stamps them (constant frame rate,
//! 1024 samples per AAC frame), interleaves by DTS and feeds [`hlscam::hls::HlsOutput`]
//! (2 s segments, window 6): the same TS muxer → segmenter → ring → playlist code the camera
//! pipeline runs. Used by `bench/mux_only.sh`; not part of the `hlscam` CLI.
//!
//! ```text
//! cargo build --release --example remux
//! target/release/examples/remux VIDEO.h264 AUDIO.aac OUTDIR [FPS] [--split-only]
//! ```
//! The H.264 stream must have no B-frames (PTS = DTS = frame index / FPS). `--split-only` reads
//! and splits the input but muxes nothing, so the input's own cost can be subtracted.

use hlscam::codec::adts::AdtsFrames;
use hlscam::codec::h264::{find_start_code, is_vcl, NAL_AUD, NAL_PPS, NAL_SEI, NAL_SPS};
use hlscam::hls::{HlsConfig, HlsOutput};
use hlscam::media::{AudioAu, VideoAu};
use hlscam::time::{Pts90k, HZ_90K};
use std::time::{Duration, Instant, SystemTime};

/// Splits an Annex B stream into access units (H.264 §7.4.1.2.3): a new AU starts at an AUD,
/// SPS, PPS or SEI that follows a coded slice, or at a coded slice with `first_mb_in_slice` = 0
/// when the current AU already has one. Yields byte ranges including the start codes.
struct AuSplitter<'a> {
    data: &'a [u8],
    /// Start code position of the next NAL unit and the length of that start code.
    next: Option<(usize, usize)>,
}

impl<'a> Iterator for AuSplitter<'a> {
    /// (AU bytes, contains an IDR slice)
    type Item = (&'a [u8], bool);

    fn next(&mut self) -> Option<Self::Item> {
        let (start, _) = self.next?;
        let (mut has_vcl, mut idr) = (false, false);
        let mut cur = self.next;
        while let Some((p, l)) = cur {
            let h = p + l;
            let following = find_start_code(self.data, h);
            let (Some(&b0), b1) = (self.data.get(h), self.data.get(h + 1).copied()) else {
                cur = following;
                continue;
            };
            let t = b0 & 0x1F;
            let first_mb_zero = b1.is_some_and(|b| b & 0x80 != 0);
            let starts_au =
                matches!(t, NAL_AUD | NAL_SPS | NAL_PPS | NAL_SEI) || (is_vcl(t) && first_mb_zero);
            if has_vcl && starts_au {
                self.next = cur;
                return Some((&self.data[start..p], idr));
            }
            if is_vcl(t) {
                has_vcl = true;
                idr |= t == 5;
            }
            cur = following;
        }
        self.next = None;
        Some((&self.data[start..], idr))
    }
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() < 4 {
        eprintln!("usage: remux VIDEO.h264 AUDIO.aac OUTDIR [FPS] [--split-only]");
        std::process::exit(2);
    }
    let split_only = a.iter().any(|s| s == "--split-only");
    let fps: u64 = a
        .get(4)
        .filter(|s| !s.starts_with("--"))
        .map_or(30, |s| s.parse().expect("FPS"));
    let t0 = Instant::now();
    let vmap = Mapped::open(&a[1]);
    let amap = Mapped::open(&a[2]);
    let (video, audio) = (vmap.bytes(), amap.bytes());
    let read = t0.elapsed();

    let mut aus = AuSplitter {
        data: video,
        next: find_start_code(video, 0),
    }
    .enumerate()
    .map(|(i, (data, key))| {
        let t = Pts90k(i as u64 * HZ_90K / fps);
        VideoAu {
            data,
            pts: t,
            dts: t,
            key,
        }
    })
    .peekable();
    let mut sample = 0u64;
    let mut frames = AdtsFrames::new(audio)
        .map_while(Result::ok)
        .map(|(h, data)| {
            let pts = Pts90k(sample * HZ_90K / h.sample_rate.max(1) as u64);
            sample += h.samples() as u64;
            AudioAu { data, pts }
        })
        .peekable();

    let mut out = if split_only {
        None
    } else {
        let mut cfg = HlsConfig::new(&a[3], 2, 6);
        cfg.state_file = std::path::Path::new(&a[3]).join(".remux-state");
        Some(HlsOutput::open(cfg).expect("opening the HLS output"))
    };
    let wall0 = SystemTime::now();
    let (mut nv, mut na, mut bytes) = (0u64, 0u64, 0usize);
    loop {
        let take_audio = match (aus.peek(), frames.peek()) {
            (Some(v), Some(au)) => au.pts < v.dts,
            (None, Some(_)) => true,
            (Some(_), None) => false,
            (None, None) => break,
        };
        if take_audio {
            let au = frames.next().unwrap();
            amap.release_before(au.data.as_ptr());
            bytes += au.data.len();
            na += 1;
            if let Some(o) = &mut out {
                o.push_audio(&au).expect("muxing audio");
            }
        } else {
            let au = aus.next().unwrap();
            vmap.release_before(au.data.as_ptr());
            bytes += au.data.len();
            nv += 1;
            if let Some(o) = &mut out {
                o.push_video(&au, wall0 + au.pts.to_duration())
                    .expect("muxing video");
            }
        }
    }
    let (segments, publish_ns) = match &mut out {
        Some(o) => {
            o.finish(true).expect("finishing");
            (o.segments_published(), o.publish_nanos())
        }
        None => (0, 0),
    };
    let total = t0.elapsed();
    eprintln!(
        "remux: {nv} video AUs, {na} AAC frames, {bytes} bytes, {segments} segments; \
         read {:.1} ms, split+mux+publish {:.1} ms (publish {:.1} ms){}",
        ms(read),
        ms(total - read),
        publish_ns as f64 / 1e6,
        if split_only { " [split only]" } else { "" }
    );
}

/// A read-only memory map of an input file. Pages already consumed are dropped from the
/// process (`MADV_DONTNEED`), so the input costs a sliding window of RSS, like a read buffer,
/// not the whole file.
struct Mapped {
    ptr: *mut libc::c_void,
    len: usize,
    released: std::cell::Cell<usize>,
}

impl Mapped {
    fn open(path: &str) -> Mapped {
        use std::os::fd::AsRawFd;
        let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let len = f.metadata().expect("input size").len() as usize;
        assert!(len > 0, "{path} is empty");
        // SAFETY: a fresh private read-only mapping of a whole file we opened; checked below.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                f.as_raw_fd(),
                0,
            )
        };
        assert!(ptr != libc::MAP_FAILED, "mmap {path} failed");
        // SAFETY: `ptr` maps `len` readable bytes (checked above).
        unsafe { libc::madvise(ptr, len, libc::MADV_SEQUENTIAL) };
        Mapped {
            ptr,
            len,
            released: std::cell::Cell::new(0),
        }
    }

    fn bytes(&self) -> &[u8] {
        // SAFETY: the mapping lives as long as `self` and is never written.
        unsafe { std::slice::from_raw_parts(self.ptr as *const u8, self.len) }
    }

    /// Drops the whole pages before `p` (a pointer into the mapping) from the process.
    fn release_before(&self, p: *const u8) {
        const PAGE: usize = 4096;
        let off = (p as usize).saturating_sub(self.ptr as usize) / PAGE * PAGE;
        // Every 256 KiB, like a read buffer being refilled.
        if off >= self.released.get() + 64 * PAGE {
            // SAFETY: the range lies inside the mapping; nothing reads those bytes again (the
            // mapping is read-only and private: dropped pages would read back from the file).
            unsafe { libc::madvise(self.ptr, off, libc::MADV_DONTNEED) };
            self.released.set(off);
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
