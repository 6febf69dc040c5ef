//! The `size` example's command line: the table, the `--json` contract, exit statuses and
//! error messages that name the flag.
//!
//! Runs the example through `cargo run --example size`, which reuses the build cache.

use std::process::Command;

use serde_json::Value;

/// What one run of `size ARGS...` gave.
struct Run {
    status: i32,
    stdout: String,
    stderr: String,
}

fn size(args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO"))
        .args(["run", "--quiet", "--example", "size", "--"])
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

/// The contract's keys, with their JSON types.
fn assert_contract(plan: &Value) {
    for key in [
        "weights_bytes_per_gpu",
        "kv_bytes_per_token_per_gpu",
        "kv_cache_bytes_per_gpu",
        "kv_cache_tokens",
        "kv_cache_blocks",
    ] {
        assert!(plan[key].is_u64(), "{key} is not an integer: {plan}");
    }
    assert!(plan["max_concurrency"].is_number(), "{plan}");
    assert!(plan["fits"].is_boolean(), "{plan}");
    let reasons = plan["reasons"].as_array().expect("reasons is an array");
    assert!(reasons.iter().all(Value::is_string), "{plan}");
}

#[test]
fn no_arguments_print_a_table_for_llama_8b_on_h100() {
    let run = size(&[]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let text = run.stdout.to_ascii_lowercase();
    assert!(text.contains("llama-3.1-8b"), "{text}");
    assert!(text.contains("h100"), "{text}");
    for row in [
        "gpu memory (visible)",
        "engine budget",
        "weights per gpu",
        "kv cache per gpu",
        "kv bytes per token per gpu",
        "kv tokens / blocks",
        "max concurrency",
        "fits: yes",
    ] {
        assert!(text.contains(row), "no `{row}` in\n{text}");
    }
    assert!(text.contains("gib"), "{text}");
}

#[test]
fn json_for_70b_on_four_h100() {
    let run = size(&[
        "--json",
        "--model",
        "meta/llama-3.1-70b-instruct",
        "--gpus=4xH100",
        "--max-model-len",
        "8192",
    ]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    let plan = json(&run);
    assert_contract(&plan);
    assert_eq!(plan["fits"], true);
    assert_eq!(plan["tp"], 4);
    assert_eq!(plan["kv_bytes_per_token_per_gpu"], 81_920);
    let tokens = plan["kv_cache_tokens"].as_u64().expect("tokens");
    let blocks = plan["kv_cache_blocks"].as_u64().expect("blocks");
    assert_eq!(tokens, blocks * 16);
}

#[test]
fn does_not_fit_exits_1_with_reasons() {
    let run = size(&[
        "--model",
        "meta/llama-3.1-70b-instruct",
        "--gpu",
        "H100",
        "--json",
    ]);
    assert_eq!(run.status, 1, "{}", run.stderr);
    let plan = json(&run);
    assert_contract(&plan);
    assert_eq!(plan["fits"], false);
    assert!(
        !plan["reasons"].as_array().expect("reasons").is_empty(),
        "{plan}"
    );
    assert!(plan["shortfall_bytes"].is_u64(), "{plan}");
}

#[test]
fn config_json_and_trtllm_table() {
    let config = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../nim-sizing/tests/data/configs/llama-3.1-8b-instruct.json"
    );
    let run = size(&[
        "--config",
        config,
        "--gpus=L40S",
        "--engine",
        "trtllm",
        "--gpu-memory-utilization",
        "0.8",
        "--kv-cache-dtype",
        "fp8",
        "--max-model-len=8192",
    ]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    assert!(
        run.stdout.contains("llama-3.1-8b-instruct.json") && run.stdout.contains("1 x l40s"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("trtllm"), "{}", run.stdout);
    assert!(
        run.stdout.contains("free_gpu_memory_fraction 0.8"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("blocks of 32 tokens"), "{}", run.stdout);
    // 2 x 32 layers x 8 KV heads x 128 head dim x 1 byte (fp8).
    assert!(run.stdout.contains("65536 B"), "{}", run.stdout);
}

#[test]
fn bad_input_exits_2_naming_the_flag() {
    let config = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../nim-sizing/tests/data/configs/llama-3.1-8b-instruct.json"
    );
    let cases: &[(&[&str], &[&str])] = &[
        (&["--tp", "abc"], &["--tp", "abc", "positive integer"]),
        (&["--tp", "3"], &["--tp 3"]),
        (&["--gpu", "H999"], &["--gpu", "H999", "nearest known"]),
        (&["--precision", "int3"], &["--precision", "int3", "nvfp4"]),
        (&["--gpus", "3xH100", "--pp", "2"], &["--gpus"]),
        (&["--gpus", "4xH100", "--tp", "2"], &["--gpus"]),
        (&["--max-model-len", "0"], &["--max-model-len"]),
        (
            &["--gpu-memory-utilization", "1.5"],
            &["--gpu-memory-utilization"],
        ),
        (
            &["--model", "meta/llama-3.1-8b-instruct", "--config", config],
            &["--model", "--config"],
        ),
        (&["--frobnicate"], &["--frobnicate", "usage:"]),
    ];
    for (args, needles) in cases {
        let run = size(args);
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
    let run = size(&["--help"]);
    assert_eq!(run.status, 0, "{}", run.stderr);
    for needle in [
        "usage: size",
        "--gpus",
        "free_gpu_memory_fraction",
        "Exit status",
    ] {
        assert!(
            run.stdout.contains(needle),
            "no `{needle}` in {}",
            run.stdout
        );
    }
}
