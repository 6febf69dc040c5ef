//! kube-runtime's watcher against the server.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::runtime::watcher::{self, Event};
use nim_crds::NIMService;
use serde_json::json;

use crate::support::{Ctx, TestResult, documents, in_namespace, workspace};

/// What the watcher saw, reduced to comparable steps.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Applied { name: String, replicas: Option<i32> },
    Deleted { name: String },
}

type Events = futures::stream::BoxStream<'static, Result<Seen, watcher::Error>>;

/// The next event, or why there is none within 20 s.
async fn next(stream: &mut Events) -> Result<Seen, String> {
    tokio::time::timeout(Duration::from_secs(20), stream.next())
        .await
        .map_err(|_| "no watch event within 20s".to_owned())?
        .ok_or_else(|| "the watch stream ended".to_owned())?
        .map_err(|e| e.to_string())
}

/// Issue 3.2.5: a kube-runtime watcher on NIMServices sees the create, the update and the
/// delete of one object, in that order, with the updated spec in the update event.
pub async fn watcher_sees_events_in_order(ctx: Ctx) -> TestResult {
    let api = ctx.api::<NIMService>();
    let stream = watcher::watcher(api.clone(), watcher::Config::default());
    let mut stream: Events = stream
        .try_filter_map(|event| async move {
            Ok(match event {
                Event::Apply(s) | Event::InitApply(s) => Some(Seen::Applied {
                    name: s.metadata.name.clone().unwrap_or_default(),
                    replicas: s.spec.replicas,
                }),
                Event::Delete(s) => Some(Seen::Deleted {
                    name: s.metadata.name.clone().unwrap_or_default(),
                }),
                Event::Init | Event::InitDone => None,
            })
        })
        .boxed();

    // The first poll starts the list+watch; an empty namespace yields Init/InitDone only, so
    // wait until the watch is established before changing anything.
    let (docs, _) = documents(&workspace().join("examples/manifests/llama-3.1-8b.yaml"));
    let doc = docs
        .iter()
        .find(|d| d["kind"] == "NIMService")
        .expect("the example has a NIMService");
    let mut service: NIMService =
        serde_json::from_value(serde_json::to_value(in_namespace(doc, &ctx.namespace))?)?;
    service.spec.scale = None;
    service.spec.replicas = Some(1);
    let name = service.metadata.name.clone().unwrap_or_default();

    let creator = {
        let api = api.clone();
        let service = service.clone();
        tokio::spawn(async move {
            // Give the watcher time to finish its initial list.
            tokio::time::sleep(Duration::from_millis(500)).await;
            api.create(&PostParams::default(), &service).await
        })
    };
    assert_eq!(
        next(&mut stream).await?,
        Seen::Applied {
            name: name.clone(),
            replicas: Some(1)
        }
    );
    creator.await??;

    api.patch(
        &name,
        &PatchParams::default(),
        &Patch::Merge(json!({"spec": {"replicas": 3}})),
    )
    .await?;
    assert_eq!(
        next(&mut stream).await?,
        Seen::Applied {
            name: name.clone(),
            replicas: Some(3)
        }
    );

    api.delete(&name, &DeleteParams::default()).await?;
    assert_eq!(next(&mut stream).await?, Seen::Deleted { name });
    Ok(())
}
