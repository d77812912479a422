#!/usr/bin/env python
"""Write a trimmed MiniLM (float16) that covers every word piece the toy world's captions use, for carrying
to the GPU machine (64 MiB per call). For those captions it gives the same states as the full model.

    python tools/dev/trim_text_encoder.py .carry/minilm
"""
import sys
from itertools import product

import numpy as np
import torch

from moviefactory import toyworld as tw
from moviefactory.train import trim_text_encoder

out = sys.argv[1] if len(sys.argv) > 1 else ".carry/minilm"
texts = [" ".join(v) for v in (tw.OBJECTS, tw.COLOURS, tw.BACKGROUNDS, tw.MOTIONS, tw.CAMERAS, tw.DOMAINS)]
rng = np.random.default_rng(0)
for i in range(20000):
    spec = tw.random_spec(rng, domain=tw.DOMAINS[i % 3], max_objects=2)
    texts += [spec.caption(k) for k in range(tw.N_PHRASINGS)]
texts += ["4K, high resolution, cinematic, detailed, smooth camera motion, slowly, quickly, the, and, with, then"]
path = trim_text_encoder(texts, out, dtype=torch.float16)
print(f"{len(set(texts))} distinct texts -> {path}")
