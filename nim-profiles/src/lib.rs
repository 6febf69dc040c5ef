//! # nim-profiles
//!
//! NVIDIA NIM model profiles, reproduced outside the container.
//!
//! A NIM container picks one *profile* (inference engine, precision, tensor and pipeline
//! parallelism, latency or throughput) for the GPUs it finds. This crate parses NIM model
//! manifests (v1 and v2) and human-readable profile names, reads the GPU inventory, and runs
//! the profile-selection algorithm with an explanation for every profile, so that the choice
//! NIM makes can be known before anything is deployed.
//!
//! The GPU inventory ([`inventory`]) comes from a short description (`2xH100-SXM-80GB:nvlink`),
//! `nvidia-smi` output, GPU feature discovery node labels, or, with the cargo feature `nvml`,
//! from the GPUs of this machine ([`nvml::detect`], which exists without the feature and then
//! returns an error saying so).
//!
//! ```
//! use nim_profiles::selection::{SelectionOptions, select};
//! use nim_profiles::{Inventory, ProfileName};
//!
//! // Profile names in every form NIM has printed parse and format back.
//! let name: ProfileName = "tensorrt_llm-h100_nvl-fp8-tp1-pp1-throughput".parse()?;
//! assert_eq!(name.tp, Some(1));
//! assert_eq!(name.to_string(), "tensorrt_llm-h100_nvl-fp8-tp1-pp1-throughput");
//!
//! // An empty manifest on two L40S behind vGPU: nothing to select, and it says so.
//! let gpus: Inventory = "2xL40S:vgpu".parse()?;
//! assert!(select(&[], &gpus, &SelectionOptions::default()).selected().is_none());
//! # Ok::<(), nim_profiles::Error>(())
//! ```

pub mod error;
pub mod inventory;
pub mod list_output;
pub mod manifest;
pub mod name;
pub mod nvml;
pub mod operator;
pub mod profile;
pub mod selection;

pub use error::{Error, Result};
pub use inventory::{GpuGroup, Inventory, MigSlice, Topology};
pub use list_output::{ListedGpu, ListedProfile, ProfileList};
pub use manifest::{Manifest, ManifestVersion};
pub use name::{LoraSpelling, ProfileName};
pub use profile::{Engine, Profile, Qos, normalize_pci_id};
pub use selection::{Decision, Selection, SelectionOptions, Verdict, select};
