#!/usr/bin/env python
"""Training steps of the paper's stages 1 and 2 at the paper's size, on one GPU: speed, peak memory, largest batch.

The model is a MovieUNet over a U-Net built from SD2-base's config (`spatial.SD2_BASE_UNET_CONFIG`, random weights: no
download), domains `web` and `hd`; the text states are random, of OpenCLIP's width (77 x 1024); frames are 768x320, so
latents are 96x40. What one step does, as `train.train_loop` does it: bf16 autocast over fp32 weights (accelerate's
mixed precision), the U-Net's forward and backward on noised latents against a target, gradient clipping, an AdamW step.
Latents and text states are given (a real run encodes them with SD2's VAE and OpenCLIP, or precomputes them: the VAE's
encode of a 16-frame clip is timed apart, last row).

- stage 1 (`set_stage("spatial")`): frames as images, each sample one frame of its own domain (web and hd alternate);
  only the spatial adapters train.
- stage 2 (`set_stage("temporal")`): clips of 16 frames, domain web; only the temporal layers train.

For each stage and for gradient checkpointing off and on (`MovieUNet.enable_gradient_checkpointing`, diffusers' switch),
the batch doubles from 1 until it runs out of memory (the step is freed and the search goes on with the next setting)
or out of its share of the time budget; every batch that ran gets a row: seconds per step (median of `--steps` after one
warm-up step), samples/s (frames/s for clips), peak memory. The optimiser is torch's fused AdamW (`--optim foreach` for
the default one `train_loop` uses); bitsandbytes' 8-bit AdamW is tried at each stage's largest batch if it imports.
The markdown table is printed and written to `--out` (default `$OUT/train_sd2.md` when `$OUT` is set).

    python tools/dev/bench_train_sd2.py                 # GPU, the paper's size, about 400 s on one H100 (--budget-s)
    python tools/dev/bench_train_sd2.py --tiny          # CPU check of the script: tiny U-Net, 64x160, 4 frames (< 2 min)
"""
from __future__ import annotations

import argparse, gc, os, platform, statistics, sys, time, traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path: sys.path.insert(0, str(ROOT))          # the package of this checkout

import torch
import torch.nn.functional as F


def build(tiny: bool, dev, frozen_bf16: bool):
    "A MovieUNet (domains web, hd) on SD2-base's U-Net config with random weights (tiny: the test config); its text width."
    from diffusers import UNet2DConditionModel
    from moviefactory.spatial import SD2_BASE_UNET_CONFIG, TINY_UNET_CONFIG
    from moviefactory.unet import MovieUNet
    cfg = TINY_UNET_CONFIG if tiny else SD2_BASE_UNET_CONFIG
    with torch.device(dev):                            # built where it runs: no 3.5 GB round trip through the CPU
        unet = UNet2DConditionModel.from_config(cfg)
        m = MovieUNet.from_unet(unet, domains=["web", "hd"], max_frames=32)
    if frozen_bf16: m.unet.to(torch.bfloat16)          # the frozen base in bf16 (the adapters and temporal layers stay fp32)
    return m, cfg["cross_attention_dim"]


def optimizer(params, kind: str, dev):
    if kind == "8bit":
        import bitsandbytes as bnb
        return bnb.optim.AdamW8bit(params, lr=1e-4)
    if kind == "fused": return torch.optim.AdamW(params, lr=1e-4, fused=True)
    return torch.optim.AdamW(params, lr=1e-4, foreach=True)


def gib(x: float) -> str: return "n/a" if x != x else f"{x:.1f}"     # (no peak memory on a CPU)


def sync(dev):
    if dev.type == "cuda": torch.cuda.synchronize(dev)


def free(dev):
    gc.collect()
    if dev.type == "cuda": torch.cuda.empty_cache(); torch.cuda.reset_peak_memory_stats(dev)


def is_oom(e: BaseException) -> bool:
    return isinstance(e, torch.OutOfMemoryError) or "out of memory" in str(e).lower()


def trial(model, stage: str, batch: int, frames: int, lat_hw, text_width: int, ckpt: bool, optim: str, steps: int, dev,
          autocast: bool) -> dict:
    "One setting: a warm-up step and `steps` timed steps of training. Returns seconds per step and peak GiB."
    model.set_stage("spatial" if stage == "1" else "temporal")
    if ckpt: model.enable_gradient_checkpointing()
    else: model.disable_gradient_checkpointing()
    model.train()
    params = model.trainable_parameters()
    opt = optimizer(params, optim, dev)
    K = 1 if stage == "1" else frames
    g = torch.Generator(dev).manual_seed(0)
    z = torch.randn(batch, 4, K, *lat_hw, device=dev, generator=g)
    target = torch.randn(z.shape, device=dev, generator=g)
    states = torch.randn(batch, 77, text_width, device=dev, generator=g)
    t = torch.randint(0, 1000, (batch,), device=dev, generator=g)
    dom = torch.arange(batch, device=dev) % 2 if stage == "1" else torch.zeros(batch, dtype=torch.long, device=dev)

    def step():
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=autocast):
            pred = model(z, t, states, domain=dom, frames_as_images=stage == "1").sample
        loss = F.mse_loss(pred.float(), target)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step(); opt.zero_grad(set_to_none=True)

    try:
        free(dev)
        step(); sync(dev)                                  # warm-up: the optimiser's state, cuDNN's choices
        times = []
        for _ in range(steps):
            t0 = time.perf_counter(); step(); sync(dev); times.append(time.perf_counter() - t0)
        peak = torch.cuda.max_memory_allocated(dev) / 2**30 if dev.type == "cuda" else float("nan")
        return {"s": statistics.median(times), "peak": peak}
    finally:
        for p in params: p.grad = None
        del opt
        free(dev)


def vae_encode_row(tiny: bool, dev, frames: int, hw) -> dict:
    "Seconds to encode one clip with a VAE of SD2's config (random weights), bf16, as a real run's data path does."
    from diffusers import AutoencoderKL
    kw = (dict(block_out_channels=(8, 16, 16, 16), norm_num_groups=8, layers_per_block=1) if tiny else
          dict(block_out_channels=(128, 256, 512, 512), layers_per_block=2))
    with torch.device(dev):
        vae = AutoencoderKL(down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                            latent_channels=4, **kw).to(torch.bfloat16).eval()
    x = torch.randn(frames, 3, *hw, device=dev, dtype=torch.bfloat16)
    with torch.no_grad():
        vae.encode(x); sync(dev); free(dev)
        t0 = time.perf_counter(); vae.encode(x).latent_dist.mean; sync(dev)
    s = time.perf_counter() - t0
    peak = torch.cuda.max_memory_allocated(dev) / 2**30 if dev.type == "cuda" else float("nan")
    del vae; free(dev)
    return {"s": s, "peak": peak}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tiny", action="store_true", help="tiny U-Net, 64x160, 4 frames, on the CPU: checks the script")
    ap.add_argument("--device", default=None, help="default: cuda if there is one, else cpu")
    ap.add_argument("--height", type=int, default=None); ap.add_argument("--width", type=int, default=None)
    ap.add_argument("--frames", type=int, default=None, help="frames per stage-2 clip (default 16; tiny 4)")
    ap.add_argument("--stages", default="1,2")
    ap.add_argument("--checkpointing", default="off,on", help="gradient checkpointing settings to search (off,on)")
    ap.add_argument("--optim", default="fused", choices=("fused", "foreach"))
    ap.add_argument("--frozen-bf16", action="store_true", help="keep the frozen SD2 base in bf16 (train_loop keeps it fp32)")
    ap.add_argument("--steps", type=int, default=3, help="timed steps per setting, after one warm-up step")
    ap.add_argument("--max-batch", type=int, default=None, help="largest batch tried (default 512; tiny 4)")
    ap.add_argument("--budget-s", type=float, default=None, help="stop trying larger batches after this (default 380; tiny 90)")
    ap.add_argument("--out", default=None, help="also write the table here (default $OUT/train_sd2.md if $OUT is set)")
    a = ap.parse_args(argv)
    t_start = time.time()
    tiny = a.tiny
    dev = torch.device(a.device or ("cuda" if torch.cuda.is_available() and not tiny else "cpu"))
    H, W = a.height or (64 if tiny else 320), a.width or (160 if tiny else 768)
    frames = a.frames or (4 if tiny else 16)
    max_batch = a.max_batch or (4 if tiny else 512)
    budget = a.budget_s or (90.0 if tiny else 380.0)
    if tiny: torch.set_num_threads(min(2, torch.get_num_threads()))
    if dev.type == "cuda": torch.backends.cuda.matmul.allow_tf32 = True; torch.backends.cudnn.allow_tf32 = True
    autocast = dev.type == "cuda" or tiny                 # bf16 autocast, as train_loop's accelerate does on a GPU
    model, text_width = build(tiny, dev, a.frozen_bf16)
    counts = model.parameter_counts()
    build_s = time.time() - t_start
    lat_hw = (H // 8, W // 8)
    try:
        import bitsandbytes  # noqa: F401
        has_8bit = dev.type == "cuda"
    except Exception: has_8bit = False
    stages = [s.strip() for s in a.stages.split(",") if s.strip()]
    ckpts = [c.strip() == "on" for c in a.checkpointing.split(",") if c.strip()]
    rows = []
    settings = [(s, c) for s in stages for c in ckpts]
    for k, (stage, ckpt) in enumerate(settings):
        # this setting's share of what is left of the budget
        share = (budget - (time.time() - t_start)) / (len(settings) - k)
        t_set, b, best, last_s = time.time(), 1, None, 0.0
        while b <= max_batch:
            if time.time() - t_set + 2.2 * last_s * (a.steps + 1) > share and best is not None:
                rows.append(dict(stage=stage, ckpt=ckpt, optim=a.optim, batch=b, note="not tried: out of this setting's time")); break
            t0 = time.time()
            try:
                r = trial(model, stage, b, frames, lat_hw, text_width, ckpt, a.optim, a.steps, dev, autocast)
            except Exception as e:
                if not is_oom(e): traceback.print_exc(); rows.append(dict(stage=stage, ckpt=ckpt, optim=a.optim, batch=b, note=f"error: {type(e).__name__}")); break
                free(dev); rows.append(dict(stage=stage, ckpt=ckpt, optim=a.optim, batch=b, note="out of memory")); break
            last_s = (time.time() - t0) / (a.steps + 1)
            rows.append(dict(stage=stage, ckpt=ckpt, optim=a.optim, batch=b, **r)); best = b
            print(f"stage {stage} ckpt {'on' if ckpt else 'off'} batch {b}: {r['s']:.3f} s/step, peak {gib(r['peak'])} GiB", flush=True)
            b *= 2
        if has_8bit and best is not None:
            try: rows.append(dict(stage=stage, ckpt=ckpt, optim="8bit", batch=best,
                                  **trial(model, stage, best, frames, lat_hw, text_width, ckpt, "8bit", a.steps, dev, autocast)))
            except Exception as e: free(dev); rows.append(dict(stage=stage, ckpt=ckpt, optim="8bit", batch=best, note=type(e).__name__))
    vae = vae_encode_row(tiny, dev, frames, (H, W))
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else f"CPU ({platform.processor() or platform.machine()}, {torch.backends.cpu.get_cpu_capability()})"
    import diffusers
    lines = [f"Training steps at {W}x{H} (latents {lat_hw[1]}x{lat_hw[0]}), stage 2 clips of {frames} frames, on {name}; "
             f"torch {torch.__version__}, diffusers {diffusers.__version__}; {'tiny U-Net' if tiny else 'SD2-base U-Net config'}, random "
             f"weights, text states 77x{text_width}; {'bf16 autocast' if autocast else 'fp32'} over fp32 weights"
             f"{' (frozen base in bf16)' if a.frozen_bf16 else ''}; {a.steps} timed steps after one warm-up.",
             f"Parameters: base {counts['base'] / 1e6:.1f}M (frozen), spatial adapters {counts['spatial'] / 1e6:.1f}M "
             f"(stage 1 trains them), temporal layers {counts['temporal'] / 1e6:.1f}M (stage 2). Model built in {build_s:.0f} s.", "",
             "| stage | grad. checkpointing | optimiser | batch | s/step | samples/s | frames/s | peak GiB | note |",
             "|---|---|---|---:|---:|---:|---:|---:|---|"]
    for r in rows:
        what = "1: frames as images" if r["stage"] == "1" else f"2: {frames}-frame clips"
        K = 1 if r["stage"] == "1" else frames
        if "s" in r:
            lines.append(f"| {what} | {'on' if r['ckpt'] else 'off'} | {r['optim']} | {r['batch']} | {r['s']:.3f} | "
                         f"{r['batch'] / r['s']:.1f} | {r['batch'] * K / r['s']:.1f} | {gib(r['peak'])} | |")
        else: lines.append(f"| {what} | {'on' if r['ckpt'] else 'off'} | {r['optim']} | {r['batch']} | | | | | {r['note']} |")
    lines.append(f"| VAE encode (SD2 config, bf16, no grad) | | | {frames} frames | {vae['s']:.3f} | | {frames / vae['s']:.1f} | {gib(vae['peak'])} | one clip |")
    lines.append("")
    for stage, ckpt in settings:                       # the search's answer, per setting
        mine = [r for r in rows if r["stage"] == stage and r["ckpt"] == ckpt and r["optim"] != "8bit"]
        ran = [r["batch"] for r in mine if "s" in r]
        stop = next((r["note"] for r in mine if "note" in r), f"--max-batch {max_batch} reached")
        lines.append(f"- stage {stage}, checkpointing {'on' if ckpt else 'off'}: largest batch that ran "
                     f"{max(ran) if ran else 'none'}; the next ({(max(ran) * 2) if ran else 1}): {stop}.")
    lines += ["", f"Whole run: {time.time() - t_start:.0f} s."]
    table = "\n".join(lines)
    print(table)
    out = a.out or (str(Path(os.environ["OUT"]) / "train_sd2.md") if os.environ.get("OUT") else None)
    if out: Path(out).parent.mkdir(parents=True, exist_ok=True); Path(out).write_text(table + "\n")
    return 0


if __name__ == "__main__": sys.exit(main())
