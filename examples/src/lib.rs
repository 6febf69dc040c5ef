//! Runnable programs that compose the nim-rs crates.
//!
//! Every program is a Cargo `[[example]]` of this package, so `cargo run --example NAME`
//! works from the workspace root:
//!
//! - `crdgen`: prints the four NIM Operator CRDs as multi-document YAML;
//! - `lint`: checks NIM manifests (`cargo run --example lint -- FILE...`);
//! - `size`: sizes a deployment per GPU: weights, KV cache, concurrency, fit, throughput bounds
//!   (`cargo run --example size -- --model NAME --gpus 2xH100 --json`).
