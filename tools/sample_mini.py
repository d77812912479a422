#!/usr/bin/env python
"""Sample a grid of clips from a moviefactory-mini folder (DDIM, classifier-free guidance) for each domain.

    python tools/sample_mini.py MODEL_DIR OUT.png [--steps 25] [--guidance 5]
Until the pipeline chapter lands this is the quick look at a training run; it runs on a GPU if there is one.
"""
import argparse, torch, matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
from diffusers import AutoencoderKL, DDIMScheduler
from moviefactory.train import load_mini_unet, load_text_encoder, encode_text, mini_scheduler

ap = argparse.ArgumentParser(); ap.add_argument("model_dir"); ap.add_argument("out")
ap.add_argument("--steps", type=int, default=25); ap.add_argument("--guidance", type=float, default=5.0)
ap.add_argument("--text-encoder"); a = ap.parse_args()
dev = "cuda" if torch.cuda.is_available() else "cpu"
vae = AutoencoderKL.from_pretrained(f"{a.model_dir}/vae", torch_dtype=torch.float32).to(dev)
m = load_mini_unet(a.model_dir).eval().to(dev)
tok, te = load_text_encoder(a.text_encoder, device=dev)
caps = ["a red car moves right on a road", "a blue fish swims up in the sea", "a yellow airplane flies left in the sky",
        "a white rocket moves up in space", "a green ball moves left on a road", "a purple balloon moves down at night"]
doms = [d for d in ("hd", "web", "movie") if d in m.domains]
cond, unc = encode_text(tok, te, caps), encode_text(tok, te, [""] * len(caps))
fig, axs = plt.subplots(len(caps) * len(doms), 4, figsize=(10, 1.3 * len(caps) * len(doms)))
for r, dom in enumerate(doms):
    sched = DDIMScheduler.from_config(mini_scheduler().config); sched.set_timesteps(a.steps)
    x = torch.randn(len(caps), 4, 16, 20, 48, generator=torch.Generator().manual_seed(0)).to(dev)
    with torch.no_grad():
        for t in sched.timesteps:
            eu, ec = m(torch.cat([x, x]), t, torch.cat([unc, cond]), domain=dom).sample.chunk(2)
            x = sched.step(eu + a.guidance * (ec - eu), t, x).prev_sample
        img = vae.decode(x.transpose(1, 2).flatten(0, 1) / vae.config.scaling_factor).sample.clamp(-1, 1)
    img = ((img.unflatten(0, (len(caps), 16)).permute(0, 1, 3, 4, 2) + 1) / 2).cpu().numpy()
    for c in range(len(caps)):
        for k, f in enumerate([0, 5, 10, 15]):
            ax = axs[r * len(caps) + c, k]; ax.imshow(img[c, f]); ax.axis("off")
            if k == 0: ax.set_title(f"{dom}: {caps[c]}", fontsize=7, loc="left")
fig.tight_layout(); fig.savefig(a.out, dpi=70)
print("wrote", a.out)
