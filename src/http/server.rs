//! Accept loop, connection cap and shutdown.
//!
//! One accept thread plus at most `max_connections` connection threads (one per open
//! connection; 1 MiB stacks, mostly never touched: 256 KiB overflowed in a debug build while
//! gzipping the playlist). When the cap is reached the accept thread stops calling `accept`
//! until a connection ends: further clients wait in the kernel's listen backlog (128
//! on Linux with std) instead of being refused, and are served in arrival order. Every open
//! connection ends within a bounded time unless it keeps completing requests (see
//! [`super::conn`] for the deadlines), so a waiting client is reached after at most about
//! `io_timeout` per wave of stalled connections ahead of it.
//!
//! Socket timeouts are set on each accepted socket explicitly (on Linux accepted sockets do
//! inherit `SO_RCVTIMEO`/`SO_SNDTIMEO` from the listener, which `tests/http_timeouts.rs` checks,
//! but the server does not rely on it: the deadlines are re-armed per read and write anyway).

use super::conn::{self, ConnCtx};
use super::renditions::Renditions;
use crate::hls::shared::LiveShared;
use crate::record::RecordAccess;
use crate::stats::Stats;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Stack size of a connection thread.
const CONN_STACK: usize = 1024 * 1024;
/// How often the accept thread looks at the stop flag.
const POLL: Duration = Duration::from_millis(100);

/// Settings of the HTTP server (from the `[http]` and `[hls]` config sections).
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Address to listen on, e.g. `"0.0.0.0:8080"` (`"127.0.0.1:0"` in tests).
    pub listen: String,
    /// The segment directory (holds `live.m3u8` and `seg<N>.ts`).
    pub dir: PathBuf,
    /// Most connections open at once (at least 1).
    pub max_connections: usize,
    /// Per-operation socket timeout and request-head deadline.
    pub io_timeout: Duration,
    /// What the mux thread of this process publishes (playlist, LL-HLS progress); `None` when
    /// the server only serves a directory.
    pub live: Option<Arc<LiveShared>>,
    /// Recording, when `[record]` is on: the recordings routes answer 404 without it.
    pub record: Option<Arc<RecordAccess>>,
    /// The renditions and the master playlist (`/index.m3u8`, `/v/<name>/`; 404 without).
    pub renditions: Option<Arc<Renditions>>,
}

/// A running HTTP server. Dropping it shuts it down like [`HttpServer::shutdown`].
#[derive(Debug)]
pub struct HttpServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

#[derive(Debug)]
struct Shared {
    cfg: HttpConfig,
    stats: Arc<Stats>,
    stop: AtomicBool,
    table: Mutex<Table>,
    freed: Condvar,
}

/// Open connections: a clone of each socket (to shut it down on stop) and the thread handles.
#[derive(Debug, Default)]
struct Table {
    next_id: u64,
    open: Vec<(u64, TcpStream)>,
    workers: Vec<JoinHandle<()>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Removes its connection from the table when the connection thread ends, however it ends.
struct Slot {
    shared: Arc<Shared>,
    id: u64,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut t = self.shared.lock();
        t.open.retain(|(id, _)| *id != self.id);
        self.shared.stats.clients.fetch_sub(1, Relaxed);
        drop(t);
        self.shared.freed.notify_all();
    }
}

impl HttpServer {
    /// Binds `cfg.listen`, starts the accept thread and returns.
    pub fn start(cfg: HttpConfig, stats: Arc<Stats>) -> Result<HttpServer, io::Error> {
        if cfg.max_connections == 0 || cfg.io_timeout.is_zero() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "http: max_connections and io_timeout must be non-zero",
            ));
        }
        let listener = TcpListener::bind(cfg.listen.as_str()).map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("http: cannot listen on {}: {e}", cfg.listen),
            )
        })?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            cfg,
            stats,
            stop: AtomicBool::new(false),
            table: Mutex::new(Table::default()),
            freed: Condvar::new(),
        });
        let sh = shared.clone();
        let accept = thread::Builder::new()
            .name("http-accept".into())
            .spawn(move || accept_loop(listener, sh))?;
        log::info!(
            "http: serving {} on http://{addr}/ (max {} connections, timeout {:?})",
            shared.cfg.dir.display(),
            shared.cfg.max_connections,
            shared.cfg.io_timeout
        );
        Ok(HttpServer {
            addr,
            shared,
            accept: Some(accept),
        })
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, closes open connections and joins the threads. Bounded: threads that
    /// have not ended after `max(2 s, io_timeout)` are left detached (and logged).
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        let Some(accept) = self.accept.take() else {
            return;
        };
        self.shared.stop.store(true, Relaxed);
        self.shared.freed.notify_all();
        let _ = accept.join();
        let limit = self.shared.cfg.io_timeout.max(Duration::from_secs(2));
        let deadline = Instant::now() + limit;
        let mut t = self.shared.lock();
        for (_, s) in &t.open {
            let _ = s.shutdown(std::net::Shutdown::Both);
        }
        while !t.open.is_empty() {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            t = self
                .shared
                .freed
                .wait_timeout(t, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        let left = t.open.len();
        let workers = std::mem::take(&mut t.workers);
        drop(t);
        for w in workers {
            // After its slot is released a thread only returns; a slot still held means the
            // thread is stuck in a syscall we could not interrupt: leave it detached.
            if left == 0 || w.is_finished() {
                let _ = w.join();
            }
        }
        if left > 0 {
            log::warn!("http: {left} connection thread(s) still busy at shutdown; detached");
        }
        log::info!("http: stopped");
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

/// Waits up to `timeout` for the listener to become readable (a pending connection).
fn wait_readable(listener: &TcpListener, timeout: Duration) -> bool {
    let mut pfd = libc::pollfd {
        fd: listener.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = timeout.as_millis().min(i32::MAX as u128) as libc::c_int;
    // SAFETY: `pfd` is a valid, initialised pollfd for a descriptor owned by `listener`, which
    // outlives the call; nfds is 1 to match.
    let r = unsafe { libc::poll(&mut pfd, 1, ms) };
    r > 0 && (pfd.revents & libc::POLLIN) != 0
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let max = shared.cfg.max_connections;
    let mut full_logged = false;
    while !shared.stop.load(Relaxed) {
        {
            let mut t = shared.lock();
            while t.open.len() >= max && !shared.stop.load(Relaxed) {
                if !full_logged {
                    log::warn!("http: {max} connections open; new clients wait in the backlog");
                    full_logged = true;
                }
                t = shared
                    .freed
                    .wait_timeout(t, POLL)
                    .unwrap_or_else(|e| e.into_inner())
                    .0;
            }
            // Threads whose connection ended are reaped here.
            t.workers.retain(|w| !w.is_finished());
        }
        if shared.stop.load(Relaxed) {
            break;
        }
        if !wait_readable(&listener, POLL) {
            continue;
        }
        match listener.accept() {
            Ok((stream, peer)) => {
                full_logged = false;
                spawn_conn(&shared, stream, peer);
            }
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock
                        | io::ErrorKind::Interrupted
                        | io::ErrorKind::ConnectionAborted
                ) => {}
            Err(e) => {
                // EMFILE/ENFILE/ENOBUFS: back off instead of spinning.
                log::warn!("http: accept failed: {e}");
                thread::sleep(POLL);
            }
        }
    }
}

fn setup(stream: &TcpStream, t: Duration) -> io::Result<TcpStream> {
    stream.set_nonblocking(false)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(t))?;
    stream.set_write_timeout(Some(t))?;
    stream.try_clone()
}

fn spawn_conn(shared: &Arc<Shared>, stream: TcpStream, peer: SocketAddr) {
    let clone = match setup(&stream, shared.cfg.io_timeout) {
        Ok(c) => c,
        Err(e) => {
            log::warn!("http: {peer}: socket setup failed: {e}");
            return;
        }
    };
    let id = {
        let mut t = shared.lock();
        let id = t.next_id;
        t.next_id += 1;
        t.open.push((id, clone));
        id
    };
    shared.stats.clients.fetch_add(1, Relaxed);
    // The slot releases the registration when the thread ends, or when a failed spawn drops
    // the closure (the lock is not held here, so that drop cannot deadlock).
    let slot = Slot {
        shared: shared.clone(),
        id,
    };
    let sh = shared.clone();
    let spawned = thread::Builder::new()
        .name("http-conn".into())
        .stack_size(CONN_STACK)
        .spawn(move || {
            let _slot = slot;
            log::debug!("http: {peer}: connected");
            let cx = ConnCtx {
                dir: &sh.cfg.dir,
                stats: &sh.stats,
                io_timeout: sh.cfg.io_timeout,
                stop: &sh.stop,
                live: sh.cfg.live.as_deref(),
                record: sh.cfg.record.as_deref(),
                renditions: sh.cfg.renditions.as_deref(),
            };
            conn::serve(stream, peer, cx);
        });
    match spawned {
        Ok(h) => shared.lock().workers.push(h),
        Err(e) => log::warn!("http: {peer}: cannot start a connection thread: {e}"),
    }
}
