"""Helpers shared by dataset import and annotation CSV import."""
from __future__ import annotations

import math

import pandas as pd

from emolab.datasets import SAME_SONG_IDS

_VALUE_COLUMNS = ("valence", "arousal", "valence_std", "arousal_std")


def _partners(name: str) -> set[str]:
    return {other for pair in SAME_SONG_IDS for other in pair if name in pair} - {name}


def _value(x) -> float | None:
    return None if x is None or pd.isna(x) else float(x)


def _same_values(old, new: dict) -> bool:
    """Equal annotation values, NaN/None counting as equal to each other."""
    for key in _VALUE_COLUMNS:
        a, b = _value(old[key]), _value(new[key])
        if (a is None) != (b is None) or (a is not None and not math.isclose(a, b, abs_tol=1e-12)):
            return False
    return True
