"""``python -m emolab`` / ``emolab``: a thin door onto the library, like the pages.

Each command group lives in its own module exposing
``register(commands, experiments)``; a command
is a function ``(args) -> int``. Errors that EmoLab raises on purpose end as one line on
stderr and exit code 1 (2 for wrong arguments).
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import sys
import time

from emolab.exceptions import EmolabError

COMMAND_MODULES = (
    "emolab.cli.core",       # ingest, analyze, stats, query, backup, restore
    "emolab.cli.data",       # import-dataset, export, import-annotations
    "emolab.cli.static",     # experiment table1, train-static, predict-features
    "emolab.cli.features",   # experiment feature-calibration, feature-agreement
    "emolab.cli.dynamic",    # get-pretraining-audio, pretrain-vae, experiment dynamic, train-dynamic
    "emolab.cli.search",     # search-point, search-profile
    "emolab.cli.valence",    # experiment quadrants, train-valence (4Q second stage)
    "emolab.cli.app",        # demo, project
)


def db_argument(parser: argparse.ArgumentParser) -> None:
    """Add the ``--db PATH`` option every command takes."""
    parser.add_argument("--db", default=None,
                        help="song index file (default: $EMOLAB_DB or data/emolab.duckdb)")


@contextlib.contextmanager
def reading(db):
    """The index at ``db`` opened for reading, even while the app holds it.

    While another program holds the index, a snapshot is read (see
    :func:`emolab.index.open_for_reading`) and one line on stderr says so.
    """
    from emolab.index import open_for_reading

    with open_for_reading(db) as index:
        if index.snapshot_of is not None:
            taken = time.strftime("%H:%M:%S", time.localtime(index.snapshot_time))
            print(f"emolab: the index is open in another program (the app?); read a snapshot "
                  f"taken at {taken}.", file=sys.stderr)
        yield index


def print_mapping(mapping: dict, *, as_json: bool) -> None:
    """Print a flat mapping as one JSON object or as ``key: value`` lines."""
    if as_json:
        print(json.dumps(mapping))
    else:
        for key, value in mapping.items():
            print(f"{key}: {value}")


#: Commands whose module is known, so that running one imports only that module (start-up
#: time: the others import pandas, numba ...). Commands not listed load every module.
FAST_COMMANDS = {
    "ingest": "emolab.cli.core", "analyze": "emolab.cli.core", "stats": "emolab.cli.core",
    "query": "emolab.cli.core", "backup": "emolab.cli.core", "restore": "emolab.cli.core",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser; with ``command`` in :data:`FAST_COMMANDS`, only that command's."""
    parser = argparse.ArgumentParser(prog="emolab", description="EmoLab: perceived emotion in music.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    experiment = sub.add_parser("experiment", help="run a cross-validated experiment")
    experiments = experiment.add_subparsers(dest="experiment", required=True, metavar="NAME")
    modules = [FAST_COMMANDS[command]] if command in FAST_COMMANDS else COMMAND_MODULES
    for name in modules:
        importlib.import_module(name).register(sub, experiments)
    return parser


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv[0] if argv else None)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except EmolabError as exc:
        print(f"emolab: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("emolab: interrupted", file=sys.stderr)
        return 130
