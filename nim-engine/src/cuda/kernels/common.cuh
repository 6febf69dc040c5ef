// Shared by every kernel source of nim-engine's CUDA backend: element types, conversions and
// warp helpers.
//
// NVRTC compiles these sources at run time with no include path: nothing here includes a header
// (no <cuda_fp16.h>, no <cuda_bf16.h>), so the backend needs only libnvrtc, not the toolkit's
// include files. Half-precision and FP8 values travel as raw bits (u16, u8) and convert with PTX
// `cvt` instructions or bit operations written to match the CPU backend bit for bit:
//
// * f32 -> bf16 rounds to nearest even and quiets NaN exactly as `half::bf16::from_f32`;
// * f32 -> f16 is `cvt.rn.f16.f32` (round to nearest even, as `half::f16::from_f32`);
// * f32 -> FP8 E4M3 mirrors `nim_engine::tensor::f32_to_fp8_e4m3` step by step (saturating at
//   448, NaN -> 0x7f with the sign);
// * FP8 E4M3 -> f32 mirrors `fp8_e4m3_to_f32` (0x7f and 0xff are NaN).
//
// The element type of a tensor is one of the DT_* codes below; the host passes them as macro
// definitions (-DQ_DT=2 ...) so that each specialization is compiled separately.

typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;
typedef long long i64;
typedef unsigned long long u64;

#define DT_F32 0
#define DT_F16 1
#define DT_BF16 2
#define DT_FP8 3

#define NEG_INF (__int_as_float(0xff800000))
#define LOG2E 1.4426950408889634f

// A kernel's dynamically sized shared array.
#ifndef NIM_EMULATE
#define DYNAMIC_SHARED(T, name) extern __shared__ T name[]
#endif

// ---------------------------------------------------------------------------------------------
// Scalar conversions.

// Under NIM_EMULATE (emulate/emulate.h: the kernels compiled as host C++ and run on the CPU, a
// development check) the few inline-PTX helpers call software equivalents instead.

__device__ __forceinline__ float f16_to_f32(u16 h) {
#ifdef NIM_EMULATE
    return emu_f16_to_f32(h);
#else
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
#endif
}

__device__ __forceinline__ u16 f32_to_f16(float f) {
#ifdef NIM_EMULATE
    return emu_f32_to_f16(f);
#else
    u16 h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
    return h;
#endif
}

__device__ __forceinline__ float bf16_to_f32(u16 b) { return __uint_as_float(((u32)b) << 16); }

// As half::bf16::from_f32: NaN keeps its high bits and gets the quiet bit; otherwise round to
// nearest, ties to even.
__device__ __forceinline__ u16 f32_to_bf16(float f) {
    const u32 x = __float_as_uint(f);
    if ((x & 0x7fffffffu) > 0x7f800000u) {
        return (u16)((x >> 16) | 0x40u);
    }
    const u32 round_bit = 0x8000u;
    if ((x & round_bit) != 0u && (x & (3u * round_bit - 1u)) != 0u) {
        return (u16)((x >> 16) + 1u);
    }
    return (u16)(x >> 16);
}

// As nim_engine::tensor::fp8_e4m3_to_f32 (OCP E4M3FN: bias 7, subnormals below 2^-6, 0x7f and
// 0xff NaN, no infinities).
__device__ __forceinline__ float fp8_to_f32(u8 b) {
    const u32 sign = ((u32)b & 0x80u) << 24;
    if ((b & 0x7fu) == 0x7fu) {
        return __uint_as_float(sign | 0x7fc00000u);
    }
    const u32 exp = ((u32)b >> 3) & 0xfu;
    const u32 man = (u32)b & 7u;
    float mag;
    if (exp == 0u) {
        mag = (float)man * 0.001953125f;  // man * 2^-9, exact
    } else {
        mag = __uint_as_float(((exp + 120u) << 23) | (man << 20));  // (1 + man/8) * 2^(exp-7)
    }
    return __uint_as_float(__float_as_uint(mag) | sign);
}

// 2^e for e in the f32 normal range.
__device__ __forceinline__ float pow2i(int e) { return __uint_as_float((u32)(e + 127) << 23); }

// As nim_engine::tensor::f32_to_fp8_e4m3: round to nearest even, saturate to +-448, NaN to 0x7f
// with the sign bit.
__device__ __forceinline__ u8 f32_to_fp8(float x) {
    const u32 bits = __float_as_uint(x);
    const u32 sign = (bits >> 31) ? 0x80u : 0u;
    if (x != x) {
        return (u8)(sign | 0x7fu);
    }
    const float a = fabsf(x);
    if (a >= 448.0f) {
        return (u8)(sign | 0x7eu);
    }
    const int exp = (int)((__float_as_uint(a) >> 23) & 0xffu) - 127;
    float code;
    if (exp < -6) {
        code = rintf(a * 512.0f);  // subnormals: multiples of 2^-9
    } else {
        const float m = rintf(a * pow2i(3 - exp));  // in [8, 16]
        code = (float)(exp + 7) * 8.0f + (m - 8.0f);
    }
    return (u8)(sign | (u32)code);
}

// ---------------------------------------------------------------------------------------------
// Typed element access: Elem<DT>::T is the storage type, load() widens to f32 and store()
// rounds from f32 (FP8 stores take the value already divided by the tensor's scale).

template <int DT> struct Elem;

template <> struct Elem<DT_F32> {
    typedef float T;
    static __device__ __forceinline__ float load(const T* p, i64 i) { return p[i]; }
    static __device__ __forceinline__ void store(T* p, i64 i, float v) { p[i] = v; }
};

template <> struct Elem<DT_F16> {
    typedef u16 T;
    static __device__ __forceinline__ float load(const T* p, i64 i) { return f16_to_f32(p[i]); }
    static __device__ __forceinline__ void store(T* p, i64 i, float v) { p[i] = f32_to_f16(v); }
};

template <> struct Elem<DT_BF16> {
    typedef u16 T;
    static __device__ __forceinline__ float load(const T* p, i64 i) { return bf16_to_f32(p[i]); }
    static __device__ __forceinline__ void store(T* p, i64 i, float v) { p[i] = f32_to_bf16(v); }
};

template <> struct Elem<DT_FP8> {
    typedef u8 T;
    static __device__ __forceinline__ float load(const T* p, i64 i) { return fp8_to_f32(p[i]); }
    static __device__ __forceinline__ void store(T* p, i64 i, float v) { p[i] = f32_to_fp8(v); }
};

// Run-time dtype dispatch, for the small kernels where one module serves every dtype.
__device__ __forceinline__ float load_any(const void* p, i64 i, int dt) {
    switch (dt) {
        case DT_F32: return ((const float*)p)[i];
        case DT_F16: return f16_to_f32(((const u16*)p)[i]);
        case DT_BF16: return bf16_to_f32(((const u16*)p)[i]);
        default: return fp8_to_f32(((const u8*)p)[i]);
    }
}

__device__ __forceinline__ void store_any(void* p, i64 i, int dt, float v) {
    switch (dt) {
        case DT_F32: ((float*)p)[i] = v; break;
        case DT_F16: ((u16*)p)[i] = f32_to_f16(v); break;
        case DT_BF16: ((u16*)p)[i] = f32_to_bf16(v); break;
        default: ((u8*)p)[i] = f32_to_fp8(v); break;
    }
}

__device__ __forceinline__ int dtype_size(int dt) {
    return dt == DT_F32 ? 4 : (dt == DT_FP8 ? 1 : 2);
}

// ---------------------------------------------------------------------------------------------
// Warp helpers.

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
    for (int m = 16; m > 0; m >>= 1) {
        v += __shfl_xor_sync(0xffffffffu, v, m);
    }
    return v;
}
