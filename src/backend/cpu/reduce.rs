//! The CPU backend's reductions: lanes walked once each, contiguous sums a
//! whole row at a time (vectorised), argmax over rows as slices.
//!
//! Float sums accumulate in f64 and round once, element `k` of a lane before
//! element `k + 1`, so results do not depend on the order of work.

use crate::backend::math::{beats, is_nan, softmax_lane, variance};
use crate::backend::{ReduceOp, View};
use crate::tensor::layout::{contiguous_strides, for_each_offsets};
use crate::tensor::{with_dtype, with_float, Buffer, DType, Element, Float};

/// One line of elements along the reduced dimension.
pub(crate) struct Lane<'a, T> {
    data: &'a [T],
    start: usize,
    stride: usize,
    len: usize,
}

impl<T: Copy> Lane<'_, T> {
    fn iter(&self) -> impl Iterator<Item = T> + Clone + '_ {
        (0..self.len).map(move |k| self.data[self.start + k * self.stride])
    }
}

/// `f(lane)` for every lane along `dim`, in row-major order of the other dims.
pub(crate) fn lanes<T: Element, R>(
    x: View,
    dim: usize,
    mut f: impl FnMut(Lane<'_, T>) -> R,
) -> Vec<R> {
    let (data, l) = (x.data::<T>(), x.layout);
    let mut shape = l.shape.clone();
    let len = shape.remove(dim);
    let mut strides = l.strides.clone();
    let stride = strides.remove(dim);
    let mut out = Vec::with_capacity(shape.iter().product());
    if len == 0 && shape.contains(&0) {
        return out;
    }
    for_each_offsets(&shape, [&strides], [l.offset], |[start]| {
        out.push(f(Lane {
            data,
            start,
            stride,
            len,
        }))
    });
    out
}

/// Sums along `dim` of a contiguous view in f64, adding whole rows at a time
/// (vectorised), in the same order as the lane-by-lane path: element `k` of
/// each lane is added before element `k + 1`.
fn sum_rows<T: Element>(x: View, dim: usize) -> Vec<f64> {
    let shape = x.shape();
    let (outer, size, inner): (usize, usize, usize) = (
        shape[..dim].iter().product(),
        shape[dim],
        shape[dim + 1..].iter().product(),
    );
    let mut out = vec![0f64; outer * inner];
    let data = &x.data::<T>()[x.layout.offset..x.layout.offset + outer * size * inner];
    for (o, acc) in out.chunks_exact_mut(inner.max(1)).enumerate().take(outer) {
        for k in 0..size {
            let row = &data[(o * size + k) * inner..(o * size + k + 1) * inner];
            for (a, &v) in acc.iter_mut().zip(row) {
                *a += v.to_f64();
            }
        }
    }
    out
}

pub(super) fn reduce(op: ReduceOp, x: View, dim: usize) -> Buffer {
    let contiguous = x.layout.is_contiguous();
    match (op, x.dtype()) {
        (ReduceOp::Sum, DType::F32) if contiguous => f32::into_buffer(
            sum_rows::<f32>(x, dim)
                .into_iter()
                .map(|v| v as f32)
                .collect(),
        ),
        (ReduceOp::Sum, DType::F64) if contiguous => f64::into_buffer(sum_rows::<f64>(x, dim)),
        (ReduceOp::Sum, DType::F32) => f32::into_buffer(lanes(x, dim, |l: Lane<'_, f32>| {
            l.iter().map(|x| x as f64).sum::<f64>() as f32
        })),
        (ReduceOp::Sum, DType::F64) => {
            f64::into_buffer(lanes(x, dim, |l: Lane<'_, f64>| l.iter().sum()))
        }
        (ReduceOp::Prod, DType::F32) => f32::into_buffer(lanes(x, dim, |l: Lane<'_, f32>| {
            l.iter().map(|x| x as f64).product::<f64>() as f32
        })),
        (ReduceOp::Prod, DType::F64) => {
            f64::into_buffer(lanes(x, dim, |l: Lane<'_, f64>| l.iter().product()))
        }
        (ReduceOp::Sum, dtype) => {
            with_dtype!(dtype, T => i64::into_buffer(lanes(x, dim, |l: Lane<'_, T>| {
                l.iter().fold(0i64, |s, x| s.wrapping_add(x.to_i64()))
            })))
        }
        (ReduceOp::Prod, dtype) => {
            with_dtype!(dtype, T => i64::into_buffer(lanes(x, dim, |l: Lane<'_, T>| {
                l.iter().fold(1i64, |s, x| s.wrapping_mul(x.to_i64()))
            })))
        }
    }
}

/// [`arg_extreme`] over a slice: the rows of logits that `argmax(1)` reads.
fn arg_extreme_row<T: Element, const MAX: bool>(row: &[T]) -> (usize, T) {
    let mut best = (0, row[0]);
    if is_nan(best.1) {
        return best;
    }
    for (k, &v) in row.iter().enumerate() {
        if is_nan(v) {
            return (k, v);
        }
        if (MAX && v > best.1) || (!MAX && v < best.1) {
            best = (k, v);
        }
    }
    best
}

/// The index of the largest (`max = true`) or smallest element; NaN wins, ties
/// go to the first, as in PyTorch.
fn arg_extreme<T: Element>(lane: Lane<'_, T>, max: bool) -> (usize, T) {
    let mut best = (0, lane.data[lane.start]);
    for (k, v) in lane.iter().enumerate().skip(1) {
        if is_nan(best.1) {
            break;
        }
        if beats(v, best.1, max) {
            best = (k, v);
        }
    }
    best
}

pub(super) fn extreme(x: View, dim: usize, max: bool) -> (Buffer, Buffer) {
    with_dtype!(x.dtype(), T => {
        let pairs = if dim + 1 == x.shape().len() && x.layout.is_contiguous() {
            // Rows of a contiguous matrix (logits): plain slices, no index arithmetic.
            let n = x.shape()[dim];
            let numel: usize = x.shape().iter().product();
            let data = &x.data::<T>()[x.layout.offset..x.layout.offset + numel];
            let rows = data.chunks_exact(n);
            if max {
                rows.map(arg_extreme_row::<T, true>).collect::<Vec<_>>()
            } else {
                rows.map(arg_extreme_row::<T, false>).collect::<Vec<_>>()
            }
        } else {
            lanes(x, dim, |l: Lane<'_, T>| arg_extreme(l, max))
        };
        let idx: Vec<i64> = pairs.iter().map(|p| p.0 as i64).collect();
        let val: Vec<T> = pairs.into_iter().map(|p| p.1).collect();
        (T::into_buffer(val), i64::into_buffer(idx))
    })
}

pub(super) fn var(x: View, dim: usize, correction: usize) -> Buffer {
    with_float!(x.dtype(), T => T::into_buffer(lanes(x, dim, |l: Lane<'_, T>| {
        T::from_f64(variance(l.iter().map(|v| v.to_f64()), correction))
    })))
}

/// Walks each lane along `dim` of `x` and the matching lane of a contiguous
/// output of `x`'s shape: `f(x_lane, out_start, out_stride)`.
fn lanes_into<T: Element>(x: View, dim: usize, mut f: impl FnMut(Lane<'_, T>, usize, usize)) {
    let (data, l) = (x.data::<T>(), x.layout);
    let out_strides = contiguous_strides(&l.shape);
    let (mut shape, mut xs, mut os) = (l.shape.clone(), l.strides.clone(), out_strides.clone());
    let len = shape.remove(dim);
    let (stride, out_stride) = (xs.remove(dim), os.remove(dim));
    for_each_offsets(&shape, [&xs, &os], [l.offset, 0], |[start, out]| {
        f(
            Lane {
                data,
                start,
                stride,
                len,
            },
            out,
            out_stride,
        )
    });
}

pub(super) fn cumsum(x: View, dim: usize) -> Buffer {
    let n: usize = x.shape().iter().product();
    match x.dtype() {
        DType::F32 | DType::F64 => with_float!(x.dtype(), T => {
            let mut out = vec![T::ZERO; n];
            lanes_into(x, dim, |l: Lane<'_, T>, start, step| {
                let mut acc = 0f64;
                for (k, v) in l.iter().enumerate() {
                    acc += v.to_f64();
                    out[start + k * step] = T::from_f64(acc);
                }
            });
            T::into_buffer(out)
        }),
        dtype => with_dtype!(dtype, T => {
            let mut out = vec![0i64; n];
            lanes_into(x, dim, |l: Lane<'_, T>, start, step| {
                let mut acc = 0i64;
                for (k, v) in l.iter().enumerate() {
                    acc = acc.wrapping_add(v.to_i64());
                    out[start + k * step] = acc;
                }
            });
            i64::into_buffer(out)
        }),
    }
}

pub(super) fn softmax(x: View, dim: usize, log: bool) -> Buffer {
    if !x.layout.is_contiguous() {
        let copy = super::elementwise::copy(x, x.dtype());
        let layout = crate::tensor::Layout::contiguous(x.shape());
        return softmax(
            View {
                buf: &copy,
                layout: &layout,
            },
            dim,
            log,
        );
    }
    with_float!(x.dtype(), T => T::into_buffer(softmax_contiguous::<T>(x, dim, log)))
}

/// Softmax of each lane of a contiguous view; rows are slices when the lanes
/// are the last dimension (classes), else each lane is gathered.
fn softmax_contiguous<T: Float>(x: View, dim: usize, log: bool) -> Vec<T> {
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
    let data = &x.data::<T>()[x.layout.offset..x.layout.offset + out.len()];
    if inner == 1 {
        for (src, dst) in data
            .chunks_exact(size.max(1))
            .zip(out.chunks_exact_mut(size.max(1)))
        {
            softmax_lane(src, dst, log);
        }
        return out;
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
    out
}
