//! A float32 kernel for products with at most 16 output columns: the first
//! layers of the lecture's networks (`x · Wᵀ` with `W` of 10 or 16 rows), where
//! gemm reaches about 40% of a core's peak and this kernel twice that.
//!
//! One 16-lane register holds a whole output row, so a block of 16 rows keeps 16
//! accumulators and, per step along `k`, loads one row of the packed `Wᵀ` and
//! multiplies it by one broadcast element of each of the 16 input rows
//! (17 loads for 16 multiply-adds). The packed `Wᵀ` (`k × 16`, zero-padded) is
//! built per call by 16×16 in-register transposes (about a microsecond for
//! 784×16). Rows that do not fill a block of 16 are left to gemm.
//!
//! Each output element is summed over `k` in order, by one thread: the result
//! depends on the shape only, like every product kindling computes.

use std::cell::RefCell;

/// Output widths this kernel takes.
pub(crate) const MAX_N: usize = 16;
/// Rows per block.
pub(crate) const ROWS: usize = 16;

thread_local! {
    /// The packed `Wᵀ`, reused from call to call.
    static PACKED: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Whether this CPU runs the kernel (AVX-512F).
pub(crate) fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `dst[i, j] (+)= Σ_p lhs[i, p] · rhs[p, j]` for the first `m / 16 · 16` rows,
/// `n ≤ 16`; returns how many rows it computed. `lhs` rows are contiguous
/// (element `(i, p)` at `a_off + i·a_rs + p`), `rhs` element `(p, j)` is at
/// `b_off + p·b_rs + j·b_cs`, and `dst` rows are `dst_rs` apart.
///
/// # Safety
/// [`available`] must be true; every index named above must be inside its
/// slice, and `dst` valid for reads and writes of the rows computed, not
/// overlapping `lhs` or `rhs`.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn product(
    (m, n, k): (usize, usize, usize),
    dst: *mut f32,
    dst_rs: usize,
    accumulate: bool,
    lhs: &[f32],
    (a_off, a_rs): (usize, usize),
    rhs: &[f32],
    (b_off, b_rs, b_cs): (usize, usize, usize),
) -> usize {
    debug_assert!((1..=MAX_N).contains(&n) && available());
    let rows = m / ROWS * ROWS;
    if rows == 0 {
        return 0;
    }
    PACKED.with(|packed| {
        let mut packed = packed.borrow_mut();
        packed.clear();
        packed.resize(k * 16, 0.0);
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the caller vouches for the CPU and for every index.
        unsafe {
            avx512::pack(n, k, rhs, (b_off, b_rs, b_cs), &mut packed);
            avx512::rows(
                rows,
                n,
                k,
                dst,
                dst_rs,
                accumulate,
                lhs,
                (a_off, a_rs),
                &packed,
            );
        }
    });
    rows
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    /// `packed[p·16 + j] = rhs[p, j]` for `j < n`, zeros beyond.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn pack(
        n: usize,
        k: usize,
        rhs: &[f32],
        (off, rs, cs): (usize, usize, usize),
        packed: &mut [f32],
    ) {
        let mut p0 = 0;
        if rs == 1 {
            // `rhs` is `W.t()`: column j is row j of `W`, contiguous along k.
            // SAFETY (whole block): the caller keeps every index in `rhs`.
            unsafe {
                while p0 + 16 <= k {
                    let mut block = [_mm512_setzero_ps(); 16];
                    for (j, row) in block.iter_mut().enumerate().take(n) {
                        *row = _mm512_loadu_ps(rhs.as_ptr().add(off + j * cs + p0));
                    }
                    for (q, col) in transpose(block).into_iter().enumerate() {
                        _mm512_storeu_ps(packed.as_mut_ptr().add((p0 + q) * 16), col);
                    }
                    p0 += 16;
                }
            }
        }
        for p in p0..k {
            for j in 0..n {
                packed[p * 16 + j] = rhs[off + p * rs + j * cs];
            }
        }
    }

    /// The transpose of a 16×16 block held in 16 registers.
    #[inline(always)]
    unsafe fn transpose(r: [__m512; 16]) -> [__m512; 16] {
        let as_pd = _mm512_castps_pd;
        let as_ps = _mm512_castpd_ps;
        // Interleave neighbouring rows' 32-bit, then pairs' 64-bit elements.
        let t: [__m512; 16] = std::array::from_fn(|i| {
            let (a, b) = (r[i & !1], r[i | 1]);
            if i % 2 == 0 {
                _mm512_unpacklo_ps(a, b)
            } else {
                _mm512_unpackhi_ps(a, b)
            }
        });
        let u: [__m512; 16] = std::array::from_fn(|i| {
            let base = i / 4 * 4;
            let (a, c) = if i % 4 < 2 {
                (t[base], t[base + 2])
            } else {
                (t[base + 1], t[base + 3])
            };
            if i % 2 == 0 {
                as_ps(_mm512_unpacklo_pd(as_pd(a), as_pd(c)))
            } else {
                as_ps(_mm512_unpackhi_pd(as_pd(a), as_pd(c)))
            }
        });
        // Then 128-bit lanes: rows i and i + 4 within each half, then the halves.
        let v: [__m512; 16] = std::array::from_fn(|i| {
            let (g, q) = (i / 8 * 8, i % 8);
            let (a, b) = (u[g + q % 4], u[g + 4 + q % 4]);
            if q < 4 {
                _mm512_shuffle_f32x4::<0x88>(a, b)
            } else {
                _mm512_shuffle_f32x4::<0xDD>(a, b)
            }
        });
        std::array::from_fn(|i| {
            let (a, b) = (v[i % 8], v[8 + i % 8]);
            if i < 8 {
                _mm512_shuffle_f32x4::<0x88>(a, b)
            } else {
                _mm512_shuffle_f32x4::<0xDD>(a, b)
            }
        })
    }

    /// Blocks of 16 rows: 16 accumulators, one packed row and 16 broadcasts per
    /// step along k.
    #[target_feature(enable = "avx512f")]
    #[allow(clippy::too_many_arguments)]
    pub(super) unsafe fn rows(
        rows: usize,
        n: usize,
        k: usize,
        dst: *mut f32,
        dst_rs: usize,
        accumulate: bool,
        lhs: &[f32],
        (off, rs): (usize, usize),
        packed: &[f32],
    ) {
        let mask: u16 = if n >= 16 { u16::MAX } else { (1 << n) - 1 };
        // SAFETY (whole loop): the caller keeps every index inside `lhs` and
        // `dst`; `packed` holds k·16 elements.
        unsafe {
            for i in (0..rows).step_by(16) {
                let out = |r: usize| dst.add((i + r) * dst_rs);
                let mut acc: [__m512; 16] = std::array::from_fn(|r| {
                    if accumulate {
                        _mm512_maskz_loadu_ps(mask, out(r))
                    } else {
                        _mm512_setzero_ps()
                    }
                });
                let x = lhs.as_ptr().add(off + i * rs);
                for p in 0..k {
                    let w = _mm512_loadu_ps(packed.as_ptr().add(p * 16));
                    for (r, a) in acc.iter_mut().enumerate() {
                        *a = _mm512_fmadd_ps(_mm512_set1_ps(*x.add(r * rs + p)), w, *a);
                    }
                }
                for (r, a) in acc.into_iter().enumerate() {
                    _mm512_mask_storeu_ps(out(r), mask, a);
                }
            }
        }
    }
}
