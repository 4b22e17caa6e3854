//! Vision datasets, as in `torchvision.datasets`: MNIST, Fashion-MNIST and
//! Kuzushiji-MNIST, read from torchvision's on-disk layout, downloaded with
//! verification, or found where Debian installs Fashion-MNIST.

mod custom;
pub mod datasets;
pub mod digit;
pub mod download;
pub mod idx;
pub mod io;
pub mod models;

pub use custom::CustomImageDataset;
pub use datasets::{
    default_root, DatasetBuilder, Family, FashionMNIST, FileStatus, TargetTransform, TargetValue,
    VisionDataset, KMNIST, MNIST,
};
