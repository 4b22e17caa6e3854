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

impl Device {
    /// `torch.device(name)`: `"cpu"` (also `"cpu:0"`) and `"reference"`. An
    /// accelerator (`"cuda"`, `"mps"`, ...) is refused with a clear error, as
    /// PyTorch refuses one it was not built for: kindling computes on the CPU.
    ///
    /// ```
    /// use kindling::Device;
    /// assert_eq!(Device::new("cpu")?, Device::Cpu);
    /// assert_eq!(
    ///     Device::new("cuda").unwrap_err().to_string(),
    ///     "kindling not compiled with CUDA enabled: kindling computes on the CPU (kindling::cuda::is_available() is false)"
    /// );
    /// # Ok::<(), kindling::Error>(())
    /// ```
    pub fn new(name: &str) -> crate::Result<Device> {
        let (kind, index) = match name.split_once(':') {
            Some((k, i)) => (k, Some(i)),
            None => (name, None),
        };
        match (kind, index) {
            ("cpu", None | Some("0")) => Ok(Device::Cpu),
            ("reference", None | Some("0")) => Ok(Device::Reference),
            ("cuda" | "mps" | "xpu" | "hip" | "mtia" | "meta", _) => {
                Err(crate::Error::Value(format!(
                    "kindling not compiled with {} enabled: kindling computes on the CPU (kindling::cuda::is_available() is false)",
                    kind.to_uppercase()
                )))
            }
            _ => Err(crate::Error::Value(format!(
                "Expected one of cpu, reference device type at start of device string: {name}"
            ))),
        }
    }
}

impl std::str::FromStr for Device {
    type Err = crate::Error;
    /// `"cpu".parse::<Device>()`, as [`Device::new`].
    fn from_str(s: &str) -> crate::Result<Device> {
        Device::new(s)
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_as_torch_device_does() {
        assert_eq!("cpu".parse::<Device>().unwrap(), Device::Cpu);
        assert_eq!(Device::new("cpu:0").unwrap(), Device::Cpu);
        assert_eq!(Device::new("reference").unwrap(), Device::Reference);
        assert!(Device::new("cpu:1").is_err());
        assert!(Device::new("mps")
            .unwrap_err()
            .to_string()
            .starts_with("kindling not compiled with MPS enabled"));
        assert_eq!(
            Device::new("gpu").unwrap_err().to_string(),
            "Expected one of cpu, reference device type at start of device string: gpu"
        );
        assert!(!crate::cuda::is_available() && !crate::accelerator::is_available());
    }
}
