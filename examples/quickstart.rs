//! PyTorch's "Learn the Basics" quickstart (beginner_source/basics/quickstart_tutorial.py),
//! its training part, as a new user writes it with kindling: FashionMNIST,
//! `Flatten` then `784-512-512-10` with ReLU, SGD at 1e-3, batch 64, five
//! epochs, no thread setting (the library uses every core, as PyTorch does).
//!
//! Run: `KINDLING_DATA=path/to/data cargo run --release --example quickstart [EPOCHS]`
//! PyTorch's side, for the timing in BENCHMARKS.md: `python benches/pytorch_quickstart.py DATA_ROOT [EPOCHS]`

use std::sync::Arc;

use kindling::data::{transforms::ToTensor, DataLoader, Dataset};
use kindling::nn::{CrossEntropyLoss, Flatten, Linear, Module, ReLU, Sequential};
use kindling::optim::{Optimizer, SGD};
use kindling::vision::{default_root, FashionMNIST, VisionDataset};
use kindling::{no_grad, Result, Tensor};

#[derive(Module)]
#[module(name = "NeuralNetwork")]
struct NeuralNetwork {
    flatten: Flatten,
    linear_relu_stack: Sequential,
}

impl NeuralNetwork {
    fn new() -> NeuralNetwork {
        NeuralNetwork {
            flatten: Flatten::new(),
            linear_relu_stack: Sequential::default()
                .add(Linear::new(28 * 28, 512))
                .add(ReLU::new())
                .add(Linear::new(512, 512))
                .add(ReLU::new())
                .add(Linear::new(512, 10)),
        }
    }
}

impl Module for NeuralNetwork {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.linear_relu_stack.forward(&self.flatten.forward(x)?)
    }
}

fn train(
    loader: &DataLoader<VisionDataset>,
    model: &NeuralNetwork,
    loss_fn: &CrossEntropyLoss,
    optimizer: &mut SGD,
) -> Result<()> {
    let size = loader.dataset().len();
    model.train();
    for (batch, item) in loader.iter().enumerate() {
        let (x, y) = item?;
        let pred = model.forward(&x)?;
        let loss = loss_fn.forward(&pred, &y)?;
        loss.backward();
        optimizer.step()?;
        optimizer.zero_grad();
        if batch % 100 == 0 {
            let (loss, current) = (loss.item().to_f64(), (batch + 1) * x.shape()[0]);
            println!("loss: {loss:>7.6}  [{current:>5}/{size:>5}]");
        }
    }
    Ok(())
}

fn test(
    loader: &DataLoader<VisionDataset>,
    model: &NeuralNetwork,
    loss_fn: &CrossEntropyLoss,
) -> Result<()> {
    let (size, batches) = (loader.dataset().len(), loader.len());
    model.eval();
    let (mut test_loss, mut correct) = (0.0, 0.0);
    no_grad(|| -> Result<()> {
        for item in loader.iter() {
            let (x, y) = item?;
            let pred = model.forward(&x)?;
            test_loss += loss_fn.forward(&pred, &y)?.item().to_f64();
            correct += pred.argmax(1).eq(&y).sum().item().to_f64();
        }
        Ok(())
    })?;
    test_loss /= batches as f64;
    correct /= size as f64;
    println!(
        "Test Error: \n Accuracy: {:>0.1}%, Avg loss: {test_loss:>8.6} \n",
        100.0 * correct
    );
    Ok(())
}

fn main() -> Result<()> {
    let epochs: usize = std::env::args()
        .nth(1)
        .and_then(|e| e.parse().ok())
        .unwrap_or(5);
    let root = default_root();
    let training_data = FashionMNIST::builder()
        .root(&root)
        .train(true)
        .download(true)
        .transform(ToTensor)
        .build()?;
    let test_data = FashionMNIST::builder()
        .root(&root)
        .train(false)
        .download(true)
        .transform(ToTensor)
        .build()?;
    let train_dataloader = DataLoader::new(Arc::new(training_data), 64);
    let test_dataloader = DataLoader::new(Arc::new(test_data), 64);

    let model = NeuralNetwork::new();
    println!("{model}");
    let loss_fn = CrossEntropyLoss::new();
    let mut optimizer = SGD::new(model.parameters(), 1e-3);
    for t in 0..epochs {
        println!("Epoch {}\n-------------------------------", t + 1);
        train(&train_dataloader, &model, &loss_fn, &mut optimizer)?;
        test(&test_dataloader, &model, &loss_fn)?;
    }
    println!("Done!");
    Ok(())
}
