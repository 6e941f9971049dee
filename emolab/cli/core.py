"""Core commands: ingest, analyze, stats, query."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from emolab.cli import db_argument, print_mapping, reading


def register(commands, experiments) -> None:
    p = commands.add_parser("ingest", help="analyse audio files/folders and add them to the index")
    p.add_argument("paths", nargs="*", help="audio files or folders (searched recursively)")
    p.add_argument("--workers", type=int, default=None,
                   help="worker processes, or Ray actors with --engine ray (default: all cores)")
    p.add_argument("--no-models", action="store_true", help="store features only, no predictions")
    _time_limit_argument(p)
    _analysis_arguments(p)
    p.add_argument("--from-list", metavar="FILE", help="also ingest the paths (and, with --engine "
                   "ray, URLs) listed in FILE, one per line")
    p.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="'ray': analyse on a Ray cluster (pip install -r requirements-cluster.txt)")
    p.add_argument("--address", default=None, help="with --engine ray: the cluster to join "
                   "(host:6379; default $RAY_ADDRESS, else one on this machine)")
    p.add_argument("--batch-size", type=int, default=64, help="with --engine ray: songs per write")
    db_argument(p)
    p.set_defaults(func=cmd_ingest)

    p = commands.add_parser("analyze", help="print what EmoLab knows of one file, without storing it")
    p.add_argument("file")
    p.add_argument("--json", action="store_true", help="print JSON")
    _time_limit_argument(p)
    _analysis_arguments(p)
    p.set_defaults(func=cmd_analyze)

    p = commands.add_parser("stats", help="counts of the index")
    p.add_argument("--json", action="store_true")
    db_argument(p)
    p.set_defaults(func=cmd_stats)

    p = commands.add_parser("query", help="run one read-only SELECT on the index, print CSV")
    p.add_argument("sql")
    p.add_argument("--max-rows", type=int, default=10_000)
    p.add_argument("--timeout", type=float, default=10.0, help="seconds")
    db_argument(p)
    p.set_defaults(func=cmd_query)

    p = commands.add_parser("backup", help="write a consistent copy of the index")
    p.add_argument("target", help="new file for the copy")
    db_argument(p)
    p.set_defaults(func=cmd_backup)

    p = commands.add_parser("restore", help="replace the index by a backup (the index must be closed)")
    p.add_argument("backup", help="a file written by 'emolab backup'")
    db_argument(p)
    p.set_defaults(func=cmd_restore)


def _time_limit_argument(parser) -> None:
    from emolab.worker import DEFAULT_TIME_LIMIT

    parser.add_argument("--time-limit", type=_seconds, default=DEFAULT_TIME_LIMIT, metavar="SECONDS",
                        help="stop the analysis of a file after this long "
                             f"(default {DEFAULT_TIME_LIMIT:g})")


def _analysis_arguments(parser) -> None:
    parser.add_argument("--extractor", choices=("fast", "opensmile"), default="fast",
                        help="DEAM features: 'fast' (numpy; the default) or 'opensmile' (the "
                             "research-licence reference; needs the opensmile package)")
    parser.add_argument("--librosa", action="store_true",
                        help="also compute the broad librosa song vector (the Explore page's "
                             "'broad librosa' raw space; slower)")


def _seconds(text: str) -> float:
    import argparse
    import math

    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, not {text!r}")
    return value


def cmd_ingest(args) -> int:
    from emolab.exceptions import IndexInUseError, ParameterError

    if not (args.paths or args.from_list):
        raise ParameterError("Give audio files or folders to ingest, or --from-list FILE.")
    if args.engine != "ray":  # the workers' forkserver imports the analysis code meanwhile
        from emolab.worker import start_forkserver

        start_forkserver()
    from emolab.index import open_index
    from emolab.ingest import check_workers, ingest

    paths, options = list(args.paths), {"nice": 0}  # local workers keep the caller's priority
    if args.engine == "ray":  # Ray is imported only here
        from emolab import cluster

        ingest = cluster.ingest
        options = {"listing": args.from_list, "address": args.address, "batch_size": args.batch_size}
    elif args.from_list:
        from emolab.sources import read_listing

        paths += read_listing(args.from_list, urls=False)
    try:
        idx = open_index(args.db)
    except IndexInUseError as exc:
        raise IndexInUseError(f"{exc} If it is the EmoLab app, import from there instead: open "
                              "the page 'Import a folder' and enter "
                              + " and ".join(repr(str(Path(p).resolve())) for p in paths)
                              + "; the import resumes where it stops.") from None
    with idx:
        report = ingest(paths, index=idx, workers=check_workers(args.workers),
                        with_models=not args.no_models, time_limit=args.time_limit,
                        extractor=args.extractor, with_librosa=args.librosa, **options)
    print(report.summary())
    return 1 if report.failed and not (report.added or report.skipped) else 0


def cmd_analyze(args) -> int:
    from emolab import audio
    from emolab.worker import AnalysisWorker

    with AnalysisWorker(time_limit=args.time_limit, extractor=args.extractor,
                        with_librosa=args.librosa, nice=0) as worker:
        worker.start()  # the child starts (and loads the models) while this process reads
        data = audio.read_bytes(args.file)
        analysis = worker.analyse(data, name=args.file)
        worker.close(grace=0.0)  # nothing left to do in the child: no need to wait for its exit
    summary = analysis.summary()
    if args.json:
        print(json.dumps(summary))
    else:
        for key, value in summary.items():
            if key != "dynamic":
                print(f"{key}: {value}")
        if "dynamic" in summary:
            print(f"dynamic: {len(summary['dynamic']['times'])} points every 0.5 s")
    return 0


def cmd_stats(args) -> int:
    from emolab.index import songs

    with reading(args.db) as idx:
        counts = songs.stats(idx.con)
    print_mapping(counts, as_json=args.json)
    return 0


def cmd_query(args) -> int:
    from emolab.index import query_guard

    with reading(args.db) as idx:
        df = query_guard.run(idx.con, args.sql, max_rows=args.max_rows, timeout=args.timeout)
    df.to_csv(sys.stdout, index=False)
    if df.attrs.get("truncated"):
        print(f"emolab: output cut at {args.max_rows} rows", file=sys.stderr)
    return 0


def cmd_backup(args) -> int:
    import tempfile

    from emolab.config import default_db_path
    from emolab.exceptions import IndexInUseError
    from emolab.index import backup, open_index
    from emolab.index.connection import snapshot

    try:
        idx = open_index(args.db)
    except IndexInUseError:  # the app holds it: back up a consistent snapshot instead
        with tempfile.TemporaryDirectory(prefix="emolab-backup-") as tmp:
            copy, _ = snapshot(args.db or default_db_path(), tmp)
            with open_index(copy) as idx:
                print(backup.backup(idx, args.target))
        print("emolab: the index is open in another program (the app?); backed up a snapshot "
              "of it.", file=sys.stderr)
        return 0
    with idx:
        print(backup.backup(idx, args.target))
    return 0


def cmd_restore(args) -> int:
    from emolab.config import default_db_path
    from emolab.index import backup

    print(backup.restore(args.backup, args.db or default_db_path()))
    return 0
