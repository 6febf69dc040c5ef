//! The CPU attention backend, always available.
//!
//! Four operations over the paged caches of one layer (layout in [`crate::layout`]):
//!
//! | function | does |
//! |---|---|
//! | [`write_kv`] | stores new tokens' K and V at their slots (negative slot: padding, skipped) |
//! | [`paged_decode`] | one query token per sequence against its cached context |
//! | [`paged_prefill`] | causal attention for runs of new tokens after any cached prefix |
//! | [`copy_blocks`] | copies whole blocks for copy-on-write |
//!
//! Caches may be f32, f16, bf16 or FP8 E4M3 with a per-tensor scale; queries f32, f16 or bf16;
//! outputs come in the queries' dtype. Every dot product, softmax and weighted sum runs in f32
//! with an online (running-maximum) softmax, and the results stay within the tolerances of
//! [`crate::reference::Tolerance`] of the f64 reference in [`crate::reference`].
//!
//! # Threads
//!
//! Decode splits its work over (sequence, KV head) pairs and prefill over tiles of consecutive
//! tokens, on the current [rayon](https://docs.rs/rayon) pool: the global one (one thread per
//! core) unless the call runs inside `ThreadPool::install`, which is how to bound the threads:
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # use nim_engine::{AttentionParams, DType, KvLayout, Tensor, cpu};
//! # let layout = KvLayout { num_blocks: 1, block_size: 16, num_kv_heads: 1, head_dim: 8 };
//! # let (k_cache, v_cache) = (layout.zeros(DType::F32), layout.zeros(DType::F32));
//! # let q = Tensor::zeros(vec![1, 1, 8], DType::F32);
//! let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build()?;
//! let out = pool.install(|| {
//!     cpu::paged_decode(&q, &k_cache, &v_cache, &[0], 1, &[1], &AttentionParams::for_head_dim(8))
//! })?;
//! # assert_eq!(out.shape(), [1, 1, 8]);
//! # Ok(())
//! # }
//! ```
//!
//! The inner loops are plain safe Rust over slices (16 f32 partial sums per dot product,
//! element-wise updates), which the compiler vectorizes for the target it builds for; nothing
//! depends on the build machine's CPU. f16 rows convert with F16C when the running CPU has it.
//!
//! # Example
//!
//! Two sequences, grouped-query attention with two query heads per KV head, in bf16:
//!
//! ```
//! use nim_engine::{AttentionParams, DType, KvLayout, Tensor, cpu, reference};
//!
//! let layout = KvLayout { num_blocks: 8, block_size: 16, num_kv_heads: 2, head_dim: 64 };
//! let (mut k_cache, mut v_cache) = (layout.zeros(DType::Bf16), layout.zeros(DType::Bf16));
//!
//! // Sequence 0 holds 20 tokens in blocks 3 and 5; sequence 1 holds 7 tokens in block 0.
//! let block_tables = [3, 5, 0, 0];
//! let context_lens = [20, 7];
//! let slots: Vec<i64> = (0..20)
//!     .map(|t| (layout.slot(block_tables[t / 16] as usize, t % 16)) as i64)
//!     .chain((0..7).map(|t| t as i64))
//!     .chain([-1]) // a padding token: skipped
//!     .collect();
//! let tokens = slots.len();
//! let values = |seed: f32| -> Vec<f32> {
//!     (0..tokens * 2 * 64).map(|i| ((i as f32 * seed).sin())).collect()
//! };
//! let k = Tensor::from_f32_as(vec![tokens, 2, 64], &values(0.37), DType::Bf16)?;
//! let v = Tensor::from_f32_as(vec![tokens, 2, 64], &values(0.11), DType::Bf16)?;
//! cpu::write_kv(&mut k_cache, &mut v_cache, &slots, &k, &v)?;
//!
//! let q = Tensor::from_f32_as(vec![2, 4, 64], &vec![0.1; 2 * 4 * 64], DType::Bf16)?;
//! let params = AttentionParams::for_head_dim(64);
//! let out = cpu::paged_decode(&q, &k_cache, &v_cache, &block_tables, 2, &context_lens, &params)?;
//! assert_eq!((out.shape(), out.dtype()), ([2, 4, 64].as_slice(), DType::Bf16));
//!
//! // Against the f64 reference, within the bf16 tolerance.
//! let want = reference::decode_reference(
//!     &q, &k_cache, &v_cache, &block_tables, 2, &context_lens, &params,
//! )?;
//! let tolerance = reference::Tolerance::for_output(DType::Bf16);
//! assert!(tolerance.check(&out.to_f32_vec(), &want).is_ok());
//! # Ok::<(), nim_engine::Error>(())
//! ```

mod cache;
mod decode;
mod kernel;
mod prefill;
mod rows;

pub use crate::layout::AttentionParams;
pub use cache::{copy_blocks, write_kv};
pub use decode::paged_decode;
pub use prefill::paged_prefill;

use crate::error::Result;
use crate::tensor::{DType, Tensor};

/// The f32 results as a tensor of `dtype` (the queries' dtype: f32, f16 or bf16).
fn output_tensor(shape: Vec<usize>, data: Vec<f32>, dtype: DType) -> Result<Tensor> {
    match dtype {
        DType::F32 => Tensor::from_f32(shape, data),
        _ => Tensor::from_f32_as(shape, &data, dtype),
    }
}
