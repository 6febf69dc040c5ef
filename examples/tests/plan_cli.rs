//! The `plan` example's command line: the built-in scenario and three more (70B on two H100,
//! 8B on two L40S under vGPU, a model that fits nowhere), the `--json` contract, the manifests it
//! prints and writes (linted here again), exit statuses and messages.
//!
//! Runs the example through `cargo run --example plan`, which reuses the build cache.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

/// What one run of `plan ARGS...` gave.
struct Run {
    status: i32,
    stdout: String,
    stderr: String,
}

fn plan(args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO"))
        .args(["run", "--quiet", "--example", "plan", "--"])
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

fn json(run: &Run) -> Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("{e}: not JSON:\n{}\n{}", run.stdout, run.stderr))
}

/// A fresh directory under the system's temporary directory.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("nim-plan-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temporary directory");
    dir
}

/// Every top-level key of the contract, and the selected profile and a fitting plan.
fn assert_contract(doc: &Value) {
    for key in [
        "scenario",
        "profile",
        "memory",
        "storage",
        "placement",
        "autoscaling",
        "manifests",
    ] {
        assert!(
            doc.get(key).is_some_and(Value::is_object),
            "no {key}: {doc}"
        );
    }
    assert!(doc["profile"]["selected"].is_object(), "{}", doc["profile"]);
    assert_eq!(doc["memory"]["fits"], true, "{}", doc["memory"]);
    for key in [
        "weights_bytes_per_gpu",
        "kv_cache_bytes_per_gpu",
        "kv_cache_tokens",
        "kv_cache_blocks",
        "free_bytes_per_gpu",
    ] {
        assert!(doc["memory"][key].is_u64(), "{key}: {}", doc["memory"]);
    }
    assert!(doc["memory"]["max_concurrency"].as_f64() >= Some(1.0));
    assert!(doc["memory"]["roofline"]["single"]["decode_tokens_per_s_single"].is_number());
    assert!(
        doc["storage"]["pvc_size"]
            .as_str()
            .is_some_and(|s| s.ends_with("Gi"))
    );
    assert!(doc["storage"]["startup_probe"]["failure_threshold"].as_i64() >= Some(120));
    assert!(doc["placement"]["gpus"].is_u64());
    assert!(doc["autoscaling"]["min_replicas"].as_u64() >= Some(2));
    assert!(
        doc["autoscaling"]["max_replicas"].as_u64() >= doc["autoscaling"]["min_replicas"].as_u64()
    );
}

/// The manifests of a `--json` document: lint clean, the NIMService pins the profile the
/// NIMCache caches, and asks for the profile's GPUs.
fn assert_manifests(doc: &Value) {
    let manifests = &doc["manifests"];
    let yaml = ["nimcache", "nimservice", "scaledobject"]
        .map(|kind| {
            manifests["yaml"][kind]
                .as_str()
                .unwrap_or_else(|| panic!("no {kind} YAML: {manifests}"))
                .to_owned()
        })
        .join("---\n");
    let report = nim_crds::lint::lint_str("plan.yaml", &yaml);
    assert_eq!(
        report.error_count() + report.warning_count(),
        0,
        "{report}\n{yaml}"
    );
    assert_eq!(report.files[0].documents.len(), 3, "{yaml}");
    let pinned = &manifests["nimservice"]["spec"]["storage"]["nimCache"]["profile"];
    assert_eq!(
        pinned,
        &manifests["nimcache"]["spec"]["source"]["ngc"]["model"]["profiles"][0]
    );
    assert_eq!(pinned, &doc["profile"]["selected"]["pinned_as"]);
    let tp = doc["profile"]["selected"]["tp"].as_u64().expect("tp");
    assert_eq!(
        manifests["nimservice"]["spec"]["resources"]["limits"]["nvidia.com/gpu"],
        tp.to_string()
    );
    let scaled = &manifests["scaledobject"];
    assert_eq!(scaled["apiVersion"], "keda.sh/v1alpha1");
    assert_eq!(scaled["kind"], "ScaledObject");
    assert_eq!(
        scaled["spec"]["minReplicaCount"],
        doc["autoscaling"]["min_replicas"]
    );
    let queries = scaled["spec"]["triggers"].to_string();
    assert!(queries.contains("gpu_cache_usage_perc"), "{queries}");
    assert!(queries.contains("num_requests_running"), "{queries}");
}

#[test]
fn default_is_llama_8b_on_one_h100_for_chat() {
    let run = plan(&["--json"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let doc = json(&run);
    assert_contract(&doc);
    assert_manifests(&doc);
    assert_eq!(doc["scenario"]["model"], "meta/llama-3.1-8b-instruct");
    assert_eq!(doc["scenario"]["gpus"], "1xh100-sxm-80gb");
    assert_eq!(doc["scenario"]["workload"], "chat");
    assert_eq!(doc["scenario"]["context"], 8192);
    assert_eq!(doc["profile"]["source"], "derived");
    assert!(
        doc["profile"]["label"]
            .as_str()
            .is_some_and(|l| l.starts_with("derived (no manifest given)"))
    );
    assert_eq!(
        doc["profile"]["selected"]["name"],
        "tensorrt_llm-h100-fp8-tp1-pp1-latency"
    );
    // Every other profile lost by a rule or cannot run, with a reason.
    let profiles = doc["profile"]["profiles"].as_array().expect("profiles");
    assert!(profiles.len() > 10, "{profiles:?}");
    assert!(profiles.iter().all(|p| {
        p["reasons"].as_array().is_some_and(|r| !r.is_empty())
            && (p["verdict"] != "runnable" || p["rule"].is_string())
    }));
    assert_eq!(doc["memory"]["tp"], 1);
    assert_eq!(doc["memory"]["max_model_len"], 8192);
    assert_eq!(doc["storage"]["access_mode"], "ReadWriteMany");
    assert_eq!(doc["placement"]["gpus"], 1);
    assert_eq!(doc["placement"]["nvlink_required"], false);
    assert_eq!(doc["autoscaling"]["kv_cache_target"], 0.7);
    assert_eq!(doc["autoscaling"]["concurrency_per_replica"], 40);
    assert_eq!(doc["manifests"]["lint"]["errors"], 0);
}

#[test]
fn no_arguments_print_six_tables_without_colour_when_piped() {
    let run = plan(&[]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    for heading in [
        "1. Profile",
        "2. Memory per GPU",
        "3. Storage",
        "4. Placement",
        "5. Autoscaling",
        "6. Manifests",
    ] {
        assert!(
            run.stdout.contains(heading),
            "no {heading}:\n{}",
            run.stdout
        );
    }
    for text in [
        "derived (no manifest given)",
        "selected: tensorrt_llm-h100-fp8-tp1-pp1-latency",
        "KV cache pool",
        "max concurrency",
        "decode bound, 1 request",
        "NIMCache PVC",
        "startup probe",
        "GPUs per replica",
        "scale-in cooldown",
        "kind: NIMCache",
        "kind: NIMService",
        "kind: ScaledObject",
    ] {
        assert!(run.stdout.contains(text), "no `{text}`:\n{}", run.stdout);
    }
    assert!(!run.stdout.contains('\x1b'), "ANSI escapes when piped");
}

#[test]
fn seventy_b_on_two_h100_with_nvlink_runs_tp_2() {
    let run = plan(&[
        "--model",
        "meta/llama-3.1-70b-instruct",
        "--gpus=2xH100-SXM-80GB:nvlink",
        "--json",
    ]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let doc = json(&run);
    assert_contract(&doc);
    assert_manifests(&doc);
    let selected = &doc["profile"]["selected"];
    assert_eq!(selected["tp"], 2, "{selected}");
    assert_eq!(selected["engine"], "tensorrt_llm");
    assert_eq!(doc["memory"]["tp"], 2);
    assert_eq!(doc["placement"]["gpus"], 2);
    assert_eq!(doc["placement"]["nvlink_required"], true);
    assert_eq!(doc["placement"]["nvlink_available"], true);
    // Why not one GPU in the checkpoint's precision.
    let warnings = doc["placement"]["warnings"].to_string();
    assert!(
        warnings.contains("bf16") && warnings.contains("leaves no KV cache"),
        "{warnings}"
    );
}

#[test]
fn eight_b_on_two_l40s_under_vgpu_runs_on_one_gpu() {
    let run = plan(&["--gpus", "2xL40S:vgpu", "--json"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let doc = json(&run);
    assert_contract(&doc);
    assert_manifests(&doc);
    assert_eq!(doc["profile"]["selected"]["tp"], 1);
    assert_eq!(doc["profile"]["selected"]["gpu"], "L40S");
    assert_eq!(doc["placement"]["gpus"], 1);
    assert_eq!(doc["placement"]["virtualized"], true);
    for profile in doc["profile"]["profiles"].as_array().expect("profiles") {
        if profile["tp"].as_u64() > Some(1) {
            assert_eq!(profile["verdict"], "rejected", "{profile}");
            assert!(profile["reasons"].to_string().contains("vGPU"), "{profile}");
        }
    }
    let warnings = doc["placement"]["warnings"].to_string();
    assert!(
        warnings.contains("under vGPU cannot run multi-GPU models"),
        "{warnings}"
    );
}

#[test]
fn a_model_that_fits_nowhere_exits_1_saying_what_to_change() {
    let args = ["--model", "meta/llama-3.1-405b-instruct", "--gpus", "1xL4"];
    let run = plan(&args);
    assert_eq!(run.status, 1, "{}", run.stdout);
    assert!(run.stderr.starts_with("plan: "), "{}", run.stderr);
    assert!(
        run.stderr.contains("does not run on 1xl4-24gb")
            && run.stderr.contains("It needs ")
            && run.stderr.contains("--gpus "),
        "{}",
        run.stderr
    );
    assert!(run.stdout.contains("1. Profile"), "{}", run.stdout);

    let run = plan(&[&args[..], &["--json"][..]].concat());
    assert_eq!(run.status, 1, "{}", run.stderr);
    let doc = json(&run);
    assert!(doc["profile"]["selected"].is_null(), "{doc}");
    assert!(
        doc["profile"]["profiles"]
            .as_array()
            .expect("profiles")
            .iter()
            .all(|p| p["verdict"] == "rejected")
    );
    let changes = doc["error"]["changes"].as_array().expect("changes");
    assert!(!changes.is_empty(), "{doc}");
    assert!(
        doc["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("needs"))
    );
    assert!(doc.get("manifests").is_none());
}

#[test]
fn seventy_b_in_bf16_on_one_h100_needs_two_gpus_or_fp8() {
    let run = plan(&[
        "--model",
        "meta/llama-3.1-70b-instruct",
        "--precision",
        "bf16",
    ]);
    assert_eq!(run.status, 1, "{}", run.stdout);
    for text in [
        "not enough memory",
        "needs 2x h100-sxm-80gb with NVLink (--gpus 2xh100-sxm-80gb:nvlink)",
        "or FP8 (--precision fp8",
    ] {
        assert!(run.stderr.contains(text), "no `{text}` in {}", run.stderr);
    }
}

#[test]
fn out_writes_three_manifests_that_lint_clean() {
    let dir = temp_dir("out");
    let out = dir.join("deploy");
    let out_text = out.to_str().expect("UTF-8 path");
    let run = plan(&[
        "--model",
        "meta/llama-3.1-70b-instruct",
        "--gpus",
        "4xL40S",
        "--namespace",
        "inference",
        "--storage-class",
        "shared-fs",
        "--out",
        out_text,
        "--json",
    ]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let doc = json(&run);
    assert_contract(&doc);
    let files: Vec<PathBuf> = ["nimcache.yaml", "nimservice.yaml", "scaledobject.yaml"]
        .iter()
        .map(|f| out.join(f))
        .collect();
    for file in &files {
        assert!(file.is_file(), "{} not written", file.display());
    }
    assert_eq!(doc["manifests"]["files"].as_array().map(Vec::len), Some(3));
    let report = nim_crds::lint::lint_files(&files);
    assert_eq!(report.error_count() + report.warning_count(), 0, "{report}");
    let cache = std::fs::read_to_string(&files[0]).expect("nimcache.yaml");
    assert!(cache.contains("storageClass: shared-fs"), "{cache}");
    assert!(cache.contains("namespace: inference"), "{cache}");
    assert!(cache.contains("volumeAccessMode: ReadWriteMany"), "{cache}");
    // TP over PCIe: NIM asks for /dev/shm.
    let service = std::fs::read_to_string(&files[1]).expect("nimservice.yaml");
    assert!(service.contains("sharedMemorySizeLimit: 16Gi"), "{service}");

    // As a table, section 6 names the files instead of printing them.
    let run = plan(&["--out", out_text]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(run.stdout.contains("wrote "), "{}", run.stdout);
    assert!(!run.stdout.contains("kind: NIMCache"), "{}", run.stdout);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn unknown_model_or_gpu_exits_2_with_suggestions() {
    let run = plan(&["--model", "meta/llama-3.1-9b-instruct"]);
    assert_eq!(run.status, 2, "{}", run.stdout);
    assert!(
        run.stderr.starts_with("plan: --model: unknown model")
            && run
                .stderr
                .contains("nearest known: meta/llama-3.1-8b-instruct"),
        "{}",
        run.stderr
    );
    let run = plan(&["--gpus", "2xH999"]);
    assert_eq!(run.status, 2, "{}", run.stdout);
    assert!(
        run.stderr.starts_with("plan: --gpus: ") && run.stderr.contains("nearest known: "),
        "{}",
        run.stderr
    );
}

#[test]
fn bad_usage_exits_2_naming_the_flag() {
    for (args, expected) in [
        (&["--frobnicate"][..], "unknown flag `--frobnicate`"),
        (&["--json=yes"][..], "--json takes no value"),
        (&["--context"][..], "--context: missing value"),
        (
            &["--context", "0"][..],
            "--context: \"0\" is not a positive integer",
        ),
        (
            &["--context", "300000"][..],
            "--context 300000 exceeds the model's context",
        ),
        (
            &["--workload", "rag", "--context", "4096"][..],
            "--context 4096 is shorter than a rag request",
        ),
        (
            &["--workload", "video"][..],
            "--workload: \"video\" is not one of",
        ),
        (
            &["--precision", "fp7"][..],
            "--precision: unknown precision",
        ),
        (
            &["--engine", "onnx"][..],
            "--engine: \"onnx\" is not one of",
        ),
        (
            &["--namespace", "Bad_NS"][..],
            "--namespace: \"Bad_NS\" is not a DNS-1123 label",
        ),
        (&["--model", "a", "--model", "b"][..], "--model given twice"),
        (&["--manifest", "no/such/file.yaml"][..], "--manifest: "),
    ] {
        let run = plan(args);
        assert_eq!(run.status, 2, "{args:?}: {}", run.stderr);
        assert!(
            run.stderr.contains(expected),
            "{args:?}: expected `{expected}` in {}",
            run.stderr
        );
    }
}

#[test]
fn manifest_profiles_are_selected_and_pinned_by_id() {
    let manifest = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../nim-profiles/tests/data/06-k8s-nim-operator-manifest-v2-fixture.yaml"
    );
    let run = plan(&["--manifest", manifest, "--gpus", "2xL40S", "--json"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let doc = json(&run);
    assert_contract(&doc);
    assert_manifests(&doc);
    assert_eq!(doc["profile"]["source"], "manifest");
    let id = "1111222233334444555566667777888899990000aaaabbbbccccddddeeeeffff";
    assert_eq!(doc["profile"]["selected"]["id"], id);
    assert_eq!(doc["profile"]["selected"]["pinned_as"], id);
    assert_eq!(doc["profile"]["profiles"].as_array().map(Vec::len), Some(2));
}

#[test]
fn gpus_from_an_nvidia_smi_csv_file() {
    let dir = temp_dir("smi");
    let csv = dir.join("smi.csv");
    std::fs::write(
        &csv,
        "name, pci.device_id, memory.total [MiB], memory.used [MiB]\n\
         NVIDIA H100 80GB HBM3, 0x233010DE, 81559 MiB, 0 MiB\n\
         NVIDIA H100 80GB HBM3, 0x233010DE, 81559 MiB, 0 MiB\n",
    )
    .expect("write the CSV");
    let run = plan(&[
        "--model",
        "meta/llama-3.1-70b-instruct",
        "--gpus",
        csv.to_str().expect("UTF-8 path"),
        "--json",
    ]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let doc = json(&run);
    assert_contract(&doc);
    assert!(
        doc["scenario"]["gpus_source"]
            .as_str()
            .is_some_and(|s| s.starts_with("nvidia-smi CSV")),
        "{}",
        doc["scenario"]
    );
    assert_eq!(doc["profile"]["selected"]["tp"], 2);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn rag_workload_sets_the_context_and_the_thresholds() {
    let run = plan(&["--workload", "rag", "--concurrency", "100", "--json"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let doc = json(&run);
    assert_contract(&doc);
    assert_manifests(&doc);
    assert_eq!(doc["scenario"]["context"], 16_384);
    assert_eq!(doc["memory"]["max_model_len"], 16_384);
    let autoscaling = &doc["autoscaling"];
    assert_eq!(autoscaling["kv_cache_target"], 0.85);
    assert_eq!(autoscaling["scale_in_cooldown"], 900.0);
    assert_eq!(autoscaling["concurrency_per_replica"], 10);
    assert_eq!(autoscaling["max_replicas"], 10);
    let service = &doc["manifests"]["nimservice"]["spec"]["scale"]["hpa"];
    assert_eq!(service["maxReplicas"], 10);
    assert_eq!(
        service["behavior"]["scaleDown"]["stabilizationWindowSeconds"],
        900
    );
}

#[test]
fn help_exits_0() {
    let run = plan(&["--help"]);
    assert_eq!(run.status, 0);
    for flag in [
        "--model",
        "--config",
        "--gpus",
        "--context",
        "--concurrency",
        "--workload",
        "--precision",
        "--engine",
        "--manifest",
        "--namespace",
        "--storage-class",
        "--out",
        "--json",
    ] {
        assert!(run.stdout.contains(flag), "no {flag} in --help");
    }
}
