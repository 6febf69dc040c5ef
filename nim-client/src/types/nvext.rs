//! NIM's sampling and structured-generation extensions.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};

/// NIM extensions to OpenAI's request fields. Sent at the top level or inside `"nvext"`,
/// per [`crate::ExtensionPlacement`]. Unset fields are omitted.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NvExt {
    /// Sample from the `k` most likely tokens; `-1` means all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<i32>,
    /// Minimum probability relative to the most likely token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_p: Option<f32>,
    /// Penalty for repeated tokens, in (0, 2]; 1 is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repetition_penalty: Option<f32>,
    /// Keep generating past the end-of-sequence token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ignore_eos: Option<bool>,
    /// Generate at least this many tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_tokens: Option<u32>,
    /// Constrain output to this JSON schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guided_json: Option<Value>,
    /// Constrain output to this regular expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guided_regex: Option<String>,
    /// Constrain output to one of these strings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guided_choice: Option<Vec<String>>,
    /// Constrain output to this context-free grammar (EBNF).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guided_grammar: Option<String>,
    /// The guided-decoding backend (`xgrammar`, `outlines`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guided_decoding_backend: Option<String>,
    /// Greedy sampling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub greed_sampling: Option<bool>,
    /// Send the prompt without the chat template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_raw_prompt: Option<bool>,
    /// Budget of reasoning ("thinking") tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_thinking_tokens: Option<u32>,
}

impl NvExt {
    /// Checks the ranges NIM documents: `top_k` is -1 or at least 1, `repetition_penalty` in
    /// (0, 2], `min_p` in [0, 1].
    pub fn validate(&self) -> Result<()> {
        if let Some(k) = self.top_k
            && k != -1
            && k < 1
        {
            return Err(Error::InvalidRequest {
                field: "top_k",
                message: format!("{k}: expected -1 (all tokens) or at least 1"),
            });
        }
        if let Some(p) = self.repetition_penalty
            && !(p > 0.0 && p <= 2.0)
        {
            return Err(Error::InvalidRequest {
                field: "repetition_penalty",
                message: format!("{p}: expected a value in (0, 2]"),
            });
        }
        if let Some(p) = self.min_p
            && !(0.0..=1.0).contains(&p)
        {
            return Err(Error::InvalidRequest {
                field: "min_p",
                message: format!("{p}: expected a value in [0, 1]"),
            });
        }
        Ok(())
    }

    /// Whether no field is set.
    pub fn is_empty(&self) -> bool {
        self == &NvExt::default()
    }

    /// Sets `top_k`.
    #[must_use]
    pub fn top_k(mut self, k: i32) -> Self {
        self.top_k = Some(k);
        self
    }

    /// Sets `repetition_penalty`.
    #[must_use]
    pub fn repetition_penalty(mut self, p: f32) -> Self {
        self.repetition_penalty = Some(p);
        self
    }

    /// Sets `ignore_eos`.
    #[must_use]
    pub fn ignore_eos(mut self, ignore: bool) -> Self {
        self.ignore_eos = Some(ignore);
        self
    }

    /// Sets `guided_json`.
    #[must_use]
    pub fn guided_json(mut self, schema: Value) -> Self {
        self.guided_json = Some(schema);
        self
    }

    /// Sets `guided_regex`.
    #[must_use]
    pub fn guided_regex(mut self, regex: impl Into<String>) -> Self {
        self.guided_regex = Some(regex.into());
        self
    }

    /// Sets `guided_choice`.
    #[must_use]
    pub fn guided_choice(mut self, choices: Vec<String>) -> Self {
        self.guided_choice = Some(choices);
        self
    }

    /// Sets `guided_grammar`.
    #[must_use]
    pub fn guided_grammar(mut self, grammar: impl Into<String>) -> Self {
        self.guided_grammar = Some(grammar.into());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert!(NvExt::default().top_k(-1).validate().is_ok());
        assert!(NvExt::default().top_k(0).validate().is_err());
        assert!(NvExt::default().repetition_penalty(2.0).validate().is_ok());
        assert!(NvExt::default().repetition_penalty(0.0).validate().is_err());
        assert!(
            NvExt::default()
                .repetition_penalty(f32::NAN)
                .validate()
                .is_err()
        );
    }
}
