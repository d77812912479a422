#!/usr/bin/env python
"""Two U-Net variants timed against each other in one process, their steps interleaved: an A/B comparison for changes
worth 1-2% of a step, within the spread between separate runs (MovieUNet's compiled step measured 137.9-141.7 ms
across bench_unet.py runs on H100s). Both variants are built and compiled first; then each round times `--steps` steps
of one and then of the other, alternating which goes first. It reports each variant's median step, the ratio B/A and
a 95% bootstrap interval of that ratio over the rounds.

A variant is a bench_unet.py model name and its flags, quoted:

    python bench/ab_unet.py --a movie --b "movie --cl-resblock-inputs --two-stage-gn"      # GPU, paper size
    python bench/ab_unet.py --a movie --b "movie-mm --frame-conv tma" --cuda-graph         # replayed from CUDA graphs
    python bench/ab_unet.py --a "movie --no-compile" --b "movie --no-compile --geglu triton" --tiny --rounds 3   # CPU check
"""
from __future__ import annotations
import argparse, shlex, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for _p in (ROOT, ROOT / "bench"):
    if str(_p) not in sys.path: sys.path.insert(0, str(_p))
import numpy as np
import torch
import bench_unet

GLOBAL_SWITCHES = ("no_cudnn_sdpa", "coordinate_descent", "dtype", "frames", "height", "width", "batch", "device")


def parse(spec: str, tiny: bool):
    "A variant's bench_unet.py namespace, its defaults filled in: (model name, namespace, device, dtype)."
    name, *flags = shlex.split(spec)
    a = bench_unet.parse_args(["--models", name, *flags, *(["--tiny"] if tiny else [])])
    return name, a, *bench_unet.prepare(a)


def build(name, a, dev, dtype, graph: bool):
    "Build, compile (unless --no-compile) and warm up one variant; returns (step function, compile + warm-up seconds)."
    model, call = bench_unet.build(name, a, dev, dtype)
    runner = model if a.no_compile else torch.compile(model, mode=a.compile_mode)
    t0 = time.time()
    with torch.no_grad():
        call(runner); bench_unet.sync(dev)
        step = bench_unet.cuda_graph(lambda: call(runner)) if graph and dev.type == "cuda" else (lambda: call(runner))
        for _ in range(a.warmup): step()
    bench_unet.sync(dev)
    return step, time.time() - t0


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--a", required=True, help='variant A: a bench_unet.py model and its flags, e.g. "movie"')
    p.add_argument("--b", required=True, help='variant B, e.g. "movie --two-stage-gn"')
    p.add_argument("--rounds", type=int, default=20, help="rounds of interleaved timing (default 20)")
    p.add_argument("--steps", type=int, default=3, help="timed steps per variant and round (default 3)")
    p.add_argument("--cuda-graph", action="store_true", help="time both replayed from CUDA graphs")
    p.add_argument("--tiny", action="store_true", help="tiny configs (a CPU check of the script)")
    p.add_argument("--seed", type=int, default=0, help="the bootstrap's seed")
    p.add_argument("--out", help="also write the table to this markdown file")
    args = p.parse_args(argv)
    t_start = time.time()
    specs = [parse(s, args.tiny) for s in (args.a, args.b)]
    (_, a_ns, dev, _), (_, b_ns, _, _) = specs
    differ = [k for k in GLOBAL_SWITCHES if getattr(a_ns, k) != getattr(b_ns, k)]
    if differ: sys.exit(f"A and B differ in {', '.join('--' + k.replace('_', '-') for k in differ)}: these are global "
                        "switches or the input, which both variants must share; compare them in separate runs")
    (step_a, comp_a), (step_b, comp_b) = (build(*spec, args.cuda_graph) for spec in specs)
    rounds = np.zeros((2, args.rounds, args.steps))
    with torch.no_grad():
        for r in range(args.rounds):
            for i in ((0, 1) if r % 2 == 0 else (1, 0)):
                for k in range(args.steps): rounds[i, r, k] = bench_unet.step_ms((step_a, step_b)[i], dev)
    med_a, med_b = np.median(rounds[0]), np.median(rounds[1])
    rng = np.random.default_rng(args.seed)
    picks = rng.integers(0, args.rounds, size=(2000, args.rounds))          # resample rounds, both variants together
    boot = np.median(rounds[1][picks].reshape(2000, -1), 1) / np.median(rounds[0][picks].reshape(2000, -1), 1)
    lo, hi = np.percentile(boot, [2.5, 97.5])
    devname = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "CPU"
    md = "\n".join([
        f"# A/B of two U-Net variants: {devname}", "",
        f"{'tiny configs' if args.tiny else 'SD2-base config (random weights)'}; batch {a_ns.batch}, {a_ns.frames} frames of "
        f"{a_ns.width}x{a_ns.height}; {args.rounds} rounds of {args.steps} steps each, interleaved"
        f"{'; replayed from CUDA graphs' if args.cuda_graph else ''}; total run {time.time() - t_start:.0f} s.", "",
        "| variant | spec | ms/step (median) | compile + warm-up s |", "|---|---|---:|---:|",
        f"| A | `{args.a}` | {med_a:.2f} | {comp_a:.0f} |", f"| B | `{args.b}` | {med_b:.2f} | {comp_b:.0f} |", "",
        f"B/A = {med_b / med_a:.4f} (95% bootstrap interval over rounds {lo:.4f}-{hi:.4f}).", ""])
    print(md)
    if args.out: Path(args.out).write_text(md)


if __name__ == "__main__":
    main()
