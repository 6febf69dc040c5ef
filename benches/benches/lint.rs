//! Throughput of `nim_crds::lint` and `Validate::validate` on realistic manifests.
//!
//! ```sh
//! cargo bench --bench lint
//! ```

// criterion_group! and criterion_main! generate undocumented functions.
#![allow(missing_docs)]

use criterion::{Criterion, criterion_group, criterion_main};
use nim_crds::{NIMService, Validate};
use std::hint::black_box;

const MANIFEST: &str = include_str!("../../examples/manifests/llama-3.1-8b.yaml");
const BLOG_POST: &str = include_str!("../../examples/manifests/blog-post.yaml");

fn lint(c: &mut Criterion) {
    c.bench_function("lint/llama-3.1-8b.yaml (2 documents)", |b| {
        b.iter(|| nim_crds::lint::lint_str("llama-3.1-8b.yaml", black_box(MANIFEST)));
    });
    c.bench_function("lint/blog-post.yaml (2 documents, 11 findings)", |b| {
        b.iter(|| nim_crds::lint::lint_str("blog-post.yaml", black_box(BLOG_POST)));
    });
}

fn validate(c: &mut Criterion) {
    let documents: Vec<serde_json::Value> =
        serde_saphyr::from_multiple(MANIFEST).expect("manifest parses");
    let service: NIMService = documents
        .into_iter()
        .find(|d| d["kind"] == "NIMService")
        .and_then(|d| serde_json::from_value(d).ok())
        .expect("manifest has a NIMService");
    c.bench_function("validate/NIMService", |b| {
        b.iter(|| black_box(&service).validate())
    });
    c.bench_function("crds/generate", |b| b.iter(nim_crds::crds));
}

criterion_group!(benches, lint, validate);
criterion_main!(benches);
