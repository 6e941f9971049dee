"""emolab.search.profile: whole-song and segment profile search, and its exactness."""
from __future__ import annotations

import math

import numpy as np
import pytest

from emolab import search
from emolab.index import emotion
from emolab.search import dtw_distance, match_profile
from tests.search_fixtures import add, ramp, shapes  # noqa: F401 (fixtures)


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



def test_segment_longer_than_every_song_finds_nothing_quickly(shapes):
    index, _ = shapes
    result = match_profile(index, np.linspace(-1, 1, 500), None, mode="segment",
                           segment_seconds=1e300)
    assert result.empty
