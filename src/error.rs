//! The library's error type.
//!
//! Messages use PyTorch's own words wherever PyTorch has a message, so a user can
//! search for them; otherwise they name the op and say *expected … but found …*.

use crate::tensor::DType;

/// Everything a kindling operation can refuse to do.
///
/// Its `Debug` form is its message (as candle's errors do), so that
/// `fn main() -> kindling::Result<()>` ending in `?` prints PyTorch's words and
/// the hint, not the variant's fields:
///
/// ```
/// let e = kindling::Error::DType { expected: kindling::DType::F32, found: kindling::DType::U8 };
/// assert!(format!("{e:?}").starts_with("expected scalar type Float but found Byte\nhint: "));
/// assert_eq!(format!("{e:?}"), e.to_string());
/// ```
#[derive(Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// Two operands (or an operand and a weight) have different element types.
    ///
    /// The message is PyTorch's (`expected scalar type Float but found Byte`); when
    /// integers meet float weights a second line says how to fix it.
    #[error("expected scalar type {} but found {}{}", .expected.scalar_type_name(), .found.scalar_type_name(), dtype_hint(*.expected, *.found))]
    DType { expected: DType, found: DType },

    /// An op that does not support an element type at all.
    #[error("\"{op}\" not implemented for '{}'", .dtype.scalar_type_name())]
    NotImplemented { op: &'static str, dtype: DType },

    /// The inner dimensions of a matrix product differ.
    #[error("mat1 and mat2 shapes cannot be multiplied ({m}x{k1} and {k2}x{n})")]
    MatMul {
        m: usize,
        k1: usize,
        k2: usize,
        n: usize,
    },

    /// Shapes that cannot be broadcast together.
    #[error("The size of tensor a ({a_size}) must match the size of tensor b ({b_size}) at non-singleton dimension {dim} (shapes {a:?} and {b:?})")]
    Broadcast {
        a: Vec<usize>,
        b: Vec<usize>,
        a_size: usize,
        b_size: usize,
        dim: usize,
    },

    /// A dimension argument outside `[-ndim, ndim - 1]`.
    #[error("Dimension out of range (expected to be in range of [{low}, {high}], but got {dim})")]
    DimOutOfRange { dim: isize, low: isize, high: isize },

    /// An index outside a dimension's size.
    #[error("index {index} is out of bounds for dimension {dim} with size {size}")]
    IndexOutOfRange { index: i64, dim: usize, size: usize },

    /// An index that does not fit the tensor (PyTorch's `IndexError`: too many
    /// indices, a mask of the wrong shape, an index tensor of the wrong dtype).
    #[error("{0}")]
    Index(String),

    /// A shape whose element count differs from the tensor's.
    #[error("shape '{shape:?}' is invalid for input of size {numel}")]
    Reshape { shape: Vec<isize>, numel: usize },

    /// Any other misuse of shapes; the message names the op and both shapes.
    #[error("{0}")]
    Shape(String),

    /// A misuse of autograd (backward on a tensor that does not require grad, ...).
    #[error("{0}")]
    Autograd(String),

    /// A file that cannot be read or written, or whose content is invalid.
    #[error("{}: {message}", .path.display())]
    Io {
        path: std::path::PathBuf,
        message: String,
    },

    /// A state dict that does not fit the model (PyTorch's report, every key named).
    #[error("{0}")]
    StateDict(String),

    /// Tensors on two devices in one op.
    #[error("Expected all tensors to be on the same device, but found at least two devices, {a} and {b}!")]
    Device {
        a: crate::tensor::Device,
        b: crate::tensor::Device,
    },

    /// A value argument out of its domain (a negative standard deviation, ...).
    #[error("{0}")]
    Value(String),
}

/// The result type of every fallible kindling call.
pub type Result<T> = std::result::Result<T, Error>;

impl std::fmt::Debug for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl Error {
    /// The Python exception PyTorch raises for this error (`RuntimeError`,
    /// `IndexError`, `ValueError`, `OSError`): what a notebook shows in front
    /// of the message, as Jupyter shows a Python exception's last line.
    ///
    /// ```
    /// let e = kindling::Error::DType { expected: kindling::DType::F32, found: kindling::DType::U8 };
    /// assert_eq!(e.python_exception(), "RuntimeError");
    /// ```
    pub fn python_exception(&self) -> &'static str {
        match self {
            Error::DimOutOfRange { .. } | Error::IndexOutOfRange { .. } | Error::Index(_) => {
                "IndexError"
            }
            Error::Value(_) => "ValueError",
            Error::Io { .. } => "OSError",
            Error::DType { .. }
            | Error::NotImplemented { .. }
            | Error::MatMul { .. }
            | Error::Broadcast { .. }
            | Error::Reshape { .. }
            | Error::Shape(_)
            | Error::Autograd(_)
            | Error::StateDict(_)
            | Error::Device { .. } => "RuntimeError",
        }
    }
}

fn dtype_hint(expected: DType, found: DType) -> &'static str {
    if expected.is_floating_point() && !found.is_floating_point() {
        "\nhint: the input holds integers (such as uint8 pixels in 0..=255) but the weights are \
         floats; convert the input first: `x / 255` gives float32 in [0, 1], or use \
         `x.to_dtype(DType::F32)`"
    } else {
        ""
    }
}

pub(crate) fn shape_err(msg: impl Into<String>) -> Error {
    Error::Shape(msg.into())
}

/// Turns a `try_` result into the plain form's panic, at the caller's line.
macro_rules! or_panic {
    ($e:expr) => {
        match $e {
            Ok(v) => v,
            Err(e) => panic!("{e}"),
        }
    };
}
pub(crate) use or_panic;
