//! Data-driven lint cases: every file in `tests/data/lint/` is linted on its own and its
//! findings are compared with the expectations written at its top.
//!
//! A case file starts with comment lines; among them, one line per expected diagnostic,
//!
//! ```text
//! # expect: <severity> <path> <code>
//! ```
//!
//! (`""` is the empty path, the document itself), or the single line `# expect: none` when the
//! file must lint clean. The rest of the file is one or more YAML documents. Each file is linted
//! with [`lint::lint_files`] alone, so the cross-document checks (a NIMService's NIMCache, its
//! profile, its tag) see the documents of that one file. The multiset of
//! `(severity, path, code)` found must equal the expected one exactly; messages are not
//! compared here (the unit tests and `blog_post.rs` check the important ones).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use nim_crds::lint::{self, Report};

/// Fewer case files than this means the directory was not found or lost its cases.
const MIN_CASES: usize = 25;

/// Codes that some case must expect, so that deleting a case cannot silently drop the only
/// test of a rule: schema codes, CEL, the webhook rules, the lint warnings and the document
/// checks.
const REQUIRED_CODES: &[&str] = &[
    // Schema.
    "unknown-field",
    "type-mismatch",
    "required",
    "enum",
    "pattern",
    "out-of-range",
    "min-length",
    "max-length",
    "duplicate-item",
    "format",
    // CEL.
    "cel-rule",
    // Webhook and controller rules.
    "required-value",
    "storage-exactly-one",
    "nimcache-name-required",
    "invalid-quantity",
    "pvc-name-required",
    "invalid-access-mode",
    "pvc-size-required",
    "invalid-proxy-url",
    "invalid-no-proxy",
    "router-requires-host-domain",
    "grpc-routes-require-grpc-port",
    "load-balancer-with-router",
    "metrics-requires-service-monitor",
    "scale-requires-hpa",
    "invalid-replica-range",
    "resource-claims-forbidden",
    "shared-claim-with-replicas",
    "duplicate-claim",
    "dra-no-devices",
    "dra-count",
    "dra-attribute-value",
    "invalid-semver",
    "duplicate-selector",
    "kserve-multinode",
    "kserve-knative-forbidden",
    "profiles-all-not-alone",
    "profiles-exclude-selectors",
    "invalid-qos-profile",
    "pvc-required",
    "duplicate-service",
    "service-disabled",
    "auth-secret-empty",
    // Lint warnings.
    "storage-not-nimcache",
    "storage-ephemeral",
    "startup-probe-too-short",
    "startup-probe-disabled",
    "hpa-resource-metric",
    "deprecated-expose-ingress",
    "cache-pvc-not-rwx",
    "image-tag-latest",
    "image-tag-mismatch",
    "nimcache-not-found",
    "profile-not-in-cache",
    "probe-not-wrapped",
    // Documents.
    "api-version",
    "unknown-kind",
    "yaml-syntax",
    "not-an-object",
    "invalid-object",
];

/// One `(severity, path, code)` triple.
type Finding = (String, String, String);

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/lint")
}

/// The `.yaml` files of the case directory, sorted by name.
fn case_files() -> Vec<PathBuf> {
    let dir = cases_dir();
    let entries =
        fs::read_dir(&dir).unwrap_or_else(|error| panic!("cannot read {}: {error}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|entry| {
            entry
                .expect("a directory entry of the case directory")
                .path()
        })
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    files.sort();
    files
}

/// The expectations of a case file, sorted; `Err` when the header is malformed.
fn expectations(text: &str) -> Result<Vec<Finding>, String> {
    let mut found = Vec::new();
    let mut none = false;
    for line in text.lines().take_while(|line| line.starts_with('#')) {
        let Some(rest) = line.strip_prefix("# expect:") else {
            continue;
        };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        match fields.as_slice() {
            ["none"] => none = true,
            [severity @ ("error" | "warning"), path, code] => {
                let path = if *path == "\"\"" { "" } else { path };
                found.push(((*severity).to_owned(), path.to_owned(), (*code).to_owned()));
            }
            _ => return Err(format!("malformed expectation line `{line}`")),
        }
    }
    match (none, found.is_empty()) {
        (true, false) => Err("`# expect: none` together with other expectations".to_owned()),
        (false, true) => Err("no `# expect:` line in the leading comments".to_owned()),
        _ => {
            found.sort();
            Ok(found)
        }
    }
}

/// Every `(severity, path, code)` of a report, sorted.
fn findings(report: &Report) -> Vec<Finding> {
    let mut found: Vec<Finding> = report
        .diagnostics()
        .map(|(_, _, d)| (d.severity.to_string(), d.path.clone(), d.code.clone()))
        .collect();
    found.sort();
    found
}

fn render(findings: &[Finding]) -> String {
    if findings.is_empty() {
        return "    (none)\n".to_owned();
    }
    findings
        .iter()
        .map(|(severity, path, code)| {
            let path = if path.is_empty() { "\"\"" } else { path };
            format!("    {severity} {path} {code}\n")
        })
        .collect()
}

#[test]
fn lint_cases() {
    let files = case_files();
    assert!(
        files.len() >= MIN_CASES,
        "expected at least {MIN_CASES} case files in {}, found {}",
        cases_dir().display(),
        files.len()
    );
    let mut failures = String::new();
    let mut expected_codes = BTreeSet::new();
    for file in &files {
        let name = file.file_name().map_or_else(
            || file.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let text = fs::read_to_string(file)
            .unwrap_or_else(|error| panic!("cannot read {}: {error}", file.display()));
        let expected = match expectations(&text) {
            Ok(expected) => expected,
            Err(error) => {
                let _ = writeln!(failures, "{name}: {error}\n");
                continue;
            }
        };
        expected_codes.extend(expected.iter().map(|(_, _, code)| code.clone()));
        let report = lint::lint_files(std::slice::from_ref(file));
        let found = findings(&report);
        if found != expected {
            let messages: String = report
                .diagnostics()
                .map(|(_, _, d)| format!("    {d}\n"))
                .collect();
            let _ = writeln!(
                failures,
                "{name}:\n  expected:\n{}  found:\n{}  messages:\n{messages}",
                render(&expected),
                render(&found),
            );
        }
    }
    let missing: Vec<&str> = REQUIRED_CODES
        .iter()
        .copied()
        .filter(|code| !expected_codes.contains(*code))
        .collect();
    if !missing.is_empty() {
        let _ = writeln!(failures, "no case expects the codes {missing:?}");
    }
    assert!(
        failures.is_empty(),
        "lint cases that do not match their expectations:\n\n{failures}"
    );
}

#[test]
fn every_case_file_has_a_valid_header() {
    for file in case_files() {
        let text = fs::read_to_string(&file)
            .unwrap_or_else(|error| panic!("cannot read {}: {error}", file.display()));
        if let Err(error) = expectations(&text) {
            panic!("{}: {error}", file.display());
        }
    }
}

#[test]
fn expectation_parser() {
    let text = "# a comment\n# expect: error \"\" yaml-syntax\n# expect: warning spec.x some-code\nkind: X\n# expect: error not.read code\n";
    assert_eq!(
        expectations(text).unwrap(),
        vec![
            ("error".to_owned(), String::new(), "yaml-syntax".to_owned()),
            (
                "warning".to_owned(),
                "spec.x".to_owned(),
                "some-code".to_owned()
            ),
        ]
    );
    assert_eq!(expectations("# expect: none\n").unwrap(), Vec::new());
    assert!(expectations("# no expectation\nkind: X\n").is_err());
    assert!(expectations("# expect: none\n# expect: error spec code\n").is_err());
    assert!(expectations("# expect: fatal spec code\n").is_err());
    assert!(expectations("# expect: error spec\n").is_err());
}

#[test]
fn yaml_syntax_error_has_line_and_column() {
    let file = cases_dir().join("doc-yaml-syntax.yaml");
    let text = fs::read_to_string(&file)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", file.display()));
    let report = lint::lint_files(std::slice::from_ref(&file));
    let diagnostics: Vec<_> = report.diagnostics().map(|(_, _, d)| d).collect();
    assert_eq!(diagnostics.len(), 1, "{report}");
    let diagnostic = diagnostics[0];
    assert_eq!(diagnostic.code, "yaml-syntax");
    assert_eq!(diagnostic.path, "");
    assert!(diagnostic.is_error());
    let line = diagnostic.line.expect("a YAML syntax error has a line");
    let column = diagnostic.column.expect("a YAML syntax error has a column");
    // 1-based, and inside the file.
    assert!(
        (1..=text.lines().count()).contains(&line),
        "line {line} is outside the file"
    );
    assert!(column >= 1, "column {column} is not 1-based");
    // The file report has one entry with no kind or name.
    let document = &report.files[0].documents[0];
    assert_eq!((document.kind.as_str(), document.name.as_str()), ("", ""));
    // The human-readable rendering places it at file:line:column.
    assert!(
        report
            .to_string()
            .contains(&format!("doc-yaml-syntax.yaml:{line}:{column}:")),
        "{report}"
    );
}

#[test]
fn unreadable_file_is_an_error() {
    let missing = cases_dir().join("no-such-case.yaml");
    let report = lint::lint_files(&[&missing]);
    let found = findings(&report);
    assert_eq!(
        found,
        vec![(
            "error".to_owned(),
            String::new(),
            "unreadable-file".to_owned()
        )]
    );
    assert!(report.has_errors());
}

#[test]
fn cross_document_checks_span_the_sources_of_one_call() {
    let file = cases_dir().join("image-tag-mismatch.yaml");
    let text = fs::read_to_string(&file)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", file.display()));
    // Split the case's two documents into two sources.
    let documents: Vec<&str> = text.split("\n---\n").skip(1).collect();
    assert_eq!(
        documents.len(),
        2,
        "the case has a NIMCache and a NIMService"
    );
    let (cache, service) = (documents[0], documents[1]);
    assert!(cache.contains("kind: NIMCache") && service.contains("kind: NIMService"));

    // Together, the service finds its cache and its differing tag.
    let together = lint::lint_sources(&[
        ("cache.yaml".to_owned(), cache.to_owned()),
        ("service.yaml".to_owned(), service.to_owned()),
    ]);
    let codes: Vec<_> = together
        .diagnostics()
        .map(|(file, _, d)| (file.path.as_str(), d.code.as_str()))
        .collect();
    assert_eq!(
        codes,
        [("service.yaml", "image-tag-mismatch")],
        "{together}"
    );

    // Alone, the service's cache is missing and nothing is known of its tag.
    let alone = lint::lint_str("service.yaml", service);
    let codes: Vec<_> = alone
        .diagnostics()
        .map(|(_, _, d)| d.code.as_str())
        .collect();
    assert_eq!(codes, ["nimcache-not-found"], "{alone}");
    assert!(!alone.has_errors());
    assert_eq!((alone.error_count(), alone.warning_count()), (0, 1));
}
