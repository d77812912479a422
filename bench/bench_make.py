#!/usr/bin/env python
"""The whole main job, timed: `make_movie` with its defaults (10 scenes, moviefactory-mini, upscale auto, sound).

Runs in a fresh cache folder (nothing reused; `--fresh-home` also rebuilds the default sound library, as a first run
after install does), prints the CPU model, torch's CPU capability, the precision and upscaler the job chose, and the
seconds per stage and per scene as a markdown table; checks the movie with PyAV (streams, duration, decoded frames)
and writes the table to --out. Target on 2 CPU cores: <= 60 s with native bfloat16, <= 90 s on AVX2-only cores.
To run the AVX2 path on a CPU that has AVX-512 or AMX: `ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2`.

    python bench/bench_make.py                         # defaults, on whatever device `auto` picks
    python bench/bench_make.py --steps 6 --sampler dpm --guidance-cutoff 0.5 --out /tmp/fast.md
"""
from __future__ import annotations
import argparse, os, platform, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path: sys.path.insert(0, str(ROOT))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--idea", default="a race between a car and an airplane")
    p.add_argument("--scenes", type=int, default=10); p.add_argument("--steps", type=int, default=None)
    p.add_argument("--sampler", default=None, help="ddim, dpm or euler (default: make's for the mini model, dpm)")
    p.add_argument("--guidance-cutoff", type=float, default=1.0, help="fraction of the steps with guidance (default 1)")
    p.add_argument("--deep-cache", type=int, default=1, help="DeepCache interval (default 1: off)")
    p.add_argument("--frames", type=int, default=16); p.add_argument("--upscale", default="auto")
    p.add_argument("--dtype", default=None, help="auto, float32 or bfloat16 (default: the job's own choice)")
    p.add_argument("--fresh-home", action="store_true", help="a new empty cache home, so the default sound library is built too")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's own choice)")
    p.add_argument("--out", default=None)
    a = p.parse_args(argv)
    os.environ.setdefault("MOVIEFACTORY_PROGRESS", "0")
    t_import = time.perf_counter()
    import torch
    if a.threads: torch.set_num_threads(a.threads)
    from moviefactory.make import make_movie
    from moviefactory.media import probe
    from moviefactory.mini import GUIDED_FILE, mini_dir, MINI_GUIDANCE_SCALE, MINI_GUIDED_STEPS, MINI_SAMPLER, MINI_STEPS
    from moviefactory.upscale import resolve_upscale
    t_import = time.perf_counter() - t_import
    with tempfile.TemporaryDirectory() as d:
        if a.fresh_home: os.environ["XDG_CACHE_HOME"] = str(Path(d) / "home-cache")
        movie = make_movie(a.idea, Path(d) / "movie.mp4", scenes=a.scenes, steps=a.steps, frames=a.frames,
                           sampler=a.sampler, guidance_cutoff=a.guidance_cutoff, deep_cache=a.deep_cache,
                           upscale=a.upscale, dtype=a.dtype, llm="template", cache_dir=Path(d) / "cache")
        info = probe(movie.path, count_frames=True)
    v, au = info["video"], info["audio"]
    ok = v["codec"] == "h264" and au is not None and au["codec"] == "aac" and v["decoded"] > 0
    model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor() or platform.machine()) if Path("/proc/cpuinfo").is_file() else platform.processor()
    cpu = (f"{os.cpu_count()} CPU cores ({model}; torch CPU capability {torch.backends.cpu.get_cpu_capability()}), torch {torch.__version__}, "
           f"{torch.get_num_threads()} threads")
    guided = (mini_dir() / GUIDED_FILE).is_file()
    steps, sampler = (a.steps if a.steps is not None else MINI_GUIDED_STEPS if guided else MINI_STEPS), (a.sampler or MINI_SAMPLER)
    lines = [f"# The main job: {a.scenes} scenes on {cpu}", "",
             f"`make_movie({a.idea!r})`, template script writer, moviefactory-mini, {a.frames} frames per scene at 80x192, "
             f"{steps} {sampler.upper()} steps, " + ("its guidance-distilled adapters (guidance in one pass)" if (mini_dir() / GUIDED_FILE).is_file()
             else f"guidance {MINI_GUIDANCE_SCALE:g} on {a.guidance_cutoff:.0%} of them") + f"{f', DeepCache every {a.deep_cache} steps' if a.deep_cache > 1 else ''}, upscale {resolve_upscale(a.upscale)} ({a.upscale}), default sound library; fresh cache" + (" and a fresh sound library" if a.fresh_home else "") + ".", "",
             f"Precision: {movie.precision}" + "".join(f", {k}={os.environ[k]}" for k in ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA") if k in os.environ) + ".", "",
             "| stage | seconds | per scene |", "|---|---|---|"]
    for k, s in movie.timings.items():
        lines.append(f"| {k} | {s:.1f} | {s / a.scenes:.2f} |")
    lines.append(f"| (imports before the job) | {t_import:.1f} | |")
    lines += ["", f"Movie: {v['width']}x{v['height']} {v['codec']} + {au['codec'] if au else 'no audio'}, "
              f"{info['duration']:.2f} s, {v['decoded']} frames decoded, faststart {info['faststart']}; check {'passed' if ok else 'FAILED'}."]
    table = "\n".join(lines)
    print(table)
    if a.out: Path(a.out).parent.mkdir(parents=True, exist_ok=True); Path(a.out).write_text(table + "\n")
    return 0 if ok else 1


if __name__ == "__main__": sys.exit(main())
