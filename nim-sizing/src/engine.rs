//! The serving engines' memory models: how much of a GPU's memory becomes KV cache.
//!
//! * **vLLM** (reference §4.3): `KV pool = visible memory × gpu_memory_utilization − (weights +
//!   activation peak of the profiling forward pass + non-torch memory)`, in 16-token blocks.
//!   Activation and non-torch memory are not formulas but measurements that move between
//!   versions (activation for a dense 14B model on H100 fell from 5.64 GiB in v0.16 to
//!   2.23 GiB in v0.17), so they are versioned constants here, the newest the default. At
//!   tensor parallelism above 1, NCCL buffers take about 2.1 GiB per GPU instead of the 0.6 GiB
//!   of non-torch memory at TP 1 (llm-d planner accuracy report). CUDA graphs come out of the
//!   `1 − utilization` headroom.
//! * **TensorRT-LLM** (reference §4.4): `KV pool = (visible memory − weights − activation −
//!   runtime) × free_gpu_memory_fraction` (0.9), in 32-token blocks. Activation memory is fixed
//!   when the engine is built.
//!
//! Every constant is a field of [`EngineModel`], so a user who has measured their own engine
//! (vLLM logs `Available KV cache memory: X GiB`) can calibrate it.
//!
//! ```
//! use nim_sizing::engine::EngineModel;
//!
//! let newest: EngineModel = "vllm".parse()?;
//! assert_eq!(newest.block_size, 16);
//! let old: EngineModel = "vllm@0.11".parse()?;
//! assert_eq!(old.memory_fraction, 0.9);
//! let trt: EngineModel = "trtllm".parse()?;
//! assert_eq!(trt.block_size, 32);
//! # Ok::<(), nim_sizing::Error>(())
//! ```

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::units::Bytes;

/// Which engine, and how it turns memory into KV cache.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EngineKind {
    /// vLLM: the fraction applies to the whole GPU (`gpu_memory_utilization`).
    Vllm,
    /// TensorRT-LLM: the fraction applies to memory free after loading
    /// (`free_gpu_memory_fraction`).
    TrtLlm,
}

/// The memory model of one engine version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EngineModel {
    /// The engine.
    pub kind: EngineKind,
    /// The version these constants describe (`0.17`), or `default` for TensorRT-LLM.
    pub version: String,
    /// `gpu_memory_utilization` (vLLM) or `free_gpu_memory_fraction` (TensorRT-LLM).
    pub memory_fraction: f64,
    /// Tokens per KV block.
    pub block_size: u64,
    /// Peak activation memory of a dense model at the default batch size.
    pub activation_dense: Bytes,
    /// Peak activation memory of a mixture-of-experts model.
    pub activation_moe: Bytes,
    /// CUDA context and other memory outside the allocator, at TP 1.
    pub non_torch: Bytes,
    /// The same at TP > 1, NCCL buffers included.
    pub non_torch_tp: Bytes,
}

/// vLLM versions with measured constants, oldest first; the last is the default.
///
/// Sources (reference §4.3): default utilization 0.9 through at least v0.11 and 0.92 in
/// current upstream (`vllm/config/cache.py`); activation 4.8–5.6 GiB dense and ~7.4 GiB MoE in
/// v0.11 (llm-d planner, `empirical-vllm-memory-results.md`); 5.64 GiB up to v0.16 and
/// 2.23 GiB from v0.17 (Qwen3-14B on H100, llm-d accuracy report); non-torch 0.6 GiB at TP 1 and
/// ~2.1 GiB with NCCL at TP ≥ 2 (same report; it grew again at v0.18, taken as 0.8 GiB).
pub fn vllm_versions() -> Vec<EngineModel> {
    let vllm = |version: &str, fraction, dense, moe, non_torch, non_torch_tp| EngineModel {
        kind: EngineKind::Vllm,
        version: version.to_owned(),
        memory_fraction: fraction,
        block_size: 16,
        activation_dense: Bytes::from_gib(dense),
        activation_moe: Bytes::from_gib(moe),
        non_torch: Bytes::from_gib(non_torch),
        non_torch_tp: Bytes::from_gib(non_torch_tp),
    };
    vec![
        vllm("0.11", 0.90, 5.6, 7.4, 0.6, 2.1),
        vllm("0.16", 0.90, 5.64, 7.4, 0.6, 2.1),
        vllm("0.17", 0.92, 2.23, 3.0, 0.6, 2.1),
        vllm("0.18", 0.92, 2.23, 3.0, 0.8, 2.3),
    ]
}

/// TensorRT-LLM's model: `free_gpu_memory_fraction` 0.9 and 32-token blocks (its
/// `KvCacheConfig` defaults). Activation is fixed at engine build (≈ `max_num_tokens` ×
/// a per-model constant); 2 GiB is budgeted for the default 8192 tokens, plus 1 GiB of runtime
/// (CUDA context, cuBLAS workspaces), and 2.1 GiB with NCCL at TP > 1 as for vLLM.
pub fn trtllm() -> EngineModel {
    EngineModel {
        kind: EngineKind::TrtLlm,
        version: "default".to_owned(),
        memory_fraction: 0.9,
        block_size: 32,
        activation_dense: Bytes::from_gib(2.0),
        activation_moe: Bytes::from_gib(3.0),
        non_torch: Bytes::from_gib(1.0),
        non_torch_tp: Bytes::from_gib(2.1),
    }
}

impl EngineModel {
    /// The newest vLLM model.
    pub fn vllm() -> Self {
        let mut versions = vllm_versions();
        versions.pop().unwrap_or_else(trtllm)
    }

    /// The vLLM model of `version` (`0.17`, `v0.17.1`): the newest listed version not newer
    /// than it.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a malformed version or one older than every listed version.
    pub fn vllm_version(version: &str) -> Result<Self> {
        let wanted = parse_version(version)?;
        let versions = vllm_versions();
        let oldest = versions
            .first()
            .map(|v| v.version.clone())
            .unwrap_or_default();
        versions
            .into_iter()
            .rfind(|v| parse_version(&v.version).is_ok_and(|known| known <= wanted))
            .ok_or_else(|| {
                Error::invalid(
                    "--engine",
                    format!("vLLM {version} is older than the oldest modelled version {oldest}"),
                )
            })
    }

    /// Overrides the memory fraction (`--gpu-memory-utilization`).
    ///
    /// # Errors
    /// [`Error::Invalid`] outside `(0, 1]`.
    pub fn with_memory_fraction(mut self, fraction: f64) -> Result<Self> {
        if !(fraction > 0.0 && fraction <= 1.0) {
            return Err(Error::invalid(
                "--gpu-memory-utilization",
                format!("{fraction} is not a fraction in (0, 1]"),
            ));
        }
        self.memory_fraction = fraction;
        Ok(self)
    }

    /// Activation memory for a dense or MoE model.
    pub fn activation(&self, moe: bool) -> Bytes {
        if moe {
            self.activation_moe
        } else {
            self.activation_dense
        }
    }

    /// Non-KV, non-weight memory outside the allocator at this tensor parallelism.
    pub fn non_torch(&self, tp: u64) -> Bytes {
        if tp > 1 {
            self.non_torch_tp
        } else {
            self.non_torch
        }
    }
}

impl fmt::Display for EngineModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            EngineKind::Vllm => write!(f, "vllm@{}", self.version),
            EngineKind::TrtLlm => f.write_str("trtllm"),
        }
    }
}

impl FromStr for EngineModel {
    type Err = Error;
    /// `vllm`, `vllm@0.17`, `trtllm` (or `tensorrt_llm`, `trt-llm`).
    fn from_str(s: &str) -> Result<Self> {
        let lower = s.trim().to_ascii_lowercase();
        let (name, version) = match lower.split_once('@') {
            Some((name, version)) => (name, Some(version)),
            None => (lower.as_str(), None),
        };
        match (name, version) {
            ("vllm", None) => Ok(Self::vllm()),
            ("vllm", Some(version)) => Self::vllm_version(version),
            ("trtllm" | "tensorrt_llm" | "tensorrt-llm" | "trt-llm", None) => Ok(trtllm()),
            ("trtllm" | "tensorrt_llm" | "tensorrt-llm" | "trt-llm", Some(_)) => {
                Err(Error::invalid(
                    "--engine",
                    "TensorRT-LLM has one memory model; drop the @VERSION",
                ))
            }
            _ => Err(Error::invalid(
                "--engine",
                format!("{s:?} is not vllm, vllm@VERSION or trtllm"),
            )),
        }
    }
}

fn parse_version(text: &str) -> Result<(u32, u32)> {
    let bad = || Error::invalid("--engine", format!("{text:?} is not a version like 0.17"));
    let text = text.trim().trim_start_matches('v');
    let mut parts = text.split('.');
    let major = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    let minor = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    Ok((major, minor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_resolve_to_the_newest_not_newer() {
        assert_eq!(
            EngineModel::vllm_version("0.17.1")
                .map(|e| e.version)
                .ok()
                .as_deref(),
            Some("0.17")
        );
        assert_eq!(
            EngineModel::vllm_version("v0.20")
                .map(|e| e.version)
                .ok()
                .as_deref(),
            Some("0.18")
        );
        assert_eq!(
            EngineModel::vllm_version("0.12")
                .map(|e| e.version)
                .ok()
                .as_deref(),
            Some("0.11")
        );
        assert!(EngineModel::vllm_version("0.5").is_err());
        assert!(EngineModel::vllm_version("latest").is_err());
    }

    #[test]
    fn parse_and_display() {
        for text in ["vllm", "vllm@0.11", "trtllm", "TensorRT_LLM"] {
            let engine: EngineModel = text.parse().expect(text);
            assert!(engine.to_string().starts_with(if text.starts_with('v') {
                "vllm@"
            } else {
                "trtllm"
            }));
        }
        let error = "sglang".parse::<EngineModel>().expect_err("unknown");
        assert!(error.to_string().starts_with("--engine:"), "{error}");
        assert!("trtllm@1.0".parse::<EngineModel>().is_err());
    }

    #[test]
    fn overheads() {
        let engine = EngineModel::vllm();
        assert_eq!(engine.memory_fraction, 0.92);
        assert!(engine.non_torch(2) > engine.non_torch(1));
        assert!(engine.activation(true) > engine.activation(false));
        assert!(engine.clone().with_memory_fraction(0.0).is_err());
        assert!(engine.clone().with_memory_fraction(1.2).is_err());
        assert!(engine.with_memory_fraction(f64::NAN).is_err());
    }
}
