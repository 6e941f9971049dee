"""Leave-one-song-out comparison of 2 Hz emotion models on songs with human curves.

``python -m emolab experiment dynamic``: the seed paper's VAE-LSTM, AE-LSTM, CNN-LSTM and
BLSTM-on-openSMILE heads (trained per fold), the windowed static model (what EmoLab ships,
:mod:`emolab.models.dynamic`), the VAE-LSTM teacher–student head and simple baselines.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from emolab.exceptions import ParameterError
from emolab.models.dynamic import windowed_static_curve
from emolab.models.dynamic_training import LabelledSong, _progress
from emolab.models.sequence import SequenceConfig, SequenceRegressor


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
    vae_lstm : VaeLstmModel or None
        With the static model: rows of its curve anchored on the song's static level, one
        per gain in ``anchor_gains`` (the gain-0.25 row is what EmoLab shipped until December 2026).
    dynamic : DynamicEmotionModel or None
        The shipped model: its row, the windowed-static rows of ``window_grid`` and the flat
        line at the song's static level, all on the frame features of its extractor; and
        the coverage of its uncertainty band (``coverage_`` after :meth:`run`).
    window_grid : list of (window_seconds, smoothing_seconds)
    cache_dir : path, optional
        Where frame features are cached.
    """

    encoders: dict = field(default_factory=dict)
    static_model: object | None = None
    teacher_head: SequenceRegressor | None = None
    config: SequenceConfig = field(default_factory=SequenceConfig)
    fine_tune_epochs: int = 30
    front_ends: tuple = ("vae", "ae", "cnn", "opensmile")
    vae_lstm: object | None = None
    anchor_gains: tuple = (0.0, 0.25, 1.0)
    dynamic: object | None = None
    window_grid: tuple = ((6.0, 2.0), (10.0, 5.0))
    cache_dir: object | None = None
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
        levels = None
        if self.dynamic is not None:
            static = self.dynamic._static()
            frames = [self._frames(s) for s in songs]
            levels = [static.predict(f.mean(axis=0)[None, :])[0][0, :2] for f in frames]
            fixed["flat line at the song's static level"] = [np.broadcast_to(lv, s.targets.shape)
                                                             for lv, s in zip(levels, songs)]
            for w, sm in self.window_grid:
                curves = [windowed_static_curve(f, static, window_seconds=w, smoothing_seconds=sm) for f in frames]
                fixed[f"windowed static {w:g} s, smoothed {sm:g} s"] = curves
                fixed[f"windowed static {w:g} s, smoothed {sm:g} s, anchored"] = [
                    np.clip(c + (lv - c.mean(axis=0)), -1, 1) for c, lv in zip(curves, levels)]
            bands = [self.dynamic.curve_from_frames(f, level=lv) for f, lv in zip(frames, levels)]
            fixed[f"shipped: {self.dynamic.version}"] = [b[0] for b in bands]
            self.coverage_ = band_coverage([b[0] for b in bands], [b[1] for b in bands],
                                           [s.targets for s in songs])
        if self.teacher_head is not None and "vae" in self.encoders:
            fixed["teacher-student VAE-LSTM, no labels (unanchored)"] = [
                self.teacher_head.predict(self.encoders["vae"].transform(s.inputs["patches"])) for s in songs]
        if self.vae_lstm is not None and levels is not None:
            from emolab.models.sequence import anchor_curve

            curves = [self.vae_lstm.head.predict(self.vae_lstm.encoder.transform(s.inputs["patches"]))
                      for s in songs]
            for g in self.anchor_gains:
                fixed[f"VAE-LSTM teacher–student anchored on the static level, gain {g:g}"
                      + (" (shipped until Dec 2026)" if g == 0.25 else "")] = [
                    anchor_curve(c, lv, gain=g) for c, lv in zip(curves, levels)]
        return fixed

    def _frames(self, song) -> np.ndarray:
        """The shipped model's frame features of a song (cached), on the song's frame grid."""
        import hashlib
        from pathlib import Path

        from emolab.config import OPENSMILE_SR
        from emolab.models.dynamic import model_columns
        from emolab.models.dynamic_training import _cached, _load, _same_length

        if "frames" in song.inputs:
            return song.inputs["frames"]
        columns = model_columns(self.dynamic._static())
        tag = hashlib.sha1(",".join(columns).encode()).hexdigest()[:8]
        frames = _cached(self.cache_dir, f"frames-{self.dynamic.config.extractor}-{tag}", Path(song.audio_path),
                         lambda p: self.dynamic.frames(*_load(p, OPENSMILE_SR)))
        return _same_length(np.asarray(frames, dtype=np.float64), len(song.targets))


def band_coverage(means, stds, targets, *, z=(1.0, 1.96)) -> dict:
    """Share of human curve points inside ``mean ± z * std``, per dimension and ``z``.

    Returns
    -------
    dict
        ``{"valence": {1.0: share, 1.96: share}, "arousal": {...}, "points": n}``.
    """
    m = np.concatenate(means)
    sd = np.concatenate(stds)
    t = np.concatenate(targets)
    out = {"points": int(np.isfinite(t).all(axis=1).sum())}
    for j, dim in enumerate(("valence", "arousal")):
        ok = np.isfinite(t[:, j])
        out[dim] = {float(k): float(np.mean(np.abs(t[ok, j] - m[ok, j]) <= k * sd[ok, j])) for k in z}
        out[dim]["median_std"] = float(np.median(sd[ok, j]))
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


def merge_scores(scores: pd.DataFrame, earlier, *, drop=("shipped", "windowed static (")) -> tuple[pd.DataFrame, list[str]]:
    """Add the methods of an earlier per-song scores CSV that ``scores`` lacks (same songs only).

    Earlier methods whose name starts with one of ``drop`` (rows of models that have since
    changed) are left out.
    """
    earlier = pd.read_csv(earlier)
    keep = ~earlier["method"].str.startswith(tuple(drop)) if drop else True
    extra = earlier[keep & ~earlier["method"].isin(scores["method"]) & earlier["song"].isin(scores["song"])]
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


