#!/usr/bin/env python
"""Score moviefactory-mini after each stage (and the no-adapter ablation) on held-out toy-world captions.

    python tools/eval_mini.py MODEL_DIR OUT_DIR [--n 96] [--steps 25] [--text-encoder DIR] [--ablation DIR] [--rows "stage 2,stage 3"]
                              [--samplers ddim:10:1,dpm:6:0.5,ddim:10:1:2] [--guidance 7.5 | 1,2,7.5]

Rows (the model's stages are switched on one after the other; the weights are the final ones of each part):
  real clips                 rendered held-out clips (hd): what the scorer says about the truth
  stage 0: base              the base U-Net alone, every frame sampled on its own (extras off)
  stage 1: + adapters, web   spatial adapters with the web domain's norm, frames as images
  stage 1: + adapters, hd    the same with the hd domain's norm
  stage 2: + temporal, web   adapters + temporal layers, web (the domain stage 2 trains on)
  stage 2: + temporal, hd
  stage 3: movie             the movie domain's norm (stage 3)
  ablation: no adapters      the base with temporal layers trained directly on it (--ablation DIR: vae/, unet/, movie_unet/)
Each row: the toy scores (moviefactory.eval.toy_scores) and the toy FVD against a second set of real held-out clips.
Writes OUT_DIR/eval.json, OUT_DIR/eval.md and OUT_DIR/eval_samples.png. Runs on a GPU if there is one.
"""
from __future__ import annotations
import argparse, json, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path: sys.path.insert(0, str(ROOT))
import numpy as np
import torch
from moviefactory.core import frames_to_uint8
from moviefactory.toyworld import MOTIONS


def sample(pipe, prompts, domain, images, steps, seed, batch, cutoff=1.0, deep_cache=1, guidance=7.5):
    g = [torch.Generator().manual_seed(seed + i) for i in range(len(prompts))]
    out = pipe(prompts, num_inference_steps=steps, domain=domain, generator=g, batch_size=batch,
               frames_as_images=images, guidance_scale=guidance, guidance_cutoff=cutoff, deep_cache=deep_cache).frames
    return frames_to_uint8(out)


def eval_markdown(rows) -> str:
    "Table 1 with our rows, every column of the rows, then motion accuracy per true direction."
    from moviefactory import eval as ev
    flat = [{k: v for k, v in r.items() if k not in ("motion_by_class", "motion_confusion")} for r in rows]
    return ev.table1(rows) + "\n\n" + ev.table_markdown(flat) + "\n\nMotion accuracy per true direction:\n\n" + ev.motion_table(rows) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(); ap.add_argument("model_dir"); ap.add_argument("out_dir")
    ap.add_argument("--n", type=int, default=96); ap.add_argument("--steps", type=int, default=25)
    ap.add_argument("--batch", type=int, default=32); ap.add_argument("--text-encoder")
    ap.add_argument("--ablation"); ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rows", help="score only the model rows whose name contains one of these comma-separated words")
    ap.add_argument("--guidance", default="7.5", help="guidance scale of every sampled row (default 7.5); a comma-separated "
                    "list (e.g. 1,2,7.5) samples every row at each, and names the rows by it")
    ap.add_argument("--guided", action="store_true", help="the final model with the adapters of training stage 'guidance' "
                    "(guidance in one pass: sample it with --guidance 1)")
    ap.add_argument("--samplers", help="extra rows for the final model (hd): SAMPLER:STEPS:GUIDANCE_CUTOFF[:DEEP_CACHE],... e.g. dpm:6:0.5,ddim:10:1:2")
    a = ap.parse_args(argv)
    try: scales = [float(g) for g in a.guidance.split(",") if g.strip()]
    except ValueError: ap.error(f"--guidance {a.guidance!r}: give numbers separated by commas, e.g. 2 or 1,2,7.5")
    tag = (lambda g: f" (guidance {g:g})") if len(scales) > 1 else (lambda g: "")
    guided = " (guided adapters)" if a.guided else ""           # on every row that samples the final model
    from moviefactory.pipeline import MoviePipeline
    from moviefactory import eval as ev
    from moviefactory.mini import load_mini_unet
    from moviefactory.unet import MovieUNet
    out = Path(a.out_dir); out.mkdir(parents=True, exist_ok=True)
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    specs = ev.toy_eval_prompts(a.n, seed=a.seed)                  # held-out one-object captions, hd
    prompts = [s.caption() for s in specs]
    real = ev.toy_reference_clips(specs, seed=a.seed)                # the truth for those captions
    ref_specs = ev.toy_eval_prompts(a.n, seed=a.seed + 1)
    ref = ev.toy_reference_clips(ref_specs, seed=a.seed + 1)         # an independent real set: the toy FVD's reference
    web_specs = ev.toy_eval_prompts(a.n, seed=a.seed, domain="web")
    web = ev.toy_reference_clips(web_specs, seed=a.seed)
    pipe = MoviePipeline.from_mini(a.model_dir, text_encoder=a.text_encoder, device=dev, guided=a.guided)
    pipe.set_progress_bar_config(disable=True)
    full = pipe.unet
    bare = MovieUNet.from_base(Path(a.model_dir) / "unet", torch_dtype=torch.float32, domains=full.domains).to(dev).eval()
    rows, grid = [], {}
    def score(name, clips, t=None, specs_=None, **info):
        sp = specs_ or specs
        sc = ev.toy_scores(clips, sp, details=True)
        per = sc.pop("clips")                                         # motion accuracy per true direction: which ones fail
        truth = [s.objects[0].motion for s in sp]
        info["motion_by_class"] = {m: round(float(np.mean([p["motion"] == m for p, t in zip(per, truth) if t == m])), 3)
                                   for m in sorted(set(truth))}
        info["motion_confusion"] = {m: {q: sum(1 for p, t in zip(per, truth) if t == m and p["motion"] == q)
                                        for q in MOTIONS} for m in sorted(set(truth))}
        row = ev.table1_row(name, sc, toy_fvd=ev.toy_fvd(ref, clips), source=info.pop("source", "measured here"))
        row.update(n=len(clips), **info)
        if t is not None: row["sample_s"] = round(t, 1)
        rows.append(row); grid[name] = clips[:4]
        print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}), flush=True)
    score("real clips, hd (rendered)", real, source="toy world renderer")
    score("real clips, web (rendered)", web, specs_=web_specs, source="toy world renderer")
    configs = [("stage 0: base", bare, "hd", True), ("stage 1: + adapters, web", full, "web", True),
               ("stage 1: + adapters, hd", full, "hd", True), ("stage 2: + temporal, web", full, "web", False),
               ("stage 2: + temporal, hd", full, "hd", False), ("stage 3: movie", full, "movie", False)]
    if a.ablation:
        abl = load_mini_unet(a.ablation).to(dev).eval()
        configs += [("ablation: no adapters (web)", abl, "web", False), ("ablation: no adapters (hd)", abl, "hd", False)]
    if a.rows: configs = [c for c in configs if any(w.strip() in c[0] for w in a.rows.split(","))]
    for (name, unet, dom, images), g in ((c, g) for c in configs for g in scales):
        pipe.unet = unet
        t0 = time.time()
        clips = sample(pipe, prompts, dom, images, a.steps, a.seed, a.batch, guidance=g)
        score(name + (guided if unet is full else "") + tag(g), clips, time.time() - t0, domain=dom, frames_as_images=images, guidance=g)
    from moviefactory.mini import sampler_from
    base_sched = pipe.scheduler
    for spec, g in ((s, g) for s in (a.samplers.split(",") if a.samplers else []) for g in scales):
        kind, steps, cutoff, *dc = spec.split(":"); steps, cutoff, dc = int(steps), float(cutoff), int(dc[0]) if dc else 1
        pipe.unet, pipe.scheduler = full, sampler_from(base_sched, kind)
        t0 = time.time()
        clips = sample(pipe, prompts, "hd", False, steps, a.seed, a.batch, cutoff, dc, g)
        score(f"final{guided}, hd: {kind} {steps} steps, guidance on {cutoff:.0%} of them" + (f", DeepCache every {dc}" if dc > 1 else "")
              + tag(g), clips, time.time() - t0, domain="hd", frames_as_images=False, guidance=g)
    pipe.scheduler = base_sched
    (out / "eval.json").write_text(json.dumps({"n": a.n, "steps": a.steps, "seed": a.seed, "guidance": scales[0] if len(scales) == 1 else scales, "rows": rows}, indent=1))
    (out / "eval.md").write_text(eval_markdown(rows))
    import matplotlib; matplotlib.use("Agg"); import matplotlib.pyplot as plt
    fig, axs = plt.subplots(len(grid), 4, figsize=(10, 1.2 * len(grid)), squeeze=False)
    for r, (name, clips) in enumerate(grid.items()):
        for k in range(4):
            c = clips[k % len(clips)]
            axs[r, k].imshow(np.concatenate([c[0], c[15 if len(c) > 15 else -1]], 0)); axs[r, k].axis("off")
        axs[r, 0].set_title(name, fontsize=7, loc="left")
    fig.tight_layout(); fig.savefig(out / "eval_samples.png", dpi=70)
    print(ev.table1(rows))


if __name__ == "__main__": main()
