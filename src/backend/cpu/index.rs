//! The CPU backend's indexing and joining kernels: whole contiguous slices
//! copied at a time where the layout allows.

use super::elementwise::contiguous_vec;
use crate::backend::math::Arith;
use crate::backend::View;
use crate::tensor::layout::{contiguous_strides, for_each_offsets};
use crate::tensor::{with_dtype, Buffer, Element};

/// `(outer, size, inner)`: a contiguous shape seen as three dims around `dim`.
pub(crate) fn split(shape: &[usize], dim: usize) -> (usize, usize, usize) {
    (
        shape[..dim].iter().product(),
        shape[dim],
        shape[dim + 1..].iter().product(),
    )
}

pub(super) fn index_select(x: View, dim: usize, rows: &[usize]) -> Buffer {
    let (outer, size, inner) = split(x.shape(), dim);
    with_dtype!(x.dtype(), T => {
        let data = contiguous_vec::<T>(x);
        let mut out = Vec::with_capacity(outer * rows.len() * inner);
        for o in 0..outer {
            for &r in rows {
                let start = (o * size + r) * inner;
                out.extend_from_slice(&data[start..start + inner]);
            }
        }
        T::into_buffer(out)
    })
}

pub(super) fn index_add(x: View, dim: usize, rows: &[usize], src: View) -> Buffer {
    let (outer, size, inner) = split(x.shape(), dim);
    with_dtype!(x.dtype(), T => {
        let mut out = contiguous_vec::<T>(x);
        let s = contiguous_vec::<T>(src);
        for o in 0..outer {
            for (k, &r) in rows.iter().enumerate() {
                let dst = (o * size + r) * inner;
                let from = (o * rows.len() + k) * inner;
                for i in 0..inner {
                    out[dst + i] = T::add(out[dst + i], s[from + i]);
                }
            }
        }
        T::into_buffer(out)
    })
}

pub(super) fn gather(x: View, dim: usize, index: &[usize], index_shape: &[usize]) -> Buffer {
    let istrides = contiguous_strides(index_shape);
    let l = x.layout;
    let mut sstrides = l.strides.clone();
    let step = sstrides.get(dim).copied().unwrap_or(0);
    if let Some(s) = sstrides.get_mut(dim) {
        *s = 0;
    }
    with_dtype!(x.dtype(), T => {
        let data = x.data::<T>();
        let mut out = Vec::with_capacity(index.len());
        for_each_offsets(index_shape, [&istrides, &sstrides], [0, l.offset], |[i, s]| {
            out.push(data[s + index[i] * step])
        });
        T::into_buffer(out)
    })
}

pub(super) fn scatter_add(
    x: View,
    dim: usize,
    index: &[usize],
    index_shape: &[usize],
    src: View,
) -> Buffer {
    let istrides = contiguous_strides(index_shape);
    let mut ostrides = contiguous_strides(x.shape());
    let step = ostrides.get(dim).copied().unwrap_or(0);
    if let Some(s) = ostrides.get_mut(dim) {
        *s = 0;
    }
    let sl = src.layout;
    with_dtype!(x.dtype(), T => {
        let mut out = contiguous_vec::<T>(x);
        let sdata = src.data::<T>();
        for_each_offsets(index_shape, [&istrides, &sl.strides, &ostrides], [0, sl.offset, 0], |[i, s, o]| {
            let at = o + index[i] * step;
            out[at] = T::add(out[at], sdata[s]);
        });
        T::into_buffer(out)
    })
}

pub(super) fn cat(parts: &[View], dim: usize, shape: &[usize]) -> Buffer {
    let (outer, _, inner) = split(shape, dim);
    with_dtype!(parts[0].dtype(), T => {
        let mut out: Vec<T> = Vec::with_capacity(shape.iter().product());
        let datas: Vec<Vec<T>> = parts.iter().map(|p| contiguous_vec::<T>(*p)).collect();
        for o in 0..outer {
            for (p, data) in parts.iter().zip(&datas) {
                let chunk = p.shape()[dim] * inner;
                out.extend_from_slice(&data[o * chunk..(o + 1) * chunk]);
            }
        }
        T::into_buffer(out)
    })
}

pub(super) fn flip(x: View, dims: &[usize]) -> Buffer {
    // A walk of `x` with each flipped dim read backwards.
    let l = x.layout;
    let mut offset = l.offset as isize;
    let mut strides: Vec<isize> = l.strides.iter().map(|&s| s as isize).collect();
    for &d in dims {
        if l.shape[d] > 0 {
            offset += (l.shape[d] as isize - 1) * strides[d];
        }
        strides[d] = -strides[d];
    }
    with_dtype!(x.dtype(), T => {
        let data = x.data::<T>();
        let mut out = Vec::with_capacity(l.numel());
        for_each_signed(&l.shape, &strides, offset, |i| out.push(data[i]));
        T::into_buffer(out)
    })
}

/// `f(offset)` for every index of `shape` in row-major order, with strides
/// that may be negative (a flipped walk).
fn for_each_signed(shape: &[usize], strides: &[isize], offset: isize, mut f: impl FnMut(usize)) {
    if shape.contains(&0) {
        return;
    }
    let mut index = vec![0usize; shape.len()];
    let mut at = offset;
    loop {
        f(at as usize);
        let mut d = shape.len();
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            index[d] += 1;
            at += strides[d];
            if index[d] < shape[d] {
                break;
            }
            at -= strides[d] * shape[d] as isize;
            index[d] = 0;
        }
    }
}
