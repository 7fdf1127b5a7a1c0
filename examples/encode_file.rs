//! Benchmark helper: hlscam's own pipeline (openh264 + fdk-aac → TS muxer → segmenter → ring)
//! fed from raw files instead of the built-in test pattern, so it encodes exactly the input the
//! peers (ffmpeg, GStreamer) get in `bench/whole_job.sh`. Not part of the `hlscam` CLI.
//!
//! ```text
//! cargo build --release --example encode_file
//! target/release/examples/encode_file VIDEO.yuv AUDIO.pcm OUTDIR [WxH] [FPS] [KBPS] [AUDIO_KBPS]
//! ```
//! VIDEO.yuv: tightly packed I420 frames (default 1280x720, 30 fps); AUDIO.pcm: s16le stereo at
//! 48 kHz. Unpaced (like `--fast`): frames are read as fast as the encoder takes them.

use hlscam::encode::aac::AacEncoder;
use hlscam::encode::openh264::OpenH264Encoder;
use hlscam::encode::{AudioEncoder, VideoEncoder};
use hlscam::hls::HlsConfig;
use hlscam::pipeline::{Pipeline, PipelineConfig};
use hlscam::pool::Pool;
use hlscam::source::{AudioFormat, AudioSource, RawFrame, SourceError, VideoFormat, VideoSource};
use hlscam::stats::Stats;
use hlscam::time::{Clock, Pts90k, SystemClock, HZ_90K};
use std::fs::File;
use std::io::{BufReader, Read};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::SystemTime;

struct YuvFile {
    file: File,
    fmt: VideoFormat,
    next: u64,
    clock: Arc<dyn Clock>,
    start_wall: SystemTime,
}

impl VideoSource for YuvFile {
    fn name(&self) -> &str {
        "yuv-file"
    }
    fn format(&self) -> VideoFormat {
        self.fmt
    }
    fn next_frame(&mut self, pool: &Pool) -> Result<RawFrame, SourceError> {
        let mut buf = pool.try_take().ok_or(SourceError::PoolExhausted)?;
        let len = self.fmt.i420_len();
        match self.file.read_exact(&mut buf[..len]) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Err(SourceError::End)
            }
            Err(e) => return Err(SourceError::Io(e.to_string())),
        }
        let i = self.next;
        self.next += 1;
        let pts = Pts90k(i * HZ_90K / self.fmt.fps as u64);
        Ok(RawFrame {
            buf,
            format: self.fmt,
            pts,
            captured: self.clock.monotonic(),
            wall: self.start_wall + pts.to_duration(),
            seq: i,
            discontinuity: i == 0,
        })
    }
}

struct PcmFile {
    file: BufReader<File>,
    fmt: AudioFormat,
    next: u64,
    bytes: Vec<u8>,
}

impl AudioSource for PcmFile {
    fn name(&self) -> &str {
        "pcm-file"
    }
    fn format(&self) -> AudioFormat {
        self.fmt
    }
    fn read(&mut self, buf: &mut [i16]) -> Result<Pts90k, SourceError> {
        self.bytes.resize(buf.len() * 2, 0);
        match self.file.read_exact(&mut self.bytes) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Err(SourceError::End)
            }
            Err(e) => return Err(SourceError::Io(e.to_string())),
        }
        for (s, b) in buf.iter_mut().zip(self.bytes.chunks_exact(2)) {
            *s = i16::from_le_bytes([b[0], b[1]]);
        }
        let first = self.next;
        self.next += (buf.len() / self.fmt.channels as usize) as u64;
        Ok(Pts90k(first * HZ_90K / self.fmt.sample_rate as u64))
    }
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() < 4 {
        eprintln!("usage: encode_file VIDEO.yuv AUDIO.pcm OUTDIR [WxH] [FPS] [KBPS] [AUDIO_KBPS]");
        std::process::exit(2);
    }
    let (w, h) = a
        .get(4)
        .and_then(|s| s.split_once('x'))
        .map(|(w, h)| (w.parse().unwrap(), h.parse().unwrap()))
        .unwrap_or((1280, 720));
    let arg = |i: usize, d: u32| a.get(i).map_or(d, |s| s.parse().unwrap());
    let (fps, kbps, akbps) = (arg(5, 30), arg(6, 2000), arg(7, 128));
    let fmt = VideoFormat {
        width: w,
        height: h,
        fps,
    };
    let afmt = AudioFormat {
        sample_rate: 48_000,
        channels: 2,
    };
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
    let video = YuvFile {
        file: File::open(&a[1]).expect("video file"),
        fmt,
        next: 0,
        clock: clock.clone(),
        start_wall: SystemTime::now(),
    };
    let audio = PcmFile {
        file: BufReader::new(File::open(&a[2]).expect("audio file")),
        fmt: afmt,
        next: 0,
        bytes: Vec::new(),
    };
    let aac: Box<dyn AudioEncoder> = Box::new(AacEncoder::new(afmt, akbps).expect("AAC"));
    let stats = Arc::new(Stats::new());
    let mut pipeline = Pipeline::new(
        PipelineConfig {
            hls: HlsConfig::new(&a[3], 2, 6),
            duration: None,
            fast: true,
            live: None,
        },
        stats.clone(),
        Arc::new(AtomicBool::new(false)),
    );
    pipeline.latency_clock(clock);
    let factory = Box::new(move |f: VideoFormat| {
        OpenH264Encoder::new(f, kbps, 2 * f.fps, 0).map(|e| Box::new(e) as Box<dyn VideoEncoder>)
    });
    let summary = pipeline
        .run(Box::new(video), factory, Some((Box::new(audio), aac)))
        .expect("pipeline");
    eprintln!("{} segments; {}", summary.segments, stats.stage_summary());
}
