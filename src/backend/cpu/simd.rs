//! The one run-time SIMD dispatch of the CPU backend.
//!
//! NOTE(simd): the portable x86-64 build may only use SSE2. The few loops that
//! every elementwise op ends in are compiled three times, with AVX-512F, with
//! AVX2 and for the baseline, and the widest the CPU has is picked at run time.
//! The operations are the same (Rust never fuses a multiply and an add on its
//! own), so results are identical on every machine; only the vector width
//! changes.

/// Defines `fn NAME<...>(...) -> R` whose body is compiled for AVX-512F, AVX2
/// and the baseline, and runs the widest version the CPU supports. The body must
/// call only `#[inline(always)]` code, or that code stays at the baseline width.
macro_rules! simd_versions {
    (
        $(#[$meta:meta])*
        $vis:vis fn $name:ident<$($t:ident $(: $bound:path)?),*>($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty
        $body:block
    ) => {
        $(#[$meta])*
        $vis fn $name<$($t $(: $bound)?),*>($($arg: $ty),*) -> $ret {
            #[inline(always)]
            fn body<$($t $(: $bound)?),*>($($arg: $ty),*) -> $ret $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f")]
                unsafe fn avx512<$($t $(: $bound)?),*>($($arg: $ty),*) -> $ret {
                    body($($arg),*)
                }
                #[target_feature(enable = "avx2")]
                unsafe fn avx2<$($t $(: $bound)?),*>($($arg: $ty),*) -> $ret {
                    body($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx512f") {
                    // SAFETY: the CPU supports AVX-512F, checked just above.
                    return unsafe { avx512($($arg),*) };
                }
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU supports AVX2, checked just above.
                    return unsafe { avx2($($arg),*) };
                }
            }
            body($($arg),*)
        }
    };
}
pub(crate) use simd_versions;
