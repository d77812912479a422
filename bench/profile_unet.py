#!/usr/bin/env python
"""Where a MovieUNet step spends its time: the base U-Net's layers, the spatial adapters, the temporal ResBlocks and
the temporal attentions, each with its milliseconds, TFLOP and TFLOP/s.

At the paper's size (SD2-base config, random weights, CFG batch 2, 16 frames of 768x320, bf16, eager): CUDA events
around every layer of a kind (the temporal layers run inside their base layer's hook, so the base's own time is
its measured time minus theirs), FLOPs from torch.utils.flop_counter.FlopCounterMode by module. Prints a markdown
table; --out writes it too.

    python bench/profile_unet.py                 # GPU, paper size
    python bench/profile_unet.py --tiny          # CPU check of the script, tiny config
"""
from __future__ import annotations

import argparse, statistics, time
from collections import defaultdict
from pathlib import Path

from _common import build_movie_unet, device_name
import torch
from diffusers.models.resnet import TemporalConvLayer
from diffusers.models.transformers.transformer_temporal import TransformerTemporalModel
from torch.utils.flop_counter import FlopCounterMode

from moviefactory.temporal import VideoLDMResBlock, pretrained_spatial_layers

KINDS = ("base ResBlocks", "base attentions", "spatial adapters", "temporal ResBlocks", "temporal attentions")


def kind_of(m, base_ids):
    if isinstance(m, (TemporalConvLayer, VideoLDMResBlock)): return "temporal ResBlocks"
    if isinstance(m, TransformerTemporalModel): return "temporal attentions"
    if id(m) in base_ids: return base_ids[id(m)]
    return None


def timed_step(model, args_, dev, base_ids):
    "One step with CUDA events (or perf_counter) around every layer of a kind; returns {kind: ms} (inclusive)."
    cuda = dev.type == "cuda"
    marks, handles = defaultdict(list), []
    def stamp():
        if cuda: e = torch.cuda.Event(enable_timing=True); e.record(); return e
        return time.perf_counter()
    def pre(kind): return lambda mod, a, kw=None: marks[kind].append([stamp(), None]) and None
    def post(kind):
        def f(mod, a, out): marks[kind][-1][1] = stamp()
        return f
    mods = [(m, kind_of(m, base_ids)) for m in model.modules()]
    mods += [(a, "spatial adapters") for a in model.spatial.values()]
    for m, k in mods:
        if k is None: continue
        handles += [m.register_forward_pre_hook(pre(k)), m.register_forward_hook(post(k))]
    t0 = stamp()
    with torch.no_grad(): model(*args_)
    t1 = stamp()
    for h in handles: h.remove()
    if cuda: torch.cuda.synchronize()
    el = (lambda a, b: a.elapsed_time(b)) if cuda else (lambda a, b: (b - a) * 1e3)
    out = {k: sum(el(a, b) for a, b in v) for k, v in marks.items()}
    out["total"] = el(t0, t1)
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tiny", action="store_true"); p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--temporal-resblock", default="videoldm", choices=["videoldm", "modelscope"],
                   help="the temporal ResBlocks: Video LDM's (the package's default) or ModelScope's (moviefactory-mini's)")
    p.add_argument("--out"); a = p.parse_args(argv)
    dev = torch.device("cuda" if torch.cuda.is_available() and not a.tiny else "cpu")
    dtype = torch.bfloat16 if dev.type == "cuda" else torch.float32
    model, cfg = build_movie_unet(a.tiny, dev, dtype, a.temporal_resblock)
    base_ids = {id(m): ("base ResBlocks" if "resnets" in path else "base attentions") for path, m in pretrained_spatial_layers(model.unet)}
    F, H, W = (4, 8, 8) if a.tiny else (16, 40, 96)
    x = torch.randn(2, 4, F, H, W, device=dev, dtype=dtype)
    txt = torch.randn(2, 77, cfg["cross_attention_dim"], device=dev, dtype=dtype)
    args_ = (x, 500, txt)
    for _ in range(2):
        with torch.no_grad(): model(*args_)
    runs = [timed_step(model, args_, dev, base_ids) for _ in range(a.repeats)]
    ms = {k: statistics.median(r.get(k, 0.0) for r in runs) for k in list(KINDS) + ["total"]}
    ms["base ResBlocks"] -= ms["temporal ResBlocks"]; ms["base attentions"] -= ms["temporal attentions"]
    # FLOPs by module path (the temporal layers, run from their base layer's forward hook, are counted on their own)
    fc = FlopCounterMode(display=False)
    with torch.no_grad(), fc: model(*args_)
    by_mod = fc.get_flop_counts()
    tot = lambda name: sum(by_mod.get(name, {}).values())
    fl = {"temporal ResBlocks": 0, "temporal attentions": 0}
    for key, layer in model.temporal.items():
        fl["temporal attentions" if "attentions" in key else "temporal ResBlocks"] += tot(f"MovieUNet.temporal.{key}")
    fl["spatial adapters"] = sum(tot(f"MovieUNet.spatial.{key}") for key in model.spatial)
    base_attn = sum(tot(f"MovieUNet.unet.{p}") for p, m in pretrained_spatial_layers(model.unet) if "attentions" in p)
    base_res = sum(tot(f"MovieUNet.unet.{p}") for p, m in pretrained_spatial_layers(model.unet) if "resnets" in p)
    fl["base attentions"], fl["base ResBlocks"] = base_attn, base_res   # (hooks run after the counter leaves a module)
    fl["total"] = tot("MovieUNet")
    name = device_name(dev)
    lines = [f"# MovieUNet step by part: {name}", "",
             f"{'tiny config' if a.tiny else 'SD2-base config'}, CFG batch 2, {F} frames of latent {H}x{W}, {dtype}, eager, {a.temporal_resblock} temporal ResBlocks; median of {a.repeats} steps.", "",
             "| part | ms | share of time | TFLOP | share of FLOPs | TFLOP/s |", "|---|---:|---:|---:|---:|---:|"]
    rest_ms = ms["total"] - sum(ms[k] for k in KINDS); rest_fl = fl["total"] - sum(fl[k] for k in KINDS)
    for k, t, f in [(k, ms[k], fl[k]) for k in KINDS] + [("everything else (embeddings, down/up-samplers, norms, glue)", rest_ms, rest_fl), ("total", ms["total"], fl["total"])]:
        lines.append(f"| {k} | {t:.1f} | {t / ms['total']:.0%} | {f / 1e12:.2f} | {f / max(fl['total'], 1):.0%} | {f / 1e12 / max(t / 1e3, 1e-9):.0f} |")
    text = "\n".join(lines)
    print(text)
    if a.out: Path(a.out).write_text(text + "\n")


if __name__ == "__main__": main()
