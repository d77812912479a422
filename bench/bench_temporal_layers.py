#!/usr/bin/env python
"""Milliseconds per U-Net step spent in the temporal layers, eager and compiled, with the ways to run them that the
package chose between.

The layers and their inputs are the ones a MovieUNet on the SD2-base config meets in one step (CFG batch 2, 16 frames
of 768x320, bf16), built with ModelScope's four-convolution temporal ResBlocks (diffusers' `TemporalConvLayer`, as
moviefactory-mini): a forward pass records each temporal layer's input, then every layer is timed alone on it and the
times are summed. Variants of the temporal ResBlock:
  conv3d           as diffusers runs it (cuDNN Conv3d on NCDHW)
  matmul           the frame convolution as one GEMM (3*C_out x C_in) @ (C_in x F*H*W) and a shifted sum of its
                   three outputs (the package's `frame_conv_gemm`, which `FrameConvLayer` runs under torch.compile)
Variants of the temporal attention (diffusers' `TransformerTemporalModel`):
  diffusers        the frame self-attentions through diffusers' SDPA processor (SDPA picks its backend: cuDNN on Hopper)
  flash, efficient, cudnn, math
                   SDPA limited to that backend (torch.nn.attention.sdpa_kernel) inside the compiled function
  flex             as the package builds them: FrameAttnProcessor, FlexAttention with 16x16 tiles under torch.compile
Modes: compiled (torch.compile default), compiled-cd (with Inductor's coordinate-descent tuning of its Triton
kernels), compiled-ma (max-autotune-no-cudagraphs: Triton GEMM templates with fused prologues and epilogues).

    python bench/bench_temporal_layers.py            # GPU, paper size
    python bench/bench_temporal_layers.py --tiny     # CPU check of the script

Other frame convolutions (three accumulating GEMMs, a (3, 1) Conv2d, im2col, token-major rows, channels-last Conv3d,
Triton kernels), fused projections and chunked feed-forwards were tried here and dropped; bench/README.md says which
commit still has them.
"""
from __future__ import annotations
import argparse, statistics, time
from collections import Counter
from pathlib import Path

from _common import build_movie_unet, device_name, kernel_times
import torch
from diffusers.models.resnet import TemporalConvLayer
import moviefactory.unet as mu
from moviefactory.temporal import frame_conv_gemm   # the package's GEMM frame convolution


FRAME_CONVS = {"matmul": frame_conv_gemm}


def temporal_conv_forward(layer: TemporalConvLayer, hidden_states, num_frames, variant):
    bf, c, h, w = hidden_states.shape
    x = hidden_states.reshape(bf // num_frames, num_frames, c, h, w).permute(0, 2, 1, 3, 4)
    x = x.contiguous()
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


def profile_kernels(fn, args, dev, top=12):
    "Kernel names, ms and calls per call of `fn(*args)` (after warm-up), the `top` longest, and the total ms."
    from torch.profiler import ProfilerActivity, profile
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
    p.add_argument("--conv-variants", default="conv3d,matmul", help="comma-separated: conv3d, matmul")
    p.add_argument("--attn-variants", default="diffusers,flash,efficient,cudnn,math,flex",
                   help="comma-separated: diffusers, flash, efficient, cudnn, math, flex")
    p.add_argument("--modes", default="compiled", help="comma-separated: compiled, compiled-cd, compiled-ma")
    p.add_argument("--eager", action="store_true", help="time eager runs too (default: compiled only on a GPU)")
    p.add_argument("--profile", action="store_true", help="list the kernels of each compiled variant on the largest input")
    a = p.parse_args(argv)
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dtype = torch.bfloat16 if dev.type == "cuda" else torch.float32
    model, cfg = build_movie_unet(a.tiny, dev, dtype, "modelscope")
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
            for v in FRAME_CONVS:
                out = temporal_conv_forward(l, x, f, v)
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
    for variant in a.attn_variants.split(","):
        procs = [{n: m.processor for n, m in l.named_modules() if hasattr(m, "set_processor")} for l, *_ in attns]
        if variant != "flex":                                   # flex: the package's FrameAttnProcessor, as built
            for l, *_ in attns: sdpa_frame_attention(l)
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
        for (l, *_), saved in zip(attns, procs):               # back to the processors they had
            for n, m in l.named_modules():
                if n in saved: m.set_processor(saved[n])
    name = device_name(dev)
    lines = [f"# Temporal layers of one MovieUNet step: {name}", "",
             f"{'tiny' if a.tiny else 'SD2-base'} config, CFG batch 2, {frames} frames of latent {h}x{w}, {str(dtype)[6:]}; "
             f"{len(convs)} temporal ResBlocks ({', '.join(f'{n}x {s}' for s, n in shapes.items())}), {len(attns)} temporal "
             f"attentions; each layer timed alone on the input it meets in the step (median of {a.reps}; one layer per input shape, times its count), summed.", "",
             "| layers | variant | mode | ms per step | wall s (incl. compile) |", "|---|---|---|---:|---:|"]
    lines += [f"| {k} | {v} | {m} | {ms:.1f} | {s:.0f} |" for k, v, m, ms, s in rows] + kernel_lines
    table = "\n".join(lines); print(table)
    if a.out: Path(a.out).write_text(table + "\n")


if __name__ == "__main__": main()
