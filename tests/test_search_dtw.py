"""emolab.search.dtw: the DTW distance against a direct reference and dtaidistance."""
from __future__ import annotations

import math

import numpy as np
import pytest

from emolab.search import dtw_distance


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


# --- an independent oracle: dtaidistance ----------------------------------------------------
#
# Definitions compared (dtaidistance 2.5.1, ``dtw.distance`` / ``dtw_ndim.distance``):
# * local cost: both use the *squared* difference (summed over dimensions), accumulated along
#   the path, and return the square root of the total (dtaidistance's default inner distance,
#   "squared euclidean");
# * step pattern: both take min(diagonal, vertical + penalty, horizontal + penalty), each
#   diagonal step costing the local cost once (symmetric, no double-weighted diagonal);
# * penalty: ours is in squared units; dtaidistance squares its ``penalty`` (inner_val), so
#   ``step_penalty = p`` equals ``penalty = sqrt(p)``;
# * band: for equal lengths ours allows |i - j| <= floor(band * n), dtaidistance's ``window``
#   allows |i - j| < window, so window = floor(band * n) + 1. For unequal lengths ours follows
#   the slanted diagonal and dtaidistance widens a band around both corners' diagonals, so those
#   are compared without a band only.

from dtaidistance import dtw as dtai_dtw  # noqa: E402  (pinned in requirements.txt)
from dtaidistance import dtw_ndim as dtai_ndim  # noqa: E402


def _dtai(a, b, *, band=None, penalty=0.0):
    a, b = np.ascontiguousarray(a, dtype=np.double), np.ascontiguousarray(b, dtype=np.double)
    kwargs = {"penalty": math.sqrt(penalty) if penalty else None, "use_c": False}
    if band is not None:
        kwargs["window"] = int(math.floor(band * max(len(a), len(b)) + 1e-9)) + 1
    module = dtai_ndim if a.ndim == 2 else dtai_dtw
    return module.distance(a, b, **kwargs)


@pytest.mark.parametrize("dims", [1, 2])
def test_dtw_agrees_with_dtaidistance_within_a_band(dims):
    rng = np.random.default_rng(7)
    for trial in range(40):
        n = int(rng.integers(2, 40))
        shape = (n,) if dims == 1 else (n, dims)
        a, b = rng.normal(size=shape), rng.normal(size=shape)
        band = float(rng.choice([0.0, 0.05, 0.1, 0.2, 0.5, 1.0]))
        penalty = 0.0 if trial % 2 == 0 else float(rng.uniform(0, 0.5))
        assert dtw_distance(a, b, band=band, step_penalty=penalty) == pytest.approx(
            _dtai(a, b, band=band, penalty=penalty), rel=1e-9), (n, band, penalty)


@pytest.mark.parametrize("dims", [1, 2])
def test_dtw_agrees_with_dtaidistance_on_unequal_lengths_without_a_band(dims):
    rng = np.random.default_rng(8)
    for trial in range(40):
        n, m = (int(x) for x in rng.integers(1, 40, size=2))
        a = rng.normal(size=(n,) if dims == 1 else (n, dims))
        b = rng.normal(size=(m,) if dims == 1 else (m, dims))
        penalty = 0.0 if trial % 2 == 0 else float(rng.uniform(0, 0.5))
        assert dtw_distance(a, b, step_penalty=penalty) == pytest.approx(
            _dtai(a, b, penalty=penalty), rel=1e-9), (n, m, penalty)


def test_dtw_on_emotion_like_curves_agrees_with_dtaidistance():
    """The search's own use: 64-point sketches, band 0.1, the default step penalty."""
    from emolab.search import DEFAULT_STEP_PENALTY, SKETCH_LENGTH

    rng = np.random.default_rng(9)
    for _ in range(20):
        a = np.clip(np.cumsum(rng.normal(0, 0.08, (SKETCH_LENGTH, 2)), axis=0), -1, 1)
        b = np.clip(np.cumsum(rng.normal(0, 0.08, (SKETCH_LENGTH, 2)), axis=0), -1, 1)
        assert dtw_distance(a, b, band=0.1, step_penalty=DEFAULT_STEP_PENALTY) == pytest.approx(
            _dtai(a, b, band=0.1, penalty=DEFAULT_STEP_PENALTY), rel=1e-9)
