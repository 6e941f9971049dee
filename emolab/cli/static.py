"""Static emotion commands: ``experiment table1``, ``experiment static-cv``, ``train-static``, ``predict-features``."""
from __future__ import annotations

import shlex
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from emolab.config import MODELS_DIR, rating_to_unit, unit_to_rating
from emolab.exceptions import DatasetError, ModelError

#: Table 1 of the paper (MediaEval 2013, 6,669 features; R² at 600 dims).
PAPER_TABLE1 = {"svr": (0.347, 0.614), "pca_svr": (0.087, 0.224), "tnn_svr": (0.378, 0.638)}
PIPELINE_NAMES = {"svr": "SVR on standardised features", "pca_svr": "PCA(k) → SVR", "tnn_svr": "TNN(k) → SVR"}


def register(commands, experiments) -> None:
    """Add this group's commands to the ``emolab`` parser."""
    p = experiments.add_parser("table1", help="10-fold CV of SVR, PCA-SVR and TNN-SVR (the paper's Table 1)")
    p.add_argument("--features", required=True, help="DEAM-layout feature table with labels (CSV)")
    p.add_argument("--folds", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--components", type=int, default=None, help="PCA/TNN dimension (default ~10%% of features)")
    p.add_argument("--all-columns", action="store_true",
                   help="use every feature column, not only those EmoLab can recompute from audio")
    p.add_argument("--pipelines", default="svr,pca_svr,tnn_svr", help="comma-separated subset to run")
    p.add_argument("--tnn-epochs", type=int, default=None, help="override the embedder's training epochs")
    p.add_argument("--out", default="docs/results/table1.md", help="Markdown report to write")
    p.set_defaults(func=run_table1_command)

    p = commands.add_parser("train-static", help="train the shipped static emotion model on a DEAM feature table")
    p.add_argument("--features", required=True, help="DEAM-layout feature table with labels (CSV)")
    p.add_argument("--out", default=str(MODELS_DIR / "static"), help="model folder to write")
    p.add_argument("--seed", type=int, default=0)
    _recipe_arguments(p)
    _artist_argument(p)
    p.set_defaults(func=train_static_command)

    p = experiments.add_parser("static-cv", help="nested CV of the shipped static recipe (the ensemble as shipped)")
    p.add_argument("--features", required=True, help="DEAM-layout feature table with labels (CSV)")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--seed", type=int, default=100, help="KFold seed of the first repeat (then +1, +2, …)")
    _recipe_arguments(p)
    p.add_argument("--drop", default=None,
                   help="comma-separated descriptors to leave out (e.g. F0final,logHNR; 'pitch' = the 12 "
                        "pitch-chain columns)")
    p.add_argument("--all-recomputable", action="store_true",
                   help="the same as --columns fast+pitch (the 67 columns openSMILE recomputes)")
    _artist_argument(p)
    p.set_defaults(func=static_cv_command)

    p = commands.add_parser("predict-features",
                            help="predict static valence/arousal (1–9) for a table of DEAM features")
    p.add_argument("features", help="CSV with track_id and DEAM feature columns (extra columns ignored)")
    p.add_argument("--out", required=True, help="CSV to write: track_id,valence,arousal,valence_std,arousal_std")
    p.add_argument("--model", default=None, help="model folder (default data/models/static)")
    p.set_defaults(func=predict_features_command)


def _recipe_arguments(p) -> None:
    p.add_argument("--members", type=int, default=None, help="fold models in the ensemble (default 5)")
    p.add_argument("--head-inputs", choices=("features", "embedding", "both"), default=None,
                   help="what the heads see (default: features)")
    p.add_argument("--heads", default=None,
                   help="comma-separated heads to combine, from svr, ridge, hgb (default: svr,ridge,hgb)")
    p.add_argument("--svr-scaling", choices=("relevance", "none"), default=None,
                   help="the SVR head's inputs: scaled by their relevance (|ridge coefficient|, the default) or "
                        "not (the recipe before December 2026)")
    p.add_argument("--svr-c", type=float, default=None, help="the SVR head's C (default 4)")
    p.add_argument("--combine", choices=("stack", "mean"), default=None,
                   help="how the heads are combined: their plain average (mean, the default) or weights "
                        "learnt on the fold models' out-of-fold predictions (stack)")
    p.add_argument("--cross-target", action="store_true",
                   help="with --combine stack: each target's stack also reads the other target's heads")
    p.add_argument("--columns", choices=("fast", "fast+pitch"), default="fast+pitch",
                   help="the DEAM columns to train on: all 67 the fast extractor computes (fast+pitch, the "
                        "default) or the 55 outside the pitch chain (fast)")


def _artist_argument(p) -> None:
    p.add_argument("--group-by-artist", action="store_true",
                   help="keep each artist's songs on one side of every split (artists from DEAM's metadata, "
                        "found next to the feature table: ../metadata/metadata_*.csv)")


def _artists(features, path):
    """Artist of each song of ``features`` (index: DEAM song id), from DEAM's metadata."""
    from emolab.datasets import read_deam

    root = Path(path).resolve().parent.parent
    songs = read_deam(root).songs
    if songs["artist"].isna().all():
        raise DatasetError(f"No DEAM metadata with artists under '{root / 'metadata'}'.")
    artist = dict(zip(songs["dataset_id"].astype(str), songs["artist"]))
    names = [artist.get(str(i)) for i in features.index]
    # Songs without a known artist each form their own group.
    return np.array([str(a).strip().lower() if isinstance(a, str) and a.strip() else f"song {i}"
                     for a, i in zip(names, features.index)])


def _recipe_config(args, random_state=0):
    from emolab.models.static import StaticConfig

    config = StaticConfig(random_state=random_state)
    config = replace(config, n_members=args.members or config.n_members,
                     head_inputs=args.head_inputs or config.head_inputs,
                     svr_C=args.svr_c or config.svr_C, svr_scaling=args.svr_scaling or config.svr_scaling,
                     combine=args.combine or config.combine,
                     cross_target=args.cross_target or config.cross_target)
    if args.heads:
        config = replace(config, heads=tuple(h.strip() for h in args.heads.split(",") if h.strip()))
    return config


def _labelled_table(path):
    from emolab.datasets import load_deam_feature_table

    features, labels = load_deam_feature_table(path)
    if labels.shape[1] == 0:
        raise DatasetError(f"'{path}' has no valence_mean/arousal_mean columns, so nothing can be trained on it.")
    keep = labels[["valence_mean", "arousal_mean"]].notna().all(axis=1) & features.notna().all(axis=1)
    Y = rating_to_unit(labels.loc[keep, ["valence_mean", "arousal_mean"]].to_numpy())
    return features.loc[keep], Y


def _recomputable(features, path, *, columns_set: str = "fast+pitch") -> list[str]:
    from emolab.models.static import model_columns

    columns = model_columns(features.columns, columns_set=columns_set)
    if not columns:
        raise DatasetError(f"'{path}' has none of the DEAM openSMILE columns EmoLab can recompute from audio.")
    return columns


def _dropped(columns, drop) -> list[str]:
    """``columns`` without those whose descriptor is named in ``drop`` (comma-separated)."""
    from emolab.features.deam_fast import PITCH_DESCRIPTORS

    names = [d.strip() for d in (drop or "").split(",") if d.strip()]
    if "pitch" in names:
        names = [n for n in names if n != "pitch"] + list(PITCH_DESCRIPTORS)
    return [c for c in columns if not any(c.startswith(n + "_sma") for n in names)]


def _table1_command(args) -> str:
    """The command line that reproduces this run."""
    parts = ["python -m emolab experiment table1", "--features", shlex.quote(str(args.features)),
             "--folds", str(args.folds), "--seed", str(args.seed)]
    if args.components:
        parts += ["--components", str(args.components)]
    if args.all_columns:
        parts.append("--all-columns")
    if args.pipelines != "svr,pca_svr,tnn_svr":
        parts += ["--pipelines", args.pipelines]
    if args.tnn_epochs:
        parts += ["--tnn-epochs", str(args.tnn_epochs)]
    return " ".join(parts + ["--out", shlex.quote(str(args.out))])


def run_table1_command(args) -> int:
    import torch

    from emolab.exceptions import ParameterError
    from emolab.experiments.table1 import PIPELINES, run_table1
    from emolab.models.static import TABLE1_TNN
    from emolab.models.tnn import default_n_components

    torch.set_num_threads(1)
    features, Y = _labelled_table(args.features)
    columns = list(features.columns) if args.all_columns else _recomputable(features, args.features)
    k = args.components or default_n_components(len(columns))
    pipelines = [p.strip() for p in args.pipelines.split(",") if p.strip()]
    unknown = sorted(set(pipelines) - set(PIPELINES))
    if unknown:
        raise ParameterError(f"Unknown pipeline(s) {', '.join(unknown)}; choose from {', '.join(PIPELINES)}.")
    tnn = replace(TABLE1_TNN, epochs=args.tnn_epochs) if args.tnn_epochs else TABLE1_TNN
    started = time.time()
    scores = run_table1(features[columns].to_numpy(), Y, folds=args.folds, seed=args.seed, n_components=k,
                        pipelines=pipelines, tnn=tnn, progress=print)
    runtime = time.time() - started
    command = _table1_command(args)
    report = table1_markdown(scores, n_songs=len(Y), n_features=len(columns), k=k, folds=args.folds,
                             command=command, runtime=runtime, tnn=tnn)
    print(report)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(report)
    print(f"written {out}")
    return 0


def table1_markdown(scores: pd.DataFrame, *, n_songs, n_features, k, folds, command, runtime, tnn=None) -> str:
    """Format Table 1 results as Markdown (mean ± std over folds, paper beside)."""
    summary = scores.groupby(["pipeline", "target"])["r2"].agg(["mean", "std"])
    lines = [
        "# Table 1 on DEAM: SVR vs PCA-SVR vs TNN-SVR",
        "",
        f"{folds}-fold cross-validation (same folds for every pipeline), {n_songs} DEAM songs, "
        f"{n_features} song-level openSMILE features, k = {k} dimensions for PCA and TNN. "
        "SVR hyper-parameters (C, gamma, epsilon) chosen by 3-fold inner CV on each training fold. "
        "R² mean ± std over folds.",
        "",
        "| pipeline | valence R² | arousal R² | paper valence | paper arousal |",
        "|---|---|---|---|---|",
    ]
    for kind in PAPER_TABLE1:
        if kind not in summary.index.get_level_values(0):
            continue
        cells = [f"{summary.loc[(kind, t), 'mean']:.3f} ± {summary.loc[(kind, t), 'std']:.3f}"
                 for t in ("valence", "arousal")]
        paper = PAPER_TABLE1[kind]
        lines.append(f"| {PIPELINE_NAMES[kind]} | {cells[0]} | {cells[1]} | {paper[0]:.3f} | {paper[1]:.3f} |")
    pivot = scores.pivot_table(index=["target", "fold"], columns="pipeline", values="r2")
    if {"svr", "tnn_svr"} <= set(pivot.columns):
        wins = [int((pivot.loc[t, "tnn_svr"] >= pivot.loc[t, "svr"]).sum()) for t in ("valence", "arousal")]
        lines += ["", f"TNN-SVR ≥ SVR in {wins[0]} of {folds} folds for valence, {wins[1]} for arousal."]
    if {"pca_svr", "tnn_svr"} <= set(pivot.columns):
        wins = [int((pivot.loc[t, "tnn_svr"] > pivot.loc[t, "pca_svr"]).sum()) for t in ("valence", "arousal")]
        lines += ["", f"TNN-SVR > PCA-SVR in {wins[0]} of {folds} folds for valence, {wins[1]} for arousal."]
    if tnn is not None and "tnn_svr" in set(scores["pipeline"]):
        lines += ["", f"Embedder: `{replace(tnn, n_components=k)}`, one per target (mined on that target), "
                      "random_state = seed + fold."]
    lines += [
        "",
        "Paper: MediaEval 2013 songs, 6,669 openSMILE features, k = 600. DEAM's labels are swapped for song ids "
        "2–1000 in the source table; they are corrected before training (`emolab.datasets.fix_deam_swap`).",
        "",
        f"Command: `{command}`",
        "",
        f"Runtime: {runtime / 60:.1f} min on this machine (torch with 1 thread).",
        "",
    ]
    return "\n".join(lines)


def train_static_command(args) -> int:
    import torch

    from emolab.models.static import StaticEmotionModel

    torch.set_num_threads(1)
    features, Y = _labelled_table(args.features)
    columns = _recomputable(features, args.features, columns_set=args.columns)
    groups = _artists(features, args.features) if args.group_by_artist else None
    model = StaticEmotionModel(_recipe_config(args, random_state=args.seed))
    model.fit(features[columns].to_numpy(), Y, columns, groups=groups, progress=print)
    path = model.save(args.out)
    scores = model.cv_scores
    print(f"trained on {len(Y)} songs, {len(columns)} features in {model.trained_on['seconds']:.0f} s; "
          f"held-out R² valence {scores['r2_valence']:.3f}, arousal {scores['r2_arousal']:.3f}")
    half = model.interval_halfwidths
    print("conformal half-widths (valence, arousal): " +
          ", ".join(f"{k}: {v[0]:.3f}, {v[1]:.3f}" for k, v in half.items()))
    print(f"written {path}")
    return 0


def static_cv_command(args) -> int:
    import torch

    from emolab.experiments.static_cv import nested_cv

    torch.set_num_threads(1)
    features, Y = _labelled_table(args.features)
    columns_set = "fast+pitch" if args.all_recomputable else args.columns
    columns = _dropped(_recomputable(features, args.features, columns_set=columns_set), args.drop)
    groups = _artists(features, args.features) if args.group_by_artist else None
    config = _recipe_config(args)
    print(f"{len(columns)} feature columns" + (f", {len(set(groups))} artists" if groups is not None else ""))
    scores = nested_cv(features[columns].to_numpy(), Y, columns, config, folds=args.folds, repeats=args.repeats,
                       seed=args.seed, groups=groups, progress=print)
    summary = scores.groupby("target")[["r2", "coverage_68", "coverage_90"]].agg(["mean", "std"])
    split = "GroupKFold by artist" if groups is not None else "KFold"
    combine = ("mean" if config.combine == "mean" else "stack" + (" with cross-target" if config.cross_target else "")) \
        + f", SVR scaling {config.svr_scaling}"
    print(f"heads {'+'.join(config.heads)} ({combine}), SVR C {config.svr_C:g}, {len(columns)} columns, {split}: "
          f"ensemble R² "
          f"over {args.folds}-fold × {args.repeats} outer folds (std over folds): " +
          ", ".join(f"{t} {summary.loc[t, ('r2', 'mean')]:.3f} ± {summary.loc[t, ('r2', 'std')]:.3f}"
                    for t in ("valence", "arousal")))
    from emolab.experiments.static_cv import CANDIDATES

    for name in CANDIDATES:
        r2 = scores.groupby("target")[f"r2_{name}"].agg(["mean", "std"])
        print(f"  same heads, combined by {name:12s}: R² " + ", ".join(
            f"{t} {r2.loc[t, 'mean']:.3f} ± {r2.loc[t, 'std']:.3f}" for t in ("valence", "arousal")))
    print("constant baseline (the outer training songs' mean): R² " +
          ", ".join(f"{t} {scores.loc[scores['target'] == t, 'r2_constant'].mean():.3f}" for t in ("valence", "arousal")))
    print("interval coverage on the outer test songs (68 % / 90 %): " +
          ", ".join(f"{t} {summary.loc[t, ('coverage_68', 'mean')]:.3f} / {summary.loc[t, ('coverage_90', 'mean')]:.3f}"
                    for t in ("valence", "arousal")))
    return 0


def predict_features_command(args) -> int:
    from emolab.datasets import read_csv_stripped
    from emolab.models.static import StaticEmotionModel

    model = StaticEmotionModel.load(args.model)
    table = read_csv_stripped(Path(args.features))
    id_col = "track_id" if "track_id" in table.columns else "song_id"
    if id_col not in table.columns:
        raise DatasetError(f"'{args.features}' has no track_id (or song_id) column.")
    missing = [c for c in model.feature_columns if c not in table.columns]
    if missing:
        raise DatasetError(f"'{args.features}' lacks {len(missing)} of the {len(model.feature_columns)} DEAM "
                           f"feature columns the model needs, e.g. {', '.join(missing[:3])}.")
    X = table[model.feature_columns].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.all(np.isfinite(X), axis=1)
    if bad.any():
        ids = ", ".join(map(str, table.loc[bad, id_col].head(5)))
        raise ModelError(f"{int(bad.sum())} row(s) have empty or non-numeric feature values (e.g. track {ids}).")
    mean, std = model.predict(X)
    out = pd.DataFrame({"track_id": table[id_col].to_numpy(),
                        "valence": unit_to_rating(mean[:, 0]), "arousal": unit_to_rating(mean[:, 1]),
                        "valence_std": 4.0 * std[:, 0], "arousal_std": 4.0 * std[:, 1]})
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(args.out, index=False, float_format="%.4f")
    print(f"{len(out)} songs predicted with {model.version}; written {args.out}")
    return 0
