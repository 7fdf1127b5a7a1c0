//! A counting global allocator shared by the `*_alloc` integration tests.
//!
//! Every allocation and reallocation made through Rust's allocator (also `alloc_zeroed`) is
//! counted twice over: once in a process-wide counter ([`all`], every thread) and, when the
//! calling thread has opted in with [`watch`], once more in [`watched`] (only threads that opted
//! in). Deallocations are not counted. Allocations made inside C/C++ libraries (their own
//! `malloc`/`new`) do not pass through here and are not seen.
//!
//! Each test binary installs it with
//! `#[global_allocator] static A: counting_alloc::Counting = counting_alloc::Counting;`.
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

/// The allocator: forwards to [`System`] and counts.
pub struct Counting;

static ALL: AtomicU64 = AtomicU64::new(0);
static WATCHED: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// Whether this thread's allocations also count in [`WATCHED`].
    static WATCH: Cell<bool> = const { Cell::new(false) };
}

fn note() {
    ALL.fetch_add(1, Ordering::SeqCst);
    // `try_with`: the thread-local may already be gone while a thread shuts down.
    if WATCH.try_with(|w| w.get()).unwrap_or(false) {
        WATCHED.fetch_add(1, Ordering::SeqCst);
    }
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc(l) }
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc_zeroed(l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        note();
        unsafe { System.realloc(p, l, n) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
}

/// Allocations so far on every thread of the process.
pub fn all() -> u64 {
    ALL.load(Ordering::SeqCst)
}

/// Allocations so far on threads while they had opted in with [`watch`].
pub fn watched() -> u64 {
    WATCHED.load(Ordering::SeqCst)
}

/// Opts the calling thread in (`true`) or out (`false`) of [`watched`] counting.
pub fn watch(on: bool) {
    WATCH.with(|w| w.set(on));
}

/// Runs `f` with the calling thread opted in; returns its result and the allocations
/// [`watched`] counted meanwhile (this thread's, as long as no other thread is opted in).
pub fn measure<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let before = watched();
    watch(true);
    let r = f();
    watch(false);
    (r, watched() - before)
}
