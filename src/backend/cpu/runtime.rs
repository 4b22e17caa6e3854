//! The CPU backend's threads: how many (`num_threads`, PyTorch's
//! `torch.get_num_threads`), a scoped override, and [`join2`], two closures at
//! once on the calling thread and on one helper thread that spins between tasks.
//!
//! NOTE(threads): the count defaults to the cores available, as PyTorch's
//! does. `set_num_threads` changes the process default; `with_threads` sets it
//! for one closure on the calling thread only, so callers on other threads
//! (tests, a server's requests) never clobber each other's setting. Results do
//! not depend on the count: products are split by output blocks, never along
//! the summed dimension, where they are split depends on their shape only, and
//! every reduction runs on one thread in a fixed order.
//!
//! A training step of the lecture's networks has only a few products worth
//! splitting, ~100 µs apart. A rayon worker falls asleep in between, and waking
//! it costs about what the split saves (measured in BENCHMARKS.md: no gain at
//! all). The helper instead spins for a few milliseconds after each task, as
//! OpenMP runtimes do, so a hand-off takes well under a microsecond while
//! training runs, and sleeps once work stops coming.

use std::cell::{Cell, UnsafeCell};
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering, Ordering::SeqCst};
use std::sync::OnceLock;
use std::thread::Thread;
use std::time::{Duration, Instant};

/// The process default: 0 until first read or set, then the count.
static DEFAULT_THREADS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// A `with_threads` override on this thread (0: none).
    static SCOPED: Cell<usize> = const { Cell::new(0) };
}

/// The most threads accepted: more only costs start-up time.
pub const MAX_THREADS: usize = 256;

/// The threads the CPU backend uses on this thread: a [`with_threads`]
/// override, else the process default ([`set_num_threads`], initially the
/// cores available).
pub fn num_threads() -> usize {
    let scoped = SCOPED.with(Cell::get);
    if scoped > 0 {
        return scoped;
    }
    match DEFAULT_THREADS.load(Ordering::Relaxed) {
        0 => {
            let n = std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .min(MAX_THREADS);
            DEFAULT_THREADS.store(n, Ordering::Relaxed);
            n
        }
        n => n,
    }
}

/// Sets the process default thread count (`torch.set_num_threads`), at least 1
/// and at most 256.
pub fn set_num_threads(n: usize) {
    DEFAULT_THREADS.store(n.clamp(1, MAX_THREADS), Ordering::Relaxed);
}

/// Runs `f` with `n` threads (at least 1, at most 256) on this
/// thread, then restores the previous setting; other threads are unaffected.
///
/// With two threads, large products and optimizer updates are split in two
/// halves and a helper thread that spins between tasks takes one;
/// with more, `f` runs inside a rayon pool of `n` threads, so that gemm's own
/// threads are already awake when a product needs them. Results do not depend
/// on `n`; see NOTE(threads).
///
/// ```
/// use kindling::{with_threads, Tensor};
/// let a = Tensor::ones([512, 512]);
/// let one = with_threads(1, || a.mm(&a));
/// let two = with_threads(2, || a.mm(&a));
/// assert_eq!(one.to_vec::<f32>(), two.to_vec::<f32>());
/// ```
pub fn with_threads<R: Send>(n: usize, f: impl FnOnce() -> R + Send) -> R {
    let n = n.clamp(1, MAX_THREADS);
    let scoped = |f: &mut dyn FnMut()| {
        let previous = SCOPED.with(|s| s.replace(n));
        let _restore = Restore(previous);
        f()
    };
    let mut f = Some(f);
    let mut result = None;
    let mut run = || result = Some((f.take().expect("run once"))());
    if n <= 2 {
        scoped(&mut run);
    } else {
        match rayon::ThreadPoolBuilder::new().num_threads(n).build() {
            Ok(pool) => pool.install(|| scoped(&mut run)),
            Err(_) => {
                let previous = SCOPED.with(|s| s.replace(1));
                let _restore = Restore(previous);
                run()
            }
        }
    }
    result.expect("the closure ran")
}

/// Puts a thread's previous override back, also when the closure panics.
struct Restore(usize);

impl Drop for Restore {
    fn drop(&mut self) {
        SCOPED.with(|s| s.set(self.0));
    }
}

const IDLE: u8 = 0;
const POSTED: u8 = 1;
const DONE: u8 = 2;
const PANICKED: u8 = 3;
/// The helper took the posted task and is running it.
const RUNNING: u8 = 4;
/// The caller took its own posted task back (the helper had not started it).
const RECLAIMED: u8 = 5;

/// How long the helper spins after a task before it parks.
const SPIN: Duration = Duration::from_millis(5);

/// A wait for the helper this long past half of the caller's own time on its
/// half, or a task it never started, means it is not getting a core (another
/// program competes for it) ...
const SLOW_HELPER: Duration = Duration::from_micros(200);
/// ... and for a while callers run both halves themselves, at one thread's
/// speed instead of waiting for a descheduled helper, before trying again:
/// 20 ms after the first slow hand-off, twice as long after each further one
/// in a row (up to about 5 s), and back to 20 ms after a fast one.
const BACK_OFF: Duration = Duration::from_millis(20);
const MAX_BACK_OFF_DOUBLINGS: u32 = 8;

/// Slow hand-offs in a row.
static SLOW_IN_A_ROW: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
/// Tasks taken back in a row, and how many make a slow hand-off.
static RECLAIMED_IN_A_ROW: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
const RECLAIMS_TO_BACK_OFF: u32 = 3;

/// Until when callers do not post to the helper, in nanoseconds since `EPOCH`.
static BACK_OFF_UNTIL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
static EPOCH: OnceLock<Instant> = OnceLock::new();

fn nanos_now() -> u64 {
    EPOCH.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

fn backing_off() -> bool {
    let until = BACK_OFF_UNTIL.load(Ordering::Relaxed);
    until != 0 && nanos_now() < until
}

fn back_off() {
    let doublings = SLOW_IN_A_ROW
        .fetch_add(1, Ordering::Relaxed)
        .min(MAX_BACK_OFF_DOUBLINGS);
    let wait = (BACK_OFF.as_nanos() as u64) << doublings;
    BACK_OFF_UNTIL.store(nanos_now() + wait, Ordering::Relaxed);
}

/// A posted task: a function and the pointer it is called with.
type Task = (unsafe fn(*mut ()), *mut ());

struct Helper {
    /// Whether a caller owns the helper: one caller at a time, others run both
    /// halves themselves.
    taken: AtomicBool,
    state: AtomicU8,
    sleeping: AtomicBool,
    task: UnsafeCell<Task>,
    thread: OnceLock<Option<Thread>>,
}

// SAFETY: `task` is written only by the caller that owns the helper (`taken`),
// before it publishes POSTED, and read by the helper thread only after it sees
// POSTED; the owner waits for DONE or PANICKED before it writes again or lets go.
unsafe impl Sync for Helper {}

/// The placeholder task before the first post.
unsafe fn nothing(_: *mut ()) {}

static HELPER: Helper = Helper {
    taken: AtomicBool::new(false),
    state: AtomicU8::new(IDLE),
    sleeping: AtomicBool::new(false),
    task: UnsafeCell::new((nothing, std::ptr::null_mut())),
    thread: OnceLock::new(),
};

fn helper_loop() {
    let h = &HELPER;
    let mut last = Instant::now();
    loop {
        if h.state.load(SeqCst) == POSTED
            && h.state
                .compare_exchange(POSTED, RUNNING, SeqCst, SeqCst)
                .is_ok()
        {
            // SAFETY: see `unsafe impl Sync for Helper`; the task's pointer stays
            // valid until this thread stores DONE or PANICKED.
            let (f, arg) = unsafe { *h.task.get() };
            let ok = catch_unwind(AssertUnwindSafe(|| unsafe { f(arg) })).is_ok();
            h.state.store(if ok { DONE } else { PANICKED }, SeqCst);
            last = Instant::now();
        } else if last.elapsed() < SPIN {
            spin_a_while(|| h.state.load(SeqCst) == POSTED);
        } else {
            // Either this thread sees POSTED here, or the poster sees `sleeping`
            // and unparks it (both sides use SeqCst).
            h.sleeping.store(true, SeqCst);
            if h.state.load(SeqCst) != POSTED {
                std::thread::park();
            }
            h.sleeping.store(false, SeqCst);
            last = Instant::now();
        }
    }
}

/// A few microseconds of spinning until `ready`, then a yield: when there
/// are more busy threads than cores (several programs training at once), a
/// spinning thread must not keep the thread it waits for off the CPU.
///
/// NOTE(spin-check): `ready` is asked between pauses, not only after them:
/// a pause lasts about 140 cycles on recent Intel cores, so 64 of them are
/// 3–4 µs, and checking only then added that much to every hand-off (a
/// one-image `cnn` forward makes a dozen).
fn spin_a_while(ready: impl Fn() -> bool) {
    for _ in 0..64 {
        if ready() {
            return;
        }
        std::hint::spin_loop();
    }
    std::thread::yield_now();
}

/// The helper thread, started on first use; `None` if it could not be spawned.
fn helper_thread() -> Option<&'static Thread> {
    HELPER
        .thread
        .get_or_init(|| {
            std::thread::Builder::new()
                .name("kindling-helper".into())
                .spawn(helper_loop)
                .ok()
                .map(|handle| handle.thread().clone())
        })
        .as_ref()
}

/// Runs `a` on this thread and `b` on the helper thread, and returns when both
/// are done. When the helper is busy with another caller's task (or cannot be
/// started), runs `a` and then `b` here; and when `a` is done before the
/// helper has started `b` (another process holds the other core), this thread
/// takes `b` back and runs it itself, so two threads are never slower than one
/// for want of a core. A panic in either is re-raised here after both have
/// finished.
pub(crate) fn join2<A: FnOnce() + Send, B: FnOnce() + Send>(a: A, b: B) {
    // The work is done by one non-generic function (NOTE(build-time)): a
    // copy of it per pair of closures was 7% of the library's machine code.
    let (mut a, mut b) = (Some(a), Some(b));
    join2_dyn(
        &mut || {
            if let Some(a) = a.take() {
                a()
            }
        },
        &mut || {
            if let Some(b) = b.take() {
                b()
            }
        },
    );
}

/// [`join2`] on closures called at most once each, behind references.
fn join2_dyn(a: &mut (dyn FnMut() + Send), mut b: &mut (dyn FnMut() + Send)) {
    let h = &HELPER;
    let thread = match helper_thread() {
        Some(t)
            if !backing_off()
                && h.taken
                    .compare_exchange(false, true, SeqCst, SeqCst)
                    .is_ok() =>
        {
            t
        }
        _ => {
            a();
            b();
            return;
        }
    };
    /// Calls the `&mut dyn FnMut()` that `arg` points to.
    unsafe fn call(arg: *mut ()) {
        // SAFETY: `arg` is the owner's `&mut &mut dyn FnMut()`, alive until
        // the helper reports DONE or PANICKED.
        unsafe { (*(arg as *mut &mut (dyn FnMut() + Send)))() }
    }
    // SAFETY: this caller owns the helper, which is IDLE.
    unsafe { *h.task.get() = (call, &mut b as *mut &mut (dyn FnMut() + Send) as *mut ()) };
    h.state.store(POSTED, SeqCst);
    // A parked helper takes a while to wake: that says nothing about cores.
    let cold = h.sleeping.load(SeqCst);
    if cold {
        thread.unpark();
    }
    let started = Instant::now();
    let ran_a = catch_unwind(AssertUnwindSafe(a));
    let a_took = started.elapsed();
    let reclaimed = h
        .state
        .compare_exchange(POSTED, RECLAIMED, SeqCst, SeqCst)
        .is_ok();
    let waiting = Instant::now();
    let ran_b = if reclaimed {
        // The helper never saw the task: `b` is still ours.
        catch_unwind(AssertUnwindSafe(&mut *b)).map_err(|_| ())
    } else {
        let state = loop {
            match h.state.load(SeqCst) {
                s @ (DONE | PANICKED) => break s,
                _ => spin_a_while(|| matches!(h.state.load(SeqCst), DONE | PANICKED)),
            }
        };
        if state == DONE {
            Ok(())
        } else {
            Err(())
        }
    };
    if cold {
        // Neither slow nor fast: it was waking up.
    } else if waiting.elapsed() > SLOW_HELPER + a_took / 2 {
        // The helper lost its core in the middle of the task. Halves of a
        // few milliseconds (a convolution's half batch) finish hundreds of
        // microseconds apart on two free cores: the wait counts as slow only
        // past half of this thread's own time on `a`, else the back-off
        // stopped every second product from being split (a `cnn` step: 1.15×
        // from the second core; with this, 1.5×).
        back_off();
    } else if reclaimed {
        // A task it had no time to start: only a run of them says a core is
        // missing (one can be a scheduling hiccup).
        if RECLAIMED_IN_A_ROW.fetch_add(1, Ordering::Relaxed) + 1 >= RECLAIMS_TO_BACK_OFF {
            RECLAIMED_IN_A_ROW.store(0, Ordering::Relaxed);
            back_off();
        }
    } else {
        SLOW_IN_A_ROW.store(0, Ordering::Relaxed);
        RECLAIMED_IN_A_ROW.store(0, Ordering::Relaxed);
    }
    h.state.store(IDLE, SeqCst);
    h.taken.store(false, SeqCst);
    if let Err(payload) = ran_a {
        resume_unwind(payload);
    }
    assert!(ran_b.is_ok(), "a task of kindling's second thread panicked");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn both_halves_run_once_even_when_callers_race() {
        let count = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..500 {
                        let (mut x, mut y) = (0, 0);
                        join2(|| x = 1, || y = 2);
                        assert_eq!((x, y), (1, 2));
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                });
            }
        });
        assert_eq!(count.load(Ordering::Relaxed), 2000);
    }

    #[test]
    fn a_panic_on_the_helper_reaches_the_caller_and_the_helper_survives() {
        let r = catch_unwind(|| join2(|| (), || panic!("boom")));
        assert!(r.is_err());
        let mut y = 0;
        join2(|| (), || y = 7);
        assert_eq!(y, 7);
    }

    #[test]
    fn the_caller_takes_the_second_half_back_when_the_helper_is_slow() {
        // Whoever runs it, each half runs exactly once.
        for _ in 0..2000 {
            let (mut x, mut y) = (0, 0);
            join2(|| x += 1, || y += 1);
            assert_eq!((x, y), (1, 1));
        }
    }

    #[test]
    fn with_threads_is_per_thread_and_restored() {
        let outer = num_threads();
        std::thread::scope(|s| {
            s.spawn(|| with_threads(1, || assert_eq!(num_threads(), 1)));
            s.spawn(|| with_threads(2, || assert_eq!(num_threads(), 2)));
        });
        assert_eq!(num_threads(), outer);
        with_threads(3, || assert_eq!(num_threads(), 3));
        assert_eq!(num_threads(), outer);
        assert_eq!(with_threads(100_000, num_threads), MAX_THREADS.min(100_000));
    }

    #[test]
    fn wakes_a_parked_helper() {
        join2(|| (), || ());
        std::thread::sleep(SPIN * 3);
        let mut y = 0;
        join2(|| (), || y = 1);
        assert_eq!(y, 1);
    }
}
