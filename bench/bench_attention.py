#!/usr/bin/env python
"""The attention calls of one MovieUNet step, each timed on every SDPA backend (the step's attention kernels run far
under the matmul ceiling; is another backend faster at these shapes?).

One eager step at the paper's size (SD2-base config, random weights, CFG batch 2, 16 frames of 768x320, bf16) records
the q, k, v shapes of every `scaled_dot_product_attention` call (spatial self- and cross-attention, temporal
attention over frames). Each distinct shape is then timed alone (CUDA events, median of --repeats after warm-up) with
PyTorch's cuDNN, flash (FlashAttention-2) and memory-efficient backends, and (self-attentions only) with the package's
`flex_frame_attention` compiled, as the compiled step runs its temporal self-attentions. The table gives ms per call and TFLOP/s (4*B*H*Lq*Lk*D per call) per
backend, and per step (times the calls); the summary row is what the step would spend with each backend for every
call, and with the best backend per shape.

    python bench/bench_attention.py               # GPU, paper size (under 2 min on one H100 before the FlexAttention compiles)
    python bench/bench_attention.py --tiny        # CPU check of the script (tiny config, math backend only)
"""
from __future__ import annotations
import argparse
from collections import Counter
from pathlib import Path

from _common import build_movie_unet, device_name, time_steps
import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel


def record_shapes(model, args, kwargs) -> Counter:
    "Counter of ((q shape), (k shape), (v shape)) over every SDPA call of one eager forward of `model`."
    seen, orig = Counter(), F.scaled_dot_product_attention
    def spy(q, k, v, *a, **kw):
        seen[(tuple(q.shape), tuple(k.shape), tuple(v.shape))] += 1
        return orig(q, k, v, *a, **kw)
    F.scaled_dot_product_attention = spy
    try:
        with torch.no_grad(): model(*args, **kwargs)
    finally: F.scaled_dot_product_attention = orig
    return seen


def role(q, k) -> str:
    if q[2] <= 32 and k[2] == q[2]: return "temporal self"
    return "spatial self" if k[2] == q[2] else "cross"


def backends(dev):
    "name -> function(q, k, v) for every backend to try on `dev`."
    if dev.type != "cuda": return {"math": lambda q, k, v: F.scaled_dot_product_attention(q, k, v)}
    from moviefactory.temporal import flex_frame_attention
    for knob in ("recompile_limit", "cache_size_limit"):          # one compile per shape
        if hasattr(torch._dynamo.config, knob): setattr(torch._dynamo.config, knob, 256)
    flex = torch.compile(flex_frame_attention, dynamic=False)
    def on(b):
        def f(q, k, v):
            with sdpa_kernel([b]): return F.scaled_dot_product_attention(q, k, v)
        return f
    def flex_self(q, k, v):
        if k.shape[-2] != q.shape[-2]: raise ValueError("self-attention only")
        return flex(q, k, v)
    return {"cudnn": on(SDPBackend.CUDNN_ATTENTION), "flash": on(SDPBackend.FLASH_ATTENTION),
            "efficient": on(SDPBackend.EFFICIENT_ATTENTION), "flex": flex_self}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tiny", action="store_true"); p.add_argument("--repeats", type=int, default=20)
    p.add_argument("--out")
    a = p.parse_args(argv)
    dev = torch.device("cuda" if torch.cuda.is_available() and not a.tiny else "cpu")
    dtype = torch.bfloat16 if dev.type == "cuda" else torch.float32
    model, cfg = build_movie_unet(a.tiny, dev, dtype)
    F_, H, W = (4, 8, 8) if a.tiny else (16, 40, 96)
    x = torch.randn(2, 4, F_, H, W, device=dev, dtype=dtype)
    txt = torch.randn(2, 77, cfg["cross_attention_dim"], device=dev, dtype=dtype)
    shapes = record_shapes(model, (x, torch.full((2,), 500, device=dev), txt), {"domain": 0})
    del model; torch.cuda.empty_cache() if dev.type == "cuda" else None
    fns, rows, totals = backends(dev), [], Counter()
    for (qs, ks, vs), n in sorted(shapes.items(), key=lambda kv: -kv[0][0][0] * kv[0][0][2] * kv[0][1][2]):
        q, k, v = (torch.randn(s, device=dev, dtype=dtype) for s in (qs, ks, vs))
        flop = 4 * qs[0] * qs[1] * qs[2] * ks[2] * qs[3]
        ref, row = F.scaled_dot_product_attention(q, k, v), {}
        for name, fn in fns.items():
            try:
                err = (fn(q, k, v).float() - ref.float()).abs().max().item()
                row[name] = (time_steps(lambda: fn(q, k, v), dev, 3, a.repeats if dev.type == "cuda" else 1)
                             if err < 0.05 else f"wrong ({err:.2g})")
            except Exception as e:                      # a backend that refuses the shape (flash: head dims, cuDNN: sizes)
                row[name] = "n/a: " + (str(e).strip().splitlines() or [type(e).__name__])[0][:40].replace("|", "/")
        timed = {b: ms for b, ms in row.items() if isinstance(ms, float)}
        best = min(timed, key=timed.get)
        for b, ms in timed.items(): totals[b] += ms * n
        totals["best per shape"] += timed[best] * n
        rows.append((role(qs, ks), qs, ks[2], n, flop, row, best))
        del q, k, v, ref
    name = device_name(dev)
    cols = list(fns)
    lines = [f"# Attention calls of one MovieUNet step, by SDPA backend: {name}", "",
             f"{'tiny' if a.tiny else 'SD2-base'} config, CFG batch 2, {F_} frames of latent {H}x{W}, {str(dtype)[6:]}, torch "
             f"{torch.__version__}; each distinct q/k/v shape timed alone (median of {a.repeats}); ms per call (TFLOP/s).", "",
             "| call | q (B, heads, L, D) | keys | calls/step | " + " | ".join(cols) + " | best |",
             "|---|---|---:|---:|" + "---:|" * len(cols) + "---|"]
    for r, qs, lk, n, flop, row, best in rows:
        cell = lambda v: f"{v:.3f} ({flop / v / 1e9:.0f})" if isinstance(v, float) else v
        lines.append(f"| {r} | {qs} | {lk} | {n} | " + " | ".join(cell(row[c]) for c in cols) + f" | {best} |")
    lines += ["", "Per step (ms, every call on one backend; a backend that refused a shape is left out of its sum):", "",
              "| " + " | ".join(totals) + " |", "|" + "---:|" * len(totals),
              "| " + " | ".join(f"{v:.2f}" for v in totals.values()) + " |"]
    text = "\n".join(lines); print(text)
    if a.out: Path(a.out).write_text(text + "\n")


if __name__ == "__main__": main()
