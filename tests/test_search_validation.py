"""emolab.search.validation: degenerate profiles, odd values and types, fuzzing."""
from __future__ import annotations

import math

import numpy as np
import pytest

from emolab.exceptions import ParameterError
from emolab.search import SearchFilters, match_profile, nearest_point
from tests.search_fixtures import shapes  # noqa: F401 (fixtures)


# --- degenerate profiles ---------------------------------------------------------------

@pytest.mark.parametrize("curve, words", [
    ([], "empty"),
    ([0.3], "single point"),
    ([0.1, float("nan"), 0.2], "NaN"),
    ([0.1, float("inf")], "infinite"),
    ([0.2, 1.4], "between -1 and 1"),
    (np.zeros(10_001), "at most 10,000"),
    (np.zeros((3, 2)), "flat list"),
])
def test_degenerate_profiles_are_refused_clearly(shapes, curve, words):
    index, _ = shapes
    with pytest.raises(ParameterError, match=words):
        match_profile(index, curve, None)


def test_flat_profile_with_znorm_is_explained(shapes):
    index, _ = shapes
    with pytest.raises(ParameterError, match="flat line"):
        match_profile(index, None, np.full(20, 0.4), znorm=True)
    # without z-normalisation a flat line is a fine query: it searches by level
    assert match_profile(index, None, np.full(20, 0.1), k=1).title.iloc[0] == "flat"


@pytest.mark.parametrize("kwargs, words", [
    ({}, "valence or an arousal"),
    ({"valence_curve": [0.1, 0.2], "mode": "segment"}, "duration"),
    ({"valence_curve": [0.1, 0.2], "segment_seconds": 5}, "only applies to segment"),
    ({"valence_curve": [0.1, 0.2], "mode": "segment", "segment_seconds": 0.1}, "time step"),
    ({"valence_curve": [0.1, 0.2], "metric": "cosine"}, "metric"),
    ({"valence_curve": [0.1, 0.2], "band": 2}, "band"),
    ({"valence_curve": [0.1, 0.2], "k": 0}, "k"),
    ({"valence_curve": [0.1, 0.2], "weights": (0.0, 1.0)}, "all zero"),
])
def test_bad_profile_settings_are_refused(shapes, kwargs, words):
    index, _ = shapes
    with pytest.raises(ParameterError, match=words):
        match_profile(index, **kwargs)


@pytest.mark.parametrize("call", [
    lambda index: nearest_point(index, 10**400, 0.0),
    lambda index: nearest_point(index, 0.0, 0.0, k=math.inf),
    lambda index: match_profile(index, [10**400, 0.0], None),
    lambda index: match_profile(index, [0.1, 0.2], None, n_candidates="many"),
    lambda index: match_profile(index, [0.1, 0.2], None, n_candidates=10**9),
    lambda index: match_profile(index, [0.1, 0.2], None, band=10**400),
    lambda index: nearest_point(index, 0.1, 0.1, filters=SearchFilters(text=12)),
    lambda index: nearest_point(index, 0.1, 0.1, filters=SearchFilters(annotator=["x"])),
    lambda index: nearest_point(index, 0.1, 0.1, filters=SearchFilters(min_duration=10**400)),
])
def test_odd_values_and_types_are_parameter_errors(shapes, call):
    index, _ = shapes
    with pytest.raises(ParameterError):
        call(index)



def test_fuzzed_profiles_points_and_sketches_are_answered_or_refused(tmp_path):
    """Wrong values and types for point, profile and sketch searches: a table or an
    EmoLab error, the index unchanged (benchmarks/fuzz.py: 1,000 calls)."""
    from tests import fuzzing

    index = fuzzing.fuzz_index(tmp_path / "fuzz.duckdb")
    report = fuzzing.run_door(fuzzing.SearchDoor(index), 200, seed=5, index=index,
                              time_limit=60)
    index.close()
    fuzzing.assert_clean(report)
    assert report.refused and report.valid
