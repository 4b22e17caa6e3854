//! The kernels of the classification losses, `nll_loss` and a fused
//! cross-entropy, with their gradients; `nn::functional` is their public face.

use super::device_of;
use crate::autograd::{grad_fn, zeros_like_grad};
use crate::backend::backend;
use crate::error::{Error, Result};
use crate::tensor::{DType, Tensor};

/// How a loss combines per-sample values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Reduction {
    /// One value per sample.
    None,
    /// The mean over samples (PyTorch's default).
    #[default]
    Mean,
    /// The sum over samples.
    Sum,
}

pub(crate) fn reduce(t: Tensor, reduction: Reduction) -> Result<Tensor> {
    Ok(match reduction {
        Reduction::None => t,
        Reduction::Mean => t.try_mean()?,
        Reduction::Sum => t.sum(),
    })
}

pub(crate) fn check_targets(input: &Tensor, target: &Tensor) -> Result<Vec<i64>> {
    if input.dim() != 2 {
        return Err(Error::Shape(format!(
            "expected input of shape [N, C] (logits or log-probabilities), but got {:?}",
            input.shape()
        )));
    }
    if target.dtype() != DType::I64 {
        return Err(Error::DType {
            expected: DType::I64,
            found: target.dtype(),
        });
    }
    if target.dim() != 1 || target.shape()[0] != input.shape()[0] {
        return Err(Error::Shape(format!(
            "Expected input batch_size ({}) to match target batch_size ({}).",
            input.shape()[0],
            target.shape().first().copied().unwrap_or(1)
        )));
    }
    let classes = input.shape()[1] as i64;
    let t = target.to_vec::<i64>();
    if let Some(bad) = t.iter().find(|&&c| c < 0 || c >= classes) {
        return Err(Error::Value(format!("Target {bad} is out of bounds.")));
    }
    Ok(t)
}

/// The negative log-likelihood of `log_probs` `[N, C]` at `target` `[N]`
/// (grad_fn `NllLossBackward0`).
pub fn nll_loss(log_probs: &Tensor, target: &Tensor, reduction: Reduction) -> Result<Tensor> {
    let t = check_targets(log_probs, target)?;
    let index = Tensor::from_vec(t, [target.numel(), 1]).to(log_probs.device());
    let picked = crate::no_grad(|| log_probs.try_gather(1, &index))?;
    let per_sample = crate::no_grad(|| picked.reshape([-1]).neg());
    let out = crate::no_grad(|| reduce(per_sample, reduction))?;
    Ok(Tensor::record(out, &[log_probs], || NllLossBackward0 {
        logp: log_probs.clone(),
        target: target.contiguous(),
        reduction,
    }))
}

/// Cross-entropy in one pass per row: `logsumexp(x) - x[t]`, saving the softmax
/// for the gradient (`softmax - onehot`). The same numbers as
/// `nll_loss(log_softmax(x))`, without its intermediate tensors.
pub(crate) fn fused_cross_entropy(
    logits: &Tensor,
    target_tensor: &Tensor,
    target: Vec<i64>,
    reduction: Reduction,
) -> Result<Tensor> {
    let (n, c) = (logits.shape()[0], logits.shape()[1]);
    let device = device_of(&[logits, target_tensor])?;
    let classes: Vec<usize> = target.iter().map(|&t| t as usize).collect();
    let (losses, probs) = logits.with_view(|v| backend(device).cross_entropy(v, &classes));
    let probs = Tensor::from_buffer_on(probs, &[n, c], device);
    let x = logits;
    let out = match reduction {
        Reduction::None => Tensor::from_vec(losses, [n]).to_dtype(x.dtype()),
        Reduction::Sum => Tensor::scalar(losses.iter().sum::<f64>()).to_dtype(x.dtype()),
        Reduction::Mean => {
            Tensor::scalar(losses.iter().sum::<f64>() / n as f64).to_dtype(x.dtype())
        }
    }
    .to(device);
    let target = std::sync::Arc::new(classes);
    Ok(Tensor::record(out, &[logits], || CrossEntropyBackward {
        logits: logits.clone(),
        target,
        probs,
        reduction,
    }))
}

/// Binary cross-entropy on logits, `max(x, 0) - x·t + log(1 + e^-|x|)` per
/// element (stable for large logits), reduced: one node named as PyTorch's,
/// `BinaryCrossEntropyWithLogitsBackward0`. The shapes are checked by the caller.
pub(crate) fn bce_with_logits(x: &Tensor, target: &Tensor, reduction: Reduction) -> Result<Tensor> {
    device_of(&[x, target])?;
    let out = crate::no_grad(|| {
        let per = x.relu() - x * target + (x.abs().neg().exp() + 1.0).log();
        reduce(per, reduction)
    })?;
    Ok(Tensor::record(out, &[x, target], || {
        BinaryCrossEntropyWithLogitsBackward0 {
            x: x.clone(),
            target: target.clone(),
            reduction,
        }
    }))
}

grad_fn! {
    /// d/dx = (sigmoid(x) - t) · g and d/dt = -x · g, with g spread over the
    /// elements (÷ their count for the mean).
    BinaryCrossEntropyWithLogitsBackward0 { x: Tensor, target: Tensor, reduction: Reduction }
    inputs [x, target];
    backward(n, g, acc) {
        let per = match n.reduction {
            Reduction::None => g.clone(),
            Reduction::Sum => g.expand(n.x.shape()),
            Reduction::Mean => (g / n.x.numel().max(1) as f64).expand(n.x.shape()),
        };
        acc.add(&n.x, || (n.x.sigmoid() - &n.target) * &per);
        acc.add(&n.target, || n.x.neg() * &per);
    }
}

grad_fn! {
    /// Only the picked log-probabilities get gradient: -g (÷ N for the mean).
    NllLossBackward0 { logp: Tensor, target: Tensor, reduction: Reduction }
    inputs [logp];
    backward(n, g, acc) {
        acc.add(&n.logp, || {
            let len = n.target.numel().max(1) as f64;
            let per_sample = match n.reduction {
                Reduction::None => g.neg(),
                Reduction::Sum => g.neg().expand([n.target.numel()]),
                Reduction::Mean => (g.neg() / len).expand([n.target.numel()]),
            };
            zeros_like_grad(&n.logp, g).scatter_add(
                1,
                &n.target.unsqueeze(1),
                &per_sample.contiguous().unsqueeze(1),
            )
        })
    }
}

grad_fn! {
    /// `nll_loss(log_softmax(logits))` in one node, named as PyTorch's last
    /// node of the pair: d/dx = (softmax(x) - onehot(t)) · (g, or g/N for the
    /// mean), from the saved softmax.
    CrossEntropyBackward {
        logits: Tensor,
        target: std::sync::Arc<Vec<usize>>,
        probs: Tensor,
        reduction: Reduction,
    }
    name(n) "NllLossBackward0";
    inputs [logits];
    backward(n, g, acc) {
        acc.add(&n.logits, || {
            let len = n.target.len();
            let per_sample: Vec<f64> = match n.reduction {
                Reduction::None => g.to_vec::<f64>(),
                Reduction::Sum => vec![g.item().to_f64(); len],
                Reduction::Mean => vec![g.item().to_f64() / len.max(1) as f64; len],
            };
            let buf = n.probs.with_view(|v| backend(n.probs.device()).cross_entropy_grad(v, &n.target, &per_sample));
            Tensor::from_buffer_on(buf, n.probs.shape(), n.probs.device())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::golden::{goldens, gradchecks};

    fn bce(x: &Tensor, t: &Tensor, r: Reduction) -> Tensor {
        bce_with_logits(x, t, r).unwrap()
    }

    fn reduction(attrs: &serde_json::Value) -> Reduction {
        match attrs["reduction"].as_str() {
            Some("none") => Reduction::None,
            Some("sum") => Reduction::Sum,
            _ => Reduction::Mean,
        }
    }

    goldens! { "loss";
        bce_with_logits => |x, a| bce(&x[0], &x[1], reduction(a)),
        bce_with_logits_sum => |x, a| bce(&x[0], &x[1], reduction(a)),
        bce_with_logits_none => |x, a| bce(&x[0], &x[1], reduction(a)),
        bce_with_logits_large => |x, a| bce(&x[0], &x[1], reduction(a)),
    }

    gradchecks! {
        bce_with_logits: [randn(&[3, 2], 1), randn(&[3, 2], 2)] => |x| bce(&x[0], &x[1], Reduction::Mean);
        bce_with_logits_none: [randn(&[4], 3), randn(&[4], 4)] => |x| bce(&x[0], &x[1], Reduction::None);
    }
}
