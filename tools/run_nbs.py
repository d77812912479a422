#!/usr/bin/env python
"""Execute notebooks in place and save their outputs (figures, tables) for the docs site.

nbdev's docs show the outputs stored in the notebooks, the way a developer saves them from JupyterLab.
This does the same from the command line, skipping cells flagged with settings.ini's `tst_flags`
unless `--flags` names them:

    python tools/run_nbs.py nbs/01_toyworld.ipynb            # fast cells only
    python tools/run_nbs.py nbs/07_train.ipynb --flags slow   # also the slow cells
    python tools/run_nbs.py nbs/13_eval.ipynb --keep-skipped  # fast cells; flagged cells keep their stored outputs
"""
import argparse, subprocess, os, sys, time
from pathlib import Path

from execnb.nbio import read_nb, write_nb
from execnb.shell import CaptureShell
from nbdev.config import get_config
from nbdev.process import extract_directives


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
        return False

    os.environ["IN_TEST"] = "1"
    shell = CaptureShell(fn)
    t = time.time()
    cwd = os.getcwd()
    os.chdir(fn.parent)
    try: shell.run_all(nb, exc_stop=True, preproc=_skip)
    finally: os.chdir(cwd)
    nb.metadata.setdefault("kernelspec", {"display_name": "python3", "language": "python", "name": "python3"})
    write_nb(nb, fn)
    return time.time() - t


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="+", type=Path)
    ap.add_argument("--flags", default="", help="space-separated test flags to run anyway (e.g. 'slow')")
    ap.add_argument("--keep-skipped", action="store_true", help="flagged cells that are not run keep their stored outputs")
    a = ap.parse_args()
    for fn in a.notebooks:
        secs = run_nb(fn.resolve(), a.flags.split(), a.keep_skipped)
        print(f"{fn}: {secs:.1f}s", file=sys.stderr)
    # nbdev_clean of this Python's environment (it may not be on PATH), on the notebooks just run
    clean = Path(sys.executable).parent / "nbdev_clean"
    for fn in a.notebooks: subprocess.run([str(clean) if clean.exists() else "nbdev_clean", "--fname", str(fn)], check=True)
