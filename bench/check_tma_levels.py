"""Run the two persistent TMA kernels (bench/triton_geglu.py's `geglu_tma`, bench/triton_frame_conv.py's `frame_conv_tma`)
under torch.compile at each SD2 level's paper-size shape, each in its own process, and print one line per case: the max
difference to diffusers, or how the process died. A whole-U-Net step that dies with `illegal instruction` does not say
which kernel or shape did it; this does, in about a minute for all eight.

    python bench/check_tma_levels.py                       # GPU: all cases
    python bench/check_tma_levels.py --case geglu 4        # one case, in this process
"""
from __future__ import annotations
import argparse, os, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for _p in (ROOT, ROOT / "bench"):
    if str(_p) not in sys.path: sys.path.insert(0, str(_p))

LEVELS = {1: (320, 40, 96), 2: (640, 20, 48), 3: (1280, 10, 24), 4: (1280, 5, 12)}   # channels, latent h, w


def case(kind: str, level: int) -> str:
    import torch
    c, h, w = LEVELS[level]
    torch.manual_seed(0)
    dev, dt = "cuda", torch.bfloat16
    with torch.no_grad():
        if kind == "geglu":
            from diffusers.models.activations import GEGLU
            from triton_geglu import geglu_tma
            mod = GEGLU(c, 4 * c).to(dev, dt)
            x = torch.randn(32, h * w, c, device=dev, dtype=dt)
            out, ref = torch.compile(lambda t: geglu_tma(t, mod.proj), dynamic=False)(x), mod(x)
        else:
            from moviefactory.temporal import randomize_zero_init, temporal_resblock
            from triton_frame_conv import temporal_resblock_tma
            layer = randomize_zero_init(temporal_resblock(c, kind="modelscope"), std=0.05).to(dev, dt).eval()
            x = torch.randn(32, c, h, w, device=dev, dtype=dt)
            out, ref = torch.compile(lambda t: temporal_resblock_tma(layer, t, 16), dynamic=False)(x), layer(x, num_frames=16)
        torch.cuda.synchronize()
    return f"{(out.float() - ref.float()).abs().max().item():.4g}"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--case", nargs=2, metavar=("KIND", "LEVEL"), help="geglu|frame_conv and a level 1-4: run one case here")
    a = p.parse_args(argv)
    if a.case:
        print(case(a.case[0], int(a.case[1]))); return
    print("| kernel | level | C, h x w | result |\n|---|---:|---|---|")
    env = {**os.environ, "CUDA_LAUNCH_BLOCKING": "1"}
    cases = [(kind, level) for kind in ("geglu", "frame_conv") for level in LEVELS]   # all at once: compiling is CPU work
    procs = [subprocess.Popen([sys.executable, __file__, "--case", kind, str(level)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=env) for kind, level in cases]
    for (kind, level), pr in zip(cases, procs):
        out, err = pr.communicate(timeout=600)
        errs = [l for l in err.splitlines() if "Error" in l or "error" in l]
        res = f"max abs diff {out.strip()}" if pr.returncode == 0 else f"exit {pr.returncode}: {(errs[-1] if errs else '')[:120]}"
        c, h, w = LEVELS[level]
        print(f"| {kind} | {level} | {c}, {h}x{w} | {res} |", flush=True)

if __name__ == "__main__":
    main()
