"""Media throughput of Thresher against the ``ffmpeg`` command line doing the same work in the same run.

    .venv/bin/python benchmarks/media.py             # 60 s 720p video, 1,000 images
    .venv/bin/python benchmarks/media.py --quick     # 10 s video, 100 images
    .venv/bin/python benchmarks/media.py --json /tmp/media.json

Figures (each ratio is ffmpeg's seconds / Thresher's seconds: 1.0 = as fast, goal >= 0.7):
  frames       thresher.media.video.extract_frames at 1 fps + JPEG files, vs
               ``ffmpeg -i V -vf fps=1 -q:v 2 out/%06d.jpg``
  thumbnails   thresher.media.thumbnail of N stored JPEGs (256 px, cached to blob storage), vs one
               ``ffmpeg -i img%05d.jpg -vf scale=...:force_original_aspect_ratio=decrease out%05d.jpg``
  peak RSS     a child process extracting frames from the 30 s and the 60 s video: bounded by the
               frame size, so the two should be about equal

The inputs are made by the benchmark with PyAV and Pillow (H.264 720p 30 fps; 1024x768 JPEGs).
ffmpeg is Debian's (``apt-get install -y ffmpeg``); without it the ratios are skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

GOAL = 0.7


def make_video(path: Path, seconds: int) -> Path:
    import av
    import numpy as np

    w, h, fps = 1280, 720, 30
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 40, size=(h, w, 3), dtype=np.uint8)  # texture, so frames are not trivially small
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.options = {"preset": "ultrafast"}
        frame = np.empty((h, w, 3), dtype=np.uint8)
        for i in range(seconds * fps):
            frame[:] = noise
            frame[:, :, (i // (fps * 5)) % 3] += 120  # a new colour every 5 s
            x = (i * 8) % (w - 160)
            frame[280:440, x : x + 160] = 255
            for p in s.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(p)
        for p in s.encode():
            out.mux(p)
    return path


def make_images(folder: Path, n: int) -> list[Path]:
    from PIL import Image, ImageDraw

    folder.mkdir(parents=True, exist_ok=True)
    base = Image.radial_gradient("L").resize((1024, 768)).convert("RGB")
    paths = []
    for i in range(n):
        img = base.copy()
        d = ImageDraw.Draw(img)
        d.rectangle([i % 700, 100, i % 700 + 300, 400], fill=(i * 7 % 256, 120, 200))
        d.ellipse([200, (i * 3) % 300, 600, (i * 3) % 300 + 350], fill=(40, i % 256, 90))
        path = folder / f"img{i:05d}.jpg"
        img.save(path, quality=90)
        paths.append(path)
    return paths


def thresher_frames(video: Path, out: Path) -> int:
    from thresher.media.video import extract_frames

    out.mkdir(parents=True, exist_ok=True)
    n = 0
    for n, frame in enumerate(extract_frames(video, 1.0), 1):
        frame.image.save(out / f"{n:06d}.jpg", quality=90)
    return n


def ffmpeg_frames(ffmpeg: str, video: Path, out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    cmd = [ffmpeg, "-v", "error", "-i", str(video), "-vf", "fps=1", "-q:v", "2", str(out / "%06d.jpg")]
    subprocess.run(cmd, check=True)
    return len(list(out.iterdir()))


def thresher_thumbnails(paths: list[Path], home: Path, workers: int) -> tuple[float, int]:
    from thresher.media import thumbnail
    from thresher.store.blobs import BlobStore

    blobs = BlobStore(str(home))
    refs = [blobs.put_file(p, "image/jpeg") for p in paths]  # intake, outside the timing
    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:  # Pillow decodes and resizes without the GIL
        sizes = list(pool.map(lambda r: len(thumbnail(blobs, r, "image", 256)), refs))
    return time.perf_counter() - t0, len(sizes)


def ffmpeg_thumbnails(ffmpeg: str, folder: Path, out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    scale = "scale=256:256:force_original_aspect_ratio=decrease:flags=bilinear"
    cmd = [ffmpeg, "-v", "error", "-i", str(folder / "img%05d.jpg"), "-vf", scale, "-q:v", "4"]
    subprocess.run([*cmd, str(out / "t%05d.jpg")], check=True)
    return len(list(out.iterdir()))


def timed(fn: Any, *args: Any) -> tuple[float, Any]:
    t0 = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - t0, result


def peak_rss_child(video: Path, out: Path) -> dict[str, Any]:
    here = str(Path(__file__).resolve().parent)
    code = (
        f"import json, resource, sys, time; from pathlib import Path; sys.path.insert(0, {here!r})\n"
        "from media import thresher_frames\n"
        "t = time.perf_counter(); n = thresher_frames(Path(sys.argv[1]), Path(sys.argv[2]))\n"
        "hwm = [int(x.split()[1]) for x in open('/proc/self/status') if x.startswith('VmHWM:')]\n"
        "print(json.dumps({'frames': n, 'seconds': time.perf_counter() - t,"
        " 'maxrss_mb': (hwm[0] if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) / 1024}))"
    )  # VmHWM, not ru_maxrss: after fork + exec ru_maxrss still counts the parent's pages (Linux)
    r = subprocess.run([sys.executable, "-c", code, str(video), str(out)], check=True, capture_output=True, text=True)
    result: dict[str, Any] = json.loads(r.stdout.strip().splitlines()[-1])
    return result


def ratio_line(label: str, ours: float, base: float | None, unit: str) -> dict[str, Any]:
    if base is None:
        print(f"{label:<12} thresher {ours:7.2f} s  ({unit})  ffmpeg: not installed, no ratio")
        return {"thresher_s": ours}
    ratio = base / ours
    verdict = "ok" if ratio >= GOAL else "BELOW GOAL"
    figures = f"thresher {ours:7.2f} s  ffmpeg {base:7.2f} s  ({unit})"
    print(f"{label:<12} {figures}  ratio {ratio:.2f} (goal >= {GOAL}) {verdict}")
    return {"thresher_s": ours, "ffmpeg_s": base, "ratio": ratio, "goal": GOAL}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="10 s video, 100 images")
    ap.add_argument("--seconds", type=int, default=None, help="video length (default 60)")
    ap.add_argument("--images", type=int, default=None, help="images to thumbnail (default 1000)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="thumbnail threads")
    ap.add_argument("--json", type=Path, help="write the figures as JSON too")
    args = ap.parse_args(argv)
    seconds = args.seconds or (10 if args.quick else 60)
    n_images = args.images or (100 if args.quick else 1000)
    ffmpeg = shutil.which("ffmpeg")
    import thresher.media  # imported before any timing
    import thresher.media.video  # noqa: F401

    results: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    }
    print(f"machine: {results['machine']}; ffmpeg: {ffmpeg or 'not installed'}")
    with tempfile.TemporaryDirectory(prefix="thresher-media-bench-") as tmp:
        work = Path(tmp)
        t0 = time.perf_counter()
        video = make_video(work / "long.mp4", seconds)
        half = make_video(work / "half.mp4", seconds // 2)
        paths = make_images(work / "images", n_images)
        print(f"inputs: {seconds} s 720p30 H.264 ({video.stat().st_size / 1e6:.1f} MB), {n_images} JPEGs 1024x768; "
              f"made in {time.perf_counter() - t0:.1f} s")  # fmt: skip

        ours, n_ours = timed(thresher_frames, video, work / "frames-thresher")
        base, n_base = timed(ffmpeg_frames, ffmpeg, video, work / "frames-ffmpeg") if ffmpeg else (None, None)
        results["frames"] = ratio_line("frames", ours, base, f"{n_ours} vs {n_base} frames at 1 fps")

        ours, n = thresher_thumbnails(paths, work / "blobs", args.workers)
        base, _ = timed(ffmpeg_thumbnails, ffmpeg, work / "images", work / "thumbs-ffmpeg") if ffmpeg else (None, 0)
        results["thumbnails"] = ratio_line("thumbnails", ours, base, f"{n} images, {args.workers} threads")

        short = peak_rss_child(half, work / "rss-half")
        long = peak_rss_child(video, work / "rss-long")
        growth = long["maxrss_mb"] / short["maxrss_mb"]
        verdict = "ok" if growth < 1.15 else "GROWS WITH LENGTH"
        print(f"peak RSS     {seconds // 2} s video {short['maxrss_mb']:.0f} MB, {seconds} s video "
              f"{long['maxrss_mb']:.0f} MB  (x{growth:.2f}; bounded by frame size: {verdict})")  # fmt: skip
        results["peak_rss"] = {"short": short, "long": long, "growth": growth}
    results["self_maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
