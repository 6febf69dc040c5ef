//! One running control plane: etcd and the API server on free loopback ports.

use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kube::Client;
use kube::config::{KubeConfigOptions, Kubeconfig};

use crate::error::{Error, Result, io};
use crate::install::{Binaries, Installer, tail};
use crate::pki::Pki;
use crate::supervisor::Supervisor;

/// Prefix of the temporary directories the harness creates.
const DIR_PREFIX: &str = "nim-envtest-";
/// File in each temporary directory naming the process that owns it.
const OWNER_FILE: &str = "owner.pid";

/// How a [`ControlPlane`] is started.
#[derive(Debug, Clone)]
pub struct Options {
    /// Builds and caches the binaries.
    pub installer: Installer,
    /// How long to wait for `/healthz` once the processes run.
    pub startup_timeout: Duration,
}

impl Options {
    /// Options caching the binaries under `cache_dir`, with a 60 s startup timeout.
    pub fn new(cache_dir: impl Into<PathBuf>) -> Self {
        Self {
            installer: Installer::new(cache_dir),
            startup_timeout: Duration::from_secs(60),
        }
    }
}

impl Default for Options {
    /// Caches under `.envtest/` at the root of the nim-rs workspace (git ignores it).
    fn default() -> Self {
        Self::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("../.envtest"))
    }
}

/// A running etcd and `apiextensions-apiserver`, with a kube [`Client`] for them.
///
/// Dropping it kills both processes and deletes its temporary directory (certificates,
/// kubeconfig, etcd data, logs). If the test process dies without dropping it, the kernel
/// kills the servers (see [`Supervisor`]) and the next start removes the directory.
pub struct ControlPlane {
    // Declared first so it is dropped (processes killed) before the directory is removed.
    supervisor: Supervisor,
    dir: tempfile::TempDir,
    url: String,
    kubeconfig: PathBuf,
    client: Client,
}

/// The fake kubeconfig the API server's delegated authentication, authorization and core-API
/// options insist on. Nothing ever answers at its address, so only client certificates are
/// verified (`k8s.io/apiextensions-apiserver` `test/integration/fixtures/server.go` does the
/// same).
const UNREACHABLE_KUBECONFIG: &str = "apiVersion: v1
kind: Config
clusters: [{name: none, cluster: {server: \"http://127.1.2.3:12345\"}}]
users: [{name: none, user: {username: none, password: none}}]
contexts: [{name: none, context: {cluster: none, user: none}}]
current-context: none
";

/// Admission plugins that need objects this server does not serve (namespaces, webhooks,
/// admission policies). With `NamespaceLifecycle` off, namespaced objects need no Namespace.
const DISABLED_ADMISSION: &str = "NamespaceLifecycle,MutatingAdmissionWebhook,\
ValidatingAdmissionWebhook,ValidatingAdmissionPolicy,MutatingAdmissionPolicy";

impl ControlPlane {
    /// Builds the binaries if they are not cached, then starts etcd and the API server and
    /// waits until `/healthz` answers `ok`.
    ///
    /// `on_build` is told before a build starts (minutes on the first run).
    pub async fn start(
        options: &Options,
        on_build: impl FnMut(&str) + Send + 'static,
    ) -> Result<Self> {
        let installer = options.installer.clone();
        let binaries = tokio::task::spawn_blocking(move || installer.ensure(on_build))
            .await
            .map_err(|e| Error::Io {
                action: "building the binaries in",
                path: options.installer.cache_dir().to_owned(),
                source: std::io::Error::other(e.to_string()),
            })??;
        remove_orphaned_dirs();
        // A port picked free can be taken before the server binds it; try again then.
        let mut attempt = 0;
        loop {
            attempt += 1;
            match Self::start_once(&binaries, options.startup_timeout).await {
                Err(Error::Exited { log_tail, .. })
                    if attempt < 3 && log_tail.contains("address already in use") => {}
                other => return other,
            }
        }
    }

    async fn start_once(binaries: &Binaries, timeout: Duration) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix(DIR_PREFIX)
            .tempdir()
            .map_err(io(
                "creating a temporary directory in",
                std::env::temp_dir(),
            ))?;
        let path = dir.path();
        write(&path.join(OWNER_FILE), &std::process::id().to_string())?;

        let pki = Pki::generate()?;
        for (name, text) in [
            ("ca.crt", &pki.ca.cert),
            ("serving.crt", &pki.serving.cert),
            ("serving.key", &pki.serving.key),
            ("admin.crt", &pki.admin.cert),
            ("admin.key", &pki.admin.key),
        ] {
            write(&path.join(name), text)?;
        }
        write(&path.join("unreachable.kubeconfig"), UNREACHABLE_KUBECONFIG)?;

        let [etcd_client, etcd_peer, secure] = free_ports(path)?;
        let supervisor = Supervisor::new().map_err(io("starting a thread for", path))?;

        let mut etcd = Command::new(&binaries.etcd);
        etcd.arg("--data-dir")
            .arg(path.join("etcd"))
            .arg(format!(
                "--listen-client-url=http://127.0.0.1:{etcd_client}"
            ))
            .arg(format!("--listen-peer-url=http://127.0.0.1:{etcd_peer}"));
        spawn(
            &supervisor,
            "etcd",
            etcd,
            &binaries.etcd,
            &path.join("etcd.log"),
        )?;

        let mut apiserver = Command::new(&binaries.apiserver);
        apiserver
            .arg(format!("--etcd-servers=http://127.0.0.1:{etcd_client}"))
            .arg("--etcd-prefix=/nim-envtest")
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--secure-port={secure}"))
            .arg(format!(
                "--tls-cert-file={}",
                path.join("serving.crt").display()
            ))
            .arg(format!(
                "--tls-private-key-file={}",
                path.join("serving.key").display()
            ))
            .arg(format!(
                "--client-ca-file={}",
                path.join("ca.crt").display()
            ))
            .arg("--authentication-skip-lookup")
            .arg(format!(
                "--authentication-kubeconfig={}",
                path.join("unreachable.kubeconfig").display()
            ))
            .arg(format!(
                "--authorization-kubeconfig={}",
                path.join("unreachable.kubeconfig").display()
            ))
            .arg(format!(
                "--kubeconfig={}",
                path.join("unreachable.kubeconfig").display()
            ))
            // Priority and fairness needs its own API objects, which this server lacks.
            .arg("--enable-priority-and-fairness=false")
            .arg(format!("--disable-admission-plugins={DISABLED_ADMISSION}"));
        spawn(
            &supervisor,
            "apiextensions-apiserver",
            apiserver,
            &binaries.apiserver,
            &path.join("apiserver.log"),
        )?;

        let url = format!("https://127.0.0.1:{secure}");
        let kubeconfig = path.join("kubeconfig");
        write(&kubeconfig, &kubeconfig_yaml(&url, path))?;
        let client = client_from(&kubeconfig).await?;
        wait_healthy(&client, &supervisor, path, timeout).await?;
        Ok(Self {
            supervisor,
            dir,
            url,
            kubeconfig,
            client,
        })
    }

    /// A kube client authenticated as `system:masters`.
    pub fn client(&self) -> Client {
        self.client.clone()
    }

    /// The API server's URL, `https://127.0.0.1:<port>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The kubeconfig file (for kubectl or another client), valid while `self` lives.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The temporary directory holding certificates, data and logs.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The last `lines` lines the API server logged.
    pub fn apiserver_log(&self, lines: usize) -> String {
        read_tail(&self.dir.path().join("apiserver.log"), lines)
    }

    /// Whether a server process has exited, and how.
    pub fn exited(&self) -> Option<(&'static str, std::process::ExitStatus)> {
        ["etcd", "apiextensions-apiserver"]
            .into_iter()
            .find_map(|name| self.supervisor.exit_status(name).map(|s| (name, s)))
    }
}

impl std::fmt::Debug for ControlPlane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlPlane")
            .field("url", &self.url)
            .field("dir", &self.dir.path())
            .field("supervisor", &self.supervisor)
            .finish_non_exhaustive()
    }
}

fn write(path: &Path, text: &str) -> Result<()> {
    fs::write(path, text).map_err(io("writing", path))
}

fn read_tail(path: &Path, lines: usize) -> String {
    fs::read_to_string(path).map_or_else(
        |e| format!("({}: {e})", path.display()),
        |t| tail(&t, lines),
    )
}

/// Ports that were free a moment ago: all bound at once, so they are distinct.
fn free_ports(dir: &Path) -> Result<[u16; 3]> {
    let bind = || TcpListener::bind("127.0.0.1:0").map_err(io("binding a loopback port for", dir));
    let listeners = [bind()?, bind()?, bind()?];
    let mut ports = [0; 3];
    for (port, listener) in ports.iter_mut().zip(&listeners) {
        *port = listener
            .local_addr()
            .map_err(io("reading the bound port for", dir))?
            .port();
    }
    Ok(ports)
}

fn spawn(
    supervisor: &Supervisor,
    name: &'static str,
    mut command: Command,
    program: &Path,
    log: &Path,
) -> Result<()> {
    let file = fs::File::create(log).map_err(io("creating", log))?;
    let err = file.try_clone().map_err(io("opening", log))?;
    command.stdin(Stdio::null()).stdout(file).stderr(err);
    supervisor
        .spawn(name, command)
        .map(drop)
        .map_err(|source| Error::Spawn {
            name,
            program: program.to_owned(),
            source,
        })
}

fn kubeconfig_yaml(url: &str, dir: &Path) -> String {
    let file = |name: &str| dir.join(name).display().to_string();
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: nim-envtest
  cluster:
    server: {url}
    certificate-authority: {ca}
users:
- name: nim-envtest-admin
  user:
    client-certificate: {cert}
    client-key: {key}
contexts:
- name: nim-envtest
  context:
    cluster: nim-envtest
    user: nim-envtest-admin
current-context: nim-envtest
",
        ca = file("ca.crt"),
        cert = file("admin.crt"),
        key = file("admin.key"),
    )
}

async fn client_from(kubeconfig: &Path) -> Result<Client> {
    let fail = |message: String| Error::Client {
        path: kubeconfig.to_owned(),
        message,
    };
    let parsed = Kubeconfig::read_from(kubeconfig).map_err(|e| fail(e.to_string()))?;
    let config = kube::Config::from_custom_kubeconfig(parsed, &KubeConfigOptions::default())
        .await
        .map_err(|e| fail(e.to_string()))?;
    Client::try_from(config).map_err(|e| fail(e.to_string()))
}

async fn wait_healthy(
    client: &Client,
    supervisor: &Supervisor,
    dir: &Path,
    timeout: Duration,
) -> Result<()> {
    let started = Instant::now();
    loop {
        for (name, log) in [
            ("etcd", "etcd.log"),
            ("apiextensions-apiserver", "apiserver.log"),
        ] {
            if let Some(status) = supervisor.exit_status(name) {
                return Err(Error::Exited {
                    name,
                    status,
                    log_tail: read_tail(&dir.join(log), 40),
                });
            }
        }
        let last = match http::Request::get("/healthz").body(Vec::new()) {
            Ok(request) => match client.request_text(request).await {
                Ok(body) if body == "ok" => return Ok(()),
                Ok(body) => body,
                Err(error) => error.to_string(),
            },
            Err(error) => error.to_string(),
        };
        if started.elapsed() > timeout {
            return Err(Error::NotHealthy {
                seconds: timeout.as_secs(),
                last,
                log_tail: read_tail(&dir.join("apiserver.log"), 40),
            });
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Removes temporary directories left by harness processes that no longer exist (killed
/// before they could clean up).
fn remove_orphaned_dirs() {
    if !Path::new("/proc/self").exists() {
        return; // no way to tell a live owner from a dead one
    }
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_string_lossy().starts_with(DIR_PREFIX) {
            continue;
        }
        let path = entry.path();
        let Ok(owner) = fs::read_to_string(path.join(OWNER_FILE)) else {
            continue;
        };
        let alive = owner
            .trim()
            .parse::<u32>()
            .map_or(true, |pid| Path::new(&format!("/proc/{pid}")).exists());
        if !alive {
            let _ = fs::remove_dir_all(&path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubeconfig_names_the_server_and_the_client_certificate() {
        let yaml = kubeconfig_yaml("https://127.0.0.1:6443", Path::new("/run/x"));
        let parsed = Kubeconfig::from_yaml(&yaml).expect("a kubeconfig kube reads");
        let cluster = parsed.clusters[0].cluster.as_ref().expect("cluster");
        assert_eq!(cluster.server.as_deref(), Some("https://127.0.0.1:6443"));
        assert_eq!(
            cluster.certificate_authority.as_deref(),
            Some("/run/x/ca.crt")
        );
        let user = parsed.auth_infos[0].auth_info.as_ref().expect("user");
        assert_eq!(user.client_certificate.as_deref(), Some("/run/x/admin.crt"));
        assert_eq!(parsed.current_context.as_deref(), Some("nim-envtest"));
    }

    #[test]
    fn free_ports_are_distinct() {
        let [a, b, c] = free_ports(Path::new(".")).expect("loopback ports");
        assert!(a != b && b != c && a != c && a > 0);
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn orphaned_dirs_of_dead_owners_are_removed() {
        let dead = tempfile::Builder::new()
            .prefix(DIR_PREFIX)
            .tempdir()
            .expect("dir");
        let live = tempfile::Builder::new()
            .prefix(DIR_PREFIX)
            .tempdir()
            .expect("dir");
        // pid_max is at most 2^22 on Linux, so this pid never exists.
        fs::write(dead.path().join(OWNER_FILE), "99999999").expect("write");
        fs::write(live.path().join(OWNER_FILE), std::process::id().to_string()).expect("write");
        remove_orphaned_dirs();
        assert!(!dead.path().exists(), "a dead owner's directory is removed");
        assert!(live.path().exists(), "a live owner's directory is kept");
    }

    #[test]
    fn default_cache_is_the_workspace_envtest_dir() {
        let options = Options::default();
        assert!(
            options
                .installer
                .cache_dir()
                .ends_with("nim-envtest/../.envtest")
        );
        assert_eq!(options.startup_timeout, Duration::from_secs(60));
    }
}
