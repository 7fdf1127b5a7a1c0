//! The command line (clap 4 derive):
//!
//! ```text
//! hlscam [--config FILE] [--listen ADDR:PORT] [--dir DIR] [--duration SECS] [--fast]
//!        [--log-level LEVEL]
//! hlscam check-config FILE      # prints the effective settings; exit 2 on error
//! hlscam devices [--json]
//! ```
//!
//! `--listen`, `--dir` and `--log-level` override the file's `[http] listen`, `[hls] dir` and
//! `[log] level`. Bad values are refused by the parser itself (clap's usage error, exit 2) and
//! again by [`Cli::apply_overrides`], which validates the settings they produce.

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

use crate::config::{ConfigError, Settings, LOG_LEVELS};

/// Origin named in errors about overrides.
pub const COMMAND_LINE: &str = "command line";

/// Exit status of `check-config` (and of a refused configuration).
pub const EXIT_CONFIG_ERROR: i32 = 2;

/// Parsed command line.
#[derive(Debug, Clone, PartialEq, Parser)]
#[command(
    name = "hlscam",
    version,
    about = "Live HLS from a camera and a microphone, served over HTTP",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// Configuration file (TOML); without it every setting takes its default.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// HTTP listen address (overrides http.listen in the file).
    #[arg(long, value_name = "ADDR:PORT", value_parser = parse_listen)]
    pub listen: Option<String>,
    /// Output directory for the playlist and segments (overrides hls.dir).
    #[arg(long, value_name = "DIR", value_parser = parse_dir)]
    pub dir: Option<PathBuf>,
    /// Stop after this many seconds of media (a number > 0, fractions allowed).
    #[arg(long, value_name = "SECS", value_parser = parse_duration)]
    pub duration: Option<f64>,
    /// Do not pace test sources to real time: produce media as fast as the encoder allows.
    #[arg(long)]
    pub fast: bool,
    /// Log level (overrides log.level).
    #[arg(long, value_name = "LEVEL", value_parser = LOG_LEVELS)]
    pub log_level: Option<String>,
    /// After a finished `--duration` run, keep serving the final stream this many seconds.
    #[arg(long, value_name = "SECS", value_parser = parse_duration)]
    pub linger: Option<f64>,
    /// A subcommand instead of streaming.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Read and validate a configuration file, print the effective settings (exit 2 on error).
    CheckConfig {
        /// The file to check.
        file: PathBuf,
    },
    /// List capture devices, encoders and ALSA PCMs that hlscam can use.
    Devices {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

fn parse_listen(s: &str) -> Result<String, String> {
    s.parse::<SocketAddr>()
        .map(|_| s.to_owned())
        .map_err(|_| "expected ADDR:PORT such as 0.0.0.0:8080 or [::]:8080".to_owned())
}

fn parse_dir(s: &str) -> Result<PathBuf, String> {
    if s.is_empty() {
        Err("must not be empty".to_owned())
    } else {
        Ok(PathBuf::from(s))
    }
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
