//! What a NIM model profile is.
//!
//! A profile is a runtime configuration in a NIM's model manifest: an engine, a precision,
//! tensor and pipeline parallelism, an optimization target, and (for hardware-specific
//! profiles) the GPU it was built for. Its tags are strings in the manifest (`tp: '8'`); the
//! typed fields below are read from them, and every tag is also kept verbatim in
//! [`Profile::tags`].

use std::collections::BTreeMap;
use std::fmt;

use nim_sizing::Bytes;
use serde::{Deserialize, Serialize};

/// The inference engine of a profile (`llm_engine` tag).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Engine {
    /// TensorRT-LLM (`tensorrt_llm`; `trtllm` in NIM 2.x names).
    TensorrtLlm,
    /// vLLM.
    Vllm,
    /// SGLang.
    Sglang,
    /// Anything else, verbatim (non-LLM NIMs: `tensorrt`, `onnx`, `triton`).
    Other(String),
}

impl Engine {
    /// Reads an engine tag or name part.
    pub fn parse(text: &str) -> Engine {
        match text.trim().to_ascii_lowercase().as_str() {
            "tensorrt_llm" | "trtllm" | "tensorrt-llm" | "trt-llm" => Engine::TensorrtLlm,
            "vllm" => Engine::Vllm,
            "sglang" => Engine::Sglang,
            _ => Engine::Other(text.trim().to_owned()),
        }
    }

    /// The tag value (`tensorrt_llm`, `vllm`, `sglang`, or the verbatim other).
    pub fn as_str(&self) -> &str {
        match self {
            Engine::TensorrtLlm => "tensorrt_llm",
            Engine::Vllm => "vllm",
            Engine::Sglang => "sglang",
            Engine::Other(other) => other,
        }
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The optimization target of a profile (`profile` tag).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Qos {
    /// Latency: more GPUs than needed, to answer faster.
    Latency,
    /// Throughput: the fewest GPUs that hold the model.
    Throughput,
}

impl Qos {
    /// The tag value.
    pub fn as_str(self) -> &'static str {
        match self {
            Qos::Latency => "latency",
            Qos::Throughput => "throughput",
        }
    }
}

impl fmt::Display for Qos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One profile of a manifest (or named in `list-model-profiles` output).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// The profile id: 64 hex characters in real manifests, treated as opaque.
    pub id: String,
    /// The human-readable name, when known (`tensorrt_llm-h100-fp8-tp2-pp1-throughput`).
    pub name: Option<String>,
    /// The engine (`llm_engine`; for non-LLM NIMs `model_type` or `backend`).
    pub engine: Engine,
    /// The precision tag verbatim, lower-cased (`fp8`, `bf16`, `int4_awq`, `nvfp4`, ...).
    pub precision: Option<String>,
    /// Tensor parallelism (`tp`, 1 when absent).
    pub tp: u64,
    /// Pipeline parallelism (`pp`, 1 when absent).
    pub pp: u64,
    /// The optimization target (`profile`), absent on generic profiles.
    pub qos: Option<Qos>,
    /// The GPU family the profile was built for (`gpu`: `H100`, `h100_nvl`, `L40S`); `None` for
    /// a generic profile.
    pub gpu: Option<String>,
    /// The PCI `device:vendor` the engine was built for (`gpu_device`: `2330:10de`).
    pub gpu_device: Option<String>,
    /// Whether the profile serves LoRA adapters (`feat_lora`).
    pub lora: bool,
    /// The largest LoRA rank compiled in (`feat_lora_max_rank`).
    pub lora_max_rank: Option<u32>,
    /// Whether the engine is built locally at start (`trtllm_buildable`).
    pub buildable: bool,
    /// GPUs the profile needs: `number_of_gpus` when given, else `tp × pp`.
    pub num_gpus: u64,
    /// Minimum memory per GPU, when the manifest or metadata says (`min_vram_per_device_gb`).
    pub min_vram_per_gpu: Option<Bytes>,
    /// The model the profile serves (`model` in v1 manifests).
    pub model: Option<String>,
    /// The release (`release` in v1 manifests).
    pub release: Option<String>,
    /// Every tag, verbatim.
    pub tags: BTreeMap<String, String>,
}

impl Profile {
    /// Whether the profile is hardware-specific (has a `gpu` or `gpu_device` tag).
    pub fn is_hardware_specific(&self) -> bool {
        self.gpu.is_some() || self.gpu_device.is_some()
    }

    /// The name when known, else the id.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }
}
