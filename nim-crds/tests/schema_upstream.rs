//! The generated CRDs against the NVIDIA NIM Operator's published CRDs.
//!
//! * [`generated_crds_match_upstream`]: every CRD of `nim_crds::crds()` equals the operator's
//!   CRD of the same kind in `tests/data/upstream/` structurally (descriptions ignored; see
//!   `support::schema_diff`), except for the differences accepted, with a reason, in
//!   `SCHEMA-DIFFERENCES.md`; and every accepted difference still occurs.
//! * [`generated_crds_snapshot`]: the generated CRDs, as YAML, equal
//!   `tests/data/generated/crds.yaml`; run with `NIM_CRDS_BLESS=1` to rewrite that file.
//! * [`generated_yaml_parses_back_to_the_same_crds`]: that YAML reads back unchanged.
//! * [`upstream_crds_round_trip_through_k8s_openapi`]: the comparator finds nothing between
//!   an upstream CRD and itself after a round trip through the k8s-openapi types, and finds
//!   a change made to it.

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::{Value, json};

use support::differences_md::{self, Triage};
use support::schema_diff::{self, Difference};

/// Every kind with the file name of its upstream manifest in `tests/data/upstream/`.
const UPSTREAM: [(&str, &str); 4] = [
    ("NIMCache", "apps.nvidia.com_nimcaches.yaml"),
    ("NIMService", "apps.nvidia.com_nimservices.yaml"),
    ("NIMPipeline", "apps.nvidia.com_nimpipelines.yaml"),
    ("NIMBuild", "apps.nvidia.com_nimbuilds.yaml"),
];
/// The file that lists the accepted differences, relative to the crate root.
const DIFFERENCES_FILE: &str = "SCHEMA-DIFFERENCES.md";
/// The snapshot of the generated CRDs, relative to the crate root.
const SNAPSHOT_FILE: &str = "tests/data/generated/crds.yaml";
/// Set to `1` to rewrite the snapshot instead of comparing against it.
const BLESS_VAR: &str = "NIM_CRDS_BLESS";

fn crate_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn read(path: &Path) -> String {
    fs::read_to_string(path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}

/// The upstream CRD manifest `file` as JSON.
fn upstream_crd(file: &str) -> Value {
    let path = crate_path("tests/data/upstream").join(file);
    serde_saphyr::from_str(&read(&path))
        .unwrap_or_else(|error| panic!("{}: invalid YAML: {error}", path.display()))
}

fn to_json(crd: &CustomResourceDefinition) -> Value {
    serde_json::to_value(crd).unwrap_or_else(|error| {
        panic!(
            "cannot serialize the CRD of kind {}: {error}",
            crd.spec.names.kind
        )
    })
}

#[test]
fn generated_crds_match_upstream() {
    let mut problems = Vec::new();
    let mut ours = BTreeMap::new();
    for crd in nim_crds::crds() {
        let kind = crd.spec.names.kind.clone();
        if ours.insert(kind.clone(), to_json(&crd)).is_some() {
            problems.push(format!(
                "nim_crds::crds() returns more than one CRD of kind {kind}"
            ));
        }
    }
    let mut differences = BTreeMap::new();
    for (kind, file) in UPSTREAM {
        let upstream = upstream_crd(file);
        match ours.remove(kind) {
            Some(ours) => {
                differences.insert(kind.to_owned(), schema_diff::diff_crd(&ours, &upstream));
            }
            None => problems.push(format!("nim_crds::crds() returns no CRD of kind {kind}")),
        }
    }
    for kind in ours.keys() {
        problems.push(format!(
            "nim_crds::crds() returns a CRD of kind {kind}, which has no upstream manifest"
        ));
    }
    let differences_path = crate_path(DIFFERENCES_FILE);
    let acceptances = differences_md::parse(&read(&differences_path))
        .unwrap_or_else(|error| panic!("{}: {error}", differences_path.display()));
    let triage = differences_md::triage(&acceptances, &differences);
    assert!(
        problems.is_empty() && triage.is_clean(),
        "{}",
        report(&problems, &triage)
    );
}

/// The failure message of [`generated_crds_match_upstream`].
fn report(problems: &[String], triage: &Triage<'_>) -> String {
    let mut lines = vec![
        "nim_crds::crds() does not match the NIM Operator CRDs in nim-crds/tests/data/upstream/ \
         (descriptions are ignored)."
            .to_owned(),
    ];
    if !problems.is_empty() {
        lines.push(String::new());
        lines.extend(problems.iter().cloned());
    }
    for (kind, differences) in &triage.unaccepted {
        lines.push(String::new());
        lines.push(format!(
            "{kind}: {} unaccepted difference(s):",
            differences.len()
        ));
        lines.extend(
            differences
                .iter()
                .map(|difference| format!("  {difference}")),
        );
    }
    if !triage.stale.is_empty() {
        lines.push(String::new());
        lines.push(format!(
            "Stale rows in {DIFFERENCES_FILE} (they accept no current difference; delete or fix them):"
        ));
        lines.extend(triage.stale.iter().map(|row| format!("  {row}")));
    }
    let example = triage
        .unaccepted
        .iter()
        .find_map(|(kind, differences)| Some((kind, differences.first()?)));
    if let Some((kind, Difference { path, key, .. })) = example {
        lines.push(String::new());
        lines.push(format!(
            "Fix the types in nim-crds/src so that the generated schema matches upstream. If a \
             difference is intended, add a row with its justification to nim-crds/{DIFFERENCES_FILE}, \
             with the path and key exactly as printed above, e.g.\n  \
             | {kind} | `{path}` | `{key}` | <why this difference is acceptable> |"
        ));
    }
    lines.join("\n")
}

#[test]
fn generated_crds_snapshot() {
    let rendered = nim_crds::crds()
        .iter()
        .map(|crd| {
            serde_saphyr::to_string(crd).unwrap_or_else(|error| {
                panic!(
                    "cannot render the CRD of kind {} as YAML: {error}",
                    crd.spec.names.kind
                )
            })
        })
        .collect::<Vec<_>>()
        .join("---\n");
    let path = crate_path(SNAPSHOT_FILE);
    if std::env::var_os(BLESS_VAR).is_some_and(|value| value == "1") {
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)
                .unwrap_or_else(|error| panic!("cannot create {}: {error}", parent.display()));
        }
        fs::write(&path, &rendered)
            .unwrap_or_else(|error| panic!("cannot write {}: {error}", path.display()));
        return;
    }
    let bless = format!("{BLESS_VAR}=1 cargo test -p nim-crds --test schema_upstream");
    let expected = match fs::read_to_string(&path) {
        // Tolerate a checkout that converted line endings.
        Ok(text) => text.replace("\r\n", "\n"),
        Err(error) if error.kind() == ErrorKind::NotFound => panic!(
            "{} is missing; run `{bless}` to create it, review it and check it in",
            path.display()
        ),
        Err(error) => panic!("cannot read {}: {error}", path.display()),
    };
    assert!(
        rendered == expected,
        "the generated CRDs differ from {}: {}\nIf the change is intended, run `{bless}`, \
         review the diff of the file and check it in.",
        path.display(),
        first_difference(&rendered, &expected)
    );
}

#[test]
fn generated_yaml_parses_back_to_the_same_crds() {
    let crds = nim_crds::crds();
    for crd in &crds {
        let kind = &crd.spec.names.kind;
        let yaml = serde_saphyr::to_string(crd).unwrap_or_else(|error| {
            panic!("cannot render the CRD of kind {kind} as YAML: {error}")
        });
        let parsed: Value = serde_saphyr::from_str(&yaml).unwrap_or_else(|error| {
            panic!("the YAML of the CRD of kind {kind} does not parse: {error}")
        });
        assert!(
            parsed == to_json(crd),
            "the YAML of the CRD of kind {kind} parses to a different document"
        );
    }
}

/// Describes the first line where `actual` and `expected` differ.
fn first_difference(actual: &str, expected: &str) -> String {
    let (mut actual_lines, mut expected_lines) = (actual.lines(), expected.lines());
    let mut number = 1;
    loop {
        match (actual_lines.next(), expected_lines.next()) {
            (Some(a), Some(e)) if a == e => number += 1,
            (None, None) => return "they differ only in trailing line breaks".to_owned(),
            (a, e) => {
                return format!(
                    "first difference at line {number}:\n  generated: {}\n  snapshot:  {}",
                    a.unwrap_or("<end of output>"),
                    e.unwrap_or("<end of file>")
                );
            }
        }
    }
}

#[test]
fn upstream_crds_round_trip_through_k8s_openapi() {
    for (kind, file) in UPSTREAM {
        let upstream = upstream_crd(file);
        let typed: CustomResourceDefinition = serde_json::from_value(upstream.clone())
            .unwrap_or_else(|error| panic!("{file} is not a valid CRD: {error}"));
        let mut round_tripped = to_json(&typed);
        assert_eq!(
            schema_diff::diff_crd(&round_tripped, &upstream),
            vec![],
            "{kind}: the comparator reports differences between a CRD and itself"
        );
        // A change deep in a real document is found, and only that change.
        let spec = round_tripped
            .pointer_mut("/spec/versions/0/schema/openAPIV3Schema/properties/spec")
            .and_then(Value::as_object_mut)
            .unwrap_or_else(|| panic!("{kind}: the schema has no spec object"));
        spec.remove("type");
        let added = spec
            .get_mut("properties")
            .and_then(Value::as_object_mut)
            .map(|properties| properties.insert("zzAdded".to_owned(), json!({ "type": "string" })));
        assert_eq!(
            added,
            Some(None),
            "{kind}: spec has properties and no zzAdded"
        );
        let found: Vec<(String, String)> = schema_diff::diff_crd(&round_tripped, &upstream)
            .into_iter()
            .map(|difference| (difference.path, difference.key))
            .collect();
        assert_eq!(
            found,
            [("spec", "type"), ("spec.zzAdded", "extra-in-ours")]
                .map(|(path, key)| (path.to_owned(), key.to_owned())),
            "{kind}"
        );
    }
}
