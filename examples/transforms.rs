//! PyTorch's "Transforms" tutorial (beginner_source/basics/transforms_tutorial.py),
//! statement by statement: each Python statement is the comment above its
//! Rust. The labels become one-hot float tensors through a `target_transform`;
//! the port then prints the first sample's target (not in the tutorial, which
//! prints nothing), as `tests/golden/make_example_goldens.py` does in PyTorch.
//!
//! Run: `KINDLING_DATA=path/to/data cargo run --release --example transforms`

// import torch
// from torchvision import datasets
// from torchvision.transforms import ToTensor, Lambda
use kindling::data::transforms::ToTensor;
use kindling::prelude::*;
use kindling::vision::FashionMNIST;

fn main() -> Result<()> {
    // ds = datasets.FashionMNIST(
    //     root="data",
    //     train=True,
    //     download=True,
    //     transform=ToTensor(),
    //     target_transform=Lambda(lambda y: torch.zeros(10, dtype=torch.float).scatter_(0, torch.tensor(y), value=1))
    // )
    let ds = FashionMNIST::builder()
        .train(true)
        .download(true)
        .transform(ToTensor)
        .target_transform(|y| Tensor::zeros([10]).scatter_(0, &Tensor::tensor(y), 1.0))
        .build()?;

    // target_transform = Lambda(lambda y: torch.zeros(
    //     10, dtype=torch.float).scatter_(dim=0, index=torch.tensor(y), value=1))
    let target_transform = |y: i64| Tensor::zeros([10]).scatter_(0, &Tensor::tensor(y), 1.0);

    // print(ds[0][1])
    println!("{}", ds.get_item(0)?.1.to_tensor());
    // print(target_transform(3))
    println!("{}", target_transform(3));
    Ok(())
}
