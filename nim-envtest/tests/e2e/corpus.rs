//! `validate()` against the API server on a generated corpus.
//!
//! The corpus starts from the valid manifests of the repository (the example, the wire-format
//! fixtures and the `valid-*` lint cases, each also a corpus object as written) and derives
//! objects of all four kinds from them:
//!
//! * systematic mutations ([`MUTATIONS`]), each breaking one rule the API server enforces (a
//!   schema type, enum, pattern, bound, length, format, required field, duplicate list-map key or
//!   unknown field, or one of the CRDs' CEL rules), or nothing (benign changes), or only a rule
//!   of the operator's webhook, which a bare API server does not enforce;
//! * generated values (proptest strategies run from a fixed seed, so the corpus is the same on
//!   every run) for bounded, patterned and enumerated fields, on both sides of the limits.
//!
//! For every object, "our" answer is what nim-crds says about the document: the schema check
//! that `validate()` runs ([`nim_crds::schema_check::check`] against
//! [`nim_crds::validate::schema_of`]), applied to the document as sent (a typed object cannot
//! hold an unknown field or a value of the wrong type), plus [`Validate::validate`] of the
//! document deserialized into its Rust type, keeping only the errors a bare API server can
//! enforce: the schema codes and `cel-rule` (webhook-only codes and warnings are left out). This
//! is what `nim_crds::lint` does with a document. The server's answer comes from creating the
//! object as a dry run with `fieldValidation=Strict`, as `kubectl` does (without it the server
//! silently drops unknown fields).
//!
//! The case proves that:
//!
//! * both answers agree on every object, except the ones listed in [`BY_DESIGN`] with the
//!   reason, which must still disagree (so the list stays true);
//! * when both reject an object, the server's message names the path of each of our errors and
//!   carries the message of each CEL rule we report;
//! * each mutation breaks what it says it breaks, and nothing else the server enforces;
//! * the corpus has at least 40 objects, and objects of every kind that both accept and that
//!   both reject;
//! * every CEL rule of the CRDs (but the transition rules, which need an update) is triggered by
//!   a corpus object, and every kind of constraint the spec schemas use is broken by an object
//!   the server rejects;
//! * the CEL rule of the status, which the server ignores on create, is enforced with our
//!   message on the status subresource.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use kube::Resource;
use kube::api::{DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use kube::core::Request;
use nim_crds::schema_check::code;
use nim_crds::{Diagnostic, NIMBuild, NIMCache, NIMPipeline, NIMService, Validate};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::string::string_regex;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{Value, json};

use crate::support::{self, Ctx, TestResult};

/// The four kinds, in the order the summary lists them.
const KINDS: [&str; 4] = ["NIMCache", "NIMService", "NIMPipeline", "NIMBuild"];

/// The diagnostic codes of rules a bare API server enforces: every schema code and CEL.
const SERVER_CODES: [&str; 17] = [
    code::TYPE_MISMATCH,
    code::FORMAT,
    code::OUT_OF_RANGE,
    code::MULTIPLE_OF,
    code::REQUIRED,
    code::ENUM,
    code::PATTERN,
    code::MIN_LENGTH,
    code::MAX_LENGTH,
    code::MIN_ITEMS,
    code::MAX_ITEMS,
    code::MIN_PROPERTIES,
    code::MAX_PROPERTIES,
    code::UNKNOWN_FIELD,
    code::DUPLICATE_ITEM,
    code::TOO_DEEP,
    CEL,
];

/// The code of a failed CEL rule.
const CEL: &str = "cel-rule";

/// Corpus objects on which nim-crds and the API server disagree by design: `(label, reason)`.
/// The case asserts that each of them still disagrees, so the list stays true.
const BY_DESIGN: &[(&str, &str)] = &[
    (
        "cache: spec.userID 1000.0",
        "the server reads a JSON number with a zero fraction as an integer (and stores 1000); \
         serde does not deserialize a float into the Rust integer field, so there is no typed \
         object to validate (the schema check alone accepts it)",
    ),
    (
        "service: spec.replicas beyond int32",
        "the server does not check the range of an integer's `format` (int32) in a CRD schema; \
         nim-crds reports it because neither the operator's Go int32 nor the Rust i32 holds it",
    ),
    (
        "service: metadata unknown field",
        "metadata is ObjectMeta, decoded (strictly) by the server; validate() checks what the CRD \
         schema describes, of which metadata is only typed `object`",
    ),
    (
        "service: metadata.name not a DNS subdomain",
        "object names are validated by the server's ObjectMeta rules, not by the CRD schema, and \
         validate() does not check them",
    ),
    (
        "service: spec removed",
        "the CRD does not require `spec`, but the Rust types (kube-derive) always have one, so the \
         document does not deserialize",
    ),
    (
        STATUS_RULE,
        "the server ignores the status of a created object (the status subresource is enabled); \
         it enforces the rule on the status subresource, which the case checks separately",
    ),
];

/// The [`BY_DESIGN`] entry whose status breaks a CEL rule of the status.
const STATUS_RULE: &str = "service-multinode: status.draResourceStatuses entry with both statuses";

/// What a corpus object is meant to be.
#[derive(Clone, Copy, Debug)]
enum Intent {
    /// Valid: no rule broken.
    Valid,
    /// Breaks a rule the API server enforces, reported by nim-crds with this code.
    Breaks(&'static str),
    /// Breaks only a rule of the operator's webhook (this code): the API server accepts it.
    WebhookOnly(&'static str),
    /// A generated value: whichever the rules say.
    Generated,
}

/// One object of the corpus.
struct Entry {
    /// Unique and stable: the base object and what was changed.
    label: String,
    kind: String,
    object: Value,
    intent: Intent,
}

/// A JSON-pointer edit: set the value (creating missing objects on the way) or remove it.
type Edit = (&'static str, Option<Value>);

fn put(pointer: &'static str, value: Value) -> Edit {
    (pointer, Some(value))
}

fn del(pointer: &'static str) -> Edit {
    (pointer, None)
}

/// A systematic mutation of a base object.
struct Mutation {
    base: &'static str,
    what: &'static str,
    intent: Intent,
    edits: Vec<Edit>,
}

fn mutation(base: &'static str, what: &'static str, intent: Intent, edits: Vec<Edit>) -> Mutation {
    Mutation {
        base,
        what,
        intent,
        edits,
    }
}

/// A field whose value is generated, set on a base object after `setup`.
struct Generated {
    base: &'static str,
    pointer: &'static str,
    setup: Vec<Edit>,
    values: BoxedStrategy<Value>,
}

fn generated(
    base: &'static str,
    pointer: &'static str,
    setup: Vec<Edit>,
    values: BoxedStrategy<Value>,
) -> Generated {
    Generated {
        base,
        pointer,
        setup,
        values,
    }
}

/// How many values each generated field gets.
const SAMPLES: usize = 5;

/// `validate()` and the API server agree on every corpus object, except the [`BY_DESIGN`] ones:
/// see the module documentation for everything the case checks. Prints a summary line.
pub async fn validate_agrees_with_the_server(ctx: Ctx) -> TestResult {
    let corpus = corpus();
    // Our answers first, all on this thread: the CEL programs are compiled once per thread.
    let ours: Vec<Ours> = corpus.iter().map(Ours::of).collect();
    let mut theirs = Vec::with_capacity(corpus.len());
    for entry in &corpus {
        theirs.push(submit(&ctx, entry).await?);
    }

    let mut failures = Vec::new();
    let labels: BTreeSet<&str> = corpus.iter().map(|e| e.label.as_str()).collect();
    assert_eq!(labels.len(), corpus.len(), "corpus labels are not unique");
    assert!(
        corpus.len() >= 40,
        "the corpus has {} objects, fewer than 40",
        corpus.len()
    );
    for (label, _) in BY_DESIGN {
        if !labels.contains(label) {
            failures.push(format!(
                "BY_DESIGN names `{label}`, which is not in the corpus"
            ));
        }
    }

    let mut by_design = 0;
    let mut counts: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for ((entry, ours), theirs) in corpus.iter().zip(&ours).zip(&theirs) {
        let mut problems = Vec::new();
        let designed = BY_DESIGN.iter().find(|(label, _)| *label == entry.label);
        let agree = ours.accepts() == theirs.is_ok();
        match (designed, agree) {
            (None, false) => problems.push("validate() and the server disagree".to_owned()),
            (Some((_, reason)), true) => problems.push(format!(
                "listed in BY_DESIGN ({reason}), but validate() and the server now agree"
            )),
            (Some(_), false) => by_design += 1,
            (None, true) => {}
        }
        problems.extend(ours.honours(entry.intent));
        if let (true, Err(message)) = (agree, theirs) {
            problems.extend(ours.unnamed_in(message));
        }
        if !problems.is_empty() {
            failures.push(format!(
                "{}: {}\n{}",
                entry.label,
                problems.join("; "),
                report(entry, ours, theirs)
            ));
        }
        let count = counts.entry(kind_name(&entry.kind)).or_default();
        if theirs.is_ok() {
            count.0 += 1;
        } else {
            count.1 += 1;
        }
    }

    for kind in KINDS {
        let agreed = |accepted: bool| {
            corpus.iter().zip(&ours).zip(&theirs).any(|((e, o), t)| {
                e.kind == kind && o.accepts() == accepted && t.is_ok() == accepted
            })
        };
        if !agreed(true) {
            failures.push(format!("no {kind} in the corpus is accepted by both"));
        }
        if !agreed(false) {
            failures.push(format!("no {kind} in the corpus is rejected by both"));
        }
    }
    failures.extend(uncovered(&ours, &theirs, &corpus));
    let status = corpus
        .iter()
        .position(|e| e.label == STATUS_RULE)
        .expect("the status entry is in the corpus");
    failures.extend(status_subresource(&ctx, &corpus[status], &ours[status]).await?);

    let generated = corpus
        .iter()
        .filter(|e| matches!(e.intent, Intent::Generated))
        .count();
    let per_kind: Vec<String> = KINDS
        .iter()
        .map(|k| {
            let (accepted, rejected) = counts.get(k).copied().unwrap_or_default();
            format!("{k} {accepted}/{rejected}")
        })
        .collect();
    let accepted = theirs.iter().filter(|t| t.is_ok()).count();
    println!(
        "    corpus: {} objects ({generated} generated), {accepted} valid, {} invalid, \
         {by_design} disagreements by design; accepted/rejected: {}",
        corpus.len(),
        corpus.len() - accepted,
        per_kind.join(", ")
    );

    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} problem(s):\n\n{}",
            failures.len(),
            failures.join("\n\n")
        )
        .into())
    }
}

/// `kind` as one of the static [`KINDS`].
fn kind_name(kind: &str) -> &'static str {
    KINDS.into_iter().find(|k| *k == kind).unwrap_or("other")
}

/// What nim-crds says about a document.
struct Ours {
    /// Every diagnostic: of the schema check of the document, then of `validate()`.
    all: Vec<Diagnostic>,
    /// The errors among them that a bare API server enforces.
    errors: Vec<Diagnostic>,
    /// Why the document does not deserialize into its Rust type, if it does not.
    unparsed: Option<String>,
}

impl Ours {
    fn of(entry: &Entry) -> Self {
        let schema = nim_crds::validate::schema_of(&entry.kind).expect("a NIM kind");
        let mut all = nim_crds::schema_check::check(schema, &entry.object);
        let typed = match entry.kind.as_str() {
            "NIMCache" => typed::<NIMCache>(&entry.object),
            "NIMService" => typed::<NIMService>(&entry.object),
            "NIMPipeline" => typed::<NIMPipeline>(&entry.object),
            _ => typed::<NIMBuild>(&entry.object),
        };
        let unparsed = match typed {
            Ok(diagnostics) => {
                for d in diagnostics {
                    if !all.contains(&d) {
                        all.push(d);
                    }
                }
                None
            }
            Err(error) => Some(error),
        };
        let errors = all
            .iter()
            .filter(|d| d.is_error() && SERVER_CODES.contains(&d.code.as_str()))
            .cloned()
            .collect();
        Self {
            all,
            errors,
            unparsed,
        }
    }

    /// Whether nim-crds says a bare API server accepts the document. A document that does not
    /// deserialize into its Rust type is taken as rejected (nim-crds cannot represent it).
    fn accepts(&self) -> bool {
        self.errors.is_empty() && self.unparsed.is_none()
    }

    /// What of our errors the server's rejection `message` does not name: each error's path
    /// (with map keys unquoted, as the server writes them) and each CEL rule's message.
    fn unnamed_in(&self, message: &str) -> Vec<String> {
        let mut out = Vec::new();
        for d in &self.errors {
            let path = d.path.replace('"', "");
            if !message.contains(&path) {
                out.push(format!(
                    "the server's rejection does not name our path `{path}`"
                ));
            }
            if d.code == CEL && !message.contains(&d.message) {
                out.push(format!(
                    "the server's rejection does not carry our CEL message `{}`",
                    d.message
                ));
            }
        }
        out
    }

    /// Why the diagnostics do not match what the entry is meant to be, if they do not.
    fn honours(&self, intent: Intent) -> Option<String> {
        match intent {
            Intent::Valid if !self.errors.is_empty() => {
                Some("meant to be valid, but nim-crds reports server-side errors".to_owned())
            }
            Intent::Breaks(code)
                if self.errors.is_empty() || self.errors.iter().any(|d| d.code != code) =>
            {
                Some(format!(
                    "meant to break a `{code}` rule and nothing else the server enforces, but \
                     nim-crds does not report exactly that"
                ))
            }
            Intent::WebhookOnly(code)
                if !self.errors.is_empty()
                    || !self.all.iter().any(|d| d.is_error() && d.code == code) =>
            {
                Some(format!(
                    "meant to break only the webhook rule `{code}`, but nim-crds does not report \
                     exactly that"
                ))
            }
            _ => None,
        }
    }
}

/// `validate()` of the document as a `K`, or why it does not deserialize.
fn typed<K: serde::de::DeserializeOwned + Validate>(
    object: &Value,
) -> Result<Vec<Diagnostic>, String> {
    serde_json::from_value::<K>(object.clone())
        .map(|k| k.validate())
        .map_err(|e| e.to_string())
}

/// Creates the entry's object on the server as a dry run with strict field validation: `Ok` if
/// the server accepts it, or the server's message.
async fn submit(
    ctx: &Ctx,
    entry: &Entry,
) -> Result<Result<(), String>, Box<dyn std::error::Error + Send + Sync>> {
    let mut object = entry.object.clone();
    object["metadata"]["namespace"] = Value::String(ctx.namespace.clone());
    let url = DynamicObject::url_path(&support::resource(&entry.kind), Some(&ctx.namespace));
    let params = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    let mut request = Request::new(url).create(&params, serde_json::to_vec(&object)?)?;
    // kube's PostParams has no field validation directive: without `Strict` the server would
    // prune unknown fields and only warn.
    *request.uri_mut() = format!("{}&fieldValidation=Strict", request.uri()).parse()?;
    Ok(match ctx.client.request::<Value>(request).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) => Err(format!("{} ({})", status.message, status.code)),
        Err(other) => return Err(format!("{}: {other}", entry.label).into()),
    })
}

/// Creates the entry's object without its status, then patches the status in (as a dry run) on
/// the status subresource: the server must reject it with our CEL messages for the status.
/// Returns what went wrong, if anything.
async fn status_subresource(
    ctx: &Ctx,
    entry: &Entry,
    ours: &Ours,
) -> Result<Option<String>, Box<dyn std::error::Error + Send + Sync>> {
    let messages: Vec<&str> = ours
        .errors
        .iter()
        .filter(|d| d.code == CEL && d.path.starts_with("status"))
        .map(|d| d.message.as_str())
        .collect();
    if messages.is_empty() {
        return Ok(Some(format!(
            "{}: nim-crds reports no CEL error in the status",
            entry.label
        )));
    }
    let api = ctx.dynamic(&entry.kind);
    let mut object = entry.object.clone();
    let status = object
        .as_object_mut()
        .and_then(|o| o.remove("status"))
        .expect("the entry has a status");
    let created = api
        .create(
            &PostParams::default(),
            &support::in_namespace(&object, &ctx.namespace),
        )
        .await
        .map_err(|e| format!("creating {}: {}", entry.label, support::rejection(&e)))?;
    let name = created.metadata.name.clone().unwrap_or_default();
    let params = PatchParams {
        dry_run: true,
        ..PatchParams::default()
    };
    let patched = api
        .patch_status(&name, &params, &Patch::Merge(json!({ "status": status })))
        .await;
    api.delete(&name, &DeleteParams::default()).await?;
    Ok(match patched {
        Ok(_) => Some(format!(
            "{}: the server accepts the status on the status subresource",
            entry.label
        )),
        Err(error) => {
            let message = support::rejection(&error);
            let missing: Vec<&&str> = messages.iter().filter(|m| !message.contains(**m)).collect();
            (!missing.is_empty()).then(|| {
                format!(
                    "{}: the server rejects the status without our CEL message(s) {missing:?}: \
                     {message}",
                    entry.label
                )
            })
        }
    })
}

/// The entry, our diagnostics and the server's answer, for a failure message.
fn report(entry: &Entry, ours: &Ours, theirs: &Result<(), String>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "  object: {}",
        serde_json::to_string(&entry.object).unwrap_or_default()
    );
    let _ = writeln!(
        out,
        "  nim-crds: {}",
        if ours.accepts() { "accepts" } else { "rejects" }
    );
    for d in &ours.all {
        let _ = writeln!(out, "    {d}");
    }
    if let Some(error) = &ours.unparsed {
        let _ = writeln!(out, "    does not deserialize: {error}");
    }
    match theirs {
        Ok(()) => {
            let _ = write!(out, "  server: accepts");
        }
        Err(message) => {
            let _ = write!(out, "  server: rejects: {message}");
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Coverage
// ---------------------------------------------------------------------------------------------

/// The CEL rules (per kind, by message) that no corpus object triggers, and the schema
/// constraint codes of the spec that no object both sides reject triggers.
fn uncovered(ours: &[Ours], theirs: &[Result<(), String>], corpus: &[Entry]) -> Vec<String> {
    let mut cel = BTreeSet::new();
    let mut rejected = BTreeSet::new();
    for ((entry, ours), theirs) in corpus.iter().zip(ours).zip(theirs) {
        let kind = kind_name(&entry.kind);
        for d in &ours.errors {
            if d.code == CEL {
                cel.insert((kind, d.message.as_str()));
            } else if theirs.is_err() {
                rejected.insert((kind, d.code.as_str()));
            }
        }
    }
    let mut missing = Vec::new();
    for kind in KINDS {
        let schema = nim_crds::validate::schema_of(kind).expect("a NIM kind");
        let mut rules = BTreeSet::new();
        constraints(schema, &mut rules, &mut BTreeSet::new());
        for message in rules {
            if !cel.contains(&(kind, message.as_str())) {
                missing.push(format!(
                    "no {kind} in the corpus triggers the CEL rule `{message}`"
                ));
            }
        }
        // Only the spec: the server does not validate the status of a created object.
        let mut codes = BTreeSet::new();
        constraints(
            &schema["properties"]["spec"],
            &mut BTreeSet::new(),
            &mut codes,
        );
        for code in codes {
            if !rejected.contains(&(kind, code)) {
                missing.push(format!(
                    "no {kind} in the corpus that the server rejects breaks a `{code}` constraint"
                ));
            }
        }
    }
    missing
}

/// Collects, below `schema`, the messages of the CEL rules that do not compare with `oldSelf`
/// and the diagnostic codes of the constraints used.
fn constraints(schema: &Value, rules: &mut BTreeSet<String>, codes: &mut BTreeSet<&'static str>) {
    let Some(node) = schema.as_object() else {
        return;
    };
    for rule in node
        .get("x-kubernetes-validations")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let text = rule["rule"].as_str().unwrap_or_default();
        if !text.contains("oldSelf") {
            rules.insert(rule["message"].as_str().unwrap_or(text).to_owned());
        }
    }
    for (keyword, code) in [
        ("type", code::TYPE_MISMATCH),
        ("pattern", code::PATTERN),
        ("enum", code::ENUM),
        ("minimum", code::OUT_OF_RANGE),
        ("maximum", code::OUT_OF_RANGE),
        ("minLength", code::MIN_LENGTH),
        ("maxLength", code::MAX_LENGTH),
        ("minItems", code::MIN_ITEMS),
        ("maxItems", code::MAX_ITEMS),
        ("minProperties", code::MIN_PROPERTIES),
        ("maxProperties", code::MAX_PROPERTIES),
        ("multipleOf", code::MULTIPLE_OF),
        ("required", code::REQUIRED),
    ] {
        if node.contains_key(keyword) {
            codes.insert(code);
        }
    }
    if node.get("format").and_then(Value::as_str) == Some("byte") {
        codes.insert(code::FORMAT);
    }
    if matches!(
        node.get("x-kubernetes-list-type").and_then(Value::as_str),
        Some("map" | "set")
    ) {
        codes.insert(code::DUPLICATE_ITEM);
    }
    if let Some(properties) = node.get("properties").and_then(Value::as_object) {
        if !node.contains_key("x-kubernetes-preserve-unknown-fields") {
            codes.insert(code::UNKNOWN_FIELD);
        }
        for property in properties.values() {
            constraints(property, rules, codes);
        }
    }
    for key in ["items", "additionalProperties"] {
        if let Some(inner) = node.get(key) {
            constraints(inner, rules, codes);
        }
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        for inner in node
            .get(key)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            constraints(inner, rules, codes);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The corpus
// ---------------------------------------------------------------------------------------------

/// Every corpus object: the valid manifests as they are, the systematic mutations and the
/// generated values.
fn corpus() -> Vec<Entry> {
    let bases = bases();
    let mut corpus = valid_manifests();
    for m in mutations() {
        let base = bases
            .get(m.base)
            .unwrap_or_else(|| panic!("no base `{}`", m.base));
        let mut object = base.clone();
        for (pointer, value) in m.edits {
            edit(&mut object, pointer, value);
        }
        corpus.push(Entry {
            label: format!("{}: {}", m.base, m.what),
            kind: support::kind_of(&object).to_owned(),
            object,
            intent: m.intent,
        });
    }
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::deterministic_rng(RngAlgorithm::ChaCha),
    );
    for g in generators() {
        let base = bases
            .get(g.base)
            .unwrap_or_else(|| panic!("no base `{}`", g.base));
        let mut seen = BTreeSet::new();
        for _ in 0..SAMPLES {
            let value = g.values.new_tree(&mut runner).expect("a value").current();
            let shown = serde_json::to_string(&value).unwrap_or_default();
            if !seen.insert(shown.clone()) {
                continue;
            }
            let mut object = base.clone();
            for (pointer, value) in &g.setup {
                edit(&mut object, pointer, value.clone());
            }
            edit(&mut object, g.pointer, Some(value));
            corpus.push(Entry {
                label: format!("{}: {} = {shown} (generated)", g.base, g.pointer),
                kind: support::kind_of(&object).to_owned(),
                object,
                intent: Intent::Generated,
            });
        }
    }
    corpus
}

/// A document as a client creates it: without the fields the server owns.
fn creatable(mut doc: Value) -> Value {
    if let Some(metadata) = doc.get_mut("metadata").and_then(Value::as_object_mut) {
        for owned in [
            "uid",
            "resourceVersion",
            "generation",
            "creationTimestamp",
            "managedFields",
        ] {
            metadata.remove(owned);
        }
    }
    doc
}

/// The example manifests, the wire-format fixtures and the `valid-*` lint cases.
fn manifest_files() -> Vec<std::path::PathBuf> {
    let root = support::workspace();
    let mut files = vec![root.join("examples/manifests/llama-3.1-8b.yaml")];
    for dir in ["nim-crds/tests/data/wire", "nim-crds/tests/data/lint"] {
        let mut found: Vec<_> = std::fs::read_dir(root.join(dir))
            .unwrap_or_else(|e| panic!("reading {dir}: {e}"))
            .map(|e| e.expect("a directory entry").path())
            .filter(|p| {
                let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
                name.ends_with(".yaml") && (dir.ends_with("wire") || name.starts_with("valid-"))
            })
            .collect();
        found.sort();
        files.extend(found);
    }
    files
}

/// Every valid manifest of the repository, unmutated (status included: the server ignores it on
/// create, and it is valid).
fn valid_manifests() -> Vec<Entry> {
    let root = support::workspace();
    let mut out = Vec::new();
    for file in manifest_files() {
        let (docs, _) = support::documents(&file);
        let short = file
            .strip_prefix(&root)
            .unwrap_or(&file)
            .display()
            .to_string();
        for doc in docs {
            let kind = support::kind_of(&doc).to_owned();
            let name = doc["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            out.push(Entry {
                label: format!("{short}: {kind}/{name} as written"),
                kind,
                object: creatable(doc),
                intent: Intent::Valid,
            });
        }
    }
    out
}

/// The base objects of the mutations, without status.
fn bases() -> BTreeMap<&'static str, Value> {
    let root = support::workspace();
    let load = |path: &str, index: usize| {
        let (docs, _) = support::documents(&root.join(path));
        let mut doc = creatable(docs[index].clone());
        if let Some(object) = doc.as_object_mut() {
            object.remove("status");
        }
        doc
    };
    let example = "examples/manifests/llama-3.1-8b.yaml";
    let wire = |name: &str| format!("nim-crds/tests/data/wire/{name}.yaml");
    BTreeMap::from([
        ("cache", load(example, 0)),
        ("service", load(example, 1)),
        ("cache-ngc", load(&wire("nimcache-ngc"), 0)),
        ("cache-hf", load(&wire("nimcache-hf"), 0)),
        ("cache-datastore", load(&wire("nimcache-datastore"), 0)),
        ("service-full", load(&wire("nimservice-full"), 0)),
        (
            "service-multinode",
            load(&wire("nimservice-multinode-dra"), 0),
        ),
        ("pipeline", load(&wire("nimpipeline"), 0)),
        ("build", load(&wire("nimbuild"), 0)),
    ])
}

/// Applies one edit: sets the value at `pointer` (creating missing objects on the way; an index
/// one past the end of a list appends) or removes it.
fn edit(doc: &mut Value, pointer: &str, value: Option<Value>) {
    let mut parts: Vec<String> = pointer
        .split('/')
        .skip(1)
        .map(|p| p.replace("~1", "/").replace("~0", "~"))
        .collect();
    let last = parts.pop().expect("a pointer below the root");
    let mut node = doc;
    for part in parts {
        node = match node {
            Value::Array(items) => {
                let index: usize = part.parse().expect("a list index");
                &mut items[index]
            }
            other => {
                if !other.is_object() {
                    *other = json!({});
                }
                other
                    .as_object_mut()
                    .expect("an object")
                    .entry(part)
                    .or_insert_with(|| json!({}))
            }
        };
    }
    match (node, value) {
        (Value::Array(items), value) => {
            let index: usize = last.parse().expect("a list index");
            match value {
                Some(value) if index == items.len() => items.push(value),
                Some(value) => items[index] = value,
                None => {
                    items.remove(index);
                }
            }
        }
        (node, Some(value)) => {
            if !node.is_object() {
                *node = json!({});
            }
            node.as_object_mut().expect("an object").insert(last, value);
        }
        (node, None) => {
            if let Some(object) = node.as_object_mut() {
                object.remove(&last);
            }
        }
    }
}

/// The systematic mutations of the base objects (see [`bases`]). A mutation is a line
/// `base | what it changes | what it breaks`, followed by its edits, one per indented line:
/// `/json/pointer = <JSON value>` sets a value (creating missing objects on the way) and
/// `-/json/pointer` removes one. What it breaks is `valid` (nothing), a schema code or
/// `cel-rule` (a rule the API server enforces, which nim-crds must report with that code), or
/// `webhook <code>` (a rule only the operator's webhook enforces: nim-crds reports it, the API
/// server accepts the object).
const MUTATIONS: &str = r#"
# NIMCache from NGC (the example).
cache | spec.storage removed | required
    -/spec/storage
cache | spec.source.ngc.authSecret removed | required
    -/spec/source/ngc/authSecret
cache | spec.source.ngc.authSecret empty | webhook required-value
    /spec/source/ngc/authSecret = ""
cache | spec.source.ngc.modelPuller a number | type-mismatch
    /spec/source/ngc/modelPuller = 42
cache | spec.resources.cpu not a quantity | pattern
    /spec/resources/cpu = "4 cores"
cache | spec.resources.memory an integer | valid
    /spec/resources/memory = 17179869184
cache | spec.resources.memory 16.0 | valid
    /spec/resources/memory = 16.0
cache | spec.resources.memory a fraction | type-mismatch
    /spec/resources/memory = 1.5
cache | spec.storage.pvc.accessMode unknown | unknown-field
    /spec/storage/pvc/accessMode = "ReadWriteMany"
cache | spec.tolerations an object | type-mismatch
    /spec/tolerations = {"key": "nvidia.com/gpu"}
cache | spec.nodeSelector value a number | type-mismatch
    /spec/nodeSelector = {"gpus": 8}
cache | spec.userID a string | type-mismatch
    /spec/userID = "1000"
cache | spec.userID a fraction | type-mismatch
    /spec/userID = 1000.5
cache | spec.source.ngc.model.lora a string | type-mismatch
    /spec/source/ngc/model/lora = "yes"
cache | spec.certConfig without mountPath | required
    /spec/certConfig = {"name": "corp-ca"}
cache | spec.source.hf next to ngc | cel-rule
    /spec/source/hf = {"endpoint": "https://huggingface.co", "namespace": "meta-llama", "modelName": "Llama-3.1-8B-Instruct", "authSecret": "hf-token", "modelPuller": "nvcr.io/nim/nvidia/llm-nim:1.12.0", "pullSecret": "ngc-secret"}
cache | spec.source empty | cel-rule
    /spec/source = {}
cache | spec.source.ngc.modelEndpoint next to model | cel-rule
    /spec/source/ngc/modelEndpoint = "https://example.com/model"
cache | spec.source.ngc.model.qosProfile not latency or throughput | webhook invalid-qos-profile
    /spec/source/ngc/model/qosProfile = "fast"
    -/spec/source/ngc/model/profiles
cache | spec.storage.pvc empty | webhook pvc-required
    /spec/storage/pvc = {}
cache | spec.storage.pvc.size not a quantity | webhook invalid-quantity
    /spec/storage/pvc/size = "50 GB"
cache-ngc | spec.source.ngc.model.profiles with all and another | webhook profiles-all-not-alone
    /spec/source/ngc/model = {"profiles": ["all", "tensorrt_llm-h100-fp8-tp1-pp1-latency"]}
cache-ngc | spec.proxy.httpsProxy without scheme | webhook invalid-proxy-url
    /spec/proxy/httpsProxy = "proxy.corp.example.com:3129"
# NIMCache from Hugging Face and from a NeMo Data Store.
cache-hf | spec.source.hf.datasetName next to modelName | cel-rule
    /spec/source/hf/datasetName = "squad"
cache-hf | spec.source.hf.modelName removed | cel-rule
    -/spec/source/hf/modelName
cache-hf | spec.source.hf.endpoint not http | pattern
    /spec/source/hf/endpoint = "ftp://huggingface.co"
cache-hf | spec.source.hf.revision empty | min-length
    /spec/source/hf/revision = ""
cache-hf | spec.source.hf.namespace removed | required
    -/spec/source/hf/namespace
cache-datastore | spec.source.dataStore.datasetName removed | cel-rule
    -/spec/source/dataStore/datasetName
cache-datastore | spec.source.dataStore.modelName next to datasetName | cel-rule
    /spec/source/dataStore/modelName = "llama"
cache-datastore | spec.source.dataStore.endpoint not /v1/hf | pattern
    /spec/source/dataStore/endpoint = "http://nemo-datastore:3000/v1/models"
cache-datastore | spec.source.dataStore.endpoint with a trailing slash | valid
    /spec/source/dataStore/endpoint = "https://nemo-datastore:3000/v1/hf/"
# NIMService (the example: autoscaling, a Gateway router, metrics).
service | spec.image removed | required
    -/spec/image
service | spec.image.tag removed | required
    -/spec/image/tag
service | spec.image.tag a number | type-mismatch
    /spec/image/tag = 1.8
service | spec.image.pullSecrets entries objects | type-mismatch
    /spec/image/pullSecrets = [{"name": "ngc-secret"}]
service | spec.replicas with scale.enabled | cel-rule
    /spec/replicas = 2
service | spec.replicas with scale disabled | valid
    /spec/replicas = 2
    /spec/scale/enabled = false
service | spec.replicas negative | out-of-range
    /spec/replicas = -1
    -/spec/scale
# The server drops a null field that is not nullable (and defaults it, when it has a default)
# before validating; a null list entry stays and is rejected.
service | spec.replicas null | valid
    /spec/replicas = null
    -/spec/scale
service | spec.expose.router.gateway.backendRef.weight null (defaulted) | valid
    /spec/expose/router/gateway/backendRef = {"kind": "InferencePool", "name": "llama", "group": "inference.networking.k8s.io", "weight": null}
service | spec.image.tag null | required
    /spec/image/tag = null
service | spec.image.pullSecrets entry null | type-mismatch
    /spec/image/pullSecrets = [null]
service | spec.multiNode with scale.enabled | cel-rule
    /spec/multiNode = {"parallelism": {"tensor": 2}}
service | spec.expose.ingress enabled with router.ingress | cel-rule
    -/spec/expose/router/gateway
    /spec/expose/router/ingress = {"ingressClass": "nginx"}
    /spec/expose/ingress = {"enabled": true, "spec": {"ingressClassName": "nginx"}}
service | spec.expose.ingress disabled with router.ingress | valid
    -/spec/expose/router/gateway
    /spec/expose/router/ingress = {"ingressClass": "nginx"}
    /spec/expose/ingress = {"enabled": false}
service | spec.expose.router.ingress next to gateway | cel-rule
    /spec/expose/router/ingress = {"ingressClass": "nginx"}
service | spec.expose.router.ingress.ingressClass empty | min-length
    -/spec/expose/router/gateway
    /spec/expose/router/ingress = {"ingressClass": ""}
service | spec.expose.router.ingress without ingressClass | required
    -/spec/expose/router/gateway
    /spec/expose/router/ingress = {"tlsSecretName": "tls"}
service | spec.expose.router.gateway.backendRef with a name only | cel-rule
    /spec/expose/router/gateway/backendRef = {"name": "llama-epp"}
service | spec.expose.router.gateway.backendRef to a Service with a port | valid
    /spec/expose/router/gateway/backendRef = {"group": "", "kind": "Service", "name": "llama-epp", "port": 9002}
service | spec.expose.router.gateway.backendRef.kind lower-case start with digit | pattern
    /spec/expose/router/gateway/backendRef = {"kind": "9pool", "name": "llama", "group": "inference.networking.k8s.io"}
service | spec.expose.router.gateway.backendRef.weight above 1000000 | out-of-range
    /spec/expose/router/gateway/backendRef = {"kind": "InferencePool", "name": "llama", "group": "inference.networking.k8s.io", "weight": 1000001}
service | spec.expose.router.gateway.name empty | min-length
    /spec/expose/router/gateway/name = ""
service | spec.expose.router.gateway.namespace removed | required
    -/spec/expose/router/gateway/namespace
service | spec.expose.router.hostDomainName upper-case | pattern
    /spec/expose/router/hostDomainName = "Example.COM"
service | spec.expose.router.hostDomainName removed | webhook router-requires-host-domain
    -/spec/expose/router/hostDomainName
service | spec.expose.service.port 0 | out-of-range
    /spec/expose/service/port = 0
service | spec.expose.service.port 65535 | valid
    /spec/expose/service/port = 65535
service | spec.expose.service.port a string | type-mismatch
    /spec/expose/service/port = "8000"
service | spec.expose.service.grpcPort 65536 | out-of-range
    /spec/expose/service/grpcPort = 65536
service | spec.inferencePlatform unknown | enum
    /spec/inferencePlatform = "kubeflow"
service | spec.inferencePlatform kserve | valid
    /spec/inferencePlatform = "kserve"
service | spec.metrics.serviceMonitor.interval in words | pattern
    /spec/metrics/serviceMonitor/interval = "30 seconds"
service | spec.metrics.serviceMonitor.scrapeTimeout 1m30s | valid
    /spec/metrics/serviceMonitor/scrapeTimeout = "1m30s"
service | spec.scale.hpa.maxReplicas removed | required
    -/spec/scale/hpa/maxReplicas
service | spec.scale.hpa.minReplicas 0 | out-of-range
    /spec/scale/hpa/minReplicas = 0
service | spec.scale.hpa removed | webhook scale-requires-hpa
    -/spec/scale/hpa
service | spec.scale.hpa.metrics[0].pods.target.averageValue not a quantity | pattern
    /spec/scale/hpa/metrics/0/pods/target/averageValue = "75%"
service | spec.resources.claims with a duplicate name | duplicate-item
    /spec/resources/claims = [{"name": "gpu"}, {"name": "gpu"}]
service | spec.resources.limits value not a quantity | pattern
    /spec/resources/limits/nvidia.com~1gpu = "one"
service | unknown top-level field | unknown-field
    /specs = {}
service | metadata.labels entry added | valid
    /metadata/labels/team = "inference"
service | metadata.generateName instead of a name | valid
    -/metadata/name
    /metadata/generateName = "llama-"
service | spec.replica unknown | unknown-field
    /spec/replica = 1
service | spec.storage.nimCache.profile unknown place | unknown-field
    /spec/profile = "tensorrt_llm-h100-fp8-tp1-pp1-latency"
service | spec.storage removed | webhook storage-exactly-one
    -/spec/storage
service | spec.storage.nimCache.name removed | webhook nimcache-name-required
    -/spec/storage/nimCache/name
service | spec.storage.sharedMemorySizeLimit a fraction | type-mismatch
    /spec/storage/sharedMemorySizeLimit = 1.5
service | spec.storage.sharedMemorySizeLimit zero | webhook invalid-quantity
    /spec/storage/sharedMemorySizeLimit = "0"
service | spec.startupProbe.probe.httpGet.port a fraction | type-mismatch
    /spec/startupProbe/probe/httpGet/port = 8000.5
service | spec.startupProbe.probe.httpGet.port a number | valid
    /spec/startupProbe/probe/httpGet/port = 8000
# On which nim-crds and the server disagree by design (see BY_DESIGN).
cache | spec.userID 1000.0 | valid
    /spec/userID = 1000.0
service | spec.replicas beyond int32 | out-of-range
    /spec/replicas = 2147483648
    -/spec/scale
service | metadata unknown field | valid
    /metadata/owner = "inference"
service | metadata.name not a DNS subdomain | valid
    /metadata/name = "Llama_3"
service | spec removed | valid
    -/spec
# NIMService using most of the spec.
service-full | spec.expose.router.eppConfig.configMapRef next to config | cel-rule
    /spec/expose/router/eppConfig/configMapRef = {"name": "epp-config", "key": "config.yaml"}
service-full | spec.expose.router.eppConfig.config field of its own (preserved) | valid
    /spec/expose/router/eppConfig/config/featureGates = ["dataLayer"]
service-full | spec.expose.router.eppConfig plugin parameters not base64 | format
    /spec/expose/router/eppConfig/config/plugins/2/parameters = "not base64!"
service-full | spec.expose.router.eppConfig.config.schedulingProfiles removed | required
    -/spec/expose/router/eppConfig/config/schedulingProfiles
service-full | spec.env[3] divisor not a quantity | pattern
    /spec/env/3/valueFrom/resourceFieldRef/divisor = "1 MiB"
service-full | spec.tolerations[1].tolerationSeconds a string | type-mismatch
    /spec/tolerations/1/tolerationSeconds = "300"
service-full | spec.proxy.noProxy with a wildcard | webhook invalid-no-proxy
    /spec/proxy/noProxy = "*.example.com"
# Multi-node NIMService with DRA.
service-multinode | spec.multiNode.mpi next to ray | cel-rule
    /spec/multiNode/mpi = {"mpiStartTimeout": 300}
service-multinode | spec.multiNode.computeDomain create with a name | cel-rule
    /spec/multiNode/computeDomain/name = "domain"
service-multinode | spec.multiNode.computeDomain neither create nor name | cel-rule
    /spec/multiNode/computeDomain = {"create": false}
service-multinode | spec.multiNode.computeDomain name only | valid
    /spec/multiNode/computeDomain = {"name": "existing-domain"}
service-multinode | spec.multiNode.backendType unknown | enum
    /spec/multiNode/backendType = "mpi"
service-multinode | spec.multiNode.parallelism.tensor 0 | out-of-range
    /spec/multiNode/parallelism/tensor = 0
service-multinode | spec.multiNode.parallelism removed | required
    -/spec/multiNode/parallelism
service-multinode | spec.multiNode.ray.rayPort 70000 | out-of-range
    /spec/multiNode/ray/rayPort = 70000
service-multinode | spec.draResources[1] with a claimCreationSpec too | cel-rule
    /spec/draResources/1/claimCreationSpec = {"devices": [{"name": "imex"}]}
service-multinode | spec.draResources entry empty | cel-rule
    /spec/draResources/3 = {}
service-multinode | spec.draResources[0] device with celExpressions and selectors | cel-rule
    /spec/draResources/0/claimCreationSpec/devices/0/celExpressions = ["device.driver == 'gpu.nvidia.com'"]
service-multinode | spec.draResources[0] device count and class removed (defaulted) | valid
    -/spec/draResources/0/claimCreationSpec/devices/0/count
    -/spec/draResources/0/claimCreationSpec/devices/0/deviceClassName
service-multinode | spec.draResources[0] device name removed | required
    -/spec/draResources/0/claimCreationSpec/devices/0/name
service-multinode | spec.draResources[0] device name upper-case | pattern
    /spec/draResources/0/claimCreationSpec/devices/0/name = "GPUs"
service-multinode | spec.draResources[0] generateName 17 characters | max-length
    /spec/draResources/0/claimCreationSpec/generateName = "gb200-gpus-abcdef"
service-multinode | spec.draResources[0] generateName empty | min-length
    /spec/draResources/0/claimCreationSpec/generateName = ""
service-multinode | spec.draResources[0] attribute selector op unknown | enum
    /spec/draResources/0/claimCreationSpec/devices/0/attributeSelectors/0/op = "Matches"
service-multinode | spec.draResources[0] capacity selector value not a quantity | pattern
    /spec/draResources/0/claimCreationSpec/devices/0/capacitySelectors/0/value = "lots"
service-multinode | spec.draResources[0] attribute selector with two values | webhook dra-attribute-value
    /spec/draResources/0/claimCreationSpec/devices/0/attributeSelectors/0/value/intValue = 1
service-multinode | spec.draResources[0] requests entry empty | min-length
    /spec/draResources/0/requests/1 = ""
# The operator's name patterns have no `$`: only the start of the name is checked.
service-multinode | spec.draResources[1] resourceClaimTemplateName with a slash after the start | valid
    /spec/draResources/1/resourceClaimTemplateName = "imex/channel"
service-multinode | spec.draResources[1] resourceClaimTemplateName starting with a dash | pattern
    /spec/draResources/1/resourceClaimTemplateName = "-imex"
service-multinode | spec.draResources[0] device count 0 | webhook dra-count
    /spec/draResources/0/claimCreationSpec/devices/0/count = 0
service-multinode | status.draResourceStatuses entry with both statuses | cel-rule
    /status = {"draResourceStatuses": [{"name": "dra-resource-0", "resourceClaimStatus": {"name": "a", "state": "allocated"}, "resourceClaimTemplateStatus": {"name": "b"}}]}
# NIMPipeline.
pipeline | spec.services[0].spec.image removed | required
    -/spec/services/0/spec/image
pipeline | spec.services[0].dependencies[0].port removed | required
    -/spec/services/0/dependencies/0/port
pipeline | spec.services[0].dependencies[0].port a name | type-mismatch
    /spec/services/0/dependencies/0/port = "http"
pipeline | spec.services[0].enabled a string | type-mismatch
    /spec/services/0/enabled = "yes"
pipeline | spec.services an object | type-mismatch
    /spec/services = {"name": "llm"}
pipeline | spec.services[0].spec.replicas with scale.enabled | cel-rule
    /spec/services/0/spec/scale = {"enabled": true, "hpa": {"maxReplicas": 3}}
pipeline | spec.services[1].spec.multiNode with scale.enabled | cel-rule
    -/spec/services/1/spec/replicas
    /spec/services/1/spec/multiNode = {"parallelism": {"tensor": 2}}
    /spec/services/1/spec/scale = {"enabled": true, "hpa": {"maxReplicas": 2}}
pipeline | spec.services[0].spec.expose.ingress enabled with router.ingress | cel-rule
    /spec/services/0/spec/expose/ingress = {"enabled": true}
    /spec/services/0/spec/expose/router = {"hostDomainName": "example.com", "ingress": {"ingressClass": "nginx"}}
pipeline | spec.services[0].spec.expose.router.ingress next to gateway | cel-rule
    /spec/services/0/spec/expose/router = {"hostDomainName": "example.com", "ingress": {"ingressClass": "nginx"}, "gateway": {"namespace": "gateway-system", "name": "inference-gateway"}}
pipeline | spec.services[0].spec.expose.router.eppConfig.configMapRef next to config | cel-rule
    /spec/services/0/spec/expose/router/hostDomainName = "example.com"
    /spec/services/0/spec/expose/router/gateway = {"namespace": "gateway-system", "name": "inference-gateway"}
    /spec/services/0/spec/expose/router/eppConfig/containerSpec = {"name": "epp", "image": {"repository": "registry.k8s.io/gateway-api-inference-extension/epp", "tag": "v1.0.1"}}
    /spec/services/0/spec/expose/router/eppConfig/configMapRef = {"name": "epp", "key": "config.yaml"}
    /spec/services/0/spec/expose/router/eppConfig/config = {"plugins": [{"type": "queue-scorer"}], "schedulingProfiles": [{"name": "default", "plugins": [{"pluginRef": "queue-scorer"}]}]}
pipeline | spec.services[0].spec.expose.router.gateway.backendRef without port | cel-rule
    /spec/services/0/spec/expose/router = {"hostDomainName": "example.com", "gateway": {"namespace": "gateway-system", "name": "inference-gateway", "backendRef": {"kind": "Service", "name": "llm-epp"}}}
pipeline | spec.services[0].spec.multiNode.mpi next to ray | cel-rule
    /spec/services/0/spec/multiNode = {"parallelism": {"tensor": 2}, "mpi": {"mpiStartTimeout": 300}, "ray": {"rayPort": 6379}}
pipeline | spec.services[0].spec.multiNode.computeDomain without name | cel-rule
    /spec/services/0/spec/multiNode = {"parallelism": {"tensor": 2}, "computeDomain": {"create": false}}
pipeline | spec.services[0].spec.draResources entry with two claims | cel-rule
    /spec/services/0/spec/draResources = [{"resourceClaimName": "a", "resourceClaimTemplateName": "b"}]
pipeline | spec.services[0].spec.draResources device with celExpressions and selectors | cel-rule
    /spec/services/0/spec/draResources = [{"claimCreationSpec": {"devices": [{"name": "gpu", "celExpressions": ["true"], "capacitySelectors": [{"key": "memory", "op": "GreaterThanOrEqual", "value": "80Gi"}]}]}}]
pipeline | spec.services[0].spec.expose.router.eppConfig plugin parameters not padded base64 | format
    /spec/services/0/spec/expose/router/hostDomainName = "example.com"
    /spec/services/0/spec/expose/router/gateway = {"namespace": "gateway-system", "name": "inference-gateway"}
    /spec/services/0/spec/expose/router/eppConfig/containerSpec = {"name": "epp", "image": {"repository": "registry.k8s.io/gateway-api-inference-extension/epp", "tag": "v1.0.1"}}
    /spec/services/0/spec/expose/router/eppConfig/config = {"plugins": [{"type": "queue-scorer", "parameters": "e30"}], "schedulingProfiles": [{"name": "default", "plugins": [{"pluginRef": "queue-scorer"}]}]}
pipeline | spec.services[0].spec.expose.router.eppConfig plugin parameters padded base64 | valid
    /spec/services/0/spec/expose/router/hostDomainName = "example.com"
    /spec/services/0/spec/expose/router/gateway = {"namespace": "gateway-system", "name": "inference-gateway"}
    /spec/services/0/spec/expose/router/eppConfig/containerSpec = {"name": "epp", "image": {"repository": "registry.k8s.io/gateway-api-inference-extension/epp", "tag": "v1.0.1"}}
    /spec/services/0/spec/expose/router/eppConfig/config = {"plugins": [{"type": "queue-scorer", "parameters": "e30="}], "schedulingProfiles": [{"name": "default", "plugins": [{"pluginRef": "queue-scorer"}]}]}
pipeline | spec.services[0].spec.expose.router.hostDomainName with an underscore | pattern
    /spec/services/0/spec/expose/router = {"hostDomainName": "my_domain.com", "ingress": {"ingressClass": "nginx"}}
pipeline | spec.services[0].spec.expose.router.gateway.name empty | min-length
    /spec/services/0/spec/expose/router = {"hostDomainName": "example.com", "gateway": {"namespace": "gateway-system", "name": ""}}
pipeline | spec.services[0].spec.resources.claims with a duplicate name | duplicate-item
    /spec/services/0/spec/resources/claims = [{"name": "gpu"}, {"name": "gpu"}]
pipeline | spec.services[0].spec.replicas negative | out-of-range
    /spec/services/0/spec/replicas = -1
pipeline | spec.services[0].spec.inferencePlatform unknown | enum
    /spec/services/0/spec/inferencePlatform = "kubeflow"
pipeline | spec.services[0].spec.replica unknown | unknown-field
    /spec/services/0/spec/replica = 1
pipeline | spec.services[0].name removed | webhook required-value
    -/spec/services/0/name
pipeline | spec.services[1].name duplicate | webhook duplicate-service
    /spec/services/1/name = "llm"
pipeline | spec.services[1].enabled false | valid
    /spec/services/1/enabled = false
# NIMBuild.
build | spec.nimCache removed | required
    -/spec/nimCache
build | spec.nimCache.name removed | required
    -/spec/nimCache/name
build | spec.image removed | required
    -/spec/image
build | spec.image.tag removed | required
    -/spec/image/tag
build | spec.resources.requests.cpu in words | pattern
    /spec/resources/requests/cpu = "eight"
build | spec.resources.limits GPU an integer | valid
    /spec/resources/limits/nvidia.com~1gpu = 1
build | spec.modelName a number | type-mismatch
    /spec/modelName = 7
build | spec.labels value a boolean | type-mismatch
    /spec/labels/team = true
build | spec.tolerations[0].tolerationSeconds a string | type-mismatch
    /spec/tolerations/0/tolerationSeconds = "x"
build | spec.tolerations[0] unknown field | unknown-field
    /spec/tolerations/0/seconds = 30
build | spec.env[0].name removed | required
    -/spec/env/0/name
build | spec.nimCache.profiles unknown | unknown-field
    /spec/nimCache/profiles = ["a"]
build | spec.nimCache.name empty | webhook required-value
    /spec/nimCache/name = ""
build | spec.image.tag empty | webhook required-value
    /spec/image/tag = ""
build | spec.resources.requests.cpu 500m | valid
    /spec/resources/requests/cpu = "500m"
"#;

/// The mutations of [`MUTATIONS`], then those at exact length limits, whose values are built.
fn mutations() -> Vec<Mutation> {
    let mut out: Vec<Mutation> = Vec::new();
    for (index, line) in MUTATIONS.lines().enumerate() {
        let at = || format!("MUTATIONS line {}: `{line}`", index + 1);
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        if line.starts_with(char::is_whitespace) {
            let edit = match trimmed.strip_prefix('-') {
                Some(pointer) => (pointer, None),
                None => {
                    let (pointer, value) = trimmed
                        .split_once(" = ")
                        .unwrap_or_else(|| panic!("{}: expected `pointer = value`", at()));
                    let value =
                        serde_json::from_str(value).unwrap_or_else(|e| panic!("{}: {e}", at()));
                    (pointer, Some(value))
                }
            };
            out.last_mut()
                .unwrap_or_else(|| panic!("{}: an edit before any mutation", at()))
                .edits
                .push(edit);
            continue;
        }
        let fields: Vec<&'static str> = line.split(" | ").collect();
        let &[base, what, breaks] = fields.as_slice() else {
            panic!("{}: expected `base | what | breaks`", at());
        };
        let intent = match breaks.split_once(' ') {
            _ if breaks == "valid" => Intent::Valid,
            Some(("webhook", code)) => Intent::WebhookOnly(code),
            _ => Intent::Breaks(
                SERVER_CODES
                    .into_iter()
                    .find(|c| *c == breaks)
                    .unwrap_or_else(|| panic!("{}: `{breaks}` is not a server code", at())),
            ),
        };
        out.push(mutation(base, what, intent, Vec::new()));
    }
    if let Some(empty) = out.iter().find(|m| m.edits.is_empty()) {
        panic!("MUTATIONS: `{}: {}` has no edit", empty.base, empty.what);
    }

    let domain = |length: usize| json!(format!("{}.com", "a".repeat(length - 4)));
    let backend = |name: String| {
        json!({
            "kind": "InferencePool",
            "group": "inference.networking.k8s.io",
            "name": name,
        })
    };
    out.extend([
        mutation(
            "service",
            "spec.expose.router.hostDomainName 63 characters",
            Intent::Valid,
            vec![put("/spec/expose/router/hostDomainName", domain(63))],
        ),
        mutation(
            "service",
            "spec.expose.router.hostDomainName 64 characters",
            Intent::Breaks(code::MAX_LENGTH),
            vec![put("/spec/expose/router/hostDomainName", domain(64))],
        ),
        mutation(
            "pipeline",
            "spec.services[0].spec.expose.router.hostDomainName 64 characters",
            Intent::Breaks(code::MAX_LENGTH),
            vec![put(
                "/spec/services/0/spec/expose/router",
                json!({"hostDomainName": domain(64), "ingress": {"ingressClass": "nginx"}}),
            )],
        ),
        // maxLength counts characters, not bytes.
        mutation(
            "service",
            "spec.expose.router.gateway.backendRef.name 253 two-byte characters",
            Intent::Valid,
            vec![put(
                "/spec/expose/router/gateway/backendRef",
                backend("é".repeat(253)),
            )],
        ),
        mutation(
            "service",
            "spec.expose.router.gateway.backendRef.name 254 two-byte characters",
            Intent::Breaks(code::MAX_LENGTH),
            vec![put(
                "/spec/expose/router/gateway/backendRef",
                backend("é".repeat(254)),
            )],
        ),
    ]);
    out
}

/// Values around the limits of bounded, patterned and enumerated fields.
fn generators() -> Vec<Generated> {
    let regex = |pattern: &str| {
        string_regex(pattern)
            .expect("a valid generator regex")
            .prop_map(Value::String)
            .boxed()
    };
    let int = |range: std::ops::Range<i64>| range.prop_map(|n| json!(n)).boxed();
    let port = || {
        prop_oneof![
            -2_i64..3,
            65_533_i64..65_538,
            any::<i32>().prop_map(i64::from)
        ]
        .prop_map(|n| json!(n))
        .boxed()
    };
    // Quantities and durations: mostly well-formed, some not.
    let quantity = || {
        prop_oneof![
            3 => regex("[+-]?[0-9]{1,3}(\\.[0-9]{1,2})?(Ki|Mi|Gi|Ti|m|k|M|G|e3|E-2)?"),
            2 => regex("[+-]?[0-9.]{0,4}(i|mi|KB|x|e|Gi[0-9])?"),
        ]
        .boxed()
    };
    let duration = || {
        prop_oneof![
            3 => regex("([0-9]{1,2}h)?([0-9]{1,2}m)?[0-9]{1,2}s"),
            2 => regex("0|[0-9]{0,2}(s|m|h|us|min|ms[0-9]h)"),
        ]
        .boxed()
    };
    let no_scale = vec![del("/spec/scale")];
    vec![
        generated("service", "/spec/expose/service/port", vec![], port()),
        generated("service", "/spec/replicas", no_scale.clone(), int(-3..4)),
        generated(
            "service",
            "/spec/expose/router/hostDomainName",
            vec![],
            prop_oneof![
                regex("[a-z0-9]{1,8}(\\.[a-z0-9-]{1,8}){0,3}"),
                regex("[a-zA-Z0-9.-]{0,70}"),
            ]
            .boxed(),
        ),
        generated(
            "service",
            "/spec/expose/router/gateway/backendRef",
            vec![],
            (
                regex("[a-zA-Z0-9-]{0,66}"),
                prop_oneof![Just(-1_i64), 0_i64..2, 999_999_i64..1_000_002],
            )
                .prop_map(|(kind, weight)| {
                    json!({
                        "group": "inference.networking.k8s.io",
                        "kind": kind,
                        "name": "pool",
                        "weight": weight,
                    })
                })
                .boxed(),
        ),
        generated(
            "service",
            "/spec/storage/sharedMemorySizeLimit",
            vec![],
            quantity(),
        ),
        generated(
            "service",
            "/spec/metrics/serviceMonitor/interval",
            vec![],
            duration(),
        ),
        generated(
            "service",
            "/spec/inferencePlatform",
            vec![],
            proptest::sample::select(vec!["standalone", "kserve", "Standalone", "", "kubeflow"])
                .prop_map(|s| json!(s))
                .boxed(),
        ),
        generated(
            "service-multinode",
            "/spec/draResources/0/claimCreationSpec/generateName",
            vec![],
            regex("[a-z0-9-]{0,20}"),
        ),
        generated(
            "service-multinode",
            "/spec/multiNode/parallelism/tensor",
            vec![],
            int(-2..3),
        ),
        generated(
            "service-multinode",
            "/spec/draResources/0/claimCreationSpec/devices/0/attributeSelectors/0/op",
            vec![],
            proptest::sample::select(vec![
                "Equal",
                "NotEqual",
                "GreaterThan",
                "GreaterThanOrEqual",
                "LessThan",
                "LessThanOrEqual",
                "equal",
                "Matches",
            ])
            .prop_map(|s| json!(s))
            .boxed(),
        ),
        generated(
            "service-multinode",
            "/spec/draResources/0/claimCreationSpec/devices/0/capacitySelectors/0/value",
            vec![],
            quantity(),
        ),
        generated(
            "pipeline",
            "/spec/services/1/spec/expose/service/grpcPort",
            vec![],
            port(),
        ),
        generated(
            "cache-hf",
            "/spec/source/hf/endpoint",
            vec![],
            regex("(https?|ftp|HTTP)://[a-z.]{0,10}(/v1/hf)?/?"),
        ),
        generated(
            "cache-datastore",
            "/spec/source/dataStore/endpoint",
            vec![],
            regex("(https?|ftp)://[a-z.:0-9]{0,12}(/v1)?(/hf)?/?"),
        ),
        generated("cache", "/spec/resources/memory", vec![], quantity()),
        generated("build", "/spec/resources/requests/cpu", vec![], quantity()),
    ]
}
