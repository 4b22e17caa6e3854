//! Helpers shared by the integration tests: reading PyTorch goldens.
#![allow(dead_code)]

use kindling::{DType, Tensor};
use serde_json::Value;

/// Parses a golden JSON file from `tests/golden/`.
pub fn golden(name: &str) -> Value {
    let path = format!("{}/tests/golden/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    serde_json::from_str(&text).expect("golden JSON")
}

pub fn dtype(name: &str) -> DType {
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
        v => v.as_f64().expect("number"),
    }
}

/// The values of a `{dtype, shape, values}` golden as f64.
pub fn values(t: &Value) -> Vec<f64> {
    t["values"]
        .as_array()
        .expect("values")
        .iter()
        .map(number)
        .collect()
}

pub fn shape(t: &Value) -> Vec<usize> {
    t["shape"]
        .as_array()
        .expect("shape")
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect()
}

/// Builds the tensor a `{dtype, shape, values}` golden describes.
pub fn tensor(t: &Value) -> Tensor {
    let v = values(t);
    let shape = shape(t);
    match dtype(t["dtype"].as_str().unwrap()) {
        DType::F32 => Tensor::from_vec(v.iter().map(|&x| x as f32).collect::<Vec<_>>(), shape),
        DType::F64 => Tensor::from_vec(v, shape),
        DType::I64 => Tensor::from_vec(v.iter().map(|&x| x as i64).collect::<Vec<_>>(), shape),
        DType::U8 => Tensor::from_vec(v.iter().map(|&x| x as u8).collect::<Vec<_>>(), shape),
        DType::Bool => Tensor::from_vec(v.iter().map(|&x| x != 0.0).collect::<Vec<_>>(), shape),
    }
}

/// Asserts `got` matches a golden in dtype, shape and values (see
/// [`assert_values_close`]).
pub fn assert_close(what: &str, got: &Tensor, want: &Value, rtol: f64) {
    assert_eq!(
        got.dtype(),
        dtype(want["dtype"].as_str().unwrap()),
        "{what}: dtype"
    );
    assert_eq!(got.shape(), shape(want).as_slice(), "{what}: shape");
    assert_values_close(what, &got.to_vec::<f64>(), &values(want), rtol);
}

/// Asserts two tensors have one shape and close values (see
/// [`assert_values_close`]).
pub fn assert_tensor_close(what: &str, got: &Tensor, want: &Tensor, rtol: f64) {
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    assert_values_close(what, &got.to_vec::<f64>(), &want.to_vec::<f64>(), rtol);
}

/// The one closeness rule of the tests: each element within `rtol` relative to
/// itself plus `rtol` times the largest magnitude (sums and products accumulate
/// in another order than PyTorch's); NaN matches NaN, infinities match exactly.
pub fn assert_values_close(what: &str, got: &[f64], want: &[f64], rtol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let scale = want
        .iter()
        .filter(|x| x.is_finite())
        .fold(0.0f64, |m, x| m.max(x.abs()));
    for (i, (a, b)) in got.iter().zip(want).enumerate() {
        let ok = (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= rtol * (b.abs() + scale);
        assert!(ok, "{what}: element {i}: kindling {a} vs PyTorch {b}");
    }
}

/// The one gradient check of the tests: the library's
/// [`kindling::autograd::gradcheck_with`] with its default tolerances, as a
/// panic naming the case.
pub fn assert_gradcheck(
    name: &str,
    f: impl Fn(&[Tensor]) -> Tensor,
    inputs: &[Tensor],
    params: &[Tensor],
) {
    if let Err(e) = kindling::autograd::gradcheck_with(f, inputs, params, Default::default()) {
        panic!("{name}: {e}");
    }
}

pub mod fixture;
pub mod server;
pub mod tower;

/// A fresh empty directory under the system temp dir.
pub fn temp_dir(tag: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("kindling-test-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// IDX bytes of unsigned bytes with the given dims.
pub fn idx_bytes(dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        v.extend(d.to_be_bytes());
    }
    v.extend_from_slice(data);
    v
}

/// Gzip-compresses bytes.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// The global generator is shared by the tests of one binary, which run in
/// parallel; tests that draw from it (building models, dropout) take this lock.
pub fn rng_lock() -> std::sync::MutexGuard<'static, ()> {
    static RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());
    RNG.lock().unwrap_or_else(|e| e.into_inner())
}
