//! Lints NIM manifests (NIMCache, NIMService, NIMPipeline, NIMBuild).
//!
//! ```sh
//! cargo run --example lint -- examples/manifests/llama-3.1-8b.yaml
//! cargo run --example lint -- --json manifests/*.yaml
//! ```
//!
//! Reads every file given (multi-document YAML), checks each document against the CRD schema,
//! the CRDs' CEL rules and the operator's webhook rules, and warns about the mistakes that cost
//! NIM deployments days. Prints one line per finding (or, with `--json`, one JSON object:
//! `{"files":[{"path":..,"documents":[{"kind":..,"name":..,"diagnostics":[{"severity":..,
//! "path":..,"code":..,"message":..}]}]}]}`). Exit status: 0 when no error was found (warnings
//! allowed), 1 when any error was found, 2 on bad usage.

use std::process::ExitCode;

const USAGE: &str = "usage: lint [--json] FILE...";

fn main() -> ExitCode {
    let mut json = false;
    let mut files = Vec::new();
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--json" => json = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            flag if flag.starts_with('-') && flag != "-" => {
                eprintln!("lint: unknown flag `{flag}`\n{USAGE}");
                return ExitCode::from(2);
            }
            _ => files.push(arg),
        }
    }
    if files.is_empty() {
        eprintln!("lint: no file given\n{USAGE}");
        return ExitCode::from(2);
    }
    let report = nim_crds::lint::lint_files(&files);
    if json {
        match serde_json::to_string_pretty(&report) {
            Ok(text) => println!("{text}"),
            Err(error) => {
                eprintln!("lint: cannot render the report: {error}");
                return ExitCode::from(2);
            }
        }
    } else {
        println!("{report}");
    }
    if report.has_errors() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
