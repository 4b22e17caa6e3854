//! The CPU backend's convolutions: each image is unfolded into columns
//! (im2col: one row per kernel tap of each input channel, one column per
//! output position) and multiplied by the weight on the matrix-product kernels
//! of `gemm.rs`; the input gradient folds the columns back (col2im).
//!
//! NOTE(conv-cpu): one image at a time keeps the columns small (conv2 of the
//! `cnn` model: 288 × 576 floats, 663 KB) and the order of every sum fixed by
//! the shapes alone, so the numbers do not depend on the thread count; the
//! products themselves split between threads as any other (`gemm_into`).

use std::borrow::Cow;
use std::hint::select_unpredictable;
use std::mem::MaybeUninit;

use super::gemm::{gemm_into, Mat};
use super::runtime::{join2, num_threads};
use super::simd::simd_versions;
use super::{channel_lanes, direct_conv, winograd};
use crate::backend::math::pool_beats;
use crate::backend::{Conv2dGeometry, ConvThen, PoolWindows, View};
use crate::tensor::{with_dtype, with_float, Buffer, DType, Element, Float};

/// The elements of `v` in row-major order, borrowed when already so.
fn dense<'a, T: Element>(v: View<'a>) -> Cow<'a, [T]> {
    match v.layout.contiguous_range() {
        Some(r) => Cow::Borrowed(&v.data::<T>()[r]),
        None => Cow::Owned(super::elementwise::contiguous_vec::<T>(v)),
    }
}

/// Unfolds channels `c0..c0 + cg` of one image `[c, h, w]` into `cols`
/// `[cg · kh · kw, oh · ow]`.
fn im2col<T: Float>(geo: &Conv2dGeometry, image: &[T], c0: usize, cg: usize, cols: &mut [T]) {
    let [_, _, h, w] = geo.input;
    let [kh, kw] = geo.kernel;
    let [oh, ow] = geo.out;
    let sw = geo.stride[1];
    let mut row = 0;
    for c in c0..c0 + cg {
        let plane = &image[c * h * w..(c + 1) * h * w];
        for i in 0..kh {
            let (ys, y0) = geo.span(0, i);
            for j in 0..kw {
                let (xs, x0) = geo.span(1, j);
                let out = &mut cols[row * oh * ow..(row + 1) * oh * ow];
                for (y, line) in out.chunks_exact_mut(ow.max(1)).enumerate().take(oh) {
                    if !ys.contains(&y) {
                        line.fill(T::ZERO);
                        continue;
                    }
                    let src = &plane[(y0 + (y - ys.start) * geo.stride[0]) * w..][..w];
                    line[..xs.start].fill(T::ZERO);
                    line[xs.end..].fill(T::ZERO);
                    let inside = &mut line[xs.clone()];
                    if sw == 1 {
                        inside.copy_from_slice(&src[x0..x0 + inside.len()]);
                    } else {
                        for (k, v) in inside.iter_mut().enumerate() {
                            *v = src[x0 + k * sw];
                        }
                    }
                }
                row += 1;
            }
        }
    }
}

/// Adds the columns `cols` `[cg · kh · kw, oh · ow]` back onto channels
/// `c0..c0 + cg` of one image's gradient `[c, h, w]` (the transpose of
/// [`im2col`]).
fn col2im<T: Float>(geo: &Conv2dGeometry, cols: &[T], c0: usize, cg: usize, image: &mut [T]) {
    let [_, _, h, w] = geo.input;
    let [kh, kw] = geo.kernel;
    let [oh, ow] = geo.out;
    let sw = geo.stride[1];
    let mut row = 0;
    for c in c0..c0 + cg {
        let plane = &mut image[c * h * w..(c + 1) * h * w];
        for i in 0..kh {
            let (ys, y0) = geo.span(0, i);
            for j in 0..kw {
                let (xs, x0) = geo.span(1, j);
                let col = &cols[row * oh * ow..(row + 1) * oh * ow];
                for y in ys.clone() {
                    let dst = &mut plane[(y0 + (y - ys.start) * geo.stride[0]) * w..][..w];
                    let src = &col[y * ow..][xs.clone()];
                    if sw == 1 {
                        for (d, v) in dst[x0..x0 + src.len()].iter_mut().zip(src) {
                            *d += *v;
                        }
                    } else {
                        for (k, v) in src.iter().enumerate() {
                            dst[x0 + k * sw] += *v;
                        }
                    }
                }
                row += 1;
            }
        }
    }
}

/// Sizes of one group's product: output channels, column rows, positions.
fn group_dims(geo: &Conv2dGeometry) -> (usize, usize, usize) {
    let og = geo.out_channels / geo.groups;
    let rows = geo.input[1] / geo.groups * geo.kernel[0] * geo.kernel[1];
    (og, rows, geo.out[0] * geo.out[1])
}

/// Runs `f(first image, images, outputs)` over the batch: in two halves side
/// by side when there are threads and at least two images, else in one go.
/// `f` must compute each image on its own, so that the halves give the same
/// numbers as one pass.
fn by_images<T: Send>(
    n: usize,
    per_image: usize,
    out: &mut [T],
    f: impl Fn(usize, usize, &mut [T]) + Sync,
) {
    if num_threads() > 1 && n >= 2 {
        let half = n / 2;
        let (first, second) = out.split_at_mut(half * per_image);
        join2(|| f(0, half, first), || f(half, n - half, second));
    } else {
        f(0, n, out);
    }
}

pub(super) fn conv2d(x: View, weight: View, bias: Option<View>, geo: &Conv2dGeometry) -> Buffer {
    if x.dtype() == DType::F32 && winograd::applies(geo) {
        return conv2d_winograd(x, weight, bias, geo, false);
    }
    if x.dtype() == DType::F32 && direct_conv::applies(geo) {
        return conv2d_direct(x, weight, bias, geo, None);
    }
    conv2d_unfolded(x, weight, bias, geo)
}

/// `conv2d(x, weight, bias)` then ReLU (and pooling) in one pass on the
/// direct kernel (NOTE(conv-relu-pool)), where it applies: float32, and the
/// shapes of [`direct_conv::applies_then`].
pub(super) fn conv2d_then(
    x: View,
    weight: View,
    bias: Option<View>,
    geo: &Conv2dGeometry,
    then: ConvThen,
) -> Option<Buffer> {
    if x.dtype() != DType::F32 {
        return None;
    }
    if winograd::applies(geo) {
        // `conv2d` runs Winograd here: pooled, the same kernel finishes the
        // block; ReLU alone is left to the op, with the same bits.
        if then == ConvThen::Relu {
            return None;
        }
        return Some(conv2d_winograd(x, weight, bias, geo, true));
    }
    direct_conv::applies_then(geo, then).then(|| conv2d_direct(x, weight, bias, geo, Some(then)))
}

/// `conv2d(x, weight, bias)`, or pooled `max_pool2d(relu(conv2d(x, weight,
/// bias)), 2)`, for float32 by Winograd's F(2×2, 3×3) (NOTE(winograd)):
/// images split between the threads as in the unfolded path, and one
/// image's tile rows when there is only one.
fn conv2d_winograd(
    x: View,
    weight: View,
    bias: Option<View>,
    geo: &Conv2dGeometry,
    pooled: bool,
) -> Buffer {
    winograd_images(x, weight, bias, geo, pooled, None)
}

/// [`conv2d_winograd`], and pooled with `indices` (the pooled planes' size
/// in bytes), where each window's maximum was (NOTE(conv-relu-pool-training)).
fn winograd_images(
    x: View,
    weight: View,
    bias: Option<View>,
    geo: &Conv2dGeometry,
    pooled: bool,
    indices: Option<&mut [MaybeUninit<u8>]>,
) -> Buffer {
    let [n, c, h, w] = geo.input;
    let (x, weight) = (dense::<f32>(x), dense::<f32>(weight));
    let bias = bias.map(dense::<f32>);
    let bias = bias.as_deref();
    let plane = winograd::plane(geo, pooled);
    let per_image = geo.out_channels * plane;
    // Not zeroed first: the kernel writes every element.
    let mut out = Vec::with_capacity(n * per_image);
    let spare = &mut out.spare_capacity_mut()[..n * per_image];
    let indices = indices.map(|i| {
        assert!(pooled && i.len() == n * per_image);
        SendPtr(i.as_mut_ptr() as *mut u8)
    });
    let indices_at = |first: usize| match &indices {
        // SAFETY: `first` is at most `n · per_image`, inside `indices`.
        Some(SendPtr(p)) => unsafe { p.add(first) },
        None => std::ptr::null_mut(),
    };
    let plan = winograd::Winograd::new(&weight, geo, pooled);
    let rows = geo.out[0] / 2;
    if n == 1 && num_threads() > 1 && rows >= 2 {
        // The two threads take half the tile rows each: each transforms its
        // part of the image only.
        let out = SendPtr(spare.as_mut_ptr() as *mut f32);
        let run = |range: std::ops::Range<usize>| {
            let out = &out;
            // SAFETY: `spare` (and `indices`) hold the image's `per_image`
            // outputs, and the two calls write disjoint rows of them.
            unsafe {
                plan.image(
                    &x,
                    bias,
                    range,
                    &mut Default::default(),
                    out.0,
                    indices_at(0),
                )
            }
        };
        join2(|| run(0..rows / 2), || run(rows / 2..rows));
    } else {
        by_images(n, per_image, spare, |start, count, out| {
            let mut scratch = Default::default();
            for (i, dst) in out
                .chunks_exact_mut(per_image.max(1))
                .enumerate()
                .take(count)
            {
                let image = &x[(start + i) * c * h * w..][..c * h * w];
                // SAFETY: `dst` is this image's `per_image` outputs, this
                // thread's alone, and so are its indices.
                unsafe {
                    plan.image(
                        image,
                        bias,
                        0..rows,
                        &mut scratch,
                        dst.as_mut_ptr() as *mut f32,
                        indices_at((start + i) * per_image),
                    )
                };
            }
        });
    }
    // SAFETY: every image's (or every channel block's) elements were written
    // by `Winograd::image`, which writes all of its output (and indices).
    unsafe { out.set_len(n * per_image) };
    f32::into_buffer(out)
}

/// NOTE(conv-relu-pool-training): in training, the `cnn` model's `conv2 →
/// ReLU → max_pool2d(2)` block runs as one pass on Winograd's kernel where
/// it applies (float32, AVX-512): each tile's four outputs get the bias and
/// ReLU in registers, and only their maximum and where it was (a byte, 0 to
/// 3) are stored, not the convolution's and ReLU's full planes. The
/// backward pass then writes the convolution's output gradient in one pass:
/// each window's gradient at its maximum's place when that maximum is
/// positive, zero elsewhere. These are the bits of the separate ops
/// (`max_pool2d`'s first maximum, ReLU's step at zero), and the graph has
/// their nodes, `MaxPool2DWithIndicesBackward0` → `ReluBackward0` →
/// `ConvolutionBackward0`; only the intermediate planes are never written
/// (`fused_training_block_gives_the_separate_ops_bits`).
pub(super) fn conv2d_relu_pool2(
    x: View,
    weight: View,
    bias: Option<View>,
    geo: &Conv2dGeometry,
) -> Option<(Buffer, Buffer)> {
    if x.dtype() != DType::F32 || !winograd::applies(geo) {
        return None;
    }
    let len = geo.input[0] * geo.out_channels * winograd::plane(geo, true);
    let mut indices: Vec<u8> = Vec::with_capacity(len);
    let out = winograd_images(
        x,
        weight,
        bias,
        geo,
        true,
        Some(&mut indices.spare_capacity_mut()[..len]),
    );
    // SAFETY: `winograd_images` wrote every index.
    unsafe { indices.set_len(len) };
    Some((out, u8::into_buffer(indices)))
}

/// The gradient of [`conv2d_relu_pool2`]'s convolution output `[n, o, oh,
/// ow]` from the pooled gradient `g` `[n, o, oh / 2, ow / 2]`, the pooled
/// values and their `indices`: each window's gradient at its maximum's
/// place when the maximum is positive, zero everywhere else
/// (NOTE(conv-relu-pool-training)).
pub(super) fn relu_pool2_grad(g: View, pooled: View, indices: View, out: [usize; 4]) -> Buffer {
    let [n, o, oh, ow] = out;
    let (g, pooled, indices) = (dense::<f32>(g), dense::<f32>(pooled), dense::<u8>(indices));
    let (pw, per_plane) = (ow / 2, oh / 2 * (ow / 2));
    assert!(oh.is_multiple_of(2) && ow.is_multiple_of(2));
    assert!(g.len() == n * o * per_plane && pooled.len() == g.len() && indices.len() == g.len());
    let mut dx = Vec::with_capacity(n * o * oh * ow);
    let planes = n * o;
    let run = |first: usize, dx: &mut [MaybeUninit<f32>]| {
        for (k, plane) in dx.chunks_exact_mut((oh * ow).max(1)).enumerate() {
            let at = (first + k) * per_plane;
            let (g, pooled, idx) = (
                &g[at..][..per_plane],
                &pooled[at..][..per_plane],
                &indices[at..][..per_plane],
            );
            for (ty, rows) in plane.chunks_exact_mut(2 * ow).enumerate() {
                let (top, bottom) = rows.split_at_mut(ow);
                let t = ty * pw;
                // SAFETY: only Winograd's pooled convolution makes these
                // indices, where `winograd::applies` checked AVX-512; the row
                // reads `pw` values of each from `t` (inside the plane's
                // `per_plane`) and writes the `ow = 2 · pw` of `top` and of
                // `bottom`.
                unsafe {
                    winograd::relu_pool2_grad_row(
                        g[t..][..pw].as_ptr(),
                        pooled[t..][..pw].as_ptr(),
                        idx[t..][..pw].as_ptr(),
                        pw,
                        top.as_mut_ptr() as *mut f32,
                        bottom.as_mut_ptr() as *mut f32,
                    )
                };
            }
        }
    };
    let spare = &mut dx.spare_capacity_mut()[..n * o * oh * ow];
    if num_threads() > 1 && planes >= 2 {
        let half = planes / 2;
        let (first, second) = spare.split_at_mut(half * oh * ow);
        join2(|| run(0, first), || run(half, second));
    } else {
        run(0, spare);
    }
    // SAFETY: `oh` and `ow` are even (Winograd's tiles), so the rows of each
    // plane are whole pairs, and every element of every pair was written.
    unsafe { dx.set_len(n * o * oh * ow) };
    f32::into_buffer(dx)
}

/// A pointer that two threads write disjoint parts through.
struct SendPtr<T>(*mut T);
// SAFETY: the users of `SendPtr` write disjoint elements from each thread.
unsafe impl<T> Sync for SendPtr<T> {}

/// [`conv2d`] by im2col and the matrix kernels, for every dtype and geometry.
fn conv2d_unfolded(x: View, weight: View, bias: Option<View>, geo: &Conv2dGeometry) -> Buffer {
    let [n, c, h, w] = geo.input;
    let (og, rows, positions) = group_dims(geo);
    let cg = c / geo.groups;
    with_float!(x.dtype(), T => {
        let (x, weight) = (dense::<T>(x), dense::<T>(weight));
        let bias = bias.map(dense::<T>);
        let per_image = geo.out_channels * positions;
        // The output is not zeroed first: each image's part is set to the bias
        // (or zeros) just before its product, while it is in cache, on the
        // thread that computes it.
        let mut out = Vec::with_capacity(n * per_image);
        by_images(n, per_image, &mut out.spare_capacity_mut()[..n * per_image], |start, count, out| {
            let mut cols = vec![T::ZERO; rows * positions];
            // Driven by the output, so that every image's part is written even
            // when the input has no elements.
            for (i, dst) in out.chunks_exact_mut(per_image.max(1)).enumerate().take(count) {
                let image = &x[(start + i) * c * h * w..][..c * h * w];
                for (o, plane) in dst.chunks_exact_mut(positions.max(1)).enumerate() {
                    plane.fill(MaybeUninit::new(bias.as_ref().map_or(T::ZERO, |b| b[o])));
                }
                // SAFETY: every element of `dst` was written just above.
                let dst = unsafe { &mut *(dst as *mut [MaybeUninit<T>] as *mut [T]) };
                for g in 0..geo.groups {
                    im2col(geo, image, g * cg, cg, &mut cols);
                    gemm_into(
                        og,
                        positions,
                        rows,
                        &mut dst[g * og * positions..(g + 1) * og * positions],
                        bias.is_some(),
                        &weight,
                        Mat { offset: g * og * rows, rs: rows, cs: 1 },
                        &cols,
                        Mat { offset: 0, rs: positions, cs: 1 },
                    );
                }
            }
        });
        // SAFETY: `by_images` ran over all `n` images, and each image's
        // `per_image` elements were written.
        unsafe { out.set_len(n * per_image) };
        T::into_buffer(out)
    })
}

/// [`conv2d`] for float32 on the direct kernel (NOTE(direct-conv)), pooled
/// or not: images split between the threads as in the unfolded path, and one
/// image's output channels when there is only one.
fn conv2d_direct(
    x: View,
    weight: View,
    bias: Option<View>,
    geo: &Conv2dGeometry,
    then: Option<ConvThen>,
) -> Buffer {
    let [n, c, h, w] = geo.input;
    let (x, weight) = (dense::<f32>(x), dense::<f32>(weight));
    let bias = bias.map(dense::<f32>);
    let bias = bias.as_deref();
    let plan = direct_conv::Plan::new(&weight, geo, then);
    let blocks = plan.blocks.len();
    let plane = plan.plane;
    let per_image = geo.out_channels * plane;
    // Not zeroed first: the kernel writes every element.
    let mut out = Vec::with_capacity(n * per_image);
    let spare = &mut out.spare_capacity_mut()[..n * per_image];
    if n == 1 && num_threads() > 1 && blocks >= 2 {
        let half = blocks / 2;
        let (first, second) = spare.split_at_mut(plan.blocks[half].0 * plane);
        let run = |range: std::ops::Range<usize>, out: &mut [MaybeUninit<f32>]| {
            plan.image(&x, bias, range, &mut Vec::new(), out)
        };
        join2(|| run(0..half, first), || run(half..blocks, second));
    } else {
        by_images(n, per_image, spare, |start, count, out| {
            let mut padded = Vec::new();
            for (i, dst) in out
                .chunks_exact_mut(per_image.max(1))
                .enumerate()
                .take(count)
            {
                let image = &x[(start + i) * c * h * w..][..c * h * w];
                plan.image(image, bias, 0..blocks, &mut padded, dst);
            }
        });
    }
    // SAFETY: every image's (or every channel block's) elements were written
    // by `Plan::image`, which writes all of its output.
    unsafe { out.set_len(n * per_image) };
    f32::into_buffer(out)
}

pub(super) fn conv2d_grad_input(g: View, weight: View, geo: &Conv2dGeometry) -> Buffer {
    let [n, c, h, w] = geo.input;
    if g.dtype() == DType::F32 && channel_lanes::input_grad_applies(geo) {
        // NOTE(channel-lanes-input-grad).
        let (g, weight) = (dense::<f32>(g), dense::<f32>(weight));
        let mut dx = Vec::with_capacity(n * c * h * w);
        by_images(
            n,
            c * h * w,
            &mut dx.spare_capacity_mut()[..n * c * h * w],
            |start, count, dx| {
                channel_lanes::input_grad(geo, &g, &weight, start..start + count, dx)
            },
        );
        // SAFETY: `input_grad` wrote every image's elements.
        unsafe { dx.set_len(n * c * h * w) };
        return f32::into_buffer(dx);
    }
    let (og, rows, positions) = group_dims(geo);
    let cg = c / geo.groups;
    with_float!(g.dtype(), T => {
        let (g, weight) = (dense::<T>(g), dense::<T>(weight));
        let per_image = geo.out_channels * positions;
        // Zeroed image by image just before the image's columns are added
        // (in cache, on the thread that adds them), not all at once first.
        let mut dx = Vec::with_capacity(n * c * h * w);
        by_images(n, c * h * w, &mut dx.spare_capacity_mut()[..n * c * h * w], |start, count, dx| {
            let mut cols = vec![T::ZERO; rows * positions];
            for (i, dst) in dx.chunks_exact_mut((c * h * w).max(1)).enumerate().take(count) {
                let grad = &g[(start + i) * per_image..][..per_image];
                dst.fill(MaybeUninit::new(T::ZERO));
                // SAFETY: every element of `dst` was written just above.
                let dst = unsafe { &mut *(dst as *mut [MaybeUninit<T>] as *mut [T]) };
                for gi in 0..geo.groups {
                    // cols = W_gᵀ · g_g: the weight read transposed through its strides.
                    gemm_into(
                        rows,
                        positions,
                        og,
                        &mut cols,
                        false,
                        &weight,
                        Mat { offset: gi * og * rows, rs: 1, cs: rows },
                        grad,
                        Mat { offset: gi * og * positions, rs: positions, cs: 1 },
                    );
                    col2im(geo, &cols, gi * cg, cg, dst);
                }
            }
        });
        // SAFETY: `by_images` ran over all `n` images, each zeroed whole.
        unsafe { dx.set_len(n * c * h * w) };
        T::into_buffer(dx)
    })
}

/// `dW += g · colsᵀ` over `images`, image after image, into `dw`
/// (overwritten by the first).
fn weight_grad_of<T: Float>(
    geo: &Conv2dGeometry,
    g: &[T],
    x: &[T],
    images: std::ops::Range<usize>,
    dw: &mut [T],
) {
    let [_, c, h, w] = geo.input;
    let (og, rows, positions) = group_dims(geo);
    let cg = c / geo.groups;
    let per_image = geo.out_channels * positions;
    let mut cols = vec![T::ZERO; rows * positions];
    let pairs = g
        .chunks_exact(per_image.max(1))
        .zip(x.chunks_exact((c * h * w).max(1)))
        .skip(images.start)
        .take(images.len());
    for (i, (grad, image)) in pairs.enumerate() {
        for gi in 0..geo.groups {
            im2col(geo, image, gi * cg, cg, &mut cols);
            gemm_into(
                og,
                rows,
                positions,
                &mut dw[gi * og * rows..(gi + 1) * og * rows],
                i > 0,
                grad,
                Mat {
                    offset: gi * og * positions,
                    rs: positions,
                    cs: 1,
                },
                &cols,
                Mat {
                    offset: 0,
                    rs: 1,
                    cs: positions,
                },
            );
        }
    }
}

/// NOTE(conv-weight-grad): the batch's two halves (split at `n / 2`) are
/// summed separately and then added, with one thread as with two, so the
/// numbers do not depend on the thread count. Float32 stride-1 convolutions
/// take the channel-lanes kernel on AVX-512 with output channels in
/// sixteens (the `cnn` model's conv1 and conv2, NOTE(channel-lanes)), else
/// the direct kernel (NOTE(direct-conv-weight-grad)), in the same two
/// halves.
pub(super) fn conv2d_grad_weight(g: View, x: View, geo: &Conv2dGeometry) -> Buffer {
    let n = geo.input[0];
    let len = geo.out_channels * group_dims(geo).1;
    if g.dtype() == DType::F32 && channel_lanes::weight_grad_applies(geo) {
        // NOTE(channel-lanes).
        let (g, x) = (dense::<f32>(g), dense::<f32>(x));
        let (g, x) = (&*g, &*x);
        let dw = summed_in_halves(n, len, |images, dw| {
            channel_lanes::weight_grad(geo, g, x, images, dw)
        });
        return f32::into_buffer(dw);
    }
    if g.dtype() == DType::F32 && direct_conv::weight_grad_applies(geo) {
        // NOTE(direct-conv-weight-grad).
        let (g, x) = (dense::<f32>(g), dense::<f32>(x));
        let (g, x) = (&*g, &*x);
        let dw = summed_in_halves(n, len, |images, dw| {
            direct_conv::weight_grad(geo, g, x, images, dw)
        });
        return f32::into_buffer(dw);
    }
    with_float!(g.dtype(), T => {
        let (g, x) = (dense::<T>(g), dense::<T>(x));
        let (g, x) = (&*g, &*x);
        T::into_buffer(summed_in_halves(n, len, |images, dw| weight_grad_of(geo, g, x, images, dw)))
    })
}

/// `sum(images, out)` over the batch's `n` images in two halves (split at
/// `n / 2`, side by side when there are threads), each into its own `len`
/// elements, then added (NOTE(conv-weight-grad)); one call when `n < 2`.
/// `sum` overwrites what it is given.
fn summed_in_halves<T: Float>(
    n: usize,
    len: usize,
    sum: impl Fn(std::ops::Range<usize>, &mut [T]) + Sync,
) -> Vec<T> {
    let mut first = vec![T::ZERO; len];
    if n < 2 {
        sum(0..n, &mut first);
        return first;
    }
    let half = n / 2;
    let mut second = vec![T::ZERO; len];
    if num_threads() > 1 {
        let (a, b) = (&mut first, &mut second);
        join2(|| sum(0..half, a), || sum(half..n, b));
    } else {
        sum(0..half, &mut first);
        sum(half..n, &mut second);
    }
    for (d, s) in first.iter_mut().zip(&second) {
        *d += *s;
    }
    first
}

/// NOTE(conv-bias-grad): as the weight gradient, the batch's two halves
/// (split at `n / 2`) are summed separately, side by side when there are
/// threads, and then added: the same numbers with one thread as with two.
pub(super) fn conv2d_grad_bias(g: View, geo: &Conv2dGeometry) -> Buffer {
    let [n, o, oh, ow] = geo.output_shape();
    let positions = oh * ow;
    with_float!(g.dtype(), T => {
        let g = dense::<T>(g);
        let per_image = (o * positions).max(1);
        // The per-channel sums of images `images` into `sums`.
        let sum_of = |images: std::ops::Range<usize>, sums: &mut [f64]| {
            for image in g.chunks_exact(per_image).skip(images.start).take(images.len()) {
                for (sum, plane) in sums.iter_mut().zip(image.chunks_exact(positions.max(1))) {
                    *sum += plane_sum(plane);
                }
            }
        };
        let (mut first, mut second) = (vec![0.0f64; o], vec![0.0f64; o]);
        let half = n / 2;
        if num_threads() > 1 && n >= 2 {
            join2(|| sum_of(0..half, &mut first), || sum_of(half..n, &mut second));
        } else {
            sum_of(0..half, &mut first);
            sum_of(half..n, &mut second);
        }
        T::into_buffer(first.iter().zip(&second).map(|(a, b)| T::from_f64(a + b)).collect())
    })
}

/// For each output position along `axis`, the input positions its window
/// reads (those inside the input), in kernel order.
fn window_sources(geo: &Conv2dGeometry, axis: usize) -> Vec<Vec<usize>> {
    let mut out = vec![Vec::new(); geo.out[axis]];
    for k in 0..geo.kernel[axis] {
        let (range, first) = geo.span(axis, k);
        for o in range.clone() {
            out[o].push(first + (o - range.start) * geo.stride[axis]);
        }
    }
    out
}

/// Max pooling of one plane `[_, w]` into rows of `ow` outputs, whose windows
/// tile it (stride equal to the kernel, no padding or dilation): each window's
/// taps are visited in PyTorch's order for a whole output row at once, with
/// selects instead of branches (which the data makes unpredictable), so the
/// result is the same: the first maximum, or the last NaN.
fn pool_tiled<T: Element + PartialOrd>(
    plane: &[T],
    w: usize,
    kernel: [usize; 2],
    ow: usize,
    out: &mut [T],
    idx: &mut [i64],
) {
    if kernel == [2, 2] && T::DTYPE == DType::F32 {
        // SAFETY: T is f32 (checked), so the slices hold f32.
        let (plane, out) = unsafe {
            (
                std::slice::from_raw_parts(plane.as_ptr() as *const f32, plane.len()),
                std::slice::from_raw_parts_mut(out.as_mut_ptr() as *mut f32, out.len()),
            )
        };
        return pool_2x2_f32(plane, w, ow, out, idx);
    }
    // The common widths with the width known to the compiler.
    match kernel[1] {
        2 => pool_tiled_by::<T, 2>(plane, w, kernel, ow, out, idx),
        3 => pool_tiled_by::<T, 3>(plane, w, kernel, ow, out, idx),
        _ => pool_tiled_by::<T, 0>(plane, w, kernel, ow, out, idx),
    }
}

/// [`pool_tiled`] for `max_pool2d(2)` in float32 (the `cnn` model's).
fn pool_2x2_f32(plane: &[f32], w: usize, ow: usize, out: &mut [f32], idx: &mut [i64]) {
    if ow == 0 {
        return;
    }
    let mut taps = vec![0u8; ow];
    for (y, (out, idx)) in out
        .chunks_exact_mut(ow)
        .zip(idx.chunks_exact_mut(ow))
        .enumerate()
    {
        let r0 = 2 * y * w;
        let (top, bottom) = (&plane[r0..r0 + 2 * ow], &plane[r0 + w..r0 + w + 2 * ow]);
        pool_row_2x2(top, bottom, out, &mut taps);
        for (xo, (at, &k)) in idx.iter_mut().zip(&taps).enumerate() {
            *at = (r0 + 2 * xo + usize::from(k >> 1) * w + usize::from(k & 1)) as i64;
        }
    }
}

simd_versions! {
    /// The sum of `plane` in float64: eight running sums side by side, then
    /// added in a fixed order (a single sum is bound by the adder's latency).
    fn plane_sum<T: Float>(plane: &[T]) -> f64 {
        let mut lanes = [0.0f64; 8];
        let mut chunks = plane.chunks_exact(8);
        for c in &mut chunks {
            for (l, v) in lanes.iter_mut().zip(c) {
                *l += v.to_f64();
            }
        }
        for (l, v) in lanes.iter_mut().zip(chunks.remainder()) {
            *l += v.to_f64();
        }
        lanes.iter().sum::<f64>()
    }
}

simd_versions! {
    /// One output row of [`pool_2x2_f32`]: each window's maximum into `out`
    /// and its tap (0..4, row-major) into `taps`, with the selects written as
    /// bit masks so that nothing branches on the data and the loop vectorizes.
    fn pool_row_2x2<>(top: &[f32], bottom: &[f32], out: &mut [f32], taps: &mut [u8]) -> () {
        let windows = top.chunks_exact(2).zip(bottom.chunks_exact(2));
        for ((t, b), (o, at)) in windows.zip(out.iter_mut().zip(taps.iter_mut())) {
            let (mut best, mut k) = (t[0], 0u32);
            for (tap, v) in [(1u32, t[1]), (2, b[0]), (3, b[1])] {
                let take = (v > best) | v.is_nan();
                let m = 0u32.wrapping_sub(u32::from(take));
                best = f32::from_bits((v.to_bits() & m) | (best.to_bits() & !m));
                k = (tap & m) | (k & !m);
            }
            *o = best;
            *at = k as u8;
        }
    }
}

/// [`pool_tiled`] for windows `KW` wide (0: `kernel[1]` wide).
fn pool_tiled_by<T: Element + PartialOrd, const KW: usize>(
    plane: &[T],
    w: usize,
    [kh, kw]: [usize; 2],
    ow: usize,
    out: &mut [T],
    idx: &mut [i64],
) {
    let kw = if KW > 0 { KW } else { kw };
    if ow == 0 || kw == 0 {
        return;
    }
    for (y, (out, idx)) in out
        .chunks_exact_mut(ow)
        .zip(idx.chunks_exact_mut(ow))
        .enumerate()
    {
        let top = y * kh * w;
        for (xo, (o, at)) in out.iter_mut().zip(idx.iter_mut()).enumerate() {
            *o = plane[top + xo * kw];
            *at = (top + xo * kw) as i64;
        }
        for i in 0..kh {
            let row = top + i * w;
            let line = &plane[row..row + ow * kw];
            for j in (0..kw).skip(usize::from(i == 0)) {
                let taps = line
                    .chunks_exact(kw)
                    .zip(out.iter_mut().zip(idx.iter_mut()));
                for (xo, (window, (o, at))) in taps.enumerate() {
                    let v = window[j];
                    let take = pool_beats(v, *o);
                    *o = select_unpredictable(take, v, *o);
                    *at = select_unpredictable(take, (row + xo * kw + j) as i64, *at);
                }
            }
        }
    }
}

/// Runs `run(first plane, values, indices)` over a max pool's `planes`
/// output planes of `per_plane` elements: in two halves side by side when
/// there are threads (planes are independent, so the numbers are the same).
fn by_planes<T: Send, I: Send>(
    planes: usize,
    per_plane: usize,
    out: &mut [T],
    indices: &mut [I],
    run: impl Fn(usize, &mut [T], &mut [I]) + Sync,
) {
    if num_threads() > 1 && planes >= 2 && per_plane > 0 {
        let half = planes / 2;
        let (o1, o2) = out.split_at_mut(half * per_plane);
        let (i1, i2) = indices.split_at_mut(half * per_plane);
        join2(|| run(0, o1, i1), || run(half, o2, i2));
    } else {
        run(0, out, indices);
    }
}

pub(super) fn max_pool2d(x: View, geo: &Conv2dGeometry) -> (Buffer, Buffer) {
    let [n, c, h, w] = geo.input;
    let [oh, ow] = geo.out;
    let (rows, cols) = (window_sources(geo, 0), window_sources(geo, 1));
    // The common case (`max_pool2d(2)` and the like: windows that tile the
    // input without padding or dilation) reads each window directly.
    let tiled = geo.pad == [0, 0]
        && geo.dilation == [1, 1]
        && geo.stride == geo.kernel
        && oh * geo.kernel[0] <= h
        && ow * geo.kernel[1] <= w;
    with_dtype!(x.dtype(), T => {
        let x = dense::<T>(x);
        let planes = n * c;
        let per_plane = oh * ow;
        let len = planes * per_plane;
        let (mut out, mut indices) = (Vec::with_capacity(len), Vec::with_capacity(len));
        // One input plane into its outputs.
        let pool = |plane: &[T], out: &mut [T], idx: &mut [i64]| {
            if tiled {
                return pool_tiled(plane, w, geo.kernel, ow, out, idx);
            }
            for y in 0..oh {
                for xo in 0..ow {
                    let (v, at) = match (rows[y].first(), cols[xo].first()) {
                        (Some(&r0), Some(&c0)) => {
                            // Plain compares from the window's first
                            // element on (comparing it again changes nothing).
                            let (mut best, mut at) = (plane[r0 * w + c0], r0 * w + c0);
                            for &sy in &rows[y] {
                                let line = &plane[sy * w..][..w];
                                for &sx in &cols[xo] {
                                    if pool_beats(line[sx], best) {
                                        (best, at) = (line[sx], sy * w + sx);
                                    }
                                }
                            }
                            (best, at as i64)
                        }
                        _ => (T::from_f64(f64::NEG_INFINITY), geo.empty_window_index(y, xo)),
                    };
                    out[y * ow + xo] = v;
                    idx[y * ow + xo] = at;
                }
            }
        };
        // Each plane's outputs are set to zero just before it is pooled, on
        // the thread that pools it (not all at once first, on one thread).
        let run = |first: usize, out: &mut [MaybeUninit<T>], idx: &mut [MaybeUninit<i64>]| {
            let mut inputs = x.chunks_exact((h * w).max(1)).skip(first);
            let outputs = out.chunks_exact_mut(per_plane.max(1)).zip(idx.chunks_exact_mut(per_plane.max(1)));
            // Driven by the outputs, so that every one is set.
            for (o, i) in outputs {
                o.fill(MaybeUninit::new(T::default()));
                i.fill(MaybeUninit::new(0));
                // SAFETY: every element of `o` and `i` was written just above.
                let (o, i) = unsafe {
                    (
                        &mut *(o as *mut [MaybeUninit<T>] as *mut [T]),
                        &mut *(i as *mut [MaybeUninit<i64>] as *mut [i64]),
                    )
                };
                if let Some(plane) = inputs.next() {
                    pool(plane, o, i);
                }
            }
        };
        let (o, i) = (&mut out.spare_capacity_mut()[..len], &mut indices.spare_capacity_mut()[..len]);
        by_planes(planes, per_plane, o, i, run);
        // SAFETY: the planes of `by_planes`' halves cover all `len` outputs,
        // each set just before it was pooled.
        unsafe {
            out.set_len(len);
            indices.set_len(len);
        }
        (T::into_buffer(out), i64::into_buffer(indices))
    })
}

pub(super) fn max_pool2d_grad(g: View, indices: View, input: [usize; 4]) -> Buffer {
    let [n, c, h, w] = input;
    let positions = g.shape()[2] * g.shape()[3];
    let indices = dense::<i64>(indices);
    with_float!(g.dtype(), T => {
        let g = dense::<T>(g);
        let len = n * c * h * w;
        let mut dx = Vec::with_capacity(len);
        // Each output's gradient added at its maximum's place, plane by plane
        // (planes are independent: the two halves give the same numbers),
        // each plane zeroed just before, on the thread that fills it.
        let run = |first: usize, dx: &mut [MaybeUninit<T>]| {
            let mut grads = g.chunks_exact(positions.max(1)).skip(first);
            let mut places = indices.chunks_exact(positions.max(1)).skip(first);
            // Driven by the planes, so that every plane is zeroed.
            for plane in dx.chunks_exact_mut((h * w).max(1)) {
                plane.fill(MaybeUninit::new(T::ZERO));
                // SAFETY: every element of `plane` was written just above.
                let plane = unsafe { &mut *(plane as *mut [MaybeUninit<T>] as *mut [T]) };
                let (Some(grad), Some(idx)) = (grads.next(), places.next()) else {
                    continue;
                };
                for (&v, &i) in grad.iter().zip(idx) {
                    if let Some(p) = usize::try_from(i).ok().and_then(|i| plane.get_mut(i)) {
                        *p += v;
                    }
                }
            }
        };
        let planes = n * c;
        let spare = &mut dx.spare_capacity_mut()[..len];
        if num_threads() > 1 && planes >= 2 && len >= 1 << 16 {
            let half = planes / 2;
            let (first, second) = spare.split_at_mut(half * h * w);
            join2(|| run(0, first), || run(half, second));
        } else {
            run(0, spare);
        }
        // SAFETY: the two halves' planes cover all `len` elements, and `run`
        // zeroes every plane it is given.
        unsafe { dx.set_len(len) };
        T::into_buffer(dx)
    })
}

pub(super) fn adaptive_max_pool2d(x: View, win: &PoolWindows) -> (Buffer, Buffer) {
    let [n, c, h, w] = win.input;
    let per_plane = win.rows.len() * win.cols.len();
    with_float!(x.dtype(), T => {
        let x = dense::<T>(x);
        let mut out = vec![T::ZERO; n * c * per_plane];
        let mut indices = vec![-1i64; n * c * per_plane];
        // One input plane into its outputs: each window's taps row by row,
        // the first maximum (or the last NaN) winning, as in PyTorch.
        let pool = |plane: &[T], out: &mut [T], idx: &mut [i64]| {
            let windows = win.rows.iter().flat_map(|r| win.cols.iter().map(move |c| (r, c)));
            for ((rows, cols), (o, at)) in windows.zip(out.iter_mut().zip(idx.iter_mut())) {
                let mut best: Option<(T, usize)> = None;
                for r in rows.clone() {
                    for (col, &v) in plane[r * w..][cols.clone()].iter().enumerate() {
                        if best.is_none_or(|(m, _)| pool_beats(v, m)) {
                            best = Some((v, r * w + cols.start + col));
                        }
                    }
                }
                if let Some((v, i)) = best {
                    (*o, *at) = (v, i as i64);
                }
            }
        };
        let run = |first: usize, out: &mut [T], idx: &mut [i64]| {
            let planes = x.chunks_exact((h * w).max(1)).skip(first);
            let outputs = out.chunks_exact_mut(per_plane.max(1)).zip(idx.chunks_exact_mut(per_plane.max(1)));
            for (plane, (o, i)) in planes.zip(outputs) {
                pool(plane, o, i);
            }
        };
        by_planes(n * c, per_plane, &mut out, &mut indices, run);
        (T::into_buffer(out), i64::into_buffer(indices))
    })
}

pub(super) fn avg_pool2d(x: View, win: &PoolWindows) -> Buffer {
    let [n, c, h, w] = win.input;
    let (oh, ow) = (win.rows.len(), win.cols.len());
    with_float!(x.dtype(), T => {
        let x = dense::<T>(x);
        let mut out = vec![T::ZERO; n * c * oh * ow];
        by_images(n * c, oh * ow, &mut out, |first, count, out| {
            let planes = x.chunks_exact((h * w).max(1)).skip(first).take(count);
            for (plane, dst) in planes.zip(out.chunks_exact_mut((oh * ow).max(1))) {
                for (y, rows) in win.rows.iter().enumerate() {
                    for (xo, cols) in win.cols.iter().enumerate() {
                        let mut sum = 0.0f64;
                        for r in rows.clone() {
                            for v in &plane[r * w + cols.start..r * w + cols.end] {
                                sum += v.to_f64();
                            }
                        }
                        dst[y * ow + xo] = T::from_f64(sum / win.divisor[y * ow + xo]);
                    }
                }
            }
        });
        T::into_buffer(out)
    })
}

pub(super) fn avg_pool2d_grad(g: View, win: &PoolWindows) -> Buffer {
    let [n, c, h, w] = win.input;
    let (oh, ow) = (win.rows.len(), win.cols.len());
    with_float!(g.dtype(), T => {
        let g = dense::<T>(g);
        let mut dx = vec![T::ZERO; n * c * h * w];
        by_images(n * c, h * w, &mut dx, |first, count, dx| {
            let grads = g.chunks_exact((oh * ow).max(1)).skip(first).take(count);
            for (grad, plane) in grads.zip(dx.chunks_exact_mut((h * w).max(1))) {
                for (y, rows) in win.rows.iter().enumerate() {
                    for (xo, cols) in win.cols.iter().enumerate() {
                        let share = T::from_f64(grad[y * ow + xo].to_f64() / win.divisor[y * ow + xo]);
                        for r in rows.clone() {
                            for v in &mut plane[r * w + cols.start..r * w + cols.end] {
                                *v += share;
                            }
                        }
                    }
                }
            }
        });
        T::into_buffer(dx)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::read3;
    use crate::tensor::{Generator, Tensor};
    use crate::ConvOptions;

    /// A stride-1 convolution of `input` to `o` channels with a `k × k`
    /// kernel, `pad` before, and an output of `out`.
    fn stride_one(
        input: [usize; 4],
        o: usize,
        k: usize,
        pad: [usize; 2],
        out: [usize; 2],
    ) -> Conv2dGeometry {
        Conv2dGeometry {
            input,
            out_channels: o,
            kernel: [k, k],
            stride: [1, 1],
            pad,
            dilation: [1, 1],
            groups: 1,
            out,
        }
    }

    /// A weight-gradient case: `(n, c, o, h, w, k, pad before, output)`.
    type GradCase = (
        usize,
        usize,
        usize,
        usize,
        usize,
        usize,
        [usize; 2],
        [usize; 2],
    );

    /// For each case (where `applies` must hold): the same bits on one
    /// thread and on two, and within float32 rounding of the float64 path.
    fn weight_gradients_agree_with_float64(
        cases: &[GradCase],
        g: &mut Generator,
        applies: fn(&Conv2dGeometry) -> bool,
    ) {
        for (i, &(n, c, o, h, w, k, pad, out)) in cases.iter().enumerate() {
            let geo = stride_one([n, c, h, w], o, k, pad, out);
            assert!(applies(&geo), "case {i}");
            let grad = Tensor::randn_with([n, o, out[0], out[1]], g);
            let x = Tensor::randn_with([n, c, h, w], g);
            let run = |grad: &Tensor, x: &Tensor| {
                let buf = crate::ops::read2(grad, x, |g, x| conv2d_grad_weight(g, x, &geo));
                Tensor::from_buffer_on(buf, &[o, c, k, k], crate::Device::Cpu)
                    .to_dtype(DType::F64)
                    .to_vec::<f64>()
            };
            let [one, two] = [1, 2].map(|threads| crate::with_threads(threads, || run(&grad, &x)));
            assert_eq!(one, two, "case {i}: one thread and two");
            let exact = run(&grad.to_dtype(DType::F64), &x.to_dtype(DType::F64));
            // Each value sums n·oh·ow products of two standard normals.
            let tolerance = 1e-6 * (n * out[0] * out[1]) as f64;
            for (j, (a, b)) in two.iter().zip(&exact).enumerate() {
                assert!(
                    (a - b).abs() <= tolerance,
                    "case {i}, element {j}: {a} vs {b}"
                );
            }
        }
    }

    /// Where the direct kernel runs (NOTE(direct-conv)), it gives the bits
    /// that im2col and the matrix kernel give: one and several images, tiles
    /// of one and two runs, channel blocks of 6 and 4, padding, and the `cnn`
    /// model's conv2 itself.
    #[test]
    fn direct_and_unfolded_convolutions_give_the_same_bits() {
        if !direct_conv::available() {
            return;
        }
        let cases = [
            // (n, c, o, h, w, k, pad)
            (1, 32, 64, 26, 26, 3, 0), // conv2, one image: channels split
            (3, 32, 64, 26, 26, 3, 0), // several images
            (2, 3, 8, 10, 42, 3, 0),   // blocks 4 + 4; five runs a row
            (2, 5, 6, 7, 17, 2, 0),    // one block of 6; a 2×2 kernel
            (1, 4, 10, 9, 16, 3, 1),   // padding; blocks 6 + 4
            (2, 2, 14, 5, 10, 3, 0),   // 18 terms; blocks 6 + 4 + 4
            (2, 16, 8, 4, 8, 1, 0),    // 1×1 over 16 channels
            (1, 16, 4, 1, 8, 1, 0),    // one run, one block of 4
            (2, 9, 6, 4, 9, 2, 0),     // odd runs: a tile of one; a block of 6
            (1, 1, 32, 30, 34, 5, 1),  // one input channel, 5×5
            (2, 1, 32, 28, 28, 3, 0),  // conv1: 9 terms, rows of 26 (a last run overlapping)
            (1, 3, 6, 9, 12, 3, 0),    // 27 terms, rows of 10
            (2, 3, 4, 6, 12, 2, 0),    // 12 terms, rows of 11
        ];
        let mut g = Generator::new(3);
        for (i, &(n, c, o, h, w, k, pad)) in cases.iter().enumerate() {
            let x = Tensor::randn_with([n, c, h, w], &mut g);
            let weight = Tensor::randn_with([o, c, k, k], &mut g);
            let bias = Tensor::randn_with([o], &mut g);
            let out = [h + 2 * pad + 1 - k, w + 2 * pad + 1 - k];
            let geo = stride_one([n, c, h, w], o, k, [pad, pad], out);
            assert!(direct_conv::applies(&geo), "case {i}");
            for with_bias in [true, false] {
                let [direct, unfolded] = [true, false].map(|direct| {
                    let buf = read3(&x, &weight, &bias, |x, w, b| {
                        let b = with_bias.then_some(b);
                        match direct {
                            true => conv2d_direct(x, w, b, &geo, None),
                            false => conv2d_unfolded(x, w, b, &geo),
                        }
                    });
                    Tensor::from_buffer_on(buf, &[n, o, out[0], out[1]], crate::Device::Cpu)
                        .to_vec::<f32>()
                });
                let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&direct), bits(&unfolded), "case {i}, bias {with_bias}");
            }
        }
    }

    /// Where ReLU (and `max_pool2d(2)`) run inside the direct kernel
    /// (NOTE(conv-relu-pool)), the result has the bits of the ops in turn,
    /// NaN and −0 in the input included; where they do not (float64, an
    /// output narrower than 8, an odd size to pool), the ops run.
    #[test]
    fn fused_relu_and_pooling_give_the_bits_of_the_separate_ops() {
        let cases = [
            // (n, c, o, h, w, k, pad)
            (1, 32, 64, 26, 26, 3, 0), // the `cnn` model's conv2, one image
            (3, 32, 64, 26, 26, 3, 0), // several images
            (2, 1, 32, 28, 28, 3, 0),  // conv1: rows of 26
            (2, 3, 10, 6, 18, 3, 0),   // blocks 6 + 4; two runs a row
            (1, 4, 8, 8, 8, 3, 1),     // padding
            (2, 4, 8, 9, 10, 3, 0),    // seven output rows: not pooled
            (1, 2, 4, 7, 7, 3, 0),     // five output columns: neither
        ];
        let mut g = Generator::new(5);
        for (i, &(n, c, o, h, w, k, pad)) in cases.iter().enumerate() {
            let mut x = Tensor::randn_with([n, c, h, w], &mut g).to_vec::<f32>();
            x[3] = f32::NAN;
            x[7] = -0.0;
            let x = Tensor::from_vec(x, [n, c, h, w]);
            // Large biases: some windows are all ReLU zeros.
            let bias = Tensor::randn_with([o], &mut g) * 4.0;
            let weight = Tensor::randn_with([o, c, k, k], &mut g);
            let opts = ConvOptions::default().padding(pad);
            let geo = stride_one(
                [n, c, h, w],
                o,
                k,
                [pad, pad],
                [h + 2 * pad + 1 - k, w + 2 * pad + 1 - k],
            );
            let direct = direct_conv::available() && i < 6;
            assert_eq!(
                direct_conv::applies_then(&geo, ConvThen::Relu),
                direct,
                "case {i}"
            );
            assert_eq!(
                direct_conv::applies_then(&geo, ConvThen::ReluMaxPool2),
                direct && i < 5,
                "case {i}"
            );
            for dtype in [DType::F32, DType::F64] {
                let (x, weight, bias) = (
                    x.to_dtype(dtype),
                    weight.to_dtype(dtype),
                    bias.to_dtype(dtype),
                );
                for (bias, then) in [
                    (Some(&bias), ConvThen::Relu),
                    (Some(&bias), ConvThen::ReluMaxPool2),
                    (None, ConvThen::ReluMaxPool2),
                ] {
                    let one_pass =
                        crate::no_grad(|| x.try_conv2d_then(&weight, bias, opts, then)).unwrap();
                    let relu = x.conv2d(&weight, bias, opts).relu();
                    let ops = match then {
                        ConvThen::Relu => relu,
                        ConvThen::ReluMaxPool2 => relu.max_pool2d(2),
                    };
                    let bits = |t: &Tensor| {
                        t.to_dtype(DType::F64)
                            .to_vec::<f64>()
                            .iter()
                            .map(|f| f.to_bits())
                            .collect::<Vec<_>>()
                    };
                    assert_eq!(one_pass.shape(), ops.shape(), "case {i}");
                    assert_eq!(
                        bits(&one_pass),
                        bits(&ops),
                        "case {i}, {dtype:?}, {then:?}, bias {}",
                        bias.is_some()
                    );
                }
            }
        }
    }

    /// The direct weight gradient (NOTE(direct-conv-weight-grad)) agrees with
    /// im2col's in float64 to float32 precision, and gives the same bits on
    /// one thread as on two: the `cnn` model's conv2, an odd number of taps
    /// (a last tap alone), channel blocks of 6 and 4, padding on both sides
    /// and more after than before (`'same'`, an even kernel), one image.
    #[test]
    fn direct_weight_gradients_agree_with_im2col() {
        if !direct_conv::available() {
            return;
        }
        let cases = [
            // (n, c, o, h, w, k, pad before, output)
            (3, 32, 64, 26, 26, 3, [0, 0], [24, 24]), // conv2
            (2, 1, 10, 10, 18, 3, [0, 0], [8, 16]),   // 9 taps; blocks 6 + 4
            (2, 3, 8, 8, 16, 3, [1, 1], [8, 16]),     // padding 1; blocks 4 + 4
            (1, 2, 6, 5, 8, 4, [1, 1], [5, 8]),       // 'same' 4×4: 32 taps
            (1, 2, 6, 8, 8, 4, [1, 1], [8, 8]),       // the same, 64 positions
            (2, 5, 10, 9, 8, 3, [1, 1], [9, 8]),      // 72 positions: runs of 8, not 16
        ];
        let mut g = Generator::new(13);
        weight_gradients_agree_with_float64(&cases, &mut g, direct_conv::weight_grad_applies);
    }

    /// Where the weight gradient runs with output channels in lanes
    /// (NOTE(channel-lanes)), it agrees with the float64 product, and its
    /// bits do not depend on the threads: the `cnn` model's conv1 and conv2,
    /// each number of registers (1 to 4, and 5 as 4 + 1), taps that are not
    /// whole tiles, padding (`'same'`, an even kernel), output rows split
    /// between blocks of positions, one image.
    #[test]
    fn lanes_weight_gradients_agree_with_im2col() {
        if !channel_lanes::weight_grad_applies(&stride_one(
            [2, 32, 26, 26],
            64,
            3,
            [0, 0],
            [24, 24],
        )) {
            return;
        }
        let cases = [
            // (n, c, o, h, w, k, pad before, output)
            (3, 32, 64, 26, 26, 3, [0, 0], [24, 24]), // conv2
            (4, 1, 32, 28, 28, 3, [0, 0], [26, 26]),  // conv1: 9 taps
            (2, 3, 16, 8, 16, 3, [1, 1], [8, 16]),    // one register; padding 1
            (1, 2, 48, 5, 8, 4, [1, 1], [5, 8]),      // three; 'same' 4×4: 32 taps
            (2, 5, 80, 9, 70, 3, [1, 1], [9, 70]),    // 4 + 1; rows split in blocks
            (1, 7, 32, 3, 3, 1, [0, 0], [3, 3]),      // a 1×1 kernel
        ];
        let mut g = Generator::new(23);
        weight_gradients_agree_with_float64(&cases, &mut g, channel_lanes::weight_grad_applies);
    }

    /// Where the input gradient runs with channels in lanes
    /// (NOTE(channel-lanes-input-grad)), it agrees with the float64 matrix
    /// product and col2im, and its bits do not depend on the threads: the
    /// `cnn` model's conv2, rows that are not whole tiles, padding (`'same'`,
    /// and more after than before), each width of tile, one image.
    #[test]
    fn lanes_input_gradients_agree_with_col2im() {
        if !channel_lanes::input_grad_applies(&stride_one([2, 32, 26, 26], 64, 3, [0, 0], [24, 24]))
        {
            return;
        }
        let cases = [
            // (n, c, o, h, w, k, pad before, output)
            (3, 32, 64, 26, 26, 3, [0, 0], [24, 24]), // conv2: tiles of 13
            (2, 16, 8, 9, 15, 3, [1, 1], [9, 15]),    // 'same'; a last tile overlapping
            (1, 48, 10, 10, 8, 3, [0, 0], [8, 6]),    // 3 registers: tiles of 8
            (2, 64, 16, 7, 7, 3, [2, 2], [9, 9]),     // 4 registers: tiles of 6; padding 2
            (2, 80, 8, 6, 9, 4, [1, 1], [5, 8]),      // 5 registers: 4 + 1; 'same' 4×4
            (1, 16, 3, 5, 13, 1, [0, 0], [5, 13]),    // a 1×1 kernel, one tile a row
        ];
        let mut g = Generator::new(19);
        for (i, &(n, c, o, h, w, k, pad, out)) in cases.iter().enumerate() {
            let geo = stride_one([n, c, h, w], o, k, pad, out);
            assert!(channel_lanes::input_grad_applies(&geo), "case {i}");
            let grad = Tensor::randn_with([n, o, out[0], out[1]], &mut g);
            let weight = Tensor::randn_with([o, c, k, k], &mut g);
            let run = |grad: &Tensor, weight: &Tensor| {
                let buf = crate::ops::read2(grad, weight, |g, wt| conv2d_grad_input(g, wt, &geo));
                Tensor::from_buffer_on(buf, &[n, c, h, w], crate::Device::Cpu)
                    .to_dtype(DType::F64)
                    .to_vec::<f64>()
            };
            let [one, two] =
                [1, 2].map(|threads| crate::with_threads(threads, || run(&grad, &weight)));
            assert_eq!(one, two, "case {i}: one thread and two");
            let exact = run(&grad.to_dtype(DType::F64), &weight.to_dtype(DType::F64));
            // Each value sums up to o·k·k products of two standard normals.
            let tolerance = 1e-6 * (o * k * k) as f64;
            for (j, (a, b)) in two.iter().zip(&exact).enumerate() {
                assert!(
                    (a - b).abs() <= tolerance,
                    "case {i}, element {j}: {a} vs {b}"
                );
            }
        }
    }

    /// Where Winograd's F(2×2, 3×3) computes `max_pool2d(relu(conv2d))` or
    /// `conv2d` (NOTE(winograd)), it agrees with a
    /// float64 convolution to float32 precision, and its bits do not depend
    /// on the threads or on the batch:
    /// the `cnn` model's conv2 (one image, its blocks split between the
    /// threads, and several), padding, tiles that do not fill a register,
    /// an odd number of channels, one block.
    #[test]
    fn winograd_agrees_with_a_float64_convolution() {
        if !winograd::available() {
            return;
        }
        let cases = [
            // (n, c, o, h, w, pad)
            (1, 32, 64, 26, 26, 0), // conv2, one image
            (3, 32, 64, 26, 26, 0), // several images
            (2, 8, 16, 10, 10, 1),  // padding: 25 tiles
            (1, 9, 8, 12, 14, 0),   // 5 × 6 tiles, one block, 9 channels
            (2, 16, 24, 4, 4, 0),   // one tile
        ];
        let mut g = Generator::new(17);
        for (i, &(n, c, o, h, w, pad)) in cases.iter().enumerate() {
            let x = Tensor::randn_with([n, c, h, w], &mut g);
            let weight = Tensor::randn_with([o, c, 3, 3], &mut g);
            let bias = Tensor::randn_with([o], &mut g);
            let out = [h + 2 * pad - 2, w + 2 * pad - 2];
            let geo = stride_one([n, c, h, w], o, 3, [pad, pad], out);
            assert!(winograd::applies(&geo), "case {i}");
            let opts = ConvOptions::default().padding(pad);
            for bias in [Some(&bias), None] {
                let fast = |x: &Tensor| {
                    crate::no_grad(|| {
                        x.try_conv2d_then(&weight, bias, opts, ConvThen::ReluMaxPool2)
                    })
                    .unwrap()
                    .to_vec::<f32>()
                };
                let [one, two] = [1, 2].map(|threads| crate::with_threads(threads, || fast(&x)));
                let bits = |v: &[f32]| v.iter().map(|f| f.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&one), bits(&two), "case {i}: one thread and two");
                let per_image = one.len() / n;
                let alone = fast(&x.narrow(0, n - 1, 1));
                assert_eq!(
                    bits(&alone),
                    bits(&one[(n - 1) * per_image..]),
                    "case {i}: alone"
                );
                let f64s = |t: &Tensor| t.to_dtype(DType::F64);
                let exact = f64s(&x)
                    .conv2d(&f64s(&weight), bias.map(f64s).as_ref(), opts)
                    .relu()
                    .max_pool2d(2)
                    .to_vec::<f64>();
                // The largest sum of the terms' magnitudes an output has:
                // within 2e-7 of it is within two float32 roundings of it.
                let scale = f64s(&x.abs())
                    .conv2d(&f64s(&weight.abs()), None, opts)
                    .max()
                    .item()
                    .to_f64();
                for (j, (&a, &b)) in two.iter().zip(&exact).enumerate() {
                    assert!(
                        (f64::from(a) - b).abs() <= 2e-7 * scale,
                        "case {i}, element {j}: {a} vs {b} (scale {scale})"
                    );
                }
                // Not pooled: the convolution itself.
                let plain =
                    crate::with_threads(2, || x.conv2d(&weight, bias, opts).to_vec::<f32>());
                let alone = x
                    .narrow(0, n - 1, 1)
                    .conv2d(&weight, bias, opts)
                    .to_vec::<f32>();
                let per_image = plain.len() / n;
                assert_eq!(
                    bits(&alone),
                    bits(&plain[(n - 1) * per_image..]),
                    "case {i}: alone"
                );
                let exact = f64s(&x)
                    .conv2d(&f64s(&weight), bias.map(f64s).as_ref(), opts)
                    .to_vec::<f64>();
                for (j, (&a, &b)) in plain.iter().zip(&exact).enumerate() {
                    assert!(
                        (f64::from(a) - b).abs() <= 2e-7 * scale,
                        "case {i}, element {j} of the convolution: {a} vs {b}"
                    );
                }
            }
        }
    }

    /// The kept filter transforms (NOTE(winograd-filter-cache)) are reused
    /// only for a weight with the same bits: a change in its last element
    /// (or a zero's sign) gives that weight's own convolution, and the first
    /// weight again gives its first result.
    #[test]
    fn kept_filter_transforms_need_the_same_bits() {
        if !winograd::available() {
            return;
        }
        let mut g = Generator::new(23);
        let x = Tensor::randn_with([1, 8, 6, 6], &mut g);
        let mut w = Tensor::randn_with([8, 8, 3, 3], &mut g).to_vec::<f32>();
        w[0] = 0.0;
        let conv = |w: &[f32]| {
            let weight = Tensor::from_vec(w.to_vec(), [8, 8, 3, 3]);
            let got = x
                .conv2d(&weight, None, ConvOptions::default())
                .to_vec::<f32>();
            let exact = x
                .to_dtype(DType::F64)
                .conv2d(&weight.to_dtype(DType::F64), None, ConvOptions::default())
                .to_vec::<f64>();
            for (a, b) in got.iter().zip(&exact) {
                assert!((f64::from(*a) - b).abs() < 1e-4, "{a} vs {b}");
            }
            got.iter().map(|f| f.to_bits()).collect::<Vec<_>>()
        };
        let first = conv(&w);
        let mut changed = w.clone();
        *changed.last_mut().unwrap() += 1.0;
        assert_ne!(conv(&changed), first);
        let mut signed = w.clone();
        signed[0] = -0.0;
        conv(&signed);
        assert_eq!(conv(&w), first);
    }
}
