//! The NIMCache, the NIMService and the KEDA ScaledObject of a plan, built with `nim-crds`
//! types, rendered as YAML and linted.

use k8s_openapi::api::autoscaling::v2::{
    HPAScalingPolicy, HPAScalingRules, HorizontalPodAutoscalerBehavior, MetricIdentifier,
    MetricSpec, MetricTarget, PodsMetricSource,
};
use k8s_openapi::api::core::v1::{HTTPGetAction, Probe};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use nim_crds::{
    Image, NIMCache, NIMService, NimServiceMultiNodeConfig, ParallelismSpec, PersistentVolumeClaim,
    defaults,
};
use nim_sizing::autoscale::Recommendation;
use nim_sizing::storage::StartupProbe;
use serde::Serialize;

/// The NIM release the manifests pin (image tag of the NIMService and of the NIMCache's model
/// puller). NIM images of one model are released together; change it to the release you run.
pub const NIM_TAG: &str = "1.8.4";
/// The secret holding `NGC_API_KEY`.
pub const AUTH_SECRET: &str = "ngc-api-secret";
/// The image pull secret for nvcr.io.
pub const PULL_SECRET: &str = "ngc-secret";
/// KV-cache usage per pod, 0 to 1, as NIM exports it.
pub const KV_METRIC: &str = "gpu_cache_usage_perc";
/// Requests running per pod, as NIM exports it.
pub const RUNNING_METRIC: &str = "num_requests_running";
/// The Prometheus KEDA queries: kube-prometheus-stack's in-cluster service.
pub const PROMETHEUS: &str = "http://prometheus-operated.monitoring.svc:9090";
/// `/dev/shm` for multi-GPU pods without NVLink (NIM asks for at least 16 GiB).
pub const SHM_WITHOUT_NVLINK: &str = "16Gi";

/// What the manifests are built from.
pub struct Inputs<'a> {
    /// The NIM name (`meta/llama-3.1-8b-instruct`): the image is `nvcr.io/nim/<name>`.
    pub nim_name: &'a str,
    /// `metadata.name` of all three.
    pub name: &'a str,
    pub namespace: &'a str,
    pub storage_class: Option<&'a str>,
    /// The profile to cache and pin: an id (manifest) or a name (derived).
    pub profile: &'a str,
    pub pvc_size: &'a str,
    pub access_mode: &'a str,
    pub probe: &'a StartupProbe,
    pub autoscaling: &'a Recommendation,
    pub tp: u64,
    pub pp: u64,
    /// Whether the pod's GPUs talk over NVLink.
    pub nvlink: bool,
    /// One line for the file headers: model, GPUs, profile.
    pub summary: String,
}

/// The three objects and their YAML.
pub struct Manifests {
    pub nimcache: NIMCache,
    pub nimservice: NIMService,
    pub scaledobject: ScaledObject,
    pub nimcache_yaml: String,
    pub nimservice_yaml: String,
    pub scaledobject_yaml: String,
}

/// A KEDA `ScaledObject` (keda.sh/v1alpha1): the fields this plan sets.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaledObject {
    pub api_version: String,
    pub kind: String,
    pub metadata: ObjectMeta,
    pub spec: ScaledObjectSpec,
}

/// `spec` of a [`ScaledObject`].
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaledObjectSpec {
    pub scale_target_ref: ScaleTargetRef,
    /// Seconds between two evaluations of the triggers.
    pub polling_interval: i32,
    /// Seconds after the last active trigger before scaling to zero (with `minReplicaCount`
    /// 0; the scale-in window of other replicas is the HPA behavior below).
    pub cooldown_period: i32,
    pub min_replica_count: i32,
    pub max_replica_count: i32,
    pub advanced: Advanced,
    pub triggers: Vec<Trigger>,
}

/// The object KEDA scales.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScaleTargetRef {
    pub api_version: String,
    pub kind: String,
    pub name: String,
}

/// `spec.advanced`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Advanced {
    pub horizontal_pod_autoscaler_config: HpaConfig,
}

/// `spec.advanced.horizontalPodAutoscalerConfig`.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HpaConfig {
    pub behavior: HorizontalPodAutoscalerBehavior,
}

/// One trigger.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Trigger {
    /// `prometheus`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `AverageValue`: replicas = ceil(query / threshold).
    pub metric_type: String,
    pub metadata: PrometheusTrigger,
}

/// The metadata of a `prometheus` trigger.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PrometheusTrigger {
    pub server_address: String,
    pub query: String,
    pub threshold: String,
}

/// A DNS-1123 name from a NIM name: its last segment, lower case, other characters as `-`
/// (`meta/llama-3.1-8b-instruct` → `llama-3-1-8b-instruct`).
pub fn object_name(nim_name: &str) -> String {
    let tail = nim_name.rsplit('/').next().unwrap_or(nim_name);
    let mut name = String::new();
    for c in tail.chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            name.push(c);
        } else if !name.ends_with('-') && !name.is_empty() {
            name.push('-');
        }
    }
    let mut name: String = name.trim_end_matches('-').chars().take(52).collect();
    while name.ends_with('-') {
        name.pop();
    }
    if name.is_empty() {
        "nim".to_owned()
    } else {
        name
    }
}

/// A number for a Kubernetes quantity: `0.7`, `40`.
fn quantity(value: f64) -> Quantity {
    let text = format!("{value:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    Quantity(text.to_owned())
}

/// Scale-out within the window, scale-in after the cooldown, one pod at a time (a NIM pod
/// takes minutes to start, and removing several at once drops their requests).
fn behavior(autoscaling: &Recommendation) -> HorizontalPodAutoscalerBehavior {
    let seconds = |s: f64| s.round().clamp(0.0, 3600.0) as i32;
    HorizontalPodAutoscalerBehavior {
        scale_up: Some(HPAScalingRules {
            stabilization_window_seconds: Some(seconds(autoscaling.scale_out_window.0)),
            policies: Some(vec![HPAScalingPolicy {
                type_: "Pods".to_owned(),
                value: 2,
                period_seconds: 60,
            }]),
            ..HPAScalingRules::default()
        }),
        scale_down: Some(HPAScalingRules {
            stabilization_window_seconds: Some(seconds(autoscaling.scale_in_cooldown.0)),
            policies: Some(vec![HPAScalingPolicy {
                type_: "Pods".to_owned(),
                value: 1,
                period_seconds: 120,
            }]),
            ..HPAScalingRules::default()
        }),
    }
}

fn pods_metric(name: &str, average: Quantity) -> MetricSpec {
    MetricSpec {
        type_: "Pods".to_owned(),
        pods: Some(PodsMetricSource {
            metric: MetricIdentifier {
                name: name.to_owned(),
                selector: None,
            },
            target: MetricTarget {
                type_: "AverageValue".to_owned(),
                average_value: Some(average),
                ..MetricTarget::default()
            },
        }),
        ..MetricSpec::default()
    }
}

/// Builds the three manifests.
///
/// # Errors
/// When YAML rendering fails (a message).
pub fn build(inputs: &Inputs<'_>) -> Result<Manifests, String> {
    let repository = format!("nvcr.io/nim/{}", inputs.nim_name);
    let rec = inputs.autoscaling;
    let min = i32::try_from(rec.min_replicas).unwrap_or(i32::MAX);
    let max = i32::try_from(rec.max_replicas).unwrap_or(i32::MAX).max(min);

    let nimcache = NIMCache::from_ngc(inputs.name, format!("{repository}:{NIM_TAG}"), AUTH_SECRET)
        .in_namespace(inputs.namespace)
        .pull_secret(PULL_SECRET)
        .profiles([inputs.profile])
        .pvc(
            PersistentVolumeClaim::create(inputs.storage_class.unwrap_or(""), inputs.pvc_size)
                .access_mode(inputs.access_mode),
        )
        .resources("4", "16Gi");

    let probe = Probe {
        http_get: Some(HTTPGetAction {
            path: Some(defaults::READINESS_PATH.to_owned()),
            port: IntOrString::String(defaults::API_PORT_NAME.to_owned()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(inputs.probe.period_seconds),
        failure_threshold: Some(inputs.probe.failure_threshold),
        ..Probe::default()
    };
    let gpus_per_pod = u32::try_from(inputs.tp).unwrap_or(u32::MAX);
    let mut nimservice = NIMService::new_nim(
        inputs.name,
        Image::new(repository.clone(), NIM_TAG)
            .pull_policy("IfNotPresent")
            .pull_secrets([PULL_SECRET]),
    )
    .in_namespace(inputs.namespace)
    .auth_secret(AUTH_SECRET)
    .nim_cache(inputs.name, inputs.profile)
    .gpus(gpus_per_pod)
    .startup_probe(probe)
    .service_port(defaults::API_PORT)
    .metrics([("release", "prometheus")]);
    if let Some(startup) = nimservice.spec.startup_probe.as_mut() {
        startup.enabled = Some(true);
    }
    if inputs.tp > 1
        && !inputs.nvlink
        && let Some(storage) = nimservice.spec.storage.as_mut()
    {
        storage.shared_memory_size_limit = Some(Quantity(SHM_WITHOUT_NVLINK.to_owned()));
    }
    let mut metrics = vec![pods_metric(KV_METRIC, quantity(rec.kv_cache_target))];
    if let Some(running) = rec.concurrency_per_replica {
        metrics.push(pods_metric(RUNNING_METRIC, quantity(f64::from(running))));
    }
    if inputs.pp > 1 {
        // A LeaderWorkerSet: the CRD forbids autoscaling with multiNode.
        nimservice.spec.multi_node = Some(NimServiceMultiNodeConfig {
            parallelism: ParallelismSpec {
                pipeline: Some(i32::try_from(inputs.pp).unwrap_or(i32::MAX)),
                tensor: Some(i32::try_from(inputs.tp).unwrap_or(i32::MAX)),
            },
            ..NimServiceMultiNodeConfig::default()
        });
        nimservice = nimservice.replicas(min);
    } else {
        nimservice = nimservice.autoscale(min, max, metrics);
        if let Some(hpa) = nimservice
            .spec
            .scale
            .as_mut()
            .and_then(|scale| scale.hpa.as_mut())
        {
            hpa.behavior = Some(behavior(rec));
        }
    }

    let selector = format!(
        "namespace=\"{}\",service=\"{}\"",
        inputs.namespace, inputs.name
    );
    let mut triggers = vec![Trigger {
        type_: "prometheus".to_owned(),
        metric_type: "AverageValue".to_owned(),
        metadata: PrometheusTrigger {
            server_address: PROMETHEUS.to_owned(),
            query: format!("sum({KV_METRIC}{{{selector}}})"),
            threshold: quantity(rec.kv_cache_target).0,
        },
    }];
    if let Some(running) = rec.concurrency_per_replica {
        triggers.push(Trigger {
            type_: "prometheus".to_owned(),
            metric_type: "AverageValue".to_owned(),
            metadata: PrometheusTrigger {
                server_address: PROMETHEUS.to_owned(),
                query: format!("sum({RUNNING_METRIC}{{{selector}}})"),
                threshold: running.to_string(),
            },
        });
    }
    let (target_api, target_kind) = if inputs.pp > 1 {
        ("leaderworkerset.x-k8s.io/v1", "LeaderWorkerSet")
    } else {
        ("apps/v1", "Deployment")
    };
    let scaledobject = ScaledObject {
        api_version: "keda.sh/v1alpha1".to_owned(),
        kind: "ScaledObject".to_owned(),
        metadata: ObjectMeta {
            name: Some(inputs.name.to_owned()),
            namespace: Some(inputs.namespace.to_owned()),
            ..ObjectMeta::default()
        },
        spec: ScaledObjectSpec {
            scale_target_ref: ScaleTargetRef {
                api_version: target_api.to_owned(),
                kind: target_kind.to_owned(),
                name: inputs.name.to_owned(),
            },
            polling_interval: 15,
            cooldown_period: rec.scale_in_cooldown.0.round().clamp(0.0, 86_400.0) as i32,
            min_replica_count: min,
            max_replica_count: max,
            advanced: Advanced {
                horizontal_pod_autoscaler_config: HpaConfig {
                    behavior: behavior(rec),
                },
            },
            triggers,
        },
    };

    let nimcache_yaml = yaml(
        format!(
            "# NIMCache: downloads profile {} of {} once into a {} {} PVC.\n# {}\n",
            inputs.profile, inputs.nim_name, inputs.pvc_size, inputs.access_mode, inputs.summary
        ),
        &nimcache,
    )?;
    let nimservice_yaml = yaml(
        format!(
            "# NIMService: runs the cached profile (NIM_MODEL_PROFILE) on {} GPU{} per pod, {}.\n\
             # {}\n",
            inputs.tp,
            if inputs.tp == 1 { "" } else { "s" },
            if inputs.pp > 1 {
                format!("{} pods per replica (multiNode), {min} replicas", inputs.pp)
            } else {
                format!("{min} to {max} replicas (spec.scale, the operator's HPA)")
            },
            inputs.summary
        ),
        &nimservice,
    )?;
    let scaledobject_yaml = yaml(
        format!(
            "# KEDA ScaledObject: the same policy as the NIMService's spec.scale, for clusters that\n\
             # scale with KEDA. An alternative, not an addition: two autoscalers on one {target_kind}\n\
             # fight, and the operator resets the replicas of a NIMService without spec.scale.\n\
             # {}\n",
            inputs.summary
        ),
        &scaledobject,
    )?;
    Ok(Manifests {
        nimcache,
        nimservice,
        scaledobject,
        nimcache_yaml,
        nimservice_yaml,
        scaledobject_yaml,
    })
}

/// One object as a YAML document after a comment header.
fn yaml<T: Serialize>(header: String, object: &T) -> Result<String, String> {
    let text = nim_crds::crd::to_yaml(std::slice::from_ref(object))
        .map_err(|e| format!("cannot render YAML: {e}"))?;
    Ok(format!("{header}{text}"))
}
