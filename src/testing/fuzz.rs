//! A mutation fuzzer that runs on stable Rust, inside the test suite: every
//! parser and loader of kindling is fed mutated copies of committed seed files
//! for a bounded time, and an input that panics, allocates more than its
//! target allows, or runs longer than a second is saved as a regression case
//! and fails the test.
//!
//! NOTE(fuzzing): each target owns two folders under `tests/fuzz/`:
//! `seeds/TARGET/` (valid files, committed) and `regressions/TARGET/` (every
//! input that once failed, named by its MD5, committed). A run replays both,
//! then mutates for `KINDLING_FUZZ_SECS` seconds (default 2; the long runs of
//! FUZZING.md set it to minutes). The mutations are blind (no coverage
//! feedback): bit flips, interesting integers in both byte orders, numbers in
//! text swapped for edge cases, dictionary tokens, cut, duplicated and spliced
//! ranges. `KINDLING_FUZZ_SEED` fixes the random sequence (by default it is
//! the target's name, so a normal test run is repeatable).
//!
//! Memory is measured by [`CountingAlloc`], which the fuzz test binary installs
//! as its global allocator: it counts the bytes live on the fuzzing thread and
//! refuses (returns null for) an allocation that would take them over the
//! target's cap, so an unbounded allocation never reaches the system. Most
//! code then aborts; a `SIGABRT` handler writes the input that was running to
//! `regressions/TARGET/pending-abort` first, and the next run gives it its
//! MD5 name. An input still running after 10 s is saved by a watchdog, which
//! ends the process.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use md5::{Digest, Md5};

thread_local! {
    static TRACKING: Cell<bool> = const { Cell::new(false) };
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
    static CAP: Cell<usize> = const { Cell::new(usize::MAX) };
    static REFUSED: Cell<usize> = const { Cell::new(0) };
}

/// A global allocator that counts what the current thread holds while a fuzz
/// input runs, and refuses allocations above the target's cap. Install it in
/// a fuzz test binary:
///
/// ```ignore
/// #[global_allocator]
/// static ALLOC: kindling::testing::fuzz::CountingAlloc = kindling::testing::fuzz::CountingAlloc;
/// ```
pub struct CountingAlloc;

/// Whether `size` more bytes fit under the cap; counts them if so.
fn admit(size: usize) -> bool {
    TRACKING
        .try_with(|t| {
            if !t.get() {
                return true;
            }
            let live = LIVE.get().saturating_add(size as isize);
            if live > 0 && live as usize > CAP.get() {
                REFUSED.set(REFUSED.get().max(size));
                return false;
            }
            LIVE.set(live);
            PEAK.set(PEAK.get().max(live));
            true
        })
        .unwrap_or(true)
}

fn release(size: usize) {
    let _ = TRACKING.try_with(|t| {
        if t.get() {
            LIVE.set(LIVE.get() - size as isize);
        }
    });
}

// SAFETY: every call is forwarded to `System` unchanged; the counting only
// touches thread-local cells without destructors, and refusing returns null,
// which the `GlobalAlloc` contract allows.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if !admit(layout.size()) {
            return std::ptr::null_mut();
        }
        let p = unsafe { System.alloc(layout) };
        if p.is_null() {
            release(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if !admit(layout.size()) {
            return std::ptr::null_mut();
        }
        let p = unsafe { System.alloc_zeroed(layout) };
        if p.is_null() {
            release(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        release(layout.size());
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old = layout.size();
        if new_size > old && !admit(new_size - old) {
            return std::ptr::null_mut();
        }
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if p.is_null() {
            if new_size > old {
                release(new_size - old);
            }
        } else if new_size < old {
            release(old - new_size);
        }
        p
    }
}

/// Inputs slower than this fail.
pub const SLOW: Duration = Duration::from_secs(1);
/// An input still running after this is saved by the watchdog, which ends the
/// process.
const HANG: Duration = Duration::from_secs(10);
/// No mutated input grows beyond this.
const MAX_INPUT: usize = 1 << 20;

/// One parser or loader under fuzzing.
pub struct Target {
    /// The folder name under `seeds/` and `regressions/`.
    pub name: &'static str,
    /// The most bytes one input may have live at once on the fuzzing thread,
    /// given its length.
    pub cap: fn(usize) -> usize,
    /// Tokens the mutator inserts (format keywords, field names).
    pub dictionary: &'static [&'static [u8]],
}

/// What a fuzz run did.
#[derive(Clone, Debug)]
pub struct Report {
    /// The target's name.
    pub target: String,
    /// Inputs run, seeds and regressions included.
    pub runs: u64,
    /// Seeds and regression cases replayed first.
    pub replayed: usize,
    /// Mutated inputs the loader accepted (the rest it refused with an error).
    pub accepted: u64,
    /// Seeds the loader refused: a seed should be a valid file.
    pub refused_seeds: Vec<String>,
    /// Seconds spent.
    pub seconds: f64,
    /// The most bytes one input had live at once.
    pub peak_bytes: usize,
    /// The slowest input's time in seconds.
    pub slowest: f64,
    /// The random seed of the mutations.
    pub seed: u64,
    /// One line per failing input: what went wrong and where it was saved.
    pub failures: Vec<String>,
}

impl Report {
    /// One JSON object, for `KINDLING_FUZZ_REPORT`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "target": self.target, "runs": self.runs, "replayed": self.replayed, "accepted": self.accepted,
            "seconds": self.seconds, "peak_bytes": self.peak_bytes,
            "slowest_seconds": self.slowest, "seed": self.seed, "failures": self.failures,
        })
    }
}

/// The input running now, for the abort handler and the watchdog.
static CURRENT_PTR: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());
static CURRENT_LEN: AtomicUsize = AtomicUsize::new(0);
/// Milliseconds since `EPOCH` when the current input started; 0 when idle.
static STARTED_MS: AtomicU64 = AtomicU64::new(0);
static PENDING_FD: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_abort(_: libc::c_int) {
    let fd = PENDING_FD.load(Ordering::SeqCst);
    let ptr = CURRENT_PTR.load(Ordering::SeqCst);
    let len = CURRENT_LEN.load(Ordering::SeqCst);
    // SAFETY: only async-signal-safe calls on memory the fuzz loop keeps
    // alive while the pointer is published.
    unsafe {
        if fd >= 0 && !ptr.is_null() {
            let _ = libc::ftruncate(fd, 0);
            let _ = libc::pwrite(fd, ptr as *const libc::c_void, len, 0);
            let _ = libc::fsync(fd);
            let msg =
                b"fuzz: the process aborted; the input is in regressions/TARGET/pending-abort\n";
            let _ = libc::write(2, msg.as_ptr() as *const libc::c_void, msg.len());
        }
        libc::signal(libc::SIGABRT, libc::SIG_DFL);
        libc::raise(libc::SIGABRT);
    }
}

thread_local! {
    /// Whether a panic on this thread is a fuzz input's, to be recorded quietly.
    static CAPTURING: Cell<bool> = const { Cell::new(false) };
    static LAST_PANIC: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// Wraps the panic hook (once) so that a fuzz input's panic is recorded with
/// its location instead of printed; every other panic prints as before.
fn capture_panics() {
    static WRAP: std::sync::Once = std::sync::Once::new();
    WRAP.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !CAPTURING.get() {
                return previous(info);
            }
            TRACKING.set(false);
            let at = info
                .location()
                .map(|l| format!(" at {}:{}", l.file(), l.line()))
                .unwrap_or_default();
            LAST_PANIC.set(format!("{}{at}", panic_message(info.payload())));
        }));
    });
}

/// A small, fast generator (splitmix64); the fuzzer needs no more.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const INTERESTING: [u64; 16] = [
    0,
    1,
    2,
    0x7f,
    0x80,
    0xff,
    0x100,
    0x7fff,
    0xffff,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x1_0000_0000,
    0x7fff_ffff_ffff_ffff,
    0x8000_0000_0000_0000,
    u64::MAX,
];

const NUMBERS: [&str; 14] = [
    "0",
    "-1",
    "-0",
    "1e309",
    "-1e309",
    "1e-320",
    "NaN",
    "4294967296",
    "2147483648",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999",
    "0.5",
    "1000000",
];

/// Applies one to eight random mutations to `data`.
fn mutate(data: &mut Vec<u8>, rng: &mut Rng, corpus: &[Vec<u8>], dictionary: &[&[u8]]) {
    let count = 1 + rng.below(8).min(rng.below(8));
    for _ in 0..count {
        let len = data.len();
        match rng.below(13) {
            0 if len > 0 => {
                let i = rng.below(len);
                data[i] ^= 1 << rng.below(8);
            }
            1 if len > 0 => {
                let i = rng.below(len);
                data[i] = rng.next() as u8;
            }
            2 if len > 0 => {
                let i = rng.below(len);
                data[i] = INTERESTING[rng.below(6)] as u8;
            }
            3 if len > 0 => {
                let width = [2, 4, 8][rng.below(3)];
                let mut v = INTERESTING[rng.below(INTERESTING.len())];
                if rng.below(4) == 0 {
                    v = (len as u64)
                        .wrapping_add(rng.below(17) as u64)
                        .wrapping_sub(8);
                }
                let bytes = if rng.below(2) == 0 {
                    v.to_le_bytes()
                } else {
                    (v << (64 - 8 * width as u32).min(63)).to_be_bytes()
                };
                let i = rng.below(len);
                let n = width.min(len - i);
                data[i..i + n].copy_from_slice(&bytes[..n]);
            }
            4 if len > 0 => {
                let i = rng.below(len);
                let delta = rng.below(33) as u8;
                data[i] = if rng.below(2) == 0 {
                    data[i].wrapping_add(delta)
                } else {
                    data[i].wrapping_sub(delta)
                };
            }
            5 if len > 0 => {
                let i = rng.below(len);
                let n = 1 + rng.below((len - i).min(64));
                data.drain(i..i + n);
            }
            6 => {
                let i = rng.below(len + 1);
                let n = 1 + rng.below(16);
                let bytes: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
                data.splice(i..i, bytes);
            }
            7 if len > 0 => {
                let from = rng.below(len);
                let n = 1 + rng.below((len - from).min(256));
                let chunk = data[from..from + n].to_vec();
                let to = rng.below(len + 1);
                data.splice(to..to, chunk);
            }
            8 if !dictionary.is_empty() => {
                let token = dictionary[rng.below(dictionary.len())];
                let i = rng.below(len + 1);
                if rng.below(2) == 0 {
                    data.splice(i..i, token.iter().copied());
                } else {
                    let n = token.len().min(len - i);
                    data[i..i + n].copy_from_slice(&token[..n]);
                }
            }
            9 if !corpus.is_empty() => {
                let other = &corpus[rng.below(corpus.len())];
                let cut = rng.below(len + 1);
                let from = rng.below(other.len() + 1);
                data.truncate(cut);
                data.extend_from_slice(&other[from..]);
            }
            10 if len > 0 => {
                data.truncate(rng.below(len));
            }
            11 => {
                // A number in text (JSON, a safetensors header) made an edge case.
                let starts: Vec<usize> = (0..len)
                    .filter(|&i| {
                        data[i].is_ascii_digit() && (i == 0 || !data[i - 1].is_ascii_digit())
                    })
                    .collect();
                if !starts.is_empty() {
                    let s = starts[rng.below(starts.len())];
                    let e = (s..len).find(|&i| !data[i].is_ascii_digit()).unwrap_or(len);
                    let n = NUMBERS[rng.below(NUMBERS.len())];
                    data.splice(s..e, n.bytes());
                }
            }
            _ => {
                // Repeat a range many times: long runs, deep nesting.
                if len > 0 {
                    let from = rng.below(len);
                    let n = 1 + rng.below((len - from).min(8));
                    let chunk = data[from..from + n].to_vec();
                    let times = 1 + rng.below(512);
                    let to = rng.below(len + 1);
                    let repeated: Vec<u8> = chunk.iter().copied().cycle().take(n * times).collect();
                    data.splice(to..to, repeated);
                }
            }
        }
        data.truncate(MAX_INPUT);
    }
}

fn md5_hex(bytes: &[u8]) -> String {
    Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn files_in(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    paths.sort();
    paths
        .into_iter()
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n != "pending-abort" && n != ".gitkeep")
        })
        .filter_map(|p| Some((p.clone(), std::fs::read(&p).ok()?)))
        .collect()
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".into())
}

/// A scratch folder, removed when dropped; it derefs to its path.
pub struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh scratch folder for the files a target's loader reads, in memory
/// (`/dev/shm`) where there is one.
pub fn scratch(target: &str) -> Scratch {
    let shm = Path::new("/dev/shm");
    let base = if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    let dir = base.join(format!("kindling-fuzz-{target}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch folder");
    Scratch(dir)
}

/// How long to fuzz, from `KINDLING_FUZZ_SECS` (default 2 s).
pub fn budget() -> Duration {
    std::env::var("KINDLING_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(Duration::from_secs(2))
}

/// Fuzzes `run` with the target's seeds and regressions under `root`
/// (`tests/fuzz`) for [`budget`]; the caller asserts that
/// [`Report::failures`] is empty. `run` should return normally for every
/// input: `true` when the loader accepted it, `false` when it refused it with
/// an error.
///
/// # Panics
/// When the target has no seed files.
pub fn fuzz(target: &Target, root: &Path, run: &mut dyn FnMut(&[u8]) -> bool) -> Report {
    fuzz_for(target, root, budget(), run)
}

/// [`fuzz`] for a given time rather than [`budget`]'s.
pub fn fuzz_for(
    target: &Target,
    root: &Path,
    budget: Duration,
    run: &mut dyn FnMut(&[u8]) -> bool,
) -> Report {
    // One target at a time per process: the abort handler and the watchdog
    // know one current input.
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let seeds_dir = root.join("seeds").join(target.name);
    let regressions = root.join("regressions").join(target.name);
    std::fs::create_dir_all(&regressions).expect("the regressions folder");
    // An input that aborted a previous run becomes a named regression case.
    let pending = regressions.join("pending-abort");
    if let Ok(bytes) = std::fs::read(&pending) {
        if !bytes.is_empty() {
            let _ = std::fs::rename(&pending, regressions.join(md5_hex(&bytes)));
        }
    }
    let seeds = files_in(&seeds_dir);
    assert!(
        !seeds.is_empty(),
        "no seed files in {}",
        seeds_dir.display()
    );
    let seed_count = seeds.len();
    let replay: Vec<(PathBuf, Vec<u8>)> = seeds.into_iter().chain(files_in(&regressions)).collect();
    let corpus: Vec<Vec<u8>> = replay.iter().map(|(_, b)| b.clone()).collect();

    let pending_file = std::fs::File::create(&pending).expect("the pending-abort file");
    PENDING_FD.store(
        std::os::fd::AsRawFd::as_raw_fd(&pending_file),
        Ordering::SeqCst,
    );
    // SAFETY: the handler only makes async-signal-safe calls.
    unsafe {
        libc::signal(libc::SIGABRT, on_abort as *const () as libc::sighandler_t);
    }
    let epoch = Instant::now();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watchdog = {
        let done = done.clone();
        let regressions = regressions.clone();
        let name = target.name;
        std::thread::spawn(move || {
            while !done.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(100));
                let started = STARTED_MS.load(Ordering::SeqCst);
                if started > 0
                    && epoch.elapsed().as_millis() as u64 > started + HANG.as_millis() as u64
                {
                    let ptr = CURRENT_PTR.load(Ordering::SeqCst);
                    let len = CURRENT_LEN.load(Ordering::SeqCst);
                    // SAFETY: the fuzz loop keeps the input alive while it runs.
                    let bytes = unsafe { std::slice::from_raw_parts(ptr, len) }.to_vec();
                    let path = regressions.join(md5_hex(&bytes));
                    let _ = std::fs::write(&path, &bytes);
                    eprintln!(
                        "fuzz {name}: an input ran for more than {HANG:?}, saved as {}",
                        path.display()
                    );
                    std::process::exit(1);
                }
            }
        })
    };

    let seed = std::env::var("KINDLING_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            target.name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
            })
        });
    let mut rng = Rng(seed);
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    capture_panics();
    let mut report = Report {
        target: target.name.to_string(),
        runs: 0,
        replayed: replay.len(),
        accepted: 0,
        refused_seeds: Vec::new(),
        seconds: 0.0,
        peak_bytes: 0,
        slowest: 0.0,
        seed,
        failures: Vec::new(),
    };
    let mut seen_failures = std::collections::HashSet::new();
    let start = Instant::now();
    let mut index = 0usize;
    loop {
        let input: Vec<u8> = if index < replay.len() {
            replay[index].1.clone()
        } else {
            if start.elapsed() >= budget {
                break;
            }
            let base = &corpus[rng.below(corpus.len())];
            let mut data = base.clone();
            // A mutation that changed nothing is tried again.
            for _ in 0..8 {
                mutate(&mut data, &mut rng, &corpus, target.dictionary);
                if data != *base {
                    break;
                }
            }
            data
        };
        index += 1;
        CURRENT_PTR.store(input.as_ptr() as *mut u8, Ordering::SeqCst);
        CURRENT_LEN.store(input.len(), Ordering::SeqCst);
        STARTED_MS.store(epoch.elapsed().as_millis() as u64 + 1, Ordering::SeqCst);
        let cap = (target.cap)(input.len());
        CAP.set(cap);
        LIVE.set(0);
        PEAK.set(0);
        REFUSED.set(0);
        CAPTURING.set(true);
        TRACKING.set(true);
        let t0 = Instant::now();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(&input)));
        let took = t0.elapsed();
        TRACKING.set(false);
        CAPTURING.set(false);
        STARTED_MS.store(0, Ordering::SeqCst);
        report.runs += 1;
        report.peak_bytes = report.peak_bytes.max(PEAK.get().max(0) as usize);
        report.slowest = report.slowest.max(took.as_secs_f64());
        let is_seed = index <= seed_count;
        match outcome {
            Ok(false) if is_seed => report
                .refused_seeds
                .push(replay[index - 1].0.display().to_string()),
            Ok(true) if index > replay.len() => report.accepted += 1,
            _ => {}
        }
        let problem = match outcome {
            Err(_) => Some(format!("panicked: {}", LAST_PANIC.take())),
            Ok(_) if REFUSED.get() > 0 => Some(format!(
                "asked for {} bytes, over the cap of {cap} bytes for a {}-byte input",
                REFUSED.get(),
                input.len()
            )),
            Ok(_) if took > SLOW => Some(format!("took {:.2} s", took.as_secs_f64())),
            Ok(_) => None,
        };
        if let Some(problem) = problem {
            let name = md5_hex(&input);
            if seen_failures.insert(name.clone()) {
                let path = match replay.get(index - 1) {
                    Some((p, _)) => p.clone(),
                    None => {
                        let p = regressions.join(&name);
                        let _ = std::fs::write(&p, &input);
                        p
                    }
                };
                failures
                    .lock()
                    .unwrap()
                    .push(format!("{problem} ({})", path.display()));
            }
        }
    }
    CURRENT_PTR.store(std::ptr::null_mut(), Ordering::SeqCst);
    done.store(true, Ordering::SeqCst);
    let _ = watchdog.join();
    // SAFETY: back to the default disposition.
    unsafe {
        libc::signal(libc::SIGABRT, libc::SIG_DFL);
    }
    PENDING_FD.store(-1, Ordering::SeqCst);
    drop(pending_file);
    let _ = std::fs::remove_file(&pending);
    report.seconds = start.elapsed().as_secs_f64();
    report.failures = failures.lock().unwrap().clone();
    if let Ok(path) = std::env::var("KINDLING_FUZZ_REPORT") {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = writeln!(f, "{}", report.to_json());
        }
    }
    report
}

/// Runs [`fuzz`] and panics with every failure, after printing the report.
pub fn check(target: &Target, root: &Path, run: &mut dyn FnMut(&[u8]) -> bool) {
    let r = fuzz(target, root, run);
    eprintln!(
        "fuzz {}: {} inputs in {:.1} s ({} replayed, {} mutated ones accepted), peak {} KiB, slowest {:.3} s, seed {}",
        r.target,
        r.runs,
        r.seconds,
        r.replayed,
        r.accepted,
        r.peak_bytes / 1024,
        r.slowest,
        r.seed
    );
    assert!(
        r.refused_seeds.is_empty(),
        "fuzz {}: seeds refused by the loader (a seed must be a valid file): {:?}",
        r.target,
        r.refused_seeds
    );
    assert!(
        r.failures.is_empty(),
        "fuzz {}: {} failing inputs, saved as regression cases (commit them once fixed):\n{}",
        r.target,
        r.failures.len(),
        r.failures.join("\n")
    );
}
