#!/usr/bin/env python
"""Milliseconds per U-Net step spent in the temporal layers, eager and compiled, with other ways to run the
temporal ResBlock's frame convolutions (an experiment for issue #5).

The layers and their inputs are the ones a MovieUNet on the SD2-base config meets in one step (CFG batch 2, 16 frames
of 768x320, bf16): a forward pass records each temporal layer's input, then every layer is timed alone on it and
the times are summed. Variants of the temporal ResBlock (diffusers' `TemporalConvLayer`, four GroupNorm-SiLU-Conv3d
(3,1,1) blocks):
  conv3d           as diffusers runs it (cuDNN Conv3d on NCDHW)
  channels_last    the same Conv3d on channels_last_3d tensors and weights
  matmul           the frame convolution as one GEMM (3*C_out x C_in) @ (C_in x F*H*W) and a shifted sum of its
                   three outputs; same weights, same result (checked below against conv3d)
  matmul3          three GEMMs (C_out x C_in) @ (C_in x F*H*W) on frame-shifted views of a padded input, accumulated
                   into one output (baddbmm): no three-times-larger output for the next GroupNorm to read
  conv2d           the frame convolution as a Conv2d with a (3, 1) kernel over (frames, H*W)
  tokens           token-major: (B, F*H*W, C) rows, a view of channels-last activations (no transposes in or out);
                   one GEMM (rows x C) @ (C x 3*C_out) per frame convolution and a sum of its frame-shifted outputs
  triton           bench/triton_frame_conv.py: each GroupNorm-SiLU-frame-convolution block as one Triton kernel
                   under torch.compile (eager: matmul); needs a GPU (the check of its output: or TRITON_INTERPRET=1)
  tma              bench/triton_frame_conv.py: each frame convolution as one persistent implicit GEMM over channels
                   and taps (TMA loads; Hopper), the GroupNorm-SiLU left to Inductor; under torch.compile (eager:
                   matmul); needs a GPU
  im2col           one GEMM (C_out x 3*C_in) over the input stacked with its two frame-shifted copies (the GroupNorm
                   before it can write the stack; the next one reads a single output)
Variants of the temporal attention (diffusers' `TransformerTemporalModel`):
  diffusers        the frame self-attentions through diffusers' SDPA processor (SDPA picks its backend: cuDNN on Hopper)
  flash, efficient, cudnn, math
                   SDPA limited to that backend (torch.nn.attention.sdpa_kernel) inside the compiled function
  fused            the frame self-attention's q, k, v projections fused into one GEMM (diffusers' fuse_projections)
  chunked[N]       the feed-forward run on slices of about N tokens (default 8192), its GEGLU intermediate in L2
  flex             as the package builds them: FrameAttnProcessor, FlexAttention with 16x16 tiles under torch.compile (a
                   Triton kernel for sequences of 16 frames, where SDPA's kernels fill 64x128 tiles with one 16x16 problem)
Modes: compiled (torch.compile default), compiled-cd (with Inductor's coordinate-descent tuning of its Triton
kernels), compiled-ma (max-autotune-no-cudagraphs: Triton GEMM templates with fused prologues and epilogues).

    python bench/bench_temporal_layers.py            # GPU, paper size
    python bench/bench_temporal_layers.py --tiny     # CPU check of the script
"""
from __future__ import annotations
import argparse, statistics, sys, time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for p in (ROOT, ROOT / "bench"):
    if str(p) not in sys.path: sys.path.insert(0, str(p))
import torch
import torch.nn.functional as F
from diffusers import UNet2DConditionModel
from diffusers.models.resnet import TemporalConvLayer
import moviefactory.unet as mu
from moviefactory.spatial import SD2_BASE_UNET_CONFIG, TINY_UNET_CONFIG
from moviefactory.temporal import frame_conv_gemm as frame_conv_mm, randomize_zero_init   # the package's GEMM frame convolution


def frame_conv_mm3(conv: torch.nn.Conv3d, x: torch.Tensor) -> torch.Tensor:
    "The same convolution as three accumulating GEMMs on shifted views of the frame-padded input."
    b, c, f, h, w = x.shape
    o, hw = conv.out_channels, h * w
    xp = F.pad(x.reshape(b, c, f, hw), (0, 0, 1, 1)).reshape(b, c, (f + 2) * hw)
    wt = conv.weight[:, :, :, 0, 0]                                               # (O, C, 3)
    out = conv.bias.view(1, o, 1).expand(b, o, f * hw)
    for k in range(3):
        out = torch.baddbmm(out, wt[:, :, k].expand(b, o, c), xp[:, :, k * hw:(k + f) * hw])
    return out.view(b, o, f, h, w)


def frame_conv_2d(conv: torch.nn.Conv3d, x: torch.Tensor) -> torch.Tensor:
    "The same convolution as a Conv2d with a (3, 1) kernel over the (frames, H*W) plane."
    b, c, f, h, w = x.shape
    y = F.conv2d(x.reshape(b, c, f, h * w), conv.weight[..., 0], conv.bias, padding=(1, 0))
    return y.view(b, -1, f, h, w)


def frame_conv_im2col(conv: torch.nn.Conv3d, x: torch.Tensor) -> torch.Tensor:
    "The same convolution as one GEMM (C_out x 3*C_in) over the input stacked with its two frame-shifted copies."
    b, c, f, h, w = x.shape
    o, hw = conv.out_channels, h * w
    xp = F.pad(x.reshape(b, c, f, hw), (0, 0, 1, 1))                              # (B, C, F+2, HW)
    cols = torch.cat([xp[:, :, k:k + f] for k in range(3)], dim=1)               # (B, 3C, F, HW): taps f-1, f, f+1
    wt = conv.weight[:, :, :, 0, 0].permute(0, 2, 1).reshape(o, 3 * c)          # (O, 3C), tap-major like cols
    return (wt @ cols.reshape(b, 3 * c, f * hw) + conv.bias.view(1, o, 1)).view(b, o, f, h, w)


FRAME_CONVS = {"matmul": frame_conv_mm, "matmul3": frame_conv_mm3, "conv2d": frame_conv_2d, "im2col": frame_conv_im2col}


def temporal_conv_tokens(layer: TemporalConvLayer, hidden_states, num_frames):
    """The temporal ResBlock token-major: features as (B, F*H*W, C) rows, which is a view of the channels-last
    activations Inductor gives the spatial convolutions (no transposes in or out); each frame convolution is one GEMM
    (rows x C) @ (C x 3*C_out) and a sum of its three outputs shifted by one frame (H*W rows)."""
    bf, c, h, w = hidden_states.shape
    b, hw = bf // num_frames, h * w
    x = hidden_states.permute(0, 2, 3, 1).reshape(b, num_frames * hw, c)
    identity = x
    for block in (layer.conv1, layer.conv2, layer.conv3, layer.conv4):
        norm, conv = block[0], block[-1]
        x = F.group_norm(x.transpose(1, 2), norm.num_groups, norm.weight, norm.bias, norm.eps).transpose(1, 2)
        for m in block[1:-1]: x = m(x)                                          # SiLU (, Dropout)
        o = conv.out_channels
        wt = conv.weight[:, :, :, 0, 0].permute(1, 2, 0).reshape(-1, 3 * o)      # (C, 3*O): taps f-1, f, f+1
        y = (x @ wt).view(b, num_frames, hw, 3, o)
        out = y[:, :, :, 1] + F.pad(y[:, :-1, :, 0], (0, 0, 0, 0, 1, 0)) + F.pad(y[:, 1:, :, 2], (0, 0, 0, 0, 0, 1))
        x = (out + conv.bias).reshape(b, num_frames * hw, o)
    x = identity + x
    return x.view(b, num_frames, h, w, -1).permute(0, 1, 4, 2, 3).reshape(bf, -1, h, w)


KERNEL_RESBLOCKS = {"triton": "temporal_resblock_fused", "tma": "temporal_resblock_tma"}   # in bench/triton_frame_conv.py


def kernel_resblock(variant: str):
    "The bench/triton_frame_conv.py temporal ResBlock that runs the Triton variant `variant` (triton or tma)."
    import triton_frame_conv
    return getattr(triton_frame_conv, KERNEL_RESBLOCKS[variant])


def temporal_conv_forward(layer: TemporalConvLayer, hidden_states, num_frames, variant):
    if variant == "tokens": return temporal_conv_tokens(layer, hidden_states, num_frames)
    if variant in KERNEL_RESBLOCKS:     # Triton kernels, compiled only (eager: matmul, the same FLOPs for the count)
        if torch.compiler.is_compiling(): return kernel_resblock(variant)(layer, hidden_states, num_frames)
        variant = "matmul"
    bf, c, h, w = hidden_states.shape
    x = hidden_states.reshape(bf // num_frames, num_frames, c, h, w).permute(0, 2, 1, 3, 4)
    if variant == "channels_last": x = x.contiguous(memory_format=torch.channels_last_3d)
    else: x = x.contiguous()
    identity = x
    for seq in (layer.conv1, layer.conv2, layer.conv3, layer.conv4):
        norm, act, conv = seq[0], seq[1], seq[-1]
        x = act(norm(x))
        x = FRAME_CONVS[variant](conv, x) if variant in FRAME_CONVS else conv(x)
    x = identity + x
    return x.permute(0, 2, 1, 3, 4).reshape(bf, -1, h, w)


def attention_fn(variant):
    "A function running a temporal attention layer the `variant` way."
    from torch.nn.attention import SDPBackend, sdpa_kernel
    backends = {"flash": SDPBackend.FLASH_ATTENTION, "efficient": SDPBackend.EFFICIENT_ATTENTION,
                "cudnn": SDPBackend.CUDNN_ATTENTION, "math": SDPBackend.MATH}
    if variant in backends:
        def fn(l, x, f, e):
            with sdpa_kernel([backends[variant]]): return mu.apply_temporal(l, x, f, e)
        return fn
    return lambda l, x, f, e: mu.apply_temporal(l, x, f, e)


def sdpa_frame_attention(layer) -> None:
    "Give each frame self-attention of a TransformerTemporalModel diffusers' SDPA processor (in place), as before FrameAttnProcessor."
    from diffusers.models.attention_processor import AttnProcessor2_0
    for blk in layer.transformer_blocks:
        for attn in (blk.attn1, blk.attn2):
            if attn is not None and not attn.is_cross_attention: attn.set_processor(AttnProcessor2_0())


class ChunkedFF(torch.nn.Module):
    """A transformer block's feed-forward run on slices of about `tokens` tokens along dim 0, so that its 8x-wide
    GEGLU intermediate can stay in L2 cache (the H100 has 50 MB) between the GEMM that writes it and the one that reads it.
    (diffusers' own `set_chunk_feed_forward` wants one chunk size that divides every layer's rows: 7680 ... 120 here.)"""
    def __init__(self, ff, tokens=8192):
        super().__init__(); self.ff, self.tokens = ff, tokens
    def forward(self, x):
        rows = max(1, self.tokens // max(1, x[0].numel() // x.shape[-1]))
        if rows >= x.shape[0]: return self.ff(x)
        return torch.cat([self.ff(c) for c in x.split(rows, dim=0)], dim=0)


def chunk_feed_forwards(model, tokens=8192) -> int:
    "Wrap the feed-forward of every diffusers BasicTransformerBlock in `model` in ChunkedFF (in place); returns how many."
    from diffusers.models.attention import BasicTransformerBlock
    blocks = [m for m in model.modules() if isinstance(m, BasicTransformerBlock) and not isinstance(m.ff, ChunkedFF)]
    for b in blocks: b.ff = ChunkedFF(b.ff, tokens)
    return len(blocks)


def fuse_frame_attention(layer) -> None:
    "Fuse q, k, v of each frame self-attention of a TransformerTemporalModel (in place)."
    from diffusers.models.attention_processor import AttnProcessor2_0, FusedAttnProcessor2_0
    for blk in layer.transformer_blocks:
        for attn in (blk.attn1, blk.attn2):
            if attn is not None and type(attn.processor) is AttnProcessor2_0 and not attn.is_cross_attention:
                attn.fuse_projections(fuse=True); attn.set_processor(FusedAttnProcessor2_0())


def profile_kernels(fn, args, dev, top=12):
    "Kernel names, ms and calls per call of `fn(*args)` (after warm-up), the `top` longest, and the total ms."
    from torch.profiler import ProfilerActivity, profile
    from profile_kernels import kernel_times
    for _ in range(3): fn(*args)
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(5): fn(*args)
        torch.cuda.synchronize()
    ms, calls = kernel_times(prof, 5)
    rows = sorted(((k, v, calls[k]) for k, v in ms.items()), key=lambda r: -r[1])
    return rows[:top], sum(ms.values())


def record_inputs(model, sample, t, text):
    "Run one step, keeping each temporal layer's input: [(layer, hidden_states, num_frames, text)]."
    seen = []
    orig = mu.apply_temporal
    def rec(layer, hidden_states, num_frames, encoder_hidden_states=None):
        seen.append((layer, hidden_states.detach().clone(), num_frames, encoder_hidden_states))
        return orig(layer, hidden_states, num_frames, encoder_hidden_states)
    mu.apply_temporal = rec
    try:
        with torch.no_grad(): model(sample, t, text, domain="hd")
    finally: mu.apply_temporal = orig
    return seen


def one_per_shape(calls):
    "Layers of one kind that meet the same input shape cost the same: time the first of each shape, count the rest."
    groups = {}
    for c in calls:
        key = (tuple(c[1].shape), c[0].config.get("cross_attention_dim") if hasattr(c[0], "config") else None)
        groups.setdefault(key, [c, 0])[1] += 1
    return list(groups.values())


def timeit(fn, dev, reps):
    for _ in range(3): fn()
    times = []
    for _ in range(reps):
        if dev.type == "cuda": torch.cuda.synchronize()
        t0 = time.perf_counter(); fn()
        if dev.type == "cuda": torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def main(argv=None):
    p = argparse.ArgumentParser(); p.add_argument("--tiny", action="store_true"); p.add_argument("--out")
    p.add_argument("--reps", type=int, default=20); p.add_argument("--no-compile", action="store_true")
    p.add_argument("--conv-variants", default="conv3d,channels_last,matmul,matmul3,conv2d,im2col")
    p.add_argument("--attn-variants", default="diffusers,flash,efficient,cudnn,math,flex,fused")
    p.add_argument("--modes", default="compiled", help="comma-separated: compiled, compiled-cd, compiled-ma")
    p.add_argument("--eager", action="store_true", help="time eager runs too (default: compiled only on a GPU)")
    p.add_argument("--profile", action="store_true", help="list the kernels of each compiled variant on the largest input")
    a = p.parse_args(argv)
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dtype = torch.bfloat16 if dev.type == "cuda" else torch.float32
    cfg = TINY_UNET_CONFIG if a.tiny else SD2_BASE_UNET_CONFIG
    model = mu.MovieUNet.from_unet(UNet2DConditionModel.from_config(cfg), domains=["web", "hd"], temporal_resblock="modelscope")
    randomize_zero_init(model, std=0.02)
    model = model.to(dev, dtype).eval()
    frames, (h, w) = (4, (16, 16)) if a.tiny else (16, (40, 96))
    g = torch.Generator().manual_seed(0)
    sample = torch.randn(2, 4, frames, h, w, generator=g).to(dev, dtype)
    text = torch.randn(2, 77, cfg["cross_attention_dim"], generator=g).to(dev, dtype)
    seen = record_inputs(model, sample, torch.tensor([500] * 2, device=dev), text)
    convs = [(l, x, f) for l, x, f, _ in seen if isinstance(l, TemporalConvLayer)]
    attns = [(l, x, f, e) for l, x, f, e in seen if not isinstance(l, TemporalConvLayer)]
    with torch.no_grad():                                      # the variants compute what diffusers' layer computes
        for l, x, f in convs[:3]:
            ref = l(x, num_frames=f).float()
            for v in ("channels_last", "tokens", *FRAME_CONVS, *[t for t in KERNEL_RESBLOCKS if t in a.conv_variants.split(",")]):
                out = kernel_resblock(v)(l, x, f) if v in KERNEL_RESBLOCKS else temporal_conv_forward(l, x, f, v)
                err = (out.float() - ref).abs().max().item()
                scale = ref.abs().max().item()
                assert err <= 2e-2 * scale, (v, err, scale)
    for k in ("cache_size_limit", "recompile_limit", "accumulated_cache_size_limit", "accumulated_recompile_limit"):
        if hasattr(torch._dynamo.config, k): setattr(torch._dynamo.config, k, 4096)   # one graph per layer and shape
    rows = []
    modes = (["eager"] if a.eager or a.no_compile or dev.type != "cuda" else []) + ([] if a.no_compile else a.modes.split(","))
    def compiled(fn, mode):
        if mode == "eager": return fn
        torch._inductor.config.coordinate_descent_tuning = mode == "compiled-cd"
        return torch.compile(fn, dynamic=False, mode="max-autotune-no-cudagraphs" if mode == "compiled-ma" else None)
    kernel_lines = []
    def maybe_profile(label, fn, args):
        if not (a.profile and dev.type == "cuda"): return
        with torch.no_grad(): top, total = profile_kernels(fn, args, dev)
        kernel_lines.extend(["", f"Kernels of one {label} on {tuple(args[1].shape)}: {total:.2f} ms", "",
                             "| kernel | calls | ms |", "|---|---:|---:|"] +
                            [f"| `{k[:110]}` | {n} | {ms:.3f} |" for k, ms, n in top])
    shapes = Counter(tuple(x.shape) for _, x, _ in convs)
    for variant in a.conv_variants.split(","):
        for mode in modes:
            torch._dynamo.reset()
            fn = compiled(lambda l, x, f: temporal_conv_forward(l, x, f, variant), mode)
            t0 = time.perf_counter()
            with torch.no_grad():
                ms = sum(n * timeit(lambda: fn(l, x, f), dev, a.reps) for (l, x, f), n in one_per_shape(convs))
            rows.append(("temporal ResBlocks", variant, mode, ms, time.perf_counter() - t0)); print(rows[-1], flush=True)
            if mode != "eager": maybe_profile(f"temporal ResBlock ({variant}, {mode})", fn, convs[0])
    for variant in a.attn_variants.split(","):               # 'fused' changes the layers in place: keep it last
        procs = [{n: m.processor for n, m in l.named_modules() if hasattr(m, "set_processor")} for l, *_ in attns]
        if variant != "flex":                                   # flex: the package's FrameAttnProcessor, as built
            for l, *_ in attns: sdpa_frame_attention(l)
        if variant == "fused":                                  # (fused projections stay: keep it last)
            for l, *_ in attns: fuse_frame_attention(l)
        if variant.startswith("chunked"):                         # chunked or chunked<tokens>
            saved_ff = [[b.ff for b in l.transformer_blocks] for l, *_ in attns]
            with torch.no_grad():
                refs = [mu.apply_temporal(*c).float() for c in attns[:2]]
                for l, *_ in attns: chunk_feed_forwards(l, int(variant[7:] or 8192))
                for c, ref in zip(attns[:2], refs):
                    assert torch.allclose(mu.apply_temporal(*c).float(), ref, atol=2e-2 * ref.abs().max().item()), "chunked"
        for mode in modes:
            torch._dynamo.reset()
            fn = compiled(attention_fn(variant), mode)
            t0 = time.perf_counter()
            try:
                with torch.no_grad():
                    ms = sum(n * timeit(lambda: fn(l, x, f, e), dev, a.reps) for (l, x, f, e), n in one_per_shape(attns))
            except Exception as err:                     # a backend may not take these shapes
                print(f"{variant} {mode}: {type(err).__name__}: {str(err)[:200]}", flush=True); ms = float("nan")
            rows.append(("temporal attentions", variant, mode, ms, time.perf_counter() - t0)); print(rows[-1], flush=True)
            if mode != "eager" and ms == ms: maybe_profile(f"temporal attention ({variant}, {mode})", fn, attns[0])
        if variant.startswith("chunked"):
            for (l, *_), ffs in zip(attns, saved_ff):
                for b, ff in zip(l.transformer_blocks, ffs): b.ff = ff
        for (l, *_), saved in zip(attns, procs):               # back to the processors they had
            for n, m in l.named_modules():
                if n in saved: m.set_processor(saved[n])
    name = torch.cuda.get_device_name() if dev.type == "cuda" else "CPU"
    lines = [f"# Temporal layers of one MovieUNet step: {name}", "",
             f"{'tiny' if a.tiny else 'SD2-base'} config, CFG batch 2, {frames} frames of latent {h}x{w}, {str(dtype)[6:]}; "
             f"{len(convs)} temporal ResBlocks ({', '.join(f'{n}x {s}' for s, n in shapes.items())}), {len(attns)} temporal "
             f"attentions; each layer timed alone on the input it meets in the step (median of {a.reps}; one layer per input shape, times its count), summed.", "",
             "| layers | variant | mode | ms per step | wall s (incl. compile) |", "|---|---|---|---:|---:|"]
    lines += [f"| {k} | {v} | {m} | {ms:.1f} | {s:.0f} |" for k, v, m, ms, s in rows] + kernel_lines
    table = "\n".join(lines); print(table)
    if a.out: Path(a.out).write_text(table + "\n")


if __name__ == "__main__": main()
