//! Typed validation through [`Validate`]: every CEL rule of the CRDs rejects an object that
//! breaks it with the rule's own message, the transition rules and the operator webhook's
//! immutability rules reject updates, and valid objects (and unchanged updates) pass.

use nim_crds::{
    Autoscaling, Diagnostic, EmptyDirSpec, HorizontalPodAutoscalerSpec, Image, NIMBuild, NIMCache,
    NIMCacheVolSpec, NIMPipeline, NIMService, NIMServiceSpec, NIMServiceStorage,
    PersistentVolumeClaim, Validate,
};
use proptest::prelude::*;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

const API_VERSION: &str = "apps.nvidia.com/v1alpha1";

/// An object of `kind` named `test` with `spec`, as its Rust type.
fn object<K: DeserializeOwned>(kind: &str, spec: Value) -> K {
    let value = json!({
        "apiVersion": API_VERSION,
        "kind": kind,
        "metadata": {"name": "test", "namespace": "nim"},
        "spec": spec,
    });
    serde_json::from_value(value.clone())
        .unwrap_or_else(|error| panic!("{kind} does not parse: {error}\n{value:#}"))
}

fn cache(spec: Value) -> NIMCache {
    object("NIMCache", spec)
}

fn service(spec: Value) -> NIMService {
    object("NIMService", spec)
}

fn pipeline(spec: Value) -> NIMPipeline {
    object("NIMPipeline", spec)
}

fn build(spec: Value) -> NIMBuild {
    object("NIMBuild", spec)
}

/// A valid NIMCache spec.
fn cache_spec() -> Value {
    json!({
        "source": {"ngc": {
            "modelPuller": "nvcr.io/nim/meta/llama-3.1-8b-instruct:1.8.4",
            "authSecret": "ngc-api-secret",
            "model": {"profiles": ["tensorrt_llm-h100-fp8-tp1-pp1-latency"]},
        }},
        "storage": {"pvc": {"create": true, "size": "50Gi", "volumeAccessMode": "ReadWriteMany"}},
    })
}

/// A valid NIMService spec.
fn service_spec() -> Value {
    json!({
        "image": {"repository": "nvcr.io/nim/meta/llama-3.1-8b-instruct", "tag": "1.8.4"},
        "authSecret": "ngc-api-secret",
        "storage": {"nimCache": {"name": "cache", "profile": "tensorrt_llm-h100-fp8-tp1-pp1-latency"}},
        "replicas": 1,
    })
}

/// A valid NIMBuild spec.
fn build_spec() -> Value {
    json!({
        "nimCache": {"name": "cache", "profile": "tensorrt_llm-h100-bf16-tp1-pp1-throughput"},
        "modelName": "llama-custom",
        "image": {"repository": "registry.corp/nim/llama-3.1-8b-instruct", "tag": "1.8.4"},
    })
}

/// `base` with the JSON object `patch` merged in (recursively; `null` removes a key).
fn merged(mut base: Value, patch: Value) -> Value {
    merge(&mut base, patch);
    base
}

fn merge(base: &mut Value, patch: Value) {
    match (base, patch) {
        (Value::Object(base), Value::Object(patch)) => {
            for (key, value) in patch {
                if value.is_null() {
                    base.remove(&key);
                } else {
                    merge(base.entry(key).or_insert(Value::Null), value);
                }
            }
        }
        (base, patch) => *base = patch,
    }
}

fn errors(diagnostics: &[Diagnostic]) -> Vec<&Diagnostic> {
    diagnostics.iter().filter(|d| d.is_error()).collect()
}

/// Asserts that a CEL rule failed at `path` with exactly `message`.
fn assert_cel(diagnostics: &[Diagnostic], path: &str, message: &str) {
    assert!(
        diagnostics.iter().any(|d| d.is_error()
            && d.code == "cel-rule"
            && d.path == path
            && d.message == message),
        "expected the CEL rule `{message}` to fail at {path}, found {diagnostics:#?}"
    );
}

/// Asserts that no CEL rule failed with `message`.
fn assert_no_cel(diagnostics: &[Diagnostic], message: &str) {
    assert!(
        !diagnostics
            .iter()
            .any(|d| d.code == "cel-rule" && d.message == message),
        "the CEL rule `{message}` failed: {diagnostics:#?}"
    );
}

/// Asserts an error with `code` at `path`.
fn assert_error(diagnostics: &[Diagnostic], path: &str, code: &str) {
    assert!(
        diagnostics
            .iter()
            .any(|d| d.is_error() && d.code == code && d.path == path),
        "expected error {code} at {path}, found {diagnostics:#?}"
    );
}

const SOURCE_ONE: &str = "Exactly one of ngc, dataStore, or hf must be defined";
const MODEL_XOR_DATASET: &str = "Exactly one of modelName or datasetName must be defined";
const MODEL_XOR_ENDPOINT: &str = "Only one of 'model' or 'modelEndpoint' can be specified";
const MODEL_PULLER_IMMUTABLE: &str = "modelPuller is an immutable field. Please create a new NIMCache resource instead when you want to change this container.";
const ROUTER_ONE: &str = "ingress and gateway cannot be specified together";
const EPP_ONE: &str = "specify either configMapRef or config, not both";
const BACKEND_PORT: &str = "Must have port for Service reference";
const MPI_XOR_RAY: &str = "mpi and ray are mutually exclusive";
const COMPUTE_DOMAIN: &str = "if create is true, name must not be set; otherwise name is required.";
const DRA_ONE: &str = "exactly one of spec.resourceClaimName, spec.resourceClaimTemplateName, or spec.claimCreationSpec must be set.";
const CEL_EXPRESSIONS: &str =
    "celExpressions must not be set if attributeSelectors or capacitySelectors are set";
const DRA_STATUS_ONE: &str =
    "exactly one of resourceClaimStatus and resourceClaimTemplateStatus must be set.";
const DRA_IMMUTABLE: &str = "spec.draResources is immutable";
const AUTOSCALING_MULTINODE: &str = "autoScaling must be nil or disabled when multiNode is set";
const REPLICAS_WITH_SCALE: &str = "spec.replicas cannot be set when spec.scale.enabled is true";
const INGRESS_TWICE: &str = ".spec.expose.ingress is deprecated, and will be removed in a future release. If .spec.expose.ingress is set, please do not set .spec.expose.router.ingress.";
const SPEC_IMMUTABLE: &str = "spec is immutable";

// Valid objects.

#[test]
fn valid_objects_have_no_error() {
    let found = cache(cache_spec()).validate();
    assert!(errors(&found).is_empty(), "{found:#?}");
    let found = service(service_spec()).validate();
    assert!(found.is_empty(), "{found:#?}");
    let found = build(build_spec()).validate();
    assert!(found.is_empty(), "{found:#?}");
    let found = pipeline(json!({"services": [
        {"name": "llm", "enabled": true, "spec": service_spec()},
    ]}))
    .validate();
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn hf_and_datastore_sources_are_valid() {
    let common = json!({
        "modelName": "Llama-3.1-8B-Instruct",
        "authSecret": "hf-token",
        "modelPuller": "nvcr.io/nim/nvidia/llm-nim:1.12.0",
        "pullSecret": "ngc-secret",
    });
    let hf = merged(
        common.clone(),
        json!({"endpoint": "https://huggingface.co", "namespace": "meta-llama"}),
    );
    let data_store = merged(
        common,
        json!({"endpoint": "http://nemo-datastore.nemo:8000/v1/hf", "namespace": "default"}),
    );
    for source in [
        json!({"ngc": null, "hf": hf}),
        json!({"ngc": null, "dataStore": data_store}),
    ] {
        let found = cache(merged(cache_spec(), json!({"source": source}))).validate();
        assert!(errors(&found).is_empty(), "{found:#?}");
    }
}

#[test]
fn unchanged_updates_pass() {
    let cache = cache(cache_spec());
    let found = cache.validate_update(&cache.clone());
    assert!(errors(&found).is_empty(), "{found:#?}");

    let service = service(merged(
        service_spec(),
        json!({
            "draResources": [{"resourceClaimTemplateName": "gpu-template"}],
            "multiNode": {"parallelism": {"tensor": 8, "pipeline": 2}},
            "storage": {"nimCache": null, "pvc": {"create": true, "size": "50Gi", "volumeAccessMode": "ReadWriteMany"}},
        }),
    ));
    let found = service.validate_update(&service.clone());
    assert!(errors(&found).is_empty(), "{found:#?}");

    let build = build(build_spec());
    let found = build.validate_update(&build.clone());
    assert!(found.is_empty(), "{found:#?}");

    let pipeline = pipeline(json!({"services": [
        {"name": "llm", "enabled": true, "spec": merged(service_spec(), json!({
            "draResources": [{"resourceClaimTemplateName": "gpu-template"}],
        }))},
    ]}));
    let found = pipeline.validate_update(&pipeline.clone());
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn a_service_may_change_what_is_not_immutable() {
    let old = service(service_spec());
    let new = service(merged(
        service_spec(),
        json!({"replicas": 3, "image": {"tag": "1.8.5"}, "storage": {"nimCache": {"profile": null}}}),
    ));
    let found = new.validate_update(&old);
    assert!(errors(&found).is_empty(), "{found:#?}");
}

// NIMCache CEL rules.

#[test]
fn cache_source_exactly_one() {
    let none = cache(merged(cache_spec(), json!({"source": {"ngc": null}})));
    assert_cel(&none.validate(), "spec.source", SOURCE_ONE);

    let two = cache(merged(
        cache_spec(),
        json!({"source": {"hf": {
            "endpoint": "https://huggingface.co",
            "namespace": "meta-llama",
            "modelName": "Llama-3.1-8B-Instruct",
            "authSecret": "hf-token",
            "modelPuller": "nvcr.io/nim/nvidia/llm-nim:1.12.0",
            "pullSecret": "ngc-secret",
        }}}),
    ));
    assert_cel(&two.validate(), "spec.source", SOURCE_ONE);
}

#[test]
fn cache_hf_and_datastore_model_xor_dataset() {
    let common = json!({
        "authSecret": "hf-token",
        "modelPuller": "nvcr.io/nim/nvidia/llm-nim:1.12.0",
        "pullSecret": "ngc-secret",
    });
    let hf = merged(
        common.clone(),
        json!({
            "endpoint": "https://huggingface.co",
            "namespace": "meta-llama",
            "modelName": "Llama-3.1-8B-Instruct",
            "datasetName": "squad",
        }),
    );
    let found = cache(merged(
        cache_spec(),
        json!({"source": {"ngc": null, "hf": hf}}),
    ))
    .validate();
    assert_cel(&found, "spec.source.hf", MODEL_XOR_DATASET);

    let data_store = merged(
        common,
        json!({"endpoint": "http://nemo-datastore.nemo:8000/v1/hf", "namespace": "default"}),
    );
    let found = cache(merged(
        cache_spec(),
        json!({"source": {"ngc": null, "dataStore": data_store}}),
    ))
    .validate();
    assert_cel(&found, "spec.source.dataStore", MODEL_XOR_DATASET);
}

#[test]
fn cache_ngc_model_xor_model_endpoint() {
    let found = cache(merged(
        cache_spec(),
        json!({"source": {"ngc": {"modelEndpoint": "https://example.com/model"}}}),
    ))
    .validate();
    assert_cel(&found, "spec.source.ngc", MODEL_XOR_ENDPOINT);
}

#[test]
fn cache_model_puller_is_immutable() {
    let old = cache(cache_spec());
    let new = cache(merged(
        cache_spec(),
        json!({"source": {"ngc": {"modelPuller": "nvcr.io/nim/meta/llama-3.1-8b-instruct:1.10.0"}}}),
    ));
    let found = new.validate_update(&old);
    assert_cel(
        &found,
        "spec.source.ngc.modelPuller",
        MODEL_PULLER_IMMUTABLE,
    );
    assert_error(&found, "spec", "immutable");
    // On creation the transition rule does not apply.
    assert_no_cel(&new.validate(), MODEL_PULLER_IMMUTABLE);
}

#[test]
fn cache_spec_is_immutable() {
    let old = cache(cache_spec());
    let new = cache(merged(
        cache_spec(),
        json!({"resources": {"cpu": "8", "memory": "32Gi"}}),
    ));
    let found = new.validate_update(&old);
    assert_error(&found, "spec", "immutable");
    assert_no_cel(&found, MODEL_PULLER_IMMUTABLE);
    // Metadata and status may change.
    let mut relabelled = old.clone();
    relabelled.metadata.labels = Some([("team".to_owned(), "ml".to_owned())].into());
    let found = relabelled.validate_update(&old);
    assert!(errors(&found).is_empty(), "{found:#?}");
}

// NIMService CEL rules.

#[test]
fn router_ingress_xor_gateway() {
    let found = service(merged(
        service_spec(),
        json!({"expose": {"router": {
            "hostDomainName": "example.com",
            "ingress": {"ingressClass": "nginx"},
            "gateway": {"namespace": "gateway-system", "name": "inference-gateway"},
        }}}),
    ))
    .validate();
    assert_cel(&found, "spec.expose.router", ROUTER_ONE);
}

fn epp_router(epp: Value) -> Value {
    json!({"expose": {"router": {
        "hostDomainName": "example.com",
        "gateway": {"namespace": "gateway-system", "name": "inference-gateway"},
        "eppConfig": merged(json!({"containerSpec": {
            "name": "epp",
            "image": {"repository": "registry.k8s.io/gateway-api-inference-extension/epp", "tag": "v1.0.0"},
        }}), epp),
    }}})
}

#[test]
fn epp_config_map_ref_xor_config() {
    let both = epp_router(json!({
        "configMapRef": {"name": "epp-config", "key": "config.yaml"},
        "config": {
            "plugins": [{"type": "queue-scorer"}],
            "schedulingProfiles": [{"name": "default", "plugins": [{"pluginRef": "queue-scorer"}]}],
        },
    }));
    let found = service(merged(service_spec(), both)).validate();
    assert_cel(&found, "spec.expose.router.eppConfig", EPP_ONE);

    let one = epp_router(json!({"configMapRef": {"name": "epp-config", "key": "config.yaml"}}));
    let found = service(merged(service_spec(), one)).validate();
    assert!(errors(&found).is_empty(), "{found:#?}");
}

fn backend_ref(reference: Value) -> Value {
    json!({"expose": {"router": {
        "hostDomainName": "example.com",
        "gateway": {"namespace": "gateway-system", "name": "inference-gateway", "backendRef": reference},
    }}})
}

#[test]
fn backend_ref_to_a_service_needs_a_port() {
    let path = "spec.expose.router.gateway.backendRef";
    let explicit = backend_ref(json!({"group": "", "kind": "Service", "name": "epp"}));
    assert_cel(
        &service(merged(service_spec(), explicit)).validate(),
        path,
        BACKEND_PORT,
    );
    // group defaults to "" and kind to Service.
    let defaulted = backend_ref(json!({"name": "epp"}));
    assert_cel(
        &service(merged(service_spec(), defaulted)).validate(),
        path,
        BACKEND_PORT,
    );
    for fine in [
        json!({"name": "epp", "port": 9002}),
        json!({"group": "inference.networking.k8s.io", "kind": "InferencePool", "name": "pool"}),
    ] {
        let found = service(merged(service_spec(), backend_ref(fine))).validate();
        assert_no_cel(&found, BACKEND_PORT);
    }
}

#[test]
fn multi_node_mpi_xor_ray() {
    let found = service(merged(
        service_spec(),
        json!({"multiNode": {
            "parallelism": {"tensor": 8, "pipeline": 2},
            "mpi": {"mpiStartTimeout": 300},
            "ray": {"rayPort": 6379},
        }}),
    ))
    .validate();
    assert_cel(&found, "spec.multiNode", MPI_XOR_RAY);
}

#[test]
fn compute_domain_create_xor_name() {
    let path = "spec.multiNode.computeDomain";
    for wrong in [
        json!({"create": true, "name": "domain"}),
        json!({"create": false}),
        json!({}),
        json!({"name": ""}),
    ] {
        let found = service(merged(
            service_spec(),
            json!({"multiNode": {"parallelism": {"tensor": 8}, "computeDomain": wrong}}),
        ))
        .validate();
        assert_cel(&found, path, COMPUTE_DOMAIN);
    }
    for fine in [json!({"create": true}), json!({"name": "domain"})] {
        let found = service(merged(
            service_spec(),
            json!({"multiNode": {"parallelism": {"tensor": 8}, "computeDomain": fine}}),
        ))
        .validate();
        assert!(errors(&found).is_empty(), "{found:#?}");
    }
}

#[test]
fn dra_resource_exactly_one_source() {
    for wrong in [
        json!({"resourceClaimName": "claim", "resourceClaimTemplateName": "template"}),
        json!({"requests": ["gpu"]}),
    ] {
        let found = service(merged(service_spec(), json!({"draResources": [wrong]}))).validate();
        assert_cel(&found, "spec.draResources[0]", DRA_ONE);
    }
}

#[test]
fn dra_device_cel_expressions_exclude_selectors() {
    let found = service(merged(
        service_spec(),
        json!({"draResources": [{"claimCreationSpec": {"devices": [{
            "name": "gpu",
            "capacitySelectors": [{"key": "memory", "op": "GreaterThanOrEqual", "value": "40Gi"}],
            "celExpressions": ["device.capacity['gpu.nvidia.com'].memory.compareTo(quantity('40Gi')) >= 0"],
        }]}}]}),
    ))
    .validate();
    assert_cel(
        &found,
        "spec.draResources[0].claimCreationSpec.devices[0]",
        CEL_EXPRESSIONS,
    );
}

#[test]
fn dra_resource_status_exactly_one() {
    let mut object = service(service_spec());
    object.status = Some(
        serde_json::from_value(json!({"draResourceStatuses": [{"name": "gpu"}]}))
            .expect("a NIMService status"),
    );
    assert_cel(
        &object.validate(),
        "status.draResourceStatuses[0]",
        DRA_STATUS_ONE,
    );
}

#[test]
fn autoscaling_excludes_multi_node() {
    let found = service(merged(
        service_spec(),
        json!({
            "replicas": null,
            "multiNode": {"parallelism": {"tensor": 8}},
            "scale": {"enabled": true, "hpa": {"maxReplicas": 2}},
        }),
    ))
    .validate();
    assert_cel(&found, "spec", AUTOSCALING_MULTINODE);
    // Disabled autoscaling is fine.
    let found = service(merged(
        service_spec(),
        json!({"multiNode": {"parallelism": {"tensor": 8}}, "scale": {"enabled": false}}),
    ))
    .validate();
    assert!(errors(&found).is_empty(), "{found:#?}");
}

#[test]
fn replicas_exclude_autoscaling() {
    let found = service(merged(
        service_spec(),
        json!({"scale": {"enabled": true, "hpa": {"maxReplicas": 2}}}),
    ))
    .validate();
    assert_cel(&found, "spec", REPLICAS_WITH_SCALE);
    // Inside a pipeline the same rule applies to each service's spec.
    let found = pipeline(
        json!({"services": [{"name": "llm", "enabled": true, "spec": merged(
            service_spec(),
            json!({"scale": {"enabled": true, "hpa": {"maxReplicas": 2}}}),
        )}]}),
    )
    .validate();
    assert_cel(&found, "spec.services[0].spec", REPLICAS_WITH_SCALE);
}

#[test]
fn deprecated_ingress_excludes_router_ingress() {
    let found = service(merged(
        service_spec(),
        json!({"expose": {
            "ingress": {"enabled": true},
            "router": {"hostDomainName": "example.com", "ingress": {"ingressClass": "nginx"}},
        }}),
    ))
    .validate();
    assert_cel(&found, "spec", INGRESS_TWICE);
    // A disabled legacy ingress does not conflict.
    let found = service(merged(
        service_spec(),
        json!({"expose": {
            "ingress": {"enabled": false},
            "router": {"hostDomainName": "example.com", "ingress": {"ingressClass": "nginx"}},
        }}),
    ))
    .validate();
    assert_no_cel(&found, INGRESS_TWICE);
}

// NIMService updates.

#[test]
fn dra_resources_are_immutable() {
    let with = |name: &str| {
        service(merged(
            service_spec(),
            json!({"draResources": [{"resourceClaimTemplateName": name}]}),
        ))
    };
    let without = service(service_spec());
    for (old, new) in [
        (with("a"), with("b")),
        (without.clone(), with("a")),
        (with("a"), without.clone()),
    ] {
        assert_cel(&new.validate_update(&old), "spec", DRA_IMMUTABLE);
        // Not a transition rule problem on creation.
        assert_no_cel(&new.validate(), DRA_IMMUTABLE);
    }
}

#[test]
fn pipeline_dra_resources_are_immutable_through_the_webhook() {
    let with = |name: &str| {
        pipeline(
            json!({"services": [{"name": "llm", "enabled": true, "spec": merged(
                service_spec(),
                json!({"draResources": [{"resourceClaimTemplateName": name}]}),
            )}]}),
        )
    };
    let found = with("b").validate_update(&with("a"));
    assert_error(&found, "spec.services[0].spec.draResources", "immutable");
    // The pipeline's copy of the spec schema does not carry the NIMService root's CEL rule.
    assert_no_cel(&found, DRA_IMMUTABLE);
}

#[test]
fn multi_node_is_immutable() {
    let with = |tensor: i32| {
        service(merged(
            service_spec(),
            json!({"multiNode": {"parallelism": {"tensor": tensor, "pipeline": 2}}}),
        ))
    };
    let found = with(4).validate_update(&with(8));
    assert_error(&found, "spec.multiNode", "immutable");
    let found = service(service_spec()).validate_update(&with(8));
    assert_error(&found, "spec.multiNode", "immutable");
}

#[test]
fn created_pvc_is_immutable() {
    let with = |pvc: Value| {
        service(merged(
            service_spec(),
            json!({"storage": {"nimCache": null, "pvc": pvc}}),
        ))
    };
    let created =
        with(json!({"create": true, "size": "50Gi", "volumeAccessMode": "ReadWriteMany"}));
    let larger =
        with(json!({"create": true, "size": "100Gi", "volumeAccessMode": "ReadWriteMany"}));
    let found = larger.validate_update(&created);
    assert_error(&found, "spec.storage.pvc", "immutable");
    // A PVC the operator did not create may be swapped.
    let existing = with(json!({"name": "models", "volumeAccessMode": "ReadWriteMany"}));
    let other = with(json!({"name": "other-models", "volumeAccessMode": "ReadWriteMany"}));
    let found = other.validate_update(&existing);
    assert!(!found.iter().any(|d| d.code == "immutable"), "{found:#?}");
}

// NIMBuild.

#[test]
fn build_spec_is_immutable() {
    let old = build(build_spec());
    let new = build(merged(build_spec(), json!({"modelName": "other"})));
    assert_cel(&new.validate_update(&old), "spec", SPEC_IMMUTABLE);
    assert_no_cel(&new.validate(), SPEC_IMMUTABLE);
}

// Struct literals go through the same rules.

#[test]
fn struct_literals_are_checked_too() {
    let mut spec = NIMServiceSpec {
        image: Image {
            repository: "nvcr.io/nim/meta/llama-3.1-8b-instruct".into(),
            tag: "1.8.4".into(),
            ..Default::default()
        },
        auth_secret: Some("ngc-api-secret".into()),
        storage: Some(NIMServiceStorage {
            nim_cache: Some(NIMCacheVolSpec {
                name: Some("cache".into()),
                profile: None,
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let found = NIMService::new("llama", spec.clone()).validate();
    assert!(found.is_empty(), "{found:#?}");
    spec.replicas = Some(2);
    spec.scale = Some(Autoscaling {
        enabled: Some(true),
        hpa: Some(HorizontalPodAutoscalerSpec {
            max_replicas: 4,
            ..Default::default()
        }),
        ..Default::default()
    });
    let found = NIMService::new("llama", spec).validate();
    assert_cel(&found, "spec", REPLICAS_WITH_SCALE);
}

// Properties.

/// Storage kinds to set: nimCache, pvc, emptyDir, hostPath.
fn storage(kinds: [bool; 4]) -> Option<NIMServiceStorage> {
    if kinds == [false; 4] {
        return None;
    }
    let [cache, pvc, empty_dir, host_path] = kinds;
    Some(NIMServiceStorage {
        nim_cache: cache.then(|| NIMCacheVolSpec {
            name: Some("cache".into()),
            profile: None,
        }),
        pvc: pvc.then(|| PersistentVolumeClaim {
            name: Some("models".into()),
            volume_access_mode: Some("ReadWriteMany".into()),
            ..Default::default()
        }),
        empty_dir: empty_dir.then(EmptyDirSpec::default),
        host_path: host_path.then(|| "/data/nim".to_owned()),
        ..Default::default()
    })
}

fn scale_strategy() -> impl Strategy<Value = Option<Autoscaling>> {
    let hpa = proptest::option::of((proptest::option::of(-2i32..6), -2i32..6)).prop_map(|hpa| {
        hpa.map(|(min_replicas, max_replicas)| HorizontalPodAutoscalerSpec {
            min_replicas,
            max_replicas,
            ..Default::default()
        })
    });
    proptest::option::of((proptest::option::of(any::<bool>()), hpa)).prop_map(|scale| {
        scale.map(|(enabled, hpa)| Autoscaling {
            enabled,
            hpa,
            ..Default::default()
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn validate_never_panics_and_rejects_replicas_with_autoscaling(
        replicas in proptest::option::of(any::<i32>()),
        scale in scale_strategy(),
        kinds in any::<[bool; 4]>(),
    ) {
        let spec = NIMServiceSpec {
            image: Image {
                repository: "nvcr.io/nim/meta/llama-3.1-8b-instruct".into(),
                tag: "1.8.4".into(),
                ..Default::default()
            },
            auth_secret: Some("ngc-api-secret".into()),
            storage: storage(kinds),
            replicas,
            scale: scale.clone(),
            ..Default::default()
        };
        let service = NIMService::new("llama", spec);
        let found = service.validate();
        let updated = service.validate_update(&service.clone());
        prop_assert_eq!(errors(&found), errors(&updated), "an unchanged update adds nothing");

        let autoscaling = scale.as_ref().and_then(|s| s.enabled) == Some(true);
        let rejected = found.iter().any(|d| {
            d.is_error() && d.code == "cel-rule" && d.path == "spec" && d.message == REPLICAS_WITH_SCALE
        });
        prop_assert_eq!(rejected, replicas.is_some() && autoscaling, "{:#?}", found);

        let storage_kinds = kinds.iter().filter(|set| **set).count();
        let storage_error = found.iter().any(|d| d.is_error() && d.code == "storage-exactly-one");
        prop_assert_eq!(storage_error, storage_kinds != 1, "{:#?}", found);

        let negative = replicas.is_some_and(|r| r < 0);
        let out_of_range = found
            .iter()
            .any(|d| d.code == "out-of-range" && d.path == "spec.replicas");
        prop_assert_eq!(out_of_range, negative, "{:#?}", found);
    }
}
