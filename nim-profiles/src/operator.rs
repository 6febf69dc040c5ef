//! Which profiles a NIMCache downloads: the NIM Operator's selector matching.
//!
//! The operator does not rank; it caches every profile its `spec.source.ngc.model` selectors
//! match, and the NIM chooses among them at start. This module decides as the operator does
//! (`k8s-nim-operator` `internal/nimparser/v1` and `v2` `MatchProfiles`, at f63f74d;
//! `NIM-OPERATOR.md` §1, `PROFILES-SIZING.md` §1.10), with the reason for each profile:
//!
//! * `profiles`: when given, exactly those ids are cached (`["all"]`: every profile) and
//!   the other selectors are ignored;
//! * `precision`, `tensorParallelism`, `qosProfile`: equal to the `precision`, `tp`, `profile`
//!   tags;
//! * `lora`: unset excludes profiles with `feat_lora: "true"`; set, the tag must equal it;
//! * `engine`: a substring of the profile's engine after a `_llm` suffix is stripped from the
//!   selector (`tensorrt` matches `tensorrt_llm`); in v2 manifests the engine comes from
//!   `llm_engine`, else `model_type`, else `backend`, and `triton` counts as `tensorrt`;
//! * GPUs: when the engine is TensorRT or GPUs are given, non-TensorRT profiles are dropped and
//!   the GPU must match: a `product` is a case-insensitive substring of the `gpu` (or `key`)
//!   tag, `ids` equal `gpu_device` without `:10de`; with no GPUs given, the node's
//!   `nvidia.com/gpu.product` labels must contain the `gpu` tag. In v2 manifests a profile with
//!   no GPU tag always passes, and a buildable profile is kept even when its GPU does not match;
//! * `buildable` (v2 only): equal to `trtllm_buildable`.
//!
//! Selectors are plain values, so this crate does not depend on `nim-crds`.
//!
//! ```
//! use nim_profiles::operator::{CacheSelector, GpuSelector, cache_profiles};
//! use nim_profiles::Profile;
//! use std::collections::BTreeMap;
//!
//! let profile = |id: &str, engine: &str, gpu: &str| {
//!     let tags: BTreeMap<String, String> = [("llm_engine", engine), ("gpu", gpu), ("precision", "fp8"), ("tp", "1")]
//!         .into_iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
//!     Profile::from_tags(id, tags)
//! };
//! let profiles = [profile("a", "tensorrt_llm", "H100")?, profile("b", "tensorrt_llm", "L40S")?, profile("c", "vllm", "")?];
//! let selector = CacheSelector {
//!     engine: Some("tensorrt_llm".into()),
//!     gpus: vec![GpuSelector { product: Some("h100".into()), ids: vec![] }],
//!     ..CacheSelector::default()
//! };
//! let matches = cache_profiles(&profiles, &selector, &[], false);
//! let cached: Vec<&str> = matches.iter().filter(|m| m.cached).map(|m| m.id.as_str()).collect();
//! assert_eq!(cached, ["a"]);
//! # Ok::<(), nim_profiles::Error>(())
//! ```

use serde::Serialize;

use crate::profile::Profile;

/// One entry of `spec.source.ngc.model.gpus`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct GpuSelector {
    /// A product name, matched as a case-insensitive substring of the `gpu` tag.
    pub product: Option<String>,
    /// PCI device ids (`2330`), matched against `gpu_device` without `:10de`.
    pub ids: Vec<String>,
}

/// `spec.source.ngc.model` of a NIMCache, as plain values.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CacheSelector {
    /// Explicit profile ids, or `["all"]`.
    pub profiles: Vec<String>,
    /// `precision`.
    pub precision: Option<String>,
    /// `engine`.
    pub engine: Option<String>,
    /// `tensorParallelism` (a string in the CRD).
    pub tensor_parallelism: Option<String>,
    /// `qosProfile`.
    pub qos_profile: Option<String>,
    /// `gpus`.
    pub gpus: Vec<GpuSelector>,
    /// `lora`.
    pub lora: Option<bool>,
    /// `buildable` (honoured for v2 manifests only, as the operator does).
    pub buildable: Option<bool>,
}

/// The operator's decision for one profile.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CacheMatch {
    /// The profile id.
    pub id: String,
    /// Whether the NIMCache downloads it.
    pub cached: bool,
    /// Why not (every failed selector), or why it is kept.
    pub reasons: Vec<String>,
}

/// Decides for every profile whether a NIMCache with `selector` caches it. `node_products`
/// are the `nvidia.com/gpu.product` labels of the cluster's GPU nodes (used when the selector
/// names no GPUs); `v2` says whether the manifest has schema version 2.
pub fn cache_profiles(
    profiles: &[Profile],
    selector: &CacheSelector,
    node_products: &[String],
    v2: bool,
) -> Vec<CacheMatch> {
    profiles
        .iter()
        .map(|profile| {
            let reasons = reasons_against(profile, selector, node_products, v2);
            CacheMatch {
                id: profile.id.clone(),
                cached: reasons.is_empty(),
                reasons: if reasons.is_empty() {
                    vec!["matches every selector".to_owned()]
                } else {
                    reasons
                },
            }
        })
        .collect()
}

/// The profile's engine as the operator reads it.
fn engine_of(profile: &Profile, v2: bool) -> String {
    let tag = |key: &str| profile.tags.get(key).filter(|v| !v.is_empty()).cloned();
    let engine = if v2 {
        tag("llm_engine")
            .or_else(|| tag("model_type"))
            .or_else(|| tag("backend"))
    } else {
        tag("llm_engine").or_else(|| tag("backend"))
    }
    .unwrap_or_default()
    .to_ascii_lowercase();
    if v2 && engine == "triton" {
        "tensorrt".to_owned()
    } else {
        engine
    }
}

fn reasons_against(
    profile: &Profile,
    selector: &CacheSelector,
    node_products: &[String],
    v2: bool,
) -> Vec<String> {
    if !selector.profiles.is_empty() {
        if selector
            .profiles
            .iter()
            .any(|p| p == "all" || *p == profile.id)
        {
            return Vec::new();
        }
        return vec!["not in spec.source.ngc.model.profiles".to_owned()];
    }
    let mut reasons = Vec::new();
    let tag = |key: &str| profile.tags.get(key).map(String::as_str).unwrap_or("");
    for (field, key, wanted) in [
        ("precision", "precision", &selector.precision),
        ("tensorParallelism", "tp", &selector.tensor_parallelism),
        ("qosProfile", "profile", &selector.qos_profile),
    ] {
        if let Some(wanted) = wanted.as_deref().filter(|w| !w.is_empty())
            && tag(key) != wanted
        {
            reasons.push(format!(
                "{field} {wanted:?} does not match tag {key}={:?}",
                tag(key)
            ));
        }
    }
    let lora = tag("feat_lora") == "true";
    match selector.lora {
        None if lora => reasons.push("a LoRA profile, and lora is not set".to_owned()),
        Some(wanted) if wanted != lora => {
            reasons.push(format!(
                "lora {wanted} does not match tag feat_lora={:?}",
                tag("feat_lora")
            ));
        }
        _ => {}
    }
    if v2
        && let Some(wanted) = selector.buildable
        && (tag("trtllm_buildable") == "true") != wanted
    {
        reasons.push(format!(
            "buildable {wanted} does not match tag trtllm_buildable={:?}",
            tag("trtllm_buildable")
        ));
    }
    let engine = engine_of(profile, v2);
    let wanted_engine = selector
        .engine
        .as_deref()
        .filter(|e| !e.is_empty())
        .map(|e| e.to_ascii_lowercase());
    if let Some(wanted) = &wanted_engine {
        let stem = wanted.strip_suffix("_llm").unwrap_or(wanted);
        if !engine.contains(stem) {
            reasons.push(format!("engine {wanted:?} does not match {engine:?}"));
        }
    }
    let tensorrt_wanted = wanted_engine
        .as_deref()
        .is_some_and(|e| e.contains("tensorrt"));
    let gpu_tag = profile.tags.get("gpu").or_else(|| profile.tags.get("key"));
    let no_gpu_identity = gpu_tag.is_none() && profile.gpu_device.is_none();
    if tensorrt_wanted || !selector.gpus.is_empty() {
        if !engine.contains("tensorrt") {
            reasons.push(format!(
                "a {engine} profile: with a TensorRT engine or GPUs selected, only TensorRT \
                 profiles are cached"
            ));
        }
        let gpu_ok = if v2 && no_gpu_identity {
            true
        } else if selector.gpus.is_empty() {
            node_gpu_matches(gpu_tag, node_products)
        } else {
            selector
                .gpus
                .iter()
                .any(|g| gpu_selector_matches(g, gpu_tag, profile))
        };
        let kept_buildable = v2 && tag("trtllm_buildable") == "true";
        if !gpu_ok && !kept_buildable {
            reasons.push(match gpu_tag {
                Some(gpu) => format!("GPU {gpu:?} is not among the selected GPUs"),
                None => "the profile names no GPU".to_owned(),
            });
        }
    }
    reasons
}

fn node_gpu_matches(gpu_tag: Option<&String>, node_products: &[String]) -> bool {
    let Some(gpu) = gpu_tag else {
        return false;
    };
    let gpu = gpu.to_ascii_lowercase();
    node_products
        .iter()
        .any(|product| product.to_ascii_lowercase().contains(&gpu))
}

fn gpu_selector_matches(
    selector: &GpuSelector,
    gpu_tag: Option<&String>,
    profile: &Profile,
) -> bool {
    let product_ok = match (&selector.product, gpu_tag) {
        (Some(product), Some(gpu)) => gpu
            .to_ascii_lowercase()
            .contains(&product.to_ascii_lowercase()),
        (Some(_), None) => false,
        (None, _) => true,
    };
    let ids_ok = selector.ids.is_empty()
        || profile.gpu_device.as_deref().is_some_and(|device| {
            let device = device.trim_end_matches(":10de");
            selector
                .ids
                .iter()
                .any(|id| id.eq_ignore_ascii_case(device))
        });
    product_ok && ids_ok
}
