//! A minimal owned CPU tensor: a dtype, a shape and row-major data.
//!
//! The engine needs little of a tensor library: contiguous row-major storage in one of four
//! element types, conversion to and from `f32`, and shape checks with errors that name the
//! tensor. FP8 (E4M3) tensors carry one per-tensor scale: the stored value times `scale` is
//! the real value, as vLLM's `fp8` KV cache does.

use half::{bf16, f16};

use crate::error::{Error, Result};

/// Element types.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    /// 32-bit float.
    F32,
    /// IEEE half.
    F16,
    /// bfloat16.
    Bf16,
    /// FP8 E4M3 (OCP), with a per-tensor scale.
    Fp8E4m3,
}

impl DType {
    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::F32 => 4,
            DType::F16 | DType::Bf16 => 2,
            DType::Fp8E4m3 => 1,
        }
    }

    /// The name safetensors uses (`F32`, `F16`, `BF16`, `F8_E4M3`).
    pub fn safetensors_name(self) -> &'static str {
        match self {
            DType::F32 => "F32",
            DType::F16 => "F16",
            DType::Bf16 => "BF16",
            DType::Fp8E4m3 => "F8_E4M3",
        }
    }
}

impl std::fmt::Display for DType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DType::F32 => "f32",
            DType::F16 => "f16",
            DType::Bf16 => "bf16",
            DType::Fp8E4m3 => "fp8-e4m3",
        })
    }
}

/// The elements of a tensor.
#[derive(Clone, Debug, PartialEq)]
pub enum Storage {
    /// f32 elements.
    F32(Vec<f32>),
    /// f16 elements.
    F16(Vec<f16>),
    /// bf16 elements.
    Bf16(Vec<bf16>),
    /// FP8 E4M3 bytes and the per-tensor scale (real value = decoded byte × scale).
    Fp8E4m3 {
        /// The encoded elements.
        bytes: Vec<u8>,
        /// The per-tensor scale.
        scale: f32,
    },
}

impl Storage {
    /// Elements stored.
    pub fn len(&self) -> usize {
        match self {
            Storage::F32(v) => v.len(),
            Storage::F16(v) => v.len(),
            Storage::Bf16(v) => v.len(),
            Storage::Fp8E4m3 { bytes, .. } => bytes.len(),
        }
    }

    /// Whether no element is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The dtype.
    pub fn dtype(&self) -> DType {
        match self {
            Storage::F32(_) => DType::F32,
            Storage::F16(_) => DType::F16,
            Storage::Bf16(_) => DType::Bf16,
            Storage::Fp8E4m3 { .. } => DType::Fp8E4m3,
        }
    }
}

/// A row-major CPU tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    shape: Vec<usize>,
    storage: Storage,
}

impl Tensor {
    /// A tensor of `shape` over `storage`.
    ///
    /// # Errors
    /// [`Error::Shape`] when the element count does not match the shape.
    pub fn new(shape: Vec<usize>, storage: Storage) -> Result<Self> {
        let elements = shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
        if elements != Some(storage.len()) {
            return Err(Error::shape(
                "tensor",
                format!("{} elements", storage.len()),
                &shape,
            ));
        }
        Ok(Self { shape, storage })
    }

    /// Zeros of `dtype` (FP8 with scale 1).
    pub fn zeros(shape: Vec<usize>, dtype: DType) -> Self {
        let n = shape.iter().product();
        let storage = match dtype {
            DType::F32 => Storage::F32(vec![0.0; n]),
            DType::F16 => Storage::F16(vec![f16::ZERO; n]),
            DType::Bf16 => Storage::Bf16(vec![bf16::ZERO; n]),
            DType::Fp8E4m3 => Storage::Fp8E4m3 {
                bytes: vec![0; n],
                scale: 1.0,
            },
        };
        Self { shape, storage }
    }

    /// An f32 tensor.
    ///
    /// # Errors
    /// As [`Tensor::new`].
    pub fn from_f32(shape: Vec<usize>, data: Vec<f32>) -> Result<Self> {
        Self::new(shape, Storage::F32(data))
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The dtype.
    pub fn dtype(&self) -> DType {
        self.storage.dtype()
    }

    /// The storage.
    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    /// The storage, mutably (the shape cannot change).
    pub fn storage_mut(&mut self) -> &mut Storage {
        &mut self.storage
    }

    /// Elements in all.
    pub fn len(&self) -> usize {
        self.storage.len()
    }

    /// Whether the tensor has no element.
    pub fn is_empty(&self) -> bool {
        self.storage.is_empty()
    }

    /// Checks the shape, naming the tensor in the error.
    ///
    /// # Errors
    /// [`Error::Shape`] when it differs.
    pub fn expect_shape(&self, name: &str, expected: &[usize], words: &str) -> Result<()> {
        if self.shape == expected {
            Ok(())
        } else {
            Err(Error::shape(
                name,
                format!("{words} = {expected:?}"),
                &self.shape,
            ))
        }
    }

    /// Checks the rank, naming the tensor in the error.
    ///
    /// # Errors
    /// [`Error::Shape`] when it differs.
    pub fn expect_rank(&self, name: &str, rank: usize, words: &str) -> Result<()> {
        if self.shape.len() == rank {
            Ok(())
        } else {
            Err(Error::shape(name, words, &self.shape))
        }
    }
}

/// Conversions between dtypes. Every conversion goes through `f32`, which holds f16, bf16 and
/// FP8 E4M3 values exactly.
impl Tensor {
    /// The elements as `f32`; FP8 elements are decoded and multiplied by the tensor's scale.
    pub fn to_f32_vec(&self) -> Vec<f32> {
        match &self.storage {
            Storage::F32(v) => v.clone(),
            Storage::F16(v) => v.iter().map(|x| x.to_f32()).collect(),
            Storage::Bf16(v) => v.iter().map(|x| x.to_f32()).collect(),
            Storage::Fp8E4m3 { bytes, scale } => {
                bytes.iter().map(|&b| fp8_e4m3_to_f32(b) * scale).collect()
            }
        }
    }

    /// A tensor of `dtype` from `f32` values, rounding to nearest even. FP8 gets scale 1 (values
    /// beyond ±448 saturate); use [`Tensor::fp8_from_f32`] to pick the scale.
    ///
    /// # Errors
    /// As [`Tensor::new`].
    pub fn from_f32_as(shape: Vec<usize>, data: &[f32], dtype: DType) -> Result<Self> {
        let storage = match dtype {
            DType::F32 => Storage::F32(data.to_vec()),
            DType::F16 => Storage::F16(data.iter().map(|&x| f16::from_f32(x)).collect()),
            DType::Bf16 => Storage::Bf16(data.iter().map(|&x| bf16::from_f32(x)).collect()),
            DType::Fp8E4m3 => return Self::fp8_from_f32(shape, data, 1.0),
        };
        Self::new(shape, storage)
    }

    /// An FP8 E4M3 tensor holding `data / scale` (so that decoding times `scale` gives `data`
    /// back, up to FP8 rounding), saturating at ±448 × `scale`.
    ///
    /// # Errors
    /// [`Error::Invalid`] when `scale` is not finite and positive; as [`Tensor::new`].
    pub fn fp8_from_f32(shape: Vec<usize>, data: &[f32], scale: f32) -> Result<Self> {
        check_fp8_scale("scale", scale)?;
        let bytes = data.iter().map(|&x| f32_to_fp8_e4m3(x / scale)).collect();
        Self::new(shape, Storage::Fp8E4m3 { bytes, scale })
    }

    /// The per-tensor scale of an FP8 tensor; `None` for other dtypes.
    pub fn fp8_scale(&self) -> Option<f32> {
        match &self.storage {
            Storage::Fp8E4m3 { scale, .. } => Some(*scale),
            _ => None,
        }
    }

    /// Checks that the storage holds exactly the elements the shape calls for (it can differ
    /// after [`Tensor::storage_mut`] replaced the storage), and that an FP8 scale is finite and
    /// positive.
    ///
    /// # Errors
    /// [`Error::Shape`] or [`Error::Invalid`], naming the tensor.
    pub fn expect_consistent(&self, name: &str) -> Result<()> {
        let elements = self
            .shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d));
        if elements != Some(self.storage.len()) {
            return Err(Error::shape(
                name,
                format!("{} elements", self.storage.len()),
                &self.shape,
            ));
        }
        if let Storage::Fp8E4m3 { scale, .. } = &self.storage {
            check_fp8_scale(name, *scale)?;
        }
        Ok(())
    }
}

fn check_fp8_scale(name: &str, scale: f32) -> Result<()> {
    if scale.is_finite() && scale > 0.0 {
        Ok(())
    } else {
        Err(Error::invalid(
            name,
            format!("the FP8 scale must be finite and positive, found {scale}"),
        ))
    }
}

/// The largest finite FP8 E4M3 value.
pub const FP8_E4M3_MAX: f32 = 448.0;

/// Decodes one FP8 E4M3 byte (OCP "E4M3FN": 1 sign, 4 exponent bits with bias 7, 3 mantissa
/// bits; subnormals below 2⁻⁶; no infinities; `0x7f` and `0xff` are NaN).
///
/// ```
/// use nim_engine::tensor::fp8_e4m3_to_f32;
/// assert_eq!(fp8_e4m3_to_f32(0x38), 1.0);
/// assert_eq!(fp8_e4m3_to_f32(0x7e), 448.0);
/// assert_eq!(fp8_e4m3_to_f32(0x01), 2f32.powi(-9));
/// assert!(fp8_e4m3_to_f32(0x7f).is_nan());
/// ```
pub fn fp8_e4m3_to_f32(byte: u8) -> f32 {
    FP8_E4M3_TABLE[usize::from(byte)]
}

/// Encodes `x` as FP8 E4M3 (OCP "E4M3FN"), rounding to nearest with ties to even. Magnitudes
/// beyond 448 (infinities included) saturate to ±448; NaN becomes `0x7f` (`0xff` when negative).
///
/// ```
/// use nim_engine::tensor::f32_to_fp8_e4m3;
/// assert_eq!(f32_to_fp8_e4m3(1.0), 0x38);
/// assert_eq!(f32_to_fp8_e4m3(-1e9), 0xfe); // -448
/// assert_eq!(f32_to_fp8_e4m3(1.0625), 0x38); // halfway between 1 and 1.125: ties to even
/// ```
pub fn f32_to_fp8_e4m3(x: f32) -> u8 {
    let sign: u8 = if x.is_sign_negative() { 0x80 } else { 0 };
    if x.is_nan() {
        return sign | 0x7f;
    }
    let a = x.abs();
    if a >= FP8_E4M3_MAX {
        return sign | 0x7e;
    }
    // The unbiased f32 exponent (for f32 subnormals it is -127, far below the FP8 range).
    let exp = ((a.to_bits() >> 23) & 0xff) as i32 - 127;
    let code = if exp < -6 {
        // FP8 subnormals are multiples of 2^-9; 8 × 2^-9 is the smallest normal, code 0x08.
        (a * pow2(9)).round_ties_even()
    } else {
        // a / 2^(exp-3) lies in [8, 16): the implicit bit and three mantissa bits. Rounding up
        // to 16 carries into the exponent, which the addition below does by itself.
        let m = (a * pow2(3 - exp)).round_ties_even();
        ((exp + 7) as f32) * 8.0 + (m - 8.0)
    };
    // `code` is an integer in 0..=126 here (448 and above returned early).
    sign | (code as u8)
}

/// 2^e for e in the f32 normal range.
const fn pow2(e: i32) -> f32 {
    f32::from_bits(((e + 127) as u32) << 23)
}

const FP8_E4M3_TABLE: [f32; 256] = fp8_e4m3_table();

const fn fp8_e4m3_table() -> [f32; 256] {
    let mut table = [0.0f32; 256];
    let mut i = 0;
    while i < 256 {
        let exp = ((i >> 3) & 0xf) as i32;
        let mantissa = (i & 7) as f32;
        let magnitude = if i & 0x7f == 0x7f {
            f32::NAN
        } else if exp == 0 {
            mantissa * pow2(-9)
        } else {
            (1.0 + mantissa / 8.0) * pow2(exp - 7)
        };
        table[i] = if i & 0x80 != 0 { -magnitude } else { magnitude };
        i += 1;
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every one of the 256 codes decodes to the value the OCP definition gives and encodes back
    /// to itself; the two NaN codes decode to NaN.
    #[test]
    fn fp8_every_code_round_trips() {
        for code in 0..=255u8 {
            let value = fp8_e4m3_to_f32(code);
            let negative = code & 0x80 != 0;
            let exp = i32::from((code >> 3) & 0xf);
            let mantissa = f64::from(code & 7);
            if code & 0x7f == 0x7f {
                assert!(value.is_nan(), "{code:#04x}");
                assert_eq!(f32_to_fp8_e4m3(value), code | 0x7f, "{code:#04x}");
                continue;
            }
            let magnitude = if exp == 0 {
                mantissa / 8.0 * 2f64.powi(-6)
            } else {
                (1.0 + mantissa / 8.0) * 2f64.powi(exp - 7)
            };
            let expected = if negative { -magnitude } else { magnitude };
            assert_eq!(f64::from(value), expected, "{code:#04x}");
            assert_eq!(value.is_sign_negative(), negative, "{code:#04x}");
            assert_eq!(f32_to_fp8_e4m3(value), code, "{code:#04x} = {value}");
        }
    }

    /// Between two neighbouring codes, values round to the nearer one and halfway values to the
    /// one with an even mantissa.
    #[test]
    fn fp8_rounds_to_nearest_even() {
        for code in 0..0x7eu8 {
            let (lo, hi) = (fp8_e4m3_to_f32(code), fp8_e4m3_to_f32(code + 1));
            let mid = (lo + hi) / 2.0;
            let even = if code % 2 == 0 { code } else { code + 1 };
            assert_eq!(f32_to_fp8_e4m3(mid), even, "halfway {lo}..{hi}");
            assert_eq!(f32_to_fp8_e4m3(-mid), even | 0x80, "-halfway {lo}..{hi}");
            let below = lo + (hi - lo) * 0.25;
            let above = lo + (hi - lo) * 0.75;
            assert_eq!(f32_to_fp8_e4m3(below), code, "{below}");
            assert_eq!(f32_to_fp8_e4m3(above), code + 1, "{above}");
        }
    }

    #[test]
    fn fp8_saturates_and_keeps_specials() {
        assert_eq!(f32_to_fp8_e4m3(448.0), 0x7e);
        assert_eq!(f32_to_fp8_e4m3(460.0), 0x7e);
        assert_eq!(f32_to_fp8_e4m3(1e30), 0x7e);
        assert_eq!(f32_to_fp8_e4m3(f32::INFINITY), 0x7e);
        assert_eq!(f32_to_fp8_e4m3(f32::NEG_INFINITY), 0xfe);
        assert_eq!(f32_to_fp8_e4m3(f32::NAN), 0x7f);
        assert_eq!(f32_to_fp8_e4m3(0.0), 0x00);
        assert_eq!(f32_to_fp8_e4m3(-0.0), 0x80);
        // Below half the smallest subnormal: zero (ties to even at exactly half).
        assert_eq!(f32_to_fp8_e4m3(2f32.powi(-11)), 0x00);
        assert_eq!(f32_to_fp8_e4m3(2f32.powi(-10)), 0x00);
        assert_eq!(f32_to_fp8_e4m3(2f32.powi(-10) * 1.01), 0x01);
        assert_eq!(f32_to_fp8_e4m3(f32::from_bits(1)), 0x00);
        assert_eq!(fp8_e4m3_to_f32(0x80).to_bits(), (-0.0f32).to_bits());
    }

    #[test]
    fn conversions_through_f32() -> Result<()> {
        let data = [0.5f32, -1.25, 3.0, 1000.0];
        for dtype in [DType::F32, DType::F16, DType::Bf16] {
            let t = Tensor::from_f32_as(vec![2, 2], &data, dtype)?;
            assert_eq!(t.dtype(), dtype);
            assert_eq!(t.to_f32_vec(), data);
        }
        let t = Tensor::fp8_from_f32(vec![4], &data, 4.0)?;
        assert_eq!(t.fp8_scale(), Some(4.0));
        assert_eq!(t.to_f32_vec(), [0.5, -1.25, 3.0, 1024.0]);
        let saturated = Tensor::from_f32_as(vec![4], &data, DType::Fp8E4m3)?;
        assert_eq!(saturated.to_f32_vec(), [0.5, -1.25, 3.0, 448.0]);
        assert!(matches!(
            Tensor::fp8_from_f32(vec![4], &data, 0.0),
            Err(Error::Invalid { .. })
        ));
        assert!(Tensor::from_f32_as(vec![3], &data, DType::F32).is_err());
        let mut t = Tensor::zeros(vec![2], DType::F32);
        *t.storage_mut() = Storage::F32(vec![1.0; 3]);
        assert!(matches!(t.expect_consistent("x"), Err(Error::Shape { name, .. }) if name == "x"));
        Ok(())
    }
}
