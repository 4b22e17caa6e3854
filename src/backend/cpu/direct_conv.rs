//! A direct float32 convolution for stride 1 on AVX2 or AVX-512 (the `cnn`
//! model's conv1 forward, and on AVX2 conv2's weight gradient), reading the
//! image rows in place instead of unfolding them.
//!
//! NOTE(direct-conv): im2col copies each image nine-fold (conv2: 288 × 576
//! floats) and the matrix kernel then packs that copy again before it
//! multiplies. Here a tile is 6 output channels × 2 runs of 8 output columns:
//! twelve accumulators (enough independent sums to hide the multiply-add's
//! latency on two units), two unaligned loads of input rows and six broadcast
//! weights per kernel tap. Each output's sum runs over (input channel, kernel
//! row, kernel column) from zero in that order, one fused multiply-add at a
//! time, and the bias is added last: the order im2col's rows give the matrix
//! kernel, whose sums over 288 terms are one block, so the two paths give the
//! same bits (`direct_and_unfolded_convolutions_give_the_same_bits`). Every
//! output is computed alone, so the numbers never depend on the threads. A
//! row that is not a whole number of runs (conv1's 26) ends on a run that
//! overlaps the one before: its outputs are computed twice, the same way.
//!
//! NOTE(conv-relu-pool): for inference the same tiles can finish a
//! `conv → ReLU` block (the `cnn` model's conv1) or a `conv → ReLU →
//! max_pool2d(2)` block (its conv2) before they store. To pool, a tile's two
//! runs are the same 8 columns of two adjacent rows, which hold four whole
//! 2×2 windows, so only the four maxima are written (a quarter of the output,
//! and no separate ReLU and pooling passes over it).
//! ReLU and the maximum are exact, and ReLU's outputs hold neither NaN nor
//! −0, so the maxima are the bits the separate ops give
//! (`fused_relu_and_pooling_give_the_bits_of_the_separate_ops`).
//!
//! NOTE(kernel-loops): the kernels' inner loops are plain index loops over
//! arrays of known length, not iterator adapters (`zip`, `from_fn`,
//! `step_by`). In a release build both compile to the same code, but the
//! notebooks' kernel builds kindling at opt-level 2 with incremental
//! compilation, where the adapters' methods were not inlined into these
//! `target_feature` functions: a call per multiply-add, and training there
//! ran several times slower.
//!
//! NOTE(direct-conv-weight-grad): the weight gradient, `Σ g · colsᵀ`, is a
//! sum over output positions, and runs of 8 output columns are read in place
//! too: a tile keeps 6 output channels × 2 taps (or 4 × 3) in twelve
//! accumulators of eight lanes, loads each run of the output gradient once
//! for its taps and each tap's run of input once for its channels, and adds
//! its lanes in a fixed order at the end of each image. This replaces an
//! im2col copy of every image (663 KB for conv2) and a product that packed
//! it again. Its sums run in another order than im2col + gemm's (lanes, then
//! images), so the last bits differ from that path's; they depend on the
//! shapes alone, never on the threads
//! (`direct_weight_gradients_agree_with_im2col`).

//!
//! NOTE(wide-direct-conv): on AVX-512 a register holds 16 floats, more than
//! conv2's rows of 24 split into whole runs. The wide kernels therefore walk
//! each output plane as one flat row of `oh · ow` positions, reading `kw`
//! shifted copies of the image (`shifted_rows`: copy `kx` holds columns `kx
//! .. kx + ow` of every padded row, so position `p` reads tap `(ky, kx)` at
//! `p + ky · ow` of copy `kx`, across row ends). The forward tile is 6 (or
//! 4) output channels × 64 positions in four registers, summing tap by tap
//! in the same order as [`tile`], so its bits are the same as the unfolded
//! path's. The weight gradient's tile is 6 channels × 2 taps (or 4 × 3) over
//! runs of 16 positions, its 16 lanes added in a fixed order: other bits
//! than the 8-lane kernel's, and again the same on one thread and on two.
//! Six channels × 4 taps (24 accumulators) spilled registers and was slower.
//! Where the output channels come in sixteens (conv1's 32, conv2's 64) the
//! channel-lanes kernel computes the weight gradient instead, twice as fast
//! (NOTE(channel-lanes)); this tile is left to the other counts.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use std::mem::MaybeUninit;

use crate::backend::{Conv2dGeometry, ConvThen};

/// Floats in an AVX2 register: a run of output columns.
const LANES: usize = 8;
/// Floats in an AVX-512 register (NOTE(wide-direct-conv)).
const WIDE: usize = 16;
/// Positions one wide forward tile computes: four registers.
const WIDE_RUN: usize = 4 * WIDE;
/// The longest sum the matrix kernel computes in one block (`gemm-common`'s
/// smallest `kc`); past it the direct kernel's single chain would round
/// differently, so it is not used.
const MAX_TAPS: usize = 512;
/// The shortest sum given to the direct kernel: the matrix kernel rounds
/// very short products (a 1×1 kernel over two channels) its own way, and
/// they are cheap either way.
const MIN_TAPS: usize = 9;

/// Whether a [`Plan`] computes `geo` on this CPU: [`kernel_shape`], output
/// rows of at least 8 (a row that is not a whole number of runs ends on an
/// overlapping one), sums of 9 to 512 terms.
pub(super) fn applies(geo: &Conv2dGeometry) -> bool {
    kernel_shape(geo)
        && geo.out[1] >= LANES
        && (MIN_TAPS..=MAX_TAPS).contains(&(geo.input[1] * geo.kernel[0] * geo.kernel[1]))
}

/// What both kernels need: stride 1, no dilation, one group, some output,
/// an even number of output channels from 4 up (blocks of 6 and 4), AVX2
/// and FMA.
fn kernel_shape(geo: &Conv2dGeometry) -> bool {
    let o = geo.out_channels;
    geo.stride == [1, 1]
        && geo.dilation == [1, 1]
        && geo.groups == 1
        && geo.out[0] * geo.out[1] > 0
        && o.is_multiple_of(2)
        && (o >= 8 || o == 4 || o == 6)
        && available()
}

/// The rows and columns of the planes the kernels read when the image must
/// be copied with its padding written out (`rows_read`), or `None` when they
/// read the image itself.
pub(super) fn padded_size(geo: &Conv2dGeometry) -> Option<[usize; 2]> {
    let [h, w] = [geo.input[2], geo.input[3]];
    let [hp, wp] = [
        geo.out[0] + geo.kernel[0] - 1,
        geo.out[1] + geo.kernel[1] - 1,
    ];
    (geo.pad != [0, 0] || hp > h || wp > w).then_some([hp, wp])
}

pub(super) fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// Whether a [`Plan`] with `then` computes `geo` on this CPU: [`applies`],
/// and for pooling, whole 2×2 windows (even numbers of rows and columns).
pub(super) fn applies_then(geo: &Conv2dGeometry, then: ConvThen) -> bool {
    applies(geo)
        && (then == ConvThen::Relu
            || (geo.out[0].is_multiple_of(2) && geo.out[1].is_multiple_of(2)))
}

/// The output channels in blocks of 6, then up to two of 4: `(first, size)`.
pub(super) fn channel_blocks(o: usize) -> Vec<(usize, usize)> {
    let fours = match o % 6 {
        0 => 0,
        4 => 1,
        _ => 2,
    };
    let sixes = (o - 4 * fours) / 6;
    let sizes = std::iter::repeat_n(6, sixes).chain(std::iter::repeat_n(4, fours));
    let mut first = 0;
    sizes
        .map(|size| {
            first += size;
            (first - size, size)
        })
        .collect()
}

/// The first columns of a row's runs of 8 outputs: every 8th, and when the
/// row is not a whole number of runs, a last run that ends with the row
/// (it overlaps the one before and writes the same values again).
fn run_starts(ow: usize) -> impl Iterator<Item = usize> + Clone {
    (0..ow / LANES)
        .map(|r| r * LANES)
        .chain((!ow.is_multiple_of(LANES)).then_some(ow - LANES))
}

/// What every image of one call shares: the weight `[o, c, kh, kw]` regrouped
/// block by block (`channel_blocks`, each block as `[c · kh · kw][size]`: a
/// tap's weights for the block adjacent), the blocks, and where each run of 8
/// output columns reads and writes.
///
/// `then` finishes the outputs: ReLU, or ReLU then `max_pool2d(2)`, which
/// makes each output plane `[oh / 2, ow / 2]` (NOTE(conv-relu-pool)).
pub(super) struct Plan<'a> {
    geo: &'a Conv2dGeometry,
    packed: Vec<f32>,
    /// `channel_blocks(o)`: `(first channel, size)`.
    pub blocks: Vec<(usize, usize)>,
    /// The size of the padded copy the kernel reads (`padded_size`), if it
    /// reads one, and the rows and columns of what it reads.
    padded: Option<[usize; 2]>,
    h: usize,
    w: usize,
    /// Every run of 8 output columns: (offset of its first input, of its
    /// first output) within a plane. Pooled, the runs go in pairs of the same
    /// columns of rows `2y` and `2y + 1`, and a pair's first output is where
    /// its four maxima go.
    runs: Vec<(usize, usize)>,
    then: Option<ConvThen>,
    /// The size of an output plane: `oh · ow`, pooled `oh · ow / 4`.
    pub plane: usize,
    /// Whether the tiles run on AVX-512 over flat runs of positions
    /// (NOTE(wide-direct-conv)).
    wide: bool,
}

impl<'a> Plan<'a> {
    pub(super) fn new(weight: &[f32], geo: &'a Conv2dGeometry, then: Option<ConvThen>) -> Plan<'a> {
        let pooled = then == Some(ConvThen::ReluMaxPool2);
        let [_, c, h, w] = geo.input;
        let [kh, kw] = geo.kernel;
        let [oh, ow] = geo.out;
        let taps = c * kh * kw;
        let blocks = channel_blocks(geo.out_channels);
        let mut packed = Vec::with_capacity(weight.len());
        for &(first, size) in &blocks {
            for t in 0..taps {
                packed.extend((first..first + size).map(|o| weight[o * taps + t]));
            }
        }
        let padded = padded_size(geo);
        let [h, w] = padded.unwrap_or([h, w]);
        let runs = if pooled {
            (0..oh / 2)
                .flat_map(|y| {
                    run_starts(ow).flat_map(move |x| {
                        [
                            (2 * y * w + x, y * (ow / 2) + x / 2),
                            ((2 * y + 1) * w + x, 0),
                        ]
                    })
                })
                .collect()
        } else {
            (0..oh)
                .flat_map(|y| run_starts(ow).map(move |x| (y * w + x, y * ow + x)))
                .collect()
        };
        Plan {
            geo,
            packed,
            blocks,
            padded,
            h,
            w,
            runs,
            then,
            plane: if pooled { oh / 2 * (ow / 2) } else { oh * ow },
            wide: !pooled && wide_applies(geo),
        }
    }

    /// One image: output channel blocks `blocks` (indices into
    /// `self.blocks`) of the convolution of `image [c, h, w]`, plus the bias
    /// (then `self.then`), into `out`, which holds just those
    /// blocks' channels, each `self.plane` long; every element of `out` is
    /// written. `padded` is scratch space.
    pub(super) fn image(
        &self,
        image: &[f32],
        bias: Option<&[f32]>,
        blocks: std::ops::Range<usize>,
        padded: &mut Vec<f32>,
        out: &mut [MaybeUninit<f32>],
    ) {
        let geo = self.geo;
        let c = geo.input[1];
        let [kh, kw] = geo.kernel;
        let (h, w) = (self.h, self.w);
        if self.wide {
            let source = shifted_rows(geo, image, padded);
            let geometry = Shape {
                plane: h * geo.out[1],
                w: geo.out[1],
                c,
                kh,
                kw,
                oplane: self.plane,
            };
            return match self.then {
                Some(ConvThen::Relu) => {
                    self.wide_tiles::<RELU>(source, blocks, bias, geometry, out)
                }
                _ => self.wide_tiles::<STORE>(source, blocks, bias, geometry, out),
            };
        }
        let source = rows_read(geo, image, self.padded, padded);
        assert!(source.len() >= c * h * w);
        let geometry = Shape {
            plane: h * w,
            w,
            c,
            kh,
            kw,
            oplane: self.plane,
        };
        match self.then {
            None => self.tiles::<STORE>(source, blocks, bias, geometry, out),
            Some(ConvThen::Relu) => self.tiles::<RELU>(source, blocks, bias, geometry, out),
            Some(ConvThen::ReluMaxPool2) => {
                self.tiles::<RELU_POOL>(source, blocks, bias, geometry, out)
            }
        }
    }

    /// [`Plan::image`]'s tiles on AVX-512 (NOTE(wide-direct-conv)): runs of
    /// 64 positions of the flat output plane, the last one ending with the
    /// plane (overlapping the one before when the plane is not a whole
    /// number of runs), reading `source` from [`shifted_rows`].
    fn wide_tiles<const THEN: u8>(
        &self,
        source: &[f32],
        blocks: std::ops::Range<usize>,
        bias: Option<&[f32]>,
        geometry: Shape,
        out: &mut [MaybeUninit<f32>],
    ) {
        let taps = geometry.c * geometry.kh * geometry.kw;
        let plane = self.plane;
        assert!(source.len() >= geometry.kw * geometry.c * geometry.plane && plane >= WIDE_RUN);
        let starts = (0..plane / WIDE_RUN)
            .map(|r| r * WIDE_RUN)
            .chain((!plane.is_multiple_of(WIDE_RUN)).then_some(plane - WIDE_RUN));
        let mut out_at = 0;
        for &(first, size) in &self.blocks[blocks] {
            let weights = &self.packed[first * taps..][..size * taps];
            let dst = out[out_at..][..size * plane].as_mut_ptr() as *mut f32;
            out_at += size * plane;
            let bias = bias.map(|b| &b[first..first + size]);
            for start in starts.clone() {
                // SAFETY: `wide_applies` checked AVX-512. A run reads, for tap
                // (ci, ky, kx), positions start + ky·ow + 0..64 of channel ci of
                // shifted copy kx: below (oh - 1)·ow + ow + (kh - 1)·ow = h·ow,
                // one plane of `source` (asserted to hold kw·c planes); it writes
                // positions start..start + 64 <= plane of `size` planes of `dst`;
                // the weights hold `size · taps`.
                unsafe {
                    if size == 6 {
                        wide_tile::<6, THEN>(source, start, weights, bias, dst, geometry)
                    } else {
                        wide_tile::<4, THEN>(source, start, weights, bias, dst, geometry)
                    }
                }
            }
        }
    }

    /// [`Plan::image`]'s tiles, finishing each output with `THEN`.
    fn tiles<const THEN: u8>(
        &self,
        source: &[f32],
        blocks: std::ops::Range<usize>,
        bias: Option<&[f32]>,
        geometry: Shape,
        out: &mut [MaybeUninit<f32>],
    ) {
        let taps = geometry.c * geometry.kh * geometry.kw;
        let plane = self.plane;
        let mut out_at = 0;
        for &(first, size) in &self.blocks[blocks] {
            let weights = &self.packed[first * taps..][..size * taps];
            let dst = out[out_at..][..size * plane].as_mut_ptr() as *mut f32;
            out_at += size * plane;
            let bias = bias.map(|b| &b[first..first + size]);
            for pair in self.runs.chunks(2) {
                // SAFETY: `applies` checked AVX2 and FMA. Each run's input starts
                // at y·w + x with y < oh and x + 8 <= ow, so its reads (rows up to
                // y + kh - 1 < h, columns up to x + 7 + kw - 1 < w, channels < c)
                // stay inside `source` (asserted to hold c·h·w); each output run
                // lies inside its plane of `dst`, which holds `size` planes (the
                // runs cover every plane whole; pooled, a pair's four maxima go
                // to (y / 2)·(ow / 2) + x / 2, inside the pooled plane, and the
                // runs come in pairs because `oh` is even); the weights hold
                // `size · taps`.
                unsafe {
                    match (pair, size) {
                        (&[a, b], 6) => tile::<2, 6, THEN>(
                            source,
                            [a.0, b.0],
                            weights,
                            bias,
                            dst,
                            [a.1, b.1],
                            geometry,
                        ),
                        (&[a, b], _) => tile::<2, 4, THEN>(
                            source,
                            [a.0, b.0],
                            weights,
                            bias,
                            dst,
                            [a.1, b.1],
                            geometry,
                        ),
                        (&[a], 6) => {
                            tile::<1, 6, THEN>(source, [a.0], weights, bias, dst, [a.1], geometry)
                        }
                        (_, _) => tile::<1, 4, THEN>(
                            source,
                            [pair[0].0],
                            weights,
                            bias,
                            dst,
                            [pair[0].1],
                            geometry,
                        ),
                    }
                }
            }
        }
    }
}

/// Whether [`weight_grad`] computes the weight gradient of `geo` on this
/// CPU: [`kernel_shape`], and output rows in whole runs of 8 (a run that
/// overlapped would count its outputs twice).
pub(super) fn weight_grad_applies(geo: &Conv2dGeometry) -> bool {
    kernel_shape(geo) && geo.out[1].is_multiple_of(LANES)
}

/// Where each tap (input channel, kernel row, kernel column, in the
/// weight's order) reads its first output position in rows read `[c][h][w]`
/// (the image, or its padded copy).
pub(super) fn tap_offsets(geo: &Conv2dGeometry, [h, w]: [usize; 2]) -> Vec<usize> {
    let [kh, kw] = geo.kernel;
    (0..geo.input[1])
        .flat_map(|ci| (0..kh).flat_map(move |ky| (0..kw).map(move |kx| ci * h * w + ky * w + kx)))
        .collect()
}

/// The weight gradient `[o, c · kh · kw]` of the convolution `geo` over
/// `images` of its input `x` and output gradient `g`, into `dw`
/// (overwritten): NOTE(direct-conv-weight-grad).
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
    let offsets = tap_offsets(geo, [h, w]);
    let shape = GradShape {
        plane,
        oh,
        ow,
        w,
        taps,
    };
    assert!(dw.len() == o * taps && g.len() >= images.end * o * plane);
    assert!(x.len() >= images.end * c * ih * iw);
    dw.fill(0.0);
    let blocks = channel_blocks(o);
    let mut scratch = Vec::new();
    if wide_applies(geo) && plane.is_multiple_of(WIDE) {
        // Where each tap's first output position reads in the shifted copies.
        let offsets: Vec<usize> = (0..c)
            .flat_map(|ci| {
                (0..kh).flat_map(move |ky| (0..kw).map(move |kx| (kx * c + ci) * h * ow + ky * ow))
            })
            .collect();
        for i in images {
            let image = &x[i * c * ih * iw..][..c * ih * iw];
            let source = shifted_rows(geo, image, &mut scratch);
            assert!(source.len() >= kw * c * h * ow);
            let grad = &g[i * o * plane..][..o * plane];
            for &(first, size) in &blocks {
                let rows = grad[first * plane..][..size * plane].as_ptr();
                let mut t = 0;
                while t < taps {
                    let dst = dw[first * taps + t..].as_mut_ptr();
                    let left = taps - t;
                    // SAFETY: `wide_applies` checked AVX-512. The tile reads
                    // `size` planes of `grad` from `rows` (inside `grad`), and
                    // for each of its taps, positions ky·ow + 0..plane of
                    // channel ci of shifted copy kx, below h·ow, inside
                    // `source` (kw·c·h·ow); it adds to dw[(first + j)·taps + t + k]
                    // for j < size, t + k < taps, inside `dw` (o·taps).
                    unsafe {
                        t += match (size, left) {
                            (6, 2..) => wide_weight_tile::<6, 2>(
                                rows,
                                source,
                                &offsets[t..t + 2],
                                dst,
                                shape,
                            ),
                            (6, _) => wide_weight_tile::<6, 1>(
                                rows,
                                source,
                                &offsets[t..t + 1],
                                dst,
                                shape,
                            ),
                            (_, 3..) => wide_weight_tile::<4, 3>(
                                rows,
                                source,
                                &offsets[t..t + 3],
                                dst,
                                shape,
                            ),
                            (_, _) => wide_weight_tile::<4, 1>(
                                rows,
                                source,
                                &offsets[t..t + 1],
                                dst,
                                shape,
                            ),
                        };
                    }
                }
            }
        }
        return;
    }
    for i in images {
        let image = &x[i * c * ih * iw..][..c * ih * iw];
        let source = rows_read(geo, image, padded, &mut scratch);
        assert!(source.len() >= c * h * w);
        let grad = &g[i * o * plane..][..o * plane];
        for &(first, size) in &blocks {
            let rows = grad[first * plane..][..size * plane].as_ptr();
            let mut t = 0;
            while t < taps {
                let dst = dw[first * taps + t..].as_mut_ptr();
                let left = taps - t;
                // SAFETY: `weight_grad_applies` checked AVX2 and FMA. The tile
                // reads `size` planes of `grad` from `rows` (all inside `grad`),
                // and for each of its taps, rows y + ky < h and columns up to
                // ow - 1 + kx < w of channel ci < c of `source` (which holds
                // c·h·w); it adds to dw[(first + j)·taps + t + k] for j < size,
                // t + k < taps, inside `dw` (o·taps).
                unsafe {
                    t += match (size, left) {
                        (6, 2..) => {
                            weight_tile::<6, 2>(rows, source, &offsets[t..t + 2], dst, shape)
                        }
                        (6, _) => weight_tile::<6, 1>(rows, source, &offsets[t..t + 1], dst, shape),
                        (_, 3..) => {
                            weight_tile::<4, 3>(rows, source, &offsets[t..t + 3], dst, shape)
                        }
                        (_, _) => weight_tile::<4, 1>(rows, source, &offsets[t..t + 1], dst, shape),
                    };
                }
            }
        }
    }
}

/// The sizes a [`weight_tile`] walks: output planes `plane = oh · ow`, input
/// rows `w` wide, and `taps` weights per output channel.
#[derive(Clone, Copy)]
struct GradShape {
    plane: usize,
    oh: usize,
    ow: usize,
    w: usize,
    taps: usize,
}

/// The gradients of `T` consecutive weights (the taps reading from
/// `offsets`) of `OB` output channels (their output gradients from `rows`):
/// each output's sum over the image's positions, in eight lanes of runs of
/// 8 columns, the lanes then added in a fixed order, added to `dst[j · taps
/// + k]`. Returns `T`, the taps done.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::needless_range_loop)]
unsafe fn weight_tile<const OB: usize, const T: usize>(
    rows: *const f32,
    source: &[f32],
    offsets: &[usize],
    dst: *mut f32,
    s: GradShape,
) -> usize {
    let mut acc = [[_mm256_setzero_ps(); T]; OB];
    let input = source.as_ptr();
    // Plain index loops (NOTE(kernel-loops)).
    for y in 0..s.oh {
        let grad_row = rows.add(y * s.ow);
        let input_row = input.add(y * s.w);
        for run in 0..s.ow / LANES {
            let x = run * LANES;
            let mut xs = [_mm256_setzero_ps(); T];
            for k in 0..T {
                xs[k] = _mm256_loadu_ps(input_row.add(offsets[k] + x));
            }
            for j in 0..OB {
                let gv = _mm256_loadu_ps(grad_row.add(j * s.plane + x));
                for k in 0..T {
                    acc[j][k] = _mm256_fmadd_ps(gv, xs[k], acc[j][k]);
                }
            }
        }
    }
    for (j, a) in acc.iter().enumerate() {
        for (k, sum) in a.iter().enumerate() {
            *dst.add(j * s.taps + k) += sum_of_eight(*sum);
        }
    }
    T
}

/// The sum of a register's eight lanes in a fixed order: lanes 0-3 plus
/// 4-7, then those pairs, then the last two.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn sum_of_eight(sum: __m256) -> f32 {
    let quad = _mm_add_ps(_mm256_castps256_ps128(sum), _mm256_extractf128_ps::<1>(sum));
    let pair = _mm_add_ps(quad, _mm_movehl_ps(quad, quad));
    let total = _mm_add_ss(pair, _mm_shuffle_ps::<1>(pair, pair));
    _mm_cvtss_f32(total)
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn weight_tile<const OB: usize, const T: usize>(
    _: *const f32,
    _: &[f32],
    _: &[usize],
    _: *mut f32,
    _: GradShape,
) -> usize {
    unreachable!("`weight_grad_applies` is false off x86-64")
}

/// The rows the kernels read of one image `[c, ih, iw]`: the image itself,
/// or with `padded` (`[h, w]`), a copy in `scratch` with its padding written
/// out as zeros (`geo.pad` before, the rest after).
pub(super) fn rows_read<'s>(
    geo: &Conv2dGeometry,
    image: &'s [f32],
    padded: Option<[usize; 2]>,
    scratch: &'s mut Vec<f32>,
) -> &'s [f32] {
    let Some([h, w]) = padded else {
        return image;
    };
    let [_, c, ih, iw] = geo.input;
    let [py, px] = geo.pad;
    scratch.clear();
    scratch.resize(c * h * w, 0.0);
    // The image's columns that land inside a padded row, and where.
    let first = px.min(w);
    let last = (px + iw).min(w);
    for (ci, plane) in scratch.chunks_exact_mut(h * w).enumerate() {
        for (yy, row) in plane.chunks_exact_mut(w).enumerate() {
            let Some(y) = yy.checked_sub(py).filter(|&y| y < ih) else {
                continue;
            };
            let src = &image[(ci * ih + y) * iw..][..iw];
            row[first..last].copy_from_slice(&src[..last - first]);
        }
    }
    scratch
}

/// Whether the kernels run on AVX-512 over flat runs of positions
/// (NOTE(wide-direct-conv)): this CPU has it, and an output plane holds at
/// least one run of the forward's 64 positions.
fn wide_applies(geo: &Conv2dGeometry) -> bool {
    geo.out[0] * geo.out[1] >= WIDE_RUN && wide_available()
}

pub(super) fn wide_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
}

/// The `kw` shifted copies of one image `[c, ih, iw]` that the wide kernels
/// read (NOTE(wide-direct-conv)), in `scratch`: copy `kx` is `[c][h][ow]`
/// with `copy[ci][y][x] = padded[ci][y][x + kx]`, the padding written out as
/// zeros (`h` the padded rows, `oh + kh - 1`). Position `p = y · ow + x` of
/// the output reads tap (ci, ky, kx) at `copy_kx[ci][p + ky · ow]`.
fn shifted_rows<'s>(geo: &Conv2dGeometry, image: &[f32], scratch: &'s mut Vec<f32>) -> &'s [f32] {
    let [_, c, ih, iw] = geo.input;
    let [kh, kw] = geo.kernel;
    let [oh, ow] = geo.out;
    let h = oh + kh - 1;
    let [py, px] = geo.pad;
    scratch.clear();
    scratch.resize(kw * c * h * ow, 0.0);
    for (copy, kx) in scratch.chunks_exact_mut(c * h * ow).zip(0..kw) {
        for (ci, plane) in copy.chunks_exact_mut(h * ow).enumerate() {
            for (yy, row) in plane.chunks_exact_mut(ow).enumerate() {
                let Some(y) = yy.checked_sub(py).filter(|&y| y < ih) else {
                    continue;
                };
                let src = &image[(ci * ih + y) * iw..][..iw];
                // Columns xx + kx - px of the image, where they exist.
                let first = px.saturating_sub(kx).min(ow);
                let last = (iw + px).saturating_sub(kx).min(ow).max(first);
                row[first..last].copy_from_slice(&src[first + kx - px..last + kx - px]);
            }
        }
    }
    scratch
}

/// 64 positions from `start` of the flat output planes of `OB` output
/// channels, on AVX-512: the sums of [`tile`], tap by tap in the same order
/// from zero, then the bias, then `THEN` ([`STORE`] or [`RELU`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[allow(clippy::needless_range_loop)]
unsafe fn wide_tile<const OB: usize, const THEN: u8>(
    source: &[f32],
    start: usize,
    weights: &[f32],
    bias: Option<&[f32]>,
    dst: *mut f32,
    s: Shape,
) {
    const R: usize = WIDE_RUN / WIDE;
    let mut acc = [[_mm512_setzero_ps(); R]; OB];
    let mut wt = weights.as_ptr();
    // `s.plane` is one shifted channel (h · ow), `s.w` is ow.
    for ci in 0..s.c {
        for ky in 0..s.kh {
            for kx in 0..s.kw {
                // Plain index loops (NOTE(kernel-loops)).
                let at = source
                    .as_ptr()
                    .add((kx * s.c + ci) * s.plane + ky * s.w + start);
                let mut xs = [_mm512_setzero_ps(); R];
                for r in 0..R {
                    xs[r] = _mm512_loadu_ps(at.add(r * WIDE));
                }
                for j in 0..OB {
                    let wv = _mm512_set1_ps(*wt.add(j));
                    for r in 0..R {
                        acc[j][r] = _mm512_fmadd_ps(wv, xs[r], acc[j][r]);
                    }
                }
                wt = wt.add(OB);
            }
        }
    }
    let zero = _mm512_setzero_ps();
    for j in 0..OB {
        let plane = dst.add(j * s.oplane + start);
        for r in 0..R {
            let value = match bias {
                Some(b) => _mm512_add_ps(_mm512_set1_ps(b[j]), acc[j][r]),
                None => acc[j][r],
            };
            let value = if THEN == RELU {
                // ReLU as `relu` has it (`x > 0 ? x : 0`).
                _mm512_maskz_mov_ps(_mm512_cmp_ps_mask::<_CMP_GT_OQ>(value, zero), value)
            } else {
                value
            };
            _mm512_storeu_ps(plane.add(r * WIDE), value);
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn wide_tile<const OB: usize, const THEN: u8>(
    _: &[f32],
    _: usize,
    _: &[f32],
    _: Option<&[f32]>,
    _: *mut f32,
    _: Shape,
) {
    unreachable!("`wide_applies` is false off x86-64")
}

/// [`weight_tile`] on AVX-512 over the flat output plane
/// (NOTE(wide-direct-conv)): runs of 16 positions, the taps read from the
/// shifted copies at `offsets`, the sixteen lanes added in a fixed order at
/// the end.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2")]
#[allow(clippy::needless_range_loop)]
unsafe fn wide_weight_tile<const OB: usize, const T: usize>(
    rows: *const f32,
    source: &[f32],
    offsets: &[usize],
    dst: *mut f32,
    s: GradShape,
) -> usize {
    let mut acc = [[_mm512_setzero_ps(); T]; OB];
    let input = source.as_ptr();
    let offsets: [usize; T] = offsets.try_into().expect("T offsets");
    // Plain index loops (NOTE(kernel-loops)).
    for run in 0..s.plane / WIDE {
        let p = run * WIDE;
        let mut xs = [_mm512_setzero_ps(); T];
        for k in 0..T {
            xs[k] = _mm512_loadu_ps(input.add(offsets[k] + p));
        }
        for j in 0..OB {
            let gv = _mm512_loadu_ps(rows.add(j * s.plane + p));
            for k in 0..T {
                acc[j][k] = _mm512_fmadd_ps(gv, xs[k], acc[j][k]);
            }
        }
    }
    for j in 0..OB {
        for k in 0..T {
            // Lanes 0-7 plus 8-15, then as `weight_tile` adds its eight.
            let sum = acc[j][k];
            let eight = _mm256_add_ps(
                _mm512_castps512_ps256(sum),
                _mm256_castpd_ps(_mm512_extractf64x4_pd::<1>(_mm512_castps_pd(sum))),
            );
            *dst.add(j * s.taps + k) += sum_of_eight(eight);
        }
    }
    T
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn wide_weight_tile<const OB: usize, const T: usize>(
    _: *const f32,
    _: &[f32],
    _: &[usize],
    _: *mut f32,
    _: GradShape,
) -> usize {
    unreachable!("`wide_applies` is false off x86-64")
}

/// What [`tile`] does before it stores: nothing, ReLU, or ReLU then the
/// maxima of 2×2 windows.
const STORE: u8 = 0;
const RELU: u8 = 1;
const RELU_POOL: u8 = 2;

/// The sizes a tile walks: an input plane `plane = h · w` with rows `w`
/// wide, `c` channels, the kernel, and an output plane of `oplane`.
#[derive(Clone, Copy)]
struct Shape {
    plane: usize,
    w: usize,
    c: usize,
    kh: usize,
    kw: usize,
    oplane: usize,
}

/// `V` runs of 8 outputs (inputs starting at `inputs`, outputs at `outputs`
/// within a plane) for `OB` output channels, finished by `THEN`: with
/// [`RELU_POOL`] (and `V = 2`, the same columns of two adjacent rows), the
/// maxima of the four 2×2 windows go to `outputs[0]`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::needless_range_loop)]
unsafe fn tile<const V: usize, const OB: usize, const THEN: u8>(
    source: &[f32],
    inputs: [usize; V],
    weights: &[f32],
    bias: Option<&[f32]>,
    dst: *mut f32,
    outputs: [usize; V],
    s: Shape,
) {
    let mut acc = [[_mm256_setzero_ps(); V]; OB];
    let mut wt = weights.as_ptr();
    for ci in 0..s.c {
        let channel = source.as_ptr().add(ci * s.plane);
        for ky in 0..s.kh {
            let row = channel.add(ky * s.w);
            for kx in 0..s.kw {
                // Plain index loops (NOTE(kernel-loops)).
                let mut xs = [_mm256_setzero_ps(); V];
                for v in 0..V {
                    xs[v] = _mm256_loadu_ps(row.add(inputs[v] + kx));
                }
                for j in 0..OB {
                    let wv = _mm256_broadcast_ss(&*wt.add(j));
                    for v in 0..V {
                        acc[j][v] = _mm256_fmadd_ps(wv, xs[v], acc[j][v]);
                    }
                }
                wt = wt.add(OB);
            }
        }
    }
    for (j, a) in acc.iter().enumerate() {
        let plane = dst.add(j * s.oplane);
        // ReLU as `relu` has it (`x > 0 ? x : 0`: NaN and −0 give 0).
        let relu = |v| _mm256_and_ps(v, _mm256_cmp_ps::<_CMP_GT_OQ>(v, _mm256_setzero_ps()));
        let values = a.map(|sum| {
            let value = match bias {
                Some(b) => _mm256_add_ps(_mm256_set1_ps(b[j]), sum),
                None => sum,
            };
            if THEN == STORE {
                value
            } else {
                relu(value)
            }
        });
        if THEN == RELU_POOL {
            // The larger of the two rows, then of each pair of columns.
            let rows = _mm256_max_ps(values[0], values[V - 1]);
            let pairs = _mm256_max_ps(rows, _mm256_permute_ps::<0b10_11_00_01>(rows));
            let even = _mm256_permutevar8x32_ps(pairs, _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6));
            _mm_storeu_ps(plane.add(outputs[0]), _mm256_castps256_ps128(even));
        } else {
            for (value, &at) in values.iter().zip(&outputs) {
                _mm256_storeu_ps(plane.add(at), *value);
            }
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
#[allow(clippy::too_many_arguments)]
unsafe fn tile<const V: usize, const OB: usize, const THEN: u8>(
    _: &[f32],
    _: [usize; V],
    _: &[f32],
    _: Option<&[f32]>,
    _: *mut f32,
    _: [usize; V],
    _: Shape,
) {
    unreachable!("`applies` is false off x86-64")
}
