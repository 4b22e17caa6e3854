//! `Display` for tensors: PyTorch's `torch._tensor_str`, reproduced.
//!
//! Every rule below mirrors PyTorch's printing code, including its quirks (the
//! two spaces before a summarized row's `...`, the suffix line-length arithmetic).
//! Names keep PyTorch's `torch.` prefix (`dtype=torch.uint8`), as everywhere in
//! kindling's output: the text is PyTorch's, character for character.

use std::fmt;

use super::{Buffer, DType, Tensor};

const PRECISION: usize = 4;
const THRESHOLD: usize = 1000;
const EDGE_ITEMS: usize = 3;
const LINE_WIDTH: usize = 80;

#[derive(Clone, Copy)]
enum Val {
    Bool(bool),
    Int(i64),
    Float(f64),
}

/// A read-only walk over a tensor's elements by position.
struct View<'a> {
    buf: &'a Buffer,
    shape: &'a [usize],
    strides: &'a [usize],
}

impl View<'_> {
    fn value(&self, offset: usize) -> Val {
        match self.buf {
            Buffer::Bool(v) => Val::Bool(v[offset]),
            Buffer::U8(v) => Val::Int(v[offset] as i64),
            Buffer::I64(v) => Val::Int(v[offset]),
            Buffer::F32(v) => Val::Float(v[offset] as f64),
            Buffer::F64(v) => Val::Float(v[offset]),
        }
    }

    /// Indices of dimension `d` that are printed: all, or the edges when summarizing.
    fn shown(&self, d: usize, summarize: bool) -> (Vec<usize>, bool) {
        let n = self.shape[d];
        if summarize && n > 2 * EDGE_ITEMS {
            ((0..EDGE_ITEMS).chain(n - EDGE_ITEMS..n).collect(), true)
        } else {
            ((0..n).collect(), false)
        }
    }

    /// The values PyTorch's `get_summarized_data` keeps, in order.
    fn collect(&self, d: usize, offset: usize, summarize: bool, out: &mut Vec<Val>) {
        if d == self.shape.len() {
            out.push(self.value(offset));
            return;
        }
        for i in self.shown(d, summarize).0 {
            self.collect(d + 1, offset + i * self.strides[d], summarize, out);
        }
    }
}

/// PyTorch's `_Formatter`: decides int mode, scientific mode and column width once
/// for the whole tensor.
struct Formatter {
    floating: bool,
    int_mode: bool,
    sci_mode: bool,
    max_width: usize,
}

impl Formatter {
    fn new(values: &[Val], floating: bool) -> Formatter {
        let mut f = Formatter {
            floating,
            int_mode: true,
            sci_mode: false,
            max_width: 1,
        };
        if !floating {
            for &v in values {
                f.max_width = f.max_width.max(plain(v).len());
            }
            return f;
        }
        let finite: Vec<f64> = values
            .iter()
            .filter_map(|&v| match v {
                Val::Float(x) if x.is_finite() && x != 0.0 => Some(x),
                _ => None,
            })
            .collect();
        if finite.is_empty() {
            return f;
        }
        let min = finite.iter().fold(f64::INFINITY, |m, x| m.min(x.abs()));
        let max = finite.iter().fold(0.0f64, |m, x| m.max(x.abs()));
        f.int_mode = finite.iter().all(|&x| x == x.ceil());
        let widths: Box<dyn Fn(f64) -> usize> = if f.int_mode {
            if max / min > 1000.0 || max > 1.0e8 {
                f.sci_mode = true;
                Box::new(|x| sci(x, 0).len())
            } else {
                Box::new(|x| fixed(x, 0).len() + 1)
            }
        } else if max / min > 1000.0 || max > 1.0e8 || min < 1.0e-4 {
            f.sci_mode = true;
            Box::new(|x| sci(x, 0).len())
        } else {
            Box::new(|x| fixed(x, PRECISION).len())
        };
        for &x in &finite {
            f.max_width = f.max_width.max(widths(x));
        }
        f
    }

    fn format(&self, v: Val) -> String {
        let s = match v {
            Val::Float(x) if self.floating => {
                if self.sci_mode {
                    sci(x, self.max_width)
                } else if self.int_mode {
                    let mut s = fixed(x, 0);
                    if x.is_finite() {
                        s.push('.');
                    }
                    s
                } else {
                    fixed(x, PRECISION)
                }
            }
            other => plain(other),
        };
        format!("{s:>width$}", width = self.max_width)
    }
}

/// Python's `str()` of an int or bool.
fn plain(v: Val) -> String {
    match v {
        Val::Bool(b) => (if b { "True" } else { "False" }).to_string(),
        Val::Int(i) => i.to_string(),
        Val::Float(x) => fixed(x, PRECISION),
    }
}

/// Python's `f"{x:.{precision}f}"`.
fn fixed(x: f64, precision: usize) -> String {
    if x.is_nan() {
        "nan".to_string()
    } else {
        format!("{x:.precision$}")
    }
}

/// Python's `f"{x:{width}.4e}"`: the exponent has a sign and at least two digits.
fn sci(x: f64, width: usize) -> String {
    let s = if x.is_nan() {
        "nan".to_string()
    } else if x.is_infinite() {
        (if x > 0.0 { "inf" } else { "-inf" }).to_string()
    } else {
        let s = format!("{x:.PRECISION$e}");
        let (mantissa, exp) = s.split_once('e').expect("exponent");
        let exp: i32 = exp.parse().expect("exponent digits");
        format!(
            "{mantissa}e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.abs()
        )
    };
    format!("{s:>width$}")
}

struct Printer<'a> {
    view: View<'a>,
    fmt: Formatter,
    summarize: bool,
}

impl Printer<'_> {
    fn tensor_str(&self, d: usize, offset: usize, indent: usize) -> String {
        let remaining = self.view.shape.len() - d;
        if remaining == 0 {
            return self.fmt.format(self.view.value(offset));
        }
        let (shown, cut) = self.view.shown(d, self.summarize);
        let stride = self.view.strides[d];
        if remaining == 1 {
            let per_line = ((LINE_WIDTH as isize - indent as isize)
                / (self.fmt.max_width as isize + 2))
                .max(1) as usize;
            let mut items: Vec<String> = shown
                .iter()
                .map(|&i| self.fmt.format(self.view.value(offset + i * stride)))
                .collect();
            if cut {
                items.insert(EDGE_ITEMS, " ...".to_string());
            }
            let lines: Vec<String> = items.chunks(per_line).map(|c| c.join(", ")).collect();
            return format!(
                "[{}]",
                lines.join(&format!(",\n{}", " ".repeat(indent + 1)))
            );
        }
        let mut slices: Vec<String> = shown
            .iter()
            .map(|&i| self.tensor_str(d + 1, offset + i * stride, indent + 1))
            .collect();
        if cut {
            slices.insert(EDGE_ITEMS, "...".to_string());
        }
        let sep = format!(",{}{}", "\n".repeat(remaining - 1), " ".repeat(indent + 1));
        format!("[{}]", slices.join(&sep))
    }
}

/// PyTorch's `_add_suffixes`, including its line-length arithmetic.
fn add_suffixes(body: String, suffixes: &[String], indent: usize) -> String {
    let mut out = body;
    let mut last_line_len = match out.rfind('\n') {
        Some(i) => out.len() - i + 1,
        None => out.len() + 2,
    };
    for suffix in suffixes {
        if last_line_len + suffix.len() + 2 > LINE_WIDTH {
            out.push_str(&format!(",\n{}{}", " ".repeat(indent), suffix));
            last_line_len = indent + suffix.len();
        } else {
            out.push_str(&format!(", {suffix}"));
            last_line_len += suffix.len() + 2;
        }
    }
    out.push(')');
    out
}

impl fmt::Display for Tensor {
    /// Prints exactly as PyTorch does.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let t = Tensor::from_vec(vec![0.25f32, -1.0, 1e-5], [3]);
    /// assert_eq!(t.to_string(), "tensor([ 2.5000e-01, -1.0000e+00,  1.0000e-05])");
    /// ```
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix = "tensor(";
        let indent = prefix.len();
        let dtype = self.dtype();
        let mut suffixes = Vec::new();
        if self.device() != super::Device::Cpu {
            suffixes.push(format!("device='{}'", self.device()));
        }
        let body = if self.numel() == 0 {
            if self.dim() != 1 {
                let dims: Vec<String> = self.shape().iter().map(|d| d.to_string()).collect();
                suffixes.push(format!("size=({})", dims.join(", ")));
            }
            if dtype != DType::F32 {
                suffixes.push(format!("dtype={dtype}"));
            }
            "[]".to_string()
        } else {
            if !matches!(dtype, DType::F32 | DType::I64 | DType::Bool) {
                suffixes.push(format!("dtype={dtype}"));
            }
            let buf = self.inner.storage.read();
            let layout = &self.inner.layout;
            let view = View {
                buf: &buf,
                shape: &layout.shape,
                strides: &layout.strides,
            };
            let summarize = self.numel() > THRESHOLD;
            let mut values = Vec::new();
            view.collect(0, layout.offset, summarize, &mut values);
            let fmt = Formatter::new(&values, dtype.is_floating_point());
            Printer {
                view,
                fmt,
                summarize,
            }
            .tensor_str(0, layout.offset, indent)
        };
        if let Some(name) = self.grad_fn_name() {
            suffixes.push(format!("grad_fn=<{name}>"));
        } else if self.requires_grad() {
            suffixes.push("requires_grad=True".to_string());
        }
        f.write_str(&add_suffixes(format!("{prefix}{body}"), &suffixes, indent))
    }
}
