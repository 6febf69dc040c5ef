//! Client-side validation: the CRD schema, its CEL rules, and the rules the operator enforces
//! only in its validating webhook or its controllers.
//!
//! The API server checks an object against the CRD's OpenAPI schema and its
//! `x-kubernetes-validations` (CEL) rules; the NIM Operator's webhook (when installed) and its
//! controllers add rules the schema does not express (NIM-OPERATOR.md section 5): exactly one
//! storage kind on a NIMService, a router needs `hostDomainName`, `qosProfile` is `latency` or
//! `throughput`, `profiles: [all]` stands alone, immutable fields on update, and more.
//! [`Validate::validate`] runs all three; [`Validate::validate_update`] adds the transition
//! rules (`oldSelf`) and the webhook's immutability rules.
//!
//! CEL rules are evaluated with kube's `cel` feature (the `kube-cel` evaluator) against the
//! schemas of [`crate::crds()`], so the rules that run are exactly the ones the CRDs carry.
//!
//! ```
//! use nim_crds::{Image, NIMService, NIMServiceSpec, Validate};
//!
//! let mut service = NIMService::new("llama", NIMServiceSpec {
//!     image: Image { repository: "nvcr.io/nim/meta/llama-3.1-8b-instruct".into(), tag: "1.8.4".into(), ..Default::default() },
//!     replicas: Some(2),
//!     ..Default::default()
//! });
//! service.spec.scale = Some(nim_crds::Autoscaling { enabled: Some(true), ..Default::default() });
//!
//! let codes: Vec<_> = service.validate().into_iter().map(|d| d.code).collect();
//! // The CEL rule on spec rejects replicas with autoscaling,
//! // and the webhook wants an `hpa` when autoscaling is enabled.
//! assert!(codes.contains(&"cel-rule".to_owned()));
//! assert!(codes.contains(&"scale-requires-hpa".to_owned()));
//! ```

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    net::{Ipv4Addr, Ipv6Addr},
    sync::OnceLock,
};

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::core::cel::{CompiledSchema, Validator, compile_schema};
use serde::Serialize;
use serde_json::Value;

use crate::{
    Diagnostic, NIMBuild, NIMCache, NIMPipeline, NIMService, NIMServiceSpec,
    common::{PersistentVolumeClaim, ProxySpec},
    diagnostic::path,
    dra::DRAResource,
};

/// Validation of a NIM object without a cluster.
pub trait Validate {
    /// Every schema, CEL and webhook rule the object breaks on creation, errors and warnings.
    fn validate(&self) -> Vec<Diagnostic>;

    /// Every rule the object breaks as an update of `old`: everything [`validate`] reports plus
    /// the CEL transition rules and the webhook's immutability rules.
    ///
    /// [`validate`]: Validate::validate
    fn validate_update(&self, old: &Self) -> Vec<Diagnostic>;
}

impl Validate for NIMCache {
    fn validate(&self) -> Vec<Diagnostic> {
        let mut out = generic(self, None::<&Self>);
        nimcache_rules(self, &mut out);
        out
    }

    fn validate_update(&self, old: &Self) -> Vec<Diagnostic> {
        let mut out = generic(self, Some(old));
        nimcache_rules(self, &mut out);
        if self.spec != old.spec {
            out.push(Diagnostic::error(
                "spec",
                "immutable",
                "the NIMCache spec is immutable once the object is created (operator webhook); \
                 create a new NIMCache instead",
            ));
        }
        out
    }
}

impl Validate for NIMService {
    fn validate(&self) -> Vec<Diagnostic> {
        let mut out = generic(self, None::<&Self>);
        nimservice_rules(&self.spec, "spec", &mut out);
        out
    }

    fn validate_update(&self, old: &Self) -> Vec<Diagnostic> {
        let mut out = generic(self, Some(old));
        nimservice_rules(&self.spec, "spec", &mut out);
        nimservice_update_rules(&self.spec, &old.spec, "spec", &mut out);
        out
    }
}

impl Validate for NIMPipeline {
    fn validate(&self) -> Vec<Diagnostic> {
        let mut out = generic(self, None::<&Self>);
        nimpipeline_rules(self, &mut out);
        out
    }

    fn validate_update(&self, old: &Self) -> Vec<Diagnostic> {
        let mut out = generic(self, Some(old));
        nimpipeline_rules(self, &mut out);
        let old_services: HashMap<&str, &NIMServiceSpec> = old
            .spec
            .services
            .iter()
            .flatten()
            .filter_map(|s| Some((s.name.as_deref()?, s.spec.as_ref()?)))
            .collect();
        for (i, service) in self.spec.services.iter().flatten().enumerate() {
            if let (Some(name), Some(spec)) = (service.name.as_deref(), service.spec.as_ref())
                && let Some(old_spec) = old_services.get(name)
            {
                let base = format!("spec.services[{i}].spec");
                nimservice_update_rules(spec, old_spec, &base, &mut out);
            }
        }
        out
    }
}

impl Validate for NIMBuild {
    fn validate(&self) -> Vec<Diagnostic> {
        let mut out = generic(self, None::<&Self>);
        nimbuild_rules(self, &mut out);
        out
    }

    fn validate_update(&self, old: &Self) -> Vec<Diagnostic> {
        let mut out = generic(self, Some(old));
        nimbuild_rules(self, &mut out);
        out
    }
}

/// Schema and CEL checks of a typed object.
fn generic<K: kube::Resource<DynamicType = ()> + Serialize>(
    object: &K,
    old: Option<&K>,
) -> Vec<Diagnostic> {
    let kind = K::kind(&());
    let value = match serde_json::to_value(object) {
        Ok(value) => value,
        Err(error) => {
            return vec![Diagnostic::error(
                "",
                "serialize",
                format!("the object cannot be serialized: {error}"),
            )];
        }
    };
    let old = old.and_then(|o| serde_json::to_value(o).ok());
    let mut out = schema_diagnostics(&kind, &value);
    out.extend(cel_diagnostics(&kind, &value, old.as_ref()));
    out
}

/// The openAPIV3Schema of each kind, as JSON.
fn schemas() -> &'static BTreeMap<String, Value> {
    static SCHEMAS: OnceLock<BTreeMap<String, Value>> = OnceLock::new();
    SCHEMAS.get_or_init(|| {
        crate::crds()
            .into_iter()
            .filter_map(|crd| {
                let schema = crd
                    .spec
                    .versions
                    .first()?
                    .schema
                    .as_ref()?
                    .open_api_v3_schema
                    .as_ref()?;
                Some((
                    crd.spec.names.kind.clone(),
                    serde_json::to_value(schema).ok()?,
                ))
            })
            .collect()
    })
}

/// The openAPIV3Schema of `kind` (`NIMCache`, `NIMService`, `NIMPipeline`, `NIMBuild`).
pub fn schema_of(kind: &str) -> Option<&'static Value> {
    schemas().get(kind)
}

/// Schema checks of an object given as JSON (unknown fields, types, required fields, enums,
/// patterns and bounds), as the API server would make them.
pub(crate) fn schema_diagnostics(kind: &str, value: &Value) -> Vec<Diagnostic> {
    match schema_of(kind) {
        Some(schema) => crate::schema_check::check(schema, value),
        None => Vec::new(),
    }
}

thread_local! {
    static CEL: (Validator, HashMap<String, CompiledSchema>) = {
        let compiled = schemas()
            .iter()
            .map(|(kind, schema)| (kind.clone(), compile_schema(schema)))
            .collect();
        (Validator::new(), compiled)
    };
}

/// The CEL rules of the kind's CRD, evaluated on `value` (as an update of `old` when given).
pub(crate) fn cel_diagnostics(kind: &str, value: &Value, old: Option<&Value>) -> Vec<Diagnostic> {
    CEL.with(|(validator, compiled)| {
        let Some(schema) = compiled.get(kind) else {
            return Vec::new();
        };
        match validator.validate_compiled(schema, value, old) {
            Ok(()) => Vec::new(),
            Err(errors) => errors
                .into_vec()
                .into_iter()
                .map(|e| {
                    let message = if e.message.is_empty() {
                        format!("CEL rule `{}` failed", e.rule)
                    } else {
                        e.message.clone()
                    };
                    Diagnostic::error(e.field_path.clone(), "cel-rule", message)
                })
                .collect(),
        }
    })
}

fn nonempty(value: &Option<String>) -> bool {
    value.as_deref().is_some_and(|v| !v.is_empty())
}

fn nimcache_rules(cache: &NIMCache, out: &mut Vec<Diagnostic>) {
    let spec = &cache.spec;
    if let Some(ngc) = &spec.source.ngc {
        if ngc.auth_secret.is_empty() {
            out.push(Diagnostic::error(
                "spec.source.ngc.authSecret",
                "required-value",
                "authSecret must name the secret with NGC_API_KEY (operator webhook)",
            ));
        }
        if ngc.model_puller.is_empty() {
            out.push(Diagnostic::error(
                "spec.source.ngc.modelPuller",
                "required-value",
                "modelPuller must name the NIM image that downloads the model (operator webhook)",
            ));
        }
        if let Some(model) = &ngc.model {
            let base = "spec.source.ngc.model";
            let profiles = model.profiles.as_deref().unwrap_or_default();
            if profiles.iter().any(|p| p == "all") && profiles.len() > 1 {
                out.push(Diagnostic::error(
                    path::field(base, "profiles"),
                    "profiles-all-not-alone",
                    "`all` must be the only entry of profiles",
                ));
            }
            if !profiles.is_empty() {
                let selectors = [
                    ("precision", nonempty(&model.precision)),
                    ("engine", nonempty(&model.engine)),
                    ("tensorParallelism", nonempty(&model.tensor_parallelism)),
                    ("qosProfile", nonempty(&model.qos_profile)),
                    ("gpus", model.gpus.as_ref().is_some_and(|g| !g.is_empty())),
                    ("lora", model.lora.is_some()),
                    ("buildable", model.buildable.is_some()),
                ];
                for (name, set) in selectors {
                    if set {
                        out.push(Diagnostic::error(
                            path::field(base, name),
                            "profiles-exclude-selectors",
                            format!(
                                "`{name}` cannot be combined with explicit profiles: give either profile ids \
                                 or selectors (operator webhook)"
                            ),
                        ));
                    }
                }
            }
            if let Some(qos) = &model.qos_profile
                && !matches!(qos.as_str(), "latency" | "throughput")
            {
                out.push(Diagnostic::error(
                    path::field(base, "qosProfile"),
                    "invalid-qos-profile",
                    format!(
                        "qosProfile `{qos}` must be `latency` or `throughput` (operator webhook)"
                    ),
                ));
            }
        }
    }
    match &spec.storage.pvc {
        Some(pvc) if pvc != &PersistentVolumeClaim::default() => {
            pvc_rules(pvc, "spec.storage.pvc", out)
        }
        _ => {
            let hint = if nonempty(&spec.storage.host_path) {
                "; hostPath is deprecated and rejected by the operator webhook"
            } else {
                ""
            };
            out.push(Diagnostic::error(
                "spec.storage.pvc",
                "pvc-required",
                format!("a NIMCache needs storage.pvc (operator webhook){hint}"),
            ));
        }
    }
    if let Some(proxy) = &spec.proxy {
        proxy_rules(proxy, "spec.proxy", out);
    }
}

const ACCESS_MODES: [&str; 4] = [
    "ReadWriteOnce",
    "ReadOnlyMany",
    "ReadWriteMany",
    "ReadWriteOncePod",
];

fn pvc_rules(pvc: &PersistentVolumeClaim, base: &str, out: &mut Vec<Diagnostic>) {
    if pvc.create != Some(true) && !nonempty(&pvc.name) {
        out.push(Diagnostic::error(
            path::field(base, "name"),
            "pvc-name-required",
            "name the existing PVC, or set `create: true` to have the operator create one (operator webhook)",
        ));
    }
    if let Some(mode) = &pvc.volume_access_mode
        && !ACCESS_MODES.contains(&mode.as_str())
    {
        out.push(Diagnostic::error(
            path::field(base, "volumeAccessMode"),
            "invalid-access-mode",
            format!(
                "volumeAccessMode `{mode}` must be one of {}",
                ACCESS_MODES.join(", ")
            ),
        ));
    }
    if pvc.create == Some(true) && !nonempty(&pvc.volume_access_mode) {
        out.push(Diagnostic::error(
            path::field(base, "volumeAccessMode"),
            "pvc-access-mode-required",
            "a PVC the operator creates needs volumeAccessMode: the operator passes it through, and Kubernetes \
             rejects a PVC without an access mode",
        ));
    }
    if pvc.create == Some(true) && !nonempty(&pvc.size) {
        out.push(Diagnostic::error(
            path::field(base, "size"),
            "pvc-size-required",
            "a PVC the operator creates needs a size, e.g. `250Gi`",
        ));
    }
    if let Some(size) = &pvc.size
        && !crate::quantity::is_valid(size)
    {
        out.push(Diagnostic::error(
            path::field(base, "size"),
            "invalid-quantity",
            format!("size `{size}` is not a Kubernetes quantity (e.g. `250Gi`)"),
        ));
    }
}

fn proxy_rules(proxy: &ProxySpec, base: &str, out: &mut Vec<Diagnostic>) {
    for (name, value) in [
        ("httpProxy", &proxy.http_proxy),
        ("httpsProxy", &proxy.https_proxy),
    ] {
        if let Some(url) = value
            && !url.is_empty()
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            out.push(Diagnostic::error(
                path::field(base, name),
                "invalid-proxy-url",
                format!("{name} `{url}` must start with http:// or https:// (operator webhook)"),
            ));
        }
    }
    if let Some(no_proxy) = &proxy.no_proxy {
        for token in no_proxy.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            if !no_proxy_token_ok(token) {
                out.push(Diagnostic::error(
                    path::field(base, "noProxy"),
                    "invalid-no-proxy",
                    format!(
                        "noProxy entry `{token}` is not a hostname, IPv4[:port], [IPv6][:port] or CIDR \
                         (operator webhook)"
                    ),
                ));
            }
        }
    }
}

/// One `noProxy` entry as the operator's webhook accepts it: a hostname (optionally with a
/// leading dot), IPv4 with an optional port, a bracketed IPv6 address with an optional port, or
/// a CIDR (IPv4, or bracketed IPv6). Wildcards, bare IPv6 addresses and host names with ports
/// are rejected by the webhook.
fn no_proxy_token_ok(token: &str) -> bool {
    if let Some((ip, bits)) = token.split_once('/') {
        let bits = bits.parse::<u8>();
        if let Some(inner) = ip.strip_prefix('[').and_then(|i| i.strip_suffix(']')) {
            return inner.parse::<Ipv6Addr>().is_ok() && bits.is_ok_and(|b| b <= 128);
        }
        return ip.parse::<Ipv4Addr>().is_ok() && bits.is_ok_and(|b| b <= 32);
    }
    if let Some(rest) = token.strip_prefix('[') {
        return match rest.split_once(']') {
            Some((ip, tail)) => {
                ip.parse::<Ipv6Addr>().is_ok()
                    && (tail.is_empty() || port_ok(tail.strip_prefix(':')))
            }
            None => false,
        };
    }
    if let Some((ip, port)) = token.rsplit_once(':') {
        return ip.parse::<Ipv4Addr>().is_ok() && port_ok(Some(port));
    }
    token.parse::<Ipv4Addr>().is_ok() || hostname_ok(token)
}

fn port_ok(port: Option<&str>) -> bool {
    port.and_then(|p| p.parse::<u16>().ok())
        .is_some_and(|p| p > 0)
}

fn hostname_ok(host: &str) -> bool {
    let host = host.strip_prefix('.').unwrap_or(host);
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

fn scale_enabled(spec: &NIMServiceSpec) -> bool {
    spec.scale.as_ref().and_then(|s| s.enabled) == Some(true)
}

fn quantity_positive(quantity: &Quantity) -> bool {
    crate::quantity::to_f64(&quantity.0).is_some_and(|v| v > 0.0)
}

/// The rules of the operator's NIMService webhook, for the spec at `base`.
pub(crate) fn nimservice_rules(spec: &NIMServiceSpec, base: &str, out: &mut Vec<Diagnostic>) {
    let at = |field: &str| format!("{base}.{field}");
    if spec.image.repository.is_empty() {
        out.push(Diagnostic::error(
            at("image.repository"),
            "required-value",
            "image.repository must not be empty",
        ));
    }
    if spec.image.tag.is_empty() {
        out.push(Diagnostic::error(
            at("image.tag"),
            "required-value",
            "image.tag must not be empty",
        ));
    }
    if !nonempty(&spec.auth_secret) {
        out.push(Diagnostic::warning(
            at("authSecret"),
            "auth-secret-empty",
            "no authSecret: the NIM gets no NGC_API_KEY, which only works when the model is already cached",
        ));
    }
    storage_rules(spec, base, out);
    expose_rules(spec, base, out);
    if let Some(metrics) = &spec.metrics
        && metrics.enabled == Some(true)
        && metrics
            .service_monitor
            .as_ref()
            .is_none_or(|m| m == &Default::default())
    {
        out.push(Diagnostic::error(
            at("metrics.serviceMonitor"),
            "metrics-requires-service-monitor",
            "metrics.enabled needs a serviceMonitor (operator webhook)",
        ));
    }
    // `replicas` with autoscaling is reported by the CRD's CEL rule on `spec`.
    if scale_enabled(spec) && spec.scale.as_ref().and_then(|s| s.hpa.as_ref()).is_none() {
        out.push(Diagnostic::error(
            at("scale.hpa"),
            "scale-requires-hpa",
            "scale.enabled needs scale.hpa with at least maxReplicas (operator webhook)",
        ));
    }
    if let Some(hpa) = spec.scale.as_ref().and_then(|s| s.hpa.as_ref())
        && hpa.max_replicas < hpa.min_replicas.unwrap_or(1)
    {
        out.push(Diagnostic::error(
            at("scale.hpa.maxReplicas"),
            "invalid-replica-range",
            format!(
                "maxReplicas {} is below minReplicas {}",
                hpa.max_replicas,
                hpa.min_replicas.unwrap_or(1)
            ),
        ));
    }
    // The webhook rejects the list as soon as it is present, even empty.
    if spec
        .resources
        .as_ref()
        .and_then(|r| r.claims.as_ref())
        .is_some()
    {
        out.push(Diagnostic::error(
            at("resources.claims"),
            "resource-claims-forbidden",
            "resources.claims must be empty: request DRA devices through spec.draResources (operator webhook)",
        ));
    }
    if let Some(dra) = &spec.dra_resources {
        dra_rules(spec, dra, base, out);
    }
    if let Some(proxy) = &spec.proxy {
        proxy_rules(proxy, &at("proxy"), out);
    }
    if spec.inference_platform == Some(crate::InferencePlatform::Kserve) {
        if spec.multi_node.is_some() {
            out.push(Diagnostic::error(
                at("multiNode"),
                "kserve-multinode",
                "multiNode cannot be used with inferencePlatform: kserve (operator webhook)",
            ));
        }
        let mode = spec
            .annotations
            .as_ref()
            .and_then(|a| a.get("serving.kserve.io/deploymentMode"))
            .map(String::as_str);
        if matches!(mode, Some("Serverless" | "Knative")) {
            let expose = spec.expose.as_ref();
            let forbidden = [
                ("scale.enabled", scale_enabled(spec)),
                (
                    "expose.ingress",
                    expose
                        .and_then(|e| e.ingress.as_ref())
                        .and_then(|i| i.enabled)
                        == Some(true),
                ),
                (
                    "expose.router.ingress",
                    expose
                        .and_then(|e| e.router.as_ref())
                        .is_some_and(|r| r.ingress.is_some()),
                ),
                (
                    "expose.router.gateway",
                    expose
                        .and_then(|e| e.router.as_ref())
                        .is_some_and(|r| r.gateway.is_some()),
                ),
                (
                    "metrics.enabled",
                    spec.metrics.as_ref().and_then(|m| m.enabled) == Some(true),
                ),
            ];
            for (field, set) in forbidden {
                if set {
                    out.push(Diagnostic::error(
                        at(field),
                        "kserve-knative-forbidden",
                        format!("{field} is not supported by KServe in Knative (Serverless) mode (operator webhook)"),
                    ));
                }
            }
        }
    }
}

fn storage_rules(spec: &NIMServiceSpec, base: &str, out: &mut Vec<Diagnostic>) {
    let storage = spec.storage.clone().unwrap_or_default();
    let cache_set = storage
        .nim_cache
        .as_ref()
        .is_some_and(|c| nonempty(&c.name) || nonempty(&c.profile));
    let pvc_set = storage
        .pvc
        .as_ref()
        .is_some_and(|p| p != &PersistentVolumeClaim::default());
    let empty_dir_set = storage.empty_dir.is_some();
    let host_path_set = nonempty(&storage.host_path);
    let count = [cache_set, pvc_set, empty_dir_set, host_path_set]
        .into_iter()
        .filter(|s| *s)
        .count();
    if count != 1 {
        out.push(Diagnostic::error(
            format!("{base}.storage"),
            "storage-exactly-one",
            format!(
                "exactly one of storage.nimCache, storage.pvc, storage.emptyDir and storage.hostPath must be set, \
                 found {count} (operator webhook)"
            ),
        ));
    }
    if let Some(cache) = &storage.nim_cache
        && nonempty(&cache.profile)
        && !nonempty(&cache.name)
    {
        out.push(Diagnostic::error(
            format!("{base}.storage.nimCache.name"),
            "nimcache-name-required",
            "storage.nimCache.profile needs storage.nimCache.name",
        ));
    }
    if pvc_set && let Some(pvc) = &storage.pvc {
        pvc_rules(pvc, &format!("{base}.storage.pvc"), out);
    }
    if let Some(limit) = &storage.shared_memory_size_limit
        && !quantity_positive(limit)
    {
        out.push(Diagnostic::error(
            format!("{base}.storage.sharedMemorySizeLimit"),
            "invalid-quantity",
            format!(
                "sharedMemorySizeLimit `{}` must be a quantity greater than zero",
                limit.0
            ),
        ));
    }
}

fn expose_rules(spec: &NIMServiceSpec, base: &str, out: &mut Vec<Diagnostic>) {
    let Some(expose) = &spec.expose else {
        return;
    };
    if let Some(router) = &expose.router {
        let at = format!("{base}.expose.router");
        if (router.ingress.is_some() || router.gateway.is_some())
            && !nonempty(&router.host_domain_name)
        {
            out.push(Diagnostic::error(
                format!("{at}.hostDomainName"),
                "router-requires-host-domain",
                "a router with an ingress or a gateway needs hostDomainName (the host is <name>.<namespace>.<hostDomainName>)",
            ));
        }
        if let Some(gateway) = &router.gateway
            && gateway.grpc_routes_enabled == Some(true)
            && expose.service.as_ref().and_then(|s| s.grpc_port).is_none()
        {
            out.push(Diagnostic::error(
                format!("{at}.gateway.grpcRoutesEnabled"),
                "grpc-routes-require-grpc-port",
                "grpcRoutesEnabled needs expose.service.grpcPort (operator webhook)",
            ));
        }
        if expose.service.as_ref().and_then(|s| s.type_.as_deref()) == Some("LoadBalancer")
            && (router.ingress.is_some() || router.gateway.is_some())
        {
            out.push(Diagnostic::warning(
                format!("{base}.expose.service.type"),
                "load-balancer-with-router",
                "a LoadBalancer Service and a router both expose the NIM; use ClusterIP behind the router",
            ));
        }
    }
    if expose.ingress.as_ref().and_then(|i| i.enabled) == Some(true) {
        out.push(Diagnostic::warning(
            format!("{base}.expose.ingress"),
            "deprecated-expose-ingress",
            "expose.ingress is deprecated: use expose.router.ingress (with hostDomainName)",
        ));
    }
}

fn dra_rules(spec: &NIMServiceSpec, dra: &[DRAResource], base: &str, out: &mut Vec<Diagnostic>) {
    let mut claim_names = BTreeSet::new();
    for (i, resource) in dra.iter().enumerate() {
        let at = format!("{base}.draResources[{i}]");
        if let Some(name) = &resource.resource_claim_name {
            if spec.replicas.unwrap_or(1) > 1 || scale_enabled(spec) {
                out.push(Diagnostic::error(
                    format!("{at}.resourceClaimName"),
                    "shared-claim-with-replicas",
                    "a ResourceClaim is shared by every pod: use a resourceClaimTemplateName or claimCreationSpec \
                     with more than one replica or autoscaling",
                ));
            }
            if !claim_names.insert(name.as_str()) {
                out.push(Diagnostic::error(
                    format!("{at}.resourceClaimName"),
                    "duplicate-claim",
                    format!("resourceClaimName `{name}` is listed twice"),
                ));
            }
        }
        let Some(creation) = &resource.claim_creation_spec else {
            continue;
        };
        if creation.devices.is_empty() {
            out.push(Diagnostic::error(
                format!("{at}.claimCreationSpec.devices"),
                "dra-no-devices",
                "claimCreationSpec needs at least one device",
            ));
        }
        for (j, device) in creation.devices.iter().enumerate() {
            let at = format!("{at}.claimCreationSpec.devices[{j}]");
            if device.count == 0 {
                out.push(Diagnostic::error(
                    format!("{at}.count"),
                    "dra-count",
                    "count must be greater than zero",
                ));
            }
            if device.device_class_name.is_empty() {
                out.push(Diagnostic::error(
                    format!("{at}.deviceClassName"),
                    "required-value",
                    "deviceClassName must not be empty",
                ));
            }
            if device.driver_name.as_deref() == Some("") {
                out.push(Diagnostic::error(
                    format!("{at}.driverName"),
                    "required-value",
                    "driverName must not be empty",
                ));
            }
            let driver = device
                .driver_name
                .as_deref()
                .unwrap_or(crate::defaults::DRA_GPU_DEVICE_CLASS);
            let qualify = |key: &str| {
                if key.contains('/') {
                    key.to_owned()
                } else {
                    format!("{driver}/{key}")
                }
            };
            let mut keys = BTreeSet::new();
            for (k, selector) in device.attribute_selectors.iter().flatten().enumerate() {
                let at = format!("{at}.attributeSelectors[{k}]");
                if !keys.insert(qualify(&selector.key)) {
                    out.push(Diagnostic::error(
                        format!("{at}.key"),
                        "duplicate-selector",
                        format!("attribute `{}` is selected twice", selector.key),
                    ));
                }
                let value = selector.value.clone().unwrap_or_default();
                let set = [
                    value.bool_value.is_some(),
                    value.int_value.is_some(),
                    value.string_value.is_some(),
                    value.version_value.is_some(),
                ]
                .into_iter()
                .filter(|s| *s)
                .count();
                if set != 1 {
                    out.push(Diagnostic::error(
                        format!("{at}.value"),
                        "dra-attribute-value",
                        format!(
                            "exactly one of boolValue, intValue, stringValue and versionValue must be set, found {set}"
                        ),
                    ));
                }
                if let Some(version) = &value.version_value
                    && !crate::quantity::is_semver(version)
                {
                    out.push(Diagnostic::error(
                        format!("{at}.value.versionValue"),
                        "invalid-semver",
                        format!("versionValue `{version}` is not a semantic version (e.g. 1.2.3)"),
                    ));
                }
            }
            let mut keys = BTreeSet::new();
            for (k, selector) in device.capacity_selectors.iter().flatten().enumerate() {
                if !keys.insert(qualify(&selector.key)) {
                    out.push(Diagnostic::error(
                        format!("{at}.capacitySelectors[{k}].key"),
                        "duplicate-selector",
                        format!("capacity `{}` is selected twice", selector.key),
                    ));
                }
            }
        }
    }
}

/// The operator webhook's update rules for a NIMService spec.
fn nimservice_update_rules(
    spec: &NIMServiceSpec,
    old: &NIMServiceSpec,
    base: &str,
    out: &mut Vec<Diagnostic>,
) {
    if spec.multi_node != old.multi_node {
        out.push(Diagnostic::error(
            format!("{base}.multiNode"),
            "immutable",
            "multiNode is immutable (operator webhook); create a new NIMService instead",
        ));
    }
    let old_pvc = old.storage.as_ref().and_then(|s| s.pvc.as_ref());
    let new_pvc = spec.storage.as_ref().and_then(|s| s.pvc.as_ref());
    if old_pvc.is_some_and(|p| p.create == Some(true)) && old_pvc != new_pvc {
        out.push(Diagnostic::error(
            format!("{base}.storage.pvc"),
            "immutable",
            "storage.pvc is immutable once the operator created the PVC (operator webhook)",
        ));
    }
    if spec.dra_resources != old.dra_resources && base != "spec" {
        // On a NIMService the CEL rule reports this; inside a pipeline only the webhook does.
        out.push(Diagnostic::error(
            format!("{base}.draResources"),
            "immutable",
            "draResources is immutable (operator webhook)",
        ));
    }
}

fn nimpipeline_rules(pipeline: &NIMPipeline, out: &mut Vec<Diagnostic>) {
    let mut names = BTreeSet::new();
    for (i, service) in pipeline.spec.services.iter().flatten().enumerate() {
        let base = format!("spec.services[{i}]");
        match service.name.as_deref() {
            Some(name) if !name.is_empty() => {
                if !names.insert(name) {
                    out.push(Diagnostic::error(
                        format!("{base}.name"),
                        "duplicate-service",
                        format!("service `{name}` is listed twice; each becomes a NIMService of that name"),
                    ));
                }
            }
            _ => out.push(Diagnostic::error(
                format!("{base}.name"),
                "required-value",
                "each pipeline service needs a name: it becomes the NIMService's name",
            )),
        }
        if service.enabled != Some(true) {
            out.push(Diagnostic::warning(
                format!("{base}.enabled"),
                "service-disabled",
                "the operator creates only services with `enabled: true`; this one is not created",
            ));
        }
        match &service.spec {
            Some(spec) => nimservice_rules(spec, &format!("{base}.spec"), out),
            None => out.push(Diagnostic::error(
                format!("{base}.spec"),
                "required-value",
                "each pipeline service needs a spec",
            )),
        }
    }
}

fn nimbuild_rules(build: &NIMBuild, out: &mut Vec<Diagnostic>) {
    if build.spec.nim_cache.name.is_empty() {
        out.push(Diagnostic::error(
            "spec.nimCache.name",
            "required-value",
            "nimCache.name must name the NIMCache to build from",
        ));
    }
    if build.spec.image.repository.is_empty() {
        out.push(Diagnostic::error(
            "spec.image.repository",
            "required-value",
            "image.repository must not be empty",
        ));
    }
    if build.spec.image.tag.is_empty() {
        out.push(Diagnostic::error(
            "spec.image.tag",
            "required-value",
            "image.tag must not be empty",
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_proxy_tokens() {
        for ok in [
            "localhost",
            ".svc.cluster.local",
            "10.0.0.1",
            "10.0.0.1:8080",
            "10.0.0.0/8",
            "[::1]:443",
            "[2001:db8::]/32",
        ] {
            assert!(no_proxy_token_ok(ok), "{ok} should be accepted");
        }
        // The webhook rejects wildcards, host names with ports and bare IPv6 addresses.
        for bad in [
            "http://proxy",
            "10.0.0.0/33",
            "[::1",
            "*.example.com",
            "registry.corp:5000",
            "::1",
            "-bad-.com",
            "a b",
        ] {
            assert!(!no_proxy_token_ok(bad), "{bad} should be rejected");
        }
    }
}
