//! Dynamic Resource Allocation for NIMService (Go: `dra_types.go`).

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::schema::DNS_SUBDOMAIN_PATTERN;

/// A DRA claim of a NIMService: exactly one of an existing claim, an existing claim template,
/// or a claim template the operator creates.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("(has(self.resourceClaimName) ? 1 : 0) + (has(self.resourceClaimTemplateName) ? 1 : 0) + (has(self.claimCreationSpec) ? 1 : 0) == 1").message("exactly one of spec.resourceClaimName, spec.resourceClaimTemplateName, or spec.claimCreationSpec must be set."))]
pub struct DRAResource {
    /// An existing ResourceClaim (not with more than one replica).
    #[schemars(length(min = 1, max = 253), regex(pattern = DNS_SUBDOMAIN_PATTERN))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_claim_name: Option<String>,
    /// An existing ResourceClaimTemplate.
    #[schemars(length(min = 1, max = 253), regex(pattern = DNS_SUBDOMAIN_PATTERN))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_claim_template_name: Option<String>,
    /// A ResourceClaimTemplate for the operator to create.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim_creation_spec: Option<DRAClaimCreationSpec>,
    /// Requests of the claim the container uses (all when empty).
    #[schemars(inner(length(min = 1)))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<Vec<String>>,
}

/// A ResourceClaimTemplate the operator creates.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DRAClaimCreationSpec {
    /// Name prefix of the template (the operator defaults it to `claimtemplate`).
    #[schemars(length(min = 1, max = 16))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generate_name: Option<String>,
    /// Devices to request.
    pub devices: Vec<DRADeviceSpec>,
}

/// A device request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("(has(self.celExpressions) && !(has(self.attributeSelectors) || has(self.capacitySelectors))) || !has(self.celExpressions)").message("celExpressions must not be set if attributeSelectors or capacitySelectors are set"))]
#[schemars(transform = |s: &mut schemars::Schema| crate::schema::require(s, &["count", "deviceClassName"]))]
pub struct DRADeviceSpec {
    /// Request name (a DNS label).
    #[schemars(length(min = 1, max = 253), regex(pattern = DNS_SUBDOMAIN_PATTERN))]
    pub name: String,
    /// Number of devices (defaults to 1).
    #[serde(default = "default_device_count")]
    #[schemars(with = "i32", extend("default" = 1))]
    pub count: u32,
    /// Device class (defaults to `gpu.nvidia.com`).
    #[serde(default = "default_gpu_class")]
    #[schemars(extend("default" = "gpu.nvidia.com"))]
    pub device_class_name: String,
    /// DRA driver (defaults to `gpu.nvidia.com`).
    #[schemars(extend("default" = "gpu.nvidia.com"), length(max = 253), regex(pattern = DNS_SUBDOMAIN_PATTERN))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver_name: Option<String>,
    /// Selectors on device attributes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribute_selectors: Option<Vec<DRADeviceAttributeSelector>>,
    /// Selectors on device capacities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity_selectors: Option<Vec<DRAResourceQuantitySelector>>,
    /// Raw CEL selectors (exclude attribute and capacity selectors).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cel_expressions: Option<Vec<String>>,
}

impl Default for DRADeviceSpec {
    fn default() -> Self {
        Self {
            name: String::new(),
            count: default_device_count(),
            device_class_name: default_gpu_class(),
            driver_name: None,
            attribute_selectors: None,
            capacity_selectors: None,
            cel_expressions: None,
        }
    }
}

fn default_device_count() -> u32 {
    1
}

fn default_gpu_class() -> String {
    crate::defaults::DRA_GPU_DEVICE_CLASS.to_owned()
}

/// Comparison operator of a DRA selector.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum DRAResourceSelectorOp {
    /// `==`.
    #[default]
    Equal,
    /// `!=`.
    NotEqual,
    /// `>`.
    GreaterThan,
    /// `>=`.
    GreaterThanOrEqual,
    /// `<`.
    LessThan,
    /// `<=`.
    LessThanOrEqual,
}

/// A selector on a device attribute.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = |s: &mut schemars::Schema| crate::schema::require(s, &["op"]))]
pub struct DRADeviceAttributeSelector {
    /// Attribute name (qualified with the driver name by the operator).
    #[schemars(length(max = 64))]
    pub key: String,
    /// Operator (defaults to `Equal`).
    #[serde(default)]
    #[schemars(extend("default" = "Equal"))]
    pub op: DRAResourceSelectorOp,
    /// Value to compare with (exactly one member set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<DRADeviceAttributeSelectorValue>,
}

/// The value of an attribute selector.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DRADeviceAttributeSelectorValue {
    /// A boolean.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bool_value: Option<bool>,
    /// An integer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub int_value: Option<i32>,
    /// A string.
    #[schemars(length(max = 64))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string_value: Option<String>,
    /// A semantic version.
    #[schemars(length(max = 64))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_value: Option<String>,
}

/// A selector on a device capacity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = |s: &mut schemars::Schema| crate::schema::require(s, &["op"]))]
pub struct DRAResourceQuantitySelector {
    /// Capacity name.
    #[schemars(length(max = 64))]
    pub key: String,
    /// Operator (defaults to `Equal`).
    #[serde(default)]
    #[schemars(extend("default" = "Equal"))]
    pub op: DRAResourceSelectorOp,
    /// Quantity to compare with.
    #[schemars(schema_with = "crate::schema::quantity")]
    pub value: Quantity,
}

/// State of one DRA claim of a NIMService.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.resourceClaimStatus) != has(self.resourceClaimTemplateStatus)").message("exactly one of resourceClaimStatus and resourceClaimTemplateStatus must be set."))]
pub struct DRAResourceStatus {
    /// Name of the pod claim.
    pub name: String,
    /// State of a ResourceClaim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_claim_status: Option<DRAResourceClaimStatusInfo>,
    /// State of a ResourceClaimTemplate and its claims.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_claim_template_status: Option<DRAResourceClaimTemplateStatusInfo>,
}

/// State of a ResourceClaim.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DRAResourceClaimStatusInfo {
    /// Claim name.
    pub name: String,
    /// Free-form state: pending, deleted, allocated, reserved.
    pub state: String,
}

/// State of a ResourceClaimTemplate.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DRAResourceClaimTemplateStatusInfo {
    /// Template name.
    pub name: String,
    /// Claims created from the template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_claim_statuses: Option<Vec<DRAResourceClaimStatusInfo>>,
}
