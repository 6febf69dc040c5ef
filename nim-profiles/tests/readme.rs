//! The README's `nim-profiles` example, kept compiling and true.

use nim_profiles::selection::{SelectionOptions, render_list, select};
use nim_profiles::{Inventory, Manifest};

#[test]
fn readme_example() -> Result<(), nim_profiles::Error> {
    let manifest = Manifest::parse(
        "model_manifest.yaml",
        r#"
schema_version: "2.0.0"
profiles:
  - id: 7cc7bd8bd7ad3c5e1a5f6d8b1f1f3c3a2d5e2b9f6a7c0d8e4b1a2c3d4e5f6a7b
    tags: {llm_engine: tensorrt_llm, precision: fp8, tp: "2", pp: "1", profile: latency, gpu: H100, gpu_device: "2330:10de"}
  - id: 1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2c
    tags: {llm_engine: vllm, precision: bf16, tp: "1", pp: "1"}
"#,
    )?;
    let gpus: Inventory = "1xH100-SXM-80GB".parse()?;
    let selection = select(&manifest.profiles, &gpus, &SelectionOptions::default());
    print!("{}", render_list(&selection, &gpus));
    // The TP 2 engine needs two H100s; the generic vLLM profile runs.
    assert_eq!(
        selection.selected().and_then(|d| d.profile.name.as_deref()),
        Some("vllm-bf16-tp1-pp1")
    );
    Ok(())
}
