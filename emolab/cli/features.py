"""Feature commands: ``experiment feature-calibration``, ``experiment feature-agreement``."""
from __future__ import annotations

import shlex
import sys
from pathlib import Path

START, END = "<!-- fast-agreement:start -->", "<!-- fast-agreement:end -->"
DEFAULT_CORPUS = "~/.cache/emolab/pretrain/audio"


def register(commands, experiments) -> None:
    """Add this group's commands to the ``emolab`` parser."""
    p = experiments.add_parser("feature-calibration",
                               help="fit the fast DEAM columns' calibration to openSMILE on unlabelled music")
    p.add_argument("--audio", default=DEFAULT_CORPUS, help="folder of unlabelled music (never labelled songs)")
    p.add_argument("--seconds", type=float, default=30.0, help="middle excerpt of each file (s)")
    p.add_argument("--limit", type=int, default=None, help="a seeded random subset of this many files")
    p.add_argument("--out", default=None, help="JSON to write (default data/models/static/feature_calibration.json)")
    p.set_defaults(func=calibration_command)

    p = experiments.add_parser("feature-agreement",
                               help="fast DEAM columns against openSMILE on held-out music (per column, predictions)")
    p.add_argument("--dataset", nargs=2, action="append", metavar=("NAME", "FOLDER"), required=True,
                   help="held-out music (repeatable), e.g. --dataset emotify ../shared/data/emotify")
    p.add_argument("--limit", type=int, default=None, help="at most this many files per dataset (seeded random)")
    p.add_argument("--model", default=None, help="static model folder (default data/models/static)")
    p.add_argument("--update-doc", default=None, help="Markdown file whose agreement section is replaced")
    p.set_defaults(func=agreement_command)


def _command_line(argv_name: str, args, skip=("func", "command", "experiment")) -> str:
    parts = ["python -m emolab experiment", argv_name]
    for key, value in vars(args).items():
        if key in skip or value is None:
            continue
        flag = "--" + key.replace("_", "-")
        if key == "dataset":
            for name, folder in value:
                parts += [flag, name, shlex.quote(folder)]
        else:
            parts += [flag, shlex.quote(str(value))]
    return " ".join(parts)


def calibration_command(args) -> int:
    from emolab.experiments import feature_agreement as fa

    files = fa.audio_files(args.audio, limit=args.limit)
    command = _command_line("feature-calibration", args)
    calibration = fa.fit_calibration(files, seconds=args.seconds, command=command,
                                     progress=lambda s: print(s, file=sys.stderr))
    path = fa.write_calibration(calibration, args.out)
    worst = sorted(calibration["frame_r"].items(), key=lambda kv: kv[1])[:3]
    print(f"{len(calibration['columns'])} columns calibrated on {calibration['corpus']['frames']} frames of "
          f"{len(files)} files; lowest frame r: " + ", ".join(f"{c} {r:.4f}" for c, r in worst))
    print(f"written {path}")
    return 0


def agreement_command(args) -> int:
    import pandas as pd

    from emolab.experiments import feature_agreement as fa
    from emolab.models.static import StaticEmotionModel

    from emolab.features.deam_fast import PITCH_COLUMNS

    model = StaticEmotionModel.load(args.model)
    # the model's columns, and the pitch chain's whether or not the model uses them
    columns = list(model.feature_columns) + [c for c in PITCH_COLUMNS if c not in model.feature_columns]
    fast, smile, cpu, counts = [], [], {"fast": 0.0, "opensmile": 0.0, "audio_seconds": 0.0}, []
    for name, folder in args.dataset:
        files = fa.audio_files(folder, limit=args.limit)
        f, s, c = fa.song_vectors(files, columns, progress=lambda m: print(f"{name} {m}", file=sys.stderr))
        fast.append(f)
        smile.append(s)
        counts.append(f"{name} {len(files)}")
        for k in cpu:
            cpu[k] += c[k]
    table, predictions = fa.agreement(pd.concat(fast), pd.concat(smile), model=model)
    text = _markdown(table, predictions, cpu, counts, model.version, _command_line("feature-agreement", args))
    if args.update_doc:
        _replace_section(Path(args.update_doc), text)
        print(f"updated {args.update_doc}")
    print(text)
    return 0


def _markdown(table, predictions, cpu, counts, version, command) -> str:
    n = sum(int(c.split()[-1]) for c in counts)
    lines = [f"Songs: {', '.join(counts)} ({n}; none in the calibration corpus). Command:", "", "```",
             command, "```", "",
             f"Static model `{version}`: predictions from the fast features against those from openSMILE's "
             f"(Pearson r across songs; mean absolute difference on [-1, 1]; the predictions' own spread):", "",
             "| target | r | mean abs. difference | spread (std) of openSMILE predictions |", "|---|---|---|---|"]
    for target in ("valence", "arousal"):
        lines.append(f"| {target} | {predictions[f'r_{target}']:.4f} | {predictions[f'mae_{target}']:.4f} | "
                     f"{predictions[f'spread_{target}']:.3f} |")
    lines += ["", f"CPU time for these {cpu['audio_seconds'] / 60:.1f} min of audio (load ≈ other engineers' jobs, "
              f"so read the ratio): fast {cpu['fast']:.1f} s, openSMILE {cpu['opensmile']:.1f} s "
              f"({cpu['opensmile'] / max(cpu['fast'], 1e-9):.1f}× faster).", "",
              f"Per column (song-level values; {int((table.pearson_r >= 0.98).sum())} of {len(table)} at r ≥ 0.98; "
              "error = median |fast − openSMILE| over openSMILE's std across songs):", "",
              "| column | r | median abs. error / std |", "|---|---|---|"]
    for row in table.itertuples():
        lines.append(f"| `{row.column}` | {row.pearson_r:.4f} | {row.median_abs_error_over_std:.3f} |")
    return "\n".join(lines)


def _replace_section(path: Path, text: str) -> None:
    doc = path.read_text()
    if START in doc and END in doc:
        head, rest = doc.split(START, 1)
        doc = head + START + "\n" + text + "\n" + END + rest.split(END, 1)[1]
    else:
        doc = doc.rstrip() + "\n\n" + START + "\n" + text + "\n" + END + "\n"
    path.write_text(doc)
