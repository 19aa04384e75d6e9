"""Media made on the spot (for the demo, tests and benchmarks): nothing is downloaded.

Images with Pillow, videos encoded with PyAV (a box moving over a background that changes
colour at each "shot"), tones with numpy, speech with Debian's ``espeak-ng`` when installed.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

from thresher.media._deps import need

SHOT_COLORS = [(40, 90, 160), (170, 60, 50), (60, 140, 70), (200, 170, 40)]


def make_image(
    path: Path,
    size: tuple[int, int] = (320, 240),
    *,
    boxes: list[tuple[int, int, int, int]] | None = None,
    color: tuple[int, int, int] = (40, 90, 160),
    orientation: int | None = None,
    seed: int = 0,
) -> Path:
    """A picture with filled rectangles (``[x, y, w, h]``); ``orientation`` writes an EXIF tag (JPEG only)."""
    Image = need("PIL.Image")
    ImageDraw = need("PIL.ImageDraw")
    img = Image.new("RGB", size, color)
    draw = ImageDraw.Draw(img)
    for i, (x, y, w, h) in enumerate(boxes or []):
        draw.rectangle([x, y, x + w - 1, y + h - 1], fill=((seed * 50 + i * 90) % 256, 200, (i * 70) % 256))
    kwargs: dict[str, Any] = {}
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        kwargs["exif"] = exif.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, **kwargs)
    return path


def box_at(frame: int, fps: float, size: tuple[int, int], box: int = 64) -> tuple[int, int, int, int]:
    """Where ``make_video``'s moving box is at ``frame``: ``[x, y, w, h]``."""
    w, h = size
    span = max(1, w - box)
    x = int((frame * 4) % (2 * span))
    x = x if x < span else 2 * span - x
    return (x, (h - box) // 2, box, box)


def make_video(
    path: Path,
    seconds: float = 2.0,
    *,
    fps: int = 25,
    size: tuple[int, int] = (320, 240),
    shots: int = 1,
    codec: str = "libx264",
    tone_hz: float | None = None,
) -> Path:
    """An H.264 MP4 (``yuv420p``) with a moving white box; ``shots`` hard cuts of background colour."""
    av = need("av")
    np = need("numpy")
    w, h = size
    n = round(seconds * fps)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        if codec == "libx264":
            stream.options = {"preset": "ultrafast", "tune": "zerolatency"}
        audio = out.add_stream("aac", rate=16000) if tone_hz else None
        canvas = np.empty((h, w, 3), dtype=np.uint8)
        for i in range(n):
            canvas[:] = SHOT_COLORS[min(shots - 1, i * shots // n) % len(SHOT_COLORS)]
            x, y, bw, bh = box_at(i, fps, size)
            canvas[y : y + bh, x : x + bw] = 255
            frame = av.VideoFrame.from_ndarray(canvas, format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
        if audio is not None and tone_hz:
            samples = tone(seconds, 16000, tone_hz).astype("float32").reshape(1, -1)
            aframe = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
            aframe.sample_rate = 16000
            for packet in audio.encode(aframe):
                out.mux(packet)
            for packet in audio.encode():
                out.mux(packet)
    return path


def tone(seconds: float, rate: int = 16000, hz: float = 440.0, amplitude: float = 0.3) -> Any:
    np = need("numpy")
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * hz * t)).astype("float32")


def make_tone(path: Path, seconds: float = 1.0, *, rate: int = 16000, hz: float = 440.0, channels: int = 1) -> Path:
    """A sine tone as WAV (or any format soundfile writes, by extension)."""
    np = need("numpy")
    sf = need("soundfile")
    data = tone(seconds, rate, hz)
    if channels > 1:
        data = np.stack([data] * channels, axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), data, rate)
    return path


def make_speech(path: Path, text: str, *, voice: str = "en", rate: int = 16000) -> Path | None:
    """Speech by ``espeak-ng`` as a WAV resampled to ``rate``; None when espeak-ng is not installed."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = path.with_suffix(".espeak.wav")
    subprocess.run([exe, "-v", voice, "-w", str(raw), text], check=True, capture_output=True, timeout=60)
    from thresher.media.audio import load_audio, resample, save_audio

    data, sr = load_audio(raw)
    save_audio(path, resample(data, sr, rate), rate)
    raw.unlink()
    return path
