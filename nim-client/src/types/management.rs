//! Models, health, metadata and version.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `GET /v1/models`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ModelList {
    /// `list`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    /// The models.
    #[serde(default)]
    pub data: Vec<Model>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One served model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Model {
    /// The name to put in requests.
    pub id: String,
    /// `model`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    /// Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<i64>,
    /// Owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owned_by: Option<String>,
    /// Other fields (`max_model_len`, `root`, `permission`, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The answer of a health endpoint. Only the status is load-bearing; the body is informational.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Health {
    /// Whether the status was 2xx.
    pub ok: bool,
    /// HTTP status.
    pub status: u16,
    /// The body, as text.
    pub body: String,
}

/// `GET /v1/version`, e.g. `{"release": "1.0.0", "api": "3.1.0"}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Version {
    /// NIM release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    /// API version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api: Option<String>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `GET /v1/metadata`: deployment metadata, loosely typed (fields differ between NIMs).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Metadata {
    /// NIM version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The active profile id.
    #[serde(
        default,
        rename = "selectedModelProfileId",
        skip_serializing_if = "Option::is_none"
    )]
    pub selected_model_profile_id: Option<String>,
    /// Model information items.
    #[serde(default, rename = "modelInfo", skip_serializing_if = "Option::is_none")]
    pub model_info: Option<Vec<Value>>,
    /// Other fields (`assetInfo`, `licenseInfo`, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
