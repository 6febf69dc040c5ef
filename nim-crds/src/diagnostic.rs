//! Findings about a manifest: schema errors, rule violations and lint warnings.

use std::fmt;

use serde::{Deserialize, Serialize};

/// How serious a [`Diagnostic`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The API server, a CEL rule or the operator's webhook rejects the object, or the operator
    /// cannot reconcile it.
    Error,
    /// The object is accepted but will very likely not do what its author wants.
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Error => "error",
            Self::Warning => "warning",
        })
    }
}

/// One finding about one place in an object.
///
/// `path` is a JSON path from the document root, dotted, with list indices in brackets and map
/// keys that contain dots in quotes, e.g. `spec.storage.pvc.volumeAccessMode`,
/// `spec.tolerations[0].key`, `spec.resources.limits."nvidia.com/gpu"`. The empty path is the
/// document itself. `code` is a stable, machine-readable kebab-case identifier
/// (e.g. `unknown-field`, `cel-rule`, `storage-not-nimcache`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Where in the object, as a JSON path from the document root.
    pub path: String,
    /// Stable machine-readable code.
    pub code: String,
    /// What is wrong and what to do instead.
    pub message: String,
    /// 1-based line in the source file, when known (YAML syntax errors).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// 1-based column in the source file, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
}

impl Diagnostic {
    /// An error at `path`.
    pub fn error(
        path: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            severity: Severity::Error,
            path: path.into(),
            code: code.into(),
            message: message.into(),
            line: None,
            column: None,
        }
    }

    /// A warning at `path`.
    pub fn warning(
        path: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            severity: Severity::Warning,
            path: path.into(),
            code: code.into(),
            message: message.into(),
            line: None,
            column: None,
        }
    }

    /// The same diagnostic placed at a line and column of the source file.
    #[must_use]
    pub fn at(mut self, line: usize, column: usize) -> Self {
        self.line = Some(line);
        self.column = Some(column);
        self
    }

    /// Whether this is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() {
            "<document>"
        } else {
            &self.path
        };
        write!(
            f,
            "{}: {} [{}]: {}",
            path, self.severity, self.code, self.message
        )
    }
}

/// Builds the JSON paths used in [`Diagnostic::path`].
pub(crate) mod path {
    /// `parent.key`, quoting `key` when it is not a plain identifier.
    pub(crate) fn field(parent: &str, key: &str) -> String {
        let plain = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        let key = if plain {
            key.to_owned()
        } else {
            format!("\"{}\"", key.replace('"', "\\\""))
        };
        if parent.is_empty() {
            key
        } else {
            format!("{parent}.{key}")
        }
    }

    /// `parent[index]`.
    pub(crate) fn index(parent: &str, index: usize) -> String {
        format!("{parent}[{index}]")
    }
}
