//! `+ - * /` and unary `-` for tensors and scalars. Like the named methods, the
//! operators panic at the caller's line on shape or dtype misuse.

use std::ops::{Add, Div, Mul, Neg, Sub};

use super::elementwise::BinaryOp;
use crate::error::or_panic;
use crate::tensor::Tensor;

macro_rules! tensor_tensor {
    ($trait:ident, $method:ident, $op:expr) => {
        impl $trait<&Tensor> for &Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: &Tensor) -> Tensor {
                or_panic!(self.try_binary(rhs, $op))
            }
        }
        impl $trait<Tensor> for Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: Tensor) -> Tensor {
                or_panic!(self.try_binary(&rhs, $op))
            }
        }
        impl $trait<&Tensor> for Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: &Tensor) -> Tensor {
                or_panic!(self.try_binary(rhs, $op))
            }
        }
        impl $trait<Tensor> for &Tensor {
            type Output = Tensor;
            #[track_caller]
            fn $method(self, rhs: Tensor) -> Tensor {
                or_panic!(self.try_binary(&rhs, $op))
            }
        }
    };
}
tensor_tensor!(Add, add, BinaryOp::Add);
tensor_tensor!(Sub, sub, BinaryOp::Sub);
tensor_tensor!(Mul, mul, BinaryOp::Mul);
tensor_tensor!(Div, div, BinaryOp::Div);

macro_rules! tensor_scalar {
    ($($s:ty),*) => {$(
        impl Add<$s> for &Tensor {
            type Output = Tensor;
            #[track_caller]
            fn add(self, rhs: $s) -> Tensor { or_panic!(self.try_binary_scalar(rhs, BinaryOp::Add)) }
        }
        impl Add<$s> for Tensor {
            type Output = Tensor;
            #[track_caller]
            fn add(self, rhs: $s) -> Tensor { or_panic!(self.try_binary_scalar(rhs, BinaryOp::Add)) }
        }
        impl Sub<$s> for &Tensor {
            type Output = Tensor;
            #[track_caller]
            fn sub(self, rhs: $s) -> Tensor { or_panic!(self.try_binary_scalar(rhs, BinaryOp::Sub)) }
        }
        impl Sub<$s> for Tensor {
            type Output = Tensor;
            #[track_caller]
            fn sub(self, rhs: $s) -> Tensor { or_panic!(self.try_binary_scalar(rhs, BinaryOp::Sub)) }
        }
        impl Mul<$s> for &Tensor {
            type Output = Tensor;
            #[track_caller]
            fn mul(self, rhs: $s) -> Tensor { or_panic!(self.try_binary_scalar(rhs, BinaryOp::Mul)) }
        }
        impl Mul<$s> for Tensor {
            type Output = Tensor;
            #[track_caller]
            fn mul(self, rhs: $s) -> Tensor { or_panic!(self.try_binary_scalar(rhs, BinaryOp::Mul)) }
        }
        impl Div<$s> for &Tensor {
            type Output = Tensor;
            #[track_caller]
            fn div(self, rhs: $s) -> Tensor { or_panic!(self.try_binary_scalar(rhs, BinaryOp::Div)) }
        }
        impl Div<$s> for Tensor {
            type Output = Tensor;
            #[track_caller]
            fn div(self, rhs: $s) -> Tensor { or_panic!(self.try_binary_scalar(rhs, BinaryOp::Div)) }
        }
        impl Add<&Tensor> for $s {
            type Output = Tensor;
            #[track_caller]
            fn add(self, rhs: &Tensor) -> Tensor { or_panic!(rhs.try_binary_scalar(self, BinaryOp::Add)) }
        }
        impl Mul<&Tensor> for $s {
            type Output = Tensor;
            #[track_caller]
            fn mul(self, rhs: &Tensor) -> Tensor { or_panic!(rhs.try_binary_scalar(self, BinaryOp::Mul)) }
        }
        impl Sub<&Tensor> for $s {
            type Output = Tensor;
            fn sub(self, rhs: &Tensor) -> Tensor { rhs.rsub_scalar(self) }
        }
        impl Div<&Tensor> for $s {
            type Output = Tensor;
            fn div(self, rhs: &Tensor) -> Tensor { rhs.rdiv_scalar(self) }
        }
    )*};
}
// One float and one integer type only, so that literals (`x / 255`, `x * 0.5`)
// infer without annotations; other types go through `div_scalar` and friends.
tensor_scalar!(f64, i32);

impl Neg for &Tensor {
    type Output = Tensor;
    #[track_caller]
    fn neg(self) -> Tensor {
        or_panic!(self.try_neg())
    }
}

impl Neg for Tensor {
    type Output = Tensor;
    #[track_caller]
    fn neg(self) -> Tensor {
        or_panic!(self.try_neg())
    }
}

#[cfg(test)]
mod tests {
    use crate::{DType, Tensor};

    #[test]
    fn literals_pick_the_python_scalar_kind() {
        let pixels = Tensor::from_vec(vec![0u8, 255], [2]);
        let x = &pixels / 255;
        assert_eq!((x.dtype(), x.to_vec::<f32>()), (DType::F32, vec![0.0, 1.0]));
        assert_eq!((&pixels + 1).dtype(), DType::U8);
        assert_eq!((2.0 - &x).to_vec::<f32>(), vec![2.0, 1.0]);
        assert_eq!((1.0 / &(&x + 1.0)).to_vec::<f32>(), vec![1.0, 0.5]);
        assert_eq!((-&x).to_vec::<f32>(), vec![-0.0, -1.0]);
    }

    #[test]
    #[should_panic(expected = "The size of tensor a (2) must match the size of tensor b (3)")]
    fn operator_panics_with_the_message() {
        let _ = Tensor::zeros([2]) + Tensor::zeros([3]);
    }
}
