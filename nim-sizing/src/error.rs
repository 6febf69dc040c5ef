//! The crate's error type.

/// Errors of this crate. Every variant names what was wrong and where.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // -- GPU catalog --
    /// No GPU in the catalog answers to this name.
    #[error("unknown GPU {name:?}; nearest known: {}", suggestions.join(", "))]
    UnknownGpu {
        /// The name asked for.
        name: String,
        /// The closest known names, best first.
        suggestions: Vec<String>,
    },
    // -- models --
    /// No model in the catalog answers to this name.
    #[error("unknown model {name:?}; nearest known: {}", suggestions.join(", "))]
    UnknownModel {
        /// The name asked for.
        name: String,
        /// The closest known names, best first.
        suggestions: Vec<String>,
    },
    /// A model file (`config.json`, a safetensors file or index) could not be read.
    #[error("cannot read {}: {message}", path.display())]
    ModelFile {
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        message: String,
    },
    /// A safetensors file or index is malformed or truncated.
    #[error("{}: {message} (at byte {offset})", path.display())]
    Safetensors {
        /// The file.
        path: std::path::PathBuf,
        /// Byte offset in the file where the problem was found.
        offset: u64,
        /// What was wrong.
        message: String,
    },
    // -- input --
    /// A value is out of range or malformed.
    #[error("{field}: {message}")]
    Invalid {
        /// The field, flag or JSON key (e.g. `config.json: num_key_value_heads`, `--tp`).
        field: String,
        /// What was wrong and what was expected.
        message: String,
    },
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An [`Error::Invalid`].
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}
