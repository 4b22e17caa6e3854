//! Normalization: `batch_norm` (PyTorch's `F.batch_norm`: batch statistics
//! and the running-statistics update in training, the running statistics in
//! evaluation; node `NativeBatchNormBackward0`) and `layer_norm`
//! (`F.layer_norm`, node `NativeLayerNormBackward0`).
//!
//! NOTE(norm-composite): both are written with other tensor ops, so they run
//! on every backend without kernels of their own; statistics and the sums of
//! the backward pass are accumulated in float64 (the sum over the batch is
//! rounded once to the input's dtype before the positions are added; PyTorch
//! accumulates float32 in float32, in another order: the two agree within
//! 1e-6 relative on the goldens).

use super::elementwise::float_input;
use crate::autograd::{Inputs, Node, Sink};
use crate::error::{shape_err, Error, Result};
use crate::tensor::{DType, Tensor};

/// The shape `[1, C, 1, ...]` that broadcasts a per-channel vector against
/// an `[N, C, ...]` input.
fn channel_shape(x: &Tensor) -> Vec<usize> {
    let mut shape = vec![1; x.dim()];
    shape[1] = x.shape()[1];
    shape
}

/// The sum of each channel of `t` `[N, C, ...]`, `[C]` in float64: over
/// the batch first (whole `[C, ...]` samples added at once, vectorised),
/// then over each channel's positions.
fn channel_sums(t: &Tensor) -> Tensor {
    let (n, c) = (t.shape()[0] as isize, t.shape()[1] as isize);
    t.reshape([n, -1])
        .sum_dim(0, false)
        .to_dtype(DType::F64)
        .reshape([c, -1])
        .sum_dim(1, false)
}

/// The mean and biased variance of each channel of `x` (float64, `[C]`),
/// the variance from the centred values (`shape` broadcasts `[C]` to `x`).
fn channel_mean_var(x: &Tensor, shape: &[usize]) -> (Tensor, Tensor) {
    let count = (x.numel() / x.shape()[1].max(1)) as f64;
    let mean = channel_sums(x).mul_scalar(1.0 / count);
    let centred = x - &mean.to_dtype(x.dtype()).reshape(shape);
    let var = channel_sums(&(&centred * &centred)).mul_scalar(1.0 / count);
    (mean, var)
}

/// The mean and biased variance of each row of `rows` (float64, `[R, L]`).
fn mean_var(rows: &Tensor) -> (Tensor, Tensor) {
    let mean = rows.mean_dim(1, false);
    let centred = rows - &mean.unsqueeze(1);
    (mean, (&centred * &centred).mean_dim(1, false))
}

/// `1 / sqrt(var + eps)`, computed in float64.
fn inverse_std(var: &Tensor, eps: f64) -> Tensor {
    var.to_dtype(DType::F64).add_scalar(eps).sqrt().reciprocal()
}

/// PyTorch's check that a per-channel tensor has one element per channel.
fn per_channel(name: &str, t: Option<&Tensor>, c: usize) -> Result<()> {
    match t {
        Some(t) if t.numel() != c => Err(shape_err(format!(
            "{name} should contain {c} elements not {}",
            t.numel()
        ))),
        _ => Ok(()),
    }
}

/// PyTorch's `F.batch_norm(input, running_mean, running_var, weight, bias,
/// training, momentum, eps)` over an `[N, C, ...]` input, per channel `C`.
///
/// In training (or without running statistics) it normalizes with the
/// batch's mean and biased variance and, when running statistics are given,
/// updates them in place: `running = (1 - momentum) · running + momentum ·
/// batch`, with the unbiased variance for `running_var`. In evaluation it
/// normalizes with the running statistics. `weight` and `bias` (the affine
/// part) are optional. The module is [`crate::nn::BatchNorm2d`].
///
/// ```
/// use kindling::{ops::norm::batch_norm, Tensor};
/// let x = Tensor::from_vec(vec![1.0f32, 3.0, 5.0, 7.0], [4, 1]);
/// let (mean, var) = (Tensor::zeros([1]), Tensor::ones([1]));
/// let y = batch_norm(&x, Some(&mean), Some(&var), None, None, true, 0.1, 1e-5).unwrap();
/// assert!((y.to_vec::<f32>()[0] + 1.3416).abs() < 1e-4);
/// assert!((mean.to_vec::<f32>()[0] - 0.4).abs() < 1e-6); // 0.9 · 0 + 0.1 · 4
/// ```
#[allow(clippy::too_many_arguments)]
pub fn batch_norm(
    input: &Tensor,
    running_mean: Option<&Tensor>,
    running_var: Option<&Tensor>,
    weight: Option<&Tensor>,
    bias: Option<&Tensor>,
    training: bool,
    momentum: f64,
    eps: f64,
) -> Result<Tensor> {
    float_input(input, "batch_norm")?;
    if input.dim() < 2 {
        return Err(shape_err(format!(
            "batch_norm expects an input of at least 2 dimensions [N, C, ...], but got input of size: {:?}",
            input.shape()
        )));
    }
    let c = input.shape()[1];
    per_channel("running_mean", running_mean, c)?;
    per_channel("running_var", running_var, c)?;
    per_channel("weight", weight, c)?;
    per_channel("bias", bias, c)?;
    let per_value = input.numel() / c.max(1);
    if training && per_value == 1 {
        return Err(Error::Value(format!(
            "Expected more than 1 value per channel when training, got input size {:?}",
            input.shape()
        )));
    }
    let batch_stats = training || running_mean.is_none() || running_var.is_none();
    let shape = channel_shape(input);
    let dtype = input.dtype();
    let (xhat, invstd, out) = crate::no_grad(|| {
        let (mean, invstd) = if batch_stats {
            let (mean, var) = channel_mean_var(input, &shape);
            if training {
                let unbiased = if per_value > 1 {
                    var.mul_scalar(per_value as f64 / (per_value - 1) as f64)
                } else {
                    var.clone()
                };
                for (running, batch) in [(running_mean, &mean), (running_var, &unbiased)] {
                    if let Some(r) = running {
                        r.mul_scalar_(1.0 - momentum);
                        r.add_alpha_(&batch.to_dtype(r.dtype()), momentum);
                    }
                }
            }
            (mean, inverse_std(&var, eps))
        } else {
            let (m, v) = (
                running_mean.expect("checked"),
                running_var.expect("checked"),
            );
            (m.to_dtype(DType::F64), inverse_std(v, eps))
        };
        let (mean, invstd) = (mean.to_dtype(dtype), invstd.to_dtype(dtype));
        let xhat = &(input - &mean.reshape(&shape[..])) * &invstd.reshape(&shape[..]);
        let mut out = xhat.clone();
        if let Some(w) = weight {
            out = &out * &w.reshape(&shape[..]);
        }
        if let Some(b) = bias {
            out = &out + &b.reshape(&shape[..]);
        }
        (xhat, invstd, out)
    });
    let mut inputs = vec![input];
    inputs.extend(weight);
    inputs.extend(bias);
    Ok(Tensor::record(out, &inputs, || NativeBatchNormBackward0 {
        x: input.clone(),
        weight: weight.cloned(),
        bias: bias.cloned(),
        xhat,
        invstd,
        batch_stats,
    }))
}

/// The gradients of [`batch_norm`]: with batch statistics, `dx = w · invstd ·
/// (g - mean(g) - x̂ · mean(g · x̂))` per channel; with running ones, `dx = w ·
/// invstd · g`; `dw = Σ g · x̂`, `db = Σ g`.
struct NativeBatchNormBackward0 {
    x: Tensor,
    weight: Option<Tensor>,
    bias: Option<Tensor>,
    /// The normalized input, `(x - mean) · invstd`.
    xhat: Tensor,
    /// `1 / sqrt(var + eps)` per channel, in the input's dtype.
    invstd: Tensor,
    batch_stats: bool,
}

impl Node for NativeBatchNormBackward0 {
    fn name(&self) -> &'static str {
        "NativeBatchNormBackward0"
    }
    fn inputs(&self) -> Inputs<'_> {
        let mut v: Inputs<'_> = smallvec::smallvec![&self.x];
        v.extend(self.weight.as_ref());
        v.extend(self.bias.as_ref());
        v
    }
    fn backward(&self, g: &Tensor, acc: &mut Sink<'_>) {
        let shape = channel_shape(&self.x);
        let dtype = self.x.dtype();
        // Per-channel sums in float64: Σ g and Σ g · x̂.
        let sum_g = || channel_sums(g);
        let sum_g_xhat = || channel_sums(&(g * &self.xhat));
        acc.add(&self.x, || {
            let mut scale = self.invstd.clone();
            if let Some(w) = &self.weight {
                scale = &scale * &w.reshape([-1]);
            }
            let scale = scale.reshape(&shape[..]);
            if !self.batch_stats {
                return g * &scale;
            }
            let count = (self.x.numel() / shape[1].max(1)) as f64;
            let mean_g = sum_g().mul_scalar(1.0 / count).to_dtype(dtype);
            let mean_g_xhat = sum_g_xhat().mul_scalar(1.0 / count).to_dtype(dtype);
            let centred = g - &mean_g.reshape(&shape[..]);
            &(&centred - &(&self.xhat * &mean_g_xhat.reshape(&shape[..]))) * &scale
        });
        if let Some(w) = &self.weight {
            acc.add(w, || sum_g_xhat().to_dtype(dtype).reshape(w.shape()));
        }
        if let Some(b) = &self.bias {
            acc.add(b, || sum_g().to_dtype(dtype).reshape(b.shape()));
        }
    }
}

impl Tensor {
    /// PyTorch's `F.layer_norm(x, normalized_shape, weight, bias, eps)`:
    /// normalizes over the last dimensions (`normalized_shape`) with their
    /// mean and biased variance, then scales by `weight` and adds `bias`
    /// (each of shape `normalized_shape`, optional). The module is
    /// [`crate::nn::LayerNorm`].
    ///
    /// # Panics
    /// Where [`Tensor::try_layer_norm`] returns an error.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], [2, 2]);
    /// let y = x.layer_norm(&[2], None, None, 1e-5);
    /// assert!((y.to_vec::<f32>()[0] + 1.0).abs() < 1e-4);
    /// ```
    pub fn layer_norm(
        &self,
        normalized_shape: &[usize],
        weight: Option<&Tensor>,
        bias: Option<&Tensor>,
        eps: f64,
    ) -> Tensor {
        crate::error::or_panic!(self.try_layer_norm(normalized_shape, weight, bias, eps))
    }

    /// Fallible [`Tensor::layer_norm`]: PyTorch's errors for an input whose
    /// last dimensions are not `normalized_shape`, or affine tensors of
    /// another shape.
    pub fn try_layer_norm(
        &self,
        normalized_shape: &[usize],
        weight: Option<&Tensor>,
        bias: Option<&Tensor>,
        eps: f64,
    ) -> Result<Tensor> {
        float_input(self, "layer_norm")?;
        let k = normalized_shape.len();
        if k == 0 || self.dim() < k || self.shape()[self.dim() - k..] != *normalized_shape {
            return Err(shape_err(format!(
                "Given normalized_shape={normalized_shape:?}, expected input with shape [*, {}], but got input of size{:?}",
                normalized_shape.iter().map(|d| d.to_string()).collect::<Vec<_>>().join(", "),
                self.shape()
            )));
        }
        for (name, t) in [("weight", weight), ("bias", bias)] {
            if let Some(t) = t.filter(|t| t.shape() != normalized_shape) {
                return Err(shape_err(format!(
                    "Expected {name} to be of same shape as normalized_shape, but got {name} of shape {:?} and normalized_shape = {normalized_shape:?}",
                    t.shape()
                )));
            }
        }
        let features: usize = normalized_shape.iter().product();
        let dtype = self.dtype();
        let (xhat, invstd, out) = crate::no_grad(|| {
            let rows = self.reshape([-1, features as isize]).to_dtype(DType::F64);
            let (mean, var) = mean_var(&rows);
            let invstd = inverse_std(&var, eps).to_dtype(dtype).unsqueeze(1);
            let mean = mean.to_dtype(dtype).unsqueeze(1);
            let xhat =
                (&(&self.reshape([-1, features as isize]) - &mean) * &invstd).reshape(self.shape());
            let mut out = xhat.clone();
            if let Some(w) = weight {
                out = &out * w;
            }
            if let Some(b) = bias {
                out = &out + b;
            }
            (xhat, invstd, out)
        });
        let mut inputs = vec![self];
        inputs.extend(weight);
        inputs.extend(bias);
        Ok(Tensor::record(out, &inputs, || NativeLayerNormBackward0 {
            x: self.clone(),
            weight: weight.cloned(),
            bias: bias.cloned(),
            xhat,
            invstd,
            features,
        }))
    }
}

/// The gradients of [`Tensor::layer_norm`], per row of `features` values:
/// with `d = g · w`, `dx = invstd · (d - mean(d) - x̂ · mean(d · x̂))`;
/// `dw = Σ_rows g · x̂`, `db = Σ_rows g`.
struct NativeLayerNormBackward0 {
    x: Tensor,
    weight: Option<Tensor>,
    bias: Option<Tensor>,
    xhat: Tensor,
    /// `1 / sqrt(var + eps)` per row, `[rows, 1]`, in the input's dtype.
    invstd: Tensor,
    features: usize,
}

impl Node for NativeLayerNormBackward0 {
    fn name(&self) -> &'static str {
        "NativeLayerNormBackward0"
    }
    fn inputs(&self) -> Inputs<'_> {
        let mut v: Inputs<'_> = smallvec::smallvec![&self.x];
        v.extend(self.weight.as_ref());
        v.extend(self.bias.as_ref());
        v
    }
    fn backward(&self, g: &Tensor, acc: &mut Sink<'_>) {
        let dtype = self.x.dtype();
        let f = self.features as isize;
        // Sums over the rows (the leading dimensions), in float64.
        let over_rows = |t: &Tensor, like: &Tensor| {
            t.reshape([-1, f])
                .to_dtype(DType::F64)
                .sum_dim(0, false)
                .to_dtype(dtype)
                .reshape(like.shape())
        };
        acc.add(&self.x, || {
            let d = match &self.weight {
                Some(w) => g * w,
                None => g.clone(),
            };
            let (d, xhat) = (d.reshape([-1, f]), self.xhat.reshape([-1, f]));
            let row_mean = |t: &Tensor| t.to_dtype(DType::F64).mean_dim(1, true).to_dtype(dtype);
            let (mean_d, mean_dx) = (row_mean(&d), row_mean(&(&d * &xhat)));
            let dx = &(&(&d - &mean_d) - &(&xhat * &mean_dx)) * &self.invstd;
            dx.reshape(self.x.shape())
        });
        if let Some(w) = &self.weight {
            acc.add(w, || over_rows(&(g * &self.xhat), w));
        }
        if let Some(b) = &self.bias {
            acc.add(b, || over_rows(g, b));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::golden::{goldens, gradchecks};
    use serde_json::Value;

    fn f(attrs: &Value, key: &str) -> f64 {
        attrs[key].as_f64().unwrap_or_else(|| panic!("attr {key}"))
    }

    /// The running statistics both sides build from the channel count.
    fn stats(c: usize, dtype: DType) -> (Tensor, Tensor) {
        (
            Tensor::linspace(-0.5, 0.5, c).to_dtype(dtype),
            Tensor::linspace(0.5, 2.0, c).to_dtype(dtype),
        )
    }

    fn bn(x: &[Tensor], attrs: &Value) -> Tensor {
        let (rm, rv) = stats(x[0].shape()[1], x[0].dtype());
        let (rm, rv) = (rm.to(x[0].device()), rv.to(x[0].device()));
        let running = attrs["running"].as_bool().unwrap_or(true);
        let (rm, rv) = if running {
            (Some(&rm), Some(&rv))
        } else {
            (None, None)
        };
        let training = attrs["training"].as_bool().expect("training");
        batch_norm(
            &x[0],
            rm,
            rv,
            x.get(1),
            x.get(2),
            training,
            f(attrs, "momentum"),
            f(attrs, "eps"),
        )
        .unwrap()
    }

    fn bn_update(x: &[Tensor], attrs: &Value) -> Tensor {
        let (rm, rv) = stats(x[0].shape()[1], DType::F32);
        let (rm, rv) = (rm.to(x[0].device()), rv.to(x[0].device()));
        batch_norm(
            &x[0],
            Some(&rm),
            Some(&rv),
            None,
            None,
            true,
            f(attrs, "momentum"),
            1e-5,
        )
        .unwrap();
        if attrs["which"] == "mean" {
            rm
        } else {
            rv
        }
    }

    fn ln(x: &[Tensor], attrs: &Value) -> Tensor {
        let shape: Vec<usize> = attrs["normalized_shape"]
            .as_array()
            .expect("normalized_shape")
            .iter()
            .map(|v| v.as_u64().expect("a size") as usize)
            .collect();
        x[0].layer_norm(&shape, x.get(1), x.get(2), f(attrs, "eps"))
    }

    goldens! { "norm";
        batch_norm_train_2d => bn,
        batch_norm_eval_2d => bn,
        batch_norm_train_1d => bn,
        batch_norm_train_1d_length => bn,
        batch_norm_eval_1d => bn,
        batch_norm_no_affine_no_stats => bn,
        batch_norm_float64 => bn,
        batch_norm_running_mean => bn_update,
        batch_norm_running_var => bn_update,
        batch_norm_running_var_1d => bn_update,
        layer_norm_last => ln,
        layer_norm_two_dims => ln,
        layer_norm_no_affine => ln,
        layer_norm_float64 => ln,
    }

    gradchecks! {
        batch_norm_training: [randn(&[3, 2, 2, 3], 1), randn(&[2], 2), randn(&[2], 3)] =>
            |x| batch_norm(&x[0], None, None, Some(&x[1]), Some(&x[2]), true, 0.1, 1e-5).unwrap();
        batch_norm_eval: [randn(&[3, 2, 4], 4), randn(&[2], 5), randn(&[2], 6)] =>
            |x| {
                let (rm, rv) = stats(2, DType::F64);
                let (rm, rv) = (rm.to(x[0].device()), rv.to(x[0].device()));
                batch_norm(&x[0], Some(&rm), Some(&rv), Some(&x[1]), Some(&x[2]), false, 0.1, 1e-5).unwrap()
            };
        layer_norm: [randn(&[3, 2, 4], 7), randn(&[2, 4], 8), randn(&[2, 4], 9)] =>
            |x| x[0].layer_norm(&[2, 4], Some(&x[1]), Some(&x[2]), 1e-5);
    }

    #[test]
    fn bad_inputs_get_pytorchs_words() {
        let err = |r: Result<Tensor>| r.unwrap_err().to_string();
        let one = Tensor::zeros([1, 3, 1, 1]);
        assert_eq!(
            err(batch_norm(&one, None, None, None, None, true, 0.1, 1e-5)),
            "Expected more than 1 value per channel when training, got input size [1, 3, 1, 1]"
        );
        let x = Tensor::zeros([2, 3, 2, 2]);
        let four = Tensor::zeros([4]);
        assert_eq!(
            err(batch_norm(
                &x,
                Some(&four),
                Some(&four),
                None,
                None,
                true,
                0.1,
                1e-5
            )),
            "running_mean should contain 3 elements not 4"
        );
        assert_eq!(
            err(x.try_layer_norm(&[3], None, None, 1e-5)),
            "Given normalized_shape=[3], expected input with shape [*, 3], but got input of size[2, 3, 2, 2]"
        );
        let bytes = Tensor::zeros([2, 3]).to_dtype(DType::U8);
        assert!(err(batch_norm(&bytes, None, None, None, None, true, 0.1, 1e-5)).contains("Byte"));
    }
}
