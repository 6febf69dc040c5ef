//! NIMService: a NIM deployed as a Deployment (or LeaderWorkerSet, or KServe
//! InferenceService) with its Service, routes, autoscaler and monitor (Go:
//! `nimservice_types.go`).

use std::collections::BTreeMap;

use k8s_openapi::{
    api::core::v1::{Affinity, EnvVar, PodAffinity, ResourceRequirements, Toleration},
    apimachinery::pkg::{api::resource::Quantity, apis::meta::v1::Condition},
};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{
    common::{
        Autoscaling, Expose, Image, Metrics, NIMContainerSpec, NIMProbe, PersistentVolumeClaim,
        ProxySpec,
    },
    dra::{DRAResource, DRAResourceStatus},
};

/// Message of the CEL rule that makes `spec.draResources` immutable.
pub(crate) const DRA_IMMUTABLE_MESSAGE: &str = "spec.draResources is immutable";

/// Spec of a NIMService.
///
/// The same spec appears inside a NIMPipeline. The `spec.draResources` immutability rule sits
/// on the NIMService root only; the pipeline's copy of the schema leaves it out.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[kube(
    group = "apps.nvidia.com",
    version = "v1alpha1",
    kind = "NIMService",
    plural = "nimservices",
    singular = "nimservice",
    namespaced,
    status = "NIMServiceStatus",
    derive = "PartialEq",
    cel,
    doc = "NIMService is the Schema for the nimservices API: a deployed NIM.",
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.state"}"#,
    printcolumn = r#"{"name":"Age","type":"date","format":"date-time","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("(has(self.draResources) && has(oldSelf.draResources) && self.draResources == oldSelf.draResources) || (!has(self.draResources) && !has(oldSelf.draResources))").message(DRA_IMMUTABLE_MESSAGE),
    validation = Rule::new("!(has(self.multiNode) && has(self.scale) && has(self.scale.enabled) && self.scale.enabled)").message("autoScaling must be nil or disabled when multiNode is set"),
    validation = Rule::new("!(has(self.scale) && has(self.scale.enabled) && self.scale.enabled && has(self.replicas))").message("spec.replicas cannot be set when spec.scale.enabled is true"),
    validation = Rule::new("!(has(self.expose) && has(self.expose.ingress) && has(self.expose.ingress.enabled) && self.expose.ingress.enabled && has(self.expose.router) && has(self.expose.router.ingress))").message(".spec.expose.ingress is deprecated, and will be removed in a future release. If .spec.expose.ingress is set, please do not set .spec.expose.router.ingress."),
)]
#[schemars(transform = crate::schema::normalize)]
pub struct NIMServiceSpec {
    /// The NIM image.
    pub image: Image,
    /// Entrypoint override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// Arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
    /// Environment; a user value wins over the operator's standard variables by name.
    #[schemars(schema_with = "crate::k8s_schema::env_vars")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<EnvVar>>,
    /// Secret with `NGC_API_KEY` (and optionally `HF_TOKEN`); optional since operator PR #910.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_secret: Option<String>,
    /// Where the model is: exactly one of a NIMCache, a PVC, an emptyDir or a hostPath.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<NIMServiceStorage>,
    /// Labels added to the owned objects (the operator's standard keys win).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// Annotations added to the owned objects (the operator's standard keys win).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Node selector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<BTreeMap<String, String>>,
    /// Tolerations.
    #[schemars(schema_with = "crate::k8s_schema::tolerations")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerations: Option<Vec<Toleration>>,
    /// Deprecated: use `affinity`.
    #[schemars(schema_with = "crate::k8s_schema::pod_affinity")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_affinity: Option<PodAffinity>,
    /// Affinity.
    #[schemars(schema_with = "crate::k8s_schema::affinity")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,
    /// Resources of the NIM container (`claims` is forbidden; use `draResources`).
    #[schemars(schema_with = "crate::k8s_schema::resource_requirements")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// Dynamic Resource Allocation claims (Kubernetes 1.34 or later); immutable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dra_resources: Option<Vec<DRAResource>>,
    /// Service, ingress and routes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expose: Option<Expose>,
    /// Liveness probe (default: `/v1/health/live`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness_probe: Option<NIMProbe>,
    /// Readiness probe (default: `/v1/health/ready`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness_probe: Option<NIMProbe>,
    /// Startup probe (default: `/v1/health/ready`, 120 x 10 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup_probe: Option<NIMProbe>,
    /// Autoscaling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<Autoscaling>,
    /// Scheduler name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler_name: Option<String>,
    /// Metrics and ServiceMonitor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<Metrics>,
    /// Replicas when not autoscaling (no default; excludes `scale.enabled`).
    #[schemars(range(min = 0))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// User id (the operator defaults it to 1000).
    #[serde(rename = "userID")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<i64>,
    /// Group id (the operator defaults it to 2000).
    #[serde(rename = "groupID")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<i64>,
    /// Runtime class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_class_name: Option<String>,
    /// Priority class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,
    /// Proxy settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<ProxySpec>,
    /// Multi-node deployment through a LeaderWorkerSet (immutable).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multi_node: Option<NimServiceMultiNodeConfig>,
    /// `standalone` (default) or `kserve`.
    #[schemars(extend("default" = "standalone"))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inference_platform: Option<InferencePlatform>,
    /// Init containers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_containers: Option<Vec<NIMContainerSpec>>,
    /// Sidecar containers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sidecar_containers: Option<Vec<NIMContainerSpec>>,
}

/// Where a NIMService finds its model.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NIMServiceStorage {
    /// A NIMCache (recommended).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nim_cache: Option<NIMCacheVolSpec>,
    /// A PVC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pvc: Option<PersistentVolumeClaim>,
    /// A host path (every node needs its own copy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_path: Option<String>,
    /// An emptyDir (the model is downloaded at every start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub empty_dir: Option<EmptyDirSpec>,
    /// Mount the model store read-only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read_only: Option<bool>,
    /// Size of `/dev/shm`.
    #[schemars(schema_with = "crate::schema::quantity")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_memory_size_limit: Option<Quantity>,
}

/// A NIMCache used by a NIMService, and the profile to run from it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NIMCacheVolSpec {
    /// Name of the NIMCache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Profile to run (sets `NIM_MODEL_PROFILE`); must be among the cache's profiles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

/// An emptyDir model store.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EmptyDirSpec {
    /// Size limit.
    #[schemars(schema_with = "crate::schema::quantity")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size_limit: Option<Quantity>,
}

/// Where a NIMService runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum InferencePlatform {
    /// A Deployment (or LeaderWorkerSet) managed by the operator.
    #[default]
    Standalone,
    /// A KServe InferenceService.
    Kserve,
}

/// Multi-node settings (LeaderWorkerSet).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!(has(self.mpi) && has(self.ray))").message("mpi and ray are mutually exclusive"))]
pub struct NimServiceMultiNodeConfig {
    /// Backend (`lws`, the default and only value).
    #[schemars(extend("default" = "lws"))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend_type: Option<MultiNodeBackendType>,
    /// Tensor and pipeline parallelism (required, may be empty).
    pub parallelism: ParallelismSpec,
    /// MPI launcher settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mpi: Option<MultiNodeMPI>,
    /// Ray launcher settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ray: Option<MultiNodeRay>,
    /// NVLink IMEX ComputeDomain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compute_domain: Option<ComputeDomain>,
}

/// Multi-node backend.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum MultiNodeBackendType {
    /// LeaderWorkerSet.
    #[default]
    #[serde(rename = "lws")]
    Lws,
}

/// Parallelism of a multi-node NIMService.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ParallelismSpec {
    /// Pipeline parallelism: the number of pods of a group.
    #[schemars(range(min = 1))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<i32>,
    /// Tensor parallelism: GPUs per pod.
    #[schemars(range(min = 1))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tensor: Option<i32>,
}

/// MPI launcher settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = |s: &mut schemars::Schema| crate::schema::require(s, &["mpiStartTimeout"]))]
pub struct MultiNodeMPI {
    /// Seconds to wait for MPI to start (defaults to 300).
    #[serde(default = "default_mpi_start_timeout")]
    #[schemars(schema_with = "crate::schema::plain_integer", extend("default" = 300))]
    pub mpi_start_timeout: i64,
}

impl Default for MultiNodeMPI {
    fn default() -> Self {
        Self {
            mpi_start_timeout: default_mpi_start_timeout(),
        }
    }
}

fn default_mpi_start_timeout() -> i64 {
    300
}

/// Ray launcher settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = |s: &mut schemars::Schema| crate::schema::require(s, &["rayPort"]))]
pub struct MultiNodeRay {
    /// Port of the Ray head (defaults to 6379).
    #[serde(default = "default_ray_port")]
    #[schemars(extend("default" = 6379), range(min = 1, max = 65535))]
    pub ray_port: i32,
}

impl Default for MultiNodeRay {
    fn default() -> Self {
        Self {
            ray_port: default_ray_port(),
        }
    }
}

fn default_ray_port() -> i32 {
    6379
}

/// A ComputeDomain for NVLink IMEX: created by the operator, or an existing one by name.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("(has(self.create) && self.create) ? !has(self.name) : (has(self.name) && size(self.name) > 0)").message("if create is true, name must not be set; otherwise name is required."))]
pub struct ComputeDomain {
    /// Create a ComputeDomain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create: Option<bool>,
    /// Name of an existing ComputeDomain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// Observed state of a NIMService.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = crate::schema::normalize)]
pub struct NIMServiceStatus {
    /// Conditions (types `Ready` and `Failed`).
    #[schemars(schema_with = "crate::k8s_schema::conditions")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<Condition>>,
    /// Available replicas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_replicas: Option<i32>,
    /// State, see [`NIMServiceState`](crate::NIMServiceState).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// The served model, from the NIM's `/v1/models` once ready.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelStatus>,
    /// State of the DRA claims.
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dra_resource_statuses: Option<Vec<DRAResourceStatus>>,
    /// State of the ComputeDomain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compute_domain_status: Option<ComputeDomainStatus>,
}

/// The model a ready NIMService serves.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModelStatus {
    /// Model name.
    pub name: String,
    /// In-cluster endpoint.
    pub cluster_endpoint: String,
    /// External endpoint.
    pub external_endpoint: String,
}

/// State of a ComputeDomain.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ComputeDomainStatus {
    /// Name of the ComputeDomain.
    pub name: String,
    /// Overall status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Per-node status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes: Option<Vec<ComputeDomainNodeStatus>>,
}

/// State of one node of a ComputeDomain.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ComputeDomainNodeStatus {
    /// Node name.
    pub name: String,
    /// NVLink clique id.
    #[serde(rename = "cliqueID")]
    pub clique_id: String,
    /// `Ready` or `NotReady` (default).
    #[schemars(extend("default" = "NotReady"))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ComputeDomainNodeState>,
}

/// Readiness of a ComputeDomain node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ComputeDomainNodeState {
    /// Ready.
    Ready,
    /// Not ready.
    #[default]
    NotReady,
}
