//! Request and response types, shaped like OpenAI's and NIM's wire format.
//!
//! Requests omit unset options; responses keep unknown fields in `extra` maps and unknown enum
//! values as `Other(String)`.

pub mod chat;
pub mod common;
pub mod completions;
pub mod embeddings;
pub mod management;
pub mod nvext;
pub mod ranking;
pub mod responses;
