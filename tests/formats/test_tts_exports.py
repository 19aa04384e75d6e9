"""TTS exports of recorded scripts: an LJSpeech folder read back with csv and soundfile, and a
Hugging Face Parquet read back with `datasets` (its Audio feature). The takes are made here: tones
from numpy, encoded as the browser records them (webm/opus) or as stereo WAV, with PyAV."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import pytest

av = pytest.importorskip("av")
sf = pytest.importorskip("soundfile")

import datasets  # noqa: E402

from thresher.errors import DataError  # noqa: E402
from thresher.model import BlobRef, Record, RecordingQuestion, Response  # noqa: E402
from thresher.pipeline import export_dataset  # noqa: E402
from thresher.store import Store  # noqa: E402

SCRIPT = "“Hello” — it’s 5 o’clock…\nTime | to go."
QUESTION = RecordingQuestion(name="voice", title="Read it", tags={"emotion": ["neutral", "happy"], "style": ["calm"]})


def tone(freq: float, seconds: float, rate: int, channels: int = 1) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    wave = (0.4 * np.sin(2 * np.pi * freq * t) * 32767).astype(np.int16)
    return np.repeat(wave[None, :], channels, axis=0)  # (channels, samples), planar


def encode(pcm: np.ndarray, rate: int, fmt: str, codec: str) -> bytes:
    """Encode planar int16 samples with PyAV, in ~20 ms frames as a browser's MediaRecorder does."""
    buf = io.BytesIO()
    layout = "mono" if pcm.shape[0] == 1 else "stereo"
    with av.open(buf, "w", format=fmt) as out:
        stream = out.add_stream(codec, rate=rate, layout=layout)
        step = rate // 50
        for i in range(0, pcm.shape[1], step):
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(pcm[:, i : i + step]), format="s16p", layout=layout)
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return buf.getvalue()


def webm(freq: float, seconds: float) -> bytes:
    return encode(tone(freq, seconds, 48_000), 48_000, "webm", "libopus")


def take(store: Store, data: bytes, mime: str, seconds: float) -> dict[str, object]:
    ref: BlobRef = store.blobs.put_bytes(data, mime)
    return {"blob": ref.model_dump(exclude_none=True), "duration_s": seconds}


def dominant_hz(samples: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64)))
    return float(np.fft.rfftfreq(len(samples), 1 / rate)[int(np.argmax(spectrum))])


@pytest.fixture
def scripts(sqlite_store: Store) -> Store:
    store = sqlite_store
    store.ensure_project("p")
    ds = store.create_dataset("p", "scripts", questions=[QUESTION])
    texts = [SCRIPT, "The second line.", "Nobody read this one."]
    store.add_records(ds, [Record.model_validate({"content": {"kind": "text", "text": t}}) for t in texts])
    ids = {r.content: r.id for page in store.iter_records(ds) for r in page}
    first, second = (next(rid for c, rid in ids.items() if key in c) for key in ("Hello", "second"))
    # ann1 retook the first script and kept the second take (2 s at 440 Hz), tagged happy.
    takes = [take(store, webm(880, 1.0), "audio/webm", 1.0), take(store, webm(440, 2.0), "audio/webm", 2.0)]
    value = {"takes": takes, "selected": 1, "tags": {"emotion": "happy", "style": "calm"}}
    store.save_response(Response(record_id=first, user="ann1", answers={"voice": value}))
    # ann2 read it too: a second speaker of the same script.
    value = {"takes": [take(store, webm(330, 1.5), "audio/webm", 1.5)], "tags": {"emotion": "neutral"}}
    store.save_response(Response(record_id=first, user="ann2", answers={"voice": value}))
    # The second script came as a 44.1 kHz stereo WAV: downmixed and resampled like the rest.
    wav = encode(tone(660, 1.0, 44_100, channels=2), 44_100, "wav", "pcm_s16le")
    value = {"takes": [take(store, wav, "audio/wav", 1.0)]}
    store.save_response(Response(record_id=second, user="ann1", answers={"voice": value}))
    return store


def test_ljspeech_folder_reads_back(scripts: Store, tmp_path: Path) -> None:
    out = tmp_path / "ljspeech"
    result = export_dataset(scripts, scripts.get_dataset("p", "scripts"), out, "ljspeech")
    assert (result.records, result.rows) == (3, 3)
    assert dict(result.skipped) == {"no submitted recording whose selected take is a stored blob": 1}
    with (out / "metadata.csv").open(encoding="utf-8", newline="") as f:
        lines = list(csv.reader(f, delimiter="|", quoting=csv.QUOTE_NONE))
    assert [len(line) for line in lines] == [3, 3, 3]
    by_text = {text: (clip_id, norm) for clip_id, text, norm in lines}
    # One line per clip, the script on one line without the separator; normalized to ASCII punctuation.
    assert by_text["“Hello” — it’s 5 o’clock… Time to go."][1] == "\"Hello\" - it's 5 o'clock... Time to go."
    hz = {}
    for clip_id, text, _ in lines:
        samples, rate = sf.read(out / "wavs" / f"{clip_id}.wav", dtype="int16")
        info = sf.info(out / "wavs" / f"{clip_id}.wav")
        assert (rate, info.channels, info.subtype) == (22_050, 1, "PCM_16")
        hz[clip_id] = (text, round(len(samples) / rate, 1), round(dominant_hz(samples, rate)))
    # The selected take (2 s at 440 Hz, not the 1 s retake at 880 Hz), the second speaker, the resampled WAV.
    assert sorted(hz.values()) == sorted(
        [
            ("“Hello” — it’s 5 o’clock… Time to go.", 2.0, 440),
            ("“Hello” — it’s 5 o’clock… Time to go.", 1.5, 330),
            ("The second line.", 1.0, 660),
        ]
    )
    with (out / "tags.csv").open(encoding="utf-8", newline="") as f:
        tags = list(csv.DictReader(f))
    assert sorted((t["speaker"], t["emotion"], t["style"]) for t in tags) == [
        ("ann1", "", ""),
        ("ann1", "happy", "calm"),
        ("ann2", "neutral", ""),
    ]


def test_hf_tts_loads_with_an_audio_feature(scripts: Store, tmp_path: Path) -> None:
    out = tmp_path / "tts.parquet"
    result = export_dataset(scripts, scripts.get_dataset("p", "scripts"), out, "hf-tts")
    assert result.rows == 3
    ds = datasets.load_dataset("parquet", data_files=str(out), split="train", cache_dir=str(tmp_path / "hf-cache"))
    assert isinstance(ds.features["audio"], datasets.Audio)
    assert {"text", "normalized_text", "speaker", "duration_s", "emotion", "style", "id", "record_id"} <= set(
        ds.column_names
    )
    ds = ds.cast_column("audio", datasets.Audio(decode=False))  # decoding needs torchcodec: read the bytes here
    rows = sorted(ds, key=lambda r: (r["text"], r["speaker"]))
    assert [(r["speaker"], r["emotion"], r["style"], r["duration_s"]) for r in rows] == [
        ("ann1", None, None, 1.0),
        ("ann1", "happy", "calm", 2.0),
        ("ann2", "neutral", None, 1.5),
    ]
    for r in rows:
        samples, rate = sf.read(io.BytesIO(r["audio"]["bytes"]), dtype="int16")
        assert rate == 22_050 and samples.ndim == 1
        assert r["audio"]["path"] == f"{r['id']}.wav"
    assert round(dominant_hz(sf.read(io.BytesIO(rows[1]["audio"]["bytes"]))[0], 22_050)) == 440


def test_an_unreadable_take_names_the_record(scripts: Store, tmp_path: Path) -> None:
    ds = scripts.get_dataset("p", "scripts")
    [rid] = [r.id for page in scripts.iter_records(ds) for r in page if "Nobody" in r.content]
    value = {"takes": [take(scripts, b"not audio at all" * 64, "audio/webm", 1.0)]}
    scripts.save_response(Response(record_id=rid, user="ann1", answers={"voice": value}))
    with pytest.raises(DataError) as e:
        export_dataset(scripts, ds, tmp_path / "lj", "ljspeech")
    assert rid in str(e.value) and e.value.details[0].loc == (rid, "voice", "takes", 0)
    assert not (tmp_path / "lj").exists()  # nothing half-written
