//! The process's memory allocator: mimalloc, and how long it keeps memory a query freed
//! before giving it back to the operating system.
//!
//! mimalloc's default returns freed pages after 10 ms. A query frees and allocates
//! hundreds of megabytes per second (batches, hash tables growing, sort runs), so each
//! reallocation then faults in pages the kernel must zero again: on the bench box that
//! zeroing was a quarter of an audience refresh's CPU time. Without a memory limit the
//! pages are kept for 10 s: reused while the work goes on, and still given back when it
//! stops. Under `server.memory_limit_mb` they go back after mimalloc's 10 ms: kept, a
//! large allocation rarely fits in the pieces just freed, so the process held freed and
//! new memory at once (the demo warehouse's `010_orders` at 1e8 order lines peaked at
//! 15.8 GiB under a 12000 MB limit, and at 10.8 GiB this way, 8 % slower).

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// How long freed memory stays with the process without a memory limit, in milliseconds.
pub const PURGE_DELAY_MS: i64 = 10_000;

/// The same under a memory limit: mimalloc's default.
pub const LIMITED_PURGE_DELAY_MS: i64 = 10;

/// `mi_option_purge_delay` in mimalloc's `mi_option_t` (v2 and v3 headers).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Applies [`PURGE_DELAY_MS`], or [`LIMITED_PURGE_DELAY_MS`] when `memory_limit_mb` is
/// set, unless `MIMALLOC_PURGE_DELAY` in the environment already chose (mimalloc reads
/// it at start).
pub fn set_purge_delay(memory_limit_mb: u64) {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    let delay = if memory_limit_mb > 0 {
        LIMITED_PURGE_DELAY_MS
    } else {
        PURGE_DELAY_MS
    };
    // SAFETY: sets an option value; mimalloc reads options atomically when it purges.
    #[allow(unsafe_code)]
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, delay as _);
    }
}
