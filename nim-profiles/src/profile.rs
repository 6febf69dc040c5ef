//! What a NIM model profile is.
//!
//! A profile is a runtime configuration in a NIM's model manifest: an engine, a precision,
//! tensor and pipeline parallelism, an optimization target, and (for hardware-specific
//! profiles) the GPU it was built for. Its tags are strings in the manifest (`tp: '8'`); the
//! typed fields below are read from them, and every tag is also kept verbatim in
//! [`Profile::tags`].
//!
//! ```
//! use std::collections::BTreeMap;
//! use nim_profiles::{Engine, Profile, Qos};
//!
//! let tags: BTreeMap<String, String> = [
//!     ("llm_engine", "tensorrt_llm"),
//!     ("gpu", "H100"),
//!     ("gpu_device", "2330:10DE"),
//!     ("precision", "FP8"),
//!     ("tp", "2"),
//!     ("profile", "throughput"),
//!     ("feat_lora", "false"),
//!     ("release_note", "kept as is"),
//! ]
//! .into_iter()
//! .map(|(k, v)| (k.to_owned(), v.to_owned()))
//! .collect();
//! let profile = Profile::from_tags("a1b2", tags)?;
//! assert_eq!(profile.engine, Engine::TensorrtLlm);
//! assert_eq!(profile.precision.as_deref(), Some("fp8"));
//! assert_eq!((profile.tp, profile.pp, profile.num_gpus), (2, 1, 2));
//! assert_eq!(profile.qos, Some(Qos::Throughput));
//! assert_eq!(profile.gpu_device.as_deref(), Some("2330:10de"));
//! assert_eq!(profile.tags["release_note"], "kept as is");
//! # Ok::<(), nim_profiles::Error>(())
//! ```

use std::collections::BTreeMap;
use std::fmt;

use nim_sizing::Bytes;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

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
    /// Reads a `profile` tag or name part (`latency`, `throughput`, any case); `None` for
    /// anything else.
    pub fn parse(text: &str) -> Option<Qos> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("latency") {
            Some(Qos::Latency)
        } else if text.eq_ignore_ascii_case("throughput") {
            Some(Qos::Throughput)
        } else {
            None
        }
    }

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
    /// A profile from its id and its tags (string to string, as manifests write them).
    ///
    /// The typed fields are read from the tags; every tag is also kept verbatim in
    /// [`Profile::tags`]. Empty tag values count as absent. [`Profile::name`],
    /// [`Profile::model`] and [`Profile::release`] are left `None` (a manifest fills them).
    ///
    /// | field | tag |
    /// |---|---|
    /// | `engine` | `llm_engine`, else `model_type`, else `backend` (non-LLM NIMs); `triton` stays `Other("triton")`; `Other("")` when none is present |
    /// | `precision` | `precision`, lower-cased |
    /// | `tp`, `pp` | `tp`, `pp`: positive integers, 1 when absent |
    /// | `qos` | `profile`: `latency` or `throughput`; any other value leaves `None` (the tag stays in `tags`) |
    /// | `gpu` | `gpu`, verbatim (`L40S`, `h100_nvl`) |
    /// | `gpu_device` | `gpu_device`, normalized by [`normalize_pci_id`] (`2330:10de`) |
    /// | `lora` | `feat_lora`: `true` or `false` (any case) |
    /// | `lora_max_rank` | `feat_lora_max_rank` |
    /// | `buildable` | `trtllm_buildable`: `true` or `false` (any case) |
    /// | `num_gpus` | `number_of_gpus`, else `tp × pp` |
    /// | `min_vram_per_gpu` | `min_vram_per_device_gb`, in GB (10^9 bytes) |
    ///
    /// `min_vram_per_device_gb` is read as decimal gigabytes. NVIDIA's NIM Metadata API
    /// documents the field as the minimum memory per GPU and gives the example of a TP 4 profile
    /// with `min_vram_per_device_gb: 80.0` that "requires four GPUs with 80 GB each": an
    /// "80 GB" GPU such as the H100 SXM exposes about 79.6 GiB (85.5 × 10^9 bytes), which is
    /// at least 80 × 10^9 bytes but less than 80 GiB, so only the decimal reading lets the
    /// GPUs the example names qualify. The value is kept exactly (`32.5` is
    /// 32 500 000 000 bytes).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] whose `field` is the tag name when `tp`, `pp`, `number_of_gpus` is
    /// not a positive integer, `feat_lora_max_rank` not an integer, `feat_lora` or
    /// `trtllm_buildable` not a boolean, `min_vram_per_device_gb` not a non-negative number,
    /// or when `tp × pp` overflows.
    pub fn from_tags(id: impl Into<String>, tags: BTreeMap<String, String>) -> Result<Profile> {
        let tag = |key: &str| {
            tags.get(key)
                .map(|value| value.trim())
                .filter(|value| !value.is_empty())
        };
        let engine = tag("llm_engine")
            .or_else(|| tag("model_type"))
            .or_else(|| tag("backend"))
            .map_or_else(|| Engine::Other(String::new()), Engine::parse);
        let tp = count_tag(tag("tp"), "tp")?.unwrap_or(1);
        let pp = count_tag(tag("pp"), "pp")?.unwrap_or(1);
        let num_gpus = match count_tag(tag("number_of_gpus"), "number_of_gpus")? {
            Some(n) => n,
            None => tp.checked_mul(pp).ok_or_else(|| {
                Error::invalid("tp", format!("tp {tp} × pp {pp} overflows a GPU count"))
            })?,
        };
        let lora_max_rank = tag("feat_lora_max_rank")
            .map(|text| {
                text.parse::<u32>().map_err(|_| {
                    Error::invalid(
                        "feat_lora_max_rank",
                        format!("expected an integer, found `{text}`"),
                    )
                })
            })
            .transpose()?;
        let min_vram_per_gpu = tag("min_vram_per_device_gb")
            .map(|text| {
                parse_gb(text).ok_or_else(|| {
                    Error::invalid(
                        "min_vram_per_device_gb",
                        format!("expected a non-negative number of GB, found `{text}`"),
                    )
                })
            })
            .transpose()?;
        Ok(Profile {
            id: id.into(),
            name: None,
            engine,
            precision: tag("precision").map(str::to_ascii_lowercase),
            tp,
            pp,
            qos: tag("profile").and_then(Qos::parse),
            gpu: tag("gpu").map(str::to_owned),
            gpu_device: tag("gpu_device").map(normalize_pci_id),
            lora: bool_tag(tag("feat_lora"), "feat_lora")?.unwrap_or(false),
            lora_max_rank,
            buildable: bool_tag(tag("trtllm_buildable"), "trtllm_buildable")?.unwrap_or(false),
            num_gpus,
            min_vram_per_gpu,
            model: None,
            release: None,
            tags,
        })
    }

    /// Whether the profile is hardware-specific (has a `gpu` or `gpu_device` tag).
    pub fn is_hardware_specific(&self) -> bool {
        self.gpu.is_some() || self.gpu_device.is_some()
    }

    /// The name when known, else the id.
    pub fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.id)
    }
}

/// Normalizes a PCI `device:vendor` id as NIM writes it: lower case, `0x` prefixes dropped, and
/// NVIDIA's vendor id `10de` added to a bare 4-digit device id.
///
/// ```
/// use nim_profiles::normalize_pci_id;
///
/// assert_eq!(normalize_pci_id("2330:10DE"), "2330:10de");
/// assert_eq!(normalize_pci_id(" 0x2330:0x10de "), "2330:10de");
/// assert_eq!(normalize_pci_id("26B5"), "26b5:10de");
/// ```
pub fn normalize_pci_id(text: &str) -> String {
    let lower = text.trim().to_ascii_lowercase();
    let strip = |part: &str| -> String {
        let part = part.trim();
        part.strip_prefix("0x").unwrap_or(part).to_owned()
    };
    match lower.split_once(':') {
        Some((device, vendor)) => format!("{}:{}", strip(device), strip(vendor)),
        None => {
            let device = strip(&lower);
            if device.len() == 4 && device.bytes().all(|b| b.is_ascii_hexdigit()) {
                format!("{device}:10de")
            } else {
                device
            }
        }
    }
}

/// A positive integer tag (`tp`, `pp`, `number_of_gpus`).
fn count_tag(value: Option<&str>, name: &str) -> Result<Option<u64>> {
    let Some(text) = value else {
        return Ok(None);
    };
    match text.parse::<u64>() {
        Ok(n) if n > 0 => Ok(Some(n)),
        _ => Err(Error::invalid(
            name,
            format!("expected a positive integer, found `{text}`"),
        )),
    }
}

/// A boolean tag (`feat_lora`, `trtllm_buildable`): `true` or `false`, any case.
fn bool_tag(value: Option<&str>, name: &str) -> Result<Option<bool>> {
    let Some(text) = value else {
        return Ok(None);
    };
    if text.eq_ignore_ascii_case("true") {
        Ok(Some(true))
    } else if text.eq_ignore_ascii_case("false") {
        Ok(Some(false))
    } else {
        Err(Error::invalid(
            name,
            format!("expected `true` or `false`, found `{text}`"),
        ))
    }
}

/// A decimal number of GB (10^9 bytes) read exactly (`32.0`, `80`, `24.5`); other numeric forms
/// (`8e1`) go through `f64`. `None` for anything that is not a finite non-negative number.
pub(crate) fn parse_gb(text: &str) -> Option<Bytes> {
    let text = text.trim();
    if let Some(bytes) = parse_decimal_gb(text) {
        return Some(bytes);
    }
    let value: f64 = text.parse().ok()?;
    (value.is_finite() && value >= 0.0).then(|| Bytes::from_gb(value))
}

/// `<digits>[.<digits>]` GB, exactly, when the fraction has at most 9 digits and the result fits
/// in a `u64`.
pub(crate) fn parse_decimal_gb(text: &str) -> Option<Bytes> {
    const GB: u64 = 1_000_000_000;
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, fraction),
        None => (text, ""),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || (text.contains('.') && !digits(fraction)) || fraction.len() > 9 {
        return None;
    }
    let whole: u64 = whole.parse().ok()?;
    let mut fraction_bytes: u64 = if fraction.is_empty() {
        0
    } else {
        fraction.parse().ok()?
    };
    for _ in fraction.len()..9 {
        fraction_bytes *= 10;
    }
    whole
        .checked_mul(GB)
        .and_then(|bytes| bytes.checked_add(fraction_bytes))
        .map(Bytes::new)
}

/// Writes bytes as decimal GB with at least one fractional digit and no trailing zeros beyond
/// it (`32.0`, `24.5`, `0.000000001`): the inverse of [`parse_decimal_gb`].
pub(crate) fn format_gb(bytes: Bytes) -> String {
    const GB: u64 = 1_000_000_000;
    let (whole, fraction) = (bytes.get() / GB, bytes.get() % GB);
    if fraction == 0 {
        format!("{whole}.0")
    } else {
        let fraction = format!("{fraction:09}");
        format!("{whole}.{}", fraction.trim_end_matches('0'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn engine_falls_back_to_model_type_then_backend() {
        let p = Profile::from_tags(
            "x",
            tags(&[("backend", "tensorrt"), ("model_type", "triton")]),
        )
        .unwrap();
        assert_eq!(p.engine, Engine::Other("triton".to_owned()));
        let p = Profile::from_tags("x", tags(&[("backend", "onnx")])).unwrap();
        assert_eq!(p.engine, Engine::Other("onnx".to_owned()));
        let p =
            Profile::from_tags("x", tags(&[("llm_engine", "vllm"), ("backend", "onnx")])).unwrap();
        assert_eq!(p.engine, Engine::Vllm);
        let p = Profile::from_tags("x", tags(&[("llm_engine", " ")])).unwrap();
        assert_eq!(p.engine, Engine::Other(String::new()));
    }

    #[test]
    fn defaults_and_counts() {
        let p = Profile::from_tags("x", tags(&[("llm_engine", "vllm")])).unwrap();
        assert_eq!((p.tp, p.pp, p.num_gpus), (1, 1, 1));
        assert!(!p.lora && !p.buildable);
        assert_eq!(p.qos, None);
        assert!(!p.is_hardware_specific());
        let p = Profile::from_tags("x", tags(&[("tp", "4"), ("pp", "2")])).unwrap();
        assert_eq!(p.num_gpus, 8);
        let p = Profile::from_tags("x", tags(&[("tp", "2"), ("number_of_gpus", "4")])).unwrap();
        assert_eq!(p.num_gpus, 4);
    }

    #[test]
    fn bad_numbers_name_the_tag() {
        for (key, value) in [
            ("tp", "eight"),
            ("tp", "0"),
            ("pp", "-1"),
            ("number_of_gpus", "1.5"),
            ("feat_lora_max_rank", "x"),
            ("feat_lora", "yes"),
            ("trtllm_buildable", "1"),
            ("min_vram_per_device_gb", "-3"),
            ("min_vram_per_device_gb", "NaN"),
        ] {
            match Profile::from_tags("x", tags(&[(key, value)])) {
                Err(Error::Invalid { field, message }) => {
                    assert_eq!(field, key);
                    assert!(message.contains(value), "{message}");
                }
                other => panic!("{key}={value}: {other:?}"),
            }
        }
        let huge = u64::MAX.to_string();
        assert!(matches!(
            Profile::from_tags("x", tags(&[("tp", &huge), ("pp", "2")])),
            Err(Error::Invalid { .. })
        ));
    }

    #[test]
    fn unknown_qos_stays_in_tags() {
        let p = Profile::from_tags("x", tags(&[("profile", "balanced")])).unwrap();
        assert_eq!(p.qos, None);
        assert_eq!(p.tags["profile"], "balanced");
        assert_eq!(Qos::parse("LATENCY"), Some(Qos::Latency));
    }

    #[test]
    fn min_vram_is_decimal_gb() {
        let p = Profile::from_tags("x", tags(&[("min_vram_per_device_gb", "80.0")])).unwrap();
        assert_eq!(p.min_vram_per_gpu, Some(Bytes::new(80_000_000_000)));
        let p = Profile::from_tags("x", tags(&[("min_vram_per_device_gb", "24.5")])).unwrap();
        assert_eq!(p.min_vram_per_gpu, Some(Bytes::new(24_500_000_000)));
        let p = Profile::from_tags("x", tags(&[("min_vram_per_device_gb", "8e1")])).unwrap();
        assert_eq!(p.min_vram_per_gpu, Some(Bytes::new(80_000_000_000)));
    }

    #[test]
    fn gb_text_round_trips() {
        for text in [
            "32.0",
            "0.0",
            "24.5",
            "0.000000001",
            "18446744073.709551615",
        ] {
            let bytes = parse_decimal_gb(text).unwrap();
            assert_eq!(format_gb(bytes), text);
        }
        assert_eq!(parse_decimal_gb("80"), Some(Bytes::new(80_000_000_000)));
        for bad in [
            "",
            ".5",
            "5.",
            "1.2.3",
            "-1.0",
            "1.0000000001",
            "18446744074.0",
            "1e3",
        ] {
            assert_eq!(parse_decimal_gb(bad), None, "{bad}");
        }
    }

    #[test]
    fn pci_ids() {
        assert_eq!(normalize_pci_id("26B5:10DE"), "26b5:10de");
        assert_eq!(normalize_pci_id("0x20B2"), "20b2:10de");
        assert_eq!(normalize_pci_id("weird"), "weird");
        assert_eq!(normalize_pci_id(""), "");
    }
}
