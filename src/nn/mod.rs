//! Neural-network modules with PyTorch's semantics: [`Module`], layers, losses,
//! initialisation, and the reference architectures.
//!
//! A module is anything with a `forward`. Its parameters are tensors it owns;
//! handing them to an optimizer hands out the *same* tensors (cloning a tensor is a
//! reference), so `step()` updates the model in place, as in PyTorch.
//!
//! A struct composed of modules gets names, parameters, buffers,
//! `train()`/`eval()`, state dicts and PyTorch's printout from
//! `#[derive(Module)]`, which registers every field (see [`Field`]): a layer
//! cannot be left out by forgetting to list it.
//!
//! ```
//! use kindling::nn::{Flatten, Linear, Module, Sequential};
//! use kindling::{Result, Tensor};
//!
//! #[derive(Module)]
//! struct ThreeBlue {
//!     flatten: Flatten,
//!     layers: Sequential,
//! }
//!
//! impl Module for ThreeBlue {
//!     fn forward(&self, x: &Tensor) -> Result<Tensor> {
//!         let y = self.flatten.forward(x)?;
//!         self.layers.forward(&y)
//!     }
//! }
//!
//! let mon = ThreeBlue { flatten: Flatten::new(), layers: Sequential::default().add(Linear::new(784, 10)) };
//! assert_eq!(
//!     mon.to_string(),
//!     "ThreeBlue(\n  (flatten): Flatten(start_dim=1, end_dim=-1)\n  (layers): Sequential(\n    (0): Linear(in_features=784, out_features=10, bias=True)\n  )\n)"
//! );
//! let names: Vec<String> = mon.named_parameters().into_iter().map(|(n, _)| n).collect();
//! assert_eq!(names, ["layers.0.weight", "layers.0.bias"]);
//! assert_eq!(mon.forward(&Tensor::zeros([2, 28, 28]))?.shape(), &[2, 10]);
//! # Ok::<(), kindling::Error>(())
//! ```

mod conv;
pub mod functional;
pub mod init;
mod layers;
mod loss;
pub mod models;
mod norm;
mod spec;
pub mod utils;

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

pub use conv::{AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool2d, Conv2d, MaxPool2d, OutputSize};
pub use kindling_derive::{Forward, Module};
pub(crate) use layers::py_bool;
pub use layers::{
    Dropout, Flatten, Identity, Layers, LeakyReLU, Linear, LogSoftmax, ReLU, Sequential, Sigmoid,
    Softmax, Tanh, GELU,
};
pub use loss::{BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss, Reduction};
pub use norm::{BatchNorm1d, BatchNorm2d, Dropout2d, LayerNorm};
pub use spec::{load_model, save_model, MODULE_KEY};

use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// What every module tells about itself: its PyTorch class name, constructor
/// arguments, children, own parameters and own buffers. Built-in layers
/// implement it by hand; user structs get it from
/// [`#[derive(Module)]`](derive@crate::nn::Module).
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

    /// Buffers owned directly by this module: state saved and loaded with the
    /// weights but not trained (BatchNorm's running statistics).
    fn own_buffers(&self) -> Vec<(String, Tensor)> {
        Vec::new()
    }

    /// Switches this module's own train/eval behaviour (only `Dropout` has any).
    fn set_own_training(&self, _training: bool) {}

    /// Registers every field with `registry`: what `#[derive(Module)]` writes,
    /// and what its `children`, `own_parameters` and `own_buffers` read back.
    #[doc(hidden)]
    fn register<'a>(&'a self, _registry: &mut Registry<'a>) {}
}

/// A neural-network layer or model: a function of a tensor with parameters.
///
/// Write `forward`; everything else comes from [`ModuleInfo`], which
/// `#[derive(Module)]` implements for a struct of layers.
///
/// With `#[derive(Module, Forward)]`, `forward` is written in the struct's own
/// `impl`, beside `new`, as a PyTorch class holds `__init__` and `forward`
/// (the tutorials' ports are written so):
///
/// ```
/// use kindling::prelude::*;
///
/// #[derive(Module, Forward)]
/// struct Net {
///     fc: nn::Linear,
/// }
///
/// impl Net {
///     fn new() -> Net {
///         Net { fc: nn::Linear::new(4, 2) }
///     }
///
///     fn forward(&self, x: &Tensor) -> Result<Tensor> {
///         Ok(self.fc.forward(x)?.relu())
///     }
/// }
///
/// # fn main() -> kindling::Result<()> {
/// let model = Net::new();
/// let boxed: Box<dyn Module> = Box::new(Net::new()); // a Module like any other
/// assert_eq!(model.forward(&Tensor::ones([3, 4]))?.shape(), [3, 2]);
/// assert_eq!(boxed.forward(&Tensor::ones([1, 4]))?.shape(), [1, 2]);
/// # Ok(())
/// # }
/// ```
///
/// Without a `forward` of its own, `Forward` does not compile (it never
/// calls itself):
///
/// ```compile_fail,E0034
/// use kindling::prelude::*;
///
/// #[derive(Module, Forward)]
/// struct Net {
///     fc: nn::Linear,
/// }
/// ```
pub trait Module: ModuleInfo + Send + Sync + std::any::Any {
    /// Applies the module. Input that does not fit (wrong width, uint8 pixels)
    /// is an error, never a panic.
    fn forward(&self, input: &Tensor) -> Result<Tensor>;

    /// Every parameter with its dotted PyTorch name (`layers.0.weight`): this
    /// module's own, then each child's, depth first, as PyTorch orders them.
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        let mut out = self.own_parameters();
        for (name, child) in self.children() {
            out.extend(prefixed(&name, child.named_parameters()));
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

    /// Every buffer with its dotted name (`bn.running_mean`), in PyTorch's order.
    fn named_buffers(&self) -> Vec<(String, Tensor)> {
        let mut out = self.own_buffers();
        for (name, child) in self.children() {
            out.extend(prefixed(&name, child.named_buffers()));
        }
        out
    }

    /// Every buffer, in `named_buffers` order.
    fn buffers(&self) -> Vec<Tensor> {
        self.named_buffers().into_iter().map(|(_, t)| t).collect()
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

    /// The parameters and buffers by name, detached (they share storage with the
    /// model), as PyTorch's `state_dict()`: for each module its own parameters,
    /// then its own buffers, then its children's entries. The keys are exactly
    /// PyTorch's.
    fn state_dict(&self) -> Vec<(String, Tensor)> {
        self.state_entries()
            .into_iter()
            .map(|(n, t)| (n, t.detach()))
            .collect()
    }

    /// The tensors a state dict holds, as handles (not detached), in order.
    #[doc(hidden)]
    fn state_entries(&self) -> Vec<(String, Tensor)> {
        let mut out = self.own_parameters();
        out.extend(self.own_buffers());
        for (name, child) in self.children() {
            out.extend(prefixed(&name, child.state_entries()));
        }
        out
    }

    /// Moves every parameter and buffer (and any gradient) to `device`, in
    /// place, as PyTorch's `model.to(device)`: the handles an optimizer holds
    /// move with them.
    ///
    /// ```
    /// use kindling::nn::{Linear, Module};
    /// use kindling::{Device, Tensor};
    /// let fc = Linear::new(3, 2);
    /// let params = fc.parameters();
    /// fc.to(Device::Reference);
    /// assert_eq!(params[0].device(), Device::Reference);
    /// assert_eq!(fc.forward(&Tensor::ones([1, 3]).to(Device::Reference))?.device(), Device::Reference);
    /// # Ok::<(), kindling::Error>(())
    /// ```
    fn to(&self, device: crate::Device) {
        for (_, t) in self.state_entries() {
            t.relocate(device);
            if let Some(g) = t.grad() {
                g.relocate(device);
            }
        }
    }

    /// Adds what [`forward`](Module::forward) computes in eval mode to an ONNX
    /// graph, applied to the value named `x`, and returns its output's name
    /// (see [`crate::io::onnx`]). Built-in layers and the reference models
    /// have it; a module of your own that writes `forward` writes this too,
    /// calling [`Graph::child`](crate::io::onnx::Graph::child) for its layers.
    fn onnx(&self, g: &mut crate::io::onnx::Graph, x: &str) -> Result<String> {
        let _ = (g, x);
        Err(Error::Value(format!(
            "{} has no ONNX form: write Module::onnx for it (the steps of its forward, as graph nodes)",
            self.type_name()
        )))
    }

    /// Copies values into the parameters and buffers by name. Strict: every
    /// missing, unexpected or wrongly shaped key is reported by name, and
    /// nothing is changed unless all keys fit.
    fn load_state_dict(&self, state: &[(String, Tensor)]) -> Result<()> {
        load_state_dict(self.type_name(), &self.state_entries(), state)
    }

    /// Writes the state dict to a file PyTorch can load: a `.pth` or `.pt`
    /// path gets `torch.save`'s format (`model.load_state_dict(torch.load(path))`),
    /// any other a safetensors file
    /// (`model.load_state_dict(safetensors.torch.load_file(path))`).
    fn save(&self, path: &Path) -> Result<()> {
        save_state_file(self.state_dict(), path)
    }

    /// Loads weights from a state dict file written by kindling or PyTorch: a
    /// `.pth`/`.pt` of `torch.save(model.state_dict(), path)` (told apart by
    /// its contents, not its name) or a safetensors file.
    fn load(&self, path: &Path) -> Result<()> {
        let tensors = load_state_file(path)?;
        self.load_state_dict(&tensors).map_err(|e| match e {
            Error::StateDict(msg) => Error::StateDict(format!("{msg} (in {})", path.display())),
            other => other,
        })
    }
}

// The file halves of `Module::save` and `Module::load`, compiled once rather
// than once per module type (NOTE(build-time)).

/// Writes `state` as `torch.save` does for a `.pth`/`.pt` path, else as safetensors.
fn save_state_file(state: Vec<(String, Tensor)>, path: &Path) -> Result<()> {
    let ext = path.extension().and_then(|e| e.to_str());
    if matches!(ext, Some("pth" | "pt")) {
        return crate::io::save(state, path);
    }
    crate::io::save_safetensors(path, &state, &HashMap::new())
}

/// The state dict in a `.pth`/`.pt` zip (told apart by its contents) or a
/// safetensors file.
fn load_state_file(path: &Path) -> Result<Vec<(String, Tensor)>> {
    if crate::io::file_is_zip(path) {
        crate::io::load(path)?.state_dict().map_err(|e| Error::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    } else {
        Ok(crate::io::load_safetensors(path)?.0)
    }
}

fn prefixed(prefix: &str, entries: Vec<(String, Tensor)>) -> Vec<(String, Tensor)> {
    entries
        .into_iter()
        .map(|(n, t)| (format!("{prefix}.{n}"), t))
        .collect()
}

/// What one struct's fields hold, as [`Field::register`] reports them.
pub struct Registry<'a> {
    /// Sub-modules by field name.
    pub children: Vec<(String, &'a dyn Module)>,
    /// Parameters by field name.
    pub parameters: Vec<(String, Tensor)>,
    /// Buffers by field name.
    pub buffers: Vec<(String, Tensor)>,
    as_buffers: bool,
}

impl<'a> Registry<'a> {
    /// Registers the fields of `module`.
    pub fn of(module: &'a (impl ModuleInfo + ?Sized)) -> Registry<'a> {
        let mut r = Registry {
            children: Vec::new(),
            parameters: Vec::new(),
            buffers: Vec::new(),
            as_buffers: false,
        };
        module.register(&mut r);
        r
    }

    /// Registers tensors met inside `f` as buffers instead of parameters.
    pub fn buffers(&mut self, f: impl FnOnce(&mut Registry<'a>)) {
        let before = std::mem::replace(&mut self.as_buffers, true);
        f(self);
        self.as_buffers = before;
    }

    /// A sub-module.
    pub fn child(&mut self, name: &str, module: &'a dyn Module) {
        self.children.push((name.to_string(), module));
    }

    /// A tensor: a parameter, or a buffer inside [`Registry::buffers`].
    pub fn tensor(&mut self, name: &str, t: &Tensor) {
        let list = if self.as_buffers {
            &mut self.buffers
        } else {
            &mut self.parameters
        };
        list.push((name.to_string(), t.clone()));
    }
}

/// How `#[derive(Module)]` registers one field of a module struct.
///
/// - any [`Module`] (a layer, `Sequential`, a user's derived module,
///   `Box<dyn Module>`, `Vec<M>` as PyTorch's `ModuleList`): a child;
/// - [`Tensor`]: a parameter (a buffer when the field is marked `#[buffer]`);
///   `Vec<Tensor>`: parameters named `field.0`, `field.1`, ...;
/// - `Option<T>`: `T` when `Some`, nothing when `None`;
/// - numbers, booleans and strings: settings, registered as nothing.
///
/// Any other type is a compile error, so no layer can be left out by accident;
/// mark a field that is none of these with `#[module(skip)]`.
///
/// ```
/// use kindling::nn::{Dropout, Linear, Module};
/// use kindling::Tensor;
///
/// #[derive(Module)]
/// struct Net {
///     blocks: Vec<Linear>,      // PyTorch's ModuleList: blocks.0.weight, ...
///     drop: Option<Dropout>,    // a child when Some
///     #[buffer]
///     running_mean: Tensor,     // saved and loaded, not trained
///     hidden: usize,            // a setting
///     #[module(skip)]
///     started: std::time::Instant,
/// }
///
/// let net = Net {
///     blocks: vec![Linear::new(4, 3), Linear::new(3, 2)],
///     drop: None,
///     running_mean: Tensor::zeros([2]),
///     hidden: 3,
///     started: std::time::Instant::now(),
/// };
/// let keys: Vec<String> = net.state_dict().into_iter().map(|(k, _)| k).collect();
/// assert_eq!(keys, ["running_mean", "blocks.0.weight", "blocks.0.bias", "blocks.1.weight", "blocks.1.bias"]);
/// # impl Module for Net { fn forward(&self, x: &Tensor) -> kindling::Result<Tensor> { Ok(x.clone()) } }
/// ```
///
/// A field whose type is none of these does not compile:
///
/// ```compile_fail
/// use kindling::nn::{Linear, Module};
///
/// #[derive(Module)]
/// struct Net {
///     fc: Linear,
///     started: std::time::Instant, // error: not a module, a tensor or a setting
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a module, a tensor or a setting, so #[derive(Module)] cannot register it",
    label = "this field",
    note = "mark the field `#[module(skip)]` if it holds no layer, parameter or buffer"
)]
pub trait Field {
    /// Reports this field, named `name`, to `registry`.
    fn register<'a>(&'a self, name: &str, registry: &mut Registry<'a>);
}

impl<M: Module> Field for M {
    fn register<'a>(&'a self, name: &str, registry: &mut Registry<'a>) {
        registry.child(name, self);
    }
}

impl Field for Tensor {
    fn register<'a>(&'a self, name: &str, registry: &mut Registry<'a>) {
        registry.tensor(name, self);
    }
}

impl Field for Vec<Tensor> {
    fn register<'a>(&'a self, name: &str, registry: &mut Registry<'a>) {
        for (i, t) in self.iter().enumerate() {
            registry.tensor(&format!("{name}.{i}"), t);
        }
    }
}

impl<T: Field> Field for Option<T> {
    fn register<'a>(&'a self, name: &str, registry: &mut Registry<'a>) {
        if let Some(v) = self {
            v.register(name, registry);
        }
    }
}

macro_rules! setting_fields {
    ($($t:ty),*) => {$(
        impl Field for $t {
            fn register<'a>(&'a self, _name: &str, _registry: &mut Registry<'a>) {}
        }
    )*};
}
setting_fields!(
    bool,
    u8,
    u16,
    u32,
    u64,
    usize,
    i8,
    i16,
    i32,
    i64,
    isize,
    f32,
    f64,
    String,
    &'static str
);

/// A list of modules, PyTorch's `nn.ModuleList`: children named `0`, `1`, ...
/// It has no `forward` of its own: index it and call each module.
impl<M: Module> ModuleInfo for Vec<M> {
    fn type_name(&self) -> &str {
        "ModuleList"
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        self.iter()
            .enumerate()
            .map(|(i, m)| (i.to_string(), m as &dyn Module))
            .collect()
    }
}

impl<M: Module> Module for Vec<M> {
    /// PyTorch's `ModuleList` is not callable; neither is this.
    fn forward(&self, _input: &Tensor) -> Result<Tensor> {
        Err(Error::Value(
            "Module [ModuleList] is missing the required \"forward\" function".into(),
        ))
    }
}

impl<M: Module + ?Sized> ModuleInfo for Box<M> {
    fn type_name(&self) -> &str {
        (**self).type_name()
    }
    fn extra_repr(&self) -> String {
        (**self).extra_repr()
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        (**self).children()
    }
    fn own_parameters(&self) -> Vec<(String, Tensor)> {
        (**self).own_parameters()
    }
    fn own_buffers(&self) -> Vec<(String, Tensor)> {
        (**self).own_buffers()
    }
    fn set_own_training(&self, training: bool) {
        (**self).set_own_training(training)
    }
}

impl<M: Module + ?Sized> Module for Box<M> {
    fn forward(&self, input: &Tensor) -> Result<Tensor> {
        (**self).forward(input)
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
            if t.shape() != p.shape() {
                return Some(format!(
                    "size mismatch for {k}: copying a param with shape {:?} from checkpoint, the shape in current model is {:?}.",
                    t.shape(),
                    p.shape()
                ));
            }
            // A float parameter takes floats only: integers or bools there
            // are a damaged or foreign file, not weights to convert.
            (p.dtype().is_floating_point() && !t.dtype().is_floating_point()).then(|| {
                format!(
                    "dtype mismatch for {k}: copying a {} tensor from checkpoint into a {} parameter.",
                    t.dtype(),
                    p.dtype()
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

/// The printout, so that `Result<Box<dyn Module>>` can be unwrapped.
impl fmt::Debug for dyn Module + '_ {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
