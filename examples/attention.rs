//! Paged decode attention on the CPU or a CUDA GPU over tensors read from a safetensors file.
//!
//! ```sh
//! cargo run --release --example attention -- --input IN.safetensors --output OUT.safetensors [--threads N]
//! # On an NVIDIA GPU (the `cuda` feature; no CUDA toolkit needed to build):
//! cargo run --release --example attention --features cuda -- --device cuda --input IN.safetensors --output OUT.safetensors
//! ```
//!
//! `--device cpu` (the default) runs `nim_engine::cpu::paged_decode` on `--threads` threads (all
//! cores by default); `--device cuda` runs `nim_engine::cuda::CudaBackend::paged_decode` on GPU 0
//! and exits 1 with the backend's reason when there is none (no driver, no NVRTC, or a build
//! without the `cuda` feature). `nim-engine/tests/sdpa_check.py` compares an output with
//! PyTorch's `scaled_dot_product_attention`.
//!
//! The input holds (layout of `nim_engine::layout`):
//!
//! | tensor | dtype | shape |
//! |---|---|---|
//! | `q` | f32, f16 or bf16 | `[num_seqs, num_heads, head_dim]` |
//! | `k_cache`, `v_cache` | f32, f16, bf16 or F8_E4M3 (scale in metadata `<name>.scale`) | `[num_blocks, block_size, num_kv_heads, head_dim]` |
//! | `block_tables` | i32 | `[num_seqs, max_blocks]` |
//! | `context_lens` | i32 | `[num_seqs]` |
//! | `alibi_slopes` (optional) | f32 | `[num_heads]` |
//!
//! and in its `__metadata__`: `scale` (required), `sliding_window` and `soft_cap` (optional).
//! The output holds `out`, with q's dtype and shape. Exit status: 0 on success, 1 when the
//! computation rejects the input (shapes, block ids, ...) or the CUDA backend is unavailable,
//! 2 on bad usage or an unreadable file; every message names the tensor, key or flag.

use std::collections::HashMap;
use std::process::ExitCode;

use nim_engine::cuda::CudaBackend;
use nim_engine::weights::{self, SafetensorsFile};
use nim_engine::{AttentionParams, Error};

const USAGE: &str = "usage: attention --input IN.safetensors --output OUT.safetensors \
                     [--device cpu|cuda] [--threads N]";

/// Where the attention runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Device {
    Cpu,
    Cuda,
}

struct Args {
    input: String,
    output: String,
    device: Device,
    threads: Option<usize>,
}

fn parse_args() -> Result<Option<Args>, String> {
    let mut input = None;
    let mut output = None;
    let mut threads = None;
    let mut device = Device::Cpu;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => {
                (flag.to_owned(), Some(value.to_owned()))
            }
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match flag.as_str() {
            "-h" | "--help" => return Ok(None),
            "--input" => input = Some(value("--input")?),
            "--output" => output = Some(value("--output")?),
            "--device" => {
                device = match value("--device")?.as_str() {
                    "cpu" => Device::Cpu,
                    "cuda" => Device::Cuda,
                    other => return Err(format!("--device: {other:?} is neither cpu nor cuda")),
                }
            }
            "--threads" => {
                let text = value("--threads")?;
                let n: usize = text
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| format!("--threads: {text:?} is not a positive integer"))?;
                threads = Some(n);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if device == Device::Cuda && threads.is_some() {
        return Err("--threads applies to --device cpu only".to_owned());
    }
    Ok(Some(Args {
        input: input.ok_or("--input is required")?,
        output: output.ok_or("--output is required")?,
        device,
        threads,
    }))
}

fn metadata_f32(
    meta: Option<&HashMap<String, String>>,
    key: &str,
    path: &str,
) -> Result<Option<f32>, String> {
    match meta.and_then(|m| m.get(key)) {
        None => Ok(None),
        Some(text) => text
            .trim()
            .parse::<f32>()
            .ok()
            .filter(|v| v.is_finite())
            .map(Some)
            .ok_or_else(|| format!("{path}: __metadata__ {key}: {text:?} is not a finite number")),
    }
}

/// Input problems (exit 2) and rejected computations (exit 1).
enum Failure {
    Input(String),
    Compute(String),
}

fn run(args: &Args) -> Result<(), Failure> {
    let input = |e: Error| Failure::Input(e.to_string());
    let file = SafetensorsFile::open(&args.input).map_err(input)?;
    let path = &args.input;
    let meta = file.metadata();
    let scale = metadata_f32(meta, "scale", path)
        .map_err(Failure::Input)?
        .ok_or_else(|| Failure::Input(format!("{path}: __metadata__ has no `scale`")))?;
    let mut params = AttentionParams::new(scale);
    if let Some(window) = meta.and_then(|m| m.get("sliding_window")) {
        let window: usize = window.trim().parse().map_err(|_| {
            Failure::Input(format!(
                "{path}: __metadata__ sliding_window: {window:?} is not a positive integer"
            ))
        })?;
        params = params.with_sliding_window(window);
    }
    if let Some(cap) = metadata_f32(meta, "soft_cap", path).map_err(Failure::Input)? {
        params = params.with_soft_cap(cap);
    }
    if file.contains("alibi_slopes") {
        let (_, slopes) = file.f32s("alibi_slopes").map_err(input)?;
        params = params.with_alibi_slopes(slopes);
    }
    let q = file.tensor("q").map_err(input)?;
    let k_cache = file.tensor("k_cache").map_err(input)?;
    let v_cache = file.tensor("v_cache").map_err(input)?;
    let (table_shape, block_tables) = file.i32s("block_tables").map_err(input)?;
    let (_, context_lens) = file.i32s("context_lens").map_err(input)?;
    let [_, max_blocks] = table_shape[..] else {
        return Err(Failure::Input(format!(
            "{path}: block_tables: expected shape [num_seqs, max_blocks], found {table_shape:?}"
        )));
    };

    let compute = || {
        nim_engine::cpu::paged_decode(
            &q,
            &k_cache,
            &v_cache,
            &block_tables,
            max_blocks,
            &context_lens,
            &params,
        )
    };
    let out = match (args.device, args.threads) {
        (Device::Cuda, _) => {
            // No GPU, no driver, no NVRTC or no `cuda` feature: the backend says which.
            let gpu = CudaBackend::new(0).map_err(|e| Failure::Compute(e.to_string()))?;
            gpu.paged_decode_host(
                &q,
                &k_cache,
                &v_cache,
                &block_tables,
                max_blocks,
                &context_lens,
                &params,
            )
        }
        (Device::Cpu, Some(n)) => rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .map_err(|e| Failure::Input(format!("--threads {n}: {e}")))?
            .install(compute),
        (Device::Cpu, None) => compute(),
    }
    .map_err(|e| Failure::Compute(format!("{path}: {e}")))?;
    weights::save(&args.output, &[("out", &out)], &[], None)
        .map_err(|e| Failure::Input(e.to_string()))
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("attention: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Input(message)) => {
            eprintln!("attention: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Compute(message)) => {
            eprintln!("attention: {message}");
            ExitCode::FAILURE
        }
    }
}
