"""The medley check (segment consistency): builder, join scores, the flat baseline, the report."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from emolab.exceptions import DatasetError, ParameterError
from emolab.experiments import medley as md
from tests.conftest import tone, write_audio

SR = 8000


def test_medley_joins_parts_at_equal_peak_with_a_crossfade():
    quiet = 0.01 * np.ones(5 * SR, np.float32)
    loud = 0.9 * np.ones(3 * SR, np.float32)
    y, joins = md.build_medley([quiet, loud, quiet], SR, crossfade_seconds=1.0, peak=0.5)
    assert len(y) == (5 + 3 + 5 - 2) * SR
    np.testing.assert_allclose(joins, [4.5, 6.5])
    np.testing.assert_allclose(y[:4 * SR], 0.5)  # both parts brought to the same peak
    np.testing.assert_allclose(np.abs(y).max(), 0.5, rtol=1e-6)
    with pytest.raises(ParameterError):
        md.build_medley([quiet], SR)
    with pytest.raises(ParameterError):
        md.build_medley([quiet, quiet[:SR]], SR)


def test_excerpt_takes_the_middle():
    y = np.arange(10 * SR, dtype=np.float32)
    part = md.excerpt(y, SR, seconds=2.0)
    assert len(part) == 2 * SR and part[0] == 4 * SR
    assert len(md.excerpt(y[:SR], SR, seconds=2.0)) == SR


def test_clips_are_grouped_by_folder_and_medleys_mix_groups(tmp_path):
    for group in ("calm", "loud"):
        (tmp_path / group).mkdir()
        for k in range(3):
            write_audio(tmp_path / group / f"{k}.wav", tone(seconds=0.5, sr=SR), SR)
    clips = md.find_clips([tmp_path], per_group=2)
    assert len(clips) == 4 and {c.group for c in clips} == {f"{tmp_path.name}/calm", f"{tmp_path.name}/loud"}
    plan = md.plan_medleys(clips, n=10, parts=3, seed=1)
    assert len(plan) == 10
    for medley in plan:
        groups = [clips[i].group for i in medley]
        assert all(a != b for a, b in zip(groups, groups[1:])) and len(set(medley)) == 3
    for medley in md.plan_medleys(clips, n=5, parts=2, seed=2, distinct_groups=True):
        assert len({clips[i].group for i in medley}) == 2
    with pytest.raises(ParameterError):
        md.plan_medleys(clips, n=1, parts=3, distinct_groups=True)
    with pytest.raises(DatasetError):
        md.find_clips([tmp_path / "calm"])


def step_curve(levels, joins, *, n=80, delay=0.0, scale=1.0, offset=0.0):
    times = md.frame_grid(n)
    curve = np.empty((n, 2))
    part = np.searchsorted(np.asarray(joins) + delay, times)
    curve[:] = offset + scale * np.asarray(levels)[part]
    return times, curve


def test_join_scores_of_a_curve_that_steps_at_the_join():
    levels = np.array([[-0.3, -0.5], [0.2, 0.4]])
    times, curve = step_curve(levels, [20.0], delay=1.0, scale=0.8, offset=0.05)
    rows = {r["dimension"]: r for r in md.join_scores(times, curve, [20.0], levels)}
    assert rows["valence"]["right_way"] and rows["arousal"]["right_way"]
    assert rows["valence"]["ratio"] == pytest.approx(0.8) and rows["arousal"]["ratio"] == pytest.approx(0.8)
    assert 0.5 <= rows["arousal"]["delay"] <= 1.5
    wrong = md.join_scores(times, -curve, [20.0], levels)
    assert not any(r["right_way"] for r in wrong) and all(np.isnan(r["delay"]) for r in wrong)


def test_flat_line_scores_zero_and_never_the_right_way():
    levels = np.array([[-0.3, -0.5], [0.2, 0.4]])
    times = md.frame_grid(80)
    curve = np.tile([0.1, 0.0], (80, 1))
    joins, parts = [], []
    for r in md.join_scores(times, curve, [20.0], levels):
        joins.append({"medley": 0, **r})
    means = md.part_means(times, curve, [20.0])
    for p in range(2):
        for d, dim in enumerate(md.DIMENSIONS):
            parts.append({"medley": 0, "part": p, "dimension": dim, "level": levels[p, d],
                          "curve_mean": means[p, d]})
    table = md.summarise(pd.DataFrame(joins), pd.DataFrame(parts))
    assert (table["right_way"] == 0).all() and (table["median_ratio"] == 0).all()
    assert (table["within"] == 0).all() and table.loc["arousal", "part_rmse"] == pytest.approx(np.sqrt((0.25 + 0.16) / 2))


def test_a_part_shorter_than_the_guard_is_refused():
    times = md.frame_grid(20)
    with pytest.raises(ParameterError, match="shorter"):
        md.part_means(times, np.zeros((20, 2)), [5.0, 8.0], guard_seconds=5.0)


def test_spliced_frames_take_parts_away_from_joins_and_compute_the_joins():
    """With local features (here: each frame's mean level) splicing gives the full answer."""
    from emolab.features.deam import n_frames

    def frames_of(y, sr):
        n = n_frames(len(y), sr)
        return np.array([[np.abs(y[int(i * sr / 2): int(i * sr / 2) + sr]).mean()] for i in range(n)])

    rng = np.random.default_rng(0)
    parts = [md.equal_peak(rng.uniform(-a, a, 6 * SR).astype(np.float32)) for a in (0.1, 1.0, 0.3)]
    y, joins = md.build_medley(parts, SR, crossfade_seconds=1.0)
    spliced = md.spliced_frames(y, SR, joins, [frames_of(p, SR) for p in parts], frames_of,
                                crossfade_seconds=1.0)
    np.testing.assert_allclose(spliced, frames_of(y, SR), rtol=1e-6)


def test_report_section_replaces_itself_and_keeps_the_rest(tmp_path):
    out = tmp_path / "dynamic.md"
    out.write_text("# Dynamic\n\nLOSO table\n")
    md.write_section(out, md.SECTION + "\n\nfirst\n")
    md.write_section(out, md.SECTION + "\n\nsecond\n")
    text = out.read_text()
    assert text.count(md.SECTION) == 1 and "second" in text and "first" not in text and "LOSO table" in text
    assert md.write_section(out, None).startswith(md.SECTION)
