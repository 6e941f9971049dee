"""The ``search`` door: emotion search and the sketch conversion.

:func:`emolab.search.nearest_point`, :func:`emolab.search.match_profile` and the
sketch conversion :func:`emolab.sketch.stroke_to_curve` with wrong values and types.
"""
from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from emolab.exceptions import EmolabError
from tests.fuzzing.harness import REFUSED, VALID, Breach, Case, _pick, check_message

# =========================================================================== search door

class _Opaque:
    """An object of no expected type."""

    def __repr__(self):
        return "<object>"


def _value_pool(rng):
    return [0.3, -1.0, 1.0, 0, -5, 5, 1e300, -1e300, math.nan, math.inf, -math.inf, None, "0.5",
            "abc", "", [0.1], {}, True, np.float32(0.2), np.array([0.1, 0.2]), complex(1, 1),
            10**400, -(10**400), b"1", _Opaque(), np.nan, "nan", "inf", np.int64(1),
            float(rng.uniform(-1, 1)), float(rng.uniform(-3, 3))]


_K_POOL = (1, 5, 10, 0, -1, 10**9, 2.5, 3.0, "3", "x", None, True, np.int64(4), math.nan,
           math.inf, -math.inf, [3], 10_000, 10_001, 10**400, np.float64(2.0), complex(2, 0))
_CHOICE_POOL = ("", "HUMAN", "Human ", None, 1, ["human"], "predicted; DROP TABLE songs", "dtw ",
                "whole\x00", "ｈｕｍａｎ", _Opaque())
_SECONDS_POOL = (None, 0, -1, 1e-9, 0.1, 0.5, 1.0, 5, 20.0, 1e6, 1e300, math.inf, -math.inf,
                 math.nan, "5", "abc", [], 10**400, True, np.float32(3.0), complex(1, 1))


def _curve(rng) -> tuple[str, Any]:
    choice = int(rng.integers(22))
    n = int(_pick(rng, [2, 3, 8, 40, 200]))
    good = rng.uniform(-1, 1, n)
    if choice == 0:
        return "empty list", []
    if choice == 1:
        return "one point", [0.2]
    if choice == 2:
        x = good.copy()
        x[rng.integers(n)] = math.nan
        return f"{n} points with a NaN", x
    if choice == 3:
        x = good.copy()
        x[rng.integers(n)] = _pick(rng, [math.inf, -math.inf])
        return f"{n} points with an inf", list(x)
    if choice == 4:
        return f"{n} points up to ±5", list(rng.uniform(-5, 5, n))
    if choice == 5:
        return "1e300 values", [1e300, -1e300, 0.0]
    if choice == 6:
        return "a million points", np.zeros(10**6)
    if choice == 7:
        return "10,001 points", np.zeros(10_001)
    if choice == 8:
        return "strings", ["a", "b", "c"]
    if choice == 9:
        return "numbers as strings", ["0.1", "0.2", "0.3"]
    if choice == 10:
        return "a string", "0.1, 0.2"
    if choice == 11:
        return "nested lists", [[0.1, 0.2], [0.3, 0.4]]
    if choice == 12:
        return "ragged lists", [[0.1], [0.2, 0.3]]
    if choice == 13:
        return "a dict", {"valence": [0.1, 0.2]}
    if choice == 14:
        return "a 2-D array", rng.uniform(-1, 1, (5, 2))
    if choice == 15:
        return "complex numbers", [1 + 1j, 0.5]
    if choice == 16:
        return "huge ints", [10**400, 0]
    if choice == 17:
        return "a generator", (x for x in [0.1, 0.2, 0.3])
    if choice == 18:
        return "booleans", [True, False, True]
    if choice == 19:
        return "flat line", [0.3] * n
    if choice == 20:
        return "None inside", [0.1, None, 0.3]
    return f"{n} good points", list(good) if rng.random() < 0.5 else good


def _good_curve(rng) -> tuple[str, Any]:
    """A legal profile, often at an edge: 2 or 10,000 points, exactly ±1, steps, flat."""
    n = int(_pick(rng, [2, 3, 5, 16, 64, 150, 1000, 10_000]))
    choice = int(rng.integers(5))
    if choice == 0:
        return f"{n} points at ±1", np.where(np.arange(n) % 2 == 0, 1.0, -1.0)
    if choice == 1:
        return f"a step of {n} points", np.where(np.arange(n) < n // 2, -1.0, 1.0)
    if choice == 2:
        return f"{n} random points", rng.uniform(-1, 1, n)
    if choice == 3:
        return f"a ramp of {n} points", list(np.linspace(-1, 1, n))
    return f"{n} points almost flat", 0.2 + 1e-4 * rng.standard_normal(n)


def _sketch(rng) -> tuple[str, Any]:
    def path(points):
        return {"type": "path", "path": [["M", *points[0]]] + [["Q", *p, *p] for p in points[1:]]}

    xs = np.linspace(0, 600, 20)
    ys = rng.uniform(0, 200, 20)
    good = list(zip(xs.tolist(), ys.tolist()))
    choice = int(rng.integers(24))
    options = [
        ("None", None), ("empty dict", {}), ("no objects", {"objects": []}),
        ("objects None", {"objects": None}), ("objects a string", {"objects": "path"}),
        ("objects a dict", {"objects": {"type": "path"}}), ("objects of ints", {"objects": [1, 2]}),
        ("a rect", {"objects": [{"type": "rect", "left": 1, "top": 2}]}),
        ("path without path", {"objects": [{"type": "path"}]}),
        ("path None", {"objects": [{"type": "path", "path": None}]}),
        ("path a string", {"objects": [{"type": "path", "path": "M 0 0 L 10 10"}]}),
        ("commands of ints", {"objects": [{"type": "path", "path": [1, 2, 3]}]}),
        ("commands empty", {"objects": [{"type": "path", "path": [[], []]}]}),
        ("NaN points", {"objects": [path([(0, 0), (math.nan, 5), (300, math.nan), (600, 10)])]}),
        ("inf points", {"objects": [path([(0, 0), (math.inf, 5), (600, -math.inf)])]}),
        ("huge coordinates", {"objects": [path([(0, 0), (1e308, 1e308), (-1e308, 5)])]}),
        ("string coordinates", {"objects": [path([("0", "1"), ("600", "2")])]}),
        ("bool coordinates", {"objects": [path([(True, False), (600, 2)])]}),
        ("one point", {"objects": [path([(10, 10)])]}),
        ("vertical stroke", {"objects": [path([(100, 0), (100, 200), (101, 50)])]}),
        ("type None", {"objects": [{"type": None, "path": [["M", 0, 0]]}]}),
        ("a list", [1, 2, 3]), ("a string", "objects"),
        ("good stroke", {"objects": [path(good)], "version": "4.4.0"}),
    ]
    return options[choice % len(options)]


class SearchDoor:
    """Emotion search (point and profile) and the sketch conversion of the Search page.

    Parameters
    ----------
    index : emolab.index.Index
        A populated index with curves (``fill_index``).
    sketches : bool
        Also fuzz :func:`emolab.sketch.stroke_to_curve`.
    """

    name = "search"

    def __init__(self, index, *, sketches: bool = True):
        self.index = index
        self.sketches = sketches

    def cases(self, rng, n: int) -> Iterator[Case]:
        for _ in range(n):
            r = rng.random()
            if r < 0.3:
                yield self._point_case(rng)
            elif r < 0.85 or not self.sketches:
                yield self._profile_case(rng)
            else:
                label, data = _sketch(rng)
                size = (600, 200) if rng.random() < 0.9 else tuple(
                    _pick(rng, [1, 3, 600, 10**6]) for _ in range(2))
                yield Case("sketch", f"{label} on {size[0]}x{size[1]}",
                           ("sketch", data, size))

    def _point_case(self, rng) -> Case:
        pool = _value_pool(rng)
        valence = pool[int(rng.integers(len(pool)))] if rng.random() < 0.5 else float(rng.uniform(-1, 1))
        arousal = pool[int(rng.integers(len(pool)))] if rng.random() < 0.5 else float(rng.uniform(-1, 1))
        k = _K_POOL[int(rng.integers(len(_K_POOL)))] if rng.random() < 0.5 else int(rng.integers(1, 20))
        source = (_CHOICE_POOL[int(rng.integers(len(_CHOICE_POOL)))] if rng.random() < 0.2
                  else str(_pick(rng, ["human", "predicted"])))
        kwargs = {"source": source}
        if rng.random() < 0.2:
            kwargs["filters"] = _filters(rng)
        return Case("point", f"nearest_point({_r(valence)}, {_r(arousal)}, k={_r(k)}, "
                             f"{ {k2: _r(v) for k2, v in kwargs.items()} })",
                    ("point", (valence, arousal, k), kwargs))

    def _profile_case(self, rng) -> Case:
        v_label, valence = (_curve(rng) if rng.random() < 0.35 else _good_curve(rng)
                            if rng.random() < 0.8 else ("None", None))
        a_label, arousal = (_curve(rng) if rng.random() < 0.25 else _good_curve(rng)
                            if rng.random() < 0.6 else ("None", None))
        k = _K_POOL[int(rng.integers(len(_K_POOL)))] if rng.random() < 0.3 else int(rng.integers(1, 20))
        mode = str(_pick(rng, ["whole", "segment"]))
        kwargs = {"mode": mode, "metric": str(_pick(rng, ["dtw", "euclidean"])),
                  "source": str(_pick(rng, ["human", "predicted"])),
                  "znorm": bool(rng.random() < 0.3)}
        if mode == "segment" or rng.random() < 0.1:
            kwargs["segment_seconds"] = (_SECONDS_POOL[int(rng.integers(len(_SECONDS_POOL)))]
                                         if rng.random() < 0.5 else float(rng.uniform(1, 20)))
        for name in ("mode", "metric", "source"):
            if rng.random() < 0.05:
                kwargs[name] = _CHOICE_POOL[int(rng.integers(len(_CHOICE_POOL)))]
        if rng.random() < 0.05:
            kwargs["znorm"] = _pick(rng, ["yes", None, 2, np.bool_(True)])
        if rng.random() < 0.08:
            kwargs["band"] = _pick(rng, [-0.1, 0, 0.5, 1, 2, math.nan, "x", 10**400, None])
        if rng.random() < 0.08:
            kwargs["weights"] = _pick(rng, [(1, 1), (0, 0), (-1, 1), (math.nan, 1), (1,), "ab",
                                            None, (1, 2, 3), (10**400, 1)], )
        if rng.random() < 0.08:
            kwargs["step_penalty"] = _pick(rng, [0, -1, math.inf, math.nan, "x", 10**400, None])
        if rng.random() < 0.08:
            kwargs["n_candidates"] = _pick(rng, [0, -5, 1, 3.5, "x", None, 10**9, 10**400, math.inf])
        if rng.random() < 0.15:
            kwargs["filters"] = _filters(rng)
        return Case("profile", f"match_profile({v_label}, {a_label}, k={_r(k)}, "
                               f"{ {k2: _r(v) for k2, v in kwargs.items()} })",
                    ("profile", (valence, arousal, k), kwargs))

    def attempt(self, case: Case) -> str:
        from emolab import search

        kind, args, extra = case.payload
        try:
            if kind == "point":
                result = search.nearest_point(self.index, *args, **extra)
            elif kind == "profile":
                result = search.match_profile(self.index, *args, **extra)
            else:
                return _attempt_sketch(args, extra)
        except EmolabError as exc:
            check_message(exc)
            return REFUSED
        if not hasattr(result, "columns") or "distance" not in result.columns:
            raise Breach(f"search returned {type(result).__name__} without distances")
        if len(result) and not np.isfinite(result["distance"].to_numpy(dtype=float)).all():
            raise Breach("search returned non-finite distances")
        return VALID


def _attempt_sketch(data, size) -> str:
    from emolab.sketch import stroke_to_curve

    try:
        curve = stroke_to_curve(data, width=size[0], height=size[1], n=64)
    except EmolabError as exc:
        check_message(exc)
        return REFUSED
    if curve is None:
        return REFUSED
    curve = np.asarray(curve)
    if curve.shape != (64,) or not np.isfinite(curve).all() or np.abs(curve).max() > 1:
        raise Breach(f"sketch gave a curve of shape {curve.shape} with values outside [-1, 1] "
                     "or not finite")
    return VALID


def _filters(rng):
    from emolab.search import SearchFilters

    values = ["no", 12, math.nan, -1.0, True, False, "'; DROP TABLE songs; --", None, 10**400,
              "%", "_", b"x", ["a"], 30.0, "ref"]
    names = ["text", "min_duration", "max_duration", "has_audio", "annotator"]
    return SearchFilters(**{str(_pick(rng, names)): _pick(rng, values)
                            for _ in range(int(rng.integers(1, 3)))})


def _r(value, limit: int = 40) -> str:
    text = repr(value)
    if hasattr(value, "__len__") and not isinstance(value, str) and len(text) > limit:
        text = f"<{type(value).__name__} of {len(value)}>"
    return text if len(text) <= limit else text[:limit] + "..."
