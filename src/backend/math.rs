//! Each element-level operation, defined once and used by every backend, so
//! that the backends differ in how they walk memory (SIMD, threads, blocking)
//! and never in the arithmetic of one element.

use super::{BinaryOp, CmpOp, GradOp};
use crate::tensor::{Element, Float};

/// Float functions of one element (inputs already float32 or float64). Each
/// is defined by its line in [`with_float_fn`]; see `docs/adding-an-op.md`.
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

/// The float functions that `Float` does not have, for f32 and f64.
pub(crate) trait FloatMath: Float {
    fn sin(self) -> Self;
    fn cos(self) -> Self;
    fn erf(self) -> Self;
}

impl FloatMath for f32 {
    #[inline(always)]
    fn sin(self) -> f32 {
        f32::sin(self)
    }
    #[inline(always)]
    fn cos(self) -> f32 {
        f32::cos(self)
    }
    #[inline(always)]
    fn erf(self) -> f32 {
        libm::erff(self)
    }
}

impl FloatMath for f64 {
    #[inline(always)]
    fn sin(self) -> f64 {
        f64::sin(self)
    }
    #[inline(always)]
    fn cos(self) -> f64 {
        f64::cos(self)
    }
    #[inline(always)]
    fn erf(self) -> f64 {
        libm::erf(self)
    }
}

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
                let $f = |x: $T| <$T as $crate::backend::math::FloatMath>::sin(x);
                $body
            }
            $crate::backend::FloatOp::Cos => {
                let $f = |x: $T| <$T as $crate::backend::math::FloatMath>::cos(x);
                $body
            }
            $crate::backend::FloatOp::Erf => {
                let $f = |x: $T| <$T as $crate::backend::math::FloatMath>::erf(x);
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

/// `op(x)` for one float element, choosing the function at run time.
pub(crate) fn float<T: FloatMath>(op: FloatOp, x: T) -> T {
    with_float_fn!(op, T, f => f(x))
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

/// Softmax (or log-softmax) of one lane: the lane's maximum is subtracted
/// before exponentiating (NaN wins, an all `-inf` lane uses 0), and the sum of
/// exponentials accumulates in f64.
pub(crate) fn softmax_lane<T: Float>(src: &[T], out: &mut [T], log: bool) {
    let max = src.iter().fold(
        T::NEG_INFINITY,
        |m, &v| if v > m || v.is_nan() { v } else { m },
    );
    let max = if max == T::NEG_INFINITY { T::ZERO } else { max };
    let sum: f64 = src.iter().map(|&v| (v - max).fast_exp().to_f64()).sum();
    if log {
        let lse = T::from_f64(sum.ln());
        for (o, &v) in out.iter_mut().zip(src) {
            *o = v - max - lse;
        }
    } else {
        let inv = T::from_f64(1.0 / sum);
        for (o, &v) in out.iter_mut().zip(src) {
            *o = (v - max).fast_exp() * inv;
        }
    }
}

#[inline(always)]
#[allow(clippy::eq_op)]
pub(crate) fn is_nan<T: PartialEq>(x: T) -> bool {
    x != x
}

/// Whether `v` replaces `best` as a lane's extreme: NaN wins (and then
/// stays), ties keep the first, as in PyTorch.
#[inline(always)]
pub(crate) fn beats<T: PartialOrd + Copy>(v: T, best: T, max: bool) -> bool {
    !is_nan(best) && (is_nan(v) || (max && v > best) || (!max && v < best))
}

/// Whether `v` replaces `best` as a pooling window's maximum: larger, or NaN.
/// Unlike [`beats`], a later NaN replaces an earlier one, as PyTorch's
/// max-pooling kernel does (the index it returns is the last NaN's).
#[inline(always)]
pub(crate) fn pool_beats<T: PartialOrd + Copy>(v: T, best: T) -> bool {
    v > best || is_nan(v)
}

/// A lane's variance with `correction`, in f64.
pub(crate) fn variance(lane: impl Iterator<Item = f64> + Clone, correction: usize) -> f64 {
    let n = lane.clone().count() as f64;
    let mean = lane.clone().sum::<f64>() / n;
    let ss = lane.map(|v| (v - mean).powi(2)).sum::<f64>();
    ss / (n - correction as f64).max(0.0)
}

/// One SGD step's settings.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SgdStep {
    pub lr: f64,
    pub momentum: f64,
    pub dampening: f64,
    pub weight_decay: f64,
    pub nesterov: bool,
    /// The momentum buffer's first step (it starts as the gradient).
    pub first: bool,
}

/// One Adam or AdamW step's settings.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AdamStep {
    pub lr: f64,
    pub betas: (f64, f64),
    pub eps: f64,
    pub weight_decay: f64,
    /// AdamW: weight decay applied to the parameter, not the gradient.
    pub decoupled: bool,
    pub amsgrad: bool,
    /// √(1 - β2ᵗ)
    pub bias_correction2_sqrt: f64,
    /// lr / (1 - β1ᵗ)
    pub step_size: f64,
}

/// Adam's per-step constants, in the parameters' precision.
pub(crate) struct AdamConsts<T> {
    pub decay: T,
    pub wd: T,
    pub one_minus_b1: T,
    pub b2: T,
    pub one_minus_b2: T,
    pub bc2: T,
    pub eps: T,
    pub neg_step: T,
}

impl<T: Float> AdamConsts<T> {
    pub fn new(s: &AdamStep) -> AdamConsts<T> {
        let (b1, b2) = s.betas;
        AdamConsts {
            decay: T::from_f64(1.0 - s.lr * s.weight_decay),
            wd: T::from_f64(s.weight_decay),
            one_minus_b1: T::from_f64(1.0 - b1),
            b2: T::from_f64(b2),
            one_minus_b2: T::from_f64(1.0 - b2),
            bc2: T::from_f64(s.bias_correction2_sqrt),
            eps: T::from_f64(s.eps),
            neg_step: T::from_f64(-s.step_size),
        }
    }
}

/// `a + b·c` rounded once, as a fused multiply-add does, without needing the FMA
/// instruction (which baseline x86-64 lacks): the product of two floats is exact
/// in f64 and the sum is rounded back once (double rounding differs from a true
/// FMA only in rare ties).
#[inline(always)]
pub(crate) fn fused_add<T: Float>(a: T, b: T, c: T) -> T {
    T::from_f64(a.to_f64() + b.to_f64() * c.to_f64())
}

/// Adam's update of one element (after AdamW's decay), in PyTorch's order of
/// operations, with the L2 term and AMSGrad chosen at compile time.
#[inline(always)]
pub(crate) fn adam_element<T: Float, const L2: bool, const AMSGRAD: bool>(
    p: &mut T,
    g: T,
    m: &mut T,
    v: &mut T,
    vmax: &mut T,
    c: &AdamConsts<T>,
) {
    // PyTorch adds the L2 term with one rounding (a fused multiply-add); the
    // product of two f32 is exact in f64, so this rounds once too.
    let g = if L2 { fused_add(g, c.wd, *p) } else { g };
    *m = *m + c.one_minus_b1 * (g - *m); // lerp with weight 1 - β1 < 0.5
    *v = *v * c.b2 + c.one_minus_b2 * g * g;
    let second = if AMSGRAD {
        if *v > *vmax || v.is_nan() {
            *vmax = *v;
        }
        *vmax
    } else {
        *v
    };
    let denom = second.sqrt() / c.bc2 + c.eps;
    *p += c.neg_step * (*m / denom);
}

/// One Adadelta step's settings.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AdadeltaStep {
    pub lr: f64,
    pub rho: f64,
    pub eps: f64,
    pub weight_decay: f64,
}

/// Adadelta's per-step constants, in the parameters' precision.
pub(crate) struct AdadeltaConsts<T> {
    pub rho: T,
    pub one_minus_rho: T,
    pub eps: T,
    pub wd: T,
    pub neg_lr: T,
}

impl<T: Float> AdadeltaConsts<T> {
    pub fn new(s: &AdadeltaStep) -> AdadeltaConsts<T> {
        AdadeltaConsts {
            rho: T::from_f64(s.rho),
            one_minus_rho: T::from_f64(1.0 - s.rho),
            eps: T::from_f64(s.eps),
            wd: T::from_f64(s.weight_decay),
            neg_lr: T::from_f64(-s.lr),
        }
    }
}

/// Adadelta's update of one element, in the order of PyTorch's
/// `_single_tensor_adadelta`: `g += wd·p; s = ρ·s + (1-ρ)·g·g;
/// δ = √(a + eps) / √(s + eps) · g; a = ρ·a + (1-ρ)·δ·δ; p -= lr·δ`.
#[inline(always)]
pub(crate) fn adadelta_element<T: Float>(
    p: &mut T,
    g: T,
    square_avg: &mut T,
    acc_delta: &mut T,
    c: &AdadeltaConsts<T>,
) {
    let g = if c.wd != T::ZERO {
        fused_add(g, c.wd, *p)
    } else {
        g
    };
    *square_avg = *square_avg * c.rho + c.one_minus_rho * g * g;
    let std = (*square_avg + c.eps).sqrt();
    let delta = (*acc_delta + c.eps).sqrt() / std * g;
    *acc_delta = *acc_delta * c.rho + c.one_minus_rho * delta * delta;
    *p += c.neg_lr * delta;
}

/// One RMSprop step's settings.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RmspropStep {
    pub lr: f64,
    pub alpha: f64,
    pub eps: f64,
    pub weight_decay: f64,
    pub momentum: f64,
    pub centered: bool,
}

/// RMSprop's update of one element, in the order of PyTorch's
/// `_single_tensor_rmsprop`: `g += wd·p; s = α·s + (1-α)·g·g;` centered:
/// `m = lerp(m, g, 1-α); avg = √(s - m·m) + eps`, else `avg = √s + eps`; with
/// momentum `b = μ·b + g/avg; p -= lr·b`, else `p -= lr·g/avg`.
#[inline(always)]
pub(crate) fn rmsprop_element<T: Float>(
    p: &mut T,
    g: T,
    [square_avg, buf, grad_avg]: [&mut T; 3],
    s: &RmspropStep,
) {
    let c = |v: f64| T::from_f64(v);
    let g = if s.weight_decay != 0.0 {
        fused_add(g, c(s.weight_decay), *p)
    } else {
        g
    };
    *square_avg = *square_avg * c(s.alpha) + c(1.0 - s.alpha) * g * g;
    let avg = if s.centered {
        *grad_avg = *grad_avg + c(1.0 - s.alpha) * (g - *grad_avg);
        (*square_avg + c(-1.0) * *grad_avg * *grad_avg).sqrt() + c(s.eps)
    } else {
        square_avg.sqrt() + c(s.eps)
    };
    if s.momentum > 0.0 {
        *buf = *buf * c(s.momentum) + g / avg;
        *p += c(-s.lr) * *buf;
    } else {
        *p += c(-s.lr) * (g / avg);
    }
}

/// SGD's update of one element with a momentum buffer `b`:
/// `d = g + wd·p; b = d (first step) or momentum·b + (1 - dampening)·d;
/// p -= lr·(d + momentum·b if nesterov, else b)`.
#[inline(always)]
pub(crate) fn sgd_momentum_element<T: Float>(p: &mut T, g: T, b: &mut T, k: &SgdConsts<T>) {
    let d = if k.wd != T::ZERO { g + k.wd * *p } else { g };
    *b = if k.first {
        d
    } else {
        *b * k.momentum + k.damp_c * d
    };
    *p += k.neg_lr * if k.nesterov { d + k.momentum * *b } else { *b };
}

/// SGD's update of one element without momentum: `p -= lr·(g + wd·p)`.
#[inline(always)]
pub(crate) fn sgd_element<T: Float>(p: &mut T, g: T, k: &SgdConsts<T>) {
    let d = if k.wd != T::ZERO { g + k.wd * *p } else { g };
    *p += k.neg_lr * d;
}

/// SGD's per-step constants, in the parameters' precision.
pub(crate) struct SgdConsts<T> {
    pub neg_lr: T,
    pub momentum: T,
    pub damp_c: T,
    pub wd: T,
    pub nesterov: bool,
    pub first: bool,
}

impl<T: Float> SgdConsts<T> {
    pub fn new(s: &SgdStep) -> SgdConsts<T> {
        SgdConsts {
            neg_lr: T::from_f64(-s.lr),
            momentum: T::from_f64(s.momentum),
            damp_c: T::from_f64(1.0 - s.dampening),
            wd: T::from_f64(s.weight_decay),
            nesterov: s.nesterov,
            first: s.first,
        }
    }
}

/// Cross-entropy of one row of logits at class `t`: fills `p` with the row's
/// softmax and returns `-log_softmax(row)[t]`, rounded as `log_softmax` rounds
/// it.
pub(crate) fn cross_entropy_row<T: Float>(row: &[T], p: &mut [T], t: usize) -> f64 {
    let max = row.iter().fold(
        T::NEG_INFINITY,
        |m, &v| if v > m || v.is_nan() { v } else { m },
    );
    let max = if max == T::NEG_INFINITY { T::ZERO } else { max };
    for (p, &v) in p.iter_mut().zip(row) {
        *p = (v - max).fast_exp();
    }
    let sum: f64 = p.iter().map(|&e| e.to_f64()).sum();
    let inv = T::from_f64(1.0 / sum);
    p.iter_mut().for_each(|e| *e *= inv);
    let logp = row[t] - max - T::from_f64(sum.ln());
    -logp.to_f64()
}
