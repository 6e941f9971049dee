"""The DEAM extractor's one compiled pass over the samples equals its numpy passes."""
from __future__ import annotations

import numpy as np
import pytest

from emolab.features import deam_fast
from emolab.features.sample_pass import prepare

STEP = 441


def _numpy_passes(y, n_blocks, min_size):
    """deam_fast's numpy passes (what the 55 columns alone use), plus the pitch chain's reading."""
    y64, energy, crossing, per_block = deam_fast.sample_passes(y, n_blocks=n_blocks)
    y32 = np.round(y64 * 32768.0).astype(np.float32) / np.float32(32767.0)  # pitch.pitch_llds's
    return y64, y32, energy, crossing, per_block


@pytest.mark.parametrize("case", ["music-like", "clipped", "exact zeros", "shorter than a frame"])
def test_one_pass_equals_the_numpy_passes(case):
    rng = np.random.default_rng(4)
    y = (0.3 * np.sin(np.arange(20000) * 0.05) + 0.05 * rng.standard_normal(20000)).astype(np.float32)
    if case == "clipped":
        y *= 5.0                                  # beyond [-1, 1]: clipped to the 16-bit range
    if case == "exact zeros":
        y[::3] = 0.0                              # zeros between samples of either sign
        y[5000:6000] = 0.0
        y[7000:7500] = 1e-6                       # below one 16-bit step: truncated to 0
    if case == "shorter than a frame":
        y = y[:1000]
    min_size = 2646
    n = max(1, (max(y.size, min_size) - 2646) // STEP + 1)
    n_blocks = n + 6
    got = prepare(y, step=STEP, n_blocks=n_blocks, min_size=min_size)
    expected = _numpy_passes(y, n_blocks, min_size)
    for name, a, b in zip(("y64", "y32", "energy", "crossing", "per_block"), got, expected):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=0, err_msg=name)
    # the check has teeth: the audio has crossings and energy to get wrong
    assert expected[4].sum() > 50 and expected[2].max() > 1.0
