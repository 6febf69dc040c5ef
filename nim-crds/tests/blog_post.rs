//! The lint on `examples/manifests/blog-post.yaml`: a NIMCache and a NIMService as users copy
//! them from a blog post. Every mistake in them must be reported where it is, with a message
//! that says what to write instead, and the JSON rendering of the report must keep its shape.

use nim_crds::Diagnostic;
use nim_crds::lint::{self, Report};
use serde_json::Value;

const BLOG_POST: &str = include_str!("../../examples/manifests/blog-post.yaml");
const PATH: &str = "examples/manifests/blog-post.yaml";

fn report() -> Report {
    lint::lint_str(PATH, BLOG_POST)
}

/// The diagnostics of the document of `kind`.
fn diagnostics<'a>(report: &'a Report, kind: &str) -> &'a [Diagnostic] {
    let documents = &report
        .files
        .first()
        .expect("the report has the one file linted")
        .documents;
    &documents
        .iter()
        .find(|d| d.kind == kind)
        .unwrap_or_else(|| panic!("no {kind} document in {documents:?}"))
        .diagnostics
}

/// The one diagnostic at `path` with `code`.
fn find<'a>(diagnostics: &'a [Diagnostic], path: &str, code: &str) -> &'a Diagnostic {
    let matching: Vec<_> = diagnostics
        .iter()
        .filter(|d| d.path == path && d.code == code)
        .collect();
    assert_eq!(
        matching.len(),
        1,
        "expected one {code} at {path}, found {matching:?} among {diagnostics:#?}"
    );
    matching[0]
}

#[test]
fn the_two_documents_are_read() {
    let report = report();
    assert_eq!(report.files.len(), 1);
    assert_eq!(report.files[0].path, PATH);
    let documents: Vec<_> = report.files[0]
        .documents
        .iter()
        .map(|d| (d.kind.as_str(), d.name.as_str()))
        .collect();
    assert_eq!(
        documents,
        [
            ("NIMCache", "llama-3-1-70b-cache"),
            ("NIMService", "llama-3-1-70b")
        ]
    );
}

#[test]
fn nimcache_model_outside_source_ngc() {
    let report = report();
    let cache = diagnostics(&report, "NIMCache");
    let model = find(cache, "spec.model", "unknown-field");
    assert!(model.is_error());
    assert!(
        model.message.contains("source.ngc.model"),
        "{}",
        model.message
    );
}

#[test]
fn nimcache_without_source() {
    let report = report();
    let cache = diagnostics(&report, "NIMCache");
    let required = find(cache, "spec", "required");
    assert!(required.is_error());
    assert!(required.message.contains("source"), "{}", required.message);
}

#[test]
fn nimcache_repo_name_and_tag() {
    let report = report();
    let cache = diagnostics(&report, "NIMCache");
    for field in ["repoName", "tag"] {
        let diagnostic = find(cache, &format!("spec.model.{field}"), "unknown-field");
        assert!(diagnostic.is_error());
        assert!(diagnostic.message.contains(field), "{}", diagnostic.message);
        // Says where the image goes in a NIMCache.
        assert!(
            diagnostic.message.contains("modelPuller"),
            "{}",
            diagnostic.message
        );
    }
}

#[test]
fn nimcache_access_mode() {
    let report = report();
    let cache = diagnostics(&report, "NIMCache");
    let access_mode = find(cache, "spec.storage.pvc.accessMode", "unknown-field");
    assert!(access_mode.is_error());
    assert!(
        access_mode.message.contains("volumeAccessMode"),
        "{}",
        access_mode.message
    );
}

#[test]
fn nimcache_resource_limits() {
    let report = report();
    let cache = diagnostics(&report, "NIMCache");
    let limits = find(cache, "spec.resources.limits", "unknown-field");
    assert!(limits.is_error());
    for field in ["cpu", "memory"] {
        assert!(limits.message.contains(field), "{}", limits.message);
    }
}

#[test]
fn nimservice_pull_secrets_as_objects() {
    let report = report();
    let service = diagnostics(&report, "NIMService");
    let secret = find(service, "spec.image.pullSecrets[0]", "type-mismatch");
    assert!(secret.is_error());
    // Says how to write the entry.
    assert!(
        secret.message.contains("ngc-registry-secret"),
        "{}",
        secret.message
    );
}

#[test]
fn nimservice_probes_without_wrapper() {
    let report = report();
    let service = diagnostics(&report, "NIMService");
    for probe in ["readinessProbe", "startupProbe"] {
        let diagnostic = find(service, &format!("spec.{probe}"), "probe-not-wrapped");
        assert!(diagnostic.is_error());
        assert!(
            diagnostic.message.contains("enabled: true, probe:"),
            "{}",
            diagnostic.message
        );
        // The fields written under the probe are not reported again as unknown fields.
        assert!(
            !service
                .iter()
                .any(|d| d.code == "unknown-field" && d.path.starts_with(&format!("spec.{probe}."))),
            "{service:#?}"
        );
    }
}

#[test]
fn the_report_has_errors() {
    let report = report();
    assert!(report.has_errors());
    // One per mistake listed above (eight), at least.
    assert!(report.error_count() >= 8, "{report}");
}

/// Checks that `value` is an object with exactly the keys `required`, plus any of `optional`.
fn assert_keys(value: &Value, required: &[&str], optional: &[&str]) {
    let object = value
        .as_object()
        .unwrap_or_else(|| panic!("expected an object, found {value}"));
    for key in required {
        assert!(object.contains_key(*key), "`{key}` missing in {value}");
    }
    for key in object.keys() {
        assert!(
            required.contains(&key.as_str()) || optional.contains(&key.as_str()),
            "unexpected key `{key}` in {value}"
        );
    }
}

fn as_array<'a>(value: &'a Value, key: &str) -> &'a Vec<Value> {
    value[key]
        .as_array()
        .unwrap_or_else(|| panic!("`{key}` is not an array in {value}"))
}

#[test]
fn json_rendering_has_the_documented_shape() {
    let report = report();
    let json = serde_json::to_value(&report).unwrap();
    assert_keys(&json, &["files"], &[]);
    let files = as_array(&json, "files");
    assert_eq!(files.len(), 1);
    let mut seen = 0;
    for file in files {
        assert_keys(file, &["path", "documents"], &[]);
        assert_eq!(file["path"], PATH);
        let documents = as_array(file, "documents");
        assert_eq!(documents.len(), 2);
        for document in documents {
            assert_keys(document, &["kind", "name", "diagnostics"], &[]);
            assert!(document["kind"].is_string() && document["name"].is_string());
            for diagnostic in as_array(document, "diagnostics") {
                assert_keys(
                    diagnostic,
                    &["severity", "path", "code", "message"],
                    &["line", "column"],
                );
                let severity = diagnostic["severity"].as_str();
                assert!(
                    matches!(severity, Some("error" | "warning")),
                    "{diagnostic}"
                );
                for key in ["path", "code", "message"] {
                    assert!(diagnostic[key].is_string(), "{diagnostic}");
                }
                for key in ["line", "column"] {
                    if let Some(value) = diagnostic.get(key) {
                        assert!(value.is_u64(), "{diagnostic}");
                    }
                }
                seen += 1;
            }
        }
    }
    assert_eq!(
        seen,
        report.error_count() + report.warning_count(),
        "every diagnostic is rendered"
    );
    // The rendering reads back into the same report.
    let back: Report = serde_json::from_value(json).unwrap();
    assert_eq!(back, report);
}
