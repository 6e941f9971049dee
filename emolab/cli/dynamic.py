"""Dynamic emotion commands: get-pretraining-audio, pretrain-vae, train-dynamic, train-vae-lstm,
experiment dynamic, experiment medley."""
from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from emolab.config import MODELS_DIR, PROJECT_ROOT
from emolab.exceptions import ModelError

DEFAULT_PRETRAIN_AUDIO = Path.home() / ".cache" / "emolab" / "pretrain" / "audio"
DEFAULT_VAE_DIR = Path.home() / ".cache" / "emolab" / "vae"
DEFAULT_FEATURE_CACHE = Path.home() / ".cache" / "emolab" / "features"


def register(commands, experiments) -> None:
    """Add this group's commands to the ``emolab`` parser."""
    p = commands.add_parser("get-pretraining-audio",
                            help="fetch free soundtracks (Debian packages) for VAE pretraining")
    p.add_argument("--cache", default=str(DEFAULT_PRETRAIN_AUDIO.parent),
                   help="folder outside the repository (default ~/.cache/emolab/pretrain)")
    p.add_argument("packages", nargs="*", help="Debian package names (default: a few soundtracks)")
    p.set_defaults(func=get_pretraining_audio)

    p = commands.add_parser("pretrain-vae", help="pretrain the log-mel VAE (or AE) on unlabelled audio")
    p.add_argument("--audio", default=str(DEFAULT_PRETRAIN_AUDIO), help="folder of music (searched recursively)")
    p.add_argument("--out", default=None, help="checkpoint folder (default ~/.cache/emolab/vae or .../ae)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--beta", type=float, default=1.0, help="weight of the KL term (β-VAE)")
    p.add_argument("--ae", action="store_true", help="train a plain autoencoder (for AE-LSTM)")
    p.add_argument("--max-minutes", type=float, default=90.0, help="use at most this much audio")
    p.add_argument("--stride", type=int, default=2, help="use every n-th 0.5 s patch")
    p.add_argument("--restart", action="store_true", help="ignore an existing checkpoint")
    _cache_argument(p)
    p.set_defaults(func=pretrain_vae)

    p = commands.add_parser("train-dynamic", help="build the shipped dynamic (2 Hz) emotion model: "
                            "the static model over sliding windows of frame features")
    p.add_argument("--window", type=float, default=6.0, help="window length in seconds")
    p.add_argument("--smoothing", type=float, default=2.0, help="moving average of the curve, seconds")
    p.add_argument("--anchored", action="store_true",
                   help="shift each curve so that its mean is the song's static prediction")
    p.add_argument("--extractor", default="fast", choices=("fast", "opensmile"),
                   help="frame feature extractor (default fast)")
    p.add_argument("--out", default=str(MODELS_DIR / "dynamic"))
    p.set_defaults(func=train_dynamic)

    p = commands.add_parser("train-vae-lstm", help="train the seed's VAE-LSTM dynamic model (a baseline)")
    p.add_argument("--audio", default=str(DEFAULT_PRETRAIN_AUDIO),
                   help="unlabelled music for teacher–student training")
    p.add_argument("--vae", default=str(DEFAULT_VAE_DIR / "vae" / "last.pt"), help="pretrained VAE checkpoint")
    p.add_argument("--dataset", nargs=2, action="append", default=[], metavar=("NAME", "ROOT"),
                   help="labelled dataset (emomusic, deam, pmemo) to fine-tune on; repeatable")
    p.add_argument("--out", default=str(MODELS_DIR / "dynamic-vae-lstm"))
    p.add_argument("--max-minutes", type=float, default=60.0, help="unlabelled audio used for the teacher")
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--fine-tune-epochs", type=int, default=30)
    p.add_argument("--gain", type=float, default=0.25,
                   help="how much of the LSTM's movement is kept around the song's static level")
    p.add_argument("--no-anchor", action="store_true",
                   help="do not centre the curve on the static prediction")
    _cache_argument(p)
    p.set_defaults(func=train_vae_lstm)

    p = experiments.add_parser("dynamic", help="leave-one-song-out comparison of 2 Hz models")
    p.add_argument("--dataset", nargs=2, action="append", required=True, metavar=("NAME", "ROOT"),
                   help="dataset with audio and curves (emomusic, deam, pmemo); repeatable")
    p.add_argument("--vae", default=str(DEFAULT_VAE_DIR / "vae" / "last.pt"))
    p.add_argument("--ae", default=str(DEFAULT_VAE_DIR / "ae" / "last.pt"))
    p.add_argument("--audio", default=None,
                   help="unlabelled music: adds the teacher–student rows (needs the static model)")
    p.add_argument("--max-minutes", type=float, default=60.0)
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--front-ends", default="vae,ae,cnn,opensmile",
                   help="comma-separated front ends to train per fold (vae, ae, cnn, opensmile)")
    p.add_argument("--windows", default="6,10", help="window lengths (s) of the windowed-static rows")
    p.add_argument("--smoothings", default="2,5", help="smoothing widths (s) of the windowed-static rows")
    p.add_argument("--merge", default=None,
                   help="per-song scores CSV of an earlier run: its methods not run now are added")
    p.add_argument("--out", default=str(PROJECT_ROOT / "docs" / "results" / "dynamic.md"))
    _cache_argument(p)
    p.set_defaults(func=experiment_dynamic)

    p = experiments.add_parser("medley", help="segment consistency: do the curves follow the music "
                               "across joins of real clips? (no labels needed)")
    p.add_argument("folders", nargs="+", help="folders of music; their sub-folders are the groups "
                   "(genres, quadrants, soundtracks); consecutive parts come from different groups")
    p.add_argument("--medleys", type=int, default=40, help="how many medleys")
    p.add_argument("--parts", type=int, default=2, help="clips per medley")
    p.add_argument("--seconds", type=float, default=20.0, help="length of each part (middle of the clip)")
    p.add_argument("--crossfade", type=float, default=1.0, help="crossfade at each join, seconds")
    p.add_argument("--per-group", type=int, default=None, help="use at most this many clips per group")
    p.add_argument("--distinct-groups", action="store_true", help="no group twice in a medley")
    p.add_argument("--min-step", type=float, default=0.2,
                   help="score joins whose parts' static predictions differ by at least this")
    p.add_argument("--guard", type=float, default=5.0,
                   help="seconds next to a join left out of a part's curve level")
    p.add_argument("--windows", default="4,6,10", help="window lengths (s) of the windowed-static rows")
    p.add_argument("--smoothings", default="0,2,5", help="smoothing widths (s) of the windowed-static rows")
    p.add_argument("--extractor", default="fast", choices=("fast", "opensmile"))
    p.add_argument("--no-splice", action="store_true",
                   help="compute each medley's frames from all its audio (slower; the same frames)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(PROJECT_ROOT / "docs" / "results" / "dynamic.md"),
                   help="markdown file whose medley section is (re)written")
    _cache_argument(p)
    p.set_defaults(func=experiment_medley)


def _vae_lstm_model():
    """The VAE-LSTM baseline (shipped until December 2026), or ``None`` when there is none."""
    from emolab.models.sequence import VaeLstmModel

    try:
        return VaeLstmModel.load()
    except ModelError:
        return None


def _command() -> str:
    return "python -m emolab " + shlex.join(sys.argv[1:])


def _cache_argument(parser) -> None:
    parser.add_argument("--cache", default=str(DEFAULT_FEATURE_CACHE),
                        help="where computed log-mel and openSMILE frames are kept (default "
                             "~/.cache/emolab/features)")


def get_pretraining_audio(args) -> int:
    script = PROJECT_ROOT / "scripts" / "get_pretraining_audio.sh"
    return subprocess.call(["bash", str(script), args.cache, *args.packages])


def pretrain_vae(args) -> int:
    import torch

    from emolab.models.dynamic_training import audio_files, corpus_patches
    from emolab.models.vae import PatchVAE, VAEConfig

    torch.set_num_threads(1)
    out = Path(args.out or DEFAULT_VAE_DIR / ("ae" if args.ae else "vae"))
    if args.restart and (out / "last.pt").exists():
        (out / "last.pt").unlink()
    files = audio_files(args.audio)
    patches = corpus_patches(files, cache_dir=args.cache, max_minutes=args.max_minutes,
                             stride=args.stride, progress=True)
    config = VAEConfig(epochs=args.epochs, variational=not args.ae, beta=0.0 if args.ae else args.beta)
    model = PatchVAE(config, progress=True, checkpoint_dir=out).fit(patches)
    last = model.history_[-1]
    print(f"{len(patches)} tracks, {sum(map(len, patches))} patches; held-out tracks: "
          f"reconstruction {last['val_reconstruction']:.4f} (standardised MSE), KL {last['val_kl']:.2f}")
    print(f"checkpoint: {out / 'last.pt'}")
    return 0


def train_dynamic(args) -> int:
    from datetime import datetime, timezone

    from emolab.models.dynamic import DynamicEmotionModel, WindowConfig
    from emolab.models.static import StaticEmotionModel

    static = StaticEmotionModel.load(Path(args.out).parent / "static")
    config = WindowConfig(window_seconds=args.window, smoothing_seconds=args.smoothing,
                          anchored=args.anchored, extractor=args.extractor)
    version = (f"windowed-static-{args.window:g}s-{args.smoothing:g}s{'-anchored' if args.anchored else ''}"
               f"-{datetime.now(timezone.utc):%Y%m%d}")
    # No static version is recorded: the curve is whichever static model ships beside it.
    info = {"command": _command()}
    path = DynamicEmotionModel(config, static_model=static, version=version, info=info).save(args.out)
    print(f"dynamic model written to {path} (version {version}; checked with static model {static.version})")
    return 0


def train_vae_lstm(args) -> int:
    import torch

    from emolab.models import dynamic_training as dt
    from emolab.models.sequence import AnchorConfig, SequenceConfig, SequenceRegressor, VaeLstmModel
    from emolab.models.vae import PatchVAE

    torch.set_num_threads(1)
    anchor = AnchorConfig(anchored=not args.no_anchor, gain=args.gain)
    encoder = PatchVAE.load(args.vae)
    static, reason = dt.load_static_model()
    config = SequenceConfig(front_end="vae", epochs=args.epochs)
    head, info = None, {"command": "python -m emolab " + shlex.join(sys.argv[1:]),
                        "encoder": str(args.vae), "teacher": None, "labelled_songs": []}
    if static is not None:
        latents, targets = dt.teacher_corpus(dt.interleave_by_folder(dt.audio_files(args.audio), args.audio), encoder, static,
                                             cache_dir=args.cache,
                                             max_minutes=args.max_minutes, progress=True)
        head = SequenceRegressor(config).fit(latents, targets)
        info["teacher"] = {"tracks": len(latents), "minutes": round(sum(map(len, latents)) / 120, 1),
                           "static_model_version": str(getattr(static, "version", "?"))}
    else:
        print(f"No static model, so no teacher–student training ({reason}).", file=sys.stderr)
    if args.dataset:
        songs = dt.prepare_songs(dt.labelled_songs(args.dataset), cache_dir=args.cache,
                                 opensmile=False, progress=True)
        latents = [encoder.transform(s.inputs["patches"]) for s in songs]
        if head is None:
            head = SequenceRegressor(config)
        else:
            head = dt._clone_fitted(head, epochs=args.fine_tune_epochs)
        head.fit(latents, [s.targets for s in songs])
        info["labelled_songs"] = [s.key for s in songs]
    if head is None:
        raise ModelError("Nothing to train the dynamic model on: the static model (the teacher) is "
                         "missing and no labelled --dataset was given.")
    model = VaeLstmModel(encoder, head, version=_version(info, anchor), info=info, anchor=anchor)
    path = model.save(args.out)
    print(f"dynamic model written to {path} (version {model.version})")
    return 0


def _version(info: dict, anchor) -> str:
    from datetime import datetime, timezone

    kind = "ts" if info["teacher"] else "labelled"
    if anchor.anchored:
        kind += f"-anchored{anchor.gain:g}"
    return f"vae-lstm-{kind}-{datetime.now(timezone.utc):%Y%m%d}"


def experiment_dynamic(args) -> int:
    import torch

    from emolab.experiments import dynamic as ex
    from emolab.models import dynamic_training as dt
    from emolab.models.sequence import SequenceConfig, SequenceRegressor
    from emolab.models.vae import PatchVAE

    torch.set_num_threads(1)
    encoders, notes = {}, []
    for name, path in (("vae", args.vae), ("ae", args.ae)):
        if Path(path).is_file():
            encoders[name] = PatchVAE.load(path)
        else:
            notes.append(f"No {name.upper()} checkpoint at {path}: its row is missing "
                         f"(pretrain with `python -m emolab pretrain-vae{' --ae' if name == 'ae' else ''}`).")
    static, reason = dt.load_static_model()
    if static is None:
        notes.append(f"No static model ({reason}): windowed-static and teacher–student rows are missing.")
    elif any(name in ("emomusic", "deam") for name, _ in args.dataset):
        notes.append("The static model (windowed-static row and teacher) was trained on DEAM's static "
                     "labels, which include the emoMusic songs (DEAM ids 2–1000): on those songs it has "
                     "seen each song's overall level, which flatters the rows that use it.")
    config = SequenceConfig(epochs=args.epochs)
    teacher_head = None
    if static is not None and args.audio and "vae" in encoders:
        latents, targets = dt.teacher_corpus(dt.interleave_by_folder(dt.audio_files(args.audio), args.audio), encoders["vae"], static,
                                             cache_dir=args.cache,
                                             max_minutes=args.max_minutes, progress=True)
        teacher_head = SequenceRegressor(SequenceConfig(front_end="vae", epochs=args.epochs)).fit(latents, targets)
        notes.append(f"Teacher–student head trained on {sum(map(len, latents)) / 120:.0f} minutes of "
                     f"unlabelled audio from {args.audio} ({len(latents)} tracks).")
    front_ends = tuple(f.strip() for f in args.front_ends.split(",") if f.strip() and f.strip() != "none")
    songs = dt.prepare_songs(dt.labelled_songs(args.dataset), cache_dir=args.cache,
                             opensmile="opensmile" in front_ends, progress=True)
    from emolab.models.dynamic import DynamicEmotionModel

    dynamic = DynamicEmotionModel.load(static_model=static) if static is not None else None
    experiment = ex.DynamicExperiment(encoders=encoders, static_model=static, teacher_head=teacher_head,
                                      config=config, front_ends=front_ends, vae_lstm=_vae_lstm_model(),
                                      dynamic=dynamic, window_grid=_grid(args.windows, args.smoothings),
                                      cache_dir=args.cache, progress=True)
    scores = experiment.run(songs)
    if args.merge:
        scores, merged = ex.merge_scores(scores, args.merge)
        if merged:
            notes.append(f"Rows {', '.join(merged)} come from an earlier run with the same folds "
                         f"(per-song scores in {Path(args.merge).name}).")
    summary = ex.summarise(scores)
    coverage = getattr(experiment, "coverage_", None)
    if coverage:
        notes.append(f"Uncertainty band of `{dynamic.version}` on the {coverage['points']} labelled points: "
                     + "; ".join(f"{dim}: ±1 std holds {coverage[dim][1.0]:.0%}, ±1.96 std "
                                 f"{coverage[dim][1.96]:.0%} of the human curve (median std "
                                 f"{coverage[dim]['median_std']:.3f})" for dim in ("valence", "arousal")))
        print(notes[-1])
    command = "python -m emolab " + shlex.join(sys.argv[1:]) if sys.argv[1:] else "python -m emolab experiment dynamic"
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    from emolab.experiments.medley import write_section

    text = ex.report_markdown(summary, command=command, songs=[s.key for s in songs], notes=notes,
                              by_dataset=ex.per_dataset(scores))
    kept = write_section(out, None) if out.is_file() else ""  # the medley section stays
    out.write_text(text + ("\n" + kept if kept else ""))
    scores.to_csv(out.with_suffix(".csv"), index=False)
    print(summary[["rmse_valence_mean", "rmse_arousal_mean", "r_valence_mean", "r_arousal_mean"]]
          .round(3).to_string())
    print(f"written {out}")
    return 0


def _grid(windows: str, smoothings: str) -> list[tuple[float, float]]:
    return [(float(w), float(s)) for w in windows.split(",") if w.strip()
            for s in smoothings.split(",") if s.strip()]


def experiment_medley(args) -> int:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # many small static predictions (see emolab.models.dynamic)
        return _experiment_medley(args)


def _experiment_medley(args) -> int:
    from emolab.experiments import medley as md
    from emolab.models.dynamic import DynamicEmotionModel, WindowConfig
    from emolab.models.static import StaticEmotionModel

    static = StaticEmotionModel.load()
    framer = DynamicEmotionModel(WindowConfig(extractor=args.extractor), static_model=static)
    tag = f"{args.extractor}:{static.version}:{','.join(static.feature_columns)}"

    def frames_of(y, sr):
        return md.frames_cached(y, sr, framer.frames, cache_dir=args.cache, tag=tag)

    clips = md.find_clips(args.folders, per_group=args.per_group, seed=args.seed)
    plan = md.plan_medleys(clips, n=args.medleys, parts=args.parts, seed=args.seed,
                           distinct_groups=args.distinct_groups)
    medleys = md.make_medleys(clips, plan, static_model=static, frames_of=frames_of, seconds=args.seconds,
                              crossfade_seconds=args.crossfade, splice=not args.no_splice, progress=True)
    flat = {id(m): md.flat_curve(m, static) for m in medleys}
    methods = {"flat line at the song's static level (baseline)": lambda m: flat[id(m)]}
    vae_lstm = _vae_lstm_model()
    if vae_lstm is not None:
        vae_lstm.static_model = static

        def vae_curve(m):
            level = flat[id(m)][1][0]
            times, v, a = vae_lstm.predict_curve(m.y, m.sr, level=level)
            return times, np.stack([v, a], axis=1)

        methods[f"VAE-LSTM anchored, gain {vae_lstm.anchor_.gain:g} (shipped until Dec 2026)"] = vae_curve
    shipped = DynamicEmotionModel.load(static_model=static)
    variants = {f"windowed static {w:g} s, smoothed {s:g} s{', anchored' if a else ''}":
                WindowConfig(w, s, a, args.extractor)
                for w, s in _grid(args.windows, args.smoothings) for a in (False, True)}
    variants[f"shipped: {shipped.version}"] = shipped.config
    for name, config in variants.items():
        model = DynamicEmotionModel(config, static_model=static)
        methods[name] = (lambda mdl: lambda m: (md.frame_grid(len(m.frames)), mdl.curve_from_frames(
            m.frames, level=flat[id(m)][1][0])[0]))(model)
    results, tables = {}, []
    for name, curve_of in methods.items():
        joins, parts = md.score_method(medleys, curve_of, guard_seconds=args.guard)
        results[name] = md.summarise(joins, parts, min_step=args.min_step)
        tables.append(joins.assign(method=name))
        print(name)
        print(results[name].round(3).to_string())
    notes = [f"Static model `{static.version}`, frame features: extractor `{args.extractor}`.",
             "Flat line: the static prediction of the whole medley at every point (step ratio 0 by "
             "construction). Anchored rows are moved so that their mean is that same value."]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    section = md.report_markdown(results, command=_command(), medleys=medleys, notes=notes,
                                 min_step=args.min_step, guard_seconds=args.guard)
    md.write_section(out, section)
    pd.concat(tables).to_csv(out.with_name(out.stem + "_medley.csv"), index=False)
    print(f"written {out}")
    return 0
