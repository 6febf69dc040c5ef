//! Physical upper bounds on throughput: what no engine can beat on a configuration.
//!
//! * **Decode** is bound by memory bandwidth: each step, every GPU reads its share of the
//!   weights (for a mixture of experts, the experts the batch touches) and the KV cache of
//!   every sequence in the batch. `step time ≥ bytes read per GPU / bandwidth`; one request
//!   gets one token per step, so its rate is at most `1 / step time`, and a batch of `B` at
//!   most `B / step time`. With pipeline parallelism a token crosses every stage in turn: one
//!   request waits `pp` stage times per token, while a full batch keeps every stage busy.
//! * **Prefill** is bound by compute: `2 × active parameters` FLOPs per token for the linear
//!   layers plus `4 × layers × attention width × context / 2` for causal attention, on every
//!   GPU of the deployment at its dense tensor throughput (FP8 for FP8 weights on FP8 hardware,
//!   BF16 otherwise, FP16 where there is no BF16).
//!
//! Real engines reach 60–80 % of these bounds at best; they tell a user what a configuration
//! can never do, not what it will do.
//!
//! ```
//! use nim_sizing::{ModelCatalog, gpu, memory::Sizing, roofline::roofline};
//!
//! let model = ModelCatalog::builtin().lookup("meta/llama-3.1-8b-instruct")?;
//! let sizing = Sizing::new(model.arch.clone(), gpu::builtin().lookup("H100")?.clone()).max_model_len(8192);
//! let bound = roofline(&sizing, &sizing.plan()?, 2048, 32);
//! // ~16 GB of weights at 3.35 TB/s: at most ~200 tokens/s for one stream.
//! assert!(bound.decode_tokens_per_s_single > 150.0 && bound.decode_tokens_per_s_single < 220.0);
//! assert!(bound.decode_tokens_per_s_batch > 20.0 * bound.decode_tokens_per_s_single);
//! # Ok::<(), nim_sizing::Error>(())
//! ```

use serde::Serialize;

use crate::memory::{MemoryPlan, Sizing};
use crate::precision::Precision;
use crate::units::{Bytes, Tflops};

/// Upper bounds on the throughput of one replica.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Roofline {
    /// The context length the bounds assume (prompt plus output so far).
    pub context: u64,
    /// The batch the batched bound assumes.
    pub batch: u64,
    /// Bytes one GPU reads per decode step for a single request.
    pub bytes_per_step_single: Bytes,
    /// Bytes one GPU reads per decode step for the batch.
    pub bytes_per_step_batch: Bytes,
    /// Tokens per second of one request, at most.
    pub decode_tokens_per_s_single: f64,
    /// Time between two tokens of one request, at least (milliseconds).
    pub inter_token_latency_ms: f64,
    /// Tokens per second of the whole batch, at most.
    pub decode_tokens_per_s_batch: f64,
    /// Prompt tokens per second, at most.
    pub prefill_tokens_per_s: f64,
    /// The tensor throughput per GPU the prefill bound uses.
    pub tflops_per_gpu: Tflops,
}

/// Bounds for `sizing` (whose `plan` is given) at `context` tokens and a batch of `batch`.
pub fn roofline(sizing: &Sizing, plan: &MemoryPlan, context: u64, batch: u64) -> Roofline {
    let model = &sizing.model;
    let gpu = &sizing.gpu;
    let batch = batch.max(1);
    let total = model.total_params().max(1) as f64;
    let active = model.active_params() as f64;
    // The share of the weights a step reads: for a mixture of experts, one request touches
    // its top-k experts; a batch touches up to all of them.
    let touched = |requests: u64| -> f64 {
        if model.is_moe() {
            (active / total * requests as f64).min(1.0)
        } else {
            1.0
        }
    };
    let kv = |requests: u64| plan.kv_bytes_per_token_per_gpu * (context * requests);
    let single = plan.weights_bytes_per_gpu.scale(touched(1)) + kv(1);
    let batched = plan.weights_bytes_per_gpu.scale(touched(batch)) + kv(batch);
    let bandwidth = gpu.bandwidth.0.max(1.0);
    let stage_time = |bytes: Bytes| bytes.get() as f64 / bandwidth;
    let pp = sizing.pp.max(1) as f64;
    let single_step = stage_time(single) * pp;
    let batch_step = stage_time(batched);

    let precision = sizing.effective_precision();
    let tflops = match (precision, gpu.fp8_tflops) {
        (Precision::Fp8 | Precision::Nvfp4 | Precision::Mxfp4, Some(fp8)) => fp8,
        _ => gpu.bf16_tflops.unwrap_or(gpu.fp16_tflops),
    };
    let attention_width = (model.num_attention_heads * model.head_dim) as f64;
    let flops_per_token =
        2.0 * active + 4.0 * model.num_layers as f64 * attention_width * context as f64 / 2.0;
    let gpus = (sizing.tp * sizing.pp).max(1) as f64;
    let prefill = gpus * tflops.0 * 1e12 / flops_per_token.max(1.0);

    Roofline {
        context,
        batch,
        bytes_per_step_single: single,
        bytes_per_step_batch: batched,
        decode_tokens_per_s_single: 1.0 / single_step.max(f64::MIN_POSITIVE),
        inter_token_latency_ms: single_step * 1000.0,
        decode_tokens_per_s_batch: batch as f64 / batch_step.max(f64::MIN_POSITIVE),
        prefill_tokens_per_s: prefill,
        tflops_per_gpu: tflops,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu;
    use crate::model::ModelCatalog;

    fn sizing(model: &str, gpu_name: &str) -> Sizing {
        let model = ModelCatalog::builtin().lookup(model).expect("model");
        Sizing::new(
            model.arch.clone(),
            gpu::builtin().lookup(gpu_name).expect("gpu").clone(),
        )
        .max_model_len(8192)
    }

    #[test]
    fn decode_is_weights_plus_kv_over_bandwidth() {
        let s = sizing("meta/llama-3.1-8b-instruct", "H100");
        let plan = s.plan().expect("plan");
        let bound = roofline(&s, &plan, 1000, 1);
        let bytes = plan.weights_bytes_per_gpu.get() + 131_072 * 1000;
        assert_eq!(bound.bytes_per_step_single.get(), bytes);
        let expected = 3.35e12 / bytes as f64;
        assert!((bound.decode_tokens_per_s_single - expected).abs() / expected < 1e-9);
        assert!((bound.inter_token_latency_ms - 1000.0 / expected).abs() < 1e-9);
    }

    #[test]
    fn more_bandwidth_and_more_tp_raise_the_bound() {
        let h100 = sizing("meta/llama-3.1-70b-instruct", "H100").tp(4);
        let h200 = sizing("meta/llama-3.1-70b-instruct", "H200").tp(4);
        let tp8 = sizing("meta/llama-3.1-70b-instruct", "H100").tp(8);
        let rate =
            |s: &Sizing| roofline(s, &s.plan().expect("plan"), 4096, 1).decode_tokens_per_s_single;
        assert!(rate(&h200) > rate(&h100));
        assert!(rate(&tp8) > rate(&h100));
    }

    #[test]
    fn moe_reads_only_active_experts_for_one_request() {
        let s = sizing("mistralai/mixtral-8x7b-instruct-v0.1", "H100").tp(2);
        let plan = s.plan().expect("plan");
        let bound = roofline(&s, &plan, 1, 1);
        assert!(bound.bytes_per_step_single.get() < plan.weights_bytes_per_gpu.get() / 3);
        let full = roofline(&s, &plan, 1, 64);
        assert!(full.bytes_per_step_batch >= plan.weights_bytes_per_gpu);
    }

    #[test]
    fn prefill_uses_fp8_throughput_for_fp8_weights() {
        let bf16 = sizing("meta/llama-3.1-8b-instruct", "H100");
        let fp8 = bf16.clone().precision(Precision::Fp8);
        let a = roofline(&bf16, &bf16.plan().expect("plan"), 1, 1);
        let b = roofline(&fp8, &fp8.plan().expect("plan"), 1, 1);
        assert_eq!(a.tflops_per_gpu, Tflops(989.0));
        assert!((b.prefill_tokens_per_s / a.prefill_tokens_per_s - 2.0).abs() < 0.01);
        // ~2 x 8.03e9 FLOPs per token at 989 TFLOP/s.
        assert!(
            (a.prefill_tokens_per_s - 989e12 / (2.0 * 8.03e9)).abs() / a.prefill_tokens_per_s
                < 0.01
        );
    }
}
