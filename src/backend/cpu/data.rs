//! The CPU backend's batch assembly for image datasets: rows of uint8 pixels
//! gathered and converted to floats in one pass.

use std::mem::MaybeUninit;

use super::simd::simd_versions;
use crate::backend::View;
use crate::tensor::{Buffer, Element};

/// Rows `rows` of a contiguous `[N, ...]` uint8 view; with `steps`, as float32
/// through `(v - sub) / div` for each step in turn (ToTensor, Normalize), the
/// first step fused with the conversion.
pub(super) fn pixel_rows(data: View, rows: &[usize], steps: &[(f32, f32)]) -> Buffer {
    let n = data.shape().first().copied().unwrap_or(0);
    let total: usize = data.shape().iter().product();
    let px = total.checked_div(n).unwrap_or(0);
    let all = &data.data::<u8>()[data.layout.offset..data.layout.offset + total];
    let Some((&(sub, div), rest)) = steps.split_first() else {
        let mut out = Vec::with_capacity(rows.len() * px);
        for &i in rows {
            out.extend_from_slice(&all[i * px..(i + 1) * px]);
        }
        return u8::into_buffer(out);
    };
    let mut out: Vec<f32> = Vec::with_capacity(rows.len() * px);
    let dsts = out.spare_capacity_mut().chunks_exact_mut(px.max(1));
    for (k, (&i, dst)) in rows.iter().zip(dsts).enumerate() {
        if let Some(&ahead) = rows.get(k + 4) {
            prefetch(&all[ahead * px..(ahead + 1) * px]);
        }
        convert_row(&all[i * px..(i + 1) * px], dst, sub, div);
    }
    // SAFETY: `convert_row` wrote each of the `rows.len()` rows of `px`.
    unsafe { out.set_len(rows.len() * px) };
    for &(sub, div) in rest {
        out.iter_mut().for_each(|v| *v = (*v - sub) / div);
    }
    f32::into_buffer(out)
}

simd_versions! {
    /// `dst[i] = (src[i] - sub) / div`, written into uninitialised memory (the
    /// batch is never zeroed first); the portable build only has SSE2, whose
    /// division is a quarter as wide (NOTE(simd)).
    fn convert_row<>(src: &[u8], dst: &mut [MaybeUninit<f32>], sub: f32, div: f32) -> () {
        for (d, &b) in dst.iter_mut().zip(src) {
            d.write((b as f32 - sub) / div);
        }
    }
}

/// Asks the CPU to start loading a row that will be converted soon: rows of a
/// shuffled batch are scattered over 47 MB, and waiting for each one costs more
/// than converting it.
#[inline(always)]
fn prefetch(row: &[u8]) {
    #[cfg(target_arch = "x86_64")]
    for line in row.chunks(64) {
        // SAFETY: prefetching is a hint; it never faults and reads nothing.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                line.as_ptr().cast(),
            )
        };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = row;
}
