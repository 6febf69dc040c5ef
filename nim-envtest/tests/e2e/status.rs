//! The status subresource: status goes through `/status`, spec through the main endpoint.

use kube::api::{Patch, PatchParams, PostParams};
use nim_crds::{NIMCache, NIMCacheState, NIMService, NIMServiceState};
use serde_json::{Value, json};

use crate::support::{Ctx, TestResult, documents, in_namespace, rejection, workspace};

/// A wire-format document (spec and the status the operator writes), in the case's namespace.
fn wire(ctx: &Ctx, file: &str) -> (Value, Value) {
    let (docs, _) = documents(&workspace().join("nim-crds/tests/data/wire").join(file));
    let mut doc = serde_json::to_value(in_namespace(&docs[0], &ctx.namespace)).expect("json");
    let status = doc
        .as_object_mut()
        .and_then(|o| o.remove("status"))
        .expect("the wire document carries a status");
    (doc, status)
}

/// Issue 3.2.4: the status (state, conditions, cached profiles, DRA claim states) is patched
/// through `/status` and reads back as sent, in our typed accessors too, while spec and
/// `metadata.generation` stay untouched; the main endpoint ignores status; the status CEL rule
/// is enforced on `/status` with its message.
pub async fn status_subresource(ctx: Ctx) -> TestResult {
    // NIMCache: state Ready with the cached profiles.
    let caches = ctx.api::<NIMCache>();
    let (doc, status) = wire(&ctx, "nimcache-ngc.yaml");
    let cache: NIMCache = serde_json::from_value(doc)?;
    let created = caches.create(&PostParams::default(), &cache).await?;
    let name = created.metadata.name.clone().unwrap_or_default();
    assert_eq!(created.status, None);

    let patched = caches
        .patch_status(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": status})),
        )
        .await?;
    assert_eq!(serde_json::to_value(&patched)?["status"], status);
    assert_eq!(
        patched.spec, created.spec,
        "a status patch leaves spec alone"
    );
    assert_eq!(patched.metadata.generation, created.metadata.generation);
    assert_eq!(patched.state(), Some(NIMCacheState::Ready));
    let profiles = patched.status.as_ref().and_then(|s| s.profiles.as_ref());
    assert!(
        profiles.is_some_and(|p| !p.is_empty()),
        "cached profiles read back"
    );
    assert!(patched.is_ready());

    // Spec sent to /status is ignored; status sent to the main endpoint is ignored.
    let mut with_spec = json!({"status": {"state": "InProgress"}});
    with_spec["spec"] = json!({"storage": {"pvc": {"size": "1Ti"}}});
    let after = caches
        .patch_status(&name, &PatchParams::default(), &Patch::Merge(&with_spec))
        .await?;
    assert_eq!(after.spec, created.spec, "/status ignores spec");
    assert_eq!(after.state(), Some(NIMCacheState::InProgress));
    let relabelled = caches
        .patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(
                json!({"metadata": {"labels": {"a": "b"}}, "status": {"state": "Failed"}}),
            ),
        )
        .await?;
    assert_eq!(
        relabelled.state(),
        Some(NIMCacheState::InProgress),
        "the main endpoint ignores status"
    );

    // NIMService: conditions, replicas and DRA claim states.
    let services = ctx.api::<NIMService>();
    let (doc, status) = wire(&ctx, "nimservice-multinode-dra.yaml");
    let service: NIMService = serde_json::from_value(doc)?;
    let created = services.create(&PostParams::default(), &service).await?;
    let name = created.metadata.name.clone().unwrap_or_default();
    let patched = services
        .patch_status(
            &name,
            &PatchParams::default(),
            &Patch::Merge(json!({"status": status})),
        )
        .await?;
    assert_eq!(serde_json::to_value(&patched)?["status"], status);
    assert_eq!(patched.spec, created.spec);
    assert_eq!(patched.metadata.generation, created.metadata.generation);
    assert!(
        patched
            .state()
            .is_some_and(|s| !matches!(s, NIMServiceState::Unknown(_))),
        "a known state"
    );
    assert!(!patched.conditions().is_empty(), "conditions read back");

    // The status CEL rule: a DRA resource status names a claim or a template, not both.
    let both = json!({"status": {"draResourceStatuses": [{
        "name": "dra-resource-0",
        "resourceClaimStatus": {"name": "claim", "state": "allocated"},
        "resourceClaimTemplateStatus": {"name": "template"},
    }]}});
    let error = services
        .patch_status(&name, &PatchParams::default(), &Patch::Merge(&both))
        .await
        .expect_err("both a claim and a template status");
    let message = rejection(&error);
    assert!(
        message.contains(
            "exactly one of resourceClaimStatus and resourceClaimTemplateStatus must be set."
        ),
        "{message}"
    );
    let mut ours = patched.clone();
    ours.status = Some(serde_json::from_value(both["status"].clone())?);
    let diagnostics = nim_crds::Validate::validate(&ours);
    assert!(
        diagnostics
            .iter()
            .any(|d| d.message.contains("exactly one of resourceClaimStatus")),
        "validate() agrees: {diagnostics:?}"
    );
    Ok(())
}
