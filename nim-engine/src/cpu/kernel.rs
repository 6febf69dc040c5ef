//! The attention kernel both decode and prefill run: a group of query rows that share one KV
//! head attends over one sequence's paged keys, block by block, with an online softmax.

use crate::layout::{AttentionParams, KvLayout};

use super::rows::Rows;

/// Keys handled together by [`dot4`] and [`axpy4`]: each query element loaded once serves
/// four keys, and each output element loaded once takes four values.
pub(crate) const KEYS: usize = 4;

/// Lanes of the partial sums in [`dot`]: four SSE registers or two AVX registers, enough
/// independent additions to hide their latency, and a divisor of the common head sizes.
const LANES: usize = 16;

/// `a · b` in f32 with [`LANES`] partial sums, written so that the compiler vectorizes it for
/// whatever vector width the target has.
#[inline]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    let (a_chunks, a_tail) = a.as_chunks::<LANES>();
    let (b_chunks, b_tail) = b.as_chunks::<LANES>();
    let mut acc = [0.0f32; LANES];
    for (x, y) in a_chunks.iter().zip(b_chunks) {
        for ((s, &x), &y) in acc.iter_mut().zip(x).zip(y) {
            *s += x * y;
        }
    }
    let tail: f32 = a_tail.iter().zip(b_tail).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

/// `[q · k[0], q · k[1], q · k[2], q · k[3]]`.
#[inline]
pub(crate) fn dot4(q: &[f32], k: [&[f32]; KEYS]) -> [f32; KEYS] {
    k.map(|k| dot(q, k))
}

/// `acc += p[0] * v[0] + p[1] * v[1] + p[2] * v[2] + p[3] * v[3]`.
#[inline]
pub(crate) fn axpy4(acc: &mut [f32], p: [f32; KEYS], v: [&[f32]; KEYS]) {
    let values = v[0].iter().zip(v[1]).zip(v[2]).zip(v[3]);
    for (a, (((&x0, &x1), &x2), &x3)) in acc.iter_mut().zip(values) {
        *a += p[0] * x0 + p[1] * x1 + p[2] * x2 + p[3] * x3;
    }
}

/// `x *= factor`.
#[inline]
pub(crate) fn scale_in_place(x: &mut [f32], factor: f32) {
    for v in x {
        *v *= factor;
    }
}

/// The checked K and V caches of one layer.
pub(crate) struct Kv<'a> {
    /// K rows.
    pub k: Rows<'a>,
    /// V rows.
    pub v: Rows<'a>,
    /// The layout both share.
    pub layout: KvLayout,
}

/// The parts of [`AttentionParams`] the kernel applies to logits (the scale is folded into the
/// queries).
pub(crate) struct Logits<'a> {
    window: Option<usize>,
    soft_cap: Option<f32>,
    alibi: Option<&'a [f32]>,
}

impl<'a> Logits<'a> {
    pub(crate) fn new(params: &'a AttentionParams) -> Self {
        Self {
            window: params.sliding_window,
            soft_cap: params.soft_cap,
            alibi: params.alibi_slopes.as_deref(),
        }
    }
}

/// Query rows that share a KV head: row `r` is `q[r * head_dim..][..head_dim]`, already
/// multiplied by the scale, at position `pos[r]` of its sequence, of query head `head[r]`.
pub(crate) struct Queries<'a> {
    pub q: &'a [f32],
    pub pos: &'a [usize],
    pub head: &'a [usize],
}

/// Buffers one worker reuses from task to task.
pub(crate) struct Scratch {
    /// The K rows of one block, converted to f32.
    k_tile: Vec<f32>,
    /// The V rows of one block, converted to f32.
    v_tile: Vec<f32>,
    /// `rows × block_size` logits, then probabilities, of the current block.
    logits: Vec<f32>,
    /// Running maximum per row.
    max: Vec<f32>,
    /// Running sum of exponentials per row.
    sum: Vec<f32>,
}

impl Scratch {
    /// Buffers for up to `rows` query rows.
    pub(crate) fn new(layout: &KvLayout, rows: usize) -> Self {
        Self {
            k_tile: vec![0.0; layout.block_size * layout.head_dim],
            v_tile: vec![0.0; layout.block_size * layout.head_dim],
            logits: vec![0.0; rows * layout.block_size],
            max: vec![0.0; rows],
            sum: vec![0.0; rows],
        }
    }
}

/// Converts the `n` rows of consecutive slots from `first_slot` for `kv_head` into `tile`
/// (`n × head_dim`), all loads of a block back to back so that their cache misses overlap.
fn load_tile(
    rows: &Rows<'_>,
    layout: &KvLayout,
    kv_head: usize,
    first_slot: usize,
    n: usize,
    tile: &mut [f32],
) {
    let d = layout.head_dim;
    for (j, row) in tile.chunks_exact_mut(d).take(n).enumerate() {
        rows.load(layout.row_start(first_slot + j, kv_head), row);
    }
}

/// Rows `j..j + count` of a tile (`count` from 1 to [`KEYS`]); missing ones repeat the last
/// (their weights are zero).
fn key_group(tile: &[f32], d: usize, j: usize, count: usize) -> [&[f32]; KEYS] {
    let row = |t: usize| &tile[(j + t.min(count - 1)) * d..][..d];
    [row(0), row(1), row(2), row(3)]
}

/// Attends `queries` (all of KV head `kv_head`) over the sequence whose physical blocks are
/// `blocks` (its row of the block table, checked to cover every position read), writing the
/// normalized output rows into `out` (`rows × head_dim`).
///
/// Keys are visited block by block; per block each K row is read once for all query rows
/// (four keys at a time), the block's logits update a running maximum and sum per row (online
/// softmax, rescaling the accumulated output when the maximum grows), and each V row is read
/// once and added into every row it contributes to. Positions at or beyond the latest query
/// position are never read, so padding slots may hold anything (NaN included).
pub(crate) fn attend(
    kv: &Kv<'_>,
    blocks: &[i32],
    kv_head: usize,
    queries: &Queries<'_>,
    logits_params: &Logits<'_>,
    scratch: &mut Scratch,
    out: &mut [f32],
) {
    let layout = &kv.layout;
    let (d, bs) = (layout.head_dim, layout.block_size);
    let rows = queries.pos.len();
    out.fill(0.0);
    let Some(&last_pos) = queries.pos.iter().max() else {
        return;
    };
    let window_start = |pos: usize| match logits_params.window {
        Some(w) => (pos + 1).saturating_sub(w),
        None => 0,
    };
    let first_key = queries
        .pos
        .iter()
        .map(|&p| window_start(p))
        .min()
        .unwrap_or(0);
    let end_key = last_pos + 1;

    let Scratch {
        k_tile,
        v_tile,
        logits,
        max,
        sum,
    } = scratch;
    let logits = &mut logits[..rows * bs];
    let (max, sum) = (&mut max[..rows], &mut sum[..rows]);
    max.fill(f32::NEG_INFINITY);
    sum.fill(0.0);

    for (logical, &physical) in blocks
        .iter()
        .enumerate()
        .take(end_key.div_ceil(bs))
        .skip(first_key / bs)
    {
        let block_start = logical * bs;
        let lo = first_key.max(block_start);
        let n = end_key.min(block_start + bs) - lo;
        let first_slot = physical as usize * bs + (lo - block_start);

        // Logits: each K row once, against every query row.
        load_tile(&kv.k, layout, kv_head, first_slot, n, k_tile);
        for j in (0..n).step_by(KEYS) {
            let count = KEYS.min(n - j);
            let k = key_group(k_tile, d, j, count);
            let first = lo + j;
            for r in 0..rows {
                let (pos, start) = (queries.pos[r], window_start(queries.pos[r]));
                let row = &mut logits[r * bs + j..][..count];
                if first > pos || first + count <= start {
                    row.fill(f32::NEG_INFINITY);
                    continue;
                }
                let dots = dot4(&queries.q[r * d..][..d], k);
                for (t, (logit, &s)) in row.iter_mut().zip(&dots).enumerate() {
                    let key_pos = first + t;
                    *logit = if key_pos > pos || key_pos < start {
                        f32::NEG_INFINITY
                    } else {
                        let mut s = s;
                        if let Some(cap) = logits_params.soft_cap {
                            s = cap * (s / cap).tanh();
                        }
                        if let Some(slopes) = logits_params.alibi {
                            s += slopes[queries.head[r]] * (key_pos as f32 - pos as f32);
                        }
                        s
                    };
                }
            }
        }

        // Online softmax: fold the block into each row's running maximum and sum.
        for r in 0..rows {
            let row = &mut logits[r * bs..][..n];
            let block_max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            if block_max == f32::NEG_INFINITY {
                // Every key of the block is masked for this row.
                row.fill(0.0);
                continue;
            }
            if block_max > max[r] {
                if max[r] > f32::NEG_INFINITY {
                    let alpha = (max[r] - block_max).exp();
                    scale_in_place(&mut out[r * d..][..d], alpha);
                    sum[r] *= alpha;
                }
                max[r] = block_max;
            }
            let m = max[r];
            let mut block_sum = 0.0;
            for x in row.iter_mut() {
                *x = (*x - m).exp();
                block_sum += *x;
            }
            sum[r] += block_sum;
        }

        // Values: each V row once, into every row it weighs in.
        load_tile(&kv.v, layout, kv_head, first_slot, n, v_tile);
        for j in (0..n).step_by(KEYS) {
            let count = KEYS.min(n - j);
            let v = key_group(v_tile, d, j, count);
            for r in 0..rows {
                let mut p = [0.0f32; KEYS];
                p[..count].copy_from_slice(&logits[r * bs + j..][..count]);
                if p.iter().any(|&x| x != 0.0) {
                    axpy4(&mut out[r * d..][..d], p, v);
                }
            }
        }
    }

    for (r, &s) in sum.iter().enumerate() {
        if s > 0.0 {
            scale_in_place(&mut out[r * d..][..d], 1.0 / s);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot4_and_axpy4_match_plain_sums_for_every_length() {
        for len in 0..70 {
            let row =
                |seed: f32| -> Vec<f32> { (0..len).map(|i| (i as f32 * seed).sin()).collect() };
            let q = row(0.3);
            let keys = [row(0.7), row(1.1), row(-0.4), row(2.3)];
            let got = dot4(&q, [&keys[0], &keys[1], &keys[2], &keys[3]]);
            let p = [0.5f32, -1.0, 0.25, 2.0];
            let mut acc = q.clone();
            axpy4(&mut acc, p, [&keys[0], &keys[1], &keys[2], &keys[3]]);
            for (key, got) in keys.iter().zip(got) {
                let want: f64 = q
                    .iter()
                    .zip(key)
                    .map(|(&x, &y)| f64::from(x) * f64::from(y))
                    .sum();
                assert!((f64::from(got) - want).abs() <= 1e-5, "{len}");
            }
            for (i, got) in acc.iter().enumerate() {
                let want = f64::from(q[i])
                    + keys
                        .iter()
                        .zip(p)
                        .map(|(k, p)| f64::from(p) * f64::from(k[i]))
                        .sum::<f64>();
                assert!((f64::from(*got) - want).abs() <= 1e-5, "{len}");
            }
        }
    }
}
