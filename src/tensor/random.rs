//! Seedable random numbers: an explicit [`Generator`] and a global one set by
//! [`manual_seed`].
//!
//! NOTE(rng): the generator is xoshiro256++ seeded through SplitMix64, written here
//! rather than taken from a crate because reproducibility is part of the product: a
//! seed must give the same numbers in every kindling version and on every machine,
//! so the stream may never change under a dependency update. The streams are not
//! PyTorch's (mt19937 plus its own transforms), so `manual_seed(0)` gives other
//! numbers than `torch.manual_seed(0)`; tests that compare with PyTorch load fixed
//! weights instead.

use std::sync::Mutex;

use super::{shape_of, ShapeArg, Tensor};
use crate::error::or_panic;

/// A seedable pseudo-random generator (xoshiro256++).
#[derive(Clone, Debug)]
pub struct Generator {
    s: [u64; 4],
}

impl Generator {
    /// A generator whose stream is determined by `seed`.
    pub fn new(seed: u64) -> Generator {
        let mut sm = seed;
        let mut next = || {
            sm = sm.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = sm;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Generator {
            s: [next(), next(), next(), next()],
        }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in `[0, 1)` with 24 random bits, the resolution of float32.
    pub fn uniform_f32(&mut self) -> f32 {
        ((self.next_u64() >> 40) as i64) as f32 * (1.0 / (1u64 << 24) as f32)
    }

    /// Uniform in `[0, 1)` with 53 random bits.
    pub fn uniform_f64(&mut self) -> f64 {
        // Through i64, which converts in one instruction (u64 does not on x86
        // before AVX-512); exact either way, as 53 bits fit.
        ((self.next_u64() >> 11) as i64) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform_f64(); // in (0, 1]: ln is finite
        let u2 = self.uniform_f64();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }

    /// Uniform integer in `[0, n)` without modulo bias (Lemire's method).
    ///
    /// # Panics
    /// When `n` is zero.
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "random_ from an empty range");
        loop {
            let m = (self.next_u64() as u128) * (n as u128);
            let low = m as u64;
            if low >= n.wrapping_neg() % n {
                return (m >> 64) as u64;
            }
        }
    }

    /// A uniformly random permutation of `0..n` (Fisher–Yates).
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut p: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            let j = self.below(i as u64 + 1) as usize;
            p.swap(i, j);
        }
        p
    }
}

static GLOBAL: Mutex<Option<Generator>> = Mutex::new(None);

/// Seeds the global generator used by [`Tensor::rand`], [`Tensor::randn`],
/// [`Tensor::randint`] and layer initialisation, like `torch.manual_seed`.
pub fn manual_seed(seed: u64) {
    *GLOBAL.lock().unwrap_or_else(|e| e.into_inner()) = Some(Generator::new(seed));
}

/// The global generator's state as 32 bytes (`torch.get_rng_state()`), for
/// [`set_rng_state`]: how a checkpoint resumes dropout masks exactly.
pub fn get_rng_state() -> Tensor {
    let bytes: Vec<u8> = with_global(|g| g.s.iter().flat_map(|w| w.to_le_bytes()).collect());
    Tensor::from_vec(bytes, [32])
}

/// Restores a state from [`get_rng_state`] (`torch.set_rng_state`).
///
/// # Errors
/// When `state` is not 32 uint8 values, or is all zeros (which xoshiro256++
/// cannot leave).
pub fn set_rng_state(state: &Tensor) -> crate::Result<()> {
    if state.dtype() != crate::DType::U8 || state.shape() != [32] {
        return Err(crate::Error::Value(format!(
            "RNG state must be a uint8 tensor of 32 values, got {} of shape {:?}",
            state.dtype(),
            state.shape()
        )));
    }
    let bytes = state.to_vec::<u8>();
    let mut s = [0u64; 4];
    for (w, chunk) in s.iter_mut().zip(bytes.chunks_exact(8)) {
        *w = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
    }
    if s == [0; 4] {
        return Err(crate::Error::Value(
            "RNG state of all zeros is not valid".into(),
        ));
    }
    *GLOBAL.lock().unwrap_or_else(|e| e.into_inner()) = Some(Generator { s });
    Ok(())
}

/// Runs `f` with the global generator (seeded with 0 until `manual_seed` is called).
pub fn with_global<R>(f: impl FnOnce(&mut Generator) -> R) -> R {
    let mut g = GLOBAL.lock().unwrap_or_else(|e| e.into_inner());
    f(g.get_or_insert_with(|| Generator::new(0)))
}

impl Tensor {
    /// Float32 uniform in `[0, 1)` from the global generator.
    #[track_caller]
    pub fn rand(shape: impl ShapeArg) -> Tensor {
        with_global(|g| Tensor::rand_with(shape, g))
    }

    /// Float32 uniform in `[0, 1)` from `gen`.
    #[track_caller]
    pub fn rand_with(shape: impl ShapeArg, gen: &mut Generator) -> Tensor {
        let shape = or_panic!(shape_of(shape));
        let v = (0..shape.iter().product())
            .map(|_| gen.uniform_f32())
            .collect::<Vec<_>>();
        Tensor::from_vec(v, &shape[..])
    }

    /// Float32 standard normal from the global generator.
    #[track_caller]
    pub fn randn(shape: impl ShapeArg) -> Tensor {
        with_global(|g| Tensor::randn_with(shape, g))
    }

    /// Float32 standard normal from `gen`.
    #[track_caller]
    pub fn randn_with(shape: impl ShapeArg, gen: &mut Generator) -> Tensor {
        let shape = or_panic!(shape_of(shape));
        let v = (0..shape.iter().product())
            .map(|_| gen.normal() as f32)
            .collect::<Vec<_>>();
        Tensor::from_vec(v, &shape[..])
    }

    /// Uniform in `[0, 1)` in this tensor's shape, float dtype and device
    /// (`torch.rand_like`), from the global generator.
    ///
    /// # Panics
    /// On an integer or bool tensor, with PyTorch's words.
    #[track_caller]
    pub fn rand_like(&self) -> Tensor {
        or_panic!(self.random_like("check_uniform_bounds", |s| Tensor::rand(s)))
    }

    /// Standard normal in this tensor's shape, float dtype and device
    /// (`torch.randn_like`), from the global generator.
    ///
    /// ```
    /// use kindling::Tensor;
    /// let noise = Tensor::zeros([2, 3]).to_dtype(kindling::DType::F64).randn_like();
    /// assert_eq!((noise.shape(), noise.dtype()), (&[2usize, 3][..], kindling::DType::F64));
    /// ```
    ///
    /// # Panics
    /// On an integer or bool tensor, with PyTorch's words.
    #[track_caller]
    pub fn randn_like(&self) -> Tensor {
        or_panic!(self.random_like("normal_kernel_cpu", |s| Tensor::randn(s)))
    }

    fn random_like(&self, kernel: &str, draw: fn(&[usize]) -> Tensor) -> crate::Result<Tensor> {
        if !self.dtype().is_floating_point() {
            return Err(crate::Error::Value(format!(
                "\"{kernel}\" not implemented for '{}'",
                self.dtype().scalar_type_name()
            )));
        }
        Ok(draw(self.shape()).to_dtype(self.dtype()).to(self.device()))
    }

    /// Int64 uniform in `[low, high)` from the global generator.
    #[track_caller]
    pub fn randint(low: i64, high: i64, shape: impl ShapeArg) -> Tensor {
        with_global(|g| Tensor::randint_with(low, high, shape, g))
    }

    /// Int64 uniform in `[low, high)` from `gen`.
    ///
    /// # Panics
    /// When `low >= high`.
    #[track_caller]
    pub fn randint_with(low: i64, high: i64, shape: impl ShapeArg, gen: &mut Generator) -> Tensor {
        assert!(
            low < high,
            "random_ expects 'from' to be less than 'to', but got from={low} >= to={high}"
        );
        let shape = or_panic!(shape_of(shape));
        let span = (high - low) as u64;
        let v = (0..shape.iter().product())
            .map(|_| low + gen.below(span) as i64)
            .collect::<Vec<_>>();
        Tensor::from_vec(v, &shape[..])
    }

    /// A random permutation of `0..n` as int64, from the global generator.
    pub fn randperm(n: usize) -> Tensor {
        let p = with_global(|g| g.permutation(n));
        Tensor::from_vec(p.into_iter().map(|i| i as i64).collect::<Vec<_>>(), [n])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream() {
        let a = Tensor::randn_with([100], &mut Generator::new(7)).to_vec::<f32>();
        let b = Tensor::randn_with([100], &mut Generator::new(7)).to_vec::<f32>();
        let c = Tensor::randn_with([100], &mut Generator::new(8)).to_vec::<f32>();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn distributions_have_the_right_moments() {
        let mut g = Generator::new(1);
        let n = 200_000;
        let u = Tensor::rand_with([n], &mut g).to_vec::<f64>();
        let mean = u.iter().sum::<f64>() / n as f64;
        assert!((mean - 0.5).abs() < 0.01 && u.iter().all(|&x| (0.0..1.0).contains(&x)));
        let z = Tensor::randn_with([n], &mut g).to_vec::<f64>();
        let m = z.iter().sum::<f64>() / n as f64;
        let var = z.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n as f64;
        assert!(
            m.abs() < 0.01 && (var - 1.0).abs() < 0.02,
            "mean {m} var {var}"
        );
        let r = Tensor::randint_with(-3, 4, [n], &mut g).to_vec::<i64>();
        for v in -3..4 {
            let count = r.iter().filter(|&&x| x == v).count() as f64 / n as f64;
            assert!((count - 1.0 / 7.0).abs() < 0.01);
        }
    }

    #[test]
    fn permutation_is_a_permutation() {
        let mut p = Generator::new(3).permutation(1000);
        p.sort_unstable();
        assert_eq!(p, (0..1000).collect::<Vec<_>>());
    }
}
