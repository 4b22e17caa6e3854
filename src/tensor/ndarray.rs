//! Conversions to and from [`ndarray`], the Rust ecosystem's NumPy (cargo
//! feature `ndarray`): the tensors tutorial's `torch.from_numpy(a)` and
//! `t.numpy()`.
//!
//! Memory is not shared, unlike PyTorch's: `Tensor::from(array)` takes the
//! array's buffer without copying when it is in standard (row-major,
//! contiguous) layout and copies otherwise; `to_ndarray` copies, since a
//! tensor's storage may be shared with views and with autograd.
//!
//! ```
//! use kindling::Tensor;
//! use ndarray::array;
//! let a = array![[1.0f32, 2.0], [3.0, 4.0]];
//! let t = Tensor::from(a.clone());
//! assert_eq!(t.shape(), &[2, 2]);
//! assert_eq!(t.to_ndarray::<f32>(), a.into_dyn());
//! assert_eq!(t.t().to_ndarray::<f64>()[[0, 1]], 3.0);
//! ```

use ndarray::{Array, ArrayD, Dimension, IxDyn};

use super::{Element, Tensor};

impl<T: Element, D: Dimension> From<Array<T, D>> for Tensor {
    /// The array as a tensor of its element type and shape (its buffer
    /// moved, not copied, when it is in standard layout).
    fn from(a: Array<T, D>) -> Tensor {
        let shape = a.shape().to_vec();
        let numel = a.len();
        let data = if a.is_standard_layout() {
            match a.into_raw_vec_and_offset() {
                (v, Some(0) | None) if v.len() == numel => v,
                (v, offset) => {
                    let start = offset.unwrap_or(0);
                    v[start..start + numel].to_vec()
                }
            }
        } else {
            a.iter().copied().collect()
        };
        Tensor::from_vec(data, shape)
    }
}

impl Tensor {
    /// The elements as an `ndarray` array of this shape, converted to `T` as
    /// `.to(dtype)` converts (`t.numpy()` when `T` is the tensor's own type).
    pub fn to_ndarray<T: Element>(&self) -> ArrayD<T> {
        ArrayD::from_shape_vec(IxDyn(self.shape()), self.to_vec::<T>())
            .expect("a tensor's elements fill its shape")
    }
}
