//! Define-by-run automatic differentiation, as in PyTorch.
//!
//! Every op on tensors that require grad records an `Op` on its result: the
//! primitive, its saved inputs, and PyTorch's name for its backward
//! (`AddmmBackward0`, ...). [`Tensor::backward`] walks the recorded graph from the
//! output in topological order and applies the single `match` in `Op::backward`,
//! accumulating into the `.grad` of leaves.
//!
//! Differences from PyTorch, by design:
//! - the graph is kept after `backward()` (no `retain_graph` needed) and freed when
//!   the output is dropped;
//! - in-place ops are not recorded: on tensors that require grad they are refused
//!   unless run under [`no_grad`];
//! - higher-order gradients (`create_graph=True`) are not supported.

mod gradcheck;

pub use gradcheck::{gradcheck, gradcheck_with, GradcheckTol};

use std::cell::Cell;
use std::collections::{HashMap, HashSet};

use crate::error::{or_panic, Error, Result};
use crate::tensor::{Inner, Tensor};

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
}

/// Whether ops on this thread record graphs (false inside [`no_grad`]).
pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(Cell::get)
}

/// Turns graph recording off on this thread until dropped, like
/// `with torch.no_grad():`.
pub struct NoGradGuard {
    previous: bool,
}

impl NoGradGuard {
    /// Starts a no-grad scope.
    #[allow(clippy::new_without_default)]
    pub fn new() -> NoGradGuard {
        NoGradGuard {
            previous: GRAD_ENABLED.with(|g| g.replace(false)),
        }
    }
}

impl Drop for NoGradGuard {
    fn drop(&mut self) {
        GRAD_ENABLED.with(|g| g.set(self.previous));
    }
}

/// Runs `f` without recording a graph (evaluation, optimizer updates).
///
/// ```
/// use kindling::{no_grad, Tensor};
/// let w = Tensor::ones([2]).requires_grad_(true);
/// let y = no_grad(|| &w * 2.0);
/// assert!(!y.requires_grad());
/// ```
pub fn no_grad<R>(f: impl FnOnce() -> R) -> R {
    let _guard = NoGradGuard::new();
    f()
}

pub(crate) fn needs_grad(inputs: &[&Tensor]) -> bool {
    inputs.iter().any(|t| t.requires_grad()) && is_grad_enabled()
}

/// A recorded primitive op: what produced a tensor, with what it needs for its
/// gradient. Saved outputs are detached copies of the handle (same storage), so a
/// result never keeps itself alive.
pub(crate) enum Op {
    Add(Tensor, Tensor),
    Sub(Tensor, Tensor),
    Mul(Tensor, Tensor),
    Div(Tensor, Tensor),
    Pow(Tensor, Tensor),
    Maximum(Tensor, Tensor),
    Minimum(Tensor, Tensor),
    AddScalar(Tensor),
    SubScalar(Tensor),
    RsubScalar(Tensor),
    MulScalar(Tensor, f64),
    DivScalar(Tensor, f64),
    PowScalar(Tensor, f64),
    Clamp {
        x: Tensor,
        min: Option<f64>,
        max: Option<f64>,
    },
    Neg(Tensor),
    Abs(Tensor),
    Exp(Tensor, Tensor),
    Log(Tensor),
    Sqrt(Tensor, Tensor),
    Tanh(Tensor, Tensor),
    Sigmoid(Tensor, Tensor),
    Relu(Tensor, Tensor),
    Clone(Tensor),
    ToDtype(Tensor),
    Sum(Tensor),
    SumDim {
        x: Tensor,
        dim: usize,
        keepdim: bool,
    },
    Mean(Tensor),
    MeanDim {
        x: Tensor,
        dim: usize,
        keepdim: bool,
    },
    ExtremeAll {
        x: Tensor,
        out: Tensor,
        max: bool,
    },
    ExtremeDim {
        x: Tensor,
        dim: usize,
        keepdim: bool,
        indices: Tensor,
        max: bool,
    },
    Prod {
        x: Tensor,
        dim: Option<usize>,
        keepdim: bool,
    },
    Var {
        x: Tensor,
        dim: Option<usize>,
        correction: usize,
        keepdim: bool,
    },
    Std {
        x: Tensor,
        out: Tensor,
        dim: Option<usize>,
        correction: usize,
        keepdim: bool,
    },
    Softmax {
        x: Tensor,
        out: Tensor,
        dim: usize,
    },
    LogSoftmax {
        x: Tensor,
        out: Tensor,
        dim: usize,
    },
    Mm(Tensor, Tensor),
    Addmm(Tensor, Tensor, Tensor),
    Dot(Tensor, Tensor),
    Mv(Tensor, Tensor),
    Bmm(Tensor, Tensor),
    Reshape(Tensor, &'static str),
    Permute(Tensor, Vec<usize>),
    Transpose(Tensor, usize, usize, &'static str),
    Expand(Tensor),
    Slice {
        x: Tensor,
        dim: usize,
        start: usize,
        step: usize,
    },
    Select {
        x: Tensor,
        dim: usize,
        index: usize,
    },
    IndexSelect {
        x: Tensor,
        dim: usize,
        index: Tensor,
    },
    Gather {
        x: Tensor,
        dim: usize,
        index: Tensor,
    },
    ScatterAdd {
        x: Tensor,
        dim: usize,
        index: Tensor,
        src: Tensor,
    },
    Where(Tensor, Tensor, Tensor),
    Cat {
        xs: Vec<Tensor>,
        dim: usize,
    },
    Stack {
        xs: Vec<Tensor>,
        dim: usize,
    },
    Gelu(Tensor),
    LeakyRelu(Tensor, f64),
    NllLoss {
        logp: Tensor,
        target: Tensor,
        reduction: crate::nn::Reduction,
    },
    /// `nll_loss(log_softmax(logits))` in one node; `probs` is the saved softmax.
    CrossEntropy {
        logits: Tensor,
        target: std::sync::Arc<Vec<i64>>,
        probs: Tensor,
        reduction: crate::nn::Reduction,
    },
}

impl Op {
    /// PyTorch's class name for this op's backward node.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Op::Add(..) | Op::AddScalar(_) => "AddBackward0",
            Op::Sub(..) | Op::SubScalar(_) => "SubBackward0",
            Op::RsubScalar(_) => "RsubBackward1",
            Op::Mul(..) | Op::MulScalar(..) => "MulBackward0",
            Op::Div(..) | Op::DivScalar(..) => "DivBackward0",
            Op::Pow(..) => "PowBackward1",
            Op::PowScalar(..) => "PowBackward0",
            Op::Maximum(..) => "MaximumBackward0",
            Op::Minimum(..) => "MinimumBackward0",
            Op::Clamp { .. } => "ClampBackward1",
            Op::Neg(_) => "NegBackward0",
            Op::Abs(_) => "AbsBackward0",
            Op::Exp(..) => "ExpBackward0",
            Op::Log(_) => "LogBackward0",
            Op::Sqrt(..) => "SqrtBackward0",
            Op::Tanh(..) => "TanhBackward0",
            Op::Sigmoid(..) => "SigmoidBackward0",
            Op::Relu(..) => "ReluBackward0",
            Op::Clone(_) => "CloneBackward0",
            Op::ToDtype(_) => "ToCopyBackward0",
            Op::Sum(_) => "SumBackward0",
            Op::SumDim { .. } => "SumBackward1",
            Op::Mean(_) => "MeanBackward0",
            Op::MeanDim { .. } => "MeanBackward1",
            Op::ExtremeAll { max: true, .. } => "MaxBackward1",
            Op::ExtremeAll { max: false, .. } => "MinBackward1",
            Op::ExtremeDim { max: true, .. } => "MaxBackward0",
            Op::ExtremeDim { max: false, .. } => "MinBackward0",
            Op::Prod { dim: None, .. } => "ProdBackward0",
            Op::Prod { .. } => "ProdBackward1",
            Op::Var { .. } => "VarBackward0",
            Op::Std { .. } => "StdBackward0",
            Op::Softmax { .. } => "SoftmaxBackward0",
            Op::LogSoftmax { .. } => "LogSoftmaxBackward0",
            Op::Mm(..) => "MmBackward0",
            Op::Addmm(..) => "AddmmBackward0",
            Op::Dot(..) => "DotBackward0",
            Op::Mv(..) => "MvBackward0",
            Op::Bmm(..) => "BmmBackward0",
            Op::Reshape(_, name) | Op::Transpose(.., name) => name,
            Op::Permute(..) => "PermuteBackward0",
            Op::Expand(_) => "ExpandBackward0",
            Op::Slice { .. } => "SliceBackward0",
            Op::Select { .. } => "SelectBackward0",
            Op::IndexSelect { .. } => "IndexSelectBackward0",
            Op::Gather { .. } => "GatherBackward0",
            Op::ScatterAdd { .. } => "ScatterAddBackward0",
            Op::Where(..) => "WhereBackward0",
            Op::Cat { .. } => "CatBackward0",
            Op::Stack { .. } => "StackBackward0",
            Op::Gelu(_) => "GeluBackward0",
            Op::LeakyRelu(..) => "LeakyReluBackward0",
            // PyTorch's cross_entropy ends in nll_loss; kindling fuses the pair.
            Op::NllLoss { .. } | Op::CrossEntropy { .. } => "NllLossBackward0",
        }
    }

    /// The inputs gradients flow to.
    fn inputs(&self) -> Vec<&Tensor> {
        match self {
            Op::Add(a, b)
            | Op::Sub(a, b)
            | Op::Mul(a, b)
            | Op::Div(a, b)
            | Op::Pow(a, b)
            | Op::Maximum(a, b)
            | Op::Minimum(a, b)
            | Op::Mm(a, b)
            | Op::Dot(a, b)
            | Op::Mv(a, b)
            | Op::Bmm(a, b)
            | Op::Where(_, a, b) => vec![a, b],
            Op::Addmm(a, b, c) => vec![a, b, c],
            Op::ScatterAdd { x, src, .. } => vec![x, src],
            Op::Cat { xs, .. } | Op::Stack { xs, .. } => xs.iter().collect(),
            Op::AddScalar(x)
            | Op::SubScalar(x)
            | Op::RsubScalar(x)
            | Op::MulScalar(x, _)
            | Op::DivScalar(x, _)
            | Op::PowScalar(x, _)
            | Op::Clamp { x, .. }
            | Op::Neg(x)
            | Op::Abs(x)
            | Op::Exp(x, _)
            | Op::Log(x)
            | Op::Sqrt(x, _)
            | Op::Tanh(x, _)
            | Op::Sigmoid(x, _)
            | Op::Relu(x, _)
            | Op::Clone(x)
            | Op::ToDtype(x)
            | Op::Sum(x)
            | Op::SumDim { x, .. }
            | Op::Mean(x)
            | Op::MeanDim { x, .. }
            | Op::ExtremeAll { x, .. }
            | Op::ExtremeDim { x, .. }
            | Op::Prod { x, .. }
            | Op::Var { x, .. }
            | Op::Std { x, .. }
            | Op::Softmax { x, .. }
            | Op::LogSoftmax { x, .. }
            | Op::Reshape(x, _)
            | Op::Permute(x, _)
            | Op::Transpose(x, ..)
            | Op::Expand(x)
            | Op::Slice { x, .. }
            | Op::Select { x, .. }
            | Op::IndexSelect { x, .. }
            | Op::Gather { x, .. }
            | Op::Gelu(x)
            | Op::LeakyRelu(x, _)
            | Op::NllLoss { logp: x, .. }
            | Op::CrossEntropy { logits: x, .. } => vec![x],
        }
    }

    /// Sends `g` (the gradient of this op's output) to each input, through `acc`,
    /// which only evaluates an input's gradient when that input requires grad.
    fn backward(&self, g: &Tensor, acc: &mut Sink<'_>) {
        let zeros = |x: &Tensor| Tensor::full_dtype(x.shape(), 0, g.dtype());
        // Re-inserts a reduced dimension so `g` broadcasts against the input.
        let unreduce = |g: &Tensor, dim: Option<usize>, keepdim: bool| match dim {
            Some(d) if !keepdim => g.unsqueeze(d as isize),
            _ => g.clone(),
        };
        match self {
            Op::Add(a, b) => {
                acc.add(a, || g.sum_to(a.shape()));
                acc.add(b, || g.sum_to(b.shape()));
            }
            Op::Sub(a, b) => {
                acc.add(a, || g.sum_to(a.shape()));
                acc.add(b, || g.neg().sum_to(b.shape()));
            }
            Op::Mul(a, b) => {
                acc.add(a, || (g * b).sum_to(a.shape())); // d(ab) = b·da + a·db
                acc.add(b, || (g * a).sum_to(b.shape()));
            }
            Op::Div(a, b) => {
                acc.add(a, || (g / b).sum_to(a.shape())); // d(a/b) = da/b - a·db/b²
                acc.add(b, || (-(g * a) / (b * b)).sum_to(b.shape()));
            }
            Op::Pow(a, b) => {
                acc.add(a, || (g * b * a.pow(&b.sub_scalar(1.0))).sum_to(a.shape())); // d(a^b)/da = b·a^(b-1)
                acc.add(b, || {
                    // d(a^b)/db = a^b·ln a, taken as 0 where a = 0 (as PyTorch does)
                    let d = g * a.pow(b) * a.log();
                    Tensor::where_cond(&a.eq_scalar(0), &zeros(&d), &d).sum_to(b.shape())
                });
            }
            Op::Maximum(a, b) | Op::Minimum(a, b) => {
                // The larger (smaller) input takes the gradient; ties share it.
                let max = matches!(self, Op::Maximum(..));
                let wins = |x: &Tensor, y: &Tensor| {
                    let w = if max { x.gt(y) } else { x.lt(y) }.to_dtype(g.dtype());
                    &w + &(x.eq(y).to_dtype(g.dtype()) * 0.5)
                };
                acc.add(a, || (g * wins(a, b)).sum_to(a.shape()));
                acc.add(b, || (g * wins(b, a)).sum_to(b.shape()));
            }
            Op::AddScalar(x) | Op::SubScalar(x) | Op::Clone(x) => acc.add(x, || g.clone()),
            Op::RsubScalar(x) | Op::Neg(x) => acc.add(x, || g.neg()),
            Op::MulScalar(x, s) => acc.add(x, || g * *s),
            Op::DivScalar(x, s) => acc.add(x, || g / *s),
            Op::PowScalar(x, e) => acc.add(x, || {
                if *e == 0.0 {
                    zeros(x)
                } else {
                    g * &(x.pow_scalar(e - 1.0) * *e) // d(x^e) = e·x^(e-1)
                }
            }),
            Op::Clamp { x, min, max } => acc.add(x, || {
                // Passes where min <= x <= max.
                let mut keep = Tensor::full_dtype(x.shape(), true, crate::DType::Bool);
                if let Some(lo) = min {
                    keep = keep.mul(&x.ge_scalar(*lo));
                }
                if let Some(hi) = max {
                    keep = keep.mul(&x.le_scalar(*hi));
                }
                Tensor::where_cond(&keep, g, &zeros(x))
            }),
            Op::Abs(x) => acc.add(x, || g * x.sign()),
            Op::Exp(x, out) => acc.add(x, || g * out), // d(e^x) = e^x
            Op::Log(x) => acc.add(x, || g / x),
            Op::Sqrt(x, out) => acc.add(x, || g / (out * 2.0)),
            Op::Tanh(x, out) => acc.add(x, || {
                fused(g, out, |g, y| g * (1.0 - y * y), |g, y| g * (1.0 - y * y))
            }), // 1 - tanh²
            Op::Sigmoid(x, out) => acc.add(x, || {
                fused(
                    g,
                    out,
                    |g, y| g * (y * (1.0 - y)),
                    |g, y| g * (y * (1.0 - y)),
                )
            }), // σ' = σ(1-σ)
            Op::Relu(x, out) => acc.add(x, || {
                fused(
                    g,
                    out,
                    |g, y| if y > 0.0 { g } else { 0.0 },
                    |g, y| if y > 0.0 { g } else { 0.0 },
                )
            }), // step function
            Op::ToDtype(x) => acc.add(x, || g.to_dtype(x.dtype())),
            Op::Sum(x) => acc.add(x, || g.expand(x.shape())),
            Op::SumDim { x, dim, keepdim } => {
                acc.add(x, || unreduce(g, Some(*dim), *keepdim).expand(x.shape()))
            }
            Op::Mean(x) => acc.add(x, || (g / x.numel() as f64).expand(x.shape())),
            Op::MeanDim { x, dim, keepdim } => acc.add(x, || {
                (unreduce(g, Some(*dim), *keepdim) / x.shape()[*dim] as f64).expand(x.shape())
            }),
            Op::ExtremeAll { x, out, .. } => acc.add(x, || {
                // Ties share the gradient evenly, as in PyTorch.
                let mask = x.eq(out).to_dtype(g.dtype());
                &(&mask * g) / &mask.sum()
            }),
            Op::ExtremeDim {
                x,
                dim,
                keepdim,
                indices,
                ..
            } => acc.add(x, || {
                let (g, i) = (
                    unreduce(g, Some(*dim), *keepdim),
                    unreduce(indices, Some(*dim), *keepdim),
                );
                zeros(x).scatter_add(*dim as isize, &i, &g.contiguous())
            }),
            Op::Prod { x, dim, keepdim } => acc.add(x, || {
                unreduce(g, *dim, *keepdim) * product_of_others(x, *dim)
            }),
            Op::Var {
                x,
                dim,
                correction,
                keepdim,
            } => acc.add(x, || {
                let (mean, n) = lane_mean(x, *dim);
                unreduce(g, *dim, *keepdim) * ((x - &mean) * (2.0 / (n - *correction as f64)))
            }),
            Op::Std {
                x,
                out,
                dim,
                correction,
                keepdim,
            } => acc.add(x, || {
                let (mean, n) = lane_mean(x, *dim);
                let denom = unreduce(out, *dim, *keepdim) * (n - *correction as f64);
                unreduce(g, *dim, *keepdim) * (x - &mean) / denom
            }),
            Op::Softmax { x, out, dim } => acc.add(x, || {
                // dx = y ⊙ (g - Σ g⊙y)
                out * (g - &(g * out).sum_dim(*dim as isize, true))
            }),
            Op::LogSoftmax { x, out, dim } => acc.add(x, || {
                // dx = g - softmax ⊙ Σ g
                g - &(out.exp() * g.sum_dim(*dim as isize, true))
            }),
            Op::Mm(a, b) => {
                acc.add(a, || mm_grad_lhs(g, a, b)); // d(AB) = dA·B + A·dB
                acc.add(b, || mm_grad_rhs(g, a, b));
            }
            Op::Addmm(bias, m1, m2) => {
                acc.add(bias, || g.sum_to(bias.shape()));
                acc.add(m1, || mm_grad_lhs(g, m1, m2));
                acc.add(m2, || mm_grad_rhs(g, m1, m2));
            }
            Op::Dot(a, b) => {
                acc.add(a, || b * g);
                acc.add(b, || a * g);
            }
            Op::Mv(a, v) => {
                acc.add(a, || g.unsqueeze(1).mm(&v.unsqueeze(0)));
                acc.add(v, || a.t().matmul(g));
            }
            Op::Bmm(a, b) => {
                acc.add(a, || g.matmul(&b.transpose(-1, -2)));
                acc.add(b, || a.transpose(-1, -2).matmul(g));
            }
            Op::Reshape(x, _) => acc.add(x, || g.reshape(x.shape())),
            Op::Permute(x, perm) => acc.add(x, || {
                let mut inverse = vec![0isize; perm.len()];
                for (i, &p) in perm.iter().enumerate() {
                    inverse[p] = i as isize;
                }
                g.permute(&inverse)
            }),
            Op::Transpose(x, a, b, _) => acc.add(x, || g.transpose(*a as isize, *b as isize)),
            Op::Expand(x) => acc.add(x, || g.sum_to(x.shape())),
            Op::Slice {
                x,
                dim,
                start,
                step,
            } => acc.add(x, || {
                let z = zeros(x);
                let len = g.shape()[*dim];
                let end = start + len.saturating_sub(1) * step + 1;
                z.slice(*dim as isize, *start as isize, end as isize, *step)
                    .copy_(g);
                z
            }),
            Op::Select { x, dim, index } => acc.add(x, || {
                let z = zeros(x);
                z.select(*dim as isize, *index as isize).copy_(g);
                z
            }),
            Op::IndexSelect { x, dim, index } => acc.add(x, || zeros(x).index_add(*dim, index, g)),
            Op::Gather { x, dim, index } => acc.add(x, || {
                zeros(x).scatter_add(*dim as isize, index, &g.contiguous())
            }),
            Op::ScatterAdd { x, dim, index, src } => {
                acc.add(x, || g.clone());
                acc.add(src, || {
                    let picked = g.gather(*dim as isize, index);
                    if picked.shape() == src.shape() {
                        return picked;
                    }
                    let z = zeros(src);
                    let mut view = z.clone();
                    for (d, &n) in index.shape().iter().enumerate() {
                        view = view.narrow(d as isize, 0, n);
                    }
                    view.copy_(&picked);
                    z
                });
            }
            Op::Where(cond, a, b) => {
                acc.add(a, || {
                    Tensor::where_cond(cond, g, &Tensor::scalar(0.0).to_dtype(g.dtype()))
                        .sum_to(a.shape())
                });
                acc.add(b, || {
                    Tensor::where_cond(cond, &Tensor::scalar(0.0).to_dtype(g.dtype()), g)
                        .sum_to(b.shape())
                });
            }
            Op::Cat { xs, dim } => {
                let mut offset = 0;
                for x in xs {
                    let n = x.shape()[*dim];
                    acc.add(x, || g.narrow(*dim as isize, offset, n));
                    offset += n;
                }
            }
            Op::Stack { xs, dim } => {
                for (i, x) in xs.iter().enumerate() {
                    acc.add(x, || g.select(*dim as isize, i as isize));
                }
            }
            Op::Gelu(x) => acc.add(x, || {
                // d/dx x·Φ(x) = Φ(x) + x·φ(x)
                let cdf = (x / std::f64::consts::SQRT_2).erf() * 0.5 + 0.5;
                let pdf = (x * x * -0.5).exp() * (1.0 / (2.0 * std::f64::consts::PI).sqrt());
                g * (cdf + x * pdf)
            }),
            Op::LeakyRelu(x, slope) => acc.add(x, || {
                let one = Tensor::scalar(1.0).to_dtype(g.dtype());
                let s = Tensor::scalar(*slope).to_dtype(g.dtype());
                g * Tensor::where_cond(&x.gt_scalar(0), &one, &s)
            }),
            Op::CrossEntropy {
                logits,
                target,
                probs,
                reduction,
            } => acc.add(logits, || {
                // d/dx = (softmax(x) - onehot(t)) · (g, or g/N for the mean)
                let n = target.len();
                let per_sample: Vec<f64> = match reduction {
                    crate::nn::Reduction::None => g.to_vec::<f64>(),
                    crate::nn::Reduction::Sum => vec![g.item().to_f64(); n],
                    crate::nn::Reduction::Mean => vec![g.item().to_f64() / n.max(1) as f64; n],
                };
                crate::tensor::with_float!(probs.dtype(), T => {
                    let mut out = probs.contiguous_vec::<T>();
                    let c = probs.shape()[1];
                    for (i, row) in out.chunks_exact_mut(c.max(1)).enumerate().take(n) {
                        let s = <T as crate::tensor::Element>::from_f64(per_sample[i]);
                        row.iter_mut().for_each(|v| *v *= s);
                        let t = target[i] as usize;
                        row[t] -= s;
                    }
                    Tensor::from_vec(out, probs.shape())
                })
            }),
            Op::NllLoss {
                logp,
                target,
                reduction,
            } => acc.add(logp, || {
                // Only the picked log-probabilities get gradient: -g (÷ N for the mean).
                let n = target.numel().max(1) as f64;
                let per_sample = match reduction {
                    crate::nn::Reduction::None => g.neg(),
                    crate::nn::Reduction::Sum => g.neg().expand([target.numel()]),
                    crate::nn::Reduction::Mean => (g.neg() / n).expand([target.numel()]),
                };
                zeros(logp).scatter_add(
                    1,
                    &target.unsqueeze(1),
                    &per_sample.contiguous().unsqueeze(1),
                )
            }),
        }
    }
}

/// `f(g, y)` elementwise for a gradient and a saved output of the same shape and
/// float dtype: one pass and one allocation instead of a chain of ops.
fn fused(
    g: &Tensor,
    y: &Tensor,
    f32_fn: impl Fn(f32, f32) -> f32,
    f64_fn: impl Fn(f64, f64) -> f64,
) -> Tensor {
    let shape = g.shape().to_vec();
    match g.dtype() {
        crate::DType::F32 => {
            crate::ops::elementwise::zip_map::<f32, f32, f32>(g, y, &shape, f32_fn)
        }
        _ => crate::ops::elementwise::zip_map::<f64, f64, f64>(
            g,
            &y.to_dtype(g.dtype()),
            &shape,
            f64_fn,
        ),
    }
}

/// True for a transposed view of a contiguous matrix (a weight seen as `W.t()`).
fn is_transposed(t: &Tensor) -> bool {
    t.dim() == 2 && !t.is_contiguous() && t.t().is_contiguous()
}

// NOTE(grad-layout): the gradient of a matrix product is computed in the layout of
// the operand it flows to. A linear layer multiplies by `W.t()`; computing `(gᵀ·A)ᵀ`
// instead of `Aᵀ·g` yields a view whose transpose is contiguous, so `W.grad` is
// stored without a copy.

/// `g·Bᵀ`, the gradient of `A` in `A·B`.
fn mm_grad_lhs(g: &Tensor, a: &Tensor, b: &Tensor) -> Tensor {
    if is_transposed(a) {
        b.mm(&g.t()).t() // see NOTE(grad-layout)
    } else {
        g.mm(&b.t())
    }
}

/// `Aᵀ·g`, the gradient of `B` in `A·B`.
fn mm_grad_rhs(g: &Tensor, a: &Tensor, b: &Tensor) -> Tensor {
    if is_transposed(b) {
        g.t().mm(a).t() // see NOTE(grad-layout)
    } else {
        a.t().mm(g)
    }
}

/// The mean over a lane (kept as a size-1 dim) and the lane length.
fn lane_mean(x: &Tensor, dim: Option<usize>) -> (Tensor, f64) {
    match dim {
        Some(d) => (x.mean_dim(d as isize, true), x.shape()[d] as f64),
        None => (x.mean(), x.numel() as f64),
    }
}

/// For each element, the product of the other elements in its lane: the gradient
/// of `prod`, exact even where elements are zero (prefix and suffix products).
fn product_of_others(x: &Tensor, dim: Option<usize>) -> Tensor {
    let (rows, last) = match dim {
        Some(d) => (x.transpose(d as isize, -1).contiguous(), d),
        None => (x.reshape([-1]).contiguous(), 0),
    };
    let n = *rows.shape().last().unwrap_or(&1);
    let v = rows.to_vec::<f64>();
    let mut out = vec![0f64; v.len()];
    for (lane, res) in v.chunks(n.max(1)).zip(out.chunks_mut(n.max(1))) {
        let mut prefix = 1.0;
        for (i, r) in res.iter_mut().enumerate() {
            *r = prefix;
            prefix *= lane[i];
        }
        let mut suffix = 1.0;
        for i in (0..lane.len()).rev() {
            res[i] *= suffix;
            suffix *= lane[i];
        }
    }
    let t = Tensor::from_vec(out, rows.shape()).to_dtype(x.dtype());
    match dim {
        Some(_) => t.transpose(last as isize, -1).contiguous(),
        None => t.reshape(x.shape()),
    }
}

/// Where gradients go during one backward pass.
struct Sink<'a> {
    pending: &'a mut HashMap<*const Inner, Tensor>,
    /// Leaf gradients of the op being run, added to `.grad` once the op's own
    /// output gradient is dropped: a gradient that is a view of it (a linear
    /// layer's `W.t()`) then owns its buffer and is stored without a copy.
    leaves: Vec<(Tensor, Tensor)>,
}

impl Sink<'_> {
    fn add(&mut self, input: &Tensor, grad: impl FnOnce() -> Tensor) {
        if !input.requires_grad() {
            return;
        }
        let mut g = grad();
        if g.dtype() != input.dtype() {
            g = g.to_dtype(input.dtype());
        }
        if input.is_leaf() {
            self.leaves.push((input.clone(), g));
        } else {
            let key = std::sync::Arc::as_ptr(&input.inner);
            let merged = match self.pending.remove(&key) {
                Some(prev) => &prev + &g,
                None => g,
            };
            self.pending.insert(key, merged);
        }
    }
}

/// Adds `g` into a leaf's `.grad`, storing a tensor that nothing else shares.
fn accumulate_leaf(leaf: &Tensor, g: Tensor) {
    let mut slot = leaf.inner.grad.lock().unwrap_or_else(|e| e.into_inner());
    let new = match slot.take() {
        Some(prev) => &prev + &g,
        None => {
            let unshared = std::sync::Arc::strong_count(&g.inner) == 1
                && std::sync::Arc::strong_count(&g.inner.storage) == 1
                && g.is_contiguous()
                && g.storage_offset() == 0;
            if unshared && g.shape() == leaf.shape() {
                g
            } else {
                g.expand(leaf.shape()).clone_tensor()
            }
        }
    };
    *slot = Some(new);
}

/// Non-leaf tensors reachable from `root` through inputs that require grad, each
/// before all of its inputs.
fn topological_order(root: &Tensor) -> Vec<Tensor> {
    let mut visited: HashSet<*const Inner> = HashSet::new();
    let mut post = Vec::new();
    let mut stack = vec![(root.clone(), false)];
    while let Some((t, done)) = stack.pop() {
        if done {
            post.push(t);
            continue;
        }
        if !visited.insert(std::sync::Arc::as_ptr(&t.inner)) {
            continue;
        }
        stack.push((t.clone(), true));
        if let Some(op) = &t.inner.grad_fn {
            for input in op.inputs() {
                if input.requires_grad()
                    && !input.is_leaf()
                    && !visited.contains(&std::sync::Arc::as_ptr(&input.inner))
                {
                    stack.push((input.clone(), false));
                }
            }
        }
    }
    post.reverse();
    post
}

impl Tensor {
    /// Computes the gradient of this scalar with respect to every leaf that requires
    /// grad, adding it into their `.grad()`.
    ///
    /// # Panics
    /// When the tensor does not require grad or is not a single element; see
    /// [`Tensor::try_backward`].
    ///
    /// ```
    /// use kindling::Tensor;
    /// let x = Tensor::from_vec(vec![1.0f32, 2.0, 3.0], [3]).requires_grad_(true);
    /// (&x * &x).sum().backward();                      // d(Σx²)/dx = 2x
    /// assert_eq!(x.grad().unwrap().to_vec::<f32>(), vec![2.0, 4.0, 6.0]);
    /// ```
    #[track_caller]
    pub fn backward(&self) {
        or_panic!(self.try_backward(None))
    }

    /// Backward from a non-scalar output with an explicit gradient (`backward(gradient)`).
    #[track_caller]
    pub fn backward_with(&self, gradient: &Tensor) {
        or_panic!(self.try_backward(Some(gradient)))
    }

    /// Fallible [`Tensor::backward`] / [`Tensor::backward_with`].
    pub fn try_backward(&self, gradient: Option<&Tensor>) -> Result<()> {
        if !self.requires_grad() {
            return Err(Error::Autograd(
                "element 0 of tensors does not require grad and does not have a grad_fn".into(),
            ));
        }
        let _guard = NoGradGuard::new();
        let grad = match gradient {
            Some(g) if g.shape() != self.shape() => {
                return Err(Error::Autograd(format!(
                    "Mismatch in shape: grad_output[0] has a shape of {:?} and output[0] has a shape of {:?}.",
                    g.shape(),
                    self.shape()
                )))
            }
            Some(g) => g.to_dtype(self.dtype()).clone_tensor(),
            None if self.numel() != 1 => {
                return Err(Error::Autograd("grad can be implicitly created only for scalar outputs".into()))
            }
            None => self.ones_like(),
        };
        if self.is_leaf() {
            accumulate_leaf(self, grad);
            return Ok(());
        }
        let mut pending = HashMap::new();
        pending.insert(std::sync::Arc::as_ptr(&self.inner), grad);
        for t in topological_order(self) {
            let Some(g) = pending.remove(&std::sync::Arc::as_ptr(&t.inner)) else {
                continue;
            };
            if let Some(op) = &t.inner.grad_fn {
                let mut sink = Sink {
                    pending: &mut pending,
                    leaves: Vec::new(),
                };
                op.backward(&g, &mut sink);
                let leaves = sink.leaves;
                drop(g);
                for (leaf, grad) in leaves {
                    accumulate_leaf(&leaf, grad);
                }
            }
        }
        Ok(())
    }
}
