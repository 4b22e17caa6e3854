//! The seam between the ops and the kernels: the [`Backend`] trait, keyed by op
//! enums, and one implementation per [`Device`].
//!
//! NOTE(layers): the crate is built in layers that only look down.
//! - `tensor`: the data model (the `Tensor` handle, `DType`, `Device`, strided
//!   `Layout`, storage, printing); it knows no op.
//! - `backend`: kernels over buffers and layouts, one implementation per
//!   device: `cpu` (SIMD, threads, the `gemm` crate) and `reference` (plain
//!   loops). It sees `tensor`'s data types, never an op.
//! - `autograd`: the graph and the backward driver; it knows no op either.
//! - `ops`: the public tensor API. Each op checks shapes and dtypes, promotes,
//!   calls the backend of its inputs' device, and records its backward node,
//!   declared next to it.
//! - `nn`, `optim`, `data`, `vision`, `train`, `plot`, `io` above, and `cli` on
//!   top, calling the library only.
//!
//! A new backend (a GPU) is one more `Memory` variant (`tensor/storage.rs`), one
//! more `Device`, and one more implementation of this trait.

pub(crate) mod cpu;
pub(crate) mod math;
pub(crate) mod reference;

use crate::tensor::{Buffer, DType, Device, Element, Layout, Scalar};

/// A tensor's elements as a kernel sees them: its buffer and its layout.
#[derive(Clone, Copy)]
pub(crate) struct View<'a> {
    pub buf: &'a Buffer,
    pub layout: &'a Layout,
}

impl<'a> View<'a> {
    pub fn dtype(&self) -> DType {
        self.buf.dtype()
    }

    /// The whole buffer as `T`s (the layout says which elements are the view's).
    pub fn data<T: Element>(&self) -> &'a [T] {
        T::slice(self.buf)
    }

    pub fn shape(&self) -> &'a [usize] {
        &self.layout.shape
    }
}

/// The binary arithmetic ops.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryOp {
    /// `a + b`
    Add,
    /// `a - b`
    Sub,
    /// `a * b`
    Mul,
    /// true division `a / b` (integers give float32)
    Div,
    /// `a ** b`
    Pow,
    /// elementwise maximum
    Maximum,
    /// elementwise minimum
    Minimum,
}

/// Comparison ops; results are bool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// Float functions of one element (inputs already float32 or float64).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FloatOp {
    Exp,
    Log,
    Sqrt,
    Tanh,
    Sigmoid,
    Sin,
    Cos,
    Erf,
}

/// Functions of one element of any dtype, keeping it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum UnaryOp {
    /// `max(x, 0)`
    Relu,
    /// `-x` (wrapping for integers)
    Neg,
    /// `|x|`
    Abs,
    /// -1, 0 or 1
    Sign,
    /// `x` clamped into `[min, max]`, either bound optional.
    Clamp(Option<f64>, Option<f64>),
}

/// The fused gradients of activations that saved their output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GradOp {
    Tanh,
    Sigmoid,
    Relu,
}

/// In-place updates of a destination from a source broadcast to it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum InplaceOp {
    /// `dst += alpha * src`
    Add(f64),
    /// `dst *= src`
    Mul,
    /// `dst = src`
    Copy,
}

/// The kernels a device provides. Inputs of one call share a dtype unless a
/// method says otherwise; outputs are contiguous buffers in row-major order of
/// the output shape.
pub(crate) trait Backend: Sync {
    /// `op(a, b)` over the broadcast `shape`.
    fn binary(&self, op: BinaryOp, a: View, b: View, shape: &[usize]) -> Buffer;
    /// `op(a, b)` as bools over the broadcast `shape`.
    fn compare(&self, op: CmpOp, a: View, b: View, shape: &[usize]) -> Buffer;
    /// `op(a, s)`, or `op(s, a)` when `reversed`, in dtype `out`: `a`'s dtype,
    /// or float32 for uint8 `a` (pixels to floats in one pass).
    fn binary_scalar(&self, op: BinaryOp, a: View, s: Scalar, reversed: bool, out: DType)
        -> Buffer;
    /// `op(a, s)` as bools.
    fn compare_scalar(&self, op: CmpOp, a: View, s: Scalar) -> Buffer;
    /// `op(x)` for float `x`.
    fn float_unary(&self, op: FloatOp, x: View) -> Buffer;
    /// `op(x)` for any dtype.
    fn unary(&self, op: UnaryOp, x: View) -> Buffer;
    /// `op(g, y)` for a gradient and a saved output of one shape and float dtype.
    fn grad_unary(&self, op: GradOp, g: View, y: View) -> Buffer;
    /// `cond ? a : b` over the broadcast `shape`.
    fn where_(&self, cond: View, a: View, b: View, shape: &[usize]) -> Buffer;
    /// The elements in row-major order, converted to `to` as `.to(dtype)` does.
    fn copy(&self, x: View, to: DType) -> Buffer;
    /// `dst op= src`, `src` broadcast to `dst`'s layout and of `dst`'s dtype.
    fn inplace(&self, op: InplaceOp, dst: &mut Buffer, dst_layout: &Layout, src: View);
    /// `dst = f(dst)` for `dst *= s` (`mul`) or `dst = s` (`fill`).
    fn inplace_scalar(&self, dst: &mut Buffer, dst_layout: &Layout, s: Scalar, mul: bool);
}

/// The backend of a device.
pub(crate) fn backend(device: Device) -> &'static dyn Backend {
    match device {
        Device::Cpu => &cpu::Cpu,
        Device::Reference => &reference::Reference,
    }
}
