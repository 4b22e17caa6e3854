//! Parameter initialisation, in place and from the global generator, with
//! PyTorch's formulas (`torch.nn.init`).

use crate::tensor::random::with_global;
use crate::tensor::Tensor;

fn fill_with(t: &Tensor, mut f: impl FnMut(&mut crate::Generator) -> f64) {
    let values: Vec<f64> = with_global(|g| (0..t.numel()).map(|_| f(g)).collect());
    let src = Tensor::from_vec(values, t.shape()).to(t.device());
    crate::no_grad(|| t.copy_(&src));
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
