//! Optimizers with PyTorch's exact update rules and defaults (`SGD`, `Adam`,
//! `AdamW`, `Adadelta`, `RMSprop`, `Adagrad`) and learning-rate schedulers (`StepLR`, `CosineAnnealingLR`,
//! `OneCycleLR`).
//!
//! Updates run elementwise in the parameters' own precision and in PyTorch's
//! order of operations (its single-tensor CPU path), so parameters after a few
//! steps agree with PyTorch's to float precision. State (momentum buffers, Adam
//! moments, the step count) can be saved to a safetensors file and restored.

mod schedulers;
mod state_dict;

use std::collections::HashMap;
use std::fmt;
use std::ops::Range;
use std::path::Path;

pub use schedulers::{CosineAnnealingLR, LrScheduler, OneCycleLR, StepLR};

use crate::backend::{backend, AdadeltaStep, AdamStep, Backend, RmspropStep, SgdStep, View};
use crate::error::{Error, Result};
use crate::io::Value;
use crate::tensor::{Buffer, Tensor};

/// An optimizer over a fixed list of parameters.
pub trait Optimizer {
    /// Updates every parameter that has a gradient.
    fn step(&mut self) -> Result<()>;
    /// Clears the parameters' gradients (`set_to_none`, PyTorch's default).
    fn zero_grad(&self);
    /// The current learning rate.
    fn lr(&self) -> f64;
    /// Sets the learning rate (schedulers call this).
    fn set_lr(&mut self, lr: f64);
    /// The state needed to resume: step count and per-parameter buffers.
    fn state(&self) -> OptimizerState;
    /// Restores a state from [`Optimizer::state`] for the same parameters.
    fn load_state(&mut self, state: &OptimizerState) -> Result<()>;
    /// The parameters it updates (PyTorch's `param_groups[0]["params"]`).
    fn params(&self) -> &[Tensor];
    /// Its one parameter group's settings, with PyTorch's keys and values in
    /// PyTorch's (alphabetical) order: what `print(optimizer)` lists and what
    /// `state_dict()["param_groups"][0]` holds besides `params`.
    fn param_group(&self) -> Vec<(&'static str, Value)>;

    /// PyTorch's `optimizer.state_dict()`: `{"state": {index: {"step": ...,
    /// buffer: tensor}}, "param_groups": [{settings..., "params": [0, 1, ...]}]}`,
    /// which [`crate::save`] writes as a `.pth` that PyTorch's optimizer of
    /// the same kind loads.
    fn state_dict(&self) -> Value {
        state_dict::to_pytorch(&self.state(), self.param_group(), self.params().len())
    }

    /// Loads PyTorch's `optimizer.state_dict()` (from a `.pth` checkpoint, or
    /// from [`Optimizer::state_dict`]): the buffers and step count, and the
    /// learning rate, as PyTorch does.
    ///
    /// # Errors
    /// Unlike PyTorch, which takes every setting from the file, a setting
    /// other than `lr` that differs from this optimizer's (`momentum`,
    /// `betas`, ...) is refused by name, as are a number of parameters or a
    /// buffer shape that does not fit, and buffers this optimizer does not
    /// have.
    fn load_state_dict(&mut self, state: &Value) -> Result<()> {
        let kind = self.state().kind;
        let s = state_dict::from_pytorch(state, &kind, &self.param_group(), self.params())?;
        self.load_state(&s)
    }
}

/// An optimizer's resumable state. Buffers are keyed `"{param index}.{name}"`
/// (`0.momentum_buffer`, `3.exp_avg_sq`), as in PyTorch's `state_dict()["state"]`.
#[derive(Clone, Debug, Default)]
pub struct OptimizerState {
    /// Which optimizer wrote it (`SGD`, `Adam`, `AdamW`); another one refuses it.
    pub kind: String,
    /// Steps taken.
    pub step: u64,
    /// The learning rate at the time of saving.
    pub lr: f64,
    /// Per-parameter buffers by key.
    pub buffers: Vec<(String, Tensor)>,
}

/// The most steps an optimizer state may claim: far beyond any real run, and
/// safely inside the range Adam's bias correction computes in.
pub const MAX_STEPS: u64 = 1 << 40;

impl OptimizerState {
    /// Writes the state to a safetensors file (atomically).
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::io::write_atomic(path, &self.to_bytes()?)
    }

    /// The state as safetensors bytes (what [`OptimizerState::save`] writes).
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let meta = HashMap::from([
            ("kind".to_string(), self.kind.clone()),
            ("step".to_string(), self.step.to_string()),
            ("lr".to_string(), format!("{:e}", self.lr)),
        ]);
        crate::io::safetensors_bytes(&self.buffers, &meta)
    }

    /// Reads a state written by [`OptimizerState::save`].
    ///
    /// # Errors
    /// A damaged file, a missing or invalid field (a step count above
    /// [`MAX_STEPS`], a learning rate that is negative or not finite), or a
    /// buffer that is not a finite float tensor, each named with the file.
    pub fn load(path: &Path) -> Result<OptimizerState> {
        // Header first, as for weights: a huge file is refused before it is read.
        let (buffers, meta) = crate::io::load_safetensors(path)?;
        OptimizerState::checked(buffers, meta, path)
    }

    /// Parses and checks the bytes of a state file; `origin` names it in errors.
    pub fn from_bytes(bytes: &[u8], origin: &Path) -> Result<OptimizerState> {
        let (buffers, meta) = crate::io::parse_safetensors(bytes).map_err(|message| Error::Io {
            path: origin.to_path_buf(),
            message,
        })?;
        OptimizerState::checked(buffers, meta, origin)
    }

    fn checked(
        buffers: crate::io::NamedTensors,
        meta: crate::io::Metadata,
        origin: &Path,
    ) -> Result<OptimizerState> {
        let bad = |message: String| Error::Io {
            path: origin.to_path_buf(),
            message,
        };
        let field = |k: &str| {
            meta.get(k)
                .ok_or_else(|| bad(format!("optimizer state lacks '{k}'")))
        };
        let step: u64 = field("step")?
            .parse()
            .map_err(|_| bad("optimizer state has an invalid 'step'".into()))?;
        if step > MAX_STEPS {
            return Err(bad(format!(
                "optimizer state claims {step} steps, more than the {MAX_STEPS} allowed"
            )));
        }
        let lr: f64 = field("lr")?
            .parse()
            .map_err(|_| bad("optimizer state has an invalid 'lr'".into()))?;
        if !(lr.is_finite() && lr >= 0.0) {
            return Err(bad(format!(
                "optimizer state has learning rate {lr}; it must be a finite number >= 0"
            )));
        }
        for (name, t) in &buffers {
            check_buffer(name, t).map_err(bad)?;
        }
        Ok(OptimizerState {
            kind: field("kind")?.clone(),
            step,
            lr,
            buffers,
        })
    }

    /// Refuses a state written by another optimizer, or holding buffers this
    /// one does not have (`names`) or for parameters it does not have.
    fn check_fits(&self, kind: &str, names: &[&str], params: usize) -> Result<()> {
        if self.kind != kind {
            return Err(Error::StateDict(format!(
                "the optimizer state was saved by {}, not {kind}",
                if self.kind.is_empty() {
                    "an unknown optimizer"
                } else {
                    &self.kind
                }
            )));
        }
        for (key, _) in &self.buffers {
            let known = key
                .split_once('.')
                .and_then(|(i, name)| Some((i.parse::<usize>().ok()?, name)))
                .is_some_and(|(i, name)| i < params && names.contains(&name));
            if !known {
                return Err(Error::StateDict(format!(
                    "unexpected key '{key}' in the {kind} optimizer state (it has {params} parameters)"
                )));
            }
        }
        Ok(())
    }

    /// Buffer `name` of parameter `i`, as a fresh tensor of `param`'s dtype;
    /// a buffer of another shape is an error naming the parameter.
    fn buffer_for(&self, i: usize, name: &str, param: &Tensor) -> Result<Option<Tensor>> {
        let key = format!("{i}.{name}");
        match self.buffers.iter().find(|(k, _)| *k == key).map(|(_, t)| t) {
            Some(b) if b.shape() == param.shape() => {
                Ok(Some(b.to_dtype(param.dtype()).clone_tensor()))
            }
            Some(b) => Err(Error::StateDict(format!(
                "optimizer state for parameter {i} has shape {:?}, but the parameter has {:?}",
                b.shape(),
                param.shape()
            ))),
            None => Ok(None),
        }
    }
}

/// A state buffer must be a float tensor of finite values.
fn check_buffer(name: &str, t: &Tensor) -> std::result::Result<(), String> {
    if !t.dtype().is_floating_point() {
        return Err(format!(
            "optimizer state buffer {name} is {}, not a float tensor",
            t.dtype()
        ));
    }
    if !t.to_vec::<f64>().iter().all(|v| v.is_finite()) {
        return Err(format!(
            "optimizer state buffer {name} holds NaN or infinite values"
        ));
    }
    Ok(())
}

/// Locks a parameter (for writing), its gradient and its state buffers, and
/// hands them to one fused step of the parameter's backend: the parameter and
/// its buffers are written through their storages, with no copies.
///
/// With threads (see [`crate::with_threads`]), the CPU backend updates a large
/// parameter in two halves side by side, cut where the matrix products cut a
/// weight's rows. Every element is updated the same way either way.
fn fused_step<const N: usize>(
    param: &Tensor,
    grad: &Tensor,
    buffers: [&Tensor; N],
    step: impl FnOnce(&dyn Backend, &mut Buffer, Range<usize>, View, [&mut Buffer; N]),
) -> Result<()> {
    let not_contiguous =
        || Error::Value("optimizers update contiguous float parameters only".into());
    let range = param
        .layout()
        .contiguous_range()
        .filter(|_| param.dtype().is_floating_point())
        .ok_or_else(not_contiguous)?;
    crate::ops::device_of(&[param, grad])?;
    let converted;
    let grad = if grad.dtype() == param.dtype() && grad.is_contiguous() {
        grad
    } else {
        converted = grad.to_dtype(param.dtype()).contiguous();
        &converted
    };
    // Distinct tensors with distinct storages: each lock is taken once.
    let g_buf = grad.inner.storage.read();
    let mut p_buf = param.inner.storage.write();
    let mut b_bufs = buffers.map(|b| b.inner.storage.write());
    let view = View {
        buf: &g_buf,
        layout: grad.layout(),
    };
    step(
        backend(param.device()),
        &mut p_buf,
        range,
        view,
        b_bufs.each_mut().map(|b| &mut **b),
    );
    Ok(())
}

/// PyTorch refuses an optimizer with nothing to train; so does `step()`: a model
/// whose layers were never registered would otherwise train silently on nothing.
fn no_parameters(params: &[Tensor]) -> Result<()> {
    if params.is_empty() {
        Err(Error::Value("optimizer got an empty parameter list".into()))
    } else {
        Ok(())
    }
}

fn params_checked(params: Vec<Tensor>) -> Vec<Tensor> {
    for p in &params {
        assert!(
            p.dtype().is_floating_point(),
            "optimizers update float parameters, got {}",
            p.dtype()
        );
    }
    params
}

/// Stochastic gradient descent with PyTorch's momentum, dampening, weight decay
/// and Nesterov rules:
///
/// ```text
/// d = g + weight_decay·p
/// b = d (first step), else momentum·b + (1 - dampening)·d
/// d = d + momentum·b (nesterov), else b
/// p = p - lr·d
/// ```
///
/// ```
/// use kindling::optim::{Optimizer, SGD};
/// use kindling::Tensor;
/// let w = Tensor::from_vec(vec![1.0f32], [1]).requires_grad_(true);
/// let mut opt = SGD::new(vec![w.clone()], 0.1).momentum(0.9);
/// (&w * &w).sum().backward();  // grad 2
/// opt.step()?;
/// assert_eq!(w.to_vec::<f32>(), vec![0.8]);
/// # Ok::<(), kindling::Error>(())
/// ```
pub struct SGD {
    params: Vec<Tensor>,
    /// Learning rate.
    pub lr: f64,
    /// Momentum factor (0 = none).
    pub momentum: f64,
    /// Dampening of the momentum's gradient term.
    pub dampening: f64,
    /// L2 penalty added to the gradient.
    pub weight_decay: f64,
    /// Nesterov momentum.
    pub nesterov: bool,
    buffers: Vec<Option<Tensor>>,
    steps: u64,
}

impl SGD {
    /// `torch.optim.SGD(params, lr)`: no momentum, no weight decay.
    pub fn new(params: Vec<Tensor>, lr: f64) -> SGD {
        let n = params.len();
        SGD {
            params: params_checked(params),
            lr,
            momentum: 0.0,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: false,
            buffers: vec![None; n],
            steps: 0,
        }
    }

    /// Sets the momentum factor.
    pub fn momentum(mut self, momentum: f64) -> SGD {
        self.momentum = momentum;
        self
    }

    /// Sets the dampening.
    pub fn dampening(mut self, dampening: f64) -> SGD {
        self.dampening = dampening;
        self
    }

    /// Sets the weight decay.
    pub fn weight_decay(mut self, weight_decay: f64) -> SGD {
        self.weight_decay = weight_decay;
        self
    }

    /// Turns Nesterov momentum on or off.
    pub fn nesterov(mut self, nesterov: bool) -> SGD {
        self.nesterov = nesterov;
        self
    }
}

impl Optimizer for SGD {
    fn step(&mut self) -> Result<()> {
        no_parameters(&self.params)?;
        if self.nesterov && (self.momentum <= 0.0 || self.dampening != 0.0) {
            return Err(Error::Value(
                "Nesterov momentum requires a momentum and zero dampening".into(),
            ));
        }
        for (p, slot) in self.params.iter().zip(self.buffers.iter_mut()) {
            let Some(g) = p.grad() else { continue };
            let first = slot.is_none();
            if self.momentum != 0.0 && first {
                *slot = Some(p.zeros_like());
            }
            let step = SgdStep {
                lr: self.lr,
                momentum: self.momentum,
                dampening: self.dampening,
                weight_decay: self.weight_decay,
                nesterov: self.nesterov,
                first,
            };
            match slot {
                Some(buf) => fused_step(p, &g, [&*buf], |be, p, range, g, [b]| {
                    be.sgd_step(p, range, g, Some(b), &step)
                })?,
                None => fused_step(p, &g, [], |be, p, range, g, []| {
                    be.sgd_step(p, range, g, None, &step)
                })?,
            }
        }
        self.steps += 1;
        Ok(())
    }

    fn zero_grad(&self) {
        self.params.iter().for_each(Tensor::zero_grad);
    }

    fn lr(&self) -> f64 {
        self.lr
    }

    fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }

    fn params(&self) -> &[Tensor] {
        &self.params
    }

    fn param_group(&self) -> Vec<(&'static str, Value)> {
        vec![
            ("dampening", py_zero_or_float(self.dampening)),
            ("differentiable", py_bool(false)),
            ("foreach", Value::None),
            ("fused", Value::None),
            ("lr", py_float(self.lr)),
            ("maximize", py_bool(false)),
            ("momentum", py_zero_or_float(self.momentum)),
            ("nesterov", py_bool(self.nesterov)),
            ("weight_decay", py_zero_or_float(self.weight_decay)),
        ]
    }

    fn state(&self) -> OptimizerState {
        let buffers = self
            .buffers
            .iter()
            .enumerate()
            .filter_map(|(i, b)| {
                b.as_ref()
                    .map(|b| (format!("{i}.momentum_buffer"), b.clone_tensor()))
            })
            .collect();
        OptimizerState {
            kind: "SGD".into(),
            step: self.steps,
            lr: self.lr,
            buffers,
        }
    }

    fn load_state(&mut self, state: &OptimizerState) -> Result<()> {
        state.check_fits("SGD", &["momentum_buffer"], self.params.len())?;
        for (i, (p, slot)) in self.params.iter().zip(self.buffers.iter_mut()).enumerate() {
            *slot = state.buffer_for(i, "momentum_buffer", p)?;
        }
        self.steps = state.step;
        self.lr = state.lr;
        Ok(())
    }
}

/// Adam, and AdamW (decoupled weight decay), with PyTorch's rules:
///
/// ```text
/// p = p·(1 - lr·wd)                 (AdamW)    g = g + wd·p   (Adam)
/// m = lerp(m, g, 1 - β1)            v = β2·v + (1 - β2)·g²
/// v̂ = max(v̂, v) with amsgrad
/// p = p - lr/(1 - β1ᵗ) · m / (√v / √(1 - β2ᵗ) + eps)
/// ```
pub struct Adam {
    params: Vec<Tensor>,
    /// Learning rate.
    pub lr: f64,
    /// `(β1, β2)`.
    pub betas: (f64, f64),
    /// Added to the denominator.
    pub eps: f64,
    /// Weight decay: L2 in the gradient (Adam) or decoupled (AdamW).
    pub weight_decay: f64,
    /// Keep the running maximum of `v` (AMSGrad).
    pub amsgrad: bool,
    decoupled: bool,
    moments: Vec<Option<[Tensor; 3]>>,
    steps: u64,
}

impl Adam {
    /// `torch.optim.Adam(params, lr)`: betas (0.9, 0.999), eps 1e-8, no weight decay.
    pub fn new(params: Vec<Tensor>, lr: f64) -> Adam {
        let n = params.len();
        Adam {
            params: params_checked(params),
            lr,
            betas: (0.9, 0.999),
            eps: 1e-8,
            weight_decay: 0.0,
            amsgrad: false,
            decoupled: false,
            moments: vec![None; n],
            steps: 0,
        }
    }

    /// Sets `(β1, β2)`.
    pub fn betas(mut self, beta1: f64, beta2: f64) -> Adam {
        self.betas = (beta1, beta2);
        self
    }

    /// Sets eps.
    pub fn eps(mut self, eps: f64) -> Adam {
        self.eps = eps;
        self
    }

    /// Sets the weight decay.
    pub fn weight_decay(mut self, weight_decay: f64) -> Adam {
        self.weight_decay = weight_decay;
        self
    }

    /// Turns AMSGrad on or off.
    pub fn amsgrad(mut self, amsgrad: bool) -> Adam {
        self.amsgrad = amsgrad;
        self
    }

    fn kind(&self) -> &'static str {
        if self.decoupled {
            "AdamW"
        } else {
            "Adam"
        }
    }
}

/// `torch.optim.AdamW`: Adam with decoupled weight decay (default 0.01).
pub struct AdamW;

impl AdamW {
    /// `torch.optim.AdamW(params, lr)`: betas (0.9, 0.999), eps 1e-8, weight decay 0.01.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(params: Vec<Tensor>, lr: f64) -> Adam {
        Adam {
            decoupled: true,
            weight_decay: 0.01,
            ..Adam::new(params, lr)
        }
    }
}

impl Optimizer for Adam {
    fn step(&mut self) -> Result<()> {
        no_parameters(&self.params)?;
        if self.steps >= MAX_STEPS {
            return Err(Error::Value(format!(
                "Adam has taken {MAX_STEPS} steps, the most it can"
            )));
        }
        self.steps += 1;
        // Exact in f64 for every step count up to MAX_STEPS; `powi` keeps the
        // results PyTorch's for the step counts of real runs.
        let t = self.steps;
        let pow = |b: f64| {
            if t <= i32::MAX as u64 {
                b.powi(t as i32)
            } else {
                b.powf(t as f64)
            }
        };
        let (b1, b2) = self.betas;
        let bias_correction1 = 1.0 - pow(b1);
        let bias_correction2_sqrt = (1.0 - pow(b2)).sqrt();
        let step_size = self.lr / bias_correction1;
        for (p, slot) in self.params.iter().zip(self.moments.iter_mut()) {
            let Some(g) = p.grad() else { continue };
            let bufs = slot.get_or_insert_with(|| std::array::from_fn(|_| p.zeros_like()));
            let step = AdamStep {
                lr: self.lr,
                betas: self.betas,
                eps: self.eps,
                weight_decay: self.weight_decay,
                decoupled: self.decoupled,
                amsgrad: self.amsgrad,
                bias_correction2_sqrt,
                step_size,
            };
            fused_step(
                p,
                &g,
                [&bufs[0], &bufs[1], &bufs[2]],
                |be, p, range, g, m| be.adam_step(p, range, g, m, &step),
            )?;
        }
        Ok(())
    }

    fn zero_grad(&self) {
        self.params.iter().for_each(Tensor::zero_grad);
    }

    fn lr(&self) -> f64 {
        self.lr
    }

    fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }

    fn params(&self) -> &[Tensor] {
        &self.params
    }

    fn param_group(&self) -> Vec<(&'static str, Value)> {
        let weight_decay = if self.decoupled {
            py_float(self.weight_decay)
        } else {
            py_zero_or_float(self.weight_decay)
        };
        vec![
            ("amsgrad", py_bool(self.amsgrad)),
            (
                "betas",
                Value::Tuple(vec![py_float(self.betas.0), py_float(self.betas.1)]),
            ),
            ("capturable", py_bool(false)),
            ("decoupled_weight_decay", py_bool(self.decoupled)),
            ("differentiable", py_bool(false)),
            ("eps", py_float(self.eps)),
            ("foreach", Value::None),
            ("fused", Value::None),
            ("lr", py_float(self.lr)),
            ("maximize", py_bool(false)),
            ("weight_decay", weight_decay),
        ]
    }

    fn state(&self) -> OptimizerState {
        let mut buffers = Vec::new();
        for (i, m) in self.moments.iter().enumerate() {
            if let Some([m, v, vmax]) = m {
                buffers.push((format!("{i}.exp_avg"), m.clone_tensor()));
                buffers.push((format!("{i}.exp_avg_sq"), v.clone_tensor()));
                if self.amsgrad {
                    buffers.push((format!("{i}.max_exp_avg_sq"), vmax.clone_tensor()));
                }
            }
        }
        OptimizerState {
            kind: self.kind().into(),
            step: self.steps,
            lr: self.lr,
            buffers,
        }
    }

    fn load_state(&mut self, state: &OptimizerState) -> Result<()> {
        let names: &[&str] = if self.amsgrad {
            &["exp_avg", "exp_avg_sq", "max_exp_avg_sq"]
        } else {
            &["exp_avg", "exp_avg_sq"]
        };
        state.check_fits(self.kind(), names, self.params.len())?;
        for (i, (p, slot)) in self.params.iter().zip(self.moments.iter_mut()).enumerate() {
            let get = |name: &str| state.buffer_for(i, name, p);
            *slot = match (get("exp_avg")?, get("exp_avg_sq")?) {
                (Some(m), Some(v)) => {
                    let vmax = get("max_exp_avg_sq")?.unwrap_or_else(|| p.zeros_like());
                    Some([m, v, vmax])
                }
                _ => None,
            };
        }
        self.steps = state.step;
        self.lr = state.lr;
        Ok(())
    }
}

/// Adadelta, pytorch/examples' MNIST default (`lr=1.0` there), with PyTorch's
/// rules:
///
/// ```text
/// g = g + weight_decay·p
/// s = ρ·s + (1 - ρ)·g²
/// δ = √(a + eps) / √(s + eps) · g
/// a = ρ·a + (1 - ρ)·δ²
/// p = p - lr·δ
/// ```
///
/// ```
/// use kindling::optim::{Adadelta, Optimizer};
/// use kindling::Tensor;
/// let w = Tensor::from_vec(vec![1.0f32], [1]).requires_grad_(true);
/// let mut opt = Adadelta::new(vec![w.clone()], 1.0);
/// (&w * &w).sum().backward();
/// opt.step()?;
/// assert!(w.to_vec::<f32>()[0] < 1.0);
/// # Ok::<(), kindling::Error>(())
/// ```
pub struct Adadelta {
    params: Vec<Tensor>,
    /// Learning rate (a scale on the update).
    pub lr: f64,
    /// Decay of the running averages.
    pub rho: f64,
    /// Added inside both square roots.
    pub eps: f64,
    /// L2 penalty added to the gradient.
    pub weight_decay: f64,
    /// `square_avg` and `acc_delta` of each parameter, from its first step.
    buffers: Vec<Option<[Tensor; 2]>>,
    steps: u64,
}

impl Adadelta {
    /// `torch.optim.Adadelta(params, lr)`: rho 0.9, eps 1e-6, no weight decay
    /// (PyTorch's default `lr` is 1.0).
    pub fn new(params: Vec<Tensor>, lr: f64) -> Adadelta {
        let n = params.len();
        Adadelta {
            params: params_checked(params),
            lr,
            rho: 0.9,
            eps: 1e-6,
            weight_decay: 0.0,
            buffers: vec![None; n],
            steps: 0,
        }
    }

    /// Sets rho.
    pub fn rho(mut self, rho: f64) -> Adadelta {
        self.rho = rho;
        self
    }

    /// Sets eps.
    pub fn eps(mut self, eps: f64) -> Adadelta {
        self.eps = eps;
        self
    }

    /// Sets the weight decay.
    pub fn weight_decay(mut self, weight_decay: f64) -> Adadelta {
        self.weight_decay = weight_decay;
        self
    }
}

impl Optimizer for Adadelta {
    fn step(&mut self) -> Result<()> {
        no_parameters(&self.params)?;
        let step = AdadeltaStep {
            lr: self.lr,
            rho: self.rho,
            eps: self.eps,
            weight_decay: self.weight_decay,
        };
        for (p, slot) in self.params.iter().zip(self.buffers.iter_mut()) {
            let Some(g) = p.grad() else { continue };
            let bufs = slot.get_or_insert_with(|| std::array::from_fn(|_| p.zeros_like()));
            fused_step(p, &g, [&bufs[0], &bufs[1]], |be, p, range, g, b| {
                be.adadelta_step(p, range, g, b, &step)
            })?;
        }
        self.steps += 1;
        Ok(())
    }

    fn zero_grad(&self) {
        self.params.iter().for_each(Tensor::zero_grad);
    }

    fn lr(&self) -> f64 {
        self.lr
    }

    fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }

    fn params(&self) -> &[Tensor] {
        &self.params
    }

    fn param_group(&self) -> Vec<(&'static str, Value)> {
        vec![
            ("capturable", py_bool(false)),
            ("differentiable", py_bool(false)),
            ("eps", py_float(self.eps)),
            ("foreach", Value::None),
            ("lr", py_float(self.lr)),
            ("maximize", py_bool(false)),
            ("rho", py_float(self.rho)),
            ("weight_decay", py_zero_or_float(self.weight_decay)),
        ]
    }

    fn state(&self) -> OptimizerState {
        let mut buffers = Vec::new();
        for (i, b) in self.buffers.iter().enumerate() {
            if let Some([square_avg, acc_delta]) = b {
                buffers.push((format!("{i}.square_avg"), square_avg.clone_tensor()));
                buffers.push((format!("{i}.acc_delta"), acc_delta.clone_tensor()));
            }
        }
        OptimizerState {
            kind: "Adadelta".into(),
            step: self.steps,
            lr: self.lr,
            buffers,
        }
    }

    fn load_state(&mut self, state: &OptimizerState) -> Result<()> {
        state.check_fits("Adadelta", &["square_avg", "acc_delta"], self.params.len())?;
        for (i, (p, slot)) in self.params.iter().zip(self.buffers.iter_mut()).enumerate() {
            let get = |name: &str| state.buffer_for(i, name, p);
            *slot = match (get("square_avg")?, get("acc_delta")?) {
                (Some(s), Some(a)) => Some([s, a]),
                _ => None,
            };
        }
        self.steps = state.step;
        self.lr = state.lr;
        Ok(())
    }
}

/// RMSprop, with PyTorch's rules (`_single_tensor_rmsprop`):
///
/// ```text
/// g = g + weight_decay·p
/// s = α·s + (1 - α)·g²
/// avg = √(s - m²) + eps, m = lerp(m, g, 1 - α)   (centered)   else √s + eps
/// b = μ·b + g/avg, p = p - lr·b                  (momentum)   else p = p - lr·g/avg
/// ```
///
/// ```
/// use kindling::optim::{Optimizer, RMSprop};
/// use kindling::Tensor;
/// let w = Tensor::from_vec(vec![1.0f32], [1]).requires_grad_(true);
/// let mut opt = RMSprop::new(vec![w.clone()], 0.01);
/// (&w * &w).sum().backward();
/// opt.step()?;
/// assert!(w.to_vec::<f32>()[0] < 1.0);
/// # Ok::<(), kindling::Error>(())
/// ```
pub struct RMSprop {
    params: Vec<Tensor>,
    /// Learning rate.
    pub lr: f64,
    /// Decay of the running average of squares.
    pub alpha: f64,
    /// Added to the root.
    pub eps: f64,
    /// L2 penalty added to the gradient.
    pub weight_decay: f64,
    /// Momentum factor (0 = none).
    pub momentum: f64,
    /// Normalise by the variance estimate instead of the second moment.
    pub centered: bool,
    /// `square_avg`, `momentum_buffer`, `grad_avg` of each parameter.
    buffers: Vec<Option<[Tensor; 3]>>,
    steps: u64,
}

impl RMSprop {
    /// `torch.optim.RMSprop(params, lr)`: alpha 0.99, eps 1e-8, no weight
    /// decay, no momentum, not centered (PyTorch's default `lr` is 0.01).
    pub fn new(params: Vec<Tensor>, lr: f64) -> RMSprop {
        let n = params.len();
        RMSprop {
            params: params_checked(params),
            lr,
            alpha: 0.99,
            eps: 1e-8,
            weight_decay: 0.0,
            momentum: 0.0,
            centered: false,
            buffers: vec![None; n],
            steps: 0,
        }
    }

    /// Sets alpha.
    pub fn alpha(mut self, alpha: f64) -> RMSprop {
        self.alpha = alpha;
        self
    }

    /// Sets eps.
    pub fn eps(mut self, eps: f64) -> RMSprop {
        self.eps = eps;
        self
    }

    /// Sets the weight decay.
    pub fn weight_decay(mut self, weight_decay: f64) -> RMSprop {
        self.weight_decay = weight_decay;
        self
    }

    /// Sets the momentum factor.
    pub fn momentum(mut self, momentum: f64) -> RMSprop {
        self.momentum = momentum;
        self
    }

    /// Turns the centered variant on or off.
    pub fn centered(mut self, centered: bool) -> RMSprop {
        self.centered = centered;
        self
    }
}

impl Optimizer for RMSprop {
    fn step(&mut self) -> Result<()> {
        no_parameters(&self.params)?;
        let step = RmspropStep {
            lr: self.lr,
            alpha: self.alpha,
            eps: self.eps,
            weight_decay: self.weight_decay,
            momentum: self.momentum,
            centered: self.centered,
        };
        for (p, slot) in self.params.iter().zip(self.buffers.iter_mut()) {
            let Some(g) = p.grad() else { continue };
            let bufs = slot.get_or_insert_with(|| std::array::from_fn(|_| p.zeros_like()));
            fused_step(
                p,
                &g,
                [&bufs[0], &bufs[1], &bufs[2]],
                |be, p, range, g, b| be.rmsprop_step(p, range, g, b, &step),
            )?;
        }
        self.steps += 1;
        Ok(())
    }

    fn zero_grad(&self) {
        self.params.iter().for_each(Tensor::zero_grad);
    }

    fn lr(&self) -> f64 {
        self.lr
    }

    fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }

    fn params(&self) -> &[Tensor] {
        &self.params
    }

    fn param_group(&self) -> Vec<(&'static str, Value)> {
        vec![
            ("alpha", py_float(self.alpha)),
            ("capturable", py_bool(false)),
            ("centered", py_bool(self.centered)),
            ("differentiable", py_bool(false)),
            ("eps", py_float(self.eps)),
            ("foreach", Value::None),
            ("lr", py_float(self.lr)),
            ("maximize", py_bool(false)),
            ("momentum", py_zero_or_float(self.momentum)),
            ("weight_decay", py_zero_or_float(self.weight_decay)),
        ]
    }

    fn state(&self) -> OptimizerState {
        let mut buffers = Vec::new();
        for (i, b) in self.buffers.iter().enumerate() {
            if let Some([square_avg, momentum, grad_avg]) = b {
                buffers.push((format!("{i}.square_avg"), square_avg.clone_tensor()));
                if self.momentum > 0.0 {
                    buffers.push((format!("{i}.momentum_buffer"), momentum.clone_tensor()));
                }
                if self.centered {
                    buffers.push((format!("{i}.grad_avg"), grad_avg.clone_tensor()));
                }
            }
        }
        OptimizerState {
            kind: "RMSprop".into(),
            step: self.steps,
            lr: self.lr,
            buffers,
        }
    }

    fn load_state(&mut self, state: &OptimizerState) -> Result<()> {
        let mut names = vec!["square_avg"];
        if self.momentum > 0.0 {
            names.push("momentum_buffer");
        }
        if self.centered {
            names.push("grad_avg");
        }
        state.check_fits("RMSprop", &names, self.params.len())?;
        for (i, (p, slot)) in self.params.iter().zip(self.buffers.iter_mut()).enumerate() {
            let get = |name: &str| state.buffer_for(i, name, p);
            *slot = match get("square_avg")? {
                Some(s) => {
                    let b = get("momentum_buffer")?.unwrap_or_else(|| p.zeros_like());
                    let m = get("grad_avg")?.unwrap_or_else(|| p.zeros_like());
                    Some([s, b, m])
                }
                None => None,
            };
        }
        self.steps = state.step;
        self.lr = state.lr;
        Ok(())
    }
}

/// Adagrad with PyTorch's rules (`torch.optim.Adagrad`, its single-tensor CPU
/// path): `sum += g²`, `p -= clr · g / (√sum + eps)` with `clr = lr / (1 +
/// (step - 1) · lr_decay)`, `g` including `weight_decay · p`.
///
/// The update is written with tensor ops (three passes over each
/// parameter), not as a fused backend step like the others: Adagrad is not
/// on any of kindling's speed paths.
///
/// ```
/// use kindling::optim::{Adagrad, Optimizer};
/// use kindling::Tensor;
/// let w = Tensor::from_vec(vec![1.0f32], [1]).requires_grad_(true);
/// let mut opt = Adagrad::new(vec![w.clone()], 0.1);
/// (&w * &w).sum().backward();
/// opt.step()?;
/// // The first step moves each weight by lr · g / |g|.
/// assert!((w.to_vec::<f32>()[0] - 0.9).abs() < 1e-6);
/// # Ok::<(), kindling::Error>(())
/// ```
pub struct Adagrad {
    params: Vec<Tensor>,
    /// Learning rate.
    pub lr: f64,
    /// Decay of the learning rate with the step count.
    pub lr_decay: f64,
    /// L2 penalty added to the gradient.
    pub weight_decay: f64,
    /// The sums' starting value.
    pub initial_accumulator_value: f64,
    /// Added to the root.
    pub eps: f64,
    /// `sum` of each parameter.
    sums: Vec<Option<Tensor>>,
    steps: u64,
}

impl Adagrad {
    /// `torch.optim.Adagrad(params, lr)`: no decay of the rate or weights,
    /// sums starting at 0, eps 1e-10 (PyTorch's default `lr` is 0.01).
    pub fn new(params: Vec<Tensor>, lr: f64) -> Adagrad {
        let n = params.len();
        Adagrad {
            params: params_checked(params),
            lr,
            lr_decay: 0.0,
            weight_decay: 0.0,
            initial_accumulator_value: 0.0,
            eps: 1e-10,
            sums: vec![None; n],
            steps: 0,
        }
    }

    /// Sets the decay of the learning rate.
    pub fn lr_decay(mut self, lr_decay: f64) -> Adagrad {
        self.lr_decay = lr_decay;
        self
    }

    /// Sets the weight decay.
    pub fn weight_decay(mut self, weight_decay: f64) -> Adagrad {
        self.weight_decay = weight_decay;
        self
    }

    /// Sets the sums' starting value.
    pub fn initial_accumulator_value(mut self, value: f64) -> Adagrad {
        self.initial_accumulator_value = value;
        self
    }

    /// Sets eps.
    pub fn eps(mut self, eps: f64) -> Adagrad {
        self.eps = eps;
        self
    }
}

impl Optimizer for Adagrad {
    fn step(&mut self) -> Result<()> {
        no_parameters(&self.params)?;
        let clr = self.lr / (1.0 + self.steps as f64 * self.lr_decay);
        crate::no_grad(|| -> Result<()> {
            for (p, slot) in self.params.iter().zip(self.sums.iter_mut()) {
                let Some(mut g) = p.grad() else { continue };
                let init = self.initial_accumulator_value;
                let sum = slot.get_or_insert_with(|| p.zeros_like().add_scalar(init));
                if self.weight_decay != 0.0 {
                    g = &g + &p.mul_scalar(self.weight_decay);
                }
                sum.try_add_alpha_(&(&g * &g), 1.0)?;
                let std = sum.sqrt().add_scalar(self.eps);
                p.try_add_alpha_(&(&g / &std), -clr)?;
            }
            Ok(())
        })?;
        self.steps += 1;
        Ok(())
    }

    fn zero_grad(&self) {
        self.params.iter().for_each(Tensor::zero_grad);
    }

    fn lr(&self) -> f64 {
        self.lr
    }

    fn set_lr(&mut self, lr: f64) {
        self.lr = lr;
    }

    fn params(&self) -> &[Tensor] {
        &self.params
    }

    fn param_group(&self) -> Vec<(&'static str, Value)> {
        vec![
            ("differentiable", py_bool(false)),
            ("eps", py_float(self.eps)),
            ("foreach", Value::None),
            ("fused", Value::None),
            (
                "initial_accumulator_value",
                py_zero_or_float(self.initial_accumulator_value),
            ),
            ("lr", py_float(self.lr)),
            ("lr_decay", py_zero_or_float(self.lr_decay)),
            ("maximize", py_bool(false)),
            ("weight_decay", py_zero_or_float(self.weight_decay)),
        ]
    }

    fn state(&self) -> OptimizerState {
        let buffers = self
            .sums
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.as_ref().map(|s| (format!("{i}.sum"), s.clone_tensor())))
            .collect();
        OptimizerState {
            kind: "Adagrad".into(),
            step: self.steps,
            lr: self.lr,
            buffers,
        }
    }

    fn load_state(&mut self, state: &OptimizerState) -> Result<()> {
        state.check_fits("Adagrad", &["sum"], self.params.len())?;
        for (i, (p, slot)) in self.params.iter().zip(self.sums.iter_mut()).enumerate() {
            *slot = state.buffer_for(i, "sum", p)?;
        }
        self.steps = state.step;
        self.lr = state.lr;
        Ok(())
    }
}

/// PyTorch's repr of an optimizer with one parameter group: its name, then
/// each hyper-parameter as `key: value` in PyTorch's (alphabetical) order.
fn param_group_repr(
    f: &mut fmt::Formatter<'_>,
    name: &str,
    entries: &[(&'static str, Value)],
) -> fmt::Result {
    writeln!(f, "{name} (\nParameter Group 0")?;
    for (key, value) in entries {
        writeln!(f, "    {key}: {value}")?;
    }
    f.write_str(")")
}

/// A float hyper-parameter.
fn py_float(x: f64) -> Value {
    Value::Float(x)
}

/// A hyper-parameter whose PyTorch default is the integer 0: `0` when unset,
/// else the float.
fn py_zero_or_float(x: f64) -> Value {
    if x == 0.0 {
        Value::Int(0)
    } else {
        Value::Float(x)
    }
}

fn py_bool(b: bool) -> Value {
    Value::Bool(b)
}

/// PyTorch's `print(optimizer)` (the keys PyTorch 2.x lists; those kindling
/// has no switch for, such as `foreach` or `maximize`, at PyTorch's defaults).
impl fmt::Display for SGD {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        param_group_repr(f, "SGD", &self.param_group())
    }
}

/// PyTorch's `print(optimizer)` for Adam and AdamW.
impl fmt::Display for Adam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        param_group_repr(f, self.kind(), &self.param_group())
    }
}

/// PyTorch's `print(optimizer)`.
impl fmt::Display for Adadelta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        param_group_repr(f, "Adadelta", &self.param_group())
    }
}

/// PyTorch's `print(optimizer)`.
impl fmt::Display for RMSprop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        param_group_repr(f, "RMSprop", &self.param_group())
    }
}

/// PyTorch's `print(optimizer)`.
impl fmt::Display for Adagrad {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        param_group_repr(f, "Adagrad", &self.param_group())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn golden(name: &str) -> String {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/golden/reprs.json"
        ))
        .unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v["optimizers"][name].as_str().unwrap().to_string()
    }

    #[test]
    fn optimizers_print_as_pytorchs_do() {
        let p = || vec![Tensor::zeros([2, 3]).requires_grad_(true)];
        let cases: Vec<(&str, String)> = vec![
            ("sgd", SGD::new(p(), 0.1).to_string()),
            (
                "sgd_momentum",
                SGD::new(p(), 0.05)
                    .momentum(0.9)
                    .nesterov(true)
                    .weight_decay(5e-4)
                    .to_string(),
            ),
            (
                "sgd_dampening",
                SGD::new(p(), 1e-3).momentum(0.5).dampening(0.1).to_string(),
            ),
            ("adam", Adam::new(p(), 1e-3).to_string()),
            (
                "adam_options",
                Adam::new(p(), 3e-4)
                    .betas(0.8, 0.99)
                    .eps(1e-6)
                    .weight_decay(1e-4)
                    .amsgrad(true)
                    .to_string(),
            ),
            ("adamw", AdamW::new(p(), 1e-3).to_string()),
            ("adadelta", Adadelta::new(p(), 1.0).to_string()),
            ("rmsprop", RMSprop::new(p(), 0.01).to_string()),
            (
                "rmsprop_options",
                RMSprop::new(p(), 0.001)
                    .alpha(0.9)
                    .eps(1e-3)
                    .momentum(0.9)
                    .centered(true)
                    .to_string(),
            ),
            ("adagrad", Adagrad::new(p(), 0.01).to_string()),
            (
                "adagrad_options",
                Adagrad::new(p(), 0.1)
                    .lr_decay(1e-4)
                    .weight_decay(0.5)
                    .initial_accumulator_value(0.1)
                    .to_string(),
            ),
        ];
        for (name, got) in cases {
            assert_eq!(got, golden(name), "{name}");
        }
    }
}
