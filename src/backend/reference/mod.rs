//! The reference backend: every kernel as the plainest loop over the output's
//! indices, on one thread, with no fast paths and no run-time SIMD. It shares
//! the element functions with the CPU backend (`backend::math`), so
//! elementwise results agree bit for bit; where the CPU backend sums in another
//! order (products, reductions) they agree to rounding. Tests hold the CPU
//! backend to it (`Device::Reference`).

use crate::backend::math::{
    self, beats, cross_entropy_row, softmax_lane, variance, with_unary_fn, Arith,
};
use std::ops::Range;

mod conv;

use crate::backend::math::rmsprop_element;
use crate::backend::math::{
    adadelta_element, adam_element, sgd_element, sgd_momentum_element, AdadeltaConsts, AdamConsts,
    SgdConsts,
};
use crate::backend::{
    AdadeltaStep, AdamStep, Backend, BinaryOp, CmpOp, Conv2dGeometry, FloatOp, GradOp, InplaceOp,
    PoolWindows, ReduceOp, RmspropStep, SgdStep, UnaryOp, View,
};
use crate::tensor::layout::contiguous_strides;
use crate::tensor::layout::for_each_offsets;
use crate::tensor::{
    convert, with_dtype, with_float, Buffer, DType, Element, Float, Layout, Scalar,
};

/// The plain-loop backend.
pub(crate) struct Reference;

/// `f` at the storage offsets of every element of `shape`, for each view
/// broadcast to it.
fn walk<const N: usize>(shape: &[usize], views: [&View; N], mut f: impl FnMut([usize; N])) {
    walk_dyn(shape, views, &mut f)
}

/// [`walk`], compiled once per `N` rather than once per `f` (NOTE(build-time)).
fn walk_dyn<const N: usize>(shape: &[usize], views: [&View; N], f: &mut dyn FnMut([usize; N])) {
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

/// The storage offsets of each lane along `dim` of `x`, lane by lane in
/// row-major order of the other dims, with the offset of the lane's first
/// element in a contiguous array of `x`'s shape.
fn lanes(x: &View, dim: usize) -> Vec<(Vec<usize>, usize, usize)> {
    let l = x.layout;
    let out_strides = contiguous_strides(&l.shape);
    let mut shape = l.shape.clone();
    let len = shape.remove(dim);
    let mut strides = l.strides.clone();
    let stride = strides.remove(dim);
    let mut os = out_strides.clone();
    let out_stride = os.remove(dim);
    let mut out = Vec::new();
    if len == 0 && shape.contains(&0) {
        return out;
    }
    for_each_offsets(&shape, [&strides, &os], [l.offset, 0], |[start, o]| {
        out.push((
            (0..len).map(|k| start + k * stride).collect(),
            o,
            out_stride,
        ))
    });
    out
}

/// The coordinates of every position of `shape`, in row-major order.
fn positions(shape: &[usize]) -> Vec<Vec<usize>> {
    let n: usize = shape.iter().product();
    (0..n)
        .map(|mut flat| {
            let mut p = vec![0; shape.len()];
            for d in (0..shape.len()).rev() {
                p[d] = flat % shape[d];
                flat /= shape[d];
            }
            p
        })
        .collect()
}

/// The storage offset of coordinates `p` in a view.
fn at(l: &Layout, p: &[usize]) -> usize {
    l.offset + p.iter().zip(&l.strides).map(|(i, s)| i * s).sum::<usize>()
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

    fn reduce(&self, op: ReduceOp, x: View, dim: usize) -> Buffer {
        with_dtype!(x.dtype(), T => {
            let d = x.data::<T>();
            let lanes = lanes(&x, dim);
            if x.dtype().is_floating_point() {
                with_float!(x.dtype(), F => F::into_buffer(lanes.iter().map(|(idx, _, _)| {
                    let mut acc = if op == ReduceOp::Sum { 0f64 } else { 1f64 };
                    for &i in idx {
                        let v = d[i].to_f64();
                        acc = if op == ReduceOp::Sum { acc + v } else { acc * v };
                    }
                    F::from_f64(acc)
                }).collect()))
            } else {
                i64::into_buffer(lanes.iter().map(|(idx, _, _)| {
                    let mut acc = if op == ReduceOp::Sum { 0i64 } else { 1i64 };
                    for &i in idx {
                        let v = d[i].to_i64();
                        acc = if op == ReduceOp::Sum { acc.wrapping_add(v) } else { acc.wrapping_mul(v) };
                    }
                    acc
                }).collect())
            }
        })
    }

    fn arg_extreme(&self, x: View, dim: usize, max: bool) -> (Buffer, Buffer) {
        with_dtype!(x.dtype(), T => {
            let d = x.data::<T>();
            let (mut values, mut indices) = (Vec::new(), Vec::new());
            for (idx, _, _) in lanes(&x, dim) {
                let mut best = 0;
                for k in 1..idx.len() {
                    if beats(d[idx[k]], d[idx[best]], max) {
                        best = k;
                    }
                }
                values.push(d[idx[best]]);
                indices.push(best as i64);
            }
            (T::into_buffer(values), i64::into_buffer(indices))
        })
    }

    fn var(&self, x: View, dim: usize, correction: usize) -> Buffer {
        with_float!(x.dtype(), T => {
            let d = x.data::<T>();
            T::into_buffer(lanes(&x, dim).iter().map(|(idx, _, _)| {
                T::from_f64(variance(idx.iter().map(|&i| d[i].to_f64()), correction))
            }).collect())
        })
    }

    fn cumsum(&self, x: View, dim: usize) -> Buffer {
        let n: usize = x.shape().iter().product();
        with_dtype!(x.dtype(), T => {
            let d = x.data::<T>();
            if x.dtype().is_floating_point() {
                with_float!(x.dtype(), F => {
                    let mut out = vec![F::ZERO; n];
                    for (idx, start, step) in lanes(&x, dim) {
                        let mut acc = 0f64;
                        for (k, &i) in idx.iter().enumerate() {
                            acc += d[i].to_f64();
                            out[start + k * step] = F::from_f64(acc);
                        }
                    }
                    F::into_buffer(out)
                })
            } else {
                let mut out = vec![0i64; n];
                for (idx, start, step) in lanes(&x, dim) {
                    let mut acc = 0i64;
                    for (k, &i) in idx.iter().enumerate() {
                        acc = acc.wrapping_add(d[i].to_i64());
                        out[start + k * step] = acc;
                    }
                }
                i64::into_buffer(out)
            }
        })
    }

    fn softmax(&self, x: View, dim: usize, log: bool) -> Buffer {
        let n: usize = x.shape().iter().product();
        with_float!(x.dtype(), T => {
            let d = x.data::<T>();
            let mut out = vec![T::ZERO; n];
            if x.shape().is_empty() {
                let mut one = [T::ZERO];
                softmax_lane(&[d[x.layout.offset]], &mut one, log);
                out[0] = one[0];
            }
            for (idx, start, step) in lanes(&x, dim) {
                let src: Vec<T> = idx.iter().map(|&i| d[i]).collect();
                let mut dst = vec![T::ZERO; src.len()];
                softmax_lane(&src, &mut dst, log);
                for (k, v) in dst.into_iter().enumerate() {
                    out[start + k * step] = v;
                }
            }
            T::into_buffer(out)
        })
    }

    fn matmul(&self, a: View, b: View, bias: Option<View>) -> Buffer {
        let (m, k, n) = (a.shape()[0], a.shape()[1], b.shape()[1]);
        let (la, lb) = (a.layout, b.layout);
        with_dtype!(a.dtype(), T => {
            let (da, db) = (a.data::<T>(), b.data::<T>());
            let at = |i: usize, p: usize| da[la.offset + i * la.strides[0] + p * la.strides[1]];
            let bt = |p: usize, j: usize| db[lb.offset + p * lb.strides[0] + j * lb.strides[1]];
            let init = |i: usize, j: usize| bias.map(|c| {
                let l = c.layout;
                c.data::<T>()[l.offset + i * l.strides[0] + j * l.strides[1]]
            });
            let mut out = Vec::with_capacity(m * n);
            for i in 0..m {
                for j in 0..n {
                    out.push(if T::DTYPE.is_floating_point() {
                        // Summed in f64 and rounded once: the exact product, to
                        // which the blocked float kernels are compared.
                        let mut s = init(i, j).map_or(0.0, |v| v.to_f64());
                        for p in 0..k {
                            s += at(i, p).to_f64() * bt(p, j).to_f64();
                        }
                        T::from_f64(s)
                    } else {
                        let mut s = init(i, j).map_or(0, |v| v.to_i64());
                        for p in 0..k {
                            s = s.wrapping_add(at(i, p).to_i64().wrapping_mul(bt(p, j).to_i64()));
                        }
                        T::from_i64(s)
                    });
                }
            }
            T::into_buffer(out)
        })
    }

    fn bmm(&self, a: View, b: View) -> Buffer {
        let nd = a.shape().len();
        let batch: Vec<usize> = a.shape()[..nd - 2].to_vec();
        let (m, n) = (a.shape()[nd - 2], b.shape()[nd - 1]);
        let mut parts: Vec<Buffer> = Vec::new();
        let count: usize = batch.iter().product();
        for index in 0..count {
            // The batch element's 2-D views.
            let (mut oa, mut ob, mut rest) = (a.layout.offset, b.layout.offset, index);
            for d in (0..nd - 2).rev() {
                let i = rest % batch[d];
                rest /= batch[d];
                oa += i * a.layout.strides[d];
                ob += i * b.layout.strides[d];
            }
            let la = Layout {
                shape: a.shape()[nd - 2..].into(),
                strides: a.layout.strides[nd - 2..].into(),
                offset: oa,
            };
            let lb = Layout {
                shape: b.shape()[nd - 2..].into(),
                strides: b.layout.strides[nd - 2..].into(),
                offset: ob,
            };
            parts.push(self.matmul(
                View {
                    buf: a.buf,
                    layout: &la,
                },
                View {
                    buf: b.buf,
                    layout: &lb,
                },
                None,
            ));
        }
        with_dtype!(a.dtype(), T => {
            let mut out: Vec<T> = Vec::with_capacity(count * m * n);
            for p in &parts {
                out.extend_from_slice(T::slice(p));
            }
            T::into_buffer(out)
        })
    }

    fn index_select(&self, x: View, dim: usize, rows: &[usize]) -> Buffer {
        let mut shape = x.shape().to_vec();
        shape[dim] = rows.len();
        with_dtype!(x.dtype(), T => {
            let d = x.data::<T>();
            T::into_buffer(positions(&shape).into_iter().map(|mut p| {
                p[dim] = rows[p[dim]];
                d[at(x.layout, &p)]
            }).collect())
        })
    }

    fn index_add(&self, x: View, dim: usize, rows: &[usize], src: View) -> Buffer {
        with_dtype!(x.dtype(), T => {
            let (d, s) = (x.data::<T>(), src.data::<T>());
            let strides = contiguous_strides(x.shape());
            let mut out: Vec<T> = positions(x.shape()).iter().map(|p| d[at(x.layout, p)]).collect();
            for p in positions(src.shape()) {
                let mut q = p.clone();
                q[dim] = rows[p[dim]];
                let o: usize = q.iter().zip(&strides).map(|(i, s)| i * s).sum();
                out[o] = T::add(out[o], s[at(src.layout, &p)]);
            }
            T::into_buffer(out)
        })
    }

    fn gather(&self, x: View, dim: usize, index: &[usize], index_shape: &[usize]) -> Buffer {
        with_dtype!(x.dtype(), T => {
            let d = x.data::<T>();
            T::into_buffer(positions(index_shape).into_iter().enumerate().map(|(k, mut p)| {
                if !p.is_empty() {
                    p[dim] = index[k];
                }
                d[at(x.layout, &p)]
            }).collect())
        })
    }

    fn scatter_add(
        &self,
        x: View,
        dim: usize,
        index: &[usize],
        index_shape: &[usize],
        src: View,
    ) -> Buffer {
        with_dtype!(x.dtype(), T => {
            let (d, s) = (x.data::<T>(), src.data::<T>());
            let strides = contiguous_strides(x.shape());
            let mut out: Vec<T> = positions(x.shape()).iter().map(|p| d[at(x.layout, p)]).collect();
            for (k, p) in positions(index_shape).into_iter().enumerate() {
                let mut q = p.clone();
                if !q.is_empty() {
                    q[dim] = index[k];
                }
                let o: usize = q.iter().zip(&strides).map(|(i, s)| i * s).sum();
                out[o] = T::add(out[o], s[at(src.layout, &p)]);
            }
            T::into_buffer(out)
        })
    }

    fn cat(&self, parts: &[View], dim: usize, shape: &[usize]) -> Buffer {
        with_dtype!(parts[0].dtype(), T => {
            T::into_buffer(positions(shape).into_iter().map(|mut p| {
                let mut part = 0;
                while p[dim] >= parts[part].shape()[dim] {
                    p[dim] -= parts[part].shape()[dim];
                    part += 1;
                }
                parts[part].data::<T>()[at(parts[part].layout, &p)]
            }).collect())
        })
    }

    fn flip(&self, x: View, dims: &[usize]) -> Buffer {
        with_dtype!(x.dtype(), T => {
            let d = x.data::<T>();
            T::into_buffer(positions(x.shape()).into_iter().map(|mut p| {
                for &k in dims {
                    p[k] = x.shape()[k] - 1 - p[k];
                }
                d[at(x.layout, &p)]
            }).collect())
        })
    }

    fn cross_entropy(&self, logits: View, target: &[usize]) -> (Vec<f64>, Buffer) {
        let (n, c) = (logits.shape()[0], logits.shape()[1]);
        with_float!(logits.dtype(), T => {
            let d = logits.data::<T>();
            let l = logits.layout;
            let mut probs = vec![T::ZERO; n * c];
            let mut losses = Vec::with_capacity(n);
            for i in 0..n {
                let row: Vec<T> = (0..c).map(|j| d[l.offset + i * l.strides[0] + j * l.strides[1]]).collect();
                losses.push(cross_entropy_row(&row, &mut probs[i * c..(i + 1) * c], target[i]));
            }
            (losses, T::into_buffer(probs))
        })
    }

    fn cross_entropy_grad(&self, probs: View, target: &[usize], scale: &[f64]) -> Buffer {
        let (n, c) = (probs.shape()[0], probs.shape()[1]);
        with_float!(probs.dtype(), T => {
            let d = probs.data::<T>();
            let l = probs.layout;
            let mut out = Vec::with_capacity(n * c);
            for i in 0..n {
                let s = T::from_f64(scale[i]);
                for j in 0..c {
                    let v = d[l.offset + i * l.strides[0] + j * l.strides[1]] * s;
                    out.push(if j == target[i] { v - s } else { v });
                }
            }
            T::into_buffer(out)
        })
    }
    fn conv2d(&self, x: View, weight: View, bias: Option<View>, geo: &Conv2dGeometry) -> Buffer {
        conv::conv2d(x, weight, bias, geo)
    }
    fn conv2d_grad_input(&self, g: View, weight: View, geo: &Conv2dGeometry) -> Buffer {
        conv::conv2d_grad_input(g, weight, geo)
    }
    fn conv2d_grad_weight(&self, g: View, x: View, geo: &Conv2dGeometry) -> Buffer {
        conv::conv2d_grad_weight(g, x, geo)
    }
    fn conv2d_grad_bias(&self, g: View, geo: &Conv2dGeometry) -> Buffer {
        conv::conv2d_grad_bias(g, geo)
    }
    fn avg_pool2d(&self, x: View, windows: &PoolWindows) -> Buffer {
        conv::avg_pool2d(x, windows)
    }
    fn avg_pool2d_grad(&self, g: View, windows: &PoolWindows) -> Buffer {
        conv::avg_pool2d_grad(g, windows)
    }
    fn max_pool2d(&self, x: View, geo: &Conv2dGeometry) -> (Buffer, Buffer) {
        conv::max_pool2d(x, geo)
    }
    fn max_pool2d_grad(&self, g: View, indices: View, input: [usize; 4]) -> Buffer {
        conv::max_pool2d_grad(g, indices, input)
    }
    fn adaptive_max_pool2d(&self, x: View, windows: &PoolWindows) -> (Buffer, Buffer) {
        conv::adaptive_max_pool2d(x, windows)
    }
    fn pixel_rows(&self, data: View, rows: &[usize], steps: &[(f32, f32)]) -> Buffer {
        let d = data.data::<u8>();
        let l = data.layout;
        let per_row: usize = data.shape()[1..].iter().product();
        let inner: Vec<Vec<usize>> = positions(&data.shape()[1..]);
        let mut bytes = Vec::new();
        let mut floats = Vec::new();
        for &r in rows {
            for p in &inner {
                let mut full = vec![r];
                full.extend_from_slice(p);
                let v = d[at(l, &full)];
                if steps.is_empty() {
                    bytes.push(v);
                } else {
                    let mut x = v as f32;
                    for &(sub, div) in steps {
                        x = (x - sub) / div;
                    }
                    floats.push(x);
                }
            }
        }
        debug_assert!(bytes.len() + floats.len() == rows.len() * per_row);
        if steps.is_empty() {
            u8::into_buffer(bytes)
        } else {
            f32::into_buffer(floats)
        }
    }
    fn sgd_step(
        &self,
        param: &mut Buffer,
        range: Range<usize>,
        grad: View,
        momentum: Option<&mut Buffer>,
        step: &SgdStep,
    ) {
        with_float!(param.dtype(), T => {
            let k = SgdConsts::<T>::new(step);
            let g = &grad.data::<T>()[grad.layout.offset..];
            let p = &mut T::slice_mut(param)[range];
            match momentum {
                Some(b) => {
                    let b = T::slice_mut(b);
                    for i in 0..p.len() {
                        sgd_momentum_element(&mut p[i], g[i], &mut b[i], &k);
                    }
                }
                None => {
                    for i in 0..p.len() {
                        sgd_element(&mut p[i], g[i], &k);
                    }
                }
            }
        })
    }

    fn rmsprop_step(
        &self,
        param: &mut Buffer,
        range: Range<usize>,
        grad: View,
        buffers: [&mut Buffer; 3],
        step: &RmspropStep,
    ) {
        with_float!(param.dtype(), T => {
            let g = &grad.data::<T>()[grad.layout.offset..];
            let p = &mut T::slice_mut(param)[range];
            let [sq, b, m] = buffers.map(T::slice_mut);
            for i in 0..p.len() {
                rmsprop_element(&mut p[i], g[i], [&mut sq[i], &mut b[i], &mut m[i]], step);
            }
        })
    }
    fn adadelta_step(
        &self,
        param: &mut Buffer,
        range: Range<usize>,
        grad: View,
        buffers: [&mut Buffer; 2],
        step: &AdadeltaStep,
    ) {
        with_float!(param.dtype(), T => {
            let c = AdadeltaConsts::<T>::new(step);
            let g = &grad.data::<T>()[grad.layout.offset..];
            let p = &mut T::slice_mut(param)[range];
            let [sq, acc] = buffers.map(T::slice_mut);
            for i in 0..p.len() {
                adadelta_element(&mut p[i], g[i], &mut sq[i], &mut acc[i], &c);
            }
        })
    }
    fn adam_step(
        &self,
        param: &mut Buffer,
        range: Range<usize>,
        grad: View,
        moments: [&mut Buffer; 3],
        step: &AdamStep,
    ) {
        with_float!(param.dtype(), T => {
            let c = AdamConsts::<T>::new(step);
            let g = &grad.data::<T>()[grad.layout.offset..];
            let p = &mut T::slice_mut(param)[range];
            let [m, v, vmax] = moments.map(T::slice_mut);
            let l2 = !step.decoupled && step.weight_decay != 0.0;
            for i in 0..p.len() {
                if step.decoupled {
                    p[i] *= c.decay;
                }
                match (l2, step.amsgrad) {
                    (false, false) => adam_element::<T, false, false>(&mut p[i], g[i], &mut m[i], &mut v[i], &mut vmax[i], &c),
                    (false, true) => adam_element::<T, false, true>(&mut p[i], g[i], &mut m[i], &mut v[i], &mut vmax[i], &c),
                    (true, false) => adam_element::<T, true, false>(&mut p[i], g[i], &mut m[i], &mut v[i], &mut vmax[i], &c),
                    (true, true) => adam_element::<T, true, true>(&mut p[i], g[i], &mut m[i], &mut v[i], &mut vmax[i], &c),
                }
            }
        })
    }
}
