//! Measuring the test process's memory, where the app runs in-process:
//! [`Counting`], an allocator that counts live heap bytes (declare it as the
//! test binary's `#[global_allocator]`), and [`rss_bytes`], the resident set
//! from `/proc/self/status`. RSS is not live memory (glibc keeps freed heap),
//! so bounds on what the app holds are asserted on the live bytes, and RSS is
//! checked with room for the allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::PATIENCE;

/// A mebibyte.
pub const MIB: usize = 1024 * 1024;

static LIVE: AtomicUsize = AtomicUsize::new(0);

/// The system allocator, counting the bytes it has handed out and not got back.
pub struct Counting;

// SAFETY: every call is passed on to `System` unchanged; only a counter is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc(layout);
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = System.alloc_zeroed(layout);
        if !p.is_null() {
            LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = System.realloc(ptr, layout, new_size);
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            LIVE.fetch_add(new_size, Ordering::Relaxed);
        }
        p
    }
}

/// Heap bytes live now, when [`Counting`] is the global allocator (else 0).
pub fn live_bytes() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// The process's resident set size, in bytes.
pub fn rss_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
        .map(|kb| kb * 1024)
        .expect("a VmRSS line")
}

/// `bytes` in MiB, for messages.
pub fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Live heap and RSS now, printed with `what`.
pub fn measure(what: &str) -> (usize, usize) {
    let (live, rss) = (live_bytes(), rss_bytes());
    println!(
        "{what}: live heap {:.1} MiB, RSS {:.1} MiB",
        mib(live),
        mib(rss)
    );
    (live, rss)
}

/// Waits until the live heap is at most `bound` bytes above `base`, and
/// returns by how much it is; panics with the last figure after twice the
/// harness's patience.
pub async fn live_within(what: &str, base: usize, bound: usize) -> usize {
    let start = Instant::now();
    loop {
        let grown = live_bytes().saturating_sub(base);
        if grown <= bound {
            return grown;
        }
        assert!(
            start.elapsed() < PATIENCE * 2,
            "{what}: the live heap stays {:.1} MiB above the start, more than {:.1} MiB",
            mib(grown),
            mib(bound)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
