"""Training and evaluating the dynamic models: corpora, teacher targets, LOSO experiment.

The pieces the ``pretrain-vae``, ``train-dynamic`` and ``experiment dynamic`` commands
call. Unlabelled audio (any folder of music) is used for pretraining the autoencoders
and, through the static model (the *teacher*), for 2 Hz targets of the shipped head;
labelled audio comes from any dataset layout :mod:`emolab.datasets` reads.
"""
from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from emolab.audio import AUDIO_EXTENSIONS, load
from emolab.config import ANALYSIS_SR, HOP_SECONDS, OPENSMILE_SR
from emolab.exceptions import DatasetError, EmolabError, ModelError, ParameterError
from emolab.models.sequence import (
    SequenceConfig,
    SequenceRegressor,
    frame_times,
    logmel_sequence,
    opensmile_sequence,
    windowed_static_curve,
)
from emolab.models.vae import PatchVAE

DEFAULT_CACHE = Path.home() / ".cache" / "emolab"


# -- unlabelled corpus -----------------------------------------------------------------------
def audio_files(folder, *, max_files: int | None = None) -> list[Path]:
    """Audio files under ``folder`` (recursively), sorted, optionally the first ``max_files``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ParameterError(f"No folder at '{folder}'.")
    files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file())
    if not files:
        raise DatasetError(f"No wav, mp3, flac or ogg files under '{folder}'.")
    return files[:max_files] if max_files else files


def interleave_by_folder(files, root) -> list[Path]:
    """Files taken in turn from each top-level folder under ``root`` (one per soundtrack package),
    so that a minute limit samples every source rather than the first one alphabetically."""
    groups: dict[str, list[Path]] = {}
    for f in files:
        rel = Path(f).relative_to(root)
        groups.setdefault(rel.parts[0] if len(rel.parts) > 1 else "", []).append(Path(f))
    queues = list(groups.values())
    out = []
    for i in range(max(map(len, queues), default=0)):
        out += [q[i] for q in queues if i < len(q)]
    return out


def corpus_patches(files, *, cache_dir=None, max_minutes: float | None = None, stride: int = 1,
                   progress: bool = False) -> list[np.ndarray]:
    """Log-mel patches of each file (0.5 s grid, every ``stride``-th), cached as .npy.

    Returns
    -------
    list of np.ndarray, each shape (n_i, n_mels, n_bins)
    """
    out, minutes = [], 0.0
    for path in _progress(files, progress, "log-mel"):
        patches = _cached(cache_dir, "logmel", path, lambda p: logmel_sequence(*_load(p, ANALYSIS_SR)))
        if patches is None:
            continue
        out.append(patches[::stride])
        minutes += len(patches) * HOP_SECONDS / 60
        if max_minutes and minutes >= max_minutes:
            break
    return out


def teacher_corpus(files, encoder: PatchVAE, static_model, *, cache_dir=None,
                   max_minutes: float | None = None, window_seconds: float = 10.0,
                   progress: bool = False):
    """Latent sequences and teacher targets of unlabelled audio (teacher–student data).

    The teacher is the static model applied to sliding windows (``window_seconds``) of
    openSMILE frames, smoothed (:func:`windowed_static_curve`); only the openSMILE
    columns the static model reads are computed.

    Returns
    -------
    latents : list of np.ndarray, each shape (n_i, latent_dim)
    targets : list of np.ndarray, each shape (n_i, 2), on [-1, 1]
    """
    from emolab.models.sequence import model_columns

    columns = model_columns(static_model)
    kind = "opensmile-" + hashlib.sha1(",".join(columns).encode()).hexdigest()[:8]
    latents, targets, minutes = [], [], 0.0
    for path in _progress(files, progress, "teacher"):
        patches = _cached(cache_dir, "logmel", path, lambda p: logmel_sequence(*_load(p, ANALYSIS_SR)))
        frames = _cached(cache_dir, kind, path,
                         lambda p: _opensmile_columns(*_load(p, OPENSMILE_SR), columns))
        if patches is None or frames is None:
            continue
        frames = _same_length(frames, len(patches))
        targets.append(windowed_static_curve(frames, static_model, frame_columns=columns,
                                             window_seconds=window_seconds).astype(np.float32))
        latents.append(encoder.transform(patches))
        minutes += len(patches) * HOP_SECONDS / 60
        if max_minutes and minutes >= max_minutes:
            break
    return latents, targets


def _opensmile_columns(y, sr, columns):
    from emolab.features.deam import opensmile_frames
    from emolab.models.sequence import n_frames_for

    _, frames = opensmile_frames(y, sr, columns=columns)
    return _same_length(frames, n_frames_for(max(len(y) / sr, 1.0)))


def _load(path, sr):
    audio = load(path, sr=sr)
    return audio.y, audio.sr


def _cached(cache_dir, kind: str, path: Path, compute):
    """``compute(path)`` cached under ``cache_dir``; ``None`` for unreadable files."""
    file = None
    if cache_dir is not None:
        key = hashlib.sha1(f"{Path(path).resolve()}:{Path(path).stat().st_size}".encode()).hexdigest()[:16]
        file = Path(cache_dir) / kind / f"{key}.npy"
        if file.is_file():
            return np.load(file)
    try:
        value = np.asarray(compute(path), dtype=np.float32)
    except EmolabError:
        return None
    if file is not None:
        file.parent.mkdir(parents=True, exist_ok=True)
        np.save(file, value)
    return value


# -- labelled songs ------------------------------------------------------------------------------
@dataclass
class LabelledSong:
    """One song with audio and a human 2 Hz curve, resampled to the 0.5 s frame grid.

    Attributes
    ----------
    key : str
        ``dataset:id``.
    targets : np.ndarray, shape (n_frames, 2)
        (valence, arousal) on [-1, 1]; NaN on frames the annotators did not rate.
    inputs : dict
        Per front end the model inputs, computed on demand (``patches``, ``opensmile``).
    """

    key: str
    audio_path: str
    curve: tuple
    targets: np.ndarray | None = None
    inputs: dict = field(default_factory=dict)


def labelled_songs(datasets) -> list[LabelledSong]:
    """Songs having both audio and a curve, from ``[(name, root), ...]`` dataset layouts."""
    from emolab.datasets import read_dataset

    songs = []
    for name, root in datasets:
        tables = read_dataset(name, root)
        with_audio = tables.songs.dropna(subset=["audio_path"])
        for row in with_audio.itertuples():
            curve = tables.curves.get(str(row.dataset_id))
            if curve is not None:
                songs.append(LabelledSong(f"{name}:{row.dataset_id}", str(row.audio_path), curve))
    if not songs:
        raise DatasetError("None of the datasets given has songs with both audio and a 2 Hz curve.")
    return songs


def curve_on_grid(curve, n_frames: int) -> np.ndarray:
    """A human curve ``(t0, hop, valence, arousal)`` on the frame grid, NaN outside it.

    Returns
    -------
    np.ndarray, shape (n_frames, 2)
    """
    t0, hop, valence, arousal = curve
    t = t0 + hop * np.arange(len(valence))
    grid = frame_times(n_frames)
    inside = (grid >= t[0] - 1e-6) & (grid <= t[-1] + 1e-6)
    out = np.full((n_frames, 2), np.nan)
    out[inside, 0] = np.interp(grid[inside], t, valence)
    out[inside, 1] = np.interp(grid[inside], t, arousal)
    return out


def prepare_songs(songs: list[LabelledSong], *, cache_dir=None, opensmile: bool = True,
                  progress: bool = False) -> list[LabelledSong]:
    """Compute log-mel patches (and openSMILE frames) and grid targets of each song."""
    for song in _progress(songs, progress, "features"):
        patches = _cached(cache_dir, "logmel", Path(song.audio_path),
                          lambda p: logmel_sequence(*_load(p, ANALYSIS_SR)))
        if patches is None:
            raise DatasetError(f"Could not read the audio of {song.key} ('{song.audio_path}').")
        song.inputs["patches"] = patches
        if opensmile:
            frames = _cached(cache_dir, "opensmile", Path(song.audio_path),
                             lambda p: opensmile_sequence(*_load(p, OPENSMILE_SR)))
            song.inputs["opensmile"] = _same_length(frames, len(patches))
        song.targets = curve_on_grid(song.curve, len(patches))
    return songs


def _same_length(x: np.ndarray, n: int) -> np.ndarray:
    return x[:n] if len(x) >= n else np.concatenate([x, np.repeat(x[-1:], n - len(x), axis=0)])


# -- metrics -----------------------------------------------------------------------------------------
def curve_scores(pred: np.ndarray, true: np.ndarray) -> dict:
    """RMSE and Pearson r per dimension on the frames where ``true`` is defined.

    Returns
    -------
    dict
        ``rmse_valence, rmse_arousal, r_valence, r_arousal`` (r is NaN when either
        curve is constant).
    """
    out = {}
    for j, dim in enumerate(("valence", "arousal")):
        ok = ~np.isnan(true[:, j])
        p, t = pred[ok, j], true[ok, j]
        out[f"rmse_{dim}"] = float(np.sqrt(np.mean((p - t) ** 2)))
        out[f"r_{dim}"] = float(np.corrcoef(p, t)[0, 1]) if np.std(p) > 1e-9 and np.std(t) > 1e-9 else np.nan
    return out


# -- the experiment -------------------------------------------------------------------------------
@dataclass
class DynamicExperiment:
    """Leave-one-song-out comparison of front ends and baselines.

    Parameters
    ----------
    encoders : dict
        ``{"vae": PatchVAE, "ae": PatchVAE}`` (either may be missing: its row is skipped).
    static_model : StaticEmotionModel or None
        Enables the windowed-static baseline and the teacher–student row.
    teacher_head : SequenceRegressor or None
        A VAE-input head trained on teacher targets of unlabelled audio; fine-tuned on the
        training songs of each fold (the shipped recipe).
    config : SequenceConfig
        Head hyper-parameters (``front_end`` is set per row).
    shipped : DynamicEmotionModel or None
        With the static model: rows of its curve anchored on the song's static level, one
        per gain in ``anchor_gains`` and one at its own stored gain (``shipped (anchored)``).
    """

    encoders: dict = field(default_factory=dict)
    static_model: object | None = None
    teacher_head: SequenceRegressor | None = None
    config: SequenceConfig = field(default_factory=SequenceConfig)
    fine_tune_epochs: int = 30
    front_ends: tuple = ("vae", "ae", "cnn", "opensmile")
    shipped: object | None = None
    anchor_gains: tuple = (0.0, 0.25, 0.5, 1.0)
    progress: bool = False

    def run(self, songs: list[LabelledSong]) -> pd.DataFrame:
        """Scores per (method, song): ``method, song, rmse_*, r_*``."""
        if len(songs) < 2:
            raise ParameterError("Leave-one-song-out needs at least two labelled songs.")
        inputs = self._inputs(songs)
        fixed = self._fixed_predictions(songs)
        latents = ([self.encoders["vae"].transform(s.inputs["patches"]) for s in songs]
                   if "vae" in self.encoders else None)
        rows = []
        for k in _progress(range(len(songs)), self.progress, "folds"):
            train = [i for i in range(len(songs)) if i != k]
            preds = {name: p[k] for name, p in fixed.items()}
            preds["song mean (floor)"] = np.broadcast_to(np.nanmean(songs[k].targets, axis=0),
                                                         songs[k].targets.shape)
            preds["mean curve"] = _mean_curve([songs[i].targets for i in train], len(songs[k].targets))
            for name, (front, xs) in inputs.items():
                head = self._head(front).fit([xs[i] for i in train], [songs[i].targets for i in train])
                preds[name] = head.predict(xs[k])
            if self.teacher_head is not None and "vae" in self.encoders:
                head = _clone_fitted(self.teacher_head, epochs=self.fine_tune_epochs)
                head.fit([latents[i] for i in train], [songs[i].targets for i in train])
                preds["teacher-student VAE-LSTM + fine-tuning on the other songs"] = head.predict(latents[k])
            for name, pred in preds.items():
                rows.append({"method": name, "song": songs[k].key, **curve_scores(pred, songs[k].targets)})
        return pd.DataFrame(rows)

    def _inputs(self, songs) -> dict:
        """Per front end (trained per fold): its label, name and per-song inputs."""
        out = {}
        for name, label in (("vae", "VAE-LSTM"), ("ae", "AE-LSTM")):
            if name in self.encoders:
                out[label] = (name, [self.encoders[name].transform(s.inputs["patches"]) for s in songs])
        out["CNN-LSTM"] = ("cnn", [s.inputs["patches"] for s in songs])
        if all("opensmile" in s.inputs for s in songs):
            out["BLSTM openSMILE-260"] = ("opensmile", [s.inputs["opensmile"] for s in songs])
        return {label: v for label, v in out.items() if v[0] in self.front_ends}

    def _head(self, front: str) -> SequenceRegressor:
        params = {**self.config.__dict__, "front_end": front,
                  "bidirectional": front == "opensmile" or self.config.bidirectional}
        return SequenceRegressor(SequenceConfig(**params))

    def _fixed_predictions(self, songs) -> dict:
        """Methods not trained on the labelled songs (same prediction in every fold)."""
        fixed = {}
        if self.static_model is not None and all("opensmile" in s.inputs for s in songs):
            fixed["windowed static (10 s, smoothed)"] = [
                windowed_static_curve(s.inputs["opensmile"], self.static_model) for s in songs]
        if self.teacher_head is not None and "vae" in self.encoders:
            fixed["teacher-student VAE-LSTM, no labels (unanchored; the shipped model before 24 Nov)"] = [
                self.teacher_head.predict(self.encoders["vae"].transform(s.inputs["patches"])) for s in songs]
        if self.shipped is not None and "windowed static (10 s, smoothed)" in fixed:
            fixed.update(self._anchored_predictions(songs))
        return fixed

    def _anchored_predictions(self, songs) -> dict:
        """The shipped model's curve centred on each song's static prediction."""
        from emolab.features.deam import DEAM_FRAME_COLUMNS, song_level
        from emolab.models.sequence import anchor_curve, model_columns

        columns = model_columns(self.static_model)
        levels = [self.static_model.predict(song_level(s.inputs["opensmile"], DEAM_FRAME_COLUMNS,
                                                       columns=columns)[None, :])[0][0, :2] for s in songs]
        curves = [self.shipped.head.predict(self.shipped.encoder.transform(s.inputs["patches"])) for s in songs]
        out = {f"shipped head anchored on the static level, gain {g:g}":
               [anchor_curve(c, lv, gain=g) for c, lv in zip(curves, levels)] for g in self.anchor_gains}
        if self.shipped.anchor_.anchored:
            out["shipped (anchored)"] = [anchor_curve(c, lv, gain=self.shipped.anchor_.gain)
                                         for c, lv in zip(curves, levels)]
        return out


def _mean_curve(curves: list[np.ndarray], n: int) -> np.ndarray:
    """Frame-wise mean of the training curves (their overall mean where none has a value)."""
    stacked = np.full((len(curves), n, 2), np.nan)
    for i, c in enumerate(curves):
        m = min(n, len(c))
        stacked[i, :m] = c[:m]
    overall = np.nanmean(np.concatenate(curves), axis=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # frames no training song has
        mean = np.nanmean(stacked, axis=0)
    return np.where(np.isnan(mean), overall, mean)


def _clone_fitted(head: SequenceRegressor, *, epochs: int) -> SequenceRegressor:
    """A copy of a fitted head that continues training (fine-tuning) for ``epochs``."""
    state = head.state()
    state["config"] = {**state["config"], "epochs": epochs}
    clone = SequenceRegressor.from_state(state)
    clone.warm_start = True
    return clone


def merge_scores(scores: pd.DataFrame, earlier) -> tuple[pd.DataFrame, list[str]]:
    """Add the methods of an earlier per-song scores CSV that ``scores`` lacks (same songs only)."""
    earlier = pd.read_csv(earlier)
    extra = earlier[~earlier["method"].isin(scores["method"]) & earlier["song"].isin(scores["song"])]
    return pd.concat([scores, extra], ignore_index=True), list(dict.fromkeys(extra["method"]))


def summarise(scores: pd.DataFrame) -> pd.DataFrame:
    """Mean (and std) over songs of each metric, one row per method, best RMSE first."""
    metrics = ["rmse_valence", "rmse_arousal", "r_valence", "r_arousal"]
    table = scores.groupby("method", sort=False)[metrics].agg(["mean", "std"])
    table.columns = [f"{m}_{s}" for m, s in table.columns]
    table["rmse_mean"] = (table["rmse_valence_mean"] + table["rmse_arousal_mean"]) / 2
    return table.sort_values("rmse_mean")


def per_dataset(scores: pd.DataFrame) -> pd.DataFrame:
    """Mean RMSE per (method, dataset), the dataset being the part of ``song`` before ':'."""
    dataset = scores["song"].str.split(":").str[0].rename("dataset")
    return scores.groupby([scores["method"], dataset])[["rmse_valence", "rmse_arousal"]].mean()


def report_markdown(summary: pd.DataFrame, *, command: str, songs: list[str], notes: list[str],
                    by_dataset: pd.DataFrame | None = None) -> str:
    """docs/results/dynamic.md: the command, the songs, the caveat, the tables."""
    lines = ["# Dynamic emotion (2 Hz curves): leave-one-song-out", "",
             f"Command: `{command}`", "",
             f"Songs with audio and a human curve: **{len(songs)}** ({', '.join(songs)}).", ""]
    if len(songs) < 30:
        lines += [f"**Caveat: {len(songs)} songs is tiny.** Differences of a few hundredths are noise; "
                  "with one song per fold the std over songs is the honest error bar. The curves are "
                  "nearly flat, so getting each song's level right dominates RMSE.", ""]
    lines += [f"- {n}" for n in notes] + ([""] if notes else [])
    lines += ["RMSE and Pearson r per song on [-1, 1], mean ± std over songs "
              "(r is undefined for a constant prediction).", "",
              "| method | RMSE valence | RMSE arousal | r valence | r arousal |",
              "|---|---|---|---|---|"]
    for name, row in summary.iterrows():
        cells = [f"{row[f'{m}_mean']:.3f} ± {row[f'{m}_std']:.3f}" if not np.isnan(row[f"{m}_mean"]) else "—"
                 for m in ("rmse_valence", "rmse_arousal", "r_valence", "r_arousal")]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    datasets = sorted({key.split(":")[0] for key in songs})
    if by_dataset is not None and len(datasets) > 1:
        lines += ["", "Mean RMSE (valence / arousal) per dataset:", "",
                  "| method | " + " | ".join(f"{d} ({sum(k.startswith(d + ':') for k in songs)})"
                                           for d in datasets) + " |",
                  "|---|" + "---|" * len(datasets)]
        for name in summary.index:
            cells = [f"{by_dataset.loc[(name, d), 'rmse_valence']:.3f} / "
                     f"{by_dataset.loc[(name, d), 'rmse_arousal']:.3f}"
                     if (name, d) in by_dataset.index else "—" for d in datasets]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "Reference: MediaEval 2015's best published dynamic RMSE was 0.268 (valence) and "
              "0.202 (arousal), on 58 full songs."]
    return "\n".join(lines) + "\n"


def load_static_model():
    """The shipped static model, or ``None`` (with the reason) when it is not available."""
    from emolab.models.static import StaticEmotionModel

    try:
        return StaticEmotionModel.load(), None
    except (ModelError, FileNotFoundError) as exc:  # no model file; a broken import fails loudly
        return None, str(exc) or "the static model is not trained yet"


def _progress(iterable, enabled: bool, desc: str):
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc)
