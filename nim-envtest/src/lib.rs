//! A real Kubernetes API server for nim-rs tests, in the spirit of controller-runtime's envtest.
//!
//! Client-side checks are not proof: the API server decides whether a CRD is structural,
//! whether its CEL rules compile within the cost budget, what it defaults and prunes, and which
//! objects it rejects. This crate builds `k8s.io/apiextensions-apiserver` (the CRD half of
//! kube-apiserver, runnable on its own) and an embedded etcd from their Go modules, caches the
//! binaries, and starts both on free loopback ports with fresh certificates:
//!
//! 1. [`Installer`] runs `go install k8s.io/apiextensions-apiserver@v0.34.13` and `go build`s
//!    the embedded etcd once, into `.envtest/bin` (see [`install`] for why these two).
//! 2. [`Pki`] makes a CA, a serving certificate for `127.0.0.1` and a client certificate in
//!    `system:masters`.
//! 3. [`ControlPlane::start`] starts etcd and the API server, waits until `/healthz` says `ok`,
//!    writes a kubeconfig and hands out a [`kube::Client`]. Dropping it kills both processes
//!    and removes every file it wrote.
//!
//! It is a test-support crate of this workspace (`publish = false`); the end-to-end suite that
//! uses it is `nim-envtest/tests/e2e`.
//!
//! ```no_run
//! # async fn demo() -> nim_envtest::Result<()> {
//! use nim_envtest::{ControlPlane, Options};
//!
//! let plane = ControlPlane::start(&Options::default(), |step| eprintln!("{step}")).await?;
//! let crds: kube::Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> =
//!     kube::Api::all(plane.client());
//! println!("{} CRDs on {}", crds.list(&Default::default()).await.map_or(0, |l| l.items.len()), plane.url());
//! # Ok(()) }
//! ```

pub mod control_plane;
pub mod error;
pub mod install;
pub mod pki;
pub mod supervisor;

pub use control_plane::{ControlPlane, Options};
pub use error::{Error, Result};
pub use install::{Binaries, Installer};
pub use pki::Pki;
pub use supervisor::Supervisor;
