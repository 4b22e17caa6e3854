//! `torch.nn.functional`: losses, and the layers' functions that PyTorch code
//! calls inside `forward` (`F.conv2d`, `F.max_pool2d`, `F.relu`,
//! `F.log_softmax`, `F.batch_norm`, `F.layer_norm`, `F.dropout2d`).

pub use super::norm::dropout2d;
use crate::error::{Error, Result};
use crate::ops::conv::{ConvOptions, Size2};
pub use crate::ops::loss::nll_loss;
use crate::ops::loss::Reduction;
use crate::ops::loss::{check_targets, fused_cross_entropy, reduce};
pub use crate::ops::norm::batch_norm;
use crate::ops::pool::{AvgPoolOptions, PoolOptions};
use crate::tensor::Tensor;

/// `F.conv2d(input, weight, bias, stride, padding, dilation, groups)`; see
/// [`Tensor::conv2d`].
///
/// ```
/// use kindling::nn::functional as F;
/// use kindling::{ConvOptions, Tensor};
/// let x = Tensor::ones([1, 1, 4, 4]);
/// let w = Tensor::ones([1, 1, 3, 3]);
/// let y = F::conv2d(&x, &w, None, ConvOptions::default().padding(1)).unwrap();
/// assert_eq!(y.shape(), &[1, 1, 4, 4]);
/// assert_eq!(y.to_vec::<f32>()[5], 9.0);
/// ```
pub fn conv2d(
    input: &Tensor,
    weight: &Tensor,
    bias: Option<&Tensor>,
    options: ConvOptions,
) -> Result<Tensor> {
    input.try_conv2d(weight, bias, options)
}

/// `F.max_pool2d(input, kernel_size)`: the stride is the kernel size.
pub fn max_pool2d(input: &Tensor, kernel_size: impl Into<Size2>) -> Result<Tensor> {
    Ok(input
        .try_max_pool2d_with_indices(kernel_size, PoolOptions::default())?
        .0)
}

/// `F.max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode)`.
pub fn max_pool2d_with(
    input: &Tensor,
    kernel_size: impl Into<Size2>,
    options: PoolOptions,
) -> Result<Tensor> {
    Ok(input.try_max_pool2d_with_indices(kernel_size, options)?.0)
}

/// `F.avg_pool2d(input, kernel_size, stride, padding, ceil_mode,
/// count_include_pad, divisor_override)`.
pub fn avg_pool2d(
    input: &Tensor,
    kernel_size: impl Into<Size2>,
    options: AvgPoolOptions,
) -> Result<Tensor> {
    input.try_avg_pool2d(kernel_size, options)
}

/// `F.layer_norm(input, normalized_shape, weight, bias, eps)`; see
/// [`Tensor::layer_norm`].
pub fn layer_norm(
    input: &Tensor,
    normalized_shape: &[usize],
    weight: Option<&Tensor>,
    bias: Option<&Tensor>,
    eps: f64,
) -> Result<Tensor> {
    input.try_layer_norm(normalized_shape, weight, bias, eps)
}

/// `F.adaptive_avg_pool2d(input, output_size)`.
pub fn adaptive_avg_pool2d(input: &Tensor, output_size: impl Into<Size2>) -> Result<Tensor> {
    input.try_adaptive_avg_pool2d(output_size)
}

/// `F.adaptive_max_pool2d(input, output_size)` (the maxima; for their
/// indices, [`Tensor::try_adaptive_max_pool2d_with_indices`]).
pub fn adaptive_max_pool2d(input: &Tensor, output_size: impl Into<Size2>) -> Result<Tensor> {
    Ok(input.try_adaptive_max_pool2d_with_indices(output_size)?.0)
}

/// `F.relu(input)`.
pub fn relu(input: &Tensor) -> Tensor {
    input.relu()
}

/// `F.log_softmax(input, dim)`.
pub fn log_softmax(input: &Tensor, dim: isize) -> Result<Tensor> {
    input.try_log_softmax(dim)
}

/// Mean cross-entropy of logits `[N, C]` against class indices `[N]`.
///
/// # Errors
/// On a target that is not int64, out of range, or of another batch size.
pub fn cross_entropy(logits: &Tensor, target: &Tensor) -> Result<Tensor> {
    cross_entropy_with(logits, target, Reduction::Mean, 0.0)
}

/// Cross-entropy with a reduction and label smoothing `ε`: the target
/// distribution puts `1 - ε + ε/C` on the true class and `ε/C` elsewhere.
pub fn cross_entropy_with(
    logits: &Tensor,
    target: &Tensor,
    reduction: Reduction,
    label_smoothing: f64,
) -> Result<Tensor> {
    if !(0.0..=1.0).contains(&label_smoothing) {
        return Err(Error::Value(format!(
            "label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}"
        )));
    }
    let t = check_targets(logits, target)?;
    if label_smoothing == 0.0 && logits.dtype().is_floating_point() {
        return fused_cross_entropy(logits, target, t, reduction);
    }
    let logp = logits.try_log_softmax(1)?;
    let nll = nll_loss(&logp, target, reduction)?;
    if label_smoothing == 0.0 {
        return Ok(nll);
    }
    let classes = logits.shape()[1] as f64;
    let smooth = reduce(logp.sum_dim(1, false).neg(), reduction)? / classes;
    Ok(&nll * (1.0 - label_smoothing) + &smooth * label_smoothing)
}

/// `(input - target)²`, reduced.
pub fn mse_loss(input: &Tensor, target: &Tensor, reduction: Reduction) -> Result<Tensor> {
    let d = input.try_binary(target, crate::ops::elementwise::BinaryOp::Sub)?;
    reduce(&d * &d, reduction)
}

/// Binary cross-entropy on logits: `max(x, 0) - x·y + log(1 + e^-|x|)`, which
/// never overflows.
pub fn binary_cross_entropy_with_logits(
    logits: &Tensor,
    target: &Tensor,
    reduction: Reduction,
) -> Result<Tensor> {
    if logits.shape() != target.shape() {
        return Err(Error::Shape(format!(
            "Target size ({:?}) must be the same as input size ({:?})",
            target.shape(),
            logits.shape()
        )));
    }
    crate::ops::loss::bce_with_logits(logits, target, reduction)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_errors() {
        let x = Tensor::zeros([2, 3]);
        let e = |t: Tensor| cross_entropy(&x, &t).unwrap_err().to_string();
        assert_eq!(
            e(Tensor::from_slice(&[0i64, 3])),
            "Target 3 is out of bounds."
        );
        assert_eq!(
            e(Tensor::from_slice(&[0i64])),
            "Expected input batch_size (2) to match target batch_size (1)."
        );
        assert_eq!(
            e(Tensor::from_slice(&[0.0f32, 1.0])),
            "expected scalar type Long but found Float"
        );
    }

    #[test]
    fn stable_for_huge_logits() {
        let x = Tensor::from_vec(vec![1000.0f32, -1000.0], [1, 2]);
        let l = cross_entropy(&x, &Tensor::from_slice(&[1i64])).unwrap();
        assert_eq!(l.item().to_f64(), 2000.0);
        let b = binary_cross_entropy_with_logits(
            &Tensor::from_slice(&[1000.0f32]),
            &Tensor::from_slice(&[0.0f32]),
            Reduction::Mean,
        )
        .unwrap();
        assert_eq!(b.item().to_f64(), 1000.0);
    }
}
