//! The defaults the API server fills in, computed on the client.
//!
//! When an object is created, updated or read, the API server applies the `default`s of the
//! CRD's structural schema (`k8s.io/apiextensions-apiserver`,
//! `pkg/apiserver/schema/defaulting/algorithm.go`):
//!
//! * for each declared property with a `default`, a missing value, or a `null` where the
//!   schema is not `nullable`, becomes a copy of the default;
//! * then it descends into every value, including the defaults it just inserted: declared
//!   properties by their own schema, other keys by `additionalProperties`, list items by
//!   `items`.
//!
//! Before that, `null`s in non-nullable fields without a default are dropped
//! (`PruneNonNullableNullsWithoutDefaults`). [`with_server_defaults`] does the same with the
//! schemas of [`crds()`](crate::crds), so a manifest can be compared with what `kubectl get`
//! will show; the e2e suite (`nim-envtest`) checks it against a real API server.
//!
//! ```
//! use nim_crds::{InferencePlatform, NIMService, defaulting::with_server_defaults};
//!
//! let service: NIMService = serde_json::from_value(serde_json::json!({
//!     "apiVersion": "apps.nvidia.com/v1alpha1",
//!     "kind": "NIMService",
//!     "metadata": {"name": "llama"},
//!     "spec": {
//!         "image": {"repository": "nvcr.io/nim/meta/llama-3.1-8b-instruct", "tag": "1.8.4"},
//!         "expose": {"service": {}},
//!     }
//! }))?;
//! let stored = with_server_defaults(&service)?;
//! assert_eq!(stored.spec.inference_platform, Some(InferencePlatform::Standalone));
//! assert_eq!(stored.spec.expose.and_then(|e| e.service).and_then(|s| s.port), Some(8000));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{Error, Result};

/// `object` as the API server stores it: with the schema defaults of its kind filled in.
///
/// # Errors
/// [`Error::Serialize`] if the object does not serialize, or the defaulted JSON does not
/// read back into `K`.
pub fn with_server_defaults<K>(object: &K) -> Result<K>
where
    K: kube::Resource<DynamicType = ()> + Serialize + DeserializeOwned,
{
    let mut value = serde_json::to_value(object).map_err(|e| Error::Serialize(e.to_string()))?;
    apply_defaults(&K::kind(&()), &mut value);
    serde_json::from_value(value).map_err(|e| Error::Serialize(e.to_string()))
}

/// Fills in the schema defaults of `kind` (`NIMCache`, `NIMService`, `NIMPipeline`,
/// `NIMBuild`) in `value`, a whole object as JSON. Returns `false`, changing nothing, for any
/// other kind.
pub fn apply_defaults(kind: &str, value: &mut Value) -> bool {
    match crate::validate::schema_of(kind) {
        Some(schema) => {
            apply_schema_defaults(schema, value);
            true
        }
        None => false,
    }
}

/// Applies the defaults of a structural `schema` (an `openAPIV3Schema`) to `value`, as the
/// API server does; see the module docs.
pub fn apply_schema_defaults(schema: &Value, value: &mut Value) {
    prune_nulls(schema, value);
    default(schema, value);
}

fn nullable(schema: &Value) -> bool {
    schema.get("nullable").and_then(Value::as_bool) == Some(true)
}

/// The schema of the map values, when `additionalProperties` is a schema.
fn additional(schema: &Value) -> Option<&Value> {
    schema.get("additionalProperties").filter(|s| s.is_object())
}

fn default(schema: &Value, value: &mut Value) {
    match value {
        Value::Object(map) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            if let Some(properties) = properties {
                for (key, property) in properties {
                    let Some(default) = property.get("default") else {
                        continue;
                    };
                    let missing = match map.get(key) {
                        None => true,
                        Some(Value::Null) => !nullable(property),
                        Some(_) => false,
                    };
                    if missing {
                        map.insert(key.clone(), default.clone());
                    }
                }
            }
            for (key, child) in map.iter_mut() {
                match properties.and_then(|p| p.get(key)) {
                    Some(property) => default(property, child),
                    None => {
                        if let Some(values) = additional(schema) {
                            default(values, child);
                        }
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(item) = schema.get("items") {
                for child in items {
                    default(item, child);
                }
            }
        }
        _ => {}
    }
}

/// Drops `null`s the schema does not allow and has no default for.
fn prune_nulls(schema: &Value, value: &mut Value) {
    match value {
        Value::Object(map) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            map.retain(|key, child| {
                let property = properties
                    .and_then(|p| p.get(key))
                    .or_else(|| additional(schema));
                match property {
                    Some(property) if child.is_null() => {
                        nullable(property) || property.get("default").is_some()
                    }
                    _ => true,
                }
            });
            for (key, child) in map.iter_mut() {
                if let Some(property) = properties
                    .and_then(|p| p.get(key))
                    .or_else(|| additional(schema))
                {
                    prune_nulls(property, child);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item) = schema.get("items") {
                for child in items {
                    prune_nulls(item, child);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "a": {"type": "string", "default": "x"},
                "b": {
                    "type": "object",
                    "default": {},
                    "properties": {"c": {"type": "integer", "default": 1}}
                },
                "n": {"type": "string", "nullable": true, "default": "d"},
                "plain": {"type": "string"},
                "list": {"type": "array", "items": {
                    "type": "object", "properties": {"p": {"type": "string", "default": "TCP"}}
                }},
                "map": {"type": "object", "additionalProperties": {
                    "type": "object", "properties": {"q": {"type": "boolean", "default": false}}
                }}
            }
        })
    }

    #[test]
    fn fills_missing_fields_and_descends_into_inserted_defaults() {
        let mut value = json!({});
        apply_schema_defaults(&schema(), &mut value);
        // `b` is inserted as `{}` and then defaulted itself, as the API server does.
        assert_eq!(value, json!({"a": "x", "b": {"c": 1}, "n": "d"}));
    }

    #[test]
    fn keeps_set_values_and_defaults_lists_and_maps() {
        let mut value = json!({"a": "set", "list": [{}, {"p": "UDP"}], "map": {"k": {}}});
        apply_schema_defaults(&schema(), &mut value);
        assert_eq!(value["a"], "set");
        assert_eq!(value["list"], json!([{"p": "TCP"}, {"p": "UDP"}]));
        assert_eq!(value["map"], json!({"k": {"q": false}}));
    }

    #[test]
    fn nulls_are_defaulted_pruned_or_kept_by_nullability() {
        let mut value = json!({"a": null, "n": null, "plain": null});
        apply_schema_defaults(&schema(), &mut value);
        assert_eq!(
            value["a"], "x",
            "non-nullable null with a default is defaulted"
        );
        assert_eq!(value["n"], Value::Null, "nullable null stays");
        assert!(
            value.get("plain").is_none(),
            "non-nullable null without default is dropped"
        );
    }

    #[test]
    fn unknown_kinds_change_nothing() {
        let mut value = json!({"spec": {}});
        assert!(!apply_defaults("Pod", &mut value));
        assert_eq!(value, json!({"spec": {}}));
    }
}
