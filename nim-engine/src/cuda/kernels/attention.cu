// Paged attention over the NHD caches of nim_engine::layout: decode (one new token per
// sequence) and variable-length causal prefill share these kernels.
//
// Work is described by *rows*: the query rows of one sequence that share one KV head, numbered
// f = local_token * group + head_in_group (token-major, as the CPU backend's prefill tiles).
// Row f is query head kvh * group + f % group of new token f / group, at position
// p = context - new_tokens + f / group, and sees keys j with window_start(p) <= j <= p. A decode
// step is the case new_tokens = 1.
//
// Grid: (tiles, num_kv_heads, partitions). The host lists the tiles, (sequence, first row)
// pairs, each covering the rows of one sequence a block handles. A block's key range runs from
// the window start of its first row to the position of its last row; partition z of it is
// [lo + z * partition_tokens, lo + (z + 1) * partition_tokens). With one partition a block
// writes the normalized output in q's dtype; with several it writes an unnormalized f32 partial
// output and (max, sum) per row and partition, and attn_reduce combines them (split-K,
// "flash-decoding", vLLM's paged_attention_v2).
//
// Keys outside a row's range get a logit of -inf; K and V rows outside the block's range are
// never read (their block-table entries may be garbage and their slots poison): loads there are
// replaced by zeros, so that 0 * NaN never reaches an accumulator.
//
// Macros from the host: HEAD_DIM; Q_DT, K_DT, V_DT (DT_* codes; the output has q's dtype);
// SIMT_WARPS; and for the tensor-core kernel MMA plus WR (row warps), WK (key warps) and
// PV_SPLIT (1: P is fed to the P.V product as a hi + lo pair of half-precision values).

struct AttnArgs {
    const void* q;             // [num_tokens, num_heads, HEAD_DIM], Q_DT
    const void* k_cache;       // [num_blocks, block_size, num_kv_heads, HEAD_DIM], K_DT
    const void* v_cache;       // same shape, V_DT
    void* out;                 // [num_tokens, num_heads, HEAD_DIM], Q_DT (one partition)
    float* part_out;           // [num_tokens * num_heads, partitions, HEAD_DIM] (several)
    float* part_ml;            // [num_tokens * num_heads, partitions, 2]: max, sum (several)
    const int* block_tables;   // [num_seqs, max_blocks]
    const int* context_lens;   // [num_seqs]
    const int* cu_seqlens;     // [num_seqs + 1]; null for decode (token s is sequence s)
    const int* tiles;          // [num_tiles, 2]: sequence, first row
    const float* alibi;        // [num_heads] or null
    int max_blocks;
    int num_heads;
    int num_kv_heads;
    int group;                 // num_heads / num_kv_heads
    int block_size;
    int partition_tokens;
    int num_partitions;
    int window;                // 0: no sliding window
    float scale;
    float k_scale;             // FP8 K cache scale (1 otherwise)
    float v_scale;             // FP8 V cache scale (1 otherwise)
    float soft_cap;            // 0: no soft-cap
};

struct Seq {
    int seq;
    i64 q_start;  // q row of the sequence's first new token
    int n_new;    // new tokens
    int ctx;      // context length, new tokens included
    int rows;     // n_new * group
};

__device__ __forceinline__ Seq seq_of(const AttnArgs& a, int seq) {
    Seq s;
    s.seq = seq;
    if (a.cu_seqlens != nullptr) {
        s.q_start = a.cu_seqlens[seq];
        s.n_new = a.cu_seqlens[seq + 1] - a.cu_seqlens[seq];
    } else {
        s.q_start = seq;
        s.n_new = 1;
    }
    s.ctx = a.context_lens[seq];
    s.rows = s.n_new * a.group;
    return s;
}

// The position of row f. A decode sequence of context 0 (padding) has position -1: no keys.
__device__ __forceinline__ int pos_of(const AttnArgs& a, const Seq& s, int f) {
    return s.ctx - s.n_new + f / a.group;
}

__device__ __forceinline__ int window_start(const AttnArgs& a, int pos) {
    return a.window > 0 ? max(0, pos + 1 - a.window) : 0;
}

// Partition `part` of the keys of rows first..last (positions grow with the row number).
__device__ __forceinline__ void block_keys(const AttnArgs& a, const Seq& s, int first, int last,
                                           int part, int& lo, int& hi) {
    const int range_lo = window_start(a, pos_of(a, s, first));
    const int range_hi = pos_of(a, s, last) + 1;
    lo = range_lo + part * a.partition_tokens;
    hi = min(range_hi, lo + a.partition_tokens);
    if (hi < lo) {
        hi = lo;
    }
}

// The output row (token * num_heads + head) of row f of KV head kvh.
__device__ __forceinline__ i64 out_row_of(const AttnArgs& a, const Seq& s, int kvh, int f) {
    return (s.q_start + f / a.group) * a.num_heads + (i64)kvh * a.group + f % a.group;
}

// The element offset of the K (or V) row of key position j, KV head kvh, of sequence s.
__device__ __forceinline__ i64 kv_row(const AttnArgs& a, const Seq& s, int kvh, int j) {
    const int block = a.block_tables[(i64)s.seq * a.max_blocks + j / a.block_size];
    const i64 slot = (i64)block * a.block_size + j % a.block_size;
    return (slot * a.num_kv_heads + kvh) * HEAD_DIM;
}

// Soft-cap, then ALiBi, as nim_engine::layout specifies.
__device__ __forceinline__ float finish_logit(const AttnArgs& a, float x, float slope, int j,
                                              int pos) {
    if (a.soft_cap > 0.0f) {
        x = a.soft_cap * tanhf(x / a.soft_cap);
    }
    if (a.alibi != nullptr) {
        x += slope * (float)(j - pos);
    }
    return x;
}

// ---------------------------------------------------------------------------------------------
// attn_simt: one warp per row, every dtype combination, any head size. Lanes own dims
// lane, lane + 32, ...; keys go SIMT_KEYS at a time: their dot products are reduced across the
// warp together, then one online-softmax update covers them. Accumulation and softmax in f32
// (expf, tanhf: the accurate versions), with the scale folded into q as the CPU backend does.

#define SIMT_NPL ((HEAD_DIM + 31) / 32)
#define SIMT_KEYS 8

extern "C" __global__ void __launch_bounds__(SIMT_WARPS * 32) attn_simt(const AttnArgs a) {
    typedef Elem<Q_DT> QE;
    typedef Elem<K_DT> KE;
    typedef Elem<V_DT> VE;
    const int warp = threadIdx.x >> 5;
    const int lane = threadIdx.x & 31;
    const int kvh = blockIdx.y;
    const int part = blockIdx.z;
    const Seq s = seq_of(a, a.tiles[2 * blockIdx.x]);
    const int row0 = a.tiles[2 * blockIdx.x + 1];
    const int f = row0 + warp;
    if (f >= s.rows) {
        return;  // no barrier in this kernel
    }
    int plo, phi;
    block_keys(a, s, row0, min(row0 + SIMT_WARPS, s.rows) - 1, part, plo, phi);
    const int pos = pos_of(a, s, f);
    const int klo = max(plo, window_start(a, pos));
    const int khi = min(phi, pos + 1);
    const i64 orow = out_row_of(a, s, kvh, f);
    const float slope = a.alibi != nullptr ? a.alibi[orow % a.num_heads] : 0.0f;
    const float kmul = K_DT == DT_FP8 ? a.k_scale : 1.0f;
    const float vmul = V_DT == DT_FP8 ? a.v_scale : 1.0f;

    const typename QE::T* q = (const typename QE::T*)a.q;
    const typename KE::T* kc = (const typename KE::T*)a.k_cache;
    const typename VE::T* vc = (const typename VE::T*)a.v_cache;

    float qr[SIMT_NPL];
    float acc[SIMT_NPL];
#pragma unroll
    for (int i = 0; i < SIMT_NPL; ++i) {
        const int d = lane + 32 * i;
        qr[i] = d < HEAD_DIM ? QE::load(q, orow * HEAD_DIM + d) * a.scale : 0.0f;
        acc[i] = 0.0f;
    }
    float m = NEG_INF;
    float l = 0.0f;

    for (int j0 = klo; j0 < khi; j0 += SIMT_KEYS) {
        i64 rows[SIMT_KEYS];
        float sc[SIMT_KEYS];
#pragma unroll
        for (int u = 0; u < SIMT_KEYS; ++u) {
            rows[u] = j0 + u < khi ? kv_row(a, s, kvh, j0 + u) : -1;
        }
#pragma unroll
        for (int u = 0; u < SIMT_KEYS; ++u) {
            float dot = 0.0f;
            if (rows[u] >= 0) {
#pragma unroll
                for (int i = 0; i < SIMT_NPL; ++i) {
                    const int d = lane + 32 * i;
                    if (d < HEAD_DIM) {
                        float k = KE::load(kc, rows[u] + d);
                        if (K_DT == DT_FP8) {
                            k *= kmul;
                        }
                        dot += qr[i] * k;
                    }
                }
            }
            sc[u] = dot;
        }
#pragma unroll
        for (int u = 0; u < SIMT_KEYS; ++u) {
            sc[u] = warp_sum(sc[u]);
        }
        float chunk_max = NEG_INF;
#pragma unroll
        for (int u = 0; u < SIMT_KEYS; ++u) {
            if (rows[u] >= 0) {
                sc[u] = finish_logit(a, sc[u], slope, j0 + u, pos);
                chunk_max = fmaxf(chunk_max, sc[u]);
            }
        }
        // Key j0 is in range, so m_new is finite (for finite inputs).
        const float m_new = fmaxf(m, chunk_max);
        const float alpha = m == NEG_INF ? 0.0f : expf(m - m_new);
        l *= alpha;
#pragma unroll
        for (int i = 0; i < SIMT_NPL; ++i) {
            acc[i] *= alpha;
        }
#pragma unroll
        for (int u = 0; u < SIMT_KEYS; ++u) {
            if (rows[u] >= 0) {
                const float p = expf(sc[u] - m_new);
                l += p;
#pragma unroll
                for (int i = 0; i < SIMT_NPL; ++i) {
                    const int d = lane + 32 * i;
                    if (d < HEAD_DIM) {
                        float v = VE::load(vc, rows[u] + d);
                        if (V_DT == DT_FP8) {
                            v *= vmul;
                        }
                        acc[i] += p * v;
                    }
                }
            }
        }
        m = m_new;
    }

    if (a.num_partitions == 1) {
        const float inv = l > 0.0f ? 1.0f / l : 0.0f;
        typename QE::T* out = (typename QE::T*)a.out;
#pragma unroll
        for (int i = 0; i < SIMT_NPL; ++i) {
            const int d = lane + 32 * i;
            if (d < HEAD_DIM) {
                QE::store(out, orow * HEAD_DIM + d, acc[i] * inv);
            }
        }
    } else {
        const i64 prow = orow * a.num_partitions + part;
#pragma unroll
        for (int i = 0; i < SIMT_NPL; ++i) {
            const int d = lane + 32 * i;
            if (d < HEAD_DIM) {
                a.part_out[prow * HEAD_DIM + d] = acc[i];
            }
        }
        if (lane == 0) {
            a.part_ml[2 * prow] = m;
            a.part_ml[2 * prow + 1] = l;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// attn_reduce: combines the partitions of each output row (grid: num_tokens * num_heads blocks
// of 128 threads; dynamic shared memory: one float per partition). Deterministic: a fixed order
// of additions, no atomics.

struct ReduceArgs {
    const float* part_out;
    const float* part_ml;
    void* out;
    int num_partitions;
    int pad_;
};

__device__ __forceinline__ float block_reduce(float v, bool is_max, float* scratch) {
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int warps = (blockDim.x + 31) >> 5;
#pragma unroll
    for (int m = 16; m > 0; m >>= 1) {
        const float o = __shfl_xor_sync(0xffffffffu, v, m);
        v = is_max ? fmaxf(v, o) : v + o;
    }
    __syncthreads();
    if (lane == 0) {
        scratch[warp] = v;
    }
    __syncthreads();
    float r = scratch[0];
    for (int w = 1; w < warps; ++w) {
        r = is_max ? fmaxf(r, scratch[w]) : r + scratch[w];
    }
    return r;
}

extern "C" __global__ void attn_reduce(const ReduceArgs r) {
    DYNAMIC_SHARED(float, weights);  // [num_partitions]
    __shared__ float scratch[32];
    const int np = r.num_partitions;
    const i64 row = blockIdx.x;
    const float* ml = r.part_ml + row * np * 2;

    float m = NEG_INF;
    for (int p = threadIdx.x; p < np; p += blockDim.x) {
        m = fmaxf(m, ml[2 * p]);
    }
    const float big_m = block_reduce(m, true, scratch);
    float l = 0.0f;
    for (int p = threadIdx.x; p < np; p += blockDim.x) {
        const float mp = ml[2 * p];
        const float w = mp == NEG_INF ? 0.0f : expf(mp - big_m);
        weights[p] = w;
        l += w * ml[2 * p + 1];
    }
    const float big_l = block_reduce(l, false, scratch);  // its barriers publish `weights`
    const float inv = big_l > 0.0f ? 1.0f / big_l : 0.0f;
    typedef Elem<Q_DT> QE;
    typename QE::T* out = (typename QE::T*)r.out;
    for (int d = threadIdx.x; d < HEAD_DIM; d += blockDim.x) {
        float acc = 0.0f;
        for (int p = 0; p < np; ++p) {
            acc += weights[p] * r.part_out[(row * np + p) * HEAD_DIM + d];
        }
        QE::store(out, row * HEAD_DIM + d, acc * inv);
    }
}

// ---------------------------------------------------------------------------------------------
// attn_mma: tensor cores (mma.sync m16n8k16, f32 accumulators) for f16/bf16 queries over caches
// of the same dtype or FP8 (converted exactly to q's dtype in registers; the FP8 scales multiply
// the logits and the output). HEAD_DIM must be a multiple of 16.
//
// A warp owns 16 rows (one m16 tile; rows past the sequence's end are zero). A block has
// WR x WK warps: WR warps on consecutive row tiles (prefill: 64 rows per block, each warp walks
// the keys its rows need), or one row tile whose keys WK warps split in 16-key chunks (decode:
// the GQA group of one token, 4 warps streaming one sequence's K and V), combined at the end
// through shared memory in a fixed order.
//
// Each 16-key chunk: a thread loads K rows and V rows straight from global memory into
// registers (16-byte loads, no shared memory), S = Q K^T by D/16 mma per 8 keys, an online
// softmax update per row, then O += P V by mma per 8 output dims.
//
// Fragment layouts (PTX ISA, mma.m16n8k16 .f16/.bf16; g = lane / 4, t = lane % 4):
//   A (16 x 16): a0a1 = (row g, k 2t..2t+1), a2a3 = (g + 8, 2t..), a4a5 = (g, 2t+8..),
//                a6a7 = (g + 8, 2t+8..)
//   B (16 x 8):  b0b1 = (k 2t..2t+1, col g), b2b3 = (k 2t+8..2t+9, col g)
//   C (16 x 8):  c0c1 = (row g, col 2t..2t+1), c2c3 = (row g + 8, col 2t..2t+1)
//
// Two permutations keep every global access a straight vector load:
// * S = Q K^T sums over head dims, so any bijection between the mma's k index and the head
//   dims serves if Q and K use the same one. For the chunk pair (2p, 2p+1) thread t loads dims
//   32p + 8t .. 32p + 8t + 7 of its K row (one 16-byte load) and of its Q rows, and uses
//   dims +0,+1 / +2,+3 as chunk 2p's (k 2t..) / (k 2t+8..) pairs and +4,+5 / +6,+7 as chunk
//   2p+1's. A trailing lone chunk uses dims 32p + 4t .. +3 the same way.
// * O = P V: the mma's n index (B's col g, C's cols 2t, 2t+1) may map to any head dims if the
//   output is written back through the same map. Output dims come in groups of 64 (8 n-tiles;
//   a last group of W = (HEAD_DIM % 64) / 8 n-tiles): n-tile 8G + jj, column c is head dim
//   64G + W c + jj. Thread g then needs dims 64G + W g .. + W - 1 of four V rows (keys 2t, 2t+1,
//   2t+8, 2t+9 of the chunk): one 16-byte load each for full groups, and byte_perm pairs the
//   halves of two keys into a B register. The C fragment gives thread t the 2W contiguous dims
//   64G + 2Wt .. of its rows, written with 16-byte stores.

#ifdef MMA

#if Q_DT != DT_F16 && Q_DT != DT_BF16
#error "attn_mma takes f16 or bf16 queries"
#endif
#if (K_DT != Q_DT && K_DT != DT_FP8) || (V_DT != Q_DT && V_DT != DT_FP8)
#error "attn_mma takes caches in q's dtype or FP8"
#endif
#if HEAD_DIM % 16 != 0 || HEAD_DIM > 256
#error "attn_mma takes head dims that are multiples of 16, up to 256"
#endif
#if WK > 1 && WR != 1
#error "attn_mma splits keys across warps only for one row tile"
#endif

#define NWARPS (WR * WK)
#define NCH (HEAD_DIM / 16)            // k16 chunks of the head dim
#define NPAIR (HEAD_DIM / 32)          // pairs of chunks
#define LONE (NCH & 1)                 // a trailing lone chunk
#define NT (HEAD_DIM / 8)              // n8 tiles of the output
#define NG (HEAD_DIM / 64)             // full groups of 8 n-tiles
#define TAILW ((HEAD_DIM % 64) / 8)    // n-tiles of the last, partial group (0, 2, 4 or 6)
#define NVG (NG + (TAILW > 0 ? 1 : 0))  // V groups

__device__ __forceinline__ void mma16816(float (&c)[4], const u32 (&a)[4], u32 b0, u32 b1) {
#ifdef NIM_EMULATE
    emu_mma16816(c, a, b0, b1, Q_DT == DT_BF16);
#elif Q_DT == DT_BF16
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
        "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#else
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 "
        "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
#endif
}

// Two f32 values as a pair of q's dtype (rounded to nearest even): `lo` in the low half.
__device__ __forceinline__ u32 pack2(float lo, float hi) {
    u32 r;
#ifdef NIM_EMULATE
    r = emu_pack2(lo, hi, Q_DT == DT_BF16);
#elif Q_DT == DT_BF16
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
#else
    asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
#endif
    return r;
}

__device__ __forceinline__ float unpack_lo(u32 r) {
#if Q_DT == DT_BF16
    return __uint_as_float(r << 16);
#else
    return f16_to_f32((u16)(r & 0xffffu));
#endif
}

__device__ __forceinline__ float unpack_hi(u32 r) {
#if Q_DT == DT_BF16
    return __uint_as_float(r & 0xffff0000u);
#else
    return f16_to_f32((u16)(r >> 16));
#endif
}

// Two FP8 E4M3 codes (low byte first) as a pair of q's dtype; exact.
__device__ __forceinline__ u32 fp8x2_to_pair(u32 two) {
#if __CUDA_ARCH__ >= 890
    u32 h;
    asm("cvt.rn.f16x2.e4m3x2 %0, %1;" : "=r"(h) : "h"((u16)(two & 0xffffu)));
#if Q_DT == DT_BF16
    // f16 -> f32 -> bf16 keeps every E4M3 value exactly (at most 4 significant bits).
    const u32 lo = __float_as_uint(f16_to_f32((u16)(h & 0xffffu)));
    const u32 hi = __float_as_uint(f16_to_f32((u16)(h >> 16)));
    return (lo >> 16) | (hi & 0xffff0000u);
#else
    return h;
#endif
#else
    const float lo = fp8_to_f32((u8)(two & 0xffu));
    const float hi = fp8_to_f32((u8)((two >> 8) & 0xffu));
#if Q_DT == DT_BF16
    return (__float_as_uint(lo) >> 16) | (__float_as_uint(hi) & 0xffff0000u);
#else
    return pack2(lo, hi);
#endif
#endif
}

// Loads the W (2, 4, 6 or 8) elements of dtype DT at element e of `base` as W/2 pairs of q's
// dtype into r. e is a multiple of W, the row starts are 16-byte aligned: every load below is
// aligned to its size.
template <int DT, int W>
__device__ __forceinline__ void load_pairs(const void* base, i64 e, u32* r) {
    if constexpr (DT == DT_FP8) {
        const u8* p = (const u8*)base + e;
        if constexpr (W == 8) {
            const uint2 v = __ldg((const uint2*)p);
            r[0] = fp8x2_to_pair(v.x & 0xffffu);
            r[1] = fp8x2_to_pair(v.x >> 16);
            r[2] = fp8x2_to_pair(v.y & 0xffffu);
            r[3] = fp8x2_to_pair(v.y >> 16);
        } else if constexpr (W == 4) {
            const u32 v = __ldg((const unsigned int*)p);
            r[0] = fp8x2_to_pair(v & 0xffffu);
            r[1] = fp8x2_to_pair(v >> 16);
        } else {
#pragma unroll
            for (int i = 0; i < W / 2; ++i) {
                r[i] = fp8x2_to_pair(__ldg((const unsigned short*)(p + 2 * i)));
            }
        }
    } else {
        const u16* p = (const u16*)base + e;
        if constexpr (W == 8) {
            const uint4 v = __ldg((const uint4*)p);
            r[0] = v.x;
            r[1] = v.y;
            r[2] = v.z;
            r[3] = v.w;
        } else if constexpr (W == 4) {
            const uint2 v = __ldg((const uint2*)p);
            r[0] = v.x;
            r[1] = v.y;
        } else {
#pragma unroll
            for (int i = 0; i < W / 2; ++i) {
                r[i] = __ldg((const unsigned int*)(p + 2 * i));
            }
        }
    }
}

// The K fragments of one key for every chunk (see the permutation above); zeros when row < 0.
__device__ __forceinline__ void load_k(const void* k_cache, i64 row, int t, u32 (&kb)[NCH][2]) {
#pragma unroll
    for (int p = 0; p < NPAIR; ++p) {
        u32 v[4] = {0u, 0u, 0u, 0u};
        if (row >= 0) {
            load_pairs<K_DT, 8>(k_cache, row + 32 * p + 8 * t, v);
        }
        kb[2 * p][0] = v[0];
        kb[2 * p][1] = v[1];
        kb[2 * p + 1][0] = v[2];
        kb[2 * p + 1][1] = v[3];
    }
#if LONE
    {
        u32 v[2] = {0u, 0u};
        if (row >= 0) {
            load_pairs<K_DT, 4>(k_cache, row + 32 * NPAIR + 4 * t, v);
        }
        kb[2 * NPAIR][0] = v[0];
        kb[2 * NPAIR][1] = v[1];
    }
#endif
}

// Dims g * W .. of every V group of one key, as pairs; zeros when row < 0.
__device__ __forceinline__ void load_v(const void* v_cache, i64 row, int g, u32 (&vv)[NVG][4]) {
#pragma unroll
    for (int G = 0; G < NVG; ++G) {
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            vv[G][i] = 0u;
        }
    }
    if (row < 0) {
        return;
    }
#pragma unroll
    for (int G = 0; G < NG; ++G) {
        load_pairs<V_DT, 8>(v_cache, row + 64 * G + 8 * g, vv[G]);
    }
#if TAILW > 0
    load_pairs<V_DT, TAILW>(v_cache, row + 64 * NG + TAILW * g, vv[NG]);
#endif
}

// Stores the 2W contiguous values vals[0 .. 2W) at element e of a row of dtype DT (f32, f16 or
// bf16); 16-byte stores when W = 8.
template <int DT, int W>
__device__ __forceinline__ void store_run(void* base, i64 e, const float* vals) {
    if constexpr (DT == DT_F32) {
        float* p = (float*)base + e;
        if constexpr (W == 8) {
#pragma unroll
            for (int i = 0; i < 4; ++i) {
                *(float4*)(p + 4 * i) =
                    make_float4(vals[4 * i], vals[4 * i + 1], vals[4 * i + 2], vals[4 * i + 3]);
            }
        } else {
#pragma unroll
            for (int i = 0; i < 2 * W; ++i) {
                p[i] = vals[i];
            }
        }
    } else {
        typedef Elem<DT> E;
        typename E::T* p = (typename E::T*)base + e;
        if constexpr (W == 8) {
            u32 w[8];
#pragma unroll
            for (int i = 0; i < 8; ++i) {
                typename E::T h[2];
                E::store(h, 0, vals[2 * i]);
                E::store(h, 1, vals[2 * i + 1]);
                w[i] = (u32)h[0] | ((u32)h[1] << 16);
            }
            *(uint4*)p = make_uint4(w[0], w[1], w[2], w[3]);
            *(uint4*)(p + 8) = make_uint4(w[4], w[5], w[6], w[7]);
        } else {
#pragma unroll
            for (int i = 0; i < 2 * W; ++i) {
                E::store(p, i, vals[i]);
            }
        }
    }
}

// Writes a row's values of one output group G (width W) held by thread t: o[8G + jj][col]
// for col = 0, 1 (c0/c1 or c2/c3 of the n-tile) scaled by `mul`, to dims 64G + 2Wt ...
template <int DT, int W>
__device__ __forceinline__ void store_group(void* base, i64 row_elem, int G, int t,
                                            const float (&o)[NT][4], int e0, float mul) {
    float vals[16];
#pragma unroll
    for (int jj = 0; jj < W; ++jj) {
        vals[jj] = o[8 * G + jj][e0] * mul;          // column 2t
        vals[W + jj] = o[8 * G + jj][e0 + 1] * mul;  // column 2t + 1
    }
    store_run<DT, W>(base, row_elem + 64 * G + 2 * W * t, vals);
}

template <int DT>
__device__ __forceinline__ void store_row(void* base, i64 row_elem, int t,
                                          const float (&o)[NT][4], int e0, float mul) {
#pragma unroll
    for (int G = 0; G < NG; ++G) {
        store_group<DT, 8>(base, row_elem, G, t, o, e0, mul);
    }
#if TAILW > 0
    store_group<DT, TAILW>(base, row_elem, NG, t, o, e0, mul);
#endif
}

// The head dim of column c of n-tile n (see the permutation above).
__device__ __forceinline__ int out_dim(int n, int c) {
    const int G = n / 8;
    const int w = G < NG ? 8 : TAILW;
    return 64 * G + w * c + (n % 8);
}

extern "C" __global__ void __launch_bounds__(NWARPS * 32) attn_mma(const AttnArgs a) {
    const int warp = threadIdx.x >> 5;
    const int lane = threadIdx.x & 31;
    const int g = lane >> 2;
    const int t = lane & 3;
    const int wr = warp / WK;
    const int wk = warp % WK;
    const int kvh = blockIdx.y;
    const int part = blockIdx.z;
    const Seq s = seq_of(a, a.tiles[2 * blockIdx.x]);
    const int row0 = a.tiles[2 * blockIdx.x + 1];
    int plo, phi;
    block_keys(a, s, row0, min(row0 + 16 * WR, s.rows) - 1, part, plo, phi);

    // This warp's 16 rows, and the two of them this thread holds in C fragments (A: g, B: g+8).
    const int wrow0 = row0 + 16 * wr;
    int klo = plo;
    int khi = plo;
    if (wrow0 < s.rows) {
        klo = max(plo, window_start(a, pos_of(a, s, wrow0)));
        khi = min(phi, pos_of(a, s, min(wrow0 + 16, s.rows) - 1) + 1);
    }
    const int fa = wrow0 + g;
    const int fb = wrow0 + g + 8;
    const bool va = fa < s.rows;
    const bool vb = fb < s.rows;
    const int pos_a = va ? pos_of(a, s, fa) : -1;
    const int pos_b = vb ? pos_of(a, s, fb) : -1;
    const int ws_a = window_start(a, pos_a);
    const int ws_b = window_start(a, pos_b);
    const i64 orow_a = va ? out_row_of(a, s, kvh, fa) : 0;
    const i64 orow_b = vb ? out_row_of(a, s, kvh, fb) : 0;
    const float slope_a = (a.alibi != nullptr && va) ? a.alibi[orow_a % a.num_heads] : 0.0f;
    const float slope_b = (a.alibi != nullptr && vb) ? a.alibi[orow_b % a.num_heads] : 0.0f;

    // Q fragments, with the K permutation.
    u32 qa[NCH][4];
    {
        const u16* q = (const u16*)a.q;
#pragma unroll
        for (int p = 0; p < NPAIR; ++p) {
            uint4 x = make_uint4(0u, 0u, 0u, 0u);
            uint4 y = make_uint4(0u, 0u, 0u, 0u);
            if (va) {
                x = __ldg((const uint4*)(q + orow_a * HEAD_DIM + 32 * p + 8 * t));
            }
            if (vb) {
                y = __ldg((const uint4*)(q + orow_b * HEAD_DIM + 32 * p + 8 * t));
            }
            qa[2 * p][0] = x.x;
            qa[2 * p][1] = y.x;
            qa[2 * p][2] = x.y;
            qa[2 * p][3] = y.y;
            qa[2 * p + 1][0] = x.z;
            qa[2 * p + 1][1] = y.z;
            qa[2 * p + 1][2] = x.w;
            qa[2 * p + 1][3] = y.w;
        }
#if LONE
        uint2 x = make_uint2(0u, 0u);
        uint2 y = make_uint2(0u, 0u);
        if (va) {
            x = __ldg((const uint2*)(q + orow_a * HEAD_DIM + 32 * NPAIR + 4 * t));
        }
        if (vb) {
            y = __ldg((const uint2*)(q + orow_b * HEAD_DIM + 32 * NPAIR + 4 * t));
        }
        qa[2 * NPAIR][0] = x.x;
        qa[2 * NPAIR][1] = y.x;
        qa[2 * NPAIR][2] = x.y;
        qa[2 * NPAIR][3] = y.y;
#endif
    }

    float o[NT][4];
#pragma unroll
    for (int n = 0; n < NT; ++n) {
#pragma unroll
        for (int e = 0; e < 4; ++e) {
            o[n][e] = 0.0f;
        }
    }
    float m_a = NEG_INF;
    float m_b = NEG_INF;
    float l_a = 0.0f;
    float l_b = 0.0f;
    const float sk = a.scale * (K_DT == DT_FP8 ? a.k_scale : 1.0f);

    const int chunks = khi > klo ? (khi - klo + 15) / 16 : 0;
    for (int ci = wk; ci < chunks; ci += WK) {
        const int c0 = klo + 16 * ci;
        // Keys of the two S tiles (this thread loads key c0 + g and c0 + 8 + g) and of the
        // P.V product (keys c0 + 2t, 2t + 1, 2t + 8, 2t + 9).
        u32 kb0[NCH][2];
        u32 kb1[NCH][2];
        load_k(a.k_cache, c0 + g < khi ? kv_row(a, s, kvh, c0 + g) : -1, t, kb0);
        load_k(a.k_cache, c0 + 8 + g < khi ? kv_row(a, s, kvh, c0 + 8 + g) : -1, t, kb1);
        u32 vv[4][NVG][4];
#pragma unroll
        for (int i = 0; i < 4; ++i) {
            const int j = c0 + 2 * t + (i & 1) + 8 * (i >> 1);
            load_v(a.v_cache, j < khi ? kv_row(a, s, kvh, j) : -1, g, vv[i]);
        }

        float s0[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        float s1[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
        for (int c = 0; c < NCH; ++c) {
            mma16816(s0, qa[c], kb0[c][0], kb0[c][1]);
            mma16816(s1, qa[c], kb1[c][0], kb1[c][1]);
        }

        // Logits and masks. s_j[e]: row g (e < 2) or g + 8, key c0 + 8j + 2t + (e & 1).
#pragma unroll
        for (int e = 0; e < 4; ++e) {
            const bool row_b = e >= 2;
            const bool valid = row_b ? vb : va;
            const int pos = row_b ? pos_b : pos_a;
            const int ws = row_b ? ws_b : ws_a;
            const float slope = row_b ? slope_b : slope_a;
            const int j0 = c0 + 2 * t + (e & 1);
            const int j1 = j0 + 8;
            const bool in0 = valid && j0 >= klo && j0 < khi && j0 >= ws && j0 <= pos;
            const bool in1 = valid && j1 >= klo && j1 < khi && j1 >= ws && j1 <= pos;
            s0[e] = in0 ? finish_logit(a, s0[e] * sk, slope, j0, pos) : NEG_INF;
            s1[e] = in1 ? finish_logit(a, s1[e] * sk, slope, j1, pos) : NEG_INF;
        }

        // Online softmax per row; the four threads of a row (same g) agree on its maximum.
        float cm_a = fmaxf(fmaxf(s0[0], s0[1]), fmaxf(s1[0], s1[1]));
        float cm_b = fmaxf(fmaxf(s0[2], s0[3]), fmaxf(s1[2], s1[3]));
        cm_a = fmaxf(cm_a, __shfl_xor_sync(0xffffffffu, cm_a, 1));
        cm_a = fmaxf(cm_a, __shfl_xor_sync(0xffffffffu, cm_a, 2));
        cm_b = fmaxf(cm_b, __shfl_xor_sync(0xffffffffu, cm_b, 1));
        cm_b = fmaxf(cm_b, __shfl_xor_sync(0xffffffffu, cm_b, 2));
        const float mn_a = fmaxf(m_a, cm_a);
        const float mn_b = fmaxf(m_b, cm_b);
        // While a row has seen no key its maximum is -inf: subtract 0 instead (p = 0 anyway).
        const float base_a = mn_a == NEG_INF ? 0.0f : mn_a;
        const float base_b = mn_b == NEG_INF ? 0.0f : mn_b;
        const float alpha_a = exp2f((m_a - base_a) * LOG2E);
        const float alpha_b = exp2f((m_b - base_b) * LOG2E);
#pragma unroll
        for (int e = 0; e < 4; ++e) {
            const float base = e >= 2 ? base_b : base_a;
            s0[e] = exp2f((s0[e] - base) * LOG2E);
            s1[e] = exp2f((s1[e] - base) * LOG2E);
        }
        l_a = l_a * alpha_a + (s0[0] + s0[1] + s1[0] + s1[1]);
        l_b = l_b * alpha_b + (s0[2] + s0[3] + s1[2] + s1[3]);
        m_a = mn_a;
        m_b = mn_b;
#pragma unroll
        for (int n = 0; n < NT; ++n) {
            o[n][0] *= alpha_a;
            o[n][1] *= alpha_a;
            o[n][2] *= alpha_b;
            o[n][3] *= alpha_b;
        }

        // P as an A fragment (k = key within the chunk): S tile 0 gives k 2t.., tile 1 k 2t+8..
        u32 ph[4];
        ph[0] = pack2(s0[0], s0[1]);
        ph[1] = pack2(s0[2], s0[3]);
        ph[2] = pack2(s1[0], s1[1]);
        ph[3] = pack2(s1[2], s1[3]);
#if PV_SPLIT
        u32 pl[4];
        pl[0] = pack2(s0[0] - unpack_lo(ph[0]), s0[1] - unpack_hi(ph[0]));
        pl[1] = pack2(s0[2] - unpack_lo(ph[1]), s0[3] - unpack_hi(ph[1]));
        pl[2] = pack2(s1[0] - unpack_lo(ph[2]), s1[1] - unpack_hi(ph[2]));
        pl[3] = pack2(s1[2] - unpack_lo(ph[3]), s1[3] - unpack_hi(ph[3]));
#endif

        // O += P V, n-tile by n-tile.
#pragma unroll
        for (int G = 0; G < NVG; ++G) {
            const int w = G < NG ? 8 : TAILW;
#pragma unroll
            for (int jj = 0; jj < 8; ++jj) {
                if (jj < w) {
                    const u32 sel = (jj & 1) ? 0x7632u : 0x5410u;
                    const u32 b0 = __byte_perm(vv[0][G][jj >> 1], vv[1][G][jj >> 1], sel);
                    const u32 b1 = __byte_perm(vv[2][G][jj >> 1], vv[3][G][jj >> 1], sel);
                    mma16816(o[8 * G + jj], ph, b0, b1);
#if PV_SPLIT
                    mma16816(o[8 * G + jj], pl, b0, b1);
#endif
                }
            }
        }
    }

    // Each row's sum over its four threads.
    l_a += __shfl_xor_sync(0xffffffffu, l_a, 1);
    l_a += __shfl_xor_sync(0xffffffffu, l_a, 2);
    l_b += __shfl_xor_sync(0xffffffffu, l_b, 1);
    l_b += __shfl_xor_sync(0xffffffffu, l_b, 2);
    const float vmul = V_DT == DT_FP8 ? a.v_scale : 1.0f;

#if WK == 1
    if (a.num_partitions == 1) {
        if (va) {
            store_row<Q_DT>(a.out, orow_a * HEAD_DIM, t, o, 0, l_a > 0.0f ? vmul / l_a : 0.0f);
        }
        if (vb) {
            store_row<Q_DT>(a.out, orow_b * HEAD_DIM, t, o, 2, l_b > 0.0f ? vmul / l_b : 0.0f);
        }
    } else {
        const i64 prow_a = orow_a * a.num_partitions + part;
        const i64 prow_b = orow_b * a.num_partitions + part;
        if (va) {
            store_row<DT_F32>(a.part_out, prow_a * HEAD_DIM, t, o, 0, vmul);
            if (t == 0) {
                a.part_ml[2 * prow_a] = m_a;
                a.part_ml[2 * prow_a + 1] = l_a;
            }
        }
        if (vb) {
            store_row<DT_F32>(a.part_out, prow_b * HEAD_DIM, t, o, 2, vmul);
            if (t == 0) {
                a.part_ml[2 * prow_b] = m_b;
                a.part_ml[2 * prow_b + 1] = l_b;
            }
        }
    }
#else
    // Combine the WK warps' states in a fixed order: warp 0 stores, warps 1.. add in turn.
    __shared__ float sm_m[WK][16];
    __shared__ float sm_l[WK][16];
    // One padding float per row: the stores below (8 rows x 4 column runs per warp) then hit
    // at most two threads per bank.
    __shared__ float sm_o[16][HEAD_DIM + 1];
    if (t == 0) {
        sm_m[wk][g] = m_a;
        sm_m[wk][g + 8] = m_b;
        sm_l[wk][g] = l_a;
        sm_l[wk][g + 8] = l_b;
    }
    __syncthreads();
    float big_a = NEG_INF;
    float big_b = NEG_INF;
#pragma unroll
    for (int w = 0; w < WK; ++w) {
        big_a = fmaxf(big_a, sm_m[w][g]);
        big_b = fmaxf(big_b, sm_m[w][g + 8]);
    }
    const float f_a = m_a == NEG_INF ? 0.0f : exp2f((m_a - big_a) * LOG2E) * vmul;
    const float f_b = m_b == NEG_INF ? 0.0f : exp2f((m_b - big_b) * LOG2E) * vmul;
#pragma unroll
    for (int w = 0; w < WK; ++w) {
        if (wk == w) {
#pragma unroll
            for (int n = 0; n < NT; ++n) {
#pragma unroll
                for (int e = 0; e < 4; ++e) {
                    const int r = e >= 2 ? g + 8 : g;
                    const int d = out_dim(n, 2 * t + (e & 1));
                    const float v = o[n][e] * (e >= 2 ? f_b : f_a);
                    if (w == 0) {
                        sm_o[r][d] = v;
                    } else {
                        sm_o[r][d] += v;
                    }
                }
            }
        }
        __syncthreads();
    }
    for (int i = threadIdx.x; i < 16 * HEAD_DIM; i += blockDim.x) {
        const int r = i / HEAD_DIM;
        const int d = i % HEAD_DIM;
        const int f = wrow0 + r;
        if (f >= s.rows) {
            continue;
        }
        float big = NEG_INF;
#pragma unroll
        for (int w = 0; w < WK; ++w) {
            big = fmaxf(big, sm_m[w][r]);
        }
        float sum = 0.0f;
#pragma unroll
        for (int w = 0; w < WK; ++w) {
            const float mw = sm_m[w][r];
            sum += mw == NEG_INF ? 0.0f : sm_l[w][r] * exp2f((mw - big) * LOG2E);
        }
        const i64 orow = out_row_of(a, s, kvh, f);
        if (a.num_partitions == 1) {
            Elem<Q_DT>::store((typename Elem<Q_DT>::T*)a.out, orow * HEAD_DIM + d,
                              sum > 0.0f ? sm_o[r][d] / sum : 0.0f);
        } else {
            const i64 prow = orow * a.num_partitions + part;
            a.part_out[prow * HEAD_DIM + d] = sm_o[r][d];
            if (d == 0) {
                a.part_ml[2 * prow] = big;
                a.part_ml[2 * prow + 1] = sum;
            }
        }
    }
#endif
}

#endif  // MMA
