//! How the CPU backend's buffers come from the system allocator.
//!
//! NOTE(malloc): a training step allocates and frees the same few large
//! buffers every step (a `cnn` step at batch 64: activations and gradients of
//! 9.4 MB each, the columns of the convolutions). glibc's malloc serves
//! blocks from 128 KiB up (a threshold that it raises only to the largest
//! block freed so far) with `mmap` and gives them back with `munmap` on free,
//! and returns the top of its heaps to the system once 128 KiB of it are free;
//! so every step asked the kernel for fresh zeroed pages again: 270,000 page
//! faults in 40 steps, a third of the step's time (`perf`, BENCHMARKS.md:
//! 83 ms a step before, 54 ms after). Once per process, before the backend's
//! first operation, kindling therefore asks glibc to serve blocks up to
//! 32 MiB from its heaps (its largest setting) and to keep up to 1 GiB of freed
//! heap for reuse. Memory freed stays with the process, ready for the next
//! step; the peak is unchanged. A process that chose its own settings through
//! `GLIBC_TUNABLES` keeps them; other allocators and systems are left alone.

use std::sync::Once;

/// Applies NOTE(malloc), once.
pub(super) fn keep_freed_memory() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        if std::env::var_os("GLIBC_TUNABLES").is_none() {
            // SAFETY: mallopt only changes the allocator's thresholds; both
            // values are in its accepted ranges.
            unsafe {
                libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
                libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
            }
        }
    });
}
