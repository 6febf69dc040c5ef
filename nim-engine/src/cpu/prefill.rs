//! Paged prefill attention: variable-length runs of new query tokens per sequence, causal, after
//! any number of cached tokens.

use rayon::prelude::*;

use crate::error::Result;
use crate::layout::{AttentionParams, validate_prefill};
use crate::tensor::Tensor;

use super::kernel::{Kv, Logits, Queries, Scratch, attend, scale_in_place};
use super::output_tensor;
use super::rows::Rows;

/// Query rows (tokens × heads of one KV group) per tile: enough rows to reuse each K and V row
/// many times while the tile's queries and outputs stay in the L2 cache.
const TILE_ROWS: usize = 64;

/// One unit of parallel work: new tokens `start..end` (indices into `q`) of sequence `seq`, all
/// heads.
struct Tile {
    seq: usize,
    start: usize,
    end: usize,
}

/// Paged prefill attention with a causal mask over variable-length sequences.
///
/// Sequence `s` has `n = cu_seqlens_q[s + 1] - cu_seqlens_q[s]` new query tokens, rows
/// `cu_seqlens_q[s]..cu_seqlens_q[s + 1]` of `q`, and `context_lens[s]` tokens in the cache
/// *including* the new ones, whose K and V must already be written ([`super::write_kv`]). The
/// new tokens are the last `n` positions: new token `i` sits at position
/// `p = context_lens[s] - n + i` and attends to keys `0..=p` (within the sliding window when one
/// is set). So a sequence that continues after cached prefix blocks (prefix caching, chunked
/// prefill) passes only its new tokens, and `n = 1` is a decode step.
///
/// * `q`: `[total_tokens, num_heads, head_dim]`, f32, f16 or bf16.
/// * `k_cache`, `v_cache`, `block_tables`, `max_blocks_per_seq`, `params`: as
///   [`super::paged_decode`].
/// * `cu_seqlens_q`: `[num_seqs + 1]`, non-decreasing from 0 to `total_tokens`.
/// * `context_lens`: `[num_seqs]`, each at least its sequence's `n`.
///
/// Returns `[total_tokens, num_heads, head_dim]` in `q`'s dtype. The work is split over tiles of
/// consecutive tokens of one sequence on the current rayon pool.
///
/// # Errors
/// As [`validate_prefill`].
#[allow(clippy::too_many_arguments)]
pub fn paged_prefill(
    q: &Tensor,
    k_cache: &Tensor,
    v_cache: &Tensor,
    block_tables: &[i32],
    max_blocks_per_seq: usize,
    cu_seqlens_q: &[i32],
    context_lens: &[i32],
    params: &AttentionParams,
) -> Result<Tensor> {
    let shape = validate_prefill(
        q,
        k_cache,
        v_cache,
        block_tables,
        max_blocks_per_seq,
        cu_seqlens_q,
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
    let (d, kv_heads, group, num_heads) = (
        layout.head_dim,
        layout.num_kv_heads,
        shape.group_size(),
        shape.num_heads,
    );
    let tile_tokens = (TILE_ROWS / group).max(1);
    let row_elements = num_heads * d;

    let mut tiles = Vec::new();
    for (seq, pair) in cu_seqlens_q.windows(2).enumerate() {
        let (start, end) = (pair[0] as usize, pair[1] as usize);
        let mut t = start;
        while t < end {
            let next = (t + tile_tokens).min(end);
            tiles.push(Tile {
                seq,
                start: t,
                end: next,
            });
            t = next;
        }
    }
    // Tiles cover the tokens in order, so the output splits into one contiguous chunk each.
    let mut out = vec![0.0f32; shape.output_elements()];
    let mut work = Vec::with_capacity(tiles.len());
    let mut rest = out.as_mut_slice();
    for tile in tiles {
        let (chunk, tail) = rest.split_at_mut((tile.end - tile.start) * row_elements);
        work.push((tile, chunk));
        rest = tail;
    }

    let rows = tile_tokens * group;
    work.into_par_iter().for_each_init(
        || {
            (
                Scratch::new(&layout, rows),
                vec![0.0f32; rows * d],
                vec![0.0f32; rows * d],
                vec![0usize; rows],
                vec![0usize; rows],
            )
        },
        |(scratch, q_tile, acc, pos, head), (tile, out)| {
            let tokens = tile.end - tile.start;
            let n_rows = tokens * group;
            let context = context_lens[tile.seq] as usize;
            let seq_start = cu_seqlens_q[tile.seq] as usize;
            let seq_len = cu_seqlens_q[tile.seq + 1] as usize - seq_start;
            let blocks = &block_tables[tile.seq * max_blocks_per_seq..][..max_blocks_per_seq];
            for g in 0..kv_heads {
                for t in 0..tokens {
                    let token = tile.start + t;
                    let rows = t * group..(t + 1) * group;
                    q_rows.load(
                        token * row_elements + g * group * d,
                        &mut q_tile[rows.start * d..rows.end * d],
                    );
                    pos[rows.clone()].fill(context - seq_len + (token - seq_start));
                    for (h, slot) in head[rows].iter_mut().enumerate() {
                        *slot = g * group + h;
                    }
                }
                let q_tile = &mut q_tile[..n_rows * d];
                scale_in_place(q_tile, params.scale);
                let queries = Queries {
                    q: q_tile,
                    pos: &pos[..n_rows],
                    head: &head[..n_rows],
                };
                let acc = &mut acc[..n_rows * d];
                attend(&kv, blocks, g, &queries, &logits, scratch, acc);
                for t in 0..tokens {
                    out[t * row_elements + g * group * d..][..group * d]
                        .copy_from_slice(&acc[t * group * d..][..group * d]);
                }
            }
        },
    );
    output_tensor(vec![shape.num_tokens, num_heads, d], out, q.dtype())
}
