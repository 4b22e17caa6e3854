//! The kernels of the classification losses, `nll_loss` and a fused
//! cross-entropy, with their gradients; `nn::functional` is their public face.

use crate::autograd::{grad_fn, zeros_like_grad};
use crate::error::{Error, Result};
use crate::tensor::{with_float, DType, Element, Float, Tensor};

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
    let index = Tensor::from_vec(t, [target.numel(), 1]);
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
    target: Vec<i64>,
    reduction: Reduction,
) -> Result<Tensor> {
    let x = crate::no_grad(|| logits.contiguous());
    let (n, c) = (x.shape()[0], x.shape()[1]);
    let (losses, probs) = with_float!(x.dtype(), T => {
        let mut probs = vec![T::ZERO; n * c];
        let losses: Vec<f64> = x.with_slice(|data: &[T], l| {
            let data = &data[l.offset..l.offset + n * c];
            data.chunks_exact(c.max(1))
                .zip(probs.chunks_exact_mut(c.max(1)))
                .zip(&target)
                .map(|((row, p), &t)| {
                    let max = row.iter().fold(T::NEG_INFINITY, |m, &v| if v > m || v.is_nan() { v } else { m });
                    let max = if max == T::NEG_INFINITY { T::ZERO } else { max };
                    for (p, &v) in p.iter_mut().zip(row) {
                        *p = (v - max).fast_exp();
                    }
                    let sum: f64 = p.iter().map(|&e| e.to_f64()).sum();
                    let inv = T::from_f64(1.0 / sum);
                    p.iter_mut().for_each(|e| *e *= inv);
                    // -log_softmax(x)[t], rounded as log_softmax rounds it.
                    let logp = row[t as usize] - max - T::from_f64(sum.ln());
                    -logp.to_f64()
                })
                .collect()
        });
        (losses, Tensor::from_vec(probs, [n, c]))
    });
    let out = match reduction {
        Reduction::None => Tensor::from_vec(losses, [n]).to_dtype(x.dtype()),
        Reduction::Sum => Tensor::scalar(losses.iter().sum::<f64>()).to_dtype(x.dtype()),
        Reduction::Mean => {
            Tensor::scalar(losses.iter().sum::<f64>() / n as f64).to_dtype(x.dtype())
        }
    };
    let target = std::sync::Arc::new(target);
    Ok(Tensor::record(out, &[logits], || CrossEntropyBackward {
        logits: logits.clone(),
        target,
        probs,
        reduction,
    }))
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
        target: std::sync::Arc<Vec<i64>>,
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
            with_float!(n.probs.dtype(), T => {
                let mut out = n.probs.contiguous_vec::<T>();
                let c = n.probs.shape()[1];
                for (i, row) in out.chunks_exact_mut(c.max(1)).enumerate().take(len) {
                    let s = T::from_f64(per_sample[i]);
                    row.iter_mut().for_each(|v| *v *= s);
                    row[n.target[i] as usize] -= s;
                }
                Tensor::from_vec(out, n.probs.shape())
            })
        })
    }
}
