//! The crate's error type.

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A value in an object is not what it should be (e.g. a malformed annotation).
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
