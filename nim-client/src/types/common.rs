//! Types shared by several endpoints.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

/// Defines an open string enum: known values as variants, anything else as `Other(String)`.
macro_rules! open_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $wire:literal,)* }) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)*
            /// A value this crate does not know, kept as sent.
            Other(String),
        }

        impl $name {
            /// The wire value.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $wire,)*
                    $name::Other(s) => s,
                }
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                match s {
                    $($wire => $name::$variant,)*
                    other => $name::Other(other.to_owned()),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
                Ok($name::from(s.as_ref()))
            }
        }
    };
}

open_enum! {
    /// Why a choice stopped. Unknown values (`eos`, `abort`, ...) are kept; `""` reads as none.
    FinishReason {
        /// A stop sequence or the end-of-sequence token.
        Stop => "stop",
        /// The token limit.
        Length => "length",
        /// The model called tools.
        ToolCalls => "tool_calls",
        /// Content was filtered.
        ContentFilter => "content_filter",
        /// The deprecated single function call.
        FunctionCall => "function_call",
    }
}

open_enum! {
    /// The author of a message.
    Role {
        /// System instructions.
        System => "system",
        /// Developer instructions (newer OpenAI models).
        Developer => "developer",
        /// The user.
        User => "user",
        /// The model.
        Assistant => "assistant",
        /// A tool result.
        Tool => "tool",
    }
}

/// Deserializes an optional finish reason, reading `""` as none.
pub(crate) fn finish_reason<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<FinishReason>, D::Error> {
    let value = Option::<FinishReason>::deserialize(d)?;
    Ok(value.filter(|r| r.as_str() != ""))
}

/// Token counts. On a stream, each value is the latest cumulative count (NIM sends it on
/// many chunks); it is never summed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    /// Tokens in the prompt.
    #[serde(default)]
    pub prompt_tokens: u64,
    /// Tokens generated.
    #[serde(default)]
    pub completion_tokens: u64,
    /// Both.
    #[serde(default)]
    pub total_tokens: u64,
    /// Other fields (`prompt_tokens_details`, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Stop sequences: one or several.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Stop {
    /// One sequence.
    One(String),
    /// Several sequences.
    Many(Vec<String>),
}

/// Options of a streamed request.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamOptions {
    /// Ask for a final chunk with usage and no choices.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub include_usage: Option<bool>,
    /// Other fields (vLLM's `continuous_usage_stats`, ...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_enums_keep_unknown_values() {
        let r: FinishReason = serde_json::from_str("\"eos\"").unwrap();
        assert_eq!(r, FinishReason::Other("eos".into()));
        assert_eq!(serde_json::to_string(&r).unwrap(), "\"eos\"");
        let r: Role = serde_json::from_str("\"ipython\"").unwrap();
        assert_eq!(r.as_str(), "ipython");
        assert_eq!(
            serde_json::from_str::<Role>("\"user\"").unwrap(),
            Role::User
        );
    }
}
