#!/usr/bin/env python
"""One GPU call of moviefactory-mini's open-vocabulary image stage (retrieval-augmented conditioning, chapter 06a):
the base U-Net and a PictureEncoder trained together on frames of the sprite world, captions through the frozen
MiniLM, the subjects' pictures as extra tokens, v-prediction with the zero-terminal-SNR schedule, box-weighted loss.

    python tools/train_openvocab.py --out DIR [--init DIR|none] --minutes M --batch B --workers W \\
        [--text-encoder DIR] [--eval-n N] [--pack DIR] [--compile]
    python tools/train_openvocab.py --prepare .carry/ov_minilm8     # here: the int8 MiniLM the GPU call carries

`--init none` starts from the shipped mini U-Net (a new picture encoder); `--init DIR` from an earlier call's `--out`.
`--out` receives `unet/`, `picture_encoder/` (float16, shards <= 15 MB), `scheduler/`, `losses.jsonl`,
`summary.json` and `samples.jpg` (held-out and train captions: retrieved pictures, a generated frame, a real render).
`--pack DIR` also writes `--out` as a tar in 15 MB parts into DIR plus the summary, log and grid beside them (what
comes back from a GPU call is at most 8 files of 16 MiB). `--text-encoder`: a MiniLM folder, float or int8-packed
(tools/dev/pack_text_encoder.py); default the packaged one. The concept score printed is a PROXY (which of 8 candidate
pictures masked cross-correlation finds best in the frame, `retrieval.proxy_concept_score`; its ceiling on real
renders is in bench/results/openvocab_cpu.md), not the issue's scorer.

On the GPU machine (one H100, 600 s per command), with `.whl` (diffusers and fastcore wheels, as for tools/gpu_stage.sh)
and `.carry/ov_minilm8` (from --prepare) carried, and for a later call `.carry/ov_init` (an earlier call's parts,
joined: `mkdir -p .carry/ov_init && cat openvocab.tar.part-* | tar x -C .carry/ov_init`):

    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
    export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1
    python3 tools/train_openvocab.py --init none --out /tmp/ov --minutes 7.5 --batch 64 --frames 4 --workers 14 \
        --text-encoder .carry/ov_minilm8 --eval-n 32 --pack $OUT
"""
import argparse, json, os, shutil, subprocess, sys, tempfile, time
from pathlib import Path
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path: sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1"); os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def args_of(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out"); ap.add_argument("--init", default="none")
    ap.add_argument("--minutes", type=float, default=5.0); ap.add_argument("--batch", type=int, default=64, help="clips per step")
    ap.add_argument("--frames", type=int, default=4, help="frames of each clip, each its own image")
    ap.add_argument("--lr", type=float, default=2e-4); ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--warmup", type=int, default=50); ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--text-encoder"); ap.add_argument("--eval-n", type=int, default=32, help="held-out and train captions sampled (each)")
    ap.add_argument("--eval-steps", type=int, default=25); ap.add_argument("--guidance", type=float, default=4.0)
    ap.add_argument("--max-slots", type=int, default=2); ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--domains", default="web,hd"); ap.add_argument("--compile", action="store_true", help="torch.compile the U-Net (costs compile time)")
    ap.add_argument("--pack", help="also write --out as 15 MB tar parts (and its summary, log, grid) into this folder")
    ap.add_argument("--prepare", help="write the trimmed, int8-packed MiniLM for the sprite world's captions and concepts here, then stop")
    ap.add_argument("--max-steps", type=int, default=10**7, help="stop after this many steps (tests)")
    ap.add_argument("--log-every", type=int, default=10)
    a = ap.parse_args(argv)
    if not a.prepare and not a.out: ap.error("give --out DIR (or --prepare DIR)")
    return a


def fail(msg):
    print(f"error: {msg}", file=sys.stderr); sys.exit(2)


def check(a):
    "Bad input: one line, before anything expensive."
    if a.prepare: return
    out = Path(a.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())): fail(f"--out {out} exists and is not an empty folder: give a new folder")
    if a.init != "none" and not (Path(a.init) / "unet" / "config.json").is_file():
        fail(f"--init {a.init} holds no unet/config.json: give an earlier call's --out folder, or none")
    if a.text_encoder and not (Path(a.text_encoder) / "config.json").is_file():
        fail(f"--text-encoder {a.text_encoder} is not a model folder (no config.json)")
    if a.pack and Path(a.pack).exists() and not Path(a.pack).is_dir(): fail(f"--pack {a.pack} is not a folder")
    for name in ("minutes", "batch", "frames"):
        if getattr(a, name) <= 0: fail(f"--{name} must be positive")


def text_encoder_folder(path, tmp):
    "A float MiniLM folder: `path` itself, or unpacked from int8 into `tmp`."
    if path is None or not (Path(path) / "int8.safetensors").is_file(): return path
    dst = Path(tmp) / "minilm"
    subprocess.run([sys.executable, str(ROOT / "tools" / "dev" / "pack_text_encoder.py"), "unpack", str(path), str(dst)], check=True,
                   stdout=subprocess.DEVNULL)
    return str(dst)


def worlds(a, split, seed, num_frames=16):
    from moviefactory.sprites import SpriteWorld
    return SpriteWorld(seed=seed, domains=tuple(a.domains.split(",")), split=split, num_frames=num_frames)


def concept_index(atlas, tok, te):
    "The sprite library's pictures and the world's places (no picture), as at sampling time."
    from moviefactory.retrieval import ConceptIndex
    from moviefactory.sprites import PLACES, PLACE_PHRASES
    return ConceptIndex.from_atlas(atlas, {p: PLACE_PHRASES[p] for p in PLACES}, tok, te)


def prepare(a):
    "The trimmed MiniLM (every word piece of the sprite world's captions and the atlas's names), packed to int8."
    import numpy as np, torch
    from moviefactory.sprites import SpriteAtlas
    from moviefactory.retrieval import STOPWORDS
    from moviefactory.train import trim_text_encoder
    atlas = SpriteAtlas.load()
    texts = [" ".join([c["name"], *c.get("synonyms", [])]) for c in atlas.concepts] + sorted(STOPWORDS)
    for split in ("train", "heldout"):
        w = worlds(a, split, 0)
        texts += [w.spec(i).caption() for i in range(20000)]
    texts.append("4K, high resolution, cinematic, detailed, smooth camera motion, slowly, quickly, the, and, with, then")
    with tempfile.TemporaryDirectory() as tmp:
        trim_text_encoder(texts, Path(tmp) / "minilm", dtype=torch.float16)
        subprocess.run([sys.executable, str(ROOT / "tools" / "dev" / "pack_text_encoder.py"), "pack", str(Path(tmp) / "minilm"), a.prepare], check=True)
    print(f"{len(set(texts))} texts -> {a.prepare}")


def grid(path, rows):
    "A JPEG: per row the retrieved pictures, the generated frame, a real render, and the caption with what it became."
    import matplotlib; matplotlib.use("Agg"); import matplotlib.pyplot as plt
    fig, axs = plt.subplots(len(rows), 4, figsize=(9, 1.25 * len(rows)), gridspec_kw={"width_ratios": [1, 1, 2.4, 2.4]}, squeeze=False)
    for ax_row, r in zip(axs, rows):
        for k in range(2):
            p = r["pictures"][k] if k < len(r["pictures"]) else None
            if p is not None: ax_row[k].imshow(p)
            ax_row[k].axis("off")
        ax_row[2].imshow(r["generated"]); ax_row[3].imshow(r["real"])
        ax_row[2].set_title(f"{r['split']}: {r['caption']}"[:90], fontsize=6, loc="left")
        ax_row[3].set_title(r["understood"][:70], fontsize=6, loc="left")
        for ax in ax_row[2:]: ax.axis("off")
    fig.tight_layout(); fig.savefig(path, dpi=80, format="jpg", pil_kwargs={"quality": 80}); plt.close(fig)


PROXY = dict(k=8, scale=1.0, sizes=(16, 20, 24, 28, 32, 40, 48))   # full resolution, more sizes: cheap on a GPU

def scorer_scores(scorer, atlas, frames, real, clips):
    """The issue's scorer (chapter 13a's SpriteScorer, over all concepts of the atlas): does the frame show the clip's
    first subject? Counted when it ranks among the clip's number of subjects (a two-subject frame may rank the other first)."""
    import numpy as np
    from moviefactory.sprite_eval import score_concepts
    asked = np.array([int(c.subjects[0]) for c in clips]); k = np.array([len(c.subjects) for c in clips])
    out = {}
    for name, x in (("generated", frames), ("real_renders", real)):
        p = score_concepts(scorer, np.asarray(x)[:, None], None, atlas)
        rank = (p > p[np.arange(len(p)), asked][:, None]).sum(1)
        out[f"scorer_concept_{name}"] = float((rank < k).mean())
    out["scorer_chance"] = float(np.mean(k) / len(atlas))
    return out


def evaluate(a, model, ld, atlas, index, out):
    import numpy as np, torch
    from moviefactory.retrieval import retrieve, sample_images, proxy_concept_score
    from moviefactory.sprite_eval import load_sprite_scorer
    scorer = load_sprite_scorer(device=next(model.parameters()).device)
    res, rows = {}, []
    for split in ("heldout", "train"):
        w = worlds(a, split, 10_000 + a.seed)
        clips = [w[i] for i in range(a.eval_n)]
        caps = [c.caption for c in clips]
        got = [retrieve(index, atlas.pictures, c, a.max_slots) for c in caps]
        pics, present = torch.stack([g[0] for g in got]), torch.stack([g[1] for g in got])
        frames = np.concatenate([sample_images(model, ld, caps[i:i + 64], pics[i:i + 64], present[i:i + 64], steps=a.eval_steps,
                                               guidance=a.guidance, seed=a.seed + i) for i in range(0, len(caps), 64)])
        asked = [int(c.subjects[0]) for c in clips]
        first = [index.concepts[g[2][0].index]["picture"] if g[2] else -1 for g in got]
        real = [c.frames[len(c.frames) // 2] for c in clips]
        res[split] = {"n": len(clips), "retrieved_first_subject": float(np.mean([f == s for f, s in zip(first, asked)])),
                      "proxy_concept_score_generated": proxy_concept_score(frames, asked, atlas.pictures, seed=1, **PROXY),
                      "proxy_concept_score_real_renders": proxy_concept_score(real, asked, atlas.pictures, seed=1, **PROXY),
                      "proxy_chance": 1 / 8}
        res[split].update(scorer_scores(scorer, atlas, frames, real, clips))
        for i in range(min(6, len(clips))):
            rows.append({"split": split, "caption": caps[i], "generated": frames[i], "real": real[i],
                         "pictures": [atlas.pictures[index.concepts[m.index]["picture"]] for m in got[i][2]],
                         "understood": "; ".join(str(m) for m in got[i][2]) or "(no concept found)"})
    grid(out / "samples.jpg", rows)
    return res


def main(argv=None):
    a = args_of(argv); check(a)
    if a.prepare: return prepare(a)
    import numpy as np, torch
    from diffusers import AutoencoderKL
    from diffusers.utils import logging as dlog
    dlog.set_verbosity_error()                                   # float16 saving warns once per model, harmlessly
    from moviefactory.core import seed_everything
    from moviefactory.sprites import SpriteAtlas
    from moviefactory.train import TrainConfig, LatentDiffusion, train_loop, read_losses
    from moviefactory.mini import load_text_encoder, mini_dir, mini_scheduler
    from moviefactory.retrieval import RetrievalUNet, sprite_batch, retrieval_loss
    t_start = time.time()
    seed_everything(a.seed)
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    tmp = tempfile.mkdtemp(prefix="openvocab-")
    tok, te = load_text_encoder(text_encoder_folder(a.text_encoder, tmp), cache=False)   # moved to the GPU: our own copy
    init = mini_dir() if a.init == "none" else Path(a.init)
    model = RetrievalUNet.from_pretrained(init, max_slots=a.max_slots)
    model.requires_grad_(True)
    sched = mini_scheduler(zero_snr=True)
    sched.save_pretrained(out / "scheduler")
    vae = AutoencoderKL.from_pretrained(mini_dir() / "vae", torch_dtype=torch.float32)
    ld = LatentDiffusion(vae, tok, te, sched).to(dev)
    if a.compile: model.unet.compile()
    world = worlds(a, "train", a.seed, num_frames=a.frames)      # frames as images: render only those used
    batches = lambda s: sprite_batch(world, s, a.batch, a.frames, max_slots=a.max_slots, seed=a.seed)
    cfg = TrainConfig(output_dir=str(Path(tmp) / "run"), max_steps=a.max_steps, batch_size=a.batch, lr=a.lr,
                      warmup_steps=a.warmup, ema_decay=a.ema, checkpoint_every=10**9, log_every=a.log_every, seed=a.seed,
                      max_minutes=a.minutes, num_workers=a.workers)
    print(f"setup {time.time() - t_start:.0f} s on {dev}: {sum(p.numel() for p in model.parameters()) / 1e6:.1f}M parameters, "
          f"batch {a.batch} clips x {a.frames} frames", flush=True)
    res = train_loop(cfg, model, retrieval_loss(ld), batches)
    model = res["model"]
    model.save(out, res["ema"])
    shutil.copy(Path(cfg.output_dir) / "losses.jsonl", out / "losses.jsonl")
    shutil.rmtree(tmp, ignore_errors=True)                      # the fp32 checkpoint with its optimiser state stays behind
    losses = read_losses(out)
    summary = {"init": str(a.init), "steps": res["step"], "train_s": round(res["wall_s"], 1),
               "images_per_s": round(res["samples_per_s"] * a.frames, 1), "batch_clips": a.batch, "frames": a.frames,
               "final_loss": losses[-1]["loss"] if losses else None, "device": torch.cuda.get_device_name() if dev.type == "cuda" else "cpu"}
    print(json.dumps(summary), flush=True)
    if a.pack: pack(out, Path(a.pack))                           # the weights are safe before the evaluation
    if a.eval_n:
        t0 = time.time()
        atlas = SpriteAtlas.load()
        model.to(dev).eval()
        summary["eval"] = evaluate(a, model, ld, atlas, concept_index(atlas, tok, te), out)
        summary["eval_s"] = round(time.time() - t0, 1)
    summary["total_s"] = round(time.time() - t_start, 1)
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary, indent=1))
    if a.pack:
        for f in ("summary.json", "samples.jpg", "losses.jsonl"):
            if (out / f).exists(): shutil.copy(out / f, Path(a.pack) / f)


def pack(out: Path, dest: Path):
    "`out` as a tar in 15 MB parts `openvocab.tar.part-aa`, ... in `dest` (join with cat, then tar x)."
    import tarfile, io
    dest.mkdir(parents=True, exist_ok=True)
    for old in dest.glob("openvocab.tar.part-*"): old.unlink()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for sub in ("unet", "picture_encoder", "scheduler"): t.add(out / sub, arcname=sub)
    data, n = buf.getvalue(), 15_000_000
    for i in range(0, len(data), n): (dest / f"openvocab.tar.part-a{chr(ord('a') + i // n)}").write_bytes(data[i:i + n])


if __name__ == "__main__": main()
