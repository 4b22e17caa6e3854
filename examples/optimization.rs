//! PyTorch's "Optimizing Model Parameters" tutorial
//! (beginner_source/basics/optimization_tutorial.py), statement by statement:
//! each Python statement is the comment above its Rust. FashionMNIST, the
//! quickstart's network, SGD at 1e-3, batch 64, ten epochs (an argument sets
//! fewer: `tests/examples.rs` runs one, against PyTorch from the same
//! initial weights). The tutorial's hyperparameter `batch_size` is a global
//! that `train_loop` reads: here a `const`. `root="data"` is the dataset builder's default root
//! (`data`, or `KINDLING_DATA` when set); `with torch.no_grad():` is a
//! `NoGradGuard`, which holds until the end of the enclosing block.
//!
//! Run: `KINDLING_DATA=path/to/data cargo run --release --example optimization [EPOCHS]`

// import torch
// from torch import nn
// from torch.utils.data import DataLoader
// from torchvision import datasets
// from torchvision.transforms import ToTensor
use kindling::{data::transforms::ToTensor, prelude::*, vision::FashionMNIST};

// class NeuralNetwork(nn.Module):
#[derive(Module, Forward)]
struct NeuralNetwork {
    flatten: nn::Flatten,
    linear_relu_stack: nn::Sequential,
}

impl NeuralNetwork {
    // def __init__(self):
    fn new() -> NeuralNetwork {
        // super().__init__()
        NeuralNetwork {
            // self.flatten = nn.Flatten()
            flatten: nn::Flatten::new(),
            // self.linear_relu_stack = nn.Sequential(
            //     nn.Linear(28*28, 512),
            //     nn.ReLU(),
            //     nn.Linear(512, 512),
            //     nn.ReLU(),
            //     nn.Linear(512, 10),
            // )
            linear_relu_stack: nn::Sequential::new((
                nn::Linear::new(28 * 28, 512),
                nn::ReLU::new(),
                nn::Linear::new(512, 512),
                nn::ReLU::new(),
                nn::Linear::new(512, 10),
            )),
        }
    }

    // def forward(self, x):
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        // x = self.flatten(x)
        let x = self.flatten.forward(x)?;
        // logits = self.linear_relu_stack(x)
        let logits = self.linear_relu_stack.forward(&x)?;
        // return logits
        Ok(logits)
    }
}

// batch_size = 64
const BATCH_SIZE: usize = 64;

// def train_loop(dataloader, model, loss_fn, optimizer):
fn train_loop(
    dataloader: &DataLoader, model: &NeuralNetwork, loss_fn: &nn::CrossEntropyLoss, optimizer: &mut optim::SGD,
) -> Result<()> {
    // size = len(dataloader.dataset)
    let size = dataloader.dataset().len();
    // model.train()
    model.train();
    // for batch, (X, y) in enumerate(dataloader):
    for (batch, item) in dataloader.iter().enumerate() {
        let (x, y) = item?;
        // pred = model(X)
        let pred = model.forward(&x)?;
        // loss = loss_fn(pred, y)
        let loss = loss_fn.forward(&pred, &y)?;
        // loss.backward()
        loss.backward();
        // optimizer.step()
        optimizer.step()?;
        // optimizer.zero_grad()
        optimizer.zero_grad();
        // if batch % 100 == 0:
        if batch % 100 == 0 {
            // loss, current = loss.item(), batch * batch_size + len(X)
            let (loss, current) = (loss.item().to_f64(), batch * BATCH_SIZE + x.shape()[0]);
            // print(f"loss: {loss:>7f}  [{current:>5d}/{size:>5d}]")
            println!("loss: {loss:>7.6}  [{current:>5}/{size:>5}]");
        }
    }
    Ok(())
}

// def test_loop(dataloader, model, loss_fn):
fn test_loop(dataloader: &DataLoader, model: &NeuralNetwork, loss_fn: &nn::CrossEntropyLoss) -> Result<()> {
    // model.eval()
    model.eval();
    // size = len(dataloader.dataset)
    let size = dataloader.dataset().len();
    // num_batches = len(dataloader)
    let num_batches = dataloader.len();
    // test_loss, correct = 0, 0
    let (mut test_loss, mut correct) = (0.0, 0.0);
    // with torch.no_grad():
    let _no_grad = NoGradGuard::new();
    // for X, y in dataloader:
    for item in dataloader.iter() {
        let (x, y) = item?;
        // pred = model(X)
        let pred = model.forward(&x)?;
        // test_loss += loss_fn(pred, y).item()
        test_loss += loss_fn.forward(&pred, &y)?.item();
        // correct += (pred.argmax(1) == y).type(torch.float).sum().item()
        correct += pred.argmax(1).eq(&y).to_dtype(DType::F32).sum().item();
    }

    // test_loss /= num_batches
    test_loss /= num_batches as f64;
    // correct /= size
    correct /= size as f64;
    // print(f"Test Error: \n Accuracy: {(100*correct):>0.1f}%, Avg loss: {test_loss:>8f} \n")
    println!("Test Error: \n Accuracy: {:>0.1}%, Avg loss: {test_loss:>8.6} \n", 100.0 * correct);
    Ok(())
}

fn main() -> Result<()> {
    // training_data = datasets.FashionMNIST(
    //     root="data",
    //     train=True,
    //     download=True,
    //     transform=ToTensor()
    // )
    let training_data = FashionMNIST::builder().train(true).download(true).transform(ToTensor).build()?;

    // test_data = datasets.FashionMNIST(
    //     root="data",
    //     train=False,
    //     download=True,
    //     transform=ToTensor()
    // )
    let test_data = FashionMNIST::builder().train(false).download(true).transform(ToTensor).build()?;

    // train_dataloader = DataLoader(training_data, batch_size=64)
    let train_dataloader = DataLoader::new(training_data, 64);
    // test_dataloader = DataLoader(test_data, batch_size=64)
    let test_dataloader = DataLoader::new(test_data, 64);

    // model = NeuralNetwork()
    let model = NeuralNetwork::new();

    // learning_rate = 1e-3
    let learning_rate = 1e-3;
    // loss_fn = nn.CrossEntropyLoss()
    let loss_fn = nn::CrossEntropyLoss::new();
    // optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)
    let mut optimizer = optim::SGD::new(model.parameters(), learning_rate);

    // epochs = 10
    let epochs: usize = std::env::args().nth(1).and_then(|e| e.parse().ok()).unwrap_or(10);
    // for t in range(epochs):
    for t in 0..epochs {
        // print(f"Epoch {t+1}\n-------------------------------")
        println!("Epoch {}\n-------------------------------", t + 1);
        // train_loop(train_dataloader, model, loss_fn, optimizer)
        train_loop(&train_dataloader, &model, &loss_fn, &mut optimizer)?;
        // test_loop(test_dataloader, model, loss_fn)
        test_loop(&test_dataloader, &model, &loss_fn)?;
    }
    // print("Done!")
    println!("Done!");
    Ok(())
}
