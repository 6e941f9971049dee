"""Audio loading: the only place that decodes files.

Accepts a path or a binary file object (a Streamlit upload), decodes wav, flac, ogg and
mp3 with libsndfile, mixes to mono float32 and resamples to the rate asked for.
"""
from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Union

import numpy as np
import soundfile as sf

from emolab.config import ANALYSIS_SR, AudioLimits
from emolab.exceptions import (
    AudioTooLongError,
    CorruptAudioError,
    EmptyAudioError,
    ParameterError,
)

Source = Union[str, os.PathLike, BinaryIO, bytes]

#: File endings EmoLab accepts for audio.
AUDIO_EXTENSIONS = (".wav", ".mp3", ".flac", ".ogg")
#: Lowest sample rate accepted (Hz); files claiming less are damaged, not music.
MIN_SAMPLE_RATE = 1000


@dataclass(frozen=True)
class Audio:
    """A decoded recording.

    Attributes
    ----------
    y : np.ndarray, shape (n_samples,), float32
        Mono signal in [-1, 1] at rate ``sr``.
    sr : int
        Sample rate of ``y``.
    duration : float
        Length in seconds.
    original_sr : int
        Sample rate stored in the file.
    channels : int
        Channels in the file before mixing to mono.
    silent : bool
        True when the recording is empty or quieter than the silence threshold
        throughout; such audio is allowed, but its emotion predictions mean little.
    """

    y: np.ndarray
    sr: int
    duration: float
    original_sr: int
    channels: int
    silent: bool


def read_bytes(source: Source, *, max_bytes: int | None = None) -> bytes:
    """Read a path, a file object or bytes into memory, refusing files that are too big."""
    limit = max_bytes or AudioLimits().max_bytes
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.is_file():
            raise ParameterError(f"No audio file at '{path}'.")
        if path.stat().st_size > limit:
            raise AudioTooLongError(f"'{path.name}' is larger than {limit // 2**20} MB.")
        data = path.read_bytes()
    else:
        if hasattr(source, "seek"):
            source.seek(0)
        data = source.read(limit + 1)
    if len(data) > limit:
        raise AudioTooLongError(f"The file is larger than {limit // 2**20} MB.")
    if not data:
        raise EmptyAudioError("The file is empty (0 bytes).")
    return data


def content_hash(data: bytes) -> str:
    """SHA-256 of a file's bytes: how the index recognises a file it has seen."""
    return hashlib.sha256(data).hexdigest()


def decode(
    data: bytes,
    *,
    sr: int | None = ANALYSIS_SR,
    limits: AudioLimits | None = None,
) -> Audio:
    """Decode audio bytes to mono float32.

    Parameters
    ----------
    data : bytes
        The whole file.
    sr : int or None
        Target rate; ``None`` keeps the file's own rate.
    limits : AudioLimits, optional
        Longest duration accepted and the silence threshold.

    Returns
    -------
    Audio
    """
    limits = limits or AudioLimits()
    if not data:
        raise EmptyAudioError("The file is empty (0 bytes).")
    try:
        with sf.SoundFile(io.BytesIO(data)) as f:
            original_sr, channels, frames = f.samplerate, f.channels, f.frames
            if original_sr < MIN_SAMPLE_RATE:
                raise CorruptAudioError(
                    f"The file reports a sample rate of {original_sr} Hz; recordings use at "
                    f"least {MIN_SAMPLE_RATE:,} Hz (telephone quality is 8,000 Hz). The file "
                    "is probably damaged.")
            if frames > 0 and frames / original_sr > limits.max_duration:
                raise AudioTooLongError(_too_long(frames / original_sr, limits.max_duration))
            max_frames = int((limits.max_duration + 1) * original_sr)
            if f.format in SPLIT_FORMATS and f.seekable() and frames >= SPLIT_SECONDS * original_sr:
                y = _read_in_two(data, f, frames)
            else:
                y = f.read(frames=max_frames, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        raise CorruptAudioError(
            "This file could not be read as audio: it may be damaged, truncated, "
            "or not a wav/mp3/flac/ogg file."
        ) from exc
    if y.shape[0] / original_sr > limits.max_duration:
        raise AudioTooLongError(_too_long(y.shape[0] / original_sr, limits.max_duration))
    mono = _to_mono(y)
    if sr is not None and sr != original_sr and mono.size:
        # resampling a clipped recording overshoots [-1, 1] a little: clip again
        mono = np.clip(resample(mono, orig_sr=original_sr, target_sr=sr), -1.0, 1.0)
    out_sr = sr or original_sr
    return Audio(
        y=mono,
        sr=out_sr,
        duration=mono.size / out_sr,
        original_sr=original_sr,
        channels=channels,
        silent=is_silent(mono, threshold_db=limits.silence_db),
    )


def load(
    source: Source,
    *,
    sr: int | None = ANALYSIS_SR,
    limits: AudioLimits | None = None,
) -> Audio:
    """Load an audio file from a path, a file object or bytes.

    Parameters
    ----------
    source : path, file object or bytes
        A wav, mp3, flac or ogg file.
    sr : int or None
        Target sample rate; ``None`` keeps the file's own rate.
    limits : AudioLimits, optional

    Returns
    -------
    Audio
        ``y`` has shape (n_samples,), dtype float32.

    Raises
    ------
    EmptyAudioError, CorruptAudioError, AudioTooLongError, ParameterError
    """
    limits = limits or AudioLimits()
    return decode(read_bytes(source, max_bytes=limits.max_bytes), sr=sr, limits=limits)


def is_silent(y: np.ndarray, *, threshold_db: float = -60.0) -> bool:
    """True if ``y`` (shape (n,)) is empty or its peak is below ``threshold_db`` dBFS."""
    if y.size == 0:
        return True
    peak = float(np.max(np.abs(y)))
    return peak <= 10 ** (threshold_db / 20)


def middle_excerpt(y: np.ndarray, sr: int, seconds: float | None) -> np.ndarray:
    """The middle ``seconds`` of a recording (all of it when shorter or ``seconds`` is None).

    Parameters
    ----------
    y : np.ndarray, shape (n_samples,)
    sr : int
    seconds : float or None

    Returns
    -------
    np.ndarray, shape (min(n_samples, round(seconds * sr)),)
        A view of ``y``.
    """
    n = len(y) if seconds is None else int(round(seconds * sr))
    if n >= len(y):
        return y
    start = (len(y) - n) // 2
    return y[start:start + n]


def mono_at_rate(y: np.ndarray, sr: int, *, target_sr: int, min_seconds: float = 0.0) -> np.ndarray:
    """Check a mono signal, resample it to ``target_sr`` and pad it to ``min_seconds``.

    Parameters
    ----------
    y : np.ndarray, shape (n,)
    sr, target_sr : int
    min_seconds : float
        Shorter signals are padded with silence at the end.

    Returns
    -------
    np.ndarray, shape (m,), float32, finite
    """
    y = np.asarray(y, dtype=np.float32)
    if y.ndim != 1:
        raise ParameterError(f"Audio must be mono, shape (n_samples,); got shape {y.shape}.")
    if sr <= 0:
        raise ParameterError(f"The sample rate must be positive; got {sr}.")
    y = resample(y, orig_sr=sr, target_sr=target_sr)
    if not np.isfinite(y).all():  # one pass to check; the repair (several passes) only when needed
        y = np.nan_to_num(y, nan=0.0, posinf=0.0, neginf=0.0)
    n_min = int(round(min_seconds * target_sr))
    return np.pad(y, (0, n_min - y.size)) if y.size < n_min else y


#: Containers whose decoder seeks to the exact sample in libsndfile (a test checks that the
#: halves join without a seam), and the length from which they are decoded in two threads
#: (libsndfile releases the GIL; a 4-minute Vorbis file takes about a second on one core).
SPLIT_FORMATS = ("OGG", "FLAC", "WAV")
SPLIT_SECONDS = 90.0


def _read_in_two(data: bytes, first, frames: int) -> np.ndarray:
    """The whole of an open file ``first`` (``frames`` long): its second half decoded by a
    second reader of the same bytes in a thread while ``first`` decodes the first half."""
    from concurrent.futures import ThreadPoolExecutor

    half = frames // 2
    out = np.empty((frames, first.channels), dtype=np.float32)

    def second_half() -> int:
        with sf.SoundFile(io.BytesIO(data)) as other:
            other.seek(half)
            return len(other.read(out=out[half:]))

    with ThreadPoolExecutor(1) as pool:
        later = pool.submit(second_half)
        got = len(first.read(out=out[:half]))
        got_later = later.result()
    if got != half or got_later != frames - half:  # a file shorter than its header says
        return out[:got] if got < half else np.concatenate([out[:half], out[half:half + got_later]])
    return out


def _to_mono(y: np.ndarray) -> np.ndarray:
    if y.shape[1] == 2:  # as y.mean(axis=1) (same float32 sum, exact halving), 10x faster
        mono = y[:, 0] + y[:, 1]
        mono *= np.float32(0.5)
    else:
        mono = y.mean(axis=1) if y.shape[1] > 1 else y[:, 0].copy()
    if not np.isfinite(mono).all():
        mono = np.nan_to_num(mono, nan=0.0, posinf=1.0, neginf=-1.0, copy=False)
    return np.clip(mono, -1.0, 1.0, out=mono).astype(np.float32, copy=False)


def resample(y: np.ndarray, *, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample a mono signal, shape (n,) -> (m,), float32."""
    if orig_sr == target_sr or y.size == 0:
        return y.astype(np.float32, copy=False)
    import soxr

    return soxr.resample(y, orig_sr, target_sr, quality="HQ").astype(np.float32, copy=False)


def _too_long(seconds: float, limit: float) -> str:
    return (
        f"The recording lasts {seconds / 60:.1f} minutes; EmoLab analyses at most "
        f"{limit / 60:.0f} minutes. Cut it into shorter pieces, or raise the limit."
    )
