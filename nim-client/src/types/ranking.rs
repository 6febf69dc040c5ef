//! `POST /v1/ranking` (NIM reranking).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::common::Usage;
use crate::error::{Error, Result};

/// A text, as ranking requests wrap them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RankingText {
    /// The text.
    pub text: String,
}

/// Truncation for ranking: only `NONE` (an error when too long) and `END`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum RankingTruncate {
    /// Fail on over-long pairs.
    None,
    /// Drop tokens at the end.
    End,
}

/// A ranking request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RankingRequest {
    /// Model.
    pub model: String,
    /// The query.
    pub query: RankingText,
    /// The passages to rank.
    pub passages: Vec<RankingText>,
    /// Truncation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncate: Option<RankingTruncate>,
    /// Any other field.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl RankingRequest {
    /// Ranks `passages` against `query`.
    pub fn new(model: impl Into<String>, query: impl Into<String>, passages: Vec<String>) -> Self {
        RankingRequest {
            model: model.into(),
            query: RankingText { text: query.into() },
            passages: passages
                .into_iter()
                .map(|text| RankingText { text })
                .collect(),
            truncate: None,
            extra: Map::new(),
        }
    }

    /// Sets `truncate`.
    #[must_use]
    pub fn truncate(mut self, t: RankingTruncate) -> Self {
        self.truncate = Some(t);
        self
    }
}

/// One passage's score. Logits are raw (often negative), not probabilities.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Ranking {
    /// Position of the passage in the request.
    pub index: usize,
    /// Score; higher is more relevant.
    pub logit: f32,
}

/// A ranking response.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct RankingResponse {
    /// Scores; [`crate::Client::rank`] sorts them by descending logit.
    #[serde(default)]
    pub rankings: Vec<Ranking>,
    /// Token counts, when sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usage: Option<Usage>,
    /// Other fields.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl RankingResponse {
    /// Sorts by descending logit (stable; NaN last).
    pub fn sort(&mut self) {
        self.rankings.sort_by(|a, b| {
            b.logit
                .partial_cmp(&a.logit)
                .unwrap_or_else(|| a.logit.is_nan().cmp(&b.logit.is_nan()))
        });
    }

    /// The passages, best first, with their logits; an error when an index is past the end.
    pub fn ranked<'a, T>(&self, passages: &'a [T]) -> Result<Vec<(&'a T, f32)>> {
        self.rankings
            .iter()
            .map(|r| {
                passages
                    .get(r.index)
                    .map(|p| (p, r.logit))
                    .ok_or_else(|| Error::InvalidResponse {
                        message: format!(
                            "ranking index {} but only {} passages were sent",
                            r.index,
                            passages.len()
                        ),
                    })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn wire_and_helper() {
        let r = RankingRequest::new("r", "q", vec!["a".into(), "b".into()])
            .truncate(RankingTruncate::End);
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            json!({"model":"r","query":{"text":"q"},"passages":[{"text":"a"},{"text":"b"}],"truncate":"END"})
        );
        let mut resp: RankingResponse = serde_json::from_value(
            json!({"rankings":[{"index":0,"logit":-3.5},{"index":1,"logit":2.0}]}),
        )
        .unwrap();
        resp.sort();
        let passages = ["a", "b"];
        let ranked = resp.ranked(&passages).unwrap();
        assert_eq!(ranked, vec![(&"b", 2.0), (&"a", -3.5)]);
        assert!(resp.ranked(&passages[..1]).is_err());
    }
}
