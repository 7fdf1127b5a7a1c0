//! The `hlscam` program: command line, configuration, sources, HTTP server and the pipeline.

mod fdk_lc;

use hlscam::cli::{Cli, Command};
use hlscam::config::{
    AudioSourceKind, EncoderKind, RecordSettings, Settings, VideoSourceKind, AUDIO_ONLY_NAME,
};
use hlscam::encode::aac::AacEncoder;
use hlscam::encode::fallback::{hardware_first, OpenEncoder};
use hlscam::encode::openh264::OpenH264Encoder;
use hlscam::encode::v4l2_m2m::{find_h264_encoder, CodedFormat, M2mEncoder};
use hlscam::encode::{AudioEncoder, VideoEncoder};
use hlscam::error::{Error, ErrorKind};
use hlscam::fmp4::AudioParams;
use hlscam::hls::master::{Master, RenditionInfo, RenditionSpec};
use hlscam::hls::{HlsConfig, LiveShared, PartPlan};
use hlscam::http::renditions::{RenditionRoute, Renditions};
use hlscam::http::{HttpConfig, HttpServer};
use hlscam::notify::Notifier;
use hlscam::pipeline::{
    AudioOnlyRendition, EncodedVideoSource, EncoderFactory, Pipeline, PipelineConfig, Rendition,
};
use hlscam::publish::{self, segment_capacity, PublishSetup};
use hlscam::source::alsa::AlsaSource;
use hlscam::source::devices::{list_devices, pick_audio, pick_video};
use hlscam::source::rpicam::{supervised_rpicam, RpicamH264};
use hlscam::source::supervisor::supervised_camera;
use hlscam::source::testsrc::TestSource;
use hlscam::source::tone::ToneSource;
use hlscam::source::v4l2::ReopeningH264;
use hlscam::source::{AudioFormat, AudioSource, VideoFormat, VideoSource};
use hlscam::stats::Stats;
use hlscam::time::{Clock, Pts90k, SystemClock};
use hlscam::ts::MuxConfig;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Set by SIGINT/SIGTERM.
static SIGNALLED: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    SIGNALLED.store(true, Ordering::SeqCst);
}

fn main() {
    let cli = Cli::parse();
    match &cli.command {
        Some(Command::CheckConfig { file }) => std::process::exit(hlscam::cli::check_config(file)),
        Some(Command::Vod {
            input,
            outdir,
            segment_seconds,
            single_file,
        }) => {
            let opts = hlscam::vod::VodOptions {
                segment_seconds: *segment_seconds,
                single_file: *single_file,
            };
            std::process::exit(hlscam::vod::run_cli(input, outdir, &opts))
        }
        Some(Command::Devices { json }) => {
            devices(*json);
            return;
        }
        None => {}
    }
    let settings = match load_settings(&cli) {
        Ok(s) => s,
        Err(msg) => {
            eprintln!("hlscam: {msg}");
            std::process::exit(2);
        }
    };
    init_logging(&settings.log.level);
    match run(&cli, &settings) {
        Ok(()) => {}
        Err(e) => {
            log::error!("{e}");
            eprintln!("hlscam: {e}");
            std::process::exit(1);
        }
    }
}

fn devices(json: bool) {
    let list = list_devices();
    if json {
        match serde_json::to_string_pretty(&list) {
            Ok(j) => println!("{j}"),
            Err(e) => eprintln!("hlscam devices: {e}"),
        }
    } else {
        print!("{}", list.to_table());
    }
}

fn load_settings(cli: &Cli) -> Result<Settings, String> {
    let mut s = match &cli.config {
        Some(path) => Settings::load(path).map_err(|e| e.to_string())?,
        None => Settings::default(),
    };
    cli.apply_overrides(&mut s).map_err(|e| e.to_string())?;
    s.validate().map_err(|e| e.to_string())?;
    Ok(s)
}

fn init_logging(level: &str) {
    use simplelog::{ColorChoice, ConfigBuilder, LevelFilter, TermLogger, TerminalMode};
    let filter = level.parse::<LevelFilter>().unwrap_or(LevelFilter::Info);
    let cfg = ConfigBuilder::new()
        .set_time_format_rfc3339()
        .set_target_level(LevelFilter::Off)
        .set_thread_level(LevelFilter::Off)
        .build();
    let _ = TermLogger::init(filter, cfg, TerminalMode::Stderr, ColorChoice::Never);
}

fn run(cli: &Cli, s: &Settings) -> Result<(), Error> {
    let stats = Arc::new(Stats::new());
    let clock: Arc<dyn Clock> = Arc::new(SystemClock::new());
    let paced = !cli.fast;
    let fmt = VideoFormat {
        width: s.video.width,
        height: s.video.height,
        fps: s.video.fps,
    };
    // encoder = "camera": the camera's own H.264, passed through without re-encoding (the
    // config check guarantees source = "v4l2" or "rpicam"; rpicam-vid encodes with the GOP of
    // one segment).
    let (video, video_why, encoder_name) = match s.video.encoder {
        EncoderKind::Camera if s.video.source == VideoSourceKind::Rpicam => {
            let cam = RpicamH264::spawn(
                fmt,
                s.hls.segment_seconds * fmt.fps,
                s.video.bitrate_kbps,
                clock.clone(),
            )
            .map_err(|e| {
                Error::new(
                    ErrorKind::Source,
                    format!("video.encoder = \"camera\" with video.source = \"rpicam\": {e}"),
                )
            })?;
            (
                VideoInput::Camera(Box::new(cam)),
                CAMERA_H264.to_string(),
                "camera".to_string(),
            )
        }
        EncoderKind::Camera => {
            let cam = ReopeningH264::open(&s.video.device, fmt, clock.clone()).map_err(|e| {
                Error::new(
                    ErrorKind::Source,
                    format!("video.encoder = \"camera\": {}: {e}", s.video.device),
                )
            })?;
            (
                VideoInput::Camera(Box::new(cam)),
                CAMERA_H264.to_string(),
                "camera".to_string(),
            )
        }
        EncoderKind::Auto | EncoderKind::Openh264 | EncoderKind::V4l2m2m => {
            let (v, why) = open_video(s, fmt, clock.clone(), paced, &stats)?;
            // With [[variant]]s the first variant's encoder makes the first rendition.
            let (kind, bitrate) = s
                .variant
                .first()
                .map_or((s.video.encoder, s.video.bitrate_kbps), |v| {
                    (v.encoder, v.bitrate_kbps)
                });
            let (f, name, encoder_why) = encoder_factory(s, kind, bitrate, &stats)?;
            log::info!("video encoder: {name} ({encoder_why})");
            (VideoInput::Raw(v, f), why, name)
        }
    };
    let video_name = match &video {
        VideoInput::Camera(cam) => cam.name().to_string(),
        VideoInput::Raw(v, _) => v.name().to_string(),
    };
    let (audio, audio_why) = open_audio(s, clock.clone(), paced)?;
    let audio_name = audio
        .as_ref()
        .map_or("none".to_string(), |(a, _)| a.name().to_string());
    log::info!("video: {video_name} ({video_why}); audio: {audio_name} ({audio_why})");
    stats.set_names(&video_name, &audio_name, &encoder_name);

    let hls = HlsConfig {
        dir: s.hls.dir.clone(),
        segment_duration: Pts90k::from_millis(u64::from(s.hls.segment_seconds) * 1000),
        window: s.hls.window,
        state_file: s.state_file(),
        mux: MuxConfig {
            audio_pid: audio
                .as_ref()
                .map(|_| MuxConfig::default().audio_pid.unwrap_or(0x101)),
            ..MuxConfig::default()
        },
        container: s.container(),
        // The AAC encoder writes AAC-LC (object type 2) at the configured rate and channels.
        audio: audio.as_ref().map(|_| AudioParams {
            sample_rate: s.audio.sample_rate,
            channels: s.audio.channels as u8,
            object_type: 2,
        }),
        low_latency: s
            .hls
            .low_latency
            .then(|| PartPlan::new(s.hls.part_ms, first_fps(s))),
    };
    match &hls.low_latency {
        Some(p) => log::info!(
            "LL-HLS on ({} container): parts of {} frames = {:.1} ms (part_ms = {}), PART-TARGET {:.3} s",
            hls.container,
            p.frames,
            p.millis(),
            s.hls.part_ms,
            p.part_target.0 as f64 / 90_000.0
        ),
        None => log::info!("classic HLS ({} container)", hls.container),
    }
    let live = LiveShared::new();
    let abr = renditions(s, &hls, &live, has_audio_track(&hls), &stats)?;
    // [record]: the recorder (one more consumer, with its own writer thread) starts before
    // the HTTP server, whose recordings routes read its figures.
    let audio_kbps = if s.audio.source == AudioSourceKind::None {
        0
    } else {
        s.audio.bitrate_kbps
    };
    let top_kbps = s
        .variant
        .first()
        .map_or(s.video.bitrate_kbps, |v| v.bitrate_kbps);
    let segment_cap = segment_capacity(top_kbps + audio_kbps, s.hls.segment_seconds);
    let recorder = s.record.enabled().then(|| {
        hlscam::record::Recorder::start(
            hlscam::record::RecordSetup::new(&s.record, segment_cap).with_live_ring(
                &s.hls.dir,
                RecordSettings::pre_roll_limit(s.hls.window, s.hls.segment_seconds),
            ),
            &stats,
        )
    });
    let record_access = recorder.as_ref().map(|r| {
        Arc::new(hlscam::record::RecordAccess {
            settings: s.record.clone(),
            status: r.status().clone(),
            control: r.control().clone(),
        })
    });
    let http = HttpServer::start(
        HttpConfig {
            listen: s.http.listen.clone(),
            dir: s.hls.dir.clone(),
            max_connections: s.http.max_connections,
            io_timeout: Duration::from_secs(u64::from(s.http.timeout_seconds)),
            live: Some(live.clone()),
            record: record_access,
            renditions: Some(abr.http.clone()),
        },
        stats.clone(),
    )
    .map_err(|e| {
        Error::new(
            ErrorKind::Http,
            format!("HTTP server on {}: {e}", s.http.listen),
        )
    })?;
    announce(http.local_addr());

    // Signals: the handler only sets a flag; a small thread hands it to the pipeline.
    let stop = Arc::new(AtomicBool::new(false));
    // SAFETY: `on_signal` only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, on_signal as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, on_signal as *const () as libc::sighandler_t);
    }
    let done = Arc::new(AtomicBool::new(false));
    let notifier = Notifier::from_env().map(Arc::new);
    let monitor = spawn_monitor(stats.clone(), stop.clone(), done.clone(), notifier.clone());

    let mut pipeline = Pipeline::new(
        PipelineConfig {
            hls,
            duration: cli
                .duration
                .map(|d| Pts90k::from_duration(Duration::from_secs_f64(d))),
            fast: cli.fast,
            live: Some(live),
        },
        stats.clone(),
        stop.clone(),
    );
    if let Some(n) = notifier.clone() {
        pipeline.on_first_segment(move || n.ready());
    }
    // [[publish]]: one consumer and upload thread per origin.
    let setup = PublishSetup {
        target_secs: s.hls.segment_seconds,
        window: s.hls.window,
        container: s.container(),
        segment_cap,
    };
    for p in
        publish::start(&s.publish, &setup, &stats).map_err(|e| Error::new(ErrorKind::Output, e))?
    {
        pipeline.add_consumer(Box::new(p));
    }
    if let Some(r) = recorder {
        pipeline.add_consumer(Box::new(r));
    }
    pipeline.latency_clock(clock.clone());
    pipeline.first_rendition(abr.first_format, Some(abr.first_info));
    for r in abr.renditions {
        pipeline.add_rendition(r);
    }
    if let Some(r) = abr.audio_only {
        pipeline.add_audio_only(r);
    }
    let result = match video {
        VideoInput::Camera(cam) => pipeline.run_encoded(cam, audio),
        VideoInput::Raw(video, make_encoder) => pipeline.run(video, make_encoder, audio),
    };
    log::info!("{}", stats.stage_summary());
    if let Ok(summary) = &result {
        log::info!(
            "stopped after {} segments ({})",
            summary.segments,
            if summary.ended {
                "end of stream"
            } else {
                "signal: playlist left live"
            }
        );
        if let Some(linger) = cli.linger.filter(|_| summary.ended) {
            log::info!("serving the finished stream for {linger} s more");
            let until = std::time::Instant::now() + Duration::from_secs_f64(linger);
            while std::time::Instant::now() < until && !SIGNALLED.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }
    if let Some(n) = &notifier {
        n.stopping();
    }
    done.store(true, Ordering::SeqCst);
    let _ = monitor.join();
    http.shutdown();
    result.map(|_| ())
}

/// The first rendition's frame rate: the first `[[variant]]`'s, else the capture's.
fn first_fps(s: &Settings) -> u32 {
    s.variant
        .first()
        .map_or(s.video.fps, |v| v.fps_or(s.video.fps))
}

fn has_audio_track(hls: &HlsConfig) -> bool {
    hls.mux.audio_pid.is_some()
}

/// Rendition `name`'s state file: beside the first rendition's, so that they persist (or not)
/// together; in its own directory when `[hls] state_file` is not set.
fn beside_state_file(s: &Settings, name: &str) -> PathBuf {
    if s.hls.state_file.as_os_str().is_empty() {
        PathBuf::new()
    } else {
        PathBuf::from(format!("{}.{name}", s.hls.state_file.display()))
    }
}

/// The renditions of the stream: the first (this pipeline's own output at `/`), the others
/// of `[[variant]]` under `/v/<name>/`, and what the HTTP server needs for them and for the
/// master playlist.
struct Abr {
    first_format: VideoFormat,
    first_info: Arc<RenditionInfo>,
    renditions: Vec<Rendition>,
    audio_only: Option<AudioOnlyRendition>,
    http: Arc<Renditions>,
}

fn renditions(
    s: &Settings,
    hls: &HlsConfig,
    live: &Arc<LiveShared>,
    audio: bool,
    stats: &Arc<Stats>,
) -> Result<Abr, Error> {
    let audio_codec = audio.then_some("mp4a.40.2");
    let format = |w, h, fps| VideoFormat {
        width: w,
        height: h,
        fps,
    };
    let first_format = match s.variant.first() {
        Some(v) => format(v.width, v.height, v.fps_or(s.video.fps)),
        None => format(s.video.width, s.video.height, s.video.fps),
    };
    let info = |name: &str, uri: String, fps: Option<u32>, codec| {
        Arc::new(RenditionInfo::new(
            RenditionSpec {
                name: name.to_owned(),
                uri,
                video: fps,
                audio_codec: codec,
            },
            s.hls.window,
        ))
    };
    let first_name = s.variant.first().map_or("main", |v| v.name.as_str());
    let first_info = info(
        first_name,
        "live.m3u8".to_owned(),
        Some(first_format.fps),
        audio_codec,
    );
    stats.add_rendition(first_info.clone(), stats.clone());
    let mut http = Renditions {
        master: Master {
            renditions: vec![first_info.clone()],
        },
        routes: Vec::new(),
        first_live: Some(live.clone()),
    };
    let mut list = Vec::new();
    for v in s.variant.iter().skip(1) {
        let fmt = format(v.width, v.height, v.fps_or(s.video.fps));
        let lane_stats = Arc::new(Stats::new());
        let (make_encoder, name, why) = encoder_factory(s, v.encoder, v.bitrate_kbps, &lane_stats)?;
        log::info!(
            "rendition {}: {}x{} at {} fps, {} kb/s, encoder {name} ({why})",
            v.name,
            fmt.width,
            fmt.height,
            fmt.fps,
            v.bitrate_kbps
        );
        let mut cfg = hls.clone();
        cfg.dir = s.hls.dir.join("v").join(&v.name);
        cfg.state_file = beside_state_file(s, &v.name);
        cfg.low_latency = s
            .hls
            .low_latency
            .then(|| PartPlan::new(s.hls.part_ms, fmt.fps));
        let lane_info = info(
            &v.name,
            format!("v/{}/live.m3u8", v.name),
            Some(fmt.fps),
            audio_codec,
        );
        stats.add_rendition(lane_info.clone(), lane_stats.clone());
        let lane_live = LiveShared::new();
        http.master.renditions.push(lane_info.clone());
        http.routes.push(RenditionRoute {
            name: v.name.clone(),
            dir: cfg.dir.clone(),
            live: lane_live.clone(),
            info: lane_info.clone(),
        });
        list.push(Rendition {
            name: v.name.clone(),
            format: fmt,
            hls: cfg,
            live: Some(lane_live),
            make_encoder,
            stats: lane_stats,
            info: Some(lane_info),
        });
    }
    // The audio-only rendition: MPEG-TS whatever the container (an audio-only program needs
    // no initialisation segment), parts of whole AAC frames.
    let audio_only = (audio && s.hls.audio_only && !s.variant.is_empty()).then(|| {
        let mut cfg = hls.clone();
        cfg.dir = s.hls.dir.join("v").join(AUDIO_ONLY_NAME);
        cfg.state_file = beside_state_file(s, AUDIO_ONLY_NAME);
        cfg.container = hlscam::hls::Container::Ts;
        cfg.mux.video_pid = None;
        cfg.low_latency = s
            .hls
            .low_latency
            .then(|| PartPlan::audio(s.hls.part_ms, s.audio.sample_rate));
        let info = info(
            AUDIO_ONLY_NAME,
            format!("v/{AUDIO_ONLY_NAME}/live.m3u8"),
            None,
            audio_codec,
        );
        let lane_stats = Arc::new(Stats::new());
        stats.add_rendition(info.clone(), lane_stats.clone());
        let live = LiveShared::new();
        http.master.renditions.push(info.clone());
        http.routes.push(RenditionRoute {
            name: AUDIO_ONLY_NAME.to_owned(),
            dir: cfg.dir.clone(),
            live: live.clone(),
            info: info.clone(),
        });
        AudioOnlyRendition {
            hls: cfg,
            live: Some(live),
            stats: lane_stats,
            info: Some(info),
        }
    });
    Ok(Abr {
        first_format,
        first_info,
        renditions: list,
        audio_only,
        http: Arc::new(http),
    })
}

/// Prints where to point a browser.
fn announce(addr: std::net::SocketAddr) {
    let port = addr.port();
    let host = if addr.ip().is_unspecified() {
        local_ip().unwrap_or_else(|| "127.0.0.1".to_string())
    } else {
        addr.ip().to_string()
    };
    log::info!("serving on {addr}");
    eprintln!("hlscam: open http://{host}:{port}/ (player) or http://{host}:{port}/live.m3u8");
}

/// The address this machine would use on the LAN (no packet is sent: UDP connect only).
fn local_ip() -> Option<String> {
    let sock = std::net::UdpSocket::bind("0.0.0.0:0").ok()?;
    sock.connect("192.0.2.1:9").ok()?;
    Some(sock.local_addr().ok()?.ip().to_string())
}

/// What feeds the pipeline's video side: the camera's own H.264 (`encoder = "camera"`), or
/// raw pictures and the encoder for them.
enum VideoInput {
    Camera(Box<dyn EncodedVideoSource>),
    Raw(Box<dyn VideoSource>, EncoderFactory),
}

/// Why the camera's H.264 is used, for the startup log line.
const CAMERA_H264: &str = "the camera's own H.264, not re-encoded";

fn open_video(
    s: &Settings,
    fmt: VideoFormat,
    clock: Arc<dyn Clock>,
    paced: bool,
    stats: &Arc<Stats>,
) -> Result<(Box<dyn VideoSource>, String), Error> {
    let testsrc = || Box::new(TestSource::new(fmt, clock.clone(), paced)) as Box<dyn VideoSource>;
    match s.video.source {
        VideoSourceKind::Testsrc => Ok((testsrc(), "configured".to_string())),
        VideoSourceKind::V4l2 => {
            // Supervised: a camera missing now or unplugged later shows a "no signal" slate
            // while it is retried with backoff.
            let cam = supervised_camera(&s.video.device, fmt, clock.clone(), Some(stats.clone()));
            Ok((Box::new(cam), "configured".to_string()))
        }
        VideoSourceKind::Auto => Ok(pick_video(
            &s.video.device,
            fmt,
            clock.clone(),
            Some(stats.clone()),
            testsrc,
        )),
        VideoSourceKind::Rpicam => {
            // A CSI camera through rpicam-vid (raw I420 on its stdout), supervised like a V4L2
            // camera: slate while it is down, restarted with backoff.
            let cam = supervised_rpicam(fmt, clock.clone(), Some(stats.clone()));
            Ok((Box::new(cam), "configured".to_string()))
        }
    }
}

type AudioPair = (Box<dyn AudioSource>, Box<dyn AudioEncoder>);

fn open_audio(
    s: &Settings,
    clock: Arc<dyn Clock>,
    paced: bool,
) -> Result<(Option<AudioPair>, String), Error> {
    let fmt = AudioFormat {
        sample_rate: s.audio.sample_rate,
        channels: s.audio.channels,
    };
    let aac = || -> Result<Box<dyn AudioEncoder>, Error> {
        AacEncoder::new(fmt, s.audio.bitrate_kbps)
            .map(|e| Box::new(e) as Box<dyn AudioEncoder>)
            .map_err(|e| Error::new(ErrorKind::Encoder, format!("AAC encoder for {fmt:?}: {e}")))
    };
    let tone = || Box::new(ToneSource::new(fmt, clock.clone(), paced)) as Box<dyn AudioSource>;
    let (src, why): (Box<dyn AudioSource>, String) = match s.audio.source {
        AudioSourceKind::None => return Ok((None, "configured".to_string())),
        AudioSourceKind::Tone => (tone(), "configured".to_string()),
        AudioSourceKind::Alsa => (
            Box::new(AlsaSource::open_or_retry(
                &s.audio.device,
                fmt,
                clock.clone(),
            )),
            "configured".to_string(),
        ),
        AudioSourceKind::Auto => pick_audio(&s.audio.device, fmt, clock.clone(), tone),
    };
    Ok((Some((src, aac()?)), why))
}

/// The video encoder chosen for `s` and why (one log line), as the pipeline's factory:
/// `encoder = "auto"` is the hardware encoder when a stateful H.264 M2M device is present
/// (bcm2835-codec on a Pi Zero 2 W/3/4), else openh264; `"v4l2m2m"` insists on the hardware
/// at start. A hardware encoder that fails later hands over to openh264 without stopping the
/// stream (`encode::fallback`: IDR + `EXT-X-DISCONTINUITY`).
fn encoder_factory(
    s: &Settings,
    kind: EncoderKind,
    bitrate: u32,
    stats: &Arc<Stats>,
) -> Result<(EncoderFactory, String, String), Error> {
    let (threads, seconds) = (s.video.threads as u16, s.hls.segment_seconds);
    let sw: OpenEncoder = Arc::new(move |fmt: VideoFormat| {
        OpenH264Encoder::new(fmt, bitrate, seconds * fmt.fps, threads)
            .map(|e| Box::new(e) as Box<dyn VideoEncoder>)
    });
    let hw = match kind {
        EncoderKind::Openh264 | EncoderKind::Camera => None,
        EncoderKind::Auto => find_h264_encoder(),
        EncoderKind::V4l2m2m => Some(find_h264_encoder().ok_or_else(|| {
            Error::new(
                ErrorKind::Encoder,
                "video.encoder = \"v4l2m2m\": no V4L2 memory-to-memory H.264 encoder found \
                 (bcm2835-codec, /dev/video11 on a Pi Zero 2 W, 3 or 4; a Pi 5 has none): use \
                 \"auto\" or \"openh264\"",
            )
        })?),
    };
    let Some((path, card)) = hw else {
        let why = match kind {
            EncoderKind::Auto => "encoder auto: no V4L2 M2M H.264 encoder found",
            _ => "configured",
        };
        return Ok((
            Box::new(move |fmt: VideoFormat| sw(fmt)),
            "openh264".to_string(),
            why.to_string(),
        ));
    };
    let why = format!(
        "{}: hardware H.264 encoder {card} at {path}, openh264 if it fails",
        if kind == EncoderKind::Auto {
            "encoder auto"
        } else {
            "configured"
        }
    );
    let name = format!("v4l2m2m:{path}");
    let hw: OpenEncoder = Arc::new(move |fmt: VideoFormat| {
        M2mEncoder::open(&path, CodedFormat::H264, fmt, bitrate, seconds * fmt.fps)
            .map(|e| Box::new(e) as Box<dyn VideoEncoder>)
    });
    Ok((hardware_first(hw, sw, Some(stats.clone())), name, why))
}

/// Logs a stats line every 10 s and pings the systemd watchdog while media flows.
fn spawn_monitor(
    stats: Arc<Stats>,
    stop: Arc<AtomicBool>,
    done: Arc<AtomicBool>,
    notifier: Option<Arc<Notifier>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let tick = Duration::from_millis(100);
        let mut since_log = Duration::ZERO;
        let mut since_dog = Duration::ZERO;
        let dog_every = notifier
            .as_ref()
            .and_then(|n| n.watchdog_interval())
            .map(|d| d / 2);
        let mut last = stats.snapshot();
        let mut last_dog_frames = last.frames_out;
        while !done.load(Ordering::SeqCst) {
            std::thread::sleep(tick);
            if SIGNALLED.load(Ordering::SeqCst) {
                stop.store(true, Ordering::SeqCst);
            }
            since_log += tick;
            since_dog += tick;
            if let (Some(n), Some(every)) = (&notifier, dog_every) {
                if since_dog >= every {
                    since_dog = Duration::ZERO;
                    let frames = stats.frames_out.load(Ordering::Relaxed);
                    // Only while media flows: a wedged pipeline gets restarted by systemd.
                    if frames > last_dog_frames {
                        n.watchdog();
                    }
                    last_dog_frames = frames;
                }
            }
            if since_log >= Duration::from_secs(10) {
                since_log = Duration::ZERO;
                let now = stats.snapshot();
                let secs = (now.uptime_s - last.uptime_s).max(1e-3);
                let frames = now.frames_out - last.frames_out;
                let enc_ms = if frames == 0 {
                    0.0
                } else {
                    (stats.encode_ns.load(Ordering::Relaxed) as f64 / 1e6)
                        / now.frames_out.max(1) as f64
                };
                log::info!(
                    "fps in {:.1} out {:.1}, drops {}, bitrate {:.0} kb/s, encode {:.2} ms/frame, segments {}, clients {}",
                    (now.frames_in - last.frames_in) as f64 / secs,
                    frames as f64 / secs,
                    now.drops,
                    now.bitrate_kbps,
                    enc_ms,
                    now.segments,
                    now.clients
                );
                last = now;
            }
        }
    })
}
