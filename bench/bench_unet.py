#!/usr/bin/env python
"""Per-denoising-step cost of MovieFactory's video U-Net against diffusers' video U-Nets.

At the paper's size: SD2-base config (random weights), 16 frames of 768x320 (latent 4x16x40x96), classifier-free
guidance batch 2, bf16, eager and `torch.compile`. Models, all on the same input:

  movie         MovieUNet, video mode (spatial adapters + temporal layers): what MovieFactory samples with
  modelscope    diffusers UNet3DConditionModel with the ModelScope text-to-video config
  animatediff   diffusers UNetMotionModel.from_unet2d(SD2 U-Net, MotionAdapter())
  movie-images  MovieUNet, frames as images (stage 1: adapters, no temporal layers)
  sd2-images    the bare SD2 U-Net on the 16 frames as 32 images (the base's cost)
  movie-fused   (asked for by name) movie with each self-attention's q, k, v and each cross-attention's k, v
                projections fused into one matmul (diffusers' Attention.fuse_projections + FusedAttnProcessor2_0)
  movie-mm      (asked for by name) movie with each temporal ResBlock run as bench/bench_temporal_layers.py's
                --frame-conv variant (matmul: what the package's FrameConvLayer does under torch.compile, eager too;
                matmul3, conv2d, im2col: variants tried and dropped)
  movie-sdpa    (asked for by name) movie with each temporal self-attention through diffusers' SDPA processor, as before
                the package's FrameAttnProcessor (FlexAttention with 16x16 tiles under torch.compile)

MovieUNet's temporal ResBlocks are the package's default, Video LDM's (`VideoLDMResBlock`: two GroupNorm-SiLU-frame-
convolution layers, the paper's); `--temporal-resblock modelscope` builds ModelScope's four-convolution
`TemporalConvLayer` instead (`FrameConvLayer`, moviefactory-mini's and the package's default before 2026-12-06).
movie-mm always has ModelScope's: its variants replace that layer's forward.

Reported per model and mode: ms/step (median over repeats, CUDA events, after warm-up), TFLOP/step
(torch.utils.flop_counter.FlopCounterMode, one eager step), TFLOP/s, % of the measured bf16 matmul ceiling, peak
memory (torch.cuda.max_memory_allocated, weights included), compile time. A model that fails (build, OOM, compile
error) gets its error in the table and the run goes on. The markdown table is printed last and written to --out.

    python bench/bench_unet.py                     # GPU, paper size, eager + compiled (~5 min on one H100)
    python bench/bench_unet.py --no-compile        # eager only
    python bench/bench_unet.py --models movie,modelscope
    python bench/bench_unet.py --tiny --no-compile # CPU check of the script itself, tiny configs (< 60 s)
"""
from __future__ import annotations

import argparse, gc, json, math, platform, re, statistics, sys, time, traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for _p in (ROOT, ROOT / "bench"):                 # the package, and the other bench scripts this one borrows from
    if str(_p) not in sys.path: sys.path.insert(0, str(_p))

import torch

MODELS = ("movie", "modelscope", "animatediff", "movie-images", "sd2-images")
EXTRA_MODELS = ("movie-fused", "movie-mm", "movie-sdpa")   # not run by default: experiments on MovieUNet (fused QKV; other frame convolutions)

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
TINY_MOTION_ADAPTER = dict(block_out_channels=(32, 64, 64), motion_layers_per_block=1, motion_norm_num_groups=8,
                           motion_num_attention_heads=2)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tiny", action="store_true", help="tiny configs, 4 frames of 64x64: checks the script on a CPU")
    p.add_argument("--no-compile", action="store_true", help="eager only")
    p.add_argument("--models", default=",".join(MODELS), help=f"comma-separated subset of {','.join(MODELS)}")
    p.add_argument("--out", default=None, help="markdown file for the table (default bench/results/unet_<device>.md)")
    p.add_argument("--frames", type=int, default=None, help="frames per clip (default 16, tiny 4)")
    p.add_argument("--height", type=int, default=None, help="pixel height (default 320, tiny 64)")
    p.add_argument("--width", type=int, default=None, help="pixel width (default 768, tiny 64)")
    p.add_argument("--batch", type=int, default=2, help="batch (2 = one clip with classifier-free guidance)")
    p.add_argument("--dtype", default=None, choices=["bf16", "fp16", "fp32"], help="default bf16 on GPU, fp32 on CPU")
    p.add_argument("--warmup", type=int, default=None, help="warm-up steps per model and mode (default 3 GPU, 1 CPU)")
    p.add_argument("--repeats", type=int, default=None, help="timed steps per model and mode (default 10 GPU, 3 CPU)")
    p.add_argument("--compile-mode", default="default", help="torch.compile mode (default, max-autotune-no-cudagraphs, ...)")
    p.add_argument("--frame-conv", default="matmul", choices=["matmul", "matmul3", "conv2d", "im2col", "tokens", "triton", "tma"],
                   help="movie-mm's way to run the temporal ResBlocks' frame convolutions (bench_temporal_layers' variants)")
    p.add_argument("--geglu", default="diffusers", choices=["diffusers", "triton", "tma"],
                   help="MovieUNet variants: triton / tma run every GEGLU as bench/triton_geglu.py's blocked / persistent TMA kernel (GPU)")
    add_model_fix_args(p)
    p.add_argument("--temporal-resblock", default="videoldm", choices=["videoldm", "modelscope"],
                   help="MovieUNet variants: the temporal ResBlocks as Video LDM's (2 frame convolutions, the package's "
                        "default) or ModelScope's TemporalConvLayer (4; movie-mm always)")
    p.add_argument("--ff-chunk-tokens", type=int, default=0,
                   help="MovieUNet variants: run each feed-forward on slices of about this many tokens (0: whole)")
    p.add_argument("--compiled-only", action="store_true", help="time compiled runs only (the FLOPs are still counted eagerly)")
    p.add_argument("--coordinate-descent", action="store_true",
                   help="Inductor's coordinate-descent tuning of its Triton kernels (every model; longer compiles)")
    p.add_argument("--tile-reductions", action="store_true",
                   help="compile with Inductor's triton.tile_reductions and prefer_nd_tiling: reductions tiled in two dimensions, "
                        "for the GroupNorm statistics that read channels-last data along a stride (kernels_h100_bytes.md). On an H100 on "
                        "2026-12-06 its compile of the paper-size MovieUNet had not finished after 350 s (the default one takes 105-120 s)")
    p.add_argument("--cuda-graph", action="store_true",
                   help="also time each compiled step replayed from a CUDA graph (mode 'compiled+graph': no launch gaps)")
    p.add_argument("--channels-last", action="store_true", help="2-D convolutions and latents in channels_last")
    p.add_argument("--no-cudnn-sdpa", action="store_true",
                   help="keep SDPA off its cuDNN backend (torch picks it first on Hopper): flash / memory-efficient kernels instead")
    p.add_argument("--budget-s", type=float, default=240.0,
                   help="no new compile is started after this many seconds of the run (keeps the run near 6 min)")
    p.add_argument("--device", default=None, help="cuda or cpu (default: cuda if available)")
    a = p.parse_args(argv)
    a.models = [m.strip() for m in a.models.split(",") if m.strip()]
    bad = [m for m in a.models if m not in MODELS + EXTRA_MODELS]
    if bad: p.error(f"unknown model(s) {', '.join(bad)}: use {', '.join(MODELS)}")
    return a


def inductor_patches(a) -> dict:
    "The Inductor config a variant compiles under (torch._inductor.config's keys)."
    return {"triton.tile_reductions": True, "triton.prefer_nd_tiling": True} if a.tile_reductions else {}


def compile_model(model, a):
    """torch.compile of `model` in --compile-mode, with the variant's Inductor options: passed as torch.compile's
    options, they make a backend of its own, so Dynamo compiles this variant anew instead of reusing the graphs of
    another variant of the same code compiled earlier in the process (ab_unet)."""
    patches = inductor_patches(a)
    if not patches: return torch.compile(model, mode=a.compile_mode)
    from torch._inductor import list_mode_options
    return torch.compile(model, options={**list_mode_options(a.compile_mode), **patches})


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


def time_variants(variants, ref, label, dev, reps, rows):
    """Time each `(name, fn, compiled)` of `variants` (median ms: a fresh static compile, or eager) and its max abs
    difference to `ref`; append `(label, name, ms, err)` to `rows`. An error is printed and becomes a NaN row."""
    for name, fn, compiled in variants:
        try:
            err = (fn().float() - ref).abs().max().item()
            torch._dynamo.reset()                                  # a fresh, static compile per shape
            ms = time_steps(torch.compile(fn, dynamic=False) if compiled else fn, dev, 3, reps)
        except Exception as ex:                                    # report it in the table and go on
            print(f"{name} on {label}: {type(ex).__name__}: {str(ex)[:300]}", flush=True); ms = err = float("nan")
        rows.append((label, name, ms, err)); print(rows[-1], flush=True)


def print_variants(rows, input_col, variant_col):
    "The markdown table of `time_variants` rows."
    print(f"\n| {input_col} | {variant_col} | ms (median; compiled unless marked) | max abs diff to diffusers |\n|---|---|---:|---:|")
    for r in rows: print(f"| {r[0]} | {r[1]} | {r[2]:.3f} | {r[3]:.3g} |")


def check_close(outs, ref, rtol, label):
    "Print each output's max abs difference to `ref` (`outs`: name -> tensor) and assert it is under `rtol` x max(1, |ref|)."
    for name, out in outs.items():
        err = (out - ref).abs().max().item()
        print(f"{label}: max |{name} - diffusers| = {err:.2e}")
        assert err < rtol * max(1.0, ref.abs().max().item()), (name, err)


def fresh_peak(dev):
    "Free what can be freed and count the peak memory anew (on a GPU)."
    if dev.type == "cuda": gc.collect(); torch.cuda.empty_cache(); torch.cuda.reset_peak_memory_stats(dev)


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
    """Measured TFLOP/s of large square bf16 matmuls, three ways: a burst (8192, 3 warm-up and 50 timed products, ~70 ms
    of work) and sustained (8192 and 16384, half a second of the same work before half a second timed). On a
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


def count_flops(fn):
    from torch.utils.flop_counter import FlopCounterMode
    with FlopCounterMode(display=False) as fc: fn()
    return fc.get_total_flops()


def fuse_qkv(model) -> int:
    "Fuse the projections of every Attention run by diffusers' AttnProcessor2_0 (the temporal text attentions keep theirs)."
    from diffusers.models.attention_processor import Attention, AttnProcessor2_0, FusedAttnProcessor2_0
    n = 0
    for m in model.modules():
        if isinstance(m, Attention) and type(m.processor) is AttnProcessor2_0:
            m.fuse_projections(fuse=True); m.set_processor(FusedAttnProcessor2_0()); n += 1
    return n


def frame_convs_as_matmul(model, variant: str = "matmul") -> int:
    "Run every temporal ResBlock of `model` through a bench_temporal_layers variant (matmul, matmul3, conv2d, im2col, triton, tma); returns how many."
    import types
    from diffusers.models.resnet import TemporalConvLayer
    from bench_temporal_layers import temporal_conv_forward
    layers = [m for m in model.modules() if isinstance(m, TemporalConvLayer)]
    for m in layers: m.forward = types.MethodType(lambda self, h, num_frames=1: temporal_conv_forward(self, h, num_frames, variant), m)
    return len(layers)


def frame_attention_as_sdpa(model) -> int:
    "Run the temporal self-attentions of `model` through diffusers' SDPA processor (before FrameAttnProcessor); returns how many layers."
    from bench_temporal_layers import sdpa_frame_attention
    from diffusers.models.transformers.transformer_temporal import TransformerTemporalModel
    layers = [m for m in model.modules() if isinstance(m, TransformerTemporalModel)]
    for m in layers: sdpa_frame_attention(m)
    return len(layers)


def geglu_as_triton(model, tma: bool = False) -> int:
    "Run every diffusers GEGLU of `model` through bench/triton_geglu.py's one-kernel GEGLU (`tma`: the persistent one) under torch.compile; returns how many."
    import types
    from diffusers.models.activations import GEGLU
    from triton_geglu import geglu, geglu_tma
    kernel = geglu_tma if tma else geglu
    layers = [m for m in model.modules() if isinstance(m, GEGLU)]
    def forward(self, x, *args, **kwargs):             # eager (the FLOP count): diffusers' own, the same arithmetic
        return kernel(x, self.proj) if torch.compiler.is_compiling() else GEGLU.forward(self, x, *args, **kwargs)
    for m in layers: m.forward = types.MethodType(forward, m)
    return len(layers)


def two_stage_group_norm(norm: torch.nn.GroupNorm, x: torch.Tensor) -> torch.Tensor:
    """`norm(x)` for `x` (B, C, ...) whose memory is channels-last (channels innermost), with the statistics in two
    reductions that follow that layout: over each pixel's channels of a group (contiguous), then over the pixels;
    Inductor's own GroupNorm reduces along an axis C elements apart. Variance as E[x^2] - E[x]^2 in fp32: fine for
    these activations, not a general GroupNorm."""
    b, c, g, rest = x.shape[0], x.shape[1], norm.num_groups, x.shape[2:]
    xf = x.float()
    xl = xf.movedim(1, -1).reshape(b, -1, g, c // g)                   # (B, pixels, G, C/G): a view of channels-last data
    n = xl.shape[1] * xl.shape[3]
    mean = xl.sum(-1).sum(1) / n                                      # (B, G), each sum a separate reduction
    var = ((xl * xl).sum(-1).sum(1) / n - mean * mean).clamp_min(0)
    ones = (1,) * len(rest)
    xg = xf.reshape(b, g, c // g, *rest)
    y = ((xg - mean.view(b, g, 1, *ones)) * torch.rsqrt(var + norm.eps).view(b, g, 1, *ones)).reshape(x.shape)
    return (y * norm.weight.view(1, c, *ones) + norm.bias.view(1, c, *ones)).to(x.dtype)


def temporal_norms_two_stage(model) -> int:
    """Compiled on a GPU, compute the GroupNorm statistics of every temporal layer (each temporal attention's norm,
    each Video LDM ResBlock's norm1 and norm2) with `two_stage_group_norm` instead of Inductor's one reduction along an
    axis 320 elements apart at the first level (bench/results/kernels_h100_bytes.md: 5.3 ms of such statistics lose
    time against the copy bandwidth); returns how many norms."""
    import types
    from diffusers.models.transformers.transformer_temporal import TransformerTemporalModel
    from moviefactory.temporal import VideoLDMResBlock
    def forward(self, x):
        if not (x.is_cuda and torch.compiler.is_compiling()): return torch.nn.GroupNorm.forward(self, x)
        return two_stage_group_norm(self, x)
    norms = [m.norm for m in model.modules() if isinstance(m, TransformerTemporalModel)]
    norms += [n for m in model.modules() if isinstance(m, VideoLDMResBlock) for n in (m.norm1, m.norm2)]
    for n in norms: n.forward = types.MethodType(forward, n)
    return len(norms)


# The MovieUNet changes that bench_unet.py and profile_kernels.py both take: flag, what it does (help), the function that
# makes it (on the model), and how a result's header names it.
MODEL_FIXES = [
    ("--two-stage-gn", "the temporal layers' GroupNorm statistics in two layout-following reductions (attentions only, timed: "
     "no change, 0.9986x in bench/results/unet_h100_ab_layout_ms.md; with the Video LDM ResBlocks' too, untimed). Since "
     "2026-12-07 the package's GroupNorms take per-channel sums on a GPU (ChannelSumGroupNorm); this replaces them on those "
     "norms", temporal_norms_two_stage, "temporal GroupNorm statistics in two stages"),
]


def _dest(flag): return flag[2:].replace("-", "_")


def add_model_fix_args(p) -> None:
    "Add the `MODEL_FIXES` flags to the parser `p`."
    for flag, text, _, _ in MODEL_FIXES:
        p.add_argument(flag, action="store_true", help=f"MovieUNet variants: compiled on a GPU, {text}")


def apply_model_fixes(model, a) -> None:
    "Make on `model` the `MODEL_FIXES` that the parsed arguments `a` ask for, in the table's order."
    for flag, _, fix, _ in MODEL_FIXES:
        if getattr(a, _dest(flag)): fix(model)


def model_fix_notes(a) -> list[str]:
    "How a result's header names the `MODEL_FIXES` that `a` asks for."
    return [note for flag, _, _, note in MODEL_FIXES if getattr(a, _dest(flag))]


def chunk_ffs(model, tokens) -> int:
    "Run every transformer block's feed-forward on slices of about `tokens` tokens (bench_temporal_layers' ChunkedFF)."
    from bench_temporal_layers import chunk_feed_forwards
    return chunk_feed_forwards(model, tokens)


def build(name, a, dev, dtype):
    "The model and a zero-argument step function for `name`, on `dev` in `dtype`, with the shared inputs."
    from diffusers import MotionAdapter, UNet2DConditionModel, UNet3DConditionModel, UNetMotionModel
    from moviefactory.spatial import SD2_BASE_UNET_CONFIG, TINY_UNET_CONFIG
    from moviefactory.unet import MovieUNet
    sd_cfg = TINY_UNET_CONFIG if a.tiny else SD2_BASE_UNET_CONFIG
    B, F, h, w = a.batch, a.frames, a.height // 8, a.width // 8
    g = torch.Generator(device="cpu").manual_seed(0)
    x = torch.randn(B, 4, F, h, w, generator=g).to(dev, dtype)
    text = torch.randn(B, 77, sd_cfg["cross_attention_dim"], generator=g).to(dev, dtype)
    t = torch.full((B,), 500, device=dev, dtype=torch.long)
    with torch.device(dev):
        if name in ("movie", "movie-images", "movie-fused", "movie-mm", "movie-sdpa"):
            kind = "modelscope" if name == "movie-mm" else a.temporal_resblock
            model = MovieUNet.from_unet(UNet2DConditionModel.from_config(sd_cfg), domains=["webvid", "hdvg"], temporal_resblock=kind)
            if name == "movie-fused": fuse_qkv(model)
            if name == "movie-sdpa": frame_attention_as_sdpa(model)
            if a.ff_chunk_tokens: chunk_ffs(model, a.ff_chunk_tokens)
            if a.geglu != "diffusers": geglu_as_triton(model, tma=a.geglu == "tma")
            apply_model_fixes(model, a)
            if name == "movie-mm": frame_convs_as_matmul(model, a.frame_conv)
            images = name == "movie-images"
            call = lambda m: m(x, t, text, domain="webvid", frames_as_images=images).sample
        elif name == "sd2-images":
            model = UNet2DConditionModel.from_config(sd_cfg)
            xi, ti, texti = x.transpose(1, 2).reshape(B * F, 4, h, w), t.repeat_interleave(F), text.repeat_interleave(F, 0)
            if a.channels_last: xi = xi.contiguous(memory_format=torch.channels_last)
            call = lambda m: m(xi, ti, texti).sample
        elif name == "modelscope":
            model = UNet3DConditionModel(**(TINY_MODELSCOPE_CONFIG if a.tiny else MODELSCOPE_UNET_CONFIG))
            call = lambda m: m(x, t, text).sample                              # repeats the text over frames itself
        elif name == "animatediff":
            adapter = MotionAdapter(**(TINY_MOTION_ADAPTER if a.tiny else {}))
            model = UNetMotionModel.from_unet2d(UNet2DConditionModel.from_config(sd_cfg), adapter)
            del adapter
            texti = text.repeat_interleave(F, 0)                               # as AnimateDiffPipeline passes it
            call = lambda m: m(x, t, texti).sample
    model = model.to(dev, dtype).eval().requires_grad_(False)
    if a.channels_last:
        from moviefactory.unet import conv_weights_channels_last
        conv_weights_channels_last(model)
    return model, call


def short_error(e: BaseException) -> str:
    msg = (str(e).strip().splitlines() or [""])[0]
    return f"{type(e).__name__}: {msg}"[:160].replace("|", "/")


def run_model(name, a, dev, dtype, t_start, rows):
    params = None
    try:
        model, call = build(name, a, dev, dtype)
        params = sum(p.numel() for p in model.parameters())
    except Exception as e:
        traceback.print_exc()
        rows.append(dict(model=name, mode="build", note=short_error(e))); return
    step = lambda m: call(m)
    flops = None
    modes = ([] if a.compiled_only and not a.no_compile else ["eager"]) + ([] if a.no_compile else ["compiled"])
    if a.cuda_graph and dev.type == "cuda" and not a.no_compile: modes.append("compiled+graph")
    runner = replay = None
    for mode in modes:
        row = dict(model=name, mode=mode, params=params)
        try:
            if mode == "compiled+graph":
                if runner is None:                              # the compiled step was skipped or failed: nothing to replay
                    row["note"] = "skipped: no compiled step"; rows.append(row); continue
                # a replay allocates nothing, so the peak is taken over the capture, where the graph's pool is filled
                fresh_peak(dev)
                with torch.no_grad(): replay = cuda_graph(lambda: step(runner))
            elif mode == "compiled":
                if flops is None:
                    with torch.no_grad(): flops = count_flops(lambda: step(model))
                if time.time() - t_start > a.budget_s:
                    row["note"] = f"skipped: past --budget-s {a.budget_s:.0f} s"; rows.append(row); continue
                torch._dynamo.reset()
                runner = compile_model(model, a)
                t0 = time.time()
                with torch.no_grad(): step(runner); sync(dev)
                row["compile_s"] = time.time() - t0
            else:
                runner = model
                with torch.no_grad():
                    if flops is None: flops = count_flops(lambda: step(model))
            if mode != "compiled+graph": fresh_peak(dev)
            with torch.no_grad():
                row["ms"] = time_steps(replay if mode == "compiled+graph" else lambda: step(runner), dev, a.warmup, a.repeats)
            if dev.type == "cuda": row["peak_gib"] = torch.cuda.max_memory_allocated(dev) / 2 ** 30
            if flops is not None:
                row["tflop"] = flops / 1e12
                row["tflops"] = row["tflop"] / (row["ms"] * 1e-3)
        except Exception as e:
            traceback.print_exc()
            row["note"] = short_error(e)
        rows.append(row)
        print(f"  {name:13} {mode:8} " + (f"{row['ms']:9.1f} ms/step" if "ms" in row else row.get("note", "")), flush=True)
        if mode != "compiled": runner = None        # (compiled+graph captures the compiled step)
        replay = None
    del model, call
    gc.collect()
    if dev.type == "cuda": torch.cuda.empty_cache()


def fmt(v, spec):
    return "" if v is None else format(v, spec)


def table(rows, header_lines):
    cols = ["model", "mode", "params (M)", "ms/step", "TFLOP/step", "TFLOP/s", "% of ceiling", "peak GiB", "compile s", "note"]
    out = header_lines + ["", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in rows:
        out.append("| " + " | ".join([
            r["model"], r["mode"], fmt(r.get("params") and r["params"] / 1e6, ".1f"), fmt(r.get("ms"), ".1f"),
            fmt(r.get("tflop"), ".4g"), fmt(r.get("tflops"), ".4g"), fmt(r.get("pct"), ".1f"),
            fmt(r.get("peak_gib"), ".2f"), fmt(r.get("compile_s"), ".0f"), r.get("note", "")]) + " |")
    return "\n".join(out) + "\n"


def prepare(a):
    "Fill in `a`'s size and timing defaults and set the backend switches it asks for; returns (device, dtype)."
    dev = torch.device(a.device or ("cuda" if torch.cuda.is_available() else "cpu"))
    a.frames = a.frames or (4 if a.tiny else 16)
    a.height, a.width = a.height or (64 if a.tiny else 320), a.width or (64 if a.tiny else 768)
    if a.height % 8 or a.width % 8: sys.exit("height and width must be multiples of 8 (the VAE's factor)")
    a.warmup = a.warmup if a.warmup is not None else (3 if dev.type == "cuda" else 1)
    a.repeats = a.repeats if a.repeats is not None else (10 if dev.type == "cuda" else 3)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}[a.dtype or ("bf16" if dev.type == "cuda" else "fp32")]
    if dev.type == "cpu" and a.tiny: torch.set_num_threads(1)   # tiny models: per-op overhead dominates; one thread is faster
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        if a.no_cudnn_sdpa: torch.backends.cuda.enable_cudnn_sdp(False)
        torch.backends.cudnn.benchmark = True
        if a.coordinate_descent:
            import torch._inductor.config as inductor_config
            inductor_config.coordinate_descent_tuning = True
        torch.set_float32_matmul_precision("high")
    return dev, dtype


def main(argv=None):
    a = parse_args(argv)
    dev, dtype = prepare(a)
    devname = torch.cuda.get_device_name(dev) if dev.type == "cuda" else (platform.processor() or "cpu")
    slug = "cpu" if dev.type == "cpu" else re.sub(r"[^a-z0-9]+", "_", devname.lower()).strip("_")
    out = Path(a.out) if a.out else ROOT / "bench" / "results" / f"unet_{slug}{'_tiny' if a.tiny else ''}.md"

    import diffusers
    t_start = time.time()
    start_rates = matmul_rates(dev, dtype, a.tiny)
    ceiling = max(start_rates.values())
    size = "tiny configs" if a.tiny else "SD2-base config (random weights)"
    header = [f"# U-Net step cost: {devname}", "",
              f"{size}; batch {a.batch} (CFG), {a.frames} frames of {a.width}x{a.height} "
              f"(latent 4x{a.frames}x{a.height // 8}x{a.width // 8}); {str(dtype).replace('torch.', '')}; "
              f"torch {torch.__version__}, diffusers {diffusers.__version__}; compile mode {a.compile_mode}"
              f"{'; SDPA without its cuDNN backend' if a.no_cudnn_sdpa else ''}{'; channels_last' if a.channels_last else ''}{'; Inductor coordinate-descent tuning' if a.coordinate_descent else ''}{f'; movie-mm frame convolutions: {a.frame_conv}' if 'movie-mm' in a.models else ''}{f'; MovieUNet feed-forwards in slices of {a.ff_chunk_tokens} tokens' if a.ff_chunk_tokens else ''}{f'; MovieUNet GEGLUs as one Triton kernel ({a.geglu})' if a.geglu != 'diffusers' else ''}{''.join('; ' + d for d in model_fix_notes(a))}{'; MovieUNet temporal ResBlocks: ModelScope (4 frame convolutions)' if a.temporal_resblock == 'modelscope' else ''}; {a.warmup} warm-up, median of {a.repeats} steps.",
              f"Measured {str(dtype).replace('torch.', '')} matmul ceiling: {ceiling:.4g} TFLOP/s."]
    print("\n".join(header), flush=True)
    rows = []
    for name in a.models:
        run_model(name, a, dev, dtype, t_start, rows)
    end_rates = matmul_rates(dev, dtype, a.tiny)              # the card may run faster warm: take the best of all
    ceiling = max(*start_rates.values(), *end_rates.values())
    rates = lambda d: ", ".join(f"{k} {v:.4g}" for k, v in d.items())
    header[-1] = (f"Measured {str(dtype).replace('torch.', '')} matmul ceiling: {ceiling:.4g} TFLOP/s, the best of the run's "
                  f"start ({rates(start_rates)}) and end ({rates(end_rates)}).")
    for r in rows:
        if "tflops" in r: r["pct"] = 100 * r["tflops"] / ceiling
    md = table(rows, header) + f"\nTotal run {time.time() - t_start:.0f} s.\n"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(md, encoding="utf-8")
    print("\n" + md, flush=True)
    print(f"written to {out}")


if __name__ == "__main__":
    main()
