//! Neural-network modules with PyTorch's semantics: [`Module`], layers, losses,
//! initialisation, and the reference architectures.
//!
//! A module is anything with a `forward`. Its parameters are tensors it owns;
//! handing them to an optimizer hands out the *same* tensors (cloning a tensor is a
//! reference), so `step()` updates the model in place, as in PyTorch.
//!
//! A struct composed of modules gets names, parameters, `train()`/`eval()`, state
//! dicts and PyTorch's printout from one line, [`module!`](crate::module):
//!
//! ```
//! use kindling::nn::{Flatten, Linear, Module, Sequential};
//! use kindling::{module, Result, Tensor};
//!
//! struct ThreeBlue {
//!     flatten: Flatten,
//!     layers: Sequential,
//! }
//! module!(ThreeBlue { flatten, layers });
//!
//! impl Module for ThreeBlue {
//!     fn forward(&self, x: &Tensor) -> Result<Tensor> {
//!         let y = self.flatten.forward(x)?;
//!         self.layers.forward(&y)
//!     }
//! }
//!
//! let mon = ThreeBlue { flatten: Flatten::new(), layers: Sequential::new().add(Linear::new(784, 10)) };
//! assert_eq!(
//!     mon.to_string(),
//!     "ThreeBlue(\n  (flatten): Flatten(start_dim=1, end_dim=-1)\n  (layers): Sequential(\n    (0): Linear(in_features=784, out_features=10, bias=True)\n  )\n)"
//! );
//! let names: Vec<String> = mon.named_parameters().into_iter().map(|(n, _)| n).collect();
//! assert_eq!(names, ["layers.0.weight", "layers.0.bias"]);
//! assert_eq!(mon.forward(&Tensor::zeros([2, 28, 28]))?.shape(), &[2, 10]);
//! # Ok::<(), kindling::Error>(())
//! ```

pub mod functional;
pub mod init;
mod layers;
mod loss;
pub mod models;

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

pub use layers::{
    Dropout, Flatten, Identity, LeakyReLU, Linear, LogSoftmax, ReLU, Sequential, Sigmoid, Softmax,
    Tanh, GELU,
};
pub use loss::{BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss, Reduction};

use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// What every module tells about itself: its PyTorch class name, constructor
/// arguments, children and own parameters. Built-in layers implement it by hand;
/// user structs get it from [`module!`](crate::module).
pub trait ModuleInfo {
    /// The class name PyTorch prints (`Linear`, `ThreeBlue`, ...).
    fn type_name(&self) -> &str;

    /// The constructor arguments PyTorch prints inside the parentheses.
    fn extra_repr(&self) -> String {
        String::new()
    }

    /// Direct sub-modules with their attribute names, in declaration order.
    fn children(&self) -> Vec<(String, &dyn Module)> {
        Vec::new()
    }

    /// Parameters owned directly by this module (not by its children).
    fn own_parameters(&self) -> Vec<(String, Tensor)> {
        Vec::new()
    }

    /// Switches this module's own train/eval behaviour (only `Dropout` has any).
    fn set_own_training(&self, _training: bool) {}
}

/// A neural-network layer or model: a function of a tensor with parameters.
pub trait Module: ModuleInfo + Send + Sync {
    /// Applies the module. Input that does not fit (wrong width, uint8 pixels)
    /// is an error, never a panic.
    fn forward(&self, input: &Tensor) -> Result<Tensor>;

    /// Every parameter with its dotted PyTorch name (`layers.0.weight`).
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        let mut out = self.own_parameters();
        for (name, child) in self.children() {
            out.extend(
                child
                    .named_parameters()
                    .into_iter()
                    .map(|(p, t)| (format!("{name}.{p}"), t)),
            );
        }
        out
    }

    /// Every parameter, in `named_parameters` order (the handles the optimizer updates).
    fn parameters(&self) -> Vec<Tensor> {
        self.named_parameters()
            .into_iter()
            .map(|(_, t)| t)
            .collect()
    }

    /// Clears every parameter's gradient.
    fn zero_grad(&self) {
        for p in self.parameters() {
            p.zero_grad();
        }
    }

    /// Training mode (dropout active) for this module and all descendants.
    fn train(&self) {
        self.set_own_training(true);
        for (_, child) in self.children() {
            child.train();
        }
    }

    /// Evaluation mode (dropout off) for this module and all descendants.
    fn eval(&self) {
        self.set_own_training(false);
        for (_, child) in self.children() {
            child.eval();
        }
    }

    /// The parameters by name, detached (they share storage with the model), as
    /// PyTorch's `state_dict()`; the keys are exactly PyTorch's.
    fn state_dict(&self) -> Vec<(String, Tensor)> {
        self.named_parameters()
            .into_iter()
            .map(|(n, t)| (n, t.detach()))
            .collect()
    }

    /// Copies values into the parameters by name. Strict: every missing,
    /// unexpected or wrongly shaped key is reported by name, and nothing is
    /// changed unless all keys fit.
    fn load_state_dict(&self, state: &[(String, Tensor)]) -> Result<()> {
        load_state_dict(self.type_name(), &self.named_parameters(), state)
    }

    /// Writes the state dict as a safetensors file PyTorch can load
    /// (`model.load_state_dict(safetensors.torch.load_file(path))`).
    fn save(&self, path: &Path) -> Result<()> {
        crate::io::save_safetensors(path, &self.state_dict(), &HashMap::new())
    }

    /// Loads weights from a safetensors file (written by kindling or PyTorch).
    fn load(&self, path: &Path) -> Result<()> {
        let (tensors, _) = crate::io::load_safetensors(path)?;
        self.load_state_dict(&tensors).map_err(|e| match e {
            Error::StateDict(msg) => Error::StateDict(format!("{msg} (in {})", path.display())),
            other => other,
        })
    }
}

fn load_state_dict(
    type_name: &str,
    params: &[(String, Tensor)],
    state: &[(String, Tensor)],
) -> Result<()> {
    let given: HashMap<&str, &Tensor> = state.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let wanted: HashMap<&str, &Tensor> = params.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let missing: Vec<&str> = params
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| !given.contains_key(k))
        .collect();
    let unexpected: Vec<&str> = state
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| !wanted.contains_key(k))
        .collect();
    let mismatched: Vec<String> = params
        .iter()
        .filter_map(|(k, p)| {
            let t = given.get(k.as_str())?;
            (t.shape() != p.shape()).then(|| {
                format!(
                    "size mismatch for {k}: copying a param with shape {:?} from checkpoint, the shape in current model is {:?}.",
                    t.shape(),
                    p.shape()
                )
            })
        })
        .collect();
    if !missing.is_empty() || !unexpected.is_empty() || !mismatched.is_empty() {
        let quote = |keys: &[&str]| {
            keys.iter()
                .map(|k| format!("\"{k}\""))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut msg = format!("Error(s) in loading state_dict for {type_name}:");
        if !missing.is_empty() {
            msg += &format!("\n\tMissing key(s) in state_dict: {}.", quote(&missing));
        }
        if !unexpected.is_empty() {
            msg += &format!(
                "\n\tUnexpected key(s) in state_dict: {}.",
                quote(&unexpected)
            );
        }
        for m in mismatched {
            msg += &format!("\n\t{m}");
        }
        return Err(Error::StateDict(msg));
    }
    crate::no_grad(|| {
        for (k, p) in params {
            p.try_copy_(given[k.as_str()])?;
        }
        Ok(())
    })
}

/// PyTorch's `Module.__repr__`: `Name(args)` for leaves, and for containers one
/// line per child, `(name): ...`, indented by two spaces.
pub fn format_module(m: &dyn ModuleInfo) -> String {
    let children = m.children();
    let extra = m.extra_repr();
    if children.is_empty() {
        return format!("{}({extra})", m.type_name());
    }
    let mut lines: Vec<String> = Vec::new();
    if !extra.is_empty() {
        lines.extend(extra.lines().map(str::to_string));
    }
    for (name, child) in children {
        let text = format_module(child);
        lines.push(format!("({name}): {}", text.replace('\n', "\n  ")));
    }
    format!("{}(\n  {}\n)", m.type_name(), lines.join("\n  "))
}

impl fmt::Display for dyn Module + '_ {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_module(self))
    }
}

/// Makes a struct of modules a module tree: PyTorch names for its fields,
/// recursive parameters, `train()`/`eval()`, state dicts, and `Display` as
/// PyTorch prints the class. Write `forward` yourself in `impl Module`.
///
/// `module!(ThreeBlue { flatten, layers })` lists the fields that are modules, in
/// the order PyTorch would register them. See the [`nn`](crate::nn) docs.
#[macro_export]
macro_rules! module {
    ($name:ident { $($field:ident),* $(,)? }) => {
        impl $crate::nn::ModuleInfo for $name {
            fn type_name(&self) -> &str {
                stringify!($name)
            }
            fn children(&self) -> Vec<(String, &dyn $crate::nn::Module)> {
                vec![$((stringify!($field).to_string(), &self.$field as &dyn $crate::nn::Module)),*]
            }
        }
        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&$crate::nn::format_module(self))
            }
        }
    };
}
