//! The CPU backend: SIMD loops picked at run time (`simd`), products on the
//! `gemm` crate with kindling's split policy and small-output kernel, and the
//! threads they run on (`runtime`).

mod channel_lanes;
mod conv;
mod data;
mod direct_conv;
mod elementwise;
mod gemm;
mod index;
mod memory;
mod optim;
mod reduce;
pub(crate) mod runtime;
pub(crate) mod simd;
mod small_gemm;
mod winograd;

use std::ops::Range;

use crate::backend::math::cross_entropy_row;
use crate::backend::{
    AdadeltaStep, AdamStep, Backend, BinaryOp, CmpOp, Conv2dGeometry, ConvThen, FloatOp, GradOp,
    InplaceOp, PoolWindows, ReduceOp, RmspropStep, SgdStep, UnaryOp, View,
};
use crate::tensor::{with_float, Buffer, DType, Element, Float, Layout, Scalar};

/// The fast CPU backend.
pub(crate) struct Cpu;

impl Cpu {
    /// The backend, once the process's allocator is set up for it
    /// (NOTE(malloc)).
    pub(crate) fn get() -> &'static Cpu {
        memory::keep_freed_memory();
        &Cpu
    }
}

impl Backend for Cpu {
    fn binary(&self, op: BinaryOp, a: View, b: View, shape: &[usize]) -> Buffer {
        elementwise::binary(op, a, b, shape)
    }
    fn compare(&self, op: CmpOp, a: View, b: View, shape: &[usize]) -> Buffer {
        elementwise::compare(op, a, b, shape)
    }
    fn binary_scalar(
        &self,
        op: BinaryOp,
        a: View,
        s: Scalar,
        reversed: bool,
        out: DType,
    ) -> Buffer {
        elementwise::binary_scalar(op, a, s, reversed, out)
    }
    fn compare_scalar(&self, op: CmpOp, a: View, s: Scalar) -> Buffer {
        elementwise::compare_scalar(op, a, s)
    }
    fn float_unary(&self, op: FloatOp, x: View) -> Buffer {
        elementwise::float_unary(op, x)
    }
    fn unary(&self, op: UnaryOp, x: View) -> Buffer {
        elementwise::unary(op, x)
    }
    fn grad_unary(&self, op: GradOp, g: View, y: View) -> Buffer {
        elementwise::grad_unary(op, g, y)
    }
    fn where_(&self, cond: View, a: View, b: View, shape: &[usize]) -> Buffer {
        elementwise::where_(cond, a, b, shape)
    }
    fn copy(&self, x: View, to: DType) -> Buffer {
        elementwise::copy(x, to)
    }
    fn inplace(&self, op: InplaceOp, dst: &mut Buffer, dst_layout: &Layout, src: View) {
        elementwise::inplace(op, dst, dst_layout, src)
    }
    fn inplace_scalar(&self, dst: &mut Buffer, dst_layout: &Layout, s: Scalar, mul: bool) {
        elementwise::inplace_scalar(dst, dst_layout, s, mul)
    }

    fn reduce(&self, op: ReduceOp, x: View, dim: usize) -> Buffer {
        reduce::reduce(op, x, dim)
    }
    fn arg_extreme(&self, x: View, dim: usize, max: bool) -> (Buffer, Buffer) {
        reduce::extreme(x, dim, max)
    }
    fn var(&self, x: View, dim: usize, correction: usize) -> Buffer {
        reduce::var(x, dim, correction)
    }
    fn cumsum(&self, x: View, dim: usize) -> Buffer {
        reduce::cumsum(x, dim)
    }
    fn softmax(&self, x: View, dim: usize, log: bool) -> Buffer {
        reduce::softmax(x, dim, log)
    }

    fn matmul(&self, a: View, b: View, bias: Option<View>) -> Buffer {
        gemm::matmul(a, b, bias)
    }
    fn bmm(&self, a: View, b: View) -> Buffer {
        gemm::bmm(a, b)
    }

    fn index_select(&self, x: View, dim: usize, rows: &[usize]) -> Buffer {
        index::index_select(x, dim, rows)
    }
    fn index_add(&self, x: View, dim: usize, rows: &[usize], src: View) -> Buffer {
        index::index_add(x, dim, rows, src)
    }
    fn gather(&self, x: View, dim: usize, index: &[usize], index_shape: &[usize]) -> Buffer {
        index::gather(x, dim, index, index_shape)
    }
    fn scatter_add(
        &self,
        x: View,
        dim: usize,
        index: &[usize],
        index_shape: &[usize],
        src: View,
    ) -> Buffer {
        index::scatter_add(x, dim, index, index_shape, src)
    }
    fn cat(&self, parts: &[View], dim: usize, shape: &[usize]) -> Buffer {
        index::cat(parts, dim, shape)
    }
    fn flip(&self, x: View, dims: &[usize]) -> Buffer {
        index::flip(x, dims)
    }

    fn cross_entropy(&self, logits: View, target: &[usize]) -> (Vec<f64>, Buffer) {
        let (n, c) = (logits.shape()[0], logits.shape()[1]);
        with_float!(logits.dtype(), T => {
            let data = elementwise::contiguous_vec::<T>(logits);
            let mut probs = vec![T::ZERO; n * c];
            let losses = data
                .chunks_exact(c.max(1))
                .zip(probs.chunks_exact_mut(c.max(1)))
                .zip(target)
                .map(|((row, p), &t)| cross_entropy_row(row, p, t))
                .collect();
            (losses, T::into_buffer(probs))
        })
    }
    fn cross_entropy_grad(&self, probs: View, target: &[usize], scale: &[f64]) -> Buffer {
        let c = probs.shape()[1];
        with_float!(probs.dtype(), T => {
            let mut out = elementwise::contiguous_vec::<T>(probs);
            for (i, row) in out.chunks_exact_mut(c.max(1)).enumerate().take(target.len()) {
                let s = T::from_f64(scale[i]);
                row.iter_mut().for_each(|v| *v *= s);
                row[target[i]] -= s;
            }
            T::into_buffer(out)
        })
    }
    fn conv2d(&self, x: View, weight: View, bias: Option<View>, geo: &Conv2dGeometry) -> Buffer {
        conv::conv2d(x, weight, bias, geo)
    }
    fn conv2d_then(
        &self,
        x: View,
        weight: View,
        bias: Option<View>,
        geo: &Conv2dGeometry,
        then: ConvThen,
    ) -> Option<Buffer> {
        conv::conv2d_then(x, weight, bias, geo, then)
    }
    fn conv2d_relu_pool2(
        &self,
        x: View,
        weight: View,
        bias: Option<View>,
        geo: &Conv2dGeometry,
    ) -> Option<(Buffer, Buffer)> {
        conv::conv2d_relu_pool2(x, weight, bias, geo)
    }
    fn relu_pool2_grad(&self, g: View, pooled: View, indices: View, out: [usize; 4]) -> Buffer {
        conv::relu_pool2_grad(g, pooled, indices, out)
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
        data::pixel_rows(data, rows, steps)
    }
    fn sgd_step(
        &self,
        param: &mut Buffer,
        range: Range<usize>,
        grad: View,
        momentum: Option<&mut Buffer>,
        step: &SgdStep,
    ) {
        optim::sgd(param, range, grad, momentum, step)
    }
    fn adam_step(
        &self,
        param: &mut Buffer,
        range: Range<usize>,
        grad: View,
        moments: [&mut Buffer; 3],
        step: &AdamStep,
    ) {
        optim::adam(param, range, grad, moments, step)
    }
    fn rmsprop_step(
        &self,
        param: &mut Buffer,
        range: Range<usize>,
        grad: View,
        buffers: [&mut Buffer; 3],
        step: &RmspropStep,
    ) {
        optim::rmsprop(param, range, grad, buffers, step)
    }
    fn adadelta_step(
        &self,
        param: &mut Buffer,
        range: Range<usize>,
        grad: View,
        buffers: [&mut Buffer; 2],
        step: &AdadeltaStep,
    ) {
        optim::adadelta(param, range, grad, buffers, step)
    }
}
