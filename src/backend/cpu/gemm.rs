//! The CPU backend's matrix products: the `gemm` crate's kernels (chosen by
//! measurement, BENCHMARKS.md), kindling's own kernel for outputs at most 16
//! wide (`small_gemm`), and the policy that splits large products between two
//! threads.

use gemm_common::Parallelism;

use super::runtime::num_threads;
use super::small_gemm;
use crate::backend::View;
use crate::tensor::layout::for_each_offsets;
use crate::tensor::{with_dtype, Buffer, DType, Dims, Element, Layout};

/// Products from this many multiply-adds up are split in two (see [`gemm_raw`]).
const SPLIT_MIN: usize = 1 << 22;
/// The same for a product of one row (see [`gemm_raw`]).
const SPLIT_MIN_ONE_ROW: usize = 1 << 20;

/// A 2-D operand: storage offset and (row, column) strides.
#[derive(Clone, Copy)]
pub(super) struct Mat {
    pub offset: usize,
    pub rs: usize,
    pub cs: usize,
}

/// `dst[m×n] = (dst if accumulate) + lhs[m×k] · rhs[k×n]`, for f32 and f64.
#[allow(clippy::too_many_arguments)]
pub(super) fn gemm_into<T: Element>(
    m: usize,
    n: usize,
    k: usize,
    dst: &mut [T],
    accumulate: bool,
    lhs: &[T],
    a: Mat,
    rhs: &[T],
    b: Mat,
) {
    assert!(dst.len() >= m * n);
    if k == 0 {
        if !accumulate {
            dst[..m * n].fill(T::default());
        }
        return;
    }
    // SAFETY: `dst` holds at least m·n initialised elements (asserted above).
    unsafe { gemm_raw(m, n, k, dst.as_mut_ptr(), accumulate, lhs, a, rhs, b) }
}

/// `lhs · rhs` into a new buffer that the kernel writes directly, without
/// zeroing it first.
fn gemm_fresh<T: Element>(
    m: usize,
    n: usize,
    k: usize,
    lhs: &[T],
    a: Mat,
    rhs: &[T],
    b: Mat,
) -> Vec<T> {
    if k == 0 || m == 0 || n == 0 {
        return vec![T::default(); m * n];
    }
    let mut out: Vec<T> = Vec::with_capacity(m * n);
    // SAFETY: the kernel writes all m·n elements (it does not read `dst` when
    // `accumulate` is false), so they are initialised before `set_len`.
    unsafe {
        gemm_raw(m, n, k, out.as_mut_ptr(), false, lhs, a, rhs, b);
        out.set_len(m * n);
    }
    out
}

/// # Safety
/// `dst` must be valid for writes of `m·n` elements (and reads, when
/// `accumulate`) and must not overlap `lhs` or `rhs`; `k > 0`.
///
/// Products from [`SPLIT_MIN`] multiply-adds up (a training step's first layer
/// in `mlp`, 64×784·784×128, and its weight gradient; inference on large
/// batches) are computed as two independent halves of the output: side by side
/// when there are threads, one after the other when there are not. The split
/// depends only on the shape, never on the thread count, so the numbers are the
/// same either way. With two threads the second half goes to a helper thread
/// that spins between tasks ([`super::runtime::join2`]): a rayon worker sleeps between
/// the steps of a training loop, and waking it cost what the split saved
/// (BENCHMARKS.md). With more threads, each half runs on gemm's own threads in
/// the rayon pool, which also split by output blocks only.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_raw<T: Element>(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut T,
    accumulate: bool,
    lhs: &[T],
    a: Mat,
    rhs: &[T],
    b: Mat,
) {
    assert!(T::DTYPE.is_floating_point());
    if m == 0 || n == 0 {
        return;
    }
    let last = |x: Mat, rows: usize, cols: usize| x.offset + (rows - 1) * x.rs + (cols - 1) * x.cs;
    assert!(last(a, m, k) < lhs.len() && last(b, k, n) < rhs.len());
    let macs = m * n * k;
    let dst_at = SendPtr(dst);
    // One gemm call on the block of rows `rows` and columns `cols` of the output.
    // Outputs at most 16 wide (the lecture's first layers) go to kindling's own
    // kernel, twice as fast there (backend/cpu/small_gemm.rs; BENCHMARKS.md).
    let narrow = n <= small_gemm::MAX_N && m >= small_gemm::ROWS && small_gemm::available();
    let block = |rows: std::ops::Range<usize>, cols: std::ops::Range<usize>, par| {
        let b = Mat {
            offset: b.offset + cols.start * b.cs,
            ..b
        };
        let mut rows = rows;
        if T::DTYPE == DType::F32 && narrow && a.cs == 1 {
            // SAFETY: T is f32 (checked), so both slices hold f32; the assert
            // above keeps every index inside them, the caller vouches for `dst`,
            // and `narrow` checked the CPU.
            let done = unsafe {
                let f32s = |s: &[T]| std::slice::from_raw_parts(s.as_ptr() as *const f32, s.len());
                small_gemm::product(
                    (rows.len(), cols.len(), k),
                    dst_at.get().add(rows.start * n + cols.start) as *mut f32,
                    n,
                    accumulate,
                    f32s(lhs),
                    (a.offset + rows.start * a.rs, a.rs),
                    f32s(rhs),
                    (b.offset, b.rs, b.cs),
                )
            };
            rows.start += done;
            if rows.is_empty() {
                return;
            }
        }
        let a = Mat {
            offset: a.offset + rows.start * a.rs,
            ..a
        };
        // SAFETY: the assert above keeps every index the kernel reads inside `lhs`
        // and `rhs`; the caller vouches for `dst`, and the blocks of one product
        // never overlap.
        unsafe {
            faer_gemm(
                (rows.len(), cols.len(), k),
                dst_at.get().add(rows.start * n + cols.start),
                n,
                accumulate,
                lhs.as_ptr().add(a.offset),
                a,
                rhs.as_ptr().add(b.offset),
                b,
                par,
            )
        }
    };
    // One row (a single image through a linear layer: `predict`) reads the
    // whole of `rhs` for little arithmetic, so it is split from fewer
    // multiply-adds: each half reads half of it.
    let split_min = if m == 1 { SPLIT_MIN_ONE_ROW } else { SPLIT_MIN };
    if macs < split_min || (m < 128 && n < 32) {
        return block(0..m, 0..n, Parallelism::None);
    }
    // Rows when there are many (a weight gradient's), else columns, cut at a
    // multiple of 16 (the kernels' width).
    let (first, second) = if m >= 128 {
        let h = m / 2 / 16 * 16;
        ((0..h, 0..n), (h..m, 0..n))
    } else {
        let h = n / 2 / 16 * 16;
        ((0..m, 0..h), (0..m, h..n))
    };
    let none = Parallelism::None;
    match num_threads() {
        1 => {
            block(first.0, first.1, none);
            block(second.0, second.1, none);
        }
        2 => super::runtime::join2(
            || block(first.0, first.1, none),
            || block(second.0, second.1, none),
        ),
        threads => {
            let par = |t: usize| Parallelism::Rayon(t.max(1));
            rayon::join(
                || block(first.0, first.1, par(threads / 2)),
                || block(second.0, second.1, par(threads - threads / 2)),
            );
        }
    }
}

/// `dst[m×n] (row stride dst_rs) = (dst if accumulate) + lhs · rhs` on gemm's
/// f32 or f64 kernels, as the `gemm` crate's `gemm::gemm` calls them.
///
/// NOTE(gemm-crates): kindling depends on `gemm-f32` and `gemm-f64` rather than
/// on `gemm`, whose one generic entry point also links the complex kernels
/// (`gemm-c32`, `gemm-c64`: 36 s of a clean build's CPU time, and the longest
/// chain in a notebook's first `:dep kindling`). This function is that entry
/// point's code for real types: the kernels prefer a column-major output, so
/// a row-major product is computed as its transpose, `dstᵀ = rhsᵀ · lhsᵀ`,
/// exactly as `gemm::gemm` does, so the numbers are the ones it gave.
///
/// # Safety
/// As [`gemm_raw`]: every element the strides reach is inside its buffer,
/// `dst` is valid for `m·n` writes at row stride `dst_rs`, and `T` is f32 or f64.
#[allow(clippy::too_many_arguments)]
unsafe fn faer_gemm<T: Element>(
    (m, n, k): (usize, usize, usize),
    dst: *mut T,
    dst_rs: usize,
    accumulate: bool,
    lhs: *const T,
    a: Mat,
    rhs: *const T,
    b: Mat,
    par: Parallelism,
) {
    // `gemm::gemm` transposes when the output's columns are closer than its rows.
    let (m, n, dst_cs, dst_rs, lhs, a, rhs, b) = if 1 < dst_rs {
        let t = |x: Mat| Mat {
            rs: x.cs,
            cs: x.rs,
            ..x
        };
        (n, m, dst_rs, 1, rhs, t(b), lhs, t(a))
    } else {
        (m, n, 1, dst_rs, lhs, a, rhs, b)
    };
    let i = |x: usize| x as isize;
    macro_rules! call {
        ($t:ty, $kernel:path) => {
            $kernel()(
                m,
                n,
                k,
                dst as *mut $t,
                i(dst_cs),
                i(dst_rs),
                accumulate,
                lhs as *const $t,
                i(a.cs),
                i(a.rs),
                rhs as *const $t,
                i(b.cs),
                i(b.rs),
                1.0,
                1.0,
                false,
                false,
                false,
                par,
            )
        };
    }
    match T::DTYPE {
        DType::F32 => call!(f32, gemm_f32::gemm::f32::get_gemm_fn),
        DType::F64 => call!(f64, gemm_f64::gemm::f64::get_gemm_fn),
        other => unreachable!("gemm kernels for {other}"),
    }
}

/// The output pointer, shared by the two halves of a split product (which write
/// disjoint blocks).
#[derive(Clone, Copy)]
struct SendPtr<T>(*mut T);
// SAFETY: only used to write disjoint blocks of one output from two threads.
unsafe impl<T> Send for SendPtr<T> {}
// SAFETY: as above.
unsafe impl<T> Sync for SendPtr<T> {}

impl<T> SendPtr<T> {
    /// The pointer (a method, so closures capture the wrapper, not the field).
    fn get(self) -> *mut T {
        self.0
    }
}

fn mat(l: &Layout, row_dim: usize) -> Mat {
    Mat {
        offset: l.offset,
        rs: l.strides[row_dim],
        cs: l.strides[row_dim + 1],
    }
}

/// `bias + a·b` for 2-D `a` `[m, k]` and `b` `[k, n]` of one dtype; `bias`
/// is a view of shape `[m, n]` (usually a bias row expanded).
pub(super) fn matmul(a: View, b: View, bias: Option<View>) -> Buffer {
    let (m, k, n) = (a.shape()[0], a.shape()[1], b.shape()[1]);
    with_dtype!(a.dtype(), T => {
        let (da, db) = (a.data::<T>(), b.data::<T>());
        if bias.is_none() && T::DTYPE.is_floating_point() {
            return T::into_buffer(gemm_fresh(m, n, k, da, mat(a.layout, 0), db, mat(b.layout, 0)));
        }
        let mut out: Vec<T> = match bias {
            // A bias row under every output row: the linear layer's case.
            Some(c) if c.layout.strides.as_slice() == [0, 1] => {
                let row = &c.data::<T>()[c.layout.offset..c.layout.offset + n];
                let mut out = Vec::with_capacity(m * n);
                for _ in 0..m {
                    out.extend_from_slice(row);
                }
                out
            }
            Some(c) => super::elementwise::contiguous_vec::<T>(c),
            None => vec![T::default(); m * n],
        };
        if T::DTYPE.is_floating_point() {
            gemm_into(m, n, k, &mut out, bias.is_some(), da, mat(a.layout, 0), db, mat(b.layout, 0));
        } else {
            naive_mm(m, n, k, &mut out, da, mat(a.layout, 0), db, mat(b.layout, 0));
        }
        T::into_buffer(out)
    })
}

/// Integer products (rare: no fast kernel is worth its build time).
#[allow(clippy::too_many_arguments)]
fn naive_mm<T: Element>(
    m: usize,
    n: usize,
    k: usize,
    out: &mut [T],
    da: &[T],
    a: Mat,
    db: &[T],
    b: Mat,
) {
    for i in 0..m {
        for j in 0..n {
            let mut s = out[i * n + j].to_i64();
            for p in 0..k {
                s = s.wrapping_add(
                    da[a.offset + i * a.rs + p * a.cs]
                        .to_i64()
                        .wrapping_mul(db[b.offset + p * b.rs + j * b.cs].to_i64()),
                );
            }
            out[i * n + j] = T::from_i64(s);
        }
    }
}

/// Batched product of `[..., m, k]` and `[..., k, n]` with equal batch shapes.
pub(super) fn bmm(a: View, b: View) -> Buffer {
    let (la, lb): (&Layout, &Layout) = (a.layout, b.layout);
    let nd = la.shape.len();
    let (m, k, n) = (la.shape[nd - 2], la.shape[nd - 1], lb.shape[nd - 1]);
    let batch: Dims = la.shape[..nd - 2].into();
    with_dtype!(a.dtype(), T => {
        let (da, db) = (a.data::<T>(), b.data::<T>());
        let count: usize = batch.iter().product();
        let mut out = vec![T::default(); count * m * n];
        let mut i = 0;
        for_each_offsets(&batch, [&la.strides[..nd - 2], &lb.strides[..nd - 2]], [la.offset, lb.offset], |[oa, ob]| {
            let ma = Mat { offset: oa, rs: la.strides[nd - 2], cs: la.strides[nd - 1] };
            let mb = Mat { offset: ob, rs: lb.strides[nd - 2], cs: lb.strides[nd - 1] };
            let dst = &mut out[i * m * n..(i + 1) * m * n];
            if T::DTYPE.is_floating_point() {
                gemm_into(m, n, k, dst, false, da, ma, db, mb);
            } else {
                naive_mm(m, n, k, dst, da, ma, db, mb);
            }
            i += 1;
        });
        T::into_buffer(out)
    })
}
