//! The reference architectures used by the command line, the benchmarks and the
//! parity tests. Each matches a PyTorch module with the same `state_dict` keys:
//!
//! ```python
//! class Net(nn.Module):               # kindling's `linear`, `threeblue`, `mlp`
//!     def __init__(self):
//!         super().__init__()
//!         self.flatten = nn.Flatten()
//!         self.layers = nn.Sequential(...)   # see `Arch`
//!     def forward(self, x):
//!         return self.layers(self.flatten(x))
//!
//! class Net(nn.Module):               # kindling's `cnn`: pytorch/examples' MNIST
//!     def __init__(self):
//!         super().__init__()
//!         self.conv1 = nn.Conv2d(1, 32, 3, 1)
//!         self.conv2 = nn.Conv2d(32, 64, 3, 1)
//!         self.dropout1 = nn.Dropout(0.25)
//!         self.dropout2 = nn.Dropout(0.5)
//!         self.fc1 = nn.Linear(9216, 128)
//!         self.fc2 = nn.Linear(128, 10)
//!     def forward(self, x):
//!         x = F.relu(self.conv1(x))
//!         x = F.max_pool2d(F.relu(self.conv2(x)), 2)
//!         x = torch.flatten(self.dropout1(x), 1)
//!         x = self.dropout2(F.relu(self.fc1(x)))
//!         return self.fc2(x)
//!
//! class NetBN(nn.Module):             # kindling's `cnn-bn`: the same with
//!     def __init__(self):             # BatchNorm2d after each convolution
//!         super().__init__()
//!         self.conv1 = nn.Conv2d(1, 32, 3, 1)
//!         self.bn1 = nn.BatchNorm2d(32)
//!         self.conv2 = nn.Conv2d(32, 64, 3, 1)
//!         self.bn2 = nn.BatchNorm2d(64)
//!         ...                         # dropout1, dropout2, fc1, fc2 as in Net
//!     def forward(self, x):
//!         x = F.relu(self.bn1(self.conv1(x)))
//!         x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
//!         ...                         # as in Net
//! ```

use std::fmt;
use std::str::FromStr;

use super::{
    BatchNorm2d, Conv2d, Dropout, Flatten, Linear, Module, ModuleInfo, ReLU, Sequential, Sigmoid,
};
use crate::backend::ConvThen;
use crate::error::{Error, Result};
use crate::io::onnx::{Attr, Graph};
use crate::tensor::Tensor;

/// A reference architecture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    /// The lecture's network: `Sequential(Linear(784, 10))`.
    Linear,
    /// 3Blue1Brown's network: `Linear(784,16), Sigmoid(), Linear(16,16), Sigmoid(), Linear(16,10)`.
    ThreeBlue,
    /// A wider MLP: `Linear(784,128), ReLU(), Linear(128,64), ReLU(), Linear(64,10)`.
    Mlp,
    /// pytorch/examples' MNIST convolutional network ([`Cnn`]).
    Cnn,
    /// The same with `BatchNorm2d` after each convolution ([`CnnBn`]).
    CnnBn,
}

impl Arch {
    /// All architectures, in CLI order.
    pub const ALL: [Arch; 5] = [
        Arch::Linear,
        Arch::ThreeBlue,
        Arch::Mlp,
        Arch::Cnn,
        Arch::CnnBn,
    ];
    /// The fully connected ones: `flatten` then `layers`.
    pub const MLPS: [Arch; 3] = [Arch::Linear, Arch::ThreeBlue, Arch::Mlp];

    /// The CLI name: `linear`, `threeblue`, `mlp`, `cnn`, `cnn-bn`.
    pub fn name(self) -> &'static str {
        match self {
            Arch::Linear => "linear",
            Arch::ThreeBlue => "threeblue",
            Arch::Mlp => "mlp",
            Arch::Cnn => "cnn",
            Arch::CnnBn => "cnn-bn",
        }
    }

    /// The PyTorch class name printed for the model.
    pub fn class_name(self) -> &'static str {
        match self {
            Arch::Linear => "LinearNet",
            Arch::ThreeBlue => "ThreeBlue",
            Arch::Mlp => "MLP",
            Arch::Cnn => "Net",
            Arch::CnnBn => "NetBN",
        }
    }

    /// Whether this is one of the convolutional networks.
    pub fn is_convolutional(self) -> bool {
        matches!(self, Arch::Cnn | Arch::CnnBn)
    }

    /// The batch size the command line evaluates this architecture with:
    /// 1000 for the fully connected ones (their products grow faster with the
    /// batch), 100 for the convolutional ones, whose activations for 100 images (27 MB) mostly
    /// stay in cache from one layer to the next where those of 1000 do not
    /// (10k test images in 2.6 s instead of 4.7 s here, BENCHMARKS.md).
    pub fn eval_batch_size(self) -> usize {
        if self.is_convolutional() {
            100
        } else {
            1000
        }
    }

    /// A new model with PyTorch's default initialisation from the global generator.
    pub fn build(self) -> Net {
        let layers = match self {
            Arch::Linear => Sequential::default().add(Linear::new(784, 10)),
            Arch::ThreeBlue => Sequential::default()
                .add(Linear::new(784, 16))
                .add(Sigmoid::new())
                .add(Linear::new(16, 16))
                .add(Sigmoid::new())
                .add(Linear::new(16, 10)),
            Arch::Mlp => Sequential::default()
                .add(Linear::new(784, 128))
                .add(ReLU::new())
                .add(Linear::new(128, 64))
                .add(ReLU::new())
                .add(Linear::new(64, 10)),
            Arch::Cnn => {
                return Net {
                    arch: self,
                    body: Body::Cnn(Cnn::new()),
                }
            }
            Arch::CnnBn => {
                return Net {
                    arch: self,
                    body: Body::CnnBn(CnnBn::new()),
                }
            }
        };
        Net {
            arch: self,
            body: Body::Mlp {
                flatten: Flatten::new(),
                layers,
            },
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Arch {
    type Err = Error;

    fn from_str(s: &str) -> Result<Arch> {
        Arch::ALL
            .into_iter()
            .find(|a| a.name() == s)
            .ok_or_else(|| {
                Error::Value(format!(
                    "unknown model '{s}' (expected one of: linear, threeblue, mlp, cnn, cnn-bn)"
                ))
            })
    }
}

/// A reference model: one of [`Arch`], with its PyTorch class name,
/// children and `state_dict` keys.
pub struct Net {
    /// Which architecture this is.
    pub arch: Arch,
    body: Body,
}

enum Body {
    /// `flatten` (`nn.Flatten()`) then `layers` (named `layers.0`, ...).
    Mlp {
        flatten: Flatten,
        layers: Sequential,
    },
    Cnn(Cnn),
    CnnBn(CnnBn),
}

impl ModuleInfo for Net {
    fn type_name(&self) -> &str {
        self.arch.class_name()
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        match &self.body {
            Body::Mlp { flatten, layers } => vec![
                ("flatten".to_string(), flatten as &dyn Module),
                ("layers".to_string(), layers),
            ],
            Body::Cnn(cnn) => cnn.children(),
            Body::CnnBn(cnn) => cnn.children(),
        }
    }
}

impl Module for Net {
    fn onnx(&self, g: &mut Graph, x: &str) -> Result<String> {
        match &self.body {
            Body::Mlp { flatten, layers } => {
                let x = g.child("flatten", flatten, x)?;
                g.child("layers", layers, &x)
            }
            Body::Cnn(cnn) => cnn.onnx(g, x),
            Body::CnnBn(cnn) => cnn.onnx(g, x),
        }
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        match &self.body {
            Body::Mlp { flatten, layers } => layers.forward(&flatten.forward(x)?),
            Body::Cnn(cnn) => cnn.forward(x),
            Body::CnnBn(cnn) => cnn.forward(x),
        }
    }
}

/// pytorch/examples' MNIST network (`kindling train --model cnn`), with its
/// class name (`Net`), children and `state_dict` keys (`conv1.weight`, ...,
/// `fc2.bias`). It takes `[N, 1, 28, 28]`, and also `[N, 28, 28]` and
/// `[N, 784]` as the other reference models do.
///
/// ```
/// use kindling::nn::models::Cnn;
/// use kindling::nn::Module;
/// use kindling::Tensor;
/// let net = Cnn::new();
/// assert_eq!(net.forward(&Tensor::zeros([2, 1, 28, 28])).unwrap().shape(), &[2, 10]);
/// assert_eq!(net.state_dict().len(), 8);
/// ```
#[derive(super::Module)]
#[module(name = "Net")]
pub struct Cnn {
    pub conv1: Conv2d,
    pub conv2: Conv2d,
    pub dropout1: Dropout,
    pub dropout2: Dropout,
    pub fc1: Linear,
    pub fc2: Linear,
}

impl Cnn {
    /// A new network, initialised as PyTorch initialises each layer, in
    /// PyTorch's order (the order of `__init__`).
    pub fn new() -> Cnn {
        Cnn {
            conv1: Conv2d::new(1, 32, 3),
            conv2: Conv2d::new(32, 64, 3),
            dropout1: Dropout::new(0.25),
            dropout2: Dropout::new(0.5),
            fc1: Linear::new(9216, 128),
            fc2: Linear::new(128, 10),
        }
    }
}

impl Default for Cnn {
    fn default() -> Self {
        Cnn::new()
    }
}

/// `[N, 784]` and `[N, 28, 28]` as `[N, 1, 28, 28]`; other inputs as they are.
fn as_images(x: &Tensor) -> Result<Tensor> {
    match x.dim() {
        2 | 3 => x.try_reshape([x.shape()[0] as isize, 1, 28, 28]),
        _ => Ok(x.clone()),
    }
}

/// The steps after the convolutions, shared by `Net` and `NetBN`'s ONNX
/// graphs: `max_pool2d(2)`, (dropout1), `flatten(1)`, `fc1`, ReLU, (dropout2), `fc2`.
fn onnx_head(g: &mut Graph, x: &str, fc1: &Linear, fc2: &Linear) -> Result<String> {
    let x = g.node(
        "MaxPool",
        &[x],
        vec![
            ("kernel_shape", Attr::Ints(vec![2, 2])),
            ("strides", Attr::Ints(vec![2, 2])),
        ],
    );
    let x = g.node("Flatten", &[&x], vec![("axis", Attr::Int(1))]);
    let x = g.child("fc1", fc1, &x)?;
    let x = g.node("Relu", &[&x], vec![]);
    g.child("fc2", fc2, &x)
}

impl Module for Cnn {
    /// The steps of `forward` (for `[N, 1, 28, 28]` input).
    fn onnx(&self, g: &mut Graph, x: &str) -> Result<String> {
        let x = g.child("conv1", &self.conv1, x)?;
        let x = g.node("Relu", &[&x], vec![]);
        let x = g.child("conv2", &self.conv2, &x)?;
        let x = g.node("Relu", &[&x], vec![]);
        onnx_head(g, &x, &self.fc1, &self.fc2)
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x = as_images(x)?;
        // `relu(conv1(x))` and `max_pool2d(relu(conv2(x)), 2)`, each in one
        // pass when nothing records a gradient (NOTE(conv-relu-pool)), and
        // the second in training too (NOTE(conv-relu-pool-training)).
        let x = self.conv1.forward_then(&x, ConvThen::Relu)?;
        let x = self.conv2.forward_then(&x, ConvThen::ReluMaxPool2)?;
        let x = self.dropout1.forward(&x)?.try_flatten(1, -1)?;
        let x = self.dropout2.forward(&self.fc1.forward(&x)?.relu())?;
        self.fc2.forward(&x)
    }
}

/// [`Cnn`] with `BatchNorm2d` after each convolution (`kindling train
/// --model cnn-bn`), class name `NetBN`, keys `conv1.*`, `bn1.weight`,
/// `bn1.bias`, `bn1.running_mean`, `bn1.running_var`,
/// `bn1.num_batches_tracked`, `conv2.*`, `bn2.*`, `fc1.*`, `fc2.*`.
///
/// ```
/// use kindling::nn::models::CnnBn;
/// use kindling::nn::Module;
/// use kindling::Tensor;
/// let net = CnnBn::new();
/// assert_eq!(net.forward(&Tensor::zeros([2, 1, 28, 28])).unwrap().shape(), &[2, 10]);
/// assert_eq!(net.state_dict().len(), 18);
/// ```
#[derive(super::Module)]
#[module(name = "NetBN")]
pub struct CnnBn {
    pub conv1: Conv2d,
    pub bn1: BatchNorm2d,
    pub conv2: Conv2d,
    pub bn2: BatchNorm2d,
    pub dropout1: Dropout,
    pub dropout2: Dropout,
    pub fc1: Linear,
    pub fc2: Linear,
}

impl CnnBn {
    /// A new network, initialised in PyTorch's order (the order of `__init__`).
    pub fn new() -> CnnBn {
        CnnBn {
            conv1: Conv2d::new(1, 32, 3),
            bn1: BatchNorm2d::new(32),
            conv2: Conv2d::new(32, 64, 3),
            bn2: BatchNorm2d::new(64),
            dropout1: Dropout::new(0.25),
            dropout2: Dropout::new(0.5),
            fc1: Linear::new(9216, 128),
            fc2: Linear::new(128, 10),
        }
    }
}

impl Default for CnnBn {
    fn default() -> Self {
        CnnBn::new()
    }
}

impl Module for CnnBn {
    /// The steps of `forward` (for `[N, 1, 28, 28]` input).
    fn onnx(&self, g: &mut Graph, x: &str) -> Result<String> {
        let x = g.child("conv1", &self.conv1, x)?;
        let x = g.child("bn1", &self.bn1, &x)?;
        let x = g.node("Relu", &[&x], vec![]);
        let x = g.child("conv2", &self.conv2, &x)?;
        let x = g.child("bn2", &self.bn2, &x)?;
        let x = g.node("Relu", &[&x], vec![]);
        onnx_head(g, &x, &self.fc1, &self.fc2)
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x = as_images(x)?;
        let x = self.bn1.forward(&self.conv1.forward(&x)?)?.relu();
        let x = self
            .bn2
            .forward(&self.conv2.forward(&x)?)?
            .relu()
            .try_max_pool2d_with_indices(2, Default::default())?
            .0;
        let x = self.dropout1.forward(&x)?.try_flatten(1, -1)?;
        let x = self.dropout2.forward(&self.fc1.forward(&x)?.relu())?;
        self.fc2.forward(&x)
    }
}

impl fmt::Display for Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&super::format_module(self))
    }
}
