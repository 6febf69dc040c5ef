//! The continuous-batching scheduler against a simulated backend that records what each
//! cache slot holds, so every step checks that each scheduled request attends to exactly its
//! own tokens' K/V (prefix hits, recompute after preemption and chunking included).

// Helpers outside #[test] functions unwrap too.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;

use nim_engine::kv_cache::{CacheConfig, SeqId};
use nim_engine::metrics::MetricNames;
use nim_engine::scheduler::{Scheduler, SchedulerConfig, SchedulerOutput};
use proptest::prelude::*;

/// A deterministic "model": the token sampled after `len` tokens of request `id`.
fn sample(id: SeqId, len: usize) -> u32 {
    1000 + ((id as usize * 31 + len * 7) % 97) as u32
}

/// A backend that runs no model: it writes, for each slot, the token prefix whose K/V the slot
/// would hold, and checks each scheduled request's whole context before "attending".
struct Sim {
    sched: Scheduler,
    slots: HashMap<i64, Vec<u32>>,
    history: HashMap<SeqId, Vec<u32>>,
    prompt_len: HashMap<SeqId, usize>,
    outputs: HashMap<SeqId, Vec<u32>>,
    finished: Vec<SeqId>,
    preemptions: u64,
}

impl Sim {
    fn new(config: SchedulerConfig, cache: CacheConfig) -> Self {
        Self {
            sched: Scheduler::new(config, cache).unwrap(),
            slots: HashMap::new(),
            history: HashMap::new(),
            prompt_len: HashMap::new(),
            outputs: HashMap::new(),
            finished: Vec::new(),
            preemptions: 0,
        }
    }

    fn add(&mut self, id: SeqId, prompt: Vec<u32>, max_new: usize) {
        self.sched.add_request(id, prompt.clone(), max_new).unwrap();
        self.prompt_len.insert(id, prompt.len());
        self.history.insert(id, prompt);
        self.outputs.insert(id, Vec::new());
    }

    fn step(&mut self) -> SchedulerOutput {
        let running_before = self.sched.running().to_vec();
        let out = self.sched.schedule().unwrap();
        let budget = self.sched.config().max_num_batched_tokens;
        let bs = self.sched.block_manager().block_size();

        // The budget holds, and the batch adds up.
        assert!(out.num_batched_tokens <= budget);
        let sum: usize = out.scheduled.iter().map(|s| s.positions.len()).sum();
        assert_eq!(sum, out.num_batched_tokens);
        assert!(out.scheduled.len() <= self.sched.config().max_num_seqs);

        // Preemption by recompute, newest first: the victims are the tail of the running list.
        let k = out.preempted.len();
        let mut newest: Vec<SeqId> = running_before[running_before.len() - k..].to_vec();
        newest.reverse();
        assert_eq!(
            out.preempted, newest,
            "victims must be the newest running requests"
        );
        self.preemptions += k as u64;
        for id in &out.preempted {
            assert!(self.sched.waiting().any(|w| w == *id));
        }

        for c in &out.copy_on_write {
            for off in 0..bs as i64 {
                let src = i64::from(c.src) * bs as i64 + off;
                if let Some(v) = self.slots.get(&src).cloned() {
                    self.slots.insert(i64::from(c.dst) * bs as i64 + off, v);
                }
            }
        }
        // Every layer writes all scheduled tokens' K/V before attention.
        for s in &out.scheduled {
            let hist = &self.history[&s.id];
            assert_eq!(s.token_ids, hist[s.positions.clone()]);
            assert_eq!(s.slot_mapping.len(), s.positions.len());
            for (pos, &slot) in s.positions.clone().zip(&s.slot_mapping) {
                self.slots.insert(slot, hist[..=pos].to_vec());
            }
        }
        // Attention reads positions 0..end through the block table.
        for s in &out.scheduled {
            let hist = &self.history[&s.id];
            assert!(s.block_table.len() * bs >= s.positions.end);
            for pos in 0..s.positions.end {
                let slot = i64::from(s.block_table[pos / bs]) * bs as i64 + (pos % bs) as i64;
                assert_eq!(
                    self.slots.get(&slot).map(Vec::as_slice),
                    Some(&hist[..=pos]),
                    "request {} position {pos} reads the wrong K/V",
                    s.id
                );
            }
            assert_eq!(s.samples, s.positions.end == hist.len());
        }

        let sampled: Vec<(SeqId, u32)> = out
            .scheduled
            .iter()
            .filter(|s| s.samples)
            .map(|s| (s.id, sample(s.id, s.positions.end)))
            .collect();
        for &(id, token) in &sampled {
            self.history.get_mut(&id).unwrap().push(token);
            self.outputs.get_mut(&id).unwrap().push(token);
        }
        let finished = self.sched.on_step_finished(&sampled).unwrap();
        self.finished.extend(finished);
        out
    }

    fn run_to_completion(&mut self, max_steps: usize) -> usize {
        let mut steps = 0;
        while self.sched.has_unfinished_requests() {
            assert!(steps < max_steps, "no progress after {max_steps} steps");
            self.step();
            steps += 1;
        }
        steps
    }

    /// Every output is what the deterministic model yields, whatever the preemptions.
    fn check_outputs(&self, max_new: &HashMap<SeqId, usize>) {
        for (&id, out) in &self.outputs {
            let p = self.prompt_len[&id];
            let expected: Vec<u32> = (0..max_new[&id]).map(|j| sample(id, p + j)).collect();
            assert_eq!(out, &expected, "request {id}");
        }
    }

    fn assert_drained(&self) {
        let kv = self.sched.block_manager();
        assert_eq!(kv.num_sequences(), 0);
        assert_eq!(kv.num_free_blocks(), kv.num_total_blocks(), "leaked blocks");
        assert_eq!((self.sched.num_running(), self.sched.num_waiting()), (0, 0));
        let m = self.sched.metrics();
        assert_eq!(m.num_requests_running(), 0);
        assert_eq!(m.num_requests_waiting(), 0);
        assert_eq!(m.gpu_cache_usage_perc(), 0.0);
        assert_eq!(m.num_preemptions(), self.preemptions);
    }
}

fn prompt(id: SeqId, len: usize) -> Vec<u32> {
    (0..len).map(|i| (id as u32) * 100 + i as u32).collect()
}

#[test]
fn preemption_newest_first_and_everyone_finishes() {
    let cache = CacheConfig::new(10).block_size(4).watermark(0.0);
    let mut sim = Sim::new(SchedulerConfig::default().max_num_batched_tokens(64), cache);
    let mut max_new = HashMap::new();
    for id in 0..4 {
        sim.add(id, prompt(id, 8), 12);
        max_new.insert(id, 12);
    }

    // Step 1: all four prompts fit (8 of 10 blocks).
    let out = sim.step();
    assert_eq!(out.scheduled.len(), 4);
    assert!(out.scheduled.iter().all(|s| s.is_prefill && s.samples));

    // Step 2: every request needs a third block; two are free. Request 3 (the newest) is
    // preempted to make room for request 2.
    let out = sim.step();
    assert_eq!(out.preempted, [3]);
    assert_eq!(sim.sched.running(), [0, 1, 2]);
    assert_eq!(sim.sched.waiting().collect::<Vec<_>>(), [3]);
    assert_eq!(sim.sched.num_preemptions(3).unwrap(), 1);
    assert_eq!(sim.sched.metrics().num_preemptions(), 1);
    assert!(
        sim.sched
            .render_prometheus()
            .unwrap()
            .contains("\nnum_preemptions_total 1\n")
    );
    // The preempted request keeps its generated token, to recompute with its prompt.
    assert_eq!(sim.sched.generated_tokens(3).unwrap().len(), 1);

    let steps = sim.run_to_completion(200);
    assert!(steps > 12);
    assert!(sim.preemptions >= 2);
    let mut finished = sim.finished.clone();
    finished.sort_unstable();
    assert_eq!(finished, [0, 1, 2, 3]);
    sim.check_outputs(&max_new);
    sim.assert_drained();
}

#[test]
fn recompute_is_a_prefill_of_prompt_and_generated_tokens() {
    // Prefix caching off: the recompute covers every token again.
    let cache = CacheConfig::new(4)
        .block_size(2)
        .watermark(0.0)
        .prefix_caching(false);
    let mut sim = Sim::new(SchedulerConfig::default(), cache);
    sim.add(1, prompt(1, 3), 4); // needs 3 blocks at its longest
    sim.add(2, prompt(2, 2), 3);
    sim.step(); // both prefilled: 2 + 1 blocks
    let out = sim.step(); // 1 appends into its partial block, 2 needs a block: 1 free
    assert!(out.preempted.is_empty());
    let out = sim.step(); // 1 needs its third block: none free, 2 is preempted
    assert_eq!(out.preempted, [2]);
    let mut resumed = None;
    for _ in 0..20 {
        let out = sim.step();
        if let Some(s) = out.scheduled.iter().find(|s| s.id == 2) {
            resumed = Some(s.clone());
            break;
        }
    }
    let resumed = resumed.expect("request 2 resumes");
    assert!(resumed.is_prefill);
    assert_eq!(resumed.positions.start, 0);
    // Its prompt and the tokens generated before preemption, all recomputed at once.
    assert_eq!(resumed.positions.end, sim.history[&2].len() - 1);
    assert!(resumed.positions.end > 2);
    sim.run_to_completion(50);
    sim.assert_drained();
}

#[test]
fn chunked_prefill_respects_the_token_budget() {
    let cache = CacheConfig::new(64).block_size(4);
    let mut sim = Sim::new(SchedulerConfig::default().max_num_batched_tokens(16), cache);
    sim.add(1, prompt(1, 5), 10);
    let out = sim.step();
    assert_eq!(out.scheduled[0].positions, 0..5);

    // A 40-token prompt arrives while request 1 decodes: the decode goes first, the prompt
    // fills the rest of each step's budget.
    sim.add(2, prompt(2, 40), 2);
    let mut chunks = Vec::new();
    loop {
        let out = sim.step();
        assert_eq!(out.scheduled.len(), 2);
        assert_eq!(out.num_batched_tokens, 1 + out.scheduled[1].positions.len());
        assert_eq!(out.scheduled[0].id, 1);
        assert_eq!(out.scheduled[0].positions.len(), 1);
        assert!(!out.scheduled[0].is_prefill);
        let chunk = &out.scheduled[1];
        assert_eq!(chunk.id, 2);
        assert!(chunk.is_prefill);
        chunks.push(chunk.positions.clone());
        if chunk.samples {
            break;
        }
    }
    // 15 + 15 + 10: each full step spends the whole budget of 16.
    assert_eq!(chunks, [0..15, 15..30, 30..40]);
    sim.run_to_completion(50);
    sim.assert_drained();
}

#[test]
fn without_chunked_prefill_a_prompt_waits_for_room_in_the_budget() {
    let cache = CacheConfig::new(64).block_size(4);
    let config = SchedulerConfig::default()
        .max_num_batched_tokens(10)
        .chunked_prefill(false);
    let mut sim = Sim::new(config, cache);
    sim.add(1, prompt(1, 6), 2);
    sim.add(2, prompt(2, 6), 2);
    let out = sim.step();
    assert_eq!(
        out.scheduled.len(),
        1,
        "6 + 6 tokens exceed the budget of 10"
    );
    let out = sim.step();
    assert_eq!(out.scheduled.len(), 2);
    assert_eq!(out.scheduled[1].positions, 0..6);
    sim.run_to_completion(10);
    sim.assert_drained();
}

#[test]
fn admission_keeps_the_watermark() {
    // 10 blocks, watermark 0.2: admission leaves 2 blocks free.
    let cache = CacheConfig::new(10).block_size(4).watermark(0.2);
    let mut sim = Sim::new(SchedulerConfig::default(), cache);
    sim.add(1, prompt(1, 24), 1); // 6 blocks
    sim.add(2, prompt(2, 12), 1); // 3 blocks: 6 + 3 > 10 - 2
    let out = sim.step();
    assert_eq!(out.scheduled.len(), 1);
    assert_eq!(sim.finished, [1]);
    let out = sim.step();
    assert_eq!(out.scheduled[0].id, 2);
    sim.assert_drained();
    // A request that could never be admitted is rejected up front.
    assert!(sim.sched.add_request(9, prompt(9, 33), 1).is_err());
}

#[test]
fn shared_system_prompt_hits_the_prefix_cache() {
    let cache = CacheConfig::new(32).block_size(4);
    let mut sim = Sim::new(SchedulerConfig::default(), cache);
    let system: Vec<u32> = (500..510).collect();
    let with = |q: &[u32]| [system.as_slice(), q].concat();
    sim.add(1, with(&[1, 2]), 3);
    sim.run_to_completion(10);
    sim.add(2, with(&[3, 4, 5]), 3);
    let out = sim.step();
    // Two full blocks of the system prompt are cached; the partial third is recomputed.
    assert_eq!(out.scheduled[0].positions, 8..13);
    let m = sim.sched.metrics();
    assert_eq!(m.prefix_cache_queries(), 12 + 13);
    assert_eq!(m.prefix_cache_hits(), 8);
    sim.run_to_completion(10);
    sim.assert_drained();
}

#[test]
fn prometheus_text_has_nim_names_and_values() {
    let cache = CacheConfig::new(10).block_size(4).watermark(0.0);
    let config = SchedulerConfig::default().max_num_seqs(3);
    let mut sim = Sim::new(config, cache);
    let system: Vec<u32> = (500..508).collect();
    sim.add(1, [system.as_slice(), &[1]].concat(), 1);
    sim.run_to_completion(5);
    for id in 2..=5 {
        sim.add(id, [system.as_slice(), &[id as u32]].concat(), 4);
    }
    sim.step();
    // Requests 2..=4 run (max_num_seqs 3) sharing the system prompt's two cached blocks, each
    // with one block of its own: 5 of 10 blocks used. Request 5 waits.
    let text = sim.sched.render_prometheus().unwrap();
    for line in [
        "# TYPE gpu_cache_usage_perc gauge",
        "gpu_cache_usage_perc 0.5",
        "num_requests_running 3",
        "num_requests_waiting 1",
        "num_request_max 3",
        "# TYPE num_preemptions counter",
        "num_preemptions_total 0",
        "# TYPE prefix_cache_queries counter",
        "prefix_cache_queries_total 36",
        "prefix_cache_hits_total 24",
        "prompt_tokens_total 36",
        "generation_tokens_total 4",
        "# EOF",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in:\n{text}"
        );
    }
    assert!(!text.contains("vllm:"));
    sim.run_to_completion(50);
    sim.assert_drained();
    let text = sim.sched.render_prometheus().unwrap();
    assert!(
        text.lines().any(|l| l == "gpu_cache_usage_perc 0.0"),
        "{text}"
    );
}

#[test]
fn prometheus_text_with_vllm_names_and_model_label() {
    let config = SchedulerConfig::default()
        .metric_names(MetricNames::Vllm)
        .model_name("meta/llama-3.1-8b-instruct");
    let mut sched = Scheduler::new(config, CacheConfig::new(8).block_size(4)).unwrap();
    sched.add_request(1, vec![1, 2, 3], 2).unwrap();
    sched.schedule().unwrap();
    let text = sched.render_prometheus().unwrap();
    let label = "{model_name=\"meta/llama-3.1-8b-instruct\"}";
    for line in [
        format!("vllm:kv_cache_usage_perc{label} 0.125"),
        format!("vllm:num_requests_running{label} 1"),
        format!("vllm:num_requests_waiting{label} 0"),
        format!("vllm:num_preemptions_total{label} 0"),
        format!("vllm:prefix_cache_queries_total{label} 3"),
        format!("vllm:prefix_cache_hits_total{label} 0"),
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in:\n{text}"
        );
    }
    assert!(!text.contains("num_request_max"));
}

#[test]
fn abort_frees_blocks() {
    let mut sim = Sim::new(
        SchedulerConfig::default(),
        CacheConfig::new(8).block_size(4),
    );
    sim.add(1, prompt(1, 9), 5);
    sim.add(2, prompt(2, 3), 5);
    sim.step();
    sim.sched.abort_request(1).unwrap();
    sim.sched.abort_request(2).unwrap();
    sim.assert_drained();
    assert!(sim.sched.schedule().unwrap().is_empty());
    assert!(sim.sched.on_step_finished(&[]).unwrap().is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any workload that passes admission checks finishes, with the budget kept every step,
    /// each request attending to its own K/V, the outputs unaffected by preemption, and no
    /// block leaked.
    #[test]
    fn random_workloads_finish_without_leaks(
        (num_blocks, block_size, requests) in (6usize..24, 1usize..5).prop_flat_map(|(n, bs)| {
            // Requests sized against the pool, so that several compete for it.
            let cap = n * bs;
            let request = (1..=cap / 2, 1..=(cap / 3).max(1), 0u32..3);
            (Just(n), Just(bs), prop::collection::vec(request, 1..12))
        }),
        budget in 1usize..40,
        max_num_seqs in 1usize..6,
        chunked in any::<bool>(),
        prefix in any::<bool>(),
    ) {
        let cache = CacheConfig::new(num_blocks)
            .block_size(block_size)
            .watermark(0.1)
            .prefix_caching(prefix);
        let config = SchedulerConfig::default()
            .max_num_batched_tokens(budget)
            .max_num_seqs(max_num_seqs)
            .chunked_prefill(chunked);
        let mut sim = Sim::new(config, cache);
        let mut max_new = HashMap::new();
        for (id, &(len, new, family)) in requests.iter().enumerate() {
            let id = id as SeqId;
            // Requests of one family share a prompt prefix.
            let p: Vec<u32> = (0..len as u32).map(|i| if i < 8 { family * 10 + i } else { 100 + id as u32 }).collect();
            if sim.sched.add_request(id, p.clone(), new).is_ok() {
                sim.prompt_len.insert(id, p.len());
                sim.history.insert(id, p);
                sim.outputs.insert(id, Vec::new());
                max_new.insert(id, new);
            }
        }
        sim.run_to_completion(2000);
        prop_assert_eq!(sim.finished.len(), max_new.len());
        sim.check_outputs(&max_new);
        sim.assert_drained();
    }
}
