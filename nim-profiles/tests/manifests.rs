//! Manifests: the k8s-nim-operator fixtures (`data/05-…`, `data/06-…`, copies of
//! `reference/profiles/`), a synthetic v2 manifest with every tag (`data/11-…`), and malformed
//! input with the line of each error.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use nim_profiles::{Engine, Error, Manifest, ManifestVersion, Profile, Qos};
use nim_sizing::Bytes;

const V1: &str = "05-k8s-nim-operator-manifest-v1-fixtures.yaml";
const V2: &str = "06-k8s-nim-operator-manifest-v2-fixture.yaml";
const V2_TAGS: &str = "11-synthetic-manifest-v2-tags.yaml";

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn read(name: &str) -> String {
    std::fs::read_to_string(data(name)).unwrap()
}

fn parse_error(text: &str) -> (usize, String) {
    match Manifest::parse("bad.yaml", text) {
        Err(Error::Parse {
            source_name,
            line,
            message,
        }) => {
            assert_eq!(source_name, "bad.yaml");
            (line, message)
        }
        other => panic!("expected a parse error for {text:?}, got {other:?}"),
    }
}

#[test]
fn v1_fixture_documents() {
    let manifests = Manifest::parse_documents(V1, &read(V1)).unwrap();
    let counts: Vec<usize> = manifests.iter().map(|m| m.profiles.len()).collect();
    assert_eq!(counts, [1, 1, 1, 2, 2]);
    assert!(manifests.iter().all(|m| m.version == ManifestVersion::V1));
    assert!(manifests.iter().all(|m| m.selection_criteria.is_none()));

    // manifest_trtllm_v1.yaml, with `!workspace` / `!name` tags.
    let p = manifests[0]
        .get("03fdb4d11f01be10c31b00e7c0540e2835e89a0079b483ad2dd3c25c8cc29b61")
        .unwrap();
    assert_eq!(p.engine, Engine::TensorrtLlm);
    assert_eq!(p.gpu.as_deref(), Some("L40S"));
    assert_eq!(p.gpu_device.as_deref(), Some("26b5:10de"));
    assert_eq!((p.tp, p.pp, p.num_gpus), (8, 1, 8));
    assert_eq!(p.precision.as_deref(), Some("fp16"));
    assert_eq!(p.qos, Some(Qos::Throughput));
    assert_eq!(p.lora_max_rank, Some(32));
    assert!(!p.lora, "no feat_lora tag in this fragment");
    assert!(!p.buildable);
    assert!(p.is_hardware_specific());
    assert_eq!(p.model.as_deref(), Some("meta/llama3-70b-instruct"));
    assert_eq!(p.release.as_deref(), Some("1.0.0"));
    assert_eq!(p.tags.len(), 8);
    assert_eq!(p.tags["tp"], "8");
    assert_eq!(
        p.name.as_deref(),
        Some("tensorrt_llm-l40s-fp16-tp8-pp1-throughput")
    );
    assert_eq!(
        manifests[0]
            .get("tensorrt_llm-l40s-fp16-tp8-pp1-throughput")
            .map(|p| &p.id),
        Some(&p.id)
    );

    // manifest_lora.yaml
    let p = &manifests[1].profiles[0];
    assert_eq!(
        p.id,
        "36fc1fa4fc35c1d54da115a39323080b08d7937dceb8ba47be44f4da0ec720ff"
    );
    assert!(p.lora);
    assert_eq!(
        (p.gpu.as_deref(), p.gpu_device.as_deref()),
        (Some("H100"), Some("2330:10de"))
    );
    assert_eq!(p.tp, 4);
    assert_eq!(
        p.name.as_deref(),
        Some("tensorrt_llm-h100-fp16-tp4-pp1-throughput-lora")
    );

    // manifest_vllm_v1.yaml: a generic profile.
    let p = &manifests[2].profiles[0];
    assert_eq!(p.engine, Engine::Vllm);
    assert!(!p.is_hardware_specific());
    assert_eq!((p.tp, p.pp, p.qos), (8, 1, None));
    assert!(p.lora);
    assert_eq!(p.name.as_deref(), Some("vllm-fp16-tp8-pp1-lora"));

    // controller manifest_trtllm.yaml: the same id as the first document, now with
    // feat_lora, and a second profile; order kept.
    let ids: Vec<&str> = manifests[3].profiles.iter().map(|p| &p.id[..8]).collect();
    assert_eq!(ids, ["03fdb4d1", "04fdb4d1"]);
    assert!(manifests[3].profiles[0].lora);
    assert_eq!(manifests[3].profiles[1].gpu.as_deref(), Some("A100"));
    assert!(!manifests[3].profiles[1].lora);

    // manifest_non_llm.yaml: `backend` instead of `llm_engine`.
    let non_llm = &manifests[4].profiles;
    assert_eq!(non_llm[0].engine, Engine::Other("onnx".to_owned()));
    assert_eq!(non_llm[1].engine, Engine::Other("tensorrt".to_owned()));
    assert_eq!(non_llm[1].tags["product_name_regex"], "^NVIDIA-A10(?!0).*");
    assert_eq!(non_llm[1].tags["key"], "NVIDIA-A10G_10.0.1_12");
    assert!(
        non_llm
            .iter()
            .all(|p| p.name.is_none() && p.model.is_none())
    );
    assert!(!non_llm[1].is_hardware_specific());
}

#[test]
fn v1_fixture_is_a_stream_not_one_manifest() {
    // The second document starts at line 28.
    let (line, message) = match Manifest::parse(V1, &read(V1)) {
        Err(Error::Parse { line, message, .. }) => (line, message),
        other => panic!("{other:?}"),
    };
    assert_eq!(line, 28);
    assert!(message.contains("parse_documents"), "{message}");
}

#[test]
fn v2_fixture() {
    let m = Manifest::from_file(&data(V2)).unwrap();
    assert_eq!(
        m.version,
        ManifestVersion::V2 {
            schema_version: "2.0.0".to_owned()
        }
    );
    assert_eq!(m.selection_criteria.as_deref(), Some("default"));
    assert_eq!(m.profiles.len(), 2);
    let trt = &m.profiles[0];
    assert_eq!(
        trt.id,
        "aaaabbbbccccddddeeeeffff0000111122223333444455556666777788889999"
    );
    assert_eq!(trt.engine, Engine::TensorrtLlm);
    assert_eq!(trt.gpu.as_deref(), Some("L40S"));
    assert_eq!(trt.gpu_device.as_deref(), Some("26b5:10de"));
    assert_eq!((trt.tp, trt.num_gpus), (8, 8));
    assert!(!trt.lora);
    assert_eq!(trt.tags["feat_lora"], "false");
    let vllm = &m.profiles[1];
    assert_eq!(vllm.engine, Engine::Vllm);
    assert_eq!(vllm.qos, Some(Qos::Latency));
    assert_eq!(vllm.tp, 1);
    assert_eq!(vllm.name.as_deref(), Some("vllm-fp16-tp1-pp1"));
    assert_eq!(m.get("vllm-fp16-tp1-pp1").map(|p| &p.id), Some(&vllm.id));
}

#[test]
fn every_tag_of_the_synthetic_v2_manifest() {
    let m = Manifest::from_file(&data(V2_TAGS)).unwrap();
    let by_suffix =
        |n: char| -> &Profile { m.profiles.iter().find(|p| p.id.ends_with(n)).unwrap() };
    let p = by_suffix('1');
    assert_eq!(p.gpu.as_deref(), Some("H100_NVL"));
    assert_eq!(p.gpu_device.as_deref(), Some("2321:10de"));
    assert_eq!(p.precision.as_deref(), Some("fp8"));
    assert_eq!(p.num_gpus, 2);
    assert_eq!(p.tags["pipeline"], "custom-value");
    assert_eq!(p.tags["gpu_device"], "2321:10DE", "tags stay verbatim");
    assert_eq!(p.release.as_deref(), Some("1.5.2"));
    assert_eq!(
        p.name.as_deref(),
        Some("tensorrt_llm-h100_nvl-fp8-tp2-pp1-throughput")
    );

    // Unquoted numbers and booleans read as written.
    let p = by_suffix('2');
    assert_eq!(p.tags["tp"], "1");
    assert_eq!(p.tags["feat_lora"], "true");
    assert_eq!(p.tags["min_vram_per_device_gb"], "32.0");
    assert_eq!(p.min_vram_per_gpu, Some(Bytes::new(32_000_000_000)));
    assert!(p.lora);
    assert_eq!(p.lora_max_rank, Some(64));
    assert_eq!(p.precision.as_deref(), Some("int4_awq"));
    assert_eq!(p.qos, None, "`balanced` is not a QoS");
    assert_eq!(p.tags["profile"], "balanced");

    let p = by_suffix('3');
    assert!(p.buildable);
    assert_eq!((p.tp, p.pp, p.num_gpus), (8, 2, 16));
    assert_eq!(
        p.name.as_deref(),
        Some("tensorrt_llm-trtllm_buildable-bf16-tp8-pp2")
    );

    let p = by_suffix('4');
    assert_eq!(p.engine, Engine::Sglang);
    assert_eq!(p.name.as_deref(), Some("sglang"));

    // `model_type` wins over `backend`; `triton` stays as written.
    let p = by_suffix('5');
    assert_eq!(p.engine, Engine::Other("triton".to_owned()));
    assert_eq!(p.name, None);
}

#[test]
fn missing_tags_and_wrong_types_name_the_line() {
    // v1: the line of the profile id.
    assert_eq!(
        parse_error("aaa:\n  tags: {llm_engine: vllm}\nbbb:\n  model: m\n  release: '1'\n"),
        (3, "profile `bbb` has no `tags` mapping".to_owned())
    );
    // v2: the line of the list entry.
    let (line, message) = parse_error(
        "schema_version: 2.0.0\nprofiles:\n  - id: a\n    tags: {}\n  - id: b\n    workspace: {}\n",
    );
    assert_eq!(line, 5);
    assert!(message.contains("`b` has no `tags`"), "{message}");
    // `tags` is a list.
    let (line, message) = parse_error("aaa:\n  model: m\n  tags:\n    - tp\n");
    assert_eq!(line, 3);
    assert!(message.contains("must be a mapping"), "{message}");
    // A tag value is a mapping.
    let (line, message) = parse_error("aaa:\n  tags:\n    llm_engine: vllm\n    tp: {a: 1}\n");
    assert_eq!(line, 4);
    assert!(message.contains("tag `tp` must be a scalar"), "{message}");
    // A bad tag value: the line of that tag.
    let (line, message) = parse_error(
        "schema_version: '2.0.0'\nprofiles:\n  - id: a\n    tags:\n      llm_engine: vllm\n      pp: two\n",
    );
    assert_eq!(line, 6);
    assert!(
        message.contains("tag `pp`") && message.contains("two"),
        "{message}"
    );
    // An entry that is a scalar.
    assert_eq!(parse_error("aaa: just text\n").0, 1);
    // The top level is a list.
    let (line, message) = parse_error("- a\n- b\n");
    assert_eq!(line, 1);
    assert!(message.contains("found a sequence"), "{message}");
    // v2 without an id.
    let (line, message) = parse_error("schema_version: 2.0.0\nprofiles:\n  - tags: {tp: '1'}\n");
    assert_eq!(line, 3);
    assert!(message.contains("no `id`"), "{message}");
}

#[test]
fn malformed_yaml_names_the_line() {
    let (line, message) = parse_error("aaa:\n  tags:\n    tp: '1'\n    pp: [1\n");
    assert_eq!(line, 4, "{message}");
    assert!(message.starts_with("YAML: "), "{message}");
    assert_eq!(parse_error("aaa:\n  tags:\n    tp: 'open\n").0, 3);
    assert_eq!(parse_error("aaa:\n  tags: {}\naaa:\n  tags: {}\n").0, 3);
    assert_eq!(parse_error("aaa:\n  tags:\n\ttp: '1'\n").0, 3);
    assert_eq!(parse_error("aaa: *missing\n").0, 1);
    // Empty input: no lines; comments only: line 1.
    assert_eq!(parse_error("").0, 0);
    assert_eq!(parse_error("# nothing here\n").0, 1);
    let err = Manifest::parse("bad.yaml", "aaa:\n  tags:\n    tp: [1\n").unwrap_err();
    assert!(err.to_string().starts_with("bad.yaml:3: YAML: "), "{err}");
}

#[test]
fn unreadable_file() {
    match Manifest::from_file(&data("no-such-manifest.yaml")) {
        Err(Error::Parse {
            source_name, line, ..
        }) => {
            assert!(source_name.ends_with("no-such-manifest.yaml"));
            assert_eq!(line, 0);
        }
        other => panic!("{other:?}"),
    }
}
