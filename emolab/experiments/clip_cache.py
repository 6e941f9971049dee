"""Per-clip feature vectors of a labelled collection, cached on disk.

Long audio passes (openSMILE's DEAM vector, :func:`emolab.features.tonal.tonal_vector`, a
peer's predictions) are computed once per clip and kept in ``~/.cache/emolab/<collection>/``
(one ``.npy`` or ``.json`` per clip under a folder named by what computed it), so that an
experiment can be rerun without decoding the audio again.
"""
from __future__ import annotations

import json
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

KINDS = ("deam-fast67", "tonal-v1")
#: ``deam-fast67``: :func:`emolab.features.deam_fast.deam_song_vector` of its 67 ``RUNTIME_COLUMNS``
#: (the static model's inputs, as ``predict_static`` computes them); ``tonal-v1``:
#: :func:`emolab.features.tonal.tonal_vector`; ``deam74-opensmile``: openSMILE's DEAM74 vector.


def cache_root() -> Path:
    """``$EMOLAB_CACHE`` or ``~/.cache/emolab``."""
    return Path(os.environ.get("EMOLAB_CACHE") or Path.home() / ".cache" / "emolab")


def cache_dir(collection: str, kind: str, excerpt_s: float | None = None) -> Path:
    """``~/.cache/emolab/<collection>/<kind>[-mid<excerpt_s>s]/`` (``$EMOLAB_CACHE`` replaces ``~/.cache/emolab``)."""
    suffix = "" if excerpt_s is None else f"-mid{excerpt_s:g}s"
    return cache_root() / collection / f"{kind}{suffix}"


def _compute(kind: str, y: np.ndarray, sr: int) -> np.ndarray:
    if kind == "deam74-opensmile":
        from emolab.features import deam

        return deam.deam_song_vector(y, sr)
    if kind == "deam-fast67":
        from emolab.features import deam_fast

        return deam_fast.deam_song_vector(y, sr, columns=list(deam_fast.RUNTIME_COLUMNS))
    if kind == "tonal-v1":
        from emolab.features import tonal

        return tonal.tonal_vector(y, sr)
    raise ValueError(kind)


def _worker(job) -> str:
    path, targets, excerpt_s = job
    try:
        os.nice(max(0, 10 - os.nice(0)))  # niceness 10, not more if the caller is niced already
    except OSError:
        pass
    from emolab import audio

    clip = audio.load(path, sr=None)
    y = audio.middle_excerpt(clip.y, clip.sr, excerpt_s)
    for kind, target in targets:
        vector = np.asarray(_compute(kind, y, clip.sr), dtype=np.float64)
        tmp = Path(f"{target}.tmp.npy")
        np.save(tmp, vector)
        os.replace(tmp, target)
    return path


def cached_vectors(ids, paths, *, collection: str, kinds=KINDS, excerpt_s: float | None = None, jobs: int = 2,
                   progress=None) -> dict:
    """Per-clip vectors of each kind, computing (in ``jobs`` processes, niced) those not cached.

    Parameters
    ----------
    ids : sequence of str
        Clip ids (file names of the cache).
    paths : sequence of str
        Their audio files.
    collection : str
        Cache folder name, e.g. ``4q``.
    kinds : sequence of str
        Among :data:`KINDS`.
    excerpt_s : float, optional
        Compute on the middle ``excerpt_s`` seconds of each clip only (None: the whole clip).
    jobs : int
        Parallel processes (at most 2 on a shared machine).

    Returns
    -------
    dict
        ``kind -> np.ndarray, shape (len(ids), n_features)``.
    """
    folders = {kind: cache_dir(collection, kind, excerpt_s) for kind in kinds}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    todo = []
    for i, p in zip(ids, paths):  # clip by clip, so that an interrupted run leaves whole clips
        targets = [(kind, str(folders[kind] / f"{i}.npy")) for kind in kinds
                   if not (folders[kind] / f"{i}.npy").exists()]
        if targets:
            todo.append((p, targets, excerpt_s))
    if todo:
        with ProcessPoolExecutor(max_workers=max(1, jobs)) as pool:
            for n, _ in enumerate(pool.map(_worker, todo, chunksize=1), 1):
                if progress:
                    progress(n / len(todo), f"{n}/{len(todo)} clips' features computed")
    return {kind: np.vstack([np.load(folders[kind] / f"{i}.npy") for i in ids]) for kind in kinds}

def read_json_cache(collection: str, kind: str, ids) -> dict:
    """``{id: dict}`` of the per-clip JSON files present under ``<collection>/<kind>/``."""
    folder = cache_dir(collection, kind)
    out = {}
    for i in ids:
        path = folder / f"{i}.json"
        if path.exists():
            out[i] = json.loads(path.read_text())
    return out


def write_json_cache(collection: str, kind: str, clip_id: str, value: dict) -> None:
    """Write one clip's JSON atomically."""
    folder = cache_dir(collection, kind)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{clip_id}.json.tmp{os.getpid()}"
    tmp.write_text(json.dumps(value))
    os.replace(tmp, folder / f"{clip_id}.json")
