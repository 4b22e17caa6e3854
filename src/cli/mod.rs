//! The `kindling` command: parses arguments, calls the library, prints. Every
//! failure is one line on stderr and a non-zero exit.

mod bench;
mod data;
mod lecture;
mod models;
mod show;
mod train;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use kindling::vision::Family;

/// PyTorch's MNIST lecture in Rust: tensors, autograd, training and pictures.
#[derive(Parser)]
#[command(name = "kindling", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Replay the lecture "PyTorch and Neural Networks" cell by cell
    Lecture(lecture::LectureArgs),
    /// Show dataset images: a PNG like matplotlib's imshow, a labelled grid, or a terminal preview
    Show(show::ShowArgs),
    /// Train a model, with progress, metrics and pictures
    Train(train::TrainArgs),
    /// Score saved weights on a dataset split
    Eval(models::EvalArgs),
    /// Classify image files (PNG/JPEG) with saved weights
    Predict(models::PredictArgs),
    /// Write saved weights as an ONNX model (ONNX Runtime, Triton, browsers)
    Export(models::ExportArgs),
    /// Download or verify datasets
    Data(data::DataArgs),
    /// Time the speed jobs (training epochs, inference, memory) with fixed seeds
    Bench(bench::BenchArgs),
}

/// Where the data comes from; shared by the commands that read datasets.
#[derive(Args, Clone)]
pub struct DataSource {
    /// Dataset root holding MNIST/raw/... (default: $KINDLING_DATA, else data)
    #[arg(long)]
    pub root: Option<PathBuf>,
    /// Never download; fail if the files are not there
    #[arg(long)]
    pub no_download: bool,
    /// Download from this mirror (repeatable, tried in order; default: $KINDLING_MIRRORS, else torchvision's mirrors)
    #[arg(long = "mirror", value_name = "URL")]
    pub mirrors: Vec<String>,
}

impl DataSource {
    pub fn root(&self) -> PathBuf {
        self.root
            .clone()
            .unwrap_or_else(kindling::vision::default_root)
    }
}

/// The datasets the command line knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DatasetName {
    /// Handwritten digits
    Mnist,
    /// Zalando's clothing images (Debian: dataset-fashion-mnist)
    FashionMnist,
    /// Kuzushiji characters
    Kmnist,
}

impl DatasetName {
    pub fn family(self) -> Family {
        match self {
            DatasetName::Mnist => Family::Mnist,
            DatasetName::FashionMnist => Family::FashionMnist,
            DatasetName::Kmnist => Family::Kmnist,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            DatasetName::Mnist => "mnist",
            DatasetName::FashionMnist => "fashion-mnist",
            DatasetName::Kmnist => "kmnist",
        }
    }

    pub fn parse(s: &str) -> Option<DatasetName> {
        <DatasetName as ValueEnum>::from_str(s, true).ok()
    }

    /// The mean and standard deviation of the training images' pixels (in
    /// 0..1), the values PyTorch code passes to `transforms.Normalize`.
    pub fn mean_std(self) -> [f64; 2] {
        match self {
            DatasetName::Mnist => [0.1307, 0.3081],
            DatasetName::FashionMnist => [0.2860, 0.3530],
            DatasetName::Kmnist => [0.1918, 0.3483],
        }
    }
}

/// What a model is fed: the images as uint8, or `ToTensor`'s floats in 0..1,
/// then `Normalize(mean, std)` for runs that recorded one (the convolutional
/// models, as pytorch/examples trains them).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Input {
    Raw,
    ToTensor,
    Normalized([f64; 2]),
}

impl Input {
    /// The input a run's settings (`config.json`, `model.json`) record:
    /// `"normalize": [mean, std]`, absent for runs fed `ToTensor` alone.
    pub fn of_run(meta: Option<&serde_json::Value>) -> Result<Input, Failure> {
        let Some(v) = meta.map(|m| &m["normalize"]).filter(|v| !v.is_null()) else {
            return Ok(Input::ToTensor);
        };
        let pair = v
            .as_array()
            .map(|a| a.iter().map(|x| x.as_f64()).collect::<Vec<_>>());
        match pair.as_deref() {
            Some(&[Some(mean), Some(std)]) if mean.is_finite() && std.is_finite() && std > 0.0 => {
                Ok(Input::Normalized([mean, std]))
            }
            _ => Err(fail(format!(
                "bad \"normalize\" setting {v}: expected [mean, std] with std > 0"
            ))),
        }
    }

    /// `--normalize MEAN,STD` when given, else what the run records.
    pub fn chosen(
        given: Option<&[f64]>,
        meta: Option<&serde_json::Value>,
    ) -> Result<Input, Failure> {
        match given {
            Some(&[mean, std]) if mean.is_finite() && std.is_finite() && std > 0.0 => {
                Ok(Input::Normalized([mean, std]))
            }
            Some(_) => Err(fail(
                "--normalize takes MEAN,STD: two numbers, the second above 0",
            )),
            None => Input::of_run(meta),
        }
    }

    /// `(x - mean) / std` on a float image, or `x` as it is.
    pub fn normalize(self, x: kindling::Tensor) -> kindling::Tensor {
        match self {
            Input::Normalized([mean, std]) => (x - mean) / std,
            _ => x,
        }
    }
}

/// Which split of a dataset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Split {
    /// The 60,000 training images
    Train,
    /// The 10,000 test images
    Test,
}

/// Opens a split, downloading unless told not to; progress goes to stderr.
pub fn open_dataset(
    name: DatasetName,
    split: Split,
    source: &DataSource,
    input: Input,
) -> kindling::Result<kindling::vision::VisionDataset> {
    let mut b = match name {
        DatasetName::Mnist => kindling::vision::MNIST::builder(),
        DatasetName::FashionMnist => kindling::vision::FashionMNIST::builder(),
        DatasetName::Kmnist => kindling::vision::KMNIST::builder(),
    }
    .train(split == Split::Train)
    .download(!source.no_download);
    // Only `--root` is an explicit root: without it the library reads
    // KINDLING_DATA as the command line does, and says so when files are missing.
    if let Some(root) = &source.root {
        b = b.root(root);
    }
    if !source.mirrors.is_empty() {
        b = b.mirrors(source.mirrors.clone());
    }
    match input {
        Input::Raw => {}
        Input::ToTensor => b = b.transform(kindling::data::transforms::ToTensor),
        Input::Normalized([mean, std]) => {
            b = b.transform(kindling::data::transforms::Compose::new(vec![
                Box::new(kindling::data::transforms::ToTensor),
                Box::new(kindling::data::transforms::Normalize::new(&[mean], &[std])),
            ]))
        }
    }
    b.build()
}

/// A class name for captions: "6 - six" → "6"; other names as they are.
pub fn short_class(name: &str) -> &str {
    name.split(" - ").next().unwrap_or(name)
}

/// A command's failure: printed as one line, with its exit code.
pub struct Failure {
    pub message: String,
    pub code: i32,
}

impl From<kindling::Error> for Failure {
    fn from(e: kindling::Error) -> Failure {
        Failure {
            message: e.to_string().replace('\n', " "),
            code: 1,
        }
    }
}

/// The cores this process may use, as PyTorch's default thread count.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// A file's MD5 digest, in hex.
pub fn file_md5(path: &std::path::Path) -> Result<String, Failure> {
    use md5::Digest;
    let bytes = std::fs::read(path).map_err(|e| fail(format!("{}: {e}", path.display())))?;
    Ok(md5::Md5::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect())
}

pub fn fail(message: impl Into<String>) -> Failure {
    Failure {
        message: message.into(),
        code: 1,
    }
}

/// Runs the command line; returns the process exit code.
pub fn run(args: Vec<String>) -> i32 {
    // A bug must still end as one line, not a backtrace.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("error: internal error (a bug in kindling, please report it): {info}");
    }));
    let cli = match Cli::try_parse_from(std::iter::once("kindling".to_string()).chain(args)) {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                let _ = e.print();
                return if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                    2
                } else {
                    0
                };
            }
            let text = e.render().to_string();
            let first = text
                .lines()
                .next()
                .unwrap_or("invalid arguments")
                .trim_start_matches("error: ");
            eprintln!("error: {first} (see 'kindling --help')");
            return 2;
        }
    };
    let result = match cli.command {
        Command::Lecture(a) => lecture::run(a),
        Command::Show(a) => show::run(a),
        Command::Train(a) => train::run(a),
        Command::Eval(a) => models::eval(a),
        Command::Predict(a) => models::predict(a),
        Command::Export(a) => models::export(a),
        Command::Data(a) => data::run(a),
        Command::Bench(a) => bench::run(a),
    };
    match result {
        Ok(()) => 0,
        Err(f) => {
            eprintln!("error: {}", f.message);
            f.code
        }
    }
}
