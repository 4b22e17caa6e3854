//! Tensor operations, one file per family: forward kernels, their autograd
//! recording, and their tests. The gradients themselves are in
//! [`crate::autograd`]'s single `match`.

mod convert;
pub mod elementwise;
#[cfg(test)]
pub(crate) mod golden;
pub mod index;
pub mod loss;
pub mod matmul;
mod narrow;
mod operators;
pub(crate) mod pair;
pub mod reduce;
pub mod shape;
pub mod softmax;

use crate::tensor::{Buffer, Tensor};

/// Runs `f` with the buffers of two tensors under read locks, taking the lock once
/// when both share a storage.
pub(crate) fn read2<R>(a: &Tensor, b: &Tensor, f: impl FnOnce(&Buffer, &Buffer) -> R) -> R {
    let ga = a.inner.storage.read();
    if a.shares_storage(b) {
        f(&ga, &ga)
    } else {
        let gb = b.inner.storage.read();
        f(&ga, &gb)
    }
}
