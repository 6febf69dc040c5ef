//! The GPUs a NIM would find: what they are, how many, how they are connected.

use nim_sizing::{Bytes, GpuSpec};
use serde::Serialize;

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

    /// Whether multi-GPU traffic goes over NVLink.
    pub fn has_nvlink(&self) -> bool {
        self.nvlink
            .unwrap_or_else(|| self.gpu.nvlink_bandwidth().is_some())
    }
}

/// Everything a NIM would see: one or more groups of GPUs.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Inventory {
    /// The groups, in the order they were described.
    pub groups: Vec<GpuGroup>,
}

impl Inventory {
    /// All GPUs.
    pub fn total_gpus(&self) -> u32 {
        self.groups.iter().map(|g| g.count).sum()
    }
}
