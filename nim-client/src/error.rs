//! The crate's error type and the decoding of error bodies.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A boxed cause, so that no dependency's error type is part of this crate's API.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The server answered with a non-success HTTP status.
    #[error("{0}")]
    Api(Box<ApiError>),
    /// The server sent an error object inside a stream, after HTTP 200.
    #[error("error in stream: {0}")]
    Stream(Box<ApiError>),
    /// A request, a connection attempt, or a wait for stream data took longer than allowed.
    #[error("timed out: {what} after {after:?}")]
    Timeout {
        /// What timed out (`"request"`, `"stream idle"`, `"wait_until_ready"`...).
        what: &'static str,
        /// The limit that was reached.
        after: Duration,
    },
    /// The connection failed or broke (refused, reset, closed mid-body).
    #[error("transport error on {url}: {message}")]
    Transport {
        /// The URL requested (never contains the API key).
        url: String,
        /// A short description.
        message: String,
        /// The underlying cause.
        #[source]
        source: BoxError,
    },
    /// A response body is not what the endpoint documents.
    #[error("cannot decode {what}: {source}; body starts with {snippet:?}")]
    Decode {
        /// What was being decoded, e.g. `"chat completion"`.
        what: &'static str,
        /// The first characters of the body.
        snippet: String,
        /// The JSON error.
        #[source]
        source: serde_json::Error,
    },
    /// A decoded response is inconsistent (e.g. a ranking index past the passages).
    #[error("invalid response: {message}")]
    InvalidResponse {
        /// What is wrong.
        message: String,
    },
    /// The configuration cannot be used.
    #[error("invalid configuration: {field}: {message}")]
    Config {
        /// The setting, e.g. `"base_url"` or `"NVIDIA_API_KEY"`.
        field: String,
        /// What was wrong.
        message: String,
    },
    /// A request value is outside the range the server documents.
    #[error("invalid request: {field}: {message}")]
    InvalidRequest {
        /// The request field.
        field: &'static str,
        /// What was expected.
        message: String,
    },
    /// `wait_until_ready` gave up.
    #[error("not ready after {waited:?}: {last}")]
    NotReady {
        /// How long it waited.
        waited: Duration,
        /// The last answer or error seen.
        last: String,
    },
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The HTTP status of an API error, if this is one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api(e) => Some(e.status),
            Error::Stream(e) if e.status != 0 => Some(e.status),
            _ => None,
        }
    }

    /// The API error (HTTP or in-stream), if this is one.
    pub fn api_error(&self) -> Option<&ApiError> {
        match self {
            Error::Api(e) | Error::Stream(e) => Some(e),
            _ => None,
        }
    }
}

/// An error code: servers send strings (`"context_length_exceeded"`) or integers (vLLM: the
/// HTTP status).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ErrorCode {
    /// A numeric code.
    Number(i64),
    /// A string code.
    Text(String),
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorCode::Number(n) => write!(f, "{n}"),
            ErrorCode::Text(s) => f.write_str(s),
        }
    }
}

/// An error answered by the server, decoded from whichever body shape it used.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ApiError {
    /// HTTP status (0 for an error sent inside a stream after HTTP 200 when none was given).
    pub status: u16,
    /// The message: from the body when it has one, else the HTTP reason phrase.
    pub message: String,
    /// The error type (`"invalid_request_error"`, `"BadRequestError"`, ...).
    pub kind: Option<String>,
    /// The error code, string or integer.
    pub code: Option<ErrorCode>,
    /// The offending parameter.
    pub param: Option<String>,
    /// The raw body, as received (lossy UTF-8).
    pub body: String,
    /// Response headers (names lower-case); the request's headers are never kept.
    pub headers: Vec<(String, String)>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.status != 0 {
            write!(f, "HTTP {}: ", self.status)?;
        }
        f.write_str(&self.message)?;
        if let Some(kind) = &self.kind {
            write!(f, " (type {kind}")?;
            if let Some(code) = &self.code {
                write!(f, ", code {code}")?;
            }
            f.write_str(")")?;
        } else if let Some(code) = &self.code {
            write!(f, " (code {code})")?;
        }
        Ok(())
    }
}

impl ApiError {
    /// Decodes an error body: the OpenAI nested `{"error": {...}}` object, the flat
    /// `{"object": "error", ...}` shape, FastAPI's `{"detail": ...}`, else the raw text
    /// (an empty body or an HTML page) with the reason phrase as message.
    pub fn from_body(status: u16, headers: Vec<(String, String)>, body: &[u8]) -> ApiError {
        let text = String::from_utf8_lossy(body).into_owned();
        let mut err = ApiError {
            status,
            message: String::new(),
            kind: None,
            code: None,
            param: None,
            body: text,
            headers,
        };
        let parsed: Option<Value> = serde_json::from_slice(body).ok();
        let decoded = match &parsed {
            Some(Value::Object(map)) => match map.get("error") {
                Some(inner @ Value::Object(_)) => err.take_fields(inner),
                Some(Value::String(s)) => {
                    err.message = s.clone();
                    err.take_fields(&Value::Object(map.clone()));
                    err.message = s.clone();
                    true
                }
                _ if map.contains_key("detail") => {
                    err.message = detail_message(&map["detail"]);
                    true
                }
                _ => err.take_fields(&Value::Object(map.clone())),
            },
            _ => false,
        };
        if !decoded || err.message.is_empty() {
            let trimmed = err.body.trim();
            err.message = if trimmed.is_empty() || trimmed.starts_with('<') {
                reason(status).to_owned()
            } else {
                trimmed.chars().take(500).collect()
            };
        }
        err
    }

    /// Reads `message`, `type`, `code` and `param` from an error object; false when it has no
    /// message.
    fn take_fields(&mut self, value: &Value) -> bool {
        let Some(obj) = value.as_object() else {
            return false;
        };
        let string = |key: &str| obj.get(key).and_then(Value::as_str).map(str::to_owned);
        if let Some(message) = string("message").or_else(|| string("msg")) {
            self.message = message;
        }
        self.kind = string("type");
        self.param = string("param");
        self.code = obj
            .get("code")
            .and_then(|c| serde_json::from_value::<ErrorCode>(c.clone()).ok());
        !self.message.is_empty()
    }

    /// The value of a response header, by lower-case name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// FastAPI's `detail`: a string, or a list of `{loc, msg, type}`.
fn detail_message(detail: &Value) -> String {
    match detail {
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .map(|item| {
                let msg = item.get("msg").and_then(Value::as_str).unwrap_or("invalid");
                match item.get("loc").and_then(Value::as_array) {
                    Some(loc) => {
                        let path: Vec<String> = loc
                            .iter()
                            .map(|p| match p {
                                Value::String(s) => s.clone(),
                                other => other.to_string(),
                            })
                            .collect();
                        format!("{}: {msg}", path.join("."))
                    }
                    None => msg.to_owned(),
                }
            })
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    }
}

/// The reason phrase of common statuses.
fn reason(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        408 => "Request Timeout",
        409 => "Conflict",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "HTTP error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(status: u16, body: &str) -> ApiError {
        ApiError::from_body(status, Vec::new(), body.as_bytes())
    }

    #[test]
    fn nested_with_integer_code() {
        let e = parse(
            400,
            r#"{"error":{"message":"too long","type":"BadRequestError","param":null,"code":400}}"#,
        );
        assert_eq!(e.message, "too long");
        assert_eq!(e.kind.as_deref(), Some("BadRequestError"));
        assert_eq!(e.code, Some(ErrorCode::Number(400)));
    }

    #[test]
    fn nested_with_string_code() {
        let e = parse(
            400,
            r#"{"error":{"message":"m","type":"invalid_request_error","param":"messages","code":"context_length_exceeded"}}"#,
        );
        assert_eq!(
            e.code,
            Some(ErrorCode::Text("context_length_exceeded".into()))
        );
        assert_eq!(e.param.as_deref(), Some("messages"));
    }

    #[test]
    fn flat_object_error() {
        let e = parse(
            400,
            r#"{"object":"error","message":"bad","type":"BadRequestError","param":null,"code":400}"#,
        );
        assert_eq!(e.message, "bad");
        assert_eq!(e.code, Some(ErrorCode::Number(400)));
    }

    #[test]
    fn fastapi_detail_string_and_list() {
        assert_eq!(
            parse(401, r#"{"detail":"Invalid API key"}"#).message,
            "Invalid API key"
        );
        let e = parse(
            422,
            r#"{"detail":[{"loc":["body","model"],"msg":"field required","type":"missing"}]}"#,
        );
        assert_eq!(e.message, "body.model: field required");
    }

    #[test]
    fn empty_and_html_bodies() {
        let e = parse(500, "");
        assert_eq!(e.message, "Internal Server Error");
        assert_eq!(e.body, "");
        let e = parse(502, "<html><body>Bad gateway</body></html>");
        assert_eq!(e.message, "Bad Gateway");
        assert!(e.body.contains("<html>"));
        assert_eq!(parse(503, "upstream down").message, "upstream down");
    }
}
