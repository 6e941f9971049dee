"""The fast DEAM columns against openSMILE: calibration and agreement.

* :func:`fit_calibration` — one affine map per column (``opensmile ≈ slope × fast + intercept``),
  least squares over 0.5 s frames of *unlabelled* music (the corpus of
  ``scripts/get_pretraining_audio.sh``); written next to the static model
  (``data/models/static/feature_calibration.json``), which :mod:`emolab.features.deam_fast` reads.
* :func:`agreement` — on held-out real music (never the calibration corpus): per column
  Pearson r across songs of the song-level values, and the static model's predictions
  from the fast features against those from openSMILE's.

openSMILE is imported here (it is the reference), never by the extractor itself.
"""
from __future__ import annotations

import json
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from emolab import audio
from emolab.exceptions import DatasetError
from emolab.features import deam, deam_fast

AUDIO_SUFFIXES = (".mp3", ".ogg", ".wav", ".flac")


def audio_files(folder, *, limit: int | None = None, seed: int = 0) -> list[Path]:
    """Audio files under ``folder`` (sorted; a seeded random ``limit`` of them if given)."""
    files = sorted(p for p in Path(folder).expanduser().rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES)
    if not files:
        raise DatasetError(f"No audio files under '{folder}'.")
    if limit is not None and limit < len(files):
        pick = np.random.default_rng(seed).choice(len(files), size=limit, replace=False)
        files = [files[i] for i in sorted(pick)]
    return files


def _excerpt(path, seconds):
    """Mono audio of ``path`` at its own rate; only its middle ``seconds`` are decoded."""
    import soundfile as sf

    with sf.SoundFile(str(path)) as f:
        sr, total = f.samplerate, f.frames
        want = total if not seconds else min(total, int(seconds * sr))
        f.seek((total - want) // 2)
        y = f.read(want, dtype="float32", always_2d=True).mean(axis=1)
    return y, sr


def paired_frames(files, columns, *, seconds=None, progress=None):
    """Raw fast frames and openSMILE frames of the same audio, stacked over files."""
    fast, smile = [], []
    for i, path in enumerate(files):
        y, sr = _excerpt(path, seconds)
        fast.append(deam_fast.raw_frames(y, sr, columns=columns)[1])
        smile.append(deam.opensmile_frames(y, sr, columns=columns)[1])
        if progress:
            progress(f"{i + 1}/{len(files)} {Path(path).name}")
    return np.vstack(fast), np.vstack(smile)


def fit_calibration(files, *, columns=None, seconds=30.0, command="", progress=None) -> dict:
    """Affine maps from raw fast values to openSMILE's, fitted on frames of ``files``.

    Returns
    -------
    dict
        JSON-ready: ``columns`` ({column: [slope, intercept]}), ``frame_r`` (Pearson r of
        the raw values per column), the corpus size, the date and ``command``.
    """
    columns = list(deam_fast.FAST_PITCH_COLUMNS if columns is None else columns)
    fast, smile = paired_frames(files, columns, seconds=seconds, progress=progress)
    maps, frame_r = {}, {}
    for j, column in enumerate(columns):
        a, b = fast[:, j], smile[:, j]
        slope, intercept = np.polyfit(a, b, 1) if a.std() > 0 else (1.0, float(b.mean() - a.mean()))
        maps[column] = [float(slope), float(intercept)]
        frame_r[column] = float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 and b.std() > 0 else float("nan")
    return {"what": "affine map per column: openSMILE value = slope * fast value + intercept, "
                    "least squares over 0.5 s frames",
            "corpus": {"files": len(files), "frames": int(len(fast)), "seconds_per_file": seconds},
            "date": date.today().isoformat(), "command": command,
            "columns": maps, "frame_r": frame_r}


def write_calibration(calibration: dict, path=None) -> Path:
    path = Path(path or deam_fast.CALIBRATION_PATH)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(calibration, indent=1))
    deam_fast.load_calibration.cache_clear()
    return path


def song_vectors(files, columns, *, progress=None):
    """Song-level values of ``files`` from both extractors, with the CPU seconds each took."""
    fast, smile, cpu = {}, {}, {"fast": 0.0, "opensmile": 0.0, "audio_seconds": 0.0}
    for i, path in enumerate(files):
        sound = audio.load(path, sr=None)
        key = str(path)
        for name, store in (("fast", fast), ("opensmile", smile)):
            start = time.process_time()
            store[key] = deam_fast.deam_song_vector(sound.y, sound.sr, columns=columns, extractor=name)
            cpu[name] += time.process_time() - start
        cpu["audio_seconds"] += sound.duration
        if progress:
            progress(f"{i + 1}/{len(files)} {Path(path).name}")
    frame = lambda d: pd.DataFrame.from_dict(d, orient="index", columns=columns)  # noqa: E731
    return frame(fast), frame(smile), cpu


def agreement(fast: pd.DataFrame, smile: pd.DataFrame, *, model=None) -> tuple[pd.DataFrame, dict]:
    """Per-column Pearson r (across songs) and, with ``model``, the agreement of its predictions.

    Returns
    -------
    columns : DataFrame
        ``column, pearson_r, median_abs_error_over_std`` (error over openSMILE's spread across songs).
    predictions : dict
        ``r_valence, r_arousal`` (predictions from fast vs from openSMILE features),
        ``mae_valence, mae_arousal`` (on [-1, 1]) and the constant-baseline ``r`` (0: a
        prediction that ignores the audio agrees with nothing).
    """
    rows = []
    for column in fast.columns:
        a, b = fast[column].to_numpy(float), smile[column].to_numpy(float)
        r = float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 and b.std() > 0 else float("nan")
        err = float(np.median(np.abs(a - b)) / b.std()) if b.std() > 0 else float("nan")
        rows.append((column, r, err))
    table = pd.DataFrame(rows, columns=["column", "pearson_r", "median_abs_error_over_std"])
    predictions = {}
    if model is not None:
        p_fast, _ = model.predict(fast[model.feature_columns].to_numpy())
        p_smile, _ = model.predict(smile[model.feature_columns].to_numpy())
        for j, target in enumerate(("valence", "arousal")):
            predictions[f"r_{target}"] = float(np.corrcoef(p_fast[:, j], p_smile[:, j])[0, 1])
            predictions[f"mae_{target}"] = float(np.mean(np.abs(p_fast[:, j] - p_smile[:, j])))
            predictions[f"spread_{target}"] = float(p_smile[:, j].std())
    return table, predictions
