"""Emotion search on small constructed indices: exact answers that could go wrong."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest

from emolab import search
from emolab.cli import main
from emolab.exceptions import ParameterError
from emolab.index import annotations, emotion, songs
from emolab.search import SearchFilters, dtw_distance, match_profile, nearest_point


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


# --- whole-song profiles ---------------------------------------------------------------

@pytest.mark.parametrize("metric", ["dtw", "euclidean"])
@pytest.mark.parametrize("znorm", [False, True])
def test_rising_sketch_finds_rising_song_first(shapes, metric, znorm):
    index, ids = shapes
    sketch = np.linspace(-0.5, 0.6, 12) + 0.03 * np.sin(np.arange(12))
    result = match_profile(index, None, sketch, k=4, metric=metric, znorm=znorm)
    assert result.song_id.iloc[0] == ids["rising"]
    assert list(result.distance) == sorted(result.distance)
    assert result.attrs["exact"]


def test_one_dimension_query_ignores_the_other(shapes):
    index, ids = shapes
    con = index.con
    twin = add(con, "valence_up_twin", ramp(-0.6, 0.6), ramp(0.9, -0.9))
    result = match_profile(index, ramp(-0.6, 0.6, 25), None, k=2)
    assert set(result.song_id) == {ids["valence_up"], twin}
    assert result.distance.iloc[0] == pytest.approx(result.distance.iloc[1], abs=1e-6)
    assert result.distance.iloc[0] < 1e-3
    # the same query with an arousal profile now tells the twins apart
    both = match_profile(index, ramp(-0.6, 0.6, 25), np.full(25, -0.5), k=2)
    assert both.song_id.iloc[0] == ids["valence_up"]
    assert both.distance.iloc[1] > 0.3


def test_weights_can_switch_a_dimension_off(shapes):
    index, ids = shapes
    sketch_v, sketch_a = ramp(-0.6, 0.6, 20), ramp(0.7, -0.7, 20)
    only_valence = match_profile(index, sketch_v, sketch_a, k=1, weights=(1.0, 0.0))
    only_arousal = match_profile(index, sketch_v, sketch_a, k=1, weights=(0.0, 1.0))
    assert only_valence.song_id.iloc[0] == ids["valence_up"]
    assert only_arousal.song_id.iloc[0] == ids["falling"]


def test_dtw_forgives_a_time_warp_that_euclidean_punishes(index):
    con = index.con
    t = np.linspace(0, 1, 60)
    step_early = add(con, "early", np.zeros(60), np.where(t < 0.4, -0.6, 0.6))
    add(con, "ramp", np.zeros(60), np.linspace(-0.6, 0.6, 60))
    query = np.where(np.linspace(0, 1, 30) < 0.5, -0.6, 0.6)  # the same step, a bit later
    dtw = match_profile(index, None, query, k=2, metric="dtw", band=0.2)
    assert dtw.song_id.iloc[0] == step_early
    assert dtw.distance.iloc[0] < 0.1
    euclid = match_profile(index, None, query, k=2, metric="euclidean")
    assert euclid.set_index("song_id").distance[step_early] > 0.2


def _random_walks(index, seed):
    """60 random-walk songs and a random-walk query; returns (query v, query a, brute-force DTW)."""
    rng = np.random.default_rng(seed)
    con = index.con
    curves = {}
    for i in range(60):
        v = np.clip(np.cumsum(rng.normal(0, 0.08, 50)), -1, 1)
        a = np.clip(np.cumsum(rng.normal(0, 0.08, 50)), -1, 1)
        curves[add(con, f"walk{i}", v, a)] = (v, a)
    qv = np.clip(np.cumsum(rng.normal(0, 0.08, 30)), -1, 1)
    qa = np.clip(np.cumsum(rng.normal(0, 0.08, 30)), -1, 1)
    n = search.SKETCH_LENGTH
    query = np.stack([search._resample(qv, n), search._resample(qa, n)], axis=1)
    brute = {
        sid: dtw_distance(query, np.stack([search._resample(v, n), search._resample(a, n)], axis=1),
                          band=0.1, step_penalty=search.DEFAULT_STEP_PENALTY) / math.sqrt(n)
        for sid, (v, a) in curves.items()
    }
    return qv, qa, brute


@pytest.mark.parametrize("n_candidates", [20, 60])
def test_coarse_stage_keeps_the_exact_dtw_top_k(index, n_candidates):
    """With enough candidates (here 20 of 60 suffice for seed 3) the answer is provably exact."""
    qv, qa, brute = _random_walks(index, seed=3)
    result = match_profile(index, qv, qa, k=5, band=0.1, n_candidates=n_candidates)
    assert result.attrs["exact"]
    assert list(result.song_id) == sorted(brute, key=lambda s: (brute[s], s))[:5]
    np.testing.assert_allclose(result.distance, [brute[s] for s in result.song_id], rtol=1e-4)


def test_too_few_candidates_are_reported_as_not_exact(index):
    """With 5 candidates for k=5 the coarse stage misses a true top-5 song; the flag says so,
    and the distances shown are still the exact ones."""
    qv, qa, brute = _random_walks(index, seed=3)
    result = match_profile(index, qv, qa, k=5, band=0.1, n_candidates=5)
    assert list(result.song_id) != sorted(brute, key=lambda s: (brute[s], s))[:5]
    assert not result.attrs["exact"]
    np.testing.assert_allclose(result.distance, [brute[s] for s in result.song_id], rtol=1e-4)


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_exact_flag_never_lies(tmp_path, seed):
    """Whenever ``attrs["exact"]`` is set, the top k equals brute-force DTW."""
    from emolab.index import open_index

    with open_index(tmp_path / "walks.duckdb") as idx:
        qv, qa, brute = _random_walks(idx, seed)
        expected = sorted(brute, key=lambda s: (brute[s], s))[:5]
        flags = []
        for n_candidates in (5, 8, 20):
            result = match_profile(idx, qv, qa, k=5, band=0.1, n_candidates=n_candidates)
            flags.append(result.attrs["exact"])
            if result.attrs["exact"]:
                assert list(result.song_id) == expected, n_candidates
        assert flags[-1]  # 20 candidates of 60 are enough for these seeds


def test_new_curves_are_seen_by_the_next_search(shapes):
    index, ids = shapes
    first = match_profile(index, None, ramp(-0.9, 0.9, 10), k=1)
    assert first.song_id.iloc[0] == ids["rising"]
    steeper = add(index.con, "steeper", np.zeros(30), ramp(-0.9, 0.9, 30))
    assert match_profile(index, None, ramp(-0.9, 0.9, 10), k=1).song_id.iloc[0] == steeper


def test_predicted_curves_use_the_newest_model(index):
    con = index.con
    song = add(con, "song", np.zeros(20), ramp(-0.5, 0.5, 20), source="predicted", version="v1")
    emotion.put_curve(con, song, source="predicted", model_version="v2", t0=0.0, hop=0.5,
                      valence=np.zeros(20), arousal=ramp(0.5, -0.5, 20))
    add(con, "other", np.zeros(20), np.zeros(20), source="predicted", version="v1")
    result = match_profile(index, None, ramp(0.5, -0.5, 20), k=2, source="predicted")
    assert result.song_id.iloc[0] == song
    assert result.distance.iloc[0] < 1e-3
    assert match_profile(index, None, ramp(0.5, -0.5, 20), k=2, source="human").empty


# --- segment mode ----------------------------------------------------------------------

@pytest.mark.parametrize("metric", ["dtw", "euclidean"])
def test_segment_mode_finds_planted_segment_at_its_offset(index, metric):
    rng = np.random.default_rng(7)
    con = index.con
    hop, n_frames, t0 = 0.5, 150, 15.0
    for i in range(40):
        add(con, f"noise{i}", np.clip(np.cumsum(rng.normal(0, 0.05, n_frames)), -1, 1),
            np.clip(np.cumsum(rng.normal(0, 0.05, n_frames)), -1, 1), t0=t0)
    seconds, offset = 12.0, 31.5
    frames = int(seconds / hop) + 1
    shape_t = np.linspace(0, 1, frames)
    planted_v = 0.7 * np.sin(2 * np.pi * shape_t)
    planted_a = np.linspace(-0.8, 0.8, frames)
    v = np.clip(np.cumsum(rng.normal(0, 0.05, n_frames)), -1, 1)
    a = np.clip(np.cumsum(rng.normal(0, 0.05, n_frames)), -1, 1)
    first = int(offset / hop)
    v[first:first + frames], a[first:first + frames] = planted_v, planted_a
    target = add(con, "planted", v, a, t0=t0)
    drawn = np.linspace(0, 1, 40)
    result = match_profile(index, 0.7 * np.sin(2 * np.pi * drawn), np.linspace(-0.8, 0.8, 40),
                           k=3, mode="segment", segment_seconds=seconds, metric=metric)
    best = result.iloc[0]
    assert best.song_id == target
    assert abs(best.start - (t0 + offset)) <= 0.5
    assert best.end - best.start == pytest.approx(seconds)


def test_segment_longer_than_every_song_finds_nothing(shapes):
    index, _ = shapes
    result = match_profile(index, ramp(-0.5, 0.5, 10), None, mode="segment", segment_seconds=60)
    assert result.empty


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


# --- DTW -------------------------------------------------------------------------------

def reference_dtw(a, b, band=None, penalty=0.0):
    """Direct O(n m) dynamic programme over the full cost matrix."""
    a = np.asarray(a, float).reshape(len(a), -1)
    b = np.asarray(b, float).reshape(len(b), -1)
    if len(a) < len(b):
        a, b = b, a
    n, m = len(a), len(b)
    radius = math.inf if band is None else band * max(n, m)
    if n != m:
        radius = max(radius, 1.0)
    cost = np.full((n + 1, m + 1), math.inf)
    cost[0, 0] = 0.0
    for i in range(n):
        for j in range(m):
            centre = i * (m - 1) / (n - 1) if n > 1 and m > 1 else j
            if abs(centre - j) > radius + 1e-9:
                continue
            d = float(np.sum((a[i] - b[j]) ** 2))
            cost[i + 1, j + 1] = d + min(cost[i, j], cost[i, j + 1] + penalty,
                                         cost[i + 1, j] + penalty)
    return math.sqrt(cost[n, m])


def test_dtw_matches_direct_reference_on_random_sequences():
    rng = np.random.default_rng(0)
    for trial in range(40):
        n, m = rng.integers(1, 25, size=2)
        dims = int(rng.integers(1, 3))
        a, b = rng.normal(size=(n, dims)), rng.normal(size=(m, dims))
        band = None if trial % 3 == 0 else float(rng.uniform(0, 0.5))
        penalty = 0.0 if trial % 2 == 0 else float(rng.uniform(0, 0.5))
        if dims == 1:
            a, b = a[:, 0], b[:, 0]
        assert dtw_distance(a, b, band=band, step_penalty=penalty) == pytest.approx(
            reference_dtw(a, b, band, penalty), rel=1e-9)


def test_dtw_with_zero_band_is_euclidean_and_warping_helps():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=30), rng.normal(size=30)
    assert dtw_distance(a, b, band=0) == pytest.approx(np.linalg.norm(a - b))
    assert dtw_distance(a, b, band=0.2) <= dtw_distance(a, b, band=0)
    shifted = np.sin(np.linspace(0, 6, 50))
    euclidean = np.linalg.norm(shifted[:-3] - shifted[3:])
    assert dtw_distance(shifted[:-3], shifted[3:], band=0.2) < 0.5 * euclidean


# --- point search ----------------------------------------------------------------------

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


# --- CLI -------------------------------------------------------------------------------

def test_cli_search_point_json(static_index, capsys):
    index, ids = static_index
    path = str(index.path)
    index.close()
    assert main(["search-point", "--valence", "0.6", "--arousal", "0.6", "--k", "2", "--json",
                 "--db", path]) == 0
    results = json.loads(capsys.readouterr().out)["results"]
    assert [r["title"] for r in results] == ["Party", "Calm"]
    assert results[0] == {"song_id": ids["Party"], "dataset": "toy", "dataset_id": "party",
                          "title": "Party", "artist": "Ann", "valence": 0.7, "arousal": 0.7,
                          "distance": pytest.approx(math.hypot(0.1, 0.1))}


def test_cli_search_profile_json_and_table(shapes, capsys):
    index, ids = shapes
    path = str(index.path)
    index.close()
    assert main(["search-profile", "--arousal=-0.5,0,0.5", "--k", "2", "--json",
                 "--db", path]) == 0
    results = json.loads(capsys.readouterr().out)["results"]
    assert results[0]["song_id"] == ids["rising"]
    assert set(results[0]) == {"song_id", "dataset", "dataset_id", "title", "artist", "distance"}
    assert main(["search-profile", "--arousal=-0.5,0,0.5", "--mode", "segment",
                 "--seconds", "4", "--k", "1", "--db", path]) == 0
    table = capsys.readouterr().out
    assert "rising" in table and "start" in table


def test_cli_batch_queries(shapes, tmp_path):
    index, ids = shapes
    path = str(index.path)
    index.close()
    queries = tmp_path / "queries.csv"
    queries.write_text("query_id,t,valence,arousal\n"
                       "up,0,,-0.6\nup,1,,0\nup,2,,0.6\n"
                       "down,0,0,0.6\ndown,1,0,-0.6\n")
    out = tmp_path / "out.csv"
    assert main(["search-profile", "--queries", str(queries), "--out", str(out), "--k", "2",
                 "--db", path]) == 0
    import pandas as pd

    table = pd.read_csv(out)
    best = table[table["rank"] == 1].set_index("query_id").song_id
    assert best["up"] == ids["rising"] and best["down"] == ids["falling"]
    assert len(table) == 4


def test_cli_reports_bad_sketch_as_one_line(shapes, capsys):
    index, _ = shapes
    path = str(index.path)
    index.close()
    assert main(["search-profile", "--valence", "0.2", "--db", path]) == 1
    assert "single point" in capsys.readouterr().err


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


def test_segment_longer_than_every_song_finds_nothing_quickly(shapes):
    index, _ = shapes
    result = match_profile(index, np.linspace(-1, 1, 500), None, mode="segment",
                           segment_seconds=1e300)
    assert result.empty


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
