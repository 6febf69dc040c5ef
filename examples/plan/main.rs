//! Plans a NIM deployment end to end, from a model and GPUs to manifests that lint clean.
//!
//! ```sh
//! cargo run --release --example plan                      # Llama 3.1 8B on one H100, chat
//! cargo run --release --example plan -- --model meta/llama-3.1-70b-instruct \
//!     --gpus 2xH100-SXM-80GB:nvlink --workload rag --json
//! cargo run --release --example plan -- --gpus 2xL40S:vgpu --out deploy/
//! cargo run --release --example plan -- --manifest model_manifest.yaml --gpus smi.csv
//! ```
//!
//! Six sections, each a table (colour on a terminal, plain when piped or with `NO_COLOR`):
//!
//! 1. **Profile**: the profile NIM selects ([`nim_profiles::select`]), the ranked alternatives,
//!    and why each other one lost or cannot run; from `--manifest`, or from the profiles NIM
//!    publishes for such a model, derived from the catalogs and labelled as derived.
//! 2. **Memory per GPU** for that profile ([`nim_sizing::Sizing`]): weights, KV pool,
//!    overheads, free memory, KV tokens and blocks, concurrency at `--context`, roofline
//!    bounds.
//! 3. **Storage**: NIMCache PVC size and access mode, cold start, the startup probe.
//! 4. **Placement**: GPUs, TP/PP, nodes, NVLink, the smallest layout, warnings.
//! 5. **Autoscaling** for `--workload`: thresholds, replicas, windows.
//! 6. **Manifests**: NIMCache, NIMService and KEDA ScaledObject, linted with
//!    [`nim_crds::lint`] before they are printed (or written with `--out DIR`).
//!
//! `--json` prints one document with the keys `scenario`, `profile`, `memory`, `storage`,
//! `placement`, `autoscaling` and `manifests`. When nothing can run, the exit status is 1 and
//! the message says what to change (`needs 2x h100-sxm-80gb with NVLink (...), or FP8
//! (--precision fp8)`); with `--json` the document then has `scenario`, `profile` and `error`.
//! Bad input exits with 2 and a message naming the flag. `--help` lists the choices made.

mod advice;
mod cli;
mod manifests;
mod profiles;
mod render;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use nim_profiles::{
    Decision, Engine, GpuGroup, Inventory, Manifest, Profile, Selection, SelectionOptions, Verdict,
    select,
};
use nim_sizing::autoscale::{Recommendation, Workload, recommend};
use nim_sizing::engine::{EngineKind, EngineModel};
use nim_sizing::placement::{NodePool, Placement, PlacementRequest};
use nim_sizing::roofline::{Roofline, roofline};
use nim_sizing::storage::{
    ColdStart, DEFAULT_HEADROOM, PvcSize, StartupProbe, StorageThroughput, cold_start, pvc_size,
    startup_probe,
};
use nim_sizing::units::Seconds;
use nim_sizing::{Bytes, GpuSpec, MemoryPlan, ModelArch, ModelCatalog, Precision, Sizing};
use serde_json::{Value, json};

use cli::{Args, Failure, HELP, USAGE};
use manifests::Manifests;
use render::{Paint, Style, Table, grouped};

const DEFAULT_MODEL: &str = "meta/llama-3.1-8b-instruct";
const DEFAULT_GPUS: &str = "1xH100-SXM-80GB";
const DEFAULT_NAMESPACE: &str = "nim";
/// The context when `--context` is not given: at least this, and twice the workload's typical
/// request when that is more.
const DEFAULT_CONTEXT: u64 = 8192;
/// Peak requests for a workload without a running-requests trigger (batch).
const DEFAULT_BATCH_PEAK: u64 = 64;
/// GPUs in one node: larger groups are several nodes.
const GPUS_PER_NODE: u32 = 8;

fn main() -> ExitCode {
    let args = match cli::parse(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}\n\n{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(failure) => return failure.report(),
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => failure.report(),
    }
}

// ---------------------------------------------------------------------------------------------
// The scenario
// ---------------------------------------------------------------------------------------------

/// The inputs, resolved and checked.
struct Scenario {
    /// The NIM name (image `nvcr.io/nim/<name>`).
    nim_name: String,
    arch: ModelArch,
    /// `--config` when the architecture came from a file.
    config: Option<String>,
    inventory: Inventory,
    /// How the GPUs were given.
    gpus_source: String,
    workload: Workload,
    context: u64,
    context_default: bool,
    concurrency: u64,
    concurrency_default: bool,
    precision: Option<String>,
    engine: Option<Engine>,
    manifest: Option<String>,
    namespace: String,
    storage_class: Option<String>,
    out: Option<PathBuf>,
    json: bool,
}

impl Scenario {
    fn resolve(args: &Args) -> Result<Self, Failure> {
        let catalog = ModelCatalog::builtin();
        let (arch, nim_name) = match &args.config {
            Some(path) => {
                let arch = ModelArch::from_config_file(Path::new(path))
                    .map_err(|e| Failure::input(format!("--config: {e}")))?;
                let nim_name = match &args.model {
                    Some(name) => match catalog.lookup(name) {
                        Ok(model) => model.nim_name.clone(),
                        Err(_) if name.contains('/') => name.to_ascii_lowercase(),
                        Err(e) => return Err(Failure::input(format!("--model: {e}"))),
                    },
                    None => match catalog.lookup(&arch.name) {
                        Ok(model) => model.nim_name.clone(),
                        Err(_) => same_architecture(catalog, &arch).ok_or_else(|| {
                            Failure::input(format!(
                                "--config {path}: the model ({}) is not one the catalog knows, \
                                 by name or by architecture; give --model with the NIM that \
                                 serves it (the image nvcr.io/nim/<NIM name>)",
                                arch.name
                            ))
                        })?,
                    },
                };
                (arch, nim_name)
            }
            None => {
                let model = catalog
                    .lookup(args.model.as_deref().unwrap_or(DEFAULT_MODEL))
                    .map_err(|e| Failure::input(format!("--model: {e}")))?;
                (model.arch.clone(), model.nim_name.clone())
            }
        };

        let (inventory, gpus_source) = read_gpus(args.gpus.as_deref().unwrap_or(DEFAULT_GPUS))?;
        let gpus_source = if args.gpus.is_some() {
            gpus_source
        } else {
            format!("{gpus_source} (default)")
        };

        let workload = args.workload.unwrap_or(Workload::Chat);
        let policy = workload.policy();
        let typical = policy.typical_request_tokens;
        let model_max = arch.max_position_embeddings;
        if typical > model_max {
            return Err(Failure::input(format!(
                "--workload {workload}: its requests (~{typical} tokens) exceed the model's context \
                 of {model_max} tokens; choose another --workload or model"
            )));
        }
        let context = match args.context {
            Some(context) if context > model_max => {
                return Err(Failure::input(format!(
                    "--context {context} exceeds the model's context of {model_max} tokens \
                     (max_position_embeddings)"
                )));
            }
            Some(context) if context < typical => {
                return Err(Failure::input(format!(
                    "--context {context} is shorter than a {workload} request (~{typical} tokens, \
                     prompt and output); give --context {typical} or more, or another --workload"
                )));
            }
            Some(context) => context,
            None => DEFAULT_CONTEXT.max(2 * typical).min(model_max),
        };
        let concurrency = args.concurrency.unwrap_or_else(|| {
            policy
                .concurrency_trigger
                .map_or(DEFAULT_BATCH_PEAK, |trigger| 4 * u64::from(trigger))
        });

        Ok(Self {
            nim_name,
            arch,
            config: args.config.clone(),
            inventory,
            gpus_source,
            workload,
            context,
            context_default: args.context.is_none(),
            concurrency,
            concurrency_default: args.concurrency.is_none(),
            precision: args.precision.clone(),
            engine: args.engine.clone(),
            manifest: args.manifest.clone(),
            namespace: args
                .namespace
                .clone()
                .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned()),
            storage_class: args.storage_class.clone(),
            out: args.out.as_ref().map(PathBuf::from),
            json: args.json,
        })
    }

    fn json(&self) -> Value {
        json!({
            "model": self.nim_name,
            "model_source": if self.config.is_some() { "config" } else { "catalog" },
            "config": self.config,
            "architecture": self.arch.architecture,
            "parameters": self.arch.total_params(),
            "gpus": self.inventory.to_string(),
            "gpus_source": self.gpus_source,
            "workload": self.workload,
            "typical_request_tokens": self.workload.policy().typical_request_tokens,
            "context": self.context,
            "context_default": self.context_default,
            "concurrency": self.concurrency,
            "concurrency_default": self.concurrency_default,
            "precision": self.precision,
            "engine": self.engine.as_ref().map(Engine::as_str),
            "manifest": self.manifest,
            "namespace": self.namespace,
            "storage_class": self.storage_class,
            "out": self.out.as_ref().map(|p| p.display().to_string()),
        })
    }

    /// `meta/llama-3.1-8b-instruct on 1xh100-sxm-80gb: chat, context 8,192 tokens, ...`
    fn title(&self) -> String {
        format!(
            "{} on {}: {} workload, context {} tokens, {} requests at peak",
            self.nim_name,
            self.inventory,
            self.workload,
            grouped(self.context),
            grouped(self.concurrency)
        )
    }
}

/// The NIM name of the catalog model with the same architecture as a config (layers, widths,
/// heads, vocabulary), when there is one.
fn same_architecture(catalog: &ModelCatalog, arch: &ModelArch) -> Option<String> {
    let shape = |a: &ModelArch| {
        (
            a.hidden_size,
            a.num_layers,
            a.num_attention_heads,
            a.num_kv_heads,
            a.intermediate_size,
            a.vocab_size,
            a.num_experts,
        )
    };
    catalog
        .iter()
        .find(|model| shape(&model.arch) == shape(arch))
        .map(|model| model.nim_name.clone())
}

/// `--gpus`: the inventory syntax, or a file (an nvidia-smi CSV, or the syntax).
fn read_gpus(value: &str) -> Result<(Inventory, String), Failure> {
    let path = Path::new(value);
    let (inventory, source) = if path.is_file() {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Failure::input(format!("--gpus {value}: cannot read the file: {e}")))?;
        if looks_like_smi(&text) {
            let inventory = Inventory::from_nvidia_smi_csv(value, &text)
                .map_err(|e| Failure::input(format!("--gpus: {e}")))?;
            (inventory, format!("nvidia-smi CSV {value}"))
        } else {
            let spec: Vec<&str> = text
                .lines()
                .map(|line| line.split('#').next().unwrap_or("").trim())
                .filter(|line| !line.is_empty())
                .collect();
            let inventory = Inventory::parse(&spec.join("+")).map_err(|e| {
                Failure::input(format!("--gpus {value}: {}", inventory_message(&e)))
            })?;
            (inventory, format!("inventory file {value}"))
        }
    } else {
        let inventory = Inventory::parse(value)
            .map_err(|e| Failure::input(format!("--gpus: {}", inventory_message(&e))))?;
        (inventory, format!("--gpus {value}"))
    };
    if inventory.groups.is_empty() || inventory.total_gpus() == 0 {
        return Err(Failure::input(format!("--gpus {value}: no GPUs")));
    }
    Ok((inventory, source))
}

/// An inventory error without the `--gpus:1:` location of a one-line description.
fn inventory_message(error: &nim_profiles::Error) -> String {
    match error {
        nim_profiles::Error::Parse { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// Whether a file is `nvidia-smi --query-gpu=... --format=csv` output: its header names
/// `memory.total` or `pci.device_id`, or (without header) rows of PCI ids and MiB.
fn looks_like_smi(text: &str) -> bool {
    let Some(first) = text.lines().find(|l| !l.trim().is_empty()) else {
        return false;
    };
    let first = first.to_ascii_lowercase();
    first.contains("memory.total")
        || first.contains("pci.device_id")
        || (first.matches(',').count() >= 2 && (first.contains("mib") || first.contains("0x")))
}

// ---------------------------------------------------------------------------------------------
// The plan
// ---------------------------------------------------------------------------------------------

fn run(args: &Args) -> Result<(), Failure> {
    let scenario = Scenario::resolve(args)?;
    let style = Style::detect();

    // 1. Profile.
    let (candidates, manifest_path) = match &scenario.manifest {
        Some(path) => {
            let manifest = Manifest::from_file(Path::new(path))
                .map_err(|e| Failure::input(format!("--manifest: {e}")))?;
            if manifest.profiles.is_empty() {
                return Err(Failure::input(format!("--manifest {path}: no profiles")));
            }
            (manifest.profiles, Some(path.clone()))
        }
        None => (profiles::derived(&scenario.arch, &scenario.inventory), None),
    };
    let options = selection_options(&scenario);
    let selection = select(&candidates, &scenario.inventory, &options);
    let profile_json = profile_json(&scenario, &selection, manifest_path.as_deref());

    let Some(decision) = selection.selected() else {
        return Err(nothing_runs(
            &scenario,
            &candidates,
            &selection,
            &profile_json,
            style,
        ));
    };
    let profile = &decision.profile;
    let group_index = decision.group.unwrap_or(0);
    let group = scenario
        .inventory
        .groups
        .get(group_index)
        .ok_or_else(|| Failure::input("the selected profile has no GPU group"))?;
    let gpu = profiles::effective_gpu(group);

    // 2. Memory per GPU.
    let precision = profiles::precision_of(profile)
        .unwrap_or_else(|| advice::default_precision(&scenario.arch, &gpu));
    let engine = profiles::engine_of(profile);
    let sizing = Sizing::new(scenario.arch.clone(), gpu.clone())
        .tp(profile.tp)
        .pp(profile.pp)
        .precision(precision)
        .engine(engine.clone())
        .max_model_len(scenario.context);
    let plan = sizing.plan().map_err(|e| {
        Failure::unplannable(format!(
            "{} cannot be sized: {}",
            profile.display_name(),
            e.to_string().replace("--max-model-len", "--context")
        ))
    })?;
    if !plan.fits {
        return Err(profile_does_not_fit(&scenario, decision, &plan));
    }
    let memory = Memory::new(&sizing, plan);

    // 5. Autoscaling (before storage: the access mode depends on the replicas).
    let autoscaling = recommend(
        scenario.workload,
        memory.plan.kv_cache_tokens,
        true,
        Some(scenario.concurrency),
    )
    .map_err(|e| {
        Failure::unplannable(format!(
            "--workload {}: {}; change: a longer --context on more GPUs, or FP8",
            scenario.workload,
            e.to_string().trim_start_matches("kv_tokens_per_replica: ")
        ))
    })?;

    // 3. Storage.
    let storage = StoragePlan::new(&scenario, profile, precision, &engine, &autoscaling)?;

    // 4. Placement.
    let placement = PlacementPlan::new(
        &scenario,
        profile,
        group,
        &gpu,
        precision,
        &engine,
        &memory.plan,
        &autoscaling,
    );

    // 6. Manifests.
    let name = manifests::object_name(&scenario.nim_name);
    let pinned = pinned_profile(profile, manifest_path.is_some());
    let summary = format!(
        "{} on {} ({} GPU{} per replica), {} workload, context {}: generated by `cargo run --example plan`",
        scenario.nim_name,
        group.gpu.id,
        profile.num_gpus,
        if profile.num_gpus == 1 { "" } else { "s" },
        scenario.workload,
        scenario.context
    );
    let built = manifests::build(&manifests::Inputs {
        nim_name: &scenario.nim_name,
        name: &name,
        namespace: &scenario.namespace,
        storage_class: scenario.storage_class.as_deref(),
        profile: &pinned,
        pvc_size: &storage.pvc.quantity,
        access_mode: storage.access_mode,
        probe: &storage.probe,
        autoscaling: &autoscaling,
        tp: profile.tp,
        pp: profile.pp,
        nvlink: group.has_nvlink(),
        summary,
    })
    .map_err(Failure::input)?;
    let all_yaml = format!(
        "{}---\n{}---\n{}",
        built.nimcache_yaml, built.nimservice_yaml, built.scaledobject_yaml
    );
    let report = nim_crds::lint::lint_str("plan.yaml", &all_yaml);
    if report.error_count() + report.warning_count() > 0 {
        eprintln!("{report}");
        return Err(Failure::unplannable(
            "the generated manifests do not lint clean (a bug in plan): see the diagnostics above",
        ));
    }
    let written = match &scenario.out {
        Some(dir) => write_manifests(dir, &built)?,
        None => Vec::new(),
    };

    if scenario.json {
        let document = json!({
            "scenario": scenario.json(),
            "profile": profile_json,
            "memory": memory.json(),
            "storage": storage.json(),
            "placement": placement.json(),
            "autoscaling": autoscaling_json(&scenario, &autoscaling, profile.pp > 1),
            "manifests": manifests_json(&built, &pinned, &written)?,
        });
        let text = serde_json::to_string_pretty(&document)
            .map_err(|e| Failure::input(format!("cannot render JSON: {e}")))?;
        println!("{text}");
    } else {
        let mut out = String::new();
        out.push_str(&style.paint(Paint::Bold, &scenario.title()));
        out.push_str("\n\n");
        out.push_str(&profile_text(
            &scenario,
            &selection,
            manifest_path.as_deref(),
            style,
        ));
        out.push('\n');
        out.push_str(&memory.text(decision, style));
        out.push('\n');
        out.push_str(&storage.text(style));
        out.push('\n');
        out.push_str(&placement.text(style));
        out.push('\n');
        out.push_str(&autoscaling_text(
            &scenario,
            &autoscaling,
            profile.pp > 1,
            style,
        ));
        out.push('\n');
        out.push_str(&manifests_text(&built, &written, style));
        print!("{out}");
    }
    Ok(())
}

/// The selection options: the model sizes every profile at `--context`; `--precision` and
/// `--engine` act as NIM_TAGS_SELECTOR.
fn selection_options(scenario: &Scenario) -> SelectionOptions {
    let mut options = SelectionOptions {
        model: Some(scenario.arch.clone()),
        min_kv_tokens: scenario.context,
        ..SelectionOptions::default()
    };
    if let Some(precision) = &scenario.precision {
        options
            .tags
            .push(("precision".to_owned(), precision.clone()));
    }
    if let Some(engine) = &scenario.engine {
        options
            .tags
            .push(("llm_engine".to_owned(), engine.as_str().to_owned()));
    }
    options
}

/// What the manifests pin: the id of a manifest's profile, the name of a derived one (its id is
/// a digest, not an NGC id; NIM accepts names in NIM_MODEL_PROFILE).
fn pinned_profile(profile: &Profile, from_manifest: bool) -> String {
    if from_manifest {
        profile.id.clone()
    } else {
        profile.display_name().to_owned()
    }
}

// ---------------------------------------------------------------------------------------------
// 1. Profile
// ---------------------------------------------------------------------------------------------

fn source_label(manifest: Option<&str>) -> String {
    match manifest {
        Some(path) => format!("from the manifest {path}"),
        None => format!(
            "{}: the profiles NIM publishes for such a model, from the catalogs (TensorRT-LLM per \
             GPU family, generic vLLM, TP 1/2/4/8)",
            profiles::DERIVED_LABEL
        ),
    }
}

fn profile_json(scenario: &Scenario, selection: &Selection, manifest: Option<&str>) -> Value {
    let mut rank = 0;
    let entries: Vec<Value> = selection
        .decisions
        .iter()
        .map(|d| {
            let rank = if d.verdict == Verdict::Rejected {
                Value::Null
            } else {
                rank += 1;
                Value::from(rank)
            };
            let rule = match &d.verdict {
                Verdict::Runnable { rule } => serde_json::to_value(rule).unwrap_or(Value::Null),
                _ => Value::Null,
            };
            let p = &d.profile;
            json!({
                "rank": rank,
                "id": p.id,
                "name": p.name,
                "verdict": d.verdict.as_str(),
                "rule": rule,
                "engine": p.engine.as_str(),
                "precision": p.precision,
                "tp": p.tp,
                "pp": p.pp,
                "qos": p.qos.map(|q| q.as_str()),
                "gpu": p.gpu,
                "gpu_device": p.gpu_device,
                "num_gpus": p.num_gpus,
                "reasons": d.reasons,
            })
        })
        .collect();
    let selected = selection.selected().map(|d| {
        let p = &d.profile;
        json!({
            "id": p.id,
            "name": p.name,
            "pinned_as": pinned_profile(p, manifest.is_some()),
            "engine": p.engine.as_str(),
            "precision": p.precision,
            "tp": p.tp,
            "pp": p.pp,
            "qos": p.qos.map(|q| q.as_str()),
            "gpu": p.gpu,
            "gpu_device": p.gpu_device,
            "num_gpus": p.num_gpus,
            "reasons": d.reasons,
        })
    });
    json!({
        "source": if manifest.is_some() { "manifest" } else { "derived" },
        "label": source_label(manifest),
        "manifest": manifest,
        "selector": {
            "precision": scenario.precision,
            "llm_engine": scenario.engine.as_ref().map(Engine::as_str),
        },
        "min_kv_tokens": scenario.context,
        "selected": selected,
        "profiles": entries,
    })
}

fn profile_text(
    scenario: &Scenario,
    selection: &Selection,
    manifest: Option<&str>,
    style: Style,
) -> String {
    let mut out = style.heading(1, "Profile", &source_label(manifest));
    let mut table = Table::new(&[
        "rank",
        "verdict",
        "engine",
        "precision",
        "tp x pp",
        "qos",
        "gpu",
        "profile",
        "why",
    ]);
    let mut rank = 0;
    for decision in &selection.decisions {
        let p = &decision.profile;
        let (rank_text, paint) = match decision.verdict {
            Verdict::Rejected => ("-".to_owned(), Some(Paint::Dim)),
            Verdict::Selected => {
                rank += 1;
                (rank.to_string(), Some(Paint::Green))
            }
            Verdict::Runnable { .. } => {
                rank += 1;
                (rank.to_string(), None)
            }
        };
        let why = match &decision.verdict {
            Verdict::Selected => "the highest-ranked runnable profile".to_owned(),
            Verdict::Runnable { rule } => format!("lost: {rule}"),
            Verdict::Rejected => format!(
                "cannot run: {}",
                profiles::deciding_reasons(&decision.reasons).join("; ")
            ),
        };
        table.row(
            [
                rank_text,
                decision.verdict.as_str().to_owned(),
                p.engine.as_str().to_owned(),
                p.precision.clone().unwrap_or_else(|| "-".to_owned()),
                format!("{}x{}", p.tp, p.pp),
                p.qos.map_or("-", |q| q.as_str()).to_owned(),
                p.gpu.clone().unwrap_or_else(|| "any".to_owned()),
                p.display_name().to_owned(),
                why,
            ],
            paint,
        );
    }
    out.push_str(&table.render(style));
    match selection.selected() {
        Some(d) => {
            let line = format!(
                "  selected: {} (id {}){}",
                d.profile.display_name(),
                d.profile.id,
                if manifest.is_none() { ", derived" } else { "" }
            );
            out.push_str(&style.paint(Paint::Green, &line));
            out.push('\n');
        }
        None => {
            out.push_str(&style.paint(
                Paint::Red,
                &format!(
                    "  no profile runs {} at --context {} on {}",
                    scenario.nim_name, scenario.context, scenario.inventory
                ),
            ));
            out.push('\n');
        }
    }
    out
}

/// Nothing is runnable: what to change. Prints the profile section (text) or a JSON document
/// with `error` before the message goes to standard error.
fn nothing_runs(
    scenario: &Scenario,
    candidates: &[Profile],
    selection: &Selection,
    profile_json: &Value,
    style: Style,
) -> Failure {
    let group = scenario
        .inventory
        .groups
        .iter()
        .max_by_key(|g| (g.memory_per_gpu(), g.count))
        .unwrap_or(&scenario.inventory.groups[0]);
    let mut changes = advice::changes(&advice::Ask {
        arch: &scenario.arch,
        group,
        context: scenario.context,
        precision: scenario.precision.as_deref(),
        engine: scenario.engine.as_ref(),
        typical_tokens: scenario.workload.policy().typical_request_tokens,
    });
    // Only the selector stands in the way?
    if scenario.precision.is_some() || scenario.engine.is_some() {
        let mut options = selection_options(scenario);
        options.tags.clear();
        if let Some(d) = select(candidates, &scenario.inventory, &options).selected() {
            let name = d.profile.display_name();
            let fp8 = changes
                .iter()
                .position(|c| c.starts_with("FP8 (--precision fp8)"));
            match fp8 {
                Some(index) if d.profile.precision.as_deref() == Some("fp8") => {
                    changes[index] = format!("FP8 (--precision fp8: NIM then selects {name})");
                }
                _ => {
                    let flags: Vec<String> = [
                        scenario
                            .precision
                            .as_ref()
                            .map(|p| format!("--precision {p}")),
                        scenario
                            .engine
                            .as_ref()
                            .map(|e| format!("--engine {}", e.as_str())),
                    ]
                    .into_iter()
                    .flatten()
                    .collect();
                    changes.push(format!(
                        "no {} (NIM then selects {name})",
                        flags.join(" and ")
                    ));
                }
            }
        }
    }
    let closest = selection
        .decisions
        .iter()
        .filter(|d| d.verdict == Verdict::Rejected)
        .min_by_key(|d| {
            let reasons = profiles::deciding_reasons(&d.reasons);
            let selector = reasons.iter().any(|r| r.contains("the selector"));
            (selector, reasons.len())
        });
    let why = match closest {
        Some(d) => format!(
            "every profile is rejected; the closest, {}: {}",
            d.profile.display_name(),
            profiles::deciding_reasons(&d.reasons).join("; ")
        ),
        None => "no profile to select from".to_owned(),
    };
    let needs = if changes.is_empty() {
        "no single node of a catalog GPU holds it at this context: shorten --context, or deploy \
         it multi-node with a manifest that has such profiles (--manifest)"
            .to_owned()
    } else {
        format!("needs {}", changes.join(", or "))
    };
    let message = format!(
        "{} does not run on {} at --context {}: {why}. It {needs}",
        scenario.nim_name, scenario.inventory, scenario.context
    );
    if scenario.json {
        let document = json!({
            "scenario": scenario.json(),
            "profile": profile_json,
            "error": {"message": message, "changes": changes},
        });
        if let Ok(text) = serde_json::to_string_pretty(&document) {
            println!("{text}");
        }
    } else {
        print!(
            "{}\n\n{}",
            style.paint(Paint::Bold, &scenario.title()),
            profile_text(scenario, selection, scenario.manifest.as_deref(), style)
        );
    }
    Failure::unplannable(message)
}

/// The selected profile does not hold one request of the context (its manifest's minimum
/// memory was met, the sizing says otherwise).
fn profile_does_not_fit(scenario: &Scenario, decision: &Decision, plan: &MemoryPlan) -> Failure {
    let fixes: Vec<String> = plan
        .fixes
        .iter()
        .map(|f| f.replace("--max-model-len", "--context"))
        .collect();
    Failure::unplannable(format!(
        "NIM would select {} on {}, but at --context {} it does not fit: {}{}",
        decision.profile.display_name(),
        scenario.inventory,
        scenario.context,
        plan.reasons.first().cloned().unwrap_or_default(),
        if fixes.is_empty() {
            String::new()
        } else {
            format!("; change: {}", fixes.join(", or "))
        }
    ))
}

// ---------------------------------------------------------------------------------------------
// 2. Memory per GPU
// ---------------------------------------------------------------------------------------------

struct Memory {
    plan: MemoryPlan,
    engine: EngineModel,
    gpu: GpuSpec,
    /// Visible memory the engine leaves alone.
    free: Bytes,
    single: Roofline,
    batch: Roofline,
}

impl Memory {
    fn new(sizing: &Sizing, plan: MemoryPlan) -> Self {
        let free = plan
            .gpu_memory_bytes
            .saturating_sub(plan.weights_bytes_per_gpu)
            .saturating_sub(plan.activation_bytes)
            .saturating_sub(plan.non_torch_bytes)
            .saturating_sub(plan.kv_cache_bytes_per_gpu);
        let context = plan.max_model_len;
        let single = roofline(sizing, &plan, context, 1);
        let batch_size = (plan.max_concurrency.floor() as u64).max(1);
        let batch = roofline(sizing, &plan, context, batch_size);
        Self {
            engine: sizing.engine.clone(),
            gpu: sizing.gpu.clone(),
            plan,
            free,
            single,
            batch,
        }
    }

    fn json(&self) -> Value {
        let mut value = serde_json::to_value(&self.plan).unwrap_or(Value::Null);
        if let Some(object) = value.as_object_mut() {
            object.insert("context".to_owned(), Value::from(self.plan.max_model_len));
            object.insert(
                "overhead_bytes_per_gpu".to_owned(),
                Value::from((self.plan.activation_bytes + self.plan.non_torch_bytes).get()),
            );
            object.insert(
                "free_bytes_per_gpu".to_owned(),
                Value::from(self.free.get()),
            );
            object.insert(
                "roofline".to_owned(),
                json!({"single": self.single, "batch": self.batch}),
            );
        }
        value
    }

    fn text(&self, decision: &Decision, style: Style) -> String {
        let plan = &self.plan;
        let mut out = style.heading(
            2,
            "Memory per GPU",
            &format!(
                "{}, {} weights, KV cache {}, TP {} x PP {}, context {}",
                plan.engine,
                plan.precision,
                if plan.kv_cache_dtype == "auto" {
                    "in the model's 16-bit dtype"
                } else {
                    plan.kv_cache_dtype.as_str()
                },
                plan.tp,
                plan.pp,
                grouped(plan.max_model_len)
            ),
        );
        let budget = match self.engine.kind {
            EngineKind::Vllm => format!(
                "vLLM budget {} (gpu_memory_utilization {})",
                plan.memory_budget_bytes, self.engine.memory_fraction
            ),
            EngineKind::TrtLlm => format!(
                "TensorRT-LLM: free_gpu_memory_fraction {} of what weights and overheads leave",
                self.engine.memory_fraction
            ),
        };
        let mut table = Table::new(&[]).right(1);
        table.row(
            [
                "GPU memory".to_owned(),
                plan.gpu_memory_bytes.to_string(),
                format!("{} as CUDA sees it", self.gpu.id),
            ],
            None,
        );
        table.row(
            [
                "weights".to_owned(),
                plan.weights_bytes_per_gpu.to_string(),
                format!(
                    "{} ({}){}",
                    plan.precision,
                    decision.profile.display_name(),
                    if plan.gpus > 1 {
                        format!(", the fullest of {} GPUs", plan.gpus)
                    } else {
                        String::new()
                    }
                ),
            ],
            None,
        );
        table.row(
            [
                "KV cache pool".to_owned(),
                plan.kv_cache_bytes_per_gpu.to_string(),
                budget,
            ],
            Some(Paint::Green),
        );
        table.row(
            [
                "overheads".to_owned(),
                (plan.activation_bytes + plan.non_torch_bytes).to_string(),
                format!(
                    "activation {} + CUDA context{} {}",
                    plan.activation_bytes,
                    if plan.tp > 1 { " and NCCL" } else { "" },
                    plan.non_torch_bytes
                ),
            ],
            None,
        );
        table.row(
            [
                "free".to_owned(),
                self.free.to_string(),
                "what the engine leaves unused".to_owned(),
            ],
            None,
        );
        table.row(
            [
                "KV per token".to_owned(),
                kib(plan.kv_bytes_per_token_per_gpu),
                "per GPU: its layers and its share of the KV heads".to_owned(),
            ],
            None,
        );
        table.row(
            [
                "KV tokens".to_owned(),
                grouped(plan.kv_cache_tokens.get()),
                format!(
                    "{} blocks of {} tokens",
                    grouped(plan.kv_cache_blocks),
                    plan.kv_block_size
                ),
            ],
            None,
        );
        table.row(
            [
                "max concurrency".to_owned(),
                format!("{:.1}", plan.max_concurrency),
                format!(
                    "requests of {} tokens at once per replica",
                    grouped(plan.max_model_len)
                ),
            ],
            Some(Paint::Green),
        );
        table.row(
            [
                "decode bound, 1 request".to_owned(),
                format!("{:.0} tok/s", self.single.decode_tokens_per_s_single),
                format!(
                    "at {} tokens of context; at least {:.1} ms between tokens",
                    grouped(self.single.context),
                    self.single.inter_token_latency_ms
                ),
            ],
            None,
        );
        table.row(
            [
                "decode bound, full batch".to_owned(),
                format!("{:.0} tok/s", self.batch.decode_tokens_per_s_batch),
                format!(
                    "{} requests of {} tokens at once (roofline: memory bandwidth {})",
                    self.batch.batch,
                    grouped(self.batch.context),
                    self.gpu.bandwidth
                ),
            ],
            None,
        );
        table.row(
            [
                "prefill bound".to_owned(),
                format!("{:.0} tok/s", self.single.prefill_tokens_per_s),
                format!("{} per GPU", self.single.tflops_per_gpu),
            ],
            None,
        );
        out.push_str(&table.render(style));
        out
    }
}

/// Bytes below 1 MiB in KiB (`128 KiB`), else as [`Bytes`] displays them.
fn kib(bytes: Bytes) -> String {
    if bytes.get() < 1 << 20 && bytes.get() >= 1 << 10 {
        let kib = bytes.get() as f64 / 1024.0;
        if bytes.get().is_multiple_of(1024) {
            format!("{kib:.0} KiB")
        } else {
            format!("{kib:.2} KiB")
        }
    } else {
        bytes.to_string()
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Storage
// ---------------------------------------------------------------------------------------------

struct StoragePlan {
    cached: Bytes,
    pvc: PvcSize,
    access_mode: &'static str,
    access_reason: String,
    storage_class: Option<String>,
    throughput: StorageThroughput,
    engine_start: Seconds,
    cold: ColdStart,
    probe: StartupProbe,
}

impl StoragePlan {
    fn new(
        scenario: &Scenario,
        profile: &Profile,
        precision: Precision,
        engine: &EngineModel,
        autoscaling: &Recommendation,
    ) -> Result<Self, Failure> {
        let cached = nim_sizing::weight_bytes(&scenario.arch, precision).total;
        let pvc = pvc_size(&[cached], DEFAULT_HEADROOM)
            .map_err(|e| Failure::input(format!("cannot size the NIMCache PVC: {e}")))?;
        let replicas = autoscaling.max_replicas;
        let (access_mode, access_reason) = if replicas > 1 || profile.pp > 1 {
            (
                "ReadWriteMany",
                format!(
                    "up to {replicas} replicas{} mount the one NIMCache PVC, on different nodes",
                    if profile.pp > 1 {
                        format!(" of {} pods each", profile.pp)
                    } else {
                        String::new()
                    }
                ),
            )
        } else {
            (
                "ReadWriteOnce",
                "one replica mounts the NIMCache PVC".to_owned(),
            )
        };
        let engine_start = match engine.kind {
            EngineKind::TrtLlm => Seconds(30.0),
            EngineKind::Vllm => Seconds(60.0),
        };
        let throughput = StorageThroughput::default();
        let cold = cold_start(cached, &throughput, engine_start);
        let probe = startup_probe(cold.cached);
        Ok(Self {
            cached,
            pvc,
            access_mode,
            access_reason,
            storage_class: scenario.storage_class.clone(),
            throughput,
            engine_start,
            cold,
            probe,
        })
    }

    fn json(&self) -> Value {
        json!({
            "cached_bytes": self.cached,
            "pvc": self.pvc,
            "pvc_size": self.pvc.quantity,
            "access_mode": self.access_mode,
            "access_mode_reason": self.access_reason,
            "storage_class": self.storage_class,
            "throughput": self.throughput,
            "engine_start_seconds": self.engine_start,
            "cold_start": self.cold,
            "startup_probe": self.probe,
        })
    }

    fn text(&self, style: Style) -> String {
        let mut out = style.heading(
            3,
            "Storage",
            "the NIMCache and how long a pod takes to start",
        );
        let slowest = [
            self.throughput.registry,
            self.throughput.network,
            self.throughput.pvc_write,
        ]
        .into_iter()
        .fold(nim_sizing::BytesPerSecond(f64::INFINITY), |a, b| {
            if b.0 < a.0 { b } else { a }
        });
        let mut table = Table::new(&[]).right(1);
        table.row(
            [
                "NIMCache PVC".to_owned(),
                self.pvc.quantity.clone(),
                format!(
                    "{}: {} of weights + {} metadata + {:.0} % headroom",
                    self.access_mode,
                    self.cached,
                    self.pvc.metadata,
                    self.pvc.headroom * 100.0
                ),
            ],
            Some(Paint::Green),
        );
        table.row(
            [
                "access mode".to_owned(),
                self.access_mode.to_owned(),
                self.access_reason.clone(),
            ],
            None,
        );
        table.row(
            [
                "storage class".to_owned(),
                self.storage_class
                    .clone()
                    .unwrap_or_else(|| "(default)".to_owned()),
                if self.access_mode == "ReadWriteMany" {
                    "must support ReadWriteMany (NFS, CephFS, EFS, Filestore, Azure Files)"
                        .to_owned()
                } else {
                    String::new()
                },
            ],
            None,
        );
        table.row(
            [
                "first start".to_owned(),
                self.cold.first.to_string(),
                format!(
                    "download {} at {} (the slowest of registry, network, PVC write) + load + \
                     engine start",
                    self.cold.download, slowest
                ),
            ],
            None,
        );
        table.row(
            [
                "start from the cache".to_owned(),
                self.cold.cached.to_string(),
                format!(
                    "load {} at {} + engine start {}",
                    self.cold.load, self.throughput.pvc_read, self.engine_start
                ),
            ],
            None,
        );
        table.row(
            [
                "startup probe".to_owned(),
                format!(
                    "{} x {} s",
                    self.probe.failure_threshold, self.probe.period_seconds
                ),
                format!(
                    "covers {}: {}",
                    self.probe.covers,
                    self.probe.reason.split(';').next().unwrap_or_default()
                ),
            ],
            Some(Paint::Green),
        );
        out.push_str(&table.render(style));
        out
    }
}

// ---------------------------------------------------------------------------------------------
// 4. Placement
// ---------------------------------------------------------------------------------------------

struct PlacementPlan {
    gpu: GpuSpec,
    group: GpuGroup,
    gpus: u64,
    tp: u64,
    pp: u64,
    nodes: u64,
    gpus_per_node: u32,
    nvlink_required: bool,
    nvlink_available: bool,
    smallest: Option<Placement>,
    context: u64,
    warnings: Vec<String>,
    notes: Vec<String>,
}

impl PlacementPlan {
    #[allow(clippy::too_many_arguments)]
    fn new(
        scenario: &Scenario,
        profile: &Profile,
        group: &GpuGroup,
        gpu: &GpuSpec,
        precision: Precision,
        engine: &EngineModel,
        plan: &MemoryPlan,
        autoscaling: &Recommendation,
    ) -> Self {
        let gpus_per_node = group.count.clamp(1, GPUS_PER_NODE);
        let nodes_available = group.count.div_ceil(gpus_per_node);
        let gpus = profile.num_gpus.max(1);
        let nodes = gpus.div_ceil(u64::from(gpus_per_node)).max(1);
        let nvlink_available = group.has_nvlink();
        let nvlink_required = profile.tp > 1;
        let smallest = PlacementRequest::new(scenario.arch.clone())
            .precision(precision)
            .engine(engine.clone())
            .max_model_len(scenario.context)
            .virtualized(group.vgpu)
            .max_nodes(nodes_available)
            .on_inventory(&[NodePool {
                gpu: gpu.clone(),
                gpus_per_node,
                nodes: nodes_available,
            }])
            .ok();

        let mut warnings = Vec::new();
        let mut notes = Vec::new();
        if group.vgpu && !nvlink_available && group.count > 1 {
            warnings.push(format!(
                "{} under vGPU cannot run multi-GPU models: without NVLink there is no \
                 peer-to-peer between virtual GPUs, so every TP > 1 profile is rejected; each of \
                 the {} GPUs can serve a replica of its own",
                group.gpu.id, group.count
            ));
        }
        if nvlink_required && !nvlink_available && !group.vgpu {
            warnings.push(format!(
                "TP {} over PCIe: {} has no NVLink here, so every layer's all-reduce crosses \
                 PCIe (slower); the NIMService gets /dev/shm of {} \
                 (storage.sharedMemorySizeLimit), as NIM requires for multi-GPU without NVLink",
                profile.tp,
                group.gpu.id,
                manifests::SHM_WITHOUT_NVLINK
            ));
        }
        let checkpoint = advice::default_precision(&scenario.arch, gpu);
        if gpus > 1 || precision != checkpoint {
            let single = Sizing::new(scenario.arch.clone(), gpu.clone())
                .precision(checkpoint)
                .engine(engine.clone())
                .max_model_len(scenario.context)
                .plan();
            if let Ok(single) = single {
                let label = format!(
                    "{} in {} on one {} ({})",
                    scenario.nim_name, checkpoint, gpu.id, gpu.visible_memory
                );
                if single.kv_cache_bytes_per_gpu == Bytes::ZERO {
                    warnings.push(format!(
                        "{label} leaves no KV cache: {} of weights and {} of overheads fill it; \
                         this plan runs {} on {} GPU{}",
                        single.weights_bytes_per_gpu,
                        single.activation_bytes + single.non_torch_bytes,
                        precision,
                        gpus,
                        if gpus == 1 { "" } else { "s" }
                    ));
                } else if !single.fits {
                    warnings.push(format!(
                        "{label} does not hold one request of {} tokens; this plan runs {} on {} \
                         GPU{}",
                        scenario.context,
                        precision,
                        gpus,
                        if gpus == 1 { "" } else { "s" }
                    ));
                }
            }
        }
        if plan.max_concurrency < 2.0 {
            warnings.push(format!(
                "one replica's KV cache holds only {:.1} requests of {} tokens: more wait in the \
                 queue; a shorter --context or more GPUs per replica hold more",
                plan.max_concurrency, scenario.context
            ));
        }
        warnings.extend(plan.reasons.iter().filter(|r| r.contains("W8A16")).cloned());
        if let Some(free) = group.free_memory {
            notes.push(format!(
                "sized on the {free} free per GPU that the inventory reports, not the {} of the GPU",
                group.gpu.visible_memory
            ));
        }
        if let Some(slice) = &group.mig {
            notes.push(format!(
                "MIG slice {}: only generic profiles run, and without NVLink",
                slice.name
            ));
        }
        if let Some(chosen) = smallest.as_ref().and_then(|p| p.chosen.as_ref())
            && chosen.gpus < gpus
        {
            notes.push(format!(
                "NIM's selected profile uses {gpus} GPUs, but {} GPU{} (TP {} x PP {}) hold{} a \
                 request of {} tokens: to run more, smaller replicas, pin a TP {} profile",
                chosen.gpus,
                if chosen.gpus == 1 { "" } else { "s" },
                chosen.tp,
                chosen.pp,
                if chosen.gpus == 1 { "s" } else { "" },
                scenario.context,
                chosen.tp
            ));
        }
        let spare = u64::from(group.count).saturating_sub(gpus);
        if spare >= gpus {
            notes.push(format!(
                "{spare} of the {} GPUs are left over: room for {} more replica{} of {gpus} GPU{} \
                 (the autoscaler may run up to {})",
                group.count,
                spare / gpus,
                if spare / gpus == 1 { "" } else { "s" },
                if gpus == 1 { "" } else { "s" },
                autoscaling.max_replicas
            ));
        }
        if nodes > 1 || profile.pp > 1 {
            notes.push(format!(
                "{} pods of TP {} per replica: a LeaderWorkerSet (NIMService multiNode), which \
                 the operator does not autoscale",
                profile.pp, profile.tp
            ));
        }
        Self {
            gpu: gpu.clone(),
            group: group.clone(),
            gpus,
            tp: profile.tp,
            pp: profile.pp,
            nodes,
            gpus_per_node,
            nvlink_required,
            nvlink_available,
            smallest,
            context: scenario.context,
            warnings,
            notes,
        }
    }

    fn nvlink_text(&self) -> &'static str {
        match (self.nvlink_required, self.nvlink_available) {
            (false, _) => "not needed (one GPU per pipeline stage)",
            (true, true) => "required, present",
            (true, false) if self.group.vgpu => "required, missing: cannot run",
            (true, false) => "required for speed, missing: PCIe",
        }
    }

    fn json(&self) -> Value {
        json!({
            "gpu": self.gpu.id,
            "gpu_name": self.gpu.name,
            "gpus": self.gpus,
            "tp": self.tp,
            "pp": self.pp,
            "nodes": self.nodes,
            "gpus_per_node": self.gpus_per_node,
            "nvlink_required": self.nvlink_required,
            "nvlink_available": self.nvlink_available,
            "virtualized": self.group.vgpu,
            "group": self.group.to_string(),
            "smallest": self.smallest.as_ref().and_then(|p| p.chosen.as_ref()),
            "candidates": self.smallest.as_ref().map(|p| &p.candidates),
            "warnings": self.warnings,
            "notes": self.notes,
        })
    }

    fn text(&self, style: Style) -> String {
        let mut out = style.heading(4, "Placement", &format!("on {}", self.group));
        let mut table = Table::new(&[]);
        table.row(
            [
                "GPUs per replica".to_owned(),
                format!("{} x {}", self.gpus, self.gpu.id),
                format!(
                    "TP {} x PP {} on {} node{}",
                    self.tp,
                    self.pp,
                    self.nodes,
                    if self.nodes == 1 { "" } else { "s" }
                ),
            ],
            Some(Paint::Green),
        );
        table.row(
            [
                "NVLink".to_owned(),
                self.nvlink_text().to_owned(),
                if self.nvlink_required {
                    format!("TP {} all-reduces every layer", self.tp)
                } else {
                    String::new()
                },
            ],
            None,
        );
        table.row(
            [
                "vGPU".to_owned(),
                if self.group.vgpu { "yes" } else { "no" }.to_owned(),
                String::new(),
            ],
            None,
        );
        out.push_str(&table.render(style));
        if let Some(placement) = &self.smallest {
            out.push_str(&format!(
                "  smallest layouts for one request of {} tokens:\n",
                grouped(self.context)
            ));
            let mut table = Table::new(&["gpus", "tp x pp", "nodes", "concurrency", "verdict"])
                .right(0)
                .right(3);
            for candidate in &placement.candidates {
                let chosen = candidate.rejected.is_none();
                table.row(
                    [
                        candidate.gpus.to_string(),
                        format!("{}x{}", candidate.tp, candidate.pp),
                        candidate.nodes.to_string(),
                        candidate
                            .max_concurrency
                            .map_or_else(|| "-".to_owned(), |c| format!("{c:.1}")),
                        candidate
                            .rejected
                            .clone()
                            .unwrap_or_else(|| "the smallest that works".to_owned()),
                    ],
                    if chosen { None } else { Some(Paint::Dim) },
                );
            }
            out.push_str(&table.render(style));
        }
        for warning in &self.warnings {
            out.push_str(&style.paint(Paint::Yellow, &format!("  warning: {warning}")));
            out.push('\n');
        }
        for note in &self.notes {
            out.push_str(&format!("  note: {note}\n"));
        }
        out
    }
}

// ---------------------------------------------------------------------------------------------
// 5. Autoscaling
// ---------------------------------------------------------------------------------------------

fn autoscaling_json(scenario: &Scenario, rec: &Recommendation, multi_node: bool) -> Value {
    let mut value = serde_json::to_value(rec).unwrap_or(Value::Null);
    if let Some(object) = value.as_object_mut() {
        object.insert(
            "peak_concurrency".to_owned(),
            Value::from(scenario.concurrency),
        );
        object.insert(
            "typical_request_tokens".to_owned(),
            Value::from(scenario.workload.policy().typical_request_tokens),
        );
        object.insert(
            "metrics".to_owned(),
            json!({"kv_cache": manifests::KV_METRIC, "running_requests": manifests::RUNNING_METRIC}),
        );
        object.insert(
            "autoscaler".to_owned(),
            Value::from(if multi_node {
                "none: a multiNode NIMService cannot autoscale (CRD rule) and runs minReplicas \
                 replicas; the KEDA ScaledObject targets its LeaderWorkerSet"
            } else {
                "NIMService spec.scale (the operator's HPA); the KEDA ScaledObject is an alternative"
            }),
        );
    }
    value
}

fn autoscaling_text(
    scenario: &Scenario,
    rec: &Recommendation,
    multi_node: bool,
    style: Style,
) -> String {
    let policy = scenario.workload.policy();
    let mut out = style.heading(
        5,
        "Autoscaling",
        &format!(
            "{} workload: requests of ~{} tokens, {} at peak",
            scenario.workload,
            grouped(policy.typical_request_tokens),
            grouped(scenario.concurrency)
        ),
    );
    let mut table = Table::new(&[]).right(1);
    table.row(
        [
            "replicas".to_owned(),
            format!("{} to {}", rec.min_replicas, rec.max_replicas),
            "minReplicas / maxReplicas".to_owned(),
        ],
        Some(Paint::Green),
    );
    table.row(
        [
            "KV-cache usage".to_owned(),
            format!("{:.0} %", rec.kv_cache_target * 100.0),
            format!("{} per pod", manifests::KV_METRIC),
        ],
        None,
    );
    table.row(
        [
            "running requests".to_owned(),
            rec.concurrency_per_replica
                .map_or_else(|| "-".to_owned(), |c| c.to_string()),
            format!(
                "{} per pod; the KV cache holds {} such requests",
                manifests::RUNNING_METRIC,
                rec.kv_capacity_requests
            ),
        ],
        None,
    );
    table.row(
        [
            "scale-out window".to_owned(),
            rec.scale_out_window.to_string(),
            "stabilization before adding pods (up to 2 per minute)".to_owned(),
        ],
        None,
    );
    table.row(
        [
            "scale-in cooldown".to_owned(),
            rec.scale_in_cooldown.to_string(),
            "stabilization before removing a pod (1 per 2 minutes)".to_owned(),
        ],
        None,
    );
    out.push_str(&table.render(style));
    for reason in &rec.reasons {
        out.push_str(&format!("  - {reason}\n"));
    }
    if multi_node {
        out.push_str(&style.paint(
            Paint::Yellow,
            "  warning: a multiNode NIMService cannot autoscale (CRD rule): it runs minReplicas \
             replicas; the ScaledObject targets its LeaderWorkerSet, which the operator may \
             reset to spec.replicas",
        ));
        out.push('\n');
    }
    out
}

// ---------------------------------------------------------------------------------------------
// 6. Manifests
// ---------------------------------------------------------------------------------------------

const FILES: [&str; 3] = ["nimcache.yaml", "nimservice.yaml", "scaledobject.yaml"];

fn write_manifests(dir: &Path, built: &Manifests) -> Result<Vec<String>, Failure> {
    std::fs::create_dir_all(dir)
        .map_err(|e| Failure::input(format!("--out {}: cannot create it: {e}", dir.display())))?;
    let mut written = Vec::new();
    for (file, text) in FILES.into_iter().zip([
        &built.nimcache_yaml,
        &built.nimservice_yaml,
        &built.scaledobject_yaml,
    ]) {
        let path = dir.join(file);
        std::fs::write(&path, text).map_err(|e| {
            Failure::input(format!("--out {}: cannot write {file}: {e}", dir.display()))
        })?;
        written.push(path.display().to_string());
    }
    Ok(written)
}

fn manifests_json(built: &Manifests, pinned: &str, written: &[String]) -> Result<Value, Failure> {
    let value = |object: Result<Value, serde_json::Error>| {
        object.map_err(|e| Failure::input(format!("cannot render a manifest: {e}")))
    };
    Ok(json!({
        "nimcache": value(serde_json::to_value(&built.nimcache))?,
        "nimservice": value(serde_json::to_value(&built.nimservice))?,
        "scaledobject": value(serde_json::to_value(&built.scaledobject))?,
        "yaml": {
            "nimcache": built.nimcache_yaml,
            "nimservice": built.nimservice_yaml,
            "scaledobject": built.scaledobject_yaml,
        },
        "pinned_profile": pinned,
        "lint": {"errors": 0, "warnings": 0},
        "files": written,
    }))
}

fn manifests_text(built: &Manifests, written: &[String], style: Style) -> String {
    let mut out = style.heading(
        6,
        "Manifests",
        "NIMCache, NIMService, KEDA ScaledObject (the alternative autoscaler); lint: 0 errors, 0 \
         warnings",
    );
    if written.is_empty() {
        out.push('\n');
        out.push_str(&built.nimcache_yaml);
        out.push_str("---\n");
        out.push_str(&built.nimservice_yaml);
        out.push_str("---\n");
        out.push_str(&built.scaledobject_yaml);
    } else {
        for path in written {
            out.push_str(&format!("  wrote {path}\n"));
        }
    }
    out
}
