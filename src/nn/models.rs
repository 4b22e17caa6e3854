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
//! ```

use std::fmt;
use std::str::FromStr;

use super::{Flatten, Linear, Module, ModuleInfo, ReLU, Sequential, Sigmoid};
use crate::error::{Error, Result};
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
}

impl Arch {
    /// All architectures, in CLI order.
    pub const ALL: [Arch; 3] = [Arch::Linear, Arch::ThreeBlue, Arch::Mlp];

    /// The CLI name: `linear`, `threeblue`, `mlp`.
    pub fn name(self) -> &'static str {
        match self {
            Arch::Linear => "linear",
            Arch::ThreeBlue => "threeblue",
            Arch::Mlp => "mlp",
        }
    }

    /// The PyTorch class name printed for the model.
    pub fn class_name(self) -> &'static str {
        match self {
            Arch::Linear => "LinearNet",
            Arch::ThreeBlue => "ThreeBlue",
            Arch::Mlp => "MLP",
        }
    }

    /// A new model with PyTorch's default initialisation from the global generator.
    pub fn build(self) -> Net {
        let layers = match self {
            Arch::Linear => Sequential::new().add(Linear::new(784, 10)),
            Arch::ThreeBlue => Sequential::new()
                .add(Linear::new(784, 16))
                .add(Sigmoid::new())
                .add(Linear::new(16, 16))
                .add(Sigmoid::new())
                .add(Linear::new(16, 10)),
            Arch::Mlp => Sequential::new()
                .add(Linear::new(784, 128))
                .add(ReLU::new())
                .add(Linear::new(128, 64))
                .add(ReLU::new())
                .add(Linear::new(64, 10)),
        };
        Net {
            arch: self,
            flatten: Flatten::new(),
            layers,
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
                    "unknown model '{s}' (expected one of: linear, threeblue, mlp)"
                ))
            })
    }
}

/// A reference model: `flatten` then `layers`.
pub struct Net {
    /// Which architecture this is.
    pub arch: Arch,
    /// `nn.Flatten()`
    pub flatten: Flatten,
    /// The layers, named `layers.0`, `layers.1`, ...
    pub layers: Sequential,
}

impl ModuleInfo for Net {
    fn type_name(&self) -> &str {
        self.arch.class_name()
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        vec![
            ("flatten".to_string(), &self.flatten),
            ("layers".to_string(), &self.layers),
        ]
    }
}

impl Module for Net {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        self.layers.forward(&self.flatten.forward(x)?)
    }
}

impl fmt::Display for Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&super::format_module(self))
    }
}
