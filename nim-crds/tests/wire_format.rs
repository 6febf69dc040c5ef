//! The wire format of the NIM types, tested as JSON rather than only as round trips:
//!
//! - unset options are omitted, never written as `null` or as empty objects;
//! - the objects the Go operator writes back (zero-value structs, integer quantities,
//!   `creationTimestamp: null`) parse;
//! - fields this crate does not know do not fail deserialization;
//! - status states this crate does not know survive, typed as `Unknown`;
//! - realistic manifests (`tests/data/wire/*.yaml`, written in canonical form with only
//!   fields the schema knows) come back from YAML -> types -> JSON unchanged.

use std::{fmt::Debug, fs, path::Path};

use k8s_openapi::{api::networking::v1::IngressSpec, apimachinery::pkg::api::resource::Quantity};
use nim_crds::{
    Autoscaling, DRADeviceSpec, DRAResource, DRAResourceSelectorOp, DRAResourceStatus, EPPConfig,
    Expose, ExposeIngress, ExposeService, GPUSpec, Gateway, HorizontalPodAutoscalerSpec, Image,
    Metrics, ModelSpec, MultiNodeMPI, MultiNodeRay, NIMBuild, NIMBuildResources, NIMBuildState,
    NIMBuildStatus, NIMCache, NIMCacheResources, NIMCacheState, NIMCacheStatus, NIMCacheStorage,
    NIMPipeline, NIMPipelineSpec, NIMPipelineState, NIMPipelineStatus, NIMProbe, NIMProfile,
    NIMService, NIMServiceSpec, NIMServiceState, NIMServiceStatus, NIMServiceStorage, NIMSource,
    NemoDataStoreSource, PersistentVolumeClaim, ProxySpec, Router, ServiceMonitor,
};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Reads `tests/data/wire/<name>`.
fn fixture(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/wire")
        .join(name);
    fs::read_to_string(&path).unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()))
}

/// Parses YAML into a JSON value.
fn yaml(text: &str) -> Value {
    serde_saphyr::from_str::<Value>(text).unwrap_or_else(|err| panic!("invalid YAML: {err}"))
}

fn to_json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).expect("serializes")
}

fn from_json<T: DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).unwrap_or_else(|err| panic!("does not deserialize: {err}"))
}

/// The paths of every `null` in `value`.
fn nulls(value: &Value, path: &str, found: &mut Vec<String>) {
    match value {
        Value::Null => found.push(if path.is_empty() {
            ".".to_owned()
        } else {
            path.to_owned()
        }),
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                nulls(item, &format!("{path}[{index}]"), found);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                nulls(item, &format!("{path}.{key}"), found);
            }
        }
        Value::Bool(_) | Value::Number(_) | Value::String(_) => {}
    }
}

/// Fails on any `null` anywhere in `value`.
#[track_caller]
fn assert_no_nulls(value: &Value) {
    let mut found = Vec::new();
    nulls(value, "", &mut found);
    assert!(found.is_empty(), "null at {found:?} in {value:#}");
}

/// The paths where `left` and `right` differ.
fn diff(left: &Value, right: &Value, path: &str, found: &mut Vec<String>) {
    match (left, right) {
        (Value::Object(l), Value::Object(r)) => {
            for (key, lv) in l {
                let here = format!("{path}.{key}");
                match r.get(key) {
                    Some(rv) => diff(lv, rv, &here, found),
                    None => found.push(format!("{here}: only in the original ({lv})")),
                }
            }
            for (key, rv) in r {
                if !l.contains_key(key) {
                    found.push(format!("{path}.{key}: only after the round trip ({rv})"));
                }
            }
        }
        (Value::Array(l), Value::Array(r)) if l.len() == r.len() => {
            for (index, (lv, rv)) in l.iter().zip(r).enumerate() {
                diff(lv, rv, &format!("{path}[{index}]"), found);
            }
        }
        _ if left != right => found.push(format!("{path}: {left} became {right}")),
        _ => {}
    }
}

/// YAML -> JSON value -> `T` -> JSON value must give back the value read, and parsing the YAML
/// straight into `T` must give the same object.
#[track_caller]
fn round_trip<T>(name: &str) -> (T, Value)
where
    T: DeserializeOwned + Serialize + PartialEq + Debug,
{
    let text = fixture(name);
    let original = yaml(&text);
    assert_no_nulls(&original);
    let typed: T = from_json(original.clone());
    let back = to_json(&typed);
    assert_no_nulls(&back);
    let mut found = Vec::new();
    diff(&original, &back, "", &mut found);
    assert!(
        found.is_empty(),
        "{name} changed in the round trip:\n{}",
        found.join("\n")
    );

    let direct: T = serde_saphyr::from_str(&text)
        .unwrap_or_else(|err| panic!("{name} does not parse straight from YAML: {err}"));
    assert_eq!(direct, typed, "{name}: YAML straight to the type differs");
    (typed, original)
}

fn minimal_service() -> NIMService {
    NIMService::new(
        "llama",
        NIMServiceSpec {
            image: Image {
                repository: "nvcr.io/nim/meta/llama-3.1-8b-instruct".to_owned(),
                tag: "1.8.4".to_owned(),
                pull_policy: None,
                pull_secrets: None,
            },
            ..NIMServiceSpec::default()
        },
    )
}

// ---------------------------------------------------------------------------------------------
// Unset options are omitted
// ---------------------------------------------------------------------------------------------

#[test]
fn minimal_nimservice_is_exactly_its_required_fields() {
    let json = to_json(&minimal_service());
    assert_no_nulls(&json);
    assert_eq!(
        json,
        json!({
            "apiVersion": "apps.nvidia.com/v1alpha1",
            "kind": "NIMService",
            "metadata": {"name": "llama"},
            "spec": {"image": {"repository": "nvcr.io/nim/meta/llama-3.1-8b-instruct", "tag": "1.8.4"}},
        })
    );
}

#[test]
fn minimal_objects_of_the_other_kinds_are_exact() {
    let pipeline = NIMPipeline::new("rag", NIMPipelineSpec::default());
    assert_eq!(
        to_json(&pipeline),
        json!({"apiVersion": "apps.nvidia.com/v1alpha1", "kind": "NIMPipeline", "metadata": {"name": "rag"}, "spec": {}})
    );

    let build = NIMBuild::new(
        "engine",
        from_json(json!({"nimCache": {"name": "c"}, "image": {"repository": "r", "tag": "t"}})),
    );
    assert_eq!(
        to_json(&build)["spec"],
        json!({"nimCache": {"name": "c"}, "image": {"repository": "r", "tag": "t"}})
    );

    let cache: NIMCache = from_json(json!({
        "apiVersion": "apps.nvidia.com/v1alpha1",
        "kind": "NIMCache",
        "metadata": {"name": "c"},
        "spec": {"source": {"ngc": {"modelPuller": "p", "authSecret": "s"}}, "storage": {"pvc": {"name": "models"}}},
    }));
    assert_eq!(
        to_json(&cache),
        json!({
            "apiVersion": "apps.nvidia.com/v1alpha1",
            "kind": "NIMCache",
            "metadata": {"name": "c"},
            "spec": {"source": {"ngc": {"modelPuller": "p", "authSecret": "s"}}, "storage": {"pvc": {"name": "models"}}},
        })
    );
}

/// Every all-optional structure serializes to `{}` when nothing is set.
#[test]
fn default_option_bags_serialize_to_empty_objects() {
    let empties: Vec<(&str, Value)> = vec![
        ("Expose", to_json(&Expose::default())),
        ("ExposeService", to_json(&ExposeService::default())),
        ("ExposeIngress", to_json(&ExposeIngress::default())),
        ("Router", to_json(&Router::default())),
        ("Autoscaling", to_json(&Autoscaling::default())),
        ("Metrics", to_json(&Metrics::default())),
        ("ServiceMonitor", to_json(&ServiceMonitor::default())),
        ("NIMProbe", to_json(&NIMProbe::default())),
        ("ProxySpec", to_json(&ProxySpec::default())),
        (
            "PersistentVolumeClaim",
            to_json(&PersistentVolumeClaim::default()),
        ),
        ("NIMServiceStorage", to_json(&NIMServiceStorage::default())),
        ("NIMCacheStorage", to_json(&NIMCacheStorage::default())),
        ("NIMCacheResources", to_json(&NIMCacheResources::default())),
        ("NIMSource", to_json(&NIMSource::default())),
        ("ModelSpec", to_json(&ModelSpec::default())),
        ("GPUSpec", to_json(&GPUSpec::default())),
        ("NIMProfile", to_json(&NIMProfile::default())),
        ("DRAResource", to_json(&DRAResource::default())),
        ("NIMBuildResources", to_json(&NIMBuildResources::default())),
        ("NIMPipelineSpec", to_json(&NIMPipelineSpec::default())),
        ("NIMCacheStatus", to_json(&NIMCacheStatus::default())),
        ("NIMServiceStatus", to_json(&NIMServiceStatus::default())),
        ("NIMPipelineStatus", to_json(&NIMPipelineStatus::default())),
        ("NIMBuildStatus", to_json(&NIMBuildStatus::default())),
    ];
    for (name, value) in empties {
        assert_eq!(value, json!({}), "{name}::default()");
    }
}

/// Structures with required children write exactly those, with their defaults.
#[test]
fn defaults_of_required_fields_are_written() {
    assert_eq!(
        to_json(&NIMServiceSpec::default()),
        json!({"image": {"repository": "", "tag": ""}})
    );
    assert_eq!(
        to_json(&HorizontalPodAutoscalerSpec::default()),
        json!({"maxReplicas": 0})
    );
    assert_eq!(
        to_json(&Gateway::default()),
        json!({"namespace": "", "name": ""})
    );
    assert_eq!(
        to_json(&DRADeviceSpec::default()),
        json!({"name": "", "count": 1, "deviceClassName": "gpu.nvidia.com"})
    );
    assert_eq!(to_json(&MultiNodeRay::default()), json!({"rayPort": 6379}));
    assert_eq!(
        to_json(&MultiNodeMPI::default()),
        json!({"mpiStartTimeout": 300})
    );
    assert_eq!(
        to_json(&NemoDataStoreSource::default()),
        json!({"endpoint": "", "namespace": "default", "authSecret": "", "modelPuller": "", "pullSecret": ""})
    );
    assert_eq!(
        to_json(&EPPConfig::default()),
        json!({"containerSpec": {"name": "", "image": {"repository": "", "tag": ""}}})
    );
}

#[test]
fn null_detector_finds_nested_nulls() {
    let mut found = Vec::new();
    nulls(
        &json!({"a": [1, {"b": null}], "c": null, "d": {}}),
        "",
        &mut found,
    );
    found.sort();
    assert_eq!(found, [".a[1].b", ".c"]);
    let result = std::panic::catch_unwind(|| assert_no_nulls(&json!({"spec": {"replicas": null}})));
    assert!(result.is_err(), "assert_no_nulls must fail on a null");
}

// ---------------------------------------------------------------------------------------------
// What the Go operator writes back parses
// ---------------------------------------------------------------------------------------------

#[test]
fn go_zero_value_structs_in_a_nimservice_parse() {
    let written = yaml(
        r#"
apiVersion: apps.nvidia.com/v1alpha1
kind: NIMService
metadata:
  name: llama
  namespace: nim
  creationTimestamp: null
spec:
  image: {repository: nvcr.io/nim/meta/llama-3.1-8b-instruct, tag: "1.8.4"}
  livenessProbe: {}
  readinessProbe: {}
  startupProbe: {}
  scale:
    hpa:
      maxReplicas: 0
  storage:
    pvc: {}
    nimCache: {}
  expose:
    ingress:
      spec: {}
    router: {}
    service: {}
  metrics: {}
  resources:
    limits:
      nvidia.com/gpu: 1
      memory: 64Gi
    requests:
      nvidia.com/gpu: 1
      cpu: 8
status: {}
"#,
    );
    let svc: NIMService = from_json(written.clone());
    let spec = &svc.spec;
    assert_eq!(svc.metadata.creation_timestamp, None);
    assert_eq!(spec.liveness_probe, Some(NIMProbe::default()));
    assert_eq!(spec.startup_probe, Some(NIMProbe::default()));
    let scale = spec.scale.as_ref().expect("scale");
    assert_eq!(scale.enabled, None);
    assert_eq!(scale.hpa.as_ref().map(|hpa| hpa.max_replicas), Some(0));
    let storage = spec.storage.as_ref().expect("storage");
    assert_eq!(storage.pvc, Some(PersistentVolumeClaim::default()));
    assert_eq!(storage.nim_cache, Some(Default::default()));
    let expose = spec.expose.as_ref().expect("expose");
    assert_eq!(
        expose
            .ingress
            .as_ref()
            .and_then(|ingress| ingress.spec.clone()),
        Some(IngressSpec::default())
    );
    assert_eq!(expose.router, Some(Router::default()));
    let resources = spec.resources.as_ref().expect("resources");
    let limits = resources.limits.as_ref().expect("limits");
    assert_eq!(limits["nvidia.com/gpu"], Quantity("1".to_owned()));
    assert_eq!(limits["memory"], Quantity("64Gi".to_owned()));
    let requests = resources.requests.as_ref().expect("requests");
    assert_eq!(requests["cpu"], Quantity("8".to_owned()));
    assert_eq!(svc.status, Some(NIMServiceStatus::default()));

    // Written back, the empty objects keep their presence (CEL rules test `has()`), the
    // `null` timestamp is dropped and integer quantities become strings.
    let back = to_json(&svc);
    assert_no_nulls(&back);
    let mut expected = written;
    expected["metadata"]
        .as_object_mut()
        .expect("metadata")
        .remove("creationTimestamp");
    expected["spec"]["resources"] = json!({
        "limits": {"nvidia.com/gpu": "1", "memory": "64Gi"},
        "requests": {"nvidia.com/gpu": "1", "cpu": "8"},
    });
    assert_eq!(back, expected);
}

#[test]
fn go_zero_value_nimcache_resources_parse() {
    let cache: NIMCache = from_json(yaml(
        r#"
apiVersion: apps.nvidia.com/v1alpha1
kind: NIMCache
metadata: {name: c}
spec:
  source: {ngc: {modelPuller: p, authSecret: s, model: {}}}
  storage: {pvc: {}}
  resources: {cpu: "0", memory: "0"}
"#,
    ));
    assert_eq!(
        cache.spec.resources,
        Some(NIMCacheResources {
            cpu: Some(Quantity("0".to_owned())),
            memory: Some(Quantity("0".to_owned())),
        })
    );
    assert_eq!(
        cache
            .spec
            .source
            .ngc
            .as_ref()
            .and_then(|ngc| ngc.model.clone()),
        Some(ModelSpec::default())
    );
    assert_eq!(
        to_json(&cache)["spec"],
        json!({
            "source": {"ngc": {"modelPuller": "p", "authSecret": "s", "model": {}}},
            "storage": {"pvc": {}},
            "resources": {"cpu": "0", "memory": "0"},
        })
    );

    // Integer quantities as YAML writes them.
    let cache: NIMCache = from_json(yaml(
        r#"
apiVersion: apps.nvidia.com/v1alpha1
kind: NIMCache
metadata: {name: c}
spec:
  source: {ngc: {modelPuller: p, authSecret: s}}
  storage: {pvc: {name: models}}
  resources: {cpu: 4, memory: 17179869184}
"#,
    ));
    assert_eq!(
        to_json(&cache)["spec"]["resources"],
        json!({"cpu": "4", "memory": "17179869184"})
    );
}

#[test]
fn nimbuild_integer_gpu_limit_parses() {
    let build: NIMBuild = from_json(yaml(
        r#"
apiVersion: apps.nvidia.com/v1alpha1
kind: NIMBuild
metadata: {name: engine}
spec:
  nimCache: {name: llama-cache}
  image: {repository: nvcr.io/nim/meta/llama-3.1-8b-instruct, tag: "1.8.4"}
  resources:
    limits:
      nvidia.com/gpu: 1
"#,
    ));
    let limits = build
        .spec
        .resources
        .as_ref()
        .and_then(|resources| resources.limits.as_ref())
        .expect("limits");
    assert_eq!(limits["nvidia.com/gpu"], Quantity("1".to_owned()));
    assert_eq!(
        to_json(&build)["spec"]["resources"],
        json!({"limits": {"nvidia.com/gpu": "1"}})
    );
}

#[test]
fn dra_and_multinode_defaults_apply_when_omitted() {
    let svc: NIMService = from_json(yaml(
        r#"
apiVersion: apps.nvidia.com/v1alpha1
kind: NIMService
metadata: {name: llama}
spec:
  image: {repository: r, tag: t}
  multiNode:
    parallelism: {}
    ray: {}
  draResources:
    - claimCreationSpec:
        devices:
          - name: gpus
            attributeSelectors:
              - key: productName
                value: {stringValue: NVIDIA H100 80GB HBM3}
            capacitySelectors:
              - key: memory
                value: 80Gi
"#,
    ));
    let multi_node = svc.spec.multi_node.as_ref().expect("multiNode");
    assert_eq!(multi_node.ray, Some(MultiNodeRay { ray_port: 6379 }));
    assert_eq!(multi_node.backend_type, None);

    let dra = svc.spec.dra_resources.as_ref().expect("draResources");
    let device = &dra[0]
        .claim_creation_spec
        .as_ref()
        .expect("claimCreationSpec")
        .devices[0];
    assert_eq!(device.count, 1);
    assert_eq!(device.device_class_name, "gpu.nvidia.com");
    assert_eq!(device.driver_name, None);
    let attribute = &device.attribute_selectors.as_ref().expect("attributes")[0];
    assert_eq!(attribute.op, DRAResourceSelectorOp::Equal);
    let capacity = &device.capacity_selectors.as_ref().expect("capacities")[0];
    assert_eq!(capacity.op, DRAResourceSelectorOp::Equal);
    assert_eq!(capacity.value, Quantity("80Gi".to_owned()));

    // Written back, the required-with-default fields are explicit, as the API server
    // would default them.
    let back = to_json(&svc);
    assert_eq!(
        back["spec"]["draResources"][0]["claimCreationSpec"]["devices"][0],
        json!({
            "name": "gpus",
            "count": 1,
            "deviceClassName": "gpu.nvidia.com",
            "attributeSelectors": [{"key": "productName", "op": "Equal", "value": {"stringValue": "NVIDIA H100 80GB HBM3"}}],
            "capacitySelectors": [{"key": "memory", "op": "Equal", "value": "80Gi"}],
        })
    );
    assert_eq!(
        back["spec"]["multiNode"],
        json!({"parallelism": {}, "ray": {"rayPort": 6379}})
    );

    let mpi: MultiNodeMPI = from_json(json!({}));
    assert_eq!(mpi.mpi_start_timeout, 300);
    let data_store: NemoDataStoreSource = from_json(json!({
        "endpoint": "http://datastore:3000/v1/hf",
        "datasetName": "squad",
        "authSecret": "token",
        "modelPuller": "puller",
        "pullSecret": "ngc",
    }));
    assert_eq!(data_store.namespace, "default");
}

// ---------------------------------------------------------------------------------------------
// Unknown fields and values
// ---------------------------------------------------------------------------------------------

#[test]
fn unknown_fields_do_not_fail_deserialization() {
    let svc: NIMService = from_json(yaml(
        r#"
apiVersion: apps.nvidia.com/v1alpha1
kind: NIMService
metadata: {name: llama}
futureRootField: 1
spec:
  image: {repository: r, tag: t, digest: "sha256:0123"}
  # misplaced, as in an upstream sample: the router belongs under expose
  router:
    hostDomainName: example.com
  futureSpecField: {enabled: true}
  expose:
    service: {port: 8000, appProtocol: http}
    router:
      hostDomainName: example.com
      gateway: {namespace: gw, name: gw, futureGatewayField: x}
  storage:
    nimCache: {name: cache, profile: p, readOnlyHint: true}
  startupProbe:
    probe:
      httpGet: {path: /v1/health/ready, port: api}
      futureProbeField: 1
  replicas: 1
status:
  state: Ready
  futureStatusField: [1, 2]
"#,
    ));
    assert_eq!(svc.spec.image.repository, "r");
    assert_eq!(svc.spec.replicas, Some(1));
    assert_eq!(
        svc.spec
            .storage
            .as_ref()
            .and_then(|storage| storage.nim_cache.as_ref())
            .and_then(|cache| cache.profile.as_deref()),
        Some("p")
    );
    assert_eq!(svc.state(), Some(NIMServiceState::Ready));

    // Unknown fields are dropped, never turned into nulls; known ones survive.
    let back = to_json(&svc);
    assert_no_nulls(&back);
    assert!(back.get("futureRootField").is_none());
    assert!(back["spec"].get("router").is_none());
    assert!(back["spec"].get("futureSpecField").is_none());
    assert_eq!(back["spec"]["expose"]["service"], json!({"port": 8000}));
    assert_eq!(
        back["spec"]["expose"]["router"]["gateway"],
        json!({"namespace": "gw", "name": "gw"})
    );
    assert_eq!(
        back["spec"]["startupProbe"],
        json!({"probe": {"httpGet": {"path": "/v1/health/ready", "port": "api"}}})
    );
}

#[test]
fn unknown_states_survive_verbatim() {
    let service_status = json!({"state": "Hibernating", "availableReplicas": 0});
    let svc: NIMService = from_json(json!({
        "apiVersion": "apps.nvidia.com/v1alpha1",
        "kind": "NIMService",
        "metadata": {"name": "s"},
        "spec": {"image": {"repository": "r", "tag": "t"}},
        "status": service_status,
    }));
    assert_eq!(
        svc.state(),
        Some(NIMServiceState::Unknown("Hibernating".to_owned()))
    );
    assert!(!svc.is_ready());
    assert_eq!(to_json(&svc)["status"], service_status);

    let cache: NIMCache = from_json(json!({
        "apiVersion": "apps.nvidia.com/v1alpha1",
        "kind": "NIMCache",
        "metadata": {"name": "c"},
        "spec": {"source": {"ngc": {"modelPuller": "p", "authSecret": "s"}}, "storage": {}},
        "status": {"state": "Evicted", "type": "future-type"},
    }));
    assert_eq!(
        cache.state(),
        Some(NIMCacheState::Unknown("Evicted".to_owned()))
    );
    assert_eq!(
        cache.state().map(|state| state.to_string()).as_deref(),
        Some("Evicted")
    );
    assert_eq!(
        to_json(&cache)["status"],
        json!({"state": "Evicted", "type": "future-type"})
    );

    let pipeline: NIMPipeline = from_json(json!({
        "apiVersion": "apps.nvidia.com/v1alpha1",
        "kind": "NIMPipeline",
        "metadata": {"name": "p"},
        "spec": {},
        "status": {"state": "Degraded", "states": {"llm": "Upgrading"}},
    }));
    assert_eq!(
        pipeline.state(),
        Some(NIMPipelineState::Unknown("Degraded".to_owned()))
    );
    assert_eq!(
        pipeline.service_state("llm"),
        Some(NIMServiceState::Unknown("Upgrading".to_owned()))
    );
    assert_eq!(
        to_json(&pipeline)["status"],
        json!({"state": "Degraded", "states": {"llm": "Upgrading"}})
    );

    let build: NIMBuild = from_json(json!({
        "apiVersion": "apps.nvidia.com/v1alpha1",
        "kind": "NIMBuild",
        "metadata": {"name": "b"},
        "spec": {"nimCache": {"name": "c"}, "image": {"repository": "r", "tag": "t"}},
        "status": {"state": "Queued"},
    }));
    assert_eq!(
        build.state(),
        Some(NIMBuildState::Unknown("Queued".to_owned()))
    );
    assert_eq!(to_json(&build)["status"], json!({"state": "Queued"}));
}

// ---------------------------------------------------------------------------------------------
// Realistic manifests round-trip
// ---------------------------------------------------------------------------------------------

#[test]
fn full_nimservice_round_trips() {
    let (svc, original) = round_trip::<NIMService>("nimservice-full.yaml");

    // The fixture really exercises what it claims to.
    let spec = &svc.spec;
    assert_eq!(spec.user_id, Some(1000));
    assert_eq!(spec.group_id, Some(2000));
    assert_eq!(original["spec"]["userID"], 1000);
    assert_eq!(original["spec"]["groupID"], 2000);
    assert!(to_json(&svc)["spec"].get("userId").is_none());
    let env = spec.env.as_ref().expect("env");
    assert!(env.iter().filter(|var| var.value_from.is_some()).count() >= 3);
    let hpa = spec
        .scale
        .as_ref()
        .and_then(|scale| scale.hpa.as_ref())
        .expect("hpa");
    let external = hpa.metrics.as_ref().expect("metrics")[0]
        .external
        .as_ref()
        .expect("external metric");
    assert_eq!(external.metric.name, "gpu_cache_usage_perc");
    assert!(hpa.behavior.is_some());
    let router = spec
        .expose
        .as_ref()
        .and_then(|expose| expose.router.as_ref())
        .expect("router");
    let backend = router
        .gateway
        .as_ref()
        .and_then(|gateway| gateway.backend_ref.as_ref())
        .expect("backendRef");
    assert_eq!(backend.kind.as_deref(), Some("InferencePool"));
    assert!(
        router
            .epp_config
            .as_ref()
            .and_then(|epp| epp.config.as_ref())
            .is_some()
    );
    assert!(
        spec.metrics
            .as_ref()
            .and_then(|m| m.service_monitor.as_ref())
            .is_some()
    );
    assert!(spec.init_containers.is_some() && spec.sidecar_containers.is_some());
    assert!(spec.proxy.is_some() && spec.affinity.is_some() && spec.tolerations.is_some());

    assert!(svc.is_ready());
    assert_eq!(svc.conditions().len(), 2);
    assert_eq!(
        svc.condition("Ready")
            .map(|condition| condition.observed_generation),
        Some(Some(3))
    );
    assert_eq!(
        svc.model_endpoint(),
        Some("llama-3-1-8b.nim.svc.cluster.local:8000")
    );
}

#[test]
fn multinode_dra_nimservice_round_trips() {
    let (svc, original) = round_trip::<NIMService>("nimservice-multinode-dra.yaml");
    let multi_node = svc.spec.multi_node.as_ref().expect("multiNode");
    assert_eq!(multi_node.ray, Some(MultiNodeRay { ray_port: 6380 }));
    let dra = svc.spec.dra_resources.as_ref().expect("draResources");
    assert_eq!(dra.len(), 3);
    assert!(dra[0].claim_creation_spec.is_some());

    let status = svc.status.as_ref().expect("status");
    let statuses: &[DRAResourceStatus] = status.dra_resource_statuses.as_deref().expect("DRA");
    assert_eq!(statuses.len(), 3);
    assert!(statuses[2].resource_claim_status.is_some());
    let domain = status
        .compute_domain_status
        .as_ref()
        .expect("computeDomainStatus");
    let node = &domain.nodes.as_ref().expect("nodes")[0];
    assert_eq!(node.clique_id, "0b4a1f2e-7c3d-4e5f-8a9b-1c2d3e4f5a6b.1");
    assert_eq!(
        original["status"]["computeDomainStatus"]["nodes"][0]["cliqueID"],
        "0b4a1f2e-7c3d-4e5f-8a9b-1c2d3e4f5a6b.1"
    );
    assert!(
        to_json(&svc)["status"]["computeDomainStatus"]["nodes"][0]
            .get("cliqueId")
            .is_none()
    );
    assert_eq!(svc.state(), Some(NIMServiceState::NotReady));
    assert_eq!(svc.model_endpoint(), None);
}

#[test]
fn ngc_nimcache_round_trips() {
    let (cache, original) = round_trip::<NIMCache>("nimcache-ngc.yaml");
    let model = cache
        .spec
        .source
        .ngc
        .as_ref()
        .and_then(|ngc| ngc.model.as_ref())
        .expect("model selectors");
    assert_eq!(model.tensor_parallelism.as_deref(), Some("1"));
    assert_eq!(cache.spec.user_id, Some(1000));
    assert_eq!(original["spec"]["groupID"], 2000);

    assert!(cache.is_ready());
    assert_eq!(
        cache.selected_profiles().expect("valid annotation"),
        ["4f904d571fe60ff24695b5ee2aa42da58cb460787a968f1e8a09f5a7e862728d"]
    );
    assert_eq!(cache.cached_profiles().len(), 1);
    assert_eq!(
        cache.cached_profiles()[0]
            .config
            .as_ref()
            .and_then(|config| config.get("tp"))
            .map(String::as_str),
        Some("1")
    );
    assert_eq!(cache.conditions().len(), 3);
    assert!(cache.condition("NIM_CACHE_JOB_COMPLETED").is_some());
}

#[test]
fn hf_nimcache_round_trips() {
    let (cache, _) = round_trip::<NIMCache>("nimcache-hf.yaml");
    let hf = cache.spec.source.hf.as_ref().expect("hf source");
    assert_eq!(
        hf.common.model_name.as_deref(),
        Some("Llama-3.1-8B-Instruct")
    );
    assert_eq!(cache.state(), Some(NIMCacheState::InProgress));
    assert_eq!(
        cache
            .status
            .as_ref()
            .and_then(|status| status.type_.as_deref()),
        Some("model-free")
    );
}

#[test]
fn datastore_nimcache_round_trips() {
    let (cache, _) = round_trip::<NIMCache>("nimcache-datastore.yaml");
    let data_store = cache
        .spec
        .source
        .data_store
        .as_ref()
        .expect("dataStore source");
    assert_eq!(data_store.common.dataset_name.as_deref(), Some("squad-v2"));
    assert!(cache.spec.cert_config.is_some());
    assert_eq!(cache.state(), Some(NIMCacheState::Failed));
}

#[test]
fn nimpipeline_round_trips() {
    let (pipeline, _) = round_trip::<NIMPipeline>("nimpipeline.yaml");
    let services = pipeline.spec.services.as_ref().expect("services");
    assert_eq!(services.len(), 2);
    let dependency = &services[0].dependencies.as_ref().expect("dependencies")[0];
    assert_eq!(dependency.env_name.as_deref(), Some("EMBEDDING_ENDPOINT"));
    assert_eq!(pipeline.state(), Some(NIMPipelineState::NotReady));
    assert_eq!(
        pipeline.service_state("embedding"),
        Some(NIMServiceState::Ready)
    );
}

#[test]
fn nimbuild_round_trips() {
    let (build, _) = round_trip::<NIMBuild>("nimbuild.yaml");
    assert_eq!(
        build.spec.model_name.as_deref(),
        Some("llama-3.1-8b-h100-tp1")
    );
    assert!(build.is_ready());
    let status = build.status.as_ref().expect("status");
    assert!(status.input_profile.is_some() && status.output_profile.is_some());
}

/// The round trip is a real check: a fixture field the types do not know makes it fail.
#[test]
fn round_trip_detects_dropped_fields() {
    let mut value = yaml(&fixture("nimbuild.yaml"));
    value["spec"]["futureField"] = json!(true);
    value["spec"]["nimCache"]["futureField"] = json!("x");
    let back = to_json(&from_json::<NIMBuild>(value.clone()));
    let mut found = Vec::new();
    diff(&value, &back, "", &mut found);
    found.sort();
    assert_eq!(
        found,
        [
            ".spec.futureField: only in the original (true)",
            ".spec.nimCache.futureField: only in the original (\"x\")",
        ]
    );
}
