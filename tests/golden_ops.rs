//! Every op's forward values, grad_fn name and gradients agree with PyTorch's
//! (`golden/op_cases.json`). Gradients are of `sum(out * w)` for a fixed random `w`.

mod common;

use kindling::Tensor;
use serde_json::Value;

fn attr_i(attrs: &Value, key: &str) -> isize {
    attrs[key].as_i64().unwrap_or_else(|| panic!("attr {key}")) as isize
}

fn keep(attrs: &Value) -> bool {
    attrs["keepdim"].as_bool().unwrap_or(false)
}

fn apply(name: &str, x: &[Tensor], attrs: &Value) -> Tensor {
    let a = &x[0];
    let b = || &x[1];
    match name {
        "add" => a + b(),
        "sub" => a - b(),
        "mul" => a * b(),
        "div" => a / b(),
        "add_scalar" => a + 2.5,
        "sub_scalar" => a - 2.5,
        "rsub_scalar" => 2.5 - a,
        "mul_scalar" => a * -1.5,
        "div_scalar" => a / 255,
        "pow_scalar" => a.pow_scalar(2),
        "pow_scalar_frac" => a.pow_scalar(1.5),
        "pow" => a.pow(b()),
        "maximum" => a.maximum(b()),
        "minimum" => a.minimum(b()),
        "neg" => -a,
        "abs" => a.abs(),
        "exp" | "int_exp" => a.exp(),
        "log" => a.log(),
        "sqrt" => a.sqrt(),
        "tanh" => a.tanh(),
        "sigmoid" => a.sigmoid(),
        "relu" => a.relu(),
        "clamp" | "clamp_min" => a.clamp(attrs["min"].as_f64(), attrs["max"].as_f64()),
        "sum" | "uint8_sum" | "bool_sum" => a.sum(),
        "sum_dim" | "sum_dim_keep" => a.sum_dim(attr_i(attrs, "dim"), keep(attrs)),
        "mean" => a.mean(),
        "mean_dim" => a.mean_dim(attr_i(attrs, "dim"), keep(attrs)),
        "max" => a.max(),
        "min" => a.min(),
        "max_dim" => a.max_dim(attr_i(attrs, "dim"), keep(attrs)).0,
        "max_dim_indices" => a.max_dim(attr_i(attrs, "dim"), false).1,
        "min_dim" => a.min_dim(attr_i(attrs, "dim"), keep(attrs)).0,
        "argmax" => a.argmax(),
        "argmax_dim" => a.argmax_dim(attr_i(attrs, "dim"), false),
        "argmin_dim" => a.argmin_dim(attr_i(attrs, "dim"), false),
        "prod" | "prod_with_zero" => a.prod(),
        "prod_dim" => a.prod_dim(attr_i(attrs, "dim"), keep(attrs)),
        "var" => a.var(),
        "var_dim" => a.var_dim(attr_i(attrs, "dim"), keep(attrs)),
        "std" => a.std(),
        "std_dim" => a.std_dim(attr_i(attrs, "dim"), keep(attrs)),
        "softmax" | "softmax_dim0" | "softmax_3d" => a.softmax(attr_i(attrs, "dim")),
        "log_softmax" => a.log_softmax(attr_i(attrs, "dim")),
        "mm" => a.mm(b()),
        "addmm" => Tensor::addmm(a, b(), &x[2]),
        "linear_784" => Tensor::addmm(a, b(), &x[2].t()),
        n if n.starts_with("matmul") => a.matmul(b()),
        "reshape" => a.reshape([2, 6]),
        "reshape_copy" => a.t().reshape([12]),
        "flatten" => a.flatten(1, -1),
        "squeeze" => a.squeeze(),
        "squeeze_dim" => a.squeeze_dim(attr_i(attrs, "dim")),
        "unsqueeze" => a.unsqueeze(attr_i(attrs, "dim")),
        "permute" => a.permute(&[2, 0, 1]),
        "transpose" => a.transpose(0, 2),
        "t" => a.t(),
        "narrow" => a.narrow(0, 1, 3),
        "slice_step" => a.slice(0, 1, 9, 3),
        "select" => a.i(2),
        "select_dim1" => a.select(1, -1),
        "index_select" => a.index_select(0, b()),
        "gather" => a.gather(1, b()),
        "scatter_add" => a.scatter_add(1, b(), &x[2]),
        "where" => Tensor::where_cond(a, b(), &x[2]),
        "cat" => Tensor::cat(&[a.clone(), b().clone()], 0),
        "cat_dim1" => Tensor::cat(&[a.clone(), b().clone()], 1),
        "stack" => Tensor::stack(&[a.clone(), b().clone()], 1),
        "expand" => a.expand([2, 3, 4]),
        "to_float64" => a.to_dtype(kindling::DType::F64),
        "contiguous" => a.t().contiguous(),
        "chain_linear_sigmoid_softmax" => Tensor::addmm(&x[2], a, &b().t()).sigmoid().softmax(1),
        "uint8_div_255" => a / 255,
        "uint8_add_wraps" => a + 10,
        "int_true_div" => a / b(),
        "int_mul_float" => a * 0.5,
        "compare_gt" => a.gt(b()),
        "compare_eq_int" => a.eq(b()),
        other => panic!("no kindling op for golden case {other}"),
    }
}

#[test]
fn ops_match_pytorch_forward_grad_fn_and_gradients() {
    let cases = common::golden("op_cases.json");
    let mut checked = 0;
    for case in cases.as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let wants_grad = case.get("grads").is_some();
        let inputs: Vec<Tensor> = case["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                let t = common::tensor(t);
                if wants_grad && t.dtype().is_floating_point() {
                    t.requires_grad_(true)
                } else {
                    t
                }
            })
            .collect();
        let out = apply(name, &inputs, &case["attrs"]);
        common::assert_close(&format!("{name} forward"), &out, &case["output"], 1e-6);
        assert_eq!(out.grad_fn(), case["grad_fn"].as_str(), "{name}: grad_fn");
        if wants_grad {
            let w = common::tensor(&case["weight"]);
            (&out * &w).sum().backward();
            for (i, (input, want)) in inputs
                .iter()
                .zip(case["grads"].as_array().unwrap())
                .enumerate()
            {
                match (input.grad(), want.is_null()) {
                    (Some(g), false) => {
                        common::assert_close(&format!("{name} grad of input {i}"), &g, want, 1e-6)
                    }
                    (None, true) => {}
                    (g, _) => panic!(
                        "{name}: input {i} grad presence differs: kindling {:?}",
                        g.is_some()
                    ),
                }
            }
        }
        checked += 1;
    }
    assert!(checked > 80, "only {checked} cases");
}
