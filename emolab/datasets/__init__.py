"""Readers for the datasets' own layouts, one module per dataset (mirdata's style).

==================================  ===========================================================
module                              dataset
==================================  ===========================================================
:mod:`emolab.datasets.deam`         DEAM; the V/A swap of ids 2–1000 (:func:`fix_deam_swap`)
:mod:`emolab.datasets.emomusic`     emoMusic (MediaEval 2013, "1000 songs")
:mod:`emolab.datasets.pmemo`        PMEmo
:mod:`emolab.datasets.fourq`        4Q audio emotion dataset (Panda et al. 2018): quadrants only
==================================  ===========================================================

Every ``read_<name>(root)`` returns the same :class:`DatasetTables`, with valence and arousal on
[-1, 1]: DEAM and emoMusic static ratings (1–9) map by ``(x - 5) / 4`` and their standard
deviations by ``x / 4``; PMEmo's [0, 1] values map by ``2 x - 1`` (std ``2 x``); dynamic curves
of DEAM and emoMusic are already on [-1, 1]. 4Q has no ratings, only quadrants: its static
table holds the **signs** of valence and arousal (±1) and says so in ``labels``.

:func:`read_dataset` and :data:`DATASETS` cover the rated datasets that
:func:`emolab.importers.import_dataset` stores in the index.
"""
from __future__ import annotations

from emolab.datasets import deam, emomusic, fourq, pmemo
from emolab.datasets._common import (AUDIO_EXTENSIONS, SAME_SONG_IDS, SONG_COLUMNS, STATIC_COLUMNS,
                                     DatasetTables, read_csv_stripped, same_song_datasets)
from emolab.datasets.deam import DEAM_LABEL_COLUMNS, DEAM_SWAPPED_IDS, fix_deam_swap, load_deam_feature_table, read_deam
from emolab.datasets.emomusic import EMOMUSIC_CURVE_HOP, EMOMUSIC_CURVE_T0, read_emomusic
from emolab.datasets.fourq import QUADRANT_SIGNS, read_fourq, read_fourq_clips
from emolab.datasets.pmemo import read_pmemo
from emolab.exceptions import DatasetError

DATASETS = ("emomusic", "deam", "pmemo")
READERS = {"emomusic": read_emomusic, "deam": read_deam, "pmemo": read_pmemo}
AUDIO_FOLDERS = {m.NAME: m.AUDIO_FOLDERS for m in (emomusic, deam, pmemo, fourq)}

__all__ = [
    "AUDIO_EXTENSIONS", "AUDIO_FOLDERS", "DATASETS", "DEAM_LABEL_COLUMNS", "DEAM_SWAPPED_IDS",
    "EMOMUSIC_CURVE_HOP", "EMOMUSIC_CURVE_T0", "QUADRANT_SIGNS", "READERS", "SAME_SONG_IDS",
    "SONG_COLUMNS", "STATIC_COLUMNS", "DatasetTables", "fix_deam_swap", "load_deam_feature_table",
    "read_csv_stripped", "read_dataset", "read_deam", "read_emomusic", "read_fourq", "read_fourq_clips",
    "read_pmemo", "same_song_datasets",
]



def read_dataset(name: str, root) -> DatasetTables:
    """Read dataset ``name`` (``emomusic``, ``deam`` or ``pmemo``) from its folder."""
    if name not in READERS:
        raise DatasetError(f"Unknown dataset {name!r}; EmoLab reads {', '.join(DATASETS)}.")
    return READERS[name](root)
