//! The GPU catalog: memory, bandwidth, tensor throughput, compute capability, interconnect and
//! PCI ids of the GPUs NIM runs on, found by the names people and tools write.
//!
//! ```
//! use nim_sizing::gpu::{self, ComputeCapability, GpuCatalog, GpuSpec};
//! use nim_sizing::{Bytes, BytesPerSecond, Error, Tflops};
//!
//! let catalog = gpu::builtin();
//! // The same GPU by the names a person, nvidia-smi, GPU feature discovery and NIM write.
//! for name in ["H100", "h100-sxm-80gb", "NVIDIA H100 80GB HBM3", "NVIDIA-H100-80GB-HBM3", "2330:10de"] {
//!     assert_eq!(catalog.lookup(name)?.id, "h100-sxm-80gb");
//! }
//! let h100 = catalog.lookup("H100")?;
//! assert_eq!(h100.compute_capability.to_string(), "9.0");
//! assert!(h100.supports_fp8() && !h100.supports_fp4());
//! assert_eq!(h100.gfd_label(), "NVIDIA-H100-80GB-HBM3");
//! assert_eq!(h100.pci_id(), "2330:10de");
//! assert_eq!(h100.visible_memory.to_string(), "79.11 GiB");
//!
//! // An unknown name is an error that lists the nearest known GPUs.
//! match catalog.lookup("H10") {
//!     Err(Error::UnknownGpu { suggestions, .. }) => assert_eq!(suggestions[0], "h100-sxm-80gb"),
//!     other => panic!("{other:?}"),
//! }
//!
//! // Users register their own GPUs; lookup finds them like the built-in ones.
//! let mut catalog = GpuCatalog::builtin();
//! catalog.register(
//!     GpuSpec::new(
//!         "my-gpu-32gb",
//!         "Example GPU 32GB",
//!         Bytes::from_gib(32.0),
//!         BytesPerSecond::from_gb_per_s(1000.0),
//!         Tflops(200.0),
//!         ComputeCapability::new(8, 9),
//!     )
//!     .with_fp8_tflops(Some(Tflops(400.0)))
//!     .with_pci_device_id(0x1234)
//!     .with_alias("mygpu"),
//! )?;
//! assert_eq!(catalog.lookup("MYGPU")?.id, "my-gpu-32gb");
//! assert_eq!(catalog.lookup("1234:10de")?.id, "my-gpu-32gb");
//! # Ok::<(), nim_sizing::Error>(())
//! ```
//!
//! # What the numbers mean
//!
//! - [`GpuSpec::memory`] is the capacity the vendor quotes. NVIDIA's "80 GB" for GPU memory is
//!   a binary (JEDEC) gigabyte: `nvidia-smi` reports 81,920 MiB (exactly 80 GiB) on an A100
//!   80GB and 81,559 MiB on an H100 80GB, both above 80 × 10^9 bytes (76,294 MiB), so the
//!   built-in entries read the quoted figure as GiB ([`Bytes::from_gib`]). Read as decimal GB,
//!   the nominal capacity would be smaller than what CUDA reports.
//! - [`GpuSpec::visible_memory`] is the total that CUDA reports (`torch.cuda.mem_get_info()`,
//!   the "total capacity" in PyTorch's out-of-memory message, the total in vLLM logs): what an
//!   engine can budget from. Each entry says which rule gave it, in this order of preference:
//!   - rule 1: a published observation of that total on that GPU (or on one with the same
//!     memory configuration), cited at the entry;
//!   - rule 2: the `nvidia-smi` total minus 550 MiB, the gap seen on the H100 SXM (81,559 MiB
//!     against 79.11 GiB; the A100 40GB shows 512 MiB), where `nvidia-smi`'s total is
//!     published;
//!   - rule 3: otherwise [`estimated_visible_memory`], 98.8 % of the nominal capacity, the
//!     ratio observed on the H100 (79.11 / 80) and A100 (79.14 / 80, 39.50 / 40).
//!
//!   GDDR6 data-centre cards (T4, A10G, L4, L40, L40S) run with ECC on, which takes 1/16 of
//!   the memory (`nvidia-smi` shows 46,068 MiB on a 48 GB L40S), so only rules 1 and 2 fit
//!   them. These are estimates of a driver-dependent figure: check a real deployment with
//!   `torch.cuda.mem_get_info()` and register a corrected entry where it matters.
//! - [`GpuSpec::bandwidth`] is the datasheet figure in decimal GB/s.
//! - Throughputs are dense (no structured sparsity) tensor-core peaks; NVIDIA datasheets quote
//!   sparse figures, which are twice these.
//! - [`Interconnect::NvLink`] is the per-GPU NVLink bandwidth and the size of the NVLink
//!   domain (8 on HGX boards, 72 in a GB200 NVL72 rack, 2 or 4 for bridged PCIe cards; bridged
//!   entries assume the bridge is fitted).
//!
//! # Names
//!
//! [`GpuCatalog::lookup`] ignores case, a leading `NVIDIA` and every character other than
//! ASCII letters and digits, so `H100-SXM`, `h100_sxm` and `NVIDIA H100 SXM` are one name. It
//! accepts the canonical id, the marketing name, the aliases, the names `nvidia-smi` prints,
//! the GPU feature discovery `nvidia.com/gpu.product` label (also with the `-SHARED` suffix
//! that time-slicing adds; MIG labels name a slice, not the GPU, and are not accepted), and
//! PCI ids written `2330:10de`, `10de:2330`, `[2330:10de]`, `0x2330`, `2330` or `0x233010DE`
//! (as `nvidia-smi -q` prints it). A name is tried before a PCI id, so `b200` is the B200.
//!
//! Short names that fit several GPUs resolve to a fixed default:
//!
//! | name | resolves to |
//! |---|---|
//! | `H100`, `H100 SXM`, `H100 80GB` | `h100-sxm-80gb` |
//! | `H200` | `h200-sxm-141gb` |
//! | `A100`, `A100 SXM`, `A100 80GB` | `a100-sxm-80gb` |
//! | `A100 40GB` | `a100-sxm-40gb` |
//! | `A100 PCIe` | `a100-pcie-80gb` |
//! | `B200` | `b200-180gb` (HGX B200) |
//! | `GB200` | `gb200` (one GPU of a GB200 NVL72) |
//! | `GH200`, `GH200 480GB` | `gh200-96gb` |
//! | `GH200 NVL`, `GH200 144GB`, `GH200 141GB` | `gh200-144gb` |
//! | `RTX PRO 6000`, `RTX PRO 6000 Blackwell` | `rtx-pro-6000-blackwell-96gb` (Server Edition) |
//!
//! `RTX 6000` alone names three different cards (Quadro RTX 6000, RTX 6000 Ada, RTX PRO
//! 6000) and is not an alias.
//!
//! # Not built in
//!
//! Variants that share a family name but not the memory: H20 with HBM3e (PCI 232c, 141 GB),
//! HGX B200 168GB (2909), the RTX PRO 6000 Blackwell Workstation Editions (2bb1, 2bb4), the
//! A10 (2236), H800 and A800. [`GpuCatalog::register`] adds them.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::OnceLock;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};
use crate::units::{Bytes, BytesPerSecond, MIB, Tflops};

/// NVIDIA's PCI vendor id.
pub const NVIDIA_PCI_VENDOR: u16 = 0x10de;

/// The fraction of nominal memory that CUDA reports where nothing better is known: 98.8 %,
/// the ratio observed on the H100 80GB (79.11 GiB) and the A100 80GB and 40GB (79.14, 39.50
/// GiB).
pub const VISIBLE_MEMORY_RATIO: f64 = 0.988;

/// How many suggestions an [`Error::UnknownGpu`] carries at most.
pub const MAX_SUGGESTIONS: usize = 3;

/// The CUDA-visible memory to assume for a GPU with `nominal` memory when it has not been
/// observed: [`VISIBLE_MEMORY_RATIO`] of it. GDDR cards with ECC enabled see 1/16 less.
pub fn estimated_visible_memory(nominal: Bytes) -> Bytes {
    nominal.scale(VISIBLE_MEMORY_RATIO)
}

// ---------------------------------------------------------------------------------------------
// Compute capability
// ---------------------------------------------------------------------------------------------

/// A CUDA compute capability, `major.minor` (9.0 for Hopper). Ordered by major, then minor.
///
/// Parses from `"9.0"`, `"12.0"`, `"sm_90"` or `"sm_120"`; displays and serializes as
/// `"9.0"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ComputeCapability {
    /// Major version: 7 Volta/Turing, 8 Ampere/Ada, 9 Hopper, 10 and 12 Blackwell.
    pub major: u8,
    /// Minor version.
    pub minor: u8,
}

impl ComputeCapability {
    /// `major.minor`.
    pub const fn new(major: u8, minor: u8) -> Self {
        Self { major, minor }
    }
}

impl fmt::Display for ComputeCapability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl FromStr for ComputeCapability {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let invalid = || {
            Error::invalid(
                "compute_capability",
                format!("{s:?} is not a compute capability such as \"9.0\" or \"sm_90\""),
            )
        };
        let t = s.trim();
        if let Some((major, minor)) = t.split_once('.') {
            let major = major.parse().map_err(|_| invalid())?;
            let minor = minor.parse().map_err(|_| invalid())?;
            return Ok(Self::new(major, minor));
        }
        let digits = t
            .strip_prefix("sm_")
            .or_else(|| t.strip_prefix("sm"))
            .ok_or_else(invalid)?;
        if digits.len() < 2 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(invalid());
        }
        let (major, minor) = digits.split_at(digits.len() - 1);
        Ok(Self::new(
            major.parse().map_err(|_| invalid())?,
            minor.parse().map_err(|_| invalid())?,
        ))
    }
}

impl Serialize for ComputeCapability {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ComputeCapability {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

// ---------------------------------------------------------------------------------------------
// Interconnect
// ---------------------------------------------------------------------------------------------

/// How a GPU talks to its peers.
///
/// Serialized with a `kind` tag: `{"kind": "nvlink", "bandwidth": 9e11, "max_gpus": 8}` or
/// `{"kind": "pcie"}`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Interconnect {
    /// NVLink (through NVSwitch or a bridge).
    #[serde(rename = "nvlink")]
    NvLink {
        /// Total NVLink bandwidth of one GPU (both directions, as datasheets quote it).
        bandwidth: BytesPerSecond,
        /// GPUs in one NVLink domain: 8 for HGX boards, 72 for GB200 NVL72, 2 or 4 for bridges.
        max_gpus: u32,
    },
    /// PCIe only.
    Pcie,
}

impl Interconnect {
    /// The per-GPU NVLink bandwidth, `None` for PCIe-only GPUs.
    pub fn nvlink_bandwidth(&self) -> Option<BytesPerSecond> {
        match self {
            Self::NvLink { bandwidth, .. } => Some(*bandwidth),
            Self::Pcie => None,
        }
    }

    /// How many GPUs share one NVLink domain (1 for PCIe-only GPUs).
    pub fn nvlink_domain_size(&self) -> u32 {
        match self {
            Self::NvLink { max_gpus, .. } => *max_gpus,
            Self::Pcie => 1,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// GPU spec
// ---------------------------------------------------------------------------------------------

/// One GPU model. See the [module docs](self) for what each figure means.
///
/// Serialized as JSON with PCI ids as hex strings (`"2330"`) and the compute capability as
/// `"9.0"`; `aliases`, `nvml_names`, `pci_device_ids`, `bf16_tflops` and `fp8_tflops` may be
/// omitted (an omitted throughput means "not supported").
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GpuSpec {
    /// Canonical id, e.g. `h100-sxm-80gb`.
    pub id: String,
    /// Marketing name, e.g. `NVIDIA H100 SXM5 80GB`.
    pub name: String,
    /// Nominal memory, as the vendor quotes it.
    pub memory: Bytes,
    /// Memory CUDA reports as total; never more than [`GpuSpec::memory`].
    pub visible_memory: Bytes,
    /// Memory bandwidth.
    pub bandwidth: BytesPerSecond,
    /// Dense BF16 tensor throughput; `None` where BF16 is not supported (compute capability
    /// below 8.0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bf16_tflops: Option<Tflops>,
    /// Dense FP16 tensor throughput.
    pub fp16_tflops: Tflops,
    /// Dense FP8 tensor throughput; `None` without FP8 tensor cores (compute capability below
    /// 8.9).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fp8_tflops: Option<Tflops>,
    /// CUDA compute capability.
    pub compute_capability: ComputeCapability,
    /// GPU-to-GPU interconnect.
    pub interconnect: Interconnect,
    /// PCI device ids (the vendor is always `10de`), e.g. `0x2330`.
    #[serde(default, with = "pci_hex", skip_serializing_if = "Vec::is_empty")]
    pub pci_device_ids: Vec<u16>,
    /// More names for lookup, e.g. `H100`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    /// Names as `nvidia-smi` (NVML) prints them, e.g. `NVIDIA H100 80GB HBM3`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nvml_names: Vec<String>,
}

impl GpuSpec {
    /// A GPU with the required figures. The rest default to: visible memory
    /// [`estimated_visible_memory`]; BF16 throughput equal to FP16 where the compute capability
    /// supports BF16, else none; no FP8; PCIe only; no PCI ids, aliases or NVML names. Adjust
    /// them with the `with_*` methods.
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        memory: Bytes,
        bandwidth: BytesPerSecond,
        fp16_tflops: Tflops,
        compute_capability: ComputeCapability,
    ) -> Self {
        let bf16_tflops = (compute_capability >= BF16_MIN_CC).then_some(fp16_tflops);
        Self {
            id: id.into(),
            name: name.into(),
            memory,
            visible_memory: estimated_visible_memory(memory),
            bandwidth,
            bf16_tflops,
            fp16_tflops,
            fp8_tflops: None,
            compute_capability,
            interconnect: Interconnect::Pcie,
            pci_device_ids: Vec::new(),
            aliases: Vec::new(),
            nvml_names: Vec::new(),
        }
    }

    /// Sets the CUDA-visible memory.
    #[must_use]
    pub fn with_visible_memory(mut self, visible_memory: Bytes) -> Self {
        self.visible_memory = visible_memory;
        self
    }

    /// Sets the dense BF16 throughput (`None`: not supported).
    #[must_use]
    pub fn with_bf16_tflops(mut self, tflops: Option<Tflops>) -> Self {
        self.bf16_tflops = tflops;
        self
    }

    /// Sets the dense FP8 throughput (`None`: no FP8 tensor cores).
    #[must_use]
    pub fn with_fp8_tflops(mut self, tflops: Option<Tflops>) -> Self {
        self.fp8_tflops = tflops;
        self
    }

    /// Sets the interconnect.
    #[must_use]
    pub fn with_interconnect(mut self, interconnect: Interconnect) -> Self {
        self.interconnect = interconnect;
        self
    }

    /// Adds a PCI device id.
    #[must_use]
    pub fn with_pci_device_id(mut self, device_id: u16) -> Self {
        self.pci_device_ids.push(device_id);
        self
    }

    /// Adds an alias.
    #[must_use]
    pub fn with_alias(mut self, alias: impl Into<String>) -> Self {
        self.aliases.push(alias.into());
        self
    }

    /// Adds a name as `nvidia-smi` prints it.
    #[must_use]
    pub fn with_nvml_name(mut self, nvml_name: impl Into<String>) -> Self {
        self.nvml_names.push(nvml_name.into());
        self
    }

    /// BF16 support: compute capability 8.0 or later.
    pub fn supports_bf16(&self) -> bool {
        self.compute_capability >= BF16_MIN_CC
    }

    /// FP8 tensor cores: compute capability 8.9 or later (Ada, Hopper, Blackwell).
    pub fn supports_fp8(&self) -> bool {
        self.compute_capability >= FP8_MIN_CC
    }

    /// FP4 (NVFP4) tensor cores: Blackwell, compute capability 10.0 or later.
    pub fn supports_fp4(&self) -> bool {
        self.compute_capability >= FP4_MIN_CC
    }

    /// The per-GPU NVLink bandwidth, `None` for PCIe-only GPUs.
    pub fn nvlink_bandwidth(&self) -> Option<BytesPerSecond> {
        self.interconnect.nvlink_bandwidth()
    }

    /// The `nvidia.com/gpu.product` label GPU feature discovery gives a node with this GPU:
    /// the first NVML name with each space replaced by `-` (`NVIDIA-H100-80GB-HBM3`), or the
    /// marketing name treated the same way when no NVML name is known.
    pub fn gfd_label(&self) -> String {
        self.nvml_names
            .first()
            .unwrap_or(&self.name)
            .replace(' ', "-")
    }

    /// The first PCI id as `device:vendor`, e.g. `2330:10de` (the form NIM's `gpu_device` tag
    /// uses); empty when the spec has no PCI id (every built-in GPU has one).
    pub fn pci_id(&self) -> String {
        self.pci_device_ids
            .first()
            .map(|id| format!("{id:04x}:{NVIDIA_PCI_VENDOR:04x}"))
            .unwrap_or_default()
    }

    /// Every name lookup answers to, with the field it comes from (`id`, `name`,
    /// `aliases[i]`, `nvml_names[i]`).
    fn names(&self) -> impl Iterator<Item = (String, &str)> + '_ {
        [
            ("id".to_owned(), self.id.as_str()),
            ("name".to_owned(), self.name.as_str()),
        ]
        .into_iter()
        .chain(
            self.aliases
                .iter()
                .enumerate()
                .map(|(i, a)| (format!("aliases[{i}]"), a.as_str())),
        )
        .chain(
            self.nvml_names
                .iter()
                .enumerate()
                .map(|(i, n)| (format!("nvml_names[{i}]"), n.as_str())),
        )
    }

    /// Checks the figures on their own (not against a catalog).
    fn validate(&self) -> Result<()> {
        for (field, name) in self.names() {
            if normalize(name).is_empty() {
                return Err(Error::invalid(
                    field,
                    format!("{name:?} has no letters or digits to look it up by"),
                ));
            }
        }
        if self.memory == Bytes::ZERO {
            return Err(Error::invalid("memory", "must be more than zero"));
        }
        if self.visible_memory == Bytes::ZERO {
            return Err(Error::invalid("visible_memory", "must be more than zero"));
        }
        if self.visible_memory > self.memory {
            return Err(Error::invalid(
                "visible_memory",
                format!(
                    "{} is more than the nominal memory {}",
                    self.visible_memory, self.memory
                ),
            ));
        }
        if !positive(self.bandwidth.0) {
            return Err(Error::invalid("bandwidth", "must be a positive number"));
        }
        if !positive(self.fp16_tflops.0) {
            return Err(Error::invalid("fp16_tflops", "must be a positive number"));
        }
        if self.compute_capability.major == 0 {
            return Err(Error::invalid(
                "compute_capability",
                "major version must be at least 1",
            ));
        }
        check_precision(
            "bf16_tflops",
            self.bf16_tflops,
            self.supports_bf16(),
            "BF16",
            BF16_MIN_CC,
            self.compute_capability,
        )?;
        check_precision(
            "fp8_tflops",
            self.fp8_tflops,
            self.supports_fp8(),
            "FP8",
            FP8_MIN_CC,
            self.compute_capability,
        )?;
        if let Interconnect::NvLink {
            bandwidth,
            max_gpus,
        } = self.interconnect
        {
            if !positive(bandwidth.0) {
                return Err(Error::invalid(
                    "interconnect.bandwidth",
                    "must be a positive number",
                ));
            }
            if max_gpus < 2 {
                return Err(Error::invalid(
                    "interconnect.max_gpus",
                    "an NVLink domain has at least 2 GPUs",
                ));
            }
        }
        if let Some(id) = self
            .pci_device_ids
            .iter()
            .find(|&&id| id == 0 || id == 0xffff)
        {
            return Err(Error::invalid(
                "pci_device_ids",
                format!("{id:#06x} is not a device id"),
            ));
        }
        Ok(())
    }
}

const BF16_MIN_CC: ComputeCapability = ComputeCapability::new(8, 0);
const FP8_MIN_CC: ComputeCapability = ComputeCapability::new(8, 9);
const FP4_MIN_CC: ComputeCapability = ComputeCapability::new(10, 0);

fn positive(x: f64) -> bool {
    x.is_finite() && x > 0.0
}

/// A precision's throughput is given exactly when the compute capability supports it.
fn check_precision(
    field: &str,
    tflops: Option<Tflops>,
    supported: bool,
    precision: &str,
    min: ComputeCapability,
    cc: ComputeCapability,
) -> Result<()> {
    match (tflops, supported) {
        (Some(t), true) if !positive(t.0) => Err(Error::invalid(
            field,
            "must be a positive number, or absent where not supported",
        )),
        (Some(_), false) => Err(Error::invalid(
            field,
            format!(
                "compute capability {cc} has no {precision} tensor cores (needs {min}); leave it out"
            ),
        )),
        (None, true) => Err(Error::invalid(
            field,
            format!(
                "compute capability {cc} supports {precision} (from {min}); give its dense throughput"
            ),
        )),
        _ => Ok(()),
    }
}

/// PCI ids as hex strings in the wire format.
mod pci_hex {
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    pub(super) fn serialize<S: Serializer>(ids: &[u16], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(ids.iter().map(|id| format!("{id:04x}")))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Vec<u16>, D::Error> {
        Vec::<String>::deserialize(deserializer)?
            .iter()
            .map(|s| {
                super::parse_pci_id(s).ok_or_else(|| {
                    D::Error::custom(format!(
                        "{s:?} is not an NVIDIA PCI device id such as \"2330\" or \"2330:10de\""
                    ))
                })
            })
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------------

/// The lookup key of a name: ASCII letters and digits only, lower-case, without a leading
/// `nvidia`.
fn normalize(name: &str) -> String {
    let key: String = name
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    match key.strip_prefix("nvidia") {
        Some(rest) => rest.to_owned(),
        None => key,
    }
}

/// An NVIDIA PCI device id from `2330:10de`, `10de:2330`, `[2330:10de]`, `0x2330`, `2330` or
/// `0x233010DE` (as `nvidia-smi -q` prints it). `None` for anything else, including ids with
/// another vendor.
///
/// ```
/// use nim_sizing::gpu::parse_pci_id;
///
/// assert_eq!(parse_pci_id("2330:10de"), Some(0x2330));
/// assert_eq!(parse_pci_id("10DE:2330"), Some(0x2330));
/// assert_eq!(parse_pci_id("0x233010DE"), Some(0x2330));
/// assert_eq!(parse_pci_id("2330:1002"), None);
/// ```
pub fn parse_pci_id(s: &str) -> Option<u16> {
    let key = normalize(s);
    let hex = key.strip_prefix("0x").unwrap_or(&key);
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let device = match hex.len() {
        4 => hex,
        8 => hex
            .strip_suffix("10de")
            .or_else(|| hex.strip_prefix("10de"))?,
        _ => return None,
    };
    u16::from_str_radix(device, 16).ok()
}

// ---------------------------------------------------------------------------------------------
// Catalog
// ---------------------------------------------------------------------------------------------

/// A set of GPUs with an index from every name and PCI id to its GPU.
///
/// [`GpuCatalog::default`] is [`GpuCatalog::builtin`]; [`builtin`] shares one instance.
#[derive(Clone, Debug)]
pub struct GpuCatalog {
    gpus: Vec<GpuSpec>,
    names: HashMap<String, usize>,
    pci: HashMap<u16, usize>,
}

impl Default for GpuCatalog {
    fn default() -> Self {
        Self::builtin()
    }
}

impl GpuCatalog {
    /// A catalog with no GPUs.
    pub fn empty() -> Self {
        Self {
            gpus: Vec::new(),
            names: HashMap::new(),
            pci: HashMap::new(),
        }
    }

    /// Every built-in GPU (see the [module docs](self)).
    pub fn builtin() -> Self {
        let mut catalog = Self::empty();
        for gpu in builtin_gpus() {
            // The built-in entries are valid and clash-free (checked by the tests), so plain
            // insertion is enough.
            catalog.insert(gpu);
        }
        catalog
    }

    /// Adds a GPU after checking it: nonzero memory, visible memory and bandwidth, visible
    /// memory no more than nominal, positive throughputs given exactly for the precisions the
    /// compute capability supports, and no id, name, alias, NVML name or PCI id that already
    /// leads to another GPU. Errors are [`Error::Invalid`] naming the field (`id`,
    /// `aliases[1]`, `pci_device_ids`, ...).
    pub fn register(&mut self, gpu: GpuSpec) -> Result<()> {
        gpu.validate()?;
        for (field, name) in gpu.names() {
            if let Some(other) = self
                .names
                .get(&normalize(name))
                .and_then(|&i| self.gpus.get(i))
            {
                return Err(Error::invalid(
                    field,
                    format!("{name:?} already names GPU {:?}", other.id),
                ));
            }
        }
        for id in &gpu.pci_device_ids {
            if let Some(other) = self.pci.get(id).and_then(|&i| self.gpus.get(i)) {
                return Err(Error::invalid(
                    "pci_device_ids",
                    format!(
                        "{id:04x}:{NVIDIA_PCI_VENDOR:04x} already belongs to GPU {:?}",
                        other.id
                    ),
                ));
            }
        }
        self.insert(gpu);
        Ok(())
    }

    /// Indexes a GPU; a name or PCI id already taken keeps its first GPU.
    fn insert(&mut self, gpu: GpuSpec) {
        let index = self.gpus.len();
        for (_, name) in gpu.names() {
            self.names.entry(normalize(name)).or_insert(index);
        }
        for &id in &gpu.pci_device_ids {
            self.pci.entry(id).or_insert(index);
        }
        self.gpus.push(gpu);
    }

    /// The GPU a name or PCI id leads to (see the [module docs](self) for the forms).
    ///
    /// An unknown name is [`Error::UnknownGpu`] with the ids of up to [`MAX_SUGGESTIONS`]
    /// nearest GPUs, best first.
    pub fn lookup(&self, name: &str) -> Result<&GpuSpec> {
        self.find(name).ok_or_else(|| Error::UnknownGpu {
            name: name.to_owned(),
            suggestions: self.suggest(name),
        })
    }

    /// The GPU with this PCI device id (vendor `10de`).
    pub fn lookup_pci(&self, device_id: u16) -> Option<&GpuSpec> {
        self.pci.get(&device_id).and_then(|&i| self.gpus.get(i))
    }

    /// Every GPU, built-in ones first in catalog order, then registered ones in order.
    pub fn iter(&self) -> impl Iterator<Item = &GpuSpec> {
        self.gpus.iter()
    }

    /// How many GPUs the catalog holds.
    pub fn len(&self) -> usize {
        self.gpus.len()
    }

    /// Whether the catalog holds no GPU.
    pub fn is_empty(&self) -> bool {
        self.gpus.is_empty()
    }

    fn find(&self, name: &str) -> Option<&GpuSpec> {
        let key = normalize(name);
        let by_name = |key: &str| self.names.get(key).and_then(|&i| self.gpus.get(i));
        by_name(&key)
            .or_else(|| key.strip_suffix("shared").and_then(by_name))
            .or_else(|| parse_pci_id(&key).and_then(|id| self.lookup_pci(id)))
    }

    /// Ids of the GPUs whose names are nearest to `name` (Jaro-Winkler on lookup keys), best
    /// first, ties in catalog order.
    fn suggest(&self, name: &str) -> Vec<String> {
        let key = normalize(name);
        let mut best = vec![0.0_f64; self.gpus.len()];
        let mut score = |candidate: &str, index: usize| {
            if let Some(b) = best.get_mut(index) {
                *b = b.max(strsim::jaro_winkler(&key, candidate));
            }
        };
        for (candidate, &index) in &self.names {
            score(candidate, index);
        }
        for (&id, &index) in &self.pci {
            score(&format!("{id:04x}{NVIDIA_PCI_VENDOR:04x}"), index);
            score(&format!("{id:04x}"), index);
        }
        let mut order: Vec<usize> = (0..self.gpus.len()).collect();
        order.sort_by(|&a, &b| best[b].total_cmp(&best[a]).then(a.cmp(&b)));
        order
            .into_iter()
            .take(MAX_SUGGESTIONS)
            .filter_map(|i| self.gpus.get(i))
            .map(|gpu| gpu.id.clone())
            .collect()
    }
}

impl<'a> IntoIterator for &'a GpuCatalog {
    type Item = &'a GpuSpec;
    type IntoIter = std::slice::Iter<'a, GpuSpec>;

    fn into_iter(self) -> Self::IntoIter {
        self.gpus.iter()
    }
}

/// The built-in catalog, built once and shared.
pub fn builtin() -> &'static GpuCatalog {
    static BUILTIN: OnceLock<GpuCatalog> = OnceLock::new();
    BUILTIN.get_or_init(GpuCatalog::builtin)
}

// ---------------------------------------------------------------------------------------------
// Built-in entries
// ---------------------------------------------------------------------------------------------
//
// Sources, cited at each entry by their tag:
// [ref]     the project's reference notes, shared/reference/PROFILES-SIZING.md section 2, which reproduces NVIDIA
//           datasheets (hpctech H100 table; Glenn Lockwood's H100/B200 pages; the L40/L40S
//           datasheet table; willitrunai H20; Vultr HGX B200; llm-analysis gpu_configs @
//           d841e40a for A10G) and NIM's supported-GPU list (NIM docs 1.12.0/1.13.0).
// [pciids]  pciutils/pciids `pci.ids` @ c1c12547 (device names under vendor 10de).
// [smi]     `nvidia-smi` totals published in modal-labs/modal-client PR #2797: H100 81559 MiB,
//           A100 80GB 81920 MiB, A100 40GB 40960 MiB, A10(G) 23028 MiB, L40S 46068 MiB,
//           L4 23034 MiB, T4 15360 MiB; B200 183359 MiB in NVIDIA/TensorRT-LLM issue #10278.
// [gfd]     NVIDIA/k8s-device-plugin `internal/lm/resource.go` @ 02f65cca: the product label
//           is the NVML name with ' ' replaced by '-', plus "-SHARED" under time-slicing.
// Visible-memory rules 1-3 are described in the module docs.

/// Nominal memory quoted in NVIDIA's (binary) GB; see the module docs.
fn quoted_gb(gb: f64) -> Bytes {
    Bytes::from_gib(gb)
}

/// Rule 2: an `nvidia-smi` total in MiB less the 550 MiB the H100 shows between it and CUDA.
fn smi_minus_reserve(smi_mib: u64) -> Bytes {
    Bytes::new(smi_mib.saturating_sub(550) * MIB)
}

fn gb_s(gb: f64) -> BytesPerSecond {
    BytesPerSecond::from_gb_per_s(gb)
}

fn nvlink(gb: f64, max_gpus: u32) -> Interconnect {
    Interconnect::NvLink {
        bandwidth: gb_s(gb),
        max_gpus,
    }
}

fn strings(names: &[&str]) -> Vec<String> {
    names.iter().map(|&s| s.to_owned()).collect()
}

fn builtin_gpus() -> Vec<GpuSpec> {
    let cc = ComputeCapability::new;
    vec![
        // H100 SXM5 80GB: [ref] 80 GB HBM3, 3.35 TB/s, BF16 989 / FP8 1,979 dense, CC 9.0,
        // NVLink4 900 GB/s (HGX: 8), PCI 2330 [pciids "H100 SXM5 80GB"]. Visible (rule 1):
        // 79.11 GiB, PyTorch OOM message on an H100 in vllm-project/vllm issue #27508.
        GpuSpec {
            id: "h100-sxm-80gb".to_owned(),
            name: "NVIDIA H100 SXM5 80GB".to_owned(),
            memory: quoted_gb(80.0),
            visible_memory: Bytes::from_gib(79.11),
            bandwidth: gb_s(3350.0),
            bf16_tflops: Some(Tflops(989.0)),
            fp16_tflops: Tflops(989.0),
            fp8_tflops: Some(Tflops(1979.0)),
            compute_capability: cc(9, 0),
            interconnect: nvlink(900.0, 8),
            pci_device_ids: vec![0x2330],
            aliases: strings(&[
                "H100",
                "H100 SXM",
                "H100 SXM5",
                "H100 80GB",
                "H100 SXM 80GB",
            ]),
            nvml_names: strings(&["NVIDIA H100 80GB HBM3"]),
        },
        // H100 PCIe 80GB: [ref] 80 GB HBM2e, 2.0 TB/s, BF16 756 / FP8 1,513, CC 9.0, NVLink
        // bridge 600 GB/s in pairs, PCI 2331 [pciids "H100 PCIe"]. Visible: rule 3.
        GpuSpec {
            id: "h100-pcie-80gb".to_owned(),
            name: "NVIDIA H100 PCIe 80GB".to_owned(),
            memory: quoted_gb(80.0),
            visible_memory: estimated_visible_memory(quoted_gb(80.0)),
            bandwidth: gb_s(2000.0),
            bf16_tflops: Some(Tflops(756.0)),
            fp16_tflops: Tflops(756.0),
            fp8_tflops: Some(Tflops(1513.0)),
            compute_capability: cc(9, 0),
            interconnect: nvlink(600.0, 2),
            pci_device_ids: vec![0x2331],
            aliases: strings(&["H100 PCIe"]),
            nvml_names: strings(&["NVIDIA H100 PCIe"]),
        },
        // H100 NVL: [ref] 94 GB HBM3, 3.9 TB/s, BF16 835 / FP8 1,671, CC 9.0, bridge
        // 600 GB/s (pairs), PCI 2321 [pciids "H100L 94GB"; NIM prints "NVIDIA H100 NVL" and
        // names profiles `h100_nvl`]. Visible: rule 3.
        GpuSpec {
            id: "h100-nvl-94gb".to_owned(),
            name: "NVIDIA H100 NVL 94GB".to_owned(),
            memory: quoted_gb(94.0),
            visible_memory: estimated_visible_memory(quoted_gb(94.0)),
            bandwidth: gb_s(3900.0),
            bf16_tflops: Some(Tflops(835.0)),
            fp16_tflops: Tflops(835.0),
            fp8_tflops: Some(Tflops(1671.0)),
            compute_capability: cc(9, 0),
            interconnect: nvlink(600.0, 2),
            pci_device_ids: vec![0x2321],
            aliases: strings(&["H100 NVL", "H100L", "H100L 94GB"]),
            nvml_names: strings(&["NVIDIA H100 NVL"]),
        },
        // H200 SXM: [ref] 141 GB HBM3e, 4.8 TB/s, BF16 989 / FP8 1,979, CC 9.0, NVLink
        // 900 GB/s (HGX: 8), PCI 2335 [pciids "H200 SXM 141GB"]. Visible: rule 3.
        GpuSpec {
            id: "h200-sxm-141gb".to_owned(),
            name: "NVIDIA H200 SXM 141GB".to_owned(),
            memory: quoted_gb(141.0),
            visible_memory: estimated_visible_memory(quoted_gb(141.0)),
            bandwidth: gb_s(4800.0),
            bf16_tflops: Some(Tflops(989.0)),
            fp16_tflops: Tflops(989.0),
            fp8_tflops: Some(Tflops(1979.0)),
            compute_capability: cc(9, 0),
            interconnect: nvlink(900.0, 8),
            pci_device_ids: vec![0x2335],
            aliases: strings(&["H200", "H200 SXM", "H200 141GB"]),
            nvml_names: strings(&["NVIDIA H200"]),
        },
        // H200 NVL: [ref] 141 GB HBM3e, 4.8 TB/s, BF16 835 / FP8 1,671, CC 9.0, NVLink bridge
        // 900 GB/s, 2- or 4-way, PCI 233b [pciids "H200 NVL"]. Visible: rule 3.
        GpuSpec {
            id: "h200-nvl-141gb".to_owned(),
            name: "NVIDIA H200 NVL 141GB".to_owned(),
            memory: quoted_gb(141.0),
            visible_memory: estimated_visible_memory(quoted_gb(141.0)),
            bandwidth: gb_s(4800.0),
            bf16_tflops: Some(Tflops(835.0)),
            fp16_tflops: Tflops(835.0),
            fp8_tflops: Some(Tflops(1671.0)),
            compute_capability: cc(9, 0),
            interconnect: nvlink(900.0, 4),
            pci_device_ids: vec![0x233b],
            aliases: strings(&["H200 NVL"]),
            nvml_names: strings(&["NVIDIA H200 NVL"]),
        },
        // H20: [ref] 96 GB HBM3, 4.0 TB/s, BF16 148 / FP8 296, CC 9.0, NVLink 900 GB/s (HGX:
        // 8), PCI 2329 [pciids "H20"]; 232c "H20 HBM3e" is a 141 GB variant, not this one.
        // Visible: rule 3.
        GpuSpec {
            id: "h20-96gb".to_owned(),
            name: "NVIDIA H20 96GB".to_owned(),
            memory: quoted_gb(96.0),
            visible_memory: estimated_visible_memory(quoted_gb(96.0)),
            bandwidth: gb_s(4000.0),
            bf16_tflops: Some(Tflops(148.0)),
            fp16_tflops: Tflops(148.0),
            fp8_tflops: Some(Tflops(296.0)),
            compute_capability: cc(9, 0),
            interconnect: nvlink(900.0, 8),
            pci_device_ids: vec![0x2329],
            aliases: strings(&["H20"]),
            nvml_names: strings(&["NVIDIA H20"]),
        },
        // B200 (HGX): [ref] 180 GB HBM3e usable (192 GB marketed), 8 TB/s, BF16 2,250 / FP8
        // 4,500 (FP4 9,000), CC 10.0, NVLink5 1.8 TB/s (HGX: 8), PCI 2901 [pciids "B200"];
        // 2909 "HGX B200 168GB" is another variant. Visible (rule 2): [smi] 183359 MiB.
        GpuSpec {
            id: "b200-180gb".to_owned(),
            name: "NVIDIA HGX B200 180GB".to_owned(),
            memory: quoted_gb(180.0),
            visible_memory: smi_minus_reserve(183_359),
            bandwidth: gb_s(8000.0),
            bf16_tflops: Some(Tflops(2250.0)),
            fp16_tflops: Tflops(2250.0),
            fp8_tflops: Some(Tflops(4500.0)),
            compute_capability: cc(10, 0),
            interconnect: nvlink(1800.0, 8),
            pci_device_ids: vec![0x2901],
            aliases: strings(&["B200", "HGX B200", "DGX B200", "B200 SXM"]),
            nvml_names: strings(&["NVIDIA B200"]),
        },
        // GB200, one Blackwell GPU of a GB200 NVL72: [ref] 186 GB HBM3e (13.4-13.5 TB / 72),
        // 8 TB/s, BF16 2,500 / FP8 5,000 (FP4 10,000), CC 10.0, NVLink 1.8 TB/s across 72
        // GPUs, PCI 2941 [pciids "HGX GB200"]. Visible: rule 3.
        GpuSpec {
            id: "gb200".to_owned(),
            name: "NVIDIA GB200 NVL72 (per GPU)".to_owned(),
            memory: quoted_gb(186.0),
            visible_memory: estimated_visible_memory(quoted_gb(186.0)),
            bandwidth: gb_s(8000.0),
            bf16_tflops: Some(Tflops(2500.0)),
            fp16_tflops: Tflops(2500.0),
            fp8_tflops: Some(Tflops(5000.0)),
            compute_capability: cc(10, 0),
            interconnect: nvlink(1800.0, 72),
            pci_device_ids: vec![0x2941],
            aliases: strings(&["GB200 NVL72", "GB200 186GB"]),
            nvml_names: strings(&["NVIDIA GB200"]),
        },
        // A100 SXM4 40GB: [ref] 40 GB HBM2, 1,555 GB/s, BF16 312, no FP8, CC 8.0, NVLink3
        // 600 GB/s (HGX: 8), PCI 20b0 [pciids "A100 SXM4 40GB"]. Visible (rule 1): 39.50 GiB,
        // PyTorch OOM message on an A100 40GB in TianheWu/CoSeR issue #10 ([smi] 40960 MiB).
        GpuSpec {
            id: "a100-sxm-40gb".to_owned(),
            name: "NVIDIA A100 SXM4 40GB".to_owned(),
            memory: quoted_gb(40.0),
            visible_memory: Bytes::from_gib(39.50),
            bandwidth: gb_s(1555.0),
            bf16_tflops: Some(Tflops(312.0)),
            fp16_tflops: Tflops(312.0),
            fp8_tflops: None,
            compute_capability: cc(8, 0),
            interconnect: nvlink(600.0, 8),
            pci_device_ids: vec![0x20b0],
            aliases: strings(&["A100 40GB", "A100 SXM4 40GB"]),
            nvml_names: strings(&["NVIDIA A100-SXM4-40GB"]),
        },
        // A100 SXM4 80GB: [ref] 80 GB HBM2e, 2,039 GB/s, BF16 312, no FP8, CC 8.0, NVLink3
        // 600 GB/s (HGX: 8), PCI 20b2 [pciids "A100 SXM4 80GB"; seen in NIM's gpu_device].
        // Visible (rule 1): 79.14 GiB, PyTorch OOM message on an A100 80GB in
        // lianqi1008/Control-GIC issue #6 ([smi] 81920 MiB).
        GpuSpec {
            id: "a100-sxm-80gb".to_owned(),
            name: "NVIDIA A100 SXM4 80GB".to_owned(),
            memory: quoted_gb(80.0),
            visible_memory: Bytes::from_gib(79.14),
            bandwidth: gb_s(2039.0),
            bf16_tflops: Some(Tflops(312.0)),
            fp16_tflops: Tflops(312.0),
            fp8_tflops: None,
            compute_capability: cc(8, 0),
            interconnect: nvlink(600.0, 8),
            pci_device_ids: vec![0x20b2],
            aliases: strings(&[
                "A100",
                "A100 SXM",
                "A100 SXM4",
                "A100 80GB",
                "A100 SXM4 80GB",
            ]),
            nvml_names: strings(&["NVIDIA A100-SXM4-80GB"]),
        },
        // A100 PCIe 40GB: [ref] table note "PCIe 40GB: 20b1, 20f1" [pciids "A100 PCIe 40GB"
        // for both]; same memory and compute as the SXM4 40GB (1,555 GB/s, BF16 312), NVLink
        // bridge 600 GB/s in pairs (A100 PCIe datasheet [unverified]). Visible: as the SXM4 40GB (rule 1,
        // same memory configuration).
        GpuSpec {
            id: "a100-pcie-40gb".to_owned(),
            name: "NVIDIA A100 PCIe 40GB".to_owned(),
            memory: quoted_gb(40.0),
            visible_memory: Bytes::from_gib(39.50),
            bandwidth: gb_s(1555.0),
            bf16_tflops: Some(Tflops(312.0)),
            fp16_tflops: Tflops(312.0),
            fp8_tflops: None,
            compute_capability: cc(8, 0),
            interconnect: nvlink(600.0, 2),
            pci_device_ids: vec![0x20b1, 0x20f1],
            aliases: strings(&["A100 PCIe 40GB"]),
            nvml_names: strings(&["NVIDIA A100-PCIE-40GB"]),
        },
        // A100 PCIe 80GB: [ref] table note "PCIe 80GB: 20b5, 1,935 GB/s" [pciids "A100 PCIe
        // 80GB"]; BF16 312, CC 8.0, NVLink bridge 600 GB/s in pairs. Visible: as the SXM4
        // 80GB (rule 1, same memory configuration).
        GpuSpec {
            id: "a100-pcie-80gb".to_owned(),
            name: "NVIDIA A100 PCIe 80GB".to_owned(),
            memory: quoted_gb(80.0),
            visible_memory: Bytes::from_gib(79.14),
            bandwidth: gb_s(1935.0),
            bf16_tflops: Some(Tflops(312.0)),
            fp16_tflops: Tflops(312.0),
            fp8_tflops: None,
            compute_capability: cc(8, 0),
            interconnect: nvlink(600.0, 2),
            pci_device_ids: vec![0x20b5],
            aliases: strings(&["A100 PCIe", "A100 PCIe 80GB"]),
            nvml_names: strings(&["NVIDIA A100 80GB PCIe"]),
        },
        // A10G (AWS): [ref] 24 GB GDDR6, 600 GB/s, ~70 TFLOPS BF16 (llm-analysis config; not
        // in an NVIDIA datasheet), no FP8, CC 8.6, PCIe, PCI 2237 [pciids "A10G"]. Visible
        // (rule 2): [smi] 23028 MiB with ECC. A 2022 report shows 22.49 GiB, i.e. the
        // nvidia-smi total (AUTOMATIC1111/stable-diffusion-webui issue #1259); newer drivers
        // report less, so the lower figure is kept.
        GpuSpec {
            id: "a10g-24gb".to_owned(),
            name: "NVIDIA A10G 24GB".to_owned(),
            memory: quoted_gb(24.0),
            visible_memory: smi_minus_reserve(23_028),
            bandwidth: gb_s(600.0),
            bf16_tflops: Some(Tflops(70.0)),
            fp16_tflops: Tflops(70.0),
            fp8_tflops: None,
            compute_capability: cc(8, 6),
            interconnect: Interconnect::Pcie,
            pci_device_ids: vec![0x2237],
            aliases: strings(&["A10G"]),
            nvml_names: strings(&["NVIDIA A10G"]),
        },
        // L40S: [ref] 48 GB GDDR6, 864 GB/s, BF16 362 / FP8 733, CC 8.9, PCIe Gen4, no NVLink,
        // PCI 26b9 [pciids "L40S"]. Visible: as the L40 (rule 1, same 48 GB ECC memory;
        // [smi] 46068 MiB on both).
        GpuSpec {
            id: "l40s-48gb".to_owned(),
            name: "NVIDIA L40S 48GB".to_owned(),
            memory: quoted_gb(48.0),
            visible_memory: Bytes::from_gib(44.40),
            bandwidth: gb_s(864.0),
            bf16_tflops: Some(Tflops(362.0)),
            fp16_tflops: Tflops(362.0),
            fp8_tflops: Some(Tflops(733.0)),
            compute_capability: cc(8, 9),
            interconnect: Interconnect::Pcie,
            pci_device_ids: vec![0x26b9],
            aliases: strings(&["L40S"]),
            nvml_names: strings(&["NVIDIA L40S"]),
        },
        // L40: [ref] 48 GB GDDR6, 864 GB/s, BF16 181 / FP8 362, CC 8.9, PCIe, PCI 26b5
        // [pciids "L40"]. Visible (rule 1): 44.40 GiB, PyTorch OOM message on an L40 in
        // QwenLM/Qwen3-VL issue #2097.
        GpuSpec {
            id: "l40-48gb".to_owned(),
            name: "NVIDIA L40 48GB".to_owned(),
            memory: quoted_gb(48.0),
            visible_memory: Bytes::from_gib(44.40),
            bandwidth: gb_s(864.0),
            bf16_tflops: Some(Tflops(181.0)),
            fp16_tflops: Tflops(181.0),
            fp8_tflops: Some(Tflops(362.0)),
            compute_capability: cc(8, 9),
            interconnect: Interconnect::Pcie,
            pci_device_ids: vec![0x26b5],
            aliases: strings(&["L40"]),
            nvml_names: strings(&["NVIDIA L40"]),
        },
        // L4: [ref] 24 GB GDDR6, 300 GB/s, BF16 121 / FP8 242.5, CC 8.9, PCIe, PCI 27b8
        // [pciids "L4"]. Visible (rule 2): [smi] 23034 MiB with ECC.
        GpuSpec {
            id: "l4-24gb".to_owned(),
            name: "NVIDIA L4 24GB".to_owned(),
            memory: quoted_gb(24.0),
            visible_memory: smi_minus_reserve(23_034),
            bandwidth: gb_s(300.0),
            bf16_tflops: Some(Tflops(121.0)),
            fp16_tflops: Tflops(121.0),
            fp8_tflops: Some(Tflops(242.5)),
            compute_capability: cc(8, 9),
            interconnect: Interconnect::Pcie,
            pci_device_ids: vec![0x27b8],
            aliases: strings(&["L4"]),
            nvml_names: strings(&["NVIDIA L4"]),
        },
        // T4: [ref] 16 GB GDDR6, 320 GB/s, no BF16, FP16 65 (mixed precision), no FP8, CC 7.5,
        // PCIe, PCI 1eb8 [pciids "Tesla T4"]. Visible (rule 1): 14.75 GiB, PyTorch OOM message
        // on a Colab T4 in hpcaitech/Open-Sora issue #697 ([smi] 15360 MiB).
        GpuSpec {
            id: "t4-16gb".to_owned(),
            name: "NVIDIA T4 16GB".to_owned(),
            memory: quoted_gb(16.0),
            visible_memory: Bytes::from_gib(14.75),
            bandwidth: gb_s(320.0),
            bf16_tflops: None,
            fp16_tflops: Tflops(65.0),
            fp8_tflops: None,
            compute_capability: cc(7, 5),
            interconnect: Interconnect::Pcie,
            pci_device_ids: vec![0x1eb8],
            aliases: strings(&["T4", "Tesla T4"]),
            nvml_names: strings(&["Tesla T4"]),
        },
        // RTX 6000 Ada Generation: [ref] 48 GB GDDR6 ECC, 960 GB/s, BF16 ~364 / FP8 ~728
        // (derived: 1,457 TFLOPS FP8 sparse / 2, BF16 half of that), CC 8.9, PCIe, PCI 26b1
        // [pciids "RTX 6000 Ada Generation"]. Visible: rule 3 (ECC off, the workstation
        // default [unverified]; with ECC on expect the L40's 44.40 GiB).
        GpuSpec {
            id: "rtx-6000-ada-48gb".to_owned(),
            name: "NVIDIA RTX 6000 Ada Generation 48GB".to_owned(),
            memory: quoted_gb(48.0),
            visible_memory: estimated_visible_memory(quoted_gb(48.0)),
            bandwidth: gb_s(960.0),
            bf16_tflops: Some(Tflops(364.25)),
            fp16_tflops: Tflops(364.25),
            fp8_tflops: Some(Tflops(728.5)),
            compute_capability: cc(8, 9),
            interconnect: Interconnect::Pcie,
            pci_device_ids: vec![0x26b1],
            aliases: strings(&["RTX 6000 Ada", "RTX6000 Ada", "RTX 6000 Ada 48GB"]),
            nvml_names: strings(&["NVIDIA RTX 6000 Ada Generation"]),
        },
        // GH200 Grace Hopper, 96 GB HBM3 (NIM's list: "GH200 96 GB"; not in the reference
        // table): NVIDIA GH200 datasheet [unverified: not checked against a stored copy],
        // 96 GB HBM3, 4 TB/s, H100-class compute (BF16 989 / FP8 1,979 dense), CC 9.0. Its
        // NVLink-C2C (900 GB/s) joins GPU and Grace CPU; GPU to GPU it has NVLink4 900 GB/s,
        // 2 GPUs in a GH200 NVL2 (larger NVLink-switch systems are not modelled). PCI 2342
        // [pciids "GH200 120GB / 480GB"]; nvidia-smi prints "NVIDIA GH200 480GB" (vllm
        // issue #9630). Visible: rule 3.
        GpuSpec {
            id: "gh200-96gb".to_owned(),
            name: "NVIDIA GH200 Grace Hopper Superchip 96GB HBM3".to_owned(),
            memory: quoted_gb(96.0),
            visible_memory: estimated_visible_memory(quoted_gb(96.0)),
            bandwidth: gb_s(4000.0),
            bf16_tflops: Some(Tflops(989.0)),
            fp16_tflops: Tflops(989.0),
            fp8_tflops: Some(Tflops(1979.0)),
            compute_capability: cc(9, 0),
            interconnect: nvlink(900.0, 2),
            pci_device_ids: vec![0x2342],
            aliases: strings(&["GH200", "GH200 96GB", "GH200 480GB", "GH200 HBM3"]),
            nvml_names: strings(&["NVIDIA GH200 480GB"]),
        },
        // GH200 Grace Hopper, HBM3e (NIM's list: "GH200 NVL 141 GB"; not in the reference
        // table): NVIDIA GH200 datasheet [unverified], 144 GB HBM3e, 4.9 TB/s, same compute
        // and links as the 96 GB part. PCI 2348 [pciids "GH200 144G HBM3e"; the NVML name is
        // assumed to read the same, unverified]. NIM's 141 GB is taken as the usable
        // capacity of this HBM3e configuration (as on the H200), so visible is rule 3 applied
        // to 141 GB.
        GpuSpec {
            id: "gh200-144gb".to_owned(),
            name: "NVIDIA GH200 Grace Hopper Superchip 144GB HBM3e".to_owned(),
            memory: quoted_gb(144.0),
            visible_memory: estimated_visible_memory(quoted_gb(141.0)),
            bandwidth: gb_s(4900.0),
            bf16_tflops: Some(Tflops(989.0)),
            fp16_tflops: Tflops(989.0),
            fp8_tflops: Some(Tflops(1979.0)),
            compute_capability: cc(9, 0),
            interconnect: nvlink(900.0, 2),
            pci_device_ids: vec![0x2348],
            aliases: strings(&[
                "GH200 NVL",
                "GH200 NVL2",
                "GH200 141GB",
                "GH200 144GB",
                "GH200 HBM3e",
            ]),
            nvml_names: strings(&["NVIDIA GH200 144G HBM3e"]),
        },
        // RTX PRO 6000 Blackwell Server Edition (NIM's list; NIM profiles name it
        // `rtx6000_blackwell_sv`; not in the reference table): NVIDIA datasheet [unverified:
        // not checked against a stored copy], 96 GB GDDR7 with ECC, 1,597 GB/s, CC 12.0,
        // PCIe only, FP8 and FP4. Throughput derived from the datasheet's 4,000 AI TOPS (FP4,
        // sparse): FP4 dense 2,000, FP8 1,000, BF16 500 (a measured BF16 GEMM reaches 417,
        // zzc0721/torch-performance-test-data issue #161). PCI 2bb5 [pciids; seen in NIM
        // output]. Visible: rule 3.
        GpuSpec {
            id: "rtx-pro-6000-blackwell-96gb".to_owned(),
            name: "NVIDIA RTX PRO 6000 Blackwell Server Edition 96GB".to_owned(),
            memory: quoted_gb(96.0),
            visible_memory: estimated_visible_memory(quoted_gb(96.0)),
            bandwidth: gb_s(1597.0),
            bf16_tflops: Some(Tflops(500.0)),
            fp16_tflops: Tflops(500.0),
            fp8_tflops: Some(Tflops(1000.0)),
            compute_capability: cc(12, 0),
            interconnect: Interconnect::Pcie,
            pci_device_ids: vec![0x2bb5],
            aliases: strings(&[
                "RTX PRO 6000",
                "RTX PRO 6000 Blackwell",
                "RTX PRO 6000 Server Edition",
                "RTX PRO 6000 Blackwell Server Edition",
                "rtx6000_blackwell_sv",
            ]),
            nvml_names: strings(&["NVIDIA RTX PRO 6000 Blackwell Server Edition"]),
        },
    ]
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use proptest::prelude::*;

    use super::*;

    fn id_of(name: &str) -> String {
        match builtin().lookup(name) {
            Ok(gpu) => gpu.id.clone(),
            Err(e) => panic!("{name:?}: {e}"),
        }
    }

    fn invalid_field(result: Result<()>) -> String {
        match result {
            Err(Error::Invalid { field, .. }) => field,
            other => panic!("expected Error::Invalid, got {other:?}"),
        }
    }

    #[test]
    fn builtin_has_every_gpu_of_the_issue() {
        let ids: Vec<&str> = builtin().iter().map(|g| g.id.as_str()).collect();
        for id in [
            "h100-sxm-80gb",
            "h100-pcie-80gb",
            "h100-nvl-94gb",
            "h200-sxm-141gb",
            "h200-nvl-141gb",
            "h20-96gb",
            "b200-180gb",
            "gb200",
            "a100-sxm-40gb",
            "a100-sxm-80gb",
            "a100-pcie-40gb",
            "a100-pcie-80gb",
            "a10g-24gb",
            "l40s-48gb",
            "l40-48gb",
            "l4-24gb",
            "t4-16gb",
            "rtx-6000-ada-48gb",
            "gh200-96gb",
            "gh200-144gb",
            "rtx-pro-6000-blackwell-96gb",
        ] {
            assert!(ids.contains(&id), "{id} missing");
        }
        assert_eq!(builtin().len(), 21);
        assert!(!builtin().is_empty());
        assert_eq!(GpuCatalog::default().len(), builtin().len());
    }

    #[test]
    fn every_lookup_form_resolves() {
        let cases = [
            // people
            ("H100", "h100-sxm-80gb"),
            ("h100", "h100-sxm-80gb"),
            ("H100-SXM", "h100-sxm-80gb"),
            ("h100_sxm", "h100-sxm-80gb"),
            ("H100 SXM5", "h100-sxm-80gb"),
            ("h100-sxm-80gb", "h100-sxm-80gb"),
            ("NVIDIA H100 SXM5 80GB", "h100-sxm-80gb"),
            ("H100 PCIe", "h100-pcie-80gb"),
            ("H100 NVL", "h100-nvl-94gb"),
            ("h100_nvl", "h100-nvl-94gb"),
            ("H200", "h200-sxm-141gb"),
            ("H200 NVL", "h200-nvl-141gb"),
            ("H20", "h20-96gb"),
            ("A100", "a100-sxm-80gb"),
            ("A100-80GB", "a100-sxm-80gb"),
            ("A100-40GB", "a100-sxm-40gb"),
            ("a100-sxm-40gb", "a100-sxm-40gb"),
            ("A100 PCIe", "a100-pcie-80gb"),
            ("a100-pcie-40gb", "a100-pcie-40gb"),
            ("A10G", "a10g-24gb"),
            ("L40S", "l40s-48gb"),
            ("l40s-48gb", "l40s-48gb"),
            ("L40", "l40-48gb"),
            ("L4", "l4-24gb"),
            ("T4", "t4-16gb"),
            ("GB200", "gb200"),
            ("gb200", "gb200"),
            ("B200", "b200-180gb"),
            ("GH200", "gh200-96gb"),
            ("GH200 NVL", "gh200-144gb"),
            ("GH200 144GB", "gh200-144gb"),
            ("RTX PRO 6000", "rtx-pro-6000-blackwell-96gb"),
            ("rtx-pro-6000-blackwell-96gb", "rtx-pro-6000-blackwell-96gb"),
            ("rtx6000_blackwell_sv", "rtx-pro-6000-blackwell-96gb"),
            ("RTX 6000 Ada", "rtx-6000-ada-48gb"),
            ("rtx6000_ada", "rtx-6000-ada-48gb"),
            // nvidia-smi
            ("NVIDIA H100 80GB HBM3", "h100-sxm-80gb"),
            ("NVIDIA H100 PCIe", "h100-pcie-80gb"),
            ("NVIDIA H100 NVL", "h100-nvl-94gb"),
            ("NVIDIA H200", "h200-sxm-141gb"),
            ("NVIDIA H200 NVL", "h200-nvl-141gb"),
            ("NVIDIA A100-SXM4-80GB", "a100-sxm-80gb"),
            ("A100-SXM4-80GB", "a100-sxm-80gb"),
            ("NVIDIA A100-SXM4-40GB", "a100-sxm-40gb"),
            ("NVIDIA A100 80GB PCIe", "a100-pcie-80gb"),
            ("NVIDIA A100-PCIE-40GB", "a100-pcie-40gb"),
            ("NVIDIA L40S", "l40s-48gb"),
            ("NVIDIA L40", "l40-48gb"),
            ("NVIDIA L4", "l4-24gb"),
            ("Tesla T4", "t4-16gb"),
            ("NVIDIA A10G", "a10g-24gb"),
            ("NVIDIA B200", "b200-180gb"),
            ("NVIDIA GB200", "gb200"),
            ("NVIDIA H20", "h20-96gb"),
            ("NVIDIA RTX 6000 Ada Generation", "rtx-6000-ada-48gb"),
            ("NVIDIA GH200 480GB", "gh200-96gb"),
            ("NVIDIA GH200 144G HBM3e", "gh200-144gb"),
            (
                "NVIDIA RTX PRO 6000 Blackwell Server Edition",
                "rtx-pro-6000-blackwell-96gb",
            ),
            // GPU feature discovery
            ("NVIDIA-H100-80GB-HBM3", "h100-sxm-80gb"),
            ("NVIDIA-A100-SXM4-80GB", "a100-sxm-80gb"),
            ("Tesla-T4", "t4-16gb"),
            ("Tesla-T4-SHARED", "t4-16gb"),
            ("NVIDIA-L40S-SHARED", "l40s-48gb"),
            (
                "NVIDIA-RTX-PRO-6000-Blackwell-Server-Edition",
                "rtx-pro-6000-blackwell-96gb",
            ),
            // PCI ids
            ("2330:10de", "h100-sxm-80gb"),
            ("10de:2330", "h100-sxm-80gb"),
            ("0x2330", "h100-sxm-80gb"),
            ("2330", "h100-sxm-80gb"),
            ("[2321:10de]", "h100-nvl-94gb"),
            ("0x233010DE", "h100-sxm-80gb"),
            ("20b2:10de", "a100-sxm-80gb"),
            ("20f1:10de", "a100-pcie-40gb"),
            ("26b5:10de", "l40-48gb"),
            ("2bb5:10de", "rtx-pro-6000-blackwell-96gb"),
            ("2901:10de", "b200-180gb"),
            // spacing and case
            ("  nvidia   h100 80gb hbm3 ", "h100-sxm-80gb"),
            ("NVIDIA_H100_80GB_HBM3", "h100-sxm-80gb"),
        ];
        for (name, id) in cases {
            assert_eq!(id_of(name), id, "{name:?}");
        }
    }

    #[test]
    fn every_builtin_answers_to_its_own_names_and_ids() {
        for gpu in builtin() {
            for (field, name) in gpu.names() {
                assert_eq!(id_of(name), gpu.id, "{field} {name:?}");
            }
            assert_eq!(id_of(&gpu.gfd_label()), gpu.id);
            assert_eq!(id_of(&gpu.pci_id()), gpu.id);
            for &pci in &gpu.pci_device_ids {
                assert_eq!(id_of(&format!("{pci:04x}:10de")), gpu.id);
                assert_eq!(id_of(&format!("10de:{pci:04x}")), gpu.id);
                assert_eq!(id_of(&format!("0x{pci:04X}")), gpu.id);
                assert_eq!(
                    builtin().lookup_pci(pci).map(|g| g.id.as_str()),
                    Some(gpu.id.as_str())
                );
            }
        }
    }

    #[test]
    fn gfd_label_and_pci_id() {
        let gpu = |name| builtin().lookup(name).expect(name);
        assert_eq!(gpu("H100").gfd_label(), "NVIDIA-H100-80GB-HBM3");
        assert_eq!(gpu("A100").gfd_label(), "NVIDIA-A100-SXM4-80GB");
        assert_eq!(gpu("T4").gfd_label(), "Tesla-T4");
        assert_eq!(gpu("H100").pci_id(), "2330:10de");
        assert_eq!(gpu("H200 NVL").pci_id(), "233b:10de");
        assert_eq!(gpu("T4").pci_id(), "1eb8:10de");
        let bare = GpuSpec::new(
            "x",
            "Example GPU",
            Bytes::from_gib(8.0),
            gb_s(100.0),
            Tflops(10.0),
            ComputeCapability::new(8, 0),
        );
        assert_eq!(bare.pci_id(), "");
        assert_eq!(bare.gfd_label(), "Example-GPU");
    }

    #[test]
    fn unknown_names_suggest_the_nearest() {
        let suggestions = |name: &str| match builtin().lookup(name) {
            Err(Error::UnknownGpu {
                name: asked,
                suggestions,
            }) => {
                assert_eq!(asked, name);
                suggestions
            }
            other => panic!("{name:?}: expected UnknownGpu, got {other:?}"),
        };
        let h10 = suggestions("H10");
        assert_eq!(h10.len(), MAX_SUGGESTIONS);
        assert_eq!(h10[0], "h100-sxm-80gb");
        assert!(h10.iter().all(|id| id.starts_with("h100")), "{h10:?}");

        let a100 = suggestions("A100-120GB");
        assert_eq!(a100.len(), MAX_SUGGESTIONS);
        assert!(a100.iter().all(|id| id.starts_with("a100")), "{a100:?}");

        let l40x = suggestions("L40X");
        assert!(l40x.iter().any(|id| id == "l40s-48gb"), "{l40x:?}");
        assert!(l40x.iter().any(|id| id == "l40-48gb"), "{l40x:?}");

        assert_eq!(suggestions("GH20")[0], "gh200-96gb");
        assert_eq!(
            suggestions("RTX PRO 6000 Workstation")[0],
            "rtx-pro-6000-blackwell-96gb"
        );

        // Not accepted: a MIG slice, another vendor's PCI id, names of nothing.
        suggestions("NVIDIA-A100-SXM4-40GB-MIG-1g.5gb");
        suggestions("2330:1002");
        suggestions("RTX 6000");
        assert_eq!(suggestions("").len(), MAX_SUGGESTIONS);
        assert_eq!(suggestions("NVIDIA").len(), MAX_SUGGESTIONS);

        let message = builtin()
            .lookup("H10")
            .map(|g| g.id.clone())
            .unwrap_err()
            .to_string();
        assert!(
            message.starts_with("unknown GPU \"H10\"; nearest known: h100-sxm-80gb, "),
            "{message}"
        );
    }

    #[test]
    fn suggestions_from_an_empty_catalog() {
        match GpuCatalog::empty().lookup("H100") {
            Err(Error::UnknownGpu { suggestions, .. }) => assert!(suggestions.is_empty()),
            other => panic!("{other:?}"),
        }
    }

    fn custom() -> GpuSpec {
        GpuSpec::new(
            "acme-x1-64gb",
            "ACME X1 64GB",
            Bytes::from_gib(64.0),
            gb_s(2000.0),
            Tflops(400.0),
            ComputeCapability::new(9, 0),
        )
        .with_fp8_tflops(Some(Tflops(800.0)))
        .with_interconnect(nvlink(900.0, 4))
        .with_pci_device_id(0xabcd)
        .with_alias("X1")
        .with_nvml_name("NVIDIA ACME X1")
    }

    #[test]
    fn registered_gpus_are_found_like_builtins() {
        let mut catalog = GpuCatalog::builtin();
        let before = catalog.len();
        catalog.register(custom()).expect("valid");
        assert_eq!(catalog.len(), before + 1);
        for name in [
            "acme-x1-64gb",
            "ACME X1 64GB",
            "x1",
            "NVIDIA ACME X1",
            "NVIDIA-ACME-X1",
            "ACME X1",
            "abcd:10de",
            "10de:abcd",
            "0xABCD",
        ] {
            assert_eq!(
                catalog.lookup(name).map(|g| g.id.as_str()).ok(),
                Some("acme-x1-64gb"),
                "{name:?}"
            );
        }
        assert_eq!(
            catalog.iter().last().map(|g| g.id.as_str()),
            Some("acme-x1-64gb")
        );
        // Built-ins are untouched, and the shared catalog does not see the new GPU.
        assert_eq!(
            catalog.lookup("H100").map(|g| g.id.as_str()).ok(),
            Some("h100-sxm-80gb")
        );
        assert!(builtin().lookup("x1").is_err());

        let registered = catalog.lookup("x1").expect("registered");
        assert_eq!(registered.bf16_tflops, Some(Tflops(400.0)));
        assert_eq!(
            registered.visible_memory,
            estimated_visible_memory(Bytes::from_gib(64.0))
        );
        assert_eq!(registered.nvlink_bandwidth(), Some(gb_s(900.0)));
        assert_eq!(registered.interconnect.nvlink_domain_size(), 4);
    }

    #[test]
    fn invalid_gpus_are_refused_naming_the_field() {
        let register = |gpu: GpuSpec| GpuCatalog::builtin().register(gpu);
        let cases: Vec<(GpuSpec, &str)> = vec![
            (
                GpuSpec {
                    memory: Bytes::ZERO,
                    ..custom()
                },
                "memory",
            ),
            (custom().with_visible_memory(Bytes::ZERO), "visible_memory"),
            (
                custom().with_visible_memory(Bytes::from_gib(65.0)),
                "visible_memory",
            ),
            (
                GpuSpec {
                    bandwidth: BytesPerSecond(0.0),
                    ..custom()
                },
                "bandwidth",
            ),
            (
                GpuSpec {
                    bandwidth: BytesPerSecond(f64::NAN),
                    ..custom()
                },
                "bandwidth",
            ),
            (
                GpuSpec {
                    fp16_tflops: Tflops(-1.0),
                    ..custom()
                },
                "fp16_tflops",
            ),
            (custom().with_bf16_tflops(None), "bf16_tflops"),
            (
                custom().with_bf16_tflops(Some(Tflops(f64::INFINITY))),
                "bf16_tflops",
            ),
            (custom().with_fp8_tflops(None), "fp8_tflops"),
            (
                GpuSpec {
                    compute_capability: ComputeCapability::new(8, 0),
                    ..custom()
                },
                "fp8_tflops",
            ),
            (
                GpuSpec {
                    compute_capability: ComputeCapability::new(7, 5),
                    fp8_tflops: None,
                    ..custom()
                },
                "bf16_tflops",
            ),
            (
                GpuSpec {
                    compute_capability: ComputeCapability::new(0, 0),
                    ..custom()
                },
                "compute_capability",
            ),
            (
                custom().with_interconnect(nvlink(900.0, 1)),
                "interconnect.max_gpus",
            ),
            (
                custom().with_interconnect(nvlink(0.0, 8)),
                "interconnect.bandwidth",
            ),
            (custom().with_pci_device_id(0), "pci_device_ids"),
            (
                GpuSpec {
                    id: "--".to_owned(),
                    ..custom()
                },
                "id",
            ),
            (
                GpuSpec {
                    name: String::new(),
                    ..custom()
                },
                "name",
            ),
            (custom().with_alias("NVIDIA"), "aliases[1]"),
            (custom().with_nvml_name(" "), "nvml_names[1]"),
        ];
        for (gpu, field) in cases {
            assert_eq!(invalid_field(register(gpu)), field);
        }
    }

    #[test]
    fn clashing_gpus_are_refused_naming_the_field() {
        let register = |gpu: GpuSpec| GpuCatalog::builtin().register(gpu);
        assert_eq!(
            invalid_field(register(GpuSpec {
                id: "h100-sxm-80gb".to_owned(),
                ..custom()
            })),
            "id"
        );
        // An id that equals another GPU's alias once normalized.
        assert_eq!(
            invalid_field(register(GpuSpec {
                id: "H100".to_owned(),
                ..custom()
            })),
            "id"
        );
        assert_eq!(
            invalid_field(register(GpuSpec {
                name: "NVIDIA L40S".to_owned(),
                ..custom()
            })),
            "name"
        );
        assert_eq!(
            invalid_field(register(custom().with_alias("a100"))),
            "aliases[1]"
        );
        assert_eq!(
            invalid_field(register(custom().with_nvml_name("Tesla T4"))),
            "nvml_names[1]"
        );
        assert_eq!(
            invalid_field(register(custom().with_pci_device_id(0x2330))),
            "pci_device_ids"
        );
        match register(custom().with_pci_device_id(0x2330)) {
            Err(Error::Invalid { message, .. }) => {
                assert!(
                    message.contains("2330:10de") && message.contains("h100-sxm-80gb"),
                    "{message}"
                );
            }
            other => panic!("{other:?}"),
        }

        // Registering the same GPU twice clashes on its id.
        let mut catalog = GpuCatalog::empty();
        catalog.register(custom()).expect("first");
        assert_eq!(invalid_field(catalog.register(custom())), "id");
        assert_eq!(catalog.len(), 1);
        // A GPU may repeat its own names (marketing name = NVML name is common).
        let mut catalog = GpuCatalog::empty();
        catalog
            .register(
                custom()
                    .with_alias("ACME X1 64GB")
                    .with_alias("acme_x1_64gb"),
            )
            .expect("own names may repeat");
    }

    #[test]
    fn builtins_are_valid_and_clash_free() {
        // Registering every built-in into an empty catalog runs the validation and the clash
        // checks: ids unique, no name or PCI id leading to two GPUs.
        let mut catalog = GpuCatalog::empty();
        for gpu in builtin() {
            catalog
                .register(gpu.clone())
                .unwrap_or_else(|e| panic!("{}: {e}", gpu.id));
        }
        assert_eq!(catalog.len(), builtin().len());

        let mut owners: HashMap<String, &str> = HashMap::new();
        for gpu in builtin() {
            for (field, name) in gpu.names() {
                let owner = owners.entry(normalize(name)).or_insert(&gpu.id);
                assert_eq!(
                    *owner, gpu.id,
                    "{field} {name:?} of {} also names {owner}",
                    gpu.id
                );
            }
        }
        let ids: HashSet<&str> = builtin().iter().map(|g| g.id.as_str()).collect();
        assert_eq!(ids.len(), builtin().len());
    }

    #[test]
    fn builtin_invariants() {
        for gpu in builtin() {
            let id = &gpu.id;
            assert!(gpu.visible_memory <= gpu.memory, "{id}");
            assert!(
                gpu.visible_memory > gpu.memory.scale(0.9),
                "{id}: visible too low"
            );
            assert_eq!(gpu.fp8_tflops.is_some(), gpu.supports_fp8(), "{id}");
            assert_eq!(gpu.bf16_tflops.is_some(), gpu.supports_bf16(), "{id}");
            assert_eq!(gpu.bf16_tflops.is_none(), id == "t4-16gb", "{id}");
            assert!(!gpu.pci_device_ids.is_empty(), "{id}");
            assert!(!gpu.nvml_names.is_empty(), "{id}");
            if let Some(fp8) = gpu.fp8_tflops {
                // Twice FP16 (the L40S datasheet gives 733 against 362.05).
                assert!(
                    (fp8.0 / gpu.fp16_tflops.0 - 2.0).abs() < 0.05,
                    "{id}: FP8 is 2x FP16"
                );
            }
            if let Some(bf16) = gpu.bf16_tflops {
                assert_eq!(bf16, gpu.fp16_tflops, "{id}");
            }
            assert!(gpu.bandwidth.gb_per_s() >= 300.0, "{id}");
        }
    }

    #[test]
    fn capabilities_follow_compute_capability() {
        let gpu = |name| builtin().lookup(name).expect(name);
        assert!(!gpu("T4").supports_bf16());
        assert!(gpu("A100").supports_bf16() && !gpu("A100").supports_fp8());
        assert!(!gpu("A10G").supports_fp8());
        assert!(gpu("L4").supports_fp8() && !gpu("L4").supports_fp4());
        assert!(gpu("H100").supports_fp8() && !gpu("H100").supports_fp4());
        assert!(gpu("B200").supports_fp4());
        assert!(gpu("GB200").supports_fp4());
        assert!(gpu("RTX PRO 6000").supports_fp4());
        assert_eq!(
            gpu("RTX PRO 6000").compute_capability,
            ComputeCapability::new(12, 0)
        );
        assert_eq!(gpu("A10G").compute_capability.to_string(), "8.6");
    }

    #[test]
    fn reference_figures() {
        let gpu = |name| builtin().lookup(name).expect(name);
        let h100 = gpu("H100");
        assert_eq!(h100.memory, Bytes::from_gib(80.0));
        assert_eq!(h100.bandwidth, BytesPerSecond::from_gb_per_s(3350.0));
        assert_eq!(h100.bf16_tflops, Some(Tflops(989.0)));
        assert_eq!(h100.fp8_tflops, Some(Tflops(1979.0)));
        assert_eq!(h100.interconnect, nvlink(900.0, 8));
        // nvidia-smi reports 81559 MiB on an H100: more than 80 decimal GB, less than nominal.
        assert!(Bytes::from_mib(81_559.0) > Bytes::from_gb(80.0));
        assert!(Bytes::from_mib(81_559.0) <= h100.memory);
        assert_eq!(gpu("L40S").interconnect, Interconnect::Pcie);
        assert_eq!(gpu("L40S").nvlink_bandwidth(), None);
        assert_eq!(gpu("L40S").interconnect.nvlink_domain_size(), 1);
        assert_eq!(gpu("GB200").interconnect.nvlink_domain_size(), 72);
        assert_eq!(gpu("GB200").nvlink_bandwidth(), Some(gb_s(1800.0)));
        assert_eq!(gpu("T4").fp16_tflops, Tflops(65.0));
        assert_eq!(gpu("T4").visible_memory.to_string(), "14.75 GiB");
        assert_eq!(gpu("B200").visible_memory.to_string(), "178.52 GiB");
        assert_eq!(gpu("A10G").visible_memory.to_string(), "21.95 GiB");
        assert_eq!(gpu("H200").visible_memory.to_string(), "139.31 GiB");
        assert_eq!(gpu("A100-40GB").pci_device_ids, vec![0x20b0]);
        assert_eq!(gpu("a100-pcie-40gb").pci_device_ids, vec![0x20b1, 0x20f1]);
    }

    #[test]
    fn compute_capability_parses_displays_and_orders() {
        let parse = |s: &str| s.parse::<ComputeCapability>();
        assert_eq!(parse("9.0").ok(), Some(ComputeCapability::new(9, 0)));
        assert_eq!(parse(" 12.0 ").ok(), Some(ComputeCapability::new(12, 0)));
        assert_eq!(parse("sm_90").ok(), Some(ComputeCapability::new(9, 0)));
        assert_eq!(parse("sm_120").ok(), Some(ComputeCapability::new(12, 0)));
        assert_eq!(parse("sm89").ok(), Some(ComputeCapability::new(8, 9)));
        for bad in [
            "", "9", "9.", ".0", "nine", "sm_", "sm_9", "9.0.1", "300.0", "sm_x0",
        ] {
            match parse(bad) {
                Err(Error::Invalid { field, .. }) => assert_eq!(field, "compute_capability"),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        assert_eq!(ComputeCapability::new(12, 0).to_string(), "12.0");
        assert!(ComputeCapability::new(8, 9) > ComputeCapability::new(8, 6));
        assert!(ComputeCapability::new(10, 0) > ComputeCapability::new(9, 9));
        assert!(ComputeCapability::new(7, 5) < ComputeCapability::new(8, 0));
    }

    #[test]
    fn pci_ids_parse() {
        assert_eq!(parse_pci_id("2330:10de"), Some(0x2330));
        assert_eq!(parse_pci_id("10de:2330"), Some(0x2330));
        assert_eq!(parse_pci_id("[26B9:10DE]"), Some(0x26b9));
        assert_eq!(parse_pci_id("0x2330"), Some(0x2330));
        assert_eq!(parse_pci_id("0x233010DE"), Some(0x2330));
        assert_eq!(parse_pci_id("2330"), Some(0x2330));
        assert_eq!(parse_pci_id("2330:1002"), None);
        assert_eq!(parse_pci_id("233"), None);
        assert_eq!(parse_pci_id("h100"), None);
        assert_eq!(parse_pci_id(""), None);
    }

    #[test]
    fn wire_format() {
        let h100 = builtin().lookup("H100").expect("H100");
        let json = serde_json::to_value(h100).expect("serialize");
        assert_eq!(json["id"], "h100-sxm-80gb");
        assert_eq!(json["memory"], 85_899_345_920_u64);
        assert_eq!(json["compute_capability"], "9.0");
        assert_eq!(json["pci_device_ids"][0], "2330");
        assert_eq!(json["interconnect"]["kind"], "nvlink");
        assert_eq!(json["interconnect"]["max_gpus"], 8);
        assert_eq!(json["bf16_tflops"], 989.0);
        let t4 = serde_json::to_value(builtin().lookup("T4").expect("T4")).expect("serialize");
        assert!(t4.get("bf16_tflops").is_none());
        assert!(t4.get("fp8_tflops").is_none());
        assert_eq!(t4["interconnect"], serde_json::json!({"kind": "pcie"}));

        for gpu in builtin() {
            let text = serde_json::to_string(gpu).expect("serialize");
            let back: GpuSpec = serde_json::from_str(&text).expect("deserialize");
            assert_eq!(&back, gpu);
        }

        // A hand-written user GPU, with the optional fields left out.
        let doc = r#"{
            "id": "acme-x2", "name": "ACME X2", "memory": 34359738368,
            "visible_memory": 33000000000, "bandwidth": 1.0e12, "fp16_tflops": 100.0,
            "compute_capability": "7.5", "interconnect": {"kind": "pcie"},
            "pci_device_ids": ["0xBEEF", "beee:10de"]
        }"#;
        let gpu: GpuSpec = serde_json::from_str(doc).expect("deserialize");
        assert_eq!(gpu.pci_device_ids, vec![0xbeef, 0xbeee]);
        assert!(gpu.aliases.is_empty() && gpu.bf16_tflops.is_none());
        let mut catalog = GpuCatalog::builtin();
        catalog.register(gpu).expect("valid");
        assert_eq!(
            catalog.lookup("beef:10de").map(|g| g.id.as_str()).ok(),
            Some("acme-x2")
        );

        let bad_pci = doc.replace("0xBEEF", "h100");
        assert!(serde_json::from_str::<GpuSpec>(&bad_pci).is_err());
        let bad_cc = doc.replace("\"7.5\"", "\"seven\"");
        assert!(serde_json::from_str::<GpuSpec>(&bad_cc).is_err());
    }

    proptest! {
        #[test]
        fn lookup_never_panics(name in any::<String>()) {
            match builtin().lookup(&name) {
                Ok(gpu) => prop_assert!(!gpu.id.is_empty()),
                Err(Error::UnknownGpu { suggestions, .. }) => {
                    prop_assert_eq!(suggestions.len(), MAX_SUGGESTIONS);
                }
                Err(other) => prop_assert!(false, "unexpected error {other:?}"),
            }
        }

        #[test]
        fn lookup_ignores_case_and_separators(
            index in 0..21_usize,
            upper in any::<bool>(),
            sep in prop::sample::select(vec![" ", "-", "_", "  "]),
        ) {
            let gpu = builtin().iter().nth(index).expect("21 built-ins");
            for (_, name) in gpu.names() {
                let mut variant = name.replace([' ', '-', '_'], sep);
                variant = if upper { variant.to_uppercase() } else { variant.to_lowercase() };
                prop_assert_eq!(&builtin().lookup(&variant).expect("found").id, &gpu.id);
            }
        }

        #[test]
        fn pci_forms_agree(device in any::<u16>()) {
            let forms = [
                format!("{device:04x}:10de"),
                format!("10de:{device:04x}"),
                format!("0x{device:04X}"),
                format!("0x{device:04x}10de"),
            ];
            for form in forms {
                prop_assert_eq!(parse_pci_id(&form), Some(device));
            }
        }
    }
}
