//! Indexing with tensors and joining: `index_select`, `gather`, `scatter`,
//! `scatter_add`, `masked_select`, `nonzero`, `one_hot`, `cat`, `stack`.

use super::{device_of, read2};
use crate::autograd::{self, grad_fn, zeros_like_grad, Inputs, Node, Sink};
use crate::backend::{backend, View};
use crate::error::{or_panic, shape_err, Error, Result};
use crate::ops::elementwise::Operand;
use crate::tensor::dtype::{result_type, with_dtype, Element};
use crate::tensor::layout::{broadcast_shapes, wrap_dim};
use crate::tensor::{DType, Tensor};

fn check_index(index: &Tensor, op: &str) -> Result<Vec<i64>> {
    if index.dtype() != DType::I64 {
        return Err(Error::Value(format!(
            "{op}(): Expected dtype int64 for index, but got {}",
            index.dtype().scalar_type_name()
        )));
    }
    Ok(index.contiguous_vec::<i64>())
}

fn bounded(i: i64, dim: usize, size: usize) -> Result<usize> {
    if i < 0 || i as usize >= size {
        return Err(Error::IndexOutOfRange {
            index: i,
            dim,
            size,
        });
    }
    Ok(i as usize)
}

impl Tensor {
    /// The slices at `index` (a 1-D int64 tensor) along `dim`.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let t = Tensor::arange(6).reshape([3, 2]);
    /// let rows = t.index_select(0, &Tensor::from_slice(&[2i64, 0]));
    /// assert_eq!(rows.to_vec::<i64>(), vec![4, 5, 0, 1]);
    /// ```
    #[track_caller]
    pub fn index_select(&self, dim: isize, index: &Tensor) -> Tensor {
        or_panic!(self.try_index_select(dim, index))
    }

    /// Fallible [`Tensor::index_select`].
    pub fn try_index_select(&self, dim: isize, index: &Tensor) -> Result<Tensor> {
        if index.dim() > 1 {
            return Err(shape_err(
                "index_select(): Index is supposed to be a vector",
            ));
        }
        let d = wrap_dim(dim, self.dim())?;
        let idx = check_index(index, "index_select")?;
        if self.dim() == 0 {
            return Err(shape_err(
                "index_select() cannot be applied to a 0-dim tensor.",
            ));
        }
        let device = device_of(&[self, index])?;
        let size = self.shape()[d];
        let rows: Vec<usize> = idx
            .iter()
            .map(|&i| bounded(i, d, size))
            .collect::<Result<_>>()?;
        let mut shape = self.shape().to_vec();
        shape[d] = rows.len();
        let buf = self.with_view(|v| backend(device).index_select(v, d, &rows));
        let out = Tensor::from_buffer_on(buf, &shape, device);
        Ok(Tensor::record(out, &[self], || IndexSelectBackward0 {
            x: self.clone(),
            dim: d,
            index: index.clone(),
        }))
    }

    /// A copy of `self` with `src`'s slices added at `index` along `dim`
    /// (out-of-place `index_add`; no autograd: used by gradients).
    pub(crate) fn index_add(&self, dim: usize, index: &Tensor, src: &Tensor) -> Tensor {
        let rows: Vec<usize> = index
            .contiguous_vec::<i64>()
            .iter()
            .map(|&i| i as usize)
            .collect();
        let buf = read2(self, src, |vx, vs| {
            backend(self.device()).index_add(vx, dim, &rows, vs)
        });
        Tensor::from_buffer_on(buf, self.shape(), self.device())
    }

    /// `out[i][j] = self[index[i][j]][j]` for `dim = 0` (and likewise for other
    /// dims): picks one element per position along `dim`.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let probs = Tensor::from_vec(vec![0.1f32, 0.9, 0.8, 0.2], [2, 2]);
    /// let labels = Tensor::from_vec(vec![1i64, 0], [2, 1]);
    /// assert_eq!(probs.gather(1, &labels).to_vec::<f32>(), vec![0.9, 0.8]);
    /// ```
    #[track_caller]
    pub fn gather(&self, dim: isize, index: &Tensor) -> Tensor {
        or_panic!(self.try_gather(dim, index))
    }

    fn check_scatter_shapes(&self, d: usize, index: &Tensor, op: &str) -> Result<()> {
        if index.dim() != self.dim() {
            return Err(shape_err(format!(
                "Index tensor must have the same number of dimensions as input tensor ({op})"
            )));
        }
        for k in 0..self.dim() {
            if k != d && index.shape()[k] > self.shape()[k] {
                return Err(shape_err(format!(
                    "Size does not match at dimension {k} expected index {:?} to be smaller than self {:?} apart from dimension {d}",
                    index.shape(),
                    self.shape()
                )));
            }
        }
        Ok(())
    }

    /// Fallible [`Tensor::gather`].
    pub fn try_gather(&self, dim: isize, index: &Tensor) -> Result<Tensor> {
        let d = wrap_dim(dim, self.dim())?;
        let idx = check_index(index, "gather")?;
        self.check_scatter_shapes(d, index, "gather")?;
        let device = device_of(&[self, index])?;
        let size = self.shape().get(d).copied().unwrap_or(1);
        let picks: Vec<usize> = idx
            .iter()
            .map(|&i| bounded(i, d, size))
            .collect::<Result<_>>()?;
        let buf = self.with_view(|v| backend(device).gather(v, d, &picks, index.shape()));
        let out = Tensor::from_buffer_on(buf, index.shape(), device);
        Ok(Tensor::record(out, &[self], || GatherBackward0 {
            x: self.clone(),
            dim: d,
            index: index.clone(),
        }))
    }

    /// A copy of `self` where `src[i][j]` is added at `[index[i][j]][j]` (for
    /// `dim = 0`): the reverse of `gather`.
    #[track_caller]
    pub fn scatter_add(&self, dim: isize, index: &Tensor, src: &Tensor) -> Tensor {
        or_panic!(self.try_scatter_add(dim, index, src))
    }

    /// Fallible [`Tensor::scatter_add`].
    pub fn try_scatter_add(&self, dim: isize, index: &Tensor, src: &Tensor) -> Result<Tensor> {
        let d = wrap_dim(dim, self.dim())?;
        let idx = check_index(index, "scatter_add")?;
        self.check_scatter_shapes(d, index, "scatter_add")?;
        if src.dim() != index.dim() || index.shape().iter().zip(src.shape()).any(|(i, s)| i > s) {
            return Err(shape_err(format!(
                "Expected index {:?} to be smaller than src {:?} in every dimension (scatter_add)",
                index.shape(),
                src.shape()
            )));
        }
        if src.dtype() != self.dtype() {
            return Err(Error::DType {
                expected: self.dtype(),
                found: src.dtype(),
            });
        }
        let device = device_of(&[self, index, src])?;
        let size = self.shape().get(d).copied().unwrap_or(1);
        let picks: Vec<usize> = idx
            .iter()
            .map(|&i| bounded(i, d, size))
            .collect::<Result<_>>()?;
        let buf = read2(self, src, |vx, vs| {
            backend(device).scatter_add(vx, d, &picks, index.shape(), vs)
        });
        let out = Tensor::from_buffer_on(buf, self.shape(), device);
        Ok(Tensor::record(out, &[self, src], || ScatterAddBackward0 {
            x: self.clone(),
            dim: d,
            index: index.clone(),
            src: src.clone(),
        }))
    }

    /// A copy of `self` where `src[i][j]` is written at `[i][index[i][j]]` (for
    /// `dim = 1`), or `value` when the source is a number: `torch.scatter`.
    /// Where `index` repeats a position, which write wins is unspecified in
    /// PyTorch; kindling keeps the last. grad_fn `ScatterBackward0` (a tensor
    /// source) or `ScatterBackward1` (a value).
    ///
    /// ```
    /// use kindling::Tensor;
    /// let labels = Tensor::from_slice(&[2i64, 0]).reshape([2, 1]);
    /// let one_hot = Tensor::zeros([2, 3]).scatter(1, &labels, 1.0);
    /// assert_eq!(one_hot.to_vec::<f32>(), [0.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
    /// ```
    #[track_caller]
    pub fn scatter<'a>(&self, dim: isize, index: &Tensor, src: impl Into<Operand<'a>>) -> Tensor {
        or_panic!(self.try_scatter(dim, index, src))
    }

    /// Fallible [`Tensor::scatter`].
    pub fn try_scatter<'a>(
        &self,
        dim: isize,
        index: &Tensor,
        src: impl Into<Operand<'a>>,
    ) -> Result<Tensor> {
        let src = src.into();
        // As PyTorch, a 0-d index (and source) counts as one element of a 1-d
        // tensor: `torch.zeros(10).scatter_(0, torch.tensor(y), value=1)`.
        if index.dim() == 0 && self.dim() == 1 {
            let index = index.reshape([1]);
            return match src {
                Operand::Tensor(s) if s.dim() == 0 => {
                    self.try_scatter(dim, &index, &s.reshape([1]))
                }
                other => self.try_scatter(dim, &index, other),
            };
        }
        let d = wrap_dim(dim, self.dim())?;
        let idx = check_index(index, "scatter")?;
        self.check_scatter_shapes(d, index, "scatter")?;
        let device = match src {
            Operand::Tensor(s) => {
                if s.dim() != index.dim() || index.shape().iter().zip(s.shape()).any(|(i, s)| i > s)
                {
                    return Err(shape_err(format!(
                        "Expected index {:?} to be smaller than src {:?} in every dimension (scatter)",
                        index.shape(),
                        s.shape()
                    )));
                }
                if s.dtype() != self.dtype() {
                    return Err(Error::Value(format!(
                        "scatter(): Expected self.dtype to be equal to src.dtype, but got {} and {}",
                        self.dtype().scalar_type_name(),
                        s.dtype().scalar_type_name()
                    )));
                }
                device_of(&[self, index, s])?
            }
            Operand::Scalar(_) => device_of(&[self, index])?,
        };
        let size = self.shape().get(d).copied().unwrap_or(1);
        let picks: Vec<usize> = idx
            .iter()
            .map(|&i| bounded(i, d, size))
            .collect::<Result<_>>()?;
        let out = crate::no_grad(|| scatter_copy(self, d, &picks, index.shape(), src));
        let out = out.to(device);
        Ok(match src {
            Operand::Tensor(s) => Tensor::record(out, &[self, s], || ScatterBackward0 {
                x: self.clone(),
                dim: d,
                index: index.clone(),
                src: s.clone(),
            }),
            Operand::Scalar(_) => Tensor::record(out, &[self], || ScatterBackward1 {
                x: self.clone(),
                dim: d,
                index: index.clone(),
            }),
        })
    }

    /// [`Tensor::scatter`] in place (`x.scatter_(1, &index, 1.0)`).
    #[track_caller]
    pub fn scatter_<'a>(&self, dim: isize, index: &Tensor, src: impl Into<Operand<'a>>) -> Tensor {
        or_panic!(self.try_scatter_(dim, index, src));
        self.clone()
    }

    /// Fallible [`Tensor::scatter_`].
    pub fn try_scatter_<'a>(
        &self,
        dim: isize,
        index: &Tensor,
        src: impl Into<Operand<'a>>,
    ) -> Result<()> {
        let out = crate::no_grad(|| self.try_scatter(dim, index, src))?;
        self.try_copy_(&out)
    }

    /// The elements where `mask` (bool, broadcast with `self`) is true, in
    /// order, as a 1-D tensor: `torch.masked_select`, and what `x[mask]` is
    /// for a mask of `x`'s shape. grad_fn `MaskedSelectBackward0`.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let x = Tensor::from_slice(&[-1.0f32, 2.0, -3.0, 4.0]);
    /// assert_eq!(x.masked_select(&x.gt_scalar(0)).to_vec::<f32>(), [2.0, 4.0]);
    /// ```
    #[track_caller]
    pub fn masked_select(&self, mask: &Tensor) -> Tensor {
        or_panic!(self.try_masked_select(mask))
    }

    /// Fallible [`Tensor::masked_select`].
    pub fn try_masked_select(&self, mask: &Tensor) -> Result<Tensor> {
        if mask.dtype() != DType::Bool {
            return Err(Error::Value(format!(
                "masked_select: expected BoolTensor for mask, got {}",
                mask.dtype().scalar_type_name()
            )));
        }
        let shape = broadcast_shapes(self.shape(), mask.shape())?;
        device_of(&[self, mask])?;
        let positions: Vec<i64> =
            crate::no_grad(|| mask.expand(&shape[..]).contiguous_vec::<bool>())
                .iter()
                .enumerate()
                .filter(|(_, &m)| m)
                .map(|(i, _)| i as i64)
                .collect();
        let n = positions.len();
        let positions = Tensor::from_vec(positions, [n]).to(self.device());
        let out = crate::no_grad(|| {
            self.expand(&shape[..])
                .reshape([-1])
                .index_select(0, &positions)
        });
        Ok(Tensor::record(out, &[self], || MaskedSelectBackward0 {
            x: self.clone(),
            shape: shape.to_vec(),
            positions,
        }))
    }

    /// The indices of the non-zero elements, one row per element, as an
    /// int64 `[n, dim]` tensor (`torch.nonzero`).
    ///
    /// ```
    /// use kindling::Tensor;
    /// let t = Tensor::from_vec(vec![0i64, 3, 5, 0], [2, 2]);
    /// assert_eq!(t.nonzero().to_vec::<i64>(), [0, 1, 1, 0]);
    /// ```
    pub fn nonzero(&self) -> Tensor {
        let flags: Vec<bool> = crate::no_grad(|| self.ne_scalar(0).contiguous_vec::<bool>());
        let shape = self.shape();
        let mut rows = Vec::new();
        let mut count = 0;
        for (flat, _) in flags.iter().enumerate().filter(|(_, &f)| f) {
            let mut rest = flat;
            let start = rows.len();
            rows.resize(start + shape.len(), 0i64);
            for (k, &n) in shape.iter().enumerate().rev() {
                rows[start + k] = (rest % n) as i64;
                rest /= n;
            }
            count += 1;
        }
        Tensor::from_vec(rows, [count, shape.len()]).to(self.device())
    }

    /// Each int64 class index as a row of `num_classes` zeros with a one at the
    /// index (`F.one_hot`); `num_classes = -1` takes the largest index plus one.
    /// The result is int64 with one more dimension.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let t = Tensor::from_slice(&[0i64, 2]).one_hot(3);
    /// assert_eq!(t.to_vec::<i64>(), [1, 0, 0, 0, 0, 1]);
    /// ```
    #[track_caller]
    pub fn one_hot(&self, num_classes: i64) -> Tensor {
        or_panic!(self.try_one_hot(num_classes))
    }

    /// Fallible [`Tensor::one_hot`]: PyTorch's words for a non-int64 tensor and
    /// for classes out of range.
    pub fn try_one_hot(&self, num_classes: i64) -> Result<Tensor> {
        if self.dtype() != DType::I64 {
            return Err(Error::Value(
                "one_hot is only applicable to index tensor of type LongTensor.".into(),
            ));
        }
        let values = self.contiguous_vec::<i64>();
        if values.iter().any(|&v| v < 0) {
            return Err(Error::Value("Class values must be non-negative.".into()));
        }
        let largest = values.iter().copied().max();
        let classes = match (num_classes, largest) {
            (-1, None) => {
                return Err(Error::Value(
                    "Can not infer total number of classes from empty tensor.".into(),
                ))
            }
            (-1, Some(m)) => m + 1,
            (n, Some(m)) if m >= n => {
                return Err(Error::Value(
                    "Class values must be smaller than num_classes.".into(),
                ))
            }
            (n, _) if n < 0 => {
                return Err(Error::Value(format!(
                    "num_classes should be -1 or non-negative, got {n}"
                )))
            }
            (n, _) => n,
        } as usize;
        let mut out = vec![0i64; values.len() * classes];
        for (row, &v) in values.iter().enumerate() {
            out[row * classes + v as usize] = 1;
        }
        let mut shape = self.shape().to_vec();
        shape.push(classes);
        Ok(Tensor::from_vec(out, &shape[..]).to(self.device()))
    }

    /// Rows `rows` of a uint8 `[N, H, W]` tensor (no autograd): as uint8, or
    /// with `steps` as float32 through `(v - sub) / div` per step, in one pass
    /// (what a DataLoader's batch of ToTensor/Normalize images is). The rows
    /// must be in range.
    pub(crate) fn pixel_rows(&self, rows: &[usize], steps: &[(f32, f32)]) -> Tensor {
        let x = autograd::no_grad(|| self.contiguous());
        let mut shape = x.shape().to_vec();
        shape[0] = rows.len();
        let buf = x.with_view(|v| backend(x.device()).pixel_rows(v, rows, steps));
        Tensor::from_buffer_on(buf, &shape, x.device())
    }

    /// Joins tensors along an existing dimension (`torch.cat`).
    ///
    /// ```
    /// use kindling::Tensor;
    /// let t = Tensor::cat(&[Tensor::zeros([2, 3]), Tensor::ones([1, 3])], 0);
    /// assert_eq!(t.shape(), &[3, 3]);
    /// ```
    #[track_caller]
    pub fn cat(tensors: &[Tensor], dim: isize) -> Tensor {
        or_panic!(Tensor::try_cat(tensors, dim))
    }

    /// Fallible [`Tensor::cat`].
    pub fn try_cat(tensors: &[Tensor], dim: isize) -> Result<Tensor> {
        let first = tensors
            .first()
            .ok_or_else(|| shape_err("torch.cat(): expected a non-empty list of Tensors"))?;
        if first.dim() == 0 {
            return Err(shape_err(
                "zero-dimensional tensor (at position 0) cannot be concatenated",
            ));
        }
        let d = wrap_dim(dim, first.dim())?;
        let mut dtype = first.dtype();
        let mut total = 0;
        for (i, t) in tensors.iter().enumerate() {
            let same_rest = t.dim() == first.dim()
                && (0..t.dim()).all(|k| k == d || t.shape()[k] == first.shape()[k]);
            if !same_rest {
                return Err(shape_err(format!(
                    "Sizes of tensors must match except in dimension {d}. Expected {:?} but got {:?} for tensor number {i} in the list.",
                    first.shape(),
                    t.shape()
                )));
            }
            dtype = result_type(dtype, 1, t.dtype(), 1);
            total += t.shape()[d];
        }
        let mut shape = first.shape().to_vec();
        shape[d] = total;
        let device = device_of(&tensors.iter().collect::<Vec<_>>())?;
        // Each part converted (a copy only where its dtype differs) and locked
        // in turn; a storage that appears twice is locked once.
        let parts: Vec<Tensor> =
            autograd::no_grad(|| tensors.iter().map(|t| t.to_dtype(dtype)).collect());
        let mut guards = Vec::with_capacity(parts.len());
        let mut owners: Vec<usize> = Vec::with_capacity(parts.len());
        for (i, p) in parts.iter().enumerate() {
            match parts[..i].iter().position(|q| q.shares_storage(p)) {
                Some(j) => owners.push(owners[j]),
                None => {
                    owners.push(guards.len());
                    guards.push(p.inner.storage.read());
                }
            }
        }
        let views: Vec<View> = parts
            .iter()
            .zip(&owners)
            .map(|(p, &g)| View {
                buf: &guards[g],
                layout: p.layout(),
            })
            .collect();
        let buf = backend(device).cat(&views, d, &shape);
        drop(views);
        drop(guards);
        let out = Tensor::from_buffer_on(buf, &shape, device);
        let refs: Vec<&Tensor> = tensors.iter().collect();
        Ok(Tensor::record(out, &refs, || CatBackward0 {
            xs: tensors.to_vec(),
            dim: d,
        }))
    }

    /// Joins tensors of one shape along a new dimension (`torch.stack`).
    #[track_caller]
    pub fn stack(tensors: &[Tensor], dim: isize) -> Tensor {
        or_panic!(Tensor::try_stack(tensors, dim))
    }

    /// Fallible [`Tensor::stack`].
    pub fn try_stack(tensors: &[Tensor], dim: isize) -> Result<Tensor> {
        let first = tensors
            .first()
            .ok_or_else(|| shape_err("stack expects a non-empty TensorList"))?;
        let d = wrap_dim(dim, first.dim() + 1)?;
        for (i, t) in tensors.iter().enumerate() {
            if t.shape() != first.shape() {
                return Err(shape_err(format!(
                    "stack expects each tensor to be equal size, but got {:?} at entry 0 and {:?} at entry {i}",
                    first.shape(),
                    t.shape()
                )));
            }
        }
        let out = autograd::no_grad(|| {
            let parts: Vec<Tensor> = tensors.iter().map(|t| t.unsqueeze(d as isize)).collect();
            Tensor::try_cat(&parts, d as isize)
        })?;
        let refs: Vec<&Tensor> = tensors.iter().collect();
        Ok(Tensor::record(out, &refs, || StackBackward0 {
            xs: tensors.to_vec(),
            dim: d,
        }))
    }
}

// ----- gradients ----------------------------------------------------------------------

grad_fn! {
    /// The selected rows' gradients are added back at their indices.
    IndexSelectBackward0 { x: Tensor, dim: usize, index: Tensor }
    inputs [x];
    backward(n, g, acc) {
        acc.add(&n.x, || zeros_like_grad(&n.x, g).index_add(n.dim, &n.index, g))
    }
}

grad_fn! {
    /// The gathered elements' gradients are scattered back to where they came from.
    GatherBackward0 { x: Tensor, dim: usize, index: Tensor }
    inputs [x];
    backward(n, g, acc) {
        acc.add(&n.x, || {
            zeros_like_grad(&n.x, g).scatter_add(n.dim as isize, &n.index, &g.contiguous())
        })
    }
}

/// The gradient of a scatter's source: gathered from where each element went,
/// zero where the source is larger than the index.
fn source_grad(g: &Tensor, dim: usize, index: &Tensor, src: &Tensor) -> Tensor {
    let picked = g.gather(dim as isize, index);
    if picked.shape() == src.shape() {
        return picked;
    }
    let z = zeros_like_grad(src, g);
    let mut view = z.clone();
    for (d, &len) in index.shape().iter().enumerate() {
        view = view.narrow(d as isize, 0, len);
    }
    view.copy_(&picked);
    z
}

grad_fn! {
    /// `x` passes the gradient through; `src` gathers it from where it was added.
    ScatterAddBackward0 { x: Tensor, dim: usize, index: Tensor, src: Tensor }
    inputs [x, src];
    backward(n, g, acc) {
        acc.add(&n.x, || g.clone());
        acc.add(&n.src, || source_grad(g, n.dim, &n.index, &n.src));
    }
}

/// `x` with `src`'s elements (or a value) written at `picks` along `dim`: the
/// index tensor (shape `index_shape`) says where each position's element goes.
fn scatter_copy(
    x: &Tensor,
    dim: usize,
    picks: &[usize],
    index_shape: &[usize],
    src: Operand<'_>,
) -> Tensor {
    let shape = x.shape().to_vec();
    let strides = crate::tensor::layout::Layout::contiguous(&shape).strides;
    let buf = with_dtype!(x.dtype(), T => {
        let mut out = x.contiguous_vec::<T>();
        let values: Vec<T> = match src {
            Operand::Tensor(s) => {
                let mut part = s.clone();
                for (k, &len) in index_shape.iter().enumerate() {
                    part = part.narrow(k as isize, 0, len);
                }
                part.contiguous_vec::<T>()
            }
            Operand::Scalar(v) => vec![T::from_scalar(v); picks.len()],
        };
        let mut coords = vec![0usize; index_shape.len()];
        for (p, &to) in picks.iter().enumerate() {
            let mut offset = 0;
            for (k, &c) in coords.iter().enumerate() {
                offset += if k == dim { to } else { c } * strides.get(k).copied().unwrap_or(1);
            }
            out[offset] = values[p];
            for k in (0..coords.len()).rev() {
                coords[k] += 1;
                if coords[k] < index_shape[k] {
                    break;
                }
                coords[k] = 0;
            }
        }
        T::into_buffer(out)
    });
    Tensor::from_buffer_on(buf, &shape, x.device())
}

grad_fn! {
    /// The overwritten positions pass no gradient to `x`; `src` gathers it
    /// from where it was written.
    ScatterBackward0 { x: Tensor, dim: usize, index: Tensor, src: Tensor }
    inputs [x, src];
    backward(n, g, acc) {
        acc.add(&n.x, || g.scatter(n.dim as isize, &n.index, 0.0));
        acc.add(&n.src, || source_grad(g, n.dim, &n.index, &n.src));
    }
}

grad_fn! {
    /// The positions overwritten by the value pass no gradient.
    ScatterBackward1 { x: Tensor, dim: usize, index: Tensor }
    inputs [x];
    backward(n, g, acc) {
        acc.add(&n.x, || g.scatter(n.dim as isize, &n.index, 0.0));
    }
}

grad_fn! {
    /// Each selected element's gradient goes back to its position (summed
    /// over the positions a broadcast `x` was repeated in).
    MaskedSelectBackward0 { x: Tensor, shape: Vec<usize>, positions: Tensor }
    inputs [x];
    backward(n, g, acc) {
        acc.add(&n.x, || {
            let numel = n.shape.iter().product::<usize>();
            let flat = Tensor::full_dtype([numel], 0, g.dtype()).to(g.device());
            flat.index_add(0, &n.positions, g).reshape(&n.shape[..]).sum_to(n.x.shape())
        })
    }
}

/// `torch.cat`: each input gets its slice of the gradient.
pub(crate) struct CatBackward0 {
    xs: Vec<Tensor>,
    dim: usize,
}

impl Node for CatBackward0 {
    fn name(&self) -> &'static str {
        "CatBackward0"
    }
    fn inputs(&self) -> Inputs<'_> {
        self.xs.iter().collect()
    }
    fn backward(&self, g: &Tensor, acc: &mut Sink<'_>) {
        let mut offset = 0;
        for x in &self.xs {
            let len = x.shape()[self.dim];
            acc.add(x, || g.narrow(self.dim as isize, offset, len));
            offset += len;
        }
    }
}

/// `torch.stack`: each input gets its index along the new dimension.
pub(crate) struct StackBackward0 {
    xs: Vec<Tensor>,
    dim: usize,
}

impl Node for StackBackward0 {
    fn name(&self) -> &'static str {
        "StackBackward0"
    }
    fn inputs(&self) -> Inputs<'_> {
        self.xs.iter().collect()
    }
    fn backward(&self, g: &Tensor, acc: &mut Sink<'_>) {
        for (i, x) in self.xs.iter().enumerate() {
            acc.add(x, || g.select(self.dim as isize, i as isize));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scalar_index_scatters_into_a_vector_as_in_pytorch() {
        // The transforms tutorial's one-hot target.
        let one_hot = Tensor::zeros([10]).scatter(0, &Tensor::tensor(3), 1.0);
        assert_eq!(
            one_hot.to_vec::<f32>(),
            [0., 0., 0., 1., 0., 0., 0., 0., 0., 0.]
        );
        let t = Tensor::zeros([4]);
        t.scatter_(0, &Tensor::tensor(1), &Tensor::scalar(2.5f32));
        assert_eq!(t.to_vec::<f32>(), [0.0, 2.5, 0.0, 0.0]);
    }
    use crate::ops::golden::{goldens, gradchecks};

    goldens! { "index";
        index_select => |x, _| x[0].index_select(0, &x[1]),
        gather => |x, _| x[0].gather(1, &x[1]),
        scatter_add => |x, _| x[0].scatter_add(1, &x[1], &x[2]),
        cat => |x, _| Tensor::cat(&[x[0].clone(), x[1].clone()], 0),
        cat_dim1 => |x, _| Tensor::cat(&[x[0].clone(), x[1].clone()], 1),
        stack => |x, _| Tensor::stack(&[x[0].clone(), x[1].clone()], 1),
        scatter_src => |x, _| x[0].scatter(1, &x[1], &x[2]),
        scatter_src_dim0 => |x, _| x[0].scatter(0, &x[1], &x[2]),
        scatter_value => |x, _| x[0].scatter(1, &x[1], 1.5),
        scatter_int_value => |x, _| x[0].scatter(1, &x[1], 7),
        scatter_inplace_one_hot => |x, _| {
            let t = x[0].clone_tensor();
            t.scatter_(1, &x[1], 1.0);
            t
        },
        masked_select => |x, _| x[0].masked_select(&x[1]),
        masked_select_broadcast_x => |x, _| x[0].masked_select(&x[1]),
        masked_select_int => |x, _| x[0].masked_select(&x[1]),
        nonzero => |x, _| x[0].nonzero(),
        nonzero_bool => |x, _| x[0].nonzero(),
        nonzero_float => |x, _| x[0].nonzero(),
        one_hot => |x, a| x[0].one_hot(a["num_classes"].as_i64().unwrap()),
        one_hot_infer => |x, a| x[0].one_hot(a["num_classes"].as_i64().unwrap()),
    }

    gradchecks! {
        index_select_repeats: [randn(&[5, 3], 1)] => |x| x[0].index_select(0, &Tensor::from_slice(&[4i64, 0, 4]).to(x[0].device()));
        gather: [randn(&[3, 4], 1)] => |x| x[0].gather(1, &Tensor::from_vec(vec![0i64, 3, 1, 1, 2, 0], [3, 2]).to(x[0].device()));
        scatter_add: [randn(&[3, 4], 1), randn(&[3, 3], 2)] => |x| x[0].scatter_add(1, &Tensor::from_vec(vec![0i64, 3, 1, 1, 2, 0], [3, 2]).to(x[0].device()), &x[1]);
        cat: [randn(&[2, 3], 1), randn(&[2, 1], 2)] => |x| Tensor::cat(&[x[0].clone(), x[1].clone()], 1);
        stack: [randn(&[2, 3], 1), randn(&[2, 3], 2)] => |x| Tensor::stack(&[x[0].clone(), x[1].clone()], 0);
        scatter_src: [randn(&[3, 4], 1), randn(&[3, 3], 2)] => |x| x[0].scatter(1, &Tensor::from_vec(vec![0i64, 3, 1, 2, 2, 0], [3, 2]).to(x[0].device()), &x[1]);
        scatter_value: [randn(&[3, 4], 1)] => |x| x[0].scatter(0, &Tensor::from_vec(vec![2i64, 0, 1], [1, 3]).to(x[0].device()), -1.0);
        masked_select_broadcast: [randn(&[3], 1)] => |x| x[0].masked_select(&Tensor::from_vec(vec![true, false, true, true, true, false], [2, 3]).to(x[0].device()));
    }

    #[test]
    fn scatter_and_one_hot_errors_are_pytorchs() {
        let x = Tensor::zeros([2, 3]);
        let idx = Tensor::from_vec(vec![0i64, 1], [2, 1]);
        let ints = Tensor::from_vec(vec![1i64, 2], [2, 1]);
        assert_eq!(
            x.try_scatter(1, &idx, &ints).unwrap_err().to_string(),
            "scatter(): Expected self.dtype to be equal to src.dtype, but got Float and Long"
        );
        assert!(x
            .try_scatter(1, &Tensor::from_vec(vec![3i64, 0], [2, 1]), 1.0)
            .is_err());
        let labels = Tensor::from_slice(&[0i64, 5]);
        assert_eq!(
            labels.try_one_hot(3).unwrap_err().to_string(),
            "Class values must be smaller than num_classes."
        );
        assert_eq!(
            Tensor::from_slice(&[-1i64])
                .try_one_hot(3)
                .unwrap_err()
                .to_string(),
            "Class values must be non-negative."
        );
        assert_eq!(
            Tensor::from_slice(&[1.0f32])
                .try_one_hot(3)
                .unwrap_err()
                .to_string(),
            "one_hot is only applicable to index tensor of type LongTensor."
        );
        assert!(x.try_masked_select(&idx).is_err());
    }

    #[test]
    fn gather_scatter_round_trip() {
        let x = Tensor::arange(12).reshape([3, 4]);
        let idx = Tensor::from_vec(vec![3i64, 0, 1, 1, 2, 2], [3, 2]);
        let g = x.gather(1, &idx);
        assert_eq!(g.to_vec::<i64>(), vec![3, 0, 5, 5, 10, 10]);
        let s = Tensor::zeros([3, 4])
            .to_dtype(DType::I64)
            .scatter_add(1, &idx, &g);
        assert_eq!(
            s.to_vec::<i64>(),
            vec![0, 0, 0, 3, 0, 10, 0, 0, 0, 0, 20, 0]
        );
        let bad = Tensor::from_vec(vec![4i64], [1, 1]);
        assert_eq!(
            x.try_gather(1, &bad).unwrap_err().to_string(),
            "index 4 is out of bounds for dimension 1 with size 4"
        );
    }

    #[test]
    fn cat_and_stack() {
        let a = Tensor::arange(4).reshape([2, 2]);
        let b = Tensor::arange(2).reshape([2, 1]);
        assert_eq!(
            Tensor::cat(&[a.clone(), b], 1).to_vec::<i64>(),
            vec![0, 1, 0, 2, 3, 1]
        );
        let s = Tensor::stack(&[a.clone(), a.clone()], 1);
        assert_eq!(s.shape(), &[2, 2, 2]);
        assert_eq!(s.to_vec::<i64>(), vec![0, 1, 0, 1, 2, 3, 2, 3]);
        assert!(Tensor::try_cat(&[a.clone(), Tensor::zeros([3, 3])], 0).is_err());
        assert_eq!(
            a.index_add(0, &Tensor::from_slice(&[1i64, 1]), &Tensor::ones_like(&a))
                .to_vec::<i64>(),
            vec![0, 1, 4, 5]
        );
    }
}
