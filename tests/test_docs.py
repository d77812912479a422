"""The docs site: built offline from the notebooks, opened in a real headless Chromium.

Checks that the core chapter's page shows an exported function's signature and docstring as the
browser renders it, and saves a screenshot to `_docs/screenshot-core.png`; that stored outputs read as in
Jupyter: Markdown() tables are tables, progress bars show their last state; and that the site needs no network:
no page loads a script or stylesheet from another host, the maths is typeset by the MathJax copied into the site
(checked in Chromium, `_docs/screenshot-maths.png`), and "source" links open the package source shipped with it.
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
    tables = re.findall(r"<table.*?</table>", (DOCS / "06b_unet_speed.html").read_text(), flags=re.S)
    assert any("compiled+graph" in t and "modelscope" in t for t in tables), "06b_unet_speed: the benchmark table is not a table"


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


# What a page may load at once from elsewhere: nothing. (sphinx-thebe's THEBE_JS_URL is a string its script would
# fetch only when a reader presses a launch button, which this site does not show; it loads nothing by itself.)
_REMOTE_ASSET = re.compile(r"<(?:script|img|iframe)[^>]*\ssrc=\"(?:https?:)?//|<link[^>]*\shref=\"(?:https?:)?//[^\"]*\"[^>]*>")


def test_no_page_loads_from_a_network(site):
    "No script, stylesheet or image from another host; MathJax from the site's own _static/, not a CDN."
    remote = {p.name: m[0][:120] for p in DOCS.glob("*.html") if (m := [l for l in _REMOTE_ASSET.findall(p.read_text())
                                                                   if "stylesheet" in l or "<link" not in l])}
    assert not remote, f"pages that load from the network: {remote}"
    pages = [p for p in DOCS.glob("*.html") if 'class="math' in p.read_text()]
    assert {"03_domain_norm.html", "13_eval.html"} <= {p.name for p in pages}, "the chapters with maths have no maths"
    for p in pages:
        text = p.read_text()
        assert "mathjax@" not in text and "cdn.jsdelivr" not in text, f"{p.name}: MathJax from a CDN"
        src = re.search(r'<script[^>]*src="(_static/mathjax/MathJax\.js)\?config=([\w-]+)"', text)
        assert src, f"{p.name}: no local MathJax"
        assert (DOCS / src[1]).is_file() and (DOCS / "_static/mathjax/config" / f"{src[2]}.js").is_file()


def test_maths_typeset_offline(site, tmp_path):
    "Chromium typesets every formula of the eval chapter with the site's MathJax: no raw \\( ... \\) is left."
    page = (DOCS / "13_eval.html").read_text()
    n = page.count('class="math notranslate')
    assert n >= 3, "13_eval: expected the Frechet distance's formulas"
    r = _chromium("--virtual-time-budget=20000", "--dump-dom", f"{site}/13_eval.html", tmp_path=tmp_path)
    dom = r.stdout
    typeset = len(re.findall(r'<span class="MathJax"[^>]*id="MathJax-Element-\d+-Frame"', dom))
    assert typeset == n, f"13_eval: {typeset} of {n} formulas typeset; {r.stderr[-1000:]}"
    assert "Math Processing Error" not in dom
    shot = DOCS / "screenshot-maths.png"
    shot.unlink(missing_ok=True)
    _chromium("--virtual-time-budget=20000", f"--screenshot={shot}", "--window-size=1200,2600", f"{site}/13_eval.html",
              tmp_path=tmp_path)
    assert shot.exists() and shot.stat().st_size > 20_000


def test_source_links_open_the_shipped_source(site):
    "Every source link points to a page of the package source in the site, at a line that exists there."
    links = {(p.name, m[1], m[2]) for p in DOCS.glob("*.html") for m in re.finditer(r'href="src/([\w/]+\.py)\.html#L-(\d+)"', p.read_text())}
    assert len(links) > 50, "too few source links: show_doc's are missing"
    for name, py, line in links:
        target = DOCS / "src" / f"{py}.html"
        assert target.is_file(), f"{name}: {py} is not in the site"
        assert f'id="L-{line}"' in target.read_text(), f"{name}: {py} has no line {line}"
    stray = {p.name for p in DOCS.glob("*.html") if re.search(r'href="https?://[^"]*/blob/[^"]*/moviefactory/', p.read_text())}
    assert not stray, f"source links that leave the site: {stray}"


def test_measurement_links_reach_the_bench_page(site):
    "Chapters keep one sentence and a link for their measurement logs: each link reaches a heading of bench.html."
    page = (DOCS / "bench.html").read_text()
    links = {(p.name, m[1]) for p in DOCS.glob("*.html") for m in re.finditer(r'href="bench\.html#([\w-]+)"', p.read_text())}
    assert {n for n, _ in links} >= {"06_unet.html", "13_eval.html"}, links
    missing = [(n, a) for n, a in links if f'id="{a}"' not in page]
    assert not missing, f"links to bench.html without their heading: {missing}"
