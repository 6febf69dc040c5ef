//! The NIM Operator's NIMCache selectors on the operator's own manifest fixtures.

use nim_profiles::Manifest;
use nim_profiles::operator::{CacheSelector, GpuSelector, cache_profiles};

fn v2() -> Manifest {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/06-k8s-nim-operator-manifest-v2-fixture.yaml"
    );
    Manifest::from_file(std::path::Path::new(path)).expect("v2 fixture")
}

fn cached(manifest: &Manifest, selector: &CacheSelector, nodes: &[&str]) -> Vec<String> {
    let nodes: Vec<String> = nodes.iter().map(|n| (*n).to_owned()).collect();
    let v2 = matches!(manifest.version, nim_profiles::ManifestVersion::V2 { .. });
    cache_profiles(&manifest.profiles, selector, &nodes, v2)
        .into_iter()
        .filter(|m| m.cached)
        .map(|m| m.id)
        .collect()
}

const TRT_L40S: &str = "aaaabbbbccccddddeeeeffff0000111122223333444455556666777788889999";
const VLLM: &str = "1111222233334444555566667777888899990000aaaabbbbccccddddeeeeffff";

#[test]
fn explicit_profiles_and_all() {
    let manifest = v2();
    let all = CacheSelector {
        profiles: vec!["all".into()],
        ..CacheSelector::default()
    };
    assert_eq!(cached(&manifest, &all, &[]).len(), manifest.profiles.len());
    let one = CacheSelector {
        profiles: vec![VLLM.into()],
        precision: Some("fp8".into()),
        ..CacheSelector::default()
    };
    // With explicit profiles the other selectors are ignored.
    assert_eq!(cached(&manifest, &one, &[]), [VLLM]);
}

#[test]
fn engine_is_a_substring_after_stripping_llm() {
    let manifest = v2();
    for engine in ["tensorrt_llm", "tensorrt"] {
        let selector = CacheSelector {
            engine: Some(engine.into()),
            ..CacheSelector::default()
        };
        // A TensorRT engine also requires a GPU match, against the nodes' product labels.
        assert_eq!(
            cached(&manifest, &selector, &["NVIDIA-L40S"]),
            [TRT_L40S],
            "{engine}"
        );
        assert!(
            cached(&manifest, &selector, &["NVIDIA-H100-80GB-HBM3"]).is_empty(),
            "{engine}"
        );
    }
    let vllm = CacheSelector {
        engine: Some("vllm".into()),
        ..CacheSelector::default()
    };
    assert!(cached(&manifest, &vllm, &[]).contains(&VLLM.to_owned()));
}

#[test]
fn gpus_precision_tp_qos_and_lora() {
    let manifest = v2();
    let gpus = |product: &str, ids: &[&str]| CacheSelector {
        gpus: vec![GpuSelector {
            product: Some(product.into()),
            ids: ids.iter().map(|i| (*i).to_owned()).collect(),
        }],
        ..CacheSelector::default()
    };
    assert_eq!(cached(&manifest, &gpus("l40s", &[]), &[]), [TRT_L40S]);
    assert_eq!(cached(&manifest, &gpus("L40S", &["26b5"]), &[]), [TRT_L40S]);
    assert!(cached(&manifest, &gpus("L40S", &["2330"]), &[]).is_empty());

    let matches = cache_profiles(
        &manifest.profiles,
        &CacheSelector {
            precision: Some("bf16".into()),
            ..CacheSelector::default()
        },
        &[],
        true,
    );
    assert!(
        matches
            .iter()
            .all(|m| !m.cached || m.reasons == ["matches every selector"])
    );
    let fp16 = CacheSelector {
        precision: Some("fp16".into()),
        tensor_parallelism: Some("1".into()),
        qos_profile: Some("latency".into()),
        ..CacheSelector::default()
    };
    assert_eq!(cached(&manifest, &fp16, &[]), [VLLM]);
    let reasons = cache_profiles(&manifest.profiles, &fp16, &[], true)
        .into_iter()
        .find(|m| m.id == TRT_L40S)
        .map(|m| m.reasons)
        .unwrap_or_default();
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("tensorParallelism \"1\"")),
        "{reasons:?}"
    );
    assert!(
        reasons.iter().any(|r| r.contains("qosProfile \"latency\"")),
        "{reasons:?}"
    );

    // A feat_lora profile is cached only when lora is set, and then only LoRA profiles are.
    let mut tags = manifest
        .profiles
        .iter()
        .find(|p| p.id == VLLM)
        .map(|p| p.tags.clone())
        .unwrap_or_default();
    tags.insert("feat_lora".into(), "true".into());
    let lora = nim_profiles::Profile::from_tags("lora", tags).expect("tags");
    let plain = manifest
        .profiles
        .iter()
        .find(|p| p.id == VLLM)
        .cloned()
        .expect("vllm profile");
    let both = [lora, plain];
    let ids = |selector: &CacheSelector| -> Vec<String> {
        cache_profiles(&both, selector, &[], true)
            .into_iter()
            .filter(|m| m.cached)
            .map(|m| m.id)
            .collect()
    };
    assert_eq!(ids(&CacheSelector::default()), [VLLM]);
    assert_eq!(
        ids(&CacheSelector {
            lora: Some(true),
            ..CacheSelector::default()
        }),
        ["lora"]
    );
    assert_eq!(
        ids(&CacheSelector {
            lora: Some(false),
            ..CacheSelector::default()
        }),
        [VLLM]
    );
}
