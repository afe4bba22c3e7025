//! Fixtures shared by integration tests and benches (always compiled, kept small).

use std::path::Path;

use crate::generate::{generate, Spec};

/// A small deterministic lake (the demo shape at 2,000 order lines, several files per
/// table) written into `dir`.
///
/// # Panics
/// The folder cannot be written (tests only).
pub fn tiny_lake(dir: &Path) {
    generate(
        dir,
        Spec {
            order_lines: 2_000,
            seed: 7,
            rows_per_file: 700,
        },
        false,
    )
    .expect("writing the tiny lake");
}
