// KV-cache writes (vLLM's reshape_and_cache for the NHD layout) and block copies.
//
// One module serves every dtype: the element types are run-time arguments here, since these
// kernels move few bytes and a switch per element costs nothing next to the memory traffic.
//
// Layout (nim_engine::layout): a cache is [num_blocks, block_size, num_kv_heads, head_dim],
// head_dim innermost; the num_kv_heads * head_dim elements of one token are contiguous at
// slot * token_elems.

struct WriteKvArgs {
    void* k_cache;
    void* v_cache;
    const void* k;
    const void* v;
    const i64* slots;      // [num_tokens]; negative: padding, skipped
    i64 token_elems;       // num_kv_heads * head_dim
    int num_tokens;
    int k_cache_dt;        // DT_* of each tensor
    int v_cache_dt;
    int k_dt;
    int v_dt;
    int k_raw;             // 1: same encoding as the cache, copy the bits
    int v_raw;
    float k_src_scale;     // FP8 input scales (1 for other dtypes)
    float v_src_scale;
    float k_cache_scale;   // FP8 cache scales (1 for other dtypes)
    float v_cache_scale;
    int pad_;
};

// grid (num_tokens, 2): y = 0 writes K, y = 1 writes V. The host has already replaced all but
// the last of tokens that name the same slot by padding, so no two blocks write one slot.
extern "C" __global__ void write_kv(const WriteKvArgs a) {
    const int token = blockIdx.x;
    const bool is_v = blockIdx.y == 1;
    const i64 slot = a.slots[token];
    if (slot < 0) {
        return;
    }
    void* cache = is_v ? a.v_cache : a.k_cache;
    const void* src = is_v ? a.v : a.k;
    const int cdt = is_v ? a.v_cache_dt : a.k_cache_dt;
    const int sdt = is_v ? a.v_dt : a.k_dt;
    const int raw = is_v ? a.v_raw : a.k_raw;
    const float src_scale = is_v ? a.v_src_scale : a.k_src_scale;
    const float cache_scale = is_v ? a.v_cache_scale : a.k_cache_scale;
    const i64 n = a.token_elems;
    const i64 from = (i64)token * n;
    const i64 to = slot * n;
    if (raw) {
        const int size = dtype_size(cdt);
        for (i64 e = threadIdx.x; e < n; e += blockDim.x) {
            if (size == 4) {
                ((u32*)cache)[to + e] = ((const u32*)src)[from + e];
            } else if (size == 2) {
                ((u16*)cache)[to + e] = ((const u16*)src)[from + e];
            } else {
                ((u8*)cache)[to + e] = ((const u8*)src)[from + e];
            }
        }
        return;
    }
    for (i64 e = threadIdx.x; e < n; e += blockDim.x) {
        float x = load_any(src, from + e, sdt);
        if (sdt == DT_FP8) {
            x = x * src_scale;
        }
        if (cdt == DT_FP8) {
            x = x / cache_scale;
        }
        store_any(cache, to + e, cdt, x);
    }
}

struct CopyBlocksArgs {
    u8* k_cache;
    u8* v_cache;
    const int* pairs;      // [num_pairs, 2]: (src, dst) block ids
    i64 k_block_bytes;
    i64 v_block_bytes;
    int num_pairs;
    int pad_;
};

// grid (num_pairs, 2): y = 0 copies K blocks, y = 1 V blocks. The host launches the pairs in
// waves in which no block is both read and written, so the pairs of one launch are independent
// and the copies happen in the order the caller gave.
extern "C" __global__ void copy_blocks(const CopyBlocksArgs a) {
    const int pair = blockIdx.x;
    const bool is_v = blockIdx.y == 1;
    const i64 src = a.pairs[2 * pair];
    const i64 dst = a.pairs[2 * pair + 1];
    if (src == dst) {
        return;
    }
    const i64 bytes = is_v ? a.v_block_bytes : a.k_block_bytes;
    u8* base = is_v ? a.v_cache : a.k_cache;
    const u8* from = base + src * bytes;
    u8* to = base + dst * bytes;
    if ((bytes & 15) == 0) {
        const uint4* s = (const uint4*)from;
        uint4* d = (uint4*)to;
        for (i64 i = threadIdx.x; i < bytes / 16; i += blockDim.x) {
            d[i] = s[i];
        }
    } else {
        for (i64 i = threadIdx.x; i < bytes; i += blockDim.x) {
            to[i] = from[i];
        }
    }
}
