//! Autograd's own behaviour: accumulation across backward calls, detach,
//! inputs that do not require grad, and its error messages. Each op's gradient
//! is checked next to the op (`src/ops/*.rs`, `tests::gradcheck`).

use kindling::testing::randn;
use kindling::Tensor;

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
