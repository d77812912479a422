#!/usr/bin/env python
"""Watermark rate (and object / motion accuracy) of moviefactory-mini by guidance scale and domain.

    python tools/watermark_by_guidance.py [--n 24] [--guidance 7.5,2.0] [--domains web,hd] [--steps 10] [--model DIR]

Held-out one-object captions (moviefactory.eval.toy_eval_prompts), sampled with DDIM and scored with the toy scorer.
About 8 minutes per (domain, guidance) pair of 24 clips on two CPU cores; runs on a GPU if there is one.
"""
import argparse, sys, time
from pathlib import Path
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path: sys.path.insert(0, str(ROOT))
import torch
from moviefactory import eval as ev
from moviefactory.pipeline import MoviePipeline
from tools.eval_mini import sample

ap = argparse.ArgumentParser(); ap.add_argument("--n", type=int, default=24); ap.add_argument("--guidance", default="7.5,2.0")
ap.add_argument("--domains", default="web,hd"); ap.add_argument("--steps", type=int, default=10)
ap.add_argument("--model"); ap.add_argument("--text-encoder"); a = ap.parse_args()
dev = "cuda" if torch.cuda.is_available() else "cpu"
pipe = MoviePipeline.from_mini(a.model, text_encoder=a.text_encoder, device=dev); pipe.set_progress_bar_config(disable=True)
print("| domain | guidance | watermark | object | motion | clips | s |\n|---|---|---|---|---|---|---|")
for dom in a.domains.split(","):
    specs = ev.toy_eval_prompts(a.n, domain=dom); prompts = [s.caption() for s in specs]
    for g in map(float, a.guidance.split(",")):
        t0 = time.time()
        sc = ev.toy_scores(sample(pipe, prompts, dom, False, a.steps, 0, 8, guidance=g), specs)
        print(f"| {dom} | {g} | {sc['watermark']:.1%} | {sc['object']:.1%} | {sc['motion']:.1%} | {a.n} | {time.time() - t0:.0f} |", flush=True)
