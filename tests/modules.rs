//! `#[derive(Module)]`: every field registered (a `Vec` of layers, an `Option`,
//! buffers), PyTorch's `state_dict` keys and printout, and a round trip through
//! PyTorch in both directions. Goldens: `tests/golden/make_module_goldens.py`.

mod common;

use std::path::{Path, PathBuf};

use common::tower::Tower;
use kindling::nn::Module;
use kindling::optim::{Optimizer, SGD};
use kindling::Tensor;

fn golden_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn floats(v: &serde_json::Value) -> Vec<f64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap())
        .collect()
}

fn input(g: &serde_json::Value) -> Tensor {
    let x: Vec<f32> = floats(&g["input"]).iter().map(|&v| v as f32).collect();
    Tensor::from_vec(x, [5, 4])
}

fn assert_near(what: &str, got: &Tensor, want: &[f64]) {
    common::assert_values_close(what, &got.to_vec::<f64>(), want, 1e-6);
}

#[test]
fn derive_registers_every_field_with_pytorchs_keys_and_printout() {
    let _rng = common::rng_lock();
    let g = common::golden("modules.json");
    let tower = Tower::new();
    let keys: Vec<String> = tower.state_dict().into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, strings(&g["keys"]));
    let params: Vec<String> = tower
        .named_parameters()
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(params, keys[2..], "buffers are not parameters");
    let buffers: Vec<String> = tower.named_buffers().into_iter().map(|(k, _)| k).collect();
    assert_eq!(buffers, ["scale", "seen"]);
    assert_eq!(tower.to_string(), g["printed"].as_str().unwrap());
}

#[test]
fn pytorch_written_weights_and_buffers_load_strictly() {
    let _rng = common::rng_lock();
    let g = common::golden("modules.json");
    let tower = Tower::new();
    tower
        .load(&golden_file("nn/tower_pytorch.safetensors"))
        .unwrap();
    assert_eq!(tower.seen.item().to_i64(), 7, "an int64 buffer");
    assert_eq!(tower.scale.to_vec::<f32>(), [2.0, -1.0]);
    tower.eval();
    assert_near(
        "PyTorch's weights",
        &tower.forward(&input(&g)).unwrap(),
        &floats(&g["output"]),
    );
}

#[test]
fn kindling_written_file_is_what_pytorch_loaded() {
    let _rng = common::rng_lock();
    let g = common::golden("modules.json");
    let tower = Tower::for_pytorch();
    // The committed file is exactly what this code writes, so PyTorch's strict
    // load of it (in the golden script) checked this code's keys and values.
    let dir = common::temp_dir("tower");
    let path = dir.join("tower.safetensors");
    tower.save(&path).unwrap();
    assert_eq!(
        std::fs::read(&path).unwrap(),
        std::fs::read(golden_file("nn/tower_kindling.safetensors")).unwrap()
    );
    assert_eq!(g["kindling_file_seen"].as_i64().unwrap(), 42);
    tower.eval();
    assert_near(
        "kindling's weights in PyTorch",
        &tower.forward(&input(&g)).unwrap(),
        &floats(&g["kindling_file_output"]),
    );
}

#[test]
fn train_and_eval_reach_optional_children_and_buffers_are_not_trained() {
    let _rng = common::rng_lock();
    let g = common::golden("modules.json");
    let tower = Tower::new();
    let x = input(&g);
    tower.eval();
    let a = tower.forward(&x).unwrap().to_vec::<f32>();
    assert_eq!(
        a,
        tower.forward(&x).unwrap().to_vec::<f32>(),
        "eval: no dropout"
    );
    tower.train();
    kindling::manual_seed(0);
    let b = tower.forward(&x).unwrap().to_vec::<f32>();
    assert_ne!(a, b, "train: the Option<Dropout> is active");

    let scale_before = tower.scale.to_vec::<f32>();
    let mut opt = SGD::new(tower.parameters(), 0.1);
    assert_eq!(tower.parameters().len(), 6);
    tower.forward(&x).unwrap().sum().backward();
    opt.step().unwrap();
    assert_eq!(tower.scale.to_vec::<f32>(), scale_before);
}

#[test]
fn a_missing_buffer_is_named() {
    let _rng = common::rng_lock();
    let tower = Tower::new();
    let partial: Vec<(String, Tensor)> = tower
        .state_dict()
        .into_iter()
        .filter(|(k, _)| k != "seen")
        .collect();
    let err = tower.load_state_dict(&partial).unwrap_err().to_string();
    assert!(
        err.contains("Missing key(s) in state_dict: \"seen\"."),
        "{err}"
    );
}

#[test]
fn an_optimizer_with_nothing_to_train_says_so() {
    // A module whose layers were not registered would hand out no parameters.
    let mut opt = SGD::new(Vec::new(), 0.1);
    let err = opt.step().unwrap_err().to_string();
    assert_eq!(err, "optimizer got an empty parameter list");
    let mut adam = kindling::optim::Adam::new(Vec::new(), 0.1);
    assert!(adam.step().is_err());
}

#[test]
fn a_module_moves_to_another_device_with_its_buffers_and_optimizer_handles() {
    let _rng = common::rng_lock();
    let g = common::golden("modules.json");
    let tower = Tower::new();
    tower
        .load(&golden_file("nn/tower_pytorch.safetensors"))
        .unwrap();
    tower.eval();
    let x = input(&g);
    let mut opt = SGD::new(tower.parameters(), 0.1);
    tower.to(kindling::Device::Reference);
    assert!(tower
        .state_dict()
        .iter()
        .all(|(_, t)| t.device() == kindling::Device::Reference));
    assert_eq!(
        tower.seen.device(),
        kindling::Device::Reference,
        "an int64 buffer"
    );
    let out = tower.forward(&x.to(kindling::Device::Reference)).unwrap();
    assert_eq!(out.device(), kindling::Device::Reference);
    assert_near("on the reference backend", &out, &floats(&g["output"]));
    // The optimizer made before the move updates the moved parameters.
    out.sum().backward();
    opt.step().unwrap();
    assert_eq!(
        tower.stem.weight.grad().unwrap().device(),
        kindling::Device::Reference
    );
    tower.to(kindling::Device::Cpu);
    assert_eq!(tower.stem.weight.device(), kindling::Device::Cpu);
}
