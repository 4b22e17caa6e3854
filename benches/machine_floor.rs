//! What this machine can do at most, for reading BENCHMARKS.md's inference rows:
//! the f32 multiply-add peak (AVX-512 FMAs on independent registers, AVX2's
//! where there is no AVX-512) and the
//! bandwidth of reading a 31 MB array (the 10,000 test images as float32), on
//! one and on two threads.
//!
//! Run: `cargo bench --bench machine_floor`.

use std::time::Instant;

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn fma_loop(iters: usize) -> f32 {
    use std::arch::x86_64::*;
    // 12 independent chains: enough to cover the FMA latency on two ports.
    let mut acc = [_mm512_set1_ps(1.0); 12];
    let (a, b) = (_mm512_set1_ps(0.999_999), _mm512_set1_ps(1e-7));
    for _ in 0..iters {
        for r in acc.iter_mut() {
            *r = _mm512_fmadd_ps(*r, a, b);
        }
    }
    let mut sum = _mm512_setzero_ps();
    for r in acc {
        sum = _mm512_add_ps(sum, r);
    }
    _mm512_reduce_add_ps(sum)
}

/// The same with AVX2 FMAs (8 floats a register), for hosts without AVX-512.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn fma_loop_avx2(iters: usize) -> f32 {
    use std::arch::x86_64::*;
    let mut acc = [_mm256_set1_ps(1.0); 12];
    let (a, b) = (_mm256_set1_ps(0.999_999), _mm256_set1_ps(1e-7));
    for _ in 0..iters {
        for r in acc.iter_mut() {
            *r = _mm256_fmadd_ps(*r, a, b);
        }
    }
    let mut lanes = [0f32; 8];
    let mut sum = _mm256_setzero_ps();
    for r in acc {
        sum = _mm256_add_ps(sum, r);
    }
    _mm256_storeu_ps(lanes.as_mut_ptr(), sum);
    lanes.iter().sum()
}

/// Sums the array, with enough independent vector sums that the loads, not the
/// adds, set the pace.
fn read_sum(data: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        #[target_feature(enable = "avx2")]
        unsafe fn avx2(data: &[f32]) -> f32 {
            sum_body(data)
        }
        // SAFETY: AVX2 is supported, checked just above.
        return unsafe { avx2(data) };
    }
    sum_body(data)
}

#[inline(always)]
fn sum_body(data: &[f32]) -> f32 {
    let mut acc = [0f32; 32];
    for chunk in data.chunks_exact(32) {
        for (a, &v) in acc.iter_mut().zip(chunk) {
            *a += v;
        }
    }
    acc.iter().sum()
}

fn best_of(rounds: usize, mut f: impl FnMut() -> f64) -> f64 {
    (0..rounds).map(|_| f()).fold(f64::INFINITY, f64::min)
}

fn main() {
    #[cfg(target_arch = "x86_64")]
    {
        let avx512 = std::arch::is_x86_feature_detected!("avx512f");
        let avx2 = std::arch::is_x86_feature_detected!("avx2")
            && std::arch::is_x86_feature_detected!("fma");
        let (name, lanes) = if avx512 { ("AVX-512", 16) } else { ("AVX2", 8) };
        let iters = 20_000_000;
        for threads in [1, 2] {
            if !avx512 && !avx2 {
                break;
            }
            let secs = best_of(3, || {
                let start = Instant::now();
                std::thread::scope(|s| {
                    for _ in 0..threads {
                        // SAFETY: the instructions are supported, checked above.
                        s.spawn(|| unsafe {
                            std::hint::black_box(if avx512 {
                                fma_loop(iters)
                            } else {
                                fma_loop_avx2(iters)
                            })
                        });
                    }
                });
                start.elapsed().as_secs_f64()
            });
            let flops = (threads * iters * 12 * lanes * 2) as f64;
            println!(
                "f32 FMA peak ({name}), {threads} thread(s): {:.0} GFLOP/s",
                flops / secs / 1e9
            );
        }
    }
    let data: Vec<f32> = (0..10_000 * 784).map(|i| (i % 255) as f32).collect();
    let bytes = (data.len() * 4) as f64;
    for threads in [1, 2] {
        let secs = best_of(20, || {
            let start = Instant::now();
            std::thread::scope(|s| {
                for part in data.chunks(data.len().div_ceil(threads)) {
                    s.spawn(move || std::hint::black_box(read_sum(part)));
                }
            });
            start.elapsed().as_secs_f64()
        });
        println!(
            "reading 10,000×784 float32 ({:.1} MB), {threads} thread(s): {:.2} ms ({:.0} GB/s)",
            bytes / 1e6,
            secs * 1e3,
            bytes / secs / 1e9
        );
    }
}
