"""Every notebook in `nbs/` is one test, run by nbdev's own runner.

Cells flagged with a `tst_flags` entry of settings.ini (`#| slow`, `#| gpu`, `#| notest`) are skipped;
set `MOVIEFACTORY_TEST_FLAGS="slow"` (space separated) to run those too, as `nbdev_test --flags` does.
"""
import os
from pathlib import Path

import pytest
from nbdev.config import get_config
from nbdev.test import test_nb as run_notebook

ROOT = Path(__file__).resolve().parents[1]
NBS = sorted(p for p in (ROOT / "nbs").rglob("*.ipynb")
             if ".ipynb_checkpoints" not in p.parts and not p.name.startswith("_"))


@pytest.mark.parametrize("nb", NBS, ids=[p.stem for p in NBS])
def test_notebook(nb, monkeypatch):
    cfg = get_config(path=ROOT)
    skip = cfg.tst_flags.split()
    force = os.environ.get("MOVIEFACTORY_TEST_FLAGS", "").split()
    monkeypatch.chdir(ROOT / "nbs")
    ok, secs = run_notebook(nb, skip_flags=skip, force_flags=force, basepath=ROOT)
    assert ok, f"{nb.name} failed (see the traceback above)"
