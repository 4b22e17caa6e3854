//! Matrix products: `mm`, `matmul` (1-D, 2-D and batched with broadcasting),
//! `addmm`. The CPU backend runs float products on the `gemm` crate's kernels,
//! which take strides, so transposed views are multiplied without a copy.

use super::{device_of, read2, read3};
use crate::autograd::grad_fn;
use crate::backend::backend;
use crate::error::{or_panic, shape_err, Error, Result};
use crate::tensor::layout::broadcast_shapes;
use crate::tensor::{DType, Tensor};

/// `bias + a·b` for 2-D `a` and `b` of one dtype (no autograd); `bias`
/// broadcasts to the output.
fn mm_kernel(a: &Tensor, b: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    let (m, n) = (a.shape()[0], b.shape()[1]);
    let device = match bias {
        Some(c) => device_of(&[a, b, c])?,
        None => device_of(&[a, b])?,
    };
    let buf = match bias {
        Some(c) => {
            let c = crate::no_grad(|| c.expand([m, n]));
            read3(a, b, &c, |va, vb, vc| {
                backend(device).matmul(va, vb, Some(vc))
            })
        }
        None => read2(a, b, |va, vb| backend(device).matmul(va, vb, None)),
    };
    Ok(Tensor::from_buffer_on(buf, &[m, n], device))
}

/// Batched product of `[..., m, k]` and `[..., k, n]` with equal batch shapes.
fn bmm_kernel(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let nd = a.dim();
    let device = device_of(&[a, b])?;
    let mut shape = a.shape()[..nd - 1].to_vec();
    shape.push(b.shape()[nd - 1]);
    let buf = read2(a, b, |va, vb| backend(device).bmm(va, vb));
    Ok(Tensor::from_buffer_on(buf, &shape, device))
}

fn check_dtypes(a: &Tensor, b: &Tensor) -> Result<DType> {
    if a.dtype() != b.dtype() {
        let (expected, found) = if a.dtype() > b.dtype() {
            (a.dtype(), b.dtype())
        } else {
            (b.dtype(), a.dtype())
        };
        return Err(Error::DType { expected, found });
    }
    if a.dtype() == DType::Bool {
        return Err(Error::NotImplemented {
            op: "addmm_impl_cpu_",
            dtype: DType::Bool,
        });
    }
    Ok(a.dtype())
}

fn check_mm_shapes(a: &Tensor, b: &Tensor) -> Result<()> {
    if a.dim() != 2 || b.dim() != 2 {
        return Err(shape_err(format!(
            "mm: expected 2-D tensors, but got {}-D and {}-D",
            a.dim(),
            b.dim()
        )));
    }
    if a.shape()[1] != b.shape()[0] {
        return Err(Error::MatMul {
            m: a.shape()[0],
            k1: a.shape()[1],
            k2: b.shape()[0],
            n: b.shape()[1],
        });
    }
    Ok(())
}

impl Tensor {
    /// The matrix product of two 2-D tensors.
    ///
    /// # Shapes
    /// `[m, k] · [k, n] → [m, n]`
    ///
    /// # Panics
    /// On mismatched shapes (`mat1 and mat2 shapes cannot be multiplied (13x784 and 10x10)`)
    /// or dtypes (`expected scalar type Float but found Byte`); see [`Tensor::try_mm`].
    #[track_caller]
    pub fn mm(&self, other: &Tensor) -> Tensor {
        or_panic!(self.try_mm(other))
    }

    /// Fallible [`Tensor::mm`].
    pub fn try_mm(&self, other: &Tensor) -> Result<Tensor> {
        check_mm_shapes(self, other)?;
        check_dtypes(self, other)?;
        let out = mm_kernel(self, other, None)?;
        Ok(Tensor::record(out, &[self, other], || MmBackward0 {
            a: self.clone(),
            b: other.clone(),
        }))
    }

    /// `beta * input + alpha * (mat1 · mat2)` with `beta = alpha = 1`: a linear layer's
    /// `x · Wᵀ + b` in one pass (the bias is written first, the product accumulated).
    ///
    /// # Shapes
    /// `input` broadcasts to `[m, n]`; `mat1: [m, k]`, `mat2: [k, n]`.
    #[track_caller]
    pub fn addmm(input: &Tensor, mat1: &Tensor, mat2: &Tensor) -> Tensor {
        or_panic!(Tensor::try_addmm(input, mat1, mat2))
    }

    /// Fallible [`Tensor::addmm`].
    pub fn try_addmm(input: &Tensor, mat1: &Tensor, mat2: &Tensor) -> Result<Tensor> {
        check_mm_shapes(mat1, mat2)?;
        let dtype = check_dtypes(mat1, mat2)?;
        if input.dtype() != dtype {
            return Err(Error::DType {
                expected: dtype,
                found: input.dtype(),
            });
        }
        let (m, n) = (mat1.shape()[0], mat2.shape()[1]);
        broadcast_shapes(input.shape(), &[m, n])
            .ok()
            .filter(|s| s.as_slice() == [m, n])
            .ok_or_else(|| {
                shape_err(format!(
                    "addmm: input of shape {:?} cannot be broadcast to [{m}, {n}]",
                    input.shape()
                ))
            })?;
        let out = mm_kernel(mat1, mat2, Some(input))?;
        Ok(Tensor::record(out, &[input, mat1, mat2], || {
            AddmmBackward0 {
                bias: input.clone(),
                a: mat1.clone(),
                b: mat2.clone(),
            }
        }))
    }

    /// The matrix product with NumPy/PyTorch `matmul` semantics: 1-D·1-D is a dot
    /// product, 2-D·1-D a matrix-vector product, and more dimensions a batched
    /// product with broadcast batch dimensions.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let a = Tensor::ones([2, 3, 4]);
    /// let b = Tensor::ones([4, 5]);
    /// assert_eq!(a.matmul(&b).shape(), &[2, 3, 5]);
    /// ```
    #[track_caller]
    pub fn matmul(&self, other: &Tensor) -> Tensor {
        or_panic!(self.try_matmul(other))
    }

    /// Fallible [`Tensor::matmul`].
    pub fn try_matmul(&self, other: &Tensor) -> Result<Tensor> {
        let (da, db) = (self.dim(), other.dim());
        if da == 0 || db == 0 {
            return Err(shape_err(format!(
                "both arguments to matmul need to be at least 1D, but they are {da}D and {db}D"
            )));
        }
        check_dtypes(self, other)?;
        match (da, db) {
            (1, 1) => {
                if self.shape()[0] != other.shape()[0] {
                    return Err(shape_err(format!(
                        "inconsistent tensor size, expected tensor [{}] and src [{}] to have the same number of elements, but got {} and {} elements respectively",
                        self.shape()[0], other.shape()[0], self.shape()[0], other.shape()[0]
                    )));
                }
                let out = crate::autograd::no_grad(|| {
                    Ok::<_, Error>(
                        mm_kernel(&self.unsqueeze(0), &other.unsqueeze(1), None)?
                            .reshape([0usize; 0]),
                    )
                })?;
                Ok(Tensor::record(out, &[self, other], || DotBackward0 {
                    a: self.clone(),
                    b: other.clone(),
                }))
            }
            (2, 1) => {
                if self.shape()[1] != other.shape()[0] {
                    return Err(Error::MatMul {
                        m: self.shape()[0],
                        k1: self.shape()[1],
                        k2: other.shape()[0],
                        n: 1,
                    });
                }
                let out = crate::autograd::no_grad(|| {
                    Ok::<_, Error>(mm_kernel(self, &other.unsqueeze(1), None)?.reshape([-1]))
                })?;
                Ok(Tensor::record(out, &[self, other], || MvBackward0 {
                    a: self.clone(),
                    v: other.clone(),
                }))
            }
            (1, _) => Ok(self
                .unsqueeze(0)
                .try_matmul(other)?
                .squeeze_dim_named(-2, "SqueezeBackward4")),
            (2, 2) => self.try_mm(other),
            (_, 1) => Ok(self
                .try_matmul(&other.unsqueeze(1))?
                .squeeze_dim_named(-1, "SqueezeBackward4")),
            _ => {
                let (m, k) = (self.shape()[da - 2], self.shape()[da - 1]);
                let (k2, n) = (other.shape()[db - 2], other.shape()[db - 1]);
                if k != k2 {
                    return Err(Error::MatMul { m, k1: k, k2, n });
                }
                if db == 2 {
                    // Fold the batch into the rows: one large product, as PyTorch does.
                    let mut shape = self.shape()[..da - 1].to_vec();
                    shape.push(n);
                    let out = self.try_reshape([-1, k as isize])?.try_mm(other)?;
                    return Ok(out.view_named(&shape, "UnsafeViewBackward0"));
                }
                let batch = broadcast_shapes(&self.shape()[..da - 2], &other.shape()[..db - 2])?;
                let mut sa: Vec<usize> = batch.to_vec();
                sa.extend([m, k]);
                let mut sb: Vec<usize> = batch.to_vec();
                sb.extend([k, n]);
                let (a, b) = (self.try_expand(sa)?, other.try_expand(sb)?);
                let out = bmm_kernel(&a, &b)?;
                let out = Tensor::record(out, &[&a, &b], || BmmBackward0 {
                    a: a.clone(),
                    b: b.clone(),
                });
                let shape = out.shape().to_vec();
                Ok(out.view_named(&shape, "UnsafeViewBackward0"))
            }
        }
    }
}

// ----- gradients ----------------------------------------------------------------------

grad_fn! {
    /// d(AB) = dA·B + A·dB.
    MmBackward0 { a: Tensor, b: Tensor }
    inputs [a, b];
    backward(n, g, acc) {
        acc.add(&n.a, || mm_grad_lhs(g, &n.a, &n.b));
        acc.add(&n.b, || mm_grad_rhs(g, &n.a, &n.b));
    }
}

grad_fn! {
    /// d(bias + AB): the bias gets `g` summed to its shape, A and B as in `mm`.
    AddmmBackward0 { bias: Tensor, a: Tensor, b: Tensor }
    inputs [bias, a, b];
    backward(n, g, acc) {
        acc.add(&n.bias, || g.sum_to(n.bias.shape()));
        acc.add(&n.a, || mm_grad_lhs(g, &n.a, &n.b));
        acc.add(&n.b, || mm_grad_rhs(g, &n.a, &n.b));
    }
}

grad_fn! {
    /// d(a·b) = b·da + a·db.
    DotBackward0 { a: Tensor, b: Tensor }
    inputs [a, b];
    backward(n, g, acc) {
        acc.add(&n.a, || &n.b * g);
        acc.add(&n.b, || &n.a * g);
    }
}

grad_fn! {
    /// d(Av) = dA·v + A·dv: dA = g vᵀ, dv = Aᵀ g.
    MvBackward0 { a: Tensor, v: Tensor }
    inputs [a, v];
    backward(n, g, acc) {
        acc.add(&n.a, || g.unsqueeze(1).mm(&n.v.unsqueeze(0)));
        acc.add(&n.v, || n.a.t().matmul(g));
    }
}

grad_fn! {
    /// Batched `mm`: dA = g Bᵀ, dB = Aᵀ g per batch.
    BmmBackward0 { a: Tensor, b: Tensor }
    inputs [a, b];
    backward(n, g, acc) {
        acc.add(&n.a, || g.matmul(&n.b.transpose(-1, -2)));
        acc.add(&n.b, || n.a.transpose(-1, -2).matmul(g));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::golden::{goldens, gradchecks};

    goldens! { "matmul";
        mm => |x, _| x[0].mm(&x[1]),
        addmm => |x, _| Tensor::addmm(&x[0], &x[1], &x[2]),
        linear_784 => |x, _| Tensor::addmm(&x[0], &x[1], &x[2].t()),
        matmul_1d_1d => |x, _| x[0].matmul(&x[1]),
        matmul_2d_1d => |x, _| x[0].matmul(&x[1]),
        matmul_1d_2d => |x, _| x[0].matmul(&x[1]),
        matmul_3d_2d => |x, _| x[0].matmul(&x[1]),
        matmul_3d_3d => |x, _| x[0].matmul(&x[1]),
        matmul_broadcast => |x, _| x[0].matmul(&x[1]),
        chain_linear_sigmoid_softmax => |x, _| Tensor::addmm(&x[2], &x[0], &x[1].t()).sigmoid().softmax(1),
    }

    gradchecks! {
        mm: [randn(&[4, 3], 1), randn(&[3, 5], 2)] => |x| x[0].mm(&x[1]);
        mm_transposed_views: [randn(&[3, 4], 1), randn(&[5, 3], 2)] => |x| x[0].t().mm(&x[1].t());
        addmm: [randn(&[5], 1), randn(&[4, 3], 2), randn(&[3, 5], 3)] => |x| Tensor::addmm(&x[0], &x[1], &x[2]);
        matmul_dot: [randn(&[4], 1), randn(&[4], 2)] => |x| x[0].matmul(&x[1]);
        matmul_mv: [randn(&[3, 4], 1), randn(&[4], 2)] => |x| x[0].matmul(&x[1]);
        matmul_vm: [randn(&[4], 1), randn(&[4, 2], 2)] => |x| x[0].matmul(&x[1]);
        matmul_folded: [randn(&[2, 3, 4], 1), randn(&[4, 5], 2)] => |x| x[0].matmul(&x[1]);
        matmul_batched_broadcast: [randn(&[2, 1, 3, 4], 1), randn(&[3, 4, 2], 2)] => |x| x[0].matmul(&x[1]);
        lecture_network: [randn(&[2, 6], 1), randn(&[4, 6], 2), randn(&[4], 3)] => |x| Tensor::addmm(&x[2], &x[0], &x[1].t()).sigmoid().softmax(1);
    }

    fn naive(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
        let mut c = vec![0f32; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
            }
        }
        c
    }

    #[test]
    fn mm_matches_naive_including_transposed_views() {
        let a = Tensor::randn([5, 7]);
        let b = Tensor::randn([7, 3]);
        let want = naive(&a.to_vec(), &b.to_vec(), 5, 7, 3);
        let got = a.mm(&b).to_vec::<f32>();
        let via_t = a
            .t()
            .contiguous()
            .t()
            .mm(&b.t().contiguous().t())
            .to_vec::<f32>();
        for ((x, y), z) in want.iter().zip(&got).zip(&via_t) {
            assert!((x - y).abs() < 1e-5 && (x - z).abs() < 1e-5);
        }
    }

    #[test]
    fn narrow_products_match_naive() {
        // Outputs up to 16 wide run kindling's own kernel on blocks of 16 rows
        // and gemm on the rest; both layouts of the right operand, with and
        // without a bias, several k (including ones that are not multiples of 16).
        for (m, n, k) in [
            (16, 16, 784),
            (64, 10, 784),
            (37, 1, 3),
            (100, 16, 17),
            (16, 7, 1),
        ] {
            let x = Tensor::randn([m, k]);
            let w = Tensor::randn([n, k]);
            let bias = Tensor::randn([n]);
            let (xv, wv, bv) = (x.to_vec::<f32>(), w.to_vec::<f32>(), bias.to_vec::<f32>());
            let want = |with_bias: bool| -> Vec<f64> {
                let mut out = Vec::with_capacity(m * n);
                for i in 0..m {
                    for j in 0..n {
                        let dot: f64 = (0..k)
                            .map(|p| xv[i * k + p] as f64 * wv[j * k + p] as f64)
                            .sum();
                        out.push(dot + if with_bias { bv[j] as f64 } else { 0.0 });
                    }
                }
                out
            };
            let close = |got: Vec<f32>, want: Vec<f64>| {
                for (g, w) in got.iter().zip(&want) {
                    assert!(
                        (*g as f64 - w).abs() < 1e-4 * (1.0 + w.abs()),
                        "{m}x{k}x{n}: {g} vs {w}"
                    );
                }
            };
            close(x.mm(&w.t()).to_vec(), want(false));
            close(x.mm(&w.t().contiguous()).to_vec(), want(false));
            close(Tensor::addmm(&bias, &x, &w.t()).to_vec(), want(true));
            // A transposed left operand (columns not contiguous) takes gemm.
            close(x.t().contiguous().t().mm(&w.t()).to_vec(), want(false));
        }
    }

    #[test]
    fn lecture_errors() {
        let pixels = Tensor::zeros([13, 784]).to_dtype(DType::U8);
        let w = Tensor::zeros([10, 784]);
        let e = Tensor::try_addmm(&Tensor::zeros([10]), &pixels, &w.t())
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("expected scalar type Float but found Byte\nhint: "),
            "{e}"
        );
        let e = Tensor::zeros([13, 784])
            .try_mm(&Tensor::zeros([10, 10]))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "mat1 and mat2 shapes cannot be multiplied (13x784 and 10x10)"
        );
    }

    #[test]
    fn matmul_shapes() {
        assert_eq!(
            Tensor::ones([3]).matmul(&Tensor::ones([3])).item().to_f64(),
            3.0
        );
        assert_eq!(
            Tensor::ones([2, 3]).matmul(&Tensor::ones([3])).shape(),
            &[2]
        );
        assert_eq!(
            Tensor::ones([3]).matmul(&Tensor::ones([3, 4])).shape(),
            &[4]
        );
        assert_eq!(
            Tensor::ones([5, 1, 2, 3])
                .matmul(&Tensor::ones([4, 3, 6]))
                .shape(),
            &[5, 4, 2, 6]
        );
        let i = Tensor::arange(6).reshape([2, 3]);
        assert_eq!(i.matmul(&i.t()).to_vec::<i64>(), vec![5, 14, 14, 50]);
    }
}
