//! PyTorch's "Learn the Basics" build-model tutorial
//! (beginner_source/basics/buildmodel_tutorial.py), ported statement by
//! statement: each Python statement is the comment above its Rust.
//!
//! Run: `cargo run --release --example buildmodel`

// import os
// import torch
// from torch import nn
// from torch.utils.data import DataLoader
// from torchvision import datasets, transforms
use kindling::prelude::*;

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

fn main() -> Result<()> {
    // device = torch.accelerator.current_accelerator().type if torch.accelerator.is_available() else "cpu"
    let device = accelerator::current_accelerator().unwrap_or(Device::Cpu);
    // print(f"Using {device} device")
    println!("Using {device} device");

    // model = NeuralNetwork().to(device)
    let model = NeuralNetwork::new();
    model.to(device);
    // print(model)
    println!("{model}");

    // X = torch.rand(1, 28, 28, device=device)
    let x = Tensor::rand([1, 28, 28]).to(device);
    // logits = model(X)
    let logits = model.forward(&x)?;
    // pred_probab = nn.Softmax(dim=1)(logits)
    let pred_probab = nn::Softmax::new(1).forward(&logits)?;
    // y_pred = pred_probab.argmax(1)
    let y_pred = pred_probab.argmax(1);
    // print(f"Predicted class: {y_pred}")
    println!("Predicted class: {y_pred}");

    // input_image = torch.rand(3,28,28)
    let input_image = Tensor::rand([3, 28, 28]);
    // print(input_image.size())
    println!("{}", input_image.size());

    // flatten = nn.Flatten()
    let flatten = nn::Flatten::new();
    // flat_image = flatten(input_image)
    let flat_image = flatten.forward(&input_image)?;
    // print(flat_image.size())
    println!("{}", flat_image.size());

    // layer1 = nn.Linear(in_features=28*28, out_features=20)
    let layer1 = nn::Linear::new(28 * 28, 20);
    // hidden1 = layer1(flat_image)
    let hidden1 = layer1.forward(&flat_image)?;
    // print(hidden1.size())
    println!("{}", hidden1.size());

    // print(f"Before ReLU: {hidden1}\n\n")
    println!("Before ReLU: {hidden1}\n\n");
    // hidden1 = nn.ReLU()(hidden1)
    let hidden1 = nn::ReLU::new().forward(&hidden1)?;
    // print(f"After ReLU: {hidden1}")
    println!("After ReLU: {hidden1}");

    // seq_modules = nn.Sequential(
    //     flatten,
    //     layer1,
    //     nn.ReLU(),
    //     nn.Linear(20, 10)
    // )
    let seq_modules = nn::Sequential::new((flatten, layer1, nn::ReLU::new(), nn::Linear::new(20, 10)));
    // input_image = torch.rand(3,28,28)
    let input_image = Tensor::rand([3, 28, 28]);
    // logits = seq_modules(input_image)
    let logits = seq_modules.forward(&input_image)?;

    // softmax = nn.Softmax(dim=1)
    let softmax = nn::Softmax::new(1);
    // pred_probab = softmax(logits)
    let _pred_probab = softmax.forward(&logits)?;

    // print(f"Model structure: {model}\n\n")
    println!("Model structure: {model}\n\n");

    // for name, param in model.named_parameters():
    for (name, param) in model.named_parameters() {
        // print(f"Layer: {name} | Size: {param.size()} | Values : {param[:2]} \n")
        println!("Layer: {name} | Size: {} | Values : {} \n", param.size(), param.i(..2));
    }
    Ok(())
}
