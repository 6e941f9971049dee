"""Commands behind the app's first run and Explore page: ``demo`` and ``project``."""
from __future__ import annotations

import json
import sys

from emolab.cli import db_argument


def register(commands, experiments) -> None:
    """Add this group's commands to the ``emolab`` parser."""
    p = commands.add_parser("demo", help="build the demo library (music21 scores rendered to audio, then ingested)")
    p.add_argument("--pieces", type=int, default=None, help="use only the first N demo pieces (default: all)")
    p.add_argument("--audio-dir", default=None, help="cache folder of the rendered audio (default data/demo_audio)")
    p.add_argument("--workers", type=int, default=2, help="processes rendering and analysing (default 2)")
    p.add_argument("--seconds", type=float, default=None, help="length kept of each piece in seconds (default 40)")
    db_argument(p)
    p.set_defaults(func=cmd_demo)

    p = commands.add_parser("project", help="compute (or read from the index) a 2-D map of a feature space")
    p.add_argument("--method", choices=("umap", "tsne"), default="umap")
    p.add_argument("--family", choices=("deam74", "librosa", "tnn"), default="deam74",
                   help="feature space: openSMILE DEAM features, librosa vector or the TNN embedding")
    p.add_argument("--neighbors", type=int, default=None, help="UMAP n_neighbors (default 15)")
    p.add_argument("--perplexity", type=float, default=None, help="t-SNE perplexity (default 30)")
    p.add_argument("--json", action="store_true", help="print the map's key, size and scores as JSON")
    db_argument(p)
    p.set_defaults(func=cmd_project)


def _print_progress(done: int, total: int, message: str) -> None:
    print(f"[{done}/{total}] {message}", file=sys.stderr, flush=True)


def cmd_demo(args) -> int:
    from emolab.demo import EXCERPT_SECONDS, build_demo_library
    from emolab.exceptions import ParameterError
    from emolab.index import open_index

    if args.workers < 1:
        raise ParameterError("--workers must be at least 1.")
    with open_index(args.db) as idx:
        report = build_demo_library(idx, audio_dir=args.audio_dir, n_pieces=args.pieces,
                                    workers=args.workers, seconds=args.seconds or EXCERPT_SECONDS,
                                    progress=_print_progress)
    print(f"{report['added']} demo pieces added, {report['skipped']} already in the index, "
          f"{len(report['failed'])} failed (rendering {report['render_seconds']} s, "
          f"analysis {report['ingest_seconds']} s; audio in {report['audio_dir']})")
    for name, reason in report["failed"]:
        print(f"  FAILED {name}: {reason}")
    return 1 if report["failed"] and not (report["added"] or report["skipped"]) else 0


def cmd_project(args) -> int:
    from emolab.index import open_index
    from emolab.projection import get_or_compute_map

    params = {"n_neighbors": args.neighbors} if args.method == "umap" else {"perplexity": args.perplexity}
    with open_index(args.db) as idx:
        frame = get_or_compute_map(idx, family=args.family, method=args.method, params=params)
    attrs = frame.attrs
    if args.json:
        print(json.dumps({"key": attrs["key"], "songs": len(frame), "cached": attrs["cached"],
                          "params": attrs["params"], "score": attrs["score"]}, indent=2, default=str))
        return 0
    origin = "read from the index" if attrs["cached"] else "computed and stored"
    print(f"{args.method.upper()} map of {len(frame)} songs in the {args.family} space ({origin}).")
    for source, score in attrs["score"].items():
        if score.get("r2_valence") is None and score.get("r2_arousal") is None:
            print(f"  {source}: too few songs with values to score the map")
            continue
        print(f"  k-NN R² ({source}, k={score['k']}): valence {_fmt(score['r2_valence'])} "
              f"(n={score['n_valence']}), arousal {_fmt(score['r2_arousal'])} (n={score['n_arousal']})")
    return 0


def _fmt(value) -> str:
    return "–" if value is None else f"{value:.3f}"
