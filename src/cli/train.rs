//! `kindling train`: the training loop with progress, per-epoch test scores,
//! checkpoints on Ctrl-C, and the run's files (weights, metrics, pictures).

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use kindling::data::DataLoader;
use kindling::io::write_atomic;
use kindling::nn::functional::cross_entropy;
use kindling::nn::models::Arch;
use kindling::nn::Module;
use kindling::optim::{
    Adam, AdamW, CosineAnnealingLR, LrScheduler, Optimizer, OptimizerState, StepLR, SGD,
};
use kindling::plot::{
    confusion_matrix, image_grid, line_chart, Canvas, Colormap, Legend, Series, BLUE, ORANGE, WHITE,
};
use serde_json::{json, Value};

use super::{fail, open_dataset, DataSource, DatasetName, Failure, Split};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OptimizerName {
    Sgd,
    Adam,
    Adamw,
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
}

#[derive(Args)]
pub struct TrainArgs {
    /// Architecture: linear (the lecture's), threeblue (784-16-16-10 sigmoid), mlp (784-128-64-10 ReLU)
    #[arg(long, default_value = "linear")]
    model: String,
    /// Optimizer
    #[arg(long, value_enum, default_value = "sgd")]
    optimizer: OptimizerName,
    /// Learning rate (default SGD: 0.3 linear, 1.0 threeblue, 0.1 mlp; Adam/AdamW: 0.001)
    #[arg(long)]
    lr: Option<f64>,
    /// SGD momentum
    #[arg(long, default_value_t = 0.0)]
    momentum: f64,
    /// Learning-rate schedule over the epochs
    #[arg(long, value_enum, default_value = "cosine")]
    schedule: ScheduleName,
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
    epochs: usize,
    batch_size: usize,
    seed: u64,
    dataset: DatasetName,
    threads: usize,
}

impl Config {
    fn from_args(a: &TrainArgs) -> Result<Config, Failure> {
        let arch: Arch = a.model.parse()?;
        let lr = a.lr.unwrap_or(match (a.optimizer, arch) {
            (OptimizerName::Sgd, Arch::Linear) => 0.3,
            (OptimizerName::Sgd, Arch::ThreeBlue) => 1.0,
            (OptimizerName::Sgd, Arch::Mlp) => 0.1,
            _ => 0.001,
        });
        if !(lr > 0.0 && lr.is_finite()) {
            return Err(fail(format!("--lr must be a positive number, got {lr}")));
        }
        if a.epochs == 0 || a.batch_size == 0 || a.threads == 0 {
            return Err(fail(
                "--epochs, --batch-size and --threads must be at least 1",
            ));
        }
        Ok(Config {
            arch,
            optimizer: a.optimizer,
            lr,
            momentum: a.momentum,
            schedule: a.schedule,
            epochs: a.epochs,
            batch_size: a.batch_size,
            seed: a.seed,
            dataset: a.dataset,
            threads: a.threads,
        })
    }

    fn to_json(&self) -> Value {
        json!({
            "arch": self.arch.name(),
            "optimizer": format!("{:?}", self.optimizer).to_lowercase(),
            "lr": self.lr,
            "momentum": self.momentum,
            "schedule": format!("{:?}", self.schedule).to_lowercase(),
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "seed": self.seed,
            "dataset": self.dataset.name(),
            "threads": self.threads,
        })
    }

    fn from_json(v: &Value) -> Option<Config> {
        Some(Config {
            arch: v["arch"].as_str()?.parse().ok()?,
            optimizer: OptimizerName::from_str(v["optimizer"].as_str()?, true).ok()?,
            lr: v["lr"].as_f64()?,
            momentum: v["momentum"].as_f64()?,
            schedule: ScheduleName::from_str(v["schedule"].as_str()?, true).ok()?,
            epochs: v["epochs"].as_u64()? as usize,
            batch_size: v["batch_size"].as_u64()? as usize,
            seed: v["seed"].as_u64()?,
            dataset: DatasetName::parse(v["dataset"].as_str()?)?,
            threads: v["threads"].as_u64()? as usize,
        })
    }

    /// The learning rate of epoch `epoch` (0-based), in closed form.
    fn lr_at(&self, epoch: usize) -> f64 {
        let mut opt = SGD::new(Vec::new(), self.lr);
        let mut sched: Box<dyn LrScheduler> = match self.schedule {
            ScheduleName::None => return self.lr,
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
        }
    }
}

/// One row of metrics.csv.
#[derive(Clone, Debug)]
struct Row {
    epoch: usize,
    train_loss: f64,
    train_accuracy: f64,
    test_loss: f64,
    test_accuracy: f64,
    seconds: f64,
}

impl Row {
    fn to_json(&self) -> Value {
        json!({"epoch": self.epoch, "train_loss": self.train_loss, "train_accuracy": self.train_accuracy,
               "test_loss": self.test_loss, "test_accuracy": self.test_accuracy, "seconds": self.seconds})
    }
    fn from_json(v: &Value) -> Option<Row> {
        Some(Row {
            epoch: v["epoch"].as_u64()? as usize,
            train_loss: v["train_loss"].as_f64()?,
            train_accuracy: v["train_accuracy"].as_f64()?,
            test_loss: v["test_loss"].as_f64()?,
            test_accuracy: v["test_accuracy"].as_f64()?,
            seconds: v["seconds"].as_f64()?,
        })
    }
}

/// Where a run stands: enough to continue it exactly.
struct Progress {
    epoch: usize,
    batch: usize,
    loss_sum: f64,
    correct: usize,
    seen: usize,
    elapsed: f64,
    rows: Vec<Row>,
}

const CHECKPOINT: &str = "checkpoint";

fn io_fail(path: &Path, e: impl std::fmt::Display) -> Failure {
    fail(format!("{}: {e}", path.display()))
}

fn save_checkpoint(
    dir: &Path,
    config: &Config,
    model: &dyn Module,
    opt: &dyn Optimizer,
    p: &Progress,
) -> Result<PathBuf, Failure> {
    let ck = dir.join(CHECKPOINT);
    std::fs::create_dir_all(&ck).map_err(|e| io_fail(&ck, e))?;
    model.save(&ck.join("model.safetensors"))?;
    opt.state().save(&ck.join("optimizer.safetensors"))?;
    let state = json!({
        "config": config.to_json(), "epoch": p.epoch, "batch": p.batch, "loss_sum": p.loss_sum,
        "correct": p.correct, "seen": p.seen, "elapsed": p.elapsed,
        "metrics": p.rows.iter().map(Row::to_json).collect::<Vec<_>>(),
    });
    // Written last: a checkpoint counts only once its state is there.
    write_atomic(&ck.join("state.json"), state.to_string().as_bytes())?;
    Ok(ck)
}

fn load_checkpoint(dir: &Path) -> Result<(Config, Value), Failure> {
    let path = dir.join(CHECKPOINT).join("state.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| io_fail(&path, format!("no checkpoint to resume ({e})")))?;
    let v: Value = serde_json::from_str(&text)
        .map_err(|e| io_fail(&path, format!("corrupt checkpoint ({e})")))?;
    let config = Config::from_json(&v["config"])
        .ok_or_else(|| io_fail(&path, "corrupt checkpoint (bad settings)"))?;
    Ok((config, v))
}

fn progress_from(v: &Value) -> Option<Progress> {
    Some(Progress {
        epoch: v["epoch"].as_u64()? as usize,
        batch: v["batch"].as_u64()? as usize,
        loss_sum: v["loss_sum"].as_f64()?,
        correct: v["correct"].as_u64()? as usize,
        seen: v["seen"].as_u64()? as usize,
        elapsed: v["elapsed"].as_f64()?,
        rows: v["metrics"]
            .as_array()?
            .iter()
            .map(Row::from_json)
            .collect::<Option<Vec<_>>>()?,
    })
}

pub fn run(args: TrainArgs) -> Result<(), Failure> {
    let (config, out, resumed) = match &args.resume {
        Some(dir) => {
            let (config, state) = load_checkpoint(dir)?;
            (config, dir.clone(), Some(state))
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
    std::fs::create_dir_all(&out)
        .map_err(|e| io_fail(&out, format!("cannot create the output folder ({e})")))?;
    let probe = out.join(format!(".kindling-write-test-{}", std::process::id()));
    std::fs::write(&probe, b"")
        .map_err(|e| io_fail(&out, format!("cannot write in the output folder ({e})")))?;
    let _ = std::fs::remove_file(&probe);

    kindling::ops::matmul::with_threads(config.threads, || {
        train_loop(&args, &config, &out, resumed)
    })
}

fn train_loop(
    args: &TrainArgs,
    config: &Config,
    out: &Path,
    resumed: Option<Value>,
) -> Result<(), Failure> {
    let config = config.clone();
    let out = out.to_path_buf();
    let train = Arc::new(open_dataset(
        config.dataset,
        Split::Train,
        &args.source,
        true,
    )?);
    let test = Arc::new(open_dataset(
        config.dataset,
        Split::Test,
        &args.source,
        true,
    )?);
    let classes = train.classes.clone();

    kindling::manual_seed(config.seed);
    let model = config.arch.build();
    let mut opt = config.optimizer(model.parameters());
    let mut p = Progress {
        epoch: 0,
        batch: 0,
        loss_sum: 0.0,
        correct: 0,
        seen: 0,
        elapsed: 0.0,
        rows: Vec::new(),
    };
    if let Some(state) = &resumed {
        let ck = out.join(CHECKPOINT);
        model.load(&ck.join("model.safetensors"))?;
        opt.load_state(&OptimizerState::load(&ck.join("optimizer.safetensors"))?)?;
        p = progress_from(state)
            .ok_or_else(|| io_fail(&ck, "corrupt checkpoint (bad progress)"))?;
        if !args.json {
            println!(
                "resuming {} at epoch {}, batch {}",
                out.display(),
                p.epoch + 1,
                p.batch
            );
        }
    }

    let interrupted = Arc::new(AtomicBool::new(false));
    let _ = signal_hook::flag::register(signal_hook::consts::SIGINT, interrupted.clone());
    let loader = DataLoader::new(train.clone(), config.batch_size)
        .shuffle(true)
        .seed(config.seed);
    let human = !args.json;
    let tty = std::io::stdout().is_terminal() && human;

    while p.epoch < config.epochs {
        opt.set_lr(config.lr_at(p.epoch));
        let bar = epoch_bar(tty, loader.len() as u64, p.epoch + 1, config.epochs);
        bar.set_position(p.batch as u64);
        let start = Instant::now();
        let base_elapsed = p.elapsed;
        let seen_before = p.seen; // samples of this epoch done before a resume
        for batch in loader.iter_epoch_from(p.epoch as u64, p.batch) {
            let (x, y) = batch?;
            let logits = model.forward(&x)?;
            let loss = cross_entropy(&logits, &y)?;
            opt.zero_grad();
            loss.backward();
            opt.step()?;
            let n = y.numel();
            p.loss_sum += loss.item().to_f64() * n as f64;
            p.correct +=
                kindling::no_grad(|| logits.argmax_dim(1, false).eq(&y).sum().item().to_i64())
                    as usize;
            p.seen += n;
            p.batch += 1;
            if bar.position().is_multiple_of(16) || p.batch == loader.len() {
                let secs = start.elapsed().as_secs_f64().max(1e-9);
                bar.set_message(format!(
                    "loss {:.4}  acc {:.2}%  {:.0} samples/s",
                    p.loss_sum / p.seen as f64,
                    100.0 * p.correct as f64 / p.seen as f64,
                    (p.seen - seen_before) as f64 / secs
                ));
            }
            bar.inc(1);
            if interrupted.load(Ordering::Relaxed) {
                bar.finish_and_clear();
                p.elapsed = base_elapsed + start.elapsed().as_secs_f64();
                let ck = save_checkpoint(&out, &config, &model, opt.as_ref(), &p)?;
                return Err(Failure {
                    message: format!("interrupted: checkpoint saved in {}; continue with: kindling train --resume {}", ck.display(), out.display()),
                    code: 130,
                });
            }
        }
        bar.finish_and_clear();
        let seconds = base_elapsed + start.elapsed().as_secs_f64();
        let report = kindling::train::evaluate(&model, test.clone(), classes.len(), 1000)?;
        let row = Row {
            epoch: p.epoch + 1,
            train_loss: p.loss_sum / p.seen.max(1) as f64,
            train_accuracy: p.correct as f64 / p.seen.max(1) as f64,
            test_loss: report.loss,
            test_accuracy: report.accuracy,
            seconds,
        };
        if human {
            println!(
                "epoch {:>2}/{}  loss {:.4}  acc {:.2}%  test loss {:.4}  test acc {:.2}%  {:.1}s",
                row.epoch,
                config.epochs,
                row.train_loss,
                row.train_accuracy * 100.0,
                row.test_loss,
                row.test_accuracy * 100.0,
                row.seconds
            );
        }
        p.rows.push(row);
        p = Progress {
            epoch: p.epoch + 1,
            batch: 0,
            loss_sum: 0.0,
            correct: 0,
            seen: 0,
            elapsed: 0.0,
            rows: p.rows,
        };
        if interrupted.load(Ordering::Relaxed) && p.epoch < config.epochs {
            let ck = save_checkpoint(&out, &config, &model, opt.as_ref(), &p)?;
            return Err(Failure {
                message: format!("interrupted: checkpoint saved in {}; continue with: kindling train --resume {}", ck.display(), out.display()),
                code: 130,
            });
        }
    }

    let report = kindling::train::evaluate(&model, test.clone(), classes.len(), 1000)?;
    let files = write_outputs(&out, &config, &model, &p.rows, &report, &test, &classes)?;
    let _ = std::fs::remove_dir_all(out.join(CHECKPOINT));
    if args.json {
        let result = json!({
            "model": config.arch.name(), "config": config.to_json(), "out": out.display().to_string(),
            "epochs": p.rows.iter().map(Row::to_json).collect::<Vec<_>>(),
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

fn epoch_bar(tty: bool, len: u64, epoch: usize, epochs: usize) -> ProgressBar {
    let bar = ProgressBar::new(len);
    if !tty {
        bar.set_draw_target(ProgressDrawTarget::hidden());
        return bar;
    }
    bar.set_draw_target(ProgressDrawTarget::stdout());
    let style = ProgressStyle::with_template(&format!("epoch {epoch:>2}/{epochs} {{bar:30}} {{pos:>4}}/{{len}} [{{elapsed_precise}}<{{eta_precise}}] {{msg}}"))
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar
}

#[allow(clippy::too_many_arguments)]
fn write_outputs(
    out: &Path,
    config: &Config,
    model: &dyn Module,
    rows: &[Row],
    report: &kindling::train::EvalReport,
    test: &kindling::vision::VisionDataset,
    classes: &[String],
) -> Result<Vec<PathBuf>, Failure> {
    let weights = out.join("model.safetensors");
    model.save(&weights)?;
    let mut meta = config.to_json();
    meta["test_accuracy"] = json!(report.accuracy);
    meta["test_loss"] = json!(report.loss);
    meta["kindling"] = json!(env!("CARGO_PKG_VERSION"));
    meta["pytorch_module"] = json!(format!("{}", model_printout(config.arch)));
    let sidecar = out.join("model.json");
    write_atomic(
        &sidecar,
        serde_json::to_string_pretty(&meta)
            .unwrap_or_default()
            .as_bytes(),
    )?;

    let mut csv = String::from("epoch,train_loss,train_accuracy,test_loss,test_accuracy,seconds\n");
    for r in rows {
        csv += &format!(
            "{},{:.6},{:.6},{:.6},{:.6},{:.3}\n",
            r.epoch, r.train_loss, r.train_accuracy, r.test_loss, r.test_accuracy, r.seconds
        );
    }
    let metrics = out.join("metrics.csv");
    write_atomic(&metrics, csv.as_bytes())?;

    let mut curves = Canvas::new(960, 400, WHITE);
    let (tl, vl): (Vec<f64>, Vec<f64>) = rows.iter().map(|r| (r.train_loss, r.test_loss)).unzip();
    let (ta, va): (Vec<f64>, Vec<f64>) = rows
        .iter()
        .map(|r| (r.train_accuracy * 100.0, r.test_accuracy * 100.0))
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
