//! GEMM crates on the shapes kindling's reference networks use (speed issue).
//!
//! Run: `cargo bench --bench gemm_crates`. matrixmultiply runs single-threaded
//! (its thread count is read once per process from `MATMUL_NUM_THREADS`). The
//! last two columns are kindling's own `mm`, which picks among them by shape.
//!
//! Each cell is the median of 9 rounds of a loop of calls, in µs per call, for
//! `C[m×n] = A[m×k] · B[k×n]` with row-major contiguous f32 operands, and for the
//! layouts the backward pass uses (a transposed operand read in place).

use std::hint::black_box;

use kindling::with_threads;
use kindling::Tensor;
use std::time::Instant;

fn time_us(iters: usize, mut f: impl FnMut()) -> f64 {
    let mut rounds: Vec<f64> = (0..9)
        .map(|_| {
            let s = Instant::now();
            for _ in 0..iters {
                f();
            }
            s.elapsed().as_secs_f64() * 1e6 / iters as f64
        })
        .collect();
    rounds.sort_by(f64::total_cmp);
    rounds[4]
}

/// Strides (row, column) of an operand stored row-major, or transposed in place.
fn strides(rows: usize, cols: usize, transposed: bool) -> (isize, isize) {
    if transposed {
        (1, rows as isize)
    } else {
        (cols as isize, 1)
    }
}

struct Case {
    name: &'static str,
    m: usize,
    k: usize,
    n: usize,
    a_t: bool,
    b_t: bool,
}

fn main() {
    std::env::set_var("MATMUL_NUM_THREADS", "1");
    let cases = [
        Case {
            name: "linear (the lecture's) forward  x·Wᵀ",
            m: 64,
            k: 784,
            n: 10,
            a_t: false,
            b_t: true,
        },
        Case {
            name: "threeblue L1 forward  x·Wᵀ",
            m: 64,
            k: 784,
            n: 16,
            a_t: false,
            b_t: true,
        },
        Case {
            name: "threeblue L1 weight grad gᵀ·x",
            m: 16,
            k: 64,
            n: 784,
            a_t: true,
            b_t: false,
        },
        Case {
            name: "mlp L1 forward  x·Wᵀ",
            m: 64,
            k: 784,
            n: 128,
            a_t: false,
            b_t: true,
        },
        Case {
            name: "mlp L1 weight grad gᵀ·x",
            m: 128,
            k: 64,
            n: 784,
            a_t: true,
            b_t: false,
        },
        Case {
            name: "mlp L2 input grad g·W",
            m: 64,
            k: 64,
            n: 128,
            a_t: false,
            b_t: false,
        },
        Case {
            name: "mlp inference 10k  x·Wᵀ",
            m: 10000,
            k: 784,
            n: 128,
            a_t: false,
            b_t: true,
        },
        Case {
            name: "threeblue inference 10k  x·Wᵀ",
            m: 10000,
            k: 784,
            n: 16,
            a_t: false,
            b_t: true,
        },
    ];
    println!(
        "| shape (m×k · k×n) | role | gemm 1 thr | gemm 2 thr (in pool) | matrixmultiply 1 thr | kindling 1 thr | kindling 2 thr |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    for c in &cases {
        let a: Vec<f32> = (0..c.m * c.k).map(|i| (i % 17) as f32 / 17.0).collect();
        let b: Vec<f32> = (0..c.k * c.n)
            .map(|i| (i % 13) as f32 / 13.0 - 0.5)
            .collect();
        let mut out = vec![0f32; c.m * c.n];
        let (ars, acs) = strides(c.m, c.k, c.a_t);
        let (brs, bcs) = strides(c.k, c.n, c.b_t);
        let iters = (2e8 / (c.m * c.k * c.n) as f64).clamp(3.0, 20000.0) as usize;
        // gemm's f32 kernels as the `gemm` crate calls them for a row-major
        // output: the transposed product, outᵀ = bᵀ · aᵀ (NOTE(gemm-crates)).
        let gemm_call = |out: &mut [f32], par: gemm_common::Parallelism| unsafe {
            gemm_f32::gemm::f32::get_gemm_fn()(
                c.n,
                c.m,
                c.k,
                out.as_mut_ptr(),
                c.n as isize,
                1,
                false,
                b.as_ptr(),
                brs,
                bcs,
                a.as_ptr(),
                ars,
                acs,
                1.0,
                1.0,
                false,
                false,
                false,
                par,
            )
        };
        let g1 = time_us(iters, || {
            gemm_call(black_box(&mut out), gemm_common::Parallelism::None)
        });
        let g2 = pool.install(|| {
            time_us(iters, || {
                gemm_call(black_box(&mut out), gemm_common::Parallelism::Rayon(2))
            })
        });
        let mm = |out: &mut [f32]| unsafe {
            matrixmultiply::sgemm(
                c.m,
                c.k,
                c.n,
                1.0,
                a.as_ptr(),
                ars,
                acs,
                b.as_ptr(),
                brs,
                bcs,
                0.0,
                out.as_mut_ptr(),
                c.n as isize,
                1,
            )
        };
        let m1 = time_us(iters, || mm(black_box(&mut out)));
        // kindling's own dispatch: its 16-wide kernel, halves on a helper thread.
        let operand = |data: &[f32], rows: usize, cols: usize, transposed: bool| {
            if transposed {
                Tensor::from_vec(data.to_vec(), [cols, rows]).t()
            } else {
                Tensor::from_vec(data.to_vec(), [rows, cols])
            }
        };
        let (ta, tb) = (operand(&a, c.m, c.k, c.a_t), operand(&b, c.k, c.n, c.b_t));
        let k1 = with_threads(1, || time_us(iters, || drop(black_box(ta.mm(&tb)))));
        let k2 = with_threads(2, || time_us(iters, || drop(black_box(ta.mm(&tb)))));
        println!(
            "| {}×{} · {}×{} | {} | {g1:.1} µs | {g2:.1} µs | {m1:.1} µs | {k1:.1} µs | {k2:.1} µs |",
            c.m, c.k, c.k, c.n, c.name
        );
    }
}
