//! Model architectures: a Hugging Face `config.json` parsed into a [`ModelArch`], parameter
//! counts derived from its shapes, and the built-in [`ModelCatalog`] of the models NIM serves.
//!
//! The counts follow the module structure of the Hugging Face `transformers` implementations
//! (`LlamaForCausalLM`, `MistralForCausalLM`, `MixtralForCausalLM`, `Qwen2ForCausalLM`,
//! `Gemma2ForCausalLM`, `Phi3ForCausalLM`, `NemotronForCausalLM`, …) and reproduce the
//! published totals exactly (see `PROFILES-SIZING.md` §3): Llama-3.1-8B 8,030,261,248,
//! Mixtral-8x7B 46,702,792,704 total / 12,879,925,248 active, Gemma-2-9B 9,241,705,984.
//!
//! Architecture caveats handled here (`PROFILES-SIZING.md` §3):
//! - an explicit `head_dim` wins over `hidden_size / num_attention_heads` (Gemma 2 9B: 256, not 224);
//! - tied embeddings store no separate `lm_head` (Llama 3.2, Gemma 2);
//! - MoE: `intermediate_size` is per expert, weights count every expert, compute only the top-k;
//! - sliding windows: Gemma 2 alternates local and global layers, Phi-3-mini-4k slides on every
//!   layer, Qwen2.5 declares a window but `use_sliding_window: false`, and a window at least as
//!   long as `max_position_embeddings` (Phi-3-mini-128k: 262,144) is inactive.
//!
//! Any other architecture with the standard keys is read as a Llama-style decoder (RMSNorm,
//! gated MLP, untied unless `tie_word_embeddings` says so); MoE configs are taken to have
//! experts on every layer (Qwen-MoE `decoder_sparse_step: 1`), with `moe_intermediate_size` and
//! `shared_expert_intermediate_size` when given.
//!
//! Heterogeneous Nemotron-NAS / DeciLM configs (`block_configs`) and multi-head latent attention
//! (DeepSeek-V2/V3, `kv_lora_rank`) are rejected with an error: a uniform-layer formula is wrong
//! for them.
//!
//! ```
//! use nim_sizing::model::{ModelArch, ModelCatalog};
//! use nim_sizing::precision::KvDtype;
//! use nim_sizing::units::Bytes;
//!
//! let arch = ModelArch::from_config_json(r#"{
//!     "architectures": ["LlamaForCausalLM"], "model_type": "llama",
//!     "hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32,
//!     "num_key_value_heads": 8, "intermediate_size": 14336, "vocab_size": 128256,
//!     "max_position_embeddings": 131072, "tie_word_embeddings": false,
//!     "torch_dtype": "bfloat16"
//! }"#)?;
//! assert_eq!(arch.head_dim, 128);
//! assert_eq!(arch.total_params(), 8_030_261_248);
//! assert_eq!(arch.kv_bytes_per_token(KvDtype::Bf16), Bytes::new(131_072));
//!
//! let model = ModelCatalog::builtin().lookup("meta/llama-3.1-8b-instruct")?;
//! assert_eq!(model.hf_id, "meta-llama/Llama-3.1-8B-Instruct");
//! assert_eq!(model.arch.total_params(), model.published_params);
//! # Ok::<(), nim_sizing::Error>(())
//! ```

use std::borrow::Cow;
use std::path::Path;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::precision::KvDtype;
use crate::units::Bytes;

/// The largest parameter count a [`ModelArch`] may have (2^60), so that byte arithmetic at any
/// precision stays far from `u64` overflow.
pub const MAX_PARAMS: u64 = 1 << 60;

/// The most pipeline-parallel stages accepted by [`ModelArch::pipeline_layer_split`].
pub const MAX_PIPELINE_STAGES: u64 = 4096;

/// How a normalization layer stores its parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NormKind {
    /// RMSNorm: one weight per hidden element (Llama, Mistral, Qwen, Gemma, Phi-3).
    RmsNorm,
    /// LayerNorm with weight and bias (Nemotron's `LayerNorm1P`).
    LayerNorm,
}

impl NormKind {
    /// Parameters per normalized element: 1 for RMSNorm, 2 for LayerNorm.
    pub const fn params_per_element(self) -> u64 {
        match self {
            NormKind::RmsNorm => 1,
            NormKind::LayerNorm => 2,
        }
    }
}

/// Which layers use a sliding attention window.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SlidingLayers {
    /// Every layer (Mistral v0.1, Phi-3-mini-4k).
    All,
    /// Even-indexed layers (0, 2, 4, …) are local, odd ones global: Gemma 2
    /// (`transformers` `Gemma2DecoderLayer`: `is_sliding = not bool(layer_idx % 2)`).
    Alternating,
    /// Every layer except each `global_every`-th one (1-based): Gemma 3's
    /// `sliding_window_pattern` (layer `i` is global when `(i + 1) % global_every == 0`).
    Periodic {
        /// Period of the global layers.
        global_every: u64,
    },
    /// Layers with index at or above this one (Qwen2's `max_window_layers`).
    FromLayer(u64),
    /// One flag per layer, `true` for sliding (`layer_types: ["sliding_attention", …]`).
    Explicit(Vec<bool>),
}

/// An active sliding attention window.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SlidingWindow {
    /// Window length in tokens, as the config states it (Phi-3-mini-4k: 2047).
    pub size: u64,
    /// The layers it applies to.
    pub layers: SlidingLayers,
}

impl SlidingWindow {
    /// Whether layer `layer` (0-based) uses the window.
    pub fn applies_to(&self, layer: u64) -> bool {
        match &self.layers {
            SlidingLayers::All => true,
            SlidingLayers::Alternating => layer.is_multiple_of(2),
            SlidingLayers::Periodic { global_every } => {
                *global_every == 0 || !(layer.saturating_add(1)).is_multiple_of(*global_every)
            }
            SlidingLayers::FromLayer(first) => layer >= *first,
            SlidingLayers::Explicit(flags) => usize::try_from(layer)
                .ok()
                .and_then(|i| flags.get(i))
                .copied()
                .unwrap_or(false),
        }
    }

    /// How many of `num_layers` layers use the window.
    pub fn sliding_layers(&self, num_layers: u64) -> u64 {
        match &self.layers {
            SlidingLayers::All => num_layers,
            SlidingLayers::Alternating => num_layers.div_ceil(2),
            SlidingLayers::Periodic { global_every } => {
                if *global_every == 0 {
                    num_layers
                } else {
                    num_layers - num_layers / global_every
                }
            }
            SlidingLayers::FromLayer(first) => num_layers.saturating_sub(*first),
            SlidingLayers::Explicit(flags) => flags
                .iter()
                .take(usize::try_from(num_layers).unwrap_or(usize::MAX))
                .filter(|sliding| **sliding)
                .count() as u64,
        }
    }
}

/// The `quantization_config` of a `config.json`, reduced to what sizing needs.
///
/// Recognized producers: AutoAWQ (`quant_method: "awq"`, `bits`, `group_size`, `zero_point`),
/// AutoGPTQ (`"gptq"`, `bits`, `group_size`, `sym`), FP8 (`"fp8"`, `"fbgemm_fp8"`), ModelOpt
/// (`"modelopt"`, `quant_algo`), llm-compressor (`"compressed-tensors"`, `format`,
/// `config_groups.*.weights`), MXFP4 (`"mxfp4"`). Unknown keys are ignored.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct QuantizationConfig {
    /// `quant_method`, lowercased (`"awq"`, `"gptq"`, `"fp8"`, `"compressed-tensors"`,
    /// `"modelopt"`, …); `"unknown"` when absent.
    pub quant_method: String,
    /// ModelOpt `quant_algo` (`"FP8"`, `"NVFP4"`, `"W4A16_AWQ"`).
    pub quant_algo: Option<String>,
    /// compressed-tensors `format` (`"float-quantized"`, `"pack-quantized"`, `"nvfp4-pack-quantized"`).
    pub format: Option<String>,
    /// Weight bits (`bits`, `w_bit`, or `config_groups.*.weights.num_bits`).
    pub bits: Option<u32>,
    /// Group size; `Some(0)` for per-channel (`-1` in GPTQ configs).
    pub group_size: Option<u32>,
    /// compressed-tensors weight type: `"int"` or `"float"`.
    pub weight_type: Option<String>,
    /// Symmetric quantization (`sym`, `symmetric`, or `!zero_point`).
    pub symmetric: Option<bool>,
    /// Modules left unquantized: `modules_to_not_convert`, `ignore` or `exclude_modules`
    /// (plain dotted names, `*` globs, or `re:` patterns).
    pub excluded_modules: Vec<String>,
}

impl QuantizationConfig {
    /// Reads a `quantization_config` object. Only its shape is checked: unknown or malformed
    /// optional keys are ignored, since producers disagree on them.
    pub fn from_json(value: &Value) -> Result<Self> {
        Self::from_json_at(value, "quantization_config")
    }

    fn from_json_at(value: &Value, field: &str) -> Result<Self> {
        let Value::Object(obj) = value else {
            return Err(Error::invalid(field, "expected a JSON object"));
        };
        let text = |key: &str| obj.get(key).and_then(Value::as_str).map(str::to_owned);
        let small = |v: Option<&Value>| -> Option<u32> {
            v.and_then(Value::as_i64).and_then(|n| {
                if n < 0 {
                    Some(0)
                } else {
                    u32::try_from(n).ok()
                }
            })
        };
        // compressed-tensors / ModelOpt: the first config group's weight scheme.
        let weights = obj
            .get("config_groups")
            .and_then(Value::as_object)
            .and_then(|groups| groups.values().next())
            .and_then(|group| group.get("weights"))
            .and_then(Value::as_object);
        let bits = small(obj.get("bits"))
            .or_else(|| small(obj.get("w_bit")))
            .or_else(|| small(weights.and_then(|w| w.get("num_bits"))));
        let group_size = small(obj.get("group_size"))
            .or_else(|| small(obj.get("q_group_size")))
            .or_else(|| small(weights.and_then(|w| w.get("group_size"))));
        let symmetric = obj
            .get("sym")
            .and_then(Value::as_bool)
            .or_else(|| obj.get("zero_point").and_then(Value::as_bool).map(|z| !z))
            .or_else(|| {
                weights
                    .and_then(|w| w.get("symmetric"))
                    .and_then(Value::as_bool)
            });
        let mut excluded_modules = Vec::new();
        for key in ["modules_to_not_convert", "ignore", "exclude_modules"] {
            if let Some(Value::Array(items)) = obj.get(key) {
                excluded_modules.extend(items.iter().filter_map(Value::as_str).map(str::to_owned));
            }
        }
        Ok(Self {
            quant_method: text("quant_method")
                .map(|m| m.to_ascii_lowercase())
                .unwrap_or_else(|| "unknown".to_owned()),
            quant_algo: text("quant_algo"),
            format: text("format"),
            bits,
            group_size,
            weight_type: weights
                .and_then(|w| w.get("type"))
                .and_then(Value::as_str)
                .map(str::to_owned),
            symmetric,
            excluded_modules,
        })
    }
}

/// Which part of a decoder layer a linear weight belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinearGroup {
    /// q/k/v/o projections.
    Attention,
    /// Dense MLP.
    Mlp,
    /// Routed MoE experts.
    Expert,
    /// Shared (always active) MoE experts.
    SharedExpert,
}

/// How tensor parallelism splits a linear layer (Megatron style, as vLLM does).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TpSplit {
    /// Output features split across ranks; bias split too.
    Column,
    /// Input features split across ranks; bias replicated.
    Row,
}

/// One linear weight matrix of a decoder layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct LinearShape {
    /// Module name within the layer, as in `transformers` (`q_proj`, `qkv_proj`, `gate_up_proj`,
    /// `experts.down_proj`).
    pub name: &'static str,
    /// Attention, MLP or expert.
    pub group: LinearGroup,
    /// Input features.
    pub in_features: u64,
    /// Output features.
    pub out_features: u64,
    /// Copies per layer: the number of experts for expert weights, else 1.
    pub per_layer: u64,
    /// Whether the layer has a bias vector (`out_features` long).
    pub bias: bool,
    /// How tensor parallelism splits it.
    pub split: TpSplit,
}

impl LinearShape {
    /// Weight parameters of all copies in one layer.
    pub fn weight_params(&self) -> u64 {
        self.in_features
            .saturating_mul(self.out_features)
            .saturating_mul(self.per_layer)
    }

    /// Bias parameters of all copies in one layer.
    pub fn bias_params(&self) -> u64 {
        if self.bias {
            self.out_features.saturating_mul(self.per_layer)
        } else {
            0
        }
    }

    /// The `transformers` module path of this linear in layer `layer`
    /// (`model.layers.3.self_attn.q_proj`, `model.layers.3.mlp.experts.down_proj`).
    pub fn module_path(&self, layer: u64) -> String {
        let block = match self.group {
            LinearGroup::Attention => "self_attn",
            _ => "mlp",
        };
        format!("model.layers.{layer}.{block}.{}", self.name)
    }
}

/// Parameter counts by component, whole model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ParamBreakdown {
    /// Token embeddings (`vocab_size × hidden_size`).
    pub embeddings: u64,
    /// The LM head; 0 when tied to the embeddings.
    pub lm_head: u64,
    /// Attention projection weights (q, k, v, o) of all layers.
    pub attention: u64,
    /// MLP weights of all layers, every expert included.
    pub mlp: u64,
    /// MoE router (and shared-expert gate) weights.
    pub router: u64,
    /// Normalization weights (and LayerNorm biases), final norm included.
    pub norms: u64,
    /// Linear-layer biases (Qwen2's qkv bias, `attention_bias`, `mlp_bias`).
    pub biases: u64,
    /// Sum of the above.
    pub total: u64,
}

/// A decoder-only transformer's shape, as read from a Hugging Face `config.json`.
///
/// Layers are uniform: every layer has the same shapes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelArch {
    /// The model's name: `_name_or_path` from the config, the Hugging Face id for catalog
    /// models, the checkpoint directory for [`ModelArch::from_config_file`], else the
    /// architecture.
    pub name: String,
    /// `architectures[0]` (`LlamaForCausalLM`), else `model_type`, else `"unknown"`.
    pub architecture: String,
    /// `model_type` (`llama`, `gemma2`, …), when given.
    pub model_type: Option<String>,
    /// `hidden_size`.
    pub hidden_size: u64,
    /// `num_hidden_layers`.
    pub num_layers: u64,
    /// `num_attention_heads` (query heads).
    pub num_attention_heads: u64,
    /// `num_key_value_heads` (equal to the query heads when absent: MHA).
    pub num_kv_heads: u64,
    /// `head_dim` when the config gives it, else `hidden_size / num_attention_heads`.
    pub head_dim: u64,
    /// FFN size; per expert for MoE (`moe_intermediate_size` when given).
    pub intermediate_size: u64,
    /// `vocab_size`.
    pub vocab_size: u64,
    /// `max_position_embeddings`.
    pub max_position_embeddings: u64,
    /// Whether the LM head shares the embedding weights.
    pub tie_word_embeddings: bool,
    /// Routed experts per MoE layer; 1 for dense models.
    pub num_experts: u64,
    /// Experts per token; 1 for dense models.
    pub experts_per_token: u64,
    /// Shared-expert FFN size (Qwen2-MoE `shared_expert_intermediate_size`); 0 when none.
    pub shared_expert_intermediate_size: u64,
    /// The active sliding window; `None` when absent or inactive.
    pub sliding_window: Option<SlidingWindow>,
    /// Bias on the q/k/v projections (Qwen2; or `attention_bias: true`).
    pub attention_bias: bool,
    /// Bias on the output projection (`attention_bias: true` outside Qwen2).
    pub attention_output_bias: bool,
    /// Bias on the MLP projections (`mlp_bias`).
    pub mlp_bias: bool,
    /// Gated MLP (gate, up, down: SwiGLU / GeGLU) rather than up, down (Nemotron's relu²).
    pub gated_mlp: bool,
    /// q, k, v stored as one `qkv_proj` (Phi-3).
    pub fused_qkv: bool,
    /// gate and up stored as one `gate_up_proj` (Phi-3).
    pub fused_gate_up: bool,
    /// Normalization layers per decoder layer: 2 (pre-attention, pre-MLP), 4 for Gemma 2/3.
    pub norms_per_layer: u64,
    /// RMSNorm or LayerNorm.
    pub norm: NormKind,
    /// Per-head q and k norms (Qwen3, Gemma 3): `2 × head_dim` weights per layer.
    pub qk_norm: bool,
    /// Checkpoint dtype from `torch_dtype` (or `dtype`), e.g. `"bfloat16"`.
    pub torch_dtype: Option<String>,
    /// `quantization_config`, for pre-quantized checkpoints.
    pub quantization: Option<QuantizationConfig>,
}

/// Architecture-family defaults for what `config.json` leaves implicit.
#[derive(Clone, Copy, Debug)]
struct Family {
    tie_default: bool,
    forced_qkv_bias: bool,
    norms_per_layer: u64,
    norm: NormKind,
    gated_mlp: bool,
    fused: bool,
    qk_norm: bool,
    sliding: SlidingDefault,
}

#[derive(Clone, Copy, Debug)]
enum SlidingDefault {
    All,
    Alternating,
    Periodic,
    FromMaxWindowLayers,
}

impl Family {
    const LLAMA: Family = Family {
        tie_default: false,
        forced_qkv_bias: false,
        norms_per_layer: 2,
        norm: NormKind::RmsNorm,
        gated_mlp: true,
        fused: false,
        qk_norm: false,
        sliding: SlidingDefault::All,
    };

    /// Picks the family from the architecture class or `model_type`.
    fn detect(architecture: &str, model_type: Option<&str>) -> Family {
        let arch = architecture.to_ascii_lowercase();
        let mt = model_type.unwrap_or("").to_ascii_lowercase();
        let is =
            |class: &str, types: &[&str]| arch.starts_with(class) || types.contains(&mt.as_str());
        let base = Family::LLAMA;
        if is("gemma3", &["gemma3", "gemma3_text"]) {
            Family {
                tie_default: true,
                norms_per_layer: 4,
                qk_norm: true,
                sliding: SlidingDefault::Periodic,
                ..base
            }
        } else if is("gemma2", &["gemma2"]) {
            Family {
                tie_default: true,
                norms_per_layer: 4,
                sliding: SlidingDefault::Alternating,
                ..base
            }
        } else if is("gemma", &["gemma"]) {
            Family {
                tie_default: true,
                ..base
            }
        } else if is("qwen3", &["qwen3", "qwen3_moe"]) {
            Family {
                qk_norm: true,
                sliding: SlidingDefault::FromMaxWindowLayers,
                ..base
            }
        } else if is("qwen2", &["qwen2", "qwen2_moe"]) {
            Family {
                forced_qkv_bias: true,
                sliding: SlidingDefault::FromMaxWindowLayers,
                ..base
            }
        } else if is("phi3", &["phi3"]) {
            Family {
                fused: true,
                ..base
            }
        } else if is("nemotronforcausallm", &["nemotron"]) {
            Family {
                norm: NormKind::LayerNorm,
                gated_mlp: false,
                ..base
            }
        } else {
            base
        }
    }
}

/// Typed access to a config object, with errors that name `<source>: <key>`.
struct Cfg<'a> {
    obj: &'a Map<String, Value>,
    src: &'a str,
}

impl Cfg<'_> {
    fn field(&self, key: &str) -> String {
        format!("{}: {key}", self.src)
    }

    fn opt_u64(&self, key: &str) -> Result<Option<u64>> {
        match self.obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(n)) => {
                if let Some(v) = n.as_u64() {
                    return Ok(Some(v));
                }
                match n.as_f64() {
                    Some(f) if f >= 0.0 && f.fract() == 0.0 && f < 9_007_199_254_740_992.0 => {
                        Ok(Some(f as u64))
                    }
                    _ => Err(Error::invalid(
                        self.field(key),
                        format!("expected a non-negative integer, found {n}"),
                    )),
                }
            }
            Some(other) => Err(Error::invalid(
                self.field(key),
                format!("expected a non-negative integer, found {other}"),
            )),
        }
    }

    /// A positive integer, or `None` when absent or null.
    fn opt_positive(&self, key: &str) -> Result<Option<u64>> {
        match self.opt_u64(key)? {
            Some(0) => Err(Error::invalid(
                self.field(key),
                "must be at least 1, found 0",
            )),
            other => Ok(other),
        }
    }

    fn required(&self, key: &str) -> Result<u64> {
        self.opt_positive(key)?.ok_or_else(|| {
            Error::invalid(self.field(key), "missing; a positive integer is required")
        })
    }

    fn opt_bool(&self, key: &str) -> Result<Option<bool>> {
        match self.obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(other) => Err(Error::invalid(
                self.field(key),
                format!("expected true or false, found {other}"),
            )),
        }
    }

    fn opt_str(&self, key: &str) -> Option<&str> {
        self.obj.get(key).and_then(Value::as_str)
    }
}

/// Multimodal configs (Llama 4, Gemma 3, Mistral 3) nest the language model under
/// `text_config`; its keys win, the top level fills in the rest (architectures, quantization).
fn language_model_config(top: &Map<String, Value>) -> Cow<'_, Map<String, Value>> {
    match top.get("text_config") {
        Some(Value::Object(text)) if !top.contains_key("hidden_size") => {
            let mut merged = text.clone();
            for (key, value) in top {
                if key != "text_config" && !merged.contains_key(key) {
                    merged.insert(key.clone(), value.clone());
                }
            }
            Cow::Owned(merged)
        }
        _ => Cow::Borrowed(top),
    }
}

fn sat_product(factors: &[u64]) -> u64 {
    factors.iter().fold(1u64, |acc, f| acc.saturating_mul(*f))
}

fn sat_sum(terms: &[u64]) -> u64 {
    terms.iter().fold(0u64, |acc, t| acc.saturating_add(*t))
}

impl ModelArch {
    /// Parses a Hugging Face `config.json`.
    ///
    /// Errors are [`Error::Invalid`] naming the key, e.g. field `config.json: num_attention_heads`
    /// with "missing; a positive integer is required".
    pub fn from_config_json(text: &str) -> Result<Self> {
        Self::parse(text, "config.json").map(|(arch, _)| arch)
    }

    /// Reads and parses a `config.json` file; errors name the path. When the config has no
    /// `_name_or_path`, the model is named after its directory (for a Hugging Face cache
    /// snapshot `models--org--name/snapshots/<hash>/config.json`, `org/name`).
    pub fn from_config_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::ModelFile {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        let (mut arch, named) = Self::parse(&text, &path.display().to_string())?;
        if !named && let Some(name) = name_from_path(path) {
            arch.name = name;
        }
        Ok(arch)
    }

    /// Parses config text; `src` prefixes error fields. Returns whether the config named itself.
    fn parse(text: &str, src: &str) -> Result<(Self, bool)> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| Error::invalid(src, format!("not valid JSON: {e}")))?;
        let Value::Object(top) = value else {
            return Err(Error::invalid(src, "expected a JSON object"));
        };
        let obj = language_model_config(&top);
        let cfg = Cfg { obj: &obj, src };

        if obj.get("block_configs").is_some_and(|v| !v.is_null()) {
            return Err(Error::invalid(
                cfg.field("block_configs"),
                "heterogeneous (Nemotron-NAS / DeciLM) layers are not supported: KV heads and \
                 FFN sizes differ per layer",
            ));
        }
        if obj.get("kv_lora_rank").is_some_and(|v| !v.is_null()) {
            return Err(Error::invalid(
                cfg.field("kv_lora_rank"),
                "multi-head latent attention (DeepSeek-V2/V3) is not supported",
            ));
        }

        let model_type = cfg.opt_str("model_type").map(str::to_owned);
        let architecture = obj
            .get("architectures")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| model_type.clone())
            .unwrap_or_else(|| "unknown".to_owned());
        let family = Family::detect(&architecture, model_type.as_deref());

        let hidden_size = cfg.required("hidden_size")?;
        let num_layers = cfg.required("num_hidden_layers")?;
        let num_attention_heads = cfg.required("num_attention_heads")?;
        let num_kv_heads = cfg
            .opt_positive("num_key_value_heads")?
            .unwrap_or(num_attention_heads);
        let head_dim = match cfg.opt_positive("head_dim")? {
            Some(d) => d,
            None if hidden_size % num_attention_heads == 0 => hidden_size / num_attention_heads,
            None => {
                return Err(Error::invalid(
                    cfg.field("head_dim"),
                    format!(
                        "missing, and hidden_size {hidden_size} is not divisible by \
                         num_attention_heads {num_attention_heads}"
                    ),
                ));
            }
        };
        let vocab_size = cfg.required("vocab_size")?;
        let max_position_embeddings = cfg.required("max_position_embeddings")?;

        // MoE: Mixtral `num_local_experts`, Qwen-MoE `num_experts`; 0 or null means dense.
        let num_experts = match cfg.opt_u64("num_local_experts")? {
            Some(n) => n,
            None => cfg.opt_u64("num_experts")?.unwrap_or(1),
        }
        .max(1);
        let experts_per_token = if num_experts > 1 {
            let k = cfg.opt_u64("num_experts_per_tok")?.ok_or_else(|| {
                Error::invalid(
                    cfg.field("num_experts_per_tok"),
                    format!("missing; required with {num_experts} experts"),
                )
            })?;
            if k == 0 || k > num_experts {
                return Err(Error::invalid(
                    cfg.field("num_experts_per_tok"),
                    format!("must be between 1 and {num_experts} (the experts), found {k}"),
                ));
            }
            k
        } else {
            1
        };
        let intermediate_size = match (num_experts > 1, cfg.opt_positive("moe_intermediate_size")?)
        {
            (true, Some(per_expert)) => per_expert,
            _ => cfg.required("intermediate_size")?,
        };
        let shared_expert_intermediate_size = if num_experts > 1 {
            cfg.opt_u64("shared_expert_intermediate_size")?.unwrap_or(0)
        } else {
            0
        };

        let sliding_window =
            parse_sliding_window(&cfg, family, num_layers, max_position_embeddings)?;

        let config_attention_bias = cfg.opt_bool("attention_bias")?.unwrap_or(false);
        let quantization = match obj
            .get("quantization_config")
            .or_else(|| obj.get("compression_config"))
        {
            None | Some(Value::Null) => None,
            Some(q) => Some(QuantizationConfig::from_json_at(
                q,
                &cfg.field("quantization_config"),
            )?),
        };
        let name_in_config = cfg
            .opt_str("_name_or_path")
            .filter(|n| !n.is_empty())
            .map(str::to_owned);
        let named = name_in_config.is_some();

        let arch = ModelArch {
            name: name_in_config.unwrap_or_else(|| architecture.clone()),
            architecture,
            model_type,
            hidden_size,
            num_layers,
            num_attention_heads,
            num_kv_heads,
            head_dim,
            intermediate_size,
            vocab_size,
            max_position_embeddings,
            tie_word_embeddings: cfg
                .opt_bool("tie_word_embeddings")?
                .unwrap_or(family.tie_default),
            num_experts,
            experts_per_token,
            shared_expert_intermediate_size,
            sliding_window,
            attention_bias: family.forced_qkv_bias || config_attention_bias,
            attention_output_bias: !family.forced_qkv_bias && config_attention_bias,
            mlp_bias: cfg.opt_bool("mlp_bias")?.unwrap_or(false),
            gated_mlp: family.gated_mlp,
            fused_qkv: family.fused,
            fused_gate_up: family.fused,
            norms_per_layer: family.norms_per_layer,
            norm: family.norm,
            qk_norm: family.qk_norm,
            torch_dtype: cfg
                .opt_str("torch_dtype")
                .or_else(|| cfg.opt_str("dtype"))
                .map(str::to_owned),
            quantization,
        };
        arch.validate_in(src)?;
        Ok((arch, named))
    }

    /// Checks the shape: every size positive, KV heads dividing the attention heads, top-k
    /// within the experts, and at most [`MAX_PARAMS`] parameters.
    pub fn validate(&self) -> Result<()> {
        self.validate_in("model")
    }

    fn validate_in(&self, src: &str) -> Result<()> {
        let field = |key: &str| format!("{src}: {key}");
        for (key, value) in [
            ("hidden_size", self.hidden_size),
            ("num_hidden_layers", self.num_layers),
            ("num_attention_heads", self.num_attention_heads),
            ("num_key_value_heads", self.num_kv_heads),
            ("head_dim", self.head_dim),
            ("intermediate_size", self.intermediate_size),
            ("vocab_size", self.vocab_size),
            ("max_position_embeddings", self.max_position_embeddings),
            ("num_local_experts", self.num_experts),
            ("num_experts_per_tok", self.experts_per_token),
        ] {
            if value == 0 {
                return Err(Error::invalid(field(key), "must be at least 1, found 0"));
            }
        }
        if self.num_kv_heads > self.num_attention_heads
            || !self.num_attention_heads.is_multiple_of(self.num_kv_heads)
        {
            return Err(Error::invalid(
                field("num_key_value_heads"),
                format!(
                    "{} KV heads do not divide {} attention heads",
                    self.num_kv_heads, self.num_attention_heads
                ),
            ));
        }
        if self.experts_per_token > self.num_experts {
            return Err(Error::invalid(
                field("num_experts_per_tok"),
                format!(
                    "{} experts per token exceed the {} experts",
                    self.experts_per_token, self.num_experts
                ),
            ));
        }
        if self.param_breakdown().total >= MAX_PARAMS {
            return Err(Error::invalid(
                src,
                "the shapes give more than 2^60 parameters; check the sizes",
            ));
        }
        Ok(())
    }

    /// Whether the model has more than one routed expert.
    pub fn is_moe(&self) -> bool {
        self.num_experts > 1
    }

    /// Query heads on one GPU at tensor-parallel size `tp` (rounded up; 0 is taken as 1).
    pub fn attention_heads_per_gpu(&self, tp: u64) -> u64 {
        self.num_attention_heads.div_ceil(tp.max(1))
    }

    /// KV heads on one GPU at tensor-parallel size `tp`: `max(1, num_kv_heads / tp)`. vLLM
    /// replicates KV heads when there are fewer than GPUs "so each GPU has at least one KV
    /// head" (`ModelConfig.get_num_kv_heads`; `PROFILES-SIZING.md` §4.1). `tp` 0 is taken as 1.
    pub fn kv_heads_per_gpu(&self, tp: u64) -> u64 {
        (self.num_kv_heads / tp.max(1)).max(1)
    }

    /// KV-cache bytes per token for the whole model: `2 × num_layers × num_kv_heads × head_dim ×
    /// bytes_per_element` (K and V, every layer, no sliding-window or parallelism adjustment;
    /// `PROFILES-SIZING.md` §4.1). Rounded up to a whole byte for sub-byte dtypes.
    pub fn kv_bytes_per_token(&self, dtype: KvDtype) -> Bytes {
        Self::kv_bytes(
            sat_product(&[2, self.num_layers, self.num_kv_heads, self.head_dim]),
            dtype,
        )
    }

    /// KV-cache bytes per token held by one GPU at tensor-parallel size `tp`, all layers:
    /// `2 × num_layers × kv_heads_per_gpu(tp) × head_dim × bytes_per_element`.
    pub fn kv_bytes_per_token_per_gpu(&self, dtype: KvDtype, tp: u64) -> Bytes {
        Self::kv_bytes(
            sat_product(&[2, self.num_layers, self.kv_heads_per_gpu(tp), self.head_dim]),
            dtype,
        )
    }

    fn kv_bytes(elements: u64, dtype: KvDtype) -> Bytes {
        let (num, den) = dtype.bytes_ratio();
        Bytes::new(elements.saturating_mul(num).div_ceil(den))
    }

    /// The linear weights of one decoder layer, unsharded.
    pub fn linear_layers(&self) -> Vec<LinearShape> {
        self.linear_layers_per_gpu(1)
    }

    /// The linear weights of one decoder layer as one GPU holds them at tensor-parallel size
    /// `tp`: column-parallel layers split their outputs, row-parallel their inputs; k and v keep
    /// [`kv_heads_per_gpu`](Self::kv_heads_per_gpu) heads, so they are replicated when
    /// `num_kv_heads < tp` (vLLM `QKVParallelLinear`). Sizes that do not divide round up.
    pub fn linear_layers_per_gpu(&self, tp: u64) -> Vec<LinearShape> {
        let tp = tp.max(1);
        let h = self.hidden_size;
        let q_out = self
            .attention_heads_per_gpu(tp)
            .saturating_mul(self.head_dim);
        let kv_out = self.kv_heads_per_gpu(tp).saturating_mul(self.head_dim);
        let linear = |name, group, in_features, out_features, per_layer, bias, split| LinearShape {
            name,
            group,
            in_features,
            out_features,
            per_layer,
            bias,
            split,
        };
        let mut layers = Vec::with_capacity(8);
        let attn = LinearGroup::Attention;
        if self.fused_qkv {
            layers.push(linear(
                "qkv_proj",
                attn,
                h,
                q_out.saturating_add(kv_out.saturating_mul(2)),
                1,
                self.attention_bias,
                TpSplit::Column,
            ));
        } else {
            for (name, out) in [("q_proj", q_out), ("k_proj", kv_out), ("v_proj", kv_out)] {
                layers.push(linear(
                    name,
                    attn,
                    h,
                    out,
                    1,
                    self.attention_bias,
                    TpSplit::Column,
                ));
            }
        }
        layers.push(linear(
            "o_proj",
            attn,
            q_out,
            h,
            1,
            self.attention_output_bias,
            TpSplit::Row,
        ));

        let mut mlp = |names: [&'static str; 4], group, inter: u64, per_layer| {
            let inter = inter.div_ceil(tp);
            let [gate, up, gate_up, down] = names;
            if !self.gated_mlp {
                layers.push(linear(
                    up,
                    group,
                    h,
                    inter,
                    per_layer,
                    self.mlp_bias,
                    TpSplit::Column,
                ));
            } else if self.fused_gate_up {
                layers.push(linear(
                    gate_up,
                    group,
                    h,
                    inter.saturating_mul(2),
                    per_layer,
                    self.mlp_bias,
                    TpSplit::Column,
                ));
            } else {
                layers.push(linear(
                    gate,
                    group,
                    h,
                    inter,
                    per_layer,
                    self.mlp_bias,
                    TpSplit::Column,
                ));
                layers.push(linear(
                    up,
                    group,
                    h,
                    inter,
                    per_layer,
                    self.mlp_bias,
                    TpSplit::Column,
                ));
            }
            layers.push(linear(
                down,
                group,
                inter,
                h,
                per_layer,
                self.mlp_bias,
                TpSplit::Row,
            ));
        };
        if self.is_moe() {
            mlp(
                [
                    "experts.gate_proj",
                    "experts.up_proj",
                    "experts.gate_up_proj",
                    "experts.down_proj",
                ],
                LinearGroup::Expert,
                self.intermediate_size,
                self.num_experts,
            );
            if self.shared_expert_intermediate_size > 0 {
                mlp(
                    [
                        "shared_expert.gate_proj",
                        "shared_expert.up_proj",
                        "shared_expert.gate_up_proj",
                        "shared_expert.down_proj",
                    ],
                    LinearGroup::SharedExpert,
                    self.shared_expert_intermediate_size,
                    1,
                );
            }
        } else {
            mlp(
                ["gate_proj", "up_proj", "gate_up_proj", "down_proj"],
                LinearGroup::Mlp,
                self.intermediate_size,
                1,
            );
        }
        layers
    }

    /// Normalization parameters of one decoder layer (replicated under tensor parallelism).
    pub fn norm_params_per_layer(&self) -> u64 {
        let qk = if self.qk_norm {
            self.head_dim.saturating_mul(2)
        } else {
            0
        };
        sat_product(&[
            self.norms_per_layer,
            self.hidden_size,
            self.norm.params_per_element(),
        ])
        .saturating_add(qk)
    }

    /// Parameters of the final norm before the LM head.
    pub fn final_norm_params(&self) -> u64 {
        self.hidden_size
            .saturating_mul(self.norm.params_per_element())
    }

    /// Router parameters of one layer: `hidden × experts` (plus `hidden` for a shared-expert
    /// gate); 0 for dense models. Replicated under tensor parallelism (vLLM `ReplicatedLinear`).
    pub fn router_params_per_layer(&self) -> u64 {
        if !self.is_moe() {
            return 0;
        }
        let shared_gate = if self.shared_expert_intermediate_size > 0 {
            self.hidden_size
        } else {
            0
        };
        self.hidden_size
            .saturating_mul(self.num_experts)
            .saturating_add(shared_gate)
    }

    /// Embedding parameters: `vocab_size × hidden_size`.
    pub fn embedding_params(&self) -> u64 {
        self.vocab_size.saturating_mul(self.hidden_size)
    }

    /// Parameter counts by component.
    pub fn param_breakdown(&self) -> ParamBreakdown {
        let linears = self.linear_layers();
        let layers = self.num_layers;
        let sum_where = |attention: bool| {
            let weights: Vec<u64> = linears
                .iter()
                .filter(|l| (l.group == LinearGroup::Attention) == attention)
                .map(LinearShape::weight_params)
                .collect();
            sat_sum(&weights).saturating_mul(layers)
        };
        let biases: Vec<u64> = linears.iter().map(LinearShape::bias_params).collect();
        let mut b = ParamBreakdown {
            embeddings: self.embedding_params(),
            lm_head: if self.tie_word_embeddings {
                0
            } else {
                self.embedding_params()
            },
            attention: sum_where(true),
            mlp: sum_where(false),
            router: self.router_params_per_layer().saturating_mul(layers),
            norms: self
                .norm_params_per_layer()
                .saturating_mul(layers)
                .saturating_add(self.final_norm_params()),
            biases: sat_sum(&biases).saturating_mul(layers),
            total: 0,
        };
        b.total = sat_sum(&[
            b.embeddings,
            b.lm_head,
            b.attention,
            b.mlp,
            b.router,
            b.norms,
            b.biases,
        ]);
        b
    }

    /// All parameters, every expert included.
    pub fn total_params(&self) -> u64 {
        self.param_breakdown().total
    }

    /// Parameters used per token: the total less the routed experts that are not among the
    /// top-k (`num_experts - experts_per_token` per layer). Equal to the total for dense models.
    pub fn active_params(&self) -> u64 {
        let per_expert: Vec<u64> = self
            .linear_layers()
            .iter()
            .filter(|l| l.group == LinearGroup::Expert)
            .map(|l| {
                l.in_features
                    .saturating_mul(l.out_features)
                    .saturating_add(if l.bias { l.out_features } else { 0 })
            })
            .collect();
        let idle = sat_product(&[
            sat_sum(&per_expert),
            self.num_experts.saturating_sub(self.experts_per_token),
            self.num_layers,
        ]);
        self.total_params().saturating_sub(idle)
    }

    /// Checks a tensor/pipeline-parallel layout: `tp` and `pp` at least 1, `pp` at most the
    /// layers (and [`MAX_PIPELINE_STAGES`]), attention heads divisible by `tp`, and KV heads
    /// either divisible by `tp` or dividing it (vLLM's requirement for replicating KV heads).
    pub fn check_parallelism(&self, tp: u64, pp: u64) -> Result<()> {
        if tp == 0 {
            return Err(Error::invalid("--tp", "must be at least 1, found 0"));
        }
        if pp == 0 {
            return Err(Error::invalid("--pp", "must be at least 1, found 0"));
        }
        if pp > self.num_layers {
            return Err(Error::invalid(
                "--pp",
                format!(
                    "--pp {pp}: more pipeline stages than the {} layers",
                    self.num_layers
                ),
            ));
        }
        if pp > MAX_PIPELINE_STAGES {
            return Err(Error::invalid(
                "--pp",
                format!("--pp {pp}: at most {MAX_PIPELINE_STAGES} pipeline stages are supported"),
            ));
        }
        if !self.num_attention_heads.is_multiple_of(tp) {
            return Err(Error::invalid(
                "--tp",
                format!(
                    "--tp {tp}: {} attention heads are not divisible by {tp}",
                    self.num_attention_heads
                ),
            ));
        }
        let kv = self.num_kv_heads;
        if kv > 0 && ((kv >= tp && !kv.is_multiple_of(tp)) || (kv < tp && !tp.is_multiple_of(kv))) {
            return Err(Error::invalid(
                "--tp",
                format!("--tp {tp}: {kv} KV heads neither divide nor are divisible by {tp}"),
            ));
        }
        Ok(())
    }

    /// Layers per pipeline stage, as vLLM assigns them (`vllm/distributed/utils.py`
    /// `get_pp_indices`): `num_layers / pp` each, and the remainder one layer apiece to the
    /// stages before the last, starting from the second-to-last.
    pub fn pipeline_layer_split(&self, pp: u64) -> Result<Vec<u64>> {
        if pp == 0 || pp > self.num_layers || pp > MAX_PIPELINE_STAGES {
            return Err(Error::invalid(
                "--pp",
                format!(
                    "--pp {pp}: must be between 1 and the {} layers",
                    self.num_layers.min(MAX_PIPELINE_STAGES)
                ),
            ));
        }
        // pp <= MAX_PIPELINE_STAGES, so it fits in usize.
        let stages = pp as usize;
        let mut split = vec![self.num_layers / pp; stages];
        let remainder = (self.num_layers % pp) as usize;
        for i in 2..remainder + 2 {
            split[stages - i] += 1;
        }
        Ok(split)
    }
}

fn parse_sliding_window(
    cfg: &Cfg<'_>,
    family: Family,
    num_layers: u64,
    max_position_embeddings: u64,
) -> Result<Option<SlidingWindow>> {
    let declared = cfg.opt_u64("sliding_window")?;
    let enabled = cfg.opt_bool("use_sliding_window")?.unwrap_or(true);
    let size = match declared {
        Some(size) if enabled && size > 0 && size < max_position_embeddings => size,
        _ => return Ok(None),
    };
    let layers = if let Some(types) = cfg.obj.get("layer_types").filter(|v| !v.is_null()) {
        let Some(types) = types.as_array() else {
            return Err(Error::invalid(
                cfg.field("layer_types"),
                "expected an array of layer types",
            ));
        };
        if types.len() as u64 != num_layers {
            return Err(Error::invalid(
                cfg.field("layer_types"),
                format!("has {} entries for {num_layers} layers", types.len()),
            ));
        }
        let flags: Vec<bool> = types
            .iter()
            .map(|t| t.as_str() == Some("sliding_attention"))
            .collect();
        if flags.iter().all(|f| *f) {
            SlidingLayers::All
        } else if flags.iter().enumerate().all(|(i, f)| *f == (i % 2 == 0)) {
            SlidingLayers::Alternating
        } else {
            SlidingLayers::Explicit(flags)
        }
    } else {
        match family.sliding {
            SlidingDefault::All => SlidingLayers::All,
            SlidingDefault::Alternating => SlidingLayers::Alternating,
            SlidingDefault::Periodic => SlidingLayers::Periodic {
                global_every: cfg.opt_positive("sliding_window_pattern")?.unwrap_or(6),
            },
            SlidingDefault::FromMaxWindowLayers => {
                SlidingLayers::FromLayer(cfg.opt_u64("max_window_layers")?.unwrap_or(0))
            }
        }
    };
    let window = SlidingWindow { size, layers };
    Ok((window.sliding_layers(num_layers) > 0).then_some(window))
}

/// A model name from a config file's location: `…/models--org--name/snapshots/<hash>/config.json`
/// gives `org/name`, any other `…/<dir>/config.json` gives `<dir>`.
fn name_from_path(path: &Path) -> Option<String> {
    let dir = path.parent()?;
    let dir_name = dir.file_name()?.to_str()?;
    let snapshots = dir.parent();
    if snapshots.and_then(Path::file_name).and_then(|n| n.to_str()) == Some("snapshots")
        && let Some(repo) = snapshots
            .and_then(Path::parent)
            .and_then(Path::file_name)
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix("models--"))
        && let Some((org, name)) = repo.split_once("--")
    {
        return Some(format!("{org}/{name}"));
    }
    Some(dir_name.to_owned())
}

// ---------------------------------------------------------------------------------------------
// Catalog
// ---------------------------------------------------------------------------------------------

/// The built-in table: a copy of `reference/models.csv` (shapes from each model's Hugging Face
/// `config.json`; described in `reference/MODELS.md` and `PROFILES-SIZING.md` §3).
const MODELS_CSV: &str = include_str!("../data/models.csv");

/// NVIDIA NIM names (`publisher/model`, as in `nvcr.io/nim/<name>` and build.nvidia.com) of the
/// `models.csv` rows, by Hugging Face id.
const NIM_NAMES: &[(&str, &str)] = &[
    (
        "meta-llama/Llama-3.1-8B-Instruct",
        "meta/llama-3.1-8b-instruct",
    ),
    (
        "meta-llama/Llama-3.1-70B-Instruct",
        "meta/llama-3.1-70b-instruct",
    ),
    (
        "meta-llama/Llama-3.1-405B-Instruct",
        "meta/llama-3.1-405b-instruct",
    ),
    (
        "meta-llama/Llama-3.2-1B-Instruct",
        "meta/llama-3.2-1b-instruct",
    ),
    (
        "meta-llama/Llama-3.2-3B-Instruct",
        "meta/llama-3.2-3b-instruct",
    ),
    (
        "meta-llama/Llama-3.3-70B-Instruct",
        "meta/llama-3.3-70b-instruct",
    ),
    (
        "mistralai/Mistral-7B-Instruct-v0.3",
        "mistralai/mistral-7b-instruct-v0.3",
    ),
    (
        "mistralai/Mixtral-8x7B-Instruct-v0.1",
        "mistralai/mixtral-8x7b-instruct-v0.1",
    ),
    ("Qwen/Qwen2.5-7B-Instruct", "qwen/qwen2.5-7b-instruct"),
    ("Qwen/Qwen2.5-72B-Instruct", "qwen/qwen2.5-72b-instruct"),
    (
        "nvidia/Llama-3.1-Nemotron-70B-Instruct-HF",
        "nvidia/llama-3.1-nemotron-70b-instruct",
    ),
    (
        "deepseek-ai/DeepSeek-R1-Distill-Llama-8B",
        "deepseek-ai/deepseek-r1-distill-llama-8b",
    ),
    ("google/gemma-2-9b-it", "google/gemma-2-9b-it"),
    ("google/gemma-2-27b-it", "google/gemma-2-27b-it"),
    (
        "microsoft/Phi-3-mini-4k-instruct",
        "microsoft/phi-3-mini-4k-instruct",
    ),
    (
        "microsoft/Phi-3-mini-128k-instruct",
        "microsoft/phi-3-mini-128k-instruct",
    ),
];

/// A model of the catalog.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogModel {
    /// NIM name, e.g. `meta/llama-3.1-8b-instruct`.
    pub nim_name: String,
    /// Hugging Face id, e.g. `meta-llama/Llama-3.1-8B-Instruct`.
    pub hf_id: String,
    /// Display name, e.g. `Llama 3.1 8B Instruct`.
    pub display_name: String,
    /// The architecture.
    pub arch: ModelArch,
    /// Total parameters as published (`models.csv` `total_params`).
    pub published_params: u64,
    /// Active parameters as published (`models.csv` `active_params`).
    pub published_active_params: u64,
    /// Free-text notes (RoPE scaling, checkpoint quirks).
    pub notes: String,
}

/// A catalog of known models, addressable by NIM name, Hugging Face id or display name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ModelCatalog {
    models: Vec<CatalogModel>,
}

impl ModelCatalog {
    /// The built-in catalog: the 16 models of `models.csv`.
    pub fn builtin() -> &'static ModelCatalog {
        static CATALOG: OnceLock<ModelCatalog> = OnceLock::new();
        CATALOG.get_or_init(|| {
            ModelCatalog::from_csv(MODELS_CSV)
                .expect("the embedded data/models.csv parses (checked by the tests)")
        })
    }

    /// A catalog from a table in the `models.csv` format (`reference/MODELS.md`). The
    /// architecture column picks the family defaults (Qwen2 qkv bias, Gemma 2 norms, Phi-3
    /// fused projections); the `sliding_window` column is free text whose leading number is the
    /// window, inactive when it says `use_sliding_window=false` or when the window reaches
    /// `max_position_embeddings`, alternating when it says "alternating".
    pub fn from_csv(text: &str) -> Result<Self> {
        let mut lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty());
        let Some((_, header)) = lines.next() else {
            return Err(Error::invalid("models.csv", "empty"));
        };
        let header = split_csv_line(header);
        let mut models = Vec::new();
        for (index, line) in lines {
            let row = split_csv_line(line);
            let line_no = index + 1;
            let get = |col: &str| -> Result<&str> {
                header
                    .iter()
                    .position(|h| h == col)
                    .and_then(|i| row.get(i))
                    .map(String::as_str)
                    .ok_or_else(|| {
                        Error::invalid(format!("models.csv line {line_no}: {col}"), "missing")
                    })
            };
            let num = |col: &str| -> Result<u64> {
                get(col)?.trim().parse().map_err(|_| {
                    Error::invalid(
                        format!("models.csv line {line_no}: {col}"),
                        "expected a non-negative integer",
                    )
                })
            };
            let hf_id = get("hf_repo")?.to_owned();
            let architecture = get("architecture")?.to_owned();
            let family = Family::detect(&architecture, None);
            let max_position_embeddings = num("max_position_embeddings")?;
            let num_layers = num("num_hidden_layers")?;
            let sliding_window =
                sliding_from_text(get("sliding_window")?, family, max_position_embeddings);
            let tie = match get("tie_word_embeddings")?.trim() {
                "true" => true,
                "false" => false,
                other => {
                    return Err(Error::invalid(
                        format!("models.csv line {line_no}: tie_word_embeddings"),
                        format!("expected true or false, found {other:?}"),
                    ));
                }
            };
            let arch = ModelArch {
                name: hf_id.clone(),
                architecture,
                model_type: None,
                hidden_size: num("hidden_size")?,
                num_layers,
                num_attention_heads: num("num_attention_heads")?,
                num_kv_heads: num("num_key_value_heads")?,
                head_dim: num("head_dim")?,
                intermediate_size: num("intermediate_size")?,
                vocab_size: num("vocab_size")?,
                max_position_embeddings,
                tie_word_embeddings: tie,
                num_experts: num("num_local_experts")?,
                experts_per_token: num("num_experts_per_tok")?,
                shared_expert_intermediate_size: 0,
                sliding_window,
                attention_bias: family.forced_qkv_bias,
                attention_output_bias: false,
                mlp_bias: false,
                gated_mlp: family.gated_mlp,
                fused_qkv: family.fused,
                fused_gate_up: family.fused,
                norms_per_layer: family.norms_per_layer,
                norm: family.norm,
                qk_norm: family.qk_norm,
                torch_dtype: None,
                quantization: None,
            };
            arch.validate_in(&format!("models.csv line {line_no}"))?;
            let nim_name = NIM_NAMES
                .iter()
                .find(|(hf, _)| *hf == hf_id)
                .map(|(_, nim)| (*nim).to_owned())
                .unwrap_or_else(|| hf_id.to_ascii_lowercase());
            models.push(CatalogModel {
                nim_name,
                display_name: get("model")?.to_owned(),
                published_params: num("total_params")?,
                published_active_params: num("active_params")?,
                notes: get("notes").unwrap_or_default().to_owned(),
                hf_id,
                arch,
            });
        }
        Ok(Self { models })
    }

    /// Finds a model by NIM name (`meta/llama-3.1-8b-instruct`, also as an image
    /// `nvcr.io/nim/meta/llama-3.1-8b-instruct:1.3.3`), Hugging Face id
    /// (`meta-llama/Llama-3.1-8B-Instruct`, also with `https://huggingface.co/`) or display name,
    /// case-insensitively; then by the name without its publisher when that is unambiguous.
    /// Otherwise [`Error::UnknownModel`] with the three nearest NIM names.
    pub fn lookup(&self, name: &str) -> Result<&CatalogModel> {
        let query = normalize_model_name(name);
        let names = |m: &CatalogModel| {
            [
                m.nim_name.to_ascii_lowercase(),
                m.hf_id.to_ascii_lowercase(),
                m.display_name.to_ascii_lowercase(),
            ]
        };
        if let Some(model) = self.models.iter().find(|m| names(m).contains(&query)) {
            return Ok(model);
        }
        let squash =
            |s: &str| -> String { s.chars().filter(char::is_ascii_alphanumeric).collect() };
        let wanted = squash(&query);
        let matches: Vec<&CatalogModel> = self
            .models
            .iter()
            .filter(|m| {
                !wanted.is_empty()
                    && names(m).iter().any(|n| {
                        squash(n) == wanted
                            || n.rsplit_once('/')
                                .is_some_and(|(_, tail)| squash(tail) == wanted)
                    })
            })
            .collect();
        if let [only] = matches.as_slice() {
            return Ok(only);
        }
        let mut scored: Vec<(f64, &str)> = self
            .models
            .iter()
            .map(|m| {
                let score = names(m)
                    .iter()
                    .map(|n| strsim::jaro_winkler(&query, n))
                    .fold(0.0, f64::max);
                (score, m.nim_name.as_str())
            })
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        Err(Error::UnknownModel {
            name: name.to_owned(),
            suggestions: scored
                .iter()
                .take(3)
                .map(|(_, n)| (*n).to_owned())
                .collect(),
        })
    }

    /// The models, in table order.
    pub fn iter(&self) -> impl Iterator<Item = &CatalogModel> {
        self.models.iter()
    }

    /// The models as a slice.
    pub fn models(&self) -> &[CatalogModel] {
        &self.models
    }

    /// Number of models.
    pub fn len(&self) -> usize {
        self.models.len()
    }

    /// Whether the catalog is empty.
    pub fn is_empty(&self) -> bool {
        self.models.is_empty()
    }
}

/// Lowercases and strips registry prefixes and an image tag.
fn normalize_model_name(name: &str) -> String {
    let mut s = name.trim().to_ascii_lowercase();
    for prefix in [
        "https://",
        "http://",
        "huggingface.co/",
        "hf.co/",
        "nvcr.io/",
        "nim/",
    ] {
        if let Some(rest) = s.strip_prefix(prefix) {
            s = rest.to_owned();
        }
    }
    if let Some(colon) = s.find(':') {
        s.truncate(colon);
    }
    s.trim_end_matches('/').to_owned()
}

/// The `sliding_window` column of `models.csv`.
fn sliding_from_text(
    text: &str,
    family: Family,
    max_position_embeddings: u64,
) -> Option<SlidingWindow> {
    let lower = text.to_ascii_lowercase();
    if lower.contains("use_sliding_window=false") {
        return None;
    }
    let digits: String = lower
        .trim()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let size: u64 = digits.parse().ok()?;
    if size == 0 || size >= max_position_embeddings {
        return None;
    }
    let layers = if lower.contains("alternating") {
        SlidingLayers::Alternating
    } else {
        match family.sliding {
            SlidingDefault::Alternating => SlidingLayers::Alternating,
            SlidingDefault::Periodic => SlidingLayers::Periodic { global_every: 6 },
            SlidingDefault::All | SlidingDefault::FromMaxWindowLayers => SlidingLayers::All,
        }
    };
    Some(SlidingWindow { size, layers })
}

/// Splits one CSV line: commas separate fields, double quotes enclose fields with commas, `""`
/// inside quotes is a quote.
fn split_csv_line(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                field.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut field)),
            _ => field.push(c),
        }
    }
    fields.push(field);
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    const LLAMA_8B: &str = r#"{
        "architectures": ["LlamaForCausalLM"], "model_type": "llama",
        "hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32,
        "num_key_value_heads": 8, "intermediate_size": 14336, "vocab_size": 128256,
        "max_position_embeddings": 131072, "tie_word_embeddings": false,
        "torch_dtype": "bfloat16"
    }"#;

    fn with(base: &str, edit: impl FnOnce(&mut Map<String, Value>)) -> String {
        let mut v: Value = serde_json::from_str(base).unwrap();
        edit(v.as_object_mut().unwrap());
        v.to_string()
    }

    fn catalog(name: &str) -> &'static ModelArch {
        &ModelCatalog::builtin().lookup(name).unwrap().arch
    }

    #[test]
    fn llama_8b_breakdown_is_exact() {
        let arch = ModelArch::from_config_json(LLAMA_8B).unwrap();
        let b = arch.param_breakdown();
        assert_eq!(b.embeddings, 128_256 * 4096);
        assert_eq!(b.lm_head, 128_256 * 4096);
        // q, o: 4096×4096; k, v: 4096×1024.
        assert_eq!(b.attention, 32 * (2 * 4096 * 4096 + 2 * 4096 * 1024));
        assert_eq!(b.mlp, 32 * 3 * 4096 * 14336);
        assert_eq!(b.norms, 32 * 2 * 4096 + 4096);
        assert_eq!((b.router, b.biases), (0, 0));
        assert_eq!(b.total, 8_030_261_248);
        assert_eq!(arch.active_params(), b.total);
    }

    #[test]
    fn explicit_head_dim_wins() {
        let gemma = catalog("google/gemma-2-9b-it");
        assert_eq!(gemma.head_dim, 256);
        assert_ne!(
            gemma.head_dim,
            gemma.hidden_size / gemma.num_attention_heads
        );
        assert_eq!(gemma.kv_bytes_per_token(KvDtype::Bf16), Bytes::new(344_064));
        let config = with(LLAMA_8B, |o| {
            o.insert("head_dim".into(), 64.into());
        });
        assert_eq!(ModelArch::from_config_json(&config).unwrap().head_dim, 64);
    }

    #[test]
    fn gemma2_counts_four_norms_and_ties() {
        let gemma = catalog("gemma 2 9b it");
        assert_eq!(gemma.norms_per_layer, 4);
        assert!(gemma.tie_word_embeddings);
        let b = gemma.param_breakdown();
        assert_eq!(b.lm_head, 0);
        assert_eq!(b.norms, 42 * 4 * 3584 + 3584);
        assert_eq!(b.total, 9_241_705_984);
    }

    #[test]
    fn qwen2_has_qkv_bias_only() {
        let qwen = catalog("Qwen/Qwen2.5-7B-Instruct");
        assert!(qwen.attention_bias && !qwen.attention_output_bias);
        assert_eq!(qwen.param_breakdown().biases, 28 * (3584 + 2 * 512));
        assert_eq!(qwen.total_params(), 7_615_616_512);
    }

    #[test]
    fn mixtral_total_and_active() {
        let mixtral = catalog("mistralai/mixtral-8x7b-instruct-v0.1");
        let b = mixtral.param_breakdown();
        assert_eq!(b.router, 32 * 4096 * 8);
        assert_eq!(b.mlp, 32 * 8 * 3 * 4096 * 14336);
        assert_eq!(b.total, 46_702_792_704);
        assert_eq!(mixtral.active_params(), 12_879_925_248);
    }

    #[test]
    fn phi3_fused_projections_count_the_same() {
        let phi = catalog("microsoft/phi-3-mini-4k-instruct");
        let names: Vec<_> = phi.linear_layers().iter().map(|l| l.name).collect();
        assert_eq!(names, ["qkv_proj", "o_proj", "gate_up_proj", "down_proj"]);
        assert_eq!(phi.total_params(), 3_821_079_552);
        let unfused = ModelArch {
            fused_qkv: false,
            fused_gate_up: false,
            ..phi.clone()
        };
        assert_eq!(unfused.total_params(), phi.total_params());
    }

    #[test]
    fn kv_heads_per_gpu_replicates() {
        let llama = catalog("meta/llama-3.1-70b-instruct");
        assert_eq!(llama.kv_heads_per_gpu(1), 8);
        assert_eq!(llama.kv_heads_per_gpu(4), 2);
        assert_eq!(llama.kv_heads_per_gpu(8), 1);
        assert_eq!(llama.kv_heads_per_gpu(16), 1);
        assert_eq!(llama.kv_heads_per_gpu(0), 8);
        assert_eq!(
            llama.kv_bytes_per_token_per_gpu(KvDtype::Bf16, 8),
            Bytes::new(327_680 / 8)
        );
    }

    #[test]
    fn kv_bytes_per_dtype() {
        let llama = catalog("meta/llama-3.1-8b-instruct");
        assert_eq!(llama.kv_bytes_per_token(KvDtype::Auto), Bytes::new(131_072));
        assert_eq!(llama.kv_bytes_per_token(KvDtype::Fp8), Bytes::new(65_536));
        assert_eq!(llama.kv_bytes_per_token(KvDtype::Fp32), Bytes::new(262_144));
        assert_eq!(llama.kv_bytes_per_token(KvDtype::Nvfp4), Bytes::new(36_864));
    }

    #[test]
    fn sliding_windows() {
        let phi4k = catalog("microsoft/phi-3-mini-4k-instruct");
        assert_eq!(
            phi4k.sliding_window,
            Some(SlidingWindow {
                size: 2047,
                layers: SlidingLayers::All
            })
        );
        assert_eq!(
            catalog("microsoft/phi-3-mini-128k-instruct").sliding_window,
            None
        );
        assert_eq!(catalog("qwen/qwen2.5-7b-instruct").sliding_window, None);
        assert_eq!(
            catalog("mistralai/mistral-7b-instruct-v0.3").sliding_window,
            None
        );
        let gemma = catalog("google/gemma-2-27b-it")
            .sliding_window
            .clone()
            .unwrap();
        assert_eq!(gemma.size, 4096);
        assert_eq!(gemma.layers, SlidingLayers::Alternating);
        assert!(gemma.applies_to(0) && !gemma.applies_to(1));
        assert_eq!(gemma.sliding_layers(46), 23);

        // Qwen2 with the window on: layers from max_window_layers slide.
        let qwen = with(LLAMA_8B, |o| {
            o.insert(
                "architectures".into(),
                serde_json::json!(["Qwen2ForCausalLM"]),
            );
            o.insert("use_sliding_window".into(), true.into());
            o.insert("sliding_window".into(), 4096.into());
            o.insert("max_window_layers".into(), 28.into());
        });
        let w = ModelArch::from_config_json(&qwen)
            .unwrap()
            .sliding_window
            .unwrap();
        assert_eq!(w.layers, SlidingLayers::FromLayer(28));
        assert_eq!(w.sliding_layers(32), 4);
        assert!(!w.applies_to(27) && w.applies_to(28));

        // Gemma 3: five local layers, then a global one.
        let periodic = SlidingWindow {
            size: 512,
            layers: SlidingLayers::Periodic { global_every: 6 },
        };
        assert_eq!(periodic.sliding_layers(26), 22);
        assert!(periodic.applies_to(4) && !periodic.applies_to(5));

        // layer_types wins.
        let typed = with(LLAMA_8B, |o| {
            o.insert("sliding_window".into(), 4096.into());
            let types: Vec<&str> = (0..32)
                .map(|i| {
                    if i % 4 == 3 {
                        "full_attention"
                    } else {
                        "sliding_attention"
                    }
                })
                .collect();
            o.insert("layer_types".into(), serde_json::json!(types));
        });
        let w = ModelArch::from_config_json(&typed)
            .unwrap()
            .sliding_window
            .unwrap();
        assert_eq!(w.sliding_layers(32), 24);
        // Gemma 2 as newer `transformers` saves it: layer_types alternate.
        let gemma_typed = with(LLAMA_8B, |o| {
            o.insert("sliding_window".into(), 4096.into());
            let types: Vec<&str> = (0..32)
                .map(|i| {
                    if i % 2 == 0 {
                        "sliding_attention"
                    } else {
                        "full_attention"
                    }
                })
                .collect();
            o.insert("layer_types".into(), serde_json::json!(types));
        });
        let w = ModelArch::from_config_json(&gemma_typed)
            .unwrap()
            .sliding_window
            .unwrap();
        assert_eq!(w.layers, SlidingLayers::Alternating);
        let short = with(&typed, |o| {
            o.insert("layer_types".into(), serde_json::json!(["full_attention"]));
        });
        assert!(matches!(
            ModelArch::from_config_json(&short),
            Err(Error::Invalid { field, .. }) if field == "config.json: layer_types"
        ));
    }

    #[test]
    fn missing_and_invalid_keys_are_named() {
        let field_of = |text: &str| match ModelArch::from_config_json(text) {
            Err(Error::Invalid { field, .. }) => field,
            other => panic!("expected Invalid, got {other:?}"),
        };
        let no_heads = with(LLAMA_8B, |o| {
            o.remove("num_attention_heads");
        });
        assert_eq!(field_of(&no_heads), "config.json: num_attention_heads");
        let zero_heads = with(LLAMA_8B, |o| {
            o.insert("num_attention_heads".into(), 0.into());
        });
        assert_eq!(field_of(&zero_heads), "config.json: num_attention_heads");
        let bad_kv = with(LLAMA_8B, |o| {
            o.insert("num_key_value_heads".into(), 5.into());
        });
        assert_eq!(field_of(&bad_kv), "config.json: num_key_value_heads");
        let negative = with(LLAMA_8B, |o| {
            o.insert("vocab_size".into(), (-1).into());
        });
        assert_eq!(field_of(&negative), "config.json: vocab_size");
        let text = with(LLAMA_8B, |o| {
            o.insert("hidden_size".into(), "4096".into());
        });
        assert_eq!(field_of(&text), "config.json: hidden_size");
        let odd_heads = with(LLAMA_8B, |o| {
            o.insert("num_attention_heads".into(), 3.into());
            o.insert("num_key_value_heads".into(), 1.into());
        });
        assert_eq!(field_of(&odd_heads), "config.json: head_dim");
        assert_eq!(field_of("[1, 2]"), "config.json");
        assert_eq!(field_of("{"), "config.json");
        let moe_without_k = with(LLAMA_8B, |o| {
            o.insert("num_local_experts".into(), 8.into());
        });
        assert_eq!(field_of(&moe_without_k), "config.json: num_experts_per_tok");
        let nas = with(LLAMA_8B, |o| {
            o.insert("block_configs".into(), serde_json::json!([]));
        });
        assert_eq!(field_of(&nas), "config.json: block_configs");
        let huge = with(LLAMA_8B, |o| {
            o.insert("hidden_size".into(), u64::MAX.into());
            o.insert("head_dim".into(), 128.into());
        });
        assert_eq!(field_of(&huge), "config.json");
    }

    #[test]
    fn parallelism_checks() {
        let llama = catalog("meta/llama-3.1-8b-instruct");
        assert!(llama.check_parallelism(8, 4).is_ok());
        let err = llama.check_parallelism(3, 1).unwrap_err();
        assert_eq!(
            err,
            Error::invalid("--tp", "--tp 3: 32 attention heads are not divisible by 3")
        );
        assert!(llama.check_parallelism(0, 1).is_err());
        assert!(llama.check_parallelism(1, 0).is_err());
        assert!(llama.check_parallelism(1, 33).is_err());
        // 32 heads / 8 KV heads at tp 32: each GPU replicates one KV head.
        assert!(llama.check_parallelism(32, 1).is_ok());
    }

    #[test]
    fn pipeline_split_follows_vllm() {
        let llama = catalog("meta/llama-3.1-405b-instruct");
        assert_eq!(llama.pipeline_layer_split(1).unwrap(), [126]);
        assert_eq!(llama.pipeline_layer_split(4).unwrap(), [31, 32, 32, 31]);
        assert_eq!(llama.pipeline_layer_split(5).unwrap(), [25, 25, 25, 26, 25]);
        assert!(llama.pipeline_layer_split(0).is_err());
        assert!(llama.pipeline_layer_split(127).is_err());
    }

    #[test]
    fn nemotron_layernorm_and_relu2_mlp() {
        let config = with(LLAMA_8B, |o| {
            o.insert(
                "architectures".into(),
                serde_json::json!(["NemotronForCausalLM"]),
            );
            o.insert("model_type".into(), "nemotron".into());
        });
        let arch = ModelArch::from_config_json(&config).unwrap();
        assert_eq!(arch.norm, NormKind::LayerNorm);
        assert!(!arch.gated_mlp);
        let b = arch.param_breakdown();
        assert_eq!(b.mlp, 32 * 2 * 4096 * 14336);
        assert_eq!(b.norms, 32 * 2 * 2 * 4096 + 2 * 4096);
    }

    #[test]
    fn text_config_is_unwrapped() {
        let nested = serde_json::json!({
            "architectures": ["Gemma3ForConditionalGeneration"],
            "text_config": serde_json::from_str::<Value>(LLAMA_8B).unwrap(),
        });
        let arch = ModelArch::from_config_json(&nested.to_string()).unwrap();
        assert_eq!(arch.architecture, "LlamaForCausalLM");
        assert_eq!(arch.total_params(), 8_030_261_248);
    }

    #[test]
    fn name_from_hf_cache_path() {
        let p = Path::new("/hf/hub/models--meta-llama--Llama-3.1-8B/snapshots/abc123/config.json");
        assert_eq!(
            name_from_path(p).as_deref(),
            Some("meta-llama/Llama-3.1-8B")
        );
        let p = Path::new("/models/my-model/config.json");
        assert_eq!(name_from_path(p).as_deref(), Some("my-model"));
    }

    #[test]
    fn lookup_by_every_name() {
        let c = ModelCatalog::builtin();
        assert_eq!(c.len(), 16);
        for m in c.iter() {
            for name in [&m.nim_name, &m.hf_id, &m.display_name] {
                assert_eq!(c.lookup(name).unwrap().hf_id, m.hf_id);
                assert_eq!(c.lookup(&name.to_uppercase()).unwrap().hf_id, m.hf_id);
            }
        }
        let image = "nvcr.io/nim/meta/llama-3.1-8b-instruct:1.3.3";
        assert_eq!(
            c.lookup(image).unwrap().nim_name,
            "meta/llama-3.1-8b-instruct"
        );
        assert_eq!(
            c.lookup("https://huggingface.co/google/gemma-2-9b-it")
                .unwrap()
                .nim_name,
            "google/gemma-2-9b-it"
        );
        assert_eq!(
            c.lookup("llama-3.3-70b-instruct").unwrap().hf_id,
            "meta-llama/Llama-3.3-70B-Instruct"
        );
        match c.lookup("meta/llama-3.1-8b-instrct") {
            Err(Error::UnknownModel { name, suggestions }) => {
                assert_eq!(name, "meta/llama-3.1-8b-instrct");
                assert_eq!(suggestions.len(), 3);
                assert_eq!(suggestions[0], "meta/llama-3.1-8b-instruct");
            }
            other => panic!("expected UnknownModel, got {other:?}"),
        }
    }

    #[test]
    fn csv_quotes() {
        assert_eq!(
            split_csv_line(r#"a,"b, c",d"#),
            ["a", "b, c", "d"].map(str::to_owned)
        );
        assert_eq!(split_csv_line(r#""x ""y""""#), [r#"x "y""#.to_owned()]);
    }

    #[test]
    fn quantization_config_variants() {
        let awq = QuantizationConfig::from_json(&serde_json::json!({
            "quant_method": "awq", "bits": 4, "group_size": 128, "zero_point": true,
            "version": "gemm", "modules_to_not_convert": null
        }))
        .unwrap();
        assert_eq!(
            (
                awq.quant_method.as_str(),
                awq.bits,
                awq.group_size,
                awq.symmetric
            ),
            ("awq", Some(4), Some(128), Some(false))
        );
        let gptq = QuantizationConfig::from_json(&serde_json::json!({
            "quant_method": "gptq", "bits": 4, "group_size": -1, "sym": true, "desc_act": false
        }))
        .unwrap();
        assert_eq!(gptq.group_size, Some(0));
        let ct = QuantizationConfig::from_json(&serde_json::json!({
            "quant_method": "compressed-tensors", "format": "float-quantized",
            "config_groups": {"group_0": {"targets": ["Linear"],
                "weights": {"num_bits": 8, "type": "float", "strategy": "channel", "symmetric": true}}},
            "ignore": ["lm_head"]
        }))
        .unwrap();
        assert_eq!(ct.bits, Some(8));
        assert_eq!(ct.weight_type.as_deref(), Some("float"));
        assert_eq!(ct.excluded_modules, ["lm_head"]);
        assert!(QuantizationConfig::from_json(&serde_json::json!("fp8")).is_err());
    }
}
