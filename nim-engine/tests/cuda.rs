//! The CUDA backend against the f64 reference and the CPU backend, case by case.
//!
//! This test has its own `main` (`harness = false` in Cargo.toml) so that a machine without a
//! GPU reports every case as **skipped, with the reason**, instead of counting it as passed:
//!
//! ```text
//! test decode_matrix_small_contexts ... skipped (CUDA backend unavailable: no CUDA driver: libcuda.so not found)
//! test result: ok. 0 passed; 0 failed; 14 skipped
//! ```
//!
//! Set `NIM_REQUIRE_GPU=1` (the GPU machine's command does) to turn every skip into a failure.
//! A name argument runs the cases whose names contain it; other `--flags` are ignored.
//!
//! What runs where:
//!
//! * `kernels_compile_with_nvrtc` needs only NVRTC (`libnvrtc.so.13`), no driver or GPU: it
//!   compiles every kernel specialization for compute capability 9.0 and 8.0.
//! * Every other case needs a CUDA device. Inputs are `randn` from a fixed-seed SplitMix64 (as
//!   `tests/attention.rs`), caches are written through the GPU's `write_kv` and checked bit for
//!   bit against the CPU's, unused slots hold NaN (FP8 `0x7f`) and unused block-table entries
//!   garbage, so reading padding shows. Each attention case runs three ways: the automatic
//!   kernel (tensor cores for f16/bf16) in one pass, the same split into partitions of 16 keys
//!   (the reduce kernel), and the SIMT kernel with partitions of 37 keys; each result must meet
//!   [`Tolerance::for_output`] against [`nim_engine::reference`] (the CPU backend's own bar) and
//!   the printed line gives its largest difference from the CPU backend's output.
//!
//! On the GPU machine (see `nim-engine/KERNELS.md` for building here and carrying the binary):
//! `NIM_REQUIRE_GPU=1 cargo test --release -p nim-engine --features cuda --test cuda`.

mod common;
use common::{Rng, poisoned};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::process::ExitCode;

use nim_engine::cuda::{CudaBackend, CudaOptions, KernelChoice, KernelKind, check_kernels};
use nim_engine::reference::{Tolerance, compare, decode_reference, prefill_reference};
use nim_engine::{AttentionParams, DType, Error, KvLayout, Storage, Tensor, cpu};

type CaseResult = Result<String, String>;

/// A case that needs a device, or one that needs only NVRTC.
enum Body {
    Gpu(fn(&mut CudaBackend) -> CaseResult),
    Nvrtc(fn() -> CaseResult),
}

fn cases() -> Vec<(&'static str, Body)> {
    vec![
        ("kernels_compile_with_nvrtc", Body::Nvrtc(kernels_compile)),
        ("device_info", Body::Gpu(device_info)),
        (
            "write_kv_matches_cpu_bitwise",
            Body::Gpu(write_kv_matches_cpu),
        ),
        (
            "copy_blocks_matches_cpu_bitwise",
            Body::Gpu(copy_blocks_matches_cpu),
        ),
        (
            "decode_matrix_small_contexts",
            Body::Gpu(decode_matrix_small_contexts),
        ),
        ("decode_long_contexts", Body::Gpu(decode_long_contexts)),
        (
            "decode_window_alibi_soft_cap",
            Body::Gpu(decode_window_alibi_soft_cap),
        ),
        (
            "decode_zero_context_gives_zeros",
            Body::Gpu(decode_zero_context),
        ),
        ("prefill_matrix", Body::Gpu(prefill_matrix)),
        (
            "prefill_long_and_options",
            Body::Gpu(prefill_long_and_options),
        ),
        (
            "plan_run_writes_every_output_and_is_deterministic",
            Body::Gpu(plan_run_writes_all),
        ),
        ("errors_match_cpu", Body::Gpu(errors_match_cpu)),
        (
            "tensors_stay_with_their_backend",
            Body::Gpu(tensors_stay_with_their_backend),
        ),
    ]
}

fn main() -> ExitCode {
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let list = std::env::args().any(|a| a == "--list");
    let require_gpu = std::env::var("NIM_REQUIRE_GPU").is_ok_and(|v| v == "1");
    let selected: Vec<_> = cases()
        .into_iter()
        .filter(|(name, _)| filters.is_empty() || filters.iter().any(|f| name.contains(f.as_str())))
        .collect();
    if list {
        for (name, _) in &selected {
            println!("{name}: test");
        }
        return ExitCode::SUCCESS;
    }
    println!("\nrunning {} tests", selected.len());
    let mut gpu: Result<CudaBackend, String> = CudaBackend::new(0).map_err(|e| e.to_string());
    let (mut passed, mut failed, mut skipped) = (0, 0, 0);
    for (name, body) in selected {
        let outcome = match body {
            Body::Nvrtc(f) => match run(f) {
                // No NVRTC here (or no `cuda` feature): nothing to compile with.
                Outcome::Failed(reason)
                    if reason.contains("no NVRTC") || reason.contains("built without") =>
                {
                    Outcome::Skipped(reason)
                }
                other => other,
            },
            Body::Gpu(f) => match &mut gpu {
                Ok(backend) => {
                    backend.set_options(CudaOptions::default());
                    run(|| f(backend))
                }
                Err(reason) => Outcome::Skipped(reason.clone()),
            },
        };
        match outcome {
            Outcome::Passed(note) => {
                passed += 1;
                println!(
                    "test {name} ... ok{}",
                    if note.is_empty() {
                        String::new()
                    } else {
                        format!(" ({note})")
                    }
                );
            }
            Outcome::Skipped(reason) => {
                skipped += 1;
                println!("test {name} ... skipped ({reason})");
                eprintln!("warning: {name} did not run: {reason}");
            }
            Outcome::Failed(message) => {
                failed += 1;
                println!("test {name} ... FAILED\n    {message}");
            }
        }
    }
    let ok = failed == 0 && !(require_gpu && skipped > 0);
    println!(
        "\ntest result: {}. {passed} passed; {failed} failed; {skipped} skipped{}\n",
        if ok { "ok" } else { "FAILED" },
        if require_gpu && skipped > 0 {
            " (NIM_REQUIRE_GPU=1: a skip is a failure)"
        } else {
            ""
        }
    );
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

enum Outcome {
    Passed(String),
    Skipped(String),
    Failed(String),
}

fn run(f: impl FnOnce() -> CaseResult) -> Outcome {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(note)) => Outcome::Passed(note),
        Ok(Err(message)) => Outcome::Failed(message),
        Err(panic) => Outcome::Failed(
            panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "panicked".to_owned()),
        ),
    }
}

/// `?` for our errors inside a case.
fn e(err: Error) -> String {
    err.to_string()
}

// ---------------------------------------------------------------------------------------------
// Test data (as tests/attention.rs).

struct Batch {
    k_cache: Tensor,
    v_cache: Tensor,
    block_tables: Vec<i32>,
    max_blocks: usize,
    contexts: Vec<i32>,
}

/// Sequences of `contexts` tokens in randomly placed blocks, written in random order with
/// padding tokens mixed in, by the GPU's `write_kv` (checked bit for bit against the CPU's).
fn batch(
    gpu: &CudaBackend,
    rng: &mut Rng,
    shape: (usize, usize, usize),
    contexts: &[usize],
    cache_dtype: DType,
    spare: usize,
) -> Result<Batch, String> {
    let (block_size, num_kv_heads, head_dim) = shape;
    let blocks_per_seq: Vec<usize> = contexts.iter().map(|c| c.div_ceil(block_size)).collect();
    let max_blocks = blocks_per_seq.iter().copied().max().unwrap_or(0) + 1;
    let num_blocks = blocks_per_seq.iter().sum::<usize>() + spare;
    let layout = KvLayout {
        num_blocks,
        block_size,
        num_kv_heads,
        head_dim,
    };
    let mut physical: Vec<usize> = (0..num_blocks).collect();
    rng.shuffle(&mut physical);
    let mut block_tables = vec![i32::MAX; contexts.len() * max_blocks];
    let mut next = physical.into_iter();
    let mut slots = Vec::new();
    for (s, (&context, &blocks)) in contexts.iter().zip(&blocks_per_seq).enumerate() {
        for i in 0..blocks {
            block_tables[s * max_blocks + i] = next.next().expect("enough blocks") as i32;
        }
        for pos in 0..context {
            let block = block_tables[s * max_blocks + pos / block_size] as usize;
            slots.push(layout.slot(block, pos % block_size) as i64);
        }
        if blocks + 1 < max_blocks {
            block_tables[s * max_blocks + blocks + 1] = -7;
        }
    }
    let padding = 1 + slots.len() / 10;
    slots.extend(std::iter::repeat_n(-1, padding));
    rng.shuffle(&mut slots);
    let (mut k_cache, mut v_cache) = (
        poisoned(&layout, cache_dtype, 0.5),
        poisoned(&layout, cache_dtype, 0.25),
    );
    let rows = [slots.len(), num_kv_heads, head_dim];
    let n = rows.iter().product();
    let k = Tensor::from_f32(rows.to_vec(), rng.normals(n)).map_err(e)?;
    let v = Tensor::from_f32(rows.to_vec(), rng.normals(n)).map_err(e)?;
    let (mut k_gpu, mut v_gpu) = (k_cache.clone(), v_cache.clone());
    cpu::write_kv(&mut k_cache, &mut v_cache, &slots, &k, &v).map_err(e)?;
    gpu.write_kv_host(&mut k_gpu, &mut v_gpu, &slots, &k, &v)
        .map_err(e)?;
    same_bits("k_cache after write_kv", &k_gpu, &k_cache)?;
    same_bits("v_cache after write_kv", &v_gpu, &v_cache)?;
    Ok(Batch {
        k_cache,
        v_cache,
        block_tables,
        max_blocks,
        contexts: contexts.iter().map(|&c| c as i32).collect(),
    })
}

/// Bitwise equality (NaN included).
fn same_bits(what: &str, got: &Tensor, want: &Tensor) -> Result<(), String> {
    let equal = got.shape() == want.shape()
        && match (got.storage(), want.storage()) {
            (Storage::F32(a), Storage::F32(b)) => {
                a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
            }
            (Storage::F16(a), Storage::F16(b)) => {
                a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
            }
            (Storage::Bf16(a), Storage::Bf16(b)) => {
                a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
            }
            (
                Storage::Fp8E4m3 {
                    bytes: a,
                    scale: sa,
                },
                Storage::Fp8E4m3 {
                    bytes: b,
                    scale: sb,
                },
            ) => a == b && sa.to_bits() == sb.to_bits(),
            _ => false,
        };
    if equal {
        Ok(())
    } else {
        let (g, w) = (got.to_f32_vec(), want.to_f32_vec());
        let i = g
            .iter()
            .zip(&w)
            .position(|(x, y)| x.to_bits() != y.to_bits())
            .unwrap_or(0);
        Err(format!(
            "{what}: differs from the CPU backend at element {i}: {:?} vs {:?} ({} vs {})",
            g.get(i),
            w.get(i),
            got.dtype(),
            want.dtype()
        ))
    }
}

fn queries(rng: &mut Rng, tokens: usize, heads: usize, head_dim: usize, dtype: DType) -> Tensor {
    let data = rng.normals(tokens * heads * head_dim);
    Tensor::from_f32_as(vec![tokens, heads, head_dim], &data, dtype).expect("q")
}

fn q_dtype_for(cache: DType) -> DType {
    match cache {
        DType::Fp8E4m3 => DType::Bf16,
        other => other,
    }
}

const CACHE_DTYPES: [DType; 4] = [DType::F32, DType::F16, DType::Bf16, DType::Fp8E4m3];

/// The three ways each attention case runs.
fn variants() -> [(&'static str, CudaOptions); 3] {
    [
        ("auto", CudaOptions::default()),
        (
            "auto, partitions of 16",
            CudaOptions::default().partition_tokens(16),
        ),
        (
            "simt, partitions of 37",
            CudaOptions::default()
                .kernel(KernelChoice::Simt)
                .partition_tokens(37),
        ),
    ]
}

/// The worst difference from the CPU backend seen by a case, for its report line.
#[derive(Default)]
struct Worst {
    vs_cpu: f64,
    tensor_core: bool,
}

impl Worst {
    fn note(&self) -> String {
        format!(
            "max |gpu - cpu| {:.2e}{}",
            self.vs_cpu,
            if self.tensor_core {
                ", tensor cores used"
            } else {
                ""
            }
        )
    }
}

/// Runs `call` under every variant and checks each result against `want` (f64) and `cpu`.
fn check_variants(
    gpu: &mut CudaBackend,
    what: &str,
    want: &[f64],
    cpu_out: &Tensor,
    worst: &mut Worst,
    call: impl Fn(&CudaBackend) -> Result<Tensor, Error>,
) -> Result<(), String> {
    let tolerance = Tolerance::for_output(cpu_out.dtype());
    for (name, options) in variants() {
        gpu.set_options(options);
        let got = call(gpu).map_err(|err| format!("{what} [{name}]: {err}"))?;
        if got.shape() != cpu_out.shape() || got.dtype() != cpu_out.dtype() {
            return Err(format!(
                "{what} [{name}]: {:?} {} instead of {:?} {}",
                got.shape(),
                got.dtype(),
                cpu_out.shape(),
                cpu_out.dtype()
            ));
        }
        let values = got.to_f32_vec();
        tolerance
            .check(&values, want)
            .map_err(|m| format!("{what} [{name}]: {m}"))?;
        let cpu_f64: Vec<f64> = cpu_out.to_f32_vec().into_iter().map(f64::from).collect();
        worst.vs_cpu = worst.vs_cpu.max(compare(&values, &cpu_f64).max_abs_err);
    }
    gpu.set_options(CudaOptions::default());
    Ok(())
}

struct DecodeCase {
    seed: u64,
    group: usize,
    num_kv_heads: usize,
    head_dim: usize,
    block_size: usize,
    contexts: Vec<usize>,
    cache: DType,
    q: DType,
}

fn run_decode(
    gpu: &mut CudaBackend,
    case: &DecodeCase,
    params: impl Fn(usize) -> AttentionParams,
    worst: &mut Worst,
) -> Result<(), String> {
    let mut rng = Rng(case.seed);
    let b = batch(
        gpu,
        &mut rng,
        (case.block_size, case.num_kv_heads, case.head_dim),
        &case.contexts,
        case.cache,
        2,
    )?;
    let heads = case.group * case.num_kv_heads;
    let q = queries(&mut rng, case.contexts.len(), heads, case.head_dim, case.q);
    let params = params(heads);
    let (kc, vc, tables, mb, ctx) = (
        &b.k_cache,
        &b.v_cache,
        &b.block_tables[..],
        b.max_blocks,
        &b.contexts[..],
    );
    let want = decode_reference(&q, kc, vc, tables, mb, ctx, &params).map_err(e)?;
    let cpu_out = cpu::paged_decode(&q, kc, vc, tables, mb, ctx, &params).map_err(e)?;
    let what = format!(
        "decode seed {} group {} kv_heads {} head_dim {} block {} contexts {:?} cache {} q {} {params:?}",
        case.seed,
        case.group,
        case.num_kv_heads,
        case.head_dim,
        case.block_size,
        case.contexts,
        case.cache,
        case.q
    );
    let dq = gpu.upload(&q).map_err(e)?;
    let (dk, dv) = (gpu.upload(kc).map_err(e)?, gpu.upload(vc).map_err(e)?);
    let plan = gpu
        .plan_decode(&dq, &dk, &dv, tables, mb, ctx, &params)
        .map_err(e)?;
    worst.tensor_core |= plan.kernel() == KernelKind::TensorCore;
    check_variants(gpu, &what, &want, &cpu_out, worst, |g| {
        let out = g.paged_decode(&dq, &dk, &dv, tables, mb, ctx, &params)?;
        g.download(&out)
    })
}

fn small_contexts(rng: &mut Rng, block_size: usize) -> Vec<usize> {
    vec![
        1,
        block_size - 1,
        block_size,
        block_size + 1,
        rng.range(2, 4 * block_size),
    ]
}

// ---------------------------------------------------------------------------------------------
// Cases.

fn kernels_compile() -> CaseResult {
    let hopper = check_kernels((9, 0)).map_err(e)?;
    let ampere = check_kernels((8, 0)).map_err(e)?;
    Ok(format!(
        "{hopper} specializations for compute_90, {ampere} for compute_80"
    ))
}

fn device_info(gpu: &mut CudaBackend) -> CaseResult {
    let d = gpu.device();
    Ok(format!(
        "{}: compute capability {}.{}, {} multiprocessors, {} MiB L2, {} GiB",
        d.name,
        d.compute_capability.0,
        d.compute_capability.1,
        d.multiprocessors,
        d.l2_cache_bytes >> 20,
        d.memory_bytes >> 30
    ))
}

/// Every input dtype into every cache dtype, FP8 with equal and different scales, padding and
/// a slot named twice (the later token wins).
fn write_kv_matches_cpu(gpu: &mut CudaBackend) -> CaseResult {
    let mut rng = Rng(1500);
    let layout = KvLayout {
        num_blocks: 3,
        block_size: 4,
        num_kv_heads: 2,
        head_dim: 8,
    };
    let slots = [5i64, -1, 11, 0, -3, 5];
    let data: Vec<f32> = rng.normals(6 * 16).iter().map(|x| x * 40.0).collect();
    let mut count = 0;
    for cache_dtype in CACHE_DTYPES {
        let inputs = [
            Tensor::from_f32(vec![6, 2, 8], data.clone()).map_err(e)?,
            Tensor::from_f32_as(vec![6, 2, 8], &data, DType::F16).map_err(e)?,
            Tensor::from_f32_as(vec![6, 2, 8], &data, DType::Bf16).map_err(e)?,
            Tensor::fp8_from_f32(vec![6, 2, 8], &data, 0.5).map_err(e)?,
            Tensor::fp8_from_f32(vec![6, 2, 8], &data, 0.125).map_err(e)?,
        ];
        for input in &inputs {
            let (mut k_cpu, mut v_cpu) = (
                poisoned(&layout, cache_dtype, 0.5),
                poisoned(&layout, cache_dtype, 0.25),
            );
            let (mut k_gpu, mut v_gpu) = (k_cpu.clone(), v_cpu.clone());
            cpu::write_kv(&mut k_cpu, &mut v_cpu, &slots, input, input).map_err(e)?;
            gpu.write_kv_host(&mut k_gpu, &mut v_gpu, &slots, input, input)
                .map_err(e)?;
            let what = format!("{} into {cache_dtype}", input.dtype());
            same_bits(&format!("k_cache, {what}"), &k_gpu, &k_cpu)?;
            same_bits(&format!("v_cache, {what}"), &v_gpu, &v_cpu)?;
            count += 1;
        }
    }
    Ok(format!("{count} dtype pairs"))
}

fn copy_blocks_matches_cpu(gpu: &mut CudaBackend) -> CaseResult {
    let mut rng = Rng(1600);
    for (block_size, head_dim) in [(4, 8), (3, 5)] {
        let layout = KvLayout {
            num_blocks: 6,
            block_size,
            num_kv_heads: 2,
            head_dim,
        };
        let n = layout.shape().iter().product();
        for dtype in CACHE_DTYPES {
            let data = rng.normals(n);
            let k = Tensor::from_f32_as(layout.shape().to_vec(), &data, dtype).map_err(e)?;
            let doubled: Vec<f32> = data.iter().map(|x| x * 2.0).collect();
            let v = Tensor::from_f32_as(layout.shape().to_vec(), &doubled, dtype).map_err(e)?;
            let pairs = [(0, 3), (3, 1), (2, 2), (4, 5), (5, 0)];
            let (mut k_cpu, mut v_cpu) = (k.clone(), v.clone());
            let (mut k_gpu, mut v_gpu) = (k.clone(), v.clone());
            cpu::copy_blocks(&mut k_cpu, &mut v_cpu, &pairs).map_err(e)?;
            gpu.copy_blocks_host(&mut k_gpu, &mut v_gpu, &pairs)
                .map_err(e)?;
            same_bits(
                &format!("k_cache {dtype} block {block_size}"),
                &k_gpu,
                &k_cpu,
            )?;
            same_bits(
                &format!("v_cache {dtype} block {block_size}"),
                &v_gpu,
                &v_cpu,
            )?;
        }
    }
    Ok(String::new())
}

/// Every GQA ratio x head size x block size x cache dtype at small contexts.
fn decode_matrix_small_contexts(gpu: &mut CudaBackend) -> CaseResult {
    let mut worst = Worst::default();
    let mut seed = 1;
    for group in [1, 4, 8] {
        for head_dim in [64, 80, 128, 256] {
            for block_size in [8, 16, 32] {
                for cache in CACHE_DTYPES {
                    seed += 1;
                    let contexts = small_contexts(&mut Rng(seed), block_size);
                    let case = DecodeCase {
                        seed,
                        group,
                        num_kv_heads: 2,
                        head_dim,
                        block_size,
                        contexts,
                        cache,
                        q: q_dtype_for(cache),
                    };
                    run_decode(
                        gpu,
                        &case,
                        |_| AttentionParams::for_head_dim(head_dim),
                        &mut worst,
                    )?;
                }
            }
        }
    }
    Ok(worst.note())
}

fn decode_long_contexts(gpu: &mut CudaBackend) -> CaseResult {
    let mut worst = Worst::default();
    for (seed, cache, q, contexts) in [
        (100, DType::F32, DType::F32, vec![4096, 4095, 1000, 2049]),
        (101, DType::F16, DType::F16, vec![3001, 17]),
        (102, DType::Bf16, DType::Bf16, vec![2500, 4096]),
        (103, DType::Fp8E4m3, DType::F32, vec![4096]),
        (104, DType::Fp8E4m3, DType::Bf16, vec![4096, 1]),
    ] {
        let case = DecodeCase {
            seed,
            group: 8,
            num_kv_heads: 2,
            head_dim: 128,
            block_size: 16,
            contexts,
            cache,
            q,
        };
        run_decode(
            gpu,
            &case,
            |_| AttentionParams::for_head_dim(128),
            &mut worst,
        )?;
    }
    Ok(worst.note())
}

fn alibi_slopes(heads: usize) -> Vec<f32> {
    (0..heads)
        .map(|h| 2f32.powf(-8.0 * (h + 1) as f32 / heads as f32))
        .collect()
}

type Options = fn(AttentionParams, usize) -> AttentionParams;

fn decode_window_alibi_soft_cap(gpu: &mut CudaBackend) -> CaseResult {
    let mut worst = Worst::default();
    let options: [Options; 5] = [
        |p, _| p.with_sliding_window(37),
        |p, _| p.with_sliding_window(1),
        |p, h| p.with_alibi_slopes(alibi_slopes(h)),
        |p, _| p.with_soft_cap(2.5),
        |p, h| {
            p.with_sliding_window(20)
                .with_alibi_slopes(alibi_slopes(h))
                .with_soft_cap(5.0)
        },
    ];
    for (i, option) in options.iter().enumerate() {
        for (j, (cache, q)) in [
            (DType::F32, DType::F32),
            (DType::Bf16, DType::Bf16),
            (DType::F16, DType::F16),
            (DType::Fp8E4m3, DType::F16),
        ]
        .into_iter()
        .enumerate()
        {
            let case = DecodeCase {
                seed: 200 + (i * 4 + j) as u64,
                group: 4,
                num_kv_heads: 2,
                head_dim: 64,
                block_size: 16,
                contexts: vec![1, 15, 36, 37, 38, 150, 700],
                cache,
                q,
            };
            run_decode(
                gpu,
                &case,
                |h| option(AttentionParams::new(0.5), h),
                &mut worst,
            )?;
        }
    }
    Ok(worst.note())
}

fn decode_zero_context(gpu: &mut CudaBackend) -> CaseResult {
    for (cache, q) in [(DType::F32, DType::F32), (DType::Bf16, DType::Bf16)] {
        let mut rng = Rng(300);
        let b = batch(gpu, &mut rng, (16, 1, 64), &[20, 0, 5], cache, 0)?;
        let qt = queries(&mut rng, 3, 2, 64, q);
        let params = AttentionParams::for_head_dim(64);
        for (name, options) in variants() {
            gpu.set_options(options);
            let got = gpu
                .paged_decode_host(
                    &qt,
                    &b.k_cache,
                    &b.v_cache,
                    &b.block_tables,
                    b.max_blocks,
                    &b.contexts,
                    &params,
                )
                .map_err(e)?
                .to_f32_vec();
            if !got[128..256].iter().all(|&x| x == 0.0) {
                return Err(format!(
                    "[{name}] {cache}: the padding sequence's output is not zero"
                ));
            }
            let want = decode_reference(
                &qt,
                &b.k_cache,
                &b.v_cache,
                &b.block_tables,
                b.max_blocks,
                &b.contexts,
                &params,
            )
            .map_err(e)?;
            Tolerance::for_output(q)
                .check(&got, &want)
                .map_err(|m| format!("[{name}] {cache}: {m}"))?;
        }
    }
    Ok(String::new())
}

struct PrefillCase {
    seed: u64,
    group: usize,
    num_kv_heads: usize,
    head_dim: usize,
    block_size: usize,
    seqs: Vec<(usize, usize)>,
    cache: DType,
    q: DType,
}

fn run_prefill(
    gpu: &mut CudaBackend,
    case: &PrefillCase,
    params: impl Fn(usize) -> AttentionParams,
    worst: &mut Worst,
) -> Result<(), String> {
    let mut rng = Rng(case.seed);
    let contexts: Vec<usize> = case.seqs.iter().map(|&(p, n)| p + n).collect();
    let b = batch(
        gpu,
        &mut rng,
        (case.block_size, case.num_kv_heads, case.head_dim),
        &contexts,
        case.cache,
        1,
    )?;
    let heads = case.group * case.num_kv_heads;
    let mut cu = vec![0i32];
    for &(_, n) in &case.seqs {
        cu.push(cu[cu.len() - 1] + n as i32);
    }
    let total = cu[cu.len() - 1] as usize;
    let q = queries(&mut rng, total, heads, case.head_dim, case.q);
    let params = params(heads);
    let (kc, vc, tables, mb, ctx) = (
        &b.k_cache,
        &b.v_cache,
        &b.block_tables[..],
        b.max_blocks,
        &b.contexts[..],
    );
    let want = prefill_reference(&q, kc, vc, tables, mb, &cu, ctx, &params).map_err(e)?;
    let cpu_out = cpu::paged_prefill(&q, kc, vc, tables, mb, &cu, ctx, &params).map_err(e)?;
    let what = format!(
        "prefill seed {} group {} kv_heads {} head_dim {} block {} seqs {:?} cache {} q {} {params:?}",
        case.seed,
        case.group,
        case.num_kv_heads,
        case.head_dim,
        case.block_size,
        case.seqs,
        case.cache,
        case.q
    );
    let dq = gpu.upload(&q).map_err(e)?;
    let (dk, dv) = (gpu.upload(kc).map_err(e)?, gpu.upload(vc).map_err(e)?);
    let plan = gpu
        .plan_prefill(&dq, &dk, &dv, tables, mb, &cu, ctx, &params)
        .map_err(e)?;
    worst.tensor_core |= plan.kernel() == KernelKind::TensorCore;
    check_variants(gpu, &what, &want, &cpu_out, worst, |g| {
        let out = g.paged_prefill(&dq, &dk, &dv, tables, mb, &cu, ctx, &params)?;
        g.download(&out)
    })
}

fn prefill_matrix(gpu: &mut CudaBackend) -> CaseResult {
    let mut worst = Worst::default();
    let mut seed = 1000;
    let mut dtypes = CACHE_DTYPES.iter().copied().cycle();
    for group in [1, 4, 8] {
        for head_dim in [64, 80, 128, 256] {
            for block_size in [8, 16, 32] {
                seed += 1;
                let mut rng = Rng(seed);
                let cache = dtypes.next().unwrap_or(DType::F32);
                let case = PrefillCase {
                    seed,
                    group,
                    num_kv_heads: 2,
                    head_dim,
                    block_size,
                    seqs: vec![
                        (0, rng.range(1, 2 * block_size)),
                        (2 * block_size, rng.range(1, block_size + 3)),
                        (rng.range(1, 40), 1),
                        (block_size + 3, block_size - 1),
                    ],
                    cache,
                    q: q_dtype_for(cache),
                };
                run_prefill(
                    gpu,
                    &case,
                    |_| AttentionParams::for_head_dim(head_dim),
                    &mut worst,
                )?;
            }
        }
    }
    Ok(worst.note())
}

fn prefill_long_and_options(gpu: &mut CudaBackend) -> CaseResult {
    let mut worst = Worst::default();
    for (seed, cache) in [(1100, DType::F32), (1101, DType::Bf16), (1102, DType::F16)] {
        let case = PrefillCase {
            seed,
            group: 8,
            num_kv_heads: 1,
            head_dim: 128,
            block_size: 16,
            seqs: vec![(0, 300), (517, 83), (1000, 1)],
            cache,
            q: cache,
        };
        run_prefill(
            gpu,
            &case,
            |_| AttentionParams::for_head_dim(128),
            &mut worst,
        )?;
    }
    let options: [Options; 4] = [
        |p, _| p.with_sliding_window(24),
        |p, h| p.with_alibi_slopes(alibi_slopes(h)),
        |p, _| p.with_soft_cap(3.0),
        |p, h| {
            p.with_sliding_window(9)
                .with_alibi_slopes(alibi_slopes(h))
                .with_soft_cap(4.0)
        },
    ];
    for (i, option) in options.iter().enumerate() {
        for (j, cache) in [DType::F32, DType::Bf16, DType::F16, DType::Fp8E4m3]
            .into_iter()
            .enumerate()
        {
            let case = PrefillCase {
                seed: 1200 + (i * 4 + j) as u64,
                group: 2,
                num_kv_heads: 2,
                head_dim: 64,
                block_size: 8,
                seqs: vec![(0, 70), (45, 20), (3, 1)],
                cache,
                q: q_dtype_for(cache),
            };
            run_prefill(
                gpu,
                &case,
                |h| option(AttentionParams::new(0.5), h),
                &mut worst,
            )?;
        }
    }
    Ok(worst.note())
}

/// The plan API writes every output element (the output starts as NaN), and the same call
/// gives the same bits twice (no atomics in the order of additions).
fn plan_run_writes_all(gpu: &mut CudaBackend) -> CaseResult {
    let mut rng = Rng(400);
    for (cache, q, options) in [
        (DType::Bf16, DType::Bf16, CudaOptions::default()),
        (
            DType::Bf16,
            DType::Bf16,
            CudaOptions::default().partition_tokens(64),
        ),
        (
            DType::F32,
            DType::F32,
            CudaOptions::default().partition_tokens(64),
        ),
    ] {
        gpu.set_options(options);
        let b = batch(gpu, &mut rng, (16, 2, 128), &[700, 33, 1, 2048], cache, 0)?;
        let qt = queries(&mut rng, 4, 16, 128, q);
        let params = AttentionParams::for_head_dim(128);
        let (dq, dk, dv) = (
            gpu.upload(&qt).map_err(e)?,
            gpu.upload(&b.k_cache).map_err(e)?,
            gpu.upload(&b.v_cache).map_err(e)?,
        );
        let plan = gpu
            .plan_decode(
                &dq,
                &dk,
                &dv,
                &b.block_tables,
                b.max_blocks,
                &b.contexts,
                &params,
            )
            .map_err(e)?;
        let nan = Tensor::from_f32_as(
            plan.output_shape().to_vec(),
            &vec![f32::NAN; 4 * 16 * 128],
            q,
        )
        .map_err(e)?;
        let mut outs = Vec::new();
        for _ in 0..2 {
            let mut out = gpu.upload(&nan).map_err(e)?;
            gpu.run(&plan, &dq, &dk, &dv, &mut out).map_err(e)?;
            outs.push(gpu.download(&out).map_err(e)?);
        }
        let want = decode_reference(
            &qt,
            &b.k_cache,
            &b.v_cache,
            &b.block_tables,
            b.max_blocks,
            &b.contexts,
            &params,
        )
        .map_err(e)?;
        Tolerance::for_output(q)
            .check(&outs[0].to_f32_vec(), &want)
            .map_err(|m| format!("{cache}, {} partitions: {m}", plan.partitions()))?;
        same_bits("the second run", &outs[1], &outs[0])?;
    }
    Ok(String::new())
}

/// Spoiled arguments give the CPU backend's errors, through the host and the device methods.
fn errors_match_cpu(gpu: &mut CudaBackend) -> CaseResult {
    let mut rng = Rng(1700);
    let b = batch(gpu, &mut rng, (8, 2, 16), &[10, 3], DType::F16, 0)?;
    let q = queries(&mut rng, 2, 4, 16, DType::F16);
    let params = AttentionParams::for_head_dim(16);
    type Spoil = fn(&mut Tensor, &mut Vec<i32>, &mut Vec<i32>, &mut AttentionParams);
    let spoils: [(&str, Spoil); 6] = [
        ("q head dim", |q, _, _, _| {
            *q = Tensor::zeros(vec![2, 4, 17], DType::F16)
        }),
        ("q fp8", |q, _, _, _| {
            *q = Tensor::zeros(vec![2, 4, 16], DType::Fp8E4m3)
        }),
        ("block id", |_, t, _, _| t[1] = 1000),
        ("context", |_, _, c, _| c[1] = -2),
        ("slopes", |_, _, _, p| {
            *p = AttentionParams::new(1.0).with_alibi_slopes(vec![0.5; 3])
        }),
        ("table length", |_, t, _, _| {
            t.pop();
        }),
    ];
    for (what, spoil) in spoils {
        let (mut q, mut tables, mut contexts, mut params) = (
            q.clone(),
            b.block_tables.clone(),
            b.contexts.clone(),
            params.clone(),
        );
        spoil(&mut q, &mut tables, &mut contexts, &mut params);
        let cpu_err = cpu::paged_decode(
            &q,
            &b.k_cache,
            &b.v_cache,
            &tables,
            b.max_blocks,
            &contexts,
            &params,
        )
        .err();
        let gpu_err = gpu
            .paged_decode_host(
                &q,
                &b.k_cache,
                &b.v_cache,
                &tables,
                b.max_blocks,
                &contexts,
                &params,
            )
            .err();
        if cpu_err.is_none() || cpu_err != gpu_err {
            return Err(format!("{what}: CPU {cpu_err:?}, GPU {gpu_err:?}"));
        }
        let (dq, dk, dv) = (
            gpu.upload(&q).map_err(e)?,
            gpu.upload(&b.k_cache).map_err(e)?,
            gpu.upload(&b.v_cache).map_err(e)?,
        );
        let device_err = gpu
            .paged_decode(&dq, &dk, &dv, &tables, b.max_blocks, &contexts, &params)
            .err();
        if device_err != cpu_err {
            return Err(format!(
                "{what}: CPU {cpu_err:?}, device tensors {device_err:?}"
            ));
        }
    }
    Ok(String::new())
}

fn tensors_stay_with_their_backend(gpu: &mut CudaBackend) -> CaseResult {
    let other = CudaBackend::new(gpu.device().ordinal).map_err(e)?;
    let t = other
        .upload(&Tensor::from_f32(vec![2], vec![1.0, 2.0]).map_err(e)?)
        .map_err(e)?;
    match gpu.download(&t) {
        Err(Error::Invalid { field, .. }) if field == "tensor" => Ok(String::new()),
        other => Err(format!("expected an error naming `tensor`, got {other:?}")),
    }
}
