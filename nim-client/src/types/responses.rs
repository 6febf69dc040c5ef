//! `POST /v1/responses` (the OpenAI Responses API; experimental in NIM 1.x).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::nvext::NvExt;

/// A Responses API request; items beyond the common fields go in `extra`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ResponseRequest {
    /// Model.
    pub model: String,
    /// A string, or a list of input items.
    pub input: Value,
    /// System instructions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// Token limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u32>,
    /// Temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// Nucleus mass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f32>,
    /// Tools, as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Value>>,
    /// NIM extensions.
    #[serde(flatten)]
    pub nim: NvExt,
    /// Any other field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ResponseRequest {
    /// A request for `model` with a text input.
    pub fn new(model: impl Into<String>, input: impl Into<String>) -> Self {
        ResponseRequest {
            model: model.into(),
            input: Value::String(input.into()),
            instructions: None,
            max_output_tokens: None,
            temperature: None,
            top_p: None,
            tools: None,
            nim: NvExt::default(),
            extra: Map::new(),
        }
    }
}

/// A Responses API response; output items are kept as JSON.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Response {
    /// Id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `response`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    /// Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<i64>,
    /// Model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// `completed`, `incomplete`, `failed`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Output items (`message`, `function_call`, `reasoning`, ...).
    #[serde(default)]
    pub output: Vec<Value>,
    /// Token counts (`input_tokens`, `output_tokens`, ...), as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Value>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Response {
    /// The `output_text` parts of all message items, joined.
    pub fn output_text(&self) -> String {
        self.output
            .iter()
            .filter(|item| item.get("type").and_then(Value::as_str) == Some("message"))
            .filter_map(|item| item.get("content").and_then(Value::as_array))
            .flatten()
            .filter(|part| part.get("type").and_then(Value::as_str) == Some("output_text"))
            .filter_map(|part| part.get("text").and_then(Value::as_str))
            .collect()
    }
}
