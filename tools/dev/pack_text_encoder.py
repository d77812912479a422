#!/usr/bin/env python
"""Pack a (trimmed) text encoder folder into int8 for carrying to the GPU machine, or unpack it there.

    python tools/dev/pack_text_encoder.py pack   .carry/minilm  .carry/minilm8   # here: ~11 MB instead of ~22 MB
    python tools/dev/pack_text_encoder.py unpack .carry/minilm8 /tmp/minilm       # there: a float32 folder again
Matrices are stored as int8 with one float32 scale per row (absmax); vectors stay float16.
"""
import shutil, sys
from pathlib import Path
import torch
from safetensors.torch import load_file, save_file

mode, src, dst = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
dst.mkdir(parents=True, exist_ok=True)
for f in src.iterdir():
    if f.suffix != ".safetensors": shutil.copy(f, dst / f.name)
if mode == "pack":
    out = {}
    for k, v in load_file(str(src / "model.safetensors")).items():
        v = v.float()
        if v.ndim == 2:
            s = v.abs().amax(1, keepdim=True).clamp_min(1e-8) / 127
            out[k + ".q"], out[k + ".s"] = (v / s).round().to(torch.int8), s
        else: out[k] = v.half()
    save_file(out, str(dst / "int8.safetensors"))
else:
    t, out = load_file(str(src / "int8.safetensors")), {}
    for k, v in t.items():
        if k.endswith(".s"): continue
        if k.endswith(".q"): out[k[:-2]] = v.float() * t[k[:-2] + ".s"]
        else: out[k] = v.float()
    save_file(out, str(dst / "model.safetensors"), metadata={"format": "pt"})
print(mode, src, "->", dst, sum(f.stat().st_size for f in dst.iterdir()) // 1000, "kB")
