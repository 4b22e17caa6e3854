//! Normalization layers and channel dropout: `BatchNorm1d`, `BatchNorm2d`,
//! `LayerNorm`, `Dropout2d`.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

use super::layers::{dropout_mask, py_bool};
use super::{Module, ModuleInfo};
use crate::error::{Error, Result};
use crate::io::onnx::{Attr, Graph};
use crate::ops::norm::batch_norm;
use crate::tensor::{DType, Scalar, Tensor};

/// What `BatchNorm1d` and `BatchNorm2d` share: PyTorch's `_BatchNorm`.
struct BatchNormState {
    num_features: usize,
    eps: f64,
    momentum: Option<f64>,
    weight: Option<Tensor>,
    bias: Option<Tensor>,
    running_mean: Option<Tensor>,
    running_var: Option<Tensor>,
    num_batches_tracked: Option<Tensor>,
    training: AtomicBool,
}

impl BatchNormState {
    /// `BatchNormalization(x, weight, bias, running_mean, running_var)`, as in eval mode.
    fn onnx(&self, g: &mut Graph, x: &str) -> Result<String> {
        let (Some(mean), Some(var)) = (&self.running_mean, &self.running_var) else {
            return Err(Error::Value(
                "ONNX export: BatchNorm without running statistics (track_running_stats=False) has no ONNX form".into(),
            ));
        };
        let c = self.num_features;
        let weight = match &self.weight {
            Some(w) => g.param("weight", w)?,
            None => g.param("weight", &Tensor::ones([c]))?,
        };
        let bias = match &self.bias {
            Some(b) => g.param("bias", b)?,
            None => g.param("bias", &Tensor::zeros([c]))?,
        };
        let mean = g.param("running_mean", mean)?;
        let var = g.param("running_var", var)?;
        Ok(g.node(
            "BatchNormalization",
            &[x, &weight, &bias, &mean, &var],
            vec![("epsilon", Attr::Float(self.eps as f32))],
        ))
    }

    fn new(num_features: usize, affine: bool, track_running_stats: bool) -> BatchNormState {
        let c = num_features;
        BatchNormState {
            num_features,
            eps: 1e-5,
            momentum: Some(0.1),
            weight: affine.then(|| Tensor::ones([c]).requires_grad_(true)),
            bias: affine.then(|| Tensor::zeros([c]).requires_grad_(true)),
            running_mean: track_running_stats.then(|| Tensor::zeros([c])),
            running_var: track_running_stats.then(|| Tensor::ones([c])),
            num_batches_tracked: track_running_stats
                .then(|| Tensor::scalar(0i64).to_dtype(DType::I64)),
            training: AtomicBool::new(true),
        }
    }

    fn extra_repr(&self) -> String {
        let momentum = match self.momentum {
            Some(m) => Scalar::Float(m).to_string(),
            None => "None".to_string(),
        };
        format!(
            "{}, eps={}, momentum={momentum}, affine={}, bias={}, track_running_stats={}",
            self.num_features,
            Scalar::Float(self.eps),
            py_bool(self.weight.is_some()),
            py_bool(self.bias.is_some()),
            py_bool(self.running_mean.is_some()),
        )
    }

    fn own_parameters(&self) -> Vec<(String, Tensor)> {
        let named = [("weight", &self.weight), ("bias", &self.bias)];
        named
            .into_iter()
            .filter_map(|(n, t)| t.clone().map(|t| (n.to_string(), t)))
            .collect()
    }

    fn own_buffers(&self) -> Vec<(String, Tensor)> {
        let named = [
            ("running_mean", &self.running_mean),
            ("running_var", &self.running_var),
            ("num_batches_tracked", &self.num_batches_tracked),
        ];
        named
            .into_iter()
            .filter_map(|(n, t)| t.clone().map(|t| (n.to_string(), t)))
            .collect()
    }

    /// PyTorch's `_BatchNorm.forward` once the input's rank is checked.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let training = self.training.load(Ordering::Relaxed);
        // PyTorch's checks come first here, so a refused batch counts nothing.
        if training && x.dim() >= 2 && x.numel() == x.shape()[1] {
            return Err(Error::Value(format!(
                "Expected more than 1 value per channel when training, got input size {:?}",
                x.shape()
            )));
        }
        let mut factor = self.momentum.unwrap_or(0.0);
        if training {
            if let Some(count) = &self.num_batches_tracked {
                let n = count.item().to_i64() + 1;
                count.fill_(n);
                // momentum=None: the cumulative average of all batches so far.
                factor = self.momentum.unwrap_or(1.0 / n as f64);
            }
        }
        let batch_stats = training || self.running_mean.is_none();
        let (mean, var) = if !training || self.num_batches_tracked.is_some() {
            (self.running_mean.as_ref(), self.running_var.as_ref())
        } else {
            (None, None)
        };
        batch_norm(
            x,
            mean,
            var,
            self.weight.as_ref(),
            self.bias.as_ref(),
            batch_stats,
            factor,
            self.eps,
        )
    }
}

macro_rules! batch_norm_module {
    (
        $(#[$doc:meta])*
        $name:ident, $ranks:expr, $expected:expr
    ) => {
        $(#[$doc])*
        pub struct $name {
            state: BatchNormState,
        }

        impl $name {
            /// PyTorch's defaults: `eps=1e-05`, `momentum=0.1`, `affine=True`
            /// (`weight` ones, `bias` zeros), `track_running_stats=True`
            /// (`running_mean` zeros, `running_var` ones, `num_batches_tracked`
            /// 0), in training mode.
            pub fn new(num_features: usize) -> $name {
                $name::with_options(num_features, true, true)
            }

            /// `affine` and `track_running_stats` as PyTorch's constructor takes them.
            pub fn with_options(num_features: usize, affine: bool, track_running_stats: bool) -> $name {
                $name {
                    state: BatchNormState::new(num_features, affine, track_running_stats),
                }
            }

            /// `(num_features, eps, momentum)`.
            pub(crate) fn settings(&self) -> (usize, f64, Option<f64>) {
                (self.state.num_features, self.state.eps, self.state.momentum)
            }

            /// Sets `eps`, added to the variance.
            pub fn eps(mut self, eps: f64) -> $name {
                self.state.eps = eps;
                self
            }

            /// Sets `momentum`; `None` averages all batches seen equally.
            pub fn momentum(mut self, momentum: Option<f64>) -> $name {
                self.state.momentum = momentum;
                self
            }

            /// `[num_features]`, when `affine`.
            pub fn weight(&self) -> Option<&Tensor> {
                self.state.weight.as_ref()
            }

            /// `[num_features]`, when `affine`.
            pub fn bias(&self) -> Option<&Tensor> {
                self.state.bias.as_ref()
            }

            /// The running mean, when running statistics are tracked.
            pub fn running_mean(&self) -> Option<&Tensor> {
                self.state.running_mean.as_ref()
            }

            /// The running (unbiased) variance, when tracked.
            pub fn running_var(&self) -> Option<&Tensor> {
                self.state.running_var.as_ref()
            }

            /// How many training batches have updated the running statistics
            /// (an int64 scalar), when tracked.
            pub fn num_batches_tracked(&self) -> Option<&Tensor> {
                self.state.num_batches_tracked.as_ref()
            }
        }

        impl ModuleInfo for $name {
            fn type_name(&self) -> &str {
                stringify!($name)
            }
            fn extra_repr(&self) -> String {
                self.state.extra_repr()
            }
            fn own_parameters(&self) -> Vec<(String, Tensor)> {
                self.state.own_parameters()
            }
            fn own_buffers(&self) -> Vec<(String, Tensor)> {
                self.state.own_buffers()
            }
            fn set_own_training(&self, training: bool) {
                self.state.training.store(training, Ordering::Relaxed);
            }
        }

        impl Module for $name {
            fn onnx(&self, g: &mut Graph, x: &str) -> Result<String> {
                self.state.onnx(g, x)
            }

            fn forward(&self, x: &Tensor) -> Result<Tensor> {
                if !$ranks.contains(&x.dim()) {
                    return Err(Error::Value(format!(
                        "expected {} input (got {}D input)",
                        $expected,
                        x.dim()
                    )));
                }
                self.state.forward(x)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&super::format_module(self))
            }
        }
    };
}

batch_norm_module! {
    /// `nn.BatchNorm2d`: normalizes each channel of `[N, C, H, W]` with the
    /// batch's statistics in training (updating the running ones) and with the
    /// running statistics in evaluation, then scales and shifts it.
    ///
    /// ```
    /// use kindling::nn::{BatchNorm2d, Module};
    /// use kindling::Tensor;
    /// let bn = BatchNorm2d::new(32);
    /// assert_eq!(bn.to_string(), "BatchNorm2d(32, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)");
    /// let keys: Vec<String> = bn.state_dict().into_iter().map(|(k, _)| k).collect();
    /// assert_eq!(keys, ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]);
    /// let err = bn.forward(&Tensor::zeros([32, 5, 5])).unwrap_err();
    /// assert_eq!(err.to_string(), "expected 4D input (got 3D input)");
    /// ```
    BatchNorm2d, [4], "4D"
}

batch_norm_module! {
    /// `nn.BatchNorm1d`: as [`BatchNorm2d`], over `[N, C]` or `[N, C, L]`.
    ///
    /// ```
    /// use kindling::nn::{BatchNorm1d, Module};
    /// use kindling::Tensor;
    /// let bn = BatchNorm1d::new(3);
    /// let err = bn.forward(&Tensor::zeros([1, 3])).unwrap_err();
    /// assert_eq!(err.to_string(), "Expected more than 1 value per channel when training, got input size [1, 3]");
    /// bn.eval();
    /// assert_eq!(bn.forward(&Tensor::zeros([1, 3])).unwrap().shape(), &[1, 3]);
    /// ```
    BatchNorm1d, [2, 3], "2D or 3D"
}

/// `nn.LayerNorm(normalized_shape)`: normalizes over the last dimensions
/// (`normalized_shape`) of each sample, then scales by `weight` (ones) and
/// adds `bias` (zeros), each of shape `normalized_shape`.
///
/// ```
/// use kindling::nn::{LayerNorm, Module};
/// use kindling::Tensor;
/// let ln = LayerNorm::new([10]);
/// assert_eq!(ln.to_string(), "LayerNorm((10,), eps=1e-05, elementwise_affine=True, bias=True)");
/// assert_eq!(ln.forward(&Tensor::randn([4, 10])).unwrap().shape(), &[4, 10]);
/// ```
pub struct LayerNorm {
    /// The trailing dimensions normalized over.
    pub normalized_shape: Vec<usize>,
    /// Added to the variance.
    pub eps: f64,
    /// `normalized_shape`, when `elementwise_affine`.
    pub weight: Option<Tensor>,
    /// `normalized_shape`, when `elementwise_affine` and `bias`.
    pub bias: Option<Tensor>,
}

impl LayerNorm {
    /// PyTorch's defaults: `eps=1e-05`, `elementwise_affine=True`, `bias=True`.
    pub fn new(normalized_shape: impl Into<Vec<usize>>) -> LayerNorm {
        LayerNorm::with_options(normalized_shape, true, true)
    }

    /// `elementwise_affine` and `bias` as PyTorch's constructor takes them.
    pub fn with_options(
        normalized_shape: impl Into<Vec<usize>>,
        elementwise_affine: bool,
        bias: bool,
    ) -> LayerNorm {
        let shape: Vec<usize> = normalized_shape.into();
        LayerNorm {
            weight: elementwise_affine.then(|| Tensor::ones(&shape[..]).requires_grad_(true)),
            bias: (elementwise_affine && bias)
                .then(|| Tensor::zeros(&shape[..]).requires_grad_(true)),
            normalized_shape: shape,
            eps: 1e-5,
        }
    }

    /// Sets `eps`.
    pub fn eps(mut self, eps: f64) -> LayerNorm {
        self.eps = eps;
        self
    }
}

impl ModuleInfo for LayerNorm {
    fn type_name(&self) -> &str {
        "LayerNorm"
    }
    fn extra_repr(&self) -> String {
        let dims: Vec<String> = self
            .normalized_shape
            .iter()
            .map(|d| d.to_string())
            .collect();
        let tuple = match dims.len() {
            1 => format!("({},)", dims[0]),
            _ => format!("({})", dims.join(", ")),
        };
        format!(
            "{tuple}, eps={}, elementwise_affine={}, bias={}",
            Scalar::Float(self.eps),
            py_bool(self.weight.is_some()),
            py_bool(self.bias.is_some())
        )
    }
    fn own_parameters(&self) -> Vec<(String, Tensor)> {
        let named = [("weight", &self.weight), ("bias", &self.bias)];
        named
            .into_iter()
            .filter_map(|(n, t)| t.clone().map(|t| (n.to_string(), t)))
            .collect()
    }
}

impl Module for LayerNorm {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.try_layer_norm(
            &self.normalized_shape,
            self.weight.as_ref(),
            self.bias.as_ref(),
            self.eps,
        )
    }
}

impl fmt::Display for LayerNorm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&super::format_module(self))
    }
}

/// `F.dropout2d(input, p, training)`: in training, zeroes whole channels
/// (each `[H, W]` plane of `[N, C, H, W]`, or each `[L]` row of `[N, C, L]`)
/// with probability `p` and scales the others by `1/(1-p)`, as `input · mask`
/// (grad_fn `MulBackward0`, as PyTorch's); the input itself otherwise. Masks
/// come from the global generator.
pub fn dropout2d(input: &Tensor, p: f64, training: bool) -> Result<Tensor> {
    if !(0.0..=1.0).contains(&p) {
        return Err(Error::Value(format!(
            "dropout probability has to be between 0 and 1, but got {p}"
        )));
    }
    if !training || p == 0.0 {
        return Ok(input.clone());
    }
    if !input.dtype().is_floating_point() {
        return Err(Error::NotImplemented {
            op: "dropout2d",
            dtype: input.dtype(),
        });
    }
    if input.dim() < 2 {
        return Err(Error::Value(format!(
            "dropout2d expects a 3D or 4D input, got {}D input",
            input.dim()
        )));
    }
    let mut shape = vec![1; input.dim()];
    shape[..2].copy_from_slice(&input.shape()[..2]);
    Ok(input * &dropout_mask(&shape, p, input))
}

/// `nn.Dropout2d(p)`: [`dropout2d`] in training mode, the identity in
/// evaluation mode.
///
/// ```
/// use kindling::nn::{Dropout2d, Module};
/// use kindling::Tensor;
/// let drop = Dropout2d::new(0.5);
/// assert_eq!(drop.to_string(), "Dropout2d(p=0.5, inplace=False)");
/// let y = drop.forward(&Tensor::ones([4, 8, 3, 3])).unwrap();
/// let planes = y.reshape([32, 9]).to_vec::<f32>();
/// // Each plane is all zeros or all twos.
/// assert!(planes.chunks(9).all(|p| p.iter().all(|&v| v == p[0]) && (p[0] == 0.0 || p[0] == 2.0)));
/// ```
pub struct Dropout2d {
    /// Probability of zeroing a channel.
    pub p: f64,
    training: AtomicBool,
}

impl Dropout2d {
    /// `nn.Dropout2d(p)`, in training mode.
    ///
    /// # Panics
    /// When `p` is outside `[0, 1]`.
    pub fn new(p: f64) -> Dropout2d {
        assert!(
            (0.0..=1.0).contains(&p),
            "dropout probability has to be between 0 and 1, but got {p}"
        );
        Dropout2d {
            p,
            training: AtomicBool::new(true),
        }
    }
}

impl ModuleInfo for Dropout2d {
    fn type_name(&self) -> &str {
        "Dropout2d"
    }
    fn extra_repr(&self) -> String {
        format!("p={}, inplace=False", Scalar::Float(self.p))
    }
    fn set_own_training(&self, training: bool) {
        self.training.store(training, Ordering::Relaxed);
    }
}

impl Module for Dropout2d {
    /// Nothing: dropout is the identity in eval mode.
    fn onnx(&self, _g: &mut Graph, x: &str) -> Result<String> {
        Ok(x.to_string())
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        dropout2d(x, self.p, self.training.load(Ordering::Relaxed))
    }
}

impl fmt::Display for Dropout2d {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&super::format_module(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn momentum_none_averages_every_batch_equally() {
        // PyTorch: with momentum=None the running mean after k batches is the
        // plain average of their means.
        let bn = BatchNorm1d::new(2).momentum(None);
        let batches = [
            [1.0f32, 10.0, 3.0, 30.0],
            [5.0, 50.0, 7.0, 70.0],
            [0.0, 0.0, 2.0, 2.0],
        ];
        for b in &batches {
            bn.forward(&Tensor::from_vec(b.to_vec(), [2, 2])).unwrap();
        }
        let mean = bn.running_mean().unwrap().to_vec::<f32>();
        assert!((mean[0] - (2.0 + 6.0 + 1.0) / 3.0).abs() < 1e-6, "{mean:?}");
        assert!(
            (mean[1] - (20.0 + 60.0 + 1.0) / 3.0).abs() < 1e-5,
            "{mean:?}"
        );
        assert_eq!(bn.num_batches_tracked().unwrap().item().to_i64(), 3);
        assert!(bn.to_string().contains("momentum=None"));
    }

    #[test]
    fn eval_uses_the_running_statistics_and_counts_nothing() {
        let bn = BatchNorm2d::new(1);
        bn.running_mean().unwrap().fill_(2.0);
        bn.running_var().unwrap().fill_(4.0);
        bn.eval();
        let y = bn.forward(&Tensor::full([1, 1, 1, 2], 4.0)).unwrap();
        let want = 2.0 / (4.0f32 + 1e-5).sqrt();
        assert!(y.to_vec::<f32>().iter().all(|v| (v - want).abs() < 1e-6));
        assert_eq!(bn.num_batches_tracked().unwrap().item().to_i64(), 0);
        assert_eq!(bn.running_mean().unwrap().to_vec::<f32>(), [2.0]);
    }

    #[test]
    fn without_running_statistics_the_batch_is_used_in_eval_too() {
        let bn = BatchNorm2d::with_options(3, false, false);
        assert_eq!(
            bn.to_string(),
            "BatchNorm2d(3, eps=1e-05, momentum=0.1, affine=False, bias=False, track_running_stats=False)"
        );
        assert!(bn.state_dict().is_empty());
        bn.eval();
        let y = bn.forward(&Tensor::randn([4, 3, 2, 2])).unwrap();
        let per_channel = y.transpose(0, 1).reshape([3, -1]).mean_dim(1, false);
        assert!(per_channel.to_vec::<f32>().iter().all(|m| m.abs() < 1e-5));
    }

    #[test]
    fn printouts_are_pytorchs() {
        // PyTorch 2.15's reprs.
        assert_eq!(
            BatchNorm1d::new(5).to_string(),
            "BatchNorm1d(5, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)"
        );
        assert_eq!(
            LayerNorm::new([3, 4]).to_string(),
            "LayerNorm((3, 4), eps=1e-05, elementwise_affine=True, bias=True)"
        );
        assert_eq!(
            Dropout2d::new(0.25).to_string(),
            "Dropout2d(p=0.25, inplace=False)"
        );
        let ln = LayerNorm::new([6]);
        let keys: Vec<String> = ln.state_dict().into_iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["weight", "bias"]);
    }

    #[test]
    fn dropout2d_is_a_product_with_a_channel_mask() {
        let x = Tensor::ones([2, 3, 4]).requires_grad_(true);
        let y = dropout2d(&x, 0.5, true).unwrap();
        assert_eq!(y.grad_fn_name(), Some("MulBackward0"));
        assert!(dropout2d(&x, 1.5, true).is_err());
        assert_eq!(
            dropout2d(&x, 0.5, false).unwrap().to_vec::<f32>(),
            x.to_vec::<f32>()
        );
    }
}
