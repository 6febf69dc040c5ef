// Runs the attention kernels on the CPU through emulate.h and compares them with a naive f64
// attention, over a matrix of GQA ratios, block sizes, contexts (0, 1, block edges, random),
// sliding windows, ALiBi, soft-caps, one or several partitions (split-K with attn_reduce) and
// prefill with cached prefixes. Unused cache slots hold NaN and unused block-table entries
// garbage, so a read outside a sequence shows as a NaN or a crash.
//
// Compiled once per kernel specialization by run.sh (the same macros the backend passes to
// NVRTC). Prints one line per case and exits 1 on the first mismatch.

#include "emulate.h"

#include "../common.cuh"
#include "../attention.cu"

#include <algorithm>
#include <string>

#ifdef MMA
#define ROWS_PER_TILE (16 * WR)
#define THREADS (WR * WK * 32)
#else
#define ROWS_PER_TILE SIMT_WARPS
#define THREADS (SIMT_WARPS * 32)
#endif

struct Rng {
    uint64_t s;
    uint64_t next() {
        s += 0x9e3779b97f4a7c15ull;
        uint64_t z = s;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    double uniform() { return (double)(next() >> 11) / (double)(1ull << 53); }
    int range(int lo, int hi) { return lo + (int)(next() % (uint64_t)(hi - lo + 1)); }
    float normal() {
        const double u = 1.0 - uniform();
        const double v = uniform();
        return (float)(std::sqrt(-2.0 * std::log(u)) * std::cos(6.283185307179586 * v));
    }
};

template <int DT>
struct Buf {
    std::vector<typename Elem<DT>::T> v;
    float scale = 1.0f;  // FP8 only
    void poison(size_t n) {
        typename Elem<DT>::T nan;
        if constexpr (DT == DT_F32) {
            nan = __uint_as_float(0x7fc00000u);
        } else if constexpr (DT == DT_F16) {
            nan = 0x7e00;
        } else if constexpr (DT == DT_BF16) {
            nan = 0x7fc0;
        } else {
            nan = 0x7f;
        }
        v.assign(n, nan);
    }
    void put(size_t i, float x) { Elem<DT>::store(v.data(), (i64)i, DT == DT_FP8 ? x / scale : x); }
    double get(size_t i) const {
        const double x = Elem<DT>::load(v.data(), (i64)i);
        return DT == DT_FP8 ? x * scale : x;
    }
};

struct Case {
    std::string name;
    uint64_t seed;
    int group;
    int kv_heads;
    int block_size;
    bool decode;
    // decode: context per sequence (0 = padding); prefill: (cached prefix, new tokens).
    std::vector<std::pair<int, int>> seqs;
    int window = 0;
    bool alibi = false;
    float cap = 0.0f;
    float scale = 0.0f;     // 0: 1/sqrt(HEAD_DIM)
    int part_tokens = 0;    // 0: one partition
};

static int failures = 0;

static void run_case(const Case& c) {
    Rng rng{c.seed};
    const int D = HEAD_DIM;
    const int H = c.group * c.kv_heads;
    const int bs = c.block_size;
    const int ns = (int)c.seqs.size();
    std::vector<int> ctx(ns), n_new(ns);
    for (int s = 0; s < ns; ++s) {
        if (c.decode) {
            ctx[s] = c.seqs[s].first;
            n_new[s] = 1;
        } else {
            ctx[s] = c.seqs[s].first + c.seqs[s].second;
            n_new[s] = c.seqs[s].second;
        }
    }
    std::vector<int> cu(ns + 1, 0);
    for (int s = 0; s < ns; ++s) {
        cu[s + 1] = cu[s] + n_new[s];
    }
    const int tokens = cu[ns];
    int max_blocks = 1;
    int num_blocks = 2;
    for (int s = 0; s < ns; ++s) {
        max_blocks = std::max(max_blocks, (ctx[s] + bs - 1) / bs + 1);
        num_blocks += (ctx[s] + bs - 1) / bs;
    }
    std::vector<int> perm(num_blocks);
    for (int i = 0; i < num_blocks; ++i) perm[i] = i;
    for (int i = num_blocks - 1; i > 0; --i) std::swap(perm[i], perm[rng.range(0, i)]);
    std::vector<int> tables((size_t)ns * max_blocks, 0x7fffffff);
    int next = 0;
    for (int s = 0; s < ns; ++s) {
        const int used = (ctx[s] + bs - 1) / bs;
        for (int i = 0; i < used; ++i) tables[(size_t)s * max_blocks + i] = perm[next++];
        if (used + 1 < max_blocks) tables[(size_t)s * max_blocks + used + 1] = -7;
    }
    const size_t cache_elems = (size_t)num_blocks * bs * c.kv_heads * D;
    Buf<K_DT> kc;
    Buf<V_DT> vc;
    kc.scale = 0.5f;
    vc.scale = 0.25f;
    kc.poison(cache_elems);
    vc.poison(cache_elems);
    auto row_of = [&](int s, int j, int h) {
        const size_t slot = (size_t)tables[(size_t)s * max_blocks + j / bs] * bs + j % bs;
        return (slot * c.kv_heads + h) * D;
    };
    for (int s = 0; s < ns; ++s) {
        for (int j = 0; j < ctx[s]; ++j) {
            for (int h = 0; h < c.kv_heads; ++h) {
                for (int d = 0; d < D; ++d) {
                    kc.put(row_of(s, j, h) + d, rng.normal());
                    vc.put(row_of(s, j, h) + d, rng.normal());
                }
            }
        }
    }
    Buf<Q_DT> q;
    q.v.resize((size_t)tokens * H * D);
    for (size_t i = 0; i < q.v.size(); ++i) q.put(i, rng.normal());
    std::vector<float> slopes(H);
    for (int h = 0; h < H; ++h) slopes[h] = std::pow(2.0f, -8.0f * (h + 1) / H);
    const float scale = c.scale > 0 ? c.scale : (float)(1.0 / std::sqrt((double)D));

    // Reference, f64.
    std::vector<double> want((size_t)tokens * H * D, 0.0);
    for (int s = 0; s < ns; ++s) {
        for (int i = 0; i < n_new[s]; ++i) {
            const int tok = cu[s] + i;
            const int p = ctx[s] - n_new[s] + i;
            if (p < 0) continue;
            const int first = c.window > 0 ? std::max(0, p + 1 - c.window) : 0;
            for (int h = 0; h < H; ++h) {
                const int kvh = h / c.group;
                std::vector<double> logits;
                for (int j = first; j <= p; ++j) {
                    double dot = 0;
                    for (int d = 0; d < D; ++d)
                        dot += q.get(((size_t)tok * H + h) * D + d) * kc.get(row_of(s, j, kvh) + d);
                    double x = (double)scale * dot;
                    if (c.cap > 0) x = c.cap * std::tanh(x / c.cap);
                    if (c.alibi) x += (double)slopes[h] * (double)(j - p);
                    logits.push_back(x);
                }
                double mx = -INFINITY;
                for (double x : logits) mx = std::max(mx, x);
                double total = 0;
                for (double& x : logits) total += (x = std::exp(x - mx));
                for (int j = first; j <= p; ++j) {
                    const double w = logits[j - first] / total;
                    for (int d = 0; d < D; ++d)
                        want[((size_t)tok * H + h) * D + d] += w * vc.get(row_of(s, j, kvh) + d);
                }
            }
        }
    }

    // Plan: tiles of ROWS_PER_TILE rows, partitions over the longest block range.
    std::vector<int> tiles;
    int max_len = 0;
    for (int s = 0; s < ns; ++s) {
        const int rows = n_new[s] * c.group;
        for (int r0 = 0; r0 < rows; r0 += ROWS_PER_TILE) {
            tiles.push_back(s);
            tiles.push_back(r0);
            const int last = std::min(r0 + ROWS_PER_TILE, rows) - 1;
            const int p0 = ctx[s] - n_new[s] + r0 / c.group;
            const int p1 = ctx[s] - n_new[s] + last / c.group;
            const int lo = c.window > 0 ? std::max(0, p0 + 1 - c.window) : 0;
            max_len = std::max(max_len, p1 + 1 - lo);
        }
    }
    const int P = c.part_tokens > 0 ? c.part_tokens : std::max(max_len, 1);
    const int np = std::max(1, (max_len + P - 1) / P);

    Buf<Q_DT> out;
    out.poison((size_t)tokens * H * D);
    std::vector<float> part_out((size_t)tokens * H * np * D, NAN);
    std::vector<float> part_ml((size_t)tokens * H * np * 2, NAN);
    AttnArgs a{};
    a.q = q.v.data();
    a.k_cache = kc.v.data();
    a.v_cache = vc.v.data();
    a.out = out.v.data();
    a.part_out = part_out.data();
    a.part_ml = part_ml.data();
    a.block_tables = tables.data();
    a.context_lens = ctx.data();
    a.cu_seqlens = c.decode ? nullptr : cu.data();
    a.tiles = tiles.data();
    a.alibi = c.alibi ? slopes.data() : nullptr;
    a.max_blocks = max_blocks;
    a.num_heads = H;
    a.num_kv_heads = c.kv_heads;
    a.group = c.group;
    a.block_size = bs;
    a.partition_tokens = P;
    a.num_partitions = np;
    a.window = c.window;
    a.scale = scale;
    a.k_scale = kc.scale;
    a.v_scale = vc.scale;
    a.soft_cap = c.cap;
    const dim3 grid{(unsigned)(tiles.size() / 2), (unsigned)c.kv_heads, (unsigned)np};
#ifdef MMA
    emu_launch(attn_mma, grid, dim3{THREADS, 1, 1}, a);
#else
    emu_launch(attn_simt, grid, dim3{THREADS, 1, 1}, a);
#endif
    if (np > 1) {
        ReduceArgs r{};
        r.part_out = part_out.data();
        r.part_ml = part_ml.data();
        r.out = out.v.data();
        r.num_partitions = np;
        emu_launch(attn_reduce, dim3{(unsigned)(tokens * H), 1, 1}, dim3{128, 1, 1}, r);
    }

    const double atol = Q_DT == DT_F32 ? 1e-5 : (Q_DT == DT_F16 ? 1e-3 : 1e-2);
    const double rtol = atol;
    double max_err = 0, max_want = 0;
    size_t worst = 0;
    bool bad = false;
    for (size_t i = 0; i < want.size(); ++i) {
        const double got = out.get(i);
        const double err = std::fabs(got - want[i]);
        max_want = std::max(max_want, std::fabs(want[i]));
        if (!(err <= atol + rtol * std::fabs(want[i]))) {
            if (!bad) {
                std::printf("  element %zu (token %zu head %zu dim %zu): got %g want %g\n", i,
                            i / ((size_t)H * D), (i / D) % H, i % D, got, want[i]);
            }
            bad = true;
        }
        if (!(err <= max_err)) {
            max_err = err;
            worst = i;
        }
    }
    const double rel = max_want > 0 ? max_err / max_want : max_err;
    if (rel > atol) bad = true;
    std::printf("%s %-60s partitions %d  max|diff| %.3e (at %zu)  rel %.3e\n", bad ? "FAIL" : "ok  ",
                c.name.c_str(), np, max_err, worst, rel);
    if (bad) ++failures;
}

int main() {
    std::vector<Case> cases;
    uint64_t seed = 1;
    const bool decode_cases =
#ifdef MMA
        WK > 1;
#else
        true;
#endif
    const bool prefill_cases =
#ifdef MMA
        WK == 1;
#else
        true;
#endif
    if (decode_cases) {
        for (int group : {1, 4, 8, 20}) {
            for (int bs : {8, 16}) {
                for (int part : {0, 16, 37}) {
                    Case c;
                    c.name = "decode group " + std::to_string(group) + " block " + std::to_string(bs) +
                             " part " + std::to_string(part);
                    c.seed = seed++;
                    c.group = group;
                    c.kv_heads = 2;
                    c.block_size = bs;
                    c.decode = true;
                    c.seqs = {{1, 1}, {bs - 1, 1}, {bs, 1}, {0, 1}, {bs + 1, 1}, {150, 1}};
                    c.part_tokens = part;
                    cases.push_back(c);
                }
            }
        }
        const char* names[] = {"window 37", "window 1", "alibi", "soft-cap", "all"};
        for (int o = 0; o < 5; ++o) {
            for (int part : {0, 24}) {
                Case c;
                c.name = std::string("decode ") + names[o] + " part " + std::to_string(part);
                c.seed = seed++;
                c.group = 4;
                c.kv_heads = 2;
                c.block_size = 16;
                c.decode = true;
                c.seqs = {{1, 1}, {15, 1}, {36, 1}, {37, 1}, {38, 1}, {150, 1}};
                c.scale = 0.5f;
                c.window = o == 0 ? 37 : (o == 1 ? 1 : (o == 4 ? 20 : 0));
                c.alibi = o == 2 || o == 4;
                c.cap = o == 3 ? 2.5f : (o == 4 ? 5.0f : 0.0f);
                c.part_tokens = part;
                cases.push_back(c);
            }
        }
    }
    if (prefill_cases) {
        for (int group : {1, 2, 8}) {
            for (int part : {0, 32}) {
                Case c;
                c.name = "prefill group " + std::to_string(group) + " part " + std::to_string(part);
                c.seed = seed++;
                c.group = group;
                c.kv_heads = 2;
                c.block_size = 8;
                c.decode = false;
                c.seqs = {{0, 70}, {45, 20}, {3, 1}, {0, 1}, {17, 33}};
                c.part_tokens = part;
                cases.push_back(c);
            }
        }
        const char* names[] = {"window 24", "alibi", "soft-cap", "all"};
        for (int o = 0; o < 4; ++o) {
            Case c;
            c.name = std::string("prefill ") + names[o];
            c.seed = seed++;
            c.group = 2;
            c.kv_heads = 2;
            c.block_size = 8;
            c.decode = false;
            c.seqs = {{0, 70}, {45, 20}, {3, 1}};
            c.scale = 0.5f;
            c.window = o == 0 ? 24 : (o == 3 ? 9 : 0);
            c.alibi = o == 1 || o == 3;
            c.cap = o == 2 ? 3.0f : (o == 3 ? 4.0f : 0.0f);
            cases.push_back(c);
        }
    }
    for (const Case& c : cases) {
        run_case(c);
    }
    std::printf("%d of %zu cases failed\n", failures, cases.size());
    return failures == 0 ? 0 : 1;
}
