//! The `.pth` goldens of `tests/golden/make_pth_goldens.py` (gzipped in
//! `tests/golden/pth/`), and the files kindling writes from them, which that
//! script's `--check` loads into PyTorch. Shared by `tests/pth.rs` and
//! `examples/write_pth_goldens.rs`, so the tests hold kindling to the very
//! bytes PyTorch checked.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use kindling::io::Value;
use kindling::nn::models::Arch;
use kindling::nn::Module;
use kindling::optim::{Adam, Optimizer, SGD};
use kindling::Tensor;

/// Where the gzipped goldens are.
pub fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/pth")
}

/// The bytes of golden `name` (`mlp.pth`), unzipped.
pub fn golden_bytes(name: &str) -> Vec<u8> {
    let path = golden_dir().join(format!("{name}.gz"));
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(file)
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// Golden `name` unzipped into `dir`; its path.
pub fn unpacked(name: &str, dir: &Path) -> PathBuf {
    let path = dir.join(name.replace('/', "_"));
    std::fs::write(&path, golden_bytes(name)).unwrap();
    path
}

/// Gzip with no name and time, as the script writes: the same bytes each time.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// The 16 MNIST test images and labels of `pth_cases.json`.
pub fn batch(cases: &serde_json::Value) -> (Tensor, Tensor) {
    let pixels: Vec<f32> = cases["images"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32 / 255.0)
        .collect();
    let labels: Vec<i64> = cases["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    (
        Tensor::from_vec(pixels, [16, 1, 28, 28]),
        Tensor::from_vec(labels, [16]),
    )
}

/// The models of the state-dict goldens: golden name and architecture.
pub const MODELS: [(&str, Arch); 3] = [
    ("mlp", Arch::Mlp),
    ("cnn", Arch::Cnn),
    ("cnn_bn", Arch::CnnBn),
];

/// The checkpoint goldens and the optimizer each was saved with.
pub fn checkpoint_optimizer(name: &str, params: Vec<Tensor>) -> Box<dyn Optimizer> {
    match name {
        "checkpoint" => Box::new(SGD::new(params, 0.05).momentum(0.9)),
        "adam" => Box::new(Adam::new(params, 0.01)),
        other => panic!("no checkpoint golden {other}"),
    }
}

/// `threeblue` and its optimizer, restored from checkpoint golden `name`,
/// after one more step on `batch` (PyTorch's third).
pub fn continue_checkpoint(
    name: &str,
    dir: &Path,
    (x, y): &(Tensor, Tensor),
) -> (kindling::nn::models::Net, Box<dyn Optimizer>, Value) {
    let ckpt = kindling::load(unpacked(&format!("{name}.pth"), dir)).unwrap();
    let net = Arch::ThreeBlue.build();
    net.load_state_dict(&ckpt["model"].state_dict().unwrap())
        .unwrap();
    let mut opt = checkpoint_optimizer(name, net.parameters());
    opt.load_state_dict(&ckpt["optimizer"]).unwrap();
    opt.zero_grad();
    kindling::nn::functional::cross_entropy(&net.forward(x).unwrap(), y)
        .unwrap()
        .backward();
    opt.step().unwrap();
    (net, opt, ckpt)
}

/// The `.pth` files kindling writes from the goldens, by golden name
/// (`mlp_kindling.pth`): each state dict (resnet18's too) loaded and written again, and each
/// checkpoint continued for a step and saved as `{"model", "optimizer",
/// "epoch": 3}`.
pub fn kindling_files(dir: &Path, cases: &serde_json::Value) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for (name, arch) in MODELS {
        let net = arch.build();
        net.load(&unpacked(&format!("{name}.pth"), dir)).unwrap();
        let bytes = kindling::io::pth_bytes(&net.state_dict().into()).unwrap();
        out.push((format!("{name}_kindling.pth"), bytes));
    }
    // torchvision's resnet18, from the file torchvision wrote.
    let resnet = kindling::vision::models::resnet18();
    resnet.load(&unpacked("resnet18.pth", dir)).unwrap();
    let bytes = kindling::io::pth_bytes(&resnet.state_dict().into()).unwrap();
    out.push(("resnet18_kindling.pth".to_string(), bytes));
    let batch = batch(cases);
    for name in ["checkpoint", "adam"] {
        let (net, opt, _) = continue_checkpoint(name, dir, &batch);
        let ckpt = Value::dict([
            ("model", net.state_dict().into()),
            ("optimizer", opt.state_dict()),
            ("epoch", 3.into()),
        ]);
        out.push((
            format!("{name}_kindling.pth"),
            kindling::io::pth_bytes(&ckpt).unwrap(),
        ));
    }
    out
}
