//! [`gradcheck`]: backward against central finite differences, as
//! `torch.autograd.gradcheck`.

use crate::error::{Error, Result};
use crate::tensor::{DType, Generator, Tensor};

/// Step and tolerances of [`gradcheck_with`]: an analytic derivative `a` passes
/// against the numeric one `n` when `|a - n| <= atol + rtol·|n|`.
#[derive(Clone, Copy, Debug)]
pub struct GradcheckTol {
    /// The finite-difference step.
    pub eps: f64,
    /// Absolute tolerance.
    pub atol: f64,
    /// Relative tolerance.
    pub rtol: f64,
}

impl Default for GradcheckTol {
    /// kindling's defaults, tighter than PyTorch's (`atol=1e-5, rtol=1e-3`):
    /// `eps = 1e-6, atol = 1e-6, rtol = 1e-4`.
    fn default() -> Self {
        GradcheckTol {
            eps: 1e-6,
            atol: 1e-6,
            rtol: 1e-4,
        }
    }
}

/// Checks the gradients of `f` with respect to every float64 input against
/// central finite differences; see [`gradcheck_with`].
///
/// ```
/// use kindling::autograd::gradcheck;
/// use kindling::{DType, Tensor};
///
/// let x = Tensor::randn([3, 4]).to_dtype(DType::F64);
/// gradcheck(|x| x[0].sigmoid(), &[x])?;
/// # Ok::<(), kindling::Error>(())
/// ```
pub fn gradcheck(f: impl Fn(&[Tensor]) -> Tensor, inputs: &[Tensor]) -> Result<()> {
    gradcheck_with(f, inputs, &[], GradcheckTol::default())
}

/// Checks `f`'s backward in float64: differentiates `sum(f(inputs) · w)` for a
/// fixed random `w` (so every element of the Jacobian counts) with respect to
/// each float64 input (other inputs, such as integer indices, are held fixed)
/// and to each of `params` (a module's parameters, which `f` reads itself and
/// which are perturbed in place and restored).
///
/// # Errors
/// The first mismatch, naming the input or parameter, the element, and the
/// analytic and numeric values; or a differentiable input that got no gradient.
pub fn gradcheck_with(
    f: impl Fn(&[Tensor]) -> Tensor,
    inputs: &[Tensor],
    params: &[Tensor],
    tol: GradcheckTol,
) -> Result<()> {
    let leaves: Vec<Tensor> = inputs
        .iter()
        .map(|t| t.detach().requires_grad_(t.dtype() == DType::F64))
        .collect();
    for p in params {
        p.zero_grad();
    }
    let out = f(&leaves);
    let w = Tensor::randn_with(out.shape(), &mut Generator::new(99))
        .to_dtype(out.dtype())
        .to(out.device());
    (&out * &w).sum().try_backward(None)?;
    let objective = |xs: &[Tensor]| crate::no_grad(|| (&f(xs) * &w).sum().item().to_f64());
    let fixed: Vec<Tensor> = leaves.iter().map(Tensor::detach).collect();

    let mismatch = |what: String, i: usize, a: f64, n: f64| {
        Error::Autograd(format!(
            "Jacobian mismatch for {what}, element {i}: analytic {a} vs numerical {n}"
        ))
    };
    for (k, leaf) in leaves.iter().enumerate() {
        if leaf.dtype() != DType::F64 {
            continue;
        }
        let analytic = leaf
            .grad()
            .ok_or_else(|| Error::Autograd(format!("input {k} got no gradient")))?
            .to_vec::<f64>();
        let base = leaf.to_vec::<f64>();
        for i in 0..base.len() {
            let at = |delta: f64| {
                let mut v = base.clone();
                v[i] += delta;
                let mut xs = fixed.clone();
                xs[k] = Tensor::from_vec(v, leaf.shape()).to(leaf.device());
                objective(&xs)
            };
            let numeric = (at(tol.eps) - at(-tol.eps)) / (2.0 * tol.eps);
            if (analytic[i] - numeric).abs() > tol.atol + tol.rtol * numeric.abs() {
                return Err(mismatch(format!("input {k}"), i, analytic[i], numeric));
            }
        }
    }
    for (k, p) in params.iter().enumerate() {
        let analytic = p
            .grad()
            .ok_or_else(|| Error::Autograd(format!("parameter {k} got no gradient")))?
            .to_vec::<f64>();
        let base = p.to_vec::<f64>();
        for i in 0..base.len() {
            let at = |delta: f64| {
                let mut v = base.clone();
                v[i] += delta;
                crate::no_grad(|| {
                    p.copy_(
                        &Tensor::from_vec(v, p.shape())
                            .to_dtype(p.dtype())
                            .to(p.device()),
                    )
                });
                objective(&fixed)
            };
            let numeric = (at(tol.eps) - at(-tol.eps)) / (2.0 * tol.eps);
            crate::no_grad(|| {
                p.copy_(
                    &Tensor::from_vec(base.clone(), p.shape())
                        .to_dtype(p.dtype())
                        .to(p.device()),
                )
            });
            if (analytic[i] - numeric).abs() > tol.atol + tol.rtol * numeric.abs() {
                return Err(mismatch(format!("parameter {k}"), i, analytic[i], numeric));
            }
        }
    }
    Ok(())
}
