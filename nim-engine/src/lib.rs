//! # nim-engine
//!
//! The serving core below an inference server: a paged KV-cache manager (fixed-size blocks,
//! copy-on-write forks, prefix caching), paged attention with a CPU backend that is always
//! available (and a CUDA backend behind the `cuda` feature), weight loading from safetensors,
//! and a continuous-batching scheduler with the metrics a NIM exposes.

pub mod cpu;
pub mod error;
pub mod kv_cache;
pub mod layout;
pub mod metrics;
pub mod reference;
pub mod scheduler;
pub mod tensor;
pub mod weights;

pub use error::{Error, Result};
pub use kv_cache::{
    Allocation, BlockHash, BlockId, BlockManager, CacheConfig, CopyOnWrite, PrefixCacheStats, SeqId,
};
pub use layout::{AttentionParams, KvLayout};
pub use metrics::{MetricNames, Metrics};
pub use scheduler::{ScheduledSeq, Scheduler, SchedulerConfig, SchedulerOutput};
pub use tensor::{DType, Storage, Tensor};
pub use weights::SafetensorsFile;
