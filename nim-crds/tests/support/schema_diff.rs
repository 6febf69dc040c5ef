//! Structural comparison of two `CustomResourceDefinition` documents given as JSON values.
//!
//! [`diff_crd`] compares what the API server acts on and ignores documentation:
//!
//! * `@metadata`: `name`.
//! * `@spec`: `group`, `scope`, and any other key next to `names`/`versions`
//!   (`conversion` absent = `{strategy: None}`, `preserveUnknownFields` absent = `false`).
//! * `@names`: `kind`, `plural`, `singular` (absent = lowercase kind), `listKind`
//!   (absent = kind + `List`), `shortNames` and `categories` (as sets, absent = empty).
//! * `@versions[NAME]`: presence, `served`, `storage`, and any other key except `name`,
//!   `schema`, `subresources` and `additionalPrinterColumns` (`deprecated` absent = `false`).
//! * `@subresources`: each subresource (`status`, `scale`) as a JSON value.
//! * `@printerColumns[NAME]`: presence, `type`, `format`, `jsonPath`, `priority` (absent = 0);
//!   `@printerColumns` / `order`: the relative order of the columns both sides have.
//! * The `openAPIV3Schema`, walked in parallel (see [`Difference`] for the path convention).
//!   Nested schemas are reached through `properties`, `items`, `additionalProperties`, `not`
//!   and `anyOf`/`allOf`/`oneOf` (by index). At every node `description`, `title`, `example`
//!   and `externalDocs` are ignored and every other key is compared:
//!   * `required` as a set (absent = empty), `enum` as a set;
//!   * `nullable`, `exclusiveMinimum`, `exclusiveMaximum`, `uniqueItems`,
//!     `x-kubernetes-preserve-unknown-fields`, `x-kubernetes-int-or-string` and
//!     `x-kubernetes-embedded-resource`: absent = `false`;
//!   * `x-kubernetes-validations` as a set of rules, the CEL `rule` and `messageExpression`
//!     with runs of whitespace collapsed to one space (YAML folds long rules),
//!     `optionalOldSelf` absent = `false`;
//!   * everything else (`type`, `format`, `default`, `pattern`, bounds, `x-kubernetes-list-type`,
//!     `x-kubernetes-list-map-keys` as a list, `x-kubernetes-map-type`, unknown
//!     `x-kubernetes-*` keys, …) by JSON equality.
//!
//! JSON numbers compare by value everywhere (`1` equals `1.0`): k8s-openapi holds `minimum`
//! and `maximum` as `f64`, the upstream YAML writes integers.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde_json::{Map, Value, json};

/// [`Difference::key`] when upstream has a schema node, version, printer column or
/// subresource that ours lacks (the difference's path names it).
pub(crate) const MISSING_IN_OURS: &str = "missing-in-ours";
/// [`Difference::key`] when ours has a schema node, version, printer column or subresource
/// that upstream lacks (the difference's path names it).
pub(crate) const EXTRA_IN_OURS: &str = "extra-in-ours";
/// The path of the root node of an `openAPIV3Schema`.
pub(crate) const ROOT: &str = "(root)";

/// Schema keys that only document: never compared.
const DOC_KEYS: [&str; 4] = ["description", "title", "example", "externalDocs"];
/// Schema keys where an absent value means `false`.
const FALSE_BY_DEFAULT: [&str; 7] = [
    "nullable",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "uniqueItems",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-int-or-string",
    "x-kubernetes-embedded-resource",
];
/// Schema keys that hold nested schemas, walked in this order after a node's own keys
/// (`allOf`, `anyOf` and `oneOf` by index).
const NESTED_KEYS: [&str; 7] = [
    "properties",
    "items",
    "additionalProperties",
    "allOf",
    "anyOf",
    "oneOf",
    "not",
];
/// Maximum number of characters of a value that [`Difference`]'s `Display` prints.
const DISPLAY_LIMIT: usize = 160;

/// One structural difference between our CRD and the upstream CRD.
///
/// `path` says where, `key` says what:
///
/// * Schema nodes: the dotted property path from the object root, e.g.
///   `spec.expose.router.gateway.backendRef`; `[]` for array items (`spec.tolerations[]`),
///   `{}` for `additionalProperties` (`spec.resources.limits{}`), `.anyOf[0]` (also `allOf`,
///   `oneOf`) for combinators, `.not` for `not`. Property names with characters other than
///   ASCII letters, digits, `_` and `-` are double-quoted (`metadata.labels."app.kubernetes.io/name"`).
///   The root itself is [`ROOT`]. When either CRD has more than one version, schema paths are
///   prefixed with the version and a colon (`v1beta1:spec.foo`).
/// * Everything else starts with `@`: `@metadata`, `@spec`, `@names`, `@versions[v1alpha1]`,
///   `@subresources`, `@printerColumns[Age]` (the last two prefixed with `@versions[NAME].`
///   when either CRD has more than one version).
///
/// `key` is the compared key (`type`, `default`, `x-kubernetes-validations`, `plural`, …), or
/// [`MISSING_IN_OURS`] / [`EXTRA_IN_OURS`] when the whole node at `path` exists on one side
/// only. `ours` and `upstream` hold the values (`None` = absent), documentation stripped;
/// for `required` and `enum` the full sorted sets, for `x-kubernetes-validations` only the
/// rules the other side lacks.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Difference {
    /// Where the difference is (see the type's documentation).
    pub(crate) path: String,
    /// What differs: a schema or CRD key, or [`MISSING_IN_OURS`] / [`EXTRA_IN_OURS`].
    pub(crate) key: String,
    /// Our value; `None` when absent.
    pub(crate) ours: Option<Value>,
    /// The upstream value; `None` when absent.
    pub(crate) upstream: Option<Value>,
}

impl Difference {
    fn new(path: &str, key: &str, ours: Option<Value>, upstream: Option<Value>) -> Self {
        Self {
            path: path.to_owned(),
            key: key.to_owned(),
            ours,
            upstream,
        }
    }
}

impl fmt::Display for Difference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} [{}]: ours = {}, upstream = {}",
            self.path,
            self.key,
            Shown(self.ours.as_ref()),
            Shown(self.upstream.as_ref())
        )
    }
}

/// Compact, length-limited rendering of an optional JSON value.
struct Shown<'a>(Option<&'a Value>);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Some(value) = self.0 else {
            return f.write_str("absent");
        };
        let text = value.to_string();
        match text.char_indices().nth(DISPLAY_LIMIT) {
            Some((cut, _)) => write!(f, "{}…", &text[..cut]),
            None => f.write_str(&text),
        }
    }
}

/// Whether `path` is `ancestor` or lies below it (the `/**` acceptance rule).
///
/// `spec.storage` contains `spec.storage`, `spec.storage.pvc`, `spec.storage[]`,
/// `spec.storage{}` and `spec.storage.anyOf[0]`, but not `spec.storageClass`. [`ROOT`]
/// (optionally version-prefixed) contains every schema path of that version.
pub(crate) fn path_is_within(path: &str, ancestor: &str) -> bool {
    if let Some(prefix) = ancestor.strip_suffix(ROOT) {
        return path
            .strip_prefix(prefix)
            .is_some_and(|rest| !rest.starts_with('@'));
    }
    path.strip_prefix(ancestor).is_some_and(|rest| {
        rest.is_empty() || rest.starts_with('.') || rest.starts_with('[') || rest.starts_with('{')
    })
}

/// Compares two whole `CustomResourceDefinition` documents; see the module documentation for
/// what is compared and [`Difference`] for how differences are reported.
///
/// The result is deterministic: keys and names are visited in sorted order.
pub(crate) fn diff_crd(ours: &Value, upstream: &Value) -> Vec<Difference> {
    let mut out = Vec::new();
    compare_value(
        "@metadata",
        "name",
        ours.pointer("/metadata/name"),
        upstream.pointer("/metadata/name"),
        &mut out,
    );
    let ours_spec = object_at(ours, "/spec");
    let upstream_spec = object_at(upstream, "/spec");
    compare_maps(
        "@spec",
        &effective_spec(ours_spec),
        &effective_spec(upstream_spec),
        ours_spec,
        upstream_spec,
        &mut out,
    );
    let ours_names = object_at(ours, "/spec/names");
    let upstream_names = object_at(upstream, "/spec/names");
    compare_maps(
        "@names",
        &effective_names(ours_names),
        &effective_names(upstream_names),
        ours_names,
        upstream_names,
        &mut out,
    );
    compare_versions(
        &named_entries(ours.pointer("/spec/versions")),
        &named_entries(upstream.pointer("/spec/versions")),
        &mut out,
    );
    out
}

/// The object at a JSON pointer, or `None` when absent or not an object.
fn object_at<'a>(value: &'a Value, pointer: &str) -> Option<&'a Map<String, Value>> {
    value.pointer(pointer).and_then(Value::as_object)
}

/// Array entries by their `name` (entries without a string name are skipped).
fn named_entries(list: Option<&Value>) -> Vec<(String, &Map<String, Value>)> {
    list.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            let map = entry.as_object()?;
            let name = map.get("name")?.as_str()?;
            Some((name.to_owned(), map))
        })
        .collect()
}

/// `spec` without `names`/`versions`, with API-server defaults filled in.
fn effective_spec(spec: Option<&Map<String, Value>>) -> Map<String, Value> {
    let mut map = without_keys(spec, &["names", "versions"]);
    map.entry("conversion")
        .or_insert_with(|| json!({ "strategy": "None" }));
    map.entry("preserveUnknownFields")
        .or_insert(Value::Bool(false));
    map
}

/// `spec.names` with API-server defaults filled in and list-valued names as sorted sets.
fn effective_names(names: Option<&Map<String, Value>>) -> Map<String, Value> {
    let mut map = without_keys(names, &[]);
    let kind = map.get("kind").and_then(Value::as_str).map(str::to_owned);
    if let Some(kind) = kind {
        map.entry("singular")
            .or_insert_with(|| Value::String(kind.to_lowercase()));
        map.entry("listKind")
            .or_insert_with(|| Value::String(format!("{kind}List")));
    }
    for key in ["shortNames", "categories"] {
        let set = as_set(map.get(key));
        map.insert(key.to_owned(), Value::Array(set.into_values().collect()));
    }
    map
}

/// A copy of `map` (or an empty map) without `keys` and without documentation keys.
fn without_keys(map: Option<&Map<String, Value>>, keys: &[&str]) -> Map<String, Value> {
    map.into_iter()
        .flatten()
        .filter(|(key, _)| !keys.contains(&key.as_str()) && !DOC_KEYS.contains(&key.as_str()))
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect()
}

/// Compares the effective maps key by key, reporting the original (not defaulted) values.
fn compare_maps(
    path: &str,
    ours: &Map<String, Value>,
    upstream: &Map<String, Value>,
    ours_original: Option<&Map<String, Value>>,
    upstream_original: Option<&Map<String, Value>>,
    out: &mut Vec<Difference>,
) {
    let keys: BTreeSet<&String> = ours.keys().chain(upstream.keys()).collect();
    for key in keys {
        if !json_eq(ours.get(key), upstream.get(key)) {
            out.push(Difference::new(
                path,
                key,
                ours_original.and_then(|map| map.get(key)).map(normalized),
                upstream_original
                    .and_then(|map| map.get(key))
                    .map(normalized),
            ));
        }
    }
}

/// Reports a difference when the two values are not equal as JSON.
fn compare_value(
    path: &str,
    key: &str,
    ours: Option<&Value>,
    upstream: Option<&Value>,
    out: &mut Vec<Difference>,
) {
    if !json_eq(ours, upstream) {
        out.push(Difference::new(
            path,
            key,
            ours.map(normalized),
            upstream.map(normalized),
        ));
    }
}

fn compare_versions(
    ours: &[(String, &Map<String, Value>)],
    upstream: &[(String, &Map<String, Value>)],
    out: &mut Vec<Difference>,
) {
    let multi_version = ours.len() > 1 || upstream.len() > 1;
    let ours_by_name: BTreeMap<&str, &Map<String, Value>> = ours
        .iter()
        .map(|(name, map)| (name.as_str(), *map))
        .collect();
    let upstream_by_name: BTreeMap<&str, &Map<String, Value>> = upstream
        .iter()
        .map(|(name, map)| (name.as_str(), *map))
        .collect();
    let names: BTreeSet<&str> = ours_by_name
        .keys()
        .chain(upstream_by_name.keys())
        .copied()
        .collect();
    for name in names {
        let version_path = format!("@versions[{name}]");
        let (ours_version, upstream_version) =
            match (ours_by_name.get(name), upstream_by_name.get(name)) {
                (Some(ours_version), Some(upstream_version)) => (*ours_version, *upstream_version),
                (ours_version, upstream_version) => {
                    report_presence(
                        &version_path,
                        ours_version.map(|_| Value::String(name.to_owned())),
                        upstream_version.map(|_| Value::String(name.to_owned())),
                        out,
                    );
                    continue;
                }
            };
        let (scope, schema_prefix) = if multi_version {
            (format!("{version_path}."), format!("{name}:"))
        } else {
            ("@".to_owned(), String::new())
        };
        let skip = ["name", "schema", "subresources", "additionalPrinterColumns"];
        let mut ours_rest = without_keys(Some(ours_version), &skip);
        let mut upstream_rest = without_keys(Some(upstream_version), &skip);
        for rest in [&mut ours_rest, &mut upstream_rest] {
            rest.entry("deprecated").or_insert(Value::Bool(false));
        }
        compare_maps(
            &version_path,
            &ours_rest,
            &upstream_rest,
            Some(ours_version),
            Some(upstream_version),
            out,
        );
        let ours_subresources = ours_version.get("subresources").and_then(Value::as_object);
        let upstream_subresources = upstream_version
            .get("subresources")
            .and_then(Value::as_object);
        compare_maps(
            &format!("{scope}subresources"),
            &without_keys(ours_subresources, &[]),
            &without_keys(upstream_subresources, &[]),
            ours_subresources,
            upstream_subresources,
            out,
        );
        compare_printer_columns(
            &format!("{scope}printerColumns"),
            &named_entries(ours_version.get("additionalPrinterColumns")),
            &named_entries(upstream_version.get("additionalPrinterColumns")),
            out,
        );
        let root = NodePath {
            prefix: schema_prefix,
            relative: String::new(),
        };
        match (
            ours_version
                .get("schema")
                .and_then(|s| s.get("openAPIV3Schema")),
            upstream_version
                .get("schema")
                .and_then(|s| s.get("openAPIV3Schema")),
        ) {
            (Some(ours_schema), Some(upstream_schema)) => {
                compare_schema(&root, ours_schema, upstream_schema, out);
            }
            (ours_schema, upstream_schema) => report_presence(
                &root.to_string(),
                ours_schema.map(strip_docs),
                upstream_schema.map(strip_docs),
                out,
            ),
        }
    }
}

fn compare_printer_columns(
    path: &str,
    ours: &[(String, &Map<String, Value>)],
    upstream: &[(String, &Map<String, Value>)],
    out: &mut Vec<Difference>,
) {
    let effective = |column: &Map<String, Value>| {
        let mut map = without_keys(Some(column), &["name"]);
        map.entry("priority").or_insert(Value::from(0));
        map
    };
    let ours_by_name: BTreeMap<&str, &Map<String, Value>> = ours
        .iter()
        .map(|(name, map)| (name.as_str(), *map))
        .collect();
    let upstream_by_name: BTreeMap<&str, &Map<String, Value>> = upstream
        .iter()
        .map(|(name, map)| (name.as_str(), *map))
        .collect();
    let names: BTreeSet<&str> = ours_by_name
        .keys()
        .chain(upstream_by_name.keys())
        .copied()
        .collect();
    for name in names {
        let column_path = format!("{path}[{name}]");
        match (ours_by_name.get(name), upstream_by_name.get(name)) {
            (Some(ours_column), Some(upstream_column)) => compare_maps(
                &column_path,
                &effective(ours_column),
                &effective(upstream_column),
                Some(ours_column),
                Some(upstream_column),
                out,
            ),
            (ours_column, upstream_column) => report_presence(
                &column_path,
                ours_column.map(|column| Value::Object(without_keys(Some(column), &[]))),
                upstream_column.map(|column| Value::Object(without_keys(Some(column), &[]))),
                out,
            ),
        }
    }
    let common_order = |columns: &[(String, &Map<String, Value>)], other: &BTreeMap<&str, _>| {
        columns
            .iter()
            .filter(|(name, _)| other.contains_key(name.as_str()))
            .map(|(name, _)| Value::String(name.clone()))
            .collect::<Vec<_>>()
    };
    let ours_order = common_order(ours, &upstream_by_name);
    let upstream_order = common_order(upstream, &ours_by_name);
    if ours_order != upstream_order {
        out.push(Difference::new(
            path,
            "order",
            Some(Value::Array(ours_order)),
            Some(Value::Array(upstream_order)),
        ));
    }
}

/// Reports a node that exists on one side only (no-op when on both or neither).
fn report_presence(
    path: &str,
    ours: Option<Value>,
    upstream: Option<Value>,
    out: &mut Vec<Difference>,
) {
    match (ours, upstream) {
        (Some(ours), None) => out.push(Difference::new(path, EXTRA_IN_OURS, Some(ours), None)),
        (None, Some(upstream)) => {
            out.push(Difference::new(path, MISSING_IN_OURS, None, Some(upstream)));
        }
        (Some(_), Some(_)) | (None, None) => {}
    }
}

/// The path of a schema node: an optional version prefix and the path below the root.
#[derive(Clone, Debug)]
struct NodePath {
    /// `""`, or `"<version>:"` when comparing multi-version CRDs.
    prefix: String,
    /// `""` for the root, else e.g. `spec.tolerations[]`.
    relative: String,
}

impl NodePath {
    /// A child whose segment is appended without a separator (`[]`, `{}`).
    fn suffixed(&self, suffix: &str) -> Self {
        Self {
            prefix: self.prefix.clone(),
            relative: format!("{}{suffix}", self.relative),
        }
    }

    /// A child whose segment is appended after a dot (none at the root).
    fn dotted(&self, segment: &str) -> Self {
        let relative = if self.relative.is_empty() {
            segment.to_owned()
        } else {
            format!("{}.{segment}", self.relative)
        };
        Self {
            prefix: self.prefix.clone(),
            relative,
        }
    }

    /// The node of property `name`, quoted when it is not a plain identifier.
    fn property(&self, name: &str) -> Self {
        let plain = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if plain {
            self.dotted(name)
        } else {
            let escaped = name.replace('\\', "\\\\").replace('"', "\\\"");
            self.dotted(&format!("\"{escaped}\""))
        }
    }
}

impl fmt::Display for NodePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let relative = if self.relative.is_empty() {
            ROOT
        } else {
            &self.relative
        };
        write!(f, "{}{relative}", self.prefix)
    }
}

/// Walks two schema nodes in parallel.
fn compare_schema(path: &NodePath, ours: &Value, upstream: &Value, out: &mut Vec<Difference>) {
    let (Some(ours), Some(upstream)) = (ours.as_object(), upstream.as_object()) else {
        compare_value(
            &path.to_string(),
            "schema",
            Some(&strip_docs(ours)),
            Some(&strip_docs(upstream)),
            out,
        );
        return;
    };
    let here = path.to_string();
    // The node's own keys first, then its nested schemas, so that a node's differences are
    // listed before those of its descendants.
    let keys: BTreeSet<&str> = ours
        .keys()
        .chain(upstream.keys())
        .map(String::as_str)
        .collect();
    for key in keys {
        let (ours_value, upstream_value) = (ours.get(key), upstream.get(key));
        match key {
            key if DOC_KEYS.contains(&key) || NESTED_KEYS.contains(&key) => {}
            "required" => compare_sets(&here, key, ours_value, upstream_value, true, out),
            "enum" => compare_sets(&here, key, ours_value, upstream_value, false, out),
            "x-kubernetes-validations" => {
                compare_validations(&here, ours_value, upstream_value, out);
            }
            key if FALSE_BY_DEFAULT.contains(&key) => {
                let or_false = |value: Option<&Value>| value.cloned().unwrap_or(Value::Bool(false));
                if !json_eq(Some(&or_false(ours_value)), Some(&or_false(upstream_value))) {
                    out.push(Difference::new(
                        &here,
                        key,
                        ours_value.cloned(),
                        upstream_value.cloned(),
                    ));
                }
            }
            "patternProperties" | "definitions" | "dependencies" | "additionalItems" => {
                compare_stripped(&here, key, ours_value, upstream_value, out);
            }
            key => compare_value(&here, key, ours_value, upstream_value, out),
        }
    }
    for key in NESTED_KEYS {
        let (ours_value, upstream_value) = (ours.get(key), upstream.get(key));
        if ours_value.is_none() && upstream_value.is_none() {
            continue;
        }
        match key {
            "properties" => compare_properties(path, ours_value, upstream_value, out),
            "items" => compare_items(path, ours_value, upstream_value, out),
            "additionalProperties" => {
                compare_additional_properties(path, ours_value, upstream_value, out);
            }
            "not" => compare_subschema(&path.dotted(key), ours_value, upstream_value, out),
            combinator => compare_combinator(path, combinator, ours_value, upstream_value, out),
        }
    }
}

/// Compares the values of schema key `key` with nested documentation stripped.
fn compare_stripped(
    path: &str,
    key: &str,
    ours: Option<&Value>,
    upstream: Option<&Value>,
    out: &mut Vec<Difference>,
) {
    compare_value(
        path,
        key,
        ours.map(|value| strip_value(key, value)).as_ref(),
        upstream.map(|value| strip_value(key, value)).as_ref(),
        out,
    );
}

/// Compares two JSON lists as sets, reporting both as sorted lists.
fn compare_sets(
    path: &str,
    key: &str,
    ours: Option<&Value>,
    upstream: Option<&Value>,
    absent_is_empty: bool,
    out: &mut Vec<Difference>,
) {
    let compared =
        |value: Option<&Value>| (value.is_some() || absent_is_empty).then(|| as_set(value));
    if compared(ours) != compared(upstream) {
        let shown = |value: Option<&Value>| {
            value.map(|value| Value::Array(as_set(Some(value)).into_values().collect()))
        };
        out.push(Difference::new(path, key, shown(ours), shown(upstream)));
    }
}

/// Compares an optional nested schema; presence on one side only is reported at `path`.
fn compare_subschema(
    path: &NodePath,
    ours: Option<&Value>,
    upstream: Option<&Value>,
    out: &mut Vec<Difference>,
) {
    match (ours, upstream) {
        (Some(ours), Some(upstream)) => compare_schema(path, ours, upstream, out),
        (ours, upstream) => report_presence(
            &path.to_string(),
            ours.map(strip_docs),
            upstream.map(strip_docs),
            out,
        ),
    }
}

fn compare_properties(
    path: &NodePath,
    ours: Option<&Value>,
    upstream: Option<&Value>,
    out: &mut Vec<Difference>,
) {
    let empty = Map::new();
    let (Some(ours_map), Some(upstream_map)) = (
        object_or_empty(ours, &empty),
        object_or_empty(upstream, &empty),
    ) else {
        compare_stripped(&path.to_string(), "properties", ours, upstream, out);
        return;
    };
    let names: BTreeSet<&String> = ours_map.keys().chain(upstream_map.keys()).collect();
    for name in names {
        compare_subschema(
            &path.property(name),
            ours_map.get(name),
            upstream_map.get(name),
            out,
        );
    }
}

fn compare_items(
    path: &NodePath,
    ours: Option<&Value>,
    upstream: Option<&Value>,
    out: &mut Vec<Difference>,
) {
    match (ours, upstream) {
        (Some(Value::Array(ours_list)), Some(Value::Array(upstream_list))) => {
            for index in 0..ours_list.len().max(upstream_list.len()) {
                compare_subschema(
                    &path.suffixed(&format!("[{index}]")),
                    ours_list.get(index),
                    upstream_list.get(index),
                    out,
                );
            }
        }
        (Some(Value::Array(_)), Some(_)) | (Some(_), Some(Value::Array(_))) => {
            compare_stripped(&path.to_string(), "items", ours, upstream, out);
        }
        (ours, upstream) => compare_subschema(&path.suffixed("[]"), ours, upstream, out),
    }
}

fn compare_additional_properties(
    path: &NodePath,
    ours: Option<&Value>,
    upstream: Option<&Value>,
    out: &mut Vec<Difference>,
) {
    match (ours, upstream) {
        (Some(ours @ Value::Object(_)), Some(upstream @ Value::Object(_))) => {
            compare_schema(&path.suffixed("{}"), ours, upstream, out);
        }
        (Some(Value::Object(_)), None) | (None, Some(Value::Object(_))) => {
            compare_subschema(&path.suffixed("{}"), ours, upstream, out);
        }
        (ours, upstream) => {
            compare_stripped(
                &path.to_string(),
                "additionalProperties",
                ours,
                upstream,
                out,
            );
        }
    }
}

fn compare_combinator(
    path: &NodePath,
    key: &str,
    ours: Option<&Value>,
    upstream: Option<&Value>,
    out: &mut Vec<Difference>,
) {
    let (Some(ours_list), Some(upstream_list)) = (list_or_empty(ours), list_or_empty(upstream))
    else {
        compare_stripped(&path.to_string(), key, ours, upstream, out);
        return;
    };
    for index in 0..ours_list.len().max(upstream_list.len()) {
        compare_subschema(
            &path.dotted(&format!("{key}[{index}]")),
            ours_list.get(index),
            upstream_list.get(index),
            out,
        );
    }
}

/// The object `value`, or `empty` when absent; `None` when present but not an object.
fn object_or_empty<'a>(
    value: Option<&'a Value>,
    empty: &'a Map<String, Value>,
) -> Option<&'a Map<String, Value>> {
    value.map_or(Some(empty), Value::as_object)
}

/// The elements of the list `value`, none when absent; `None` when present but not a list.
fn list_or_empty(value: Option<&Value>) -> Option<&[Value]> {
    value.map_or(Some(&[]), |value| value.as_array().map(Vec::as_slice))
}

/// Compares `x-kubernetes-validations` as sets; reports the rules each side lacks.
fn compare_validations(
    path: &str,
    ours: Option<&Value>,
    upstream: Option<&Value>,
    out: &mut Vec<Difference>,
) {
    let (ours_rules, upstream_rules) = (validation_set(ours), validation_set(upstream));
    if ours_rules == upstream_rules {
        return;
    }
    let only_in = |side: &BTreeMap<String, Value>, other: &BTreeMap<String, Value>| {
        side.iter()
            .filter(|(canonical, _)| !other.contains_key(*canonical))
            .map(|(_, rule)| rule.clone())
            .collect::<Vec<_>>()
    };
    let shown = |present: bool, rules: Vec<Value>| present.then_some(Value::Array(rules));
    out.push(Difference::new(
        path,
        "x-kubernetes-validations",
        shown(ours.is_some(), only_in(&ours_rules, &upstream_rules)),
        shown(upstream.is_some(), only_in(&upstream_rules, &ours_rules)),
    ));
}

/// Validation rules in canonical form, keyed by their canonical JSON text.
fn validation_set(value: Option<&Value>) -> BTreeMap<String, Value> {
    let Some(value) = value else {
        return BTreeMap::new();
    };
    let Some(list) = value.as_array() else {
        // Not a list: keep it as a single opaque entry so that it is compared as a whole.
        return BTreeMap::from([(value.to_string(), value.clone())]);
    };
    list.iter()
        .map(|rule| {
            let mut canonical = Map::new();
            if let Some(fields) = rule.as_object() {
                for (key, field) in fields {
                    let field = match (key.as_str(), field) {
                        ("rule" | "messageExpression", Value::String(text)) => {
                            Value::String(collapse_whitespace(text))
                        }
                        _ => normalized(field),
                    };
                    canonical.insert(key.clone(), field);
                }
            } else {
                canonical.insert("rule".to_owned(), normalized(rule));
            }
            if canonical.get("optionalOldSelf") == Some(&Value::Bool(false)) {
                canonical.remove("optionalOldSelf");
            }
            let sorted: BTreeMap<&String, &Value> = canonical.iter().collect();
            let key = serde_json::to_string(&sorted).unwrap_or_else(|_| rule.to_string());
            (key, Value::Object(canonical))
        })
        .collect()
}

/// Collapses every run of whitespace to one space and trims both ends.
fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The elements of a JSON array as a set, keyed by their canonical JSON text (a non-array
/// value becomes a one-element set, so that it still compares unequal to any real list).
fn as_set(value: Option<&Value>) -> BTreeMap<String, Value> {
    let elements = match value {
        None => &[][..],
        Some(Value::Array(list)) => list.as_slice(),
        Some(other) => std::slice::from_ref(other),
    };
    elements
        .iter()
        .map(|element| {
            let element = normalized(element);
            (element.to_string(), element)
        })
        .collect()
}

/// JSON equality with numbers compared by value (absent equals only absent).
fn json_eq(ours: Option<&Value>, upstream: Option<&Value>) -> bool {
    ours.map(normalized) == upstream.map(normalized)
}

/// A copy with every integral floating-point number that fits an `i64` turned into an
/// integer, so that `1.0` and `1` compare equal.
fn normalized(value: &Value) -> Value {
    match value {
        Value::Number(number) if number.is_f64() => number
            .as_f64()
            .filter(|float| float.fract() == 0.0 && float.abs() < 9.0e15)
            .map_or_else(
                || value.clone(),
                // The guard above keeps the value integral and well inside i64's range.
                |float| Value::from(float as i64),
            ),
        Value::Array(list) => Value::Array(list.iter().map(normalized).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, value)| (key.clone(), normalized(value)))
                .collect(),
        ),
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::String(_) => value.clone(),
    }
}

/// A schema node without documentation keys, recursively through nested schemas (but never
/// inside `default`, `enum` or other literal values), numbers normalized.
fn strip_docs(schema: &Value) -> Value {
    let Some(map) = schema.as_object() else {
        return normalized(schema);
    };
    let stripped = map
        .iter()
        .filter(|(key, _)| !DOC_KEYS.contains(&key.as_str()))
        .map(|(key, value)| (key.clone(), strip_value(key, value)))
        .collect();
    Value::Object(stripped)
}

/// The value of schema key `key` with the documentation of nested schemas stripped.
fn strip_value(key: &str, value: &Value) -> Value {
    let strip_map = |value: &Value| match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(name, schema)| (name.clone(), strip_docs(schema)))
                .collect(),
        ),
        other => normalized(other),
    };
    let strip_list = |value: &Value| match value {
        Value::Array(list) => Value::Array(list.iter().map(strip_docs).collect()),
        other => strip_docs(other),
    };
    match key {
        // Maps from names to schemas (`dependencies` values may also be lists of names,
        // which `strip_docs` passes through).
        "properties" | "patternProperties" | "definitions" | "dependencies" => strip_map(value),
        // A schema or a list of schemas; booleans pass through `strip_docs` unchanged.
        "items"
        | "additionalProperties"
        | "additionalItems"
        | "not"
        | "allOf"
        | "anyOf"
        | "oneOf" => strip_list(value),
        _ => normalized(value),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::{Difference, diff_crd, path_is_within};

    /// A minimal single-version CRD around `schema`.
    fn crd(schema: Value) -> Value {
        json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": { "name": "widgets.example.com" },
            "spec": {
                "group": "example.com",
                "names": { "kind": "Widget", "listKind": "WidgetList", "plural": "widgets", "singular": "widget" },
                "scope": "Namespaced",
                "versions": [{
                    "name": "v1",
                    "served": true,
                    "storage": true,
                    "subresources": { "status": {} },
                    "additionalPrinterColumns": [
                        { "name": "Status", "type": "string", "jsonPath": ".status.state" },
                        { "name": "Age", "type": "date", "format": "date-time", "jsonPath": ".metadata.creationTimestamp" }
                    ],
                    "schema": { "openAPIV3Schema": schema }
                }]
            }
        })
    }

    fn object(properties: Value) -> Value {
        json!({ "type": "object", "properties": { "spec": { "type": "object", "properties": properties } } })
    }

    fn keys(differences: &[Difference]) -> Vec<(&str, &str)> {
        differences
            .iter()
            .map(|d| (d.path.as_str(), d.key.as_str()))
            .collect()
    }

    #[test]
    fn identical_documents_have_no_differences() {
        let doc = crd(object(
            json!({ "size": { "type": "integer", "minimum": 1 } }),
        ));
        assert_eq!(diff_crd(&doc, &doc), vec![]);
    }

    #[test]
    fn missing_and_extra_properties_are_reported_with_their_paths() {
        let ours = crd(object(json!({
            "tolerations": { "type": "array", "items": { "type": "object", "properties": { "key": { "type": "string" }, "extra": { "type": "string" } } } },
            "limits": { "type": "object", "additionalProperties": { "type": "object", "properties": {} } }
        })));
        let upstream = crd(object(json!({
            "tolerations": { "type": "array", "items": { "type": "object", "properties": { "key": { "type": "string" }, "value": { "type": "string", "description": "x" } } } },
            "limits": { "type": "object", "additionalProperties": { "type": "object", "properties": { "cpu": { "type": "string" } } } },
            "storage": { "type": "object" }
        })));
        let differences = diff_crd(&ours, &upstream);
        assert_eq!(
            keys(&differences),
            vec![
                ("spec.limits{}.cpu", "missing-in-ours"),
                ("spec.storage", "missing-in-ours"),
                ("spec.tolerations[].extra", "extra-in-ours"),
                ("spec.tolerations[].value", "missing-in-ours"),
            ]
        );
        // The reported node has its documentation stripped.
        assert_eq!(differences[3].upstream, Some(json!({ "type": "string" })));
        assert_eq!(differences[3].ours, None);
    }

    #[test]
    fn different_default_is_reported_and_numbers_compare_by_value() {
        let ours = crd(object(json!({
            "port": { "type": "integer", "default": 8000, "minimum": 1.0 },
            "mode": { "type": "string", "default": "a" }
        })));
        let upstream = crd(object(json!({
            "port": { "type": "integer", "default": 8000, "minimum": 1 },
            "mode": { "type": "string", "default": "b" }
        })));
        let differences = diff_crd(&ours, &upstream);
        assert_eq!(
            differences,
            vec![Difference {
                path: "spec.mode".to_owned(),
                key: "default".to_owned(),
                ours: Some(json!("a")),
                upstream: Some(json!("b")),
            }]
        );
        assert_eq!(
            differences[0].to_string(),
            r#"spec.mode [default]: ours = "a", upstream = "b""#
        );
    }

    #[test]
    fn cel_rules_differing_only_in_whitespace_are_equal() {
        let ours = crd(json!({ "type": "object", "x-kubernetes-validations": [
            { "rule": "(has(self.a) ? 1 : 0) + (has(self.b) ? 1 : 0) == 1", "message": "one of a, b" },
            { "rule": "self == oldSelf", "message": "immutable" }
        ]}));
        let upstream = crd(json!({ "type": "object", "x-kubernetes-validations": [
            { "message": "immutable", "rule": "self  ==\n oldSelf" },
            { "message": "one of a, b", "rule": "(has(self.a) ? 1 : 0) + (has(self.b)\n  ? 1 : 0) == 1" }
        ]}));
        assert_eq!(diff_crd(&ours, &upstream), vec![]);
    }

    #[test]
    fn cel_rules_with_a_different_message_are_reported() {
        let ours = crd(json!({ "type": "object", "x-kubernetes-validations": [
            { "rule": "self == oldSelf", "message": "spec is immutable" }
        ]}));
        let upstream = crd(json!({ "type": "object", "x-kubernetes-validations": [
            { "rule": "self == oldSelf", "message": "immutable" }
        ]}));
        let differences = diff_crd(&ours, &upstream);
        assert_eq!(
            keys(&differences),
            vec![("(root)", "x-kubernetes-validations")]
        );
        assert_eq!(
            differences[0].upstream,
            Some(json!([{ "rule": "self == oldSelf", "message": "immutable" }]))
        );
    }

    #[test]
    fn required_and_enum_are_compared_as_sets() {
        let ours = crd(
            json!({ "type": "object", "required": ["b", "a"], "properties": {
                "a": { "type": "string", "enum": ["x", "y"] },
                "b": { "type": "string", "required": [] }
            }}),
        );
        let upstream = crd(
            json!({ "type": "object", "required": ["a", "b"], "properties": {
                "a": { "type": "string", "enum": ["y", "x"] },
                "b": { "type": "string" }
            }}),
        );
        assert_eq!(diff_crd(&ours, &upstream), vec![]);

        let upstream = crd(json!({ "type": "object", "required": ["a"], "properties": {
            "a": { "type": "string", "enum": ["y", "x", "z"] },
            "b": { "type": "string" }
        }}));
        let differences = diff_crd(&ours, &upstream);
        assert_eq!(
            keys(&differences),
            vec![("(root)", "required"), ("a", "enum")]
        );
        assert_eq!(differences[0].ours, Some(json!(["a", "b"])));
        assert_eq!(differences[0].upstream, Some(json!(["a"])));
    }

    #[test]
    fn documentation_is_ignored_but_a_property_named_description_is_not() {
        let ours = crd(object(json!({
            "description": { "type": "string", "description": "ours" }
        })));
        let upstream = crd(object(json!({
            "description": { "type": "integer", "description": "theirs", "title": "T" }
        })));
        assert_eq!(
            keys(&diff_crd(&ours, &upstream)),
            vec![("spec.description", "type")]
        );
    }

    #[test]
    fn absent_boolean_flags_equal_false_and_unknown_extension_keys_are_compared() {
        let ours = crd(object(json!({
            "a": { "type": "string", "nullable": false, "x-kubernetes-int-or-string": false },
            "b": { "type": "object", "x-kubernetes-preserve-unknown-fields": true },
            "c": { "type": "object", "x-kubernetes-future-thing": "x" }
        })));
        let upstream = crd(object(json!({
            "a": { "type": "string" },
            "b": { "type": "object" },
            "c": { "type": "object" }
        })));
        assert_eq!(
            keys(&diff_crd(&ours, &upstream)),
            vec![
                ("spec.b", "x-kubernetes-preserve-unknown-fields"),
                ("spec.c", "x-kubernetes-future-thing"),
            ]
        );
    }

    #[test]
    fn combinators_are_walked_by_index_and_additional_properties_booleans_compared() {
        let ours = crd(object(json!({
            "q": { "anyOf": [{ "type": "integer" }, { "type": "string" }], "x-kubernetes-int-or-string": true },
            "m": { "type": "object", "additionalProperties": true }
        })));
        let upstream = crd(object(json!({
            "q": { "anyOf": [{ "type": "integer" }, { "type": "string", "pattern": "^[0-9]+$" }, { "type": "null" }], "x-kubernetes-int-or-string": true },
            "m": { "type": "object", "additionalProperties": false }
        })));
        assert_eq!(
            keys(&diff_crd(&ours, &upstream)),
            vec![
                ("spec.m", "additionalProperties"),
                ("spec.q.anyOf[1]", "pattern"),
                ("spec.q.anyOf[2]", "missing-in-ours"),
            ]
        );
    }

    #[test]
    fn property_names_that_are_not_identifiers_are_quoted() {
        let ours = crd(object(json!({ "nvidia.com/gpu": { "type": "string" } })));
        let upstream = crd(object(json!({})));
        assert_eq!(
            keys(&diff_crd(&ours, &upstream)),
            vec![(r#"spec."nvidia.com/gpu""#, "extra-in-ours")]
        );
    }

    #[test]
    fn names_versions_subresources_and_printer_columns_are_compared() {
        let schema = json!({ "type": "object" });
        let ours = crd(schema.clone());
        let mut upstream = crd(schema);
        let spec = &mut upstream["spec"];
        spec["names"]["shortNames"] = json!(["wd"]);
        spec["names"]
            .as_object_mut()
            .map(|names| names.remove("listKind"));
        let version = &mut spec["versions"][0];
        version["served"] = json!(false);
        version["subresources"] = json!({ "status": {}, "scale": { "specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas" } });
        version["additionalPrinterColumns"] = json!([
            { "name": "Age", "type": "date", "format": "date-time", "jsonPath": ".metadata.creationTimestamp", "priority": 0 },
            { "name": "Status", "type": "integer", "jsonPath": ".status.state", "description": "ignored" },
            { "name": "Ready", "type": "string", "jsonPath": ".status.ready" }
        ]);
        assert_eq!(
            keys(&diff_crd(&ours, &upstream)),
            vec![
                ("@names", "shortNames"),
                ("@versions[v1]", "served"),
                ("@subresources", "scale"),
                ("@printerColumns[Ready]", "missing-in-ours"),
                ("@printerColumns[Status]", "type"),
                ("@printerColumns", "order"),
            ]
        );
    }

    #[test]
    fn multi_version_documents_prefix_paths_with_the_version() {
        let mut ours = crd(object(json!({ "a": { "type": "string" } })));
        let mut second = ours["spec"]["versions"][0].clone();
        second["name"] = json!("v2");
        second["storage"] = json!(false);
        if let Some(versions) = ours["spec"]["versions"].as_array_mut() {
            versions.push(second.clone());
        }
        let mut upstream = ours.clone();
        upstream["spec"]["versions"][1]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
            ["a"]["type"] = json!("integer");
        upstream["spec"]["versions"][1]["additionalPrinterColumns"][0]["type"] = json!("integer");
        assert_eq!(
            keys(&diff_crd(&ours, &upstream)),
            vec![
                ("@versions[v2].printerColumns[Status]", "type"),
                ("v2:spec.a", "type"),
            ]
        );
    }

    #[test]
    fn subtree_containment() {
        assert!(path_is_within("spec.storage", "spec.storage"));
        assert!(path_is_within("spec.storage.pvc", "spec.storage"));
        assert!(path_is_within("spec.storage[]", "spec.storage"));
        assert!(path_is_within("spec.storage{}.x", "spec.storage"));
        assert!(!path_is_within("spec.storageClass", "spec.storage"));
        assert!(path_is_within("spec", "(root)"));
        assert!(path_is_within("(root)", "(root)"));
        assert!(!path_is_within("@names", "(root)"));
        assert!(path_is_within("@printerColumns[Age]", "@printerColumns"));
        assert!(path_is_within("v2:spec.a", "v2:(root)"));
        assert!(!path_is_within("v1:spec.a", "v2:(root)"));
    }

    #[test]
    fn long_values_are_truncated_in_display() {
        let difference = Difference {
            path: "spec".to_owned(),
            key: "default".to_owned(),
            ours: Some(json!("x".repeat(500))),
            upstream: None,
        };
        let shown = difference.to_string();
        assert!(shown.ends_with("…, upstream = absent"), "{shown}");
        assert!(!shown.contains(&"x".repeat(161)), "{shown}");
        assert!(shown.contains(&"x".repeat(159)), "{shown}");
    }
}
