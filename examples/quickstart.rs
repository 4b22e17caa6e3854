//! PyTorch's "Learn the Basics" quickstart (beginner_source/basics/quickstart_tutorial.py),
//! ported statement by statement: each Python statement is the comment above
//! its Rust. FashionMNIST, `Flatten` then `784-512-512-10` with ReLU, SGD at
//! 1e-3, batch 64, five epochs, no thread setting (the library uses every
//! core, as PyTorch does); then the weights saved as `model.pth` (in the
//! current folder, as `torch.save` writes it), loaded into a new model, and
//! the first test image classified.
//!
//! `root="data"` is the dataset builder's default root (`data`, or
//! `KINDLING_DATA` when set), so the port leaves it out; `with
//! torch.no_grad():` is a `NoGradGuard`, which holds until the end of the
//! enclosing block.
//!
//! Run: `KINDLING_DATA=path/to/data cargo run --release --example quickstart [EPOCHS]`
//! PyTorch's side, for the timing in BENCHMARKS.md: `python benches/pytorch_quickstart.py DATA_ROOT [EPOCHS]`

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
            //     nn.Linear(512, 10)
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

// def train(dataloader, model, loss_fn, optimizer):
fn train(
    dataloader: &DataLoader, model: &NeuralNetwork, loss_fn: &nn::CrossEntropyLoss, optimizer: &mut optim::SGD,
    device: Device,
) -> Result<()> {
    // size = len(dataloader.dataset)
    let size = dataloader.dataset().len();
    // model.train()
    model.train();
    // for batch, (X, y) in enumerate(dataloader):
    for (batch, item) in dataloader.iter().enumerate() {
        let (x, y) = item?;
        // X, y = X.to(device), y.to(device)
        let (x, y) = (x.to(device), y.to(device));

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
            // loss, current = loss.item(), (batch + 1) * len(X)
            let (loss, current) = (loss.item().to_f64(), (batch + 1) * x.shape()[0]);
            // print(f"loss: {loss:>7f}  [{current:>5d}/{size:>5d}]")
            println!("loss: {loss:>7.6}  [{current:>5}/{size:>5}]");
        }
    }
    Ok(())
}

// def test(dataloader, model, loss_fn):
fn test(dataloader: &DataLoader, model: &NeuralNetwork, loss_fn: &nn::CrossEntropyLoss, device: Device) -> Result<()> {
    // size = len(dataloader.dataset)
    let size = dataloader.dataset().len();
    // num_batches = len(dataloader)
    let num_batches = dataloader.len();
    // model.eval()
    model.eval();
    // test_loss, correct = 0, 0
    let (mut test_loss, mut correct) = (0.0, 0.0);
    // with torch.no_grad():
    let _no_grad = NoGradGuard::new();
    // for X, y in dataloader:
    for item in dataloader.iter() {
        let (x, y) = item?;
        // X, y = X.to(device), y.to(device)
        let (x, y) = (x.to(device), y.to(device));
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
    //     transform=ToTensor(),
    // )
    let training_data = FashionMNIST::builder().train(true).download(true).transform(ToTensor).build()?;

    // test_data = datasets.FashionMNIST(
    //     root="data",
    //     train=False,
    //     download=True,
    //     transform=ToTensor(),
    // )
    let test_data = FashionMNIST::builder().train(false).download(true).transform(ToTensor).build()?;

    // batch_size = 64
    let batch_size = 64;

    // train_dataloader = DataLoader(training_data, batch_size=batch_size)
    let train_dataloader = DataLoader::new(training_data, batch_size);
    // test_dataloader = DataLoader(test_data, batch_size=batch_size)
    let test_dataloader = DataLoader::new(test_data, batch_size);

    // for X, y in test_dataloader:
    if let Some(item) = test_dataloader.iter().next() {
        let (x, y) = item?;
        // print(f"Shape of X [N, C, H, W]: {X.shape}")
        println!("Shape of X [N, C, H, W]: {}", x.size());
        // print(f"Shape of y: {y.shape} {y.dtype}")
        println!("Shape of y: {} {}", y.size(), y.dtype());
        // break
    }

    // device = torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else "cpu"
    let device = accelerator::current_accelerator().unwrap_or(Device::Cpu);
    // print(f"Using {device} device")
    println!("Using {device} device");

    // model = NeuralNetwork().to(device)
    let model = NeuralNetwork::new();
    model.to(device);
    // print(model)
    println!("{model}");

    // loss_fn = nn.CrossEntropyLoss()
    let loss_fn = nn::CrossEntropyLoss::new();
    // optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    let mut optimizer = optim::SGD::new(model.parameters(), 1e-3);

    // epochs = 5
    let epochs: usize = std::env::args().nth(1).and_then(|e| e.parse().ok()).unwrap_or(5);
    // for t in range(epochs):
    for t in 0..epochs {
        // print(f"Epoch {t+1}\n-------------------------------")
        println!("Epoch {}\n-------------------------------", t + 1);
        // train(train_dataloader, model, loss_fn, optimizer)
        train(&train_dataloader, &model, &loss_fn, &mut optimizer, device)?;
        // test(test_dataloader, model, loss_fn)
        test(&test_dataloader, &model, &loss_fn, device)?;
    }
    // print("Done!")
    println!("Done!");

    // torch.save(model.state_dict(), "model.pth")
    kindling::save(model.state_dict(), "model.pth")?;
    // print("Saved PyTorch Model State to model.pth")
    println!("Saved PyTorch Model State to model.pth");

    // model = NeuralNetwork().to(device)
    let model = NeuralNetwork::new();
    model.to(device);
    // model.load_state_dict(torch.load("model.pth", weights_only=True))
    model.load_state_dict(&kindling::load("model.pth")?.state_dict()?)?;

    // classes = [
    //     "T-shirt/top",
    //     "Trouser",
    //     "Pullover",
    //     "Dress",
    //     "Coat",
    //     "Sandal",
    //     "Shirt",
    //     "Sneaker",
    //     "Bag",
    //     "Ankle boot",
    // ]
    let classes =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    // model.eval()
    model.eval();
    // x, y = test_data[0][0], test_data[0][1]
    let (x, y) = test_dataloader.dataset().get(0)?;
    // with torch.no_grad():
    let _no_grad = NoGradGuard::new();
    // x = x.to(device)
    let x = x.to(device);
    // pred = model(x)
    let pred = model.forward(&x)?;
    // predicted, actual = classes[pred[0].argmax(0)], classes[y]
    let (predicted, actual) = (classes[pred.i(0).argmax(0).item().to_i64() as usize], classes[y as usize]);
    // print(f'Predicted: "{predicted}", Actual: "{actual}"')
    println!("Predicted: \"{predicted}\", Actual: \"{actual}\"");
    Ok(())
}
