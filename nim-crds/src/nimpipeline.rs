//! NIMPipeline: a set of NIMServices managed together (Go: `nimpipeline_types.go`).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Condition;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::nimservice::NIMServiceSpec;

/// Spec of a NIMPipeline.
#[derive(CustomResource, Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "apps.nvidia.com",
    version = "v1alpha1",
    kind = "NIMPipeline",
    plural = "nimpipelines",
    singular = "nimpipeline",
    namespaced,
    status = "NIMPipelineStatus",
    derive = "PartialEq",
    cel,
    doc = "NIMPipeline is the Schema for the nimpipelines API: NIMServices managed together.",
    printcolumn = r#"{"name":"Status","type":"string","jsonPath":".status.state"}"#,
    printcolumn = r#"{"name":"Age","type":"date","format":"date-time","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = crate::schema::normalize)]
pub struct NIMPipelineSpec {
    /// The services of the pipeline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services: Option<Vec<NIMServicePipelineSpec>>,
}

/// One NIMService of a pipeline, created as a NIMService named `name`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NIMServicePipelineSpec {
    /// Name of the NIMService.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Only services with `enabled: true` are created; unset counts as disabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// The NIMService spec.
    #[schemars(schema_with = "crate::schema::pipeline_service_spec")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<NIMServiceSpec>,
    /// Services this one depends on; `envName`/`envValue` are injected into its environment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dependencies: Option<Vec<ServiceDependency>>,
}

/// A dependency of a pipeline service.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceDependency {
    /// Name of the service depended on (informational).
    pub name: String,
    /// Its port (informational).
    pub port: i32,
    /// Environment variable to inject (with `envValue`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_name: Option<String>,
    /// Value of the variable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_value: Option<String>,
}

/// Observed state of a NIMPipeline.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = crate::schema::normalize)]
pub struct NIMPipelineStatus {
    /// Conditions (declared; the operator does not set them).
    #[schemars(schema_with = "crate::k8s_schema::conditions")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conditions: Option<Vec<Condition>>,
    /// `Ready` when every enabled service is, `Failed` when one is, else `NotReady`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// State of each service by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub states: Option<BTreeMap<String, String>>,
}
