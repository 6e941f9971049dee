"""Data commands: import-dataset, export, import-annotations."""
from __future__ import annotations

import sys

from emolab.cli import db_argument, print_mapping


def register(commands, experiments) -> None:
    """Add this group's commands to the ``emolab`` parser."""
    p = commands.add_parser("import-dataset",
                            help="import DEAM, emoMusic or PMEmo labels (and audio, features) from their folder")
    p.add_argument("dataset", choices=("deam", "emomusic", "pmemo"))
    p.add_argument("root", help="the dataset's folder, in the dataset's own layout")
    p.add_argument("--json", action="store_true", help="print the counts as JSON")
    db_argument(p)
    p.set_defaults(func=cmd_import_dataset)

    p = commands.add_parser("export", help="write annotations to CSV (valence/arousal on [-1, 1])")
    p.add_argument("--out", default=None, help="CSV file to write (default: standard output)")
    p.add_argument("--annotator", default=None, help="only this annotator's annotations")
    p.add_argument("--kind", choices=("static", "segment"), default=None, help="only this kind")
    p.add_argument("--scale", choices=("unit", "1-9"), default="unit",
                   help="scale of valence and arousal in the file (default: unit, i.e. [-1, 1])")
    db_argument(p)
    p.set_defaults(func=cmd_export)

    p = commands.add_parser("import-annotations",
                            help="check an annotation CSV and apply it all or nothing")
    p.add_argument("file", help="CSV in the columns written by 'emolab export'")
    p.add_argument("--scale", choices=("unit", "1-9"), default="unit",
                   help="scale of valence and arousal in the file (default: unit, i.e. [-1, 1])")
    p.add_argument("--annotator", default=None, help="annotator of rows that name none")
    db_argument(p)
    p.set_defaults(func=cmd_import_annotations)


def cmd_import_dataset(args) -> int:
    from emolab.importers import import_dataset
    from emolab.index import open_index

    def progress(fraction, message):
        print(f"[{fraction:4.0%}] {message}", file=sys.stderr)

    with open_index(args.db) as idx:
        counts = import_dataset(idx, args.dataset, args.root, progress=progress)
    print_mapping(counts, as_json=args.json)
    return 0


def cmd_export(args) -> int:
    from emolab.cli import reading
    from emolab.importers import export_annotations

    with reading(args.db) as idx:
        n = export_annotations(idx, args.out or sys.stdout, annotator=args.annotator,
                               kind=args.kind, scale=args.scale)
    if args.out:
        print(f"{n} annotations written to {args.out}", file=sys.stderr)
    return 0


def cmd_import_annotations(args) -> int:
    from emolab.importers import import_annotations
    from emolab.index import open_index

    with open_index(args.db) as idx:
        report = import_annotations(idx, args.file, annotator_default=args.annotator,
                                    scale=args.scale)
    print(report)
    return 0 if report.ok else 1
