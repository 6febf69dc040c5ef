//! Host-side work of the CUDA backend that needs no device: argument checks identical to the
//! CPU backend's, and the launch plan (tiles, partitions, kernel choice, block-copy waves,
//! duplicate slots). Compiled with and without the `cuda` feature, and unit-tested here.
//!
//! # Checking arguments like the CPU backend
//!
//! The public validators ([`validate_decode`], [`validate_prefill`], [`validate_write_kv`],
//! [`validate_copy_blocks`]) take host [`Tensor`]s, and a device tensor has only a shape, a dtype
//! and a scale on the host. So the checks run in two steps: the ones on the tensors themselves
//! (consistency, ranks, shapes, dtypes: [`check_caches`], [`check_q`], with the validators'
//! exact messages) on the [`Meta`] of each tensor, then the public validator itself on
//! zero-filled stand-ins of the same shapes except a head dim of 1, which checks everything else
//! (parameters, context lengths, block tables, `cu_seqlens_q`, slots, block pairs) with its own
//! code. The stand-ins are allocated zeroed (`calloc`: pages the process never touches), so
//! even a stand-in for a cache of many gigabytes costs nothing but address space of
//! `num_blocks * block_size * num_kv_heads` bytes. The tests below hold both steps to the
//! validators' errors, case by case.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use crate::error::{Error, Result};
use crate::layout::{
    AttentionParams, AttentionShape, KvLayout, validate_copy_blocks, validate_decode,
    validate_prefill, validate_write_kv,
};
use crate::tensor::{DType, Tensor};

/// The words shape errors use for a cache (as `crate::layout`).
const CACHE_WORDS: &str = "[num_blocks, block_size, num_kv_heads, head_dim]";

/// What the checks read of a tensor: host [`Tensor`]s and device tensors both have it.
pub(crate) trait Meta {
    /// The shape.
    fn shape(&self) -> &[usize];
    /// The dtype.
    fn dtype(&self) -> DType;
    /// [`Tensor::expect_consistent`]: element count and FP8 scale.
    fn check_consistent(&self, name: &str) -> Result<()>;
}

impl Meta for Tensor {
    fn shape(&self) -> &[usize] {
        Tensor::shape(self)
    }

    fn dtype(&self) -> DType {
        Tensor::dtype(self)
    }

    fn check_consistent(&self, name: &str) -> Result<()> {
        self.expect_consistent(name)
    }
}

/// The FP8 scale check of [`Tensor::expect_consistent`], with its message.
pub(crate) fn check_fp8_scale(name: &str, scale: Option<f32>) -> Result<()> {
    match scale {
        Some(scale) if !(scale.is_finite() && scale > 0.0) => Err(Error::invalid(
            name,
            format!("the FP8 scale must be finite and positive, found {scale}"),
        )),
        _ => Ok(()),
    }
}

/// [`KvLayout::of_caches`] on metadata.
pub(crate) fn check_caches(k_cache: &impl Meta, v_cache: &impl Meta) -> Result<KvLayout> {
    k_cache.check_consistent("k_cache")?;
    v_cache.check_consistent("v_cache")?;
    let layout = KvLayout::from_cache_shape("k_cache", k_cache.shape())?;
    let expected = layout.shape();
    if v_cache.shape() != expected {
        return Err(Error::shape(
            "v_cache",
            format!("{CACHE_WORDS} = {expected:?}"),
            v_cache.shape(),
        ));
    }
    Ok(layout)
}

/// The checks of `q` that `validate_decode` and `validate_prefill` make after the caches', in
/// their order and with their messages. Returns `q`'s rows and heads.
pub(crate) fn check_q(
    q: &impl Meta,
    layout: &KvLayout,
    params: &AttentionParams,
) -> Result<(usize, usize)> {
    q.check_consistent("q")?;
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
    Ok((rows, num_heads))
}

/// Zero-filled FP8 caches of `layout` with a head dim of 1 (see the module docs).
fn stand_in_caches(layout: &KvLayout) -> (Tensor, Tensor) {
    let shape = vec![layout.num_blocks, layout.block_size, layout.num_kv_heads, 1];
    (
        Tensor::zeros(shape.clone(), DType::Fp8E4m3),
        Tensor::zeros(shape, DType::Fp8E4m3),
    )
}

/// As [`validate_decode`], on metadata.
pub(crate) fn check_decode(
    q: &impl Meta,
    k_cache: &impl Meta,
    v_cache: &impl Meta,
    block_tables: &[i32],
    max_blocks_per_seq: usize,
    context_lens: &[i32],
    params: &AttentionParams,
) -> Result<AttentionShape> {
    let layout = check_caches(k_cache, v_cache)?;
    let (rows, heads) = check_q(q, &layout, params)?;
    let (k, v) = stand_in_caches(&layout);
    let q = Tensor::zeros(vec![rows, heads, 1], DType::F32);
    let shape = validate_decode(
        &q,
        &k,
        &v,
        block_tables,
        max_blocks_per_seq,
        context_lens,
        params,
    )?;
    Ok(AttentionShape { layout, ..shape })
}

/// As [`validate_prefill`], on metadata.
#[allow(clippy::too_many_arguments)]
pub(crate) fn check_prefill(
    q: &impl Meta,
    k_cache: &impl Meta,
    v_cache: &impl Meta,
    block_tables: &[i32],
    max_blocks_per_seq: usize,
    cu_seqlens_q: &[i32],
    context_lens: &[i32],
    params: &AttentionParams,
) -> Result<AttentionShape> {
    let layout = check_caches(k_cache, v_cache)?;
    let (rows, heads) = check_q(q, &layout, params)?;
    let (k, v) = stand_in_caches(&layout);
    let q = Tensor::zeros(vec![rows, heads, 1], DType::F32);
    let shape = validate_prefill(
        &q,
        &k,
        &v,
        block_tables,
        max_blocks_per_seq,
        cu_seqlens_q,
        context_lens,
        params,
    )?;
    Ok(AttentionShape { layout, ..shape })
}

/// As [`validate_write_kv`], on metadata.
pub(crate) fn check_write_kv(
    k_cache: &impl Meta,
    v_cache: &impl Meta,
    slot_mapping: &[i64],
    k: &(impl Meta + Sized),
    v: &(impl Meta + Sized),
) -> Result<KvLayout> {
    let layout = check_caches(k_cache, v_cache)?;
    let expected = [slot_mapping.len(), layout.num_kv_heads, layout.head_dim];
    const WORDS: &str = "[num_tokens = len(slot_mapping), num_kv_heads, head_dim]";
    let check_rows = |name: &str, t: &dyn Meta| {
        t.check_consistent(name)?;
        if t.shape() != expected {
            return Err(Error::shape(
                name,
                format!("{WORDS} = {expected:?}"),
                t.shape(),
            ));
        }
        Ok(())
    };
    check_rows("k", k)?;
    check_rows("v", v)?;
    let (k_cache, v_cache) = stand_in_caches(&layout);
    let rows = Tensor::zeros(vec![slot_mapping.len(), layout.num_kv_heads, 1], DType::F32);
    validate_write_kv(&k_cache, &v_cache, slot_mapping, &rows, &rows)?;
    Ok(layout)
}

/// As [`validate_copy_blocks`], on metadata.
pub(crate) fn check_copy_blocks(
    k_cache: &impl Meta,
    v_cache: &impl Meta,
    pairs: &[(u32, u32)],
) -> Result<KvLayout> {
    let layout = check_caches(k_cache, v_cache)?;
    let (k, v) = stand_in_caches(&layout);
    validate_copy_blocks(&k, &v, pairs)?;
    Ok(layout)
}

// ---------------------------------------------------------------------------------------------
// Launch plans.

/// Which attention kernel a plan runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KernelKind {
    /// `attn_mma`: tensor cores (`mma.sync` m16n8k16, f32 accumulation) for f16/bf16 queries
    /// over caches of the same dtype or FP8, head dims that are multiples of 16 up to 256, on
    /// compute capability 8.0 or newer.
    TensorCore,
    /// `attn_simt`: one warp per query row, f32 arithmetic on CUDA cores; every dtype
    /// combination and head size.
    Simt,
}

impl std::fmt::Display for KernelKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            KernelKind::TensorCore => "tensor-core",
            KernelKind::Simt => "simt",
        })
    }
}

/// Which attention kernel to run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KernelChoice {
    /// The tensor-core kernel where it applies (see [`KernelKind::TensorCore`]), else the SIMT one.
    #[default]
    Auto,
    /// Always the SIMT kernel (to compare the two, or to rule one out).
    Simt,
}

/// Options of a [`CudaBackend`](super::CudaBackend).
///
/// ```
/// use nim_engine::cuda::{CudaOptions, KernelChoice};
/// let options = CudaOptions::default().kernel(KernelChoice::Simt).partition_tokens(256);
/// assert_eq!(options.partition_tokens, Some(256));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CudaOptions {
    /// The attention kernel.
    pub kernel: KernelChoice,
    /// Keys per partition of the split-K attention. `None` (the default) makes one pass when the
    /// batch alone gives at least two blocks per multiprocessor, and otherwise splits the keys
    /// into partitions of at least 256 (a multiple of 64) until there are about four blocks per
    /// multiprocessor; `Some(n)` always splits every block's keys into partitions of `n`, which
    /// tests use to run the reduce kernel on short contexts.
    pub partition_tokens: Option<usize>,
}

impl CudaOptions {
    /// With the attention kernel `kernel`.
    #[must_use]
    pub fn kernel(mut self, kernel: KernelChoice) -> Self {
        self.kernel = kernel;
        self
    }

    /// With partitions of `tokens` keys (at least 1).
    #[must_use]
    pub fn partition_tokens(mut self, tokens: usize) -> Self {
        self.partition_tokens = Some(tokens.max(1));
        self
    }
}

/// Warps of a SIMT block, one query row each.
pub(crate) const SIMT_WARPS: usize = 4;
/// The fewest keys a partition gets when the backend picks the partitioning itself.
const MIN_PARTITION: usize = 256;
/// Partition sizes the backend picks are multiples of this (four warps of 16-key chunks).
const PARTITION_GRANULE: usize = 64;
/// At most this many partitions (the reduce kernel keeps one weight per partition in shared
/// memory).
pub(crate) const MAX_PARTITIONS: usize = 4096;

/// How the tensor-core kernel arranges its four warps.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct MmaShape {
    /// Warps on separate 16-row tiles.
    pub row_warps: usize,
    /// Warps splitting one tile's keys.
    pub key_warps: usize,
    /// P enters the P.V product as a hi + lo pair (f32-like accuracy for P).
    pub pv_split: bool,
}

/// Everything a launch needs that the host computes.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Launch {
    /// The checked shape.
    pub shape: AttentionShape,
    /// Decode (one token per sequence, no `cu_seqlens`) or prefill.
    pub decode: bool,
    /// The kernel.
    pub kind: KernelKind,
    /// The tensor-core kernel's warp arrangement.
    pub mma: Option<MmaShape>,
    /// Query rows per block.
    pub rows_per_tile: usize,
    /// `(sequence, first row)` per block, heaviest first.
    pub tiles: Vec<i32>,
    /// Partitions (grid z); 1 writes the output directly.
    pub partitions: usize,
    /// Keys per partition.
    pub partition_tokens: usize,
}

impl Launch {
    /// Blocks of the attention kernel along x (tiles).
    pub fn num_tiles(&self) -> usize {
        self.tiles.len() / 2
    }
}

/// Whether the tensor-core kernel applies.
pub(crate) fn tensor_core_applies(
    q: DType,
    k: DType,
    v: DType,
    head_dim: usize,
    compute_capability: (u32, u32),
) -> bool {
    matches!(q, DType::F16 | DType::Bf16)
        && (k == q || k == DType::Fp8E4m3)
        && (v == q || v == DType::Fp8E4m3)
        && head_dim.is_multiple_of(16)
        && head_dim <= 256
        && compute_capability >= (8, 0)
}

/// Plans a decode or prefill launch. `new_tokens[s]` is sequence `s`'s new query tokens (1 for
/// decode), `contexts[s]` its context length; `multiprocessors` sizes the automatic split.
#[allow(clippy::too_many_arguments)]
pub(crate) fn plan_launch(
    shape: AttentionShape,
    decode: bool,
    dtypes: (DType, DType, DType),
    new_tokens: &[usize],
    contexts: &[usize],
    params: &AttentionParams,
    options: &CudaOptions,
    compute_capability: (u32, u32),
    multiprocessors: usize,
) -> Launch {
    let (q, k, v) = dtypes;
    let head_dim = shape.layout.head_dim;
    let group = shape.group_size();
    let kind = if options.kernel == KernelChoice::Auto
        && tensor_core_applies(q, k, v, head_dim, compute_capability)
    {
        KernelKind::TensorCore
    } else {
        KernelKind::Simt
    };
    let mma = (kind == KernelKind::TensorCore).then(|| {
        if decode {
            MmaShape {
                row_warps: 1,
                key_warps: 4,
                pv_split: true,
            }
        } else {
            MmaShape {
                row_warps: 4,
                key_warps: 1,
                // bf16's own rounding (2^-9) dominates a bf16 P; f16 outputs need P exact.
                pv_split: q == DType::F16,
            }
        }
    });
    let rows_per_tile = match mma {
        Some(m) => 16 * m.row_warps,
        None => SIMT_WARPS,
    };
    let window = params.sliding_window.unwrap_or(0);
    let window_start = |pos: isize| -> isize {
        if window > 0 {
            (pos + 1 - window as isize).max(0)
        } else {
            0
        }
    };
    // (work, seq, first row, key range length)
    let mut tiles: Vec<(usize, usize, usize)> = Vec::new();
    let mut max_len = 0usize;
    for (s, (&n, &ctx)) in new_tokens.iter().zip(contexts).enumerate() {
        let rows = n * group;
        let mut first = 0;
        while first < rows {
            let last = (first + rows_per_tile).min(rows) - 1;
            let pos = |f: usize| ctx as isize - n as isize + (f / group) as isize;
            let len = (pos(last) + 1 - window_start(pos(first))).max(0) as usize;
            max_len = max_len.max(len);
            tiles.push((len * (last + 1 - first), s, first));
            first += rows_per_tile;
        }
    }
    // Heaviest blocks first: the long causal tiles of a prefill do not trail the launch.
    tiles.sort_by_key(|t| std::cmp::Reverse(t.0));
    let blocks = tiles.len() * shape.layout.num_kv_heads;
    let mut partition_tokens = match options.partition_tokens {
        Some(p) => p.max(1),
        None => {
            let sms = multiprocessors.max(1);
            if blocks >= 2 * sms || max_len <= MIN_PARTITION || blocks == 0 {
                max_len.max(1)
            } else {
                let parts = (4 * sms)
                    .div_ceil(blocks)
                    .min(max_len.div_ceil(MIN_PARTITION))
                    .max(1);
                max_len.div_ceil(parts).next_multiple_of(PARTITION_GRANULE)
            }
        }
    };
    if max_len.div_ceil(partition_tokens) > MAX_PARTITIONS {
        partition_tokens = max_len.div_ceil(MAX_PARTITIONS);
    }
    let partitions = max_len.div_ceil(partition_tokens).max(1);
    Launch {
        shape,
        decode,
        kind,
        mma,
        rows_per_tile,
        tiles: tiles
            .iter()
            .flat_map(|&(_, s, first)| [s as i32, first as i32])
            .collect(),
        partitions,
        partition_tokens,
    }
}

/// The slot mapping with all but the last of tokens that name the same slot turned into
/// padding (-1): the CPU backend's "the later one wins", for a kernel that writes every token
/// at once. Borrows when no slot repeats.
pub(crate) fn last_writer_wins(slots: &[i64]) -> Cow<'_, [i64]> {
    let mut seen = HashSet::with_capacity(slots.len());
    if slots.iter().all(|&s| s < 0 || seen.insert(s)) {
        return Cow::Borrowed(slots);
    }
    let mut last = HashMap::with_capacity(slots.len());
    for (i, &s) in slots.iter().enumerate() {
        if s >= 0 {
            last.insert(s, i);
        }
    }
    Cow::Owned(
        slots
            .iter()
            .enumerate()
            .map(|(i, &s)| if s >= 0 && last[&s] != i { -1 } else { s })
            .collect(),
    )
}

/// Splits block-copy pairs into waves that can each run as one launch: within a wave no block
/// is written twice or both read and written, so the waves in order give the result of the
/// pairs in order. Pairs with `src == dst` are dropped.
pub(crate) fn copy_waves(pairs: &[(u32, u32)]) -> Vec<Vec<(u32, u32)>> {
    let mut waves: Vec<Vec<(u32, u32)>> = Vec::new();
    let (mut reads, mut writes) = (HashSet::new(), HashSet::new());
    let mut current = Vec::new();
    for &(src, dst) in pairs {
        if src == dst {
            continue;
        }
        if writes.contains(&src) || writes.contains(&dst) || reads.contains(&dst) {
            waves.push(std::mem::take(&mut current));
            reads.clear();
            writes.clear();
        }
        reads.insert(src);
        writes.insert(dst);
        current.push((src, dst));
    }
    if !current.is_empty() {
        waves.push(current);
    }
    waves
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::Storage;

    fn caches(layout: &KvLayout, dtype: DType) -> (Tensor, Tensor) {
        (layout.zeros(dtype), layout.zeros(dtype))
    }

    /// A good decode call: 2 sequences of 10 and 3 tokens, blocks of 8, 4 heads over 2 KV heads.
    struct Call {
        q: Tensor,
        k: Tensor,
        v: Tensor,
        tables: Vec<i32>,
        max_blocks: usize,
        contexts: Vec<i32>,
        params: AttentionParams,
    }

    impl Call {
        fn good() -> Self {
            let layout = KvLayout {
                num_blocks: 4,
                block_size: 8,
                num_kv_heads: 2,
                head_dim: 16,
            };
            let (k, v) = caches(&layout, DType::F16);
            Call {
                q: Tensor::zeros(vec![2, 4, 16], DType::F16),
                k,
                v,
                tables: vec![0, 1, 7, 2, -1, 5],
                max_blocks: 3,
                contexts: vec![10, 3],
                params: AttentionParams::for_head_dim(16),
            }
        }

        /// The CPU validator's answer and the metadata check's.
        fn both(&self) -> (Result<AttentionShape>, Result<AttentionShape>) {
            (
                validate_decode(
                    &self.q,
                    &self.k,
                    &self.v,
                    &self.tables,
                    self.max_blocks,
                    &self.contexts,
                    &self.params,
                ),
                check_decode(
                    &self.q,
                    &self.k,
                    &self.v,
                    &self.tables,
                    self.max_blocks,
                    &self.contexts,
                    &self.params,
                ),
            )
        }
    }

    #[test]
    fn decode_checks_agree_with_the_cpu_validator() {
        type Spoil = fn(&mut Call);
        let spoils: Vec<(&str, Spoil)> = vec![
            ("good", |_| {}),
            ("q rank", |c| c.q = Tensor::zeros(vec![2, 64], DType::F16)),
            ("q head dim", |c| {
                c.q = Tensor::zeros(vec![2, 4, 17], DType::F16)
            }),
            ("q heads", |c| {
                c.q = Tensor::zeros(vec![2, 3, 16], DType::F16)
            }),
            ("q zero heads", |c| {
                c.q = Tensor::zeros(vec![2, 0, 16], DType::F16)
            }),
            ("q fp8", |c| {
                c.q = Tensor::zeros(vec![2, 4, 16], DType::Fp8E4m3)
            }),
            ("q fp8 and wrong shape", |c| {
                c.q = Tensor::zeros(vec![2, 4], DType::Fp8E4m3)
            }),
            ("q inconsistent", |c| {
                *c.q.storage_mut() = Storage::F32(vec![0.0; 3])
            }),
            ("k rank", |c| c.k = Tensor::zeros(vec![4, 8, 2], DType::F16)),
            ("k zero dim", |c| {
                c.k = Tensor::zeros(vec![4, 0, 2, 16], DType::F16)
            }),
            ("v shape", |c| {
                c.v = Tensor::zeros(vec![4, 8, 2, 8], DType::F16)
            }),
            ("k scale", |c| {
                c.k = Tensor::new(
                    vec![4, 8, 2, 16],
                    Storage::Fp8E4m3 {
                        bytes: vec![0; 1024],
                        scale: f32::NAN,
                    },
                )
                .expect("consistent")
            }),
            ("v inconsistent", |c| {
                *c.v.storage_mut() = Storage::F32(vec![0.0; 3])
            }),
            ("table length", |c| {
                c.tables.pop();
            }),
            ("block id", |c| c.tables[1] = 1000),
            ("negative block id", |c| c.tables[3] = -1),
            ("context count", |c| c.contexts.push(1)),
            ("negative context", |c| c.contexts[1] = -2),
            ("context too long", |c| c.contexts[0] = 25),
            ("slopes", |c| {
                c.params = AttentionParams::new(1.0).with_alibi_slopes(vec![0.5; 3])
            }),
            ("slope", |c| {
                c.params =
                    AttentionParams::new(1.0).with_alibi_slopes(vec![0.5, f32::NAN, 0.5, 0.5])
            }),
            ("cap", |c| {
                c.params = AttentionParams::new(1.0).with_soft_cap(0.0)
            }),
            ("window", |c| {
                c.params = AttentionParams::new(1.0).with_sliding_window(0)
            }),
            ("scale", |c| c.params = AttentionParams::new(f32::INFINITY)),
        ];
        for (what, spoil) in spoils {
            let mut call = Call::good();
            spoil(&mut call);
            let (cpu, meta) = call.both();
            assert_eq!(meta, cpu, "{what}");
            assert_eq!(what == "good", cpu.is_ok(), "{what}: {cpu:?}");
        }
    }

    #[test]
    fn prefill_checks_agree_with_the_cpu_validator() {
        let layout = KvLayout {
            num_blocks: 3,
            block_size: 8,
            num_kv_heads: 1,
            head_dim: 16,
        };
        let (k, v) = caches(&layout, DType::F32);
        let q = Tensor::zeros(vec![6, 2, 16], DType::F32);
        let params = AttentionParams::for_head_dim(16);
        let tables = [0, 1, 2, 0];
        for (cu, contexts) in [
            (vec![0, 4, 6], vec![10, 3]),
            (vec![], vec![]),
            (vec![1, 4, 6], vec![10, 3]),
            (vec![0, 4, 3], vec![10, 3]),
            (vec![0, 4, 5], vec![10, 3]),
            (vec![0, 4, 6], vec![10]),
            (vec![0, 4, 6], vec![10, 1]),
            (vec![0, 4, 6], vec![100, 3]),
        ] {
            let cpu = validate_prefill(&q, &k, &v, &tables, 2, &cu, &contexts, &params);
            let meta = check_prefill(&q, &k, &v, &tables, 2, &cu, &contexts, &params);
            assert_eq!(meta, cpu, "{cu:?} {contexts:?}");
        }
    }

    #[test]
    fn write_and_copy_checks_agree_with_the_cpu_validators() {
        let layout = KvLayout {
            num_blocks: 2,
            block_size: 4,
            num_kv_heads: 1,
            head_dim: 4,
        };
        let (kc, vc) = caches(&layout, DType::Bf16);
        let rows = Tensor::zeros(vec![3, 1, 4], DType::F32);
        let flat = Tensor::zeros(vec![3, 4], DType::F32);
        for (slots, k, v) in [
            (vec![0i64, -1, 7], &rows, &rows),
            (vec![0, 8, 1], &rows, &rows),
            (vec![0, 1], &rows, &rows),
            (vec![0, 1, 2], &rows, &flat),
        ] {
            let cpu = validate_write_kv(&kc, &vc, &slots, k, v);
            let meta = check_write_kv(&kc, &vc, &slots, k, v);
            assert_eq!(meta, cpu, "{slots:?}");
        }
        for pairs in [vec![(0, 1), (1, 0)], vec![(0, 1), (1, 2)], vec![(2, 0)]] {
            assert_eq!(
                check_copy_blocks(&kc, &vc, &pairs),
                validate_copy_blocks(&kc, &vc, &pairs),
                "{pairs:?}"
            );
        }
        let fp8 = Tensor::zeros(vec![2, 4, 1, 4], DType::Fp8E4m3);
        let mut bad = fp8.clone();
        *bad.storage_mut() = Storage::Fp8E4m3 {
            bytes: vec![0; 32],
            scale: -1.0,
        };
        assert_eq!(
            check_copy_blocks(&fp8, &bad, &[]),
            validate_copy_blocks(&fp8, &bad, &[])
        );
        assert!(check_copy_blocks(&fp8, &bad, &[]).is_err());
    }

    fn shape(group: usize, kv_heads: usize, head_dim: usize) -> AttentionShape {
        AttentionShape {
            layout: KvLayout {
                num_blocks: 1,
                block_size: 16,
                num_kv_heads: kv_heads,
                head_dim,
            },
            num_seqs: 0,
            num_tokens: 0,
            num_heads: group * kv_heads,
        }
    }

    /// Every row of every sequence is in exactly one tile, tiles never cross sequences, and the
    /// partitions cover each tile's key range.
    #[test]
    fn tiles_cover_every_row_once_and_partitions_cover_the_keys() {
        let params = [
            AttentionParams::for_head_dim(128),
            AttentionParams::for_head_dim(128).with_sliding_window(100),
        ];
        for decode in [true, false] {
            for (q, kind) in [
                (DType::Bf16, KernelKind::TensorCore),
                (DType::F32, KernelKind::Simt),
            ] {
                for group in [1, 5, 8, 20] {
                    for p in &params {
                        for option in [None, Some(37)] {
                            let new: Vec<usize> = if decode {
                                vec![1; 5]
                            } else {
                                vec![70, 1, 0, 33, 200]
                            };
                            let contexts = [700, 1, 0, 40, 5000];
                            let contexts: Vec<usize> = contexts
                                .iter()
                                .zip(&new)
                                .map(|(&c, &n)| if decode { c } else { c.max(n) })
                                .collect();
                            let options = CudaOptions {
                                partition_tokens: option,
                                ..CudaOptions::default()
                            };
                            let launch = plan_launch(
                                shape(group, 2, 128),
                                decode,
                                (q, q, q),
                                &new,
                                &contexts,
                                p,
                                &options,
                                (9, 0),
                                132,
                            );
                            assert_eq!(launch.kind, kind);
                            let mut covered: Vec<Vec<usize>> =
                                new.iter().map(|&n| vec![0; n * group]).collect();
                            for tile in launch.tiles.chunks(2) {
                                let (s, first) = (tile[0] as usize, tile[1] as usize);
                                let rows = new[s] * group;
                                assert!(first < rows);
                                let end = (first + launch.rows_per_tile).min(rows);
                                for count in &mut covered[s][first..end] {
                                    *count += 1;
                                }
                                let last = (first + launch.rows_per_tile).min(rows) - 1;
                                let pos = |f: usize| {
                                    contexts[s] as isize - new[s] as isize + (f / group) as isize
                                };
                                let lo = p
                                    .sliding_window
                                    .map_or(0, |w| (pos(first) + 1 - w as isize).max(0));
                                let len = (pos(last) + 1 - lo).max(0) as usize;
                                assert!(
                                    launch.partitions * launch.partition_tokens >= len,
                                    "{launch:?}"
                                );
                            }
                            assert!(covered.iter().flatten().all(|&c| c == 1));
                            if let Some(tokens) = option {
                                assert_eq!(launch.partition_tokens, tokens);
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn automatic_partitions_fill_the_gpu_only_when_the_batch_does_not() {
        let options = CudaOptions::default();
        let p = AttentionParams::for_head_dim(128);
        let plan = |seqs: usize, ctx: usize| {
            plan_launch(
                shape(8, 8, 128),
                true,
                (DType::Bf16, DType::Bf16, DType::Bf16),
                &vec![1; seqs],
                &vec![ctx; seqs],
                &p,
                &options,
                (9, 0),
                132,
            )
        };
        // 256 sequences x 8 KV heads = 2048 blocks: one pass.
        assert_eq!(plan(256, 32768).partitions, 1);
        assert_eq!(plan(64, 4096).partitions, 1);
        // 8 sequences x 8 KV heads = 64 blocks: split to about 4 x 132.
        let long = plan(8, 32768);
        assert!(long.partitions >= 8 && long.partitions <= 9, "{long:?}");
        assert_eq!(long.partition_tokens % 64, 0);
        // Short contexts stay whole.
        assert_eq!(plan(1, 200).partitions, 1);
        // One sequence of 1024: partitions of at least 256 keys.
        assert_eq!(plan(1, 1024).partitions, 4);
    }

    #[test]
    fn kernel_choice() {
        assert!(tensor_core_applies(
            DType::Bf16,
            DType::Bf16,
            DType::Fp8E4m3,
            128,
            (9, 0)
        ));
        assert!(tensor_core_applies(
            DType::F16,
            DType::Fp8E4m3,
            DType::F16,
            80,
            (8, 0)
        ));
        assert!(!tensor_core_applies(
            DType::F32,
            DType::F32,
            DType::F32,
            128,
            (9, 0)
        ));
        assert!(!tensor_core_applies(
            DType::F16,
            DType::Bf16,
            DType::F16,
            128,
            (9, 0)
        ));
        assert!(!tensor_core_applies(
            DType::Bf16,
            DType::Bf16,
            DType::Bf16,
            72,
            (9, 0)
        ));
        assert!(!tensor_core_applies(
            DType::Bf16,
            DType::Bf16,
            DType::Bf16,
            512,
            (9, 0)
        ));
        assert!(!tensor_core_applies(
            DType::Bf16,
            DType::Bf16,
            DType::Bf16,
            128,
            (7, 5)
        ));
    }

    #[test]
    fn duplicate_slots_keep_the_last_writer() {
        assert!(matches!(
            last_writer_wins(&[3, -1, 4, -1]),
            Cow::Borrowed(_)
        ));
        assert_eq!(
            &*last_writer_wins(&[3, 4, 3, -1, 4, 5]),
            &[-1, -1, 3, -1, 4, 5]
        );
    }

    #[test]
    fn copy_waves_keep_the_order_of_dependent_pairs() {
        assert_eq!(
            copy_waves(&[(0, 3), (3, 1), (2, 2), (4, 5)]),
            vec![vec![(0, 3)], vec![(3, 1), (4, 5)]]
        );
        assert_eq!(
            copy_waves(&[(0, 1), (0, 2), (0, 3)]),
            vec![vec![(0, 1), (0, 2), (0, 3)]]
        );
        // Write after read and write after write start new waves.
        assert_eq!(
            copy_waves(&[(0, 1), (2, 0), (3, 2), (4, 2)]),
            vec![vec![(0, 1)], vec![(2, 0)], vec![(3, 2)], vec![(4, 2)]]
        );
        assert!(copy_waves(&[(1, 1)]).is_empty());
    }
}
