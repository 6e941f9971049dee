"""The curves a profile search compared, for the Sketch page's overlay."""
from __future__ import annotations

import numpy as np
import pandas as pd

from emolab.search.store import SKETCH_LENGTH, _curve_store, _resample


def compared_curves(index, results: pd.DataFrame, valence_curve=None, arousal_curve=None, *,
                    source="human", znorm=False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The drawn profile and the matched songs' curves as :func:`match_profile` compared them.

    Whole-song matches are resampled to :data:`SKETCH_LENGTH` points, segment matches (rows
    with ``start`` and ``end``) cut to the matched stretch and resampled to its number of
    frames; with ``znorm`` each curve and the profile are z-normalised per dimension (a
    flat curve keeps a standard deviation of 1, as in the search).

    Parameters
    ----------
    results : pandas.DataFrame
        The answer of :func:`match_profile` (``song_id``, ``title``, maybe ``start``/``end``).
    valence_curve, arousal_curve, source, znorm
        As given to :func:`match_profile`.

    Returns
    -------
    sketch : pandas.DataFrame
        Columns ``position`` (0–1), ``dimension``, ``value``.
    matches : pandas.DataFrame
        The same plus ``song_id`` and ``title``, one line per (song, dimension).
    """
    store = _curve_store(index, source)
    row_of = {int(s): i for i, s in enumerate(store.song_ids)}
    drawn = {d: np.asarray(c, dtype=np.float64) for d, c in (("valence", valence_curve), ("arousal", arousal_curve))
             if c is not None}
    segment = "start" in results and "end" in results

    def shaped(x, n):
        x = _resample(x, n)
        if znorm:
            sd = x.std()
            x = (x - x.mean()) / (sd if sd >= 1e-8 else 1.0)
        return x

    sketch, matches = [], []
    for row in results.itertuples():
        i = row_of.get(int(row.song_id))
        if i is None:
            continue
        begin, stop = int(store.offsets[i]), int(store.offsets[i + 1])
        if segment and pd.notna(row.start):
            first = begin + int(round((row.start - store.t0s[i]) / store.hops[i]))
            stop = begin + int(round((row.end - store.t0s[i]) / store.hops[i])) + 1
            begin = first
        n = stop - begin if segment else SKETCH_LENGTH
        for dim in drawn:
            values = shaped(store.flat[0 if dim == "valence" else 1, begin:stop], n)
            matches.append(pd.DataFrame({"position": np.linspace(0, 1, n), "dimension": dim, "value": values,
                                         "song_id": int(row.song_id), "title": getattr(row, "title", "")}))
    n = SKETCH_LENGTH
    for dim, curve in drawn.items():
        sketch.append(pd.DataFrame({"position": np.linspace(0, 1, n), "dimension": dim,
                                    "value": shaped(curve, n)}))
    empty = pd.DataFrame(columns=["position", "dimension", "value", "song_id", "title"])
    return (pd.concat(sketch, ignore_index=True) if sketch else empty[["position", "dimension", "value"]],
            pd.concat(matches, ignore_index=True) if matches else empty)
