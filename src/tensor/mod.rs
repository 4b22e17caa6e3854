//! The [`Tensor`] type: a strided view of shared storage, with autograd metadata.

pub(crate) mod device;
mod display;
pub(crate) mod dtype;
pub(crate) mod layout;
mod literal;
#[cfg(feature = "ndarray")]
mod ndarray;
pub mod random;
mod size;
pub(crate) mod storage;

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

pub use device::Device;
pub(crate) use dtype::{with_dtype, with_float};
pub use dtype::{DType, Element, Float, Scalar};
pub(crate) use layout::{Dims, Layout};
pub use literal::{Literal, TensorData};
pub use random::Generator;
pub use size::Size;
pub(crate) use storage::Buffer;
use storage::Storage;

use crate::autograd::{self, Node, NodeBox};
use crate::error::{or_panic, Error, Result};

/// An n-dimensional array with PyTorch's semantics: a dtype chosen at run time,
/// views that share storage, broadcasting operators, and define-by-run autograd.
///
/// Cloning a tensor is cheap (a reference count) and the clone is the *same*
/// tensor, as assigning a tensor in Python is: it shares data, `requires_grad` and
/// `.grad`. Tensors are `Send + Sync`.
///
/// ```
/// use kindling::Tensor;
/// let t = Tensor::arange(6).reshape([2, 3]);
/// assert_eq!(t.to_string(), "tensor([[0, 1, 2],\n        [3, 4, 5]])");
/// assert_eq!(t.t().shape(), &[3, 2]);
/// ```
#[derive(Clone)]
pub struct Tensor {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) storage: Arc<Storage>,
    pub(crate) layout: Layout,
    pub(crate) dtype: DType,
    requires_grad: AtomicBool,
    pub(crate) grad: Mutex<Option<Tensor>>,
    pub(crate) grad_fn: Option<NodeBox>,
}

/// Anything that can name a shape: arrays, slices and vectors of `usize`, `isize`,
/// `i32` or `i64`. Negative sizes are only meaningful where PyTorch accepts `-1`
/// (`reshape`, `view`).
pub trait ShapeArg {
    /// The sizes, as signed integers.
    fn to_sizes(&self) -> Vec<isize>;
}

macro_rules! shape_arg {
    ($($t:ty),*) => {$(
        impl<const N: usize> ShapeArg for [$t; N] {
            fn to_sizes(&self) -> Vec<isize> { self.iter().map(|&d| d as isize).collect() }
        }
        impl<const N: usize> ShapeArg for &[$t; N] {
            fn to_sizes(&self) -> Vec<isize> { self.iter().map(|&d| d as isize).collect() }
        }
        impl ShapeArg for &[$t] {
            fn to_sizes(&self) -> Vec<isize> { self.iter().map(|&d| d as isize).collect() }
        }
        impl ShapeArg for Vec<$t> {
            fn to_sizes(&self) -> Vec<isize> { self.iter().map(|&d| d as isize).collect() }
        }
        impl ShapeArg for &Vec<$t> {
            fn to_sizes(&self) -> Vec<isize> { self.iter().map(|&d| d as isize).collect() }
        }
    )*};
}
shape_arg!(usize, isize, i32, i64);

pub(crate) fn shape_of(shape: impl ShapeArg) -> Result<Dims> {
    shape
        .to_sizes()
        .iter()
        .map(|&d| {
            usize::try_from(d).map_err(|_| {
                Error::Value(format!(
                    "Trying to create tensor with negative dimension {d}"
                ))
            })
        })
        .collect()
}

impl Tensor {
    // ----- construction -------------------------------------------------------------

    pub(crate) fn from_parts(
        storage: Arc<Storage>,
        layout: Layout,
        dtype: DType,
        grad_fn: Option<NodeBox>,
    ) -> Tensor {
        let requires_grad = grad_fn.is_some();
        Tensor {
            inner: Arc::new(Inner {
                storage,
                layout,
                dtype,
                requires_grad: AtomicBool::new(requires_grad),
                grad: Mutex::new(None),
                grad_fn,
            }),
        }
    }

    /// A new contiguous CPU tensor owning `buf`, with no autograd history.
    pub(crate) fn from_buffer(buf: Buffer, shape: &[usize]) -> Tensor {
        Tensor::from_buffer_on(buf, shape, Device::Cpu)
    }

    /// A new contiguous tensor on `device` owning `buf`, with no autograd history.
    pub(crate) fn from_buffer_on(buf: Buffer, shape: &[usize], device: Device) -> Tensor {
        debug_assert_eq!(shape.iter().product::<usize>(), buf.len());
        let dtype = buf.dtype();
        Tensor::from_parts(
            Arc::new(Storage::new(buf, device)),
            Layout::contiguous(shape),
            dtype,
            None,
        )
    }

    /// A view of this tensor's storage with another layout; records `grad_fn` when given.
    pub(crate) fn view_with(&self, layout: Layout, grad_fn: Option<NodeBox>) -> Tensor {
        Tensor::from_parts(
            self.inner.storage.clone(),
            layout,
            self.inner.dtype,
            grad_fn,
        )
    }

    /// Attaches `op` as the grad_fn of a freshly computed result when autograd is
    /// recording and any of `inputs` requires grad.
    pub(crate) fn record<N: Node + 'static>(
        result: Tensor,
        inputs: &[&Tensor],
        node: impl FnOnce() -> N,
    ) -> Tensor {
        if !autograd::needs_grad(inputs) {
            return result;
        }
        Tensor::attach(result, Box::new(node()))
    }

    /// The body of [`Tensor::record`], compiled once rather than once per op
    /// (NOTE(build-time)).
    fn attach(mut result: Tensor, node: NodeBox) -> Tensor {
        match Arc::get_mut(&mut result.inner) {
            // A freshly computed result is unshared: attach the op in place.
            Some(inner) => {
                inner.grad_fn = Some(node);
                *inner.requires_grad.get_mut() = true;
                result
            }
            None => {
                let Inner {
                    storage,
                    layout,
                    dtype,
                    ..
                } = &*result.inner;
                Tensor::from_parts(storage.clone(), layout.clone(), *dtype, Some(node))
            }
        }
    }

    /// A tensor holding `values` with the given shape.
    ///
    /// # Panics
    /// When the number of values differs from the shape's element count; see
    /// [`Tensor::try_from_vec`].
    ///
    /// ```
    /// use kindling::{Tensor, DType};
    /// let t = Tensor::from_vec(vec![1u8, 2, 3, 4], [2, 2]);
    /// assert_eq!(t.dtype(), DType::U8);
    /// ```
    #[track_caller]
    pub fn from_vec<T: Element>(values: Vec<T>, shape: impl ShapeArg) -> Tensor {
        or_panic!(Tensor::try_from_vec(values, shape))
    }

    /// Fallible [`Tensor::from_vec`].
    pub fn try_from_vec<T: Element>(values: Vec<T>, shape: impl ShapeArg) -> Result<Tensor> {
        let sizes = shape.to_sizes();
        let shape = shape_of(sizes.as_slice())?;
        if shape.iter().product::<usize>() != values.len() {
            return Err(Error::Reshape {
                shape: sizes,
                numel: values.len(),
            });
        }
        Ok(Tensor::from_buffer(T::into_buffer(values), &shape))
    }

    /// A 1-D tensor copied from a slice.
    pub fn from_slice<T: Element>(values: &[T]) -> Tensor {
        Tensor::from_buffer(T::into_buffer(values.to_vec()), &[values.len()])
    }

    /// A zero-dimensional tensor holding one value.
    pub fn scalar<T: Element>(value: T) -> Tensor {
        Tensor::from_buffer(T::into_buffer(vec![value]), &[])
    }

    /// A tensor filled with `value`; its dtype follows the value as in `torch.full`
    /// (int → int64, float → float32, bool → bool).
    #[track_caller]
    pub fn full(shape: impl ShapeArg, value: impl Into<Scalar>) -> Tensor {
        let value = value.into();
        let dtype = match value {
            Scalar::Bool(_) => DType::Bool,
            Scalar::Int(_) => DType::I64,
            Scalar::Float(_) => DType::F32,
        };
        Tensor::full_dtype(shape, value, dtype)
    }

    /// A tensor of the given dtype filled with `value`.
    #[track_caller]
    pub fn full_dtype(shape: impl ShapeArg, value: impl Into<Scalar>, dtype: DType) -> Tensor {
        let shape = or_panic!(shape_of(shape));
        let n = shape.iter().product();
        let value = value.into();
        with_dtype!(dtype, T => Tensor::from_buffer(T::into_buffer(vec![T::from_scalar(value); n]), &shape))
    }

    /// A float32 tensor of zeros.
    #[track_caller]
    pub fn zeros(shape: impl ShapeArg) -> Tensor {
        Tensor::full_dtype(shape, 0.0, DType::F32)
    }

    /// A float32 tensor of ones.
    #[track_caller]
    pub fn ones(shape: impl ShapeArg) -> Tensor {
        Tensor::full_dtype(shape, 1.0, DType::F32)
    }

    /// Zeros with this tensor's shape, dtype and device.
    pub fn zeros_like(&self) -> Tensor {
        self.full_like_dtype(0, self.dtype())
    }

    /// Ones with this tensor's shape, dtype and device.
    pub fn ones_like(&self) -> Tensor {
        self.full_like_dtype(1, self.dtype())
    }

    /// `value` in this tensor's shape, dtype and device (`torch.full_like`):
    /// an int tensor's `full_like(2.7)` holds 2, as in PyTorch.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let t = Tensor::from_slice(&[1i64, 2, 3]);
    /// assert_eq!(t.full_like(7).to_string(), "tensor([7, 7, 7])");
    /// ```
    pub fn full_like(&self, value: impl Into<Scalar>) -> Tensor {
        self.full_like_dtype(value, self.dtype())
    }

    /// `value` in this tensor's shape and on its device, in `dtype`
    /// (`torch.full_like(x, value, dtype=dtype)`).
    pub fn full_like_dtype(&self, value: impl Into<Scalar>, dtype: DType) -> Tensor {
        let value = value.into();
        let n = self.numel();
        let buf = with_dtype!(dtype, T => T::into_buffer(vec![T::from_scalar(value); n]));
        Tensor::from_buffer_on(buf, self.shape(), self.device())
    }

    /// `0, 1, ..., end - 1` as int64, like `torch.arange(end)`.
    pub fn arange(end: i64) -> Tensor {
        Tensor::from_vec((0..end.max(0)).collect::<Vec<i64>>(), [end.max(0) as usize])
    }

    /// `start, start + step, ...` below `end`, as float32 (`torch.arange(start, end, step)`
    /// with float arguments).
    ///
    /// # Panics
    /// When `step` is zero or has the wrong sign.
    #[track_caller]
    pub fn arange_f(start: f64, end: f64, step: f64) -> Tensor {
        assert!(
            step != 0.0 && (end - start) * step >= 0.0,
            "upper bound and larger bound inconsistent with step sign"
        );
        let n = ((end - start) / step).ceil().max(0.0) as usize;
        Tensor::from_vec(
            (0..n)
                .map(|i| (start + i as f64 * step) as f32)
                .collect::<Vec<_>>(),
            [n],
        )
    }

    /// `steps` evenly spaced float32 values from `start` to `end` inclusive.
    pub fn linspace(start: f64, end: f64, steps: usize) -> Tensor {
        let step = if steps > 1 {
            (end - start) / (steps - 1) as f64
        } else {
            0.0
        };
        // PyTorch fills the second half from the end, so `end` is hit exactly.
        let half = if steps == 1 { 1 } else { steps / 2 };
        let values = (0..steps)
            .map(|i| if i < half { start + step * i as f64 } else { end - step * (steps - 1 - i) as f64 } as f32)
            .collect::<Vec<_>>();
        Tensor::from_vec(values, [steps])
    }

    /// The float32 identity matrix: `Tensor::eye(3)` is `torch.eye(3)`, and
    /// `Tensor::eye((2, 3))` is `torch.eye(2, 3)` (ones on the main diagonal
    /// of a 2 × 3 matrix).
    ///
    /// ```
    /// use kindling::Tensor;
    /// assert_eq!(Tensor::eye(2).to_vec::<f32>(), [1.0, 0.0, 0.0, 1.0]);
    /// assert_eq!(Tensor::eye((2, 3)).shape(), &[2, 3]);
    /// ```
    pub fn eye(size: impl EyeSize) -> Tensor {
        let (n, m) = size.rows_cols();
        let mut v = vec![0f32; n * m];
        for i in 0..n.min(m) {
            v[i * m + i] = 1.0;
        }
        Tensor::from_vec(v, [n, m])
    }

    // ----- metadata -----------------------------------------------------------------

    /// The size of each dimension, as a slice (see [`Tensor::size`] for the
    /// value that prints as `torch.Size`).
    pub fn shape(&self) -> &[usize] {
        &self.inner.layout.shape
    }

    /// The shape as a [`Size`], PyTorch's `t.shape` / `t.size()`: it prints as
    /// `torch.Size([13, 784])`.
    pub fn size(&self) -> Size {
        Size(self.shape().to_vec())
    }

    /// The size of one dimension (negative counts from the end).
    #[track_caller]
    pub fn size_of(&self, dim: isize) -> usize {
        self.shape()[or_panic!(layout::wrap_dim(dim, self.dim()))]
    }

    /// Strides, in elements.
    pub fn stride(&self) -> &[usize] {
        &self.inner.layout.strides
    }

    /// Offset of the first element in the storage, in elements.
    pub fn storage_offset(&self) -> usize {
        self.inner.layout.offset
    }

    /// Number of dimensions.
    pub fn dim(&self) -> usize {
        self.inner.layout.ndim()
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.inner.layout.numel()
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.inner.dtype
    }

    /// The device the elements live on.
    pub fn device(&self) -> Device {
        self.inner.storage.device()
    }

    /// Moves this tensor's storage (and so every view of it) to `device`.
    pub(crate) fn relocate(&self, device: Device) {
        if self.device() != device {
            self.inner.storage.relocate(device);
        }
    }

    /// True when the elements are laid out row-major with no gaps.
    pub fn is_contiguous(&self) -> bool {
        self.inner.layout.is_contiguous()
    }

    /// True when both tensors view the same storage (a view, not a copy).
    pub fn shares_storage(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.inner.storage, &other.inner.storage)
    }

    /// True when both handles are the same tensor.
    pub fn is_same(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    pub(crate) fn layout(&self) -> &Layout {
        &self.inner.layout
    }

    // ----- autograd metadata --------------------------------------------------------

    /// Whether gradients flow to (leaf) or through (result) this tensor.
    pub fn requires_grad(&self) -> bool {
        self.inner.requires_grad.load(Ordering::Relaxed)
    }

    /// Sets `requires_grad` on a leaf tensor and returns it, like PyTorch's
    /// `requires_grad_()`.
    ///
    /// # Panics
    /// On a non-leaf tensor being switched off, and on integer tensors being
    /// switched on (only floats can require gradients), as in PyTorch.
    #[track_caller]
    pub fn requires_grad_(self, requires_grad: bool) -> Tensor {
        if requires_grad && !self.dtype().is_floating_point() {
            panic!("only Tensors of floating point dtype can require gradients");
        }
        if !requires_grad && !self.is_leaf() {
            panic!(
                "you can only change requires_grad flags of leaf variables. If you want to use a computed variable in a subgraph that doesn't require differentiation use var_no_grad = var.detach()."
            );
        }
        self.inner
            .requires_grad
            .store(requires_grad, Ordering::Relaxed);
        self
    }

    /// True for tensors created by the user rather than by a recorded op.
    pub fn is_leaf(&self) -> bool {
        self.inner.grad_fn.is_none()
    }

    /// The node of the op that produced this tensor (PyTorch's `t.grad_fn`):
    /// `None` for a leaf. Its [`GradFn::name`](crate::GradFn::name) is PyTorch's (`AddmmBackward0`, ...).
    pub fn grad_fn(&self) -> Option<crate::autograd::GradFn> {
        crate::autograd::GradFn::of(self)
    }

    /// The name of [`Tensor::grad_fn`], when there is one.
    pub(crate) fn grad_fn_name(&self) -> Option<&'static str> {
        self.inner.grad_fn.as_ref().map(|n| n.name())
    }

    /// The gradient accumulated by `backward()` into this leaf, if any.
    pub fn grad(&self) -> Option<Tensor> {
        self.inner
            .grad
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the accumulated gradient (`None` clears it, as `zero_grad` does).
    pub fn set_grad(&self, grad: Option<Tensor>) {
        *self.inner.grad.lock().unwrap_or_else(|e| e.into_inner()) = grad;
    }

    /// Clears the gradient, as PyTorch's `zero_grad(set_to_none=True)` does.
    pub fn zero_grad(&self) {
        self.set_grad(None);
    }

    /// The same data, cut from the graph: no grad_fn, no requires_grad. Shares storage.
    pub fn detach(&self) -> Tensor {
        self.view_with(self.inner.layout.clone(), None)
    }

    // ----- element access -----------------------------------------------------------

    /// Runs `f` on the storage slice and the layout, holding the read lock.
    pub(crate) fn with_slice<T: Element, R>(&self, f: impl FnOnce(&[T], &Layout) -> R) -> R {
        debug_assert_eq!(T::DTYPE, self.dtype());
        let buf = self.inner.storage.read();
        f(T::slice(&buf), &self.inner.layout)
    }

    /// The elements in row-major order, in their own type (no conversion).
    pub(crate) fn contiguous_vec<T: Element>(&self) -> Vec<T> {
        self.with_slice(|data: &[T], layout| match layout.contiguous_range() {
            Some(r) => data[r].to_vec(),
            None => {
                let mut out = Vec::with_capacity(layout.numel());
                layout::for_each_offsets(
                    &layout.shape,
                    [&layout.strides],
                    [layout.offset],
                    |[o]| out.push(data[o]),
                );
                out
            }
        })
    }

    /// The elements in row-major order, converted to `T` as `.to(dtype)` would.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let t = Tensor::from_vec(vec![1.5f32, -2.0], [2]);
    /// assert_eq!(t.to_vec::<f64>(), vec![1.5, -2.0]);
    /// assert_eq!(t.to_vec::<i64>(), vec![1, -2]);
    /// ```
    pub fn to_vec<T: Element>(&self) -> Vec<T> {
        if T::DTYPE == self.dtype() {
            return self.contiguous_vec::<T>();
        }
        with_dtype!(self.dtype(), S => self.contiguous_vec::<S>().into_iter().map(|v| convert::<S, T>(v)).collect())
    }

    /// The value of a one-element tensor, as a Python-style number.
    ///
    /// # Panics
    /// When the tensor has more than one element; see [`Tensor::try_item`].
    ///
    /// ```
    /// use kindling::{Tensor, Scalar};
    /// assert_eq!(Tensor::scalar(6i64).item(), Scalar::Int(6));
    /// assert_eq!(Tensor::scalar(6i64).item().to_string(), "6");
    /// ```
    #[track_caller]
    pub fn item(&self) -> Scalar {
        or_panic!(self.try_item())
    }

    /// Fallible [`Tensor::item`].
    pub fn try_item(&self) -> Result<Scalar> {
        if self.numel() != 1 {
            return Err(Error::Value(format!(
                "a Tensor with {} elements cannot be converted to Scalar",
                self.numel()
            )));
        }
        Ok(with_dtype!(self.dtype(), T => self.with_slice(|d: &[T], l| d[l.offset].to_scalar())))
    }
}

/// Casts one element as PyTorch's `.to(dtype)` does.
#[inline(always)]
pub(crate) fn convert<S: Element, T: Element>(v: S) -> T {
    if S::DTYPE.is_floating_point() || T::DTYPE.is_floating_point() {
        T::from_f64(v.to_f64())
    } else {
        T::from_i64(v.to_i64())
    }
}

impl fmt::Debug for Tensor {
    /// Short and Rust-style: `Tensor[64, 784; float32, cpu]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dims: Vec<String> = self.shape().iter().map(|d| d.to_string()).collect();
        write!(
            f,
            "Tensor[{}; {}, {}",
            dims.join(", "),
            self.dtype().name(),
            self.device()
        )?;
        if let Some(name) = self.grad_fn_name() {
            write!(f, ", grad_fn={name}")?;
        } else if self.requires_grad() {
            write!(f, ", requires_grad")?;
        }
        write!(f, "]")
    }
}

/// The size argument of [`Tensor::eye`]: `n` for a square matrix, `(n, m)`
/// for `n` rows and `m` columns.
pub trait EyeSize {
    /// The rows and columns.
    fn rows_cols(self) -> (usize, usize);
}

impl EyeSize for usize {
    fn rows_cols(self) -> (usize, usize) {
        (self, self)
    }
}

impl EyeSize for (usize, usize) {
    fn rows_cols(self) -> (usize, usize) {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::golden::goldens;

    goldens! { "creation";
        full_like => |x, _| x[0].full_like(7),
        full_like_int => |x, _| x[0].full_like(2.7),
        zeros_like_uint8 => |x, _| x[0].zeros_like(),
        ones_like_double => |x, _| x[0].ones_like(),
        eye => |_, _| Tensor::eye(3),
        eye_rect => |_, _| Tensor::eye((2, 3)),
        eye_tall => |_, _| Tensor::eye((4, 2)),
    }

    #[test]
    fn random_likes_keep_shape_dtype_and_device() {
        let x = Tensor::zeros([3, 2])
            .to_dtype(DType::F64)
            .to(Device::Reference);
        for r in [x.rand_like(), x.randn_like()] {
            assert_eq!(
                (r.shape(), r.dtype(), r.device()),
                (&[3usize, 2][..], DType::F64, Device::Reference)
            );
        }
        let u = x.rand_like().to_vec::<f64>();
        assert!(u.iter().all(|v| (0.0..1.0).contains(v)));
        let ints = Tensor::from_slice(&[1i64]);
        let err = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| ints.rand_like()))
            .unwrap_err();
        let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
        assert!(
            msg.contains("\"check_uniform_bounds\" not implemented for 'Long'"),
            "{msg}"
        );
    }

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn tensors_are_send_sync_and_clones_share() {
        assert_send_sync::<Tensor>();
        let t = Tensor::zeros([2, 3]);
        let u = t.clone();
        assert!(t.is_same(&u) && t.shares_storage(&u));
    }

    #[test]
    fn constructors() {
        assert_eq!(Tensor::full([2], 7).dtype(), DType::I64);
        assert_eq!(Tensor::full([2], 0.5).to_vec::<f32>(), vec![0.5, 0.5]);
        assert_eq!(Tensor::eye(2).to_vec::<f32>(), vec![1.0, 0.0, 0.0, 1.0]);
        assert_eq!(
            Tensor::linspace(0.0, 1.0, 5).to_vec::<f32>(),
            vec![0.0, 0.25, 0.5, 0.75, 1.0]
        );
        assert_eq!(
            Tensor::arange_f(0.0, 1.0, 0.25).to_vec::<f32>(),
            vec![0.0, 0.25, 0.5, 0.75]
        );
        assert!(Tensor::try_from_vec(vec![1.0f32; 3], [2, 2]).is_err());
        assert_eq!(
            Tensor::try_from_vec(vec![1.0f32; 3], [2, 2])
                .unwrap_err()
                .to_string(),
            "shape '[2, 2]' is invalid for input of size 3"
        );
    }

    #[test]
    fn item_needs_one_element() {
        assert_eq!(
            Tensor::from_vec(vec![2.5f32], [1, 1]).item(),
            Scalar::Float(2.5)
        );
        assert_eq!(
            Tensor::zeros([2]).try_item().unwrap_err().to_string(),
            "a Tensor with 2 elements cannot be converted to Scalar"
        );
    }

    #[test]
    fn conversions_follow_casts() {
        let t = Tensor::from_vec(vec![-1.7f32, 300.2, 0.0], [3]);
        assert_eq!(t.to_dtype(DType::I64).to_vec::<i64>(), vec![-1, 300, 0]);
        assert_eq!(
            t.to_dtype(DType::Bool).to_vec::<bool>(),
            vec![true, true, false]
        );
        assert_eq!(
            Tensor::from_vec(vec![300i64, -1], [2])
                .to_dtype(DType::U8)
                .to_vec::<u8>(),
            vec![44, 255]
        );
    }

    #[test]
    fn debug_is_short() {
        assert_eq!(
            format!("{:?}", Tensor::zeros([64, 784])),
            "Tensor[64, 784; float32, cpu]"
        );
    }

    #[test]
    fn another_device_is_printed_and_does_not_mix() {
        let r = Tensor::from_vec(vec![1.0f32, 2.0], [2]).to(Device::Reference);
        assert_eq!(r.to_string(), "tensor([1., 2.], device='reference')");
        assert_eq!(format!("{r:?}"), "Tensor[2; float32, reference]");
        let e = r.try_binary(&Tensor::ones([2]), crate::ops::elementwise::BinaryOp::Add);
        assert_eq!(
            e.unwrap_err().to_string(),
            "Expected all tensors to be on the same device, but found at least two devices, reference and cpu!"
        );
        // A 0-dimensional CPU tensor goes with any device, as a scalar.
        assert_eq!((&r * &Tensor::scalar(2.0f32)).device(), Device::Reference);
        assert_eq!(r.to(Device::Cpu).device(), Device::Cpu);
    }
}
