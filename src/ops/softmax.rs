//! `softmax` and `log_softmax` along a dimension, computed stably
//! (the lane's maximum is subtracted before exponentiating).

use crate::autograd::grad_fn;
use crate::backend::backend;
use crate::error::{or_panic, Error, Result};
use crate::tensor::layout::wrap_dim;
use crate::tensor::Tensor;

impl Tensor {
    fn softmax_impl(&self, dim: isize, log: bool) -> Result<Tensor> {
        let d = wrap_dim(dim, self.dim())?;
        let dtype = self.dtype();
        if !dtype.is_floating_point() {
            let op = if log {
                "log_softmax_lastdim_kernel_impl"
            } else {
                "softmax_lastdim_kernel_impl"
            };
            return Err(Error::NotImplemented { op, dtype });
        }
        let buf = self.with_view(|v| backend(self.device()).softmax(v, d, log));
        let out = Tensor::from_buffer_on(buf, self.shape(), self.device());
        let saved = out.detach();
        let x = self.clone();
        Ok(if log {
            Tensor::record(out, &[self], || LogSoftmaxBackward0 {
                x,
                out: saved,
                dim: d,
            })
        } else {
            Tensor::record(out, &[self], || SoftmaxBackward0 {
                x,
                out: saved,
                dim: d,
            })
        })
    }

    /// `exp(x_i) / Σ_j exp(x_j)` along `dim`: each lane becomes a probability
    /// distribution.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let p = Tensor::from_vec(vec![1.0f32, 2.0, 3.0], [1, 3]).softmax(1);
    /// assert!((p.sum().item().to_f64() - 1.0).abs() < 1e-6);
    /// ```
    #[track_caller]
    pub fn softmax(&self, dim: isize) -> Tensor {
        or_panic!(self.softmax_impl(dim, false))
    }

    /// Fallible [`Tensor::softmax`].
    pub fn try_softmax(&self, dim: isize) -> Result<Tensor> {
        self.softmax_impl(dim, false)
    }

    /// `x_i - log Σ_j exp(x_j)` along `dim`, without overflow for large inputs.
    #[track_caller]
    pub fn log_softmax(&self, dim: isize) -> Tensor {
        or_panic!(self.softmax_impl(dim, true))
    }

    /// Fallible [`Tensor::log_softmax`].
    pub fn try_log_softmax(&self, dim: isize) -> Result<Tensor> {
        self.softmax_impl(dim, true)
    }
}

grad_fn! {
    /// dx = y ⊙ (g - Σ g⊙y), from the saved output y.
    SoftmaxBackward0 { x: Tensor, out: Tensor, dim: usize }
    inputs [x];
    backward(n, g, acc) {
        acc.add(&n.x, || &n.out * (g - &(g * &n.out).sum_dim(n.dim as isize, true)))
    }
}

grad_fn! {
    /// dx = g - softmax ⊙ Σ g, from the saved output (the log-probabilities).
    LogSoftmaxBackward0 { x: Tensor, out: Tensor, dim: usize }
    inputs [x];
    backward(n, g, acc) {
        acc.add(&n.x, || g - &(n.out.exp() * g.sum_dim(n.dim as isize, true)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::golden::{attr_i, goldens, gradchecks};

    goldens! { "softmax";
        softmax => |x, a| x[0].softmax(attr_i(a, "dim")),
        softmax_dim0 => |x, a| x[0].softmax(attr_i(a, "dim")),
        softmax_3d => |x, a| x[0].softmax(attr_i(a, "dim")),
        log_softmax => |x, a| x[0].log_softmax(attr_i(a, "dim")),
    }

    gradchecks! {
        softmax: [randn(&[3, 5], 1)] => |x| x[0].softmax(1);
        softmax_3d: [randn(&[2, 3, 4], 1)] => |x| x[0].softmax(1);
        log_softmax: [randn(&[3, 5], 1)] => |x| x[0].log_softmax(-1);
    }

    #[test]
    fn stable_for_large_inputs() {
        let x = Tensor::from_vec(vec![1000.0f32, 1000.0, -1000.0], [3]);
        assert_eq!(x.softmax(0).to_vec::<f32>(), vec![0.5, 0.5, 0.0]);
        let l = x.log_softmax(0).to_vec::<f32>();
        assert!(
            (l[0] + std::f32::consts::LN_2).abs() < 1e-6
                && l[2] == -2000.0 - std::f32::consts::LN_2
        );
    }

    #[test]
    fn along_inner_dims() {
        let x = Tensor::arange(24)
            .reshape([2, 3, 4])
            .to_dtype(crate::DType::F64);
        let s = x.softmax(1);
        let sums = s.sum_dim(1, false).to_vec::<f64>();
        assert!(sums.iter().all(|v| (v - 1.0).abs() < 1e-12));
        assert!(Tensor::arange(3).try_softmax(0).is_err());
    }
}
