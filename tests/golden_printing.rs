//! `Display` reproduces PyTorch's printed text exactly (`dtype=torch.uint8`
//! included), for every case in `golden/print_cases.json`.

mod common;

use kindling::Tensor;

fn build(case: &serde_json::Value) -> Tensor {
    let t = common::tensor(&case["tensor"]);
    match case["op"].as_str().unwrap() {
        "none" => t,
        "leaf" => t.requires_grad_(true),
        "mul1" => &t.requires_grad_(true) * 1.0,
        "addmm_eye" => {
            let n = t.shape()[1];
            Tensor::addmm(
                &Tensor::zeros([n]),
                &t.requires_grad_(true),
                &Tensor::eye(n),
            )
        }
        "sum" => {
            let leaf = Tensor::from_vec(vec![0.25f32, 0.75], [2]).requires_grad_(true);
            leaf.sum()
        }
        other => panic!("unknown op {other}"),
    }
}

#[test]
fn printing_matches_pytorch() {
    let cases = common::golden("print_cases.json");
    let mut failures = Vec::new();
    for case in cases.as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let want = case["text"].as_str().unwrap();
        let got = build(case).to_string();
        if got != want {
            failures.push(format!("--- {name}\nPyTorch:\n{want}\nkindling:\n{got}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} cases differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn the_lecture_image_prints_as_in_the_lecture() {
    // The lecture's text collapses runs of spaces; compare word by word.
    let case = common::golden("print_cases.json")[0].clone();
    assert_eq!(case["name"], "lecture_image_13");
    let got = build(&case).to_string();
    let lecture_first_row = "tensor([[ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,";
    assert_eq!(
        got.lines()
            .next()
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
        lecture_first_row
    );
    assert!(got.ends_with("dtype=torch.uint8)"));
}
