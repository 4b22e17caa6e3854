//! Per-op overhead of the engine (issue: tensor engine).
//!
//! Run: `cargo bench --bench overhead`
//! PyTorch's side on the same machine: `python benches/pytorch_overhead.py`
//!
//! Reports the median over 7 rounds of:
//! - one small op with graph recording: `a + b` on 64×16 float32, `a` requiring grad;
//! - one forward + backward of a linear layer's `addmm` at 64×784 · 784×16, with
//!   `x` not requiring grad (as a data batch does).

use std::hint::black_box;
use std::time::Instant;

use kindling::{manual_seed, Tensor};

fn time_per_iter(iters: usize, mut f: impl FnMut()) -> f64 {
    let mut rounds: Vec<f64> = (0..7)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iters {
                f();
            }
            start.elapsed().as_secs_f64() / iters as f64
        })
        .collect();
    rounds.sort_by(f64::total_cmp);
    rounds[3]
}

fn main() {
    manual_seed(0);
    let a = Tensor::randn([64, 16]).requires_grad_(true);
    let b = Tensor::randn([64, 16]);
    let add = time_per_iter(200_000, || {
        black_box(&a + &b);
    });
    println!(
        "add 64x16 f32 with graph recording:          {:7.3} us/op",
        add * 1e6
    );

    let a_nograd = Tensor::randn([64, 16]);
    let add_plain = time_per_iter(200_000, || {
        black_box(&a_nograd + &b);
    });
    println!(
        "add 64x16 f32 without grad:                  {:7.3} us/op",
        add_plain * 1e6
    );

    let x = Tensor::rand([64, 784]);
    let w = Tensor::randn([16, 784]).requires_grad_(true);
    let bias = Tensor::randn([16]).requires_grad_(true);
    let fwd_bwd = time_per_iter(5_000, || {
        let y = Tensor::addmm(&bias, &x, &w.t());
        y.sum().backward();
        w.zero_grad();
        bias.zero_grad();
    });
    println!(
        "addmm 64x784 . 784x16 forward+backward:      {:7.3} us/iter",
        fwd_bwd * 1e6
    );

    let fwd = time_per_iter(20_000, || {
        black_box(Tensor::addmm(&bias, &x, &w.t()));
    });
    println!(
        "addmm 64x784 . 784x16 forward only:          {:7.3} us/iter",
        fwd * 1e6
    );
}
