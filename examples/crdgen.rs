//! Prints the four NIM Operator CRDs as multi-document YAML.
//!
//! ```sh
//! cargo run --example crdgen > crds.yaml
//! kubectl apply --server-side -f crds.yaml
//! ```
//!
//! With `--json`, prints them as a JSON array instead.

use std::process::ExitCode;

fn main() -> ExitCode {
    let json = match std::env::args().nth(1).as_deref() {
        None => false,
        Some("--json") => true,
        Some(other) => {
            eprintln!("crdgen: unknown argument `{other}`; usage: crdgen [--json]");
            return ExitCode::from(2);
        }
    };
    let crds = nim_crds::crds();
    let rendered = if json {
        serde_json::to_string_pretty(&crds).map_err(|e| e.to_string())
    } else {
        nim_crds::crd::to_yaml(&crds).map_err(|e| e.to_string())
    };
    match rendered {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("crdgen: {error}");
            ExitCode::FAILURE
        }
    }
}
