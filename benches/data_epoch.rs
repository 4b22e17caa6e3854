//! Data loading speed (issue: datasets and DataLoader).
//!
//! Run: `KINDLING_DATA=path/to/data cargo bench --bench data_epoch`
//! PyTorch's side: `python benches/pytorch_data.py path/to/data`
//!
//! Reports the time from nothing to the first batch (reading and decompressing
//! the gzipped IDX files), and one epoch of MNIST train at batch 64 with ToTensor
//! and shuffling, no model (min and median of 7 epochs).

use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

use kindling::data::transforms::ToTensor;
use kindling::data::DataLoader;
use kindling::vision::{default_root, MNIST};

fn main() -> kindling::Result<()> {
    let start = Instant::now();
    let train = Arc::new(
        MNIST::builder()
            .root(default_root())
            .train(true)
            .transform(ToTensor)
            .build()?,
    );
    let loader = DataLoader::new(train, 64).shuffle(true).seed(0);
    let first = loader.iter().next().expect("a batch")?;
    let to_first = start.elapsed();
    black_box(first);
    println!(
        "open MNIST train (gzip) + first batch:  {:8.1} ms",
        to_first.as_secs_f64() * 1e3
    );

    let mut times = Vec::new();
    for _ in 0..7 {
        let t = Instant::now();
        let mut n = 0;
        for batch in &loader {
            let (x, y) = batch?;
            n += y.numel();
            black_box(&x);
        }
        assert_eq!(n, 60000);
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    println!(
        "epoch, batch 64, ToTensor, shuffle:     {:8.1} ms min, {:.1} ms median",
        times[0] * 1e3,
        times[3] * 1e3
    );
    Ok(())
}
