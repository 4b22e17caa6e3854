//! Learning-rate schedulers, with PyTorch's closed forms. Call `step()` once per
//! epoch (`StepLR`, `CosineAnnealingLR`) or once per batch (`OneCycleLR`), after
//! the optimizer's step.

use super::Optimizer;
use crate::error::{Error, Result};

/// Something that sets an optimizer's learning rate as training progresses.
pub trait LrScheduler {
    /// Advances one step and sets the optimizer's learning rate.
    fn step(&mut self, opt: &mut dyn Optimizer) -> Result<()>;
    /// The learning rate set by the last step.
    fn last_lr(&self) -> f64;
}

/// `lr = base_lr · gamma^⌊epoch / step_size⌋`.
pub struct StepLR {
    base_lr: f64,
    step_size: usize,
    gamma: f64,
    epoch: usize,
}

impl StepLR {
    /// Decays by `gamma` every `step_size` epochs, starting from the optimizer's lr.
    pub fn new(opt: &dyn Optimizer, step_size: usize, gamma: f64) -> StepLR {
        StepLR {
            base_lr: opt.lr(),
            step_size: step_size.max(1),
            gamma,
            epoch: 0,
        }
    }
}

impl LrScheduler for StepLR {
    fn step(&mut self, opt: &mut dyn Optimizer) -> Result<()> {
        self.epoch += 1;
        opt.set_lr(self.last_lr());
        Ok(())
    }
    fn last_lr(&self) -> f64 {
        self.base_lr * self.gamma.powi((self.epoch / self.step_size) as i32)
    }
}

/// `lr = eta_min + (base_lr - eta_min)·(1 + cos(π·epoch/T_max))/2`.
pub struct CosineAnnealingLR {
    base_lr: f64,
    t_max: usize,
    eta_min: f64,
    epoch: usize,
}

impl CosineAnnealingLR {
    /// Anneals from the optimizer's lr to `eta_min` over `t_max` epochs.
    pub fn new(opt: &dyn Optimizer, t_max: usize, eta_min: f64) -> CosineAnnealingLR {
        CosineAnnealingLR {
            base_lr: opt.lr(),
            t_max: t_max.max(1),
            eta_min,
            epoch: 0,
        }
    }
}

impl LrScheduler for CosineAnnealingLR {
    fn step(&mut self, opt: &mut dyn Optimizer) -> Result<()> {
        self.epoch += 1;
        opt.set_lr(self.last_lr());
        Ok(())
    }
    fn last_lr(&self) -> f64 {
        let t = std::f64::consts::PI * self.epoch as f64 / self.t_max as f64;
        self.eta_min + (self.base_lr - self.eta_min) * (1.0 + t.cos()) / 2.0
    }
}

/// The 1cycle policy (two phases, cosine annealing), as PyTorch's `OneCycleLR`
/// with `cycle_momentum=False`: from `max_lr/div_factor` up to `max_lr` over
/// `pct_start` of the steps, then down to `initial/final_div_factor`.
pub struct OneCycleLR {
    initial_lr: f64,
    max_lr: f64,
    min_lr: f64,
    warmup_end: f64,
    total_steps: usize,
    step_num: usize,
}

impl OneCycleLR {
    /// PyTorch's defaults: `pct_start = 0.3`, `div_factor = 25`,
    /// `final_div_factor = 1e4`. Sets the optimizer's lr to the initial lr.
    pub fn new(opt: &mut dyn Optimizer, max_lr: f64, total_steps: usize) -> OneCycleLR {
        OneCycleLR::with(opt, max_lr, total_steps, 0.3, 25.0, 1e4)
    }

    /// Every parameter of the policy.
    pub fn with(
        opt: &mut dyn Optimizer,
        max_lr: f64,
        total_steps: usize,
        pct_start: f64,
        div_factor: f64,
        final_div_factor: f64,
    ) -> OneCycleLR {
        let initial_lr = max_lr / div_factor;
        opt.set_lr(initial_lr);
        OneCycleLR {
            initial_lr,
            max_lr,
            min_lr: initial_lr / final_div_factor,
            warmup_end: pct_start * total_steps as f64 - 1.0,
            total_steps,
            step_num: 0,
        }
    }

    /// The learning rate at step `step` (0-based): what [`LrScheduler::step`]
    /// sets after `step` steps, for a loop that sets the rate itself.
    pub fn lr_at(&self, step: usize) -> f64 {
        let anneal = |start: f64, end: f64, pct: f64| {
            end + (start - end) / 2.0 * ((std::f64::consts::PI * pct).cos() + 1.0)
        };
        let s = step as f64;
        if s <= self.warmup_end {
            anneal(self.initial_lr, self.max_lr, s / self.warmup_end)
        } else {
            let end = self.total_steps as f64 - 1.0;
            anneal(
                self.max_lr,
                self.min_lr,
                (s - self.warmup_end) / (end - self.warmup_end),
            )
        }
    }
}

impl LrScheduler for OneCycleLR {
    fn step(&mut self, opt: &mut dyn Optimizer) -> Result<()> {
        // As PyTorch, which counts its constructor's step: `total_steps`
        // steps after construction are allowed (one per batch of a
        // `epochs * len(loader)` run), the one after that is refused.
        if self.step_num + 1 > self.total_steps {
            return Err(Error::Value(format!(
                "Tried to step {} times. The specified number of total steps is {}",
                self.step_num + 1,
                self.total_steps
            )));
        }
        self.step_num += 1;
        opt.set_lr(self.last_lr());
        Ok(())
    }
    fn last_lr(&self) -> f64 {
        self.lr_at(self.step_num)
    }
}
