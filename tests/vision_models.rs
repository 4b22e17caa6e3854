//! `kindling::vision::models` against torchvision: printouts, parameter
//! counts, `state_dict` keys, initialisation, and the logits of each model
//! with formula weights (resnet18's from a file torchvision wrote). Goldens:
//! `tests/golden/make_vision_model_goldens.py`.

mod common;

use common::{assert_values_close, golden, temp_dir};
use kindling::nn::Module;
use kindling::vision::models::{resnet18, vgg16, vgg16_bn};
use kindling::Tensor;

/// `make_vision_model_goldens.py`'s formula: exact in float64, rounded once.
fn periodic(k: usize) -> f64 {
    ((k * 37) % 251) as f64 / 251.0 - 0.5
}

fn fill(name: &str, shape: &[usize]) -> Tensor {
    let n: usize = shape.iter().product();
    let values: Vec<f32> = (0..n)
        .map(|k| {
            let p = periodic(k);
            let v = if name.ends_with("running_var") {
                1.0 + p.abs()
            } else if name.ends_with("running_mean") || name.ends_with("bias") {
                p * 0.2
            } else if shape.len() == 1 {
                1.0 + p * 0.2
            } else {
                let fan_in = n / shape[0];
                p * (2.0 * 3f64.sqrt() / (fan_in as f64).sqrt())
            };
            v as f32
        })
        .collect();
    Tensor::from_vec(values, shape)
}

fn filled(model: &dyn Module) {
    let state: Vec<(String, Tensor)> = model
        .state_dict()
        .into_iter()
        .map(|(k, t)| {
            let v = if t.dtype().is_floating_point() {
                fill(&k, t.shape())
            } else {
                t
            };
            (k, v)
        })
        .collect();
    model.load_state_dict(&state).unwrap();
}

fn input(shape: &[usize]) -> Tensor {
    let n: usize = shape.iter().product();
    Tensor::from_vec(
        (0..n)
            .map(|k| (periodic(k) * 4.0) as f32)
            .collect::<Vec<_>>(),
        shape,
    )
}

/// Printout, parameter count, keys, shapes and dtypes as torchvision's; the
/// logits on the golden's input as torchvision's (every 7th, and the sum).
fn check(name: &str, model: &dyn Module, weights: impl FnOnce(&dyn Module)) {
    let g = &golden("vision_models.json")[name];
    assert_eq!(model.to_string(), g["printed"].as_str().unwrap(), "{name}");
    let count: usize = model.parameters().iter().map(|p| p.numel()).sum();
    assert_eq!(count as u64, g["parameters"].as_u64().unwrap(), "{name}");
    let keys: Vec<String> = model
        .state_dict()
        .iter()
        .map(|(k, t)| {
            let dtype = format!("{}", t.dtype());
            format!("{k} {:?} {dtype}", t.shape())
        })
        .collect();
    let want: Vec<String> = g["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} {} {}",
                e[0].as_str().unwrap(),
                e[1],
                e[2].as_str().unwrap()
            )
        })
        .map(|s| s.replace(",", ", "))
        .collect();
    assert_eq!(keys, want, "{name}");
    weights(model);
    model.eval();
    let shape: Vec<usize> = g["input"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    let logits = model.forward(&input(&shape)).unwrap();
    assert_eq!(logits.shape(), &[shape[0], 1000]);
    let sampled: Vec<f64> = logits
        .to_vec::<f64>()
        .chunks(1000)
        .flat_map(|row| row.iter().step_by(7).copied().collect::<Vec<_>>())
        .collect();
    let want: Vec<f64> = g["logits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    assert_values_close(name, &sampled, &want, 1e-4);
    let sum: f64 = logits.to_vec::<f64>().iter().sum();
    let want_sum = g["logits_sum"].as_f64().unwrap();
    let scale: f64 = want.iter().fold(0.0, |m, v| m.max(v.abs()));
    assert!(
        (sum - want_sum).abs() <= 1e-4 * scale * 2000.0,
        "{name}: sum {sum} vs {want_sum}"
    );
}

#[test]
fn resnet18_is_torchvisions_and_loads_a_file_torchvision_wrote() {
    let dir = temp_dir("resnet18");
    let path = common::pth::unpacked("resnet18.pth", &dir);
    check("resnet18", &resnet18(), |m| m.load(&path).unwrap());
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn vgg16_and_vgg16_bn_are_torchvisions() {
    check("vgg16", &vgg16(), filled);
    check("vgg16_bn", &vgg16_bn(), filled);
}

#[test]
fn initialisation_is_torchvisions() {
    kindling::manual_seed(0);
    let m = resnet18();
    // kaiming_normal_(mode="fan_out"): std √(2 / (64·7·7)).
    let w = m.conv1.weight.to_vec::<f64>();
    let std = (w.iter().map(|v| v * v).sum::<f64>() / w.len() as f64).sqrt();
    let want = (2.0 / (64.0 * 49.0f64)).sqrt();
    assert!((std / want - 1.0).abs() < 0.05, "{std} vs {want}");
    assert!(m
        .bn1
        .weight()
        .unwrap()
        .to_vec::<f32>()
        .iter()
        .all(|&v| v == 1.0));
    // The classifier as nn.Linear: U(±1/√512).
    let bound = 1.0 / 512f64.sqrt();
    assert!(m.fc.weight.to_vec::<f64>().iter().all(|v| v.abs() <= bound));
}
