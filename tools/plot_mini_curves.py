#!/usr/bin/env python
"""Plot moviefactory-mini's loss logs (moviefactory/assets/mini/training/STAGE-callN.jsonl) per stage, the calls
one after the other (each call resumed from the previous call's weights), into training/curves.png."""
import json, re, sys
from pathlib import Path
import numpy as np, matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

d = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[1] / "moviefactory/assets/mini/training")
stages = ["vae", "base", "spatial", "temporal", "movie"]
fig, axs = plt.subplots(1, len(stages), figsize=(15, 3))
for ax, st in zip(axs, stages):
    logs = sorted(d.glob(f"{st}-call*.jsonl"), key=lambda p: int(re.search(r"call(\d+)", p.name)[1]))
    off = 0
    for p in logs:
        rows = [json.loads(l) for l in p.read_text().splitlines() if l.strip()]
        s = np.array([r["step"] for r in rows]) + off; l = np.array([r["loss"] for r in rows])
        k = min(5, len(l)); ax.plot(s[k - 1:], np.convolve(l, np.ones(k) / k, "valid"), label=p.stem.split("-")[1])
        off = s[-1]
    ax.set_title(st); ax.set_xlabel("step (calls in turn)"); ax.set_yscale("log"); ax.legend(fontsize=6)
axs[0].set_ylabel("loss")
fig.tight_layout(); fig.savefig(d / "curves.png", dpi=90)
print("wrote", d / "curves.png")
