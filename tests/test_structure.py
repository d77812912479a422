"""The package's modules import one way: no cycles, counting the imports inside functions (that is where a loop
hides), and in the order of the layers below; only an entry point (`__main__`) imports the command line.
The chapters they come from keep their exported cells short and their text free of the project's history."""
import ast, json, re
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "moviefactory"

# Lowest first; a module imports only modules of earlier layers (modules of one layer stand beside each other).
LAYERS = [("core",), ("media",), ("toyworld",), ("sprites",), ("sprite_eval",), ("data",), ("domain_norm",), ("spatial",), ("temporal",),
          ("unet_speed",), ("unet",), ("mini",), ("retrieval", "train", "pipeline"), ("distributed", "upscale", "openvocab"), ("script",),
          ("audio_signal",), ("toy_sounds",), ("audio_features",), ("sound_library",), ("default_sounds",), ("music", "effects"),
          ("audio",),
          ("compose",), ("eval",), ("make",), ("cli",), ("__main__",)]


def modules() -> list[str]:
    return sorted(p.stem for p in PKG.glob("*.py") if p.stem == "__main__" or not p.stem.startswith("_"))


def imported(name: str) -> dict[str, list[int]]:
    "The package's modules that module `name` imports anywhere in its file (top level or inside a function), with line numbers."
    tree, mods, out = ast.parse((PKG / f"{name}.py").read_text()), set(modules()), {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1: parts = (node.module or "").split(".")
            elif node.module and node.module.split(".")[0] == "moviefactory": parts = node.module.split(".")[1:]
            else: continue
            # `from moviefactory import eval` / `from . import eval` name the module in `names`
            targets = [parts[0]] if parts and parts[0] else [a.name for a in node.names]
        elif isinstance(node, ast.Import):
            targets = [a.name.split(".")[1] for a in node.names if a.name.startswith("moviefactory.")]
        else: continue
        for t in targets:
            if t in mods and t != name: out.setdefault(t, []).append(node.lineno)
    return out


def graph() -> dict[str, dict[str, list[int]]]:
    return {m: imported(m) for m in modules()}


def find_cycle(g) -> list[str] | None:
    "A list of modules that import each other in a loop, or None."
    state, stack = {}, []
    def visit(m):
        state[m] = "open"; stack.append(m)
        for n in sorted(g[m]):
            if state.get(n) == "open": return stack[stack.index(n):] + [n]
            if n not in state and (c := visit(n)): return c
        state[m] = "done"; stack.pop()
        return None
    for m in sorted(g):
        if m not in state and (c := visit(m)): return c
    return None


def test_the_parser_sees_imports_inside_functions(tmp_path, monkeypatch):
    "A loop made only of imports inside functions is still a loop."
    (tmp_path / "a.py").write_text("from .b import x\n")
    (tmp_path / "b.py").write_text("def f():\n    from moviefactory.a import y\n    import moviefactory.c\n")
    (tmp_path / "c.py").write_text("def g():\n    from moviefactory import a\n")
    monkeypatch.setitem(globals(), "PKG", tmp_path)
    g = graph()
    assert g == {"a": {"b": [1]}, "b": {"a": [2], "c": [3]}, "c": {"a": [2]}}, g
    assert find_cycle(g) == ["a", "b", "a"]
    (tmp_path / "b.py").write_text("x = 1\n")
    assert find_cycle(graph()) is None


def test_no_import_cycle():
    cycle = find_cycle(graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_every_module_has_a_layer():
    layered = {m for layer in LAYERS for m in layer}
    assert set(modules()) <= layered, f"modules without a layer in LAYERS: {sorted(set(modules()) - layered)}"


def test_imports_go_down_the_layers():
    rank = {m: i for i, layer in enumerate(LAYERS) for m in layer}
    up = [f"{m} imports {n} (line {lines[0]})" for m, deps in graph().items() for n, lines in deps.items()
          if rank.get(n, -1) >= rank.get(m, -1)]
    assert not up, "imports that go up or sideways: " + "; ".join(up)


def test_only_an_entry_point_imports_the_cli():
    users = [m for m, deps in graph().items() if "cli" in deps and m != "__main__"]
    assert not users, f"modules importing moviefactory.cli: {users} (only the entry point `__main__` may)"


# A name starting with "_" is its module's own business. These are imported anyway, for now: core's shared helpers
# (`core` is where shared checks live; they are still spelled private) and the toy world's drawing helpers that the
# sprite world reuses. Anything not listed fails: make the name public where it belongs, or move it there.
PRIVATE_IMPORTS_ALLOWED = {
    "core": {"_check", "_reason", "_byte_symbols"},
    "toyworld": {"_grade_float", "_paste", "_smoothstep", "_vgrad", "_a", "_lanes", "_MOTION_PHRASES", "_CAMERA_PHRASES"},
}


def private_imports(name: str) -> list[tuple[str, str, int]]:
    "(module, private name, line) for every `from <package module> import _name` in module `name`."
    tree, mods, out = ast.parse((PKG / f"{name}.py").read_text()), set(modules()), []
    for node in ast.walk(tree):
        if not isinstance(node, ast.ImportFrom): continue
        if node.level == 1: parts = (node.module or "").split(".")
        elif node.module and node.module.split(".")[0] == "moviefactory": parts = node.module.split(".")[1:]
        else: continue
        if parts and parts[0] in mods and parts[0] != name:
            out += [(parts[0], a.name, node.lineno) for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
    return out


def test_private_imports_are_seen(tmp_path, monkeypatch):
    (tmp_path / "a.py").write_text("def _x(): pass\n")
    (tmp_path / "b.py").write_text("from .a import _x\ndef f():\n    from moviefactory.a import _x as y\n")
    monkeypatch.setitem(globals(), "PKG", tmp_path)
    assert private_imports("b") == [("a", "_x", 1), ("a", "_x", 3)]
    assert private_imports("a") == []


def test_no_module_imports_another_modules_private_names():
    bad = [f"{m} imports {src}.{n} (line {line})" for m in modules() for src, n, line in private_imports(m)
           if n not in PRIVATE_IMPORTS_ALLOWED.get(src, set())]
    assert not bad, "private names imported from another module: " + "; ".join(bad)


# The chapters (`nbs/*.ipynb`) teach: prose, a short exported cell, then a cell that shows it working. An exported cell
# longer than this is split along its ideas (a helper in its own cell, a class's methods in a later cell).
MAX_EXPORTED_LINES = 60
NBS = Path(__file__).resolve().parents[1] / "nbs"
_EXPORT = re.compile(r"#\s*\|\s*export[si]?\b")


def chapters() -> list[Path]:
    return sorted(p for p in NBS.glob("*.ipynb") if not p.name.startswith("_"))


def cells(nb: Path, kind: str) -> list[tuple[str, str]]:
    "(cell id, source) of every cell of type `kind` in notebook `nb`."
    return [(c.get("id", f"#{i}"), "".join(c["source"])) for i, c in enumerate(json.loads(nb.read_text())["cells"])
            if c["cell_type"] == kind]


def exported(src: str) -> bool:
    "Whether a code cell's leading directives (`#| export`, `#| exports`, `#| exporti`) export it."
    for line in src.splitlines():
        if not line.lstrip().startswith("#"): return False
        if _EXPORT.match(line.strip()): return True
    return False


def test_exported_is_read_from_the_directives():
    assert exported("#| export\nx = 1") and exported("#| hide\n# | exports\nx = 1") and exported("#|exporti\nx = 1")
    assert not exported("x = 1\n#| export") and not exported("#| hide\nx = 1") and not exported("#| exporter\nx = 1")


def test_exported_cells_are_short():
    long = [f"{nb.name} cell {cid}: {n} lines" for nb in chapters() for cid, src in cells(nb, "code")
            if exported(src) and (n := len(src.splitlines())) > MAX_EXPORTED_LINES]
    assert not long, f"exported cells over {MAX_EXPORTED_LINES} lines (split them along their ideas): " + "; ".join(long)


# A chapter says what the code does and why, not when or in which commit or issue it happened: dates, commit hashes
# and issue numbers belong in the git log and in `bench/README.md` (measurements), not in the text a reader learns from.
# A link to another project's issue is fine: its number is in the URL only.
PROJECT_HISTORY = {
    "a date": re.compile(r"\b(?:19|20)\d\d-[01]\d-[0-3]\d\b"),
    "a commit hash": re.compile(r"`(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{7,40}`|(?<![0-9A-Za-z])[0-9a-f]{40}(?![0-9A-Za-z])"),
    "an issue number": re.compile(r"(?<![\w/&])#\d+\b|\b(?:issue|pr|pull request)s?\s+#?\d+\b", re.I),
}


def history_in(text: str) -> list[str]:
    "What of the project's history `text` names: ('an issue number: #32', ...)."
    return [f"{what}: {m.group(0)!r}" for what, rx in PROJECT_HISTORY.items() for m in rx.finditer(text)]


def test_history_patterns():
    assert history_in("since 2026-12-07 (commit `70d6555`), see #32 and issue 32; PR 7") == [
        "a date: '2026-12-07'", "a commit hash: '`70d6555`'", "an issue number: '#32'", "an issue number: 'issue 32'",
        "an issue number: 'PR 7'"]
    assert history_in("x " + "ab12" * 10 + " y") == ["a commit hash: '" + "ab12" * 10 + "'"]
    assert not history_in("## 3. Scenes: 30 scenes of `20000000` bytes, `decade`, 4K at 2021 "
                          "([reported](https://github.com/o/r/issues/3407)), &#8212; `MAX_SCENES`")


def test_chapters_tell_no_project_history():
    found = [f"{nb.name} cell {cid}: {h}" for nb in chapters() for cid, src in cells(nb, "markdown") for h in history_in(src)]
    assert not found, "dates, commit hashes or issue numbers in chapter text (move them to the git log or bench/README.md): " + "; ".join(found)
