//! [`Trainer`]: the training loop of the CLI, as a library call.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;

use super::checkpoint::{Checkpoint, EpochRow, Progress};
use super::evaluate::{evaluate, EvalReport};
use super::tqdm::tqdm;
use crate::data::{DataLoader, Dataset};
use crate::error::{Error, Result};
use crate::nn::Module;
use crate::optim::Optimizer;
use crate::tensor::{DType, Tensor};

type LossFn<'a> = Box<dyn Fn(&Tensor, &Tensor) -> Result<Tensor> + 'a>;
type EpochFn<'a> = Box<dyn FnMut(&EpochRow) + 'a>;
type LrFn<'a> = Box<dyn Fn(usize) -> f64 + 'a>;
type AugmentFn<'a> = Box<dyn Fn(&Tensor, usize) -> Result<Tensor> + 'a>;

/// Trains a model for a number of epochs: forward, loss, backward, step for
/// every batch, with an optional progress bar, a test evaluation and a printed
/// line after each epoch, and a checkpoint when asked to stop (Ctrl-C) or after
/// every epoch. A run resumed from its checkpoint ends bit for bit where the
/// uninterrupted run ends: the batches of an epoch depend only on the loader's
/// seed and the epoch, and the checkpoint holds everything else.
///
/// ```
/// use std::sync::Arc;
/// use kindling::data::{DataLoader, TensorDataset};
/// use kindling::nn::{Linear, Module};
/// use kindling::optim::SGD;
/// use kindling::train::Trainer;
/// use kindling::Tensor;
///
/// kindling::manual_seed(0);
/// let x = Tensor::randn([64, 2]);
/// let y = x.select(1, 0).gt_scalar(0.0).to_dtype(kindling::DType::I64); // class = sign of x₀
/// let data = Arc::new(TensorDataset::new(x, &y)?);
/// let loader = DataLoader::new(data, 16).shuffle(true);
/// let model = Linear::new(2, 2);
/// let mut opt = SGD::new(model.parameters(), 0.5);
/// let fit = Trainer::new(&model, &mut opt).epochs(20).fit(&loader)?;
/// assert_eq!(fit.history.len(), 20);
/// assert!(fit.history[19].train_accuracy > 0.9);
/// # Ok::<(), kindling::Error>(())
/// ```
pub struct Trainer<'a> {
    model: &'a dyn Module,
    optimizer: &'a mut dyn Optimizer,
    epochs: usize,
    lr_at: Option<LrFn<'a>>,
    lr_at_step: Option<LrFn<'a>>,
    augment: Option<AugmentFn<'a>>,
    loss: Option<LossFn<'a>>,
    test: Option<(Arc<dyn Dataset>, usize)>,
    eval_batch: usize,
    checkpoint: Option<(PathBuf, Value)>,
    checkpoint_every_epoch: bool,
    stop: Option<&'a AtomicBool>,
    progress_bar: bool,
    print_epochs: bool,
    on_epoch: Option<EpochFn<'a>>,
    progress: Progress,
}

/// What [`Trainer::fit`] did.
#[derive(Debug)]
pub struct Fit {
    /// Every completed epoch's figures, including those before a resume.
    pub history: Vec<EpochRow>,
    /// The test evaluation after the last epoch this call trained.
    pub last_eval: Option<EvalReport>,
    /// True when training stopped early because the stop flag was raised.
    pub interrupted: bool,
    /// Where the checkpoint of an interrupted run was saved.
    pub checkpoint: Option<PathBuf>,
}

impl<'a> Trainer<'a> {
    /// Trains `model` with `optimizer` (over the model's parameters) for one
    /// epoch with cross-entropy, silently; the methods below change that.
    pub fn new(model: &'a dyn Module, optimizer: &'a mut dyn Optimizer) -> Trainer<'a> {
        Trainer {
            model,
            optimizer,
            epochs: 1,
            lr_at: None,
            lr_at_step: None,
            augment: None,
            loss: None,
            test: None,
            eval_batch: 1000,
            checkpoint: None,
            checkpoint_every_epoch: false,
            stop: None,
            progress_bar: false,
            print_epochs: false,
            on_epoch: None,
            progress: Progress::default(),
        }
    }

    /// The number of passes over the training set.
    pub fn epochs(mut self, epochs: usize) -> Self {
        self.epochs = epochs;
        self
    }

    /// The learning rate of each epoch (0-based), set before it starts.
    pub fn lr_schedule(mut self, lr_at: impl Fn(usize) -> f64 + 'a) -> Self {
        self.lr_at = Some(Box::new(lr_at));
        self
    }

    /// The learning rate of each step, by its number counted from the start
    /// of the run (0-based; epoch `e`'s batch `b` is step `e · len(loader) +
    /// b`), set before the step: a schedule stepped once per batch, as
    /// PyTorch's `OneCycleLR` is (see [`OneCycleLR::lr_at`](crate::optim::OneCycleLR::lr_at)).
    /// Takes the place of [`lr_schedule`](Trainer::lr_schedule).
    pub fn lr_schedule_per_step(mut self, lr_at: impl Fn(usize) -> f64 + 'a) -> Self {
        self.lr_at_step = Some(Box::new(lr_at));
        self
    }

    /// Changes each training batch's input before the forward pass:
    /// `augment(input, step)`, with the step numbered as in
    /// [`lr_schedule_per_step`](Trainer::lr_schedule_per_step), so that a
    /// random augmentation drawn from the step's own seed is the same on a
    /// resumed run and at any thread count.
    pub fn augment(mut self, augment: impl Fn(&Tensor, usize) -> Result<Tensor> + 'a) -> Self {
        self.augment = Some(Box::new(augment));
        self
    }

    /// The loss of a batch, `loss(output, target)` (default: cross-entropy).
    pub fn loss(mut self, loss: impl Fn(&Tensor, &Tensor) -> Result<Tensor> + 'a) -> Self {
        self.loss = Some(Box::new(loss));
        self
    }

    /// Evaluates on `dataset` (with `classes` classes) after every epoch.
    pub fn evaluate_on(mut self, dataset: Arc<dyn Dataset>, classes: usize) -> Self {
        self.test = Some((dataset, classes));
        self
    }

    /// The batch size of that evaluation (default 1000).
    pub fn eval_batch_size(mut self, batch_size: usize) -> Self {
        self.eval_batch = batch_size.max(1);
        self
    }

    /// Saves checkpoints into `dir` (with `config`, the caller's settings, kept
    /// in them): when stopped, and after every epoch if
    /// [`Trainer::checkpoint_every_epoch`] is set.
    pub fn checkpoint(mut self, dir: impl Into<PathBuf>, config: Value) -> Self {
        self.checkpoint = Some((dir.into(), config));
        self
    }

    /// Also saves a checkpoint after every epoch, so that a crash or a full disk
    /// later loses at most the epoch in progress.
    pub fn checkpoint_every_epoch(mut self, every: bool) -> Self {
        self.checkpoint_every_epoch = every;
        self
    }

    /// Stops after the current step once `flag` is raised (a Ctrl-C handler
    /// sets it), saving a checkpoint when one is configured.
    pub fn stop_when(mut self, flag: &'a AtomicBool) -> Self {
        self.stop = Some(flag);
        self
    }

    /// Shows a [`tqdm`] bar for each epoch (on a terminal; nothing in logs).
    pub fn progress_bar(mut self, show: bool) -> Self {
        self.progress_bar = show;
        self
    }

    /// Prints one line per epoch: `epoch  1/5  loss 0.3898  acc 89.10%  test
    /// loss 0.3083  test acc 91.30%  0.1s`.
    pub fn print_epochs(mut self, print: bool) -> Self {
        self.print_epochs = print;
        self
    }

    /// Called with each epoch's figures when it ends.
    pub fn on_epoch(mut self, f: impl FnMut(&EpochRow) + 'a) -> Self {
        self.on_epoch = Some(Box::new(f));
        self
    }

    /// Continues from `checkpoint`: restores the model, the optimizer and the
    /// generator, and starts where the checkpoint's run stood.
    pub fn resume(mut self, checkpoint: &Checkpoint) -> Result<Self> {
        checkpoint.restore(self.model, self.optimizer)?;
        self.progress = checkpoint.progress.clone();
        Ok(self)
    }

    fn stopped(&self) -> bool {
        self.stop.is_some_and(|f| f.load(Ordering::Relaxed))
    }

    fn save(&self) -> Result<Option<PathBuf>> {
        match &self.checkpoint {
            Some((dir, config)) => {
                Checkpoint::save(dir, config, self.model, &*self.optimizer, &self.progress)?;
                Ok(Some(dir.clone()))
            }
            None => Ok(None),
        }
    }

    fn interrupted(&self) -> Result<Fit> {
        Ok(Fit {
            history: self.progress.history.clone(),
            last_eval: None,
            interrupted: true,
            checkpoint: self.save()?,
        })
    }

    /// Runs the remaining epochs over `loader`.
    ///
    /// # Errors
    /// A batch that fails to load, a `forward` or loss that fails, an optimizer
    /// error, a checkpoint that cannot be written, or a resumed position that
    /// does not fit this run (more epochs or batches than it has).
    pub fn fit<D: Dataset + ?Sized + 'static>(&mut self, loader: &DataLoader<D>) -> Result<Fit> {
        let batches = loader.len();
        let p = &self.progress;
        if p.epoch > self.epochs || p.batch > batches || (p.batch == batches && batches > 0) {
            return Err(Error::Value(format!(
                "the run to resume stands at epoch {}, batch {}, which does not fit {} epochs of {batches} batches",
                p.epoch + 1,
                p.batch,
                self.epochs
            )));
        }
        let mut last_eval = None;
        while self.progress.epoch < self.epochs {
            let epoch = self.progress.epoch;
            if let Some(lr_at) = &self.lr_at {
                self.optimizer.set_lr(lr_at(epoch));
            }
            let bar = tqdm(loader.iter_epoch_from(epoch as u64, self.progress.batch))
                .desc(format!("epoch {:>2}/{}", epoch + 1, self.epochs))
                .total(batches)
                .initial(self.progress.batch)
                .leave(false)
                .disable(!self.progress_bar);
            let start = Instant::now();
            let base_elapsed = self.progress.elapsed;
            let seen_before = self.progress.seen; // of this epoch, before a resume
            for batch in &bar {
                let (x, y) = batch?;
                let step = epoch * batches + self.progress.batch;
                if let Some(lr_at) = &self.lr_at_step {
                    self.optimizer.set_lr(lr_at(step));
                }
                let x = match &self.augment {
                    Some(f) => f(&x, step)?,
                    None => x,
                };
                let output = self.model.forward(&x)?;
                let loss = match &self.loss {
                    Some(f) => f(&output, &y)?,
                    None => crate::nn::functional::cross_entropy(&output, &y)?,
                };
                self.optimizer.zero_grad();
                loss.try_backward(None)?;
                self.optimizer.step()?;
                let p = &mut self.progress;
                let n = y.shape().first().copied().unwrap_or(1);
                p.loss_sum += loss.item().to_f64() * n as f64;
                if output.dim() == 2 && y.dtype() == DType::I64 && y.dim() == 1 {
                    p.correct +=
                        crate::no_grad(|| output.argmax(1).eq(&y).sum().item().to_i64()) as usize;
                }
                p.seen += n;
                p.batch += 1;
                if p.batch.is_multiple_of(16) || p.batch == batches {
                    let secs = start.elapsed().as_secs_f64().max(1e-9);
                    bar.set_postfix_str(format!(
                        "loss {:.4}  acc {:.2}%  {:.0} samples/s",
                        p.loss_sum / p.seen as f64,
                        100.0 * p.correct as f64 / p.seen as f64,
                        (p.seen - seen_before) as f64 / secs
                    ));
                }
                let stop = self.stop;
                crate::io::test_hook_until(
                    &format!("train:epoch {} batch {}", epoch + 1, p.batch),
                    || stop.is_some_and(|f| f.load(Ordering::Relaxed)),
                );
                if self.stopped() {
                    bar.close();
                    self.progress.elapsed = base_elapsed + start.elapsed().as_secs_f64();
                    return self.interrupted();
                }
            }
            bar.close();
            let seconds = base_elapsed + start.elapsed().as_secs_f64();
            let report = match &self.test {
                Some((data, classes)) => Some(evaluate(
                    self.model,
                    data.clone(),
                    *classes,
                    self.eval_batch,
                )?),
                None => None,
            };
            let p = &self.progress;
            let row = EpochRow {
                epoch: epoch + 1,
                train_loss: p.loss_sum / p.seen.max(1) as f64,
                train_accuracy: p.correct as f64 / p.seen.max(1) as f64,
                test_loss: report.as_ref().map(|r| r.loss),
                test_accuracy: report.as_ref().map(|r| r.accuracy),
                seconds,
            };
            if self.print_epochs {
                println!("{}", epoch_line(&row, self.epochs));
            }
            if let Some(f) = &mut self.on_epoch {
                f(&row);
            }
            let mut history = std::mem::take(&mut self.progress.history);
            history.push(row);
            self.progress = Progress {
                epoch: epoch + 1,
                history,
                ..Progress::default()
            };
            last_eval = report;
            if self.stopped() && self.progress.epoch < self.epochs {
                return self.interrupted();
            }
            if self.checkpoint_every_epoch {
                self.save()?;
            }
        }
        Ok(Fit {
            history: self.progress.history.clone(),
            last_eval,
            interrupted: false,
            checkpoint: None,
        })
    }
}

/// The fixed-width line printed after each epoch.
pub fn epoch_line(row: &EpochRow, epochs: usize) -> String {
    let mut line = format!(
        "epoch {:>2}/{epochs}  loss {:.4}  acc {:.2}%",
        row.epoch,
        row.train_loss,
        row.train_accuracy * 100.0
    );
    if let (Some(l), Some(a)) = (row.test_loss, row.test_accuracy) {
        line += &format!("  test loss {l:.4}  test acc {:.2}%", a * 100.0);
    }
    line + &format!("  {:.1}s", row.seconds)
}
