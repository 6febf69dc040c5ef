//! # nim-crds
//!
//! Rust types for the [NVIDIA NIM Operator]'s custom resources, `apps.nvidia.com/v1alpha1`:
//! [`NIMCache`], [`NIMService`], [`NIMPipeline`] and [`NIMBuild`], built with kube's
//! `CustomResource` derive and schemars so that [`crds()`] generates CRDs equal to the
//! operator's published ones (operator `main` at f63f74d, the 3.1 line).
//!
//! Beyond the types, the crate checks manifests before they reach a cluster:
//! [`validate`] evaluates the CRDs' CEL rules and the rules the operator
//! enforces only in its webhook, and [`lint`] reads multi-document YAML and reports
//! the mistakes that cost NIM deployments days.
//!
//! ```
//! use nim_crds::{NIMService, lint};
//!
//! let yaml = r#"
//! apiVersion: apps.nvidia.com/v1alpha1
//! kind: NIMService
//! metadata: {name: llama, namespace: nim}
//! spec:
//!   image: {repository: nvcr.io/nim/meta/llama-3.1-8b-instruct, tag: "1.8.4"}
//!   storage: {nimCache: {name: llama-cache, profile: tensorrt_llm-h100-fp8-tp1-pp1-latency}}
//!   replicas: 1
//! "#;
//! let report = lint::lint_str("service.yaml", yaml);
//! assert!(!report.has_errors());
//! ```
//!
//! ## Kubernetes version
//!
//! Like every library built on kube, this crate does not pick a Kubernetes version feature of
//! `k8s-openapi`; the application does (the operator pins Kubernetes 1.34: `v1_34`).
//!
//! ## YAML
//!
//! YAML is read and written with [`serde-saphyr`](https://docs.rs/serde-saphyr): it is
//! maintained, pure Rust with `unsafe` forbidden, designed not to panic on malformed input,
//! reads multi-document streams and reports errors with line and column. The `serde_yaml`
//! crate, the usual choice, is deprecated upstream.
//!
//! [NVIDIA NIM Operator]: https://github.com/NVIDIA/k8s-nim-operator

pub mod builders;
pub mod common;
pub mod crd;
pub mod defaulting;
pub mod defaults;
pub mod diagnostic;
pub mod dra;
pub mod error;
mod k8s_schema;
pub mod lint;
pub mod nimbuild;
pub mod nimcache;
pub mod nimpipeline;
pub mod nimservice;
pub mod quantity;
mod schema;
pub mod schema_check;
pub mod status;
pub mod validate;

pub use common::*;
pub use crd::crds;
pub use diagnostic::{Diagnostic, Severity};
pub use dra::*;
pub use error::{Error, Result};
pub use nimbuild::*;
pub use nimcache::*;
pub use nimpipeline::*;
pub use nimservice::*;
pub use status::{NIMBuildState, NIMCacheState, NIMPipelineState, NIMServiceState};
pub use validate::Validate;
