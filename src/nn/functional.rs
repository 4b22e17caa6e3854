//! Losses as functions (`torch.nn.functional`).

use super::Reduction;
use crate::autograd::Op;
use crate::error::{Error, Result};
use crate::tensor::{with_float, DType, Element, Float, Tensor};

fn reduce(t: Tensor, reduction: Reduction) -> Result<Tensor> {
    Ok(match reduction {
        Reduction::None => t,
        Reduction::Mean => t.try_mean()?,
        Reduction::Sum => t.sum(),
    })
}

fn check_targets(input: &Tensor, target: &Tensor) -> Result<Vec<i64>> {
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
    Ok(Tensor::record(out, &[log_probs], || Op::NllLoss {
        logp: log_probs.clone(),
        target: target.contiguous(),
        reduction,
    }))
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
        return fused_cross_entropy(logits, t, reduction);
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

/// Cross-entropy in one pass per row: `logsumexp(x) - x[t]`, saving the softmax
/// for the gradient (`softmax - onehot`). The same numbers as
/// `nll_loss(log_softmax(x))`, without its intermediate tensors.
fn fused_cross_entropy(logits: &Tensor, target: Vec<i64>, reduction: Reduction) -> Result<Tensor> {
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
    Ok(Tensor::record(out, &[logits], || Op::CrossEntropy {
        logits: logits.clone(),
        target,
        probs,
        reduction,
    }))
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
    let per = logits.relu() - logits * target + (logits.abs().neg().exp() + 1.0).log();
    reduce(per, reduction)
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
