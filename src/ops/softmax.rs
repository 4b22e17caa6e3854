//! `softmax` and `log_softmax` along a dimension, computed stably
//! (the lane's maximum is subtracted before exponentiating).

use crate::autograd::{self, grad_fn};
use crate::error::{or_panic, Error, Result};
use crate::tensor::layout::wrap_dim;
use crate::tensor::{with_float, Element, Float, Tensor};

/// Softmax (or log-softmax) of each lane along `dim` of a contiguous tensor.
fn per_lane<T: Float>(x: &Tensor, dim: usize, log: bool) -> Vec<T> {
    let shape = x.shape();
    let (outer, size, inner): (usize, usize, usize) = if shape.is_empty() {
        (1, 1, 1)
    } else {
        (
            shape[..dim].iter().product(),
            shape[dim],
            shape[dim + 1..].iter().product(),
        )
    };
    let mut out = vec![T::ZERO; outer * size * inner];
    x.with_slice(|data: &[T], l| {
        let data = &data[l.offset..l.offset + out.len()];
        if inner == 1 {
            // The usual case (classes along the last dim): rows are slices.
            for (src, dst) in data
                .chunks_exact(size.max(1))
                .zip(out.chunks_exact_mut(size.max(1)))
            {
                softmax_lane(src, dst, log);
            }
            return;
        }
        let (mut src, mut dst) = (vec![T::ZERO; size], vec![T::ZERO; size]);
        for o in 0..outer {
            for i in 0..inner {
                let base = o * size * inner + i;
                for k in 0..size {
                    src[k] = data[base + k * inner];
                }
                softmax_lane(&src, &mut dst, log);
                for k in 0..size {
                    out[base + k * inner] = dst[k];
                }
            }
        }
    });
    out
}

fn softmax_lane<T: Float>(src: &[T], out: &mut [T], log: bool) {
    let max = src.iter().fold(
        T::NEG_INFINITY,
        |m, &v| if v > m || v.is_nan() { v } else { m },
    );
    let max = if max == T::NEG_INFINITY { T::ZERO } else { max };
    let sum: f64 = src.iter().map(|&v| (v - max).fast_exp().to_f64()).sum();
    if log {
        let lse = T::from_f64(sum.ln());
        for (o, &v) in out.iter_mut().zip(src) {
            *o = v - max - lse;
        }
    } else {
        let inv = T::from_f64(1.0 / sum);
        for (o, &v) in out.iter_mut().zip(src) {
            *o = (v - max).fast_exp() * inv;
        }
    }
}

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
        let x = autograd::no_grad(|| self.contiguous());
        let out = with_float!(dtype, T => {
            let v = per_lane::<T>(&x, d, log);
            Tensor::from_buffer(T::into_buffer(v), self.shape())
        });
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
