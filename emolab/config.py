"""Defaults in one place; environment variables override the few that users set."""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PROJECT_ROOT / "data"
MODELS_DIR = DATA_DIR / "models"

#: Rate at which librosa features and the dynamic models analyse audio.
ANALYSIS_SR = 22050
#: openSMILE's DEAM-compatible features are computed at this rate (DEAM's mp3s are 44.1 kHz).
OPENSMILE_SR = 44100
#: Emotion curves, frame features and annotations live on this grid (DEAM/emoMusic: 2 Hz).
HOP_SECONDS = 0.5
#: Default longest recording accepted (seconds).
MAX_DURATION = 20 * 60.0
#: Default largest file accepted (bytes); matches .streamlit/config.toml's maxUploadSize.
MAX_FILE_BYTES = 200 * 1024 * 1024


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity where the OS has one, else all)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def default_db_path() -> Path:
    """The index file: ``$EMOLAB_DB`` if set, else ``data/emolab.duckdb``."""
    return Path(os.environ.get("EMOLAB_DB", DATA_DIR / "emolab.duckdb"))


@dataclass(frozen=True)
class AudioLimits:
    """What :func:`emolab.audio.load` accepts."""

    max_duration: float = MAX_DURATION
    max_bytes: int = MAX_FILE_BYTES
    silence_db: float = -60.0


@dataclass(frozen=True)
class Settings:
    db_path: Path = field(default_factory=default_db_path)
    models_dir: Path = MODELS_DIR
    limits: AudioLimits = field(default_factory=AudioLimits)


def rating_to_unit(x):
    """Map a 1–9 rating to [-1, 1] by ``(x - 5) / 4``."""
    return (x - 5.0) / 4.0


def unit_to_rating(x):
    """Map [-1, 1] back to DEAM's 1–9 scale."""
    return x * 4.0 + 5.0
