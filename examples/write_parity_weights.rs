//! Writes the kindling side of the safetensors round trips checked by
//! `tests/nn_parity.rs` and `tests/modules.rs`: one file per reference
//! architecture and one for the derived `Tower` module, initialised with fixed
//! seeds. `tests/golden/make_nn_goldens.py` and `make_module_goldens.py` load
//! them into PyTorch.
//!
//! Run: `cargo run --release --example write_parity_weights -- tests/golden/nn`
//!
//! With `quickstart PATH`, writes instead the initial weights of
//! `examples/quickstart.rs`'s `linear_relu_stack` (the same layers drawn from
//! the same default generator, so the same numbers) for
//! `tests/golden/make_example_goldens.py`, which gives them to PyTorch's quickstart.

use std::path::PathBuf;

use kindling::nn::models::Arch;
use kindling::nn::{self, Module};

#[path = "../tests/common/tower.rs"]
// Formatted as the tests format it (the examples are formatted wider).
#[rustfmt::skip]
mod tower;

fn main() -> kindling::Result<()> {
    if std::env::args().nth(1).as_deref() == Some("quickstart") {
        let path = PathBuf::from(std::env::args().nth(2).expect("quickstart PATH"));
        kindling::manual_seed(0); // the generator's state at a program's start
        let stack = nn::Sequential::new((
            nn::Linear::new(28 * 28, 512),
            nn::ReLU::new(),
            nn::Linear::new(512, 512),
            nn::ReLU::new(),
            nn::Linear::new(512, 10),
        ));
        stack.save(&path)?;
        println!("wrote {}", path.display());
        return Ok(());
    }
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "tests/golden/nn".into()));
    for (i, arch) in Arch::MLPS.into_iter().enumerate() {
        kindling::manual_seed(42 + i as u64);
        let model = arch.build();
        let path = dir.join(format!("{arch}_kindling.safetensors"));
        model.save(&path)?;
        println!("wrote {}", path.display());
    }
    let path = dir.join("tower_kindling.safetensors");
    tower::Tower::for_pytorch().save(&path)?;
    println!("wrote {}", path.display());
    Ok(())
}
