//! The notebooks in `notebooks/`, executed headless in the Rust kernel by
//! `notebooks/execute.py` (which `.ci/run` runs before the tests) into
//! `target/notebooks/`, against the outputs committed with them: no cell may
//! raise, every cell shows the same kinds of output (text, `image/png`), text
//! is the same (numbers to 4 digits), pictures have the same size, and a cell
//! whose output depends on timing or on the CPU (`"kindling": {"compare":
//! "form"}` in its metadata: training progress, and the scores of a network
//! trained in the notebook, whose last bits depend on the CPU's vector width,
//! NOTE(winograd)) is held to its form and to a few dozen lines.
//! The lecture's cells are also held to what PyTorch printed in the lecture.
//!
//! Without the executed notebooks these tests say so and pass, except under
//! `CI=true` (NOTE(no-skip)), where they fail.

mod common;

use std::path::{Path, PathBuf};

use common::{base64_decode, split_numbers};
use kindling::notebook::{base64, evcxr_blocks, EvcxrDisplay};
use kindling::plot::pyplot as plt;
use kindling::Tensor;
use serde_json::Value;

/// The most lines a progress stream (stderr) may have in one cell.
const MAX_PROGRESS_LINES: usize = 60;

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The committed notebook `name` and its executed copy, or `None` (outside CI)
/// when it has not been executed.
fn notebook(test: &str, name: &str) -> Option<(Value, Value)> {
    let committed = read(&repo().join("notebooks").join(format!("{name}.ipynb")));
    let executed: PathBuf = repo()
        .join("target/notebooks")
        .join(format!("{name}.ipynb"));
    if !executed.exists() {
        if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
            panic!(
                "{test} needs {} (python3 notebooks/execute.py), and CI=true forbids skipping",
                executed.display()
            );
        }
        eprintln!(
            "{test}: skipped: {} not found (python3 notebooks/execute.py writes it; CI runs it)",
            executed.display()
        );
        return None;
    }
    Some((committed, read(&executed)))
}

/// A cell's source as one string (nbformat stores it as a string or a list of lines).
fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(lines) => lines.iter().filter_map(Value::as_str).collect(),
        _ => String::new(),
    }
}

fn code_cells(nb: &Value) -> Vec<&Value> {
    nb["cells"]
        .as_array()
        .expect("cells")
        .iter()
        .filter(|c| c["cell_type"] == "code")
        .collect()
}

/// Each output as its kind: `stream:stderr`, or the output type and its MIME types.
fn kinds(cell: &Value) -> Vec<String> {
    cell["outputs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|o| match o["output_type"].as_str().unwrap_or("") {
            "stream" => format!("stream:{}", o["name"].as_str().unwrap_or("")),
            t => {
                let mut mimes: Vec<&str> = o["data"]
                    .as_object()
                    .map(|d| d.keys().map(String::as_str).collect())
                    .unwrap_or_default();
                mimes.sort();
                format!("{t}:{}", mimes.join(","))
            }
        })
        .collect()
}

/// Width and height of a base64 PNG, read from its header.
fn png_size(b64: &str) -> (u32, u32) {
    let bytes = base64_decode(b64);
    let info = png::Decoder::new(std::io::Cursor::new(bytes))
        .read_info()
        .expect("a PNG that decodes");
    (info.info().width, info.info().height)
}

/// The same text, numbers agreeing to 4 digits.
fn assert_same_text(what: &str, got: &str, want: &str) {
    let (got_shape, got_numbers) = split_numbers(got);
    let (want_shape, want_numbers) = split_numbers(want);
    assert_eq!(
        got_shape, want_shape,
        "{what}: the text differs:\n{got}\n---\n{want}"
    );
    for (g, w) in got_numbers.iter().zip(&want_numbers) {
        assert!(
            (g - w).abs() <= 1e-3 * g.abs().max(w.abs()) + 1e-4,
            "{what}: {g} where the committed notebook has {w}:\n{got}"
        );
    }
}

/// Whether a cell's first output is text on stderr.
fn starts_with_stderr(cell: &Value) -> bool {
    let first = &cell["outputs"][0];
    first["output_type"] == "stream" && first["name"] == "stderr"
}

/// Gives back to each cell the stderr text that evcxr delivered with the next
/// one. evcxr forwards the program's stderr on a thread of its own, so the
/// last line a cell writes there (a progress meter's final line, printed as
/// the loop ends) can reach Jupyter after the cell's reply, and is then shown
/// at the top of the next cell. A leading stderr output where the committed
/// cell has none moves back to the end of the previous cell's stderr.
fn late_stderr_to_its_cell(committed: &Value, executed: &mut Value) {
    let want: Vec<bool> = code_cells(committed)
        .into_iter()
        .map(starts_with_stderr)
        .collect();
    let Some(cells) = executed["cells"].as_array_mut() else {
        return;
    };
    let code: Vec<usize> = (0..cells.len())
        .filter(|&i| cells[i]["cell_type"] == "code")
        .collect();
    for k in 1..code.len().min(want.len()) {
        let (prev, this) = (code[k - 1], code[k]);
        if want[k] || !starts_with_stderr(&cells[this]) {
            continue;
        }
        let late = cells[this]["outputs"].as_array_mut().unwrap().remove(0);
        let outputs = cells[prev]["outputs"].as_array_mut().unwrap();
        match outputs
            .iter_mut()
            .rev()
            .find(|o| o["output_type"] == "stream" && o["name"] == "stderr")
        {
            Some(stderr) => {
                let text = text_of(&stderr["text"]) + &text_of(&late["text"]);
                stderr["text"] = Value::String(text);
            }
            None => outputs.insert(0, late),
        }
    }
}

fn compare(name: &str, committed: &Value, executed: &Value) {
    let mut executed = executed.clone();
    late_stderr_to_its_cell(committed, &mut executed);
    let (want, got) = (code_cells(committed), code_cells(&executed));
    assert_eq!(got.len(), want.len(), "{name}: code cells");
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        let what = format!(
            "{name}, code cell {}: {}",
            i + 1,
            text_of(&w["source"]).lines().next().unwrap_or("")
        );
        assert_eq!(
            text_of(&g["source"]),
            text_of(&w["source"]),
            "{what}: source"
        );
        assert_eq!(kinds(g), kinds(w), "{what}: kinds of output");
        let form_only = w["metadata"]["kindling"]["compare"] == "form";
        let outputs = |c: &Value| c["outputs"].as_array().cloned().unwrap_or_default();
        for (og, ow) in outputs(g).iter().zip(&outputs(w)) {
            assert_ne!(
                og["output_type"], "error",
                "{what}: raised {}",
                og["evalue"]
            );
            if og["output_type"] == "stream" {
                let text = text_of(&og["text"]);
                if og["name"] == "stderr" {
                    let lines = text.lines().count();
                    assert!(
                        lines <= MAX_PROGRESS_LINES,
                        "{what}: {lines} lines on stderr"
                    );
                }
                if !form_only {
                    assert_same_text(&what, &text, &text_of(&ow["text"]));
                }
                continue;
            }
            for (mime, value) in og["data"].as_object().into_iter().flatten() {
                let committed = &ow["data"][mime];
                match mime.as_str() {
                    "image/png" => assert_eq!(
                        png_size(&text_of(value)),
                        png_size(&text_of(committed)),
                        "{what}: picture size"
                    ),
                    _ if !form_only => {
                        assert_same_text(&what, &text_of(value), &text_of(committed))
                    }
                    _ => {}
                }
            }
        }
    }
}

#[test]
fn every_notebook_runs_and_shows_what_it_was_committed_with() {
    let test = "every_notebook_runs_and_shows_what_it_was_committed_with";
    let mut names: Vec<String> = std::fs::read_dir(repo().join("notebooks"))
        .unwrap()
        .filter_map(|e| {
            e.ok()?
                .file_name()
                .to_str()?
                .strip_suffix(".ipynb")
                .map(String::from)
        })
        .collect();
    names.sort();
    assert_eq!(names, ["cnn", "lecture", "quickstart"]);
    for name in &names {
        if let Some((committed, executed)) = notebook(test, name) {
            compare(name, &committed, &executed);
        }
    }
}

/// The `text/plain` (or the streams) a lecture notebook cell shows, found by
/// the last line of its source.
fn shown(cells: &[&Value], last_line: &str) -> String {
    let cell = cells
        .iter()
        .find(|c| text_of(&c["source"]).lines().last() == Some(last_line))
        .unwrap_or_else(|| panic!("no cell ends with {last_line}"));
    cell["outputs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|o| match o["output_type"].as_str() {
            Some("stream") => text_of(&o["text"]),
            _ => text_of(&o["data"]["text/plain"]),
        })
        .collect()
}

#[test]
fn the_lecture_notebook_shows_what_pytorch_printed_in_the_lecture() {
    let test = "the_lecture_notebook_shows_what_pytorch_printed_in_the_lecture";
    let Some((_, executed)) = notebook(test, "lecture") else {
        return;
    };
    let Some(lecture) = common::fixture::lecture_text(test) else {
        return;
    };
    let lecture_lines: Vec<&str> = lecture.lines().collect();
    let cells = code_cells(&executed);
    // The Rust cell (by its last line) and the lecture's Python cell it is.
    let deterministic = [
        ("training_data.data.size()", "training_data.data.shape"),
        ("training_data.data.i(13)", "training_data.data[13]"),
        ("training_data.targets.i(13)", "training_data.targets[13]"),
        (
            "training_data.targets.i(13).item()",
            "training_data.targets[13].item()",
        ),
        (
            "flatten.forward(&training_data.data.i(..13))",
            "flatten(training_data.data[:13])",
        ),
        (
            "training_data.data.i(..13).size()",
            "training_data.data[:13].shape",
        ),
        (
            "flatten.forward(&training_data.data.i(..13))?.size()",
            "flatten(training_data.data[:13]).shape",
        ),
        ("mon.flatten", "mon.flatten"),
        (
            "mon.flatten.forward(&training_data.data.i(..13))",
            "mon.flatten(training_data.data[:13])",
        ),
        (
            "training_data.data.max().item()",
            "training_data.data.numpy().max()",
        ),
        ("training_data.data.max()", "training_data.data.max()"),
        (
            "mon.forward(&(&training_data.data / 255))?.size()",
            "mon(training_data.data/255).shape",
        ),
    ];
    let mut compared = 0;
    for (rust, python) in deterministic {
        let got = shown(&cells, rust);
        compared += common::fixture::assert_lecture_printed(
            &lecture,
            python,
            &got.lines().collect::<Vec<_>>(),
        );
    }
    assert_eq!(compared, 80, "lines compared");
    // The uint8 cell: the lecture's error, as Jupyter shows an exception, and the hint.
    let error = shown(&cells, "mon.forward(&training_data.data)");
    assert!(lecture_lines.contains(&"RuntimeError: expected scalar type Float but found Byte"));
    let mut lines = error.lines();
    assert_eq!(
        lines.next(),
        Some("RuntimeError: expected scalar type Float but found Byte")
    );
    assert!(lines
        .next()
        .is_some_and(|l| l.starts_with("hint: ") && l.contains("/ 255")));
    // The three imshow cells are pictures.
    let pictures = cells
        .iter()
        .filter(|c| text_of(&c["source"]).contains(".imshow(&training_data.data.i(13)"))
        .filter(|c| kinds(c).iter().any(|k| k.contains("image/png")))
        .count();
    assert_eq!(pictures, 3, "imshow cells shown as image/png");
    // Outputs with grad_fn, as PyTorch prints them.
    for (rust, node) in [
        (
            "mon.forward(&(&training_data.data / 255))",
            "AddmmBackward0",
        ),
        (
            "sigmoid.forward(&mon.forward(&(&training_data.data.i(13..14) / 255))?)",
            "SigmoidBackward0",
        ),
        (
            "softmax.forward(&mon.forward(&(&training_data.data.i(13..14) / 255))?)",
            "SoftmaxBackward0",
        ),
    ] {
        assert!(
            shown(&cells, rust).ends_with(&format!("grad_fn=<{node}>)")),
            "{rust}"
        );
    }
}

#[test]
fn base64_round_trips_every_length() {
    for len in 0..70usize {
        let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
        let encoded = base64(&bytes);
        assert_eq!(encoded.len(), len.div_ceil(3) * 4);
        assert_eq!(base64_decode(&encoded), bytes, "length {len}");
    }
}

#[test]
fn a_figure_shows_as_a_png_of_its_size_and_matplotlibs_text() {
    let mut fig = plt::subplots(1, 2, (4.0, 2.0));
    fig.ax(1).imshow(&Tensor::rand([28, 28]), "binary").unwrap();
    fig.ax(2).plot(&[0.0, 1.0], &[1.0, 0.0], "loss");
    let bundle = fig.mime_bundle();
    assert_eq!(bundle[0].0, "image/png");
    assert_eq!(png_size(&bundle[0].1), (400, 200));
    assert_eq!(
        bundle[1],
        (
            "text/plain",
            "<Figure size 400x200 with 2 Axes>".to_string()
        )
    );
    let blocks = evcxr_blocks(&bundle);
    assert!(blocks.starts_with("EVCXR_BEGIN_CONTENT image/png\niVBORw0KGgo"));
    assert!(blocks.ends_with(
        "EVCXR_BEGIN_CONTENT text/plain\n<Figure size 400x200 with 2 Axes>\nEVCXR_END_CONTENT\n"
    ));
    assert_eq!(blocks.matches("\nEVCXR_END_CONTENT\n").count(), 2);
}
