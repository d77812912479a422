"""Hostile input to the `moviefactory` command: every bad argument, path, weight file or setting gets one line.

Each case runs the real CLI (`moviefactory.cli.main`) and asserts what a user sees: a non-zero exit status, exactly
one line on stderr and no traceback, no file created anywhere in the working folder (the cache included), and an
answer within seconds of CPU time, i.e. before any model is loaded or any stage has run. The whole table runs in this process
(fast); a sample of it, the cases that depend on the process (environment, user id, a full disk, a missing
package), and the checks of exit status run as separate `python -m moviefactory.cli` processes. Property-based cases
(hypothesis) throw out-of-range and non-finite numbers at every numeric flag.
"""
import contextlib, io, json, math, os, resource, shutil, subprocess, sys, tempfile, time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

ROOT = Path(__file__).resolve().parents[1]
QUICK = 20.0            # CPU seconds: below any stage on a slow CPU, far above a check (well under 1 s; a process with its imports 1-3 s).
                        # CPU time, not wall time: on a shared machine (load 6 on 2 cores) a 2 s check took 50 s of wall time
# the checks come before torch is imported (2 s, and every model needs it): the processes of the table prove it
NO_TORCH = """import sys
from moviefactory.cli import main
rc = main(sys.argv[1:])
if "torch" in sys.modules: print("moviefactory: torch was imported before the arguments were checked", file=sys.stderr)
sys.exit(rc)"""


# --- the places the hostile cases point at ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def world():
    "A working folder with damaged inputs of every kind, and an empty cache; its file list is compared after each case."
    from safetensors.numpy import save_file
    from moviefactory.mini import mini_dir
    w = Path(tempfile.mkdtemp(prefix="mf-faults-"))
    os.chmod(w, 0o755)                                         # (the non-root case must reach it)
    rng = np.random.default_rng(0)
    # a moviefactory-mini folder whose VAE weights are random bytes, one whose VAE is a pickle
    for name in ("mini-random", "mini-pickle"):
        shutil.copytree(mini_dir(), w / name, ignore=shutil.ignore_patterns("training", "*.jpg"))
    vae = next((w / "mini-random" / "vae").glob("*.safetensors"))
    vae.write_bytes(rng.bytes(vae.stat().st_size))
    for f in (w / "mini-pickle" / "vae").glob("*.safetensors"): f.unlink()
    (w / "mini-pickle" / "vae" / "diffusion_pytorch_model.bin").write_bytes(b"\x80\x04\x95" + rng.bytes(64))
    # SD2 folders: empty, pickled U-Net, a good-looking one (configs and a valid safetensors) for the extras cases
    (w / "sd2-empty").mkdir()
    (w / "sd2-pickle" / "unet").mkdir(parents=True)
    (w / "sd2-pickle" / "unet" / "config.json").write_text("{}")
    (w / "sd2-pickle" / "unet" / "diffusion_pytorch_model.bin").write_bytes(b"\x80\x04K.")
    (w / "sd2" / "unet").mkdir(parents=True)
    (w / "sd2" / "unet" / "config.json").write_text("{}")
    save_file({"w": np.zeros(4, np.float32)}, str(w / "sd2" / "unet" / "diffusion_pytorch_model.safetensors"))
    (w / "extras-random.safetensors").write_bytes(rng.bytes(4096))
    (w / "extras.bin").write_bytes(b"\x80\x04K.")
    save_file({"w": np.zeros(4, np.float32)}, str(w / "extras-foreign.safetensors"), metadata={"other": "1"})
    # sound libraries: a manifest cut short, a manifest that is not an object, no manifest, deep nesting
    for name, text in (("lib-cut", '{"format": 1, "sr": 48000, "items": 3, "text": {"enc'), ("lib-list", "[1, 2]"),
                       ("lib-deep", "[" * 100_000 + "]" * 100_000)):
        (w / name).mkdir(); (w / name / "manifest.json").write_text(text)
    (w / "lib-none").mkdir()
    (w / "sounds").mkdir(); (w / "sounds" / "beep.wav").write_bytes(b"RIFF")
    # scripts: cut short, deep nesting, a 5,000-digit number
    (w / "cut.json").write_text('{"idea": "a car", "scenes": [{"prompt": "a car"')
    (w / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (w / "digits.json").write_text('{"idea": "a car", "scenes": [{"prompt": "a car", "duration": ' + "9" * 5000 + "}]}")
    (w / "zero.json").write_text('{"idea": "a car", "scenes": []}')
    (w / "latin1.csv").write_bytes("file,caption\nbeep.wav,caf\u00e9 bell\n".encode("latin-1"))      # (a sound pack's CSV)
    (w / "huge.csv").write_text('file,caption\nbeep.wav,"' + "x" * 200_000 + '"\n')
    (w / "latin1.json").write_bytes('{"idea": "a caf\u00e9 race", "scenes": [{"prompt": "a car"}]}'.encode("latin-1"))
    (w / "a-folder.mp4").mkdir()
    (w / "videos").mkdir()
    (w / "caps.txt").write_text("a red car\n")
    (w / "ro").mkdir(); os.chmod(w / "ro", 0o555)
    (w / "cache").mkdir()
    yield w
    os.chmod(w / "ro", 0o755)
    shutil.rmtree(w, ignore_errors=True)


def listing(w: Path) -> set:
    return {str(p.relative_to(w)) for p in w.rglob("*")}


def env_for(w: Path, **extra) -> dict:
    return os.environ | {"PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "MOVIEFACTORY_PROGRESS": "0",
                         "MOVIEFACTORY_CACHE_DIR": str(w / "cache"), "HOME": str(w)} | extra


# --- the table: (arguments, what the one line must say) ---------------------------------------------------------------
W = "{w}"                          # replaced by the working folder
MAKE = ["make", "a race between a car and an airplane", "-o", f"{W}/movie.mp4"]
TRAIN = ["train", "vae", f"{W}/run"]
CASES = [
    # make: numbers out of range or not finite
    (MAKE + ["--seed", "99999999999999999999"], "seed 99999999999999999999 is out of range: use 0 to 4294967295"),
    (MAKE + ["--seed", "-1"], "seed -1 is out of range"),
    (MAKE + ["--crossfade", "inf"], "crossfade inf is not a finite number"),
    (MAKE + ["--crossfade", "-1"], "crossfade -1.0 is out of range"),
    (MAKE + ["--crossfade", "nan"], "crossfade nan is not a finite number"),
    (MAKE + ["--crossfade", "1.5"], "crossfade 1.5 s is more than half a scene"),
    (MAKE + ["--fps", "0.5"], "fps 0.5 is out of range: use 1 to 240"),
    (MAKE + ["--fps", "0"], "fps 0.0 is out of range"),
    (MAKE + ["--fps=-inf"], "fps -inf is not a finite number"),
    (MAKE + ["--fps", "1", "--frames", "32"], "32 frames at 1 fps make scenes of 32 s"),
    (MAKE + ["--guidance", "inf"], "guidance inf is not a finite number"),
    (MAKE + ["--guidance", "nan"], "guidance nan is not a finite number"),
    (MAKE + ["--guidance", "-1"], "guidance -1.0 is out of range"),
    (MAKE + ["--guidance-cutoff", "1.5"], "guidance cutoff 1.5 is out of range"),
    (MAKE + ["--guidance-cutoff", "nan"], "guidance cutoff nan is not a finite number"),
    (MAKE + ["--batch-size", "-1"], "batch size -1 is out of range"),
    (MAKE + ["--batch-size", "0"], "batch size 0 is out of range"),
    (MAKE + ["--steps", "0"], "steps 0 is out of range"),
    (MAKE + ["--steps", "-3"], "steps -3 is out of range"),
    (MAKE + ["--frames", "0"], "frames 0 is out of range"),
    (MAKE + ["--frames", "33"], "frames 33 is out of range: use 1 to 32"),
    (MAKE + ["--scenes", "0"], "scenes 0 is out of range: use 1 to 30"),
    (MAKE + ["-n", "31"], "scenes 31 is out of range"),
    (MAKE + ["--deep-cache", "0"], "deep cache interval 0 is out of range"),
    (MAKE + ["--llm-timeout", "0"], "LLM timeout 0.0 is out of range"),
    (MAKE + ["--llm-timeout", "nan"], "LLM timeout nan is not a finite number"),
    (MAKE + ["--llm-timeout", "inf"], "LLM timeout inf is not a finite number"),
    # make: what argparse refuses, on one line
    (MAKE + ["--seed", "abc"], "argument --seed: invalid int value: 'abc'"),
    (MAKE + ["--steps", "2.5"], "argument --steps: invalid int value: '2.5'"),
    (MAKE + ["--seed", "9" * 5000], "argument --seed: invalid int value"),
    (MAKE + ["--upscale", "bicubic"], "argument --upscale: invalid choice"),
    (MAKE + ["--sampler", "plms"], "argument --sampler: invalid choice"),
    (MAKE + ["--colour", "red"], "unrecognized arguments: --colour red"),
    # make: other arguments
    (MAKE + ["--device", "tpu"], "unknown device 'tpu'"),
    (MAKE + ["--device", "cuda:x"], "unknown device 'cuda:x'"),
    (MAKE + ["--domain", "nowhere"], "domain 'nowhere' is unknown to this model: use one of web, hd, movie"),
    (MAKE + ["--llm", "gpt5"], "unknown LLM choice 'gpt5'"),
    (["make"], "no idea given"),
    (["make", "   ", "-o", f"{W}/movie.mp4"], "idea is empty"),
    (["make", "car \udcff", "-o", f"{W}/movie.mp4"], "is not valid UTF-8 text"),
    (["make", "-o", f"{W}/movie.mp4", "--script", f"{W}/nope.json"], "script file"),
    # make: script files that cannot be used, refused before any work (they were read after the first log lines)
    (["make", "-o", f"{W}/movie.mp4", "--script", f"{W}/cut.json"], "script is not valid JSON"),
    (["make", "-o", f"{W}/movie.mp4", "--script", f"{W}/deep.json"], "script nests too deeply to read"),
    (["make", "-o", f"{W}/movie.mp4", "--script", f"{W}/digits.json"], "a number of 5000 digits"),
    (["make", "-o", f"{W}/movie.mp4", "--script", f"{W}/zero.json"], "script has 0 scenes"),
    (["make", "-o", f"{W}/movie.mp4", "--script", f"{W}/latin1.json"], "script is not UTF-8 text"),
    (["make", "-o", f"{W}/movie.mp4", "--script", f"{W}/caps.txt"], "script is not valid JSON"),
    # terminal escapes in what a line echoes are shown as \x1b, not sent to the terminal
    (["make", "a car", "-o", "/proc/\x1b[2J\x1b]0;owned\x07.mp4"], "cannot write movie /proc/\\x1b[2J\\x1b]0;owned\\x07.mp4"),
    (MAKE + ["--upscale", "\x1b[2Jbig"], "invalid choice: '\\x1b[2Jbig'"),
    (MAKE + ["--library", f"{W}/\x1b[31mred"], "no sound library at"),
    (["library", "search", "\u202eevil", "dog"], "no sound library at \\u202eevil"),
    # make: a cache folder that cannot be written (it was found after the first log lines)
    (MAKE + ["--cache-dir", "/proc/cache"], "cannot write cache /proc/cache"),
    (MAKE + ["--cache-dir", f"{W}/caps.txt"], "is a file, not a folder"),
    # make: outputs that cannot be written
    (["make", "a car", "-o", "/proc/foo.mp4"], "cannot write movie /proc/foo.mp4"),
    (["make", "a car", "-o", f"{W}/movie.avi"], "must end in .mp4"),
    (["make", "a car", "-o", f"{W}/a-folder.mp4"], "is a folder"),
    (["make", "a car", "-o", "/dev/null/movie.mp4"], "/dev/null is a file"),
    # make: weights
    (MAKE + ["--extras", f"{W}/extras-random.safetensors"], "give --sd2 FOLDER too"),
    (MAKE + ["--sd2", f"{W}/nope"], "no Stable Diffusion 2 folder at"),
    (MAKE + ["--sd2", f"{W}/sd2-empty"], "has no unet/config.json"),
    (MAKE + ["--sd2", "stabilityai/stable-diffusion-2-base"], "not in the local Hugging Face cache and HF_HUB_OFFLINE is set"),
    (MAKE + ["--sd2", f"{W}/sd2-pickle"], "holds pickled weights, which moviefactory never loads"),
    (MAKE + ["--sd2", f"{W}/sd2", "--extras", f"{W}/extras-random.safetensors"], "is not a readable safetensors file"),
    (MAKE + ["--sd2", f"{W}/sd2", "--extras", f"{W}/extras.bin"], "holds pickled weights"),
    (MAKE + ["--sd2", f"{W}/sd2", "--extras", f"{W}/extras-foreign.safetensors"], "is not a MovieFactory extras file"),
    (MAKE + ["--sd2", f"{W}/sd2", "--model", f"{W}/mini-random"], "not both"),
    (MAKE + ["--sd2", f"{W}/sd2", "--guided"], "--guided needs a moviefactory-mini folder"),
    (MAKE + ["--model", f"{W}/nope"], "no video model folder at"),
    (MAKE + ["--model", f"{W}/mini-random"], "is not a readable safetensors file (header too large)"),
    (MAKE + ["--model", f"{W}/mini-pickle"], "holds pickled weights"),
    # make: sound libraries
    (MAKE + ["--library", f"{W}/nope"], "no sound library at"),
    (MAKE + ["--library", f"{W}/lib-cut"], "sound library manifest"),
    (MAKE + ["--library", f"{W}/lib-list"], "is damaged"),
    (MAKE + ["--library", f"{W}/lib-deep"], "cannot be read (RecursionError)"),
    (MAKE + ["--library", f"{W}/lib-none"], "does not exist"),
    # script
    (["script", "a car", "-n", "0", "-o", f"{W}/s.json"], "scenes 0 is out of range"),
    (["script", "a car", "-n", "31", "-o", f"{W}/s.json"], "scenes 31 is out of range"),
    (["script", "a car", "--seed", str(2**40), "-o", f"{W}/s.json"], "seed 1099511627776 is out of range"),
    (["script", "a car", "--timeout", "0", "-o", f"{W}/s.json"], "LLM timeout 0.0 is out of range"),
    (["script", "a car", "--llm-timeout", "nan", "-o", f"{W}/s.json"], "LLM timeout nan is not a finite number"),
    (["script", "a car", "-o", "/proc/s.json"], "cannot write script /proc/s.json"),
    (["script", "a car", "-o", f"{W}/a-folder.mp4"], "is a folder"),
    (["script", "car \udcff", "--llm", "template", "-o", f"{W}/s.json"], "is not valid UTF-8 text"),
    # library
    (["library", "search", "default", "dog", "-k", "0"], "-k 0 is out of range: use 1 to 1000"),
    (["library", "search", "default", "dog", "-k", "-1"], "-k -1 is out of range"),
    (["library", "search", "default", "dog", "-k", "1000000"], "-k 1000000 is out of range"),
    (["library", "search", f"{W}/lib-cut", "dog"], "sound library manifest"),
    (["library", "licences", f"{W}/lib-cut"], "is not valid JSON"),
    (["library", "licences", f"{W}/lib-deep"], "RecursionError"),
    (["library", "search", f"{W}/nope", "dog"], "no sound library at"),
    (["library", "build", "/proc/lib", f"{W}/sounds"], "cannot write library /proc/lib"),
    (["library", "build", f"{W}/newlib", f"{W}/sounds", f"{W}/nope"], "audio folder"),
    (["library", "build", f"{W}/newlib", f"{W}/sounds", "--csv", f"{W}/nope.csv"], "captions CSV"),
    (["library", "build", f"{W}/newlib", f"{W}/sounds", "--csv", f"{W}/latin1.csv"], "captions CSV latin1.csv is not UTF-8 text (byte 25)"),
    (["library", "build", f"{W}/newlib", f"{W}/sounds", "--csv", f"{W}/huge.csv"], "field larger than field limit"),
    (["library", "update", f"{W}/lib-cut", f"{W}/sounds", "--csv", f"{W}/latin1.csv"], "is not UTF-8 text"),
    # train
    (TRAIN + ["--max-steps", "-5", "--batch-size", "0"], "max steps -5 is out of range"),
    (TRAIN + ["--batch-size", "0"], "batch size 0 is out of range"),
    (TRAIN + ["--lr", "nan"], "learning rate nan is not a finite number"),
    (TRAIN + ["--lr", "0"], "learning rate 0.0 is out of range"),
    (TRAIN + ["--minutes", "-1"], "minutes -1.0 is out of range"),
    (TRAIN + ["--num-workers", "-1"], "workers -1 is out of range"),
    (TRAIN + ["--seed", str(2**40)], "seed 1099511627776 is out of range"),
    (TRAIN + ["--checkpoint-every", "0"], "checkpoint interval 0 is out of range"),
    (TRAIN + ["--warmup-steps", "-1"], "warmup steps -1 is out of range"),
    (TRAIN + ["--watermark-weight", "inf"], "watermark weight inf is not a finite number"),
    (TRAIN + ["--guidance-scale", "nan"], "guidance scale nan is not a finite number"),
    (TRAIN + ["--camera-weights", "1,2"], "2 camera weights"),
    (TRAIN + ["--camera-weights", "0,0,0,0,0"], "the camera weights are all 0"),
    (TRAIN + ["--camera-weights", "1,inf,1,1,1"], "camera weight inf is not a finite number"),
    (TRAIN + ["--camera-weights", "3,x"], "--camera-weights takes numbers"),
    (["train", "vae", "/proc/t"], "cannot write training output /proc/t"),
    (["train", "colour", f"{W}/run"], "unknown stage 'colour'"),
    (["train", "base", f"{W}/run", "--init-dir", f"{W}/mini-random"], "is not a readable safetensors file"),
    (["train", "base", f"{W}/run", "--init-dir", f"{W}/nope"], "no init folder at"),
    (["train", "base", f"{W}/run", "--text-encoder", f"{W}/mini-pickle/vae"], "holds pickled weights"),
    # eval
    (["eval", "toy", "-n", "0"], "-n 0 is out of range"),
    (["eval", "toy", "--steps", "0"], "steps 0 is out of range"),
    (["eval", "toy", "--seed", "-1"], "seed -1 is out of range"),
    (["eval", "toy", "-o", "/proc/t.md"], "cannot write table /proc/t.md"),
    (["eval", "toy", "--model", f"{W}/mini-random"], "is not a readable safetensors file"),
    (["eval", "fvd", f"{W}/videos", f"{W}/videos", "--i3d", f"{W}/nope.pt"], "no I3D model at"),
    (["eval", "clipsim", f"{W}/videos", "--captions", f"{W}/caps.txt", "--clip", f"{W}/nope"], "no CLIP model folder"),
    (["eval", "clipsim", f"{W}/videos", "--captions", f"{W}/caps.txt", "--clip", f"{W}/mini-pickle/vae"], "holds pickled weights"),
]
IN_PROCESS_ONLY = {i for i, (a, _) in enumerate(CASES) if a[0] == "train"}     # (each imports torch: 2 s)


def fill(args, w):
    return [a.replace(W, str(w)) for a in args]


def cli_in_process(args, w, monkeypatch):
    "Run `main(args)` here, with stderr and stdout captured; (status, stderr lines, CPU seconds)."
    from moviefactory.cli import main
    monkeypatch.chdir(w)
    for k, v in env_for(w).items():
        if k.startswith(("MOVIEFACTORY_", "HF_")): monkeypatch.setenv(k, v)
    err, out = io.StringIO(), io.StringIO()
    t0 = time.process_time()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try: rc = main(args)
        except SystemExit as e: rc = e.code
    return rc, [l for l in err.getvalue().splitlines() if l.strip()], time.process_time() - t0


def cli_process(args, w, env=None, prefix=(), code=None, timeout=120):
    "Run `python -m moviefactory.cli args` (or `python -c code args`) as its own process: (status, stderr lines, its CPU seconds)."
    cmd = [*prefix, sys.executable, *(["-c", code] if code else ["-m", "moviefactory.cli"]), *args]
    cpu = lambda: (lambda u: u.ru_utime + u.ru_stime)(resource.getrusage(resource.RUSAGE_CHILDREN))
    t0 = cpu()
    r = subprocess.run(cmd, cwd=w, env=env or env_for(w), capture_output=True, timeout=timeout,
                       text=True, errors="backslashreplace")
    return r.returncode, [l for l in r.stderr.splitlines() if l.strip()], cpu() - t0


def assert_one_line(rc, lines, secs, expect, limit=QUICK):
    assert rc == 2, (rc, lines)
    assert len(lines) == 1 and "Traceback" not in lines[0], lines
    assert lines[0].isprintable(), lines               # no escape sequence, control character or bidi override reaches the terminal
    assert lines[0].startswith("moviefactory"), lines
    if expect: assert expect in lines[0], (expect, lines[0])
    assert secs < limit, f"{secs:.1f} CPU-s: checked too late"


@pytest.mark.parametrize("i", range(len(CASES)), ids=[" ".join(a)[:70] for a, _ in CASES])
def test_hostile_in_process(i, world, monkeypatch):
    args, expect = CASES[i]
    before = listing(world)
    assert_one_line(*cli_in_process(fill(args, world), world, monkeypatch), expect)
    assert listing(world) == before, listing(world) ^ before


def test_hostile_processes(world):
    "A third of the cases (not train's: it imports torch first) again as processes: exit status 2, one line, no torch, nothing written."
    before, secs = listing(world), {}
    for i, (args, expect) in enumerate(CASES):
        if i in IN_PROCESS_ONLY or i % 3: continue          # a third of them, spread over every kind
        rc, lines, secs[i] = cli_process(fill(args, world), world, code=NO_TORCH)
        assert_one_line(rc, lines, secs[i], expect)
    assert listing(world) == before, listing(world) ^ before
    assert len(secs) >= 25
    print(f"{len(secs)} processes, slowest {max(secs.values()):.1f} CPU-s ({' '.join(CASES[max(secs, key=secs.get)][0])[:60]})")


def test_train_as_process(world):
    "The issue's example: `train vae DIR --max-steps -5 --batch-size 0` trained 0 steps and saved a model."
    before = listing(world)
    assert_one_line(*cli_process(fill(TRAIN + ["--max-steps", "-5", "--batch-size", "0"], world), world), "max steps -5")
    assert listing(world) == before


# --- settings and the process's surroundings --------------------------------------------------------------------------
def test_bad_log_level(world):
    "MOVIEFACTORY_LOG_LEVEL=LOUD: the command stops with one line; `import` says it once and goes on at INFO."
    env = env_for(world, MOVIEFACTORY_LOG_LEVEL="LOUD")
    assert_one_line(*cli_process(fill(MAKE, world), world, env=env), "log level 'LOUD' (MOVIEFACTORY_LOG_LEVEL) is unknown")
    r = subprocess.run([sys.executable, "-c", "import moviefactory.make, moviefactory.script"], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stderr.strip().count("\n") == 0 and "LOUD" in r.stderr, r.stderr
    env = env_for(world, MOVIEFACTORY_SEED="seven")
    assert_one_line(*cli_process(fill(MAKE, world), world, env=env), "MOVIEFACTORY_SEED: expected an integer")


def test_hub_id_offline_is_quick(world):
    "An SD2 hub id that is not downloaded fails at once offline (it used to retry for minutes)."
    t0 = time.time()               # (wall time here: the retries it made slept between attempts)
    rc, lines, secs = cli_process(fill(MAKE + ["--sd2", "stabilityai/stable-diffusion-2-base"], world), world)
    assert_one_line(rc, lines, secs, "huggingface-cli download stabilityai/stable-diffusion-2-base", limit=5)
    assert time.time() - t0 < 60, "minutes of retries are back"


def _setpriv():
    return os.geteuid() == 0 and shutil.which("setpriv")


def test_unwritable_folder_non_root(world):
    "A folder without write permission, for a user who is not root (root would write anyway)."
    args = ["make", "a car", "-o", f"{world}/ro/movie.mp4"]
    prefix = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups") if _setpriv() else ()
    if os.geteuid() == 0 and not prefix: pytest.skip("root without setpriv: every folder is writable")
    before = listing(world)
    assert_one_line(*cli_process(args, world, prefix=prefix), f"cannot write movie {world}/ro/movie.mp4 (Permission denied")
    assert_one_line(*cli_process(["script", "a car", "-o", f"{world}/ro/s.json"], world, prefix=prefix), "Permission denied")
    assert listing(world) == before


@contextlib.contextmanager
def full_disk(world):
    "A 64 KiB tmpfs filled up, if this machine lets us mount one; else None (the caller mocks ENOSPC)."
    d = Path(tempfile.mkdtemp(dir=world.parent))
    ok = os.geteuid() == 0 and subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0777", "tmpfs", str(d)],
                                              capture_output=True).returncode == 0
    try:
        if ok:
            with contextlib.suppress(OSError), open(d / "filler", "wb") as f:
                while True: f.write(b"\0" * 4096); f.flush()
        yield d if ok else None
    finally:
        if ok: subprocess.run(["umount", str(d)], capture_output=True)
        shutil.rmtree(d, ignore_errors=True)


# ENOSPC where no tmpfs can be mounted: the write itself and the free space seen by the up-front check are mocked
ENOSPC_CODE = """import errno, os, pathlib, shutil, sys
def nospace(self, *a, **k): raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self))
pathlib.Path.write_text = nospace
shutil.disk_usage = lambda p: shutil._ntuple_diskusage(1 << 30, 1 << 30, 0)
from moviefactory.cli import main
sys.exit(main(sys.argv[1:]))"""


def test_full_disk(world):
    "A full output folder: `make` refuses before any work; `script` fails at the write with one line and leaves nothing."
    with full_disk(world) as d:
        code = None if d else ENOSPC_CODE
        out = d or world / "full"
        lines_before = set(os.listdir(d)) if d else None
        assert_one_line(*cli_process(["make", "a car", "-o", f"{out}/movie.mp4"], world, code=code), "MiB free in")
        if d is None: (world / "full").mkdir()
        assert_one_line(*cli_process(["script", "a car", "--llm", "template", "--world", "any", "-o", f"{out}/s.json"], world, code=code),
                        "No space left on device")
        assert not list(Path(out).glob("*s.json*")), list(Path(out).iterdir())
        if d: assert set(os.listdir(d)) == lines_before
        else: shutil.rmtree(world / "full")


AISFX_MISSING = """import importlib.util, sys
real = importlib.util.find_spec
importlib.util.find_spec = lambda name, *a: None if name.split(".")[0] == "aisfx" else real(name, *a)
from moviefactory.cli import main
sys.exit(main(sys.argv[1:]))"""


def test_library_build_without_aisfx(world, tmp_path):
    "Without aiSFX, `library build` of effects fails at once (it used to fail after a minute of indexing)."
    rc, lines, secs = cli_process(["library", "build", str(tmp_path / "lib"), f"{world}/sounds"], world, code=AISFX_MISSING)
    assert_one_line(rc, lines, secs, "indexing sound effects needs aiSFX: pip install --no-deps aisfx", limit=30)
    assert not (tmp_path / "lib").exists()


def test_unexpected_error_is_one_line(world):
    "A bug (here: an exception injected into the script writer) is one line with a hint; --verbose shows the traceback."
    code = """import sys, moviefactory.script as s
def boom(*a, **k): raise KeyError("injected")
s.write_script = boom
from moviefactory.cli import main
sys.exit(main(sys.argv[1:]))"""
    args = ["script", "a car", "--llm", "template", "--world", "any", "-o", f"{world}/s.json"]
    rc, lines, _ = cli_process(args, world, code=code)
    assert rc == 1 and len(lines) == 1 and "unexpected KeyError" in lines[0] and "--verbose" in lines[0], lines
    rc, lines, _ = cli_process(args + ["--verbose"], world, code=code)
    assert rc == 1 and any("Traceback" in l for l in lines), lines
    assert not (world / "s.json").exists()


def test_same_llm_flags_everywhere(world, tmp_path):
    "`script` takes make's --llm-model/--llm-timeout, and still its old --model/--timeout."
    from moviefactory.cli import build_parser
    p = build_parser()
    for args in (["script", "x", "--model", "m", "--timeout", "5"], ["script", "x", "--llm-model", "m", "--llm-timeout", "5"]):
        a = p.parse_args(args)
        assert (a.llm_model, a.llm_timeout) == ("m", 5.0)
    a = p.parse_args(["make", "x", "--llm-model", "m", "--llm-timeout", "5"])
    assert (a.llm_model, a.llm_timeout) == ("m", 5.0)
    rc, _, _ = cli_process(["script", "a car", "-n", "2", "--llm", "template", "--world", "any", "--model", "ignored", "--timeout", "5",
                            "-o", str(tmp_path / "s.json")], world)
    assert rc == 0 and json.loads((tmp_path / "s.json").read_text())["backend"] == "template"


# --- property-based: any out-of-range or non-finite number, any numeric flag -------------------------------------------
def outside(lo, hi, integer):
    "Numbers outside [lo, hi]: huge, negative, non-finite (floats) or just past the ends."
    if integer:
        return st.one_of(st.integers(max_value=lo - 1), st.integers(min_value=hi + 1),
                         st.integers(min_value=2**63, max_value=10**40)).map(str)
    return st.one_of(st.floats(max_value=lo, exclude_max=True), st.floats(min_value=hi, exclude_min=True),
                     st.sampled_from([math.inf, -math.inf, math.nan])).map(repr)


NUMERIC_FLAGS = [(MAKE, "--seed", 0, 2**32 - 1, True), (MAKE, "--scenes", 1, 30, True), (MAKE, "--steps", 1, 1000, True),
                 (MAKE, "--frames", 1, 32, True), (MAKE, "--batch-size", 1, 30, True), (MAKE, "--deep-cache", 1, 1000, True),
                 (MAKE, "--fps", 1, 240, False), (MAKE, "--guidance", 0, 100, False), (MAKE, "--guidance-cutoff", 0, 1, False),
                 (MAKE, "--crossfade", 0, 30, False), (MAKE, "--llm-timeout", 0, 86400, False),
                 (["script", "a car", "-o", f"{W}/s.json"], "--scenes", 1, 30, True),
                 (["script", "a car", "-o", f"{W}/s.json"], "--seed", 0, 2**32 - 1, True),
                 (["library", "search", "default", "dog"], "-k", 1, 1000, True),
                 (["eval", "toy"], "-n", 1, 10_000, True), (["eval", "toy"], "--steps", 1, 1000, True)]
EXAMPLES = 25


@pytest.mark.parametrize("flag", range(len(NUMERIC_FLAGS)), ids=[f"{a[0]} {f}" for a, f, *_ in NUMERIC_FLAGS])
def test_numbers_fuzzed(flag, world, monkeypatch):
    base, name, lo, hi, integer = NUMERIC_FLAGS[flag]
    before = listing(world)

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
    @given(outside(lo, hi, integer))
    def one(v):
        assume(not (lo <= float(v) <= hi))                # (-0.0 passes a bound of 0, and would start a real run)
        arg = [f"{name}={v}"] if name.startswith("--") else [name + v]     # (argparse reads "-inf" as an option)
        rc, lines, secs = cli_in_process(fill(base, world) + arg, world, monkeypatch)
        assert_one_line(rc, lines, secs, None)
        assert "out of range" in lines[0] or "not a finite number" in lines[0] or "invalid" in lines[0], lines[0]

    one()
    assert listing(world) == before


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(min_value=-10**30, max_value=10**30)),
       st.floats(-1e6, 1e6), st.floats(0, 1e6))
def test_check_number_agrees_with_its_range(v, lo, width):
    "check_number returns the value exactly when it is finite and in range, else raises MovieFactoryError."
    from moviefactory.core import MovieFactoryError, check_number
    hi = lo + width
    ok = math.isfinite(v) and lo <= v <= hi
    try: assert check_number(v, "x", lo, hi) == float(v) and ok
    except MovieFactoryError as e: assert not ok and "\n" not in str(e)


# --- the Python API: the same one line for the same mistakes, no bare Python exception --------------------------------
def _api_cases(w):
    from moviefactory.compose import compose, timeline, title_card
    from moviefactory.core import Scene, Script
    from moviefactory.make import make_movie
    from moviefactory.media import save_clip
    clip, inf, nan = np.zeros((4, 80, 192, 3), np.uint8), math.inf, math.nan
    emptied = Script("a car", [Scene("a red car")]); emptied.scenes = []
    out = str(w / "api.mp4")
    return [  # (call, what the MovieFactoryError must say)
        (lambda: timeline([4, 4], 8, inf), "crossfade inf must be 0 to 30 seconds"),
        (lambda: timeline([4, 4], 8, nan), "crossfade nan must be 0 to 30 seconds"),
        (lambda: compose([clip, clip], out, crossfade=inf), "crossfade inf"),
        (lambda: title_card("x", (80, 192), nan), "title card of nan seconds"),
        (lambda: title_card("x", (80, 192), 1e9), "title card of 1000000000.0 seconds"),
        (lambda: title_card("x", (80, 192), 2, fps=inf), "fps inf is out of range"),
        (lambda: title_card("x", (0, 192)), "title card size 0x192"),
        (lambda: save_clip(clip, w / "c.mkv", fps=inf), "fps inf is out of range"),
        (lambda: save_clip(clip, w / "c.mkv", fps=0), "fps 0 is out of range"),
        (lambda: make_movie("a car", None), "output must be a file path ending in .mp4, not NoneType"),
        (lambda: make_movie("a car", out, library=123), "library must be a sound library folder or 'default', not int"),
        (lambda: make_movie(None, out, script={"idea": "a car"}), "script must be a Script or a JSON file path, not dict"),
        (lambda: make_movie(None, out, script=emptied), "script has 0 scenes"),
        (lambda: make_movie(123, out), "idea must be text, not int"),
        (lambda: make_movie("a car", out, cache_dir="/proc/cache"), "cannot write cache /proc/cache"),
        (lambda: make_movie("a car", out, crossfade=inf), "crossfade inf is not a finite number"),
        (lambda: make_movie("a car", out, guidance=nan), "guidance nan is not a finite number"),
        (lambda: make_movie("a car", out, seed=nan), "seed nan is not a whole number"),
    ]


def test_api_hostile(world):
    "Bad values given to the Python API: one `MovieFactoryError` line each (a bare OverflowError, ValueError, MemoryError or TypeError before), nothing written."
    from moviefactory.core import MovieFactoryError
    before = listing(world)
    for i, (call, expect) in enumerate(_api_cases(world)):
        t0 = time.process_time()
        with pytest.raises(MovieFactoryError) as e: call()
        msg = str(e.value)
        assert expect in msg and "\n" not in msg, (i, expect, msg)
        assert time.process_time() - t0 < QUICK, (i, "checked too late")
    assert listing(world) == before, listing(world) ^ before


def test_library_text_is_printed_safely(world, tmp_path, capsys):
    "A sound pack's CSV is someone else's text: its captions and licences are printed with escapes shown, not acted on."
    import soundfile as sf
    from moviefactory.cli import main
    snd = tmp_path / "snd"; snd.mkdir()
    sf.write(snd / "beep.wav", 0.3 * np.sin(np.arange(8000) / 8), 16000)
    (snd / "caps.csv").write_text('file,caption,tags\nbeep.wav,"a dog \x1b]0;owned\x07\x1b[2J barks \u202eloud",dog\n')
    lib = str(tmp_path / "lib")
    assert main(["library", "build", lib, str(snd), "--csv", str(snd / "caps.csv"), "--no-audio-embeddings",
                 "--licence", "CC0\x1b[31m"]) == 0
    assert main(["library", "search", lib, "dog"]) == 0 and main(["library", "licences", lib]) == 0
    out, err = capsys.readouterr()
    assert "\\x1b]0;owned\\x07\\x1b[2J barks \\u202eloud" in out and "CC0\\x1b[31m" in out, out
    assert all(line.isprintable() for line in (out + err).splitlines()), (out + err)
    assert "Loading weights" not in err, err                       # (the text model's loading bar stays off stderr too)


# --- settings from the environment, in this process: each one line before any work (some were found after the first log lines)
ENV_CASES = [({"MOVIEFACTORY_CACHE_DIR": "/proc/cache"}, "cannot write cache /proc/cache"),
             ({"MOVIEFACTORY_PROGRESS": "maybe"}, "MOVIEFACTORY_PROGRESS: expected 1 or 0 (on or off), got 'maybe'"),
             ({"MOVIEFACTORY_LLM": "gpt5"}, "MOVIEFACTORY_LLM='gpt5' is unknown"),
             ({"MOVIEFACTORY_LLM_BASE_URL": "ftp://example.com/v1"}, "LLM base URL 'ftp://example.com/v1' is not an http(s) URL"),
             ({"MOVIEFACTORY_LLM": "openai", "OPENAI_BASE_URL": "file:///etc/passwd"}, "is not an http(s) URL"),
             ({"MOVIEFACTORY_SEED": "1e3"}, "MOVIEFACTORY_SEED: expected an integer")]


@pytest.mark.parametrize("i", range(len(ENV_CASES)), ids=[" ".join(e) for e, _ in ENV_CASES])
def test_bad_settings_in_process(i, world, monkeypatch):
    env, expect = ENV_CASES[i]
    before = listing(world)
    from moviefactory.cli import main
    monkeypatch.chdir(world)
    for k, v in (env_for(world) | env).items():
        if k.startswith(("MOVIEFACTORY_", "HF_", "OPENAI_")): monkeypatch.setenv(k, v)
    err = io.StringIO(); t0 = time.process_time()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()): rc = main(fill(MAKE, world))
    assert_one_line(rc, [l for l in err.getvalue().splitlines() if l.strip()], time.process_time() - t0, expect)
    assert listing(world) == before, listing(world) ^ before


def test_eval_captions_not_utf8(world, tmp_path, monkeypatch):
    "`eval clipsim` with a captions file in Latin-1: one line naming the byte (a bare UnicodeDecodeError, exit 1, before)."
    from moviefactory.media import save_clip
    from safetensors.numpy import save_file
    vids, clip = tmp_path / "vids", tmp_path / "clip"
    vids.mkdir(); clip.mkdir()
    save_clip(np.zeros((4, 32, 32, 3), np.uint8), vids / "a.mkv")
    (clip / "config.json").write_text("{}"); save_file({"w": np.zeros(2, np.float32)}, str(clip / "model.safetensors"))
    (tmp_path / "caps.txt").write_bytes("a caf\u00e9 at night\n".encode("latin-1"))
    rc, lines, secs = cli_in_process(["eval", "clipsim", str(vids), "--captions", str(tmp_path / "caps.txt"), "--clip", str(clip)],
                                     world, monkeypatch)
    assert_one_line(rc, lines, secs, "captions file caps.txt is not UTF-8 text (byte 5): save it as UTF-8")
