#!/usr/bin/env python
"""U-Net variants timed against each other in one process, their steps interleaved: an A/B comparison for changes
worth 1-2% of a step, within the spread between separate runs (MovieUNet's compiled step measured 136.7-141.7 ms
across bench_unet.py runs on H100s). All variants are built and compiled first; then each round times `--steps` steps
of each, in an order that changes from round to round (`round_order`). It reports each variant's median step, its TFLOP/step (counted
on one eager step) and share of the GPU's measured bf16 matmul ceiling (bench_unet's, taken at the run's start and end),
and for each pair of variants (`--b` may be given more than once) the ratio of their steps with a 95% bootstrap interval
of that ratio over the rounds. A variant whose compile would start past `--budget-s` is left out, so that a call with a
time limit still times the ones before it.

A variant is a bench_unet.py model name and its flags, quoted:

    python bench/ab_unet.py --a modelscope --b "movie --channels-last" --b "modelscope --channels-last"   # GPU
    python bench/ab_unet.py --a modelscope --b movie --cuda-graph                          # replayed from CUDA graphs
    python bench/ab_unet.py --a "movie --temporal-resblock modelscope" --b movie           # a change to the model
    python bench/ab_unet.py --a movie --b "movie --cuda-graph"                             # graph replay against launches
    python bench/ab_unet.py --a "movie --no-compile" --b "modelscope --no-compile" --tiny --rounds 3   # CPU check
    python bench/ab_unet.py --a modelscope --b movie --warm-jobs 2                         # compile the variants side by side first

`--warm-jobs N` first compiles the variants in N processes side by side (`--warm-only`), each running one step, which
fills Inductor's on-disk caches; the timing process then compiles each from those caches (and alone picks the
configs of Triton kernels that have several: the warming processes store none). On a cold H100 machine the
paper-size MovieUNet took 177 s to build and a variant with five fixes more than 200 s, one after the other.
"""
from __future__ import annotations
import argparse, shlex, subprocess, sys, time
from pathlib import Path

from _common import count_flops as flops_of, cuda_graph, matmul_rates, step_ms, sync
import numpy as np
import torch
import bench_unet

GLOBAL_SWITCHES = ("no_cudnn_sdpa", "coordinate_descent", "dtype", "frames", "height", "width", "batch", "device")


def parse(spec: str, tiny: bool):
    "A variant's bench_unet.py namespace, its defaults filled in: (model name, namespace, device, dtype)."
    name, *flags = shlex.split(spec)
    a = bench_unet.parse_args(["--models", name, *flags, *(["--tiny"] if tiny else [])])
    return name, a, *bench_unet.prepare(a)


def build(name, a, dev, dtype, graph: bool, count_flops: bool = True):
    """Build, compile (unless --no-compile) and warm up one variant; returns (step function, compile + warm-up seconds,
    FLOP/step, or None without `count_flops`)."""
    model, call = bench_unet.build(name, a, dev, dtype)
    with torch.no_grad(): flops = flops_of(lambda: call(model)) if count_flops else None
    runner = model if a.no_compile else bench_unet.compile_model(model, a)
    t0 = time.time()
    with torch.no_grad():
        call(runner); sync(dev)
        step = cuda_graph(lambda: call(runner)) if graph and dev.type == "cuda" else (lambda: call(runner))
        for _ in range(a.warmup): step()
    sync(dev)
    return step, time.time() - t0, flops


def warm(spec_strs: list[str], tiny: bool, jobs: int, timeout_s: float = 1e9) -> None:
    """Compile each variant once in its own process, `jobs` at a time: Inductor keeps what it compiled in its on-disk
    caches (FX graphs, AOTAutograd, Triton kernels), from which the timing process then compiles the same graphs.
    A process still running after `timeout_s` seconds of warming is stopped (its variant is then compiled cold)."""
    t0, todo, running = time.time(), list(spec_strs), []
    while todo or running:
        while todo and len(running) < jobs:
            s = todo.pop(0)
            running.append((s, subprocess.Popen([sys.executable, __file__, "--warm-only", s, *(["--tiny"] if tiny else [])])))
        for s, proc in list(running):
            if proc.poll() is None and time.time() - t0 > timeout_s: proc.kill(); proc.wait()
            if proc.poll() is None: continue
            running.remove((s, proc))
            what = "stopped: past --warm-timeout-s" if proc.returncode == -9 else f"exit {proc.returncode}"
            print(f"warmed {s!r}: {what} after {time.time() - t0:.0f} s", flush=True)
        time.sleep(0.5)


def round_order(r: int, n: int) -> list[int]:
    """The order of `n` variants in round `r`: rotated by r // 2 and reversed in odd rounds, so that each goes first
    equally often and follows each other one (two variants: A B, B A, B A, A B, ...)."""
    order = [(i + r // 2) % n for i in range(n)]
    return order[::-1] if r % 2 else order


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--warm-only", metavar="SPEC", help="build, compile and run one step of this variant, then exit (see --warm-jobs)")
    p.add_argument("--warm-jobs", type=int, default=0, help="first compile the variants in this many processes side by side (default 0: no)")
    p.add_argument("--warm-timeout-s", type=float, default=1e9, help="stop warming processes after this many seconds (default: no limit)")
    p.add_argument("--a", help='variant A: a bench_unet.py model and its flags, e.g. "movie"')
    p.add_argument("--b", action="append", help='variant B, e.g. "movie --channels-last"; repeat for more')
    p.add_argument("--rounds", type=int, default=20, help="rounds of interleaved timing (default 20)")
    p.add_argument("--steps", type=int, default=3, help="timed steps per variant and round (default 3)")
    p.add_argument("--cuda-graph", action="store_true", help='time every variant replayed from a CUDA graph (one variant: put "--cuda-graph" in its spec)')
    p.add_argument("--tiny", action="store_true", help="tiny configs (a CPU check of the script)")
    p.add_argument("--seed", type=int, default=0, help="the bootstrap's seed")
    p.add_argument("--budget-s", type=float, default=1e9, help="start no compile after this many seconds of the run (default: no limit)")
    p.add_argument("--out", help="also write the table to this markdown file")
    args = p.parse_args(argv)
    t_start = time.time()
    if args.warm_only:
        import torch._inductor.config as inductor_config
        inductor_config.autotune_local_cache = False      # no kernel configs picked while other processes share the GPU
        _, t, _ = build(*parse(args.warm_only, args.tiny), False, count_flops=False); print(f"{args.warm_only!r} compiled in {t:.0f} s", flush=True); return
    if not (args.a and args.b): p.error("give --a and at least one --b (or --warm-only)")
    labels = ["A"] + [f"B{i + 1}" if len(args.b) > 1 else "B" for i in range(len(args.b))]
    spec_strs = [args.a, *args.b]
    specs = [parse(s, args.tiny) for s in spec_strs]
    a_ns, dev = specs[0][1], specs[0][2]
    for spec, (_, ns, _, _) in zip(spec_strs[1:], specs[1:]):
        differ = [k for k in GLOBAL_SWITCHES if getattr(a_ns, k) != getattr(ns, k)]
        if differ: sys.exit(f"A and {spec!r} differ in {', '.join('--' + k.replace('_', '-') for k in differ)}: these are "
                            "global switches or the input, which all variants must share; compare them in separate runs")
    if args.warm_jobs: warm(spec_strs, args.tiny, args.warm_jobs, args.warm_timeout_s)
    start_rates = matmul_rates(dev, specs[0][3], args.tiny)
    built = []
    for spec, label in zip(specs, labels):
        if len(built) >= 2 and time.time() - t_start > args.budget_s:
            print(f"{label} left out: past --budget-s {args.budget_s:.0f} s", flush=True); break
        built.append(build(*spec, args.cuda_graph or spec[1].cuda_graph)); print(f"{label} built in {built[-1][1]:.0f} s", flush=True)
    n = len(built)
    rounds = np.zeros((n, args.rounds, args.steps))
    with torch.no_grad():
        for r in range(args.rounds):
            for i in round_order(r, n):
                for k in range(args.steps): rounds[i, r, k] = step_ms(built[i][0], dev)
    end_rates = matmul_rates(dev, specs[0][3], args.tiny)
    ceiling = max(*start_rates.values(), *end_rates.values())
    med = np.median(rounds.reshape(n, -1), 1)
    rng = np.random.default_rng(args.seed)
    picks = rng.integers(0, args.rounds, size=(2000, args.rounds))          # resample rounds, all variants together
    boot_med = np.stack([np.median(rounds[i][picks].reshape(2000, -1), 1) for i in range(n)])
    ratios = []
    for i in range(1, n):
        for j in range(i):
            lo, hi = np.percentile(boot_med[i] / boot_med[j], [2.5, 97.5])
            ratios.append(f"- {labels[i]}/{labels[j]} = {med[i] / med[j]:.4f} (95% bootstrap interval over rounds {lo:.4f}-{hi:.4f})")
    devname = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "CPU"
    tflop = [b[2] / 1e12 for b in built]
    md = "\n".join([
        f"# A/B of U-Net variants: {devname}", "",
        f"{'tiny configs' if args.tiny else 'SD2-base config (random weights)'}; batch {a_ns.batch}, {a_ns.frames} frames of "
        f"{a_ns.width}x{a_ns.height}; torch {torch.__version__}; {args.rounds} rounds of {args.steps} steps each, interleaved"
        f"{'; replayed from CUDA graphs' if args.cuda_graph else ''}; total run {time.time() - t_start:.0f} s.",
        f"Measured matmul ceiling: {ceiling:.4g} TFLOP/s, the best of the run's start and end "
        f"({', '.join(f'{k} {v:.4g}' for k, v in {**start_rates, **{k + ' (end)': v for k, v in end_rates.items()}}.items())}).", "",
        "| variant | spec | ms/step (median) | TFLOP/step | % of ceiling | compile + warm-up s |", "|---|---|---:|---:|---:|---:|",
        *(f"| {labels[i]} | `{spec_strs[i]}` | {med[i]:.2f} | {tflop[i]:.4g} | {100 * tflop[i] / (med[i] * 1e-3) / ceiling:.1f} | "
          f"{built[i][1]:.0f} |" for i in range(n)),
        *(f"| {labels[i]} | `{spec_strs[i]}` | | | | left out: past --budget-s |" for i in range(n, len(specs))), "",
        "Ratios of median steps:", "", *ratios, ""])
    print(md)
    if args.out: Path(args.out).write_text(md)


if __name__ == "__main__":
    main()
