//! `list-model-profiles` output: the example of NIM 1.1.0's docs (`data/01-…`, a copy of
//! `reference/profiles/`) and a synthetic output with every section (`data/10-…`).

#![allow(clippy::unwrap_used)]

use nim_profiles::{Error, ListedGpu, ListedProfile, ProfileList};

fn read(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    std::fs::read_to_string(path).unwrap()
}

fn ids(profiles: &[ListedProfile]) -> Vec<&str> {
    profiles.iter().map(|p| &p.id[..8]).collect()
}

#[test]
fn nim_docs_example() {
    let list =
        ProfileList::parse("01", &read("01-nim-docs-1.1.0-list-model-profiles.txt")).unwrap();
    assert!(list.gpus.is_empty());
    let names: Vec<(&str, &str)> = list
        .runnable
        .iter()
        .map(|p| (p.id.as_str(), p.name.as_deref().unwrap()))
        .collect();
    assert_eq!(
        names,
        [
            (
                "a93a1a6b72643f2b2ee5e80ef25904f4d3f942a87f8d32da9e617eeccfaae04c",
                "tensorrt_llm-A100-fp16-tp2-latency"
            ),
            (
                "751382df4272eafc83f541f364d61b35aed9cce8c7b0c869269cea5a366cd08c",
                "tensorrt_llm-A100-fp16-tp1-throughput"
            ),
            (
                "19031a45cf096b683c4d66fff2a072c0e164a24f19728a58771ebfc4c9ade44f",
                "vllm-fp16-tp2"
            ),
            (
                "8835c31752fbc67ef658b20a9f78e056914fdef0660206d82f252d62fd96064d",
                "vllm-fp16-tp1"
            ),
        ]
    );
    assert!(
        list.runnable
            .iter()
            .all(|p| !p.lora && p.annotation.is_none())
    );
    assert!(list.compatible_not_runnable.is_empty());
    assert!(list.compilable.is_empty());
    assert!(list.incompatible.is_empty());
    assert_eq!(list.selected(false).map(|p| &p.id[..8]), Some("a93a1a6b"));
    assert_eq!(list.selected(true), None);
    assert_eq!(
        list.get("vllm-fp16-tp1").map(|p| &p.id[..8]),
        Some("8835c317")
    );
}

#[test]
fn every_section_of_the_synthetic_output() {
    let list =
        ProfileList::parse("10", &read("10-synthetic-list-model-profiles-variants.txt")).unwrap();

    let gpu = |pci_id: &str,
               index: u32,
               nvml_name: &str,
               short_name: Option<&str>,
               utilization_percent: u32,
               free: bool| ListedGpu {
        pci_id: pci_id.to_owned(),
        index,
        nvml_name: nvml_name.to_owned(),
        short_name: short_name.map(str::to_owned),
        utilization_percent: Some(utilization_percent),
        free,
    };
    assert_eq!(
        list.gpus,
        [
            gpu("2321:10de", 0, "NVIDIA H100 NVL", None, 0, true),
            gpu("2321:10de", 1, "NVIDIA H100 NVL", None, 1, true),
            gpu(
                "20b2:10de",
                2,
                "NVIDIA A100-SXM4-80GB",
                Some("A100 80GB"),
                30,
                false
            ),
            gpu(
                "26b1:10de",
                3,
                "NVIDIA RTX 6000 Ada Generation",
                None,
                12,
                false
            ),
            gpu("2684:10de", 4, "NVIDIA GeForce RTX 4090", None, 7, false),
        ]
    );

    assert_eq!(
        ids(&list.runnable),
        ["11111111", "22222222", "33333333", "44444444"]
    );
    let lora: Vec<bool> = list.runnable.iter().map(|p| p.lora).collect();
    assert_eq!(lora, [false, false, true, true]);
    assert_eq!(ids(&list.compatible_not_runnable), ["55555555"]);
    assert!(list.compilable.is_empty());
    assert_eq!(
        ids(&list.incompatible),
        ["66666666", "77777777", "88888888", "99999999", "aaaaaaaa"]
    );
    assert!(list.incompatible.iter().all(|p| !p.lora));
    assert_eq!(list.selected(true).map(|p| &p.id[..8]), Some("33333333"));
    assert_eq!(list.profiles().count(), 10);
}

#[test]
fn errors_name_source_and_line() {
    let cases = [
        ("no headers at all\n", 0),
        (
            "MODEL PROFILES\n- Compatible with system and runnable:\n  - abc (open\n",
            3,
        ),
        ("MODEL PROFILES\n- Maybe runnable:\n  - abc (x)\n", 2),
        (
            "log\nSYSTEM INFO\n- Free GPUs:\n  -  20b2:10de (0) NVIDIA A100\n",
            4,
        ),
        (
            "SYSTEM INFO\n- Free GPUs:\n  -  [20b2:10de] (zero) NVIDIA A100\n",
            3,
        ),
        ("MODEL PROFILES\n  - abc (vllm)\n", 2),
    ];
    for (text, expected) in cases {
        match ProfileList::parse("out.txt", text) {
            Err(Error::Parse {
                source_name, line, ..
            }) => {
                assert_eq!(source_name, "out.txt");
                assert_eq!(line, expected, "{text:?}");
            }
            other => panic!("{text:?}: {other:?}"),
        }
    }
    let err = ProfileList::parse("out.txt", "MODEL PROFILES\n- Maybe runnable:\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "out.txt:2: unknown section `Maybe runnable:`"
    );
}

#[test]
fn none_and_system_info_only() {
    // NIM's error path prints SYSTEM INFO alone.
    let text = "ERROR 06-23 15:41:21.19 utils.py:21] Could not find a profile that is currently \
                runnable with the detected hardware.\nSYSTEM INFO\n- Free GPUs: <None>\n\
                - Non-free GPUs:\n  -  [2684:10de] (0) NVIDIA GeForce RTX 4090 [current utilization: 7%]\n";
    let list = ProfileList::parse("err", text).unwrap();
    assert_eq!(list.gpus.len(), 1);
    assert!(!list.gpus[0].free);
    assert!(list.runnable.is_empty());

    let text = "MODEL PROFILES\n- Compatible with system and runnable: <None>\n\
                - Compatible with system but not runnable due to low GPU free memory\n\
                \x20 - 8835c31752fbc67ef658b20a9f78e056914fdef0660206d82f252d62fd96064d (vllm-fp16-tp1)\n\
                \x20 - With LoRA support:\n\
                \x20   - 8d3824f766182a754159e88ad5a0bd465b1b4cf69ecf80bd6d6833753e945740 (vllm-fp16-tp1-lora)\n\
                - Incompatible with system:\n  - <None>\n";
    let list = ProfileList::parse("low-memory", text).unwrap();
    assert!(list.runnable.is_empty());
    assert_eq!(list.compatible_not_runnable.len(), 2);
    assert!(list.compatible_not_runnable[1].lora);
    assert!(list.incompatible.is_empty());
}
