//! Paged decode attention: one new query token per sequence.

use rayon::prelude::*;

use crate::error::Result;
use crate::layout::{AttentionParams, validate_decode};
use crate::tensor::Tensor;

use super::kernel::{Kv, Logits, Queries, Scratch, attend, scale_in_place};
use super::output_tensor;
use super::rows::Rows;

/// Paged decode attention: the query of each sequence (its newest token, at position
/// `context_lens[s] - 1`) attends over the sequence's first `context_lens[s]` cached tokens.
///
/// * `q`: `[num_seqs, num_heads, head_dim]`, f32, f16 or bf16; `num_heads` a multiple of the
///   caches' `num_kv_heads` (query head `h` reads KV head `h / (num_heads / num_kv_heads)`).
/// * `k_cache`, `v_cache`: `[num_blocks, block_size, num_kv_heads, head_dim]` (see
///   [`crate::layout`]) in f32, f16, bf16 or FP8 E4M3 with its per-tensor scale; the token's
///   own K and V must already be written ([`super::write_kv`]).
/// * `block_tables`: `[num_seqs, max_blocks_per_seq]` row-major physical block ids.
/// * `context_lens`: tokens per sequence. A length of 0 marks a padding sequence, whose output
///   is zeros.
///
/// Returns `[num_seqs, num_heads, head_dim]` in `q`'s dtype. Accumulation is in f32. The work is
/// split over (sequence, KV head) pairs on the current rayon pool; the query heads of one KV
/// head are computed together so that every K and V row is read once per group.
///
/// # Errors
/// As [`validate_decode`]: every shape, dtype and index problem names its tensor or argument.
pub fn paged_decode(
    q: &Tensor,
    k_cache: &Tensor,
    v_cache: &Tensor,
    block_tables: &[i32],
    max_blocks_per_seq: usize,
    context_lens: &[i32],
    params: &AttentionParams,
) -> Result<Tensor> {
    let shape = validate_decode(
        q,
        k_cache,
        v_cache,
        block_tables,
        max_blocks_per_seq,
        context_lens,
        params,
    )?;
    let layout = shape.layout;
    let kv = Kv {
        k: Rows::new(k_cache),
        v: Rows::new(v_cache),
        layout,
    };
    let q_rows = Rows::new(q);
    let logits = Logits::new(params);
    let (d, kv_heads, group) = (layout.head_dim, layout.num_kv_heads, shape.group_size());
    let heads: Vec<Vec<usize>> = (0..kv_heads)
        .map(|g| (g * group..(g + 1) * group).collect())
        .collect();

    let mut out = vec![0.0f32; shape.output_elements()];
    // The output of (sequence s, KV head g) is the `group` contiguous rows of heads
    // g * group .. (g + 1) * group of sequence s.
    out.par_chunks_mut(group * d).enumerate().for_each_init(
        || {
            (
                Scratch::new(&layout, group),
                vec![0.0f32; group * d],
                vec![0usize; group],
            )
        },
        |(scratch, q_group, pos), (task, out)| {
            let (s, g) = (task / kv_heads, task % kv_heads);
            let context = context_lens[s] as usize;
            if context == 0 {
                out.fill(0.0);
                return;
            }
            q_rows.load(task * group * d, q_group);
            scale_in_place(q_group, params.scale);
            pos.fill(context - 1);
            let queries = Queries {
                q: q_group,
                pos,
                head: &heads[g],
            };
            let blocks = &block_tables[s * max_blocks_per_seq..][..max_blocks_per_seq];
            attend(&kv, blocks, g, &queries, &logits, scratch, out);
        },
    );
    output_tensor(vec![shape.num_seqs, shape.num_heads, d], out, q.dtype())
}
