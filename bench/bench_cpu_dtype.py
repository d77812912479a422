#!/usr/bin/env python
"""float32 against bfloat16 on this CPU: a matrix product and a 3x3 convolution of the sizes the mini model runs,
the reason for `moviefactory.core.compute_dtype`'s rule (bfloat16 on a CPU only where it is native).

    python bench/bench_cpu_dtype.py                                           # as torch and oneDNN find the CPU
    ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 python bench/bench_cpu_dtype.py   # as on an AVX2-only CPU
"""
import argparse, os, platform, statistics, time
import torch
import torch.nn.functional as F


def ms(fn, reps):
    fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter(); fn(); times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", type=int, default=1); p.add_argument("--reps", type=int, default=5)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor()) \
        if os.path.exists("/proc/cpuinfo") else platform.processor()
    print(f"CPU: {cpu}; torch {torch.__version__}, capability {torch.backends.cpu.get_cpu_capability()}, "
          f"ONEDNN_MAX_CPU_ISA={os.environ.get('ONEDNN_MAX_CPU_ISA', '(unset)')}, {a.threads} thread(s), median of {a.reps}\n")
    print("| op | float32 ms | bfloat16 ms | bf16 / fp32 |\n|---|---:|---:|---:|")
    g = torch.Generator().manual_seed(0)
    for name, shapes, op in (("matmul 1024x1024 @ 1024x1024", ((1024, 1024), (1024, 1024)), lambda x, w: x @ w),
                             ("conv2d 3x3, 2x128x40x96 -> 128", ((2, 128, 40, 96), (128, 128, 3, 3)), lambda x, w: F.conv2d(x, w, padding=1))):
        x, w = (torch.randn(s, generator=g) for s in shapes)
        t32 = ms(lambda: op(x, w), a.reps)
        xb, wb = x.bfloat16(), w.bfloat16()
        t16 = ms(lambda: op(xb, wb), a.reps)
        print(f"| {name} | {t32:.1f} | {t16:.1f} | {t16 / t32:.2f}x |")


if __name__ == "__main__": main()
