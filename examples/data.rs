//! PyTorch's "Learn the Basics" data tutorial (beginner_source/basics/data_tutorial.py),
//! its FashionMNIST parts, ported statement by statement: each Python statement
//! is the comment above its Rust. The tutorial's `CustomImageDataset` is the
//! library's `kindling::vision::CustomImageDataset`; `plt.show()` becomes
//! `savefig` (the pictures go to `data_grid.png` and `data_sample.png`, or
//! into the folder given as the first argument).
//!
//! Run: `KINDLING_DATA=path/to/data cargo run --release --example data [OUT_DIR]`

// import torch
// from torch.utils.data import Dataset
// from torchvision import datasets
// from torchvision.transforms import ToTensor
// import matplotlib.pyplot as plt
use kindling::data::transforms::ToTensor;
use kindling::plot::pyplot as plt;
use kindling::prelude::*;
use kindling::vision::FashionMNIST;

fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let out = std::path::PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| ".".into()));
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

    // labels_map = {
    //     0: "T-Shirt",
    //     1: "Trouser",
    //     2: "Pullover",
    //     3: "Dress",
    //     4: "Coat",
    //     5: "Sandal",
    //     6: "Shirt",
    //     7: "Sneaker",
    //     8: "Bag",
    //     9: "Ankle Boot",
    // }
    let labels_map =
        ["T-Shirt", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle Boot"];
    // figure = plt.figure(figsize=(8, 8))
    let mut figure = plt::figure((8.0, 8.0));
    // cols, rows = 3, 3
    let (cols, rows) = (3, 3);
    // for i in range(1, cols * rows + 1):
    for i in 1..=cols * rows {
        // sample_idx = torch.randint(len(training_data), size=(1,)).item()
        let sample_idx = Tensor::randint(0, training_data.len() as i64, [1]).item().to_i64();
        // img, label = training_data[sample_idx]
        let (img, label) = training_data.get(sample_idx as usize)?;
        // figure.add_subplot(rows, cols, i)
        let ax = figure.add_subplot(rows, cols, i);
        // plt.title(labels_map[label])
        ax.title(labels_map[label as usize]);
        // plt.axis("off")
        ax.axis("off");
        // plt.imshow(img.squeeze(), cmap="gray")
        ax.imshow(&img.squeeze(), "gray")?;
    }
    // plt.show()
    figure.savefig(out.join("data_grid.png"))?;

    // from torch.utils.data import DataLoader
    // train_dataloader = DataLoader(training_data, batch_size=64, shuffle=True)
    let train_dataloader = DataLoader::new(training_data, 64).shuffle(true);
    // test_dataloader = DataLoader(test_data, batch_size=64, shuffle=True)
    let _test_dataloader = DataLoader::new(test_data, 64).shuffle(true);

    // train_features, train_labels = next(iter(train_dataloader))
    let (train_features, train_labels) = train_dataloader.iter().next().ok_or("no batch")??;
    // print(f"Feature batch shape: {train_features.size()}")
    println!("Feature batch shape: {}", train_features.size());
    // print(f"Labels batch shape: {train_labels.size()}")
    println!("Labels batch shape: {}", train_labels.size());
    // img = train_features[0].squeeze()
    let img = train_features.i(0).squeeze();
    // label = train_labels[0]
    let label = train_labels.i(0);
    // plt.imshow(img, cmap="gray")
    let mut sample = plt::figure((6.4, 4.8));
    sample.add_subplot(1, 1, 1).imshow(&img, "gray")?;
    // plt.show()
    sample.savefig(out.join("data_sample.png"))?;
    // print(f"Label: {label}")
    println!("Label: {}", label.item()); // an f-string formats a 0-d tensor as its number
    Ok(())
}
