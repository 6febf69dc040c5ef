//! NIMCache: a Job downloads model weights and profiles into a PVC (Go: `nimcache_types.go`).

use std::collections::BTreeMap;

use k8s_openapi::{
    api::core::v1::{EnvVar, Toleration},
    apimachinery::pkg::{api::resource::Quantity, apis::meta::v1::Condition},
};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{CertConfig, NIMContainerSpec, NIMProfile, PersistentVolumeClaim, ProxySpec};

/// Spec of a NIMCache: where the model comes from and where it is stored.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "apps.nvidia.com",
    version = "v1alpha1",
    kind = "NIMCache",
    plural = "nimcaches",
    singular = "nimcache",
    namespaced,
    status = "NIMCacheStatus",
    derive = "PartialEq",
    cel,
    doc = "NIMCache is the Schema for the nimcaches API: it caches NIM model profiles in a PVC.",
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.state"}"#,
    printcolumn = r#"{"name":"PVC","type":"string","jsonPath":".status.pvc"}"#,
    printcolumn = r#"{"name":"Age","type":"date","format":"date-time","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = crate::schema::normalize)]
pub struct NIMCacheSpec {
    /// Where the model comes from: exactly one of NGC, NeMo Data Store or Hugging Face.
    pub source: NIMSource,
    /// Where the model is stored.
    pub storage: NIMCacheStorage,
    /// CPU and memory of the caching Job (used as both requests and limits).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<NIMCacheResources>,
    /// Tolerations of the caching Job.
    #[schemars(schema_with = "crate::k8s_schema::tolerations")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerations: Option<Vec<Toleration>>,
    /// Node selector of the caching Job (the operator defaults it to
    /// `feature.node.kubernetes.io/pci-10de.present: "true"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<BTreeMap<String, String>>,
    /// User id of the caching Job (the operator defaults it to 1000).
    #[serde(rename = "userID")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<i64>,
    /// Group id of the caching Job (the operator defaults it to 2000).
    #[serde(rename = "groupID")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<i64>,
    /// Deprecated: use `proxy.certConfigMap`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_config: Option<CertConfig>,
    /// Extra environment of the caching Job.
    #[schemars(schema_with = "crate::k8s_schema::env_vars")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<EnvVar>>,
    /// Runtime class of the caching Job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_class_name: Option<String>,
    /// Proxy settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<ProxySpec>,
    /// Init containers of the caching Job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init_containers: Option<Vec<NIMContainerSpec>>,
}

/// The source of a NIMCache: exactly one of `ngc`, `dataStore` and `hf`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("(has(self.ngc) ? 1 : 0) + (has(self.dataStore) ? 1 : 0) + (has(self.hf) ? 1 : 0) == 1").message("Exactly one of ngc, dataStore, or hf must be defined"))]
pub struct NIMSource {
    /// A NIM from NGC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ngc: Option<NGCSource>,
    /// A model or dataset in a NeMo Data Store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_store: Option<NemoDataStoreSource>,
    /// A model or dataset on a Hugging Face hub.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hf: Option<HuggingFaceHubSource>,
}

/// A NIM from NGC, downloaded by running the NIM image itself.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!(has(self.model) && has(self.modelEndpoint))").message("Only one of 'model' or 'modelEndpoint' can be specified"))]
pub struct NGCSource {
    /// Secret with the `NGC_API_KEY`.
    pub auth_secret: String,
    /// The NIM image that downloads the model (immutable).
    #[x_kube(validation = Rule::new("self == oldSelf").message("modelPuller is an immutable field. Please create a new NIMCache resource instead when you want to change this container."))]
    pub model_puller: String,
    /// Image pull secret for `modelPuller`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_secret: Option<String>,
    /// Which profiles to cache.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelSpec>,
    /// A "Universal NIM" model endpoint, e.g. `ngc://org/team/model:tag`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_endpoint: Option<String>,
}

/// Profile selectors of an NGC NIMCache.
///
/// Either explicit `profiles` (or `[all]`) or the other selectors, which the operator matches
/// against the tags of the NIM's model manifest.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ModelSpec {
    /// Profile ids to cache, or `["all"]`; excludes every other selector.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profiles: Option<Vec<String>>,
    /// Precision tag, e.g. `fp8`, `bf16`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precision: Option<String>,
    /// Engine, matched as a substring of `llm_engine`/`backend` (`tensorrt_llm`, `vllm`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub engine: Option<String>,
    /// Tensor parallelism, as a string (`"2"`), matched against the `tp` tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tensor_parallelism: Option<String>,
    /// `latency` or `throughput`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qos_profile: Option<String>,
    /// GPUs to select profiles for (auto-detected from node labels when empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpus: Option<Vec<GPUSpec>>,
    /// Select LoRA profiles (unset excludes them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lora: Option<bool>,
    /// Select buildable profiles (declared, not used by the operator's matcher).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buildable: Option<bool>,
}

/// A GPU to select profiles for.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GPUSpec {
    /// GPU product, e.g. `h100` or `NVIDIA-H100-80GB-HBM3`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// PCI device ids, e.g. `2330:10de`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ids: Option<Vec<String>>,
}

/// Fields shared by the Hugging Face and NeMo Data Store sources.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DSHFCommonFields {
    /// Model to download; exactly one of `modelName` and `datasetName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_name: Option<String>,
    /// Dataset to download; exactly one of `modelName` and `datasetName`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dataset_name: Option<String>,
    /// Secret with the hub token.
    #[schemars(length(min = 1))]
    pub auth_secret: String,
    /// Image that downloads the model.
    #[schemars(length(min = 1))]
    pub model_puller: String,
    /// Image pull secret for `modelPuller`.
    #[schemars(length(min = 1))]
    pub pull_secret: String,
    /// Revision (branch, tag or commit).
    #[schemars(length(min = 1))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
}

/// A model or dataset on a Hugging Face hub.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("(has(self.modelName) ? 1 : 0) + (has(self.datasetName) ? 1 : 0) == 1").message("Exactly one of modelName or datasetName must be defined"))]
pub struct HuggingFaceHubSource {
    /// Hub endpoint, e.g. `https://huggingface.co`.
    #[schemars(regex(pattern = r"^https?://.*$"))]
    pub endpoint: String,
    /// Namespace (organisation) of the model on the hub.
    #[schemars(length(min = 1))]
    pub namespace: String,
    /// Model, credentials and puller.
    #[serde(flatten)]
    pub common: DSHFCommonFields,
}

/// A model or dataset in a NeMo Data Store.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("(has(self.modelName) ? 1 : 0) + (has(self.datasetName) ? 1 : 0) == 1").message("Exactly one of modelName or datasetName must be defined"))]
#[schemars(transform = |s: &mut schemars::Schema| crate::schema::require(s, &["namespace"]))]
pub struct NemoDataStoreSource {
    /// Data Store endpoint, ending in `/v1/hf`.
    #[schemars(regex(pattern = r"^https?://.*/v1/hf/?$"))]
    pub endpoint: String,
    /// Namespace in the Data Store (defaults to `default`).
    #[serde(default = "default_datastore_namespace")]
    #[schemars(extend("default" = "default"))]
    pub namespace: String,
    /// Model, credentials and puller.
    #[serde(flatten)]
    pub common: DSHFCommonFields,
}

impl Default for NemoDataStoreSource {
    fn default() -> Self {
        Self {
            endpoint: String::new(),
            namespace: default_datastore_namespace(),
            common: DSHFCommonFields::default(),
        }
    }
}

fn default_datastore_namespace() -> String {
    "default".to_owned()
}

/// Storage of a NIMCache.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NIMCacheStorage {
    /// The PVC that holds the cache (required by the operator's webhook).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pvc: Option<PersistentVolumeClaim>,
    /// Deprecated: use `pvc`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_path: Option<String>,
}

/// CPU and memory of the caching Job: a NIMCache's own shape, not `ResourceRequirements`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NIMCacheResources {
    /// CPU, e.g. `4`.
    #[schemars(schema_with = "crate::schema::quantity")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<Quantity>,
    /// Memory, e.g. `16Gi`.
    #[schemars(schema_with = "crate::schema::quantity")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<Quantity>,
}

/// Observed state of a NIMCache.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = crate::schema::normalize)]
pub struct NIMCacheStatus {
    /// State, see [`NIMCacheState`](crate::NIMCacheState).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// `""` (manifest-based NIM), `model-free` or `native`.
    #[serde(rename = "type")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// Name of the PVC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pvc: Option<String>,
    /// The cached profiles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profiles: Option<Vec<NIMProfile>>,
    /// Conditions.
    #[schemars(schema_with = "crate::k8s_schema::conditions")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<Condition>>,
}
