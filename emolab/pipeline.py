"""From audio bytes to a stored song: decode → features → predictions → index.

:func:`analyse` is pure computation (no index); :func:`add_to_index` writes one analysed
song in one transaction. Many files at once: :func:`emolab.ingest.ingest`, which runs
:func:`analyse` in time-limited worker processes (:mod:`emolab.worker`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from emolab import audio
from emolab.config import ANALYSIS_SR, AudioLimits


@dataclass
class Analysis:
    """What EmoLab computes for one recording (nothing stored yet).

    ``deam74`` has shape (74,) in ``DEAM74_COLUMNS`` order, ``librosa`` shape (d,);
    ``static`` holds valence, arousal, valence_std, arousal_std on [-1, 1];
    ``dynamic`` is ``(times, valence, arousal)``, each of shape (n,); ``dynamic_std``
    ``(valence_std, arousal_std)`` of the same shape, or None when the model gives none.
    """

    name: str
    content_hash: str
    duration: float
    sample_rate: int
    channels: int
    silent: bool
    deam74: np.ndarray | None = None
    librosa: np.ndarray | None = None
    static: dict | None = None
    dynamic: tuple | None = None
    dynamic_std: tuple | None = None
    notes: list[str] = field(default_factory=list)
    model_versions: dict = field(default_factory=dict)

    def summary(self) -> dict:
        """JSON-ready description (what ``emolab analyze --json`` prints)."""
        out = {
            "name": self.name,
            "duration": round(self.duration, 3),
            "sample_rate": self.sample_rate,
            "channels": self.channels,
            "silent": self.silent,
            "features": feature_summary(self),
            "notes": self.notes,
        }
        if self.static is not None:
            out["static"] = {k: round(float(v), 4) for k, v in self.static.items()}
        if self.dynamic is not None:
            times, valence, arousal = self.dynamic
            out["dynamic"] = {
                "times": [round(float(t), 3) for t in times],
                "valence": [round(float(v), 4) for v in valence],
                "arousal": [round(float(a), 4) for a in arousal],
            }
            if self.dynamic_std is not None:
                out["dynamic"]["valence_std"] = [round(float(s), 4) for s in self.dynamic_std[0]]
                out["dynamic"]["arousal_std"] = [round(float(s), 4) for s in self.dynamic_std[1]]
        return out


def feature_summary(analysis: Analysis) -> dict:
    from emolab.features import deam, spectral

    summary: dict = {}
    if analysis.deam74 is not None:
        named = dict(zip(deam.DEAM74_COLUMNS, analysis.deam74.tolist()))
        summary["deam74_dims"] = len(named)
        summary["deam74_computed"] = int(np.isfinite(analysis.deam74).sum())
        for key in ("pcm_RMSenergy_sma_amean", "pcm_fftMag_spectralCentroid_sma_amean",
                    "pcm_zcr_sma_amean"):
            if np.isfinite(named.get(key, np.nan)):
                summary[key] = round(named[key], 6)
    if analysis.librosa is not None:
        summary["librosa_dims"] = int(analysis.librosa.size)
        named = dict(zip(spectral.SONG_VECTOR_NAMES, analysis.librosa.tolist()))
        tempo = next((v for k, v in named.items() if k.startswith("tempo")), None)
        if tempo is not None:
            summary["tempo_bpm"] = round(tempo, 2)
    return summary


#: The DEAM feature extractor analyses use unless told otherwise: ``"fast"`` (numpy, no
#: openSMILE) or ``"opensmile"`` (the research-licence reference). The one place to change it.
DEFAULT_EXTRACTOR = "fast"


def deam_features(y: np.ndarray, sr: int, *, extractor: str = DEFAULT_EXTRACTOR, progress=None):
    """A song's DEAM frames and its DEAM vector, from one feature pass.

    Parameters
    ----------
    y : np.ndarray, shape (n_samples,)
        Mono audio.
    sr : int
    progress : callable(str), optional
        Told ``"pitch"`` when the fast extractor starts the pitch chain.
    extractor : {'fast', 'opensmile'}
        ``'fast'`` never imports openSMILE; it computes the columns of
        :data:`emolab.features.deam_fast.RUNTIME_COLUMNS` and leaves the others NaN
        (missing). ``'opensmile'`` computes all 74 with openSMILE.

    Returns
    -------
    columns : list of str
        The computed columns.
    frames : np.ndarray, shape (n_frames, len(columns)), float64
        Those columns every 0.5 s (1 s windows); the dynamic model reads them.
    vector : np.ndarray, shape (74,), float32
        The mean of the frames in :data:`~emolab.features.deam.DEAM74_COLUMNS` order.
    """
    from emolab.features import deam, deam_fast

    columns = list(deam_fast.RUNTIME_COLUMNS if extractor == "fast" else deam.DEAM74_COLUMNS)
    _, frames = deam_fast.deam_frames(y, sr, columns=columns, extractor=extractor, progress=progress)
    out = np.full(len(deam.DEAM74_COLUMNS), np.nan, dtype=np.float32)
    where = {c: i for i, c in enumerate(deam.DEAM74_COLUMNS)}
    out[[where[c] for c in columns]] = frames.mean(axis=0)
    return columns, np.asarray(frames, dtype=np.float64), out


def deam_vector(y: np.ndarray, sr: int, *, extractor: str = DEFAULT_EXTRACTOR) -> np.ndarray:
    """A song's DEAM vector in :data:`~emolab.features.deam.DEAM74_COLUMNS` order (see
    :func:`deam_features`).

    Returns
    -------
    np.ndarray, shape (74,), float32
    """
    return deam_features(y, sr, extractor=extractor)[2]


def analyse(
    data: bytes,
    *,
    models=None,
    name: str = "",
    limits: AudioLimits | None = None,
    with_librosa: bool = False,
    extractor: str = DEFAULT_EXTRACTOR,
    progress: Callable[[float, str], None] | None = None,
) -> Analysis:
    """Decode and analyse one recording.

    Parameters
    ----------
    data : bytes
        The whole audio file.
    models : emolab.predict.Models or callable, optional
        Loaded models, or a function returning them (called only once the features are
        ready, so that models still loading in a thread overlap decoding); predictions
        are skipped for those that are missing.
    name : str
        File name, for messages only (never used as a path).
    with_librosa : bool
        Also compute the broad librosa song vector (the Explore page's "broad librosa"
        raw space; it costs more than everything else together, so only when asked).
    extractor : {'fast', 'opensmile'}
        How the DEAM features are computed (see :func:`deam_vector`).
    progress : callable(fraction, stage), optional
        Called as each stage starts (decoding, features, librosa features, static
        prediction, curves), ``fraction`` in [0, 1].

    Returns
    -------
    Analysis
    """
    from emolab import predict

    def stage(fraction: float, text: str) -> None:
        if progress is not None:
            progress(fraction, text)

    stage(0.02, "Decoding the audio")
    clip = audio.decode(data, sr=None, limits=limits)
    result = Analysis(
        name=name, content_hash=audio.content_hash(data), duration=clip.duration,
        sample_rate=clip.original_sr, channels=clip.channels, silent=clip.silent,
    )
    if clip.silent:
        result.notes.append("The recording is silent: there is no music in it to read an emotion "
                            "from, so no emotion is predicted.")
    stage(0.08, "openSMILE-style features")
    # the 4Q valence stage's tonal pass runs beside the DEAM features (numpy releases the GIL)
    tonal = _tonal_in_thread(clip.y, clip.sr) \
        if models is not None and not clip.silent and clip.y.size >= clip.sr else None
    frame_columns, frames, result.deam74 = deam_features(
        clip.y, clip.sr, extractor=extractor, progress=lambda part: stage(0.3, "Pitch and voice quality"))
    if callable(models):
        stage(0.4, "Loading the models")
        models = models()
    if clip.silent:  # no music, no emotion: every caller (page, analyze, ingest) shows none
        models = None
    tonal_vector = tonal.result() if tonal is not None and _reads_tonal(models) else None
    wants_dynamic = models is not None and models.dynamic is not None
    if with_librosa:
        from emolab.features import spectral

        stage(0.5, "librosa features")
        y22 = audio.resample(clip.y, orig_sr=clip.sr, target_sr=ANALYSIS_SR)
        result.librosa = np.asarray(spectral.song_vector(y22, ANALYSIS_SR)[0], dtype=np.float32)
    if models is not None and models.static is not None:
        stage(0.8, "Whole-song prediction")
        static = predict.predict_static(clip.y, clip.sr, model=models.static, deam_vector=result.deam74,
                                        tonal_vector=tonal_vector)
        result.static = {k: v for k, v in static.items() if k != "valence_deam"}
        result.model_versions["static"] = _version(models, "static")
    if wants_dynamic:
        stage(0.85, "Emotion curves")
        level = None if result.static is None else (result.static["valence"], result.static["arousal"])
        band = predict.predict_dynamic_band(clip.y, clip.sr, model=models.dynamic, level=level,
                                            extractor=extractor, frames=(frame_columns, frames))
        # the curve's level follows the song's 4Q-corrected static valence (see shift_to_static)
        valence = band["valence"] if result.static is None else predict.shift_to_static(band["valence"], static)
        result.dynamic = (band["times"], valence, band["arousal"])
        if "valence_std" in band:
            result.dynamic_std = (band["valence_std"], band["arousal_std"])
        result.model_versions["dynamic"] = _version(models, "dynamic")
    stage(1.0, "Done")
    return result


def _tonal_in_thread(y: np.ndarray, sr: int):
    """The 4Q valence stage's tonal pass on the middle :data:`emolab.models.valence.EXCERPT_S`
    seconds (what the stage reads), started in a thread (a future): it runs beside the DEAM
    features (numpy releases the GIL), so a second core shortens an analysis."""
    from concurrent.futures import ThreadPoolExecutor

    from emolab.features import tonal
    from emolab.models.valence import EXCERPT_S

    pool = ThreadPoolExecutor(1, thread_name_prefix="emolab-tonal")
    future = pool.submit(tonal.tonal_vector, audio.middle_excerpt(y, sr, EXCERPT_S), sr)
    pool.shutdown(wait=False)  # its thread ends when the pass does
    return future


def _reads_tonal(models) -> bool:
    """Whether the loaded models' valence stage reads the tonal vector (``tonal-v1``) of the
    excerpt :func:`_tonal_in_thread` computes it on (else the stage computes its own)."""
    from emolab.models.valence import EXCERPT_S

    stage = getattr(getattr(models, "static", None), "valence_stage", None)
    return (stage is not None and "tonal-v1" in getattr(stage, "extra_kinds", ())
            and getattr(stage, "excerpt_s", None) == EXCERPT_S)


def add_to_index(
    index,
    analysis: Analysis,
    *,
    origin: str = "uploaded",
    title: str | None = None,
    artist: str | None = None,
    source_path: str | None = None,
) -> int:
    """Store an analysed song (features, predictions, curve) in one transaction.

    A song whose content is already indexed is not added twice: its id is returned and
    its predictions are refreshed.
    """
    with index.transaction() as con:
        return write_song(con, analysis, origin=origin, title=title, artist=artist,
                          source_path=source_path)


def write_song(con, analysis: Analysis, *, origin: str = "uploaded", title: str | None = None,
               artist: str | None = None, source_path: str | None = None) -> int:
    """:func:`add_to_index` inside the caller's open transaction ``con`` (for batched writes)."""
    from emolab.features import FAMILY_DEAM74, FAMILY_LIBROSA, deam, spectral
    from emolab.exceptions import SongIndexError
    from emolab.index import emotion, songs, vectors

    if analysis.silent:
        raise SongIndexError(f"“{analysis.name}” is silent: there is no music in it to read an "
                             "emotion from, so it was not added to the library.")
    song_id = songs.song_id_by_hash(con, analysis.content_hash)
    fresh = song_id is None  # nothing stored for it yet: plain inserts
    if fresh:
        song_id = songs.add_song(
            con, title=title or Path(analysis.name).stem or "Untitled", artist=artist,
            source_path=source_path, content_hash=analysis.content_hash,
            duration=analysis.duration, sample_rate=analysis.sample_rate, origin=origin,
            has_audio=source_path is not None,
        )
    if analysis.deam74 is not None:
        vectors.register_family(con, FAMILY_DEAM74, deam.DEAM74_COLUMNS)
        vectors.put_features(con, song_id, FAMILY_DEAM74, analysis.deam74, fresh=fresh)
    if analysis.librosa is not None:
        vectors.register_family(con, FAMILY_LIBROSA, spectral.SONG_VECTOR_NAMES)
        vectors.put_features(con, song_id, FAMILY_LIBROSA, analysis.librosa, fresh=fresh)
    if analysis.static is not None:
        emotion.put_static_prediction(con, song_id, _stored_version(analysis, "static"),
                                      **analysis.static, fresh=fresh)
    if analysis.dynamic is not None:
        times, valence, arousal = analysis.dynamic
        hop = float(times[1] - times[0]) if len(times) > 1 else 0.5
        emotion.put_curve(con, song_id, source="predicted", model_version=_stored_version(analysis, "dynamic"),
                          t0=float(times[0]) if len(times) else 0.5, hop=hop,
                          valence=valence, arousal=arousal,
                          std=analysis.dynamic_std, fresh=fresh)
    return song_id


def _version(models, kind: str) -> str:
    model = getattr(models, kind, None) if models is not None else None
    return str(getattr(model, "version", f"{kind}-unknown"))


def _stored_version(analysis: Analysis, kind: str) -> str:
    return analysis.model_versions.get(kind, f"{kind}-unknown")
