//! Reductions over all elements or along one dimension: `sum`, `mean`, `max`,
//! `min`, `argmax`, `argmin`, `prod`, `var`, `std`.
//!
//! Float sums accumulate in f64 and round once, so results do not depend on the
//! order of work (thread count) and are at least as accurate as PyTorch's.

use crate::autograd::{grad_fn, unreduce, zeros_like_grad};
use crate::backend::{backend, ReduceOp};
use crate::error::{or_panic, Error, Result};
use crate::tensor::layout::wrap_dim;
use crate::tensor::{Buffer, Dims, Tensor};

/// The `dim` argument of `argmax`/`argmin`: an integer (negative counts from
/// the end) or `None` for the whole tensor, as PyTorch's `dim=None`.
pub trait DimArg {
    /// The dimension, `None` for all.
    fn dim(self) -> Option<isize>;
}

macro_rules! dim_arg {
    ($($t:ty),*) => {$(
        impl DimArg for $t {
            fn dim(self) -> Option<isize> {
                Some(self as isize)
            }
        }
    )*};
}
dim_arg!(i32, i64, isize, usize);

impl DimArg for Option<isize> {
    fn dim(self) -> Option<isize> {
        self
    }
}

/// The output shape of reducing `dim` of `shape`.
fn reduced_shape(shape: &[usize], dim: usize, keepdim: bool) -> Dims {
    let mut out: Dims = shape.into();
    if keepdim {
        out[dim] = 1;
    } else {
        out.remove(dim);
    }
    out
}

impl Tensor {
    /// A one-dimensional view or copy of all elements, without graph recording.
    fn flat(&self) -> Tensor {
        crate::autograd::no_grad(|| self.reshape([-1]))
    }

    /// A reduction kernel along `dim`, with no autograd, in the result's shape.
    fn reduce_kernel(&self, op: ReduceOp, dim: usize, keepdim: bool) -> Tensor {
        let shape = reduced_shape(self.shape(), dim, keepdim);
        let buf = self.with_view(|v| backend(self.device()).reduce(op, v, dim));
        Tensor::from_buffer_on(buf, &shape, self.device())
    }

    /// Sums along `dim` with no autograd; ints and bools sum to int64.
    fn sum_kernel(&self, dim: usize, keepdim: bool) -> Tensor {
        self.reduce_kernel(ReduceOp::Sum, dim, keepdim)
    }

    /// Each lane's extreme value and index along `dim`, with no autograd.
    fn extreme_kernel(&self, dim: usize, keepdim: bool, max: bool) -> (Tensor, Tensor) {
        let shape = reduced_shape(self.shape(), dim, keepdim);
        let (values, indices): (Buffer, Buffer) =
            self.with_view(|v| backend(self.device()).arg_extreme(v, dim, max));
        (
            Tensor::from_buffer_on(values, &shape, self.device()),
            Tensor::from_buffer_on(indices, &shape, self.device()),
        )
    }

    /// The sum of all elements as a 0-d tensor (ints and bools sum to int64).
    pub fn sum(&self) -> Tensor {
        let out = self.flat().sum_kernel(0, false);
        Tensor::record(out, &[self], || SumBackward0 { x: self.clone() })
    }

    /// The sum along `dim`, keeping it as size 1 when `keepdim`.
    #[track_caller]
    pub fn sum_dim(&self, dim: isize, keepdim: bool) -> Tensor {
        or_panic!(self.try_sum_dim(dim, keepdim))
    }

    /// Fallible [`Tensor::sum_dim`].
    pub fn try_sum_dim(&self, dim: isize, keepdim: bool) -> Result<Tensor> {
        if self.dim() == 0 {
            wrap_dim(dim, 0)?;
            return Ok(self.sum());
        }
        let d = wrap_dim(dim, self.dim())?;
        let out = self.sum_kernel(d, keepdim);
        Ok(Tensor::record(out, &[self], || SumBackward1 {
            x: self.clone(),
            dim: d,
            keepdim,
        }))
    }

    /// The sum over several dimensions (`sum(dim=(0, 2))`).
    #[track_caller]
    pub fn sum_dims(&self, dims: &[isize], keepdim: bool) -> Tensor {
        let mut ds: Vec<usize> = dims
            .iter()
            .map(|&d| or_panic!(wrap_dim(d, self.dim())))
            .collect();
        ds.sort_unstable();
        ds.dedup();
        ds.iter()
            .rev()
            .fold(self.clone(), |t, &d| t.sum_dim(d as isize, keepdim))
    }

    /// Reduces a broadcast gradient back to `shape` by summing the broadcast dims.
    pub(crate) fn sum_to(&self, shape: &[usize]) -> Tensor {
        if self.shape() == shape {
            return self.clone();
        }
        let extra = self.dim() - shape.len();
        let mut t = self.clone();
        for _ in 0..extra {
            t = t.sum_kernel(0, false);
        }
        for (d, &s) in shape.iter().enumerate() {
            if s == 1 && t.shape()[d] != 1 {
                t = t.sum_kernel(d, true);
            }
        }
        t
    }

    fn check_float(&self, op: &str) -> Result<()> {
        if self.dtype().is_floating_point() {
            Ok(())
        } else {
            Err(Error::Value(format!(
                "{op}(): could not infer output dtype. Input dtype must be either a floating point or complex dtype. Got: {}",
                self.dtype().scalar_type_name()
            )))
        }
    }

    /// The mean of all elements (floats only, as in PyTorch).
    #[track_caller]
    pub fn mean(&self) -> Tensor {
        or_panic!(self.try_mean())
    }

    /// Fallible [`Tensor::mean`].
    pub fn try_mean(&self) -> Result<Tensor> {
        self.check_float("mean")?;
        let n = self.numel() as f64;
        let out = crate::autograd::no_grad(|| self.flat().sum_kernel(0, false).div_scalar(n));
        Ok(Tensor::record(out, &[self], || MeanBackward0 {
            x: self.clone(),
        }))
    }

    /// The mean along `dim`.
    #[track_caller]
    pub fn mean_dim(&self, dim: isize, keepdim: bool) -> Tensor {
        or_panic!(self.try_mean_dim(dim, keepdim))
    }

    /// Fallible [`Tensor::mean_dim`].
    pub fn try_mean_dim(&self, dim: isize, keepdim: bool) -> Result<Tensor> {
        self.check_float("mean")?;
        let d = wrap_dim(dim, self.dim())?;
        if self.dim() == 0 {
            return self.try_mean();
        }
        let n = self.shape()[d] as f64;
        let out = crate::autograd::no_grad(|| self.sum_kernel(d, keepdim).div_scalar(n));
        Ok(Tensor::record(out, &[self], || MeanBackward1 {
            x: self.clone(),
            dim: d,
            keepdim,
        }))
    }

    fn extreme_all(&self, max: bool) -> Result<Tensor> {
        if self.numel() == 0 {
            let name = if max { "max" } else { "min" };
            return Err(Error::Value(format!(
                "{name}(): Expected reduction dim to be specified for input.numel() == 0. Specify the reduction dim with the 'dim' argument."
            )));
        }
        let out = self.flat().extreme_kernel(0, false, max).0;
        let saved = out.detach();
        Ok(Tensor::record(out, &[self], || ExtremeAllBackward {
            x: self.clone(),
            out: saved,
            max,
        }))
    }

    /// The largest element as a 0-d tensor (NaN if any element is NaN).
    ///
    /// ```
    /// use kindling::Tensor;
    /// let t = Tensor::from_vec(vec![3u8, 255, 7], [3]);
    /// assert_eq!(t.max().to_string(), "tensor(255, dtype=torch.uint8)");
    /// ```
    #[track_caller]
    pub fn max(&self) -> Tensor {
        or_panic!(self.extreme_all(true))
    }

    /// The smallest element as a 0-d tensor.
    #[track_caller]
    pub fn min(&self) -> Tensor {
        or_panic!(self.extreme_all(false))
    }

    /// Fallible [`Tensor::max`].
    pub fn try_max(&self) -> Result<Tensor> {
        self.extreme_all(true)
    }

    fn extreme_dim(&self, dim: isize, keepdim: bool, max: bool) -> Result<(Tensor, Tensor)> {
        let d = wrap_dim(dim, self.dim())?;
        if self.dim() == 0 {
            return Ok((self.clone(), Tensor::scalar(0i64)));
        }
        if self.shape()[d] == 0 {
            return Err(Error::Value(format!(
                "{}(): Expected reduction dim {d} to have non-zero size.",
                if max { "max" } else { "min" }
            )));
        }
        let (values, indices) = self.extreme_kernel(d, keepdim, max);
        let saved = indices.clone();
        let values = Tensor::record(values, &[self], || ExtremeDimBackward {
            x: self.clone(),
            dim: d,
            keepdim,
            indices: saved,
            max,
        });
        Ok((values, indices))
    }

    /// The largest values along `dim` and their indices (`torch.max(x, dim)`).
    #[track_caller]
    pub fn max_dim(&self, dim: isize, keepdim: bool) -> (Tensor, Tensor) {
        or_panic!(self.extreme_dim(dim, keepdim, true))
    }

    /// The smallest values along `dim` and their indices.
    #[track_caller]
    pub fn min_dim(&self, dim: isize, keepdim: bool) -> (Tensor, Tensor) {
        or_panic!(self.extreme_dim(dim, keepdim, false))
    }

    /// `t.argmax(dim)`: the indices of the largest values along `dim`
    /// (`argmax(1)` reads a batch's predictions), or with `None` the index of
    /// the largest element of the flattened tensor, as a 0-d int64 tensor, as
    /// PyTorch's `argmax()` without a dim. [`Tensor::argmax_dim`] keeps the dim.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let logits = Tensor::tensor([[0.1, 0.7, 0.2], [0.9, 0.0, 0.1]]);
    /// assert_eq!(logits.argmax(1).to_string(), "tensor([1, 0])");
    /// assert_eq!(logits.argmax(None).to_string(), "tensor(3)");
    /// ```
    #[track_caller]
    pub fn argmax(&self, dim: impl DimArg) -> Tensor {
        match dim.dim() {
            Some(d) => self.argmax_dim(d, false),
            None => or_panic!(self.flat().extreme_dim(0, false, true)).1,
        }
    }

    /// `t.argmin(dim)`: as [`Tensor::argmax`], for the smallest values.
    #[track_caller]
    pub fn argmin(&self, dim: impl DimArg) -> Tensor {
        match dim.dim() {
            Some(d) => self.argmin_dim(d, false),
            None => or_panic!(self.flat().extreme_dim(0, false, false)).1,
        }
    }

    /// Indices of the largest values along `dim` (`argmax(dim=1)` reads predictions).
    ///
    /// ```
    /// use kindling::Tensor;
    /// let logits = Tensor::from_vec(vec![0.1f32, 0.7, 0.2, 0.9, 0.0, 0.1], [2, 3]);
    /// assert_eq!(logits.argmax_dim(1, false).to_string(), "tensor([1, 0])");
    /// ```
    #[track_caller]
    pub fn argmax_dim(&self, dim: isize, keepdim: bool) -> Tensor {
        or_panic!(self.extreme_dim(dim, keepdim, true)).1
    }

    /// Indices of the smallest values along `dim`.
    #[track_caller]
    pub fn argmin_dim(&self, dim: isize, keepdim: bool) -> Tensor {
        or_panic!(self.extreme_dim(dim, keepdim, false)).1
    }

    fn prod_kernel(&self, dim: usize, keepdim: bool) -> Tensor {
        self.reduce_kernel(ReduceOp::Prod, dim, keepdim)
    }

    /// The product of all elements (ints and bools give int64).
    pub fn prod(&self) -> Tensor {
        let out = self.flat().prod_kernel(0, false);
        Tensor::record(out, &[self], || ProdBackward {
            x: self.clone(),
            dim: None,
            keepdim: false,
        })
    }

    /// The product along `dim`.
    #[track_caller]
    pub fn prod_dim(&self, dim: isize, keepdim: bool) -> Tensor {
        let d = or_panic!(wrap_dim(dim, self.dim()));
        if self.dim() == 0 {
            return self.prod();
        }
        let out = self.prod_kernel(d, keepdim);
        Tensor::record(out, &[self], || ProdBackward {
            x: self.clone(),
            dim: Some(d),
            keepdim,
        })
    }

    /// The running sum along `dim` (`torch.cumsum`): element `i` of each lane is
    /// the sum of elements `0..=i`. Floats keep their dtype and accumulate in
    /// f64, as PyTorch's CPU kernel does; integers and bools give int64.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let t = Tensor::from_slice(&[1i64, 2, 3, 4]);
    /// assert_eq!(t.cumsum(0).to_vec::<i64>(), vec![1, 3, 6, 10]);
    /// ```
    #[track_caller]
    pub fn cumsum(&self, dim: isize) -> Tensor {
        or_panic!(self.try_cumsum(dim))
    }

    /// Fallible [`Tensor::cumsum`].
    pub fn try_cumsum(&self, dim: isize) -> Result<Tensor> {
        if self.dim() == 0 {
            wrap_dim(dim, 0)?;
            let out = crate::autograd::no_grad(|| self.clone_tensor());
            return Ok(Tensor::record(out, &[self], || CumsumBackward0 {
                x: self.clone(),
                dim: 0,
            }));
        }
        let d = wrap_dim(dim, self.dim())?;
        let buf = self.with_view(|v| backend(self.device()).cumsum(v, d));
        let out = Tensor::from_buffer_on(buf, self.shape(), self.device());
        if !self.dtype().is_floating_point() {
            return Ok(out);
        }
        Ok(Tensor::record(out, &[self], || CumsumBackward0 {
            x: self.clone(),
            dim: d,
        }))
    }

    /// Variance with Bessel's correction (`correction = 1`, PyTorch's default).
    #[track_caller]
    pub fn var(&self) -> Tensor {
        or_panic!(self.try_var_with(None, 1, false))
    }

    /// Variance along `dim` with Bessel's correction.
    #[track_caller]
    pub fn var_dim(&self, dim: isize, keepdim: bool) -> Tensor {
        or_panic!(self.try_var_with(Some(dim), 1, keepdim))
    }

    /// Variance, `sum((x - mean)^2) / (n - correction)`, over all elements
    /// (`dim = None`) or along one dimension.
    pub fn try_var_with(
        &self,
        dim: Option<isize>,
        correction: usize,
        keepdim: bool,
    ) -> Result<Tensor> {
        self.check_float("var")?;
        let (x, d) = match dim {
            None => (self.flat(), 0),
            Some(dim) => (self.clone(), wrap_dim(dim, self.dim())?),
        };
        if x.dim() == 0 {
            return self.try_var_with(None, correction, keepdim);
        }
        let shape = match dim {
            None => Dims::new(),
            Some(_) => reduced_shape(x.shape(), d, keepdim),
        };
        let buf = x.with_view(|v| backend(x.device()).var(v, d, correction));
        let out = Tensor::from_buffer_on(buf, &shape, x.device());
        let dim = dim.map(|_| d);
        Ok(Tensor::record(out, &[self], || VarBackward0 {
            x: self.clone(),
            dim,
            correction,
            keepdim,
        }))
    }

    /// Standard deviation with Bessel's correction.
    #[track_caller]
    pub fn std(&self) -> Tensor {
        or_panic!(self.try_std_with(None, 1, false))
    }

    /// Standard deviation along `dim` with Bessel's correction.
    #[track_caller]
    pub fn std_dim(&self, dim: isize, keepdim: bool) -> Tensor {
        or_panic!(self.try_std_with(Some(dim), 1, keepdim))
    }

    /// `sqrt(var)`; see [`Tensor::try_var_with`].
    pub fn try_std_with(
        &self,
        dim: Option<isize>,
        correction: usize,
        keepdim: bool,
    ) -> Result<Tensor> {
        let var = crate::autograd::no_grad(|| self.try_var_with(dim, correction, keepdim))?;
        let out = crate::autograd::no_grad(|| var.sqrt());
        let saved = out.detach();
        let dim = match dim {
            Some(d) => Some(wrap_dim(d, self.dim())?),
            None => None,
        };
        Ok(Tensor::record(out, &[self], || StdBackward0 {
            x: self.clone(),
            out: saved,
            dim,
            correction,
            keepdim,
        }))
    }
}

// ----- gradients ----------------------------------------------------------------------

grad_fn! {
    /// Every element gets the gradient of the sum.
    SumBackward0 { x: Tensor }
    inputs [x];
    backward(n, g, acc) { acc.add(&n.x, || g.expand(n.x.shape())) }
}

grad_fn! {
    /// Every element of a lane gets its lane's gradient.
    SumBackward1 { x: Tensor, dim: usize, keepdim: bool }
    inputs [x];
    backward(n, g, acc) {
        acc.add(&n.x, || unreduce(g, Some(n.dim), n.keepdim).expand(n.x.shape()))
    }
}

grad_fn! {
    /// Element `i` of a lane feeds every output from `i` on: the gradient is
    /// the reversed running sum of `g`.
    CumsumBackward0 { x: Tensor, dim: usize }
    inputs [x];
    backward(n, g, acc) {
        acc.add(&n.x, || {
            if n.x.dim() == 0 {
                return g.clone();
            }
            let d = [n.dim as isize];
            g.flip(&d).cumsum(n.dim as isize).flip(&d)
        })
    }
}

grad_fn! {
    /// Every element gets 1/N of the gradient.
    MeanBackward0 { x: Tensor }
    inputs [x];
    backward(n, g, acc) { acc.add(&n.x, || (g / n.x.numel() as f64).expand(n.x.shape())) }
}

grad_fn! {
    /// Every element of a lane gets 1/N of its lane's gradient.
    MeanBackward1 { x: Tensor, dim: usize, keepdim: bool }
    inputs [x];
    backward(n, g, acc) {
        acc.add(&n.x, || {
            (unreduce(g, Some(n.dim), n.keepdim) / n.x.shape()[n.dim] as f64).expand(n.x.shape())
        })
    }
}

grad_fn! {
    /// `max()`/`min()` of all elements: ties share the gradient evenly, as in
    /// PyTorch.
    ExtremeAllBackward { x: Tensor, out: Tensor, max: bool }
    name(n) if n.max { "MaxBackward1" } else { "MinBackward1" };
    inputs [x];
    backward(n, g, acc) {
        acc.add(&n.x, || {
            let mask = n.x.eq(&n.out).to_dtype(g.dtype());
            &(&mask * g) / &mask.sum()
        })
    }
}

grad_fn! {
    /// `max(dim)`/`min(dim)`: the element at each lane's index takes its gradient.
    ExtremeDimBackward { x: Tensor, dim: usize, keepdim: bool, indices: Tensor, max: bool }
    name(n) if n.max { "MaxBackward0" } else { "MinBackward0" };
    inputs [x];
    backward(n, g, acc) {
        acc.add(&n.x, || {
            let (g, i) = (
                unreduce(g, Some(n.dim), n.keepdim),
                unreduce(&n.indices, Some(n.dim), n.keepdim),
            );
            zeros_like_grad(&n.x, &g).scatter_add(n.dim as isize, &i, &g.contiguous())
        })
    }
}

grad_fn! {
    /// d(Πx)/dx_i = the product of the others (exact where elements are zero).
    ProdBackward { x: Tensor, dim: Option<usize>, keepdim: bool }
    name(n) if n.dim.is_none() { "ProdBackward0" } else { "ProdBackward1" };
    inputs [x];
    backward(n, g, acc) {
        acc.add(&n.x, || unreduce(g, n.dim, n.keepdim) * product_of_others(&n.x, n.dim))
    }
}

grad_fn! {
    /// d var = 2(x - mean) / (N - correction).
    VarBackward0 { x: Tensor, dim: Option<usize>, correction: usize, keepdim: bool }
    inputs [x];
    backward(n, g, acc) {
        acc.add(&n.x, || {
            let (mean, len) = lane_mean(&n.x, n.dim);
            unreduce(g, n.dim, n.keepdim) * ((&n.x - &mean) * (2.0 / (len - n.correction as f64)))
        })
    }
}

grad_fn! {
    /// d std = (x - mean) / (std · (N - correction)), from the saved output.
    StdBackward0 { x: Tensor, out: Tensor, dim: Option<usize>, correction: usize, keepdim: bool }
    inputs [x];
    backward(n, g, acc) {
        acc.add(&n.x, || {
            let (mean, len) = lane_mean(&n.x, n.dim);
            let denom = unreduce(&n.out, n.dim, n.keepdim) * (len - n.correction as f64);
            unreduce(g, n.dim, n.keepdim) * (&n.x - &mean) / denom
        })
    }
}

/// The mean over a lane (kept as a size-1 dim) and the lane length.
fn lane_mean(x: &Tensor, dim: Option<usize>) -> (Tensor, f64) {
    match dim {
        Some(d) => (x.mean_dim(d as isize, true), x.shape()[d] as f64),
        None => (x.mean(), x.numel() as f64),
    }
}

/// For each element, the product of the other elements in its lane: the gradient
/// of `prod`, exact even where elements are zero (prefix and suffix products).
fn product_of_others(x: &Tensor, dim: Option<usize>) -> Tensor {
    let (rows, last) = match dim {
        Some(d) => (x.transpose(d as isize, -1).contiguous(), d),
        None => (x.reshape([-1]).contiguous(), 0),
    };
    let n = *rows.shape().last().unwrap_or(&1);
    let v = rows.to_vec::<f64>();
    let mut out = vec![0f64; v.len()];
    for (lane, res) in v.chunks(n.max(1)).zip(out.chunks_mut(n.max(1))) {
        let mut prefix = 1.0;
        for (i, r) in res.iter_mut().enumerate() {
            *r = prefix;
            prefix *= lane[i];
        }
        let mut suffix = 1.0;
        for i in (0..lane.len()).rev() {
            res[i] *= suffix;
            suffix *= lane[i];
        }
    }
    let t = Tensor::from_vec(out, rows.shape())
        .to_dtype(x.dtype())
        .to(x.device());
    match dim {
        Some(_) => t.transpose(last as isize, -1).contiguous(),
        None => t.reshape(x.shape()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::golden::{attr_i, goldens, gradchecks, keepdim};
    use crate::DType;

    goldens! { "reduce";
        sum => |x, _| x[0].sum(),
        uint8_sum => |x, _| x[0].sum(),
        bool_sum => |x, _| x[0].sum(),
        sum_dim => |x, a| x[0].sum_dim(attr_i(a, "dim"), keepdim(a)),
        sum_dim_keep => |x, a| x[0].sum_dim(attr_i(a, "dim"), keepdim(a)),
        mean => |x, _| x[0].mean(),
        mean_dim => |x, a| x[0].mean_dim(attr_i(a, "dim"), keepdim(a)),
        max => |x, _| x[0].max(),
        min => |x, _| x[0].min(),
        max_dim => |x, a| x[0].max_dim(attr_i(a, "dim"), keepdim(a)).0,
        max_dim_indices => |x, a| x[0].max_dim(attr_i(a, "dim"), false).1,
        min_dim => |x, a| x[0].min_dim(attr_i(a, "dim"), keepdim(a)).0,
        argmax => |x, _| x[0].argmax(None),
        argmax_dim => |x, a| x[0].argmax_dim(attr_i(a, "dim"), false),
        argmin_dim => |x, a| x[0].argmin_dim(attr_i(a, "dim"), false),
        prod => |x, _| x[0].prod(),
        prod_with_zero => |x, _| x[0].prod(),
        prod_dim => |x, a| x[0].prod_dim(attr_i(a, "dim"), keepdim(a)),
        var => |x, _| x[0].var(),
        var_dim => |x, a| x[0].var_dim(attr_i(a, "dim"), keepdim(a)),
        std => |x, _| x[0].std(),
        std_dim => |x, a| x[0].std_dim(attr_i(a, "dim"), keepdim(a)),
        cumsum => |x, a| x[0].cumsum(attr_i(a, "dim")),
        cumsum_dim0 => |x, a| x[0].cumsum(attr_i(a, "dim")),
        int_cumsum => |x, a| x[0].cumsum(attr_i(a, "dim")),
        uint8_cumsum => |x, a| x[0].cumsum(attr_i(a, "dim")),
    }

    gradchecks! {
        sum: [randn(&[3, 4], 1)] => |x| x[0].sum();
        sum_dim: [randn(&[3, 4, 2], 1)] => |x| x[0].sum_dim(1, false);
        sum_dims_keep: [randn(&[3, 4, 2], 1)] => |x| x[0].sum_dims(&[0, 2], true);
        mean: [randn(&[3, 4], 1)] => |x| x[0].mean();
        mean_dim: [randn(&[3, 4], 1)] => |x| x[0].mean_dim(-1, true);
        max: [randn(&[3, 4], 1)] => |x| x[0].max();
        min: [randn(&[3, 4], 1)] => |x| x[0].min();
        max_dim: [randn(&[3, 5], 1)] => |x| x[0].max_dim(1, false).0;
        min_dim: [randn(&[4, 3], 1)] => |x| x[0].min_dim(0, true).0;
        prod: [randn(&[2, 3], 1)] => |x| x[0].prod();
        prod_dim_with_zero: [Tensor::from_vec(vec![2.0f64, 0.0, 3.0, 1.5, -1.0, 0.5], [2, 3])] => |x| x[0].prod_dim(1, false);
        var: [randn(&[3, 4], 1)] => |x| x[0].var();
        var_dim: [randn(&[3, 4], 1)] => |x| x[0].var_dim(1, true);
        std: [randn(&[3, 4], 1)] => |x| x[0].std();
        std_dim: [randn(&[3, 4], 1)] => |x| x[0].std_dim(0, false);
        cumsum: [randn(&[3, 4], 1)] => |x| x[0].cumsum(1);
        cumsum_dim0_3d: [randn(&[4, 2, 3], 1)] => |x| x[0].cumsum(0);
    }

    #[test]
    fn integer_sums_widen() {
        let t = Tensor::from_vec(vec![200u8, 100, 255], [3]);
        assert_eq!(t.sum().dtype(), DType::I64);
        assert_eq!(t.sum().item().to_i64(), 555);
        assert_eq!(
            Tensor::from_vec(vec![true, true, false], [3])
                .sum()
                .item()
                .to_i64(),
            2
        );
        assert!(t.try_mean().is_err());
    }

    #[test]
    fn dims_and_keepdim() {
        let t = Tensor::arange(6).reshape([2, 3]).to_dtype(DType::F32);
        assert_eq!(t.sum_dim(0, false).to_vec::<f32>(), vec![3.0, 5.0, 7.0]);
        assert_eq!(t.sum_dim(-1, true).shape(), &[2, 1]);
        assert_eq!(t.mean_dim(1, false).to_vec::<f32>(), vec![1.0, 4.0]);
        let (v, i) = t.max_dim(1, false);
        assert_eq!(
            (v.to_vec::<f32>(), i.to_vec::<i64>()),
            (vec![2.0, 5.0], vec![2, 2])
        );
        assert_eq!(t.argmin(None).item().to_i64(), 0);
        assert_eq!(t.var().item().to_f64(), 3.5);
        assert_eq!(t.prod_dim(1, false).to_vec::<f32>(), vec![0.0, 60.0]);
        assert_eq!(t.sum_dims(&[0, 1], false).item().to_f64(), 15.0);
    }

    #[test]
    fn nan_propagates_and_ties_take_first() {
        let t = Tensor::from_vec(vec![1.0f32, f32::NAN, 3.0], [3]);
        assert!(t.max().item().to_f64().is_nan());
        assert_eq!(t.argmax(None).item().to_i64(), 1);
        let ties = Tensor::from_vec(vec![2.0f32, 5.0, 5.0], [3]);
        assert_eq!(ties.argmax(None).item().to_i64(), 1);
        assert!(Tensor::zeros([0]).try_max().is_err());
    }
}
