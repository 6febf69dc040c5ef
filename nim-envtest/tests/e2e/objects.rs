//! Valid objects of every kind on the server: created, read back and compared.

use std::collections::BTreeSet;
use std::path::PathBuf;

use kube::api::{Patch, PatchParams, PostParams};
use nim_crds::{NIMBuild, NIMCache, NIMPipeline, NIMService};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::crds::MANAGER;
use crate::support::{Ctx, TestResult, documents, in_namespace, kind_of, rejection, workspace};

/// Every valid manifest the project tests with: the README's main-job manifest, the
/// wire-format documents (every field of every kind) and the lint suite's clean cases.
fn valid_manifests() -> Vec<PathBuf> {
    let root = workspace();
    let mut files = vec![root.join("examples/manifests/llama-3.1-8b.yaml")];
    for dir in ["nim-crds/tests/data/wire", "nim-crds/tests/data/lint"] {
        let mut found: Vec<PathBuf> = std::fs::read_dir(root.join(dir))
            .expect("test data directory")
            .flatten()
            .map(|e| e.path())
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

/// Paths (`spec.expose.service.port`) present in `after` but not in `before`.
fn added_paths(before: &Value, after: &Value, path: &str, out: &mut BTreeSet<String>) {
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            for (key, value) in a {
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                match b.get(key) {
                    Some(old) => added_paths(old, value, &child, out),
                    None => {
                        out.insert(child);
                    }
                }
            }
        }
        (Value::Array(b), Value::Array(a)) => {
            for (old, new) in b.iter().zip(a) {
                added_paths(old, new, &format!("{path}[]"), out);
            }
        }
        _ => {}
    }
}

/// The typed view of the server's object, serialized again, equals the server's JSON: our
/// types lose nothing the server stores.
fn typed_round_trip<K: Serialize + DeserializeOwned>(server: &Value) -> Result<(), String> {
    let typed: K = serde_json::from_value(server.clone()).map_err(|e| e.to_string())?;
    let mut again = serde_json::to_value(&typed).map_err(|e| e.to_string())?;
    let mut server = server.clone();
    for value in [&mut again, &mut server] {
        // ObjectMeta is k8s-openapi's, not ours; its round trip is its own business.
        if let Some(map) = value.as_object_mut() {
            map.remove("metadata");
        }
    }
    if same(&again, &server) {
        Ok(())
    } else {
        Err(format!(
            "typed round trip changed the object:\nserver: {server:#}\ntyped:  {again:#}"
        ))
    }
}

/// JSON equality, except that a number equals the string of its digits: int-or-string
/// quantities (`nvidia.com/gpu: 1`) come back from our types as strings, because
/// k8s-openapi's `Quantity` is one; the server and the operator read both as the same quantity.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(v, w)| same(v, w))
        }
        (Value::Number(n), Value::String(s)) | (Value::String(s), Value::Number(n)) => {
            n.to_string() == *s
        }
        _ => a == b,
    }
}

/// Issue 3.2.2: one valid object of every kind, covering every feature of the test manifests,
/// is created, read back and compared. The server's copy differs from what was sent only by
/// the schema defaults, and [`nim_crds::defaulting`] predicts every one of them.
pub async fn round_trip_with_server_defaults(ctx: Ctx) -> TestResult {
    let mut kinds = BTreeSet::new();
    let mut defaulted = BTreeSet::new();
    let mut objects = 0;
    for (index, file) in valid_manifests().iter().enumerate() {
        let namespace = format!("{}-{index}", ctx.namespace);
        let (docs, _) = documents(file);
        for doc in docs {
            let kind = kind_of(&doc).to_owned();
            let name = doc["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let what = format!("{kind} {name} from {}", file.display());
            let api = kube::Api::namespaced_with(
                ctx.client.clone(),
                &namespace,
                &crate::support::resource(&kind),
            );
            let object = in_namespace(&doc, &namespace);
            api.create(&PostParams::default(), &object)
                .await
                .map_err(|e| format!("{what}: rejected: {}", rejection(&e)))?;
            let stored = serde_json::to_value(api.get(&name).await?)?;

            let mut expected = doc.clone();
            assert!(nim_crds::defaulting::apply_defaults(&kind, &mut expected));
            assert_eq!(
                stored["spec"], expected["spec"],
                "{what}: the server's spec is not ours plus our defaults"
            );
            assert_eq!(
                stored.get("status"),
                None,
                "{what}: create must not set status"
            );
            for key in ["labels", "annotations"] {
                assert_eq!(
                    stored["metadata"].get(key),
                    doc["metadata"].get(key),
                    "{what}: {key}"
                );
            }
            let mut added = BTreeSet::new();
            added_paths(
                &doc["spec"],
                &stored["spec"],
                &format!("{kind}.spec"),
                &mut added,
            );
            defaulted.extend(added);

            match kind.as_str() {
                "NIMCache" => typed_round_trip::<NIMCache>(&stored),
                "NIMService" => typed_round_trip::<NIMService>(&stored),
                "NIMPipeline" => typed_round_trip::<NIMPipeline>(&stored),
                "NIMBuild" => typed_round_trip::<NIMBuild>(&stored),
                other => Err(format!("unexpected kind {other}")),
            }
            .map_err(|e| format!("{what}: {e}"))?;
            kinds.insert(kind);
            objects += 1;
        }
    }
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        ["NIMBuild", "NIMCache", "NIMPipeline", "NIMService"],
        "every kind is exercised"
    );
    assert!(
        !defaulted.is_empty(),
        "the corpus exercises server defaults"
    );
    println!(
        "    {objects} objects round-tripped; the server filled {} default paths, all predicted: {}",
        defaulted.len(),
        defaulted.iter().cloned().collect::<Vec<_>>().join(", ")
    );
    Ok(())
}

/// The defaults our types document (in `nim_crds::defaults` and the field docs) are the
/// ones the server applies to a minimal object.
pub async fn documented_defaults_are_the_servers(ctx: Ctx) -> TestResult {
    let service: NIMService = serde_json::from_value(json!({
        "apiVersion": "apps.nvidia.com/v1alpha1",
        "kind": "NIMService",
        "metadata": {"name": "minimal", "namespace": ctx.namespace},
        "spec": {
            "image": {"repository": "nvcr.io/nim/meta/llama-3.1-8b-instruct", "tag": "1.8.4"},
            "expose": {"service": {}},
            "multiNode": {"parallelism": {}},
            "storage": {"nimCache": {"name": "cache"}},
        }
    }))?;
    let api = ctx.api::<NIMService>();
    let stored = api.create(&PostParams::default(), &service).await?;
    assert_eq!(
        stored.spec,
        nim_crds::defaulting::with_server_defaults(&service)?.spec
    );

    let port = stored
        .spec
        .expose
        .as_ref()
        .and_then(|e| e.service.as_ref())
        .and_then(|s| s.port);
    assert_eq!(
        port,
        Some(nim_crds::defaults::API_PORT),
        "expose.service.port"
    );
    assert_eq!(
        stored.spec.inference_platform,
        Some(nim_crds::InferencePlatform::Standalone),
        "inferencePlatform"
    );
    let stored_json = serde_json::to_value(&stored)?;
    assert_eq!(
        stored_json["spec"]["multiNode"]["backendType"], "lws",
        "multiNode.backendType"
    );
    Ok(())
}

/// Unknown fields never reach storage: server-side apply with strict field validation rejects
/// them, naming the field, and without it the server prunes them, as `validate()` warns.
pub async fn unknown_fields_are_rejected(ctx: Ctx) -> TestResult {
    let api = ctx.dynamic("NIMCache");
    let mut doc = json!({
        "apiVersion": "apps.nvidia.com/v1alpha1",
        "kind": "NIMCache",
        "metadata": {"name": "typo", "namespace": ctx.namespace},
        "spec": {
            "source": {"ngc": {"modelPuller": "nvcr.io/nim/meta/llama-3.1-8b-instruct:1.8.4",
                               "pullSecret": "ngc-secret", "authSecret": "ngc-api-secret"}},
            "storage": {"pvc": {"create": true, "size": "50Gi", "volumeAccessMode": "ReadWriteOnce"}},
            "resoures": {"cpu": "1"},
        }
    });
    let diagnostics = nim_crds::lint::lint_str("typo.yaml", &serde_json::to_string(&doc)?);
    assert!(
        diagnostics.to_string().contains("resoures"),
        "lint names the unknown field:\n{diagnostics}"
    );

    let strict = PatchParams::apply(MANAGER).validation_strict();
    let error = api
        .patch("typo", &strict, &Patch::Apply(&doc))
        .await
        .expect_err("strict field validation rejects an unknown field");
    let message = rejection(&error);
    assert!(message.contains("spec.resoures"), "{message}");

    // Server-side apply cannot even build a typed patch from an undeclared field, whatever
    // the field validation; a create without it (as `kubectl create` sends) prunes the field.
    let error = api
        .patch(
            "typo",
            &PatchParams::apply(MANAGER).validation_ignore(),
            &Patch::Apply(&doc),
        )
        .await
        .expect_err("server-side apply rejects undeclared fields");
    assert!(
        rejection(&error).contains("field not declared in schema"),
        "{}",
        rejection(&error)
    );
    let created = api
        .create(&PostParams::default(), &in_namespace(&doc, &ctx.namespace))
        .await?;
    let stored = serde_json::to_value(created)?;
    assert_eq!(stored["spec"].get("resoures"), None, "pruned: {stored:#}");
    doc["spec"].as_object_mut().map(|s| s.remove("resoures"));
    assert_eq!(stored["spec"]["storage"], doc["spec"]["storage"]);
    Ok(())
}
