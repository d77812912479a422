#!/usr/bin/env python
"""Where a *compiled* MovieUNet step spends its GPU time, by kernel (what keeps it under 50% of the matmul ceiling).
bench/profile_unet.py splits an eager step by layer; under torch.compile layers fuse, so this script reads the
kernels instead: torch.profiler over a few compiled steps at the paper's size (SD2-base config, random weights, CFG
batch 2, 16 frames of 768x320, bf16), kernel times summed by name and by kind (GEMMs, cuDNN convolutions, attention
kernels, Triton fusions, copies).

    python bench/profile_kernels.py                  # GPU, paper size
    python bench/profile_kernels.py --model modelscope   # diffusers' UNet3DConditionModel on the same input, to compare
    python bench/profile_kernels.py --bytes          # and each Triton kernel's GB/s (bytes as Inductor counts them)
    python bench/profile_kernels.py --tiny           # CPU check of the script

--bytes adds each Triton kernel's bytes (Inductor's own count, kernel_num_gb) to its profiled time and lists the kernels
by the time they lose against the device's measured copy bandwidth (a 1 GiB clone): where a memory-bound kernel is far
from what the memory allows, and by how much per step. (Inductor's profile_bandwidth mode, which benchmarks every kernel
alone, did not finish a paper-size step in 10 minutes on an H100.)
"""
from __future__ import annotations
import argparse, time
from collections import defaultdict
from pathlib import Path

from _common import MODELSCOPE_UNET_CONFIG, TINY_MODELSCOPE_CONFIG, build_movie_unet, device_name, kernel_times
import torch
from torch.profiler import ProfilerActivity, profile

KINDS = [("attention", ("flash", "fmha", "attention", "attn")), ("convolution", ("conv", "fprop", "dgrad", "implicit", "cudnn")),
         ("GEMM", ("gemm", "nvjet", "cutlass", "xmma", "sm90", "cublas", "ampere", "hopper")),
         ("copy / layout", ("copy", "transpose", "cat", "elementwise"))]


def kind(name: str) -> str:
    n = name.lower()
    if n.startswith("triton"):                     # Inductor's fusions (their names list the ops they fuse)
        return "Triton fusion: norm" if any(s in n for s in ("norm", "var_mean", "red_fused")) else "Triton fusion: other"
    for k, keys in KINDS:
        if any(s in n for s in keys): return k
    return "other"


def copy_gbps(dev) -> float:
    "GB/s of a 1 GiB bf16 clone (read + write), the memory bandwidth a pointwise kernel can reach."
    if dev.type != "cuda": return float("nan")
    x = torch.empty(2 ** 29, device=dev, dtype=torch.bfloat16)
    for _ in range(3): x.clone()
    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    s.record()
    for _ in range(20): x.clone()
    e.record(); e.synchronize()
    return 2 * x.numel() * 2 * 20 / (s.elapsed_time(e) * 1e-3) / 1e9


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tiny", action="store_true", help="tiny config on the CPU (a check of the script)")
    p.add_argument("--model", default="movie", choices=["movie", "modelscope"],
                   help="MovieUNet, or diffusers' UNet3DConditionModel (ModelScope, bench_unet's config) for comparison")
    p.add_argument("--channels-last", action="store_true", help="the 2-D convolutions' weights in channels_last (bench_unet's --channels-last)")
    p.add_argument("--bytes", action="store_true", help="a second table: the Triton kernels by time lost against the copy bandwidth, "
                   "their bytes from Inductor's own count (config.benchmark_kernel) and their times from the profile")
    p.add_argument("--steps", type=int, default=3); p.add_argument("--top", type=int, default=25); p.add_argument("--out")
    a = p.parse_args(argv)
    dev = torch.device("cuda" if torch.cuda.is_available() and not a.tiny else "cpu")
    dtype = torch.bfloat16 if dev.type == "cuda" else torch.float32
    if a.model == "modelscope":
        from diffusers import UNet3DConditionModel
        cfg = TINY_MODELSCOPE_CONFIG if a.tiny else MODELSCOPE_UNET_CONFIG
        model = UNet3DConditionModel(**cfg).to(dev, dtype).eval()
    else: model, cfg = build_movie_unet(a.tiny, dev, dtype)
    if a.channels_last:
        from moviefactory.unet import conv_weights_channels_last
        conv_weights_channels_last(model)
    F, H, W = (4, 8, 8) if a.tiny else (16, 40, 96)
    x = torch.randn(2, 4, F, H, W, device=dev, dtype=dtype)
    txt = torch.randn(2, 77, cfg["cross_attention_dim"], device=dev, dtype=dtype)
    t = torch.full((2,), 500, device=dev)
    if a.bytes:
        import torch._inductor.config as ic
        ic.benchmark_kernel = True                   # codegen only: each kernel's meta carries kernel_num_gb
    cm = torch.compile(model)
    kw = {} if a.model == "modelscope" else {"domain": 0}
    t0 = time.time()
    with torch.no_grad():
        for _ in range(3): cm(x, t, txt, **kw)
    compile_s = time.time() - t0
    if dev.type == "cuda": torch.cuda.synchronize()
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if dev.type == "cuda" else [])
    with torch.no_grad(), profile(activities=acts) as prof:
        for _ in range(a.steps): cm(x, t, txt, **kw)
        if dev.type == "cuda": torch.cuda.synchronize()
    by_name, count = kernel_times(prof, a.steps, dev.type)
    total = sum(by_name.values())
    by_kind = defaultdict(float)
    for n, ms in by_name.items(): by_kind[kind(n)] += ms
    name = device_name(dev)
    lines = [f"# Kernels of one compiled {'MovieUNet' if a.model == 'movie' else 'ModelScope (UNet3DConditionModel)'} step: {name}", "",
             f"{'tiny' if a.tiny else 'SD2-base'} config, CFG batch 2, {F} frames of latent {H}x{W}, {str(dtype)[6:]}, torch.compile "
             f"(default mode; compile + 3 warm-up steps {compile_s:.0f} s){', convolution weights channels_last' if a.channels_last else ''}; "
             f"kernel times summed over {a.steps} profiled steps, per step. Kernel time per step: {total:.1f} ms.", "",
             "| kind | ms per step | share |", "|---|---:|---:|"]
    lines += [f"| {k} | {ms:.1f} | {ms / total:.0%} |" for k, ms in sorted(by_kind.items(), key=lambda kv: -kv[1])]
    lines += ["", f"Top {a.top} kernels:", "", "| kernel | kind | calls per step | ms per step | share |", "|---|---|---:|---:|---:|"]
    for n, ms in sorted(by_name.items(), key=lambda kv: -kv[1])[:a.top]:
        lines.append(f"| `{n[:110].replace('|', '/')}` | {kind(n)} | {count[n]} | {ms:.2f} | {ms / total:.1%} |")
    if a.bytes: lines += [""] + bytes_table(by_name, count, dev, a.top)
    text = "\n".join(lines); print(text)
    if a.out: Path(a.out).write_text(text + "\n")


def kernel_gb() -> dict[str, float]:
    "GB per call of every Triton kernel in the compiled modules loaded so far (Inductor's kernel_num_gb)."
    import re
    from torch._inductor.codecache import PyCodeCache
    out = {}
    for mod in list(PyCodeCache.modules):
        try: src = Path(mod.__file__).read_text()
        except (OSError, TypeError, AttributeError): continue
        for m in re.finditer(r"^(triton_\w+) = async_compile\.triton\('\w+', '''(.*?)'''", src, re.S | re.M):
            g = re.search(r"'kernel_num_gb': ([0-9.e-]+)", m[2])
            if g: out[m[1]] = float(g[1])
    return out


def bytes_table(by_name, count, dev, top) -> list[str]:
    "The profiled Triton kernels with their bytes: GB/s, and ms per step over what the copy bandwidth allows."
    gbps, gb = copy_gbps(dev), kernel_gb()
    rows = [(n, count[n], ms, gb[n]) for n, ms in by_name.items() if n in gb and count[n]]
    if not rows: return ["(no Triton kernels with byte counts: --bytes needs a CUDA GPU)"]
    lost = lambda r: r[2] - r[1] * r[3] / gbps * 1e3
    ms_all, gb_all = sum(r[2] for r in rows), sum(r[1] * r[3] for r in rows)
    out = [f"Triton kernels against the copy bandwidth ({gbps:.0f} GB/s, a 1 GiB bf16 clone): {len(rows)} kernels, {ms_all:.1f} ms "
           f"per step moving {gb_all:.1f} GB (Inductor's count), {gb_all / gbps * 1e3:.1f} ms at the copy bandwidth; "
           f"{sum(max(lost(r), 0) for r in rows):.1f} ms lost by the kernels slower than it.", "",
           "| kernel | calls per step | ms per step | GB per call | GB/s | ms over copy bandwidth |", "|---|---:|---:|---:|---:|---:|"]
    for r in sorted(rows, key=lambda r: -lost(r))[:top]:
        out.append(f"| `{r[0][:100]}` | {r[1]} | {r[2]:.3f} | {r[3]:.4f} | {r[1] * r[3] / r[2] * 1e3:.0f} | {lost(r):.3f} |")
    return out


if __name__ == "__main__": main()
