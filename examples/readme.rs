//! The README's library example, compiled by `cargo test` (which builds every
//! example) and kept equal to the README by `tests/readme.rs`.
//!
//! Run: `cargo run --release --example readme` (downloads MNIST into `data/`).

// README: begin
use std::sync::Arc;

use kindling::data::{transforms::ToTensor, DataLoader};
use kindling::nn::functional::cross_entropy;
use kindling::nn::{Flatten, Linear, Module, ReLU, Sequential};
use kindling::optim::{Optimizer, SGD};
use kindling::train::tqdm;
use kindling::vision::MNIST;
use kindling::{Result, Tensor};

#[derive(Module)]
struct Net {
    flatten: Flatten,
    layers: Sequential,
}

impl Module for Net {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.layers.forward(&self.flatten.forward(x)?)
    }
}

fn main() -> Result<()> {
    let train = MNIST::builder()
        .root("data")
        .train(true)
        .download(true)
        .transform(ToTensor);
    let loader = DataLoader::new(Arc::new(train.build()?), 64).shuffle(true);
    let layers = Sequential::default()
        .add(Linear::new(784, 128))
        .add(ReLU::new())
        .add(Linear::new(128, 10));
    let model = Net {
        flatten: Flatten::new(),
        layers,
    };
    let mut opt = SGD::new(model.parameters(), 0.1);
    for epoch in 1..=3 {
        let pbar = tqdm(&loader).desc(format!("epoch {epoch}"));
        for batch in &pbar {
            let (x, y) = batch?;
            let loss = cross_entropy(&model.forward(&x)?, &y)?;
            opt.zero_grad();
            loss.backward();
            opt.step()?;
            pbar.set_postfix(&[("loss", loss.item().to_f64())]);
        }
    }
    println!("{model}");
    Ok(())
}
// README: end
