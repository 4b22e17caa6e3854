//! Elementwise ops: arithmetic with broadcasting and type promotion, scalar
//! arithmetic, unary math, comparisons, `where`, and in-place updates.

use crate::autograd::{self, grad_fn, zeros_like_grad};
use crate::error::{or_panic, Error, Result};
use crate::tensor::dtype::result_type;
use crate::tensor::layout::{broadcast_shapes, for_each_offsets};
use crate::tensor::{with_dtype, DType, Element, Float, Scalar, Tensor};

use super::read2;

/// Arithmetic each element type supports, with PyTorch's semantics: integers wrap,
/// bool `+` is `or` and `*` is `and`, `maximum`/`minimum` propagate NaN.
pub trait Arith: Element {
    #[doc(hidden)]
    fn add(a: Self, b: Self) -> Self;
    #[doc(hidden)]
    fn sub(a: Self, b: Self) -> Self;
    #[doc(hidden)]
    fn mul(a: Self, b: Self) -> Self;
    #[doc(hidden)]
    fn div(a: Self, b: Self) -> Self;
    #[doc(hidden)]
    fn pow(a: Self, b: Self) -> Self;
    #[doc(hidden)]
    fn maximum(a: Self, b: Self) -> Self;
    #[doc(hidden)]
    fn minimum(a: Self, b: Self) -> Self;
}

macro_rules! int_arith {
    ($t:ty) => {
        impl Arith for $t {
            fn add(a: Self, b: Self) -> Self {
                a.wrapping_add(b)
            }
            fn sub(a: Self, b: Self) -> Self {
                a.wrapping_sub(b)
            }
            fn mul(a: Self, b: Self) -> Self {
                a.wrapping_mul(b)
            }
            fn div(a: Self, b: Self) -> Self {
                if b == 0 {
                    0
                } else {
                    a.wrapping_div(b)
                }
            }
            fn pow(a: Self, b: Self) -> Self {
                let e = b.to_i64();
                if e < 0 {
                    0
                } else {
                    a.wrapping_pow(e.min(u32::MAX as i64) as u32)
                }
            }
            fn maximum(a: Self, b: Self) -> Self {
                a.max(b)
            }
            fn minimum(a: Self, b: Self) -> Self {
                a.min(b)
            }
        }
    };
}
int_arith!(u8);
int_arith!(i64);

macro_rules! float_arith {
    ($t:ty) => {
        impl Arith for $t {
            #[inline(always)]
            fn add(a: Self, b: Self) -> Self {
                a + b
            }
            #[inline(always)]
            fn sub(a: Self, b: Self) -> Self {
                a - b
            }
            #[inline(always)]
            fn mul(a: Self, b: Self) -> Self {
                a * b
            }
            #[inline(always)]
            fn div(a: Self, b: Self) -> Self {
                a / b
            }
            fn pow(a: Self, b: Self) -> Self {
                a.powf(b)
            }
            fn maximum(a: Self, b: Self) -> Self {
                if a.is_nan() || b.is_nan() {
                    <$t>::NAN
                } else {
                    a.max(b)
                }
            }
            fn minimum(a: Self, b: Self) -> Self {
                if a.is_nan() || b.is_nan() {
                    <$t>::NAN
                } else {
                    a.min(b)
                }
            }
        }
    };
}
float_arith!(f32);
float_arith!(f64);

impl Arith for bool {
    fn add(a: Self, b: Self) -> Self {
        a | b
    }
    fn sub(a: Self, b: Self) -> Self {
        a ^ b
    }
    fn mul(a: Self, b: Self) -> Self {
        a & b
    }
    fn div(a: Self, b: Self) -> Self {
        a & b
    }
    fn pow(a: Self, b: Self) -> Self {
        a | !b
    }
    fn maximum(a: Self, b: Self) -> Self {
        a | b
    }
    fn minimum(a: Self, b: Self) -> Self {
        a & b
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

/// Runs `$body` with `$f` bound to the kernel closure of `$op` for element type `$T`,
/// so each op gets its own monomorphised (and vectorisable) loop.
macro_rules! with_binary_kernel {
    ($op:expr, $T:ty, $f:ident => $body:expr) => {
        match $op {
            BinaryOp::Add => {
                let $f = |x: $T, y: $T| <$T as Arith>::add(x, y);
                $body
            }
            BinaryOp::Sub => {
                let $f = |x: $T, y: $T| <$T as Arith>::sub(x, y);
                $body
            }
            BinaryOp::Mul => {
                let $f = |x: $T, y: $T| <$T as Arith>::mul(x, y);
                $body
            }
            BinaryOp::Div => {
                let $f = |x: $T, y: $T| <$T as Arith>::div(x, y);
                $body
            }
            BinaryOp::Pow => {
                let $f = |x: $T, y: $T| <$T as Arith>::pow(x, y);
                $body
            }
            BinaryOp::Maximum => {
                let $f = |x: $T, y: $T| <$T as Arith>::maximum(x, y);
                $body
            }
            BinaryOp::Minimum => {
                let $f = |x: $T, y: $T| <$T as Arith>::minimum(x, y);
                $body
            }
        }
    };
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

macro_rules! with_cmp_kernel {
    ($op:expr, $T:ty, $f:ident => $body:expr) => {
        match $op {
            CmpOp::Eq => {
                let $f = |x: $T, y: $T| x == y;
                $body
            }
            CmpOp::Ne => {
                let $f = |x: $T, y: $T| x != y;
                $body
            }
            CmpOp::Lt => {
                let $f = |x: $T, y: $T| x < y;
                $body
            }
            CmpOp::Le => {
                let $f = |x: $T, y: $T| x <= y;
                $body
            }
            CmpOp::Gt => {
                let $f = |x: $T, y: $T| x > y;
                $body
            }
            CmpOp::Ge => {
                let $f = |x: $T, y: $T| x >= y;
                $body
            }
        }
    };
}

/// `f(a[i], b[i])` over the broadcast `shape`; `a` and `b` hold `A` and `B`.
pub(crate) fn zip_map<A: Element, B: Element, O: Element>(
    a: &Tensor,
    b: &Tensor,
    shape: &[usize],
    f: impl Fn(A, B) -> O,
) -> Tensor {
    let n: usize = shape.iter().product();
    let out: Vec<O> = read2(a, b, |ba, bb| {
        let (da, db) = (A::slice(ba), B::slice(bb));
        let (la, lb) = (a.layout(), b.layout());
        let same = la.shape.as_slice() == shape && lb.shape.as_slice() == shape;
        match (la.contiguous_range(), lb.contiguous_range()) {
            (Some(ra), Some(rb)) if same => zip_slices(&da[ra], &db[rb], &f),
            (Some(ra), _) if la.shape.as_slice() == shape && lb.numel() == 1 => {
                let y = db[lb.offset];
                da[ra].iter().map(|&x| f(x, y)).collect()
            }
            (_, Some(rb)) if lb.shape.as_slice() == shape && la.numel() == 1 => {
                let x = da[la.offset];
                db[rb].iter().map(|&y| f(x, y)).collect()
            }
            (Some(ra), Some(rb))
                if la.shape.as_slice() == shape
                    && is_trailing(&lb.shape, shape)
                    && !rb.is_empty() =>
            {
                // A row vector broadcast over a matrix (a bias): whole rows at a time.
                let row = &db[rb];
                let mut out = Vec::with_capacity(n);
                for chunk in da[ra].chunks_exact(row.len()) {
                    out.extend(chunk.iter().zip(row).map(|(&x, &y)| f(x, y)));
                }
                out
            }
            _ => {
                let (sa, sb) = (la.broadcast_strides(shape), lb.broadcast_strides(shape));
                let mut out = Vec::with_capacity(n);
                for_each_offsets(shape, [&sa, &sb], [la.offset, lb.offset], |[i, j]| {
                    out.push(f(da[i], db[j]))
                });
                out
            }
        }
    });
    Tensor::from_buffer(O::into_buffer(out), shape)
}

// NOTE(avx2): the portable x86-64 build may only use SSE2. The two loops every
// elementwise op ends in are compiled a second time with AVX2 enabled and picked
// at run time, which doubles their vector width. The operations are the same
// (Rust never fuses a multiply and an add on its own), so results are identical
// on every machine.

/// `f(a[i], b[i])` over two slices of equal length; see NOTE(avx2).
fn zip_slices<A: Copy, B: Copy, O>(a: &[A], b: &[B], f: &impl Fn(A, B) -> O) -> Vec<O> {
    #[inline(always)]
    fn body<A: Copy, B: Copy, O>(a: &[A], b: &[B], f: &impl Fn(A, B) -> O) -> Vec<O> {
        // A plain loop rather than `collect`, whose out-of-line helper would be
        // compiled without AVX2.
        let len = a.len().min(b.len());
        let mut out = Vec::with_capacity(len);
        for ((o, &x), &y) in out.spare_capacity_mut().iter_mut().zip(a).zip(b) {
            o.write(f(x, y));
        }
        // SAFETY: the loop initialised the first `len` elements.
        unsafe { out.set_len(len) };
        out
    }
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f")]
        unsafe fn avx512<A: Copy, B: Copy, O>(a: &[A], b: &[B], f: &impl Fn(A, B) -> O) -> Vec<O> {
            body(a, b, f)
        }
        #[target_feature(enable = "avx2")]
        unsafe fn avx2<A: Copy, B: Copy, O>(a: &[A], b: &[B], f: &impl Fn(A, B) -> O) -> Vec<O> {
            body(a, b, f)
        }
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F, checked just above.
            return unsafe { avx512(a, b, f) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe { avx2(a, b, f) };
        }
    }
    body(a, b, f)
}

/// `f(a[i])` over a slice; see NOTE(avx2).
fn map_slice<A: Copy, O>(a: &[A], f: &impl Fn(A) -> O) -> Vec<O> {
    #[inline(always)]
    fn body<A: Copy, O>(a: &[A], f: &impl Fn(A) -> O) -> Vec<O> {
        // A plain loop, as in `zip_slices`.
        let mut out = Vec::with_capacity(a.len());
        for (o, &x) in out.spare_capacity_mut().iter_mut().zip(a) {
            o.write(f(x));
        }
        // SAFETY: the loop initialised all `a.len()` elements.
        unsafe { out.set_len(a.len()) };
        out
    }
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f")]
        unsafe fn avx512<A: Copy, O>(a: &[A], f: &impl Fn(A) -> O) -> Vec<O> {
            body(a, f)
        }
        #[target_feature(enable = "avx2")]
        unsafe fn avx2<A: Copy, O>(a: &[A], f: &impl Fn(A) -> O) -> Vec<O> {
            body(a, f)
        }
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F, checked just above.
            return unsafe { avx512(a, f) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2, checked just above.
            return unsafe { avx2(a, f) };
        }
    }
    body(a, f)
}

/// True when `small`, stripped of leading 1s, equals the trailing dims of `shape`.
fn is_trailing(small: &[usize], shape: &[usize]) -> bool {
    let first = small.iter().position(|&d| d != 1).unwrap_or(small.len());
    let small = &small[first..];
    small.len() <= shape.len() && &shape[shape.len() - small.len()..] == small
}

/// `f(a[i])` over every element, in row-major order.
pub(crate) fn map<A: Element, O: Element>(a: &Tensor, f: impl Fn(A) -> O) -> Tensor {
    let out: Vec<O> = a.with_slice(|d: &[A], l| match l.contiguous_range() {
        Some(r) => map_slice(&d[r], &f),
        None => {
            let mut out = Vec::with_capacity(l.numel());
            for_each_offsets(&l.shape, [&l.strides], [l.offset], |[i]| out.push(f(d[i])));
            out
        }
    });
    Tensor::from_buffer(O::into_buffer(out), a.shape())
}

/// The tensor converted to `dtype` without recording a graph edge (the caller
/// records the op against the original input).
fn cast(t: &Tensor, dtype: DType) -> Tensor {
    if t.dtype() == dtype {
        t.clone()
    } else {
        crate::autograd::no_grad(|| t.to_dtype(dtype))
    }
}

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
        let (a, b) = (cast(self, dtype), cast(other, dtype));
        let out = with_dtype!(dtype, T => with_binary_kernel!(op, T, f => zip_map::<T, T, T>(&a, &b, &shape, f)));
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
        let out = if self.dtype() == DType::U8 && dtype == DType::F32 {
            // Pixels to floats (`data / 255`): converted inside the loop, without
            // a float32 copy of the whole input first. Only this pair of dtypes:
            // each other pair would be one more set of loops to compile, for
            // casts no lecture step repeats over a whole dataset.
            let y = f32::from_scalar(s);
            with_binary_kernel!(op, f32, f => map::<u8, f32>(self, move |x| f(f32::from(x), y)))
        } else {
            let a = cast(self, dtype);
            with_dtype!(dtype, T => {
                let y = T::from_scalar(s);
                with_binary_kernel!(op, T, f => map::<T, T>(&a, move |x| f(x, y)))
            })
        };
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

    /// `scalar - self` (PyTorch's `rsub`).
    pub fn rsub_scalar(&self, s: impl Into<Scalar>) -> Tensor {
        let s = s.into();
        let dtype = s.result_type_with(self.dtype());
        let a = cast(self, dtype);
        let out = with_dtype!(dtype, T => {
            let y = T::from_scalar(s);
            map::<T, T>(&a, move |x| T::sub(y, x))
        });
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
        let (a, b) = (cast(self, dtype), cast(other, dtype));
        Ok(
            with_dtype!(dtype, T => with_cmp_kernel!(op, T, f => zip_map::<T, T, bool>(&a, &b, &shape, f))),
        )
    }

    /// Elementwise comparison with a scalar; the result is bool.
    pub fn compare_scalar(&self, s: impl Into<Scalar>, op: CmpOp) -> Tensor {
        let s = s.into();
        let dtype = s.result_type_with(self.dtype());
        let a = cast(self, dtype);
        with_dtype!(dtype, T => {
            let y = T::from_scalar(s);
            with_cmp_kernel!(op, T, f => map::<T, bool>(&a, move |x| f(x, y)))
        })
    }

    /// `self == other` elementwise.
    #[track_caller]
    pub fn eq(&self, other: &Tensor) -> Tensor {
        or_panic!(self.try_compare(other, CmpOp::Eq))
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

    fn float_unary<N: autograd::Node + 'static>(
        &self,
        f32_fn: impl Fn(f32) -> f32,
        f64_fn: impl Fn(f64) -> f64,
        node: impl FnOnce(Tensor, Tensor) -> N,
    ) -> Tensor {
        let dtype = self.dtype().to_float();
        let a = cast(self, dtype);
        let out = match dtype {
            DType::F32 => map::<f32, f32>(&a, f32_fn),
            _ => map::<f64, f64>(&a, f64_fn),
        };
        let saved = out.detach();
        Tensor::record(out, &[self], || node(self.clone(), saved))
    }

    /// `e^x` elementwise (integers compute in float32).
    pub fn exp(&self) -> Tensor {
        self.float_unary(f32::exp, f64::exp, |x, out| ExpBackward0 { x, out })
    }
    /// Natural logarithm elementwise.
    pub fn log(&self) -> Tensor {
        self.float_unary(f32::ln, f64::ln, |x, _| LogBackward0 { x })
    }
    /// Square root elementwise.
    pub fn sqrt(&self) -> Tensor {
        self.float_unary(f32::sqrt, f64::sqrt, |x, out| SqrtBackward0 { x, out })
    }
    /// Sine elementwise, in radians (integers compute in float32).
    pub fn sin(&self) -> Tensor {
        self.float_unary(f32::sin, f64::sin, |x, _| SinBackward0 { x })
    }
    /// Cosine elementwise, in radians (integers compute in float32).
    pub fn cos(&self) -> Tensor {
        self.float_unary(f32::cos, f64::cos, |x, _| CosBackward0 { x })
    }
    /// Hyperbolic tangent elementwise.
    pub fn tanh(&self) -> Tensor {
        self.float_unary(f32::tanh, f64::tanh, |x, out| TanhBackward0 { x, out })
    }
    /// Logistic sigmoid `1 / (1 + e^-x)` elementwise.
    ///
    /// ```
    /// use kindling::Tensor;
    /// assert_eq!(Tensor::from_vec(vec![0.0f32], [1]).sigmoid().to_vec::<f32>(), vec![0.5]);
    /// ```
    pub fn sigmoid(&self) -> Tensor {
        self.float_unary(sigmoid::<f32>, sigmoid::<f64>, |x, out| SigmoidBackward0 {
            x,
            out,
        })
    }

    /// The error function elementwise (no gradient: used inside GELU).
    pub fn erf(&self) -> Tensor {
        let dtype = self.dtype().to_float();
        let a = cast(self, dtype);
        match dtype {
            DType::F32 => map::<f32, f32>(&a, libm::erff),
            _ => map::<f64, f64>(&a, libm::erf),
        }
    }

    /// `max(x, 0)` elementwise; keeps the dtype.
    pub fn relu(&self) -> Tensor {
        let out = with_dtype!(self.dtype(), T => {
            let zero = T::default();
            map::<T, T>(self, move |x| if x > zero { x } else { zero })
        });
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
        let out = with_dtype!(self.dtype(), T => map::<T, T>(self, |x| T::sub(T::default(), x)));
        Ok(Tensor::record(out, &[self], || NegBackward0 {
            x: self.clone(),
        }))
    }

    /// `|x|` elementwise.
    pub fn abs(&self) -> Tensor {
        let out = with_dtype!(self.dtype(), T => {
            let zero = T::default();
            map::<T, T>(self, move |x| if x < zero { T::sub(zero, x) } else { x })
        });
        Tensor::record(out, &[self], || AbsBackward0 { x: self.clone() })
    }

    /// The sign (-1, 0 or 1) elementwise, in the same dtype.
    pub fn sign(&self) -> Tensor {
        with_dtype!(self.dtype(), T => {
            let zero = T::default();
            map::<T, T>(self, move |x| if x > zero { T::from_i64(1) } else if x < zero { T::from_i64(-1) } else { zero })
        })
    }

    /// Clamps every element into `[min, max]` (either bound optional).
    pub fn clamp(&self, min: Option<f64>, max: Option<f64>) -> Tensor {
        let out = with_dtype!(self.dtype(), T => {
            let (lo, hi) = (min.map(T::from_f64), max.map(T::from_f64));
            map::<T, T>(self, move |mut x| {
                if let Some(lo) = lo { if x < lo { x = lo } }
                if let Some(hi) = hi { if x > hi { x = hi } }
                x
            })
        });
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
        let (x, y) = (cast(a, dtype), cast(b, dtype));
        let c = cond.contiguous_vec::<bool>();
        let cl = crate::tensor::Layout::contiguous(cond.shape());
        let sc = cl.broadcast_strides(&shape);
        let out = with_dtype!(dtype, T => read2(&x, &y, |bx, by| {
            let (dx, dy) = (T::slice(bx), T::slice(by));
            let (lx, ly) = (x.layout(), y.layout());
            let (sx, sy) = (lx.broadcast_strides(&shape), ly.broadcast_strides(&shape));
            let mut out: Vec<T> = Vec::with_capacity(shape.iter().product());
            for_each_offsets(&shape, [&sc, &sx, &sy], [0, lx.offset, ly.offset], |[k, i, j]| {
                out.push(if c[k] { dx[i] } else { dy[j] })
            });
            Tensor::from_buffer(T::into_buffer(out), &shape)
        }));
        if !dtype.is_floating_point() {
            return Ok(out);
        }
        Ok(Tensor::record(out, &[a, b], || WhereBackward0 {
            cond: cond.clone(),
            a: a.clone(),
            b: b.clone(),
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

    /// Applies `f(self[i], other[i])` in place, `other` broadcast to `self`'s shape.
    fn zip_inplace(&self, other: &Tensor, op: impl FnOnce(DType) -> Result<()>) -> Result<()> {
        self.check_inplace()?;
        let shape = broadcast_shapes(self.shape(), other.shape())?;
        if shape.as_slice() != self.shape() {
            return Err(Error::Shape(format!(
                "output with shape {:?} doesn't match the broadcast shape {:?}",
                self.shape(),
                shape.as_slice()
            )));
        }
        op(self.dtype())
    }

    fn apply_inplace<T: Element>(&self, other: &Tensor, f: impl Fn(T, T) -> T) {
        // Reading `other` while writing `self` must not lock one storage twice.
        let other = if self.shares_storage(other) {
            other.clone_tensor()
        } else {
            cast(other, T::DTYPE)
        };
        let src = other.inner.storage.read();
        let mut dst = self.inner.storage.write();
        let (ds, dd) = (T::slice(&src), T::slice_mut(&mut dst));
        let (ls, ld) = (other.layout(), self.layout());
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

    /// `self += alpha * other` in place (PyTorch's `add_(other, alpha=alpha)`).
    pub fn try_add_(&self, other: &Tensor, alpha: f64) -> Result<()> {
        self.zip_inplace(other, |dtype| {
            with_dtype!(dtype, T => {
                if alpha == 1.0 {
                    self.apply_inplace::<T>(other, T::add);
                } else {
                    let a = T::from_f64(alpha);
                    self.apply_inplace::<T>(other, move |x, y| T::add(x, T::mul(a, y)));
                }
            });
            Ok(())
        })
    }

    /// `self += alpha * other` in place.
    #[track_caller]
    pub fn add_(&self, other: &Tensor, alpha: f64) {
        or_panic!(self.try_add_(other, alpha))
    }

    /// `self *= other` in place.
    #[track_caller]
    pub fn mul_(&self, other: &Tensor) {
        or_panic!(self.zip_inplace(other, |dtype| {
            with_dtype!(dtype, T => self.apply_inplace::<T>(other, T::mul));
            Ok(())
        }))
    }

    /// Copies `src` (broadcast, converted) into this tensor's elements in place.
    #[track_caller]
    pub fn copy_(&self, src: &Tensor) {
        or_panic!(self.try_copy_(src))
    }

    /// Fallible [`Tensor::copy_`].
    pub fn try_copy_(&self, src: &Tensor) -> Result<()> {
        self.zip_inplace(src, |dtype| {
            with_dtype!(dtype, T => self.apply_inplace::<T>(src, |_, y| y));
            Ok(())
        })
    }

    /// `self *= s` in place.
    #[track_caller]
    pub fn mul_scalar_(&self, s: f64) {
        or_panic!(self.check_inplace());
        with_dtype!(self.dtype(), T => {
            let s = T::from_f64(s);
            self.map_inplace::<T>(move |x| T::mul(x, s))
        })
    }

    /// Sets every element to `value` in place.
    #[track_caller]
    pub fn fill_(&self, value: impl Into<Scalar>) {
        or_panic!(self.check_inplace());
        let value = value.into();
        with_dtype!(self.dtype(), T => {
            let v = T::from_scalar(value);
            self.map_inplace::<T>(move |_| v)
        })
    }

    /// Sets every element to zero in place.
    #[track_caller]
    pub fn zero_(&self) {
        self.fill_(0)
    }

    pub(crate) fn map_inplace<T: Element>(&self, f: impl Fn(T) -> T) {
        let mut buf = self.inner.storage.write();
        let d = T::slice_mut(&mut buf);
        let l = self.layout();
        match l.contiguous_range() {
            Some(r) => d[r].iter_mut().for_each(|x| *x = f(*x)),
            None => for_each_offsets(&l.shape, [&l.strides], [l.offset], |[i]| d[i] = f(d[i])),
        }
    }
}

#[inline(always)]
fn sigmoid<T: Float>(x: T) -> T {
    T::ONE / (T::ONE + (-x).fast_exp()) // see NOTE(fast-exp)
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
    /// Passes where min <= x <= max.
    ClampBackward1 { x: Tensor, min: Option<f64>, max: Option<f64> }
    inputs [x];
    backward(n, g, acc) {
        acc.add(&n.x, || {
            let mut keep = Tensor::full_dtype(n.x.shape(), true, DType::Bool);
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
        acc.add(&n.x, || fused(g, &n.out, |g, y| g * (1.0 - y * y), |g, y| g * (1.0 - y * y)))
    }
}

grad_fn! {
    /// σ' = σ(1 - σ), from the saved output.
    SigmoidBackward0 { x: Tensor, out: Tensor }
    inputs [x];
    backward(n, g, acc) {
        acc.add(&n.x, || {
            fused(g, &n.out, |g, y| g * (y * (1.0 - y)), |g, y| g * (y * (1.0 - y)))
        })
    }
}

grad_fn! {
    /// A step function: the gradient passes where the output is positive.
    ReluBackward0 { x: Tensor, out: Tensor }
    inputs [x];
    backward(n, g, acc) {
        acc.add(&n.x, || {
            fused(
                g,
                &n.out,
                |g, y| if y > 0.0 { g } else { 0.0 },
                |g, y| if y > 0.0 { g } else { 0.0 },
            )
        })
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

fn float_input(x: &Tensor, op: &'static str) -> Result<()> {
    if x.dtype().is_floating_point() {
        Ok(())
    } else {
        Err(Error::NotImplemented {
            op,
            dtype: x.dtype(),
        })
    }
}

/// `f(g, y)` elementwise for a gradient and a saved output of the same shape and
/// float dtype: one pass and one allocation instead of a chain of ops.
fn fused(
    g: &Tensor,
    y: &Tensor,
    f32_fn: impl Fn(f32, f32) -> f32,
    f64_fn: impl Fn(f64, f64) -> f64,
) -> Tensor {
    let shape = g.shape().to_vec();
    match g.dtype() {
        DType::F32 => zip_map::<f32, f32, f32>(g, y, &shape, f32_fn),
        _ => zip_map::<f64, f64, f64>(g, &y.to_dtype(g.dtype()), &shape, f64_fn),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::golden::{goldens, gradchecks};

    goldens! { "elementwise";
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
        r#where: [randn(&[2, 3], 1), randn(&[3], 2)] => |x| Tensor::where_cond(&Tensor::from_slice(&[true, false, true]), &x[0], &x[1]);
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
        assert!(w.try_add_(&Tensor::ones([2]), 1.0).is_err());
        crate::no_grad(|| w.add_(&Tensor::ones([2]), -0.5));
        assert_eq!(w.to_vec::<f32>(), vec![0.5, 0.5]);
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
