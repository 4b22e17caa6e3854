//! A direct float32 convolution for stride 1 on AVX2 (the `cnn` model's conv2
//! forward), reading the image rows in place instead of unfolding them.
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
//! output is computed alone, so the numbers never depend on the threads.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use std::mem::MaybeUninit;

use crate::backend::Conv2dGeometry;

/// Floats in an AVX2 register: a run of output columns.
const LANES: usize = 8;
/// The longest sum the matrix kernel computes in one block (`gemm-common`'s
/// smallest `kc`); past it the direct kernel's single chain would round
/// differently, so it is not used.
const MAX_TAPS: usize = 512;
/// The shortest sum given to the direct kernel: the matrix kernel rounds
/// very short products (a 1×1 kernel over two channels) its own way, and
/// they are cheap either way.
const MIN_TAPS: usize = 16;

/// Whether a [`Plan`] computes `geo` on this CPU: stride 1, no dilation,
/// one group, output rows in whole runs of 8, an even number of output
/// channels from 4 up (blocks of 6 and 4), sums of 16 to 512 terms.
pub(super) fn applies(geo: &Conv2dGeometry) -> bool {
    let o = geo.out_channels;
    geo.stride == [1, 1]
        && geo.dilation == [1, 1]
        && geo.groups == 1
        && geo.out[1].is_multiple_of(LANES)
        && geo.out[0] * geo.out[1] > 0
        && o.is_multiple_of(2)
        && (o >= 8 || o == 4 || o == 6)
        && (MIN_TAPS..=MAX_TAPS).contains(&(geo.input[1] * geo.kernel[0] * geo.kernel[1]))
        && available()
}

pub(super) fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    false
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

/// What every image of one call shares: the weight `[o, c, kh, kw]` regrouped
/// block by block (`channel_blocks`, each block as `[c · kh · kw][size]`: a
/// tap's weights for the block adjacent), the blocks, and where each run of 8
/// output columns reads and writes.
pub(super) struct Plan<'a> {
    geo: &'a Conv2dGeometry,
    packed: Vec<f32>,
    /// `channel_blocks(o)`: `(first channel, size)`.
    pub blocks: Vec<(usize, usize)>,
    /// Whether the kernel reads a copy of the image with its padding written
    /// out, and the rows and columns of what it reads.
    padded: bool,
    h: usize,
    w: usize,
    /// Every run of 8 output columns: (offset of its first input, of its
    /// first output) within a plane.
    runs: Vec<(usize, usize)>,
}

impl<'a> Plan<'a> {
    pub(super) fn new(weight: &[f32], geo: &'a Conv2dGeometry) -> Plan<'a> {
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
        let (hp, wp) = (oh + kh - 1, ow + kw - 1);
        let padded = !(geo.pad == [0, 0] && hp <= h && wp <= w);
        let (h, w) = if padded { (hp, wp) } else { (h, w) };
        let runs = (0..oh)
            .flat_map(|y| (0..ow / LANES).map(move |r| (y * w + r * LANES, y * ow + r * LANES)))
            .collect();
        Plan {
            geo,
            packed,
            blocks,
            padded,
            h,
            w,
            runs,
        }
    }

    /// One image: output channel blocks `blocks` (indices into
    /// `self.blocks`) of the convolution of `image [c, h, w]`, plus the bias,
    /// into `out`, which holds just those blocks' channels `[_, oh, ow]`;
    /// every element of `out` is written. `padded` is scratch space.
    pub(super) fn image(
        &self,
        image: &[f32],
        bias: Option<&[f32]>,
        blocks: std::ops::Range<usize>,
        padded: &mut Vec<f32>,
        out: &mut [MaybeUninit<f32>],
    ) {
        let geo = self.geo;
        let [_, c, ih, iw] = geo.input;
        let [kh, kw] = geo.kernel;
        let [oh, ow] = geo.out;
        let (h, w) = (self.h, self.w);
        // The rows the kernel reads: the image itself, or a copy with its
        // padding written out as zeros.
        let source: &[f32] = if self.padded {
            padded.clear();
            padded.resize(c * h * w, 0.0);
            for (ci, plane) in padded.chunks_exact_mut(h * w).enumerate() {
                for (yy, row) in plane.chunks_exact_mut(w).enumerate() {
                    let Some(y) = yy.checked_sub(geo.pad[0]).filter(|&y| y < ih) else {
                        continue;
                    };
                    let src = &image[(ci * ih + y) * iw..][..iw];
                    for (xx, v) in row.iter_mut().enumerate() {
                        if let Some(x) = xx.checked_sub(geo.pad[1]).filter(|&x| x < iw) {
                            *v = src[x];
                        }
                    }
                }
            }
            padded
        } else {
            image
        };
        let taps = c * kh * kw;
        let plane = oh * ow;
        assert!(source.len() >= c * h * w);
        let geometry = Shape {
            plane: h * w,
            w,
            c,
            kh,
            kw,
            oplane: plane,
        };
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
                // runs cover every plane whole); the weights hold `size · taps`.
                unsafe {
                    match (pair, size) {
                        (&[a, b], 6) => tile::<2, 6>(
                            source,
                            [a.0, b.0],
                            weights,
                            bias,
                            dst,
                            [a.1, b.1],
                            geometry,
                        ),
                        (&[a, b], _) => tile::<2, 4>(
                            source,
                            [a.0, b.0],
                            weights,
                            bias,
                            dst,
                            [a.1, b.1],
                            geometry,
                        ),
                        (&[a], 6) => {
                            tile::<1, 6>(source, [a.0], weights, bias, dst, [a.1], geometry)
                        }
                        (_, _) => tile::<1, 4>(
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
/// within a plane) for `OB` output channels.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn tile<const V: usize, const OB: usize>(
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
                let xs: [__m256; V] =
                    std::array::from_fn(|v| _mm256_loadu_ps(row.add(inputs[v] + kx)));
                for (j, a) in acc.iter_mut().enumerate() {
                    let wv = _mm256_broadcast_ss(&*wt.add(j));
                    for (sum, x) in a.iter_mut().zip(&xs) {
                        *sum = _mm256_fmadd_ps(wv, *x, *sum);
                    }
                }
                wt = wt.add(OB);
            }
        }
    }
    for (j, a) in acc.iter().enumerate() {
        let plane = dst.add(j * s.oplane);
        for (sum, &at) in a.iter().zip(&outputs) {
            let value = match bias {
                Some(b) => _mm256_add_ps(_mm256_set1_ps(b[j]), *sum),
                None => *sum,
            };
            _mm256_storeu_ps(plane.add(at), value);
        }
    }
}

#[cfg(not(target_arch = "x86_64"))]
#[allow(clippy::too_many_arguments)]
unsafe fn tile<const V: usize, const OB: usize>(
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
