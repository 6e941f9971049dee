"""emolab.search.point: nearest songs to a point of the valence–arousal plane."""
from __future__ import annotations

import math

import pytest

from emolab.exceptions import ParameterError
from emolab.index import annotations, emotion
from emolab.search import SearchFilters, nearest_point
from tests.search_fixtures import static_index  # noqa: F401 (fixtures)


# --- point search ----------------------------------------------------------------------

def test_point_search_orders_by_distance(static_index):
    index, ids = static_index
    result = nearest_point(index, 0.6, 0.6, k=3)
    assert list(result.columns) == ["song_id", "dataset", "dataset_id", "title", "artist",
                                    "valence", "arousal", "distance"]
    assert result.title.iloc[0] == "Party"
    assert result.distance.iloc[0] == pytest.approx(math.hypot(0.1, 0.1))
    # Calm averages panel (-0.1, -0.6) and eve (0.7, 0.6)
    calm = result.set_index("title").loc["Calm"]
    assert (calm.valence, calm.arousal) == pytest.approx((0.3, 0.0))
    assert list(result.distance) == sorted(result.distance)


@pytest.mark.parametrize("filters, expected", [
    (SearchFilters(text="ann"), ["Party", "Calm"]),
    (SearchFilters(min_duration=100), ["Party", "Calm"]),
    (SearchFilters(max_duration=100), ["Storm"]),
    (SearchFilters(has_audio=False), ["Storm", "Lullaby"]),
    (SearchFilters(text="no such song"), []),
])
def test_point_search_filters(static_index, filters, expected):
    index, _ = static_index
    assert list(nearest_point(index, 0.6, 0.6, k=10, filters=filters).title) == expected


def test_annotator_filter_uses_their_own_values(static_index):
    index, ids = static_index
    result = nearest_point(index, 0.7, 0.6, k=10, filters=SearchFilters(annotator="eve"))
    assert list(result.song_id) == [ids["Calm"]]
    assert result.distance.iloc[0] == pytest.approx(0.0)


def test_point_search_sees_new_annotations_and_predictions(static_index):
    index, ids = static_index
    assert nearest_point(index, -0.6, 0.8, k=1).title.iloc[0] == "Storm"
    emotion.put_static_prediction(index.con, ids["Lullaby"], "m1", -0.6, 0.8)
    assert nearest_point(index, -0.6, 0.8, k=1, source="predicted").title.iloc[0] == "Lullaby"
    annotations.insert(index.con, {"song_id": ids["Party"], "annotator": "x", "kind": "static",
                                   "valence": -1.0, "arousal": 1.0})
    result = nearest_point(index, -0.6, 0.8, k=4)
    assert result.set_index("title").valence["Party"] == pytest.approx(-0.15)


@pytest.mark.parametrize("v, a", [(1.5, 0), (0, float("nan")), ("high", 0)])
def test_point_outside_the_plane_is_refused(static_index, v, a):
    index, _ = static_index
    with pytest.raises(ParameterError, match="between -1 and 1"):
        nearest_point(index, v, a)
