//! The serving metrics a NIM exposes, rendered in the Prometheus / OpenMetrics text format.
//!
//! Rendering uses [`prometheus-client`](https://docs.rs/prometheus-client), the Rust client
//! maintained by the Prometheus project itself: it has no default features, no global
//! registry, no protobuf code generation, and it writes the OpenMetrics text format that
//! Prometheus scrapes natively (counters as `NAME_total`, a final `# EOF`). The other common
//! crate, `prometheus` (TiKV), pulls protobuf in by default and keeps a process-global
//! registry, which a library should not impose on its embedder.
//!
//! # Names
//!
//! [`MetricNames::Nim`] (the default) emits the names of NIM for LLMs' `/v1/metrics` endpoint:
//!
//! | metric | type | meaning |
//! |---|---|---|
//! | `gpu_cache_usage_perc` | gauge | used KV blocks / all blocks, 0–1 (1 means 100 %) |
//! | `num_requests_running` | gauge | requests in the running batch |
//! | `num_requests_waiting` | gauge | requests waiting for admission (preempted ones included) |
//! | `num_request_max` | gauge | most requests that may run at once (`max_num_seqs`) |
//! | `num_preemptions_total` | counter | preemptions (by recompute) |
//! | `prefix_cache_queries_total` | counter | prompt tokens looked up in the prefix cache |
//! | `prefix_cache_hits_total` | counter | prompt tokens served from the prefix cache |
//! | `prompt_tokens_total` | counter | prompt tokens of requests whose prefill completed |
//! | `generation_tokens_total` | counter | tokens generated |
//!
//! NIM documents the first four and the token counters under these bare names; it passes
//! vLLM's preemption and prefix-cache counters through, which this crate names likewise
//! without the `vllm:` prefix. [`MetricNames::Vllm`] emits vLLM V1's own names instead, for
//! dashboards built on a vLLM server: `vllm:kv_cache_usage_perc` (V1's name for the usage
//! gauge, which replaced the deprecated `vllm:gpu_cache_usage_perc`),
//! `vllm:num_requests_running`, `vllm:num_requests_waiting`, `vllm:num_preemptions_total`,
//! `vllm:prefix_cache_queries_total`, `vllm:prefix_cache_hits_total`,
//! `vllm:prompt_tokens_total` and `vllm:generation_tokens_total`; vLLM has no
//! `num_request_max`, so that naming leaves it out.
//!
//! Every sample carries a `model_name` label when one is configured, as NIM and vLLM do.

use std::borrow::Cow;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::error::{Error, Result};

/// The `Content-Type` of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Which names the metrics are exposed under; see the [module docs](self).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum MetricNames {
    /// NIM's names: `gpu_cache_usage_perc`, `num_requests_running`, ...
    #[default]
    Nim,
    /// vLLM V1's names: `vllm:kv_cache_usage_perc`, `vllm:num_requests_running`, ...
    Vllm,
}

impl MetricNames {
    fn name(self, nim: &'static str, vllm: &'static str) -> Cow<'static, str> {
        match self {
            MetricNames::Nim => Cow::Borrowed(nim),
            MetricNames::Vllm => Cow::Owned(format!("vllm:{vllm}")),
        }
    }
}

/// The scheduler's metrics: values to read, and a registry to render.
#[derive(Debug)]
pub struct Metrics {
    names: MetricNames,
    registry: Registry,
    cache_usage: Gauge<f64, AtomicU64>,
    running: Gauge,
    waiting: Gauge,
    max_requests: Gauge,
    preemptions: Counter,
    prefix_queries: Counter,
    prefix_hits: Counter,
    prompt_tokens: Counter,
    generation_tokens: Counter,
}

impl Metrics {
    /// All metrics at zero, under `names`, labelled with `model_name` when given.
    pub fn new(names: MetricNames, model_name: Option<&str>) -> Self {
        let labels = model_name
            .map(|m| (Cow::Borrowed("model_name"), Cow::Owned(m.to_owned())))
            .into_iter();
        let mut metrics = Self {
            names,
            registry: Registry::with_labels(labels),
            cache_usage: Gauge::default(),
            running: Gauge::default(),
            waiting: Gauge::default(),
            max_requests: Gauge::default(),
            preemptions: Counter::default(),
            prefix_queries: Counter::default(),
            prefix_hits: Counter::default(),
            prompt_tokens: Counter::default(),
            generation_tokens: Counter::default(),
        };
        let registry = &mut metrics.registry;
        registry.register(
            names.name("gpu_cache_usage_perc", "kv_cache_usage_perc"),
            "GPU KV-cache usage. 1 means 100 percent usage",
            metrics.cache_usage.clone(),
        );
        registry.register(
            names.name("num_requests_running", "num_requests_running"),
            "Number of requests currently running on GPU",
            metrics.running.clone(),
        );
        registry.register(
            names.name("num_requests_waiting", "num_requests_waiting"),
            "Number of requests waiting to be processed",
            metrics.waiting.clone(),
        );
        if names == MetricNames::Nim {
            registry.register(
                "num_request_max",
                "Max number of concurrently running requests",
                metrics.max_requests.clone(),
            );
        }
        registry.register(
            names.name("num_preemptions", "num_preemptions"),
            "Cumulative number of preemptions from the engine",
            metrics.preemptions.clone(),
        );
        registry.register(
            names.name("prefix_cache_queries", "prefix_cache_queries"),
            "Prefix cache queries, in terms of number of queried tokens",
            metrics.prefix_queries.clone(),
        );
        registry.register(
            names.name("prefix_cache_hits", "prefix_cache_hits"),
            "Prefix cache hits, in terms of number of cached tokens",
            metrics.prefix_hits.clone(),
        );
        registry.register(
            names.name("prompt_tokens", "prompt_tokens"),
            "Number of prefill tokens processed",
            metrics.prompt_tokens.clone(),
        );
        registry.register(
            names.name("generation_tokens", "generation_tokens"),
            "Number of generation tokens processed",
            metrics.generation_tokens.clone(),
        );
        metrics
    }

    /// The naming in use.
    pub fn names(&self) -> MetricNames {
        self.names
    }

    /// KV-cache usage, 0–1.
    pub fn gpu_cache_usage_perc(&self) -> f64 {
        self.cache_usage.get()
    }

    /// Requests running.
    pub fn num_requests_running(&self) -> u64 {
        self.running.get().unsigned_abs()
    }

    /// Requests waiting.
    pub fn num_requests_waiting(&self) -> u64 {
        self.waiting.get().unsigned_abs()
    }

    /// The most requests that may run at once.
    pub fn num_request_max(&self) -> u64 {
        self.max_requests.get().unsigned_abs()
    }

    /// Preemptions so far.
    pub fn num_preemptions(&self) -> u64 {
        self.preemptions.get()
    }

    /// Prompt tokens looked up in the prefix cache so far.
    pub fn prefix_cache_queries(&self) -> u64 {
        self.prefix_queries.get()
    }

    /// Prompt tokens served from the prefix cache so far.
    pub fn prefix_cache_hits(&self) -> u64 {
        self.prefix_hits.get()
    }

    /// Hits over queries, or 0 before any query.
    pub fn prefix_cache_hit_rate(&self) -> f64 {
        let queries = self.prefix_queries.get();
        if queries == 0 {
            0.0
        } else {
            self.prefix_hits.get() as f64 / queries as f64
        }
    }

    /// Prompt tokens of requests whose prefill completed (once per request).
    pub fn prompt_tokens(&self) -> u64 {
        self.prompt_tokens.get()
    }

    /// Tokens generated so far.
    pub fn generation_tokens(&self) -> u64 {
        self.generation_tokens.get()
    }

    /// The metrics in the OpenMetrics text format (see [`CONTENT_TYPE`]).
    pub fn render(&self) -> Result<String> {
        let mut text = String::new();
        encode(&mut text, &self.registry)
            .map_err(|e| Error::Metrics(format!("encoding failed: {e}")))?;
        Ok(text)
    }

    pub(crate) fn set_gauges(&self, usage: f64, running: usize, waiting: usize, max: usize) {
        self.cache_usage.set(usage);
        self.running.set(i64::try_from(running).unwrap_or(i64::MAX));
        self.waiting.set(i64::try_from(waiting).unwrap_or(i64::MAX));
        self.max_requests
            .set(i64::try_from(max).unwrap_or(i64::MAX));
    }

    pub(crate) fn add_preemption(&self) {
        self.preemptions.inc();
    }

    /// Brings the prefix-cache counters up to the manager's totals.
    pub(crate) fn sync_prefix_cache(&self, queries: u64, hits: u64) {
        self.prefix_queries
            .inc_by(queries.saturating_sub(self.prefix_queries.get()));
        self.prefix_hits
            .inc_by(hits.saturating_sub(self.prefix_hits.get()));
    }

    pub(crate) fn add_prompt_tokens(&self, n: usize) {
        self.prompt_tokens.inc_by(n as u64);
    }

    pub(crate) fn add_generation_token(&self) {
        self.generation_tokens.inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nim_names() {
        let m = Metrics::new(MetricNames::Nim, None);
        m.set_gauges(0.25, 3, 2, 8);
        m.add_preemption();
        m.sync_prefix_cache(100, 40);
        let text = m.render().unwrap();
        assert!(
            text.contains("# TYPE gpu_cache_usage_perc gauge\n"),
            "{text}"
        );
        assert!(text.contains("\ngpu_cache_usage_perc 0.25\n"), "{text}");
        assert!(text.contains("\nnum_requests_running 3\n"), "{text}");
        assert!(text.contains("\nnum_requests_waiting 2\n"), "{text}");
        assert!(text.contains("\nnum_request_max 8\n"), "{text}");
        assert!(text.contains("# TYPE num_preemptions counter\n"), "{text}");
        assert!(text.contains("\nnum_preemptions_total 1\n"), "{text}");
        assert!(
            text.contains("\nprefix_cache_queries_total 100\n"),
            "{text}"
        );
        assert!(text.contains("\nprefix_cache_hits_total 40\n"), "{text}");
        assert!(text.ends_with("# EOF\n"));
        assert!(!text.contains("vllm:"));
        assert!((m.prefix_cache_hit_rate() - 0.4).abs() < 1e-12);
    }

    #[test]
    fn vllm_names_and_label() {
        let m = Metrics::new(MetricNames::Vllm, Some("meta/llama-3.1-8b-instruct"));
        m.set_gauges(0.5, 1, 0, 4);
        let text = m.render().unwrap();
        assert!(
            text.contains(
                "vllm:kv_cache_usage_perc{model_name=\"meta/llama-3.1-8b-instruct\"} 0.5\n"
            ),
            "{text}"
        );
        assert!(text.contains("vllm:num_preemptions_total{"), "{text}");
        assert!(!text.contains("num_request_max"), "{text}");
    }
}
