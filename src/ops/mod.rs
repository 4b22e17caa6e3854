//! Tensor operations, one file per family. Each op checks its inputs (shapes,
//! dtypes, devices), promotes, calls the kernels of its device's backend
//! (`crate::backend`), and records its backward node, declared in the same file
//! with `grad_fn!`; the op's tests (PyTorch goldens, gradient checks, the
//! reference backend) are at the bottom of the file. `docs/adding-an-op.md`
//! walks through adding one.

pub mod conv;
mod convert;
pub mod elementwise;
#[cfg(test)]
pub(crate) mod golden;
pub mod index;
pub mod loss;
pub mod matmul;
pub mod norm;
mod operators;
pub mod pool;
pub mod reduce;
pub mod shape;
pub mod softmax;
pub mod sort;

use crate::backend::View;
use crate::error::{Error, Result};
use crate::tensor::{Device, Tensor};

impl Tensor {
    /// Runs `f` on this tensor's view (its buffer under a read lock, its layout).
    pub(crate) fn with_view<R>(&self, f: impl FnOnce(View) -> R) -> R {
        let buf = self.inner.storage.read();
        f(View {
            buf: &buf,
            layout: &self.inner.layout,
        })
    }
}

/// Runs `f` with the views of two tensors, taking one lock when both share a
/// storage.
pub(crate) fn read2<R>(a: &Tensor, b: &Tensor, f: impl FnOnce(View, View) -> R) -> R {
    let ga = a.inner.storage.read();
    let va = View {
        buf: &ga,
        layout: &a.inner.layout,
    };
    if a.shares_storage(b) {
        f(
            va,
            View {
                buf: &ga,
                layout: &b.inner.layout,
            },
        )
    } else {
        let gb = b.inner.storage.read();
        f(
            va,
            View {
                buf: &gb,
                layout: &b.inner.layout,
            },
        )
    }
}

/// Runs `f` with the views of three tensors (`read2` for more).
pub(crate) fn read3<R>(
    a: &Tensor,
    b: &Tensor,
    c: &Tensor,
    f: impl FnOnce(View, View, View) -> R,
) -> R {
    read2(a, b, |va, vb| {
        if c.shares_storage(a) {
            f(
                va,
                vb,
                View {
                    buf: va.buf,
                    layout: &c.inner.layout,
                },
            )
        } else if c.shares_storage(b) {
            f(
                va,
                vb,
                View {
                    buf: vb.buf,
                    layout: &c.inner.layout,
                },
            )
        } else {
            let gc = c.inner.storage.read();
            f(
                va,
                vb,
                View {
                    buf: &gc,
                    layout: &c.inner.layout,
                },
            )
        }
    })
}

/// The device an op on `inputs` runs on: theirs, when they agree. A
/// zero-dimensional CPU tensor goes with any device, as a scalar does in
/// PyTorch.
pub(crate) fn device_of(inputs: &[&Tensor]) -> Result<Device> {
    let mut found: Option<Device> = None;
    for t in inputs {
        let d = t.device();
        if d == Device::Cpu && t.dim() == 0 {
            continue;
        }
        match found {
            None => found = Some(d),
            Some(f) if f != d => return Err(Error::Device { a: f, b: d }),
            Some(_) => {}
        }
    }
    Ok(found.unwrap_or(Device::Cpu))
}
