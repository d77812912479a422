#!/usr/bin/env python
"""Per-denoising-step cost of MovieFactory's video U-Net against diffusers' video U-Nets.

At the paper's size: SD2-base config (random weights), 16 frames of 768x320 (latent 4x16x40x96), classifier-free
guidance batch 2, bf16, eager and `torch.compile`. Models, all on the same input:

  movie         MovieUNet, video mode (spatial adapters + temporal layers): what MovieFactory samples with
  modelscope    diffusers UNet3DConditionModel with the ModelScope text-to-video config
  animatediff   diffusers UNetMotionModel.from_unet2d(SD2 U-Net, MotionAdapter())
  movie-images  MovieUNet, frames as images (stage 1: adapters, no temporal layers)
  sd2-images    the bare SD2 U-Net on the 16 frames as 32 images (the base's cost)

MovieUNet's temporal ResBlocks are the package's default, Video LDM's (`VideoLDMResBlock`: two GroupNorm-SiLU-frame-
convolution layers, the paper's); `--temporal-resblock modelscope` builds ModelScope's four-convolution
`TemporalConvLayer` instead (`FrameConvLayer`, moviefactory-mini's).

Reported per model and mode: ms/step (median over repeats, CUDA events, after warm-up), TFLOP/step
(torch.utils.flop_counter.FlopCounterMode, one eager step), TFLOP/s, % of the measured bf16 matmul ceiling, peak
memory (torch.cuda.max_memory_allocated, weights included), compile time. A model that fails (build, OOM, compile
error) gets its error in the table and the run goes on. The markdown table is printed last and written to --out.

    python bench/bench_unet.py                     # GPU, paper size, eager + compiled (~5 min on one H100)
    python bench/bench_unet.py --no-compile        # eager only
    python bench/bench_unet.py --models movie,modelscope
    python bench/bench_unet.py --tiny --no-compile # CPU check of the script itself, tiny configs (< 60 s)

The variants that were tried on the model and dropped (fused projections, other frame convolutions, Triton GEGLU and
frame-convolution kernels, two-stage GroupNorms, chunked feed-forwards, Inductor's tiled reductions) are gone from this
script; bench/README.md says which commit still has them and which result files they wrote.
"""
from __future__ import annotations

import argparse, gc, platform, re, sys, time, traceback
from pathlib import Path

from _common import (ROOT, MODELSCOPE_UNET_CONFIG, TINY_MODELSCOPE_CONFIG, count_flops, cuda_graph, fresh_peak,
                     matmul_rates, sync, time_steps)
import torch

MODELS = ("movie", "modelscope", "animatediff", "movie-images", "sd2-images")

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
    p.add_argument("--temporal-resblock", default="videoldm", choices=["videoldm", "modelscope"],
                   help="MovieUNet variants: the temporal ResBlocks as Video LDM's (2 frame convolutions, the package's "
                        "default) or ModelScope's TemporalConvLayer (4)")
    p.add_argument("--compiled-only", action="store_true", help="time compiled runs only (the FLOPs are still counted eagerly)")
    p.add_argument("--coordinate-descent", action="store_true",
                   help="Inductor's coordinate-descent tuning of its Triton kernels (every model; longer compiles)")
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
    bad = [m for m in a.models if m not in MODELS]
    if bad: p.error(f"unknown model(s) {', '.join(bad)}: use {', '.join(MODELS)}")
    return a


def compile_model(model, a):
    "torch.compile of `model` in --compile-mode."
    return torch.compile(model, mode=a.compile_mode)


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
        if name in ("movie", "movie-images"):
            model = MovieUNet.from_unet(UNet2DConditionModel.from_config(sd_cfg), domains=["webvid", "hdvg"],
                                        temporal_resblock=a.temporal_resblock)
            model.enable_compiled_gpu_paths()     # the compiled-GPU paths (chapter unet_speed), as every timed step had them
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
              f"{'; SDPA without its cuDNN backend' if a.no_cudnn_sdpa else ''}{'; channels_last' if a.channels_last else ''}{'; Inductor coordinate-descent tuning' if a.coordinate_descent else ''}{'; MovieUNet temporal ResBlocks: ModelScope (4 frame convolutions)' if a.temporal_resblock == 'modelscope' else ''}; {a.warmup} warm-up, median of {a.repeats} steps.",
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
