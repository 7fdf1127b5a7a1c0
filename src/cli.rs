//! The command line (a small hand-written parser; it replaced clap to keep the board binaries
//! small, see docs/boards.md "Binary sizes", and keeps clap's messages and exit statuses):
//!
//! ```text
//! hlscam [--config FILE] [--listen ADDR:PORT] [--dir DIR] [--duration SECS] [--fast]
//!        [--log-level LEVEL]
//! hlscam check-config FILE      # prints the effective settings; exit 2 on error
//! hlscam devices [--json]
//! hlscam vod INPUT OUTDIR [--segment-seconds N] [--single-file]   # VOD HLS of a file
//! ```
//!
//! `--listen`, `--dir` and `--log-level` override the file's `[http] listen`, `[hls] dir` and
//! `[log] level`. Bad values are refused by the parser itself (a usage error, exit 2) and
//! again by [`Cli::apply_overrides`], which validates the settings they produce. Options take
//! their value as the next argument or after `=` (`--dir /tmp/x`, `--dir=/tmp/x`); a next
//! argument that starts with `-` is not taken as a value.

use std::ffi::OsString;
use std::fmt;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::config::{ConfigError, Settings, LOG_LEVELS};

/// Origin named in errors about overrides.
pub const COMMAND_LINE: &str = "command line";

/// Exit status of `check-config` (and of a refused configuration).
pub const EXIT_CONFIG_ERROR: i32 = 2;

/// Parsed command line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cli {
    /// Configuration file (TOML); without it every setting takes its default.
    pub config: Option<PathBuf>,
    /// HTTP listen address (overrides http.listen in the file).
    pub listen: Option<String>,
    /// Output directory for the playlist and segments (overrides hls.dir).
    pub dir: Option<PathBuf>,
    /// Stop after this many seconds of media (a number > 0, fractions allowed).
    pub duration: Option<f64>,
    /// Do not pace test sources to real time: produce media as fast as the encoder allows.
    pub fast: bool,
    /// Log level (overrides log.level).
    pub log_level: Option<String>,
    /// After a finished `--duration` run, keep serving the final stream this many seconds.
    pub linger: Option<f64>,
    /// A subcommand instead of streaming.
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Read and validate a configuration file, print the effective settings (exit 2 on error).
    CheckConfig {
        /// The file to check.
        file: PathBuf,
    },
    /// List capture devices, encoders and ALSA PCMs that hlscam can use.
    Devices {
        /// Print JSON instead of text.
        json: bool,
    },
    /// Package an existing H.264 + AAC file (MPEG-TS or MP4) as VOD HLS ([`crate::vod`]).
    Vod {
        /// The file to package.
        input: PathBuf,
        /// Where the playlist and segments go (created if missing).
        outdir: PathBuf,
        /// Shortest segment in seconds (segments end at the next IDR), default 6.
        segment_seconds: u32,
        /// One `media.ts` with `EXT-X-BYTERANGE` entries instead of one file per segment.
        single_file: bool,
    },
}

fn parse_listen(s: &str) -> Result<String, String> {
    s.parse::<SocketAddr>()
        .map(|_| s.to_owned())
        .map_err(|_| "expected ADDR:PORT such as 0.0.0.0:8080 or [::]:8080".to_owned())
}

fn parse_duration(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(d) if d.is_finite() && d > 0.0 => Ok(d),
        _ => Err("expected a number of seconds greater than 0, such as 10 or 2.5".to_owned()),
    }
}

impl Cli {
    /// Writes the overrides given on the command line into `s`, then validates the result.
    ///
    /// An error about an overridden key names the flag (`command line: --listen nope: ...`);
    /// any other rule the settings break is reported as by [`Settings::validate`].
    pub fn apply_overrides(&self, s: &mut Settings) -> Result<(), ConfigError> {
        let flag = |name: &str, value: &str, msg: String| {
            ConfigError::new(Some(format!("--{name} {value}")), None, msg).with_origin(COMMAND_LINE)
        };
        if let Some(listen) = &self.listen {
            parse_listen(listen).map_err(|m| flag("listen", listen, m))?;
            s.http.listen.clone_from(listen);
        }
        if let Some(dir) = &self.dir {
            if dir.as_os_str().is_empty() {
                return Err(flag("dir", "\"\"", "must not be empty".to_owned()));
            }
            s.hls.dir.clone_from(dir);
        }
        if let Some(level) = &self.log_level {
            if !LOG_LEVELS.contains(&level.as_str()) {
                let msg = format!("must be one of {}", LOG_LEVELS.join(", "));
                return Err(flag("log-level", level, msg));
            }
            s.log.level.clone_from(level);
        }
        s.validate()
    }

    /// The effective settings: `--config` (or the defaults), then the overrides.
    pub fn settings(&self) -> Result<Settings, ConfigError> {
        let mut s = match &self.config {
            Some(path) => Settings::load(path)?,
            None => Settings::default(),
        };
        self.apply_overrides(&mut s)?;
        Ok(s)
    }
}

/// `hlscam check-config FILE`: prints the effective settings to stdout and returns 0, or prints
/// the error to stderr and returns [`EXIT_CONFIG_ERROR`].
pub fn check_config(file: &Path) -> i32 {
    check_config_to(
        file,
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    )
}

/// [`check_config`] writing to the given streams (for tests).
pub fn check_config_to(file: &Path, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    match Settings::load(file) {
        Ok(s) => {
            // A closed stdout is not a configuration error; nothing useful to do about it.
            let _ = out.write_all(s.to_toml().as_bytes());
            0
        }
        Err(e) => {
            let _ = writeln!(err, "{e}");
            EXIT_CONFIG_ERROR
        }
    }
}

// ---- parsing -------------------------------------------------------------------------------

/// Top-level help (`hlscam --help`, `hlscam help`).
pub const HELP: &str = "\
Live HLS from a camera and a microphone, served over HTTP

Usage: hlscam [OPTIONS]
       hlscam <COMMAND>

Commands:
  check-config  Read and validate a configuration file, print the effective settings (exit 2 on
                error)
  devices       List capture devices, encoders and ALSA PCMs that hlscam can use
  vod           Package an existing H.264 + AAC file (MPEG-TS or MP4) as VOD HLS
  help          Print this message or the help of the given subcommand

Options:
      --config <FILE>       Configuration file (TOML); without it every setting takes its default
      --listen <ADDR:PORT>  HTTP listen address (overrides http.listen in the file)
      --dir <DIR>           Output directory for the playlist and segments (overrides hls.dir)
      --duration <SECS>     Stop after this many seconds of media (a number > 0, fractions allowed)
      --fast                Do not pace test sources to real time: produce media as fast as the
                            encoder allows
      --log-level <LEVEL>   Log level (overrides log.level) [possible values: error, warn, info,
                            debug, trace]
      --linger <SECS>       After a finished `--duration` run, keep serving the final stream this
                            many seconds
  -h, --help                Print help
  -V, --version             Print version
";

const HELP_CHECK_CONFIG: &str = "\
Read and validate a configuration file, print the effective settings (exit 2 on error)

Usage: hlscam check-config <FILE>

Arguments:
  <FILE>  The file to check

Options:
  -h, --help  Print help
";

const HELP_DEVICES: &str = "\
List capture devices, encoders and ALSA PCMs that hlscam can use

Usage: hlscam devices [OPTIONS]

Options:
      --json  Print JSON instead of text
  -h, --help  Print help
";

const HELP_VOD: &str = "\
Package an existing H.264 + AAC file (MPEG-TS or MP4) as VOD HLS

Segments are cut at IDR pictures and written as MPEG-TS with index.m3u8 (EXT-X-PLAYLIST-TYPE:VOD,
EXT-X-ENDLIST). Other codecs are refused; transcode them first, e.g.
ffmpeg -i IN -c:v libx264 -c:a aac OUT.mp4

Usage: hlscam vod [OPTIONS] <INPUT> <OUTDIR>

Arguments:
  <INPUT>   The file to package (.ts or .mp4)
  <OUTDIR>  Where the playlist and segments go (created if missing)

Options:
      --segment-seconds <N>  Shortest segment in seconds; segments end at the next IDR [default: 6]
      --single-file          One media.ts with EXT-X-BYTERANGE entries instead of one file per
                             segment
  -h, --help                 Print help
";

/// Why [`Cli::try_parse_from`] did not return a command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CliError {
    /// `--help`, `-h` or `help [COMMAND]`: this text goes to stdout, exit status 0.
    Help(&'static str),
    /// `--version` / `-V`: exit status 0.
    Version,
    /// A usage error (clap's wording): message, usage line; exit status 2.
    Usage(String, &'static str),
}

impl CliError {
    /// The exit status: 0 for help and version, 2 for usage errors.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Help(_) | CliError::Version => 0,
            CliError::Usage(..) => 2,
        }
    }

    /// Prints the text (help and version to stdout, errors to stderr) and exits.
    pub fn exit(&self) -> ! {
        match self {
            CliError::Usage(..) => eprint!("{self}"),
            _ => print!("{self}"),
        }
        std::process::exit(self.exit_code())
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Help(text) => f.write_str(text),
            CliError::Version => writeln!(f, "hlscam {}", env!("CARGO_PKG_VERSION")),
            CliError::Usage(msg, usage) => write!(
                f,
                "error: {msg}\n\nUsage: {usage}\n\nFor more information, try '--help'.\n"
            ),
        }
    }
}

impl std::error::Error for CliError {}

const USAGE: &str = "hlscam [OPTIONS]\n       hlscam <COMMAND>";
const USAGE_CHECK_CONFIG: &str = "hlscam check-config <FILE>";
const USAGE_DEVICES: &str = "hlscam devices [OPTIONS]";
const USAGE_VOD: &str = "hlscam vod [OPTIONS] <INPUT> <OUTDIR>";

/// The options that take a value, with the value's name.
const VALUED: [(&str, &str); 6] = [
    ("config", "FILE"),
    ("listen", "ADDR:PORT"),
    ("dir", "DIR"),
    ("duration", "SECS"),
    ("log-level", "LEVEL"),
    ("linger", "SECS"),
];

fn usage(msg: String, usage: &'static str) -> CliError {
    CliError::Usage(msg, usage)
}

fn unexpected(arg: &OsString, usage_line: &'static str) -> CliError {
    usage(
        format!("unexpected argument '{}' found", arg.to_string_lossy()),
        usage_line,
    )
}

fn invalid(value: &str, name: &str, meta: &str, why: &str) -> CliError {
    usage(
        format!("invalid value '{value}' for '--{name} <{meta}>': {why}"),
        USAGE,
    )
}

/// Whether `arg` looks like an option (so it is not taken as an option's value).
fn is_flag(arg: &OsString) -> bool {
    let b = arg.as_encoded_bytes();
    b.len() > 1 && b[0] == b'-'
}

impl Cli {
    /// Parses `std::env::args_os()`; prints help, version or the usage error and exits on
    /// anything but a command line to run.
    pub fn parse() -> Cli {
        Cli::try_parse_from(std::env::args_os()).unwrap_or_else(|e| e.exit())
    }

    /// Parses `args` (the first one is the program name).
    pub fn try_parse_from<I, T>(args: I) -> Result<Cli, CliError>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString>,
    {
        let mut args = args.into_iter().map(Into::into).skip(1).peekable();
        let mut cli = Cli::default();
        let mut first_flag: Option<String> = None;
        while let Some(arg) = args.next() {
            let text = arg.to_string_lossy().into_owned();
            if text == "-h" || text == "--help" {
                return Err(CliError::Help(HELP));
            }
            if text == "-V" || text == "--version" {
                return Err(CliError::Version);
            }
            if !is_flag(&arg) {
                let command = match text.as_str() {
                    "check-config" => Cli::check_config_args(&mut args)?,
                    "devices" => Cli::devices_args(&mut args)?,
                    "vod" => Cli::vod_args(&mut args)?,
                    "help" => {
                        return Err(CliError::Help(match args.next().as_deref() {
                            Some(c) if c == "check-config" => HELP_CHECK_CONFIG,
                            Some(c) if c == "devices" => HELP_DEVICES,
                            Some(c) if c == "vod" => HELP_VOD,
                            _ => HELP,
                        }))
                    }
                    _ => return Err(usage(format!("unrecognized subcommand '{text}'"), USAGE)),
                };
                if let Some(flag) = first_flag {
                    let sub = text;
                    return Err(usage(
                        format!("the subcommand '{sub}' cannot be used with '{flag}'"),
                        USAGE,
                    ));
                }
                cli.command = Some(command);
                continue;
            }
            if cli.command.is_some() {
                return Err(unexpected(&arg, USAGE));
            }
            let Some(body) = text.strip_prefix("--") else {
                return Err(unexpected(&arg, USAGE));
            };
            let (name, inline) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v.to_owned())),
                None => (body, None),
            };
            if name == "fast" {
                if let Some(v) = inline {
                    return Err(usage(
                        format!("unexpected value '{v}' for '--fast' found; no more were expected"),
                        USAGE,
                    ));
                }
                if cli.fast {
                    return Err(usage(
                        "the argument '--fast' cannot be used multiple times".to_owned(),
                        USAGE,
                    ));
                }
                cli.fast = true;
                first_flag.get_or_insert_with(|| "--fast".to_owned());
                continue;
            }
            let Some(&(name, meta)) = VALUED.iter().find(|(n, _)| *n == name) else {
                return Err(unexpected(&OsString::from(format!("--{name}")), USAGE));
            };
            let value: OsString = match inline {
                Some(v) => v.into(),
                None => match args.peek() {
                    Some(next) if is_flag(next) => return Err(unexpected(next, USAGE)),
                    Some(_) => args.next().unwrap_or_default(),
                    None => {
                        return Err(usage(
                            format!(
                                "a value is required for '--{name} <{meta}>' but none was \
                                 supplied"
                            ),
                            USAGE,
                        ))
                    }
                },
            };
            first_flag.get_or_insert_with(|| format!("--{name} <{meta}>"));
            cli.set(name, meta, value)?;
        }
        Ok(cli)
    }

    /// Stores the value of option `--name`, refusing bad and repeated values as clap does.
    fn set(&mut self, name: &str, meta: &str, value: OsString) -> Result<(), CliError> {
        let repeated = || {
            usage(
                format!("the argument '--{name} <{meta}>' cannot be used multiple times"),
                USAGE,
            )
        };
        let text = value.to_string_lossy().into_owned();
        match name {
            "config" => {
                if self.config.replace(PathBuf::from(value)).is_some() {
                    return Err(repeated());
                }
            }
            "dir" => {
                if value.is_empty() {
                    return Err(invalid("", name, meta, "must not be empty"));
                }
                if self.dir.replace(PathBuf::from(value)).is_some() {
                    return Err(repeated());
                }
            }
            "listen" => {
                let v = parse_listen(&text).map_err(|why| invalid(&text, name, meta, &why))?;
                if self.listen.replace(v).is_some() {
                    return Err(repeated());
                }
            }
            "log-level" => {
                if !LOG_LEVELS.contains(&text.as_str()) {
                    return Err(usage(
                        format!(
                            "invalid value '{text}' for '--{name} <{meta}>'\n  [possible values: \
                             {}]",
                            LOG_LEVELS.join(", ")
                        ),
                        USAGE,
                    ));
                }
                if self.log_level.replace(text).is_some() {
                    return Err(repeated());
                }
            }
            _ => {
                // "duration" and "linger"
                let secs = parse_duration(&text).map_err(|why| invalid(&text, name, meta, &why))?;
                let slot = if name == "duration" {
                    &mut self.duration
                } else {
                    &mut self.linger
                };
                if slot.replace(secs).is_some() {
                    return Err(repeated());
                }
            }
        }
        Ok(())
    }

    /// `check-config <FILE>`.
    fn check_config_args(args: &mut impl Iterator<Item = OsString>) -> Result<Command, CliError> {
        let mut file: Option<OsString> = None;
        for arg in args {
            if arg == "-h" || arg == "--help" {
                return Err(CliError::Help(HELP_CHECK_CONFIG));
            }
            if is_flag(&arg) || file.is_some() {
                return Err(unexpected(&arg, USAGE_CHECK_CONFIG));
            }
            file = Some(arg);
        }
        match file {
            Some(f) => Ok(Command::CheckConfig { file: f.into() }),
            None => Err(usage(
                "the following required arguments were not provided:\n  <FILE>".to_owned(),
                USAGE_CHECK_CONFIG,
            )),
        }
    }

    /// `devices [--json]`.
    fn devices_args(args: &mut impl Iterator<Item = OsString>) -> Result<Command, CliError> {
        let mut json = false;
        for arg in args {
            if arg == "-h" || arg == "--help" {
                return Err(CliError::Help(HELP_DEVICES));
            }
            if arg != "--json" {
                return Err(unexpected(&arg, USAGE_DEVICES));
            }
            if json {
                return Err(usage(
                    "the argument '--json' cannot be used multiple times".to_owned(),
                    USAGE_DEVICES,
                ));
            }
            json = true;
        }
        Ok(Command::Devices { json })
    }

    /// `vod [--segment-seconds N] [--single-file] <INPUT> <OUTDIR>`.
    fn vod_args(args: &mut impl Iterator<Item = OsString>) -> Result<Command, CliError> {
        let mut paths: Vec<OsString> = Vec::new();
        let mut seconds: Option<u32> = None;
        let mut single_file = false;
        let repeated = |a: &str| {
            usage(
                format!("the argument '{a}' cannot be used multiple times"),
                USAGE_VOD,
            )
        };
        let mut args = args.peekable();
        while let Some(arg) = args.next() {
            let text = arg.to_string_lossy().into_owned();
            if text == "-h" || text == "--help" {
                return Err(CliError::Help(HELP_VOD));
            }
            if text == "--single-file" {
                if single_file {
                    return Err(repeated("--single-file"));
                }
                single_file = true;
                continue;
            }
            if let Some(rest) = text.strip_prefix("--segment-seconds") {
                let value = match rest.strip_prefix('=') {
                    Some(v) => v.to_owned(),
                    None if rest.is_empty() => match args.peek() {
                        Some(next) if !is_flag(next) => args
                            .next()
                            .unwrap_or_default()
                            .to_string_lossy()
                            .into_owned(),
                        _ => {
                            return Err(usage(
                                "a value is required for '--segment-seconds <N>' but none was \
                                 supplied"
                                    .to_owned(),
                                USAGE_VOD,
                            ))
                        }
                    },
                    None => return Err(unexpected(&arg, USAGE_VOD)),
                };
                let n = match value.parse::<u32>() {
                    Ok(n) if (1..=3600).contains(&n) => n,
                    _ => {
                        return Err(usage(
                            format!(
                                "invalid value '{value}' for '--segment-seconds <N>': expected \
                                 a whole number of seconds from 1 to 3600"
                            ),
                            USAGE_VOD,
                        ))
                    }
                };
                if seconds.replace(n).is_some() {
                    return Err(repeated("--segment-seconds <N>"));
                }
                continue;
            }
            if is_flag(&arg) || paths.len() == 2 {
                return Err(unexpected(&arg, USAGE_VOD));
            }
            paths.push(arg);
        }
        if paths.len() < 2 {
            let missing = if paths.is_empty() {
                "\n  <INPUT>\n  <OUTDIR>"
            } else {
                "\n  <OUTDIR>"
            };
            return Err(usage(
                format!("the following required arguments were not provided:{missing}"),
                USAGE_VOD,
            ));
        }
        let outdir = paths.pop().unwrap_or_default().into();
        let input = paths.pop().unwrap_or_default().into();
        Ok(Command::Vod {
            input,
            outdir,
            segment_seconds: seconds.unwrap_or(6),
            single_file,
        })
    }
}
