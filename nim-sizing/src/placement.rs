//! The smallest GPU configuration that serves a model at a context length and concurrency.
//!
//! Candidates are tried from the fewest GPUs up: one GPU; tensor parallelism within a node
//! (2, 4, 8); then several nodes (tensor parallelism over each whole node, one pipeline stage
//! per node: a LeaderWorkerSet, the NIMService `multiNode` mode). Each candidate is sized with [`Sizing`] and rejected with
//! its reason when:
//!
//! * the model cannot be split that way (attention or KV heads not divisible by TP);
//! * it runs under vGPU and needs peer-to-peer the GPU lacks: TP > 1 needs NVLink between the
//!   GPUs, and PCIe-only GPUs (L40S class) cannot run multi-GPU models at all under vGPU;
//! * the inventory does not have that many GPUs;
//! * the weights and one request of the context do not fit ([`MemoryPlan::fits`]);
//! * the KV cache holds fewer concurrent requests than the target.
//!
//! ```
//! use nim_sizing::{ModelCatalog, gpu, placement::PlacementRequest};
//!
//! let model = ModelCatalog::builtin().lookup("meta/llama-3.1-70b-instruct")?;
//! let request = PlacementRequest::new(model.arch.clone()).max_model_len(32_768).target_concurrency(12.0);
//! let placement = request.on_gpu(gpu::builtin().lookup("H100")?)?;
//! let chosen = placement.chosen.as_ref().expect("an H100 node serves it");
//! assert_eq!((chosen.tp, chosen.pp), (4, 1));
//! assert!(placement.candidates.iter().any(|c| c.tp == 2 && c.rejected.is_some()));
//! # Ok::<(), nim_sizing::Error>(())
//! ```

use serde::Serialize;

use crate::engine::EngineModel;
use crate::error::{Error, Result};
use crate::gpu::{GpuSpec, Interconnect};
use crate::memory::{MemoryPlan, Sizing};
use crate::model::ModelArch;
use crate::precision::{KvDtype, Precision};

/// GPUs of one type: `nodes` nodes of `gpus_per_node` each.
#[derive(Clone, Debug, PartialEq)]
pub struct NodePool {
    /// The GPU.
    pub gpu: GpuSpec,
    /// GPUs in one node.
    pub gpus_per_node: u32,
    /// Nodes available.
    pub nodes: u32,
}

/// What to place, and under which constraints.
#[derive(Clone, Debug)]
pub struct PlacementRequest {
    /// The model.
    pub model: ModelArch,
    /// Weight precision (`None`: the checkpoint's).
    pub precision: Option<Precision>,
    /// KV-cache dtype.
    pub kv_dtype: KvDtype,
    /// The engine.
    pub engine: EngineModel,
    /// Context length (`None`: the model's).
    pub max_model_len: Option<u64>,
    /// Requests of `max_model_len` one replica must hold at once.
    pub target_concurrency: f64,
    /// Whether the GPUs are virtual (vGPU).
    pub virtualized: bool,
    /// Nodes one replica may span (for [`PlacementRequest::on_gpu`]).
    pub max_nodes: u32,
}

impl PlacementRequest {
    /// One request at the model's full context, bare metal, up to 4 nodes, newest vLLM.
    pub fn new(model: ModelArch) -> Self {
        Self {
            model,
            precision: None,
            kv_dtype: KvDtype::Auto,
            engine: EngineModel::vllm(),
            max_model_len: None,
            target_concurrency: 1.0,
            virtualized: false,
            max_nodes: 4,
        }
    }

    /// Sets the weight precision.
    #[must_use]
    pub fn precision(mut self, precision: Precision) -> Self {
        self.precision = Some(precision);
        self
    }

    /// Sets the KV-cache dtype.
    #[must_use]
    pub fn kv_dtype(mut self, kv_dtype: KvDtype) -> Self {
        self.kv_dtype = kv_dtype;
        self
    }

    /// Sets the engine.
    #[must_use]
    pub fn engine(mut self, engine: EngineModel) -> Self {
        self.engine = engine;
        self
    }

    /// Sets the context length.
    #[must_use]
    pub fn max_model_len(mut self, tokens: u64) -> Self {
        self.max_model_len = Some(tokens);
        self
    }

    /// Sets the concurrency target.
    #[must_use]
    pub fn target_concurrency(mut self, requests: f64) -> Self {
        self.target_concurrency = requests;
        self
    }

    /// Marks the GPUs as virtual (vGPU).
    #[must_use]
    pub fn virtualized(mut self, virtualized: bool) -> Self {
        self.virtualized = virtualized;
        self
    }

    /// Sets how many nodes one replica may span.
    #[must_use]
    pub fn max_nodes(mut self, nodes: u32) -> Self {
        self.max_nodes = nodes;
        self
    }

    /// Places the model on nodes of 8 `gpu`s (an HGX board), up to
    /// [`PlacementRequest::max_nodes`] nodes. Other node shapes (GB200 trays of 4, PCIe servers
    /// of 2 or 4) go through [`PlacementRequest::on_inventory`].
    ///
    /// # Errors
    /// As [`PlacementRequest::on_inventory`].
    pub fn on_gpu(&self, gpu: &GpuSpec) -> Result<Placement> {
        self.on_inventory(&[NodePool {
            gpu: gpu.clone(),
            gpus_per_node: 8,
            nodes: self.max_nodes,
        }])
    }

    /// Places the model on the smallest configuration the inventory allows.
    ///
    /// # Errors
    /// [`Error::Invalid`] for an empty inventory, a pool without GPUs, a target concurrency
    /// that is not positive, or a context longer than the model's.
    pub fn on_inventory(&self, pools: &[NodePool]) -> Result<Placement> {
        if pools.is_empty() {
            return Err(Error::invalid("inventory", "no GPUs to place on"));
        }
        if self.target_concurrency.is_nan() || self.target_concurrency <= 0.0 {
            return Err(Error::invalid(
                "target_concurrency",
                format!(
                    "{} is not a positive number of requests",
                    self.target_concurrency
                ),
            ));
        }
        if let Some(pool) = pools.iter().find(|p| p.gpus_per_node == 0 || p.nodes == 0) {
            return Err(Error::invalid(
                "inventory",
                format!("the pool of {} has no GPUs", pool.gpu.id),
            ));
        }
        // (GPUs, nodes, pp, pool, tp): one node with TP 1, 2, 4, 8...; then one pipeline stage
        // per node, each node a whole-node TP group.
        let mut layouts = Vec::new();
        for (index, pool) in pools.iter().enumerate() {
            let per_node = u64::from(pool.gpus_per_node);
            let node_tp = 1u64 << (63 - per_node.leading_zeros());
            let mut tp = 1;
            while tp <= node_tp {
                layouts.push((tp, 1, 1, index, tp));
                tp *= 2;
            }
            for nodes in 2..=u64::from(pool.nodes).min(self.model.num_layers) {
                layouts.push((node_tp * nodes, nodes, nodes, index, node_tp));
            }
        }
        layouts.sort_unstable();
        layouts.dedup();

        let mut candidates = Vec::new();
        for (gpus, nodes, pp, index, tp) in layouts {
            let pool = &pools[index];
            let mut candidate = Candidate {
                gpu: pool.gpu.id.clone(),
                tp,
                pp,
                nodes,
                gpus,
                max_concurrency: None,
                rejected: None,
                notes: Vec::new(),
            };
            if nodes > u64::from(pool.nodes) {
                candidate.rejected = Some(format!(
                    "needs {nodes} nodes of {}; the inventory has {}",
                    pool.gpu.id, pool.nodes
                ));
            } else if let Some(reason) = self.vgpu_problem(&pool.gpu, tp, gpus) {
                candidate.rejected = Some(reason);
            } else {
                match self.sizing(&pool.gpu, tp, pp).plan() {
                    Err(Error::Invalid { field, message })
                        if field == "--tp" || field == "--pp" =>
                    {
                        candidate.rejected = Some(message);
                    }
                    Err(error) => return Err(error),
                    Ok(plan) => self.judge(&plan, &mut candidate),
                }
            }
            if nodes > 1 {
                candidate.notes.push(format!(
                    "{nodes} nodes: a LeaderWorkerSet (NIMService multiNode) with TP {tp} per node \
                     and PP {pp}"
                ));
            }
            let accepted = candidate.rejected.is_none();
            candidates.push(candidate);
            if accepted {
                let chosen = candidates.last().cloned();
                return Ok(Placement { chosen, candidates });
            }
        }
        Ok(Placement {
            chosen: None,
            candidates,
        })
    }

    fn sizing(&self, gpu: &GpuSpec, tp: u64, pp: u64) -> Sizing {
        let mut sizing = Sizing::new(self.model.clone(), gpu.clone())
            .tp(tp)
            .pp(pp)
            .kv_dtype(self.kv_dtype)
            .engine(self.engine.clone());
        sizing.precision = self.precision;
        sizing.max_model_len = self.max_model_len;
        sizing
    }

    fn vgpu_problem(&self, gpu: &GpuSpec, tp: u64, gpus: u64) -> Option<String> {
        if !self.virtualized || gpus == 1 {
            return None;
        }
        match gpu.interconnect {
            Interconnect::Pcie => Some(format!(
                "{} under vGPU cannot run a multi-GPU model: without NVLink there is no \
                 peer-to-peer between virtual GPUs",
                gpu.id
            )),
            Interconnect::NvLink { max_gpus, .. } if tp > u64::from(max_gpus) => Some(format!(
                "TP {tp} under vGPU needs NVLink between all {tp} GPUs; {}'s NVLink joins {max_gpus}",
                gpu.id
            )),
            Interconnect::NvLink { .. } => None,
        }
    }

    fn judge(&self, plan: &MemoryPlan, candidate: &mut Candidate) {
        candidate.max_concurrency = Some(plan.max_concurrency);
        if !plan.fits {
            let why = plan.reasons.first().cloned().unwrap_or_default();
            candidate.rejected = Some(match plan.shortfall_bytes {
                Some(short) => format!("does not fit ({short} short per GPU): {why}"),
                None => format!("does not fit: {why}"),
            });
        } else if plan.max_concurrency < self.target_concurrency {
            candidate.rejected = Some(format!(
                "holds {:.1} requests of {} tokens, below the target of {}",
                plan.max_concurrency, plan.max_model_len, self.target_concurrency
            ));
        }
        candidate.notes.extend(
            plan.reasons
                .iter()
                .filter(|r| r.contains("PCIe") || r.contains("W8A16"))
                .cloned(),
        );
    }
}

/// One configuration considered.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Candidate {
    /// The GPU's id.
    pub gpu: String,
    /// Tensor parallelism.
    pub tp: u64,
    /// Pipeline parallelism.
    pub pp: u64,
    /// Nodes spanned.
    pub nodes: u64,
    /// GPUs in all.
    pub gpus: u64,
    /// Requests of the context the KV cache holds, when it was sized.
    pub max_concurrency: Option<f64>,
    /// Why it was rejected; `None` for the chosen one.
    pub rejected: Option<String>,
    /// Remarks (multi-node, PCIe TP, weight-only FP8).
    pub notes: Vec<String>,
}

/// The outcome: the chosen configuration and every one considered before it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Placement {
    /// The smallest configuration that works, if any.
    pub chosen: Option<Candidate>,
    /// Every configuration tried, in order, the chosen one last.
    pub candidates: Vec<Candidate>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu;
    use crate::model::ModelCatalog;

    fn request(model: &str) -> PlacementRequest {
        PlacementRequest::new(
            ModelCatalog::builtin()
                .lookup(model)
                .expect("model")
                .arch
                .clone(),
        )
    }

    fn gpu(name: &str) -> GpuSpec {
        gpu::builtin().lookup(name).expect("gpu").clone()
    }

    #[test]
    fn small_model_takes_one_gpu() {
        let placement = request("meta/llama-3.1-8b-instruct")
            .max_model_len(8192)
            .on_gpu(&gpu("H100"))
            .expect("placement");
        let chosen = placement.chosen.expect("fits");
        assert_eq!((chosen.tp, chosen.pp, chosen.gpus), (1, 1, 1));
        assert_eq!(placement.candidates.len(), 1);
    }

    #[test]
    fn concurrency_target_pushes_to_more_gpus() {
        let low = request("meta/llama-3.1-8b-instruct")
            .max_model_len(32_768)
            .on_gpu(&gpu("L40S"))
            .expect("low");
        let high = request("meta/llama-3.1-8b-instruct")
            .max_model_len(32_768)
            .target_concurrency(20.0)
            .on_gpu(&gpu("L40S"))
            .expect("high");
        let (low, high) = (low.chosen.expect("low"), high.chosen.expect("high"));
        assert!(high.gpus > low.gpus, "{low:?} {high:?}");
    }

    #[test]
    fn vgpu_blocks_multi_gpu_on_pcie_gpus() {
        let placement = request("meta/llama-3.1-70b-instruct")
            .max_model_len(8192)
            .virtualized(true)
            .on_gpu(&gpu("L40S"))
            .expect("placement");
        assert!(placement.chosen.is_none());
        assert!(placement.candidates.iter().filter(|c| c.gpus > 1).all(|c| {
            c.rejected
                .as_deref()
                .is_some_and(|r| r.contains("under vGPU cannot run a multi-GPU model"))
        }));
        // The same on bare metal runs with TP over PCIe, and says so.
        let bare = request("meta/llama-3.1-70b-instruct")
            .max_model_len(8192)
            .on_gpu(&gpu("L40S"))
            .expect("bare");
        let chosen = bare.chosen.expect("bare metal");
        assert!(
            chosen.tp >= 4 && chosen.notes.iter().any(|n| n.contains("PCIe")),
            "{chosen:?}"
        );
    }

    #[test]
    fn huge_model_goes_multi_node() {
        let placement = request("meta/llama-3.1-405b-instruct")
            .max_model_len(8192)
            .on_gpu(&gpu("H100"))
            .expect("placement");
        let chosen = placement.chosen.expect("two H100 nodes hold 405B in bf16");
        assert_eq!((chosen.tp, chosen.pp, chosen.nodes), (8, 2, 2));
        assert!(chosen.notes[0].contains("LeaderWorkerSet"));
        assert!(placement.candidates.iter().any(|c| {
            c.gpus == 8
                && c.rejected
                    .as_deref()
                    .is_some_and(|r| r.contains("does not fit"))
        }));
    }

    #[test]
    fn inventory_prefers_fewest_gpus_and_respects_counts() {
        let pools = [
            NodePool {
                gpu: gpu("L40S"),
                gpus_per_node: 4,
                nodes: 1,
            },
            NodePool {
                gpu: gpu("H200"),
                gpus_per_node: 8,
                nodes: 1,
            },
        ];
        let placement = request("meta/llama-3.1-70b-instruct")
            .max_model_len(8192)
            .on_inventory(&pools)
            .expect("placement");
        let chosen = placement.chosen.expect("fits");
        assert_eq!((chosen.gpu.as_str(), chosen.gpus), ("h200-sxm-141gb", 2));
        assert!(
            request("meta/llama-3.1-8b-instruct")
                .on_inventory(&[])
                .is_err()
        );
        assert!(
            request("meta/llama-3.1-8b-instruct")
                .target_concurrency(0.0)
                .on_gpu(&gpu("H100"))
                .is_err()
        );
    }

    #[test]
    fn unsplittable_tp_is_rejected_with_the_reason() {
        // Llama 3.2 3B has 24 attention heads: TP 16 cannot split them. A concurrency target
        // no smaller layout meets makes the search reach 16 GPUs.
        let pools = [NodePool {
            gpu: gpu("GB200"),
            gpus_per_node: 16,
            nodes: 1,
        }];
        let placement = request("meta/llama-3.2-3b-instruct")
            .max_model_len(131_072)
            .target_concurrency(200.0)
            .on_inventory(&pools)
            .expect("placement");
        assert!(
            placement.candidates.iter().any(|c| c.tp == 16
                && c.rejected
                    .as_deref()
                    .is_some_and(|r| r.contains("not divisible"))),
            "{placement:#?}"
        );
    }
}
