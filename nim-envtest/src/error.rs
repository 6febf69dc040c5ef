//! The error type of the harness.

use std::path::PathBuf;
use std::process::ExitStatus;

/// What went wrong while preparing or running the control plane.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The binaries are not cached and there is no Go toolchain to build them.
    #[error(
        "no Go toolchain: `{go} version` failed ({reason}); the harness builds {what} from its Go module and needs Go {min_go} or later"
    )]
    NoGo {
        /// The `go` command that was tried.
        go: PathBuf,
        /// Why it could not be run.
        reason: String,
        /// What would have been built.
        what: String,
        /// The oldest Go release that builds it.
        min_go: &'static str,
    },
    /// A `go install` or `go build` failed.
    #[error("`{command}` failed with {status}:\n{output}")]
    Build {
        /// The command line that failed.
        command: String,
        /// Its exit status.
        status: ExitStatus,
        /// The end of what it printed.
        output: String,
    },
    /// A file or directory operation failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What the harness was doing.
        action: &'static str,
        /// The path it was working on.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The certificates could not be generated.
    #[error("generating the {what} certificate: {source}")]
    Certificate {
        /// Which certificate (`CA`, `serving`, `client`).
        what: &'static str,
        /// The underlying error.
        #[source]
        source: rcgen::Error,
    },
    /// A server process could not be started.
    #[error("starting {name} ({}): {source}", program.display())]
    Spawn {
        /// `etcd` or `apiextensions-apiserver`.
        name: &'static str,
        /// The binary.
        program: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A server process exited before the control plane was ready.
    #[error("{name} exited with {status} before it was ready; the end of its log:\n{log_tail}")]
    Exited {
        /// `etcd` or `apiextensions-apiserver`.
        name: &'static str,
        /// Its exit status.
        status: ExitStatus,
        /// The last lines it logged.
        log_tail: String,
    },
    /// The API server did not answer `/healthz` with `ok` in time.
    #[error(
        "the API server was not healthy after {seconds}s (last answer: {last}); the end of its log:\n{log_tail}"
    )]
    NotHealthy {
        /// How long the harness waited.
        seconds: u64,
        /// The last answer or error from `/healthz`.
        last: String,
        /// The last lines the API server logged.
        log_tail: String,
    },
    /// The kube client could not be configured from the written kubeconfig.
    #[error("configuring the kube client from {}: {message}", path.display())]
    Client {
        /// The kubeconfig file.
        path: PathBuf,
        /// What kube reported.
        message: String,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Maps an I/O error on `path` into [`Error::Io`].
pub(crate) fn io(
    action: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io {
        action,
        path,
        source,
    }
}
