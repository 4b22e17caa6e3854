//! The models whose ONNX export `tests/golden/check_onnx.py` ran in ONNX
//! Runtime: each reference architecture initialised from seed 0 (`cnn-bn`
//! with running statistics from a formula). Shared by
//! `tests/onnx.rs` and `examples/write_onnx_goldens.rs`, so the test holds
//! kindling to the very bytes ONNX Runtime checked (by MD5).

use kindling::nn::models::{Arch, Net};
use kindling::nn::Module;
use kindling::Tensor;

/// The architectures exported, by CLI name.
pub const ARCHS: [Arch; 5] = [
    Arch::Linear,
    Arch::ThreeBlue,
    Arch::Mlp,
    Arch::Cnn,
    Arch::CnnBn,
];

/// The global generator's turn: every test of a binary that draws from it
/// while another seeds it takes this first.
pub fn rng_turn() -> std::sync::MutexGuard<'static, ()> {
    static GENERATOR: std::sync::Mutex<()> = std::sync::Mutex::new(());
    GENERATOR.lock().unwrap_or_else(|e| e.into_inner())
}

/// Architecture `arch` as exported: seed 0, in eval mode.
pub fn model(arch: Arch) -> Net {
    let _turn = rng_turn();
    kindling::manual_seed(0);
    let net = arch.build();
    if arch == Arch::CnnBn {
        // Running statistics away from 0 and 1, from a formula (not from a
        // forward pass, whose last bits may depend on the CPU's kernels).
        let state: Vec<(String, Tensor)> = net
            .state_dict()
            .into_iter()
            .map(|(k, t)| {
                let n = t.numel();
                let p = |i: usize| ((i * 37) % 251) as f32 / 251.0;
                let v = if k.ends_with("running_mean") {
                    Tensor::from_vec((0..n).map(|i| 0.2 * (p(i) - 0.5)).collect::<Vec<_>>(), [n])
                } else if k.ends_with("running_var") {
                    Tensor::from_vec((0..n).map(|i| 0.5 + p(i)).collect::<Vec<_>>(), [n])
                } else {
                    t
                };
                (k, v)
            })
            .collect();
        net.load_state_dict(&state).unwrap();
    }
    net.eval();
    net
}

/// The ONNX bytes kindling writes for `arch`.
pub fn onnx_bytes(arch: Arch) -> Vec<u8> {
    kindling::io::onnx::to_bytes(&model(arch), &[1, 28, 28]).unwrap()
}

/// Lower-case hex MD5.
pub fn md5_hex(bytes: &[u8]) -> String {
    use md5::Digest;
    md5::Md5::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
