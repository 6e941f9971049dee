"""Valence on commercial music: ``experiment quadrants`` and ``train-valence`` (4Q second stage)."""
from __future__ import annotations

import shlex
import sys
from pathlib import Path

from emolab.config import MODELS_DIR

DOC = Path("docs/results/quadrants.md")


def register(commands, experiments) -> None:
    """Add this group's commands to the ``emolab`` parser."""
    for parser, name, helptext in (
        (experiments, "quadrants", "4Q quadrants with artist-grouped CV: EmoLab (with and without the 4Q "
                                   "second stage) against VibeNet"),
        (commands, "train-valence", "fit the 4Q valence second stage on all 4Q clips over the shipped static model"),
    ):
        p = parser.add_parser(name, help=helptext)
        p.add_argument("root", help="the 4Q dataset's folder (e.g. ../shared/data/4q)")
        p.add_argument("--deam", default=None, help="DEAM folder for the rating spread (default: ROOT/../deam)")
        p.add_argument("--folds", type=int, default=5)
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--jobs", type=int, default=2, help="processes for uncached clip features (default 2)")
        p.add_argument("--vibenet-venv", default=None, help="VibeNet's own venv (default ~/.cache/emolab/vibenet-venv)")
        p.add_argument("--vibenet-python", default="python3.12", help="Python >= 3.12 to create that venv")
        if name == "quadrants":
            p.add_argument("--no-vibenet", action="store_true", help="leave VibeNet out")
            p.add_argument("--out", default=str(DOC), help="Markdown report to write")
            p.set_defaults(func=quadrants_command)
        else:
            p.add_argument("--out", default=str(MODELS_DIR / "valence"), help="model folder to write")
            p.add_argument("--doc", default=str(DOC), help="also write the CV table here (as experiment quadrants)")
            p.set_defaults(func=train_valence_command)


def _progress(fraction, message):
    print(f"  {message}", file=sys.stderr, flush=True)


def _shown(path: str) -> str:
    """A data path as a user's checkout sees it (``../shared/data/...``), never this machine's."""
    text = Path(path).resolve().as_posix()
    return "../shared/data/" + text.split("/shared/data/", 1)[1] if "/shared/data/" in text else path


def _command(args, name: str) -> str:
    parts = ["python -m emolab"] + (["experiment"] if name == "quadrants" else []) + [name, _shown(args.root)]
    for opt in ("deam",):
        if getattr(args, opt):
            parts += [f"--{opt}", _shown(getattr(args, opt))]
    if args.folds != 5:
        parts += ["--folds", str(args.folds)]
    if args.seed != 0:
        parts += ["--seed", str(args.seed)]
    return " ".join(parts[:1] + [shlex.quote(p) for p in parts[1:]])


def _run(args):
    from emolab.experiments.quadrants import run_quadrants

    return run_quadrants(args.root, deam_root=args.deam, folds=args.folds, seed=args.seed, jobs=args.jobs,
                         vibenet=not getattr(args, "no_vibenet", False), vibenet_venv=args.vibenet_venv,
                         vibenet_python=args.vibenet_python, progress=_progress)


def _write_doc(args, result, name: str, out) -> None:
    from emolab.experiments.quadrants import markdown

    data = result["data"]
    text = markdown(result["summary"], command=_command(args, name), n_clips=len(data.clips),
                    n_artists=data.clips.artist.nunique(), folds=args.folds, seed=args.seed,
                    static_version=data.static_version, bound=result["bound"], seconds=result["seconds"])
    print(text)
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text)
        print(f"written to {out}", file=sys.stderr)


def quadrants_command(args) -> int:
    _write_doc(args, _run(args), "quadrants", args.out)
    return 0


def train_valence_command(args) -> int:
    from emolab.experiments.quadrants import SHIPPED_TARGETS, SHIPPED_VARIANT, train_valence_model, write_card

    result = _run(args)
    _write_doc(args, result, "train-valence", args.doc)
    label = f"EmoLab + 4Q stage [{SHIPPED_VARIANT}; corrects {' and '.join(SHIPPED_TARGETS)}]"
    table = result["summary"]
    model = train_valence_model(args.root, deam_root=args.deam, cv_summary=table, command=_command(args, "train-valence"),
                                jobs=args.jobs, seed=args.seed, data=result["data"], progress=_progress)
    model.save(args.out)
    write_card(Path(args.out), model, table, shipped_label=label, folds=args.folds, seed=args.seed)
    print(f"valence model written to {args.out}")
    return 0
