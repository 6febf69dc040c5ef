//! Constructors, chainable setters and typed status accessors for the common cases.
//!
//! Everything here is an inherent method on the CRD types themselves: a constructor builds the
//! smallest valid object, and each `#[must_use]` setter takes `self`, fills one part of the spec
//! and returns `Self`. Setters only ever write what they are given: an unset field stays unset
//! (no `null`, no empty objects such as `hpa: {}` whose required children are missing).
//!
//! Setters avoid the names of kube's `ResourceExt` methods: a `namespace(self, ns)` method on
//! the type would shadow `ResourceExt::namespace(&self)` for `Arc<NIMService>`, which kube's
//! controller runtime hands to reconcilers. The namespace setter is therefore
//! [`in_namespace`](NIMService::in_namespace).
//!
//! ```
//! use nim_crds::{Image, NIMCache, NIMService, PersistentVolumeClaim};
//!
//! let cache = NIMCache::from_ngc(
//!     "llama-cache",
//!     "nvcr.io/nim/meta/llama-3.1-8b-instruct:1.8.4",
//!     "ngc-api-secret",
//! )
//! .in_namespace("nim")
//! .pull_secret("ngc-secret")
//! .precision("fp8")
//! .tensor_parallelism(1)
//! .pvc(PersistentVolumeClaim::create("standard", "50Gi").access_mode("ReadWriteOnce"));
//!
//! let service = NIMService::new_nim(
//!     "llama",
//!     Image::new("nvcr.io/nim/meta/llama-3.1-8b-instruct", "1.8.4"),
//! )
//! .in_namespace("nim")
//! .nim_cache("llama-cache", "tensorrt_llm-h100-fp8-tp1-pp1-latency")
//! .auth_secret("ngc-api-secret")
//! .gpus(1)
//! .replicas(1);
//!
//! let json = serde_json::to_value(&service).unwrap();
//! assert_eq!(json["spec"]["storage"]["nimCache"]["name"], "llama-cache");
//! assert_eq!(json["spec"]["resources"]["limits"]["nvidia.com/gpu"], "1");
//! assert_eq!(serde_json::to_value(&cache).unwrap()["spec"]["source"]["ngc"]["model"]["tensorParallelism"], "1");
//! ```
//!
//! Reading status:
//!
//! ```
//! use nim_crds::{NIMService, NIMServiceState};
//!
//! let svc: NIMService = serde_json::from_value(serde_json::json!({
//!     "apiVersion": "apps.nvidia.com/v1alpha1",
//!     "kind": "NIMService",
//!     "metadata": {"name": "llama"},
//!     "spec": {"image": {"repository": "nvcr.io/nim/meta/llama-3.1-8b-instruct", "tag": "1.8.4"}},
//!     "status": {"state": "Ready", "model": {
//!         "name": "meta/llama-3.1-8b-instruct",
//!         "clusterEndpoint": "llama.nim.svc.cluster.local:8000",
//!         "externalEndpoint": "llama.nim.example.com"
//!     }}
//! }))
//! .unwrap();
//! assert_eq!(svc.state(), Some(NIMServiceState::Ready));
//! assert!(svc.is_ready());
//! assert_eq!(svc.model_endpoint(), Some("llama.nim.svc.cluster.local:8000"));
//! ```

use std::collections::BTreeMap;

use k8s_openapi::{
    api::{
        autoscaling::v2::MetricSpec,
        core::v1::{EnvVar, Probe, ResourceRequirements, Toleration},
    },
    apimachinery::pkg::{api::resource::Quantity, apis::meta::v1::Condition},
};

use crate::{
    common::{
        Autoscaling, ExposeService, Gateway, HorizontalPodAutoscalerSpec, Image, Metrics, NIMProbe,
        NIMProfile, PersistentVolumeClaim, RouterIngress, ServiceMonitor,
    },
    defaults::{GPU_RESOURCE, SELECTED_PROFILES_ANNOTATION},
    error::{Error, Result},
    nimbuild::{NIMBuild, NIMBuildResources, NIMBuildSpec, NIMCacheReference},
    nimcache::{
        GPUSpec, ModelSpec, NGCSource, NIMCache, NIMCacheResources, NIMCacheSpec, NIMCacheStorage,
        NIMSource,
    },
    nimpipeline::{NIMPipeline, NIMPipelineSpec, NIMServicePipelineSpec, ServiceDependency},
    nimservice::{ModelStatus, NIMCacheVolSpec, NIMService, NIMServiceSpec, NIMServiceStorage},
    status::{NIMBuildState, NIMCacheState, NIMPipelineState, NIMServiceState},
};

// ---------------------------------------------------------------------------------------------
// Shared sub-structures
// ---------------------------------------------------------------------------------------------

impl Image {
    /// An image from a repository and a tag; pull policy and pull secrets unset.
    ///
    /// ```
    /// use nim_crds::Image;
    ///
    /// let image = Image::new("nvcr.io/nim/meta/llama-3.1-8b-instruct", "1.8.4")
    ///     .pull_policy("IfNotPresent")
    ///     .pull_secrets(["ngc-secret"]);
    /// assert_eq!(
    ///     serde_json::to_value(&image).unwrap(),
    ///     serde_json::json!({
    ///         "repository": "nvcr.io/nim/meta/llama-3.1-8b-instruct",
    ///         "tag": "1.8.4",
    ///         "pullPolicy": "IfNotPresent",
    ///         "pullSecrets": ["ngc-secret"],
    ///     })
    /// );
    /// ```
    pub fn new(repository: impl Into<String>, tag: impl Into<String>) -> Self {
        Self {
            repository: repository.into(),
            tag: tag.into(),
            pull_policy: None,
            pull_secrets: None,
        }
    }

    /// Sets the pull policy (`Always`, `IfNotPresent` or `Never`).
    #[must_use]
    pub fn pull_policy(mut self, policy: impl Into<String>) -> Self {
        self.pull_policy = Some(policy.into());
        self
    }

    /// Sets the names of the image pull secrets; an empty list leaves them unset.
    #[must_use]
    pub fn pull_secrets<I, S>(mut self, secrets: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.pull_secrets = non_empty(secrets.into_iter().map(Into::into).collect());
        self
    }
}

impl PersistentVolumeClaim {
    /// A PVC for the operator to create (`create: true`) with a storage class and a size (a
    /// Kubernetes quantity such as `250Gi`).
    ///
    /// An empty `storage_class` leaves `storageClass` unset, which is what the operator's Go
    /// types mean by `""`: the cluster's default storage class.
    ///
    /// ```
    /// use nim_crds::PersistentVolumeClaim;
    ///
    /// let pvc = PersistentVolumeClaim::create("local-path", "250Gi").access_mode("ReadWriteMany");
    /// assert_eq!(
    ///     serde_json::to_value(&pvc).unwrap(),
    ///     serde_json::json!({
    ///         "create": true,
    ///         "storageClass": "local-path",
    ///         "size": "250Gi",
    ///         "volumeAccessMode": "ReadWriteMany",
    ///     })
    /// );
    ///
    /// let default_class = PersistentVolumeClaim::create("", "50Gi");
    /// assert_eq!(
    ///     serde_json::to_value(&default_class).unwrap(),
    ///     serde_json::json!({"create": true, "size": "50Gi"})
    /// );
    /// ```
    pub fn create(storage_class: impl Into<String>, size: impl Into<String>) -> Self {
        let storage_class = storage_class.into();
        Self {
            create: Some(true),
            storage_class: (!storage_class.is_empty()).then_some(storage_class),
            size: Some(size.into()),
            ..Self::default()
        }
    }

    /// An existing PVC, by name (`create` stays unset).
    ///
    /// ```
    /// use nim_crds::PersistentVolumeClaim;
    ///
    /// let pvc = PersistentVolumeClaim::existing("models").sub_path("llama");
    /// assert_eq!(
    ///     serde_json::to_value(&pvc).unwrap(),
    ///     serde_json::json!({"name": "models", "subPath": "llama"})
    /// );
    /// ```
    pub fn existing(name: impl Into<String>) -> Self {
        Self {
            name: Some(name.into()),
            ..Self::default()
        }
    }

    /// Sets the PVC name (for a created PVC, instead of `<owner>-pvc`).
    #[must_use]
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the access mode: `ReadWriteOnce`, `ReadOnlyMany`, `ReadWriteMany` or
    /// `ReadWriteOncePod`.
    #[must_use]
    pub fn access_mode(mut self, mode: impl Into<String>) -> Self {
        self.volume_access_mode = Some(mode.into());
        self
    }

    /// Sets the sub-path of the volume to mount.
    #[must_use]
    pub fn sub_path(mut self, sub_path: impl Into<String>) -> Self {
        self.sub_path = Some(sub_path.into());
        self
    }
}

impl From<&str> for GPUSpec {
    /// A GPU by product name, e.g. `h100` or `NVIDIA-H100-80GB-HBM3`.
    fn from(product: &str) -> Self {
        Self::from(product.to_owned())
    }
}

impl From<String> for GPUSpec {
    /// A GPU by product name, e.g. `h100` or `NVIDIA-H100-80GB-HBM3`.
    fn from(product: String) -> Self {
        Self {
            product: Some(product),
            ids: None,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// NIMCache
// ---------------------------------------------------------------------------------------------

impl NIMCache {
    /// A NIMCache that downloads a NIM from NGC by running its image (`model_puller`), with the
    /// `NGC_API_KEY` from the secret `auth_secret`.
    ///
    /// Without model selectors the operator picks profiles for the GPUs it detects; the
    /// selector setters ([`profiles`](Self::profiles), [`precision`](Self::precision), ...)
    /// narrow that down. Storage is empty until [`pvc`](Self::pvc) sets it (the operator's
    /// webhook requires a PVC).
    ///
    /// ```
    /// use nim_crds::{NIMCache, PersistentVolumeClaim};
    ///
    /// let cache = NIMCache::from_ngc(
    ///     "llama-cache",
    ///     "nvcr.io/nim/meta/llama-3.1-8b-instruct:1.8.4",
    ///     "ngc-api-secret",
    /// )
    /// .in_namespace("nim")
    /// .pull_secret("ngc-secret")
    /// .engine("tensorrt_llm")
    /// .precision("fp8")
    /// .tensor_parallelism(2)
    /// .qos_profile("throughput")
    /// .gpus(["h100"])
    /// .pvc(PersistentVolumeClaim::create("standard", "100Gi").access_mode("ReadWriteOnce"));
    ///
    /// let json = serde_json::to_value(&cache).unwrap();
    /// assert_eq!(json["apiVersion"], "apps.nvidia.com/v1alpha1");
    /// assert_eq!(json["kind"], "NIMCache");
    /// assert_eq!(json["metadata"], serde_json::json!({"name": "llama-cache", "namespace": "nim"}));
    /// assert_eq!(
    ///     json["spec"],
    ///     serde_json::json!({
    ///         "source": {"ngc": {
    ///             "modelPuller": "nvcr.io/nim/meta/llama-3.1-8b-instruct:1.8.4",
    ///             "authSecret": "ngc-api-secret",
    ///             "pullSecret": "ngc-secret",
    ///             "model": {
    ///                 "engine": "tensorrt_llm",
    ///                 "precision": "fp8",
    ///                 "tensorParallelism": "2",
    ///                 "qosProfile": "throughput",
    ///                 "gpus": [{"product": "h100"}],
    ///             },
    ///         }},
    ///         "storage": {"pvc": {
    ///             "create": true,
    ///             "storageClass": "standard",
    ///             "size": "100Gi",
    ///             "volumeAccessMode": "ReadWriteOnce",
    ///         }},
    ///     })
    /// );
    /// assert!(json.get("status").is_none());
    /// ```
    pub fn from_ngc(
        name: &str,
        model_puller: impl Into<String>,
        auth_secret: impl Into<String>,
    ) -> Self {
        Self::new(
            name,
            NIMCacheSpec {
                source: NIMSource {
                    ngc: Some(NGCSource {
                        auth_secret: auth_secret.into(),
                        model_puller: model_puller.into(),
                        pull_secret: None,
                        model: None,
                        model_endpoint: None,
                    }),
                    data_store: None,
                    hf: None,
                },
                storage: NIMCacheStorage::default(),
                resources: None,
                tolerations: None,
                node_selector: None,
                user_id: None,
                group_id: None,
                cert_config: None,
                env: None,
                runtime_class_name: None,
                proxy: None,
                init_containers: None,
            },
        )
    }

    /// Sets `metadata.namespace`.
    #[must_use]
    pub fn in_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.metadata.namespace = Some(namespace.into());
        self
    }

    /// Sets the image pull secret of the model puller, whichever the source.
    #[must_use]
    pub fn pull_secret(mut self, secret: impl Into<String>) -> Self {
        let secret = secret.into();
        let source = &mut self.spec.source;
        if let Some(ngc) = source.ngc.as_mut() {
            ngc.pull_secret = Some(secret.clone());
        }
        if let Some(hf) = source.hf.as_mut() {
            hf.common.pull_secret.clone_from(&secret);
        }
        if let Some(data_store) = source.data_store.as_mut() {
            data_store.common.pull_secret = secret;
        }
        self
    }

    /// Sets the profile ids to cache, or `["all"]`.
    ///
    /// The operator's webhook rejects `profiles` together with any other selector. Like every
    /// model selector, this applies to an NGC source only and leaves a cache from another
    /// source unchanged.
    #[must_use]
    pub fn profiles<I, S>(self, profiles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let profiles = non_empty(profiles.into_iter().map(Into::into).collect());
        self.with_model(|model| model.profiles = profiles)
    }

    /// Selects profiles by precision tag, e.g. `fp8` or `bf16` (NGC source only).
    #[must_use]
    pub fn precision(self, precision: impl Into<String>) -> Self {
        let precision = precision.into();
        self.with_model(|model| model.precision = Some(precision))
    }

    /// Selects profiles by engine, e.g. `tensorrt_llm` or `vllm` (NGC source only).
    #[must_use]
    pub fn engine(self, engine: impl Into<String>) -> Self {
        let engine = engine.into();
        self.with_model(|model| model.engine = Some(engine))
    }

    /// Selects profiles by tensor parallelism, written as the string the CRD expects (`"2"`)
    /// (NGC source only).
    #[must_use]
    pub fn tensor_parallelism(self, tp: u32) -> Self {
        self.with_model(|model| model.tensor_parallelism = Some(tp.to_string()))
    }

    /// Selects profiles by QoS profile: `latency` or `throughput` (NGC source only).
    #[must_use]
    pub fn qos_profile(self, qos: impl Into<String>) -> Self {
        let qos = qos.into();
        self.with_model(|model| model.qos_profile = Some(qos))
    }

    /// Selects profiles for these GPUs, given as product names (`"h100"`) or [`GPUSpec`]s;
    /// an empty list leaves the operator to detect GPUs from node labels (NGC source only).
    #[must_use]
    pub fn gpus<I, G>(self, gpus: I) -> Self
    where
        I: IntoIterator<Item = G>,
        G: Into<GPUSpec>,
    {
        let gpus = non_empty(gpus.into_iter().map(Into::into).collect());
        self.with_model(|model| model.gpus = gpus)
    }

    /// Includes (`true`) or excludes LoRA profiles; unset excludes them (NGC source only).
    #[must_use]
    pub fn lora(self, lora: bool) -> Self {
        self.with_model(|model| model.lora = Some(lora))
    }

    /// Sets the PVC that holds the cache.
    #[must_use]
    pub fn pvc(mut self, pvc: PersistentVolumeClaim) -> Self {
        self.spec.storage.pvc = Some(pvc);
        self
    }

    /// Sets the CPU and memory of the caching Job (quantities such as `4` and `16Gi`).
    #[must_use]
    pub fn resources(mut self, cpu: impl Into<String>, memory: impl Into<String>) -> Self {
        self.spec.resources = Some(NIMCacheResources {
            cpu: Some(Quantity(cpu.into())),
            memory: Some(Quantity(memory.into())),
        });
        self
    }

    /// Sets the tolerations of the caching Job; an empty list leaves them unset.
    #[must_use]
    pub fn tolerations(mut self, tolerations: impl IntoIterator<Item = Toleration>) -> Self {
        self.spec.tolerations = non_empty(tolerations.into_iter().collect());
        self
    }

    /// Applies `set` to the NGC source's model selectors, creating them if needed; does
    /// nothing when the source is not NGC.
    fn with_model(mut self, set: impl FnOnce(&mut ModelSpec)) -> Self {
        if let Some(ngc) = self.spec.source.ngc.as_mut() {
            let mut model = ngc.model.take().unwrap_or_default();
            set(&mut model);
            // Never leave `model: {}` behind, e.g. after `profiles([])`.
            ngc.model = (model != ModelSpec::default()).then_some(model);
        }
        self
    }

    /// The profiles the operator reports as cached (`status.profiles`); empty when none.
    ///
    /// The operator fills them when the caching Job succeeds, for the selected profiles only
    /// (none with `profiles: [all]`).
    pub fn cached_profiles(&self) -> &[NIMProfile] {
        self.status
            .as_ref()
            .and_then(|status| status.profiles.as_deref())
            .unwrap_or_default()
    }

    /// The profile ids the operator auto-selected, from the JSON array in the
    /// `nvidia.com/selected-profiles` annotation; empty when the annotation is absent (or
    /// `null`).
    ///
    /// # Errors
    ///
    /// [`Error::Object`] at the annotation's path when its value is not a JSON array of
    /// strings.
    ///
    /// ```
    /// use nim_crds::NIMCache;
    ///
    /// let mut cache = NIMCache::from_ngc("c", "nvcr.io/nim/meta/llama-3.1-8b-instruct:1.8.4", "ngc");
    /// assert_eq!(cache.selected_profiles().unwrap(), Vec::<String>::new());
    ///
    /// cache.metadata.annotations = Some(
    ///     [("nvidia.com/selected-profiles".to_owned(), r#"["4f904d57", "ad17776f"]"#.to_owned())]
    ///         .into(),
    /// );
    /// assert_eq!(cache.selected_profiles().unwrap(), ["4f904d57", "ad17776f"]);
    ///
    /// cache.metadata.annotations = Some(
    ///     [("nvidia.com/selected-profiles".to_owned(), "4f904d57".to_owned())].into(),
    /// );
    /// let err = cache.selected_profiles().unwrap_err();
    /// assert!(err.to_string().starts_with(r#"metadata.annotations."nvidia.com/selected-profiles": "#));
    /// ```
    pub fn selected_profiles(&self) -> Result<Vec<String>> {
        let Some(raw) = self
            .metadata
            .annotations
            .as_ref()
            .and_then(|annotations| annotations.get(SELECTED_PROFILES_ANNOTATION))
        else {
            return Ok(Vec::new());
        };
        serde_json::from_str::<Option<Vec<String>>>(raw)
            .map(Option::unwrap_or_default)
            .map_err(|err| Error::Object {
                path: format!("metadata.annotations.\"{SELECTED_PROFILES_ANNOTATION}\""),
                message: format!("expected a JSON array of profile ids: {err}"),
            })
    }
}

// ---------------------------------------------------------------------------------------------
// NIMService
// ---------------------------------------------------------------------------------------------

impl NIMService {
    /// A NIMService running `image`, every other field unset.
    ///
    /// (kube's derive already provides `NIMService::new(name, spec)`.)
    ///
    /// ```
    /// use k8s_openapi::api::autoscaling::v2::{
    ///     ExternalMetricSource, MetricIdentifier, MetricSpec, MetricTarget,
    /// };
    /// use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
    /// use nim_crds::{Image, NIMService};
    ///
    /// let kv_cache = MetricSpec {
    ///     type_: "External".to_owned(),
    ///     external: Some(ExternalMetricSource {
    ///         metric: MetricIdentifier {
    ///             name: "gpu_cache_usage_perc".to_owned(),
    ///             selector: None,
    ///         },
    ///         target: MetricTarget {
    ///             type_: "AverageValue".to_owned(),
    ///             average_value: Some(Quantity("750m".to_owned())),
    ///             ..MetricTarget::default()
    ///         },
    ///     }),
    ///     ..MetricSpec::default()
    /// };
    ///
    /// let svc = NIMService::new_nim(
    ///     "llama",
    ///     Image::new("nvcr.io/nim/meta/llama-3.1-8b-instruct", "1.8.4").pull_secrets(["ngc-secret"]),
    /// )
    /// .in_namespace("nim")
    /// .nim_cache("llama-cache", "tensorrt_llm-h100-fp8-tp1-pp1-latency")
    /// .auth_secret("ngc-api-secret")
    /// .gpus(1)
    /// .replicas(2)
    /// .autoscale(1, 4, [kv_cache]) // clears `replicas`: the CRD forbids both
    /// .gateway_router("example.com", "gateway-system", "inference-gateway")
    /// .service_port(8000)
    /// .metrics([("release", "prometheus")]);
    ///
    /// let json = serde_json::to_value(&svc).unwrap();
    /// assert_eq!(json["metadata"], serde_json::json!({"name": "llama", "namespace": "nim"}));
    /// let spec = &json["spec"];
    /// assert_eq!(spec["image"]["pullSecrets"], serde_json::json!(["ngc-secret"]));
    /// assert_eq!(
    ///     spec["storage"],
    ///     serde_json::json!({"nimCache": {
    ///         "name": "llama-cache",
    ///         "profile": "tensorrt_llm-h100-fp8-tp1-pp1-latency",
    ///     }})
    /// );
    /// assert_eq!(spec["authSecret"], "ngc-api-secret");
    /// assert_eq!(spec["resources"], serde_json::json!({"limits": {"nvidia.com/gpu": "1"}}));
    /// assert!(spec.get("replicas").is_none());
    /// assert_eq!(spec["scale"]["enabled"], true);
    /// assert_eq!(spec["scale"]["hpa"]["minReplicas"], 1);
    /// assert_eq!(spec["scale"]["hpa"]["maxReplicas"], 4);
    /// assert_eq!(spec["scale"]["hpa"]["metrics"][0]["external"]["metric"]["name"], "gpu_cache_usage_perc");
    /// assert_eq!(
    ///     spec["expose"],
    ///     serde_json::json!({
    ///         "service": {"port": 8000},
    ///         "router": {
    ///             "hostDomainName": "example.com",
    ///             "gateway": {"namespace": "gateway-system", "name": "inference-gateway"},
    ///         },
    ///     })
    /// );
    /// assert_eq!(
    ///     spec["metrics"],
    ///     serde_json::json!({"enabled": true, "serviceMonitor": {"additionalLabels": {"release": "prometheus"}}})
    /// );
    /// ```
    pub fn new_nim(name: &str, image: Image) -> Self {
        Self::new(
            name,
            NIMServiceSpec {
                image,
                ..NIMServiceSpec::default()
            },
        )
    }

    /// Sets `metadata.namespace`.
    #[must_use]
    pub fn in_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.metadata.namespace = Some(namespace.into());
        self
    }

    /// Runs `profile` from the NIMCache `cache`: sets `storage.nimCache` and removes any other
    /// model source (`pvc`, `hostPath`, `emptyDir`), since exactly one is allowed. An empty
    /// `profile` leaves the profile unset (the NIM then picks one from the cache).
    #[must_use]
    pub fn nim_cache(mut self, cache: impl Into<String>, profile: impl Into<String>) -> Self {
        let profile = profile.into();
        let storage = self.storage();
        storage.nim_cache = Some(NIMCacheVolSpec {
            name: Some(cache.into()),
            profile: (!profile.is_empty()).then_some(profile),
        });
        storage.pvc = None;
        storage.host_path = None;
        storage.empty_dir = None;
        self
    }

    /// Reads the model from a PVC: sets `storage.pvc` and removes any other model source.
    #[must_use]
    pub fn model_pvc(mut self, pvc: PersistentVolumeClaim) -> Self {
        let storage = self.storage();
        storage.pvc = Some(pvc);
        storage.nim_cache = None;
        storage.host_path = None;
        storage.empty_dir = None;
        self
    }

    fn storage(&mut self) -> &mut NIMServiceStorage {
        self.spec.storage.get_or_insert_with(Default::default)
    }

    /// Sets the secret with `NGC_API_KEY` (and optionally `HF_TOKEN`).
    #[must_use]
    pub fn auth_secret(mut self, secret: impl Into<String>) -> Self {
        self.spec.auth_secret = Some(secret.into());
        self
    }

    /// Sets the image pull secrets (`spec.image.pullSecrets`); an empty list unsets them.
    #[must_use]
    pub fn pull_secrets<I, S>(mut self, secrets: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.spec.image = self.spec.image.pull_secrets(secrets);
        self
    }

    /// Adds an environment variable with a literal value (replacing one of the same name).
    #[must_use]
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let var = EnvVar {
            name: name.into(),
            value: Some(value.into()),
            value_from: None,
        };
        let env = self.spec.env.get_or_insert_with(Vec::new);
        env.retain(|existing| existing.name != var.name);
        env.push(var);
        self
    }

    /// Sets the `nvidia.com/gpu` limit of the NIM container (other limits and requests are
    /// kept).
    #[must_use]
    pub fn gpus(mut self, count: u32) -> Self {
        let resources = self
            .spec
            .resources
            .get_or_insert_with(ResourceRequirements::default);
        resources
            .limits
            .get_or_insert_with(BTreeMap::new)
            .insert(GPU_RESOURCE.to_owned(), Quantity(count.to_string()));
        self
    }

    /// Sets a fixed number of replicas.
    ///
    /// The CRD forbids `replicas` while `scale.enabled` is true, so this removes an enabled
    /// `scale`; the last of `replicas` and [`autoscale`](Self::autoscale) wins.
    #[must_use]
    pub fn replicas(mut self, replicas: i32) -> Self {
        if self
            .spec
            .scale
            .as_ref()
            .is_some_and(|scale| scale.enabled == Some(true))
        {
            self.spec.scale = None;
        }
        self.spec.replicas = Some(replicas);
        self
    }

    /// Scales with a HorizontalPodAutoscaler between `min` and `max` replicas on `metrics`:
    /// sets `scale.enabled: true` and `scale.hpa` (replacing a previous one; `scale.annotations`
    /// are kept) and clears `spec.replicas`, which the CRD forbids with autoscaling.
    ///
    /// An empty `metrics` leaves `hpa.metrics` unset (Kubernetes then scales on 80% CPU; NIMs
    /// are better scaled on KV-cache usage or queue depth). Set `spec.scale.hpa.behavior`
    /// directly for scale-up and scale-down policies. The CRD forbids autoscaling with
    /// `multiNode`.
    #[must_use]
    pub fn autoscale(
        mut self,
        min: i32,
        max: i32,
        metrics: impl IntoIterator<Item = MetricSpec>,
    ) -> Self {
        let annotations = self.spec.scale.take().and_then(|scale| scale.annotations);
        self.spec.scale = Some(Autoscaling {
            enabled: Some(true),
            annotations,
            hpa: Some(HorizontalPodAutoscalerSpec {
                min_replicas: Some(min),
                max_replicas: max,
                metrics: non_empty(metrics.into_iter().collect()),
                behavior: None,
            }),
        });
        self.spec.replicas = None;
        self
    }

    /// `spec.expose.router`, created empty when absent.
    fn router_mut(&mut self) -> &mut crate::Router {
        self.spec
            .expose
            .get_or_insert_with(Default::default)
            .router
            .get_or_insert_with(Default::default)
    }

    /// Routes `<name>.<namespace>.<host_domain_name>` through the Gateway API gateway
    /// `gateway_namespace/gateway_name` (an HTTPRoute by default). Replaces a router ingress,
    /// which the CRD forbids together with a gateway.
    #[must_use]
    pub fn gateway_router(
        mut self,
        host_domain_name: impl Into<String>,
        gateway_namespace: impl Into<String>,
        gateway_name: impl Into<String>,
    ) -> Self {
        let router = self.router_mut();
        router.host_domain_name = Some(host_domain_name.into());
        router.gateway = Some(Gateway {
            namespace: gateway_namespace.into(),
            name: gateway_name.into(),
            ..Gateway::default()
        });
        router.ingress = None;
        self
    }

    /// Routes `<name>.<namespace>.<host_domain_name>` through an Ingress of class
    /// `ingress_class`. Replaces a router gateway, which the CRD forbids together with an
    /// ingress.
    #[must_use]
    pub fn ingress_router(
        mut self,
        host_domain_name: impl Into<String>,
        ingress_class: impl Into<String>,
    ) -> Self {
        let router = self.router_mut();
        router.host_domain_name = Some(host_domain_name.into());
        router.ingress = Some(RouterIngress {
            ingress_class: ingress_class.into(),
            tls_secret_name: None,
        });
        router.gateway = None;
        self
    }

    /// Sets the HTTP API port of the Service and the container (`expose.service.port`; the API
    /// server defaults it to 8000).
    #[must_use]
    pub fn service_port(mut self, port: i32) -> Self {
        self.spec
            .expose
            .get_or_insert_with(Default::default)
            .service
            .get_or_insert_with(ExposeService::default)
            .port = Some(port);
        self
    }

    /// Replaces the operator's default startup probe (`/v1/health/ready`, 120 x 10 s) with
    /// `probe`, e.g. to allow a longer model load.
    #[must_use]
    pub fn startup_probe(mut self, probe: Probe) -> Self {
        self.spec.startup_probe = Some(nim_probe(probe));
        self
    }

    /// Replaces the operator's default readiness probe with `probe`.
    #[must_use]
    pub fn readiness_probe(mut self, probe: Probe) -> Self {
        self.spec.readiness_probe = Some(nim_probe(probe));
        self
    }

    /// Replaces the operator's default liveness probe with `probe`.
    #[must_use]
    pub fn liveness_probe(mut self, probe: Probe) -> Self {
        self.spec.liveness_probe = Some(nim_probe(probe));
        self
    }

    /// Creates a Prometheus ServiceMonitor with these additional labels (those Prometheus
    /// selects ServiceMonitors by): sets `metrics.enabled: true` and
    /// `metrics.serviceMonitor.additionalLabels`, keeping the monitor's other settings.
    ///
    /// The operator's webhook requires a non-empty `serviceMonitor`; with no labels, set
    /// another of its fields.
    #[must_use]
    pub fn metrics<I, K, V>(mut self, service_monitor_labels: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let labels: BTreeMap<String, String> = service_monitor_labels
            .into_iter()
            .map(|(key, value)| (key.into(), value.into()))
            .collect();
        let metrics = self.spec.metrics.get_or_insert_with(Metrics::default);
        metrics.enabled = Some(true);
        let monitor = metrics
            .service_monitor
            .get_or_insert_with(ServiceMonitor::default);
        if !labels.is_empty() {
            monitor.additional_labels = Some(labels);
        }
        if *monitor == ServiceMonitor::default() {
            // Never `serviceMonitor: {}`.
            metrics.service_monitor = None;
        }
        self
    }

    /// Sets the tolerations; an empty list leaves them unset.
    #[must_use]
    pub fn tolerations(mut self, tolerations: impl IntoIterator<Item = Toleration>) -> Self {
        self.spec.tolerations = non_empty(tolerations.into_iter().collect());
        self
    }

    /// The model the operator reports once the service is ready (`status.model`).
    pub fn model_status(&self) -> Option<&ModelStatus> {
        self.status.as_ref()?.model.as_ref()
    }

    /// The in-cluster endpoint of the served model (`status.model.clusterEndpoint`), `None`
    /// until the operator reports it.
    pub fn model_endpoint(&self) -> Option<&str> {
        self.model_status()
            .map(|model| model.cluster_endpoint.as_str())
            .filter(|endpoint| !endpoint.is_empty())
    }
}

fn nim_probe(probe: Probe) -> NIMProbe {
    NIMProbe {
        // Unset means enabled.
        enabled: None,
        probe: Some(probe),
    }
}

// ---------------------------------------------------------------------------------------------
// NIMPipeline
// ---------------------------------------------------------------------------------------------

impl NIMPipeline {
    /// A pipeline of `services`, each created as a NIMService of the pipeline's namespace.
    ///
    /// ```
    /// use nim_crds::{Image, NIMPipeline, NIMService, NIMServicePipelineSpec};
    ///
    /// let llm = NIMService::new_nim("llm", Image::new("nvcr.io/nim/meta/llama-3.1-8b-instruct", "1.8.4"))
    ///     .nim_cache("llama-cache", "")
    ///     .gpus(1)
    ///     .replicas(1);
    /// let embed = NIMService::new_nim("embed", Image::new("nvcr.io/nim/nvidia/nv-embedqa-e5-v5", "1.6.0"))
    ///     .replicas(1);
    ///
    /// let pipeline = NIMPipeline::with_services(
    ///     "rag",
    ///     [
    ///         NIMServicePipelineSpec::enabled("llm", llm.spec)
    ///             .depends_on("embed", 8000, "EMBEDDING_URL", "http://embed:8000/v1"),
    ///         NIMServicePipelineSpec::enabled("embed", embed.spec),
    ///     ],
    /// )
    /// .in_namespace("nim");
    ///
    /// let json = serde_json::to_value(&pipeline).unwrap();
    /// assert_eq!(json["kind"], "NIMPipeline");
    /// let services = json["spec"]["services"].as_array().unwrap();
    /// assert_eq!(services.len(), 2);
    /// assert_eq!(services[0]["name"], "llm");
    /// assert_eq!(services[0]["enabled"], true);
    /// assert_eq!(services[0]["spec"]["storage"], serde_json::json!({"nimCache": {"name": "llama-cache"}}));
    /// assert_eq!(
    ///     services[0]["dependencies"],
    ///     serde_json::json!([{"name": "embed", "port": 8000, "envName": "EMBEDDING_URL", "envValue": "http://embed:8000/v1"}])
    /// );
    /// assert!(services[1].get("dependencies").is_none());
    /// ```
    pub fn with_services(
        name: &str,
        services: impl IntoIterator<Item = NIMServicePipelineSpec>,
    ) -> Self {
        Self::new(
            name,
            NIMPipelineSpec {
                services: non_empty(services.into_iter().collect()),
            },
        )
    }

    /// Sets `metadata.namespace`.
    #[must_use]
    pub fn in_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.metadata.namespace = Some(namespace.into());
        self
    }

    /// The state the pipeline reports for its service `name` (`status.states`).
    pub fn service_state(&self, name: &str) -> Option<NIMServiceState> {
        let state = self.status.as_ref()?.states.as_ref()?.get(name)?;
        (!state.is_empty()).then(|| NIMServiceState::from(state.as_str()))
    }
}

impl NIMServicePipelineSpec {
    /// An enabled pipeline service: the operator creates the NIMService `name` from `spec`.
    ///
    /// Only services with `enabled: true` are created; see [`disabled`](Self::disabled).
    ///
    /// ```
    /// use nim_crds::{Image, NIMService, NIMServicePipelineSpec};
    ///
    /// let spec = NIMService::new_nim("x", Image::new("nvcr.io/nim/nvidia/nv-embedqa-e5-v5", "1.6.0")).spec;
    /// let service = NIMServicePipelineSpec::enabled("embed", spec);
    /// assert_eq!(
    ///     serde_json::to_value(&service).unwrap(),
    ///     serde_json::json!({
    ///         "name": "embed",
    ///         "enabled": true,
    ///         "spec": {"image": {"repository": "nvcr.io/nim/nvidia/nv-embedqa-e5-v5", "tag": "1.6.0"}},
    ///     })
    /// );
    /// ```
    pub fn enabled(name: impl Into<String>, spec: NIMServiceSpec) -> Self {
        Self {
            name: Some(name.into()),
            enabled: Some(true),
            spec: Some(spec),
            dependencies: None,
        }
    }

    /// A disabled pipeline service (`enabled: false`): the operator deletes the NIMService
    /// `name` if it owns one.
    pub fn disabled(name: impl Into<String>, spec: NIMServiceSpec) -> Self {
        Self {
            enabled: Some(false),
            ..Self::enabled(name, spec)
        }
    }

    /// Adds a dependency on the service `name` at `port` (both informational); the operator
    /// injects `env_name=env_value` into this service's environment. Empty `env_name` or
    /// `env_value` leaves that field unset (the operator injects nothing without both).
    #[must_use]
    pub fn depends_on(
        mut self,
        name: impl Into<String>,
        port: i32,
        env_name: impl Into<String>,
        env_value: impl Into<String>,
    ) -> Self {
        let env_name = env_name.into();
        let env_value = env_value.into();
        self.dependencies
            .get_or_insert_with(Vec::new)
            .push(ServiceDependency {
                name: name.into(),
                port,
                env_name: (!env_name.is_empty()).then_some(env_name),
                env_value: (!env_value.is_empty()).then_some(env_value),
            });
        self
    }
}

// ---------------------------------------------------------------------------------------------
// NIMBuild
// ---------------------------------------------------------------------------------------------

impl NIMBuild {
    /// A NIMBuild that builds a TensorRT-LLM engine with `image` from the buildable profile of
    /// the NIMCache `nim_cache`.
    ///
    /// ```
    /// use nim_crds::{Image, NIMBuild};
    ///
    /// let build = NIMBuild::from_cache(
    ///     "llama-engine",
    ///     "llama-cache",
    ///     Image::new("nvcr.io/nim/meta/llama-3.1-8b-instruct", "1.8.4"),
    /// )
    /// .in_namespace("nim")
    /// .profile("c8c4c5ef9da4ec3a0d7c9bb6e8d8e9a9")
    /// .model_name("llama-h100-tp1")
    /// .gpus(1);
    ///
    /// let json = serde_json::to_value(&build).unwrap();
    /// assert_eq!(
    ///     json["spec"],
    ///     serde_json::json!({
    ///         "nimCache": {"name": "llama-cache", "profile": "c8c4c5ef9da4ec3a0d7c9bb6e8d8e9a9"},
    ///         "modelName": "llama-h100-tp1",
    ///         "resources": {"limits": {"nvidia.com/gpu": "1"}},
    ///         "image": {"repository": "nvcr.io/nim/meta/llama-3.1-8b-instruct", "tag": "1.8.4"},
    ///     })
    /// );
    /// ```
    pub fn from_cache(name: &str, nim_cache: impl Into<String>, image: Image) -> Self {
        Self::new(
            name,
            NIMBuildSpec {
                nim_cache: NIMCacheReference {
                    name: nim_cache.into(),
                    profile: None,
                },
                image,
                ..NIMBuildSpec::default()
            },
        )
    }

    /// Sets `metadata.namespace`.
    #[must_use]
    pub fn in_namespace(mut self, namespace: impl Into<String>) -> Self {
        self.metadata.namespace = Some(namespace.into());
        self
    }

    /// Builds from this buildable profile of the cache (needed when it has several).
    #[must_use]
    pub fn profile(mut self, profile: impl Into<String>) -> Self {
        self.spec.nim_cache.profile = Some(profile.into());
        self
    }

    /// Names the built engine (the operator defaults it to the NIMBuild's name).
    #[must_use]
    pub fn model_name(mut self, model_name: impl Into<String>) -> Self {
        self.spec.model_name = Some(model_name.into());
        self
    }

    /// Sets the `nvidia.com/gpu` limit of the build pod (other limits and requests are kept).
    #[must_use]
    pub fn gpus(mut self, count: u32) -> Self {
        self.spec
            .resources
            .get_or_insert_with(NIMBuildResources::default)
            .limits
            .get_or_insert_with(BTreeMap::new)
            .insert(GPU_RESOURCE.to_owned(), Quantity(count.to_string()));
        self
    }
}

// ---------------------------------------------------------------------------------------------
// Status accessors shared by the four kinds
// ---------------------------------------------------------------------------------------------

macro_rules! status_accessors {
    ($kind:ident, $state:ident, $spec_json:literal) => {
        impl $kind {
            #[doc = concat!("The typed `status.state` of the ", stringify!($kind), "; `None` when there")]
            /// is no status or the state is unset or empty. A state this crate does not know
            #[doc = concat!("comes back as [`", stringify!($state), "::Unknown`].")]
            ///
            /// ```
            #[doc = concat!("use nim_crds::{", stringify!($kind), ", ", stringify!($state), "};")]
            ///
            #[doc = concat!("let mut obj: ", stringify!($kind), " = serde_json::from_value(serde_json::json!({")]
            ///     "apiVersion": "apps.nvidia.com/v1alpha1",
            #[doc = concat!("    \"kind\": \"", stringify!($kind), "\",")]
            ///     "metadata": {"name": "example"},
            #[doc = concat!("    \"spec\": ", $spec_json, ",")]
            ///     "status": {"state": "Ready", "conditions": [{
            ///         "type": "Ready", "status": "True", "reason": "Ready", "message": "",
            ///         "lastTransitionTime": "2025-06-01T12:00:00Z"
            ///     }]}
            /// }))
            /// .unwrap();
            #[doc = concat!("assert_eq!(obj.state(), Some(", stringify!($state), "::Ready));")]
            /// assert!(obj.is_ready());
            /// assert_eq!(obj.conditions().len(), 1);
            /// assert_eq!(obj.condition("Ready").map(|c| c.status.as_str()), Some("True"));
            /// assert!(obj.condition("Failed").is_none());
            ///
            /// obj.status.as_mut().unwrap().state = Some("Hibernating".to_owned());
            #[doc = concat!("assert_eq!(obj.state(), Some(", stringify!($state), "::Unknown(\"Hibernating\".to_owned())));")]
            /// assert!(!obj.is_ready());
            ///
            /// obj.status = None;
            /// assert_eq!(obj.state(), None);
            /// assert!(obj.conditions().is_empty());
            /// ```
            pub fn state(&self) -> Option<$state> {
                let state = self.status.as_ref()?.state.as_deref()?;
                (!state.is_empty()).then(|| $state::from(state))
            }

            /// The status conditions; empty when there are none.
            pub fn conditions(&self) -> &[Condition] {
                self.status
                    .as_ref()
                    .and_then(|status| status.conditions.as_deref())
                    .unwrap_or_default()
            }

            /// The condition of type `type_`, if the operator set one.
            pub fn condition(&self, type_: &str) -> Option<&Condition> {
                self.conditions()
                    .iter()
                    .find(|condition| condition.type_ == type_)
            }

            #[doc = concat!("Whether `status.state` is `Ready`, i.e. [`", stringify!($state), "::Ready`].")]
            pub fn is_ready(&self) -> bool {
                self.state() == Some($state::Ready)
            }
        }
    };
}

status_accessors!(
    NIMCache,
    NIMCacheState,
    r#"{"source": {"ngc": {"modelPuller": "nvcr.io/nim/meta/llama-3.1-8b-instruct:1.8.4", "authSecret": "ngc"}}, "storage": {}}"#
);
status_accessors!(
    NIMService,
    NIMServiceState,
    r#"{"image": {"repository": "nvcr.io/nim/meta/llama-3.1-8b-instruct", "tag": "1.8.4"}}"#
);
status_accessors!(NIMPipeline, NIMPipelineState, r#"{}"#);
status_accessors!(
    NIMBuild,
    NIMBuildState,
    r#"{"nimCache": {"name": "llama-cache"}, "image": {"repository": "nvcr.io/nim/meta/llama-3.1-8b-instruct", "tag": "1.8.4"}}"#
);

/// `None` for an empty list, so that setters never write `[]`.
fn non_empty<T>(items: Vec<T>) -> Option<Vec<T>> {
    (!items.is_empty()).then_some(items)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use k8s_openapi::api::{
        autoscaling::v2::{MetricTarget, ResourceMetricSource},
        core::v1::HTTPGetAction,
    };
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    use kube::ResourceExt;
    use serde_json::{Value, json};

    use super::*;

    /// The sorted keys of a JSON object.
    fn keys(value: &Value) -> Vec<&str> {
        let mut keys: Vec<&str> = value
            .as_object()
            .unwrap_or_else(|| panic!("not an object: {value}"))
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        keys
    }

    fn to_json<T: serde::Serialize>(value: &T) -> Value {
        serde_json::to_value(value).expect("serializes")
    }

    fn cpu_metric() -> MetricSpec {
        MetricSpec {
            type_: "Resource".to_owned(),
            resource: Some(ResourceMetricSource {
                name: "cpu".to_owned(),
                target: MetricTarget {
                    type_: "Utilization".to_owned(),
                    average_utilization: Some(80),
                    ..MetricTarget::default()
                },
            }),
            ..MetricSpec::default()
        }
    }

    #[test]
    fn minimal_service_has_only_image() {
        let svc = NIMService::new_nim("llama", Image::new("repo", "1.0"));
        let json = to_json(&svc);
        assert_eq!(keys(&json), ["apiVersion", "kind", "metadata", "spec"]);
        assert_eq!(json["metadata"], json!({"name": "llama"}));
        assert_eq!(
            json["spec"],
            json!({"image": {"repository": "repo", "tag": "1.0"}})
        );
    }

    #[test]
    fn service_setters_write_exactly_their_keys() {
        let svc = NIMService::new_nim("llama", Image::new("repo", "1.0").pull_policy("Always"))
            .in_namespace("nim")
            .nim_cache("cache", "profile-a")
            .auth_secret("ngc")
            .pull_secrets(["pull"])
            .env("NIM_LOG_LEVEL", "DEBUG")
            .env("NIM_LOG_LEVEL", "INFO")
            .gpus(2)
            .replicas(3)
            .ingress_router("example.com", "nginx")
            .service_port(9000)
            .startup_probe(Probe {
                failure_threshold: Some(180),
                period_seconds: Some(10),
                http_get: Some(HTTPGetAction {
                    path: Some("/v1/health/ready".to_owned()),
                    port: IntOrString::String("api".to_owned()),
                    ..HTTPGetAction::default()
                }),
                ..Probe::default()
            })
            .metrics([("release", "prometheus")]);
        let json = to_json(&svc);
        assert_eq!(
            json["metadata"],
            json!({"name": "llama", "namespace": "nim"})
        );
        let spec = &json["spec"];
        assert_eq!(
            keys(spec),
            [
                "authSecret",
                "env",
                "expose",
                "image",
                "metrics",
                "replicas",
                "resources",
                "startupProbe",
                "storage"
            ]
        );
        assert_eq!(
            spec["image"],
            json!({"repository": "repo", "tag": "1.0", "pullPolicy": "Always", "pullSecrets": ["pull"]})
        );
        assert_eq!(
            spec["env"],
            json!([{"name": "NIM_LOG_LEVEL", "value": "INFO"}])
        );
        assert_eq!(
            spec["storage"],
            json!({"nimCache": {"name": "cache", "profile": "profile-a"}})
        );
        assert_eq!(
            spec["resources"],
            json!({"limits": {"nvidia.com/gpu": "2"}})
        );
        assert_eq!(spec["replicas"], 3);
        assert_eq!(
            spec["expose"],
            json!({
                "service": {"port": 9000},
                "router": {"hostDomainName": "example.com", "ingress": {"ingressClass": "nginx"}},
            })
        );
        assert_eq!(
            spec["startupProbe"],
            json!({"probe": {
                "failureThreshold": 180,
                "periodSeconds": 10,
                "httpGet": {"path": "/v1/health/ready", "port": "api"},
            }})
        );
        assert_eq!(
            spec["metrics"],
            json!({"enabled": true, "serviceMonitor": {"additionalLabels": {"release": "prometheus"}}})
        );
    }

    #[test]
    fn autoscale_clears_replicas_and_replicas_clears_autoscale() {
        let svc = NIMService::new_nim("llama", Image::new("repo", "1.0"))
            .replicas(2)
            .autoscale(1, 5, [cpu_metric()]);
        assert_eq!(svc.spec.replicas, None);
        let spec = to_json(&svc)["spec"].clone();
        assert!(spec.get("replicas").is_none());
        assert_eq!(keys(&spec["scale"]), ["enabled", "hpa"]);
        assert_eq!(spec["scale"]["enabled"], true);
        assert_eq!(
            keys(&spec["scale"]["hpa"]),
            ["maxReplicas", "metrics", "minReplicas"]
        );
        assert_eq!(
            spec["scale"]["hpa"]["metrics"],
            json!([{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 80}}}])
        );

        // The last of the two wins.
        let svc = svc.replicas(4);
        assert_eq!(svc.spec.replicas, Some(4));
        assert_eq!(svc.spec.scale, None);

        // A disabled scale is compatible with replicas and is kept.
        let mut disabled = NIMService::new_nim("llama", Image::new("repo", "1.0"));
        disabled.spec.scale = Some(Autoscaling {
            enabled: Some(false),
            ..Autoscaling::default()
        });
        let disabled = disabled.replicas(1);
        assert_eq!(
            to_json(&disabled)["spec"]["scale"],
            json!({"enabled": false})
        );
    }

    #[test]
    fn autoscale_without_metrics_omits_them_and_keeps_annotations() {
        let mut svc = NIMService::new_nim("llama", Image::new("repo", "1.0"));
        svc.spec.scale = Some(Autoscaling {
            annotations: Some([("a".to_owned(), "b".to_owned())].into()),
            ..Autoscaling::default()
        });
        let svc = svc.autoscale(2, 3, []);
        assert_eq!(
            to_json(&svc)["spec"]["scale"],
            json!({"enabled": true, "annotations": {"a": "b"}, "hpa": {"minReplicas": 2, "maxReplicas": 3}})
        );
    }

    #[test]
    fn routers_replace_each_other() {
        let svc = NIMService::new_nim("llama", Image::new("repo", "1.0"))
            .ingress_router("a.example.com", "nginx")
            .gateway_router("example.com", "gw-ns", "gw");
        assert_eq!(
            to_json(&svc)["spec"]["expose"],
            json!({"router": {
                "hostDomainName": "example.com",
                "gateway": {"namespace": "gw-ns", "name": "gw"},
            }})
        );
        let svc = svc.ingress_router("example.org", "traefik");
        assert_eq!(
            to_json(&svc)["spec"]["expose"],
            json!({"router": {"hostDomainName": "example.org", "ingress": {"ingressClass": "traefik"}}})
        );
    }

    #[test]
    fn storage_sources_replace_each_other() {
        let svc = NIMService::new_nim("llama", Image::new("repo", "1.0"))
            .model_pvc(PersistentVolumeClaim::existing("models"))
            .nim_cache("cache", "");
        assert_eq!(
            to_json(&svc)["spec"]["storage"],
            json!({"nimCache": {"name": "cache"}})
        );
        let svc = svc.model_pvc(PersistentVolumeClaim::existing("models"));
        assert_eq!(
            to_json(&svc)["spec"]["storage"],
            json!({"pvc": {"name": "models"}})
        );
    }

    #[test]
    fn gpus_keep_other_resources() {
        let mut svc = NIMService::new_nim("llama", Image::new("repo", "1.0"));
        svc.spec.resources = Some(ResourceRequirements {
            requests: Some([("memory".to_owned(), Quantity("32Gi".to_owned()))].into()),
            ..ResourceRequirements::default()
        });
        let svc = svc.gpus(4);
        assert_eq!(
            to_json(&svc)["spec"]["resources"],
            json!({"limits": {"nvidia.com/gpu": "4"}, "requests": {"memory": "32Gi"}})
        );
    }

    #[test]
    fn metrics_without_labels_never_write_an_empty_monitor() {
        let svc = NIMService::new_nim("llama", Image::new("repo", "1.0"))
            .metrics(std::iter::empty::<(String, String)>());
        assert_eq!(to_json(&svc)["spec"]["metrics"], json!({"enabled": true}));
    }

    #[test]
    fn empty_lists_stay_unset() {
        let svc = NIMService::new_nim("llama", Image::new("repo", "1.0"))
            .pull_secrets(Vec::<String>::new())
            .tolerations([]);
        assert_eq!(keys(&to_json(&svc)["spec"]), ["image"]);

        let cache = NIMCache::from_ngc("c", "puller", "ngc")
            .profiles(Vec::<String>::new())
            .gpus(Vec::<GPUSpec>::new())
            .tolerations([]);
        assert_eq!(
            to_json(&cache)["spec"],
            json!({"source": {"ngc": {"modelPuller": "puller", "authSecret": "ngc"}}, "storage": {}})
        );
    }

    #[test]
    fn resource_ext_namespace_still_works_on_arc() {
        // `in_namespace` rather than `namespace`: an inherent `namespace(self, ..)` would
        // shadow `ResourceExt::namespace` on `Arc<NIMService>` and fail to compile here.
        let svc =
            Arc::new(NIMService::new_nim("llama", Image::new("repo", "1.0")).in_namespace("nim"));
        assert_eq!(svc.namespace().as_deref(), Some("nim"));
        assert_eq!(svc.name_any(), "llama");
    }

    #[test]
    fn cache_from_ngc_with_selectors_and_pvc() {
        let cache = NIMCache::from_ngc("c", "puller", "ngc")
            .in_namespace("nim")
            .pull_secret("pull")
            .profiles(["all"])
            .lora(true)
            .resources("4", "16Gi")
            .pvc(PersistentVolumeClaim::create("standard", "50Gi").name("shared"));
        let json = to_json(&cache);
        assert_eq!(keys(&json), ["apiVersion", "kind", "metadata", "spec"]);
        assert_eq!(keys(&json["spec"]), ["resources", "source", "storage"]);
        assert_eq!(
            json["spec"]["source"],
            json!({"ngc": {
                "modelPuller": "puller",
                "authSecret": "ngc",
                "pullSecret": "pull",
                "model": {"profiles": ["all"], "lora": true},
            }})
        );
        assert_eq!(
            json["spec"]["storage"],
            json!({"pvc": {"create": true, "name": "shared", "storageClass": "standard", "size": "50Gi"}})
        );
        assert_eq!(
            json["spec"]["resources"],
            json!({"cpu": "4", "memory": "16Gi"})
        );
    }

    #[test]
    fn model_selectors_leave_other_sources_alone() {
        let mut cache = NIMCache::from_ngc("c", "puller", "ngc");
        let hf: crate::HuggingFaceHubSource = serde_json::from_value(json!({
            "endpoint": "https://huggingface.co",
            "namespace": "meta-llama",
            "modelName": "Llama-3.1-8B-Instruct",
            "authSecret": "hf",
            "modelPuller": "nvcr.io/nim/nvidia/llm-nim:1.12.0",
            "pullSecret": "ngc-secret",
        }))
        .expect("hf source");
        cache.spec.source = NIMSource {
            hf: Some(hf),
            ..NIMSource::default()
        };
        let before = cache.spec.source.clone();
        let cache = cache.precision("fp8").tensor_parallelism(2).gpus(["h100"]);
        assert_eq!(cache.spec.source, before);
        let cache = cache.pull_secret("other");
        assert_eq!(
            cache.spec.source.hf.map(|hf| hf.common.pull_secret),
            Some("other".to_owned())
        );
    }

    #[test]
    fn cached_and_selected_profiles() {
        let mut cache = NIMCache::from_ngc("c", "puller", "ngc");
        assert!(cache.cached_profiles().is_empty());
        assert_eq!(
            cache.selected_profiles().expect("absent is empty"),
            Vec::<String>::new()
        );

        cache.status = Some(crate::NIMCacheStatus {
            profiles: Some(vec![NIMProfile {
                name: Some("abc".to_owned()),
                ..NIMProfile::default()
            }]),
            ..crate::NIMCacheStatus::default()
        });
        assert_eq!(cache.cached_profiles().len(), 1);
        assert_eq!(cache.cached_profiles()[0].name.as_deref(), Some("abc"));

        let annotate = |cache: &mut NIMCache, value: &str| {
            cache.metadata.annotations =
                Some([(SELECTED_PROFILES_ANNOTATION.to_owned(), value.to_owned())].into());
        };
        annotate(&mut cache, r#"["abc","def"]"#);
        assert_eq!(cache.selected_profiles().expect("valid"), ["abc", "def"]);
        annotate(&mut cache, "[]");
        assert_eq!(
            cache.selected_profiles().expect("valid"),
            Vec::<String>::new()
        );
        annotate(&mut cache, "null");
        assert_eq!(
            cache.selected_profiles().expect("Go nil slice"),
            Vec::<String>::new()
        );

        for bad in ["abc", r#"{"a": 1}"#, "[1, 2]", r#"["abc""#, ""] {
            annotate(&mut cache, bad);
            match cache.selected_profiles() {
                Err(Error::Object { path, message }) => {
                    assert_eq!(
                        path,
                        r#"metadata.annotations."nvidia.com/selected-profiles""#
                    );
                    assert!(message.starts_with("expected a JSON array"), "{message}");
                }
                other => panic!("{bad:?} gave {other:?}"),
            }
        }
    }

    #[test]
    fn pipeline_and_dependencies() {
        let spec = NIMService::new_nim("x", Image::new("repo", "1.0")).spec;
        let pipeline = NIMPipeline::with_services(
            "p",
            [
                NIMServicePipelineSpec::enabled("a", spec.clone()).depends_on("b", 8000, "", ""),
                NIMServicePipelineSpec::disabled("b", spec),
            ],
        );
        let json = to_json(&pipeline);
        assert_eq!(keys(&json["spec"]), ["services"]);
        let services = &json["spec"]["services"];
        assert_eq!(
            keys(&services[0]),
            ["dependencies", "enabled", "name", "spec"]
        );
        assert_eq!(
            services[0]["dependencies"],
            json!([{"name": "b", "port": 8000}])
        );
        assert_eq!(keys(&services[1]), ["enabled", "name", "spec"]);
        assert_eq!(services[1]["enabled"], false);

        let empty = NIMPipeline::with_services("p", []);
        assert_eq!(to_json(&empty)["spec"], json!({}));
    }

    #[test]
    fn pipeline_service_state() {
        let mut pipeline = NIMPipeline::with_services("p", []);
        assert_eq!(pipeline.service_state("a"), None);
        pipeline.status = Some(crate::NIMPipelineStatus {
            state: Some("NotReady".to_owned()),
            states: Some(
                [
                    ("a".to_owned(), "Ready".to_owned()),
                    ("b".to_owned(), "Scaling".to_owned()),
                ]
                .into(),
            ),
            conditions: None,
        });
        assert_eq!(pipeline.state(), Some(NIMPipelineState::NotReady));
        assert!(!pipeline.is_ready());
        assert_eq!(pipeline.service_state("a"), Some(NIMServiceState::Ready));
        assert_eq!(
            pipeline.service_state("b"),
            Some(NIMServiceState::Unknown("Scaling".to_owned()))
        );
        assert_eq!(pipeline.service_state("c"), None);
    }

    #[test]
    fn build_keys() {
        let build = NIMBuild::from_cache("b", "cache", Image::new("repo", "1.0"));
        assert_eq!(keys(&to_json(&build)["spec"]), ["image", "nimCache"]);
        assert_eq!(
            to_json(&build)["spec"]["nimCache"],
            json!({"name": "cache"})
        );
    }

    #[test]
    fn status_accessors() {
        let mut build = NIMBuild::from_cache("b", "cache", Image::new("repo", "1.0"));
        assert_eq!(build.state(), None);
        assert!(build.conditions().is_empty());
        build.status = Some(crate::NIMBuildStatus {
            state: Some(String::new()),
            ..crate::NIMBuildStatus::default()
        });
        assert_eq!(build.state(), None, "the Go zero value is no state");
        build.status = Some(crate::NIMBuildStatus {
            state: Some("InProgress".to_owned()),
            ..crate::NIMBuildStatus::default()
        });
        assert_eq!(build.state(), Some(NIMBuildState::InProgress));
        assert!(!build.is_ready());

        let mut cache = NIMCache::from_ngc("c", "p", "s");
        cache.status = Some(crate::NIMCacheStatus {
            state: Some("PVC-Created".to_owned()),
            ..crate::NIMCacheStatus::default()
        });
        assert_eq!(cache.state(), Some(NIMCacheState::PvcCreated));

        let mut svc = NIMService::new_nim("s", Image::new("repo", "1.0"));
        assert_eq!(svc.model_endpoint(), None);
        svc.status = Some(crate::NIMServiceStatus {
            model: Some(ModelStatus::default()),
            ..crate::NIMServiceStatus::default()
        });
        assert_eq!(
            svc.model_endpoint(),
            None,
            "the Go zero value is no endpoint"
        );
    }
}
