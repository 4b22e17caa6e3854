//! PyTorch's `optimizer.state_dict()` layout, both ways:
//!
//! ```python
//! {"state": {0: {"step": tensor(3.), "exp_avg": tensor(...), ...}, 1: {...}},
//!  "param_groups": [{"lr": 0.001, "betas": (0.9, 0.999), ..., "params": [0, 1]}]}
//! ```
//!
//! kindling's [`OptimizerState`] keys the same buffers `"{index}.{name}"`.

use super::{OptimizerState, MAX_STEPS};
use crate::error::{Error, Result};
use crate::io::Value;
use crate::tensor::Tensor;

/// PyTorch's state dict of an optimizer in `state` with settings `group`.
pub(super) fn to_pytorch(
    state: &OptimizerState,
    group: Vec<(&'static str, Value)>,
    params: usize,
) -> Value {
    // SGD keeps no step count in PyTorch; the others a float32 scalar tensor.
    let with_step = state.kind != "SGD";
    let mut per_param: Vec<(Value, Value)> = Vec::new();
    for i in 0..params {
        let prefix = format!("{i}.");
        let mut entries: Vec<(Value, Value)> = state
            .buffers
            .iter()
            .filter_map(|(k, t)| Some((k.strip_prefix(&prefix)?, t)))
            .map(|(name, t)| (Value::Str(name.into()), Value::Tensor(t.clone())))
            .collect();
        if entries.is_empty() {
            continue;
        }
        if with_step {
            let step = Tensor::scalar(state.step as f32);
            entries.insert(0, (Value::Str("step".into()), Value::Tensor(step)));
        }
        per_param.push((Value::Int(i as i64), Value::Dict(entries)));
    }
    let mut settings: Vec<(Value, Value)> = group
        .into_iter()
        .map(|(k, v)| (Value::Str(k.into()), v))
        .collect();
    settings.push((
        Value::Str("params".into()),
        Value::List((0..params).map(|i| Value::Int(i as i64)).collect()),
    ));
    Value::dict([
        ("state", Value::Dict(per_param)),
        ("param_groups", Value::List(vec![Value::Dict(settings)])),
    ])
}

fn bad(message: String) -> Error {
    Error::StateDict(message)
}

/// Two settings agree: numbers by value (PyTorch's `0` and `0.0`), the rest
/// exactly; anything else (strings, ...) is not compared.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::None, Value::None) => true,
        (Value::Tuple(x) | Value::List(x), Value::Tuple(y) | Value::List(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (Value::Int(_) | Value::Float(_), Value::Int(_) | Value::Float(_)) => {
            a.as_f64() == b.as_f64()
        }
        (Value::Str(_), _) | (_, Value::Str(_)) => true,
        _ => false,
    }
}

/// kindling's state of a `kind` optimizer with settings `group` over
/// `params`, from PyTorch's state dict.
pub(super) fn from_pytorch(
    value: &Value,
    kind: &str,
    group: &[(&'static str, Value)],
    params: &[Tensor],
) -> Result<OptimizerState> {
    let groups = value["param_groups"].elements().ok_or_else(|| {
        bad(format!(
            "expected an optimizer's state_dict() (a dict with 'state' and 'param_groups'), found {}",
            value.kind()
        ))
    })?;
    let [theirs] = groups else {
        return Err(bad(format!(
            "the optimizer state has {} parameter groups; kindling's {kind} has one",
            groups.len()
        )));
    };
    let ids = theirs["params"]
        .elements()
        .ok_or_else(|| bad("the optimizer state's parameter group has no 'params' list".into()))?;
    if ids.len() != params.len() {
        return Err(bad(format!(
            "the optimizer state is for {} parameters; this {kind} has {}",
            ids.len(),
            params.len()
        )));
    }
    for (key, ours) in group {
        if *key == "lr" {
            continue;
        }
        if let Some(saved) = theirs.get(key) {
            if !same(ours, saved) {
                return Err(bad(format!(
                    "the optimizer state has {key} {saved}, this {kind} has {ours}: build it with the saved settings"
                )));
            }
        }
    }
    let lr = theirs["lr"]
        .as_f64()
        .filter(|lr| lr.is_finite() && *lr >= 0.0)
        .ok_or_else(|| bad("the optimizer state has no valid 'lr'".into()))?;
    let per_param = value["state"]
        .items()
        .ok_or_else(|| bad("the optimizer state has no 'state' dict".into()))?;
    let mut step = 0u64;
    let mut buffers = Vec::new();
    for (id, entries) in per_param {
        let index = ids
            .iter()
            .position(|p| p.as_i64().is_some() && p.as_i64() == id.as_i64())
            .ok_or_else(|| bad(format!("the optimizer state has buffers for parameter {id}, which its group does not list")))?;
        let entries = entries
            .items()
            .ok_or_else(|| bad(format!("the state of parameter {id} is not a dict")))?;
        for (name, v) in entries {
            let name = name
                .as_str()
                .ok_or_else(|| bad(format!("the state of parameter {id} has a key {name}")))?;
            match (name, v) {
                ("step", v) => {
                    let s = match v {
                        Value::Tensor(t) if t.numel() == 1 => t.to_vec::<f64>()[0],
                        other => other.as_f64().unwrap_or(f64::NAN),
                    };
                    if !(s >= 0.0 && s <= MAX_STEPS as f64 && s.fract() == 0.0) {
                        return Err(bad(format!("the optimizer state has step {v}")));
                    }
                    step = s as u64;
                }
                (_, Value::None) => {}
                (_, Value::Tensor(t)) => buffers.push((format!("{index}.{name}"), t.clone())),
                (_, other) => {
                    return Err(bad(format!(
                        "the optimizer state's {name} of parameter {id} is {}, not a tensor",
                        other.kind()
                    )))
                }
            }
        }
    }
    for (name, t) in &buffers {
        super::check_buffer(name, t).map_err(bad)?;
    }
    Ok(OptimizerState {
        kind: kind.to_string(),
        step,
        lr,
        buffers,
    })
}
