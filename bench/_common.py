"""What the U-Net benchmarks share: the import path, the peer model's config, a MovieUNet to time, and timers.

The U-Net and pipeline benchmarks import this module and nothing imports back: `_common` imports no other bench script,
and the only script that imports another is `ab_unet.py` (it builds `bench_unet.py`'s models). The import graph is a
tree (bench_audio, bench_make, bench_toyworld and bench_upscale import only the package):

    _common <- bench_unet <- ab_unet
    _common <- bench_attention, bench_pipeline, bench_temporal_layers, profile_kernels, profile_unet
"""
from __future__ import annotations

import statistics, sys, time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path: sys.path.insert(0, str(ROOT))          # the package of this checkout, not an installed one

import torch

# diffusers' UNet3DConditionModel as published for ModelScope text-to-video (damo-vilab/text-to-video-ms-1.7b, unet/config.json)
MODELSCOPE_UNET_CONFIG = dict(
    sample_size=32, in_channels=4, out_channels=4, layers_per_block=2,
    block_out_channels=(320, 640, 1280, 1280),
    down_block_types=("CrossAttnDownBlock3D", "CrossAttnDownBlock3D", "CrossAttnDownBlock3D", "DownBlock3D"),
    up_block_types=("UpBlock3D", "CrossAttnUpBlock3D", "CrossAttnUpBlock3D", "CrossAttnUpBlock3D"),
    attention_head_dim=64, cross_attention_dim=1024, act_fn="silu", norm_num_groups=32, norm_eps=1e-5,
    downsample_padding=1, mid_block_scale_factor=1,
)
TINY_MODELSCOPE_CONFIG = dict(
    sample_size=8, block_out_channels=(32, 64, 64), layers_per_block=1, cross_attention_dim=32, attention_head_dim=8,
    norm_num_groups=8, down_block_types=("CrossAttnDownBlock3D", "CrossAttnDownBlock3D", "DownBlock3D"),
    up_block_types=("UpBlock3D", "CrossAttnUpBlock3D", "CrossAttnUpBlock3D"),
)


def build_movie_unet(tiny: bool, dev, dtype, temporal_resblock: str | None = None):
    """A MovieUNet on SD2-base's config (tiny: the test config) with random weights in every layer, the zero-initialised
    ones included, so that each layer does real work; returns (model, base config)."""
    from diffusers import UNet2DConditionModel
    from moviefactory.spatial import SD2_BASE_UNET_CONFIG, TINY_UNET_CONFIG
    from moviefactory.temporal import randomize_zero_init
    from moviefactory.unet import MovieUNet
    cfg = TINY_UNET_CONFIG if tiny else SD2_BASE_UNET_CONFIG
    kw = {"temporal_resblock": temporal_resblock} if temporal_resblock else {}
    m = MovieUNet.from_unet(UNet2DConditionModel.from_config(cfg), domains=["web", "hd"], **kw)
    m.enable_compiled_gpu_paths()        # the compiled-GPU paths (chapter unet_speed), as every timed step had them
    randomize_zero_init(m, std=0.02)
    return m.to(dev, dtype).eval(), cfg


def device_name(dev) -> str:
    return torch.cuda.get_device_name(dev) if dev.type == "cuda" else "CPU"


def sync(dev):
    if dev.type == "cuda": torch.cuda.synchronize(dev)


def step_ms(fn, dev) -> float:
    "Milliseconds of one call of `fn()`; CUDA events on a GPU."
    if dev.type == "cuda":
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record(); fn(); e.record(); e.synchronize()
        return s.elapsed_time(e)
    t0 = time.perf_counter(); fn(); return (time.perf_counter() - t0) * 1e3


def time_steps(fn, dev, warmup, repeats):
    "Median milliseconds of `fn()` over `repeats` calls after `warmup` calls; CUDA events on a GPU."
    for _ in range(warmup): fn()
    sync(dev)
    return statistics.median(step_ms(fn, dev) for _ in range(repeats))


def fresh_peak(dev):
    "Free what can be freed and count the peak memory anew (on a GPU)."
    if dev.type == "cuda":
        import gc
        gc.collect(); torch.cuda.empty_cache(); torch.cuda.reset_peak_memory_stats(dev)


def cuda_graph(fn):
    "`fn` (a step) captured once in a CUDA graph (as torch.compile's reduce-overhead mode does); returns its replay."
    side = torch.cuda.Stream(); side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(2): fn()
    torch.cuda.current_stream().wait_stream(side)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g): fn()
    return g.replay


def matmul_rates(dev, dtype, tiny) -> dict[str, float]:
    """Measured TFLOP/s of large square matmuls, three ways: a burst (8192, 3 warm-up and 50 timed products, ~70 ms
    of work on an H100) and sustained (8192 and 16384, half a second of the same work before half a second timed). On a
    power-capped card the sustained rate is the lower one; the ceiling the U-Nets are compared with is the best."""
    out = {}
    for label, n, warm_s, flop in ((("burst", 1024, 0.0, 0),) if tiny else
                                   (("burst 8192", 8192, 0.0, 0), ("sustained 8192", 8192, 0.5, 4e14),
                                    ("sustained 16384", 16384, 0.5, 4e14))):
        a, b = torch.randn(n, n, device=dev, dtype=dtype), torch.randn(n, n, device=dev, dtype=dtype)
        reps = 3 if tiny else max(50, int(flop / (2 * n ** 3)))
        for _ in range(3): a @ b
        sync(dev)
        t_end = time.perf_counter() + warm_s
        while time.perf_counter() < t_end: a @ b; sync(dev)
        if dev.type == "cuda":
            s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            s.record()
            for _ in range(reps): a @ b
            e.record(); e.synchronize(); ms = s.elapsed_time(e) / reps
        else:
            t0 = time.perf_counter()
            for _ in range(reps): a @ b
            ms = (time.perf_counter() - t0) * 1e3 / reps
        out[label] = 2 * n ** 3 / (ms * 1e-3) / 1e12
        del a, b
    return out


def count_flops(fn) -> int:
    "FLOPs of one call of `fn()`, as torch.utils.flop_counter counts them."
    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(display=False) as fc: fn()
    return fc.get_total_flops()


def kernel_times(prof, steps: int, device_type: str = "cuda"):
    "Per-step milliseconds and calls of every kernel (CPU op on a CPU) a `torch.profiler` run of `steps` steps recorded."
    by_name, count = defaultdict(float), defaultdict(int)
    for e in prof.key_averages():
        if device_type == "cuda" and e.device_type != torch.autograd.DeviceType.CUDA: continue
        us = getattr(e, "self_device_time_total", None) or getattr(e, "self_cuda_time_total", 0) if device_type == "cuda" else e.self_cpu_time_total
        if not us: continue
        by_name[e.key] += us / 1e3 / steps; count[e.key] += e.count // steps
    return by_name, count
