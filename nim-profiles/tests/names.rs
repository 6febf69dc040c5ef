//! Profile names: every form of `PROFILES-SIZING.md` §1.4 reads and writes back unchanged, and
//! the names of the fixtures agree with their manifests' tags.

#![allow(clippy::unwrap_used)]

use nim_profiles::{Engine, LoraSpelling, Manifest, ProfileList, ProfileName, Qos};
use nim_sizing::Bytes;

const HASH: &str = "5e20634213cb4c32e86f048dbc274eb8bff74720af81fe400d8924e766f3e723";

/// Every name form NIM has printed (2024, later 1.x, 2025 long form, multi-LLM, NIM 2.x).
fn examples() -> Vec<String> {
    let fixed = [
        // 2024
        "tensorrt_llm-A100-fp16-tp2-latency",
        "tensorrt_llm-A100-fp16-tp1-throughput",
        "tensorrt_llm-a100-bf16-tp4-throughput",
        "vllm-fp16-tp1",
        "vllm-bf16-tp4",
        "vllm-fp16-tp1-lora",
        // later 1.x
        "tensorrt_llm-h100-fp8-tp2-pp1-throughput",
        "vllm-fp16-tp1-pp1",
        "vllm-bf16-tp2-pp1-lora",
        "tensorrt_llm-trtllm_buildable-bf16-tp8-pp2",
        "tensorrt_llm-trtllm_buildable-bf16-tp1-pp1-lora",
        "tensorrt_llm-a100_sxm4_40gb-bf16-tp1-pp1-throughput-lora-lora",
        "tensorrt_llm-h100-int4_awq-tp1-pp1-throughput",
        "tensorrt_llm-rtx6000_blackwell_sv-nvfp4-tp1-pp1-throughput",
        // multi-LLM
        "vllm",
        "tensorrt_llm",
        "sglang",
        // NIM 2.x
        "trtllm-fp8-tp2-pp1",
        "vllm-int4-tp1-pp1-32.0",
        "vllm-int8wo-tp1-pp1",
        "vllm-mxfp4-tp8-pp1-lora",
        "sglang-nvfp4-tp4-pp1",
        "vllm-bf16-tp1-pp1-feat_lora",
        "sglang-h100-bf16-tp8-pp2",
    ];
    let long = [
        "tensorrt_llm-h100_nvl-fp8-tp1-pp1-throughput-2321:10de-{H}-1",
        "tensorrt_llm-a100-bf16-tp2-pp1-throughput-20b2:10de-{H}-2",
        "tensorrt_llm-b200-nvfp4-tp2-pp1-latency-2901:10de-{H}-2",
        "vllm-bf16-tp1-pp1-{H}",
        "vllm-bf16-tp2-pp1-lora-32-{H}",
        "tensorrt_llm-h100_nvl-fp8-tp2-pp1-throughput-lora-lora-2321:10de-{H}-4",
    ];
    fixed
        .iter()
        .map(|s| (*s).to_owned())
        .chain(long.iter().map(|s| s.replace("{H}", HASH)))
        .collect()
}

#[test]
fn every_form_round_trips() {
    for text in examples() {
        let name: ProfileName = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(name.to_string(), text);
        let again: ProfileName = name.to_string().parse().unwrap();
        assert_eq!(again, name, "{text}");
    }
}

#[test]
fn parts_of_the_long_forms() {
    let name: ProfileName =
        format!("tensorrt_llm-h100_nvl-fp8-tp2-pp1-throughput-lora-lora-2321:10de-{HASH}-4")
            .parse()
            .unwrap();
    assert_eq!(
        name,
        ProfileName {
            gpu: Some("h100_nvl".to_owned()),
            precision: Some("fp8".to_owned()),
            tp: Some(2),
            pp: Some(1),
            qos: Some(Qos::Throughput),
            lora: true,
            lora_spelling: LoraSpelling::LoraLora,
            gpu_device: Some("2321:10de".to_owned()),
            hash: Some(HASH.to_owned()),
            num_gpus: Some(4),
            ..ProfileName::new(Engine::TensorrtLlm)
        }
    );

    let name: ProfileName = format!("vllm-bf16-tp2-pp1-lora-32-{HASH}").parse().unwrap();
    assert_eq!(
        (name.lora, name.lora_rank, name.num_gpus),
        (true, Some(32), None)
    );

    let name: ProfileName = "vllm-int4-tp1-pp1-32.0".parse().unwrap();
    assert_eq!(name.min_vram_per_gpu, Some(Bytes::new(32_000_000_000)));
    assert_eq!(name.num_gpus, None);

    let name: ProfileName = "tensorrt_llm-A100-fp16-tp2-latency".parse().unwrap();
    assert_eq!(name.gpu.as_deref(), Some("A100"), "case kept");
    assert_eq!(name.pp, None);
}

#[test]
fn unparseable_names_say_which_part() {
    for (text, part) in [
        ("llama-3.1-8b-instruct", "llama"),
        ("a100-fp16-tp1-throughput", "a100"),
        ("vllm-fp16", "tp<N>"),
        ("vllm-fp16-tp1-pp1-fast", "fast"),
        ("vllm-fp16-tp1-pp1-lora-lora-lora", "lora"),
        ("tensorrt_llm-h100-extra-fp8-tp1", "fp8"),
        ("vllm-fp16-tpx", "tp<N>"),
        ("vllm-fp16-tp1-pp1-2321:10de-2330:10de", "2330:10de"),
    ] {
        match text.parse::<ProfileName>() {
            Err(nim_profiles::Error::Invalid { field, message }) => {
                assert_eq!(field, "profile name");
                assert!(message.contains(part), "{text}: {message}");
            }
            other => panic!("{text}: {other:?}"),
        }
    }
}

#[test]
fn fixture_names_parse_and_match_their_manifest_entries() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let list =
        std::fs::read_to_string(dir.join("01-nim-docs-1.1.0-list-model-profiles.txt")).unwrap();
    let list = ProfileList::parse("01", &list).unwrap();
    for listed in list.profiles() {
        let name: ProfileName = listed.name.as_deref().unwrap().parse().unwrap();
        assert_eq!(Some(name.to_string()), listed.name);
    }

    let variants =
        std::fs::read_to_string(dir.join("10-synthetic-list-model-profiles-variants.txt")).unwrap();
    let list = ProfileList::parse("10", &variants).unwrap();
    for listed in list.profiles() {
        let text = listed.name.as_deref().unwrap();
        let name: ProfileName = text.parse().unwrap();
        assert_eq!(name.to_string(), text);
    }
    // The runnable list has a LoRA sub-list (the incompatible one has none in this output).
    for listed in &list.runnable {
        let name: ProfileName = listed.name.as_deref().unwrap().parse().unwrap();
        assert_eq!(listed.lora, name.lora, "{name}");
    }

    let v1 =
        std::fs::read_to_string(dir.join("05-k8s-nim-operator-manifest-v1-fixtures.yaml")).unwrap();
    for manifest in Manifest::parse_documents("05", &v1).unwrap() {
        for profile in &manifest.profiles {
            if let Some(text) = &profile.name {
                let name: ProfileName = text.parse().unwrap();
                assert!(name.matches(profile), "{text}");
                assert_eq!(&name.to_string(), text);
            }
        }
    }
}
