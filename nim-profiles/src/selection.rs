//! Profile selection as NIM does it: filter, then rank, with a verdict for every profile.
//!
//! **Filter** (NIM 1.x docs, "Compatibility Check"; `PROFILES-SIZING.md` §1.5, §1.11): a profile
//! is runnable when all of these hold, and every one that fails is reported:
//!
//! * its engine is one the image carries (when [`SelectionOptions::engines`] says which);
//! * LoRA: with LoRA enabled only LoRA profiles run ("does not support LoRA, but LoRA is
//!   enabled. Skipping profile."), without it only the others;
//! * the GPU: a hardware-specific profile needs GPUs of its PCI device (`gpu_device`, the
//!   precise test) or, without one, of its `gpu` family; a generic profile runs on any GPU;
//! * enough of them: `number_of_gpus` (else `tp × pp`) GPUs of one group;
//! * the interconnect: several virtual GPUs (vGPU) need NVLink between them;
//! * the precision: FP8 needs compute capability 8.9, BF16 8.0, NVFP4 10.0 (Blackwell);
//! * the memory: `min_vram_per_device_gb` when the manifest gives it, else (with a model
//!   architecture) the weights plus a minimum KV cache, sized by `nim-sizing` for the
//!   profile's engine;
//! * the tag selector (`NIM_TAGS_SELECTOR`), when given.
//!
//! **Rank** the runnable ones, each rule deciding only on a tie of the ones before it:
//! hardware-specific over generic; TensorRT-LLM over vLLM over SGLang; lower precision first;
//! latency over throughput (configurable); higher TP; then the id, so that the choice does not
//! depend on manifest order. The first is selected; each other runnable profile names the rule
//! that put the selected one ahead of it.
//!
//! ```
//! use nim_profiles::{Engine, Inventory, Profile, selection::{SelectionOptions, Verdict, select}};
//! use std::collections::BTreeMap;
//!
//! let tags = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>();
//! let profiles = vec![
//!     Profile::from_tags("a".repeat(64), tags(&[("llm_engine", "vllm"), ("precision", "bf16"), ("tp", "1")]))?,
//!     Profile::from_tags("b".repeat(64), tags(&[("llm_engine", "tensorrt_llm"), ("precision", "fp8"), ("tp", "1"),
//!         ("profile", "throughput"), ("gpu", "H100"), ("gpu_device", "2330:10de")]))?,
//!     Profile::from_tags("c".repeat(64), tags(&[("llm_engine", "tensorrt_llm"), ("precision", "fp8"), ("tp", "2"),
//!         ("profile", "latency"), ("gpu", "H100"), ("gpu_device", "2330:10de")]))?,
//! ];
//! let selection = select(&profiles, &"1xH100-SXM-80GB".parse::<Inventory>()?, &SelectionOptions::default());
//! assert_eq!(selection.selected().map(|d| d.profile.id.as_str()), Some("b".repeat(64).as_str()));
//! assert!(matches!(selection.verdict_of(&"c".repeat(64)), Some(Verdict::Rejected)));
//! # Ok::<(), nim_profiles::Error>(())
//! ```

use std::cmp::Ordering;
use std::fmt;

use nim_sizing::engine::EngineModel;
use nim_sizing::{Bytes, ModelArch, Precision, Sizing};
use serde::Serialize;

use crate::inventory::{GpuGroup, Inventory};
use crate::profile::{Engine, Profile, Qos};

/// How to select.
#[derive(Clone, Debug)]
pub struct SelectionOptions {
    /// Whether LoRA is enabled (`NIM_PEFT_SOURCE` set).
    pub lora: bool,
    /// The optimization target preferred on a tie (NIM: latency).
    pub prefer: Qos,
    /// Engines the image carries; `None`: every engine in the manifest.
    pub engines: Option<Vec<Engine>>,
    /// The model's architecture, to size profiles whose manifest gives no minimum memory.
    pub model: Option<ModelArch>,
    /// Tokens of KV cache a profile must leave room for on top of its weights.
    pub min_kv_tokens: u64,
    /// Skip the memory check (`NIM_RELAX_MEM_CONSTRAINTS=1`).
    pub relax_memory: bool,
    /// Tag filters (`NIM_TAGS_SELECTOR=precision=fp8,tp=1`).
    pub tags: Vec<(String, String)>,
    /// Precisions from most to least preferred; unlisted ones rank after, by name.
    pub precision_order: Vec<String>,
}

impl Default for SelectionOptions {
    /// No LoRA, latency preferred, every engine, no model, 4096 tokens of KV cache, memory
    /// checked, no tag filter, lower precision first.
    fn default() -> Self {
        Self {
            lora: false,
            prefer: Qos::Latency,
            engines: None,
            model: None,
            min_kv_tokens: 4096,
            relax_memory: false,
            tags: Vec::new(),
            precision_order: [
                "nvfp4", "mxfp4", "int4_awq", "int4", "fp8", "int8", "int8wo", "fp16", "bf16",
                "fp32",
            ]
            .map(str::to_owned)
            .to_vec(),
        }
    }
}

impl SelectionOptions {
    /// Parses `NIM_TAGS_SELECTOR` syntax (`precision=fp8,tp=1`) into [`SelectionOptions::tags`].
    ///
    /// # Errors
    /// [`crate::Error::Invalid`] for an entry without `=`.
    pub fn with_tags_selector(mut self, selector: &str) -> crate::Result<Self> {
        for entry in selector.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (key, value) = entry.split_once('=').ok_or_else(|| {
                crate::Error::invalid("NIM_TAGS_SELECTOR", format!("{entry:?} is not KEY=VALUE"))
            })?;
            self.tags
                .push((key.trim().to_owned(), value.trim().to_owned()));
        }
        Ok(self)
    }
}

/// A ranking rule, in the order they apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// Hardware-specific profiles before generic ones.
    Hardware,
    /// TensorRT-LLM, then vLLM, then SGLang, then others.
    Engine,
    /// Lower precision first.
    Precision,
    /// The preferred optimization target first.
    Qos,
    /// Higher tensor parallelism first.
    TensorParallelism,
    /// The id, so that ties do not depend on manifest order.
    Id,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rule::Hardware => "hardware-specific profiles are preferred over generic ones",
            Rule::Engine => "TensorRT-LLM is preferred over vLLM, and vLLM over SGLang",
            Rule::Precision => "lower precision is preferred",
            Rule::Qos => "the preferred optimization target (latency by default) wins",
            Rule::TensorParallelism => {
                "higher tensor parallelism is preferred when the GPUs are there"
            }
            Rule::Id => "equal on every rule; the lower id wins",
        })
    }
}

/// What became of a profile.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "verdict")]
pub enum Verdict {
    /// The one NIM would run.
    Selected,
    /// Runnable, but the selected profile ranks higher by `rule`.
    Runnable {
        /// The rule that decided.
        rule: Rule,
    },
    /// Not runnable here; the reasons say why.
    Rejected,
}

impl Verdict {
    /// `selected`, `runnable` or `rejected`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Verdict::Selected => "selected",
            Verdict::Runnable { .. } => "runnable",
            Verdict::Rejected => "rejected",
        }
    }
}

/// One profile and its verdict.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Decision {
    /// The profile.
    pub profile: Profile,
    /// Its verdict.
    pub verdict: Verdict,
    /// Why: every failed check of a rejected profile; for a runnable one, the rule that
    /// outranked it; notes (shared memory, weight sizes) for all.
    pub reasons: Vec<String>,
    /// The GPU group it would run on (index into the inventory's groups).
    pub group: Option<usize>,
}

/// Every profile with its verdict: the selected first, then the runnable ones in rank order,
/// then the rejected ones in manifest order.
#[derive(Clone, Debug, PartialEq)]
pub struct Selection {
    /// The decisions, in that order.
    pub decisions: Vec<Decision>,
}

impl Selection {
    /// The selected profile's decision.
    pub fn selected(&self) -> Option<&Decision> {
        self.decisions
            .iter()
            .find(|d| d.verdict == Verdict::Selected)
    }

    /// The runnable profiles (selected included), in rank order.
    pub fn runnable(&self) -> impl Iterator<Item = &Decision> {
        self.decisions
            .iter()
            .filter(|d| d.verdict != Verdict::Rejected)
    }

    /// The verdict of the profile with this id.
    pub fn verdict_of(&self, id: &str) -> Option<&Verdict> {
        self.decisions
            .iter()
            .find(|d| d.profile.id == id)
            .map(|d| &d.verdict)
    }
}

/// Selects among `profiles` for `inventory`; see the module docs.
pub fn select(
    profiles: &[Profile],
    inventory: &Inventory,
    options: &SelectionOptions,
) -> Selection {
    let mut runnable = Vec::new();
    let mut rejected = Vec::new();
    for profile in profiles {
        let (group, reasons, notes) = check(profile, inventory, options);
        match group {
            Some(group) if reasons.is_empty() => runnable.push(Decision {
                profile: profile.clone(),
                verdict: Verdict::Selected,
                reasons: notes,
                group: Some(group),
            }),
            _ => {
                let mut reasons = reasons;
                reasons.extend(notes);
                rejected.push(Decision {
                    profile: profile.clone(),
                    verdict: Verdict::Rejected,
                    reasons,
                    group,
                });
            }
        }
    }
    runnable.sort_by(|a, b| rank(&a.profile, &b.profile, options).0);
    if let Some((first, rest)) = runnable.split_first_mut() {
        for decision in rest {
            let (_, rule) = rank(&first.profile, &decision.profile, options);
            decision.verdict = Verdict::Runnable { rule };
            decision.reasons.insert(
                0,
                format!("outranked by {}: {rule}", first.profile.display_name()),
            );
        }
        first.reasons.insert(
            0,
            "selected: the highest-ranked runnable profile".to_owned(),
        );
    }
    runnable.extend(rejected);
    Selection {
        decisions: runnable,
    }
}

/// Compares two profiles by the ranking rules; returns the order and the rule that decided.
pub fn rank(a: &Profile, b: &Profile, options: &SelectionOptions) -> (Ordering, Rule) {
    let engine = |p: &Profile| match p.engine {
        Engine::TensorrtLlm => 0,
        Engine::Vllm => 1,
        Engine::Sglang => 2,
        Engine::Other(_) => 3,
    };
    let precision = |p: &Profile| {
        let tag = p.precision.as_deref().unwrap_or("");
        let position = options
            .precision_order
            .iter()
            .position(|known| known == tag)
            .unwrap_or(options.precision_order.len());
        (position, tag.to_owned())
    };
    let qos = |p: &Profile| match p.qos {
        Some(q) if q == options.prefer => 0,
        None => 1,
        Some(_) => 2,
    };
    let comparisons = [
        (
            Rule::Hardware,
            b.is_hardware_specific().cmp(&a.is_hardware_specific()),
        ),
        (Rule::Engine, engine(a).cmp(&engine(b))),
        (Rule::Precision, precision(a).cmp(&precision(b))),
        (Rule::Qos, qos(a).cmp(&qos(b))),
        (Rule::TensorParallelism, b.tp.cmp(&a.tp)),
        (Rule::Id, a.id.cmp(&b.id)),
    ];
    comparisons
        .into_iter()
        .find(|(_, order)| order.is_ne())
        .map_or((Ordering::Equal, Rule::Id), |(rule, order)| (order, rule))
}

/// Checks one profile: the group it would run on (the first that passes, else the first that
/// matched the GPU), the reasons it cannot run, and notes.
fn check(
    profile: &Profile,
    inventory: &Inventory,
    options: &SelectionOptions,
) -> (Option<usize>, Vec<String>, Vec<String>) {
    let mut reasons = Vec::new();
    let mut notes = Vec::new();
    if let Some(engines) = &options.engines
        && !engines.contains(&profile.engine)
    {
        reasons.push(format!("engine {} is not in this image", profile.engine));
    }
    match (options.lora, profile.lora) {
        (true, false) => reasons.push("does not support LoRA, but LoRA is enabled".to_owned()),
        (false, true) => reasons.push("a LoRA profile, and LoRA is not enabled".to_owned()),
        _ => {}
    }
    for (key, value) in &options.tags {
        match profile.tags.get(key) {
            Some(tag) if tag.eq_ignore_ascii_case(value) => {}
            Some(tag) => reasons.push(format!(
                "tag {key}={tag} does not match the selector {key}={value}"
            )),
            None => reasons.push(format!(
                "no tag {key}, which the selector requires to be {value}"
            )),
        }
    }
    if inventory.groups.is_empty() {
        reasons.push("no GPUs".to_owned());
        return (None, reasons, notes);
    }

    // Per group, the reasons it cannot host the profile; the first group without any wins.
    let mut best: Option<(usize, Vec<String>, Vec<String>)> = None;
    for (index, group) in inventory.groups.iter().enumerate() {
        let (group_reasons, group_notes) = check_group(profile, group, options);
        let better = match &best {
            None => true,
            Some((_, current, _)) => group_reasons.len() < current.len(),
        };
        if better {
            best = Some((index, group_reasons, group_notes));
        }
        if best.as_ref().is_some_and(|(_, r, _)| r.is_empty()) {
            break;
        }
    }
    let (index, group_reasons, group_notes) = best.unwrap_or_default();
    reasons.extend(group_reasons);
    notes.extend(group_notes);
    (Some(index), reasons, notes)
}

fn check_group(
    profile: &Profile,
    group: &GpuGroup,
    options: &SelectionOptions,
) -> (Vec<String>, Vec<String>) {
    let mut reasons = Vec::new();
    let mut notes = Vec::new();
    let gpu = &group.gpu;
    if let Some(device) = &profile.gpu_device {
        if gpu.pci_id() != *device
            && !gpu
                .pci_device_ids
                .iter()
                .any(|id| format!("{id:04x}:10de") == *device)
        {
            reasons.push(format!(
                "built for GPU device {device}{}, not {} ({})",
                profile
                    .gpu
                    .as_deref()
                    .map(|g| format!(" ({g})"))
                    .unwrap_or_default(),
                gpu.id,
                gpu.pci_id()
            ));
        }
    } else if let Some(family) = &profile.gpu
        && !family_matches(family, gpu)
    {
        reasons.push(format!("built for {family} GPUs, not {}", gpu.id));
    }
    if group.mig.is_some() && profile.is_hardware_specific() {
        reasons.push("hardware-specific engines do not run on MIG slices".to_owned());
    }
    let needed = profile.num_gpus.max(1);
    if u64::from(group.count) < needed {
        reasons.push(format!(
            "needs {needed} GPUs (tp {} x pp {}), {} has {}",
            profile.tp, profile.pp, gpu.id, group.count
        ));
    }
    if needed > 1 {
        if group.vgpu && !group.has_nvlink() {
            reasons.push(format!(
                "{needed} virtual GPUs without NVLink: vGPU has no peer-to-peer over PCIe"
            ));
        } else if !group.has_nvlink() {
            notes.push(
                "multi-GPU without NVLink: give the pod at least 16 GiB of shared memory \
                 (/dev/shm), as NIM requires"
                    .to_owned(),
            );
        }
    }
    let cc = gpu.compute_capability;
    let precision = profile.precision.as_deref().unwrap_or("");
    let needs = match precision {
        "fp8" => Some(((8, 9), "FP8")),
        "bf16" => Some(((8, 0), "BF16")),
        "nvfp4" => Some(((10, 0), "NVFP4")),
        // MXFP4 (gpt-oss) runs on Hopper and Blackwell.
        "mxfp4" => Some(((9, 0), "MXFP4")),
        _ => None,
    };
    if let Some(((major, minor), what)) = needs
        && (cc.major, cc.minor) < (major, minor)
    {
        reasons.push(format!(
            "{what} needs compute capability {major}.{minor}; {} has {cc}",
            gpu.id
        ));
    }
    if !options.relax_memory {
        memory_check(profile, group, options, &mut reasons, &mut notes);
    }
    (reasons, notes)
}

/// Whether a `gpu` family tag (`H100`, `h100_nvl`, `A100`, `L40S`) names this GPU: its
/// segments are the first segments of the GPU's catalog id, or the tag resolves to it.
fn family_matches(family: &str, gpu: &nim_sizing::GpuSpec) -> bool {
    let tag: Vec<String> = family
        .split(['_', '-', ' '])
        .filter(|s| !s.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    let id: Vec<&str> = gpu.id.split('-').collect();
    let prefix = tag.len() <= id.len() && tag.iter().zip(&id).all(|(t, i)| t == i);
    prefix
        || nim_sizing::gpu::builtin()
            .lookup(family)
            .is_ok_and(|known| known.id == gpu.id)
}

fn memory_check(
    profile: &Profile,
    group: &GpuGroup,
    options: &SelectionOptions,
    reasons: &mut Vec<String>,
    notes: &mut Vec<String>,
) {
    let available = group.memory_per_gpu();
    if let Some(min) = profile.min_vram_per_gpu {
        if available < min {
            reasons.push(format!(
                "needs {min} per GPU (min_vram_per_device_gb), {} offers {available}",
                group.gpu.id
            ));
        }
        return;
    }
    let Some(model) = &options.model else {
        notes.push(
            "memory not checked: no minimum in the manifest and no model architecture".to_owned(),
        );
        return;
    };
    let Some(precision) = profile
        .precision
        .as_deref()
        .and_then(|p| p.replace("wo", "").parse::<Precision>().ok())
    else {
        notes.push(format!(
            "memory not checked: precision {:?} is not one nim-sizing sizes",
            profile.precision.as_deref().unwrap_or("")
        ));
        return;
    };
    let engine = match profile.engine {
        Engine::TensorrtLlm => nim_sizing::engine::trtllm(),
        _ => EngineModel::vllm(),
    };
    let mut gpu = group.gpu.clone();
    gpu.visible_memory = available;
    let len = options
        .min_kv_tokens
        .clamp(1, model.max_position_embeddings.max(1));
    let sizing = Sizing::new(model.clone(), gpu)
        .tp(profile.tp)
        .pp(profile.pp)
        .precision(precision)
        .engine(engine)
        .max_model_len(len);
    match sizing.plan() {
        Ok(plan) if plan.fits => notes.push(format!(
            "memory: {} of weights per GPU leave {} for KV cache",
            plan.weights_bytes_per_gpu, plan.kv_cache_bytes_per_gpu
        )),
        Ok(plan) => reasons.push(format!(
            "not enough memory: {} of weights per GPU plus {len} tokens of KV cache need {} more \
             than the {available} of {}",
            plan.weights_bytes_per_gpu,
            plan.shortfall_bytes.unwrap_or(Bytes::ZERO),
            group.gpu.id
        )),
        Err(error) => reasons.push(format!("cannot be sized: {error}")),
    }
}

/// The JSON form of a selection: `{"selected": name or id, "profiles": [{"id", "name",
/// "verdict", "reasons"}]}`.
impl Serialize for Selection {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Entry<'a> {
            id: &'a str,
            name: Option<&'a str>,
            verdict: &'static str,
            #[serde(skip_serializing_if = "Option::is_none")]
            rule: Option<Rule>,
            reasons: &'a [String],
        }
        #[derive(Serialize)]
        struct Out<'a> {
            selected: Option<&'a str>,
            profiles: Vec<Entry<'a>>,
        }
        Out {
            selected: self.selected().map(|d| d.profile.display_name()),
            profiles: self
                .decisions
                .iter()
                .map(|d| Entry {
                    id: &d.profile.id,
                    name: d.profile.name.as_deref(),
                    verdict: d.verdict.as_str(),
                    rule: match d.verdict {
                        Verdict::Runnable { rule } => Some(rule),
                        _ => None,
                    },
                    reasons: &d.reasons,
                })
                .collect(),
        }
        .serialize(serializer)
    }
}

/// `NIM_MODEL_PROFILE`: the profile with this id or name, when it can run here.
///
/// NIM accepts an id or a human-readable name; so does this, matching ids exactly and names
/// without regard to case. Unlike a silent fallback, a profile that does not exist or cannot
/// run is an error naming the nearest profiles and the runnable ones.
///
/// # Errors
/// [`crate::Error::Profile`] as described.
pub fn pin<'a>(selection: &'a Selection, requested: &str) -> crate::Result<&'a Decision> {
    let wanted = requested.trim();
    let found = selection
        .decisions
        .iter()
        .find(|d| d.profile.id == wanted)
        .or_else(|| {
            selection.decisions.iter().find(|d| {
                d.profile
                    .name
                    .as_deref()
                    .is_some_and(|n| n.eq_ignore_ascii_case(wanted))
            })
        });
    let runnable: Vec<&str> = selection
        .runnable()
        .map(|d| d.profile.display_name())
        .collect();
    let runnable_text = if runnable.is_empty() {
        "none".to_owned()
    } else {
        runnable.join(", ")
    };
    match found {
        Some(decision) if decision.verdict != Verdict::Rejected => Ok(decision),
        Some(decision) => Err(crate::Error::Profile {
            requested: wanted.to_owned(),
            message: format!(
                "NIM_MODEL_PROFILE={wanted}: the profile cannot run here: {}. Runnable here: {runnable_text}",
                decision.reasons.join("; ")
            ),
        }),
        None => {
            let mut nearest: Vec<(f64, &str)> = selection
                .decisions
                .iter()
                .flat_map(|d| [Some(d.profile.id.as_str()), d.profile.name.as_deref()])
                .flatten()
                .map(|candidate| {
                    (
                        strsim::jaro_winkler(
                            &wanted.to_ascii_lowercase(),
                            &candidate.to_ascii_lowercase(),
                        ),
                        candidate,
                    )
                })
                .collect();
            nearest.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
            let nearest: Vec<&str> = nearest.into_iter().take(3).map(|(_, c)| c).collect();
            Err(crate::Error::Profile {
                requested: wanted.to_owned(),
                message: format!(
                    "NIM_MODEL_PROFILE={wanted}: no such profile in the manifest; nearest: {}. \
                     Runnable here: {runnable_text}",
                    nearest.join(", ")
                ),
            })
        }
    }
}

/// The selection as NIM's `list-model-profiles` prints it (system information, then the
/// runnable profiles in priority order, LoRA ones in their sub-list, then the incompatible
/// ones), with each verdict's reasons indented below its profile.
pub fn render_list(selection: &Selection, inventory: &Inventory) -> String {
    let mut out = String::from("SYSTEM INFO\n- Free GPUs:\n");
    let mut index = 0u32;
    for group in &inventory.groups {
        for _ in 0..group.count {
            let short = group.gpu.name.trim_start_matches("NVIDIA ");
            let nvml = group
                .gpu
                .nvml_names
                .first()
                .cloned()
                .unwrap_or_else(|| group.gpu.name.clone());
            out.push_str(&format!(
                "  -  [{}] ({index}) {nvml} ({short})\n",
                group.gpu.pci_id()
            ));
            index += 1;
        }
    }
    if index == 0 {
        out.push_str("  <None>\n");
    }
    out.push_str("MODEL PROFILES\n- Compatible with system and runnable:\n");
    let line = |d: &Decision, indent: &str, out: &mut String| {
        match &d.profile.name {
            Some(name) => out.push_str(&format!("{indent}- {} ({name})\n", d.profile.id)),
            None => out.push_str(&format!("{indent}- {}\n", d.profile.id)),
        }
        let marker = match d.verdict {
            Verdict::Selected => "selected",
            Verdict::Runnable { .. } => "runnable",
            Verdict::Rejected => "rejected",
        };
        for reason in &d.reasons {
            out.push_str(&format!("{indent}    [{marker}] {reason}\n"));
        }
    };
    let runnable: Vec<&Decision> = selection.runnable().collect();
    let (lora, plain): (Vec<&Decision>, Vec<&Decision>) =
        runnable.iter().partition(|d| d.profile.lora);
    if plain.is_empty() && lora.is_empty() {
        out.push_str("  <None>\n");
    }
    for decision in plain {
        line(decision, "  ", &mut out);
    }
    if !lora.is_empty() {
        out.push_str("  - With LoRA support:\n");
        for decision in lora {
            line(decision, "    ", &mut out);
        }
    }
    out.push_str("- Incompatible with system:\n");
    let rejected: Vec<&Decision> = selection
        .decisions
        .iter()
        .filter(|d| d.verdict == Verdict::Rejected)
        .collect();
    if rejected.is_empty() {
        out.push_str("  <None>\n");
    }
    for decision in rejected {
        line(decision, "  ", &mut out);
    }
    match selection.selected() {
        Some(d) => out.push_str(&format!(
            "Selected profile: {} ({})\n",
            d.profile.id,
            d.profile.display_name()
        )),
        None => out.push_str(
            "Could not find a profile that is currently runnable with the detected hardware. \
             Please check the system information above and make sure you have enough free GPUs.\n",
        ),
    }
    out
}
