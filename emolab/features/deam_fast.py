"""DEAM-compatible columns without openSMILE: the extractor the pipeline uses.

THE CONTRACT (what the pipeline, the CLI and the app rely on)
-------------------------------------------------------------
* :func:`deam_frames` ``(y, sr, *, columns=None, extractor="fast") -> (times, frames)``:
  ``times`` shape (n,), frame centres ``0.5 i + 0.5`` s, frame *i* covering [0.5 i, 0.5 i + 1) s
  (the grid of :func:`emolab.features.deam.opensmile_frames`); ``frames`` shape
  (n, len(columns)), float64, finite, DEAM's column names.
* :func:`deam_song_vector` ``(y, sr, *, columns=None, extractor="fast") -> (len(columns),)``:
  the mean of :func:`deam_frames` over frames.
* ``columns`` defaults to :data:`FAST_COLUMNS` (the columns the static model uses).
* ``extractor="fast"`` (the default) NEVER imports ``opensmile``; ``extractor="opensmile"``
  runs the research-licence reference (:mod:`emolab.features.deam`) on the same grid.
"""
from __future__ import annotations

import numpy as np

from emolab.exceptions import ParameterError
from emolab.features.deam import RECOMPUTABLE_COLUMNS

#: The extractors :func:`deam_frames` accepts.
EXTRACTORS = ("fast", "opensmile")

#: The DEAM columns the fast extractor computes (and the static model uses).
FAST_COLUMNS = list(RECOMPUTABLE_COLUMNS)


def _check(columns, extractor):
    if extractor not in EXTRACTORS:
        raise ParameterError(f"Unknown feature extractor '{extractor}'; choose 'fast' or 'opensmile'.")
    columns = list(FAST_COLUMNS if columns is None else columns)
    if extractor == "fast":
        missing = [c for c in columns if c not in FAST_COLUMNS]
        if missing:
            raise ParameterError(f"The fast extractor does not compute {missing[:3]}; "
                                 "use extractor='opensmile' for these columns.")
    return columns


def deam_frames(y: np.ndarray, sr: int, *, columns=None, extractor: str = "fast"):
    """DEAM columns every 0.5 s (1 s windows).

    Parameters
    ----------
    y : np.ndarray, shape (n_samples,)
        Mono audio.
    sr : int
    columns : list of str, optional
        Default :data:`FAST_COLUMNS`.
    extractor : {'fast', 'opensmile'}

    Returns
    -------
    times : np.ndarray, shape (n,)
    frames : np.ndarray, shape (n, len(columns)), float64
    """
    columns = _check(columns, extractor)
    from emolab.features import deam

    # Stub until the numpy extractor lands: both extractors run openSMILE.
    return deam.opensmile_frames(y, sr, columns=columns)


def deam_song_vector(y: np.ndarray, sr: int, *, columns=None, extractor: str = "fast") -> np.ndarray:
    """A song's DEAM vector: the mean of :func:`deam_frames` over its frames.

    Returns
    -------
    np.ndarray, shape (len(columns),), float64
    """
    _, frames = deam_frames(y, sr, columns=columns, extractor=extractor)
    return frames.mean(axis=0)
