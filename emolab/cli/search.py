"""``search-point`` and ``search-profile``: emotion search from the command line."""
from __future__ import annotations

import json
import math
import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from emolab import search
from emolab.exceptions import ParameterError
from emolab.cli import reading

RESULT_FIELDS = ("song_id", "dataset", "dataset_id", "title", "artist")


#: What argparse may read as a (negative) value rather than an option: a number or a
#: comma-separated list of numbers, e.g. ``-0.2,0.1,0.5``.
NUMBER_LIST = re.compile(r"^-\d*\.?\d+(e-?\d+)?(,\s*-?\d*\.?\d+(e-?\d+)?)*,?$")


def register(commands, experiments) -> None:
    """Add this group's commands to the ``emolab`` parser."""
    from emolab.cli import db_argument

    point = commands.add_parser(
        "search-point", help="songs whose static emotion is nearest a valence–arousal point")
    point.add_argument("--valence", type=float, required=True, help="valence on [-1, 1]")
    point.add_argument("--arousal", type=float, required=True, help="arousal on [-1, 1]")
    _common(point)
    db_argument(point)
    point.set_defaults(func=run_point)

    profile = commands.add_parser(
        "search-profile", help="songs whose emotion curves follow a drawn profile")
    # A list that starts with a minus ("-0.2,0.1") is a value, not an option.
    profile._negative_number_matcher = NUMBER_LIST
    profile.add_argument("--valence", default=None,
                         help='valence profile on [-1, 1], evenly spaced, comma-separated: '
                              '--valence -0.2,0.1,0.5 (or --valence=-0.2,0.1,0.5)')
    profile.add_argument("--arousal", default=None,
                         help='arousal profile on [-1, 1], evenly spaced: --arousal="-0.5,0,0.5"')
    profile.add_argument("--mode", choices=search.MODES, default="whole")
    profile.add_argument("--seconds", type=float, default=None,
                         help="duration of the profile in segment mode")
    profile.add_argument("--metric", choices=search.METRICS, default="dtw")
    profile.add_argument("--band", type=float, default=0.1,
                         help="DTW band as a fraction of the length (default 0.1)")
    profile.add_argument("--znorm", action="store_true", help="compare shapes only")
    profile.add_argument("--step-penalty", type=float, default=search.DEFAULT_STEP_PENALTY,
                         help="DTW cost of a step that repeats a point (0: plain DTW)")
    profile.add_argument("--weights", default="1,1", help='valence and arousal weights, "1,1"')
    profile.add_argument("--queries", default=None,
                         help="CSV of many profiles: query_id,t,valence,arousal (t orders the "
                              "points; in segment mode, without --seconds, t is in seconds and "
                              "its span is the duration; an empty column searches the other "
                              "dimension only)")
    profile.add_argument("--out", default=None, help="CSV to write batch results to")
    _common(profile)
    db_argument(profile)
    profile.set_defaults(func=run_profile)


def _common(parser) -> None:
    parser.add_argument("--k", type=int, default=10, help="number of songs (default 10)")
    parser.add_argument("--source", choices=search.SOURCES, default="human",
                        help="human labels or model predictions")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--text", default=None, help="only songs with this in title or artist")
    parser.add_argument("--min-duration", type=float, default=None)
    parser.add_argument("--max-duration", type=float, default=None)
    audio = parser.add_mutually_exclusive_group()
    audio.add_argument("--has-audio", dest="has_audio", action="store_const", const=True,
                       default=None, help="only songs with audio")
    audio.add_argument("--no-audio", dest="has_audio", action="store_const", const=False,
                       help="only songs without audio")
    parser.add_argument("--annotator", default=None, help="only songs this person annotated")


def _filters(args) -> search.SearchFilters:
    return search.SearchFilters(text=args.text, min_duration=args.min_duration,
                                max_duration=args.max_duration, has_audio=args.has_audio,
                                annotator=args.annotator)


def run_point(args) -> int:
    with reading(args.db) as index:
        result = search.nearest_point(index, args.valence, args.arousal, args.k,
                                      source=args.source, filters=_filters(args))
    _print(result, ("valence", "arousal"), args.json)
    return 0


def run_profile(args) -> int:
    options = dict(source=args.source, mode=args.mode, metric=args.metric, band=args.band,
                   znorm=args.znorm, step_penalty=args.step_penalty,
                   weights=_numbers(args.weights, "--weights"), filters=_filters(args))
    if args.queries:
        if args.valence or args.arousal:
            raise ParameterError("Give either --queries or --valence/--arousal, not both.")
        return _run_batch(args, options)
    valence = None if args.valence is None else _numbers(args.valence, "--valence")
    arousal = None if args.arousal is None else _numbers(args.arousal, "--arousal")
    with reading(args.db) as index:
        result = search.match_profile(index, valence, arousal, args.k,
                                      segment_seconds=args.seconds, **options)
    _print(result, ("start", "end") if args.mode == "segment" else (), args.json)
    return 0


def _run_batch(args, options) -> int:
    queries = _read_queries(Path(args.queries))
    tables = []
    with reading(args.db) as index:
        for query_id, group in queries.groupby("query_id", sort=False):
            valence, arousal, seconds = _profile_of(group, args)
            try:
                result = search.match_profile(index, valence, arousal, args.k,
                                              segment_seconds=seconds, **options)
            except ParameterError as exc:
                raise ParameterError(f"Query {query_id!r}: {exc}") from None
            result.insert(0, "rank", np.arange(1, len(result) + 1))
            result.insert(0, "query_id", query_id)
            tables.append(result)
    columns = ["query_id", "rank", *RESULT_FIELDS, "distance"]
    if args.mode == "segment":
        columns += ["start", "end"]
    table = (pd.concat(tables, ignore_index=True)[columns] if tables
             else pd.DataFrame(columns=columns))
    if args.out:
        table.to_csv(args.out, index=False)
        print(f"{len(tables)} queries, {len(table)} results written to {args.out}")
    else:
        table.to_csv(sys.stdout, index=False)
    return 0


def _read_queries(path: Path) -> pd.DataFrame:
    try:
        table = pd.read_csv(path, dtype={"query_id": str})
    except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ParameterError(f"Could not read the queries file '{path}': {exc}") from None
    missing = {"query_id", "t", "valence", "arousal"} - set(table.columns)
    if missing:
        raise ParameterError(f"The queries file needs the columns query_id, t, valence, arousal "
                             f"(missing: {', '.join(sorted(missing))}).")
    return table


def _profile_of(group: pd.DataFrame, args):
    """Valence and arousal curves of one query, evenly resampled over its time stamps."""
    group = group.sort_values("t")
    t = pd.to_numeric(group["t"], errors="coerce").to_numpy(float)
    if not np.all(np.isfinite(t)):
        raise ParameterError(f"Query {group.query_id.iloc[0]!r} has a missing or non-numeric time.")
    curves = []
    for column in ("valence", "arousal"):
        values = pd.to_numeric(group[column], errors="coerce").to_numpy(float)
        curves.append(None if np.all(np.isnan(values)) else _even(t, values))
    seconds = args.seconds
    if args.mode == "segment" and seconds is None:
        seconds = float(t[-1] - t[0])
    return curves[0], curves[1], seconds


def _even(t, values):
    """Values at evenly spaced times; uneven stamps are interpolated (NaNs kept, then refused)."""
    if len(t) < 2 or np.allclose(np.diff(t), np.diff(t).mean()):
        return values
    return np.interp(np.linspace(t[0], t[-1], len(t)), t, values)


def _numbers(text: str, option: str) -> list[float]:
    try:
        return [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ParameterError(f"{option} takes numbers separated by commas, "
                             "e.g. \"-0.2,0.1,0.5\".") from None


def _print(result: pd.DataFrame, extra, as_json: bool) -> None:
    columns = [*RESULT_FIELDS, *extra, "distance"]
    if as_json:
        records = [{c: _plain(row[c]) for c in columns} for _, row in result.iterrows()]
        print(json.dumps({"results": records}, indent=2))
        return
    if result.empty:
        print("No song matches.")
        return
    shown = result[columns].copy()
    shown.insert(0, "rank", np.arange(1, len(shown) + 1))
    print(shown.to_string(index=False, float_format=lambda x: f"{x:.3f}"))


def _plain(value):
    """A JSON-friendly scalar: numpy numbers to Python, NaN and missing to null."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, np.generic):
        value = value.item()
        if isinstance(value, float) and math.isnan(value):
            return None
    if value is pd.NA or value is pd.NaT:
        return None
    return value
