//! The CUDA backend without the `cuda` feature: the same types, and a constructor that says the
//! crate was built without CUDA. No value of these types can exist, so the methods behind them
//! are never called (`match self.0 {}`).

use super::plan::Launch;
use super::{AttentionPlan, DeviceInfo, DeviceTensor};
use crate::error::{Error, Result};
use crate::layout::AttentionParams;
use crate::tensor::{DType, Storage};

/// Uninhabited: there is no device.
pub(super) enum Never {}

pub(super) struct Backend(Never);
pub(super) struct Buffer(#[allow(dead_code)] Never);
pub(super) struct PlanBuffers(#[allow(dead_code)] Never);
pub(super) struct Timing(Never);

fn without_cuda() -> Error {
    Error::CudaUnavailable(
        "built without the `cuda` feature: rebuild nim-engine with `--features cuda`".into(),
    )
}

pub(super) fn check_kernels(_compute_capability: (u32, u32)) -> Result<usize> {
    Err(without_cuda())
}

impl Backend {
    pub(super) fn new(_ordinal: usize) -> Result<Self> {
        Err(without_cuda())
    }

    pub(super) fn info(&self) -> &DeviceInfo {
        match self.0 {}
    }

    pub(super) fn upload(&self, _storage: &Storage) -> Result<Buffer> {
        match self.0 {}
    }

    pub(super) fn download(&self, _t: &DeviceTensor) -> Result<Storage> {
        match self.0 {}
    }

    pub(super) fn zeros(&self, _len: usize, _dtype: DType) -> Result<Buffer> {
        match self.0 {}
    }

    pub(super) fn alloc(&self, _len: usize, _dtype: DType) -> Result<Buffer> {
        match self.0 {}
    }

    pub(super) fn copy(&self, _src: &Buffer, _dst: &mut Buffer) -> Result<()> {
        match self.0 {}
    }

    pub(super) fn synchronize(&self) -> Result<()> {
        match self.0 {}
    }

    pub(super) fn start_timing(&self) -> Result<Timing> {
        match self.0 {}
    }

    pub(super) fn stop_timing(&self, timing: Timing) -> Result<f64> {
        match timing.0 {}
    }

    pub(super) fn write_kv(
        &self,
        _k_cache: &mut DeviceTensor,
        _v_cache: &mut DeviceTensor,
        _slots: &[i64],
        _k: &DeviceTensor,
        _v: &DeviceTensor,
        _token_elems: usize,
    ) -> Result<()> {
        match self.0 {}
    }

    pub(super) fn copy_blocks(
        &self,
        _k_cache: &mut DeviceTensor,
        _v_cache: &mut DeviceTensor,
        _waves: &[Vec<(u32, u32)>],
        _block_elements: usize,
    ) -> Result<()> {
        match self.0 {}
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn plan_buffers(
        &self,
        _launch: &Launch,
        _dtypes: (DType, DType, DType),
        _tables: &[i32],
        _max_blocks: usize,
        _contexts: &[i32],
        _cu_seqlens: Option<&[i32]>,
        _params: &AttentionParams,
    ) -> Result<PlanBuffers> {
        match self.0 {}
    }

    pub(super) fn run(
        &self,
        _plan: &AttentionPlan,
        _q: &DeviceTensor,
        _k_cache: &DeviceTensor,
        _v_cache: &DeviceTensor,
        _out: &mut DeviceTensor,
    ) -> Result<()> {
        match self.0 {}
    }
}
