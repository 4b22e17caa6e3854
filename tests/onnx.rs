//! ONNX export: the files kindling writes for the reference models are the
//! bytes ONNX Runtime ran in `tests/golden/check_onnx.py` (by MD5), where
//! `onnx.checker` accepted them and their logits on 100 MNIST test images
//! matched kindling's within 1e-5, with a dynamic batch size and every
//! parameter stored once.

mod common;

use std::process::Command;

use common::onnx::{md5_hex, onnx_bytes, ARCHS};
use common::{golden, temp_dir};
use kindling::nn::{Linear, Module, Sequential, GELU};

#[test]
fn exports_are_the_bytes_onnx_runtime_ran_and_agreed_with() {
    let check = golden("onnx_check.json");
    for arch in ARCHS {
        let bytes = onnx_bytes(arch);
        let r = &check["models"][arch.name()];
        assert_eq!(
            md5_hex(&bytes),
            r["md5"].as_str().unwrap(),
            "{arch}: the export changed; run examples/write_onnx_goldens.rs and check_onnx.py again"
        );
        assert_eq!(r["checker"], "ok");
        assert_eq!(r["opset"], 17);
        assert_eq!(r["input"][0], "batch", "{arch}: a dynamic batch");
        for what in ["max_diff", "max_diff_batches_of_7"] {
            assert!(
                r[what].as_f64().unwrap() <= 1e-5,
                "{arch} {what}: {}",
                r[what]
            );
        }
        assert_eq!(r["duplicate_initializers"], 0, "{arch}");
        let params: usize = common::onnx::model(arch)
            .parameters()
            .iter()
            .map(|p| p.numel())
            .sum();
        let buffers = if arch == kindling::nn::models::Arch::CnnBn {
            2 * (32 + 64)
        } else {
            0
        };
        assert_eq!(
            r["parameters"].as_u64().unwrap() as usize,
            params + buffers,
            "{arch}"
        );
    }
    // The cnn's 1,199,882 float32 parameters, once: about 4.8 MB.
    let cnn = &check["models"]["cnn"];
    assert_eq!(cnn["parameters"], 1_199_882);
    let size = cnn["file_bytes"].as_u64().unwrap();
    assert!((4_799_528..4_900_000).contains(&size), "{size}");
}

#[test]
fn the_command_line_exports_a_pth_as_onnx() {
    let dir = temp_dir("onnx-cli");
    let weights = common::pth::unpacked("mlp.pth", &dir);
    let out = dir.join("mlp.onnx");
    let run = |model: &str| {
        Command::new(env!("CARGO_BIN_EXE_kindling"))
            .args(["export", "--model", model, "--format", "onnx", "--weights"])
            .arg(&weights)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap()
    };
    let o = run("mlp");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("mlp for input [batch, 1, 28, 28]"));
    // The same bytes as the library's export of the same weights.
    let net = {
        let _turn = common::rng_lock();
        kindling::nn::models::Arch::Mlp.build()
    };
    net.load(&weights).unwrap();
    let want = kindling::io::onnx::to_bytes(&net, &[1, 28, 28]).unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), want);
    // Weights of another architecture: one line, exit 1, the old file kept.
    std::fs::remove_file(&out).unwrap();
    let o = run("cnn");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(!out.exists());
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_module_without_an_onnx_form_says_which() {
    let _turn = common::rng_lock();
    let m = Sequential::new((Linear::new(4, 3), GELU::new()));
    let e = kindling::io::onnx::to_bytes(&m, &[4])
        .unwrap_err()
        .to_string();
    assert!(e.contains("GELU has no ONNX form"), "{e}");
    let t = common::tower::Tower::new();
    let e = kindling::io::onnx::to_bytes(&t, &[4])
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("Tower has no ONNX form: write Module::onnx"),
        "{e}"
    );
}
