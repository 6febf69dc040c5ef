//! Lint of NIM manifests: schema and validation errors, and warnings for the mistakes that cost
//! NIM deployments days.
//!
//! [`lint_sources`] reads multi-document YAML of the four kinds and, for every document, reports
//!
//! - what the API server would reject or silently drop: unknown fields (with the nearest real
//!   field), values of the wrong shape, missing required fields, enum, pattern and bound
//!   violations (from the CRD schema), the CRDs' CEL rules, and the operator webhook's rules
//!   (see [`crate::validate`]);
//! - probes written without the operator's `{enabled, probe}` wrapper;
//! - warnings: a NIMService whose storage is not a NIMCache or is `emptyDir`/`hostPath`, a startup
//!   probe that allows less than 15 minutes to load the model, HPA metrics on CPU or memory, the
//!   deprecated `expose.ingress`, a cache PVC that is not ReadWriteMany for a service that can run
//!   several replicas, image tag `latest`, a NIMService image tag that differs from the tag its
//!   NIMCache was filled from;
//! - across documents: a NIMService naming a NIMCache that is not in the set, and a
//!   `storage.nimCache.profile` that is not among the NIMCache's profiles (the "profile miss" that
//!   makes NIM silently load a heavier default).
//!
//! ```
//! use nim_crds::lint;
//!
//! let yaml = r#"
//! apiVersion: apps.nvidia.com/v1alpha1
//! kind: NIMCache
//! metadata: {name: cache}
//! spec:
//!   source:
//!     ngc:
//!       modelPuller: nvcr.io/nim/meta/llama-3.1-8b-instruct:1.8.4
//!       authSecret: ngc-api-secret
//!   storage:
//!     pvc: {create: true, size: 50Gi, accessMode: ReadWriteMany}
//! "#;
//! let report = lint::lint_str("cache.yaml", yaml);
//! let diagnostic = &report.files[0].documents[0].diagnostics[0];
//! assert_eq!(diagnostic.path, "spec.storage.pvc.accessMode");
//! assert_eq!(diagnostic.code, "unknown-field");
//! assert!(diagnostic.message.contains("did you mean `volumeAccessMode`?"));
//! assert!(report.has_errors());
//! ```

use std::{collections::BTreeMap, fmt, path::Path};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{
    Diagnostic, NIMBuild, NIMCache, NIMPipeline, NIMService, NIMServiceSpec, Severity, Validate,
    defaults, validate,
};

/// The result of linting a set of files.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// One entry per file, in the order given.
    pub files: Vec<FileReport>,
}

/// The findings of one file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct FileReport {
    /// The file's path as given.
    pub path: String,
    /// One entry per YAML document (an unreadable file or a syntax error gives one entry with
    /// empty kind and name).
    pub documents: Vec<DocumentReport>,
}

/// The findings of one document.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DocumentReport {
    /// `kind` of the document (empty when it has none).
    pub kind: String,
    /// `metadata.name` of the document (empty when it has none).
    pub name: String,
    /// Errors and warnings, in document order.
    pub diagnostics: Vec<Diagnostic>,
}

impl Report {
    /// Every diagnostic with its file and document.
    pub fn diagnostics(&self) -> impl Iterator<Item = (&FileReport, &DocumentReport, &Diagnostic)> {
        self.files.iter().flat_map(|file| {
            file.documents
                .iter()
                .flat_map(move |doc| doc.diagnostics.iter().map(move |d| (file, doc, d)))
        })
    }

    /// Number of errors.
    pub fn error_count(&self) -> usize {
        self.diagnostics().filter(|(_, _, d)| d.is_error()).count()
    }

    /// Number of warnings.
    pub fn warning_count(&self) -> usize {
        self.diagnostics()
            .filter(|(_, _, d)| d.severity == Severity::Warning)
            .count()
    }

    /// Whether any error was found (the `lint` example exits with status 1 then).
    pub fn has_errors(&self) -> bool {
        self.error_count() > 0
    }
}

/// Human-readable output: one line per diagnostic, `file: document #n Kind/name: path: severity
/// [code]: message`, then a summary line.
impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for file in &self.files {
            for (index, doc) in file.documents.iter().enumerate() {
                for d in &doc.diagnostics {
                    let what = match (doc.kind.as_str(), doc.name.as_str()) {
                        ("", "") => format!("document {}", index + 1),
                        (kind, "") => format!("document {} {kind}", index + 1),
                        (kind, name) => format!("document {} {kind}/{name}", index + 1),
                    };
                    let location = match (d.line, d.column) {
                        (Some(line), Some(column)) => format!("{}:{line}:{column}", file.path),
                        _ => file.path.clone(),
                    };
                    let path = if d.path.is_empty() {
                        "<document>"
                    } else {
                        &d.path
                    };
                    writeln!(
                        f,
                        "{location}: {what}: {path}: {} [{}]: {}",
                        d.severity, d.code, d.message
                    )?;
                }
            }
        }
        write!(
            f,
            "{} file(s), {} error(s), {} warning(s)",
            self.files.len(),
            self.error_count(),
            self.warning_count()
        )
    }
}

/// Lints files; a file that cannot be read is reported as an error in its entry.
pub fn lint_files<P: AsRef<Path>>(paths: &[P]) -> Report {
    let sources: Vec<(String, Result<String, String>)> = paths
        .iter()
        .map(|p| {
            let path = p.as_ref();
            let text = std::fs::read_to_string(path).map_err(|e| e.to_string());
            (path.display().to_string(), text)
        })
        .collect();
    lint_inner(&sources)
}

/// Lints one YAML stream given as a string, named `path` in the report.
pub fn lint_str(path: &str, text: &str) -> Report {
    lint_inner(&[(path.to_owned(), Ok(text.to_owned()))])
}

/// Lints several YAML streams (`(path, text)` pairs) as one set: cross-document checks see
/// every document of every source.
pub fn lint_sources(sources: &[(String, String)]) -> Report {
    let sources: Vec<_> = sources
        .iter()
        .map(|(p, t)| (p.clone(), Ok(t.clone())))
        .collect();
    lint_inner(&sources)
}

/// A NIM object parsed from a document, for the cross-document checks.
enum Parsed {
    Cache(Box<NIMCache>),
    Service(Box<NIMService>),
    Pipeline(Box<NIMPipeline>),
    Build,
    /// A NIMCache that does not parse: it exists, but nothing can be said about it.
    BrokenCache(String),
    Other,
}

fn lint_inner(sources: &[(String, Result<String, String>)]) -> Report {
    let mut report = Report::default();
    // (file index, document index, parsed object)
    let mut parsed: Vec<(usize, usize, Parsed)> = Vec::new();
    for (file_index, (path, text)) in sources.iter().enumerate() {
        let mut file = FileReport {
            path: path.clone(),
            documents: Vec::new(),
        };
        match text {
            Err(error) => file.documents.push(DocumentReport {
                diagnostics: vec![Diagnostic::error(
                    "",
                    "unreadable-file",
                    format!("cannot read {path}: {error}"),
                )],
                ..DocumentReport::default()
            }),
            Ok(text) => match serde_saphyr::from_multiple::<Value>(text) {
                Err(error) => {
                    let (line, column) = error
                        .location()
                        .map_or((0, 0), |l| (to_usize(l.line()), to_usize(l.column())));
                    let message = error.to_string();
                    let message = message.lines().next().unwrap_or("invalid YAML").to_owned();
                    file.documents.push(DocumentReport {
                        diagnostics: vec![
                            Diagnostic::error(
                                "",
                                "yaml-syntax",
                                format!("invalid YAML: {message}"),
                            )
                            .at(line, column),
                        ],
                        ..DocumentReport::default()
                    });
                }
                Ok(documents) => {
                    for value in documents.into_iter().filter(|v| !v.is_null()) {
                        let (doc, object) = lint_document(&value);
                        parsed.push((file_index, file.documents.len(), object));
                        file.documents.push(doc);
                    }
                }
            },
        }
        report.files.push(file);
    }
    cross_document(&mut report, &parsed);
    report
}

fn to_usize(value: u64) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}

fn lint_document(value: &Value) -> (DocumentReport, Parsed) {
    let kind = value
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let name = value
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let mut doc = DocumentReport {
        kind: kind.clone(),
        name,
        diagnostics: Vec::new(),
    };
    if !value.is_object() {
        doc.diagnostics.push(Diagnostic::error(
            "",
            "not-an-object",
            "a Kubernetes manifest must be a YAML mapping",
        ));
        return (doc, Parsed::Other);
    }
    let api_version = value
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let nim_kind = matches!(
        kind.as_str(),
        "NIMCache" | "NIMService" | "NIMPipeline" | "NIMBuild"
    );
    if !nim_kind {
        if api_version.starts_with(defaults::GROUP) {
            doc.diagnostics.push(Diagnostic::warning(
                "kind",
                "unknown-kind",
                format!("kind `{kind}` of {api_version} is not one of NIMCache, NIMService, NIMPipeline, NIMBuild; not checked"),
            ));
        }
        return (doc, Parsed::Other);
    }
    if api_version != defaults::API_VERSION {
        doc.diagnostics.push(Diagnostic::error(
            "apiVersion",
            "api-version",
            format!(
                "apiVersion `{api_version}` must be `{}`",
                defaults::API_VERSION
            ),
        ));
    }
    if doc.name.is_empty() && value.pointer("/metadata/generateName").is_none() {
        doc.diagnostics.push(Diagnostic::error(
            "metadata.name",
            "required",
            "missing metadata.name",
        ));
    }

    let mut schema = validate::schema_diagnostics(&kind, value);
    unwrapped_probes(&kind, value, &mut schema);
    if kind == "NIMCache" {
        image_in_model_hint(&mut schema);
    }
    doc.diagnostics.extend(schema);
    let schema_errors = doc.diagnostics.clone();

    let (parsed, rules) = match kind.as_str() {
        "NIMCache" => typed::<NIMCache>(value, &schema_errors, |c| {
            let mut out = c.validate();
            nimcache_lints(c, &mut out);
            (Parsed::Cache(Box::new(c.clone())), out)
        }),
        "NIMService" => typed::<NIMService>(value, &schema_errors, |s| {
            let mut out = s.validate();
            nimservice_lints(&s.spec, "spec", &mut out);
            (Parsed::Service(Box::new(s.clone())), out)
        }),
        "NIMPipeline" => typed::<NIMPipeline>(value, &schema_errors, |p| {
            let mut out = p.validate();
            for (i, service) in p.spec.services.iter().flatten().enumerate() {
                if let Some(spec) = &service.spec {
                    nimservice_lints(spec, &format!("spec.services[{i}].spec"), &mut out);
                }
            }
            (Parsed::Pipeline(Box::new(p.clone())), out)
        }),
        _ => typed::<NIMBuild>(value, &schema_errors, |b| {
            let mut out = b.validate();
            image_tag_lint(&b.spec.image.tag, "spec.image.tag", &mut out);
            (Parsed::Build, out)
        }),
    };
    match rules {
        Ok(rules) => {
            for d in rules {
                // Schema diagnostics of the typed object repeat those of the document.
                if !doc.diagnostics.contains(&d) {
                    doc.diagnostics.push(d);
                }
            }
        }
        Err(error) => {
            if !doc.diagnostics.iter().any(Diagnostic::is_error) {
                doc.diagnostics
                    .push(Diagnostic::error("", "invalid-object", error));
            }
        }
    }
    let parsed = match parsed {
        Parsed::Other if kind == "NIMCache" => Parsed::BrokenCache(doc.name.clone()),
        other => other,
    };
    (doc, parsed)
}

/// Parses the document as `K` and runs `check` on it. When it does not parse, the values the
/// schema check found wrong are removed (as the API server prunes unknown fields) and the rest
/// is tried, so that the rules still run on what can be understood.
fn typed<K: serde::de::DeserializeOwned>(
    value: &Value,
    schema_errors: &[Diagnostic],
    check: impl FnOnce(&K) -> (Parsed, Vec<Diagnostic>),
) -> (Parsed, Result<Vec<Diagnostic>, String>) {
    let parsed = serde_json::from_value::<K>(value.clone()).or_else(|error| {
        let mut pruned = value.clone();
        let mut removed = false;
        for d in schema_errors
            .iter()
            .filter(|d| d.code == "unknown-field" || d.code == "type-mismatch")
        {
            removed |= remove_at(&mut pruned, &d.path);
        }
        if removed {
            serde_json::from_value::<K>(pruned).map_err(|_| error)
        } else {
            Err(error)
        }
    });
    match parsed {
        Ok(object) => {
            let (parsed, diagnostics) = check(&object);
            (parsed, Ok(diagnostics))
        }
        Err(error) => (
            Parsed::Other,
            Err(format!("the document does not parse: {error}")),
        ),
    }
}

/// Splits a diagnostic path (`a.b[0]."x.y"`) into keys and indices.
fn path_segments(path: &str) -> Option<Vec<Segment>> {
    let mut segments = Vec::new();
    let mut chars = path.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            '.' => {
                chars.next();
            }
            '[' => {
                chars.next();
                let digits: String = chars.by_ref().take_while(|c| *c != ']').collect();
                segments.push(Segment::Index(digits.parse().ok()?));
            }
            '"' => {
                chars.next();
                let mut key = String::new();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => key.extend(chars.next()),
                        '"' => break,
                        c => key.push(c),
                    }
                }
                segments.push(Segment::Key(key));
            }
            _ => {
                let mut key = String::new();
                while let Some(&c) = chars.peek() {
                    if c == '.' || c == '[' {
                        break;
                    }
                    key.push(c);
                    chars.next();
                }
                segments.push(Segment::Key(key));
            }
        }
    }
    Some(segments)
}

enum Segment {
    Key(String),
    Index(usize),
}

/// Removes the value at a diagnostic path; whether something was removed.
fn remove_at(value: &mut Value, path: &str) -> bool {
    let Some(segments) = path_segments(path) else {
        return false;
    };
    let Some((last, parents)) = segments.split_last() else {
        return false;
    };
    let mut node = value;
    for segment in parents {
        let next = match segment {
            Segment::Key(key) => node.get_mut(key.as_str()),
            Segment::Index(i) => node.get_mut(*i),
        };
        match next {
            Some(next) => node = next,
            None => return false,
        }
    }
    match (last, node) {
        (Segment::Key(key), Value::Object(map)) => map.remove(key).is_some(),
        (Segment::Index(i), Value::Array(items)) if *i < items.len() => {
            // Keep the indices of later diagnostics valid.
            items[*i] = Value::Null;
            items.retain(|v| !v.is_null());
            true
        }
        _ => false,
    }
}

/// Fields of a Kubernetes probe: when one sits directly under a NIMService probe, the author
/// forgot the operator's `{enabled, probe}` wrapper.
const PROBE_FIELDS: [&str; 10] = [
    "httpGet",
    "exec",
    "tcpSocket",
    "grpc",
    "initialDelaySeconds",
    "periodSeconds",
    "timeoutSeconds",
    "failureThreshold",
    "successThreshold",
    "terminationGracePeriodSeconds",
];

/// Replaces the unknown-field errors of probes written without the operator's wrapper by one
/// error per probe that says what to write.
fn unwrapped_probes(kind: &str, value: &Value, diagnostics: &mut Vec<Diagnostic>) {
    let mut specs: Vec<(String, &Value)> = Vec::new();
    match kind {
        "NIMService" => specs.extend(value.get("spec").map(|s| ("spec".to_owned(), s))),
        "NIMPipeline" => {
            if let Some(services) = value.pointer("/spec/services").and_then(Value::as_array) {
                for (i, service) in services.iter().enumerate() {
                    if let Some(spec) = service.get("spec") {
                        specs.push((format!("spec.services[{i}].spec"), spec));
                    }
                }
            }
        }
        _ => {}
    }
    for (base, spec) in specs {
        for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
            let Some(object) = spec.get(probe).and_then(Value::as_object) else {
                continue;
            };
            let misplaced: Vec<&str> = PROBE_FIELDS
                .into_iter()
                .filter(|field| object.contains_key(*field))
                .collect();
            if misplaced.is_empty() {
                continue;
            }
            let at = format!("{base}.{probe}");
            diagnostics.retain(|d| {
                !(d.code == "unknown-field"
                    && misplaced
                        .iter()
                        .any(|field| d.path == format!("{at}.{field}")))
            });
            diagnostics.push(Diagnostic::error(
                at.clone(),
                "probe-not-wrapped",
                format!(
                    "{probe} takes the operator's wrapper `{{enabled: true, probe: {{...}}}}`; {} written directly \
                     under {probe} are dropped by the API server and the operator's default probe is used. \
                     Write `{probe}: {{enabled: true, probe: {{{}: ...}}}}`",
                    misplaced.join(", "),
                    misplaced[0]
                ),
            ));
        }
    }
}

/// `repoName` and `tag` are how Helm charts and blog posts name the NIM image; a NIMCache
/// takes it as `source.ngc.modelPuller`.
fn image_in_model_hint(diagnostics: &mut [Diagnostic]) {
    for d in diagnostics.iter_mut().filter(|d| d.code == "unknown-field") {
        if d.path.ends_with("model.repoName") || d.path.ends_with("model.tag") {
            d.message.push_str(
                " A NIMCache names the NIM image that downloads the model as \
                 `spec.source.ngc.modelPuller: nvcr.io/nim/<repoName>:<tag>`.",
            );
        }
    }
}

fn image_tag_lint(tag: &str, path: &str, out: &mut Vec<Diagnostic>) {
    if tag == "latest" {
        out.push(Diagnostic::warning(
            path,
            "image-tag-latest",
            "image tag `latest` changes under you: pin the NIM release (e.g. `1.8.4`) so that the cache, \
             the profile and the service agree",
        ));
    }
}

/// Splits `repo:tag` (a digest or a registry port is not a tag).
fn image_tag(image: &str) -> (&str, Option<&str>) {
    let image = image.split('@').next().unwrap_or(image);
    match image.rsplit_once(':') {
        Some((repo, tag)) if !tag.contains('/') => (repo, Some(tag)),
        _ => (image, None),
    }
}

fn nimcache_lints(cache: &NIMCache, out: &mut Vec<Diagnostic>) {
    if let Some(ngc) = &cache.spec.source.ngc {
        match image_tag(&ngc.model_puller) {
            (_, Some(tag)) => image_tag_lint(tag, "spec.source.ngc.modelPuller", out),
            (_, None) if !ngc.model_puller.is_empty() && !ngc.model_puller.contains('@') => out.push(Diagnostic::warning(
                "spec.source.ngc.modelPuller",
                "image-tag-latest",
                "modelPuller has no tag, so `latest` is pulled: pin the NIM release the NIMService will run",
            )),
            _ => {}
        }
    }
}

fn nimservice_lints(spec: &NIMServiceSpec, base: &str, out: &mut Vec<Diagnostic>) {
    image_tag_lint(&spec.image.tag, &format!("{base}.image.tag"), out);
    if let Some(storage) = &spec.storage {
        let cache_named = storage
            .nim_cache
            .as_ref()
            .and_then(|c| c.name.as_deref())
            .is_some_and(|n| !n.is_empty());
        if !cache_named {
            if storage.empty_dir.is_some() {
                out.push(Diagnostic::warning(
                    format!("{base}.storage.emptyDir"),
                    "storage-ephemeral",
                    "emptyDir storage re-downloads the model weights at every pod start and restart; \
                     cache them in a NIMCache and use storage.nimCache",
                ));
            } else if storage.host_path.as_deref().is_some_and(|h| !h.is_empty()) {
                out.push(Diagnostic::warning(
                    format!("{base}.storage.hostPath"),
                    "storage-ephemeral",
                    "hostPath storage ties the model to one node: a pod moved to another node downloads it again \
                     or fails; use a NIMCache",
                ));
            } else if storage.pvc.is_some() {
                out.push(Diagnostic::warning(
                    format!("{base}.storage.pvc"),
                    "storage-not-nimcache",
                    "the model store is a plain PVC, not a NIMCache: nothing pre-downloads the model or records \
                     which profiles it holds, so the first start downloads it and the profile is not pinned; \
                     use storage.nimCache",
                ));
            }
        }
    }
    startup_probe_lint(spec, base, out);
    if let Some(metrics) = spec
        .scale
        .as_ref()
        .and_then(|s| s.hpa.as_ref())
        .and_then(|h| h.metrics.as_ref())
    {
        for (i, metric) in metrics.iter().enumerate() {
            let resource = metric
                .resource
                .as_ref()
                .map(|r| r.name.as_str())
                .or_else(|| metric.container_resource.as_ref().map(|r| r.name.as_str()));
            if let Some(name @ ("cpu" | "memory")) = resource {
                out.push(Diagnostic::warning(
                    format!("{base}.scale.hpa.metrics[{i}]"),
                    "hpa-resource-metric",
                    format!(
                        "scaling a NIM on {name} does not follow its load: GPU inference keeps CPU and memory flat. \
                         Scale on KV-cache usage (gpu_cache_usage_perc / kv_cache_usage_perc) or queue depth \
                         (num_requests_waiting) through a Pods or External metric"
                    ),
                ));
            }
        }
    }
}

fn startup_probe_lint(spec: &NIMServiceSpec, base: &str, out: &mut Vec<Diagnostic>) {
    let Some(startup) = &spec.startup_probe else {
        return;
    };
    let at = format!("{base}.startupProbe");
    if startup.enabled == Some(false) {
        out.push(Diagnostic::warning(
            format!("{at}.enabled"),
            "startup-probe-disabled",
            "without a startup probe the liveness probe starts while the model loads and restarts the pod; \
             keep the startup probe and give it at least 15 minutes",
        ));
        return;
    }
    let Some(probe) = &startup.probe else {
        return;
    };
    // Kubernetes defaults: initialDelaySeconds 0, failureThreshold 3, periodSeconds 10.
    let delay = i64::from(probe.initial_delay_seconds.unwrap_or(0));
    let failures = i64::from(probe.failure_threshold.unwrap_or(3));
    let period = i64::from(probe.period_seconds.unwrap_or(10));
    let budget = delay + failures * period;
    if budget < defaults::MIN_STARTUP_SECONDS {
        out.push(Diagnostic::warning(
            at,
            "startup-probe-too-short",
            format!(
                "the startup probe allows {budget} s (initialDelaySeconds {delay} + failureThreshold {failures} x \
                 periodSeconds {period}) to load the model; large NIMs need 15 minutes or more to load or build \
                 engines. The operator's default is {} x {} s",
                defaults::STARTUP_PROBE.failure_threshold,
                defaults::STARTUP_PROBE.period_seconds
            ),
        ));
    }
}

/// How many replicas a NIMService spec can run at most.
fn max_replicas(spec: &NIMServiceSpec) -> i32 {
    match spec.scale.as_ref() {
        Some(scale) if scale.enabled == Some(true) => {
            scale.hpa.as_ref().map_or(1, |h| h.max_replicas)
        }
        _ => spec.replicas.unwrap_or(1),
    }
}

fn cross_document(report: &mut Report, parsed: &[(usize, usize, Parsed)]) {
    let broken: Vec<&str> = parsed
        .iter()
        .filter_map(|(_, _, p)| match p {
            Parsed::BrokenCache(name) => Some(name.as_str()),
            _ => None,
        })
        .collect();
    let caches: BTreeMap<&str, Vec<&NIMCache>> =
        parsed.iter().fold(BTreeMap::new(), |mut map, (_, _, p)| {
            if let Parsed::Cache(cache) = p {
                map.entry(cache.metadata.name.as_deref().unwrap_or_default())
                    .or_insert_with(Vec::new)
                    .push(cache.as_ref());
            }
            map
        });
    for (file, doc, object) in parsed {
        let mut found = Vec::new();
        match object {
            Parsed::Service(service) => {
                let namespace = service.metadata.namespace.as_deref();
                service_refs(
                    &service.spec,
                    "spec",
                    namespace,
                    &caches,
                    &broken,
                    &mut found,
                );
            }
            Parsed::Pipeline(pipeline) => {
                let namespace = pipeline.metadata.namespace.as_deref();
                for (i, service) in pipeline.spec.services.iter().flatten().enumerate() {
                    if let Some(spec) = &service.spec {
                        let base = format!("spec.services[{i}].spec");
                        service_refs(spec, &base, namespace, &caches, &broken, &mut found);
                    }
                }
            }
            Parsed::Cache(_) | Parsed::BrokenCache(_) | Parsed::Build | Parsed::Other => {}
        }
        if let Some(document) = report
            .files
            .get_mut(*file)
            .and_then(|f| f.documents.get_mut(*doc))
        {
            document.diagnostics.extend(found);
        }
    }
}

fn service_refs(
    spec: &NIMServiceSpec,
    base: &str,
    namespace: Option<&str>,
    caches: &BTreeMap<&str, Vec<&NIMCache>>,
    broken: &[&str],
    out: &mut Vec<Diagnostic>,
) {
    if let Some(pvc) = spec.storage.as_ref().and_then(|s| s.pvc.as_ref()) {
        rwx_lint(
            spec,
            pvc.volume_access_mode.as_deref(),
            &format!("{base}.storage.pvc"),
            "its PVC",
            out,
        );
    }
    let Some(reference) = spec.storage.as_ref().and_then(|s| s.nim_cache.as_ref()) else {
        return;
    };
    let Some(name) = reference.name.as_deref().filter(|n| !n.is_empty()) else {
        return;
    };
    let at = format!("{base}.storage.nimCache");
    let same_namespace = |cache: &&&NIMCache| match (namespace, cache.metadata.namespace.as_deref())
    {
        (Some(a), Some(b)) => a == b,
        _ => true,
    };
    let Some(cache) = caches
        .get(name)
        .and_then(|list| list.iter().find(same_namespace))
    else {
        if broken.contains(&name) {
            // The NIMCache is in the set but has errors of its own.
            return;
        }
        out.push(Diagnostic::warning(
            format!("{at}.name"),
            "nimcache-not-found",
            format!(
                "NIMCache `{name}` is not among the linted documents{}; the NIMService stays NotReady until it \
                 exists and is Ready",
                namespace.map(|n| format!(" in namespace `{n}`")).unwrap_or_default()
            ),
        ));
        return;
    };
    // Profile miss: the pinned profile must be one the cache holds.
    if let Some(profile) = reference.profile.as_deref().filter(|p| !p.is_empty()) {
        let mut known: Vec<&str> = cache
            .status
            .as_ref()
            .and_then(|s| s.profiles.as_ref())
            .into_iter()
            .flatten()
            .filter_map(|p| p.name.as_deref())
            .collect();
        let listed = cache
            .spec
            .source
            .ngc
            .as_ref()
            .and_then(|n| n.model.as_ref())
            .and_then(|m| m.profiles.as_ref());
        let all = listed.is_some_and(|l| l.iter().any(|p| p == "all"));
        known.extend(listed.into_iter().flatten().map(String::as_str));
        if !all && !known.is_empty() && !known.contains(&profile) {
            out.push(Diagnostic::warning(
                format!("{at}.profile"),
                "profile-not-in-cache",
                format!(
                    "profile `{profile}` is not among the profiles of NIMCache `{name}` ({}): NIM will not find it \
                     in the cache and silently selects and downloads another, usually heavier, profile",
                    known.join(", ")
                ),
            ));
        }
    }
    if let Some(ngc) = &cache.spec.source.ngc
        && let (_, Some(cache_tag)) = image_tag(&ngc.model_puller)
        && !spec.image.tag.is_empty()
        && cache_tag != spec.image.tag
    {
        out.push(Diagnostic::warning(
            format!("{base}.image.tag"),
            "image-tag-mismatch",
            format!(
                "the NIMService runs tag `{}` but NIMCache `{name}` was filled by modelPuller tag `{cache_tag}`: \
                 another NIM release may expect other profiles and re-download the model",
                spec.image.tag
            ),
        ));
    }
    let mode = cache
        .spec
        .storage
        .pvc
        .as_ref()
        .and_then(|p| p.volume_access_mode.as_deref());
    rwx_lint(
        spec,
        mode,
        &at,
        &format!("the PVC of NIMCache `{name}`"),
        out,
    );
}

fn rwx_lint(
    spec: &NIMServiceSpec,
    mode: Option<&str>,
    path: &str,
    what: &str,
    out: &mut Vec<Diagnostic>,
) {
    let replicas = max_replicas(spec);
    if replicas > 1 && mode != Some("ReadWriteMany") && mode != Some("ReadOnlyMany") {
        out.push(Diagnostic::warning(
            path,
            "cache-pvc-not-rwx",
            format!(
                "the service can run {replicas} replicas but {what} is {}: pods on other nodes cannot mount it. \
                 Use volumeAccessMode ReadWriteMany on a storage class that supports it",
                mode.map_or_else(|| "not ReadWriteMany (access mode unset)".to_owned(), str::to_owned)
            ),
        ));
    }
}
