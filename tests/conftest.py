"""Shared fixtures: generated audio, a real DuckDB index in a temp dir, the shared data path."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from emolab.index import open_index

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def shared_path(*parts) -> Path:
    """A path under ../shared/data; the test is skipped when it is absent."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data not present: {path}")
    return path


def tone(freq=440.0, seconds=3.0, sr=22050, amp=0.5, channels=1):
    """A sine tone, shape (n,) or (n, channels), float32."""
    t = np.arange(int(seconds * sr)) / sr
    y = (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    return y if channels == 1 else np.repeat(y[:, None], channels, axis=1)


def chord(freqs=(261.63, 329.63, 392.0), seconds=3.0, sr=22050, amp=0.3):
    t = np.arange(int(seconds * sr)) / sr
    y = sum(np.sin(2 * np.pi * f * t) for f in freqs) / len(freqs)
    envelope = np.minimum(1.0, t * 10) * np.exp(-0.2 * t)
    return (amp * y * envelope).astype(np.float32)


def encode(y, sr, fmt="WAV", subtype=None) -> bytes:
    """Encode a signal to the bytes of a file of format WAV, FLAC, OGG or MP3."""
    buf = io.BytesIO()
    sf.write(buf, y, sr, format=fmt, subtype=subtype)
    return buf.getvalue()


def write_audio(path: Path, y, sr, fmt=None) -> Path:
    fmt = fmt or path.suffix.lstrip(".").upper()
    path.write_bytes(encode(y, sr, fmt))
    return path


@pytest.fixture
def index(tmp_path):
    idx = open_index(tmp_path / "index.duckdb")
    yield idx
    idx.close()


@pytest.fixture(autouse=True)
def _isolated_db(tmp_path, monkeypatch):
    """No test ever touches data/emolab.duckdb."""
    monkeypatch.setenv("EMOLAB_DB", str(tmp_path / "default.duckdb"))
