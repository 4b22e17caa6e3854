//! Views and shape changes: `reshape`, `view`, `flatten`, `squeeze`, `unsqueeze`,
//! `permute`, `transpose`, `t`, `narrow`, `slice`, `select`, `expand`. Views share
//! storage and cost no copy; gradients flow back through each.

use std::ops::{Bound, RangeBounds};

use crate::autograd::{grad_fn, node, zeros_like_grad};
use crate::error::{or_panic, shape_err, Error, Result};
use crate::ops::elementwise::Operand;
use crate::tensor::layout::{view_strides, wrap_dim};
use crate::tensor::{Dims, Layout, ShapeArg, Tensor};

/// Resolves one `-1` in a requested shape against `numel`.
fn infer_shape(sizes: &[isize], numel: usize) -> Result<Dims> {
    let err = || Error::Reshape {
        shape: sizes.to_vec(),
        numel,
    };
    let mut infer = None;
    let mut known = 1usize;
    for (i, &d) in sizes.iter().enumerate() {
        match d {
            -1 if infer.is_none() => infer = Some(i),
            -1 => return Err(Error::Shape("only one dimension can be inferred".into())),
            d if d < 0 => return Err(Error::Shape(format!("invalid shape dimension {d}"))),
            d => known *= d as usize,
        }
    }
    let mut shape: Dims = sizes.iter().map(|&d| d.max(0) as usize).collect();
    match infer {
        Some(i) => {
            if known == 0 || !numel.is_multiple_of(known) {
                return Err(err());
            }
            shape[i] = numel / known;
        }
        None if known != numel => return Err(err()),
        None => {}
    }
    Ok(shape)
}

/// `...` in an index: as many full slices as the other entries leave
/// dimensions (`t.i((Ellipsis, -1))` is `t[..., -1]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ellipsis;

/// `None` in an index: a new dimension of size 1 (`t.i((NewAxis, ..))` is
/// `t[None, :]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewAxis;

/// One entry of an index, what Python writes between the commas of `t[...]`.
#[derive(Clone, Debug)]
pub enum TensorIndex {
    /// An integer (negative counts from the end): the dimension goes.
    Select(isize),
    /// A range `start..end` (negative bounds count from the end, bounds past
    /// the end are clamped): the dimension stays, as a view.
    Slice(isize, isize),
    /// `...`
    Ellipsis,
    /// `None`
    NewAxis,
    /// A bool mask over the next `mask.dim()` dimensions, or an int64 tensor of
    /// indices into the next one: a copy (grad_fn `IndexBackward0`).
    Tensor(Tensor),
}

/// What can stand between the commas of an index: integers, ranges over
/// `isize`, `i32` or `usize` (`..`, `..3`, `-2..`), [`Ellipsis`], [`NewAxis`],
/// and tensors (`&mask`, `&indices`).
pub trait IndexItem {
    /// The entry this is.
    fn to_index(&self) -> TensorIndex;
}

macro_rules! int_index {
    ($($t:ty),*) => {$(
        impl IndexItem for $t {
            fn to_index(&self) -> TensorIndex {
                TensorIndex::Select(*self as isize)
            }
        }
    )*};
}
int_index!(isize, i32, i64, usize);

macro_rules! range_index {
    ($($r:ty),*) => {$(
        impl IndexItem for $r {
            fn to_index(&self) -> TensorIndex {
                let start = match self.start_bound() {
                    Bound::Included(&s) => s as isize,
                    Bound::Excluded(&s) => s as isize + 1,
                    Bound::Unbounded => 0,
                };
                let end = match self.end_bound() {
                    Bound::Included(&e) if e as isize == -1 => isize::MAX,
                    Bound::Included(&e) => e as isize + 1,
                    Bound::Excluded(&e) => e as isize,
                    Bound::Unbounded => isize::MAX,
                };
                TensorIndex::Slice(start, end)
            }
        }
    )*};
}
range_index!(
    std::ops::Range<usize>,
    std::ops::RangeTo<usize>,
    std::ops::RangeFrom<usize>,
    std::ops::RangeInclusive<usize>,
    std::ops::Range<isize>,
    std::ops::RangeTo<isize>,
    std::ops::RangeFrom<isize>,
    std::ops::RangeInclusive<isize>,
    std::ops::Range<i32>,
    std::ops::RangeTo<i32>,
    std::ops::RangeFrom<i32>,
    std::ops::RangeInclusive<i32>
);

impl IndexItem for std::ops::RangeFull {
    fn to_index(&self) -> TensorIndex {
        TensorIndex::Slice(0, isize::MAX)
    }
}

impl IndexItem for Ellipsis {
    fn to_index(&self) -> TensorIndex {
        TensorIndex::Ellipsis
    }
}

impl IndexItem for NewAxis {
    fn to_index(&self) -> TensorIndex {
        TensorIndex::NewAxis
    }
}

impl IndexItem for &Tensor {
    fn to_index(&self) -> TensorIndex {
        TensorIndex::Tensor((*self).clone())
    }
}

impl IndexItem for Tensor {
    fn to_index(&self) -> TensorIndex {
        TensorIndex::Tensor(self.clone())
    }
}

impl IndexItem for TensorIndex {
    fn to_index(&self) -> TensorIndex {
        self.clone()
    }
}

/// A whole index for [`Tensor::i`]: one [`IndexItem`] (`t.i(13)` is `t[13]`)
/// or a tuple of up to six (`t.i((.., 0))` is `t[:, 0]`).
pub trait IndexArg {
    /// The entries, in order.
    fn items(&self) -> Vec<TensorIndex>;
}

impl<T: IndexItem> IndexArg for T {
    fn items(&self) -> Vec<TensorIndex> {
        vec![self.to_index()]
    }
}

macro_rules! tuple_index {
    ($(($($name:ident),+)),*) => {$(
        impl<$($name: IndexItem),+> IndexArg for ($($name,)+) {
            #[allow(non_snake_case)]
            fn items(&self) -> Vec<TensorIndex> {
                let ($($name,)+) = self;
                vec![$($name.to_index()),+]
            }
        }
    )*};
}
tuple_index!(
    (A),
    (A, B),
    (A, B, C),
    (A, B, C, D),
    (A, B, C, D, E),
    (A, B, C, D, E, F)
);

impl Tensor {
    /// Python-style indexing, `t[...]`: `t.i(13)` is `t[13]`, `t.i(..13)` is
    /// `t[:13]`, `t.i((.., 0))` is `t[:, 0]`, `t.i((Ellipsis, -1))` is
    /// `t[..., -1]`, `t.i(&mask)` is `t[mask]`. Integers and ranges give views
    /// (writing into them with `fill_`/`copy_` writes into `t`, as assigning
    /// does in Python); a tensor entry gives a copy. One tensor entry per index.
    ///
    /// ```
    /// use kindling::{Ellipsis, Tensor};
    /// let t = Tensor::arange(6).reshape([2, 3]);
    /// assert_eq!(t.i(1).to_vec::<i64>(), [3, 4, 5]);
    /// assert_eq!(t.i((.., 0)).to_vec::<i64>(), [0, 3]);
    /// assert_eq!(t.i((Ellipsis, -1)).to_vec::<i64>(), [2, 5]);
    /// assert_eq!(t.i((-1, 1..)).to_vec::<i64>(), [4, 5]);
    /// assert_eq!(t.i(&t.gt_scalar(3)).to_vec::<i64>(), [4, 5]);
    /// t.i((.., 1)).fill_(0); // t[:, 1] = 0
    /// assert_eq!(t.to_vec::<i64>(), [0, 0, 2, 3, 0, 5]);
    /// ```
    #[track_caller]
    pub fn i(&self, index: impl IndexArg) -> Tensor {
        or_panic!(self.try_i(index))
    }

    /// Fallible [`Tensor::i`]: PyTorch's words for too many indices and
    /// out-of-range ones.
    pub fn try_i(&self, index: impl IndexArg) -> Result<Tensor> {
        let (view, advanced) = self.basic_index(&index.items())?;
        match advanced {
            None => Ok(view),
            Some((dim, t)) => view.advanced_index(dim, &t),
        }
    }

    /// `t[index] = value` (PyTorch's `__setitem__`): `value` is a number or a
    /// tensor broadcast to the indexed part's shape.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let t = Tensor::zeros([2, 3]);
    /// t.index_put_((.., 1), 5.0); // t[:, 1] = 5
    /// t.index_put_(&t.eq_scalar(0), -1.0); // t[t == 0] = -1
    /// assert_eq!(t.to_vec::<f32>(), [-1.0, 5.0, -1.0, -1.0, 5.0, -1.0]);
    /// ```
    #[track_caller]
    pub fn index_put_<'a>(&self, index: impl IndexArg, value: impl Into<Operand<'a>>) -> Tensor {
        or_panic!(self.try_index_put_(index, value));
        self.clone()
    }

    /// Fallible [`Tensor::index_put_`].
    pub fn try_index_put_<'a>(
        &self,
        index: impl IndexArg,
        value: impl Into<Operand<'a>>,
    ) -> Result<()> {
        let value = value.into();
        let (view, advanced) = crate::no_grad(|| self.basic_index(&index.items()))?;
        let Some((dim, t)) = advanced else {
            return match value {
                Operand::Tensor(v) => view.try_copy_(v),
                Operand::Scalar(s) => view.try_fill_(s),
            };
        };
        let (positions, span, _) = view.index_positions(dim, &t)?;
        // Each selected sub-tensor of `view` is a view too: write into it.
        let covered = &view.shape()[dim..dim + span];
        // Tensor values, broadcast to the result's shape, one pick per row of `dim`.
        let values = match value {
            Operand::Tensor(v) => {
                let shape = crate::no_grad(|| view.advanced_index(dim, &t))?
                    .shape()
                    .to_vec();
                let mut rows = view.shape()[..dim].to_vec();
                rows.push(positions.len());
                rows.extend_from_slice(&view.shape()[dim + span..]);
                Some(crate::no_grad(|| {
                    v.try_expand(&shape[..]).map(|v| v.reshape(&rows[..]))
                })?)
            }
            Operand::Scalar(_) => None,
        };
        for (k, &p) in positions.iter().enumerate() {
            let mut part = view.clone();
            let mut rest = p as usize;
            let mut coords = vec![0usize; span];
            for j in (0..span).rev() {
                coords[j] = rest % covered[j];
                rest /= covered[j];
            }
            for &c in &coords {
                part = part.try_select(dim as isize, c as isize)?;
            }
            match (&values, value) {
                (Some(v), _) => part.try_copy_(&v.select(dim as isize, k as isize))?,
                (None, Operand::Scalar(s)) => part.try_fill_(s)?,
                (None, Operand::Tensor(_)) => unreachable!("tensor values are expanded above"),
            }
        }
        Ok(())
    }

    /// Applies the integer, range, `...` and `None` entries of an index as
    /// views; returns the view and, when the index has a tensor entry, the
    /// dimension of the view where it applies and the tensor.
    fn basic_index(&self, items: &[TensorIndex]) -> Result<(Tensor, Option<(usize, Tensor)>)> {
        let consumed: usize = items
            .iter()
            .map(|it| match it {
                TensorIndex::Select(_) | TensorIndex::Slice(..) => 1,
                TensorIndex::Tensor(t) if t.dtype() == crate::DType::Bool => t.dim(),
                TensorIndex::Tensor(_) => 1,
                TensorIndex::Ellipsis | TensorIndex::NewAxis => 0,
            })
            .sum();
        if items
            .iter()
            .filter(|it| matches!(it, TensorIndex::Ellipsis))
            .count()
            > 1
        {
            return Err(Error::Index(
                "an index can only have a single ellipsis ('...')".into(),
            ));
        }
        if consumed > self.dim() {
            return Err(Error::Index(format!(
                "too many indices for tensor of dimension {}",
                self.dim()
            )));
        }
        let mut t = self.clone();
        let mut dim = 0usize;
        let mut advanced: Option<(usize, Tensor)> = None;
        for it in items {
            match it {
                TensorIndex::Select(i) => t = t.try_select(dim as isize, *i)?,
                TensorIndex::Slice(start, end) => {
                    // A full slice is no op at all, as in PyTorch.
                    if !(*start == 0 && *end == isize::MAX) || items.len() == 1 {
                        t = t.try_slice(dim as isize, *start, *end, 1)?;
                    }
                    dim += 1;
                }
                TensorIndex::Ellipsis => dim += self.dim() - consumed,
                TensorIndex::NewAxis => {
                    t = t.try_unsqueeze(dim as isize)?;
                    dim += 1;
                }
                TensorIndex::Tensor(x) => {
                    if advanced.is_some() {
                        return Err(Error::Index(
                            "kindling takes one tensor per index; index twice instead".into(),
                        ));
                    }
                    advanced = Some((dim, x.clone()));
                    dim += if x.dtype() == crate::DType::Bool {
                        x.dim()
                    } else {
                        1
                    };
                }
            }
        }
        if t.is_same(self) && advanced.is_none() {
            // Nothing applied (`t[:, :]`, `t[...]`): PyTorch returns an alias.
            t = self.view_as_shape(self.shape().into(), self.stride().into(), "AliasBackward0");
        }
        Ok((t, advanced))
    }

    /// For a tensor entry at `dim`: the flat positions it picks in the
    /// dimensions it covers, how many dimensions it covers, and the shape the
    /// picks take in the result.
    fn index_positions(&self, dim: usize, index: &Tensor) -> Result<(Vec<i64>, usize, Vec<usize>)> {
        match index.dtype() {
            crate::DType::Bool => {
                let span = index.dim();
                let covered = &self.shape()[dim..dim + span];
                if index.shape() != covered {
                    return Err(Error::Index(format!(
                        "The shape of the mask {:?} at index {dim} does not match the shape of the indexed tensor {:?} at index {dim}",
                        index.shape(),
                        self.shape()
                    )));
                }
                let positions: Vec<i64> = index
                    .contiguous_vec::<bool>()
                    .iter()
                    .enumerate()
                    .filter(|(_, &m)| m)
                    .map(|(i, _)| i as i64)
                    .collect();
                let n = positions.len();
                Ok((positions, span, vec![n]))
            }
            crate::DType::I64 => {
                let size = self.shape()[dim] as i64;
                let positions = index
                    .contiguous_vec::<i64>()
                    .iter()
                    .map(|&i| {
                        let j = if i < 0 { i + size } else { i };
                        if j < 0 || j >= size {
                            return Err(Error::Index(format!(
                                "index {i} is out of bounds for dimension {dim} with size {size}"
                            )));
                        }
                        Ok(j)
                    })
                    .collect::<Result<Vec<i64>>>()?;
                Ok((positions, 1, index.shape().to_vec()))
            }
            other => Err(Error::Index(format!(
                "tensors used as indices must be long, int, byte or bool tensors, not {}",
                other.scalar_type_name()
            ))),
        }
    }

    /// `self[..., index, ...]` with a tensor at `dim`: a copy whose grad_fn
    /// is `IndexBackward0`.
    fn advanced_index(&self, dim: usize, index: &Tensor) -> Result<Tensor> {
        let (positions, span, picked) = self.index_positions(dim, index)?;
        let shape = self.shape();
        let mut merged = shape[..dim].to_vec();
        merged.push(shape[dim..dim + span].iter().product());
        merged.extend_from_slice(&shape[dim + span..]);
        let mut out_shape = shape[..dim].to_vec();
        out_shape.extend_from_slice(&picked);
        out_shape.extend_from_slice(&shape[dim + span..]);
        let n = positions.len();
        let positions = Tensor::from_vec(positions, [n]).to(self.device());
        let out = crate::no_grad(|| {
            self.reshape(&merged[..])
                .index_select(dim as isize, &positions)
                .reshape(&out_shape[..])
        });
        Ok(Tensor::record(out, &[self], || IndexBackward0 {
            x: self.clone(),
            dim,
            merged,
            positions,
        }))
    }

    /// The same elements with another shape; a view when the strides allow it,
    /// otherwise a copy. One size may be `-1`.
    #[track_caller]
    pub fn reshape(&self, shape: impl ShapeArg) -> Tensor {
        or_panic!(self.try_reshape(shape))
    }

    /// Fallible [`Tensor::reshape`].
    pub fn try_reshape(&self, shape: impl ShapeArg) -> Result<Tensor> {
        let shape = infer_shape(&shape.to_sizes(), self.numel())?;
        match view_strides(self.layout(), &shape) {
            Some(strides) => Ok(self.view_as_shape(shape, strides, "ViewBackward0")),
            None => {
                let copy = crate::autograd::no_grad(|| self.contiguous());
                let out = Tensor::from_parts(
                    copy.inner.storage.clone(),
                    Layout::contiguous(&shape),
                    self.dtype(),
                    None,
                );
                Ok(Tensor::record(out, &[self], || ReshapeBackward {
                    x: self.clone(),
                    name: "UnsafeViewBackward0",
                }))
            }
        }
    }

    /// A view with another shape; fails when the strides do not allow one.
    #[track_caller]
    pub fn view(&self, shape: impl ShapeArg) -> Tensor {
        or_panic!(self.try_view(shape))
    }

    /// Fallible [`Tensor::view`].
    pub fn try_view(&self, shape: impl ShapeArg) -> Result<Tensor> {
        let shape = infer_shape(&shape.to_sizes(), self.numel())?;
        let strides = view_strides(self.layout(), &shape).ok_or_else(|| {
            shape_err("view size is not compatible with input tensor's size and stride (at least one dimension spans across two contiguous subspaces). Use .reshape(...) instead.")
        })?;
        Ok(self.view_as_shape(shape, strides, "ViewBackward0"))
    }

    /// A view of a contiguous tensor with `shape`, recorded under `name` (PyTorch
    /// records some internal reshapes as `UnsafeViewBackward0`).
    pub(crate) fn view_named(&self, shape: &[usize], name: &'static str) -> Tensor {
        let strides =
            view_strides(self.layout(), shape).expect("view_named needs a viewable shape");
        self.view_as_shape(shape.into(), strides, name)
    }

    fn view_as_shape(&self, shape: Dims, strides: Dims, name: &'static str) -> Tensor {
        let layout = Layout {
            shape,
            strides,
            offset: self.layout().offset,
        };
        self.view_with(
            layout,
            crate::autograd::needs_grad(&[self]).then(|| {
                node(ReshapeBackward {
                    x: self.clone(),
                    name,
                })
            }),
        )
    }

    /// Merges dimensions `start_dim..=end_dim` into one, as `torch.flatten`.
    ///
    /// ```
    /// use kindling::Tensor;
    /// assert_eq!(Tensor::zeros([13, 28, 28]).flatten(1, -1).shape(), &[13, 784]);
    /// ```
    #[track_caller]
    pub fn flatten(&self, start_dim: isize, end_dim: isize) -> Tensor {
        or_panic!(self.try_flatten(start_dim, end_dim))
    }

    /// Fallible [`Tensor::flatten`].
    pub fn try_flatten(&self, start_dim: isize, end_dim: isize) -> Result<Tensor> {
        if self.dim() == 0 {
            return self.try_reshape([1]);
        }
        let (s, e) = (
            wrap_dim(start_dim, self.dim())?,
            wrap_dim(end_dim, self.dim())?,
        );
        if s > e {
            return Err(shape_err(
                "flatten() has invalid args: start_dim cannot come after end_dim",
            ));
        }
        if s == e {
            return Ok(self.clone());
        }
        let shape = self.shape();
        let mut new: Vec<usize> = shape[..s].to_vec();
        new.push(shape[s..=e].iter().product());
        new.extend_from_slice(&shape[e + 1..]);
        self.try_reshape(new)
    }

    /// Removes every dimension of size 1.
    pub fn squeeze(&self) -> Tensor {
        let l = self.layout();
        let keep: Vec<usize> = (0..self.dim()).filter(|&d| l.shape[d] != 1).collect();
        let layout = Layout {
            shape: keep.iter().map(|&d| l.shape[d]).collect(),
            strides: keep.iter().map(|&d| l.strides[d]).collect(),
            offset: l.offset,
        };
        self.view_with(
            layout,
            crate::autograd::needs_grad(&[self]).then(|| {
                node(ReshapeBackward {
                    x: self.clone(),
                    name: "SqueezeBackward0",
                })
            }),
        )
    }

    /// Removes dimension `dim` if its size is 1 (otherwise returns the same shape).
    #[track_caller]
    pub fn squeeze_dim(&self, dim: isize) -> Tensor {
        self.squeeze_dim_named(dim, "SqueezeBackward1")
    }

    /// `squeeze_dim` recorded under `name` (PyTorch's internal squeezes differ).
    #[track_caller]
    pub(crate) fn squeeze_dim_named(&self, dim: isize, name: &'static str) -> Tensor {
        let d = or_panic!(wrap_dim(dim, self.dim()));
        let mut l = self.layout().clone();
        if self.dim() > 0 && self.shape()[d] == 1 {
            l.shape.remove(d);
            l.strides.remove(d);
        }
        self.view_with(
            l,
            crate::autograd::needs_grad(&[self]).then(|| {
                node(ReshapeBackward {
                    x: self.clone(),
                    name,
                })
            }),
        )
    }

    /// Inserts a dimension of size 1 at `dim`.
    #[track_caller]
    pub fn unsqueeze(&self, dim: isize) -> Tensor {
        or_panic!(self.try_unsqueeze(dim))
    }

    /// Fallible [`Tensor::unsqueeze`].
    pub fn try_unsqueeze(&self, dim: isize) -> Result<Tensor> {
        let d = wrap_dim(dim, self.dim() + 1)?;
        let mut l = self.layout().clone();
        let stride = if d < l.ndim() {
            l.strides[d] * l.shape[d]
        } else {
            1
        };
        l.shape.insert(d, 1);
        l.strides.insert(d, stride);
        Ok(self.view_with(
            l,
            crate::autograd::needs_grad(&[self]).then(|| {
                node(ReshapeBackward {
                    x: self.clone(),
                    name: "UnsqueezeBackward0",
                })
            }),
        ))
    }

    /// Reorders dimensions: dimension `i` of the result is `dims[i]` of `self`.
    #[track_caller]
    pub fn permute(&self, dims: &[isize]) -> Tensor {
        or_panic!(self.try_permute(dims))
    }

    /// Fallible [`Tensor::permute`].
    pub fn try_permute(&self, dims: &[isize]) -> Result<Tensor> {
        if dims.len() != self.dim() {
            return Err(shape_err(format!(
                "permute(sparse_coo): number of dimensions in the tensor input does not match the length of the desired ordering of dimensions i.e. input.dim() = {} is not equal to len(dims) = {}",
                self.dim(),
                dims.len()
            )));
        }
        let perm: Vec<usize> = dims
            .iter()
            .map(|&d| wrap_dim(d, self.dim()))
            .collect::<Result<_>>()?;
        let mut seen = vec![false; perm.len()];
        for &p in &perm {
            if std::mem::replace(&mut seen[p], true) {
                return Err(shape_err("permute(): duplicate dims are not allowed."));
            }
        }
        let l = self.layout();
        let layout = Layout {
            shape: perm.iter().map(|&p| l.shape[p]).collect(),
            strides: perm.iter().map(|&p| l.strides[p]).collect(),
            offset: l.offset,
        };
        Ok(self.view_with(
            layout,
            crate::autograd::needs_grad(&[self]).then(|| {
                node(PermuteBackward0 {
                    x: self.clone(),
                    perm,
                })
            }),
        ))
    }

    /// Swaps two dimensions.
    #[track_caller]
    pub fn transpose(&self, dim0: isize, dim1: isize) -> Tensor {
        or_panic!(self.try_transpose(dim0, dim1, "TransposeBackward0"))
    }

    fn try_transpose(&self, dim0: isize, dim1: isize, name: &'static str) -> Result<Tensor> {
        let (a, b) = (wrap_dim(dim0, self.dim())?, wrap_dim(dim1, self.dim())?);
        let mut l = self.layout().clone();
        if self.dim() > 0 {
            l.shape.swap(a, b);
            l.strides.swap(a, b);
        }
        Ok(self.view_with(
            l,
            crate::autograd::needs_grad(&[self]).then(|| {
                node(TransposeBackward {
                    x: self.clone(),
                    a,
                    b,
                    name,
                })
            }),
        ))
    }

    /// Transposes a matrix (tensors of at most 2 dimensions), as `Tensor.t()`.
    ///
    /// # Panics
    /// For more than 2 dimensions.
    #[track_caller]
    pub fn t(&self) -> Tensor {
        if self.dim() > 2 {
            panic!(
                "t() expects a tensor with <= 2 dimensions, but self is {}D",
                self.dim()
            );
        }
        if self.dim() < 2 {
            return self.view_with(
                self.layout().clone(),
                crate::autograd::needs_grad(&[self]).then(|| {
                    node(ReshapeBackward {
                        x: self.clone(),
                        name: "TBackward0",
                    })
                }),
            );
        }
        or_panic!(self.try_transpose(0, 1, "TBackward0"))
    }

    /// Elements `start..start + length` of dimension `dim`, as a view.
    #[track_caller]
    pub fn narrow(&self, dim: isize, start: usize, length: usize) -> Tensor {
        or_panic!(self.try_narrow(dim, start, length))
    }

    /// Fallible [`Tensor::narrow`].
    pub fn try_narrow(&self, dim: isize, start: usize, length: usize) -> Result<Tensor> {
        let d = wrap_dim(dim, self.dim())?;
        if start + length > self.shape()[d] {
            return Err(shape_err(format!(
                "start ({start}) + length ({length}) exceeds dimension size ({}).",
                self.shape()[d]
            )));
        }
        self.try_slice(dim, start as isize, (start + length) as isize, 1)
    }

    /// Python slicing `t[start:end:step]` along `dim`, as a view. Negative bounds
    /// count from the end; out-of-range bounds are clamped, as in Python.
    #[track_caller]
    pub fn slice(&self, dim: isize, start: isize, end: isize, step: usize) -> Tensor {
        or_panic!(self.try_slice(dim, start, end, step))
    }

    /// Fallible [`Tensor::slice`].
    pub fn try_slice(&self, dim: isize, start: isize, end: isize, step: usize) -> Result<Tensor> {
        if self.dim() == 0 {
            return Err(shape_err("slice() cannot be applied to a 0-dim tensor."));
        }
        if step == 0 {
            return Err(Error::Value("slice step must be positive".into()));
        }
        let d = wrap_dim(dim, self.dim())?;
        let size = self.shape()[d] as isize;
        let clamp = |i: isize| {
            if i < 0 {
                (i + size).max(0)
            } else {
                i.min(size)
            }
        };
        let (s, e) = (clamp(start), clamp(end).max(clamp(start)));
        let len = ((e - s) as usize).div_ceil(step);
        let mut l = self.layout().clone();
        l.offset += s as usize * l.strides[d];
        l.shape[d] = len;
        l.strides[d] *= step;
        let s = s as usize;
        Ok(self.view_with(
            l,
            crate::autograd::needs_grad(&[self]).then(|| {
                node(SliceBackward0 {
                    x: self.clone(),
                    dim: d,
                    start: s,
                    step,
                })
            }),
        ))
    }

    /// The sub-tensor at `index` along `dim`, with that dimension removed (`t[i]`).
    #[track_caller]
    pub fn select(&self, dim: isize, index: isize) -> Tensor {
        or_panic!(self.try_select(dim, index))
    }

    /// Fallible [`Tensor::select`].
    pub fn try_select(&self, dim: isize, index: isize) -> Result<Tensor> {
        if self.dim() == 0 {
            return Err(shape_err("select() cannot be applied to a 0-dim tensor."));
        }
        let d = wrap_dim(dim, self.dim())?;
        let size = self.shape()[d];
        let i = if index < 0 {
            index + size as isize
        } else {
            index
        };
        if i < 0 || i as usize >= size {
            return Err(Error::IndexOutOfRange {
                index: index as i64,
                dim: d,
                size,
            });
        }
        let mut l = self.layout().clone();
        l.offset += i as usize * l.strides[d];
        l.shape.remove(d);
        l.strides.remove(d);
        let i = i as usize;
        Ok(self.view_with(
            l,
            crate::autograd::needs_grad(&[self]).then(|| {
                node(SelectBackward0 {
                    x: self.clone(),
                    dim: d,
                    index: i,
                })
            }),
        ))
    }

    /// A view repeating size-1 dimensions (and new leading ones) to `shape`;
    /// `-1` keeps a size.
    #[track_caller]
    pub fn expand(&self, shape: impl ShapeArg) -> Tensor {
        or_panic!(self.try_expand(shape))
    }

    /// Fallible [`Tensor::expand`].
    pub fn try_expand(&self, shape: impl ShapeArg) -> Result<Tensor> {
        let sizes = shape.to_sizes();
        if sizes.len() < self.dim() {
            return Err(shape_err(format!(
                "expand: the number of sizes provided ({}) must be greater or equal to the number of dimensions in the tensor ({})",
                sizes.len(),
                self.dim()
            )));
        }
        let extra = sizes.len() - self.dim();
        let mut target = Dims::new();
        for (i, &s) in sizes.iter().enumerate() {
            let current = if i >= extra {
                Some(self.shape()[i - extra])
            } else {
                None
            };
            target.push(match (s, current) {
                (-1, Some(c)) => c,
                (s, _) if s < 0 => return Err(shape_err(format!("expand: invalid size {s}"))),
                (s, Some(c)) if c != 1 && c != s as usize => {
                    return Err(shape_err(format!(
                        "The expanded size of the tensor ({s}) must match the existing size ({c}) at non-singleton dimension {i}.  Target sizes: {sizes:?}.  Tensor sizes: {:?}",
                        self.shape()
                    )))
                }
                (s, _) => s as usize,
            });
        }
        let strides = self.layout().broadcast_strides(&target);
        let layout = Layout {
            shape: target,
            strides,
            offset: self.layout().offset,
        };
        Ok(self.view_with(
            layout,
            crate::autograd::needs_grad(&[self]).then(|| node(ExpandBackward0 { x: self.clone() })),
        ))
    }

    /// A copy with the order of elements reversed along each of `dims`
    /// (`torch.flip`; a copy, as in PyTorch, not a view).
    ///
    /// ```
    /// use kindling::Tensor;
    /// let t = Tensor::arange(6).reshape([2, 3]);
    /// assert_eq!(t.flip(&[1]).to_vec::<i64>(), vec![2, 1, 0, 5, 4, 3]);
    /// ```
    #[track_caller]
    pub fn flip(&self, dims: &[isize]) -> Tensor {
        or_panic!(self.try_flip(dims))
    }

    /// Fallible [`Tensor::flip`].
    pub fn try_flip(&self, dims: &[isize]) -> Result<Tensor> {
        let mut ds = Vec::with_capacity(dims.len());
        for &d in dims {
            let d = wrap_dim(d, self.dim())?;
            if ds.contains(&d) {
                return Err(shape_err(format!(
                    "dim {d} appears multiple times in the list of dims"
                )));
            }
            ds.push(d);
        }
        let buf = self.with_view(|v| crate::backend::backend(self.device()).flip(v, &ds));
        let out = Tensor::from_buffer_on(buf, self.shape(), self.device());
        let dims = ds;
        Ok(Tensor::record(out, &[self], || FlipBackward0 {
            x: self.clone(),
            dims,
        }))
    }

    /// `torch.roll(x, shifts, dims)`: the elements moved `shifts[i]` places
    /// along `dims[i]`, those pushed past the end coming back at the start
    /// (negative shifts move the other way); with no `dims`, along the
    /// flattened tensor, keeping its shape. A copy; grad_fn `RollBackward0`.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let t = Tensor::arange(6).reshape([2, 3]);
    /// assert_eq!(t.roll(&[1], &[1]).to_vec::<i64>(), [2, 0, 1, 5, 3, 4]);
    /// assert_eq!(t.roll(&[-1], &[]).to_vec::<i64>(), [1, 2, 3, 4, 5, 0]);
    /// ```
    #[track_caller]
    pub fn roll(&self, shifts: &[isize], dims: &[isize]) -> Tensor {
        or_panic!(self.try_roll(shifts, dims))
    }

    /// Fallible [`Tensor::roll`]: PyTorch's words when `shifts` and `dims`
    /// differ in length or a dim is out of range.
    pub fn try_roll(&self, shifts: &[isize], dims: &[isize]) -> Result<Tensor> {
        if dims.is_empty() && shifts.len() != 1 || !dims.is_empty() && shifts.len() != dims.len() {
            return Err(shape_err(format!(
                "shifts and dimensions must align. shifts: {}, dims:{}",
                shifts.len(),
                dims.len()
            )));
        }
        let ds = dims
            .iter()
            .map(|&d| wrap_dim(d, self.dim()))
            .collect::<Result<Vec<usize>>>()?;
        let out = crate::no_grad(|| -> Result<Tensor> {
            if ds.is_empty() {
                let flat = self.reshape([self.numel()]);
                return Ok(roll_along(&flat, shifts[0], 0)?.reshape(self.shape()));
            }
            let mut out = self.clone();
            for (&s, &d) in shifts.iter().zip(&ds) {
                out = roll_along(&out, s, d)?;
            }
            Ok(out.contiguous())
        })?;
        Ok(Tensor::record(out, &[self], || RollBackward0 {
            x: self.clone(),
            shifts: shifts.to_vec(),
            dims: dims.to_vec(),
        }))
    }

    /// Expands to another tensor's shape.
    #[track_caller]
    pub fn expand_as(&self, other: &Tensor) -> Tensor {
        self.expand(other.shape())
    }
}

// ----- gradients ----------------------------------------------------------------------

grad_fn! {
    /// A view with another shape (`ViewBackward0`, `UnsafeViewBackward0`,
    /// `SqueezeBackward0`, ... as PyTorch names the op that made it): the
    /// gradient takes the input's shape back.
    ReshapeBackward { x: Tensor, name: &'static str }
    name(n) n.name;
    inputs [x];
    backward(n, g, acc) { acc.add(&n.x, || g.reshape(n.x.shape())) }
}

grad_fn! {
    /// The gradient is permuted back by the inverse permutation.
    PermuteBackward0 { x: Tensor, perm: Vec<usize> }
    inputs [x];
    backward(n, g, acc) {
        acc.add(&n.x, || {
            let mut inverse = vec![0isize; n.perm.len()];
            for (i, &p) in n.perm.iter().enumerate() {
                inverse[p] = i as isize;
            }
            g.permute(&inverse)
        })
    }
}

grad_fn! {
    /// The gradient is transposed back (`TransposeBackward0`, `TBackward0`).
    TransposeBackward { x: Tensor, a: usize, b: usize, name: &'static str }
    name(n) n.name;
    inputs [x];
    backward(n, g, acc) { acc.add(&n.x, || g.transpose(n.a as isize, n.b as isize)) }
}

/// `x` rolled by `shift` along `dim`: the last `shift` (mod the size)
/// elements, then the rest.
fn roll_along(x: &Tensor, shift: isize, dim: usize) -> Result<Tensor> {
    let n = x.shape()[dim];
    if n == 0 {
        return Ok(x.clone());
    }
    let k = shift.rem_euclid(n as isize) as usize;
    if k == 0 {
        return Ok(x.clone());
    }
    Tensor::try_cat(
        &[
            x.try_narrow(dim as isize, n - k, k)?,
            x.try_narrow(dim as isize, 0, n - k)?,
        ],
        dim as isize,
    )
}

grad_fn! {
    /// The picked elements' gradients go back to where they were picked from
    /// (added up where an index repeats).
    IndexBackward0 { x: Tensor, dim: usize, merged: Vec<usize>, positions: Tensor }
    inputs [x];
    backward(n, g, acc) {
        acc.add(&n.x, || {
            let numel: usize = n.merged.iter().product();
            let z = Tensor::full_dtype([numel], 0, g.dtype()).to(g.device()).reshape(&n.merged[..]);
            let mut picked_shape = n.merged.clone();
            picked_shape[n.dim] = n.positions.numel();
            z.index_add(n.dim, &n.positions, &g.reshape(&picked_shape[..])).reshape(n.x.shape())
        })
    }
}

grad_fn! {
    /// The gradient is rolled back.
    RollBackward0 { x: Tensor, shifts: Vec<isize>, dims: Vec<isize> }
    inputs [x];
    backward(n, g, acc) {
        acc.add(&n.x, || {
            let back: Vec<isize> = n.shifts.iter().map(|s| -s).collect();
            g.roll(&back, &n.dims)
        })
    }
}

grad_fn! {
    /// The gradient is flipped back.
    FlipBackward0 { x: Tensor, dims: Vec<usize> }
    inputs [x];
    backward(n, g, acc) {
        acc.add(&n.x, || {
            let dims: Vec<isize> = n.dims.iter().map(|&d| d as isize).collect();
            g.flip(&dims)
        })
    }
}

grad_fn! {
    /// Repeated elements add their gradients.
    ExpandBackward0 { x: Tensor }
    inputs [x];
    backward(n, g, acc) { acc.add(&n.x, || g.sum_to(n.x.shape())) }
}

grad_fn! {
    /// The gradient lands in the sliced positions of zeros.
    SliceBackward0 { x: Tensor, dim: usize, start: usize, step: usize }
    inputs [x];
    backward(n, g, acc) {
        acc.add(&n.x, || {
            let z = zeros_like_grad(&n.x, g);
            let len = g.shape()[n.dim];
            let end = n.start + len.saturating_sub(1) * n.step + 1;
            z.slice(n.dim as isize, n.start as isize, end as isize, n.step).copy_(g);
            z
        })
    }
}

grad_fn! {
    /// The gradient lands in the selected row of zeros.
    SelectBackward0 { x: Tensor, dim: usize, index: usize }
    inputs [x];
    backward(n, g, acc) {
        acc.add(&n.x, || {
            let z = zeros_like_grad(&n.x, g);
            z.select(n.dim as isize, n.index as isize).copy_(g);
            z
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::golden::{attr_i, goldens, gradchecks};

    #[test]
    fn index_errors_are_pytorchs() {
        let x = Tensor::zeros([2, 3]);
        assert_eq!(
            x.try_i((0, 0, 0)).unwrap_err().to_string(),
            "too many indices for tensor of dimension 2"
        );
        assert_eq!(
            x.try_i(2).unwrap_err().to_string(),
            "index 2 is out of bounds for dimension 0 with size 2"
        );
        assert_eq!(
            x.try_i(Tensor::from_slice(&[true, false, true])).unwrap_err().to_string(),
            "The shape of the mask [3] at index 0 does not match the shape of the indexed tensor [2, 3] at index 0"
        );
        assert_eq!(
            x.try_i(Tensor::from_slice(&[0.5f32]))
                .unwrap_err()
                .to_string(),
            "tensors used as indices must be long, int, byte or bool tensors, not Float"
        );
        assert!(x.try_i((Ellipsis, 0, Ellipsis)).is_err());
        assert!(x.try_index_put_((.., 1), &Tensor::zeros([3])).is_err());
        let a = Tensor::zeros([2, 2]).requires_grad_(true);
        assert_eq!(a.i((.., ..)).grad_fn_name(), Some("AliasBackward0"));
    }

    #[test]
    fn roll_errors_are_pytorchs() {
        let x = Tensor::zeros([2, 3]);
        assert_eq!(
            x.try_roll(&[1, 2], &[0]).unwrap_err().to_string(),
            "shifts and dimensions must align. shifts: 2, dims:1"
        );
        assert_eq!(
            x.try_roll(&[1], &[5]).unwrap_err().to_string(),
            "Dimension out of range (expected to be in range of [-2, 1], but got 5)"
        );
        // An empty dimension rolls to itself.
        assert_eq!(Tensor::zeros([0, 3]).roll(&[1], &[0]).shape(), &[0, 3]);
    }

    fn shifts(a: &serde_json::Value) -> Vec<isize> {
        a["shifts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_i64().unwrap() as isize)
            .collect()
    }

    fn dims(a: &serde_json::Value) -> Vec<isize> {
        a["dims"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_i64().unwrap() as isize)
            .collect()
    }

    /// `update` applied to a copy of `x` (Python's `a = a.clone(); a[...] = v`).
    /// Runs `index_put_` on a copy of `x`; it returns the tensor itself.
    fn put(x: &Tensor, update: impl FnOnce(&Tensor) -> Tensor) -> Tensor {
        let t = x.clone_tensor();
        assert!(update(&t).shares_storage(&t));
        t
    }

    goldens! { "shape";
        index_int => |x, _| x[0].i(2),
        index_neg => |x, _| x[0].i(-1),
        index_col => |x, _| x[0].i((.., 0)),
        index_ellipsis_last => |x, _| x[0].i((Ellipsis, -1)),
        index_range_neg => |x, _| x[0].i(-2..),
        index_int_range => |x, _| x[0].i((1, 1..3)),
        index_newaxis => |x, _| x[0].i((NewAxis, 1..)),
        index_full => |x, _| x[0].i(..),
        index_int_tensor_ellipsis => |x, _| x[0].i((Ellipsis, 1..)),
        index_mask => |x, _| x[0].i(&x[1]),
        index_mask_rows => |x, _| x[0].i(&x[1]),
        index_mask_after_col => |x, _| x[0].i((.., &x[1])),
        index_tensor => |x, _| x[0].i(&x[1]),
        index_tensor_2d_col => |x, _| x[0].i((.., &x[1])),
        index_tensor_neg => |x, _| x[0].i(&x[1]),
        index_put_col => |x, _| put(&x[0], |t| t.index_put_((.., 1), 0)),
        index_put_mask => |x, _| put(&x[0], |t| t.index_put_(&x[1], -1.5)),
        index_put_rows => |x, _| put(&x[0], |t| t.index_put_(&x[1], &x[2])),
        index_put_ellipsis_broadcast => |x, _| put(&x[0], |t| t.index_put_((Ellipsis, 0), &x[1])),
        reshape => |x, _| x[0].reshape([2, 6]),
        reshape_copy => |x, _| x[0].t().reshape([12]),
        flatten => |x, _| x[0].flatten(1, -1),
        squeeze => |x, _| x[0].squeeze(),
        squeeze_dim => |x, a| x[0].squeeze_dim(attr_i(a, "dim")),
        unsqueeze => |x, a| x[0].unsqueeze(attr_i(a, "dim")),
        permute => |x, _| x[0].permute(&[2, 0, 1]),
        transpose => |x, _| x[0].transpose(0, 2),
        t => |x, _| x[0].t(),
        narrow => |x, _| x[0].narrow(0, 1, 3),
        slice_step => |x, _| x[0].slice(0, 1, 9, 3),
        select => |x, _| x[0].i(2),
        select_dim1 => |x, _| x[0].select(1, -1),
        expand => |x, _| x[0].expand([2, 3, 4]),
        flip => |x, a| x[0].flip(&dims(a)),
        flip_dims => |x, a| x[0].flip(&dims(a)),
        int_flip => |x, a| x[0].flip(&dims(a)),
        roll => |x, a| x[0].roll(&shifts(a), &dims(a)),
        roll_dims => |x, a| x[0].roll(&shifts(a), &dims(a)),
        roll_flat => |x, a| x[0].roll(&shifts(a), &[]),
        int_roll => |x, a| x[0].roll(&shifts(a), &dims(a)),
    }

    gradchecks! {
        index_mask: [randn(&[3, 2], 1)] => |x| x[0].i(Tensor::from_slice(&[true, false, true]).to(x[0].device()));
        index_repeated_tensor: [randn(&[3, 2], 2)] => |x| x[0].i((.., &Tensor::from_slice(&[1i64, 1, 0]).to(x[0].device())));
        index_mixed: [randn(&[2, 3, 4], 3)] => |x| x[0].i((Ellipsis, 1..3, -1));
        reshape_view: [randn(&[3, 4], 1)] => |x| x[0].reshape([2, 6]) * 1.5;
        reshape_copy: [randn(&[3, 4], 1)] => |x| x[0].t().reshape([12]);
        flatten_squeeze_unsqueeze: [randn(&[3, 1, 4], 1)] => |x| x[0].squeeze().unsqueeze(0).flatten(0, 1);
        permute_transpose: [randn(&[2, 3, 4], 1)] => |x| x[0].permute(&[2, 0, 1]).transpose(0, 1);
        narrow_slice_select: [randn(&[10, 3], 1)] => |x| x[0].narrow(0, 1, 8).slice(0, 0, 8, 3).select(1, -1);
        expand: [randn(&[3, 1], 1)] => |x| x[0].expand([2, 3, 4]);
        flip: [randn(&[2, 3, 4], 1)] => |x| x[0].flip(&[0, 2]);
        flip_of_a_view: [randn(&[4, 3], 1)] => |x| x[0].t().flip(&[1]);
        roll: [randn(&[3, 4, 2], 1)] => |x| x[0].roll(&[2, -5], &[1, 0]);
        roll_flat: [randn(&[3, 4], 1)] => |x| x[0].t().roll(&[5], &[]);
    }

    use crate::DType;

    #[test]
    fn views_share_storage() {
        let t = Tensor::arange(24).reshape([2, 3, 4]);
        for v in [
            t.reshape([6, 4]),
            t.flatten(1, -1),
            t.permute(&[2, 0, 1]),
            t.transpose(0, 2),
            t.narrow(1, 1, 2),
            t.select(2, 1),
            t.unsqueeze(0),
            t.i(1),
            t.slice(2, 0, 4, 2),
        ] {
            assert!(v.shares_storage(&t));
        }
        assert!(!t.transpose(0, 1).reshape([-1]).shares_storage(&t));
    }

    #[test]
    fn slicing_matches_python() {
        let t = Tensor::arange(10);
        assert_eq!(t.slice(0, 1, 8, 3).to_vec::<i64>(), vec![1, 4, 7]);
        assert_eq!(t.slice(0, -3, isize::MAX, 1).to_vec::<i64>(), vec![7, 8, 9]);
        assert_eq!(t.slice(0, 5, 2, 1).numel(), 0);
        assert_eq!(t.i(..13).numel(), 10);
        assert_eq!(t.select(0, -1).item().to_i64(), 9);
        assert_eq!(
            t.try_select(0, 10).unwrap_err().to_string(),
            "index 10 is out of bounds for dimension 0 with size 10"
        );
    }

    #[test]
    fn view_errors() {
        let t = Tensor::zeros([3, 4]);
        assert!(t.t().try_view([12]).is_err());
        assert_eq!(
            t.try_reshape([5, -1]).unwrap_err().to_string(),
            "shape '[5, -1]' is invalid for input of size 12"
        );
        assert_eq!(
            t.try_unsqueeze(3).unwrap_err().to_string(),
            "Dimension out of range (expected to be in range of [-3, 2], but got 3)"
        );
        assert_eq!(t.t().reshape([-1]).to_vec::<f32>().len(), 12);
        assert_eq!(
            Tensor::arange(6)
                .reshape([2, 3])
                .t()
                .contiguous()
                .to_vec::<i64>(),
            vec![0, 3, 1, 4, 2, 5]
        );
        assert_eq!(Tensor::ones([3, 1]).expand([2, 3, 4]).dtype(), DType::F32);
        assert!(Tensor::ones([3, 2]).try_expand([3, 4]).is_err());
    }
}
