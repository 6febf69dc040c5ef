//! Weight precisions, KV-cache dtypes, and weight bytes by precision, whole model and per GPU.
//!
//! Never "parameters × bits / 8" for group-quantized formats (`PROFILES-SIZING.md` §4.2): they
//! quantize the decoder's linear layers only and store scales (and zero points) next to the
//! packed weights, while embeddings, the LM head, norms, biases and MoE routers stay 16-bit.
//! Llama-3.1-8B in INT4 AWQ is ≈ 5.7 GB, not 4 GB:
//!
//! ```
//! use nim_sizing::model::ModelCatalog;
//! use nim_sizing::precision::{weight_bytes, weight_bytes_per_gpu, Precision};
//!
//! let llama = &ModelCatalog::builtin().lookup("meta/llama-3.1-8b-instruct")?.arch;
//! let awq: Precision = "int4-awq".parse()?;
//! let w = weight_bytes(llama, awq);
//! assert!((5.6..5.8).contains(&w.total.gb()));
//! assert_eq!(w.embeddings.get(), 128_256 * 4096 * 2); // 16-bit
//!
//! // NIM's rule of thumb "Llama 3.3 70B BF16 TP4 → 35 GB per GPU".
//! let llama70 = &ModelCatalog::builtin().lookup("meta/llama-3.3-70b-instruct")?.arch;
//! let per_gpu = weight_bytes_per_gpu(llama70, Precision::Bf16, 4, 1)?;
//! assert!((per_gpu.gb() - 35.3).abs() < 0.1);
//! # Ok::<(), nim_sizing::Error>(())
//! ```
//!
//! Storage choices, per linear weight of `in × out` (as the checkpoints store them):
//!
//! | precision | weights | scales and zeros |
//! |---|---|---|
//! | fp32 / bf16 / fp16 | 4 / 2 / 2 B | — |
//! | fp8 | 1 B | per-tensor FP32 `weight_scale` and `input_scale` (ModelOpt, vLLM `fp8`): 8 B per matrix |
//! | int8 | 1 B | per-output-channel FP32 scale (SmoothQuant W8A8, compressed-tensors `channel`): `4 × out` |
//! | int4 AWQ, group g | 4 bit | FP16 scale + 4-bit zero per group: `ceil(in/g) × out × (2 + ½)` |
//! | int4 GPTQ, group g | 4 bit | as AWQ (AutoGPTQ stores `qzeros` even when symmetric) + INT32 `g_idx` per input row: `4 × in` |
//! | NVFP4 | 4 bit | FP8 E4M3 scale per 16 inputs + FP32 per-tensor `weight_scale_2` and `input_scale`: `ceil(in/16) × out + 8` |
//! | MXFP4 | 4 bit | E8M0 (8-bit) scale per 32 inputs, no global scale: `ceil(in/32) × out` |
//!
//! Group size 0 means one group per output channel (GPTQ `group_size: -1`). NVFP4 ≈ 4.5 and
//! MXFP4 ≈ 4.25 bits per weight ([`Precision::bits_per_weight`]; reference §4.2 citing the Red
//! Hat AI quantization chapter and the vllm.cpp quantization matrix). For FP8 and INT8 the
//! embeddings and LM head also stay 16-bit, as vLLM / ModelOpt / llm-compressor checkpoints keep
//! them (`ignore: ["lm_head"]`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};
use crate::model::{LinearShape, ModelArch};
use crate::units::Bytes;

/// Default group size of INT4 AWQ/GPTQ checkpoints.
pub const DEFAULT_GROUP_SIZE: u32 = 128;

/// Layers up to which per-layer exclusion patterns are evaluated layer by layer; deeper models
/// (never seen in practice) use the first layer of each stage as representative.
const EXACT_LAYER_LIMIT: u64 = 4096;

/// Precision of the weights.
///
/// Parsed case-insensitively from `bf16`, `fp16`, `fp32`, `fp8`, `int8`, `int4` / `int4-awq` /
/// `awq`, `int4-gptq` / `gptq`, `nvfp4`, `mxfp4`; the INT4 forms take an optional `-g<N>` group
/// size (`int4-awq-g64`; default 128, 0 = per channel). Displayed and serialized in the same
/// lowercase form.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Precision {
    /// 32-bit float.
    Fp32,
    /// bfloat16.
    Bf16,
    /// float16.
    Fp16,
    /// FP8 (E4M3) weights with per-tensor scales.
    Fp8,
    /// INT8 weights with per-channel scales.
    Int8,
    /// 4-bit AWQ: FP16 scale and 4-bit zero point per group.
    Int4Awq {
        /// Inputs per group (0: one group per output channel).
        group_size: u32,
    },
    /// 4-bit GPTQ (AutoGPTQ layout): FP16 scale, 4-bit zero point per group, INT32 `g_idx`.
    Int4Gptq {
        /// Inputs per group (0: one group per output channel).
        group_size: u32,
    },
    /// NVIDIA FP4: 16-element blocks with an FP8 scale, plus a per-tensor FP32 scale.
    Nvfp4,
    /// OCP MX FP4: 32-element blocks with an E8M0 scale.
    Mxfp4,
}

/// The spellings [`Precision::from_str`] accepts.
pub const PRECISIONS_ACCEPTED: &str = "bf16, fp16, fp32, fp8, int8, int4 (= int4-awq), int4-awq, \
     awq, int4-gptq, gptq, nvfp4, mxfp4; int4 forms take an optional -g<N> group size";

impl Precision {
    /// The INT4 AWQ default: group size 128.
    pub const INT4_AWQ: Precision = Precision::Int4Awq {
        group_size: DEFAULT_GROUP_SIZE,
    };
    /// The INT4 GPTQ default: group size 128.
    pub const INT4_GPTQ: Precision = Precision::Int4Gptq {
        group_size: DEFAULT_GROUP_SIZE,
    };

    /// Effective bits per weight of a large quantized linear layer, scales and zeros included
    /// (per-tensor scales and GPTQ's per-row `g_idx` amortize to nothing): fp32 32, bf16/fp16 16,
    /// fp8/int8 8, int4 group 128 `4 + 16/128 + 4/128` = 4.156, NVFP4 `4 + 8/16` = 4.5, MXFP4
    /// `4 + 8/32` = 4.25. Per-channel INT4 (group 0) gives 4.
    pub fn bits_per_weight(&self) -> f64 {
        match self {
            Precision::Fp32 => 32.0,
            Precision::Bf16 | Precision::Fp16 => 16.0,
            Precision::Fp8 | Precision::Int8 => 8.0,
            Precision::Int4Awq { group_size } | Precision::Int4Gptq { group_size } => {
                if *group_size == 0 {
                    4.0
                } else {
                    4.0 + 20.0 / f64::from(*group_size)
                }
            }
            Precision::Nvfp4 => 4.5,
            Precision::Mxfp4 => 4.25,
        }
    }

    /// Whether linear layers are stored in a quantized format (everything but fp32/bf16/fp16).
    pub fn is_quantized(&self) -> bool {
        !matches!(self, Precision::Fp32 | Precision::Bf16 | Precision::Fp16)
    }

    /// The group size of the INT4 formats.
    pub fn group_size(&self) -> Option<u32> {
        match self {
            Precision::Int4Awq { group_size } | Precision::Int4Gptq { group_size } => {
                Some(*group_size)
            }
            _ => None,
        }
    }

    /// Bytes per parameter of what stays unquantized (embeddings, LM head, norms, biases,
    /// routers): 4 for fp32, else 2.
    pub fn dense_bytes_per_param(&self) -> u64 {
        match self {
            Precision::Fp32 => 4,
            _ => 2,
        }
    }

    /// Bytes of one `in_features × out_features` linear weight, scales and zeros included (the
    /// table in the module docs). Saturates instead of overflowing.
    pub fn linear_bytes(&self, in_features: u64, out_features: u64) -> u64 {
        let weights = in_features.saturating_mul(out_features);
        let nibbles = weights.div_ceil(2);
        let groups = |g: u32| {
            if g == 0 {
                1
            } else {
                in_features.div_ceil(u64::from(g))
            }
        };
        match self {
            Precision::Fp32 => weights.saturating_mul(4),
            Precision::Bf16 | Precision::Fp16 => weights.saturating_mul(2),
            Precision::Fp8 => weights.saturating_add(8),
            Precision::Int8 => weights.saturating_add(out_features.saturating_mul(4)),
            Precision::Int4Awq { group_size } => {
                let scales = groups(*group_size).saturating_mul(out_features);
                nibbles
                    .saturating_add(scales.saturating_mul(2))
                    .saturating_add(scales.div_ceil(2))
            }
            Precision::Int4Gptq { group_size } => {
                let scales = groups(*group_size).saturating_mul(out_features);
                nibbles
                    .saturating_add(scales.saturating_mul(2))
                    .saturating_add(scales.div_ceil(2))
                    .saturating_add(in_features.saturating_mul(4))
            }
            Precision::Nvfp4 => nibbles
                .saturating_add(in_features.div_ceil(16).saturating_mul(out_features))
                .saturating_add(8),
            Precision::Mxfp4 => {
                nibbles.saturating_add(in_features.div_ceil(32).saturating_mul(out_features))
            }
        }
    }

    /// The precision of a checkpoint's `torch_dtype` (`bfloat16`, `float16`, `float32`, also
    /// `bf16`/`fp16`/`fp32`/`half`/`float`); `None` for others.
    pub fn from_torch_dtype(dtype: &str) -> Option<Precision> {
        match dtype.trim().to_ascii_lowercase().as_str() {
            "bfloat16" | "bf16" | "torch.bfloat16" => Some(Precision::Bf16),
            "float16" | "fp16" | "half" | "torch.float16" => Some(Precision::Fp16),
            "float32" | "fp32" | "float" | "torch.float32" => Some(Precision::Fp32),
            _ => None,
        }
    }

    /// The checkpoint's precision, from `quantization_config` and `torch_dtype`:
    ///
    /// - `awq` → INT4 AWQ (its group size, default 128);
    /// - `gptq` → INT4 GPTQ, or INT8 when `bits: 8`;
    /// - `fp8`, `fbgemm_fp8` → FP8; `mxfp4` → MXFP4;
    /// - `modelopt` → by `quant_algo`: `NVFP4`, `MXFP4`, `FP8`, `W4A16_AWQ` / `AWQ` → INT4 AWQ,
    ///   `INT8` / `W8A8` → INT8;
    /// - `compressed-tensors` (and ModelOpt without a known `quant_algo`) → by `format`
    ///   (`nvfp4-pack-quantized`, `mxfp4-pack-quantized`) or the weight scheme: 8-bit float →
    ///   FP8, 8-bit int → INT8, 4-bit float → NVFP4 (group 16) or MXFP4 (group 32), 4-bit int →
    ///   INT4 GPTQ, or INT4 AWQ when asymmetric (it stores zero points). The GPTQ layout
    ///   overstates a symmetric compressed-tensors checkpoint, which stores neither zero points
    ///   nor `g_idx`, by about 0.03 bits per weight;
    /// - any other method with `bits` 4 or 8 → INT4 GPTQ / INT8.
    ///
    /// Otherwise `torch_dtype` (bf16 when absent or unknown). This is the checkpoint's storage,
    /// not necessarily the serving precision: vLLM serves an fp32 checkpoint in 16-bit.
    pub fn from_config(arch: &ModelArch) -> Precision {
        let dtype = arch
            .torch_dtype
            .as_deref()
            .and_then(Precision::from_torch_dtype)
            .unwrap_or(Precision::Bf16);
        let Some(q) = &arch.quantization else {
            return dtype;
        };
        let group = q.group_size.unwrap_or(DEFAULT_GROUP_SIZE);
        let by_bits = |bits: Option<u32>| match bits {
            Some(4) => Some(Precision::Int4Gptq { group_size: group }),
            Some(8) => Some(Precision::Int8),
            _ => None,
        };
        let by_scheme = || -> Option<Precision> {
            let format = q.format.as_deref().unwrap_or("").to_ascii_lowercase();
            if format.contains("nvfp4") {
                return Some(Precision::Nvfp4);
            }
            if format.contains("mxfp4") {
                return Some(Precision::Mxfp4);
            }
            let float = q.weight_type.as_deref() == Some("float");
            match (q.bits, float) {
                (Some(8), true) => Some(Precision::Fp8),
                (Some(8), false) => Some(Precision::Int8),
                (Some(4), true) if q.group_size == Some(32) => Some(Precision::Mxfp4),
                (Some(4), true) => Some(Precision::Nvfp4),
                (Some(4), false) if q.symmetric == Some(false) => {
                    Some(Precision::Int4Awq { group_size: group })
                }
                (Some(4), false) => Some(Precision::Int4Gptq { group_size: group }),
                _ => None,
            }
        };
        let by_algo = || -> Option<Precision> {
            let algo = q.quant_algo.as_deref()?.to_ascii_uppercase();
            if algo.contains("NVFP4") {
                Some(Precision::Nvfp4)
            } else if algo.contains("MXFP4") {
                Some(Precision::Mxfp4)
            } else if algo.contains("FP8") {
                Some(Precision::Fp8)
            } else if algo.contains("AWQ") || algo.contains("W4A16") {
                Some(Precision::Int4Awq { group_size: group })
            } else if algo.contains("INT8") || algo.contains("W8A8") {
                Some(Precision::Int8)
            } else {
                None
            }
        };
        let found = match q.quant_method.as_str() {
            "awq" => Some(Precision::Int4Awq { group_size: group }),
            "gptq" => match q.bits {
                Some(8) => Some(Precision::Int8),
                _ => Some(Precision::Int4Gptq { group_size: group }),
            },
            "fp8" | "fbgemm_fp8" | "ptpc_fp8" => Some(Precision::Fp8),
            "mxfp4" => Some(Precision::Mxfp4),
            "modelopt" => by_algo().or_else(by_scheme),
            "compressed-tensors" | "compressed_tensors" => by_scheme(),
            _ => by_algo().or_else(|| by_bits(q.bits)),
        };
        found.unwrap_or(dtype)
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let int4 = |f: &mut fmt::Formatter<'_>, base: &str, group: u32| {
            if group == DEFAULT_GROUP_SIZE {
                f.write_str(base)
            } else {
                write!(f, "{base}-g{group}")
            }
        };
        match self {
            Precision::Fp32 => f.write_str("fp32"),
            Precision::Bf16 => f.write_str("bf16"),
            Precision::Fp16 => f.write_str("fp16"),
            Precision::Fp8 => f.write_str("fp8"),
            Precision::Int8 => f.write_str("int8"),
            Precision::Int4Awq { group_size } => int4(f, "int4-awq", *group_size),
            Precision::Int4Gptq { group_size } => int4(f, "int4-gptq", *group_size),
            Precision::Nvfp4 => f.write_str("nvfp4"),
            Precision::Mxfp4 => f.write_str("mxfp4"),
        }
    }
}

impl FromStr for Precision {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let lower = s.trim().to_ascii_lowercase().replace('_', "-");
        let unknown = || {
            Error::invalid(
                "precision",
                format!("unknown precision {s:?}; accepted: {PRECISIONS_ACCEPTED}"),
            )
        };
        // An optional group-size suffix on the INT4 forms.
        let (base, group) = match lower.rsplit_once("-g") {
            Some((base, digits))
                if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) =>
            {
                let group: u32 = digits.parse().map_err(|_| unknown())?;
                (base, Some(group))
            }
            _ => (lower.as_str(), None),
        };
        let group_size = group.unwrap_or(DEFAULT_GROUP_SIZE);
        let precision = match base {
            "int4" | "int4-awq" | "awq" | "w4a16-awq" => Precision::Int4Awq { group_size },
            "int4-gptq" | "gptq" | "w4a16-gptq" => Precision::Int4Gptq { group_size },
            _ if group.is_some() => return Err(unknown()),
            "fp32" | "float32" => Precision::Fp32,
            "bf16" | "bfloat16" => Precision::Bf16,
            "fp16" | "float16" | "half" => Precision::Fp16,
            "fp8" | "fp8-e4m3" => Precision::Fp8,
            "int8" => Precision::Int8,
            "nvfp4" => Precision::Nvfp4,
            "mxfp4" => Precision::Mxfp4,
            _ => return Err(unknown()),
        };
        Ok(precision)
    }
}

impl Serialize for Precision {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Precision {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// KV-cache element type, as vLLM's `--kv-cache-dtype` and TRT-LLM name them.
///
/// Parsed case-insensitively from `auto`, `fp8`, `fp8_e4m3`, `fp8_e5m2`, `bf16`, `bfloat16`,
/// `fp16`, `float16`, `half`, `fp32`, `float32`, `int8`, `nvfp4`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum KvDtype {
    /// The model's dtype (vLLM `auto`): 2 bytes, since vLLM serves fp32 checkpoints in 16-bit.
    #[default]
    Auto,
    /// float16.
    Fp16,
    /// bfloat16.
    Bf16,
    /// FP8 (E4M3 or E5M2): 1 byte.
    Fp8,
    /// float32.
    Fp32,
    /// INT8 (TRT-LLM): 1 byte.
    Int8,
    /// NVFP4: 4 bits plus one FP8 scale per 16 elements = 0.5625 bytes.
    Nvfp4,
}

/// The spellings [`KvDtype::from_str`] accepts.
pub const KV_DTYPES_ACCEPTED: &str = "auto, fp8, fp8_e4m3, fp8_e5m2, bf16, bfloat16, fp16, float16, half, fp32, float32, int8, nvfp4";

impl KvDtype {
    /// Bytes per element: auto/fp16/bf16 2, fp8/int8 1, fp32 4, NVFP4 0.5625 (scales included).
    pub fn bytes_per_element(&self) -> f64 {
        let (num, den) = self.bytes_ratio();
        num as f64 / den as f64
    }

    /// Bytes per element as an exact fraction `(numerator, denominator)`.
    pub(crate) fn bytes_ratio(&self) -> (u64, u64) {
        match self {
            KvDtype::Auto | KvDtype::Fp16 | KvDtype::Bf16 => (2, 1),
            KvDtype::Fp8 | KvDtype::Int8 => (1, 1),
            KvDtype::Fp32 => (4, 1),
            KvDtype::Nvfp4 => (9, 16),
        }
    }
}

impl fmt::Display for KvDtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            KvDtype::Auto => "auto",
            KvDtype::Fp16 => "fp16",
            KvDtype::Bf16 => "bf16",
            KvDtype::Fp8 => "fp8",
            KvDtype::Fp32 => "fp32",
            KvDtype::Int8 => "int8",
            KvDtype::Nvfp4 => "nvfp4",
        })
    }
}

impl FromStr for KvDtype {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "auto" => KvDtype::Auto,
            "fp8" | "fp8_e4m3" | "fp8_e5m2" | "fp8-e4m3" | "fp8-e5m2" => KvDtype::Fp8,
            "bf16" | "bfloat16" => KvDtype::Bf16,
            "fp16" | "float16" | "half" => KvDtype::Fp16,
            "fp32" | "float32" => KvDtype::Fp32,
            "int8" => KvDtype::Int8,
            "nvfp4" => KvDtype::Nvfp4,
            _ => {
                return Err(Error::invalid(
                    "kv-cache-dtype",
                    format!("unknown KV-cache dtype {s:?}; accepted: {KV_DTYPES_ACCEPTED}"),
                ));
            }
        })
    }
}

impl Serialize for KvDtype {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for KvDtype {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Weight bytes by component.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct WeightBytes {
    /// Token embeddings (16-bit, or 32-bit at fp32).
    pub embeddings: Bytes,
    /// LM head; zero when tied to the embeddings (and on pipeline stages other than the last).
    pub lm_head: Bytes,
    /// Decoder linear layers in the chosen precision, scales and zeros included.
    pub linear: Bytes,
    /// Norms, biases and MoE routers (16-bit, or 32-bit at fp32).
    pub other: Bytes,
    /// Sum of the above.
    pub total: Bytes,
}

/// Weight bytes of the whole model at `precision` (every linear layer in that precision; see
/// the module docs for what stays 16-bit).
pub fn weight_bytes(arch: &ModelArch, precision: Precision) -> WeightBytes {
    let stages = stage_bytes(arch, precision, 1, &[arch.num_layers], &[]);
    stages.into_iter().next().unwrap_or_default()
}

/// Weight bytes on the most loaded GPU at tensor-parallel size `tp` and pipeline-parallel size
/// `pp`: the largest of [`weight_bytes_per_stage`].
///
/// Errors ([`Error::Invalid`]) when `tp` or `pp` is 0, `pp` exceeds the layers, or the heads do
/// not divide (`--tp 3: 32 attention heads are not divisible by 3`); see
/// [`ModelArch::check_parallelism`].
pub fn weight_bytes_per_gpu(
    arch: &ModelArch,
    precision: Precision,
    tp: u64,
    pp: u64,
) -> Result<Bytes> {
    Ok(weight_bytes_per_stage(arch, precision, tp, pp)?
        .iter()
        .map(|s| s.total)
        .max()
        .unwrap_or_default())
}

/// Weight bytes on one GPU of each pipeline stage, first stage first.
///
/// - Tensor parallelism splits every linear layer (column-parallel outputs, row-parallel
///   inputs) and the embeddings and LM head by vocabulary rows (`ceil(vocab / tp)`; vLLM pads
///   the vocabulary to a multiple of 64, a difference of under 64 rows). k and v keep
///   `max(1, kv_heads / tp)` heads, so they are replicated when `kv_heads < tp`. Norms, MoE
///   routers and row-parallel biases are replicated.
/// - Pipeline parallelism gives each stage its layers ([`ModelArch::pipeline_layer_split`]);
///   the first stage also holds the embeddings, the last the final norm and the LM head. With
///   tied embeddings and `pp > 1` the last stage holds its own copy of the tied matrix as the
///   LM head (vLLM loads it there, since the embedding lives on the first stage).
pub fn weight_bytes_per_stage(
    arch: &ModelArch,
    precision: Precision,
    tp: u64,
    pp: u64,
) -> Result<Vec<WeightBytes>> {
    arch.check_parallelism(tp, pp)?;
    let split = arch.pipeline_layer_split(pp)?;
    Ok(stage_bytes(arch, precision, tp, &split, &[]))
}

/// Weight bytes of the checkpoint as stored: [`Precision::from_config`], with the modules that
/// `quantization_config` leaves unquantized (`modules_to_not_convert`, `ignore`,
/// `exclude_modules`) kept at 16-bit. Meta's Llama-3.1-405B FP8 checkpoint, for example,
/// excludes every attention projection (`PROFILES-SIZING.md` §3).
///
/// Patterns are matched against `transformers` module paths such as
/// `model.layers.7.self_attn.q_proj` (experts: `model.layers.7.mlp.experts.down_proj`): a plain
/// name matches whole dotted segments (`self_attn` or `model.layers.7.self_attn.q_proj`), `*`
/// is a glob, and `re:` patterns are read as anchored globs (`.*` → `*`).
pub fn checkpoint_weight_bytes(arch: &ModelArch) -> WeightBytes {
    let precision = Precision::from_config(arch);
    stage_bytes(
        arch,
        precision,
        1,
        &[arch.num_layers],
        excluded(arch, precision),
    )
    .into_iter()
    .next()
    .unwrap_or_default()
}

/// [`checkpoint_weight_bytes`] on the most loaded GPU, split as [`weight_bytes_per_stage`].
pub fn checkpoint_weight_bytes_per_gpu(arch: &ModelArch, tp: u64, pp: u64) -> Result<Bytes> {
    arch.check_parallelism(tp, pp)?;
    let split = arch.pipeline_layer_split(pp)?;
    let precision = Precision::from_config(arch);
    Ok(
        stage_bytes(arch, precision, tp, &split, excluded(arch, precision))
            .iter()
            .map(|s| s.total)
            .max()
            .unwrap_or_default(),
    )
}

fn excluded(arch: &ModelArch, precision: Precision) -> &[String] {
    match &arch.quantization {
        Some(q) if precision.is_quantized() => &q.excluded_modules,
        _ => &[],
    }
}

/// Per-GPU bytes of each stage; `split` holds the layers of each stage.
fn stage_bytes(
    arch: &ModelArch,
    precision: Precision,
    tp: u64,
    split: &[u64],
    exclude: &[String],
) -> Vec<WeightBytes> {
    let tp = tp.max(1);
    let dense = precision.dense_bytes_per_param();
    let linears = arch.linear_layers_per_gpu(tp);
    let layer_linear = |layer: u64| -> u64 {
        linears.iter().fold(0u64, |acc, l| {
            let one = if !exclude.is_empty() && module_excluded(&l.module_path(layer), exclude) {
                l.in_features
                    .saturating_mul(l.out_features)
                    .saturating_mul(dense)
            } else {
                precision.linear_bytes(l.in_features, l.out_features)
            };
            acc.saturating_add(one.saturating_mul(l.per_layer))
        })
    };
    let layer_other = linears
        .iter()
        .map(LinearShape::bias_params)
        .fold(0u64, u64::saturating_add)
        .saturating_add(arch.norm_params_per_layer())
        .saturating_add(arch.router_params_per_layer())
        .saturating_mul(dense);
    let embed_rank = arch
        .vocab_size
        .div_ceil(tp)
        .saturating_mul(arch.hidden_size)
        .saturating_mul(dense);
    let stages = split.len();
    let exact = !exclude.is_empty() && arch.num_layers <= EXACT_LAYER_LIMIT;
    let mut first_layer = 0u64;
    let mut out = Vec::with_capacity(stages);
    for (stage, &layers) in split.iter().enumerate() {
        let linear = if exact {
            (first_layer..first_layer.saturating_add(layers))
                .fold(0u64, |acc, layer| acc.saturating_add(layer_linear(layer)))
        } else {
            layer_linear(first_layer).saturating_mul(layers)
        };
        let last = stage + 1 == stages;
        let mut other = layer_other.saturating_mul(layers);
        if last {
            other = other.saturating_add(arch.final_norm_params().saturating_mul(dense));
        }
        let embeddings = if stage == 0 { embed_rank } else { 0 };
        let lm_head = if last && (!arch.tie_word_embeddings || stages > 1) {
            embed_rank
        } else {
            0
        };
        let total = embeddings
            .saturating_add(lm_head)
            .saturating_add(linear)
            .saturating_add(other);
        out.push(WeightBytes {
            embeddings: Bytes::new(embeddings),
            lm_head: Bytes::new(lm_head),
            linear: Bytes::new(linear),
            other: Bytes::new(other),
            total: Bytes::new(total),
        });
        first_layer = first_layer.saturating_add(layers);
    }
    out
}

/// Whether `path` matches one of the exclusion patterns (see [`checkpoint_weight_bytes`]).
fn module_excluded(path: &str, patterns: &[String]) -> bool {
    patterns.iter().any(|pattern| {
        if let Some(re) = pattern.strip_prefix("re:") {
            let re = re.strip_prefix('^').unwrap_or(re);
            let (re, anchored) = match re.strip_suffix('$') {
                Some(re) => (re, true),
                None => (re, false),
            };
            let mut glob = re.replace(".*", "*").replace("\\.", ".");
            if !anchored {
                glob.push('*');
            }
            glob_match(&glob, path)
        } else if pattern.contains('*') {
            glob_match(pattern, path)
        } else {
            path == pattern
                || path.ends_with(&format!(".{pattern}"))
                || path.starts_with(&format!("{pattern}."))
                || path.contains(&format!(".{pattern}."))
        }
    })
}

/// `*` matches any run of characters; everything else matches itself.
fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ModelCatalog, QuantizationConfig};

    fn arch(name: &str) -> ModelArch {
        ModelCatalog::builtin().lookup(name).unwrap().arch.clone()
    }

    #[test]
    fn parse_and_display_round_trip() {
        for (text, precision) in [
            ("bf16", Precision::Bf16),
            ("BF16", Precision::Bf16),
            ("bfloat16", Precision::Bf16),
            ("fp16", Precision::Fp16),
            ("half", Precision::Fp16),
            ("fp32", Precision::Fp32),
            ("fp8", Precision::Fp8),
            ("int8", Precision::Int8),
            ("int4", Precision::INT4_AWQ),
            ("int4-awq", Precision::INT4_AWQ),
            ("AWQ", Precision::INT4_AWQ),
            ("int4_awq", Precision::INT4_AWQ),
            ("int4-gptq", Precision::INT4_GPTQ),
            ("gptq", Precision::INT4_GPTQ),
            ("gptq-g32", Precision::Int4Gptq { group_size: 32 }),
            ("int4-awq-g64", Precision::Int4Awq { group_size: 64 }),
            ("nvfp4", Precision::Nvfp4),
            ("MXFP4", Precision::Mxfp4),
        ] {
            assert_eq!(text.parse::<Precision>().unwrap(), precision, "{text}");
            assert_eq!(
                precision.to_string().parse::<Precision>().unwrap(),
                precision
            );
        }
        assert_eq!(Precision::INT4_AWQ.to_string(), "int4-awq");
        assert_eq!(
            Precision::Int4Gptq { group_size: 32 }.to_string(),
            "int4-gptq-g32"
        );
        for bad in ["int3", "", "fp8-g64", "awq-g", "awq-g99999999999"] {
            match bad.parse::<Precision>() {
                Err(Error::Invalid { field, message }) => {
                    assert_eq!(field, "precision");
                    assert!(message.contains("nvfp4"), "{message}");
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn serde_is_the_lowercase_string() {
        assert_eq!(
            serde_json::to_string(&Precision::Nvfp4).unwrap(),
            "\"nvfp4\""
        );
        assert_eq!(
            serde_json::from_str::<Precision>("\"int4-gptq-g64\"").unwrap(),
            Precision::Int4Gptq { group_size: 64 }
        );
        assert!(serde_json::from_str::<Precision>("\"fp7\"").is_err());
        assert_eq!(serde_json::to_string(&KvDtype::Fp8).unwrap(), "\"fp8\"");
        assert_eq!(
            serde_json::from_str::<KvDtype>("\"fp8_e5m2\"").unwrap(),
            KvDtype::Fp8
        );
    }

    #[test]
    fn kv_dtypes() {
        for (text, dtype, bytes) in [
            ("auto", KvDtype::Auto, 2.0),
            ("fp8", KvDtype::Fp8, 1.0),
            ("fp8_e4m3", KvDtype::Fp8, 1.0),
            ("FP8_E5M2", KvDtype::Fp8, 1.0),
            ("bf16", KvDtype::Bf16, 2.0),
            ("bfloat16", KvDtype::Bf16, 2.0),
            ("half", KvDtype::Fp16, 2.0),
            ("float16", KvDtype::Fp16, 2.0),
            ("float32", KvDtype::Fp32, 4.0),
            ("int8", KvDtype::Int8, 1.0),
            ("nvfp4", KvDtype::Nvfp4, 0.5625),
        ] {
            let parsed: KvDtype = text.parse().unwrap();
            assert_eq!(parsed, dtype);
            assert_eq!(parsed.bytes_per_element(), bytes);
            assert_eq!(parsed.to_string().parse::<KvDtype>().unwrap(), dtype);
        }
        assert!(matches!(
            "fp4".parse::<KvDtype>(),
            Err(Error::Invalid { field, .. }) if field == "kv-cache-dtype"
        ));
    }

    #[test]
    fn bits_per_weight() {
        assert_eq!(Precision::Bf16.bits_per_weight(), 16.0);
        assert!((Precision::INT4_AWQ.bits_per_weight() - 4.15625).abs() < 1e-9);
        assert_eq!(Precision::Nvfp4.bits_per_weight(), 4.5);
        assert_eq!(Precision::Mxfp4.bits_per_weight(), 4.25);
        assert_eq!(Precision::Int4Awq { group_size: 0 }.bits_per_weight(), 4.0);
    }

    #[test]
    fn linear_bytes_per_format() {
        let (i, o) = (4096u64, 1024u64);
        assert_eq!(Precision::Bf16.linear_bytes(i, o), i * o * 2);
        assert_eq!(Precision::Fp32.linear_bytes(i, o), i * o * 4);
        assert_eq!(Precision::Fp8.linear_bytes(i, o), i * o + 8);
        assert_eq!(Precision::Int8.linear_bytes(i, o), i * o + 4 * o);
        // 32 groups of 128: FP16 scale + 4-bit zero per group and column.
        assert_eq!(
            Precision::INT4_AWQ.linear_bytes(i, o),
            i * o / 2 + 32 * o * 2 + 32 * o / 2
        );
        assert_eq!(
            Precision::INT4_GPTQ.linear_bytes(i, o),
            i * o / 2 + 32 * o * 2 + 32 * o / 2 + 4 * i
        );
        assert_eq!(
            Precision::Int4Awq { group_size: 0 }.linear_bytes(i, o),
            i * o / 2 + o * 2 + o / 2
        );
        assert_eq!(
            Precision::Nvfp4.linear_bytes(i, o),
            i * o / 2 + i / 16 * o + 8
        );
        assert_eq!(Precision::Mxfp4.linear_bytes(i, o), i * o / 2 + i / 32 * o);
        // Effective bits approach bits_per_weight for large matrices.
        let bits = Precision::Nvfp4.linear_bytes(8192, 8192) as f64 * 8.0 / (8192.0 * 8192.0);
        assert!((bits - 4.5).abs() < 1e-6);
        // Saturates rather than overflowing.
        assert!(Precision::Mxfp4.linear_bytes(u64::MAX, 2) >= u64::MAX / 2);
        assert_eq!(Precision::Fp32.linear_bytes(u64::MAX, 2), u64::MAX);
    }

    #[test]
    fn llama_8b_int4_awq_is_5_7_gb_not_4() {
        let llama = arch("meta/llama-3.1-8b-instruct");
        let w = weight_bytes(&llama, Precision::INT4_AWQ);
        let linear_params: u64 = 6_979_321_856;
        assert_eq!(w.embeddings, Bytes::new(128_256 * 4096 * 2));
        assert_eq!(w.lm_head, w.embeddings);
        // 4 bits + (16 + 4) bits per 128 weights.
        assert_eq!(
            w.linear,
            Bytes::new(linear_params / 2 + linear_params / 128 * 5 / 2)
        );
        assert_eq!(w.other, Bytes::new((32 * 2 * 4096 + 4096) * 2));
        assert_eq!(w.total, w.embeddings + w.lm_head + w.linear + w.other);
        assert!((w.total.gb() - 5.73).abs() < 0.01, "{}", w.total.gb());
        let naive = llama.total_params() as f64 * 0.5 / 1e9;
        assert!(w.total.gb() > naive * 1.35);
    }

    #[test]
    fn bf16_is_two_bytes_per_param() {
        for model in ModelCatalog::builtin().iter() {
            let w = weight_bytes(&model.arch, Precision::Bf16);
            assert_eq!(
                w.total.get(),
                model.arch.total_params() * 2,
                "{}",
                model.hf_id
            );
            let w = weight_bytes(&model.arch, Precision::Fp32);
            assert_eq!(
                w.total.get(),
                model.arch.total_params() * 4,
                "{}",
                model.hf_id
            );
        }
    }

    #[test]
    fn quantized_formats_keep_embeddings_16_bit() {
        let llama = arch("meta/llama-3.1-70b-instruct");
        let bf16 = weight_bytes(&llama, Precision::Bf16);
        for p in [
            Precision::Fp8,
            Precision::Int8,
            Precision::INT4_AWQ,
            Precision::INT4_GPTQ,
            Precision::Nvfp4,
            Precision::Mxfp4,
        ] {
            let w = weight_bytes(&llama, p);
            assert_eq!(w.embeddings, bf16.embeddings, "{p}");
            assert_eq!(w.lm_head, bf16.lm_head, "{p}");
            assert_eq!(w.other, bf16.other, "{p}");
            let linear_params = llama.param_breakdown().attention + llama.param_breakdown().mlp;
            let bits = w.linear.get() as f64 * 8.0 / linear_params as f64;
            assert!((bits - p.bits_per_weight()).abs() < 0.01, "{p}: {bits}");
        }
    }

    #[test]
    fn tensor_parallel_split() {
        let llama = arch("meta/llama-3.3-70b-instruct");
        let whole = weight_bytes(&llama, Precision::Bf16).total;
        let tp4 = weight_bytes_per_gpu(&llama, Precision::Bf16, 4, 1).unwrap();
        // Only norms are replicated.
        let norms = llama.param_breakdown().norms * 2;
        assert_eq!(tp4.get(), (whole.get() - norms) / 4 + norms);
        assert!((tp4.gb() - 35.28).abs() < 0.01);
        // NIM's heuristic "Llama 3.1 8B BF16 TP1 → 16 GB".
        let llama8 = arch("meta/llama-3.1-8b-instruct");
        let tp1 = weight_bytes_per_gpu(&llama8, Precision::Bf16, 1, 1).unwrap();
        assert!((tp1.gb() - 16.06).abs() < 0.01);
    }

    #[test]
    fn kv_projections_replicate_past_the_kv_heads() {
        let llama = arch("meta/llama-3.1-8b-instruct"); // 8 KV heads
        let kv_bytes = |tp: u64| {
            llama
                .linear_layers_per_gpu(tp)
                .iter()
                .filter(|l| l.name == "k_proj" || l.name == "v_proj")
                .map(|l| l.weight_params())
                .sum::<u64>()
        };
        assert_eq!(kv_bytes(8), 2 * 4096 * 128);
        assert_eq!(kv_bytes(16), 2 * 4096 * 128);
        assert_eq!(kv_bytes(32), 2 * 4096 * 128);
        let tp16 = weight_bytes_per_gpu(&llama, Precision::Bf16, 16, 1).unwrap();
        let tp8 = weight_bytes_per_gpu(&llama, Precision::Bf16, 8, 1).unwrap();
        assert!(tp16.get() * 2 > tp8.get());
    }

    #[test]
    fn pipeline_stages() {
        let llama = arch("meta/llama-3.1-8b-instruct");
        let stages = weight_bytes_per_stage(&llama, Precision::Bf16, 1, 2).unwrap();
        assert_eq!(stages.len(), 2);
        assert!(stages[0].lm_head.get() == 0 && stages[1].embeddings.get() == 0);
        assert_eq!(stages[0].embeddings, stages[1].lm_head);
        let sum: Bytes = stages.iter().map(|s| s.total).sum();
        assert_eq!(sum, weight_bytes(&llama, Precision::Bf16).total);
        assert_eq!(
            weight_bytes_per_gpu(&llama, Precision::Bf16, 1, 2).unwrap(),
            stages[0].total.max(stages[1].total)
        );
        // Tied embeddings: one copy without PP, one per end stage with it.
        let tied = arch("meta/llama-3.2-1b-instruct");
        let whole = weight_bytes(&tied, Precision::Bf16);
        assert_eq!(whole.lm_head, Bytes::ZERO);
        let stages = weight_bytes_per_stage(&tied, Precision::Bf16, 1, 2).unwrap();
        assert_eq!(stages[1].lm_head, whole.embeddings);
    }

    #[test]
    fn parallelism_errors() {
        let llama = arch("meta/llama-3.1-8b-instruct");
        let err = weight_bytes_per_gpu(&llama, Precision::Bf16, 3, 1).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--tp: --tp 3: 32 attention heads are not divisible by 3"
        );
        assert!(weight_bytes_per_gpu(&llama, Precision::Bf16, 0, 1).is_err());
        assert!(weight_bytes_per_gpu(&llama, Precision::Bf16, 1, 0).is_err());
        assert!(weight_bytes_per_gpu(&llama, Precision::Bf16, 1, 33).is_err());
        assert!(weight_bytes_per_gpu(&llama, Precision::Bf16, 1, 32).is_ok());
    }

    #[test]
    fn from_config_reads_quantization() {
        let mut a = arch("meta/llama-3.1-8b-instruct");
        assert_eq!(Precision::from_config(&a), Precision::Bf16);
        a.torch_dtype = Some("float16".into());
        assert_eq!(Precision::from_config(&a), Precision::Fp16);
        a.torch_dtype = Some("float32".into());
        assert_eq!(Precision::from_config(&a), Precision::Fp32);
        let cases = [
            (
                serde_json::json!({"quant_method": "awq", "bits": 4, "group_size": 64}),
                Precision::Int4Awq { group_size: 64 },
            ),
            (
                serde_json::json!({"quant_method": "gptq", "bits": 4, "group_size": 128}),
                Precision::INT4_GPTQ,
            ),
            (
                serde_json::json!({"quant_method": "gptq", "bits": 8, "group_size": 128}),
                Precision::Int8,
            ),
            (
                serde_json::json!({"quant_method": "fp8", "activation_scheme": "dynamic"}),
                Precision::Fp8,
            ),
            (
                serde_json::json!({"quant_method": "fbgemm_fp8"}),
                Precision::Fp8,
            ),
            (
                serde_json::json!({"quant_method": "mxfp4"}),
                Precision::Mxfp4,
            ),
            (
                serde_json::json!({"quant_method": "modelopt", "quant_algo": "NVFP4"}),
                Precision::Nvfp4,
            ),
            (
                serde_json::json!({"quant_method": "modelopt", "quant_algo": "FP8"}),
                Precision::Fp8,
            ),
            (
                serde_json::json!({"quant_method": "modelopt", "quant_algo": "W4A16_AWQ", "group_size": 128}),
                Precision::INT4_AWQ,
            ),
            (
                serde_json::json!({"quant_method": "compressed-tensors", "format": "nvfp4-pack-quantized"}),
                Precision::Nvfp4,
            ),
            (
                serde_json::json!({"quant_method": "compressed-tensors", "format": "float-quantized",
                "config_groups": {"group_0": {"weights": {"num_bits": 8, "type": "float"}}}}),
                Precision::Fp8,
            ),
            (
                serde_json::json!({"quant_method": "compressed-tensors", "format": "int-quantized",
                "config_groups": {"group_0": {"weights": {"num_bits": 8, "type": "int"}}}}),
                Precision::Int8,
            ),
            (
                serde_json::json!({"quant_method": "compressed-tensors", "format": "pack-quantized",
                "config_groups": {"group_0": {"weights": {"num_bits": 4, "type": "int", "group_size": 128, "symmetric": true}}}}),
                Precision::INT4_GPTQ,
            ),
            (
                serde_json::json!({"quant_method": "compressed-tensors", "format": "pack-quantized",
                "config_groups": {"group_0": {"weights": {"num_bits": 4, "type": "int", "group_size": 32, "symmetric": false}}}}),
                Precision::Int4Awq { group_size: 32 },
            ),
            (
                serde_json::json!({"quant_method": "bitsandbytes", "load_in_4bit": true}),
                Precision::Fp32,
            ),
        ];
        for (config, expected) in cases {
            a.quantization = Some(QuantizationConfig::from_json(&config).unwrap());
            assert_eq!(Precision::from_config(&a), expected, "{config}");
        }
    }

    #[test]
    fn exclusion_patterns() {
        let path = "model.layers.3.self_attn.q_proj";
        let yes = |p: &str| module_excluded(path, &[p.to_owned()]);
        assert!(yes("self_attn"));
        assert!(yes("q_proj"));
        assert!(yes(path));
        assert!(yes("model.layers.3.self_attn"));
        assert!(!yes("model.layers.30.self_attn"));
        assert!(!yes("q"));
        assert!(!yes("lm_head"));
        assert!(yes("*self_attn*"));
        assert!(yes("model.layers.3.*"));
        assert!(!yes("model.layers.4.*"));
        assert!(yes("re:.*self_attn.*"));
        assert!(yes("re:.*q_proj$"));
        assert!(!yes("re:.*k_proj$"));
        assert!(!module_excluded(
            "model.layers.0.mlp.gate_proj",
            &["gate".to_owned()]
        ));
        assert!(glob_match("a*b*c", "axxbyyc"));
        assert!(!glob_match("a*b*c", "axxbyy"));
        assert!(glob_match("*", ""));
    }

    #[test]
    fn checkpoint_bytes_honour_exclusions() {
        let mut llama = arch("meta/llama-3.1-8b-instruct");
        llama.quantization = Some(QuantizationConfig {
            quant_method: "fbgemm_fp8".into(),
            excluded_modules: vec!["self_attn".into(), "lm_head".into()],
            ..QuantizationConfig::default()
        });
        let b = llama.param_breakdown();
        let w = checkpoint_weight_bytes(&llama);
        // Attention stays 2 bytes; each MLP matrix is 1 byte plus 8 bytes of scales.
        assert_eq!(w.linear.get(), b.attention * 2 + b.mlp + 32 * 3 * 8);
        // Only layer 0's attention excluded.
        llama.quantization = Some(QuantizationConfig {
            quant_method: "fp8".into(),
            excluded_modules: vec!["model.layers.0.self_attn*".into()],
            ..QuantizationConfig::default()
        });
        let w = checkpoint_weight_bytes(&llama);
        let per_layer_attn = b.attention / 32;
        assert_eq!(
            w.linear.get(),
            b.attention + per_layer_attn + b.mlp + 32 * 7 * 8 - 4 * 8
        );
        let tp2 = checkpoint_weight_bytes_per_gpu(&llama, 2, 1).unwrap();
        assert!(tp2.get() < w.total.get() / 2 + w.total.get() / 100);
        // Without quantization the checkpoint is its torch_dtype.
        llama.quantization = None;
        assert_eq!(
            checkpoint_weight_bytes(&llama),
            weight_bytes(&llama, Precision::Bf16)
        );
    }
}
