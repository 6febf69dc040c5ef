//! nim-engine: KV-cache manager operations and CPU paged decode attention.
//!
//! ```sh
//! cargo bench --bench engine
//! ```
//!
//! Decode throughput is reported as bytes of KV cache read per second (every K and V element
//! of every context token, once per KV head group). A plain memory copy of 1 GiB in the same
//! run shows what the machine's memory system delivers, and the naive f64 reference shows what
//! the optimized kernel gains.

// criterion_group! and criterion_main! generate undocumented functions.
#![allow(missing_docs)]

use std::hint::black_box;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use nim_engine::reference::decode_reference;
use nim_engine::{AttentionParams, BlockManager, CacheConfig, DType, KvLayout, Tensor};

/// A Llama-3-8B attention layer: 32 query heads over 8 KV heads of 128.
const HEADS: usize = 32;
const KV_HEADS: usize = 8;
const HEAD_DIM: usize = 128;
const BLOCK: usize = 16;

fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut state = seed;
    (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

struct Decode {
    q: Tensor,
    k: Tensor,
    v: Tensor,
    tables: Vec<i32>,
    lens: Vec<i32>,
    max_blocks: usize,
    params: AttentionParams,
    kv_bytes: u64,
}

fn decode_case(batch: usize, context: usize, dtype: DType) -> Decode {
    let max_blocks = context.div_ceil(BLOCK);
    let layout = KvLayout {
        num_blocks: batch * max_blocks,
        block_size: BLOCK,
        num_kv_heads: KV_HEADS,
        head_dim: HEAD_DIM,
    };
    let elements = layout.num_slots() * layout.token_elements();
    let cache = |seed| {
        Tensor::from_f32_as(layout.shape().to_vec(), &values(elements, seed), dtype).expect("cache")
    };
    Decode {
        q: Tensor::from_f32_as(
            vec![batch, HEADS, HEAD_DIM],
            &values(batch * HEADS * HEAD_DIM, 1),
            dtype,
        )
        .expect("q"),
        k: cache(2),
        v: cache(3),
        tables: (0..(batch * max_blocks) as i32).collect(),
        lens: vec![context as i32; batch],
        max_blocks,
        params: AttentionParams::for_head_dim(HEAD_DIM),
        kv_bytes: (batch * context * 2 * KV_HEADS * HEAD_DIM * dtype.size()) as u64,
    }
}

fn decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    group.sample_size(10);
    for dtype in [DType::F32, DType::F16, DType::Bf16] {
        for (batch, context) in [(1, 512), (1, 8192), (8, 2048), (64, 512), (64, 8192)] {
            let case = decode_case(batch, context, dtype);
            group.throughput(Throughput::Bytes(case.kv_bytes));
            group.bench_with_input(
                BenchmarkId::new(format!("{dtype}"), format!("batch{batch}xctx{context}")),
                &case,
                |b, case| {
                    b.iter(|| {
                        nim_engine::cpu::paged_decode(
                            black_box(&case.q),
                            &case.k,
                            &case.v,
                            &case.tables,
                            case.max_blocks,
                            &case.lens,
                            &case.params,
                        )
                        .expect("decode")
                    });
                },
            );
        }
    }
    // The naive f64 reference on one shape, for comparison.
    let case = decode_case(8, 2048, DType::F32);
    group.throughput(Throughput::Bytes(case.kv_bytes));
    group.bench_function("reference-f64/batch8xctx2048", |b| {
        b.iter(|| {
            decode_reference(
                black_box(&case.q),
                &case.k,
                &case.v,
                &case.tables,
                case.max_blocks,
                &case.lens,
                &case.params,
            )
            .expect("reference")
        });
    });
    group.finish();
}

fn memory_copy(c: &mut Criterion) {
    let mut group = c.benchmark_group("memory");
    group.sample_size(10);
    let size = 1usize << 30;
    let source = vec![1u8; size];
    let mut target = vec![0u8; size];
    // Bytes read; a copy also writes as many.
    group.throughput(Throughput::Bytes(size as u64));
    group.bench_function("copy-1GiB", |b| {
        b.iter(|| target.copy_from_slice(black_box(&source)));
    });
    group.finish();
}

fn manager(c: &mut Criterion) {
    let mut group = c.benchmark_group("kv_manager");
    let prompt: Vec<u32> = (0..512).collect();
    let long: Vec<u32> = (0..2048).collect();
    let config = |prefix| CacheConfig::new(4096).prefix_caching(prefix);

    for prefix in [false, true] {
        let name = if prefix {
            "prefix-caching"
        } else {
            "no-prefix-caching"
        };
        let mut manager = BlockManager::new(config(prefix)).expect("manager");
        group.throughput(Throughput::Elements(1));
        group.bench_function(format!("allocate+free-512-tokens/{name}"), |b| {
            b.iter(|| {
                manager.allocate(1, black_box(&prompt)).expect("allocate");
                manager.free(1).expect("free");
            });
        });
    }

    group.bench_function("append-1-token", |b| {
        b.iter_batched_ref(
            || {
                let mut manager = BlockManager::new(config(true)).expect("manager");
                manager.allocate(1, &prompt).expect("allocate");
                manager
            },
            |manager| manager.append(1, black_box(&[7])).expect("append"),
            BatchSize::SmallInput,
        );
    });

    let mut manager = BlockManager::new(config(true)).expect("manager");
    manager.allocate(1, &prompt).expect("allocate");
    group.bench_function("fork+free", |b| {
        b.iter(|| {
            manager.fork(1, 2).expect("fork");
            manager.free(2).expect("free");
        });
    });

    let mut manager = BlockManager::new(config(true)).expect("manager");
    manager.allocate(1, &long).expect("allocate");
    group.bench_function("prefix-lookup-2048-tokens", |b| {
        b.iter(|| manager.cached_prefix_len(black_box(&long)));
    });
    group.finish();
}

criterion_group!(benches, manager, decode, memory_copy);
criterion_main!(benches);
