//! Sub-structures shared by several NIM kinds (Go: `common_types.go`).

use std::collections::BTreeMap;

use k8s_openapi::api::{
    autoscaling::v2::{HorizontalPodAutoscalerBehavior, MetricSpec},
    core::v1::{ConfigMapKeySelector, ContainerPort, EnvVar, Probe},
    networking::v1::IngressSpec,
};
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::schema::PROMETHEUS_DURATION_PATTERN;

/// A container image and how to pull it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Image {
    /// Image repository, e.g. `nvcr.io/nim/meta/llama-3.1-8b-instruct`.
    pub repository: String,
    /// Image tag, e.g. `1.8.4`.
    pub tag: String,
    /// Pull policy (`Always`, `IfNotPresent`, `Never`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_policy: Option<String>,
    /// Names of image pull secrets (plain strings, not `{name: ...}` objects).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_secrets: Option<Vec<String>>,
}

/// An init or sidecar container, or the endpoint picker's container.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NIMContainerSpec {
    /// Container name.
    pub name: String,
    /// Container image.
    pub image: Image,
    /// Entrypoint override.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// Arguments to the entrypoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
    /// Environment variables.
    #[schemars(schema_with = "crate::k8s_schema::env_vars")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<EnvVar>>,
    /// Working directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
}

/// A PersistentVolumeClaim to create or use, for a NIMCache or a NIMService.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PersistentVolumeClaim {
    /// Create the PVC (`<name>-pvc` unless `name` is set); when not `true`, `name` must name
    /// an existing PVC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create: Option<bool>,
    /// Name of the PVC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Storage class of a created PVC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_class: Option<String>,
    /// Size of a created PVC, a Kubernetes quantity such as `250Gi`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<String>,
    /// Access mode: `ReadWriteOnce`, `ReadOnlyMany`, `ReadWriteMany` or `ReadWriteOncePod`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume_access_mode: Option<String>,
    /// Sub-path of the volume to mount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub_path: Option<String>,
    /// Annotations of a created PVC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
}

/// HTTP proxy settings for pods that reach the internet.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProxySpec {
    /// `http_proxy` URL (must start with `http://` or `https://`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_proxy: Option<String>,
    /// `https_proxy` URL (must start with `http://` or `https://`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub https_proxy: Option<String>,
    /// Comma-separated hosts, IPs and CIDRs that bypass the proxy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_proxy: Option<String>,
    /// ConfigMap holding the proxy's CA certificates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_config_map: Option<String>,
}

/// Deprecated NIMCache certificate configuration; use [`ProxySpec::cert_config_map`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CertConfig {
    /// ConfigMap name.
    pub name: String,
    /// Where to mount it.
    pub mount_path: String,
}

/// The operator's probe wrapper: `{enabled, probe}`.
///
/// An unset `enabled` means enabled; an unset `probe` means the operator's default probe
/// (see [`crate::defaults`]). A user `probe` replaces the default wholesale.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NIMProbe {
    /// Whether the probe is set on the container (`false` drops it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// The probe itself.
    #[schemars(schema_with = "crate::k8s_schema::probe")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe: Option<Probe>,
}

/// How a NIMService is exposed.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Expose {
    /// The Kubernetes Service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<ExposeService>,
    /// Deprecated Ingress; use [`Router::ingress`] (`expose.router.ingress`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<ExposeIngress>,
    /// Ingress or Gateway API routing to the service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub router: Option<Router>,
}

/// The Kubernetes Service in front of a NIMService.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExposeService {
    /// Service type (`ClusterIP`, `NodePort`, `LoadBalancer`).
    #[serde(rename = "type")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// Ignored by the operator: the Service is always named after the NIMService.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// HTTP API port (named `api`); the API server defaults it to 8000.
    #[schemars(extend("default" = 8000), range(min = 1, max = 65535))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
    /// gRPC port (Triton-based NIMs).
    #[schemars(range(min = 1, max = 65535))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc_port: Option<i32>,
    /// Separate metrics port (Triton-based NIMs, scraped at `/metrics`).
    #[schemars(range(min = 1, max = 65535))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics_port: Option<i32>,
    /// Annotations of the Service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Labels of the Service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<BTreeMap<String, String>>,
}

/// Deprecated `expose.ingress`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExposeIngress {
    /// Whether the Ingress is created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Annotations of the Ingress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// The Ingress spec.
    #[schemars(schema_with = "crate::k8s_schema::ingress_spec")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<IngressSpec>,
}

/// Routing to a NIMService through an Ingress or a Gateway API gateway.
///
/// The host is `<name>.<namespace>.<hostDomainName>`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!(has(self.gateway) && has(self.ingress))").message("ingress and gateway cannot be specified together"))]
pub struct Router {
    /// Domain under which the host name is built; required with an ingress or a gateway.
    #[schemars(
        length(min = 1, max = 63),
        regex(
            pattern = r"^(([a-z0-9][a-z0-9\-]*[a-z0-9])|[a-z0-9]+\.)*([a-z]+|xn\-\-[a-z0-9]+)\.?$"
        )
    )]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_domain_name: Option<String>,
    /// Annotations of the Ingress or routes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Route through an Ingress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<RouterIngress>,
    /// Route through a Gateway API gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<Gateway>,
    /// Gateway API inference extension endpoint picker (standalone NIMService only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epp_config: Option<EPPConfig>,
}

/// The Ingress of a [`Router`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RouterIngress {
    /// Ingress class.
    #[schemars(length(min = 1))]
    pub ingress_class: String,
    /// Secret with the TLS certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_secret_name: Option<String>,
}

/// The Gateway API gateway of a [`Router`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Gateway {
    /// Namespace of the Gateway.
    #[schemars(length(min = 1))]
    pub namespace: String,
    /// Name of the Gateway.
    #[schemars(length(min = 1))]
    pub name: String,
    /// Create an HTTPRoute (defaults to true).
    #[schemars(extend("default" = true))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_routes_enabled: Option<bool>,
    /// Create a GRPCRoute (defaults to false); needs `expose.service.grpcPort`.
    #[schemars(extend("default" = false))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc_routes_enabled: Option<bool>,
    /// Backend of the routes, when not the NIMService's own Service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend_ref: Option<BackendRef>,
}

/// Gateway API `BackendRef` (`gateway.networking.k8s.io/v1`), written here because
/// k8s-openapi does not ship Gateway API types.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("(size(self.group) == 0 && self.kind == 'Service') ? has(self.port) : true").message("Must have port for Service reference"))]
pub struct BackendRef {
    /// API group of the referent; `""` is the core group.
    #[schemars(extend("default" = ""), length(max = 253), regex(pattern = r"^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Kind of the referent (defaults to `Service`).
    #[schemars(extend("default" = "Service"), length(min = 1, max = 63), regex(pattern = r"^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$"))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Name of the referent.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Namespace of the referent (defaults to the route's namespace).
    #[schemars(
        length(min = 1, max = 63),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    )]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Port of the referent; required for a Service.
    #[schemars(range(min = 1, max = 65535))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
    /// Share of the traffic (defaults to 1).
    #[schemars(extend("default" = 1), range(min = 0, max = 1_000_000))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i32>,
}

/// The Gateway API inference extension's endpoint picker (EPP) deployment.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!(has(self.configMapRef) && has(self.config))").message("specify either configMapRef or config, not both"))]
pub struct EPPConfig {
    /// The EPP container.
    pub container_spec: NIMContainerSpec,
    /// Readiness probe of the EPP container (default: gRPC on 9003).
    #[schemars(schema_with = "crate::k8s_schema::probe")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness_probe: Option<Probe>,
    /// Liveness probe of the EPP container (default: gRPC on 9003).
    #[schemars(schema_with = "crate::k8s_schema::probe")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness_probe: Option<Probe>,
    /// Startup probe of the EPP container.
    #[schemars(schema_with = "crate::k8s_schema::probe")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub startup_probe: Option<Probe>,
    /// Container ports (default: 9002 `grpc-ext-proc`, 9003 `grpc-health`, 9090 `http-metrics`).
    #[schemars(schema_with = "crate::k8s_schema::container_ports")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<Vec<ContainerPort>>,
    /// ConfigMap key holding the EPP configuration.
    #[schemars(schema_with = "crate::k8s_schema::config_map_key_selector")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_ref: Option<ConfigMapKeySelector>,
    /// Inline `EndpointPickerConfig` of the Gateway API inference extension, kept as JSON so
    /// that fields this crate does not know survive.
    #[schemars(schema_with = "crate::schema::endpoint_picker_config")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<serde_json::Value>,
}

/// Metrics and the Prometheus ServiceMonitor.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Metrics {
    /// Create a ServiceMonitor (needs `serviceMonitor`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// The ServiceMonitor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_monitor: Option<ServiceMonitor>,
}

/// A prometheus-operator ServiceMonitor for the NIM's `/v1/metrics`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServiceMonitor {
    /// Labels Prometheus selects ServiceMonitors by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_labels: Option<BTreeMap<String, String>>,
    /// Annotations of the ServiceMonitor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// Scrape interval, a Prometheus duration such as `30s`.
    #[schemars(regex(pattern = PROMETHEUS_DURATION_PATTERN))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    /// Scrape timeout, a Prometheus duration.
    #[schemars(regex(pattern = PROMETHEUS_DURATION_PATTERN))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scrape_timeout: Option<String>,
}

/// Autoscaling of a NIMService (`spec.scale`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Autoscaling {
    /// Create a HorizontalPodAutoscaler (needs `hpa`, excludes `spec.replicas`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Annotations of the HPA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<BTreeMap<String, String>>,
    /// The HPA settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hpa: Option<HorizontalPodAutoscalerSpec>,
}

/// The HorizontalPodAutoscaler of a NIMService.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HorizontalPodAutoscalerSpec {
    /// Minimum replicas (defaults to 1).
    #[schemars(extend("default" = 1), range(min = 1))]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_replicas: Option<i32>,
    /// Maximum replicas.
    pub max_replicas: i32,
    /// Metrics to scale on (prefer KV-cache usage or queue depth to CPU or memory).
    #[schemars(schema_with = "crate::k8s_schema::metric_specs")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<Vec<MetricSpec>>,
    /// Scale-up and scale-down behaviour.
    #[schemars(schema_with = "crate::k8s_schema::hpa_behavior")]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub behavior: Option<HorizontalPodAutoscalerBehavior>,
}

/// A model profile cached in a NIMCache (or built by a NIMBuild).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NIMProfile {
    /// Profile id (the manifest's profile hash).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Model name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// NIM release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    /// Manifest tags of the profile (`precision`, `tp`, `llm_engine`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<BTreeMap<String, String>>,
}
