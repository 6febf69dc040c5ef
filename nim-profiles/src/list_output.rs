//! The text NIM's `list-model-profiles` utility prints.
//!
//! ```text
//! SYSTEM INFO
//! - Free GPUs:
//!   -  [20b2:10de] (0) NVIDIA A100-SXM4-80GB (A100 80GB) [current utilization: 0%]
//! - Non-free GPUs:
//!   -  [2321:10de] (1) NVIDIA H100 NVL [current utilization: 30%]
//! MODEL PROFILES
//! - Compatible with system and runnable:
//!   - <id> (<name>)
//!   - With LoRA support:
//!     - <id> (<name>)
//! - Compatible with system but not runnable due to low GPU free memory
//!   - <id> (<name>)
//! - Compilable to TRT-LLM using just-in-time compilation of HF models to TRTLLM engines: <None>
//! - Incompatible with system:
//!   - <id> (<name>)
//! ```
//!
//! NIM prints the runnable list in priority order: its first entry is the profile NIM selects
//! (the first of the LoRA sub-list when LoRA is enabled). The parser keeps every list's order.
//!
//! What it tolerates, as seen in published output: log lines before, between and after the
//! blocks (lines that do not start with `-` are skipped); any indentation, including none; a
//! header with `: <None>` for an empty list, with or without the trailing colon; NIM 2.x
//! headers (`Compatible with system but low memory:`) and annotations after the name
//! (`[requires >=18 GB/gpu]`, kept in [`ListedProfile::annotation`]); entries without a name
//! and non-LLM entries written `<id> - <description>`; a GPU line with or without the short
//! name in parentheses, without a space before `[current utilization`, or with that part
//! wrapped onto the next line. A non-LLM NIM's `Compatible with system:` list counts as
//! runnable.
//!
//! ```
//! use nim_profiles::ProfileList;
//!
//! let text = "\
//! INFO 2024-07-26 09:44:00.18 ngc_injector.py:147] Model manifest loaded
//! SYSTEM INFO
//! - Free GPUs:
//!   -  [20b2:10de] (0) NVIDIA A100-SXM4-80GB (A100 80GB) [current utilization: 0%]
//! - Non-free GPUs:
//!   -  [2321:10de] (1) NVIDIA H100 NVL [current utilization: 30%]
//! MODEL PROFILES
//! - Compatible with system and runnable:
//!   - 751382df4272eafc83f541f364d61b35aed9cce8c7b0c869269cea5a366cd08c (tensorrt_llm-A100-fp16-tp1-throughput)
//!   - With LoRA support:
//!     - 8d3824f766182a754159e88ad5a0bd465b1b4cf69ecf80bd6d6833753e945740 (vllm-fp16-tp1-lora)
//! - Incompatible with system: <None>
//! ";
//! let list = ProfileList::parse("list-model-profiles", text)?;
//! assert_eq!(list.gpus.len(), 2);
//! assert_eq!(list.gpus[0].short_name.as_deref(), Some("A100 80GB"));
//! assert!(list.gpus[0].free && !list.gpus[1].free);
//! assert_eq!(list.gpus[1].utilization_percent, Some(30));
//! assert_eq!(list.runnable.len(), 2);
//! assert_eq!(
//!     list.selected(false).and_then(|p| p.name.as_deref()),
//!     Some("tensorrt_llm-A100-fp16-tp1-throughput")
//! );
//! assert!(list.runnable[1].lora);
//! assert!(list.incompatible.is_empty());
//! # Ok::<(), nim_profiles::Error>(())
//! ```

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::profile::normalize_pci_id;

/// A GPU of the `SYSTEM INFO` block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedGpu {
    /// PCI `device:vendor`, lower-cased (`20b2:10de`).
    pub pci_id: String,
    /// The GPU index NIM printed (`(0)`).
    pub index: u32,
    /// The NVML device name (`NVIDIA A100-SXM4-80GB`).
    pub nvml_name: String,
    /// NIM's GPU family name in parentheses (`A100 80GB`), when printed.
    pub short_name: Option<String>,
    /// `[current utilization: N%]`: NIM's memory-use percentage, when printed.
    pub utilization_percent: Option<u32>,
    /// Listed under `Free GPUs` (NIM counts a GPU free at 5 % memory use or less).
    pub free: bool,
}

/// A profile entry of one of the lists.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedProfile {
    /// The profile id (64 hex digits for LLM NIMs).
    pub id: String,
    /// The name in parentheses (`tensorrt_llm-A100-fp16-tp1-throughput`, or just `vllm` for
    /// the multi-LLM NIM's generic profiles), or a non-LLM NIM's `- <description>`.
    pub name: Option<String>,
    /// Listed under `With LoRA support:`.
    pub lora: bool,
    /// A bracketed note after the name (NIM 2.x: `requires >=18 GB/gpu`), without brackets.
    pub annotation: Option<String>,
}

/// Everything `list-model-profiles` printed. Lists keep NIM's order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileList {
    /// The GPUs of `SYSTEM INFO`: free ones first, then the others, as printed.
    pub gpus: Vec<ListedGpu>,
    /// `Compatible with system and runnable`, in NIM's priority order.
    pub runnable: Vec<ListedProfile>,
    /// `Compatible with system but not runnable due to low GPU free memory` (NIM 2.x:
    /// `Compatible with system but low memory`).
    pub compatible_not_runnable: Vec<ListedProfile>,
    /// `Compilable to TRT-LLM using just-in-time compilation of HF models to TRTLLM engines`.
    pub compilable: Vec<ListedProfile>,
    /// `Incompatible with system`.
    pub incompatible: Vec<ListedProfile>,
}

/// Where the parser is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Section {
    /// Before `SYSTEM INFO` or `MODEL PROFILES`.
    Preamble,
    /// In `SYSTEM INFO`, before a GPU list header.
    System,
    Gpus {
        free: bool,
    },
    /// In `MODEL PROFILES`, before a list header.
    Profiles,
    List(List),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum List {
    Runnable,
    CompatibleNotRunnable,
    Compilable,
    Incompatible,
}

/// A `- ...:` header line.
enum Header {
    Gpus { free: bool },
    List(List),
    Lora,
}

impl ProfileList {
    /// Parses `list-model-profiles` output (see the module docs for the grammar and what is
    /// tolerated).
    ///
    /// # Errors
    ///
    /// [`Error::Parse`] naming `source_name` and the 1-based line: no `SYSTEM INFO` or
    /// `MODEL PROFILES` line at all (line 0), an unknown `- ...:` header, an entry outside any
    /// list, a GPU line without `[pci id] (index) name`, a malformed utilization, or an entry
    /// without an id or with an unclosed `(`.
    pub fn parse(source_name: &str, text: &str) -> Result<ProfileList> {
        let error = |line: usize, message: String| Error::parse(source_name, line, message);
        let mut list = ProfileList::default();
        let mut section = Section::Preamble;
        let mut lora = false;
        let mut seen_header = false;
        // The GPU line just read, when its utilization may follow on the next line.
        let mut open_gpu: Option<usize> = None;

        for (index, raw) in text.lines().enumerate() {
            let number = index + 1;
            let line = raw.trim();
            if line.eq_ignore_ascii_case("SYSTEM INFO") {
                (section, seen_header, open_gpu) = (Section::System, true, None);
                continue;
            }
            if line.eq_ignore_ascii_case("MODEL PROFILES") {
                (section, seen_header, lora, open_gpu) = (Section::Profiles, true, false, None);
                continue;
            }
            if section == Section::Preamble || line.is_empty() {
                continue;
            }
            let Some(item) = line.strip_prefix('-').map(str::trim) else {
                // A log line, or the utilization of the previous GPU line wrapped.
                if let Some(gpu) = open_gpu.take().and_then(|at| list.gpus.get_mut(at))
                    && let Some(utilization) = utilization(line)
                {
                    gpu.utilization_percent =
                        Some(utilization.map_err(|message| error(number, message))?);
                }
                continue;
            };
            open_gpu = None;
            if item.is_empty() || item.eq_ignore_ascii_case("<None>") {
                continue;
            }
            if let Some(header) = header(item) {
                match (header, section) {
                    (Header::Gpus { free }, Section::System | Section::Gpus { .. }) => {
                        section = Section::Gpus { free };
                    }
                    (Header::List(kind), Section::Profiles | Section::List(_)) => {
                        section = Section::List(kind);
                        lora = false;
                    }
                    (Header::Lora, Section::List(_)) => lora = true,
                    _ => {
                        return Err(error(
                            number,
                            format!("`{item}` is out of place here ({})", section.describe()),
                        ));
                    }
                }
                continue;
            }
            match section {
                Section::Gpus { free } => {
                    let gpu = gpu_line(item, free).map_err(|message| error(number, message))?;
                    if gpu.utilization_percent.is_none() {
                        open_gpu = Some(list.gpus.len());
                    }
                    list.gpus.push(gpu);
                }
                Section::List(kind) => {
                    if looks_like_header(item) {
                        return Err(error(number, format!("unknown section `{item}`")));
                    }
                    let profile =
                        profile_line(item, lora).map_err(|message| error(number, message))?;
                    match kind {
                        List::Runnable => list.runnable.push(profile),
                        List::CompatibleNotRunnable => list.compatible_not_runnable.push(profile),
                        List::Compilable => list.compilable.push(profile),
                        List::Incompatible => list.incompatible.push(profile),
                    }
                }
                Section::System | Section::Profiles => {
                    let message = if looks_like_header(item) {
                        format!("unknown section `{item}`")
                    } else {
                        format!(
                            "`{item}` is not under a list header ({})",
                            section.describe()
                        )
                    };
                    return Err(error(number, message));
                }
                Section::Preamble => {}
            }
        }
        if !seen_header {
            return Err(error(
                0,
                "no `SYSTEM INFO` or `MODEL PROFILES` line: not list-model-profiles output"
                    .to_owned(),
            ));
        }
        Ok(list)
    }

    /// The profile NIM would select: the first runnable entry with (`lora`) or without LoRA
    /// support.
    pub fn selected(&self, lora: bool) -> Option<&ListedProfile> {
        self.runnable.iter().find(|profile| profile.lora == lora)
    }

    /// Every listed profile: runnable, compatible but not runnable, compilable, incompatible.
    pub fn profiles(&self) -> impl Iterator<Item = &ListedProfile> {
        self.runnable
            .iter()
            .chain(&self.compatible_not_runnable)
            .chain(&self.compilable)
            .chain(&self.incompatible)
    }

    /// The listed profile with this id, else the first with this name.
    pub fn get(&self, id_or_name: &str) -> Option<&ListedProfile> {
        self.profiles()
            .find(|profile| profile.id == id_or_name)
            .or_else(|| {
                self.profiles()
                    .find(|profile| profile.name.as_deref() == Some(id_or_name))
            })
    }
}

impl Section {
    fn describe(self) -> &'static str {
        match self {
            Section::Preamble => "before SYSTEM INFO",
            Section::System => "in SYSTEM INFO, before `- Free GPUs:`",
            Section::Gpus { .. } => "in a GPU list",
            Section::Profiles => "in MODEL PROFILES, before a list header",
            Section::List(_) => "in a profile list",
        }
    }
}

/// Recognizes a header from its text (case-insensitive, trailing `: <None>` or `:` ignored).
fn header(item: &str) -> Option<Header> {
    let lower = item.to_ascii_lowercase();
    let text = lower.trim();
    let text = text.strip_suffix("<none>").unwrap_or(text).trim_end();
    let text = text.strip_suffix(':').unwrap_or(text).trim_end();
    let starts = |prefix: &str| text.starts_with(prefix);
    if text == "free gpus" {
        Some(Header::Gpus { free: true })
    } else if text == "non-free gpus" {
        Some(Header::Gpus { free: false })
    } else if text == "with lora support" {
        Some(Header::Lora)
    } else if starts("compatible with system and runnable") {
        Some(Header::List(List::Runnable))
    } else if starts("compatible with system but") {
        Some(Header::List(List::CompatibleNotRunnable))
    } else if text == "compatible with system" {
        Some(Header::List(List::Runnable))
    } else if starts("compilable to trt-llm") {
        Some(Header::List(List::Compilable))
    } else if starts("incompatible with system") {
        Some(Header::List(List::Incompatible))
    } else {
        None
    }
}

/// An unknown `- Something:` line: words ending in a colon (or `: <None>`), not an entry.
fn looks_like_header(item: &str) -> bool {
    let text = item.trim_end();
    let text = text.strip_suffix("<None>").unwrap_or(text).trim_end();
    text.ends_with(':') && !text.contains('(') && text.contains(' ')
}

/// `[current utilization: 30%]` anywhere in `text`: `None` when absent, else the percentage or
/// what is wrong with it.
fn utilization(text: &str) -> Option<std::result::Result<u32, String>> {
    const MARK: &str = "[current utilization:";
    let start = text.find(MARK)?;
    let rest = &text[start + MARK.len()..];
    let Some(end) = rest.find(']') else {
        return Some(Err(format!("unclosed `{MARK}`")));
    };
    let value = rest[..end].trim();
    let digits = value.strip_suffix('%').unwrap_or(value).trim();
    Some(
        digits
            .parse()
            .map_err(|_| format!("utilization `{value}` is not a percentage")),
    )
}

/// `[20b2:10de] (0) NVIDIA A100-SXM4-80GB (A100 80GB) [current utilization: 0%]`.
fn gpu_line(item: &str, free: bool) -> std::result::Result<ListedGpu, String> {
    let expected = "expected `[<device>:<vendor>] (<index>) <name> [current utilization: N%]`";
    let rest = item
        .strip_prefix('[')
        .ok_or_else(|| format!("GPU line `{item}`: {expected}"))?;
    let (pci, rest) = rest
        .split_once(']')
        .ok_or_else(|| format!("GPU line `{item}`: unclosed `[`"))?;
    let pci = pci.trim();
    if pci.is_empty() || pci.contains(char::is_whitespace) {
        return Err(format!("GPU line `{item}`: PCI id `{pci}` not understood"));
    }
    let (index, rest) = rest
        .trim_start()
        .strip_prefix('(')
        .and_then(|rest| rest.split_once(')'))
        .ok_or_else(|| format!("GPU line `{item}`: no `(<index>)` after the PCI id"))?;
    let index = index
        .trim()
        .parse()
        .map_err(|_| format!("GPU line `{item}`: index `{index}` is not a number"))?;
    let utilization_percent = utilization(rest).transpose()?;
    let name = rest
        .find("[current utilization:")
        .map_or(rest, |at| &rest[..at])
        .trim();
    let (nvml_name, short_name) = split_short_name(name);
    if nvml_name.is_empty() {
        return Err(format!("GPU line `{item}`: no GPU name"));
    }
    Ok(ListedGpu {
        pci_id: normalize_pci_id(pci),
        index,
        nvml_name: nvml_name.to_owned(),
        short_name: short_name.map(str::to_owned),
        utilization_percent,
        free,
    })
}

/// `NVIDIA A100-SXM4-80GB (A100 80GB)` → (`NVIDIA A100-SXM4-80GB`, `A100 80GB`): a final
/// parenthesized part that is not the whole text.
fn split_short_name(name: &str) -> (&str, Option<&str>) {
    let Some(inner_end) = name.strip_suffix(')').map(str::len) else {
        return (name, None);
    };
    let mut depth = 0usize;
    for (at, c) in name[..inner_end].char_indices().rev() {
        match c {
            ')' => depth += 1,
            '(' if depth > 0 => depth -= 1,
            '(' => {
                let before = name[..at].trim_end();
                let inner = name[at + 1..inner_end].trim();
                if before.is_empty() {
                    return (name, None);
                }
                return (before, (!inner.is_empty()).then_some(inner));
            }
            _ => {}
        }
    }
    (name, None)
}

/// `<id> (<name>) [<annotation>]`, `<id>`, or `<id> - <description>`.
fn profile_line(item: &str, lora: bool) -> std::result::Result<ListedProfile, String> {
    let (id, rest) = item
        .split_once(char::is_whitespace)
        .map_or((item, ""), |(id, rest)| (id, rest.trim()));
    if id.starts_with(['(', '[']) {
        return Err(format!("entry `{item}` has no profile id before its name"));
    }
    let mut profile = ListedProfile {
        id: id.to_owned(),
        name: None,
        lora,
        annotation: None,
    };
    let mut rest = rest;
    if let Some(inner) = rest.strip_prefix('(') {
        let (name, after) = inner
            .split_once(')')
            .ok_or_else(|| format!("entry `{item}`: unclosed `(`"))?;
        profile.name = Some(name.trim().to_owned()).filter(|name| !name.is_empty());
        rest = after.trim();
    } else if let Some(description) = rest.strip_prefix("- ") {
        profile.name = Some(description.trim().to_owned()).filter(|name| !name.is_empty());
        rest = "";
    }
    if let Some(inner) = rest.strip_prefix('[') {
        let note = inner.strip_suffix(']').unwrap_or(inner).trim();
        profile.annotation = Some(note.to_owned()).filter(|note| !note.is_empty());
    } else if !rest.is_empty() {
        return Err(format!(
            "entry `{item}`: `{rest}` not understood (expected `<id> (<name>)`)"
        ));
    }
    Ok(profile)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> ProfileList {
        ProfileList::parse("out.txt", text).unwrap_or_else(|e| panic!("{e}"))
    }

    fn parse_err(text: &str) -> (usize, String) {
        match ProfileList::parse("out.txt", text) {
            Err(Error::Parse {
                source_name,
                line,
                message,
            }) => {
                assert_eq!(source_name, "out.txt");
                (line, message)
            }
            other => panic!("{text:?}: {other:?}"),
        }
    }

    #[test]
    fn gpu_line_variants() {
        let l = parse(
            "   SYSTEM INFO\n   - Free GPUs:\n     -  [26B1:10DE] (0) NVIDIA RTX 6000 Ada Generation[current utilization: 0%]\n\
             2025-05-22T09:03:42.752024Z  INFO nim_hub_ngc::api::tokio::builder: configured\n\
             - Non-free GPUs:\n  -  [2191:10de] (1) NVIDIA GeForce GTX 1660 Ti \n      [current utilization: 7%]\n\
             -  [2322:10de] (2) Odd (Name) (H800)\n",
        );
        assert_eq!(l.gpus.len(), 3);
        assert_eq!(l.gpus[0].pci_id, "26b1:10de");
        assert_eq!(l.gpus[0].nvml_name, "NVIDIA RTX 6000 Ada Generation");
        assert_eq!(l.gpus[0].short_name, None);
        assert_eq!(l.gpus[0].utilization_percent, Some(0));
        assert!(l.gpus[0].free);
        assert_eq!(l.gpus[1].nvml_name, "NVIDIA GeForce GTX 1660 Ti");
        assert_eq!(l.gpus[1].utilization_percent, Some(7));
        assert!(!l.gpus[1].free);
        assert_eq!(l.gpus[2].nvml_name, "Odd (Name)");
        assert_eq!(l.gpus[2].short_name.as_deref(), Some("H800"));
        assert_eq!(l.gpus[2].utilization_percent, None);
        assert!(l.runnable.is_empty());
    }

    #[test]
    fn nim2_and_non_llm_forms() {
        let id = "dcec66a50892315842bdc46d5b2d8648fed3fe3d3382437f0a811c56eff8c39c";
        let l = parse(&format!(
            "MODEL PROFILES\n- Compatible with system and runnable:\n- {id} (vllm-bf16-tp1-pp1) [requires >=18 GB/gpu]\n\
             - With LoRA support:\n- {id}1 (vllm-bf16-tp1-pp1-feat_lora) [requires >=22 GB/gpu]\n\
             - Compatible with system but low memory:\n- {id}2 (vllm-bf16-tp1-pp1) [requires >=45 GB/gpu, try --max-model-len=4096 to reduce to >=30 GB/gpu]\n\
             - Compatible with system but not runnable due to low GPU free memory\n  - {id}3 (vllm-fp16-tp1)\n\
             - Incompatible with system:\n- {id}4\n- {id}5 - ampereplus:disabled|batch_size:32|gpu:a100\n\
             - Compatible with system:\n    - {id}6 (vllm)\n"
        ));
        assert_eq!(l.runnable.len(), 3);
        assert_eq!(
            l.runnable[0].annotation.as_deref(),
            Some("requires >=18 GB/gpu")
        );
        assert!(!l.runnable[0].lora && l.runnable[1].lora && !l.runnable[2].lora);
        assert_eq!(l.runnable[2].name.as_deref(), Some("vllm"));
        assert_eq!(l.compatible_not_runnable.len(), 2);
        assert!(!l.compatible_not_runnable[0].lora);
        assert_eq!(l.incompatible.len(), 2);
        assert_eq!(l.incompatible[0].name, None);
        assert_eq!(
            l.incompatible[1].name.as_deref(),
            Some("ampereplus:disabled|batch_size:32|gpu:a100")
        );
        assert_eq!(
            l.selected(true).map(|p| p.id.as_str()),
            Some(&*format!("{id}1"))
        );
        assert_eq!(
            l.get("vllm").map(|p| p.id.as_str()),
            Some(&*format!("{id}6"))
        );
        assert_eq!(l.profiles().count(), 7);
    }

    #[test]
    fn errors_have_lines() {
        assert_eq!(parse_err("").0, 0);
        assert_eq!(parse_err("just a log line\n").0, 0);
        assert_eq!(
            parse_err(
                "MODEL PROFILES\n- Compatible with system and runnable:\n  - abc (unclosed\n"
            )
            .0,
            3
        );
        assert_eq!(parse_err("MODEL PROFILES\n  - abc (x)\n").0, 2);
        let (line, message) = parse_err("MODEL PROFILES\n- Runnable soon:\n");
        assert_eq!(line, 2);
        assert!(message.contains("unknown section"), "{message}");
        assert_eq!(
            parse_err("MODEL PROFILES\n- Incompatible with system:\n- Something new: <None>\n").0,
            3
        );
        assert_eq!(
            parse_err("SYSTEM INFO\n- Free GPUs:\n  - [20b2:10de] NVIDIA A100\n").0,
            3
        );
        assert_eq!(
            parse_err("SYSTEM INFO\n  - [20b2:10de] (0) NVIDIA A100\n").0,
            2
        );
        assert_eq!(
            parse_err(
                "SYSTEM INFO\n- Free GPUs:\n  - [20b2:10de] (0) A100 [current utilization: lots]\n"
            )
            .0,
            3
        );
        assert_eq!(
            parse_err(
                "SYSTEM INFO\n- Free GPUs:\n  - [20b2:10de] (0) A\n [current utilization: x%]\n"
            )
            .0,
            4
        );
        assert_eq!(parse_err("SYSTEM INFO\n- With LoRA support:\n").0, 2);
        assert_eq!(parse_err("MODEL PROFILES\n- Free GPUs:\n").0, 2);
        assert_eq!(
            parse_err("MODEL PROFILES\n- Incompatible with system:\n  - (vllm)\n").0,
            3
        );
        assert_eq!(
            parse_err("MODEL PROFILES\n- Incompatible with system:\n  - abc (x) trailing\n").0,
            3
        );
    }
}
