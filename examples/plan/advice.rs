//! What to change when nothing runs: more GPUs of the same kind, FP8, a larger GPU, a shorter
//! context, each checked by sizing it.

use nim_profiles::{Engine, GpuGroup};
use nim_sizing::engine::{self, EngineModel};
use nim_sizing::placement::{Candidate, NodePool, PlacementRequest};
use nim_sizing::{GpuSpec, ModelArch, Precision, Sizing};

use crate::cli::precision_tag;
use crate::profiles::effective_gpu;

/// What the plan was asked for.
pub struct Ask<'a> {
    pub arch: &'a ModelArch,
    /// The GPU group NIM would run on.
    pub group: &'a GpuGroup,
    pub context: u64,
    /// `--precision` as a tag.
    pub precision: Option<&'a str>,
    pub engine: Option<&'a Engine>,
    /// The workload's typical request: a shorter context is no option.
    pub typical_tokens: u64,
}

/// The engine a change is sized with: TensorRT-LLM (what NIM prefers) unless `--engine` says
/// otherwise.
fn engine_for(filter: Option<&Engine>) -> EngineModel {
    match filter {
        Some(Engine::Vllm | Engine::Sglang) => EngineModel::vllm(),
        _ => engine::trtllm(),
    }
}

/// The precision NIM serves a checkpoint in on `gpu` when nothing is asked: the checkpoint's
/// when quantized, else BF16 (FP16 without BF16).
pub fn default_precision(arch: &ModelArch, gpu: &GpuSpec) -> Precision {
    match Precision::from_config(arch) {
        Precision::Bf16 | Precision::Fp16 | Precision::Fp32 if !gpu.supports_bf16() => {
            Precision::Fp16
        }
        Precision::Bf16 | Precision::Fp16 | Precision::Fp32 => Precision::Bf16,
        quantized => quantized,
    }
}

/// The fewest GPUs of `gpu` in one node (up to 8) that start the engine with one request of
/// the context.
fn smallest(ask: &Ask<'_>, gpu: &GpuSpec, precision: Precision, vgpu: bool) -> Option<Candidate> {
    PlacementRequest::new(ask.arch.clone())
        .precision(precision)
        .engine(engine_for(ask.engine))
        .max_model_len(ask.context)
        .virtualized(vgpu)
        .max_nodes(1)
        .on_inventory(&[NodePool {
            gpu: gpu.clone(),
            gpus_per_node: 8,
            nodes: 1,
        }])
        .ok()?
        .chosen
}

/// `2x h100-sxm-80gb with NVLink` and its `--gpus` value.
fn layout(count: u64, gpu: &GpuSpec, vgpu: bool) -> (String, String) {
    let nvlink = count > 1 && gpu.nvlink_bandwidth().is_some();
    let text = format!(
        "{count}x {}{}",
        gpu.id,
        if nvlink { " with NVLink" } else { "" }
    );
    let spec = format!(
        "{count}x{}{}{}",
        gpu.id,
        if nvlink { ":nvlink" } else { "" },
        if vgpu { ":vgpu" } else { "" }
    );
    (text, spec)
}

/// The changes that make the model run, best first, each a phrase such as `2x h100-sxm-80gb
/// with NVLink (--gpus 2xh100-sxm-80gb:nvlink)` or `FP8 (--precision fp8)`.
pub fn changes(ask: &Ask<'_>) -> Vec<String> {
    let group = ask.group;
    let vgpu = group.vgpu;
    let current = effective_gpu(group);
    let count = u64::from(group.count);
    let asked = ask
        .precision
        .and_then(|tag| tag.parse::<Precision>().ok())
        .unwrap_or_else(|| default_precision(ask.arch, &current));
    let mut changes = Vec::new();

    let same = smallest(ask, &current, asked, vgpu);
    if let Some(candidate) = &same
        && candidate.gpus > count
    {
        let (text, spec) = layout(candidate.gpus, &current, vgpu);
        changes.push(format!("{text} (--gpus {spec})"));
    }
    let fp8_possible = current.supports_fp8() && asked != Precision::Fp8 && fp8_allowed(ask);
    if fp8_possible
        && let Some(candidate) = smallest(ask, &current, Precision::Fp8, vgpu)
        && same.as_ref().is_none_or(|s| candidate.gpus < s.gpus)
    {
        if candidate.gpus <= count {
            changes.push("FP8 (--precision fp8)".to_owned());
        } else {
            let (text, spec) = layout(candidate.gpus, &current, vgpu);
            changes.push(format!("FP8 on {text} (--precision fp8 --gpus {spec})"));
        }
    }

    let fp8_same = fp8_possible && smallest(ask, &current, Precision::Fp8, vgpu).is_some();
    if same.is_none() && !fp8_same {
        // A larger GPU: the fewest GPUs in one node, then the least memory.
        let mut best: Option<(u64, u64, GpuSpec, Precision)> = None;
        for gpu in nim_sizing::gpu::builtin()
            .iter()
            .filter(|g| g.visible_memory > current.visible_memory)
        {
            let mut precisions = vec![match ask.precision.and_then(|t| t.parse().ok()) {
                Some(p) => p,
                None => default_precision(ask.arch, gpu),
            }];
            if gpu.supports_fp8() && !precisions.contains(&Precision::Fp8) && fp8_allowed(ask) {
                precisions.push(Precision::Fp8);
            }
            for precision in precisions {
                if let Some(candidate) = smallest(ask, gpu, precision, vgpu) {
                    let key = (candidate.gpus, gpu.memory.get());
                    if best.as_ref().is_none_or(|(g, m, _, _)| key < (*g, *m)) {
                        best = Some((candidate.gpus, gpu.memory.get(), gpu.clone(), precision));
                    }
                }
            }
        }
        if let Some((gpus, _, gpu, precision)) = best {
            let (text, spec) = layout(gpus, &gpu, vgpu);
            let tag = precision_tag(precision);
            let flag = if ask.precision == Some(tag.as_str())
                || (ask.precision.is_none() && precision == default_precision(ask.arch, &gpu))
            {
                String::new()
            } else {
                format!(" --precision {tag}")
            };
            changes.push(format!("{text} in {tag} (--gpus {spec}{flag})"));
        }
    }

    // A shorter context on these GPUs.
    let nvlink = group.has_nvlink();
    let mut tp = 1;
    while tp * 2 <= count.min(8)
        && (nvlink || !vgpu)
        && ask.arch.check_parallelism(tp * 2, 1).is_ok()
    {
        tp *= 2;
    }
    // NIM prefers FP8 where it runs and --precision does not say otherwise.
    let precision = if fp8_possible && ask.precision.is_none() {
        Precision::Fp8
    } else {
        asked
    };
    let sizing = Sizing::new(ask.arch.clone(), current)
        .tp(tp)
        .precision(precision)
        .engine(engine_for(ask.engine))
        .max_model_len(ask.context);
    if let Ok(plan) = sizing.plan()
        && !plan.fits
    {
        let longest = plan.fixes.iter().find_map(|fix| {
            fix.strip_prefix("--max-model-len ")
                .and_then(|rest| rest.split(':').next())
                .and_then(|n| n.trim().parse::<u64>().ok())
        });
        if let Some(tokens) = longest
            && tokens >= ask.typical_tokens
        {
            changes.push(format!(
                "a shorter context (--context {tokens}, the longest {} GPU{} hold{})",
                tp,
                if tp == 1 { "" } else { "s" },
                if tp == 1 { "s" } else { "" }
            ));
        }
    }
    changes
}

/// Whether FP8 is an option: the checkpoint is 16- or 32-bit, or FP8 already.
fn fp8_allowed(ask: &Ask<'_>) -> bool {
    matches!(
        Precision::from_config(ask.arch),
        Precision::Bf16 | Precision::Fp16 | Precision::Fp32 | Precision::Fp8
    )
}
