"""Audio preprocessing, pure functions over sample arrays (float32, ``(frames,)`` or ``(frames, channels)``).

Resampling is polyphase (scipy), loudness normalization follows ITU-R BS.1770 (``pyloudnorm``),
noise reduction is spectral gating (``noisereduce``), splitting cuts long recordings at the
quietest point near each limit so words are not cut in half.
"""

from __future__ import annotations

import io
import itertools
from math import gcd
from pathlib import Path
from typing import IO, Any

from thresher.media._deps import need

Samples = Any  # numpy.ndarray, float32


def load_audio(src: Path | IO[bytes] | bytes, mono: bool = False) -> tuple[Samples, int]:
    """Samples as float32 and the sample rate."""
    sf = need("soundfile")
    data, rate = sf.read(io.BytesIO(src) if isinstance(src, bytes) else src, dtype="float32", always_2d=False)
    if mono and data.ndim == 2:
        data = data.mean(axis=1).astype("float32")
    return data, int(rate)


def save_audio(dst: Path | IO[bytes], data: Samples, rate: int, format: str = "WAV", subtype: str = "PCM_16") -> None:
    sf = need("soundfile")
    sf.write(dst if not isinstance(dst, Path) else str(dst), data, rate, format=format, subtype=subtype)


def audio_bytes(data: Samples, rate: int, format: str = "WAV") -> bytes:
    out = io.BytesIO()
    save_audio(out, data, rate, format=format)
    return out.getvalue()


def resample(data: Samples, rate: int, target: int) -> Samples:
    """Polyphase resampling from ``rate`` to ``target`` Hz (anti-aliased)."""
    if rate == target:
        return data
    signal = need("scipy.signal")
    g = gcd(rate, target)
    return signal.resample_poly(data, target // g, rate // g, axis=0).astype("float32")


def loudness(data: Samples, rate: int) -> float:
    """Integrated loudness in LUFS (ITU-R BS.1770-4)."""
    pyln = need("pyloudnorm")
    return float(pyln.Meter(rate).integrated_loudness(data))


def normalize_loudness(data: Samples, rate: int, target_lufs: float = -23.0, peak_limit: float = 0.99) -> Samples:
    """Gain to ``target_lufs`` (EBU R128's -23 by default), then scaled down if a peak would clip."""
    np = need("numpy")
    current = loudness(data, rate)
    if not np.isfinite(current):  # silence: nothing to normalize
        return data
    out = data * (10 ** ((target_lufs - current) / 20))
    peak = float(np.max(np.abs(out))) if out.size else 0.0
    if peak > peak_limit:
        out = out * (peak_limit / peak)
    return out.astype("float32")


def reduce_noise(
    data: Samples,
    rate: int,
    noise_s: float | None = None,
    stationary: bool = True,
    prop_decrease: float = 1.0,
    smooth: bool = True,
) -> Samples:
    """Spectral-gating noise reduction (``noisereduce``). ``noise_s``: the first seconds hold noise only (room
    tone before speech), the profile to remove; without it the profile is estimated from the whole clip, which
    also takes out steady sounds (a hum, a held tone). ``smooth=False`` turns off the mask's smoothing over
    time and frequency, which otherwise blurs narrow tones away (speech is broad and keeps it)."""
    nr = need("noisereduce")
    y = data.T if data.ndim == 2 else data
    kwargs: dict[str, Any] = {}
    if noise_s:
        kwargs["y_noise"] = y[..., : int(noise_s * rate)]
    if not smooth:
        kwargs.update(freq_mask_smooth_hz=None, time_mask_smooth_ms=None)
    out = nr.reduce_noise(y=y, sr=rate, stationary=stationary, prop_decrease=prop_decrease, **kwargs)
    return (out.T if data.ndim == 2 else out).astype("float32")


def split_points(data: Samples, rate: int, max_s: float, search_s: float = 1.0, window_s: float = 0.02) -> list[float]:
    """Cut times (seconds) that keep every piece under ``max_s``, each at the quietest window in the last
    ``search_s`` before the limit."""
    np = need("numpy")
    mono = data.mean(axis=1) if data.ndim == 2 else data
    total = len(mono) / rate
    win = max(1, int(window_s * rate))
    cuts: list[float] = []
    start = 0.0
    while total - start > max_s:
        lo = int(max(start + max_s - search_s, start + window_s) * rate)
        hi = int((start + max_s) * rate)
        seg = mono[lo:hi]
        n = len(seg) // win
        if n == 0:
            cut = start + max_s
        else:
            energy = (seg[: n * win].reshape(n, win) ** 2).mean(axis=1)
            cut = (lo + int(np.argmin(energy)) * win + win // 2) / rate
        cuts.append(round(cut, 4))
        start = cut
    return cuts


def split_audio(data: Samples, rate: int, max_s: float, search_s: float = 1.0) -> list[tuple[float, float, Samples]]:
    """Pieces of at most ``max_s`` seconds: ``(start_s, end_s, samples)``, cut in quiet places."""
    edges = [0.0, *split_points(data, rate, max_s, search_s), len(data) / rate]
    return [(a, b, data[int(a * rate) : int(b * rate)]) for a, b in itertools.pairwise(edges) if b > a]
