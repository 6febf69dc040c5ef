//! Model architectures and weight sizing against the reference table (`data/models.csv`, a copy
//! of `reference/models.csv`), real-world `config.json` fixtures (`tests/data/configs/`), the
//! worked examples of `PROFILES-SIZING.md` §4.1–4.2, and real safetensors files.

// clippy's allow-unwrap-in-tests covers `#[test]` functions only, not the fixture helpers here.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use nim_sizing::model::{ModelArch, ModelCatalog, NormKind, SlidingLayers, SlidingWindow};
use nim_sizing::precision::{
    KvDtype, Precision, checkpoint_weight_bytes, checkpoint_weight_bytes_per_gpu, weight_bytes,
    weight_bytes_per_gpu, weight_bytes_per_stage,
};
use nim_sizing::safetensors::read_checkpoint;
use nim_sizing::units::Bytes;
use nim_sizing::{Error, model::QuantizationConfig};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn manifest_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// `models.csv` rows as column → value maps (quote-aware, so the notes column may hold commas).
fn models_csv() -> Vec<HashMap<String, String>> {
    let text = std::fs::read_to_string(manifest_path("data/models.csv")).unwrap();
    let split = |line: &str| -> Vec<String> {
        let (mut fields, mut field, mut quoted) = (Vec::new(), String::new(), false);
        for c in line.chars() {
            match c {
                '"' => quoted = !quoted,
                ',' if !quoted => fields.push(std::mem::take(&mut field)),
                _ => field.push(c),
            }
        }
        fields.push(field);
        fields
    };
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header = split(lines.next().unwrap());
    lines
        .map(|l| header.iter().cloned().zip(split(l)).collect())
        .collect()
}

fn num(row: &HashMap<String, String>, col: &str) -> u64 {
    row[col]
        .parse()
        .unwrap_or_else(|_| panic!("{col}: {:?}", row[col]))
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(manifest_path(&format!("tests/data/configs/{name}"))).unwrap()
}

fn catalog(name: &str) -> &'static ModelArch {
    &ModelCatalog::builtin().lookup(name).unwrap().arch
}

#[test]
fn every_catalog_model_matches_models_csv() {
    let rows = models_csv();
    assert_eq!(rows.len(), 16);
    assert_eq!(ModelCatalog::builtin().len(), rows.len());
    for row in &rows {
        let model = ModelCatalog::builtin().lookup(&row["hf_repo"]).unwrap();
        let arch = &model.arch;
        let id = &row["hf_repo"];
        let published = num(row, "total_params");
        let total = arch.total_params();
        let rel = (total as f64 - published as f64).abs() / published as f64;
        assert!(rel < 0.01, "{id}: {total} vs {published}");
        assert_eq!(total, published, "{id}: shape-derived total is exact");
        assert_eq!(
            arch.active_params(),
            num(row, "active_params"),
            "{id} active"
        );
        assert_eq!(
            arch.kv_bytes_per_token(KvDtype::Bf16),
            Bytes::new(num(row, "kv_bytes_per_token_bf16")),
            "{id} KV bytes/token"
        );
        assert_eq!(arch.architecture, row["architecture"]);
        assert_eq!(arch.hidden_size, num(row, "hidden_size"));
        assert_eq!(arch.num_layers, num(row, "num_hidden_layers"));
        assert_eq!(arch.num_kv_heads, num(row, "num_key_value_heads"));
        assert_eq!(arch.head_dim, num(row, "head_dim"));
        assert_eq!(arch.num_experts, num(row, "num_local_experts"));
        assert_eq!(arch.experts_per_token, num(row, "num_experts_per_tok"));
        assert_eq!(
            arch.tie_word_embeddings,
            row["tie_word_embeddings"] == "true"
        );
        assert_eq!(model.published_params, published);
        assert_eq!(model.display_name, row["model"]);
    }
}

#[test]
fn mixtral_active_params_within_one_percent() {
    let rows = models_csv();
    let row = rows
        .iter()
        .find(|r| r["architecture"] == "MixtralForCausalLM")
        .unwrap();
    let arch = catalog(&row["hf_repo"]);
    let published = num(row, "active_params") as f64;
    assert!((arch.active_params() as f64 - published).abs() / published < 0.01);
    assert!(arch.active_params() < arch.total_params() / 3);
}

#[test]
fn nim_names_resolve() {
    for name in [
        "meta/llama-3.1-8b-instruct",
        "meta/llama-3.1-70b-instruct",
        "meta/llama-3.1-405b-instruct",
        "meta/llama-3.2-1b-instruct",
        "meta/llama-3.2-3b-instruct",
        "meta/llama-3.3-70b-instruct",
        "mistralai/mistral-7b-instruct-v0.3",
        "mistralai/mixtral-8x7b-instruct-v0.1",
        "qwen/qwen2.5-7b-instruct",
        "qwen/qwen2.5-72b-instruct",
        "nvidia/llama-3.1-nemotron-70b-instruct",
        "deepseek-ai/deepseek-r1-distill-llama-8b",
        "google/gemma-2-9b-it",
        "google/gemma-2-27b-it",
        "microsoft/phi-3-mini-4k-instruct",
        "microsoft/phi-3-mini-128k-instruct",
    ] {
        assert_eq!(ModelCatalog::builtin().lookup(name).unwrap().nim_name, name);
    }
    let err = ModelCatalog::builtin()
        .lookup("meta/llama-9-8b")
        .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("unknown model \"meta/llama-9-8b\"; nearest known: meta/"),
        "{err}"
    );
}

#[test]
fn worked_kv_examples() {
    // PROFILES-SIZING.md §4.1: one 131,072-token sequence, bf16, whole model.
    let per_seq = |name: &str| catalog(name).kv_bytes_per_token(KvDtype::Bf16) * 131_072;
    assert_eq!(
        per_seq("meta/llama-3.1-70b-instruct"),
        Bytes::from_gib(40.0)
    );
    assert_eq!(per_seq("meta/llama-3.1-8b-instruct"), Bytes::from_gib(16.0));
    // Using hidden_size instead of kv_heads × head_dim would overstate by heads / kv_heads.
    let llama70 = catalog("meta/llama-3.1-70b-instruct");
    let naive = 2 * llama70.num_layers * llama70.hidden_size * 2;
    assert_eq!(naive / llama70.kv_bytes_per_token(KvDtype::Bf16).get(), 8);
}

#[test]
fn llama_8b_int4_awq_is_about_5_7_gb() {
    // PROFILES-SIZING.md §4.2: ≈ 5.7 GB, not 0.5 B/param × 8B = 4 GB.
    let llama = catalog("meta/llama-3.1-8b-instruct");
    let w = weight_bytes(llama, Precision::INT4_AWQ);
    assert!((w.total.gb() - 5.7).abs() < 0.1, "{}", w.total.gb());
    assert!(w.total.gb() > 5.0);
    assert!((w.embeddings.gb() - 1.05).abs() < 0.01);
    assert!((w.lm_head.gb() - 1.05).abs() < 0.01);
    let scales_and_zeros = w.linear.gb() - 6.979_321_856 / 2.0;
    assert!((scales_and_zeros - 0.14).abs() < 0.01, "{scales_and_zeros}");

    // The same from a pre-quantized checkpoint's config.json.
    let awq = ModelArch::from_config_json(&fixture("llama-3.1-8b-instruct-awq-int4.json")).unwrap();
    assert_eq!(
        awq.name,
        "hugging-quants/Meta-Llama-3.1-8B-Instruct-AWQ-INT4"
    );
    assert_eq!(Precision::from_config(&awq), Precision::INT4_AWQ);
    assert_eq!(checkpoint_weight_bytes(&awq), w);
}

#[test]
fn per_gpu_weights() {
    let llama70 = catalog("meta/llama-3.3-70b-instruct");
    // NIM: "Llama 3.3 70B BF16 TP4 → 35 GB per GPU".
    let tp4 = weight_bytes_per_gpu(llama70, Precision::Bf16, 4, 1).unwrap();
    assert!((tp4.gb() - 35.0).abs() < 0.5);
    // TP × PP: the largest stage.
    let stages = weight_bytes_per_stage(llama70, Precision::Fp8, 2, 4).unwrap();
    assert_eq!(stages.len(), 4);
    let largest = stages.iter().map(|s| s.total).max().unwrap();
    assert_eq!(
        weight_bytes_per_gpu(llama70, Precision::Fp8, 2, 4).unwrap(),
        largest
    );
    let whole = weight_bytes(llama70, Precision::Fp8).total;
    assert!(largest.get() > whole.get() / 8);
    assert!(largest.get() < whole.get() / 8 + whole.get() / 50);
    match weight_bytes_per_gpu(llama70, Precision::Bf16, 3, 1) {
        Err(Error::Invalid { field, message }) => {
            assert_eq!(field, "--tp");
            assert_eq!(message, "--tp 3: 64 attention heads are not divisible by 3");
        }
        other => panic!("{other:?}"),
    }
    assert!(weight_bytes_per_gpu(llama70, Precision::Bf16, 1, 81).is_err());
}

#[test]
fn llama_405b_fp8_checkpoint_keeps_attention_in_bf16() {
    // Meta's FP8 checkpoint quantizes the FFN of all but the first and last layers (Llama 3
    // paper §6.2); vLLM loaded 57.75 GiB per GPU at TP8 (vllm #6746, PROFILES-SIZING.md §3).
    let mut llama = catalog("meta/llama-3.1-405b-instruct").clone();
    let mut excluded: Vec<String> = (0..126)
        .flat_map(|i| {
            ["q_proj", "k_proj", "v_proj", "o_proj"]
                .map(|p| format!("model.layers.{i}.self_attn.{p}"))
        })
        .collect();
    for layer in [0, 125] {
        for p in ["gate_proj", "up_proj", "down_proj"] {
            excluded.push(format!("model.layers.{layer}.mlp.{p}"));
        }
    }
    excluded.push("lm_head".to_owned());
    llama.quantization = Some(
        QuantizationConfig::from_json(&json!({
            "activation_scale_ub": 1200.0,
            "modules_to_not_convert": excluded,
            "quant_method": "fbgemm_fp8"
        }))
        .unwrap(),
    );
    assert_eq!(Precision::from_config(&llama), Precision::Fp8);
    let per_gpu = checkpoint_weight_bytes_per_gpu(&llama, 8, 1).unwrap();
    let observed = 57.752;
    eprintln!("405B FP8 TP8 per GPU: {:.3} GiB", per_gpu.gib());
    assert!(
        (per_gpu.gib() - observed).abs() / observed < 0.03,
        "{}",
        per_gpu.gib()
    );
    // "All weights 1 byte" would give 405.85e9 B / 8 = 47.2 GiB.
    let naive = weight_bytes_per_gpu(&llama, Precision::Fp8, 8, 1).unwrap();
    assert!(naive.gib() < 50.0 && per_gpu.gib() > 55.0);
}

#[test]
fn llama_fixture_parses_like_the_catalog() {
    let arch = ModelArch::from_config_json(&fixture("llama-3.1-8b-instruct.json")).unwrap();
    let cat = catalog("meta-llama/Llama-3.1-8B-Instruct");
    assert_eq!(arch.architecture, "LlamaForCausalLM");
    assert_eq!(arch.name, "LlamaForCausalLM");
    assert_eq!(arch.torch_dtype.as_deref(), Some("bfloat16"));
    assert_eq!(Precision::from_config(&arch), Precision::Bf16);
    assert_eq!(arch.quantization, None);
    assert_eq!(arch.sliding_window, None);
    assert_eq!(arch.param_breakdown(), cat.param_breakdown());
    assert_eq!(arch.total_params(), 8_030_261_248);
}

#[test]
fn mixtral_fixture() {
    let arch = ModelArch::from_config_json(&fixture("mixtral-8x7b-instruct-v0.1.json")).unwrap();
    assert_eq!((arch.num_experts, arch.experts_per_token), (8, 2));
    assert_eq!(arch.intermediate_size, 14336);
    assert_eq!(arch.sliding_window, None);
    assert_eq!(arch.total_params(), 46_702_792_704);
    assert_eq!(arch.active_params(), 12_879_925_248);
    assert_eq!(arch.kv_bytes_per_token(KvDtype::Bf16), Bytes::new(131_072));
}

#[test]
fn qwen_fixture() {
    let arch = ModelArch::from_config_json(&fixture("qwen2.5-7b-instruct.json")).unwrap();
    assert!(arch.attention_bias);
    assert_eq!(arch.sliding_window, None, "use_sliding_window is false");
    assert_eq!(arch.total_params(), 7_615_616_512);
    assert_eq!(arch.kv_bytes_per_token(KvDtype::Bf16), Bytes::new(57_344));
    // Qwen2.5-7B's 4 KV heads replicate at TP 8.
    assert_eq!(arch.kv_heads_per_gpu(8), 1);
    assert!(arch.check_parallelism(4, 1).is_ok());
    assert!(
        arch.check_parallelism(8, 1).is_err(),
        "28 heads are not divisible by 8"
    );
}

#[test]
fn gemma2_fixture() {
    let arch = ModelArch::from_config_json(&fixture("gemma-2-9b-it.json")).unwrap();
    assert_eq!(arch.head_dim, 256);
    assert_eq!(arch.hidden_size / arch.num_attention_heads, 224);
    assert!(arch.tie_word_embeddings, "Gemma ties by default");
    assert_eq!(arch.norms_per_layer, 4);
    assert_eq!(
        arch.sliding_window,
        Some(SlidingWindow {
            size: 4096,
            layers: SlidingLayers::Alternating
        })
    );
    assert_eq!(arch.torch_dtype.as_deref(), Some("float32"));
    assert_eq!(Precision::from_config(&arch), Precision::Fp32);
    assert_eq!(arch.total_params(), 9_241_705_984);
    assert_eq!(arch.kv_bytes_per_token(KvDtype::Bf16), Bytes::new(344_064));
}

#[test]
fn phi3_fixture() {
    let arch = ModelArch::from_config_json(&fixture("phi-3-mini-4k-instruct.json")).unwrap();
    assert_eq!(arch.name, "Phi-3-mini-4k-instruct");
    assert_eq!(arch.head_dim, 96);
    assert_eq!(arch.num_kv_heads, 32);
    assert!(arch.fused_qkv && arch.fused_gate_up);
    assert_eq!(
        arch.sliding_window,
        Some(SlidingWindow {
            size: 2047,
            layers: SlidingLayers::All
        })
    );
    assert_eq!(arch.total_params(), 3_821_079_552);
    assert_eq!(arch.kv_bytes_per_token(KvDtype::Bf16), Bytes::new(393_216));
}

#[test]
fn nemotron_fixture() {
    let arch = ModelArch::from_config_json(&fixture("nemotron-mini-4b-instruct.json")).unwrap();
    assert_eq!(arch.architecture, "NemotronForCausalLM");
    assert_eq!(arch.norm, NormKind::LayerNorm);
    assert!(!arch.gated_mlp);
    assert_eq!(arch.head_dim, 128);
    let b = arch.param_breakdown();
    assert_eq!(b.mlp, 32 * 2 * 3072 * 9216);
    // Two LayerNorm1P (weight + bias) per layer, plus the final one.
    assert_eq!(b.norms, 32 * 2 * 2 * 3072 + 2 * 3072);
    // 4.19B, as Hugging Face lists Nemotron-Mini-4B-Instruct.
    assert_eq!(arch.total_params(), 4_190_509_056);
    assert_eq!(
        arch.kv_bytes_per_token(KvDtype::Bf16),
        Bytes::new(2 * 32 * 8 * 128 * 2)
    );
}

#[test]
fn every_missing_required_key_is_named() {
    let base: Map<String, Value> =
        serde_json::from_str(&fixture("llama-3.1-8b-instruct.json")).unwrap();
    for key in [
        "hidden_size",
        "num_hidden_layers",
        "num_attention_heads",
        "intermediate_size",
        "vocab_size",
        "max_position_embeddings",
    ] {
        let mut config = base.clone();
        config.remove(key);
        match ModelArch::from_config_json(&Value::Object(config).to_string()) {
            Err(Error::Invalid { field, message }) => {
                assert_eq!(field, format!("config.json: {key}"));
                assert!(message.contains("missing"), "{message}");
            }
            other => panic!("{key}: {other:?}"),
        }
    }
    // num_key_value_heads is optional (MHA).
    let mut config = base.clone();
    config.remove("num_key_value_heads");
    let mha = ModelArch::from_config_json(&Value::Object(config).to_string()).unwrap();
    assert_eq!(mha.num_kv_heads, 32);
}

/// A scratch directory under the target directory, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Self {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("models-{name}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn config_file_names_the_model_and_the_path() {
    let scratch = Scratch::new("config-file");
    let dir = scratch
        .0
        .join("models--meta-llama--Llama-3.1-8B-Instruct/snapshots/0e9e39f2");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("config.json");
    std::fs::write(&path, fixture("llama-3.1-8b-instruct.json")).unwrap();
    let arch = ModelArch::from_config_file(&path).unwrap();
    assert_eq!(arch.name, "meta-llama/Llama-3.1-8B-Instruct");

    std::fs::write(&path, r#"{"hidden_size": 4096}"#).unwrap();
    match ModelArch::from_config_file(&path) {
        Err(Error::Invalid { field, .. }) => {
            assert_eq!(field, format!("{}: num_hidden_layers", path.display()));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        ModelArch::from_config_file(&dir.join("missing.json")),
        Err(Error::ModelFile { .. })
    ));
}

/// Writes a tiny checkpoint with the `transformers` Llama / Qwen2 tensor names and shapes, by
/// the `safetensors` crate, in BF16.
fn write_tiny_checkpoint(dir: &Path, config: &Value, qkv_bias: bool) {
    let get = |k: &str| config[k].as_u64().unwrap() as usize;
    let (h, layers, heads, kv, inter, vocab) = (
        get("hidden_size"),
        get("num_hidden_layers"),
        get("num_attention_heads"),
        get("num_key_value_heads"),
        get("intermediate_size"),
        get("vocab_size"),
    );
    let hd = h / heads;
    let tied = config["tie_word_embeddings"].as_bool().unwrap();
    let mut shapes: Vec<(String, Vec<usize>)> = vec![
        ("model.embed_tokens.weight".into(), vec![vocab, h]),
        ("model.norm.weight".into(), vec![h]),
    ];
    if !tied {
        shapes.push(("lm_head.weight".into(), vec![vocab, h]));
    }
    for i in 0..layers {
        let p = format!("model.layers.{i}");
        shapes.extend([
            (format!("{p}.input_layernorm.weight"), vec![h]),
            (format!("{p}.post_attention_layernorm.weight"), vec![h]),
            (format!("{p}.self_attn.q_proj.weight"), vec![heads * hd, h]),
            (format!("{p}.self_attn.k_proj.weight"), vec![kv * hd, h]),
            (format!("{p}.self_attn.v_proj.weight"), vec![kv * hd, h]),
            (format!("{p}.self_attn.o_proj.weight"), vec![h, heads * hd]),
            (format!("{p}.mlp.gate_proj.weight"), vec![inter, h]),
            (format!("{p}.mlp.up_proj.weight"), vec![inter, h]),
            (format!("{p}.mlp.down_proj.weight"), vec![h, inter]),
        ]);
        if qkv_bias {
            shapes.extend([
                (format!("{p}.self_attn.q_proj.bias"), vec![heads * hd]),
                (format!("{p}.self_attn.k_proj.bias"), vec![kv * hd]),
                (format!("{p}.self_attn.v_proj.bias"), vec![kv * hd]),
            ]);
        }
    }
    let data: Vec<Vec<u8>> = shapes
        .iter()
        .map(|(_, shape)| {
            let n: usize = shape.iter().product();
            (0..n)
                .flat_map(|i| half::bf16::from_f32((i % 7) as f32 - 3.0).to_le_bytes())
                .collect()
        })
        .collect();
    // Two shards and an index, as `save_pretrained` writes them.
    let half_way = shapes.len() / 2;
    let mut weight_map = Map::new();
    for (shard_no, range) in [(1, 0..half_way), (2, half_way..shapes.len())] {
        let file = format!("model-0000{shard_no}-of-00002.safetensors");
        let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = range
            .map(|i| {
                weight_map.insert(shapes[i].0.clone(), Value::from(file.clone()));
                let view = safetensors::tensor::TensorView::new(
                    safetensors::Dtype::BF16,
                    shapes[i].1.clone(),
                    &data[i],
                )
                .unwrap();
                (shapes[i].0.clone(), view)
            })
            .collect();
        let bytes = safetensors::serialize(views, None).unwrap();
        std::fs::write(dir.join(&file), bytes).unwrap();
    }
    let total: usize = data.iter().map(Vec::len).sum();
    let index = json!({"metadata": {"total_size": total}, "weight_map": weight_map});
    std::fs::write(dir.join("model.safetensors.index.json"), index.to_string()).unwrap();
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
}

#[test]
fn shapes_match_real_safetensors_checkpoints() {
    for (name, architecture, qkv_bias, tied) in [
        ("tiny-llama", "LlamaForCausalLM", false, false),
        ("tiny-llama-tied", "LlamaForCausalLM", false, true),
        ("tiny-qwen2", "Qwen2ForCausalLM", true, false),
    ] {
        let scratch = Scratch::new(name);
        let config = json!({
            "architectures": [architecture],
            "hidden_size": 64, "num_hidden_layers": 3, "num_attention_heads": 8,
            "num_key_value_heads": 2, "intermediate_size": 160, "vocab_size": 300,
            "max_position_embeddings": 2048, "tie_word_embeddings": tied,
            "torch_dtype": "bfloat16"
        });
        write_tiny_checkpoint(&scratch.0, &config, qkv_bias);
        let arch = ModelArch::from_config_file(&scratch.0.join("config.json")).unwrap();
        assert_eq!(arch.name, format!("models-{name}"));
        let ckpt = read_checkpoint(&scratch.0).unwrap();
        assert_eq!(ckpt.files.len(), 2);
        assert_eq!(ckpt.total_params(), arch.total_params(), "{name}");
        assert_eq!(ckpt.params_by_dtype["BF16"], arch.total_params());
        assert_eq!(
            ckpt.data_bytes,
            weight_bytes(&arch, Precision::Bf16).total,
            "{name}"
        );
        assert_eq!(ckpt.data_bytes, checkpoint_weight_bytes(&arch).total);
    }
}

fn numeric() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!(0)),
        Just(json!(1)),
        Just(json!(u64::MAX)),
        Just(json!(i64::MIN)),
        Just(Value::Null),
        (1u64..10_000).prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        (0u64..64).prop_map(|n| json!(n as f64)),
    ]
}

const NUMERIC_KEYS: &[&str] = &[
    "hidden_size",
    "num_hidden_layers",
    "num_attention_heads",
    "num_key_value_heads",
    "head_dim",
    "intermediate_size",
    "moe_intermediate_size",
    "shared_expert_intermediate_size",
    "vocab_size",
    "max_position_embeddings",
    "num_local_experts",
    "num_experts",
    "num_experts_per_tok",
    "sliding_window",
    "max_window_layers",
    "sliding_window_pattern",
];

/// Each numeric key: left at a valid default (or absent), removed, or set to an arbitrary number
/// (zero, huge, negative, fractional, null), so that single bad fields meet otherwise valid
/// configs.
fn config_object() -> impl Strategy<Value = String> {
    let defaults = json!({
        "hidden_size": 64, "num_hidden_layers": 4, "num_attention_heads": 8,
        "num_key_value_heads": 2, "intermediate_size": 128, "vocab_size": 1000,
        "max_position_embeddings": 4096
    });
    let edit = prop_oneof![
        3 => Just(None),
        1 => Just(Some(None)),
        3 => numeric().prop_map(|v| Some(Some(v))),
    ];
    let base = (
        prop::collection::vec(edit, NUMERIC_KEYS.len()),
        prop::sample::select(
            &[
                "LlamaForCausalLM",
                "MixtralForCausalLM",
                "Qwen2ForCausalLM",
                "Qwen2MoeForCausalLM",
                "Qwen3ForCausalLM",
                "Gemma2ForCausalLM",
                "Gemma3ForCausalLM",
                "Phi3ForCausalLM",
                "NemotronForCausalLM",
                "SomethingNew",
            ][..],
        ),
        any::<[bool; 4]>(),
    );
    base.prop_map(move |(edits, architecture, flags)| {
        let mut obj = defaults.as_object().unwrap().clone();
        obj.insert("architectures".into(), json!([architecture]));
        for (key, edit) in NUMERIC_KEYS.iter().zip(edits) {
            match edit {
                None => {}
                Some(None) => {
                    obj.remove(*key);
                }
                Some(Some(value)) => {
                    obj.insert((*key).to_owned(), value);
                }
            }
        }
        obj.insert("tie_word_embeddings".into(), flags[0].into());
        obj.insert("attention_bias".into(), flags[1].into());
        obj.insert("use_sliding_window".into(), flags[2].into());
        if flags[3] {
            obj.insert(
                "quantization_config".into(),
                json!({"quant_method": "awq", "bits": 4, "group_size": 0}),
            );
        }
        Value::Object(obj).to_string()
    })
}

/// Small, mostly valid configs, so that the sizing functions run on many shapes.
fn small_config() -> impl Strategy<Value = String> {
    (
        1u64..8,
        1u64..6,
        1u64..5,
        1u64..64,
        1u64..9,
        1u64..5,
        any::<bool>(),
    )
        .prop_map(|(kv, group, layers, head_dim, experts, k, tied)| {
            json!({
                "architectures": ["MixtralForCausalLM"],
                "hidden_size": 64, "num_hidden_layers": layers,
                "num_attention_heads": kv * group, "num_key_value_heads": kv,
                "head_dim": head_dim, "intermediate_size": 96, "vocab_size": 1000,
                "max_position_embeddings": 4096, "num_local_experts": experts,
                "num_experts_per_tok": k.min(experts), "tie_word_embeddings": tied
            })
            .to_string()
        })
}

fn exercise(arch: &ModelArch, tp: u64, pp: u64) {
    let b = arch.param_breakdown();
    assert_eq!(
        b.total,
        b.embeddings + b.lm_head + b.attention + b.mlp + b.router + b.norms + b.biases
    );
    assert!(arch.active_params() <= arch.total_params());
    for dtype in [KvDtype::Auto, KvDtype::Fp8, KvDtype::Nvfp4, KvDtype::Fp32] {
        let _ = arch.kv_bytes_per_token(dtype);
        let _ = arch.kv_bytes_per_token_per_gpu(dtype, tp);
    }
    for precision in [
        Precision::Fp32,
        Precision::Bf16,
        Precision::Fp8,
        Precision::Int8,
        Precision::INT4_AWQ,
        Precision::Int4Gptq { group_size: 0 },
        Precision::Nvfp4,
        Precision::Mxfp4,
    ] {
        let whole = weight_bytes(arch, precision);
        assert_eq!(
            whole.total,
            whole.embeddings + whole.lm_head + whole.linear + whole.other
        );
        if let Ok(per_gpu) = weight_bytes_per_gpu(arch, precision, tp, pp) {
            assert!(per_gpu <= whole.total + whole.embeddings);
        }
    }
    let _ = checkpoint_weight_bytes(arch);
    let _ = checkpoint_weight_bytes_per_gpu(arch, tp, pp);
    let _ = Precision::from_config(arch);
}

proptest! {
    #[test]
    fn from_config_json_never_panics(text in config_object(), tp in 0u64..20, pp in 0u64..70) {
        match ModelArch::from_config_json(&text) {
            Ok(arch) => exercise(&arch, tp, pp),
            Err(Error::Invalid { field, .. }) => prop_assert!(field.starts_with("config.json")),
            Err(other) => prop_assert!(false, "unexpected error {other:?}"),
        }
    }

    #[test]
    fn sizing_never_panics_on_valid_shapes(text in small_config(), tp in 0u64..20, pp in 0u64..8) {
        let arch = ModelArch::from_config_json(&text).unwrap();
        exercise(&arch, tp, pp);
        if arch.check_parallelism(tp, pp).is_ok() {
            let stages = weight_bytes_per_stage(&arch, Precision::Bf16, tp, pp).unwrap();
            prop_assert_eq!(stages.len() as u64, pp);
            if tp == 1 && !arch.tie_word_embeddings {
                let sum: Bytes = stages.iter().map(|s| s.total).sum();
                prop_assert_eq!(sum, weight_bytes(&arch, Precision::Bf16).total);
            }
        }
    }
}
