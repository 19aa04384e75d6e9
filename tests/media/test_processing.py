from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from thresher.media import audio, image, probe, synth, video


def test_image_resize_normalize_augment(media_dir: Path) -> None:
    img = image.open_image((media_dir / "rotated.jpg").read_bytes())
    assert img.size == (48, 64)  # upright
    assert image.resize(img, max_side=32).size == (24, 32)
    assert image.resize(img, size=(40, 40), mode="fill").size == (40, 40)
    assert image.normalize(Image.new("RGBA", (4, 4)), "L").mode == "L"
    a, pa = image.augment(img, seed=7, rotate_deg=10, brightness=0.2)
    b, pb = image.augment(img, seed=7, rotate_deg=10, brightness=0.2)
    assert pa == pb and a.tobytes() == b.tobytes() and "rotate" in pa


def test_frames_at_a_chosen_rate_and_shots(media_dir: Path, tmp_path: Path) -> None:
    frames = list(video.extract_frames(media_dir / "clip.mp4", fps=2, max_side=80))
    assert [f.time_s for f in frames] == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5]
    assert frames[0].image.size == (80, 60)
    assert video.detect_shots(media_dir / "clip.mp4") == [(0.0, 1.5), (1.5, 3.0)]
    small = video.downsample(media_dir / "clip.mp4", tmp_path / "small.mp4", fps=5, max_side=80)
    info = probe(small, "small.mp4").info
    assert (info.width, info.height, info.fps, info.frame_count) == (80, 60, 5.0, 15)


def test_audio_resample_loudness_noise_split() -> None:
    rate = 16000
    tone = synth.tone(3.0, rate, 440.0, amplitude=0.05)
    assert len(audio.resample(tone, rate, 8000)) == 24000
    louder = audio.normalize_loudness(tone, rate, target_lufs=-20.0)
    assert audio.loudness(louder, rate) == pytest.approx(-20.0, abs=0.3)
    rng = np.random.default_rng(0)
    clean = np.concatenate([np.zeros(rate, dtype="float32"), synth.tone(2.0, rate, amplitude=0.3)])
    noisy = (clean + 0.02 * rng.standard_normal(len(clean))).astype("float32")
    cleaned = audio.reduce_noise(noisy, rate, noise_s=1.0, smooth=False)  # the first second is room tone

    def rms(x: np.ndarray) -> float:
        return float(np.sqrt(np.mean(x**2)))

    assert cleaned.shape == noisy.shape and rms(cleaned - clean) < rms(noisy - clean) / 2
    assert rms(cleaned[: rate - 1600]) < rms(noisy[: rate - 1600]) / 4  # the room tone is mostly gone
    # two tones with a silence between them: the cut lands in the silence
    gap = np.zeros(int(0.5 * rate), dtype="float32")
    speech = np.concatenate([synth.tone(2.0, rate), gap, synth.tone(2.0, rate)])
    pieces = audio.split_audio(speech, rate, max_s=2.6, search_s=1.0)
    assert len(pieces) == 2 and 2.0 <= pieces[0][1] <= 2.5


def test_speech_from_espeak(tmp_path: Path) -> None:
    path = synth.make_speech(tmp_path / "hi.wav", "hello world", rate=16000)
    if path is None:
        pytest.skip("espeak-ng is not installed (make media-tools)")
    info = probe(path, "hi.wav").info
    assert info.sample_rate == 16000 and 0.3 < (info.duration_s or 0) < 3
