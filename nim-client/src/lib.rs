//! # nim-client
//!
//! An async client for NVIDIA NIM's OpenAI-compatible API.
//!
//! This crate will cover chat completions, completions, responses, embeddings, ranking,
//! streaming (server-sent events), retries, health, metadata and metrics, tolerant of the
//! fields and values real servers send and strict about what it sends.
//!
//! The crate is being built; this release only reserves its place in the workspace.
