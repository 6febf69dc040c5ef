//! Autoscaling recommendations per workload kind.
//!
//! The baseline is a practitioner's published table (KV-cache target, concurrency trigger per
//! replica and scale-in cooldown per workload). The concurrency trigger is capped by what one
//! replica's KV cache actually holds at the workload's typical request length, so a replica is
//! never asked to take more requests than fit. Production deployments keep at least two
//! replicas; scale-out reacts within 30 s, scale-in waits the workload's cooldown.
//!
//! The metrics are the ones a NIM exports: `gpu_cache_usage_perc` (vLLM; `kv_cache_usage_perc`
//! in newer NIMs) for the KV-cache target, `num_requests_running` for concurrency.
//!
//! ```
//! use nim_sizing::autoscale::{Workload, recommend};
//! use nim_sizing::units::Tokens;
//!
//! // A replica whose KV cache holds 300k tokens, serving RAG (~8k-token requests).
//! let rec = recommend(Workload::Rag, Tokens(300_000), true, Some(120))?;
//! assert_eq!(rec.min_replicas, 2);
//! assert_eq!(rec.concurrency_per_replica, Some(10)); // the table's trigger; 31 would fit
//! assert_eq!(rec.max_replicas, 12);
//! # Ok::<(), nim_sizing::Error>(())
//! ```

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::units::{Seconds, Tokens};

/// The kind of traffic a NIM serves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Workload {
    /// Short-context chat, ~512 tokens per request.
    Chat,
    /// Long-context retrieval-augmented generation, ~8k tokens.
    Rag,
    /// Batch summarization: throughput over latency, scaled on the cache only.
    Batch,
    /// Mixed chat and RAG.
    Mixed,
    /// A real-time coding assistant, < 200 tokens per request.
    Coding,
}

impl Workload {
    /// Every workload, in table order.
    pub const ALL: [Workload; 5] = [
        Workload::Chat,
        Workload::Rag,
        Workload::Batch,
        Workload::Mixed,
        Workload::Coding,
    ];

    /// The name used on command lines and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Workload::Chat => "chat",
            Workload::Rag => "rag",
            Workload::Batch => "batch",
            Workload::Mixed => "mixed",
            Workload::Coding => "coding",
        }
    }

    /// The baseline policy of this workload.
    pub fn policy(self) -> Policy {
        // (KV-cache target, concurrency trigger, scale-in cooldown s, typical tokens/request)
        let (kv, trigger, cooldown, tokens) = match self {
            Workload::Chat => (0.70, Some(40), 600.0, 512),
            Workload::Rag => (0.85, Some(10), 900.0, 8192),
            // Summaries read long documents: budget 4k tokens a request.
            Workload::Batch => (0.90, None, 300.0, 4096),
            // Between chat and RAG: budget 2k tokens a request.
            Workload::Mixed => (0.70, Some(20), 900.0, 2048),
            Workload::Coding => (0.60, Some(60), 480.0, 200),
        };
        Policy {
            kv_cache_target: kv,
            concurrency_trigger: trigger,
            scale_in_cooldown: Seconds(cooldown),
            typical_request_tokens: tokens,
        }
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Workload {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Workload::ALL
            .into_iter()
            .find(|w| w.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                Error::invalid(
                    "workload",
                    format!("{s:?} is not one of chat, rag, batch, mixed, coding"),
                )
            })
    }
}

/// The baseline for one workload.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Policy {
    /// Scale out when KV-cache usage passes this fraction.
    pub kv_cache_target: f64,
    /// Scale out when running requests per replica pass this; `None`: cache only.
    pub concurrency_trigger: Option<u32>,
    /// How long usage must stay low before a replica is removed.
    pub scale_in_cooldown: Seconds,
    /// The request length (prompt and output) the workload is sized for.
    pub typical_request_tokens: u64,
}

/// Scale-out stabilization: react within 30 s.
pub const SCALE_OUT_WINDOW: Seconds = Seconds(30.0);

/// What to put in a NIMService's `scale` section.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    /// The workload.
    pub workload: Workload,
    /// At least 2 in production.
    pub min_replicas: u32,
    /// Enough replicas for the peak concurrency.
    pub max_replicas: u32,
    /// The KV-cache usage target (0 to 1) on `gpu_cache_usage_perc`.
    pub kv_cache_target: f64,
    /// The running-requests trigger per replica, capped by what the KV cache holds.
    pub concurrency_per_replica: Option<u32>,
    /// Requests of the typical length one replica's KV cache holds.
    pub kv_capacity_requests: u64,
    /// Scale-out stabilization window.
    pub scale_out_window: Seconds,
    /// Scale-in stabilization window.
    pub scale_in_cooldown: Seconds,
    /// How each number was reached.
    pub reasons: Vec<String>,
}

/// A recommendation for `workload` on replicas whose KV cache holds `kv_tokens_per_replica`.
/// `peak_concurrency` (requests in flight at peak) sets the maximum; without it the maximum
/// is four times the minimum.
///
/// # Errors
/// [`Error::Invalid`] when the KV cache cannot hold one request of the workload.
pub fn recommend(
    workload: Workload,
    kv_tokens_per_replica: Tokens,
    production: bool,
    peak_concurrency: Option<u64>,
) -> Result<Recommendation> {
    let policy = workload.policy();
    let capacity = kv_tokens_per_replica.get() / policy.typical_request_tokens;
    if capacity == 0 {
        return Err(Error::invalid(
            "kv_tokens_per_replica",
            format!(
                "{kv_tokens_per_replica} of KV cache cannot hold one {workload} request of {} tokens",
                policy.typical_request_tokens
            ),
        ));
    }
    let mut reasons = Vec::new();
    let safe = ((capacity as f64 * policy.kv_cache_target).floor() as u64).max(1);
    let concurrency = policy.concurrency_trigger.map(|trigger| {
        let capped = u64::from(trigger).min(safe);
        if capped < u64::from(trigger) {
            reasons.push(format!(
                "concurrency trigger lowered from {trigger} to {capped}: the KV cache holds \
                 {capacity} requests of {} tokens, {:.0} % of which is {capped}",
                policy.typical_request_tokens,
                policy.kv_cache_target * 100.0
            ));
        } else {
            reasons.push(format!(
                "concurrency trigger {trigger} per replica (the KV cache would hold {capacity})"
            ));
        }
        u32::try_from(capped).unwrap_or(u32::MAX)
    });
    if concurrency.is_none() {
        reasons.push(format!(
            "{workload}: scale on KV-cache usage only, at {:.0} %",
            policy.kv_cache_target * 100.0
        ));
    }
    let min_replicas = if production { 2 } else { 1 };
    reasons.push(if production {
        "minReplicas 2: one replica is a single point of failure in production".to_owned()
    } else {
        "minReplicas 1 (not production)".to_owned()
    });
    let per_replica = concurrency.map_or(safe, u64::from);
    let max_replicas = match peak_concurrency {
        Some(peak) => {
            let needed = peak.div_ceil(per_replica).max(u64::from(min_replicas));
            reasons.push(format!(
                "maxReplicas {needed}: {peak} requests at peak / {per_replica} per replica"
            ));
            u32::try_from(needed).unwrap_or(u32::MAX)
        }
        None => {
            reasons.push("maxReplicas 4 x minReplicas: no peak concurrency given".to_owned());
            min_replicas * 4
        }
    };
    Ok(Recommendation {
        workload,
        min_replicas,
        max_replicas,
        kv_cache_target: policy.kv_cache_target,
        concurrency_per_replica: concurrency,
        kv_capacity_requests: capacity,
        scale_out_window: SCALE_OUT_WINDOW,
        scale_in_cooldown: policy.scale_in_cooldown,
        reasons,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_values() {
        let expect = [
            (Workload::Chat, 0.70, Some(40), 600.0),
            (Workload::Rag, 0.85, Some(10), 900.0),
            (Workload::Batch, 0.90, None, 300.0),
            (Workload::Mixed, 0.70, Some(20), 900.0),
            (Workload::Coding, 0.60, Some(60), 480.0),
        ];
        for (workload, kv, trigger, cooldown) in expect {
            let policy = workload.policy();
            assert_eq!(policy.kv_cache_target, kv, "{workload}");
            assert_eq!(policy.concurrency_trigger, trigger, "{workload}");
            assert_eq!(policy.scale_in_cooldown, Seconds(cooldown), "{workload}");
        }
    }

    #[test]
    fn trigger_is_capped_by_kv_capacity() {
        // 10k tokens hold 19 chat requests of 512; 70 % of that is 13 < 40.
        let rec = recommend(Workload::Chat, Tokens(10_000), false, None).expect("fits");
        assert_eq!(rec.kv_capacity_requests, 19);
        assert_eq!(rec.concurrency_per_replica, Some(13));
        assert_eq!((rec.min_replicas, rec.max_replicas), (1, 4));
        assert!(rec.reasons[0].contains("lowered from 40 to 13"));
    }

    #[test]
    fn batch_scales_on_cache_only() {
        let rec = recommend(Workload::Batch, Tokens(1_000_000), true, Some(500)).expect("fits");
        assert_eq!(rec.concurrency_per_replica, None);
        assert_eq!(rec.min_replicas, 2);
        assert_eq!(rec.scale_out_window, Seconds(30.0));
        assert!(rec.scale_in_cooldown.0 > rec.scale_out_window.0);
    }

    #[test]
    fn too_small_a_cache_is_an_error() {
        let error = recommend(Workload::Rag, Tokens(4_000), true, None).expect_err("too small");
        assert!(
            error.to_string().contains("cannot hold one rag request"),
            "{error}"
        );
    }

    #[test]
    fn parse() {
        assert_eq!("RAG".parse::<Workload>().ok(), Some(Workload::Rag));
        assert!("video".parse::<Workload>().is_err());
    }
}
