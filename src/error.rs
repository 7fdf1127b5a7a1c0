//! One opaque error for setup paths: what kind of thing failed and the context to find it.
//!
//! Hot paths use small `Copy` enums of their own (e.g. `ts::MuxError`); this type is for opening
//! devices, binding sockets and starting threads, where a message with context is what helps.

use std::fmt;

/// What kind of setup step failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The configuration (file or command line).
    Config,
    /// A capture device or test source.
    Source,
    /// An encoder.
    Encoder,
    /// The segment directory, playlist or state file.
    Output,
    /// The HTTP server.
    Http,
    /// Threads and other internals.
    Internal,
}

/// A setup error: a kind and a human-readable context.
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    context: String,
}

impl Error {
    /// A new error of `kind` with `context` (what was being done, with which path/device/value).
    pub fn new(kind: ErrorKind, context: impl Into<String>) -> Self {
        Error {
            kind,
            context: context.into(),
        }
    }
    /// What kind of step failed.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.context)
    }
}

impl std::error::Error for Error {}
