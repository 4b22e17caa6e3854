//! Property tests: broadcasting, views and reductions against naive loops over
//! multi-indices.

use kindling::{DType, Tensor};
use proptest::prelude::*;

fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Row-major multi-index of flat position `i`.
fn unravel(mut i: usize, shape: &[usize]) -> Vec<usize> {
    let mut idx = vec![0; shape.len()];
    for d in (0..shape.len()).rev() {
        idx[d] = i % shape[d];
        i /= shape[d];
    }
    idx
}

fn ravel(idx: &[usize], shape: &[usize]) -> usize {
    idx.iter().zip(shape).fold(0, |acc, (&i, &s)| acc * s + i)
}

fn values(shape: &[usize], salt: i64) -> Tensor {
    let n = numel(shape) as i64;
    Tensor::from_vec(
        (0..n)
            .map(|i| ((i * 7 + salt) % 13) as f64 - 6.0)
            .collect::<Vec<_>>(),
        shape,
    )
}

/// Two shapes that broadcast: a common shape with some dims set to 1 and some
/// leading dims dropped on each side.
fn broadcastable() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    prop::collection::vec((1usize..4, any::<bool>(), any::<bool>()), 0..4).prop_flat_map(|dims| {
        let a: Vec<usize> = dims
            .iter()
            .map(|&(d, ones_a, _)| if ones_a { 1 } else { d })
            .collect();
        let b: Vec<usize> = dims
            .iter()
            .map(|&(d, _, ones_b)| if ones_b { 1 } else { d })
            .collect();
        let n = dims.len();
        (0..=n, 0..=n).prop_map(move |(da, db)| (a[da.min(n)..].to_vec(), b[db.min(n)..].to_vec()))
    })
}

fn shape_and_dim() -> impl Strategy<Value = (Vec<usize>, usize)> {
    prop::collection::vec(1usize..5, 1..4).prop_flat_map(|s| {
        let n = s.len();
        (Just(s), 0..n)
    })
}

proptest! {
    #[test]
    fn broadcast_add_and_mul_match_naive((sa, sb) in broadcastable()) {
        let (a, b) = (values(&sa, 1), values(&sb, 5));
        let out_nd = sa.len().max(sb.len());
        let out_shape: Vec<usize> = (0..out_nd).map(|i| {
            let da = if i + sa.len() >= out_nd { sa[i + sa.len() - out_nd] } else { 1 };
            let db = if i + sb.len() >= out_nd { sb[i + sb.len() - out_nd] } else { 1 };
            da.max(db)
        }).collect();
        let (av, bv) = (a.to_vec::<f64>(), b.to_vec::<f64>());
        let pick = |v: &[f64], s: &[usize], idx: &[usize]| {
            let own: Vec<usize> = idx[idx.len() - s.len()..].iter().zip(s).map(|(&i, &d)| if d == 1 { 0 } else { i }).collect();
            v[ravel(&own, s)]
        };
        let sum = (&a + &b).to_vec::<f64>();
        let prod = (&a * &b).to_vec::<f64>();
        let shape_of_sum = (&a + &b).shape().to_vec();
        prop_assert_eq!(shape_of_sum, out_shape.clone());
        for i in 0..numel(&out_shape) {
            let idx = unravel(i, &out_shape);
            prop_assert_eq!(sum[i], pick(&av, &sa, &idx) + pick(&bv, &sb, &idx));
            prop_assert_eq!(prod[i], pick(&av, &sa, &idx) * pick(&bv, &sb, &idx));
        }
    }

    #[test]
    fn permuted_views_match_copies(shape in prop::collection::vec(1usize..5, 1..5), seed in any::<u64>()) {
        let t = values(&shape, 3);
        let mut perm: Vec<usize> = (0..shape.len()).collect();
        let mut g = kindling::Generator::new(seed);
        for i in (1..perm.len()).rev() { perm.swap(i, g.below(i as u64 + 1) as usize); }
        let p = t.permute(&perm.iter().map(|&d| d as isize).collect::<Vec<_>>());
        prop_assert!(p.shares_storage(&t));
        let pshape: Vec<usize> = perm.iter().map(|&d| shape[d]).collect();
        let (tv, pv) = (t.to_vec::<f64>(), p.contiguous().to_vec::<f64>());
        for (i, &v) in pv.iter().enumerate() {
            let idx = unravel(i, &pshape);
            let mut orig = vec![0; shape.len()];
            for (k, &d) in perm.iter().enumerate() { orig[d] = idx[k]; }
            prop_assert_eq!(v, tv[ravel(&orig, &shape)]);
        }
        // A copy does not share; reshaping the permuted view back gives the same values.
        let back = p.reshape([-1]);
        prop_assert_eq!(back.to_vec::<f64>(), pv);
    }

    #[test]
    fn strided_slices_match_python((shape, dim) in shape_and_dim(), start in 0isize..5, len in 0isize..6, step in 1usize..4) {
        let t = values(&shape, 2);
        let s = t.slice(dim as isize, start, start + len, step);
        let n = shape[dim] as isize;
        let kept: Vec<usize> = (start.min(n)..(start + len).min(n)).step_by(step).map(|i| i as usize).collect();
        prop_assert_eq!(s.shape()[dim], kept.len());
        let tv = t.to_vec::<f64>();
        for (i, &v) in s.to_vec::<f64>().iter().enumerate() {
            let mut idx = unravel(i, s.shape());
            idx[dim] = kept[idx[dim]];
            prop_assert_eq!(v, tv[ravel(&idx, &shape)]);
        }
    }

    #[test]
    fn reductions_match_naive_loops((shape, dim) in shape_and_dim()) {
        let t = values(&shape, 4);
        let tv = t.to_vec::<f64>();
        let sum = t.sum_dim(dim as isize, false).to_vec::<f64>();
        let (max, argmax) = t.max_dim(dim as isize, false);
        let (max, argmax) = (max.to_vec::<f64>(), argmax.to_vec::<i64>());
        let mut rest = shape.clone();
        rest.remove(dim);
        for i in 0..numel(&rest) {
            let idx = unravel(i, &rest);
            let lane: Vec<f64> = (0..shape[dim]).map(|k| {
                let mut full = idx.clone();
                full.insert(dim, k);
                tv[ravel(&full, &shape)]
            }).collect();
            prop_assert_eq!(sum[i], lane.iter().sum::<f64>());
            let best = lane.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            prop_assert_eq!(max[i], best);
            prop_assert_eq!(argmax[i] as usize, lane.iter().position(|&v| v == best).unwrap());
        }
        prop_assert_eq!(t.sum().item().to_f64(), tv.iter().sum::<f64>());
        prop_assert_eq!(t.to_dtype(DType::I64).sum().item().to_i64(), tv.iter().map(|&v| v as i64).sum::<i64>());
    }
}
