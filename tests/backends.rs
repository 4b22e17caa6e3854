//! The CPU backend against the reference backend (plain loops) on random
//! shapes, every dtype and non-contiguous views: elementwise ops, copies,
//! indexing, reductions and max pooling must agree bit for bit (both use the same element
//! functions and the same order of summation); matrix products and
//! convolutions agree to rounding (the reference sums in f64).

use kindling::{AvgPoolOptions, ConvOptions, DType, Device, Generator, PoolOptions, Tensor};
use proptest::prelude::*;

const DTYPES: [DType; 5] = [DType::Bool, DType::U8, DType::I64, DType::F32, DType::F64];

/// A tensor of `shape` and `dtype` with values from `seed`: small integers
/// (so integer ops do not overflow every time) or normal floats.
fn values(shape: &[usize], dtype: DType, seed: u64) -> Tensor {
    let mut g = Generator::new(seed);
    match dtype {
        DType::F32 | DType::F64 => Tensor::randn_with(shape, &mut g).to_dtype(dtype),
        _ => Tensor::randint_with(-4, 9, shape, &mut g).to_dtype(dtype),
    }
}

/// `t` seen through a view: as is, transposed, sliced with a step, or
/// permuted; the values are whatever the view shows.
fn view(t: &Tensor, kind: u8) -> Tensor {
    match (kind % 4, t.dim()) {
        (1, d) if d >= 2 => t.transpose(0, -1),
        (2, d) if d >= 1 && t.shape()[0] >= 2 => t.slice(0, 0, t.shape()[0] as isize, 2),
        (3, d) if d >= 3 => t.permute(&[2, 0, 1]),
        _ => t.clone(),
    }
}

/// The values of `t` as bits, NaN-aware, for exact comparison across dtypes.
fn bits(t: &Tensor) -> Vec<u64> {
    t.to_vec::<f64>()
        .iter()
        .map(|v| if v.is_nan() { u64::MAX } else { v.to_bits() })
        .collect()
}

/// Runs `f` on the CPU and on the reference backend and asserts the results
/// are identical (dtype, shape, every bit).
fn agree(what: &str, inputs: &[Tensor], f: impl Fn(&[Tensor]) -> Tensor) {
    let cpu = f(inputs);
    let moved: Vec<Tensor> = inputs.iter().map(|t| t.to(Device::Reference)).collect();
    let reference = f(&moved);
    assert_eq!(reference.device(), Device::Reference, "{what}");
    assert_eq!(
        (cpu.dtype(), cpu.shape()),
        (reference.dtype(), reference.shape()),
        "{what}"
    );
    assert_eq!(bits(&cpu), bits(&reference), "{what}: {cpu} vs {reference}");
}

fn shape() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..5, 1..4)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn elementwise_ops_agree(shape in shape(), d in 0usize..5, kind in 0u8..4, seed in 0u64..1000) {
        let dtype = DTYPES[d];
        let a = view(&values(&shape, dtype, seed), kind);
        // `b` broadcasts against `a`: its last dim, or a scalar.
        let b = values(&a.shape()[a.dim() - 1..], dtype, seed + 1);
        let s = Tensor::scalar(2i64);
        agree("add", &[a.clone(), b.clone()], |x| &x[0] + &x[1]);
        agree("mul", &[a.clone(), b.clone()], |x| &x[0] * &x[1]);
        agree("div", &[a.clone(), b.clone()], |x| &x[0] / &x[1]);
        agree("maximum", &[a.clone(), b.clone()], |x| x[0].maximum(&x[1]));
        agree("pow", &[a.clone(), b.clone()], |x| x[0].pow(&x[1]));
        agree("gt", &[a.clone(), b.clone()], |x| x[0].gt(&x[1]));
        agree("eq", &[a.clone(), b.clone()], |x| x[0].eq(&x[1]));
        agree("scalar tensor", &[a.clone(), s], |x| &x[0] * &x[1]);
        agree("mul scalar", std::slice::from_ref(&a), |x| &x[0] * 0.5);
        agree("rsub scalar", std::slice::from_ref(&a), |x| 3 - &x[0]);
        agree("compare scalar", std::slice::from_ref(&a), |x| x[0].ge_scalar(1));
        agree("exp", std::slice::from_ref(&a), |x| x[0].exp());
        agree("sigmoid", std::slice::from_ref(&a), |x| x[0].sigmoid());
        agree("sin", std::slice::from_ref(&a), |x| x[0].sin());
        agree("relu", std::slice::from_ref(&a), |x| x[0].relu());
        agree("abs", std::slice::from_ref(&a), |x| x[0].abs());
        agree("sign", std::slice::from_ref(&a), |x| x[0].sign());
        agree("clamp", std::slice::from_ref(&a), |x| x[0].clamp(Some(-1.0), Some(2.0)));
        if dtype != DType::Bool {
            agree("sub", &[a.clone(), b.clone()], |x| &x[0] - &x[1]);
            agree("neg", std::slice::from_ref(&a), |x| -&x[0]);
        }
        let cond = values(a.shape(), DType::F32, seed + 2).gt_scalar(0.0);
        agree("where", &[cond, a.clone(), b.clone()], |x| Tensor::where_cond(&x[0], &x[1], &x[2]));
    }

    #[test]
    fn copies_and_conversions_agree(shape in shape(), d in 0usize..5, to in 0usize..5, kind in 0u8..4, seed in 0u64..1000) {
        let a = view(&values(&shape, DTYPES[d], seed), kind);
        agree("contiguous", std::slice::from_ref(&a), |x| x[0].contiguous());
        agree("to_dtype", std::slice::from_ref(&a), |x| x[0].to_dtype(DTYPES[to]));
        agree("reshape", std::slice::from_ref(&a), |x| x[0].reshape([-1]));
        let dims: &[isize] = if a.dim() > 1 { &[0, -1] } else { &[0] };
        agree("flip", std::slice::from_ref(&a), |x| x[0].flip(dims));
        agree("in place", &[a.clone(), a.clone()], |x| {
            let dst = x[0].clone_tensor();
            dst.add_(&x[1]);
            dst.mul_(&x[1]);
            dst
        });
    }

    #[test]
    fn reductions_agree(shape in shape(), d in 0usize..5, kind in 0u8..4, dim in 0usize..3, seed in 0u64..1000) {
        let dtype = DTYPES[d];
        let a = view(&values(&shape, dtype, seed), kind);
        let dim = (dim % a.dim()) as isize;
        agree("sum", std::slice::from_ref(&a), |x| x[0].sum());
        agree("sum_dim", std::slice::from_ref(&a), |x| x[0].sum_dim(dim, false));
        agree("prod_dim", std::slice::from_ref(&a), |x| x[0].prod_dim(dim, true));
        agree("max_dim values", std::slice::from_ref(&a), |x| x[0].max_dim(dim, false).0);
        agree("argmax_dim", std::slice::from_ref(&a), |x| x[0].argmax_dim(dim, false));
        agree("argmin", std::slice::from_ref(&a), |x| x[0].argmin(None));
        agree("cumsum", std::slice::from_ref(&a), |x| x[0].cumsum(dim));
        if dtype.is_floating_point() {
            agree("var_dim", std::slice::from_ref(&a), |x| x[0].var_dim(dim, false));
            agree("mean", std::slice::from_ref(&a), |x| x[0].mean());
            agree("softmax", std::slice::from_ref(&a), |x| x[0].softmax(dim));
            agree("log_softmax", std::slice::from_ref(&a), |x| x[0].log_softmax(dim));
        }
    }

    #[test]
    fn indexing_agrees(shape in shape(), d in 0usize..5, kind in 0u8..4, seed in 0u64..1000) {
        let a = view(&values(&shape, DTYPES[d], seed), kind);
        let rows = Tensor::randint_with(0, a.shape()[0] as i64, [5], &mut Generator::new(seed));
        agree("index_select", &[a.clone(), rows.clone()], |x| x[0].index_select(0, &x[1]));
        let mut ishape = a.shape().to_vec();
        ishape[0] = 3;
        let picks = Tensor::randint_with(0, a.shape()[0] as i64, ishape.clone(), &mut Generator::new(seed + 1));
        agree("gather", &[a.clone(), picks.clone()], |x| x[0].gather(0, &x[1]));
        if a.dtype() != DType::Bool {
            let src = values(&ishape, a.dtype(), seed + 2);
            agree("scatter_add", &[a.clone(), picks, src], |x| x[0].scatter_add(0, &x[1], &x[2]));
        }
        agree("cat", &[a.clone(), a.clone()], |x| Tensor::cat(&[x[0].clone(), x[1].clone()], -1));
        agree("stack", &[a.clone(), a.clone()], |x| Tensor::stack(&[x[0].clone(), x[1].clone()], 0));
    }

    #[test]
    fn matrix_products_agree_to_rounding(m in 1usize..20, k in 1usize..40, n in 1usize..20, d in 2usize..5, tr in any::<bool>(), seed in 0u64..1000) {
        let dtype = DTYPES[d];
        let a = values(&[m, k], dtype, seed);
        let b = if tr { values(&[n, k], dtype, seed + 1).t() } else { values(&[k, n], dtype, seed + 1) };
        let bias = values(&[n], dtype, seed + 2);
        let cpu = Tensor::addmm(&bias, &a, &b);
        let reference = Tensor::addmm(&bias.to(Device::Reference), &a.to(Device::Reference), &b.to(Device::Reference));
        prop_assert_eq!(reference.device(), Device::Reference);
        let (x, y) = (cpu.to_vec::<f64>(), reference.to_vec::<f64>());
        for (p, q) in x.iter().zip(&y) {
            let tol = if dtype == DType::F32 { 1e-5 } else if dtype == DType::F64 { 1e-12 } else { 0.0 };
            prop_assert!((p - q).abs() <= tol * (1.0 + q.abs()) * k as f64, "{} vs {}", p, q);
        }
        let batched = values(&[2, m, k], dtype, seed + 3);
        let cpu = batched.matmul(&b);
        let reference = batched.to(Device::Reference).matmul(&b.to(Device::Reference));
        for (p, q) in cpu.to_vec::<f64>().iter().zip(&reference.to_vec::<f64>()) {
            let tol = if dtype == DType::F32 { 1e-5 } else if dtype == DType::F64 { 1e-12 } else { 0.0 };
            prop_assert!((p - q).abs() <= tol * (1.0 + q.abs()) * k as f64);
        }
    }

    #[test]
    fn convolutions_and_their_gradients_agree_to_rounding(
        n in 1usize..3, groups in 1usize..3, cg in 1usize..3, og in 1usize..3,
        h in 1usize..8, w in 1usize..8, kh in 1usize..4, kw in 1usize..4,
        stride in 1usize..3, pad in 0usize..3, dil in 1usize..3, f64s in any::<bool>(),
        kind in 0u8..2, seed in 0u64..1000,
    ) {
        let dtype = if f64s { DType::F64 } else { DType::F32 };
        let x = values(&[n, groups * cg, h + 2, w + 2], dtype, seed);
        // A non-contiguous input: the same values seen through a strided slice.
        let x = if kind == 1 { x.slice(3, 0, (w + 2) as isize, 2) } else { x };
        let weight = values(&[groups * og, cg, kh, kw], dtype, seed + 1);
        let bias = values(&[groups * og], dtype, seed + 2);
        let opts = ConvOptions::default().stride(stride).padding(pad).dilation(dil).groups(groups);
        let run = |device: Device| {
            let leaf = |t: &Tensor| t.to(device).detach().requires_grad_(true);
            let (x, weight, bias) = (leaf(&x), leaf(&weight), leaf(&bias));
            let y = x.try_conv2d(&weight, Some(&bias), opts).ok()?;
            let g = values(y.shape(), dtype, seed + 3).to(device);
            (&y * &g).sum().backward();
            Some([y, x.grad()?, weight.grad()?, bias.grad()?].map(|t| t.to_vec::<f64>()))
        };
        let (cpu, reference) = (run(Device::Cpu), run(Device::Reference));
        prop_assert_eq!(cpu.is_some(), reference.is_some());
        let tol = if f64s { 1e-12 } else { 1e-5 };
        for (a, b) in cpu.iter().flatten().zip(reference.iter().flatten()) {
            prop_assert_eq!(a.len(), b.len());
            for (p, q) in a.iter().zip(b) {
                prop_assert!((p - q).abs() <= tol * (1.0 + q.abs()) * 64.0, "{} vs {}", p, q);
            }
        }
    }

    #[test]
    fn max_pooling_agrees(
        shape in prop::collection::vec(1usize..7, 4), d in 1usize..5, k in 1usize..4,
        stride in 1usize..3, pad in 0usize..2, dil in 1usize..3, ceil in any::<bool>(),
        kind in 0u8..3, seed in 0u64..1000,
    ) {
        // As is, with rows and columns swapped, or every other column.
        let a = values(&shape, DTYPES[d], seed);
        let a = match kind % 3 {
            1 => a.transpose(2, 3),
            2 => a.slice(3, 0, shape[3] as isize, 2),
            _ => a,
        };
        let opts = PoolOptions::default().stride(stride).padding(pad.min(k / 2)).dilation(dil).ceil_mode(ceil);
        if a.try_max_pool2d_with_indices(k, opts).is_err() {
            return Ok(());
        }
        agree("max_pool2d", std::slice::from_ref(&a), |x| x[0].max_pool2d_with(k, opts));
        agree("max_pool2d indices", std::slice::from_ref(&a), |x| x[0].max_pool2d_with_indices(k, opts).1);
        if DTYPES[d].is_floating_point() {
            let avg = AvgPoolOptions::default().stride(stride).padding(pad.min(k / 2)).ceil_mode(ceil).count_include_pad(dil == 1);
            agree("avg_pool2d", std::slice::from_ref(&a), |x| x[0].avg_pool2d_with(k, avg));
            agree("adaptive_avg_pool2d", std::slice::from_ref(&a), |x| x[0].adaptive_avg_pool2d((k + 1, stride + 1)));
            agree("adaptive_max_pool2d", std::slice::from_ref(&a), |x| x[0].adaptive_max_pool2d((k + 1, stride + 1)));
            agree("adaptive_max_pool2d indices", std::slice::from_ref(&a), |x| x[0].adaptive_max_pool2d_with_indices((k + 1, stride + 1)).1);
            agree("adaptive_max_pool2d gradient", std::slice::from_ref(&a), |x| {
                let x = x[0].detach().requires_grad_(true);
                x.adaptive_max_pool2d((k + 1, stride + 1)).sum().backward();
                x.grad().unwrap()
            });
            agree("max_pool2d gradient", std::slice::from_ref(&a), |x| {
                let x = x[0].detach().requires_grad_(true);
                x.max_pool2d_with(k, opts).sum().backward();
                x.grad().unwrap()
            });
        }
    }
}

#[test]
fn a_training_step_agrees() {
    // Linear layers, cross-entropy and SGD with momentum, Adadelta or RMSprop: three
    // steps on each backend end at weights that agree to rounding.
    use kindling::nn::functional::cross_entropy;
    use kindling::optim::{Adadelta, Optimizer, RMSprop, SGD};
    let run = |device: Device, make: &dyn Fn(Vec<Tensor>) -> Box<dyn Optimizer>| {
        let mut g = Generator::new(3);
        let w = Tensor::randn_with([10, 20], &mut g)
            .to(device)
            .requires_grad_(true);
        let x = Tensor::randn_with([8, 20], &mut g).to(device);
        let y = Tensor::randint_with(0, 10, [8], &mut g).to(device);
        let mut opt = make(vec![w.clone()]);
        for _ in 0..3 {
            let loss = cross_entropy(&x.matmul(&w.t()).sigmoid(), &y).unwrap();
            opt.zero_grad();
            loss.backward();
            opt.step().unwrap();
        }
        assert_eq!(w.device(), device);
        w.to_vec::<f32>()
    };
    let optimizers: [&dyn Fn(Vec<Tensor>) -> Box<dyn Optimizer>; 3] = [
        &|ps| Box::new(SGD::new(ps, 0.1).momentum(0.9)),
        &|ps| Box::new(Adadelta::new(ps, 1.0)),
        &|ps| Box::new(RMSprop::new(ps, 0.01).momentum(0.5).centered(true)),
    ];
    for make in optimizers {
        let (cpu, reference) = (run(Device::Cpu, make), run(Device::Reference, make));
        for (a, b) in cpu.iter().zip(&reference) {
            assert!((a - b).abs() <= 1e-5 * (1.0 + b.abs()), "{a} vs {b}");
        }
    }
}

#[test]
fn max_pooling_breaks_ties_and_nans_as_the_reference() {
    // Every 2×2 window over {-0.0, 0.0, 1.0, NaN, -inf}: the first maximum
    // wins a tie (-0.0 before 0.0 keeps -0.0), the last NaN wins over all, in
    // float32 (the tiled fast path), float64, and with a 3×3 kernel.
    let set = [-0.0f64, 0.0, 1.0, f64::NAN, f64::NEG_INFINITY];
    let mut v = Vec::new();
    for i in 0..set.len().pow(4) {
        // Window i lies in plane i, as [[a, b], [c, d]].
        v.extend((0..4).map(|t| set[i / set.len().pow(t) % set.len()]));
    }
    let windows = Tensor::from_vec(v, [1, set.len().pow(4), 2, 2]);
    for dtype in [DType::F32, DType::F64] {
        let x = windows.to_dtype(dtype);
        agree("max_pool2d", std::slice::from_ref(&x), |x| {
            x[0].max_pool2d(2)
        });
        agree("indices", std::slice::from_ref(&x), |x| {
            x[0].max_pool2d_with_indices(2, PoolOptions::default()).1
        });
        agree("adaptive indices", std::slice::from_ref(&x), |x| {
            x[0].adaptive_max_pool2d_with_indices(1).1
        });
        // The same windows side by side in one plane, for the row loop.
        let wide = x
            .reshape([1, 1, 25, 25, 2, 2])
            .permute(&[0, 1, 2, 4, 3, 5])
            .reshape([1, 1, 50, 50]);
        agree("wide", std::slice::from_ref(&wide), |x| {
            x[0].max_pool2d_with_indices(2, PoolOptions::default()).1
        });
        agree("3x3", std::slice::from_ref(&wide), |x| {
            x[0].max_pool2d_with_indices(3, PoolOptions::default()).1
        });
    }
}

#[test]
fn per_channel_broadcasts_agree_with_the_reference() {
    // A per-channel operand against [N, C, H, W] (the block fast path), on
    // either side, contiguous or a strided view, for each binary op.
    let x = values(&[3, 4, 5, 6], DType::F32, 1);
    let per_channel = values(&[1, 4, 1, 1], DType::F32, 2);
    let strided = values(&[4, 2], DType::F32, 3)
        .slice(1, 0, 1, 1)
        .reshape([4, 1, 1]);
    let rows = values(&[3, 4, 1, 1], DType::F32, 4);
    for small in [&per_channel, &strided, &rows] {
        let inputs = [x.clone(), small.clone()];
        agree("x + c", &inputs, |t| &t[0] + &t[1]);
        agree("c - x", &inputs, |t| &t[1] - &t[0]);
        agree("x * c", &inputs, |t| &t[0] * &t[1]);
        agree("c / x", &inputs, |t| &t[1] / &t[0]);
    }
}
