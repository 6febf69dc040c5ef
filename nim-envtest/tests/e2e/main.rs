//! End-to-end tests of the nim-crds types against a real API server.
//!
//! A plain `libtest` harness cannot share one server between tests and still tear it down:
//! statics are never dropped. So this is a small harness of its own (`harness = false`): it
//! starts one [`ControlPlane`] on the main thread, runs every case against it (each in a
//! namespace of its own), prints one line per case as libtest does, drops the control plane
//! and exits non-zero if any case failed.
//!
//! * Arguments that do not start with `-` filter cases by substring; `--list` lists them.
//! * `NIM_ENVTEST=require` (set by `.ci/run`) makes a missing Go toolchain or a server that
//!   will not start a failure; `NIM_ENVTEST=skip` skips the suite; unset, the suite runs when
//!   Go is installed (or the binaries are cached) and otherwise prints why it skips.
//! * `NIM_ENVTEST_DIR` overrides the cache directory (default `.envtest/` at the workspace
//!   root).

// Test code: a failed expectation is a failed case, reported by the harness.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::exit)]

mod cel;
mod corpus;
mod crds;
mod objects;
mod status;
mod support;
mod watch;

use std::panic::AssertUnwindSafe;
use std::process::ExitCode;
use std::time::Instant;

use futures::FutureExt;
use nim_envtest::{ControlPlane, Options};

use support::{Case, Ctx};

fn cases() -> Vec<Case> {
    vec![
        // First: every other case needs the CRDs.
        case!(crds::apply_and_establish),
        case!(crds::published_schema_matches_ours),
        case!(objects::round_trip_with_server_defaults),
        case!(objects::documented_defaults_are_the_servers),
        case!(objects::unknown_fields_are_rejected),
        case!(cel::each_rule_rejects_with_its_message),
        case!(cel::transition_rules_reject_updates),
        case!(status::status_subresource),
        case!(watch::watcher_sees_events_in_order),
        case!(corpus::validate_agrees_with_the_server),
    ]
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let filters: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let selected: Vec<Case> = cases()
        .into_iter()
        .filter(|c| filters.is_empty() || filters.iter().any(|f| c.name.contains(f)))
        .collect();
    if args.iter().any(|a| a == "--list") {
        for case in &selected {
            println!("{}: test", case.name);
        }
        return ExitCode::SUCCESS;
    }

    let mode = std::env::var("NIM_ENVTEST").unwrap_or_default();
    let mut options = Options::default();
    if let Some(dir) = std::env::var_os("NIM_ENVTEST_DIR") {
        options = Options::new(dir);
    }
    match mode.as_str() {
        "skip" => return skip("NIM_ENVTEST=skip"),
        "require" | "" => {}
        other => {
            eprintln!("NIM_ENVTEST={other:?}: expected `require`, `skip` or unset");
            return ExitCode::FAILURE;
        }
    }
    if !options.installer.is_cached()
        && let Err(error) = options.installer.go_version()
    {
        if mode == "require" {
            eprintln!("e2e: NIM_ENVTEST=require, but {error}");
            return ExitCode::FAILURE;
        }
        return skip(&format!(
            "{error}. Install Go (it fetches modules from the Go module proxy), or run \
             .ci/run, which installs Go when it is missing and requires this suite"
        ));
    }

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("e2e: cannot start a tokio runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(&options, selected))
}

fn skip(reason: &str) -> ExitCode {
    println!("\nrunning 0 tests (nim-envtest e2e suite skipped: {reason})\n");
    ExitCode::SUCCESS
}

async fn run(options: &Options, cases: Vec<Case>) -> ExitCode {
    let started = Instant::now();
    let plane = match ControlPlane::start(options, |step| eprintln!("e2e: {step}")).await {
        Ok(plane) => plane,
        Err(error) => {
            eprintln!("e2e: the control plane did not start: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "\nrunning {} tests against {} (started in {:.1}s)",
        cases.len(),
        plane.url(),
        started.elapsed().as_secs_f64()
    );

    let mut failed = Vec::new();
    for case in &cases {
        let ctx = Ctx::new(plane.client(), case.name);
        let started = Instant::now();
        let outcome = AssertUnwindSafe((case.run)(ctx)).catch_unwind().await;
        let seconds = started.elapsed().as_secs_f64();
        match outcome {
            Ok(Ok(())) => println!("test {} ... ok ({seconds:.1}s)", case.name),
            Ok(Err(error)) => {
                println!("test {} ... FAILED ({seconds:.1}s)", case.name);
                failed.push((case.name, error.to_string()));
            }
            Err(panic) => {
                println!("test {} ... FAILED ({seconds:.1}s)", case.name);
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_else(|| "panicked".to_owned());
                failed.push((case.name, message));
            }
        }
    }

    if let Some((name, status)) = plane.exited() {
        failed.push((
            "control plane",
            format!("{name} exited with {status} during the run"),
        ));
    }
    if !failed.is_empty() {
        println!("\nfailures:");
        for (name, message) in &failed {
            println!("\n---- {name} ----\n{message}");
        }
        println!(
            "\n---- apiextensions-apiserver log (last 30 lines) ----\n{}",
            plane.apiserver_log(30)
        );
    }
    let result = if failed.is_empty() { "ok" } else { "FAILED" };
    println!(
        "\ntest result: {result}. {} passed; {} failed; finished in {:.1}s\n",
        cases.len() - failed.len().min(cases.len()),
        failed.len(),
        started.elapsed().as_secs_f64()
    );
    drop(plane);
    if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
