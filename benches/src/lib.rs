//! Criterion benchmarks for the nim-rs crates; run them with `cargo bench`.
