//! A naive f64 reference for paged attention, and the tolerances backends are held to.
//!
//! [`decode_reference`] and [`prefill_reference`] take exactly the arguments of
//! [`crate::cpu::paged_decode`] and [`crate::cpu::paged_prefill`] (and check them the same way),
//! and compute the same attention the slow, obvious way: every element widened to f64 (FP8 as
//! `decode(byte) * scale`), each key gathered through the block table, a two-pass softmax with
//! the maximum subtracted, and the weighted sum of the values. The semantics are those of
//! [`crate::layout`]. The CPU tests, the benchmarks and the CUDA backend's tests compare against
//! it with a [`Tolerance`].

use crate::error::Result;
use crate::layout::{AttentionParams, AttentionShape, validate_decode, validate_prefill};
use crate::tensor::{DType, Storage, Tensor, fp8_e4m3_to_f32};

/// Decode attention in f64; `[num_seqs, num_heads, head_dim]` row-major.
///
/// # Errors
/// As [`crate::cpu::paged_decode`].
pub fn decode_reference(
    q: &Tensor,
    k_cache: &Tensor,
    v_cache: &Tensor,
    block_tables: &[i32],
    max_blocks_per_seq: usize,
    context_lens: &[i32],
    params: &AttentionParams,
) -> Result<Vec<f64>> {
    let shape = validate_decode(
        q,
        k_cache,
        v_cache,
        block_tables,
        max_blocks_per_seq,
        context_lens,
        params,
    )?;
    let cu_seqlens: Vec<usize> = (0..=shape.num_seqs).collect();
    let contexts: Vec<usize> = context_lens.iter().map(|&c| c as usize).collect();
    Ok(naive(
        &shape,
        q,
        k_cache,
        v_cache,
        block_tables,
        max_blocks_per_seq,
        &cu_seqlens,
        &contexts,
        params,
    ))
}

/// Prefill attention in f64; `[total_tokens, num_heads, head_dim]` row-major.
///
/// # Errors
/// As [`crate::cpu::paged_prefill`].
#[allow(clippy::too_many_arguments)]
pub fn prefill_reference(
    q: &Tensor,
    k_cache: &Tensor,
    v_cache: &Tensor,
    block_tables: &[i32],
    max_blocks_per_seq: usize,
    cu_seqlens_q: &[i32],
    context_lens: &[i32],
    params: &AttentionParams,
) -> Result<Vec<f64>> {
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
    let cu_seqlens: Vec<usize> = cu_seqlens_q.iter().map(|&c| c as usize).collect();
    let contexts: Vec<usize> = context_lens.iter().map(|&c| c as usize).collect();
    Ok(naive(
        &shape,
        q,
        k_cache,
        v_cache,
        block_tables,
        max_blocks_per_seq,
        &cu_seqlens,
        &contexts,
        params,
    ))
}

/// The elements as f64, FP8 decoded and scaled in f64.
fn to_f64(tensor: &Tensor) -> Vec<f64> {
    match tensor.storage() {
        Storage::Fp8E4m3 { bytes, scale } => bytes
            .iter()
            .map(|&b| f64::from(fp8_e4m3_to_f32(b)) * f64::from(*scale))
            .collect(),
        _ => tensor.to_f32_vec().into_iter().map(f64::from).collect(),
    }
}

/// The checked inputs: new tokens `cu_seqlens[s]..cu_seqlens[s + 1]` of sequence `s` are its
/// last positions before `contexts[s]`.
#[allow(clippy::too_many_arguments)]
fn naive(
    shape: &AttentionShape,
    q: &Tensor,
    k_cache: &Tensor,
    v_cache: &Tensor,
    block_tables: &[i32],
    max_blocks_per_seq: usize,
    cu_seqlens: &[usize],
    contexts: &[usize],
    params: &AttentionParams,
) -> Vec<f64> {
    let layout = shape.layout;
    let (d, heads, group) = (layout.head_dim, shape.num_heads, shape.group_size());
    let (q, k, v) = (to_f64(q), to_f64(k_cache), to_f64(v_cache));
    let mut out = vec![0.0f64; shape.output_elements()];
    for (s, (pair, &context)) in cu_seqlens.windows(2).zip(contexts).enumerate() {
        let (start, end) = (pair[0], pair[1]);
        if context == 0 {
            continue;
        }
        // The slot of every position of the sequence.
        let slots: Vec<usize> = (0..context)
            .map(|pos| {
                let block = block_tables[s * max_blocks_per_seq + pos / layout.block_size];
                layout.slot(block as usize, pos % layout.block_size)
            })
            .collect();
        for token in start..end {
            let p = context - (end - start) + (token - start);
            let first = params
                .sliding_window
                .map_or(0, |w| (p + 1).saturating_sub(w));
            for h in 0..heads {
                let kv_head = h / group;
                let q_row = &q[(token * heads + h) * d..][..d];
                let logits: Vec<f64> = (first..=p)
                    .map(|j| {
                        let k_row = &k[layout.row_start(slots[j], kv_head)..][..d];
                        let mut logit = f64::from(params.scale)
                            * q_row.iter().zip(k_row).map(|(a, b)| a * b).sum::<f64>();
                        if let Some(cap) = params.soft_cap {
                            let cap = f64::from(cap);
                            logit = cap * (logit / cap).tanh();
                        }
                        if let Some(slopes) = &params.alibi_slopes {
                            logit += f64::from(slopes[h]) * (j as f64 - p as f64);
                        }
                        logit
                    })
                    .collect();
                let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let weights: Vec<f64> = logits.iter().map(|l| (l - max).exp()).collect();
                let total: f64 = weights.iter().sum();
                let out_row = &mut out[(token * heads + h) * d..][..d];
                for (j, w) in (first..=p).zip(&weights) {
                    let v_row = &v[layout.row_start(slots[j], kv_head)..][..d];
                    for (o, x) in out_row.iter_mut().zip(v_row) {
                        *o += w / total * x;
                    }
                }
            }
        }
    }
    out
}

/// How far an output may be from the f64 reference, by output dtype.
///
/// An element passes when `|got - want| <= atol + rtol * |want|`, and the whole output when
/// every element passes and the max-norm relative error
/// `max |got - want| / max |want|` is at most `max_rel`. The numbers follow ENGINE.md §5.3
/// (vLLM's defaults and what it suggests for nim-engine):
///
/// | output | atol | rtol | max_rel | why |
/// |---|---|---|---|---|
/// | f32 | 1e-5 | 1e-5 | 1e-5 | f32 accumulation only |
/// | f16 | 1e-3 | 1e-3 | 1e-3 | vLLM fp16 default; the output's own rounding is 4.9e-4 |
/// | bf16 | 1e-2 | 1e-2 | 1e-2 | nim-engine's bf16 bound; the output's own rounding is 3.9e-3 |
///
/// The reference reads the same (already rounded) inputs, so an FP8 or half-precision cache
/// does not widen the bounds: only the backend's arithmetic and the output's rounding count.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Tolerance {
    /// Absolute tolerance per element.
    pub atol: f64,
    /// Relative tolerance per element.
    pub rtol: f64,
    /// Bound on the max-norm relative error of the whole output.
    pub max_rel: f64,
}

impl Tolerance {
    /// f32 outputs.
    pub const F32: Tolerance = Tolerance {
        atol: 1e-5,
        rtol: 1e-5,
        max_rel: 1e-5,
    };
    /// f16 outputs.
    pub const F16: Tolerance = Tolerance {
        atol: 1e-3,
        rtol: 1e-3,
        max_rel: 1e-3,
    };
    /// bf16 outputs.
    pub const BF16: Tolerance = Tolerance {
        atol: 1e-2,
        rtol: 1e-2,
        max_rel: 1e-2,
    };

    /// The tolerance for outputs of `dtype` (FP8 outputs, which no backend produces, get bf16's).
    pub fn for_output(dtype: DType) -> Tolerance {
        match dtype {
            DType::F32 => Self::F32,
            DType::F16 => Self::F16,
            DType::Bf16 | DType::Fp8E4m3 => Self::BF16,
        }
    }

    /// Compares `got` with `want`.
    ///
    /// # Errors
    /// A description of the worst element when an element or the whole output is out of bounds
    /// (a NaN anywhere fails), or when the lengths differ.
    pub fn check(&self, got: &[f32], want: &[f64]) -> Result<Comparison, String> {
        if got.len() != want.len() {
            return Err(format!(
                "lengths differ: got {}, want {}",
                got.len(),
                want.len()
            ));
        }
        let comparison = compare(got, want);
        let bad = got.iter().zip(want).position(|(&g, &w)| {
            let err = (f64::from(g) - w).abs();
            err.is_nan() || err > self.atol + self.rtol * w.abs()
        });
        if let Some(i) = bad {
            return Err(format!(
                "element {i}: got {}, want {} (|diff| {:.3e} > atol {:.0e} + rtol {:.0e} * |want|); {comparison}",
                got[i],
                want[i],
                (f64::from(got[i]) - want[i]).abs(),
                self.atol,
                self.rtol,
            ));
        }
        if comparison.rel_err.is_nan() || comparison.rel_err > self.max_rel {
            return Err(format!(
                "max-norm relative error {:.3e} > {:.0e}; {comparison}",
                comparison.rel_err, self.max_rel
            ));
        }
        Ok(comparison)
    }
}

/// Error statistics of an output against the reference.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Comparison {
    /// `max |got - want|`.
    pub max_abs_err: f64,
    /// `max |want|`.
    pub max_abs_want: f64,
    /// `max_abs_err / max_abs_want` (0 when both are 0).
    pub rel_err: f64,
    /// Normalized mean squared error, `Σ (got - want)² / Σ want²` (0 when both are 0).
    pub nmse: f64,
    /// The element with the largest absolute error.
    pub worst: usize,
}

impl std::fmt::Display for Comparison {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "max |diff| {:.3e} at {}, max |want| {:.3e}, relative {:.3e}, NMSE {:.3e}",
            self.max_abs_err, self.worst, self.max_abs_want, self.rel_err, self.nmse
        )
    }
}

/// The error statistics of `got` against `want` (over their common length; NaN counts as an
/// infinite error).
pub fn compare(got: &[f32], want: &[f64]) -> Comparison {
    let (mut max_abs_err, mut max_abs_want, mut worst) = (0.0f64, 0.0f64, 0);
    let (mut err_sq, mut want_sq) = (0.0f64, 0.0f64);
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let mut err = (f64::from(g) - w).abs();
        if err.is_nan() {
            err = f64::INFINITY;
        }
        if err > max_abs_err {
            (max_abs_err, worst) = (err, i);
        }
        max_abs_want = max_abs_want.max(w.abs());
        err_sq += err * err;
        want_sq += w * w;
    }
    let ratio = |num: f64, den: f64| if num == 0.0 { 0.0 } else { num / den };
    Comparison {
        max_abs_err,
        max_abs_want,
        rel_err: ratio(max_abs_err, max_abs_want),
        nmse: ratio(err_sq, want_sq),
        worst,
    }
}
