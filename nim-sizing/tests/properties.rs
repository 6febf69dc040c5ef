//! Invariants of the sizing math, over every catalog model and GPU.

use nim_sizing::gpu::{self, GpuSpec};
use nim_sizing::{KvDtype, ModelArch, ModelCatalog, Precision, Sizing};
use proptest::prelude::*;

fn models() -> Vec<ModelArch> {
    ModelCatalog::builtin()
        .iter()
        .map(|m| m.arch.clone())
        .collect()
}

fn gpus() -> Vec<GpuSpec> {
    // GPUs that run BF16, so every precision below is meaningful.
    gpu::builtin()
        .iter()
        .filter(|g| g.supports_bf16())
        .cloned()
        .collect()
}

fn setup() -> impl Strategy<Value = (ModelArch, GpuSpec, u64, u64)> {
    let (models, gpus) = (models(), gpus());
    (0..models.len(), 0..gpus.len(), 0u32..4, 1u64..=131_072).prop_map(move |(m, g, tp, len)| {
        let model = models[m].clone();
        let len = len.min(model.max_position_embeddings);
        (model, gpus[g].clone(), 1u64 << tp, len)
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Bigger weights never leave more KV cache: INT4 <= FP8 <= BF16 <= FP32 in weight bytes,
    /// so KV tokens go the other way.
    #[test]
    fn kv_tokens_never_grow_with_larger_weights((model, gpu, tp, len) in setup()) {
        prop_assume!(model.check_parallelism(tp, 1).is_ok());
        let tokens = |precision| {
            Sizing::new(model.clone(), gpu.clone())
                .tp(tp)
                .max_model_len(len)
                .precision(precision)
                .plan()
                .map(|p| (p.weights_bytes_per_gpu, p.kv_cache_tokens))
        };
        let mut last = None;
        for precision in [Precision::INT4_AWQ, Precision::Fp8, Precision::Bf16, Precision::Fp32] {
            let (weights, kv) = tokens(precision).expect("valid input");
            if let Some((last_weights, last_kv)) = last {
                prop_assert!(weights >= last_weights, "{precision}: weights shrank");
                prop_assert!(kv <= last_kv, "{precision}: {kv} KV tokens > {last_kv}");
            }
            last = Some((weights, kv));
        }
    }

    /// Longer contexts never hold more concurrent requests.
    #[test]
    fn concurrency_falls_as_context_grows((model, gpu, tp, len) in setup(), shorter in 1u64..=8192) {
        prop_assume!(model.check_parallelism(tp, 1).is_ok());
        let shorter = shorter.min(len);
        let concurrency = |len| {
            Sizing::new(model.clone(), gpu.clone())
                .tp(tp)
                .max_model_len(len)
                .kv_dtype(KvDtype::Fp8)
                .plan()
                .expect("valid input")
                .max_concurrency
        };
        prop_assert!(concurrency(len) <= concurrency(shorter));
    }

    /// More tensor parallelism never lowers the KV tokens one GPU holds.
    #[test]
    fn more_tp_never_lowers_per_gpu_kv_capacity((model, gpu, tp, len) in setup()) {
        let wider = tp * 2;
        prop_assume!(model.check_parallelism(tp, 1).is_ok() && model.check_parallelism(wider, 1).is_ok());
        let tokens = |tp| {
            Sizing::new(model.clone(), gpu.clone())
                .tp(tp)
                .max_model_len(len)
                .plan()
                .expect("valid input")
                .kv_cache_tokens
        };
        prop_assert!(tokens(wider) >= tokens(tp), "TP {wider} holds fewer tokens than TP {tp}");
    }
}

/// The worked examples of the reference (PROFILES-SIZING.md §4.1).
#[test]
fn worked_kv_examples_through_the_plan() {
    let catalog = ModelCatalog::builtin();
    let h200 = gpu::builtin().lookup("H200").expect("gpu").clone();
    for (model, gib) in [
        ("meta/llama-3.1-70b-instruct", 40.0),
        ("meta/llama-3.1-8b-instruct", 16.0),
    ] {
        let arch = catalog.lookup(model).expect("model").arch.clone();
        let plan = Sizing::new(arch, h200.clone()).plan().expect("plan");
        // One 131,072-token sequence, whole model (TP 1), bf16.
        assert_eq!(
            plan.kv_bytes_per_request_per_gpu,
            nim_sizing::Bytes::from_gib(gib),
            "{model}"
        );
    }
}
