//! `torch.nn.utils`: gradient clipping.

use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// Scales the gradients of `parameters` in place so that their total norm is
/// at most `max_norm`, and returns the total norm from before clipping as a
/// 0-d tensor: `torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm,
/// norm_type)`. `norm_type` is a p-norm (`2.0` is PyTorch's default) or
/// `f64::INFINITY` for the largest absolute value. Parameters without a
/// gradient are skipped; with none at all the norm is 0.
///
/// As in PyTorch, the gradients are multiplied by
/// `min(max_norm / (total_norm + 1e-6), 1)`.
///
/// ```
/// use kindling::{nn, Tensor};
/// let w = Tensor::zeros([2]).requires_grad_(true);
/// w.set_grad(Some(Tensor::from_slice(&[3.0f32, 4.0])));
/// let norm = nn::utils::clip_grad_norm_(&[w.clone()], 1.0, 2.0)?;
/// assert_eq!(norm.item().to_f64(), 5.0);
/// let g = w.grad().unwrap().to_vec::<f32>();
/// assert!((g[0] - 0.6).abs() < 1e-6 && (g[1] - 0.8).abs() < 1e-6);
/// # Ok::<(), kindling::Error>(())
/// ```
pub fn clip_grad_norm_(parameters: &[Tensor], max_norm: f64, norm_type: f64) -> Result<Tensor> {
    if norm_type.is_nan() || norm_type <= 0.0 {
        return Err(Error::Value(format!(
            "clip_grad_norm_: norm_type must be positive or inf, got {norm_type}"
        )));
    }
    let grads: Vec<Tensor> = parameters.iter().filter_map(|p| p.grad()).collect();
    if grads.is_empty() {
        return Ok(Tensor::scalar(0.0f32));
    }
    crate::no_grad(|| {
        let norms: Vec<Tensor> = grads.iter().map(|g| vector_norm(g, norm_type)).collect();
        let total = vector_norm(&Tensor::stack(&norms, 0), norm_type);
        let coef = (max_norm / (total.item().to_f64() + 1e-6)).min(1.0);
        for g in &grads {
            g.mul_(coef);
        }
        Ok(total)
    })
}

/// The p-norm of all elements of `x` (`torch.linalg.vector_norm`), in its dtype.
fn vector_norm(x: &Tensor, p: f64) -> Tensor {
    if p.is_infinite() {
        return x.abs().max();
    }
    if p == 2.0 {
        return (x * x).sum().sqrt();
    }
    x.abs().pow_scalar(p).sum().pow_scalar(1.0 / p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::golden::goldens;

    /// Parameters whose gradients are the case's inputs, clipped; the result
    /// is the clipped gradients, flattened, then the norm.
    fn clip(grads: &[Tensor], max_norm: f64, norm_type: f64) -> Tensor {
        let params: Vec<Tensor> = grads
            .iter()
            .map(|g| {
                let p = g.zeros_like().requires_grad_(true);
                p.set_grad(Some(g.clone_tensor()));
                p
            })
            .collect();
        let norm = clip_grad_norm_(&params, max_norm, norm_type).unwrap();
        let mut parts: Vec<Tensor> = params
            .iter()
            .map(|p| p.grad().unwrap().reshape([-1]))
            .collect();
        parts.push(norm.reshape([1]).to(grads[0].device()));
        Tensor::cat(&parts, 0)
    }

    goldens! { "clip_grad";
        clip_grad_norm => |x, a| clip(x, a["max_norm"].as_f64().unwrap(), 2.0),
        clip_grad_norm_not_needed => |x, a| clip(x, a["max_norm"].as_f64().unwrap(), 2.0),
        clip_grad_norm_inf => |x, a| clip(x, a["max_norm"].as_f64().unwrap(), f64::INFINITY),
        clip_grad_norm_p1 => |x, a| clip(x, a["max_norm"].as_f64().unwrap(), 1.0),
    }

    #[test]
    fn no_gradients_give_zero_and_a_bad_norm_type_is_refused() {
        let p = Tensor::zeros([2]).requires_grad_(true);
        assert_eq!(
            clip_grad_norm_(std::slice::from_ref(&p), 1.0, 2.0)
                .unwrap()
                .item()
                .to_f64(),
            0.0
        );
        assert!(clip_grad_norm_(&[p], 1.0, -1.0).is_err());
    }
}
