//! Properties: the parsers never panic, whatever the input, and every well-formed
//! [`ProfileName`] reads back equal from its text.

use nim_profiles::{Engine, Error, LoraSpelling, Manifest, ProfileList, ProfileName, Qos};
use nim_sizing::Bytes;
use proptest::prelude::*;

/// A word for a GPU or precision part that cannot be taken for `tp<N>`.
fn word(pattern: &'static str) -> impl Strategy<Value = String> {
    pattern.prop_filter("not a tp<N> or trtllm_buildable part", |w| {
        let tp = w
            .strip_prefix("tp")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        !tp && w != "trtllm_buildable"
    })
}

/// Names NIM could print: a bare engine, or every part in grammar order. Combinations no NIM
/// name has (see `ProfileName`'s docs) are left out: a GPU together with `trtllm_buildable`,
/// a rank without LoRA, and a GPU count right after a rank-less LoRA part.
fn profile_name() -> impl Strategy<Value = ProfileName> {
    let engine = prop_oneof![
        Just((Engine::TensorrtLlm, false)),
        Just((Engine::TensorrtLlm, true)),
        Just((Engine::Vllm, false)),
        Just((Engine::Sglang, false)),
    ];
    let head = prop_oneof![
        Just((None, false)),
        Just((None, true)),
        word("[A-Za-z][A-Za-z0-9_]{0,15}").prop_map(|gpu| (Some(gpu), false)),
    ];
    let lora = prop_oneof![
        Just(None),
        (
            prop_oneof![
                Just(LoraSpelling::Lora),
                Just(LoraSpelling::LoraLora),
                Just(LoraSpelling::FeatLora),
            ],
            proptest::option::of(any::<u32>()),
        )
            .prop_map(Some),
    ];
    let tail = (
        proptest::option::of("[0-9a-f]{4}:[0-9a-f]{4}"),
        proptest::option::of("[0-9a-f]{64}"),
        proptest::option::of(any::<u64>().prop_map(Bytes::new)),
        proptest::option::of(1u64..100_000),
    );
    let full = (
        engine.clone(),
        head,
        word("[a-z][a-z0-9_]{0,9}"),
        1u64..=1024,
        proptest::option::of(1u64..=64),
        proptest::option::of(prop_oneof![Just(Qos::Latency), Just(Qos::Throughput)]),
        lora,
        tail,
    )
        .prop_map(
            |((engine, short), (gpu, buildable), precision, tp, pp, qos, lora, tail)| {
                let (gpu_device, hash, min_vram_per_gpu, num_gpus) = tail;
                let mut name = ProfileName::new(engine);
                name.short_engine = short;
                name.gpu = gpu;
                name.buildable = buildable;
                name.precision = Some(precision);
                name.tp = Some(tp);
                name.pp = pp;
                name.qos = qos;
                if let Some((spelling, rank)) = lora {
                    name.lora = true;
                    name.lora_spelling = spelling;
                    name.lora_rank = rank;
                }
                name.gpu_device = gpu_device;
                name.hash = hash;
                name.min_vram_per_gpu = min_vram_per_gpu;
                name.num_gpus = num_gpus;
                name
            },
        )
        .prop_filter("a GPU count right after a rank-less LoRA part", |n| {
            !(n.lora
                && n.lora_rank.is_none()
                && n.gpu_device.is_none()
                && n.hash.is_none()
                && n.min_vram_per_gpu.is_none()
                && n.num_gpus.is_some())
        });
    let bare = engine.prop_map(|(engine, short)| {
        let mut name = ProfileName::new(engine);
        name.short_engine = short;
        name
    });
    prop_oneof![1 => bare, 6 => full]
}

/// Text made of name parts, so that the parser goes past its first checks.
fn name_soup() -> impl Strategy<Value = String> {
    let part = prop_oneof![
        Just("tensorrt_llm".to_owned()),
        Just("trtllm".to_owned()),
        Just("vllm".to_owned()),
        Just("trtllm_buildable".to_owned()),
        Just("lora".to_owned()),
        Just("feat_lora".to_owned()),
        Just("latency".to_owned()),
        Just("2321:10de".to_owned()),
        "tp[0-9]{1,3}",
        "pp[0-9]{1,22}",
        "[0-9]{1,25}",
        "[0-9]{1,21}\\.[0-9]{0,12}",
        "[0-9a-f]{14,66}",
        "[a-z0-9_:.]{0,6}",
        any::<String>(),
    ];
    proptest::collection::vec(part, 0..12).prop_map(|parts| parts.join("-"))
}

/// Tags: known or odd keys, with values that are often valid, sometimes not.
fn tag_lines() -> impl Strategy<Value = Vec<String>> {
    let key = prop_oneof![
        Just("llm_engine"),
        Just("model_type"),
        Just("backend"),
        Just("precision"),
        Just("tp"),
        Just("pp"),
        Just("profile"),
        Just("gpu"),
        Just("gpu_device"),
        Just("feat_lora"),
        Just("feat_lora_max_rank"),
        Just("trtllm_buildable"),
        Just("number_of_gpus"),
        Just("min_vram_per_device_gb"),
        Just("key"),
    ];
    let value = prop_oneof![
        Just("vllm".to_owned()),
        Just("tensorrt_llm".to_owned()),
        Just("'true'".to_owned()),
        Just("false".to_owned()),
        Just("throughput".to_owned()),
        Just("2330:10de".to_owned()),
        Just("!name 'x'".to_owned()),
        Just("[1, 2]".to_owned()),
        Just("{a: 1}".to_owned()),
        Just("~".to_owned()),
        Just(String::new()),
        "'[0-9]{1,22}(\\.[0-9]{0,3})?'",
        "[0-9]{1,22}(\\.[0-9]{0,3})?",
        "-?[0-9]{1,3}",
        "[a-zA-Z0-9_]{1,8}",
    ];
    proptest::collection::btree_map(key, value, 0..8).prop_map(|tags| {
        tags.into_iter()
            .map(|(key, value)| format!("{key}: {value}"))
            .collect()
    })
}

/// A v1 or v2 manifest with random entries and tags, with a few lines replaced by junk.
fn yaml_soup() -> impl Strategy<Value = String> {
    let entry = ("[0-9a-f]{1,8}", any::<bool>(), tag_lines(), any::<bool>());
    let junk = prop_oneof![
        Just("---".to_owned()),
        Just("  tags:".to_owned()),
        Just("- 3".to_owned()),
        Just("    - !name 'x'".to_owned()),
        "[ -~]{0,20}",
    ];
    (
        any::<bool>(),
        proptest::collection::vec(entry, 1..5),
        prop_oneof![
            3 => Just(Vec::new()),
            1 => proptest::collection::vec((any::<prop::sample::Index>(), junk), 1..3),
        ],
    )
        .prop_map(|(v2, entries, junk)| {
            let mut lines = Vec::new();
            if v2 {
                lines.push("schema_version: '2.0.0'".to_owned());
                lines.push("profile_selection_criteria: default".to_owned());
                lines.push("profiles:".to_owned());
            }
            for (id, has_tags, tags, workspace) in entries {
                let indent = if v2 {
                    lines.push(format!("  - id: {id}"));
                    "    "
                } else {
                    lines.push(format!("{id}:"));
                    lines.push("  model: meta/model".to_owned());
                    "  "
                };
                if has_tags {
                    lines.push(format!("{indent}tags:"));
                    lines.extend(tags.iter().map(|tag| format!("{indent}  {tag}")));
                }
                if workspace {
                    lines.push(format!("{indent}workspace: !workspace"));
                    lines.push(format!("{indent}  files: [!name 'a', {{b: [c]}}]"));
                }
            }
            for (at, line) in junk {
                if !lines.is_empty() {
                    let at = at.index(lines.len());
                    lines[at] = line;
                }
            }
            lines.join("\n")
        })
}

/// `list-model-profiles` output with random GPUs and entries, indented at random, with log
/// lines and a few lines replaced by junk.
fn list_soup() -> impl Strategy<Value = String> {
    let gpu = "-  \\[[0-9a-f]{4}:10de\\] \\([0-9]{1,2}\\) NVIDIA [A-Z0-9 -]{1,12}( \\([A-Z0-9 ]{1,8}\\))?( ?\\[current utilization: [0-9]{1,3}%\\])?";
    let entry =
        "- [0-9a-f]{8,64}( \\([a-z0-9_:.-]{1,30}\\))?( \\[requires >=[0-9]{1,2} GB/gpu\\])?";
    let list_header = prop_oneof![
        Just("- Compatible with system and runnable:"),
        Just("- Compatible with system and runnable: <None>"),
        Just("- Compatible with system but not runnable due to low GPU free memory"),
        Just("- Compatible with system but low memory:"),
        Just(
            "- Compilable to TRT-LLM using just-in-time compilation of HF models to TRTLLM engines: <None>"
        ),
        Just("- Incompatible with system:"),
        Just("- Compatible with system:"),
    ];
    let gpu_header = prop_oneof![
        Just("- Free GPUs:"),
        Just("- Free GPUs: <None>"),
        Just("- Non-free GPUs:"),
    ];
    let entries = proptest::collection::vec(entry, 0..4);
    let list_block = (list_header, entries.clone(), proptest::option::of(entries));
    let gpu_block = (gpu_header, proptest::collection::vec(gpu, 0..4));
    let junk = prop_oneof![
        Just("SYSTEM INFO".to_owned()),
        Just("- <None>".to_owned()),
        Just("[current utilization: 9x%]".to_owned()),
        Just("- Something else:".to_owned()),
        Just("- With LoRA support:".to_owned()),
        "INFO [ -~]{0,30}",
        "[ -~]{0,30}",
    ];
    (
        "( {0,3})",
        proptest::collection::vec(gpu_block, 0..3),
        proptest::collection::vec(list_block, 0..5),
        prop_oneof![
            3 => Just(Vec::new()),
            1 => proptest::collection::vec((any::<prop::sample::Index>(), junk), 1..3),
        ],
    )
        .prop_map(|(indent, gpu_blocks, list_blocks, junk)| {
            let mut lines = vec!["INFO 2025-01-01 list_model_profiles.py:1] start".to_owned()];
            lines.push("SYSTEM INFO".to_owned());
            for (header, gpus) in gpu_blocks {
                lines.push(header.to_owned());
                lines.extend(gpus.iter().map(|gpu| format!("  {gpu}")));
            }
            lines.push("MODEL PROFILES".to_owned());
            for (header, items, lora_items) in list_blocks {
                lines.push(header.to_owned());
                lines.extend(items.iter().map(|item| format!("  {item}")));
                if let Some(lora_items) = lora_items {
                    lines.push("  - With LoRA support:".to_owned());
                    lines.extend(lora_items.iter().map(|item| format!("    {item}")));
                }
            }
            for (at, line) in junk {
                let at = at.index(lines.len());
                lines[at] = line;
            }
            lines
                .iter()
                .map(|line| format!("{indent}{line}"))
                .collect::<Vec<_>>()
                .join("\n")
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn formatted_names_read_back(name in profile_name()) {
        let text = name.to_string();
        let parsed: ProfileName = text.parse().map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        prop_assert_eq!(&parsed, &name, "{}", text);
        prop_assert_eq!(parsed.to_string(), text);
    }

    #[test]
    fn name_parsing_never_panics(text in prop_oneof![any::<String>(), name_soup()]) {
        match text.parse::<ProfileName>() {
            Ok(name) => {
                let again: ProfileName = name.to_string().parse().map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
                prop_assert_eq!(again.to_string(), name.to_string());
            }
            Err(Error::Invalid { field, .. }) => prop_assert_eq!(field, "profile name"),
            Err(other) => prop_assert!(false, "unexpected error {other:?}"),
        }
    }

    #[test]
    fn manifest_parsing_never_panics(text in prop_oneof![any::<String>(), yaml_soup()]) {
        let lines = text.lines().count().max(1);
        for result in [
            Manifest::parse("m.yaml", &text).map(|m| vec![m]),
            Manifest::parse_documents("m.yaml", &text),
        ] {
            match result {
                Ok(manifests) => {
                    for manifest in &manifests {
                        for profile in &manifest.profiles {
                            prop_assert!(profile.tp >= 1 && profile.pp >= 1 && profile.num_gpus >= 1);
                        }
                    }
                }
                Err(Error::Parse { source_name, line, .. }) => {
                    prop_assert_eq!(source_name, "m.yaml");
                    prop_assert!(line <= lines + 1, "line {} of {}", line, lines);
                }
                Err(other) => prop_assert!(false, "unexpected error {other:?}"),
            }
        }
    }

    #[test]
    fn list_parsing_never_panics(text in prop_oneof![any::<String>(), list_soup()]) {
        match ProfileList::parse("out.txt", &text) {
            Ok(list) => prop_assert!(list.profiles().all(|p| !p.id.is_empty())),
            Err(Error::Parse { source_name, line, .. }) => {
                prop_assert_eq!(source_name, "out.txt");
                prop_assert!(line <= text.lines().count());
            }
            Err(other) => prop_assert!(false, "unexpected error {other:?}"),
        }
    }
}
