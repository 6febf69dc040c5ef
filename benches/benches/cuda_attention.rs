//! nim-engine's CUDA attention on the GPU: decode bandwidth and prefill TFLOP/s, against the
//! device-to-device copy bandwidth and the bf16 matmul rate measured in the same run.
//!
//! ```sh
//! cargo bench --bench cuda_attention --features cuda -- [--json PATH] [--quick] [--reps N]
//! ```
//!
//! Without a usable GPU it prints `cuda_attention: skipped: REASON` and exits 0 (1 with
//! `NIM_REQUIRE_GPU=1`). `nim-engine/KERNELS.md` says how to build it on a machine without a GPU
//! and run it on the H200 machine.
//!
//! Method: every number is the median of `--reps` samples (25) timed with CUDA events on the
//! backend's stream, after warm-up runs that also compile the kernels. A case whose data is
//! smaller than four times the L2 cache gets as many input sets as make up that size (rotation),
//! and each sample times one launch per set, back to back, counting their average; so no launch
//! finds its inputs in L2, and launches too short to time alone are timed in a row (for the
//! smallest cases that includes the launch overhead between them, as a serving loop would see
//! without CUDA graphs). Caches hold random values (never zeros).
//!
//! * **Copy**: a 2 GiB device-to-device copy; bandwidth counts bytes read plus bytes written.
//! * **Matmul**: an 8192³ bf16 GEMM through cuBLAS (f32 accumulation), 2·n³ FLOP per run; when
//!   cuBLAS cannot be loaded the rate is not measured and prefill is compared with the H200
//!   datasheet's 989 TFLOP/s dense bf16 instead (the table says which).
//! * **Decode**: batch 1, 8, 64, 256 × context 1k, 4k, 16k, 32k; 64 query heads over 8 KV heads
//!   (GQA 8:1), head dim 128, bf16 queries and caches, blocks of 16 in shuffled order. Bytes =
//!   K and V of every context token once + q read + output written; bandwidth = bytes / time,
//!   against the copy bandwidth. The SIMT kernel runs too, for comparison.
//! * **Prefill**: one causal prompt of 4k, 8k, 16k tokens, same heads and dtype; FLOP =
//!   4 · heads · head_dim · Σ keys per query (= 2 · heads · head_dim · L · (L + 1)).

use std::process::ExitCode;

use nim_engine::cuda::{CudaBackend, CudaOptions, DeviceTensor, KernelChoice};
use nim_engine::{AttentionParams, DType, Tensor};
use serde_json::{Value, json};

const HEADS: usize = 64;
const KV_HEADS: usize = 8;
const HEAD_DIM: usize = 128;
const BLOCK: usize = 16;
/// Bytes of K (or V) per token: KV heads × head dim × bf16.
const TOKEN_BYTES: usize = KV_HEADS * HEAD_DIM * 2;
const DATASHEET_BF16_TFLOPS: f64 = 989.0;

struct Args {
    json: Option<String>,
    quick: bool,
    reps: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        json: std::env::var("NIM_BENCH_JSON").ok(),
        quick: false,
        reps: 25,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--json" => args.json = Some(it.next().ok_or("--json needs a path")?),
            "--quick" => args.quick = true,
            "--reps" => {
                let text = it.next().ok_or("--reps needs a number")?;
                args.reps = text
                    .parse()
                    .ok()
                    .filter(|&n: &usize| n > 0)
                    .ok_or_else(|| format!("--reps: {text:?} is not a positive integer"))?;
            }
            // cargo bench passes --bench; criterion-style filters are not used here.
            _ => {}
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("cuda_attention: {message}");
            return ExitCode::from(2);
        }
    };
    let gpu = match CudaBackend::new(0) {
        Ok(gpu) => gpu,
        Err(e) => {
            println!("cuda_attention: skipped: {e}");
            let required = std::env::var("NIM_REQUIRE_GPU").is_ok_and(|v| v == "1");
            return if required {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match run(gpu, &args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("cuda_attention: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Median, minimum and maximum of the samples, in milliseconds per launch.
#[derive(Clone, Copy)]
struct Stats {
    median: f64,
    min: f64,
    max: f64,
}

/// Times `launch(i)` for i = 0, 1, ...: `warmup` launches, then `reps` samples of `per_sample`
/// launches each (consecutive i, so rotating inputs), each sample between two CUDA events.
fn time_launches(
    gpu: &CudaBackend,
    reps: usize,
    warmup: usize,
    per_sample: usize,
    mut launch: impl FnMut(&CudaBackend, usize) -> nim_engine::Result<()>,
) -> Result<Stats, String> {
    let mut i = 0;
    for _ in 0..warmup {
        launch(gpu, i).map_err(|e| e.to_string())?;
        i += 1;
    }
    gpu.synchronize().map_err(|e| e.to_string())?;
    let mut samples = Vec::with_capacity(reps);
    for _ in 0..reps {
        let ms = gpu
            .time_ms(|g| {
                for _ in 0..per_sample {
                    launch(g, i)?;
                    i += 1;
                }
                Ok(())
            })
            .map_err(|e| e.to_string())?;
        samples.push(ms / per_sample as f64);
    }
    samples.sort_by(f64::total_cmp);
    Ok(Stats {
        median: samples[samples.len() / 2],
        min: samples[0],
        max: samples[samples.len() - 1],
    })
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

/// A shuffled permutation of `0..n` (deterministic).
fn shuffled(n: usize, seed: u64) -> Vec<usize> {
    let mut items: Vec<usize> = (0..n).collect();
    let mut state = seed;
    for i in (1..n).rev() {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        items.swap(i, (state >> 33) as usize % (i + 1));
    }
    items
}

fn err(e: nim_engine::Error) -> String {
    e.to_string()
}

/// K and V caches of `blocks` blocks of random bf16, filled on the device by `write_kv` from
/// one random chunk of tokens, written to every slot in shuffled chunks.
fn random_caches(gpu: &CudaBackend, blocks: usize) -> Result<(DeviceTensor, DeviceTensor), String> {
    let shape = vec![blocks, BLOCK, KV_HEADS, HEAD_DIM];
    let mut k = gpu.zeros(shape.clone(), DType::Bf16).map_err(err)?;
    let mut v = gpu.zeros(shape, DType::Bf16).map_err(err)?;
    let chunk = 65_536usize;
    let rows = vec![chunk, KV_HEADS, HEAD_DIM];
    let n = chunk * KV_HEADS * HEAD_DIM;
    let src_k = gpu
        .upload(&Tensor::from_f32_as(rows.clone(), &values(n, 11), DType::Bf16).map_err(err)?)
        .map_err(err)?;
    let src_v = gpu
        .upload(&Tensor::from_f32_as(rows, &values(n, 12), DType::Bf16).map_err(err)?)
        .map_err(err)?;
    let slots_total = blocks * BLOCK;
    let order = shuffled(slots_total.div_ceil(chunk), 13);
    for c in order {
        let start = c * chunk;
        let slots: Vec<i64> = (0..chunk)
            .map(|i| {
                let s = start + i;
                if s < slots_total { s as i64 } else { -1 }
            })
            .collect();
        gpu.write_kv(&mut k, &mut v, &slots, &src_k, &src_v)
            .map_err(err)?;
    }
    gpu.synchronize().map_err(err)?;
    Ok((k, v))
}

/// Input sets so that a case's data is at least four times the L2 (at most 64 sets).
fn rotation(l2: u64, bytes_per_set: usize) -> usize {
    ((4 * l2 as usize).div_ceil(bytes_per_set.max(1))).clamp(1, 64)
}

fn run(mut gpu: CudaBackend, args: &Args) -> Result<(), String> {
    let device = gpu.device().clone();
    println!(
        "device: {} (compute capability {}.{}, {} SMs, {} MiB L2, {} GiB)",
        device.name,
        device.compute_capability.0,
        device.compute_capability.1,
        device.multiprocessors,
        device.l2_cache_bytes >> 20,
        device.memory_bytes >> 30
    );
    let reps = args.reps;

    // Copy bandwidth: 2 GiB, read + written.
    let copy_bytes = 1usize << 31;
    let pattern = values(1 << 20, 7);
    let src_host: Vec<f32> = pattern
        .iter()
        .cycle()
        .take(copy_bytes / 4)
        .copied()
        .collect();
    let src = gpu
        .upload(&Tensor::from_f32(vec![copy_bytes / 4], src_host).map_err(err)?)
        .map_err(err)?;
    let mut dst = gpu.zeros(vec![copy_bytes / 4], DType::F32).map_err(err)?;
    let copy = time_launches(&gpu, reps, 3, 1, |g, _| g.copy(&src, &mut dst))?;
    drop((src, dst));
    let copy_gbps = 2.0 * copy_bytes as f64 / (copy.median * 1e-3) / 1e9;
    println!(
        "copy: {:.1} GB/s (2 GiB device-to-device, read + write, median {:.3} ms)",
        copy_gbps, copy.median
    );

    let (matmul_tflops, matmul_source) = match matmul_tflops(reps) {
        Ok(t) => (
            Some(t),
            "measured: cuBLAS bf16 GEMM 8192^3, f32 accumulation".to_owned(),
        ),
        Err(reason) => (
            None,
            format!("not measured ({reason}); datasheet 989 TFLOP/s used"),
        ),
    };
    match matmul_tflops {
        Some(t) => println!("matmul: {t:.1} TFLOP/s ({matmul_source})"),
        None => println!("matmul: {matmul_source}"),
    }
    let matmul_ref = matmul_tflops.unwrap_or(DATASHEET_BF16_TFLOPS);

    let decode_cases: Vec<(usize, usize)> = if args.quick {
        vec![(1, 1024), (64, 4096)]
    } else {
        [1, 8, 64, 256]
            .iter()
            .flat_map(|&b| [1024, 4096, 16384, 32768].map(move |c| (b, c)))
            .collect()
    };
    let prefill_lens: Vec<usize> = if args.quick {
        vec![4096]
    } else {
        vec![4096, 8192, 16384]
    };
    // One pair of caches serves every case: the largest batch x context, or the rotation sets
    // of a smaller case, whichever needs more blocks.
    let l2 = device.l2_cache_bytes;
    let decode_sets = |b: usize, c: usize| rotation(l2, b * c * TOKEN_BYTES * 2);
    let prefill_sets = |l: usize| rotation(l2, l * (TOKEN_BYTES * 2 + 4 * HEADS * HEAD_DIM)).min(4);
    let mut blocks_needed = 0;
    for &(b, c) in &decode_cases {
        blocks_needed = blocks_needed.max(decode_sets(b, c) * b * c.div_ceil(BLOCK));
    }
    for &l in &prefill_lens {
        blocks_needed = blocks_needed.max(prefill_sets(l) * l.div_ceil(BLOCK));
    }
    println!(
        "filling K and V caches of {blocks_needed} blocks ({:.1} GB) with random bf16 ...",
        2.0 * (blocks_needed * BLOCK * TOKEN_BYTES) as f64 / 1e9
    );
    let (k_cache, v_cache) = random_caches(&gpu, blocks_needed)?;
    let params = AttentionParams::for_head_dim(HEAD_DIM);

    println!(
        "\ndecode: {HEADS} heads over {KV_HEADS} KV heads, head dim {HEAD_DIM}, bf16, blocks of {BLOCK}; \
         bytes = K + V + q + output"
    );
    println!(
        "{:>5} {:>7} {:>11} {:>5} {:>6} {:>10} {:>9} {:>8} {:>9} {:>4}",
        "batch",
        "context",
        "kernel",
        "parts",
        "blocks",
        "median ms",
        "MB",
        "GB/s",
        "% of copy",
        "sets"
    );
    let mut decode_rows = Vec::new();
    for &(batch, context) in &decode_cases {
        let blocks_per_seq = context.div_ceil(BLOCK);
        let bytes = batch * context * TOKEN_BYTES * 2 + 2 * batch * HEADS * HEAD_DIM * 2;
        let sets = decode_sets(batch, context);
        let order = shuffled(sets * batch * blocks_per_seq, (batch * context) as u64);
        let contexts = vec![context as i32; batch];
        let mut inputs = Vec::with_capacity(sets);
        let mut q_host = values(batch * HEADS * HEAD_DIM, 5);
        for set in 0..sets {
            let tables: Vec<i32> = order[set * batch * blocks_per_seq..][..batch * blocks_per_seq]
                .iter()
                .map(|&b| b as i32)
                .collect();
            q_host.rotate_left(1);
            let q = Tensor::from_f32_as(vec![batch, HEADS, HEAD_DIM], &q_host, DType::Bf16)
                .map_err(err)?;
            inputs.push((tables, gpu.upload(&q).map_err(err)?));
        }
        for choice in [KernelChoice::Auto, KernelChoice::Simt] {
            gpu.set_options(CudaOptions::default().kernel(choice));
            let plans = inputs
                .iter()
                .map(|(tables, q)| {
                    gpu.plan_decode(
                        q,
                        &k_cache,
                        &v_cache,
                        tables,
                        blocks_per_seq,
                        &contexts,
                        &params,
                    )
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(err)?;
            let mut out = gpu
                .zeros(plans[0].output_shape().to_vec(), DType::Bf16)
                .map_err(err)?;
            let stats = time_launches(&gpu, reps, sets.max(2), sets, |g, i| {
                g.run(
                    &plans[i % sets],
                    &inputs[i % sets].1,
                    &k_cache,
                    &v_cache,
                    &mut out,
                )
            })?;
            check_finite(&gpu, &out)?;
            let gbps = bytes as f64 / (stats.median * 1e-3) / 1e9;
            let plan = &plans[0];
            println!(
                "{batch:>5} {context:>7} {:>11} {:>5} {:>6} {:>10.4} {:>9.1} {:>8.1} {:>8.1}% {sets:>4}",
                plan.kernel().to_string(),
                plan.partitions(),
                plan.blocks(),
                stats.median,
                bytes as f64 / 1e6,
                gbps,
                100.0 * gbps / copy_gbps,
            );
            decode_rows.push(json!({
                "batch": batch,
                "context": context,
                "heads": HEADS,
                "kv_heads": KV_HEADS,
                "head_dim": HEAD_DIM,
                "dtype": "bf16",
                "kernel": plan.kernel().to_string(),
                "partitions": plan.partitions(),
                "partition_tokens": plan.partition_tokens(),
                "blocks": plan.blocks(),
                "median_ms": stats.median,
                "min_ms": stats.min,
                "max_ms": stats.max,
                "bytes": bytes,
                "gbps": gbps,
                "fraction_of_copy": gbps / copy_gbps,
                "rotation_sets": sets,
            }));
        }
    }
    gpu.set_options(CudaOptions::default());

    println!(
        "\nprefill: one causal prompt, {HEADS} heads over {KV_HEADS} KV heads, head dim {HEAD_DIM}, \
         bf16; FLOP = 2 * heads * head_dim * L * (L + 1); against {matmul_ref:.0} TFLOP/s ({})",
        if matmul_tflops.is_some() {
            "cuBLAS, this run"
        } else {
            "datasheet"
        }
    );
    println!(
        "{:>6} {:>11} {:>5} {:>6} {:>10} {:>8} {:>11} {:>4}",
        "tokens", "kernel", "parts", "blocks", "median ms", "TFLOP/s", "% of matmul", "sets"
    );
    let mut prefill_rows = Vec::new();
    for &len in &prefill_lens {
        let blocks = len.div_ceil(BLOCK);
        let sets = prefill_sets(len);
        let order = shuffled(sets * blocks, len as u64);
        let mut inputs = Vec::with_capacity(sets);
        for set in 0..sets {
            let tables: Vec<i32> = order[set * blocks..][..blocks]
                .iter()
                .map(|&b| b as i32)
                .collect();
            let q = Tensor::from_f32_as(
                vec![len, HEADS, HEAD_DIM],
                &values(len * HEADS * HEAD_DIM, 100 + set as u64),
                DType::Bf16,
            )
            .map_err(err)?;
            inputs.push((tables, gpu.upload(&q).map_err(err)?));
        }
        let cu = [0, len as i32];
        let contexts = [len as i32];
        let plans = inputs
            .iter()
            .map(|(tables, q)| {
                gpu.plan_prefill(
                    q, &k_cache, &v_cache, tables, blocks, &cu, &contexts, &params,
                )
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(err)?;
        let mut out = gpu
            .zeros(plans[0].output_shape().to_vec(), DType::Bf16)
            .map_err(err)?;
        let stats = time_launches(&gpu, reps, sets.max(2), sets, |g, i| {
            g.run(
                &plans[i % sets],
                &inputs[i % sets].1,
                &k_cache,
                &v_cache,
                &mut out,
            )
        })?;
        check_finite(&gpu, &out)?;
        let flops = 2.0 * (HEADS * HEAD_DIM) as f64 * len as f64 * (len + 1) as f64;
        let tflops = flops / (stats.median * 1e-3) / 1e12;
        let plan = &plans[0];
        println!(
            "{len:>6} {:>11} {:>5} {:>6} {:>10.3} {:>8.1} {:>10.1}% {sets:>4}",
            plan.kernel().to_string(),
            plan.partitions(),
            plan.blocks(),
            stats.median,
            tflops,
            100.0 * tflops / matmul_ref,
        );
        prefill_rows.push(json!({
            "tokens": len,
            "heads": HEADS,
            "kv_heads": KV_HEADS,
            "head_dim": HEAD_DIM,
            "dtype": "bf16",
            "kernel": plan.kernel().to_string(),
            "partitions": plan.partitions(),
            "blocks": plan.blocks(),
            "median_ms": stats.median,
            "min_ms": stats.min,
            "max_ms": stats.max,
            "flop": flops,
            "tflops": tflops,
            "fraction_of_matmul": tflops / matmul_ref,
            "rotation_sets": sets,
        }));
    }

    let report = json!({
        "device": {
            "name": device.name,
            "compute_capability": format!("{}.{}", device.compute_capability.0, device.compute_capability.1),
            "multiprocessors": device.multiprocessors,
            "l2_bytes": device.l2_cache_bytes,
            "memory_bytes": device.memory_bytes,
        },
        "reps": reps,
        "copy": {"bytes": copy_bytes, "median_ms": copy.median, "gbps": copy_gbps},
        "matmul_tflops": matmul_tflops,
        "matmul_source": matmul_source,
        "decode": decode_rows,
        "prefill": prefill_rows,
    });
    write_json(args, &report)
}

/// Fails when a timed output holds NaN or infinity (a kernel read outside its data).
fn check_finite(gpu: &CudaBackend, out: &DeviceTensor) -> Result<(), String> {
    let values = gpu.download(out).map_err(err)?.to_f32_vec();
    match values.iter().position(|x| !x.is_finite()) {
        None => Ok(()),
        Some(i) => Err(format!("output element {i} is {}", values[i])),
    }
}

fn write_json(args: &Args, report: &Value) -> Result<(), String> {
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(report).map_err(|e| e.to_string())?;
        std::fs::write(path, text).map_err(|e| format!("{path}: {e}"))?;
        println!("\nwrote {path}");
    }
    Ok(())
}

#[cfg(not(feature = "cuda"))]
fn matmul_tflops(_reps: usize) -> Result<f64, String> {
    Err("built without the `cuda` feature".to_owned())
}

#[cfg(feature = "cuda")]
fn matmul_tflops(reps: usize) -> Result<f64, String> {
    cublas::tflops(reps)
}

/// cuBLAS through cudarc, on its own handle and stream of the same device (the primary
/// context nim-engine's backend uses too).
#[cfg(feature = "cuda")]
#[allow(unsafe_code)]
mod cublas {
    use cudarc::cublas::sys::cublasOperation_t;
    use cudarc::cublas::{CudaBlas, Gemm, GemmConfig};
    use cudarc::driver::{CudaContext, sys};
    use half::bf16;

    fn e(what: &'static str) -> impl Fn(cudarc::driver::DriverError) -> String {
        move |err| format!("{what}: {err}")
    }

    /// The median rate of an n x n x n bf16 GEMM (n = 8192), in TFLOP/s.
    pub fn tflops(reps: usize) -> Result<f64, String> {
        // SAFETY: only tries to dlopen libcublas; calls nothing in it (cudarc panics on the first
        // call into a library it cannot load).
        if !unsafe { cudarc::cublas::sys::is_culib_present() } {
            return Err("libcublas.so.13 not found".to_owned());
        }
        let n = 8192usize;
        let ctx = CudaContext::new(0).map_err(e("context"))?;
        let stream = ctx.new_stream().map_err(e("stream"))?;
        let blas = CudaBlas::new(stream.clone()).map_err(|err| format!("cuBLAS: {err:?}"))?;
        let host: Vec<bf16> = super::values(n * n, 21)
            .into_iter()
            .map(bf16::from_f32)
            .collect();
        let a = stream.clone_htod(&host).map_err(e("upload"))?;
        let b = stream.clone_htod(&host).map_err(e("upload"))?;
        let mut c = stream.alloc_zeros::<bf16>(n * n).map_err(e("alloc"))?;
        let cfg = GemmConfig {
            transa: cublasOperation_t::CUBLAS_OP_N,
            transb: cublasOperation_t::CUBLAS_OP_T,
            m: n as i32,
            n: n as i32,
            k: n as i32,
            alpha: bf16::ONE,
            lda: n as i32,
            ldb: n as i32,
            beta: bf16::ZERO,
            ldc: n as i32,
        };
        let flags = Some(sys::CUevent_flags::CU_EVENT_DEFAULT);
        let mut samples = Vec::with_capacity(reps);
        for i in 0..reps + 3 {
            let start = ctx.new_event(flags).map_err(e("event"))?;
            let end = ctx.new_event(flags).map_err(e("event"))?;
            start.record(&stream).map_err(e("event"))?;
            // SAFETY: a, b and c hold n * n elements each, as the configuration says (m = n = k
            // = n, leading dimensions n); all three live until the stream is synchronized by
            // `elapsed_ms` below.
            unsafe { blas.gemm(cfg, &a, &b, &mut c) }.map_err(|err| format!("GEMM: {err:?}"))?;
            end.record(&stream).map_err(e("event"))?;
            let ms = start.elapsed_ms(&end).map_err(e("event"))?;
            if i >= 3 {
                samples.push(f64::from(ms));
            }
        }
        samples.sort_by(f64::total_cmp);
        let median = samples[samples.len() / 2];
        Ok(2.0 * (n as f64).powi(3) / (median * 1e-3) / 1e12)
    }
}
