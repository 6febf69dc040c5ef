//! Which NIM profile will run on these GPUs, and why not the others?
//!
//! ```sh
//! cargo run --example profiles -- --manifest model_manifest.yaml --gpus 2xH100-SXM-80GB
//! cargo run --example profiles -- --manifest model_manifest.yaml --nvidia-smi smi.csv \
//!     --model meta/llama-3.1-70b-instruct --lora --json
//! cargo run --example profiles -- --manifest model_manifest.yaml --gpus 8xL40S \
//!     --profile tensorrt_llm-l40s-fp16-tp8-pp1-throughput
//! cargo run --example profiles -- --from-list list-model-profiles.txt
//! ```
//!
//! Reads the profiles of a NIM model manifest (`--manifest`, schema v1 or v2) and the GPUs
//! (`--gpus 2xH100-SXM-80GB:nvlink`, or the CSV of `nvidia-smi --query-gpu=name,pci.device_id,
//! memory.total,memory.used --format=csv` with `--nvidia-smi`), runs NIM's profile selection
//! ([`nim_profiles::select`]) and prints every profile ranked, with its verdict and the reasons:
//! the checks a rejected profile fails, the rule that put the selected profile ahead of a
//! runnable one. Then the selection: `selected: <name> (<id>)`, or NIM's "Could not find a
//! profile that is currently runnable with the detected hardware" message.
//!
//! `--from-list FILE` instead re-ranks what NIM's `list-model-profiles` printed: the profiles it
//! lists as compatible (runnable, compatible but not runnable for lack of free memory, and
//! compilable), each rebuilt from its name, on the free GPUs of its `SYSTEM INFO`; and says
//! whether nim-profiles selects the profile NIM listed first.
//!
//! `--json` prints `{"selected": <name or id, or null>, "profiles": [{"id", "name", "verdict":
//! "selected" | "runnable" | "rejected", "rule" (runnable ones), "reasons": [...]}], ...}` with,
//! besides, `system` (the inventory), `system_source`, and with `--from-list` `nim_first`,
//! `agrees_with_nim` and, when they differ, `disagreement`; with `--profile`, `pinned` and
//! `auto_selected`.
//!
//! Choices this program makes (`--help` says them too):
//!
//! - A manifest file of several YAML documents (`---`) gives the profiles of all its documents,
//!   as long as no profile id appears in two of them: then it is an input error naming the
//!   line of the second, and `--document N` picks one document.
//! - `--from-list`: the inventory is the free GPUs of `SYSTEM INFO`, each looked up in
//!   `nim-sizing`'s GPU catalog by PCI id, else NVML name, else short name, identical ones
//!   grouped (their utilization is not used). Output without a `SYSTEM INFO` block (the
//!   example in NIM's documentation has none) gets the system its runnable profiles imply:
//!   the GPUs their names were built for, as many as the largest of them needs; it says so. A
//!   listed profile whose name cannot be read stays in, as a generic profile with a reason.
//!   NIM's first choice is the first entry of its runnable list (of the LoRA sub-list with
//!   `--lora`).
//!
//! Exit status: 0 when a profile is selected, 1 when none is runnable or a `--profile` cannot
//! be used, 2 on bad usage or input (the message names the flag, or the file and line).

use std::collections::{BTreeMap, HashMap};
use std::process::ExitCode;

use nim_profiles::selection::{self, Rule};
use nim_profiles::{
    Engine, Error, GpuGroup, Inventory, ListedProfile, Manifest, Profile, ProfileList, ProfileName,
    Qos, Selection, SelectionOptions, Verdict, select,
};
use serde_json::Value;

const USAGE: &str = "\
usage: profiles --manifest FILE (--gpus SPEC | --nvidia-smi FILE) [--document N] [OPTIONS]
       profiles --from-list FILE [OPTIONS]
options: [--lora] [--prefer latency|throughput] [--model NAME] [--profile ID_OR_NAME]
         [--tags-selector K=V,...] [--engines E,...] [--relax-memory]
         [--list-format | --json]";

const HELP: &str = "\
Ranks the profiles of a NIM model manifest for a set of GPUs as NIM selects them, with a
verdict (selected, runnable, rejected) and the reasons for each profile.

Where the profiles and the GPUs come from:
  --manifest FILE       a NIM model manifest (model_manifest.yaml, schema v1 or v2). A file
                        of several YAML documents gives the profiles of all of them; a profile
                        id in two documents is an error (pick one with --document)
  --document N          with --manifest: only the N-th document (from 1) of the file
  --gpus SPEC           the GPUs, COUNTxGPU[:attr...] joined by '+', e.g. 2xH100-SXM-80GB,
                        4xA100-80GB:nvlink, 1xA100-80GB:mig=3g.40gb, 2xL40S:vgpu:free=40GiB
  --nvidia-smi FILE     the GPUs, from the CSV of nvidia-smi --query-gpu=name,pci.device_id,
                        memory.total,memory.used --format=csv; instead of --gpus
  --from-list FILE      instead of the three above: the output of NIM's list-model-profiles.
                        Re-ranks the profiles it lists as compatible (runnable, compatible but
                        not runnable, compilable), each rebuilt from its name, on the free GPUs
                        of its SYSTEM INFO (without that block: the GPUs its runnable profiles
                        were built for), and says whether the selection agrees with NIM's first
                        runnable entry. Unreadable names stay in as generic profiles

How to select:
  --lora                LoRA is enabled (NIM_PEFT_SOURCE set): only LoRA profiles run
  --prefer Q            latency or throughput: the optimization target that wins a tie
                        (default: latency, as NIM)
  --model NAME          a model of nim-sizing's catalog (NIM name, Hugging Face id or display
                        name): profiles without min_vram_per_device_gb get a memory check
                        (weights plus 4096 tokens of KV cache)
  --profile ID_OR_NAME  NIM_MODEL_PROFILE: use this profile (id, or name in any case). When it
                        does not exist or cannot run, the error names the nearest profiles and
                        the runnable ones, and the exit status is 1
  --tags-selector K=V,...
                        NIM_TAGS_SELECTOR: only profiles with these tags, e.g. precision=fp8,tp=1
  --engines E,...       the engines the image carries, e.g. vllm,tensorrt_llm (default: all)
  --relax-memory        NIM_RELAX_MEM_CONSTRAINTS=1: skip the memory check

Output:
  (default)             the ranked table: rank, verdict, engine, precision, tp x pp, qos, gpu,
                        name (or id), each profile's reasons below it; then the selection
  --list-format         NIM's list-model-profiles layout instead
  --json                one JSON object: {\"selected\": name or id (null when none),
                        \"profiles\": [{\"id\", \"name\", \"verdict\", \"reasons\"}], ...} and
                        system, system_source; with --from-list nim_first, agrees_with_nim;
                        with --profile pinned, auto_selected
  -h, --help            print this help

Values go as `--flag VALUE` or `--flag=VALUE`.

Exit status: 0 when a profile is selected (or the --profile one can run), 1 when no profile is
runnable or the --profile one cannot be used, 2 on bad usage or input (the message names the
flag, or the file and line).";

/// Flags that take a value.
const VALUE_FLAGS: [&str; 10] = [
    "--manifest",
    "--document",
    "--gpus",
    "--nvidia-smi",
    "--from-list",
    "--prefer",
    "--model",
    "--profile",
    "--tags-selector",
    "--engines",
];

/// Flags without a value.
const SWITCHES: [&str; 4] = ["--lora", "--relax-memory", "--list-format", "--json"];

/// NIM's message when no profile can run.
const NOTHING_RUNNABLE: &str = "Could not find a profile that is currently runnable with the \
    detected hardware. Please check the system information above and make sure you have enough \
    free GPUs.";

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(Some(args)) => args,
        Ok(None) => {
            println!("{USAGE}\n\n{HELP}");
            return ExitCode::SUCCESS;
        }
        Err(failure) => return failure.report(),
    };
    match run(&args) {
        Ok(code) => code,
        Err(failure) => failure.report(),
    }
}

/// Bad usage or input: a message naming the flag or the file and line, and whether to show the
/// usage.
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
            eprintln!("profiles: {}\n{USAGE}\n(see profiles --help)", self.message);
        } else {
            eprintln!("profiles: {}", self.message);
        }
        ExitCode::from(2)
    }
}

impl From<Error> for Failure {
    /// Parse errors already read `file:line: message`.
    fn from(error: Error) -> Self {
        Failure::input(error.to_string())
    }
}

/// The command line.
#[derive(Debug, Default)]
struct Args {
    manifest: Option<String>,
    document: Option<usize>,
    gpus: Option<String>,
    nvidia_smi: Option<String>,
    from_list: Option<String>,
    lora: bool,
    prefer: Option<Qos>,
    model: Option<String>,
    profile: Option<String>,
    tags_selector: Option<String>,
    engines: Option<Vec<Engine>>,
    relax_memory: bool,
    list_format: bool,
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
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag, Some(value.to_owned())),
            _ => (arg.as_str(), None),
        };
        if SWITCHES.contains(&flag) {
            if inline.is_some() {
                return Err(Failure::usage(format!("{flag} takes no value")));
            }
            let slot = match flag {
                "--lora" => &mut args.lora,
                "--relax-memory" => &mut args.relax_memory,
                "--list-format" => &mut args.list_format,
                _ => &mut args.json,
            };
            *slot = true;
            continue;
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
        if value.trim().is_empty() {
            return Err(Failure::usage(format!("{flag}: empty value")));
        }
        match flag {
            "--manifest" => set(&mut args.manifest, flag, value)?,
            "--gpus" => set(&mut args.gpus, flag, value)?,
            "--nvidia-smi" => set(&mut args.nvidia_smi, flag, value)?,
            "--from-list" => set(&mut args.from_list, flag, value)?,
            "--model" => set(&mut args.model, flag, value)?,
            "--profile" => set(&mut args.profile, flag, value)?,
            "--tags-selector" => set(&mut args.tags_selector, flag, value)?,
            "--document" => match value.trim().parse::<usize>() {
                Ok(n) if n > 0 => set(&mut args.document, flag, n)?,
                _ => {
                    return Err(Failure::input(format!(
                        "--document: {value:?} is not a positive integer"
                    )));
                }
            },
            "--prefer" => match Qos::parse(&value) {
                Some(qos) => set(&mut args.prefer, flag, qos)?,
                None => {
                    return Err(Failure::input(format!(
                        "--prefer: {value:?} is neither latency nor throughput"
                    )));
                }
            },
            "--engines" => {
                let engines: Vec<Engine> = value
                    .split(',')
                    .map(str::trim)
                    .filter(|e| !e.is_empty())
                    .map(Engine::parse)
                    .collect();
                if engines.is_empty() {
                    return Err(Failure::input(format!(
                        "--engines: {value:?} names no engine; expected e.g. vllm,tensorrt_llm"
                    )));
                }
                set(&mut args.engines, flag, engines)?;
            }
            _ => return Err(Failure::usage(format!("unknown flag `{flag}`"))),
        }
    }
    check_combination(&args)?;
    Ok(Some(args))
}

/// Which flags go together.
fn check_combination(args: &Args) -> Result<(), Failure> {
    if args.from_list.is_some() {
        let excluded: Vec<&str> = [
            ("--manifest", args.manifest.is_some()),
            ("--gpus", args.gpus.is_some()),
            ("--nvidia-smi", args.nvidia_smi.is_some()),
            ("--document", args.document.is_some()),
        ]
        .into_iter()
        .filter_map(|(flag, given)| given.then_some(flag))
        .collect();
        if !excluded.is_empty() {
            return Err(Failure::usage(format!(
                "--from-list excludes {}: the list gives both the profiles and the system",
                excluded.join(", ")
            )));
        }
    } else {
        match (&args.manifest, &args.gpus, &args.nvidia_smi) {
            (None, None, None) => {
                return Err(Failure::usage(
                    "give --manifest FILE with --gpus SPEC or --nvidia-smi FILE, or --from-list FILE",
                ));
            }
            (None, _, _) => {
                let flag = if args.gpus.is_some() {
                    "--gpus"
                } else {
                    "--nvidia-smi"
                };
                return Err(Failure::usage(format!(
                    "{flag} needs --manifest FILE (the profiles to rank)"
                )));
            }
            (Some(_), None, None) => {
                return Err(Failure::usage(
                    "--manifest needs the GPUs: give --gpus SPEC or --nvidia-smi FILE",
                ));
            }
            (Some(_), Some(_), Some(_)) => {
                return Err(Failure::usage(
                    "--gpus and --nvidia-smi are mutually exclusive; give one",
                ));
            }
            (Some(_), _, _) => {}
        }
    }
    if args.json && args.list_format {
        return Err(Failure::usage(
            "--json and --list-format are mutually exclusive; give one",
        ));
    }
    Ok(())
}

/// Stores a flag's value; a flag given twice is an error.
fn set<T>(slot: &mut Option<T>, flag: &str, value: T) -> Result<(), Failure> {
    if slot.is_some() {
        return Err(Failure::usage(format!("{flag} given twice")));
    }
    *slot = Some(value);
    Ok(())
}

/// Reads a file; the path as given is the source name of errors.
fn read(path: &str) -> Result<String, Failure> {
    std::fs::read_to_string(path)
        .map_err(|e| Error::parse(path, 0, format!("cannot read the file: {e}")).into())
}

/// Where the profiles and the GPUs came from.
struct Input {
    profiles: Vec<Profile>,
    inventory: Inventory,
    /// How the inventory was found, for the output.
    system_source: String,
    /// Notes to add to a profile's reasons (by id): unreadable names, NIM's verdict.
    notes: HashMap<String, Vec<String>>,
    /// With `--from-list`: the list.
    list: Option<ProfileList>,
}

fn run(args: &Args) -> Result<ExitCode, Failure> {
    let input = match &args.from_list {
        Some(path) => from_list(path)?,
        None => from_manifest(args)?,
    };
    let options = options(args)?;
    let selection = select(&input.profiles, &input.inventory, &options);

    // NIM_MODEL_PROFILE.
    let pinned = match &args.profile {
        Some(requested) => match selection::pin(&selection, requested) {
            Ok(decision) => Some(decision.profile.id.clone()),
            Err(error) => {
                eprintln!("profiles: {error}");
                return Ok(ExitCode::from(1));
            }
        },
        None => None,
    };

    let comparison = input
        .list
        .as_ref()
        .map(|list| compare(&selection, &options, list.selected(args.lora)));

    // Notes go after the comparison, which quotes the selection's own reasons.
    let mut selection = selection;
    for decision in &mut selection.decisions {
        if let Some(notes) = input.notes.get(&decision.profile.id) {
            decision.reasons.extend(notes.iter().cloned());
        }
    }

    let chosen = pinned
        .as_deref()
        .or_else(|| selection.selected().map(|d| d.profile.id.as_str()))
        .map(str::to_owned);

    if args.json {
        let value = json(
            &selection,
            &input,
            pinned.as_deref(),
            args.profile.as_deref(),
            comparison.as_ref(),
        )?;
        match serde_json::to_string_pretty(&value) {
            Ok(text) => println!("{text}"),
            Err(error) => {
                return Err(Failure::input(format!(
                    "cannot render the selection: {error}"
                )));
            }
        }
    } else if args.list_format {
        let mut out = selection::render_list(&selection, &input.inventory);
        if let Some(id) = &pinned {
            out.push_str(&format!(
                "Pinned profile (NIM_MODEL_PROFILE): {id} ({})\n",
                display_of(&selection, id)
            ));
        }
        if let Some(comparison) = &comparison {
            out.push_str(&comparison.line);
            out.push('\n');
        }
        print!("{out}");
    } else {
        print!(
            "{}",
            table(&selection, &input, pinned.as_deref(), comparison.as_ref())
        );
    }
    Ok(if chosen.is_some() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The selection options from the flags.
fn options(args: &Args) -> Result<SelectionOptions, Failure> {
    let mut options = SelectionOptions {
        lora: args.lora,
        prefer: args.prefer.unwrap_or(Qos::Latency),
        engines: args.engines.clone(),
        relax_memory: args.relax_memory,
        ..SelectionOptions::default()
    };
    if let Some(name) = &args.model {
        let model = nim_sizing::ModelCatalog::builtin()
            .lookup(name)
            .map_err(|e| Failure::input(format!("--model: {e}")))?;
        options.model = Some(model.arch.clone());
    }
    if let Some(selector) = &args.tags_selector {
        options = options.with_tags_selector(selector).map_err(|e| match e {
            Error::Invalid { message, .. } => Failure::input(format!("--tags-selector: {message}")),
            other => Failure::input(format!("--tags-selector: {other}")),
        })?;
    }
    Ok(options)
}

// ---------------------------------------------------------------------------------------------
// --manifest
// ---------------------------------------------------------------------------------------------

fn from_manifest(args: &Args) -> Result<Input, Failure> {
    let path = args.manifest.as_deref().unwrap_or_default();
    let text = read(path)?;
    let profiles = manifest_profiles(path, &text, args.document)?;
    let (inventory, system_source) = match (&args.gpus, &args.nvidia_smi) {
        (Some(spec), _) => (Inventory::parse(spec)?, format!("--gpus {spec}")),
        (None, Some(smi)) => {
            let csv = read(smi)?;
            (
                Inventory::from_nvidia_smi_csv(smi, &csv)?,
                format!("--nvidia-smi {smi}"),
            )
        }
        (None, None) => {
            return Err(Failure::usage(
                "--manifest needs the GPUs: give --gpus SPEC or --nvidia-smi FILE",
            ));
        }
    };
    Ok(Input {
        profiles,
        inventory,
        system_source,
        notes: HashMap::new(),
        list: None,
    })
}

/// The profiles of every document of the file (or of `--document N`); a profile id in two
/// documents is an error at the line of the second.
fn manifest_profiles(
    path: &str,
    text: &str,
    document: Option<usize>,
) -> Result<Vec<Profile>, Failure> {
    let manifests = Manifest::parse_documents(path, text)?;
    if manifests.is_empty() {
        // The single-document parser says what is wrong with an empty file.
        return Err(match Manifest::parse(path, text) {
            Err(error) => error.into(),
            Ok(_) => Error::parse(path, 0, "no manifest document").into(),
        });
    }
    if let Some(n) = document {
        let count = manifests.len();
        return manifests
            .into_iter()
            .nth(n - 1)
            .map(|manifest| manifest.profiles)
            .ok_or_else(|| {
                Failure::input(format!(
                    "--document {n}: {path} has {count} YAML document{}",
                    if count == 1 { "" } else { "s" }
                ))
            });
    }
    let several = manifests.len() > 1;
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut profiles = Vec::new();
    for (index, manifest) in manifests.into_iter().enumerate() {
        for profile in manifest.profiles {
            if let Some(first) = seen.get(&profile.id) {
                let lines = lines_with(text, &profile.id);
                let line = lines.get(1).copied().unwrap_or(0);
                let first_line = lines
                    .first()
                    .map(|l| format!(" (line {l})"))
                    .unwrap_or_default();
                return Err(Error::parse(
                    path,
                    line,
                    format!(
                        "profile id `{}` is in YAML documents {}{first_line} and {}: the \
                         documents cannot be merged; pick one with --document N",
                        profile.id,
                        first + 1,
                        index + 1
                    ),
                )
                .into());
            }
            seen.insert(profile.id.clone(), index);
            profiles.push(profile);
        }
    }
    if several && profiles.is_empty() {
        return Err(Error::parse(path, 0, "no profile in any YAML document").into());
    }
    Ok(profiles)
}

/// The 1-based numbers of the lines that contain `needle`.
fn lines_with(text: &str, needle: &str) -> Vec<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| line.contains(needle))
        .map(|(index, _)| index + 1)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// --from-list
// ---------------------------------------------------------------------------------------------

fn from_list(path: &str) -> Result<Input, Failure> {
    let text = read(path)?;
    let list = ProfileList::parse(path, &text)?;

    let mut notes: HashMap<String, Vec<String>> = HashMap::new();
    let mut profiles: Vec<Profile> = Vec::new();
    let mut runnable_profiles = Vec::new();
    let sections: [(&[ListedProfile], &str); 3] = [
        (&list.runnable, "runnable"),
        (
            &list.compatible_not_runnable,
            "compatible but not runnable (low GPU free memory)",
        ),
        (
            &list.compilable,
            "compilable (just-in-time TRT-LLM compilation)",
        ),
    ];
    for (entries, label) in sections {
        for (position, listed) in entries.iter().enumerate() {
            if profiles.iter().any(|p| p.id == listed.id) {
                continue;
            }
            let (profile, note) = listed_profile(listed);
            let entry = notes.entry(listed.id.clone()).or_default();
            if let Some(note) = note {
                entry.push(note);
            }
            let nim = if label == "runnable" {
                format!("NIM lists it as runnable (#{} of its list)", position + 1)
            } else {
                format!("NIM lists it as {label}")
            };
            entry.push(nim);
            if label == "runnable" {
                runnable_profiles.push(profile.clone());
            }
            profiles.push(profile);
        }
    }

    let system_line = text
        .lines()
        .position(|line| line.trim().eq_ignore_ascii_case("SYSTEM INFO"))
        .map(|index| index + 1);
    let (inventory, system_source) = if list.gpus.is_empty() && system_line.is_none() {
        let inventory = implied_system(&runnable_profiles).ok_or_else(|| {
            Failure::from(Error::parse(
                path,
                0,
                "the list shows no GPUs (no SYSTEM INFO block) and none of its runnable \
                 profiles names the GPU it was built for",
            ))
        })?;
        (
            inventory,
            format!(
                "implied by the runnable profiles of {path}, which has no SYSTEM INFO: the GPUs \
                 they were built for, as many as the largest needs"
            ),
        )
    } else {
        (
            listed_system(path, &text, &list, system_line.unwrap_or(0))?,
            format!("the free GPUs of {path}'s SYSTEM INFO"),
        )
    };
    Ok(Input {
        profiles,
        inventory,
        system_source,
        notes,
        list: Some(list),
    })
}

/// A listed profile rebuilt from its name, and a note when the name could not be read (the
/// profile is then generic: no tags but LoRA support when listed under it).
fn listed_profile(listed: &ListedProfile) -> (Profile, Option<String>) {
    let Some(name) = &listed.name else {
        let note = "listed without a name: kept as a generic profile (no tags)".to_owned();
        return (generic(listed), Some(note));
    };
    let parsed = name
        .parse::<ProfileName>()
        .and_then(|parsed| Profile::from_tags(listed.id.clone(), name_tags(&parsed, listed)));
    match parsed {
        Ok(mut profile) => {
            profile.name = Some(name.clone());
            (profile, None)
        }
        Err(error) => {
            let mut profile = generic(listed);
            profile.name = Some(name.clone());
            let note = format!(
                "the name is not understood ({error}): kept as a generic profile (no tags)"
            );
            (profile, Some(note))
        }
    }
}

/// A profile with no tags but `feat_lora` when listed under `With LoRA support`.
fn generic(listed: &ListedProfile) -> Profile {
    let mut profile = Profile {
        id: listed.id.clone(),
        name: None,
        engine: Engine::Other(String::new()),
        precision: None,
        tp: 1,
        pp: 1,
        qos: None,
        gpu: None,
        gpu_device: None,
        lora: false,
        lora_max_rank: None,
        buildable: false,
        num_gpus: 1,
        min_vram_per_gpu: None,
        model: None,
        release: None,
        tags: BTreeMap::new(),
    };
    if listed.lora {
        profile.lora = true;
        profile
            .tags
            .insert("feat_lora".to_owned(), "true".to_owned());
    }
    profile
}

/// The manifest tags a profile name states.
fn name_tags(name: &ProfileName, listed: &ListedProfile) -> BTreeMap<String, String> {
    let mut tags = BTreeMap::new();
    let mut put = |key: &str, value: String| {
        tags.insert(key.to_owned(), value);
    };
    put("llm_engine", name.engine.as_str().to_owned());
    if let Some(gpu) = &name.gpu {
        put("gpu", gpu.clone());
    }
    if let Some(device) = &name.gpu_device {
        put("gpu_device", device.clone());
    }
    if name.buildable {
        put("trtllm_buildable", "true".to_owned());
    }
    if let Some(precision) = &name.precision {
        put("precision", precision.clone());
    }
    if let Some(tp) = name.tp {
        put("tp", tp.to_string());
    }
    if let Some(pp) = name.pp {
        put("pp", pp.to_string());
    }
    if let Some(qos) = name.qos {
        put("profile", qos.as_str().to_owned());
    }
    let bare = name.precision.is_none() && name.tp.is_none();
    if name.lora || listed.lora {
        put("feat_lora", "true".to_owned());
    } else if !bare {
        put("feat_lora", "false".to_owned());
    }
    if let Some(rank) = name.lora_rank {
        put("feat_lora_max_rank", rank.to_string());
    }
    if let Some(gpus) = name.num_gpus {
        put("number_of_gpus", gpus.to_string());
    }
    if let Some(vram) = name.min_vram_per_gpu {
        let bytes = vram.get();
        put(
            "min_vram_per_device_gb",
            format!("{}.{:09}", bytes / 1_000_000_000, bytes % 1_000_000_000),
        );
    }
    tags
}

/// The free GPUs of `SYSTEM INFO`, grouped by catalog GPU.
fn listed_system(
    path: &str,
    text: &str,
    list: &ProfileList,
    system_line: usize,
) -> Result<Inventory, Failure> {
    let catalog = nim_sizing::gpu::builtin();
    let mut groups: Vec<GpuGroup> = Vec::new();
    for listed in list.gpus.iter().filter(|gpu| gpu.free) {
        let found = catalog
            .lookup(&listed.pci_id)
            .or_else(|_| catalog.lookup(&listed.nvml_name))
            .or_else(|error| match &listed.short_name {
                Some(short) => catalog.lookup(short),
                None => Err(error),
            });
        let gpu = match found {
            Ok(gpu) => gpu,
            Err(_) => {
                let line = text
                    .lines()
                    .position(|line| {
                        line.to_ascii_lowercase()
                            .contains(&format!("[{}]", listed.pci_id))
                            && line.contains(&format!("({})", listed.index))
                    })
                    .map_or(system_line, |index| index + 1);
                let nearest = catalog
                    .lookup(&listed.nvml_name)
                    .err()
                    .map(|e| format!(" ({e})"))
                    .unwrap_or_default();
                return Err(Error::parse(
                    path,
                    line,
                    format!(
                        "GPU [{}] {} is not in nim-sizing's GPU catalog{nearest}",
                        listed.pci_id, listed.nvml_name
                    ),
                )
                .into());
            }
        };
        match groups.iter_mut().find(|group| group.gpu.id == gpu.id) {
            Some(group) => {
                group.count += 1;
                group.indices.push(listed.index);
            }
            None => {
                let mut group = GpuGroup::new(gpu.clone(), 1);
                group.indices.push(listed.index);
                groups.push(group);
            }
        }
    }
    if groups.is_empty() {
        let what = if list.gpus.is_empty() {
            "the list shows no GPUs"
        } else {
            "the list shows no free GPUs (NIM runs only on free ones)"
        };
        return Err(Error::parse(path, system_line, what).into());
    }
    Ok(Inventory { groups })
}

/// The smallest system the runnable profiles imply: per GPU they were built for, as many as the
/// largest of them needs; with one GPU type, also as many as any runnable generic profile
/// needs. `None` when no runnable profile names a GPU the catalog knows.
fn implied_system(runnable: &[Profile]) -> Option<Inventory> {
    let catalog = nim_sizing::gpu::builtin();
    let mut groups: Vec<GpuGroup> = Vec::new();
    for profile in runnable {
        let gpu = profile
            .gpu_device
            .as_deref()
            .and_then(|device| catalog.lookup(device).ok())
            .or_else(|| {
                profile
                    .gpu
                    .as_deref()
                    .and_then(|family| catalog.lookup(family).ok())
            });
        let Some(gpu) = gpu else { continue };
        let needed = u32::try_from(profile.num_gpus.max(1)).unwrap_or(u32::MAX);
        match groups.iter_mut().find(|group| group.gpu.id == gpu.id) {
            Some(group) => group.count = group.count.max(needed),
            None => groups.push(GpuGroup::new(gpu.clone(), needed)),
        }
    }
    if let [group] = groups.as_mut_slice() {
        let generic = runnable
            .iter()
            .filter(|p| !p.is_hardware_specific())
            .map(|p| u32::try_from(p.num_gpus.max(1)).unwrap_or(u32::MAX))
            .max()
            .unwrap_or(1);
        group.count = group.count.max(generic);
    }
    (!groups.is_empty()).then_some(Inventory { groups })
}

/// Whether nim-profiles selects what NIM listed first.
struct Comparison {
    /// NIM's first runnable entry (name, else id).
    nim_first: Option<String>,
    agrees: bool,
    /// Why not, when not.
    disagreement: Option<String>,
    /// `NIM listed first: ...; nim-profiles selects: ... (agree|DISAGREE: ...)`.
    line: String,
}

fn compare(
    selection: &Selection,
    options: &SelectionOptions,
    nim_first: Option<&ListedProfile>,
) -> Comparison {
    let ours = selection.selected();
    let theirs = nim_first.and_then(|listed| {
        selection
            .decisions
            .iter()
            .find(|d| d.profile.id == listed.id)
    });
    let nim_name = nim_first.map(|listed| listed.name.clone().unwrap_or_else(|| listed.id.clone()));
    let disagreement = match (ours, nim_first) {
        (None, None) => None,
        (Some(ours), Some(listed)) if ours.profile.id == listed.id => None,
        (Some(_), None) => Some("NIM lists no runnable profile".to_owned()),
        (None, Some(_)) => Some(match theirs {
            Some(theirs) => format!(
                "nim-profiles finds nothing runnable; NIM's first: {}",
                theirs.reasons.join("; ")
            ),
            None => "nim-profiles finds nothing runnable".to_owned(),
        }),
        (Some(ours), Some(_)) => Some(match theirs {
            Some(theirs) if theirs.verdict == Verdict::Rejected => format!(
                "nim-profiles rejects NIM's first: {}",
                theirs.reasons.join("; ")
            ),
            Some(theirs) => {
                let (_, rule): (_, Rule) = selection::rank(&ours.profile, &theirs.profile, options);
                rule.to_string()
            }
            None => "NIM's first is not among the profiles".to_owned(),
        }),
    };
    let ours_name = ours.map_or("none", |d| d.profile.display_name());
    let line = format!(
        "NIM listed first: {}; nim-profiles selects: {ours_name} ({})",
        nim_name.as_deref().unwrap_or("none"),
        match &disagreement {
            None => "agree".to_owned(),
            Some(why) => format!("DISAGREE: {why}"),
        }
    );
    Comparison {
        nim_first: nim_name,
        agrees: disagreement.is_none(),
        disagreement,
        line,
    }
}

// ---------------------------------------------------------------------------------------------
// Output
// ---------------------------------------------------------------------------------------------

/// The name of the profile with this id, else the id.
fn display_of<'a>(selection: &'a Selection, id: &'a str) -> &'a str {
    selection
        .decisions
        .iter()
        .find(|d| d.profile.id == id)
        .map_or(id, |d| d.profile.display_name())
}

/// The JSON contract (`selected`, `profiles`) with the extra keys.
fn json(
    selection: &Selection,
    input: &Input,
    pinned: Option<&str>,
    requested: Option<&str>,
    comparison: Option<&Comparison>,
) -> Result<Value, Failure> {
    let mut value = serde_json::to_value(selection)
        .map_err(|e| Failure::input(format!("cannot render the selection: {e}")))?;
    let auto = selection.selected().map(|d| d.profile.id.clone());
    let Some(object) = value.as_object_mut() else {
        return Err(Failure::input("the selection is not a JSON object"));
    };
    if let (Some(pinned), Some(requested)) = (pinned, requested) {
        if auto.as_deref() != Some(pinned) {
            object.insert(
                "selected".to_owned(),
                Value::from(display_of(selection, pinned)),
            );
            let pinned_name = display_of(selection, pinned).to_owned();
            if let Some(Value::Array(profiles)) = object.get_mut("profiles") {
                for entry in profiles.iter_mut().filter_map(Value::as_object_mut) {
                    let id = entry.get("id").and_then(Value::as_str).map(str::to_owned);
                    let reason = if id.as_deref() == Some(pinned) {
                        entry.insert("verdict".to_owned(), Value::from("selected"));
                        entry.remove("rule");
                        format!("selected: NIM_MODEL_PROFILE={requested} (--profile) pins it")
                    } else if id.is_some() && id == auto {
                        entry.insert("verdict".to_owned(), Value::from("runnable"));
                        format!(
                            "the highest-ranked runnable profile, but --profile pins {pinned_name}"
                        )
                    } else {
                        continue;
                    };
                    if let Some(Value::Array(reasons)) = entry.get_mut("reasons") {
                        // The demoted profile's "selected: ..." reason no longer holds.
                        if id == auto
                            && reasons
                                .first()
                                .and_then(Value::as_str)
                                .is_some_and(|r| r.starts_with("selected:"))
                        {
                            reasons.remove(0);
                        }
                        reasons.insert(0, Value::from(reason));
                    }
                }
            }
        }
        object.insert("pinned".to_owned(), Value::from(requested));
        object.insert(
            "auto_selected".to_owned(),
            auto.as_deref()
                .map_or(Value::Null, |id| Value::from(display_of(selection, id))),
        );
    }
    object.insert(
        "system".to_owned(),
        Value::from(input.inventory.to_string()),
    );
    object.insert(
        "system_source".to_owned(),
        Value::from(input.system_source.clone()),
    );
    if let Some(comparison) = comparison {
        object.insert(
            "nim_first".to_owned(),
            comparison
                .nim_first
                .as_deref()
                .map_or(Value::Null, Value::from),
        );
        object.insert("agrees_with_nim".to_owned(), Value::from(comparison.agrees));
        if let Some(why) = &comparison.disagreement {
            object.insert("disagreement".to_owned(), Value::from(why.clone()));
        }
    }
    Ok(value)
}

/// The ranked table, the reasons under each profile, and the selection.
fn table(
    selection: &Selection,
    input: &Input,
    pinned: Option<&str>,
    comparison: Option<&Comparison>,
) -> String {
    let mut out = format!("system: {} ({})\n\n", input.inventory, input.system_source);
    let auto = selection.selected().map(|d| d.profile.id.as_str());
    let header = [
        "rank",
        "verdict",
        "engine",
        "precision",
        "tp x pp",
        "qos",
        "gpu",
        "name",
    ]
    .map(str::to_owned);
    let mut rows: Vec<([String; 8], Vec<String>)> = Vec::new();
    let mut rank = 0;
    for decision in &selection.decisions {
        let profile = &decision.profile;
        let mut reasons = decision.reasons.clone();
        let verdict = match (&decision.verdict, pinned) {
            (Verdict::Rejected, _) => "rejected",
            (_, Some(pin)) if pin == profile.id => {
                if auto != Some(pin) {
                    reasons.insert(
                        0,
                        "selected: --profile (NIM_MODEL_PROFILE) pins it".to_owned(),
                    );
                }
                "selected"
            }
            (Verdict::Selected, Some(pin)) => {
                if reasons.first().is_some_and(|r| r.starts_with("selected:")) {
                    reasons.remove(0);
                }
                reasons.insert(
                    0,
                    format!(
                        "the highest-ranked runnable profile, but --profile pins {}",
                        display_of(selection, pin)
                    ),
                );
                "runnable"
            }
            (verdict, _) => verdict.as_str(),
        };
        let rank_text = if decision.verdict == Verdict::Rejected {
            "-".to_owned()
        } else {
            rank += 1;
            rank.to_string()
        };
        let engine = match profile.engine.as_str() {
            "" => "?".to_owned(),
            engine => engine.to_owned(),
        };
        let gpu = profile
            .gpu
            .clone()
            .or_else(|| profile.gpu_device.clone())
            .unwrap_or_else(|| {
                if profile.buildable {
                    "any (buildable)".to_owned()
                } else {
                    "any".to_owned()
                }
            });
        let name = match &profile.name {
            Some(name) => name.clone(),
            None => profile.id.chars().take(16).collect(),
        };
        rows.push((
            [
                rank_text,
                verdict.to_owned(),
                engine,
                profile.precision.clone().unwrap_or_else(|| "-".to_owned()),
                format!("{}x{}", profile.tp, profile.pp),
                profile.qos.map_or("-", Qos::as_str).to_owned(),
                gpu,
                name,
            ],
            reasons,
        ));
    }
    let mut widths = header.clone().map(|h| h.len());
    for (cells, _) in &rows {
        for (width, cell) in widths.iter_mut().zip(cells) {
            *width = (*width).max(cell.len());
        }
    }
    let line = |cells: &[String; 8]| {
        let mut text = String::new();
        for (index, (cell, width)) in cells.iter().zip(widths).enumerate() {
            if index == 0 {
                text.push_str(&format!("{cell:>width$}"));
            } else {
                text.push_str(&format!("  {cell:<width$}"));
            }
        }
        format!("{}\n", text.trim_end())
    };
    out.push_str(&line(&header));
    for (cells, reasons) in &rows {
        out.push_str(&line(cells));
        for reason in reasons {
            out.push_str(&format!("      - {reason}\n"));
        }
    }
    if rows.is_empty() {
        out.push_str("(no profiles)\n");
    }
    out.push('\n');
    if let Some(comparison) = comparison {
        out.push_str(&comparison.line);
        out.push('\n');
    }
    match pinned.or(auto) {
        Some(id) => out.push_str(&format!(
            "selected: {} ({id}){}\n",
            display_of(selection, id),
            if pinned.is_some() && pinned != auto {
                " by --profile"
            } else {
                ""
            }
        )),
        None => {
            out.push_str(NOTHING_RUNNABLE);
            out.push('\n');
        }
    }
    out
}
