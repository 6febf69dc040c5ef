//! `POST /v1/chat/completions`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::common::{FinishReason, Role, Stop, StreamOptions, Usage, finish_reason};
use super::nvext::NvExt;

/// A chat completion request. Build with [`ChatCompletionRequest::new`] and the setters, or
/// set the public fields; unset options are omitted from the body.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ChatCompletionRequest {
    /// The model name, as `/v1/models` lists it.
    pub model: String,
    /// The conversation.
    pub messages: Vec<ChatMessage>,
    /// Sampling temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// Nucleus sampling mass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f32>,
    /// Token limit of the reply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Token limit of the reply, newer OpenAI name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u32>,
    /// Number of choices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<u32>,
    /// Stop sequences.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Stop>,
    /// Random seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    /// Presence penalty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f32>,
    /// Frequency penalty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f32>,
    /// Return log probabilities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<bool>,
    /// Alternatives per token with their log probabilities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_logprobs: Option<u32>,
    /// Set by the client: true for [`crate::Client::chat_stream`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<bool>,
    /// Stream options (`include_usage`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
    /// Tools the model may call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    /// `"auto"`, `"none"`, `"required"` or a named tool.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<Value>,
    /// `{"type": "json_object"}`, `{"type": "json_schema", ...}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<Value>,
    /// End-user identifier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// NIM extensions (placed per [`crate::ExtensionPlacement`]).
    #[serde(flatten)]
    pub nim: NvExt,
    /// Any other field, sent as is.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ChatCompletionRequest {
    /// A request for `model` with these messages.
    pub fn new(model: impl Into<String>, messages: Vec<ChatMessage>) -> Self {
        ChatCompletionRequest {
            model: model.into(),
            messages,
            ..Default::default()
        }
    }

    /// Sets `max_tokens`.
    #[must_use]
    pub fn max_tokens(mut self, n: u32) -> Self {
        self.max_tokens = Some(n);
        self
    }

    /// Sets `temperature`.
    #[must_use]
    pub fn temperature(mut self, t: f32) -> Self {
        self.temperature = Some(t);
        self
    }

    /// Sets `stream_options.include_usage`.
    #[must_use]
    pub fn include_usage(mut self, include: bool) -> Self {
        self.stream_options = Some(StreamOptions {
            include_usage: Some(include),
            ..Default::default()
        });
        self
    }

    /// Sets the tools.
    #[must_use]
    pub fn tools(mut self, tools: Vec<Tool>) -> Self {
        self.tools = Some(tools);
        self
    }

    /// Sets the NIM extensions.
    #[must_use]
    pub fn nim(mut self, nim: NvExt) -> Self {
        self.nim = nim;
        self
    }

    /// Adds a free-form field.
    #[must_use]
    pub fn extra(mut self, key: impl Into<String>, value: Value) -> Self {
        self.extra.insert(key.into(), value);
        self
    }
}

/// A message's content: text, or a list of parts (text, images) kept as JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MessageContent {
    /// Plain text.
    Text(String),
    /// Content parts, e.g. `{"type": "text", "text": ...}`, `{"type": "image_url", ...}`.
    Parts(Vec<Value>),
}

/// One message of a conversation, in a request or a response.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ChatMessage {
    /// Who wrote it; `assistant` when a response omits it.
    #[serde(default = "assistant")]
    pub role: Role,
    /// The content; absent on some assistant messages with tool calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<MessageContent>,
    /// Author name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Tool calls made by the assistant.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCall>>,
    /// For a tool message: the call it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// Reasoning text of reasoning models (vLLM, DeepSeek-style servers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<String>,
    /// A refusal message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
    /// Other fields, kept.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn assistant() -> Role {
    Role::Assistant
}

impl ChatMessage {
    /// A message with this role and text.
    pub fn new(role: Role, text: impl Into<String>) -> Self {
        ChatMessage {
            role,
            content: Some(MessageContent::Text(text.into())),
            name: None,
            tool_calls: None,
            tool_call_id: None,
            reasoning_content: None,
            refusal: None,
            extra: Map::new(),
        }
    }

    /// A system message.
    pub fn system(text: impl Into<String>) -> Self {
        Self::new(Role::System, text)
    }

    /// A user message.
    pub fn user(text: impl Into<String>) -> Self {
        Self::new(Role::User, text)
    }

    /// An assistant message.
    pub fn assistant(text: impl Into<String>) -> Self {
        Self::new(Role::Assistant, text)
    }

    /// A tool result answering `tool_call_id`.
    pub fn tool(tool_call_id: impl Into<String>, text: impl Into<String>) -> Self {
        let mut m = Self::new(Role::Tool, text);
        m.tool_call_id = Some(tool_call_id.into());
        m
    }

    /// The text content (parts of type `text` joined), if any.
    pub fn text(&self) -> Option<String> {
        match &self.content {
            Some(MessageContent::Text(s)) => Some(s.clone()),
            Some(MessageContent::Parts(parts)) => Some(
                parts
                    .iter()
                    .filter_map(|p| p.get("text").and_then(Value::as_str))
                    .collect(),
            ),
            None => None,
        }
    }
}

/// A tool the model may call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    /// `"function"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The function.
    pub function: FunctionDefinition,
}

impl Tool {
    /// A function tool.
    pub fn function(
        name: impl Into<String>,
        description: impl Into<String>,
        parameters: Value,
    ) -> Self {
        Tool {
            kind: "function".to_owned(),
            function: FunctionDefinition {
                name: name.into(),
                description: Some(description.into()),
                parameters: Some(parameters),
            },
        }
    }
}

/// A function's name, description and JSON-schema parameters.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FunctionDefinition {
    /// Name.
    pub name: String,
    /// What it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// JSON schema of the arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters: Option<Value>,
}

/// A tool call in a message.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// Call id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `"function"` (or `"custom"`).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// The function and its arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<FunctionCall>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A function name and its arguments, a JSON string that may be invalid.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FunctionCall {
    /// Function name.
    #[serde(default)]
    pub name: String,
    /// Arguments as a JSON string.
    #[serde(default)]
    pub arguments: String,
}

/// A chat completion.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ChatCompletion {
    /// Id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `chat.completion`.
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
    pub choices: Vec<ChatChoice>,
    /// Token counts, when sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Other fields, kept.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ChatCompletion {
    /// The text of the first choice, if any.
    pub fn text(&self) -> Option<String> {
        self.choices.first().and_then(|c| c.message.text())
    }
}

/// One choice of a chat completion.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ChatChoice {
    /// Position.
    #[serde(default)]
    pub index: u32,
    /// The message.
    pub message: ChatMessage,
    /// Why it stopped.
    #[serde(
        default,
        deserialize_with = "finish_reason",
        skip_serializing_if = "Option::is_none"
    )]
    pub finish_reason: Option<FinishReason>,
    /// Log probabilities, as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<Value>,
    /// Other fields (`stop_reason`, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One streamed chunk of a chat completion.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ChatCompletionChunk {
    /// Id, the same on every chunk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `chat.completion.chunk`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    /// Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<i64>,
    /// Model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Choice deltas; empty on a usage-only chunk.
    #[serde(default)]
    pub choices: Vec<ChunkChoice>,
    /// Latest cumulative usage, when sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One choice's delta in a chunk.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ChunkChoice {
    /// Which choice.
    #[serde(default)]
    pub index: u32,
    /// What is new.
    #[serde(default)]
    pub delta: Delta,
    /// Set on the choice's last chunk.
    #[serde(
        default,
        deserialize_with = "finish_reason",
        skip_serializing_if = "Option::is_none"
    )]
    pub finish_reason: Option<FinishReason>,
    /// Log probabilities, as sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<Value>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// New content of a choice.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Delta {
    /// Role, usually on the first chunk only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    /// Text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Reasoning text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning_content: Option<String>,
    /// Refusal text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
    /// Tool-call fragments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_calls: Option<Vec<ToolCallChunk>>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A fragment of a tool call; only `index` is always present.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ToolCallChunk {
    /// Which tool call of the choice.
    #[serde(default)]
    pub index: u32,
    /// Id, on the first fragment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Type, on the first fragment.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Name and a piece of the arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub function: Option<FunctionCallChunk>,
}

/// A piece of a function call.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FunctionCallChunk {
    /// Name, on the first fragment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A piece of the arguments string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arguments: Option<String>,
}

/// Joins the chunks of a stream into one [`ChatCompletion`]: content and reasoning
/// concatenated per choice, tool calls joined by (choice index, tool-call index), usage the
/// latest value sent.
#[derive(Clone, Debug, Default)]
pub struct ChatAccumulator {
    head: ChatCompletion,
    choices: BTreeMap<u32, ChoiceState>,
}

#[derive(Clone, Debug, Default)]
struct ChoiceState {
    role: Option<Role>,
    content: Option<String>,
    reasoning: Option<String>,
    refusal: Option<String>,
    tool_calls: BTreeMap<u32, ToolCall>,
    finish_reason: Option<FinishReason>,
}

fn append(target: &mut Option<String>, piece: &Option<String>) {
    if let Some(p) = piece {
        target.get_or_insert_with(String::new).push_str(p);
    }
}

impl ChatAccumulator {
    /// An empty accumulator.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one chunk.
    pub fn push(&mut self, chunk: &ChatCompletionChunk) {
        if self.head.id.is_none() {
            self.head.id.clone_from(&chunk.id);
        }
        if self.head.created.is_none() {
            self.head.created = chunk.created;
        }
        if self.head.model.is_none() {
            self.head.model.clone_from(&chunk.model);
        }
        if chunk.usage.is_some() {
            self.head.usage.clone_from(&chunk.usage);
        }
        for choice in &chunk.choices {
            let state = self.choices.entry(choice.index).or_default();
            if let Some(role) = &choice.delta.role {
                state.role = Some(role.clone());
            }
            append(&mut state.content, &choice.delta.content);
            append(&mut state.reasoning, &choice.delta.reasoning_content);
            append(&mut state.refusal, &choice.delta.refusal);
            for fragment in choice.delta.tool_calls.iter().flatten() {
                let call = state.tool_calls.entry(fragment.index).or_default();
                if fragment.id.is_some() && call.id.is_none() {
                    call.id.clone_from(&fragment.id);
                }
                if fragment.kind.is_some() && call.kind.is_none() {
                    call.kind.clone_from(&fragment.kind);
                }
                if let Some(f) = &fragment.function {
                    let target = call.function.get_or_insert_with(FunctionCall::default);
                    if let Some(name) = &f.name {
                        target.name.push_str(name);
                    }
                    if let Some(args) = &f.arguments {
                        target.arguments.push_str(args);
                    }
                }
            }
            if choice.finish_reason.is_some() {
                state.finish_reason.clone_from(&choice.finish_reason);
            }
        }
    }

    /// The completion so far.
    pub fn finish(self) -> ChatCompletion {
        let mut out = self.head;
        out.object = Some("chat.completion".to_owned());
        out.choices = self
            .choices
            .into_iter()
            .map(|(index, s)| {
                let tool_calls: Vec<ToolCall> = s.tool_calls.into_values().collect();
                ChatChoice {
                    index,
                    message: ChatMessage {
                        role: s.role.unwrap_or(Role::Assistant),
                        content: s.content.map(MessageContent::Text),
                        name: None,
                        tool_calls: (!tool_calls.is_empty()).then_some(tool_calls),
                        tool_call_id: None,
                        reasoning_content: s.reasoning,
                        refusal: s.refusal,
                        extra: Map::new(),
                    },
                    finish_reason: s.finish_reason,
                    logprobs: None,
                    extra: Map::new(),
                }
            })
            .collect();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unset_options_are_omitted_and_extensions_top_level() {
        let req = ChatCompletionRequest::new("m", vec![ChatMessage::user("hi")])
            .nim(NvExt::default().top_k(5))
            .extra("priority", json!(3));
        let v = serde_json::to_value(&req).unwrap();
        assert_eq!(
            v,
            json!({"model":"m","messages":[{"role":"user","content":"hi"}],"top_k":5,"priority":3})
        );
    }

    #[test]
    fn tolerant_response() {
        let c: ChatCompletion = serde_json::from_value(json!({
            "choices":[{"index":0,"message":{"content":"x","weird":1},"finish_reason":"eos","stop_reason":7}],
            "nvext":{"worker_id":3}
        }))
        .unwrap();
        assert_eq!(
            c.choices[0].finish_reason,
            Some(FinishReason::Other("eos".into()))
        );
        assert_eq!(c.choices[0].message.role, Role::Assistant);
        assert!(c.usage.is_none());
        assert!(c.extra.contains_key("nvext"));
        assert_eq!(c.choices[0].message.extra["weird"], json!(1));
        let c: ChatCompletion = serde_json::from_value(
            json!({"choices":[{"message":{"role":"assistant"},"finish_reason":""}]}),
        )
        .unwrap();
        assert_eq!(c.choices[0].finish_reason, None);
        let c: ChatCompletion = serde_json::from_value(json!({"choices":[]})).unwrap();
        assert!(c.text().is_none());
    }

    #[test]
    fn accumulates_tool_calls_by_index_and_latest_usage() {
        let chunks = [
            json!({"id":"a","choices":[{"index":0,"delta":{"role":"assistant","tool_calls":[
                {"index":0,"id":"c0","type":"function","function":{"name":"f","arguments":""}},
                {"index":1,"id":"c1","type":"function","function":{"name":"g","arguments":"{"}}]}}],
                "usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}),
            json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":1,"function":{"arguments":"}"}},
                {"index":0,"function":{"arguments":"{\"a\":1}"}}]}}],
                "usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}}),
            json!({"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}),
        ];
        let mut acc = ChatAccumulator::new();
        for c in chunks {
            acc.push(&serde_json::from_value(c).unwrap());
        }
        let done = acc.finish();
        let calls = done.choices[0].message.tool_calls.as_ref().unwrap();
        assert_eq!(calls[0].function.as_ref().unwrap().arguments, "{\"a\":1}");
        assert_eq!(calls[1].function.as_ref().unwrap().arguments, "{}");
        assert_eq!(calls[1].id.as_deref(), Some("c1"));
        assert_eq!(done.usage.unwrap().total_tokens, 5);
        assert_eq!(done.choices[0].finish_reason, Some(FinishReason::ToolCalls));
    }
}
