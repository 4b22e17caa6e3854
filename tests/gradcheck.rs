//! Every differentiable op's backward agrees with central finite differences in
//! float64. Each check differentiates `sum(f(inputs) * w)` for a fixed random `w`,
//! so every element of the Jacobian contributes.

mod common;

use kindling::{manual_seed, DType, Generator, Tensor};

fn randn(shape: &[usize], seed: u64) -> Tensor {
    Tensor::randn_with(shape, &mut Generator::new(seed)).to_dtype(DType::F64)
}

/// Positive inputs, away from zero (for log, sqrt, pow, div).
fn positive(shape: &[usize], seed: u64) -> Tensor {
    Tensor::rand_with(shape, &mut Generator::new(seed)).to_dtype(DType::F64) + 0.5
}

macro_rules! gradcheck {
    ($($test:ident: [$($input:expr),*] => $f:expr;)*) => {$(
        #[test]
        fn $test() {
            manual_seed(0);
            common::assert_gradcheck(stringify!($test), $f, &[$($input),*], &[]);
        }
    )*};
}

gradcheck! {
    add_broadcast: [randn(&[3, 1], 1), randn(&[4], 2)] => |x| &x[0] + &x[1];
    sub_broadcast: [randn(&[2, 3], 1), randn(&[3], 2)] => |x| &x[0] - &x[1];
    mul_broadcast: [randn(&[2, 1, 3], 1), randn(&[4, 1], 2)] => |x| &x[0] * &x[1];
    div_broadcast: [randn(&[3, 4], 1), positive(&[4], 2)] => |x| &x[0] / &x[1];
    scalar_arith: [randn(&[5], 1)] => |x| ((&x[0] + 2.0) * 3.0 - 1.0) / 7.0;
    rsub_rdiv: [positive(&[5], 1)] => |x| 2.0 - &(1.0 / &x[0]);
    pow_scalar: [randn(&[5], 1)] => |x| x[0].pow_scalar(3);
    pow_tensor: [positive(&[2, 3], 1), randn(&[3], 2)] => |x| x[0].pow(&x[1]);
    maximum: [randn(&[4, 3], 1), randn(&[3], 2)] => |x| x[0].maximum(&x[1]);
    minimum: [randn(&[4, 3], 1), randn(&[3], 2)] => |x| x[0].minimum(&x[1]);
    neg: [randn(&[4], 1)] => |x| -&x[0];
    abs: [randn(&[6], 1)] => |x| x[0].abs();
    exp: [randn(&[3, 3], 1)] => |x| x[0].exp();
    log: [positive(&[3, 3], 1)] => |x| x[0].log();
    sqrt: [positive(&[7], 1)] => |x| x[0].sqrt();
    tanh: [randn(&[7], 1)] => |x| x[0].tanh();
    sigmoid: [randn(&[4, 5], 1)] => |x| x[0].sigmoid();
    relu: [randn(&[4, 5], 1)] => |x| x[0].relu();
    clamp: [randn(&[10], 1)] => |x| x[0].clamp(Some(-0.5), Some(0.5));
    sum_all: [randn(&[3, 4], 1)] => |x| x[0].sum();
    sum_dim: [randn(&[3, 4, 2], 1)] => |x| x[0].sum_dim(1, false);
    sum_dims_keep: [randn(&[3, 4, 2], 1)] => |x| x[0].sum_dims(&[0, 2], true);
    mean_all: [randn(&[3, 4], 1)] => |x| x[0].mean();
    mean_dim: [randn(&[3, 4], 1)] => |x| x[0].mean_dim(-1, true);
    max_all: [randn(&[3, 4], 1)] => |x| x[0].max();
    min_all: [randn(&[3, 4], 1)] => |x| x[0].min();
    max_dim: [randn(&[3, 5], 1)] => |x| x[0].max_dim(1, false).0;
    min_dim: [randn(&[4, 3], 1)] => |x| x[0].min_dim(0, true).0;
    prod_all: [randn(&[2, 3], 1)] => |x| x[0].prod();
    prod_dim_with_zero: [Tensor::from_vec(vec![2.0f64, 0.0, 3.0, 1.5, -1.0, 0.5], [2, 3])] => |x| x[0].prod_dim(1, false);
    var_all: [randn(&[3, 4], 1)] => |x| x[0].var();
    var_dim: [randn(&[3, 4], 1)] => |x| x[0].var_dim(1, true);
    std_all: [randn(&[3, 4], 1)] => |x| x[0].std();
    std_dim: [randn(&[3, 4], 1)] => |x| x[0].std_dim(0, false);
    softmax: [randn(&[3, 5], 1)] => |x| x[0].softmax(1);
    softmax_dim0_3d: [randn(&[2, 3, 4], 1)] => |x| x[0].softmax(1);
    log_softmax: [randn(&[3, 5], 1)] => |x| x[0].log_softmax(-1);
    mm: [randn(&[4, 3], 1), randn(&[3, 5], 2)] => |x| x[0].mm(&x[1]);
    mm_transposed_views: [randn(&[3, 4], 1), randn(&[5, 3], 2)] => |x| x[0].t().mm(&x[1].t());
    addmm: [randn(&[5], 1), randn(&[4, 3], 2), randn(&[3, 5], 3)] => |x| Tensor::addmm(&x[0], &x[1], &x[2]);
    matmul_dot: [randn(&[4], 1), randn(&[4], 2)] => |x| x[0].matmul(&x[1]);
    matmul_mv: [randn(&[3, 4], 1), randn(&[4], 2)] => |x| x[0].matmul(&x[1]);
    matmul_vm: [randn(&[4], 1), randn(&[4, 2], 2)] => |x| x[0].matmul(&x[1]);
    matmul_folded: [randn(&[2, 3, 4], 1), randn(&[4, 5], 2)] => |x| x[0].matmul(&x[1]);
    matmul_batched_broadcast: [randn(&[2, 1, 3, 4], 1), randn(&[3, 4, 2], 2)] => |x| x[0].matmul(&x[1]);
    reshape_view: [randn(&[3, 4], 1)] => |x| x[0].reshape([2, 6]) * 1.5;
    reshape_copy: [randn(&[3, 4], 1)] => |x| x[0].t().reshape([12]);
    flatten_squeeze_unsqueeze: [randn(&[3, 1, 4], 1)] => |x| x[0].squeeze().unsqueeze(0).flatten(0, 1);
    permute_transpose: [randn(&[2, 3, 4], 1)] => |x| x[0].permute(&[2, 0, 1]).transpose(0, 1);
    narrow_slice_select: [randn(&[10, 3], 1)] => |x| x[0].narrow(0, 1, 8).slice(0, 0, 8, 3).select(1, -1);
    index_select_repeats: [randn(&[5, 3], 1)] => |x| x[0].index_select(0, &Tensor::from_slice(&[4i64, 0, 4]));
    gather: [randn(&[3, 4], 1)] => |x| x[0].gather(1, &Tensor::from_vec(vec![0i64, 3, 1, 1, 2, 0], [3, 2]));
    scatter_add: [randn(&[3, 4], 1), randn(&[3, 3], 2)] => |x| x[0].scatter_add(1, &Tensor::from_vec(vec![0i64, 3, 1, 1, 2, 0], [3, 2]), &x[1]);
    where_cond: [randn(&[2, 3], 1), randn(&[3], 2)] => |x| Tensor::where_cond(&Tensor::from_slice(&[true, false, true]), &x[0], &x[1]);
    cat: [randn(&[2, 3], 1), randn(&[2, 1], 2)] => |x| Tensor::cat(&[x[0].clone(), x[1].clone()], 1);
    stack: [randn(&[2, 3], 1), randn(&[2, 3], 2)] => |x| Tensor::stack(&[x[0].clone(), x[1].clone()], 0);
    expand: [randn(&[3, 1], 1)] => |x| x[0].expand([2, 3, 4]);
    contiguous_clone: [randn(&[3, 4], 1)] => |x| x[0].t().contiguous();
    lecture_network: [randn(&[2, 6], 1), randn(&[4, 6], 2), randn(&[4], 3)] => |x| Tensor::addmm(&x[2], &x[0], &x[1].t()).sigmoid().softmax(1);
}

#[test]
fn to_dtype_round_trip() {
    // Through float32 the function is a staircase at 1e-7 resolution: step wider.
    let tol = kindling::autograd::GradcheckTol {
        eps: 1e-2,
        atol: 1e-4,
        rtol: 1e-3,
    };
    kindling::autograd::gradcheck_with(
        |x| x[0].to_dtype(DType::F32).to_dtype(DType::F64) * 2.0,
        &[randn(&[4], 1)],
        &[],
        tol,
    )
    .unwrap_or_else(|e| panic!("to_dtype: {e}"));
}

#[test]
fn gradients_accumulate_across_backward_calls_and_detach_stops_them() {
    let x = Tensor::from_vec(vec![1.0f64, 2.0], [2]).requires_grad_(true);
    (&x * 3.0).sum().backward();
    (&x * 3.0).sum().backward();
    assert_eq!(x.grad().unwrap().to_vec::<f64>(), vec![6.0, 6.0]);
    x.zero_grad();
    assert!(x.grad().is_none());
    let y = (&x.detach() * &x).sum(); // only the second factor carries gradient
    y.backward();
    assert_eq!(x.grad().unwrap().to_vec::<f64>(), vec![1.0, 2.0]);
}

#[test]
fn inputs_that_do_not_require_grad_get_none() {
    let x = randn(&[4, 3], 1);
    let w = randn(&[3, 2], 2).requires_grad_(true);
    x.matmul(&w).sum().backward();
    assert!(x.grad().is_none() && w.grad().is_some());
    assert!(!kindling::no_grad(|| x.matmul(&w)).requires_grad());
}

#[test]
fn backward_errors_name_the_problem() {
    let x = Tensor::ones([2]);
    assert_eq!(
        x.try_backward(None).unwrap_err().to_string(),
        "element 0 of tensors does not require grad and does not have a grad_fn"
    );
    let y = &Tensor::ones([2]).requires_grad_(true) * 2.0;
    assert_eq!(
        y.try_backward(None).unwrap_err().to_string(),
        "grad can be implicitly created only for scalar outputs"
    );
    y.backward_with(&Tensor::from_vec(vec![1.0f32, -1.0], [2]));
}

#[test]
fn shared_subexpressions_sum_their_gradients() {
    let x = Tensor::from_vec(vec![0.5f64, -1.0], [2]).requires_grad_(true);
    let s = x.sigmoid();
    (&s * &s + &s).sum().backward(); // d(s² + s) = (2s + 1)·s(1-s)
    let want: Vec<f64> = x
        .to_vec::<f64>()
        .iter()
        .map(|v| {
            let s = 1.0 / (1.0 + (-v).exp());
            (2.0 * s + 1.0) * s * (1.0 - s)
        })
        .collect();
    for (a, b) in x.grad().unwrap().to_vec::<f64>().iter().zip(want) {
        assert!((a - b).abs() < 1e-12);
    }
}
