#!/usr/bin/env python
"""Train the sprite scorer (moviefactory.sprite_eval) on freshly rendered sprite-world clips and save it.

    python tools/train_sprite_scorer.py --minutes M --out DIR [--batch 128] [--workers 14] [--init DIR] [--eval 600]

Renders clips of the training concepts on `workers` CPU processes, trains on the GPU when there is one, saves with
save_pretrained (safetensors, about 3 MB) into DIR, and writes DIR/eval.json: top-1 accuracy naming the subject of
fresh one-subject clips, over all concepts, for held-out concepts (never trained) and for training concepts.
`--init DIR` continues a saved scorer (its later clips: each call sees new ones).
"""
import argparse, json, logging, os, time
from pathlib import Path
import numpy as np
from moviefactory.sprite_eval import train_sprite_scorer, evaluate_sprite_scorer, heldout_clips, load_sprite_scorer

ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
ap.add_argument("--minutes", type=float, required=True); ap.add_argument("--out", required=True)
ap.add_argument("--steps", type=int, default=None); ap.add_argument("--batch", type=int, default=128)
ap.add_argument("--lr", type=float, default=2e-3); ap.add_argument("--seed", type=int, default=0)
ap.add_argument("--workers", type=int, default=max(0, min(14, (os.cpu_count() or 1) - 2)))
ap.add_argument("--device", default="auto"); ap.add_argument("--init", default=None)
ap.add_argument("--config", default="{}", help='SpriteScorer settings as JSON, e.g. \'{"height": 40, "width": 96}\'')
ap.add_argument("--negatives", type=int, default=None, help="score each batch against this many concepts, not all (saves CPU)")
ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
ap.add_argument("--eval", type=int, default=600, help="fresh one-subject clips per split to evaluate on (0: none)")
a = ap.parse_args()
logging.getLogger("moviefactory").setLevel(logging.INFO)
if a.threads: import torch; torch.set_num_threads(a.threads)
out = Path(a.out)
if out.exists() and any(out.iterdir()) and not (out / "config.json").is_file():
    raise SystemExit(f"{out} exists and holds no sprite scorer: give an empty or new folder")
model, start = None, 0
if a.init:
    model = load_sprite_scorer(a.init, device=a.device)
    start = int(model.config.get("trained_clips", 0) or 0)
    print(f"continuing {a.init} after {start} clips", flush=True)
t0 = time.time()
model, history = train_sprite_scorer(minutes=a.minutes, steps=a.steps, batch=a.batch, lr=a.lr, seed=a.seed,
                                     num_workers=a.workers, device=a.device, model=model, start=start, log_every=200, negatives=a.negatives,
                                     **({} if model is not None else json.loads(a.config)))
secs = time.time() - t0
print(f"trained {len(history)} steps ({len(history) * a.batch} clips) in {secs:.0f}s", flush=True)
model.save_pretrained(out)
res = {"steps": len(history), "clips": len(history) * a.batch, "seconds": round(secs, 1), "trained_clips": model.config.trained_clips,
       "curve": [{k: round(float(np.mean([e[k] for e in history[i:i + 200]])), 4) for k in ("loss", "acc")} | {"step": history[min(i + 199, len(history) - 1)]["step"]}
                 for i in range(0, len(history), 200)]}
if a.eval:
    for split in ("heldout", "train"):
        res[split] = evaluate_sprite_scorer(model, heldout_clips(a.eval, split), split=split)
        print(split, res[split], flush=True)
(out / "eval.json").write_text(json.dumps(res, indent=1) + "\n")
print("saved to", out, flush=True)
