//! The M2M encoder against a fake device (no kernel): the H.264 specifics of dev-encoder.rst
//! that vicodec cannot show — controls (ids, values, before `REQBUFS`), the `CAPTURE` size
//! request, stride/height padding of the YU12 input, an access unit spanning several `CAPTURE`
//! buffers, a stale first buffer dropped by timestamp, drain until `V4L2_BUF_FLAG_LAST`,
//! `FORCE_KEY_FRAME`, device errors and timeouts as `Err`, DMABUF input, and zero heap
//! allocation per picture in steady state.

use hlscam::encode::v4l2_m2m::{
    cid, h264_level, Buffer, CodedFormat, Command, Format, M2mDevice, M2mEncoder, Memory, Queue,
    Ready, H264_CAPTURE_SIZEIMAGE,
};
use hlscam::encode::{EncodedVideo, VideoEncoder};
use hlscam::pool::Pool;
use hlscam::source::{RawFrame, VideoFormat};
use hlscam::time::Pts90k;
use std::collections::VecDeque;
use std::io;
use std::time::{Duration, SystemTime};
use v4l::v4l_sys as sys;

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

#[global_allocator]
static A: counting_alloc::Counting = counting_alloc::Counting;

/// What the fake saw, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ev {
    Fmt(Queue, Format),
    Rate(u32),
    Ctrl(u32, i32),
    ReqBufs(Queue, Memory, u32),
    QbufOut(u64),
    StreamOn(Queue),
    Cmd(Command),
}

#[derive(Debug, Clone, Copy)]
struct Pending {
    ts: u64,
    len: usize,
    sent: usize,
    key: bool,
    frame: u64,
}

/// The coded bytes the fake "encodes" for picture `frame`: an Annex B start code, an IDR
/// (0x65) or non-IDR (0x41) NAL header, then a pattern.
fn au_byte(frame: u64, key: bool, k: usize) -> u8 {
    match k {
        0..=2 => 0,
        3 => 1,
        4 => {
            if key {
                0x65
            } else {
                0x41
            }
        }
        _ => ((frame * 31 + k as u64) % 251) as u8,
    }
}

fn expected_au(frame: u64, key: bool, len: usize) -> Vec<u8> {
    (0..len).map(|k| au_byte(frame, key, k)).collect()
}

const SPS_PPS: [u8; 16] = [
    0, 0, 0, 1, 0x67, 0x64, 0, 0x1f, 0xac, 0, 0, 0, 1, 0x68, 0xee, 0x3c,
];

struct Fake {
    // configuration
    stride_align: u32,
    height_align: u32,
    cap_size: u32,
    stale_first: bool,
    stale_sps: bool,
    latency: usize,
    last_empty: bool,
    lengths: Vec<usize>,
    gop: u64,
    fail_qbuf: Option<i32>,
    fail_dqbuf: Option<i32>,
    never_output: bool,
    // records
    log: Vec<Ev>,
    last_input: Vec<u8>,
    dmabuf_fds: Vec<i32>,
    // state
    out_mem: Memory,
    out_bufs: Vec<Vec<u8>>,
    cap_bufs: Vec<Vec<u8>>,
    cap_free: VecDeque<u32>,
    out_done: VecDeque<u32>,
    inflight: VecDeque<Pending>,
    pending: VecDeque<Pending>,
    frames: u64,
    force: bool,
    draining: bool,
    stale_sent: bool,
    last_sent: bool,
    cap_on: bool,
    out_fmt: Format,
}

impl Fake {
    fn new() -> Fake {
        Fake {
            stride_align: 1,
            height_align: 1,
            cap_size: 4096,
            stale_first: false,
            stale_sps: false,
            latency: 0,
            last_empty: true,
            lengths: vec![300],
            gop: 1_000_000,
            fail_qbuf: None,
            fail_dqbuf: None,
            never_output: false,
            log: Vec::with_capacity(1 << 14),
            last_input: Vec::new(),
            dmabuf_fds: Vec::with_capacity(1 << 12),
            out_mem: Memory::Mmap,
            out_bufs: Vec::new(),
            cap_bufs: Vec::new(),
            cap_free: VecDeque::with_capacity(64),
            out_done: VecDeque::with_capacity(64),
            inflight: VecDeque::with_capacity(64),
            pending: VecDeque::with_capacity(64),
            frames: 0,
            force: false,
            draining: false,
            stale_sent: false,
            last_sent: false,
            cap_on: false,
            out_fmt: Format::default(),
        }
    }

    fn controls(&self) -> Vec<(u32, i32)> {
        self.log
            .iter()
            .filter_map(|e| match *e {
                Ev::Ctrl(i, v) => Some((i, v)),
                _ => None,
            })
            .collect()
    }

    fn drained_out(&self) -> bool {
        self.draining && self.pending.is_empty() && self.inflight.is_empty()
    }

    fn cap_ready(&self) -> bool {
        if self.last_sent || !self.cap_on || self.cap_free.is_empty() {
            return false;
        }
        (self.stale_first && !self.stale_sent)
            || !self.pending.is_empty()
            || (self.drained_out() && self.last_empty)
    }

    fn release(&mut self) {
        if self.never_output {
            return;
        }
        while self.inflight.len() > if self.draining { 0 } else { self.latency } {
            let p = self.inflight.pop_front().unwrap();
            self.pending.push_back(p);
        }
    }
}

fn align(v: u32, a: u32) -> u32 {
    v.div_ceil(a) * a
}

impl M2mDevice for Fake {
    fn set_format(&mut self, q: Queue, want: Format) -> io::Result<Format> {
        self.log.push(Ev::Fmt(q, want));
        let got = match q {
            Queue::Output => {
                let bpl = align(want.width, self.stride_align);
                let h = align(want.height, self.height_align);
                Format {
                    fourcc: *b"YU12",
                    width: want.width,
                    height: h,
                    bytesperline: bpl,
                    sizeimage: bpl * h * 3 / 2,
                }
            }
            Queue::Capture => Format {
                fourcc: want.fourcc,
                width: want.width,
                height: want.height,
                bytesperline: 0,
                sizeimage: self.cap_size,
            },
        };
        if q == Queue::Output {
            self.out_fmt = got;
        }
        Ok(got)
    }
    fn get_format(&mut self, q: Queue) -> io::Result<Format> {
        Ok(match q {
            Queue::Output => self.out_fmt,
            Queue::Capture => Format {
                fourcc: *b"H264",
                width: 0,
                height: 0,
                bytesperline: 0,
                sizeimage: self.cap_size,
            },
        })
    }
    fn set_frame_rate(&mut self, fps: u32) -> io::Result<u32> {
        self.log.push(Ev::Rate(fps));
        Ok(fps)
    }
    fn set_control(&mut self, id: u32, value: i32) -> io::Result<()> {
        self.log.push(Ev::Ctrl(id, value));
        if id == cid::FORCE_KEY_FRAME {
            self.force = true;
        }
        Ok(())
    }
    fn request_buffers(&mut self, q: Queue, mem: Memory, count: u32) -> io::Result<u32> {
        self.log.push(Ev::ReqBufs(q, mem, count));
        match q {
            Queue::Output => {
                self.out_mem = mem;
                let len = self.out_fmt.sizeimage as usize;
                if mem == Memory::Mmap {
                    // 0xA5: padding the encoder must not write is still 0xA5 afterwards.
                    self.out_bufs = (0..count).map(|_| vec![0xA5; len]).collect();
                }
                self.last_input = vec![0; len];
            }
            Queue::Capture => {
                self.cap_bufs = (0..count)
                    .map(|_| vec![0xA5; self.cap_size as usize])
                    .collect();
            }
        }
        Ok(count)
    }
    fn buffer(&self, q: Queue, index: u32) -> &[u8] {
        match q {
            Queue::Output => &self.out_bufs[index as usize],
            Queue::Capture => &self.cap_bufs[index as usize],
        }
    }
    fn buffer_mut(&mut self, q: Queue, index: u32) -> &mut [u8] {
        match q {
            Queue::Output => &mut self.out_bufs[index as usize],
            Queue::Capture => &mut self.cap_bufs[index as usize],
        }
    }
    fn queue(&mut self, q: Queue, b: &Buffer) -> io::Result<()> {
        match q {
            Queue::Capture => {
                self.cap_free.push_back(b.index);
            }
            Queue::Output => {
                if let Some(errno) = self.fail_qbuf {
                    return Err(io::Error::from_raw_os_error(errno));
                }
                self.log.push(Ev::QbufOut(b.timestamp));
                if self.out_mem == Memory::Mmap {
                    let src = &self.out_bufs[b.index as usize];
                    self.last_input.copy_from_slice(src);
                    assert_eq!(b.bytesused as usize, src.len().min(b.bytesused as usize));
                } else {
                    self.dmabuf_fds.push(b.fd);
                }
                let n = self.frames;
                self.frames += 1;
                let key = n % self.gop == 0 || std::mem::take(&mut self.force);
                self.inflight.push_back(Pending {
                    ts: b.timestamp,
                    len: self.lengths[n as usize % self.lengths.len()],
                    sent: 0,
                    key,
                    frame: n,
                });
                self.release();
                self.out_done.push_back(b.index);
            }
        }
        Ok(())
    }
    fn dequeue(&mut self, q: Queue) -> io::Result<Option<Buffer>> {
        if let Some(errno) = self.fail_dqbuf {
            return Err(io::Error::from_raw_os_error(errno));
        }
        if q == Queue::Output {
            return Ok(self.out_done.pop_front().map(Buffer::new));
        }
        if self.last_sent {
            return Err(io::Error::from_raw_os_error(libc::EPIPE));
        }
        if !self.cap_ready() {
            return Ok(None);
        }
        let idx = self.cap_free.pop_front().unwrap();
        let mut b = Buffer::new(idx);
        b.length = self.cap_size;
        if self.stale_first && !self.stale_sent {
            // A buffer from before our first picture (timestamp 0, matching nothing).
            self.stale_sent = true;
            if self.stale_sps {
                // A codec-config buffer: SPS + PPS, no picture.
                self.cap_bufs[idx as usize][..SPS_PPS.len()].copy_from_slice(&SPS_PPS);
                b.bytesused = SPS_PPS.len() as u32;
            } else {
                b.bytesused = 100;
                self.cap_bufs[idx as usize][..100].fill(0xEE);
            }
            return Ok(Some(b));
        }
        if let Some(p) = self.pending.front_mut() {
            let n = (p.len - p.sent).min(self.cap_size as usize);
            let buf = &mut self.cap_bufs[idx as usize];
            for (i, byte) in buf[..n].iter_mut().enumerate() {
                *byte = au_byte(p.frame, p.key, p.sent + i);
            }
            p.sent += n;
            b.bytesused = n as u32;
            b.timestamp = p.ts;
            if p.key {
                b.flags |= sys::V4L2_BUF_FLAG_KEYFRAME;
            }
            if p.sent == p.len {
                self.pending.pop_front();
                if self.drained_out() && !self.last_empty {
                    b.flags |= sys::V4L2_BUF_FLAG_LAST;
                    self.last_sent = true;
                }
            }
            return Ok(Some(b));
        }
        // Drained, nothing left: an empty buffer flagged LAST.
        b.flags |= sys::V4L2_BUF_FLAG_LAST;
        self.last_sent = true;
        Ok(Some(b))
    }
    fn stream(&mut self, q: Queue, on: bool) -> io::Result<()> {
        if on {
            self.log.push(Ev::StreamOn(q));
        }
        if q == Queue::Capture {
            self.cap_on = on;
        }
        Ok(())
    }
    fn command(&mut self, c: Command) -> io::Result<()> {
        self.log.push(Ev::Cmd(c));
        if c == Command::EncoderStop {
            self.draining = true;
            self.release();
        }
        Ok(())
    }
    fn wait(&mut self, _timeout: Duration) -> io::Result<Ready> {
        Ok(Ready {
            capture: self.cap_ready(),
            output: !self.out_done.is_empty(),
            event: false,
            error: false,
        })
    }
}

fn vfmt(w: u32, h: u32) -> VideoFormat {
    VideoFormat {
        width: w,
        height: h,
        fps: 30,
    }
}

/// Picture `n`: Y = (x + 2y + n), U = 64 + n, V = 192 - n (mod 256), tightly packed.
fn fill(buf: &mut [u8], f: VideoFormat, n: u64) {
    let (w, h) = (f.width as usize, f.height as usize);
    for y in 0..h {
        for x in 0..w {
            buf[y * w + x] = (x + 2 * y + n as usize) as u8;
        }
    }
    let c = (w / 2) * (h / 2);
    buf[w * h..w * h + c].fill((64 + n) as u8);
    buf[w * h + c..w * h + 2 * c].fill((192u64.wrapping_sub(n)) as u8);
}

fn frame(pool: &Pool, f: VideoFormat, n: u64) -> RawFrame {
    let mut buf = pool.try_take().expect("pool buffer");
    fill(&mut buf, f, n);
    RawFrame {
        buf,
        format: f,
        pts: Pts90k(90_000 + n * 3000),
        captured: Duration::from_millis(1000 + n * 33),
        wall: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + n),
        seq: n,
        discontinuity: n == 0,
    }
}

fn open(fake: Fake, coded: CodedFormat, f: VideoFormat, gop: u32) -> M2mEncoder<Fake> {
    let mut e = M2mEncoder::with_device(
        fake,
        "v4l2m2m:/dev/fake".into(),
        coded,
        f,
        2000,
        gop,
        Memory::Mmap,
    )
    .expect("open");
    e.set_timeout(Duration::from_millis(200));
    e
}

#[test]
fn h264_controls_set_before_reqbufs() {
    let f = vfmt(1280, 720);
    let e = open(Fake::new(), CodedFormat::H264, f, 60);
    let d = e.device();
    let c = d.controls();
    let want = [
        (
            cid::BITRATE_MODE,
            sys::v4l2_mpeg_video_bitrate_mode_V4L2_MPEG_VIDEO_BITRATE_MODE_CBR as i32,
        ),
        (cid::BITRATE, 2_000_000),
        (cid::H264_I_PERIOD, 60),
        (cid::REPEAT_SEQ_HEADER, 1),
        (
            cid::H264_PROFILE,
            sys::v4l2_mpeg_video_h264_profile_V4L2_MPEG_VIDEO_H264_PROFILE_HIGH as i32,
        ),
        (
            cid::H264_LEVEL,
            sys::v4l2_mpeg_video_h264_level_V4L2_MPEG_VIDEO_H264_LEVEL_3_1 as i32,
        ),
        (cid::H264_MIN_QP, 16),
        (cid::H264_MAX_QP, 44),
    ];
    assert_eq!(c, want);
    // Order: CAPTURE format (H264, 1.5 MiB asked) → OUTPUT format (YU12) → rate → controls →
    // REQBUFS → STREAMON, as dev-encoder.rst "Initialization" lists them.
    let pos = |p: &dyn Fn(&Ev) -> bool| d.log.iter().position(p).expect("event");
    let cap_fmt = pos(&|e| matches!(e, Ev::Fmt(Queue::Capture, _)));
    let out_fmt = pos(&|e| matches!(e, Ev::Fmt(Queue::Output, _)));
    let rate = pos(&|e| matches!(e, Ev::Rate(30)));
    let last_ctrl = d
        .log
        .iter()
        .rposition(|e| matches!(e, Ev::Ctrl(..)))
        .unwrap();
    let reqbufs = pos(&|e| matches!(e, Ev::ReqBufs(..)));
    let streamon = pos(&|e| matches!(e, Ev::StreamOn(_)));
    assert!(
        cap_fmt < out_fmt
            && out_fmt < rate
            && rate < last_ctrl
            && last_ctrl < reqbufs
            && reqbufs < streamon,
        "{:?}",
        d.log
    );
    match d.log[cap_fmt] {
        Ev::Fmt(_, w) => {
            assert_eq!(&w.fourcc, b"H264");
            assert_eq!(w.sizeimage, H264_CAPTURE_SIZEIMAGE);
            assert!(w.sizeimage >= 1536 * 1024);
        }
        _ => unreachable!(),
    }
    match d.log[out_fmt] {
        Ev::Fmt(_, w) => assert_eq!((&w.fourcc, w.width, w.height), (b"YU12", 1280, 720)),
        _ => unreachable!(),
    }
    assert!(d.log.contains(&Ev::ReqBufs(Queue::Output, Memory::Mmap, 4)));
    assert!(d
        .log
        .contains(&Ev::ReqBufs(Queue::Capture, Memory::Mmap, 4)));
    assert_eq!(e.name(), "v4l2m2m:/dev/fake");
}

#[test]
fn h264_levels_follow_size_and_rate() {
    let l = |w, h, fps| {
        h264_level(VideoFormat {
            width: w,
            height: h,
            fps,
        })
    };
    use sys::*;
    assert_eq!(
        l(640, 360, 30),
        v4l2_mpeg_video_h264_level_V4L2_MPEG_VIDEO_H264_LEVEL_3_1 as i32
    );
    assert_eq!(
        l(1280, 720, 30),
        v4l2_mpeg_video_h264_level_V4L2_MPEG_VIDEO_H264_LEVEL_3_1 as i32
    );
    assert_eq!(
        l(1280, 720, 60),
        v4l2_mpeg_video_h264_level_V4L2_MPEG_VIDEO_H264_LEVEL_3_2 as i32
    );
    assert_eq!(
        l(1920, 1080, 30),
        v4l2_mpeg_video_h264_level_V4L2_MPEG_VIDEO_H264_LEVEL_4_0 as i32
    );
    assert_eq!(
        l(1920, 1080, 60),
        v4l2_mpeg_video_h264_level_V4L2_MPEG_VIDEO_H264_LEVEL_4_2 as i32
    );
}

#[test]
fn fwht_sets_no_h264_controls() {
    let e = open(Fake::new(), CodedFormat::Fwht, vfmt(640, 360), 60);
    // Only vicodec's GOP size (clamped to its 1..=16).
    assert_eq!(e.device().controls(), vec![(cid::GOP_SIZE, 16)]);
}

#[test]
fn stride_and_height_padding_respected() {
    let mut fake = Fake::new();
    fake.stride_align = 64;
    fake.height_align = 16;
    let f = vfmt(200, 100); // stride 256, 112 rows
    let mut e = open(fake, CodedFormat::H264, f, 30);
    let l = e.input_layout();
    assert_eq!((l.y_stride, l.c_stride, l.u_offset), (256, 128, 256 * 112));
    assert_eq!(l.v_offset, 256 * 112 + 128 * 56);
    let pool = Pool::new(2, f.i420_len());
    let mut out = EncodedVideo::with_capacity(1 << 16);
    let fr = frame(&pool, f, 5);
    assert!(e.encode(&fr, &mut out).unwrap());
    let got = &e.device().last_input;
    let (w, h) = (200usize, 100usize);
    for y in 0..h {
        for x in 0..w {
            assert_eq!(got[y * 256 + x], fr.buf[y * w + x], "Y {x},{y}");
        }
        assert!(
            got[y * 256 + w..(y + 1) * 256].iter().all(|&b| b == 0xA5),
            "Y padding row {y}"
        );
    }
    assert!(
        got[h * 256..112 * 256].iter().all(|&b| b == 0xA5),
        "rows below the picture"
    );
    for y in 0..h / 2 {
        let u = &got[l.u_offset + y * 128..l.u_offset + y * 128 + 128];
        let v = &got[l.v_offset + y * 128..l.v_offset + y * 128 + 128];
        assert!(
            u[..100].iter().all(|&b| b == 69) && u[100..].iter().all(|&b| b == 0xA5),
            "U row {y}"
        );
        assert!(
            v[..100].iter().all(|&b| b == 187) && v[100..].iter().all(|&b| b == 0xA5),
            "V row {y}"
        );
    }
}

#[test]
fn spanning_frames_joined_and_stale_buffer_dropped() {
    let mut fake = Fake::new();
    fake.cap_size = 1000;
    fake.stale_first = true;
    fake.gop = 4;
    // 2500 B → 3 buffers; 300 B; 2000 B → exactly 2 full buffers; 10 B.
    fake.lengths = vec![2500, 300, 2000, 10];
    let f = vfmt(64, 32);
    let mut e = open(fake, CodedFormat::H264, f, 4);
    let pool = Pool::new(2, f.i420_len());
    let mut out = EncodedVideo::with_capacity(1 << 16);
    for n in 0..8u64 {
        let fr = frame(&pool, f, n);
        assert!(e.encode(&fr, &mut out).unwrap(), "frame {n}");
        let key = n % 4 == 0;
        let len = [2500, 300, 2000, 10][n as usize % 4];
        assert_eq!(out.data, expected_au(n, key, len), "frame {n}");
        assert_eq!(out.key, key, "frame {n}");
        assert_eq!((out.pts, out.dts), (fr.pts, fr.pts));
        assert_eq!(
            (out.captured, out.wall, out.discontinuity),
            (fr.captured, fr.wall, n == 0)
        );
    }
    let c = e.counters();
    assert_eq!((c.frames_in, c.frames_out, c.stale, c.lost), (8, 8, 1, 0));
    assert_eq!(c.spanned, 4, "2500 B and 2000 B frames, twice");
}

#[test]
fn stale_parameter_sets_go_in_front_of_the_first_access_unit() {
    let mut fake = Fake::new();
    fake.stale_first = true;
    fake.stale_sps = true;
    fake.gop = 2;
    let f = vfmt(32, 16);
    let mut e = open(fake, CodedFormat::H264, f, 2);
    let pool = Pool::new(2, f.i420_len());
    let mut out = EncodedVideo::with_capacity(4096);
    assert!(e.encode(&frame(&pool, f, 0), &mut out).unwrap());
    let mut want = SPS_PPS.to_vec();
    want.extend(expected_au(0, true, 300));
    assert_eq!(out.data, want);
    assert!(out.key);
    assert!(e.encode(&frame(&pool, f, 1), &mut out).unwrap());
    assert_eq!(out.data, expected_au(1, false, 300), "kept once only");
    let c = e.counters();
    assert_eq!((c.headers, c.stale, c.frames_out), (1, 0, 2));
}

#[test]
fn drain_until_last_with_lagging_encoder() {
    for last_empty in [true, false] {
        let mut fake = Fake::new();
        fake.latency = 2;
        fake.last_empty = last_empty;
        fake.gop = 3;
        let f = vfmt(32, 16);
        let mut e = open(fake, CodedFormat::H264, f, 3);
        e.set_max_lag(2);
        let pool = Pool::new(2, f.i420_len());
        let mut out = EncodedVideo::with_capacity(4096);
        let mut got = Vec::new();
        for n in 0..6u64 {
            let fr = frame(&pool, f, n);
            if e.encode(&fr, &mut out).unwrap() {
                got.push((out.pts, out.key));
            }
        }
        assert_eq!(got.len(), 4, "two pictures still inside the encoder");
        let mut drained = Vec::new();
        let n = e
            .drain(|au| drained.push((au.pts, au.key, au.data.len())))
            .unwrap();
        assert_eq!(n, 2);
        assert!(e.device().log.contains(&Ev::Cmd(Command::EncoderStop)));
        assert!(
            e.counters().last_seen,
            "LAST flag seen (last_empty {last_empty})"
        );
        got.extend(drained.iter().map(|d| (d.0, d.1)));
        let want: Vec<(Pts90k, bool)> = (0..6u64)
            .map(|n| (Pts90k(90_000 + n * 3000), n % 3 == 0))
            .collect();
        assert_eq!(got, want);
        assert!(drained.iter().all(|d| d.2 == 300));
        // A drained encoder refuses more pictures.
        let fr = frame(&pool, f, 9);
        assert!(e.encode(&fr, &mut out).is_err());
    }
}

#[test]
fn force_keyframe_sets_the_control_before_the_next_picture() {
    let f = vfmt(32, 16);
    let mut e = open(Fake::new(), CodedFormat::H264, f, 1000);
    let pool = Pool::new(2, f.i420_len());
    let mut out = EncodedVideo::with_capacity(4096);
    let mut keys = Vec::new();
    for n in 0..6u64 {
        if n == 3 {
            e.force_keyframe();
        }
        let fr = frame(&pool, f, n);
        assert!(e.encode(&fr, &mut out).unwrap());
        keys.push(out.key);
    }
    assert_eq!(keys, [true, false, false, true, false, false]);
    let log = &e.device().log;
    let forced: Vec<usize> = log
        .iter()
        .enumerate()
        .filter(|(_, e)| **e == Ev::Ctrl(cid::FORCE_KEY_FRAME, 1))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(forced.len(), 1);
    // Right before the 4th picture was queued.
    let qbufs: Vec<usize> = log
        .iter()
        .enumerate()
        .filter(|(_, e)| matches!(e, Ev::QbufOut(_)))
        .map(|(i, _)| i)
        .collect();
    assert!(qbufs[2] < forced[0] && forced[0] < qbufs[3], "{log:?}");
}

#[test]
fn device_errors_and_silence_are_errors() {
    let f = vfmt(32, 16);
    let pool = Pool::new(2, f.i420_len());
    let mut out = EncodedVideo::with_capacity(4096);
    let mut fake = Fake::new();
    fake.fail_qbuf = Some(libc::ENODEV);
    let mut e = open(fake, CodedFormat::H264, f, 30);
    let err = e.encode(&frame(&pool, f, 0), &mut out).unwrap_err();
    assert!(
        err.msg.contains("QBUF OUTPUT") && err.msg.contains("os error 19"),
        "{err}"
    );

    // Unplugged between two pictures: the next dequeue fails with EIO/ENODEV.
    let mut e = open(Fake::new(), CodedFormat::H264, f, 30);
    assert!(e.encode(&frame(&pool, f, 0), &mut out).unwrap());
    e.device_mut().fail_dqbuf = Some(libc::EIO);
    let err = e.encode(&frame(&pool, f, 1), &mut out).unwrap_err();
    assert!(
        err.msg.contains("DQBUF") && err.msg.contains("os error 5"),
        "{err}"
    );

    let mut fake = Fake::new();
    fake.never_output = true;
    let mut e = open(fake, CodedFormat::H264, f, 30);
    e.set_timeout(Duration::from_millis(30));
    let err = e.encode(&frame(&pool, f, 0), &mut out).unwrap_err();
    assert!(err.msg.contains("waiting for coded data"), "{err}");
}

#[test]
fn dmabuf_input_queues_the_descriptor() {
    let f = vfmt(32, 16);
    let mut e = M2mEncoder::with_device(
        Fake::new(),
        "v4l2m2m:/dev/fake".into(),
        CodedFormat::H264,
        f,
        1000,
        30,
        Memory::Dmabuf,
    )
    .unwrap();
    assert!(e
        .device()
        .log
        .contains(&Ev::ReqBufs(Queue::Output, Memory::Dmabuf, 4)));
    let mut out = EncodedVideo::with_capacity(4096);
    let meta = hlscam::encode::v4l2_m2m::InputMeta {
        pts: Pts90k(1234),
        captured: Duration::from_millis(5),
        wall: SystemTime::UNIX_EPOCH,
        discontinuity: true,
    };
    let len = e.input_layout().len as u32;
    for fd in [40, 41, 42] {
        assert!(e.encode_dmabuf(fd, len, len, meta, &mut out).unwrap());
        assert_eq!((out.pts, out.discontinuity), (Pts90k(1234), true));
    }
    assert_eq!(e.device().dmabuf_fds, [40, 41, 42]);
    // The MMAP entry point is refused on a DMABUF encoder.
    let pool = Pool::new(1, f.i420_len());
    assert!(e.encode(&frame(&pool, f, 0), &mut out).is_err());
}

#[test]
fn no_allocation_per_picture_in_steady_state() {
    let mut fake = Fake::new();
    fake.cap_size = 1000;
    fake.stale_first = true;
    fake.stride_align = 64;
    fake.gop = 30;
    fake.lengths = vec![2500, 400, 2000, 700, 50];
    let f = vfmt(96, 48);
    let mut e = open(fake, CodedFormat::H264, f, 30);
    let pool = Pool::new(3, f.i420_len());
    let mut out = EncodedVideo::with_capacity(1 << 12);
    let mut step = |n: u64, bytes: &mut usize| {
        if n % 50 == 0 {
            e.force_keyframe();
        }
        let fr = frame(&pool, f, n);
        assert!(e.encode(&fr, &mut out).unwrap());
        assert_eq!(out.pts, fr.pts);
        *bytes += out.data.len();
    };
    let mut bytes = 0;
    for n in 0..20 {
        step(n, &mut bytes);
    }
    let b0 = bytes;
    let ((), allocs) = counting_alloc::measure(|| {
        for n in 20..320 {
            step(n, &mut bytes);
        }
    });
    assert_eq!(bytes - b0, 60 * (2500 + 400 + 2000 + 700 + 50));
    assert_eq!(allocs, 0, "{allocs} allocations in 300 pictures");
    let (v, seen) = counting_alloc::measure(|| std::hint::black_box(Vec::<u8>::with_capacity(8)));
    drop(v);
    assert_eq!(seen, 1);
}
