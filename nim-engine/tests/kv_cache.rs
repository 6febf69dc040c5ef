//! The paged KV-cache manager: prefix caching, LRU eviction, copy-on-write, errors, sizing,
//! and a property test over random operation sequences.

// Helpers outside #[test] functions unwrap too.
#![allow(clippy::unwrap_used)]

use std::collections::{HashMap, HashSet};

use nim_engine::Error;
use nim_engine::kv_cache::{BlockId, BlockManager, CacheConfig, CopyOnWrite, SeqId};
use proptest::prelude::*;

fn manager(blocks: usize, block_size: usize) -> BlockManager {
    BlockManager::new(
        CacheConfig::new(blocks)
            .block_size(block_size)
            .watermark(0.0),
    )
    .unwrap()
}

fn table(kv: &BlockManager, seq: SeqId) -> Vec<BlockId> {
    kv.block_table(seq).unwrap().to_vec()
}

#[test]
fn shared_system_prompt_reuses_full_blocks_only() {
    let mut kv = manager(16, 4);
    let system: Vec<u32> = (100..110).collect(); // 10 tokens: 2 full blocks + 2
    let mut a = system.clone();
    a.extend([1, 2, 3]);
    let mut b = system.clone();
    b.extend([7, 8, 9]);

    let first = kv.allocate(1, &system).unwrap();
    assert_eq!(first.num_cached_tokens, 0);
    assert_eq!(first.num_tokens, 10);
    assert_eq!(
        kv.num_cached_blocks(),
        2,
        "only the two full blocks are hashed"
    );

    // Same system prompt, another question: the two full blocks are reused, the partial
    // third block (tokens 8..10 of the system prompt) is not shared.
    let second = kv.allocate(2, &b).unwrap();
    assert_eq!(second.num_cached_tokens, 8);
    assert_eq!(second.num_tokens, 13);
    assert_eq!(second.num_blocks_taken, 2);
    let (t1, t2) = (table(&kv, 1), table(&kv, 2));
    assert_eq!(t1[..2], t2[..2]);
    assert_ne!(t1[2], t2[2]);
    assert_eq!(kv.ref_count(t1[0]).unwrap(), 2);
    assert_eq!(kv.ref_count(t1[2]).unwrap(), 1);

    // The first sequence grows its partial block; the second is unaffected.
    assert!(kv.append(1, &a[10..]).unwrap().is_empty());
    assert_eq!(table(&kv, 2), t2);

    let stats = kv.prefix_cache_stats();
    assert_eq!((stats.queries, stats.hits), (10 + 13, 8));
    assert!((stats.hit_rate() - 8.0 / 23.0).abs() < 1e-12);

    // After both finish, the cached blocks still serve a third request.
    kv.free(1).unwrap();
    kv.free(2).unwrap();
    assert_eq!(kv.num_free_blocks(), 16);
    let third = kv.allocate(3, &a).unwrap();
    // a = system + [1, 2, 3]: 13 tokens, blocks 0..3 full; the third block (108, 109, 1, 2)
    // was completed by sequence 1, so three blocks hit.
    assert_eq!(third.num_cached_tokens, 12);
    assert_eq!(table(&kv, 3)[..3], t1[..3]);
}

#[test]
fn different_prefix_same_block_tokens_do_not_hit() {
    let mut kv = manager(8, 2);
    kv.allocate(1, &[1, 2, 3, 4, 5]).unwrap();
    // Block (3, 4) is cached, but under parent (1, 2): no hit behind another first block.
    assert_eq!(kv.cached_prefix_len(&[9, 9, 3, 4, 5]), 0);
    assert_eq!(kv.cached_prefix_len(&[1, 2, 3, 4, 0]), 4);
    assert_eq!(kv.cached_prefix_len(&[1, 2, 3, 9, 0]), 2);
}

#[test]
fn cached_free_blocks_are_evicted_in_lru_order() {
    let mut kv = manager(6, 2);
    kv.allocate(1, &[1, 2, 3, 4]).unwrap(); // blocks A0 A1
    kv.allocate(2, &[5, 6, 7, 8]).unwrap(); // blocks B0 B1
    let (a, b) = (table(&kv, 1), table(&kv, 2));
    kv.free(1).unwrap();
    kv.free(2).unwrap();
    assert_eq!(kv.num_cached_blocks(), 4);

    // Never-used blocks first, then A's chain tail first, then B's.
    let order: Vec<_> = kv.free_blocks().collect();
    assert_eq!(order[2..], [a[1], a[0], b[1], b[0]]);

    // A new 5-token prompt needs 3 blocks: the two never used, then A's tail block, which
    // ends up as its partial last block.
    kv.allocate(3, &[20, 21, 22, 23, 24]).unwrap();
    assert_eq!(table(&kv, 3)[2], a[1]);
    assert_eq!(
        kv.block_hash(a[1]).unwrap(),
        None,
        "a block handed out loses its hash"
    );
    assert!(kv.block_hash(a[0]).unwrap().is_some());
    // A0, B0, B1, and the two full blocks of sequence 3.
    assert_eq!(kv.num_cached_blocks(), 5);

    // A's prompt now hits its first block only; B's prompt hits both.
    assert_eq!(kv.cached_prefix_len(&[1, 2, 3, 4, 0]), 2);
    assert_eq!(kv.cached_prefix_len(&[5, 6, 7, 8, 0]), 4);

    // A hit on a free cached block takes it out of the free queue before new blocks are
    // taken, so the allocation evicts A0 (the only other free block), not B's blocks.
    let hit = kv.allocate(4, &[5, 6, 7, 8, 0]).unwrap();
    assert_eq!(hit.num_cached_tokens, 4);
    assert_eq!(hit.num_blocks_taken, 3);
    assert_eq!(table(&kv, 4), [b[0], b[1], a[0]]);
    assert_eq!(kv.ref_count(b[0]).unwrap(), 1);
    assert_eq!(kv.num_free_blocks(), 0);
    assert_eq!(kv.cached_prefix_len(&[1, 2, 3, 4, 0]), 0);
}

#[test]
fn touching_a_cached_block_moves_it_to_the_back_when_freed_again() {
    let mut kv = manager(4, 2);
    kv.allocate(1, &[1, 2, 9]).unwrap(); // X = (1, 2) cached, plus a partial block
    kv.allocate(2, &[3, 4, 9]).unwrap(); // Y = (3, 4) cached, plus a partial block
    let (x, y) = (table(&kv, 1)[0], table(&kv, 2)[0]);
    kv.free(1).unwrap();
    kv.free(2).unwrap();
    // Partial blocks carry no hash and go to the front; X was freed before Y.
    let order: Vec<_> = kv.free_blocks().collect();
    assert_eq!(order[2..], [x, y]);
    // Reuse X, free it again: it is now the most recently used.
    kv.allocate(3, &[1, 2, 5]).unwrap();
    kv.free(3).unwrap();
    let order: Vec<_> = kv.free_blocks().collect();
    assert_eq!(order[2..], [y, x]);
}

#[test]
fn fork_then_append_into_shared_partial_block_copies_once() {
    let mut kv = manager(8, 4);
    kv.allocate(1, &[1, 2, 3, 4, 5, 6]).unwrap(); // one full block, one partial (2 of 4)
    kv.fork(1, 2).unwrap();
    let parent = table(&kv, 1);
    assert_eq!(table(&kv, 2), parent);
    assert_eq!(kv.ref_count(parent[0]).unwrap(), 2);
    assert_eq!(kv.ref_count(parent[1]).unwrap(), 2);
    let free_before = kv.num_free_blocks();

    let copies = kv.append(2, &[7]).unwrap();
    assert_eq!(copies.len(), 1);
    let CopyOnWrite { src, dst } = copies[0];
    assert_eq!(src, parent[1]);
    assert_ne!(dst, src);
    assert_eq!(table(&kv, 1), parent, "the parent's table is unchanged");
    assert_eq!(table(&kv, 2), [parent[0], dst]);
    assert_eq!(kv.ref_count(src).unwrap(), 1);
    assert_eq!(kv.ref_count(dst).unwrap(), 1);
    assert_eq!(kv.ref_count(parent[0]).unwrap(), 2);
    assert_eq!(kv.num_free_blocks(), free_before - 1);

    // The parent now owns its partial block alone: no copy.
    assert!(kv.append(1, &[8]).unwrap().is_empty());
    // Filling the child's block and starting another copies nothing.
    assert!(kv.append(2, &[9, 10]).unwrap().is_empty());
    assert_eq!(table(&kv, 2).len(), 3);

    // The slots differ where the sequences diverged.
    let p = kv.slot_mapping(1, 4..7).unwrap();
    let c = kv.slot_mapping(2, 4..7).unwrap();
    assert!(p.iter().zip(&c).all(|(a, b)| a != b));
    assert_eq!(
        kv.slot_mapping(1, 0..4).unwrap(),
        kv.slot_mapping(2, 0..4).unwrap()
    );
}

#[test]
fn fork_of_full_last_block_needs_no_copy() {
    let mut kv = manager(4, 2);
    kv.allocate(1, &[1, 2]).unwrap();
    kv.fork(1, 2).unwrap();
    assert!(kv.append(2, &[3]).unwrap().is_empty());
    assert_eq!(table(&kv, 1).len(), 1);
    assert_eq!(table(&kv, 2).len(), 2);
}

#[test]
fn copy_on_write_without_free_block_fails_cleanly() {
    let mut kv = manager(2, 4);
    kv.allocate(1, &[1, 2, 3, 4, 5]).unwrap();
    kv.fork(1, 2).unwrap();
    assert_eq!(kv.num_free_blocks(), 0);
    let err = kv.append(2, &[6]).unwrap_err();
    assert!(matches!(
        err,
        Error::OutOfBlocks {
            needed: 1,
            free: 0,
            total: 2
        }
    ));
    assert_eq!(table(&kv, 2), table(&kv, 1));
    assert_eq!(kv.num_tokens(2).unwrap(), 5);
}

#[test]
fn errors_instead_of_panics() {
    let mut kv = manager(4, 4);
    kv.allocate(1, &[1, 2, 3]).unwrap();
    assert_eq!(kv.allocate(1, &[1]), Err(Error::DuplicateSequence(1)));
    assert_eq!(kv.append(9, &[1]), Err(Error::UnknownSequence(9)));
    assert_eq!(kv.fork(9, 10), Err(Error::UnknownSequence(9)));
    assert_eq!(kv.fork(1, 1), Err(Error::DuplicateSequence(1)));
    assert!(kv.block_table(9).is_err());
    assert!(kv.slot_mapping(1, 2..4).is_err());
    #[allow(clippy::reversed_empty_ranges)]
    let backwards = 3..1;
    assert!(kv.slot_mapping(1, backwards).is_err());
    assert!(kv.slot_mapping(1, 3..3).unwrap().is_empty());
    assert!(matches!(
        kv.allocate(2, &[0; 17]),
        Err(Error::OutOfBlocks {
            needed: 5,
            free: 3,
            total: 4
        })
    ));
    assert!(!kv.contains(2));
    kv.free(1).unwrap();
    assert_eq!(kv.free(1), Err(Error::UnknownSequence(1)));
    assert_eq!(kv.num_free_blocks(), 4);
    assert_eq!(kv.usage(), 0.0);
}

#[test]
fn usage_counts_shared_blocks_once() {
    let mut kv = manager(10, 2);
    kv.allocate(1, &[1, 2, 3, 4, 5]).unwrap();
    assert!((kv.usage() - 0.3).abs() < 1e-12);
    kv.fork(1, 2).unwrap();
    assert!((kv.usage() - 0.3).abs() < 1e-12);
    kv.allocate(3, &[1, 2, 3, 4, 6]).unwrap(); // two hits, one new block
    assert!((kv.usage() - 0.4).abs() < 1e-12);
}

#[test]
fn capacity_from_nim_sizing() {
    use nim_sizing::{ModelCatalog, Sizing, gpu};
    let model = ModelCatalog::builtin()
        .lookup("meta/llama-3.1-8b-instruct")
        .unwrap()
        .arch
        .clone();
    let gpu = gpu::builtin().lookup("h100-sxm-80gb").unwrap().clone();
    let plan = Sizing::new(model, gpu).max_model_len(8192).plan().unwrap();
    assert!(plan.fits);

    let from_plan = CacheConfig::from_plan(&plan).unwrap();
    assert_eq!(from_plan.num_blocks as u64, plan.kv_cache_blocks);
    assert_eq!(from_plan.block_size as u64, plan.kv_block_size);

    let from_budget = CacheConfig::from_budget(
        plan.kv_cache_bytes_per_gpu,
        plan.kv_bytes_per_token_per_gpu,
        from_plan.block_size,
    )
    .unwrap();
    assert_eq!(from_budget, from_plan);
    let kv = BlockManager::new(from_plan).unwrap();
    assert_eq!(kv.num_free_blocks() as u64, plan.kv_cache_blocks);

    let mut tight = plan.clone();
    tight.fits = false;
    assert!(CacheConfig::from_plan(&tight).is_err());
    let mut empty = plan;
    empty.kv_cache_blocks = 0;
    assert!(CacheConfig::from_plan(&empty).is_err());
}

// ---- Property test -------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Op {
    Allocate(SeqId, Vec<u32>),
    AllocateChunk(SeqId, Vec<u32>, usize),
    Append(SeqId, Vec<u32>),
    Fork(SeqId, SeqId),
    Free(SeqId),
    ResetPrefixCache,
}

fn tokens(max: usize) -> impl Strategy<Value = Vec<u32>> {
    // A tiny vocabulary makes shared prefixes, and so prefix hits, common.
    prop::collection::vec(0u32..2, 0..max)
}

fn op() -> impl Strategy<Value = Op> {
    let seq = 0u64..6;
    prop_oneof![
        4 => (seq.clone(), tokens(16)).prop_map(|(s, t)| Op::Allocate(s, t)),
        2 => (seq.clone(), tokens(16), 0usize..8).prop_map(|(s, t, n)| Op::AllocateChunk(s, t, n)),
        6 => (seq.clone(), tokens(6)).prop_map(|(s, t)| Op::Append(s, t)),
        2 => (seq.clone(), seq.clone()).prop_map(|(p, c)| Op::Fork(p, c)),
        4 => seq.prop_map(Op::Free),
        1 => Just(Op::ResetPrefixCache),
    ]
}

/// What the manager should hold, and what the backend would have written: for each cache
/// slot, the token prefix whose last token's K/V it holds (K/V depend on the whole prefix).
struct Model {
    seqs: HashMap<SeqId, Vec<u32>>,
    slots: HashMap<i64, Vec<u32>>,
    block_size: usize,
}

impl Model {
    fn apply_copies(&mut self, copies: &[CopyOnWrite]) {
        let bs = self.block_size as i64;
        for c in copies {
            for off in 0..bs {
                let src = i64::from(c.src) * bs + off;
                let dst = i64::from(c.dst) * bs + off;
                match self.slots.get(&src).cloned() {
                    Some(v) => self.slots.insert(dst, v),
                    None => self.slots.remove(&dst),
                };
            }
        }
    }

    fn write(&mut self, kv: &BlockManager, seq: SeqId, from: usize) {
        let tokens = self.seqs[&seq].clone();
        let slots = kv.slot_mapping(seq, from..tokens.len()).unwrap();
        for (pos, slot) in (from..tokens.len()).zip(slots) {
            self.slots.insert(slot, tokens[..=pos].to_vec());
        }
    }
}

fn check(kv: &BlockManager, model: &Model) -> Result<(), TestCaseError> {
    let total = kv.num_total_blocks();
    let free: Vec<BlockId> = kv.free_blocks().collect();
    let free_set: HashSet<BlockId> = free.iter().copied().collect();
    prop_assert_eq!(
        free.len(),
        free_set.len(),
        "a block is twice in the free queue"
    );
    prop_assert_eq!(free.len(), kv.num_free_blocks());

    let mut owners: HashMap<BlockId, u32> = HashMap::new();
    let mut live: HashSet<SeqId> = kv.sequences().collect();
    for (&seq, tokens) in &model.seqs {
        prop_assert!(live.remove(&seq), "sequence {} missing", seq);
        let t = kv.block_table(seq).unwrap();
        prop_assert_eq!(kv.num_tokens(seq).unwrap(), tokens.len());
        prop_assert_eq!(t.len(), tokens.len().div_ceil(kv.block_size()));
        let distinct: HashSet<_> = t.iter().collect();
        prop_assert_eq!(distinct.len(), t.len(), "a block twice in one table");
        for &b in t {
            *owners.entry(b).or_default() += 1;
        }
        // Every token's slot holds the K/V of exactly this sequence's prefix: prefix hits
        // served the right blocks and copy-on-write kept writers apart.
        let slots = kv.slot_mapping(seq, 0..tokens.len()).unwrap();
        for (pos, slot) in slots.iter().enumerate() {
            prop_assert_eq!(
                model.slots.get(slot).map(Vec::as_slice),
                Some(&tokens[..=pos]),
                "sequence {} position {}",
                seq,
                pos
            );
        }
    }
    prop_assert!(live.is_empty(), "unexpected sequences {:?}", live);

    for b in 0..total as BlockId {
        let rc = kv.ref_count(b).unwrap();
        let owned = owners.get(&b).copied().unwrap_or(0);
        prop_assert_eq!(rc, owned, "block {}: ref count vs owners", b);
        prop_assert!(
            (rc == 0) == free_set.contains(&b),
            "block {} is both free and owned, or neither",
            b
        );
    }
    let used = total - kv.num_free_blocks();
    prop_assert_eq!(used, owners.len());
    prop_assert!((kv.usage() - used as f64 / total as f64).abs() < 1e-12);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn manager_invariants(
        ops in prop::collection::vec(op(), 1..80),
        num_blocks in 1usize..12,
        block_size in 1usize..5,
        watermark in prop_oneof![Just(0.0), Just(0.2)],
        prefix_caching in any::<bool>(),
    ) {
        let config = CacheConfig::new(num_blocks)
            .block_size(block_size)
            .watermark(watermark)
            .prefix_caching(prefix_caching);
        let mut kv = BlockManager::new(config).unwrap();
        let mut model = Model { seqs: HashMap::new(), slots: HashMap::new(), block_size };

        for op in ops {
            let free_before = kv.num_free_blocks();
            match op {
                Op::Allocate(seq, t) | Op::AllocateChunk(seq, t, _) if model.seqs.contains_key(&seq) => {
                    prop_assert_eq!(kv.allocate(seq, &t), Err(Error::DuplicateSequence(seq)));
                }
                Op::Allocate(seq, t) => match kv.allocate(seq, &t) {
                    Ok(a) => {
                        prop_assert_eq!(a.num_tokens, t.len());
                        prop_assert!(a.num_cached_tokens < t.len().max(1));
                        prop_assert_eq!(a.num_cached_tokens % block_size, 0);
                        prop_assert!(prefix_caching || a.num_cached_tokens == 0);
                        prop_assert_eq!(free_before - kv.num_free_blocks(), a.num_blocks_taken);
                        model.seqs.insert(seq, t);
                        model.write(&kv, seq, a.num_cached_tokens);
                    }
                    Err(Error::OutOfBlocks { free, total, .. }) => {
                        prop_assert_eq!((free, total), (free_before, num_blocks));
                        prop_assert!(!kv.contains(seq));
                    }
                    Err(e) => prop_assert!(false, "unexpected {:?}", e),
                },
                Op::AllocateChunk(seq, t, n) => match kv.allocate_chunk(seq, &t, n) {
                    Ok(a) => {
                        prop_assert!(a.num_tokens - a.num_cached_tokens <= n);
                        model.seqs.insert(seq, t[..a.num_tokens].to_vec());
                        model.write(&kv, seq, a.num_cached_tokens);
                    }
                    Err(Error::OutOfBlocks { .. }) => prop_assert!(!kv.contains(seq)),
                    Err(e) => prop_assert!(false, "unexpected {:?}", e),
                },
                Op::Append(seq, t) => match kv.append(seq, &t) {
                    Ok(copies) => {
                        let from = model.seqs[&seq].len();
                        prop_assert!(copies.len() <= 1);
                        if let Some(c) = copies.first() {
                            prop_assert_eq!(kv.block_table(seq).unwrap()[from / block_size], c.dst);
                        }
                        model.apply_copies(&copies);
                        model.seqs.get_mut(&seq).unwrap().extend_from_slice(&t);
                        model.write(&kv, seq, from);
                    }
                    Err(Error::UnknownSequence(s)) => {
                        prop_assert_eq!(s, seq);
                        prop_assert!(!model.seqs.contains_key(&seq));
                    }
                    Err(Error::OutOfBlocks { .. }) => {
                        prop_assert!(model.seqs.contains_key(&seq));
                        prop_assert_eq!(kv.num_free_blocks(), free_before);
                    }
                    Err(e) => prop_assert!(false, "unexpected {:?}", e),
                },
                Op::Fork(parent, child) => match kv.fork(parent, child) {
                    Ok(()) => {
                        let tokens = model.seqs[&parent].clone();
                        model.seqs.insert(child, tokens);
                        prop_assert_eq!(kv.num_free_blocks(), free_before);
                    }
                    Err(Error::DuplicateSequence(c)) => {
                        prop_assert_eq!(c, child);
                        prop_assert!(model.seqs.contains_key(&child));
                    }
                    Err(Error::UnknownSequence(p)) => {
                        prop_assert_eq!(p, parent);
                        prop_assert!(!model.seqs.contains_key(&parent));
                    }
                    Err(e) => prop_assert!(false, "unexpected {:?}", e),
                },
                Op::Free(seq) => {
                    let result = kv.free(seq);
                    if model.seqs.remove(&seq).is_some() {
                        prop_assert_eq!(result, Ok(()));
                    } else {
                        prop_assert_eq!(result, Err(Error::UnknownSequence(seq)));
                    }
                }
                Op::ResetPrefixCache => {
                    kv.reset_prefix_cache();
                    prop_assert_eq!(kv.num_cached_blocks(), 0);
                }
            }
            check(&kv, &model)?;
        }

        // Freeing everything returns every block.
        let seqs: Vec<SeqId> = model.seqs.keys().copied().collect();
        for seq in seqs {
            kv.free(seq).unwrap();
            model.seqs.remove(&seq);
            check(&kv, &model)?;
        }
        prop_assert_eq!(kv.num_free_blocks(), num_blocks);
        prop_assert_eq!(kv.usage(), 0.0);
        let mut all: Vec<BlockId> = kv.free_blocks().collect();
        all.sort_unstable();
        prop_assert_eq!(all, (0..num_blocks as BlockId).collect::<Vec<_>>());
    }
}
