"""How many toy clips per second does one CPU core render?

    OMP_NUM_THREADS=1 python bench/bench_toyworld.py            # the default table
    python bench/bench_toyworld.py --clips 500 --sizes 16x80x192 --json out/toy_bench.json

Threads are pinned to one (torch, OpenMP, BLAS) before anything imports NumPy or torch. Each row warms the
sprite caches on `--warmup` clips first, as a long training run would, then times `--clips` fresh clips
from `ToyWorld` (new scenes, new seeds). The target is >= 200 clips/s of 16x80x192 on one core.
"""
import os
for _v in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse, json, platform, time


def bench(domains, F, H, W, clips, warmup, seed=0):
    from moviefactory.toyworld import ToyWorld
    world = ToyWorld(seed=seed, domains=domains, num_frames=F, height=H, width=W)
    for i in range(warmup): world[i]
    t0 = time.perf_counter()
    for i in range(warmup, warmup + clips): world[i]
    dt = time.perf_counter() - t0
    return clips / dt, dt


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=400, help="timed clips per row (fewer for large sizes)")
    ap.add_argument("--warmup", type=int, default=300, help="untimed clips per row that fill the caches")
    ap.add_argument("--sizes", default="16x80x192,16x40x96", help="comma-separated FxHxW")
    ap.add_argument("--json", default=None, help="also write the rows to this JSON file")
    a = ap.parse_args(argv)
    import torch
    torch.set_num_threads(1)
    rows = []
    for size in a.sizes.split(","):
        F, H, W = (int(v) for v in size.lower().split("x"))
        scale = max(1, (H * W) // (80 * 192))
        for domains in (("web",), ("hd",), ("movie",), ("web", "hd", "movie")):
            rate, dt = bench(domains, F, H, W, max(a.clips // scale, 20), max(a.warmup // scale, 20))
            rows.append({"size": f"{F}x{H}x{W}", "domains": "+".join(domains), "clips_per_s": round(rate, 1),
                         "ms_per_clip": round(1000 / rate, 2), "frames_per_s": round(rate * F)})
    print(f"toy world render speed, 1 thread ({platform.processor() or platform.machine()}, torch {torch.__version__})\n")
    print("| size | domains | clips/s | ms/clip | frames/s |")
    print("|---|---|---:|---:|---:|")
    for r in rows:
        print(f"| {r['size']} | {r['domains']} | {r['clips_per_s']:.0f} | {r['ms_per_clip']:.2f} | {r['frames_per_s']} |")
    if a.json:
        os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
        with open(a.json, "w") as f: json.dump(rows, f, indent=1)
    return rows


if __name__ == "__main__":
    main()
