//! Copies and conversions: `clone`, `contiguous`, `to_dtype`.

use crate::autograd::grad_fn;
use crate::backend::backend;
use crate::tensor::{DType, Device, Tensor};

impl Tensor {
    /// A contiguous copy in `dtype` on `device`, without recording.
    fn copy_kernel(&self, dtype: DType, device: Device) -> Tensor {
        let buf = self.with_view(|v| backend(self.device()).copy(v, dtype));
        Tensor::from_buffer_on(buf, self.shape(), device)
    }

    /// A new contiguous tensor with the same values (PyTorch's `clone`); gradients flow
    /// back through it.
    pub fn clone_tensor(&self) -> Tensor {
        let out = self.copy_kernel(self.dtype(), self.device());
        Tensor::record(out, &[self], || CloneBackward0 { x: self.clone() })
    }

    /// This tensor on `device` (`tensor.to(device)`): itself when it is already
    /// there, else a copy; gradients flow back to the original device.
    ///
    /// ```
    /// use kindling::{Device, Tensor};
    /// let x = Tensor::ones([2]).requires_grad_(true);
    /// let r = x.to(Device::Reference);
    /// (&r * 3.0).sum().backward();
    /// assert_eq!(x.grad().unwrap().device(), Device::Cpu);
    /// assert_eq!(x.grad().unwrap().to_vec::<f32>(), vec![3.0, 3.0]);
    /// ```
    pub fn to(&self, device: Device) -> Tensor {
        if device == self.device() {
            return self.clone();
        }
        let out = self.copy_kernel(self.dtype(), device);
        if self.dtype().is_floating_point() {
            Tensor::record(out, &[self], || ToCopyBackward0 { x: self.clone() })
        } else {
            out
        }
    }

    /// The tensor itself if contiguous, else a contiguous copy.
    pub fn contiguous(&self) -> Tensor {
        if self.is_contiguous() {
            self.clone()
        } else {
            self.clone_tensor()
        }
    }

    /// Converts to another element type (a copy, unless the dtype already matches).
    /// Gradients flow back through float-to-float conversions.
    pub fn to_dtype(&self, dtype: DType) -> Tensor {
        if dtype == self.dtype() {
            return self.clone();
        }
        let out = self.copy_kernel(dtype, self.device());
        if dtype.is_floating_point() {
            Tensor::record(out, &[self], || ToCopyBackward0 { x: self.clone() })
        } else {
            out
        }
    }
}

grad_fn! {
    /// A copy passes the gradient through.
    CloneBackward0 { x: Tensor }
    inputs [x];
    backward(n, g, acc) { acc.add(&n.x, || g.clone()) }
}

grad_fn! {
    /// A conversion (of dtype or device) converts the gradient back.
    ToCopyBackward0 { x: Tensor }
    inputs [x];
    backward(n, g, acc) { acc.add(&n.x, || g.to_dtype(n.x.dtype()).to(n.x.device())) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::golden::{goldens, gradchecks};

    goldens! { "convert";
        to_float64 => |x, _| x[0].to_dtype(DType::F64),
        contiguous => |x, _| x[0].t().contiguous(),
    }

    gradchecks! {
        contiguous_clone: [randn(&[3, 4], 1)] => |x| x[0].t().contiguous();
    }

    #[test]
    fn to_dtype_gradcheck() {
        // Through float32 the function is a staircase at 1e-7 resolution: step wider.
        let tol = crate::autograd::GradcheckTol {
            eps: 1e-2,
            atol: 1e-4,
            rtol: 1e-3,
        };
        crate::autograd::gradcheck_with(
            |x| x[0].to_dtype(DType::F32).to_dtype(DType::F64) * 2.0,
            &[crate::testing::randn(&[4], 1)],
            &[],
            tol,
        )
        .unwrap_or_else(|e| panic!("to_dtype: {e}"));
    }
}
