//! Continuous batching over the [`BlockManager`], as vLLM V1 schedules.
//!
//! Each step, [`Scheduler::schedule`] spends a token budget (`max_num_batched_tokens`):
//!
//! 1. **Running requests first**, oldest admission first: one token for a decoding request,
//!    the next prefill chunk for a request whose prompt is still being computed. When the
//!    pool has no block for a request's tokens, the scheduler **preempts by recompute** the
//!    most recently admitted running request (possibly the one asking): its blocks are freed
//!    (their prefix-cache hashes stay, so the recompute mostly hits the cache), it returns to
//!    the *front* of the waiting queue with its generated tokens appended to its prompt, and
//!    the preemption counter grows.
//! 2. **Then waiting requests**, first come first served, while fewer than `max_num_seqs`
//!    run, budget is left, and the pool can take the request's first chunk without dipping
//!    below the watermark; no request is admitted in a step that preempted. A request's
//!    cached prefix is not computed again: its prefill starts after the cache hit.
//!
//! With chunked prefill a prompt is split across steps under the budget (and under
//! `long_prefill_token_threshold`, when set, so one long prompt cannot starve the decodes
//! behind it); without it a prompt is admitted only when it fits the budget whole.
//!
//! After the backend has run the step, [`Scheduler::on_step_finished`] takes one sampled
//! token for each scheduled request that reached the end of its tokens
//! ([`ScheduledSeq::samples`]) and returns the requests that finished.
//!
//! # Example
//!
//! ```
//! use nim_engine::kv_cache::CacheConfig;
//! use nim_engine::scheduler::{Scheduler, SchedulerConfig};
//!
//! let config = SchedulerConfig::default().max_num_batched_tokens(8);
//! let mut sched = Scheduler::new(config, CacheConfig::new(16).block_size(4))?;
//! sched.add_request(1, vec![10, 11, 12, 13, 14, 15, 16, 17, 18, 19], 2)?;
//!
//! // The 10-token prompt needs two steps under an 8-token budget.
//! let step = sched.schedule()?;
//! assert_eq!(step.scheduled[0].positions, 0..8);
//! assert!(!step.scheduled[0].samples);
//! assert!(sched.on_step_finished(&[])?.is_empty());
//!
//! let step = sched.schedule()?;
//! assert_eq!(step.scheduled[0].positions, 8..10);
//! assert!(step.scheduled[0].samples);
//! sched.on_step_finished(&[(1, 42)])?;
//!
//! // Decode: one token, the one just sampled.
//! let step = sched.schedule()?;
//! assert_eq!(step.scheduled[0].token_ids, [42]);
//! assert_eq!(sched.on_step_finished(&[(1, 43)])?, [1]);
//! assert_eq!(sched.num_running(), 0);
//! assert!(sched.render_prometheus()?.contains("generation_tokens_total 2"));
//! # Ok::<(), nim_engine::Error>(())
//! ```

use std::collections::{HashMap, HashSet, VecDeque};
use std::ops::Range;

use crate::error::{Error, Result};
use crate::kv_cache::{BlockId, BlockManager, CacheConfig, CopyOnWrite, SeqId};
use crate::metrics::{MetricNames, Metrics};

/// Batching limits and metric naming.
#[derive(Clone, Debug, PartialEq)]
pub struct SchedulerConfig {
    /// Most requests running at once (default 256).
    pub max_num_seqs: usize,
    /// Token budget of one step, prefill and decode tokens together (default 2048).
    pub max_num_batched_tokens: usize,
    /// Whether a prompt may be computed over several steps (default on).
    pub enable_chunked_prefill: bool,
    /// With chunked prefill, the most prompt tokens one request computes in a step; 0 (the
    /// default) means no limit beyond the budget.
    pub long_prefill_token_threshold: usize,
    /// The names the metrics are exposed under (default NIM's).
    pub metric_names: MetricNames,
    /// The `model_name` label on every metric, if any.
    pub model_name: Option<String>,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        Self {
            max_num_seqs: 256,
            max_num_batched_tokens: 2048,
            enable_chunked_prefill: true,
            long_prefill_token_threshold: 0,
            metric_names: MetricNames::Nim,
            model_name: None,
        }
    }
}

impl SchedulerConfig {
    /// Sets the most requests running at once.
    #[must_use]
    pub fn max_num_seqs(mut self, n: usize) -> Self {
        self.max_num_seqs = n;
        self
    }

    /// Sets the per-step token budget.
    #[must_use]
    pub fn max_num_batched_tokens(mut self, n: usize) -> Self {
        self.max_num_batched_tokens = n;
        self
    }

    /// Turns chunked prefill on or off.
    #[must_use]
    pub fn chunked_prefill(mut self, enable: bool) -> Self {
        self.enable_chunked_prefill = enable;
        self
    }

    /// Sets the most prompt tokens one request computes in a step (0: no limit).
    #[must_use]
    pub fn long_prefill_token_threshold(mut self, n: usize) -> Self {
        self.long_prefill_token_threshold = n;
        self
    }

    /// Sets the metric names.
    #[must_use]
    pub fn metric_names(mut self, names: MetricNames) -> Self {
        self.metric_names = names;
        self
    }

    /// Sets the `model_name` label.
    #[must_use]
    pub fn model_name(mut self, name: impl Into<String>) -> Self {
        self.model_name = Some(name.into());
        self
    }

    fn validate(&self) -> Result<()> {
        if self.max_num_seqs == 0 {
            return Err(Error::invalid("max_num_seqs", "must be at least 1"));
        }
        if self.max_num_batched_tokens == 0 {
            return Err(Error::invalid(
                "max_num_batched_tokens",
                "must be at least 1",
            ));
        }
        Ok(())
    }
}

/// One request's share of a step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduledSeq {
    /// The request.
    pub id: SeqId,
    /// The tokens to feed, one per position.
    pub token_ids: Vec<u32>,
    /// Their positions in the sequence.
    pub positions: Range<usize>,
    /// Whether these are prompt tokens (a prefill chunk, or the recompute of a preempted
    /// request) rather than one decoded token.
    pub is_prefill: bool,
    /// Whether the step reaches the end of the request's tokens, so the caller samples a token
    /// for it from the last position's logits and passes it to
    /// [`Scheduler::on_step_finished`].
    pub samples: bool,
    /// The request's block table after this step's allocation.
    pub block_table: Vec<BlockId>,
    /// The cache slot of each position, for the KV-cache write.
    pub slot_mapping: Vec<i64>,
}

/// What to run in one step.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SchedulerOutput {
    /// The requests in the batch: running ones first, then the newly admitted ones.
    pub scheduled: Vec<ScheduledSeq>,
    /// Block copies to perform before the step writes the cache.
    pub copy_on_write: Vec<CopyOnWrite>,
    /// Requests preempted in this step, newest first; they are waiting again.
    pub preempted: Vec<SeqId>,
    /// Tokens in the batch (at most `max_num_batched_tokens`).
    pub num_batched_tokens: usize,
}

impl SchedulerOutput {
    /// Whether nothing runs this step.
    pub fn is_empty(&self) -> bool {
        self.scheduled.is_empty()
    }
}

#[derive(Clone, Debug)]
struct Request {
    /// Prompt, then generated tokens.
    tokens: Vec<u32>,
    prompt_len: usize,
    max_new_tokens: usize,
    /// Tokens whose K and V are in the cache once the scheduled steps have run.
    num_computed: usize,
    /// Tokens to prefill at the last admission (the prompt, or prompt + generated after a
    /// preemption).
    prefill_len: usize,
    num_preemptions: u32,
    prompt_counted: bool,
}

impl Request {
    fn num_generated(&self) -> usize {
        self.tokens.len() - self.prompt_len
    }
}

#[derive(Clone, Copy, Debug)]
struct Pending {
    id: SeqId,
    end: usize,
    samples: bool,
}

/// The continuous-batching scheduler. See the [module docs](self).
#[derive(Debug)]
pub struct Scheduler {
    config: SchedulerConfig,
    kv: BlockManager,
    requests: HashMap<SeqId, Request>,
    waiting: VecDeque<SeqId>,
    /// In admission order: the last is the newest, the first preemption victim.
    running: Vec<SeqId>,
    /// The step handed out by `schedule` and not yet finished.
    pending: Option<Vec<Pending>>,
    metrics: Metrics,
}

impl Scheduler {
    /// A scheduler over a fresh block pool.
    pub fn new(config: SchedulerConfig, cache: CacheConfig) -> Result<Self> {
        config.validate()?;
        let kv = BlockManager::new(cache)?;
        let metrics = Metrics::new(config.metric_names, config.model_name.as_deref());
        let scheduler = Self {
            config,
            kv,
            requests: HashMap::new(),
            waiting: VecDeque::new(),
            running: Vec::new(),
            pending: None,
            metrics,
        };
        scheduler.update_gauges();
        Ok(scheduler)
    }

    /// The configuration.
    pub fn config(&self) -> &SchedulerConfig {
        &self.config
    }

    /// The block manager, to read.
    pub fn block_manager(&self) -> &BlockManager {
        &self.kv
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The metrics in the OpenMetrics text format (see [`crate::metrics::CONTENT_TYPE`]).
    pub fn render_prometheus(&self) -> Result<String> {
        self.metrics.render()
    }

    /// Requests running.
    pub fn num_running(&self) -> usize {
        self.running.len()
    }

    /// Requests waiting.
    pub fn num_waiting(&self) -> usize {
        self.waiting.len()
    }

    /// Whether any request is running or waiting.
    pub fn has_unfinished_requests(&self) -> bool {
        !self.requests.is_empty()
    }

    /// The running requests, oldest admission first.
    pub fn running(&self) -> &[SeqId] {
        &self.running
    }

    /// The waiting requests, next to admit first.
    pub fn waiting(&self) -> impl Iterator<Item = SeqId> + '_ {
        self.waiting.iter().copied()
    }

    /// The tokens generated so far for an unfinished request.
    pub fn generated_tokens(&self, id: SeqId) -> Result<&[u32]> {
        let req = self.request(id)?;
        Ok(&req.tokens[req.prompt_len..])
    }

    /// How often an unfinished request was preempted.
    pub fn num_preemptions(&self, id: SeqId) -> Result<u32> {
        Ok(self.request(id)?.num_preemptions)
    }

    /// Queues a request to generate `max_new_tokens` tokens after `prompt`.
    ///
    /// Rejects an id in use, an empty prompt, `max_new_tokens == 0`, and a request that could
    /// not complete even alone: its tokens must fit the pool above the watermark and, without
    /// chunked prefill, the step budget (a preempted request recomputes all of them at once).
    pub fn add_request(
        &mut self,
        id: SeqId,
        prompt: Vec<u32>,
        max_new_tokens: usize,
    ) -> Result<()> {
        if self.requests.contains_key(&id) {
            return Err(Error::DuplicateSequence(id));
        }
        if prompt.is_empty() {
            return Err(Error::invalid(
                "prompt",
                format!("request {id}: empty prompt"),
            ));
        }
        if max_new_tokens == 0 {
            return Err(Error::invalid(
                "max_new_tokens",
                format!("request {id}: must be at least 1"),
            ));
        }
        // The last sampled token is never fed back, so it takes no slot.
        let kv_tokens = prompt
            .len()
            .checked_add(max_new_tokens - 1)
            .ok_or_else(|| {
                Error::invalid("max_new_tokens", format!("request {id}: length overflows"))
            })?;
        let blocks = kv_tokens.div_ceil(self.kv.block_size());
        let usable = self.kv.num_total_blocks() - self.kv.watermark_blocks();
        if blocks > usable {
            return Err(Error::invalid(
                "max_new_tokens",
                format!(
                    "request {id}: {} prompt + {max_new_tokens} new tokens need {blocks} blocks \
                     of {} tokens; the pool admits at most {usable}",
                    prompt.len(),
                    self.kv.block_size()
                ),
            ));
        }
        if !self.config.enable_chunked_prefill && kv_tokens > self.config.max_num_batched_tokens {
            return Err(Error::invalid(
                "max_new_tokens",
                format!(
                    "request {id}: {kv_tokens} tokens exceed max_num_batched_tokens {} without \
                     chunked prefill (a preempted request recomputes them in one step)",
                    self.config.max_num_batched_tokens
                ),
            ));
        }
        let prompt_len = prompt.len();
        self.requests.insert(
            id,
            Request {
                tokens: prompt,
                prompt_len,
                max_new_tokens,
                num_computed: 0,
                prefill_len: prompt_len,
                num_preemptions: 0,
                prompt_counted: false,
            },
        );
        self.waiting.push_back(id);
        self.update_gauges();
        Ok(())
    }

    /// Drops an unfinished request (a stop string matched, the client went away), freeing its
    /// blocks. Fails while the request is part of the step being run.
    pub fn abort_request(&mut self, id: SeqId) -> Result<()> {
        if self
            .pending
            .as_ref()
            .is_some_and(|p| p.iter().any(|p| p.id == id))
        {
            return Err(Error::invalid(
                "id",
                format!("request {id} is in the step being run; abort it after on_step_finished"),
            ));
        }
        if self.requests.remove(&id).is_none() {
            return Err(Error::UnknownSequence(id));
        }
        if let Some(pos) = self.waiting.iter().position(|&w| w == id) {
            self.waiting.remove(pos);
        }
        if let Some(pos) = self.running.iter().position(|&r| r == id) {
            self.running.remove(pos);
            self.kv.free(id)?;
        }
        self.update_gauges();
        Ok(())
    }

    /// Picks the next step's batch. Fails while the previous step is unfinished.
    pub fn schedule(&mut self) -> Result<SchedulerOutput> {
        if self.pending.is_some() {
            return Err(Error::invalid(
                "schedule",
                "the previous step is unfinished: call on_step_finished first",
            ));
        }
        let mut budget = self.config.max_num_batched_tokens;
        let mut out = SchedulerOutput::default();
        let mut pending = Vec::new();

        // 1. Running requests, oldest first; preempt the newest when blocks run out. Victims
        //    come from the end of `running`, which this loop has not reached, so no victim has
        //    been scheduled in this step.
        let mut i = 0;
        while i < self.running.len() && budget > 0 {
            let id = self.running[i];
            let (start, len) = {
                let req = self.request(id)?;
                (req.num_computed, req.tokens.len())
            };
            let n = self.chunk(len - start, budget);
            if !self.append_or_preempt(id, start..start + n, &mut out)? {
                break; // it preempted itself: it was the last running request
            }
            self.record(id, start..start + n, &mut out, &mut pending)?;
            budget -= n;
            i += 1;
        }

        // 2. Waiting requests, first come first served.
        if out.preempted.is_empty() {
            while budget > 0 && self.running.len() < self.config.max_num_seqs {
                let Some(&id) = self.waiting.front() else {
                    break;
                };
                let req = self.requests.get(&id).ok_or(Error::UnknownSequence(id))?;
                let cached = self.kv.cached_prefix_len(&req.tokens);
                let remaining = req.tokens.len() - cached;
                let n = self.chunk(remaining, budget);
                if n < remaining && !self.config.enable_chunked_prefill {
                    break;
                }
                let allocation = match self.kv.allocate_chunk(id, &req.tokens, n) {
                    Ok(a) => a,
                    Err(Error::OutOfBlocks { .. }) => break,
                    Err(e) => return Err(e),
                };
                self.waiting.pop_front();
                self.running.push(id);
                let req = self.request_mut(id)?;
                req.num_computed = allocation.num_cached_tokens;
                req.prefill_len = req.tokens.len();
                let range = allocation.num_cached_tokens..allocation.num_tokens;
                budget -= range.len();
                self.record(id, range, &mut out, &mut pending)?;
            }
        }

        out.num_batched_tokens = self.config.max_num_batched_tokens - budget;
        let stats = self.kv.prefix_cache_stats();
        self.metrics.sync_prefix_cache(stats.queries, stats.hits);
        self.update_gauges();
        self.pending = (!pending.is_empty()).then_some(pending);
        Ok(out)
    }

    /// Records the step's results: `sampled` holds one token for each scheduled request with
    /// [`ScheduledSeq::samples`] set, and no other. Returns the requests that finished (their
    /// blocks are freed). Fails without changing anything when `sampled` does not match.
    pub fn on_step_finished(&mut self, sampled: &[(SeqId, u32)]) -> Result<Vec<SeqId>> {
        let Some(pending) = self.pending.take() else {
            if let Some(&(id, _)) = sampled.first() {
                return Err(Error::invalid(
                    "sampled",
                    format!("token for request {id}, but no step is being run"),
                ));
            }
            return Ok(Vec::new());
        };
        if let Err(e) = check_samples(&pending, sampled) {
            self.pending = Some(pending);
            return Err(e);
        }

        for p in &pending {
            self.request_mut(p.id)?.num_computed = p.end;
        }
        let mut finished = Vec::new();
        for &(id, token) in sampled {
            let req = self.request_mut(id)?;
            req.tokens.push(token);
            let prompt = (!req.prompt_counted).then_some(req.prompt_len);
            req.prompt_counted = true;
            let done = req.num_generated() >= req.max_new_tokens;
            if let Some(n) = prompt {
                self.metrics.add_prompt_tokens(n);
            }
            self.metrics.add_generation_token();
            if done {
                finished.push(id);
            }
        }
        for &id in &finished {
            self.kv.free(id)?;
            self.requests.remove(&id);
        }
        let gone: HashSet<SeqId> = finished.iter().copied().collect();
        self.running.retain(|id| !gone.contains(id));
        self.update_gauges();
        Ok(finished)
    }

    /// Tokens to compute now out of `remaining`, under `budget` and the long-prefill limit.
    fn chunk(&self, remaining: usize, budget: usize) -> usize {
        let mut n = remaining.min(budget);
        let threshold = self.config.long_prefill_token_threshold;
        if self.config.enable_chunked_prefill && threshold > 0 {
            n = n.min(threshold);
        }
        n
    }

    /// Gives `id` slots for `range`, preempting the newest running requests until it fits.
    /// Returns `false` when `id` itself was preempted.
    fn append_or_preempt(
        &mut self,
        id: SeqId,
        range: Range<usize>,
        out: &mut SchedulerOutput,
    ) -> Result<bool> {
        loop {
            let req = self.requests.get(&id).ok_or(Error::UnknownSequence(id))?;
            let tokens = req.tokens.get(range.clone()).ok_or_else(|| {
                Error::invalid("range", format!("request {id}: {range:?} out of bounds"))
            })?;
            match self.kv.append(id, tokens) {
                Ok(copies) => {
                    out.copy_on_write.extend(copies);
                    return Ok(true);
                }
                Err(Error::OutOfBlocks { .. }) => {
                    let victim = self.running.pop().ok_or(Error::UnknownSequence(id))?;
                    self.preempt(victim)?;
                    out.preempted.push(victim);
                    if victim == id {
                        return Ok(false);
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Frees a running request's blocks and queues it first for recomputation.
    /// The caller has removed it from `running`.
    fn preempt(&mut self, id: SeqId) -> Result<()> {
        self.kv.free(id)?;
        let req = self.request_mut(id)?;
        req.num_computed = 0;
        req.num_preemptions = req.num_preemptions.saturating_add(1);
        self.waiting.push_front(id);
        self.metrics.add_preemption();
        Ok(())
    }

    fn record(
        &self,
        id: SeqId,
        positions: Range<usize>,
        out: &mut SchedulerOutput,
        pending: &mut Vec<Pending>,
    ) -> Result<()> {
        let req = self.request(id)?;
        let token_ids = req
            .tokens
            .get(positions.clone())
            .ok_or_else(|| {
                Error::invalid(
                    "positions",
                    format!("request {id}: {positions:?} out of bounds"),
                )
            })?
            .to_vec();
        let samples = positions.end == req.tokens.len();
        out.scheduled.push(ScheduledSeq {
            id,
            token_ids,
            is_prefill: positions.start < req.prefill_len,
            samples,
            block_table: self.kv.block_table(id)?.to_vec(),
            slot_mapping: self.kv.slot_mapping(id, positions.clone())?,
            positions: positions.clone(),
        });
        pending.push(Pending {
            id,
            end: positions.end,
            samples,
        });
        Ok(())
    }

    fn request(&self, id: SeqId) -> Result<&Request> {
        self.requests.get(&id).ok_or(Error::UnknownSequence(id))
    }

    fn request_mut(&mut self, id: SeqId) -> Result<&mut Request> {
        self.requests.get_mut(&id).ok_or(Error::UnknownSequence(id))
    }

    fn update_gauges(&self) {
        self.metrics.set_gauges(
            self.kv.usage(),
            self.running.len(),
            self.waiting.len(),
            self.config.max_num_seqs,
        );
    }
}

/// Checks that `sampled` holds exactly one token for each pending request that samples.
fn check_samples(pending: &[Pending], sampled: &[(SeqId, u32)]) -> Result<()> {
    let due: HashSet<SeqId> = pending.iter().filter(|p| p.samples).map(|p| p.id).collect();
    let mut seen = HashSet::new();
    for &(id, _) in sampled {
        if !due.contains(&id) {
            return Err(Error::invalid(
                "sampled",
                format!("request {id} is not due a token this step"),
            ));
        }
        if !seen.insert(id) {
            return Err(Error::invalid(
                "sampled",
                format!("two tokens for request {id}"),
            ));
        }
    }
    if let Some(p) = pending.iter().find(|p| p.samples && !seen.contains(&p.id)) {
        return Err(Error::invalid(
            "sampled",
            format!("no token for request {}", p.id),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sched(blocks: usize, bs: usize, budget: usize) -> Scheduler {
        Scheduler::new(
            SchedulerConfig::default().max_num_batched_tokens(budget),
            CacheConfig::new(blocks).block_size(bs).watermark(0.0),
        )
        .unwrap()
    }

    #[test]
    fn rejects_bad_requests() {
        let mut s = sched(4, 4, 64);
        assert!(s.add_request(1, vec![], 1).is_err());
        assert!(s.add_request(1, vec![1], 0).is_err());
        // 16 slots: 10 + 7 - 1 = 16 fit, 10 + 8 - 1 do not.
        assert!(s.add_request(1, vec![0; 10], 8).is_err());
        s.add_request(1, vec![0; 10], 7).unwrap();
        assert_eq!(
            s.add_request(1, vec![1], 1),
            Err(Error::DuplicateSequence(1))
        );
        let mut s = Scheduler::new(
            SchedulerConfig::default()
                .max_num_batched_tokens(8)
                .chunked_prefill(false),
            CacheConfig::new(16).block_size(4),
        )
        .unwrap();
        assert!(s.add_request(1, vec![0; 8], 2).is_err());
        s.add_request(1, vec![0; 7], 2).unwrap();
        assert!(
            Scheduler::new(
                SchedulerConfig::default().max_num_seqs(0),
                CacheConfig::new(1)
            )
            .is_err()
        );
    }

    #[test]
    fn step_protocol_is_enforced() {
        let mut s = sched(8, 4, 64);
        assert!(s.on_step_finished(&[(1, 0)]).is_err());
        s.add_request(1, vec![1, 2, 3], 3).unwrap();
        s.add_request(2, vec![4, 5], 3).unwrap();
        let out = s.schedule().unwrap();
        assert_eq!(out.scheduled.len(), 2);
        assert!(s.schedule().is_err());
        assert!(s.abort_request(1).is_err());
        assert!(s.on_step_finished(&[(1, 9)]).is_err()); // missing 2
        assert!(s.on_step_finished(&[(1, 9), (1, 9), (2, 9)]).is_err());
        assert!(s.on_step_finished(&[(1, 9), (2, 9), (3, 9)]).is_err());
        assert!(s.on_step_finished(&[(2, 8), (1, 9)]).unwrap().is_empty());
        assert_eq!(s.generated_tokens(1).unwrap(), [9]);
        s.abort_request(1).unwrap();
        assert_eq!(s.abort_request(1), Err(Error::UnknownSequence(1)));
        assert_eq!(s.num_running(), 1);
    }

    #[test]
    fn max_num_seqs_limits_admission() {
        let mut s = Scheduler::new(
            SchedulerConfig::default().max_num_seqs(2),
            CacheConfig::new(64).block_size(4),
        )
        .unwrap();
        for id in 0..3 {
            s.add_request(id, vec![1, 2, 3], 1).unwrap();
        }
        let out = s.schedule().unwrap();
        assert_eq!(out.scheduled.len(), 2);
        assert_eq!((s.num_running(), s.num_waiting()), (2, 1));
        assert_eq!(s.on_step_finished(&[(0, 1), (1, 1)]).unwrap(), [0, 1]);
        assert_eq!(s.schedule().unwrap().scheduled[0].id, 2);
    }

    #[test]
    fn long_prefill_threshold_caps_chunks() {
        let mut s = Scheduler::new(
            SchedulerConfig::default()
                .max_num_batched_tokens(100)
                .long_prefill_token_threshold(10),
            CacheConfig::new(64).block_size(4),
        )
        .unwrap();
        s.add_request(1, vec![0; 25], 1).unwrap();
        s.add_request(2, vec![1; 5], 1).unwrap();
        let out = s.schedule().unwrap();
        let lens: Vec<_> = out.scheduled.iter().map(|s| s.positions.len()).collect();
        assert_eq!(lens, [10, 5]);
        assert_eq!(out.num_batched_tokens, 15);
    }
}
