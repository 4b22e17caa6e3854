//! Exports each reference architecture (seed 0) to ONNX with kindling's
//! logits on the first 100 MNIST test images, for
//! `tests/golden/check_onnx.py` to run in ONNX Runtime. `tests/onnx.rs`
//! checks that kindling still writes the bytes ONNX Runtime ran (by MD5).
//!
//! Run: `cargo run --release --example write_onnx_goldens -- DIR`
//! (with `KINDLING_DATA` pointing at a folder holding MNIST/raw).

use kindling::data::transforms::ToTensor;
use kindling::nn::Module;
use kindling::vision::datasets::MNIST;

#[path = "../tests/common/onnx.rs"]
// Formatted as the tests format it (the examples are formatted wider).
#[rustfmt::skip]
mod onnx;

fn main() -> kindling::Result<()> {
    let dir = std::path::PathBuf::from(std::env::args().nth(1).expect("an output folder"));
    std::fs::create_dir_all(&dir).unwrap();
    let test = MNIST::builder().root(kindling::vision::default_root()).train(false).transform(ToTensor).build()?;
    let images = (&test.data.i(..100).unsqueeze(1).to_dtype(kindling::DType::F32)) / 255.0;
    let mut logits = serde_json::Map::new();
    for arch in onnx::ARCHS {
        let bytes = onnx::onnx_bytes(arch);
        let path = dir.join(format!("{}.onnx", arch.name()));
        std::fs::write(&path, &bytes).unwrap();
        let net = onnx::model(arch);
        let out = kindling::no_grad(|| net.forward(&images))?;
        logits.insert(arch.name().into(), out.to_vec::<f64>().into());
        println!("wrote {} (md5 {})", path.display(), onnx::md5_hex(&bytes));
    }
    std::fs::write(dir.join("kindling_logits.json"), serde_json::Value::Object(logits).to_string()).unwrap();
    Ok(())
}
