//! The CPU backend's fused optimizer steps: one pass over each parameter and
//! its state buffers, in place, in loops the compiler vectorises.

use std::ops::Range;

use super::runtime::{join2, num_threads};
use crate::backend::math::{
    adadelta_element, adam_element, sgd_element, sgd_momentum_element, AdadeltaConsts,
    AdadeltaStep, AdamConsts, AdamStep, SgdConsts, SgdStep,
};
use crate::backend::math::{rmsprop_element, RmspropStep};
use crate::backend::View;
use crate::tensor::{with_float, Buffer, Element, Float};

/// Parameters from this many elements up are updated in two halves when there
/// are threads (a first layer's weight: 100,352 in `mlp`, 12,544 in `threeblue`).
const SPLIT_UPDATE_MIN: usize = 1 << 16;

/// Runs `update(param, grad, buffers)` on the elements, split in two halves side
/// by side when there are threads, cut where the matrix products cut a weight's
/// rows: each thread updates the rows it computes with, which stay in its core's
/// cache. Every element is updated the same way either way.
fn split_update<T: Float, const N: usize>(
    p: &mut [T],
    g: &[T],
    slices: [&mut [T]; N],
    update: impl Fn(&mut [T], &[T], [&mut [T]; N]) + Sync,
) {
    let split = num_threads() > 1
        && p.len() >= SPLIT_UPDATE_MIN
        && slices.iter().all(|b| b.len() == p.len());
    if !split {
        update(p, g, slices);
        return;
    }
    let half = p.len() / 2 / 16 * 16;
    let (p1, p2) = p.split_at_mut(half);
    let (g1, g2) = g.split_at(half);
    let mut seconds = Vec::with_capacity(N);
    let firsts = slices.map(|b| {
        let (first, second) = b.split_at_mut(half);
        seconds.push(second);
        first
    });
    let seconds: [&mut [T]; N] = seconds
        .try_into()
        .unwrap_or_else(|_| unreachable!("one half per buffer"));
    join2(|| update(p1, g1, firsts), || update(p2, g2, seconds));
}

pub(super) fn sgd(
    p: &mut Buffer,
    range: Range<usize>,
    g: View,
    momentum: Option<&mut Buffer>,
    s: &SgdStep,
) {
    let g_range = g.layout.contiguous_range().expect("a contiguous gradient");
    with_float!(p.dtype(), T => {
        let k = SgdConsts::<T>::new(s);
        let g = &g.data::<T>()[g_range];
        let p = &mut T::slice_mut(p)[range];
        match momentum {
            Some(b) => split_update::<T, 1>(p, g, [T::slice_mut(b)], |p, g, [b]| {
                for ((p, &g), b) in p.iter_mut().zip(g).zip(b.iter_mut()) {
                    sgd_momentum_element(p, g, b, &k);
                }
            }),
            None => split_update::<T, 0>(p, g, [], |p, g, []| {
                for (p, &g) in p.iter_mut().zip(g) {
                    sgd_element(p, g, &k);
                }
            }),
        }
    })
}

/// Adam's element updates over slices, the variant chosen at compile time.
fn adam_loop<T: Float, const L2: bool, const AMSGRAD: bool>(
    p: &mut [T],
    g: &[T],
    m: &mut [T],
    v: &mut [T],
    vmax: &mut [T],
    c: &AdamConsts<T>,
) {
    let n = p.len();
    let (g, m, v, vmax) = (&g[..n], &mut m[..n], &mut v[..n], &mut vmax[..n]);
    for i in 0..n {
        adam_element::<T, L2, AMSGRAD>(&mut p[i], g[i], &mut m[i], &mut v[i], &mut vmax[i], c);
    }
}

pub(super) fn adam(
    p: &mut Buffer,
    range: Range<usize>,
    g: View,
    bufs: [&mut Buffer; 3],
    s: &AdamStep,
) {
    let g_range = g.layout.contiguous_range().expect("a contiguous gradient");
    let (decoupled, amsgrad, l2) = (
        s.decoupled,
        s.amsgrad,
        !s.decoupled && s.weight_decay != 0.0,
    );
    with_float!(p.dtype(), T => {
        let c = AdamConsts::<T>::new(s);
        let g = &g.data::<T>()[g_range];
        let p = &mut T::slice_mut(p)[range];
        let slices = bufs.map(T::slice_mut);
        split_update::<T, 3>(p, g, slices, |p, g, [m, v, vmax]| {
            if decoupled {
                p.iter_mut().for_each(|p| *p *= c.decay);
            }
            // One branch-free loop per variant, so each vectorises.
            match (l2, amsgrad) {
                (false, false) => adam_loop::<T, false, false>(p, g, m, v, vmax, &c),
                (false, true) => adam_loop::<T, false, true>(p, g, m, v, vmax, &c),
                (true, false) => adam_loop::<T, true, false>(p, g, m, v, vmax, &c),
                (true, true) => adam_loop::<T, true, true>(p, g, m, v, vmax, &c),
            }
        });
    })
}

pub(super) fn adadelta(
    p: &mut Buffer,
    range: Range<usize>,
    g: View,
    bufs: [&mut Buffer; 2],
    s: &AdadeltaStep,
) {
    let g_range = g.layout.contiguous_range().expect("a contiguous gradient");
    with_float!(p.dtype(), T => {
        let c = AdadeltaConsts::<T>::new(s);
        let g = &g.data::<T>()[g_range];
        let p = &mut T::slice_mut(p)[range];
        split_update::<T, 2>(p, g, bufs.map(T::slice_mut), |p, g, [sq, acc]| {
            for (((p, &g), sq), acc) in p.iter_mut().zip(g).zip(sq.iter_mut()).zip(acc.iter_mut()) {
                adadelta_element(p, g, sq, acc, &c);
            }
        });
    })
}

pub(super) fn rmsprop(
    p: &mut Buffer,
    range: Range<usize>,
    g: View,
    bufs: [&mut Buffer; 3],
    s: &RmspropStep,
) {
    let g_range = g.layout.contiguous_range().expect("a contiguous gradient");
    with_float!(p.dtype(), T => {
        let g = &g.data::<T>()[g_range];
        let p = &mut T::slice_mut(p)[range];
        split_update::<T, 3>(p, g, bufs.map(T::slice_mut), |p, g, [sq, b, m]| {
            for i in 0..p.len() {
                rmsprop_element(&mut p[i], g[i], [&mut sq[i], &mut b[i], &mut m[i]], s);
            }
        });
    })
}
