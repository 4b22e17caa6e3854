//! The lecture "PyTorch and Neural Networks", statement by statement: each
//! Python statement is the comment above its Rust. A notebook shows each
//! cell's last value; this program prints it, under a `>>> ` line with the
//! lecture's Python, so the transcript reads beside the lecture (and
//! `tests/examples.rs` holds every deterministic cell to what PyTorch printed
//! there). The three pictures are written to the current folder.
//!
//! The same lecture is `kindling lecture` (a replay with pictures) and
//! `notebooks/lecture.ipynb` (a Jupyter notebook).
//!
//! Run: `KINDLING_DATA=path/to/data cargo run --release --example lecture`

// from tqdm.std import tqdm, trange
// from tqdm import notebook
// notebook.tqdm = tqdm
// notebook.trange = trange
// import pandas as pd
// import numpy as np
// import matplotlib.pyplot as plt
// import torch
// from torch import nn
// from torchvision import datasets
// from torchvision.transforms import ToTensor
// from torch.utils.data import DataLoader
use kindling::data::transforms::ToTensor;
use kindling::plot::pyplot as plt;
use kindling::prelude::*;
use kindling::vision::MNIST;

/// Prints a cell's Python and its value, as the notebook shows them.
fn show(python: &str, value: impl std::fmt::Display) {
    println!(">>> {python}\n{value}");
}

// class ThreeBlue(nn.Module):
//     def __init__(self):
//         super().__init__()
//         self.flatten = nn.Flatten()
#[derive(Module)]
struct ThreeBlue {
    flatten: nn::Flatten,
}

impl Module for ThreeBlue {
    // def forward(self,x):
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        // y = self.flatten(x)
        let y = self.flatten.forward(x)?;
        // return y
        Ok(y)
    }
}

// class ThreeBlue(nn.Module):
//     def __init__(self):
//         super().__init__()
//         self.flatten = nn.Flatten()
//         self.layers = nn.Sequential(
//             nn.Linear(784,10)
//         )
#[derive(Module)]
#[module(name = "ThreeBlue")]
struct ThreeBlue2 {
    flatten: nn::Flatten,
    layers: nn::Sequential,
}

impl Module for ThreeBlue2 {
    // def forward(self,x):
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        // y = self.flatten(x)
        let y = self.flatten.forward(x)?;
        // z = self.layers(y)
        let z = self.layers.forward(&y)?;
        // return z
        Ok(z)
    }
}

fn main() -> Result<()> {
    // training_data = datasets.MNIST(
    //     root="data",
    //     train=True,
    //     download=True,
    //     transform=ToTensor(),
    // )
    let training_data = MNIST::builder().train(true).download(true).transform(ToTensor).build()?;
    // test_data = datasets.MNIST(
    //     root="data",
    //     train=False,
    //     download=True,
    //     transform=ToTensor(),
    // )
    let test_data = MNIST::builder().train(false).download(true).transform(ToTensor).build()?;
    let _ = test_data;

    // training_data.data.shape
    show("training_data.data.shape", training_data.data.size());
    // training_data.data[13]
    show("training_data.data[13]", training_data.data.i(13));

    // fig, ax = plt.subplots()
    // ax.imshow(training_data.data[13])
    for cmap in ["viridis", "binary", "binary_r"] {
        let mut fig = plt::subplots(1, 1, (6.4, 4.8));
        fig.ax(1).imshow(&training_data.data.i(13), cmap)?;
        fig.savefig(format!("digit13-{cmap}.png"))?;
    }

    // training_data.targets[13]
    show("training_data.targets[13]", training_data.targets.i(13));
    // training_data.targets[13].item()
    show("training_data.targets[13].item()", training_data.targets.i(13).item());

    // flatten = nn.Flatten()
    let flatten = nn::Flatten::new();
    // flatten(training_data.data[:13])
    show("flatten(training_data.data[:13])", flatten.forward(&training_data.data.i(..13))?);
    // training_data.data[:13].shape
    show("training_data.data[:13].shape", training_data.data.i(..13).size());
    // flatten(training_data.data[:13]).shape
    show("flatten(training_data.data[:13]).shape", flatten.forward(&training_data.data.i(..13))?.size());

    // mon = ThreeBlue()
    let mon = ThreeBlue { flatten: nn::Flatten::new() };
    // type(mon)
    show("type(mon)", std::any::type_name_of_val(&mon));
    // mon.flatten
    show("mon.flatten", &mon.flatten);
    // mon.flatten(training_data.data[:13])
    show("mon.flatten(training_data.data[:13])", mon.flatten.forward(&training_data.data.i(..13))?);

    // mon = ThreeBlue()
    let mon = ThreeBlue2 { flatten: nn::Flatten::new(), layers: nn::Sequential::new((nn::Linear::new(784, 10),)) };
    // mon(training_data.data)
    match mon.forward(&training_data.data) {
        Ok(out) => show("mon(training_data.data)", out),
        Err(e) => show("mon(training_data.data)", format!("{}: {e}", e.python_exception())),
    }
    // training_data.data.numpy().max()
    show("training_data.data.numpy().max()", training_data.data.max().item());
    // training_data.data.max()
    show("training_data.data.max()", training_data.data.max());
    // mon(training_data.data/255)
    show("mon(training_data.data/255)", mon.forward(&(&training_data.data / 255))?);
    // training_data.data.shape
    show("training_data.data.shape", training_data.data.size());
    // mon(training_data.data/255).shape
    show("mon(training_data.data/255).shape", mon.forward(&(&training_data.data / 255))?.size());
    // mon(training_data.data[13:14]/255)
    let out = mon.forward(&(&training_data.data.i(13..14) / 255))?;
    show("mon(training_data.data[13:14]/255)", &out);
    // mon(training_data.data[13:14]/255).argmax(dim=1)
    show("mon(training_data.data[13:14]/255).argmax(dim=1)", out.argmax(1));
    // sigmoid = nn.Sigmoid()
    let sigmoid = nn::Sigmoid::new();
    // sigmoid(mon(training_data.data[13:14]/255))
    show("sigmoid(mon(training_data.data[13:14]/255))", sigmoid.forward(&out)?);
    // softmax = nn.Softmax(dim=1)
    let softmax = nn::Softmax::new(1);
    // softmax(mon(training_data.data[13:14]/255))
    show("softmax(mon(training_data.data[13:14]/255))", softmax.forward(&out)?);
    // softmax(mon(training_data.data[13:14]/255)).sum()
    show("softmax(mon(training_data.data[13:14]/255)).sum()", softmax.forward(&out)?.sum());
    Ok(())
}
