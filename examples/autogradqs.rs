//! PyTorch's "Learn the Basics" autograd tutorial
//! (beginner_source/basics/autogradqs_tutorial.py), ported statement by
//! statement: each Python statement is the comment above its Rust. kindling
//! keeps the graph after `backward()`, so `retain_graph=True` has no counterpart.
//!
//! Run: `cargo run --release --example autogradqs`

// import torch
use kindling::prelude::*;

fn main() -> Result<()> {
    let py_bool = |b: bool| if b { "True" } else { "False" }; // as Python prints a bool
                                                              // x = torch.ones(5)  # input tensor
    let x = Tensor::ones([5]);
    // y = torch.zeros(3)  # expected output
    let y = Tensor::zeros([3]);
    // w = torch.randn(5, 3, requires_grad=True)
    let w = Tensor::randn([5, 3]).requires_grad_(true);
    // b = torch.randn(3, requires_grad=True)
    let b = Tensor::randn([3]).requires_grad_(true);
    // z = torch.matmul(x, w)+b
    let z = x.matmul(&w) + &b;
    // loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)
    let loss = F::binary_cross_entropy_with_logits(&z, &y, nn::Reduction::Mean)?;

    // print(f"Gradient function for z = {z.grad_fn}")
    println!("Gradient function for z = {}", z.grad_fn().unwrap());
    // print(f"Gradient function for loss = {loss.grad_fn}")
    println!("Gradient function for loss = {}", loss.grad_fn().unwrap());

    // loss.backward()
    loss.backward();
    // print(w.grad)
    println!("{}", w.grad().unwrap());
    // print(b.grad)
    println!("{}", b.grad().unwrap());

    // z = torch.matmul(x, w)+b
    let z = x.matmul(&w) + &b;
    // print(z.requires_grad)
    println!("{}", py_bool(z.requires_grad()));

    // with torch.no_grad():
    //     z = torch.matmul(x, w)+b
    let z = no_grad(|| x.matmul(&w) + &b);
    // print(z.requires_grad)
    println!("{}", py_bool(z.requires_grad()));

    // z = torch.matmul(x, w)+b
    let z = x.matmul(&w) + &b;
    // z_det = z.detach()
    let z_det = z.detach();
    // print(z_det.requires_grad)
    println!("{}", py_bool(z_det.requires_grad()));

    // inp = torch.eye(4, 5, requires_grad=True)
    let inp = Tensor::eye((4, 5)).requires_grad_(true);
    // out = (inp+1).pow(2).t()
    let out = (&inp + 1).pow_scalar(2).t();
    // out.backward(torch.ones_like(out), retain_graph=True)
    out.backward_with(&out.ones_like());
    // print(f"First call\n{inp.grad}")
    println!("First call\n{}", inp.grad().unwrap());
    // out.backward(torch.ones_like(out), retain_graph=True)
    out.backward_with(&out.ones_like());
    // print(f"\nSecond call\n{inp.grad}")
    println!("\nSecond call\n{}", inp.grad().unwrap());
    // inp.grad.zero_()
    inp.grad().unwrap().zero_();
    // out.backward(torch.ones_like(out), retain_graph=True)
    out.backward_with(&out.ones_like());
    // print(f"\nCall after zeroing gradients\n{inp.grad}")
    println!("\nCall after zeroing gradients\n{}", inp.grad().unwrap());
    Ok(())
}
