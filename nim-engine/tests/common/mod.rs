//! Test data shared by the CPU (`attention.rs`) and CUDA (`cuda.rs`) attention tests.
#![allow(dead_code)] // each test binary uses a part

use half::{bf16, f16};
use nim_engine::{DType, KvLayout, Storage, Tensor};

/// SplitMix64: tiny, deterministic, good enough for test data.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as usize
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f32 {
        let u = 1.0 - self.uniform();
        let v = self.uniform();
        ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
    }

    pub fn normals(&mut self, n: usize) -> Vec<f32> {
        (0..n).map(|_| self.normal()).collect()
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.range(0, i));
        }
    }
}

/// A cache of `layout` whose every slot holds NaN (FP8: the NaN code `0x7f`).
pub fn poisoned(layout: &KvLayout, dtype: DType, fp8_scale: f32) -> Tensor {
    let n = layout.shape().iter().product();
    let storage = match dtype {
        DType::F32 => Storage::F32(vec![f32::NAN; n]),
        DType::F16 => Storage::F16(vec![f16::NAN; n]),
        DType::Bf16 => Storage::Bf16(vec![bf16::NAN; n]),
        DType::Fp8E4m3 => Storage::Fp8E4m3 {
            bytes: vec![0x7f; n],
            scale: fp8_scale,
        },
    };
    Tensor::new(layout.shape().to_vec(), storage).expect("consistent")
}
