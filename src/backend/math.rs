//! Each element-level operation, defined once and used by every backend, so
//! that the backends differ in how they walk memory (SIMD, threads, blocking)
//! and never in the arithmetic of one element.

use super::{BinaryOp, CmpOp, FloatOp, GradOp};
use crate::tensor::{Element, Float};

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

/// Runs `$body` with `$f` bound to the element function of `$op` for `$T`, so
/// each op gets its own monomorphised (and vectorisable) loop.
macro_rules! with_binary_fn {
    ($op:expr, $T:ty, $f:ident => $body:expr) => {
        match $op {
            $crate::backend::BinaryOp::Add => {
                let $f = |x: $T, y: $T| <$T as $crate::backend::math::Arith>::add(x, y);
                $body
            }
            $crate::backend::BinaryOp::Sub => {
                let $f = |x: $T, y: $T| <$T as $crate::backend::math::Arith>::sub(x, y);
                $body
            }
            $crate::backend::BinaryOp::Mul => {
                let $f = |x: $T, y: $T| <$T as $crate::backend::math::Arith>::mul(x, y);
                $body
            }
            $crate::backend::BinaryOp::Div => {
                let $f = |x: $T, y: $T| <$T as $crate::backend::math::Arith>::div(x, y);
                $body
            }
            $crate::backend::BinaryOp::Pow => {
                let $f = |x: $T, y: $T| <$T as $crate::backend::math::Arith>::pow(x, y);
                $body
            }
            $crate::backend::BinaryOp::Maximum => {
                let $f = |x: $T, y: $T| <$T as $crate::backend::math::Arith>::maximum(x, y);
                $body
            }
            $crate::backend::BinaryOp::Minimum => {
                let $f = |x: $T, y: $T| <$T as $crate::backend::math::Arith>::minimum(x, y);
                $body
            }
        }
    };
}
pub(crate) use with_binary_fn;

/// Runs `$body` with `$f` bound to the comparison `$op` for `$T`.
macro_rules! with_cmp_fn {
    ($op:expr, $T:ty, $f:ident => $body:expr) => {
        match $op {
            $crate::backend::CmpOp::Eq => {
                let $f = |x: $T, y: $T| x == y;
                $body
            }
            $crate::backend::CmpOp::Ne => {
                let $f = |x: $T, y: $T| x != y;
                $body
            }
            $crate::backend::CmpOp::Lt => {
                let $f = |x: $T, y: $T| x < y;
                $body
            }
            $crate::backend::CmpOp::Le => {
                let $f = |x: $T, y: $T| x <= y;
                $body
            }
            $crate::backend::CmpOp::Gt => {
                let $f = |x: $T, y: $T| x > y;
                $body
            }
            $crate::backend::CmpOp::Ge => {
                let $f = |x: $T, y: $T| x >= y;
                $body
            }
        }
    };
}
pub(crate) use with_cmp_fn;

/// Runs `$body` with `$f` bound to the float function `$op` for `$T` (f32 or f64).
macro_rules! with_float_fn {
    ($op:expr, $T:ty, $f:ident => $body:expr) => {
        match $op {
            $crate::backend::FloatOp::Exp => {
                let $f = |x: $T| <$T as $crate::tensor::Float>::exp(x);
                $body
            }
            $crate::backend::FloatOp::Log => {
                let $f = |x: $T| <$T as $crate::tensor::Float>::ln(x);
                $body
            }
            $crate::backend::FloatOp::Sqrt => {
                let $f = |x: $T| <$T as $crate::tensor::Float>::sqrt(x);
                $body
            }
            $crate::backend::FloatOp::Tanh => {
                let $f = |x: $T| <$T as $crate::tensor::Float>::tanh(x);
                $body
            }
            $crate::backend::FloatOp::Sigmoid => {
                let $f = |x: $T| $crate::backend::math::sigmoid::<$T>(x);
                $body
            }
            $crate::backend::FloatOp::Sin => {
                let $f = |x: $T| <$T as $crate::tensor::Float>::sin(x);
                $body
            }
            $crate::backend::FloatOp::Cos => {
                let $f = |x: $T| <$T as $crate::tensor::Float>::cos(x);
                $body
            }
            $crate::backend::FloatOp::Erf => {
                let $f = |x: $T| <$T as $crate::tensor::Float>::erf(x);
                $body
            }
        }
    };
}
pub(crate) use with_float_fn;

/// Runs `$body` with `$f` bound to the gradient formula `$op`, `f(g, y)` from
/// the output gradient `g` and the saved output `y`.
macro_rules! with_grad_fn {
    ($op:expr, $T:ty, $f:ident => $body:expr) => {
        match $op {
            $crate::backend::GradOp::Tanh => {
                let $f = |g: $T, y: $T| {
                    $crate::backend::math::grad::<$T>($crate::backend::GradOp::Tanh, g, y)
                };
                $body
            }
            $crate::backend::GradOp::Sigmoid => {
                let $f = |g: $T, y: $T| {
                    $crate::backend::math::grad::<$T>($crate::backend::GradOp::Sigmoid, g, y)
                };
                $body
            }
            $crate::backend::GradOp::Relu => {
                let $f = |g: $T, y: $T| {
                    $crate::backend::math::grad::<$T>($crate::backend::GradOp::Relu, g, y)
                };
                $body
            }
        }
    };
}
pub(crate) use with_grad_fn;

/// `1 / (1 + e^-x)`; see NOTE(fast-exp).
#[inline(always)]
pub(crate) fn sigmoid<T: Float>(x: T) -> T {
    T::ONE / (T::ONE + (-x).fast_exp())
}

/// The fused gradient formulas of the saved-output activations.
#[inline(always)]
pub(crate) fn grad<T: Float>(op: GradOp, g: T, y: T) -> T {
    match op {
        GradOp::Tanh => g * (T::ONE - y * y),      // 1 - tanh²
        GradOp::Sigmoid => g * (y * (T::ONE - y)), // σ(1 - σ)
        GradOp::Relu => {
            if y > T::ZERO {
                g
            } else {
                T::ZERO
            }
        } // a step
    }
}

/// `x op y` for one element, choosing the function at run time (the
/// reference backend's form; the CPU backend monomorphises with
/// [`with_binary_fn`]).
pub(crate) fn binary<T: Arith>(op: BinaryOp, x: T, y: T) -> T {
    with_binary_fn!(op, T, f => f(x, y))
}

/// `x op y` for one comparison.
pub(crate) fn compare<T: Element>(op: CmpOp, x: T, y: T) -> bool {
    with_cmp_fn!(op, T, f => f(x, y))
}

/// `op(x)` for one float element.
pub(crate) fn float<T: Float>(op: FloatOp, x: T) -> T {
    match op {
        FloatOp::Exp => x.exp(),
        FloatOp::Log => x.ln(),
        FloatOp::Sqrt => x.sqrt(),
        FloatOp::Tanh => x.tanh(),
        FloatOp::Sigmoid => sigmoid(x),
        FloatOp::Sin => x.sin(),
        FloatOp::Cos => x.cos(),
        FloatOp::Erf => x.erf(),
    }
}

/// Runs `$body` with `$f` bound to the element function of the any-dtype `$op`
/// for `$T`.
macro_rules! with_unary_fn {
    ($op:expr, $T:ty, $f:ident => $body:expr) => {{
        let zero = <$T>::default();
        match $op {
            $crate::backend::UnaryOp::Relu => {
                let $f = move |x: $T| if x > zero { x } else { zero };
                $body
            }
            $crate::backend::UnaryOp::Neg => {
                let $f = move |x: $T| <$T as $crate::backend::math::Arith>::sub(zero, x);
                $body
            }
            $crate::backend::UnaryOp::Abs => {
                let $f = move |x: $T| {
                    if x < zero {
                        <$T as $crate::backend::math::Arith>::sub(zero, x)
                    } else {
                        x
                    }
                };
                $body
            }
            $crate::backend::UnaryOp::Sign => {
                let (one, minus_one) = (
                    <$T as $crate::tensor::Element>::from_i64(1),
                    <$T as $crate::tensor::Element>::from_i64(-1),
                );
                let $f = move |x: $T| {
                    if x > zero {
                        one
                    } else if x < zero {
                        minus_one
                    } else {
                        zero
                    }
                };
                $body
            }
            $crate::backend::UnaryOp::Clamp(min, max) => {
                let (lo, hi) = (
                    min.map(<$T as $crate::tensor::Element>::from_f64),
                    max.map(<$T as $crate::tensor::Element>::from_f64),
                );
                let $f = move |mut x: $T| {
                    if let Some(lo) = lo {
                        if x < lo {
                            x = lo
                        }
                    }
                    if let Some(hi) = hi {
                        if x > hi {
                            x = hi
                        }
                    }
                    x
                };
                $body
            }
        }
    }};
}
pub(crate) use with_unary_fn;
