//! Every filter and ranking rule of the selection, and `NIM_MODEL_PROFILE`.

use std::collections::BTreeMap;

use nim_profiles::selection::{Rule, SelectionOptions, Verdict, pin, render_list, select};
use nim_profiles::{Engine, Error, Inventory, Profile, Qos};

fn profile(id: &str, tags: &[(&str, &str)]) -> Profile {
    let tags: BTreeMap<String, String> = tags
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let mut profile = Profile::from_tags(format!("{id:0<64}"), tags).expect("valid tags");
    profile.name = Some(id.to_owned());
    profile
}

fn trt(id: &str, precision: &str, tp: &str, qos: &str, gpu: &str, device: &str) -> Profile {
    profile(
        id,
        &[
            ("llm_engine", "tensorrt_llm"),
            ("precision", precision),
            ("tp", tp),
            ("pp", "1"),
            ("profile", qos),
            ("gpu", gpu),
            ("gpu_device", device),
            ("feat_lora", "false"),
        ],
    )
}

fn vllm(id: &str, precision: &str, tp: &str) -> Profile {
    profile(
        id,
        &[
            ("llm_engine", "vllm"),
            ("precision", precision),
            ("tp", tp),
            ("pp", "1"),
            ("feat_lora", "false"),
        ],
    )
}

fn gpus(spec: &str) -> Inventory {
    spec.parse().expect("inventory")
}

fn reasons_of<'a>(selection: &'a nim_profiles::Selection, name: &str) -> &'a [String] {
    selection
        .decisions
        .iter()
        .find(|d| d.profile.name.as_deref() == Some(name))
        .map(|d| d.reasons.as_slice())
        .expect("profile present")
}

fn assert_rejected(selection: &nim_profiles::Selection, name: &str, needle: &str) {
    let decision = selection
        .decisions
        .iter()
        .find(|d| d.profile.name.as_deref() == Some(name))
        .expect("profile present");
    assert_eq!(
        decision.verdict,
        Verdict::Rejected,
        "{name}: {:?}",
        decision.reasons
    );
    assert!(
        decision.reasons.iter().any(|r| r.contains(needle)),
        "{name}: no reason mentions {needle:?}: {:?}",
        decision.reasons
    );
}

fn selected(selection: &nim_profiles::Selection) -> Option<&str> {
    selection.selected().and_then(|d| d.profile.name.as_deref())
}

#[test]
fn filter_gpu_device_family_and_generic() {
    let profiles = [
        trt("h100", "fp8", "1", "throughput", "H100", "2330:10de"),
        trt("a100", "bf16", "1", "throughput", "A100", "20b2:10de"),
        profile(
            "l40s-family",
            &[
                ("llm_engine", "tensorrt_llm"),
                ("precision", "fp16"),
                ("tp", "1"),
                ("gpu", "L40S"),
            ],
        ),
        vllm("generic", "bf16", "1"),
    ];
    let selection = select(
        &profiles,
        &gpus("1xH100-SXM-80GB"),
        &SelectionOptions::default(),
    );
    assert_eq!(selected(&selection), Some("h100"));
    assert_rejected(&selection, "a100", "built for GPU device 20b2:10de");
    assert_rejected(&selection, "l40s-family", "built for L40S GPUs");
    assert!(matches!(
        selection.verdict_of(&profiles[3].id),
        Some(Verdict::Runnable { .. })
    ));
    // The family tag alone matches every member of the family.
    let selection = select(&profiles, &gpus("1xL40S"), &SelectionOptions::default());
    assert_eq!(selected(&selection), Some("l40s-family"));
}

#[test]
fn filter_gpu_count_and_interconnect() {
    let profiles = [
        trt("tp2", "fp8", "2", "latency", "H100", "2330:10de"),
        vllm("tp2-generic", "bf16", "2"),
    ];
    let one = select(
        &profiles,
        &gpus("1xH100-SXM-80GB"),
        &SelectionOptions::default(),
    );
    assert_rejected(&one, "tp2", "needs 2 GPUs");
    assert!(one.selected().is_none());

    // Two virtual L40S without NVLink cannot run TP 2; on bare metal they can, with a note.
    let vgpu = select(
        &profiles,
        &gpus("2xL40S:vgpu"),
        &SelectionOptions::default(),
    );
    assert_rejected(&vgpu, "tp2-generic", "vGPU has no peer-to-peer");
    let bare = select(&profiles, &gpus("2xL40S"), &SelectionOptions::default());
    assert_eq!(selected(&bare), Some("tp2-generic"));
    assert!(
        reasons_of(&bare, "tp2-generic")
            .iter()
            .any(|r| r.contains("shared memory"))
    );
}

#[test]
fn filter_precision_needs_compute_capability() {
    let profiles = [
        vllm("fp8", "fp8", "1"),
        vllm("bf16", "bf16", "1"),
        vllm("nvfp4", "nvfp4", "1"),
        vllm("fp16", "fp16", "1"),
    ];
    let a100 = select(
        &profiles,
        &gpus("1xA100-SXM4-80GB"),
        &SelectionOptions::default(),
    );
    assert_rejected(&a100, "fp8", "FP8 needs compute capability 8.9");
    assert_rejected(&a100, "nvfp4", "NVFP4 needs compute capability 10.0");
    let t4 = select(&profiles, &gpus("1xT4"), &SelectionOptions::default());
    assert_rejected(&t4, "bf16", "BF16 needs compute capability 8.0");
    assert_eq!(selected(&t4), Some("fp16"));
    let b200 = select(&profiles, &gpus("1xB200"), &SelectionOptions::default());
    assert_eq!(selected(&b200), Some("nvfp4"));
}

#[test]
fn filter_memory_from_the_manifest_or_the_model() {
    let mut big = vllm("needs-100gb", "bf16", "1");
    big.min_vram_per_gpu = Some(nim_sizing::Bytes::from_gb(100.0));
    let selection = select(
        &[big.clone()],
        &gpus("1xH100-SXM-80GB"),
        &SelectionOptions::default(),
    );
    assert_rejected(&selection, "needs-100gb", "min_vram_per_device_gb");
    assert!(
        select(&[big], &gpus("1xH200"), &SelectionOptions::default())
            .selected()
            .is_some()
    );

    // Without a minimum, the model's weights and a minimum KV cache decide.
    let options = SelectionOptions {
        model: Some(
            nim_sizing::ModelCatalog::builtin()
                .lookup("meta/llama-3.1-70b-instruct")
                .expect("model")
                .arch
                .clone(),
        ),
        ..SelectionOptions::default()
    };
    let profiles = [vllm("tp1", "bf16", "1"), vllm("tp4", "bf16", "4")];
    let selection = select(&profiles, &gpus("4xH100-SXM-80GB"), &options);
    assert_rejected(&selection, "tp1", "not enough memory");
    assert_eq!(selected(&selection), Some("tp4"));
    // Free memory counts, not the card's size.
    let busy = select(&profiles, &gpus("4xH100-SXM-80GB:free=20GiB"), &options);
    assert_rejected(&busy, "tp4", "not enough memory");
    // NIM_RELAX_MEM_CONSTRAINTS skips the check.
    let relaxed = SelectionOptions {
        relax_memory: true,
        ..options
    };
    assert!(
        select(&profiles, &gpus("1xH100-SXM-80GB"), &relaxed)
            .selected()
            .is_some()
    );
}

#[test]
fn filter_lora_engines_tags_and_mig() {
    let lora = profile(
        "lora",
        &[
            ("llm_engine", "vllm"),
            ("precision", "bf16"),
            ("tp", "1"),
            ("feat_lora", "true"),
        ],
    );
    let plain = vllm("plain", "bf16", "1");
    let sglang = profile(
        "sglang",
        &[("llm_engine", "sglang"), ("precision", "fp8"), ("tp", "1")],
    );
    let profiles = [lora, plain, sglang];
    let h100 = gpus("1xH100-SXM-80GB");

    let without = select(&profiles, &h100, &SelectionOptions::default());
    assert_rejected(&without, "lora", "LoRA is not enabled");
    let with = select(
        &profiles,
        &h100,
        &SelectionOptions {
            lora: true,
            ..SelectionOptions::default()
        },
    );
    assert_rejected(&with, "plain", "does not support LoRA, but LoRA is enabled");
    assert_eq!(selected(&with), Some("lora"));

    let vllm_only = SelectionOptions {
        engines: Some(vec![Engine::Vllm]),
        ..SelectionOptions::default()
    };
    assert_rejected(
        &select(&profiles, &h100, &vllm_only),
        "sglang",
        "not in this image",
    );

    let fp8_only = SelectionOptions::default()
        .with_tags_selector("precision=fp8")
        .expect("selector");
    let tagged = select(&profiles, &h100, &fp8_only);
    assert_eq!(selected(&tagged), Some("sglang"));
    assert_rejected(
        &tagged,
        "plain",
        "does not match the selector precision=fp8",
    );
    assert!(
        SelectionOptions::default()
            .with_tags_selector("precision")
            .is_err()
    );

    let mig = select(
        &[
            trt("h100", "fp8", "1", "latency", "H100", "2330:10de"),
            vllm("plain", "bf16", "1"),
        ],
        &gpus("1xH100-SXM-80GB:mig=3g.40gb"),
        &SelectionOptions::default(),
    );
    assert_rejected(&mig, "h100", "MIG");
}

#[test]
fn ranking_rules_in_order() {
    let h100 = gpus("8xH100-SXM-80GB");
    let options = SelectionOptions::default();
    let case = |a: Profile, b: Profile, rule: Rule| {
        let selection = select(&[b.clone(), a.clone()], &h100, &options);
        assert_eq!(
            selection.selected().map(|d| &d.profile.id),
            Some(&a.id),
            "{rule:?}"
        );
        assert_eq!(
            selection.verdict_of(&b.id),
            Some(&Verdict::Runnable { rule }),
            "{rule:?}"
        );
        assert!(
            reasons_of(&selection, b.name.as_deref().unwrap_or_default())[0]
                .contains("outranked by")
        );
    };
    case(
        trt("specific", "bf16", "1", "throughput", "H100", "2330:10de"),
        vllm("generic", "fp8", "8"),
        Rule::Hardware,
    );
    case(
        profile(
            "trt-generic",
            &[
                ("llm_engine", "tensorrt_llm"),
                ("precision", "bf16"),
                ("tp", "1"),
            ],
        ),
        vllm("vllm-generic", "fp8", "8"),
        Rule::Engine,
    );
    case(
        vllm("fp8", "fp8", "1"),
        vllm("bf16", "bf16", "8"),
        Rule::Precision,
    );
    case(
        trt("latency", "fp8", "1", "latency", "H100", "2330:10de"),
        trt("throughput", "fp8", "8", "throughput", "H100", "2330:10de"),
        Rule::Qos,
    );
    case(
        vllm("tp8", "bf16", "8"),
        vllm("tp2", "bf16", "2"),
        Rule::TensorParallelism,
    );
    case(vllm("aaa", "bf16", "1"), vllm("bbb", "bf16", "1"), Rule::Id);

    // The optimization target is configurable.
    let prefer_throughput = SelectionOptions {
        prefer: Qos::Throughput,
        ..SelectionOptions::default()
    };
    let profiles = [
        trt("latency", "fp8", "1", "latency", "H100", "2330:10de"),
        trt("throughput", "fp8", "1", "throughput", "H100", "2330:10de"),
    ];
    assert_eq!(
        selected(&select(&profiles, &h100, &prefer_throughput)),
        Some("throughput")
    );
}

#[test]
fn nim_docs_example_order() {
    // NIM 1.1.0 docs, list-model-profiles on 2 x A100: this order, first selected.
    let profiles = [
        vllm("vllm-fp16-tp1", "fp16", "1"),
        trt(
            "tensorrt_llm-A100-fp16-tp1-throughput",
            "fp16",
            "1",
            "throughput",
            "A100",
            "20b2:10de",
        ),
        vllm("vllm-fp16-tp2", "fp16", "2"),
        trt(
            "tensorrt_llm-A100-fp16-tp2-latency",
            "fp16",
            "2",
            "latency",
            "A100",
            "20b2:10de",
        ),
    ];
    let selection = select(
        &profiles,
        &gpus("2xA100-SXM4-80GB"),
        &SelectionOptions::default(),
    );
    let order: Vec<&str> = selection
        .runnable()
        .filter_map(|d| d.profile.name.as_deref())
        .collect();
    assert_eq!(
        order,
        [
            "tensorrt_llm-A100-fp16-tp2-latency",
            "tensorrt_llm-A100-fp16-tp1-throughput",
            "vllm-fp16-tp2",
            "vllm-fp16-tp1"
        ]
    );
}

#[test]
fn pin_by_id_or_name_never_falls_back() {
    let profiles = [
        trt("h100", "fp8", "1", "latency", "H100", "2330:10de"),
        vllm("generic", "bf16", "1"),
        trt("a100", "bf16", "1", "latency", "A100", "20b2:10de"),
    ];
    let selection = select(
        &profiles,
        &gpus("1xH100-SXM-80GB"),
        &SelectionOptions::default(),
    );
    assert_eq!(
        pin(&selection, &profiles[1].id).map(|d| &d.profile.id).ok(),
        Some(&profiles[1].id)
    );
    assert_eq!(
        pin(&selection, "GENERIC").map(|d| &d.profile.id).ok(),
        Some(&profiles[1].id)
    );

    let Err(Error::Profile { message, .. }) = pin(&selection, "a100") else {
        panic!("a100 cannot run on an H100");
    };
    assert!(
        message.contains("cannot run here") && message.contains("20b2:10de"),
        "{message}"
    );
    assert!(
        message.contains("Runnable here: h100, generic"),
        "{message}"
    );

    let Err(Error::Profile { message, .. }) = pin(&selection, "h10") else {
        panic!("no such profile");
    };
    assert!(
        message.contains("no such profile") && message.contains("nearest: h100"),
        "{message}"
    );
}

#[test]
fn renders_like_list_model_profiles_and_as_json() {
    let profiles = [
        trt("h100", "fp8", "1", "latency", "H100", "2330:10de"),
        vllm("lora-less", "bf16", "1"),
        trt("a100", "bf16", "1", "latency", "A100", "20b2:10de"),
    ];
    let inventory = gpus("1xH100-SXM-80GB");
    let selection = select(&profiles, &inventory, &SelectionOptions::default());
    let text = render_list(&selection, &inventory);
    for needle in [
        "SYSTEM INFO",
        "[2330:10de] (0)",
        "MODEL PROFILES",
        "- Compatible with system and runnable:",
        "- Incompatible with system:",
        "Selected profile:",
    ] {
        assert!(text.contains(needle), "{needle}:\n{text}");
    }
    // The listing parses back with the crate's own list-model-profiles reader.
    let listed = nim_profiles::ProfileList::parse("rendered", &text).expect("parses");
    assert_eq!(
        listed.runnable.first().map(|p| p.id.as_str()),
        Some(profiles[0].id.as_str())
    );

    let json = serde_json::to_value(&selection).expect("json");
    assert_eq!(json["selected"], "h100");
    let entries = json["profiles"].as_array().expect("profiles");
    assert_eq!(entries.len(), 3);
    for entry in entries {
        assert!(entry["id"].is_string() && entry["reasons"].is_array());
        assert!(
            ["selected", "runnable", "rejected"].contains(&entry["verdict"].as_str().unwrap_or(""))
        );
    }

    let none = select(&profiles[2..], &inventory, &SelectionOptions::default());
    assert!(
        render_list(&none, &inventory)
            .contains("Could not find a profile that is currently runnable")
    );
    assert_eq!(
        serde_json::to_value(&none).expect("json")["selected"],
        serde_json::Value::Null
    );
}
