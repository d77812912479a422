#!/usr/bin/env python
"""Benchmark the audio library: query latency over 100k items, and indexing throughput in files per second.

    python bench/bench_audio.py                 # both parts, ~2 minutes on 2 CPU cores
    python bench/bench_audio.py --items 20000   # a smaller index
    python bench/bench_audio.py --json out.json

Query time: 100k caption vectors (blends of two of the default library's 228 real MiniLM caption embeddings
plus a little noise, so the index has the clustered but continuous structure of a real sound library) are put
in a `VectorIndex` twice: exact (flat) and as the library stores anything past `flat_max` = 50k (HNSW).
Queries are real MiniLM embeddings of 200 sound descriptions, searched one at a time (the way a movie asks,
scene by scene), k = 10. Reported: median and 95th-percentile ms per query, build seconds, and the HNSW
index's recall@10 against the exact answer.

Indexing throughput: `AudioLibrary.build` over a copy of the shipped effects (200 Opus files, ~8 minutes of
audio) without their CSV or precomputed embeddings, so every file is decoded, measured (loudness), captioned
from its name and embedded (MiniLM captions, aiSFX audio); and again with caption embeddings only.
"""
import argparse, json, os, shutil, statistics, sys, tempfile, time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("MOVIEFACTORY_PROGRESS", "0")
from moviefactory.audio import AudioLibrary, TextEncoder, VectorIndex, assets_dir, default_library  # noqa: E402

QUERIES = ["a car engine", "a dog barking", "waves on the beach", "a jet plane flying over", "birds singing at dawn",
           "a rocket launch", "a ball bouncing", "a train horn", "wind howling", "a horse galloping", "a door creaking",
           "footsteps on gravel", "an explosion", "thunder and rain", "a crowd cheering", "a drum roll", "glass breaking",
           "a cat meowing", "bubbles underwater", "a clock ticking"]


def bench_query(n_items: int, n_queries: int = 200, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    lib = default_library()
    base = np.concatenate([lib.indexes["text"][k].vectors(np.arange(len(lib))[[it.kind == k for it in lib.items]])
                           for k in ("effect", "music")])
    a = rng.uniform(0.5, 1.0, (n_items, 1)).astype(np.float32)          # blends of two real captions, plus noise
    X = a * base[rng.integers(0, len(base), n_items)] + (1 - a) * base[rng.integers(0, len(base), n_items)]
    X += 0.02 * rng.standard_normal(X.shape).astype(np.float32)
    enc = TextEncoder()
    Q = enc.encode_text([f"{q}, take {i}" if i else q for i in range(n_queries // len(QUERIES) + 1) for q in QUERIES][:n_queries])
    out = {"items": n_items, "dim": int(X.shape[1]), "queries": n_queries, "k": 10}
    answers = {}
    for name, flat_max in (("flat", n_items + 1), ("hnsw", 0)):
        ix = VectorIndex(X.shape[1], flat_max=flat_max)
        t = time.perf_counter(); ix.add(X, np.arange(n_items)); build = time.perf_counter() - t
        ix.search(Q[:1], 10)                                     # warm up
        times, ids = [], []
        for q in Q:
            t = time.perf_counter(); _, I = ix.search(q[None], 10); times.append((time.perf_counter() - t) * 1e3); ids.append(I[0])
        answers[name] = ids
        out[name] = {"index": ix.kind, "build_s": round(build, 2), "ms_median": round(statistics.median(times), 3),
                     "ms_p95": round(float(np.percentile(times, 95)), 3)}
    out["hnsw"]["recall@10_vs_exact"] = round(float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(answers["hnsw"], answers["flat"])])), 4)
    return out


def bench_indexing() -> dict:
    src = assets_dir() / "sounds"
    files = sorted(p for p in src.rglob("*.opus"))
    out = {"files": len(files)}
    with tempfile.TemporaryDirectory() as td:
        d = Path(td) / "sounds"
        for p in files:
            (d / p.parent.name).mkdir(parents=True, exist_ok=True)
            shutil.copy(p, d / p.parent.name / p.name)
        TextEncoder().encode_text(["warm up"])                   # model loading is not indexing
        for name, audio in (("captions+audio", True), ("captions only", False)):
            t = time.perf_counter()
            lib = AudioLibrary.build(d, index_dir=Path(td) / name.replace("+", "_").replace(" ", "_"), audio_embeddings=audio)
            s = time.perf_counter() - t
            out[name] = {"seconds": round(s, 2), "files_per_s": round(len(lib) / s, 1), "indexed": len(lib),
                         "skipped": sum(len(r["skipped"]) for r in lib.reports)}
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--skip-indexing", action="store_true")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    res = {"cpu_count": os.cpu_count(), "query": bench_query(a.items)}
    print(json.dumps(res["query"], indent=1), flush=True)
    if not a.skip_indexing:
        res["indexing"] = bench_indexing()
        print(json.dumps(res["indexing"], indent=1))
    if a.json: a.json.write_text(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()
