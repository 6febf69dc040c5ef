//! `POST /v1/completions` (legacy text completions).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::common::{FinishReason, Stop, StreamOptions, Usage, finish_reason};
use super::nvext::NvExt;

/// A prompt: one text or several.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Prompt {
    /// One prompt.
    One(String),
    /// Several prompts.
    Many(Vec<String>),
}

/// A text completion request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CompletionRequest {
    /// Model.
    pub model: String,
    /// Prompt.
    pub prompt: Prompt,
    /// Token limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// Nucleus mass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f32>,
    /// Choices per prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u32>,
    /// Stop sequences.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Stop>,
    /// Seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    /// Echo the prompt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub echo: Option<bool>,
    /// Number of top log probabilities per token (an integer here, unlike chat).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<u32>,
    /// Set by the client for streams.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// Stream options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
    /// NIM extensions.
    #[serde(flatten)]
    pub nim: NvExt,
    /// Any other field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl CompletionRequest {
    /// A request for `model` with one prompt.
    pub fn new(model: impl Into<String>, prompt: impl Into<String>) -> Self {
        CompletionRequest {
            model: model.into(),
            prompt: Prompt::One(prompt.into()),
            max_tokens: None,
            temperature: None,
            top_p: None,
            n: None,
            stop: None,
            seed: None,
            echo: None,
            logprobs: None,
            stream: None,
            stream_options: None,
            nim: NvExt::default(),
            extra: Map::new(),
        }
    }

    /// Sets `max_tokens`.
    #[must_use]
    pub fn max_tokens(mut self, n: u32) -> Self {
        self.max_tokens = Some(n);
        self
    }
}

/// A text completion, or one chunk of a streamed one.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Completion {
    /// Id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `text_completion`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    /// Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<i64>,
    /// Model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Choices; may be empty.
    #[serde(default)]
    pub choices: Vec<CompletionChoice>,
    /// Token counts, when sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One choice of a text completion.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CompletionChoice {
    /// Position.
    #[serde(default)]
    pub index: u32,
    /// Text (a piece of it in a stream).
    #[serde(default)]
    pub text: String,
    /// Why it stopped.
    #[serde(
        default,
        deserialize_with = "finish_reason",
        skip_serializing_if = "Option::is_none"
    )]
    pub finish_reason: Option<FinishReason>,
    /// Legacy log probabilities, as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<Value>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
