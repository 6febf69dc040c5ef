//! NIMBuild: builds an optimized TensorRT-LLM engine from a cached buildable profile (Go:
//! `nimbuild_types.go`).

use std::collections::BTreeMap;

use k8s_openapi::{
    api::core::v1::{EnvVar, Toleration},
    apimachinery::pkg::{api::resource::Quantity, apis::meta::v1::Condition},
};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::common::{Image, NIMProfile};

/// Spec of a NIMBuild (immutable).
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[kube(
    group = "apps.nvidia.com",
    version = "v1alpha1",
    kind = "NIMBuild",
    plural = "nimbuilds",
    singular = "nimbuild",
    namespaced,
    status = "NIMBuildStatus",
    derive = "PartialEq",
    cel,
    doc = "NIMBuild is the Schema for the nimbuilds API: it builds a TensorRT-LLM engine.",
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.state"}"#,
    printcolumn = r#"{"name":"Age","type":"date","format":"date-time","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self == oldSelf").message("spec is immutable"))]
#[schemars(transform = crate::schema::normalize)]
pub struct NIMBuildSpec {
    /// The NIMCache with the buildable profile; the built profile is added to it.
    pub nim_cache: NIMCacheReference,
    /// Name of the built engine (the operator defaults it to the NIMBuild's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_name: Option<String>,
    /// Resources of the build pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<NIMBuildResources>,
    /// Tolerations of the build pod.
    #[schemars(schema_with = "crate::k8s_schema::tolerations")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerations: Option<Vec<Toleration>>,
    /// Node selector of the build pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<BTreeMap<String, String>>,
    /// Environment of the build pod.
    #[schemars(schema_with = "crate::k8s_schema::env_vars")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<EnvVar>>,
    /// Labels of the build pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
    /// Annotations of the build pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// The NIM image that builds the engine.
    pub image: Image,
}

/// The NIMCache a NIMBuild reads and the profile it builds from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NIMCacheReference {
    /// Name of the NIMCache.
    pub name: String,
    /// Buildable profile (needed when the cache has several).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

/// Resources of a NIMBuild pod: limits and requests, no claims.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NIMBuildResources {
    /// Limits, e.g. `nvidia.com/gpu: 1`.
    #[schemars(schema_with = "crate::schema::quantity_map")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<BTreeMap<String, Quantity>>,
    /// Requests.
    #[schemars(schema_with = "crate::schema::quantity_map")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<BTreeMap<String, Quantity>>,
}

/// Observed state of a NIMBuild.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = crate::schema::normalize)]
pub struct NIMBuildStatus {
    /// State, see [`NIMBuildState`](crate::NIMBuildState).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// The profile the engine was built from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_profile: Option<NIMProfile>,
    /// The built profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_profile: Option<NIMProfile>,
    /// Conditions.
    #[schemars(schema_with = "crate::k8s_schema::conditions")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<Condition>>,
}
