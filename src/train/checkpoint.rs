//! [`Checkpoint`]: everything needed to continue a training run exactly, saved
//! as one set of files that changes together (see NOTE(file-sets)).

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::error::{Error, Result};
use crate::io::NamedTensors;
use crate::nn::Module;
use crate::optim::{Optimizer, OptimizerState};
use crate::tensor::Tensor;

/// One epoch's figures, as the CLI's `metrics.csv` has them.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochRow {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean training loss over the epoch's samples.
    pub train_loss: f64,
    /// Fraction of the epoch's samples classified correctly while training.
    pub train_accuracy: f64,
    /// Test loss after the epoch, when a test set was given.
    pub test_loss: Option<f64>,
    /// Test accuracy after the epoch, when a test set was given.
    pub test_accuracy: Option<f64>,
    /// Seconds of training in the epoch (across a resume, both parts).
    pub seconds: f64,
}

/// Where a run stands: enough, with the weights and the optimizer state, to
/// continue it exactly.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Progress {
    /// Epochs completed.
    pub epoch: usize,
    /// Batches of the current epoch completed.
    pub batch: usize,
    /// Sum of the per-sample training losses of the current epoch so far.
    pub loss_sum: f64,
    /// Samples of the current epoch classified correctly so far.
    pub correct: usize,
    /// Samples of the current epoch seen so far.
    pub seen: usize,
    /// Seconds already spent in the current epoch.
    pub elapsed: f64,
    /// The completed epochs' figures.
    pub history: Vec<EpochRow>,
}

fn finite(v: Option<f64>) -> Option<f64> {
    v.filter(|x| x.is_finite())
}

fn count(v: &Value) -> Option<usize> {
    usize::try_from(v.as_u64()?).ok()
}

impl EpochRow {
    fn to_json(&self) -> Value {
        json!({"epoch": self.epoch, "train_loss": self.train_loss, "train_accuracy": self.train_accuracy,
               "test_loss": self.test_loss, "test_accuracy": self.test_accuracy, "seconds": self.seconds})
    }

    fn from_json(v: &Value) -> Option<EpochRow> {
        let optional = |k: &str| match &v[k] {
            Value::Null => Some(None),
            x => finite(x.as_f64()).map(Some),
        };
        let fraction = |x: f64| (0.0..=1.0).contains(&x).then_some(x);
        Some(EpochRow {
            epoch: count(&v["epoch"]).filter(|&e| e >= 1)?,
            train_loss: finite(v["train_loss"].as_f64())?,
            train_accuracy: fraction(v["train_accuracy"].as_f64()?)?,
            test_loss: optional("test_loss")?,
            test_accuracy: match optional("test_accuracy")? {
                Some(a) => Some(fraction(a)?),
                None => None,
            },
            seconds: finite(v["seconds"].as_f64()).filter(|&s| s >= 0.0)?,
        })
    }
}

impl Progress {
    fn to_json(&self) -> Value {
        json!({
            "epoch": self.epoch, "batch": self.batch, "loss_sum": self.loss_sum,
            "correct": self.correct, "seen": self.seen, "elapsed": self.elapsed,
            "history": self.history.iter().map(EpochRow::to_json).collect::<Vec<_>>(),
        })
    }

    /// Parses and checks a progress record: counts are counts, sums finite,
    /// `correct <= seen`, one history row per completed epoch, numbered 1, 2, ...
    fn from_json(v: &Value) -> Option<Progress> {
        let p = Progress {
            epoch: count(&v["epoch"])?,
            batch: count(&v["batch"])?,
            loss_sum: finite(v["loss_sum"].as_f64()).filter(|&l| l >= 0.0)?,
            correct: count(&v["correct"])?,
            seen: count(&v["seen"])?,
            elapsed: finite(v["elapsed"].as_f64()).filter(|&s| s >= 0.0)?,
            history: v["history"]
                .as_array()?
                .iter()
                .map(EpochRow::from_json)
                .collect::<Option<Vec<_>>>()?,
        };
        let numbered = p.history.iter().enumerate().all(|(i, r)| r.epoch == i + 1);
        (p.correct <= p.seen && p.history.len() == p.epoch && numbered).then_some(p)
    }
}

/// A saved training state: the model's `state_dict`, the optimizer's state,
/// the global generator (dropout masks), the run's [`Progress`], and the
/// caller's settings as JSON (the CLI keeps its command line there).
///
/// [`Checkpoint::save`] replaces the previous checkpoint in its folder all at
/// once; [`Checkpoint::load`] verifies every file against the checkpoint's
/// manifest and checks every value before anything is used.
pub struct Checkpoint {
    /// The folder it was read from.
    pub dir: PathBuf,
    /// The caller's settings, as saved.
    pub config: Value,
    /// Where the run stood.
    pub progress: Progress,
    model: NamedTensors,
    optimizer: OptimizerState,
    rng: Tensor,
}

const MODEL: &str = "model.safetensors";
const OPTIMIZER: &str = "optimizer.safetensors";
const STATE: &str = "state.json";

/// The largest checkpoint file read: a bound on memory, far above any model
/// this library trains on a CPU.
const MAX_FILE: u64 = 8 << 30;

impl Checkpoint {
    /// Saves a checkpoint into `dir`, replacing the one there (if any) only
    /// once the new one is complete on disk.
    pub fn save(
        dir: &Path,
        config: &Value,
        model: &dyn Module,
        optimizer: &dyn Optimizer,
        progress: &Progress,
    ) -> Result<()> {
        let weights = crate::io::safetensors_bytes(&model.state_dict(), &Default::default())?;
        let opt = optimizer.state().to_bytes()?;
        let rng: String = crate::get_rng_state()
            .to_vec::<u8>()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let state =
            json!({"config": config, "progress": progress.to_json(), "rng": rng}).to_string();
        crate::io::write_set(
            dir,
            &[
                (MODEL, &weights),
                (OPTIMIZER, &opt),
                (STATE, state.as_bytes()),
            ],
        )
    }

    /// True when `dir` holds a complete checkpoint.
    pub fn exists(dir: &Path) -> bool {
        crate::io::set_exists(dir)
    }

    /// Reads and checks the checkpoint in `dir`.
    ///
    /// # Errors
    /// No checkpoint, a file that does not match the manifest (a damaged or
    /// tampered checkpoint), or a value out of its domain, naming the file.
    pub fn load(dir: &Path) -> Result<Checkpoint> {
        let files = crate::io::read_set(dir, MAX_FILE)?;
        let file = |name: &str| {
            files
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, b)| b.as_slice())
                .ok_or_else(|| Error::Io {
                    path: dir.to_path_buf(),
                    message: format!("damaged checkpoint: no {name}"),
                })
        };
        let bad = |name: &str, what: &str| Error::Io {
            path: dir.join(name),
            message: format!("corrupt checkpoint ({what})"),
        };
        let state: Value =
            serde_json::from_slice(file(STATE)?).map_err(|e| bad(STATE, &e.to_string()))?;
        let progress =
            Progress::from_json(&state["progress"]).ok_or_else(|| bad(STATE, "bad progress"))?;
        let rng_hex = state["rng"].as_str().ok_or_else(|| bad(STATE, "bad rng"))?;
        let rng_bytes: Option<Vec<u8>> = (rng_hex.len() == 64)
            .then(|| {
                (0..32)
                    .map(|i| u8::from_str_radix(rng_hex.get(2 * i..2 * i + 2)?, 16).ok())
                    .collect()
            })
            .flatten();
        let rng = Tensor::from_vec(rng_bytes.ok_or_else(|| bad(STATE, "bad rng"))?, [32]);
        let (model, _) = crate::io::parse_safetensors(file(MODEL)?).map_err(|m| Error::Io {
            path: dir.join(MODEL),
            message: m,
        })?;
        let optimizer = OptimizerState::from_bytes(file(OPTIMIZER)?, &dir.join(OPTIMIZER))?;
        Ok(Checkpoint {
            dir: dir.to_path_buf(),
            config: state["config"].clone(),
            progress,
            model,
            optimizer,
            rng,
        })
    }

    /// Puts the saved weights into `model`, the saved state into `optimizer`
    /// and the saved generator state into the global generator.
    pub fn restore(&self, model: &dyn Module, optimizer: &mut dyn Optimizer) -> Result<()> {
        let in_file = |e: Error, name: &str| match e {
            Error::StateDict(msg) => {
                Error::StateDict(format!("{msg} (in {})", self.dir.join(name).display()))
            }
            other => other,
        };
        model
            .load_state_dict(&self.model)
            .map_err(|e| in_file(e, MODEL))?;
        optimizer
            .load_state(&self.optimizer)
            .map_err(|e| in_file(e, OPTIMIZER))?;
        crate::set_rng_state(&self.rng)
    }

    /// Removes the checkpoint in `dir` (once the run it belongs to is done).
    pub fn remove(dir: &Path) -> Result<()> {
        crate::io::remove_set(dir)
    }
}
