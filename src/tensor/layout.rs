//! Shape, strides and offset: how a tensor's elements sit in its storage.

use smallvec::SmallVec;

use crate::error::{Error, Result};

/// Dimension sizes or strides; four fit inline, which covers images in batches.
pub(crate) type Dims = SmallVec<[usize; 4]>;

/// A strided view into a flat buffer. Strides are in elements and never negative;
/// a stride of 0 repeats an element (broadcasting, `expand`).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Layout {
    pub shape: Dims,
    pub strides: Dims,
    pub offset: usize,
}

impl Layout {
    pub fn contiguous(shape: &[usize]) -> Layout {
        Layout {
            shape: shape.into(),
            strides: contiguous_strides(shape),
            offset: 0,
        }
    }

    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn ndim(&self) -> usize {
        self.shape.len()
    }

    /// Row-major with no gaps (dimensions of size 1 may have any stride).
    pub fn is_contiguous(&self) -> bool {
        let mut expected = 1;
        for (&size, &stride) in self.shape.iter().zip(&self.strides).rev() {
            if size != 1 {
                if stride != expected {
                    return false;
                }
                expected *= size;
            }
        }
        true
    }

    /// The storage range `offset..offset + numel` when contiguous.
    pub fn contiguous_range(&self) -> Option<std::ops::Range<usize>> {
        self.is_contiguous()
            .then(|| self.offset..self.offset + self.numel())
    }

    /// Strides for viewing this layout with `shape`, broadcasting size-1 and missing
    /// leading dimensions with stride 0.
    pub fn broadcast_strides(&self, shape: &[usize]) -> Dims {
        let extra = shape.len() - self.ndim();
        let mut strides: Dims = SmallVec::from_elem(0, shape.len());
        for d in 0..self.ndim() {
            if self.shape[d] != 1 {
                strides[extra + d] = self.strides[d];
            }
        }
        strides
    }
}

pub(crate) fn contiguous_strides(shape: &[usize]) -> Dims {
    let mut strides: Dims = SmallVec::from_elem(1, shape.len());
    for d in (0..shape.len().saturating_sub(1)).rev() {
        strides[d] = strides[d + 1] * shape[d + 1];
    }
    strides
}

/// The shape two operands broadcast to, as in NumPy and PyTorch.
pub(crate) fn broadcast_shapes(a: &[usize], b: &[usize]) -> Result<Dims> {
    let n = a.len().max(b.len());
    let mut out: Dims = SmallVec::from_elem(1, n);
    for i in 0..n {
        let da = if i + a.len() >= n {
            a[i + a.len() - n]
        } else {
            1
        };
        let db = if i + b.len() >= n {
            b[i + b.len() - n]
        } else {
            1
        };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            (x, y) => {
                return Err(Error::Broadcast {
                    a: a.to_vec(),
                    b: b.to_vec(),
                    a_size: x,
                    b_size: y,
                    dim: i,
                })
            }
        };
    }
    Ok(out)
}

/// Normalises a possibly negative dimension index for a tensor of `ndim` dims.
pub(crate) fn wrap_dim(dim: isize, ndim: usize) -> Result<usize> {
    // PyTorch treats a 0-d tensor as having one dimension for this purpose.
    let n = ndim.max(1) as isize;
    if dim < -n || dim >= n {
        return Err(Error::DimOutOfRange {
            dim,
            low: -n,
            high: n - 1,
        });
    }
    Ok(if dim < 0 {
        (dim + n) as usize
    } else {
        dim as usize
    })
}

/// PyTorch's `computeStride`: the strides that view `old` as `new_shape` without a
/// copy, or `None` when a dimension would span two non-contiguous chunks.
pub(crate) fn view_strides(old: &Layout, new_shape: &[usize]) -> Option<Dims> {
    let mut new_strides: Dims = SmallVec::from_elem(0, new_shape.len());
    if old.numel() == 0 || old.ndim() == 0 {
        return Some(contiguous_strides(new_shape));
    }
    let mut view_d = new_shape.len() as isize - 1;
    let mut chunk_base_stride = *old.strides.last().unwrap();
    let mut tensor_numel = 1;
    let mut view_numel = 1;
    for tensor_d in (0..old.ndim()).rev() {
        tensor_numel *= old.shape[tensor_d];
        if tensor_d == 0
            || (old.shape[tensor_d - 1] != 1
                && old.strides[tensor_d - 1] != tensor_numel * chunk_base_stride)
        {
            while view_d >= 0 && (view_numel < tensor_numel || new_shape[view_d as usize] == 1) {
                new_strides[view_d as usize] = view_numel * chunk_base_stride;
                view_numel *= new_shape[view_d as usize];
                view_d -= 1;
            }
            if view_numel != tensor_numel {
                return None;
            }
            if tensor_d > 0 {
                chunk_base_stride = old.strides[tensor_d - 1];
                tensor_numel = 1;
                view_numel = 1;
            }
        }
    }
    (view_d == -1).then_some(new_strides)
}

/// Calls `f` with the storage offsets of `N` operands at every position of `shape`,
/// in row-major order; each operand has its own strides and start offset.
///
/// The odometer over the outer dimensions is [`for_each_row`], compiled once
/// per `N`; only the loop along a row is compiled with each caller's `f`
/// (there are hundreds: every elementwise kernel for every dtype), which
/// keeps the crate's code, and its build time, small.
#[inline]
pub(crate) fn for_each_offsets<const N: usize>(
    shape: &[usize],
    strides: [&[usize]; N],
    offsets: [usize; N],
    mut f: impl FnMut([usize; N]),
) {
    for_each_row(shape, strides, offsets, &mut |mut o, len, step| {
        for _ in 0..len {
            f(o);
            for i in 0..N {
                o[i] += step[i];
            }
        }
    });
}

/// Calls `row(first, len, step)` for each row of `shape` (its last
/// dimension), in row-major order: the operands' offsets at the row's first
/// element, the row's length, and the operands' strides along it. A 0-d
/// shape is one row of one element.
fn for_each_row<const N: usize>(
    shape: &[usize],
    strides: [&[usize]; N],
    offsets: [usize; N],
    row: &mut dyn FnMut([usize; N], usize, [usize; N]),
) {
    let nd = shape.len();
    if shape.contains(&0) {
        return;
    }
    if nd == 0 {
        row(offsets, 1, [0; N]);
        return;
    }
    let inner = shape[nd - 1];
    let mut inner_strides = [0; N];
    for (s, strides) in inner_strides.iter_mut().zip(strides) {
        *s = strides[nd - 1];
    }
    let mut index: Dims = SmallVec::from_elem(0, nd);
    let mut base = offsets;
    loop {
        row(base, inner, inner_strides);
        // Advance the outer index like an odometer.
        let mut d = nd - 1;
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            index[d] += 1;
            for i in 0..N {
                base[i] += strides[i][d];
            }
            if index[d] < shape[d] {
                break;
            }
            for i in 0..N {
                base[i] -= strides[i][d] * shape[d];
            }
            index[d] = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broadcast_rules() {
        assert_eq!(broadcast_shapes(&[3, 1], &[4]).unwrap().as_slice(), &[3, 4]);
        assert_eq!(broadcast_shapes(&[], &[2, 2]).unwrap().as_slice(), &[2, 2]);
        let e = broadcast_shapes(&[2, 3], &[2, 4]).unwrap_err().to_string();
        assert_eq!(
            e,
            "The size of tensor a (3) must match the size of tensor b (4) at non-singleton dimension 1 (shapes [2, 3] and [2, 4])"
        );
    }

    #[test]
    fn view_of_transposed_needs_copy() {
        let l = Layout {
            shape: [3usize, 4][..].into(),
            strides: [1usize, 3][..].into(),
            offset: 0,
        };
        assert!(view_strides(&l, &[12]).is_none());
        assert_eq!(view_strides(&l, &[3, 2, 2]).unwrap().as_slice(), &[1, 6, 3]);
    }
}
