#!/usr/bin/env python
"""Temporal ResBlock at the paper's sizes: diffusers' `TemporalConvLayer` forward (3-D convolutions) against
`moviefactory.temporal.temporal_conv` (the same layer and weights run with 2-D convolutions over frames x pixels).

SD2-base's four levels (320/640/1280/1280 channels at latent 40x96 ... 5x12), CFG batch 2 x 16 frames, bf16,
eager, CUDA events, median of 20 calls after warm-up; the max abs difference of the two outputs is printed too.

    python bench/bench_temporal.py            # GPU
    python bench/bench_temporal.py --tiny     # CPU check of the script
"""
from __future__ import annotations
import argparse, statistics, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path: sys.path.insert(0, str(ROOT))
import torch
from moviefactory.temporal import randomize_zero_init, temporal_conv, temporal_resblock


def timeit(fn, dev, n=20):
    for _ in range(3): fn()
    ts = []
    for _ in range(n):
        if dev.type == "cuda":
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            a.record(); fn(); b.record(); torch.cuda.synchronize(); ts.append(a.elapsed_time(b))
        else:
            t0 = time.perf_counter(); fn(); ts.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(ts)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0]); p.add_argument("--tiny", action="store_true")
    p.add_argument("--out"); a = p.parse_args(argv)
    dev = torch.device("cuda" if torch.cuda.is_available() and not a.tiny else "cpu")
    dt = torch.bfloat16 if dev.type == "cuda" else torch.float32
    levels = [(32, 8, 8, 8)] if a.tiny else [(320, 40, 96, 32), (640, 20, 48, 32), (1280, 10, 24, 32), (1280, 5, 12, 32)]
    F = 4 if a.tiny else 16
    rows = ["| channels | latent | diffusers (3-D convs) ms | temporal_conv (2-D convs) ms | speed-up | TFLOP/s (2-D) | max abs diff |",
            "|---:|---|---:|---:|---:|---:|---:|"]
    for C, H, W, g in levels:
        layer = randomize_zero_init(temporal_resblock(C, groups=g), std=0.02).to(dev, dt).eval()
        x = torch.randn(2 * F, C, H, W, device=dev, dtype=dt)
        with torch.no_grad():
            ref, new = layer(x, num_frames=F), temporal_conv(layer, x, F)
            diff = (ref.float() - new.float()).abs().max().item()
            t3 = timeit(lambda: layer(x, num_frames=F), dev)
            t2 = timeit(lambda: temporal_conv(layer, x, F), dev)
        flop = 4 * 2 * C * C * 3 * 2 * F * H * W
        rows.append(f"| {C} | {H}x{W} | {t3:.2f} | {t2:.2f} | {t3 / t2:.2f}x | {flop / t2 / 1e9:.0f} | {diff:.2e} |")
    name = torch.cuda.get_device_name() if dev.type == "cuda" else "CPU"
    text = f"# Temporal ResBlock, 3-D vs 2-D convolutions: {name}\n\n{dt}, eager, batch 2 x {F} frames.\n\n" + "\n".join(rows)
    print(text)
    if a.out: Path(a.out).write_text(text + "\n")


if __name__ == "__main__": main()
