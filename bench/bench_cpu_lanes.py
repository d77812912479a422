#!/usr/bin/env python
"""U-Net steps of two clips on the CPU: one clip after the other on all of torch's threads (how a call sampled before
lanes), against the two clips side by side, each on a thread of its own (`MoviePipeline`'s lanes, chapter `pipeline`).

moviefactory-mini with its guided adapters, 16 frames at 80x192, the precision `compute_dtype` picks. The two ways are
interleaved round by round (the order alternating), so a drift in the machine's speed reaches both; prints the wall
and CPU seconds per clip-step (median over rounds) and the paired ratio, as a markdown table.

    python bench/bench_cpu_lanes.py
    ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 python bench/bench_cpu_lanes.py     # as on an AVX2-only CPU
"""
import argparse, os, platform, statistics, sys, threading, time
from pathlib import Path
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path: sys.path.insert(0, str(ROOT))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=6); p.add_argument("--steps", type=int, default=2, help="U-Net steps of each clip a round")
    p.add_argument("--out"); a = p.parse_args(argv)
    import torch
    from moviefactory.core import compute_dtype, precision_note
    from moviefactory.make import load_video_model
    pipe = load_video_model(guided=True, device="cpu"); u = pipe.unet
    dt = compute_dtype("auto", "cpu"); T = torch.get_num_threads()
    t, s = torch.tensor(500), pipe.encode_prompt(["a red car moves right on a road"])
    xs = [torch.randn(1, 4, 16, 20, 48) for _ in range(2)]
    def steps(x):
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=dt == torch.bfloat16):
            for _ in range(a.steps): u(x, t, s, domain=["hd"])
    def one_after_the_other():
        for x in xs: steps(x)
    def side_by_side():
        def lane(x): torch.set_num_threads(1); steps(x)
        th = [threading.Thread(target=lane, args=(x,)) for x in xs]
        for h in th: h.start()
        for h in th: h.join()
        torch.set_num_threads(T)
    ways = {f"one clip at a time, {T} threads": one_after_the_other, "two clips side by side, 1 thread each": side_by_side}
    for f in ways.values(): f()                                  # warm-up
    res = {k: [] for k in ways}
    for r in range(a.rounds):
        for k in (list(ways) if r % 2 == 0 else list(ways)[::-1]):
            c, w = time.process_time(), time.perf_counter(); ways[k]()
            res[k].append((time.perf_counter() - w, time.process_time() - c))
    n = 2 * a.steps
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
    env = "".join(f", {k}={os.environ[k]}" for k in ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA") if k in os.environ)
    (ka, wa), (kb, wb) = res.items()
    ratio = statistics.median(y[0] / x[0] for x, y in zip(wa, wb))
    lines = [f"# U-Net steps of two clips: {cpu}, torch CPU capability {torch.backends.cpu.get_cpu_capability()}{env}, "
             f"{T} threads; {precision_note(dt, 'cpu')}; load average {os.getloadavg()[0]:.1f} at the end", "",
             f"| way | wall s per clip-step (median of {a.rounds}) | CPU-s per clip-step |", "|---|---:|---:|"]
    for k, v in res.items():
        lines.append(f"| {k} | {statistics.median(w for w, _ in v) / n:.2f} | {statistics.median(c for _, c in v) / n:.2f} |")
    lines += ["", f"Side by side / one at a time, wall, paired by round: {ratio:.2f} (median)."]
    table = "\n".join(lines); print(table)
    if a.out: Path(a.out).write_text(table + "\n")


if __name__ == "__main__": main()
