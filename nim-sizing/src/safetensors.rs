//! Exact weight bytes of a local checkpoint, from its safetensors headers.
//!
//! A `.safetensors` file starts with an 8-byte little-endian header length `n`, then `n` bytes
//! of JSON mapping each tensor name to `{"dtype", "shape", "data_offsets": [begin, end]}`
//! (offsets into the data after the header), plus an optional `__metadata__` map of strings.
//! Only the header is read, never the tensor data, and the header is capped at
//! [`MAX_HEADER_BYTES`] (the `safetensors` crate's own limit). A sharded checkpoint's
//! `model.safetensors.index.json` maps tensors to shards and gives `metadata.total_size`, the
//! bytes of all tensors — the figure NVIDIA's NIM memory guide suggests
//! (`PROFILES-SIZING.md` §4.2).
//!
//! ```
//! use half::bf16;
//! use nim_sizing::safetensors::read_checkpoint;
//! use nim_sizing::units::Bytes;
//! use safetensors::{Dtype, tensor::TensorView};
//!
//! // A real one-tensor checkpoint, as `save_pretrained` would write it.
//! let dir = std::env::temp_dir().join(format!("nim-sizing-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let data: Vec<u8> = (0..32 * 16).flat_map(|_| bf16::ONE.to_le_bytes()).collect();
//! let view = TensorView::new(Dtype::BF16, vec![32, 16], &data).unwrap();
//! let file = safetensors::serialize([("model.embed_tokens.weight", view)], None).unwrap();
//! std::fs::write(dir.join("model.safetensors"), file).unwrap();
//!
//! let ckpt = read_checkpoint(&dir)?;
//! assert_eq!(ckpt.data_bytes, Bytes::new(32 * 16 * 2));
//! assert_eq!(ckpt.params_by_dtype["BF16"], 32 * 16);
//! # std::fs::remove_dir_all(&dir).unwrap();
//! # Ok::<(), nim_sizing::Error>(())
//! ```
//!
//! Errors are [`Error::Safetensors`] naming the file and the byte offset of the problem, or
//! [`Error::ModelFile`] when a file cannot be read.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::units::Bytes;

/// The largest header accepted: 100,000,000 bytes, as the `safetensors` crate's
/// `MAX_HEADER_SIZE`.
pub const MAX_HEADER_BYTES: u64 = 100_000_000;

/// The largest `model.safetensors.index.json` read (a 405B index is about 100 KB).
pub const MAX_INDEX_BYTES: u64 = 100_000_000;

/// What the headers of one or more safetensors files say.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SafetensorsSummary {
    /// The files read.
    pub files: Vec<PathBuf>,
    /// Number of tensors.
    pub tensors: u64,
    /// Bytes of tensor data (the sum of the `data_offsets` ranges): the exact weight bytes.
    pub data_bytes: Bytes,
    /// Bytes of the files, headers included.
    pub file_bytes: Bytes,
    /// Elements per dtype name as stored (`"BF16"`, `"F8_E4M3"`, `"I32"`, …). Packed formats
    /// count storage elements: an AWQ/GPTQ `I32` holds eight 4-bit weights.
    pub params_by_dtype: BTreeMap<String, u64>,
    /// Data bytes per dtype name.
    pub bytes_by_dtype: BTreeMap<String, Bytes>,
    /// The `__metadata__` entries (of the last file, when several carry the same key).
    pub metadata: BTreeMap<String, String>,
}

impl SafetensorsSummary {
    /// All elements, every dtype.
    pub fn total_params(&self) -> u64 {
        self.params_by_dtype
            .values()
            .fold(0u64, |acc, n| acc.saturating_add(*n))
    }

    fn merge(&mut self, other: SafetensorsSummary) {
        self.files.extend(other.files);
        self.tensors = self.tensors.saturating_add(other.tensors);
        self.data_bytes += other.data_bytes;
        self.file_bytes += other.file_bytes;
        for (dtype, n) in other.params_by_dtype {
            let entry = self.params_by_dtype.entry(dtype).or_default();
            *entry = entry.saturating_add(n);
        }
        for (dtype, b) in other.bytes_by_dtype {
            *self.bytes_by_dtype.entry(dtype).or_default() += b;
        }
        self.metadata.extend(other.metadata);
    }
}

/// A `model.safetensors.index.json`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SafetensorsIndex {
    /// `metadata.total_size`: bytes of all tensors, when given.
    pub total_size: Option<Bytes>,
    /// Entries in `weight_map`.
    pub tensors: u64,
    /// Shard file names, sorted, each once.
    pub shards: Vec<String>,
}

/// Bits per element of a safetensors dtype name; `None` for unknown names.
pub fn dtype_bits(dtype: &str) -> Option<u64> {
    Some(match dtype {
        "F4" => 4,
        "F6_E2M3" | "F6_E3M2" => 6,
        "BOOL" | "U8" | "I8" | "F8_E5M2" | "F8_E4M3" | "F8_E8M0" | "F8_E4M3FNUZ"
        | "F8_E5M2FNUZ" => 8,
        "I16" | "U16" | "F16" | "BF16" => 16,
        "I32" | "U32" | "F32" => 32,
        "I64" | "U64" | "F64" | "C64" => 64,
        _ => return None,
    })
}

fn file_error(path: &Path, e: &std::io::Error) -> Error {
    Error::ModelFile {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

fn malformed(path: &Path, offset: u64, message: impl Into<String>) -> Error {
    Error::Safetensors {
        path: path.to_path_buf(),
        offset,
        message: message.into(),
    }
}

/// Byte offset in `text` of a serde_json error position (1-based line and column).
fn json_error_offset(text: &str, e: &serde_json::Error) -> u64 {
    let line_start: usize = text
        .split_inclusive('\n')
        .take(e.line().saturating_sub(1))
        .map(str::len)
        .sum();
    (line_start + e.column().saturating_sub(1)).min(text.len()) as u64
}

/// Reads the header of one `.safetensors` file.
pub fn read_safetensors_header(path: &Path) -> Result<SafetensorsSummary> {
    let mut file = File::open(path).map_err(|e| file_error(path, &e))?;
    let file_len = file.metadata().map_err(|e| file_error(path, &e))?.len();
    if file_len < 8 {
        return Err(malformed(
            path,
            0,
            format!("file is {file_len} bytes, shorter than the 8-byte header length"),
        ));
    }
    let mut len_bytes = [0u8; 8];
    file.read_exact(&mut len_bytes)
        .map_err(|e| file_error(path, &e))?;
    let header_len = u64::from_le_bytes(len_bytes);
    if header_len > MAX_HEADER_BYTES {
        return Err(malformed(
            path,
            0,
            format!(
                "header length {header_len} exceeds the {MAX_HEADER_BYTES}-byte limit \
                 (not a safetensors file?)"
            ),
        ));
    }
    if header_len > file_len - 8 {
        return Err(malformed(
            path,
            8,
            format!(
                "truncated: the header is {header_len} bytes but only {} bytes follow",
                file_len - 8
            ),
        ));
    }
    // header_len <= MAX_HEADER_BYTES, so it fits in usize.
    let mut header = vec![0u8; header_len as usize];
    file.read_exact(&mut header)
        .map_err(|e| file_error(path, &e))?;
    let text = std::str::from_utf8(&header)
        .map_err(|e| malformed(path, 8 + e.valid_up_to() as u64, "header is not UTF-8"))?;
    let value: Value = serde_json::from_str(text).map_err(|e| {
        malformed(
            path,
            8 + json_error_offset(text, &e),
            format!("header is not valid JSON: {e}"),
        )
    })?;
    let Value::Object(entries) = value else {
        return Err(malformed(path, 8, "header is not a JSON object"));
    };
    let data_len = file_len - 8 - header_len;
    summarize(path, text, &entries, data_len, file_len)
}

fn summarize(
    path: &Path,
    text: &str,
    entries: &Map<String, Value>,
    data_len: u64,
    file_len: u64,
) -> Result<SafetensorsSummary> {
    let mut summary = SafetensorsSummary {
        files: vec![path.to_path_buf()],
        file_bytes: Bytes::new(file_len),
        ..SafetensorsSummary::default()
    };
    let data_start = file_len - data_len;
    for (name, entry) in entries {
        // Where the entry's key sits in the file, for error messages.
        let at = 8 + text.find(&format!("\"{name}\"")).map_or(0, |i| i as u64);
        let bad = |message: String| malformed(path, at, format!("tensor {name:?}: {message}"));
        if name == "__metadata__" {
            let Value::Object(meta) = entry else {
                return Err(bad("expected an object of strings".to_owned()));
            };
            for (key, value) in meta {
                let Some(value) = value.as_str() else {
                    return Err(bad(format!("metadata {key:?} is not a string")));
                };
                summary.metadata.insert(key.clone(), value.to_owned());
            }
            continue;
        }
        let Value::Object(info) = entry else {
            return Err(bad(
                "expected an object with dtype, shape and data_offsets".to_owned()
            ));
        };
        let dtype = info
            .get("dtype")
            .and_then(Value::as_str)
            .ok_or_else(|| bad("missing dtype".to_owned()))?;
        let bits = dtype_bits(dtype).ok_or_else(|| bad(format!("unknown dtype {dtype:?}")))?;
        let shape = info
            .get("shape")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("missing shape".to_owned()))?;
        let mut elements = 1u64;
        for dim in shape {
            let dim = dim
                .as_u64()
                .ok_or_else(|| bad(format!("shape entry {dim} is not a non-negative integer")))?;
            elements = elements
                .checked_mul(dim)
                .ok_or_else(|| bad("shape overflows".to_owned()))?;
        }
        let offsets: Vec<u64> = info
            .get("data_offsets")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_u64).collect())
            .unwrap_or_default();
        let [begin, end] = offsets[..] else {
            return Err(bad(
                "data_offsets must be two non-negative integers".to_owned()
            ));
        };
        if begin > end {
            return Err(bad(format!("data_offsets [{begin}, {end}] run backwards")));
        }
        if end > data_len {
            return Err(malformed(
                path,
                data_start.saturating_add(end),
                format!(
                    "truncated: tensor {name:?} ends at byte {} but the file is {file_len} bytes",
                    data_start.saturating_add(end)
                ),
            ));
        }
        let expected = u128::from(elements) * u128::from(bits);
        if expected != u128::from(end - begin) * 8 {
            return Err(bad(format!(
                "{} data bytes for {elements} {dtype} elements ({expected} bits)",
                end - begin
            )));
        }
        summary.tensors += 1;
        summary.data_bytes += Bytes::new(end - begin);
        let count = summary.params_by_dtype.entry(dtype.to_owned()).or_default();
        *count = count.saturating_add(elements);
        *summary.bytes_by_dtype.entry(dtype.to_owned()).or_default() += Bytes::new(end - begin);
    }
    Ok(summary)
}

/// Reads a `model.safetensors.index.json`.
pub fn read_safetensors_index(path: &Path) -> Result<SafetensorsIndex> {
    let file = File::open(path).map_err(|e| file_error(path, &e))?;
    let mut text = String::new();
    file.take(MAX_INDEX_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| file_error(path, &e))?;
    if text.len() as u64 > MAX_INDEX_BYTES {
        return Err(malformed(
            path,
            MAX_INDEX_BYTES,
            format!("index is larger than {MAX_INDEX_BYTES} bytes"),
        ));
    }
    let value: Value = serde_json::from_str(&text).map_err(|e| {
        malformed(
            path,
            json_error_offset(&text, &e),
            format!("not valid JSON: {e}"),
        )
    })?;
    let key_at = |key: &str| text.find(&format!("\"{key}\"")).map_or(0, |i| i as u64);
    let total_size = match value.pointer("/metadata/total_size") {
        None | Some(Value::Null) => None,
        Some(v) => Some(Bytes::new(
            v.as_u64()
                .or_else(|| {
                    v.as_f64()
                        .filter(|f| *f >= 0.0 && f.fract() == 0.0 && *f < 1.8e19)
                        .map(|f| f as u64)
                })
                .ok_or_else(|| {
                    malformed(
                        path,
                        key_at("total_size"),
                        format!("metadata.total_size is not a byte count: {v}"),
                    )
                })?,
        )),
    };
    let Some(weight_map) = value.get("weight_map").and_then(Value::as_object) else {
        return Err(malformed(path, 0, "missing the weight_map object"));
    };
    let mut shards = Vec::new();
    for (tensor, shard) in weight_map {
        let Some(shard) = shard.as_str() else {
            return Err(malformed(
                path,
                key_at(tensor),
                format!("weight_map {tensor:?} is not a file name"),
            ));
        };
        if shard.is_empty() || shard.contains(['/', '\\']) || shard == ".." || shard == "." {
            return Err(malformed(
                path,
                key_at(tensor),
                format!("weight_map {tensor:?}: shard {shard:?} is not a plain file name"),
            ));
        }
        shards.push(shard.to_owned());
    }
    shards.sort();
    shards.dedup();
    Ok(SafetensorsIndex {
        total_size,
        tensors: weight_map.len() as u64,
        shards,
    })
}

/// Reads every safetensors header of a checkpoint directory: the shards named by
/// `model.safetensors.index.json` when present, else `model.safetensors`, else every
/// `*.safetensors` file in the directory (sorted).
pub fn read_checkpoint(dir: &Path) -> Result<SafetensorsSummary> {
    let index = dir.join("model.safetensors.index.json");
    let files: Vec<PathBuf> = if index.is_file() {
        read_safetensors_index(&index)?
            .shards
            .iter()
            .map(|s| dir.join(s))
            .collect()
    } else if dir.join("model.safetensors").is_file() {
        vec![dir.join("model.safetensors")]
    } else {
        let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| file_error(dir, &e))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "safetensors") && p.is_file())
            .collect();
        found.sort();
        found
    };
    if files.is_empty() {
        return Err(Error::ModelFile {
            path: dir.to_path_buf(),
            message: "no .safetensors files".to_owned(),
        });
    }
    let mut summary = SafetensorsSummary::default();
    for file in files {
        summary.merge(read_safetensors_header(&file)?);
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ::safetensors::Dtype;
    use ::safetensors::tensor::TensorView;
    use half::bf16;

    /// A scratch directory removed on drop.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(name: &str) -> Self {
            let dir =
                std::env::temp_dir().join(format!("nim-sizing-st-{}-{name}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            Scratch(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn bf16_bytes(n: usize) -> Vec<u8> {
        (0..n)
            .flat_map(|i| bf16::from_f32(i as f32 * 0.25).to_le_bytes())
            .collect()
    }

    /// A real file from the `safetensors` crate: two BF16 matrices and an F32 vector.
    fn sample() -> Vec<u8> {
        let embed = bf16_bytes(16 * 8);
        let proj = bf16_bytes(8 * 8);
        let norm: Vec<u8> = (0..8).flat_map(|i| (i as f32).to_le_bytes()).collect();
        let tensors = vec![
            (
                "model.embed_tokens.weight",
                TensorView::new(Dtype::BF16, vec![16, 8], &embed).unwrap(),
            ),
            (
                "model.layers.0.self_attn.q_proj.weight",
                TensorView::new(Dtype::BF16, vec![8, 8], &proj).unwrap(),
            ),
            (
                "model.norm.weight",
                TensorView::new(Dtype::F32, vec![8], &norm).unwrap(),
            ),
        ];
        let metadata = std::collections::HashMap::from([("format".to_owned(), "pt".to_owned())]);
        ::safetensors::serialize(tensors, Some(metadata)).unwrap()
    }

    #[test]
    fn reads_a_real_file() {
        let scratch = Scratch::new("real");
        let path = scratch.0.join("model.safetensors");
        let bytes = sample();
        std::fs::write(&path, &bytes).unwrap();
        let s = read_safetensors_header(&path).unwrap();
        assert_eq!(s.tensors, 3);
        assert_eq!(s.params_by_dtype["BF16"], 16 * 8 + 8 * 8);
        assert_eq!(s.params_by_dtype["F32"], 8);
        assert_eq!(s.bytes_by_dtype["BF16"], Bytes::new((16 * 8 + 8 * 8) * 2));
        assert_eq!(s.data_bytes, Bytes::new((16 * 8 + 8 * 8) * 2 + 8 * 4));
        assert_eq!(s.file_bytes, Bytes::new(bytes.len() as u64));
        assert_eq!(s.total_params(), 16 * 8 + 8 * 8 + 8);
        assert_eq!(s.metadata["format"], "pt");
        // The crate's own reader agrees.
        let (_, meta) = ::safetensors::SafeTensors::read_metadata(&bytes).unwrap();
        assert_eq!(meta.tensors().len() as u64, s.tensors);
        assert_eq!(
            read_checkpoint(&scratch.0).unwrap().data_bytes,
            s.data_bytes
        );
    }

    #[test]
    fn sharded_checkpoint_with_index() {
        let scratch = Scratch::new("sharded");
        let one = sample();
        let proj = bf16_bytes(8 * 4);
        let two = ::safetensors::serialize(
            vec![(
                "lm_head.weight",
                TensorView::new(Dtype::BF16, vec![8, 4], &proj).unwrap(),
            )],
            None,
        )
        .unwrap();
        std::fs::write(scratch.0.join("model-00001-of-00002.safetensors"), &one).unwrap();
        std::fs::write(scratch.0.join("model-00002-of-00002.safetensors"), &two).unwrap();
        let total = (16 * 8 + 8 * 8) * 2 + 8 * 4 + 8 * 4 * 2;
        let index = serde_json::json!({
            "metadata": {"total_size": total},
            "weight_map": {
                "model.embed_tokens.weight": "model-00001-of-00002.safetensors",
                "model.layers.0.self_attn.q_proj.weight": "model-00001-of-00002.safetensors",
                "model.norm.weight": "model-00001-of-00002.safetensors",
                "lm_head.weight": "model-00002-of-00002.safetensors"
            }
        });
        let index_path = scratch.0.join("model.safetensors.index.json");
        std::fs::write(&index_path, index.to_string()).unwrap();
        let idx = read_safetensors_index(&index_path).unwrap();
        assert_eq!(idx.total_size, Some(Bytes::new(total)));
        assert_eq!(idx.tensors, 4);
        assert_eq!(idx.shards.len(), 2);
        let ckpt = read_checkpoint(&scratch.0).unwrap();
        assert_eq!(ckpt.files.len(), 2);
        assert_eq!(ckpt.tensors, 4);
        assert_eq!(Some(ckpt.data_bytes), idx.total_size);
    }

    fn expect_malformed(path: &Path) -> (u64, String) {
        match read_safetensors_header(path) {
            Err(Error::Safetensors {
                path: p,
                offset,
                message,
            }) => {
                assert_eq!(p, path);
                (offset, message)
            }
            other => panic!("expected a Safetensors error, got {other:?}"),
        }
    }

    #[test]
    fn truncated_and_garbage_files() {
        let scratch = Scratch::new("bad");
        let good = sample();
        let header_len = u64::from_le_bytes(good[..8].try_into().unwrap());
        let path = scratch.0.join("x.safetensors");

        std::fs::write(&path, &good[..5]).unwrap();
        let (offset, message) = expect_malformed(&path);
        assert_eq!(offset, 0);
        assert!(message.contains("shorter"), "{message}");

        std::fs::write(&path, &good[..20]).unwrap();
        let (offset, message) = expect_malformed(&path);
        assert_eq!(offset, 8);
        assert!(message.contains("truncated"), "{message}");

        // Cut inside the tensor data.
        let cut = good.len() - 10;
        std::fs::write(&path, &good[..cut]).unwrap();
        let (offset, message) = expect_malformed(&path);
        assert_eq!(offset, good.len() as u64);
        assert!(message.contains("truncated"), "{message}");
        assert!(offset > 8 + header_len);

        let mut huge = good.clone();
        huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        std::fs::write(&path, &huge).unwrap();
        let (offset, message) = expect_malformed(&path);
        assert_eq!(offset, 0);
        assert!(message.contains("limit"), "{message}");

        let mut garbage = 12u64.to_le_bytes().to_vec();
        garbage.extend_from_slice(b"{\"a\": nope}");
        garbage.push(b' ');
        std::fs::write(&path, &garbage).unwrap();
        let (offset, message) = expect_malformed(&path);
        // At the `n` of `nope` (serde_json reports the column after reading it).
        assert!((8 + 6..=8 + 7).contains(&offset), "{offset}");
        assert!(message.contains("JSON"), "{message}");

        let mut not_utf8 = 4u64.to_le_bytes().to_vec();
        not_utf8.extend_from_slice(&[b'{', 0xff, 0xfe, b'}']);
        std::fs::write(&path, &not_utf8).unwrap();
        assert_eq!(expect_malformed(&path).0, 9);

        let mut wrong_size = 0u64.to_le_bytes().to_vec();
        let header = br#"{"t":{"dtype":"BF16","shape":[4],"data_offsets":[0,6]}}"#;
        wrong_size[..8].copy_from_slice(&(header.len() as u64).to_le_bytes());
        wrong_size.extend_from_slice(header);
        wrong_size.extend_from_slice(&[0; 6]);
        std::fs::write(&path, &wrong_size).unwrap();
        let (offset, message) = expect_malformed(&path);
        assert_eq!(offset, 9);
        assert!(message.contains("\"t\""), "{message}");

        let mut bad_dtype = 0u64.to_le_bytes().to_vec();
        let header = br#"{"t":{"dtype":"Q7","shape":[1],"data_offsets":[0,1]}}"#;
        bad_dtype[..8].copy_from_slice(&(header.len() as u64).to_le_bytes());
        bad_dtype.extend_from_slice(header);
        bad_dtype.push(0);
        std::fs::write(&path, &bad_dtype).unwrap();
        assert!(expect_malformed(&path).1.contains("unknown dtype"));

        match read_safetensors_header(&scratch.0.join("missing.safetensors")) {
            Err(Error::ModelFile { .. }) => {}
            other => panic!("{other:?}"),
        }
        let index = scratch.0.join("model.safetensors.index.json");
        std::fs::write(&index, r#"{"weight_map": {"a": "../../etc/passwd"}}"#).unwrap();
        assert!(matches!(
            read_safetensors_index(&index),
            Err(Error::Safetensors { .. })
        ));
        std::fs::write(&index, r#"{"weight_map": "#).unwrap();
        assert!(matches!(
            read_safetensors_index(&index),
            Err(Error::Safetensors { .. })
        ));
    }
}
