//! The `profiles` example's command line: the `--json` contract, the ranked table, re-ranking
//! `list-model-profiles` output, `--profile`, exit statuses and error messages that name the
//! file and line (or the flag).
//!
//! Runs the example through `cargo run --example profiles`, which reuses the build cache.

use std::process::Command;

use serde_json::Value;

/// What one run of `profiles ARGS...` gave.
struct Run {
    status: i32,
    stdout: String,
    stderr: String,
}

fn profiles(args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO"))
        .args(["run", "--quiet", "--example", "profiles", "--"])
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo runs");
    Run {
        status: output.status.code().expect("an exit status"),
        stdout: String::from_utf8(output.stdout).expect("UTF-8 stdout"),
        stderr: String::from_utf8(output.stderr).expect("UTF-8 stderr"),
    }
}

/// Fixtures of nim-profiles, relative to this package (the runs' working directory).
const V2_MANIFEST: &str = "../nim-profiles/tests/data/06-k8s-nim-operator-manifest-v2-fixture.yaml";
const V1_STREAM: &str = "../nim-profiles/tests/data/05-k8s-nim-operator-manifest-v1-fixtures.yaml";
const DOCS_LIST: &str = "../nim-profiles/tests/data/01-nim-docs-1.1.0-list-model-profiles.txt";
const VARIANTS_LIST: &str =
    "../nim-profiles/tests/data/10-synthetic-list-model-profiles-variants.txt";
const BROKEN_MANIFEST: &str = "tests/data/profiles/broken-manifest.yaml";
const BROKEN_LIST: &str = "tests/data/profiles/broken-list.txt";

/// The 06 fixture's generic vLLM profile, the only one a non-L40S system can run.
const VLLM_ID: &str = "1111222233334444555566667777888899990000aaaabbbbccccddddeeeeffff";

fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("{e}: not JSON:\n{}\n{}", run.stdout, run.stderr))
}

/// The contract: `selected` (string or null) and `profiles`, each with a string `id`, a string
/// or null `name`, a `verdict` of selected/runnable/rejected and string `reasons`; exactly one
/// `selected` verdict, naming the `selected` key, when it is not null, else none; every
/// rejected profile with at least one reason. Returns the profiles.
fn assert_contract(doc: &Value) -> &[Value] {
    let selected = &doc["selected"];
    assert!(selected.is_string() || selected.is_null(), "{doc}");
    let profiles = doc["profiles"].as_array().expect("profiles is an array");
    assert!(!profiles.is_empty(), "{doc}");
    for profile in profiles {
        assert!(profile["id"].is_string(), "{profile}");
        assert!(
            profile["name"].is_string() || profile["name"].is_null(),
            "{profile}"
        );
        let verdict = profile["verdict"].as_str().expect("verdict is a string");
        assert!(
            ["selected", "runnable", "rejected"].contains(&verdict),
            "{profile}"
        );
        let reasons = profile["reasons"].as_array().expect("reasons is an array");
        assert!(reasons.iter().all(Value::is_string), "{profile}");
        if verdict == "rejected" {
            assert!(
                !reasons.is_empty(),
                "a rejected profile without reasons: {profile}"
            );
        }
    }
    let chosen: Vec<&Value> = profiles
        .iter()
        .filter(|p| p["verdict"] == "selected")
        .collect();
    match selected.as_str() {
        Some(name) => {
            assert_eq!(chosen.len(), 1, "{doc}");
            let entry = chosen[0];
            let display = entry["name"].as_str().or(entry["id"].as_str());
            assert_eq!(display, Some(name), "{doc}");
        }
        None => assert!(chosen.is_empty(), "{doc}"),
    }
    profiles
}

#[test]
fn manifest_json_selects_one_profile() {
    let run = profiles(&["--manifest", V2_MANIFEST, "--gpus=2xL40S", "--json"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let doc = json(&run);
    let entries = assert_contract(&doc);
    assert_eq!(doc["selected"], "vllm-fp16-tp1-pp1", "{doc}");
    assert_eq!(entries.len(), 2);
    let trtllm = entries
        .iter()
        .find(|p| p["verdict"] == "rejected")
        .expect("the TP 8 profile is rejected");
    let reasons = trtllm["reasons"].to_string();
    assert!(reasons.contains("needs 8 GPUs"), "{reasons}");
    assert_eq!(doc["system"], "2xl40s-48gb", "{doc}");
}

#[test]
fn nothing_runnable_exits_1() {
    // Any GPU runs the fixture's generic vLLM profile as far as the manifest says; with the
    // model's size known, 70B at FP16 does not fit one T4.
    let args = [
        "--manifest",
        V2_MANIFEST,
        "--gpus",
        "1xT4",
        "--model",
        "meta/llama-3.1-70b-instruct",
    ];
    let run = profiles(&[&args[..], &["--json"][..]].concat());
    assert_eq!(run.status, 1, "{}{}", run.stdout, run.stderr);
    let doc = json(&run);
    let entries = assert_contract(&doc);
    assert!(doc["selected"].is_null(), "{doc}");
    assert!(entries.iter().all(|p| p["verdict"] == "rejected"), "{doc}");
    assert!(doc.to_string().contains("not enough memory"), "{doc}");

    let run = profiles(&args);
    assert_eq!(run.status, 1, "{}", run.stderr);
    assert!(
        run.stdout.contains(
            "Could not find a profile that is currently runnable with the detected hardware"
        ),
        "{}",
        run.stdout
    );
}

#[test]
fn table_ranks_with_reasons_and_the_selection() {
    let run = profiles(&["--manifest", V2_MANIFEST, "--gpus", "2xL40S"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let out = &run.stdout;
    for needle in [
        "system: 2xl40s-48gb",
        "rank  verdict",
        "tp x pp",
        "selected  vllm",
        "rejected  tensorrt_llm",
        "      - needs 8 GPUs",
        &format!("selected: vllm-fp16-tp1-pp1 ({VLLM_ID})"),
    ] {
        assert!(out.contains(needle), "no `{needle}` in\n{out}");
    }
    let run = profiles(&[
        "--manifest",
        V2_MANIFEST,
        "--gpus",
        "2xL40S",
        "--list-format",
    ]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(run.stdout.starts_with("SYSTEM INFO\n"), "{}", run.stdout);
    assert!(
        run.stdout
            .contains(&format!("Selected profile: {VLLM_ID} (vllm-fp16-tp1-pp1)")),
        "{}",
        run.stdout
    );
}

#[test]
fn from_list_agrees_with_the_nim_docs_example() {
    // The documented output has no SYSTEM INFO: the system is the one its runnable profiles
    // imply (two A100s).
    let run = profiles(&["--from-list", DOCS_LIST, "--json"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let doc = json(&run);
    let entries = assert_contract(&doc);
    assert_eq!(
        doc["selected"], "tensorrt_llm-A100-fp16-tp2-latency",
        "{doc}"
    );
    assert_eq!(doc["nim_first"], doc["selected"], "{doc}");
    assert_eq!(doc["agrees_with_nim"], true, "{doc}");
    assert_eq!(entries.len(), 4);
    assert!(entries.iter().all(|p| p["verdict"] != "rejected"), "{doc}");
    assert_eq!(doc["system"], "2xa100-sxm-80gb", "{doc}");
}

#[test]
fn from_list_table_says_whether_it_agrees() {
    let run = profiles(&["--from-list", VARIANTS_LIST, "--lora"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let first = "tensorrt_llm-h100_nvl-fp8-tp2-pp1-throughput-lora-lora-2321:10de-\
                 cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc-2";
    let out = &run.stdout;
    assert!(out.contains("system: 2xh100-nvl-94gb"), "{out}");
    assert!(
        out.contains(&format!(
            "NIM listed first: {first}; nim-profiles selects: {first} (agree)"
        )),
        "{out}"
    );
    // The A100 profile NIM could not run for lack of free memory is rejected here: the A100
    // is not a free GPU.
    assert!(out.contains("built for GPU device 20b2:10de"), "{out}");
}

#[test]
fn profile_pins_or_names_the_nearest() {
    let run = profiles(&[
        "--from-list",
        DOCS_LIST,
        "--profile",
        "tensorrt_llm-a100-fp16-tp1-throughput",
        "--json",
    ]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let doc = json(&run);
    assert_contract(&doc);
    assert_eq!(
        doc["selected"], "tensorrt_llm-A100-fp16-tp1-throughput",
        "{doc}"
    );
    assert_eq!(
        doc["auto_selected"], "tensorrt_llm-A100-fp16-tp2-latency",
        "{doc}"
    );

    let run = profiles(&[
        "--manifest",
        V2_MANIFEST,
        "--gpus",
        "H100",
        "--profile",
        "vllm-fp16-tp2-pp1",
    ]);
    assert_eq!(run.status, 1, "{}{}", run.stdout, run.stderr);
    for needle in ["nearest", "vllm-fp16-tp1-pp1", "Runnable here"] {
        assert!(
            run.stderr.contains(needle),
            "no `{needle}` in {}",
            run.stderr
        );
    }
}

#[test]
fn bad_input_exits_2_naming_the_file_and_line() {
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["--manifest", BROKEN_MANIFEST, "--gpus", "H100"],
            &[&format!("profiles: {BROKEN_MANIFEST}:8: YAML")],
        ),
        (
            &["--from-list", BROKEN_LIST],
            &[&format!("profiles: {BROKEN_LIST}:6: "), "unclosed"],
        ),
        (
            &["--manifest", V2_MANIFEST, "--gpus", "3xH999"],
            &["--gpus", "H999", "nearest known"],
        ),
        (
            &[
                "--manifest",
                "tests/data/profiles/missing.yaml",
                "--gpus",
                "H100",
            ],
            &["tests/data/profiles/missing.yaml", "cannot read"],
        ),
        (
            &["--manifest", V2_MANIFEST],
            &["--manifest", "--gpus", "--nvidia-smi", "usage:"],
        ),
        (
            &[
                "--manifest",
                V2_MANIFEST,
                "--gpus",
                "H100",
                "--nvidia-smi",
                "x.csv",
            ],
            &["--gpus", "--nvidia-smi"],
        ),
        (
            &["--from-list", DOCS_LIST, "--gpus", "H100"],
            &["--from-list", "--gpus"],
        ),
        // Two documents of the stream share a profile id.
        (
            &["--manifest", V1_STREAM, "--gpus", "H100"],
            &[&format!("{V1_STREAM}:64: "), "--document"],
        ),
        (&["--frobnicate"], &["--frobnicate", "usage:"]),
    ];
    for (args, needles) in cases {
        let run = profiles(args);
        assert_eq!(run.status, 2, "{args:?}: {}{}", run.stdout, run.stderr);
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout);
        for needle in *needles {
            assert!(
                run.stderr.contains(needle),
                "{args:?}: no `{needle}` in {}",
                run.stderr
            );
        }
    }
}

#[test]
fn help_exits_0() {
    let run = profiles(&["--help"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    for needle in [
        "usage: profiles",
        "--manifest",
        "--gpus",
        "--nvidia-smi",
        "--from-list",
        "--lora",
        "--prefer",
        "--model",
        "--profile",
        "--tags-selector",
        "--engines",
        "--list-format",
        "--json",
        "Exit status",
    ] {
        assert!(
            run.stdout.contains(needle),
            "no `{needle}` in {}",
            run.stdout
        );
    }
}
