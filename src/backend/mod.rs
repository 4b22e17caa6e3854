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

use std::ops::Range;

use crate::tensor::{Buffer, DType, Device, Element, Layout, Scalar};
pub(crate) use math::{AdadeltaStep, AdamStep, FloatOp, RmspropStep, SgdStep};

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

/// Reductions along one dimension: floats keep their dtype and accumulate in
/// f64; integers and bools give int64.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReduceOp {
    Sum,
    Prod,
}

/// Where a 2-D window (a convolution's kernel, a pooling window) lands on an
/// NCHW input: output row `oh` reads input rows `oh * stride - pad + i *
/// dilation` for `i < kernel`, and rows outside the input read as zeros.
/// Padding after the input (PyTorch's `'same'` with an even kernel pads one
/// more row after than before) shows only in `out`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Conv2dGeometry {
    /// `[n, c, h, w]` of the input.
    pub input: [usize; 4],
    /// Output channels (`o`).
    pub out_channels: usize,
    /// `[kh, kw]`.
    pub kernel: [usize; 2],
    pub stride: [usize; 2],
    /// Zeros before the first row and column.
    pub pad: [usize; 2],
    pub dilation: [usize; 2],
    pub groups: usize,
    /// `[oh, ow]`.
    pub out: [usize; 2],
}

impl Conv2dGeometry {
    /// The input row (or column, `axis` 1) that output position `o` reads at
    /// kernel tap `k`, if it is inside the input.
    #[inline(always)]
    pub fn source(&self, axis: usize, o: usize, k: usize) -> Option<usize> {
        let i = (o * self.stride[axis] + k * self.dilation[axis]).checked_sub(self.pad[axis])?;
        (i < self.input[2 + axis]).then_some(i)
    }

    /// The output positions (along `axis`) whose kernel tap `k` lands inside
    /// the input, `lo..hi`, and the input position of the first: position `o`
    /// in the range reads `first + (o - lo) * stride`.
    pub fn span(&self, axis: usize, k: usize) -> (std::ops::Range<usize>, usize) {
        let (s, size, out) = (self.stride[axis], self.input[2 + axis], self.out[axis]);
        let offset = k * self.dilation[axis];
        let pad = self.pad[axis];
        // o·s + offset - pad must be in 0..size.
        let lo = if offset >= pad {
            0
        } else {
            (pad - offset).div_ceil(s)
        };
        let hi = if size + pad > offset {
            (size + pad - offset).div_ceil(s).min(out)
        } else {
            0
        };
        let lo = lo.min(hi);
        (lo..hi, (lo * s + offset).saturating_sub(pad))
    }

    /// The flat index PyTorch's max pooling reports for a window that holds
    /// no input element (possible with dilation and padding; its value is the
    /// dtype's lowest): where its first tap would be, each start moved past
    /// the padding by whole dilation steps. It may lie outside the plane; the
    /// gradient then goes nowhere.
    pub fn empty_window_index(&self, y: usize, x: usize) -> i64 {
        let start = |axis: usize, o: usize| {
            let (s, d) = (
                (o * self.stride[axis]) as i64 - self.pad[axis] as i64,
                self.dilation[axis] as i64,
            );
            if s < 0 {
                s + (-s + d - 1) / d * d
            } else {
                s
            }
        };
        start(0, y) * self.input[3] as i64 + start(1, x)
    }

    /// `[n, o, oh, ow]`.
    pub fn output_shape(&self) -> [usize; 4] {
        [self.input[0], self.out_channels, self.out[0], self.out[1]]
    }

    /// `[o, c / groups, kh, kw]`.
    pub fn weight_shape(&self) -> [usize; 4] {
        [
            self.out_channels,
            self.input[1] / self.groups,
            self.kernel[0],
            self.kernel[1],
        ]
    }
}

/// Pooling windows over an NCHW input, as PyTorch's average and adaptive
/// pools cut them: output row `y` reads input rows `rows[y]` (a range inside
/// the input), column `x` columns `cols[x]`; an average divides the sum by
/// `divisor[y * ow + x]` (which counts padding for `count_include_pad`; empty
/// for a max pool).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct PoolWindows {
    /// `[n, c, h, w]` of the input.
    pub input: [usize; 4],
    pub rows: Vec<Range<usize>>,
    pub cols: Vec<Range<usize>>,
    pub divisor: Vec<f64>,
}

impl PoolWindows {
    /// `[n, c, oh, ow]`.
    pub fn output_shape(&self) -> [usize; 4] {
        [
            self.input[0],
            self.input[1],
            self.rows.len(),
            self.cols.len(),
        ]
    }
}

/// The kernels a device provides. Inputs of one call share a dtype unless a
/// method says otherwise; outputs are contiguous buffers in row-major order of
/// the output shape.
/// What [`Backend::conv2d_then`] does to a convolution's output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ConvThen {
    /// ReLU.
    Relu,
    /// ReLU, then `max_pool2d(2)`.
    ReluMaxPool2,
}

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

    /// `op` over each lane along `dim`, in row-major order of the other dims.
    fn reduce(&self, op: ReduceOp, x: View, dim: usize) -> Buffer;
    /// Each lane's largest (`max`) or smallest value and its index (int64).
    fn arg_extreme(&self, x: View, dim: usize, max: bool) -> (Buffer, Buffer);
    /// Each lane's variance, `Σ(x - mean)² / (n - correction)`.
    fn var(&self, x: View, dim: usize, correction: usize) -> Buffer;
    /// The running sum along `dim`, in `x`'s shape (floats keep their dtype and
    /// accumulate in f64; integers and bools give int64).
    fn cumsum(&self, x: View, dim: usize) -> Buffer;
    /// Softmax (or log-softmax) of each lane along `dim`, in `x`'s shape.
    fn softmax(&self, x: View, dim: usize, log: bool) -> Buffer;

    /// `bias + a·b` for `a: [m, k]`, `b: [k, n]` and `bias` viewed as `[m, n]`.
    fn matmul(&self, a: View, b: View, bias: Option<View>) -> Buffer;
    /// Batched `a·b` for `[..., m, k]` and `[..., k, n]` of one batch shape.
    fn bmm(&self, a: View, b: View) -> Buffer;

    /// The slices of `x` at `rows` along `dim`, in order (`x`'s shape with
    /// `dim` of `rows.len()`).
    fn index_select(&self, x: View, dim: usize, rows: &[usize]) -> Buffer;
    /// A copy of `x` with slice `k` of `src` along `dim` added at slice
    /// `rows[k]`.
    fn index_add(&self, x: View, dim: usize, rows: &[usize], src: View) -> Buffer;
    /// `out[p] = x[p with coordinate dim replaced by index[p]]` for every
    /// position `p` of `index_shape` (`index` row-major, in range).
    fn gather(&self, x: View, dim: usize, index: &[usize], index_shape: &[usize]) -> Buffer;
    /// A contiguous copy of `x` with `src[p]` added at `p` with coordinate
    /// `dim` replaced by `index[p]`, for every position `p` of `index_shape`.
    fn scatter_add(
        &self,
        x: View,
        dim: usize,
        index: &[usize],
        index_shape: &[usize],
        src: View,
    ) -> Buffer;
    /// The parts joined along `dim` into `shape` (parts of one dtype).
    fn cat(&self, parts: &[View], dim: usize, shape: &[usize]) -> Buffer;
    /// A copy of `x` with the order reversed along each of `dims`.
    fn flip(&self, x: View, dims: &[usize]) -> Buffer;

    /// Cross-entropy of each row of `logits` `[n, c]` at its class in
    /// `target`: the losses (in f64) and the rows' softmax (for the gradient).
    fn cross_entropy(&self, logits: View, target: &[usize]) -> (Vec<f64>, Buffer);
    /// The cross-entropy gradient: `scale[i] · (softmax[i] - onehot(target[i]))`.
    fn cross_entropy_grad(&self, probs: View, target: &[usize], scale: &[f64]) -> Buffer;

    /// A 2-D convolution (cross-correlation, as PyTorch's) of `x`
    /// `[n, c, h, w]` with `weight` `[o, c / groups, kh, kw]`, plus `bias`
    /// `[o]`: `[n, o, oh, ow]`. Float dtypes only.
    fn conv2d(&self, x: View, weight: View, bias: Option<View>, geo: &Conv2dGeometry) -> Buffer;
    /// [`Backend::conv2d`], then `then` (ReLU, or ReLU and `max_pool2d(2)`:
    /// `[n, o, oh / 2, ow / 2]`), in one pass, with the bits of the ops in
    /// turn. For inference (nothing is kept for a gradient); `None` where
    /// the backend has no such pass for `geo`, and the caller runs the ops.
    fn conv2d_then(
        &self,
        _x: View,
        _weight: View,
        _bias: Option<View>,
        _geo: &Conv2dGeometry,
        _then: ConvThen,
    ) -> Option<Buffer> {
        None
    }
    /// `max_pool2d(relu(conv2d(x, weight, bias)), 2)` and where each
    /// window's maximum was (`u8`, 0 to 3 in row-major order) in one pass,
    /// for training, where the backend has one
    /// (NOTE(conv-relu-pool-training)); `None` runs the separate ops.
    fn conv2d_relu_pool2(
        &self,
        _x: View,
        _weight: View,
        _bias: Option<View>,
        _geo: &Conv2dGeometry,
    ) -> Option<(Buffer, Buffer)> {
        None
    }
    /// The gradient of the convolution's output `out` under
    /// [`Backend::conv2d_relu_pool2`], from the pooled gradient `g`, the
    /// pooled values and the indices it returned. Called only for a
    /// backend whose `conv2d_relu_pool2` returns them.
    fn relu_pool2_grad(&self, _g: View, _pooled: View, _indices: View, _out: [usize; 4]) -> Buffer {
        unreachable!("relu_pool2_grad without conv2d_relu_pool2")
    }
    /// The gradient of [`Backend::conv2d`] with respect to its input, from the
    /// output's gradient `g` `[n, o, oh, ow]`: `[n, c, h, w]`.
    fn conv2d_grad_input(&self, g: View, weight: View, geo: &Conv2dGeometry) -> Buffer;
    /// The gradient of [`Backend::conv2d`] with respect to its weight:
    /// `[o, c / groups, kh, kw]`.
    fn conv2d_grad_weight(&self, g: View, x: View, geo: &Conv2dGeometry) -> Buffer;

    /// The gradient of [`Backend::conv2d`] with respect to its bias: `g`
    /// summed over the batch and the positions, per output channel, in f64.
    fn conv2d_grad_bias(&self, g: View, geo: &Conv2dGeometry) -> Buffer;
    /// The mean of each window of `x` (floats), `[n, c, oh, ow]`; sums in f64.
    fn avg_pool2d(&self, x: View, windows: &PoolWindows) -> Buffer;
    /// The gradient of [`Backend::avg_pool2d`]: each window's gradient spread
    /// evenly (divided by its divisor) over its elements, `[n, c, h, w]`.
    fn avg_pool2d_grad(&self, g: View, windows: &PoolWindows) -> Buffer;
    /// The maximum of each window of `x` `[n, c, h, w]` (`geo.out_channels`
    /// is `c`; padding never wins; NaN does, as in PyTorch), and where it is:
    /// the flat index `row * w + column` into its input plane, as int64.
    fn max_pool2d(&self, x: View, geo: &Conv2dGeometry) -> (Buffer, Buffer);
    /// The gradient of [`Backend::max_pool2d`]: each window's gradient added
    /// at its maximum, `[n, c, h, w]`.
    /// `g` and `indices` are `[n, c, oh, ow]`; `input` is `[n, c, h, w]`.
    fn max_pool2d_grad(&self, g: View, indices: View, input: [usize; 4]) -> Buffer;
    /// The maximum of each of the windows over `x` (floats) and its flat
    /// index into its plane, as [`Backend::max_pool2d`] (for
    /// `adaptive_max_pool2d`, whose windows are not evenly spaced).
    fn adaptive_max_pool2d(&self, x: View, windows: &PoolWindows) -> (Buffer, Buffer);

    /// Rows `rows` of a contiguous `[N, ...]` uint8 tensor, flattened; with
    /// `steps`, as float32 through `(v - sub) / div` per step in turn.
    fn pixel_rows(&self, data: View, rows: &[usize], steps: &[(f32, f32)]) -> Buffer;

    /// One SGD step on the float elements `range` of `param`, in place, from a
    /// contiguous gradient of the same dtype (and the momentum buffer, as long
    /// as the range, when there is momentum).
    fn sgd_step(
        &self,
        param: &mut Buffer,
        range: Range<usize>,
        grad: View,
        momentum: Option<&mut Buffer>,
        step: &SgdStep,
    );
    /// One Adadelta step on `range` of `param`, with its `square_avg` and
    /// `acc_delta` buffers.
    fn adadelta_step(
        &self,
        param: &mut Buffer,
        range: Range<usize>,
        grad: View,
        buffers: [&mut Buffer; 2],
        step: &AdadeltaStep,
    );
    /// One RMSprop step on `range` of `param`, with its `square_avg`,
    /// `momentum_buffer` and `grad_avg` buffers.
    fn rmsprop_step(
        &self,
        param: &mut Buffer,
        range: Range<usize>,
        grad: View,
        buffers: [&mut Buffer; 3],
        step: &RmspropStep,
    );
    /// One Adam/AdamW step on `range` of `param`, with its `exp_avg`,
    /// `exp_avg_sq` and `max_exp_avg_sq` buffers.
    fn adam_step(
        &self,
        param: &mut Buffer,
        range: Range<usize>,
        grad: View,
        moments: [&mut Buffer; 3],
        step: &AdamStep,
    );
}

/// The backend of a device.
pub(crate) fn backend(device: Device) -> &'static dyn Backend {
    match device {
        Device::Cpu => cpu::Cpu::get(),
        Device::Reference => &reference::Reference,
    }
}
