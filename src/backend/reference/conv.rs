//! The reference convolutions: the definition, one output (or gradient)
//! element at a time, summed in f64 and rounded once.

use super::at;
use crate::backend::math;
use crate::backend::{Conv2dGeometry, PoolWindows, View};
use crate::tensor::{with_dtype, with_float, Buffer, Element};

/// Every `(kernel row, kernel column, input row, input column)` that output
/// position `(y, x)` reads inside the input.
fn taps(geo: &Conv2dGeometry, y: usize, x: usize) -> Vec<[usize; 4]> {
    let mut out = Vec::new();
    for i in 0..geo.kernel[0] {
        for j in 0..geo.kernel[1] {
            if let (Some(sy), Some(sx)) = (geo.source(0, y, i), geo.source(1, x, j)) {
                out.push([i, j, sy, sx]);
            }
        }
    }
    out
}

pub(super) fn conv2d(x: View, weight: View, bias: Option<View>, geo: &Conv2dGeometry) -> Buffer {
    let [n, c, _, _] = geo.input;
    let [oh, ow] = geo.out;
    let (cg, og) = (c / geo.groups, geo.out_channels / geo.groups);
    with_float!(x.dtype(), T => {
        let (xd, wd) = (x.data::<T>(), weight.data::<T>());
        let mut out = Vec::with_capacity(n * geo.out_channels * oh * ow);
        for b in 0..n {
            for o in 0..geo.out_channels {
                let first = o / og * cg;
                for y in 0..oh {
                    for xo in 0..ow {
                        let mut s = bias.map_or(0.0, |v| v.data::<T>()[at(v.layout, &[o])].to_f64());
                        for [i, j, sy, sx] in taps(geo, y, xo) {
                            for k in 0..cg {
                                s += xd[at(x.layout, &[b, first + k, sy, sx])].to_f64()
                                    * wd[at(weight.layout, &[o, k, i, j])].to_f64();
                            }
                        }
                        out.push(T::from_f64(s));
                    }
                }
            }
        }
        T::into_buffer(out)
    })
}

pub(super) fn conv2d_grad_input(g: View, weight: View, geo: &Conv2dGeometry) -> Buffer {
    let [n, c, h, w] = geo.input;
    let [oh, ow] = geo.out;
    let (cg, og) = (c / geo.groups, geo.out_channels / geo.groups);
    with_float!(g.dtype(), T => {
        let (gd, wd) = (g.data::<T>(), weight.data::<T>());
        let mut sums = vec![0.0f64; n * c * h * w];
        for b in 0..n {
            for o in 0..geo.out_channels {
                let first = o / og * cg;
                for y in 0..oh {
                    for xo in 0..ow {
                        let gv = gd[at(g.layout, &[b, o, y, xo])].to_f64();
                        for [i, j, sy, sx] in taps(geo, y, xo) {
                            for k in 0..cg {
                                sums[((b * c + first + k) * h + sy) * w + sx] +=
                                    gv * wd[at(weight.layout, &[o, k, i, j])].to_f64();
                            }
                        }
                    }
                }
            }
        }
        T::into_buffer(sums.into_iter().map(T::from_f64).collect())
    })
}

pub(super) fn conv2d_grad_weight(g: View, x: View, geo: &Conv2dGeometry) -> Buffer {
    let [n, c, _, _] = geo.input;
    let [oh, ow] = geo.out;
    let [kh, kw] = geo.kernel;
    let (cg, og) = (c / geo.groups, geo.out_channels / geo.groups);
    with_float!(g.dtype(), T => {
        let (gd, xd) = (g.data::<T>(), x.data::<T>());
        let mut sums = vec![0.0f64; geo.out_channels * cg * kh * kw];
        for b in 0..n {
            for o in 0..geo.out_channels {
                let first = o / og * cg;
                for y in 0..oh {
                    for xo in 0..ow {
                        let gv = gd[at(g.layout, &[b, o, y, xo])].to_f64();
                        for [i, j, sy, sx] in taps(geo, y, xo) {
                            for k in 0..cg {
                                sums[((o * cg + k) * kh + i) * kw + j] +=
                                    gv * xd[at(x.layout, &[b, first + k, sy, sx])].to_f64();
                            }
                        }
                    }
                }
            }
        }
        T::into_buffer(sums.into_iter().map(T::from_f64).collect())
    })
}

pub(super) fn conv2d_grad_bias(g: View, geo: &Conv2dGeometry) -> Buffer {
    let [n, o, oh, ow] = geo.output_shape();
    with_float!(g.dtype(), T => {
        let gd = g.data::<T>();
        let sums: Vec<T> = (0..o)
            .map(|c| {
                let mut s = 0.0f64;
                for b in 0..n {
                    for y in 0..oh {
                        for x in 0..ow {
                            s += gd[at(g.layout, &[b, c, y, x])].to_f64();
                        }
                    }
                }
                T::from_f64(s)
            })
            .collect();
        T::into_buffer(sums)
    })
}

pub(super) fn max_pool2d(x: View, geo: &Conv2dGeometry) -> (Buffer, Buffer) {
    let [n, c, _, w] = geo.input;
    let [oh, ow] = geo.out;
    with_dtype!(x.dtype(), T => {
        let xd = x.data::<T>();
        let mut out = Vec::new();
        let mut indices: Vec<i64> = Vec::new();
        for b in 0..n {
            for ch in 0..c {
                for y in 0..oh {
                    for xo in 0..ow {
                        let mut best: Option<(T, usize)> = None;
                        for [_, _, sy, sx] in taps(geo, y, xo) {
                            let v = xd[at(x.layout, &[b, ch, sy, sx])];
                            if best.is_none_or(|(m, _)| math::pool_beats(v, m)) {
                                best = Some((v, sy * w + sx));
                            }
                        }
                        let (v, i) = match best {
                            Some((v, i)) => (v, i as i64),
                            None => (T::from_f64(f64::NEG_INFINITY), geo.empty_window_index(y, xo)),
                        };
                        out.push(v);
                        indices.push(i);
                    }
                }
            }
        }
        (T::into_buffer(out), i64::into_buffer(indices))
    })
}

pub(super) fn max_pool2d_grad(g: View, indices: View, input: [usize; 4]) -> Buffer {
    let [n, c, h, w] = input;
    let [_, _, oh, ow] = [0, 1, 2, 3].map(|d| g.shape()[d]);
    let id = indices.data::<i64>();
    with_float!(g.dtype(), T => {
        let gd = g.data::<T>();
        let mut sums = vec![0.0f64; n * c * h * w];
        for b in 0..n {
            for ch in 0..c {
                for y in 0..oh {
                    for xo in 0..ow {
                        let i = id[at(indices.layout, &[b, ch, y, xo])];
                        if (0..(h * w) as i64).contains(&i) {
                            sums[(b * c + ch) * h * w + i as usize] +=
                                gd[at(g.layout, &[b, ch, y, xo])].to_f64();
                        }
                    }
                }
            }
        }
        T::into_buffer(sums.into_iter().map(T::from_f64).collect())
    })
}

pub(super) fn adaptive_max_pool2d(x: View, win: &PoolWindows) -> (Buffer, Buffer) {
    let [n, c, _, w] = win.input;
    with_float!(x.dtype(), T => {
        let xd = x.data::<T>();
        let mut out = Vec::new();
        let mut indices: Vec<i64> = Vec::new();
        for b in 0..n {
            for ch in 0..c {
                for rows in &win.rows {
                    for cols in &win.cols {
                        let mut best: Option<(T, usize)> = None;
                        for r in rows.clone() {
                            for col in cols.clone() {
                                let v = xd[at(x.layout, &[b, ch, r, col])];
                                if best.is_none_or(|(m, _)| math::pool_beats(v, m)) {
                                    best = Some((v, r * w + col));
                                }
                            }
                        }
                        // Adaptive windows are never empty (the input has no
                        // empty plane); NaN stands in if one were.
                        let (v, i) = best.map_or((T::from_f64(f64::NAN), -1), |(v, i)| (v, i as i64));
                        out.push(v);
                        indices.push(i);
                    }
                }
            }
        }
        (T::into_buffer(out), i64::into_buffer(indices))
    })
}

pub(super) fn avg_pool2d(x: View, win: &PoolWindows) -> Buffer {
    let [n, c, _, _] = win.input;
    let ow = win.cols.len();
    with_float!(x.dtype(), T => {
        let xd = x.data::<T>();
        let mut out = Vec::new();
        for b in 0..n {
            for ch in 0..c {
                for (y, rows) in win.rows.iter().enumerate() {
                    for (xo, cols) in win.cols.iter().enumerate() {
                        let mut sum = 0.0f64;
                        for r in rows.clone() {
                            for col in cols.clone() {
                                sum += xd[at(x.layout, &[b, ch, r, col])].to_f64();
                            }
                        }
                        out.push(T::from_f64(sum / win.divisor[y * ow + xo]));
                    }
                }
            }
        }
        T::into_buffer(out)
    })
}

pub(super) fn avg_pool2d_grad(g: View, win: &PoolWindows) -> Buffer {
    let [n, c, h, w] = win.input;
    let ow = win.cols.len();
    with_float!(g.dtype(), T => {
        let gd = g.data::<T>();
        let mut dx = vec![0.0f64; n * c * h * w];
        for b in 0..n {
            for ch in 0..c {
                for (y, rows) in win.rows.iter().enumerate() {
                    for (xo, cols) in win.cols.iter().enumerate() {
                        let v = gd[at(g.layout, &[b, ch, y, xo])].to_f64();
                        // Rounded as the CPU backend rounds its share.
                        let share = T::from_f64(v / win.divisor[y * ow + xo]).to_f64();
                        for r in rows.clone() {
                            for col in cols.clone() {
                                dx[((b * c + ch) * h + r) * w + col] += share;
                            }
                        }
                    }
                }
            }
        }
        T::into_buffer(dx.into_iter().map(T::from_f64).collect())
    })
}
