//! Elementwise ops: arithmetic with broadcasting and type promotion, scalar
//! arithmetic, unary math, comparisons, `where`, and in-place updates.

use super::{device_of, read2, read3};
use crate::autograd::{self, grad_fn, zeros_like_grad};
use crate::backend::{backend, FloatOp, GradOp, InplaceOp, UnaryOp};
use crate::error::{or_panic, Error, Result};
use crate::tensor::dtype::result_type;
use crate::tensor::layout::broadcast_shapes;
use crate::tensor::{DType, Scalar, Tensor};

pub use crate::backend::math::Arith;
pub use crate::backend::{BinaryOp, CmpOp};

/// The tensor converted to `dtype` without recording a graph edge (the caller
/// records the op against the original input).
fn cast(t: &Tensor, dtype: DType) -> Tensor {
    if t.dtype() == dtype {
        t.clone()
    } else {
        crate::autograd::no_grad(|| t.to_dtype(dtype))
    }
}

/// The right-hand side of an in-place op or of `scatter`: a tensor or a
/// Python-style number, so `x.add_(5)`, `x.mul_(0.5)` and `x.add_(&y)` all read
/// as in PyTorch.
#[derive(Clone, Copy, Debug)]
pub enum Operand<'a> {
    /// A tensor, broadcast to the other's shape.
    Tensor(&'a Tensor),
    /// A number, with PyTorch's rules for Python scalars.
    Scalar(Scalar),
}

impl<'a> From<&'a Tensor> for Operand<'a> {
    fn from(t: &'a Tensor) -> Operand<'a> {
        Operand::Tensor(t)
    }
}

macro_rules! operand_from {
    ($($t:ty),*) => {$(
        impl From<$t> for Operand<'_> {
            fn from(v: $t) -> Self {
                Operand::Scalar(Scalar::from(v))
            }
        }
    )*};
}
operand_from!(bool, u8, i32, i64, usize, f32, f64, Scalar);

impl Tensor {
    /// Elementwise `self op other` with broadcasting and PyTorch's type promotion.
    pub fn try_binary(&self, other: &Tensor, op: BinaryOp) -> Result<Tensor> {
        let shape = broadcast_shapes(self.shape(), other.shape())?;
        let mut dtype = result_type(self.dtype(), self.dim(), other.dtype(), other.dim());
        if op == BinaryOp::Div {
            dtype = dtype.to_float();
        }
        if op == BinaryOp::Sub && dtype == DType::Bool {
            return Err(Error::Value(
                "Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` or `logical_xor()` operator instead.".into(),
            ));
        }
        let device = device_of(&[self, other])?;
        let (a, b) = (cast(self, dtype), cast(other, dtype));
        let buf = read2(&a, &b, |va, vb| backend(device).binary(op, va, vb, &shape));
        let out = Tensor::from_buffer_on(buf, &shape, device);
        if !dtype.is_floating_point() {
            return Ok(out);
        }
        let (a, b) = (self.clone(), other.clone());
        Ok(match op {
            BinaryOp::Add => Tensor::record(out, &[self, other], || AddBackward0 { a, b }),
            BinaryOp::Sub => Tensor::record(out, &[self, other], || SubBackward0 { a, b }),
            BinaryOp::Mul => Tensor::record(out, &[self, other], || MulBackward0 { a, b }),
            BinaryOp::Div => Tensor::record(out, &[self, other], || DivBackward0 { a, b }),
            BinaryOp::Pow => Tensor::record(out, &[self, other], || PowBackward1 { a, b }),
            BinaryOp::Maximum => Tensor::record(out, &[self, other], || MaximumBackward0 { a, b }),
            BinaryOp::Minimum => Tensor::record(out, &[self, other], || MinimumBackward0 { a, b }),
        })
    }

    /// Elementwise `self op scalar`; a Python-style scalar promotes only across
    /// categories (`uint8 / 255` is float32, `uint8 + 1` stays uint8).
    pub fn try_binary_scalar(&self, s: impl Into<Scalar>, op: BinaryOp) -> Result<Tensor> {
        let s = s.into();
        let mut dtype = s.result_type_with(self.dtype());
        if op == BinaryOp::Div {
            dtype = dtype.to_float();
        }
        let out = self.scalar_kernel(op, s, false, dtype);
        if !dtype.is_floating_point() {
            return Ok(out);
        }
        let (x, s) = (self.clone(), s.to_f64());
        Ok(match op {
            BinaryOp::Add => Tensor::record(out, &[self], || AddScalarBackward { x }),
            BinaryOp::Sub => Tensor::record(out, &[self], || SubScalarBackward { x }),
            BinaryOp::Mul => Tensor::record(out, &[self], || MulScalarBackward { x, s }),
            BinaryOp::Div => Tensor::record(out, &[self], || DivScalarBackward { x, s }),
            BinaryOp::Pow => Tensor::record(out, &[self], || PowBackward0 { x, e: s }),
            BinaryOp::Maximum | BinaryOp::Minimum => {
                Tensor::record(out, &[self], || ClampBackward1 {
                    x,
                    min: (op == BinaryOp::Maximum).then_some(s),
                    max: (op == BinaryOp::Minimum).then_some(s),
                })
            }
        })
    }

    /// `op(self, s)` (or `op(s, self)`) computed in `dtype`; uint8 input meets
    /// a float scalar inside the loop, without a float copy first.
    fn scalar_kernel(&self, op: BinaryOp, s: Scalar, reversed: bool, dtype: DType) -> Tensor {
        let device = self.device();
        let a = if self.dtype() == DType::U8 && dtype == DType::F32 {
            self.clone()
        } else {
            cast(self, dtype)
        };
        let buf = a.with_view(|v| backend(device).binary_scalar(op, v, s, reversed, dtype));
        Tensor::from_buffer_on(buf, self.shape(), device)
    }

    /// Runs a unary kernel of any dtype.
    fn unary_kernel(&self, op: UnaryOp) -> Tensor {
        let device = self.device();
        let buf = self.with_view(|v| backend(device).unary(op, v));
        Tensor::from_buffer_on(buf, self.shape(), device)
    }

    /// `scalar - self` (PyTorch's `rsub`).
    pub fn rsub_scalar(&self, s: impl Into<Scalar>) -> Tensor {
        let s = s.into();
        let dtype = s.result_type_with(self.dtype());
        let out = self.scalar_kernel(BinaryOp::Sub, s, true, dtype);
        if !dtype.is_floating_point() {
            return out;
        }
        Tensor::record(out, &[self], || RsubBackward1 { x: self.clone() })
    }

    /// `scalar / self`: `reciprocal() * scalar`, as PyTorch computes it.
    pub fn rdiv_scalar(&self, s: impl Into<Scalar>) -> Tensor {
        self.reciprocal().mul_scalar(s.into().to_f64())
    }

    /// `1 / self`, computed as `self ** -1`.
    pub fn reciprocal(&self) -> Tensor {
        self.pow_scalar(-1.0)
    }

    /// `self + other`, broadcasting. Also the `+` operator.
    #[track_caller]
    pub fn add(&self, other: &Tensor) -> Tensor {
        or_panic!(self.try_binary(other, BinaryOp::Add))
    }
    /// `self - other`, broadcasting. Also the `-` operator.
    #[track_caller]
    pub fn sub(&self, other: &Tensor) -> Tensor {
        or_panic!(self.try_binary(other, BinaryOp::Sub))
    }
    /// `self * other`, broadcasting. Also the `*` operator.
    #[track_caller]
    pub fn mul(&self, other: &Tensor) -> Tensor {
        or_panic!(self.try_binary(other, BinaryOp::Mul))
    }
    /// True division `self / other`, broadcasting; integers give float32. Also `/`.
    #[track_caller]
    pub fn div(&self, other: &Tensor) -> Tensor {
        or_panic!(self.try_binary(other, BinaryOp::Div))
    }
    /// `self ** exponent`, elementwise and broadcasting.
    #[track_caller]
    pub fn pow(&self, exponent: &Tensor) -> Tensor {
        or_panic!(self.try_binary(exponent, BinaryOp::Pow))
    }
    /// Elementwise maximum (NaN propagates).
    #[track_caller]
    pub fn maximum(&self, other: &Tensor) -> Tensor {
        or_panic!(self.try_binary(other, BinaryOp::Maximum))
    }
    /// Elementwise minimum (NaN propagates).
    #[track_caller]
    pub fn minimum(&self, other: &Tensor) -> Tensor {
        or_panic!(self.try_binary(other, BinaryOp::Minimum))
    }
    /// `self + s`.
    #[track_caller]
    pub fn add_scalar(&self, s: impl Into<Scalar>) -> Tensor {
        or_panic!(self.try_binary_scalar(s, BinaryOp::Add))
    }
    /// `self - s`.
    #[track_caller]
    pub fn sub_scalar(&self, s: impl Into<Scalar>) -> Tensor {
        or_panic!(self.try_binary_scalar(s, BinaryOp::Sub))
    }
    /// `self * s`.
    #[track_caller]
    pub fn mul_scalar(&self, s: impl Into<Scalar>) -> Tensor {
        or_panic!(self.try_binary_scalar(s, BinaryOp::Mul))
    }
    /// `self / s` (true division).
    #[track_caller]
    pub fn div_scalar(&self, s: impl Into<Scalar>) -> Tensor {
        or_panic!(self.try_binary_scalar(s, BinaryOp::Div))
    }
    /// `self ** e`.
    #[track_caller]
    pub fn pow_scalar(&self, e: impl Into<Scalar>) -> Tensor {
        or_panic!(self.try_binary_scalar(e, BinaryOp::Pow))
    }

    // ----- comparisons --------------------------------------------------------------

    /// Elementwise comparison with broadcasting; the result is bool.
    pub fn try_compare(&self, other: &Tensor, op: CmpOp) -> Result<Tensor> {
        let shape = broadcast_shapes(self.shape(), other.shape())?;
        let dtype = result_type(self.dtype(), self.dim(), other.dtype(), other.dim());
        let device = device_of(&[self, other])?;
        let (a, b) = (cast(self, dtype), cast(other, dtype));
        let buf = read2(&a, &b, |va, vb| backend(device).compare(op, va, vb, &shape));
        Ok(Tensor::from_buffer_on(buf, &shape, device))
    }

    /// Elementwise comparison with a scalar; the result is bool.
    pub fn compare_scalar(&self, s: impl Into<Scalar>, op: CmpOp) -> Tensor {
        let s = s.into();
        let dtype = s.result_type_with(self.dtype());
        let device = self.device();
        let buf = cast(self, dtype).with_view(|v| backend(device).compare_scalar(op, v, s));
        Tensor::from_buffer_on(buf, self.shape(), device)
    }

    /// `self == other` elementwise.
    #[track_caller]
    pub fn eq(&self, other: &Tensor) -> Tensor {
        or_panic!(self.try_compare(other, CmpOp::Eq))
    }

    /// `torch.equal`: the same shape and the same values (any dtypes compared
    /// by value; NaN equals nothing).
    ///
    /// ```
    /// use kindling::Tensor;
    /// let t = Tensor::ones([2, 2]);
    /// assert!(t.matmul(&t).equal(&Tensor::full([2, 2], 2.0)));
    /// assert!(!t.equal(&Tensor::ones([4])));
    /// ```
    pub fn equal(&self, other: &Tensor) -> bool {
        self.shape() == other.shape() && self.to_vec::<f64>() == other.to_vec::<f64>()
    }

    /// `self != other` elementwise.
    #[track_caller]
    pub fn ne(&self, other: &Tensor) -> Tensor {
        or_panic!(self.try_compare(other, CmpOp::Ne))
    }
    /// `self < other` elementwise.
    #[track_caller]
    pub fn lt(&self, other: &Tensor) -> Tensor {
        or_panic!(self.try_compare(other, CmpOp::Lt))
    }
    /// `self <= other` elementwise.
    #[track_caller]
    pub fn le(&self, other: &Tensor) -> Tensor {
        or_panic!(self.try_compare(other, CmpOp::Le))
    }
    /// `self > other` elementwise.
    #[track_caller]
    pub fn gt(&self, other: &Tensor) -> Tensor {
        or_panic!(self.try_compare(other, CmpOp::Gt))
    }
    /// `self >= other` elementwise.
    #[track_caller]
    pub fn ge(&self, other: &Tensor) -> Tensor {
        or_panic!(self.try_compare(other, CmpOp::Ge))
    }
    /// `self == s` elementwise.
    pub fn eq_scalar(&self, s: impl Into<Scalar>) -> Tensor {
        self.compare_scalar(s, CmpOp::Eq)
    }
    /// `self != s` elementwise.
    pub fn ne_scalar(&self, s: impl Into<Scalar>) -> Tensor {
        self.compare_scalar(s, CmpOp::Ne)
    }
    /// `self > s` elementwise.
    pub fn gt_scalar(&self, s: impl Into<Scalar>) -> Tensor {
        self.compare_scalar(s, CmpOp::Gt)
    }
    /// `self < s` elementwise.
    pub fn lt_scalar(&self, s: impl Into<Scalar>) -> Tensor {
        self.compare_scalar(s, CmpOp::Lt)
    }
    /// `self >= s` elementwise.
    pub fn ge_scalar(&self, s: impl Into<Scalar>) -> Tensor {
        self.compare_scalar(s, CmpOp::Ge)
    }
    /// `self <= s` elementwise.
    pub fn le_scalar(&self, s: impl Into<Scalar>) -> Tensor {
        self.compare_scalar(s, CmpOp::Le)
    }

    /// Logical not of a bool tensor (`~mask`); other dtypes compare with zero.
    pub fn logical_not(&self) -> Tensor {
        self.compare_scalar(0, CmpOp::Eq)
    }

    // ----- unary --------------------------------------------------------------------

    /// A float function of each element (integers compute in float32), without
    /// recording.
    fn float_kernel(&self, op: FloatOp) -> Tensor {
        let device = self.device();
        let a = cast(self, self.dtype().to_float());
        let buf = a.with_view(|v| backend(device).float_unary(op, v));
        Tensor::from_buffer_on(buf, self.shape(), device)
    }

    fn float_unary<N: autograd::Node + 'static>(
        &self,
        op: FloatOp,
        node: impl FnOnce(Tensor, Tensor) -> N,
    ) -> Tensor {
        let out = self.float_kernel(op);
        let saved = out.detach();
        Tensor::record(out, &[self], || node(self.clone(), saved))
    }

    /// `e^x` elementwise (integers compute in float32).
    pub fn exp(&self) -> Tensor {
        self.float_unary(FloatOp::Exp, |x, out| ExpBackward0 { x, out })
    }
    /// Natural logarithm elementwise.
    pub fn log(&self) -> Tensor {
        self.float_unary(FloatOp::Log, |x, _| LogBackward0 { x })
    }
    /// Square root elementwise.
    pub fn sqrt(&self) -> Tensor {
        self.float_unary(FloatOp::Sqrt, |x, out| SqrtBackward0 { x, out })
    }
    /// Sine elementwise, in radians (integers compute in float32).
    pub fn sin(&self) -> Tensor {
        self.float_unary(FloatOp::Sin, |x, _| SinBackward0 { x })
    }
    /// Cosine elementwise, in radians (integers compute in float32).
    pub fn cos(&self) -> Tensor {
        self.float_unary(FloatOp::Cos, |x, _| CosBackward0 { x })
    }
    /// Hyperbolic tangent elementwise.
    pub fn tanh(&self) -> Tensor {
        self.float_unary(FloatOp::Tanh, |x, out| TanhBackward0 { x, out })
    }
    /// Logistic sigmoid `1 / (1 + e^-x)` elementwise.
    ///
    /// ```
    /// use kindling::Tensor;
    /// assert_eq!(Tensor::from_vec(vec![0.0f32], [1]).sigmoid().to_vec::<f32>(), vec![0.5]);
    /// ```
    pub fn sigmoid(&self) -> Tensor {
        self.float_unary(FloatOp::Sigmoid, |x, out| SigmoidBackward0 { x, out })
    }

    /// The error function elementwise (no gradient: used inside GELU).
    pub fn erf(&self) -> Tensor {
        self.float_kernel(FloatOp::Erf)
    }

    /// `max(x, 0)` elementwise; keeps the dtype.
    pub fn relu(&self) -> Tensor {
        let out = self.unary_kernel(UnaryOp::Relu);
        let saved = out.detach();
        Tensor::record(out, &[self], || ReluBackward0 {
            x: self.clone(),
            out: saved,
        })
    }

    /// `x · Φ(x)` with the exact Gaussian CDF (GELU, `approximate='none'`).
    ///
    /// # Errors
    /// On integer input (`"GeluKernelImpl" not implemented for 'Byte'`).
    pub fn try_gelu(&self) -> Result<Tensor> {
        float_input(self, "GeluKernelImpl")?;
        let out = crate::no_grad(|| self * ((self / std::f64::consts::SQRT_2).erf() * 0.5 + 0.5));
        Ok(Tensor::record(out, &[self], || GeluBackward0 {
            x: self.clone(),
        }))
    }

    /// `x` where positive, `negative_slope · x` elsewhere (LeakyReLU).
    ///
    /// # Errors
    /// On integer input.
    pub fn try_leaky_relu(&self, negative_slope: f64) -> Result<Tensor> {
        float_input(self, "LeakyReLU")?;
        let slope = Tensor::scalar(negative_slope).to_dtype(self.dtype());
        let out = crate::no_grad(|| Tensor::where_cond(&self.gt_scalar(0), self, &(self * &slope)));
        Ok(Tensor::record(out, &[self], || LeakyReluBackward0 {
            x: self.clone(),
            slope: negative_slope,
        }))
    }

    /// `-x` elementwise.
    ///
    /// # Panics
    /// On bool tensors, as PyTorch refuses them.
    #[track_caller]
    pub fn neg(&self) -> Tensor {
        or_panic!(self.try_neg())
    }

    /// Fallible [`Tensor::neg`].
    pub fn try_neg(&self) -> Result<Tensor> {
        if self.dtype() == DType::Bool {
            return Err(Error::Value(
                "Negation, the `-` operator, on a bool tensor is not supported. If you are trying to invert a mask, use the `~` or `logical_not()` operator instead.".into(),
            ));
        }
        let out = self.unary_kernel(UnaryOp::Neg);
        Ok(Tensor::record(out, &[self], || NegBackward0 {
            x: self.clone(),
        }))
    }

    /// `|x|` elementwise.
    pub fn abs(&self) -> Tensor {
        let out = self.unary_kernel(UnaryOp::Abs);
        Tensor::record(out, &[self], || AbsBackward0 { x: self.clone() })
    }

    /// The sign (-1, 0 or 1) elementwise, in the same dtype.
    pub fn sign(&self) -> Tensor {
        self.unary_kernel(UnaryOp::Sign)
    }

    /// Clamps every element into `[min, max]` (either bound optional).
    pub fn clamp(&self, min: Option<f64>, max: Option<f64>) -> Tensor {
        let out = self.unary_kernel(UnaryOp::Clamp(min, max));
        if !self.dtype().is_floating_point() {
            return out;
        }
        Tensor::record(out, &[self], || ClampBackward1 {
            x: self.clone(),
            min,
            max,
        })
    }

    /// `cond ? self : other` elementwise, broadcasting all three (`torch.where`).
    #[track_caller]
    pub fn where_cond(cond: &Tensor, a: &Tensor, b: &Tensor) -> Tensor {
        or_panic!(Tensor::try_where_cond(cond, a, b))
    }

    /// Fallible [`Tensor::where_cond`].
    pub fn try_where_cond(cond: &Tensor, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        if cond.dtype() != DType::Bool {
            return Err(Error::Value(format!(
                "where expected condition to be a boolean tensor, but got a tensor with dtype {}",
                cond.dtype().scalar_type_name()
            )));
        }
        let shape = broadcast_shapes(&broadcast_shapes(cond.shape(), a.shape())?, b.shape())?;
        let dtype = result_type(a.dtype(), a.dim(), b.dtype(), b.dim());
        let device = device_of(&[cond, a, b])?;
        let (x, y) = (cast(a, dtype), cast(b, dtype));
        let buf = read3(cond, &x, &y, |vc, vx, vy| {
            backend(device).where_(vc, vx, vy, &shape)
        });
        let out = Tensor::from_buffer_on(buf, &shape, device);
        if !dtype.is_floating_point() {
            return Ok(out);
        }
        Ok(Tensor::record(out, &[a, b], || WhereBackward0 {
            cond: cond.clone(),
            a: a.clone(),
            b: b.clone(),
        }))
    }

    /// `x.masked_fill(mask, value)`: `value` (cast to this tensor's dtype)
    /// where the boolean `mask` (broadcast to this tensor's shape) is true, the
    /// tensor's own elements elsewhere; grad_fn `MaskedFillBackward0` (no
    /// gradient where filled).
    ///
    /// ```
    /// use kindling::Tensor;
    /// let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], [2, 2]);
    /// let mask = Tensor::from_vec(vec![true, false], [2]);
    /// assert_eq!(x.masked_fill(&mask, 0.5).to_vec::<f32>(), [0.5, 2.0, 0.5, 4.0]);
    /// ```
    #[track_caller]
    pub fn masked_fill(&self, mask: &Tensor, value: impl Into<Scalar>) -> Tensor {
        or_panic!(self.try_masked_fill(mask, value))
    }

    /// Fallible [`Tensor::masked_fill`]: PyTorch's words for a mask that is
    /// not boolean or does not broadcast.
    pub fn try_masked_fill(&self, mask: &Tensor, value: impl Into<Scalar>) -> Result<Tensor> {
        if mask.dtype() != DType::Bool {
            let name = match mask.dtype() {
                DType::U8 => "unsigned char",
                DType::I64 => "long int",
                DType::F32 => "float",
                DType::F64 => "double",
                DType::Bool => "bool",
            };
            return Err(Error::Value(format!(
                "masked_fill_ only supports boolean masks, but got mask with dtype {name}"
            )));
        }
        if broadcast_shapes(self.shape(), mask.shape())?.as_slice() != self.shape() {
            return Err(crate::error::shape_err(format!(
                "masked_fill: a mask of shape {:?} does not broadcast to the tensor's shape {:?}",
                mask.shape(),
                self.shape()
            )));
        }
        let fill = self.full_like_dtype(value, self.dtype());
        let out = crate::no_grad(|| Tensor::try_where_cond(mask, &fill, self))?;
        if !self.dtype().is_floating_point() {
            return Ok(out);
        }
        Ok(Tensor::record(out, &[self], || MaskedFillBackward0 {
            x: self.clone(),
            mask: mask.clone(),
        }))
    }

    // ----- in place -----------------------------------------------------------------

    fn check_inplace(&self) -> Result<()> {
        if self.requires_grad() && autograd::is_grad_enabled() {
            return Err(Error::Autograd(if self.is_leaf() {
                "a leaf Variable that requires grad is being used in an in-place operation.".into()
            } else {
                "kindling does not record in-place operations on tensors that require grad; compute out of place, or wrap the update in no_grad".into()
            }));
        }
        Ok(())
    }

    /// Checks that `other` broadcasts to `self`'s shape, for an in-place op.
    fn check_broadcast_into(&self, other: &Tensor) -> Result<()> {
        self.check_inplace()?;
        let shape = broadcast_shapes(self.shape(), other.shape())?;
        if shape.as_slice() != self.shape() {
            return Err(Error::Shape(format!(
                "output with shape {:?} doesn't match the broadcast shape {:?}",
                self.shape(),
                shape.as_slice()
            )));
        }
        device_of(&[self, other])?;
        Ok(())
    }

    /// `self op= other` in place, `other` broadcast to `self`'s shape and
    /// converted to its dtype.
    fn apply_inplace(&self, other: &Tensor, op: InplaceOp) -> Result<()> {
        self.check_broadcast_into(other)?;
        // Reading `other` while writing `self` must not lock one storage twice.
        let other = if self.shares_storage(other) {
            other.clone_tensor()
        } else {
            cast(other, self.dtype())
        };
        let other = cast(&other, self.dtype());
        let src = other.inner.storage.read();
        let mut dst = self.inner.storage.write();
        let view = crate::backend::View {
            buf: &src,
            layout: other.layout(),
        };
        backend(self.device()).inplace(op, &mut dst, self.layout(), view);
        Ok(())
    }

    /// `self += alpha * other` in place (PyTorch's `add_(other, alpha=alpha)`).
    pub fn try_add_alpha_(&self, other: &Tensor, alpha: f64) -> Result<()> {
        self.check_cast_into(other.dtype())?;
        self.apply_inplace(other, InplaceOp::Add(alpha))
    }

    /// `self += alpha * other` in place (PyTorch's `x.add_(other, alpha=alpha)`).
    #[track_caller]
    pub fn add_alpha_(&self, other: &Tensor, alpha: f64) -> Tensor {
        or_panic!(self.try_add_alpha_(other, alpha));
        self.clone()
    }

    /// PyTorch's words when an in-place result of dtype `result` would have to
    /// be stored in this tensor's narrower dtype (`int64 += 0.5`).
    fn check_cast_into(&self, result: DType) -> Result<()> {
        let to = self.dtype();
        let narrowing = result.is_floating_point() && !to.is_floating_point()
            || result != DType::Bool && to == DType::Bool;
        if narrowing {
            return Err(Error::Value(format!(
                "result type {} can't be cast to the desired output type {}",
                result.scalar_type_name(),
                to.scalar_type_name()
            )));
        }
        Ok(())
    }

    /// `self = self op other` in place: the result computed as the
    /// out-of-place op would (broadcasting `other` into `self`'s shape,
    /// PyTorch's promotion), then stored in `self`'s dtype when that does not
    /// narrow a float into an integer.
    fn binary_(&self, other: Operand<'_>, op: BinaryOp) -> Result<()> {
        self.check_inplace()?;
        // Same dtypes: add and multiply in place without a temporary.
        if let Operand::Tensor(t) = other {
            let fast = match op {
                BinaryOp::Add => Some(InplaceOp::Add(1.0)),
                BinaryOp::Mul => Some(InplaceOp::Mul),
                _ => None,
            };
            if let (Some(fast), true) = (fast, t.dtype() == self.dtype()) {
                return self.apply_inplace(t, fast);
            }
        }
        let out = autograd::no_grad(|| match other {
            Operand::Tensor(t) => {
                self.check_broadcast_into(t)?;
                self.try_binary(t, op)
            }
            Operand::Scalar(s) => self.try_binary_scalar(s, op),
        })?;
        self.check_cast_into(out.dtype())?;
        self.apply_inplace(&out, InplaceOp::Copy)
    }

    /// `self += other` in place (`x.add_(5)`, `x.add_(&y)`).
    ///
    /// Like every in-place op (`sub_`, `mul_`, `div_`, `fill_`, `zero_`,
    /// `copy_`, `scatter_`, `index_put_`), it returns the tensor itself (a
    /// handle to the same storage), as PyTorch returns `self`, so calls chain
    /// as in Python: `Tensor::zeros([10]).scatter_(0, &Tensor::tensor(3), 1.0)`.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let t = Tensor::ones([3]);
    /// t.add_(5);
    /// t.mul_(&Tensor::from_slice(&[1.0f32, 2.0, 3.0]));
    /// assert_eq!(t.to_vec::<f32>(), [6.0, 12.0, 18.0]);
    /// ```
    #[track_caller]
    pub fn add_<'a>(&self, other: impl Into<Operand<'a>>) -> Tensor {
        or_panic!(self.binary_(other.into(), BinaryOp::Add));
        self.clone()
    }

    /// Fallible [`Tensor::add_`]: PyTorch's words when the result cannot be
    /// stored (`result type Float can't be cast to the desired output type Long`).
    pub fn try_add_<'a>(&self, other: impl Into<Operand<'a>>) -> Result<()> {
        self.binary_(other.into(), BinaryOp::Add)
    }

    /// `self -= other` in place.
    #[track_caller]
    pub fn sub_<'a>(&self, other: impl Into<Operand<'a>>) -> Tensor {
        or_panic!(self.binary_(other.into(), BinaryOp::Sub));
        self.clone()
    }

    /// `self *= other` in place (`x.mul_(2.0)`, `x.mul_(&mask)`).
    #[track_caller]
    pub fn mul_<'a>(&self, other: impl Into<Operand<'a>>) -> Tensor {
        or_panic!(self.binary_(other.into(), BinaryOp::Mul));
        self.clone()
    }

    /// `self /= other` in place (true division: refused on integer tensors,
    /// as in PyTorch).
    #[track_caller]
    pub fn div_<'a>(&self, other: impl Into<Operand<'a>>) -> Tensor {
        or_panic!(self.binary_(other.into(), BinaryOp::Div));
        self.clone()
    }

    /// Fallible [`Tensor::div_`].
    pub fn try_div_<'a>(&self, other: impl Into<Operand<'a>>) -> Result<()> {
        self.binary_(other.into(), BinaryOp::Div)
    }

    /// Copies `src` (broadcast, converted) into this tensor's elements in place.
    #[track_caller]
    pub fn copy_(&self, src: &Tensor) -> Tensor {
        or_panic!(self.try_copy_(src));
        self.clone()
    }

    /// Fallible [`Tensor::copy_`].
    pub fn try_copy_(&self, src: &Tensor) -> Result<()> {
        self.apply_inplace(src, InplaceOp::Copy)
    }

    /// `self *= s` in place, `s` taken in this tensor's dtype (a fast path for
    /// float updates; [`Tensor::mul_`] follows PyTorch's promotion).
    #[track_caller]
    pub(crate) fn mul_scalar_(&self, s: f64) {
        or_panic!(self.check_inplace());
        let mut dst = self.inner.storage.write();
        backend(self.device()).inplace_scalar(&mut dst, self.layout(), Scalar::Float(s), true);
    }

    /// Sets every element to `value` in place.
    #[track_caller]
    pub fn fill_(&self, value: impl Into<Scalar>) -> Tensor {
        or_panic!(self.try_fill_(value));
        self.clone()
    }

    /// Fallible [`Tensor::fill_`].
    pub fn try_fill_(&self, value: impl Into<Scalar>) -> Result<()> {
        self.check_inplace()?;
        let mut dst = self.inner.storage.write();
        backend(self.device()).inplace_scalar(&mut dst, self.layout(), value.into(), false);
        Ok(())
    }

    /// Sets every element to zero in place.
    #[track_caller]
    pub fn zero_(&self) -> Tensor {
        self.fill_(0)
    }
}

// ----- gradients ----------------------------------------------------------------------

grad_fn! {
    /// d(a + b) = da + db, each summed back to its input's shape.
    AddBackward0 { a: Tensor, b: Tensor }
    inputs [a, b];
    backward(n, g, acc) {
        acc.add(&n.a, || g.sum_to(n.a.shape()));
        acc.add(&n.b, || g.sum_to(n.b.shape()));
    }
}

grad_fn! {
    /// d(a - b) = da - db.
    SubBackward0 { a: Tensor, b: Tensor }
    inputs [a, b];
    backward(n, g, acc) {
        acc.add(&n.a, || g.sum_to(n.a.shape()));
        acc.add(&n.b, || g.neg().sum_to(n.b.shape()));
    }
}

grad_fn! {
    /// d(ab) = b·da + a·db.
    MulBackward0 { a: Tensor, b: Tensor }
    inputs [a, b];
    backward(n, g, acc) {
        acc.add(&n.a, || (g * &n.b).sum_to(n.a.shape()));
        acc.add(&n.b, || (g * &n.a).sum_to(n.b.shape()));
    }
}

grad_fn! {
    /// d(a/b) = da/b - a·db/b².
    DivBackward0 { a: Tensor, b: Tensor }
    inputs [a, b];
    backward(n, g, acc) {
        let (a, b) = (&n.a, &n.b);
        acc.add(a, || (g / b).sum_to(a.shape()));
        acc.add(b, || (-(g * a) / (b * b)).sum_to(b.shape()));
    }
}

grad_fn! {
    /// d(a^b)/da = b·a^(b-1); d(a^b)/db = a^b·ln a, taken as 0 where a = 0 (as
    /// PyTorch does).
    PowBackward1 { a: Tensor, b: Tensor }
    inputs [a, b];
    backward(n, g, acc) {
        let (a, b) = (&n.a, &n.b);
        acc.add(a, || (g * b * a.pow(&b.sub_scalar(1.0))).sum_to(a.shape()));
        acc.add(b, || {
            let d = g * a.pow(b) * a.log();
            Tensor::where_cond(&a.eq_scalar(0), &zeros_like_grad(&d, g), &d).sum_to(b.shape())
        });
    }
}

/// The share of the gradient `x` takes in `maximum(x, y)` (`max`) or
/// `minimum`: all where it wins, half on ties.
fn wins(x: &Tensor, y: &Tensor, max: bool, dtype: DType) -> Tensor {
    let w = if max { x.gt(y) } else { x.lt(y) }.to_dtype(dtype);
    &w + &(x.eq(y).to_dtype(dtype) * 0.5)
}

grad_fn! {
    /// The larger input takes the gradient; ties share it.
    MaximumBackward0 { a: Tensor, b: Tensor }
    inputs [a, b];
    backward(n, g, acc) {
        acc.add(&n.a, || (g * wins(&n.a, &n.b, true, g.dtype())).sum_to(n.a.shape()));
        acc.add(&n.b, || (g * wins(&n.b, &n.a, true, g.dtype())).sum_to(n.b.shape()));
    }
}

grad_fn! {
    /// The smaller input takes the gradient; ties share it.
    MinimumBackward0 { a: Tensor, b: Tensor }
    inputs [a, b];
    backward(n, g, acc) {
        acc.add(&n.a, || (g * wins(&n.a, &n.b, false, g.dtype())).sum_to(n.a.shape()));
        acc.add(&n.b, || (g * wins(&n.b, &n.a, false, g.dtype())).sum_to(n.b.shape()));
    }
}

grad_fn! {
    /// d(x + s) = dx.
    AddScalarBackward { x: Tensor }
    name(n) "AddBackward0";
    inputs [x];
    backward(n, g, acc) { acc.add(&n.x, || g.clone()) }
}

grad_fn! {
    /// d(x - s) = dx.
    SubScalarBackward { x: Tensor }
    name(n) "SubBackward0";
    inputs [x];
    backward(n, g, acc) { acc.add(&n.x, || g.clone()) }
}

grad_fn! {
    /// d(s - x) = -dx.
    RsubBackward1 { x: Tensor }
    inputs [x];
    backward(n, g, acc) { acc.add(&n.x, || g.neg()) }
}

grad_fn! {
    /// d(x·s) = s·dx.
    MulScalarBackward { x: Tensor, s: f64 }
    name(n) "MulBackward0";
    inputs [x];
    backward(n, g, acc) { acc.add(&n.x, || g * n.s) }
}

grad_fn! {
    /// d(x/s) = dx/s.
    DivScalarBackward { x: Tensor, s: f64 }
    name(n) "DivBackward0";
    inputs [x];
    backward(n, g, acc) { acc.add(&n.x, || g / n.s) }
}

grad_fn! {
    /// d(x^e) = e·x^(e-1)·dx.
    PowBackward0 { x: Tensor, e: f64 }
    inputs [x];
    backward(n, g, acc) {
        acc.add(&n.x, || {
            if n.e == 0.0 {
                zeros_like_grad(&n.x, g)
            } else {
                g * &(n.x.pow_scalar(n.e - 1.0) * n.e)
            }
        })
    }
}

grad_fn! {
    /// Passes where the mask is false.
    MaskedFillBackward0 { x: Tensor, mask: Tensor }
    inputs [x];
    backward(n, g, acc) {
        acc.add(&n.x, || Tensor::where_cond(&n.mask, &g.zeros_like(), g))
    }
}

grad_fn! {
    /// Passes where min <= x <= max.
    ClampBackward1 { x: Tensor, min: Option<f64>, max: Option<f64> }
    inputs [x];
    backward(n, g, acc) {
        acc.add(&n.x, || {
            let mut keep = n.x.full_like_dtype(true, DType::Bool);
            if let Some(lo) = n.min {
                keep = keep.mul(&n.x.ge_scalar(lo));
            }
            if let Some(hi) = n.max {
                keep = keep.mul(&n.x.le_scalar(hi));
            }
            Tensor::where_cond(&keep, g, &zeros_like_grad(&n.x, g))
        })
    }
}

grad_fn! {
    /// d(-x) = -dx.
    NegBackward0 { x: Tensor }
    inputs [x];
    backward(n, g, acc) { acc.add(&n.x, || g.neg()) }
}

grad_fn! {
    /// d|x| = sign(x)·dx.
    AbsBackward0 { x: Tensor }
    inputs [x];
    backward(n, g, acc) { acc.add(&n.x, || g * n.x.sign()) }
}

grad_fn! {
    /// d(e^x) = e^x·dx, from the saved output.
    ExpBackward0 { x: Tensor, out: Tensor }
    inputs [x];
    backward(n, g, acc) { acc.add(&n.x, || g * &n.out) }
}

grad_fn! {
    /// d(ln x) = dx/x.
    LogBackward0 { x: Tensor }
    inputs [x];
    backward(n, g, acc) { acc.add(&n.x, || g / &n.x) }
}

grad_fn! {
    /// d√x = dx / (2√x), from the saved output.
    SqrtBackward0 { x: Tensor, out: Tensor }
    inputs [x];
    backward(n, g, acc) { acc.add(&n.x, || g / (&n.out * 2.0)) }
}

grad_fn! {
    /// d sin x = cos x · dx.
    SinBackward0 { x: Tensor }
    inputs [x];
    backward(n, g, acc) { acc.add(&n.x, || g * n.x.cos()) }
}

grad_fn! {
    /// d cos x = -sin x · dx.
    CosBackward0 { x: Tensor }
    inputs [x];
    backward(n, g, acc) { acc.add(&n.x, || -(g * n.x.sin())) }
}

grad_fn! {
    /// d tanh x = (1 - tanh² x)·dx, from the saved output.
    TanhBackward0 { x: Tensor, out: Tensor }
    inputs [x];
    backward(n, g, acc) {
        acc.add(&n.x, || fused(g, &n.out, GradOp::Tanh))
    }
}

grad_fn! {
    /// σ' = σ(1 - σ), from the saved output.
    SigmoidBackward0 { x: Tensor, out: Tensor }
    inputs [x];
    backward(n, g, acc) {
        acc.add(&n.x, || fused(g, &n.out, GradOp::Sigmoid))
    }
}

grad_fn! {
    /// A step function: the gradient passes where the output is positive.
    ReluBackward0 { x: Tensor, out: Tensor }
    inputs [x];
    backward(n, g, acc) {
        acc.add(&n.x, || fused(g, &n.out, GradOp::Relu))
    }
}

grad_fn! {
    /// The chosen branch takes the gradient.
    WhereBackward0 { cond: Tensor, a: Tensor, b: Tensor }
    inputs [a, b];
    backward(n, g, acc) {
        let zero = || Tensor::scalar(0.0).to_dtype(g.dtype());
        acc.add(&n.a, || Tensor::where_cond(&n.cond, g, &zero()).sum_to(n.a.shape()));
        acc.add(&n.b, || Tensor::where_cond(&n.cond, &zero(), g).sum_to(n.b.shape()));
    }
}

grad_fn! {
    /// d/dx x·Φ(x) = Φ(x) + x·φ(x).
    GeluBackward0 { x: Tensor }
    inputs [x];
    backward(n, g, acc) {
        acc.add(&n.x, || {
            let x = &n.x;
            let cdf = (x / std::f64::consts::SQRT_2).erf() * 0.5 + 0.5;
            let pdf = (x * x * -0.5).exp() * (1.0 / (2.0 * std::f64::consts::PI).sqrt());
            g * (cdf + x * pdf)
        })
    }
}

grad_fn! {
    /// 1 where positive, the slope elsewhere.
    LeakyReluBackward0 { x: Tensor, slope: f64 }
    inputs [x];
    backward(n, g, acc) {
        acc.add(&n.x, || {
            let one = Tensor::scalar(1.0).to_dtype(g.dtype());
            let s = Tensor::scalar(n.slope).to_dtype(g.dtype());
            g * Tensor::where_cond(&n.x.gt_scalar(0), &one, &s)
        })
    }
}

pub(crate) fn float_input(x: &Tensor, op: &'static str) -> Result<()> {
    if x.dtype().is_floating_point() {
        Ok(())
    } else {
        Err(Error::NotImplemented {
            op,
            dtype: x.dtype(),
        })
    }
}

/// `op(g, y)` elementwise for a gradient and a saved output of the same shape:
/// one pass and one allocation instead of a chain of ops.
fn fused(g: &Tensor, y: &Tensor, op: GradOp) -> Tensor {
    let y = cast(y, g.dtype());
    let buf = read2(g, &y, |vg, vy| backend(g.device()).grad_unary(op, vg, vy));
    Tensor::from_buffer_on(buf, g.shape(), g.device())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::golden::{goldens, gradchecks};

    /// `update` applied to a copy of `x` (PyTorch's `x.clone().add_(5)`).
    /// Runs an in-place op on a copy of `x`; the op returns the tensor
    /// itself, as PyTorch's return `self`.
    fn inplace(x: &Tensor, update: impl FnOnce(&Tensor) -> Tensor) -> Tensor {
        let t = crate::no_grad(|| x.clone_tensor());
        let returned = update(&t);
        assert!(returned.is_same(&t) || returned.shares_storage(&t));
        t
    }

    #[test]
    fn inplace_ops_refuse_what_pytorch_refuses() {
        let ints = Tensor::from_slice(&[1i64, 2]);
        assert_eq!(
            ints.try_add_(0.5).unwrap_err().to_string(),
            "result type Float can't be cast to the desired output type Long"
        );
        assert_eq!(
            ints.try_div_(2).unwrap_err().to_string(),
            "result type Float can't be cast to the desired output type Long"
        );
        let x = Tensor::zeros([2]);
        assert!(x.try_add_(&Tensor::zeros([3])).is_err());
        let leaf = Tensor::zeros([2]).requires_grad_(true);
        assert_eq!(
            leaf.try_add_(1).unwrap_err().to_string(),
            "a leaf Variable that requires grad is being used in an in-place operation."
        );
    }

    goldens! { "elementwise";
        masked_fill => |x, _| x[0].masked_fill(&x[1], 0.5),
        masked_fill_int => |x, _| x[0].masked_fill(&x[1], 2.7),
        add_inplace_scalar => |x, _| inplace(&x[0], |t| t.add_(5)),
        mul_inplace_scalar => |x, _| inplace(&x[0], |t| t.mul_(2.0)),
        sub_inplace_tensor => |x, _| inplace(&x[0], |t| t.sub_(&x[1])),
        div_inplace_scalar => |x, _| inplace(&x[0], |t| t.div_(4)),
        add_inplace_int => |x, _| inplace(&x[0], |t| t.add_(5)),
        mul_inplace_uint8_int => |x, _| inplace(&x[0], |t| t.mul_(2)),
        add_inplace_float_of_int => |x, _| inplace(&x[0], |t| t.add_(&x[1])),
        add => |x, _| &x[0] + &x[1],
        sub => |x, _| &x[0] - &x[1],
        mul => |x, _| &x[0] * &x[1],
        div => |x, _| &x[0] / &x[1],
        add_scalar => |x, _| &x[0] + 2.5,
        sub_scalar => |x, _| &x[0] - 2.5,
        rsub_scalar => |x, _| 2.5 - &x[0],
        mul_scalar => |x, _| &x[0] * -1.5,
        div_scalar => |x, _| &x[0] / 255,
        pow_scalar => |x, _| x[0].pow_scalar(2),
        pow_scalar_frac => |x, _| x[0].pow_scalar(1.5),
        pow => |x, _| x[0].pow(&x[1]),
        maximum => |x, _| x[0].maximum(&x[1]),
        minimum => |x, _| x[0].minimum(&x[1]),
        neg => |x, _| -&x[0],
        abs => |x, _| x[0].abs(),
        exp => |x, _| x[0].exp(),
        log => |x, _| x[0].log(),
        sqrt => |x, _| x[0].sqrt(),
        tanh => |x, _| x[0].tanh(),
        sigmoid => |x, _| x[0].sigmoid(),
        relu => |x, _| x[0].relu(),
        gelu => |x, _| x[0].try_gelu().unwrap(),
        leaky_relu => |x, a| x[0].try_leaky_relu(a["slope"].as_f64().unwrap()).unwrap(),
        sin => |x, _| x[0].sin(),
        cos => |x, _| x[0].cos(),
        clamp => |x, a| x[0].clamp(a["min"].as_f64(), a["max"].as_f64()),
        clamp_min => |x, a| x[0].clamp(a["min"].as_f64(), a["max"].as_f64()),
        r#where => |x, _| Tensor::where_cond(&x[0], &x[1], &x[2]),
        uint8_div_255 => |x, _| &x[0] / 255,
        uint8_add_wraps => |x, _| &x[0] + 10,
        int_true_div => |x, _| &x[0] / &x[1],
        int_mul_float => |x, _| &x[0] * 0.5,
        int_exp => |x, _| x[0].exp(),
        int_sin => |x, _| x[0].sin(),
        compare_gt => |x, _| x[0].gt(&x[1]),
        compare_eq_int => |x, _| x[0].eq(&x[1]),
    }

    gradchecks! {
        masked_fill: [randn(&[2, 3], 1)] => |x| {
            let mask = Tensor::from_vec(vec![true, false, true], [3]).to(x[0].device());
            x[0].masked_fill(&mask, 0.5)
        };
        add: [randn(&[3, 1], 1), randn(&[4], 2)] => |x| &x[0] + &x[1];
        sub: [randn(&[2, 3], 1), randn(&[3], 2)] => |x| &x[0] - &x[1];
        mul: [randn(&[2, 1, 3], 1), randn(&[4, 1], 2)] => |x| &x[0] * &x[1];
        div: [randn(&[3, 4], 1), positive(&[4], 2)] => |x| &x[0] / &x[1];
        scalar_arith: [randn(&[5], 1)] => |x| ((&x[0] + 2.0) * 3.0 - 1.0) / 7.0;
        rsub_rdiv: [positive(&[5], 1)] => |x| 2.0 - &(1.0 / &x[0]);
        pow_scalar: [randn(&[5], 1)] => |x| x[0].pow_scalar(3);
        pow: [positive(&[2, 3], 1), randn(&[3], 2)] => |x| x[0].pow(&x[1]);
        maximum: [randn(&[4, 3], 1), randn(&[3], 2)] => |x| x[0].maximum(&x[1]);
        minimum: [randn(&[4, 3], 1), randn(&[3], 2)] => |x| x[0].minimum(&x[1]);
        neg: [randn(&[4], 1)] => |x| -&x[0];
        abs: [randn(&[6], 1)] => |x| x[0].abs();
        exp: [randn(&[3, 3], 1)] => |x| x[0].exp();
        log: [positive(&[3, 3], 1)] => |x| x[0].log();
        sqrt: [positive(&[7], 1)] => |x| x[0].sqrt();
        tanh: [randn(&[7], 1)] => |x| x[0].tanh();
        sigmoid: [randn(&[4, 5], 1)] => |x| x[0].sigmoid();
        relu: [randn(&[4, 5], 1)] => |x| x[0].relu();
        gelu: [randn(&[4, 5], 1)] => |x| x[0].try_gelu().unwrap();
        leaky_relu: [randn(&[4, 5], 1)] => |x| x[0].try_leaky_relu(0.1).unwrap();
        sin: [randn(&[3, 4], 1)] => |x| x[0].sin();
        cos: [randn(&[3, 4], 1)] => |x| x[0].cos();
        clamp: [randn(&[10], 1)] => |x| x[0].clamp(Some(-0.5), Some(0.5));
        r#where: [randn(&[2, 3], 1), randn(&[3], 2)] => |x| Tensor::where_cond(&Tensor::from_slice(&[true, false, true]).to(x[0].device()), &x[0], &x[1]);
    }

    #[test]
    fn pixels_to_floats_in_one_pass_match_cast_then_op() {
        let pixels = Tensor::from_vec((0..=255u8).collect::<Vec<_>>(), [256]);
        let floats = pixels.to_dtype(DType::F32);
        let bits = |t: Tensor| {
            t.to_vec::<f32>()
                .iter()
                .map(|v| v.to_bits())
                .collect::<Vec<_>>()
        };
        for op in [
            BinaryOp::Add,
            BinaryOp::Sub,
            BinaryOp::Mul,
            BinaryOp::Div,
            BinaryOp::Pow,
            BinaryOp::Maximum,
            BinaryOp::Minimum,
        ] {
            let fused = pixels.try_binary_scalar(0.37, op).unwrap();
            assert_eq!(fused.dtype(), DType::F32);
            assert_eq!(
                bits(fused),
                bits(floats.try_binary_scalar(0.37, op).unwrap()),
                "{op:?}"
            );
        }
        assert_eq!(bits(pixels.div_scalar(255)), bits(floats.div_scalar(255)));
    }

    #[test]
    fn promotion_follows_pytorch() {
        let u = Tensor::from_vec(vec![10u8, 255], [2]);
        assert_eq!(u.div_scalar(255).dtype(), DType::F32);
        assert_eq!(u.add_scalar(1).dtype(), DType::U8);
        assert_eq!(u.add_scalar(1).to_vec::<u8>(), vec![11, 0]); // wraps like PyTorch
        assert_eq!(u.mul_scalar(0.5).dtype(), DType::F32);
        let l = Tensor::from_vec(vec![1i64, 2], [2]);
        assert_eq!(u.add(&l).dtype(), DType::I64);
        assert_eq!(
            l.add(&Tensor::from_vec(vec![0.5f64], [1])).dtype(),
            DType::F64
        );
        // A 0-d tensor of the same category does not promote.
        assert_eq!(u.add(&Tensor::scalar(1000i64)).dtype(), DType::U8);
        assert_eq!(
            Tensor::ones([2]).add(&Tensor::scalar(1.0f64)).dtype(),
            DType::F32
        );
        assert_eq!(u.add(&Tensor::scalar(1.5f64)).dtype(), DType::F64);
        assert_eq!(l.div(&l).dtype(), DType::F32);
    }

    #[test]
    fn broadcasting_paths_agree() {
        let a = Tensor::arange(12).reshape([3, 4]).to_dtype(DType::F32);
        let row = Tensor::from_vec(vec![1.0f32, 2.0, 3.0, 4.0], [4]);
        let col = Tensor::from_vec(vec![10.0f32, 20.0, 30.0], [3, 1]);
        assert_eq!((&a + &row).to_vec::<f32>()[..4], [1.0, 3.0, 5.0, 7.0]);
        assert_eq!((&a + &col).to_vec::<f32>()[4..8], [24.0, 25.0, 26.0, 27.0]);
        assert_eq!((&a.t() + &col.t()).to_vec::<f32>()[..3], [10.0, 24.0, 38.0]);
    }

    #[test]
    fn in_place_guarded_on_leaves() {
        let w = Tensor::ones([2]).requires_grad_(true);
        assert!(w.try_add_(&Tensor::ones([2])).is_err());
        crate::no_grad(|| w.add_alpha_(&Tensor::ones([2]), -0.5));
        assert_eq!(w.to_vec::<f32>(), vec![0.5, 0.5]);
    }

    #[test]
    fn masked_fill_refuses_pytorchs_way() {
        let x = Tensor::zeros([2, 3]);
        let ints = Tensor::from_vec(vec![1i64, 0, 1], [3]);
        assert_eq!(
            x.try_masked_fill(&ints, 0.5).unwrap_err().to_string(),
            "masked_fill_ only supports boolean masks, but got mask with dtype long int"
        );
        let wide = Tensor::from_vec(vec![true; 12], [2, 2, 3]);
        assert!(x.try_masked_fill(&wide, 0.5).is_err());
        let short = Tensor::from_vec(vec![true, false], [2]);
        assert!(x
            .try_masked_fill(&short, 0.5)
            .unwrap_err()
            .to_string()
            .starts_with("The size of tensor a (3) must match the size of tensor b (2) at non-singleton dimension 1"));
    }

    #[test]
    fn where_and_comparisons() {
        let x = Tensor::from_vec(vec![-1.0f32, 2.0, -3.0], [3]);
        let m = x.gt_scalar(0.0);
        assert_eq!(m.dtype(), DType::Bool);
        assert_eq!(
            Tensor::where_cond(&m, &x, &Tensor::scalar(0.0f32)).to_vec::<f32>(),
            vec![0.0, 2.0, 0.0]
        );
        assert!(x.try_neg().is_ok() && m.try_neg().is_err());
    }
}
