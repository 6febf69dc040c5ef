#!/bin/sh
# Builds and runs check.cpp for each kernel specialization the backend uses (see KERNELS.md):
# the attention kernels run on the CPU through emulate.h against a naive f64 attention.
# Needs a C++20 compiler with _Float16 (g++ 12 or newer on x86-64). Takes about 10 minutes on
# 2 cores. SANITIZE=1 adds AddressSanitizer and UBSan: any read or write outside a buffer fails.
set -eu
cd "$(dirname "$0")"
CXX=${CXX:-g++}
flags="-std=c++20 -O1 -w"
if [ "${SANITIZE:-0}" = 1 ]; then
    flags="$flags -g -fsanitize=address,undefined -fno-sanitize-recover=all"
    export ASAN_OPTIONS=detect_stack_use_after_return=0
fi
out=${TMPDIR:-/tmp}/nim-kernel-emulation
mkdir -p "$out"
status=0
run() {
    name=$1
    shift
    printf '\n== %s\n' "$name"
    # shellcheck disable=SC2086
    if ! "$CXX" $flags "$@" check.cpp -o "$out/check"; then
        status=1
        return
    fi
    "$out/check" || status=1
}
# DT codes: 0 f32, 1 f16, 2 bf16, 3 fp8 e4m3.
for d in 64 80 40; do
    run "simt head_dim $d f32" -DHEAD_DIM=$d -DQ_DT=0 -DK_DT=0 -DV_DT=0 -DSIMT_WARPS=4
done
run "simt head_dim 64 bf16 q, fp8 cache" -DHEAD_DIM=64 -DQ_DT=2 -DK_DT=3 -DV_DT=3 -DSIMT_WARPS=4
run "simt head_dim 72 f16 q, bf16 k, f32 v" -DHEAD_DIM=72 -DQ_DT=1 -DK_DT=2 -DV_DT=0 -DSIMT_WARPS=4
for d in 64 80 128 48; do
    run "mma decode head_dim $d bf16" -DHEAD_DIM=$d -DQ_DT=2 -DK_DT=2 -DV_DT=2 -DSIMT_WARPS=4 -DMMA -DWR=1 -DWK=4 -DPV_SPLIT=1
done
run "mma decode head_dim 64 f16" -DHEAD_DIM=64 -DQ_DT=1 -DK_DT=1 -DV_DT=1 -DSIMT_WARPS=4 -DMMA -DWR=1 -DWK=4 -DPV_SPLIT=1
run "mma decode head_dim 96 bf16 q, fp8 cache" -DHEAD_DIM=96 -DQ_DT=2 -DK_DT=3 -DV_DT=3 -DSIMT_WARPS=4 -DMMA -DWR=1 -DWK=4 -DPV_SPLIT=1
run "mma decode head_dim 112 f16 q, fp8 k" -DHEAD_DIM=112 -DQ_DT=1 -DK_DT=3 -DV_DT=1 -DSIMT_WARPS=4 -DMMA -DWR=1 -DWK=4 -DPV_SPLIT=1
for d in 64 80; do
    run "mma prefill head_dim $d bf16" -DHEAD_DIM=$d -DQ_DT=2 -DK_DT=2 -DV_DT=2 -DSIMT_WARPS=4 -DMMA -DWR=4 -DWK=1 -DPV_SPLIT=0
    run "mma prefill head_dim $d f16" -DHEAD_DIM=$d -DQ_DT=1 -DK_DT=1 -DV_DT=1 -DSIMT_WARPS=4 -DMMA -DWR=4 -DWK=1 -DPV_SPLIT=1
done
run "mma prefill head_dim 128 bf16 q, fp8 cache" -DHEAD_DIM=128 -DQ_DT=2 -DK_DT=3 -DV_DT=3 -DSIMT_WARPS=4 -DMMA -DWR=4 -DWK=1 -DPV_SPLIT=0
exit $status
