//! # nim-profiles
//!
//! NVIDIA NIM model profiles, reproduced outside the container.
//!
//! A NIM container picks one *profile* (inference engine, precision, tensor and pipeline
//! parallelism, latency or throughput) for the GPUs it finds. This crate parses NIM model
//! manifests (v1 and v2) and human-readable profile names, reads the GPU inventory, and runs
//! the profile-selection algorithm with an explanation for every profile, so that the choice
//! NIM makes can be known before anything is deployed.

pub mod error;
pub mod inventory;
pub mod profile;

pub use error::{Error, Result};
pub use inventory::{GpuGroup, Inventory, MigSlice};
pub use profile::{Engine, Profile, Qos};
