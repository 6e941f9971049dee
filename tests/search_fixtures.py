"""Small constructed indices shared by the search tests (tests/test_search_*.py)."""
from __future__ import annotations

import numpy as np
import pytest

from emolab.index import annotations, emotion, songs


def add(con, title, valence, arousal, *, hop=0.5, t0=0.0, source="human", version="test",
        **fields):
    """A song with one curve; returns its id."""
    fields = {"origin": "dataset", "dataset": "toy", "dataset_id": title, **fields}
    song_id = songs.add_song(con, title=title, **fields)
    emotion.put_curve(con, song_id, source=source, model_version=version, t0=t0, hop=hop,
                      valence=valence, arousal=arousal)
    return song_id


def ramp(a, b, n=40):
    return np.linspace(a, b, n)


@pytest.fixture
def shapes(index):
    """Four 20 s songs: arousal rising, falling, flat, and a valence-only riser."""
    con = index.con
    ids = {
        "rising": add(con, "rising", np.zeros(40), ramp(-0.7, 0.7), artist="Ann"),
        "falling": add(con, "falling", np.zeros(40), ramp(0.7, -0.7), artist="Bob"),
        "flat": add(con, "flat", np.zeros(40), np.full(40, 0.1), artist="Ann"),
        "valence_up": add(con, "valence_up", ramp(-0.6, 0.6), np.full(40, -0.5), artist="Cy"),
    }
    return index, ids


@pytest.fixture
def static_index(index):
    con = index.con
    ids = {}
    for title, artist, v, a, duration, audio in [
        ("Calm", "Ann", -0.1, -0.6, 200.0, True),
        ("Storm", "Bob", -0.6, 0.8, 90.0, False),
        ("Party", "Ann", 0.7, 0.7, 180.0, True),
        ("Lullaby", "Cy", 0.2, -0.8, None, False),
    ]:
        sid = songs.add_song(con, title=title, artist=artist, origin="dataset", dataset="toy",
                             dataset_id=title.lower(), duration=duration, has_audio=audio)
        annotations.insert(con, {"song_id": sid, "annotator": "panel", "kind": "static",
                                 "valence": v, "arousal": a})
        ids[title] = sid
    annotations.insert(con, {"song_id": ids["Calm"], "annotator": "eve", "kind": "static",
                             "valence": 0.7, "arousal": 0.6})
    return index, ids

