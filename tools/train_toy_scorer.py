#!/usr/bin/env python
"""Train the toy scorer of the eval chapter on the CPU and ship it in moviefactory/assets/eval/toy_scorer.

    python tools/train_toy_scorer.py [--steps 1200] [--pool 8000] [--threads 2] [--out DIR]

Renders `pool` one-object toy clips (held-out combinations kept out), trains, saves with save_pretrained
(float32 safetensors, about 0.9 MB) and prints the held-out accuracy per head on full-size clips.
"""
import argparse, logging, time
from pathlib import Path
from moviefactory.eval import train_toy_scorer, evaluate_toy_scorer, toy_scorer_dir, load_toy_scorer

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("--steps", type=int, default=1200); ap.add_argument("--pool", type=int, default=8000)
ap.add_argument("--batch", type=int, default=32); ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--seed", type=int, default=0); ap.add_argument("--out", default=None)
ap.add_argument("--eval", type=int, default=600, help="held-out clips to evaluate on")
a = ap.parse_args()
logging.getLogger("moviefactory").setLevel(logging.INFO)
t0 = time.time()
model, history = train_toy_scorer(steps=a.steps, batch=a.batch, pool=a.pool, seed=a.seed, threads=a.threads)
print(f"trained in {time.time() - t0:.0f}s", flush=True)
out = a.out or toy_scorer_dir()
model.save_pretrained(out)
for f in Path(out).iterdir(): f.chmod(0o644)
print("saved to", out, flush=True)
print("held-out accuracy:", evaluate_toy_scorer(load_toy_scorer(out), n=a.eval), flush=True)
