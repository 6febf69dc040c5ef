//! The profiles to select from: a NIM manifest's, or those NIM publishes for such a model,
//! derived from the catalogs.

use std::collections::BTreeMap;

use nim_profiles::{Engine, GpuGroup, Inventory, Profile, Qos, name};
use nim_sizing::engine::{self, EngineModel};
use nim_sizing::{GpuSpec, ModelArch, Precision};

use crate::cli::precision_tag;

/// Tensor parallelisms of the derived profiles (NIM publishes these for single-node LLMs).
const DERIVED_TP: [u64; 4] = [1, 2, 4, 8];

/// The label of derived profiles in the output.
pub const DERIVED_LABEL: &str = "derived (no manifest given)";

/// The profiles NIM publishes for a model like `arch`, for the GPUs of `inventory`:
///
/// - per GPU family in the inventory, TensorRT-LLM profiles built for it (`gpu` and
///   `gpu_device` tags from the catalog GPU) in the precisions it runs (FP8 from compute
///   capability 8.9, BF16 from 8.0, else FP16) x TP 1/2/4/8 x latency and throughput;
/// - generic vLLM profiles in BF16 (FP16 when a GPU lacks BF16, FP8 when a GPU has it) x TP
///   1/2/4/8.
///
/// A checkpoint that is already quantized (an AWQ or FP8 model) gets profiles in its own
/// precision only: TensorRT-LLM ones when it is FP8, vLLM ones always. TPs the model's heads do
/// not divide by are left out. Ids are digests of the tags (opaque, not NGC ids); names are
/// NIM's 1.x names.
pub fn derived(arch: &ModelArch, inventory: &Inventory) -> Vec<Profile> {
    let checkpoint = Precision::from_config(arch);
    let quantized = !matches!(
        checkpoint,
        Precision::Bf16 | Precision::Fp16 | Precision::Fp32
    );
    let tps: Vec<u64> = DERIVED_TP
        .into_iter()
        .filter(|&tp| arch.check_parallelism(tp, 1).is_ok())
        .collect();
    let mut gpus: Vec<&GpuSpec> = Vec::new();
    for group in &inventory.groups {
        if !gpus.iter().any(|g| g.id == group.gpu.id) {
            gpus.push(&group.gpu);
        }
    }

    let mut profiles = Vec::new();
    for gpu in &gpus {
        let precisions: Vec<Precision> = if quantized {
            if checkpoint == Precision::Fp8 && gpu.supports_fp8() {
                vec![Precision::Fp8]
            } else {
                Vec::new()
            }
        } else {
            let mut list = Vec::new();
            if gpu.supports_fp8() {
                list.push(Precision::Fp8);
            }
            list.push(if gpu.supports_bf16() {
                Precision::Bf16
            } else {
                Precision::Fp16
            });
            list
        };
        for precision in precisions {
            for &tp in &tps {
                for qos in [Qos::Latency, Qos::Throughput] {
                    let mut tags = base_tags("tensorrt_llm", precision, tp);
                    tags.insert("gpu".to_owned(), family(gpu));
                    if !gpu.pci_id().is_empty() {
                        tags.insert("gpu_device".to_owned(), gpu.pci_id());
                    }
                    tags.insert("profile".to_owned(), qos.as_str().to_owned());
                    profiles.extend(profile(tags));
                }
            }
        }
    }

    let vllm: Vec<Precision> = if quantized {
        vec![checkpoint]
    } else {
        let mut list = vec![Precision::Bf16];
        if gpus.iter().any(|g| !g.supports_bf16()) {
            list.push(Precision::Fp16);
        }
        if gpus.iter().any(|g| g.supports_fp8()) {
            list.push(Precision::Fp8);
        }
        list
    };
    for precision in vllm {
        for &tp in &tps {
            profiles.extend(profile(base_tags("vllm", precision, tp)));
        }
    }
    profiles
}

fn base_tags(engine: &str, precision: Precision, tp: u64) -> BTreeMap<String, String> {
    [
        ("llm_engine", engine.to_owned()),
        ("precision", precision_tag(precision)),
        ("tp", tp.to_string()),
        ("pp", "1".to_owned()),
        ("feat_lora", "false".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// A profile from its tags, with a digest id and its NIM 1.x name.
fn profile(tags: BTreeMap<String, String>) -> Option<Profile> {
    let mut profile = Profile::from_tags(digest(&tags), tags).ok()?;
    profile.name = name::format(&profile);
    Some(profile)
}

/// The GPU family tag NIM writes for a catalog GPU: the id up to its form factor or memory
/// (`h100-sxm-80gb` → `H100`, `h100-nvl-94gb` → `H100_NVL`, `l40s-48gb` → `L40S`).
pub fn family(gpu: &GpuSpec) -> String {
    let parts: Vec<&str> = gpu
        .id
        .split('-')
        .take_while(|part| !is_form_factor_or_memory(part))
        .collect();
    let parts = if parts.is_empty() {
        vec![gpu.id.as_str()]
    } else {
        parts
    };
    parts.join("_").to_ascii_uppercase()
}

/// `sxm`, `pcie`, `80gb`: an id part after the family.
fn is_form_factor_or_memory(part: &str) -> bool {
    let memory = part
        .strip_suffix("gb")
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    memory || matches!(part, "sxm" | "sxm4" | "sxm5" | "pcie")
}

/// 64 hex digits from the tags: four FNV-1a 64-bit hashes with different seeds. Opaque, like
/// NIM's ids, and stable across runs.
fn digest(tags: &BTreeMap<String, String>) -> String {
    let text: String = tags.iter().map(|(k, v)| format!("{k}={v};")).collect();
    (0u64..4)
        .map(|seed| {
            let mut hash = 0xcbf2_9ce4_8422_2325_u64 ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            for byte in text.bytes() {
                hash ^= u64::from(byte);
                hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
            }
            // splitmix64's finalizer, so that similar tags give unrelated digests.
            hash = (hash ^ (hash >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            hash = (hash ^ (hash >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            hash ^= hash >> 31;
            format!("{hash:016x}")
        })
        .collect()
}

/// The precision nim-sizing sizes for a profile's precision tag (`int8wo` as `int8`).
pub fn precision_of(profile: &Profile) -> Option<Precision> {
    profile
        .precision
        .as_deref()
        .and_then(|p| p.replace("wo", "").parse::<Precision>().ok())
}

/// The memory model of a profile's engine, as the selection's memory check uses it.
pub fn engine_of(profile: &Profile) -> EngineModel {
    match profile.engine {
        Engine::TensorrtLlm => engine::trtllm(),
        _ => EngineModel::vllm(),
    }
}

/// The group's GPU as the sizing should see it: the memory a NIM can use on it (free memory,
/// a MIG slice) and no NVLink when the group has none.
pub fn effective_gpu(group: &GpuGroup) -> GpuSpec {
    let mut gpu = group.gpu.clone();
    gpu.visible_memory = group.memory_per_gpu();
    if !group.has_nvlink() {
        gpu.interconnect = nim_sizing::Interconnect::Pcie;
    }
    gpu
}

/// The reasons of a decision that say why it cannot run or lost, without the notes every
/// profile gets (memory left for the KV cache, shared memory).
pub fn deciding_reasons(reasons: &[String]) -> Vec<&str> {
    reasons
        .iter()
        .map(String::as_str)
        .filter(|r| {
            !r.starts_with("memory: ")
                && !r.starts_with("memory not checked")
                && !r.starts_with("multi-GPU without NVLink")
        })
        .collect()
}
