//! The CPU attention backend against the naive f64 reference ([`nim_engine::reference`]).
//!
//! Tolerances (ENGINE.md §5.3, [`Tolerance::for_output`]): an output element passes when
//! `|got - want| <= atol + rtol * |want|` and the whole output when its max-norm relative error
//! `max |got - want| / max |want|` is at most `max_rel`:
//!
//! | output dtype | atol | rtol | max_rel |
//! |---|---|---|---|
//! | f32 | 1e-5 | 1e-5 | 1e-5 |
//! | f16 | 1e-3 | 1e-3 | 1e-3 |
//! | bf16 | 1e-2 | 1e-2 | 1e-2 |
//!
//! The reference reads the same rounded inputs (half-precision and FP8 caches included), so only
//! the kernel's f32 arithmetic and the output's rounding count against these bounds.
//!
//! Inputs are `randn` queries, keys and values (FP8 caches with vLLM's test scales, k 0.5 and
//! v 0.25), scale `1/sqrt(head_dim)`, from a fixed-seed SplitMix64 so every failure reproduces.
//! Unused cache slots are poisoned with NaN (FP8 `0x7f`), which proves that padding is never
//! read. The full matrix with contexts up to 4096 in every dtype is `#[ignore]`d because it is
//! slow in debug builds: `cargo test --release -p nim-engine --test attention -- --ignored`.

use half::{bf16, f16};
use nim_engine::reference::{Tolerance, decode_reference, prefill_reference};
use nim_engine::{AttentionParams, DType, Error, KvLayout, Storage, Tensor, cpu};

mod common;
use common::{Rng, poisoned};

/// Caches filled for a batch of sequences, block tables with unused entries set to garbage.
struct Batch {
    layout: KvLayout,
    k_cache: Tensor,
    v_cache: Tensor,
    block_tables: Vec<i32>,
    max_blocks: usize,
    contexts: Vec<i32>,
}

/// Sequences of `contexts` tokens in randomly placed blocks (`spare` blocks more than needed
/// stay poisoned), written through `write_kv` in random order with padding tokens mixed in.
fn batch(
    rng: &mut Rng,
    shape: (usize, usize, usize),
    contexts: &[usize],
    cache_dtype: DType,
    spare: usize,
) -> Batch {
    let (block_size, num_kv_heads, head_dim) = shape;
    let blocks_per_seq: Vec<usize> = contexts.iter().map(|c| c.div_ceil(block_size)).collect();
    let max_blocks = blocks_per_seq.iter().copied().max().unwrap_or(0) + 1;
    let num_blocks = blocks_per_seq.iter().sum::<usize>() + spare;
    let layout = KvLayout {
        num_blocks,
        block_size,
        num_kv_heads,
        head_dim,
    };
    let mut physical: Vec<usize> = (0..num_blocks).collect();
    rng.shuffle(&mut physical);
    let mut block_tables = vec![i32::MAX; contexts.len() * max_blocks];
    let mut next = physical.into_iter();
    let mut slots = Vec::new();
    for (s, (&context, &blocks)) in contexts.iter().zip(&blocks_per_seq).enumerate() {
        for i in 0..blocks {
            block_tables[s * max_blocks + i] = next.next().expect("enough blocks") as i32;
        }
        for pos in 0..context {
            let block = block_tables[s * max_blocks + pos / block_size] as usize;
            slots.push(layout.slot(block, pos % block_size) as i64);
        }
        // Garbage (and a negative id) after the used entries: never read.
        if blocks + 1 < max_blocks {
            block_tables[s * max_blocks + blocks + 1] = -7;
        }
    }
    let padding = 1 + slots.len() / 10;
    slots.extend(std::iter::repeat_n(-1, padding));
    rng.shuffle(&mut slots);
    let (mut k_cache, mut v_cache) = (
        poisoned(&layout, cache_dtype, 0.5),
        poisoned(&layout, cache_dtype, 0.25),
    );
    let rows = [slots.len(), num_kv_heads, head_dim];
    let n = rows.iter().product();
    let k = Tensor::from_f32(rows.to_vec(), rng.normals(n)).expect("k");
    let v = Tensor::from_f32(rows.to_vec(), rng.normals(n)).expect("v");
    cpu::write_kv(&mut k_cache, &mut v_cache, &slots, &k, &v).expect("write_kv");
    Batch {
        layout,
        k_cache,
        v_cache,
        block_tables,
        max_blocks,
        contexts: contexts.iter().map(|&c| c as i32).collect(),
    }
}

fn queries(rng: &mut Rng, tokens: usize, heads: usize, head_dim: usize, dtype: DType) -> Tensor {
    let data = rng.normals(tokens * heads * head_dim);
    Tensor::from_f32_as(vec![tokens, heads, head_dim], &data, dtype).expect("q")
}

#[track_caller]
fn assert_close(what: &str, got: &Tensor, want: &[f64]) {
    let tolerance = Tolerance::for_output(got.dtype());
    if let Err(message) = tolerance.check(&got.to_f32_vec(), want) {
        panic!("{what}: {message}");
    }
}

/// The query dtype that goes with a cache dtype in the matrix.
fn q_dtype_for(cache: DType) -> DType {
    match cache {
        DType::Fp8E4m3 => DType::Bf16,
        other => other,
    }
}

const CACHE_DTYPES: [DType; 4] = [DType::F32, DType::F16, DType::Bf16, DType::Fp8E4m3];

struct DecodeCase {
    seed: u64,
    group: usize,
    num_kv_heads: usize,
    head_dim: usize,
    block_size: usize,
    contexts: Vec<usize>,
    cache: DType,
    q: DType,
}

fn run_decode(case: &DecodeCase, params: impl Fn(usize) -> AttentionParams) {
    let mut rng = Rng(case.seed);
    let b = batch(
        &mut rng,
        (case.block_size, case.num_kv_heads, case.head_dim),
        &case.contexts,
        case.cache,
        2,
    );
    let heads = case.group * case.num_kv_heads;
    let q = queries(&mut rng, case.contexts.len(), heads, case.head_dim, case.q);
    let params = params(heads);
    let args = (
        &q,
        &b.k_cache,
        &b.v_cache,
        &b.block_tables[..],
        b.max_blocks,
    );
    let got = cpu::paged_decode(args.0, args.1, args.2, args.3, args.4, &b.contexts, &params)
        .expect("decode");
    assert_eq!(got.shape(), [case.contexts.len(), heads, case.head_dim]);
    assert_eq!(got.dtype(), case.q);
    let want = decode_reference(args.0, args.1, args.2, args.3, args.4, &b.contexts, &params)
        .expect("reference");
    let what = format!(
        "decode seed {} group {} kv_heads {} head_dim {} block {} contexts {:?} cache {} q {} {params:?}",
        case.seed,
        case.group,
        case.num_kv_heads,
        case.head_dim,
        case.block_size,
        case.contexts,
        case.cache,
        case.q
    );
    assert_close(&what, &got, &want);
}

/// Contexts for a block size: 1, the block size and its neighbours, and a random one.
fn small_contexts(rng: &mut Rng, block_size: usize) -> Vec<usize> {
    vec![
        1,
        block_size - 1,
        block_size,
        block_size + 1,
        rng.range(2, 4 * block_size),
    ]
}

/// Every GQA ratio × head size × block size × cache dtype at small contexts.
#[test]
fn decode_matrix_small_contexts() {
    let mut seed = 1;
    for group in [1, 4, 8] {
        for head_dim in [64, 80, 128, 256] {
            for block_size in [8, 16, 32] {
                for cache in CACHE_DTYPES {
                    seed += 1;
                    let contexts = small_contexts(&mut Rng(seed), block_size);
                    let case = DecodeCase {
                        seed,
                        group,
                        num_kv_heads: 2,
                        head_dim,
                        block_size,
                        contexts,
                        cache,
                        q: q_dtype_for(cache),
                    };
                    run_decode(&case, |_| AttentionParams::for_head_dim(head_dim));
                }
            }
        }
    }
}

/// Long contexts up to 4096 (non-multiples of the block size among them) in f32, and one
/// long batch per other cache dtype.
#[test]
fn decode_long_contexts() {
    for (seed, cache, contexts) in [
        (100, DType::F32, vec![4096, 4095, 1000, 2049]),
        (101, DType::F16, vec![3001, 17]),
        (102, DType::Bf16, vec![2500]),
        (103, DType::Fp8E4m3, vec![4096]),
    ] {
        let case = DecodeCase {
            seed,
            group: 4,
            num_kv_heads: 2,
            head_dim: 128,
            block_size: 16,
            contexts,
            cache,
            q: if cache == DType::Fp8E4m3 {
                DType::F32
            } else {
                cache
            },
        };
        run_decode(&case, |_| AttentionParams::for_head_dim(128));
    }
}

fn alibi_slopes(heads: usize) -> Vec<f32> {
    (0..heads)
        .map(|h| 2f32.powf(-8.0 * (h + 1) as f32 / heads as f32))
        .collect()
}

/// Sliding window, ALiBi and soft-cap, alone and together, in f32 and bf16.
#[test]
fn decode_window_alibi_soft_cap() {
    type Options = fn(AttentionParams, usize) -> AttentionParams;
    let options: [(&str, Options); 5] = [
        ("window", |p, _| p.with_sliding_window(37)),
        ("window 1", |p, _| p.with_sliding_window(1)),
        ("alibi", |p, h| p.with_alibi_slopes(alibi_slopes(h))),
        ("soft-cap", |p, _| p.with_soft_cap(2.5)),
        ("all", |p, h| {
            p.with_sliding_window(20)
                .with_alibi_slopes(alibi_slopes(h))
                .with_soft_cap(5.0)
        }),
    ];
    for (i, (_, option)) in options.iter().enumerate() {
        for (j, cache) in [DType::F32, DType::Bf16, DType::Fp8E4m3]
            .into_iter()
            .enumerate()
        {
            let case = DecodeCase {
                seed: 200 + (i * 3 + j) as u64,
                group: 4,
                num_kv_heads: 2,
                head_dim: 64,
                block_size: 16,
                contexts: vec![1, 15, 36, 37, 38, 150],
                cache,
                q: if cache == DType::Bf16 {
                    DType::Bf16
                } else {
                    DType::F32
                },
            };
            // Sharpen the logits so that the cap and the slopes matter.
            run_decode(&case, |h| option(AttentionParams::new(0.5), h));
        }
    }
}

/// A zero context marks a padding sequence: its output is zeros, the others are unaffected.
#[test]
fn decode_zero_context_gives_zeros() {
    let mut rng = Rng(300);
    let b = batch(&mut rng, (16, 1, 64), &[20, 0, 5], DType::F32, 0);
    let q = queries(&mut rng, 3, 2, 64, DType::F32);
    let params = AttentionParams::for_head_dim(64);
    let got = cpu::paged_decode(
        &q,
        &b.k_cache,
        &b.v_cache,
        &b.block_tables,
        b.max_blocks,
        &b.contexts,
        &params,
    )
    .expect("decode");
    let got = got.to_f32_vec();
    assert!(got[128..256].iter().all(|&x| x == 0.0));
    let want = decode_reference(
        &q,
        &b.k_cache,
        &b.v_cache,
        &b.block_tables,
        b.max_blocks,
        &b.contexts,
        &params,
    )
    .expect("reference");
    assert!(Tolerance::F32.check(&got, &want).is_ok());
}

/// The result does not depend on the number of threads (each task's arithmetic is fixed), and
/// `ThreadPool::install` bounds them.
#[test]
fn results_do_not_depend_on_threads() {
    let mut rng = Rng(400);
    let b = batch(&mut rng, (16, 2, 64), &[100, 33, 1, 64], DType::Bf16, 0);
    let q = queries(&mut rng, 4, 8, 64, DType::F32);
    let params = AttentionParams::for_head_dim(64);
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("pool");
        pool.install(|| {
            assert_eq!(rayon::current_num_threads(), threads);
            cpu::paged_decode(
                &q,
                &b.k_cache,
                &b.v_cache,
                &b.block_tables,
                b.max_blocks,
                &b.contexts,
                &params,
            )
        })
        .expect("decode")
    };
    let one = run(1);
    assert_eq!(one, run(3));
    assert_eq!(one, run(2));
}

struct PrefillCase {
    seed: u64,
    group: usize,
    num_kv_heads: usize,
    head_dim: usize,
    block_size: usize,
    /// (cached prefix tokens, new tokens) per sequence.
    seqs: Vec<(usize, usize)>,
    cache: DType,
    q: DType,
}

fn run_prefill(case: &PrefillCase, params: impl Fn(usize) -> AttentionParams) -> Tensor {
    let mut rng = Rng(case.seed);
    let contexts: Vec<usize> = case.seqs.iter().map(|&(p, n)| p + n).collect();
    let b = batch(
        &mut rng,
        (case.block_size, case.num_kv_heads, case.head_dim),
        &contexts,
        case.cache,
        1,
    );
    let heads = case.group * case.num_kv_heads;
    let mut cu_seqlens = vec![0i32];
    for &(_, n) in &case.seqs {
        cu_seqlens.push(cu_seqlens[cu_seqlens.len() - 1] + n as i32);
    }
    let total = *cu_seqlens.last().expect("one entry") as usize;
    let q = queries(&mut rng, total, heads, case.head_dim, case.q);
    let params = params(heads);
    let args = (
        &q,
        &b.k_cache,
        &b.v_cache,
        &b.block_tables[..],
        b.max_blocks,
    );
    let got = cpu::paged_prefill(
        args.0,
        args.1,
        args.2,
        args.3,
        args.4,
        &cu_seqlens,
        &b.contexts,
        &params,
    )
    .expect("prefill");
    assert_eq!(got.shape(), [total, heads, case.head_dim]);
    let want = prefill_reference(
        args.0,
        args.1,
        args.2,
        args.3,
        args.4,
        &cu_seqlens,
        &b.contexts,
        &params,
    )
    .expect("reference");
    let what = format!(
        "prefill seed {} group {} kv_heads {} head_dim {} block {} seqs {:?} cache {} q {} {params:?}",
        case.seed,
        case.group,
        case.num_kv_heads,
        case.head_dim,
        case.block_size,
        case.seqs,
        case.cache,
        case.q
    );
    assert_close(&what, &got, &want);
    got
}

/// Every GQA ratio × head size × block size, the cache dtype rotating; sequences without a
/// prefix, after a cached prefix, and of one token.
#[test]
fn prefill_matrix() {
    let mut seed = 1000;
    let mut dtypes = CACHE_DTYPES.iter().copied().cycle();
    for group in [1, 4, 8] {
        for head_dim in [64, 80, 128, 256] {
            for block_size in [8, 16, 32] {
                seed += 1;
                let mut rng = Rng(seed);
                let cache = dtypes.next().unwrap_or(DType::F32);
                let case = PrefillCase {
                    seed,
                    group,
                    num_kv_heads: 2,
                    head_dim,
                    block_size,
                    seqs: vec![
                        (0, rng.range(1, 2 * block_size)),
                        (2 * block_size, rng.range(1, block_size + 3)),
                        (rng.range(1, 40), 1),
                        (block_size + 3, block_size - 1),
                    ],
                    cache,
                    q: q_dtype_for(cache),
                };
                run_prefill(&case, |_| AttentionParams::for_head_dim(head_dim));
            }
        }
    }
}

/// Long prompts, with and without a cached prefix, across several tiles and blocks.
#[test]
fn prefill_long_and_options() {
    let case = PrefillCase {
        seed: 1100,
        group: 8,
        num_kv_heads: 1,
        head_dim: 128,
        block_size: 16,
        seqs: vec![(0, 300), (517, 83)],
        cache: DType::F32,
        q: DType::F32,
    };
    run_prefill(&case, |_| AttentionParams::for_head_dim(128));
    type Options = fn(AttentionParams, usize) -> AttentionParams;
    let options: [Options; 4] = [
        |p, _| p.with_sliding_window(24),
        |p, h| p.with_alibi_slopes(alibi_slopes(h)),
        |p, _| p.with_soft_cap(3.0),
        |p, h| {
            p.with_sliding_window(9)
                .with_alibi_slopes(alibi_slopes(h))
                .with_soft_cap(4.0)
        },
    ];
    for (i, option) in options.iter().enumerate() {
        for (j, cache) in [DType::F32, DType::Bf16].into_iter().enumerate() {
            let case = PrefillCase {
                seed: 1200 + (i * 2 + j) as u64,
                group: 2,
                num_kv_heads: 2,
                head_dim: 64,
                block_size: 8,
                seqs: vec![(0, 70), (45, 20), (3, 1)],
                cache,
                q: cache,
            };
            run_prefill(&case, |h| option(AttentionParams::new(0.5), h));
        }
    }
}

/// Prefix caching: two sequences share their first two (full) blocks and differ after; the
/// second is prefilled in two chunks, which must agree with prefilling its new tokens at once,
/// and its last token's prefill output must equal decode's bit for bit.
#[test]
fn prefill_shared_prefix_and_chunks() {
    let mut rng = Rng(1300);
    let layout = KvLayout {
        num_blocks: 8,
        block_size: 16,
        num_kv_heads: 2,
        head_dim: 64,
    };
    let (mut k_cache, mut v_cache) = (layout.zeros(DType::F32), layout.zeros(DType::F32));
    // Shared prefix in blocks 6 and 2; sequence A continues in block 4, B in blocks 1 and 7.
    let tables = [6, 2, 4, 0, 6, 2, 1, 7];
    let (len_a, len_b) = (40usize, 60usize);
    let slot =
        |seq: usize, pos: usize| layout.slot(tables[seq * 4 + pos / 16] as usize, pos % 16) as i64;
    let mut slots: Vec<i64> = (0..len_a).map(|p| slot(0, p)).collect();
    slots.extend((32..len_b).map(|p| slot(1, p)));
    let n = slots.len() * 2 * 64;
    let k = Tensor::from_f32(vec![slots.len(), 2, 64], rng.normals(n)).expect("k");
    let v = Tensor::from_f32(vec![slots.len(), 2, 64], rng.normals(n)).expect("v");
    cpu::write_kv(&mut k_cache, &mut v_cache, &slots, &k, &v).expect("write");
    let params = AttentionParams::for_head_dim(64);

    // B's new tokens 32..60 at once, against the reference.
    let q = queries(&mut rng, 28, 8, 64, DType::F32);
    let table_b = &tables[4..];
    let whole = cpu::paged_prefill(&q, &k_cache, &v_cache, table_b, 4, &[0, 28], &[60], &params)
        .expect("prefill");
    let want = prefill_reference(&q, &k_cache, &v_cache, table_b, 4, &[0, 28], &[60], &params)
        .expect("reference");
    assert_close("shared prefix", &whole, &want);

    // The same tokens in two chunks (32..45, then 45..60), as chunked prefill runs them.
    let rows = 8 * 64;
    let split = |from: usize, to: usize| {
        Tensor::from_f32(
            vec![to - from, 8, 64],
            q.to_f32_vec()[from * rows..to * rows].to_vec(),
        )
        .expect("chunk")
    };
    let first = cpu::paged_prefill(
        &split(0, 13),
        &k_cache,
        &v_cache,
        table_b,
        4,
        &[0, 13],
        &[45],
        &params,
    )
    .expect("chunk 1");
    let second = cpu::paged_prefill(
        &split(13, 28),
        &k_cache,
        &v_cache,
        table_b,
        4,
        &[0, 15],
        &[60],
        &params,
    )
    .expect("chunk 2");
    let chunked: Vec<f32> = first
        .to_f32_vec()
        .into_iter()
        .chain(second.to_f32_vec())
        .collect();
    assert!(Tolerance::F32.check(&chunked, &want).is_ok());

    // Both sequences in one batch, A as a decode step (its last token) and B's last token.
    let last = split(27, 28);
    let batch_q = Tensor::from_f32(
        vec![2, 8, 64],
        queries(&mut rng, 1, 8, 64, DType::F32)
            .to_f32_vec()
            .into_iter()
            .chain(last.to_f32_vec())
            .collect(),
    )
    .expect("q");
    let decode = cpu::paged_decode(&batch_q, &k_cache, &v_cache, &tables, 4, &[40, 60], &params)
        .expect("decode");
    let prefill = cpu::paged_prefill(
        &batch_q,
        &k_cache,
        &v_cache,
        &tables,
        4,
        &[0, 1, 2],
        &[40, 60],
        &params,
    )
    .expect("prefill");
    assert_eq!(decode, prefill);
    assert_eq!(decode.to_f32_vec()[rows..], whole.to_f32_vec()[27 * rows..]);
}

/// Causality: changing the keys and values after a query's position changes nothing for it.
#[test]
fn prefill_is_causal() {
    let mut rng = Rng(1400);
    let b = batch(&mut rng, (8, 1, 64), &[30], DType::F32, 0);
    let q = queries(&mut rng, 30, 2, 64, DType::F32);
    let params = AttentionParams::for_head_dim(64);
    let before = cpu::paged_prefill(
        &q,
        &b.k_cache,
        &b.v_cache,
        &b.block_tables,
        b.max_blocks,
        &[0, 30],
        &b.contexts,
        &params,
    )
    .expect("prefill")
    .to_f32_vec();
    // Overwrite positions 20..30.
    let (mut k_cache, mut v_cache) = (b.k_cache.clone(), b.v_cache.clone());
    let slots: Vec<i64> = (20..30)
        .map(|p| b.layout.slot(b.block_tables[p / 8] as usize, p % 8) as i64)
        .collect();
    let junk = Tensor::from_f32(vec![10, 1, 64], vec![1e3; 640]).expect("junk");
    cpu::write_kv(&mut k_cache, &mut v_cache, &slots, &junk, &junk).expect("write");
    let after = cpu::paged_prefill(
        &q,
        &k_cache,
        &v_cache,
        &b.block_tables,
        b.max_blocks,
        &[0, 30],
        &b.contexts,
        &params,
    )
    .expect("prefill")
    .to_f32_vec();
    let row = 2 * 64;
    assert_eq!(before[..20 * row], after[..20 * row]);
    assert_ne!(before[20 * row..], after[20 * row..]);
}

/// `write_kv` stores each token at its slot, converted to the cache's dtype, skips negative
/// slots, and leaves every other slot alone.
#[test]
fn write_kv_slots_padding_and_dtypes() {
    let mut rng = Rng(1500);
    let layout = KvLayout {
        num_blocks: 3,
        block_size: 4,
        num_kv_heads: 2,
        head_dim: 8,
    };
    let slots = [5i64, -1, 11, 0, -3];
    let data = rng.normals(5 * 16);
    for cache_dtype in CACHE_DTYPES {
        for input_dtype in [DType::F32, DType::Bf16] {
            let (mut k_cache, mut v_cache) = (
                poisoned(&layout, cache_dtype, 0.5),
                poisoned(&layout, cache_dtype, 0.25),
            );
            let k = Tensor::from_f32_as(vec![5, 2, 8], &data, input_dtype).expect("k");
            let neg: Vec<f32> = data.iter().map(|x| -x).collect();
            let v = Tensor::from_f32_as(vec![5, 2, 8], &neg, input_dtype).expect("v");
            cpu::write_kv(&mut k_cache, &mut v_cache, &slots, &k, &v).expect("write");
            for (cache, src, scale) in [(&k_cache, &k, 0.5f32), (&v_cache, &v, 0.25)] {
                let src = src.to_f32_vec();
                let stored = cache.to_f32_vec();
                for slot in 0..12 {
                    let token = slots.iter().position(|&s| s == slot as i64);
                    let got = &stored[slot * 16..][..16];
                    match token {
                        None => assert!(got.iter().all(|x| x.is_nan()), "slot {slot} was written"),
                        Some(t) => {
                            let want: Vec<f32> = src[t * 16..][..16]
                                .iter()
                                .map(|&x| round_to(cache_dtype, x, scale))
                                .collect();
                            assert_eq!(got, want, "slot {slot} {cache_dtype} from {input_dtype}");
                        }
                    }
                }
            }
        }
    }
}

/// `x` as a cache of `dtype` (FP8 with `scale`) stores it.
fn round_to(dtype: DType, x: f32, scale: f32) -> f32 {
    match dtype {
        DType::F32 => x,
        DType::F16 => f16::from_f32(x).to_f32(),
        DType::Bf16 => bf16::from_f32(x).to_f32(),
        DType::Fp8E4m3 => {
            nim_engine::tensor::fp8_e4m3_to_f32(nim_engine::tensor::f32_to_fp8_e4m3(x / scale))
                * scale
        }
    }
}

/// FP8 caches keep their scales; input beyond ±448 × scale saturates; equal-scale FP8 input
/// is copied bit for bit.
#[test]
fn write_kv_fp8() {
    let layout = KvLayout {
        num_blocks: 1,
        block_size: 2,
        num_kv_heads: 1,
        head_dim: 4,
    };
    let mut k_cache = Tensor::fp8_from_f32(layout.shape().to_vec(), &[0.0; 8], 0.5).expect("k");
    let mut v_cache = Tensor::fp8_from_f32(layout.shape().to_vec(), &[0.0; 8], 2.0).expect("v");
    let k = Tensor::from_f32(
        vec![2, 1, 4],
        vec![1.0, -3.0, 1000.0, 0.1, 224.0, -224.0, 0.0, 2.5],
    )
    .expect("k");
    let v = Tensor::fp8_from_f32(
        vec![2, 1, 4],
        &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
        2.0,
    )
    .expect("v");
    cpu::write_kv(&mut k_cache, &mut v_cache, &[1, 0], &k, &v).expect("write");
    assert_eq!(k_cache.fp8_scale(), Some(0.5));
    assert_eq!(
        k_cache.to_f32_vec(),
        [224.0, -224.0, 0.0, 2.5, 1.0, -3.0, 224.0, 0.1015625]
    );
    let (Storage::Fp8E4m3 { bytes: cache, .. }, Storage::Fp8E4m3 { bytes: src, .. }) =
        (v_cache.storage(), v.storage())
    else {
        panic!("fp8 storages");
    };
    assert_eq!(cache[..4], src[4..]);
    assert_eq!(cache[4..], src[..4]);
}

/// `copy_blocks` copies K and V blocks bit for bit, in order, in every dtype.
#[test]
fn copy_blocks_is_exact() {
    let mut rng = Rng(1600);
    let layout = KvLayout {
        num_blocks: 5,
        block_size: 4,
        num_kv_heads: 2,
        head_dim: 8,
    };
    let n = layout.shape().iter().product();
    let block = layout.block_elements();
    for dtype in CACHE_DTYPES {
        let data = rng.normals(n);
        let k = Tensor::from_f32_as(layout.shape().to_vec(), &data, dtype).expect("k");
        let v = Tensor::from_f32_as(
            layout.shape().to_vec(),
            &data[..].iter().map(|x| x * 2.0).collect::<Vec<_>>(),
            dtype,
        )
        .expect("v");
        let (mut k2, mut v2) = (k.clone(), v.clone());
        cpu::copy_blocks(&mut k2, &mut v2, &[(0, 3), (3, 1), (2, 2)]).expect("copy");
        for (before, after) in [(&k, &k2), (&v, &v2)] {
            let (b, a) = (before.to_f32_vec(), after.to_f32_vec());
            let blk = |t: &[f32], i: usize| t[i * block..(i + 1) * block].to_vec();
            assert_eq!(blk(&a, 3), blk(&b, 0));
            assert_eq!(blk(&a, 1), blk(&b, 0), "pairs apply in order");
            for i in [0, 2, 4] {
                assert_eq!(blk(&a, i), blk(&b, i));
            }
        }
        let err = cpu::copy_blocks(&mut k2, &mut v2, &[(0, 1), (1, 5)]).expect_err("out of range");
        assert!(
            matches!(&err, Error::Invalid { field, .. } if field == "pairs[1]"),
            "{err}"
        );
    }
}

/// A call with one argument spoiled, from a good decode batch.
struct Spoil {
    q: Tensor,
    k_cache: Tensor,
    v_cache: Tensor,
    block_tables: Vec<i32>,
    max_blocks: usize,
    contexts: Vec<i32>,
    params: AttentionParams,
}

impl Spoil {
    fn good() -> Self {
        let mut rng = Rng(1700);
        let b = batch(&mut rng, (8, 2, 16), &[10, 3], DType::F16, 0);
        Spoil {
            q: queries(&mut rng, 2, 4, 16, DType::F16),
            k_cache: b.k_cache,
            v_cache: b.v_cache,
            block_tables: b.block_tables,
            max_blocks: b.max_blocks,
            contexts: b.contexts,
            params: AttentionParams::for_head_dim(16),
        }
    }

    fn decode(&self) -> Result<Tensor, Error> {
        cpu::paged_decode(
            &self.q,
            &self.k_cache,
            &self.v_cache,
            &self.block_tables,
            self.max_blocks,
            &self.contexts,
            &self.params,
        )
    }

    fn reference(&self) -> Result<Vec<f64>, Error> {
        decode_reference(
            &self.q,
            &self.k_cache,
            &self.v_cache,
            &self.block_tables,
            self.max_blocks,
            &self.contexts,
            &self.params,
        )
    }
}

#[track_caller]
fn assert_names(result: Result<Tensor, Error>, name: &str) {
    match result {
        Err(
            Error::Shape { name: n, .. }
            | Error::DType { name: n, .. }
            | Error::Invalid { field: n, .. },
        ) if n == name => {}
        other => panic!("expected an error naming {name}, got {other:?}"),
    }
}

#[test]
fn decode_errors_name_the_argument() {
    let good = Spoil::good();
    assert!(good.decode().is_ok() && good.reference().is_ok());
    let check = |name: &str, spoil: fn(&mut Spoil)| {
        let mut s = Spoil::good();
        spoil(&mut s);
        assert_names(s.decode(), name);
        // The reference checks the same way.
        assert!(
            s.reference().is_err(),
            "reference accepted a spoiled {name}"
        );
    };
    check("q", |s| s.q = Tensor::zeros(vec![2, 4 * 16], DType::F16));
    check("q", |s| s.q = Tensor::zeros(vec![2, 4, 17], DType::F16));
    check("q", |s| s.q = Tensor::zeros(vec![2, 3, 16], DType::F16)); // 3 heads, 2 KV heads
    check("q", |s| s.q = Tensor::zeros(vec![2, 4, 16], DType::Fp8E4m3));
    check("k_cache", |s| {
        s.k_cache = Tensor::zeros(vec![4, 8, 2], DType::F16)
    });
    check("k_cache", |s| {
        s.k_cache = Tensor::zeros(vec![4, 0, 2, 16], DType::F16)
    });
    check("v_cache", |s| {
        s.v_cache = Tensor::zeros(vec![4, 8, 2, 8], DType::F16)
    });
    check("k_cache", |s| {
        s.k_cache = Tensor::new(
            s.k_cache.shape().to_vec(),
            Storage::Fp8E4m3 {
                bytes: vec![0; s.k_cache.len()],
                scale: f32::NAN,
            },
        )
        .expect("consistent");
    });
    check("v_cache", |s| {
        *s.v_cache.storage_mut() = Storage::F32(vec![0.0; 3]);
    });
    check("block_tables", |s| {
        s.block_tables.pop();
    });
    check("block_tables[0][1]", |s| s.block_tables[1] = 1000);
    check("block_tables[1][0]", |s| s.block_tables[s.max_blocks] = -1);
    check("context_lens", |s| s.contexts.push(1));
    check("context_lens[1]", |s| s.contexts[1] = -2);
    check("context_lens[0]", |s| {
        s.contexts[0] = (8 * s.max_blocks + 1) as i32
    });
    check("alibi_slopes", |s| {
        s.params = AttentionParams::new(1.0).with_alibi_slopes(vec![0.5; 3])
    });
    check("alibi_slopes[2]", |s| {
        s.params = AttentionParams::new(1.0).with_alibi_slopes(vec![0.5, 0.5, f32::INFINITY, 0.5])
    });
    check("soft_cap", |s| {
        s.params = AttentionParams::new(1.0).with_soft_cap(0.0)
    });
    check("soft_cap", |s| {
        s.params = AttentionParams::new(1.0).with_soft_cap(-1.0)
    });
    check("sliding_window", |s| {
        s.params = AttentionParams::new(1.0).with_sliding_window(0)
    });
    check("scale", |s| s.params = AttentionParams::new(f32::NAN));

    // The messages say what was expected.
    let mut s = Spoil::good();
    s.block_tables[1] = 1000;
    let message = s.decode().expect_err("bad block").to_string();
    assert!(
        message.contains("block_tables[0][1]") && message.contains("1000"),
        "{message}"
    );
}

#[test]
fn prefill_errors_name_the_argument() {
    let mut rng = Rng(1800);
    let b = batch(&mut rng, (8, 1, 16), &[10, 3], DType::F32, 0);
    let q = queries(&mut rng, 6, 2, 16, DType::F32);
    let params = AttentionParams::for_head_dim(16);
    let run = |cu: &[i32], contexts: &[i32]| {
        cpu::paged_prefill(
            &q,
            &b.k_cache,
            &b.v_cache,
            &b.block_tables,
            b.max_blocks,
            cu,
            contexts,
            &params,
        )
    };
    assert!(run(&[0, 4, 6], &[10, 3]).is_ok());
    assert_names(run(&[], &[]), "cu_seqlens_q");
    assert_names(run(&[1, 4, 6], &[10, 3]), "cu_seqlens_q[0]");
    assert_names(run(&[0, 4, 3], &[10, 3]), "cu_seqlens_q[2]");
    assert_names(run(&[0, 4, 5], &[10, 3]), "cu_seqlens_q[2]");
    assert_names(run(&[0, 4, 6], &[10]), "context_lens");
    assert_names(run(&[0, 4, 6], &[10, 1]), "context_lens[1]");
    assert_names(run(&[0, 4, 6], &[100, 3]), "context_lens[0]");
}

#[test]
fn write_kv_errors_name_the_argument_and_change_nothing() {
    let layout = KvLayout {
        num_blocks: 2,
        block_size: 4,
        num_kv_heads: 1,
        head_dim: 4,
    };
    let (k_cache, v_cache) = (layout.zeros(DType::Bf16), layout.zeros(DType::Bf16));
    let rows = Tensor::from_f32(vec![3, 1, 4], vec![1.0; 12]).expect("rows");
    let write = |slots: &[i64], k: &Tensor, v: &Tensor| {
        let (mut kc, mut vc) = (k_cache.clone(), v_cache.clone());
        let result = cpu::write_kv(&mut kc, &mut vc, slots, k, v)
            .map(|()| Tensor::zeros(vec![], DType::F32));
        if result.is_err() {
            assert_eq!((&kc, &vc), (&k_cache, &v_cache), "changed on error");
        }
        result
    };
    assert!(write(&[0, -1, 7], &rows, &rows).is_ok());
    assert_names(write(&[0, 8, 1], &rows, &rows), "slot_mapping[1]");
    assert_names(write(&[0, 1], &rows, &rows), "k");
    let wrong = Tensor::from_f32(vec![3, 4], vec![1.0; 12]).expect("wrong");
    assert_names(write(&[0, 1, 2], &rows, &wrong), "v");
    let (mut kc, mut vc) = (k_cache.clone(), layout.zeros(DType::F32));
    *vc.storage_mut() = Storage::F32(vec![]);
    assert_names(
        cpu::write_kv(&mut kc, &mut vc, &[0, 1, 2], &rows, &rows).map(|()| rows.clone()),
        "v_cache",
    );
}

/// The whole matrix in every dtype, contexts from 1 to 4096: run with `--release -- --ignored`.
#[test]
#[ignore = "slow in debug builds: cargo test --release -p nim-engine --test attention -- --ignored"]
fn full_matrix_long_contexts() {
    let mut seed = 5000;
    for group in [1, 4, 8] {
        for head_dim in [64, 80, 128, 256] {
            for block_size in [8, 16, 32] {
                for cache in CACHE_DTYPES {
                    seed += 1;
                    let mut rng = Rng(seed);
                    let mut contexts = vec![1, 4096, rng.range(1, 4096), rng.range(1, 4096)];
                    contexts.push(rng.range(1, 255) * block_size + rng.range(1, block_size - 1));
                    let case = DecodeCase {
                        seed,
                        group,
                        num_kv_heads: 2,
                        head_dim,
                        block_size,
                        contexts,
                        cache,
                        q: q_dtype_for(cache),
                    };
                    run_decode(&case, |_| AttentionParams::for_head_dim(head_dim));
                    let prefix = rng.range(0, 1500);
                    let case = PrefillCase {
                        seed,
                        group,
                        num_kv_heads: 2,
                        head_dim,
                        block_size,
                        seqs: vec![
                            (prefix, rng.range(1, 300)),
                            (0, rng.range(1, 200)),
                            (rng.range(1, 4000), 1),
                        ],
                        cache,
                        q: q_dtype_for(cache),
                    };
                    run_prefill(&case, |h| {
                        let p = AttentionParams::for_head_dim(head_dim);
                        match seed % 4 {
                            0 => p,
                            1 => p.with_sliding_window(rng_window(seed)),
                            2 => p.with_alibi_slopes(alibi_slopes(h)),
                            _ => p.with_soft_cap(30.0),
                        }
                    });
                }
            }
        }
    }
}

fn rng_window(seed: u64) -> usize {
    Rng(seed).range(1, 512)
}
