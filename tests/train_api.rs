//! Training through the library: a run stopped with a checkpoint and resumed
//! in a new process ends bit for bit where an uninterrupted run ends (dropout
//! included, so the generator's state must travel too); `tqdm` redraws one line
//! with its postfix on a terminal and prints a few plain lines in a log.
//!
//! The `child_*` and `tqdm_child` tests are the other processes: the tests
//! here start this same binary again to run them (they are `#[ignore]`d in a
//! normal run).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use kindling::data::{DataLoader, TensorDataset};
use kindling::nn::functional::cross_entropy;
use kindling::nn::{Dropout, Linear, Module};
use kindling::optim::{Adam, Optimizer};
use kindling::train::{tqdm, Checkpoint, Trainer};
use kindling::{Generator, Result, Tensor};

#[derive(Module)]
struct Net {
    fc1: Linear,
    drop: Dropout,
    fc2: Linear,
}

impl Module for Net {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.fc2
            .forward(&self.drop.forward(&self.fc1.forward(x)?.relu())?)
    }
}

const EPOCHS: usize = 3;
/// Stop after this many steps: epoch 3, batch 8 of 16.
const STOP_AFTER: usize = 40;

/// 512 samples of 8 features in 4 classes, from an explicit generator.
fn loader() -> DataLoader<TensorDataset> {
    let mut g = Generator::new(9);
    let x = Tensor::randn_with([512, 8], &mut g);
    let w = Tensor::randn_with([8, 4], &mut g);
    let y = x.matmul(&w).argmax(1);
    DataLoader::new(Arc::new(TensorDataset::new(x, &y).unwrap()), 32)
        .shuffle(true)
        .seed(5)
}

fn model_and_optimizer() -> (Net, Adam) {
    kindling::manual_seed(1);
    let net = Net {
        fc1: Linear::new(8, 16),
        drop: Dropout::new(0.2),
        fc2: Linear::new(16, 4),
    };
    let opt = Adam::new(net.parameters(), 0.01);
    (net, opt)
}

fn weights(net: &Net) -> Vec<u8> {
    kindling::io::safetensors_bytes(&net.state_dict(), &Default::default()).unwrap()
}

fn lr_at(epoch: usize) -> f64 {
    0.01 / (1 + epoch) as f64
}

fn child_dir() -> Option<PathBuf> {
    std::env::var_os("KINDLING_TRAIN_CHILD_DIR").map(PathBuf::from)
}

/// Runs one of this binary's ignored tests in a new process.
fn run_child(test: &str, dir: &Path) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", test, "--test-threads", "1"])
        .env("KINDLING_TRAIN_CHILD_DIR", dir)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.contains("1 passed"),
        "{test}: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn resume_in_a_new_process_ends_bit_for_bit() {
    let _rng = common::rng_lock();
    let loader = loader();
    let (net, mut opt) = model_and_optimizer();
    let fit = Trainer::new(&net, &mut opt)
        .epochs(EPOCHS)
        .lr_schedule(lr_at)
        .fit(&loader)
        .unwrap();
    assert_eq!(fit.history.len(), EPOCHS);
    assert!(!fit.interrupted);
    let uninterrupted = weights(&net);

    let dir = common::temp_dir("train-api-resume");
    run_child("child_trains_until_stopped", &dir);
    let ck = Checkpoint::load(&dir.join("checkpoint")).unwrap();
    assert_eq!((ck.progress.epoch, ck.progress.batch), (2, 8));
    assert_eq!(ck.config["note"], "set by the child");
    run_child("child_resumes", &dir);
    let resumed = std::fs::read(dir.join("final.safetensors")).unwrap();
    assert!(
        resumed == uninterrupted,
        "the resumed run ends at other weights"
    );
    // The history was carried across the processes too.
    let history: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("history.json")).unwrap()).unwrap();
    for (i, row) in fit.history.iter().enumerate() {
        assert_eq!(
            history[i]["train_loss"].as_f64().unwrap(),
            row.train_loss,
            "epoch {}",
            i + 1
        );
    }
}

#[test]
#[ignore = "a child process of resume_in_a_new_process_ends_bit_for_bit"]
fn child_trains_until_stopped() {
    let dir = child_dir().expect("run by the resume test");
    let loader = loader();
    let (net, mut opt) = model_and_optimizer();
    let stop = AtomicBool::new(false);
    let steps = AtomicUsize::new(0);
    let fit = Trainer::new(&net, &mut opt)
        .epochs(EPOCHS)
        .lr_schedule(lr_at)
        .checkpoint(
            dir.join("checkpoint"),
            serde_json::json!({"note": "set by the child"}),
        )
        .stop_when(&stop)
        .loss(|out, y| {
            if steps.fetch_add(1, Ordering::Relaxed) + 1 == STOP_AFTER {
                stop.store(true, Ordering::Relaxed); // as a Ctrl-C handler would
            }
            cross_entropy(out, y)
        })
        .fit(&loader)
        .unwrap();
    assert!(fit.interrupted);
    assert_eq!(
        fit.checkpoint.as_deref(),
        Some(dir.join("checkpoint").as_path())
    );
}

#[test]
#[ignore = "a child process of resume_in_a_new_process_ends_bit_for_bit"]
fn child_resumes() {
    let dir = child_dir().expect("run by the resume test");
    let ck = Checkpoint::load(&dir.join("checkpoint")).unwrap();
    let loader = loader();
    let (net, mut opt) = model_and_optimizer();
    let fit = Trainer::new(&net, &mut opt)
        .epochs(EPOCHS)
        .lr_schedule(lr_at)
        .resume(&ck)
        .unwrap()
        .fit(&loader)
        .unwrap();
    std::fs::write(dir.join("final.safetensors"), weights(&net)).unwrap();
    let rows: Vec<serde_json::Value> = fit
        .history
        .iter()
        .map(|r| serde_json::json!({"train_loss": r.train_loss}))
        .collect();
    std::fs::write(
        dir.join("history.json"),
        serde_json::to_string(&rows).unwrap(),
    )
    .unwrap();
    assert_eq!(opt.state().step, (EPOCHS * loader.len()) as u64);
}

#[test]
fn a_checkpoint_that_does_not_fit_the_run_is_refused() {
    let _rng = common::rng_lock();
    let dir = common::temp_dir("train-api-misfit");
    let loader = loader();
    let (net, mut opt) = model_and_optimizer();
    let stop = AtomicBool::new(true); // stop after the first step
    Trainer::new(&net, &mut opt)
        .epochs(2)
        .checkpoint(dir.join("ck"), serde_json::Value::Null)
        .stop_when(&stop)
        .fit(&loader)
        .unwrap();
    let ck = Checkpoint::load(&dir.join("ck")).unwrap();
    // Into an SGD optimizer: refused by name.
    let mut sgd = kindling::optim::SGD::new(net.parameters(), 0.1);
    let err = Trainer::new(&net, &mut sgd)
        .resume(&ck)
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("saved by Adam, not SGD"), "{err}");
    // Into a run with fewer batches per epoch than it had done: refused.
    let small = DataLoader::new(
        Arc::new(
            TensorDataset::new(
                Tensor::zeros([32, 8]),
                &Tensor::full_dtype([32], 0, kindling::DType::I64),
            )
            .unwrap(),
        ),
        32,
    );
    let mut opt2 = Adam::new(net.parameters(), 0.01);
    let mut t = Trainer::new(&net, &mut opt2).epochs(2).resume(&ck).unwrap();
    let err = t.fit(&small).unwrap_err().to_string();
    assert!(err.contains("does not fit"), "{err}");
}

// ----- tqdm ---------------------------------------------------------------------------

const TQDM_BATCHES: usize = 60;

#[test]
#[ignore = "a child process of tqdm_redraws_on_a_terminal_and_prints_few_lines_in_logs"]
fn tqdm_child() {
    let data = TensorDataset::new(
        Tensor::zeros([TQDM_BATCHES * 4, 2]),
        &Tensor::arange(TQDM_BATCHES as i64 * 4),
    )
    .unwrap();
    let loader = DataLoader::new(Arc::new(data), 4);
    let pbar = tqdm(&loader).desc("epoch 1");
    for (i, batch) in (&pbar).into_iter().enumerate() {
        batch.unwrap();
        std::thread::sleep(std::time::Duration::from_millis(15));
        pbar.set_postfix(&[("loss", 1.0 / (i + 1) as f64)]);
    }
}

/// Runs `tqdm_child` with its stderr on `stderr`; returns what it wrote there
/// when `read` can read it back.
fn tqdm_child_output(stderr: Stdio) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "tqdm_child",
            "--test-threads",
            "1",
            "--nocapture",
        ])
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap()
}

#[test]
fn tqdm_redraws_on_a_terminal_and_prints_few_lines_in_logs() {
    // Piped: plain lines, one per tenth, no carriage returns.
    let child = tqdm_child_output(Stdio::piped());
    let out = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    let lines: Vec<&str> = log.lines().filter(|l| l.starts_with("epoch 1:")).collect();
    assert!(!log.contains('\r'), "{log:?}");
    assert!(
        (5..=11).contains(&lines.len()),
        "{} lines: {log}",
        lines.len()
    );
    let last = lines.last().unwrap();
    assert!(
        last.contains("100%|##########| 60/60 [") && last.contains("loss=0.0167"),
        "{last}"
    );

    // On a pseudo-terminal: one line redrawn in place, with the running postfix.
    let (mut master, mut slave) = (0, 0);
    // SAFETY: openpty writes two descriptors into the given ints.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty");
    // SAFETY: both descriptors were just opened and are owned here.
    let (master, slave) = unsafe {
        use std::os::fd::FromRawFd;
        (
            std::fs::File::from_raw_fd(master),
            std::os::fd::OwnedFd::from_raw_fd(slave),
        )
    };
    let mut child = tqdm_child_output(Stdio::from(slave));
    let reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let mut master = master;
        let mut buf = [0u8; 4096];
        // Reading fails (EIO) once the child has closed the terminal.
        while let Ok(n) = std::io::Read::read(&mut master, &mut buf) {
            if n == 0 {
                break;
            }
            bytes.extend_from_slice(&buf[..n]);
        }
        bytes
    });
    assert!(child.wait().unwrap().success());
    let screen = String::from_utf8_lossy(&reader.join().unwrap()).into_owned();
    let redraws = screen.matches("\repoch 1:").count();
    assert!(redraws >= 3, "{redraws} redraws: {screen:?}");
    assert!(
        screen.contains("█") && screen.contains("/60 ["),
        "{screen:?}"
    );
    assert!(
        screen.contains(", loss=0."),
        "the running postfix: {screen:?}"
    );
    assert!(screen.contains("60/60"), "{screen:?}");
}
