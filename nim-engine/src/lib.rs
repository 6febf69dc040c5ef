//! # nim-engine
//!
//! The serving core below an inference server.
//!
//! This crate will hold a paged KV-cache manager (fixed-size blocks, copy-on-write forks,
//! prefix caching), paged attention kernels with a CPU backend that is always available and a
//! CUDA backend behind the `cuda` feature (kernels compiled at run time with NVRTC), weight
//! loading from safetensors, and the scheduler metrics a NIM exposes.
//!
//! The crate is being built; this release only reserves its place in the workspace.
