//! The README's `nim-sizing` example, kept compiling and true.

use nim_sizing::{ModelCatalog, Sizing, gpu, precision::KvDtype};

#[test]
fn readme_example() -> Result<(), nim_sizing::Error> {
    let model = &ModelCatalog::builtin()
        .lookup("meta/llama-3.1-70b-instruct")?
        .arch;
    let h100 = gpu::builtin().lookup("NVIDIA H100 80GB HBM3")?; // as nvidia-smi prints it
    let plan = Sizing::new(model.clone(), h100.clone())
        .tp(4)
        .kv_dtype(KvDtype::Fp8)
        .max_model_len(32_768)
        .plan()?;
    println!(
        "{} of weights and {} of KV cache per GPU: {:.0} requests of 32k tokens",
        plan.weights_bytes_per_gpu, plan.kv_cache_bytes_per_gpu, plan.max_concurrency
    );
    assert!(plan.fits);
    // fp8 KV: 40 KiB per token per GPU (80 layers x 2 KV heads x 128 x 1 byte x 2).
    assert_eq!(plan.kv_bytes_per_token_per_gpu.get(), 40_960);
    assert!(plan.max_concurrency > 20.0);
    Ok(())
}
