//! The GPUs of this machine, through NVML (the library behind `nvidia-smi`).
//!
//! [`detect`] exists whether or not the crate is built with the cargo feature `nvml`; without
//! it, it returns [`Error::Nvml`] saying so. With it, it looks for the NVML library
//! ([`LIBRARY`], installed with the NVIDIA driver) before touching it, so a machine without a
//! driver gets an error rather than a failed load or a panic:
//!
//! ```
//! use nim_profiles::{Error, nvml};
//!
//! match nvml::detect() {
//!     Ok(inventory) => println!("this machine has {inventory}"),
//!     Err(Error::Nvml(reason)) => println!("no GPU inventory: {reason}"),
//!     Err(other) => println!("{other}"),
//! }
//! ```
//!
//! Detection reads, for each GPU: its name and PCI id (found in `nim-sizing`'s catalog as
//! [`Inventory::from_nvidia_smi_csv`] does), its memory (free memory as the
//! [inventory docs](crate::inventory) say), whether it is a vGPU (NVML's virtualization mode),
//! and, between each pair of GPUs, whether NVLink peer-to-peer is available, which sets
//! [`GpuGroup::nvlink`](crate::GpuGroup::nvlink) as [`Inventory::apply_topology`] does. A GPU
//! with MIG enabled is an error: the NVML wrapper used cannot list MIG devices, so describe
//! them with [`Inventory::parse`] (`7xA100:mig=1g.10gb`).

use crate::error::{Error, Result};
use crate::inventory::Inventory;

/// The NVML library [`detect`] loads.
pub const LIBRARY: &str = "libnvidia-ml.so.1";

/// The error when the NVML library is not found.
#[cfg(feature = "nvml")]
fn not_found() -> Error {
    Error::Nvml(format!(
        "NVML library {LIBRARY} not found: no NVIDIA driver on this machine"
    ))
}

/// The GPUs of this machine, from NVML, with the built-in catalog.
///
/// Errors are [`Error::Nvml`]: built without the `nvml` feature, no NVML library (no
/// driver), the driver not loaded, no GPU, a GPU with MIG enabled, or a GPU the catalog does
/// not know. Never panics.
pub fn detect() -> Result<Inventory> {
    imp::detect()
}

/// Whether the NVML library can be found where the dynamic loader looks: the directories of
/// `LD_LIBRARY_PATH`, the loader cache (`/etc/ld.so.cache`) and the usual library
/// directories (including `/usr/local/nvidia/lib64` of GPU containers and `/usr/lib/wsl/lib`
/// of WSL). On other systems than Linux, `true` (the loader is left to decide).
pub fn library_present() -> bool {
    #[cfg(target_os = "linux")]
    {
        use std::path::Path;

        let in_dir = |dir: &Path| dir.join(LIBRARY).exists();
        if let Some(paths) = std::env::var_os("LD_LIBRARY_PATH")
            && std::env::split_paths(&paths).any(|dir| in_dir(&dir))
        {
            return true;
        }
        if let Ok(cache) = std::fs::read("/etc/ld.so.cache")
            && cache
                .windows(LIBRARY.len())
                .any(|w| w == LIBRARY.as_bytes())
        {
            return true;
        }
        [
            "/usr/lib/x86_64-linux-gnu",
            "/usr/lib/aarch64-linux-gnu",
            "/usr/lib64",
            "/usr/lib",
            "/lib64",
            "/lib",
            "/usr/local/nvidia/lib64",
            "/usr/local/nvidia/lib",
            "/usr/lib/wsl/lib",
        ]
        .iter()
        .any(|dir| in_dir(Path::new(dir)))
    }
    #[cfg(not(target_os = "linux"))]
    {
        true
    }
}

#[cfg(not(feature = "nvml"))]
mod imp {
    use super::{Error, Inventory, Result};

    pub(super) fn detect() -> Result<Inventory> {
        Err(Error::Nvml("built without the `nvml` feature".to_owned()))
    }
}

#[cfg(feature = "nvml")]
mod imp {
    use std::panic::{AssertUnwindSafe, catch_unwind};

    use nim_sizing::Bytes;
    use nvml_wrapper::Nvml;
    use nvml_wrapper::enum_wrappers::device::{
        GpuVirtualizationMode, P2pCapabilitiesIndex, P2pStatus,
    };
    use nvml_wrapper::error::NvmlError;

    use super::{Error, Inventory, Result, library_present, not_found};
    use crate::inventory::{Observation, apply_links, free_memory, group_observations, identify};

    fn nvml_error(context: &str, e: NvmlError) -> Error {
        match e {
            NvmlError::LibloadingError(_) => not_found(),
            NvmlError::DriverNotLoaded => Error::Nvml("the NVIDIA driver is not loaded".to_owned()),
            NvmlError::NoPermission => Error::Nvml(format!(
                "{context}: no permission to talk to the NVIDIA driver"
            )),
            other => Error::Nvml(format!("{context}: {other}")),
        }
    }

    pub(super) fn detect() -> Result<Inventory> {
        if !library_present() {
            return Err(not_found());
        }
        // NVML is foreign code behind a third-party wrapper: a panic there must not reach the
        // caller.
        catch_unwind(AssertUnwindSafe(detect_loaded)).unwrap_or_else(|_| {
            Err(Error::Nvml(
                "NVML detection failed unexpectedly (a panic in the NVML wrapper)".to_owned(),
            ))
        })
    }

    fn detect_loaded() -> Result<Inventory> {
        let nvml = Nvml::init().map_err(|e| nvml_error("initializing NVML", e))?;
        let count = nvml
            .device_count()
            .map_err(|e| nvml_error("counting GPUs", e))?;
        if count == 0 {
            return Err(Error::Nvml("NVML found no NVIDIA GPU".to_owned()));
        }
        let catalog = nim_sizing::gpu::builtin();
        let mut devices = Vec::with_capacity(count as usize);
        let mut observations = Vec::with_capacity(count as usize);
        for index in 0..count {
            let context = format!("GPU {index}");
            let device = nvml
                .device_by_index(index)
                .map_err(|e| nvml_error(&context, e))?;
            let name = device.name().map_err(|e| nvml_error(&context, e))?;
            if device.mig_mode().is_ok_and(|mode| mode.current == 1) {
                return Err(Error::Nvml(format!(
                    "GPU {index} ({name}) has MIG enabled; NVML detection lists whole GPUs \
                     only, so describe its MIG slices instead (e.g. 7xA100:mig=1g.10gb)"
                )));
            }
            let pci = device
                .pci_info()
                .ok()
                .map(|info| format!("{:#010x}", info.pci_device_id));
            let (gpu, vgpu_name) = identify(catalog, Some(&name), pci.as_deref())
                .map_err(|m| Error::Nvml(format!("{context}: {m}")))?;
            let vgpu = vgpu_name
                || matches!(
                    device.virtualization_mode(),
                    Ok(GpuVirtualizationMode::Vgpu)
                );
            let memory = device.memory_info().ok();
            let free = free_memory(
                &gpu,
                memory.as_ref().map(|m| Bytes::new(m.total)),
                memory.as_ref().map(|m| Bytes::new(m.used)),
                memory.as_ref().map(|m| Bytes::new(m.free)),
            );
            observations.push(Observation {
                index,
                gpu,
                vgpu,
                free,
            });
            devices.push(device);
        }
        let mut groups = group_observations(observations);

        // NVLink peer-to-peer between every pair; left unknown if NVML cannot say.
        let n = devices.len();
        let mut linked = vec![vec![false; n]; n];
        let mut known = true;
        for (a, first) in devices.iter().enumerate() {
            for (b, second) in devices.iter().enumerate().skip(a + 1) {
                match first.p2p_status(second, P2pCapabilitiesIndex::NvLink) {
                    Ok(status) => {
                        let ok = status == P2pStatus::Ok;
                        linked[a][b] = ok;
                        linked[b][a] = ok;
                    }
                    Err(_) => known = false,
                }
            }
        }
        if known {
            let _ = apply_links(&mut groups, count, |a, b| {
                linked
                    .get(a as usize)
                    .and_then(|row| row.get(b as usize))
                    .copied()
                    .unwrap_or(false)
            });
        }
        Ok(Inventory { groups })
    }
}
