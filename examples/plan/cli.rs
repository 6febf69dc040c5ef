//! The command line: usage, help, flag parsing, and the failures that end the program.

use std::process::ExitCode;

use nim_profiles::Engine;
use nim_sizing::Precision;
use nim_sizing::autoscale::Workload;

pub const USAGE: &str = "\
usage: plan [--model NAME] [--config CONFIG.json] [--gpus SPEC|FILE] [--context N]
            [--concurrency N] [--workload chat|rag|batch|mixed|coding] [--precision P]
            [--engine tensorrt_llm|vllm|sglang] [--manifest FILE] [--namespace NS]
            [--storage-class CLASS] [--out DIR] [--json]";

pub const HELP: &str = "\
Plans a NIM deployment end to end: the profile NIM selects, memory per GPU, the NIMCache and
its cold start, the placement, autoscaling, and the NIMCache, NIMService and KEDA ScaledObject
manifests. With no arguments: meta/llama-3.1-8b-instruct on one H100 SXM 80GB, chat workload.

The model and the GPUs:
  --model NAME          a model of the built-in catalog, by NIM name, Hugging Face id or display
                        name (default: meta/llama-3.1-8b-instruct). With --config, the NIM whose
                        image serves it
  --config FILE         a Hugging Face config.json: the architecture to size (the NIM image is
                        --model's, else the catalog model of the config's name, else the name)
  --gpus SPEC|FILE      the GPUs, COUNTxGPU[:attr...] joined by '+' (e.g. 4xH100-SXM-80GB,
                        2xL40S:vgpu, 1xA100-80GB:mig=3g.40gb); or a file: the CSV of nvidia-smi
                        --query-gpu=name,pci.device_id,memory.total,memory.used --format=csv, or
                        a file holding that syntax (default: 1xH100-SXM-80GB). A group of more
                        than 8 GPUs is nodes of 8
  --manifest FILE       the model's NIM manifest (model_manifest.yaml): select among its profiles.
                        Without it, the profiles NIM publishes for such a model are derived from
                        the catalogs (TensorRT-LLM per GPU family in the precisions the GPU runs,
                        generic vLLM, TP 1/2/4/8, latency and throughput) and labelled derived

The load:
  --workload W          chat, rag, batch, mixed or coding: the autoscaling policy and the typical
                        request (default: chat)
  --context N           tokens of one request, prompt and output (max-model-len); at least the
                        workload's typical request (default: 8192, or twice the typical request
                        when that is more, i.e. 16384 for rag; at most the model's context)
  --concurrency N       requests in flight at peak across all replicas: sets maxReplicas
                        (default: four replicas' worth at the workload's running-requests
                        trigger, e.g. 160 for chat; 64 for batch)

Narrowing the profiles (as NIM_TAGS_SELECTOR does):
  --precision P         only profiles of this precision: fp8, bf16, fp16, int8, int4_awq, nvfp4
  --engine E            only profiles of this engine: tensorrt_llm (trtllm), vllm or sglang

The manifests:
  --namespace NS        namespace of the manifests (default: nim)
  --storage-class CLASS storage class of the NIMCache PVC (default: unset, the cluster default;
                        the PVC is ReadWriteMany when the service runs several replicas, so the
                        class must support it: NFS, CephFS, EFS, Filestore, Azure Files)
  --out DIR             write nimcache.yaml, nimservice.yaml and scaledobject.yaml into DIR
                        (created) instead of printing them

Output:
  (default)             one table per section; colour on a terminal unless NO_COLOR is set
  --json                one JSON document: scenario, profile, memory, storage, placement,
                        autoscaling, manifests (objects, YAML and lint counts)
  -h, --help            print this help

Choices this program makes:
  - Manifests pin the selected profile (NIMCache profiles and NIMService storage.nimCache.profile,
    which sets NIM_MODEL_PROFILE): by id from --manifest, by name for derived profiles (their ids
    are digests of their tags, not NGC ids). The image is nvcr.io/nim/<NIM name>:1.8.4.
  - The NIMService scales itself (spec.scale: the operator's HPA on gpu_cache_usage_perc and
    num_requests_running, min 2 replicas as in production). The ScaledObject is the same policy
    for KEDA, an alternative and not an addition: two autoscalers on one Deployment fight, and
    the operator resets the replicas of a NIMService without spec.scale.
  - Cold start assumes 0.3 GB/s from the registry, a 0.5 GB/s PVC write and 1.1 GB/s read, and
    30 s (TensorRT-LLM) or 60 s (vLLM) of engine start; the startup probe covers the start from
    a filled NIMCache with 50 % margin, never below the operator's 120 x 10 s.
  - The generated manifests are linted before they are printed or written; any diagnostic is
    an error (exit status 1).

Values go as `--flag VALUE` or `--flag=VALUE`.

Exit status: 0 when the plan works, 1 when it cannot (no profile runs, the model does not fit:
the message says what to change), 2 on bad usage or input (the message names the flag).";

/// Flags that take a value.
const VALUE_FLAGS: [&str; 12] = [
    "--model",
    "--config",
    "--gpus",
    "--context",
    "--concurrency",
    "--workload",
    "--precision",
    "--engine",
    "--manifest",
    "--namespace",
    "--storage-class",
    "--out",
];

/// Bad usage or input (exit status 2), or a plan that cannot work (exit status 1).
pub struct Failure {
    pub message: String,
    pub usage: bool,
    pub status: u8,
}

impl Failure {
    pub fn input(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            usage: false,
            status: 2,
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            usage: true,
            status: 2,
        }
    }

    /// The plan cannot work as asked: exit status 1.
    pub fn unplannable(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            usage: false,
            status: 1,
        }
    }

    pub fn report(self) -> ExitCode {
        if self.usage {
            eprintln!("plan: {}\n{USAGE}\n(see plan --help)", self.message);
        } else {
            eprintln!("plan: {}", self.message);
        }
        ExitCode::from(self.status)
    }
}

/// The command line, each value checked.
#[derive(Debug, Default)]
pub struct Args {
    pub model: Option<String>,
    pub config: Option<String>,
    pub gpus: Option<String>,
    pub context: Option<u64>,
    pub concurrency: Option<u64>,
    pub workload: Option<Workload>,
    /// The precision as a manifest tag (`fp8`, `int4_awq`).
    pub precision: Option<String>,
    pub engine: Option<Engine>,
    pub manifest: Option<String>,
    pub namespace: Option<String>,
    pub storage_class: Option<String>,
    pub out: Option<String>,
    pub json: bool,
}

/// Parses the arguments; `Ok(None)` for `--help`.
pub fn parse(argv: impl IntoIterator<Item = String>) -> Result<Option<Args>, Failure> {
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
        let value = value.trim().to_owned();
        if value.is_empty() {
            return Err(Failure::usage(format!("{flag}: empty value")));
        }
        match flag {
            "--model" => set(&mut args.model, flag, value)?,
            "--config" => set(&mut args.config, flag, value)?,
            "--gpus" => set(&mut args.gpus, flag, value)?,
            "--manifest" => set(&mut args.manifest, flag, value)?,
            "--out" => set(&mut args.out, flag, value)?,
            "--context" => set(&mut args.context, flag, positive(flag, &value)?)?,
            "--concurrency" => set(&mut args.concurrency, flag, positive(flag, &value)?)?,
            "--workload" => {
                let workload = value.parse::<Workload>().map_err(|_| {
                    Failure::input(format!(
                        "--workload: {value:?} is not one of chat, rag, batch, mixed, coding"
                    ))
                })?;
                set(&mut args.workload, flag, workload)?;
            }
            "--precision" => {
                let precision = value.parse::<Precision>().map_err(|e| {
                    let text = e.to_string();
                    let text = text.strip_prefix("precision: ").unwrap_or(&text);
                    Failure::input(format!("--precision: {text}"))
                })?;
                set(&mut args.precision, flag, precision_tag(precision))?;
            }
            "--engine" => match Engine::parse(&value) {
                Engine::Other(_) => {
                    return Err(Failure::input(format!(
                        "--engine: {value:?} is not one of tensorrt_llm (trtllm), vllm, sglang"
                    )));
                }
                engine => set(&mut args.engine, flag, engine)?,
            },
            "--namespace" => {
                dns_label(flag, &value)?;
                set(&mut args.namespace, flag, value)?;
            }
            "--storage-class" => {
                dns_subdomain(flag, &value)?;
                set(&mut args.storage_class, flag, value)?;
            }
            _ => return Err(Failure::usage(format!("unknown flag `{flag}`"))),
        }
    }
    Ok(Some(args))
}

/// A precision as NIM manifests tag it: `fp8`, `bf16`, `int4_awq`.
pub fn precision_tag(precision: Precision) -> String {
    match precision {
        Precision::Int4Awq { .. } => "int4_awq".to_owned(),
        Precision::Int4Gptq { .. } => "int4_gptq".to_owned(),
        other => other.to_string(),
    }
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
    match value.parse::<u64>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(Failure::input(format!(
            "{flag}: {value:?} is not a positive integer"
        ))),
    }
}

/// A Kubernetes namespace: a DNS-1123 label.
fn dns_label(flag: &str, value: &str) -> Result<(), Failure> {
    let ok = value.len() <= 63
        && value
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !value.starts_with('-')
        && !value.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(Failure::input(format!(
            "{flag}: {value:?} is not a DNS-1123 label (lower-case letters, digits and '-', at \
             most 63, starting and ending with a letter or digit)"
        )))
    }
}

/// A storage class name: a DNS-1123 subdomain.
fn dns_subdomain(flag: &str, value: &str) -> Result<(), Failure> {
    let ok = value.len() <= 253
        && value.split('.').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !part.starts_with('-')
                && !part.ends_with('-')
        });
    if ok {
        Ok(())
    } else {
        Err(Failure::input(format!(
            "{flag}: {value:?} is not a DNS-1123 subdomain (lower-case letters, digits, '-' and \
             '.')"
        )))
    }
}
