//! VM checks of the V4L2 M2M encoder (included by `tests/hw.rs`): vivid → our encoder on
//! vicodec's stateful FWHT encoder (loaded with `multiplanar=1`, as bcm2835-codec is) →
//! vicodec's stateful decoder → PSNR against the source pictures.
//!
//! * `m2m_vicodec`: pool I420 frames from `V4l2Source` (the pipeline's path: MMAP `OUTPUT`
//!   buffers, copied into).
//! * `m2m_dmabuf`: vivid's own capture buffers exported with `VIDIOC_EXPBUF` and queued into
//!   the encoder's `OUTPUT` queue as `V4L2_MEMORY_DMABUF` (zero copy).
//!
//! PSNR threshold 30 dB (Y plane): vicodec's FWHT at its default quantisation (I and P QP 20)
//! reconstructs vivid's bars within a few code values (typically 35–45 dB); a wrong stride,
//! plane offset or a picture matched to the wrong timestamp (vivid's pattern is set moving,
//! so neighbouring frames differ) falls far below it.

use hlscam::encode::v4l2_m2m::{
    export_buffer, find_h264_encoder, CodedFormat, Format, InputMeta, M2mDecoder, M2mEncoder,
    Memory,
};
use hlscam::encode::{EncodedVideo, VideoEncoder};
use hlscam::pool::Pool;
use hlscam::source::v4l2::{resolve_device, PixelFormat, V4l2Source};
use hlscam::source::{VideoFormat, VideoSource};
use hlscam::time::{Pts90k, SystemClock};
use std::collections::HashMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::raw::c_void;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use v4l::v4l2;
use v4l::v4l_sys as sys;

/// The MMAP check's size: vicodec rounds the rows up to 368 (chroma-aligned), so the copy
/// into a taller buffer is exercised.
const MMAP_SIZE: (u32, u32) = (640, 360);
/// The DMABUF check's size: one where vivid's buffer layout is exactly vicodec's (480 rows
/// need no rounding), since an imported buffer cannot be re-laid out.
const DMABUF_SIZE: (u32, u32) = (640, 480);
const FRAMES: usize = 30;
const MIN_PSNR: f64 = 30.0;
/// Pictures before the allocation count starts (buffers reaching their size).
const WARMUP: usize = 5;

fn paths() -> Result<(String, String, String), String> {
    let vivid = resolve_device("vivid-000-vid-cap").map_err(|e| e.to_string())?;
    let enc = resolve_device("stateful-encoder").map_err(|e| e.to_string())?;
    let dec = resolve_device("stateful-decoder").map_err(|e| e.to_string())?;
    Ok((vivid, enc, dec))
}

/// Y-plane PSNR of `dec` (rows `stride` apart) against tightly packed `src`.
fn psnr_y(src: &[u8], dec: &[u8], (w, h): (usize, usize), stride: usize) -> f64 {
    let mut se = 0f64;
    for y in 0..h {
        for x in 0..w {
            let d = src[y * w + x] as f64 - dec[y * stride + x] as f64;
            se += d * d;
        }
    }
    let mse = se / (w * h) as f64;
    if mse == 0.0 {
        99.0
    } else {
        10.0 * (255.0 * 255.0 / mse).log10()
    }
}

const MOVING: &str = "moving pattern";

/// vivid's pattern moving right fast (so consecutive pictures differ), or back to still.
fn vivid_moving(vivid: &str, on: bool) -> String {
    let v = if on { "6" } else { "3" };
    match std::process::Command::new("v4l2-ctl")
        .args(["-d", vivid, "-c", &format!("horizontal_movement={v}")])
        .output()
    {
        Ok(o) if o.status.success() => MOVING.into(),
        Ok(o) => format!(
            "pattern not moved: {}",
            String::from_utf8_lossy(&o.stderr).trim()
        ),
        Err(e) => format!("pattern not moved: {e}"),
    }
}

/// Decodes one access unit tagged `tag` and checks each picture against `refs`.
struct Checker {
    size: (u32, u32),
    dec: M2mDecoder,
    /// Reference Y plane of each input by tag, with the tag of the input before it.
    refs: HashMap<u64, (Vec<u8>, Option<u64>)>,
    last_tag: Option<u64>,
    psnr: Vec<f64>,
    /// PSNR of each decoded picture against the *previous* source picture: how far a
    /// one-frame mismatch would fall (justifies the threshold).
    neighbour: Vec<f64>,
    unmatched: u32,
    /// vivid's pattern moves: neighbouring pictures must then score below the threshold.
    pub moving: bool,
}

impl Checker {
    fn new(dec_path: &str, size: (u32, u32)) -> Result<Checker, String> {
        Ok(Checker {
            size,
            dec: M2mDecoder::open(dec_path, CodedFormat::Fwht, size.0, size.1)
                .map_err(|e| format!("decoder {dec_path}: {e}"))?,
            refs: HashMap::new(),
            last_tag: None,
            psnr: Vec::new(),
            neighbour: Vec::new(),
            unmatched: 0,
            moving: false,
        })
    }

    fn add_ref(&mut self, tag: u64, y: Vec<u8>) {
        self.refs.insert(tag, (y, self.last_tag));
        self.last_tag = Some(tag);
    }

    fn sink<'a>(
        (w, h): (u32, u32),
        refs: &'a HashMap<u64, (Vec<u8>, Option<u64>)>,
        psnr: &'a mut Vec<f64>,
        neighbour: &'a mut Vec<f64>,
        unmatched: &'a mut u32,
    ) -> impl FnMut(u64, &Format, &[u8]) + 'a {
        move |tag, f, data| match refs.get(&tag) {
            Some((r, prev)) if f.width >= w && f.height >= h => {
                let size = (w as usize, h as usize);
                let stride = (f.bytesperline as usize).max(w as usize);
                psnr.push(psnr_y(r, data, size, stride));
                if let Some((p, _)) = prev.and_then(|t| refs.get(&t)) {
                    neighbour.push(psnr_y(p, data, size, stride));
                }
            }
            _ => *unmatched += 1,
        }
    }

    fn decode(&mut self, au: &EncodedVideo) -> Result<(), String> {
        let mut sink = Self::sink(
            self.size,
            &self.refs,
            &mut self.psnr,
            &mut self.neighbour,
            &mut self.unmatched,
        );
        self.dec
            .decode(&au.data, au.pts.0, &mut sink)
            .map_err(|e| format!("decoding pts {}: {e}", au.pts))?;
        Ok(())
    }

    fn finish(&mut self) -> Result<String, String> {
        {
            let mut sink = Self::sink(
                self.size,
                &self.refs,
                &mut self.psnr,
                &mut self.neighbour,
                &mut self.unmatched,
            );
            self.dec
                .drain(&mut sink)
                .map_err(|e| format!("decoder drain: {e}"))?;
        }
        if !self.dec.last_seen() {
            return Err("decoder: no LAST buffer".into());
        }
        if self.psnr.len() != self.refs.len() || self.unmatched != 0 {
            return Err(format!(
                "decoded {} pictures for {} inputs, {} with an unknown timestamp",
                self.psnr.len(),
                self.refs.len(),
                self.unmatched
            ));
        }
        let min = self.psnr.iter().cloned().fold(f64::INFINITY, f64::min);
        let avg = self.psnr.iter().sum::<f64>() / self.psnr.len() as f64;
        if min < MIN_PSNR {
            return Err(format!(
                "PSNR(Y) min {min:.1} dB < {MIN_PSNR} (avg {avg:.1})"
            ));
        }
        let nmax = self.neighbour.iter().cloned().fold(0.0, f64::max);
        if self.moving && nmax >= MIN_PSNR {
            return Err(format!(
                "the threshold does not tell frames apart: PSNR against the previous picture up to {nmax:.1} dB"
            ));
        }
        Ok(format!(
            "PSNR(Y) min {min:.1} dB avg {avg:.1} dB (against the previous source picture: max {nmax:.1} dB)"
        ))
    }
}

/// vivid frames (I420 in pool buffers) → M2M FWHT encoder (MMAP + copy) → decoder.
pub fn m2m_vicodec(figures: &mut Vec<String>) -> Result<String, String> {
    let (vivid, enc_path, dec_path) = paths()?;
    let moving = vivid_moving(&vivid, true);
    let r = run_mmap(&vivid, &enc_path, &dec_path, moving == MOVING);
    vivid_moving(&vivid, false);
    let (msg, fig) = r?;
    figures.push(format!("m2m_vicodec (MMAP + copy): {fig}"));
    Ok(format!("{msg}; {moving}"))
}

fn run_mmap(
    vivid: &str,
    enc_path: &str,
    dec_path: &str,
    moving: bool,
) -> Result<(String, String), String> {
    let (w, h) = MMAP_SIZE;
    let vf = VideoFormat {
        width: w,
        height: h,
        fps: 30,
    };
    let mut src = V4l2Source::open_with_formats(
        vivid,
        vf,
        &[PixelFormat::Yu12],
        Arc::new(SystemClock::new()),
    )
    .map_err(|e| e.to_string())?;
    let pool = Pool::new(4, vf.i420_len());
    let mut enc =
        M2mEncoder::open(enc_path, CodedFormat::Fwht, vf, 2000, 30).map_err(|e| e.to_string())?;
    if enc.name() != format!("v4l2m2m:{enc_path}") {
        return Err(format!("name {}", enc.name()));
    }
    let mut chk = Checker::new(dec_path, MMAP_SIZE)?;
    chk.moving = moving;
    let mut out = EncodedVideo::with_capacity(1 << 20);
    let mut bytes = 0;
    let mut keys = 0;
    let mut allocs = 0;
    for i in 0..FRAMES {
        let f = src.next_frame(&pool).map_err(|e| e.to_string())?;
        chk.add_ref(f.pts.0, f.buf[..(w * h) as usize].to_vec());
        let (r, n) = crate::counting_alloc::measure(|| enc.encode(&f, &mut out));
        if i >= WARMUP {
            allocs += n;
        }
        if !r.map_err(|e| e.to_string())? {
            return Err(format!("frame {i}: no access unit"));
        }
        if out.pts != f.pts || out.dts != f.pts || out.captured != f.captured {
            return Err(format!(
                "frame {i}: out pts {} for input {}",
                out.pts, f.pts
            ));
        }
        if !CodedFormat::Fwht.is_key(&out.data) && i == 0 {
            return Err("first FWHT frame is not an I-frame".into());
        }
        keys += out.key as u32;
        bytes += out.data.len();
        chk.decode(&out)?;
    }
    let drained = enc
        .drain(|au| {
            let _ = au;
        })
        .map_err(|e| e.to_string())?;
    let c = enc.counters();
    if !c.last_seen {
        return Err("encoder drain: no LAST buffer".into());
    }
    if c.frames_in != FRAMES as u64 || c.frames_out != FRAMES as u64 || c.lost != 0 {
        return Err(format!("counters {c:?}"));
    }
    // Waiting is blocking poll(), not spinning: a handful of wake-ups per picture at most.
    if c.waits > 10 * FRAMES as u64 {
        return Err(format!(
            "{} polls for {FRAMES} pictures: busy waiting",
            c.waits
        ));
    }
    let psnr = chk.finish()?;
    if allocs != 0 {
        return Err(format!(
            "{allocs} heap allocations in encode() over frames {WARMUP}..{FRAMES}"
        ));
    }
    // The counter does count in this binary: one deliberate allocation is seen.
    let (v, seen) =
        crate::counting_alloc::measure(|| std::hint::black_box(Vec::<u8>::with_capacity(8)));
    drop(v);
    if seen != 1 {
        return Err(format!("the allocation counter saw {seen} of 1 allocation"));
    }
    // vicodec is no H.264 encoder: `encoder = "auto"` must not pick it.
    if let Some((p, card)) = find_h264_encoder() {
        return Err(format!(
            "find_h264_encoder() returned {p} ({card}) in the VM"
        ));
    }
    let l = enc.input_layout();
    let fig = format!(
        "{FRAMES} frames {w}x{h}, {psnr}, {bytes} B FWHT, {keys} I-frames (GOP_SIZE 16), stride {} rows {} ({:?}), stale {}, drained {drained} + LAST, {} polls",
        l.y_stride,
        enc.input_format().height,
        enc.input_memory(),
        c.stale,
        c.waits
    );
    Ok((
        format!("{FRAMES} in = {FRAMES} out = {FRAMES} decoded, timestamps matched, encoder and decoder drained to LAST, {psnr}; 0 allocations in encode() after {WARMUP} frames; find_h264_encoder() = None (vicodec is FWHT)"),
        fig,
    ))
}

/// vivid's single-planar capture ring with mmap (to read the reference) and EXPBUF.
struct VividRing {
    fd: OwnedFd,
    maps: Vec<(*mut u8, usize)>,
    dmabufs: Vec<OwnedFd>,
    fmt: sys::v4l2_pix_format,
}

const CAP: u32 = sys::v4l2_buf_type_V4L2_BUF_TYPE_VIDEO_CAPTURE;

unsafe fn xioctl<T>(fd: i32, req: v4l2::vidioc::_IOC_TYPE, arg: &mut T) -> std::io::Result<()> {
    v4l2::ioctl(fd, req, arg as *mut T as *mut c_void)
}

impl VividRing {
    fn open(path: &str, (w, h): (u32, u32)) -> Result<VividRing, String> {
        let c = std::ffi::CString::new(path).unwrap();
        let fd = unsafe { libc::open(c.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
        if fd < 0 {
            return Err(format!("open {path}: {}", std::io::Error::last_os_error()));
        }
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let raw = fd.as_raw_fd();
        let mut f: sys::v4l2_format = unsafe { std::mem::zeroed() };
        f.type_ = CAP;
        unsafe {
            f.fmt.pix.width = w;
            f.fmt.pix.height = h;
            f.fmt.pix.pixelformat = u32::from_le_bytes(*b"YU12");
            f.fmt.pix.field = sys::v4l2_field_V4L2_FIELD_NONE;
            xioctl(raw, v4l2::vidioc::VIDIOC_S_FMT, &mut f).map_err(|e| format!("S_FMT: {e}"))?;
        }
        let pix = unsafe { f.fmt.pix };
        if pix.pixelformat.to_le_bytes() != *b"YU12" || (pix.width, pix.height) != (w, h) {
            return Err(format!(
                "vivid gave {} {}x{}",
                String::from_utf8_lossy(&pix.pixelformat.to_le_bytes()),
                pix.width,
                pix.height
            ));
        }
        let mut r: sys::v4l2_requestbuffers = unsafe { std::mem::zeroed() };
        r.count = 4;
        r.type_ = CAP;
        r.memory = sys::v4l2_memory_V4L2_MEMORY_MMAP;
        unsafe { xioctl(raw, v4l2::vidioc::VIDIOC_REQBUFS, &mut r) }
            .map_err(|e| format!("REQBUFS: {e}"))?;
        let mut ring = VividRing {
            fd,
            maps: Vec::new(),
            dmabufs: Vec::new(),
            fmt: pix,
        };
        for i in 0..r.count {
            let mut b: sys::v4l2_buffer = unsafe { std::mem::zeroed() };
            b.index = i;
            b.type_ = CAP;
            b.memory = sys::v4l2_memory_V4L2_MEMORY_MMAP;
            unsafe { xioctl(raw, v4l2::vidioc::VIDIOC_QUERYBUF, &mut b) }
                .map_err(|e| format!("QUERYBUF: {e}"))?;
            let p = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    b.length as usize,
                    libc::PROT_READ,
                    libc::MAP_SHARED,
                    raw,
                    b.m.offset as libc::off_t,
                )
            };
            if p == libc::MAP_FAILED {
                return Err(format!("mmap: {}", std::io::Error::last_os_error()));
            }
            ring.maps.push((p as *mut u8, b.length as usize));
            let d = export_buffer(raw, CAP, i).map_err(|e| {
                format!(
                    "EXPBUF of vivid buffer {i}: {e} (errno {:?})",
                    e.raw_os_error()
                )
            })?;
            ring.dmabufs.push(d);
        }
        for i in 0..r.count {
            ring.queue(i)?;
        }
        let mut t = CAP as i32;
        unsafe { xioctl(raw, v4l2::vidioc::VIDIOC_STREAMON, &mut t) }
            .map_err(|e| format!("STREAMON: {e}"))?;
        Ok(ring)
    }

    fn queue(&self, i: u32) -> Result<(), String> {
        let mut b: sys::v4l2_buffer = unsafe { std::mem::zeroed() };
        b.index = i;
        b.type_ = CAP;
        b.memory = sys::v4l2_memory_V4L2_MEMORY_MMAP;
        unsafe { xioctl(self.fd.as_raw_fd(), v4l2::vidioc::VIDIOC_QBUF, &mut b) }
            .map_err(|e| format!("vivid QBUF: {e}"))
    }

    /// Blocking DQBUF: (index, bytesused, length).
    fn dequeue(&self) -> Result<(u32, u32, u32), String> {
        let mut b: sys::v4l2_buffer = unsafe { std::mem::zeroed() };
        b.type_ = CAP;
        b.memory = sys::v4l2_memory_V4L2_MEMORY_MMAP;
        unsafe { xioctl(self.fd.as_raw_fd(), v4l2::vidioc::VIDIOC_DQBUF, &mut b) }
            .map_err(|e| format!("vivid DQBUF: {e}"))?;
        Ok((b.index, b.bytesused, b.length))
    }

    fn data(&self, i: u32) -> &[u8] {
        let (p, len) = self.maps[i as usize];
        unsafe { std::slice::from_raw_parts(p, len) }
    }
}

impl Drop for VividRing {
    fn drop(&mut self) {
        let mut t = CAP as i32;
        let _ = unsafe { xioctl(self.fd.as_raw_fd(), v4l2::vidioc::VIDIOC_STREAMOFF, &mut t) };
        for &(p, len) in &self.maps {
            unsafe { libc::munmap(p as *mut c_void, len) };
        }
        self.dmabufs.clear();
    }
}

/// vivid buffers exported (EXPBUF) → the encoder's OUTPUT queue as DMABUF → decoder.
pub fn m2m_dmabuf(figures: &mut Vec<String>) -> Result<String, String> {
    let (vivid, enc_path, dec_path) = paths()?;
    let moving = vivid_moving(&vivid, true);
    let r = run_dmabuf(&vivid, &enc_path, &dec_path, moving == MOVING);
    vivid_moving(&vivid, false);
    match r {
        Ok((msg, fig)) => {
            figures.push(format!("m2m_dmabuf (DMABUF, zero copy): {fig}"));
            Ok(format!("{msg}; {moving}"))
        }
        Err(DmabufError::Refused(why)) => {
            // The kernel would not take the buffers: say so, and prove the fallback works.
            let (msg, fig) = run_mmap(&vivid, &enc_path, &dec_path, moving == MOVING)?;
            figures.push(format!(
                "m2m_dmabuf refused ({why}); fallback MMAP + copy: {fig}"
            ));
            Ok(format!(
                "DMABUF refused: {why}; fallback MMAP + copy: {msg}"
            ))
        }
        Err(DmabufError::Failed(e)) => Err(e),
    }
}

enum DmabufError {
    /// The kernel refused the import (an errno), before any picture was encoded.
    Refused(String),
    /// Anything else.
    Failed(String),
}

impl From<String> for DmabufError {
    fn from(s: String) -> Self {
        DmabufError::Failed(s)
    }
}

fn run_dmabuf(
    vivid: &str,
    enc_path: &str,
    dec_path: &str,
    moving: bool,
) -> Result<(String, String), DmabufError> {
    let (w, h) = DMABUF_SIZE;
    let vf = VideoFormat {
        width: w,
        height: h,
        fps: 30,
    };
    let ring = VividRing::open(vivid, DMABUF_SIZE).map_err(|e| {
        if e.contains("EXPBUF") {
            DmabufError::Refused(e)
        } else {
            DmabufError::Failed(e)
        }
    })?;
    let mut enc = M2mEncoder::open_with(enc_path, CodedFormat::Fwht, vf, 2000, 30, Memory::Dmabuf)
        .map_err(|e| e.msg)?;
    let l = enc.input_layout();
    if l.y_stride != ring.fmt.bytesperline as usize || l.len > ring.fmt.sizeimage as usize {
        return Err(DmabufError::Failed(format!(
            "layouts differ: encoder stride {} len {}, vivid stride {} size {}",
            l.y_stride, l.len, ring.fmt.bytesperline, ring.fmt.sizeimage
        )));
    }
    let mut chk = Checker::new(dec_path, DMABUF_SIZE)?;
    chk.moving = moving;
    let mut out = EncodedVideo::with_capacity(1 << 20);
    let mut bytes = 0;
    let mut allocs = 0;
    for i in 0..FRAMES {
        let (idx, used, len) = ring.dequeue()?;
        let stride = ring.fmt.bytesperline as usize;
        let data = ring.data(idx);
        let y: Vec<u8> = (0..h as usize)
            .flat_map(|r| data[r * stride..r * stride + w as usize].iter().copied())
            .collect();
        let pts = Pts90k(90_000 + i as u64 * 3000);
        chk.add_ref(pts.0, y);
        let meta = InputMeta {
            pts,
            captured: Duration::from_millis(i as u64 * 33),
            wall: SystemTime::now(),
            discontinuity: i == 0,
        };
        let fd = ring.dmabufs[idx as usize].as_raw_fd();
        let (r, n) =
            crate::counting_alloc::measure(|| enc.encode_dmabuf(fd, used, len, meta, &mut out));
        if i >= WARMUP {
            allocs += n;
        }
        match r {
            Ok(true) => {}
            Ok(false) => return Err(format!("frame {i}: no access unit").into()),
            Err(e) if i == 0 && e.msg.contains("QBUF OUTPUT") => {
                return Err(DmabufError::Refused(e.msg));
            }
            Err(e) => return Err(e.msg.into()),
        }
        ring.queue(idx)?;
        if out.pts != pts || out.discontinuity != (i == 0) {
            return Err(format!("frame {i}: out pts {} for {pts}", out.pts).into());
        }
        bytes += out.data.len();
        chk.decode(&out)?;
    }
    enc.drain(|_| {}).map_err(|e| e.msg)?;
    let c = enc.counters();
    if !c.last_seen || c.frames_out != FRAMES as u64 {
        return Err(format!("counters {c:?}").into());
    }
    let psnr = chk.finish()?;
    if allocs != 0 {
        return Err(format!(
            "{allocs} heap allocations in encode_dmabuf() over frames {WARMUP}..{FRAMES}"
        )
        .into());
    }
    Ok((
        format!("{FRAMES} vivid buffers imported as DMABUF (no copy), {FRAMES} decoded, drained to LAST, {psnr}; 0 allocations in encode_dmabuf() after {WARMUP} frames"),
        format!(
            "{FRAMES} frames {w}x{h}, {psnr}, {bytes} B FWHT, input {:?}, {} polls",
            enc.input_memory(),
            c.waits
        ),
    ))
}

/// vicodec's platform device bound to its driver (`/sys/bus/platform/drivers/vicodec/<dev>`).
fn vicodec_device() -> Result<String, String> {
    let dir = "/sys/bus/platform/drivers/vicodec";
    std::fs::read_dir(dir)
        .map_err(|e| format!("{dir}: {e}"))?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.starts_with("vicodec"))
        .ok_or_else(|| format!("no vicodec device bound in {dir}"))
}

fn vicodec_bind(dev: &str, bind: bool) -> Result<(), String> {
    let f = format!(
        "/sys/bus/platform/drivers/vicodec/{}",
        if bind { "bind" } else { "unbind" }
    );
    std::fs::write(&f, dev).map_err(|e| format!("{f} <- {dev}: {e}"))
}

/// The hardware encoder dies mid-stream (vicodec's device unbound from its driver: every
/// further ioctl fails with ENODEV, as for a codec that went away) and the fallback wrapper the
/// binary uses (`encode::fallback`) carries on with openh264: the first picture after the
/// unplug comes out as an H.264 IDR flagged `discontinuity`, the rest follow, ffmpeg decodes
/// them. vicodec is bound again afterwards.
pub fn m2m_unplug_fallback(figures: &mut Vec<String>) -> Result<String, String> {
    use hlscam::encode::fallback::FallbackEncoder;
    use hlscam::encode::openh264::OpenH264Encoder;
    use std::sync::atomic::{AtomicBool, Ordering};
    let (vivid, enc_path, _) = paths()?;
    let dev = vicodec_device()?;
    let want = VideoFormat {
        width: MMAP_SIZE.0,
        height: MMAP_SIZE.1,
        fps: 30,
    };
    let mut src = V4l2Source::open_with_formats(
        &vivid,
        want,
        &[PixelFormat::Yu12],
        Arc::new(SystemClock::new()),
    )
    .map_err(|e| e.to_string())?;
    // What vivid delivers (it may adjust the size), so encoder and frames agree.
    let vf = src.format();
    let pool = Pool::new(4, vf.i420_len());
    let hw =
        M2mEncoder::open(&enc_path, CodedFormat::Fwht, vf, 500, 30).map_err(|e| e.to_string())?;
    let failed = Arc::new(AtomicBool::new(false));
    let mut enc = FallbackEncoder::new(
        Box::new(hw),
        Box::new(move || {
            OpenH264Encoder::new(vf, 500, 30, 1).map(|e| Box::new(e) as Box<dyn VideoEncoder>)
        }),
        failed.clone(),
    );
    let mut out = EncodedVideo::with_capacity(1 << 20);
    const BEFORE: usize = 10;
    const AFTER: usize = 20;
    let mut fwht = 0;
    for i in 0..BEFORE {
        let f = src.next_frame(&pool).map_err(|e| e.to_string())?;
        if !enc.encode(&f, &mut out).map_err(|e| e.to_string())? {
            return Err(format!("frame {i}: no access unit from vicodec"));
        }
        if out.data.starts_with(&[0, 0, 0, 1]) || out.discontinuity {
            return Err(format!(
                "frame {i}: not vicodec's FWHT output ({} B, discontinuity {}, encoder {})",
                out.data.len(),
                out.discontinuity,
                enc.name()
            ));
        }
        fwht += 1;
    }
    vicodec_bind(&dev, false)?;
    let result = (|| -> Result<(String, usize), String> {
        let mut h264 = Vec::new();
        let mut first: Option<(bool, bool)> = None;
        let mut later_disc = 0;
        for i in 0..AFTER {
            let f = src.next_frame(&pool).map_err(|e| e.to_string())?;
            let produced = enc
                .encode(&f, &mut out)
                .map_err(|e| format!("frame {}: {e}", BEFORE + i))?;
            if !produced {
                return Err(format!("frame {}: nothing after the switch", BEFORE + i));
            }
            if out.pts != f.pts {
                return Err(format!("pts {} for input {}", out.pts, f.pts));
            }
            match first {
                None => first = Some((out.key, out.discontinuity)),
                Some(_) => later_disc += out.discontinuity as usize,
            }
            h264.extend_from_slice(&out.data);
        }
        if first != Some((true, true)) {
            return Err(format!(
                "first picture after the unplug: (key, discontinuity) = {first:?}, want IDR + discontinuity"
            ));
        }
        if later_disc != 0 || !failed.load(Ordering::SeqCst) || enc.name() != "openh264" {
            return Err(format!(
                "after the switch: {later_disc} more discontinuities, failed flag {}, encoder {}",
                failed.load(Ordering::SeqCst),
                enc.name()
            ));
        }
        let file = std::env::temp_dir().join("hlscam-m2m-fallback.h264");
        std::fs::write(&file, &h264).map_err(|e| e.to_string())?;
        let o = std::process::Command::new("ffprobe")
            .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
            .args([
                "-show_entries",
                "stream=codec_name,nb_read_frames",
                "-of",
                "csv=p=0",
            ])
            .arg(&file)
            .output()
            .map_err(|e| format!("ffprobe: {e}"))?;
        let _ = std::fs::remove_file(&file);
        let probe = String::from_utf8_lossy(&o.stdout).trim().to_string();
        if !o.status.success() || !o.stderr.is_empty() || probe != format!("h264,{AFTER}") {
            return Err(format!(
                "ffprobe of the fallback's output: {probe:?} {}",
                String::from_utf8_lossy(&o.stderr).trim()
            ));
        }
        Ok((probe, h264.len()))
    })();
    // Bound again whatever happened, for the checks that follow.
    let rebound = vicodec_bind(&dev, true);
    let (probe, bytes) = result?;
    rebound?;
    figures.push(format!(
        "m2m_unplug_fallback: {fwht} FWHT frames from vicodec, unbound, {AFTER} H.264 frames from openh264 ({bytes} B, ffprobe {probe})"
    ));
    Ok(format!(
        "{fwht} pictures on vicodec, then ENODEV (device unbound) → openh264: first picture an IDR flagged discontinuity, {AFTER} pictures, none lost, ffprobe decodes them all; vicodec bound again"
    ))
}
