//! ndarray conversions (cargo feature `ndarray`; `.ci/run` runs this file
//! with it): dtypes, shapes, layouts, and the round trip.
#![cfg(feature = "ndarray")]

use kindling::{DType, Tensor};
use ndarray::{array, Array, ArrayD, Axis, IxDyn};

#[test]
fn arrays_become_tensors_of_their_type_and_shape() {
    let f = Tensor::from(array![[1.5f32, 2.0, 3.0], [4.0, 5.0, 6.0]]);
    assert_eq!((f.shape(), f.dtype()), (&[2usize, 3][..], DType::F32));
    assert_eq!(f.to_vec::<f32>(), vec![1.5, 2.0, 3.0, 4.0, 5.0, 6.0]);
    assert_eq!(Tensor::from(array![1i64, -2]).dtype(), DType::I64);
    assert_eq!(Tensor::from(array![0.5f64]).dtype(), DType::F64);
    assert_eq!(Tensor::from(array![[7u8]]).dtype(), DType::U8);
    assert_eq!(
        Tensor::from(array![true, false]).to_vec::<bool>(),
        vec![true, false]
    );
    // A 0-d array is a 0-d tensor; an empty one keeps its shape.
    assert_eq!(Tensor::from(ndarray::arr0(3.0f32)).shape(), &[] as &[usize]);
    assert_eq!(
        Tensor::from(Array::<f32, _>::zeros((0, 4))).shape(),
        &[0, 4]
    );
}

#[test]
fn transposed_and_sliced_arrays_keep_their_values() {
    let a = Array::from_shape_vec((2, 3), (0..6).map(|v| v as f32).collect()).unwrap();
    // Column-major (reversed axes) and a sliced, owned array: copied in order.
    let t = Tensor::from(a.clone().reversed_axes());
    assert_eq!(t.shape(), &[3, 2]);
    assert_eq!(t.to_vec::<f32>(), vec![0.0, 3.0, 1.0, 4.0, 2.0, 5.0]);
    let cut = a.clone().remove_axis(Axis(0));
    assert_eq!(Tensor::from(cut).to_vec::<f32>(), vec![0.0, 1.0, 2.0]);
    let mut sliced = a;
    sliced.slice_collapse(ndarray::s![1.., 1..]);
    assert_eq!(Tensor::from(sliced).to_vec::<f32>(), vec![4.0, 5.0]);
}

#[test]
fn tensors_become_arrays_and_back() {
    let t = Tensor::arange(24).reshape([2, 3, 4]);
    let a: ArrayD<i64> = t.to_ndarray::<i64>();
    assert_eq!(a.shape(), &[2, 3, 4]);
    assert_eq!(a[IxDyn(&[1, 2, 3])], 23);
    // A view (a transpose) comes out in its own order; a dtype converts as .to() does.
    let tt = t.transpose(0, 2).to_ndarray::<f32>();
    assert_eq!(tt.shape(), &[4, 3, 2]);
    assert_eq!(tt[IxDyn(&[3, 2, 1])], 23.0);
    assert_eq!(Tensor::from(a).to_vec::<i64>(), t.to_vec::<i64>());
}
