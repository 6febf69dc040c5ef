//! `POST /v1/embeddings`, with NIM's `input_type` and `truncate`.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::common::Usage;
use crate::error::{Error, Result};

/// What the texts are, for asymmetric retrieval models. Never defaulted: the wrong one
/// silently lowers retrieval quality, and some models reject the field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InputType {
    /// A search query.
    Query,
    /// A document passage.
    Passage,
}

/// What to do with inputs longer than the model's limit (default on the server: `NONE`, an
/// error).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Truncate {
    /// Fail.
    None,
    /// Drop tokens at the start.
    Start,
    /// Drop tokens at the end.
    End,
}

/// How vectors are sent back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EncodingFormat {
    /// JSON numbers.
    Float,
    /// Base64 of little-endian `f32`s.
    Base64,
}

/// Input texts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EmbeddingInput {
    /// One text.
    One(String),
    /// Several texts.
    Many(Vec<String>),
}

/// An embeddings request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EmbeddingRequest {
    /// Model.
    pub model: String,
    /// Texts.
    pub input: EmbeddingInput,
    /// NIM: query or passage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_type: Option<InputType>,
    /// NIM: truncation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncate: Option<Truncate>,
    /// `float` or `base64`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding_format: Option<EncodingFormat>,
    /// Output dimensions (Matryoshka models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<u32>,
    /// End-user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Any other field (2.x `modality`, `embedding_type`, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl EmbeddingRequest {
    /// A request embedding `texts` with `model`.
    pub fn new(model: impl Into<String>, texts: Vec<String>) -> Self {
        EmbeddingRequest {
            model: model.into(),
            input: EmbeddingInput::Many(texts),
            input_type: None,
            truncate: None,
            encoding_format: None,
            dimensions: None,
            user: None,
            extra: Map::new(),
        }
    }

    /// Sets `input_type`.
    #[must_use]
    pub fn input_type(mut self, t: InputType) -> Self {
        self.input_type = Some(t);
        self
    }

    /// Sets `truncate`.
    #[must_use]
    pub fn truncate(mut self, t: Truncate) -> Self {
        self.truncate = Some(t);
        self
    }

    /// Sets `encoding_format`.
    #[must_use]
    pub fn encoding_format(mut self, f: EncodingFormat) -> Self {
        self.encoding_format = Some(f);
        self
    }
}

/// An embeddings response.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EmbeddingResponse {
    /// `list`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    /// One item per input.
    #[serde(default)]
    pub data: Vec<Embedding>,
    /// Model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Token counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl EmbeddingResponse {
    /// The vectors as `f32`, in input order (sorted by `index`), decoding base64.
    pub fn vectors(&self) -> Result<Vec<Vec<f32>>> {
        let mut items: Vec<&Embedding> = self.data.iter().collect();
        items.sort_by_key(|e| e.index);
        items.into_iter().map(Embedding::to_f32).collect()
    }
}

/// One embedding.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Embedding {
    /// Input position.
    #[serde(default)]
    pub index: usize,
    /// The vector.
    pub embedding: EmbeddingVector,
    /// Other fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A vector as sent: numbers or base64.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EmbeddingVector {
    /// `float` encoding.
    Float(Vec<f32>),
    /// `base64` encoding of little-endian `f32`s.
    Base64(String),
}

impl Embedding {
    /// The vector as `f32`s.
    pub fn to_f32(&self) -> Result<Vec<f32>> {
        match &self.embedding {
            EmbeddingVector::Float(v) => Ok(v.clone()),
            EmbeddingVector::Base64(s) => {
                let bytes = decode_base64(s).ok_or_else(|| Error::InvalidResponse {
                    message: format!("embedding {}: invalid base64", self.index),
                })?;
                if bytes.len() % 4 != 0 {
                    return Err(Error::InvalidResponse {
                        message: format!(
                            "embedding {}: {} bytes is not a whole number of f32s",
                            self.index,
                            bytes.len()
                        ),
                    });
                }
                Ok(bytes
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect())
            }
        }
    }
}

/// Decodes standard base64 (with or without padding); none on invalid input.
pub(crate) fn decode_base64(s: &str) -> Option<Vec<u8>> {
    fn value(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let trimmed = s.trim().trim_end_matches('=');
    let mut out = Vec::with_capacity(trimmed.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0u32;
    for c in trimmed.bytes() {
        acc = (acc << 6) | value(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nim_fields_on_the_wire() {
        let r = EmbeddingRequest::new("e", vec!["a".into()])
            .input_type(InputType::Passage)
            .truncate(Truncate::End);
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            json!({"model":"e","input":["a"],"input_type":"passage","truncate":"END"})
        );
    }

    #[test]
    fn base64_vectors() {
        // 1.0f32 = 00 00 80 3f, -2.0f32 = 00 00 00 c0
        let e: EmbeddingResponse = serde_json::from_value(json!({"data":[
            {"index":1,"embedding":"AAAAwA=="},{"index":0,"embedding":"AACAPw=="}]}))
        .unwrap();
        assert_eq!(e.vectors().unwrap(), vec![vec![1.0], vec![-2.0]]);
        assert_eq!(decode_base64("aGVsbG8=").unwrap(), b"hello");
        assert!(decode_base64("a*b").is_none());
    }
}
