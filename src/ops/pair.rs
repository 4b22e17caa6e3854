//! [`join2`]: two closures at once, on the calling thread and on one helper
//! thread that spins between tasks.
//!
//! A training step of the lecture's networks has only a few products worth
//! splitting, ~100 µs apart. A rayon worker falls asleep in between, and waking
//! it costs about what the split saves (measured in BENCHMARKS.md: no gain at
//! all). The helper instead spins for a few milliseconds after each task, as
//! OpenMP runtimes do, so a hand-off takes well under a microsecond while
//! training runs, and sleeps once work stops coming.

use std::cell::UnsafeCell;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering::SeqCst};
use std::sync::OnceLock;
use std::thread::Thread;
use std::time::{Duration, Instant};

const IDLE: u8 = 0;
const POSTED: u8 = 1;
const DONE: u8 = 2;
const PANICKED: u8 = 3;

/// How long the helper spins after a task before it parks.
const SPIN: Duration = Duration::from_millis(5);

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
        if h.state.load(SeqCst) == POSTED {
            // SAFETY: see `unsafe impl Sync for Helper`; the task's pointer stays
            // valid until this thread stores DONE or PANICKED.
            let (f, arg) = unsafe { *h.task.get() };
            let ok = catch_unwind(AssertUnwindSafe(|| unsafe { f(arg) })).is_ok();
            h.state.store(if ok { DONE } else { PANICKED }, SeqCst);
            last = Instant::now();
        } else if last.elapsed() < SPIN {
            spin_a_while();
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

/// A few microseconds of spinning, then a yield: when there are more busy
/// threads than cores (several programs training at once), a spinning thread
/// must not keep the thread it waits for off the CPU.
fn spin_a_while() {
    for _ in 0..64 {
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
/// started), runs `a` and then `b` here. A panic in either is re-raised here
/// after both have finished.
pub(crate) fn join2<A: FnOnce() + Send, B: FnOnce() + Send>(a: A, b: B) {
    let h = &HELPER;
    let thread = match helper_thread() {
        Some(t)
            if h.taken
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
    /// Calls the `Option<B>` that `arg` points to.
    unsafe fn call<B: FnOnce()>(arg: *mut ()) {
        // SAFETY: `arg` is the owner's `&mut Option<B>`, alive until the helper
        // reports DONE or PANICKED.
        if let Some(b) = unsafe { (*(arg as *mut Option<B>)).take() } {
            b();
        }
    }
    let mut b = Some(b);
    // SAFETY: this caller owns the helper, which is IDLE.
    unsafe { *h.task.get() = (call::<B>, &mut b as *mut Option<B> as *mut ()) };
    h.state.store(POSTED, SeqCst);
    if h.sleeping.load(SeqCst) {
        thread.unpark();
    }
    let ran_a = catch_unwind(AssertUnwindSafe(a));
    let state = loop {
        match h.state.load(SeqCst) {
            s @ (DONE | PANICKED) => break s,
            _ => spin_a_while(),
        }
    };
    h.state.store(IDLE, SeqCst);
    h.taken.store(false, SeqCst);
    if let Err(payload) = ran_a {
        resume_unwind(payload);
    }
    assert!(state == DONE, "a task on kindling's helper thread panicked");
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
    fn wakes_a_parked_helper() {
        join2(|| (), || ());
        std::thread::sleep(SPIN * 3);
        let mut y = 0;
        join2(|| (), || y = 1);
        assert_eq!(y, 1);
    }
}
