// A host emulation of the little of CUDA that nim-engine's kernels use, so that the kernel
// sources can be compiled as C++ and run on a CPU: a development check of their index
// arithmetic, fragment layouts, masks and split-K logic on machines without a GPU (see
// check.cpp and run.sh beside this file, and KERNELS.md). Not part of the crate's build.
//
// The CUDA threads of a block are fibers; __syncthreads is a block barrier, a warp shuffle or an
// mma.sync a warp barrier around an exchange through shared arrays. mma.sync
// follows the PTX ISA's m16n8k16 fragment layouts; its products are exact in f32 and are summed
// in f32. Blocks run one after another, so `__shared__` (a static) is per block.

#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <ucontext.h>
#include <vector>

#define NIM_EMULATE 1
#define __global__
#define __device__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static

struct dim3 {
    unsigned x = 1, y = 1, z = 1;
};
struct uint2 {
    unsigned x, y;
};
struct uint4 {
    unsigned x, y, z, w;
};
struct float4 {
    float x, y, z, w;
};
inline uint2 make_uint2(unsigned x, unsigned y) { return {x, y}; }
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return {x, y, z, w}; }
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }

inline dim3 blockDim;
inline dim3 gridDim;
inline dim3 threadIdx;
inline dim3 blockIdx;

inline float __uint_as_float(unsigned u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
}
inline unsigned __float_as_uint(float f) {
    unsigned u;
    std::memcpy(&u, &f, 4);
    return u;
}
inline float __int_as_float(int i) {
    float f;
    std::memcpy(&f, &i, 4);
    return f;
}
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
template <class T>
inline T __ldg(const T* p) {
    return *p;
}
inline unsigned __byte_perm(unsigned x, unsigned y, unsigned s) {
    const unsigned long long b = (unsigned long long)x | ((unsigned long long)y << 32);
    unsigned r = 0;
    for (int i = 0; i < 4; ++i) {
        const unsigned sel = (s >> (4 * i)) & 0xf;
        unsigned byte = (unsigned)(b >> (8 * (sel & 7))) & 0xff;
        if (sel & 8) {
            byte = (byte & 0x80) ? 0xff : 0;
        }
        r |= byte << (8 * i);
    }
    return r;
}

inline float emu_f16_to_f32(unsigned short h) {
    _Float16 v;
    std::memcpy(&v, &h, 2);
    return (float)v;
}
inline unsigned short emu_f32_to_f16(float f) {
    const _Float16 v = (_Float16)f;
    unsigned short h;
    std::memcpy(&h, &v, 2);
    return h;
}
inline unsigned emu_bf16_rne(float f) {
    unsigned x = __float_as_uint(f);
    x += 0x7fffu + ((x >> 16) & 1u);
    return x >> 16;
}
inline unsigned emu_pack2(float lo, float hi, bool bf16) {
    if (bf16) {
        return emu_bf16_rne(lo) | (emu_bf16_rne(hi) << 16);
    }
    return (unsigned)emu_f32_to_f16(lo) | ((unsigned)emu_f32_to_f16(hi) << 16);
}

// Cooperative fibers: the threads of a block are ucontext fibers on one OS thread, switched at
// barriers; a barrier releases when every thread still running in its warp (or block) arrived.
struct EmuBarrier {
    int alive = 0;
    int arrived = 0;
    unsigned generation = 0;
};
struct EmuWarp {
    EmuBarrier bar;
    float xchg[32];
    float a[16][16];
    float b[16][8];
};
struct EmuFiber {
    ucontext_t ctx;
    std::vector<char> stack;
    bool done = false;
};
struct EmuBlock {
    EmuBarrier bar;
    std::vector<EmuWarp> warps;
    std::vector<EmuFiber> fibers;
    ucontext_t scheduler;
    int current = 0;
};
inline EmuBlock* emu_block = nullptr;
inline EmuWarp& emu_warp() { return emu_block->warps[threadIdx.x >> 5]; }

inline void emu_yield() {
    EmuBlock& b = *emu_block;
    swapcontext(&b.fibers[b.current].ctx, &b.scheduler);
}

inline void emu_wait(EmuBarrier& bar) {
    const unsigned gen = bar.generation;
    if (++bar.arrived == bar.alive) {
        bar.arrived = 0;
        ++bar.generation;
        return;
    }
    while (bar.generation == gen) {
        emu_yield();
    }
}

inline void emu_leave(EmuBarrier& bar) {
    --bar.alive;
    if (bar.arrived > 0 && bar.arrived == bar.alive) {
        bar.arrived = 0;
        ++bar.generation;
    }
}

inline void __syncthreads() { emu_wait(emu_block->bar); }

inline float __shfl_xor_sync(unsigned, float v, int m) {
    EmuWarp& w = emu_warp();
    const int lane = threadIdx.x & 31;
    w.xchg[lane] = v;
    emu_wait(w.bar);
    const float r = w.xchg[lane ^ m];
    emu_wait(w.bar);
    return r;
}

inline float emu_half(unsigned bits, bool bf16) {
    return bf16 ? __uint_as_float(bits << 16) : emu_f16_to_f32((unsigned short)bits);
}

// D = A B + C for m16n8k16 with the PTX fragment layouts (g = lane / 4, t = lane % 4).
inline void emu_mma16816(float (&c)[4], const unsigned (&a)[4], unsigned b0, unsigned b1,
                         bool bf16) {
    EmuWarp& w = emu_warp();
    const int lane = threadIdx.x & 31;
    const int g = lane >> 2;
    const int t = lane & 3;
    auto lo = [&](unsigned r) { return emu_half(r & 0xffffu, bf16); };
    auto hi = [&](unsigned r) { return emu_half(r >> 16, bf16); };
    w.a[g][2 * t] = lo(a[0]);
    w.a[g][2 * t + 1] = hi(a[0]);
    w.a[g + 8][2 * t] = lo(a[1]);
    w.a[g + 8][2 * t + 1] = hi(a[1]);
    w.a[g][2 * t + 8] = lo(a[2]);
    w.a[g][2 * t + 9] = hi(a[2]);
    w.a[g + 8][2 * t + 8] = lo(a[3]);
    w.a[g + 8][2 * t + 9] = hi(a[3]);
    w.b[2 * t][g] = lo(b0);
    w.b[2 * t + 1][g] = hi(b0);
    w.b[2 * t + 8][g] = lo(b1);
    w.b[2 * t + 9][g] = hi(b1);
    emu_wait(w.bar);
    for (int e = 0; e < 4; ++e) {
        const int row = g + (e >= 2 ? 8 : 0);
        const int col = 2 * t + (e & 1);
        float sum = 0.0f;
        for (int k = 0; k < 16; ++k) {
            sum += w.a[row][k] * w.b[k][col];
        }
        c[e] += sum;
    }
    emu_wait(w.bar);
}

inline float emu_dynamic_shared[1 << 16];
#define DYNAMIC_SHARED(T, name) T* name = (T*)emu_dynamic_shared

// Runs kernel<<<grid, block>>>(args): blocks one after another, the threads of a block as
// fibers scheduled round-robin.
template <class Args>
struct EmuLaunch {
    static inline void (*kernel)(Args) = nullptr;
    static inline const Args* args = nullptr;
    static void entry(int i) {
        EmuBlock& b = *emu_block;
        threadIdx = dim3{(unsigned)i, 0, 0};
        kernel(*args);
        emu_leave(b.bar);
        emu_leave(b.warps[i >> 5].bar);
        b.fibers[i].done = true;
        swapcontext(&b.fibers[i].ctx, &b.scheduler);
    }
};

template <class Args>
void emu_launch(void (*kernel)(Args), dim3 grid, dim3 block, const Args& args) {
    blockDim = block;
    gridDim = grid;
    EmuLaunch<Args>::kernel = kernel;
    EmuLaunch<Args>::args = &args;
    EmuBlock b;
    b.fibers.resize(block.x);
    for (auto& f : b.fibers) {
        f.stack.resize(1 << 18);
    }
    emu_block = &b;
    for (unsigned z = 0; z < grid.z; ++z) {
        for (unsigned y = 0; y < grid.y; ++y) {
            for (unsigned x = 0; x < grid.x; ++x) {
                blockIdx = dim3{x, y, z};
                b.bar = EmuBarrier{};
                b.bar.alive = (int)block.x;
                b.warps.assign((block.x + 31) / 32, EmuWarp{});
                for (auto& w : b.warps) {
                    w.bar.alive = 32;
                }
                for (unsigned i = 0; i < block.x; ++i) {
                    EmuFiber& f = b.fibers[i];
                    f.done = false;
                    getcontext(&f.ctx);
                    f.ctx.uc_stack.ss_sp = f.stack.data();
                    f.ctx.uc_stack.ss_size = f.stack.size();
                    f.ctx.uc_link = nullptr;
                    makecontext(&f.ctx, (void (*)())EmuLaunch<Args>::entry, 1, (int)i);
                }
                bool running = true;
                while (running) {
                    running = false;
                    for (unsigned i = 0; i < block.x; ++i) {
                        if (!b.fibers[i].done) {
                            b.current = (int)i;
                            threadIdx = dim3{i, 0, 0};
                            swapcontext(&b.scheduler, &b.fibers[i].ctx);
                            running = running || !b.fibers[i].done;
                        }
                    }
                }
            }
        }
    }
    emu_block = nullptr;
}
