//! Writes the kindling side of the safetensors round trip checked by
//! `tests/nn_parity.rs`: one file per reference architecture, initialised with a
//! fixed seed. `tests/golden/make_nn_goldens.py` loads them into PyTorch.
//!
//! Run: `cargo run --release --example write_parity_weights -- tests/golden/nn`

use std::path::PathBuf;

use kindling::nn::models::Arch;
use kindling::nn::Module;

fn main() -> kindling::Result<()> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "tests/golden/nn".into()),
    );
    for (i, arch) in Arch::ALL.into_iter().enumerate() {
        kindling::manual_seed(42 + i as u64);
        let model = arch.build();
        let path = dir.join(format!("{arch}_kindling.safetensors"));
        model.save(&path)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
