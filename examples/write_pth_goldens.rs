//! Writes the `.pth` files kindling makes from PyTorch's `.pth` goldens
//! (gzipped, as `tests/golden/pth/*_kindling.pth.gz`), for
//! `tests/golden/make_pth_goldens.py --check` to load into PyTorch.
//! `tests/pth.rs` checks that kindling still writes exactly these bytes.
//!
//! Run: `cargo run --release --example write_pth_goldens`

#[path = "../tests/common/pth.rs"]
// Formatted as the tests format it (the examples are formatted wider).
#[rustfmt::skip]
mod pth;

fn main() {
    let cases: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/pth_cases.json"))
            .expect("tests/golden/pth_cases.json (run make_pth_goldens.py first)"),
    )
    .unwrap();
    let dir = std::env::temp_dir().join(format!("kindling-pth-goldens-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, bytes) in pth::kindling_files(&dir, &cases) {
        let path = pth::golden_dir().join(format!("{name}.gz"));
        std::fs::write(&path, pth::gzip(&bytes)).unwrap();
        println!("wrote {}", path.display());
    }
    std::fs::remove_dir_all(&dir).ok();
}
