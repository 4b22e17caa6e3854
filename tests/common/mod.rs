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
