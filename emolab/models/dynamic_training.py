"""Training data for the sequence models: corpora, teacher targets, labelled songs.

The pieces the ``pretrain-vae``, ``train-vae-lstm`` and ``experiment dynamic`` commands
call (the experiment itself is :mod:`emolab.experiments.dynamic`). Unlabelled audio (any folder of music) is used for pretraining the autoencoders
and, through the static model (the *teacher*), for 2 Hz targets of the shipped head;
labelled audio comes from any dataset layout :mod:`emolab.datasets` reads.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from emolab.audio import AUDIO_EXTENSIONS, load
from emolab.config import ANALYSIS_SR, HOP_SECONDS, OPENSMILE_SR
from emolab.exceptions import DatasetError, EmolabError, ModelError, ParameterError
from emolab.models.dynamic import model_columns, windowed_static_curve
from emolab.models.sequence import frame_times, logmel_sequence, opensmile_sequence
from emolab.models.vae import PatchVAE

DEFAULT_CACHE = Path.home() / ".cache" / "emolab"


# -- unlabelled corpus -----------------------------------------------------------------------
def audio_files(folder, *, max_files: int | None = None) -> list[Path]:
    """Audio files under ``folder`` (recursively), sorted, optionally the first ``max_files``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ParameterError(f"No folder at '{folder}'.")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file())
    if not files:
        raise DatasetError(f"No wav, mp3, flac or ogg files under '{folder}'.")
    return files[:max_files] if max_files else files


def interleave_by_folder(files, root) -> list[Path]:
    """Files taken in turn from each top-level folder under ``root`` (one per soundtrack package),
    so that a minute limit samples every source rather than the first one alphabetically."""
    groups: dict[str, list[Path]] = {}
    for f in files:
        rel = Path(f).relative_to(root)
        groups.setdefault(rel.parts[0] if len(rel.parts) > 1 else "", []).append(Path(f))
    queues = list(groups.values())
    out = []
    for i in range(max(map(len, queues), default=0)):
        out += [q[i] for q in queues if i < len(q)]
    return out


def corpus_patches(files, *, cache_dir=None, max_minutes: float | None = None, stride: int = 1,
                   progress: bool = False) -> list[np.ndarray]:
    """Log-mel patches of each file (0.5 s grid, every ``stride``-th), cached as .npy.

    Returns
    -------
    list of np.ndarray, each shape (n_i, n_mels, n_bins)
    """
    out, minutes = [], 0.0
    for path in _progress(files, progress, "log-mel"):
        patches = _cached(cache_dir, "logmel", path, lambda p: logmel_sequence(*_load(p, ANALYSIS_SR)))
        if patches is None:
            continue
        out.append(patches[::stride])
        minutes += len(patches) * HOP_SECONDS / 60
        if max_minutes and minutes >= max_minutes:
            break
    return out


def teacher_corpus(files, encoder: PatchVAE, static_model, *, cache_dir=None,
                   max_minutes: float | None = None, window_seconds: float = 10.0,
                   progress: bool = False):
    """Latent sequences and teacher targets of unlabelled audio (teacher–student data).

    The teacher is the static model applied to sliding windows (``window_seconds``) of
    openSMILE frames, smoothed (:func:`windowed_static_curve`); only the openSMILE
    columns the static model reads are computed.

    Returns
    -------
    latents : list of np.ndarray, each shape (n_i, latent_dim)
    targets : list of np.ndarray, each shape (n_i, 2), on [-1, 1]
    """
    columns = model_columns(static_model)
    kind = "opensmile-" + hashlib.sha1(",".join(columns).encode()).hexdigest()[:8]
    latents, targets, minutes = [], [], 0.0
    for path in _progress(files, progress, "teacher"):
        patches = _cached(cache_dir, "logmel", path, lambda p: logmel_sequence(*_load(p, ANALYSIS_SR)))
        frames = _cached(cache_dir, kind, path,
                         lambda p: _opensmile_columns(*_load(p, OPENSMILE_SR), columns))
        if patches is None or frames is None:
            continue
        frames = _same_length(frames, len(patches))
        targets.append(windowed_static_curve(frames, static_model, frame_columns=columns,
                                             window_seconds=window_seconds).astype(np.float32))
        latents.append(encoder.transform(patches))
        minutes += len(patches) * HOP_SECONDS / 60
        if max_minutes and minutes >= max_minutes:
            break
    return latents, targets


def _opensmile_columns(y, sr, columns):
    from emolab.features.deam import opensmile_frames
    from emolab.models.sequence import n_frames_for

    _, frames = opensmile_frames(y, sr, columns=columns)
    return _same_length(frames, n_frames_for(max(len(y) / sr, 1.0)))


def _load(path, sr):
    audio = load(path, sr=sr)
    return audio.y, audio.sr


def _cached(cache_dir, kind: str, path: Path, compute):
    """``compute(path)`` cached under ``cache_dir``; ``None`` for unreadable files."""
    file = None
    if cache_dir is not None:
        key = hashlib.sha1(f"{Path(path).resolve()}:{Path(path).stat().st_size}".encode()).hexdigest()[:16]
        file = Path(cache_dir) / kind / f"{key}.npy"
        if file.is_file():
            return np.load(file)
    try:
        value = np.asarray(compute(path), dtype=np.float32)
    except EmolabError:
        return None
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        np.save(file, value)
    return value


# -- labelled songs ------------------------------------------------------------------------------
@dataclass
class LabelledSong:
    """One song with audio and a human 2 Hz curve, resampled to the 0.5 s frame grid.

    Attributes
    ----------
    key : str
        ``dataset:id``.
    targets : np.ndarray, shape (n_frames, 2)
        (valence, arousal) on [-1, 1]; NaN on frames the annotators did not rate.
    inputs : dict
        Per front end the model inputs, computed on demand (``patches``, ``opensmile``).
    """

    key: str
    audio_path: str
    curve: tuple
    targets: np.ndarray | None = None
    inputs: dict = field(default_factory=dict)


def labelled_songs(datasets) -> list[LabelledSong]:
    """Songs having both audio and a curve, from ``[(name, root), ...]`` dataset layouts."""
    from emolab.datasets import read_dataset

    songs = []
    for name, root in datasets:
        tables = read_dataset(name, root)
        with_audio = tables.songs.dropna(subset=["audio_path"])
        for row in with_audio.itertuples():
            curve = tables.curves.get(str(row.dataset_id))
            if curve is not None:
                songs.append(LabelledSong(f"{name}:{row.dataset_id}", str(row.audio_path), curve))
    if not songs:
        raise DatasetError("None of the datasets given has songs with both audio and a 2 Hz curve.")
    return songs


def curve_on_grid(curve, n_frames: int) -> np.ndarray:
    """A human curve ``(t0, hop, valence, arousal)`` on the frame grid, NaN outside it.

    Returns
    -------
    np.ndarray, shape (n_frames, 2)
    """
    t0, hop, valence, arousal = curve
    t = t0 + hop * np.arange(len(valence))
    grid = frame_times(n_frames)
    inside = (grid >= t[0] - 1e-6) & (grid <= t[-1] + 1e-6)
    out = np.full((n_frames, 2), np.nan)
    out[inside, 0] = np.interp(grid[inside], t, valence)
    out[inside, 1] = np.interp(grid[inside], t, arousal)
    return out


def prepare_songs(songs: list[LabelledSong], *, cache_dir=None, opensmile: bool = True,
                  progress: bool = False) -> list[LabelledSong]:
    """Compute log-mel patches (and openSMILE frames) and grid targets of each song."""
    for song in _progress(songs, progress, "features"):
        patches = _cached(cache_dir, "logmel", Path(song.audio_path),
                          lambda p: logmel_sequence(*_load(p, ANALYSIS_SR)))
        if patches is None:
            raise DatasetError(f"Could not read the audio of {song.key} ('{song.audio_path}').")
        song.inputs["patches"] = patches
        if opensmile:
            frames = _cached(cache_dir, "opensmile", Path(song.audio_path),
                             lambda p: opensmile_sequence(*_load(p, OPENSMILE_SR)))
            song.inputs["opensmile"] = _same_length(frames, len(patches))
        song.targets = curve_on_grid(song.curve, len(patches))
    return songs


def _same_length(x: np.ndarray, n: int) -> np.ndarray:
    return x[:n] if len(x) >= n else np.concatenate([x, np.repeat(x[-1:], n - len(x), axis=0)])


def load_static_model():
    """The shipped static model, or ``None`` (with the reason) when there is no model file."""
    from emolab.models.static import StaticEmotionModel

    try:
        return StaticEmotionModel.load(), None
    except (ModelError, FileNotFoundError) as exc:  # no model file; a broken import fails loudly
        return None, str(exc) or "the static model is not trained yet"


def _progress(iterable, enabled: bool, desc: str):
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc)
