//! Ordering along a dimension: `sort`, `argsort`, `topk`.
//!
//! The order is computed once per lane on the host (a stable sort, so equal
//! elements keep their order, as PyTorch's CPU sort does; NaN sorts above every
//! number, as in PyTorch); the values are then gathered with the lane's indices,
//! and the gradient goes back to where each value came from.

use crate::autograd::{grad_fn, zeros_like_grad};
use crate::error::{or_panic, Error, Result};
use crate::tensor::dtype::{with_dtype, Element};
use crate::tensor::layout::wrap_dim;
use crate::tensor::Tensor;

/// `a` before `b` in ascending order, NaN last.
fn ascending<T: Element>(a: T, b: T) -> std::cmp::Ordering {
    #[allow(clippy::eq_op)]
    let (a_nan, b_nan) = (a != a, b != b);
    a.partial_cmp(&b).unwrap_or_else(|| a_nan.cmp(&b_nan))
}

/// For each lane along `dim` of the contiguous `data` in `shape`, the indices
/// that order it, laid out in `shape`.
fn lane_order<T: Element>(data: &[T], shape: &[usize], dim: usize, descending: bool) -> Vec<i64> {
    let n = shape[dim];
    let inner: usize = shape[dim + 1..].iter().product();
    let outer: usize = shape[..dim].iter().product();
    let mut out = vec![0i64; data.len()];
    let mut idx: Vec<usize> = Vec::with_capacity(n);
    for o in 0..outer {
        for i in 0..inner {
            let at = |k: usize| (o * n + k) * inner + i;
            idx.clear();
            idx.extend(0..n);
            if descending {
                idx.sort_by(|&a, &b| ascending(data[at(b)], data[at(a)]));
            } else {
                idx.sort_by(|&a, &b| ascending(data[at(a)], data[at(b)]));
            }
            for (k, &j) in idx.iter().enumerate() {
                out[at(k)] = j as i64;
            }
        }
    }
    out
}

impl Tensor {
    /// The indices that order each lane along `dim`, as int64 in this
    /// tensor's shape (no autograd).
    fn order(&self, dim: usize, descending: bool) -> Tensor {
        let shape = self.shape().to_vec();
        let order = with_dtype!(self.dtype(), T => {
            lane_order(&self.contiguous_vec::<T>(), &shape, dim, descending)
        });
        Tensor::from_vec(order, &shape[..]).to(self.device())
    }

    /// `torch.sort(x, dim, descending)`: the values of each lane along `dim`
    /// in order, and where each came from (int64). The sort is stable; NaN
    /// sorts above every number. The values' grad_fn is `SortBackward0`.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let x = Tensor::from_slice(&[3.0f32, 1.0, 2.0]);
    /// let (values, indices) = x.sort(0, false);
    /// assert_eq!(values.to_vec::<f32>(), [1.0, 2.0, 3.0]);
    /// assert_eq!(indices.to_vec::<i64>(), [1, 2, 0]);
    /// ```
    #[track_caller]
    pub fn sort(&self, dim: isize, descending: bool) -> (Tensor, Tensor) {
        or_panic!(self.try_sort(dim, descending))
    }

    /// Fallible [`Tensor::sort`].
    pub fn try_sort(&self, dim: isize, descending: bool) -> Result<(Tensor, Tensor)> {
        let d = wrap_dim(dim, self.dim())?;
        if self.dim() == 0 {
            return Ok((self.clone(), Tensor::scalar(0i64).to(self.device())));
        }
        let indices = self.order(d, descending);
        let values = crate::no_grad(|| self.gather(d as isize, &indices));
        let saved = indices.clone();
        let values = Tensor::record(values, &[self], || SortBackward0 {
            x: self.clone(),
            dim: d,
            indices: saved,
        });
        Ok((values, indices))
    }

    /// `torch.argsort(x, dim, descending)`: the indices of [`Tensor::sort`].
    ///
    /// ```
    /// use kindling::Tensor;
    /// let x = Tensor::from_slice(&[3i64, 1, 2]);
    /// assert_eq!(x.argsort(0, true).to_vec::<i64>(), [0, 2, 1]);
    /// ```
    #[track_caller]
    pub fn argsort(&self, dim: isize, descending: bool) -> Tensor {
        or_panic!(self.try_argsort(dim, descending))
    }

    /// Fallible [`Tensor::argsort`].
    pub fn try_argsort(&self, dim: isize, descending: bool) -> Result<Tensor> {
        let d = wrap_dim(dim, self.dim())?;
        if self.dim() == 0 {
            return Ok(Tensor::scalar(0i64).to(self.device()));
        }
        Ok(self.order(d, descending))
    }

    /// `torch.topk(x, k, dim, largest, sorted)`: the `k` largest (or, with
    /// `largest = false`, smallest) values of each lane along `dim` and their
    /// indices. kindling always returns them in order (`sorted = false` allows
    /// any order in PyTorch, so order is a valid answer). grad_fn `TopkBackward0`.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let probs = Tensor::from_slice(&[0.1f32, 0.6, 0.3]);
    /// let (values, classes) = probs.topk(2, -1, true, true);
    /// assert_eq!(values.to_vec::<f32>(), [0.6, 0.3]);
    /// assert_eq!(classes.to_vec::<i64>(), [1, 2]);
    /// ```
    #[track_caller]
    pub fn topk(&self, k: usize, dim: isize, largest: bool, sorted: bool) -> (Tensor, Tensor) {
        or_panic!(self.try_topk(k, dim, largest, sorted))
    }

    /// Fallible [`Tensor::topk`]: PyTorch's words when `k` is larger than the
    /// dimension.
    pub fn try_topk(
        &self,
        k: usize,
        dim: isize,
        largest: bool,
        _sorted: bool,
    ) -> Result<(Tensor, Tensor)> {
        let d = wrap_dim(dim, self.dim())?;
        let size = self.shape().get(d).copied().unwrap_or(1);
        if k > size {
            return Err(Error::Value("selected index k out of range".into()));
        }
        let (values, indices) = if self.dim() == 0 {
            let index = Tensor::scalar(0i64).to(self.device());
            (crate::no_grad(|| self.clone_tensor()), index)
        } else {
            let order = self.order(d, largest);
            let indices = crate::no_grad(|| order.narrow(d as isize, 0, k).contiguous());
            (
                crate::no_grad(|| self.gather(d as isize, &indices)),
                indices,
            )
        };
        let saved = indices.clone();
        let values = Tensor::record(values, &[self], || TopkBackward0 {
            x: self.clone(),
            dim: d,
            indices: saved,
        });
        Ok((values, indices))
    }
}

// ----- gradients ----------------------------------------------------------------------

grad_fn! {
    /// Each value's gradient goes back to the position it was sorted from.
    SortBackward0 { x: Tensor, dim: usize, indices: Tensor }
    inputs [x];
    backward(n, g, acc) {
        acc.add(&n.x, || {
            zeros_like_grad(&n.x, g).scatter_add(n.dim as isize, &n.indices, &g.contiguous())
        })
    }
}

grad_fn! {
    /// The `k` values' gradients go back to their positions; the rest get zero.
    TopkBackward0 { x: Tensor, dim: usize, indices: Tensor }
    inputs [x];
    backward(n, g, acc) {
        acc.add(&n.x, || {
            if n.x.dim() == 0 {
                return g.clone();
            }
            zeros_like_grad(&n.x, g).scatter_add(n.dim as isize, &n.indices, &g.contiguous())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::golden::{goldens, gradchecks};

    goldens! { "sort";
        sort => |x, _| x[0].sort(1, false).0,
        sort_indices => |x, _| x[0].sort(1, false).1,
        sort_descending => |x, _| x[0].sort(0, true).0,
        sort_descending_indices => |x, _| x[0].sort(0, true).1,
        sort_nan => |x, _| x[0].sort(-1, false).0,
        sort_nan_indices => |x, _| x[0].sort(-1, true).1,
        sort_int_ties => |x, _| x[0].sort(-1, false).1,
        argsort => |x, _| x[0].argsort(-1, false),
        argsort_descending => |x, _| x[0].argsort(0, true),
        topk => |x, _| x[0].topk(2, -1, true, true).0,
        topk_indices => |x, _| x[0].topk(2, -1, true, true).1,
        topk_smallest => |x, _| x[0].topk(3, 0, false, true).0,
        topk_int => |x, _| x[0].topk(2, 1, true, true).0,
    }

    gradchecks! {
        sort: [randn(&[3, 4], 1)] => |x| x[0].sort(1, false).0;
        sort_descending_3d: [randn(&[2, 3, 2], 2)] => |x| x[0].sort(1, true).0;
        topk: [randn(&[3, 5], 3)] => |x| x[0].topk(2, 1, true, true).0;
        topk_smallest: [randn(&[4, 3], 4)] => |x| x[0].topk(2, 0, false, true).0;
    }

    #[test]
    fn topk_refuses_k_past_the_size() {
        let x = Tensor::zeros([2, 3]);
        assert_eq!(
            x.try_topk(4, 1, true, true).unwrap_err().to_string(),
            "selected index k out of range"
        );
        assert!(x.try_sort(2, false).is_err());
    }

    #[test]
    fn a_scalar_sorts_to_itself() {
        let (v, i) = Tensor::scalar(2.5f32).sort(0, false);
        assert_eq!((v.item().to_f64(), i.item().to_i64()), (2.5, 0));
    }
}
