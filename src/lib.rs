//! kindling: the PyTorch lecture's tensors, autograd and training, in Rust.
//!
//! The tensor engine and autograd are kindling's own; they follow PyTorch's
//! semantics, names, error messages and printing.
//!
//! ```
//! use kindling::{Tensor, DType};
//!
//! let pixels = Tensor::from_vec(vec![0u8, 128, 255, 64], [2, 2]);
//! let x = &pixels / 255;                       // true division: uint8 -> float32
//! assert_eq!(x.dtype(), DType::F32);
//! let w = Tensor::ones([2]).requires_grad_(true);
//! let loss = x.matmul(&w).sum();
//! loss.backward();
//! // d(Σ x·w)/dw is each column's sum of x.
//! assert_eq!(w.grad().unwrap().to_vec::<f32>(), x.sum_dim(0, false).to_vec::<f32>());
//! assert_eq!(loss.to_string(), "tensor(1.7529, grad_fn=<SumBackward0>)");
//! ```

// `with_dtype!` instantiates generic kernels for bool too, where `x > zero` is
// the intended comparison.
#![allow(clippy::bool_comparison)]

// `#[derive(Module)]` names `::kindling`, inside the crate too.
extern crate self as kindling;

pub mod autograd;
pub(crate) mod backend;
pub mod data;
pub mod error;
pub mod io;
pub mod nn;
pub mod notebook;
pub mod ops;
pub mod optim;
pub mod plot;
pub mod tensor;
pub mod testing;
pub mod train;
pub mod vision;

/// What a script or notebook usually needs, in one import, as `import torch`,
/// `from torch import nn` and `from torch.utils.data import DataLoader` give a
/// PyTorch script:
///
/// ```
/// use kindling::prelude::*;
///
/// let model = nn::Sequential::new((nn::Flatten::new(), nn::Linear::new(4, 2)));
/// let mut optimizer = optim::SGD::new(model.parameters(), 0.1);
/// let x = Tensor::ones([3, 2, 2]);
/// let loss = model.forward(&x)?.sum();
/// optimizer.zero_grad();
/// loss.backward();
/// optimizer.step();
/// assert_eq!(x.i((.., 0, -1)).size(), Size(vec![3]));
/// # Ok::<(), kindling::Error>(())
/// ```
pub mod prelude {
    pub use crate::data::{DataLoader, Dataset};
    pub use crate::io::Value;
    pub use crate::nn::{self, functional as F, Forward, Module, ModuleInfo};
    pub use crate::notebook::EvcxrDisplay;
    pub use crate::optim::{self, Optimizer};
    pub use crate::train::tqdm;
    pub use crate::{
        accelerator, cuda, manual_seed, no_grad, DType, Device, Ellipsis, Error, NewAxis,
        NoGradGuard, Result, Size, Tensor,
    };
}

/// `torch.cuda`: kindling computes on the CPU, so no CUDA device is ever
/// available, and the tutorials' `if torch.cuda.is_available()` lines take
/// their CPU branch unchanged.
pub mod cuda {
    /// Always false: kindling has no CUDA backend (`torch.cuda.is_available()`).
    pub fn is_available() -> bool {
        false
    }

    /// Always 0 (`torch.cuda.device_count()`).
    pub fn device_count() -> usize {
        0
    }
}

/// `torch.accelerator`: none, so the tutorials' device line
/// (`torch.accelerator.current_accelerator().type if
/// torch.accelerator.is_available() else "cpu"`) picks the CPU.
///
/// ```
/// use kindling::{accelerator, Device};
/// let device = accelerator::current_accelerator().unwrap_or(Device::Cpu);
/// assert_eq!(format!("Using {device} device"), "Using cpu device");
/// ```
pub mod accelerator {
    /// Always false (`torch.accelerator.is_available()`).
    pub fn is_available() -> bool {
        false
    }

    /// Always `None` (`torch.accelerator.current_accelerator()`).
    pub fn current_accelerator() -> Option<crate::Device> {
        None
    }
}

pub use autograd::{is_grad_enabled, no_grad, GradFn, NoGradGuard};
pub use backend::cpu::runtime::{num_threads as get_num_threads, set_num_threads, with_threads};
pub use error::{Error, Result};
pub use io::{load, save};
pub use ops::conv::{ConvOptions, Padding, Size2};
pub use ops::elementwise::Operand;
pub use ops::pool::{AvgPoolOptions, PoolOptions};
pub use ops::reduce::DimArg;
pub use ops::shape::{Ellipsis, IndexArg, IndexItem, NewAxis, TensorIndex};
pub use tensor::random::{get_rng_state, manual_seed, set_rng_state, Generator};
pub use tensor::{DType, Device, Element, Literal, Scalar, Size, Tensor, TensorData};
