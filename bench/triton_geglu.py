#!/usr/bin/env python
"""diffusers' GEGLU projection (Linear to 2x the feed-forward width, split, `hidden * gelu(gate)`) as one Triton kernel
(an experiment for issue #5; not used by the package: on one H100 a whole feed-forward at the first level took 0.889 ms
against diffusers' compiled 0.952, and its two cuBLAS GEMMs alone 0.614; bench/results/triton_geglu_h100.md).

Under torch.compile today the projection is a cuBLAS GEMM that writes the 8x-wide `(hidden, gate)` output, and an
Inductor kernel reads it back to write the 4x-wide product (about 6 ms of every U-Net step at paper size). Here each
program computes the same tile of `hidden` and of `gate` (two accumulators over the same input tile) and writes only
`hidden * gelu(gate)`: the 8x-wide intermediate never reaches device memory.

That kernel's GEMM runs at about 60% of cuBLAS's speed on these shapes, which costs most of what the fusion saves. The
second kernel, `_geglu_tma`, is the same computation written the way Triton's own Hopper matmuls reach cuBLAS's
speed: persistent (one program per SM), loads through TMA descriptors, optionally warp-specialised. It matches
diffusers within 1e-6 under the interpreter (partial tiles included). On an H100 a first-level feed-forward took 0.917 ms
(launched eagerly) against diffusers' compiled 1.065 and its cuBLAS GEMMs' 0.676; warp-specialised 1.019. In the whole
compiled step (bench_unet.py --geglu tma, with the TMA frame convolutions) the step got slower: 138.8 ms against
ModelScope's 130.3 in the same call, where it had been 136.2 against 130.1 without them (bench/results/triton_tma_h100.md,
unet_h100_tma.md). bench/check_tma_levels.py runs it under torch.compile at every level's shape.

Needs `triton` (CUDA builds of torch bring it; on a CPU machine `pip install triton` for the interpreter).

    TRITON_INTERPRET=1 python bench/triton_geglu.py --check     # CPU: Triton's interpreter against diffusers
    python bench/triton_geglu.py                                  # GPU: ms per feed-forward, paper sizes
    python bench/triton_geglu.py --levels 1                       # GPU: the first level only (~1 min)
"""
from __future__ import annotations
import argparse, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for _p in (ROOT, ROOT / "bench"):
    if str(_p) not in sys.path: sys.path.insert(0, str(_p))
import torch
import triton
import triton.language as tl
from triton.tools.tensor_descriptor import TensorDescriptor
from bench_unet import check_close, print_variants, time_variants


@triton.jit
def _geglu(x_ptr, w_ptr, b_ptr, y_ptr, M, N, K: tl.constexpr,
           BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr):
    "y[m, n] = (x @ w[n].T + b[n]) * gelu(x @ w[N + n].T + b[N + n]) for x (M, K), w (2N, K) (a Linear's weight), y (M, N)."
    pid = tl.program_id(0)                              # N-blocks fastest: the programs of one row of tiles run together
    n_blocks = tl.cdiv(N, BLOCK_N)                      # and share its x tiles through L2, so x is read from HBM once
    pid_m, pid_n = pid // n_blocks, pid % n_blocks
    offs_m = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    offs_n = pid_n * BLOCK_N + tl.arange(0, BLOCK_N)
    mask_m, mask_n = offs_m < M, offs_n < N
    acc_h = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    acc_g = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
    for k0 in range(0, K, BLOCK_K):
        offs_k = k0 + tl.arange(0, BLOCK_K)
        mask_k = offs_k < K
        x = tl.load(x_ptr + offs_m[:, None] * K + offs_k[None, :], mask=mask_m[:, None] & mask_k[None, :], other=0.0)
        wmask = mask_k[:, None] & mask_n[None, :]
        wh = tl.load(w_ptr + offs_n[None, :] * K + offs_k[:, None], mask=wmask, other=0.0)          # (BLOCK_K, BLOCK_N)
        wg = tl.load(w_ptr + (N + offs_n[None, :]) * K + offs_k[:, None], mask=wmask, other=0.0)
        acc_h += tl.dot(x, wh)
        acc_g += tl.dot(x, wg)
    h = acc_h + tl.load(b_ptr + offs_n, mask=mask_n, other=0.0).to(tl.float32)[None, :]
    g = acc_g + tl.load(b_ptr + N + offs_n, mask=mask_n, other=0.0).to(tl.float32)[None, :]
    y = h * (0.5 * g * (1.0 + tl.math.erf(g * 0.7071067811865476)))                            # exact GELU, as diffusers'
    tl.store(y_ptr + offs_m[:, None] * N + offs_n[None, :], y.to(y_ptr.dtype.element_ty), mask=mask_m[:, None] & mask_n[None, :])


_CONFIGS = [triton.Config({"BLOCK_M": bm, "BLOCK_N": bn, "BLOCK_K": bk}, num_warps=nw, num_stages=ns)
            for bm, bn, bk, nw, ns in ((128, 128, 64, 8, 3), (128, 128, 64, 8, 4), (128, 64, 64, 4, 4), (128, 64, 64, 8, 4),
                                       (256, 64, 64, 8, 3), (64, 128, 64, 4, 4), (128, 128, 32, 8, 5), (256, 128, 64, 8, 3))]
_geglu_tuned = triton.autotune(_CONFIGS, key=["M", "N", "K"])(_geglu)


@triton.jit
def _geglu_tma(x_desc, w_desc, b_ptr, y_desc, M, N, K: tl.constexpr, NUM_PROGRAMS: tl.constexpr, ROUNDS: tl.constexpr,
               BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr, BLOCK_K: tl.constexpr, WARP_SPECIALIZE: tl.constexpr):
    """`_geglu` as a persistent kernel (Triton's Hopper recipe): NUM_PROGRAMS programs, one per SM, walk the output tiles
    N-blocks first and load through TMA descriptors (made on the host: Inductor supports those in user kernels); with K this small (320-1280) the epilogue of one tile (bias, GELU,
    store) is a large share of its time, and the flattened loop lets the next tile's loads start under it. Each program
    takes ROUNDS tiles; the last round's tiles past the end are all out of bounds: TMA loads zeros, and stores nothing."""
    dtype = b_ptr.dtype.element_ty
    n_blocks = tl.cdiv(N, BLOCK_N)
    for r in tl.range(0, ROUNDS, flatten=True, warp_specialize=WARP_SPECIALIZE):
        tile = tl.program_id(0) + r * NUM_PROGRAMS
        om, on = (tile // n_blocks) * BLOCK_M, (tile % n_blocks) * BLOCK_N
        acc_h = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
        acc_g = tl.zeros((BLOCK_M, BLOCK_N), dtype=tl.float32)
        for k0 in range(0, K, BLOCK_K):
            xt = x_desc.load([om, k0])
            acc_h = tl.dot(xt, w_desc.load([on, k0]).T, acc_h)        # hidden rows; past N they read gate rows, but
            acc_g = tl.dot(xt, w_desc.load([N + on, k0]).T, acc_g)    # those columns are clipped by the store
        offs_n = on + tl.arange(0, BLOCK_N)
        h = acc_h + tl.load(b_ptr + offs_n, mask=offs_n < N, other=0.0).to(tl.float32)[None, :]
        g = acc_g + tl.load(b_ptr + N + offs_n, mask=offs_n < N, other=0.0).to(tl.float32)[None, :]
        y_desc.store([om, on], (h * (0.5 * g * (1.0 + tl.math.erf(g * 0.7071067811865476)))).to(dtype))


_TMA_BLOCKS = dict(BLOCK_M=128, BLOCK_N=128, BLOCK_K=64, num_warps=8, num_stages=3)


def persistent_grid(tiles: int, device: torch.device) -> tuple[int, int]:
    "A persistent kernel's programs (one per SM, at most one per tile; 4 in the CPU interpreter) and rounds of tiles each."
    programs = min(torch.cuda.get_device_properties(device).multi_processor_count if device.type == "cuda" else 4, tiles)
    return programs, triton.cdiv(tiles, programs)


def _geglu_io(x: torch.Tensor, proj: torch.nn.Linear):
    "`x` as rows (M, K), and the (M, N) output both GEGLU kernels write."
    x2 = x.reshape(-1, x.shape[-1]).contiguous()
    m, k, n = *x2.shape, proj.out_features // 2
    return x2, torch.empty(m, n, device=x.device, dtype=x.dtype), m, n, k


def geglu_tma(x: torch.Tensor, proj: torch.nn.Linear, warp_specialize: bool = False, blocks: dict | None = None) -> torch.Tensor:
    "`geglu` through the persistent TMA kernel `_geglu_tma` (Hopper and newer; `blocks` overrides `_TMA_BLOCKS`)."
    x2, y, m, n, k = _geglu_io(x, proj)
    cfg = {**_TMA_BLOCKS, **(blocks or {})}
    bm, bn, bk = cfg["BLOCK_M"], cfg["BLOCK_N"], cfg["BLOCK_K"]
    programs, rounds = persistent_grid(triton.cdiv(m, bm) * triton.cdiv(n, bn), x.device)
    _geglu_tma[(programs,)](TensorDescriptor.from_tensor(x2, [bm, bk]), TensorDescriptor.from_tensor(proj.weight, [bn, bk]),
                            proj.bias, TensorDescriptor.from_tensor(y, [bm, bn]), m, n, k, NUM_PROGRAMS=programs,
                            ROUNDS=rounds, WARP_SPECIALIZE=warp_specialize, **cfg)
    return y.view(*x.shape[:-1], n)


def geglu(x: torch.Tensor, proj: torch.nn.Linear, blocks=None) -> torch.Tensor:
    "diffusers' `GEGLU` (its `proj` Linear, then `hidden * gelu(gate)`) on `x` (..., K) as one Triton kernel."
    x2, y, m, n, k = _geglu_io(x, proj)
    args = (x2, proj.weight, proj.bias, y, m, n, k)
    if blocks is None and not x.is_cuda: blocks = (16, 16, 16)      # Triton's CPU interpreter: no autotuning
    if blocks is None:
        _geglu_tuned[lambda meta: (triton.cdiv(m, meta["BLOCK_M"]) * triton.cdiv(n, meta["BLOCK_N"]),)](*args)
    else:
        bm, bn, bk = blocks
        _geglu[(triton.cdiv(m, bm) * triton.cdiv(n, bn),)](*args, BLOCK_M=bm, BLOCK_N=bn, BLOCK_K=bk)
    return y.view(*x.shape[:-1], n)


def check():
    "Against diffusers' GEGLU in fp32 on small shapes, partial tiles included (run under TRITON_INTERPRET=1 without a GPU)."
    from diffusers.models.activations import GEGLU
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    for m, k, n in ((37, 32, 128), (64, 48, 192), (37, 32, 48)):       # the last: 48 outputs in tiles of 32
        layer = GEGLU(k, n).to(dev)
        x = torch.randn(2, m, k, device=dev)
        with torch.no_grad():
            ref = layer(x)
            outs = {"blocked": geglu(x, layer.proj, blocks=(16, 16, 16)),
                    "persistent TMA": geglu_tma(x, layer.proj, blocks=dict(BLOCK_M=16, BLOCK_N=16 if n % 32 == 0 else 32, BLOCK_K=16))}
        check_close(outs, ref, 1e-4, f"tokens={2 * m} width={k} hidden={n}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--check", action="store_true", help="compare with diffusers' GEGLU on small fp32 shapes and stop")
    p.add_argument("--reps", type=int, default=50)
    p.add_argument("--levels", type=int, default=4, help="time the first this many SD2 levels (1-4)")
    a = p.parse_args(argv)
    if a.check or not torch.cuda.is_available(): return check()
    from diffusers.models.attention import FeedForward
    dev, dtype = torch.device("cuda"), torch.bfloat16
    rows = []
    for tokens, c in ((122880, 320), (30720, 640), (7680, 1280), (1920, 1280))[:a.levels]:   # CFG batch 2 x 16 frames
        ff = FeedForward(c, activation_fn="geglu").to(dev, dtype).eval()
        x = torch.randn(tokens, c, device=dev, dtype=dtype)
        out = ff.net[2]                                                          # net: GEGLU, Dropout, Linear
        variants = (("diffusers FeedForward", lambda: ff(x), True),
                    ("GEGLU as one Triton kernel", lambda: out(geglu(x, ff.net[0].proj)), True),
                    ("persistent TMA kernel (eager launch)", lambda: out(geglu_tma(x, ff.net[0].proj)), False),
                    ("persistent TMA kernel, warp-specialised (eager launch)", lambda: out(geglu_tma(x, ff.net[0].proj, True)), False),
                    ("persistent TMA kernel, 128x64 tiles, 4 stages (eager launch)",
                     lambda: out(geglu_tma(x, ff.net[0].proj, blocks=dict(BLOCK_N=64, num_stages=4))), False),
                    ("(its GEMMs alone: proj + out, cuBLAS)", lambda: out(ff.net[0].proj(x)[..., :c * 4]), True))
        with torch.no_grad(): time_variants(variants, ff(x).float(), f"({tokens}, {c})", dev, a.reps, rows)
    print_variants(rows, "tokens x width", "feed-forward")

if __name__ == "__main__": main()
