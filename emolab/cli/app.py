"""Commands behind the app's first run and Explore page: ``demo`` and ``project``."""
from __future__ import annotations

import json
import sys

from emolab.cli import db_argument


def register(commands, experiments) -> None:
    """Add this group's commands to the ``emolab`` parser."""
    p = commands.add_parser("demo", help="add the shipped demo library to the index (seconds)")
    p.add_argument("--audio", action="store_true",
                   help="also render the demo audio now (else it is rendered when first played)")
    p.add_argument("--audio-dir", default=None, help="folder of the rendered audio (default data/demo_audio)")
    p.add_argument("--workers", type=int, default=1, help="processes rendering audio (default 1)")
    db_argument(p)
    p.set_defaults(func=cmd_demo)

    p = commands.add_parser("build-demo", help="rebuild the shipped demo data from scratch: render the "
                                              "demo pieces, analyse them with the shipped models")
    p.add_argument("--out", default=None, help="folder for songs.json.gz and manifest.json (default data/demo)")
    p.add_argument("--audio-dir", default=None, help="folder of the rendered audio (default data/demo_audio)")
    p.add_argument("--workers", type=int, default=2, help="processes rendering and analysing (default 2)")
    p.set_defaults(func=cmd_build_demo)

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


def _check_workers(workers: int) -> None:
    from emolab.exceptions import ParameterError

    if workers < 1:
        raise ParameterError("--workers must be at least 1.")


def cmd_demo(args) -> int:
    from emolab import demo_data
    from emolab.index import open_index

    _check_workers(args.workers)
    with open_index(args.db) as idx:
        report = demo_data.load_demo(idx, audio_dir=args.audio_dir)
    spread = report["spread"]
    print(f"{report['added']} demo songs added, {report['skipped']} already in the index; "
          f"valence {spread['valence'][0]} … {spread['valence'][1]}, "
          f"arousal {spread['arousal'][0]} … {spread['arousal'][1]}")
    if args.audio:
        rendered = demo_data.render_missing(args.audio_dir, workers=args.workers,
                                            progress=_print_progress)
        print(f"{rendered['rendered']} demo recordings rendered")
        for name, reason in rendered["failed"]:
            print(f"  FAILED {name}: {reason}")
        return 1 if rendered["failed"] else 0
    return 0


def cmd_build_demo(args) -> int:
    from emolab import demo_data

    _check_workers(args.workers)
    manifest = demo_data.build(args.out, audio_dir=args.audio_dir, workers=args.workers,
                               progress=_print_progress)
    print(json.dumps(manifest["spread"], indent=1, ensure_ascii=False))
    print("README.md's demo paragraph must now read:\n"
          + demo_data.readme_lines(manifest["spread"], manifest["model_versions"]))
    return 0


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
