//! The crate's error type.

/// Errors of this crate. Each names what was wrong and where (file, line, field).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Input text (a manifest, `list-model-profiles` output, an inventory description, an
    /// `nvidia-smi` CSV) is malformed.
    #[error("{source_name}:{line}: {message}")]
    Parse {
        /// The file name, or a description of the input (`--gpus`).
        source_name: String,
        /// 1-based line (0 when the input has no lines).
        line: usize,
        /// What was wrong and what was expected.
        message: String,
    },
    /// A value is out of range or malformed.
    #[error("{field}: {message}")]
    Invalid {
        /// The field or flag.
        field: String,
        /// What was wrong.
        message: String,
    },
    /// A requested profile (`NIM_MODEL_PROFILE`) does not exist or cannot run.
    #[error("{message}")]
    Profile {
        /// What was requested.
        requested: String,
        /// Why it cannot be used, with the nearest names and the runnable ones.
        message: String,
    },
    /// The GPU catalog of `nim-sizing` does not know a GPU.
    #[error(transparent)]
    Sizing(#[from] nim_sizing::Error),
    /// NVML detection failed (no driver, no library, no GPU).
    #[error("NVML: {0}")]
    Nvml(String),
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An [`Error::Parse`].
    pub fn parse(source_name: impl Into<String>, line: usize, message: impl Into<String>) -> Self {
        Self::Parse {
            source_name: source_name.into(),
            line,
            message: message.into(),
        }
    }

    /// An [`Error::Invalid`].
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Invalid {
            field: field.into(),
            message: message.into(),
        }
    }
}
