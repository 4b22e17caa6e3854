//! PyTorch's "Tensors" tutorial (beginner_source/basics/tensorqs_tutorial.py),
//! statement by statement: each Python statement is the comment above its
//! Rust. Where kindling differs, the comment says how.
//!
//! Not ported here: the "Bridge with NumPy" section. kindling's NumPy is
//! `ndarray`, behind the cargo feature of that name (`Tensor::from(array)`,
//! `t.to_ndarray::<f32>()`), and the memory is not shared: the tutorial's
//! `t.add_(1)` showing through `n` does not happen (`tests/ndarray.rs`).
//!
//! Run: `cargo run --release --example tensorqs`

#![allow(unused_assignments)] // `tensor = tensor.to(...)` is not read again, as in the tutorial

// import torch
// import numpy as np
use kindling::prelude::*;

fn main() -> Result<()> {
    // data = [[1, 2],[3, 4]]
    let data = [[1, 2], [3, 4]];
    // x_data = torch.tensor(data)
    let x_data = Tensor::tensor(data);

    // x_ones = torch.ones_like(x_data) # retains the properties of x_data
    let x_ones = x_data.ones_like();
    // print(f"Ones Tensor: \n {x_ones} \n")
    println!("Ones Tensor: \n {x_ones} \n");
    // x_rand = torch.rand_like(x_data, dtype=torch.float) # overrides the datatype of x_data
    let x_rand = x_data.to_dtype(DType::F32).rand_like();
    // print(f"Random Tensor: \n {x_rand} \n")
    println!("Random Tensor: \n {x_rand} \n");

    // shape = (2,3,)
    let shape = [2, 3];
    // rand_tensor = torch.rand(shape)
    let rand_tensor = Tensor::rand(shape);
    // ones_tensor = torch.ones(shape)
    let ones_tensor = Tensor::ones(shape);
    // zeros_tensor = torch.zeros(shape)
    let zeros_tensor = Tensor::zeros(shape);
    // print(f"Random Tensor: \n {rand_tensor} \n")
    println!("Random Tensor: \n {rand_tensor} \n");
    // print(f"Ones Tensor: \n {ones_tensor} \n")
    println!("Ones Tensor: \n {ones_tensor} \n");
    // print(f"Zeros Tensor: \n {zeros_tensor}")
    println!("Zeros Tensor: \n {zeros_tensor}");

    // tensor = torch.rand(3,4)
    let mut tensor = Tensor::rand([3, 4]);
    // print(f"Shape of tensor: {tensor.shape}")
    println!("Shape of tensor: {}", tensor.size());
    // print(f"Datatype of tensor: {tensor.dtype}")
    println!("Datatype of tensor: {}", tensor.dtype());
    // print(f"Device tensor is stored on: {tensor.device}")
    println!("Device tensor is stored on: {}", tensor.device());

    // if torch.accelerator.is_available():
    //     tensor = tensor.to(torch.accelerator.current_accelerator())
    if let Some(device) = accelerator::current_accelerator() {
        tensor = tensor.to(device);
    }

    // tensor = torch.ones(4, 4)
    let tensor = Tensor::ones([4, 4]);
    // print(f"First row: {tensor[0]}")
    println!("First row: {}", tensor.i(0));
    // print(f"First column: {tensor[:, 0]}")
    println!("First column: {}", tensor.i((.., 0)));
    // print(f"Last column: {tensor[..., -1]}")
    println!("Last column: {}", tensor.i((Ellipsis, -1)));
    // tensor[:,1] = 0
    tensor.i((.., 1)).fill_(0);
    // print(tensor)
    println!("{tensor}");

    // t1 = torch.cat([tensor, tensor, tensor], dim=1)
    let t1 = Tensor::cat(&[tensor.clone(), tensor.clone(), tensor.clone()], 1);
    // print(t1)
    println!("{t1}");

    // y1 = tensor @ tensor.T
    let y1 = tensor.matmul(&tensor.t());
    // y2 = tensor.matmul(tensor.T)
    let y2 = tensor.matmul(&tensor.t());
    // y3 = torch.rand_like(y1)
    // torch.matmul(tensor, tensor.T, out=y3)
    let y3 = tensor.matmul(&tensor.t()); // no `out=`: a new tensor
    assert!(y1.equal(&y2) && y2.equal(&y3));

    // z1 = tensor * tensor
    let z1 = &tensor * &tensor;
    // z2 = tensor.mul(tensor)
    let z2 = tensor.mul(&tensor);
    // z3 = torch.rand_like(tensor)
    // torch.mul(tensor, tensor, out=z3)
    let z3 = tensor.mul(&tensor); // no `out=`: a new tensor
    assert!(z1.equal(&z2) && z2.equal(&z3));

    // agg = tensor.sum()
    let agg = tensor.sum();
    // agg_item = agg.item()
    let agg_item = agg.item();
    // print(agg_item, type(agg_item))
    println!("{agg_item} {}", agg_item.python_type());

    // print(f"{tensor} \n")
    println!("{tensor} \n");
    // tensor.add_(5)
    tensor.add_(5);
    // print(tensor)
    println!("{tensor}");
    Ok(())
}
