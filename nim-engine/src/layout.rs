//! The paged KV-cache layout and the arguments every attention backend shares.
//!
//! # Layout
//!
//! Each layer has a K cache and a V cache, two tensors of the same shape
//!
//! ```text
//! [num_blocks, block_size, num_kv_heads, head_dim]      (row-major, head_dim innermost)
//! ```
//!
//! the "NHD" layout of vLLM's FlashAttention backend. A *slot* is one token position:
//! `slot = block * block_size + offset`, and the row of `(slot, kv_head)` starts at element
//! `(slot * num_kv_heads + kv_head) * head_dim`. It suits both backends:
//!
//! * **Writes are one contiguous copy per token.** The K (or V) of one token for all KV heads is
//!   `num_kv_heads * head_dim` adjacent elements at `slot * num_kv_heads * head_dim`, exactly the
//!   row the projection produced, so [`write_kv`](crate::cpu::write_kv) (vLLM's
//!   `reshape_and_cache`) is a row copy, and a block is one contiguous range, so copy-on-write
//!   ([`copy_blocks`](crate::cpu::copy_blocks)) is a single `memcpy` per block and tensor.
//! * **Reads are contiguous vectors.** Attention reads, per key, the `head_dim` elements of one
//!   KV head: contiguous, so the CPU loads (and converts) them with straight vector loads, and a
//!   GPU warp reads them coalesced in 16-byte vectors without vLLM's legacy `x`-split K layout.
//! * **Every dtype uses the same shape.** f32, f16, bf16 and FP8 E4M3 (with one per-tensor scale)
//!   differ only in element size; no layout depends on the dtype, so the CUDA backend can share
//!   the host copy of a cache with the CPU backend, and tests can compare them element for element.
//!
//! # Sequences
//!
//! A batch names its blocks through a row-major `block_tables: [num_seqs, max_blocks_per_seq]`
//! of physical block ids (`i32`, as vLLM): logical block `i` of sequence `s` is
//! `block_tables[s * max_blocks_per_seq + i]`. Only the first `ceil(context_len / block_size)`
//! entries of a row are read (and checked); the rest may hold anything. Writes address tokens
//! by slot through an `i64` slot mapping, where a negative slot marks a padding token.
//!
//! # Attention semantics
//!
//! For a query at position `p` (0-based in its sequence) of head `h`, with KV head
//! `h / (num_heads / num_kv_heads)` (grouped-query attention), the logit of the key at position
//! `j` is, in this order:
//!
//! 1. `scale * (q · k_j)`;
//! 2. with a soft-cap `c`: `c * tanh(logit / c)`;
//! 3. with ALiBi slopes: `+ slope[h] * (j - p)` (zero or negative, as vLLM);
//!
//! and keys `j` with `j <= p` take part (causal), restricted with a sliding window `w` to
//! `p - w < j <= p`. The output is the softmax-weighted sum of the values.

use crate::error::{Error, Result};
use crate::tensor::{DType, Tensor};

/// The shape of one layer's K (or V) cache: `[num_blocks, block_size, num_kv_heads, head_dim]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct KvLayout {
    /// Physical blocks.
    pub num_blocks: usize,
    /// Tokens per block.
    pub block_size: usize,
    /// KV heads.
    pub num_kv_heads: usize,
    /// Elements per head.
    pub head_dim: usize,
}

/// The words used in shape errors.
const CACHE_WORDS: &str = "[num_blocks, block_size, num_kv_heads, head_dim]";

impl KvLayout {
    /// The cache tensor's shape.
    pub fn shape(&self) -> [usize; 4] {
        [
            self.num_blocks,
            self.block_size,
            self.num_kv_heads,
            self.head_dim,
        ]
    }

    /// The slot of `offset` within `block`.
    pub fn slot(&self, block: usize, offset: usize) -> usize {
        block * self.block_size + offset
    }

    /// Slots in all (`num_blocks * block_size`).
    pub fn num_slots(&self) -> usize {
        self.num_blocks * self.block_size
    }

    /// Elements per token (`num_kv_heads * head_dim`).
    pub fn token_elements(&self) -> usize {
        self.num_kv_heads * self.head_dim
    }

    /// Elements per block (`block_size * num_kv_heads * head_dim`).
    pub fn block_elements(&self) -> usize {
        self.block_size * self.token_elements()
    }

    /// The first element of the row of `(slot, kv_head)`.
    pub fn row_start(&self, slot: usize, kv_head: usize) -> usize {
        (slot * self.num_kv_heads + kv_head) * self.head_dim
    }

    /// An all-zero cache of this layout (FP8 with scale 1).
    pub fn zeros(&self, dtype: DType) -> Tensor {
        Tensor::zeros(self.shape().to_vec(), dtype)
    }

    /// The layout of a cache tensor of `shape`, named `name` in errors.
    ///
    /// # Errors
    /// [`Error::Shape`] unless `shape` has rank 4 and no zero dimension.
    pub fn from_cache_shape(name: &str, shape: &[usize]) -> Result<KvLayout> {
        match *shape {
            [num_blocks, block_size, num_kv_heads, head_dim] if !shape.contains(&0) => {
                Ok(KvLayout {
                    num_blocks,
                    block_size,
                    num_kv_heads,
                    head_dim,
                })
            }
            _ => Err(Error::shape(
                name,
                format!("{CACHE_WORDS}, none zero"),
                shape,
            )),
        }
    }

    /// Checks a K and a V cache: consistent tensors (element count, FP8 scale), rank 4 with no
    /// zero dimension, the same shape. Their dtypes may differ.
    ///
    /// # Errors
    /// [`Error::Shape`] or [`Error::Invalid`] naming `k_cache` or `v_cache`.
    pub fn of_caches(k_cache: &Tensor, v_cache: &Tensor) -> Result<KvLayout> {
        k_cache.expect_consistent("k_cache")?;
        v_cache.expect_consistent("v_cache")?;
        let layout = KvLayout::from_cache_shape("k_cache", k_cache.shape())?;
        v_cache.expect_shape("v_cache", &layout.shape(), CACHE_WORDS)?;
        Ok(layout)
    }
}

/// What an attention call computes besides plain softmax attention.
///
/// ```
/// use nim_engine::AttentionParams;
/// let params = AttentionParams::for_head_dim(128)
///     .with_sliding_window(4096)
///     .with_soft_cap(50.0);
/// assert_eq!(params.scale, 1.0 / 128f32.sqrt());
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct AttentionParams {
    /// Multiplies `q · k` (usually `1 / sqrt(head_dim)`).
    pub scale: f32,
    /// A query at position `p` sees keys in `(p - window, p]`; at least 1.
    pub sliding_window: Option<usize>,
    /// One ALiBi slope per query head: the logit of key `j` for query `p` gains
    /// `slope * (j - p)`.
    pub alibi_slopes: Option<Vec<f32>>,
    /// Logits become `cap * tanh(logit / cap)` after scaling (Gemma 2); positive.
    pub soft_cap: Option<f32>,
}

impl AttentionParams {
    /// Plain attention with `scale`.
    pub fn new(scale: f32) -> Self {
        Self {
            scale,
            sliding_window: None,
            alibi_slopes: None,
            soft_cap: None,
        }
    }

    /// Plain attention with the usual scale `1 / sqrt(head_dim)`.
    pub fn for_head_dim(head_dim: usize) -> Self {
        Self::new((1.0 / (head_dim as f64).sqrt()) as f32)
    }

    /// With a sliding window of `window` tokens.
    #[must_use]
    pub fn with_sliding_window(mut self, window: usize) -> Self {
        self.sliding_window = Some(window);
        self
    }

    /// With ALiBi slopes, one per query head.
    #[must_use]
    pub fn with_alibi_slopes(mut self, slopes: Vec<f32>) -> Self {
        self.alibi_slopes = Some(slopes);
        self
    }

    /// With a logit soft-cap.
    #[must_use]
    pub fn with_soft_cap(mut self, cap: f32) -> Self {
        self.soft_cap = Some(cap);
        self
    }

    /// Checks the parameters for `num_heads` query heads.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a scale that is not finite, a zero window, a cap that is not finite
    /// and positive, or a slope that is not finite; [`Error::Shape`] naming `alibi_slopes` when
    /// there is not one slope per head.
    pub fn validate(&self, num_heads: usize) -> Result<()> {
        if !self.scale.is_finite() {
            return Err(Error::invalid(
                "scale",
                format!("must be finite, found {}", self.scale),
            ));
        }
        if self.sliding_window == Some(0) {
            return Err(Error::invalid("sliding_window", "must be at least 1"));
        }
        if let Some(cap) = self.soft_cap
            && !(cap.is_finite() && cap > 0.0)
        {
            return Err(Error::invalid(
                "soft_cap",
                format!("must be finite and positive, found {cap}"),
            ));
        }
        if let Some(slopes) = &self.alibi_slopes {
            if slopes.len() != num_heads {
                return Err(Error::shape(
                    "alibi_slopes",
                    format!("[num_heads] = [{num_heads}]"),
                    &[slopes.len()],
                ));
            }
            if let Some(i) = slopes.iter().position(|s| !s.is_finite()) {
                return Err(Error::invalid(
                    format!("alibi_slopes[{i}]"),
                    format!("must be finite, found {}", slopes[i]),
                ));
            }
        }
        Ok(())
    }
}

/// The checked dimensions of one attention call, as [`validate_decode`] and
/// [`validate_prefill`] return them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AttentionShape {
    /// The caches' layout.
    pub layout: KvLayout,
    /// Sequences in the batch.
    pub num_seqs: usize,
    /// Query rows (`num_seqs` for decode, the total new tokens for prefill).
    pub num_tokens: usize,
    /// Query heads.
    pub num_heads: usize,
}

impl AttentionShape {
    /// Query heads per KV head.
    pub fn group_size(&self) -> usize {
        self.num_heads / self.layout.num_kv_heads
    }

    /// Elements of the output (`num_tokens * num_heads * head_dim`).
    pub fn output_elements(&self) -> usize {
        self.num_tokens * self.num_heads * self.layout.head_dim
    }
}

/// Checks the arguments of a paged decode (see [`crate::cpu::paged_decode`]): `q` is
/// `[num_seqs, num_heads, head_dim]` in f32, f16 or bf16, and every other argument matches it.
///
/// # Errors
/// [`Error::Shape`], [`Error::DType`] or [`Error::Invalid`], naming the tensor or argument
/// (`q`, `k_cache`, `v_cache`, `block_tables`, `block_tables[s][i]`, `context_lens[s]`,
/// `alibi_slopes`, ...).
pub fn validate_decode(
    q: &Tensor,
    k_cache: &Tensor,
    v_cache: &Tensor,
    block_tables: &[i32],
    max_blocks_per_seq: usize,
    context_lens: &[i32],
    params: &AttentionParams,
) -> Result<AttentionShape> {
    let (layout, num_seqs, num_heads) = validate_q_and_caches(q, k_cache, v_cache, params)?;
    let contexts = validate_context_lens(context_lens, num_seqs, "[num_seqs]")?;
    validate_block_tables(block_tables, max_blocks_per_seq, &contexts, &layout)?;
    Ok(AttentionShape {
        layout,
        num_seqs,
        num_tokens: num_seqs,
        num_heads,
    })
}

/// Checks the arguments of a paged prefill (see [`crate::cpu::paged_prefill`]): `q` is
/// `[total_tokens, num_heads, head_dim]`, `cu_seqlens_q` has `num_seqs + 1` non-decreasing
/// entries from 0 to `total_tokens`, and each context length is at least its sequence's new
/// tokens.
///
/// # Errors
/// As [`validate_decode`], and naming `cu_seqlens_q` or `cu_seqlens_q[s]`.
#[allow(clippy::too_many_arguments)]
pub fn validate_prefill(
    q: &Tensor,
    k_cache: &Tensor,
    v_cache: &Tensor,
    block_tables: &[i32],
    max_blocks_per_seq: usize,
    cu_seqlens_q: &[i32],
    context_lens: &[i32],
    params: &AttentionParams,
) -> Result<AttentionShape> {
    let (layout, num_tokens, num_heads) = validate_q_and_caches(q, k_cache, v_cache, params)?;
    let Some(num_seqs) = cu_seqlens_q.len().checked_sub(1) else {
        return Err(Error::shape(
            "cu_seqlens_q",
            "[num_seqs + 1], at least one entry",
            &[0],
        ));
    };
    if cu_seqlens_q.first() != Some(&0) {
        return Err(Error::invalid("cu_seqlens_q[0]", "must be 0"));
    }
    for (s, pair) in cu_seqlens_q.windows(2).enumerate() {
        if pair[1] < pair[0] {
            return Err(Error::invalid(
                format!("cu_seqlens_q[{}]", s + 1),
                format!("{} is below the previous entry {}", pair[1], pair[0]),
            ));
        }
    }
    let last = cu_seqlens_q.last().copied().unwrap_or(0);
    if usize::try_from(last).ok() != Some(num_tokens) {
        return Err(Error::invalid(
            format!("cu_seqlens_q[{num_seqs}]"),
            format!("must equal the {num_tokens} query tokens of q, found {last}"),
        ));
    }
    let contexts = validate_context_lens(
        context_lens,
        num_seqs,
        "[num_seqs] = [len(cu_seqlens_q) - 1]",
    )?;
    for (s, (pair, &context)) in cu_seqlens_q.windows(2).zip(&contexts).enumerate() {
        let new_tokens = (pair[1] - pair[0]) as usize;
        if context < new_tokens {
            return Err(Error::invalid(
                format!("context_lens[{s}]"),
                format!(
                    "{context} is less than the sequence's {new_tokens} new query tokens \
                     (the context length counts them)"
                ),
            ));
        }
    }
    validate_block_tables(block_tables, max_blocks_per_seq, &contexts, &layout)?;
    Ok(AttentionShape {
        layout,
        num_seqs,
        num_tokens,
        num_heads,
    })
}

/// Checks the arguments of a KV write (see [`crate::cpu::write_kv`]): `k` and `v` are
/// `[num_tokens, num_kv_heads, head_dim]` with one slot per token, and every non-negative slot
/// is below `num_blocks * block_size`. Returns the caches' layout.
///
/// # Errors
/// [`Error::Shape`] or [`Error::Invalid`] naming `k_cache`, `v_cache`, `k`, `v` or
/// `slot_mapping[i]`.
pub fn validate_write_kv(
    k_cache: &Tensor,
    v_cache: &Tensor,
    slot_mapping: &[i64],
    k: &Tensor,
    v: &Tensor,
) -> Result<KvLayout> {
    let layout = KvLayout::of_caches(k_cache, v_cache)?;
    let expected = [slot_mapping.len(), layout.num_kv_heads, layout.head_dim];
    const WORDS: &str = "[num_tokens = len(slot_mapping), num_kv_heads, head_dim]";
    k.expect_consistent("k")?;
    k.expect_shape("k", &expected, WORDS)?;
    v.expect_consistent("v")?;
    v.expect_shape("v", &expected, WORDS)?;
    let slots = layout.num_slots() as u64;
    for (i, &slot) in slot_mapping.iter().enumerate() {
        if slot >= 0 && slot as u64 >= slots {
            return Err(Error::invalid(
                format!("slot_mapping[{i}]"),
                format!(
                    "slot {slot} is beyond the cache's {slots} slots ({} blocks of {})",
                    layout.num_blocks, layout.block_size
                ),
            ));
        }
    }
    Ok(layout)
}

/// Checks the arguments of a block copy (see [`crate::cpu::copy_blocks`]): both block ids of
/// every `(src, dst)` pair are below `num_blocks`. Returns the caches' layout.
///
/// # Errors
/// [`Error::Shape`] or [`Error::Invalid`] naming `k_cache`, `v_cache` or `pairs[i]`.
pub fn validate_copy_blocks(
    k_cache: &Tensor,
    v_cache: &Tensor,
    pairs: &[(u32, u32)],
) -> Result<KvLayout> {
    let layout = KvLayout::of_caches(k_cache, v_cache)?;
    for (i, &(src, dst)) in pairs.iter().enumerate() {
        if src as usize >= layout.num_blocks || dst as usize >= layout.num_blocks {
            return Err(Error::invalid(
                format!("pairs[{i}]"),
                format!(
                    "({src}, {dst}) names a block beyond the cache's {}",
                    layout.num_blocks
                ),
            ));
        }
    }
    Ok(layout)
}

/// Checks `q` (rank 3, f32/f16/bf16, head_dim of the caches, heads a multiple of the KV heads),
/// the caches and the parameters. Returns the layout, `q`'s rows and its heads.
fn validate_q_and_caches(
    q: &Tensor,
    k_cache: &Tensor,
    v_cache: &Tensor,
    params: &AttentionParams,
) -> Result<(KvLayout, usize, usize)> {
    let layout = KvLayout::of_caches(k_cache, v_cache)?;
    q.expect_consistent("q")?;
    if q.dtype() == DType::Fp8E4m3 {
        return Err(Error::DType {
            name: "q".into(),
            expected: "f32, f16 or bf16".into(),
            found: q.dtype().to_string(),
        });
    }
    let &[rows, num_heads, head_dim] = q.shape() else {
        return Err(Error::shape(
            "q",
            format!("[tokens, num_heads, head_dim = {}]", layout.head_dim),
            q.shape(),
        ));
    };
    if head_dim != layout.head_dim || num_heads == 0 {
        return Err(Error::shape(
            "q",
            format!(
                "[tokens, num_heads >= 1, head_dim = {}] (head_dim of the caches)",
                layout.head_dim
            ),
            q.shape(),
        ));
    }
    if num_heads % layout.num_kv_heads != 0 {
        return Err(Error::invalid(
            "q",
            format!(
                "num_heads {num_heads} is not a multiple of the caches' num_kv_heads {}",
                layout.num_kv_heads
            ),
        ));
    }
    params.validate(num_heads)?;
    Ok((layout, rows, num_heads))
}

/// Checks the length of `context_lens` and that no entry is negative.
fn validate_context_lens(context_lens: &[i32], num_seqs: usize, words: &str) -> Result<Vec<usize>> {
    if context_lens.len() != num_seqs {
        return Err(Error::shape(
            "context_lens",
            format!("{words} = [{num_seqs}]"),
            &[context_lens.len()],
        ));
    }
    context_lens
        .iter()
        .enumerate()
        .map(|(s, &len)| {
            usize::try_from(len).map_err(|_| {
                Error::invalid(format!("context_lens[{s}]"), format!("{len} is negative"))
            })
        })
        .collect()
}

/// Checks the table's length, that each context fits its row and that each block the context
/// uses exists.
fn validate_block_tables(
    block_tables: &[i32],
    max_blocks_per_seq: usize,
    contexts: &[usize],
    layout: &KvLayout,
) -> Result<()> {
    let num_seqs = contexts.len();
    if num_seqs.checked_mul(max_blocks_per_seq) != Some(block_tables.len()) {
        return Err(Error::shape(
            "block_tables",
            format!(
                "[num_seqs, max_blocks_per_seq] = [{num_seqs}, {max_blocks_per_seq}], row-major"
            ),
            &[block_tables.len()],
        ));
    }
    let capacity = max_blocks_per_seq.saturating_mul(layout.block_size);
    for (s, &context) in contexts.iter().enumerate() {
        if context > capacity {
            return Err(Error::invalid(
                format!("context_lens[{s}]"),
                format!(
                    "{context} tokens do not fit in {max_blocks_per_seq} blocks of {}",
                    layout.block_size
                ),
            ));
        }
        let used = context.div_ceil(layout.block_size);
        let row = &block_tables[s * max_blocks_per_seq..][..used];
        for (i, &block) in row.iter().enumerate() {
            if usize::try_from(block).map_or(true, |b| b >= layout.num_blocks) {
                return Err(Error::invalid(
                    format!("block_tables[{s}][{i}]"),
                    format!(
                        "block {block} is not one of the cache's {} blocks",
                        layout.num_blocks
                    ),
                ));
            }
        }
    }
    Ok(())
}
