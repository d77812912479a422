#!/usr/bin/env python
"""Build the docs site offline, and README.md from nbs/index.ipynb.

nbdev processes the notebooks (`nbdev_proc_nbs`: show_doc rendered, hidden cells dropped, frontmatter
extracted) into `_proc/`; Quarto would then render them (`nbdev_docs`). Quarto cannot be installed on
our CI machines, so this renders the same processed notebooks with Jupyter Book 1.x instead, into `_docs/`.
Where Quarto is installed, `nbdev_docs` still works from `nbs/_quarto.yml`.

The site needs no network to be read:
- maths is typeset in the browser by MathJax 2.7 copied into `_docs/_static/mathjax/` from the `jupyter-server-mathjax`
  package (the dev extra), instead of Jupyter Book's MathJax from a CDN;
- "source" links point to the package's source copied into the site (`_docs/src/NAME.py.html`, one anchor per line),
  not to a repository: the project has none published (settings.ini's `git_url` names a reserved `.invalid` host).

    python tools/build_docs.py            # README.md + _docs/
    python tools/build_docs.py --readme   # README.md only
"""
import argparse, ast, json, re, shutil, subprocess, sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
PROC, OUT = ROOT / "_proc", ROOT / "_docs"
_ATTRS = re.compile(r"\{(?:target|style|\.)[^}\n]*\}")   # Quarto attribute blocks, e.g. {target="_blank" ...}
# a source link as nbdev writes it, from whatever git_url the notebook was rendered with: {git_url}/blob/{branch}/moviefactory/x.py#L12
_SOURCE_LINK = re.compile(r"https?://[^\s()\"'<>]+/blob/[\w.-]+/moviefactory/([\w/]+)\.py(?:#L(\d+))?")
MATHJAX_PATH = "mathjax/MathJax.js?config=TeX-AMS-MML_HTMLorMML-full"   # under _static/
MATHJAX_CONFIG = {   # MathJax 2 as Jupyter's classic notebook sets it up: the STIX web fonts are the ones the package ships
    "tex2jax": {"inlineMath": [["\\(", "\\)"]], "displayMath": [["\\[", "\\]"]], "processEscapes": True},
    "HTML-CSS": {"availableFonts": [], "webFont": "STIX-Web", "imageFont": None, "preferredFont": None},
    "menuSettings": {"zoom": "None"}, "messageStyle": "none"}


def _src(cell): return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _frontmatter(nb):
    "Title and description from the raw frontmatter cell that nbdev writes first."
    cell = nb["cells"][0]
    if cell["cell_type"] != "raw" or not _src(cell).startswith("---"): return {}
    return yaml.safe_load(_src(cell).strip().strip("-")) or {}


def _doc_sites() -> set:
    """The site addresses nbdev may have written into links: settings.ini's, the one in the package's `_modidx.py`
    (written at the last export) and the placeholder one that outputs stored before settings.ini changed still carry."""
    from nbdev.config import get_config
    cfg = get_config()
    sites = {f"{cfg.doc_host}{cfg.doc_baseurl}/", "https://moviefactory.github.io/moviefactory/"}
    try:
        from moviefactory._modidx import d
        sites.add(f"{d['settings']['doc_host']}{d['settings']['doc_baseurl']}/")
    except (ImportError, KeyError): pass
    return sites


def _local_links(text: str, pages: dict) -> str:
    "nbdev links symbols to the published site's `core.html#scene`; point them at this build's pages."
    for site in _doc_sites(): text = text.replace(site, "")
    text = text.replace("../bench/README.md", "bench.html")           # the measurements page (bench/README.md)
    text = _SOURCE_LINK.sub(lambda m: f"src/{m[1]}.py.html" + (f"#L-{m[2]}" if m[2] else ""), text)
    return re.sub(r"\b([\w-]+)\.html\b", lambda m: pages.get(m[1], m[1]) + ".html", text)


def _for_jupyter_book(path: Path, pages: dict) -> dict:
    "Turn one nbdev-processed notebook into one Jupyter Book renders like Quarto would."
    nb = json.loads(path.read_text())
    fm = _frontmatter(nb)
    cells = [c for c in nb["cells"] if c["cell_type"] != "raw"]
    head = f"# {fm.get('title', path.stem)}\n\n" + (f"> {fm['description']}\n" if fm.get("description") else "")
    cells.insert(0, {"cell_type": "markdown", "metadata": {}, "source": head})
    for c in cells:
        if c["cell_type"] == "markdown": c["source"] = _local_links(_ATTRS.sub("", _src(c)), pages)
        for o in c.get("outputs", []):
            md = o.get("data", {}).get("text/markdown")
            if md is not None:   # docutils allows no horizontal rule inside an output: drop show_doc's
                md = _ATTRS.sub("", "".join(md) if isinstance(md, list) else md)
                o["data"]["text/markdown"] = _local_links(re.sub(r"^---\s*$", "", md, flags=re.M), pages)
        src = _src(c)
        if c["cell_type"] == "code" and ("#| echo: false" in src or "#|echo: false" in src):
            c.setdefault("metadata", {})["tags"] = ["remove-input"]
    for i, c in enumerate(cells): c.setdefault("id", f"cell-{i}")
    nb.setdefault("metadata", {}).update(language_info={"name": "python", "pygments_lexer": "ipython3"},
                                         kernelspec={"display_name": "python3", "language": "python", "name": "python3"})
    nb["cells"], nb["nbformat"], nb["nbformat_minor"] = cells, 4, max(nb.get("nbformat_minor", 5), 5)
    path.write_text(json.dumps(nb))
    return fm


def _mathjax_dir() -> Path:
    "MathJax 2's files, from the jupyter-server-mathjax package (the dev extra)."
    try: import jupyter_server_mathjax
    except ImportError: sys.exit("docs: no MathJax to copy: pip install jupyter-server-mathjax (in the dev extra: pip install -e '.[dev]')")
    return Path(jupyter_server_mathjax.__file__).parent / "static"


def _copy_mathjax(dst: Path) -> None:
    "The MathJax files the site uses: HTML-CSS output with STIX web fonts, English (no SVG output, no translations)."
    shutil.copytree(_mathjax_dir(), dst, dirs_exist_ok=True,
                    ignore=lambda d, names: [n for n in names if n in ("localization", "SVG") or n.endswith(".py")])


def _source_pages(dst: Path) -> int:
    "Each module of the package as a page with an anchor per line (`#L-12`), the target of the pages' source links."
    from pygments import highlight
    from pygments.formatters import HtmlFormatter
    from pygments.lexers import PythonLexer
    dst.mkdir(parents=True, exist_ok=True)
    mods = sorted((ROOT / "moviefactory").rglob("*.py"))
    for py in mods:
        rel = py.relative_to(ROOT / "moviefactory").with_suffix("")
        page = dst / f"{rel}.py.html"; page.parent.mkdir(parents=True, exist_ok=True)
        fmt = HtmlFormatter(full=True, linenos="table", lineanchors="L", anchorlinenos=True, title=f"moviefactory/{rel}.py")
        page.write_text(highlight(py.read_text(encoding="utf-8"), PythonLexer(), fmt), encoding="utf-8")
    return len(mods)


def readme():
    "README.md from nbs/index.ipynb: its markdown, its code and the code's text outputs."
    nb = json.loads((ROOT / "nbs" / "index.ipynb").read_text())
    parts = []
    for c in nb["cells"]:
        src = _src(c)
        if c["cell_type"] == "markdown":
            src = re.sub(r"^# (.*)\n\n> (.*)$", r"# \1\n\n> \2", src, flags=re.M)
            src = re.sub(r"\]\((?!https?:|#)([^)]+\.(?:png|jpg))\)", r"](nbs/\1)", src)   # images: from the repo root
            parts.append(src)
        elif c["cell_type"] == "code" and not src.lstrip().startswith("#|"):
            parts.append(f"```python\n{src}\n```")
            outs = ["".join(o.get("text", "")) for o in c.get("outputs", []) if o.get("output_type") == "stream"]
            outs += ["".join(o["data"]["text/plain"]) for o in c.get("outputs", []) if "text/plain" in o.get("data", {})]
            if any(outs): parts.append("```\n" + "".join(outs).rstrip() + "\n```")
    (ROOT / "README.md").write_text("<!-- generated from nbs/index.ipynb by tools/build_docs.py: edit the notebook -->\n\n" + "\n\n".join(parts) + "\n")


def site():
    # nbdev_proc_nbs, less its attempt to install Quarto
    import nbdev.quarto, nbdev.processors as procs
    nbdev.quarto._ensure_quarto = lambda: None
    # To render show_doc, nbdev runs exported cells and every cell with an import, even one that also runs a
    # test or a plot (its FAQ warns). Those can need names from cells it skips, and cost minutes: run only
    # exported cells, show_doc cells and cells made of imports alone.
    _do_eval = procs._do_eval
    def _eval_for_docs(cell):
        if not _do_eval(cell): return False
        if cell.directives_.keys() & {"export", "exports", "exporti", "exec_doc"} or procs._is_showdoc(cell): return True
        return all(isinstance(n, (ast.Import, ast.ImportFrom)) for n in cell.parsed_())
    procs._do_eval = _eval_for_docs
    shutil.rmtree(PROC, ignore_errors=True)
    nbdev.quarto._pre_docs(path=ROOT / "nbs", n_workers=0, force=True)
    nbs = sorted(p for p in PROC.glob("*.ipynb") if p.name != "index.ipynb")
    pages = {}                                    # nbdev's output name ("core") -> this build's page ("00_core")
    for p in [PROC / "index.ipynb", *nbs]:
        out = _frontmatter(json.loads(p.read_text())).get("output-file", p.stem + ".html")
        pages[Path(out).stem] = p.stem
    titles = {p.stem: _for_jupyter_book(p, pages) for p in [PROC / "index.ipynb", *nbs]}
    for p in [*(ROOT / "nbs").rglob("*.png"), *(ROOT / "nbs").rglob("*.jpg")]:   # images the notebooks link to
        dst = PROC / p.relative_to(ROOT / "nbs"); dst.parent.mkdir(parents=True, exist_ok=True); shutil.copy(p, dst)
    shutil.copy(ROOT / "bench" / "README.md", PROC / "bench.md")   # the measurement logs the chapters link to
    (PROC / "_toc.yml").write_text(yaml.safe_dump({
        "format": "jb-book", "root": "index",
        "parts": [{"caption": "Chapters", "chapters": [{"file": p.stem} for p in nbs if not p.stem.startswith("tutorial")]},
                  *([{"caption": "Tutorials", "chapters": [{"file": p.stem} for p in nbs if p.stem.startswith("tutorial")]}]
                    if any(p.stem.startswith("tutorial") for p in nbs) else []),
                  {"caption": "Measurements", "chapters": [{"file": "bench"}]}]}, sort_keys=False))
    (PROC / "_config.yml").write_text(yaml.safe_dump({
        "title": "moviefactory", "author": "moviefactory developers", "only_build_toc_files": True,
        "execute": {"execute_notebooks": "off"},
        "sphinx": {"config": {"html_show_copyright": False, "myst_heading_anchors": 3,
                              "nb_render_markdown_format": "gfm",   # Markdown() outputs: tables, as Quarto renders them
                              # these replace Jupyter Book's theme options whole: its own, plus no header bar, which
                              # pydata-sphinx-theme >= 0.16 adds with a second search box (the sidebar keeps one)
                              "html_theme_options": {"search_bar_text": "Search this book...", "home_page_in_toc": True,
                                                     "use_repository_button": False, "use_edit_page_button": False,
                                                     "use_issues_button": False, "navbar_persistent": []},
                              "myst_all_links_external": True,     # keep nbdev's symbol links as written
                              # maths from the copy of MathJax in _static/ (_copy_mathjax), not from a CDN
                              "mathjax_path": MATHJAX_PATH, "mathjax2_config": MATHJAX_CONFIG,
                              "myst_update_mathjax": False}},      # (its MathJax 3 settings would load MathJax deferred)
        "html": {"use_repository_button": False}}, sort_keys=False))
    for stale in (PROC / "_quarto.yml", PROC / "sidebar.yml", PROC / "nbdev.yml"): stale.unlink(missing_ok=True)
    r = subprocess.run([str(Path(sys.executable).with_name("jupyter-book")), "build", str(PROC), "--warningiserror", "--quiet"],
                       cwd=ROOT, capture_output=True, text=True)
    if r.returncode:
        sys.stderr.write(r.stdout[-4000:] + r.stderr[-4000:])
        sys.exit(f"docs build failed (exit {r.returncode})")
    shutil.rmtree(OUT, ignore_errors=True)
    shutil.copytree(PROC / "_build" / "html", OUT)
    _copy_mathjax(OUT / "_static" / "mathjax")
    n = _source_pages(OUT / "src")
    print(f"docs: {len(titles)} pages and the source of {n} modules -> {OUT}/index.html")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--readme", action="store_true", help="only write README.md")
    a = ap.parse_args()
    readme()
    if not a.readme: site()
