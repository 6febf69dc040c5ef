//! # nim-sizing
//!
//! GPU and model catalogs and the sizing math for NVIDIA NIM deployments: "will this model fit
//! on these GPUs, and how many requests will it hold?"
//!
//! Weights, KV cache (with grouped-query attention), engine overheads, concurrency, NIMCache
//! PVC size, cold start, placement and autoscaling thresholds, with units kept as newtypes so
//! that GB and GiB never mix.
//!
//! ```
//! use nim_sizing::{ModelCatalog, Sizing, gpu, placement::PlacementRequest};
//!
//! let model = &ModelCatalog::builtin().lookup("meta/llama-3.1-70b-instruct")?.arch;
//! let h100 = gpu::builtin().lookup("NVIDIA-H100-80GB-HBM3")?; // as GPU feature discovery labels it
//!
//! // One H100 does not hold 70B in bf16; the plan says why and what would.
//! let plan = Sizing::new(model.clone(), h100.clone()).max_model_len(8192).plan()?;
//! assert!(!plan.fits);
//! assert!(plan.fixes.iter().any(|fix| fix.starts_with("--tp 2")));
//!
//! // Four of them hold 16 concurrent 8k-token requests and more.
//! let plan = Sizing::new(model.clone(), h100.clone()).tp(4).max_model_len(8192).plan()?;
//! assert!(plan.fits && plan.max_concurrency > 16.0);
//!
//! // The smallest configuration for 32 requests of 8k tokens.
//! let placement = PlacementRequest::new(model.clone()).max_model_len(8192).target_concurrency(32.0).on_gpu(h100)?;
//! assert_eq!(placement.chosen.map(|c| c.gpus), Some(4));
//! # Ok::<(), nim_sizing::Error>(())
//! ```
//!
//! | module | answers |
//! |---|---|
//! | [`gpu`] | GPU catalog: memory (nominal and CUDA-visible), bandwidth, TFLOP/s, compute capability, NVLink, PCI ids; look-up by any name tools print |
//! | [`model`] | `config.json` parsing, parameter counts, the model catalog (NIM names, Hugging Face ids) |
//! | [`safetensors`] | exact weight bytes from checkpoint headers |
//! | [`precision`] | weight bytes by precision (group-quantized formats with their scales), KV dtypes |
//! | [`engine`] | vLLM (versioned) and TensorRT-LLM memory models |
//! | [`memory`] | weights, KV pool, tokens, blocks and concurrency per GPU; "does not fit" with fixes |
//! | [`roofline`] | upper bounds on decode and prefill throughput |
//! | [`placement`] | the smallest configuration for a context and concurrency, rejected options with reasons |
//! | [`storage`] | NIMCache PVC size, cold start, startup probe |
//! | [`autoscale`] | HPA settings per workload kind |

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
pub use memory::{Fit, MemoryPlan, Sizing};
pub use model::{CatalogModel, ModelArch, ModelCatalog, ParamBreakdown, SlidingWindow};
pub use placement::{Placement, PlacementRequest};
pub use precision::{KvDtype, Precision, WeightBytes, weight_bytes, weight_bytes_per_gpu};
pub use units::{Bytes, BytesPerSecond, Seconds, Tflops, Tokens};
