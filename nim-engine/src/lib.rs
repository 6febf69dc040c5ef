//! # nim-engine
//!
//! The serving core below an inference server: a paged KV-cache manager (fixed-size blocks,
//! copy-on-write forks, prefix caching), paged attention with a CPU backend that is always
//! available (and a CUDA backend behind the `cuda` feature), weight loading from safetensors,
//! and a continuous-batching scheduler with the metrics a NIM exposes.
//!
//! One decode step of one layer, end to end: the manager hands out slots, the backend writes
//! the new token's K and V there and attends over the sequence's blocks.
//!
//! ```
//! use nim_engine::{AttentionParams, BlockManager, CacheConfig, DType, KvLayout, Tensor, cpu};
//!
//! let layout = KvLayout { num_blocks: 64, block_size: 16, num_kv_heads: 2, head_dim: 64 };
//! let (mut k_cache, mut v_cache) = (layout.zeros(DType::Bf16), layout.zeros(DType::Bf16));
//! let mut blocks = BlockManager::new(CacheConfig::new(layout.num_blocks))?;
//!
//! // A 20-token prompt, already prefilled; then one generated token.
//! let prompt: Vec<u32> = (0..20).collect();
//! blocks.allocate(7, &prompt)?;
//! blocks.append(7, &[42])?;
//! let slots = blocks.slot_mapping(7, 20..21)?;
//! let kv = Tensor::from_f32(vec![1, 2, 64], vec![0.5; 128])?;
//! cpu::write_kv(&mut k_cache, &mut v_cache, &slots, &kv, &kv)?;
//!
//! let table: Vec<i32> = blocks.block_table(7)?.iter().map(|&b| b as i32).collect();
//! let q = Tensor::from_f32(vec![1, 8, 64], vec![0.1; 512])?; // 8 query heads share 2 KV heads
//! let out = cpu::paged_decode(&q, &k_cache, &v_cache, &table, table.len(), &[21], &AttentionParams::for_head_dim(64))?;
//! assert_eq!(out.shape(), &[1, 8, 64]);
//! assert_eq!(out.dtype(), DType::F32);
//! # Ok::<(), nim_engine::Error>(())
//! ```

pub mod cpu;
pub mod cuda;
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
