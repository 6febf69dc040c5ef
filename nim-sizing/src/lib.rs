//! # nim-sizing
//!
//! GPU and model catalogs and the sizing math for NVIDIA NIM deployments: "will this model fit
//! on these GPUs, and how many requests will it hold?"
//!
//! Weights, KV cache (with grouped-query attention), engine overheads, concurrency, NIMCache
//! PVC size, cold start, placement and autoscaling thresholds, with units kept as newtypes so
//! that GB and GiB never mix.

pub mod autoscale;
pub mod engine;
pub mod error;
pub mod gpu;
pub mod memory;
pub mod model;
pub mod placement;
pub mod precision;
pub mod roofline;
pub mod safetensors;
pub mod storage;
pub mod units;

pub use error::{Error, Result};
pub use gpu::{ComputeCapability, GpuCatalog, GpuSpec, Interconnect};
pub use memory::{MemoryPlan, Sizing};
pub use model::{CatalogModel, ModelArch, ModelCatalog, ParamBreakdown, SlidingWindow};
pub use precision::{KvDtype, Precision, WeightBytes, weight_bytes, weight_bytes_per_gpu};
pub use units::{Bytes, BytesPerSecond, Seconds, Tflops, Tokens};
