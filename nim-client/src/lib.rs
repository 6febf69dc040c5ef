//! # nim-client
//!
//! An async client for NVIDIA NIM's OpenAI-compatible API: chat completions, completions,
//! responses, embeddings (with NIM's `input_type` and `truncate`), ranking, models, health,
//! metadata, version and metrics; server-sent-event streams; openai-python's retry rules.
//! Tolerant of what servers send (unknown fields and enum values are kept), strict about what
//! it sends (unset options are omitted).
//!
//! ```no_run
//! use nim_client::{ChatCompletionRequest, ChatMessage, Client, ClientConfig, NvExt};
//! use futures_util::StreamExt;
//!
//! # async fn run() -> nim_client::Result<()> {
//! let client = Client::new(ClientConfig::new("http://localhost:8000").max_retries(3))?;
//! client.wait_until_ready(std::time::Duration::from_secs(600)).await?;
//! let request = ChatCompletionRequest::new(
//!     "meta/llama-3.1-8b-instruct",
//!     vec![ChatMessage::user("Write a haiku about GPUs.")],
//! )
//! .max_tokens(64)
//! .nim(NvExt::default().top_k(40));
//! let mut stream = client.chat_stream(&request.include_usage(true)).await?;
//! while let Some(chunk) = stream.next().await {
//!     for choice in chunk?.choices {
//!         print!("{}", choice.delta.content.unwrap_or_default());
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! The configuration never reads the environment unless asked ([`ClientConfig::from_env`]),
//! and the API key never appears in `Debug` output.
//!
//! Without a Tokio runtime nothing runs: the client uses Tokio timers.

pub mod client;
pub mod config;
pub mod error;
pub mod metrics;
mod retry;
pub mod sse;
pub mod stream;
pub mod types;

pub use client::Client;
pub use config::{ClientConfig, ExtensionPlacement};
pub use error::{ApiError, Error, ErrorCode, Result};
pub use metrics::{Histogram, Metrics, Sample};
pub use stream::{EventStream, ResponseStreamEvent};
pub use types::chat::{
    ChatAccumulator, ChatChoice, ChatCompletion, ChatCompletionChunk, ChatCompletionRequest,
    ChatMessage, ChunkChoice, Delta, FunctionCall, FunctionCallChunk, FunctionDefinition,
    MessageContent, Tool, ToolCall, ToolCallChunk,
};
pub use types::common::{FinishReason, Role, Stop, StreamOptions, Usage};
pub use types::completions::{Completion, CompletionChoice, CompletionRequest, Prompt};
pub use types::embeddings::{
    Embedding, EmbeddingInput, EmbeddingRequest, EmbeddingResponse, EmbeddingVector,
    EncodingFormat, InputType, Truncate,
};
pub use types::management::{Health, Metadata, Model, ModelList, Version};
pub use types::nvext::NvExt;
pub use types::ranking::{Ranking, RankingRequest, RankingResponse, RankingText, RankingTruncate};
pub use types::responses::{Response, ResponseRequest};
