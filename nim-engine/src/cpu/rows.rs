//! Reading rows of any dtype as `f32`, and writing `f32` rows into any dtype.

use half::{bf16, f16, slice::HalfFloatSliceExt};

use crate::tensor::{Storage, Tensor, f32_to_fp8_e4m3, fp8_e4m3_to_f32};

/// A read-only view of a tensor's elements that hands out `f32` rows.
pub(crate) enum Rows<'a> {
    /// f32.
    F32(&'a [f32]),
    /// f16.
    F16(&'a [f16]),
    /// bf16.
    Bf16(&'a [bf16]),
    /// FP8 E4M3 with the 256 decoded values already multiplied by the scale.
    Fp8 {
        /// The encoded elements.
        bytes: &'a [u8],
        /// `decode(code) * scale` for every code.
        table: Box<[f32; 256]>,
    },
}

impl<'a> Rows<'a> {
    /// A view of `tensor`'s elements.
    pub(crate) fn new(tensor: &'a Tensor) -> Self {
        match tensor.storage() {
            Storage::F32(v) => Rows::F32(v),
            Storage::F16(v) => Rows::F16(v),
            Storage::Bf16(v) => Rows::Bf16(v),
            Storage::Fp8E4m3 { bytes, scale } => {
                let mut table = Box::new([0.0f32; 256]);
                for (code, value) in (0..=255u8).zip(table.iter_mut()) {
                    *value = fp8_e4m3_to_f32(code) * scale;
                }
                Rows::Fp8 { bytes, table }
            }
        }
    }

    /// Converts the `out.len()` elements from `start` into `out`.
    #[inline]
    pub(crate) fn load(&self, start: usize, out: &mut [f32]) {
        let end = start + out.len();
        match self {
            Rows::F32(v) => out.copy_from_slice(&v[start..end]),
            // half converts slices with F16C when the running CPU has it (detected at run time).
            Rows::F16(v) => v[start..end].convert_to_f32_slice(out),
            Rows::Bf16(v) => {
                for (o, x) in out.iter_mut().zip(&v[start..end]) {
                    *o = f32::from_bits(u32::from(x.to_bits()) << 16);
                }
            }
            Rows::Fp8 { bytes, table } => {
                for (o, &b) in out.iter_mut().zip(&bytes[start..end]) {
                    *o = table[usize::from(b)];
                }
            }
        }
    }
}

/// Stores `src` into `storage` from element `start`, rounding to the storage's dtype (FP8:
/// `src / scale`, saturating). The caller has checked the range.
pub(crate) fn store(storage: &mut Storage, start: usize, src: &[f32]) {
    let end = start + src.len();
    match storage {
        Storage::F32(v) => v[start..end].copy_from_slice(src),
        Storage::F16(v) => v[start..end].convert_from_f32_slice(src),
        Storage::Bf16(v) => {
            for (o, &x) in v[start..end].iter_mut().zip(src) {
                *o = bf16::from_f32(x);
            }
        }
        Storage::Fp8E4m3 { bytes, scale } => {
            let scale = *scale;
            for (o, &x) in bytes[start..end].iter_mut().zip(src) {
                *o = f32_to_fp8_e4m3(x / scale);
            }
        }
    }
}
