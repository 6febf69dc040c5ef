//! The `attention` example's file contract, checked against the f64 reference.

use std::collections::HashMap;
use std::process::{Command, Output};

use nim_engine::reference::{Tolerance, decode_reference};
use nim_engine::weights::{self, SafetensorsFile};
use nim_engine::{AttentionParams, DType, Tensor};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO"))
        .args(["run", "--quiet", "--example", "attention", "--"])
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo runs")
}

/// Deterministic values in [-1, 1).
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut state = seed;
    (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

struct Case {
    q: Tensor,
    k: Tensor,
    v: Tensor,
    tables: Vec<i32>,
    lens: Vec<i32>,
    max_blocks: usize,
}

/// 3 sequences, 8 query heads over 2 KV heads (GQA 4), head_dim 64, blocks of 16.
fn case(dtype: DType) -> Case {
    let (seqs, heads, kv_heads, dim, block, blocks) = (3, 8, 2, 64, 16, 12);
    let q = Tensor::from_f32_as(
        vec![seqs, heads, dim],
        &values(seqs * heads * dim, 1),
        dtype,
    )
    .expect("q");
    let cache = blocks * block * kv_heads * dim;
    let k = Tensor::from_f32_as(vec![blocks, block, kv_heads, dim], &values(cache, 2), dtype)
        .expect("k");
    let v = Tensor::from_f32_as(vec![blocks, block, kv_heads, dim], &values(cache, 3), dtype)
        .expect("v");
    // Tables out of order on purpose; the third sequence uses one block.
    let tables = vec![3, 7, 1, 0, 11, 2, 5, 9, 4, 0, 0, 0];
    Case {
        q,
        k,
        v,
        tables,
        lens: vec![50, 61, 9],
        max_blocks: 4,
    }
}

fn write_input(
    path: &std::path::Path,
    case: &Case,
    metadata: HashMap<String, String>,
    alibi: Option<&Tensor>,
) {
    let mut tensors = vec![("q", &case.q), ("k_cache", &case.k), ("v_cache", &case.v)];
    if let Some(alibi) = alibi {
        tensors.push(("alibi_slopes", alibi));
    }
    let table_shape = [case.lens.len(), case.max_blocks];
    let lens_shape = [case.lens.len()];
    weights::save(
        path,
        &tensors,
        &[
            ("block_tables", &table_shape, &case.tables),
            ("context_lens", &lens_shape, &case.lens),
        ],
        Some(metadata),
    )
    .expect("input written");
}

#[test]
fn decode_matches_the_reference_in_every_dtype() {
    let dir = tempfile::tempdir().expect("temp dir");
    for (dtype, threads) in [(DType::F32, "1"), (DType::F16, "2"), (DType::Bf16, "2")] {
        let case = case(dtype);
        let input = dir.path().join(format!("in-{dtype}.safetensors"));
        let output = dir.path().join(format!("out-{dtype}.safetensors"));
        let slopes = Tensor::from_f32(vec![8], (0..8).map(|h| 0.5f32.powi(h + 1)).collect())
            .expect("slopes");
        let meta = HashMap::from([
            ("scale".to_owned(), "0.125".to_owned()),
            ("sliding_window".to_owned(), "40".to_owned()),
            ("soft_cap".to_owned(), "30".to_owned()),
        ]);
        write_input(&input, &case, meta, Some(&slopes));
        let result = run(&[
            "--input",
            input.to_str().unwrap(),
            "--output",
            output.to_str().unwrap(),
            "--threads",
            threads,
        ]);
        assert!(
            result.status.success(),
            "{dtype}: {}",
            String::from_utf8_lossy(&result.stderr)
        );

        let out = SafetensorsFile::open(&output)
            .expect("output")
            .tensor("out")
            .expect("out");
        assert_eq!(out.dtype(), dtype);
        assert_eq!(out.shape(), case.q.shape());
        let params = AttentionParams::new(0.125)
            .with_sliding_window(40)
            .with_soft_cap(30.0)
            .with_alibi_slopes((0..8).map(|h| 0.5f32.powi(h + 1)).collect());
        let want = decode_reference(
            &case.q,
            &case.k,
            &case.v,
            &case.tables,
            case.max_blocks,
            &case.lens,
            &params,
        )
        .expect("reference");
        Tolerance::for_output(dtype)
            .check(&out.to_f32_vec(), &want)
            .unwrap_or_else(|e| panic!("{dtype}: {e}"));
    }
}

#[test]
fn bad_input_is_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    let input = dir.path().join("no-scale.safetensors");
    let output = dir.path().join("out.safetensors");
    write_input(&input, &case(DType::F32), HashMap::new(), None);
    let result = run(&[
        "--input",
        input.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
    ]);
    assert_eq!(result.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&result.stderr).contains("`scale`"));

    // A block id past the cache: the computation rejects it, naming the table entry.
    let mut bad = case(DType::F32);
    bad.tables[1] = 99;
    let input = dir.path().join("bad-table.safetensors");
    write_input(
        &input,
        &bad,
        HashMap::from([("scale".to_owned(), "0.125".to_owned())]),
        None,
    );
    let result = run(&[
        "--input",
        input.to_str().unwrap(),
        "--output",
        output.to_str().unwrap(),
    ]);
    assert_eq!(result.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&result.stderr).contains("block_tables"),
        "{}",
        String::from_utf8_lossy(&result.stderr)
    );

    let missing = run(&[
        "--input",
        "/nonexistent/in.safetensors",
        "--output",
        output.to_str().unwrap(),
    ]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/in.safetensors"));
    assert_eq!(run(&["--input", "x"]).status.code(), Some(2));
    assert_eq!(
        run(&["--threads", "0", "--input", "a", "--output", "b"])
            .status
            .code(),
        Some(2)
    );
}
