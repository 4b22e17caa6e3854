//! Helpers shared by the integration tests: reading PyTorch goldens.
#![allow(dead_code, unused_imports)]

use kindling::Tensor;
use serde_json::Value;

/// Parses a golden JSON file from `tests/golden/`.
pub fn golden(name: &str) -> Value {
    let path = format!("{}/tests/golden/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    serde_json::from_str(&text).expect("golden JSON")
}

pub use kindling::testing::{
    dtype_named as dtype, json_shape as shape, json_tensor as tensor, json_values as values,
};

/// Asserts `got` matches a golden in dtype, shape and values.
pub fn assert_close(what: &str, got: &Tensor, want: &Value, rtol: f64) {
    kindling::testing::assert_matches_json(what, got, want, rtol);
}

/// Asserts two tensors have one shape and close values.
pub fn assert_tensor_close(what: &str, got: &Tensor, want: &Tensor, rtol: f64) {
    kindling::testing::assert_close(what, got, want, rtol);
}

/// The one closeness rule of the tests ([`kindling::testing::close_values`]).
pub fn assert_values_close(what: &str, got: &[f64], want: &[f64], rtol: f64) {
    if let Err(e) = kindling::testing::close_values(got, want, rtol) {
        panic!("{what}: {e}");
    }
}

pub use kindling::testing::assert_gradcheck;

pub mod fixture;
pub mod onnx;
pub mod pth;
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
/// (One lock with `onnx::rng_turn`, which the ONNX example shares.)
pub fn rng_lock() -> std::sync::MutexGuard<'static, ()> {
    onnx::rng_turn()
}

/// The text with every number replaced by `#`, and the numbers.
pub fn split_numbers(text: &str) -> (String, Vec<f64>) {
    let (mut shape, mut numbers, mut current) = (String::new(), Vec::new(), String::new());
    let flush = |current: &mut String, shape: &mut String, numbers: &mut Vec<f64>| {
        if !current.is_empty() {
            match current.parse::<f64>() {
                Ok(v) => {
                    numbers.push(v);
                    shape.push('#');
                }
                Err(_) => shape.push_str(current),
            }
            current.clear();
        }
    };
    for c in text.chars() {
        let continues = c.is_ascii_digit() || (c == '.' && !current.is_empty());
        if continues || (c == '-' && current.is_empty()) {
            current.push(c);
        } else {
            flush(&mut current, &mut shape, &mut numbers);
            shape.push(c);
        }
    }
    flush(&mut current, &mut shape, &mut numbers);
    (shape, numbers)
}

/// Decodes standard base64 (RFC 4648, padded): the tests' own, to check what
/// the library encodes.
pub fn base64_decode(s: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let mut out = Vec::new();
    for chunk in s.as_bytes().chunks(4) {
        let pad = chunk.iter().filter(|&&c| c == b'=').count();
        let n = chunk
            .iter()
            .map(|&c| if c == b'=' { 0 } else { u32::from(value(c)) })
            .fold(0u32, |n, v| n << 6 | v);
        out.extend_from_slice(&n.to_be_bytes()[1..4 - pad]);
    }
    out
}
