//! Whole-model files: a model's structure and weights in one safetensors
//! file, loaded back without writing the model's code.
//!
//! The structure is data, never code: a JSON description of the modules
//! (`{"type": "Linear", "in_features": 784, ...}`, a `Sequential`'s
//! `layers`, a reference architecture by name) kept in the file's metadata
//! under `kindling.module`, beside the `state_dict`. Every built-in layer,
//! `Sequential` (nested), the reference architectures (`kindling::nn::models`)
//! and torchvision's (`kindling::vision::models`) have one. A struct of your
//! own (`#[derive(Module)]`) has code in its `forward`, so it has none: save
//! its weights with [`Module::save`] and load them into the same struct with
//! [`Module::load`].
//!
//! ```
//! use kindling::nn::{self, Linear, Module, ReLU, Sequential};
//! let model = Sequential::new((Linear::new(4, 8), ReLU::new(), Linear::new(8, 2)));
//! let path = std::env::temp_dir().join(format!("kindling-doc-model-{}.safetensors", std::process::id()));
//! nn::save_model(&model, &path)?;
//! let back = nn::load_model(&path)?;
//! assert_eq!(back.to_string(), model.to_string());
//! let x = kindling::Tensor::ones([1, 4]);
//! assert_eq!(back.forward(&x)?.to_vec::<f32>(), model.forward(&x)?.to_vec::<f32>());
//! # std::fs::remove_file(&path).ok();
//! # Ok::<(), kindling::Error>(())
//! ```
//!
//! PyTorch's `torch.save(model)` pickles the model's class, which is code:
//! [`crate::load`] refuses such a file, naming the class.

use std::collections::HashMap;
use std::path::Path;

use serde_json::{json, Value};

use super::models::{Arch, Net};
use super::ModuleInfo;
use super::{
    AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool2d, BatchNorm1d, BatchNorm2d, Conv2d, Dropout,
    Dropout2d, Flatten, Identity, LayerNorm, LeakyReLU, Linear, LogSoftmax, MaxPool2d, Module,
    ReLU, Sequential, Sigmoid, Softmax, Tanh, GELU,
};
use crate::error::{Error, Result};
use crate::ops::conv::{ConvOptions, Padding, Size2};
use crate::ops::pool::{AvgPoolOptions, PoolOptions};
use crate::vision::models::{ResNet, VGG};

/// The metadata key holding the structure.
pub const MODULE_KEY: &str = "kindling.module";

/// Writes `model`'s structure and weights to one safetensors file,
/// atomically (PyTorch reads its weights as any safetensors file).
///
/// # Errors
/// A module whose structure is code (a struct of your own), named.
pub fn save_model(model: &dyn Module, path: impl AsRef<Path>) -> Result<()> {
    let spec = spec_of(model)?;
    let meta = HashMap::from([(MODULE_KEY.to_string(), spec.to_string())]);
    crate::io::save_safetensors(path.as_ref(), &model.state_dict(), &meta)
}

/// Builds the model a [`save_model`] file describes and loads its weights
/// (strictly). The global generator's state is left as it was.
///
/// # Errors
/// A file without a structure (weights alone: build the model in code and
/// [`Module::load`] them), a structure kindling does not know, sizes that
/// need more parameters than the file holds, and the errors of
/// [`Module::load_state_dict`].
pub fn load_model(path: impl AsRef<Path>) -> Result<Box<dyn Module>> {
    let path = path.as_ref();
    let bad = |message: String| Error::Io {
        path: path.to_path_buf(),
        message,
    };
    let (tensors, meta) = crate::io::load_safetensors(path)?;
    let spec = meta.get(MODULE_KEY).ok_or_else(|| {
        bad("holds weights but no model structure (not written by kindling::nn::save_model): build the model in code and load the weights with model.load(path)".into())
    })?;
    let spec: Value = serde_json::from_str(spec)
        .map_err(|e| bad(format!("the model structure is not valid JSON ({e})")))?;
    // Every parameter a module allocates must come from the file: sizes that
    // would need more than the file holds are refused before allocating.
    let mut budget: usize = tensors.iter().map(|(_, t)| t.numel()).sum();
    let rng = crate::get_rng_state();
    let built = super::init::without_random_init(|| build(&spec, &mut budget, 0));
    crate::set_rng_state(&rng).expect("the state just read");
    let model = built.map_err(|e| bad(format!("model structure: {e}")))?;
    model.load_state_dict(&tensors).map_err(|e| match e {
        Error::StateDict(m) => Error::StateDict(format!("{m} (in {})", path.display())),
        other => other,
    })?;
    Ok(model)
}

fn pair(s: Size2) -> Value {
    json!([s.0[0], s.0[1]])
}

/// The structure of `m` as data.
fn spec_of(m: &dyn Module) -> Result<Value> {
    let any = m as &dyn std::any::Any;
    if let Some(boxed) = any.downcast_ref::<Box<dyn Module>>() {
        return spec_of(boxed.as_ref()); // `&model` where model is a Box<dyn Module>
    }
    macro_rules! is {
        ($t:ty) => {
            any.downcast_ref::<$t>()
        };
    }
    Ok(if let Some(l) = is!(Linear) {
        json!({"type": "Linear", "in_features": l.in_features(), "out_features": l.out_features(), "bias": l.bias.is_some()})
    } else if let Some(c) = is!(Conv2d) {
        let o = c.options;
        let padding = match o.padding {
            Padding::Same => json!("same"),
            Padding::Valid => json!("valid"),
            Padding::Zeros(p) => json!(p),
        };
        json!({"type": "Conv2d", "in_channels": c.in_channels(), "out_channels": c.out_channels(),
               "kernel_size": c.kernel_size(), "stride": pair(o.stride), "padding": padding,
               "dilation": pair(o.dilation), "groups": o.groups, "bias": c.bias.is_some()})
    } else if let Some(p) = is!(MaxPool2d) {
        let o = p.options;
        json!({"type": "MaxPool2d", "kernel_size": pair(p.kernel_size), "stride": o.stride.map(pair),
               "padding": pair(o.padding), "dilation": o.dilation.map(pair), "ceil_mode": o.ceil_mode})
    } else if let Some(p) = is!(AvgPool2d) {
        let o = p.options;
        json!({"type": "AvgPool2d", "kernel_size": pair(p.kernel_size), "stride": o.stride.map(pair),
               "padding": pair(o.padding), "ceil_mode": o.ceil_mode,
               "count_include_pad": o.count_include_pad, "divisor_override": o.divisor_override})
    } else if let Some(p) = is!(AdaptiveAvgPool2d) {
        json!({"type": "AdaptiveAvgPool2d", "output_size": adaptive(p.output_size, p.square())})
    } else if let Some(p) = is!(AdaptiveMaxPool2d) {
        json!({"type": "AdaptiveMaxPool2d", "output_size": adaptive(p.output_size, p.square())})
    } else if let Some(b) = is!(BatchNorm1d) {
        let (n, eps, momentum) = b.settings();
        json!({"type": "BatchNorm1d", "num_features": n, "eps": eps, "momentum": momentum,
               "affine": b.weight().is_some(), "track_running_stats": b.running_mean().is_some()})
    } else if let Some(b) = is!(BatchNorm2d) {
        let (n, eps, momentum) = b.settings();
        json!({"type": "BatchNorm2d", "num_features": n, "eps": eps, "momentum": momentum,
               "affine": b.weight().is_some(), "track_running_stats": b.running_mean().is_some()})
    } else if let Some(l) = is!(LayerNorm) {
        json!({"type": "LayerNorm", "normalized_shape": l.normalized_shape, "eps": l.eps,
               "elementwise_affine": l.weight.is_some(), "bias": l.bias.is_some()})
    } else if let Some(d) = is!(Dropout) {
        json!({"type": "Dropout", "p": d.p})
    } else if let Some(d) = is!(Dropout2d) {
        json!({"type": "Dropout2d", "p": d.p})
    } else if let Some(f) = is!(Flatten) {
        json!({"type": "Flatten", "start_dim": f.start_dim, "end_dim": f.end_dim})
    } else if let Some(r) = is!(ReLU) {
        json!({"type": "ReLU", "inplace": r.inplace})
    } else if let Some(r) = is!(LeakyReLU) {
        json!({"type": "LeakyReLU", "negative_slope": r.negative_slope})
    } else if let Some(s) = is!(Softmax) {
        json!({"type": "Softmax", "dim": s.dim})
    } else if let Some(s) = is!(LogSoftmax) {
        json!({"type": "LogSoftmax", "dim": s.dim})
    } else if is!(GELU).is_some()
        || is!(Sigmoid).is_some()
        || is!(Tanh).is_some()
        || is!(Identity).is_some()
    {
        json!({"type": m.type_name()})
    } else if let Some(s) = is!(Sequential) {
        let layers = s
            .children()
            .into_iter()
            .map(|(_, c)| spec_of(c))
            .collect::<Result<Vec<_>>>()?;
        json!({"type": "Sequential", "layers": layers})
    } else if let Some(n) = is!(Net) {
        json!({"type": "kindling.nn.models", "arch": n.arch.name()})
    } else if let Some(r) = is!(ResNet) {
        json!({"type": "torchvision.models", "arch": r.arch})
    } else if let Some(v) = is!(VGG) {
        json!({"type": "torchvision.models", "arch": v.arch})
    } else {
        return Err(Error::Value(format!(
            "{}'s structure cannot be saved as data (its forward is code): save its weights with model.save(path), and load them into the same struct with model.load(path)",
            m.type_name()
        )));
    })
}

fn adaptive(size: Size2, square: bool) -> Value {
    if square {
        json!(size.0[0])
    } else {
        pair(size)
    }
}

/// The deepest nesting of `Sequential`s built.
const MAX_DEPTH: usize = 32;

fn build(
    spec: &Value,
    budget: &mut usize,
    depth: usize,
) -> std::result::Result<Box<dyn Module>, String> {
    if depth > MAX_DEPTH {
        return Err(format!("Sequentials nested deeper than {MAX_DEPTH}"));
    }
    let ty = spec["type"].as_str().ok_or("a module without a \"type\"")?;
    let f = Fields { spec, ty };
    // Takes `n` parameters from the budget, or refuses.
    let mut take = |n: Option<usize>| -> std::result::Result<(), String> {
        match n {
            Some(n) if n <= *budget => {
                *budget -= n;
                Ok(())
            }
            _ => Err(format!("{ty} needs more parameters than the file holds")),
        }
    };
    let mul = |a: usize, b: usize| a.checked_mul(b);
    Ok(match ty {
        "Linear" => {
            let (i, o, bias) = (
                f.usize("in_features")?,
                f.usize("out_features")?,
                f.bool("bias")?,
            );
            take(mul(i, o).and_then(|w| w.checked_add(if bias { o } else { 0 })))?;
            Box::new(Linear::with_bias(i, o, bias))
        }
        "Conv2d" => {
            let (i, o, groups) = (
                f.usize("in_channels")?,
                f.usize("out_channels")?,
                f.usize("groups")?,
            );
            let k = f.pair("kernel_size")?;
            if groups == 0 || i % groups != 0 || o % groups != 0 {
                return Err(format!(
                    "Conv2d with {i} and {o} channels in {groups} groups"
                ));
            }
            let bias = f.bool("bias")?;
            take(
                mul(o, i / groups)
                    .and_then(|n| mul(n, k[0]))
                    .and_then(|n| mul(n, k[1]))
                    .and_then(|n| n.checked_add(if bias { o } else { 0 })),
            )?;
            let padding = match &spec["padding"] {
                Value::String(s) if s == "same" => Padding::Same,
                Value::String(s) if s == "valid" => Padding::Valid,
                _ => Padding::Zeros(f.pair("padding")?),
            };
            let options = ConvOptions {
                stride: Size2(f.pair("stride")?),
                padding,
                dilation: Size2(f.pair("dilation")?),
                groups,
            };
            Box::new(Conv2d::with_options(i, o, k, options, bias))
        }
        "MaxPool2d" => Box::new(MaxPool2d::with_options(
            f.pair("kernel_size")?,
            PoolOptions {
                stride: f.opt_pair("stride")?.map(Size2),
                padding: Size2(f.pair("padding")?),
                dilation: f.opt_pair("dilation")?.map(Size2),
                ceil_mode: f.bool("ceil_mode")?,
            },
        )),
        "AvgPool2d" => Box::new(AvgPool2d::with_options(
            f.pair("kernel_size")?,
            AvgPoolOptions {
                stride: f.opt_pair("stride")?.map(Size2),
                padding: Size2(f.pair("padding")?),
                ceil_mode: f.bool("ceil_mode")?,
                count_include_pad: f.bool("count_include_pad")?,
                divisor_override: match &spec["divisor_override"] {
                    Value::Null => None,
                    _ => Some(f.usize("divisor_override")?),
                },
            },
        )),
        "AdaptiveAvgPool2d" | "AdaptiveMaxPool2d" => {
            let size: super::OutputSize = match &spec["output_size"] {
                Value::Number(_) => f.usize("output_size")?.into(),
                _ => f.pair("output_size")?.into(),
            };
            if ty == "AdaptiveAvgPool2d" {
                Box::new(AdaptiveAvgPool2d::new(size))
            } else {
                Box::new(AdaptiveMaxPool2d::new(size))
            }
        }
        "BatchNorm1d" | "BatchNorm2d" => {
            let n = f.usize("num_features")?;
            let (affine, track) = (f.bool("affine")?, f.bool("track_running_stats")?);
            take(
                mul(n, 2 * affine as usize + 2 * track as usize)
                    .and_then(|v| v.checked_add(track as usize)),
            )?;
            let eps = f.f64("eps")?;
            let momentum = match &spec["momentum"] {
                Value::Null => None,
                _ => Some(f.f64("momentum")?),
            };
            if ty == "BatchNorm1d" {
                Box::new(
                    BatchNorm1d::with_options(n, affine, track)
                        .eps(eps)
                        .momentum(momentum),
                )
            } else {
                Box::new(
                    BatchNorm2d::with_options(n, affine, track)
                        .eps(eps)
                        .momentum(momentum),
                )
            }
        }
        "LayerNorm" => {
            let shape: Vec<usize> = spec["normalized_shape"]
                .as_array()
                .ok_or("LayerNorm without normalized_shape")?
                .iter()
                .map(|v| {
                    v.as_u64()
                        .map(|v| v as usize)
                        .ok_or("a LayerNorm size that is not a number")
                })
                .collect::<std::result::Result<_, _>>()?;
            let (affine, bias) = (f.bool("elementwise_affine")?, f.bool("bias")?);
            let n = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
            take(n.and_then(|n| mul(n, affine as usize + (affine && bias) as usize)))?;
            Box::new(LayerNorm::with_options(shape, affine, bias).eps(f.f64("eps")?))
        }
        "Dropout" => Box::new(Dropout::new(f.probability("p")?)),
        "Dropout2d" => Box::new(Dropout2d::new(f.probability("p")?)),
        "Flatten" => Box::new(Flatten {
            start_dim: f.isize("start_dim")?,
            end_dim: f.isize("end_dim")?,
        }),
        "ReLU" => Box::new(ReLU::new().inplace(f.bool("inplace")?)),
        "LeakyReLU" => Box::new(LeakyReLU {
            negative_slope: f.f64("negative_slope")?,
        }),
        "Softmax" => Box::new(Softmax::new(f.isize("dim")?)),
        "LogSoftmax" => Box::new(LogSoftmax::new(f.isize("dim")?)),
        "GELU" => Box::new(GELU::new()),
        "Sigmoid" => Box::new(Sigmoid::new()),
        "Tanh" => Box::new(Tanh::new()),
        "Identity" => Box::new(Identity::new()),
        "Sequential" => {
            let layers = spec["layers"]
                .as_array()
                .ok_or("a Sequential without \"layers\"")?;
            let mut s = Sequential::default();
            for l in layers {
                s.push(build(l, budget, depth + 1)?);
            }
            Box::new(s)
        }
        "kindling.nn.models" => {
            // At most cnn-bn's 1.2 million parameters: built, then counted.
            let arch: Arch = f.str("arch")?.parse().map_err(|e: Error| e.to_string())?;
            let net = arch.build();
            take(Some(net.parameters().iter().map(|p| p.numel()).sum()))?;
            Box::new(net)
        }
        "torchvision.models" => {
            let arch = f.str("arch")?;
            let count = match arch {
                "resnet18" => 11_689_512,
                "vgg16" => 138_357_544,
                "vgg16_bn" => 138_365_992,
                other => return Err(format!("unknown torchvision model {other:?}")),
            };
            take(Some(count))?;
            crate::vision::models::get_model(arch).map_err(|e| e.to_string())?
        }
        other => return Err(format!("unknown module type {other:?}")),
    })
}

/// Typed reads of one module's fields, naming the field when one is wrong.
struct Fields<'a> {
    spec: &'a Value,
    ty: &'a str,
}

impl Fields<'_> {
    fn err(&self, name: &str, what: &str) -> String {
        format!("{}'s {name} is not {what}", self.ty)
    }

    fn usize(&self, name: &str) -> std::result::Result<usize, String> {
        self.spec[name]
            .as_u64()
            .and_then(|v| usize::try_from(v).ok())
            .filter(|&v| v <= 1 << 32)
            .ok_or_else(|| self.err(name, "a size"))
    }

    fn isize(&self, name: &str) -> std::result::Result<isize, String> {
        self.spec[name]
            .as_i64()
            .filter(|v| v.abs() <= 64)
            .map(|v| v as isize)
            .ok_or_else(|| self.err(name, "a dimension"))
    }

    fn f64(&self, name: &str) -> std::result::Result<f64, String> {
        self.spec[name]
            .as_f64()
            .filter(|v| v.is_finite())
            .ok_or_else(|| self.err(name, "a number"))
    }

    fn probability(&self, name: &str) -> std::result::Result<f64, String> {
        self.f64(name)
            .ok()
            .filter(|p| (0.0..=1.0).contains(p))
            .ok_or_else(|| self.err(name, "a probability"))
    }

    fn bool(&self, name: &str) -> std::result::Result<bool, String> {
        self.spec[name]
            .as_bool()
            .ok_or_else(|| self.err(name, "true or false"))
    }

    fn str(&self, name: &str) -> std::result::Result<&str, String> {
        self.spec[name]
            .as_str()
            .ok_or_else(|| self.err(name, "a string"))
    }

    fn pair(&self, name: &str) -> std::result::Result<[usize; 2], String> {
        let v = self.spec[name]
            .as_array()
            .filter(|a| a.len() == 2)
            .ok_or_else(|| self.err(name, "a pair"))?;
        let get = |i: usize| {
            v[i].as_u64()
                .filter(|&v| v <= 1 << 16)
                .map(|v| v as usize)
                .ok_or_else(|| self.err(name, "a pair of sizes"))
        };
        Ok([get(0)?, get(1)?])
    }

    fn opt_pair(&self, name: &str) -> std::result::Result<Option<[usize; 2]>, String> {
        match &self.spec[name] {
            Value::Null => Ok(None),
            _ => self.pair(name).map(Some),
        }
    }
}
