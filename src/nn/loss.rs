//! Loss modules: `CrossEntropyLoss`, `NLLLoss`, `MSELoss`, `BCEWithLogitsLoss`.

use std::fmt;

use super::functional;
use crate::error::Result;
use crate::tensor::Tensor;

pub use crate::ops::loss::Reduction;

macro_rules! loss_display {
    ($name:ident) => {
        impl fmt::Display for $name {
            /// `CrossEntropyLoss()`, as PyTorch prints a loss module.
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}()", stringify!($name))
            }
        }
    };
}

/// Cross-entropy of logits `[N, C]` against class indices `[N]` (int64),
/// computed stably as `nll_loss(log_softmax(x))`; optional label smoothing.
///
/// ```
/// use kindling::nn::CrossEntropyLoss;
/// use kindling::Tensor;
/// let logits = Tensor::zeros([2, 10]);
/// let loss = CrossEntropyLoss::new().forward(&logits, &Tensor::from_slice(&[3i64, 7]))?;
/// assert!((loss.item().to_f64() - 10f64.ln()).abs() < 1e-6);
/// # Ok::<(), kindling::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct CrossEntropyLoss {
    /// How per-sample losses are combined.
    pub reduction: Reduction,
    /// Weight moved uniformly to all classes, in `[0, 1]`.
    pub label_smoothing: f64,
}

impl CrossEntropyLoss {
    /// Mean reduction, no smoothing.
    pub fn new() -> CrossEntropyLoss {
        CrossEntropyLoss::default()
    }

    /// The loss of `logits` for `target` class indices.
    pub fn forward(&self, logits: &Tensor, target: &Tensor) -> Result<Tensor> {
        functional::cross_entropy_with(logits, target, self.reduction, self.label_smoothing)
    }
}
loss_display!(CrossEntropyLoss);

/// Negative log-likelihood of log-probabilities `[N, C]` at class indices `[N]`.
#[derive(Clone, Debug, Default)]
pub struct NLLLoss {
    /// How per-sample losses are combined.
    pub reduction: Reduction,
}

impl NLLLoss {
    /// Mean reduction.
    pub fn new() -> NLLLoss {
        NLLLoss::default()
    }

    /// The loss of `log_probs` for `target` class indices.
    pub fn forward(&self, log_probs: &Tensor, target: &Tensor) -> Result<Tensor> {
        functional::nll_loss(log_probs, target, self.reduction)
    }
}
loss_display!(NLLLoss);

/// Mean squared error.
#[derive(Clone, Debug, Default)]
pub struct MSELoss {
    /// How per-element losses are combined.
    pub reduction: Reduction,
}

impl MSELoss {
    /// Mean reduction.
    pub fn new() -> MSELoss {
        MSELoss::default()
    }

    /// `(input - target)²`, reduced.
    pub fn forward(&self, input: &Tensor, target: &Tensor) -> Result<Tensor> {
        functional::mse_loss(input, target, self.reduction)
    }
}
loss_display!(MSELoss);

/// Binary cross-entropy on logits, computed stably.
#[derive(Clone, Debug, Default)]
pub struct BCEWithLogitsLoss {
    /// How per-element losses are combined.
    pub reduction: Reduction,
}

impl BCEWithLogitsLoss {
    /// Mean reduction.
    pub fn new() -> BCEWithLogitsLoss {
        BCEWithLogitsLoss::default()
    }

    /// The loss of `logits` for targets in `[0, 1]`.
    pub fn forward(&self, logits: &Tensor, target: &Tensor) -> Result<Tensor> {
        functional::binary_cross_entropy_with_logits(logits, target, self.reduction)
    }
}
loss_display!(BCEWithLogitsLoss);
