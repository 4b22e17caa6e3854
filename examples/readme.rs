//! The README's library example, compiled by `cargo test` (which builds every
//! example) and kept equal to the README by `tests/readme.rs`.
//!
//! Run: `cargo run --release --example readme` (downloads MNIST into `data/`).

// README: begin
use kindling::data::transforms::ToTensor;
use kindling::nn::functional::cross_entropy;
use kindling::prelude::*;
use kindling::vision::MNIST;

#[derive(Module)]
struct Net {
    flatten: nn::Flatten,
    layers: nn::Sequential,
}

impl Module for Net {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.layers.forward(&self.flatten.forward(x)?)
    }
}

fn main() -> Result<()> {
    let train = MNIST::builder().root("data").train(true).download(true).transform(ToTensor).build()?;
    let loader = DataLoader::new(train, 64).shuffle(true);
    let model = Net {
        flatten: nn::Flatten::new(),
        layers: nn::Sequential::new((nn::Linear::new(784, 128), nn::ReLU::new(), nn::Linear::new(128, 10))),
    };
    let mut opt = optim::SGD::new(model.parameters(), 0.1);
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
