//! What kindling's own tests check with, for tests of code built on it, as
//! `torch.testing`: one closeness rule, a gradient check that panics with the
//! case's name, float64 inputs from fixed seeds, and tensors from the JSON
//! goldens PyTorch scripts write (`{"dtype", "shape", "values"}`).

use serde_json::Value;

use crate::tensor::{DType, Generator, Tensor};

/// The closeness rule of every kindling test: each element within `rtol` of
/// itself plus `rtol` times the largest magnitude (sums and products
/// accumulate in another order than PyTorch's); NaN matches NaN, infinities
/// match exactly.
///
/// # Errors
/// The first element that is not close, with both values.
pub fn close_values(got: &[f64], want: &[f64], rtol: f64) -> Result<(), String> {
    if got.len() != want.len() {
        return Err(format!("{} values, expected {}", got.len(), want.len()));
    }
    let scale = want
        .iter()
        .filter(|x| x.is_finite())
        .fold(0.0f64, |m, x| m.max(x.abs()));
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        let ok = (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= rtol * (b.abs() + scale);
        if !ok {
            return Err(format!("element {i}: got {a}, expected {b}"));
        }
    }
    Ok(())
}

/// Panics unless `got` has `want`'s shape and close values ([`close_values`]).
#[track_caller]
pub fn assert_close(what: &str, got: &Tensor, want: &Tensor, rtol: f64) {
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    if let Err(e) = close_values(&got.to_vec::<f64>(), &want.to_vec::<f64>(), rtol) {
        panic!("{what}: {e}");
    }
}

/// Panics, naming `name`, unless `f`'s backward agrees with finite differences
/// ([`crate::autograd::gradcheck_with`] with its default tolerances).
#[track_caller]
pub fn assert_gradcheck(
    name: &str,
    f: impl Fn(&[Tensor]) -> Tensor,
    inputs: &[Tensor],
    params: &[Tensor],
) {
    if let Err(e) = crate::autograd::gradcheck_with(f, inputs, params, Default::default()) {
        panic!("{name}: {e}");
    }
}

/// A float64 tensor of standard normal values from the generator `seed`.
pub fn randn(shape: &[usize], seed: u64) -> Tensor {
    Tensor::randn_with(shape, &mut Generator::new(seed)).to_dtype(DType::F64)
}

/// A float64 tensor of values in `[0.5, 1.5)` (for log, sqrt, pow, div).
pub fn positive(shape: &[usize], seed: u64) -> Tensor {
    Tensor::rand_with(shape, &mut Generator::new(seed)).to_dtype(DType::F64) + 0.5
}

/// The dtype named as PyTorch's goldens name it (`float32`, `int64`, ...).
pub fn dtype_named(name: &str) -> DType {
    match name {
        "float32" => DType::F32,
        "float64" => DType::F64,
        "int64" => DType::I64,
        "uint8" => DType::U8,
        "bool" => DType::Bool,
        other => panic!("unknown dtype {other}"),
    }
}

fn number(v: &Value) -> f64 {
    match v {
        Value::String(s) if s == "nan" => f64::NAN,
        Value::String(s) if s == "inf" => f64::INFINITY,
        Value::String(s) if s == "-inf" => f64::NEG_INFINITY,
        Value::Bool(b) => *b as u8 as f64,
        v => v.as_f64().expect("a number"),
    }
}

/// The values of a `{dtype, shape, values}` golden, as f64.
pub fn json_values(t: &Value) -> Vec<f64> {
    t["values"]
        .as_array()
        .expect("values")
        .iter()
        .map(number)
        .collect()
}

/// The shape of a `{dtype, shape, values}` golden.
pub fn json_shape(t: &Value) -> Vec<usize> {
    t["shape"]
        .as_array()
        .expect("shape")
        .iter()
        .map(|d| d.as_u64().expect("a size") as usize)
        .collect()
}

/// The tensor a `{dtype, shape, values}` golden describes.
pub fn json_tensor(t: &Value) -> Tensor {
    let v = json_values(t);
    let shape = json_shape(t);
    match dtype_named(t["dtype"].as_str().expect("dtype")) {
        DType::F32 => Tensor::from_vec(v.iter().map(|&x| x as f32).collect::<Vec<_>>(), shape),
        DType::F64 => Tensor::from_vec(v, shape),
        DType::I64 => Tensor::from_vec(v.iter().map(|&x| x as i64).collect::<Vec<_>>(), shape),
        DType::U8 => Tensor::from_vec(v.iter().map(|&x| x as u8).collect::<Vec<_>>(), shape),
        DType::Bool => Tensor::from_vec(v.iter().map(|&x| x != 0.0).collect::<Vec<_>>(), shape),
    }
}

/// Panics unless `got` matches a golden in dtype, shape and values.
#[track_caller]
pub fn assert_matches_json(what: &str, got: &Tensor, want: &Value, rtol: f64) {
    assert_eq!(
        got.dtype(),
        dtype_named(want["dtype"].as_str().expect("dtype")),
        "{what}: dtype"
    );
    assert_eq!(got.shape(), json_shape(want).as_slice(), "{what}: shape");
    if let Err(e) = close_values(&got.to_vec::<f64>(), &json_values(want), rtol) {
        panic!("{what}: {e}");
    }
}

pub mod fuzz;
