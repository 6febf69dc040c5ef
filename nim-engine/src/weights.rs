//! Weights: tensors from safetensors files, memory-mapped, with dtype conversion.
//!
//! [`SafetensorsFile::open`] maps a file read-only, checks its header and every tensor's byte
//! range before anything is read, and then hands out tensors copied out of the map:
//!
//! - [`SafetensorsFile::tensor`] in the tensor's own float dtype (`F32`, `F16`, `BF16`,
//!   `F8_E4M3`);
//! - [`SafetensorsFile::tensor_as`] converted to a [`DType`] (from `F64` too);
//! - [`SafetensorsFile::tensor_expect`] with a shape check;
//! - [`SafetensorsFile::i32s`] and [`SafetensorsFile::f32s`] as plain arrays (block tables,
//!   context lengths, ALiBi slopes);
//! - [`SafetensorsFile::metadata`], the free-form `__metadata__` strings of the header.
//!
//! [`save`] writes tensors, `i32` arrays and metadata with the `safetensors` crate's own writer.
//!
//! # FP8 scales
//!
//! Safetensors has no place for the per-tensor scale of an FP8 (E4M3) tensor, so this module
//! keeps it in the metadata: the key `<name>.scale` holds the scale of tensor `<name>` as a
//! decimal `f32` (`"0.0125"`). [`save`] writes that key for every FP8 tensor; reading an FP8
//! tensor without the key gives scale 1.0. The real value of an element is its decoded E4M3
//! value times the scale.
//!
//! # Errors
//!
//! Every error names what was wrong: a missing tensor is an [`Error::MissingTensor`], a wrong
//! shape an [`Error::Shape`] and a wrong dtype an [`Error::DType`], each with the tensor's name.
//! A malformed or truncated file is an [`Error::File`] whose message gives the byte offset (or
//! the header length) at fault: a file shorter than the 8-byte header length, a header length
//! past the end of the file, a header that is not UTF-8 or JSON, a tensor whose `data_offsets`
//! do not match its dtype and shape, overlap the previous tensor or leave a gap, a file cut off
//! inside a tensor's data, or bytes after the last tensor.
//!
//! # Memory mapping
//!
//! The file is mapped, not read: opening a multi-gigabyte checkpoint costs no copy, and each
//! tensor is copied out of the map only when asked for. The engine treats a mapped file as
//! immutable; **modifying or truncating a weights file while it is open is undefined
//! behaviour** (on Linux, reading a truncated page raises `SIGBUS`). Write a new file and rename
//! it over the old one instead, as [`save`] does.
//!
//! # Example
//!
//! ```
//! use std::collections::HashMap;
//!
//! use nim_engine::weights::{self, SafetensorsFile};
//! use nim_engine::{DType, Tensor};
//!
//! # fn main() -> nim_engine::Result<()> {
//! let dir = tempfile::tempdir().map_err(|e| nim_engine::Error::invalid("tempdir", e.to_string()))?;
//! let path = dir.path().join("input.safetensors");
//!
//! let q = Tensor::from_f32(vec![2, 3], vec![0.5, -1.0, 2.0, 0.25, 3.0, -0.125])?;
//! let metadata = HashMap::from([("scale".to_owned(), "0.125".to_owned())]);
//! weights::save(
//!     &path,
//!     &[("q", &q)],
//!     &[("context_lens", &[2], &[7, 12])],
//!     Some(metadata),
//! )?;
//!
//! let file = SafetensorsFile::open(&path)?;
//! assert_eq!(file.tensor_expect("q", &[2, 3])?, q);
//! assert_eq!(file.i32s("context_lens")?, (vec![2], vec![7, 12]));
//! assert_eq!(file.metadata().and_then(|m| m.get("scale")).map(String::as_str), Some("0.125"));
//!
//! // Converted on the way out; errors name the tensor.
//! let q16 = file.tensor_as("q", DType::F16)?;
//! assert_eq!(q16.dtype(), DType::F16);
//! let err = file.tensor("k_cache").unwrap_err();
//! assert!(err.to_string().contains("\"k_cache\""));
//! # Ok(())
//! # }
//! ```

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::fs::File;
use std::path::{Path, PathBuf};

use half::{bf16, f16};
use memmap2::Mmap;
use safetensors::Dtype;
use safetensors::tensor::TensorView;
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::tensor::{DType, Storage, Tensor};

/// Bytes of the little-endian `u64` header length that starts every file.
const LEN_BYTES: usize = 8;
/// The largest header the `safetensors` crate accepts.
const MAX_HEADER_BYTES: usize = 100_000_000;
/// The largest finite FP8 E4M3 (OCP, "FN") magnitude.
const FP8_E4M3_MAX: f32 = 448.0;
/// The float dtypes [`SafetensorsFile::tensor_as`] and [`SafetensorsFile::f32s`] read.
const FLOAT_SOURCES: &str = "a float dtype (F32, F16, BF16, F8_E4M3 or F64)";

/// A safetensors file, memory-mapped, with its header parsed and checked.
///
/// See the [module docs](self) for the format conventions (FP8 scales) and the rule that a
/// mapped file must not change while it is open.
pub struct SafetensorsFile {
    path: PathBuf,
    map: Mmap,
    /// File offset where the data section starts (8 + header length).
    data_start: usize,
    /// Tensors in file order (by data offset).
    entries: Vec<Entry>,
    /// Tensor name to index in `entries`.
    index: HashMap<String, usize>,
    metadata: Option<HashMap<String, String>>,
}

/// One tensor of the header; offsets are relative to the data section.
#[derive(Debug)]
struct Entry {
    name: String,
    dtype: Dtype,
    shape: Vec<usize>,
    begin: usize,
    end: usize,
}

/// A tensor's entry in the JSON header, as the format defines it.
#[derive(Deserialize)]
struct RawInfo {
    dtype: Dtype,
    shape: Vec<usize>,
    data_offsets: (usize, usize),
}

impl fmt::Debug for SafetensorsFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SafetensorsFile")
            .field("path", &self.path)
            .field("bytes", &self.map.len())
            .field("tensors", &self.entries.len())
            .finish_non_exhaustive()
    }
}

impl SafetensorsFile {
    /// Maps the file read-only and checks its header and every tensor's byte range.
    ///
    /// # Errors
    /// [`Error::File`] when the file cannot be opened or mapped, or is malformed or truncated;
    /// the message names the byte offset or header length at fault.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        let fail = |message: String| Error::File {
            path: path.display().to_string(),
            message,
        };
        let file = File::open(&path).map_err(|e| fail(format!("cannot open: {e}")))?;
        // SAFETY: `Mmap::map` is unsafe because the mapped bytes change (or vanish, raising
        // SIGBUS) if the file is modified or truncated while mapped, which Rust cannot see.
        // The file is opened read-only and the engine treats it as immutable for as long as
        // the map lives; the module docs state that modifying a weights file while it is
        // loaded is undefined behaviour. `save` never rewrites a file in place: the
        // `safetensors` writer writes a temporary file and renames it over the target.
        #[allow(unsafe_code)]
        let map = unsafe { Mmap::map(&file) }.map_err(|e| fail(format!("cannot map: {e}")))?;
        let header = parse(&map).map_err(fail)?;
        Ok(Self {
            path,
            map,
            data_start: header.data_start,
            index: header
                .entries
                .iter()
                .enumerate()
                .map(|(i, e)| (e.name.clone(), i))
                .collect(),
            entries: header.entries,
            metadata: header.metadata,
        })
    }

    /// The path the file was opened from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The tensor names, in file order (by data offset).
    pub fn names(&self) -> Vec<&str> {
        self.entries.iter().map(|e| e.name.as_str()).collect()
    }

    /// Tensors in the file.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the file holds no tensor.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether the file holds a tensor named `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    /// The header's `__metadata__` strings, if it has them.
    pub fn metadata(&self) -> Option<&HashMap<String, String>> {
        self.metadata.as_ref()
    }

    /// The dtype of a tensor as safetensors names it (`F32`, `BF16`, `F8_E4M3`, `I32`, ...).
    ///
    /// # Errors
    /// [`Error::MissingTensor`] when there is no such tensor.
    pub fn dtype_of(&self, name: &str) -> Result<String> {
        Ok(self.entry(name)?.dtype.to_string())
    }

    /// The shape of a tensor.
    ///
    /// # Errors
    /// [`Error::MissingTensor`] when there is no such tensor.
    pub fn shape_of(&self, name: &str) -> Result<Vec<usize>> {
        Ok(self.entry(name)?.shape.clone())
    }

    /// A tensor in its own dtype, copied out of the map: `F32`, `F16`, `BF16`, or `F8_E4M3`
    /// with the scale from metadata key `<name>.scale` (1.0 when absent).
    ///
    /// # Errors
    /// [`Error::MissingTensor`]; [`Error::DType`] naming the tensor for any other dtype (use
    /// [`SafetensorsFile::tensor_as`] to convert `F64`); [`Error::File`] for an FP8 scale that
    /// is not a positive finite number.
    pub fn tensor(&self, name: &str) -> Result<Tensor> {
        let entry = self.entry(name)?;
        let bytes = self.bytes(entry)?;
        let storage = match entry.dtype {
            Dtype::F32 => Storage::F32(le::<4>(bytes).map(f32::from_le_bytes).collect()),
            Dtype::F16 => Storage::F16(le::<2>(bytes).map(f16::from_le_bytes).collect()),
            Dtype::BF16 => Storage::Bf16(le::<2>(bytes).map(bf16::from_le_bytes).collect()),
            Dtype::F8_E4M3 => Storage::Fp8E4m3 {
                bytes: bytes.to_vec(),
                scale: self.fp8_scale(name)?,
            },
            other => {
                return Err(Error::DType {
                    name: name.to_owned(),
                    expected: "F32, F16, BF16 or F8_E4M3 (tensor_as converts F64)".to_owned(),
                    found: other.to_string(),
                });
            }
        };
        Tensor::new(entry.shape.clone(), storage)
            .map_err(|_| self.corrupt(entry, "element count does not match the shape"))
    }

    /// A tensor converted to `dtype`.
    ///
    /// The source may be `F32`, `F16`, `BF16`, `F8_E4M3` (scaled as [`SafetensorsFile::tensor`]
    /// reads it) or `F64`. A tensor already in `dtype` is returned as stored (an FP8 tensor
    /// keeps its bytes and scale). Conversions round to nearest, ties to even; `F64` converts
    /// straight to the target (one rounding). Converting to FP8 picks the per-tensor scale
    /// `max|x| / 448` over the finite elements (1.0 for an all-zero tensor), as vLLM's dynamic
    /// FP8 quantization does, and saturates out-of-range values to ±448 × scale.
    ///
    /// # Errors
    /// As [`SafetensorsFile::tensor`]; [`Error::DType`] naming the tensor for a non-float
    /// source.
    pub fn tensor_as(&self, name: &str, dtype: DType) -> Result<Tensor> {
        let entry = self.entry(name)?;
        if to_dtype(entry.dtype) == Some(dtype) {
            return self.tensor(name);
        }
        let shape = entry.shape.clone();
        if entry.dtype == Dtype::F64 {
            let values: Vec<f64> = le::<8>(self.bytes(entry)?)
                .map(f64::from_le_bytes)
                .collect();
            let storage = match dtype {
                DType::F32 => Storage::F32(values.iter().map(|&x| x as f32).collect()),
                DType::F16 => Storage::F16(
                    values
                        .iter()
                        .map(|&x| f16::from_f32(f64_to_f32_round_to_odd(x)))
                        .collect(),
                ),
                DType::Bf16 => Storage::Bf16(
                    values
                        .iter()
                        .map(|&x| bf16::from_f32(f64_to_f32_round_to_odd(x)))
                        .collect(),
                ),
                DType::Fp8E4m3 => fp8_storage(values.iter().map(|&x| x as f32).collect()),
            };
            return Tensor::new(shape, storage)
                .map_err(|_| self.corrupt(entry, "element count does not match the shape"));
        }
        let values = self.f32s(name)?.1;
        let storage = match dtype {
            DType::F32 => Storage::F32(values),
            DType::F16 => Storage::F16(values.iter().map(|&x| f16::from_f32(x)).collect()),
            DType::Bf16 => Storage::Bf16(values.iter().map(|&x| bf16::from_f32(x)).collect()),
            DType::Fp8E4m3 => fp8_storage(values),
        };
        Tensor::new(shape, storage)
            .map_err(|_| self.corrupt(entry, "element count does not match the shape"))
    }

    /// A tensor in its own dtype (as [`SafetensorsFile::tensor`]) whose shape must be `shape`.
    ///
    /// # Errors
    /// [`Error::Shape`] naming the tensor when the shape differs (checked before any data is
    /// read); otherwise as [`SafetensorsFile::tensor`].
    pub fn tensor_expect(&self, name: &str, shape: &[usize]) -> Result<Tensor> {
        let entry = self.entry(name)?;
        if entry.shape != shape {
            return Err(Error::shape(name, format!("{shape:?}"), &entry.shape));
        }
        self.tensor(name)
    }

    /// An integer tensor as `i32`s with its shape: `I32`, or `I64` whose every element fits.
    ///
    /// # Errors
    /// [`Error::MissingTensor`]; [`Error::DType`] naming the tensor for any other dtype;
    /// [`Error::Invalid`] naming the tensor and element for an `I64` value out of range.
    pub fn i32s(&self, name: &str) -> Result<(Vec<usize>, Vec<i32>)> {
        let entry = self.entry(name)?;
        let bytes = self.bytes(entry)?;
        let values = match entry.dtype {
            Dtype::I32 => le::<4>(bytes).map(i32::from_le_bytes).collect(),
            Dtype::I64 => le::<8>(bytes)
                .map(i64::from_le_bytes)
                .enumerate()
                .map(|(i, v)| {
                    i32::try_from(v).map_err(|_| {
                        Error::invalid(name, format!("element {i} = {v} does not fit in i32"))
                    })
                })
                .collect::<Result<_>>()?,
            other => {
                return Err(Error::DType {
                    name: name.to_owned(),
                    expected: "I32 (or I64)".to_owned(),
                    found: other.to_string(),
                });
            }
        };
        Ok((entry.shape.clone(), values))
    }

    /// A float tensor as `f32`s with its shape: `F32` as stored, `F16`, `BF16` and FP8 (times
    /// its scale) exactly, `F64` rounded to nearest.
    ///
    /// # Errors
    /// [`Error::MissingTensor`]; [`Error::DType`] naming the tensor for a non-float dtype;
    /// [`Error::File`] for an FP8 scale that is not a positive finite number.
    pub fn f32s(&self, name: &str) -> Result<(Vec<usize>, Vec<f32>)> {
        let entry = self.entry(name)?;
        let bytes = self.bytes(entry)?;
        let values = match entry.dtype {
            Dtype::F32 => le::<4>(bytes).map(f32::from_le_bytes).collect(),
            Dtype::F16 => le::<2>(bytes)
                .map(|b| f16::from_le_bytes(b).to_f32())
                .collect(),
            Dtype::BF16 => le::<2>(bytes)
                .map(|b| bf16::from_le_bytes(b).to_f32())
                .collect(),
            Dtype::F64 => le::<8>(bytes)
                .map(|b| f64::from_le_bytes(b) as f32)
                .collect(),
            Dtype::F8_E4M3 => {
                let scale = self.fp8_scale(name)?;
                bytes.iter().map(|&b| fp8_e4m3_to_f32(b) * scale).collect()
            }
            other => {
                return Err(Error::DType {
                    name: name.to_owned(),
                    expected: FLOAT_SOURCES.to_owned(),
                    found: other.to_string(),
                });
            }
        };
        Ok((entry.shape.clone(), values))
    }

    fn entry(&self, name: &str) -> Result<&Entry> {
        self.index
            .get(name)
            .and_then(|&i| self.entries.get(i))
            .ok_or_else(|| Error::MissingTensor {
                path: self.path.display().to_string(),
                name: name.to_owned(),
            })
    }

    /// The tensor's bytes; `open` checked the range, so the error is unreachable in practice.
    fn bytes(&self, entry: &Entry) -> Result<&[u8]> {
        self.map
            .get(self.data_start + entry.begin..self.data_start + entry.end)
            .ok_or_else(|| self.corrupt(entry, "data lies outside the file"))
    }

    fn corrupt(&self, entry: &Entry, what: &str) -> Error {
        Error::File {
            path: self.path.display().to_string(),
            message: format!(
                "tensor {:?} at file offsets {}..{}: {what}",
                entry.name,
                self.data_start + entry.begin,
                self.data_start + entry.end
            ),
        }
    }

    /// The FP8 scale of tensor `name`: metadata `<name>.scale`, or 1.0.
    fn fp8_scale(&self, name: &str) -> Result<f32> {
        let key = scale_key(name);
        let Some(text) = self.metadata.as_ref().and_then(|m| m.get(&key)) else {
            return Ok(1.0);
        };
        match text.trim().parse::<f32>() {
            Ok(scale) if scale.is_finite() && scale > 0.0 => Ok(scale),
            _ => Err(Error::File {
                path: self.path.display().to_string(),
                message: format!(
                    "__metadata__ {key:?} = {text:?} is not a positive finite number \
                     (the FP8 scale of tensor {name:?})"
                ),
            }),
        }
    }
}

/// Writes tensors, `i32` arrays and metadata to a safetensors file with the `safetensors`
/// crate's writer (which writes a temporary file next to `path` and renames it, so a file that
/// is open elsewhere is replaced, never rewritten in place).
///
/// Tensors keep their dtype (`F32`, `F16`, `BF16`, `F8_E4M3`); an FP8 tensor's scale goes to
/// metadata key `<name>.scale` (replacing any value `metadata` has for that key).
/// `i32_tensors` are `(name, shape, values)` written as `I32`.
///
/// # Errors
/// [`Error::Invalid`] for a name used twice, the reserved name `__metadata__`, or an FP8 scale
/// that is not a positive finite number; [`Error::Shape`] naming an `i32` array whose shape
/// does not match its length; [`Error::File`] when the file cannot be written.
pub fn save(
    path: impl AsRef<Path>,
    tensors: &[(&str, &Tensor)],
    i32_tensors: &[(&str, &[usize], &[i32])],
    metadata: Option<HashMap<String, String>>,
) -> Result<()> {
    let path = path.as_ref();
    let mut metadata = metadata;
    let mut seen = HashSet::new();
    let mut check_name = |name: &str| {
        if name == "__metadata__" {
            Err(Error::invalid(name, "reserved for the header's metadata"))
        } else if !seen.insert(name.to_owned()) {
            Err(Error::invalid(name, "two tensors have this name"))
        } else {
            Ok(())
        }
    };

    let mut encoded: Vec<(&str, Dtype, Vec<usize>, Vec<u8>)> =
        Vec::with_capacity(tensors.len() + i32_tensors.len());
    for &(name, tensor) in tensors {
        check_name(name)?;
        let (dtype, bytes) = match tensor.storage() {
            Storage::F32(v) => (Dtype::F32, v.iter().flat_map(|x| x.to_le_bytes()).collect()),
            Storage::F16(v) => (Dtype::F16, v.iter().flat_map(|x| x.to_le_bytes()).collect()),
            Storage::Bf16(v) => (
                Dtype::BF16,
                v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            ),
            Storage::Fp8E4m3 { bytes, scale } => {
                if !(scale.is_finite() && *scale > 0.0) {
                    return Err(Error::invalid(
                        scale_key(name),
                        format!("FP8 scale {scale} is not a positive finite number"),
                    ));
                }
                metadata
                    .get_or_insert_with(HashMap::new)
                    .insert(scale_key(name), scale.to_string());
                (Dtype::F8_E4M3, bytes.clone())
            }
        };
        encoded.push((name, dtype, tensor.shape().to_vec(), bytes));
    }
    for &(name, shape, values) in i32_tensors {
        check_name(name)?;
        let elements = shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d));
        if elements != Some(values.len()) {
            return Err(Error::shape(
                name,
                format!("{} elements", values.len()),
                shape,
            ));
        }
        let bytes = values.iter().flat_map(|x| x.to_le_bytes()).collect();
        encoded.push((name, Dtype::I32, shape.to_vec(), bytes));
    }

    let fail = |message: String| Error::File {
        path: path.display().to_string(),
        message,
    };
    let views = encoded
        .iter()
        .map(|(name, dtype, shape, bytes)| {
            TensorView::new(*dtype, shape.clone(), bytes)
                .map(|view| (*name, view))
                .map_err(|e| fail(format!("tensor {name:?}: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    safetensors::serialize_to_file(views, metadata, path)
        .map_err(|e| fail(format!("cannot write: {e}")))
}

/// The metadata key of tensor `name`'s FP8 scale.
fn scale_key(name: &str) -> String {
    format!("{name}.scale")
}

/// The engine dtype of a safetensors dtype, where there is one.
fn to_dtype(dtype: Dtype) -> Option<DType> {
    match dtype {
        Dtype::F32 => Some(DType::F32),
        Dtype::F16 => Some(DType::F16),
        Dtype::BF16 => Some(DType::Bf16),
        Dtype::F8_E4M3 => Some(DType::Fp8E4m3),
        _ => None,
    }
}

/// Little-endian element bytes, `N` at a time. Safetensors data need not be aligned for the
/// element type, so elements are decoded from bytes, never by casting pointers.
fn le<const N: usize>(bytes: &[u8]) -> impl Iterator<Item = [u8; N]> + '_ {
    bytes.chunks_exact(N).map(|chunk| {
        let mut element = [0u8; N];
        element.copy_from_slice(chunk);
        element
    })
}

/// `x` rounded to `f32` toward zero, with the last bit set when that was inexact ("round to
/// odd"). Rounding this to `f16` or `bf16` (to nearest even) gives the correctly rounded
/// result of `x`, as `f32` has more than twice their precision plus two bits; rounding `x` to
/// nearest `f32` first would round twice (and `half`'s `from_f64` goes through `f32` so).
fn f64_to_f32_round_to_odd(x: f64) -> f32 {
    let nearest = x as f32;
    if nearest.is_nan() || f64::from(nearest) == x {
        return nearest;
    }
    if nearest.is_infinite() {
        // Beyond f32::MAX: truncation gives MAX, whose last bit is already set.
        return f32::MAX.copysign(nearest);
    }
    let mut bits = nearest.to_bits();
    if f64::from(nearest).abs() > x.abs() {
        // Rounded away from zero: step the magnitude back by one unit in the last place.
        bits -= 1;
    }
    f32::from_bits(bits | 1)
}

/// FP8 storage for `values` with the per-tensor scale `max|x| / 448` (finite elements only;
/// 1.0 when that is zero or not a normal float).
fn fp8_storage(values: Vec<f32>) -> Storage {
    let amax = values
        .iter()
        .filter(|x| x.is_finite())
        .fold(0.0f32, |m, x| m.max(x.abs()));
    let scale = amax / FP8_E4M3_MAX;
    let scale = if scale.is_normal() { scale } else { 1.0 };
    Storage::Fp8E4m3 {
        bytes: values.iter().map(|&x| f32_to_fp8_e4m3(x / scale)).collect(),
        scale,
    }
}

/// Decodes one FP8 E4M3 (OCP "FN": bias 7, no infinities, `S.1111.111` is NaN) element.
fn fp8_e4m3_to_f32(byte: u8) -> f32 {
    let sign = u32::from(byte >> 7) << 31;
    let exponent = u32::from((byte >> 3) & 0x0F);
    let mantissa = u32::from(byte & 0x07);
    let magnitude = if exponent == 0x0F && mantissa == 0x07 {
        f32::NAN
    } else if exponent == 0 {
        // Subnormal: mantissa × 2^-9, exact in f32.
        mantissa as f32 / 512.0
    } else {
        // Normal: rebias 7 -> 127 and widen the 3-bit mantissa to 23 bits.
        f32::from_bits(((exponent + 120) << 23) | (mantissa << 20))
    };
    f32::from_bits(magnitude.to_bits() | sign)
}

/// Encodes one `f32` as FP8 E4M3 (OCP "FN"): round to nearest, ties to even; magnitudes of
/// 448 and above (infinities included) saturate to ±448; NaN stays NaN.
fn f32_to_fp8_e4m3(x: f32) -> u8 {
    let sign = if x.is_sign_negative() { 0x80u8 } else { 0 };
    if x.is_nan() {
        return sign | 0x7F;
    }
    let a = x.abs();
    if a >= FP8_E4M3_MAX {
        return sign | 0x7E;
    }
    if a < 1.0 / 64.0 {
        // Subnormal range (below 2^-6): steps of 2^-9. Rounding up to 8 steps gives code 0x08,
        // which is exactly the smallest normal 2^-6.
        return sign | (a * 512.0).round_ties_even() as u8;
    }
    let bits = a.to_bits();
    let exponent = (bits >> 23) as i32 - 127; // -6 ..= 8
    let fraction = bits & 0x007F_FFFF;
    let mut mantissa = fraction >> 20;
    let rest = fraction & 0x000F_FFFF;
    let half = 0x0008_0000;
    if rest > half || (rest == half && mantissa & 1 == 1) {
        mantissa += 1;
    }
    let mut biased = exponent + 7;
    if mantissa == 8 {
        mantissa = 0;
        biased += 1;
    }
    // `a < 448` keeps the result at or below 448 (biased 15, mantissa 6), never NaN.
    sign | ((biased as u8) << 3) | mantissa as u8
}

/// A parsed, checked header.
struct Header {
    data_start: usize,
    entries: Vec<Entry>,
    metadata: Option<HashMap<String, String>>,
}

/// Parses and checks the header of a whole file, with messages that name offsets.
///
/// Every check of the `safetensors` crate's reader is made here first, to say where the file
/// is wrong; the crate's reader then runs too, so nothing it rejects is accepted.
fn parse(file: &[u8]) -> std::result::Result<Header, String> {
    let len = file.len();
    let Some(len_bytes) = file.get(..LEN_BYTES) else {
        return Err(format!(
            "file is {len} bytes, shorter than the 8-byte little-endian header length at offset 0"
        ));
    };
    let mut raw = [0u8; LEN_BYTES];
    raw.copy_from_slice(len_bytes);
    let header_len = u64::from_le_bytes(raw);
    let header_len = usize::try_from(header_len)
        .ok()
        .filter(|&n| n <= MAX_HEADER_BYTES)
        .ok_or_else(|| {
            format!(
                "header length {header_len} (the u64 at offset 0) exceeds the \
                 {MAX_HEADER_BYTES}-byte limit"
            )
        })?;
    let data_start = LEN_BYTES + header_len;
    let Some(header) = file.get(LEN_BYTES..data_start) else {
        return Err(format!(
            "header length {header_len} (the u64 at offset 0) runs past the end of the file: \
             the header would end at offset {data_start}, but the file is {len} bytes"
        ));
    };
    let header = std::str::from_utf8(header).map_err(|e| {
        format!(
            "header (offsets 8..{data_start}) is not UTF-8: invalid byte at offset {}",
            LEN_BYTES + e.valid_up_to()
        )
    })?;
    let json: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(header).map_err(|e| {
            let at = if e.line() == 0 {
                String::new()
            } else {
                format!(
                    " at offset {}",
                    LEN_BYTES + json_offset(header, e.line(), e.column())
                )
            };
            format!("header (offsets 8..{data_start}) is not a JSON object{at}: {e}")
        })?;

    let mut metadata = None;
    let mut entries = Vec::with_capacity(json.len());
    for (name, value) in json {
        if name == "__metadata__" {
            let map = HashMap::<String, String>::deserialize(value).map_err(|e| {
                format!("header (offsets 8..{data_start}): invalid __metadata__: {e}")
            })?;
            metadata = Some(map);
        } else {
            let info = RawInfo::deserialize(value).map_err(|e| {
                format!("header (offsets 8..{data_start}): invalid entry for tensor {name:?}: {e}")
            })?;
            entries.push(Entry {
                name,
                dtype: info.dtype,
                shape: info.shape,
                begin: info.data_offsets.0,
                end: info.data_offsets.1,
            });
        }
    }
    entries.sort_by(|a, b| (a.begin, a.end, &a.name).cmp(&(b.begin, b.end, &b.name)));

    let mut expected_begin = 0usize;
    let mut previous: Option<&str> = None;
    for entry in &entries {
        let Entry {
            name,
            dtype,
            shape,
            begin,
            end,
        } = entry;
        let (begin, end) = (*begin, *end);
        let at = |offset: usize| data_start.saturating_add(offset);
        let where_ = format!(
            "tensor {name:?} ({dtype}, shape {shape:?}): data_offsets [{begin}, {end}] \
             (file offsets {}..{})",
            at(begin),
            at(end)
        );
        if end < begin {
            return Err(format!("{where_}: the end comes before the beginning"));
        }
        if begin != expected_begin {
            let after = match previous {
                Some(p) => {
                    format!("the previous tensor {p:?} ends at data offset {expected_begin}")
                }
                None => "the first tensor must begin at data offset 0".to_owned(),
            };
            let what = if begin < expected_begin {
                "overlap"
            } else {
                "leave a gap"
            };
            return Err(format!(
                "{where_}: {what}: {after} (file offset {}); tensors must be contiguous",
                at(expected_begin)
            ));
        }
        let bits = shape
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .and_then(|n| n.checked_mul(dtype.bitsize()))
            .ok_or_else(|| format!("{where_}: the byte size of the shape overflows"))?;
        if bits % 8 != 0 {
            return Err(format!(
                "{where_}: {bits} bits of {dtype} elements do not fill whole bytes"
            ));
        }
        if end - begin != bits / 8 {
            return Err(format!(
                "{where_}: the range holds {} bytes, but the dtype and shape need {}",
                end - begin,
                bits / 8
            ));
        }
        expected_begin = end;
        previous = Some(name);
    }

    let available = len - data_start;
    if expected_begin > available {
        let cut = entries
            .iter()
            .find(|e| e.end > available)
            .map(|e| {
                format!(
                    ", inside tensor {:?} (file offsets {}..{})",
                    e.name,
                    data_start.saturating_add(e.begin),
                    data_start.saturating_add(e.end)
                )
            })
            .unwrap_or_default();
        return Err(format!(
            "file is truncated at offset {len}{cut}: the data section starts at offset \
             {data_start} and the header's tensors need {expected_begin} bytes, {available} are \
             present"
        ));
    }
    if expected_begin < available {
        return Err(format!(
            "{} unexpected bytes after the last tensor, from offset {} to the end of the file at \
             {len}",
            available - expected_begin,
            data_start.saturating_add(expected_begin)
        ));
    }

    safetensors::SafeTensors::read_metadata(file).map_err(|e| {
        format!("the safetensors reader rejects the header (offsets 8..{data_start}): {e}")
    })?;
    Ok(Header {
        data_start,
        entries,
        metadata,
    })
}

/// The byte offset in `text` of serde_json's 1-based `line` and `column` (a column counts
/// bytes; the byte at fault is column 1 of its line).
fn json_offset(text: &str, line: usize, column: usize) -> usize {
    let line_start: usize = text
        .split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum();
    (line_start + column.saturating_sub(1)).min(text.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fp8_every_code_round_trips() {
        for code in 0..=u8::MAX {
            let value = fp8_e4m3_to_f32(code);
            if value.is_nan() {
                assert_eq!(code & 0x7F, 0x7F, "only S.1111.111 is NaN, not {code:#04x}");
                assert_eq!(f32_to_fp8_e4m3(value), code);
            } else {
                assert_eq!(f32_to_fp8_e4m3(value), code, "code {code:#04x} = {value}");
            }
        }
    }

    #[test]
    fn fp8_known_values() {
        assert_eq!(fp8_e4m3_to_f32(0x7E), 448.0);
        assert_eq!(fp8_e4m3_to_f32(0xFE), -448.0);
        assert_eq!(fp8_e4m3_to_f32(0x38), 1.0);
        assert_eq!(fp8_e4m3_to_f32(0x08), 1.0 / 64.0);
        assert_eq!(fp8_e4m3_to_f32(0x01), 1.0 / 512.0);
        assert_eq!(fp8_e4m3_to_f32(0x80), 0.0);
        assert!(fp8_e4m3_to_f32(0x80).is_sign_negative());
    }

    #[test]
    fn fp8_rounds_to_nearest_even_and_saturates() {
        // Between 1.0 (0x38) and 1.125 (0x39): the tie goes to the even mantissa.
        assert_eq!(f32_to_fp8_e4m3(1.0625), 0x38);
        assert_eq!(f32_to_fp8_e4m3(1.07), 0x39);
        // Between 1.125 (0x39) and 1.25 (0x3A): the tie goes to 0x3A.
        assert_eq!(f32_to_fp8_e4m3(1.1875), 0x3A);
        // Subnormal ties: 1.5 × 2^-9 -> 2 × 2^-9; 0.5 × 2^-9 -> 0.
        assert_eq!(f32_to_fp8_e4m3(1.5 / 512.0), 0x02);
        assert_eq!(f32_to_fp8_e4m3(0.5 / 512.0), 0x00);
        // 7.5 × 2^-9 rounds up into the smallest normal.
        assert_eq!(f32_to_fp8_e4m3(7.5 / 512.0), 0x08);
        assert_eq!(f32_to_fp8_e4m3(1000.0), 0x7E);
        assert_eq!(f32_to_fp8_e4m3(f32::NEG_INFINITY), 0xFE);
        assert_eq!(f32_to_fp8_e4m3(440.0), 0x7E);
        assert_eq!(f32_to_fp8_e4m3(f32::NAN), 0x7F);
    }

    #[test]
    fn round_to_odd_keeps_the_sticky_bit() {
        let x = 1.0 + 2f64.powi(-11) + 2f64.powi(-40);
        assert_eq!(
            f64_to_f32_round_to_odd(x),
            1.0 + 2f32.powi(-11) + 2f32.powi(-23)
        );
        let x = -(1.0 + 2f64.powi(-11) - 2f64.powi(-40));
        assert_eq!(
            f64_to_f32_round_to_odd(x),
            -(1.0 + 2f32.powi(-11) - 2f32.powi(-23))
        );
        assert_eq!(f64_to_f32_round_to_odd(0.5), 0.5);
        assert_eq!(f64_to_f32_round_to_odd(1e300), f32::MAX);
        assert_eq!(f64_to_f32_round_to_odd(-1e-300).to_bits(), 0x8000_0001);
        assert_eq!(
            f64_to_f32_round_to_odd(f64::NEG_INFINITY),
            f32::NEG_INFINITY
        );
        assert!(f64_to_f32_round_to_odd(f64::NAN).is_nan());
    }

    #[test]
    fn fp8_storage_scales_by_amax() {
        let Storage::Fp8E4m3 { bytes, scale } = fp8_storage(vec![0.0, 1.0, -2.0]) else {
            panic!("not FP8");
        };
        assert_eq!(scale, 2.0 / 448.0);
        assert_eq!(fp8_e4m3_to_f32(bytes[2]) * scale, -2.0);
        let Storage::Fp8E4m3 { scale, .. } = fp8_storage(vec![0.0; 4]) else {
            panic!("not FP8");
        };
        assert_eq!(scale, 1.0);
    }

    #[test]
    fn json_offsets() {
        assert_eq!(json_offset("abc", 1, 2), 1);
        assert_eq!(json_offset("ab\ncd", 2, 1), 3);
        assert_eq!(json_offset("ab", 1, 9), 2);
    }
}
