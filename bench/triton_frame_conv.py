#!/usr/bin/env python
"""The temporal ResBlock's frame convolution with the GroupNorm-SiLU before it fused in, as one Triton kernel (an
experiment for issue #5; not used by the package: on one H100 it loses, 3.56 ms per temporal ResBlock at the first
level against 1.69 ms for the package's compiled FrameConvLayer, bench/results/triton_frame_conv_h100.md).

Today, under torch.compile, each of the four GroupNorm-SiLU-Conv(3,1,1) blocks of a temporal ResBlock is a cuBLAS GEMM
writing three C-wide outputs (one per frame tap), an Inductor reduction that reads them for the next GroupNorm's
statistics, and an Inductor pointwise kernel that reads them again, sums the shifted taps, normalises, applies SiLU
and writes the next GEMM's input. Here one kernel loads the raw input tile of each tap (shifted by one frame: H*W
columns), normalises it with the group statistics and applies SiLU in registers, multiplies, and writes one C-wide
output with its bias. Only the statistics remain outside (a reduction Inductor fuses), so each block reads its input
about once and writes its output once. It normalises every input tile again for each output block and tap, and its
Triton GEMM is slower than cuBLAS: it lost.

The second kernel, `_frame_conv_tma`, leaves the GroupNorm-SiLU to Inductor (one pass that writes the normalised input)
and fixes only the 3x-wide output: one implicit GEMM over channels and the three taps, reading the shifted input tiles
through a TMA descriptor that fills zeros past the clip's ends, persistent like Triton's Hopper matmuls. Per block that
is a C-wide write instead of a 3C-wide one read back twice. It matches diffusers within 1e-6 under the interpreter. On
an H100 a first-level temporal ResBlock with it took 1.351 ms compiled against FrameConvLayer's 1.578; at the 5x12 level
it died with an illegal instruction (frame shifts of 60 elements are not whole 16-byte units), so
`temporal_resblock_tma` falls back to FrameConvLayer there. In the whole step it did not pay (bench/results/unet_h100_tma.md).

Needs `triton` (CUDA builds of torch bring it; on a CPU machine `pip install triton` for the interpreter).

    TRITON_INTERPRET=1 python bench/triton_frame_conv.py --check     # CPU: Triton's interpreter against diffusers
    python bench/triton_frame_conv.py                                  # GPU: ms per temporal ResBlock, paper sizes
    python bench/triton_frame_conv.py --levels 1                       # GPU: the first level only (~1-2 min)
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
from triton_geglu import persistent_grid


@triton.jit
def _gn_silu_frame_conv(x_ptr, mean_ptr, rstd_ptr, gamma_ptr, beta_ptr, w_ptr, bias_ptr, y_ptr, C: tl.constexpr, O, T, HW, G,
                        BLOCK_O: tl.constexpr, BLOCK_C: tl.constexpr, BLOCK_T: tl.constexpr):
    "y[b, o, t] = bias[o] + sum over taps k and channels c of w[k, o, c] * silu(groupnorm(x))[b, c, t + (k-1)*HW]."
    pid, b = tl.program_id(0), tl.program_id(1)
    o_blocks = tl.cdiv(O, BLOCK_O)                     # O-blocks fastest: the programs reading one x tile run together
    pid_t, pid_o = pid // o_blocks, pid % o_blocks
    offs_t = pid_t * BLOCK_T + tl.arange(0, BLOCK_T)
    offs_o = pid_o * BLOCK_O + tl.arange(0, BLOCK_O)
    mask_o = offs_o < O
    acc = tl.zeros((BLOCK_T, BLOCK_O), dtype=tl.float32)   # (time, out): the normalised input is the dot's register operand
    per_group = C // G
    for c0 in range(0, C, BLOCK_C):
        offs_c = c0 + tl.arange(0, BLOCK_C)
        mask_c = offs_c < C
        grp = offs_c // per_group
        mean = tl.load(mean_ptr + b * G + grp, mask=mask_c, other=0.0)
        scale = tl.load(rstd_ptr + b * G + grp, mask=mask_c, other=0.0) * tl.load(gamma_ptr + offs_c, mask=mask_c, other=0.0).to(tl.float32)
        shift = tl.load(beta_ptr + offs_c, mask=mask_c, other=0.0).to(tl.float32) - mean * scale
        for k in tl.static_range(3):
            src = offs_t + (k - 1) * HW                     # the same pixel one frame earlier / now / one frame later
            ok = ((src >= 0) & (src < T) & (offs_t < T))[:, None] & mask_c[None, :]   # outside the clip: zero padding
            x = tl.load(x_ptr + b * C * T + offs_c[None, :] * T + src[:, None], mask=ok, other=0.0).to(tl.float32)
            a = x * scale[None, :] + shift[None, :]
            a = tl.where(ok, a * tl.sigmoid(a), 0.0)
            w = tl.load(w_ptr + k * O * C + offs_o[None, :] * C + offs_c[:, None], mask=mask_o[None, :] & mask_c[:, None], other=0.0)
            acc += tl.dot(a.to(w.dtype), w)                 # (BLOCK_T, BLOCK_C) @ (BLOCK_C, BLOCK_O)
    acc += tl.load(bias_ptr + offs_o, mask=mask_o, other=0.0).to(tl.float32)[None, :]
    tl.store(y_ptr + b * O * T + offs_o[None, :] * T + offs_t[:, None], acc.to(y_ptr.dtype.element_ty),
             mask=mask_o[None, :] & (offs_t[:, None] < T))


_CONFIGS = [triton.Config({"BLOCK_O": bo, "BLOCK_C": bc, "BLOCK_T": bt}, num_warps=nw, num_stages=ns)
            for bo, bc, bt, nw, ns in ((64, 64, 128, 4, 3), (128, 64, 128, 8, 3), (64, 64, 256, 8, 3), (128, 32, 128, 8, 4),
                                       (128, 64, 256, 8, 2), (128, 64, 64, 4, 3))]
_gn_silu_frame_conv_tuned = triton.autotune(_CONFIGS, key=["C", "O", "T", "HW"])(_gn_silu_frame_conv)


def group_stats(x: torch.Tensor, groups: int, eps: float):
    "GroupNorm's mean and 1/std of `x` (B, C, T) per (batch, group), in fp32."
    var, mean = torch.var_mean(x.float().view(x.shape[0], groups, -1), dim=-1, unbiased=False)
    return mean.contiguous(), torch.rsqrt(var + eps).contiguous()


def gn_silu_frame_conv(x, norm, conv, hw, blocks=None):
    """`conv(silu(norm(x)))` for `x` (B, C, F*HW) contiguous, `conv` a (3,1,1) Conv3d, as one Triton kernel (+ the
    statistics); `blocks` (BLOCK_O, BLOCK_C, BLOCK_T), or None to autotune."""
    b, c, t = x.shape
    o = conv.out_channels
    mean, rstd = group_stats(x, norm.num_groups, norm.eps)
    w = conv.weight[:, :, :, 0, 0].permute(2, 0, 1).contiguous()            # (3, O, C): taps for frames f-1, f, f+1
    y = torch.empty(b, o, t, device=x.device, dtype=x.dtype)
    args = (x, mean, rstd, norm.weight, norm.bias, w, conv.bias, y, c, o, t, hw, norm.num_groups)
    if blocks is None and not x.is_cuda: blocks = (16, 16, 32)   # Triton's CPU interpreter: no autotuning
    if blocks is None:                                   # autotuned over _CONFIGS (once per shape)
        _gn_silu_frame_conv_tuned[lambda m: (triton.cdiv(t, m["BLOCK_T"]) * triton.cdiv(o, m["BLOCK_O"]), b)](*args)
    else:
        bo, bc, bt = blocks
        _gn_silu_frame_conv[(triton.cdiv(t, bt) * triton.cdiv(o, bo), b)](*args, BLOCK_O=bo, BLOCK_C=bc, BLOCK_T=bt)
    return y


def _resblock_frames(layer, hidden_states, num_frames, block_fn):
    """diffusers' TemporalConvLayer forward (eval: no dropout) on `(B*F, C, H, W)` features, with each of its four
    GroupNorm-SiLU-Conv blocks as `block_fn(x, block, hw)` on `x` (B, C, F*H*W) contiguous."""
    bf, c, h, w = hidden_states.shape
    b = bf // num_frames
    x = hidden_states.reshape(b, num_frames, c, h * w).permute(0, 2, 1, 3).reshape(b, c, num_frames * h * w).contiguous()
    identity = x
    for block in (layer.conv1, layer.conv2, layer.conv3, layer.conv4): x = block_fn(x, block, h * w)
    x = identity + x
    return x.view(b, -1, num_frames, h * w).permute(0, 2, 1, 3).reshape(bf, -1, h, w)


def temporal_resblock_fused(layer, hidden_states, num_frames, blocks=None):
    "diffusers' TemporalConvLayer forward (eval: no dropout) with each block as `gn_silu_frame_conv`."
    return _resblock_frames(layer, hidden_states, num_frames, lambda x, blk, hw: gn_silu_frame_conv(x, blk[0], blk[-1], hw, blocks))

@triton.jit
def _frame_conv_tma(a_desc, w_desc, bias_ptr, y_desc, B, C: tl.constexpr, O: tl.constexpr, T, HW,
                    NUM_PROGRAMS: tl.constexpr, ROUNDS: tl.constexpr,
                    BLOCK_O: tl.constexpr, BLOCK_C: tl.constexpr, BLOCK_T: tl.constexpr):
    """y[b, :, t] = bias + sum over taps k of w[k] @ a[b, :, t + (k-1)*HW]: a (3,1,1) frame convolution as one implicit
    GEMM over channels and taps. The shifted input tiles come through a TMA descriptor (made on the host, the kind Inductor
    supports in user kernels), which fills zeros past the clip's
    first and last frame (the convolution's padding), so nothing 3x wide is ever written. Persistent: NUM_PROGRAMS
    programs (one per SM) take ROUNDS tiles each, output blocks fastest so the programs sharing an input tile run
    together; tiles past the end are out of bounds (TMA loads zeros and stores nothing)."""
    dtype = bias_ptr.dtype.element_ty
    o_blocks = tl.cdiv(O, BLOCK_O)
    per_batch = o_blocks * tl.cdiv(T, BLOCK_T)
    for r in tl.range(0, ROUNDS, flatten=True):
        tile = tl.program_id(0) + r * NUM_PROGRAMS
        b, rest = tile // per_batch, tile % per_batch
        t0, o0 = (rest // o_blocks) * BLOCK_T, (rest % o_blocks) * BLOCK_O
        acc = tl.zeros((BLOCK_O, BLOCK_T), dtype=tl.float32)
        for k in tl.static_range(3):                    # rows past O read the next tap's weights: clipped by the store
            for c0 in range(0, C, BLOCK_C):
                a = a_desc.load([b, c0, t0 + (k - 1) * HW]).reshape(BLOCK_C, BLOCK_T)
                acc = tl.dot(w_desc.load([k * O + o0, c0]), a, acc)
        offs_o = o0 + tl.arange(0, BLOCK_O)
        acc += tl.load(bias_ptr + offs_o, mask=offs_o < O, other=0.0).to(tl.float32)[:, None]
        y_desc.store([b, o0, t0], acc.to(dtype).reshape(1, BLOCK_O, BLOCK_T))


_TMA_BLOCKS = dict(BLOCK_O=128, BLOCK_C=64, BLOCK_T=128, num_warps=8, num_stages=4)




def frame_conv_tma(a: torch.Tensor, conv, hw: int, blocks: dict | None = None) -> torch.Tensor:
    "`conv` (a (3,1,1) Conv3d, padding 1 in frames) on `a` (B, C, F*HW) contiguous, through `_frame_conv_tma`."
    b, c, t = a.shape
    o = conv.out_channels
    w = conv.weight[:, :, :, 0, 0].permute(2, 0, 1).reshape(3 * o, c).contiguous()     # (3*O, C): taps f-1, f, f+1
    y = torch.empty(b, o, t, device=a.device, dtype=a.dtype)
    cfg = {**_TMA_BLOCKS, **(blocks or {})}
    bo, bc, bt = cfg["BLOCK_O"], cfg["BLOCK_C"], cfg["BLOCK_T"]
    programs, rounds = persistent_grid(b * triton.cdiv(o, bo) * triton.cdiv(t, bt), a.device)
    _frame_conv_tma[(programs,)](TensorDescriptor.from_tensor(a, [1, bc, bt]), TensorDescriptor.from_tensor(w, [bo, bc]), conv.bias,
                                 TensorDescriptor.from_tensor(y, [1, bo, bt]), b, c, o, t, hw, NUM_PROGRAMS=programs,
                                 ROUNDS=rounds, **cfg)
    return y


def temporal_resblock_tma(layer, hidden_states, num_frames, gn_silu=None, blocks=None):
    """diffusers' TemporalConvLayer forward (eval) with each frame convolution as `frame_conv_tma`; `gn_silu(norm, x)`
    computes each block's GroupNorm-SiLU (default: eager torch; the benchmark passes a compiled one)."""
    if hidden_states.shape[-2] * hidden_states.shape[-1] % 8:   # frame shifts of H*W elements not whole 16-byte units:
        return type(layer).forward(layer, hidden_states, num_frames)   # (the 5x12 level died on an H100: illegal instruction)
    gn_silu = gn_silu or (lambda norm, x: torch.nn.functional.silu(norm(x)))
    return _resblock_frames(layer, hidden_states, num_frames,
                            lambda x, blk, hw: frame_conv_tma(gn_silu(blk[0], x), blk[-1], hw, blocks))

def check():
    "Against diffusers' TemporalConvLayer in fp32 on small shapes (run under TRITON_INTERPRET=1 without a GPU)."
    from moviefactory.temporal import randomize_zero_init, temporal_resblock
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    for c, groups, frames, (h, w) in ((32, 8, 4, (4, 4)), (64, 32, 5, (3, 7)), (48, 8, 5, (4, 8))):
        layer = randomize_zero_init(temporal_resblock(c, groups=groups, kind="modelscope"), std=0.05).to(dev).eval()
        x = torch.randn(2 * frames, c, h, w, device=dev)
        with torch.no_grad():
            ref = layer(x, num_frames=frames)
            outs = {"fused": temporal_resblock_fused(layer, x, frames, blocks=(16, 16, 32))}
            if frames * h * w % 16 == 0:                 # TMA: rows of whole 16-byte units (the interpreter counts elements)
                outs["implicit GEMM, TMA"] = temporal_resblock_tma(layer, x, frames, blocks=dict(BLOCK_O=32, BLOCK_C=16, BLOCK_T=64))
        check_close(outs, ref, 1e-3, f"C={c} groups={groups} frames={frames} {h}x{w}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--check", action="store_true", help="compare with diffusers' layer on small fp32 shapes and stop")
    p.add_argument("--blocks", default="auto", help="BLOCK_O,BLOCK_C,BLOCK_T of the kernel, or auto (Triton's autotuner)")
    p.add_argument("--reps", type=int, default=50)
    p.add_argument("--levels", type=int, default=4, help="time the first this many SD2 levels (1-4)")
    a = p.parse_args(argv)
    if a.check or not torch.cuda.is_available():
        return check()
    from moviefactory.temporal import randomize_zero_init, temporal_resblock
    blocks = None if a.blocks == "auto" else tuple(int(v) for v in a.blocks.split(","))
    dev, dtype = torch.device("cuda"), torch.bfloat16
    gn = torch.compile(lambda norm, v: torch.nn.functional.silu(norm(v)), dynamic=False)
    rows = []
    for c, (h, w) in ((320, (40, 96)), (640, (20, 48)), (1280, (10, 24)), (1280, (5, 12)))[:a.levels]:   # CFG batch 2 x 16 frames
        layer = randomize_zero_init(temporal_resblock(c, kind="modelscope"), std=0.02).to(dev, dtype).eval()
        x = torch.randn(32, c, h, w, device=dev, dtype=dtype)
        variants = (("FrameConvLayer", lambda: layer(x, num_frames=16), True),
                    ("fused Triton", lambda: temporal_resblock_fused(layer, x, 16, blocks), True),
                    ("implicit GEMM, TMA", lambda: temporal_resblock_tma(layer, x, 16), True),
                    ("implicit GEMM, TMA (kernel launched eagerly; GroupNorm-SiLU compiled, the rest eager)",
                     lambda: temporal_resblock_tma(layer, x, 16, gn), False),
                    ("the same, 64x256 output tiles", lambda: temporal_resblock_tma(layer, x, 16, gn, dict(BLOCK_O=64, BLOCK_T=256)), False))
        with torch.no_grad(): time_variants(variants, layer(x, num_frames=16).float(), f"(32, {c}, {h}, {w})", dev, a.reps, rows)
    print_variants(rows, "input", "temporal ResBlock")

if __name__ == "__main__": main()
