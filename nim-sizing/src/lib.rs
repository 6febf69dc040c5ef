//! # nim-sizing
//!
//! GPU and model catalogs and the sizing math for NVIDIA NIM deployments.
//!
//! This crate will answer "will this model fit on these GPUs, and how many requests will it
//! hold?": weights, KV cache (with grouped-query attention), engine overheads, concurrency,
//! NIMCache PVC size, cold start, placement and autoscaling thresholds, with units kept as
//! newtypes so that GB and GiB never mix.
//!
//! The crate is being built; this release only reserves its place in the workspace.
