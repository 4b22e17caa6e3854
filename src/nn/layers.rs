//! Layers: `Flatten`, `Linear`, `Sequential`, `Identity`, activations, `Dropout`.

use std::fmt;
use std::hint::select_unpredictable;
use std::sync::atomic::{AtomicBool, Ordering};

use super::{init, Module, ModuleInfo};
use crate::error::{Error, Result};
use crate::io::onnx::{Attr, Graph};
use crate::tensor::random::{with_global, Generator};
use crate::tensor::{DType, Tensor};

macro_rules! display_as_pytorch {
    ($($t:ty),*) => {$(
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&super::format_module(self))
            }
        }
    )*};
}
display_as_pytorch!(
    Flatten, Linear, Sequential, Identity, ReLU, LeakyReLU, GELU, Sigmoid, Tanh, Softmax,
    LogSoftmax, Dropout
);

/// A bool as Python prints it.
pub(crate) fn py_bool(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}

/// Flattens dimensions `start_dim..=end_dim` (by default all but the batch
/// dimension): `[N, 28, 28]` becomes `[N, 784]`.
#[derive(Clone, Debug)]
pub struct Flatten {
    /// First dimension flattened (default 1).
    pub start_dim: isize,
    /// Last dimension flattened (default -1).
    pub end_dim: isize,
}

impl Flatten {
    /// `nn.Flatten()`: `start_dim = 1`, `end_dim = -1`.
    pub fn new() -> Flatten {
        Flatten {
            start_dim: 1,
            end_dim: -1,
        }
    }
}

impl Default for Flatten {
    fn default() -> Self {
        Flatten::new()
    }
}

impl ModuleInfo for Flatten {
    fn type_name(&self) -> &str {
        "Flatten"
    }
    fn extra_repr(&self) -> String {
        format!("start_dim={}, end_dim={}", self.start_dim, self.end_dim)
    }
}

impl Module for Flatten {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.try_flatten(self.start_dim, self.end_dim)
    }

    /// ONNX's `Flatten`, which keeps 2 dimensions: `start_dim` 1 to the end only.
    fn onnx(&self, g: &mut Graph, x: &str) -> Result<String> {
        if self.start_dim != 1 || self.end_dim != -1 {
            return Err(Error::Value(format!(
                "ONNX export: Flatten(start_dim={}, end_dim={}) has no ONNX form (start_dim=1, end_dim=-1 has)",
                self.start_dim, self.end_dim
            )));
        }
        Ok(g.node("Flatten", &[x], vec![("axis", Attr::Int(1))]))
    }
}

/// `y = x · Wᵀ + b`, with `W: [out_features, in_features]` and PyTorch's default
/// initialisation: `W` and `b` uniform in `±1/√in_features`.
pub struct Linear {
    /// `[out_features, in_features]`
    pub weight: Tensor,
    /// `[out_features]`, when the layer has a bias.
    pub bias: Option<Tensor>,
}

impl Linear {
    /// `nn.Linear(in_features, out_features)` with a bias, initialised from the
    /// global generator (see [`manual_seed`](crate::manual_seed)).
    pub fn new(in_features: usize, out_features: usize) -> Linear {
        Linear::with_bias(in_features, out_features, true)
    }

    /// `nn.Linear(in_features, out_features, bias=bias)`.
    pub fn with_bias(in_features: usize, out_features: usize, bias: bool) -> Linear {
        let weight = Tensor::zeros([out_features, in_features]);
        // kaiming_uniform_(a=√5) reduces to U(±1/√fan_in), as PyTorch documents.
        init::kaiming_uniform_(&weight, 5f64.sqrt());
        let bound = if in_features > 0 {
            1.0 / (in_features as f64).sqrt()
        } else {
            0.0
        };
        let bias = bias.then(|| {
            let b = Tensor::zeros([out_features]);
            init::uniform_(&b, -bound, bound);
            b.requires_grad_(true)
        });
        Linear {
            weight: weight.requires_grad_(true),
            bias,
        }
    }

    /// Input width.
    pub fn in_features(&self) -> usize {
        self.weight.shape()[1]
    }

    /// Output width.
    pub fn out_features(&self) -> usize {
        self.weight.shape()[0]
    }
}

impl ModuleInfo for Linear {
    fn type_name(&self) -> &str {
        "Linear"
    }
    fn extra_repr(&self) -> String {
        format!(
            "in_features={}, out_features={}, bias={}",
            self.in_features(),
            self.out_features(),
            py_bool(self.bias.is_some())
        )
    }
    fn own_parameters(&self) -> Vec<(String, Tensor)> {
        let mut out = vec![("weight".to_string(), self.weight.clone())];
        if let Some(b) = &self.bias {
            out.push(("bias".to_string(), b.clone()));
        }
        out
    }
}

impl Module for Linear {
    /// `Gemm(x, weight, bias, transB=1)`.
    fn onnx(&self, g: &mut Graph, x: &str) -> Result<String> {
        let w = g.param("weight", &self.weight)?;
        let mut inputs = vec![x.to_string(), w];
        if let Some(b) = &self.bias {
            inputs.push(g.param("bias", b)?);
        }
        let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        Ok(g.node("Gemm", &inputs, vec![("transB", Attr::Int(1))]))
    }

    /// `x · Wᵀ + b` as one `addmm` for a batch of rows (grad_fn `AddmmBackward0`).
    ///
    /// Errors, in PyTorch's words: uint8 input gives `expected scalar type Float
    /// but found Byte` (with a hint), a wrong width gives `mat1 and mat2 shapes
    /// cannot be multiplied (13x784 and 10x10)`.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let wt = self.weight.t();
        match (&self.bias, x.dim()) {
            (Some(b), 2) => Tensor::try_addmm(b, x, &wt),
            (bias, _) => {
                let y = x.try_matmul(&wt)?;
                match bias {
                    Some(b) => y.try_binary(b, crate::ops::elementwise::BinaryOp::Add),
                    None => Ok(y),
                }
            }
        }
    }
}

/// Modules applied in order; children are named `0`, `1`, ...
/// (`nn.Sequential(...)`). Build it from a tuple of layers, as PyTorch takes
/// them, or empty and `.add(...)` layer by layer; read a layer back typed with
/// `get::<Linear>(0)` (`seq[0]` in PyTorch).
///
/// ```
/// use kindling::nn::{Linear, Module, ReLU, Sequential};
/// let layers = Sequential::new((Linear::new(784, 512), ReLU::new(), Linear::new(512, 10)));
/// assert_eq!(layers.len(), 3);
/// let first: &Linear = layers.get(0).unwrap();
/// assert_eq!(first.weight.shape(), &[512, 784]);
/// assert!(layers.get::<ReLU>(0).is_none()); // layer 0 is a Linear
/// assert_eq!(layers[1].to_string(), "ReLU()");
/// ```
#[derive(Default)]
pub struct Sequential {
    modules: Vec<Box<dyn Module>>,
}

/// What [`Sequential::new`] takes: a tuple of up to 12 modules (`()` for
/// none), or a `Vec<Box<dyn Module>>`.
pub trait Layers {
    /// The modules, in order.
    fn into_modules(self) -> Vec<Box<dyn Module>>;
}

impl Layers for Vec<Box<dyn Module>> {
    fn into_modules(self) -> Vec<Box<dyn Module>> {
        self
    }
}

impl Layers for () {
    fn into_modules(self) -> Vec<Box<dyn Module>> {
        Vec::new()
    }
}

macro_rules! layers_tuple {
    ($(($($name:ident),+)),*) => {$(
        impl<$($name: Module),+> Layers for ($($name,)+) {
            #[allow(non_snake_case)]
            fn into_modules(self) -> Vec<Box<dyn Module>> {
                let ($($name,)+) = self;
                vec![$(Box::new($name)),+]
            }
        }
    )*};
}
layers_tuple!(
    (A),
    (A, B),
    (A, B, C),
    (A, B, C, D),
    (A, B, C, D, E),
    (A, B, C, D, E, F),
    (A, B, C, D, E, F, G),
    (A, B, C, D, E, F, G, H),
    (A, B, C, D, E, F, G, H, I),
    (A, B, C, D, E, F, G, H, I, J),
    (A, B, C, D, E, F, G, H, I, J, K),
    (A, B, C, D, E, F, G, H, I, J, K, L)
);

impl Sequential {
    /// `nn.Sequential(a, b, c)`: `Sequential::new((a, b, c))`.
    pub fn new(layers: impl Layers) -> Sequential {
        Sequential {
            modules: layers.into_modules(),
        }
    }

    /// Appends a module (builder style).
    #[allow(clippy::should_implement_trait)]
    pub fn add(mut self, module: impl Module + 'static) -> Sequential {
        self.modules.push(Box::new(module));
        self
    }

    /// Appends a boxed module.
    pub fn push(&mut self, module: Box<dyn Module>) {
        self.modules.push(module);
    }

    /// The `i`-th module as its own type: `get::<Linear>(0)`; `None` when
    /// there is no `i`-th module or it is of another type.
    pub fn get<T: Module>(&self, i: usize) -> Option<&T> {
        let m: &dyn std::any::Any = self.modules.get(i)?.as_ref();
        m.downcast_ref::<T>()
    }

    /// The `i`-th module, of whatever type (also `seq[i]`).
    pub fn module(&self, i: usize) -> Option<&dyn Module> {
        self.modules.get(i).map(|m| m.as_ref())
    }

    /// Number of modules.
    pub fn len(&self) -> usize {
        self.modules.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.modules.is_empty()
    }
}

impl std::ops::Index<usize> for Sequential {
    type Output = dyn Module;
    /// `seq[i]`; panics past the end, as a Python list does.
    #[track_caller]
    fn index(&self, i: usize) -> &dyn Module {
        match self.modules.get(i) {
            Some(m) => m.as_ref(),
            None => panic!("index {i} is out of range"),
        }
    }
}

impl ModuleInfo for Sequential {
    fn type_name(&self) -> &str {
        "Sequential"
    }
    fn children(&self) -> Vec<(String, &dyn Module)> {
        self.modules
            .iter()
            .enumerate()
            .map(|(i, m)| (i.to_string(), m.as_ref()))
            .collect()
    }
}

impl Module for Sequential {
    fn onnx(&self, g: &mut Graph, x: &str) -> Result<String> {
        let mut y = x.to_string();
        for (i, m) in self.modules.iter().enumerate() {
            y = g.child(&i.to_string(), m.as_ref(), &y)?;
        }
        Ok(y)
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mut y = x.clone();
        for m in &self.modules {
            y = m.forward(&y)?;
        }
        Ok(y)
    }
}

macro_rules! activation {
    ($(#[$doc:meta])* $name:ident, $x:ident => $body:expr, onnx: $op:expr) => {
        $(#[$doc])*
        #[derive(Clone, Debug, Default)]
        pub struct $name;

        impl $name {
            /// The activation module.
            pub fn new() -> $name {
                $name
            }
        }

        impl ModuleInfo for $name {
            fn type_name(&self) -> &str {
                stringify!($name)
            }
        }

        impl Module for $name {
            fn forward(&self, $x: &Tensor) -> Result<Tensor> {
                $body
            }

            fn onnx(&self, g: &mut Graph, x: &str) -> Result<String> {
                let op: Option<&str> = $op;
                Ok(match op {
                    Some(op) => g.node(op, &[x], vec![]),
                    None => x.to_string(),
                })
            }
        }
    };
}

activation!(
    /// Returns its input unchanged.
    Identity, x => Ok(x.clone()), onnx: None
);
/// `max(x, 0)`.
///
/// `ReLU::new().inplace(true)` is PyTorch's `nn.ReLU(inplace=True)` (as
/// torchvision's models build it) for its printout; kindling computes a new
/// tensor either way, which gives the same values and gradients.
#[derive(Clone, Debug, Default)]
pub struct ReLU {
    /// `inplace=` (printed only).
    pub inplace: bool,
}

impl ReLU {
    /// `nn.ReLU()`.
    pub fn new() -> ReLU {
        ReLU { inplace: false }
    }

    /// `nn.ReLU(inplace=...)`.
    pub fn inplace(mut self, inplace: bool) -> ReLU {
        self.inplace = inplace;
        self
    }
}

impl ModuleInfo for ReLU {
    fn type_name(&self) -> &str {
        "ReLU"
    }

    fn extra_repr(&self) -> String {
        if self.inplace {
            "inplace=True".into()
        } else {
            String::new()
        }
    }
}

impl Module for ReLU {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Ok(x.relu())
    }

    fn onnx(&self, g: &mut Graph, x: &str) -> Result<String> {
        Ok(g.node("Relu", &[x], vec![]))
    }
}
activation!(
    /// `1 / (1 + e^-x)`: squashes to (0, 1).
    Sigmoid, x => Ok(x.sigmoid()), onnx: Some("Sigmoid")
);
activation!(
    /// `tanh(x)`: squashes to (-1, 1).
    Tanh, x => Ok(x.tanh()), onnx: Some("Tanh")
);

/// `x` for positive inputs, `negative_slope · x` otherwise.
#[derive(Clone, Debug)]
pub struct LeakyReLU {
    /// Slope for negative inputs (default 0.01).
    pub negative_slope: f64,
}

impl LeakyReLU {
    /// `nn.LeakyReLU()` with slope 0.01.
    pub fn new() -> LeakyReLU {
        LeakyReLU {
            negative_slope: 0.01,
        }
    }
}

impl Default for LeakyReLU {
    fn default() -> Self {
        LeakyReLU::new()
    }
}

impl ModuleInfo for LeakyReLU {
    fn type_name(&self) -> &str {
        "LeakyReLU"
    }
    fn extra_repr(&self) -> String {
        format!(
            "negative_slope={}",
            crate::tensor::Scalar::Float(self.negative_slope)
        )
    }
}

impl Module for LeakyReLU {
    fn onnx(&self, g: &mut Graph, x: &str) -> Result<String> {
        Ok(g.node(
            "LeakyRelu",
            &[x],
            vec![("alpha", Attr::Float(self.negative_slope as f32))],
        ))
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.try_leaky_relu(self.negative_slope)
    }
}

/// `x · Φ(x)` with the exact Gaussian CDF (`approximate='none'`).
#[derive(Clone, Debug, Default)]
pub struct GELU;

impl GELU {
    /// `nn.GELU()`.
    pub fn new() -> GELU {
        GELU
    }
}

impl ModuleInfo for GELU {
    fn type_name(&self) -> &str {
        "GELU"
    }
    fn extra_repr(&self) -> String {
        "approximate='none'".to_string()
    }
}

impl Module for GELU {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.try_gelu()
    }
}

fn float_input(x: &Tensor, op: &'static str) -> Result<()> {
    if x.dtype().is_floating_point() {
        Ok(())
    } else {
        Err(Error::NotImplemented {
            op,
            dtype: x.dtype(),
        })
    }
}

/// `softmax` along `dim`: outputs in (0, 1) that sum to 1.
#[derive(Clone, Debug)]
pub struct Softmax {
    /// The dimension normalised.
    pub dim: isize,
}

impl Softmax {
    /// `nn.Softmax(dim=dim)`.
    pub fn new(dim: isize) -> Softmax {
        Softmax { dim }
    }
}

impl ModuleInfo for Softmax {
    fn type_name(&self) -> &str {
        "Softmax"
    }
    fn extra_repr(&self) -> String {
        format!("dim={}", self.dim)
    }
}

impl Module for Softmax {
    fn onnx(&self, g: &mut Graph, x: &str) -> Result<String> {
        Ok(g.node("Softmax", &[x], vec![("axis", Attr::Int(self.dim as i64))]))
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.try_softmax(self.dim)
    }
}

/// `log_softmax` along `dim`.
#[derive(Clone, Debug)]
pub struct LogSoftmax {
    /// The dimension normalised.
    pub dim: isize,
}

impl LogSoftmax {
    /// `nn.LogSoftmax(dim=dim)`.
    pub fn new(dim: isize) -> LogSoftmax {
        LogSoftmax { dim }
    }
}

impl ModuleInfo for LogSoftmax {
    fn type_name(&self) -> &str {
        "LogSoftmax"
    }
    fn extra_repr(&self) -> String {
        format!("dim={}", self.dim)
    }
}

impl Module for LogSoftmax {
    fn onnx(&self, g: &mut Graph, x: &str) -> Result<String> {
        Ok(g.node(
            "LogSoftmax",
            &[x],
            vec![("axis", Attr::Int(self.dim as i64))],
        ))
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.try_log_softmax(self.dim)
    }
}

/// Zeroes each element with probability `p` in training mode and scales the rest
/// by `1/(1-p)`; the identity in evaluation mode. Masks come from the global
/// generator.
pub struct Dropout {
    /// Probability of zeroing an element.
    pub p: f64,
    training: AtomicBool,
}

impl Dropout {
    /// `nn.Dropout(p)`, in training mode as new PyTorch modules are.
    ///
    /// # Panics
    /// When `p` is outside `[0, 1]`.
    pub fn new(p: f64) -> Dropout {
        assert!(
            (0.0..=1.0).contains(&p),
            "dropout probability has to be between 0 and 1, but got {p}"
        );
        Dropout {
            p,
            training: AtomicBool::new(true),
        }
    }
}

impl ModuleInfo for Dropout {
    fn type_name(&self) -> &str {
        "Dropout"
    }
    fn extra_repr(&self) -> String {
        format!("p={}, inplace=False", crate::tensor::Scalar::Float(self.p))
    }
    fn set_own_training(&self, training: bool) {
        self.training.store(training, Ordering::Relaxed);
    }
}

impl Module for Dropout {
    /// Nothing: dropout is the identity in eval mode.
    fn onnx(&self, _g: &mut Graph, x: &str) -> Result<String> {
        Ok(x.to_string())
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if !self.training.load(Ordering::Relaxed) || self.p == 0.0 {
            return Ok(x.clone());
        }
        float_input(x, "dropout")?;
        Ok(x * &dropout_mask(x.shape(), self.p, x))
    }
}

/// A mask of `shape` for dropout with probability `p`, in `like`'s dtype and
/// on its device: `1/(1-p)` where kept, 0 where dropped, drawn from the
/// global generator.
pub(super) fn dropout_mask(shape: &[usize], p: f64, like: &Tensor) -> Tensor {
    let dtype = like.dtype();
    with_global(|g| mask_from(shape, p, dtype, g)).to(like.device())
}

/// [`dropout_mask`]'s values from `global`: one draw per element, kept when
/// `uniform_f64() < 1 - p`, for every dtype.
///
/// That test on the draw's 53 bits `k` (`uniform_f64` is k·2⁻⁵³) is
/// `k < ceil((1 - p)·2⁵³)`: an integer compare, so the loop has no branch to
/// mispredict (a 25% drop rate would often), and a local copy of the
/// generator keeps its state in registers. The mask is built in its float
/// dtype directly, the kept value rounded once as a float64 mask converted
/// would be.
fn mask_from(shape: &[usize], p: f64, dtype: DType, global: &mut Generator) -> Tensor {
    let keep = 1.0 - p;
    let count = shape.iter().product();
    let threshold = (keep * (1u64 << 53) as f64).ceil() as u64;
    let mut g = global.clone();
    let mask = if dtype == DType::F32 {
        let kept = ((1.0 / keep) as f32).to_bits();
        let mut mask = vec![0.0f32; count];
        for m in &mut mask {
            let draw = g.next_u64() >> 11;
            *m = f32::from_bits(select_unpredictable(draw < threshold, kept, 0));
        }
        Tensor::from_vec(mask, shape)
    } else {
        let kept = (1.0 / keep).to_bits();
        let mut mask = vec![0.0f64; count];
        for m in &mut mask {
            let draw = g.next_u64() >> 11;
            *m = f64::from_bits(select_unpredictable(draw < threshold, kept, 0));
        }
        Tensor::from_vec(mask, shape).to_dtype(dtype)
    };
    *global = g;
    mask
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The mask keeps exactly where `uniform_f64() < 1 - p`, as the first
    /// version drew it (so a seed drops the same elements as before), and
    /// leaves the generator where that many draws leave it.
    #[test]
    fn dropout_masks_keep_where_the_draw_is_below_one_minus_p() {
        for p in [0.25, 0.5, 0.1, 1.0 / 3.0, 0.9, 1e-9, 0.999_999_9] {
            for dtype in [DType::F32, DType::F64] {
                let (mut g, mut reference) = (Generator::new(7), Generator::new(7));
                let mask = mask_from(&[3, 1000], p, dtype, &mut g).to_dtype(DType::F64);
                let keep = 1.0 - p;
                let expected: Vec<f64> = (0..3000)
                    .map(|_| {
                        if reference.uniform_f64() < keep {
                            1.0 / keep
                        } else {
                            0.0
                        }
                    })
                    .collect();
                let expected = Tensor::from_vec(expected, [3, 1000])
                    .to_dtype(dtype)
                    .to_dtype(DType::F64);
                assert_eq!(
                    mask.to_vec::<f64>(),
                    expected.to_vec::<f64>(),
                    "p = {p}, {dtype:?}"
                );
                assert_eq!(g.next_u64(), reference.next_u64());
            }
        }
    }
}
