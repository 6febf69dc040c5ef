//! The NIM Operator's defaults, names, labels and annotations, as constants.
//!
//! Values are from the operator at `main` f63f74d (the 3.1 line): `nimservice_types.go`,
//! `nimcache_types.go` and the controllers (see `NIM-OPERATOR.md` sections 2.5, 2.6 and 6).
//!
//! ```
//! use nim_crds::defaults;
//!
//! // The default startup probe allows failure_threshold x period = 1200 s to load the model.
//! let budget = defaults::STARTUP_PROBE.failure_threshold * defaults::STARTUP_PROBE.period_seconds;
//! assert_eq!(budget, 1200);
//! assert_eq!(defaults::API_PORT, 8000);
//! ```

/// API group of the NIM kinds.
pub const GROUP: &str = "apps.nvidia.com";
/// Version of the NIM kinds.
pub const VERSION: &str = "v1alpha1";
/// `apiVersion` of the NIM kinds.
pub const API_VERSION: &str = "apps.nvidia.com/v1alpha1";

/// Default HTTP API port of a NIM (`expose.service.port`).
pub const API_PORT: i32 = 8000;
/// Name of the container port that carries the HTTP API.
pub const API_PORT_NAME: &str = "api";
/// Name of the optional gRPC container port.
pub const GRPC_PORT_NAME: &str = "grpc";
/// Name of the optional metrics container port.
pub const METRICS_PORT_NAME: &str = "metrics";

/// Liveness endpoint of a NIM.
pub const LIVENESS_PATH: &str = "/v1/health/live";
/// Readiness endpoint of a NIM (also used by the startup probe).
pub const READINESS_PATH: &str = "/v1/health/ready";
/// Metrics endpoint of a NIM on the API port.
pub const METRICS_PATH: &str = "/v1/metrics";

/// Timings of one of the operator's default probes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProbeDefaults {
    /// HTTP path probed on the `api` port.
    pub path: &'static str,
    /// `initialDelaySeconds`.
    pub initial_delay_seconds: i32,
    /// `periodSeconds`.
    pub period_seconds: i32,
    /// `timeoutSeconds`.
    pub timeout_seconds: i32,
    /// `successThreshold`.
    pub success_threshold: i32,
    /// `failureThreshold`.
    pub failure_threshold: i32,
}

/// The operator's default liveness probe.
pub const LIVENESS_PROBE: ProbeDefaults = ProbeDefaults {
    path: LIVENESS_PATH,
    initial_delay_seconds: 15,
    period_seconds: 10,
    timeout_seconds: 1,
    success_threshold: 1,
    failure_threshold: 3,
};

/// The operator's default readiness probe.
pub const READINESS_PROBE: ProbeDefaults = ProbeDefaults {
    path: READINESS_PATH,
    initial_delay_seconds: 15,
    period_seconds: 10,
    timeout_seconds: 1,
    success_threshold: 1,
    failure_threshold: 3,
};

/// The operator's default startup probe: 120 failures x 10 s = 20 minutes (operator PR #589).
pub const STARTUP_PROBE: ProbeDefaults = ProbeDefaults {
    path: READINESS_PATH,
    initial_delay_seconds: 30,
    period_seconds: 10,
    timeout_seconds: 1,
    success_threshold: 1,
    failure_threshold: 120,
};

/// Startup probe failure threshold the operator uses under KServe Knative.
pub const KNATIVE_STARTUP_FAILURE_THRESHOLD: i32 = 30;

/// Shortest startup budget (failureThreshold x periodSeconds) the lint accepts: large models
/// take many minutes to load or build.
pub const MIN_STARTUP_SECONDS: i64 = 15 * 60;

/// Default user id of NIM pods.
pub const USER_ID: i64 = 1000;
/// Default group id of NIM pods.
pub const GROUP_ID: i64 = 2000;

/// Node selector the operator gives a NIMCache Job when none is set.
pub const NIMCACHE_NODE_SELECTOR: (&str, &str) =
    ("feature.node.kubernetes.io/pci-10de.present", "true");

/// Default DRA device class and driver.
pub const DRA_GPU_DEVICE_CLASS: &str = "gpu.nvidia.com";

/// Finalizer of NIMCache.
pub const NIMCACHE_FINALIZER: &str = "finalizer.nimcache.apps.nvidia.com";
/// Finalizer of NIMService.
pub const NIMSERVICE_FINALIZER: &str = "finalizer.nimservice.apps.nvidia.com";
/// Finalizer of NIMPipeline.
pub const NIMPIPELINE_FINALIZER: &str = "finalizer.nimpipeline.apps.nvidia.com";
/// Finalizer of NIMBuild.
pub const NIMBUILD_FINALIZER: &str = "finalizer.nimbuild.apps.nvidia.com";

/// Annotation on a NIMCache with the auto-selected profiles, a JSON array.
pub const SELECTED_PROFILES_ANNOTATION: &str = "nvidia.com/selected-profiles";
/// Annotation with the hash of the parent spec, for change detection.
pub const PARENT_SPEC_HASH_ANNOTATION: &str = "nvidia.com/parent-spec-hash";
/// Annotation with the hash of the last applied object.
pub const LAST_APPLIED_HASH_ANNOTATION: &str = "nvidia.com/last-applied-hash";
/// OpenShift annotation naming the SCC pods need.
pub const REQUIRED_SCC_ANNOTATION: &str = "openshift.io/required-scc";

/// Standard label: the object's name.
pub const LABEL_NAME: &str = "app.kubernetes.io/name";
/// Standard label: the instance.
pub const LABEL_INSTANCE: &str = "app.kubernetes.io/instance";
/// Standard label: what the object is part of (`nim-service` or `nim-cache`).
pub const LABEL_PART_OF: &str = "app.kubernetes.io/part-of";
/// Standard label: the manager (`k8s-nim-operator`).
pub const LABEL_MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// Standard label: the operator version.
pub const LABEL_OPERATOR_VERSION: &str = "app.kubernetes.io/operator-version";
/// Value of [`LABEL_MANAGED_BY`].
pub const MANAGED_BY: &str = "k8s-nim-operator";
/// Value of [`LABEL_PART_OF`] on NIMService objects.
pub const PART_OF_NIM_SERVICE: &str = "nim-service";
/// Value of [`LABEL_PART_OF`] on NIMCache objects.
pub const PART_OF_NIM_CACHE: &str = "nim-cache";

/// The environment variable that pins a NIM's profile (set from `storage.nimCache.profile`).
pub const NIM_MODEL_PROFILE_ENV: &str = "NIM_MODEL_PROFILE";
/// Where the model store is mounted in the NIM container.
pub const MODEL_STORE_PATH: &str = "/model-store";
/// The GPU resource name.
pub const GPU_RESOURCE: &str = "nvidia.com/gpu";

/// Name of the PVC a NIMCache creates: `<name>-pvc`.
pub fn nimcache_pvc_name(nimcache: &str) -> String {
    format!("{nimcache}-pvc")
}
