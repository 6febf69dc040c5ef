//! The paged KV-cache manager: pure bookkeeping over a pool of fixed-size blocks, no tensors.
//!
//! The KV cache is split into `num_blocks` blocks of `block_size` token slots each. Every
//! sequence owns a *block table* (logical block `i` → physical [`BlockId`]); the backend
//! writes a token's K and V at its *slot*, `block * block_size + offset`
//! ([`BlockManager::slot_mapping`]) and reads a sequence's blocks through its table.
//!
//! The design follows vLLM's V1 `BlockPool` / `KVCacheManager`:
//!
//! * **Reference counts.** A block may be owned by several sequences ([`BlockManager::fork`]
//!   for parallel sampling, or a prefix-cache hit). Its reference count is the number of block
//!   tables that hold it; a block is free exactly when that count is zero.
//! * **Copy-on-write.** Appending into a *partial* last block that another sequence also owns
//!   first moves the writer onto a fresh block and returns a [`CopyOnWrite`] instruction
//!   (`src` → `dst`) for the backend to copy the slots already written. Full shared blocks are
//!   never written again, so they are never copied.
//! * **Prefix caching.** Every *full* block is hashed; the hash chains the parent block's hash
//!   and the block's token ids, so equal hashes mean equal prefixes. A new sequence reuses the
//!   longest run of cached full blocks of its prompt, capped at `len - 1` tokens because the
//!   last prompt token must be computed to get logits (vLLM's `max_cache_hit_length`).
//!   A freed block keeps its hash and stays reusable until the pool hands it out again
//!   (lazy eviction).
//! * **Free-block queue.** Free blocks sit in an intrusive doubly linked list threaded through
//!   the block array, so allocating (pop front), freeing (push) and touching a cached free
//!   block on a hit (unlink from the middle) are all O(1) and allocate nothing. The front is
//!   evicted first: freed hashed blocks join the back (least recently used first; a sequence
//!   frees its blocks tail first so a chain loses its end before its start), freed blocks
//!   without a hash join the front, since nothing is lost by reusing them.
//! * **Watermark.** [`BlockManager::allocate`] keeps `watermark × num_blocks` blocks free so a
//!   newly admitted sequence does not immediately force running ones into preemption;
//!   [`BlockManager::append`] may use every block.
//!
//! Hashes are 128-bit and keyed per manager with random SipHash keys, so chains are neither
//! predictable across processes (vLLM's CVE-2025-25183 came from a predictable root hash) nor
//! likely to collide by accident.
//!
//! # Contract with the backend
//!
//! A block enters the prefix cache as soon as its last slot is *allocated*, as in vLLM: the
//! backend must therefore write the K and V of every token scheduled in a step for a layer
//! before it runs that layer's attention (as vLLM's `reshape_and_cache` does), so that a
//! sequence hitting a block filled in the same step reads what that step writes. Allocate and
//! append slots only for tokens the next step computes.
//!
//! # Example
//!
//! ```
//! use nim_engine::kv_cache::{BlockManager, CacheConfig};
//!
//! let mut kv = BlockManager::new(CacheConfig::new(8).block_size(4))?;
//! // A system prompt of 8 tokens plus a question: 3 blocks, the last one partial.
//! let prompt_a = [1, 2, 3, 4, 5, 6, 7, 8, 100, 101];
//! let a = kv.allocate(1, &prompt_a)?;
//! assert_eq!(a.num_cached_tokens, 0);
//! assert_eq!(kv.block_table(1)?.len(), 3);
//!
//! // A second request with the same system prompt reuses its two full blocks.
//! let prompt_b = [1, 2, 3, 4, 5, 6, 7, 8, 200];
//! let b = kv.allocate(2, &prompt_b)?;
//! assert_eq!(b.num_cached_tokens, 8);
//! assert_eq!(kv.block_table(2)?[..2], kv.block_table(1)?[..2]);
//!
//! // Decode one token: slot = block * block_size + offset, for the backend's cache write.
//! kv.append(2, &[201])?;
//! let slots = kv.slot_mapping(2, 9..10)?;
//! assert_eq!(slots, [i64::from(kv.block_table(2)?[2]) * 4 + 1]);
//!
//! kv.free(1)?;
//! kv.free(2)?;
//! assert_eq!(kv.num_free_blocks(), 8);
//! assert!(kv.free(2).is_err()); // double free
//! # Ok::<(), nim_engine::Error>(())
//! ```

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, Hasher, RandomState};
use std::ops::Range;

use crate::error::{Error, Result};

/// A sequence (request) id.
pub type SeqId = u64;

/// A physical block id: an index into the KV-cache tensors' block dimension.
pub type BlockId = u32;

/// Tokens per block unless configured otherwise (vLLM's CUDA default).
pub const DEFAULT_BLOCK_SIZE: usize = 16;

/// The fraction of blocks [`BlockManager::allocate`] keeps free unless configured otherwise
/// (vLLM's default watermark).
pub const DEFAULT_WATERMARK: f64 = 0.01;

/// End of the free list.
const NIL: u32 = u32::MAX;

/// The shape of the block pool and its policies.
#[derive(Clone, Debug, PartialEq)]
pub struct CacheConfig {
    /// Blocks in the pool.
    pub num_blocks: usize,
    /// Token slots per block (default [`DEFAULT_BLOCK_SIZE`]).
    pub block_size: usize,
    /// Fraction of the blocks that admitting a new sequence must leave free, in `[0, 1)`
    /// (default [`DEFAULT_WATERMARK`]).
    pub watermark: f64,
    /// Whether full blocks are hashed and reused across sequences (default on, as in vLLM V1).
    pub enable_prefix_caching: bool,
}

impl CacheConfig {
    /// A pool of `num_blocks` blocks with the default block size, watermark and prefix caching.
    pub fn new(num_blocks: usize) -> Self {
        Self {
            num_blocks,
            block_size: DEFAULT_BLOCK_SIZE,
            watermark: DEFAULT_WATERMARK,
            enable_prefix_caching: true,
        }
    }

    /// As many blocks as fit in `kv_cache_bytes` when one token's K and V take
    /// `kv_bytes_per_token` (both per GPU, as `nim-sizing` reports them).
    ///
    /// Fails when the budget holds no block at all: a silently tiny pool only thrashes.
    pub fn from_budget(
        kv_cache_bytes: nim_sizing::Bytes,
        kv_bytes_per_token: nim_sizing::Bytes,
        block_size: usize,
    ) -> Result<Self> {
        if block_size == 0 {
            return Err(Error::invalid("block_size", "must be at least 1"));
        }
        if kv_bytes_per_token.get() == 0 {
            return Err(Error::invalid(
                "kv_bytes_per_token",
                "must be at least 1 byte",
            ));
        }
        let per_block = u64::try_from(block_size)
            .ok()
            .and_then(|bs| kv_bytes_per_token.get().checked_mul(bs))
            .ok_or_else(|| {
                Error::invalid(
                    "block_size",
                    format!("{block_size} tokens × {kv_bytes_per_token} overflows"),
                )
            })?;
        let blocks = kv_cache_bytes.get() / per_block;
        if blocks == 0 {
            return Err(Error::invalid(
                "kv_cache_bytes",
                format!(
                    "{kv_cache_bytes} holds no block of {block_size} tokens \
                     ({} per block)",
                    nim_sizing::Bytes(per_block)
                ),
            ));
        }
        let num_blocks = usize::try_from(blocks)
            .map_err(|_| Error::invalid("kv_cache_bytes", format!("{blocks} blocks overflow")))?;
        Ok(Self::new(num_blocks).block_size(block_size))
    }

    /// The pool a `nim-sizing` memory plan computed: its `kv_cache_blocks` blocks of
    /// `kv_block_size` tokens.
    ///
    /// Fails when the plan does not fit (the engine would not start) or has no KV blocks.
    pub fn from_plan(plan: &nim_sizing::MemoryPlan) -> Result<Self> {
        if !plan.fits {
            return Err(Error::invalid(
                "plan",
                format!(
                    "{} on {} does not fit: {}",
                    plan.model,
                    plan.gpu,
                    plan.reasons.join("; ")
                ),
            ));
        }
        if plan.kv_cache_blocks == 0 {
            return Err(Error::invalid(
                "plan",
                format!("{} on {} leaves no KV-cache block", plan.model, plan.gpu),
            ));
        }
        let num_blocks = usize::try_from(plan.kv_cache_blocks).map_err(|_| {
            Error::invalid(
                "plan.kv_cache_blocks",
                format!("{} overflows", plan.kv_cache_blocks),
            )
        })?;
        let block_size = usize::try_from(plan.kv_block_size).map_err(|_| {
            Error::invalid(
                "plan.kv_block_size",
                format!("{} overflows", plan.kv_block_size),
            )
        })?;
        Ok(Self::new(num_blocks).block_size(block_size))
    }

    /// Sets the tokens per block.
    #[must_use]
    pub fn block_size(mut self, block_size: usize) -> Self {
        self.block_size = block_size;
        self
    }

    /// Sets the watermark: the fraction of blocks admission leaves free.
    #[must_use]
    pub fn watermark(mut self, watermark: f64) -> Self {
        self.watermark = watermark;
        self
    }

    /// Turns prefix caching on or off.
    #[must_use]
    pub fn prefix_caching(mut self, enable: bool) -> Self {
        self.enable_prefix_caching = enable;
        self
    }

    fn validate(&self) -> Result<()> {
        if self.num_blocks == 0 {
            return Err(Error::invalid("num_blocks", "must be at least 1"));
        }
        if self.num_blocks >= NIL as usize {
            return Err(Error::invalid(
                "num_blocks",
                format!(
                    "{} exceeds the {} a u32 block id allows",
                    self.num_blocks,
                    NIL - 1
                ),
            ));
        }
        if self.block_size == 0 {
            return Err(Error::invalid("block_size", "must be at least 1"));
        }
        let slots = self.num_blocks.checked_mul(self.block_size);
        if slots.and_then(|s| i64::try_from(s).ok()).is_none() {
            return Err(Error::invalid(
                "block_size",
                format!(
                    "{} blocks × {} tokens overflow an i64 slot index",
                    self.num_blocks, self.block_size
                ),
            ));
        }
        if !(self.watermark.is_finite() && (0.0..1.0).contains(&self.watermark)) {
            return Err(Error::invalid(
                "watermark",
                format!("{} is not a fraction in [0, 1)", self.watermark),
            ));
        }
        Ok(())
    }
}

/// The chained hash of a full block: its parent block's hash and its own token ids.
///
/// Opaque and valid only within the [`BlockManager`] that computed it (each manager keys its
/// hashes at random).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BlockHash(u128);

/// Two independently keyed SipHash instances give a 128-bit keyed hash.
#[derive(Clone, Debug)]
struct ChainHasher {
    lo: RandomState,
    hi: RandomState,
}

impl ChainHasher {
    fn new() -> Self {
        Self {
            lo: RandomState::new(),
            hi: RandomState::new(),
        }
    }

    fn hash(&self, parent: Option<BlockHash>, tokens: &[u32]) -> BlockHash {
        let mut lo = self.lo.build_hasher();
        let mut hi = self.hi.build_hasher();
        for h in [&mut lo, &mut hi] {
            parent.hash(h);
            tokens.hash(h);
        }
        BlockHash((u128::from(hi.finish()) << 64) | u128::from(lo.finish()))
    }
}

/// A copy the backend must perform before the step that writes into `dst`: all slots of
/// block `src` (in every layer) to block `dst`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CopyOnWrite {
    /// The shared block the sequence was writing into.
    pub src: BlockId,
    /// The sequence's own copy, which now replaces `src` in its block table.
    pub dst: BlockId,
}

/// What [`BlockManager::allocate`] did for a new sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Allocation {
    /// Leading tokens whose K and V are already cached (a multiple of the block size): the
    /// prefill starts at this position.
    pub num_cached_tokens: usize,
    /// Tokens that now have slots: the cached ones plus those to compute.
    pub num_tokens: usize,
    /// Blocks taken from the free queue, cached hits on free blocks included.
    pub num_blocks_taken: usize,
}

/// Prefix-cache counters, in tokens (as vLLM's `prefix_cache_queries` / `prefix_cache_hits`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PrefixCacheStats {
    /// Prompt tokens looked up: the whole token list of every sequence allocated while prefix
    /// caching is on.
    pub queries: u64,
    /// Tokens served from the cache.
    pub hits: u64,
}

impl PrefixCacheStats {
    /// `hits / queries`, or 0 before any query.
    pub fn hit_rate(&self) -> f64 {
        if self.queries == 0 {
            0.0
        } else {
            self.hits as f64 / self.queries as f64
        }
    }
}

#[derive(Clone, Debug)]
struct Block {
    /// Block tables holding this block; 0 exactly when it is in the free queue.
    ref_count: u32,
    /// Set while the block is registered in the prefix cache.
    hash: Option<BlockHash>,
    prev: u32,
    next: u32,
}

/// The blocks, the free queue threaded through them, and the prefix-cache index.
#[derive(Clone, Debug)]
struct BlockPool {
    blocks: Vec<Block>,
    head: u32,
    tail: u32,
    num_free: usize,
    cached: HashMap<BlockHash, BlockId>,
}

impl BlockPool {
    fn new(num_blocks: usize) -> Self {
        let mut pool = Self {
            blocks: vec![
                Block {
                    ref_count: 0,
                    hash: None,
                    prev: NIL,
                    next: NIL,
                };
                num_blocks
            ],
            head: NIL,
            tail: NIL,
            num_free: 0,
            cached: HashMap::new(),
        };
        // `num_blocks < NIL` was validated, so every index fits a u32.
        for id in 0..num_blocks as u32 {
            pool.push_back(id);
        }
        pool
    }

    fn block(&self, id: BlockId) -> &Block {
        &self.blocks[id as usize]
    }

    fn block_mut(&mut self, id: BlockId) -> &mut Block {
        &mut self.blocks[id as usize]
    }

    fn push_back(&mut self, id: BlockId) {
        let tail = self.tail;
        {
            let b = self.block_mut(id);
            b.prev = tail;
            b.next = NIL;
        }
        if tail == NIL {
            self.head = id;
        } else {
            self.block_mut(tail).next = id;
        }
        self.tail = id;
        self.num_free += 1;
    }

    fn push_front(&mut self, id: BlockId) {
        let head = self.head;
        {
            let b = self.block_mut(id);
            b.prev = NIL;
            b.next = head;
        }
        if head == NIL {
            self.tail = id;
        } else {
            self.block_mut(head).prev = id;
        }
        self.head = id;
        self.num_free += 1;
    }

    fn unlink(&mut self, id: BlockId) {
        let (prev, next) = {
            let b = self.block(id);
            (b.prev, b.next)
        };
        if prev == NIL {
            self.head = next;
        } else {
            self.block_mut(prev).next = next;
        }
        if next == NIL {
            self.tail = prev;
        } else {
            self.block_mut(next).prev = prev;
        }
        let b = self.block_mut(id);
        b.prev = NIL;
        b.next = NIL;
        self.num_free -= 1;
    }

    /// Hands out the least recently used free block, evicting its cached hash.
    /// The caller has checked that enough blocks are free.
    fn take(&mut self) -> Result<BlockId> {
        let id = self.head;
        if id == NIL {
            return Err(Error::OutOfBlocks {
                needed: 1,
                free: 0,
                total: self.blocks.len(),
            });
        }
        self.unlink(id);
        if let Some(hash) = self.block_mut(id).hash.take()
            && self.cached.get(&hash) == Some(&id)
        {
            self.cached.remove(&hash);
        }
        self.block_mut(id).ref_count = 1;
        Ok(id)
    }

    /// One more owner of `id`: a cached block reused by a hit, or a block shared by a fork.
    fn touch(&mut self, id: BlockId) -> Result<()> {
        let count = self.block(id).ref_count;
        if count == 0 {
            self.unlink(id);
        }
        self.block_mut(id).ref_count = count.checked_add(1).ok_or_else(|| {
            Error::invalid("block", format!("block {id}: reference count overflow"))
        })?;
        Ok(())
    }

    /// One owner fewer; at zero the block joins the free queue, at the back when it carries a
    /// hash worth keeping, at the front otherwise.
    fn release(&mut self, id: BlockId) {
        let b = self.block_mut(id);
        b.ref_count = b.ref_count.saturating_sub(1);
        if b.ref_count == 0 {
            if b.hash.is_some() {
                self.push_back(id);
            } else {
                self.push_front(id);
            }
        }
    }

    /// Registers a block that just became full. The first block registered under a hash keeps
    /// it; a later block with the same contents stays unregistered (block tables are never
    /// rewritten to deduplicate).
    fn register(&mut self, id: BlockId, hash: BlockHash) {
        if self.block(id).hash.is_some() || self.cached.contains_key(&hash) {
            return;
        }
        self.cached.insert(hash, id);
        self.block_mut(id).hash = Some(hash);
    }
}

#[derive(Clone, Debug, Default)]
struct Sequence {
    blocks: Vec<BlockId>,
    num_tokens: usize,
    /// Chain hashes of the full blocks (prefix caching only).
    hashes: Vec<BlockHash>,
    /// Token ids in the partial last block (prefix caching only).
    partial: Vec<u32>,
}

/// The paged KV-cache manager. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct BlockManager {
    config: CacheConfig,
    watermark_blocks: usize,
    pool: BlockPool,
    seqs: HashMap<SeqId, Sequence>,
    hasher: ChainHasher,
    stats: PrefixCacheStats,
}

impl BlockManager {
    /// A manager with every block free.
    pub fn new(config: CacheConfig) -> Result<Self> {
        config.validate()?;
        let watermark_blocks = (config.watermark * config.num_blocks as f64).floor() as usize;
        Ok(Self {
            pool: BlockPool::new(config.num_blocks),
            watermark_blocks,
            config,
            seqs: HashMap::new(),
            hasher: ChainHasher::new(),
            stats: PrefixCacheStats::default(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &CacheConfig {
        &self.config
    }

    /// Tokens per block.
    pub fn block_size(&self) -> usize {
        self.config.block_size
    }

    /// Blocks in the pool.
    pub fn num_total_blocks(&self) -> usize {
        self.config.num_blocks
    }

    /// Blocks no sequence owns (cached free blocks included: they are evictable).
    pub fn num_free_blocks(&self) -> usize {
        self.pool.num_free
    }

    /// Blocks at least one sequence owns.
    pub fn num_used_blocks(&self) -> usize {
        self.config.num_blocks - self.pool.num_free
    }

    /// Blocks [`allocate`](Self::allocate) leaves free: `floor(watermark × num_blocks)`.
    pub fn watermark_blocks(&self) -> usize {
        self.watermark_blocks
    }

    /// Used blocks over all blocks, in `[0, 1]` (vLLM's `kv_cache_usage_perc`, NIM's
    /// `gpu_cache_usage_perc`: a ratio despite the names).
    pub fn usage(&self) -> f64 {
        self.num_used_blocks() as f64 / self.config.num_blocks as f64
    }

    /// Prefix-cache queries and hits so far, in tokens.
    pub fn prefix_cache_stats(&self) -> PrefixCacheStats {
        self.stats
    }

    /// Blocks registered in the prefix cache, owned or free.
    pub fn num_cached_blocks(&self) -> usize {
        self.pool.cached.len()
    }

    /// Whether admitting a sequence of `num_tokens` new tokens would leave the watermark free,
    /// counting no prefix-cache hit (so a `true` is always honoured by
    /// [`allocate`](Self::allocate)).
    pub fn can_allocate(&self, num_tokens: usize) -> bool {
        let needed = num_tokens.div_ceil(self.config.block_size);
        needed == 0 || self.pool.num_free >= needed.saturating_add(self.watermark_blocks)
    }

    /// Tokens of `tokens` the prefix cache holds now: whole blocks, at most `len - 1` tokens.
    /// Reads only; counts nothing.
    pub fn cached_prefix_len(&self, tokens: &[u32]) -> usize {
        self.lookup(tokens).0.len() * self.config.block_size
    }

    /// The cached blocks covering the longest cached prefix of `tokens`, and their hashes.
    fn lookup(&self, tokens: &[u32]) -> (Vec<BlockId>, Vec<BlockHash>) {
        let mut blocks = Vec::new();
        let mut hashes = Vec::new();
        if !self.config.enable_prefix_caching {
            return (blocks, hashes);
        }
        let bs = self.config.block_size;
        let max_blocks = tokens.len().saturating_sub(1) / bs;
        let mut parent = None;
        for chunk in tokens.chunks_exact(bs).take(max_blocks) {
            let hash = self.hasher.hash(parent, chunk);
            match self.pool.cached.get(&hash) {
                Some(&id) => {
                    blocks.push(id);
                    hashes.push(hash);
                    parent = Some(hash);
                }
                None => break,
            }
        }
        (blocks, hashes)
    }

    /// Creates sequence `seq` with slots for all of `tokens`, reusing the cached prefix.
    ///
    /// Fails without changing anything when `seq` exists ([`Error::DuplicateSequence`]) or when
    /// the blocks it needs would leave fewer than the watermark free ([`Error::OutOfBlocks`],
    /// whose `needed` counts the watermark).
    pub fn allocate(&mut self, seq: SeqId, tokens: &[u32]) -> Result<Allocation> {
        self.allocate_chunk(seq, tokens, usize::MAX)
    }

    /// Creates sequence `seq` for the prompt `tokens`, reusing its cached prefix, with slots
    /// for at most `max_new_tokens` tokens past that prefix: the first prefill chunk. Later
    /// chunks come through [`append`](Self::append).
    ///
    /// The prefix-cache lookup covers all of `tokens` and counts `tokens.len()` queries.
    /// Errors as [`allocate`](Self::allocate).
    pub fn allocate_chunk(
        &mut self,
        seq: SeqId,
        tokens: &[u32],
        max_new_tokens: usize,
    ) -> Result<Allocation> {
        if self.seqs.contains_key(&seq) {
            return Err(Error::DuplicateSequence(seq));
        }
        let bs = self.config.block_size;
        let (hit_blocks, hit_hashes) = self.lookup(tokens);
        let num_cached_tokens = hit_blocks.len() * bs;
        let num_tokens = num_cached_tokens + max_new_tokens.min(tokens.len() - num_cached_tokens);
        let new_blocks = num_tokens.div_ceil(bs) - hit_blocks.len();
        let hit_free = hit_blocks
            .iter()
            .filter(|&&id| self.pool.block(id).ref_count == 0)
            .count();
        if let Some(&id) = hit_blocks
            .iter()
            .find(|&&id| self.pool.block(id).ref_count == u32::MAX)
        {
            return Err(Error::invalid(
                "allocate",
                format!("block {id}: reference count overflow"),
            ));
        }
        let needed = new_blocks + hit_free;
        if needed > 0 && self.pool.num_free < needed + self.watermark_blocks {
            return Err(Error::OutOfBlocks {
                needed: needed + self.watermark_blocks,
                free: self.pool.num_free,
                total: self.config.num_blocks,
            });
        }

        // Touch the hits first so that taking new blocks cannot evict them.
        for &id in &hit_blocks {
            self.pool.touch(id)?;
        }
        let mut sequence = Sequence {
            blocks: hit_blocks,
            num_tokens: num_cached_tokens,
            hashes: hit_hashes,
            partial: Vec::new(),
        };
        for _ in 0..new_blocks {
            sequence.blocks.push(self.pool.take()?);
        }
        Self::write(
            &self.config,
            &self.hasher,
            &mut self.pool,
            &mut sequence,
            &tokens[num_cached_tokens..num_tokens],
        );
        self.seqs.insert(seq, sequence);
        if self.config.enable_prefix_caching {
            self.stats.queries += tokens.len() as u64;
            self.stats.hits += num_cached_tokens as u64;
        }
        Ok(Allocation {
            num_cached_tokens,
            num_tokens,
            num_blocks_taken: needed,
        })
    }

    /// Gives `seq` slots for `tokens` more tokens (one decoded token or a prefill chunk).
    ///
    /// When the sequence's partial last block is shared (after a [`fork`](Self::fork)), the
    /// sequence first moves onto a copy, and the returned [`CopyOnWrite`] tells the backend to
    /// copy the block before writing. Fails without changing anything on an unknown sequence
    /// or when too few blocks are free (the watermark does not apply).
    pub fn append(&mut self, seq: SeqId, tokens: &[u32]) -> Result<Vec<CopyOnWrite>> {
        let bs = self.config.block_size;
        let sequence = self.seqs.get(&seq).ok_or(Error::UnknownSequence(seq))?;
        if tokens.is_empty() {
            return Ok(Vec::new());
        }
        let last = sequence.blocks.last().copied();
        let copy = match last {
            Some(id) if sequence.num_tokens % bs != 0 && self.pool.block(id).ref_count > 1 => {
                Some(id)
            }
            _ => None,
        };
        let new_blocks = (sequence.num_tokens + tokens.len()).div_ceil(bs) - sequence.blocks.len();
        let needed = new_blocks + usize::from(copy.is_some());
        if self.pool.num_free < needed {
            return Err(Error::OutOfBlocks {
                needed,
                free: self.pool.num_free,
                total: self.config.num_blocks,
            });
        }

        let mut copies = Vec::new();
        let mut taken = Vec::with_capacity(needed);
        for _ in 0..needed {
            taken.push(self.pool.take()?);
        }
        let mut taken = taken.into_iter();
        let sequence = self.seqs.get_mut(&seq).ok_or(Error::UnknownSequence(seq))?;
        if let Some(src) = copy
            && let Some(dst) = taken.next()
        {
            self.pool.release(src);
            if let Some(slot) = sequence.blocks.last_mut() {
                *slot = dst;
            }
            copies.push(CopyOnWrite { src, dst });
        }
        sequence.blocks.extend(taken);
        Self::write(&self.config, &self.hasher, &mut self.pool, sequence, tokens);
        Ok(copies)
    }

    /// Records `tokens` as written into the slots after `sequence.num_tokens` (already
    /// allocated), registering each block that becomes full.
    fn write(
        config: &CacheConfig,
        hasher: &ChainHasher,
        pool: &mut BlockPool,
        sequence: &mut Sequence,
        tokens: &[u32],
    ) {
        if !config.enable_prefix_caching {
            sequence.num_tokens += tokens.len();
            return;
        }
        let bs = config.block_size;
        let mut rest = tokens;
        while !rest.is_empty() {
            let take = (bs - sequence.partial.len()).min(rest.len());
            let (now, later) = rest.split_at(take);
            sequence.partial.extend_from_slice(now);
            sequence.num_tokens += take;
            rest = later;
            if sequence.partial.len() == bs {
                let hash = hasher.hash(sequence.hashes.last().copied(), &sequence.partial);
                let index = sequence.num_tokens / bs - 1;
                if let Some(&id) = sequence.blocks.get(index) {
                    pool.register(id, hash);
                }
                sequence.hashes.push(hash);
                sequence.partial.clear();
            }
        }
    }

    /// Creates `child` sharing all of `parent`'s blocks (parallel sampling, beam search).
    /// Takes no block; the first append into a shared partial block copies it.
    pub fn fork(&mut self, parent: SeqId, child: SeqId) -> Result<()> {
        if self.seqs.contains_key(&child) {
            return Err(Error::DuplicateSequence(child));
        }
        let sequence = self
            .seqs
            .get(&parent)
            .ok_or(Error::UnknownSequence(parent))?
            .clone();
        if let Some(&id) = sequence
            .blocks
            .iter()
            .find(|&&id| self.pool.block(id).ref_count == u32::MAX)
        {
            return Err(Error::invalid(
                "fork",
                format!("block {id}: reference count overflow"),
            ));
        }
        for &id in &sequence.blocks {
            self.pool.touch(id)?;
        }
        self.seqs.insert(child, sequence);
        Ok(())
    }

    /// Releases all of `seq`'s blocks. Cached blocks stay reusable until handed out again.
    /// Freeing twice is an [`Error::UnknownSequence`].
    pub fn free(&mut self, seq: SeqId) -> Result<()> {
        let sequence = self.seqs.remove(&seq).ok_or(Error::UnknownSequence(seq))?;
        // Tail first, so the end of a cached chain is evicted before its start.
        for &id in sequence.blocks.iter().rev() {
            self.pool.release(id);
        }
        Ok(())
    }

    /// Forgets every cached hash; blocks in use are untouched. Returns how many blocks were
    /// registered.
    pub fn reset_prefix_cache(&mut self) -> usize {
        let n = self.pool.cached.len();
        for (_, id) in self.pool.cached.drain() {
            self.pool.blocks[id as usize].hash = None;
        }
        n
    }

    /// The block table of `seq`: logical block `i` → physical block.
    pub fn block_table(&self, seq: SeqId) -> Result<&[BlockId]> {
        Ok(&self.sequence(seq)?.blocks)
    }

    /// Tokens of `seq` that have slots.
    pub fn num_tokens(&self, seq: SeqId) -> Result<usize> {
        Ok(self.sequence(seq)?.num_tokens)
    }

    /// The cache slots of `seq`'s tokens at `positions` (`block * block_size + offset`), as the
    /// `slot_mapping` of a KV-cache write. Fails for positions without a slot.
    pub fn slot_mapping(&self, seq: SeqId, positions: Range<usize>) -> Result<Vec<i64>> {
        let sequence = self.sequence(seq)?;
        if positions.start > positions.end || positions.end > sequence.num_tokens {
            return Err(Error::invalid(
                "positions",
                format!(
                    "{positions:?} is outside the {} tokens of sequence {seq}",
                    sequence.num_tokens
                ),
            ));
        }
        let bs = self.config.block_size;
        positions
            .map(|pos| {
                let block = sequence.blocks.get(pos / bs).ok_or_else(|| {
                    Error::invalid("positions", format!("position {pos} has no block"))
                })?;
                // Validated in `CacheConfig::validate`: every slot fits an i64.
                Ok((*block as usize * bs + pos % bs) as i64)
            })
            .collect()
    }

    /// Whether `seq` exists.
    pub fn contains(&self, seq: SeqId) -> bool {
        self.seqs.contains_key(&seq)
    }

    /// Sequences holding blocks.
    pub fn num_sequences(&self) -> usize {
        self.seqs.len()
    }

    /// The ids of the sequences, in no particular order.
    pub fn sequences(&self) -> impl Iterator<Item = SeqId> + '_ {
        self.seqs.keys().copied()
    }

    /// The number of block tables holding `block`.
    pub fn ref_count(&self, block: BlockId) -> Result<u32> {
        Ok(self.checked_block(block)?.ref_count)
    }

    /// The prefix-cache hash `block` is registered under, if any.
    pub fn block_hash(&self, block: BlockId) -> Result<Option<BlockHash>> {
        Ok(self.checked_block(block)?.hash)
    }

    /// The free blocks in eviction order: the next block handed out comes first.
    pub fn free_blocks(&self) -> FreeBlocks<'_> {
        FreeBlocks {
            pool: &self.pool,
            next: self.pool.head,
            remaining: self.pool.num_free,
        }
    }

    fn sequence(&self, seq: SeqId) -> Result<&Sequence> {
        self.seqs.get(&seq).ok_or(Error::UnknownSequence(seq))
    }

    fn checked_block(&self, block: BlockId) -> Result<&Block> {
        self.pool.blocks.get(block as usize).ok_or_else(|| {
            Error::invalid(
                "block",
                format!("{block} is outside 0..{}", self.config.num_blocks),
            )
        })
    }
}

/// The free blocks in eviction order; see [`BlockManager::free_blocks`].
#[derive(Clone, Debug)]
pub struct FreeBlocks<'a> {
    pool: &'a BlockPool,
    next: u32,
    remaining: usize,
}

impl Iterator for FreeBlocks<'_> {
    type Item = BlockId;

    fn next(&mut self) -> Option<BlockId> {
        if self.next == NIL || self.remaining == 0 {
            return None;
        }
        let id = self.next;
        self.next = self.pool.blocks.get(id as usize).map_or(NIL, |b| b.next);
        self.remaining -= 1;
        Some(id)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for FreeBlocks<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    fn manager(blocks: usize, bs: usize) -> BlockManager {
        BlockManager::new(CacheConfig::new(blocks).block_size(bs).watermark(0.0)).unwrap()
    }

    #[test]
    fn config_validation() {
        assert!(BlockManager::new(CacheConfig::new(0)).is_err());
        assert!(BlockManager::new(CacheConfig::new(4).block_size(0)).is_err());
        assert!(BlockManager::new(CacheConfig::new(4).watermark(1.0)).is_err());
        assert!(BlockManager::new(CacheConfig::new(4).watermark(-0.1)).is_err());
        assert!(BlockManager::new(CacheConfig::new(4).watermark(f64::NAN)).is_err());
        assert!(BlockManager::new(CacheConfig::new(usize::MAX)).is_err());
        assert!(BlockManager::new(CacheConfig::new(4).block_size(usize::MAX)).is_err());
        let kv = BlockManager::new(CacheConfig::new(1000)).unwrap();
        assert_eq!(kv.block_size(), DEFAULT_BLOCK_SIZE);
        assert_eq!(kv.watermark_blocks(), 10);
    }

    #[test]
    fn from_budget() {
        use nim_sizing::Bytes;
        let cfg = CacheConfig::from_budget(Bytes(1 << 30), Bytes(131_072), 16).unwrap();
        assert_eq!(cfg.num_blocks, 512);
        assert_eq!(cfg.block_size, 16);
        assert!(CacheConfig::from_budget(Bytes(1000), Bytes(131_072), 16).is_err());
        assert!(CacheConfig::from_budget(Bytes(1 << 30), Bytes(0), 16).is_err());
        assert!(CacheConfig::from_budget(Bytes(1 << 30), Bytes(1), 0).is_err());
        assert!(CacheConfig::from_budget(Bytes(1 << 30), Bytes(u64::MAX), 16).is_err());
    }

    #[test]
    fn free_queue_links() {
        let mut pool = BlockPool::new(4);
        assert_eq!(pool.num_free, 4);
        pool.unlink(2);
        pool.unlink(0);
        pool.unlink(3);
        assert_eq!((pool.head, pool.tail, pool.num_free), (1, 1, 1));
        pool.push_front(3);
        pool.push_back(0);
        let kv_order: Vec<_> = FreeBlocks {
            pool: &pool,
            next: pool.head,
            remaining: pool.num_free,
        }
        .collect();
        assert_eq!(kv_order, [3, 1, 0]);
        assert_eq!(pool.take().unwrap(), 3);
        assert_eq!(pool.take().unwrap(), 1);
        assert_eq!(pool.take().unwrap(), 0);
        assert!(pool.take().is_err());
        assert_eq!((pool.head, pool.tail, pool.num_free), (NIL, NIL, 0));
    }

    #[test]
    fn append_grows_blocks_and_slots() {
        let mut kv = manager(4, 4);
        kv.allocate(7, &[1, 2, 3]).unwrap();
        assert_eq!(kv.block_table(7).unwrap().len(), 1);
        assert!(kv.append(7, &[4]).unwrap().is_empty());
        assert_eq!(kv.block_table(7).unwrap().len(), 1);
        kv.append(7, &[5]).unwrap();
        assert_eq!(kv.block_table(7).unwrap().len(), 2);
        let table = kv.block_table(7).unwrap().to_vec();
        let slots = kv.slot_mapping(7, 3..5).unwrap();
        assert_eq!(
            slots,
            [i64::from(table[0]) * 4 + 3, i64::from(table[1]) * 4]
        );
        assert!(kv.slot_mapping(7, 0..6).is_err());
        assert_eq!(kv.num_tokens(7).unwrap(), 5);
        assert!(kv.append(8, &[1]).is_err());
    }

    #[test]
    fn out_of_blocks_changes_nothing() {
        let mut kv = manager(2, 4);
        kv.allocate(1, &[0; 8]).unwrap();
        let err = kv.append(1, &[1]).unwrap_err();
        assert_eq!(
            err,
            Error::OutOfBlocks {
                needed: 1,
                free: 0,
                total: 2
            }
        );
        assert_eq!(kv.num_tokens(1).unwrap(), 8);
        assert!(kv.allocate(2, &[5]).is_err());
        assert!(!kv.contains(2));
    }

    #[test]
    fn watermark_applies_to_allocate_only() {
        let mut kv = BlockManager::new(CacheConfig::new(10).block_size(1).watermark(0.2)).unwrap();
        assert!(kv.can_allocate(8));
        assert!(!kv.can_allocate(9));
        assert!(kv.allocate(1, &[0; 9]).is_err());
        kv.allocate(1, &[0; 8]).unwrap();
        kv.append(1, &[0, 0]).unwrap();
        assert_eq!(kv.num_free_blocks(), 0);
        assert!(kv.can_allocate(0));
    }

    #[test]
    fn hit_capped_below_prompt_length() {
        let mut kv = manager(8, 4);
        kv.allocate(1, &[1, 2, 3, 4, 5, 6, 7, 8]).unwrap();
        // Same 8 tokens: only the first block is reused; the last token must be computed.
        assert_eq!(kv.cached_prefix_len(&[1, 2, 3, 4, 5, 6, 7, 8]), 4);
        let a = kv.allocate(2, &[1, 2, 3, 4, 5, 6, 7, 8]).unwrap();
        assert_eq!(a.num_cached_tokens, 4);
        assert_eq!(a.num_tokens, 8);
        assert_eq!(kv.prefix_cache_stats().queries, 16);
        assert_eq!(kv.prefix_cache_stats().hits, 4);
        assert!((kv.prefix_cache_stats().hit_rate() - 0.25).abs() < 1e-12);
    }

    #[test]
    fn allocate_chunk_limits_slots() {
        let mut kv = manager(8, 4);
        let a = kv.allocate_chunk(1, &[0; 10], 3).unwrap();
        assert_eq!(
            (a.num_cached_tokens, a.num_tokens, a.num_blocks_taken),
            (0, 3, 1)
        );
        kv.append(1, &[0; 7]).unwrap();
        assert_eq!(kv.block_table(1).unwrap().len(), 3);
    }

    #[test]
    fn prefix_caching_off() {
        let mut kv =
            BlockManager::new(CacheConfig::new(4).block_size(2).prefix_caching(false)).unwrap();
        kv.allocate(1, &[1, 2, 3]).unwrap();
        assert_eq!(kv.allocate(2, &[1, 2, 3]).unwrap().num_cached_tokens, 0);
        assert_eq!(kv.num_cached_blocks(), 0);
        assert_eq!(kv.prefix_cache_stats(), PrefixCacheStats::default());
    }

    #[test]
    fn reset_prefix_cache_forgets() {
        let mut kv = manager(4, 2);
        kv.allocate(1, &[1, 2, 3]).unwrap();
        kv.free(1).unwrap();
        assert_eq!(kv.reset_prefix_cache(), 1);
        assert_eq!(kv.allocate(2, &[1, 2, 3]).unwrap().num_cached_tokens, 0);
    }

    #[test]
    fn bad_block_ids_are_errors() {
        let kv = manager(4, 2);
        assert!(kv.ref_count(4).is_err());
        assert!(kv.block_hash(u32::MAX).is_err());
        assert_eq!(kv.ref_count(3).unwrap(), 0);
    }
}
