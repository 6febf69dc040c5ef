//! The README's `nim-crds` example, kept compiling and true.

use nim_crds::{Image, NIMCache, NIMService, PersistentVolumeClaim, Validate};

#[test]
fn readme_example() -> Result<(), Box<dyn std::error::Error>> {
    let cache = NIMCache::from_ngc(
        "llama",
        "nvcr.io/nim/meta/llama-3.1-8b-instruct:1.8.4",
        "ngc-api-secret",
    )
    .in_namespace("nim")
    .profiles(["tensorrt_llm-h100-fp8-tp1-pp1-latency"])
    .pvc(PersistentVolumeClaim::create("shared-fs", "50Gi").access_mode("ReadWriteMany"));
    let service = NIMService::new_nim(
        "llama",
        Image::new("nvcr.io/nim/meta/llama-3.1-8b-instruct", "1.8.4"),
    )
    .in_namespace("nim")
    .auth_secret("ngc-api-secret")
    .nim_cache("llama", "tensorrt_llm-h100-fp8-tp1-pp1-latency")
    .gpus(1)
    .autoscale(1, 4, []);
    assert_eq!(cache.validate(), Vec::new());
    assert_eq!(service.validate(), Vec::new());
    let yaml = nim_crds::crd::to_yaml(&[serde_json::to_value(&service)?])?;
    assert!(yaml.contains("maxReplicas: 4"), "{yaml}");

    // The pair lints clean as one set: the profile is in the cache, the PVC is RWX.
    let text = nim_crds::crd::to_yaml(&[
        serde_json::to_value(&cache)?,
        serde_json::to_value(&service)?,
    ])?;
    let report = nim_crds::lint::lint_str("readme.yaml", &text);
    assert_eq!(report.error_count(), 0, "{report}");
    assert_eq!(report.warning_count(), 0, "{report}");
    Ok(())
}
