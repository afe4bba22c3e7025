//! A hint to the processor to start loading a value's cache line: folds over millions of
//! customers touch their states at random, and asking a few lines ahead lets those
//! memory loads overlap instead of waiting for each in turn.

/// Starts loading the cache line of `value`; no effect on what the program computes.
#[inline(always)]
pub fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint; it reads nothing into the program and cannot
    // fault (and `value` is a valid reference anyway). SSE is in every x86-64 target.
    #[allow(unsafe_code)]
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(value).cast::<i8>());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}
