"""Media made by the tests themselves (Pillow, PyAV, numpy, espeak-ng when present): nothing is downloaded."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("PIL")
pytest.importorskip("av")
pytest.importorskip("soundfile")

from thresher.media import synth


@pytest.fixture(scope="session")
def media_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("media")
    synth.make_image(d / "upright.png", (64, 48), boxes=[(4, 4, 20, 10)])
    synth.make_image(d / "rotated.jpg", (64, 48), orientation=6)  # stored 64x48, shown 48x64
    synth.make_video(d / "clip.mp4", 3.0, fps=10, size=(160, 120), shots=2)
    synth.make_tone(d / "tone.wav", 2.0, rate=16000, channels=2)
    (d / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a png")
    (d / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 20)
    (d / "empty.wav").write_bytes(b"")
    return d
