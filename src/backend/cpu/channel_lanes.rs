//! The float32 gradients of stride-1 convolutions on AVX-512 with channels
//! in the lanes: the weight gradient (the `cnn` model's conv1 and conv2 in
//! training) and the input gradient (its conv2).
//!
//! NOTE(channel-lanes): the weight gradient `dW[o, t] = Σ_p g[o, p] · x_t[p]`
//! (`t` a tap: an input channel and a kernel offset, `p` an output position)
//! is a matrix product whose inner dimension, the positions, is long (576
//! per image for conv2) and whose outer ones are short (64 × 288). The
//! 16-lane direct tile (NOTE(wide-direct-conv)) keeps positions in its
//! lanes, so each multiply-add needs a load of the gradient or of the input
//! for every two it does, half of them across cache lines, and it ran at a
//! third of the FMA peak. Here the lanes hold 16 output channels instead: a
//! tile keeps 4 registers of channels (64) × 6 taps in 24 accumulators, and
//! for each position loads 4 registers of the gradient, transposed to
//! `[position][channel]` once per image, and broadcasts each tap's input
//! value, read in place from the image (or its padded copy): 10 loads for
//! 24 multiply-adds, the shape of a matrix kernel's inner loop, with no
//! im2col copy to write or pack. It runs at about four fifths of the FMA
//! peak on its own, and conv2's weight gradient at batch 64 took half the
//! time of the 16-lane tile's. Positions are taken a few output rows at a
//! time (96 for conv2), whose transposed gradient stays in the first-level
//! cache while every tap passes over it.
//!
//! Each weight's gradient over such a block of positions is one chain of
//! multiply-adds from zero in position order; the blocks' sums are added in
//! order into the image's, and the images' into the total, each half of the
//! batch on its own (NOTE(conv-weight-grad)). So the numbers depend on the
//! shapes alone, never on the threads. One chain over all 576 of an image's
//! positions was measurably less accurate: `cnn-bn`'s parameters after three
//! Adadelta steps, which divide by the gradients' running size, then missed
//! PyTorch's by more than 1e-5.
//!
//! NOTE(channel-lanes-input-grad): the input gradient is a convolution too,
//! of the output gradient padded by `k − 1 − p`, with the kernel flipped and
//! its channel axes swapped: `dx[c, q] = Σ_{tap, o} w'[tap, o, c] ·
//! g_padded[o, q + tap]`. Its tile keeps 16 input channels a register (2
//! registers for conv2's 32) × 13 consecutive positions of a row (26
//! accumulators); each step loads the flipped weight's row and broadcasts 13
//! values of the padded gradient. The outputs come out `[position][channel]`
//! and are transposed into the image. A row that is not a whole number of
//! tiles ends on a tile that overlaps the one before (computing the same
//! values again). Each output sums the kernel's taps in order, each tap's
//! sum over the output channels one chain of multiply-adds from zero: the
//! grouping of im2col's product (over the channels) and col2im (over the
//! taps). This replaced that product, which wrote and reread the nine-fold
//! columns of each image; conv2's input gradient went from about 6.5 to 5.5
//! ms at batch 64.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use std::mem::MaybeUninit;

use super::direct_conv::{padded_size, rows_read, tap_offsets, wide_available};
use crate::backend::Conv2dGeometry;

/// Floats in an AVX-512 register: 16 output channels.
const LANES: usize = 16;
/// Registers of output channels in a full tile.
const BLOCK: usize = 4;
/// Taps one tile computes.
const TAPS: usize = 6;
/// Bytes of the transposed gradient a tile walks at a time (its rows for a
/// block of positions), to stay in the first-level cache.
const CHUNK_BYTES: usize = 24 * 1024;

/// Whether [`weight_grad`] computes `geo`'s weight gradient on this CPU:
/// stride 1, no dilation, one group, output channels in whole registers.
pub(super) fn weight_grad_applies(geo: &Conv2dGeometry) -> bool {
    geo.stride == [1, 1]
        && geo.dilation == [1, 1]
        && geo.groups == 1
        && geo.out[0] * geo.out[1] > 0
        && geo.out_channels > 0
        && geo.out_channels.is_multiple_of(LANES)
        && wide_available()
}

/// The weight gradient `[o, c · kh · kw]` of the convolution `geo` over
/// `images` of its input `x` and output gradient `g`, into `dw`
/// (overwritten): NOTE(channel-lanes).
pub(super) fn weight_grad(
    geo: &Conv2dGeometry,
    g: &[f32],
    x: &[f32],
    images: std::ops::Range<usize>,
    dw: &mut [f32],
) {
    let [_, c, ih, iw] = geo.input;
    let [kh, kw] = geo.kernel;
    let [oh, ow] = geo.out;
    let o = geo.out_channels;
    let taps = c * kh * kw;
    let plane = oh * ow;
    let padded = padded_size(geo);
    let [h, w] = padded.unwrap_or([ih, iw]);
    assert!(dw.len() == o * taps && g.len() >= images.end * o * plane);
    assert!(x.len() >= images.end * c * ih * iw);
    let offsets = tap_offsets(geo, [h, w]);
    // Whole output rows at a time.
    let rows_per_chunk = (CHUNK_BYTES / (4 * o * ow)).max(1);
    // Transposed: `[taps][o]`, the whole range's sums, and one image's.
    let mut total = vec![0.0f32; taps * o];
    let mut image_sums = vec![0.0f32; taps * o];
    let mut gt = Vec::with_capacity(plane * o);
    let mut scratch = Vec::new();
    for i in images {
        let image = &x[i * c * ih * iw..][..c * ih * iw];
        let source = rows_read(geo, image, padded, &mut scratch);
        assert!(source.len() >= c * h * w);
        gt.clear();
        transpose(
            &g[i * o * plane..][..o * plane],
            o,
            plane,
            &mut gt.spare_capacity_mut()[..o * plane],
        );
        // SAFETY: `transpose` wrote all o · plane elements.
        unsafe { gt.set_len(o * plane) };
        image_sums.fill(0.0);
        for y in (0..oh).step_by(rows_per_chunk) {
            let rows = rows_per_chunk.min(oh - y);
            let run = Run { o, rows, ow, w };
            for first in (0..o).step_by(BLOCK * LANES) {
                let block = ((o - first) / LANES).min(BLOCK);
                for t in (0..taps).step_by(TAPS) {
                    let kept = TAPS.min(taps - t);
                    // Taps past the last read the first again, into sums
                    // that are not stored.
                    let at =
                        std::array::from_fn(|k| offsets[t + if k < kept { k } else { 0 }] + y * w);
                    let gt = gt[y * ow * o + first..].as_ptr();
                    let sums = image_sums[t * o + first..].as_mut_ptr();
                    // SAFETY: `weight_grad_applies` checked AVX-512. The tile
                    // reads rows (y + 0..rows)·ow + 0..ow < plane of `gt`
                    // (plane · o), at columns first + 0..16·block ≤ o; each
                    // tap at at[k] + (0..rows)·w + 0..ow, at most offsets[t]
                    // + (oh - 1)·w + ow - 1 < (ci + 1)·h·w ≤ the rows read;
                    // and adds to image_sums[(t + k)·o + first + 0..16·block]
                    // for k < kept, t + k < taps.
                    unsafe {
                        let source = source.as_ptr();
                        match block {
                            4 => tile::<4>(gt, source, at, run, sums, kept),
                            3 => tile::<3>(gt, source, at, run, sums, kept),
                            2 => tile::<2>(gt, source, at, run, sums, kept),
                            _ => tile::<1>(gt, source, at, run, sums, kept),
                        }
                    }
                }
            }
        }
        for (sum, s) in total.iter_mut().zip(&image_sums) {
            *sum += *s;
        }
    }
    for (j, row) in dw.chunks_exact_mut(taps).enumerate() {
        for (t, d) in row.iter_mut().enumerate() {
            *d = total[t * o + j];
        }
    }
}

/// Positions a full input-gradient tile computes, by its registers of
/// channels (1 to 4).
const POSITIONS: [usize; 4] = [13, 13, 8, 6];

/// Whether [`input_grad`] computes `geo`'s input gradient on this CPU:
/// stride 1, no dilation, one group, input channels in whole registers, no
/// more padding than the kernel less one, and rows at least a tile wide.
pub(super) fn input_grad_applies(geo: &Conv2dGeometry) -> bool {
    let c = geo.input[1];
    geo.stride == [1, 1]
        && geo.dilation == [1, 1]
        && geo.groups == 1
        && c > 0
        && c.is_multiple_of(LANES)
        && geo.pad[0] < geo.kernel[0]
        && geo.pad[1] < geo.kernel[1]
        && geo.input[2] > 0
        && geo.input[3] >= POSITIONS[(c / LANES).min(BLOCK) - 1]
        && geo.out[0] * geo.out[1] > 0
        && wide_available()
}

/// The input gradient `[n, c, h, w]` of the convolution `geo` with `weight`
/// `[o, c, kh, kw]` and output gradient `g`, image by image into `dx`:
/// NOTE(channel-lanes-input-grad).
pub(super) fn input_grad(
    geo: &Conv2dGeometry,
    g: &[f32],
    weight: &[f32],
    images: std::ops::Range<usize>,
    dx: &mut [MaybeUninit<f32>],
) {
    let [_, c, ih, iw] = geo.input;
    let [kh, kw] = geo.kernel;
    let [oh, ow] = geo.out;
    let o = geo.out_channels;
    let plane = ih * iw;
    // The output gradient padded so that input position (y, x) reads it at
    // (y + ky, x + kx) for kernel offset (kh - 1 - ky, kw - 1 - kx).
    let [hp, wp] = [ih + kh - 1, iw + kw - 1];
    let [qy, qx] = [kh - 1 - geo.pad[0], kw - 1 - geo.pad[1]];
    assert!(oh + qy <= hp && ow + qx <= wp);
    assert!(g.len() >= images.end * o * oh * ow && weight.len() == o * c * kh * kw);
    assert!(dx.len() == images.len() * c * plane);
    // The flipped weight, `[ky][kx][o][c]`, and where each of its rows reads:
    // the sums run tap by tap (NOTE(channel-lanes-input-grad)).
    let mut flipped = vec![0.0f32; o * kh * kw * c];
    let mut steps = Vec::with_capacity(o * kh * kw);
    for ky in 0..kh {
        for kx in 0..kw {
            for oo in 0..o {
                let row = (ky * kw + kx) * o + oo;
                for ci in 0..c {
                    flipped[row * c + ci] =
                        weight[((oo * c + ci) * kh + kh - 1 - ky) * kw + kw - 1 - kx];
                }
                steps.push(oo * hp * wp + ky * wp + kx);
            }
        }
    }
    let block = (c / LANES).min(BLOCK);
    let tile_width = POSITIONS[block - 1];
    // Each row's tiles: every `tile_width`th column, and one that ends with
    // the row (overlapping the one before, computing the same values again).
    let starts: Vec<usize> = (0..iw / tile_width)
        .map(|t| t * tile_width)
        .chain((!iw.is_multiple_of(tile_width)).then_some(iw - tile_width))
        .collect();
    let mut padded = vec![0.0f32; o * hp * wp];
    let mut out = vec![0.0f32; plane * c];
    for (i, dst) in images.zip(dx.chunks_exact_mut(c * plane)) {
        let grad = &g[i * o * oh * ow..][..o * oh * ow];
        for (plane_out, plane_in) in padded
            .chunks_exact_mut(hp * wp)
            .zip(grad.chunks_exact(oh * ow))
        {
            for (y, row) in plane_in.chunks_exact(ow).enumerate() {
                plane_out[(y + qy) * wp + qx..][..ow].copy_from_slice(row);
            }
        }
        for y in 0..ih {
            for &x in &starts {
                for first in (0..c).step_by(block * LANES) {
                    let rows = ((c - first) / LANES).min(block);
                    let source = padded[y * wp + x..].as_ptr();
                    let weights = flipped[first..].as_ptr();
                    let at = out[(y * iw + x) * c + first..].as_mut_ptr();
                    // SAFETY: `input_grad_applies` checked AVX-512. The tile
                    // reads flipped[s·c + first + 0..16·rows] for s < o·kh·kw
                    // (inside `flipped`), padded[steps[s] + y·wp + x + 0..T]
                    // with x + T ≤ iw, so at most (o-1)·hp·wp + (kh-1 + ih-1)·wp
                    // + kw-1 + iw-1 < o·hp·wp; it writes out[(y·iw + x + n)·c
                    // + first + 0..16·rows] for n < T, inside `out` (plane·c).
                    unsafe {
                        match (block, rows) {
                            (4, 4) => grad_tile::<4, 6>(weights, c, source, &steps, o, at),
                            (4, 3) => grad_tile::<3, 6>(weights, c, source, &steps, o, at),
                            (4, 2) => grad_tile::<2, 6>(weights, c, source, &steps, o, at),
                            (4, _) => grad_tile::<1, 6>(weights, c, source, &steps, o, at),
                            (3, _) => grad_tile::<3, 8>(weights, c, source, &steps, o, at),
                            (2, _) => grad_tile::<2, 13>(weights, c, source, &steps, o, at),
                            (_, _) => grad_tile::<1, 13>(weights, c, source, &steps, o, at),
                        }
                    }
                }
            }
        }
        transpose(&out, plane, c, dst);
    }
}

/// Writes `out[n · c + 16m + lane]` (n < `T`, m < `R`): the sums over the
/// steps `s` of `weights[s · c + 16m + lane] · source[steps[s] + n]`, taken
/// `o` steps (one kernel tap) at a time: each tap's sum is one chain of
/// multiply-adds from zero, and the taps' sums are added in order
/// (NOTE(channel-lanes-input-grad)).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::needless_range_loop)]
unsafe fn grad_tile<const R: usize, const T: usize>(
    weights: *const f32,
    c: usize,
    source: *const f32,
    steps: &[usize],
    o: usize,
    out: *mut f32,
) {
    // Plain index loops (NOTE(kernel-loops)).
    for tap in 0..steps.len() / o {
        let mut acc = [[_mm512_setzero_ps(); T]; R];
        for s in tap * o..(tap + 1) * o {
            let mut rows = [_mm512_setzero_ps(); R];
            for m in 0..R {
                rows[m] = _mm512_loadu_ps(weights.add(s * c + m * LANES));
            }
            let at = source.add(steps[s]);
            for n in 0..T {
                let value = _mm512_set1_ps(*at.add(n));
                for m in 0..R {
                    acc[m][n] = _mm512_fmadd_ps(rows[m], value, acc[m][n]);
                }
            }
        }
        for n in 0..T {
            for m in 0..R {
                let at = out.add(n * c + m * LANES);
                let sum = if tap == 0 {
                    acc[m][n]
                } else {
                    _mm512_add_ps(_mm512_loadu_ps(at), acc[m][n])
                };
                _mm512_storeu_ps(at, sum);
            }
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn grad_tile<const R: usize, const T: usize>(
    _: *const f32,
    _: usize,
    _: *const f32,
    _: &[usize],
    _: usize,
    _: *mut f32,
) {
    unreachable!("input_grad_applies is false off x86-64")
}

/// The positions a [`tile`] walks: `rows` output rows of `ow`, the
/// transposed gradient's rows `o` floats apart, the input's rows `w` apart.
#[derive(Clone, Copy)]
struct Run {
    o: usize,
    rows: usize,
    ow: usize,
    w: usize,
}

/// `dst[j · rows + i] = src[i · cols + j]`: `src` `[rows][cols]` as
/// `[cols][rows]`, 16 × 16 blocks at a time. Writes every element of `dst`.
fn transpose(src: &[f32], rows: usize, cols: usize, dst: &mut [MaybeUninit<f32>]) {
    assert!(src.len() == rows * cols && dst.len() == rows * cols);
    let [whole_rows, whole_cols] = [rows - rows % LANES, cols - cols % LANES];
    let out = dst.as_mut_ptr().cast::<f32>();
    for i in (0..whole_rows).step_by(LANES) {
        for j in (0..whole_cols).step_by(LANES) {
            // SAFETY: AVX-512 was checked by the caller's `applies`; the
            // block reads src rows i..i + 16 ≤ rows at columns j..j + 16 ≤
            // cols and writes dst rows j..j + 16 at columns i..i + 16, inside
            // `dst` (rows · cols).
            #[cfg(target_arch = "x86_64")]
            unsafe {
                transpose_block(
                    src[i * cols + j..].as_ptr(),
                    cols,
                    out.add(j * rows + i),
                    rows,
                );
            }
        }
    }
    for i in 0..rows {
        let first = if i < whole_rows { whole_cols } else { 0 };
        for j in first..cols {
            dst[j * rows + i] = MaybeUninit::new(src[i * cols + j]);
        }
    }
}

/// Transposes the 16 × 16 block at `src` (rows `stride` apart) into `dst`
/// (rows `dst_stride` apart). Not small_gemm's transpose, whose
/// `array::from_fn` closures do not inherit `target_feature`: called from
/// here they were not inlined, and a `cnn` training step took 34 ms instead
/// of 25 (NOTE(kernel-loops)).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::needless_range_loop)]
unsafe fn transpose_block(src: *const f32, stride: usize, dst: *mut f32, dst_stride: usize) {
    let mut r = [_mm512_setzero_ps(); 16];
    for i in 0..16 {
        r[i] = _mm512_loadu_ps(src.add(i * stride));
    }
    // Pairs of rows interleaved, then fours: u[4q + k] holds columns k, k + 4,
    // k + 8, k + 12 of rows 4q..4q + 4, a 128-bit lane each.
    let mut t = [_mm512_setzero_ps(); 16];
    for i in 0..8 {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    let mut u = [_mm512_setzero_ps(); 16];
    for q in 0..4 {
        let (lo0, hi0, lo1, hi1) = (t[4 * q], t[4 * q + 1], t[4 * q + 2], t[4 * q + 3]);
        u[4 * q] = _mm512_shuffle_ps::<0x44>(lo0, lo1);
        u[4 * q + 1] = _mm512_shuffle_ps::<0xEE>(lo0, lo1);
        u[4 * q + 2] = _mm512_shuffle_ps::<0x44>(hi0, hi1);
        u[4 * q + 3] = _mm512_shuffle_ps::<0xEE>(hi0, hi1);
    }
    // Then the 128-bit lanes: v[k] (rows 0..8) and v[8 + k] (rows 8..16)
    // hold columns k and k + 8 (k < 4), or k and k + 8 shifted by 4.
    let mut v = [_mm512_setzero_ps(); 16];
    for k in 0..4 {
        v[k] = _mm512_shuffle_f32x4::<0x88>(u[k], u[4 + k]);
        v[4 + k] = _mm512_shuffle_f32x4::<0xDD>(u[k], u[4 + k]);
        v[8 + k] = _mm512_shuffle_f32x4::<0x88>(u[8 + k], u[12 + k]);
        v[12 + k] = _mm512_shuffle_f32x4::<0xDD>(u[8 + k], u[12 + k]);
    }
    for k in 0..8 {
        let column = _mm512_shuffle_f32x4::<0x88>(v[k], v[8 + k]);
        let shifted = _mm512_shuffle_f32x4::<0xDD>(v[k], v[8 + k]);
        _mm512_storeu_ps(dst.add(k * dst_stride), column);
        _mm512_storeu_ps(dst.add((k + 8) * dst_stride), shifted);
    }
}

/// Adds to `sums[k · o + 16m + lane]` (k < `kept`, m < `R`) the sums over
/// the run's positions `(y, x)` of `gt[(y · ow + x) · o + 16m + lane] ·
/// source[at[k] + y · w + x]`, each one chain of multiply-adds from zero in
/// position order (NOTE(channel-lanes)).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::needless_range_loop)]
unsafe fn tile<const R: usize>(
    gt: *const f32,
    source: *const f32,
    at: [usize; TAPS],
    run: Run,
    sums: *mut f32,
    kept: usize,
) {
    let o = run.o;
    let mut acc = [[_mm512_setzero_ps(); TAPS]; R];
    // Plain index loops (NOTE(kernel-loops)).
    for y in 0..run.rows {
        let gt = gt.add(y * run.ow * o);
        let source = source.add(y * run.w);
        for x in 0..run.ow {
            let mut rows = [_mm512_setzero_ps(); R];
            for m in 0..R {
                rows[m] = _mm512_loadu_ps(gt.add(x * o + m * LANES));
            }
            for k in 0..TAPS {
                let value = _mm512_set1_ps(*source.add(at[k] + x));
                for m in 0..R {
                    acc[m][k] = _mm512_fmadd_ps(rows[m], value, acc[m][k]);
                }
            }
        }
    }
    for k in 0..kept {
        for m in 0..R {
            let at = sums.add(k * o + m * LANES);
            _mm512_storeu_ps(at, _mm512_add_ps(_mm512_loadu_ps(at), acc[m][k]));
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn tile<const R: usize>(
    _: *const f32,
    _: *const f32,
    _: [usize; TAPS],
    _: Run,
    _: *mut f32,
    _: usize,
) {
    unreachable!("weight_grad_applies is false off x86-64")
}
