//! PyTorch's `.pth` files, both ways: files `torch.save` wrote load into
//! kindling's models and give PyTorch's logits; checkpoints (model, optimizer,
//! epoch) continue training as in PyTorch; the files kindling writes are the
//! bytes PyTorch checked (`make_pth_goldens.py --check`); hostile files are
//! refused in one line, with nothing run. Goldens: `tests/golden/make_pth_goldens.py`.

mod common;

use std::process::Command;

use common::pth::{self, unpacked};
use common::{assert_tensor_close, assert_values_close, golden, temp_dir};
use kindling::io::Value;
use kindling::nn::Module;
use kindling::{DType, Tensor};

#[test]
fn pytorch_state_dicts_load_into_kindlings_models_and_give_pytorchs_logits() {
    let dir = temp_dir("pth-models");
    let cases = golden("pth_cases.json");
    let (x, _) = pth::batch(&cases);
    for (name, arch) in pth::MODELS {
        let net = arch.build();
        // Told apart from safetensors by its contents, as `kindling eval` loads it.
        net.load(&unpacked(&format!("{name}.pth"), &dir)).unwrap();
        net.eval();
        let logits = net.forward(&x).unwrap();
        assert_eq!(logits.shape(), &[16, 10]);
        let want: Vec<f64> = cases["logits"][name]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_values_close(name, &logits.to_vec::<f64>(), &want, 1e-5);
    }
    // BatchNorm's int64 buffer reads as int64, its running statistics as PyTorch left them.
    let sd = kindling::load(unpacked("cnn_bn.pth", &dir)).unwrap();
    assert_eq!(
        sd["bn1.num_batches_tracked"].as_tensor().unwrap().dtype(),
        DType::I64
    );
    assert!(matches!(sd, Value::OrderedDict(_)));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_pytorch_checkpoint_opens_as_a_value_and_continues_training_as_in_pytorch() {
    let dir = temp_dir("pth-checkpoint");
    let cases = golden("pth_cases.json");
    let batch = pth::batch(&cases);
    for name in ["checkpoint", "adam"] {
        let (net, opt, ckpt) = pth::continue_checkpoint(name, &dir, &batch);
        assert_eq!(ckpt["epoch"].as_i64(), Some(2));
        assert!(ckpt["loss"].as_f64().unwrap() > 0.0);
        let groups = ckpt["optimizer"]["param_groups"].elements().unwrap();
        assert_eq!(groups[0]["lr"].as_f64(), Some(opt.lr()));
        // The third step from PyTorch's two, against PyTorch's third.
        let want = kindling::load(unpacked(&format!("{name}_step3.pth"), &dir))
            .unwrap()
            .state_dict()
            .unwrap();
        let got = net.state_dict();
        assert_eq!(got.len(), want.len());
        for ((k, g), (kw, w)) in got.iter().zip(&want) {
            assert_eq!(k, kw);
            assert_tensor_close(&format!("{name} {k}"), g, w, 1e-5);
        }
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn kindling_writes_the_files_pytorch_loaded_and_checked() {
    let dir = temp_dir("pth-kindling");
    let cases = golden("pth_cases.json");
    for (name, bytes) in pth::kindling_files(&dir, &cases) {
        let checked = pth::golden_bytes(&name);
        let back = kindling::io::parse_pth(&bytes).unwrap();
        if name.starts_with("checkpoint") || name.starts_with("adam") {
            // A training step's last bits may depend on the CPU's kernels:
            // the same structure, settings and keys, tensors within 1e-6.
            same_values(&name, &back, &kindling::io::parse_pth(&checked).unwrap());
        } else {
            // Byte for byte what `make_pth_goldens.py --check` loaded into
            // PyTorch (`weights_only=True`, `strict=True`).
            assert!(
                bytes == checked,
                "{name} differs from the file PyTorch checked: run `cargo run --release --example write_pth_goldens` and `make_pth_goldens.py --check`"
            );
        }
    }
    let check = golden("pth_kindling_check.json");
    for what in ["logits_max_diff", "step_max_diff"] {
        let diffs = check[what].as_object().unwrap();
        assert!(!diffs.is_empty());
        for (name, d) in diffs {
            assert!(d.as_f64().unwrap() <= 1e-5, "{what} {name}: {d}");
        }
    }
    std::fs::remove_dir_all(dir).ok();
}

/// Equal values, tensors within 1e-6 (relative to the largest).
fn same_values(what: &str, a: &Value, b: &Value) {
    match (a, b) {
        (Value::Tensor(x), Value::Tensor(y)) => {
            assert_eq!(x.dtype(), y.dtype(), "{what}");
            assert_tensor_close(what, x, y, 1e-6);
        }
        (Value::Dict(x), Value::Dict(y)) | (Value::OrderedDict(x), Value::OrderedDict(y)) => {
            assert_eq!(x.len(), y.len(), "{what}");
            for ((kx, vx), (ky, vy)) in x.iter().zip(y) {
                assert_eq!(kx.to_string(), ky.to_string(), "{what}");
                same_values(&format!("{what}[{kx}]"), vx, vy);
            }
        }
        (Value::List(x), Value::List(y)) | (Value::Tuple(x), Value::Tuple(y)) => {
            assert_eq!(x.len(), y.len(), "{what}");
            for (i, (vx, vy)) in x.iter().zip(y).enumerate() {
                same_values(&format!("{what}[{i}]"), vx, vy);
            }
        }
        _ => assert_eq!(a.to_string(), b.to_string(), "{what}"),
    }
}

#[test]
fn views_dtypes_and_containers_read_as_pytorch_wrote_them() {
    let dir = temp_dir("pth-values");
    let v = kindling::load(unpacked("values.pth", &dir)).unwrap();
    let t = |k: &str| v[k].as_tensor().unwrap().clone();
    let base = t("base");
    assert_eq!(
        base.to_vec::<f32>(),
        (0..12).map(|i| i as f32).collect::<Vec<_>>()
    );
    // Views of one storage stay views of it, with PyTorch's offsets and strides.
    for (k, want) in [
        ("row", vec![4.0, 5.0, 6.0, 7.0]),
        ("col", vec![2.0, 6.0, 10.0]),
        ("narrow", vec![5.0, 6.0, 9.0, 10.0]),
    ] {
        assert!(t(k).shares_storage(&base), "{k}");
        assert_eq!(t(k).to_vec::<f32>(), want, "{k}");
    }
    assert_eq!(t("t").shape(), &[4, 3]);
    assert_eq!(t("t").stride(), &[1, 4]);
    assert_eq!(t("t").to_vec::<f32>()[..3], [0.0, 4.0, 8.0]);
    assert_eq!(t("f64").to_vec::<f64>(), vec![0.5, -1.25]);
    assert_eq!(t("i64").to_vec::<i64>(), vec![-3, 1 << 40]);
    assert_eq!(t("u8").to_vec::<u8>(), vec![0, 7, 255]);
    assert_eq!(t("bool").to_vec::<bool>(), vec![true, false, true]);
    assert_eq!(t("scalar").shape(), &[] as &[usize]);
    assert_eq!(t("empty").shape(), &[0, 3]);
    assert!(t("param").requires_grad() && !t("base").requires_grad());
    // Everything else prints as Python's repr of what PyTorch saved.
    let cases = golden("pth_cases.json");
    for (k, want) in cases["values_repr"].as_object().unwrap() {
        assert_eq!(v[k.as_str()].to_string(), want.as_str().unwrap(), "{k}");
    }
    // kindling writes it back and reads the same values.
    let back = kindling::io::parse_pth(&kindling::io::pth_bytes(&v).unwrap()).unwrap();
    assert_eq!(back.to_string(), v.to_string());
    std::fs::remove_dir_all(dir).ok();
}

/// The hostile goldens (each refused by `torch.load(weights_only=True)` too,
/// but for the 10^6 nested lists, which PyTorch reads).
fn hostile() -> Vec<String> {
    golden("pth_cases.json")["hostile"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn hostile_files_are_refused_in_one_line_and_nothing_in_them_runs() {
    let dir = temp_dir("pth-hostile");
    let names = hostile();
    assert_eq!(names.len(), 11);
    for name in &names {
        let path = unpacked(&format!("hostile/{name}.pth"), &dir);
        let e = kindling::load(&path).unwrap_err().to_string();
        assert!(
            !e.contains('\n') && e.contains(&*path.to_string_lossy()),
            "{name}: {e}"
        );
        let expect = match name.as_str() {
            "os_system" => "`posix.system`",
            "posix_system_stack_global" => "`posix.system`",
            "builtins_exec" => "`builtins.exec`",
            "reduce_eval" => "`builtins.eval`",
            "storage_larger_than_file" => "more than the file",
            "offset_beyond_storage" => "beyond its storage",
            "negative_stride" => "negative stride",
            "zip_bomb" => "compressed",
            "nested_lists" => "deeper than 256 levels",
            "truncated_zip" => "not a valid .pth file",
            "whole_model" => "`__main__.NeuralNetwork`",
            other => panic!("no expectation for {other}"),
        };
        assert!(e.contains(expect), "{name}: {e}");
        // The command line: one line, exit 1, and no file created by the
        // pickle's `touch pwned` (run in this folder).
        let out = Command::new(env!("CARGO_BIN_EXE_kindling"))
            .args(["eval", "--model", "mlp", "--weights"])
            .arg(&path)
            .current_dir(&dir)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{name}: {stderr}");
        assert!(stderr.contains(expect), "{name}: {stderr}");
        assert!(!dir.join("pwned").exists(), "{name} ran code");
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn the_command_line_evaluates_predicts_and_trains_from_a_pth() {
    let dir = temp_dir("pth-cli");
    let weights = unpacked("mlp.pth", &dir);
    let data =
        common::fixture::data_root("the_command_line_evaluates_predicts_and_trains_from_a_pth");
    let run = |args: &[&std::ffi::OsStr]| {
        let out = Command::new(env!("CARGO_BIN_EXE_kindling"))
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let report = run(&[
        "eval".as_ref(),
        "--model".as_ref(),
        "mlp".as_ref(),
        "--json".as_ref(),
        "--weights".as_ref(),
        weights.as_os_str(),
        "--root".as_ref(),
        data.path.as_os_str(),
    ]);
    // PyTorch's untrained mlp: about chance.
    assert!(report["accuracy"].as_f64().unwrap() < 0.3, "{report}");
    // Predict with the .pth and with the same weights as safetensors: the same answer.
    let cases = golden("pth_cases.json");
    let pixels: Vec<u8> = cases["images"].as_array().unwrap()[..784]
        .iter()
        .map(|v| v.as_u64().unwrap() as u8)
        .collect();
    let png = dir.join("digit.png");
    let mut enc = png::Encoder::new(std::fs::File::create(&png).unwrap(), 28, 28);
    enc.set_color(png::ColorType::Grayscale);
    enc.write_header()
        .unwrap()
        .write_image_data(&pixels)
        .unwrap();
    let net = kindling::nn::models::Arch::Mlp.build();
    net.load(&weights).unwrap();
    let same = dir.join("same.safetensors");
    net.save(&same).unwrap();
    let predict = |w: &std::path::Path| {
        run(&[
            "predict".as_ref(),
            "--model".as_ref(),
            "mlp".as_ref(),
            "--json".as_ref(),
            "--weights".as_ref(),
            w.as_os_str(),
            png.as_os_str(),
        ])["predictions"]
            .clone()
    };
    let from_pth = predict(&weights);
    assert_eq!(from_pth, predict(&same));
    assert!(from_pth[0]["top3"][0]["probability"].as_f64().unwrap() > 0.0);
    // train --init starts from the file: with a learning rate far below any
    // weight's float32 resolution, the run's weights are the file's, bit for bit.
    let out = dir.join("run");
    let trained = Command::new(env!("CARGO_BIN_EXE_kindling"))
        .args(["train", "--model", "mlp", "--epochs", "1", "--lr", "1e-30"])
        .args(["--schedule", "none", "--json", "--init"])
        .arg(&weights)
        .arg("--root")
        .arg(&data.path)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        trained.status.success(),
        "{}",
        String::from_utf8_lossy(&trained.stderr)
    );
    let (run, _) = kindling::io::load_safetensors(&out.join("model.safetensors")).unwrap();
    let init = kindling::load(&weights).unwrap().state_dict().unwrap();
    let mut init = init;
    init.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(run.len(), init.len());
    for ((k, a), (kb, b)) in run.iter().zip(&init) {
        assert_eq!(k, kb);
        assert_eq!(a.to_vec::<f32>(), b.to_vec::<f32>(), "{k}");
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn an_optimizer_state_dict_has_pytorchs_layout_and_round_trips() {
    use kindling::optim::{Adam, Optimizer, SGD};
    let dir = temp_dir("pth-optim");
    let w = Tensor::ones([2, 3]).requires_grad_(true);
    let mut adam = Adam::new(vec![w.clone()], 0.01);
    w.sum().backward();
    adam.step().unwrap();
    let sd = adam.state_dict();
    assert_eq!(sd["state"].items().unwrap().len(), 1);
    let state0 = &sd["state"].items().unwrap()[0].1;
    assert_eq!(
        state0["step"].as_tensor().unwrap().to_vec::<f32>(),
        vec![1.0]
    );
    assert_eq!(state0["exp_avg"].as_tensor().unwrap().shape(), &[2, 3]);
    assert_eq!(sd["param_groups"][0]["betas"].to_string(), "(0.9, 0.999)");
    assert_eq!(sd["param_groups"][0]["params"].to_string(), "[0]");
    let path = dir.join("opt.pth");
    kindling::save(sd, &path).unwrap();
    let mut again = Adam::new(vec![w.clone()], 0.5);
    again
        .load_state_dict(&kindling::load(&path).unwrap())
        .unwrap();
    assert_eq!(again.lr(), 0.01, "lr comes from the file, as in PyTorch");
    assert_eq!(again.state().step, 1);
    // A setting that differs is refused by name, as is another optimizer's state.
    let mut other = Adam::new(vec![w.clone()], 0.01).betas(0.8, 0.999);
    let e = other
        .load_state_dict(&kindling::load(&path).unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("betas (0.9, 0.999)") && e.contains("(0.8, 0.999)"),
        "{e}"
    );
    let mut sgd = SGD::new(vec![w.clone()], 0.1).momentum(0.9);
    let e = sgd
        .load_state_dict(&kindling::load(&path).unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.contains("exp_avg"), "{e}");
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_module_saves_a_pth_when_the_path_says_so() {
    let dir = temp_dir("pth-save");
    let fc = kindling::nn::Linear::new(3, 2);
    fc.save(&dir.join("w.pth")).unwrap();
    fc.save(&dir.join("w.safetensors")).unwrap();
    assert!(std::fs::read(dir.join("w.pth"))
        .unwrap()
        .starts_with(b"PK\x03\x04"));
    assert!(!std::fs::read(dir.join("w.safetensors"))
        .unwrap()
        .starts_with(b"PK"));
    for file in ["w.pth", "w.safetensors"] {
        let back = kindling::nn::Linear::new(3, 2);
        back.load(&dir.join(file)).unwrap();
        assert_eq!(back.weight.to_vec::<f32>(), fc.weight.to_vec::<f32>());
    }
    // A .pth that is not a state dict says what it holds.
    kindling::save(Value::dict([("epoch", Value::from(3))]), dir.join("c.pth")).unwrap();
    let e = fc.load(&dir.join("c.pth")).unwrap_err().to_string();
    assert!(e.contains("state dict entry \"epoch\" is an int"), "{e}");
    std::fs::remove_dir_all(dir).ok();
}
