#!/usr/bin/env python3
"""nim-engine's paged decode against PyTorch's scaled_dot_product_attention.

Runs on a machine with PyTorch and safetensors (the H200 machines' image has both); the Rust
tests do not need it. It reads the input file of the `attention` example (see
`examples/attention.rs`: q, k_cache, v_cache, block_tables, context_lens, optional
alibi_slopes; metadata `scale`, `sliding_window`, `soft_cap`, `<name>.scale` for FP8 caches) and
its output (`out`), gathers each sequence's keys and values through its block table, and
computes the same attention with `torch.nn.functional.scaled_dot_product_attention` in float64
on the CPU: an explicit float mask carries the sliding window and the ALiBi bias (decode queries
sit at the last position, so SDPA's own `is_causal`, aligned top-left, does not apply), and
`enable_gqa=True` maps query heads to KV heads as nim-engine does (head h reads KV head
h // (heads / kv_heads)). SDPA has no soft-cap: with `soft_cap` set the same float64 math is done
by hand (logits, cap * tanh(logits / cap), bias, softmax, weighted sum) and the report says so.

For scale, it also reports the error of PyTorch's own SDPA on the GPU in the queries' dtype
(caches dequantized to it) against the same float64 result.

Bounds (nim_engine::reference::Tolerance, ENGINE.md section 5.3): an element passes when
|got - want| <= atol + rtol * |want|, the output when every element passes and
max |got - want| / max |want| <= max_rel; NaN fails.

    output   atol   rtol   max_rel
    f32      1e-5   1e-5   1e-5
    f16      1e-3   1e-3   1e-3
    bf16     1e-2   1e-2   1e-2

Usage:
    sdpa_check.py make IN.safetensors [--dtype bf16] [--cache fp8] [--seqs 6] [--max-context 3000]
                       [--heads 32] [--kv-heads 8] [--head-dim 128] [--block-size 16]
                       [--window W] [--alibi] [--soft-cap C] [--seed S]
    sdpa_check.py check IN.safetensors OUT.safetensors
    sdpa_check.py suite --example PATH_TO_attention [--dir DIR] [--device cuda]

`suite` makes a set of inputs (bf16, f16, f32, FP8 caches; GQA 4 and 8; sliding window, ALiBi,
soft-cap; head dims 64, 80, 128, 256), runs the example with `--device cuda` on each and checks
it. Exit status: 0 when every check passes, 1 otherwise, 2 on bad usage.
"""

import argparse
import math
import os
import subprocess
import sys

import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file, save_file

DTYPES = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}
BOUNDS = {
    torch.float32: (1e-5, 1e-5, 1e-5),
    torch.float16: (1e-3, 1e-3, 1e-3),
    torch.bfloat16: (1e-2, 1e-2, 1e-2),
}
FP8 = torch.float8_e4m3fn


def make(path, dtype="bf16", cache="same", seqs=6, max_context=3000, heads=32, kv_heads=8,
         head_dim=128, block_size=16, window=None, alibi=False, soft_cap=None, seed=0):
    """Writes an input file for the attention example; unused cache slots hold NaN."""
    g = torch.Generator().manual_seed(seed)
    qdt = DTYPES[dtype]
    contexts = torch.randint(1, max_context + 1, (seqs,), generator=g)
    contexts[0] = max_context
    if seqs > 2:
        contexts[1] = 1
    blocks_per_seq = [(int(c) + block_size - 1) // block_size for c in contexts]
    max_blocks = max(blocks_per_seq) + 1
    num_blocks = sum(blocks_per_seq) + 4
    perm = torch.randperm(num_blocks, generator=g)
    tables = torch.full((seqs, max_blocks), -1, dtype=torch.int32)
    slots_used = torch.zeros(num_blocks * block_size, dtype=torch.bool)
    nxt = 0
    for s, n in enumerate(blocks_per_seq):
        tables[s, :n] = perm[nxt:nxt + n].to(torch.int32)
        nxt += n
        for p in range(int(contexts[s])):
            slots_used[int(tables[s, p // block_size]) * block_size + p % block_size] = True
    shape = (num_blocks, block_size, kv_heads, head_dim)
    meta = {"scale": repr(1.0 / math.sqrt(head_dim))}
    tensors = {}
    for name, fp8_scale in (("k_cache", 0.5), ("v_cache", 0.25)):
        x = torch.randn(shape, generator=g)
        unused = ~slots_used.view(num_blocks, block_size)
        if cache == "fp8":
            c = (x / fp8_scale).to(FP8)
            c.view(torch.uint8)[unused] = 0x7F  # FP8 NaN
            meta[name + ".scale"] = repr(fp8_scale)
        else:
            c = x.to(qdt if cache == "same" else DTYPES[cache])
            c[unused] = float("nan")
        tensors[name] = c.contiguous()
    tensors["q"] = torch.randn((seqs, heads, head_dim), generator=g).to(qdt)
    tensors["block_tables"] = tables
    tensors["context_lens"] = contexts.to(torch.int32)
    if alibi:
        tensors["alibi_slopes"] = torch.tensor(
            [2.0 ** (-8.0 * (h + 1) / heads) for h in range(heads)], dtype=torch.float32)
    if window is not None:
        meta["sliding_window"] = str(window)
    if soft_cap is not None:
        meta["soft_cap"] = repr(soft_cap)
    save_file(tensors, path, metadata=meta)


def load(path):
    tensors = load_file(path)
    with safe_open(path, "pt") as f:
        meta = f.metadata() or {}
    return tensors, meta


def dequantized(tensors, meta, name):
    t = tensors[name]
    x = t.to(torch.float64)
    if t.dtype == FP8:
        x = x * float(meta.get(name + ".scale", "1.0"))
    return x


def references(tensors, meta, device_dtype):
    """float64 SDPA (or by hand with a soft-cap) per sequence, and PyTorch's own SDPA on the GPU
    in `device_dtype` when a GPU is there."""
    q = tensors["q"].to(torch.float64)
    k_cache = dequantized(tensors, meta, "k_cache")
    v_cache = dequantized(tensors, meta, "v_cache")
    tables = tensors["block_tables"].to(torch.int64)
    contexts = tensors["context_lens"].to(torch.int64)
    slopes = tensors.get("alibi_slopes")
    scale = float(meta["scale"])
    window = int(meta["sliding_window"]) if "sliding_window" in meta else None
    cap = float(meta["soft_cap"]) if "soft_cap" in meta else None
    seqs, heads, dim = q.shape
    _, block_size, kv_heads, _ = k_cache.shape
    want = torch.zeros_like(q)
    torch_gpu = torch.zeros_like(q) if torch.cuda.is_available() else None
    for s in range(seqs):
        ctx = int(contexts[s])
        if ctx == 0:
            continue
        pos = torch.arange(ctx)
        slots = tables[s, pos // block_size] * block_size + pos % block_size
        k = k_cache.reshape(-1, kv_heads, dim)[slots].permute(1, 0, 2)  # [kv_heads, ctx, dim]
        v = v_cache.reshape(-1, kv_heads, dim)[slots].permute(1, 0, 2)
        p = ctx - 1
        bias = torch.zeros(heads, ctx, dtype=torch.float64)
        if window is not None:
            bias[:, pos <= p - window] = float("-inf")
        if slopes is not None:
            bias += slopes.to(torch.float64)[:, None] * (pos - p).to(torch.float64)[None, :]
        qs = q[s][:, None, :]  # [heads, 1, dim]
        if cap is None:
            out = F.scaled_dot_product_attention(
                qs[None], k[None], v[None], attn_mask=bias[None, :, None, :], scale=scale,
                enable_gqa=True)[0]
        else:
            group = heads // kv_heads
            kk = k.repeat_interleave(group, dim=0)
            vv = v.repeat_interleave(group, dim=0)
            logits = scale * (qs @ kk.transpose(1, 2))  # [heads, 1, ctx]
            logits = cap * torch.tanh(logits / cap) + bias[:, None, :]
            out = torch.softmax(logits, dim=-1) @ vv
        want[s] = out[:, 0, :]
        if torch_gpu is not None and cap is None:
            dev = "cuda"
            got = F.scaled_dot_product_attention(
                qs[None].to(dev, device_dtype), k[None].to(dev, device_dtype),
                v[None].to(dev, device_dtype),
                attn_mask=bias[None, :, None, :].to(dev, device_dtype), scale=scale,
                enable_gqa=True)[0]
            torch_gpu[s] = got[:, 0, :].to("cpu", torch.float64)
    if cap is not None:
        torch_gpu = None
    return want, torch_gpu, cap is not None


def errors(got, want):
    diff = (got - want).abs()
    diff[torch.isnan(diff)] = float("inf")
    max_abs = float(diff.max()) if diff.numel() else 0.0
    max_want = float(want.abs().max()) if want.numel() else 0.0
    rel = max_abs / max_want if max_want > 0 else max_abs
    den = float((want * want).sum())
    nmse = float((diff * diff).sum()) / den if den > 0 else 0.0
    return diff, max_abs, rel, nmse


def check(inp, outp):
    tensors, meta = load(inp)
    out = load_file(outp)["out"]
    qdt = tensors["q"].dtype
    if out.dtype != qdt or out.shape != tensors["q"].shape:
        print(f"FAIL {outp}: out is {tuple(out.shape)} {out.dtype}, "
              f"expected {tuple(tensors['q'].shape)} {qdt}")
        return False
    want, torch_gpu, by_hand = references(tensors, meta, qdt)
    atol, rtol, max_rel = BOUNDS[qdt]
    got = out.to(torch.float64)
    diff, max_abs, rel, nmse = errors(got, want)
    bad = int((diff > atol + rtol * want.abs()).sum())
    ok = bad == 0 and rel <= max_rel
    line = (f"{'ok  ' if ok else 'FAIL'} {os.path.basename(inp)}: q {str(qdt)[6:]}, "
            f"k_cache {str(tensors['k_cache'].dtype)[6:]}; nim-engine max|diff| {max_abs:.3e} "
            f"rel {rel:.3e} NMSE {nmse:.3e}, {bad} elements out of bounds "
            f"(atol {atol:g}, rtol {rtol:g}, max_rel {max_rel:g})")
    if by_hand:
        line += "; soft-cap: reference by hand in float64 (SDPA has no soft-cap)"
    elif torch_gpu is not None:
        _, t_abs, t_rel, _ = errors(torch_gpu, want)
        line += f"; torch SDPA on the GPU in {str(qdt)[6:]}: max|diff| {t_abs:.3e} rel {t_rel:.3e}"
    print(line)
    return ok


SUITE = [
    ("bf16-gqa8", dict(dtype="bf16", heads=64, kv_heads=8, max_context=4096)),
    ("f16-gqa4", dict(dtype="f16", heads=32, kv_heads=8, max_context=3000)),
    ("f32-gqa4", dict(dtype="f32", heads=16, kv_heads=4, max_context=2000)),
    ("bf16-fp8-cache", dict(dtype="bf16", cache="fp8", heads=32, kv_heads=8, max_context=3000)),
    ("f16-fp8-cache-hd80", dict(dtype="f16", cache="fp8", head_dim=80, max_context=1500)),
    ("bf16-window", dict(dtype="bf16", window=700, max_context=3000)),
    ("f16-alibi-hd64", dict(dtype="f16", alibi=True, head_dim=64, max_context=2000)),
    ("bf16-soft-cap-hd256", dict(dtype="bf16", soft_cap=30.0, head_dim=256, max_context=2000)),
    ("bf16-block32-long", dict(dtype="bf16", block_size=32, seqs=3, max_context=32768)),
]


def suite(example, directory, device):
    os.makedirs(directory, exist_ok=True)
    ok = True
    for i, (name, kw) in enumerate(SUITE):
        inp = os.path.join(directory, f"{name}.in.safetensors")
        outp = os.path.join(directory, f"{name}.out.safetensors")
        make(inp, seed=i, **kw)
        run = subprocess.run([example, "--device", device, "--input", inp, "--output", outp],
                             capture_output=True, text=True)
        if run.returncode != 0:
            print(f"FAIL {name}: the example exited {run.returncode}: {run.stderr.strip()}")
            ok = False
            continue
        ok = check(inp, outp) and ok
    print("all checks passed" if ok else "some checks FAILED")
    return ok


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    m = sub.add_parser("make")
    m.add_argument("input")
    m.add_argument("--dtype", default="bf16", choices=sorted(DTYPES))
    m.add_argument("--cache", default="same", choices=["same", "f32", "f16", "bf16", "fp8"])
    m.add_argument("--seqs", type=int, default=6)
    m.add_argument("--max-context", type=int, default=3000)
    m.add_argument("--heads", type=int, default=32)
    m.add_argument("--kv-heads", type=int, default=8)
    m.add_argument("--head-dim", type=int, default=128)
    m.add_argument("--block-size", type=int, default=16)
    m.add_argument("--window", type=int)
    m.add_argument("--alibi", action="store_true")
    m.add_argument("--soft-cap", type=float)
    m.add_argument("--seed", type=int, default=0)
    c = sub.add_parser("check")
    c.add_argument("input")
    c.add_argument("output")
    s = sub.add_parser("suite")
    s.add_argument("--example", required=True)
    s.add_argument("--dir", default="/tmp/nim-sdpa")
    s.add_argument("--device", default="cuda", choices=["cpu", "cuda"])
    args = parser.parse_args()
    if args.command == "make":
        make(args.input, dtype=args.dtype, cache=args.cache, seqs=args.seqs,
             max_context=args.max_context, heads=args.heads, kv_heads=args.kv_heads,
             head_dim=args.head_dim, block_size=args.block_size, window=args.window,
             alibi=args.alibi, soft_cap=args.soft_cap, seed=args.seed)
        return 0
    if args.command == "check":
        return 0 if check(args.input, args.output) else 1
    return 0 if suite(args.example, args.dir, args.device) else 1


if __name__ == "__main__":
    sys.exit(main())
