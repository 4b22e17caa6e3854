//! Copies and conversions: `clone`, `contiguous`, `to_dtype`.

use crate::autograd::grad_fn;
use crate::tensor::{with_dtype, DType, Element, Tensor};

impl Tensor {
    /// A new contiguous tensor with the same values (PyTorch's `clone`); gradients flow
    /// back through it.
    pub fn clone_tensor(&self) -> Tensor {
        let out = with_dtype!(self.dtype(), T => Tensor::from_buffer(T::into_buffer(self.contiguous_vec::<T>()), self.shape()));
        Tensor::record(out, &[self], || CloneBackward0 { x: self.clone() })
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
        let out = with_dtype!(dtype, T => Tensor::from_buffer(T::into_buffer(self.to_vec::<T>()), self.shape()));
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
    /// A float conversion converts the gradient back.
    ToCopyBackward0 { x: Tensor }
    inputs [x];
    backward(n, g, acc) { acc.add(&n.x, || g.to_dtype(n.x.dtype())) }
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
