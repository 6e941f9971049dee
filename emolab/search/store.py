"""In-memory stores of every curve (and static value) of a source, rebuilt when the index changes."""
from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np

from emolab.index import search_sql

#: Points per dimension of the whole-song sketches.
SKETCH_LENGTH = 64
_CACHED_STORES = 4


class _CurveStore:
    """Every curve of one source: raw frames (for segments) and sketches (for whole songs).

    Attributes: song_ids (N,), t0s (N,), hops (N,), offsets (N+1,), flat (2, T) float32
    with valence in row 0 and arousal in row 1, sketches (N, 2, SKETCH_LENGTH) float32,
    means and stds (N, 2) of the sketches (stds of flat sketches set to 1).
    """

    def __init__(self, table):
        values = [table.column(name).combine_chunks() for name in ("valence", "arousal")]
        lengths = values[0].value_lengths().to_numpy(zero_copy_only=False).astype(np.int64)
        flat = np.stack([v.flatten().to_numpy(zero_copy_only=False) for v in values])
        offsets = np.concatenate([[0], np.cumsum(lengths)])
        bad_before = np.concatenate([[0], np.cumsum(~np.isfinite(flat).all(axis=0))])
        usable = (lengths > 0) & (bad_before[offsets[1:]] == bad_before[offsets[:-1]])
        if not usable.all():  # curves with gaps or no frames cannot be compared
            keep = np.repeat(usable, lengths)
            flat, lengths = flat[:, keep], lengths[usable]
            offsets = np.concatenate([[0], np.cumsum(lengths)])
        self.song_ids = table.column("song_id").to_numpy().astype(np.int64)[usable]
        self.t0s = table.column("t0").to_numpy().astype(np.float64)[usable]
        self.hops = table.column("hop").to_numpy().astype(np.float64)[usable]
        self.flat = np.ascontiguousarray(flat, dtype=np.float32)
        self.offsets = offsets.astype(np.int64)
        self.lengths = lengths
        self.sketches = self._sketch()
        self.means = self.sketches.mean(axis=2).astype(np.float64)
        stds = self.sketches.std(axis=2).astype(np.float64)
        self.stds = np.where(stds < 1e-8, 1.0, stds)

    @property
    def n_songs(self) -> int:
        return len(self.song_ids)

    def _sketch(self) -> np.ndarray:
        n = SKETCH_LENGTH
        out = np.empty((self.n_songs, 2, n), dtype=np.float32)
        for length in np.unique(self.lengths):
            matrix = _interpolation_matrix(int(length), n).astype(np.float32)
            same_length = np.flatnonzero(self.lengths == length)
            for first in range(0, len(same_length), 65_536):  # bounded temporary memory
                rows = same_length[first:first + 65_536]
                frames = self.offsets[rows, None] + np.arange(length)
                for dim in range(2):
                    out[rows, dim] = self.flat[dim][frames] @ matrix
        return out


_stores: OrderedDict = OrderedDict()
_lock = threading.Lock()
_build_lock = threading.Lock()


def _cached(key, fingerprint, build):
    with _lock:
        hit = _stores.get(key)
        if hit is not None and hit[0] == fingerprint:
            _stores.move_to_end(key)
            return hit[1]
    with _build_lock:  # one build at a time: a million curves take seconds and memory
        with _lock:
            hit = _stores.get(key)
        if hit is not None and hit[0] == fingerprint:
            return hit[1]
        value = build()
        with _lock:
            _stores[key] = (fingerprint, value)
            _stores.move_to_end(key)
            while len(_stores) > _CACHED_STORES:
                _stores.popitem(last=False)
    return value


def _curve_store(index, source) -> _CurveStore:
    con = index.con
    key = (str(index.path), "curves", source)
    return _cached(key, search_sql.curves_fingerprint(con),
                   lambda: _CurveStore(search_sql.curve_table(con, source)))


def _static_store(index, source):
    con = index.con
    key = (str(index.path), "static", source)
    return _cached(key, search_sql.static_fingerprint(con, source),
                   lambda: search_sql.static_values(con, source))


def clear_cache() -> None:
    """Forget every in-memory store (they are rebuilt on the next search)."""
    with _lock:
        _stores.clear()



def _interpolation_matrix(length: int, n: int) -> np.ndarray:
    """Matrix (length, n) mapping a curve of ``length`` evenly spaced points to ``n``."""
    if length == 1:
        return np.ones((1, n))
    position = np.linspace(0.0, length - 1, n)
    left = np.minimum(np.floor(position).astype(int), length - 2)
    frac = position - left
    matrix = np.zeros((length, n))
    matrix[left, np.arange(n)] = 1.0 - frac
    matrix[left + 1, np.arange(n)] += frac
    return matrix


def _resample(curve: np.ndarray, n: int) -> np.ndarray:
    """Linear resampling of an evenly spaced curve (m,) to ``n`` points."""
    return np.asarray(curve, dtype=np.float64) @ _interpolation_matrix(len(curve), n)

