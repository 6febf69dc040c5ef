//! The CUDA backend proper (the `cuda` feature): cudarc's driver and NVRTC bindings behind the
//! types of `super`. Nothing of cudarc leaves this file.

// The kernel launches and the one FFI probe are unsafe; each block says why it is sound.
#![allow(unsafe_code)]

use std::collections::HashMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex, PoisonError};

use cudarc::driver::{
    CudaContext, CudaEvent, CudaFunction, CudaModule, CudaSlice, CudaStream, DevicePtr, DeviceRepr,
    DriverError, LaunchConfig, PushKernelArg, ValidAsZeroBits, sys,
};
use cudarc::nvrtc::{CompileError, CompileOptions, Ptx, compile_ptx_with_opts};
use half::slice::{HalfBitsSliceExt, HalfFloatSliceExt};
use half::{bf16, f16};

use super::plan::{KernelKind, Launch, MmaShape, SIMT_WARPS, tensor_core_applies};
use super::{AttentionPlan, DeviceInfo, DeviceTensor};
use crate::error::{Error, Result};
use crate::layout::AttentionParams;
use crate::tensor::{DType, Storage};

const COMMON: &str = include_str!("kernels/common.cuh");
const ATTENTION: &str = include_str!("kernels/attention.cu");
const CACHE: &str = include_str!("kernels/cache.cu");

/// A driver error as ours, naming what failed.
fn driver(what: &str) -> impl FnOnce(DriverError) -> Error + '_ {
    move |e| Error::CudaUnavailable(format!("{what}: {e}"))
}

/// The kernel-side code of a dtype (`DT_*` in common.cuh).
fn dt_code(dtype: DType) -> i32 {
    match dtype {
        DType::F32 => 0,
        DType::F16 => 1,
        DType::Bf16 => 2,
        DType::Fp8E4m3 => 3,
    }
}

/// Checks that a library can be loaded before cudarc touches it: cudarc panics on a missing
/// library instead of returning an error.
fn probe_libraries() -> Result<()> {
    // SAFETY: `is_culib_present` only tries `dlopen` on the candidate names of the library and
    // closes what it opened; it calls no CUDA function.
    if !unsafe { sys::is_culib_present() } {
        return Err(Error::CudaUnavailable(
            "no CUDA driver: libcuda.so not found".into(),
        ));
    }
    // SAFETY: as above, for NVRTC.
    if !unsafe { cudarc::nvrtc::sys::is_culib_present() } {
        return Err(Error::CudaUnavailable(
            "no NVRTC: libnvrtc.so.13 not found (it ships with the CUDA 13 toolkit and the \
             nvidia-cuda-nvrtc wheel; put its directory on LD_LIBRARY_PATH)"
                .into(),
        ));
    }
    Ok(())
}

/// The device state: context, stream, and compiled modules by source and macros.
pub(super) struct Backend {
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    info: DeviceInfo,
    functions: Mutex<HashMap<(String, &'static str), CudaFunction>>,
    modules: Mutex<HashMap<String, Arc<CudaModule>>>,
}

/// Device memory of a tensor, typed by element size (f16 and bf16 as `u16` bits, FP8 as bytes).
pub(super) enum Buffer {
    F32(CudaSlice<f32>),
    U16(CudaSlice<u16>),
    U8(CudaSlice<u8>),
}

/// A plan's device arrays.
pub(super) struct PlanBuffers {
    stream: Arc<CudaStream>,
    max_blocks: usize,
    tables: CudaSlice<i32>,
    contexts: CudaSlice<i32>,
    cu_seqlens: Option<CudaSlice<i32>>,
    tiles: CudaSlice<i32>,
    alibi: Option<CudaSlice<f32>>,
    /// Partial outputs and (max, sum) per row and partition, with more than one partition.
    workspace: Option<(CudaSlice<f32>, CudaSlice<f32>)>,
    /// The attention kernel, its name and threads per block, and the reduce kernel (with more
    /// than one partition): compiled when the plan is made, so that `run` only launches.
    attention: (CudaFunction, &'static str, u32),
    reduce: Option<CudaFunction>,
}

/// `struct AttnArgs` of attention.cu, field for field.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
struct AttnArgs {
    q: u64,
    k_cache: u64,
    v_cache: u64,
    out: u64,
    part_out: u64,
    part_ml: u64,
    block_tables: u64,
    context_lens: u64,
    cu_seqlens: u64,
    tiles: u64,
    alibi: u64,
    max_blocks: i32,
    num_heads: i32,
    num_kv_heads: i32,
    group: i32,
    block_size: i32,
    partition_tokens: i32,
    num_partitions: i32,
    window: i32,
    scale: f32,
    k_scale: f32,
    v_scale: f32,
    soft_cap: f32,
}

/// `struct ReduceArgs` of attention.cu.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
struct ReduceArgs {
    part_out: u64,
    part_ml: u64,
    out: u64,
    num_partitions: i32,
    pad: i32,
}

/// `struct WriteKvArgs` of cache.cu.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
struct WriteKvArgs {
    k_cache: u64,
    v_cache: u64,
    k: u64,
    v: u64,
    slots: u64,
    token_elems: i64,
    num_tokens: i32,
    k_cache_dt: i32,
    v_cache_dt: i32,
    k_dt: i32,
    v_dt: i32,
    k_raw: i32,
    v_raw: i32,
    k_src_scale: f32,
    v_src_scale: f32,
    k_cache_scale: f32,
    v_cache_scale: f32,
    pad: i32,
}

/// `struct CopyBlocksArgs` of cache.cu.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
struct CopyBlocksArgs {
    k_cache: u64,
    v_cache: u64,
    pairs: u64,
    k_block_bytes: i64,
    v_block_bytes: i64,
    num_pairs: i32,
    pad: i32,
}

// SAFETY: each is a `repr(C)` struct of 8-byte and 4-byte integers and floats laid out exactly
// as the C struct of the same name in the kernel sources (same fields, types and order, no
// padding: every struct ends on an 8-byte boundary), passed by value as a kernel parameter.
unsafe impl DeviceRepr for AttnArgs {}
// SAFETY: as above.
unsafe impl DeviceRepr for ReduceArgs {}
// SAFETY: as above.
unsafe impl DeviceRepr for WriteKvArgs {}
// SAFETY: as above.
unsafe impl DeviceRepr for CopyBlocksArgs {}

const _: () = {
    assert!(size_of::<AttnArgs>() == 136);
    assert!(size_of::<ReduceArgs>() == 32);
    assert!(size_of::<WriteKvArgs>() == 96);
    assert!(size_of::<CopyBlocksArgs>() == 48);
};

impl Buffer {
    /// The device address.
    fn ptr(&self, stream: &CudaStream) -> u64 {
        // With event tracking off (see `Backend::new`) the guard records nothing.
        match self {
            Buffer::F32(s) => s.device_ptr(stream).0,
            Buffer::U16(s) => s.device_ptr(stream).0,
            Buffer::U8(s) => s.device_ptr(stream).0,
        }
    }

    /// The stream the buffer was allocated on: its backend's.
    fn stream(&self) -> &Arc<CudaStream> {
        match self {
            Buffer::F32(s) => s.stream(),
            Buffer::U16(s) => s.stream(),
            Buffer::U8(s) => s.stream(),
        }
    }
}

/// Uploads `data` (at least one element is allocated: CUDA refuses empty allocations).
fn upload_slice<T: DeviceRepr + ValidAsZeroBits>(
    stream: &Arc<CudaStream>,
    data: &[T],
    what: &str,
) -> Result<CudaSlice<T>> {
    let mut slice = stream
        .alloc_zeros::<T>(data.len().max(1))
        .map_err(driver(what))?;
    if !data.is_empty() {
        stream.memcpy_htod(data, &mut slice).map_err(driver(what))?;
    }
    Ok(slice)
}

/// Compiles `source` (after common.cuh) with NVRTC for `compute_capability`, with `defines`.
fn compile(
    source: &str,
    file: &str,
    key: &str,
    defines: &[(&str, i64)],
    compute_capability: (u32, u32),
) -> Result<Ptx> {
    let (major, minor) = compute_capability;
    let mut options = vec![
        format!("--gpu-architecture=compute_{major}{minor}"),
        "--std=c++17".to_owned(),
    ];
    options.extend(defines.iter().map(|(n, v)| format!("-D{n}={v}")));
    let opts = CompileOptions {
        options,
        name: Some(file.to_owned()),
        ..CompileOptions::default()
    };
    compile_ptx_with_opts(format!("{COMMON}\n{source}"), opts).map_err(|e| {
        let detail = match &e {
            CompileError::CompileError { log, .. } => log.to_string_lossy().into_owned(),
            other => format!("{other:?}"),
        };
        Error::CudaUnavailable(format!("NVRTC compiling {key}: {detail}"))
    })
}

/// The macros of an attention specialization.
fn attention_defines(
    head_dim: usize,
    (q, k, v): (DType, DType, DType),
    mma: Option<MmaShape>,
) -> Vec<(&'static str, i64)> {
    let mut defines = vec![
        ("HEAD_DIM", head_dim as i64),
        ("Q_DT", i64::from(dt_code(q))),
        ("K_DT", i64::from(dt_code(k))),
        ("V_DT", i64::from(dt_code(v))),
        ("SIMT_WARPS", SIMT_WARPS as i64),
    ];
    if let Some(m) = mma {
        defines.extend([
            ("MMA", 1),
            ("WR", m.row_warps as i64),
            ("WK", m.key_warps as i64),
            ("PV_SPLIT", i64::from(m.pv_split)),
        ]);
    }
    defines
}

/// See `super::check_kernels`.
pub(super) fn check_kernels(compute_capability: (u32, u32)) -> Result<usize> {
    // SAFETY: as in `probe_libraries`.
    if !unsafe { cudarc::nvrtc::sys::is_culib_present() } {
        return Err(Error::CudaUnavailable(
            "no NVRTC: libnvrtc.so.13 not found".into(),
        ));
    }
    let all = [DType::F32, DType::F16, DType::Bf16, DType::Fp8E4m3];
    /// A source, its file name and its macros.
    type Job = (&'static str, &'static str, Vec<(&'static str, i64)>);
    let mut jobs: Vec<Job> = vec![(CACHE, "cache.cu", Vec::new())];
    for q in [DType::F32, DType::F16, DType::Bf16] {
        for cache in all {
            jobs.push((
                ATTENTION,
                "attention.cu",
                attention_defines(128, (q, cache, cache), None),
            ));
        }
    }
    for head_dim in [64, 72, 80, 96, 112, 128, 256] {
        for q in [DType::F16, DType::Bf16] {
            for cache in [q, DType::Fp8E4m3] {
                for (decode, pv_split) in [(true, true), (false, q == DType::F16)] {
                    if !tensor_core_applies(q, cache, cache, head_dim, compute_capability) {
                        continue;
                    }
                    let mma = MmaShape {
                        row_warps: if decode { 1 } else { 4 },
                        key_warps: if decode { 4 } else { 1 },
                        pv_split,
                    };
                    jobs.push((
                        ATTENTION,
                        "attention.cu",
                        attention_defines(head_dim, (q, cache, cache), Some(mma)),
                    ));
                }
            }
        }
    }
    catch_unwind(AssertUnwindSafe(|| {
        for (source, file, defines) in &jobs {
            let key = format!("{file} {defines:?}");
            compile(source, file, &key, defines, compute_capability)?;
        }
        Ok(jobs.len())
    }))
    .unwrap_or_else(|_| Err(Error::CudaUnavailable("NVRTC panicked".into())))
}

impl Backend {
    pub(super) fn new(ordinal: usize) -> Result<Self> {
        probe_libraries()?;
        // cudarc panics instead of failing when a driver symbol is missing (an older driver):
        // turn such a panic into an error too.
        catch_unwind(AssertUnwindSafe(|| Self::open(ordinal))).unwrap_or_else(|panic| {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "unknown panic".to_owned());
            Err(Error::CudaUnavailable(format!(
                "the CUDA driver could not be used: {message}"
            )))
        })
    }

    fn open(ordinal: usize) -> Result<Self> {
        let count = CudaContext::device_count().map_err(driver("cuInit / cuDeviceGetCount"))?;
        if count <= 0 {
            return Err(Error::CudaUnavailable(
                "no CUDA device: the driver sees none".into(),
            ));
        }
        if ordinal >= count as usize {
            return Err(Error::CudaUnavailable(format!(
                "no CUDA device {ordinal}: the driver sees {count}"
            )));
        }
        let ctx = CudaContext::new(ordinal).map_err(driver("creating the CUDA context"))?;
        // SAFETY: every allocation, copy and launch of this backend goes to its one stream, in
        // order, so cudarc's per-allocation events (for ordering across streams) are not
        // needed; turning them off before anything is allocated affects only this context
        // handle.
        unsafe { ctx.disable_event_tracking() };
        let stream = ctx.new_stream().map_err(driver("creating a CUDA stream"))?;
        let attribute =
            |a: sys::CUdevice_attribute, what: &str| ctx.attribute(a).map_err(driver(what));
        let (major, minor) = ctx
            .compute_capability()
            .map_err(driver("reading the compute capability"))?;
        let info = DeviceInfo {
            ordinal,
            name: ctx.name().map_err(driver("reading the device name"))?,
            compute_capability: (major as u32, minor as u32),
            multiprocessors: attribute(
                sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT,
                "reading the multiprocessor count",
            )? as u32,
            l2_cache_bytes: attribute(
                sys::CUdevice_attribute::CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE,
                "reading the L2 size",
            )? as u64,
            memory_bytes: ctx.total_mem().map_err(driver("reading the memory size"))? as u64,
        };
        Ok(Self {
            ctx,
            stream,
            info,
            functions: Mutex::new(HashMap::new()),
            modules: Mutex::new(HashMap::new()),
        })
    }

    pub(super) fn info(&self) -> &DeviceInfo {
        &self.info
    }

    /// Kernel `name` of `source` compiled with `defines`: compiled by NVRTC for this device and
    /// loaded on first use, then cached.
    fn function(
        &self,
        source: &'static str,
        file: &str,
        defines: &[(&str, i64)],
        name: &'static str,
    ) -> Result<CudaFunction> {
        let mut key = file.to_owned();
        for (macro_name, value) in defines {
            key.push_str(&format!(" -D{macro_name}={value}"));
        }
        let fkey = (key.clone(), name);
        if let Some(f) = self
            .functions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&fkey)
        {
            return Ok(f.clone());
        }
        let module = {
            let mut modules = self.modules.lock().unwrap_or_else(PoisonError::into_inner);
            match modules.get(&key) {
                Some(m) => m.clone(),
                None => {
                    let ptx = compile(source, file, &key, defines, self.info.compute_capability)?;
                    let module = self
                        .ctx
                        .load_module(ptx)
                        .map_err(driver(&format!("loading the module {key}")))?;
                    modules.insert(key.clone(), module.clone());
                    module
                }
            }
        };
        let f = module
            .load_function(name)
            .map_err(driver(&format!("finding {name} in {key}")))?;
        self.functions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(fkey, f.clone());
        Ok(f)
    }

    /// Checks that a buffer belongs to this backend.
    fn owns(&self, name: &str, buf: &Buffer) -> Result<()> {
        if Arc::ptr_eq(buf.stream(), &self.stream) {
            Ok(())
        } else {
            Err(Error::invalid(
                name,
                "belongs to another CudaBackend (every tensor and plan stays with the backend \
                 that made it)",
            ))
        }
    }

    pub(super) fn upload(&self, storage: &Storage) -> Result<Buffer> {
        let what = "copying a tensor to the device";
        Ok(match storage {
            Storage::F32(v) => Buffer::F32(upload_slice(&self.stream, v, what)?),
            Storage::F16(v) => Buffer::U16(upload_slice(&self.stream, v.reinterpret_cast(), what)?),
            Storage::Bf16(v) => {
                Buffer::U16(upload_slice(&self.stream, v.reinterpret_cast(), what)?)
            }
            Storage::Fp8E4m3 { bytes, .. } => Buffer::U8(upload_slice(&self.stream, bytes, what)?),
        })
    }

    /// The elements of `t` (a buffer may hold one element more: empty tensors allocate one).
    pub(super) fn download(&self, t: &DeviceTensor) -> Result<Storage> {
        self.owns("tensor", &t.buf)?;
        let what = "copying a tensor to the host";
        let len = t.len();
        enum Host {
            F32(Vec<f32>),
            U16(Vec<u16>),
            U8(Vec<u8>),
        }
        let host = match &t.buf {
            Buffer::F32(s) => Host::F32(self.stream.clone_dtoh(s).map_err(driver(what))?),
            Buffer::U16(s) => Host::U16(self.stream.clone_dtoh(s).map_err(driver(what))?),
            Buffer::U8(s) => Host::U8(self.stream.clone_dtoh(s).map_err(driver(what))?),
        };
        // Copies to pageable memory return when done; waiting also reports a failed kernel.
        self.synchronize()?;
        Ok(match host {
            Host::F32(mut v) => {
                v.truncate(len);
                Storage::F32(v)
            }
            Host::U16(bits) if t.dtype == DType::F16 => {
                Storage::F16(HalfBitsSliceExt::reinterpret_cast::<f16>(&bits[..len]).to_vec())
            }
            Host::U16(bits) => {
                Storage::Bf16(HalfBitsSliceExt::reinterpret_cast::<bf16>(&bits[..len]).to_vec())
            }
            Host::U8(mut bytes) => {
                bytes.truncate(len);
                Storage::Fp8E4m3 {
                    bytes,
                    scale: t.fp8_scale.unwrap_or(1.0),
                }
            }
        })
    }

    pub(super) fn zeros(&self, len: usize, dtype: DType) -> Result<Buffer> {
        let what = "allocating device memory";
        let n = len.max(1);
        Ok(match dtype {
            DType::F32 => Buffer::F32(self.stream.alloc_zeros(n).map_err(driver(what))?),
            DType::F16 | DType::Bf16 => {
                Buffer::U16(self.stream.alloc_zeros(n).map_err(driver(what))?)
            }
            DType::Fp8E4m3 => Buffer::U8(self.stream.alloc_zeros(n).map_err(driver(what))?),
        })
    }

    pub(super) fn alloc(&self, len: usize, dtype: DType) -> Result<Buffer> {
        let what = "allocating device memory";
        let n = len.max(1);
        // SAFETY: the memory is uninitialized; callers hand it only to a kernel that writes
        // every element before anything reads it (attention outputs).
        unsafe {
            Ok(match dtype {
                DType::F32 => Buffer::F32(self.stream.alloc(n).map_err(driver(what))?),
                DType::F16 | DType::Bf16 => {
                    Buffer::U16(self.stream.alloc(n).map_err(driver(what))?)
                }
                DType::Fp8E4m3 => Buffer::U8(self.stream.alloc(n).map_err(driver(what))?),
            })
        }
    }

    pub(super) fn copy(&self, src: &Buffer, dst: &mut Buffer) -> Result<()> {
        self.owns("src", src)?;
        self.owns("dst", dst)?;
        let what = "copying device memory";
        match (src, dst) {
            (Buffer::F32(s), Buffer::F32(d)) => self.stream.memcpy_dtod(s, d),
            (Buffer::U16(s), Buffer::U16(d)) => self.stream.memcpy_dtod(s, d),
            (Buffer::U8(s), Buffer::U8(d)) => self.stream.memcpy_dtod(s, d),
            _ => return Err(Error::invalid("dst", "has another element size than src")),
        }
        .map_err(driver(what))
    }

    pub(super) fn synchronize(&self) -> Result<()> {
        self.stream
            .synchronize()
            .map_err(driver("waiting for the CUDA stream"))?;
        self.ctx
            .check_err()
            .map_err(driver("an earlier CUDA operation"))
    }

    pub(super) fn start_timing(&self) -> Result<(CudaEvent, CudaEvent)> {
        let what = "recording a timing event";
        let flags = Some(sys::CUevent_flags::CU_EVENT_DEFAULT);
        let start = self.ctx.new_event(flags).map_err(driver(what))?;
        let end = self.ctx.new_event(flags).map_err(driver(what))?;
        start.record(&self.stream).map_err(driver(what))?;
        Ok((start, end))
    }

    pub(super) fn stop_timing(&self, (start, end): (CudaEvent, CudaEvent)) -> Result<f64> {
        end.record(&self.stream)
            .map_err(driver("recording a timing event"))?;
        let ms = start
            .elapsed_ms(&end)
            .map_err(driver("reading a timing event"))?;
        self.ctx
            .check_err()
            .map_err(driver("an earlier CUDA operation"))?;
        Ok(f64::from(ms))
    }

    fn launch<A: DeviceRepr>(
        &self,
        f: &CudaFunction,
        name: &str,
        args: &A,
        cfg: LaunchConfig,
    ) -> Result<()> {
        let mut builder = self.stream.launch_builder(f);
        builder.arg(args);
        // SAFETY: `args` is the kernel's single by-value parameter, laid out as its C struct
        // (see the DeviceRepr impls). Every address in it is a live allocation of this backend
        // (its tensors, or arrays that the caller keeps alive until the launch completes in
        // stream order: plans own theirs, and dropped buffers are freed in stream order), sized
        // for the grid the host planned: the kernels index only within the shapes the public
        // validators checked.
        unsafe { builder.launch(cfg) }
            .map(|_| ())
            .map_err(driver(&format!("launching {name}")))
    }

    pub(super) fn write_kv(
        &self,
        k_cache: &mut DeviceTensor,
        v_cache: &mut DeviceTensor,
        slots: &[i64],
        k: &DeviceTensor,
        v: &DeviceTensor,
        token_elems: usize,
    ) -> Result<()> {
        for (name, t) in [
            ("k_cache", &*k_cache),
            ("v_cache", &*v_cache),
            ("k", k),
            ("v", v),
        ] {
            self.owns(name, &t.buf)?;
        }
        if slots.is_empty() {
            return Ok(());
        }
        let f = self.function(CACHE, "cache.cu", &[], "write_kv")?;
        let slots_dev = upload_slice(&self.stream, slots, "copying the slot mapping")?;
        let same = |cache: &DeviceTensor, src: &DeviceTensor| {
            i32::from(cache.dtype == src.dtype && cache.fp8_scale == src.fp8_scale)
        };
        let args = WriteKvArgs {
            k_cache: k_cache.buf.ptr(&self.stream),
            v_cache: v_cache.buf.ptr(&self.stream),
            k: k.buf.ptr(&self.stream),
            v: v.buf.ptr(&self.stream),
            slots: slots_dev.device_ptr(&self.stream).0,
            token_elems: token_elems as i64,
            num_tokens: slots.len() as i32,
            k_cache_dt: dt_code(k_cache.dtype),
            v_cache_dt: dt_code(v_cache.dtype),
            k_dt: dt_code(k.dtype),
            v_dt: dt_code(v.dtype),
            k_raw: same(k_cache, k),
            v_raw: same(v_cache, v),
            k_src_scale: k.fp8_scale.unwrap_or(1.0),
            v_src_scale: v.fp8_scale.unwrap_or(1.0),
            k_cache_scale: k_cache.fp8_scale.unwrap_or(1.0),
            v_cache_scale: v_cache.fp8_scale.unwrap_or(1.0),
            pad: 0,
        };
        let cfg = LaunchConfig {
            grid_dim: (slots.len() as u32, 2, 1),
            block_dim: (128, 1, 1),
            shared_mem_bytes: 0,
        };
        // `slots_dev` is freed in stream order after the kernel.
        self.launch(&f, "write_kv", &args, cfg)
    }

    pub(super) fn copy_blocks(
        &self,
        k_cache: &mut DeviceTensor,
        v_cache: &mut DeviceTensor,
        waves: &[Vec<(u32, u32)>],
        block_elements: usize,
    ) -> Result<()> {
        self.owns("k_cache", &k_cache.buf)?;
        self.owns("v_cache", &v_cache.buf)?;
        if waves.is_empty() {
            return Ok(());
        }
        let f = self.function(CACHE, "cache.cu", &[], "copy_blocks")?;
        for wave in waves {
            let flat: Vec<i32> = wave
                .iter()
                .flat_map(|&(s, d)| [s as i32, d as i32])
                .collect();
            let pairs = upload_slice(&self.stream, &flat, "copying the block pairs")?;
            let args = CopyBlocksArgs {
                k_cache: k_cache.buf.ptr(&self.stream),
                v_cache: v_cache.buf.ptr(&self.stream),
                pairs: pairs.device_ptr(&self.stream).0,
                k_block_bytes: (block_elements * k_cache.dtype.size()) as i64,
                v_block_bytes: (block_elements * v_cache.dtype.size()) as i64,
                num_pairs: wave.len() as i32,
                pad: 0,
            };
            let cfg = LaunchConfig {
                grid_dim: (wave.len() as u32, 2, 1),
                block_dim: (256, 1, 1),
                shared_mem_bytes: 0,
            };
            self.launch(&f, "copy_blocks", &args, cfg)?;
        }
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn plan_buffers(
        &self,
        launch: &Launch,
        dtypes: (DType, DType, DType),
        tables: &[i32],
        max_blocks: usize,
        contexts: &[i32],
        cu_seqlens: Option<&[i32]>,
        params: &AttentionParams,
    ) -> Result<PlanBuffers> {
        let what = "copying the plan's arrays to the device";
        let defines = attention_defines(launch.shape.layout.head_dim, dtypes, launch.mma);
        let (name, threads) = match (launch.kind, launch.mma) {
            (KernelKind::TensorCore, Some(m)) => ("attn_mma", 32 * m.row_warps * m.key_warps),
            _ => ("attn_simt", 32 * SIMT_WARPS),
        };
        let attention = (
            self.function(ATTENTION, "attention.cu", &defines, name)?,
            name,
            threads as u32,
        );
        let reduce = if launch.partitions > 1 {
            Some(self.function(ATTENTION, "attention.cu", &defines, "attn_reduce")?)
        } else {
            None
        };
        let workspace = if launch.partitions > 1 {
            let rows = launch.shape.num_tokens * launch.shape.num_heads * launch.partitions;
            // SAFETY: uninitialized; the attention kernel writes every partial row (all
            // partitions, empty ones included) before attn_reduce reads it.
            let (out, ml) = unsafe {
                (
                    self.stream
                        .alloc::<f32>((rows * launch.shape.layout.head_dim).max(1))
                        .map_err(driver("allocating the split-K workspace"))?,
                    self.stream
                        .alloc::<f32>((rows * 2).max(1))
                        .map_err(driver("allocating the split-K workspace"))?,
                )
            };
            Some((out, ml))
        } else {
            None
        };
        Ok(PlanBuffers {
            stream: self.stream.clone(),
            max_blocks,
            tables: upload_slice(&self.stream, tables, what)?,
            contexts: upload_slice(&self.stream, contexts, what)?,
            cu_seqlens: cu_seqlens
                .map(|cu| upload_slice(&self.stream, cu, what))
                .transpose()?,
            tiles: upload_slice(&self.stream, &launch.tiles, what)?,
            alibi: params
                .alibi_slopes
                .as_deref()
                .map(|s| upload_slice(&self.stream, s, what))
                .transpose()?,
            workspace,
            attention,
            reduce,
        })
    }

    pub(super) fn run(
        &self,
        plan: &AttentionPlan,
        q: &DeviceTensor,
        k_cache: &DeviceTensor,
        v_cache: &DeviceTensor,
        out: &mut DeviceTensor,
    ) -> Result<()> {
        for (name, t) in [
            ("q", q),
            ("k_cache", k_cache),
            ("v_cache", v_cache),
            ("out", &*out),
        ] {
            self.owns(name, &t.buf)?;
        }
        let dev = &plan.dev;
        if !Arc::ptr_eq(&dev.stream, &self.stream) {
            return Err(Error::invalid(
                "plan",
                "belongs to another CudaBackend (every tensor and plan stays with the backend \
                 that made it)",
            ));
        }
        let launch = &plan.launch;
        let shape = &launch.shape;
        if launch.tiles.is_empty() || shape.num_tokens == 0 {
            return Ok(());
        }
        let layout = shape.layout;
        let (attn, name, threads) = &dev.attention;
        let ptr32 = |s: &CudaSlice<i32>| s.device_ptr(&self.stream).0;
        let (part_out, part_ml) = match &dev.workspace {
            Some((o, m)) => (o.device_ptr(&self.stream).0, m.device_ptr(&self.stream).0),
            None => (0, 0),
        };
        let params = &plan.params;
        let args = AttnArgs {
            q: q.buf.ptr(&self.stream),
            k_cache: k_cache.buf.ptr(&self.stream),
            v_cache: v_cache.buf.ptr(&self.stream),
            out: out.buf.ptr(&self.stream),
            part_out,
            part_ml,
            block_tables: ptr32(&dev.tables),
            context_lens: ptr32(&dev.contexts),
            cu_seqlens: dev.cu_seqlens.as_ref().map_or(0, ptr32),
            tiles: ptr32(&dev.tiles),
            alibi: dev
                .alibi
                .as_ref()
                .map_or(0, |s| s.device_ptr(&self.stream).0),
            max_blocks: dev.max_blocks as i32,
            num_heads: shape.num_heads as i32,
            num_kv_heads: layout.num_kv_heads as i32,
            group: shape.group_size() as i32,
            block_size: layout.block_size as i32,
            partition_tokens: launch.partition_tokens.min(i32::MAX as usize) as i32,
            num_partitions: launch.partitions as i32,
            window: params.sliding_window.unwrap_or(0).min(i32::MAX as usize) as i32,
            scale: params.scale,
            k_scale: k_cache.fp8_scale.unwrap_or(1.0),
            v_scale: v_cache.fp8_scale.unwrap_or(1.0),
            soft_cap: params.soft_cap.unwrap_or(0.0),
        };
        let cfg = LaunchConfig {
            grid_dim: (
                launch.num_tiles() as u32,
                layout.num_kv_heads as u32,
                launch.partitions as u32,
            ),
            block_dim: (*threads, 1, 1),
            shared_mem_bytes: 0,
        };
        self.launch(attn, name, &args, cfg)?;
        if let Some(reduce) = &dev.reduce {
            let args = ReduceArgs {
                part_out,
                part_ml,
                out: out.buf.ptr(&self.stream),
                num_partitions: launch.partitions as i32,
                pad: 0,
            };
            let cfg = LaunchConfig {
                grid_dim: ((shape.num_tokens * shape.num_heads) as u32, 1, 1),
                block_dim: (128, 1, 1),
                shared_mem_bytes: (launch.partitions * 4) as u32,
            };
            self.launch(reduce, "attn_reduce", &args, cfg)?;
        }
        Ok(())
    }
}
