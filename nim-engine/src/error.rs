//! The crate's error type.

/// Errors of this crate. Each names what was wrong and where.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Not enough free KV blocks.
    #[error("out of KV blocks: needed {needed}, {free} free of {total}")]
    OutOfBlocks {
        /// Blocks the operation needed.
        needed: usize,
        /// Blocks free.
        free: usize,
        /// Blocks in all.
        total: usize,
    },
    /// No sequence with this id.
    #[error("unknown sequence {0}")]
    UnknownSequence(u64),
    /// A sequence id is already in use.
    #[error("sequence {0} already exists")]
    DuplicateSequence(u64),
    /// A tensor has the wrong shape.
    #[error("{name}: expected shape {expected}, found {found:?}")]
    Shape {
        /// The tensor (`q`, `k_cache`, `block_tables`, ...).
        name: String,
        /// The expected shape, in words (`[num_seqs, num_heads, head_dim]`).
        expected: String,
        /// The shape found.
        found: Vec<usize>,
    },
    /// A tensor has the wrong dtype.
    #[error("{name}: expected dtype {expected}, found {found}")]
    DType {
        /// The tensor.
        name: String,
        /// The dtype expected.
        expected: String,
        /// The dtype found.
        found: String,
    },
    /// An argument is out of range or inconsistent with another.
    #[error("{field}: {message}")]
    Invalid {
        /// The argument.
        field: String,
        /// What was wrong.
        message: String,
    },
    /// A weights or tensor file could not be read.
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: String,
        /// What went wrong (with the byte offset where it applies).
        message: String,
    },
    /// A tensor is missing from a file.
    #[error("{path}: no tensor named {name:?}")]
    MissingTensor {
        /// The file.
        path: String,
        /// The tensor.
        name: String,
    },
    /// The CUDA backend is not available (not built, no driver, no device).
    #[error("CUDA backend unavailable: {0}")]
    CudaUnavailable(String),
    /// The metrics could not be rendered.
    #[error("metrics: {0}")]
    Metrics(String),
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

    /// An [`Error::Shape`].
    pub fn shape(name: impl Into<String>, expected: impl Into<String>, found: &[usize]) -> Self {
        Self::Shape {
            name: name.into(),
            expected: expected.into(),
            found: found.to_vec(),
        }
    }
}
