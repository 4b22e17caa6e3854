//! One training step of the `cnn` model at batch 64, and its parts
//! (convolution issue): where an epoch's time goes, without the data loader.
//!
//! Run: `cargo bench --bench cnn_step [-- PART]` (PART: run only the parts
//! whose label contains it, e.g. `pool`, for a profile)
//!
//! Reports the median over 7 rounds of: a whole SGD step (forward, loss,
//! backward, update), the forward pass alone under `no_grad`, conv2's forward
//! and each of its gradients, and inference on one image and on 1000.

use std::hint::black_box;
use std::time::Instant;

use kindling::nn::models::Cnn;
use kindling::nn::{CrossEntropyLoss, Module};
use kindling::optim::{Optimizer, SGD};
use kindling::{manual_seed, no_grad, ConvOptions, Tensor};

/// Prints the median time of `f` over 7 rounds of `iters` calls, unless
/// the command line picks other parts.
fn report(label: &str, iters: usize, mut f: impl FnMut()) {
    let only = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    if only.is_some_and(|o| !label.contains(&o)) {
        return;
    }
    f();
    let mut rounds: Vec<f64> = (0..7)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iters {
                f();
            }
            start.elapsed().as_secs_f64() * 1e3 / iters as f64
        })
        .collect();
    rounds.sort_by(f64::total_cmp);
    println!("{label:<32}{:8.2} ms", rounds[3]);
}

fn main() -> kindling::Result<()> {
    manual_seed(0);
    let net = Cnn::new();
    net.train();
    let x = Tensor::rand([64, 1, 28, 28]);
    let y = Tensor::randint(0, 10, [64]);
    let loss_fn = CrossEntropyLoss::new();
    let mut opt = SGD::new(net.parameters(), 0.01).momentum(0.9);
    report("training step, batch 64:", 5, || {
        let loss = loss_fn.forward(&net.forward(&x).unwrap(), &y).unwrap();
        loss.backward();
        opt.step().unwrap();
        opt.zero_grad();
    });
    report("forward, batch 64, no_grad:", 5, || {
        no_grad(|| black_box(net.forward(&x).unwrap()));
    });

    let h = Tensor::rand([64, 32, 26, 26]).requires_grad_(true);
    let w = Tensor::randn([64, 32, 3, 3]).requires_grad_(true);
    let b = Tensor::randn([64]).requires_grad_(true);
    // Upstream gradients as the layers above would pass them (dense).
    let g2 = Tensor::randn([64, 64, 24, 24]);
    let g1 = Tensor::randn([64, 32, 26, 26]);
    let gp = Tensor::randn([64, 64, 12, 12]);
    report("conv2 forward, batch 64:", 5, || {
        no_grad(|| black_box(h.conv2d(&w, Some(&b), ConvOptions::default())));
    });
    report("conv2 forward + 3 gradients:", 5, || {
        let out = h.conv2d(&w, Some(&b), ConvOptions::default());
        out.backward_with(&g2);
    });
    let hd = h.detach();
    let wd = w.detach();
    report("conv2 forward + input gradient:", 5, || {
        h.conv2d(&wd, None, ConvOptions::default())
            .backward_with(&g2);
    });
    report("conv2 forward + weight gradient:", 5, || {
        hd.conv2d(&w, None, ConvOptions::default())
            .backward_with(&g2);
    });
    report("conv2 forward + bias gradient:", 5, || {
        hd.conv2d(&wd, Some(&b), ConvOptions::default())
            .backward_with(&g2);
    });
    let x1 = Tensor::rand([64, 1, 28, 28]);
    let w1 = Tensor::randn([32, 1, 3, 3]).requires_grad_(true);
    let b1 = Tensor::randn([32]).requires_grad_(true);
    report("conv1 forward + 2 gradients:", 5, || {
        let out = x1.conv2d(&w1, Some(&b1), ConvOptions::default());
        out.backward_with(&g1);
    });
    let a = Tensor::randn([64, 64, 24, 24]).requires_grad_(true);
    report("relu + max_pool2d + gradients:", 5, || {
        let out = a.relu().max_pool2d(2);
        out.backward_with(&gp);
    });

    let bn = kindling::nn::BatchNorm2d::new(32);
    let hb = Tensor::randn([64, 32, 26, 26]).requires_grad_(true);
    report("batch_norm2d forward + gradients:", 5, || {
        bn.forward(&hb).unwrap().backward_with(&g1);
    });

    net.eval();
    let one = Tensor::rand([1, 1, 28, 28]);
    report("inference, 1 image:", 200, || {
        no_grad(|| black_box(net.forward(&one).unwrap()));
    });
    let big = Tensor::rand([1000, 1, 28, 28]);
    report("inference, 1000 images:", 1, || {
        no_grad(|| black_box(net.forward(&big).unwrap()));
    });
    for batch in [50, 100, 250] {
        report(&format!("inference, 1000 images by {batch}:"), 1, || {
            for start in (0..1000).step_by(batch) {
                let chunk = big.slice(0, start as isize, (start + batch) as isize, 1);
                no_grad(|| black_box(net.forward(&chunk).unwrap()));
            }
        });
    }
    Ok(())
}
