"""What `moviefactory make IDEA --world sprites` understands of the fifty ideas, scored against a reader's choice.

    python bench/bench_concepts.py [--ideas bench/ideas/ideas.txt] [--expected bench/ideas/expected_concepts.json]
                                   [--scripts bench/ideas/scripts_sprites.json] [--json OUT.json]

For each idea it runs the lookup `make --world sprites` runs (`script.concept_index("sprites")`, the packaged MiniLM at
`script.CONCEPT_THRESHOLD`, and `script.understand_idea`, whose `lines()` are the "concepts: ..." lines make logs) and
prints a markdown table: the concepts found (`words -> concept`), the words not understood, and the verdict against
`expected_concepts.json` (hand-written: for each idea the slots a careful reader would fill, each slot the atlas names
that would do). Then the score:

- ideas whose slots are all filled (the ideas whose expected list is empty count when nothing wrong is found),
- slots filled of all slots, and the misses (slots no match filled),
- wrong mappings: matches whose concept is in no slot of the idea and not in its `also_ok` list,

and how many ideas' sprite scripts (`script.sprite_plan`, what `SpriteTemplateWriter` writes) differ from the published
`--scripts` file, which this script only reads. Nothing here needs a GPU; building the index embeds ~1,400 keys (~20 s on
a busy 2-core CPU).
"""
from __future__ import annotations

import argparse, json, platform, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path: sys.path.insert(0, str(ROOT))          # the package of this checkout, not an installed one
IDEAS = ROOT / "bench" / "ideas"


def machine() -> str:
    "The CPU model (`lscpu`) and torch's CPU capability: the machine a timing or a result came from."
    import torch
    try: model = next(l.split(":", 1)[1].strip() for l in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines()
                      if l.startswith("Model name"))
    except Exception: model = platform.processor() or "unknown CPU"
    return f"{model}; torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}"


def score_idea(matches: list[tuple[str, str]], exp: dict) -> dict:
    "Which expected slots the `(words, concept)` matches fill, which matches are wrong, which slots are missed."
    slots = [set(s) for s in exp.get("expect", [])]
    ok = set().union(*slots, exp.get("also_ok", [])) if slots else set(exp.get("also_ok", []))
    filled = [any(c in s for _, c in matches) for s in slots]
    wrong = [f"{w} -> {c}" for w, c in matches if c not in ok]
    missed = [" / ".join(sorted(s))[:60] for s, f in zip(exp.get("expect", []), filled) if not f]
    return {"slots": len(slots), "filled": sum(filled), "wrong": wrong, "missed": missed,
            "all": all(filled) and not (not slots and wrong)}


def script_of(idea: str, index, scenes: int, seed: int) -> dict:
    "An idea's sprite script as `tools/eval_openvocab.py --write-scripts` writes it (subjects, places, per scene caption + spec + seed)."
    from moviefactory.script import sprite_plan
    p = sprite_plan(idea, index, scenes, seed)
    return {"subjects": p["subjects"], "places": p["places"], "stand_in": p["stand_in"],
            "scenes": [{"beat": s["beat"], "caption": s["spec"].caption(), "spec": s["spec"].to_dict(), "render_seed": s["render_seed"]}
                       for s in p["scenes"]]}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ideas", default=str(IDEAS / "ideas.txt"))
    ap.add_argument("--expected", default=str(IDEAS / "expected_concepts.json"))
    ap.add_argument("--scripts", default=str(IDEAS / "scripts_sprites.json"), help="published sprite scripts to compare with (read only); 'none': skip")
    ap.add_argument("--json", help="also write the per-idea results and the score here")
    a = ap.parse_args(argv)

    from moviefactory.script import concept_index, understand_idea, CONCEPT_THRESHOLD
    t0 = time.time()
    index = concept_index("sprites")
    t_index = time.time() - t0
    names = {c["name"] for c in index.concepts}
    ideas = [l.strip() for l in Path(a.ideas).read_text(encoding="utf-8").splitlines() if l.strip() and not l.startswith("#")]
    expected = json.loads(Path(a.expected).read_text(encoding="utf-8"))["ideas"]
    if [e["idea"] for e in expected] != ideas: sys.exit(f"{a.expected} does not list the ideas of {a.ideas} in their order")
    bad = sorted({n for e in expected for n in [*(x for s in e.get("expect", []) for x in s), *e.get("also_ok", [])]} - names)
    if bad: sys.exit(f"{a.expected} names concepts the sprite world lacks: {', '.join(bad)}")

    rows, t1 = [], time.time()
    for idea, exp in zip(ideas, expected):
        u = understand_idea(idea, index)
        found = [(m.words, m.concept) for m in u.matches]
        rows.append({"idea": idea, "lines": u.lines(), "found": [f"{w} -> {c}" for w, c in found],
                     "unknown": list(dict.fromkeys(u.unknown)), "colours": list(getattr(u, "colours", []) or []),
                     **score_idea(found, exp)})
    t_ideas = time.time() - t1

    print(f"machine: {machine()}")
    print(f"index: {index} (built in {t_index:.1f} s); {len(ideas)} ideas understood in {t_ideas:.1f} s\n")
    print("| # | idea | concepts found | not understood | slots | wrong | missed |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    esc = lambda xs: ", ".join(xs).replace("|", "/") or "-"
    for i, r in enumerate(rows, 1):
        col = f" (colours not drawn: {', '.join(r['colours'])})" if r["colours"] else ""
        print(f"| {i} | {r['idea']} | {esc(r['found'])} | {esc(r['unknown'])}{col} | {r['filled']}/{r['slots']}"
              f"{' ok' if r['all'] else ''} | {esc(r['wrong'])} | {esc(r['missed'])} |")
    score = {"ideas": len(rows), "all_found": sum(r["all"] for r in rows), "slots": sum(r["slots"] for r in rows),
             "filled": sum(r["filled"] for r in rows), "wrong": sum(len(r["wrong"]) for r in rows),
             "missed": sum(len(r["missed"]) for r in rows), "threshold": CONCEPT_THRESHOLD}
    print(f"\nscore: {score['all_found']}/{score['ideas']} ideas with every expected subject and place found; "
          f"{score['filled']}/{score['slots']} slots filled; {score['wrong']} wrong mappings; {score['missed']} misses")
    print("wrong:", "; ".join(f"{w} ({r['idea']})" for r in rows for w in r["wrong"]) or "none")
    print("missed:", "; ".join(f"{m} ({r['idea']})" for r in rows for m in r["missed"]) or "none")

    if a.scripts != "none" and Path(a.scripts).is_file():
        doc = json.loads(Path(a.scripts).read_text(encoding="utf-8"))
        old = {s["idea"]: s for s in doc["scripts"]}
        keys = ("subjects", "places", "stand_in", "scenes")
        changed = [i for i in ideas if i in old and {k: old[i][k] for k in keys} != script_of(i, index, doc["scenes"], doc["seed"])]
        said = [r["idea"] for r in rows if r["idea"] in old and old[r["idea"]]["understood"] != r["lines"]]
        score["scripts_changed"], score["understood_lines_changed"] = len(changed), len(said)
        print(f"\nsprite scripts that differ from {Path(a.scripts).relative_to(ROOT) if Path(a.scripts).is_absolute() else a.scripts} "
              f"(not rewritten): {len(changed)} of {len(old)}" + (f": {'; '.join(changed)}" if changed else ""))
        for i in changed:
            new = script_of(i, index, doc["scenes"], doc["seed"])
            print(f"  {i}: subjects {old[i]['subjects']} -> {new['subjects']}, places {old[i]['places']} -> {new['places']}")
        print(f"ideas whose 'understood' lines differ from that file's: {len(said)} of {len(old)}")
    if a.json:
        Path(a.json).write_text(json.dumps({"machine": machine(), "score": score, "ideas": rows}, indent=1, ensure_ascii=False) + "\n")
    return score


if __name__ == "__main__":
    main()
