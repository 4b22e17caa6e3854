//! Parameter initialisation, in place and from the global generator, with
//! PyTorch's formulas (`torch.nn.init`).

use std::cell::Cell;

use crate::tensor::random::with_global;
use crate::tensor::Tensor;

/// Fills `t` with `f`'s values, drawn in element order from the global
/// generator (held for the whole fill, so no other draw lands in between).
///
/// NOTE(init-chunks): a contiguous tensor is filled a chunk at a time, so a
/// large weight (VGG16's first classifier layer has 103 M elements) needs no
/// float64 copy of itself: building VGG16 took 9 s and peaked at 2.5 GB with
/// one. The values are the same either way: the same draws in the same order,
/// each converted as `copy_` converts.
fn fill_with(t: &Tensor, f: impl FnMut(&mut crate::Generator) -> f64) {
    if !SKIP_RANDOM.with(Cell::get) {
        with_global(|g| fill_from(t, g, f));
    }
}

fn fill_from(
    t: &Tensor,
    g: &mut crate::Generator,
    mut f: impl FnMut(&mut crate::Generator) -> f64,
) {
    const CHUNK: usize = 1 << 16;
    let n = t.numel();
    let contiguous = t.is_contiguous();
    crate::no_grad(|| {
        let flat = if contiguous {
            t.view([n])
        } else {
            t.contiguous().view([n])
        };
        for start in (0..n).step_by(CHUNK) {
            let len = CHUNK.min(n - start);
            let values: Vec<f64> = (0..len).map(|_| f(g)).collect();
            flat.narrow(0, start, len)
                .copy_(&Tensor::from_vec(values, [len]).to(t.device()));
        }
        if !contiguous {
            t.copy_(&flat.view(t.shape()));
        }
    });
}

thread_local! {
    static SKIP_RANDOM: Cell<bool> = const { Cell::new(false) };
}

/// Runs `build` with the random fills skipped (parameters keep the values
/// their constructors gave them, zeros for weights), for a module whose every
/// parameter is overwritten next: [`super::load_model`] builds its model this
/// way, as `torch.load` of a whole model runs no `__init__`. Drawing VGG16's
/// 138 M initial values took longer than reading them from a file.
pub(crate) fn without_random_init<R>(build: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            SKIP_RANDOM.with(|s| s.set(self.0));
        }
    }
    let _restore = Restore(SKIP_RANDOM.with(|s| s.replace(true)));
    build()
}

/// `(fan_in, fan_out)`: for a `[out, in, k...]` weight, `in·k…` and `out·k…`.
pub fn fans(t: &Tensor) -> (usize, usize) {
    let s = t.shape();
    let receptive: usize = s.iter().skip(2).product();
    match s.len() {
        0 => (1, 1),
        1 => (s[0], s[0]),
        _ => (s[1] * receptive, s[0] * receptive),
    }
}

/// Uniform in `[low, high)`.
pub fn uniform_(t: &Tensor, low: f64, high: f64) {
    fill_with(t, |g| low + (high - low) * g.uniform_f64());
}

/// Normal with the given mean and standard deviation.
pub fn normal_(t: &Tensor, mean: f64, std: f64) {
    fill_with(t, |g| mean + std * g.normal());
}

/// Every element set to `value`.
pub fn constant_(t: &Tensor, value: f64) {
    crate::no_grad(|| t.fill_(value));
}

/// Every element set to 0.
pub fn zeros_(t: &Tensor) {
    constant_(t, 0.0);
}

/// Every element set to 1.
pub fn ones_(t: &Tensor) {
    constant_(t, 1.0);
}

/// The gain of leaky ReLU with negative slope `a`: `√(2 / (1 + a²))`.
fn leaky_relu_gain(a: f64) -> f64 {
    (2.0 / (1.0 + a * a)).sqrt()
}

/// He initialisation, uniform: `U(±gain·√(3/fan_in))` with the leaky-ReLU gain for
/// slope `a` (`a = 0` for ReLU; `Linear` uses `a = √5`, giving `U(±1/√fan_in)`).
pub fn kaiming_uniform_(t: &Tensor, a: f64) {
    let (fan_in, _) = fans(t);
    let bound = if fan_in == 0 {
        0.0
    } else {
        leaky_relu_gain(a) * (3.0 / fan_in as f64).sqrt()
    };
    uniform_(t, -bound, bound);
}

/// He initialisation, normal: `N(0, gain/√fan_in)`.
pub fn kaiming_normal_(t: &Tensor, a: f64) {
    let (fan_in, _) = fans(t);
    let std = if fan_in == 0 {
        0.0
    } else {
        leaky_relu_gain(a) / (fan_in as f64).sqrt()
    };
    normal_(t, 0.0, std);
}

/// Glorot initialisation, uniform: `U(±gain·√(6/(fan_in + fan_out)))`.
pub fn xavier_uniform_(t: &Tensor, gain: f64) {
    let (fan_in, fan_out) = fans(t);
    let bound = gain * (6.0 / (fan_in + fan_out).max(1) as f64).sqrt();
    uniform_(t, -bound, bound);
}

/// Glorot initialisation, normal: `N(0, gain·√(2/(fan_in + fan_out)))`.
pub fn xavier_normal_(t: &Tensor, gain: f64) {
    let (fan_in, fan_out) = fans(t);
    normal_(
        t,
        0.0,
        gain * (2.0 / (fan_in + fan_out).max(1) as f64).sqrt(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The values `uniform_(-1, 1)` should give from `seed`: the generator's
    /// draws in element order, each rounded to float32.
    fn drawn(seed: u64, n: usize) -> Vec<f32> {
        let mut g = crate::Generator::new(seed);
        (0..n)
            .map(|_| (-1.0 + 2.0 * g.uniform_f64()) as f32)
            .collect()
    }

    fn fill_uniform(t: &Tensor, seed: u64) {
        fill_from(t, &mut crate::Generator::new(seed), |g| {
            -1.0 + 2.0 * g.uniform_f64()
        });
    }

    #[test]
    fn large_and_strided_tensors_get_the_draws_in_element_order() {
        // Over several chunks, and through views that are not contiguous.
        let n = 3 * 50_000;
        let w = Tensor::zeros([3, 50_001]).narrow(1, 0, 50_000);
        fill_uniform(&w, 7);
        assert_eq!(w.flatten(0, -1).to_vec::<f32>(), drawn(7, n));
        let t = Tensor::zeros([400, 300]).t();
        assert!(!t.is_contiguous());
        fill_uniform(&t, 7);
        assert_eq!(
            t.contiguous().flatten(0, -1).to_vec::<f32>(),
            drawn(7, 120_000)
        );
    }

    #[test]
    fn without_random_init_skips_the_random_fills_only_inside() {
        let w = Tensor::zeros([70_000]);
        without_random_init(|| kaiming_uniform_(&w, 0.0));
        assert_eq!(w.abs().sum().item().to_f64(), 0.0);
        kaiming_uniform_(&w, 0.0);
        assert!(w.abs().sum().item().to_f64() > 0.0);
    }

    #[test]
    fn bounds_and_moments() {
        crate::manual_seed(0);
        let w = Tensor::zeros([200, 300]);
        kaiming_uniform_(&w, 5f64.sqrt());
        let v = w.to_vec::<f64>();
        let bound = 1.0 / 300f64.sqrt();
        assert!(v.iter().all(|x| x.abs() <= bound) && v.iter().any(|x| x.abs() > 0.9 * bound));
        xavier_normal_(&w, 1.0);
        let std = w.std().item().to_f64();
        assert!((std - (2.0 / 500f64).sqrt()).abs() < 0.002, "{std}");
        ones_(&w);
        assert_eq!(w.sum().item().to_f64(), 60000.0);
    }
}
