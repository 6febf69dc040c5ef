//! What every case shares: the case table, a per-case context and small helpers.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;

use kube::api::{ApiResource, DynamicObject};
use kube::{Api, Client};
use serde_json::Value;

/// What a case returns; panics (failed assertions) are caught by the harness too.
pub type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// One named end-to-end case.
pub struct Case {
    pub name: &'static str,
    pub run: fn(Ctx) -> Pin<Box<dyn Future<Output = TestResult> + Send>>,
}

/// `case!(module::function)`: a [`Case`] named after the function.
#[macro_export]
macro_rules! case {
    ($path:path) => {
        $crate::support::Case {
            name: stringify!($path),
            run: |ctx| Box::pin($path(ctx)),
        }
    };
}

/// The context of one case: a client and a namespace of its own.
#[derive(Clone)]
pub struct Ctx {
    pub client: Client,
    pub namespace: String,
}

impl Ctx {
    pub fn new(client: Client, case: &str) -> Self {
        // `crds::apply_and_establish` -> `e2e-crds-apply-and-establish` (a DNS label).
        let mut namespace: String = format!("e2e-{case}")
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        while namespace.contains("--") {
            namespace = namespace.replace("--", "-");
        }
        namespace.truncate(63);
        let namespace = namespace.trim_end_matches('-').to_owned();
        Self { client, namespace }
    }

    /// A dynamic API for `kind` (`NIMCache`, ...) in this case's namespace.
    pub fn dynamic(&self, kind: &str) -> Api<DynamicObject> {
        Api::namespaced_with(self.client.clone(), &self.namespace, &resource(kind))
    }

    /// A typed API in this case's namespace.
    pub fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.client.clone(), &self.namespace)
    }
}

/// The API resource of one of the four kinds.
pub fn resource(kind: &str) -> ApiResource {
    match kind {
        "NIMCache" => ApiResource::erase::<nim_crds::NIMCache>(&()),
        "NIMService" => ApiResource::erase::<nim_crds::NIMService>(&()),
        "NIMPipeline" => ApiResource::erase::<nim_crds::NIMPipeline>(&()),
        "NIMBuild" => ApiResource::erase::<nim_crds::NIMBuild>(&()),
        other => panic!("not a NIM kind: {other}"),
    }
}

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Every YAML document of a file, as JSON, with the file's `# expect:` header lines.
pub fn documents(path: &Path) -> (Vec<Value>, Vec<String>) {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let expect = text
        .lines()
        .filter_map(|l| l.strip_prefix("# expect:"))
        .map(|l| l.trim().to_owned())
        .collect();
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text)
        .unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()));
    (docs.into_iter().filter(|d| !d.is_null()).collect(), expect)
}

/// The kind of a document.
pub fn kind_of(doc: &Value) -> &str {
    doc["kind"].as_str().unwrap_or_default()
}

/// The object as this case's namespace would hold it: namespace set, server fields cleared.
pub fn in_namespace(doc: &Value, namespace: &str) -> DynamicObject {
    let mut doc = doc.clone();
    if let Some(metadata) = doc["metadata"].as_object_mut() {
        for field in [
            "resourceVersion",
            "uid",
            "creationTimestamp",
            "generation",
            "managedFields",
        ] {
            metadata.remove(field);
        }
    }
    doc["metadata"]["namespace"] = Value::String(namespace.to_owned());
    serde_json::from_value(doc).expect("a document with apiVersion, kind and metadata")
}

/// The message of an API error (the `Status` the server sent), or the error itself.
pub fn rejection(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) => format!("{} ({})", status.message, status.code),
        other => other.to_string(),
    }
}
