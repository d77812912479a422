#!/usr/bin/env python
"""Left/right motion accuracy of moviefactory-mini by camera move (static, zoom, pan the same way, pan the other way).

    python tools/motion_by_camera.py [MODEL_DIR] [--per-camera 14] [--steps 10] [--domain hd]

Held-out left/right captions (moviefactory.eval.toy_eval_prompts) are split by their camera; `--per-camera` of each
(static, pan, zoom) are sampled with the folder's own schedule and scored with the toy scorer. About 13 minutes for
42 clips on two CPU cores; runs on a GPU if there is one.
"""
import argparse, sys, time
from collections import Counter, defaultdict
from pathlib import Path
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path: sys.path.insert(0, str(ROOT))
import torch
from moviefactory import eval as ev
from moviefactory.pipeline import MoviePipeline
from tools.eval_mini import sample

ap = argparse.ArgumentParser(); ap.add_argument("model_dir", nargs="?")
ap.add_argument("--per-camera", type=int, default=14); ap.add_argument("--steps", type=int, default=10)
ap.add_argument("--domain", default="hd"); ap.add_argument("--text-encoder"); a = ap.parse_args()
specs = [s for s in ev.toy_eval_prompts(400, seed=0) if s.objects[0].motion in ("left", "right")]
by = defaultdict(list)
for s in specs: by["static" if s.camera == "static" else "pan" if "pan" in s.camera else "zoom"].append(s)
pick = [s for k in ("static", "pan", "zoom") for s in by[k][:a.per_camera]]
dev = "cuda" if torch.cuda.is_available() else "cpu"
pipe = MoviePipeline.from_mini(a.model_dir, text_encoder=a.text_encoder, device=dev); pipe.set_progress_bar_config(disable=True)
t0 = time.time()
clips = sample(pipe, [s.caption() for s in pick], a.domain, False, a.steps, 0, 4)
sc = ev.toy_scores(clips, pick, details=True)
rows = defaultdict(lambda: [0, 0])
for s, p in zip(pick, sc["clips"]):
    m, cam = s.objects[0].motion, s.camera
    k = "static" if cam == "static" else "zoom" if "zoom" in cam else "pan the same way" if cam == f"pan {m}" else "pan the other way"
    rows[k][0] += p["motion"] == m; rows[k][1] += 1
print(f"{len(pick)} clips, {a.steps} steps, {a.domain}, {time.time() - t0:.0f} s")
print("| camera | motion right |\n|---|---|\n" + "\n".join(f"| {k} | {r}/{n} |" for k, (r, n) in rows.items()))
print("predicted:", dict(Counter(p["motion"] for p in sc["clips"])))
