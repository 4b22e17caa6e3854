//! `torch.tensor(data)`: tensors from Rust literals, nested arrays and vectors,
//! with the dtypes PyTorch gives Python values.

use super::{DType, Scalar, Tensor};
use crate::error::{or_panic, Error, Result};
use crate::tensor::dtype::{with_dtype, Element};

/// A number that can be an element of [`Tensor::tensor`]'s data, with the dtype
/// PyTorch gives the matching Python value: integers (`i32`, the type of a
/// bare Rust literal, included) are int64 as Python ints are; floats (`f64`,
/// a bare literal's type, included) are float32, PyTorch's default dtype;
/// `u8` stays uint8 and `bool` bool.
pub trait Literal: Copy {
    /// The dtype of a tensor of these values.
    const DTYPE: DType;
    /// The value.
    fn scalar(self) -> Scalar;
}

macro_rules! literal {
    ($($t:ty => $dtype:ident),*) => {$(
        impl Literal for $t {
            const DTYPE: DType = DType::$dtype;
            fn scalar(self) -> Scalar {
                Scalar::from(self)
            }
        }
    )*};
}
literal!(i32 => I64, i64 => I64, usize => I64, u8 => U8, bool => Bool, f32 => F32, f64 => F32);

/// Data for [`Tensor::tensor`]: a [`Literal`], or an array, slice or `Vec` of
/// data (nested to any depth, all rows of one length).
pub trait TensorData {
    /// The dtype of the elements.
    fn dtype(&self) -> DType;
    /// Appends the shape (from this level down) and the elements in order;
    /// `first` says whether this is the first element at its level (which
    /// sets the shape the others must match).
    #[doc(hidden)]
    fn collect(&self, depth: usize, shape: &mut Vec<usize>, values: &mut Vec<Scalar>)
        -> Result<()>;
}

impl<T: Literal> TensorData for T {
    fn dtype(&self) -> DType {
        T::DTYPE
    }
    fn collect(
        &self,
        depth: usize,
        shape: &mut Vec<usize>,
        values: &mut Vec<Scalar>,
    ) -> Result<()> {
        if shape.len() > depth {
            return Err(Error::Value(format!(
                "expected sequence of length {} at dim {depth} (got a number)",
                shape[depth]
            )));
        }
        values.push(self.scalar());
        Ok(())
    }
}

fn collect_seq<D: TensorData>(
    items: &[D],
    depth: usize,
    shape: &mut Vec<usize>,
    values: &mut Vec<Scalar>,
) -> Result<()> {
    match shape.get(depth) {
        None if values.is_empty() => shape.push(items.len()),
        None => {
            return Err(Error::Value(format!(
                "expected a number at dim {depth} (got a sequence of length {})",
                items.len()
            )))
        }
        Some(&n) if n != items.len() => {
            return Err(Error::Value(format!(
                "expected sequence of length {n} at dim {depth} (got {})",
                items.len()
            )))
        }
        Some(_) => {}
    }
    for item in items {
        item.collect(depth + 1, shape, values)?;
    }
    Ok(())
}

/// Arrays, `Vec`s and slices of data: one level of nesting each.
macro_rules! sequence_data {
    ($([$($generics:tt)*] $t:ty),*) => {$(
        impl<$($generics)*> TensorData for $t {
            fn dtype(&self) -> DType {
                self.first().map_or(DType::F32, TensorData::dtype)
            }
            fn collect(
                &self,
                depth: usize,
                shape: &mut Vec<usize>,
                values: &mut Vec<Scalar>,
            ) -> Result<()> {
                collect_seq(self, depth, shape, values)
            }
        }
    )*};
}
sequence_data!([D: TensorData, const N: usize] [D; N], [D: TensorData] Vec<D>, [D: TensorData] &[D]);

impl Tensor {
    /// `torch.tensor(data)`: a tensor of the values in `data`, shaped as its
    /// nesting, with PyTorch's dtypes for Python values (integer literals give
    /// int64, float literals float32; see [`Literal`]). For another dtype use
    /// [`Tensor::from_vec`] with typed values, or `.to_dtype(..)`.
    ///
    /// ```
    /// use kindling::{DType, Tensor};
    /// let x_data = Tensor::tensor([[1, 2], [3, 4]]);
    /// assert_eq!(x_data.to_string(), "tensor([[1, 2],\n        [3, 4]])");
    /// assert_eq!(x_data.dtype(), DType::I64);
    /// assert_eq!(Tensor::tensor([0.5, 1.0]).dtype(), DType::F32);
    /// assert_eq!(Tensor::tensor(3).size().len(), 0);
    /// ```
    ///
    /// # Panics
    /// When the rows of a nested `Vec` differ in length; see [`Tensor::try_tensor`].
    // Named as `torch.tensor`, the constructor every tutorial starts with.
    #[allow(clippy::self_named_constructors)]
    #[track_caller]
    pub fn tensor(data: impl TensorData) -> Tensor {
        or_panic!(Tensor::try_tensor(data))
    }

    /// Fallible [`Tensor::tensor`]: PyTorch's words for ragged rows
    /// (`expected sequence of length 2 at dim 1 (got 3)`).
    pub fn try_tensor(data: impl TensorData) -> Result<Tensor> {
        let dtype = data.dtype();
        let (mut shape, mut values) = (Vec::new(), Vec::new());
        data.collect(0, &mut shape, &mut values)?;
        // An empty row ends the shape early (`[[]]` is [1, 0]).
        if values.is_empty() && shape.last() != Some(&0) {
            shape.push(0);
        }
        let buf = with_dtype!(dtype, T => T::into_buffer(values.iter().map(|&v| T::from_scalar(v)).collect()));
        Ok(Tensor::from_buffer(buf, &shape))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_and_dtypes_follow_torch_tensor() {
        let t = Tensor::tensor([[1, 2, 3], [4, 5, 6]]);
        assert_eq!((t.shape(), t.dtype()), (&[2usize, 3][..], DType::I64));
        assert_eq!(t.to_vec::<i64>(), [1, 2, 3, 4, 5, 6]);
        assert_eq!(
            Tensor::tensor(vec![vec![true], vec![false]]).shape(),
            &[2, 1]
        );
        assert_eq!(Tensor::tensor([1u8, 255]).dtype(), DType::U8);
        assert_eq!(Tensor::tensor([[0.25f64]]).to_vec::<f32>(), [0.25]);
        assert_eq!(Tensor::tensor(2.5).shape(), &[] as &[usize]);
        assert_eq!(
            Tensor::try_tensor(vec![vec![1, 2], vec![3]])
                .unwrap_err()
                .to_string(),
            "expected sequence of length 2 at dim 1 (got 1)"
        );
    }
}
