//! The per-op tests' machinery: PyTorch's goldens for each op family
//! (`tests/golden/ops/FAMILY.json`, written by `tests/golden/make_tensor_goldens.py`)
//! and the macros that make one test per case.
//!
//! In `src/ops/FAMILY.rs`, `goldens!` makes `tests::golden::NAME` for each
//! case (forward values, dtype, `grad_fn` name, and the gradient of
//! `sum(out * w)` for PyTorch's `w`) plus a test that every case of the family
//! has one; `gradchecks!` makes `tests::gradcheck::NAME` (float64 finite
//! differences). So `cargo test --release sigmoid` runs all of sigmoid's tests.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::testing::{assert_matches_json, json_tensor};
use crate::{Device, Tensor};

/// The golden cases of `family`, by name.
pub(crate) fn cases(family: &str) -> BTreeMap<String, Value> {
    let path = format!(
        "{}/tests/golden/ops/{family}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// An integer attribute of a case.
pub(crate) fn attr_i(attrs: &Value, key: &str) -> isize {
    attrs[key].as_i64().unwrap_or_else(|| panic!("attr {key}")) as isize
}

/// A size attribute of a case (`3` or `[3, 2]`), `None` when absent.
pub(crate) fn attr_size2(v: &Value) -> Option<crate::Size2> {
    match v {
        Value::Null => None,
        Value::Array(v) => Some(crate::Size2([
            v[0].as_u64().expect("a size") as usize,
            v[1].as_u64().expect("a size") as usize,
        ])),
        v => Some(crate::Size2::from(v.as_u64().expect("a size") as usize)),
    }
}

/// A case's `keepdim` (false when absent).
pub(crate) fn keepdim(attrs: &Value) -> bool {
    attrs["keepdim"].as_bool().unwrap_or(false)
}

/// Runs case `name` of `family` through `apply(inputs, attrs)` on every
/// backend: the CPU's and the reference's (inputs made on `Device::Reference`),
/// each held to PyTorch's values, `grad_fn` name and gradients, each output and
/// gradient on its inputs' device.
pub(crate) fn check(family: &str, name: &str, apply: impl Fn(&[Tensor], &Value) -> Tensor) {
    let all = cases(family);
    let case = all
        .get(name)
        .unwrap_or_else(|| panic!("no golden case {name} in {family}.json"));
    // A case without inputs (`torch.eye(3)`) makes its tensor on the default device.
    let devices: &[Device] = match case["inputs"].as_array() {
        Some(inputs) if inputs.is_empty() => &[Device::Cpu],
        _ => &[Device::Cpu, Device::Reference],
    };
    for &device in devices {
        check_on(device, name, case, &apply);
    }
}

fn check_on(
    device: Device,
    name: &str,
    case: &Value,
    apply: &impl Fn(&[Tensor], &Value) -> Tensor,
) {
    let wants_grad = case.get("grads").is_some();
    let what = format!("{name} on {device}");
    let inputs: Vec<Tensor> = case["inputs"]
        .as_array()
        .expect("inputs")
        .iter()
        .map(|t| {
            let t = json_tensor(t).to(device);
            if wants_grad && t.dtype().is_floating_point() {
                t.requires_grad_(true)
            } else {
                t
            }
        })
        .collect();
    let out = apply(&inputs, &case["attrs"]);
    assert_eq!(out.device(), device, "{what}: output device");
    assert_matches_json(&format!("{what} forward"), &out, &case["output"], 1e-6);
    assert_eq!(
        out.grad_fn_name(),
        case["grad_fn"].as_str(),
        "{what}: grad_fn"
    );
    if !wants_grad {
        return;
    }
    let w = json_tensor(&case["weight"]).to(device);
    (&out * &w).sum().backward();
    let grads = case["grads"].as_array().expect("grads");
    for (i, (input, want)) in inputs.iter().zip(grads).enumerate() {
        match (input.grad(), want.is_null()) {
            (Some(g), false) => {
                assert_eq!(g.device(), device, "{what}: grad {i} device");
                assert_matches_json(&format!("{what} grad of input {i}"), &g, want, 1e-6)
            }
            (None, true) => {}
            (g, _) => panic!(
                "{what}: input {i} grad presence differs: kindling {:?}",
                g.is_some()
            ),
        }
    }
}

/// One test per golden case of a family, and one that every case has a test.
macro_rules! goldens {
    ($family:literal; $($name:ident => $apply:expr),* $(,)?) => {
        mod golden {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[test]
                fn $name() {
                    $crate::ops::golden::check($family, stringify!($name).trim_start_matches("r#"), $apply);
                }
            )*
            #[test]
            fn every_case_has_a_test() {
                let tested = [$(stringify!($name).trim_start_matches("r#")),*];
                for name in $crate::ops::golden::cases($family).keys() {
                    assert!(tested.contains(&name.as_str()), "golden case {name} of {} has no test", $family);
                }
            }
        }
    };
}
pub(crate) use goldens;

/// One float64 finite-difference test per op, run on each backend.
macro_rules! gradchecks {
    ($($name:ident: [$($input:expr),* $(,)?] => $f:expr;)*) => {
        mod gradcheck {
            #[allow(unused_imports)]
            use super::*;
            #[allow(unused_imports)]
            use $crate::testing::{positive, randn};
            $(
                #[test]
                fn $name() {
                    for device in [$crate::Device::Cpu, $crate::Device::Reference] {
                        $crate::manual_seed(0);
                        let inputs: Vec<Tensor> = vec![$($input.to(device)),*];
                        let what = format!("{} on {device}", stringify!($name));
                        $crate::testing::assert_gradcheck(&what, $f, &inputs, &[]);
                    }
                }
            )*
        }
    };
}
pub(crate) use gradchecks;
