//! `kindling eval` and `kindling predict`: saved weights put to work.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use clap::Args;
use kindling::nn::models::{Arch, Net};
use kindling::nn::Module;
use kindling::vision::digit::prepare_digit;
use serde_json::{json, Value};

use super::{fail, open_dataset, DataSource, DatasetName, Failure, Input, Split};

/// The most a `model.json` may weigh: it holds a few settings and names.
const MAX_SIDECAR: u64 = 1 << 20;

/// The JSON written beside `model.safetensors` by `kindling train`, if there
/// is one; a file too large to be one is refused before it is read.
pub fn sidecar(weights: &Path) -> Result<Option<Value>, Failure> {
    let path = weights.with_file_name("model.json");
    let Ok(f) = std::fs::File::open(&path) else {
        return Ok(None);
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    if len > MAX_SIDECAR {
        return Err(fail(format!(
            "{}: {len} bytes, too large to be the model.json of a kindling run",
            path.display()
        )));
    }
    serde_json::from_reader(std::io::Read::take(f, MAX_SIDECAR))
        .map(Some)
        .map_err(|e| fail(format!("{}: not valid JSON ({e})", path.display())))
}

/// Builds the architecture (from `--model`, else from the JSON beside the
/// weights) and loads the weights strictly.
pub fn load_model(weights: &Path, model: Option<&str>) -> Result<(Net, Option<Value>), Failure> {
    if !weights.is_file() {
        return Err(fail(format!("{}: no such file", weights.display())));
    }
    let meta = sidecar(weights)?;
    // A model.json that names the weights' digest must agree with them
    // (NOTE(run-files)).
    let named = meta
        .as_ref()
        .and_then(|m| m["files"]["model.safetensors"].as_str());
    if let (None, Some(want)) = (model, named) {
        if super::file_md5(weights)? != want {
            return Err(fail(format!(
                "{} does not match the model.json beside it (a run stopped while writing its files, or files from two runs): finish the run with `kindling train --resume {}`, or pass --model to use the weights alone",
                weights.display(),
                weights.parent().map(|p| p.display().to_string()).unwrap_or_default()
            )));
        }
    }
    let name = match (model, meta.as_ref().and_then(|m| m["arch"].as_str())) {
        (Some(m), _) => m.to_string(),
        (None, Some(m)) => m.to_string(),
        (None, None) => {
            return Err(fail(format!(
                "cannot tell which architecture {} holds (no model.json beside it): pass --model linear|threeblue|mlp|cnn|cnn-bn",
                weights.display()
            )))
        }
    };
    let arch: Arch = name.parse()?;
    let net = arch.build();
    net.load(weights)?;
    // The library loads any numbers; a model to score or predict with must
    // hold finite ones.
    for (key, t) in net.state_dict() {
        if !t.to_vec::<f64>().iter().all(|v| v.is_finite()) {
            return Err(fail(format!(
                "{}: {key} holds NaN or infinite values; these weights cannot be used",
                weights.display()
            )));
        }
    }
    Ok((net, meta))
}

pub(super) fn dataset_of(meta: &Option<Value>, given: Option<DatasetName>) -> DatasetName {
    given
        .or_else(|| {
            meta.as_ref()
                .and_then(|m| DatasetName::parse(m["dataset"].as_str()?))
        })
        .unwrap_or(DatasetName::Mnist)
}

#[derive(Args)]
pub struct EvalArgs {
    /// Weights: a .pth (torch.save of a state_dict()) or .safetensors file, from `kindling train` or PyTorch, with the architecture's keys
    #[arg(long)]
    weights: PathBuf,
    /// Architecture: linear, threeblue, mlp, cnn or cnn-bn (default: from model.json beside the weights)
    #[arg(long)]
    model: Option<String>,
    /// Feed the model (x - MEAN) / STD after ToTensor, as transforms.Normalize
    /// (default: what the run's model.json records, else ToTensor alone)
    #[arg(
        long,
        value_name = "MEAN,STD",
        value_delimiter = ',',
        allow_negative_numbers = true
    )]
    normalize: Option<Vec<f64>>,
    /// Dataset (default: the one the model was trained on, else mnist)
    #[arg(long, value_enum)]
    dataset: Option<DatasetName>,
    /// Which split to score
    #[arg(long, value_enum, default_value = "test")]
    split: Split,
    #[command(flatten)]
    source: DataSource,
    /// Threads for the matrix products (default: the cores available); the
    /// numbers are the same for every count
    #[arg(long, default_value_t = super::default_threads())]
    threads: usize,
    /// Print one JSON object instead of the summary
    #[arg(long)]
    json: bool,
}

pub fn eval(args: EvalArgs) -> Result<(), Failure> {
    if args.threads == 0 {
        return Err(fail("--threads must be at least 1"));
    }
    let (net, meta) = load_model(&args.weights, args.model.as_deref())?;
    let dataset = dataset_of(&meta, args.dataset);
    let input = Input::chosen(args.normalize.as_deref(), meta.as_ref())?;
    let ds = Arc::new(open_dataset(dataset, args.split, &args.source, input)?);
    let classes = ds.classes.clone();
    let report = kindling::with_threads(args.threads, || {
        kindling::train::evaluate(&net, ds, classes.len(), net.arch.eval_batch_size())
    })?;
    let split = if args.split == Split::Train {
        "train"
    } else {
        "test"
    };
    if args.json {
        let per_class: Vec<Value> = classes
            .iter()
            .zip(&report.per_class)
            .map(|(c, a)| json!({"class": c, "accuracy": a}))
            .collect();
        let out = json!({
            "weights": args.weights.display().to_string(),
            "model": net.arch.name(),
            "dataset": dataset.name(),
            "split": split,
            "count": report.count,
            "accuracy": report.accuracy,
            "loss": report.loss,
            "per_class": per_class,
        });
        println!("{out}");
        return Ok(());
    }
    println!(
        "{} ({}) on {} {split}: {} images",
        net.arch.name(),
        args.weights.display(),
        dataset.name(),
        report.count
    );
    println!(
        "accuracy {:.2}%  loss {:.4}",
        report.accuracy * 100.0,
        report.loss
    );
    println!("per class:");
    for (c, a) in classes.iter().zip(&report.per_class) {
        println!("  {c:<14} {:6.2}%", a * 100.0);
    }
    Ok(())
}

#[derive(Args)]
pub struct PredictArgs {
    /// Weights: a .pth (torch.save of a state_dict()) or .safetensors file, from `kindling train` or PyTorch, with the architecture's keys
    #[arg(long)]
    weights: PathBuf,
    /// Architecture: linear, threeblue, mlp, cnn or cnn-bn (default: from model.json beside the weights)
    #[arg(long)]
    model: Option<String>,
    /// Feed the model (x - MEAN) / STD after ToTensor, as transforms.Normalize
    /// (default: what the run's model.json records, else ToTensor alone)
    #[arg(
        long,
        value_name = "MEAN,STD",
        value_delimiter = ',',
        allow_negative_numbers = true
    )]
    normalize: Option<Vec<f64>>,
    /// Print one JSON object instead of a line per image
    #[arg(long)]
    json: bool,
    /// Image files (PNG or JPEG, any size, dark or light background)
    #[arg(required = true)]
    images: Vec<PathBuf>,
}

pub fn predict(args: PredictArgs) -> Result<(), Failure> {
    let (net, meta) = load_model(&args.weights, args.model.as_deref())?;
    let classes = dataset_of(&meta, None).family().classes();
    let input = Input::chosen(args.normalize.as_deref(), meta.as_ref())?;
    let mut results = Vec::new();
    for path in &args.images {
        let x = input.normalize(prepare_digit(path)?);
        let probs = kindling::no_grad(|| net.forward(&x.unsqueeze(0)).map(|l| l.softmax(1)))?
            .to_vec::<f64>();
        let mut order: Vec<usize> = (0..probs.len()).collect();
        order.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]));
        results.push((
            path,
            order[..3.min(order.len())]
                .iter()
                .map(|&c| (c, probs[c]))
                .collect::<Vec<_>>(),
        ));
    }
    if args.json {
        let preds: Vec<Value> = results
            .iter()
            .map(|(p, top)| {
                json!({
                    "file": p.display().to_string(),
                    "class": top[0].0,
                    "label": classes[top[0].0],
                    "top3": top.iter().map(|&(c, pr)| json!({"class": c, "label": classes[c], "probability": pr})).collect::<Vec<_>>(),
                })
            })
            .collect();
        println!(
            "{}",
            json!({ "model": net.arch.name(), "predictions": preds })
        );
        return Ok(());
    }
    for (path, top) in results {
        let rest: Vec<String> = top
            .iter()
            .map(|&(c, p)| format!("{} {:.2}%", super::short_class(&classes[c]), p * 100.0))
            .collect();
        println!(
            "{}: {}  ({})",
            path.display(),
            super::short_class(&classes[top[0].0]),
            rest.join(", ")
        );
    }
    Ok(())
}

/// What `export` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    /// ONNX, opset 17, with a dynamic batch size
    Onnx,
}

#[derive(Args)]
pub struct ExportArgs {
    /// Weights: a .pth or .safetensors file, from `kindling train` or PyTorch, with the architecture's keys
    #[arg(long)]
    weights: PathBuf,
    /// Architecture: linear, threeblue, mlp, cnn or cnn-bn (default: from model.json beside the weights)
    #[arg(long)]
    model: Option<String>,
    /// Output format
    #[arg(long, value_enum, default_value = "onnx")]
    format: ExportFormat,
    /// The file to write
    #[arg(long)]
    out: PathBuf,
}

/// `kindling export`: the model in eval mode, as ONNX; its input is what
/// the model takes (`[batch, 1, 28, 28]`, normalized as the run recorded).
pub fn export(args: ExportArgs) -> Result<(), Failure> {
    let (net, meta) = load_model(&args.weights, args.model.as_deref())?;
    match args.format {
        ExportFormat::Onnx => kindling::io::onnx::export(&net, &[1, 28, 28], &args.out)?,
    }
    let normalize = meta
        .as_ref()
        .and_then(|m| m["normalize"].as_array().cloned())
        .map(|v| {
            format!(
                " (feed it images normalized as the run was: (x - {}) / {})",
                v[0], v[1]
            )
        })
        .unwrap_or_default();
    println!(
        "wrote {}: {} for input [batch, 1, 28, 28]{normalize}",
        args.out.display(),
        net.arch.name()
    );
    Ok(())
}
