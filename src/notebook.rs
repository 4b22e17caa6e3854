//! Rich display in Jupyter notebooks, through the evcxr kernel: the value at
//! the end of a cell shows as it does in PyTorch's notebooks.
//!
//! NOTE(evcxr-display): evcxr shows the last expression of a cell by calling
//! `(value).evcxr_display()` when that compiles, and its `Debug` form when it
//! does not. The method prints blocks of the form
//!
//! ```text
//! EVCXR_BEGIN_CONTENT text/plain
//! tensor([1., 2.])
//! EVCXR_END_CONTENT
//! ```
//!
//! on stdout, and evcxr turns them into the cell's result, one per MIME type
//! (a second block of the same type replaces the first). kindling's values
//! implement [`EvcxrDisplay`], which the prelude brings into scope: tensors,
//! shapes, dtypes and devices as PyTorch prints them, modules as `print(model)`
//! does, optimizers and datasets as their Python reprs, a batch as the list a
//! `DataLoader` yields, pictures as `image/png` (with matplotlib's
//! `<Figure size 640x480 with 1 Axes>` as their text), and an `Err` as Jupyter
//! shows a Python exception: `RuntimeError: expected scalar type Float but
//! found Byte` and the hint. Nothing here runs outside a notebook, and no file
//! is written to display a picture.
//!
//! NOTE(notebook-build): a notebook's first cell, `:dep kindling = { path =
//! "..", default-features = false, features = ["download"] }`, compiles
//! kindling inside evcxr. What keeps it short, measured in BENCHMARKS.md:
//! - the command's own crates (clap, signal-hook) sit behind the `cli`
//!   feature, and TLS (rustls, ring) behind `https`: a notebook's build
//!   downloads datasets over plain HTTP, as torchvision already does for
//!   Fashion-MNIST, every file checked against its published MD5;
//! - gemm's f32 and f64 crates are used directly (NOTE(gemm-crates));
//! - kindling's own code is kept small where it was large for nothing: the
//!   strided elementwise loops are compiled once per element type, not once
//!   per op (`for_each_row`, and gathering strided operands before the
//!   contiguous loops).
//!
//! `notebooks/evcxr.toml` keeps evcxr's build folder (`notebooks/.evcxr`)
//! across kernel restarts, so that a restart recompiles nothing; evcxr's own
//! cache (`:cache`) cannot do that for kindling, which it never caches as a
//! path dependency. `notebooks/Cargo.toml` makes that folder a workspace of
//! its own (cargo would otherwise take it for an undeclared member of
//! kindling's) and restates evcxr's build settings with two changes: debug
//! assertions off (on, they made gemm's kernels 2.4 times slower), and no
//! link-time optimisation between a crate's codegen units (kindling compiles
//! in 28 s instead of 41, and trains within the noise of a release build).
//!
//! ```
//! use kindling::prelude::*;
//!
//! let t = Tensor::tensor([[1, 2], [3, 4]]);
//! assert_eq!(t.mime_bundle(), vec![("text/plain", "tensor([[1, 2],\n        [3, 4]])".to_string())]);
//! ```

use std::fmt::Write as _;
use std::io::Write as _;

use crate::autograd::GradFn;
use crate::data::DataLoader;
use crate::error::{Error, Result};
use crate::nn::{format_module, Module};
use crate::optim::{Adadelta, Adagrad, Adam, RMSprop, SGD};
use crate::plot::pyplot::Figure;
use crate::plot::Canvas;
use crate::tensor::{DType, Device, Scalar, Size, Tensor};
use crate::vision::VisionDataset;

/// A value that shows itself in a Jupyter cell run by evcxr.
pub trait EvcxrDisplay {
    /// The value's representations as `(MIME type, content)` pairs, binary
    /// content (`image/png`) in base64.
    fn mime_bundle(&self) -> Vec<(&'static str, String)>;

    /// Prints [`EvcxrDisplay::mime_bundle`] as evcxr reads it (what evcxr
    /// calls on the value at the end of a cell).
    fn evcxr_display(&self) {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(evcxr_blocks(&self.mime_bundle()).as_bytes());
        let _ = out.flush();
    }
}

/// The blocks evcxr reads from stdout for `bundle`.
///
/// ```
/// let text = kindling::notebook::evcxr_blocks(&[("text/plain", "tensor(6)".into())]);
/// assert_eq!(text, "EVCXR_BEGIN_CONTENT text/plain\ntensor(6)\nEVCXR_END_CONTENT\n");
/// ```
pub fn evcxr_blocks(bundle: &[(&str, String)]) -> String {
    let mut s = String::new();
    for (mime, content) in bundle {
        // evcxr ends a block at a line that is exactly the end marker.
        let content = content.replace("\nEVCXR_END_CONTENT", "\n EVCXR_END_CONTENT");
        let _ = writeln!(
            s,
            "EVCXR_BEGIN_CONTENT {mime}\n{content}\nEVCXR_END_CONTENT"
        );
    }
    s
}

/// True inside a cell run by evcxr (its kernel sets `EVCXR_IS_RUNTIME`).
pub fn in_notebook() -> bool {
    std::env::var_os("EVCXR_IS_RUNTIME").is_some()
}

/// Standard base64 (RFC 4648, with padding), as Jupyter expects `image/png`.
///
/// ```
/// assert_eq!(kindling::notebook::base64(b"PNG!?"), "UE5HIT8=");
/// ```
pub fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn text(s: impl ToString) -> Vec<(&'static str, String)> {
    vec![("text/plain", s.to_string())]
}

macro_rules! display_as_text {
    ($($t:ty),*) => {$(
        impl EvcxrDisplay for $t {
            fn mime_bundle(&self) -> Vec<(&'static str, String)> {
                text(self)
            }
        }
    )*};
}

display_as_text!(Tensor, Size, DType, Device, Scalar, GradFn);
display_as_text!(SGD, Adam, Adadelta, RMSprop, Adagrad, VisionDataset);

/// Modules show what `print(model)` prints.
impl<M: Module> EvcxrDisplay for M {
    fn mime_bundle(&self) -> Vec<(&'static str, String)> {
        text(format_module(self))
    }
}

impl EvcxrDisplay for dyn Module + '_ {
    fn mime_bundle(&self) -> Vec<(&'static str, String)> {
        text(format_module(self))
    }
}

/// A batch `(X, y)` shows as the list a PyTorch `DataLoader` yields: `[tensor(...), tensor(...)]`.
impl EvcxrDisplay for (Tensor, Tensor) {
    fn mime_bundle(&self) -> Vec<(&'static str, String)> {
        text(format!("[{}, {}]", self.0, self.1))
    }
}

/// A `DataLoader` shows as PyTorch's object repr (its address stands for the loader).
impl<D: crate::data::Dataset + ?Sized> EvcxrDisplay for DataLoader<D> {
    fn mime_bundle(&self) -> Vec<(&'static str, String)> {
        text(format!(
            "<torch.utils.data.dataloader.DataLoader object at {:#x}>",
            self as *const Self as *const u8 as usize
        ))
    }
}

/// A picture as `image/png`, with matplotlib's text for a figure.
impl EvcxrDisplay for Canvas {
    fn mime_bundle(&self) -> Vec<(&'static str, String)> {
        picture(self, 1)
    }
}

impl EvcxrDisplay for Figure {
    fn mime_bundle(&self) -> Vec<(&'static str, String)> {
        picture(&self.render(), self.axes_count())
    }
}

fn picture(canvas: &Canvas, axes: usize) -> Vec<(&'static str, String)> {
    let mut bundle = Vec::new();
    match canvas.png_bytes() {
        Ok(png) => bundle.push(("image/png", base64(&png))),
        Err(e) => return error_bundle(&e),
    }
    bundle.push((
        "text/plain",
        format!(
            "<Figure size {}x{} with {axes} Axes>",
            canvas.width(),
            canvas.height()
        ),
    ));
    bundle
}

/// `Ok` shows its value; `Err` shows as Jupyter shows a Python exception: the
/// exception's name and PyTorch's message (and kindling's hint, when there is one).
impl<T: EvcxrDisplay> EvcxrDisplay for Result<T> {
    fn mime_bundle(&self) -> Vec<(&'static str, String)> {
        match self {
            Ok(v) => v.mime_bundle(),
            Err(e) => error_bundle(e),
        }
    }
}

fn error_bundle(e: &Error) -> Vec<(&'static str, String)> {
    let plain = format!("{}: {e}", e.python_exception());
    let escaped = plain
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    // Jupyter's colours for an exception (its `.output_error` box).
    let html = format!(
        "<pre style=\"background-color: #fdd; color: #000; padding: 0.5em; margin: 0; \
         font-family: monospace; white-space: pre-wrap\">{escaped}</pre>"
    );
    vec![("text/plain", plain), ("text/html", html)]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::{Flatten, Linear, Sequential};

    #[test]
    fn base64_is_rfc_4648s() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"M"), "TQ==");
        assert_eq!(base64(b"Ma"), "TWE=");
        assert_eq!(base64(b"Man"), "TWFu");
        assert_eq!(base64(&[0xfb, 0xff, 0xbf]), "+/+/");
    }

    #[test]
    fn values_show_as_pytorch_prints_them() {
        let t = Tensor::from_vec(vec![0u8, 128, 255, 64], [2, 2]);
        assert_eq!(
            evcxr_blocks(&t.mime_bundle()),
            "EVCXR_BEGIN_CONTENT text/plain\ntensor([[  0, 128],\n        [255,  64]], dtype=torch.uint8)\nEVCXR_END_CONTENT\n"
        );
        let x = Tensor::ones([2]).requires_grad_(true);
        let y = (&x * 2.0).sum();
        assert_eq!(y.mime_bundle(), text("tensor(4., grad_fn=<SumBackward0>)"));
        assert_eq!(t.size().mime_bundle(), text("torch.Size([2, 2])"));
        assert_eq!(t.dtype().mime_bundle(), text("torch.uint8"));
        assert_eq!(t.device().mime_bundle(), text(t.device()));
        let model = Sequential::new((Flatten::new(), Linear::new(4, 2)));
        assert_eq!(
            model.mime_bundle(),
            text("Sequential(\n  (0): Flatten(start_dim=1, end_dim=-1)\n  (1): Linear(in_features=4, out_features=2, bias=True)\n)")
        );
        let batch = (Tensor::zeros([2]), Tensor::tensor([5, 0]));
        assert_eq!(
            batch.mime_bundle(),
            text("[tensor([0., 0.]), tensor([5, 0])]")
        );
    }

    #[test]
    fn an_error_shows_as_a_python_exception_with_its_hint() {
        let model = Linear::new(4, 2);
        let result = model.forward(&Tensor::from_vec(vec![1u8; 4], [1, 4]));
        let bundle = result.mime_bundle();
        assert_eq!(bundle[0].0, "text/plain");
        assert!(bundle[0]
            .1
            .starts_with("RuntimeError: expected scalar type Float but found Byte\nhint: "));
        assert_eq!(bundle[1].0, "text/html");
        assert!(bundle[1]
            .1
            .contains("RuntimeError: expected scalar type Float but found Byte"));
        let ok = model.forward(&Tensor::zeros([1, 4]));
        assert!(ok.mime_bundle()[0].1.ends_with("grad_fn=<AddmmBackward0>)"));
    }

    #[test]
    fn content_cannot_end_its_block_early() {
        let blocks = evcxr_blocks(&[("text/plain", "a\nEVCXR_END_CONTENT\nb".to_string())]);
        assert_eq!(blocks.matches("\nEVCXR_END_CONTENT\n").count(), 1);
    }
}
