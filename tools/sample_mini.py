#!/usr/bin/env python
"""Sample a grid of clips from a moviefactory-mini folder for each domain (MoviePipeline.from_mini: the folder's
own noise schedule, DDIM with trailing timesteps, classifier-free guidance).

    python tools/sample_mini.py MODEL_DIR OUT.png [--steps 25] [--guidance 7.5] [--text-encoder DIR]
It runs on a GPU if there is one.
"""
import argparse, sys
from pathlib import Path
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path: sys.path.insert(0, str(ROOT))
import torch, matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from moviefactory.pipeline import MoviePipeline

ap = argparse.ArgumentParser(); ap.add_argument("model_dir"); ap.add_argument("out")
ap.add_argument("--steps", type=int, default=25); ap.add_argument("--guidance", type=float, default=7.5)
ap.add_argument("--text-encoder"); a = ap.parse_args()
pipe = MoviePipeline.from_mini(a.model_dir, text_encoder=a.text_encoder, device="cuda" if torch.cuda.is_available() else "cpu")
pipe.set_progress_bar_config(disable=True)
caps = ["a red car moves right on a road", "a blue fish swims up in the sea", "a yellow airplane flies left in the sky",
        "a white rocket moves up in space", "a green ball moves left on a road", "a purple balloon moves down at night"]
doms = [d for d in ("hd", "web", "movie") if d in pipe.unet.domains]
fig, axs = plt.subplots(len(caps) * len(doms), 4, figsize=(10, 1.3 * len(caps) * len(doms)))
for r, dom in enumerate(doms):
    gens = [torch.Generator().manual_seed(i) for i in range(len(caps))]
    img = pipe(caps, num_inference_steps=a.steps, guidance_scale=a.guidance, domain=dom, generator=gens,
               batch_size=len(caps)).frames
    for c in range(len(caps)):
        for k, f in enumerate([0, 5, 10, 15]):
            ax = axs[r * len(caps) + c, k]; ax.imshow(img[c, f].clip(0, 1)); ax.axis("off")
            if k == 0: ax.set_title(f"{dom}: {caps[c]}", fontsize=7, loc="left")
fig.tight_layout(); fig.savefig(a.out, dpi=70)
print("wrote", a.out)
