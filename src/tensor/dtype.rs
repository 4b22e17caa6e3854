//! Element types, scalars and PyTorch's type promotion.

use std::fmt;

use super::storage::Buffer;

/// The element type of a tensor, a run-time value as in PyTorch.
///
/// The variants are ordered by PyTorch's promotion lattice for these five types,
/// so promoting two dtypes is taking the larger one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DType {
    /// `torch.bool`
    Bool,
    /// `torch.uint8` (PyTorch's "Byte"): MNIST pixels.
    U8,
    /// `torch.int64` (PyTorch's "Long"): labels and indices.
    I64,
    /// `torch.float32` (PyTorch's "Float"), the default.
    F32,
    /// `torch.float64` (PyTorch's "Double").
    F64,
}

impl DType {
    /// The name PyTorch prints after `torch.`: `uint8`, `int64`, `float32`, ...
    pub fn name(self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::U8 => "uint8",
            DType::I64 => "int64",
            DType::F32 => "float32",
            DType::F64 => "float64",
        }
    }

    /// The scalar-type name PyTorch uses in error messages: `Byte`, `Long`, `Float`, ...
    pub fn scalar_type_name(self) -> &'static str {
        match self {
            DType::Bool => "Bool",
            DType::U8 => "Byte",
            DType::I64 => "Long",
            DType::F32 => "Float",
            DType::F64 => "Double",
        }
    }

    /// True for `F32` and `F64`.
    pub fn is_floating_point(self) -> bool {
        matches!(self, DType::F32 | DType::F64)
    }

    /// Bytes per element.
    pub fn size_of(self) -> usize {
        match self {
            DType::Bool | DType::U8 => 1,
            DType::I64 | DType::F64 => 8,
            DType::F32 => 4,
        }
    }

    /// 0 for bool, 1 for integers, 2 for floats: promotion compares categories first.
    pub(crate) fn category(self) -> u8 {
        match self {
            DType::Bool => 0,
            DType::U8 | DType::I64 => 1,
            DType::F32 | DType::F64 => 2,
        }
    }

    /// The dtype an integer input is computed in by ops that need floats
    /// (`exp`, `sqrt`, true division, ...): PyTorch's default float32.
    pub(crate) fn to_float(self) -> DType {
        if self.is_floating_point() {
            self
        } else {
            DType::F32
        }
    }
}

impl fmt::Display for DType {
    /// As `print(t.dtype)` in PyTorch: `torch.float32`. ([`DType::name`] is the
    /// bare `float32`.)
    ///
    /// ```
    /// use kindling::DType;
    /// assert_eq!(DType::U8.to_string(), "torch.uint8");
    /// assert_eq!(DType::U8.name(), "uint8");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "torch.{}", self.name())
    }
}

/// The dtype of `a op b` for two tensors, following `torch.result_type`:
/// a zero-dimensional tensor only decides the type when its category (bool < integer
/// < float) is higher than the dimensioned operand's.
pub(crate) fn result_type(a: DType, a_dim: usize, b: DType, b_dim: usize) -> DType {
    match (a_dim == 0, b_dim == 0) {
        (true, false) if a.category() <= b.category() => b,
        (false, true) if b.category() <= a.category() => a,
        _ => a.max(b),
    }
}

/// A single number as PyTorch's Python scalars see it: bool, int or float.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Scalar {
    /// A Python `bool`.
    Bool(bool),
    /// A Python `int`.
    Int(i64),
    /// A Python `float`.
    Float(f64),
}

impl Scalar {
    /// The value as `f64`.
    pub fn to_f64(self) -> f64 {
        match self {
            Scalar::Bool(b) => b as u8 as f64,
            Scalar::Int(i) => i as f64,
            Scalar::Float(f) => f,
        }
    }

    /// Python's `type(x)` of the value: `<class 'float'>`, `<class 'int'>`,
    /// `<class 'bool'>` (what `print(agg_item, type(agg_item))` shows).
    ///
    /// ```
    /// assert_eq!(kindling::Tensor::ones([2]).sum().item().python_type(), "<class 'float'>");
    /// ```
    pub fn python_type(self) -> &'static str {
        match self {
            Scalar::Bool(_) => "<class 'bool'>",
            Scalar::Int(_) => "<class 'int'>",
            Scalar::Float(_) => "<class 'float'>",
        }
    }

    /// The value as `i64` (floats truncate toward zero).
    pub fn to_i64(self) -> i64 {
        match self {
            Scalar::Bool(b) => b as i64,
            Scalar::Int(i) => i,
            Scalar::Float(f) => f as i64,
        }
    }

    /// The dtype of `tensor op scalar` when the tensor has dtype `t`: a Python scalar
    /// only promotes across categories, and then to the default type of its category.
    pub(crate) fn result_type_with(self, t: DType) -> DType {
        let (category, default) = match self {
            Scalar::Bool(_) => (0, DType::Bool),
            Scalar::Int(_) => (1, DType::I64),
            Scalar::Float(_) => (2, DType::F32),
        };
        if category > t.category() {
            default
        } else {
            t
        }
    }
}

impl fmt::Display for Scalar {
    /// Prints as Python prints the number: `6`, `0.5`, `True`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Bool(b) => f.write_str(if *b { "True" } else { "False" }),
            Scalar::Int(i) => write!(f, "{i}"),
            Scalar::Float(x) => f.write_str(&python_float(*x)),
        }
    }
}

/// `x` as Python's `repr` writes a float: Rust's shortest round-trip digits
/// (which switch to an exponent where Python's do), with Python's exponent
/// of at least two digits and a sign: `1e-05`, `2.5e+16`, `0.1`, `inf`.
pub(crate) fn python_float(x: f64) -> String {
    let s = format!("{x:?}");
    match s.split_once('e') {
        Some((mantissa, exp)) => {
            let (sign, digits) = match exp.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', exp),
            };
            format!("{mantissa}e{sign}{digits:0>2}")
        }
        None => s,
    }
}

macro_rules! scalar_from {
    ($variant:ident, $via:ty: $($t:ty),*) => {$(
        impl From<$t> for Scalar {
            fn from(v: $t) -> Scalar { Scalar::$variant(v as $via) }
        }
    )*};
}
scalar_from!(Int, i64: i64, i32, u8, usize, u32);
scalar_from!(Float, f64: f64, f32);
impl From<bool> for Scalar {
    fn from(v: bool) -> Scalar {
        Scalar::Bool(v)
    }
}
impl From<Scalar> for f64 {
    fn from(s: Scalar) -> f64 {
        s.to_f64()
    }
}
impl From<Scalar> for i64 {
    fn from(s: Scalar) -> i64 {
        s.to_i64()
    }
}

/// Arithmetic between a [`Scalar`] (what `item()` returns) and an `f64`, in
/// `f64`, as Python mixes `loss.item()` with floats:
///
/// ```
/// use kindling::Tensor;
/// let loss = Tensor::from_vec(vec![0.25f32], [1]).sum();
/// let mut running_loss = 0.0;
/// running_loss += loss.item();
/// assert_eq!(running_loss + loss.item(), 0.5);
/// assert_eq!(loss.item() * 4.0, 1.0);
/// ```
macro_rules! scalar_f64_ops {
    ($($op:ident $method:ident $assign:ident $assign_method:ident),*) => {$(
        impl std::ops::$op<Scalar> for f64 {
            type Output = f64;
            fn $method(self, rhs: Scalar) -> f64 {
                std::ops::$op::$method(self, rhs.to_f64())
            }
        }
        impl std::ops::$op<f64> for Scalar {
            type Output = f64;
            fn $method(self, rhs: f64) -> f64 {
                std::ops::$op::$method(self.to_f64(), rhs)
            }
        }
        impl std::ops::$assign<Scalar> for f64 {
            fn $assign_method(&mut self, rhs: Scalar) {
                std::ops::$assign::$assign_method(self, rhs.to_f64())
            }
        }
    )*};
}
scalar_f64_ops!(
    Add add AddAssign add_assign,
    Sub sub SubAssign sub_assign,
    Mul mul MulAssign mul_assign,
    Div div DivAssign div_assign
);

/// A Rust type that can be a tensor element: `bool`, `u8`, `i64`, `f32`, `f64`.
///
/// Conversions between element types follow C casts, as PyTorch's `.to(dtype)` does
/// (integers wrap, floats truncate toward zero).
pub trait Element:
    Copy + Send + Sync + PartialOrd + PartialEq + fmt::Debug + Default + 'static
{
    /// The matching run-time dtype.
    const DTYPE: DType;
    /// Whether this is a floating-point type.
    #[doc(hidden)]
    const IS_FLOAT: bool = matches!(Self::DTYPE, DType::F32 | DType::F64);
    /// The value as `f64`.
    fn to_f64(self) -> f64;
    /// Cast from `f64`.
    fn from_f64(v: f64) -> Self;
    /// The value as `i64`.
    fn to_i64(self) -> i64;
    /// Cast from `i64`.
    fn from_i64(v: i64) -> Self;
    /// The value as a Python-style scalar.
    fn to_scalar(self) -> Scalar;
    /// Cast from a scalar.
    fn from_scalar(s: Scalar) -> Self {
        match s {
            Scalar::Bool(b) => Self::from_i64(b as i64),
            Scalar::Int(i) => Self::from_i64(i),
            Scalar::Float(f) => Self::from_f64(f),
        }
    }
    #[doc(hidden)]
    fn slice(buf: &Buffer) -> &[Self];
    #[doc(hidden)]
    fn slice_mut(buf: &mut Buffer) -> &mut [Self];
    #[doc(hidden)]
    fn into_buffer(v: Vec<Self>) -> Buffer;
}

macro_rules! element {
    ($t:ty, $variant:ident, $scalar:ident, $to_scalar:expr) => {
        impl Element for $t {
            const DTYPE: DType = DType::$variant;
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            #[inline(always)]
            fn to_i64(self) -> i64 {
                self as i64
            }
            #[inline(always)]
            fn from_i64(v: i64) -> Self {
                v as $t
            }
            fn to_scalar(self) -> Scalar {
                Scalar::$scalar($to_scalar(self))
            }
            fn slice(buf: &Buffer) -> &[Self] {
                match buf {
                    Buffer::$variant(v) => v,
                    other => {
                        unreachable!("buffer holds {:?}, not {}", other.dtype(), stringify!($t))
                    }
                }
            }
            fn slice_mut(buf: &mut Buffer) -> &mut [Self] {
                match buf {
                    Buffer::$variant(v) => v,
                    other => {
                        unreachable!("buffer holds {:?}, not {}", other.dtype(), stringify!($t))
                    }
                }
            }
            fn into_buffer(v: Vec<Self>) -> Buffer {
                Buffer::$variant(v)
            }
        }
    };
}
element!(u8, U8, Int, |v: u8| v as i64);
element!(i64, I64, Int, |v: i64| v);
element!(f32, F32, Float, |v: f32| v as f64);
element!(f64, F64, Float, |v: f64| v);

impl Element for bool {
    const DTYPE: DType = DType::Bool;
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as u8 as f64
    }
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v != 0.0
    }
    #[inline(always)]
    fn to_i64(self) -> i64 {
        self as i64
    }
    #[inline(always)]
    fn from_i64(v: i64) -> Self {
        v != 0
    }
    fn to_scalar(self) -> Scalar {
        Scalar::Bool(self)
    }
    fn slice(buf: &Buffer) -> &[Self] {
        match buf {
            Buffer::Bool(v) => v,
            other => unreachable!("buffer holds {:?}, not bool", other.dtype()),
        }
    }
    fn slice_mut(buf: &mut Buffer) -> &mut [Self] {
        match buf {
            Buffer::Bool(v) => v,
            other => unreachable!("buffer holds {:?}, not bool", other.dtype()),
        }
    }
    fn into_buffer(v: Vec<Self>) -> Buffer {
        Buffer::Bool(v)
    }
}

/// Floating-point element types, for the kernels of float-only ops.
pub trait Float:
    Element
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::Div<Output = Self>
    + std::ops::Neg<Output = Self>
    + std::ops::AddAssign
    + std::ops::SubAssign
    + std::ops::MulAssign
    + std::iter::Sum
{
    #[doc(hidden)]
    fn exp(self) -> Self;
    /// `e^x` in a form the compiler vectorises (for float32: a Cephes-style
    /// polynomial, within 2 ulp of libm); used by sigmoid and softmax.
    #[doc(hidden)]
    fn fast_exp(self) -> Self {
        self.exp()
    }
    #[doc(hidden)]
    fn ln(self) -> Self;
    #[doc(hidden)]
    fn sqrt(self) -> Self;
    #[doc(hidden)]
    fn tanh(self) -> Self;

    #[doc(hidden)]
    fn powf(self, e: Self) -> Self;
    #[doc(hidden)]
    fn abs(self) -> Self;
    #[doc(hidden)]
    fn is_nan(self) -> bool;
    #[doc(hidden)]
    const ZERO: Self;
    #[doc(hidden)]
    const ONE: Self;
    #[doc(hidden)]
    const NEG_INFINITY: Self;
}

macro_rules! float {
    ($t:ty, $fast_exp:expr) => {
        impl Float for $t {
            #[inline(always)]
            fn exp(self) -> Self {
                <$t>::exp(self)
            }
            #[inline(always)]
            fn fast_exp(self) -> Self {
                $fast_exp(self)
            }
            #[inline(always)]
            fn ln(self) -> Self {
                <$t>::ln(self)
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            #[inline(always)]
            fn tanh(self) -> Self {
                <$t>::tanh(self)
            }

            #[inline(always)]
            fn powf(self, e: Self) -> Self {
                <$t>::powf(self, e)
            }
            #[inline(always)]
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
            #[inline(always)]
            fn is_nan(self) -> bool {
                <$t>::is_nan(self)
            }
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const NEG_INFINITY: Self = <$t>::NEG_INFINITY;
        }
    };
}
float!(f32, exp_f32);
float!(f64, f64::exp);

// NOTE(fast-exp): libm's `expf` is a function call per element, so loops calling it
// do not vectorise; sigmoid spent a tenth of a small network's training step in
// it. This is the classic Cephes single-precision algorithm: range reduction by
// ln 2, a degree-6 polynomial, and the exponent put in with integer arithmetic,
// written without branches so loops over it vectorise. Outside the float range
// it returns 0 and infinity, as `expf` does (results that would be subnormal are
// flushed to 0).
#[inline(always)]
pub(crate) fn exp_f32(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Round to nearest by adding and removing 1.5·2^23 (`f32::round` is a libm
    // call on baseline x86-64, which would stop the loop from vectorising).
    const MAGIC: f32 = 12_582_912.0;
    let xc = x.clamp(-87.0, 88.0);
    let shifted = xc * LOG2E + MAGIC;
    let n = shifted - MAGIC;
    // n as an integer, read from the bits (`n as i32` would not vectorise): every
    // `shifted` has the exponent of 2^23, so the bit patterns differ by exactly n.
    let n_int = shifted.to_bits().wrapping_sub(MAGIC.to_bits()) as i32;
    let r = xc - n * LN2_HI - n * LN2_LO;
    let r2 = r * r;
    let p = ((((1.987_569_1e-4 * r + 1.398_199_9e-3) * r + 8.333_452e-3) * r + 4.166_579_6e-2) * r
        + 1.666_666_5e-1)
        * r
        + 0.5;
    let y = p * r2 + r + 1.0;
    let scaled = y * f32::from_bits(((n_int + 127) << 23) as u32);
    let out = if x > 88.72 { f32::INFINITY } else { scaled };
    let out = if x < -87.33 { 0.0 } else { out };
    #[allow(clippy::eq_op)]
    if x != x {
        x
    } else {
        out
    }
}

/// Runs `$body` with `$T` bound to the Rust type of `$dtype`.
macro_rules! with_dtype {
    ($dtype:expr, $T:ident => $body:expr) => {
        match $dtype {
            $crate::tensor::DType::Bool => {
                type $T = bool;
                $body
            }
            $crate::tensor::DType::U8 => {
                type $T = u8;
                $body
            }
            $crate::tensor::DType::I64 => {
                type $T = i64;
                $body
            }
            $crate::tensor::DType::F32 => {
                type $T = f32;
                $body
            }
            $crate::tensor::DType::F64 => {
                type $T = f64;
                $body
            }
        }
    };
}
pub(crate) use with_dtype;

/// Runs `$body` with `$T` bound to `f32` or `f64`; callers check the dtype first.
macro_rules! with_float {
    ($dtype:expr, $T:ident => $body:expr) => {
        match $dtype {
            $crate::tensor::DType::F32 => {
                type $T = f32;
                $body
            }
            $crate::tensor::DType::F64 => {
                type $T = f64;
                $body
            }
            other => unreachable!("float kernel called with {other:?}"),
        }
    };
}
pub(crate) use with_float;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_exp_is_within_two_ulp_of_libm() {
        let mut worst = 0.0f64;
        let mut x = -87.0f32;
        while x < 88.0 {
            let (a, b) = (exp_f32(x) as f64, (x as f64).exp());
            worst = worst.max(((a - b) / b).abs());
            x += 0.0137;
        }
        assert!(worst < 2.5e-7, "max relative error {worst}");
        assert_eq!(exp_f32(-100.0), 0.0);
        assert_eq!(exp_f32(100.0), f32::INFINITY);
        assert!(exp_f32(f32::NAN).is_nan());
        assert_eq!(exp_f32(0.0), 1.0);
    }

    #[test]
    fn floats_print_as_python_reprs_them() {
        // Python 3: repr(1e-5), repr(2.5e16), ... as printed by the interpreter.
        let cases = [
            (1e-5, "1e-05"),
            (2.5e16, "2.5e+16"),
            (1e16, "1e+16"),
            (0.0001, "0.0001"),
            (1.5e-7, "1.5e-07"),
            (1e300, "1e+300"),
            (0.1, "0.1"),
            (0.5, "0.5"),
            (f64::INFINITY, "inf"),
        ];
        for (x, python) in cases {
            assert_eq!(Scalar::Float(x).to_string(), python);
        }
    }
}
