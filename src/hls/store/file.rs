//! [`FileStore`]: the live output's directory on disk (tmpfs in production).
//!
//! Works relative to directory file descriptors with `openat`/`renameat`/`unlinkat` and formats
//! every name into a stack buffer ([`NameBuf`]), so the per-segment and per-part operations
//! perform no heap allocation (the `std::fs` path APIs would build a `CString` for long paths).

use std::ffi::{CStr, CString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::{
    classify, HlsError, Listing, NameBuf, SegmentStore, StoreError, StoreOp, PLAYLIST_NAME,
    PLAYLIST_PART_NAME,
};
use crate::hls::Container;

fn open_dir(path: &Path) -> Result<OwnedFd, HlsError> {
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| HlsError::config(format!("path {} contains NUL", path.display())))?;
    // SAFETY: `c` is a valid NUL-terminated string; the returned fd is owned by us.
    let fd = unsafe {
        libc::open(
            c.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(HlsError::setup(
            format!("opening directory {}", path.display()),
            std::io::Error::last_os_error(),
        ));
    }
    // SAFETY: fd is a fresh descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn openat_write(dir: &OwnedFd, name: &CStr) -> Result<OwnedFd, ()> {
    // SAFETY: valid dir fd and NUL-terminated name.
    let fd = unsafe {
        libc::openat(
            dir.as_raw_fd(),
            name.as_ptr(),
            libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_CLOEXEC,
            0o644 as libc::c_uint,
        )
    };
    if fd < 0 {
        Err(())
    } else {
        // SAFETY: fresh descriptor.
        Ok(unsafe { OwnedFd::from_raw_fd(fd) })
    }
}

fn write_all(fd: &OwnedFd, mut bytes: &[u8]) -> Result<(), ()> {
    while !bytes.is_empty() {
        // SAFETY: pointer and length come from a live slice.
        let n = unsafe { libc::write(fd.as_raw_fd(), bytes.as_ptr().cast(), bytes.len()) };
        if n < 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return Err(());
        }
        if n == 0 {
            // A zero-length write on a regular file means the device is full.
            // SAFETY: writing errno of this thread.
            unsafe { *libc::__errno_location() = libc::ENOSPC };
            return Err(());
        }
        bytes = &bytes[n as usize..];
    }
    Ok(())
}

fn renameat(dir: &OwnedFd, from: &CStr, to: &CStr) -> Result<(), ()> {
    // SAFETY: valid fds and NUL-terminated names.
    let r = unsafe { libc::renameat(dir.as_raw_fd(), from.as_ptr(), dir.as_raw_fd(), to.as_ptr()) };
    if r == 0 {
        Ok(())
    } else {
        Err(())
    }
}

fn unlinkat(dir: &OwnedFd, name: &CStr) -> Result<(), ()> {
    // SAFETY: valid fd and NUL-terminated name.
    let r = unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), 0) };
    if r == 0 {
        Ok(())
    } else {
        Err(())
    }
}

fn fsync(fd: &OwnedFd) -> Result<(), ()> {
    // SAFETY: valid fd.
    if unsafe { libc::fsync(fd.as_raw_fd()) } == 0 {
        Ok(())
    } else {
        Err(())
    }
}

/// The real store: a directory on disk (tmpfs in production).
#[derive(Debug)]
pub struct FileStore {
    dir: PathBuf,
    dir_fd: OwnedFd,
    container: Container,
    segment: Option<OwnedFd>,
    part: Option<OwnedFd>,
    state_path: PathBuf,
    state_dir_fd: OwnedFd,
    state_name: CString,
    state_part_name: CString,
}

impl FileStore {
    /// Creates `dir` (and the state file's directory) if needed and opens both; media files are
    /// named for container `c`.
    pub fn open(dir: &Path, state_file: &Path, c: Container) -> Result<FileStore, HlsError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| HlsError::setup(format!("creating directory {}", dir.display()), e))?;
        let dir_fd = open_dir(dir)?;
        let state_dir = match state_file.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&state_dir).map_err(|e| {
            HlsError::setup(format!("creating directory {}", state_dir.display()), e)
        })?;
        let state_dir_fd = open_dir(&state_dir)?;
        let base = state_file
            .file_name()
            .ok_or_else(|| {
                HlsError::config(format!("state file {} has no name", state_file.display()))
            })?
            .as_bytes();
        let state_name =
            CString::new(base).map_err(|_| HlsError::config("state file name has NUL"))?;
        let mut part = base.to_vec();
        part.extend_from_slice(b".part");
        let state_part_name =
            CString::new(part).map_err(|_| HlsError::config("state file name has NUL"))?;
        Ok(FileStore {
            dir: dir.to_path_buf(),
            dir_fd,
            container: c,
            segment: None,
            part: None,
            state_path: state_file.to_path_buf(),
            state_dir_fd,
            state_name,
            state_part_name,
        })
    }

    /// The output directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Writes `bytes` under `temp`, then renames it to `name` (removing `temp` on failure).
    fn replace(&self, temp: &NameBuf, name: &NameBuf, bytes: &[u8]) -> Result<(), ()> {
        let fd = openat_write(&self.dir_fd, temp.cstr())?;
        if write_all(&fd, bytes).is_err() {
            let errno = std::io::Error::last_os_error().raw_os_error();
            drop(fd);
            let _ = unlinkat(&self.dir_fd, temp.cstr());
            set_errno(errno.unwrap_or(libc::EIO));
            return Err(());
        }
        drop(fd);
        renameat(&self.dir_fd, temp.cstr(), name.cstr())
    }
}

fn set_errno(errno: i32) {
    // SAFETY: writing errno of this thread.
    unsafe { *libc::__errno_location() = errno };
}

fn write_open(fd: &Option<OwnedFd>, bytes: &[u8], op: StoreOp) -> Result<(), StoreError> {
    let fd = fd.as_ref().ok_or(StoreError::new(op, 0, libc::EBADF))?;
    write_all(fd, bytes).map_err(|_| StoreError::last_os(op, 0))
}

impl SegmentStore for FileStore {
    fn begin_segment(&mut self, seq: u64) -> Result<(), StoreError> {
        self.segment = None;
        let name = NameBuf::segment(seq, self.container, true);
        let fd = openat_write(&self.dir_fd, name.cstr())
            .map_err(|_| StoreError::last_os(StoreOp::Begin, seq))?;
        self.segment = Some(fd);
        Ok(())
    }

    fn write_segment(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        write_open(&self.segment, bytes, StoreOp::Write)
    }

    fn commit_segment(&mut self, seq: u64) -> Result<(), StoreError> {
        // Dropping the fd closes it; close(2) on tmpfs cannot report a deferred write error.
        self.segment = None;
        let from = NameBuf::segment(seq, self.container, true);
        let to = NameBuf::segment(seq, self.container, false);
        renameat(&self.dir_fd, from.cstr(), to.cstr())
            .map_err(|_| StoreError::last_os(StoreOp::Commit, seq))
    }

    fn abort_segment(&mut self, seq: u64) {
        self.segment = None;
        let name = NameBuf::segment(seq, self.container, true);
        let _ = unlinkat(&self.dir_fd, name.cstr());
    }

    fn remove_segment(&mut self, seq: u64) -> Result<(), StoreError> {
        let name = NameBuf::segment(seq, self.container, false);
        unlinkat(&self.dir_fd, name.cstr()).map_err(|_| StoreError::last_os(StoreOp::Remove, seq))
    }

    fn begin_part(&mut self, seq: u64, part: u32) -> Result<(), StoreError> {
        self.part = None;
        let name = NameBuf::part(seq, part, self.container, true);
        let fd = openat_write(&self.dir_fd, name.cstr())
            .map_err(|_| StoreError::last_os(StoreOp::Begin, seq).in_part(part))?;
        self.part = Some(fd);
        Ok(())
    }

    fn write_part(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        write_open(&self.part, bytes, StoreOp::Write)
    }

    fn commit_part(&mut self, seq: u64, part: u32) -> Result<(), StoreError> {
        self.part = None;
        let from = NameBuf::part(seq, part, self.container, true);
        let to = NameBuf::part(seq, part, self.container, false);
        renameat(&self.dir_fd, from.cstr(), to.cstr())
            .map_err(|_| StoreError::last_os(StoreOp::Commit, seq).in_part(part))
    }

    fn abort_part(&mut self, seq: u64, part: u32) {
        self.part = None;
        let name = NameBuf::part(seq, part, self.container, true);
        let _ = unlinkat(&self.dir_fd, name.cstr());
    }

    fn remove_part(&mut self, seq: u64, part: u32) -> Result<(), StoreError> {
        let name = NameBuf::part(seq, part, self.container, false);
        unlinkat(&self.dir_fd, name.cstr())
            .map_err(|_| StoreError::last_os(StoreOp::Remove, seq).in_part(part))
    }

    fn write_init(&mut self, gen: u32, bytes: &[u8]) -> Result<(), StoreError> {
        self.replace(&NameBuf::init(gen, true), &NameBuf::init(gen, false), bytes)
            .map_err(|_| StoreError::last_os(StoreOp::Init, u64::from(gen)))
    }

    fn remove_init(&mut self, gen: u32) -> Result<(), StoreError> {
        let name = NameBuf::init(gen, false);
        unlinkat(&self.dir_fd, name.cstr())
            .map_err(|_| StoreError::last_os(StoreOp::Remove, u64::from(gen)))
    }

    fn write_playlist(&mut self, text: &[u8]) -> Result<(), StoreError> {
        let temp = NameBuf::literal(PLAYLIST_PART_NAME);
        let name = NameBuf::literal(PLAYLIST_NAME);
        self.replace(&temp, &name, text)
            .map_err(|_| StoreError::last_os(StoreOp::Playlist, 0))
    }

    fn write_state(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        let err = |_| StoreError::last_os(StoreOp::State, 0);
        let fd = openat_write(&self.state_dir_fd, &self.state_part_name).map_err(err)?;
        if write_all(&fd, bytes).and_then(|_| fsync(&fd)).is_err() {
            let e = StoreError::last_os(StoreOp::State, 0);
            drop(fd);
            let _ = unlinkat(&self.state_dir_fd, &self.state_part_name);
            return Err(e);
        }
        drop(fd);
        renameat(&self.state_dir_fd, &self.state_part_name, &self.state_name).map_err(err)?;
        fsync(&self.state_dir_fd).map_err(err)
    }

    fn load_state(&mut self) -> Result<Option<Vec<u8>>, HlsError> {
        match std::fs::read(&self.state_path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(HlsError::setup(
                format!("reading state file {}", self.state_path.display()),
                e,
            )),
        }
    }

    fn scan(&mut self) -> Result<Listing, HlsError> {
        let ctx = || format!("listing directory {}", self.dir.display());
        let mut l = Listing::default();
        for ent in std::fs::read_dir(&self.dir).map_err(|e| HlsError::setup(ctx(), e))? {
            let ent = ent.map_err(|e| HlsError::setup(ctx(), e))?;
            if let Some(name) = ent.file_name().to_str() {
                classify(&mut l, name, self.container);
            }
        }
        Ok(l)
    }

    fn remove_leftover(&mut self, name: &str) -> Result<(), HlsError> {
        let p = self.dir.join(name);
        std::fs::remove_file(&p)
            .map_err(|e| HlsError::setup(format!("removing {}", p.display()), e))
    }

    fn remove_playlist(&mut self) -> Result<(), HlsError> {
        let p = self.dir.join(PLAYLIST_NAME);
        match std::fs::remove_file(&p) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(HlsError::setup(format!("removing {}", p.display()), e))
            }
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_store_round_trip() {
        let dir = std::env::temp_dir().join(format!("hlscam-store-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut s = FileStore::open(&dir, &dir.join(".state"), Container::Ts).unwrap();
        s.begin_segment(7).unwrap();
        s.write_segment(b"abc").unwrap();
        s.begin_part(7, 0).unwrap();
        s.write_part(b"ab").unwrap();
        assert!(dir.join(".seg7.ts.part").exists());
        assert!(dir.join(".seg7.0.ts.part").exists());
        s.commit_part(7, 0).unwrap();
        assert_eq!(std::fs::read(dir.join("seg7.0.ts")).unwrap(), b"ab");
        s.commit_segment(7).unwrap();
        assert_eq!(std::fs::read(dir.join("seg7.ts")).unwrap(), b"abc");
        s.begin_part(8, 0).unwrap();
        s.abort_part(8, 0);
        assert!(!dir.join(".seg8.0.ts.part").exists());
        s.remove_part(7, 0).unwrap();
        assert!(!dir.join("seg7.0.ts").exists());
        s.write_init(2, b"ftyp").unwrap();
        assert_eq!(std::fs::read(dir.join("init2.mp4")).unwrap(), b"ftyp");
        s.remove_init(2).unwrap();
        s.write_playlist(b"#EXTM3U\n").unwrap();
        assert_eq!(std::fs::read(dir.join("live.m3u8")).unwrap(), b"#EXTM3U\n");
        s.write_state(b"x").unwrap();
        assert_eq!(s.load_state().unwrap().unwrap(), b"x");
        s.begin_segment(8).unwrap();
        s.abort_segment(8);
        std::fs::write(dir.join("seg01.ts"), b"").unwrap();
        let l = s.scan().unwrap();
        assert_eq!(l.segments, vec![7]);
        assert_eq!(l.leftovers, vec!["seg01.ts".to_owned()]);
        assert!(l.playlist);
        s.remove_segment(7).unwrap();
        let e = s.remove_segment(7).unwrap_err();
        assert_eq!(e.errno, libc::ENOENT);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
