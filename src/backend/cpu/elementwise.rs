//! The CPU backend's elementwise kernels: contiguous fast paths (equal shapes,
//! a scalar, a bias row), SIMD loops (NOTE(simd)), and a strided walk for
//! everything else.

use std::mem::MaybeUninit;

use super::runtime::{join2, num_threads};
use super::simd::simd_versions;
use crate::backend::math::{
    with_binary_fn, with_cmp_fn, with_float_fn, with_grad_fn, with_unary_fn, Arith,
};
use crate::backend::{BinaryOp, CmpOp, FloatOp, GradOp, InplaceOp, UnaryOp, View};
use crate::tensor::layout::for_each_offsets;
use crate::tensor::{convert, with_dtype, with_float, Buffer, DType, Element, Layout, Scalar};

/// `f(a[i], b[i])` over the broadcast `shape`; `a` and `b` hold `A` and `B`.
pub(crate) fn zip_map<A: Element, B: Element, O: Element>(
    a: View,
    b: View,
    shape: &[usize],
    f: impl Fn(A, B) -> O + Sync,
) -> Vec<O> {
    let (la, lb) = (a.layout, b.layout);
    if let (Some(ra), Some(rb)) = (la.contiguous_range(), lb.contiguous_range()) {
        if la.shape.as_slice() == shape && lb.shape.as_slice() == shape {
            return zip_slices(&a.data::<A>()[ra], &b.data::<B>()[rb], &f);
        }
    }
    // The broadcast fast paths are compiled for float operands only: integer
    // and bool operands (labels, masks, indices) go to the gather below
    // (NOTE(build-time)).
    if A::IS_FLOAT {
        if let Some(out) = zip_broadcast(a, b, shape, &f) {
            return out;
        }
    }
    // Anything else (transposed, sliced, broadcast both ways): both
    // operands gathered into row-major copies first, then the slice loop.
    // The gather is compiled once per element type, not once per op as a
    // strided loop around `f` would be (NOTE(notebook-build)).
    zip_slices(
        &broadcast_vec::<A>(a, shape),
        &broadcast_vec::<B>(b, shape),
        &f,
    )
}

/// [`zip_map`]'s fast paths for one operand broadcast against a contiguous
/// other: a scalar, a bias row, or a value per block (a per-channel scale);
/// `None` when none applies.
fn zip_broadcast<A: Element, B: Element, O: Element>(
    a: View,
    b: View,
    shape: &[usize],
    f: &(impl Fn(A, B) -> O + Sync),
) -> Option<Vec<O>> {
    let n: usize = shape.iter().product();
    let (da, db) = (a.data::<A>(), b.data::<B>());
    let (la, lb) = (a.layout, b.layout);
    Some(match (la.contiguous_range(), lb.contiguous_range()) {
        (Some(ra), _) if la.shape.as_slice() == shape && lb.numel() == 1 => {
            let y = db[lb.offset];
            da[ra].iter().map(|&x| f(x, y)).collect()
        }
        (_, Some(rb)) if lb.shape.as_slice() == shape && la.numel() == 1 => {
            let x = da[la.offset];
            db[rb].iter().map(|&y| f(x, y)).collect()
        }
        (Some(ra), Some(rb))
            if la.shape.as_slice() == shape && is_trailing(&lb.shape, shape) && !rb.is_empty() =>
        {
            // A row vector broadcast over a matrix (a bias): whole rows at a time.
            let row = &db[rb];
            let mut out = Vec::with_capacity(n);
            for chunk in da[ra].chunks_exact(row.len()) {
                out.extend(chunk.iter().zip(row).map(|(&x, &y)| f(x, y)));
            }
            out
        }
        (Some(ra), _) if la.shape.as_slice() == shape && constant_blocks(lb, shape) >= 16 => {
            let small = Broadcast::new(lb, shape);
            blocks(&da[ra], db, &small, f)
        }
        (_, Some(rb)) if lb.shape.as_slice() == shape && constant_blocks(la, shape) >= 16 => {
            let small = Broadcast::new(la, shape);
            blocks(&db[rb], da, &small, |y, x| f(x, y))
        }
        _ => return None,
    })
}

/// The elements of `x` broadcast to `shape`, in row-major order.
fn broadcast_vec<T: Element>(x: View, shape: &[usize]) -> Vec<T> {
    let (data, l) = (x.data::<T>(), x.layout);
    if l.shape.as_slice() == shape {
        return contiguous_vec::<T>(x);
    }
    let strides = l.broadcast_strides(shape);
    let mut out = Vec::with_capacity(shape.iter().product());
    for_each_offsets(shape, [&strides], [l.offset], |[i]| out.push(data[i]));
    out
}

/// How many consecutive output elements (of `shape`, row-major) see one
/// element of `small` broadcast to `shape`: the product of the trailing
/// dimensions it is broadcast along (a per-channel `[1, C, 1, 1]` against
/// `[N, C, H, W]`: `H · W`).
fn constant_blocks(small: &Layout, shape: &[usize]) -> usize {
    let strides = small.broadcast_strides(shape);
    let mut block = 1;
    for (d, &s) in shape.iter().zip(&strides).rev() {
        if s != 0 {
            break;
        }
        block *= d;
    }
    block
}

/// A broadcast operand seen as one value per block of [`constant_blocks`].
struct Broadcast {
    /// The output dimensions before the blocks, and `small`'s strides there.
    outer: Vec<usize>,
    strides: Vec<usize>,
    offset: usize,
    block: usize,
}

impl Broadcast {
    fn new(small: &Layout, shape: &[usize]) -> Broadcast {
        let block = constant_blocks(small, shape);
        let strides = small.broadcast_strides(shape);
        let mut k = shape.len();
        let mut b = 1;
        while k > 0 && b < block {
            k -= 1;
            b *= shape[k];
        }
        Broadcast {
            outer: shape[..k].to_vec(),
            strides: strides[..k].to_vec(),
            offset: small.offset,
            block,
        }
    }
}

/// `f(full[i], small[block of i])` for a contiguous `full` and a `small`
/// operand constant over each block: one value per block, a vectorised run
/// inside it (a per-channel scale or shift is one pass at memory speed).
fn blocks<A: Copy, B: Copy, O>(
    full: &[A],
    small: &[B],
    shape: &Broadcast,
    f: impl Fn(A, B) -> O,
) -> Vec<O> {
    let mut out = Vec::with_capacity(full.len());
    let mut runs = full.chunks_exact(shape.block);
    for_each_offsets(&shape.outer, [&shape.strides], [shape.offset], |[j]| {
        let y = small[j];
        if let Some(run) = runs.next() {
            out.extend(run.iter().map(|&x| f(x, y)));
        }
    });
    out
}

/// Elementwise loops from this many elements up run in two halves side by
/// side (an activation of the `cnn` model, 2.4 million floats, in half the
/// time; below about this size the hand-off costs what the split saves).
/// Every element is computed alone, so the split never changes a number.
const SPLIT_ELEMENTS: usize = 1 << 17;

/// `f(a[i], b[i])` over two slices of equal length.
fn zip_slices<A: Copy + Sync, B: Copy + Sync, O: Send, F: Fn(A, B) -> O + Sync>(
    a: &[A],
    b: &[B],
    f: &F,
) -> Vec<O> {
    let len = a.len().min(b.len());
    filled(len, &|at, out| zip_into(&a[at..], &b[at..], out, f))
}

/// `f(a[i])` over a slice.
fn map_slice<A: Copy + Sync, O: Send, F: Fn(A) -> O + Sync>(a: &[A], f: &F) -> Vec<O> {
    filled(a.len(), &|at, out| map_into(&a[at..], out, f))
}

/// A vector of `len` elements that `fill(at, part)` writes, `part` being
/// elements `at..` of it: in two halves side by side from [`SPLIT_ELEMENTS`]
/// when there are threads, else in one go. `fill` must write all of `part`.
///
/// Compiled once per element type; `fill` is called through a reference
/// (NOTE(build-time)).
fn filled<O: Send>(len: usize, fill: &(dyn Fn(usize, &mut [MaybeUninit<O>]) + Sync)) -> Vec<O> {
    let mut out = Vec::with_capacity(len);
    let spare = &mut out.spare_capacity_mut()[..len];
    if len >= SPLIT_ELEMENTS && num_threads() > 1 {
        let half = len / 2;
        let (lo, hi) = spare.split_at_mut(half);
        join2(|| fill(0, lo), || fill(half, hi));
    } else {
        fill(0, spare);
    }
    // SAFETY: `fill` wrote each of the `len` elements.
    unsafe { out.set_len(len) };
    out
}

simd_versions! {
    /// `out[i] = f(a[i], b[i])`; see NOTE(simd).
    fn zip_into<A: Copy, B: Copy, O, F: Fn(A, B) -> O>(a: &[A], b: &[B], out: &mut [MaybeUninit<O>], f: &F) -> () {
        // A plain loop rather than `collect`, whose out-of-line helper would be
        // compiled without the wider instructions.
        for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
            o.write(f(x, y));
        }
    }
}

simd_versions! {
    /// `out[i] = f(a[i])`; see NOTE(simd).
    fn map_into<A: Copy, O, F: Fn(A) -> O>(a: &[A], out: &mut [MaybeUninit<O>], f: &F) -> () {
        for (o, &x) in out.iter_mut().zip(a) {
            o.write(f(x));
        }
    }
}

/// True when `small`, stripped of leading 1s, equals the trailing dims of `shape`.
fn is_trailing(small: &[usize], shape: &[usize]) -> bool {
    let first = small.iter().position(|&d| d != 1).unwrap_or(small.len());
    let small = &small[first..];
    small.len() <= shape.len() && &shape[shape.len() - small.len()..] == small
}

/// `f(x[i])` over every element, in row-major order.
pub(crate) fn map<A: Element, O: Element>(x: View, f: impl Fn(A) -> O + Sync) -> Vec<O> {
    match x.layout.contiguous_range() {
        Some(r) => map_slice(&x.data::<A>()[r], &f),
        // A strided view is gathered first (see `zip_map`).
        None => map_slice(&contiguous_vec::<A>(x), &f),
    }
}

pub(super) fn binary(op: BinaryOp, a: View, b: View, shape: &[usize]) -> Buffer {
    with_dtype!(a.dtype(), T => with_binary_fn!(op, T, f => T::into_buffer(zip_map::<T, T, T>(a, b, shape, f))))
}

pub(super) fn compare(op: CmpOp, a: View, b: View, shape: &[usize]) -> Buffer {
    with_dtype!(a.dtype(), T => with_cmp_fn!(op, T, f => bool::into_buffer(zip_map::<T, T, bool>(a, b, shape, f))))
}

pub(super) fn binary_scalar(
    op: BinaryOp,
    a: View,
    s: Scalar,
    reversed: bool,
    out: DType,
) -> Buffer {
    if a.dtype() == DType::U8 && out == DType::F32 {
        // Pixels to floats (`data / 255`): converted inside the loop, without a
        // float32 copy of the whole input first. Only this pair of dtypes: each
        // other pair would be one more set of loops to compile, for casts no
        // lecture step repeats over a whole dataset.
        let y = f32::from_scalar(s);
        return with_binary_fn!(op, f32, f => f32::into_buffer(if reversed {
            map::<u8, f32>(a, move |x| f(y, f32::from(x)))
        } else {
            map::<u8, f32>(a, move |x| f(f32::from(x), y))
        }));
    }
    with_dtype!(a.dtype(), T => {
        let y = T::from_scalar(s);
        with_binary_fn!(op, T, f => T::into_buffer(if reversed {
            map::<T, T>(a, move |x| f(y, x))
        } else {
            map::<T, T>(a, move |x| f(x, y))
        }))
    })
}

pub(super) fn compare_scalar(op: CmpOp, a: View, s: Scalar) -> Buffer {
    with_dtype!(a.dtype(), T => {
        let y = T::from_scalar(s);
        with_cmp_fn!(op, T, f => bool::into_buffer(map::<T, bool>(a, move |x| f(x, y))))
    })
}

pub(super) fn float_unary(op: FloatOp, x: View) -> Buffer {
    with_float!(x.dtype(), T => with_float_fn!(op, T, f => T::into_buffer(map::<T, T>(x, f))))
}

pub(super) fn unary(op: UnaryOp, x: View) -> Buffer {
    with_dtype!(x.dtype(), T => with_unary_fn!(op, T, f => T::into_buffer(map::<T, T>(x, f))))
}

pub(super) fn grad_unary(op: GradOp, g: View, y: View) -> Buffer {
    let shape = g.shape().to_vec();
    with_float!(g.dtype(), T => with_grad_fn!(op, T, f => T::into_buffer(zip_map::<T, T, T>(g, y, &shape, f))))
}

pub(super) fn where_(cond: View, a: View, b: View, shape: &[usize]) -> Buffer {
    let (c, lc) = (cond.data::<bool>(), cond.layout);
    let sc = lc.broadcast_strides(shape);
    with_dtype!(a.dtype(), T => {
        let (dx, dy) = (a.data::<T>(), b.data::<T>());
        let (lx, ly) = (a.layout, b.layout);
        let (sx, sy) = (lx.broadcast_strides(shape), ly.broadcast_strides(shape));
        let mut out: Vec<T> = Vec::with_capacity(shape.iter().product());
        for_each_offsets(shape, [&sc, &sx, &sy], [lc.offset, lx.offset, ly.offset], |[k, i, j]| {
            out.push(if c[k] { dx[i] } else { dy[j] })
        });
        T::into_buffer(out)
    })
}

/// The elements in row-major order, in their own type.
pub(crate) fn contiguous_vec<T: Element>(x: View) -> Vec<T> {
    let (data, layout) = (x.data::<T>(), x.layout);
    match layout.contiguous_range() {
        Some(r) => data[r].to_vec(),
        None => {
            let mut out = Vec::with_capacity(layout.numel());
            for_each_offsets(&layout.shape, [&layout.strides], [layout.offset], |[o]| {
                out.push(data[o])
            });
            out
        }
    }
}

pub(super) fn copy(x: View, to: DType) -> Buffer {
    with_dtype!(x.dtype(), S => {
        let v = contiguous_vec::<S>(x);
        if to == x.dtype() {
            S::into_buffer(v)
        } else {
            with_dtype!(to, T => T::into_buffer(v.into_iter().map(convert::<S, T>).collect()))
        }
    })
}

fn apply_inplace<T: Element>(dst: &mut Buffer, ld: &Layout, src: View, f: impl Fn(T, T) -> T) {
    let (ds, dd) = (src.data::<T>(), T::slice_mut(dst));
    let ls = src.layout;
    match (ld.contiguous_range(), ls.contiguous_range()) {
        (Some(rd), Some(rs)) if ls.shape == ld.shape => {
            for (x, &y) in dd[rd].iter_mut().zip(&ds[rs]) {
                *x = f(*x, y);
            }
        }
        _ => {
            let ss = ls.broadcast_strides(&ld.shape);
            for_each_offsets(
                &ld.shape,
                [&ld.strides, &ss],
                [ld.offset, ls.offset],
                |[i, j]| dd[i] = f(dd[i], ds[j]),
            );
        }
    }
}

pub(super) fn inplace(op: InplaceOp, dst: &mut Buffer, ld: &Layout, src: View) {
    with_dtype!(dst.dtype(), T => match op {
        InplaceOp::Add(1.0) => apply_inplace::<T>(dst, ld, src, T::add),
        InplaceOp::Add(alpha) => {
            let a = T::from_f64(alpha);
            apply_inplace::<T>(dst, ld, src, move |x, y| T::add(x, T::mul(a, y)))
        }
        InplaceOp::Mul => apply_inplace::<T>(dst, ld, src, T::mul),
        InplaceOp::Copy => apply_inplace::<T>(dst, ld, src, |_, y| y),
    })
}

pub(crate) fn map_inplace<T: Element>(dst: &mut Buffer, l: &Layout, f: impl Fn(T) -> T) {
    let d = T::slice_mut(dst);
    match l.contiguous_range() {
        Some(r) => d[r].iter_mut().for_each(|x| *x = f(*x)),
        None => for_each_offsets(&l.shape, [&l.strides], [l.offset], |[i]| d[i] = f(d[i])),
    }
}

pub(super) fn inplace_scalar(dst: &mut Buffer, l: &Layout, s: Scalar, mul: bool) {
    with_dtype!(dst.dtype(), T => {
        let v = T::from_scalar(s);
        if mul {
            map_inplace::<T>(dst, l, move |x| T::mul(x, v))
        } else {
            map_inplace::<T>(dst, l, move |_| v)
        }
    })
}
