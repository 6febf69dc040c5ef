//! Runnable programs that compose the nim-rs crates.
//!
//! Every program is a Cargo `[[example]]` of this package, so `cargo run --example NAME`
//! works from the workspace root:
//!
//! - `attention`: paged decode attention on the CPU over a safetensors file
//!   (`cargo run --release --example attention -- --input IN --output OUT [--threads N]`);
//! - `crdgen`: prints the four NIM Operator CRDs as multi-document YAML;
//! - `lint`: checks NIM manifests (`cargo run --example lint -- FILE...`);
//! - `plan`: plans a deployment end to end: the profile NIM selects (from `--manifest`, or
//!   derived from the catalogs), memory per GPU, the NIMCache and cold start, placement,
//!   autoscaling, and NIMCache, NIMService and KEDA ScaledObject manifests that lint clean
//!   (`cargo run --release --example plan -- --model NAME --gpus 2xH100-SXM-80GB:nvlink --json`);
//! - `profiles`: ranks a NIM manifest's profiles for a set of GPUs as NIM selects them, with the
//!   reasons for each, or re-ranks a `list-model-profiles` output
//!   (`cargo run --example profiles -- --manifest FILE --gpus 2xH100 --json`);
//! - `size`: sizes a deployment per GPU: weights, KV cache, concurrency, fit, throughput bounds
//!   (`cargo run --example size -- --model NAME --gpus 2xH100 --json`).
