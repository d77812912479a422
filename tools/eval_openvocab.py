#!/usr/bin/env python
"""Score an open-vocabulary model (a folder written by tools/train_openvocab.py) with the sprite concept scorer.

    python tools/eval_openvocab.py --model DIR --out DIR [--n 64] [--scripts bench/ideas/scripts_sprites.json]
        [--max-scenes N] [--steps 25] [--guidance 4] [--candidates 8] [--batch 64] [--scorer DIR]
        [--text-encoder DIR] [--device auto] [--seed 0]
    python tools/eval_openvocab.py --write-scripts bench/ideas/scripts_sprites.json [--ideas bench/ideas/ideas.txt] [--scenes 10]

`--model DIR` holds `unet/`, `picture_encoder/` and `scheduler/` (an earlier call's `--out`, unpacked). Two scores:

(a) **Captions.** `--n` fresh sprite-world captions of the training concepts and `--n` of the held-out concepts (the
    atlas's split "heldout": never drawn in training), from a world seed no training run or scorer evaluation draws
    (30000 + `--seed`). Each caption's concepts are retrieved as at sampling time (`retrieval.retrieve`), one frame is
    generated (`retrieval.sample_images`, DDIM, guidance against no text and no pictures), and the shipped sprite scorer
    (`sprite_eval.score_concepts`, or `--scorer`) says which concept the frame shows. Every subject a caption names is
    one trial; the clip's other subject is not a candidate. Reported: top-1 among `--candidates` (the asked concept and
    random others; chance 1/k) and top-1 among all atlas concepts (chance 1/974), for the generated frames and, as the
    ceiling, for the middle frame of the real render of the same caption.
(b) **Ideas.** The scripts of `--scripts` (written by `--write-scripts`: for each idea of `--ideas`, a template script
    in the sprite world: the idea's subjects and places as concepts via `script.understand_idea` with
    `script.concept_index("sprites")`, the nearest concept standing in where the idea names no subject the atlas has,
    scenes in the sprite world's own phrasing). Each scene's first subject is the one its prompt names first; scored as
    in (a): the fraction of scenes whose named subject the scorer finds, generated and real.

Writing scripts needs the full MiniLM (an idea's words go beyond the sprite world's captions); scoring them needs only
the text encoder the model was trained with, so the GPU machine can carry the trimmed int8 one (`--text-encoder
.carry/ov_minilm8`, as for train_openvocab). Writes `--out`/openvocab_eval.json and openvocab_eval.md. Runs on a CPU
(small `--n`, `--max-scenes`, `--steps` for a check) and on a GPU.
"""
import argparse, json, os, subprocess, sys, tempfile, time
from pathlib import Path
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path: sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1"); os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

IDEAS = ROOT / "bench" / "ideas" / "ideas.txt"
SCRIPTS = ROOT / "bench" / "ideas" / "scripts_sprites.json"
WORLD_SEED = 30_000


def args_of(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", help="a folder with unet/, picture_encoder/, scheduler/ (tools/train_openvocab.py --out)")
    ap.add_argument("--out", help="a new (or empty) folder for openvocab_eval.json and .md")
    ap.add_argument("--n", type=int, default=64, help="captions per split (training concepts, held-out concepts); 0: none")
    ap.add_argument("--scripts", default=str(SCRIPTS), help="idea scripts from --write-scripts; 'none': skip the ideas")
    ap.add_argument("--max-scenes", type=int, help="score at most this many scenes of each idea (a quick check)")
    ap.add_argument("--max-ideas", type=int, help="score at most this many ideas (a quick check)")
    ap.add_argument("--steps", type=int, default=25); ap.add_argument("--guidance", type=float, default=4.0)
    ap.add_argument("--candidates", type=int, default=8, help="k: the asked concept and k-1 random others")
    ap.add_argument("--batch", type=int, default=64, help="frames sampled at once")
    ap.add_argument("--max-slots", type=int, default=2)
    ap.add_argument("--scorer", help="a sprite scorer folder (default: the shipped one)")
    ap.add_argument("--text-encoder", help="the MiniLM the model was trained with: a folder, float or int8-packed (default: the packaged one)")
    ap.add_argument("--device", default="auto"); ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--write-scripts", metavar="JSON", help="write the sprite-world scripts of --ideas to this new file, then stop")
    ap.add_argument("--ideas", default=str(IDEAS), help="one idea a line (for --write-scripts)")
    ap.add_argument("--scenes", type=int, default=10, help="scenes per idea (for --write-scripts)")
    return ap.parse_args(argv)


def fail(msg):
    print(f"error: {msg}", file=sys.stderr); sys.exit(2)


def check(a):
    "Bad input: one line, before anything expensive; nothing is written over."
    if a.write_scripts:
        if Path(a.write_scripts).exists(): fail(f"--write-scripts {a.write_scripts} exists: give a new file name")
        if not Path(a.ideas).is_file(): fail(f"--ideas {a.ideas} is not a file: give a text file with one idea a line")
        if not read_ideas(a.ideas): fail(f"--ideas {a.ideas} holds no idea: write one a line")
        if not 1 <= a.scenes <= 30: fail("--scenes must be 1 to 30")
        return
    if not a.model or not a.out: fail("give --model DIR and --out DIR (or --write-scripts FILE)")
    m = Path(a.model)
    for sub, f in (("unet", "config.json"), ("picture_encoder", "config.json"), ("scheduler", "scheduler_config.json")):
        if not (m / sub / f).is_file(): fail(f"--model {m} has no {sub}/{f}: give a folder written by tools/train_openvocab.py --out")
    out = Path(a.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())): fail(f"--out {out} exists and is not an empty folder: give a new folder")
    if a.scripts != "none" and not Path(a.scripts).is_file():
        fail(f"--scripts {a.scripts} is not a file: write it with --write-scripts, or pass --scripts none")
    if a.text_encoder and not (Path(a.text_encoder) / "config.json").is_file(): fail(f"--text-encoder {a.text_encoder} is not a model folder (no config.json)")
    if a.scorer and not (Path(a.scorer) / "config.json").is_file(): fail(f"--scorer {a.scorer} is not a sprite scorer folder (no config.json)")
    if a.n < 0 or a.steps < 1 or a.batch < 1 or a.candidates < 2: fail("--n must be >= 0, --steps and --batch >= 1, --candidates >= 2")
    if a.n == 0 and a.scripts == "none": fail("nothing to score: give --n > 0 or --scripts")
    if a.device not in ("auto", "cpu", "cuda") and not a.device.startswith("cuda:"): fail(f"--device {a.device}: use auto, cpu or cuda")


def read_ideas(path) -> list[str]:
    return [l.strip() for l in Path(path).read_text(encoding="utf-8").splitlines() if l.strip() and not l.startswith("#")]


# ---------------------------------------------------------------- (b) idea -> a template script in the sprite world

def sprite_script(idea: str, index, scenes: int, seed: int) -> dict:
    """A template script of `idea` in the sprite world (`script.sprite_plan`, what `SpriteTemplateWriter` writes), as JSON:
    per scene its beat, caption, `SpriteSpec` and the seed its real render is drawn with."""
    from moviefactory.script import sprite_plan
    p = sprite_plan(idea, index, scenes, seed)
    out = [{"beat": s["beat"], "caption": s["spec"].caption(), "spec": s["spec"].to_dict(), "render_seed": s["render_seed"]}
           for s in p["scenes"]]
    return {"idea": p["idea"], "understood": p["understood"].lines(), "stand_in": p["stand_in"], "subjects": p["subjects"],
            "places": p["places"], "scenes": out}


def write_scripts(a):
    from moviefactory.script import concept_index, CONCEPT_THRESHOLD
    from moviefactory.sprites import SpriteAtlas
    t0, index = time.time(), concept_index("sprites")
    ideas = read_ideas(a.ideas)
    scripts = [sprite_script(i, index, a.scenes, a.seed) for i in ideas]
    doc = {"ideas_file": os.path.relpath(Path(a.ideas).resolve(), ROOT), "scenes": a.scenes, "seed": a.seed,
           "concept_threshold": CONCEPT_THRESHOLD, "atlas_concepts": len(SpriteAtlas.load()), "scripts": scripts}
    head = json.dumps({k: v for k, v in doc.items() if k != "scripts"}, ensure_ascii=False)[:-1]
    text = head + ', "scripts": [\n' + ",\n".join(json.dumps(s, ensure_ascii=False) for s in scripts) + "\n]}\n"   # an idea a line
    tmp = Path(a.write_scripts).with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8"); tmp.replace(a.write_scripts)
    n_si = sum(s["stand_in"] for s in scripts)
    print(f"{len(scripts)} ideas x {a.scenes} scenes -> {a.write_scripts} ({n_si} with a stand-in subject, {time.time() - t0:.0f} s)")


# ---------------------------------------------------------------- scoring

def text_encoder_folder(path, tmp):
    "A float MiniLM folder: `path` itself, or unpacked from int8 into `tmp` (tools/dev/pack_text_encoder.py)."
    if path is None or not (Path(path) / "int8.safetensors").is_file(): return path
    dst = Path(tmp) / "minilm"
    subprocess.run([sys.executable, str(ROOT / "tools" / "dev" / "pack_text_encoder.py"), "unpack", str(path), str(dst)],
                   check=True, stdout=subprocess.DEVNULL)
    return str(dst)


def summarise(top_all, top_k) -> dict:
    return {"top1_of_k": round(float(top_k.mean()), 4) if len(top_k) else None,
            "top1_of_all": round(float(top_all.mean()), 4) if len(top_all) else None}


class Scorer:
    "Generate and score: the model, its sampler, the retrieval index, the sprite scorer."
    def __init__(self, a, dev):
        import torch
        from diffusers import AutoencoderKL
        from diffusers.utils import logging as dlog
        dlog.set_verbosity_error()
        from moviefactory.core import quiet_loaders
        from moviefactory.mini import load_text_encoder, mini_dir, load_mini_scheduler
        from moviefactory.train import LatentDiffusion
        from moviefactory.retrieval import RetrievalUNet, ConceptIndex
        from moviefactory.sprites import SpriteAtlas, PLACES, PLACE_PHRASES
        from moviefactory.sprite_eval import load_sprite_scorer
        self.a, self.dev, self.tmp = a, dev, tempfile.mkdtemp(prefix="eval-openvocab-")
        tok, te = load_text_encoder(text_encoder_folder(a.text_encoder, self.tmp), cache=False)
        with quiet_loaders():
            self.model = RetrievalUNet.from_pretrained(a.model, max_slots=a.max_slots).to(dev).eval()
            vae = AutoencoderKL.from_pretrained(mini_dir() / "vae", torch_dtype=torch.float32)
        self.ld = LatentDiffusion(vae, tok, te, load_mini_scheduler(a.model)).to(dev)
        self.atlas = SpriteAtlas.load()
        self.index = ConceptIndex.from_atlas(self.atlas, {p: PLACE_PHRASES[p] for p in PLACES}, tok, te)
        self.scorer = load_sprite_scorer(a.scorer, device=dev)

    def frames(self, captions, seed) -> tuple:
        "Generated frames (B, H, W, 3) for `captions`, and per caption the atlas pictures retrieval found."
        import numpy as np, torch
        from moviefactory.retrieval import retrieve, sample_images
        got = [retrieve(self.index, self.atlas.pictures, c, self.a.max_slots) for c in captions]
        pics, present = torch.stack([g[0] for g in got]), torch.stack([g[1] for g in got])
        b = self.a.batch
        out = [sample_images(self.model, self.ld, captions[i:i + b], pics[i:i + b], present[i:i + b], steps=self.a.steps,
                             guidance=self.a.guidance, seed=seed + i) for i in range(0, len(captions), b)]
        found = [[self.index.concepts[m.index]["picture"] for m in g[2]] for g in got]
        return np.concatenate(out), found

    def probs(self, frames):
        "The scorer's probabilities (B, N) over the whole atlas for single frames (B, H, W, 3)."
        from moviefactory.sprite_eval import score_concepts
        return score_concepts(self.scorer, frames[:, None], None, self.atlas)

    def trials(self, frames, real, subjects, first_only: bool, seed: int) -> dict:
        "Score generated and real frames: one trial per subject (or per clip's first subject), the other subjects no candidates."
        from moviefactory.sprite_eval import asked_found
        pg, pr = self.probs(frames), self.probs(real)
        rows, asked, others = [], [], []
        for i, s in enumerate(subjects):
            for a in (s[:1] if first_only else s):
                rows.append(i); asked.append(a); others.append([o for o in s if o != a])
        k = self.a.candidates                                # the same random candidates for generated and real frames:
        ga, gk = asked_found(pg[rows], asked, others, k, seed)
        ra, rk = asked_found(pr[rows], asked, others, k, seed)
        return {"trials": len(rows), "generated": summarise(ga, gk), "real_renders": summarise(ra, rk),
                "chance_of_k": round(1 / k, 4), "chance_of_all": round(1 / len(self.atlas), 5)}, gk


def score_captions(S, a) -> dict:
    import numpy as np
    from moviefactory.sprites import SpriteWorld
    res = {}
    for split in ("train", "heldout"):
        w = SpriteWorld(seed=WORLD_SEED + a.seed, domains=("web", "hd"), split=split)
        clips = [w[i] for i in range(a.n)]
        caps = [c.caption for c in clips]
        gen, found = S.frames(caps, a.seed)
        real = np.stack([c.frames[len(c.frames) // 2] for c in clips])
        r, _ = S.trials(gen, real, [c.subjects for c in clips], False, a.seed + (split == "heldout"))
        r["retrieved_exactly"] = round(float(np.mean([f == c.subjects[:a.max_slots] for f, c in zip(found, clips)])), 4)
        r["captions"] = len(caps); r["examples"] = caps[:3]
        res[split] = r
    return res


def score_ideas(S, a) -> tuple[dict, list]:
    import numpy as np
    from moviefactory.sprites import SpriteSpec, render_sprites
    doc = json.loads(Path(a.scripts).read_text(encoding="utf-8"))
    scripts = doc["scripts"][:a.max_ideas]
    scenes = [(i, sc) for i, s in enumerate(scripts) for sc in s["scenes"][:a.max_scenes]]
    caps = [sc["caption"] for _, sc in scenes]
    specs = [SpriteSpec(**sc["spec"]) for _, sc in scenes]
    gen, found = S.frames(caps, a.seed + 1)
    real = np.stack([render_sprites(sp, S.atlas, seed=sc["render_seed"]).frames[8] for sp, (_, sc) in zip(specs, scenes)])
    r, found_k = S.trials(gen, real, [sp.subjects for sp in specs], True, a.seed + 2)
    r["ideas"], r["scenes"] = len(scripts), len(scenes)
    r["retrieved_named_subject"] = round(float(np.mean([bool(f) and f[0] == sp.subjects[0] for f, sp in zip(found, specs)])), 4)
    r["ideas_with_stand_in"] = sum(s["stand_in"] for s in scripts)
    per = []
    for i, s in enumerate(scripts):
        mine = [j for j, (k, _) in enumerate(scenes) if k == i]
        per.append({"idea": s["idea"], "subjects": s["subjects"], "places": s["places"], "stand_in": s["stand_in"],
                    "understood": s["understood"], "scenes": len(mine),
                    "scenes_found_of_k": round(float(np.mean(found_k[mine])), 4) if mine else None})
    return r, per


def pct(x): return "–" if x is None else f"{100 * x:.1f}%"


def markdown(res) -> str:
    k = res["settings"]["candidates"]
    L = [f"# Open-vocabulary model, scored by the sprite concept scorer", "",
         f"Model `{res['model']}` ({res['model_summary']}), scorer `{res['scorer']}`, on {res['device']}; "
         f"{res['settings']['steps']} DDIM steps, guidance {res['settings']['guidance']}, {res['seconds']:.0f} s.", "",
         f"Top-1: the scorer names the asked concept first among k = {k} (it and {k - 1} random others) or among all "
         f"{res['atlas_concepts']} atlas concepts (a clip's other subject is never a candidate). Real renders: the middle "
         "frame of the renderer's clip of the same caption, the ceiling this scorer allows.", "",
         "| | trials | generated, top-1 of k | real renders, top-1 of k | chance | generated, top-1 of all | real, top-1 of all | chance |",
         "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    rows = [(f"captions, training concepts", res.get("captions", {}).get("train")),
            (f"captions, held-out concepts (never trained)", res.get("captions", {}).get("heldout")),
            (f"idea scenes: the named subject", res.get("ideas"))]
    for name, r in rows:
        if not r: continue
        g, q = r["generated"], r["real_renders"]
        L.append(f"| {name} | {r['trials']} | {pct(g['top1_of_k'])} | {pct(q['top1_of_k'])} | {pct(r['chance_of_k'])} | "
                 f"{pct(g['top1_of_all'])} | {pct(q['top1_of_all'])} | {100 * r['chance_of_all']:.2f}% |")
    if res.get("captions"):
        c = res["captions"]
        L += ["", f"Captions: {c['train']['captions']} per split; retrieval handed the model exactly the caption's subjects for "
              f"{pct(c['train']['retrieved_exactly'])} (training concepts) and {pct(c['heldout']['retrieved_exactly'])} (held-out)."]
    if res.get("ideas"):
        r = res["ideas"]
        L += ["", f"Ideas: {r['ideas']} ideas, {r['scenes']} scenes; {r['ideas_with_stand_in']} ideas name no subject the atlas has "
              f"(a stand-in is drawn); retrieval found the scene's named subject first in {pct(r['retrieved_named_subject'])} of scenes.",
              "", "| idea | subjects | scenes | found (top-1 of k) |", "| --- | --- | --- | --- |"]
        for p in res["per_idea"]:
            L.append(f"| {p['idea']} | {', '.join(p['subjects'])}{' (stand-in)' if p['stand_in'] else ''} | {p['scenes']} | {pct(p['scenes_found_of_k'])} |")
    return "\n".join(L) + "\n"


def main(argv=None):
    a = args_of(argv); check(a)
    if a.write_scripts: return write_scripts(a)
    import numpy as np, torch, shutil
    from moviefactory.core import seed_everything
    t0 = time.time(); seed_everything(a.seed)
    dev = torch.device(("cuda" if torch.cuda.is_available() else "cpu") if a.device == "auto" else a.device)
    S = Scorer(a, dev)
    summ = Path(a.model) / "summary.json"
    ms = json.loads(summ.read_text()) if summ.is_file() else {}
    res = {"model": str(a.model), "model_summary": f"{ms.get('steps', '?')} steps from init {ms.get('init', '?')}",
           "scorer": a.scorer or "shipped", "device": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
           "atlas_concepts": len(S.atlas),
           "settings": {k: getattr(a, k) for k in ("n", "steps", "guidance", "candidates", "max_slots", "seed", "max_scenes", "max_ideas", "scripts")}}
    if a.n: res["captions"] = score_captions(S, a)
    if a.scripts != "none": res["ideas"], res["per_idea"] = score_ideas(S, a)
    res["seconds"] = round(time.time() - t0, 1)
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    (out / "openvocab_eval.json").write_text(json.dumps(res, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    (out / "openvocab_eval.md").write_text(markdown(res), encoding="utf-8")
    shutil.rmtree(S.tmp, ignore_errors=True)
    print(markdown(res))


if __name__ == "__main__": main()
