//! The reference backend: every kernel as the plainest loop over the output's
//! indices, on one thread, with no fast paths and no run-time SIMD. It shares
//! the element functions with the CPU backend (`backend::math`), so
//! elementwise results agree bit for bit; where the CPU backend sums in another
//! order (products, reductions) they agree to rounding. Tests hold the CPU
//! backend to it (`Device::Reference`).

use crate::backend::math::{self, with_unary_fn, Arith};
use crate::backend::{Backend, BinaryOp, CmpOp, FloatOp, GradOp, InplaceOp, UnaryOp, View};
use crate::tensor::layout::for_each_offsets;
use crate::tensor::{convert, with_dtype, with_float, Buffer, DType, Element, Layout, Scalar};

/// The plain-loop backend.
pub(crate) struct Reference;

/// `f` at the storage offsets of every element of `shape`, for each view
/// broadcast to it.
fn walk<const N: usize>(shape: &[usize], views: [&View; N], f: impl FnMut([usize; N])) {
    let strides: [crate::tensor::Dims; N] = views.map(|v| v.layout.broadcast_strides(shape));
    let refs: [&[usize]; N] = std::array::from_fn(|i| strides[i].as_slice());
    let offsets = views.map(|v| v.layout.offset);
    for_each_offsets(shape, refs, offsets, f);
}

fn collect<const N: usize, T>(
    shape: &[usize],
    views: [&View; N],
    mut f: impl FnMut([usize; N]) -> T,
) -> Vec<T> {
    let mut out = Vec::new();
    walk(shape, views, |o| out.push(f(o)));
    out
}

impl Backend for Reference {
    fn binary(&self, op: BinaryOp, a: View, b: View, shape: &[usize]) -> Buffer {
        with_dtype!(a.dtype(), T => {
            let (x, y) = (a.data::<T>(), b.data::<T>());
            T::into_buffer(collect(shape, [&a, &b], |[i, j]| math::binary(op, x[i], y[j])))
        })
    }

    fn compare(&self, op: CmpOp, a: View, b: View, shape: &[usize]) -> Buffer {
        with_dtype!(a.dtype(), T => {
            let (x, y) = (a.data::<T>(), b.data::<T>());
            bool::into_buffer(collect(shape, [&a, &b], |[i, j]| math::compare(op, x[i], y[j])))
        })
    }

    fn binary_scalar(
        &self,
        op: BinaryOp,
        a: View,
        s: Scalar,
        reversed: bool,
        out: DType,
    ) -> Buffer {
        // Convert each element to the output dtype, then apply the op.
        with_dtype!(out, T => {
            let y = T::from_scalar(s);
            let values: Vec<T> = with_dtype!(a.dtype(), S => {
                let x = a.data::<S>();
                collect(a.shape(), [&a], |[i]| {
                    let v = convert::<S, T>(x[i]);
                    if reversed { math::binary(op, y, v) } else { math::binary(op, v, y) }
                })
            });
            T::into_buffer(values)
        })
    }

    fn compare_scalar(&self, op: CmpOp, a: View, s: Scalar) -> Buffer {
        with_dtype!(a.dtype(), T => {
            let (x, y) = (a.data::<T>(), T::from_scalar(s));
            bool::into_buffer(collect(a.shape(), [&a], |[i]| math::compare(op, x[i], y)))
        })
    }

    fn float_unary(&self, op: FloatOp, x: View) -> Buffer {
        with_float!(x.dtype(), T => {
            let d = x.data::<T>();
            T::into_buffer(collect(x.shape(), [&x], |[i]| math::float(op, d[i])))
        })
    }

    fn unary(&self, op: UnaryOp, x: View) -> Buffer {
        with_dtype!(x.dtype(), T => {
            let d = x.data::<T>();
            with_unary_fn!(op, T, f => T::into_buffer(collect(x.shape(), [&x], |[i]| f(d[i]))))
        })
    }

    fn grad_unary(&self, op: GradOp, g: View, y: View) -> Buffer {
        with_float!(g.dtype(), T => {
            let (dg, dy) = (g.data::<T>(), y.data::<T>());
            T::into_buffer(collect(g.shape(), [&g, &y], |[i, j]| math::grad(op, dg[i], dy[j])))
        })
    }

    fn where_(&self, cond: View, a: View, b: View, shape: &[usize]) -> Buffer {
        let c = cond.data::<bool>();
        with_dtype!(a.dtype(), T => {
            let (x, y) = (a.data::<T>(), b.data::<T>());
            T::into_buffer(collect(shape, [&cond, &a, &b], |[k, i, j]| if c[k] { x[i] } else { y[j] }))
        })
    }

    fn copy(&self, x: View, to: DType) -> Buffer {
        with_dtype!(x.dtype(), S => with_dtype!(to, T => {
            let d = x.data::<S>();
            T::into_buffer(collect(x.shape(), [&x], |[i]| convert::<S, T>(d[i])))
        }))
    }

    fn inplace(&self, op: InplaceOp, dst: &mut Buffer, ld: &Layout, src: View) {
        with_dtype!(dst.dtype(), T => {
            let s = src.data::<T>();
            let d = T::slice_mut(dst);
            let ss = src.layout.broadcast_strides(&ld.shape);
            for_each_offsets(&ld.shape, [&ld.strides, &ss], [ld.offset, src.layout.offset], |[i, j]| {
                d[i] = match op {
                    InplaceOp::Add(1.0) => T::add(d[i], s[j]),
                    InplaceOp::Add(alpha) => T::add(d[i], T::mul(T::from_f64(alpha), s[j])),
                    InplaceOp::Mul => T::mul(d[i], s[j]),
                    InplaceOp::Copy => s[j],
                }
            });
        })
    }

    fn inplace_scalar(&self, dst: &mut Buffer, ld: &Layout, s: Scalar, mul: bool) {
        with_dtype!(dst.dtype(), T => {
            let v = T::from_scalar(s);
            let d = T::slice_mut(dst);
            for_each_offsets(&ld.shape, [&ld.strides], [ld.offset], |[i]| {
                d[i] = if mul { T::mul(d[i], v) } else { v }
            });
        })
    }
}
