"""Video preprocessing with PyAV: frames at a chosen rate, downsampling, shot boundaries.

Everything streams: frames are decoded one at a time and dropped once used, so memory is bounded
by the frame size, not the video's length.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import IO, Any

from thresher.media._deps import need

Src = Path | IO[bytes] | str


def _open(src: Src) -> Any:
    av = need("av")
    return av.open(str(src) if isinstance(src, Path) else src)


@dataclass(frozen=True, slots=True)
class Frame:
    index: int  # the frame's number in the video
    time_s: float
    image: Any  # PIL.Image.Image, RGB


def extract_frames(src: Src, fps: float = 1.0, max_side: int | None = None) -> Iterator[Frame]:
    """One frame per ``1 / fps`` seconds (the first frame at or after each tick), as PIL images.

    ``max_side`` scales frames down in the decoder's colour conversion (cheaper than resizing after).
    """
    step = 1.0 / fps
    with _open(src) as c:
        stream = c.streams.video[0]
        stream.thread_type = "AUTO"  # frame threads: decoding uses every core
        tb = float(stream.time_base) if stream.time_base else 0.0
        start = float(stream.start_time * stream.time_base) if stream.start_time else 0.0
        rate = float(stream.average_rate) if stream.average_rate else None
        w, h = stream.codec_context.width, stream.codec_context.height
        size = _scaled(w, h, max_side)
        tick = 0.0
        for i, frame in enumerate(c.decode(stream)):
            t = (frame.pts * tb - start) if frame.pts is not None and tb else (i / rate if rate else 0.0)
            if t + 1e-6 < tick:
                continue
            img = frame.to_image(width=size[0], height=size[1]) if size else frame.to_image()
            yield Frame(i, round(t, 6), img)
            while tick <= t + 1e-6:
                tick += step


def _scaled(w: int, h: int, max_side: int | None) -> tuple[int, int] | None:
    if not max_side or max(w, h) <= max_side:
        return None
    s = max_side / max(w, h)
    return (max(2, round(w * s) // 2 * 2), max(2, round(h * s) // 2 * 2))


def downsample(src: Src, dst: Path, fps: float | None = None, max_side: int | None = None, crf: int = 28) -> Path:
    """Re-encode as H.264 MP4 at a lower frame rate and/or size (video only; audio is dropped)."""
    av = need("av")
    with _open(src) as c:
        vin = c.streams.video[0]
        vin.thread_type = "AUTO"
        w, h = vin.codec_context.width, vin.codec_context.height
        size = _scaled(w, h, max_side) or (w - w % 2, h - h % 2)
        in_rate = Fraction(vin.average_rate) if vin.average_rate else Fraction(25)
        out_rate = Fraction(fps).limit_denominator(1001) if fps else in_rate
        with av.open(str(dst), "w") as out:
            vout = out.add_stream("libx264", rate=out_rate)
            vout.width, vout.height, vout.pix_fmt = size[0], size[1], "yuv420p"
            vout.options = {"preset": "veryfast", "crf": str(crf)}
            tb = float(vin.time_base) if vin.time_base else 0.0
            n = 0
            for i, frame in enumerate(c.decode(vin)):
                t = frame.pts * tb if frame.pts is not None and tb else i / float(in_rate)
                if t + 1e-6 < n / float(out_rate):
                    continue
                img = frame.reformat(width=size[0], height=size[1], format="yuv420p")
                img.pts, img.time_base = n, 1 / out_rate
                n += 1
                for packet in vout.encode(img):
                    out.mux(packet)
            for packet in vout.encode():
                out.mux(packet)
    return dst


def detect_shots(src: Src, threshold: float = 30.0, min_shot_s: float = 0.5) -> list[tuple[float, float]]:
    """Shots as ``(start_s, end_s)``: a cut where the mean absolute change between two consecutive frames,
    on 64x36 RGB thumbnails (0..255), exceeds ``threshold``. Content-based like scenedetect's detector."""
    np = need("numpy")
    cuts = [0.0]
    end = 0.0
    with _open(src) as c:
        stream = c.streams.video[0]
        stream.thread_type = "AUTO"
        tb = float(stream.time_base) if stream.time_base else 0.0
        rate = float(stream.average_rate) if stream.average_rate else 25.0
        prev = None
        for i, frame in enumerate(c.decode(stream)):
            t = frame.pts * tb if frame.pts is not None and tb else i / rate
            small = frame.reformat(width=64, height=36, format="rgb24").to_ndarray().astype("int16")
            if prev is not None and float(np.abs(small - prev).mean()) > threshold and t - cuts[-1] >= min_shot_s:
                cuts.append(round(t, 6))
            prev = small
            end = t + 1 / rate
    return [(a, b) for a, b in zip(cuts, [*cuts[1:], round(end, 6)], strict=False)]
