//! Writing new tokens' K and V into the paged caches, and copying blocks.

use crate::error::Result;
use crate::layout::{validate_copy_blocks, validate_write_kv};
use crate::tensor::{Storage, Tensor};

use super::rows::{Rows, store};

/// Writes the K and V of `slot_mapping.len()` new tokens into the caches (vLLM's
/// `reshape_and_cache`): token `i`'s rows `k[i]` and `v[i]` (`[num_kv_heads, head_dim]` each)
/// go to slot `slot_mapping[i]`, that is block `slot / block_size`, offset `slot % block_size`.
///
/// A negative slot marks a padding token, which is skipped. `k` and `v` may have any dtype and
/// are converted to the caches' (rounding to nearest even; FP8 caches store `value / scale`
/// with their own scale, saturating at ±448). When two tokens name the same slot, the later one
/// wins. Every slot is checked before anything is written, so on error the caches are unchanged.
///
/// # Errors
/// As [`validate_write_kv`].
pub fn write_kv(
    k_cache: &mut Tensor,
    v_cache: &mut Tensor,
    slot_mapping: &[i64],
    k: &Tensor,
    v: &Tensor,
) -> Result<()> {
    let layout = validate_write_kv(k_cache, v_cache, slot_mapping, k, v)?;
    let token = layout.token_elements();
    for (cache, new) in [(k_cache, k), (v_cache, v)] {
        let same_encoding = match (cache.storage(), new.storage()) {
            (Storage::Fp8E4m3 { scale: a, .. }, Storage::Fp8E4m3 { scale: b, .. }) => a == b,
            (a, b) => a.dtype() == b.dtype(),
        };
        let src = Rows::new(new);
        let mut buf = vec![0.0f32; token];
        for (i, &slot) in slot_mapping.iter().enumerate() {
            let Ok(slot) = usize::try_from(slot) else {
                continue;
            };
            let (from, to) = (i * token, slot * token);
            if same_encoding {
                copy_raw(new.storage(), from, cache.storage_mut(), to, token);
            } else {
                src.load(from, &mut buf);
                store(cache.storage_mut(), to, &buf);
            }
        }
    }
    Ok(())
}

/// Copies whole blocks, K and V, for copy-on-write: for each `(src, dst)` in order, block `dst`
/// becomes a bitwise copy of block `src`. A pair with `src == dst` changes nothing. Every pair is
/// checked before anything is copied.
///
/// # Errors
/// As [`validate_copy_blocks`].
pub fn copy_blocks(k_cache: &mut Tensor, v_cache: &mut Tensor, pairs: &[(u32, u32)]) -> Result<()> {
    let layout = validate_copy_blocks(k_cache, v_cache, pairs)?;
    let n = layout.block_elements();
    for cache in [k_cache, v_cache] {
        for &(src, dst) in pairs {
            let (src, dst) = (src as usize * n, dst as usize * n);
            match cache.storage_mut() {
                Storage::F32(v) => v.copy_within(src..src + n, dst),
                Storage::F16(v) => v.copy_within(src..src + n, dst),
                Storage::Bf16(v) => v.copy_within(src..src + n, dst),
                Storage::Fp8E4m3 { bytes, .. } => bytes.copy_within(src..src + n, dst),
            }
        }
    }
    Ok(())
}

/// Copies `n` elements between storages of the same encoding.
fn copy_raw(src: &Storage, from: usize, dst: &mut Storage, to: usize, n: usize) {
    match (src, dst) {
        (Storage::F32(s), Storage::F32(d)) => d[to..to + n].copy_from_slice(&s[from..from + n]),
        (Storage::F16(s), Storage::F16(d)) => d[to..to + n].copy_from_slice(&s[from..from + n]),
        (Storage::Bf16(s), Storage::Bf16(d)) => d[to..to + n].copy_from_slice(&s[from..from + n]),
        (Storage::Fp8E4m3 { bytes: s, .. }, Storage::Fp8E4m3 { bytes: d, .. }) => {
            d[to..to + n].copy_from_slice(&s[from..from + n]);
        }
        _ => {}
    }
}
