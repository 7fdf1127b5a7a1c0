//! CPU-time helpers shared by the benches (included with `#[path = "support/cpu.rs"] mod cpu;`).
#![allow(dead_code)]

use std::time::Duration;

/// Thread CPU time (not wall time: the build machine is shared), for the per-frame figures.
pub fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// User + system CPU of the waited-for child processes so far.
pub fn children_cpu() -> Duration {
    // SAFETY: all-zero is a valid rusage; getrusage writes into the one we own.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}
