#!/usr/bin/env python
"""Compiled against eager on one device: a tiny MovieUNet (random temporal weights, two domains, convolution weights
channels-last) run eagerly and through `torch.compile`, in fp32 without TF32; prints the largest difference and fails
above --tol. On a GPU this exercises the paths only a compiled GPU step takes (`compiled_gpu_paths`: per-channel-sum
GroupNorms and channels-last ResBlock inputs; FlexAttention's main kernel; the text cross-attention tokens as they are).

    python tools/dev/check_compiled_gpu.py                 # cuda if there is one (on an H100: 77 s of compiling, difference 2.4e-06)
    python tools/dev/check_compiled_gpu.py --device cpu    # the same check on the CPU, where those paths stay off (100 s cold)
"""
import argparse, sys, time
import torch
from diffusers import UNet2DConditionModel
from moviefactory.spatial import TINY_UNET_CONFIG
from moviefactory.temporal import randomize_zero_init
from moviefactory.unet import MovieUNet, conv_weights_channels_last

p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
p.add_argument("--tol", type=float, default=1e-4, help="largest allowed difference, relative to the output's largest value")
a = p.parse_args()
torch.backends.cudnn.allow_tf32 = False
torch.manual_seed(0)
m = randomize_zero_init(MovieUNet.from_unet(UNet2DConditionModel.from_config(TINY_UNET_CONFIG), domains=["a", "b"]))
m = m.to(a.device).eval()
print("compiled-GPU paths:", m.enable_compiled_gpu_paths())
print("2-D convolutions stored channels-last:", conv_weights_channels_last(m))
x = torch.randn(2, 4, 16, 16, 16, device=a.device) * 3 + 1                  # 2 clips of 16 frames, 16x16 latents
t = torch.tensor([500, 500], device=a.device)
text = torch.randn(2, 7, TINY_UNET_CONFIG["cross_attention_dim"], device=a.device)
with torch.no_grad():
    ref = m(x, t, text, domain=[0, 1]).sample
    t0 = time.time()
    out = torch.compile(m)(x, t, text, domain=[0, 1]).sample
    if out.is_cuda: torch.cuda.synchronize()
err, scale = (out - ref).abs().max().item(), ref.abs().max().item()
print(f"{a.device}: compiled in {time.time() - t0:.0f} s; largest difference compiled vs eager {err:.3g} (output up to {scale:.3g})")
sys.exit(0 if err <= a.tol * max(1.0, scale) else f"compiled and eager differ by {err:.3g}: more than --tol {a.tol} allows")
