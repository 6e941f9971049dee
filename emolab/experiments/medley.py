"""Segment consistency: does a dynamic curve follow the music? (No labels needed.)

A *medley* joins excerpts of two or more real recordings from different folders (genres,
quadrants, soundtracks) with a short crossfade, each excerpt brought to the same peak level
so that loudness alone does not give the join away. Each excerpt (a *part*) is also
analysed alone with the static model. A curve that follows the music should, at each join,

* move the same way as the static predictions of the two parts (*right way*),
* by about as much (*step ratio*: the curve's step over the static step),
* soon after the join (*delay*: seconds from the join until the curve is half way from its
  level over the first part to its level over the second; negative when it moves early),

and over each part sit near that part's own static prediction (*part RMSE*).

A part's *level* on the curve is the curve's mean over the part, leaving out
``guard_seconds`` next to each join (where any window-based model is in transition). A flat
line at the song's static level scores a step ratio of 0 and never moves the right way: the
check cannot be passed by a constant.

``python -m emolab experiment medley`` runs it (:mod:`emolab.cli.dynamic`).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from emolab.config import HOP_SECONDS
from emolab.exceptions import DatasetError, ParameterError

DIMENSIONS = ("valence", "arousal")


@dataclass(frozen=True)
class Clip:
    """One recording of a medley source: its file and its group (top-level folder)."""

    path: Path
    group: str


def find_clips(folders, *, per_group: int | None = None, seed: int = 0) -> list[Clip]:
    """Audio files under each folder, grouped by their top-level sub-folder.

    Parameters
    ----------
    folders : list of path
        E.g. ``../shared/data/emotify/emotifymusic`` (genre folders) or
        ``../shared/data/4q/audio`` (Q1..Q4). Files directly in a folder form one group
        named after the folder.
    per_group : int, optional
        Keep at most this many files per group (a seeded random choice).

    Returns
    -------
    list of Clip
    """
    from emolab.models.dynamic_training import audio_files

    rng = np.random.default_rng(seed)
    clips = []
    for folder in folders:
        folder = Path(folder).expanduser()
        groups: dict[str, list[Path]] = {}
        for f in audio_files(folder):
            rel = f.relative_to(folder)
            name = f"{folder.name}/{rel.parts[0]}" if len(rel.parts) > 1 else folder.name
            groups.setdefault(name, []).append(f)
        for name, files in sorted(groups.items()):
            if per_group and len(files) > per_group:
                files = [files[i] for i in sorted(rng.choice(len(files), per_group, replace=False))]
            clips += [Clip(f, name) for f in files]
    if len({c.group for c in clips}) < 2:
        raise DatasetError("A medley needs clips from at least two groups (sub-folders or folders).")
    return clips


def excerpt(y: np.ndarray, sr: int, *, seconds: float) -> np.ndarray:
    """The middle ``seconds`` of a recording (all of it when shorter)."""
    n = int(round(seconds * sr))
    if len(y) <= n:
        return np.asarray(y, dtype=np.float32)
    start = (len(y) - n) // 2
    return np.asarray(y[start:start + n], dtype=np.float32)


def equal_peak(y: np.ndarray, *, peak: float = 0.5) -> np.ndarray:
    """Scale a recording so that its largest absolute sample is ``peak`` (silence stays)."""
    y = np.asarray(y, dtype=np.float32)
    top = float(np.max(np.abs(y))) if y.size else 0.0
    return y if top == 0.0 else (y * (peak / top)).astype(np.float32)


def build_medley(parts, sr: int, *, crossfade_seconds: float = 1.0, peak: float = 0.5):
    """Join recordings with linear crossfades, each first brought to the same peak.

    Parameters
    ----------
    parts : list of np.ndarray, each shape (n_i,)
        Mono audio at ``sr``, each longer than the crossfade.
    sr : int
    crossfade_seconds : float
    peak : float
        Peak level every part is scaled to.

    Returns
    -------
    y : np.ndarray, shape (n,)
    joins : np.ndarray, shape (len(parts) - 1,)
        Time of each join (the middle of its crossfade), seconds.
    """
    if len(parts) < 2:
        raise ParameterError("A medley needs at least two parts.")
    fade = int(round(crossfade_seconds * sr))
    parts = [equal_peak(p, peak=peak) for p in parts]
    if any(len(p) <= 2 * fade for p in parts):
        raise ParameterError("Every part of a medley must be longer than two crossfades.")
    ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32) if fade else np.zeros(0, np.float32)
    y = parts[0]
    joins = []
    for part in parts[1:]:
        joins.append((len(y) - fade / 2) / sr)
        if fade:
            overlap = y[len(y) - fade:] * (1 - ramp) + part[:fade] * ramp
            y = np.concatenate([y[:len(y) - fade], overlap, part[fade:]])
        else:
            y = np.concatenate([y, part])
    return y.astype(np.float32), np.asarray(joins)


def plan_medleys(clips: list[Clip], *, n: int, parts: int = 2, seed: int = 0,
                 distinct_groups: bool = False) -> list[tuple[int, ...]]:
    """``n`` medleys of ``parts`` clips each, consecutive clips from different groups, no clip
    twice in a medley (a seeded random choice); with ``distinct_groups`` no group twice.

    Returns
    -------
    list of tuple of int
        Indices into ``clips``.
    """
    rng = np.random.default_rng(seed)
    groups = sorted({c.group for c in clips})
    by_group = {g: [i for i, c in enumerate(clips) if c.group == g] for g in groups}
    out = []
    for _ in range(n):
        chosen: list[int] = []
        for _ in range(parts):
            used = {clips[i].group for i in chosen} if distinct_groups else set()
            options = [g for g in groups if (not chosen or g != clips[chosen[-1]].group) and g not in used]
            if not options:
                raise ParameterError(f"{parts} parts from distinct groups need at least {parts} groups.")
            group = options[rng.integers(len(options))]
            pool = [i for i in by_group[group] if i not in chosen]
            chosen.append(int(pool[rng.integers(len(pool))]))
        out.append(tuple(chosen))
    return out


def join_scores(times: np.ndarray, curve: np.ndarray, joins, levels, *, guard_seconds: float = 5.0) -> list[dict]:
    """How a curve moves at each join of a medley.

    Parameters
    ----------
    times : np.ndarray, shape (n,)
        Seconds of each curve point.
    curve : np.ndarray, shape (n, 2)
        (valence, arousal).
    joins : sequence of float, length p - 1
        Join times (s) of a medley of ``p`` parts.
    levels : np.ndarray, shape (p, 2)
        Each part's static prediction, analysed alone.
    guard_seconds : float
        Curve points this close to a join are left out of a part's level.

    Returns
    -------
    list of dict
        One per (join, dimension): ``join, dimension, static_step, curve_step, ratio,
        right_way, delay`` (delay NaN when the curve does not move the static step's way).
    """
    times = np.asarray(times, dtype=np.float64)
    curve = np.asarray(curve, dtype=np.float64).reshape(len(times), 2)
    levels = np.asarray(levels, dtype=np.float64).reshape(-1, 2)
    means = part_means(times, curve, joins, guard_seconds=guard_seconds)
    bounds = np.concatenate([[-np.inf], np.asarray(joins, dtype=np.float64), [np.inf]])
    rows = []
    for j, join in enumerate(joins):
        for d, dim in enumerate(DIMENSIONS):
            static_step = levels[j + 1, d] - levels[j, d]
            curve_step = means[j + 1, d] - means[j, d]
            right = bool(np.sign(curve_step) == np.sign(static_step) and abs(curve_step) > 1e-9)
            delay = np.nan
            if right:
                # first point after the previous part's plateau where the curve is half way
                half = (means[j, d] + means[j + 1, d]) / 2
                start = max(bounds[j] + guard_seconds, join - guard_seconds)
                inside = (times >= start) & (times <= min(bounds[j + 2] - guard_seconds, join + 30.0))
                moved = (curve[:, d] - half) * np.sign(curve_step) >= 0
                hit = np.flatnonzero(inside & moved)
                delay = float(times[hit[0]] - join) if hit.size else np.inf
            rows.append({"join": j, "dimension": dim, "static_step": float(static_step),
                         "curve_step": float(curve_step),
                         "ratio": float(curve_step / static_step) if static_step else np.nan,
                         "right_way": right, "delay": delay})
    return rows


def part_means(times, curve, joins, *, guard_seconds: float = 5.0) -> np.ndarray:
    """The curve's mean over each part, leaving out ``guard_seconds`` next to each join.

    Returns
    -------
    np.ndarray, shape (len(joins) + 1, 2)
    """
    times = np.asarray(times, dtype=np.float64)
    curve = np.asarray(curve, dtype=np.float64).reshape(len(times), 2)
    bounds = np.concatenate([[-np.inf], np.asarray(joins, dtype=np.float64), [np.inf]])
    out = np.empty((len(bounds) - 1, 2))
    for p in range(len(bounds) - 1):
        inside = (times >= bounds[p] + guard_seconds) & (times <= bounds[p + 1] - guard_seconds)
        if not inside.any():
            raise ParameterError(f"Part {p + 1} of the medley is shorter than twice the guard "
                                 f"({guard_seconds:g} s): nothing of it is left to score.")
        out[p] = curve[inside].mean(axis=0)
    return out


# -- running it --------------------------------------------------------------------------------
@dataclass
class Medley:
    """A built medley: its audio, joins, clips and each part's static prediction alone."""

    y: np.ndarray
    sr: int
    joins: np.ndarray
    clips: tuple
    levels: np.ndarray  # (parts, 2)
    frames: np.ndarray  # frame features of the medley (the static model's columns)

    @property
    def name(self) -> str:
        return " + ".join(f"{c.group}/{c.path.stem}" for c in self.clips)


def frames_cached(y: np.ndarray, sr: int, compute, *, cache_dir=None, tag: str = "") -> np.ndarray:
    """``compute(y, sr)`` cached on disk by the audio's content (and ``tag``)."""
    file = None
    if cache_dir is not None:
        key = hashlib.sha1(np.ascontiguousarray(y, dtype=np.float32).tobytes()
                           + f"{sr}:{tag}".encode()).hexdigest()[:20]
        file = Path(cache_dir).expanduser() / "medley-frames" / f"{key}.npy"
        if file.is_file():
            return np.load(file)
    value = np.asarray(compute(y, sr), dtype=np.float64)
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        np.save(file, value)
    return value


def make_medleys(clips: list[Clip], plan, *, static_model, frames_of, seconds: float = 20.0,
                 crossfade_seconds: float = 1.0, sr: int = 44100, splice: bool = True,
                 progress: bool = False) -> list[Medley]:
    """Build the planned medleys and the static prediction of each part alone.

    ``frames_of(y, sr)`` gives frame features in the static model's columns (e.g.
    :meth:`emolab.models.dynamic.DynamicEmotionModel.frames`, cached). With ``splice``, a
    medley's frames are computed only around its joins and taken from its parts' own
    frames elsewhere (see :func:`spliced_frames`).
    """
    from emolab.audio import load
    from emolab.models.dynamic_training import _progress

    seconds = round(seconds / HOP_SECONDS) * HOP_SECONDS  # parts stay on the 0.5 s grid
    audio: dict[int, np.ndarray] = {}
    frames: dict[int, np.ndarray] = {}
    levels: dict[int, np.ndarray] = {}
    out = []
    for medley in _progress(plan, progress, "medleys"):
        for i in medley:
            if i not in audio:
                part = equal_peak(excerpt(load(clips[i].path, sr=sr).y, sr, seconds=seconds))
                part = part[:int(round(len(part) / (HOP_SECONDS * sr))) * int(round(HOP_SECONDS * sr))]
                audio[i] = part
                frames[i] = frames_of(part, sr)
                mean, _ = static_model.predict(frames[i].mean(axis=0)[None, :])
                levels[i] = np.asarray(mean[0, :2], dtype=np.float64)
        y, joins = build_medley([audio[i] for i in medley], sr, crossfade_seconds=crossfade_seconds)
        medley_frames = (spliced_frames(y, sr, joins, [frames[i] for i in medley], frames_of,
                                        crossfade_seconds=crossfade_seconds)
                         if splice else frames_of(y, sr))
        out.append(Medley(y, sr, joins, tuple(clips[i] for i in medley),
                          np.stack([levels[i] for i in medley]), medley_frames))
    return out


def spliced_frames(y, sr, joins, part_frames, frames_of, *, crossfade_seconds: float = 1.0,
                   margin_seconds: float = 2.0) -> np.ndarray:
    """A medley's frame features, computed only near its joins.

    Frame features are local (frame *i* depends on the audio of [0.5 i, 0.5 i + 1) s), and
    the parts of a medley sit on the 0.5 s grid, so away from a crossfade a medley frame is
    the frame of its part analysed alone. Near each join (the crossfade and
    ``margin_seconds`` on each side) the frames are computed from the medley's own audio.

    Returns
    -------
    np.ndarray, shape (n_frames, n_columns)
    """
    from emolab.features.deam import n_frames

    hop = HOP_SECONDS
    n = n_frames(len(y), sr)
    out = np.full((n, part_frames[0].shape[1]), np.nan)
    start = 0.0
    for p, frames in enumerate(part_frames):
        k0 = int(round(start / hop))
        m = min(len(frames), n - k0)
        out[k0:k0 + m] = frames[:m]
        start += (len(frames) + 1) * hop - crossfade_seconds  # a part of n frames lasts (n + 1) * 0.5 s
    for join in joins:
        a = max(0.0, np.floor((join - crossfade_seconds / 2 - margin_seconds) / hop) * hop)
        b = min(len(y) / sr, np.ceil((join + crossfade_seconds / 2 + margin_seconds) / hop) * hop)
        local = frames_of(y[int(round(a * sr)):int(round(b * sr))], sr)
        ka = int(round(a / hop))
        # keep the snippet's inner frames (its first and last second may see its edges)
        lo = ka + (1 if a > 0 else 0)
        hi = min(n, ka + len(local) - (1 if b < len(y) / sr else 0))
        out[lo:hi] = local[lo - ka:hi - ka]
    if not np.all(np.isfinite(out)):
        raise ParameterError("The medley's parts do not cover its frames (are they on the 0.5 s grid?).")
    return out


def score_method(medleys: list[Medley], curve_of, *, guard_seconds: float = 5.0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Join and part scores of one method.

    ``curve_of(medley) -> (times, curve (n, 2))``.

    Returns
    -------
    joins : DataFrame
        One row per (medley, join, dimension), see :func:`join_scores`.
    parts : DataFrame
        One row per (medley, part, dimension): ``level`` (static alone), ``curve_mean``.
    """
    join_rows, part_rows = [], []
    for m, medley in enumerate(medleys):
        times, curve = curve_of(medley)
        for row in join_scores(times, curve, medley.joins, medley.levels, guard_seconds=guard_seconds):
            join_rows.append({"medley": m, **row})
        means = part_means(times, curve, medley.joins, guard_seconds=guard_seconds)
        for p in range(len(medley.levels)):
            for d, dim in enumerate(DIMENSIONS):
                part_rows.append({"medley": m, "part": p, "dimension": dim,
                                  "level": medley.levels[p, d], "curve_mean": means[p, d]})
    return pd.DataFrame(join_rows), pd.DataFrame(part_rows)


def summarise(joins: pd.DataFrame, parts: pd.DataFrame, *, min_step: float = 0.2,
              max_delay: float = 3.0) -> pd.DataFrame:
    """Per dimension, on joins whose static step is at least ``min_step``.

    Columns: ``joins`` (how many), ``right_way`` (fraction), ``median_ratio``,
    ``median_delay`` (s, over joins moved the right way), ``within`` (fraction of joins moved
    the right way with delay ≤ ``max_delay``), ``part_rmse`` (all parts).
    """
    rows = {}
    for dim in DIMENSIONS:
        j = joins[(joins["dimension"] == dim) & (joins["static_step"].abs() >= min_step)]
        p = parts[parts["dimension"] == dim]
        right = j[j["right_way"]]
        rows[dim] = {
            "joins": len(j),
            "right_way": float(j["right_way"].mean()) if len(j) else np.nan,
            "median_ratio": float(j["ratio"].median()) if len(j) else np.nan,
            "median_delay": float(right["delay"].median()) if len(right) else np.nan,
            "within": float((j["right_way"] & (j["delay"] <= max_delay)).mean()) if len(j) else np.nan,
            "part_rmse": float(np.sqrt(np.mean((p["curve_mean"] - p["level"]) ** 2))) if len(p) else np.nan,
        }
    return pd.DataFrame(rows).T


def flat_curve(medley: Medley, static_model):
    """The baseline: a flat line at the whole medley's static prediction."""
    mean, _ = static_model.predict(medley.frames.mean(axis=0)[None, :])
    n = len(medley.frames)
    return frame_grid(n), np.tile(np.asarray(mean[0, :2], dtype=np.float64), (n, 1))


def frame_grid(n: int) -> np.ndarray:
    return np.arange(n) * HOP_SECONDS + HOP_SECONDS


def report_markdown(results: dict, *, command: str, medleys: list[Medley], notes: list[str],
                    min_step: float, guard_seconds: float, max_delay: float = 3.0) -> str:
    """The medley section of ``docs/results/dynamic.md``.

    ``results``: ``{method: summary DataFrame}`` from :func:`summarise`.
    """
    groups = sorted({c.group for m in medleys for c in m.clips})
    lines = ["## Segment consistency on medleys of real music", "",
             f"Command: `{command}`", "",
             f"{len(medleys)} medleys of {len(medleys[0].clips)} parts "
             f"({len(medleys[0].y) / medleys[0].sr / len(medleys[0].clips):.0f} s each, middle of the "
             f"clip, equal peak level, 1 s crossfade) from {len(groups)} groups: {', '.join(groups)}.", "",
             f"Per dimension, on the joins where the two parts' static predictions (each part analysed "
             f"alone) differ by at least {min_step:g}: how often the curve moves the right way; the "
             f"median of curve step / static step (a part's curve level is its mean leaving out "
             f"{guard_seconds:g} s next to a join); the median delay (s after the join until the "
             f"curve is half way between its two levels; negative: it moves early); the share of "
             f"joins moved the right way within {max_delay:g} s; and the RMSE between each part's "
             f"curve level and its own static prediction (all parts).", ""]
    lines += [f"- {n}" for n in notes] + ([""] if notes else [])
    for dim in DIMENSIONS:
        n = next(iter(results.values())).loc[dim, "joins"]
        lines += [f"**{dim}** ({int(n)} joins with a static step ≥ {min_step:g})", "",
                  "| method | right way | median step ratio | median delay (s) | "
                  f"right way within {max_delay:g} s | part RMSE |", "|---|---|---|---|---|---|"]
        for name, table in results.items():
            r = table.loc[dim]
            delay = "—" if np.isnan(r["median_delay"]) else f"{r['median_delay']:+.1f}"
            lines.append(f"| {name} | {r['right_way']:.0%} | {r['median_ratio']:.2f} | {delay} | "
                         f"{r['within']:.0%} | {r['part_rmse']:.3f} |")
        lines.append("")
    return "\n".join(lines) + "\n"


SECTION = "## Segment consistency on medleys of real music"


def write_section(path, section: str | None) -> str:
    """Replace (or append) the medley section of a markdown file; return the old section.

    With ``section=None`` nothing is written: only the current section is returned ("" when
    there is none).
    """
    path = Path(path)
    text = path.read_text() if path.is_file() else ""
    start = text.find(SECTION)
    if start < 0:
        old, before, after = "", text, ""
    else:
        end = text.find("\n## ", start + len(SECTION))
        end = len(text) if end < 0 else end + 1
        old, before, after = text[start:end], text[:start], text[end:]
    if section is not None:
        body = (before.rstrip("\n") + "\n\n" if before.strip() else "") + section
        path.write_text(body + (("\n" + after) if after.strip() else ""))
    return old
