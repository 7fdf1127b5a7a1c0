//! [`HlsError`]: setup errors with context, and the allocation-free hot-path failures
//! (storage, muxer) the pipeline counts and carries on from.

use std::fmt;
use std::io;

use super::store::StoreError;
use crate::fmp4::Fmp4Error;
use crate::ts::MuxError;

/// An error from the HLS output.
///
/// Setup errors (`open`) carry a context string (path and operation) and the OS error; errors on
/// the frame path wrap a `Copy` [`StoreError`] or [`MuxError`] and never allocate.
#[derive(Debug)]
pub struct HlsError {
    repr: Repr,
}

#[derive(Debug)]
enum Repr {
    Config(String),
    Setup { context: String, source: io::Error },
    Store(StoreError),
    Mux(MuxError),
    Fmp4(Fmp4Error),
}

impl HlsError {
    /// An invalid configuration.
    pub fn config(msg: impl Into<String>) -> Self {
        HlsError {
            repr: Repr::Config(msg.into()),
        }
    }
    /// A setup I/O failure; `context` names the operation and path.
    pub fn setup(context: impl Into<String>, source: io::Error) -> Self {
        HlsError {
            repr: Repr::Setup {
                context: context.into(),
                source,
            },
        }
    }
    /// The kind of I/O error (`InvalidInput` for configuration, `InvalidData` for muxer errors).
    pub fn kind(&self) -> io::ErrorKind {
        match &self.repr {
            Repr::Config(_) => io::ErrorKind::InvalidInput,
            Repr::Setup { source, .. } => source.kind(),
            Repr::Store(e) => io::Error::from_raw_os_error(e.errno).kind(),
            Repr::Mux(_) | Repr::Fmp4(_) => io::ErrorKind::InvalidData,
        }
    }
    /// The raw OS error number, when there is one.
    pub fn raw_os_error(&self) -> Option<i32> {
        match &self.repr {
            Repr::Setup { source, .. } => source.raw_os_error(),
            Repr::Store(e) => Some(e.errno),
            _ => None,
        }
    }
    /// True when the device is full (`ENOSPC`/`EDQUOT`).
    pub fn is_disk_full(&self) -> bool {
        matches!(self.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT))
    }
    /// The storage failure, if this is one.
    pub fn store_error(&self) -> Option<StoreError> {
        match self.repr {
            Repr::Store(e) => Some(e),
            _ => None,
        }
    }
}

impl From<StoreError> for HlsError {
    fn from(e: StoreError) -> Self {
        HlsError {
            repr: Repr::Store(e),
        }
    }
}

impl From<MuxError> for HlsError {
    fn from(e: MuxError) -> Self {
        HlsError { repr: Repr::Mux(e) }
    }
}

impl From<Fmp4Error> for HlsError {
    fn from(e: Fmp4Error) -> Self {
        HlsError {
            repr: Repr::Fmp4(e),
        }
    }
}

impl fmt::Display for HlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            Repr::Config(m) => write!(f, "invalid HLS configuration: {m}"),
            Repr::Setup { context, source } => write!(f, "{context}: {source}"),
            Repr::Store(e) => write!(f, "{e}"),
            Repr::Mux(e) => write!(f, "muxer: {e}"),
            Repr::Fmp4(e) => write!(f, "muxer: {e}"),
        }
    }
}

impl std::error::Error for HlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.repr {
            Repr::Setup { source, .. } => Some(source),
            Repr::Mux(e) => Some(e),
            Repr::Fmp4(e) => Some(e),
            _ => None,
        }
    }
}
