//! `kindling bench`: the speed jobs of BENCHMARKS.md, with fixed seeds.

use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use kindling::data::DataLoader;
use kindling::nn::functional::cross_entropy;
use kindling::nn::models::Arch;
use kindling::nn::Module;
use kindling::optim::{Optimizer, SGD};
use serde_json::json;

use super::{fail, open_dataset, DataSource, DatasetName, Failure, Input, Split};

#[derive(Args)]
pub struct BenchArgs {
    #[command(flatten)]
    source: DataSource,
    /// Jobs to run (threeblue, mlp, linear)
    #[arg(long, value_delimiter = ',', default_value = "threeblue,mlp")]
    jobs: Vec<String>,
    /// Timed epochs per job (each from freshly initialised weights)
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Threads for the matrix products and optimizer updates (default: the
    /// cores available); the numbers are the same for every count
    #[arg(long, default_value_t = super::default_threads())]
    threads: usize,
    /// Print one JSON object instead of the table
    #[arg(long)]
    json: bool,
}

/// The peak resident memory of this process so far, in MiB (Linux).
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

pub fn run(args: BenchArgs) -> Result<(), Failure> {
    if args.runs == 0 || args.threads == 0 {
        return Err(fail("--runs and --threads must be at least 1"));
    }
    kindling::with_threads(args.threads, || jobs(&args))
}

fn jobs(args: &BenchArgs) -> Result<(), Failure> {
    let train = Arc::new(open_dataset(
        DatasetName::Mnist,
        Split::Train,
        &args.source,
        Input::ToTensor,
    )?);
    let test = open_dataset(DatasetName::Mnist, Split::Test, &args.source, Input::Raw)?;
    let x_test = &test.data / 255;
    let y_test = test.targets.clone();
    let mut results = Vec::new();
    if !args.json {
        println!("job        epoch min   epoch median   samples/s   infer 10k min   images/s   1 image   64 images    test acc");
    }
    for job in &args.jobs {
        let arch: Arch = job.parse()?;
        // The learning rates of the PyTorch reference run (pytorch_lecture.py).
        let lr = match arch {
            Arch::ThreeBlue => 1.0,
            Arch::Cnn | Arch::CnnBn => 0.05,
            _ => 0.1,
        };
        let mut epochs = Vec::new();
        let mut model = None;
        for _ in 0..args.runs {
            kindling::manual_seed(0);
            let net = arch.build();
            let mut opt = SGD::new(net.parameters(), lr);
            let loader = DataLoader::new(train.clone(), 64).shuffle(true).seed(0);
            let start = Instant::now();
            for batch in loader.iter_epoch(0) {
                let (x, y) = batch?;
                let loss = cross_entropy(&net.forward(&x)?, &y)?;
                opt.zero_grad();
                loss.backward();
                opt.step()?;
            }
            epochs.push(start.elapsed().as_secs_f64());
            model = Some(net);
        }
        let net = model.expect("at least one run");
        net.eval();
        // The MLPs take the 10k test images as one batch; the convolutional
        // network takes them in batches (`Arch::eval_batch_size`).
        let chunk = if arch.is_convolutional() {
            arch.eval_batch_size()
        } else {
            x_test.shape()[0]
        };
        let predict_all = || -> kindling::Result<kindling::Tensor> {
            let parts = (0..x_test.shape()[0])
                .step_by(chunk)
                .map(|i| {
                    let rows = chunk.min(x_test.shape()[0] - i);
                    net.forward(&x_test.narrow(0, i, rows)).map(|l| l.argmax(1))
                })
                .collect::<kindling::Result<Vec<_>>>()?;
            Ok(kindling::Tensor::cat(&parts, 0))
        };
        let mut infer = Vec::new();
        let mut accuracy = 0.0;
        for _ in 0..5 {
            let start = Instant::now();
            let pred = kindling::no_grad(predict_all)?;
            infer.push(start.elapsed().as_secs_f64());
            accuracy = pred
                .eq(&y_test)
                .to_dtype(kindling::DType::F64)
                .mean()
                .item()
                .to_f64();
        }
        // Latency of one image and of one batch of 64: the sizes of `predict` and
        // of the lecture's loops, where per-op overhead rather than arithmetic
        // decides (median of 200 calls each).
        let latency = |rows: usize| -> Result<f64, Failure> {
            let x = x_test.narrow(0, 0, rows);
            let mut times = Vec::with_capacity(200);
            for _ in 0..200 {
                let start = Instant::now();
                let pred = kindling::no_grad(|| net.forward(&x).map(|l| l.argmax(1)))?;
                times.push(start.elapsed().as_secs_f64());
                std::hint::black_box(pred);
            }
            times.sort_by(f64::total_cmp);
            Ok(times[times.len() / 2])
        };
        let (one, batch) = (latency(1)?, latency(64)?);
        epochs.sort_by(f64::total_cmp);
        infer.sort_by(f64::total_cmp);
        let (min, median, imin) = (epochs[0], epochs[epochs.len() / 2], infer[0]);
        if !args.json {
            println!(
                "{:<10} {:>8.1} ms {:>11.1} ms {:>11.0} {:>12.2} ms {:>10.0} {:>6.1} µs {:>8.1} µs {:>10.2}%",
                arch.name(),
                min * 1e3,
                median * 1e3,
                60000.0 / min,
                imin * 1e3,
                10000.0 / imin,
                one * 1e6,
                batch * 1e6,
                accuracy * 100.0
            );
        }
        results.push(json!({
            "job": arch.name(), "epoch_s_min": min, "epoch_s_median": median, "samples_per_s": 60000.0 / min,
            "infer10k_s_min": imin, "images_per_s": 10000.0 / imin, "infer1_s_median": one,
            "infer64_s_median": batch, "test_accuracy": accuracy,
        }));
    }
    let rss = peak_rss_mib();
    if args.json {
        println!(
            "{}",
            json!({"threads": args.threads, "runs": args.runs, "peak_rss_mib": rss, "jobs": results})
        );
    } else if let Some(rss) = rss {
        println!("peak RSS {rss:.1} MiB, {} thread(s)", args.threads);
    }
    Ok(())
}
