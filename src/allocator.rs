//! The process's memory allocator: mimalloc, and how long it keeps memory a query freed
//! before giving it back to the operating system.
//!
//! mimalloc's default returns freed pages after 10 ms. A query frees and allocates
//! hundreds of megabytes per second (batches, hash tables growing, sort runs), so each
//! reallocation then faults in pages the kernel must zero again: on the bench box that
//! zeroing was a quarter of an audience refresh's CPU time. Kept for 10 s, the pages are
//! reused while the work goes on and still go back to the system when it stops.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// How long freed memory stays with the process, in milliseconds.
pub const PURGE_DELAY_MS: i64 = 10_000;

/// `mi_option_purge_delay` in mimalloc's `mi_option_t` (v2 and v3 headers).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Applies [`PURGE_DELAY_MS`], unless `MIMALLOC_PURGE_DELAY` in the environment already
/// chose (mimalloc reads it at start).
pub fn keep_freed_memory_a_while() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    // SAFETY: sets an option value; mimalloc reads options atomically when it purges.
    #[allow(unsafe_code)]
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS as _);
    }
}
