//! The GPUs a NIM would find: what they are, how many, how they are connected.
//!
//! An [`Inventory`] is a list of [`GpuGroup`]s: identical GPUs (a GPU of `nim-sizing`'s
//! catalog) with the same connectivity, virtualization, MIG slice and free memory. It comes
//! from one of:
//!
//! | source | function |
//! |---|---|
//! | a short description, `2xH100-SXM-80GB:nvlink+2xL40S:vgpu` | [`Inventory::parse`] (also [`str::parse`]) |
//! | `nvidia-smi --query-gpu=name,pci.device_id,memory.total,memory.used --format=csv` | [`Inventory::from_nvidia_smi_csv`] |
//! | `nvidia-smi topo -m` (NVLink between the GPUs of each group) | [`Inventory::with_topology`] |
//! | the node labels GPU feature discovery sets (`nvidia.com/gpu.product`, ...) | [`Inventory::from_node_labels`] |
//! | NVML on the local machine (cargo feature `nvml`) | [`crate::nvml::detect`] |
//!
//! ```
//! use nim_profiles::Inventory;
//!
//! let inventory = Inventory::parse("4xH100-SXM-80GB:nvlink+2xL40S:vgpu")?;
//! assert_eq!(inventory.total_gpus(), 6);
//! assert_eq!(inventory.groups[0].gpu.id, "h100-sxm-80gb");
//! assert_eq!(inventory.groups[0].nvlink, Some(true));
//! assert!(inventory.groups[1].vgpu);
//! // Display writes the same syntax back with the catalog ids; parsing it gives the same value.
//! assert_eq!(inventory.to_string(), "4xh100-sxm-80gb:nvlink+2xl40s-48gb:vgpu");
//! assert_eq!(inventory.to_string().parse::<Inventory>()?, inventory);
//!
//! // A MIG slice: compute slices and memory (its share of the GPU's memory).
//! let mig = Inventory::parse("1xA100-80GB:mig=3g.40gb")?;
//! let slice = mig.groups[0].mig.as_ref().expect("a MIG slice");
//! assert_eq!((slice.name.as_str(), slice.compute_slices), ("3g.40gb", 3));
//! assert_eq!(slice.memory.to_string(), "39.57 GiB");
//!
//! // Errors name the part that is wrong and what was expected.
//! let err = Inventory::parse("2xH100:nvlnk").unwrap_err().to_string();
//! assert!(err.starts_with("--gpus:1: \"2xH100:nvlnk\": unknown attribute \"nvlnk\""), "{err}");
//! # Ok::<(), nim_profiles::Error>(())
//! ```
//!
//! # The description syntax
//!
//! `COUNTxGPU[:attr...]`, several groups joined by `+`. `COUNT` defaults to 1 (`H100`); `GPU`
//! is any name `nim-sizing`'s catalog knows (id, marketing name, `nvidia-smi` name, GFD label
//! or PCI id). Attributes, in any order:
//!
//! | attribute | meaning |
//! |---|---|
//! | `nvlink` | the GPUs of the group are joined by NVLink ([`GpuGroup::nvlink`] `Some(true)`) |
//! | `pcie`, `no-nvlink` | they are not (`Some(false)`); without either, the GPU type decides |
//! | `vgpu` | virtual GPUs ([`GpuGroup::vgpu`]) |
//! | `passthrough` | bare metal or PCI passthrough (the default, written for clarity) |
//! | `mig=<n>g.<m>gb` | each "GPU" of the group is a MIG slice (`mig=3g.40gb`) |
//! | `free=<N>GiB` | free memory per GPU (units `GiB`, `GB`, `MiB`, `MB`, `B`) |
//!
//! `nvlink` with `pcie`, `vgpu` with `passthrough`, and `nvlink` with `mig` contradict each
//! other (MIG turns GPU peer-to-peer off), as does `nvlink` on a GPU without NVLink (`L40S`).
//! An attribute given twice with different values is an error. Errors are
//! [`Error::Parse`] with the source name `--gpus` and line 1. [`GpuGroup::indices`] are not
//! part of the syntax: `Display` leaves them out.
//!
//! # MIG
//!
//! MIG exists on the A100 (40 and 80 GB, SXM and PCIe), H100 (SXM, PCIe, NVL), H200 (SXM,
//! NVL), H20, GH200 (96 and 144 GB), B200 and GB200, with 7 compute slices and 8 memory
//! slices, and on the RTX PRO 6000 Blackwell Server Edition, with 4 of each
//! ([`MigSlice::supports`]). Other GPUs, and GPUs registered in a catalog by the user, have no
//! MIG here. The profiles of a 7-slice GPU are `1g` with 1 or 2 memory slices, `2g` with 2,
//! `3g` and `4g` with 4, `7g` with 8; of the RTX PRO 6000, `1g`, `2g` and `4g` with 1, 2 and 4.
//! A profile `<n>g.<m>gb` is accepted when `n` is one of those and `m` is within 1 GB (or 3 %)
//! of its memory slices' share of the GPU's nominal memory: `3g.40gb` on an 80 GB A100 or
//! H100, `3g.20gb` on a 40 GB A100, `3g.47gb` on an H100 NVL, `3g.71gb` on an H200,
//! `3g.90gb` on a B200 ([`MigSlice::profiles`] lists them). The names carry NVIDIA's rounded
//! figures, so [`MigSlice::memory`] is computed instead: the slice's memory slices times the
//! GPU's CUDA-visible memory over the memory-slice count (4 of 8 × 79.14 GiB = 39.57 GiB for
//! `3g.40gb` on an A100 80GB; the driver reports 39.25 GiB for that slice). The `+me` and
//! `+gfx` variants (`1g.10gb+me`) are accepted and keep their suffix.
//!
//! # Free memory
//!
//! [`GpuGroup::free_memory`] is the memory an engine could still allocate on each GPU of the
//! group. From `nvidia-smi` or NVML it is `min(total, CUDA-visible) − used`: the driver
//! reserve that separates `nvidia-smi`'s total from what CUDA reports (about 550 MiB on an
//! H100) is not free, so an idle GPU has the catalog's CUDA-visible memory free. GPUs of the
//! same type whose free memory falls in the same whole GiB form one group, whose free memory
//! is the smallest among them; GPUs with different free memory form different groups, so the
//! selection can count the GPUs that have enough.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use nim_sizing::gpu::{self, GpuCatalog, NVIDIA_PCI_VENDOR, parse_pci_id};
use nim_sizing::units::{GB, GIB, MIB};
use nim_sizing::{Bytes, GpuSpec};
use serde::Serialize;

use crate::error::{Error, Result};

/// The source name of errors from [`Inventory::parse`].
pub const SPEC_SOURCE: &str = "--gpus";

/// The most GPUs one group may count (in a description or a label).
pub const MAX_GPUS_PER_GROUP: u32 = 65_536;

/// A MIG slice (`3g.40gb`): compute slices and memory.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MigSlice {
    /// The profile name as `nvidia-smi mig -lgip` prints it (`3g.40gb`).
    pub name: String,
    /// Compute slices (the `3` of `3g`).
    pub compute_slices: u32,
    /// Memory of the slice.
    pub memory: Bytes,
}

/// Identical GPUs with the same connectivity.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GpuGroup {
    /// The GPU, from `nim-sizing`'s catalog.
    pub gpu: GpuSpec,
    /// How many.
    pub count: u32,
    /// Whether the GPUs of the group are joined by NVLink (`None`: as the GPU type usually is).
    pub nvlink: Option<bool>,
    /// Whether they are virtual GPUs (vGPU) rather than passthrough or bare metal.
    pub vgpu: bool,
    /// The MIG slice each "GPU" of the group is, when MIG is on.
    pub mig: Option<MigSlice>,
    /// Memory free on each GPU, when known (`nvidia-smi` total − used); else all of it.
    pub free_memory: Option<Bytes>,
    /// GPU indices as the system numbers them, when known.
    pub indices: Vec<u32>,
}

impl GpuGroup {
    /// Memory one GPU (or MIG slice) offers: free memory when known, the slice's memory under
    /// MIG, else the CUDA-visible memory of the GPU type.
    pub fn memory_per_gpu(&self) -> Bytes {
        if let Some(free) = self.free_memory {
            return free;
        }
        match &self.mig {
            Some(slice) => slice.memory,
            None => self.gpu.visible_memory,
        }
    }

    /// Whether multi-GPU traffic goes over NVLink. Never under MIG (MIG turns GPU
    /// peer-to-peer off); else [`GpuGroup::nvlink`] when known, else whether the GPU type has
    /// NVLink.
    pub fn has_nvlink(&self) -> bool {
        if self.mig.is_some() {
            return false;
        }
        self.nvlink
            .unwrap_or_else(|| self.gpu.nvlink_bandwidth().is_some())
    }

    /// A group of `count` GPUs with nothing else known.
    pub fn new(gpu: GpuSpec, count: u32) -> Self {
        Self {
            gpu,
            count,
            nvlink: None,
            vgpu: false,
            mig: None,
            free_memory: None,
            indices: Vec::new(),
        }
    }
}

impl fmt::Display for GpuGroup {
    /// The description syntax: `2xh100-sxm-80gb:nvlink:free=70GiB`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}", self.count, self.gpu.id)?;
        match self.nvlink {
            Some(true) => f.write_str(":nvlink")?,
            Some(false) => f.write_str(":pcie")?,
            None => {}
        }
        if self.vgpu {
            f.write_str(":vgpu")?;
        }
        if let Some(slice) = &self.mig {
            write!(f, ":mig={}", slice.name)?;
        }
        if let Some(free) = self.free_memory {
            write!(f, ":free={}", format_memory(free))?;
        }
        Ok(())
    }
}

/// Everything a NIM would see: one or more groups of GPUs.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Inventory {
    /// The groups, in the order they were described.
    pub groups: Vec<GpuGroup>,
}

impl Inventory {
    /// All GPUs (MIG slices count one each).
    pub fn total_gpus(&self) -> u32 {
        self.groups
            .iter()
            .fold(0_u32, |sum, g| sum.saturating_add(g.count))
    }

    /// Reads the description syntax (see the [module docs](self)) against `nim-sizing`'s
    /// built-in catalog.
    ///
    /// ```
    /// use nim_profiles::{Error, Inventory};
    ///
    /// let inventory = Inventory::parse("2xH100-SXM-80GB:nvlink+1xA100-80GB:mig=3g.40gb")?;
    /// assert_eq!(inventory.total_gpus(), 3);
    /// assert_eq!(Inventory::parse("L4")?.groups[0].count, 1);
    ///
    /// match Inventory::parse("3xH999") {
    ///     Err(Error::Parse { source_name, line, message }) => {
    ///         assert_eq!((source_name.as_str(), line), ("--gpus", 1));
    ///         assert!(message.starts_with("\"3xH999\": unknown GPU \"H999\"; nearest known: "));
    ///     }
    ///     other => panic!("{other:?}"),
    /// }
    /// # Ok::<(), Error>(())
    /// ```
    pub fn parse(spec: &str) -> Result<Inventory> {
        Self::parse_with(spec, gpu::builtin())
    }

    /// [`Inventory::parse`] against a catalog of your own (with registered GPUs).
    pub fn parse_with(spec: &str, catalog: &GpuCatalog) -> Result<Inventory> {
        let err = |message: String| Error::parse(SPEC_SOURCE, 1, message);
        let spec = spec.trim();
        if spec.is_empty() {
            return Err(err(
                "empty GPU description; expected COUNTxGPU[:attr...] joined by '+', e.g. \
                 2xH100-SXM-80GB:nvlink"
                    .to_owned(),
            ));
        }
        let groups = split_groups(spec)
            .iter()
            .map(|part| parse_group(part, catalog).map_err(|m| err(format!("{part:?}: {m}"))))
            .collect::<Result<Vec<_>>>()?;
        Ok(Inventory { groups })
    }

    /// Reads the CSV of `nvidia-smi --query-gpu=name,pci.device_id,memory.total,memory.used
    /// --format=csv` against the built-in catalog.
    ///
    /// The header names the columns, in any order (`name`, `pci.device_id`, `memory.total
    /// [MiB]`, `memory.used [MiB]`; also `memory.free` and `index`; other columns are
    /// ignored). Without a header (`--format=csv,noheader`), each row has the four columns of
    /// that query in that order. Memory is `81559 MiB`, or a bare number of MiB with
    /// `nounits`; `[N/A]` means unknown. `pci.device_id` is as `nvidia-smi` prints it,
    /// `0x233010DE`. A GPU is found by its name, else by its PCI id; a name that no catalog
    /// entry has but whose PCI id is known and that ends like a vGPU profile (`-40C`, `-48Q`)
    /// is a vGPU. Each row is one GPU, numbered by its row (from 0) unless an `index` column
    /// says otherwise; GPUs are grouped as the [module docs](self) say. Errors are
    /// [`Error::Parse`] with `source_name` and the 1-based line.
    ///
    /// ```
    /// use nim_profiles::Inventory;
    ///
    /// let csv = "name, pci.device_id, memory.total [MiB], memory.used [MiB]\n\
    ///            NVIDIA H100 80GB HBM3, 0x233010DE, 81559 MiB, 0 MiB\n\
    ///            NVIDIA H100 80GB HBM3, 0x233010DE, 81559 MiB, 40000 MiB\n";
    /// let inventory = Inventory::from_nvidia_smi_csv("smi.csv", csv)?;
    /// assert_eq!(inventory.groups.len(), 2);
    /// assert_eq!(inventory.groups[0].indices, vec![0]);
    /// assert_eq!(inventory.groups[0].memory_per_gpu().to_string(), "79.11 GiB");
    /// assert_eq!(inventory.groups[1].memory_per_gpu().to_string(), "40.05 GiB");
    /// # Ok::<(), nim_profiles::Error>(())
    /// ```
    pub fn from_nvidia_smi_csv(source_name: &str, text: &str) -> Result<Inventory> {
        Self::from_nvidia_smi_csv_with(source_name, text, gpu::builtin())
    }

    /// [`Inventory::from_nvidia_smi_csv`] against a catalog of your own.
    pub fn from_nvidia_smi_csv_with(
        source_name: &str,
        text: &str,
        catalog: &GpuCatalog,
    ) -> Result<Inventory> {
        let observations = read_smi_csv(source_name, text, catalog)?;
        Ok(Inventory {
            groups: group_observations(observations),
        })
    }

    /// Reads `nvidia-smi topo -m` and sets [`GpuGroup::nvlink`] of every group from it: see
    /// [`Inventory::apply_topology`].
    ///
    /// ```
    /// use nim_profiles::Inventory;
    ///
    /// let topo = "\tGPU0\tGPU1\tCPU Affinity\tNUMA Affinity\n\
    ///             GPU0\t X \tNV4\t0-31\t0\n\
    ///             GPU1\tNV4\t X \t0-31\t0\n";
    /// let inventory = Inventory::parse("2xA100-PCIe")?.with_topology("topo.txt", topo)?;
    /// assert_eq!(inventory.groups[0].nvlink, Some(true));
    /// # Ok::<(), nim_profiles::Error>(())
    /// ```
    pub fn with_topology(self, source_name: &str, topo: &str) -> Result<Inventory> {
        let topology = Topology::parse(source_name, topo)?;
        self.apply_topology(&topology)
    }

    /// Sets [`GpuGroup::nvlink`] of every group from a topology matrix: `Some(true)` when
    /// every pair of its GPUs is joined by NVLink (`NV#`), else `Some(false)`; a group of one
    /// GPU gets `Some(true)` when that GPU has NVLink to any other.
    ///
    /// The GPUs of a group are its [`GpuGroup::indices`]; groups without them take the lowest
    /// GPU numbers not taken, in order. The matrix must have as many GPUs as the inventory, and
    /// MIG groups are refused (the matrix describes whole GPUs). Errors are
    /// [`Error::Parse`] on the matrix header line.
    pub fn apply_topology(mut self, topology: &Topology) -> Result<Inventory> {
        let err = |message: String| {
            Error::parse(topology.source_name.clone(), topology.header_line, message)
        };
        if let Some(group) = self.groups.iter().find(|g| g.mig.is_some()) {
            return Err(err(format!(
                "group {group} is MIG slices; nvidia-smi topo -m describes whole GPUs"
            )));
        }
        let gpus = topology.gpu_count();
        if gpus != self.total_gpus() {
            return Err(err(format!(
                "the matrix has {gpus} GPUs, the inventory {} ({self})",
                self.total_gpus()
            )));
        }
        apply_links(&mut self.groups, gpus, |a, b| {
            topology.nvlinks(a, b).is_some() || topology.nvlinks(b, a).is_some()
        })
        .map_err(err)?;
        Ok(self)
    }

    /// Reads the node labels GPU feature discovery (GFD) sets, against the built-in catalog.
    ///
    /// - `nvidia.com/gpu.product` (required): the GPU, as its NVML name with `-` for spaces
    ///   (`NVIDIA-H100-80GB-HBM3`, `Tesla-T4`). A `-SHARED` suffix (time-slicing) is dropped.
    ///   Under the MIG `single` strategy it names the slice,
    ///   `NVIDIA-A100-SXM4-80GB-MIG-3g.40gb`: the group is then MIG slices of that GPU.
    ///   `...-MIG-INVALID` (GFD found a MIG layout the strategy cannot express) is an error.
    /// - `nvidia.com/gpu.count` (required): how many (GPUs, or slices under `single`).
    /// - `nvidia.com/gpu.memory`: memory per GPU in MiB. Under MIG it is the slice's memory;
    ///   on a whole GPU, a figure below the catalog's CUDA-visible memory (a vGPU profile)
    ///   becomes [`GpuGroup::free_memory`].
    /// - `nvidia.com/gpu.replicas`: above 1, each GPU is shared by that many pods
    ///   (time-slicing or MPS, which do not reserve compute), so each can count on
    ///   1/replicas of the memory: that share becomes [`GpuGroup::free_memory`]. 0 or 1: not
    ///   shared. `count` is taken as physical GPUs, as current GFD versions write it.
    /// - `nvidia.com/mig.strategy`: `none` (default), `single` or `mixed`. Under `mixed`, each
    ///   `nvidia.com/mig-<profile>.count` label is a group of slices (with its `.product`,
    ///   `.memory`, `.slices.gi` and `.replicas` labels), and `nvidia.com/gpu.count` counts
    ///   every physical GPU, MIG-enabled or not. The whole GPUs are then estimated as that
    ///   count less the fewest GPUs that can hold the slices (their `slices.gi` over 7, or 4
    ///   on the RTX PRO 6000), or none when `nvidia.com/mig.config` is an `all-...` layout
    ///   other than `all-disabled`; the node's allocatable `nvidia.com/gpu` is the exact figure.
    /// - `nvidia.com/vgpu.present=true`: the GPUs are vGPUs.
    ///
    /// A missing or malformed label is [`Error::Invalid`] naming it.
    ///
    /// ```
    /// use std::collections::BTreeMap;
    /// use nim_profiles::Inventory;
    ///
    /// let labels: BTreeMap<String, String> = [
    ///     ("nvidia.com/gpu.product", "NVIDIA-H100-80GB-HBM3"),
    ///     ("nvidia.com/gpu.count", "8"),
    ///     ("nvidia.com/gpu.memory", "81559"),
    /// ]
    /// .into_iter()
    /// .map(|(k, v)| (k.to_owned(), v.to_owned()))
    /// .collect();
    /// let inventory = Inventory::from_node_labels(&labels)?;
    /// assert_eq!(inventory.to_string(), "8xh100-sxm-80gb");
    /// # Ok::<(), nim_profiles::Error>(())
    /// ```
    pub fn from_node_labels(labels: &BTreeMap<String, String>) -> Result<Inventory> {
        Self::from_node_labels_with(labels, gpu::builtin())
    }

    /// [`Inventory::from_node_labels`] against a catalog of your own.
    pub fn from_node_labels_with(
        labels: &BTreeMap<String, String>,
        catalog: &GpuCatalog,
    ) -> Result<Inventory> {
        read_node_labels(labels, catalog)
    }

    /// [`Inventory::from_node_labels`] for several nodes (name, labels). Nodes without
    /// `nvidia.com/gpu.product` and `nvidia.com/gpu.count` (nodes without GPUs) are left out;
    /// an error names the node in its field (`node gpu-1: nvidia.com/gpu.count`).
    pub fn from_node_labels_list(
        nodes: &[(String, BTreeMap<String, String>)],
    ) -> Result<Vec<(String, Inventory)>> {
        nodes
            .iter()
            .filter(|(_, labels)| {
                labels.contains_key(label::PRODUCT) || labels.contains_key(label::COUNT)
            })
            .map(|(name, labels)| match Self::from_node_labels(labels) {
                Ok(inventory) => Ok((name.clone(), inventory)),
                Err(Error::Invalid { field, message }) => Err(Error::Invalid {
                    field: format!("node {name}: {field}"),
                    message,
                }),
                Err(other) => Err(other),
            })
            .collect()
    }
}

impl fmt::Display for Inventory {
    /// The description syntax with catalog ids, groups joined by `+`:
    /// `2xh100-sxm-80gb:nvlink+2xl40s-48gb:vgpu` (empty for an empty inventory).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, group) in self.groups.iter().enumerate() {
            if i > 0 {
                f.write_str("+")?;
            }
            write!(f, "{group}")?;
        }
        Ok(())
    }
}

impl FromStr for Inventory {
    type Err = Error;

    /// [`Inventory::parse`].
    fn from_str(s: &str) -> Result<Self> {
        Self::parse(s)
    }
}

// ---------------------------------------------------------------------------------------------
// MIG
// ---------------------------------------------------------------------------------------------

/// (compute slices, memory slices) of the profiles of a GPU with 7 compute slices.
const MIG_7_SLICES: &[(u32, u32)] = &[(1, 1), (1, 2), (2, 2), (3, 4), (4, 4), (7, 8)];
/// The same for the RTX PRO 6000 Blackwell (4 slices).
const MIG_4_SLICES: &[(u32, u32)] = &[(1, 1), (2, 2), (4, 4)];

/// A catalog id of a GPU with MIG, its memory-slice count and its profiles.
type MigLayout = (&'static str, u32, &'static [(u32, u32)]);

/// The GPUs with MIG.
const MIG_GPUS: &[MigLayout] = &[
    ("a100-sxm-40gb", 8, MIG_7_SLICES),
    ("a100-sxm-80gb", 8, MIG_7_SLICES),
    ("a100-pcie-40gb", 8, MIG_7_SLICES),
    ("a100-pcie-80gb", 8, MIG_7_SLICES),
    ("h100-sxm-80gb", 8, MIG_7_SLICES),
    ("h100-pcie-80gb", 8, MIG_7_SLICES),
    ("h100-nvl-94gb", 8, MIG_7_SLICES),
    ("h200-sxm-141gb", 8, MIG_7_SLICES),
    ("h200-nvl-141gb", 8, MIG_7_SLICES),
    ("h20-96gb", 8, MIG_7_SLICES),
    ("gh200-96gb", 8, MIG_7_SLICES),
    ("gh200-144gb", 8, MIG_7_SLICES),
    ("b200-180gb", 8, MIG_7_SLICES),
    ("gb200", 8, MIG_7_SLICES),
    ("rtx-pro-6000-blackwell-96gb", 4, MIG_4_SLICES),
];

/// The suffixes of MIG profile variants (`1g.10gb+me`).
const MIG_SUFFIXES: &[&str] = &["me", "gfx"];

fn mig_geometry(gpu: &GpuSpec) -> Option<(u32, &'static [(u32, u32)])> {
    MIG_GPUS
        .iter()
        .find(|(id, _, _)| *id == gpu.id)
        .map(|&(_, slices, profiles)| (slices, profiles))
}

/// The `<m>` of a profile with `memory_slices` of `slices` on `gpu`, unrounded.
fn mig_nominal_gb(gpu: &GpuSpec, memory_slices: u32, slices: u32) -> f64 {
    gpu.memory.gib() * f64::from(memory_slices) / f64::from(slices.max(1))
}

/// `<n>g.<m>gb[+suffix]`, with an optional `MIG ` prefix: (n, m, suffix).
fn split_mig_profile(text: &str) -> Option<(u32, u32, Option<String>)> {
    let lower = text.trim().to_ascii_lowercase();
    let t = lower
        .strip_prefix("mig")
        .map(|rest| rest.trim_start_matches([' ', '-']))
        .unwrap_or(&lower);
    let (profile, suffix) = match t.split_once('+') {
        Some((p, s)) => (p, Some(s)),
        None => (t, None),
    };
    let (n, rest) = profile.split_once("g.")?;
    let m = rest.strip_suffix("gb")?;
    let digits = |s: &str| !s.is_empty() && s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(n) || !digits(m) {
        return None;
    }
    let suffix = match suffix {
        Some(s) if MIG_SUFFIXES.contains(&s) => Some(s.to_owned()),
        Some(_) => return None,
        None => None,
    };
    Some((n.parse().ok()?, m.parse().ok()?, suffix))
}

impl MigSlice {
    /// Whether `gpu` has MIG (see the [module docs](self) for the list).
    pub fn supports(gpu: &GpuSpec) -> bool {
        mig_geometry(gpu).is_some()
    }

    /// Every MIG profile of `gpu` (none without MIG), smallest first: `1g.10gb`, `1g.20gb`,
    /// `2g.20gb`, `3g.40gb`, `4g.40gb`, `7g.80gb` on an H100.
    ///
    /// ```
    /// use nim_profiles::MigSlice;
    ///
    /// let a100 = nim_sizing::gpu::builtin().lookup("A100-40GB")?;
    /// let names: Vec<String> = MigSlice::profiles(a100).into_iter().map(|s| s.name).collect();
    /// assert_eq!(names, ["1g.5gb", "1g.10gb", "2g.10gb", "3g.20gb", "4g.20gb", "7g.40gb"]);
    /// # Ok::<(), nim_sizing::Error>(())
    /// ```
    pub fn profiles(gpu: &GpuSpec) -> Vec<MigSlice> {
        let Some((slices, profiles)) = mig_geometry(gpu) else {
            return Vec::new();
        };
        profiles
            .iter()
            .map(|&(compute, memory)| {
                let gb = mig_nominal_gb(gpu, memory, slices).round();
                MigSlice {
                    name: format!("{compute}g.{gb}gb"),
                    compute_slices: compute,
                    memory: gpu
                        .visible_memory
                        .scale(f64::from(memory) / f64::from(slices)),
                }
            })
            .collect()
    }

    /// The slice `profile` (`3g.40gb`, `MIG 3g.40gb`, `1g.10gb+me`) of `gpu`, its memory
    /// computed as the [module docs](self) say. An [`Error::Invalid`] (field `mig`) when the
    /// GPU has no MIG, the text is not a profile, or the GPU has no such profile.
    pub fn new(profile: &str, gpu: &GpuSpec) -> Result<MigSlice> {
        mig_slice(profile, gpu).map_err(|message| Error::invalid("mig", message))
    }
}

impl fmt::Display for MigSlice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

fn mig_gpu_list() -> String {
    "A100, H100, H100 NVL, H200, H20, GH200, B200, GB200, RTX PRO 6000 Blackwell".to_owned()
}

fn mig_slice(profile: &str, gpu: &GpuSpec) -> Result<MigSlice, String> {
    let Some((slices, profiles)) = mig_geometry(gpu) else {
        return Err(format!(
            "{} does not support MIG (MIG GPUs: {})",
            gpu.id,
            mig_gpu_list()
        ));
    };
    let Some((n, m, suffix)) = split_mig_profile(profile) else {
        return Err(format!(
            "{profile:?} is not a MIG profile; expected <n>g.<m>gb such as 3g.40gb"
        ));
    };
    let known = || {
        MigSlice::profiles(gpu)
            .into_iter()
            .map(|s| s.name)
            .collect::<Vec<_>>()
            .join(", ")
    };
    if f64::from(m) > gpu.memory.gib().ceil() {
        return Err(format!(
            "MIG profile {profile:?} ({m} GB) is larger than the GPU ({} has {}); its \
             profiles: {}",
            gpu.id,
            gpu.memory,
            known()
        ));
    }
    let best = profiles
        .iter()
        .filter(|&&(compute, _)| compute == n)
        .map(|&(_, memory)| {
            let expected = mig_nominal_gb(gpu, memory, slices);
            (memory, (f64::from(m) - expected).abs(), expected)
        })
        .filter(|&(_, off, expected)| off <= (0.03 * expected).max(1.0))
        .min_by(|a, b| a.1.total_cmp(&b.1));
    let Some((memory_slices, _, _)) = best else {
        return Err(format!(
            "MIG profile {profile:?} does not exist on {}; its profiles: {}",
            gpu.id,
            known()
        ));
    };
    let mut name = format!("{n}g.{m}gb");
    if let Some(suffix) = suffix {
        name.push('+');
        name.push_str(&suffix);
    }
    Ok(MigSlice {
        name,
        compute_slices: n,
        memory: gpu
            .visible_memory
            .scale(f64::from(memory_slices) / f64::from(slices)),
    })
}

// ---------------------------------------------------------------------------------------------
// The description syntax
// ---------------------------------------------------------------------------------------------

/// Splits at `+`, keeping a MIG variant suffix (`mig=1g.10gb+me`) with its group.
fn split_groups(spec: &str) -> Vec<String> {
    let mut groups: Vec<String> = Vec::new();
    for piece in spec.split('+') {
        let head = piece.split(':').next().unwrap_or("").trim();
        let continues_mig = MIG_SUFFIXES.iter().any(|s| head.eq_ignore_ascii_case(s))
            && groups.last().is_some_and(|prev| {
                prev.rsplit(':')
                    .next()
                    .is_some_and(|attr| attr.trim().to_ascii_lowercase().starts_with("mig="))
            });
        match groups.last_mut() {
            Some(prev) if continues_mig => {
                prev.push('+');
                prev.push_str(piece);
            }
            _ => groups.push(piece.to_owned()),
        }
    }
    groups.into_iter().map(|g| g.trim().to_owned()).collect()
}

/// `COUNTx` at the start of `token`: (count text, rest).
fn split_count(token: &str) -> Option<(&str, &str)> {
    let digits = token.len() - token.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    if digits == 0 {
        return None;
    }
    // `0x2330` is a PCI id, not zero GPUs.
    if (token.starts_with("0x") || token.starts_with("0X")) && parse_pci_id(token).is_some() {
        return None;
    }
    let (count, rest) = token.split_at(digits);
    let rest = rest.trim_start();
    let name = rest
        .strip_prefix(['x', 'X'])
        .or_else(|| rest.strip_prefix('×'))?;
    Some((count, name.trim()))
}

const ATTRIBUTES: &[&str] = &[
    "nvlink",
    "pcie",
    "no-nvlink",
    "vgpu",
    "passthrough",
    "mig",
    "free",
];

fn parse_group(part: &str, catalog: &GpuCatalog) -> Result<GpuGroup, String> {
    if part.is_empty() {
        return Err("empty group; expected COUNTxGPU[:attr...]".to_owned());
    }
    let mut segments: Vec<&str> = part.split(':').collect();
    // A PCI id written `2330:10de` or `10de:2330` holds a colon.
    if segments.len() >= 2 {
        let joined = format!("{}:{}", segments[0], segments[1]);
        let name = split_count(&joined).map_or(joined.as_str(), |(_, name)| name);
        if segments[1].trim().len() == 4 && parse_pci_id(name).is_some() {
            segments.remove(1);
            segments[0] = &part[..joined.len()];
        }
    }
    let head = segments.first().map_or("", |s| s.trim());
    let (count, name) = match split_count(head) {
        Some((count, name)) => {
            let n: u32 = count
                .parse()
                .ok()
                .filter(|&n| n <= MAX_GPUS_PER_GROUP)
                .ok_or_else(|| format!("count {count:?} is more than {MAX_GPUS_PER_GROUP} GPUs"))?;
            if n == 0 {
                return Err(format!("count {count:?} must be at least 1"));
            }
            (n, name)
        }
        None => (1, head),
    };
    if name.is_empty() {
        return Err("no GPU named; expected COUNTxGPU such as 2xH100-SXM-80GB".to_owned());
    }
    let gpu = catalog.lookup(name).map_err(|e| e.to_string())?.clone();
    let mut group = GpuGroup::new(gpu, count);

    let mut passthrough = false;
    let mut mig_text: Option<&str> = None;
    let mut free_text: Option<&str> = None;
    for attr in segments.iter().skip(1).map(|s| s.trim()) {
        let (key, value) = match attr.split_once('=') {
            Some((k, v)) => (k.trim().to_ascii_lowercase(), Some(v.trim())),
            None => (attr.to_ascii_lowercase(), None),
        };
        match (key.as_str(), value) {
            ("nvlink", None) => set_flag(&mut group.nvlink, true, "nvlink", "pcie")?,
            ("pcie" | "no-nvlink" | "nonvlink", None) => {
                set_flag(&mut group.nvlink, false, "nvlink", "pcie")?;
            }
            ("vgpu", None) => {
                if passthrough {
                    return Err("\"vgpu\" contradicts \"passthrough\"".to_owned());
                }
                group.vgpu = true;
            }
            ("passthrough", None) => {
                if group.vgpu {
                    return Err("\"passthrough\" contradicts \"vgpu\"".to_owned());
                }
                passthrough = true;
            }
            ("mig", Some(v)) => set_value(&mut mig_text, v, "mig")?,
            ("free", Some(v)) => set_value(&mut free_text, v, "free")?,
            ("nvlink" | "pcie" | "no-nvlink" | "nonvlink" | "vgpu" | "passthrough", Some(_)) => {
                return Err(format!("attribute {key:?} takes no value ({attr:?})"));
            }
            ("mig", None) => {
                return Err("attribute \"mig\" needs a profile: mig=3g.40gb".to_owned());
            }
            ("free", None) => {
                return Err("attribute \"free\" needs an amount: free=70GiB".to_owned());
            }
            ("", None) => {
                return Err(format!(
                    "empty attribute; expected {}",
                    expected_attributes()
                ));
            }
            _ => {
                let hint = ATTRIBUTES
                    .iter()
                    .map(|a| (a, strsim::jaro_winkler(&key, a)))
                    .filter(|&(_, score)| score >= 0.8)
                    .max_by(|a, b| a.1.total_cmp(&b.1))
                    .map(|(a, _)| format!(" (did you mean {a:?}?)"))
                    .unwrap_or_default();
                return Err(format!(
                    "unknown attribute {attr:?}{hint}; expected {}",
                    expected_attributes()
                ));
            }
        }
    }
    if group.nvlink == Some(true) && group.gpu.nvlink_bandwidth().is_none() {
        return Err(format!("\"nvlink\": {} has no NVLink", group.gpu.id));
    }
    if let Some(text) = mig_text {
        if group.nvlink == Some(true) {
            return Err(
                "\"nvlink\" contradicts \"mig\": MIG turns GPU peer-to-peer (NVLink) off"
                    .to_owned(),
            );
        }
        group.mig = Some(mig_slice(text, &group.gpu)?);
    }
    if let Some(text) = free_text {
        let free = parse_memory(text).ok_or_else(|| {
            format!(
                "free={text:?}: expected an amount of memory per GPU such as free=70GiB or \
                 free=75GB"
            )
        })?;
        let (capacity, of) = match &group.mig {
            Some(slice) => (
                slice.memory.max(mig_nominal_capacity(slice, &group.gpu)),
                format!("a {} slice", slice.name),
            ),
            None => (group.gpu.memory, group.gpu.id.clone()),
        };
        if free > capacity {
            return Err(format!(
                "free={text}: more than the memory of {of} ({capacity})"
            ));
        }
        group.free_memory = Some(free);
    }
    Ok(group)
}

/// The nominal memory of a slice: its `<m>` in GiB.
fn mig_nominal_capacity(slice: &MigSlice, gpu: &GpuSpec) -> Bytes {
    let gb = split_mig_profile(&slice.name).map_or(0, |(_, m, _)| m);
    Bytes::from_gib(f64::from(gb)).min(gpu.memory)
}

fn expected_attributes() -> &'static str {
    "nvlink, pcie, vgpu, passthrough, mig=..., free=..."
}

fn set_flag(slot: &mut Option<bool>, value: bool, yes: &str, no: &str) -> Result<(), String> {
    match *slot {
        Some(old) if old != value => {
            let (given, other) = if value { (yes, no) } else { (no, yes) };
            Err(format!("{given:?} contradicts {other:?}"))
        }
        _ => {
            *slot = Some(value);
            Ok(())
        }
    }
}

fn set_value<'a>(slot: &mut Option<&'a str>, value: &'a str, key: &str) -> Result<(), String> {
    match *slot {
        Some(old) if !old.eq_ignore_ascii_case(value) => {
            Err(format!("{key}= given twice ({key}={old}, {key}={value})"))
        }
        _ => {
            *slot = Some(value);
            Ok(())
        }
    }
}

/// `70GiB`, `75 GB`, `512MiB`, `1.5GiB`, `1073741824B`; `None` for anything else.
fn parse_memory(text: &str) -> Option<Bytes> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    if number.is_empty()
        || number.starts_with('.')
        || number.ends_with('.')
        || number.matches('.').count() > 1
    {
        return None;
    }
    let x: f64 = number.parse().ok()?;
    let bytes = match unit.trim().to_ascii_lowercase().as_str() {
        "gib" | "gi" => x * GIB as f64,
        "gb" | "g" => x * GB as f64,
        "mib" | "mi" => x * MIB as f64,
        "mb" | "m" => x * 1e6,
        "b" => x,
        _ => return None,
    };
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return None;
    }
    Some(Bytes::from_f64(bytes))
}

/// Memory in the description syntax, exactly: GiB when a whole number of MiB, else bytes.
fn format_memory(bytes: Bytes) -> String {
    if bytes.get().is_multiple_of(MIB) && bytes.get() < (1 << 53) {
        format!("{}GiB", bytes.get() as f64 / GIB as f64)
    } else {
        format!("{}B", bytes.get())
    }
}

// ---------------------------------------------------------------------------------------------
// Observed GPUs (nvidia-smi, NVML)
// ---------------------------------------------------------------------------------------------

/// One GPU seen by `nvidia-smi` or NVML.
#[derive(Clone, Debug)]
pub(crate) struct Observation {
    pub(crate) index: u32,
    pub(crate) gpu: GpuSpec,
    pub(crate) vgpu: bool,
    pub(crate) free: Option<Bytes>,
}

/// Free memory from what a tool reports: `min(total, CUDA-visible) − used`, or the tool's
/// free figure (capped the same way) when it gives no used figure.
pub(crate) fn free_memory(
    gpu: &GpuSpec,
    total: Option<Bytes>,
    used: Option<Bytes>,
    free: Option<Bytes>,
) -> Option<Bytes> {
    let capacity = total.map_or(gpu.visible_memory, |t| t.min(gpu.visible_memory));
    match (used, free) {
        (Some(used), _) => Some(capacity.saturating_sub(used)),
        (None, Some(free)) => Some(free.min(capacity)),
        (None, None) => None,
    }
}

/// Groups GPUs by (type, vGPU, free memory in whole GiB), in order of first appearance; a
/// group's free memory is the smallest of its GPUs'.
pub(crate) fn group_observations(observations: Vec<Observation>) -> Vec<GpuGroup> {
    let mut groups: Vec<GpuGroup> = Vec::new();
    let mut keys: Vec<(String, bool, Option<u64>)> = Vec::new();
    for obs in observations {
        let key = (
            obs.gpu.id.clone(),
            obs.vgpu,
            obs.free.map(|f| f.get() / GIB),
        );
        match keys.iter().position(|k| *k == key) {
            Some(i) => {
                if let Some(group) = groups.get_mut(i) {
                    group.count = group.count.saturating_add(1);
                    group.indices.push(obs.index);
                    group.free_memory = match (group.free_memory, obs.free) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                }
            }
            None => {
                keys.push(key);
                let mut group = GpuGroup::new(obs.gpu, 1);
                group.vgpu = obs.vgpu;
                group.free_memory = obs.free;
                group.indices.push(obs.index);
                groups.push(group);
            }
        }
    }
    groups
}

/// The GPU numbers of each group: its indices, or the lowest numbers not taken.
fn member_indices(groups: &[GpuGroup], gpus: u32) -> Result<Vec<Vec<u32>>, String> {
    let mut taken = BTreeSet::new();
    for group in groups {
        if group.indices.len() == group.count as usize {
            for &i in &group.indices {
                if i >= gpus {
                    return Err(format!(
                        "GPU {i} of group {group} is not in the matrix (GPU0..GPU{})",
                        gpus.saturating_sub(1)
                    ));
                }
                if !taken.insert(i) {
                    return Err(format!("GPU {i} is in two groups"));
                }
            }
        }
    }
    let mut free = (0..gpus).filter(|i| !taken.contains(i));
    let mut members = Vec::with_capacity(groups.len());
    for group in groups {
        if group.indices.len() == group.count as usize {
            members.push(group.indices.clone());
        } else {
            let picked: Vec<u32> = free.by_ref().take(group.count as usize).collect();
            if picked.len() != group.count as usize {
                return Err(format!("not enough GPUs in the matrix for group {group}"));
            }
            members.push(picked);
        }
    }
    Ok(members)
}

/// Sets each group's `nvlink` from a pairwise predicate over GPU numbers `0..gpus`.
pub(crate) fn apply_links(
    groups: &mut [GpuGroup],
    gpus: u32,
    linked: impl Fn(u32, u32) -> bool,
) -> Result<(), String> {
    let members = member_indices(groups, gpus)?;
    for (group, members) in groups.iter_mut().zip(members) {
        let all_pairs = match members.as_slice() {
            [] => continue,
            [only] => (0..gpus).any(|other| other != *only && linked(*only, other)),
            _ => members
                .iter()
                .enumerate()
                .all(|(i, &a)| members.iter().skip(i + 1).all(|&b| linked(a, b))),
        };
        group.nvlink = Some(all_pairs);
    }
    Ok(())
}

/// A name that ends like a vGPU profile: `GRID A100-40C`, `NVIDIA L40S-48Q`.
fn looks_like_vgpu(name: &str) -> bool {
    let Some((_, profile)) = name.trim().rsplit_once('-') else {
        return false;
    };
    let Some(digits) = profile.strip_suffix(['A', 'B', 'C', 'Q']) else {
        return false;
    };
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

/// The catalog GPU of a name, else of a PCI id; whether it looks like a vGPU.
pub(crate) fn identify(
    catalog: &GpuCatalog,
    name: Option<&str>,
    pci: Option<&str>,
) -> Result<(GpuSpec, bool), String> {
    let by_name = name.map(|n| catalog.lookup(n));
    if let Some(Ok(gpu)) = &by_name {
        return Ok(((*gpu).clone(), false));
    }
    let device = pci.and_then(parse_pci_id);
    if let Some(gpu) = device.and_then(|d| catalog.lookup_pci(d)) {
        return Ok((gpu.clone(), name.is_some_and(looks_like_vgpu)));
    }
    let pci_text = match (pci, device) {
        (Some(p), Some(d)) => {
            format!("PCI id {p} ({d:04x}:{NVIDIA_PCI_VENDOR:04x}) is not in the catalog either")
        }
        (Some(p), None) => format!("PCI id {p:?} is not an NVIDIA device id"),
        (None, _) => "no PCI id given".to_owned(),
    };
    Err(match by_name {
        Some(Err(e)) => format!("{e}; {pci_text}"),
        _ => format!("no GPU name given; {pci_text}"),
    })
}

// ---------------------------------------------------------------------------------------------
// nvidia-smi CSV
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Column {
    Name,
    PciDeviceId,
    MemoryTotal,
    MemoryUsed,
    MemoryFree,
    Index,
    Other,
}

impl Column {
    fn from_key(key: &str) -> Column {
        match key {
            "name" | "gpu_name" => Column::Name,
            "pci.device_id" => Column::PciDeviceId,
            "memory.total" => Column::MemoryTotal,
            "memory.used" => Column::MemoryUsed,
            "memory.free" => Column::MemoryFree,
            "index" => Column::Index,
            _ => Column::Other,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Column::Name => "name",
            Column::PciDeviceId => "pci.device_id",
            Column::MemoryTotal => "memory.total",
            Column::MemoryUsed => "memory.used",
            Column::MemoryFree => "memory.free",
            Column::Index => "index",
            Column::Other => "other",
        }
    }
}

/// A CSV field without surrounding spaces and quotes.
fn field(text: &str) -> &str {
    let t = text.trim();
    t.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(t)
        .trim()
}

/// `memory.total [MiB]` → (`memory.total`, `MiB`).
fn header_key(text: &str) -> (String, Option<String>) {
    let t = field(text);
    match t.split_once('[') {
        Some((key, unit)) => (
            key.trim().to_ascii_lowercase(),
            Some(unit.trim_end_matches(']').trim().to_owned()),
        ),
        None => (t.to_ascii_lowercase(), None),
    }
}

fn not_available(value: &str) -> bool {
    let v = value
        .trim_matches(|c| c == '[' || c == ']')
        .to_ascii_lowercase();
    v.is_empty() || v == "n/a" || v == "not supported" || v == "unknown error"
}

/// `81559 MiB`, or a bare number in `default_unit`; `Ok(None)` for `[N/A]`.
fn smi_memory(value: &str, default_unit: &str) -> Option<Option<Bytes>> {
    if not_available(value) {
        return Some(None);
    }
    let v = value.trim();
    if v.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return parse_memory(&format!("{v}{default_unit}")).map(Some);
    }
    parse_memory(v).map(Some)
}

fn read_smi_csv(source_name: &str, text: &str, catalog: &GpuCatalog) -> Result<Vec<Observation>> {
    let err = |line: usize, message: String| Error::parse(source_name, line, message);
    let lines = text
        .trim_start_matches('\u{feff}')
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty());
    let mut columns: Option<Vec<(Column, Option<String>)>> = None;
    let mut observations: Vec<Observation> = Vec::new();
    let mut seen = BTreeSet::new();
    for (line, text) in lines {
        if text.eq_ignore_ascii_case("No devices were found") {
            return Err(err(
                line,
                "nvidia-smi found no GPU (\"No devices were found\")".to_owned(),
            ));
        }
        let fields: Vec<&str> = text.split(',').collect();
        if columns.is_none() {
            let header: Vec<(String, Option<String>)> =
                fields.iter().map(|f| header_key(f)).collect();
            if header
                .iter()
                .any(|(key, _)| Column::from_key(key) != Column::Other)
            {
                let cols: Vec<(Column, Option<String>)> = header
                    .into_iter()
                    .map(|(key, unit)| (Column::from_key(&key), unit))
                    .collect();
                for wanted in [Column::Name, Column::PciDeviceId] {
                    if cols.iter().filter(|(c, _)| *c == wanted).count() > 1 {
                        return Err(err(
                            line,
                            format!("column {} appears twice", wanted.label()),
                        ));
                    }
                }
                if !cols
                    .iter()
                    .any(|(c, _)| matches!(c, Column::Name | Column::PciDeviceId))
                {
                    return Err(err(
                        line,
                        "the header has neither name nor pci.device_id; expected the output \
                         of nvidia-smi --query-gpu=name,pci.device_id,memory.total,memory.used \
                         --format=csv"
                            .to_owned(),
                    ));
                }
                columns = Some(cols);
                continue;
            }
            // No header: the query's columns in its order.
            columns = Some(vec![
                (Column::Name, None),
                (Column::PciDeviceId, None),
                (Column::MemoryTotal, None),
                (Column::MemoryUsed, None),
            ]);
        }
        let Some(cols) = columns.as_ref() else {
            continue;
        };
        if fields.len() != cols.len() {
            let names: Vec<&str> = cols.iter().map(|(c, _)| c.label()).collect();
            return Err(err(
                line,
                format!(
                    "expected {} fields ({}), found {}",
                    cols.len(),
                    names.join(", "),
                    fields.len()
                ),
            ));
        }
        let mut name = None;
        let mut pci = None;
        let mut total = None;
        let mut used = None;
        let mut free = None;
        let mut index = None;
        for ((column, unit), raw) in cols.iter().zip(&fields) {
            let value = field(raw);
            let memory = |slot: &mut Option<Bytes>| -> Result<()> {
                let unit = unit.as_deref().unwrap_or("MiB");
                match smi_memory(value, unit) {
                    Some(bytes) => {
                        *slot = bytes;
                        Ok(())
                    }
                    None => Err(err(
                        line,
                        format!(
                            "{}: {value:?} is not an amount of memory such as \"81559 MiB\"",
                            column.label()
                        ),
                    )),
                }
            };
            match column {
                Column::Name if !not_available(value) => name = Some(value),
                Column::PciDeviceId if !not_available(value) => pci = Some(value),
                Column::MemoryTotal => memory(&mut total)?,
                Column::MemoryUsed => memory(&mut used)?,
                Column::MemoryFree => memory(&mut free)?,
                Column::Index => {
                    index =
                        Some(value.parse::<u32>().map_err(|_| {
                            err(line, format!("index: {value:?} is not a GPU index"))
                        })?);
                }
                _ => {}
            }
        }
        let (gpu, vgpu) = identify(catalog, name, pci).map_err(|m| err(line, m))?;
        let row = u32::try_from(observations.len()).unwrap_or(u32::MAX);
        let index = index.unwrap_or(row);
        if !seen.insert(index) {
            return Err(err(line, format!("GPU index {index} appears twice")));
        }
        let free = free_memory(&gpu, total, used, free);
        observations.push(Observation {
            index,
            gpu,
            vgpu,
            free,
        });
    }
    if observations.is_empty() {
        return Err(err(
            0,
            "no GPU rows; expected the output of nvidia-smi --query-gpu=name,pci.device_id,\
             memory.total,memory.used --format=csv"
                .to_owned(),
        ));
    }
    Ok(observations)
}

// ---------------------------------------------------------------------------------------------
// nvidia-smi topo -m
// ---------------------------------------------------------------------------------------------

/// The GPU-to-GPU part of `nvidia-smi topo -m`: for each pair of GPUs, how they are joined
/// (`X` self, `NV#` a bonded set of # NVLinks, `PIX`, `PXB`, `PHB`, `NODE`, `SYS` over PCIe
/// and the CPUs). NIC rows and columns and the CPU and NUMA affinity columns are ignored.
///
/// ```
/// use nim_profiles::inventory::Topology;
///
/// let topo = Topology::parse("topo.txt", "\tGPU0\tGPU1\tNIC0\tCPU Affinity\n\
///                                         GPU0\t X \tNV18\tPIX\t0-55\n\
///                                         GPU1\tNV18\t X \tPIX\t0-55\n")?;
/// assert_eq!(topo.gpu_count(), 2);
/// assert_eq!(topo.link(0, 1), Some("NV18"));
/// assert_eq!(topo.nvlinks(0, 1), Some(18));
/// # Ok::<(), nim_profiles::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topology {
    source_name: String,
    header_line: usize,
    links: Vec<Vec<String>>,
}

fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ ... final byte in '@'..='~'.
            for next in chars.by_ref() {
                if next != '[' && ('@'..='~').contains(&next) {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn gpu_label(token: &str) -> Option<u32> {
    token
        .strip_prefix("GPU")
        .filter(|d| !d.is_empty() && d.len() <= 5 && d.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|d| d.parse().ok())
}

impl Topology {
    /// Reads `nvidia-smi topo -m` output (escape codes for bold or underlined headers are
    /// ignored). Errors are [`Error::Parse`] with `source_name` and the line.
    pub fn parse(source_name: &str, text: &str) -> Result<Topology> {
        let err = |line: usize, message: String| Error::parse(source_name, line, message);
        let lines: Vec<(usize, String)> = text
            .lines()
            .enumerate()
            .map(|(i, l)| (i + 1, strip_ansi(l)))
            .collect();
        let Some((header_line, header)) = lines
            .iter()
            .find(|(_, l)| l.split_whitespace().any(|t| t == "GPU0"))
        else {
            return Err(err(
                0,
                "no GPU0 column header; expected the output of nvidia-smi topo -m".to_owned(),
            ));
        };
        let header_line = *header_line;
        let mut gpus = 0_u32;
        for token in header.split_whitespace().skip_while(|t| *t != "GPU0") {
            match gpu_label(token) {
                Some(n) if n == gpus => gpus += 1,
                Some(n) => {
                    return Err(err(
                        header_line,
                        format!("column GPU{n} where GPU{gpus} was expected"),
                    ));
                }
                None => break,
            }
        }
        let n = gpus as usize;
        let mut rows: Vec<Option<Vec<String>>> = vec![None; n];
        for (line, text) in lines.iter().filter(|(l, _)| *l > header_line) {
            let trimmed = text.trim();
            if trimmed.starts_with("Legend") {
                break;
            }
            let mut tokens = trimmed.split_whitespace();
            let Some(first) = tokens.next() else {
                continue;
            };
            let Some(gpu) = gpu_label(first) else {
                continue;
            };
            let Some(slot) = rows.get_mut(gpu as usize) else {
                return Err(err(
                    *line,
                    format!(
                        "row GPU{gpu} has no column (the header has GPU0..GPU{})",
                        n.saturating_sub(1)
                    ),
                ));
            };
            if slot.is_some() {
                return Err(err(*line, format!("row GPU{gpu} appears twice")));
            }
            let entries: Vec<String> = tokens.take(n).map(|t| t.to_ascii_uppercase()).collect();
            if entries.len() != n {
                return Err(err(
                    *line,
                    format!("row GPU{gpu} has {} of {n} GPU entries", entries.len()),
                ));
            }
            if entries.get(gpu as usize).is_some_and(|e| e != "X") {
                return Err(err(
                    *line,
                    format!("row GPU{gpu} does not have X in column GPU{gpu}"),
                ));
            }
            *slot = Some(entries);
        }
        let mut links = Vec::with_capacity(n);
        for (i, row) in rows.into_iter().enumerate() {
            match row {
                Some(row) => links.push(row),
                None => return Err(err(header_line, format!("no row for GPU{i}"))),
            }
        }
        Ok(Topology {
            source_name: source_name.to_owned(),
            header_line,
            links,
        })
    }

    /// How many GPUs the matrix has.
    pub fn gpu_count(&self) -> u32 {
        u32::try_from(self.links.len()).unwrap_or(u32::MAX)
    }

    /// The entry in row `a`, column `b` (`X`, `NV18`, `PIX`, ...), upper-case.
    pub fn link(&self, a: u32, b: u32) -> Option<&str> {
        self.links
            .get(a as usize)
            .and_then(|row| row.get(b as usize))
            .map(String::as_str)
    }

    /// How many bonded NVLinks join GPU `a` to GPU `b` (`NV18` → 18); `None` without NVLink.
    pub fn nvlinks(&self, a: u32, b: u32) -> Option<u32> {
        self.link(a, b)?.strip_prefix("NV")?.parse().ok()
    }
}

// ---------------------------------------------------------------------------------------------
// GPU feature discovery labels
// ---------------------------------------------------------------------------------------------

/// The label keys read by [`Inventory::from_node_labels`].
pub mod label {
    /// The GPU product (`NVIDIA-H100-80GB-HBM3`).
    pub const PRODUCT: &str = "nvidia.com/gpu.product";
    /// How many GPUs.
    pub const COUNT: &str = "nvidia.com/gpu.count";
    /// Memory per GPU, MiB.
    pub const MEMORY: &str = "nvidia.com/gpu.memory";
    /// Time-slicing or MPS replicas per GPU.
    pub const REPLICAS: &str = "nvidia.com/gpu.replicas";
    /// GPU instance slices of a MIG device (`single` strategy).
    pub const SLICES_GI: &str = "nvidia.com/gpu.slices.gi";
    /// The MIG strategy: `none`, `single` or `mixed`.
    pub const MIG_STRATEGY: &str = "nvidia.com/mig.strategy";
    /// The MIG layout applied by the MIG manager (`all-1g.10gb`, `all-disabled`, ...).
    pub const MIG_CONFIG: &str = "nvidia.com/mig.config";
    /// `true` when the GPUs are vGPUs.
    pub const VGPU_PRESENT: &str = "nvidia.com/vgpu.present";
    /// The prefix of the per-profile labels under the `mixed` strategy.
    pub const MIG_PREFIX: &str = "nvidia.com/mig-";
}

fn label_number(labels: &BTreeMap<String, String>, key: &str) -> Result<Option<u64>> {
    match labels.get(key) {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse::<u64>()
            .map(Some)
            .map_err(|_| Error::invalid(key, format!("{v:?} is not a whole number"))),
    }
}

fn label_count(labels: &BTreeMap<String, String>, key: &str) -> Result<u32> {
    let count = label_number(labels, key)?
        .ok_or_else(|| Error::invalid(key, "missing: how many GPUs the node has"))?;
    u32::try_from(count)
        .ok()
        .filter(|&c| c <= MAX_GPUS_PER_GROUP)
        .ok_or_else(|| Error::invalid(key, format!("{count} is more than {MAX_GPUS_PER_GROUP}")))
}

/// `NVIDIA-A100-SXM4-80GB-MIG-3g.40gb-SHARED` → (`NVIDIA-A100-SXM4-80GB`, `Some("3g.40gb")`).
fn split_product(product: &str) -> (&str, Option<&str>) {
    let p = product.trim();
    let p = p.strip_suffix("-SHARED").unwrap_or(p);
    match p.rfind("-MIG-") {
        Some(at) => (&p[..at], Some(&p[at + "-MIG-".len()..])),
        None => (p, None),
    }
}

/// The fair share of memory of one of `replicas` pods on a shared GPU.
fn shared_memory(memory: Bytes, replicas: Option<u64>) -> Option<Bytes> {
    match replicas {
        Some(r) if r > 1 => Some(Bytes::new(memory.get() / r)),
        _ => None,
    }
}

fn mig_group(
    gpu: &GpuSpec,
    profile: &str,
    count: u32,
    memory_mib: Option<u64>,
    replicas: Option<u64>,
    vgpu: bool,
    field: &str,
) -> Result<GpuGroup> {
    let mut slice = mig_slice(profile, gpu).map_err(|m| Error::invalid(field, m))?;
    if let Some(mib) = memory_mib.filter(|&m| m > 0) {
        slice.memory = Bytes::new(mib.saturating_mul(MIB));
    }
    let mut group = GpuGroup::new(gpu.clone(), count);
    group.free_memory = shared_memory(slice.memory, replicas);
    group.mig = Some(slice);
    group.vgpu = vgpu;
    Ok(group)
}

fn read_node_labels(labels: &BTreeMap<String, String>, catalog: &GpuCatalog) -> Result<Inventory> {
    let strategy = labels.get(label::MIG_STRATEGY).map_or("none", |s| s.trim());
    if !matches!(strategy, "none" | "single" | "mixed") {
        return Err(Error::invalid(
            label::MIG_STRATEGY,
            format!("{strategy:?}; expected none, single or mixed"),
        ));
    }
    let product = labels.get(label::PRODUCT).ok_or_else(|| {
        Error::invalid(
            label::PRODUCT,
            "missing: the node has no GPU feature discovery labels",
        )
    })?;
    let (name, mig_profile) = split_product(product);
    if mig_profile == Some("INVALID") {
        return Err(Error::invalid(
            label::PRODUCT,
            format!(
                "{product:?}: GPU feature discovery found a MIG layout that mig.strategy=single \
                 cannot express (one MIG profile on every GPU)"
            ),
        ));
    }
    let gpu = catalog
        .lookup(name)
        .map_err(|e| Error::invalid(label::PRODUCT, format!("{product:?}: {e}")))?
        .clone();
    let count = label_count(labels, label::COUNT)?;
    if count == 0 {
        return Err(Error::invalid(label::COUNT, "0: the node offers no GPU"));
    }
    let memory_mib = label_number(labels, label::MEMORY)?;
    let replicas = label_number(labels, label::REPLICAS)?;
    let vgpu = labels
        .get(label::VGPU_PRESENT)
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));

    if let Some(profile) = mig_profile {
        // `single`: every GPU is cut into slices of one profile.
        let group = mig_group(
            &gpu,
            profile,
            count,
            memory_mib,
            replicas,
            vgpu,
            label::PRODUCT,
        )?;
        return Ok(Inventory {
            groups: vec![group],
        });
    }

    let mut mig_groups = Vec::new();
    let mut slices_used = 0_u64;
    if strategy == "mixed" {
        for (key, value) in labels.range(label::MIG_PREFIX.to_owned()..) {
            let Some(rest) = key.strip_prefix(label::MIG_PREFIX) else {
                break;
            };
            let Some(profile) = rest.strip_suffix(".count") else {
                continue;
            };
            let key_of = |suffix: &str| format!("{}{profile}.{suffix}", label::MIG_PREFIX);
            let slice_count = value
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|&c| c <= MAX_GPUS_PER_GROUP)
                .ok_or_else(|| Error::invalid(key, format!("{value:?} is not a GPU count")))?;
            if slice_count == 0 {
                continue;
            }
            let parent = match labels.get(&key_of("product")) {
                Some(p) => {
                    let (parent, _) = split_product(p);
                    catalog
                        .lookup(parent)
                        .map_err(|e| Error::invalid(key_of("product"), format!("{p:?}: {e}")))?
                        .clone()
                }
                None => gpu.clone(),
            };
            let memory = label_number(labels, &key_of("memory"))?;
            let replicas = label_number(labels, &key_of("replicas"))?;
            let group = mig_group(&parent, profile, slice_count, memory, replicas, vgpu, key)?;
            let gi = label_number(labels, &key_of("slices.gi"))?.unwrap_or(u64::from(
                group.mig.as_ref().map_or(1, |s| s.compute_slices),
            ));
            slices_used = slices_used.saturating_add(gi.saturating_mul(u64::from(slice_count)));
            mig_groups.push(group);
        }
    }

    let mut groups = Vec::new();
    let mig_gpus = if mig_groups.is_empty() {
        0
    } else {
        let all_mig = labels.get(label::MIG_CONFIG).is_some_and(|c| {
            let c = c.trim();
            c.starts_with("all-") && c != "all-disabled"
        });
        if all_mig {
            count
        } else {
            let per_gpu = mig_geometry(&gpu).map_or(7, |(_, profiles)| {
                profiles.iter().map(|&(c, _)| c).max().unwrap_or(7)
            });
            u32::try_from(slices_used.div_ceil(u64::from(per_gpu)))
                .unwrap_or(u32::MAX)
                .min(count)
        }
    };
    let whole = count - mig_gpus;
    if whole > 0 {
        let mut group = GpuGroup::new(gpu.clone(), whole);
        group.vgpu = vgpu;
        let memory = memory_mib
            .filter(|&m| m > 0)
            .map(|m| Bytes::new(m.saturating_mul(MIB)))
            .filter(|&m| m < gpu.visible_memory);
        let capacity = memory.unwrap_or(gpu.visible_memory);
        group.free_memory = shared_memory(capacity, replicas).or(memory);
        groups.push(group);
    }
    groups.extend(mig_groups);
    Ok(Inventory { groups })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mig_profile_names_match_nvidia() {
        let names = |gpu: &str| -> Vec<String> {
            MigSlice::profiles(gpu::builtin().lookup(gpu).expect(gpu))
                .into_iter()
                .map(|s| s.name)
                .collect()
        };
        assert_eq!(
            names("A100"),
            [
                "1g.10gb", "1g.20gb", "2g.20gb", "3g.40gb", "4g.40gb", "7g.80gb"
            ]
        );
        assert_eq!(
            names("H100 NVL"),
            [
                "1g.12gb", "1g.24gb", "2g.24gb", "3g.47gb", "4g.47gb", "7g.94gb"
            ]
        );
        assert_eq!(
            names("H200"),
            [
                "1g.18gb", "1g.35gb", "2g.35gb", "3g.71gb", "4g.71gb", "7g.141gb"
            ]
        );
        assert_eq!(
            names("B200"),
            [
                "1g.23gb", "1g.45gb", "2g.45gb", "3g.90gb", "4g.90gb", "7g.180gb"
            ]
        );
        assert_eq!(names("RTX PRO 6000"), ["1g.24gb", "2g.48gb", "4g.96gb"]);
        assert!(names("L40S").is_empty());
    }

    #[test]
    fn memory_formats_round_trip() {
        for bytes in [
            Bytes::new(0),
            Bytes::new(MIB),
            Bytes::from_gib(70.0),
            Bytes::from_gib(79.11),
            Bytes::new(12_345),
        ] {
            assert_eq!(
                parse_memory(&format_memory(bytes)),
                Some(bytes),
                "{bytes:?}"
            );
        }
        assert_eq!(parse_memory("75GB"), Some(Bytes::new(75 * GB)));
        assert_eq!(parse_memory("1.5 GiB"), Some(Bytes::from_gib(1.5)));
        for bad in [
            "",
            "GiB",
            "1.GiB",
            ".5GiB",
            "1..5GiB",
            "-1GiB",
            "1e3GiB",
            "5 parsecs",
        ] {
            assert_eq!(parse_memory(bad), None, "{bad}");
        }
    }

    #[test]
    fn vgpu_names() {
        assert!(looks_like_vgpu("GRID A100-40C"));
        assert!(looks_like_vgpu("NVIDIA L40S-48Q"));
        assert!(!looks_like_vgpu("NVIDIA A100-SXM4-80GB"));
        assert!(!looks_like_vgpu("Tesla T4"));
    }
}
