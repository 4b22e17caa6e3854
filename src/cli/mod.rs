//! Command-line entry point.

use kindling::{no_grad, DType, Tensor};

const USAGE: &str = "\
kindling: PyTorch's MNIST lecture in Rust

Usage: kindling <command>

Commands:
  tour    A tour of the tensor engine: PyTorch-style printing, autograd, and the
          lecture's uint8 error, computed live
  help    Show this message

The dataset, training and picture commands are being built; see the README.";

/// Runs the command line; returns the process exit code.
pub fn run(args: Vec<String>) -> i32 {
    match args.first().map(String::as_str) {
        Some("tour") => {
            tour();
            0
        }
        None | Some("help" | "--help" | "-h") => {
            println!("{USAGE}");
            0
        }
        Some(other) => {
            eprintln!("error: unknown command '{other}' (try 'kindling help')");
            2
        }
    }
}

fn cell(code: &str) {
    println!("\n>>> {code}");
}

fn tour() {
    println!("kindling tour: each block shows the PyTorch line and what kindling prints for it.");
    let pixels = Tensor::arange(16)
        .reshape([4, 4])
        .mul_scalar(17)
        .to_dtype(DType::U8);
    cell("pixels = (torch.arange(16).reshape(4, 4) * 17).to(torch.uint8)");
    println!("{pixels}");
    cell("pixels.max()");
    println!("{}", pixels.max());
    cell("weight = torch.ones(4, 2, requires_grad=True); pixels @ weight");
    let weight = Tensor::ones([4, 2]).requires_grad_(true);
    match pixels.try_matmul(&weight) {
        Ok(t) => println!("{t}"),
        Err(e) => println!("RuntimeError: {e}"),
    }
    cell("x = pixels / 255; y = (x @ weight).sigmoid(); y");
    let x = &pixels / 255;
    let y = x.matmul(&weight).sigmoid();
    println!("{y}");
    cell("loss = y.softmax(dim=1).max(dim=1).values.sum(); loss.backward(); weight.grad");
    let loss = y.softmax(1).max_dim(1, false).0.sum();
    loss.backward();
    println!("{}", weight.grad().expect("weight receives a gradient"));
    cell("with torch.no_grad(): (x @ weight).argmax(dim=1)");
    println!("{}", no_grad(|| x.matmul(&weight).argmax_dim(1, false)));
}
