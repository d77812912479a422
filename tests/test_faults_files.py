"""Faults around files: a run killed at each stage, a damaged cache, an unwritable or full output folder.

Everything here is real: `moviefactory make` runs as a child process and is killed with SIGKILL, the script comes
from an OpenAI-protocol server on 127.0.0.1 (so the script stage can be caught while it waits), clips are read back
with the project's decoder (PyAV), and a full disk is a small tmpfs where this machine lets us mount one (as root),
else ENOSPC raised at the rename that would put a file in place.
"""
import errno, json, logging, os, signal, subprocess, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from moviefactory.media import probe, save_clip
from moviefactory.compose import timeline
from moviefactory.core import Cache, MovieFactoryError
from moviefactory.script import TemplateWriter

IDEA, N, FRAMES, FPS, CF = "a race between a car and an airplane", 3, 4, 8, 0.25
CLI = [sys.executable, "-c", "import sys; from moviefactory.cli import main; sys.exit(main())"]
EXPECTED = timeline([FRAMES] * N, FPS, CF, 2.0).frames          # title card + 3 scenes - crossfades


class FakeLLM:
    "An OpenAI chat-completions server on 127.0.0.1 answering a valid script; `hold` makes it wait (bounded) before answering."
    def __init__(self):
        tpl = TemplateWriter(seed=0).write(IDEA, N)
        self.answer = json.dumps({"scenes": [dict(prompt=s.prompt, camera=s.camera, sound=s.sound) for s in tpl.scenes],
                                  "mood": tpl.mood})
        self.hold, self.asked, self.requests = threading.Event(), threading.Event(), 0
        fake = self
        class H(BaseHTTPRequestHandler):
            def log_message(self, *a): pass
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                fake.requests += 1; fake.asked.set()
                if fake.hold.is_set(): time.sleep(20)             # the client is killed meanwhile
                body = json.dumps({"id": "x", "object": "chat.completion", "created": 0, "model": "fake",
                                   "choices": [{"index": 0, "finish_reason": "stop",
                                                "message": {"role": "assistant", "content": fake.answer}}],
                                   "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}).encode()
                try:
                    self.send_response(200); self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
                except OSError: pass
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def llm():
    s = FakeLLM()
    yield s
    s.server.shutdown()


def make_args(url, out, cache, **over):
    a = dict(scenes=N, frames=FRAMES, fps=FPS, steps=1, upscale="lanczos", crossfade=CF, llm="openai", base_url=url,
             llm_model="fake", cache_dir=cache, seed=0) | over
    cli = ["make", IDEA, "-o", str(out)]
    for k, v in a.items(): cli += [f"--{k.replace('_', '-')}", str(v)]
    return a, cli


def temps(*folders):
    "Every leftover a killed run could leave: named temporaries anywhere under `folders`, moviefactory-* in the system temp."
    return sorted(str(p) for f in folders for p in Path(f).rglob("*") if ".mftmp-" in p.name or p.name.startswith("moviefactory-"))


def run_until(cmd, env, cond, log, timeout=240):
    "Run `cmd` until `cond()` holds, then SIGKILL it: whether it was caught (still running when the condition held)."
    with open(log, "w") as fh:
        p = subprocess.Popen(cmd, env=env, stdout=fh, stderr=subprocess.STDOUT)
        t = time.time()
        while p.poll() is None and time.time() - t < timeout:
            if cond(): p.send_signal(signal.SIGKILL); p.wait(); return True
            time.sleep(0.002)
        if p.poll() is None: p.kill(); p.wait()
        return False


def entries(cache, ns): return list((Path(cache) / ns).glob("*.check.json"))


@pytest.fixture(scope="module")
def made(tmp_path_factory, llm):
    """`moviefactory make` killed in each stage in turn (script, video, upscale, sound, compose), each run resuming the
    last, then a run that finishes. Returns the folders and the finished run's output."""
    root = tmp_path_factory.mktemp("killed")
    out, cache, systmp = root / "out" / "race.mp4", root / "cache", root / "systmp"
    systmp.mkdir()
    env = os.environ | {"MOVIEFACTORY_PROGRESS": "0", "TMPDIR": str(systmp), "HF_HUB_OFFLINE": "1", "OPENAI_API_KEY": "none",
                        "MOVIEFACTORY_LLM": "auto"}
    _, cmd = make_args(llm.url, out, cache)
    cmd = CLI + cmd
    stages = {
        "script": lambda: llm.asked.is_set(),
        "video": lambda: len(entries(cache, "clips")) >= 1,                                  # scene 1 done, 2 and 3 to go
        "upscale": lambda: len(entries(cache, "upscaled")) >= 1,
        "sound": lambda: len(entries(cache, "sounds")) >= 1,
        "compose": lambda: any(out.parent.glob(".race.mp4.mftmp-*.d")),                     # ffmpeg at work
    }
    caught = {}
    for stage, cond in stages.items():
        if stage == "script": llm.hold.set()
        caught[stage] = run_until(cmd, env, cond, root / f"{stage}.log")
        llm.hold.clear()
        assert not out.exists(), f"a movie appeared although the run was killed in the {stage} stage"
    left_by_killed = temps(out.parent, cache)
    t = time.time()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    return dict(root=root, out=out, cache=cache, systmp=systmp, caught=caught, done=done, left=left_by_killed,
                resume_s=time.time() - t)


def test_killed_at_each_stage_then_resumed(made):
    "Each kill landed in its stage; the resumed run makes a whole movie, and no killed run's temporaries are left."
    assert made["caught"] == dict.fromkeys(("script", "video", "upscale", "sound", "compose"), True), made["caught"]
    done = made["done"]
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    info = probe(made["out"], count_frames=True)
    assert info["video"]["decoded"] == info["video"]["frames"] == EXPECTED
    assert abs(info["video"]["duration"] - EXPECTED / FPS) < 1e-6
    assert info["audio"] is not None
    assert f"{EXPECTED / FPS:.1f}s of movie" in done.stdout                         # the summary states what was written
    assert any(".mftmp-" in p for p in made["left"]), made["left"]                 # the compose kill did leave some ...
    assert temps(made["out"].parent, made["cache"], made["systmp"]) == []          # ... and the resumed run removed them
    assert sorted(p.name for p in made["out"].parent.iterdir()) == ["race.json", "race.mp4", "race.png"]


def test_damaged_cache_entries_are_made_again(made, llm, caplog):
    "Truncated, emptied and wrong-length cached clips, an emptied sound and a cut script: all made again, the movie whole."
    from moviefactory.make import make_movie
    logging.getLogger("moviefactory").addHandler(caplog.handler)       # (the package logger does not propagate)
    cache, out = made["cache"], made["root"] / "again" / "race.mp4"
    kw, _ = make_args(llm.url, out, cache, crossfade=0)       # no crossfade: a short clip would not even fail there
    kw.pop("scenes"); kw["audio"] = True
    clips = sorted((cache / "clips").glob("*.mkv"), key=lambda p: p.stat().st_mtime)
    ups, sounds = sorted((cache / "upscaled").glob("*.mkv")), sorted((cache / "sounds").glob("*.npy"))
    script = next((cache / "scripts").glob("*.json"))
    clips[0].write_bytes(clips[0].read_bytes()[: clips[0].stat().st_size // 2])      # cut short
    ups[1].write_bytes(b"")                                                            # emptied
    save_clip(np.zeros((FRAMES - 1, 80, 192, 3), np.uint8), clips[2])                 # a valid clip, one frame short
    sounds[0].write_bytes(b"")
    script.write_text(script.read_text()[:40])
    asked = llm.requests
    try: movie = make_movie(IDEA, out, scenes=N, **kw)
    finally: logging.getLogger("moviefactory").removeHandler(caplog.handler)
    expected = timeline([FRAMES] * N, FPS, 0, 2.0).frames
    info = probe(out, count_frames=True)
    assert info["video"]["decoded"] == expected and movie.duration == expected / FPS
    assert llm.requests == asked + 1                                                   # the cut script was written again
    damaged = [r.getMessage() for r in caplog.records if "is damaged" in r.getMessage()]
    assert len(damaged) == 5, damaged
    for ns, ext in (("clips", ".mkv"), ("upscaled", ".mkv"), ("sounds", ".npy"), ("scripts", ".json")):
        c = Cache(cache, ns)
        keys = [p.name[: -len(ext)] for p in (cache / ns).glob(f"*{ext}") if not p.name.endswith(".check.json")]
        assert keys and all(c.has(k, ext) for k in keys)                              # every entry whole again


def test_nan_frames_are_never_cached(made, llm):
    "An infinite guidance scale through the API: one line, nothing cached, no files beside the movie."
    from moviefactory.make import make_movie
    out = made["root"] / "inf" / "race.mp4"
    kw, _ = make_args(llm.url, out, made["cache"], seed=7, guidance=float("inf"))
    kw.pop("scenes")
    before = set((made["cache"] / "clips").iterdir())
    with pytest.raises(MovieFactoryError, match="inf"): make_movie(IDEA, out, scenes=N, **kw)
    assert set((made["cache"] / "clips").iterdir()) == before
    assert not out.parent.exists() or list(out.parent.iterdir()) == []


def _mount(folder: Path, opts: str) -> bool:
    if os.geteuid() != 0: return False
    return subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(folder)], capture_output=True).returncode == 0


def _cli(argv, capsys):
    from moviefactory.cli import main
    code = main(argv)
    err = capsys.readouterr().err.strip()
    return code, err


@pytest.mark.parametrize("where", ["output", "cache"])
def test_full_folder_is_one_line_and_no_partial_file(made, llm, tmp_path, capsys, monkeypatch, where):
    "A full output or cache folder: exit 2, one line naming the disk, nothing partial left in it."
    full = tmp_path / "full"; full.mkdir()
    mounted = _mount(full, "size=48k")
    if not mounted:                 # no tmpfs here: the disk fills at the rename that would put the file in place
        import moviefactory.core as core
        real = os.replace
        def replace(a, b):
            if str(full) in str(b): raise OSError(errno.ENOSPC, "No space left on device", str(b))
            return real(a, b)
        monkeypatch.setattr(core.os, "replace", replace)
    try:
        out = (full if where == "output" else tmp_path / "o") / "race.mp4"
        cache = made["cache"] if where == "output" else full
        _, argv = make_args(llm.url, out, cache)
        code, err = _cli(argv, capsys)
        assert code == 2 and err.count("\n") == 0 and ("No space left on device" in err or "MiB free" in err), err
        assert "Traceback" not in err
        left = sorted(p.name for p in full.rglob("*") if p.is_file() and not p.name.endswith(".check.json"))
        if where == "output": assert left == [], left
        else: assert all(".mftmp-" not in n for n in left), left          # finished entries may stay, never a partial one
        assert not out.exists()
    finally:
        if mounted: subprocess.run(["umount", str(full)])


def test_unwritable_output_folder_is_one_line(made, llm, tmp_path, capsys):
    "A read-only output folder (a read-only tmpfs as root, a folder without write permission otherwise): one line, at once."
    ro = tmp_path / "ro"; ro.mkdir()
    mounted = _mount(ro, "ro,size=16k")
    if not mounted:
        if os.geteuid() == 0: pytest.skip("root without mount: a folder's permissions do not stop root")
        ro.chmod(0o500)
    try:
        _, argv = make_args(llm.url, ro / "race.mp4", made["cache"])
        t = time.process_time()
        code, err = _cli(argv, capsys)
        assert code == 2 and err.count("\n") == 0 and ("not writable" in err or "Read-only file system" in err), err
        assert time.process_time() - t < 5                            # before any work (CPU seconds: the machine may be shared)
        assert list(ro.iterdir()) == []
    finally:
        if mounted: subprocess.run(["umount", str(ro)])
        else: ro.chmod(0o700)
