"""The docs site: built offline from the notebooks, opened in a real headless Chromium.

Checks that the core chapter's page shows an exported function's signature and docstring as the
browser renders it, and saves a screenshot to `_docs/screenshot-core.png`; and that stored outputs read as in
Jupyter: Markdown() tables are tables, progress bars show their last state.
"""
import functools, html, http.server, os, re, shutil, subprocess, sys, threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "_docs"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars"]


@pytest.fixture(scope="module")
def site():
    if not (DOCS / "00_core.html").exists():
        subprocess.run([sys.executable, str(ROOT / "tools" / "build_docs.py")], cwd=ROOT, check=True)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(DOCS))
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


def _chromium(*args, tmp_path):
    if CHROMIUM is None:
        if os.environ.get("CI"): pytest.fail("chromium is not installed: .ci/run installs Debian's chromium package")
        pytest.skip("chromium not installed (apt-get install chromium)")
    cmd = [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_every_chapter_is_a_page():
    if not DOCS.exists(): pytest.skip("docs not built yet")
    nbs = [p.stem for p in (ROOT / "nbs").glob("*.ipynb") if not p.name.startswith("_")]
    missing = [n for n in nbs if not (DOCS / f"{n}.html").exists()]
    assert not missing, f"chapters without a page: {missing}"


def test_no_progress_bar_redraws(site):
    "Stored outputs hold a progress bar's last state only (tools/run_nbs.py settles them), so no page prints each redraw."
    redraws = {p.name: n for p in DOCS.glob("*.html") if (n := len(re.findall(r":\s+\d{1,2}%\|", p.read_text())))}
    assert not redraws, f"pages with unfinished progress bars: {redraws}; run python tools/run_nbs.py nbs/*.ipynb --settle-only"


def test_markdown_outputs_render_tables(site):
    "Benchmark tables a notebook shows with IPython's Markdown() are HTML tables on the page, not pipe-separated text."
    tables = re.findall(r"<table.*?</table>", (DOCS / "06_unet.html").read_text(), flags=re.S)
    assert any("compiled+graph" in t and "modelscope" in t for t in tables), "06_unet: the benchmark table is not a table"


def test_readme_and_index_show_the_storyboard(site):
    "The front page and README.md show the README movie's storyboard, from one image in nbs/images/."
    m = re.search(r'<img[^>]*src="([^"]*race_storyboard\.jpg)"', (DOCS / "index.html").read_text())
    assert m and (DOCS / m[1]).stat().st_size > 20_000, "index.html: no storyboard image"
    readme_imgs = re.findall(r"!\[[^]]*\]\(([^)]+)\)", (ROOT / "README.md").read_text())
    assert readme_imgs and all((ROOT / p).is_file() for p in readme_imgs), readme_imgs


def test_one_search_box(site):
    "The sidebar's search box only: newer pydata-sphinx-theme releases add a header bar with another (build_docs.py drops it)."
    page = (DOCS / "index.html").read_text()
    assert page.count('class="btn search-button-field') == 1, "index.html: more than one search box"


def test_core_page_in_chromium(site, tmp_path):
    r = _chromium("--dump-dom", f"{site}/00_core.html", tmp_path=tmp_path)
    dom = html.unescape(re.sub(r"<[^>]+>", "", r.stdout))              # the page's text as rendered
    assert "content-hash" in dom, r.stderr[-2000:]                     # the chapter's own prose
    assert "def content_hash(" in dom                                  # an exported signature, from show_doc
    assert "A short hex digest of" in dom                              # ... and its docstring
    shot = DOCS / "screenshot-core.png"
    shot.unlink(missing_ok=True)
    _chromium(f"--screenshot={shot}", "--window-size=1280,1600", f"{site}/00_core.html", tmp_path=tmp_path)
    assert shot.exists() and shot.stat().st_size > 20_000
