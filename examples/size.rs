//! Sizes a NIM deployment: does the model fit on these GPUs, and how many requests will its KV
//! cache hold?
//!
//! ```sh
//! cargo run --example size                                  # Llama 3.1 8B on one H100
//! cargo run --example size -- --model meta/llama-3.1-70b-instruct --gpus 4xH100-SXM-80GB \
//!     --max-model-len 8192
//! cargo run --example size -- --config path/to/config.json --gpu L40S --kv-cache-dtype fp8
//! cargo run --example size -- --model meta/llama-3.1-70b-instruct --gpu H200 --precision fp8 \
//!     --engine trtllm --gpu-memory-utilization 0.85 --json
//! ```
//!
//! Computes a [`nim_sizing::MemoryPlan`] per GPU: weights, the engine's budget, activation and
//! other memory, the KV cache, its tokens and blocks, and the concurrency at `--max-model-len`.
//! Prints it as a table (or, with `--json`, as one JSON object with, among others,
//! `weights_bytes_per_gpu`, `kv_bytes_per_token_per_gpu`, `kv_cache_bytes_per_gpu`,
//! `kv_cache_tokens`, `kv_cache_blocks`, `max_concurrency`, `fits` and `reasons`; byte counts are
//! integers). When it does not fit, it also gives the shortfall per GPU and the changes that make
//! it fit. With no arguments it sizes `meta/llama-3.1-8b-instruct` on one `H100` at the model's
//! full context.
//!
//! Exit status: 0 when it fits, 1 when it does not fit, 2 on bad usage or input (the message
//! names the flag).

use std::path::Path;
use std::process::ExitCode;

use nim_sizing::engine::{EngineKind, EngineModel};
use nim_sizing::roofline::roofline;
use nim_sizing::{Error, GpuSpec, KvDtype, MemoryPlan, ModelArch, ModelCatalog, Precision, Sizing};

const DEFAULT_MODEL: &str = "meta/llama-3.1-8b-instruct";
const DEFAULT_GPU: &str = "H100";

const USAGE: &str = "\
usage: size [--model NAME | --config CONFIG.json] [--gpu NAME | --gpus [Nx]NAME]
            [--tp N] [--pp N] [--precision P] [--kv-cache-dtype D]
            [--engine vllm[@VERSION]|trtllm] [--gpu-memory-utilization F]
            [--max-model-len N] [--json]";

const HELP: &str = "\
Sizes a NIM deployment per GPU: weights, the engine's budget and overheads, the KV cache, the
tokens and requests it holds, and whether the model fits. With no arguments: the default model
on one default GPU at the model's full context.

  --model NAME          a model of the built-in catalog, by NIM name, Hugging Face id or
                        display name (default: meta/llama-3.1-8b-instruct)
  --config FILE         a Hugging Face config.json instead of --model
  --gpu NAME            the GPU, by catalog id, name, alias, nvidia-smi name, GFD label or
                        PCI id (default: H100)
  --gpus [Nx]NAME       N GPUs of that type, e.g. 2xH100-SXM-80GB (no count: 1); instead of
                        --gpu. Sets --tp to N, or to N / --pp; when --tp or --pp is given too,
                        tp x pp must equal N
  --tp N                tensor parallelism (default: 1, or from --gpus)
  --pp N                pipeline parallelism (default: 1)
  --precision P         weight precision: bf16, fp16, fp32, fp8, int8, int4-awq, int4-gptq
                        (optional -g<N> group size), nvfp4, mxfp4 (default: the checkpoint's)
  --kv-cache-dtype D    auto, fp8, fp8_e4m3, fp8_e5m2, bf16, fp16, fp32, int8, nvfp4
                        (default: auto, the model's 16-bit dtype)
  --engine E            vllm (the newest modelled version), vllm@VERSION (e.g. vllm@0.17) or
                        trtllm (default: vllm)
  --gpu-memory-utilization F
                        the engine's memory fraction, in (0, 1]. vLLM: gpu_memory_utilization,
                        the share of the whole GPU it may use (default 0.92 from 0.17, 0.9
                        before). trtllm: sets free_gpu_memory_fraction, the share of the memory
                        left after weights and activations that becomes KV cache (default 0.9)
  --max-model-len N     context length of one request (default: the model's full context)
  --json                print the plan as one JSON object instead of a table
  -h, --help            print this help

Values go as `--flag VALUE` or `--flag=VALUE`.

Exit status: 0 when it fits, 1 when it does not fit (the output gives the reasons, the
shortfall per GPU and verified fixes), 2 on bad usage or input (the message names the flag).";

/// Flags that take a value.
const VALUE_FLAGS: [&str; 11] = [
    "--model",
    "--config",
    "--gpu",
    "--gpus",
    "--tp",
    "--pp",
    "--precision",
    "--kv-cache-dtype",
    "--engine",
    "--gpu-memory-utilization",
    "--max-model-len",
];

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}\n\n{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(failure) => return failure.report(),
    };
    let deployment = match Deployment::resolve(&args) {
        Ok(deployment) => deployment,
        Err(failure) => return failure.report(),
    };
    let plan = match deployment.plan() {
        Ok(plan) => plan,
        Err(failure) => return failure.report(),
    };
    if args.json {
        match serde_json::to_string_pretty(&plan) {
            Ok(text) => println!("{text}"),
            Err(error) => {
                eprintln!("size: cannot render the plan: {error}");
                return ExitCode::from(2);
            }
        }
    } else {
        print!("{}", render(&deployment, &plan));
    }
    if plan.fits {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Bad usage or input: a message naming the flag, and whether to show the usage.
struct Failure {
    message: String,
    usage: bool,
}

impl Failure {
    fn input(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            usage: false,
        }
    }

    fn usage(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            usage: true,
        }
    }

    fn report(self) -> ExitCode {
        if self.usage {
            eprintln!("size: {}\n{USAGE}\n(see size --help)", self.message);
        } else {
            eprintln!("size: {}", self.message);
        }
        ExitCode::from(2)
    }
}

/// A library error as a message that names `flag`: `Invalid` errors already naming a flag
/// (`--tp 3: ...`, `--engine: ...`) keep it; others get `flag: ` in front.
fn describe(flag: &str, error: &Error) -> String {
    let text = match error {
        Error::Invalid { field, message } if message.starts_with(field.as_str()) => message.clone(),
        Error::Invalid { field, message } if flag.trim_start_matches('-') == field => {
            format!("{flag}: {message}")
        }
        other => other.to_string(),
    };
    if names_flag(&text, flag) {
        text
    } else {
        format!("{flag}: {text}")
    }
}

/// Whether `text` starts with `flag` as a whole word (`--gpu` is not `--gpu-memory-utilization`).
fn names_flag(text: &str, flag: &str) -> bool {
    text.strip_prefix(flag)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([':', ' ']))
}

/// The command line, each value parsed.
#[derive(Debug, Default)]
struct Args {
    model: Option<String>,
    config: Option<String>,
    gpu: Option<String>,
    gpus: Option<String>,
    tp: Option<u64>,
    pp: Option<u64>,
    precision: Option<Precision>,
    kv_dtype: Option<KvDtype>,
    engine: Option<EngineModel>,
    utilization: Option<f64>,
    max_model_len: Option<u64>,
    json: bool,
}

/// Parses the arguments; `Ok(None)` for `--help`.
fn parse(argv: impl IntoIterator<Item = String>) -> Result<Option<Args>, Failure> {
    let mut args = Args::default();
    let mut argv = argv.into_iter();
    while let Some(arg) = argv.next() {
        if arg == "-h" || arg == "--help" {
            return Ok(None);
        }
        if arg == "--json" {
            args.json = true;
            continue;
        }
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag, Some(value.to_owned())),
            _ => (arg.as_str(), None),
        };
        if flag == "--json" {
            return Err(Failure::usage("--json takes no value"));
        }
        if !VALUE_FLAGS.contains(&flag) {
            return Err(Failure::usage(if flag.starts_with('-') {
                format!("unknown flag `{flag}`")
            } else {
                format!("unexpected argument `{arg}`")
            }));
        }
        let value = match inline {
            Some(value) => value,
            None => match argv.next() {
                Some(value) if !value.starts_with("--") => value,
                _ => return Err(Failure::usage(format!("{flag}: missing value"))),
            },
        };
        match flag {
            "--model" => set(&mut args.model, flag, value)?,
            "--config" => set(&mut args.config, flag, value)?,
            "--gpu" => set(&mut args.gpu, flag, value)?,
            "--gpus" => set(&mut args.gpus, flag, value)?,
            "--tp" => set(&mut args.tp, flag, positive(flag, &value)?)?,
            "--pp" => set(&mut args.pp, flag, positive(flag, &value)?)?,
            "--max-model-len" => set(&mut args.max_model_len, flag, positive(flag, &value)?)?,
            "--precision" => {
                let precision = value
                    .parse::<Precision>()
                    .map_err(|e| Failure::input(describe(flag, &e)))?;
                set(&mut args.precision, flag, precision)?;
            }
            "--kv-cache-dtype" => {
                let dtype = value
                    .parse::<KvDtype>()
                    .map_err(|e| Failure::input(describe(flag, &e)))?;
                set(&mut args.kv_dtype, flag, dtype)?;
            }
            "--engine" => {
                let engine = value
                    .parse::<EngineModel>()
                    .map_err(|e| Failure::input(describe(flag, &e)))?;
                set(&mut args.engine, flag, engine)?;
            }
            "--gpu-memory-utilization" => {
                set(&mut args.utilization, flag, fraction(flag, &value)?)?;
            }
            _ => return Err(Failure::usage(format!("unknown flag `{flag}`"))),
        }
    }
    Ok(Some(args))
}

/// Stores a flag's value; a flag given twice is an error.
fn set<T>(slot: &mut Option<T>, flag: &str, value: T) -> Result<(), Failure> {
    if slot.is_some() {
        return Err(Failure::usage(format!("{flag} given twice")));
    }
    *slot = Some(value);
    Ok(())
}

/// A positive integer.
fn positive(flag: &str, value: &str) -> Result<u64, Failure> {
    match value.trim().parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(Failure::input(format!(
            "{flag}: {value:?} is not a positive integer"
        ))),
    }
}

/// A fraction in (0, 1].
fn fraction(flag: &str, value: &str) -> Result<f64, Failure> {
    match value.trim().parse::<f64>() {
        Ok(f) if f > 0.0 && f <= 1.0 => Ok(f),
        _ => Err(Failure::input(format!(
            "{flag}: {value:?} is not a fraction in (0, 1]"
        ))),
    }
}

/// `[Nx]NAME`: a GPU count (1 when absent) and a GPU name.
fn parse_gpus(spec: &str) -> Result<(u64, &str), Failure> {
    let bad = |why: &str| {
        Failure::input(format!(
            "--gpus {spec}: {why}; expected [Nx]NAME, e.g. 2xH100-SXM-80GB"
        ))
    };
    let (count, name) = match spec.split_once(['x', 'X']) {
        Some((count, name)) if !count.is_empty() && count.bytes().all(|b| b.is_ascii_digit()) => {
            match count.parse::<u64>() {
                Ok(n) if n > 0 => (n, name),
                _ => return Err(bad("the count must be a positive integer")),
            }
        }
        _ => (1, spec),
    };
    let name = name.trim();
    if name.is_empty() {
        return Err(bad("no GPU name"));
    }
    Ok((count, name))
}

/// The resolved deployment: what to plan and how to title it.
struct Deployment {
    /// How the model was named: the catalog's NIM name, or the config's model name and path.
    model_label: String,
    gpu: GpuSpec,
    sizing: Sizing,
    /// `--gpus` when it set `--tp`.
    tp_from_gpus: Option<String>,
}

impl Deployment {
    fn resolve(args: &Args) -> Result<Self, Failure> {
        let (arch, model_label) = match (&args.model, &args.config) {
            (Some(_), Some(_)) => {
                return Err(Failure::usage(
                    "--model and --config are mutually exclusive; give one",
                ));
            }
            (_, Some(path)) => {
                let arch = ModelArch::from_config_file(Path::new(path))
                    .map_err(|e| Failure::input(describe("--config", &e)))?;
                let label = format!("{} (from {path})", arch.name);
                (arch, label)
            }
            (model, None) => {
                let name = model.as_deref().unwrap_or(DEFAULT_MODEL);
                let model = ModelCatalog::builtin()
                    .lookup(name)
                    .map_err(|e| Failure::input(describe("--model", &e)))?;
                (model.arch.clone(), model.nim_name.clone())
            }
        };

        let (flag, name, count) = match (&args.gpu, &args.gpus) {
            (Some(_), Some(_)) => {
                return Err(Failure::usage(
                    "--gpu and --gpus are mutually exclusive; give one",
                ));
            }
            (_, Some(spec)) => {
                let (count, name) = parse_gpus(spec)?;
                ("--gpus", name, Some(count))
            }
            (gpu, None) => ("--gpu", gpu.as_deref().unwrap_or(DEFAULT_GPU), None),
        };
        let gpu = nim_sizing::gpu::builtin()
            .lookup(name)
            .map_err(|e| Failure::input(describe(flag, &e)))?
            .clone();

        let spec = args.gpus.as_deref().unwrap_or_default();
        let mut tp_from_gpus = None;
        let (tp, pp) = match (count, args.tp, args.pp) {
            (None, tp, pp) => (tp.unwrap_or(1), pp.unwrap_or(1)),
            (Some(n), None, pp) => {
                let pp = pp.unwrap_or(1);
                if !n.is_multiple_of(pp) {
                    return Err(Failure::input(format!(
                        "--gpus {spec}: {n} GPUs do not divide into --pp {pp} pipeline stages"
                    )));
                }
                tp_from_gpus = Some(spec.to_owned());
                (n / pp, pp)
            }
            (Some(n), Some(tp), pp) => {
                let pp = pp.unwrap_or(1);
                if tp.checked_mul(pp) != Some(n) {
                    return Err(Failure::input(format!(
                        "--gpus {spec}: {n} GPUs, but --tp {tp} x --pp {pp} needs {} GPUs",
                        tp.saturating_mul(pp)
                    )));
                }
                (tp, pp)
            }
        };

        let mut engine = args.engine.clone().unwrap_or_else(EngineModel::vllm);
        if let Some(fraction) = args.utilization {
            engine = engine
                .with_memory_fraction(fraction)
                .map_err(|e| Failure::input(describe("--gpu-memory-utilization", &e)))?;
        }
        let mut sizing = Sizing::new(arch, gpu.clone())
            .tp(tp)
            .pp(pp)
            .kv_dtype(args.kv_dtype.unwrap_or_default())
            .engine(engine);
        if let Some(precision) = args.precision {
            sizing = sizing.precision(precision);
        }
        if let Some(len) = args.max_model_len {
            sizing = sizing.max_model_len(len);
        }
        Ok(Self {
            model_label,
            gpu,
            sizing,
            tp_from_gpus,
        })
    }

    fn plan(&self) -> Result<MemoryPlan, Failure> {
        self.sizing.plan().map_err(|error| {
            let text = match &error {
                Error::Invalid { field, message } if message.starts_with(field.as_str()) => {
                    message.clone()
                }
                other => other.to_string(),
            };
            match &self.tp_from_gpus {
                Some(spec) if names_flag(&text, "--tp") => {
                    Failure::input(format!("--gpus {spec}: {text}"))
                }
                _ => Failure::input(text),
            }
        })
    }
}

/// The plan as a title, an aligned table, the verdict, reasons, shortfall and fixes.
fn render(deployment: &Deployment, plan: &MemoryPlan) -> String {
    let engine = &deployment.sizing.engine;
    let gpu = &deployment.gpu;
    let mut out = format!(
        "{} on {} x {} (TP {} x PP {}): {}, weights {}, KV cache {}, max-model-len {}\n\n",
        deployment.model_label,
        plan.gpus,
        plan.gpu,
        plan.tp,
        plan.pp,
        plan.engine,
        plan.precision,
        plan.kv_cache_dtype,
        plan.max_model_len,
    );
    let budget_note = match engine.kind {
        EngineKind::Vllm => format!(
            "visible x gpu_memory_utilization {}",
            engine.memory_fraction
        ),
        EngineKind::TrtLlm => format!(
            "all visible; the KV cache gets free_gpu_memory_fraction {} of what is left",
            engine.memory_fraction
        ),
    };
    // Physical upper bounds at the full context and the concurrency the pool holds.
    let batch = (plan.max_concurrency.floor() as u64).max(1);
    let bound = roofline(&deployment.sizing, plan, plan.max_model_len, batch);
    let rows: Vec<(&str, String, String)> = vec![
        (
            "GPU memory (visible)",
            plan.gpu_memory_bytes.to_string(),
            gpu.name.clone(),
        ),
        (
            "engine budget",
            plan.memory_budget_bytes.to_string(),
            budget_note,
        ),
        (
            "weights per GPU",
            plan.weights_bytes_per_gpu.to_string(),
            if plan.gpus > 1 {
                format!("{}, the fullest of {} GPUs", plan.precision, plan.gpus)
            } else {
                plan.precision.clone()
            },
        ),
        (
            "activation",
            plan.activation_bytes.to_string(),
            "the engine's peak".to_owned(),
        ),
        (
            "other (non-torch, NCCL)",
            plan.non_torch_bytes.to_string(),
            if plan.tp > 1 {
                "CUDA context and NCCL buffers".to_owned()
            } else {
                "CUDA context".to_owned()
            },
        ),
        (
            "KV cache per GPU",
            plan.kv_cache_bytes_per_gpu.to_string(),
            match engine.kind {
                EngineKind::Vllm => "budget - weights - activation - other".to_owned(),
                EngineKind::TrtLlm => format!(
                    "(visible - weights - activation - other) x {}",
                    engine.memory_fraction
                ),
            },
        ),
        (
            "KV bytes per token per GPU",
            plan.kv_bytes_per_token_per_gpu.to_string(),
            kv_formula(&deployment.sizing),
        ),
        (
            "KV tokens / blocks",
            format!(
                "{} / {}",
                grouped(plan.kv_cache_tokens.get()),
                grouped(plan.kv_cache_blocks)
            ),
            format!("blocks of {} tokens", plan.kv_block_size),
        ),
        (
            "KV cache per request",
            plan.kv_bytes_per_request_per_gpu.to_string(),
            format!("{} tokens, per GPU", grouped(plan.max_model_len)),
        ),
        (
            "max concurrency",
            format!("{:.2}", plan.max_concurrency),
            format!("requests of {} tokens", grouped(plan.max_model_len)),
        ),
        (
            "decode bound, 1 request",
            format!("{:.0} tok/s", bound.decode_tokens_per_s_single),
            format!(
                "at {} tokens of context: weights + KV read per token at {}",
                grouped(bound.context),
                gpu.bandwidth
            ),
        ),
        (
            "decode bound, batch",
            format!("{:.0} tok/s", bound.decode_tokens_per_s_batch),
            format!(
                "{} requests of {} tokens at once",
                bound.batch,
                grouped(bound.context)
            ),
        ),
        (
            "prefill bound",
            format!("{:.0} tok/s", bound.prefill_tokens_per_s),
            format!("{} per GPU, {} GPUs", bound.tflops_per_gpu, plan.gpus),
        ),
    ];
    let label_width = rows.iter().map(|r| r.0.len()).max().unwrap_or(0);
    let value_width = rows.iter().map(|r| r.1.len()).max().unwrap_or(0);
    for (label, value, note) in &rows {
        let line = format!("  {label:<label_width$}  {value:>value_width$}  {note}");
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.push_str(&format!(
        "\nfits: {}\n",
        if plan.fits { "yes" } else { "no" }
    ));
    for reason in &plan.reasons {
        out.push_str(&format!("  - {reason}\n"));
    }
    if !plan.fits {
        if let Some(shortfall) = plan.shortfall_bytes {
            out.push_str(&format!("shortfall: {shortfall} per GPU\n"));
        }
        if plan.fixes.is_empty() {
            out.push_str("fixes: none found\n");
        } else {
            out.push_str("fixes:\n");
            for fix in &plan.fixes {
                out.push_str(&format!("  - {fix}\n"));
            }
        }
    }
    out
}

/// How the KV bytes per token per GPU come about: `2 (K and V) x layers of the fullest stage x
/// KV heads per GPU x head dim x bytes per element`.
fn kv_formula(sizing: &Sizing) -> String {
    let model = &sizing.model;
    let layers = model
        .pipeline_layer_split(sizing.pp)
        .ok()
        .and_then(|split| split.into_iter().max())
        .unwrap_or(model.num_layers);
    format!(
        "2 x {layers} layers x {} KV heads x {} head dim x {} bytes ({})",
        model.kv_heads_per_gpu(sizing.tp),
        model.head_dim,
        sizing.kv_dtype.bytes_per_element(),
        sizing.kv_dtype,
    )
}

/// `1234567` as `1,234,567`.
fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}
