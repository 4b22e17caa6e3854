//! `kindling lecture`: the lecture's cells, each shown as the lecture's Python and
//! followed by what kindling computes for it.

use std::path::PathBuf;

use clap::Args;
use kindling::nn::{Flatten, Linear, Module, Sequential, Sigmoid, Softmax};
use kindling::plot::{imshow, Colormap};
use kindling::{Result, Tensor};

use super::{open_dataset, DataSource, DatasetName, Failure, Input, Split};

#[derive(Args)]
pub struct LectureArgs {
    #[command(flatten)]
    source: DataSource,
    /// Folder for the three imshow pictures
    #[arg(long, default_value = "out/lecture")]
    out: PathBuf,
    /// Seed for the network's random initial weights
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

/// The lecture's first network: only a flatten.
#[derive(Module)]
struct ThreeBlueV1 {
    flatten: Flatten,
}

impl Module for ThreeBlueV1 {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.flatten.forward(x)
    }
}

/// The lecture's second network: flatten, then `Sequential(Linear(784, 10))`.
#[derive(Module)]
struct ThreeBlue {
    flatten: Flatten,
    layers: Sequential,
}

impl Module for ThreeBlue {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let y = self.flatten.forward(x)?;
        self.layers.forward(&y)
    }
}

struct Cells {
    n: usize,
}

impl Cells {
    /// Prints a cell's code, `In [n]: ` on the first line and aligned after.
    fn code(&mut self, code: &str) {
        self.n += 1;
        let prefix = format!("In [{}]: ", self.n);
        for (i, line) in code.lines().enumerate() {
            if i == 0 {
                println!("\n{prefix}{line}");
            } else {
                println!("{}{line}", " ".repeat(prefix.len()));
            }
        }
    }

    fn show(&mut self, code: &str, output: impl std::fmt::Display) {
        self.code(code);
        println!("{output}");
    }
}

pub fn run(args: LectureArgs) -> std::result::Result<(), Failure> {
    println!("kindling lecture: \"PyTorch and Neural Networks\", replayed. Each cell shows the lecture's");
    println!("Python, then what kindling computes for it.");
    let mut cells = Cells { n: 0 };
    cells.code(
        "training_data = datasets.MNIST(root=\"data\", train=True, download=True, transform=ToTensor())\n\
         test_data = datasets.MNIST(root=\"data\", train=False, download=True, transform=ToTensor())",
    );
    let training_data = open_dataset(
        DatasetName::Mnist,
        Split::Train,
        &args.source,
        Input::ToTensor,
    )?;
    let test_data = open_dataset(
        DatasetName::Mnist,
        Split::Test,
        &args.source,
        Input::ToTensor,
    )?;
    println!(
        "(read {} training and {} test images from {})",
        training_data.data.shape()[0],
        test_data.data.shape()[0],
        training_data.dir().display()
    );
    let data = &training_data.data;

    cells.show("training_data.data.shape", data.size());
    cells.show("training_data.data[13]", data.i(13));

    std::fs::create_dir_all(&args.out)
        .map_err(|e| super::fail(format!("{}: {e}", args.out.display())))?;
    let image: Vec<f32> = data.i(13).to_vec::<f32>();
    for (cmap, code, file) in [
        (
            "viridis",
            "fig, ax = plt.subplots()\nax.imshow(training_data.data[13])",
            "imshow_default.png",
        ),
        (
            "binary",
            "fig, ax = plt.subplots()\nax.imshow(training_data.data[13],cmap='binary')",
            "imshow_binary.png",
        ),
        (
            "binary_r",
            "fig, ax = plt.subplots()\nax.imshow(training_data.data[13],cmap='binary_r')",
            "imshow_binary_r.png",
        ),
    ] {
        let path = args.out.join(file);
        let colormap = Colormap::by_name(cmap)?;
        imshow(
            &image,
            28,
            28,
            &colormap,
            10,
            &format!("training_data.data[13], cmap='{cmap}'"),
        )
        .save_png(&path)?;
        cells.show(
            code,
            format!("(picture saved to {}, colormap {cmap})", path.display()),
        );
    }

    let target = training_data.targets.i(13);
    cells.show("training_data.targets[13]", &target);
    cells.show("training_data.targets[13].item()", target.item());

    let flatten = Flatten::new();
    cells.show(
        "flatten = nn.Flatten()\nflatten(training_data.data[:13])",
        flatten.forward(&data.i(..13))?,
    );
    cells.show("training_data.data[:13].shape", data.i(..13).size());
    cells.show(
        "flatten(training_data.data[:13]).shape",
        flatten.forward(&data.i(..13))?.size(),
    );

    let mon = ThreeBlueV1 {
        flatten: Flatten::new(),
    };
    cells.code("class ThreeBlue(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.flatten = nn.Flatten()\n    def forward(self,x):\n        y = self.flatten(x)\n        return y\nmon = ThreeBlue()");
    cells.show(
        "print(mon)  # not in the lecture: the module's printout",
        mon.to_string().replace("ThreeBlueV1", "ThreeBlue"),
    );
    cells.show("type(mon)", "__main__.ThreeBlue");
    cells.show("mon.flatten", &mon.flatten);
    cells.show(
        "mon.flatten(training_data.data[:13])",
        mon.flatten.forward(&data.i(..13))?,
    );

    kindling::manual_seed(args.seed);
    let mon = ThreeBlue {
        flatten: Flatten::new(),
        layers: Sequential::default().add(Linear::new(784, 10)),
    };
    cells.code("class ThreeBlue(nn.Module):\n    def __init__(self):\n        super().__init__()\n        self.flatten = nn.Flatten()\n        self.layers = nn.Sequential(\n            nn.Linear(784,10)\n        )\n    def forward(self,x):\n        y = self.flatten(x)\n        z = self.layers(y)\n        return z\nmon = ThreeBlue()");
    cells.show(
        "print(mon)  # not in the lecture: the module's printout",
        &mon,
    );

    cells.code("mon(training_data.data)");
    match mon.forward(data) {
        Ok(t) => println!("{t}"),
        Err(e) => println!("{}: {e}", e.python_exception()),
    }
    cells.show("training_data.data.numpy().max()", data.max().item());
    cells.show("training_data.data.max()", data.max());
    let out = mon.forward(&(data / 255))?;
    cells.show("mon(training_data.data/255)", &out);
    cells.show("training_data.data.shape", data.size());
    cells.show("mon(training_data.data/255).shape", out.size());
    let one = mon.forward(&(&data.i(13..14) / 255))?;
    cells.show("mon(training_data.data[13:14]/255)", &one);
    cells.show(
        "mon(training_data.data[13:14]/255).argmax(dim=1)",
        one.argmax(1),
    );
    cells.show(
        "sigmoid = nn.Sigmoid()\nsigmoid(mon(training_data.data[13:14]/255))",
        Sigmoid::new().forward(&one)?,
    );
    let softmax = Softmax::new(1);
    cells.show(
        "softmax = nn.Softmax(dim=1)\nsoftmax(mon(training_data.data[13:14]/255))",
        softmax.forward(&one)?,
    );
    cells.show(
        "softmax(mon(training_data.data[13:14]/255)).sum()",
        softmax.forward(&one)?.sum(),
    );
    println!("\nThe network is untrained, so its outputs are near-uniform guesses. Train it with:");
    println!("  kindling train --model linear");
    Ok(())
}
