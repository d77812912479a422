#!/usr/bin/env python
"""Where a CPU movie's time goes, part by part: the work (GFLOP, counted by torch's FlopCounterMode, exact) and the
CPU-seconds of one U-Net step (16 frames, guided adapters), one VAE decode of 16 frames and Real-ESRGAN on 8 frames,
in the precision `compute_dtype` picks (or --dtype). CPU-seconds rather than wall seconds: with OMP_WAIT_POLICY=PASSIVE
(set here) idle threads sleep instead of spinning, so the figure stays readable on a shared machine; on quiet cores
wall time is about CPU-seconds / threads. Prints a markdown table (min of --repeats).

    python bench/bench_cpu_parts.py
    ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 python bench/bench_cpu_parts.py     # as on an AVX2-only CPU
"""
import os
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import argparse, platform, sys, time
from pathlib import Path
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path: sys.path.insert(0, str(ROOT))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=3); p.add_argument("--dtype", default="auto"); p.add_argument("--out")
    a = p.parse_args(argv)
    import torch
    from torch.utils.flop_counter import FlopCounterMode
    from moviefactory.core import compute_dtype, precision_note
    from moviefactory.make import load_video_model
    from moviefactory.upscale import load_realesrgan
    dt = compute_dtype(a.dtype, "cpu")
    pipe = load_video_model(guided=True, device="cpu"); u = pipe.unet
    sr = load_realesrgan(device="cpu", dtype=str(dt).removeprefix("torch."))
    t, s = torch.tensor(500), pipe.encode_prompt(["a red car moves right on a road"])
    x, z = torch.randn(1, 4, 16, 20, 48), torch.randn(1, 4, 16, 20, 48)
    img = torch.rand(8, 3, 80, 192).to(sr.dtype).contiguous(memory_format=torch.channels_last)
    ac = lambda: torch.autocast("cpu", dtype=torch.bfloat16, enabled=dt == torch.bfloat16)
    parts = {"U-Net step, 16 frames": lambda: u(x, t, s, domain=["hd"]),
             "VAE decode, 16 frames": lambda: pipe.decode_latents(z),
             "Real-ESRGAN x4, 8 frames": lambda: sr(img)}
    rows = []
    with torch.inference_mode():
        for name, f in parts.items():
            with ac(), FlopCounterMode(display=False) as m: f()
            secs = []
            for _ in range(a.repeats):
                c = time.process_time()
                with ac(): f()
                secs.append(time.process_time() - c)
            rows.append((name, m.get_total_flops() / 1e9, min(secs)))
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
    env = "".join(f", {k}={os.environ[k]}" for k in ("ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA") if k in os.environ)
    lines = [f"# The parts of a CPU movie: {cpu}, torch CPU capability {torch.backends.cpu.get_cpu_capability()}{env}, "
             f"{torch.get_num_threads()} threads; {precision_note(dt, 'cpu')}", "",
             "| part | GFLOP | CPU-seconds (min of %d) | GFLOP per CPU-second | per movie (10 scenes) |" % a.repeats, "|---|---:|---:|---:|---|"]
    from moviefactory.mini import MINI_GUIDED_STEPS          # the default: guided steps, one pass each
    per_movie = {"U-Net step, 16 frames": 10 * MINI_GUIDED_STEPS, "VAE decode, 16 frames": 10, "Real-ESRGAN x4, 8 frames": 20}
    for name, gf, sec in rows:
        n = per_movie[name]
        lines.append(f"| {name} | {gf:.1f} | {sec:.2f} | {gf / sec:.0f} | x{n}: {gf * n / 1000:.2f} TFLOP, {sec * n:.0f} CPU-s |")
    table = "\n".join(lines); print(table)
    if a.out: Path(a.out).write_text(table + "\n")


if __name__ == "__main__": main()
