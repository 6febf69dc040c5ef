//! NIMCache PVC size, cold-start time, and the startup probe that covers it.
//!
//! * **PVC size.** A NIMCache stores the workspace of every selected profile (TensorRT-LLM
//!   engines per rank, or Hugging Face safetensors plus tokenizer for vLLM and buildable
//!   profiles), so the PVC holds their sum, plus metadata, plus headroom (reference §4.6:
//!   "PVC ≥ Σ(selected workspaces) × (1 + headroom ~20 %) + tokenizer/metadata").
//! * **Cold start.** `download = bytes / min(registry, network, PVC write)`,
//!   `load = bytes / PVC read`, plus the engine's own start (compilation, CUDA-graph
//!   capture; a buildable profile also builds its engine). A pod that finds its model in the
//!   NIMCache skips the download.
//! * **Startup probe.** The NIM Operator's default is 120 failures × 10 s = 20 minutes
//!   (`nim_crds::defaults::STARTUP_PROBE`). [`startup_probe`] never goes below it: a probe that
//!   kills a NIM while it still loads makes it restart forever, and the saving of a shorter
//!   probe is only a later restart of a truly hung pod.
//!
//! ```
//! use nim_sizing::storage::{StorageThroughput, cold_start, pvc_size, startup_probe};
//! use nim_sizing::units::{Bytes, Seconds};
//!
//! let weights = Bytes::from_gb(141.1); // Llama 3.1 70B in bf16
//! let pvc = pvc_size(&[weights], 0.2)?;
//! assert_eq!(pvc.quantity, "159Gi"); // (131.4 GiB + 1 GiB) x 1.2, rounded up
//!
//! let start = cold_start(weights, &StorageThroughput::default(), Seconds(90.0));
//! let probe = startup_probe(start.cached);
//! assert!(probe.failure_threshold >= 120 && probe.period_seconds == 10);
//! # Ok::<(), nim_sizing::Error>(())
//! ```

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::units::{Bytes, BytesPerSecond, GIB, Seconds};

/// Headroom added to the cached bytes by default (reference §4.6: "~20 %").
pub const DEFAULT_HEADROOM: f64 = 0.2;

/// Tokenizer, model config, NGC manifest and download metadata stored beside the weights.
pub const METADATA: Bytes = Bytes(GIB);

/// The operator's default startup probe: period (s) and failure threshold.
pub const OPERATOR_STARTUP_PERIOD_SECONDS: i32 = 10;
/// The operator's default startup-probe failure threshold.
pub const OPERATOR_STARTUP_FAILURE_THRESHOLD: i32 = 120;

/// The size of a NIMCache PVC and how it was reached.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PvcSize {
    /// The cached workspaces together.
    pub workspaces: Bytes,
    /// Tokenizer and metadata ([`METADATA`]).
    pub metadata: Bytes,
    /// The fraction added on top.
    pub headroom: f64,
    /// The size to request, rounded up to whole GiB.
    pub size: Bytes,
    /// `size` as a Kubernetes quantity (`160Gi`).
    pub quantity: String,
}

/// The PVC for a NIMCache holding workspaces of these sizes, with `headroom` (0 to 1) added.
///
/// # Errors
/// [`Error::Invalid`] for a headroom outside 0..=1 or no workspaces.
pub fn pvc_size(workspaces: &[Bytes], headroom: f64) -> Result<PvcSize> {
    if !(0.0..=1.0).contains(&headroom) {
        return Err(Error::invalid(
            "headroom",
            format!("{headroom} is not a fraction between 0 and 1"),
        ));
    }
    if workspaces.is_empty() {
        return Err(Error::invalid("workspaces", "no profile to cache"));
    }
    let cached: Bytes = workspaces.iter().copied().sum();
    let raw = (cached + METADATA).scale(1.0 + headroom);
    let gib = raw.get().div_ceil(GIB);
    Ok(PvcSize {
        workspaces: cached,
        metadata: METADATA,
        headroom,
        size: Bytes(gib * GIB),
        quantity: format!("{gib}Gi"),
    })
}

/// Throughputs on the way from the registry to GPU memory.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct StorageThroughput {
    /// What the registry (NGC, Hugging Face, a mirror) serves one client.
    pub registry: BytesPerSecond,
    /// The node's network.
    pub network: BytesPerSecond,
    /// Writing to the PVC.
    pub pvc_write: BytesPerSecond,
    /// Reading the PVC while the engine loads.
    pub pvc_read: BytesPerSecond,
}

impl Default for StorageThroughput {
    /// Conservative figures for a cloud cluster: registry 0.3 GB/s to one client; a 10 Gbit/s
    /// network (1.25 GB/s); a network-attached PVC writing 0.5 GB/s and reading 1.1 GB/s (the
    /// loading rate the llm-d accuracy report measured, reference §4.6).
    fn default() -> Self {
        Self {
            registry: BytesPerSecond::from_gb_per_s(0.3),
            network: BytesPerSecond::from_gb_per_s(1.25),
            pvc_write: BytesPerSecond::from_gb_per_s(0.5),
            pvc_read: BytesPerSecond::from_gb_per_s(1.1),
        }
    }
}

/// How long a NIM takes to start.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ColdStart {
    /// Downloading into the cache, at the slowest of registry, network and PVC write.
    pub download: Seconds,
    /// Reading the weights from the PVC into GPU memory.
    pub load: Seconds,
    /// The engine's own start (compilation, CUDA graphs, engine build).
    pub engine_init: Seconds,
    /// A start that must download first: download + load + engine start.
    pub first: Seconds,
    /// A start from a filled NIMCache: load + engine start.
    pub cached: Seconds,
}

/// The start-up time of a NIM that loads `bytes`, with `engine_init` for its engine (about a
/// minute for vLLM with `torch.compile` and CUDA-graph capture on a 70B model; add the engine
/// build for a buildable profile).
pub fn cold_start(bytes: Bytes, throughput: &StorageThroughput, engine_init: Seconds) -> ColdStart {
    let slowest = [
        throughput.registry,
        throughput.network,
        throughput.pvc_write,
    ]
    .into_iter()
    .fold(
        BytesPerSecond(f64::INFINITY),
        |a, b| if b.0 < a.0 { b } else { a },
    );
    let download = slowest.time_for(bytes);
    let load = throughput.pvc_read.time_for(bytes);
    ColdStart {
        download,
        load,
        engine_init,
        first: Seconds(download.0 + load.0 + engine_init.0),
        cached: Seconds(load.0 + engine_init.0),
    }
}

/// Startup-probe settings for a NIM expected to start within some time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StartupProbe {
    /// `periodSeconds`.
    pub period_seconds: i32,
    /// `failureThreshold`.
    pub failure_threshold: i32,
    /// How long the probe waits in all: period × threshold.
    pub covers: Seconds,
    /// Why these values.
    pub reason: String,
}

/// The probe that covers `expected` with 50 % margin, never below the operator's default of
/// 120 × 10 s (see the module docs for why).
pub fn startup_probe(expected: Seconds) -> StartupProbe {
    let period = OPERATOR_STARTUP_PERIOD_SECONDS;
    let default_covers = f64::from(period * OPERATOR_STARTUP_FAILURE_THRESHOLD);
    let wanted = expected.0.max(0.0) * 1.5;
    if wanted <= default_covers {
        return StartupProbe {
            period_seconds: period,
            failure_threshold: OPERATOR_STARTUP_FAILURE_THRESHOLD,
            covers: Seconds(default_covers),
            reason: format!(
                "the operator default (120 x 10 s = {}) covers the expected {} with margin; \
                 it is kept rather than shortened, because a probe that fires while the model \
                 still loads restarts the NIM forever",
                Seconds(default_covers),
                expected
            ),
        };
    }
    let threshold = (wanted / f64::from(period)).ceil().min(f64::from(i32::MAX)) as i32;
    StartupProbe {
        period_seconds: period,
        failure_threshold: threshold,
        covers: Seconds(f64::from(threshold) * f64::from(period)),
        reason: format!(
            "the expected start of {expected} plus 50 % margin exceeds the operator default of \
             120 x 10 s, so the threshold is raised to {threshold}"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pvc_adds_metadata_and_headroom_and_rounds_up() {
        let pvc = pvc_size(&[Bytes::from_gib(15.0)], 0.2).expect("valid");
        // (15 + 1) GiB * 1.2 = 19.2 GiB -> 20Gi
        assert_eq!(pvc.quantity, "20Gi");
        assert_eq!(pvc.size, Bytes::from_gib(20.0));
        let two = pvc_size(&[Bytes::from_gib(15.0), Bytes::from_gib(8.0)], 0.0).expect("valid");
        assert_eq!(two.quantity, "24Gi");
    }

    #[test]
    fn pvc_rejects_bad_input() {
        assert!(
            matches!(pvc_size(&[Bytes::from_gib(1.0)], 1.5), Err(Error::Invalid { field, .. }) if field == "headroom")
        );
        assert!(pvc_size(&[], 0.2).is_err());
        assert!(pvc_size(&[Bytes::from_gib(1.0)], f64::NAN).is_err());
    }

    #[test]
    fn cold_start_uses_the_slowest_link() {
        let throughput = StorageThroughput {
            registry: BytesPerSecond::from_gb_per_s(1.0),
            network: BytesPerSecond::from_gb_per_s(0.1),
            pvc_write: BytesPerSecond::from_gb_per_s(2.0),
            pvc_read: BytesPerSecond::from_gb_per_s(2.0),
        };
        let start = cold_start(Bytes::from_gb(10.0), &throughput, Seconds(60.0));
        assert!((start.download.0 - 100.0).abs() < 1e-9);
        assert!((start.load.0 - 5.0).abs() < 1e-9);
        assert!((start.first.0 - 165.0).abs() < 1e-9);
        assert!((start.cached.0 - 65.0).abs() < 1e-9);
    }

    #[test]
    fn probe_never_below_the_operator_default() {
        let quick = startup_probe(Seconds(30.0));
        assert_eq!((quick.period_seconds, quick.failure_threshold), (10, 120));
        assert!(quick.reason.contains("operator default"));
        let slow = startup_probe(Seconds(1800.0));
        assert_eq!(slow.failure_threshold, 270);
        assert!(slow.covers.0 >= 1800.0 * 1.5);
        assert_eq!(startup_probe(Seconds(-5.0)).failure_threshold, 120);
    }
}
