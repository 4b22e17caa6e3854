//! The CPU backend: SIMD loops picked at run time (`simd`), products on the
//! `gemm` crate with kindling's split policy and small-output kernel, and the
//! threads they run on (`runtime`).

mod elementwise;
pub(crate) mod simd;

use crate::backend::{Backend, BinaryOp, CmpOp, FloatOp, GradOp, InplaceOp, UnaryOp, View};
use crate::tensor::{Buffer, DType, Layout, Scalar};

/// The fast CPU backend.
pub(crate) struct Cpu;

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
}
