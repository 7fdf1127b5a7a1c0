//! Configuration file and command line: every documented error with its exact message, the
//! example file, round trips through `to_toml`, and the CLI contract.

use std::path::{Path, PathBuf};

use hlscam::cli::{check_config_to, Cli, Command};
use hlscam::config::{
    AudioSourceKind, EncoderKind, PublishKind, PublishTarget, Settings, VideoSourceKind,
    DEFAULT_LISTEN, STATE_FILE_NAME,
};
use hlscam::hls::Container;

fn err(text: &str) -> String {
    match Settings::parse(text, "hlscam.toml") {
        Ok(s) => panic!("accepted {text:?} as {s:?}"),
        Err(e) => e.to_string(),
    }
}

/// A unique scratch path under the system temp dir (removed by the caller).
fn scratch(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("hlscam-config-test-{}-{name}", std::process::id()))
}

const EXAMPLE: &str = include_str!("../hlscam.example.toml");

// ---- the documented messages, exactly ----

#[test]
fn out_of_range_names_key_line_column_and_range() {
    let text = "# camera\n\n[video]\nsource = \"testsrc\"\nwidth = 640\nheight = 480\nfps = 0\n";
    assert_eq!(
        err(text),
        "hlscam.toml: video.fps = 0 at line 7, column 7: must be 1..=120"
    );
}

#[test]
fn unknown_key_lists_the_allowed_keys() {
    assert_eq!(
        err("[video]\nfps = 30\nfpz = 30\n"),
        "hlscam.toml: unknown key video.fpz at line 3, column 1: allowed keys in [video] are \
         source, device, width, height, fps, encoder, bitrate_kbps, threads"
    );
    assert_eq!(
        err("[hls]\nwindow = 6\n  segments = 3\n"),
        "hlscam.toml: unknown key hls.segments at line 3, column 3: allowed keys in [hls] are \
         dir, segment_seconds, window, low_latency, part_ms, container, audio_only, state_file"
    );
}

#[test]
fn unknown_section_and_non_table_section() {
    assert_eq!(
        err("[video]\nfps = 30\n[vidoe]\nfps = 30\n"),
        "hlscam.toml: unknown section [vidoe] at line 3, column 2: allowed sections are \
         video, audio, hls, http, log, record, [[publish]] and [[variant]]"
    );
    assert_eq!(
        err("log = \"debug\"\n"),
        "hlscam.toml: log = \"debug\" at line 1, column 1: must be a table: [log]"
    );
    assert_eq!(
        err("[[audio]]\nchannels = 1\n"),
        "hlscam.toml: audio = [{ channels = 1 }] at line 1, column 3: must be a table: [audio]"
    );
}

#[test]
fn bad_enum_value_lists_the_names() {
    assert_eq!(
        err("[video]\nsource = \"webcam\"\n"),
        "hlscam.toml: video.source = \"webcam\" at line 2, column 10: must be one of auto, v4l2, \
         rpicam, testsrc"
    );
    assert_eq!(
        err("[video]\nencoder = \"x264\"\n"),
        "hlscam.toml: video.encoder = \"x264\" at line 2, column 11: must be one of auto, \
         v4l2m2m, openh264, camera"
    );
    assert_eq!(
        err("[audio]\nsource = \"pulse\"\n"),
        "hlscam.toml: audio.source = \"pulse\" at line 2, column 10: must be one of auto, alsa, \
         tone, none"
    );
    assert_eq!(
        err("[log]\nlevel = \"INFO\"\n"),
        "hlscam.toml: log.level = \"INFO\" at line 2, column 9: must be one of error, warn, info, \
         debug, trace"
    );
    // Enum names are case-sensitive, and a non-string gets the same list.
    assert_eq!(
        err("[video]\nsource = 1\n"),
        "hlscam.toml: video.source = 1 at line 2, column 10: must be one of auto, v4l2, rpicam, \
         testsrc"
    );
}

#[test]
fn wrong_types_say_what_type_and_range() {
    let cases = [
        (
            "[video]\n\n\nwidth = \"wide\"\n",
            "hlscam.toml: video.width = \"wide\" at line 4, column 9: must be an integer 16..=3840",
        ),
        (
            "[video]\nfps = 29.97\n",
            "hlscam.toml: video.fps = 29.97 at line 2, column 7: must be an integer 1..=120",
        ),
        (
            "[video]\nfps = true\n",
            "hlscam.toml: video.fps = true at line 2, column 7: must be an integer 1..=120",
        ),
        (
            "[video]\nfps = [30]\n",
            "hlscam.toml: video.fps = [30] at line 2, column 7: must be an integer 1..=120",
        ),
        (
            "[video]\nfps = 1979-05-27\n",
            "hlscam.toml: video.fps = 1979-05-27 at line 2, column 7: must be an integer 1..=120",
        ),
        (
            "[video]\ndevice = 0\n",
            "hlscam.toml: video.device = 0 at line 2, column 10: must be a string",
        ),
        (
            "[hls]\ndir = 1\n",
            "hlscam.toml: hls.dir = 1 at line 2, column 7: must be a string (a path)",
        ),
        (
            "[http]\nlisten = 8080\n",
            "hlscam.toml: http.listen = 8080 at line 2, column 10: must be a string ADDR:PORT \
             such as 0.0.0.0:8080 or [::]:8080",
        ),
        (
            "[audio]\nsample_rate = \"48k\"\n",
            "hlscam.toml: audio.sample_rate = \"48k\" at line 2, column 15: must be one of 8000, \
             16000, 22050, 24000, 32000, 44100, 48000",
        ),
        (
            "[video.fps]\nvalue = 30\n",
            "hlscam.toml: video.fps = { value = 30 } at line 1, column 1: must be an integer \
             1..=120",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(err(text), want, "{text:?}");
    }
}

/// (section, key, range text, values just outside the range)
const RANGES: &[(&str, &str, &str, &[i64])] = &[
    ("video", "width", "16..=3840", &[14, 3842, -2, 0]),
    ("video", "height", "16..=2160", &[14, 2162]),
    ("video", "fps", "1..=120", &[0, 121, -1, 4_294_967_297]),
    ("video", "bitrate_kbps", "100..=50000", &[99, 50001]),
    ("video", "threads", "0..=16", &[17, -1]),
    ("audio", "channels", "1..=2", &[0, 3, 65_537]),
    ("audio", "bitrate_kbps", "16..=320", &[15, 321]),
    ("hls", "segment_seconds", "1..=10", &[0, 11]),
    ("hls", "window", "6..=60", &[5, 61, -6]),
    ("http", "max_connections", "1..=1024", &[0, 1025]),
    ("http", "timeout_seconds", "1..=300", &[0, 301]),
];

#[test]
fn every_ranged_key_refuses_both_ends_and_accepts_its_bounds() {
    let mut checked = 0;
    for (section, key, range, bad) in RANGES {
        for v in *bad {
            let text = format!("[{section}]\n{key} = {v}\n");
            let col = key.len() + 4;
            let want = format!(
                "hlscam.toml: {section}.{key} = {v} at line 2, column {col}: must be {range}"
            );
            assert_eq!(err(&text), want);
            checked += 1;
        }
        let (lo, hi) = range.split_once("..=").unwrap();
        // 320 kbit/s AAC needs two channels at 48 kHz (see cross_field_rules).
        let extra = if (*section, *key) == ("audio", "bitrate_kbps") {
            "channels = 2\n"
        } else {
            ""
        };
        for ok in [lo, hi] {
            let text = format!("[{section}]\n{extra}{key} = {ok}\n");
            let s = Settings::parse(&text, "t").unwrap_or_else(|e| panic!("{text:?}: {e}"));
            assert!(s.to_toml().contains(&format!("{key} = {ok}\n")), "{text:?}");
        }
    }
    assert_eq!(checked, 28);
}

#[test]
fn odd_sizes_and_unsupported_sample_rates() {
    assert_eq!(
        err("[video]\nwidth = 641\n"),
        "hlscam.toml: video.width = 641 at line 2, column 9: must be even"
    );
    assert_eq!(
        err("[video]\nheight = 481\n"),
        "hlscam.toml: video.height = 481 at line 2, column 10: must be even"
    );
    for rate in [0, 11025, 96000] {
        assert_eq!(
            err(&format!("[audio]\nsample_rate = {rate}\n")),
            format!(
                "hlscam.toml: audio.sample_rate = {rate} at line 2, column 15: must be one of \
                 8000, 16000, 22050, 24000, 32000, 44100, 48000"
            )
        );
    }
    for rate in [8000, 16000, 22050, 24000, 32000, 44100, 48000] {
        let text = format!("[audio]\nsample_rate = {rate}\nbitrate_kbps = 32\n");
        assert_eq!(Settings::parse(&text, "t").unwrap().audio.sample_rate, rate);
    }
}

#[test]
fn strings_that_must_parse_or_be_non_empty() {
    assert_eq!(
        err("[http]\nlisten = \"8080\"\n"),
        "hlscam.toml: http.listen = \"8080\" at line 2, column 10: must be ADDR:PORT such as \
         0.0.0.0:8080 or [::]:8080"
    );
    assert_eq!(
        err("[http]\nlisten = \"localhost:8080\"\n"),
        "hlscam.toml: http.listen = \"localhost:8080\" at line 2, column 10: must be ADDR:PORT \
         such as 0.0.0.0:8080 or [::]:8080"
    );
    assert_eq!(
        err("[hls]\ndir = \"\"\n"),
        "hlscam.toml: hls.dir = \"\" at line 2, column 7: must not be empty"
    );
    let s = Settings::parse("[http]\nlisten = \"[::1]:9000\"\n", "t").unwrap();
    assert_eq!(s.http.listen, "[::1]:9000");
}

#[test]
fn cross_field_rules() {
    assert_eq!(
        err("[video]\nsource = \"testsrc\"\nencoder = \"camera\"\n"),
        "hlscam.toml: video.encoder = \"camera\" at line 3, column 11: requires video.source = \
         \"v4l2\" (a camera that outputs H.264) or \"rpicam\" (rpicam-vid's H.264)"
    );
    let s = Settings::parse("[video]\nsource = \"v4l2\"\nencoder = \"camera\"\n", "t").unwrap();
    assert_eq!(s.video.encoder, EncoderKind::Camera);
    let s = Settings::parse("[video]\nsource = \"rpicam\"\nencoder = \"camera\"\n", "t").unwrap();
    assert_eq!(
        (s.video.source, s.video.encoder),
        (VideoSourceKind::Rpicam, EncoderKind::Camera)
    );
    assert_eq!(
        err("[video]\nsource = \"v4l2\"\ndevice = \"\"\n"),
        "hlscam.toml: video.device = \"\" at line 3, column 10: must not be empty when \
         video.source = \"v4l2\""
    );
    // An empty device is fine when it is not used.
    assert!(Settings::parse("[video]\nsource = \"testsrc\"\ndevice = \"\"\n", "t").is_ok());
    assert_eq!(
        err("[audio]\nsource = \"alsa\"\ndevice = \"\"\n"),
        "hlscam.toml: audio.device = \"\" at line 3, column 10: must not be empty when \
         audio.source = \"alsa\""
    );
    assert_eq!(
        err("[audio]\nbitrate_kbps = 320\n"),
        "hlscam.toml: audio.bitrate_kbps = 320 at line 2, column 16: must be at most 288 at \
         48000 Hz with 1 channel (AAC-LC carries at most 6 bits per sample per channel)"
    );
    assert!(Settings::parse("[audio]\nbitrate_kbps = 320\nchannels = 2\n", "t").is_ok());
    // The rule breaks on a key the file leaves at its default: the subject says so.
    assert_eq!(
        err("[audio]\nsample_rate = 8000\n"),
        "hlscam.toml: audio.bitrate_kbps = 96 (default): must be at most 48 at 8000 Hz with 1 \
         channel (AAC-LC carries at most 6 bits per sample per channel)"
    );
}

#[test]
fn the_first_problem_in_the_file_is_reported() {
    let text = "[http]\nmax_connections = 0\n[video]\nfps = 0\nfpz = 1\n";
    assert_eq!(
        err(text),
        "hlscam.toml: http.max_connections = 0 at line 2, column 19: must be 1..=1024"
    );
    // Columns count characters, not bytes.
    assert_eq!(
        err("[video]\ndevice = \"/dev/vidéo0\"; fps = 0\n"),
        "hlscam.toml: TOML syntax error at line 2, column 23: unexpected key or value, expected newline, `#`"
    );
    assert_eq!(
        err("[video] # caméra\nfps = 0 # ç\n"),
        "hlscam.toml: video.fps = 0 at line 2, column 7: must be 1..=120"
    );
    assert_eq!(
        err("video.fps = 0\n"),
        "hlscam.toml: video.fps = 0 at line 1, column 13: must be 1..=120"
    );
}

#[test]
fn toml_syntax_errors_have_positions() {
    assert_eq!(
        err("[video]\nfps = 30\nwidth 640\n"),
        "hlscam.toml: TOML syntax error at line 3, column 7: key with no value, expected `=`"
    );
    assert_eq!(
        err("[video\nfps = 30\n"),
        "hlscam.toml: TOML syntax error at line 1, column 7: unclosed table, expected `]`"
    );
    assert_eq!(
        err("[video]\nfps = 30\nfps = 25\n"),
        "hlscam.toml: TOML syntax error at line 3, column 1: duplicate key"
    );
    let e = Settings::parse("[audio]\ndevice = \"hw:1\n", "a.toml").unwrap_err();
    assert_eq!(e.origin(), Some("a.toml"));
    assert_eq!(e.subject(), Some("TOML syntax error"));
    assert_eq!(e.line_col().map(|(l, _)| l), Some(2));
    assert!(!e.to_string().contains('\n'));
}

#[test]
fn missing_and_unreadable_files_name_the_path() {
    let missing = scratch("missing.toml");
    let e = Settings::load(&missing).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}: cannot read the file: No such file or directory (os error 2)",
            missing.display()
        )
    );
    let dir = scratch("a-directory");
    std::fs::create_dir_all(&dir).unwrap();
    let e = Settings::load(&dir).unwrap_err();
    std::fs::remove_dir(&dir).unwrap();
    assert_eq!(
        e.to_string(),
        format!(
            "{}: cannot read the file: Is a directory (os error 21)",
            dir.display()
        )
    );
    let bad = scratch("latin1.toml");
    std::fs::write(&bad, b"[video]\ndevice = \"/dev/vid\xe9o\"\n").unwrap();
    let e = Settings::load(&bad).unwrap_err();
    std::fs::remove_file(&bad).unwrap();
    assert_eq!(
        e.to_string(),
        format!(
            "{}: cannot read the file: stream did not contain valid UTF-8",
            bad.display()
        )
    );
}

#[test]
fn load_reads_a_real_file_and_prefixes_errors_with_its_name() {
    let path = scratch("hlscam.toml");
    std::fs::write(&path, "[video]\nsource = \"testsrc\"\nfps = 25\n").unwrap();
    let s = Settings::load(&path).unwrap();
    assert_eq!(
        (s.video.source, s.video.fps),
        (VideoSourceKind::Testsrc, 25)
    );
    std::fs::write(&path, "[video]\nfps = 500\n").unwrap();
    let e = Settings::load(&path).unwrap_err();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(
        e.to_string(),
        format!(
            "{}: video.fps = 500 at line 2, column 7: must be 1..=120",
            path.display()
        )
    );
}

// ---- defaults, the example file, round trips ----

#[test]
fn empty_file_gives_the_defaults() {
    assert_eq!(Settings::parse("", "t").unwrap(), Settings::default());
    assert_eq!(
        Settings::parse("# nothing\n[video]\n", "t").unwrap(),
        Settings::default()
    );
    assert_eq!(Settings::default().validate(), Ok(()));
}

#[test]
fn example_file_lists_every_key_at_its_default() {
    let s = Settings::parse(EXAMPLE, "hlscam.example.toml").unwrap();
    assert_eq!(s, Settings::default());
    assert_eq!(s.validate(), Ok(()));
    // Every key the program knows is written out (not left to a default) ...
    let example: toml::Table = toml::from_str(EXAMPLE).unwrap();
    let all: toml::Table = toml::from_str(&Settings::default().to_toml()).unwrap();
    assert_eq!(example, all);
    // ... and each comes after a comment (its default, range and purpose).
    let lines: Vec<&str> = EXAMPLE.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        if line.contains(" = ") && !line.starts_with('#') {
            let key = line.split(" = ").next().unwrap();
            let comment = lines[..i].iter().rev().take_while(|l| !l.is_empty());
            assert!(
                comment.clone().any(|l| l.starts_with('#')),
                "{key} has no comment"
            );
        }
    }
    // The serde derive (deny_unknown_fields + default) agrees with the span-keeping parser.
    assert_eq!(
        toml::from_str::<Settings>(EXAMPLE).unwrap(),
        Settings::default()
    );
    assert!(toml::from_str::<Settings>("[video]\nfpz = 1\n").is_err());
}

fn unusual() -> Settings {
    let mut s = Settings::default();
    s.video.source = VideoSourceKind::V4l2;
    s.video.device = "/dev/v4l/by-id/usb-\"Cam\" \\ é\t1".to_owned();
    s.video.width = 3840;
    s.video.height = 2160;
    s.video.fps = 120;
    s.video.encoder = EncoderKind::Camera;
    s.video.bitrate_kbps = 50000;
    s.video.threads = 16;
    s.audio.source = AudioSourceKind::None;
    s.audio.device = "hw:CARD=Mic,DEV=0".to_owned();
    s.audio.sample_rate = 44100;
    s.audio.channels = 2;
    s.audio.bitrate_kbps = 128;
    s.hls.dir = PathBuf::from("/run/hls cam/'x'");
    s.hls.segment_seconds = 10;
    s.hls.window = 60;
    s.hls.state_file = PathBuf::from("/var/lib/hlscam/state");
    s.http.listen = "[::]:8443".to_owned();
    s.http.max_connections = 1024;
    s.http.timeout_seconds = 300;
    s.log.level = "trace".to_owned();
    s
}

#[test]
fn to_toml_round_trips() {
    for s in [Settings::default(), unusual()] {
        assert_eq!(s.validate(), Ok(()));
        let text = s.to_toml();
        assert_eq!(Settings::parse(&text, "effective").unwrap(), s, "{text}");
        assert_eq!(toml::from_str::<Settings>(&text).unwrap(), s);
    }
    assert!(Settings::default()
        .to_toml()
        .starts_with("[video]\nsource = \"auto\"\n"));
}

#[test]
fn validate_reports_without_position() {
    let mut s = Settings::default();
    s.hls.window = 3;
    let e = s.validate().unwrap_err();
    assert_eq!(e.to_string(), "hls.window = 3: must be 6..=60");
    assert_eq!((e.origin(), e.line_col()), (None, None));
    assert_eq!(e.message(), "must be 6..=60");
}

#[test]
fn state_file_defaults_into_the_output_dir() {
    let mut s = Settings::default();
    assert_eq!(
        s.state_file(),
        Path::new("/tmp/hlscam").join(STATE_FILE_NAME)
    );
    assert_eq!(s.state_file(), Path::new("/tmp/hlscam/.hlscam-state"));
    s.hls.state_file = PathBuf::from("/var/lib/hlscam/seq");
    assert_eq!(s.state_file(), Path::new("/var/lib/hlscam/seq"));
}

#[test]
fn log_level_filter() {
    let mut s = Settings::default();
    assert_eq!(s.log.level_filter(), Some(log::LevelFilter::Info));
    s.log.level = "trace".into();
    assert_eq!(s.log.level_filter(), Some(log::LevelFilter::Trace));
    s.log.level = "loud".into();
    assert_eq!(s.log.level_filter(), None);
}

// ---- check-config ----

#[test]
fn check_config_prints_effective_settings_or_the_error() {
    let path = scratch("check.toml");
    std::fs::write(&path, "[hls]\nwindow = 10\n").unwrap();
    let (mut out, mut errs) = (Vec::new(), Vec::new());
    assert_eq!(check_config_to(&path, &mut out, &mut errs), 0);
    let printed = String::from_utf8(out).unwrap();
    assert_eq!(Settings::parse(&printed, "out").unwrap().hls.window, 10);
    assert!(printed.contains("[log]\nlevel = \"info\"\n"));
    assert!(errs.is_empty());

    std::fs::write(&path, "[hls]\nwindow = 1\n").unwrap();
    let (mut out, mut errs) = (Vec::new(), Vec::new());
    assert_eq!(check_config_to(&path, &mut out, &mut errs), 2);
    std::fs::remove_file(&path).unwrap();
    assert!(out.is_empty());
    assert_eq!(
        String::from_utf8(errs).unwrap(),
        format!(
            "{}: hls.window = 1 at line 2, column 10: must be 6..=60\n",
            path.display()
        )
    );
}

// ---- command line ----

fn cli(args: &[&str]) -> Cli {
    let mut argv = vec!["hlscam"];
    argv.extend_from_slice(args);
    Cli::try_parse_from(argv).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn cli_err(args: &[&str]) -> String {
    let mut argv = vec!["hlscam"];
    argv.extend_from_slice(args);
    match Cli::try_parse_from(argv) {
        Ok(c) => panic!("{args:?} accepted as {c:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn cli_without_arguments_streams_with_defaults() {
    let c = cli(&[]);
    assert_eq!(c.command, None);
    assert_eq!((c.config.as_ref(), c.duration, c.fast), (None, None, false));
    assert_eq!(c.settings().unwrap(), Settings::default());
}

#[test]
fn cli_overrides_are_applied() {
    let c = cli(&[
        "--config",
        "cam.toml",
        "--listen",
        "127.0.0.1:9090",
        "--dir",
        "/run/hls",
        "--duration",
        "2.5",
        "--fast",
        "--log-level",
        "debug",
    ]);
    assert_eq!(c.config, Some(PathBuf::from("cam.toml")));
    assert_eq!((c.duration, c.fast), (Some(2.5), true));
    let mut s = Settings::default();
    c.apply_overrides(&mut s).unwrap();
    assert_eq!(s.http.listen, "127.0.0.1:9090");
    assert_eq!(s.hls.dir, PathBuf::from("/run/hls"));
    assert_eq!(s.log.level, "debug");
    assert_eq!(s.state_file(), Path::new("/run/hls/.hlscam-state"));
    assert_eq!(s.video, Settings::default().video);
    assert_ne!(s.http.listen, DEFAULT_LISTEN);
}

#[test]
fn cli_settings_loads_the_file_then_overrides() {
    let path = scratch("cli.toml");
    std::fs::write(
        &path,
        "[http]\nlisten = \"0.0.0.0:1\"\n[log]\nlevel = \"warn\"\n",
    )
    .unwrap();
    let p = path.to_str().unwrap();
    let s = cli(&["--config", p, "--listen", "127.0.0.1:2"])
        .settings()
        .unwrap();
    assert_eq!(
        (s.http.listen.as_str(), s.log.level.as_str()),
        ("127.0.0.1:2", "warn")
    );
    std::fs::write(&path, "[http]\nlisten = \"nope\"\n").unwrap();
    let e = cli(&["--config", p]).settings().unwrap_err();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(
        e.to_string(),
        format!(
            "{p}: http.listen = \"nope\" at line 2, column 10: must be ADDR:PORT such as \
             0.0.0.0:8080 or [::]:8080"
        )
    );
}

#[test]
fn cli_refuses_bad_values() {
    let e = cli_err(&["--listen", "8080"]);
    assert!(
        e.contains(
            "invalid value '8080' for '--listen <ADDR:PORT>': expected ADDR:PORT such as \
             0.0.0.0:8080 or [::]:8080"
        ),
        "{e}"
    );
    for d in ["0", "-0.5", "abc", "inf", "NaN", ""] {
        let e = cli_err(&[&format!("--duration={d}")]);
        let want = format!(
            "invalid value '{d}' for '--duration <SECS>': expected a number of seconds greater \
             than 0, such as 10 or 2.5"
        );
        assert!(e.contains(&want), "{d}: {e}");
    }
    // A bare negative number is not taken as the value.
    assert!(cli_err(&["--duration", "-1"]).contains("unexpected argument '-1'"));
    let e = cli_err(&["--log-level", "loud"]);
    assert!(
        e.contains("invalid value 'loud' for '--log-level <LEVEL>'"),
        "{e}"
    );
    assert!(
        e.contains("[possible values: error, warn, info, debug, trace]"),
        "{e}"
    );
    let e = cli_err(&["--dir", ""]);
    assert!(
        e.contains("invalid value '' for '--dir <DIR>': must not be empty"),
        "{e}"
    );
    assert!(cli_err(&["--fps", "30"]).contains("unexpected argument '--fps'"));
    assert!(cli_err(&["check-config"]).contains("<FILE>"));
}

#[test]
fn apply_overrides_validates_fields_set_by_hand() {
    let mut c = cli(&[]);
    c.listen = Some("nope".to_owned());
    let e = c.apply_overrides(&mut Settings::default()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "command line: --listen nope: expected ADDR:PORT such as 0.0.0.0:8080 or [::]:8080"
    );
    let mut c = cli(&[]);
    c.log_level = Some("loud".to_owned());
    let e = c.apply_overrides(&mut Settings::default()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "command line: --log-level loud: must be one of error, warn, info, debug, trace"
    );
    let mut c = cli(&[]);
    c.dir = Some(PathBuf::new());
    let e = c.apply_overrides(&mut Settings::default()).unwrap_err();
    assert_eq!(e.to_string(), "command line: --dir \"\": must not be empty");
}

#[test]
fn cli_subcommands() {
    assert_eq!(
        cli(&["check-config", "hlscam.toml"]).command,
        Some(Command::CheckConfig {
            file: PathBuf::from("hlscam.toml")
        })
    );
    assert_eq!(
        cli(&["devices"]).command,
        Some(Command::Devices { json: false })
    );
    assert_eq!(
        cli(&["devices", "--json"]).command,
        Some(Command::Devices { json: true })
    );
    assert!(cli_err(&["devices", "--xml"]).contains("unexpected argument '--xml'"));
    assert!(cli_err(&["frobnicate"]).contains("unrecognized subcommand 'frobnicate'"));
}

#[test]
fn cli_definition_is_consistent_and_documents_every_flag() {
    let help = match Cli::try_parse_from(["hlscam", "--help"]) {
        Err(e) => e.to_string(),
        Ok(c) => panic!("--help parsed as {c:?}"),
    };
    assert_eq!(help, hlscam::cli::HELP);
    for flag in [
        "--config <FILE>",
        "--listen <ADDR:PORT>",
        "--dir <DIR>",
        "--duration <SECS>",
        "--fast",
        "--log-level <LEVEL>",
        "check-config",
        "devices",
    ] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
}

#[test]
fn container_is_auto_ts_or_fmp4() {
    let written = |toml: &str| {
        Settings::parse(toml, "hlscam.toml")
            .unwrap()
            .hls
            .container()
    };
    // auto (the default): fMP4 with LL-HLS (the default), MPEG-TS for classic HLS.
    assert_eq!(Settings::default().hls.container.as_str(), "auto");
    assert_eq!(written(""), Container::Fmp4);
    assert_eq!(written("[hls]\nlow_latency = false\n"), Container::Ts);
    assert_eq!(written("[hls]\ncontainer = \"ts\"\n"), Container::Ts);
    assert_eq!(
        written("[hls]\nlow_latency = false\ncontainer = \"fmp4\"\n"),
        Container::Fmp4
    );
    let e = err("[hls]\ncontainer = \"mp4\"\n");
    assert!(
        e.contains("hls.container") && e.contains("auto") && e.contains("fmp4"),
        "{e}"
    );
}

// ---- [[publish]] ----

#[test]
fn publish_targets_are_read_in_order() {
    let s = Settings::parse(
        "[video]\nfps = 25\n[[publish]]\nkind = \"http\"\nurl = \"http://o:8081/cam/\"\n\
         credentials_file = \"/etc/hlscam/o.secret\"\n[[publish]]\nkind = \"s3\"\n\
         endpoint = \"http://127.0.0.1:9000\"\nbucket = \"live\"\nprefix = \"cam1\"\n",
        "t",
    )
    .unwrap();
    assert_eq!(s.video.fps, 25);
    assert_eq!(s.publish.len(), 2);
    assert_eq!(s.publish[0].kind, PublishKind::Http);
    assert_eq!(s.publish[0].url, "http://o:8081/cam/");
    assert_eq!(
        s.publish[0].credentials_file,
        PathBuf::from("/etc/hlscam/o.secret")
    );
    assert_eq!(s.publish[1].kind, PublishKind::S3);
    assert_eq!(s.publish[1].folder_prefix(), "cam1/");
    assert_eq!(s.publish[1].region_or_default(), "us-east-1");
    // Round trip, through the span-keeping parser and through serde.
    let text = s.to_toml();
    assert!(text.contains("\n[[publish]]\nkind = \"s3\"\n"), "{text}");
    assert_eq!(Settings::parse(&text, "effective").unwrap(), s);
    assert_eq!(toml::from_str::<Settings>(&text).unwrap(), s);
}

#[test]
fn publish_errors_name_the_target_key_line_and_column() {
    assert_eq!(
        err("[[publish]]\nkind = \"ftp\"\n"),
        "hlscam.toml: publish[0].kind = \"ftp\" at line 2, column 8: must be one of http, s3"
    );
    assert_eq!(
        err(
            "[[publish]]\nkind = \"http\"\nurl = \"http://a/\"\n[[publish]]\nurl = \"http://b/\"\n"
        ),
        "hlscam.toml: publish[1] at line 5, column 1: kind is required: \"http\" or \"s3\""
    );
    assert_eq!(
        err("[[publish]]\nkind = \"http\"\n"),
        "hlscam.toml: publish[0].url = \"\" at line 2, column 8: is required for kind = \"http\""
    );
    assert_eq!(
        err("[[publish]]\nkind = \"http\"\nurl = \"https://cdn/\"\n"),
        "hlscam.toml: publish[0].url = \"https://cdn/\" at line 3, column 7: https:// is not \
         supported (no TLS built in): use http://, e.g. to a TLS-terminating proxy on the board"
    );
    assert_eq!(
        err("[[publish]]\nkind = \"http\"\nurl = \"http://a/\"\nbucket = \"b\"\n"),
        "hlscam.toml: publish[0].bucket = \"b\" at line 4, column 10: only for kind = \"s3\""
    );
    assert_eq!(
        err("[[publish]]\nkind = \"s3\"\nendpoint = \"http://h:9000\"\nbucket = \"My_Bucket\"\n"),
        "hlscam.toml: publish[0].bucket = \"My_Bucket\" at line 4, column 10: must be 3..=63 \
         characters of a-z, 0-9, '.' and '-' (S3 bucket naming)"
    );
    assert_eq!(
        err("[[publish]]\nkind = \"s3\"\nbucket = \"live\"\n"),
        "hlscam.toml: publish[0].endpoint = \"\" at line 2, column 8: is required for kind = \"s3\""
    );
    assert_eq!(
        err("[[publish]]\nkind = \"http\"\nurl = \"http://a/\"\nuser = \"x\"\n"),
        "hlscam.toml: unknown key publish[0].user at line 4, column 1: allowed keys in \
         [[publish]] are kind, url, credentials_file, endpoint, bucket, prefix, region"
    );
    assert_eq!(
        err("[[publish]]\nkind = \"http\"\nurl = 5\n"),
        "hlscam.toml: publish[0].url = 5 at line 3, column 7: must be a string"
    );
    assert_eq!(
        err("[publish]\nkind = \"http\"\n"),
        "hlscam.toml: publish = { kind = \"http\" } at line 1, column 2: must be an array of \
         tables: one [[publish]] per target"
    );
}

#[test]
fn publish_validate_reports_without_position() {
    let mut s = Settings::default();
    let mut t = PublishTarget::new(PublishKind::S3);
    t.endpoint = "http://127.0.0.1:9000".into();
    t.bucket = "ok-bucket".into();
    s.publish.push(t.clone());
    assert_eq!(s.validate(), Ok(()));
    t.region = "Mars".into();
    s.publish.push(t);
    assert_eq!(
        s.validate().unwrap_err().to_string(),
        "publish[1].region = \"Mars\": must be a region name such as us-east-1"
    );
}

#[test]
fn record_section_defaults_ranges_and_container_rule() {
    let s = Settings::parse("", "hlscam.toml").unwrap();
    assert_eq!(s.record, hlscam::config::RecordSettings::default());
    assert!(!s.record.enabled());
    // Off: the container is what it always was.
    assert_eq!(s.container(), Container::Fmp4);
    let on = Settings::parse(
        "[record]\nmode = \"continuous\"\ndir = \"/srv/rec\"\nchunk_minutes = 1\n\
         max_bytes = 1000000000\nmax_age_days = 30\nmin_free_percent = 10\nfsync_seconds = 2\n",
        "hlscam.toml",
    )
    .unwrap();
    assert_eq!(on.record.mode, hlscam::config::RecordMode::Continuous);
    assert_eq!(on.record.dir, std::path::PathBuf::from("/srv/rec"));
    assert_eq!(
        (
            on.record.chunk_minutes,
            on.record.max_bytes,
            on.record.max_age_days,
            on.record.min_free_percent,
            on.record.fsync_seconds
        ),
        (1, 1_000_000_000, 30, 10, 2)
    );
    // Recording stores MPEG-TS: "auto" resolves to it even with LL-HLS.
    assert_eq!(on.container(), Container::Ts);
    assert_eq!(on.hls.container(), Container::Fmp4);
    let e = err("[hls]\ncontainer = \"fmp4\"\n[record]\nmode = \"continuous\"\n");
    assert!(
        e.contains("hls.container = \"fmp4\"") && e.contains("MPEG-TS"),
        "{e}"
    );
    assert!(Settings::parse(
        "[hls]\ncontainer = \"fmp4\"\n[record]\nmode = \"off\"\n",
        "hlscam.toml"
    )
    .is_ok());
    let ev = Settings::parse(
        "[record]\nmode = \"events\"\npre_seconds = 12\npost_seconds = 3600\n",
        "hlscam.toml",
    )
    .unwrap();
    assert_eq!(ev.record.mode, hlscam::config::RecordMode::Events);
    assert_eq!((ev.record.pre_seconds, ev.record.post_seconds), (12, 3600));
    assert_eq!((s.record.pre_seconds, s.record.post_seconds), (5, 10));
    assert_eq!(s.record.clip_max_seconds, 600);
    let clip = Settings::parse("[record]\nclip_max_seconds = 3600\n", "hlscam.toml").unwrap();
    assert_eq!(clip.record.clip_max_seconds, 3600);
    // Pre-roll comes from the live ring: window 6 × 2 s holds 12 s, not 13.
    let e = err("[record]\nmode = \"events\"\npre_seconds = 13\n");
    assert!(
        e.contains("record.pre_seconds = 13")
            && e.contains("at most 12")
            && e.contains("hls.window"),
        "{e}"
    );
    assert!(Settings::parse(
        "[hls]\nwindow = 10\nsegment_seconds = 4\n[record]\nmode = \"events\"\npre_seconds = 40\n",
        "hlscam.toml"
    )
    .is_ok());
    let e = err("[record]\nmode = \"sometimes\"\n");
    assert!(e.contains("off, continuous, events"), "{e}");
    for (text, what) in [
        ("chunk_minutes = 0", "must be 1..=60"),
        ("chunk_minutes = 61", "must be 1..=60"),
        ("fsync_seconds = 0", "must be 1..=300"),
        ("fsync_seconds = 301", "must be 1..=300"),
        ("min_free_percent = 51", "must be 0..=50"),
        ("max_age_days = -1", "must be 0..=3650"),
        ("max_bytes = -1", "must be 0..="),
        ("dir = \"\"", "must not be empty"),
        ("pre_seconds = -1", "must be 0..=600"),
        ("pre_seconds = 601", "must be 0..=600"),
        ("post_seconds = 3601", "must be 0..=3600"),
        ("clip_max_seconds = 0", "must be 1..=3600"),
        ("clip_max_seconds = 3601", "must be 1..=3600"),
        (
            "speed = 1",
            "allowed keys in [record] are mode, dir, chunk_minutes",
        ),
    ] {
        let e = err(&format!("[record]\n{text}\n"));
        assert!(e.contains(what), "{text}: {e}");
    }
}

#[test]
fn variants_parse_and_their_errors_name_the_table() {
    let ok = "[video]\nwidth = 1280\nheight = 720\n\
              [[variant]]\nname = \"720p\"\nwidth = 1280\nheight = 720\nbitrate_kbps = 2500\n\
              [[variant]]\nname = \"360p\"\nwidth = 640\nheight = 360\nfps = 15\nbitrate_kbps = 400\nencoder = \"openh264\"\n";
    let s = Settings::parse(ok, "hlscam.toml").unwrap();
    assert_eq!(s.variant.len(), 2);
    assert_eq!((s.variant[1].width, s.variant[1].fps_or(30)), (640, 15));
    assert_eq!(s.variant[0].fps_or(30), 30);
    // Written back and read again: the same settings.
    assert_eq!(Settings::parse(&s.to_toml(), "x").unwrap(), s);
    assert_eq!(
        err("[[variant]]\nname = \"a\"\nwidth = 641\nheight = 360\nbitrate_kbps = 400\n"),
        "hlscam.toml: variant[0].width = 641 at line 3, column 9: must be an even number in 16..=3840"
    );
    assert_eq!(
        err("[[variant]]\nname = \"a\"\nwidth = 640\n"),
        "hlscam.toml: variant[0] at line 2, column 1: height is required"
    );
    assert_eq!(
        err("[[variant]]\nname = \"a\"\nwidth = 640\nheight = 360\nbitrate_kbps = 400\nencoder = \"camera\"\n"),
        "hlscam.toml: variant[0].encoder = \"camera\" at line 6, column 11: must be one of auto, v4l2m2m, openh264"
    );
    assert_eq!(
        err("[video]\nwidth = 640\nheight = 360\n[[variant]]\nname = \"a\"\nwidth = 1280\nheight = 360\nbitrate_kbps = 400\n"),
        "hlscam.toml: variant[0].width = 1280: must be at most video.width (640)"
    );
    assert_eq!(
        err("[[variant]]\nname = \"a\"\nwidth = 640\nheight = 360\nbitrate_kbps = 400\nfps = 7\n"),
        "hlscam.toml: variant[0].fps = 7: must divide video.fps (30): frames are taken from the capture"
    );
}

#[test]
fn example_variants_parse_when_uncommented() {
    let start = EXAMPLE
        .find("# [[variant]]")
        .expect("the example shows [[variant]]");
    let text: String = EXAMPLE[start..]
        .lines()
        .take_while(|l| l.starts_with('#'))
        .filter(|l| !l.starts_with("# #"))
        .map(|l| format!("{}\n", l.trim_start_matches("# ").trim_start_matches('#')))
        .collect();
    let s = Settings::parse(&text, "example").unwrap_or_else(|e| panic!("{e}\n{text}"));
    let names: Vec<&str> = s.variant.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(names, ["720p", "360p"]);
}
