//! The crate's error type.

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A YAML document could not be parsed.
    #[error("{path}:{line}:{column}: invalid YAML: {message}")]
    Yaml {
        /// The file (or a name given to a string).
        path: String,
        /// 1-based line, 0 when unknown.
        line: usize,
        /// 1-based column, 0 when unknown.
        column: usize,
        /// What the parser said.
        message: String,
    },
    /// A document is not an object of the kind expected.
    #[error("{path}: {message}")]
    Object {
        /// JSON path in the document.
        path: String,
        /// What was wrong.
        message: String,
    },
    /// Serializing an object failed.
    #[error("cannot serialize: {0}")]
    Serialize(String),
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
