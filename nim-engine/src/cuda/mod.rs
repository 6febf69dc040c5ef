//! The CUDA attention backend: the CPU backend's four operations on an NVIDIA GPU.
//!
//! | method | does | CPU twin |
//! |---|---|---|
//! | [`CudaBackend::write_kv`] | stores new tokens' K and V at their slots | [`cpu::write_kv`] |
//! | [`CudaBackend::paged_decode`] | one query token per sequence, single pass or split-K | [`cpu::paged_decode`] |
//! | [`CudaBackend::paged_prefill`] | causal attention for runs of new tokens after cached ones | [`cpu::paged_prefill`] |
//! | [`CudaBackend::copy_blocks`] | copies whole blocks for copy-on-write | [`cpu::copy_blocks`] |
//!
//! Same layout ([`crate::layout`]), same semantics (GQA, sliding window, ALiBi, soft-cap), same
//! dtypes (f32, f16, bf16 queries; f32, f16, bf16 and FP8 E4M3 caches with a per-tensor scale)
//! and the same argument checks, with the same errors: the CUDA backend runs the public
//! validators ([`crate::layout::validate_decode`] and the others) on every call. Tensors live on
//! the device as [`DeviceTensor`]s ([`CudaBackend::upload`], [`CudaBackend::download`]); the
//! `*_host` methods take and return host [`Tensor`]s, which is how the tests compare the two
//! backends.
//!
//! # Building and probing
//!
//! With the `cuda` feature the backend uses [cudarc](https://docs.rs/cudarc) with dynamic
//! loading: building, linking and testing need no CUDA toolkit, driver or GPU. At run time
//! [`CudaBackend::new`] first looks for the driver (`libcuda.so`) and NVRTC (`libnvrtc.so.13`)
//! and returns [`Error::CudaUnavailable`] when either is missing (cudarc would panic on its
//! first call instead), then opens the device. Without the feature every type here still exists
//! and `new` returns `Error::CudaUnavailable("built without the `cuda` feature ...")`, so code
//! that picks a backend at run time compiles either way:
//!
//! ```
//! use nim_engine::cuda::CudaBackend;
//!
//! match CudaBackend::new(0) {
//!     Ok(gpu) => println!("CUDA on {}", gpu.device().name),
//!     Err(e) => println!("CPU only: {e}"),
//! }
//! ```
//!
//! # Kernels
//!
//! The kernels are CUDA C++ sources in this crate (`src/cuda/kernels/*.cu`), compiled at run
//! time by NVRTC for the device's architecture (`compute_90` on an H200), one specialization per
//! head size and dtype combination, on first use, and cached in the backend. They need no CUDA
//! header. Decode and prefill share them:
//!
//! * **Tensor cores** (`attn_mma`, [`KernelKind::TensorCore`]) for f16/bf16 queries over caches
//!   of the same dtype or FP8, head sizes that are multiples of 16 up to 256, compute capability
//!   8.0 or newer: `mma.sync` m16n8k16 with f32 accumulation and an f32 online softmax. Decode
//!   gives each (sequence, KV head) block the whole GQA group as one 16-row tile and four warps
//!   that split its keys; prefill gives each block 64 query rows.
//! * **SIMT** (`attn_simt`, [`KernelKind::Simt`]) for everything else: a warp per query row,
//!   f32 throughout, the scale folded into the query as the CPU backend does.
//! * **Split-K**: when the batch is too small to fill the GPU, each block's keys are split into
//!   partitions and `attn_reduce` combines the partial results (vLLM's paged attention v2); else
//!   one pass. [`CudaOptions::partition_tokens`] forces a partition size.
//!
//! `nim-engine/KERNELS.md` has the design, the expected performance and the tuning notes.
//!
//! # Accuracy
//!
//! Against the f64 reference ([`crate::reference`]) the backend meets the same
//! [`Tolerance`](crate::reference::Tolerance)s as the CPU backend. The tensor-core kernel feeds
//! the softmax weights to the P·V product as a sum of two half-precision numbers (hi + lo) in
//! decode and for f16 prefill, which keeps them as accurate as f32; bf16 prefill rounds them to
//! bf16, as FlashAttention does, well inside the bf16 bound. `write_kv` and `copy_blocks` give
//! the CPU backend's bytes exactly.
//!
//! # Errors
//!
//! Argument errors are the validators' ([`Error::Shape`], [`Error::DType`], [`Error::Invalid`]);
//! everything the driver or NVRTC reports, including an out-of-memory allocation or a failed
//! launch, is an [`Error::CudaUnavailable`] naming the operation.
//!
//! [`cpu::write_kv`]: crate::cpu::write_kv
//! [`cpu::paged_decode`]: crate::cpu::paged_decode
//! [`cpu::paged_prefill`]: crate::cpu::paged_prefill
//! [`cpu::copy_blocks`]: crate::cpu::copy_blocks

#[cfg(feature = "cuda")]
mod device;
mod plan;
#[cfg(not(feature = "cuda"))]
mod stub;

#[cfg(feature = "cuda")]
use device as imp;
#[cfg(not(feature = "cuda"))]
use stub as imp;

pub use plan::{CudaOptions, KernelChoice, KernelKind};

use crate::error::{Error, Result};
use crate::layout::AttentionParams;
use crate::tensor::{DType, Tensor};

/// Compiles every kernel specialization the backend may ask for (the cache kernels, the SIMT
/// attention kernel for each dtype combination at head size 128, and the tensor-core kernel for
/// f16/bf16 with same-dtype and FP8 caches at head sizes 64 to 256, decode and prefill) with
/// NVRTC for `compute_capability`, without a device: only `libnvrtc` is needed. Returns how
/// many were compiled. The tests run it wherever NVRTC is installed, GPU or not.
///
/// # Errors
/// [`Error::CudaUnavailable`] without the `cuda` feature, without NVRTC, or with NVRTC's log
/// when a source does not compile.
pub fn check_kernels(compute_capability: (u32, u32)) -> Result<usize> {
    imp::check_kernels(compute_capability)
}

/// The device a [`CudaBackend`] runs on.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeviceInfo {
    /// The CUDA device ordinal.
    pub ordinal: usize,
    /// The device's name (`NVIDIA H200`).
    pub name: String,
    /// Compute capability, `(major, minor)`: `(9, 0)` on Hopper.
    pub compute_capability: (u32, u32),
    /// Streaming multiprocessors.
    pub multiprocessors: u32,
    /// L2 cache, in bytes.
    pub l2_cache_bytes: u64,
    /// Device memory, in bytes.
    pub memory_bytes: u64,
}

/// The CUDA backend on one device: a context, one stream, and the compiled kernels.
///
/// Every operation is queued on the backend's stream, in call order; methods that return host
/// data ([`download`](Self::download), the `*_host` methods) wait for it. A `CudaBackend` is
/// `Send` and `Sync`; calls from several threads are queued in the order they take the stream.
pub struct CudaBackend {
    inner: imp::Backend,
    options: CudaOptions,
}

/// A tensor in device memory: a shape, a dtype (FP8 with its per-tensor scale) and row-major
/// elements, as [`Tensor`]. It belongs to the [`CudaBackend`] that made it.
pub struct DeviceTensor {
    shape: Vec<usize>,
    dtype: DType,
    fp8_scale: Option<f32>,
    buf: imp::Buffer,
}

/// A checked attention call with its block tables, context lengths and workspace already on the
/// device ([`CudaBackend::plan_decode`], [`CudaBackend::plan_prefill`]): run it on any `q` and
/// caches of the same shapes and dtypes with [`CudaBackend::run`], with nothing left to check
/// or copy. Benchmarks time exactly the kernels that way.
pub struct AttentionPlan {
    launch: plan::Launch,
    dtypes: (DType, DType, DType),
    // Read by the device code only.
    #[cfg_attr(not(feature = "cuda"), allow(dead_code))]
    params: AttentionParams,
    #[cfg_attr(not(feature = "cuda"), allow(dead_code))]
    dev: imp::PlanBuffers,
}

impl DeviceTensor {
    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The dtype.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// The per-tensor scale of an FP8 tensor; `None` for other dtypes.
    pub fn fp8_scale(&self) -> Option<f32> {
        self.fp8_scale
    }

    /// Elements in all.
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    /// Whether the tensor has no element.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of device memory the elements take.
    pub fn size_bytes(&self) -> usize {
        self.len() * self.dtype.size()
    }
}

impl plan::Meta for DeviceTensor {
    fn shape(&self) -> &[usize] {
        &self.shape
    }

    fn dtype(&self) -> DType {
        self.dtype
    }

    fn check_consistent(&self, name: &str) -> Result<()> {
        plan::check_fp8_scale(name, self.fp8_scale)
    }
}

impl AttentionPlan {
    /// The output's shape: `[tokens, num_heads, head_dim]`.
    pub fn output_shape(&self) -> [usize; 3] {
        let shape = &self.launch.shape;
        [shape.num_tokens, shape.num_heads, shape.layout.head_dim]
    }

    /// The output's dtype (the queries').
    pub fn output_dtype(&self) -> DType {
        self.dtypes.0
    }

    /// The attention kernel the plan runs.
    pub fn kernel(&self) -> KernelKind {
        self.launch.kind
    }

    /// Key partitions per block (1: one pass, no reduce kernel).
    pub fn partitions(&self) -> usize {
        self.launch.partitions
    }

    /// Keys per partition.
    pub fn partition_tokens(&self) -> usize {
        self.launch.partition_tokens
    }

    /// Blocks of the attention kernel: tiles x KV heads x partitions.
    pub fn blocks(&self) -> usize {
        self.launch.num_tiles() * self.launch.shape.layout.num_kv_heads * self.launch.partitions
    }
}

impl CudaBackend {
    /// The backend on device `ordinal`.
    ///
    /// # Errors
    /// [`Error::CudaUnavailable`] when the crate was built without the `cuda` feature, when no
    /// CUDA driver (`libcuda.so`) or NVRTC (`libnvrtc.so`) can be loaded, or when the driver
    /// finds no such device. The message says which.
    pub fn new(ordinal: usize) -> Result<Self> {
        Ok(Self {
            inner: imp::Backend::new(ordinal)?,
            options: CudaOptions::default(),
        })
    }

    /// With `options` (kernel choice, partitioning).
    #[must_use]
    pub fn with_options(mut self, options: CudaOptions) -> Self {
        self.options = options;
        self
    }

    /// Replaces the options; plans made before keep theirs.
    pub fn set_options(&mut self, options: CudaOptions) {
        self.options = options;
    }

    /// The options.
    pub fn options(&self) -> &CudaOptions {
        &self.options
    }

    /// The device.
    pub fn device(&self) -> &DeviceInfo {
        self.inner.info()
    }

    /// Copies a host tensor to the device.
    ///
    /// # Errors
    /// As [`Tensor::expect_consistent`] (naming `tensor`); [`Error::CudaUnavailable`] when the
    /// allocation or the copy fails.
    pub fn upload(&self, tensor: &Tensor) -> Result<DeviceTensor> {
        tensor.expect_consistent("tensor")?;
        Ok(DeviceTensor {
            shape: tensor.shape().to_vec(),
            dtype: tensor.dtype(),
            fp8_scale: tensor.fp8_scale(),
            buf: self.inner.upload(tensor.storage())?,
        })
    }

    /// Copies a device tensor to the host, after the work queued before it.
    ///
    /// # Errors
    /// [`Error::Invalid`] for a tensor of another backend; [`Error::CudaUnavailable`] when the
    /// copy fails (or an earlier kernel did).
    pub fn download(&self, tensor: &DeviceTensor) -> Result<Tensor> {
        let storage = self.inner.download(tensor)?;
        Tensor::new(tensor.shape.clone(), storage)
    }

    /// A zero-filled device tensor (FP8 with scale 1).
    ///
    /// # Errors
    /// [`Error::CudaUnavailable`] when the allocation fails.
    pub fn zeros(&self, shape: Vec<usize>, dtype: DType) -> Result<DeviceTensor> {
        let len = shape.iter().product();
        Ok(DeviceTensor {
            buf: self.inner.zeros(len, dtype)?,
            fp8_scale: (dtype == DType::Fp8E4m3).then_some(1.0),
            shape,
            dtype,
        })
    }

    /// Copies `src` into `dst` on the device (same dtype and element count; `dst` takes
    /// `src`'s FP8 scale). Benchmarks time it as the device's copy bandwidth.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `dst` when the two differ; [`Error::CudaUnavailable`] when the
    /// copy fails.
    pub fn copy(&self, src: &DeviceTensor, dst: &mut DeviceTensor) -> Result<()> {
        if src.dtype != dst.dtype || src.len() != dst.len() {
            return Err(Error::invalid(
                "dst",
                format!(
                    "{} elements of {} cannot take {} elements of {}",
                    dst.len(),
                    dst.dtype,
                    src.len(),
                    src.dtype
                ),
            ));
        }
        self.inner.copy(&src.buf, &mut dst.buf)?;
        dst.fp8_scale = src.fp8_scale;
        Ok(())
    }

    /// Waits for everything queued so far.
    ///
    /// # Errors
    /// [`Error::CudaUnavailable`] when queued work failed.
    pub fn synchronize(&self) -> Result<()> {
        self.inner.synchronize()
    }

    /// Milliseconds of device time that the work `f` queues takes: `f` runs between two CUDA
    /// events recorded on the backend's stream, and the call waits for the second. Queue
    /// warm-up work first; time many runs and take the median.
    ///
    /// # Errors
    /// What `f` returns; [`Error::CudaUnavailable`] when an event fails.
    pub fn time_ms(&self, f: impl FnOnce(&Self) -> Result<()>) -> Result<f64> {
        let events = self.inner.start_timing()?;
        f(self)?;
        self.inner.stop_timing(events)
    }

    /// [`crate::cpu::write_kv`] on the device: writes the K and V of `slot_mapping.len()` new
    /// tokens into the caches, converting to the caches' dtypes exactly as the CPU backend
    /// does. When two tokens name the same slot the later one wins.
    ///
    /// # Errors
    /// As [`crate::layout::validate_write_kv`]; nothing is written then.
    pub fn write_kv(
        &self,
        k_cache: &mut DeviceTensor,
        v_cache: &mut DeviceTensor,
        slot_mapping: &[i64],
        k: &DeviceTensor,
        v: &DeviceTensor,
    ) -> Result<()> {
        let layout = plan::check_write_kv(&*k_cache, &*v_cache, slot_mapping, k, v)?;
        let slots = plan::last_writer_wins(slot_mapping);
        self.inner
            .write_kv(k_cache, v_cache, &slots, k, v, layout.token_elements())
    }

    /// [`crate::cpu::copy_blocks`] on the device: for each `(src, dst)` in order, block `dst`
    /// of both caches becomes a copy of block `src`.
    ///
    /// # Errors
    /// As [`crate::layout::validate_copy_blocks`]; nothing is copied then.
    pub fn copy_blocks(
        &self,
        k_cache: &mut DeviceTensor,
        v_cache: &mut DeviceTensor,
        pairs: &[(u32, u32)],
    ) -> Result<()> {
        let layout = plan::check_copy_blocks(&*k_cache, &*v_cache, pairs)?;
        let waves = plan::copy_waves(pairs);
        self.inner
            .copy_blocks(k_cache, v_cache, &waves, layout.block_elements())
    }

    /// [`crate::cpu::paged_decode`] on the device. Returns `[num_seqs, num_heads, head_dim]` in
    /// `q`'s dtype.
    ///
    /// # Errors
    /// As [`crate::layout::validate_decode`]; [`Error::CudaUnavailable`] when the device fails.
    #[allow(clippy::too_many_arguments)]
    pub fn paged_decode(
        &self,
        q: &DeviceTensor,
        k_cache: &DeviceTensor,
        v_cache: &DeviceTensor,
        block_tables: &[i32],
        max_blocks_per_seq: usize,
        context_lens: &[i32],
        params: &AttentionParams,
    ) -> Result<DeviceTensor> {
        let plan = self.plan_decode(
            q,
            k_cache,
            v_cache,
            block_tables,
            max_blocks_per_seq,
            context_lens,
            params,
        )?;
        self.run_new(&plan, q, k_cache, v_cache)
    }

    /// [`crate::cpu::paged_prefill`] on the device. Returns `[total_tokens, num_heads,
    /// head_dim]` in `q`'s dtype.
    ///
    /// # Errors
    /// As [`crate::layout::validate_prefill`]; [`Error::CudaUnavailable`] when the device fails.
    #[allow(clippy::too_many_arguments)]
    pub fn paged_prefill(
        &self,
        q: &DeviceTensor,
        k_cache: &DeviceTensor,
        v_cache: &DeviceTensor,
        block_tables: &[i32],
        max_blocks_per_seq: usize,
        cu_seqlens_q: &[i32],
        context_lens: &[i32],
        params: &AttentionParams,
    ) -> Result<DeviceTensor> {
        let plan = self.plan_prefill(
            q,
            k_cache,
            v_cache,
            block_tables,
            max_blocks_per_seq,
            cu_seqlens_q,
            context_lens,
            params,
        )?;
        self.run_new(&plan, q, k_cache, v_cache)
    }

    /// Checks a decode call as [`paged_decode`](Self::paged_decode) does and puts its block
    /// tables, context lengths and workspace on the device, for [`run`](Self::run).
    ///
    /// # Errors
    /// As [`paged_decode`](Self::paged_decode).
    #[allow(clippy::too_many_arguments)]
    pub fn plan_decode(
        &self,
        q: &DeviceTensor,
        k_cache: &DeviceTensor,
        v_cache: &DeviceTensor,
        block_tables: &[i32],
        max_blocks_per_seq: usize,
        context_lens: &[i32],
        params: &AttentionParams,
    ) -> Result<AttentionPlan> {
        let shape = plan::check_decode(
            q,
            k_cache,
            v_cache,
            block_tables,
            max_blocks_per_seq,
            context_lens,
            params,
        )?;
        let contexts: Vec<usize> = context_lens.iter().map(|&c| c as usize).collect();
        let new_tokens = vec![1; shape.num_seqs];
        self.make_plan(
            shape,
            true,
            (q.dtype, k_cache.dtype, v_cache.dtype),
            &new_tokens,
            &contexts,
            params,
            (block_tables, max_blocks_per_seq, context_lens, None),
        )
    }

    /// Checks a prefill call as [`paged_prefill`](Self::paged_prefill) does and puts its
    /// arrays and workspace on the device, for [`run`](Self::run).
    ///
    /// # Errors
    /// As [`paged_prefill`](Self::paged_prefill).
    #[allow(clippy::too_many_arguments)]
    pub fn plan_prefill(
        &self,
        q: &DeviceTensor,
        k_cache: &DeviceTensor,
        v_cache: &DeviceTensor,
        block_tables: &[i32],
        max_blocks_per_seq: usize,
        cu_seqlens_q: &[i32],
        context_lens: &[i32],
        params: &AttentionParams,
    ) -> Result<AttentionPlan> {
        let shape = plan::check_prefill(
            q,
            k_cache,
            v_cache,
            block_tables,
            max_blocks_per_seq,
            cu_seqlens_q,
            context_lens,
            params,
        )?;
        let contexts: Vec<usize> = context_lens.iter().map(|&c| c as usize).collect();
        let new_tokens: Vec<usize> = cu_seqlens_q
            .windows(2)
            .map(|w| (w[1] - w[0]) as usize)
            .collect();
        self.make_plan(
            shape,
            false,
            (q.dtype, k_cache.dtype, v_cache.dtype),
            &new_tokens,
            &contexts,
            params,
            (
                block_tables,
                max_blocks_per_seq,
                context_lens,
                Some(cu_seqlens_q),
            ),
        )
    }

    /// Runs a plan on `q` and caches of the shapes and dtypes it was made for, writing `out`
    /// (shape [`AttentionPlan::output_shape`], dtype [`AttentionPlan::output_dtype`]). Only
    /// kernels are queued: no allocation, no copy, no wait.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the tensor that does not match the plan;
    /// [`Error::CudaUnavailable`] when a launch fails.
    pub fn run(
        &self,
        plan: &AttentionPlan,
        q: &DeviceTensor,
        k_cache: &DeviceTensor,
        v_cache: &DeviceTensor,
        out: &mut DeviceTensor,
    ) -> Result<()> {
        let layout = plan.launch.shape.layout;
        let expect = |name: &str, t: &DeviceTensor, shape: &[usize], dtype: DType| {
            if t.shape != shape || t.dtype != dtype {
                Err(Error::invalid(
                    name,
                    format!(
                        "{:?} {} does not match the plan's {shape:?} {dtype}",
                        t.shape, t.dtype
                    ),
                ))
            } else {
                Ok(())
            }
        };
        let [tokens, heads, d] = plan.output_shape();
        let (qd, kd, vd) = plan.dtypes;
        expect("q", q, &[tokens, heads, d], qd)?;
        expect("k_cache", k_cache, &layout.shape(), kd)?;
        expect("v_cache", v_cache, &layout.shape(), vd)?;
        expect("out", out, &[tokens, heads, d], qd)?;
        self.inner.run(plan, q, k_cache, v_cache, out)
    }

    /// [`write_kv`](Self::write_kv) on host tensors: uploads the caches and the rows, writes,
    /// and downloads the caches back into `k_cache` and `v_cache`.
    ///
    /// # Errors
    /// As [`write_kv`](Self::write_kv); the host caches are unchanged on error.
    pub fn write_kv_host(
        &self,
        k_cache: &mut Tensor,
        v_cache: &mut Tensor,
        slot_mapping: &[i64],
        k: &Tensor,
        v: &Tensor,
    ) -> Result<()> {
        plan::check_write_kv(&*k_cache, &*v_cache, slot_mapping, k, v)?;
        let (mut kc, mut vc) = (self.upload(k_cache)?, self.upload(v_cache)?);
        self.write_kv(
            &mut kc,
            &mut vc,
            slot_mapping,
            &self.upload(k)?,
            &self.upload(v)?,
        )?;
        let (k_new, v_new) = (self.download(&kc)?, self.download(&vc)?);
        (*k_cache, *v_cache) = (k_new, v_new);
        Ok(())
    }

    /// [`copy_blocks`](Self::copy_blocks) on host tensors.
    ///
    /// # Errors
    /// As [`copy_blocks`](Self::copy_blocks); the host caches are unchanged on error.
    pub fn copy_blocks_host(
        &self,
        k_cache: &mut Tensor,
        v_cache: &mut Tensor,
        pairs: &[(u32, u32)],
    ) -> Result<()> {
        plan::check_copy_blocks(&*k_cache, &*v_cache, pairs)?;
        let (mut kc, mut vc) = (self.upload(k_cache)?, self.upload(v_cache)?);
        self.copy_blocks(&mut kc, &mut vc, pairs)?;
        let (k_new, v_new) = (self.download(&kc)?, self.download(&vc)?);
        (*k_cache, *v_cache) = (k_new, v_new);
        Ok(())
    }

    /// [`paged_decode`](Self::paged_decode) on host tensors, as [`crate::cpu::paged_decode`]
    /// takes them.
    ///
    /// # Errors
    /// As [`paged_decode`](Self::paged_decode).
    #[allow(clippy::too_many_arguments)]
    pub fn paged_decode_host(
        &self,
        q: &Tensor,
        k_cache: &Tensor,
        v_cache: &Tensor,
        block_tables: &[i32],
        max_blocks_per_seq: usize,
        context_lens: &[i32],
        params: &AttentionParams,
    ) -> Result<Tensor> {
        plan::check_decode(
            q,
            k_cache,
            v_cache,
            block_tables,
            max_blocks_per_seq,
            context_lens,
            params,
        )?;
        let out = self.paged_decode(
            &self.upload(q)?,
            &self.upload(k_cache)?,
            &self.upload(v_cache)?,
            block_tables,
            max_blocks_per_seq,
            context_lens,
            params,
        )?;
        self.download(&out)
    }

    /// [`paged_prefill`](Self::paged_prefill) on host tensors, as [`crate::cpu::paged_prefill`]
    /// takes them.
    ///
    /// # Errors
    /// As [`paged_prefill`](Self::paged_prefill).
    #[allow(clippy::too_many_arguments)]
    pub fn paged_prefill_host(
        &self,
        q: &Tensor,
        k_cache: &Tensor,
        v_cache: &Tensor,
        block_tables: &[i32],
        max_blocks_per_seq: usize,
        cu_seqlens_q: &[i32],
        context_lens: &[i32],
        params: &AttentionParams,
    ) -> Result<Tensor> {
        plan::check_prefill(
            q,
            k_cache,
            v_cache,
            block_tables,
            max_blocks_per_seq,
            cu_seqlens_q,
            context_lens,
            params,
        )?;
        let out = self.paged_prefill(
            &self.upload(q)?,
            &self.upload(k_cache)?,
            &self.upload(v_cache)?,
            block_tables,
            max_blocks_per_seq,
            cu_seqlens_q,
            context_lens,
            params,
        )?;
        self.download(&out)
    }

    /// Plans a checked call.
    #[allow(clippy::too_many_arguments)]
    fn make_plan(
        &self,
        shape: crate::layout::AttentionShape,
        decode: bool,
        dtypes: (DType, DType, DType),
        new_tokens: &[usize],
        contexts: &[usize],
        params: &AttentionParams,
        arrays: (&[i32], usize, &[i32], Option<&[i32]>),
    ) -> Result<AttentionPlan> {
        let info = self.device();
        let launch = plan::plan_launch(
            shape,
            decode,
            dtypes,
            new_tokens,
            contexts,
            params,
            &self.options,
            info.compute_capability,
            info.multiprocessors as usize,
        );
        let (tables, max_blocks, context_lens, cu_seqlens) = arrays;
        let dev = self.inner.plan_buffers(
            &launch,
            dtypes,
            tables,
            max_blocks,
            context_lens,
            cu_seqlens,
            params,
        )?;
        Ok(AttentionPlan {
            launch,
            dtypes,
            params: params.clone(),
            dev,
        })
    }

    /// Runs a fresh plan into a new output tensor.
    fn run_new(
        &self,
        plan: &AttentionPlan,
        q: &DeviceTensor,
        k_cache: &DeviceTensor,
        v_cache: &DeviceTensor,
    ) -> Result<DeviceTensor> {
        let mut out = self.alloc(plan.output_shape().to_vec(), plan.output_dtype())?;
        self.inner.run(plan, q, k_cache, v_cache, &mut out)?;
        Ok(out)
    }

    /// An uninitialized device tensor, for outputs that a kernel writes in full.
    fn alloc(&self, shape: Vec<usize>, dtype: DType) -> Result<DeviceTensor> {
        let len = shape.iter().product();
        Ok(DeviceTensor {
            buf: self.inner.alloc(len, dtype)?,
            fp8_scale: (dtype == DType::Fp8E4m3).then_some(1.0),
            shape,
            dtype,
        })
    }
}
