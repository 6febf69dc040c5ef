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
