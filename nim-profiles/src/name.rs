//! Human-readable profile names (`tensorrt_llm-h100-fp8-tp2-pp1-throughput`).
//!
//! NIM prints a name next to each profile id and accepts it in `NIM_MODEL_PROFILE`. The name is
//! built from the profile's tags, and its form changed between releases. [`ProfileName`] reads
//! every form NIM has printed and writes it back unchanged:
//!
//! | vintage | form | example |
//! |---|---|---|
//! | 2024 (1.0–1.2) | `<engine>-<gpu>-<precision>-tp<N>-<qos>[-lora]`, `vllm-<precision>-tp<N>[-lora]` | `tensorrt_llm-A100-fp16-tp2-latency`, `vllm-bf16-tp4` |
//! | later 1.x | adds `-pp<M>`; locally built engines put `trtllm_buildable` where the GPU goes | `tensorrt_llm-h100-fp8-tp2-pp1-throughput`, `tensorrt_llm-trtllm_buildable-bf16-tp8-pp2` |
//! | 2025 long form | adds the PCI id, a 64-hex hash and the GPU count; LoRA as `-lora-<rank>` (vLLM) or `-lora-lora` (TRT-LLM) | `tensorrt_llm-h100_nvl-fp8-tp1-pp1-throughput-2321:10de-<hash>-1`, `vllm-bf16-tp2-pp1-lora-32-<hash>` |
//! | multi-LLM NIM | the engine alone | `vllm`, `tensorrt_llm`, `sglang` |
//! | NIM 2.x | `<backend>-<precision>-tp<N>-pp1[-lora]`, TRT-LLM as `trtllm`, an optional trailing minimum memory per GPU in GB, LoRA also as `-feat_lora` | `trtllm-fp8-tp2-pp1`, `vllm-int4-tp1-pp1-32.0` |
//!
//! The grammar, in the order the parts appear:
//!
//! ```text
//! name   := engine [ "-" [ gpu | "trtllm_buildable" ] "-" ] precision "-tp" N [ "-pp" M ]
//!           [ "-" qos ] [ "-" lora [ "-" rank ] ] [ "-" device ":" vendor ] [ "-" hash ]
//!           [ "-" min_vram_gb ] [ "-" gpus ]          (everything after the engine is optional
//!                                                      only all together: a bare engine name)
//! engine := tensorrt_llm | trtllm | vllm | sglang
//! lora   := lora | lora-lora | feat_lora
//! ```
//!
//! GPU and precision parts are words of letters, digits and underscores (`h100_nvl`,
//! `rtx6000_blackwell_sv`, `int4_awq`); their case is kept (`A100` and `a100` both occur). The
//! hash is 16 or more hex digits; `min_vram_gb` is a decimal with a point (`32.0`); `gpus` and
//! `rank` are integers (an integer right after the LoRA part is the rank).
//!
//! A name identifies a profile only within one NIM image, and NVIDIA documents profile ids, not
//! names, as the stable key: different vintages print different names for the same tags, and
//! names carry parts (hash, GPU count) that are not tags. So [`crate::Manifest`] is keyed by id,
//! and [`format()`] derives the plain 1.x-style name of a profile (no hash, no GPU count).
//!
//! ```
//! use nim_profiles::{Engine, ProfileName, Qos};
//!
//! let text = "tensorrt_llm-h100_nvl-fp8-tp2-pp1-throughput-lora-lora-2321:10de-\
//!             35ff79694b241ad9598afd3b69727121b5678b417fb17ce7ef84b241388e9c2e-4";
//! let name: ProfileName = text.parse()?;
//! assert_eq!(name.engine, Engine::TensorrtLlm);
//! assert_eq!(name.gpu.as_deref(), Some("h100_nvl"));
//! assert_eq!((name.tp, name.pp, name.num_gpus), (Some(2), Some(1), Some(4)));
//! assert_eq!(name.qos, Some(Qos::Throughput));
//! assert!(name.lora);
//! assert_eq!(name.gpu_device.as_deref(), Some("2321:10de"));
//! assert_eq!(name.to_string(), text);
//!
//! let short: ProfileName = "vllm-int4_awq-tp1-pp1-32.0".parse()?;
//! assert_eq!(short.precision.as_deref(), Some("int4_awq"));
//! assert_eq!(short.min_vram_per_gpu, Some(nim_sizing::Bytes::new(32_000_000_000)));
//! assert!("vllm-fp16-tq1".parse::<ProfileName>().is_err());
//! # Ok::<(), nim_profiles::Error>(())
//! ```

use std::fmt;
use std::str::FromStr;

use nim_sizing::Bytes;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::profile::{Engine, Profile, Qos, format_gb, normalize_pci_id, parse_decimal_gb};

/// The name part that marks a locally built TensorRT-LLM profile (in place of the GPU).
const BUILDABLE: &str = "trtllm_buildable";

/// How a name spells LoRA support.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum LoraSpelling {
    /// `-lora` (every vintage).
    #[default]
    Lora,
    /// `-lora-lora` (TensorRT-LLM profiles of 2025 images).
    LoraLora,
    /// `-feat_lora` (NIM 2.x `list-model-profiles`).
    FeatLora,
}

impl LoraSpelling {
    /// The name parts.
    pub fn as_str(self) -> &'static str {
        match self {
            LoraSpelling::Lora => "lora",
            LoraSpelling::LoraLora => "lora-lora",
            LoraSpelling::FeatLora => "feat_lora",
        }
    }
}

/// A parsed human-readable profile name. Every field is a part the name states; `None` (or
/// `false`) when the name does not have that part.
///
/// [`fmt::Display`] writes the parts that are set in the order of the grammar (module docs),
/// and [`FromStr`] reads them back: for every name NIM prints, `parse(format(x)) == x` and
/// `format(parse(s)) == s`. Values that no NIM name has do not survive the trip: `lora_rank`
/// without `lora` is not written, `gpu` is not written when `buildable` is set, and a GPU count
/// right after a rank-less LoRA part reads back as the rank.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ProfileName {
    /// The engine (`tensorrt_llm` or `trtllm`, `vllm`, `sglang`).
    pub engine: Engine,
    /// The GPU part, case kept (`A100`, `h100_nvl`); `None` for a generic profile.
    pub gpu: Option<String>,
    /// `trtllm_buildable` in place of the GPU: the engine is built at start.
    pub buildable: bool,
    /// The precision part, case kept (`fp16`, `int4_awq`, `nvfp4`).
    pub precision: Option<String>,
    /// `tp<N>`.
    pub tp: Option<u64>,
    /// `pp<M>` (absent from 2024 names).
    pub pp: Option<u64>,
    /// `latency` or `throughput`.
    pub qos: Option<Qos>,
    /// A LoRA part.
    pub lora: bool,
    /// The integer after the LoRA part (`-lora-32`): the largest LoRA rank.
    pub lora_rank: Option<u32>,
    /// The PCI `device:vendor` part (`2321:10de`), lower-cased.
    pub gpu_device: Option<String>,
    /// The hash part of 2025 long names (64 hex digits), verbatim.
    pub hash: Option<String>,
    /// The trailing GPU count of 2025 long names (`-4`).
    pub num_gpus: Option<u64>,
    /// The trailing minimum memory per GPU of NIM 2.x names (`-32.0`, in GB of 10^9 bytes).
    pub min_vram_per_gpu: Option<Bytes>,
    /// TensorRT-LLM spelled `trtllm` (NIM 2.x) rather than `tensorrt_llm`.
    pub short_engine: bool,
    /// How the LoRA part is spelled (meaningful when `lora` is set).
    pub lora_spelling: LoraSpelling,
}

impl ProfileName {
    /// A bare name: the engine alone (`vllm`), every other part absent.
    pub fn new(engine: Engine) -> ProfileName {
        ProfileName {
            engine,
            gpu: None,
            buildable: false,
            precision: None,
            tp: None,
            pp: None,
            qos: None,
            lora: false,
            lora_rank: None,
            gpu_device: None,
            hash: None,
            num_gpus: None,
            min_vram_per_gpu: None,
            short_engine: false,
            lora_spelling: LoraSpelling::Lora,
        }
    }

    /// The NIM 1.x-style name of a profile, from its tags, or `None` when the engine is not an
    /// LLM engine (`tensorrt_llm`, `vllm`, `sglang`).
    ///
    /// `<engine>-<gpu>-<precision>-tp<N>-pp<M>[-<qos>][-lora]` when the profile has a `gpu` tag
    /// (lower-cased, spaces and hyphens as underscores), `tensorrt_llm-trtllm_buildable-
    /// <precision>-tp<N>-pp<M>[-lora]` for a buildable profile, `<engine>-<precision>-tp<N>-
    /// pp<M>[-lora]` for other generic profiles, and the engine alone when there is no
    /// precision tag (the generic profiles of the multi-LLM NIM). NIM's own names may carry
    /// more (PCI id, hash, GPU count, 2024 forms without `-pp`), which is why profiles are
    /// looked up by id first.
    pub fn from_profile(profile: &Profile) -> Option<ProfileName> {
        if !matches!(
            profile.engine,
            Engine::TensorrtLlm | Engine::Vllm | Engine::Sglang
        ) {
            return None;
        }
        let mut name = ProfileName::new(profile.engine.clone());
        let Some(precision) = &profile.precision else {
            return Some(name);
        };
        name.precision = Some(precision.clone());
        name.tp = Some(profile.tp);
        name.pp = Some(profile.pp);
        name.lora = profile.lora;
        if profile.buildable {
            name.buildable = true;
        } else if let Some(gpu) = &profile.gpu {
            name.gpu = Some(gpu_part(gpu));
            name.qos = profile.qos;
        }
        Some(name)
    }

    /// Whether a profile's tags agree with every part this name states.
    ///
    /// The engine always counts; GPU (compared case-insensitively, with spaces, hyphens and
    /// underscores alike), precision (any case), TP, PP, QoS, LoRA rank, PCI id, GPU count and
    /// minimum memory count when the name has them; `trtllm_buildable` requires a buildable
    /// profile. A name with a precision also states LoRA support by having a LoRA part or not,
    /// so `vllm-bf16-tp1-pp1` does not match a LoRA profile. The hash is not a tag and is not
    /// compared.
    pub fn matches(&self, profile: &Profile) -> bool {
        fn same<T: PartialEq>(stated: Option<&T>, actual: &T) -> bool {
            stated.is_none_or(|stated| stated == actual)
        }
        let bare = self.precision.is_none() && self.tp.is_none();
        profile.engine == self.engine
            && self.gpu.as_ref().is_none_or(|gpu| {
                profile
                    .gpu
                    .as_ref()
                    .is_some_and(|tag| gpu_part(tag) == gpu_part(gpu))
            })
            && (!self.buildable || profile.buildable)
            && self.precision.as_ref().is_none_or(|precision| {
                profile
                    .precision
                    .as_ref()
                    .is_some_and(|tag| tag.eq_ignore_ascii_case(precision))
            })
            && same(self.tp.as_ref(), &profile.tp)
            && same(self.pp.as_ref(), &profile.pp)
            && self.qos.is_none_or(|qos| profile.qos == Some(qos))
            && (bare || self.lora == profile.lora)
            && self
                .lora_rank
                .is_none_or(|rank| profile.lora_max_rank == Some(rank))
            && self.gpu_device.as_ref().is_none_or(|device| {
                profile
                    .gpu_device
                    .as_ref()
                    .is_some_and(|tag| normalize_pci_id(tag) == normalize_pci_id(device))
            })
            && same(self.num_gpus.as_ref(), &profile.num_gpus)
            && self
                .min_vram_per_gpu
                .is_none_or(|vram| profile.min_vram_per_gpu == Some(vram))
    }

    /// The engine as the name spells it.
    fn engine_part(&self) -> &str {
        match self.engine {
            Engine::TensorrtLlm if self.short_engine => "trtllm",
            _ => self.engine.as_str(),
        }
    }
}

/// The NIM 1.x-style name of a profile ([`ProfileName::from_profile`] written out), or `None`
/// when the engine is not an LLM engine.
///
/// ```
/// use std::collections::BTreeMap;
/// use nim_profiles::{Profile, name};
///
/// let tags: BTreeMap<String, String> = [
///     ("llm_engine", "tensorrt_llm"), ("gpu", "L40S"), ("precision", "fp16"),
///     ("tp", "8"), ("pp", "1"), ("profile", "throughput"), ("feat_lora", "true"),
/// ]
/// .into_iter()
/// .map(|(k, v)| (k.to_owned(), v.to_owned()))
/// .collect();
/// let profile = Profile::from_tags("03fdb4d1", tags)?;
/// assert_eq!(
///     name::format(&profile).as_deref(),
///     Some("tensorrt_llm-l40s-fp16-tp8-pp1-throughput-lora")
/// );
/// # Ok::<(), nim_profiles::Error>(())
/// ```
pub fn format(profile: &Profile) -> Option<String> {
    ProfileName::from_profile(profile).map(|name| name.to_string())
}

/// A `gpu` tag as a name part: lower case, spaces and hyphens as underscores (`H100 NVL` →
/// `h100_nvl`).
fn gpu_part(gpu: &str) -> String {
    gpu.trim()
        .chars()
        .map(|c| match c {
            ' ' | '-' => '_',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

impl fmt::Display for ProfileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.engine_part())?;
        if self.buildable {
            write!(f, "-{BUILDABLE}")?;
        } else if let Some(gpu) = &self.gpu {
            write!(f, "-{gpu}")?;
        }
        if let Some(precision) = &self.precision {
            write!(f, "-{precision}")?;
        }
        if let Some(tp) = self.tp {
            write!(f, "-tp{tp}")?;
        }
        if let Some(pp) = self.pp {
            write!(f, "-pp{pp}")?;
        }
        if let Some(qos) = self.qos {
            write!(f, "-{qos}")?;
        }
        if self.lora {
            write!(f, "-{}", self.lora_spelling.as_str())?;
            if let Some(rank) = self.lora_rank {
                write!(f, "-{rank}")?;
            }
        }
        if let Some(device) = &self.gpu_device {
            write!(f, "-{device}")?;
        }
        if let Some(hash) = &self.hash {
            write!(f, "-{hash}")?;
        }
        if let Some(vram) = self.min_vram_per_gpu {
            write!(f, "-{}", format_gb(vram))?;
        }
        if let Some(gpus) = self.num_gpus {
            write!(f, "-{gpus}")?;
        }
        Ok(())
    }
}

impl FromStr for ProfileName {
    type Err = Error;

    /// Reads a name in any of the forms in the module docs.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] with field `profile name` and a message naming the part that was
    /// not understood.
    fn from_str(text: &str) -> Result<ProfileName> {
        Parser::new(text).parse()
    }
}

/// Walks the `-`-separated parts of a name in grammar order.
struct Parser<'a> {
    text: &'a str,
    parts: Vec<&'a str>,
    next: usize,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        let text = text.trim();
        Parser {
            text,
            parts: text.split('-').collect(),
            next: 0,
        }
    }

    fn error(&self, message: impl fmt::Display) -> Error {
        Error::invalid("profile name", format!("`{}`: {message}", self.text))
    }

    fn peek(&self) -> Option<&'a str> {
        self.parts.get(self.next).copied()
    }

    /// Takes the next part when `accept` says yes.
    fn take_if(&mut self, accept: impl Fn(&str) -> bool) -> Option<&'a str> {
        let part = self.peek().filter(|part| accept(part))?;
        self.next += 1;
        Some(part)
    }

    fn parse(mut self) -> Result<ProfileName> {
        if self.text.is_empty() {
            return Err(self.error("empty name"));
        }
        if let Some(empty) = self.parts.iter().position(|part| part.is_empty()) {
            return Err(self.error(format!("empty part at position {}", empty + 1)));
        }
        let engine_text = self.parts.first().copied().unwrap_or_default();
        let (engine, short_engine) = match engine_text {
            "tensorrt_llm" => (Engine::TensorrtLlm, false),
            "trtllm" => (Engine::TensorrtLlm, true),
            "vllm" => (Engine::Vllm, false),
            "sglang" => (Engine::Sglang, false),
            other => {
                return Err(self.error(format!(
                    "unknown engine `{other}` (expected tensorrt_llm, trtllm, vllm or sglang)"
                )));
            }
        };
        let mut name = ProfileName::new(engine);
        name.short_engine = short_engine;
        self.next = 1;
        if self.parts.len() == 1 {
            return Ok(name);
        }

        // Engine, then one or two parts before `tp<N>`: [gpu | trtllm_buildable] precision.
        let Some(tp_at) = self
            .parts
            .iter()
            .position(|part| count(part, "tp").is_some())
        else {
            return Err(self.error(format!(
                "no `tp<N>` part after `{}` (expected <engine>[-<gpu>]-<precision>-tp<N>...)",
                self.parts[1..].join("-")
            )));
        };
        match &self.parts[1..tp_at] {
            [precision] => name.precision = Some(self.word(precision, "precision")?),
            [gpu, precision] => {
                if *gpu == BUILDABLE {
                    name.buildable = true;
                } else {
                    name.gpu = Some(self.word(gpu, "GPU")?);
                }
                name.precision = Some(self.word(precision, "precision")?);
            }
            [] => return Err(self.error("no precision part before `tp<N>`")),
            head => {
                return Err(self.error(format!(
                    "`{}` not understood (expected at most <gpu>-<precision> before `tp<N>`)",
                    head.join("-")
                )));
            }
        }
        self.next = tp_at;
        name.tp = self
            .take_if(|part| count(part, "tp").is_some())
            .and_then(|part| count(part, "tp"));
        name.pp = self
            .take_if(|part| count(part, "pp").is_some())
            .and_then(|part| count(part, "pp"));
        name.qos = self
            .take_if(|part| matches!(part, "latency" | "throughput"))
            .and_then(Qos::parse);
        if let Some(lora) = self.take_if(|part| part == "lora" || part == "feat_lora") {
            name.lora = true;
            name.lora_spelling = if lora == "feat_lora" {
                LoraSpelling::FeatLora
            } else if self.take_if(|part| part == "lora").is_some() {
                LoraSpelling::LoraLora
            } else {
                LoraSpelling::Lora
            };
            if let Some(rank) = self.take_if(|part| is_integer(part) && !is_hash(part)) {
                name.lora_rank = Some(
                    rank.parse()
                        .map_err(|_| self.error(format!("LoRA rank `{rank}` is too large")))?,
                );
            }
        }
        name.gpu_device = self.take_if(is_pci_id).map(str::to_ascii_lowercase);
        name.hash = self.take_if(is_hash).map(str::to_owned);
        if let Some(vram) = self.take_if(|part| part.contains('.')) {
            name.min_vram_per_gpu = Some(parse_decimal_gb(vram).ok_or_else(|| {
                self.error(format!(
                    "part `{vram}` not understood (expected a minimum GB per GPU such as 32.0)"
                ))
            })?);
        }
        if let Some(gpus) = self.take_if(is_integer) {
            name.num_gpus = Some(
                gpus.parse()
                    .map_err(|_| self.error(format!("GPU count `{gpus}` is too large")))?,
            );
        }
        match self.peek() {
            None => Ok(name),
            Some(part) => Err(self.error(format!(
                "part `{part}` not understood (expected, in order: pp<M>, latency|throughput, \
                 lora[-<rank>], <device>:<vendor>, <hash>, <GB>.<fraction>, <GPU count>)"
            ))),
        }
    }

    /// A GPU or precision part: letters, digits, underscores, dots.
    fn word(&self, part: &str, what: &str) -> Result<String> {
        if part
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        {
            Ok(part.to_owned())
        } else {
            Err(self.error(format!("{what} part `{part}` not understood")))
        }
    }
}

/// `tp8` → 8 (a positive count after the prefix).
fn count(part: &str, prefix: &str) -> Option<u64> {
    let digits = part.strip_prefix(prefix)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|n| *n > 0)
}

fn is_integer(part: &str) -> bool {
    !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit())
}

/// `2321:10de`: 4 hex digits, a colon, 4 hex digits.
fn is_pci_id(part: &str) -> bool {
    part.split_once(':').is_some_and(|(device, vendor)| {
        [device, vendor]
            .iter()
            .all(|half| half.len() == 4 && half.bytes().all(|b| b.is_ascii_hexdigit()))
    })
}

/// 16 or more hex digits.
fn is_hash(part: &str) -> bool {
    part.len() >= 16 && part.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "5e20634213cb4c32e86f048dbc274eb8bff74720af81fe400d8924e766f3e723";

    fn parse(text: &str) -> ProfileName {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn parts_of_each_form() {
        let n = parse("tensorrt_llm-A100-fp16-tp2-latency");
        assert_eq!(n.gpu.as_deref(), Some("A100"));
        assert_eq!((n.tp, n.pp, n.qos), (Some(2), None, Some(Qos::Latency)));

        let n = parse("tensorrt_llm-trtllm_buildable-bf16-tp8-pp2");
        assert!(n.buildable);
        assert_eq!(n.gpu, None);
        assert_eq!((n.tp, n.pp), (Some(8), Some(2)));

        let n = parse(&format!("vllm-bf16-tp2-pp1-lora-32-{HASH}"));
        assert!(n.lora);
        assert_eq!(n.lora_rank, Some(32));
        assert_eq!(n.hash.as_deref(), Some(HASH));
        assert_eq!(n.num_gpus, None);

        let n = parse(&format!(
            "tensorrt_llm-h100_nvl-fp8-tp1-pp1-throughput-2321:10de-{HASH}-1"
        ));
        assert_eq!(n.gpu_device.as_deref(), Some("2321:10de"));
        assert_eq!(n.num_gpus, Some(1));

        let n = parse("trtllm-fp8-tp2-pp1");
        assert_eq!(n.engine, Engine::TensorrtLlm);
        assert!(n.short_engine);

        let n = parse("vllm-bf16-tp1-pp1-feat_lora");
        assert_eq!(n.lora_spelling, LoraSpelling::FeatLora);

        let n = parse("sglang");
        assert_eq!(n, ProfileName::new(Engine::Sglang));
    }

    #[test]
    fn errors_name_the_part() {
        for (text, part) in [
            ("", "empty"),
            ("onnx-fp16-tp1", "onnx"),
            ("vllm-bf16", "tp<N>"),
            ("vllm-tp1", "precision"),
            ("vllm-a-b-c-tp1", "`a-b-c`"),
            ("vllm-bf16-tp1-pp1-extra", "`extra`"),
            ("vllm-bf16-tp1-pp1-lora-99999999999", "99999999999"),
            ("vllm-bf16-tp0", "tp<N>"),
            ("vllm--bf16-tp1", "empty part"),
            ("vllm-bf16-tp1-", "empty part"),
            ("vllm-bf16-tp1-1.2.3", "1.2.3"),
            ("vllm-b f16-tp1", "b f16"),
            ("vllm-bf16-tp1-Latency", "Latency"),
        ] {
            match text.parse::<ProfileName>() {
                Err(Error::Invalid { field, message }) => {
                    assert_eq!(field, "profile name");
                    assert!(message.contains(part), "{text}: {message}");
                }
                other => panic!("{text}: {other:?}"),
            }
        }
    }

    #[test]
    fn derived_names() {
        let profile = |pairs: &[(&str, &str)]| {
            Profile::from_tags(
                "id",
                pairs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            )
            .unwrap()
        };
        let trt = profile(&[
            ("llm_engine", "tensorrt_llm"),
            ("gpu", "H100 NVL"),
            ("precision", "fp8"),
            ("tp", "2"),
            ("profile", "latency"),
        ]);
        assert_eq!(
            format(&trt).as_deref(),
            Some("tensorrt_llm-h100_nvl-fp8-tp2-pp1-latency")
        );
        let vllm = profile(&[
            ("llm_engine", "vllm"),
            ("precision", "bf16"),
            ("tp", "2"),
            ("feat_lora", "true"),
            ("profile", "latency"),
        ]);
        assert_eq!(format(&vllm).as_deref(), Some("vllm-bf16-tp2-pp1-lora"));
        let buildable = profile(&[
            ("llm_engine", "tensorrt_llm"),
            ("precision", "bf16"),
            ("trtllm_buildable", "true"),
        ]);
        assert_eq!(
            format(&buildable).as_deref(),
            Some("tensorrt_llm-trtllm_buildable-bf16-tp1-pp1")
        );
        assert_eq!(
            format(&profile(&[("llm_engine", "sglang")])).as_deref(),
            Some("sglang")
        );
        assert_eq!(
            format(&profile(&[("backend", "onnx"), ("precision", "fp16")])),
            None
        );
        for p in [trt, vllm, buildable] {
            let name = ProfileName::from_profile(&p).unwrap();
            assert!(name.matches(&p), "{name}");
        }
    }

    #[test]
    fn matching() {
        let p = Profile::from_tags(
            "id",
            [
                ("llm_engine", "tensorrt_llm"),
                ("gpu", "A100"),
                ("gpu_device", "20b2:10de"),
                ("precision", "fp16"),
                ("tp", "2"),
                ("profile", "latency"),
            ]
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        )
        .unwrap();
        assert!(parse("tensorrt_llm-A100-fp16-tp2-latency").matches(&p));
        assert!(parse("tensorrt_llm-a100-FP16-tp2-pp1-latency").matches(&p));
        assert!(
            parse(&format!(
                "tensorrt_llm-a100-fp16-tp2-pp1-latency-20b2:10de-{HASH}-2"
            ))
            .matches(&p)
        );
        assert!(parse("tensorrt_llm").matches(&p));
        assert!(!parse("vllm").matches(&p));
        assert!(!parse("tensorrt_llm-a100-fp16-tp2-pp1-latency-lora").matches(&p));
        assert!(!parse("tensorrt_llm-a100-fp16-tp2-pp1-throughput").matches(&p));
        assert!(!parse("tensorrt_llm-h100-fp16-tp2-pp1-latency").matches(&p));
        assert!(!parse("tensorrt_llm-a100-fp16-tp2-pp1-latency-2330:10de").matches(&p));
        assert!(!parse("tensorrt_llm-trtllm_buildable-fp16-tp2").matches(&p));
        assert!(!parse("tensorrt_llm-a100-fp16-tp4").matches(&p));
        assert!(!parse(&format!("tensorrt_llm-a100-fp16-tp2-pp1-latency-{HASH}-4")).matches(&p));
    }
}
