//! Schemas of the Kubernetes core types the NIM CRDs embed.
//!
//! k8s-openapi's schemars schemas carry the properties, types, formats and `required` lists of
//! the Kubernetes API types, but not the structural markers of the Go sources that
//! controller-gen copies into every CRD that embeds those types: `+listType`, `+listMapKey`,
//! `+structType=atomic`, `+default` and the `anyOf` that accompanies `intstr.IntOrString` and
//! `resource.Quantity`. Those markers decide how server-side apply merges lists and what the
//! API server defaults, so this module restores them. Each function below returns the schema
//! of one embedded type (k8s-openapi's, patched with the markers of that type as written in
//! `k8s.io/api` v0.34, the version the NIM Operator pins); fields of our types use them through
//! `#[schemars(schema_with = ...)]`.

use k8s_openapi::{
    api::{
        autoscaling::v2::{HorizontalPodAutoscalerBehavior, MetricSpec},
        core::v1::{
            Affinity, ConfigMapKeySelector, ContainerPort, EnvVar, PodAffinity, Probe,
            ResourceRequirements, Toleration,
        },
        networking::v1::IngressSpec,
    },
    apimachinery::pkg::apis::meta::v1::Condition,
};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{Map, Value, json};

use crate::schema::QUANTITY_PATTERN;

/// One marker: the path of a node inside the type's schema and the keys to set on it.
///
/// Paths are dotted property names; `[]` steps into array items and `{}` into
/// `additionalProperties`. `*` as the last segment applies the patch to every node below the
/// prefix that has the patch's trigger (see [`Patch`]).
struct Marker {
    path: String,
    patch: Patch,
}

fn at(path: impl Into<String>, patch: Patch) -> Marker {
    Marker {
        path: path.into(),
        patch,
    }
}

/// Prefixes every marker's path with `prefix.`.
fn under(prefix: &str, markers: Vec<Marker>) -> Vec<Marker> {
    markers
        .into_iter()
        .map(|m| Marker {
            path: if m.path.is_empty() {
                prefix.to_owned()
            } else if m.path.starts_with('[') || m.path.starts_with('{') {
                format!("{prefix}{}", m.path)
            } else {
                format!("{prefix}.{}", m.path)
            },
            patch: m.patch,
        })
        .collect()
}

enum Patch {
    /// `x-kubernetes-list-type: atomic`.
    AtomicList,
    /// `x-kubernetes-list-type: map` with these keys.
    MapList(&'static [&'static str]),
    /// `x-kubernetes-map-type: atomic` on a struct.
    AtomicStruct,
    /// `default: <value>`.
    Default(fn() -> Value),
    /// Validation keywords (`maxLength`, `pattern`, `enum`, ...) to set.
    Bounds(Value),
    /// A `resource.Quantity`: the int-or-string `anyOf` and the quantity pattern.
    Quantity,
    /// The `required` list, replacing k8s-openapi's (which lists fields that are required in
    /// Go but defaulted by the API server, such as `LocalObjectReference.name`).
    Required(&'static [&'static str]),
}

fn schema_of<T: JsonSchema>(generator: &mut SchemaGenerator, markers: &[Marker]) -> Schema {
    let mut schema = generator.subschema_for::<T>();
    if let Some(object) = schema.as_object_mut() {
        int_or_string_any_of(object);
        for marker in markers {
            apply(object, marker);
        }
    }
    schema
}

fn list_of<T: JsonSchema>(generator: &mut SchemaGenerator, markers: &[Marker]) -> Schema {
    let item = schema_of::<T>(generator, markers);
    let mut object = Map::new();
    object.insert("type".to_owned(), json!("array"));
    object.insert("items".to_owned(), item.to_value());
    Schema::from(object)
}

/// controller-gen writes every int-or-string node (IntOrString and Quantity) with an `anyOf`
/// of integer and string; k8s-openapi writes only the extension.
fn int_or_string_any_of(object: &mut Map<String, Value>) {
    if object.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true))
        && !object.contains_key("anyOf")
    {
        object.insert(
            "anyOf".to_owned(),
            json!([{"type": "integer"}, {"type": "string"}]),
        );
    }
    for (key, child) in object.iter_mut() {
        if matches!(
            key.as_str(),
            "default" | "enum" | "x-kubernetes-validations"
        ) {
            continue;
        }
        match child {
            Value::Object(inner) => int_or_string_any_of(inner),
            Value::Array(items) => {
                for item in items {
                    if let Value::Object(inner) = item {
                        int_or_string_any_of(inner);
                    }
                }
            }
            _ => {}
        }
    }
}

fn apply(root: &mut Map<String, Value>, marker: &Marker) {
    let mut node = root;
    if !marker.path.is_empty() {
        for segment in split(&marker.path) {
            let next = match segment {
                "[]" => node.get_mut("items"),
                "{}" => node.get_mut("additionalProperties"),
                name => node.get_mut("properties").and_then(|p| p.get_mut(name)),
            };
            match next {
                Some(Value::Object(inner)) => node = inner,
                // A marker for a field this k8s-openapi version does not have: nothing to do.
                _ => return,
            }
        }
    }
    patch_node(node, &marker.patch);
}

/// Splits `a.b[].c{}` into `a`, `b`, `[]`, `c`, `{}`.
fn split(path: &str) -> Vec<&str> {
    let mut segments = Vec::new();
    for part in path.split('.') {
        let (name, mut suffix) = match part.find(['[', '{']) {
            Some(i) => part.split_at(i),
            None => (part, ""),
        };
        if !name.is_empty() {
            segments.push(name);
        }
        while suffix.len() >= 2 {
            let (step, rest) = suffix.split_at(2);
            segments.push(step);
            suffix = rest;
        }
    }
    segments
}

fn patch_node(node: &mut Map<String, Value>, patch: &Patch) {
    match patch {
        Patch::AtomicList => {
            node.insert("x-kubernetes-list-type".to_owned(), json!("atomic"));
        }
        Patch::MapList(keys) => {
            node.insert("x-kubernetes-list-type".to_owned(), json!("map"));
            node.insert("x-kubernetes-list-map-keys".to_owned(), json!(keys));
        }
        Patch::AtomicStruct => {
            node.insert("x-kubernetes-map-type".to_owned(), json!("atomic"));
        }
        Patch::Default(value) => {
            node.insert("default".to_owned(), value());
        }
        Patch::Bounds(Value::Object(keys)) => {
            for (key, value) in keys {
                node.insert(key.clone(), value.clone());
            }
        }
        Patch::Bounds(_) => {}
        Patch::Quantity => {
            node.insert(
                "anyOf".to_owned(),
                json!([{"type": "integer"}, {"type": "string"}]),
            );
            node.insert("pattern".to_owned(), json!(QUANTITY_PATTERN));
            node.insert("x-kubernetes-int-or-string".to_owned(), json!(true));
        }
        Patch::Required(names) => {
            node.insert("required".to_owned(), json!(names));
        }
    }
}

fn empty_string() -> Value {
    json!("")
}

fn false_value() -> Value {
    json!(false)
}

fn tcp() -> Value {
    json!("TCP")
}

/// `metav1.LabelSelector`: atomic struct, atomic expression lists.
fn label_selector() -> Vec<Marker> {
    vec![
        at("", Patch::AtomicStruct),
        at("matchExpressions", Patch::AtomicList),
        at("matchExpressions[].values", Patch::AtomicList),
    ]
}

/// `corev1.NodeSelectorTerm`: atomic struct, atomic requirement lists.
fn node_selector_term() -> Vec<Marker> {
    vec![
        at("", Patch::AtomicStruct),
        at("matchExpressions", Patch::AtomicList),
        at("matchExpressions[].values", Patch::AtomicList),
        at("matchFields", Patch::AtomicList),
        at("matchFields[].values", Patch::AtomicList),
    ]
}

/// `corev1.PodAffinityTerm`.
fn pod_affinity_term() -> Vec<Marker> {
    let mut markers = vec![
        at("namespaces", Patch::AtomicList),
        at("matchLabelKeys", Patch::AtomicList),
        at("mismatchLabelKeys", Patch::AtomicList),
    ];
    markers.extend(under("labelSelector", label_selector()));
    markers.extend(under("namespaceSelector", label_selector()));
    markers
}

/// `corev1.PodAffinity` and `corev1.PodAntiAffinity` (same shape).
fn pod_affinity_markers() -> Vec<Marker> {
    let mut markers = vec![
        at(
            "requiredDuringSchedulingIgnoredDuringExecution",
            Patch::AtomicList,
        ),
        at(
            "preferredDuringSchedulingIgnoredDuringExecution",
            Patch::AtomicList,
        ),
    ];
    markers.extend(under(
        "requiredDuringSchedulingIgnoredDuringExecution[]",
        pod_affinity_term(),
    ));
    markers.extend(under(
        "preferredDuringSchedulingIgnoredDuringExecution[].podAffinityTerm",
        pod_affinity_term(),
    ));
    markers
}

fn affinity_markers() -> Vec<Marker> {
    let mut markers = vec![
        at(
            "nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution",
            Patch::AtomicList,
        ),
        at(
            "nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution",
            Patch::AtomicStruct,
        ),
        at(
            "nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms",
            Patch::AtomicList,
        ),
    ];
    markers.extend(under(
        "nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[].preference",
        node_selector_term(),
    ));
    markers.extend(under(
        "nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[]",
        node_selector_term(),
    ));
    markers.extend(under("podAffinity", pod_affinity_markers()));
    markers.extend(under("podAntiAffinity", pod_affinity_markers()));
    markers
}

/// `corev1.ConfigMapKeySelector` and `corev1.SecretKeySelector`: `name` (from the embedded
/// `LocalObjectReference`) defaults to `""` and is not required.
fn key_selector() -> Vec<Marker> {
    vec![
        at("", Patch::AtomicStruct),
        at("", Patch::Required(&["key"])),
        at("name", Patch::Default(empty_string)),
    ]
}

fn env_var_markers() -> Vec<Marker> {
    let mut markers = vec![
        at("valueFrom.fieldRef", Patch::AtomicStruct),
        at("valueFrom.fileKeyRef", Patch::AtomicStruct),
        at("valueFrom.fileKeyRef.optional", Patch::Default(false_value)),
        at("valueFrom.resourceFieldRef", Patch::AtomicStruct),
        at("valueFrom.resourceFieldRef.divisor", Patch::Quantity),
    ];
    markers.extend(under("valueFrom.configMapKeyRef", key_selector()));
    markers.extend(under("valueFrom.secretKeyRef", key_selector()));
    markers
}

fn probe_markers() -> Vec<Marker> {
    vec![
        at("exec.command", Patch::AtomicList),
        at("grpc.service", Patch::Default(empty_string)),
        at("httpGet.httpHeaders", Patch::AtomicList),
    ]
}

fn resource_requirements_markers() -> Vec<Marker> {
    vec![
        at("claims", Patch::MapList(&["name"])),
        at("limits{}", Patch::Quantity),
        at("requests{}", Patch::Quantity),
    ]
}

/// `networkingv1.IngressBackend`.
fn ingress_backend() -> Vec<Marker> {
    vec![
        at("resource", Patch::AtomicStruct),
        at("service.port", Patch::AtomicStruct),
    ]
}

fn ingress_spec_markers() -> Vec<Marker> {
    let mut markers = vec![
        at("rules", Patch::AtomicList),
        at("rules[].http.paths", Patch::AtomicList),
        at("tls", Patch::AtomicList),
        at("tls[].hosts", Patch::AtomicList),
    ];
    markers.extend(under("defaultBackend", ingress_backend()));
    markers.extend(under("rules[].http.paths[].backend", ingress_backend()));
    markers
}

/// `autoscalingv2.MetricSpec`: label selectors of metric identifiers and the quantities of
/// metric targets.
fn metric_spec_markers() -> Vec<Marker> {
    let mut markers = Vec::new();
    for source in [
        "containerResource",
        "external",
        "object",
        "pods",
        "resource",
    ] {
        markers.push(at(format!("{source}.target.averageValue"), Patch::Quantity));
        markers.push(at(format!("{source}.target.value"), Patch::Quantity));
    }
    for source in ["external", "object", "pods"] {
        markers.extend(under(
            &format!("{source}.metric.selector"),
            label_selector(),
        ));
    }
    markers
}

fn hpa_behavior_markers() -> Vec<Marker> {
    let mut markers = Vec::new();
    for rules in ["scaleUp", "scaleDown"] {
        markers.push(at(format!("{rules}.policies"), Patch::AtomicList));
        markers.push(at(format!("{rules}.tolerance"), Patch::Quantity));
    }
    markers
}

/// `metav1.Condition`'s validation markers.
fn condition_markers() -> Vec<Marker> {
    vec![
        at("message", Patch::Bounds(json!({"maxLength": 32768}))),
        at("observedGeneration", Patch::Bounds(json!({"minimum": 0}))),
        at(
            "reason",
            Patch::Bounds(json!({
                "maxLength": 1024,
                "minLength": 1,
                "pattern": "^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$",
            })),
        ),
        at(
            "status",
            Patch::Bounds(json!({"enum": ["True", "False", "Unknown"]})),
        ),
        at(
            "type",
            Patch::Bounds(json!({
                "maxLength": 316,
                "pattern": r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$",
            })),
        ),
    ]
}

/// `[]corev1.EnvVar`.
pub(crate) fn env_vars(generator: &mut SchemaGenerator) -> Schema {
    list_of::<EnvVar>(generator, &env_var_markers())
}

/// `[]corev1.Toleration`.
pub(crate) fn tolerations(generator: &mut SchemaGenerator) -> Schema {
    list_of::<Toleration>(generator, &[])
}

/// `corev1.Affinity`.
pub(crate) fn affinity(generator: &mut SchemaGenerator) -> Schema {
    schema_of::<Affinity>(generator, &affinity_markers())
}

/// `corev1.PodAffinity`.
pub(crate) fn pod_affinity(generator: &mut SchemaGenerator) -> Schema {
    schema_of::<PodAffinity>(generator, &pod_affinity_markers())
}

/// `corev1.Probe`.
pub(crate) fn probe(generator: &mut SchemaGenerator) -> Schema {
    schema_of::<Probe>(generator, &probe_markers())
}

/// `[]corev1.ContainerPort`.
pub(crate) fn container_ports(generator: &mut SchemaGenerator) -> Schema {
    list_of::<ContainerPort>(generator, &[at("protocol", Patch::Default(tcp))])
}

/// `corev1.ConfigMapKeySelector`.
pub(crate) fn config_map_key_selector(generator: &mut SchemaGenerator) -> Schema {
    schema_of::<ConfigMapKeySelector>(generator, &key_selector())
}

/// `corev1.ResourceRequirements`.
pub(crate) fn resource_requirements(generator: &mut SchemaGenerator) -> Schema {
    schema_of::<ResourceRequirements>(generator, &resource_requirements_markers())
}

/// `networkingv1.IngressSpec`.
pub(crate) fn ingress_spec(generator: &mut SchemaGenerator) -> Schema {
    schema_of::<IngressSpec>(generator, &ingress_spec_markers())
}

/// `[]autoscalingv2.MetricSpec`.
pub(crate) fn metric_specs(generator: &mut SchemaGenerator) -> Schema {
    list_of::<MetricSpec>(generator, &metric_spec_markers())
}

/// `autoscalingv2.HorizontalPodAutoscalerBehavior`.
pub(crate) fn hpa_behavior(generator: &mut SchemaGenerator) -> Schema {
    schema_of::<HorizontalPodAutoscalerBehavior>(generator, &hpa_behavior_markers())
}

/// `[]metav1.Condition`.
pub(crate) fn conditions(generator: &mut SchemaGenerator) -> Schema {
    list_of::<Condition>(generator, &condition_markers())
}
