//! The CRDs' CEL rules, enforced by the server with the rules' own messages.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use kube::api::{Patch, PatchParams, PostParams};
use nim_crds::{NIMBuild, NIMCache, NIMService, Validate};
use serde_json::{Value, json};

use crate::crds::MANAGER;
use crate::support::{Ctx, TestResult, documents, in_namespace, kind_of, rejection, workspace};

/// A CEL rule of a CRD: the kind, where it sits and what it says.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Rule {
    pub kind: String,
    pub path: String,
    pub message: String,
    /// Whether it compares with `oldSelf` (a transition rule, checked on update only).
    pub transition: bool,
}

/// Every `x-kubernetes-validations` rule in the generated CRDs.
pub fn rules() -> Vec<Rule> {
    fn walk(kind: &str, schema: &Value, path: &str, out: &mut Vec<Rule>) {
        for rule in schema["x-kubernetes-validations"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let text = rule["rule"].as_str().unwrap_or_default();
            out.push(Rule {
                kind: kind.to_owned(),
                path: path.to_owned(),
                message: rule["message"].as_str().unwrap_or_default().to_owned(),
                transition: text.contains("oldSelf"),
            });
        }
        for (key, child) in schema["properties"].as_object().into_iter().flatten() {
            walk(kind, child, &format!("{path}.{key}"), out);
        }
        for key in ["items", "additionalProperties"] {
            if schema[key].is_object() {
                walk(kind, &schema[key], &format!("{path}[]"), out);
            }
        }
    }
    let mut out = Vec::new();
    for kind in ["NIMCache", "NIMService", "NIMPipeline", "NIMBuild"] {
        walk(
            kind,
            nim_crds::validate::schema_of(kind).expect("schema"),
            "",
            &mut out,
        );
    }
    out
}

/// The lint suite's CEL cases: each breaks one rule of a NIMCache or NIMService.
fn cel_cases() -> Vec<PathBuf> {
    let dir = workspace().join("nim-crds/tests/data/lint");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("lint cases")
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("cel-") && n.ends_with(".yaml"))
        })
        .collect();
    files.sort();
    files
}

/// The same NIMService spec inside a NIMPipeline, where the CRD repeats the service rules.
fn as_pipeline(service: &Value) -> Value {
    json!({
        "apiVersion": "apps.nvidia.com/v1alpha1",
        "kind": "NIMPipeline",
        "metadata": {"name": "pipeline"},
        "spec": {"services": [{"name": "svc", "enabled": true, "spec": service["spec"].clone()}]}
    })
}

/// `spec.draResources[0].x` -> `.spec.draResources[].x`, the form of [`Rule::path`].
fn rule_path(path: &str) -> String {
    let mut out = String::from(".");
    let mut in_index = false;
    for c in path.chars() {
        match c {
            '[' => {
                in_index = true;
                out.push_str("[]");
            }
            ']' => in_index = false,
            _ if in_index => {}
            _ => out.push(c),
        }
    }
    out
}

/// The CEL violations `validate()` reports for a document: (rule path, message).
fn our_cel_messages(doc: &Value) -> BTreeSet<(String, String)> {
    let report = nim_crds::lint::lint_str("doc.yaml", &doc.to_string());
    report
        .files
        .iter()
        .flat_map(|f| &f.documents)
        .flat_map(|d| &d.diagnostics)
        .filter(|d| d.code == "cel-rule")
        .map(|d| (rule_path(&d.path), d.message.clone()))
        .collect()
}

/// Issue 3.2.3: every CEL rule rejects an object that breaks it, with the rule's own message,
/// and `validate()` reports the same message. Every non-transition rule of the CRDs is broken
/// by at least one object here (the status rule in `status::status_subresource`).
pub async fn each_rule_rejects_with_its_message(ctx: Ctx) -> TestResult {
    let mut broken: BTreeMap<(String, String, String), usize> = BTreeMap::new();
    let mut cases = Vec::new();
    for file in cel_cases() {
        let (docs, _) = documents(&file);
        for doc in docs {
            if kind_of(&doc) == "NIMService" {
                cases.push((
                    format!("{} as a NIMPipeline", file.display()),
                    as_pipeline(&doc),
                ));
            }
            cases.push((file.display().to_string(), doc));
        }
    }

    let dry_run = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    let mut rejected = 0;
    for (what, doc) in &cases {
        let kind = kind_of(doc).to_owned();
        let ours = our_cel_messages(doc);
        let answer = ctx
            .dynamic(&kind)
            .create(&dry_run, &in_namespace(doc, &ctx.namespace))
            .await;
        if ours.is_empty() {
            // A companion document (the NIMCache a service refers to): valid for both.
            answer.map_err(|e| format!("{what}: {kind} rejected: {}", rejection(&e)))?;
            continue;
        }
        let error = answer.expect_err(&format!("{what}: the server accepted it"));
        let message = rejection(&error);
        assert!(
            message.contains("(422)"),
            "{what}: not a validation error: {message}"
        );
        for (path, expected) in &ours {
            assert!(
                message.contains(expected.as_str()),
                "{what}: the server's answer lacks {expected:?}: {message}"
            );
            let key = (kind.clone(), path.clone(), expected.clone());
            *broken.entry(key).or_default() += 1;
        }
        rejected += 1;
    }
    assert!(rejected >= 20, "{rejected} objects break a CEL rule");

    let untested: Vec<Rule> = rules()
        .into_iter()
        .filter(|r| !r.transition && !r.path.starts_with(".status"))
        .filter(|r| !broken.contains_key(&(r.kind.clone(), r.path.clone(), r.message.clone())))
        .collect();
    assert!(untested.is_empty(), "rules no object breaks: {untested:#?}");
    println!(
        "    {rejected} objects broke {} distinct rules",
        broken.len()
    );
    Ok(())
}

/// The message of a failed update, which must name `message`; `validate_update` must agree.
async fn expect_update_rejected<K>(
    api: &kube::Api<K>,
    old: &K,
    new: &K,
    message: &str,
) -> TestResult
where
    K: kube::Resource<DynamicType = ()>
        + Validate
        + Clone
        + serde::Serialize
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let ours: Vec<String> = new
        .validate_update(old)
        .into_iter()
        .map(|d| d.message)
        .collect();
    assert!(
        ours.iter().any(|m| m == message),
        "validate_update misses {message:?}: {ours:?}"
    );
    let name = new.meta().name.clone().unwrap_or_default();
    let error = api
        .replace(&name, &PostParams::default(), new)
        .await
        .expect_err(&format!(
            "the server accepted an update breaking {message:?}"
        ));
    let answer = rejection(&error);
    assert!(
        answer.contains(message),
        "the server's answer lacks {message:?}: {answer}"
    );
    Ok(())
}

/// Issue 3.2.3: the transition rules (NIMCache's immutable `modelPuller`, NIMBuild's
/// immutable `spec`, NIMService's immutable `draResources`) reject updates, while updates
/// that leave those fields alone pass; `validate_update` agrees on both.
pub async fn transition_rules_reject_updates(ctx: Ctx) -> TestResult {
    let wire = workspace().join("nim-crds/tests/data/wire");
    let load = |file: &str| {
        let (docs, _) = documents(&wire.join(file));
        let mut doc = serde_json::to_value(in_namespace(&docs[0], &ctx.namespace)).expect("json");
        doc.as_object_mut().map(|o| o.remove("status"));
        doc
    };

    // NIMCache: spec.source.ngc.modelPuller is immutable; the PVC size is not.
    let caches = ctx.api::<NIMCache>();
    let cache: NIMCache = serde_json::from_value(load("nimcache-ngc.yaml"))?;
    let cache = caches.create(&PostParams::default(), &cache).await?;
    let mut moved = cache.clone();
    if let Some(ngc) = moved.spec.source.ngc.as_mut() {
        ngc.model_puller = "nvcr.io/nim/meta/llama-3.1-8b-instruct:1.9.0".to_owned();
    }
    expect_update_rejected(
        &caches,
        &cache,
        &moved,
        "modelPuller is an immutable field. Please create a new NIMCache resource instead when you want to change this container.",
    )
    .await?;
    let mut resized = cache.clone();
    resized.metadata.labels = Some([("tier".to_owned(), "gold".to_owned())].into());
    assert!(
        resized
            .validate_update(&cache)
            .iter()
            .all(|d| !d.is_error())
    );
    caches
        .replace(
            &resized.metadata.name.clone().unwrap_or_default(),
            &PostParams::default(),
            &resized,
        )
        .await?;

    // NIMBuild: the whole spec is immutable.
    let builds = ctx.api::<NIMBuild>();
    let build: NIMBuild = serde_json::from_value(load("nimbuild.yaml"))?;
    let build = builds.create(&PostParams::default(), &build).await?;
    let mut renamed = build.clone();
    renamed.spec.model_name = Some("another-engine".to_owned());
    expect_update_rejected(&builds, &build, &renamed, "spec is immutable").await?;

    // NIMService: draResources can be neither changed, added nor removed.
    let services = ctx.api::<NIMService>();
    let service: NIMService = serde_json::from_value(load("nimservice-multinode-dra.yaml"))?;
    let service = services.create(&PostParams::default(), &service).await?;
    assert!(
        service.spec.dra_resources.is_some(),
        "the DRA manifest has draResources"
    );
    let mut removed = service.clone();
    removed.spec.dra_resources = None;
    expect_update_rejected(
        &services,
        &service,
        &removed,
        "spec.draResources is immutable",
    )
    .await?;
    let mut changed = service.clone();
    if let Some(first) = changed
        .spec
        .dra_resources
        .as_mut()
        .and_then(|d| d.first_mut())
    {
        first.requests = Some(vec!["another-request".to_owned()]);
    }
    expect_update_rejected(
        &services,
        &service,
        &changed,
        "spec.draResources is immutable",
    )
    .await?;

    let plain: NIMService = serde_json::from_value(load("nimservice-full.yaml"))?;
    let plain = services.create(&PostParams::default(), &plain).await?;
    let mut added = plain.clone();
    added.spec.dra_resources = service.spec.dra_resources.clone();
    expect_update_rejected(&services, &plain, &added, "spec.draResources is immutable").await?;

    // A server-side apply that leaves draResources alone is accepted.
    let mut relabelled = serde_json::to_value(&service)?;
    for field in [
        "resourceVersion",
        "uid",
        "creationTimestamp",
        "generation",
        "managedFields",
    ] {
        relabelled["metadata"]
            .as_object_mut()
            .map(|m| m.remove(field));
    }
    relabelled["metadata"]["labels"] = json!({"tier": "gold"});
    let name = service.metadata.name.clone().unwrap_or_default();
    services
        .patch(
            &name,
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(&relabelled),
        )
        .await?;
    Ok(())
}
