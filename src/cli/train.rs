//! `kindling train`: the training loop with progress, per-epoch test scores,
//! checkpoints on Ctrl-C, and the run's files (weights, metrics, pictures).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use clap::{Args, ValueEnum};
use kindling::data::transforms::random_translate;
use kindling::data::DataLoader;
use kindling::io::write_atomic;
use kindling::nn::models::Arch;
use kindling::nn::Module;
use kindling::optim::{
    Adadelta, Adagrad, Adam, AdamW, CosineAnnealingLR, LrScheduler, OneCycleLR, Optimizer, RMSprop,
    StepLR, SGD,
};
use kindling::plot::{
    confusion_matrix, image_grid, line_chart, Canvas, Colormap, Legend, Series, BLUE, ORANGE, WHITE,
};
use kindling::train::{Checkpoint, EpochRow, Trainer};
use serde_json::{json, Value};

use super::{fail, open_dataset, DataSource, DatasetName, Failure, Input, Split};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OptimizerName {
    Sgd,
    Adam,
    Adamw,
    /// pytorch/examples' choice for its MNIST network (lr 1.0)
    Adadelta,
    /// PyTorch's defaults (lr 0.01)
    Rmsprop,
    /// PyTorch's defaults (lr 0.01)
    Adagrad,
}

/// How the learning rate changes from epoch to epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ScheduleName {
    /// Constant
    None,
    /// Cosine annealing to 0 over the run (PyTorch's CosineAnnealingLR, stepped per epoch)
    Cosine,
    /// Halve every 3 epochs (PyTorch's StepLR(step_size=3, gamma=0.5))
    Step,
    /// Up to --lr and down again over the run (PyTorch's OneCycleLR, stepped per batch)
    Onecycle,
}

#[derive(Args)]
pub struct TrainArgs {
    /// Architecture: linear (the lecture's), threeblue (784-16-16-10 sigmoid), mlp (784-128-64-10 ReLU), cnn (pytorch/examples' MNIST network), cnn-bn (the same with BatchNorm2d after each convolution)
    #[arg(long, default_value = "linear")]
    model: String,
    /// Optimizer (default: adam for cnn and cnn-bn, sgd for the others)
    #[arg(long, value_enum)]
    optimizer: Option<OptimizerName>,
    /// Learning rate (default SGD: 0.3 linear, 1.0 threeblue, 0.1 mlp, 0.05 cnn and cnn-bn; Adam/AdamW: 0.003 cnn and cnn-bn, 0.001 the others; Adadelta: 1.0; RMSprop, Adagrad: 0.01)
    #[arg(long)]
    lr: Option<f64>,
    /// SGD momentum (default: 0.9 for cnn and cnn-bn, 0 for the others)
    #[arg(long)]
    momentum: Option<f64>,
    /// Learning-rate schedule over the run (default: onecycle for cnn and cnn-bn, cosine for the others)
    #[arg(long, value_enum)]
    schedule: Option<ScheduleName>,
    /// Shift each training image by up to this fraction of its size, a new
    /// random shift each time it is seen (torchvision's RandomAffine(0,
    /// translate=(F, F))); default: 0.08 for cnn and cnn-bn, 0 for the others
    #[arg(long, value_name = "F")]
    translate: Option<f64>,
    /// Passes over the training set
    #[arg(long, default_value_t = 5)]
    epochs: usize,
    /// Samples per step
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    /// Seed for the initial weights and the shuffling
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Dataset
    #[arg(long, value_enum, default_value = "mnist")]
    dataset: DatasetName,
    #[command(flatten)]
    source: DataSource,
    /// Folder for the run's files (default: runs/<model>)
    #[arg(long)]
    out: Option<PathBuf>,
    /// Threads for the matrix products and optimizer updates (default: the
    /// cores available); the numbers are the same for every count
    #[arg(long, default_value_t = super::default_threads())]
    threads: usize,
    /// Continue the interrupted run in this folder (its settings are used)
    #[arg(long)]
    resume: Option<PathBuf>,
    /// Start from these weights instead of the seed's initialisation: a .pth
    /// (torch.save of the model's state_dict()) or .safetensors file with the
    /// architecture's keys, from PyTorch or an earlier run
    #[arg(long, value_name = "WEIGHTS", conflicts_with = "resume")]
    init: Option<PathBuf>,
    /// Print one JSON object with the results instead of the summary
    #[arg(long)]
    json: bool,
}

/// Everything that determines a run's numbers.
#[derive(Clone, Debug)]
struct Config {
    arch: Arch,
    optimizer: OptimizerName,
    lr: f64,
    momentum: f64,
    schedule: ScheduleName,
    /// The largest random shift of a training image, as a fraction of its size.
    translate: f64,
    epochs: usize,
    batch_size: usize,
    seed: u64,
    dataset: DatasetName,
    threads: usize,
    /// What the model is fed (NOTE(normalize)).
    input: Input,
}

/// The largest learning rate accepted: far above any that trains (SGD on these
/// models diverges from about 10), low enough that a typo is caught.
const MAX_LR: f64 = 1e4;
/// The most threads accepted; more only costs start-up time.
const MAX_THREADS: usize = 256;
/// The most epochs and the largest batch accepted (a bound on a typo, and on
/// what a resumed `state.json` may claim).
const MAX_EPOCHS: usize = 1_000_000;
const MAX_BATCH: usize = 1 << 20;

impl Config {
    fn from_args(a: &TrainArgs) -> Result<Config, Failure> {
        let arch: Arch = a.model.parse()?;
        // NOTE(cnn-recipe): the convolutional models train with Adam, a
        // one-cycle schedule peaking at 0.003 and random shifts of up to 8%
        // of the image: 99.2% and more after 3 epochs, where SGD with
        // momentum and a cosine schedule stays near 98.9% (BENCHMARKS.md).
        let conv = arch.is_convolutional();
        let optimizer = a.optimizer.unwrap_or(if conv {
            OptimizerName::Adam
        } else {
            OptimizerName::Sgd
        });
        let lr = a.lr.unwrap_or(match (optimizer, arch) {
            (OptimizerName::Sgd, Arch::Linear) => 0.3,
            (OptimizerName::Sgd, Arch::ThreeBlue) => 1.0,
            (OptimizerName::Sgd, Arch::Mlp) => 0.1,
            (OptimizerName::Sgd, Arch::Cnn | Arch::CnnBn) => 0.05,
            (OptimizerName::Adadelta, _) => 1.0,
            (OptimizerName::Rmsprop | OptimizerName::Adagrad, _) => 0.01,
            (OptimizerName::Adam | OptimizerName::Adamw, Arch::Cnn | Arch::CnnBn) => 0.003,
            _ => 0.001,
        });
        Config {
            arch,
            optimizer,
            lr,
            momentum: a
                .momentum
                .unwrap_or(if arch.is_convolutional() { 0.9 } else { 0.0 }),
            schedule: a.schedule.unwrap_or(if conv {
                ScheduleName::Onecycle
            } else {
                ScheduleName::Cosine
            }),
            translate: a.translate.unwrap_or(if conv { 0.08 } else { 0.0 }),
            epochs: a.epochs,
            batch_size: a.batch_size,
            seed: a.seed,
            dataset: a.dataset,
            threads: a.threads,
            // NOTE(normalize): the convolutional models are fed normalized
            // images, `Normalize(mean, std)` of the dataset after `ToTensor`,
            // as pytorch/examples trains its MNIST network (3 epochs: 99.2%
            // and more, against about 98.9% on ToTensor's 0..1 alone); the
            // fully connected ones keep the lecture's 0..1. The pair is
            // recorded with the run, and `eval` and `predict` apply it.
            input: if arch.is_convolutional() {
                Input::Normalized(a.dataset.mean_std())
            } else {
                Input::ToTensor
            },
        }
        .checked()
    }

    /// The same checks for settings from the command line and from a checkpoint.
    fn checked(self) -> Result<Config, Failure> {
        if !(self.lr > 0.0 && self.lr <= MAX_LR) {
            return Err(fail(format!(
                "--lr must be a positive number at most {MAX_LR}, got {}",
                self.lr
            )));
        }
        if !(self.momentum >= 0.0 && self.momentum.is_finite()) {
            return Err(fail(format!(
                "--momentum must be a number >= 0, got {}",
                self.momentum
            )));
        }
        if !(0.0..=1.0).contains(&self.translate) {
            return Err(fail(format!(
                "--translate must be a fraction between 0 and 1 (torchvision's bounds), got {}",
                self.translate
            )));
        }
        if self.epochs == 0 || self.batch_size == 0 || self.threads == 0 {
            return Err(fail(
                "--epochs, --batch-size and --threads must be at least 1",
            ));
        }
        if self.epochs > MAX_EPOCHS || self.batch_size > MAX_BATCH {
            return Err(fail(format!(
                "--epochs must be at most {MAX_EPOCHS} and --batch-size at most {MAX_BATCH}"
            )));
        }
        if self.threads > MAX_THREADS {
            return Err(fail(format!(
                "--threads must be at most {MAX_THREADS}, got {}",
                self.threads
            )));
        }
        Ok(self)
    }

    fn to_json(&self) -> Value {
        json!({
            "arch": self.arch.name(),
            "optimizer": format!("{:?}", self.optimizer).to_lowercase(),
            "lr": self.lr,
            "momentum": self.momentum,
            "schedule": format!("{:?}", self.schedule).to_lowercase(),
            "translate": self.translate,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "seed": self.seed,
            "dataset": self.dataset.name(),
            "threads": self.threads,
            "normalize": match self.input {
                Input::Normalized(pair) => json!(pair),
                _ => Value::Null,
            },
        })
    }

    /// The settings saved in a checkpoint, checked as the command line's are.
    fn from_json(v: &Value) -> Result<Config, Failure> {
        let parsed = (|| {
            Some(Config {
                arch: v["arch"].as_str()?.parse().ok()?,
                optimizer: OptimizerName::from_str(v["optimizer"].as_str()?, true).ok()?,
                lr: v["lr"].as_f64()?,
                momentum: v["momentum"].as_f64()?,
                schedule: ScheduleName::from_str(v["schedule"].as_str()?, true).ok()?,
                // Runs from before the option had no shifts.
                translate: match &v["translate"] {
                    Value::Null => 0.0,
                    t => t.as_f64()?,
                },
                epochs: usize::try_from(v["epochs"].as_u64()?).ok()?,
                batch_size: usize::try_from(v["batch_size"].as_u64()?).ok()?,
                seed: v["seed"].as_u64()?,
                dataset: DatasetName::parse(v["dataset"].as_str()?)?,
                threads: usize::try_from(v["threads"].as_u64()?).ok()?,
                input: Input::of_run(Some(v)).ok()?,
            })
        })();
        let config = parsed.ok_or_else(|| fail("corrupt checkpoint (bad settings)"))?;
        config
            .checked()
            .map_err(|f| fail(format!("corrupt checkpoint (settings: {})", f.message)))
    }

    /// The learning rate of step `step` (0-based, counted over the run) of
    /// a run with `batches` batches per epoch, in closed form.
    #[cfg(test)]
    fn lr_at_step(&self, step: usize, batches: usize) -> f64 {
        match self.one_cycle(batches) {
            Some(cycle) => cycle.lr_at(step),
            None => self.epoch_lr(step / batches.max(1)),
        }
    }

    /// The one-cycle schedule over the run, for `--schedule onecycle`.
    fn one_cycle(&self, batches: usize) -> Option<OneCycleLR> {
        let mut opt = SGD::new(Vec::new(), self.lr);
        (self.schedule == ScheduleName::Onecycle)
            .then(|| OneCycleLR::new(&mut opt, self.lr, self.epochs * batches))
    }

    /// The learning rate of epoch `epoch` (0-based) of a schedule stepped
    /// per epoch, in closed form.
    fn epoch_lr(&self, epoch: usize) -> f64 {
        let mut opt = SGD::new(Vec::new(), self.lr);
        let mut sched: Box<dyn LrScheduler> = match self.schedule {
            // Onecycle is stepped per batch (lr_at_step).
            ScheduleName::None | ScheduleName::Onecycle => return self.lr,
            ScheduleName::Cosine => Box::new(CosineAnnealingLR::new(&opt, self.epochs, 0.0)),
            ScheduleName::Step => Box::new(StepLR::new(&opt, 3, 0.5)),
        };
        for _ in 0..epoch {
            let _ = sched.step(&mut opt);
        }
        opt.lr()
    }

    fn optimizer(&self, params: Vec<kindling::Tensor>) -> Box<dyn Optimizer> {
        match self.optimizer {
            OptimizerName::Sgd => Box::new(SGD::new(params, self.lr).momentum(self.momentum)),
            OptimizerName::Adam => Box::new(Adam::new(params, self.lr)),
            OptimizerName::Adamw => Box::new(AdamW::new(params, self.lr)),
            OptimizerName::Adadelta => Box::new(Adadelta::new(params, self.lr)),
            OptimizerName::Rmsprop => Box::new(RMSprop::new(params, self.lr)),
            OptimizerName::Adagrad => Box::new(Adagrad::new(params, self.lr)),
        }
    }
}

const CHECKPOINT: &str = "checkpoint";

fn io_fail(path: &Path, e: impl std::fmt::Display) -> Failure {
    fail(format!("{}: {e}", path.display()))
}

pub fn run(args: TrainArgs) -> Result<(), Failure> {
    let (config, out, resumed) = match &args.resume {
        Some(dir) => {
            let ck_dir = dir.join(CHECKPOINT);
            if !Checkpoint::exists(&ck_dir) {
                return Err(io_fail(
                    dir,
                    "no checkpoint to resume (--resume takes the folder of an interrupted run)",
                ));
            }
            let ck = Checkpoint::load(&ck_dir)?;
            (Config::from_json(&ck.config)?, dir.clone(), Some(ck))
        }
        None => {
            let config = Config::from_args(&args)?;
            let out = args
                .out
                .clone()
                .unwrap_or_else(|| PathBuf::from("runs").join(config.arch.name()));
            (config, out, None)
        }
    };
    // Refuse an unwritable output folder before spending time on training.
    let created = !out.exists();
    std::fs::create_dir_all(&out)
        .map_err(|e| io_fail(&out, format!("cannot create the output folder ({e})")))?;
    let probe = out.join(format!(".kindling-write-test-{}", std::process::id()));
    std::fs::write(&probe, b"")
        .map_err(|e| io_fail(&out, format!("cannot write in the output folder ({e})")))?;
    let _ = std::fs::remove_file(&probe);
    let result = (|| {
        // One run per folder: a second `train --out` on it refuses.
        let _lock = kindling::io::DirLock::acquire(&out)?;
        kindling::with_threads(config.threads, || train_loop(&args, &config, &out, resumed))
    })();
    if result.is_err() && created {
        // A run that failed before writing anything leaves no empty folder.
        let _ = std::fs::remove_dir(&out);
    }
    result
}

fn train_loop(
    args: &TrainArgs,
    config: &Config,
    out: &Path,
    resumed: Option<Checkpoint>,
) -> Result<(), Failure> {
    let train = Arc::new(open_dataset(
        config.dataset,
        Split::Train,
        &args.source,
        config.input,
    )?);
    let test = Arc::new(open_dataset(
        config.dataset,
        Split::Test,
        &args.source,
        config.input,
    )?);
    let classes = train.classes.clone();

    kindling::manual_seed(config.seed);
    let model = config.arch.build();
    if let Some(init) = &args.init {
        model.load(init)?;
    }
    let mut opt = config.optimizer(model.parameters());
    let interrupted = Arc::new(AtomicBool::new(false));
    let _ = signal_hook::flag::register(signal_hook::consts::SIGINT, interrupted.clone());
    let loader = DataLoader::new(train.clone(), config.batch_size)
        .shuffle(true)
        .seed(config.seed);
    let batches = loader.len();
    // What a black pixel is once fed: where a shifted image's border comes from.
    let fill = match config.input {
        Input::Normalized([mean, std]) => f64::from((0.0 - mean as f32) / std as f32),
        _ => 0.0,
    };
    let human = !args.json;
    let tty = std::io::stdout().is_terminal() && human;
    let ck_dir = out.join(CHECKPOINT);

    let mut trainer = Trainer::new(&model, opt.as_mut())
        .epochs(config.epochs)
        .evaluate_on(test.clone(), classes.len())
        .eval_batch_size(config.arch.eval_batch_size())
        .checkpoint(&ck_dir, config.to_json())
        .checkpoint_every_epoch(true)
        .stop_when(&interrupted)
        .progress_bar(tty)
        .print_epochs(human);
    trainer = match config.one_cycle(batches) {
        Some(cycle) => trainer.lr_schedule_per_step(move |step| cycle.lr_at(step)),
        None => trainer.lr_schedule(|epoch| config.epoch_lr(epoch)),
    };
    if config.translate > 0.0 {
        let t = config.translate;
        // Each step's shifts come from its own seed: the same on a resumed
        // run and at every thread count.
        trainer = trainer.augment(move |x, step| {
            let seed = config.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ step as u64;
            random_translate(x, (t, t), fill, &mut kindling::Generator::new(seed))
        });
    }
    if let Some(ck) = &resumed {
        trainer = trainer.resume(ck)?;
        if human && ck.progress.epoch >= config.epochs {
            println!(
                "resuming {}: the training is done, writing its files",
                out.display()
            );
        } else if human {
            println!(
                "resuming {} at epoch {}, batch {}",
                out.display(),
                ck.progress.epoch + 1,
                ck.progress.batch
            );
        }
    }
    let fit = trainer.fit(&loader)?;
    if fit.interrupted {
        return Err(Failure {
            message: format!(
                "interrupted: checkpoint saved in {}; continue with: kindling train --resume {}",
                ck_dir.display(),
                out.display()
            ),
            code: 130,
        });
    }
    let report = match fit.last_eval {
        Some(r) => r,
        None => kindling::train::evaluate(
            &model,
            test.clone(),
            classes.len(),
            config.arch.eval_batch_size(),
        )?,
    };
    let files = write_outputs(out, config, &model, &fit.history, &report, &test, &classes)?;
    Checkpoint::remove(&ck_dir)?;
    if args.json {
        let result = json!({
            "model": config.arch.name(), "config": config.to_json(), "out": out.display().to_string(),
            "epochs": fit.history.iter().map(row_json).collect::<Vec<_>>(),
            "test_accuracy": report.accuracy, "test_loss": report.loss,
            "files": files.iter().map(|f| f.display().to_string()).collect::<Vec<_>>(),
        });
        println!("{result}");
    } else {
        println!(
            "test accuracy {:.2}% ({} of {} test images)",
            report.accuracy * 100.0,
            (report.accuracy * report.count as f64).round(),
            report.count
        );
        println!(
            "wrote {}",
            files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(())
}

fn row_json(r: &EpochRow) -> Value {
    json!({"epoch": r.epoch, "train_loss": r.train_loss, "train_accuracy": r.train_accuracy,
           "test_loss": r.test_loss, "test_accuracy": r.test_accuracy, "seconds": r.seconds})
}

#[allow(clippy::too_many_arguments)]
fn write_outputs(
    out: &Path,
    config: &Config,
    model: &dyn Module,
    rows: &[EpochRow],
    report: &kindling::train::EvalReport,
    test: &kindling::vision::VisionDataset,
    classes: &[String],
) -> Result<Vec<PathBuf>, Failure> {
    // NOTE(run-files): each file is written under a temporary name and renamed,
    // and `model.json` goes last, naming the other five with their MD5
    // digests: a run stopped half way through these writes leaves files that
    // disagree with the model.json beside them, which `eval` and `predict`
    // detect, and its checkpoint, which `--resume` finishes from.
    let weights = out.join("model.safetensors");
    model.save(&weights)?;
    kindling::io::test_hook("run:wrote model.safetensors");
    let sidecar = out.join("model.json");

    let test_loss = |r: &EpochRow| r.test_loss.unwrap_or(f64::NAN);
    let test_acc = |r: &EpochRow| r.test_accuracy.unwrap_or(f64::NAN);
    let mut csv = String::from("epoch,train_loss,train_accuracy,test_loss,test_accuracy,seconds\n");
    for r in rows {
        csv += &format!(
            "{},{:.6},{:.6},{:.6},{:.6},{:.3}\n",
            r.epoch,
            r.train_loss,
            r.train_accuracy,
            test_loss(r),
            test_acc(r),
            r.seconds
        );
    }
    let metrics = out.join("metrics.csv");
    write_atomic(&metrics, csv.as_bytes())?;

    let mut curves = Canvas::new(960, 400, WHITE);
    let (tl, vl): (Vec<f64>, Vec<f64>) = rows.iter().map(|r| (r.train_loss, test_loss(r))).unzip();
    let (ta, va): (Vec<f64>, Vec<f64>) = rows
        .iter()
        .map(|r| (r.train_accuracy * 100.0, test_acc(r) * 100.0))
        .unzip();
    let title = format!("{} on {}", config.arch.name(), config.dataset.name());
    line_chart(
        &mut curves,
        (0, 0, 480, 400),
        &format!("{title}: loss"),
        "cross-entropy",
        &[
            Series {
                label: "train",
                values: &tl,
                color: BLUE,
            },
            Series {
                label: "test",
                values: &vl,
                color: ORANGE,
            },
        ],
        Legend::UpperRight,
    );
    line_chart(
        &mut curves,
        (480, 0, 480, 400),
        &format!("{title}: accuracy"),
        "accuracy (%)",
        &[
            Series {
                label: "train",
                values: &ta,
                color: BLUE,
            },
            Series {
                label: "test",
                values: &va,
                color: ORANGE,
            },
        ],
        Legend::LowerRight,
    );
    let curves_path = out.join("curves.png");
    curves.save_png(&curves_path)?;

    let short: Vec<String> = classes
        .iter()
        .map(|c| super::short_class(c).to_string())
        .collect();
    let confusion_path = out.join("confusion.png");
    confusion_matrix(
        &report.confusion,
        &short,
        &format!(
            "{title}: test confusion matrix ({:.2}% correct)",
            report.accuracy * 100.0
        ),
    )
    .save_png(&confusion_path)?;

    let wrong: Vec<usize> = (0..report.count)
        .filter(|&i| report.predictions[i] != report.targets[i])
        .take(40)
        .collect();
    let images: Vec<Vec<f32>> = wrong
        .iter()
        .map(|&i| test.data.i(i).to_vec::<f32>())
        .collect();
    let captions: Vec<String> = wrong
        .iter()
        .map(|&i| {
            format!(
                "{} as {}",
                short[report.targets[i] as usize], short[report.predictions[i] as usize]
            )
        })
        .collect();
    let mistakes_path = out.join("mistakes.png");
    let cmap = Colormap::by_name("gray")?;
    image_grid(
        &images,
        28,
        28,
        &captions,
        10,
        &cmap,
        3,
        &format!(
            "{title}: first {} misclassified test images (true as predicted)",
            wrong.len()
        ),
    )
    .save_png(&mistakes_path)?;
    let mut meta = config.to_json();
    meta["test_accuracy"] = json!(report.accuracy);
    meta["test_loss"] = json!(report.loss);
    meta["kindling"] = json!(env!("CARGO_PKG_VERSION"));
    meta["pytorch_module"] = json!(format!("{}", model_printout(config.arch)));
    let mut files = serde_json::Map::new();
    for f in [
        &weights,
        &metrics,
        &curves_path,
        &confusion_path,
        &mistakes_path,
    ] {
        let name = f
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        files.insert(name, json!(super::file_md5(f)?));
    }
    meta["files"] = Value::Object(files);
    write_atomic(
        &sidecar,
        serde_json::to_string_pretty(&meta)
            .unwrap_or_default()
            .as_bytes(),
    )?;
    Ok(vec![
        weights,
        sidecar,
        metrics,
        curves_path,
        confusion_path,
        mistakes_path,
    ])
}

fn model_printout(arch: Arch) -> String {
    kindling::manual_seed(0);
    arch.build().to_string()
}

/// Fuzzing the command's own readers (NOTE(fuzzing)): a run's `model.json`,
/// read by `eval` and `predict`, and the settings in a checkpoint's
/// `state.json`, read by `train --resume`.
#[cfg(test)]
mod fuzz {
    use std::path::{Path, PathBuf};

    use kindling::nn::models::Arch;
    use kindling::nn::Module;
    use kindling::optim::{Optimizer, SGD};
    use kindling::testing::fuzz::{check, scratch, Target};
    use kindling::train::{Checkpoint, EpochRow, Progress, Trainer};
    use serde_json::json;

    use super::{Config, DatasetName, Input, OptimizerName, ScheduleName};

    fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz")
    }

    const MIB: usize = 1 << 20;
    const JSON_WORDS: &[&[u8]] = &[
        b"{",
        b"}",
        b"[",
        b"]",
        b"\"",
        b":",
        b",",
        b"null",
        b"true",
        b"-",
        b"e",
        b"\"arch\"",
        b"\"mlp\"",
        b"\"threeblue\"",
        b"\"linear\"",
        b"\"dataset\"",
        b"\"fashion-mnist\"",
        b"\"optimizer\"",
        b"\"adamw\"",
        b"\"schedule\"",
        b"\"step\"",
        b"\"epochs\"",
        b"\"batch_size\"",
        b"\"threads\"",
        b"\"lr\"",
        b"\"files\"",
    ];

    /// The linear model from seed 0 (the global generator is shared by the
    /// tests running at once, hence the lock).
    fn seeded_linear() -> kindling::nn::models::Net {
        static GENERATOR: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _turn = GENERATOR.lock().unwrap_or_else(|e| e.into_inner());
        kindling::manual_seed(0);
        Arch::Linear.build()
    }

    /// The weights the seeds name.
    fn weights(dir: &Path) -> PathBuf {
        let path = dir.join("model.safetensors");
        seeded_linear().save(&path).unwrap();
        path
    }

    fn seed_config() -> Config {
        Config {
            arch: Arch::Linear,
            optimizer: OptimizerName::Sgd,
            lr: 0.3,
            momentum: 0.9,
            schedule: ScheduleName::Cosine,
            translate: 0.0,
            epochs: 3,
            batch_size: 64,
            seed: 0,
            dataset: DatasetName::Mnist,
            threads: 2,
            input: Input::ToTensor,
        }
    }

    #[test]
    fn the_shifts_and_the_one_cycle_schedule_are_kept_in_the_run_config() {
        let config = Config {
            translate: 0.08,
            schedule: ScheduleName::Onecycle,
            lr: 0.003,
            ..seed_config()
        };
        let mut json = config.to_json();
        assert_eq!(json["translate"], serde_json::json!(0.08));
        assert_eq!(json["schedule"], serde_json::json!("onecycle"));
        let back = Config::from_json(&json).ok().expect("read back");
        assert_eq!(
            (back.translate, back.schedule),
            (0.08, ScheduleName::Onecycle)
        );
        // One cycle over 3 epochs of 10 steps, as PyTorch's OneCycleLR(0.003, 30):
        // from 0.003 / 25 up to 0.003 at step 8, then down.
        assert!((back.lr_at_step(0, 10) - 0.003 / 25.0).abs() < 1e-15);
        assert!((back.lr_at_step(8, 10) - 0.003).abs() < 1e-15);
        assert!(back.lr_at_step(29, 10) < 1e-6);
        // A run from before the setting existed had no shifts.
        json.as_object_mut().unwrap().remove("translate");
        assert_eq!(
            Config::from_json(&json).ok().expect("read back").translate,
            0.0
        );
        json["translate"] = serde_json::json!(1.5);
        assert!(Config::from_json(&json).is_err());
    }

    #[test]
    fn the_input_normalization_is_kept_in_the_run_config() {
        let config = Config {
            input: Input::Normalized(DatasetName::FashionMnist.mean_std()),
            ..seed_config()
        };
        let mut json = config.to_json();
        assert_eq!(json["normalize"], serde_json::json!([0.2860, 0.3530]));
        let back = Config::from_json(&json).ok().expect("read back");
        assert_eq!(back.input, config.input);
        // A run from before the setting existed was fed ToTensor alone.
        json.as_object_mut().unwrap().remove("normalize");
        let old = Config::from_json(&json).ok().expect("read back");
        assert_eq!(old.input, Input::ToTensor);
        json["normalize"] = serde_json::json!([0.1, -1.0]);
        assert!(Config::from_json(&json).is_err());
    }

    #[test]
    fn every_optimizer_is_kept_in_the_run_config_and_trains() {
        use clap::ValueEnum;
        for &name in OptimizerName::value_variants() {
            let config = Config {
                optimizer: name,
                ..seed_config()
            };
            let back = Config::from_json(&config.to_json())
                .ok()
                .expect("read back");
            assert_eq!(back.optimizer, name);
            let w = kindling::Tensor::from_vec(vec![1.0f32, -2.0], [2]).requires_grad_(true);
            let mut opt = config.optimizer(vec![w.clone()]);
            (&w * &w).sum().backward();
            opt.step().unwrap();
            let moved = w.to_vec::<f32>();
            assert!(moved[0] < 1.0 && moved[1] > -2.0, "{name:?}: {moved:?}");
        }
    }

    #[test]
    fn fuzz_model_json() {
        let dir = scratch("model_json");
        let weights = weights(&dir);
        let sidecar = dir.join("model.json");
        let target = Target {
            name: "model_json",
            cap: |len| 16 * MIB + 64 * len,
            dictionary: JSON_WORDS,
        };
        check(&target, &root(), &mut |bytes| {
            std::fs::write(&sidecar, bytes).unwrap();
            let Ok((net, meta)) = super::super::models::load_model(&weights, None) else {
                return false;
            };
            let dataset = super::super::models::dataset_of(&meta, None);
            assert!(!dataset.family().classes().is_empty());
            net.forward(&kindling::Tensor::zeros([1, 784])).is_ok()
        });
    }

    #[test]
    fn fuzz_resume_settings() {
        let dir = scratch("resume_settings");
        let model = seeded_linear();
        let weights =
            kindling::io::safetensors_bytes(&model.state_dict(), &Default::default()).unwrap();
        let opt = SGD::new(model.parameters(), 0.3)
            .momentum(0.9)
            .state()
            .to_bytes()
            .unwrap();
        let target = Target {
            name: "resume_settings",
            cap: |len| 16 * MIB + 64 * len,
            dictionary: JSON_WORDS,
        };
        check(&target, &root(), &mut |bytes| {
            kindling::io::write_set(
                &dir,
                &[
                    ("model.safetensors", &weights),
                    ("optimizer.safetensors", &opt),
                    ("state.json", bytes),
                ],
            )
            .unwrap();
            // What `train --resume` does before it trains.
            let Ok(ck) = Checkpoint::load(&dir) else {
                return false;
            };
            let Ok(config) = Config::from_json(&ck.config) else {
                return false;
            };
            let model = config.arch.build();
            let mut opt = config.optimizer(model.parameters());
            let trainer = Trainer::new(&model, opt.as_mut())
                .epochs(config.epochs)
                .lr_schedule_per_step(|step| config.lr_at_step(step, 938));
            let resumed = trainer.resume(&ck).is_ok();
            if resumed {
                let step = ck.progress.epoch.min(config.epochs) * 938 + ck.progress.batch;
                assert!(config.lr_at_step(step, 938).is_finite());
            }
            resumed
        });
    }

    /// Writes the two targets' seeds as `kindling train` writes these files.
    #[test]
    #[ignore]
    fn write_seeds() {
        let dir = scratch("write_cli_seeds");
        let weights = weights(&dir);
        let config = seed_config();
        let mut meta = config.to_json();
        meta["test_accuracy"] = json!(0.9);
        meta["test_loss"] = json!(0.35);
        meta["kindling"] = json!(env!("CARGO_PKG_VERSION"));
        meta["pytorch_module"] = json!(super::model_printout(config.arch));
        meta["files"] =
            json!({"model.safetensors": super::super::file_md5(&weights).ok().unwrap()});
        let put = |target: &str, name: &str, bytes: &[u8]| {
            let d = root().join("seeds").join(target);
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join(name), bytes).unwrap();
        };
        put(
            "model_json",
            "model.json",
            serde_json::to_string_pretty(&meta).unwrap().as_bytes(),
        );
        let mut no_files = meta.clone();
        no_files.as_object_mut().unwrap().remove("files");
        put(
            "model_json",
            "without-digests.json",
            no_files.to_string().as_bytes(),
        );
        let model = seeded_linear();
        let opt = SGD::new(model.parameters(), 0.3).momentum(0.9);
        let progress = Progress {
            epoch: 1,
            batch: 5,
            loss_sum: 12.5,
            correct: 250,
            seen: 320,
            elapsed: 0.5,
            history: vec![EpochRow {
                epoch: 1,
                train_loss: 0.6,
                train_accuracy: 0.8,
                test_loss: Some(0.4),
                test_accuracy: Some(0.88),
                seconds: 2.0,
            }],
        };
        let ck = dir.join("checkpoint");
        Checkpoint::save(&ck, &config.to_json(), &model, &opt, &progress).unwrap();
        let state = std::fs::read(
            ck.join(std::fs::read_to_string(ck.join("CURRENT")).unwrap().trim())
                .join("state.json"),
        )
        .unwrap();
        put("resume_settings", "state.json", &state);
    }
}
