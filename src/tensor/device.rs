//! [`Device`]: where a tensor's elements live and which backend computes on
//! them, a run-time value as in PyTorch.

use std::fmt;

/// Where a tensor lives, as `torch.device`: a run-time value, never a type
/// parameter. Every op computes on its inputs' device and returns tensors on
/// it; tensors on two devices do not mix (except zero-dimensional CPU tensors,
/// which count as scalars, as in PyTorch).
///
/// - [`Device::Cpu`]: the fast backend (SIMD kernels, threads, the `gemm`
///   crate).
/// - [`Device::Reference`]: the same host memory computed on by plain loops (no
///   SIMD, no threads): slow and simple, the yardstick the tests hold the CPU
///   backend to. Printed as `device='reference'`.
///
/// ```
/// use kindling::{Device, Tensor};
/// let x = Tensor::ones([2, 3]);
/// assert_eq!(x.device(), Device::Cpu);
/// let r = x.to(Device::Reference);
/// assert_eq!((&r * 2.0).device(), Device::Reference);
/// assert_eq!((&r * 2.0).to(Device::Cpu).to_vec::<f32>(), (&x * 2.0).to_vec::<f32>());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Device {
    /// The CPU, with kindling's fast kernels (PyTorch's `"cpu"`).
    #[default]
    Cpu,
    /// The CPU with plain-loop kernels, for checking the fast ones.
    Reference,
}

impl Device {
    /// The name PyTorch-style printing uses: `cpu`, `reference`.
    pub fn name(self) -> &'static str {
        match self {
            Device::Cpu => "cpu",
            Device::Reference => "reference",
        }
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
