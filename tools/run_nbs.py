#!/usr/bin/env python
"""Execute notebooks in place and save their outputs (figures, tables) for the docs site.

nbdev's docs show the outputs stored in the notebooks, the way a developer saves them from JupyterLab.
This does the same from the command line, skipping cells flagged with settings.ini's `tst_flags`
unless `--flags` names them:

    python tools/run_nbs.py nbs/01_toyworld.ipynb            # fast cells only
    python tools/run_nbs.py nbs/07_train.ipynb --flags slow   # also the slow cells
    python tools/run_nbs.py nbs/13_eval.ipynb --keep-skipped  # fast cells; flagged cells keep their stored outputs
    python tools/run_nbs.py nbs/*.ipynb --settle-only         # run nothing: only settle the stored progress bars
                                                              # (and drop the libraries' loader bars)

The loaders' progress bars of transformers and diffusers ("Loading weights", "Loading checkpoint shards", "Writing model
shards", "Loading pipeline components") say nothing a reader needs, so they are switched off for the run
(`quiet_library_bars`). Other progress bars (ours) are stored as a terminal would end up showing them: each line's
text after its last carriage return, without ANSI escapes. Stored raw, the docs would print every redraw.
"""
import argparse, re, subprocess, os, sys, time
from pathlib import Path

from execnb.nbio import read_nb, write_nb
from execnb.shell import CaptureShell
from nbdev.config import get_config
from nbdev.process import extract_directives


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_BAR = re.compile(r"^(.+?):\s+(\d+)%\|")
_LIBRARY_BAR = re.compile(r"^(Loading weights|Loading checkpoint shards|Writing model shards|Loading pipeline components\.*):\s+\d+%\|")


def settle(text: str) -> str:
    """What a terminal finally shows for `text`: each line after its last carriage return, without trailing blanks or
    ANSI escapes, and a progress bar left unfinished only because a nested bar moved the cursor gone when the same bar
    ends further down. The libraries' loader bars (see `quiet_library_bars`) go altogether."""
    lines = [l.rstrip("\r").split("\r")[-1].rstrip() for l in _ANSI.sub("", text).split("\n")]
    bars = [_BAR.match(l) for l in lines]
    def superseded(i):
        m = bars[i]
        return m and m.group(2) != "100" and any(b and b.group(1) == m.group(1) for b in bars[i + 1:])
    return "\n".join(l for i, l in enumerate(lines) if not superseded(i) and not _LIBRARY_BAR.match(l))


def settle_streams(nb) -> int:
    "Settle every stored stream output of `nb` in place (see `settle`), dropping those left blank; returns how many changed."
    changed = 0
    for cell in nb.cells:
        outs = []
        for o in cell.get("outputs", []):
            if o.get("output_type") == "stream":
                text = "".join(o["text"]) if isinstance(o["text"], list) else o["text"]
                new = settle(text)
                if new != text: o["text"], changed = new.splitlines(keepends=True), changed + 1
                if not new.strip(): continue                 # only bars that cleared themselves (leave=False)
            outs.append(o)
        if "outputs" in cell: cell["outputs"] = outs
    return changed


def quiet_library_bars():
    """Switch off the loading and saving progress bars of transformers and diffusers in this process, where the notebooks
    run: transformers (and huggingface_hub) read `HF_HUB_DISABLE_PROGRESS_BARS`; diffusers only its own switch."""
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    import diffusers.utils.logging, transformers.utils.logging
    diffusers.utils.logging.disable_progress_bar(); transformers.utils.logging.disable_progress_bar()


def run_nb(fn: Path, force_flags=(), keep_skipped: bool = False):
    cfg = get_config()
    skip = set(cfg.tst_flags.split()) - set(force_flags)
    nb = read_nb(fn)

    def _skip(cell):
        if cell.cell_type != "code": return True
        if "nbdev_export" + "(" in cell.source: return True
        d = extract_directives(cell, remove=False)      # the `#|` lines stay in the source
        if d.get("eval:", [""])[0].lower() == "false": return True
        if skip & d.keys():
            if not keep_skipped: cell.outputs, cell.execution_count = [], None
            return True
        cell.outputs = []      # execnb stores outputs only when there are some: a cell gone quiet would keep stale ones
        return False

    os.environ["IN_TEST"] = "1"
    quiet_library_bars()
    shell = CaptureShell(fn)
    t = time.time()
    cwd = os.getcwd()
    os.chdir(fn.parent)
    try: shell.run_all(nb, exc_stop=True, preproc=_skip)
    finally: os.chdir(cwd)
    settle_streams(nb)
    nb.metadata.setdefault("kernelspec", {"display_name": "python3", "language": "python", "name": "python3"})
    write_nb(nb, fn)
    return time.time() - t


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="+", type=Path)
    ap.add_argument("--flags", default="", help="space-separated test flags to run anyway (e.g. 'slow')")
    ap.add_argument("--keep-skipped", action="store_true", help="flagged cells that are not run keep their stored outputs")
    ap.add_argument("--settle-only", action="store_true", help="run nothing; settle the progress bars of the stored outputs")
    a = ap.parse_args()
    for fn in a.notebooks:
        if a.settle_only:
            nb = read_nb(fn); n = settle_streams(nb); write_nb(nb, fn)
            print(f"{fn}: {n} stream outputs settled", file=sys.stderr); continue
        secs = run_nb(fn.resolve(), a.flags.split(), a.keep_skipped)
        print(f"{fn}: {secs:.1f}s", file=sys.stderr)
    # nbdev_clean of this Python's environment (it may not be on PATH), on the notebooks just run
    clean = Path(sys.executable).parent / "nbdev_clean"
    for fn in a.notebooks: subprocess.run([str(clean) if clean.exists() else "nbdev_clean", "--fname", str(fn)], check=True)
