//! The generated CRDs on the server.

use std::time::Duration;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::Api;
use kube::api::{Patch, PatchParams};
use kube::runtime::wait::{await_condition, conditions};

use crate::support::{Ctx, TestResult};

/// The field manager of everything this suite applies.
pub const MANAGER: &str = "nim-rs-e2e";

/// Issue 3.2.1: the four CRDs, applied with server-side apply, are accepted and Established,
/// with their names accepted and no structural-schema complaint.
pub async fn apply_and_establish(ctx: Ctx) -> TestResult {
    let api: Api<CustomResourceDefinition> = Api::all(ctx.client.clone());
    let crds = nim_crds::crds();
    assert_eq!(crds.len(), 4);
    for crd in &crds {
        let name = crd.metadata.name.clone().unwrap_or_default();
        api.patch(
            &name,
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(crd),
        )
        .await
        .map_err(|e| format!("applying {name}: {}", crate::support::rejection(&e)))?;
    }
    for crd in &crds {
        let name = crd.metadata.name.clone().unwrap_or_default();
        let established = await_condition(api.clone(), &name, conditions::is_crd_established());
        tokio::time::timeout(Duration::from_secs(30), established)
            .await
            .map_err(|_| format!("{name} not Established after 30s"))??;
        let stored = api.get(&name).await?;
        let conditions = stored.status.and_then(|s| s.conditions).unwrap_or_default();
        let state = |kind: &str| {
            conditions
                .iter()
                .find(|c| c.type_ == kind)
                .map(|c| (c.status.clone(), c.message.clone()))
        };
        assert_eq!(
            state("Established").map(|s| s.0).as_deref(),
            Some("True"),
            "{name}"
        );
        assert_eq!(
            state("NamesAccepted").map(|s| s.0).as_deref(),
            Some("True"),
            "{name}"
        );
        assert_eq!(
            state("NonStructuralSchema"),
            None,
            "{name} is not structural"
        );
    }
    Ok(())
}

/// The server stores our CRDs unchanged (nothing pruned or rewritten in names, scope,
/// versions, schemas, printer columns or subresources), except for the one field it defaults:
/// `conversion: {strategy: None}`.
pub async fn published_schema_matches_ours(ctx: Ctx) -> TestResult {
    let api: Api<CustomResourceDefinition> = Api::all(ctx.client.clone());
    for ours in nim_crds::crds() {
        let name = ours.metadata.name.clone().unwrap_or_default();
        let stored = api.get(&name).await?;
        let mut ours_spec = serde_json::to_value(&ours.spec)?;
        let stored_spec = serde_json::to_value(&stored.spec)?;
        assert_eq!(ours_spec.get("conversion"), None, "we set no conversion");
        ours_spec["conversion"] = serde_json::json!({"strategy": "None"});
        let (Some(ours_map), Some(stored_map)) = (ours_spec.as_object(), stored_spec.as_object())
        else {
            return Err(format!("{name}: a spec is not an object").into());
        };
        let keys: std::collections::BTreeSet<&String> =
            ours_map.keys().chain(stored_map.keys()).collect();
        let changed: Vec<&String> = keys
            .into_iter()
            .filter(|k| ours_map.get(*k) != stored_map.get(*k))
            .collect();
        assert!(
            changed.is_empty(),
            "{name}: the server changed spec fields {changed:?}"
        );
    }
    Ok(())
}
