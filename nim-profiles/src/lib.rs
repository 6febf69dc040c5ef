//! # nim-profiles
//!
//! NVIDIA NIM model profiles, reproduced outside the container.
//!
//! A NIM container picks one *profile* (inference engine, precision, tensor and pipeline
//! parallelism, latency or throughput) for the GPUs it finds. This crate will parse NIM model
//! manifests (v1 and v2) and human-readable profile names, read the GPU inventory, and run the
//! profile-selection algorithm with an explanation for every profile, so that the choice NIM
//! makes can be known before anything is deployed.
//!
//! The crate is being built; this release only reserves its place in the workspace.
