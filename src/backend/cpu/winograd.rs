//! Winograd's minimal filtering F(2×2, 3×3) on AVX-512: float32 3×3
//! convolutions of stride 1 with at least 8 input channels and output
//! channels in blocks of 8 (the `cnn` model's conv2, and for inference its
//! whole `conv → ReLU → max_pool2d(2)` block).
//!
//! NOTE(winograd): a 3×3 convolution computes each 2×2 block of outputs from
//! the 4×4 block of inputs under it. Winograd's F(2×2, 3×3) (Lavin and Gray,
//! 2015) turns that into 16 products per input channel instead of 36: with
//! `U = G g Gᵀ` for each 3×3 filter `g` (4×4, computed once per call), `V =
//! Bᵀ d B` for each 4×4 input block `d` (additions only), the sixteen
//! elementwise sums `M[ξ] = Σ_c U[ξ] · V[ξ]` over the input channels, and the
//! outputs `Y = Aᵀ M A` (additions only). For inference those 2×2 outputs
//! are exactly a `max_pool2d(2)` window, so the tile adds the bias, applies
//! ReLU and keeps the window's maximum before anything is stored.
//!
//! The sums over the channels are matrix products, one per `ξ`: for 8 output
//! channels and 16 or 32 tiles (one or two AVX-512 registers of tiles), each
//! channel's step is one or two loads of `V` and eight broadcast weights. A
//! tile's outputs are computed from its own inputs alone, so the numbers do
//! not depend on the threads, on the batch, or on where an image sits in it.
//!
//! The price is rounding: the outputs are not the bits of the direct or the
//! unfolded convolution (whose sums run tap by tap), but they agree with a
//! float64 convolution to float32 precision
//! (`winograd_agrees_with_a_float64_convolution`: within 2·10⁻⁷ of the
//! largest sum of the terms' magnitudes; the transforms use only additions,
//! subtractions and halvings, which keep F(2×2, 3×3)'s error within a few
//! times the direct sum's). oneDNN and cuDNN offer the same trade in their
//! Winograd convolutions. The same kernel runs for training and for inference, so a
//! model's outputs do not depend on whether a gradient is recorded. Where
//! this CPU has no AVX-512 (or the shape does not fit), the direct kernel and
//! im2col run, with their own bits. A non-finite input spreads over its 4×4
//! blocks: every output of a tile that reads a NaN or an infinity is NaN
//! (the direct sum would keep the outputs whose 3×3 windows miss it).
//!
//! The input gradient is one such convolution too (of the output's
//! gradient padded by `2 − p`, with the weight flipped and its channels
//! swapped), but there, for conv2's 64 channels into 32, this kernel was no
//! faster than im2col's matrix product and col2im (BENCHMARKS.md); it runs
//! on the channel-lanes kernel (NOTE(channel-lanes-input-grad)).

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use std::mem::MaybeUninit;
use std::ops::Range;
use std::sync::{Arc, Mutex};

use super::direct_conv::{padded_size, rows_read};
use crate::backend::Conv2dGeometry;

/// Floats in an AVX-512 register: 16 tiles.
const LANES: usize = 16;
/// Output channels one tile computes.
const BLOCK: usize = 8;
/// The fewest input channels for which the transforms pay.
const MIN_CHANNELS: usize = 8;

/// Whether this CPU has AVX-512 (and the AVX2 and FMA the padding copy and
/// the transforms may use).
pub(super) fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// Whether [`Winograd`] computes `conv(geo)` (or `conv(geo) → ReLU →
/// max_pool2d(2)`) on this CPU: a 3×3 kernel, stride 1, no dilation, one group, at least 8 input
/// channels, output channels in blocks of 8, and an even number of output
/// rows and columns (whole 2×2 tiles).
pub(super) fn applies(geo: &Conv2dGeometry) -> bool {
    let [oh, ow] = geo.out;
    geo.kernel == [3, 3]
        && geo.stride == [1, 1]
        && geo.dilation == [1, 1]
        && geo.groups == 1
        && geo.input[1] >= MIN_CHANNELS
        && geo.out_channels > 0
        && geo.out_channels.is_multiple_of(BLOCK)
        && oh >= 2
        && ow >= 2
        && oh.is_multiple_of(2)
        && ow.is_multiple_of(2)
        && available()
}

/// The size of one output plane: `oh · ow`, or pooled, one value per 2×2
/// tile.
pub(super) fn plane(geo: &Conv2dGeometry, pooled: bool) -> usize {
    let [oh, ow] = geo.out;
    if pooled {
        oh / 2 * (ow / 2)
    } else {
        oh * ow
    }
}

/// The transformed filters of some output channel blocks, and the sizes
/// every image of a call shares.
pub(super) struct Winograd<'a> {
    geo: &'a Conv2dGeometry,
    /// `U = G g Gᵀ` block by block, each `[16][c][BLOCK]`: a channel's
    /// sixteen weights for the block's eight filters adjacent.
    packed: Arc<Vec<f32>>,
    /// Whether each tile's four outputs are finished by ReLU and their
    /// maximum (`max_pool2d(2)`), or stored.
    pooled: bool,
    /// The size of the padded copy the transform reads, if it reads one.
    padded: Option<[usize; 2]>,
    /// Rows and columns of what it reads: `oh + 2`, `ow + 2`.
    h: usize,
    w: usize,
    /// Tiles per row and per column.
    tw: usize,
    th: usize,
}

/// Buffers an image's transform reuses: the padded copy, `V`
/// (`[16][c][stride]`, written by the transform before the tiles read it),
/// and unpooled, a block's outputs tile by tile (`[BLOCK][4][stride]`).
#[derive(Default)]
pub(super) struct Scratch {
    padded: Vec<f32>,
    v: Vec<MaybeUninit<f32>>,
    /// The tiles `v` was laid out for.
    tiles: usize,
    y: Vec<f32>,
}

impl<'a> Winograd<'a> {
    /// The plan for `weight` (`[o, c, 3, 3]`), pooled or not.
    pub(super) fn new(weight: &[f32], geo: &'a Conv2dGeometry, pooled: bool) -> Self {
        let packed = transformed_filters(weight, geo.input[1]);
        let [oh, ow] = geo.out;
        let (th, tw) = (oh / 2, ow / 2);
        Winograd {
            geo,
            packed,
            pooled,
            padded: padded_size(geo),
            h: oh + 2,
            w: ow + 2,
            tw,
            th,
        }
    }

    /// One image `[c, h, w]`: tile rows `rows` (output rows `2 · rows`) of
    /// `conv(image) + bias`, or of `relu(conv(image) + bias)` pooled 2×2,
    /// for every output channel, into `out`, which holds the image's output
    /// planes: every element of those rows is written, nothing else. Pooled,
    /// a non-null `indices` (laid out as the pooled planes) gets where in
    /// its 2×2 window each maximum was: 0 to 3 in row-major order, the
    /// first of equal values, as `max_pool2d` has it
    /// (NOTE(conv-relu-pool-training)).
    ///
    /// # Safety
    ///
    /// `out` must be valid for writes of `o` planes of [`plane`] floats, and
    /// no one else may read or write those rows of them meanwhile; a
    /// non-null `indices` likewise for `o` planes of [`plane`] bytes.
    pub(super) unsafe fn image(
        &self,
        image: &[f32],
        bias: Option<&[f32]>,
        rows: Range<usize>,
        scratch: &mut Scratch,
        out: *mut f32,
        indices: *mut u8,
    ) {
        let c = self.geo.input[1];
        let (h, w, tw) = (self.h, self.w, self.tw);
        assert!(rows.end <= self.th);
        let source = rows_read(self.geo, image, self.padded, &mut scratch.padded);
        assert!(source.len() >= c * h * w);
        let plane = plane(self.geo, self.pooled);
        let blocks = self.geo.out_channels / BLOCK;
        assert!(self.packed.len() >= blocks * 16 * c * BLOCK);
        // This call's tiles, and `V`'s rows rounded up to whole registers.
        let tiles = rows.len() * tw;
        let stride = tiles.div_ceil(LANES) * LANES;
        if !self.pooled {
            scratch.y.resize(BLOCK * 4 * stride, 0.0);
        }
        // Sized once per scratch (and size), and not zeroed: the transform
        // writes the first `tiles` elements of each of its `16 · c` rows, and
        // the rest are set to 0 here.
        let len = 16 * c * stride;
        if scratch.v.len() != len || scratch.tiles != tiles {
            scratch.v.clear();
            scratch.v.reserve_exact(len);
            // SAFETY: the capacity is `len`, and `MaybeUninit` needs no
            // initialisation.
            unsafe { scratch.v.set_len(len) };
            for row in scratch.v.chunks_exact_mut(stride) {
                row[tiles..].fill(MaybeUninit::new(0.0));
            }
            scratch.tiles = tiles;
        }
        let v = scratch.v.as_mut_ptr() as *mut f32;
        for ci in 0..c {
            // The input rows under tile rows `rows`.
            let plane = &source[ci * h * w + 2 * rows.start * w..][..(2 * rows.len() + 2) * w];
            // SAFETY: `applies` checked AVX-512; `transform_input` writes the
            // `tiles` first elements of channel ci's row of each ξ, inside `V`
            // (`16 · c · stride`, and `tiles <= stride`).
            unsafe { transform_input(plane, w, rows.len(), tw, v.add(ci * stride), c * stride) };
        }
        let v = v as *const f32;
        for block in 0..blocks {
            let u = self.packed[block * 16 * c * BLOCK..][..16 * c * BLOCK].as_ptr();
            let bias = bias.map(|bias| &bias[block * BLOCK..][..BLOCK]);
            let y = scratch.y.as_mut_ptr();
            let mut t0 = 0;
            while t0 < tiles {
                let shape = Tiles {
                    c,
                    stride,
                    plane,
                    valid: tiles - t0,
                };
                let two = stride - t0 >= 2 * LANES;
                // SAFETY: `applies` checked AVX-512. The kernel reads `V` at
                // ξ·c·stride + ci·stride + t0 + 0..16·R for ξ < 16, ci < c, and
                // t0 + 16·R <= stride (whole registers below `stride`); the
                // weights, `16 · c · BLOCK` of them. Pooled, it writes for
                // j < BLOCK the `valid.min(16·R)` outputs from tile
                // rows.start·tw + t0 of channel block·BLOCK + j's plane, this
                // call's rows of `out` (the caller's promise); else it writes
                // (4·j + k)·stride + t0 + 0..16·R of `y`, which holds
                // `BLOCK · 4 · stride`.
                unsafe {
                    let first = block * BLOCK * plane + rows.start * tw + t0;
                    let at = out.add(first);
                    let none = std::ptr::null_mut();
                    match (self.pooled, two, indices.is_null()) {
                        (true, true, true) => tile::<2, POOL>(v.add(t0), u, bias, at, none, shape),
                        (true, false, true) => tile::<1, POOL>(v.add(t0), u, bias, at, none, shape),
                        (true, true, false) => {
                            tile::<2, ARGMAX>(v.add(t0), u, bias, at, indices.add(first), shape)
                        }
                        (true, false, false) => {
                            tile::<1, ARGMAX>(v.add(t0), u, bias, at, indices.add(first), shape)
                        }
                        (false, true, _) => {
                            tile::<2, STORE>(v.add(t0), u, bias, y.add(t0), none, shape)
                        }
                        (false, false, _) => {
                            tile::<1, STORE>(v.add(t0), u, bias, y.add(t0), none, shape)
                        }
                    }
                }
                t0 += if two { 2 * LANES } else { LANES };
            }
            if !self.pooled {
                assert!(scratch.y.len() >= BLOCK * 4 * stride);
                // SAFETY: `applies` checked AVX-512; `interleave_rows` reads
                // (4·j + k)·stride + ty·tw + 0..tw of `y` for ty < rows.len()
                // (below BLOCK·4·stride, as rows.len()·tw <= stride) and writes
                // output rows 2·rows of the block's `BLOCK` planes of `out`
                // (the caller's promise).
                unsafe {
                    let planes = out.add(block * BLOCK * plane + 2 * rows.start * 2 * tw);
                    interleave_rows(scratch.y.as_ptr(), planes, tw, rows.len(), stride, plane);
                }
            }
        }
    }
}

/// A block's outputs, tile by tile in `y` (`[BLOCK][4][stride]`, the four of
/// a tile at `(2·ty + p, 2·tx + q)` for `k = 2·p + q`), into the rows they
/// fill of its `BLOCK` planes (`plane` apart) from `out`: for each tile row,
/// the left and right outputs of its tiles (up to 16 at a time) zipped.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn interleave_rows(
    y: *const f32,
    out: *mut f32,
    tw: usize,
    th: usize,
    stride: usize,
    plane: usize,
) {
    let low = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    let high = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    let first = |n: usize| -> __mmask16 { ((1u32 << n.min(LANES)) - 1) as __mmask16 };
    let ow = 2 * tw;
    for j in 0..BLOCK {
        let plane = out.add(j * plane);
        for ty in 0..th {
            for p in 0..2 {
                let row = plane.add((2 * ty + p) * ow);
                let left = y.add((4 * j + 2 * p) * stride + ty * tw);
                let right = y.add((4 * j + 2 * p + 1) * stride + ty * tw);
                let mut tx0 = 0;
                while tx0 < tw {
                    let k = (tw - tx0).min(LANES);
                    let l = _mm512_maskz_loadu_ps(first(k), left.add(tx0));
                    let r = _mm512_maskz_loadu_ps(first(k), right.add(tx0));
                    let at = row.add(2 * tx0);
                    _mm512_mask_storeu_ps(at, first(2 * k), _mm512_permutex2var_ps(l, low, r));
                    if k > LANES / 2 {
                        let rest = first(2 * k - LANES);
                        _mm512_mask_storeu_ps(
                            at.add(LANES),
                            rest,
                            _mm512_permutex2var_ps(l, high, r),
                        );
                    }
                    tx0 += LANES;
                }
            }
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn interleave_rows(_: *const f32, _: *mut f32, _: usize, _: usize, _: usize, _: usize) {
    unreachable!("`applies` is false off x86-64")
}

/// One row of pooled windows' gradient (NOTE(conv-relu-pool-training)):
/// for each of the `pw` windows, `g` at its maximum's place (`indices`, 0
/// to 3 row-major) when the maximum `pooled` is positive, zero at the other
/// three, into the two output rows `top` and `bottom` (`2 · pw` each).
///
/// # Safety
///
/// AVX-512 must be available (as [`applies`] checks); `g`, `pooled` and
/// `indices` must hold `pw` values, and `top` and `bottom` be valid for
/// writes of `2 · pw` floats.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn relu_pool2_grad_row(
    g: *const f32,
    pooled: *const f32,
    indices: *const u8,
    pw: usize,
    top: *mut f32,
    bottom: *mut f32,
) {
    let low = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    let high = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
    let first = |n: usize| -> __mmask16 { ((1u32 << n.min(LANES)) - 1) as __mmask16 };
    let zero = _mm512_setzero_ps();
    let mut t0 = 0;
    while t0 < pw {
        let k = (pw - t0).min(LANES);
        let m = first(k);
        let gv = _mm512_maskz_loadu_ps(m, g.add(t0));
        let best = _mm512_maskz_loadu_ps(m, pooled.add(t0));
        let at = _mm512_cvtepu8_epi32(prefix_bytes(m, indices.add(t0)));
        // ReLU passes the gradient where its output is positive.
        let v = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask::<_CMP_GT_OQ>(best, zero), gv);
        let place =
            |p: i32| _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(at, _mm512_set1_epi32(p)), v);
        for (row, [left, right]) in [(top, [place(0), place(1)]), (bottom, [place(2), place(3)])] {
            let out = row.add(2 * t0);
            _mm512_mask_storeu_ps(out, first(2 * k), _mm512_permutex2var_ps(left, low, right));
            if k > LANES / 2 {
                let rest = first(2 * k - LANES);
                _mm512_mask_storeu_ps(
                    out.add(LANES),
                    rest,
                    _mm512_permutex2var_ps(left, high, right),
                );
            }
        }
        t0 += LANES;
    }
}

/// The first `k` (a prefix mask) of 16 bytes from `p`, the rest zero, with
/// AVX-512F alone: the bytes are copied into a register's worth first.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn prefix_bytes(m: __mmask16, p: *const u8) -> __m128i {
    let mut bytes = [0u8; 16];
    let count = (m as u32).count_ones() as usize;
    std::ptr::copy_nonoverlapping(p, bytes.as_mut_ptr(), count);
    _mm_loadu_si128(bytes.as_ptr() as *const __m128i)
}

#[cfg(not(target_arch = "x86_64"))]
pub(super) unsafe fn relu_pool2_grad_row(
    _: *const f32,
    _: *const f32,
    _: *const u8,
    _: usize,
    _: *mut f32,
    _: *mut f32,
) {
    unreachable!("`applies` is false off x86-64")
}

/// NOTE(winograd-filter-cache): transforming conv2's filters takes about
/// as long as a quarter of one image's products (18 µs), and inference
/// calls with the same weights every time. The last few transforms are kept
/// with the weights' bits and input channel count they came from, and a
/// call whose weight has exactly those bits (compared in full, about 2 µs)
/// reuses them. Weights over a million floats are not kept.
static FILTERS: Mutex<Vec<Transformed>> = Mutex::new(Vec::new());
/// A kept transform: the input channels and the weight's bits it came from.
type Transformed = (usize, Vec<u32>, Arc<Vec<f32>>);
/// How many transforms [`FILTERS`] keeps, and the largest weight it keeps.
const CACHED: usize = 4;
const MAX_CACHED: usize = 1 << 20;

/// `U` for every block of `weight` (`[o, c, 3, 3]`), as [`Winograd::packed`]
/// holds it: from [`FILTERS`] when the same weight was transformed lately.
fn transformed_filters(weight: &[f32], c: usize) -> Arc<Vec<f32>> {
    let fresh = || {
        let mut packed = vec![0.0; weight.len() / 9 * 16];
        for (block, filters) in packed
            .chunks_exact_mut(16 * c * BLOCK)
            .zip(weight.chunks_exact(BLOCK * c * 9))
        {
            // SAFETY: `applies` checked AVX-512.
            unsafe { transform_filters(filters, c, block) };
        }
        Arc::new(packed)
    };
    if weight.len() > MAX_CACHED {
        return fresh();
    }
    let same = |(channels, bits, _): &Transformed| {
        *channels == c
            && bits.len() == weight.len()
            && bits.iter().zip(weight).all(|(b, w)| *b == w.to_bits())
    };
    // A poisoned lock only loses the cache.
    if let Ok(cache) = FILTERS.lock() {
        if let Some((_, _, packed)) = cache.iter().find(|entry| same(entry)) {
            return packed.clone();
        }
    }
    let packed = fresh();
    if let Ok(mut cache) = FILTERS.lock() {
        if cache.len() == CACHED {
            cache.remove(0);
        }
        cache.push((
            c,
            weight.iter().map(|w| w.to_bits()).collect(),
            packed.clone(),
        ));
    }
    packed
}

/// `U = G g Gᵀ` of a block's filters `[BLOCK, c, 3, 3]` into `block`
/// (`[16][c][BLOCK]`), in float64 and rounded once: `G = [1 0 0; ½ ½ ½;
/// ½ −½ ½; 0 0 1]`. The block's eight filters of a channel at a time, one
/// per lane.
#[cfg_attr(target_arch = "x86_64", target_feature(enable = "avx512f"))]
#[allow(clippy::needless_range_loop)]
fn transform_filters(filters: &[f32], c: usize, block: &mut [f32]) {
    type Lanes = [f64; BLOCK];
    // G applied to a column (or a row) of three.
    let apply = |a: &Lanes, b: &Lanes, c: &Lanes| {
        let mut out = [[0.0; BLOCK]; 4];
        // Plain index loops (NOTE(kernel-loops)).
        for j in 0..BLOCK {
            out[0][j] = a[j];
            out[1][j] = (a[j] + b[j] + c[j]) / 2.0;
            out[2][j] = (a[j] - b[j] + c[j]) / 2.0;
            out[3][j] = c[j];
        }
        out
    };
    let block = &mut block[..16 * c * BLOCK];
    for ci in 0..c {
        let mut g = [[0.0; BLOCK]; 9];
        for j in 0..BLOCK {
            let filter = &filters[(j * c + ci) * 9..][..9];
            for t in 0..9 {
                g[t][j] = f64::from(filter[t]);
            }
        }
        let columns = [0, 1, 2].map(|x| apply(&g[x], &g[3 + x], &g[6 + x]));
        for i in 0..4 {
            let row = apply(&columns[0][i], &columns[1][i], &columns[2][i]);
            for (jj, lanes) in row.iter().enumerate() {
                let dst = &mut block[((4 * i + jj) * c + ci) * BLOCK..][..BLOCK];
                for j in 0..BLOCK {
                    dst[j] = lanes[j] as f32;
                }
            }
        }
    }
}

/// One channel's `V = Bᵀ d B` for every tile, `Bᵀ = [1 0 −1 0; 0 1 1 0;
/// 0 −1 1 0; 0 1 0 −1]`, into `v` at `ξ · xi_stride + tile`: up to 16 tiles
/// of a row of tiles at a time, their four input rows each split into the
/// columns `2x`, `2x + 1`, `2x + 2` and `2x + 3`, transformed across, then
/// down.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::needless_range_loop)]
unsafe fn transform_input(
    plane: &[f32],
    w: usize,
    th: usize,
    tw: usize,
    v: *mut f32,
    xi_stride: usize,
) {
    assert!(plane.len() >= (2 * th + 2) * w && w >= 2 * tw + 2);
    let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    let odd = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    // The first `n` lanes (all from 16 up).
    let first = |n: usize| -> __mmask16 { ((1u32 << n.min(LANES)) - 1) as __mmask16 };
    let mut tx0 = 0;
    while tx0 < tw {
        let k = (tw - tx0).min(LANES);
        // Tiles tx0 .. tx0 + k read columns 2·tx0 .. 2·(tx0 + k) + 2 of
        // their rows; the masked loads read nothing past them (and the
        // addresses of their upper halves, which may lie past the plane's
        // end when nothing is read there, are computed with `wrapping_add`).
        let across = |r: usize| {
            let at = plane.as_ptr().add(r * w + 2 * tx0);
            let n = 2 * k + 2;
            let lo = _mm512_maskz_loadu_ps(first(n), at);
            let hi = _mm512_maskz_loadu_ps(first(n.saturating_sub(16)), at.wrapping_add(16));
            let lo2 = _mm512_maskz_loadu_ps(first(n - 2), at.add(2));
            let hi2 = _mm512_maskz_loadu_ps(first((n - 2).saturating_sub(16)), at.wrapping_add(18));
            let x0 = _mm512_permutex2var_ps(lo, even, hi);
            let x1 = _mm512_permutex2var_ps(lo, odd, hi);
            let x2 = _mm512_permutex2var_ps(lo2, even, hi2);
            let x3 = _mm512_permutex2var_ps(lo2, odd, hi2);
            [
                _mm512_sub_ps(x0, x2),
                _mm512_add_ps(x1, x2),
                _mm512_sub_ps(x2, x1),
                _mm512_sub_ps(x1, x3),
            ]
        };
        let mask = first(k);
        // Each input row across once: tile row ty reads rows 2·ty .. 2·ty + 4,
        // the first two of them the last two of the tile row before.
        let (mut r0, mut r1) = (across(0), across(1));
        for ty in 0..th {
            let (r2, r3) = (across(2 * ty + 2), across(2 * ty + 3));
            let out = v.add(ty * tw + tx0);
            for j in 0..4 {
                let [a, b, c, d] = [r0[j], r1[j], r2[j], r3[j]];
                _mm512_mask_storeu_ps(out.add(j * xi_stride), mask, _mm512_sub_ps(a, c));
                _mm512_mask_storeu_ps(out.add((4 + j) * xi_stride), mask, _mm512_add_ps(b, c));
                _mm512_mask_storeu_ps(out.add((8 + j) * xi_stride), mask, _mm512_sub_ps(c, b));
                _mm512_mask_storeu_ps(out.add((12 + j) * xi_stride), mask, _mm512_sub_ps(b, d));
            }
            (r0, r1) = (r2, r3);
        }
        tx0 += LANES;
    }
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn transform_input(_: &[f32], _: usize, _: usize, _: usize, _: *mut f32, _: usize) {
    unreachable!("`applies` is false off x86-64")
}

/// The sizes a [`tile`] walks: `c` input channels, `V`'s channel length
/// `stride`, the pooled output `plane`, and the tiles from this one to the
/// plane's end (`valid`).
#[derive(Clone, Copy)]
struct Tiles {
    c: usize,
    stride: usize,
    plane: usize,
    valid: usize,
}

/// What [`tile`] does with a tile's four outputs: ReLU and their maximum,
/// stored in the pooled plane, or each stored for [`Winograd::interleave`].
const POOL: u8 = 0;
const STORE: u8 = 1;
/// [`POOL`], and where each maximum was, at `indices` (the same offsets).
const ARGMAX: u8 = 2;

/// `R` registers of 16 tiles for one block of 8 output channels: the 16
/// products over the channels, then `Y = Aᵀ M A` (`Aᵀ = [1 1 1 0; 0 1 −1
/// −1]`) and the bias; then `THEN`: [`POOL`] stores the maximum of each
/// tile's four outputs after ReLU, for the tiles that exist, at `dst + j ·
/// plane`; [`STORE`] stores the four at `dst + (4 · j + k) · stride`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::needless_range_loop)]
unsafe fn tile<const R: usize, const THEN: u8>(
    v: *const f32,
    u: *const f32,
    bias: Option<&[f32]>,
    dst: *mut f32,
    indices: *mut u8,
    s: Tiles,
) {
    let mut m = [[[_mm512_setzero_ps(); R]; BLOCK]; 16];
    for xi in 0..16 {
        let mut acc = [[_mm512_setzero_ps(); R]; BLOCK];
        let vx = v.add(xi * s.c * s.stride);
        let ux = u.add(xi * s.c * BLOCK);
        // Plain index loops (NOTE(kernel-loops)).
        for ci in 0..s.c {
            let mut xs = [_mm512_setzero_ps(); R];
            for r in 0..R {
                xs[r] = _mm512_loadu_ps(vx.add(ci * s.stride + r * LANES));
            }
            for j in 0..BLOCK {
                let wv = _mm512_set1_ps(*ux.add(ci * BLOCK + j));
                for r in 0..R {
                    acc[j][r] = _mm512_fmadd_ps(wv, xs[r], acc[j][r]);
                }
            }
        }
        m[xi] = acc;
    }
    let zero = _mm512_setzero_ps();
    // ReLU as `relu` has it (`x > 0 ? x : 0`: NaN gives 0).
    let relu = |x: __m512| _mm512_maskz_mov_ps(_mm512_cmp_ps_mask::<_CMP_GT_OQ>(x, zero), x);
    for j in 0..BLOCK {
        let b = bias.map(|b| _mm512_set1_ps(b[j]));
        for r in 0..R {
            let count = s.valid.saturating_sub(r * LANES).min(LANES);
            if count == 0 {
                continue;
            }
            let g = |xi: usize| m[xi][j][r];
            // Across (Aᵀ's two rows on each row of M), then down.
            let mut across = [[zero; 2]; 4];
            for i in 0..4 {
                let [m0, m1, m2, m3] = [g(4 * i), g(4 * i + 1), g(4 * i + 2), g(4 * i + 3)];
                across[i] = [
                    _mm512_add_ps(_mm512_add_ps(m0, m1), m2),
                    _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3),
                ];
            }
            let mut best = zero;
            // ARGMAX: the four after ReLU, in the window's row-major order.
            let mut window = [zero; 4];
            for q in 0..2 {
                let [a0, a1, a2, a3] = [across[0][q], across[1][q], across[2][q], across[3][q]];
                let top = _mm512_add_ps(_mm512_add_ps(a0, a1), a2);
                let bottom = _mm512_sub_ps(_mm512_sub_ps(a1, a2), a3);
                for (p, y) in [top, bottom].into_iter().enumerate() {
                    let y = match b {
                        Some(b) => _mm512_add_ps(b, y),
                        None => y,
                    };
                    if THEN == STORE {
                        let k = 2 * p + q;
                        _mm512_storeu_ps(dst.add((4 * j + k) * s.stride + r * LANES), y);
                    } else if THEN == ARGMAX {
                        window[2 * p + q] = relu(y);
                    } else {
                        // ReLU's outputs are never NaN, so the maximum is exact.
                        best = _mm512_max_ps(best, relu(y));
                    }
                }
            }
            let mask = (((1u32 << count) - 1) & 0xffff) as __mmask16;
            if THEN == ARGMAX {
                // The first maximum: a later value takes it only when greater
                // (ReLU's outputs are never NaN).
                let mut at = _mm512_setzero_si512();
                best = window[0];
                for (k, &y) in window.iter().enumerate().skip(1) {
                    let greater = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(y, best);
                    best = _mm512_mask_mov_ps(best, greater, y);
                    at = _mm512_mask_mov_epi32(at, greater, _mm512_set1_epi32(k as i32));
                }
                _mm512_mask_cvtepi32_storeu_epi8(
                    indices.add(j * s.plane + r * LANES) as *mut i8,
                    mask,
                    at,
                );
            }
            if THEN != STORE {
                _mm512_mask_storeu_ps(dst.add(j * s.plane + r * LANES), mask, best);
            }
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn tile<const R: usize, const THEN: u8>(
    _: *const f32,
    _: *const f32,
    _: Option<&[f32]>,
    _: *mut f32,
    _: *mut u8,
    _: Tiles,
) {
    unreachable!("`applies` is false off x86-64")
}
