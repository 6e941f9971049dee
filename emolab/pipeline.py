"""From audio bytes to a stored song: decode → features → predictions → index.

:func:`analyse` is pure computation (no index); :func:`add_to_index` writes one analysed
song in one transaction; :func:`ingest` runs both over many files, the analysis in
time-limited worker processes (:mod:`emolab.worker`) and the writes in the calling process
(DuckDB's single writer). Files whose
content is already indexed are skipped, so a killed ingest resumes where it stopped.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from emolab import audio
from emolab.config import ANALYSIS_SR, AudioLimits
from emolab.exceptions import EmolabError, ParameterError

Progress = Callable[[int, int, str], None]


@dataclass
class Analysis:
    """What EmoLab computes for one recording (nothing stored yet).

    ``deam74`` has shape (74,) in ``DEAM74_COLUMNS`` order, ``librosa`` shape (d,);
    ``static`` holds valence, arousal, valence_std, arousal_std on [-1, 1];
    ``dynamic`` is ``(times, valence, arousal)``, each of shape (n,).
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
        return out


def feature_summary(analysis: Analysis) -> dict:
    from emolab.features import deam, spectral

    summary: dict = {}
    if analysis.deam74 is not None:
        named = dict(zip(deam.DEAM74_COLUMNS, analysis.deam74.tolist()))
        summary["deam74_dims"] = len(named)
        for key in ("pcm_RMSenergy_sma_amean", "pcm_fftMag_spectralCentroid_sma_amean",
                    "pcm_zcr_sma_amean"):
            if key in named:
                summary[key] = round(named[key], 6)
    if analysis.librosa is not None:
        summary["librosa_dims"] = int(analysis.librosa.size)
        named = dict(zip(spectral.SONG_VECTOR_NAMES, analysis.librosa.tolist()))
        tempo = next((v for k, v in named.items() if k.startswith("tempo")), None)
        if tempo is not None:
            summary["tempo_bpm"] = round(tempo, 2)
    return summary


def analyse(
    data: bytes,
    *,
    models=None,
    name: str = "",
    limits: AudioLimits | None = None,
    with_librosa: bool = True,
    progress: Callable[[float, str], None] | None = None,
) -> Analysis:
    """Decode and analyse one recording.

    Parameters
    ----------
    data : bytes
        The whole audio file.
    models : emolab.predict.Models, optional
        Loaded models; predictions are skipped for those that are missing.
    name : str
        File name, for messages only (never used as a path).
    with_librosa : bool
        Also compute the broad librosa song vector.
    progress : callable(fraction, stage), optional
        Called as each stage starts (decoding, openSMILE features, librosa features,
        static prediction, curves), ``fraction`` in [0, 1].

    Returns
    -------
    Analysis
    """
    from emolab import predict
    from emolab.features import deam, spectral

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
        result.notes.append("The recording is silent: its emotion predictions mean little.")
    stage(0.08, "openSMILE features (the longest step)")
    result.deam74 = np.asarray(deam.deam_song_vector(clip.y, clip.sr), dtype=np.float32)
    y22 = audio.resample(clip.y, orig_sr=clip.sr, target_sr=ANALYSIS_SR)
    if with_librosa:
        stage(0.65, "librosa features")
        result.librosa = np.asarray(spectral.song_vector(y22, ANALYSIS_SR)[0], dtype=np.float32)
    if models is not None and models.static is not None:
        stage(0.8, "Whole-song prediction")
        result.static = predict.predict_static(clip.y, clip.sr, model=models.static,
                                               deam_vector=result.deam74)
        result.model_versions["static"] = _version(models, "static")
    if models is not None and models.dynamic is not None:
        stage(0.88, "Emotion curves")
        level = None if result.static is None else (result.static["valence"], result.static["arousal"])
        result.dynamic = predict.predict_dynamic(y22, ANALYSIS_SR, model=models.dynamic, level=level)
        result.model_versions["dynamic"] = _version(models, "dynamic")
    stage(1.0, "Done")
    return result


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
    from emolab.features import FAMILY_DEAM74, FAMILY_LIBROSA, deam, spectral
    from emolab.index import emotion, songs, vectors

    with index.transaction() as con:
        song_id = songs.song_id_by_hash(con, analysis.content_hash)
        if song_id is None:
            song_id = songs.add_song(
                con, title=title or Path(analysis.name).stem or "Untitled", artist=artist,
                source_path=source_path, content_hash=analysis.content_hash,
                duration=analysis.duration, sample_rate=analysis.sample_rate, origin=origin,
                has_audio=source_path is not None,
            )
        if analysis.deam74 is not None:
            vectors.register_family(con, FAMILY_DEAM74, deam.DEAM74_COLUMNS)
            vectors.put_features(con, song_id, FAMILY_DEAM74, analysis.deam74)
        if analysis.librosa is not None:
            vectors.register_family(con, FAMILY_LIBROSA, spectral.SONG_VECTOR_NAMES)
            vectors.put_features(con, song_id, FAMILY_LIBROSA, analysis.librosa)
        if analysis.static is not None:
            emotion.put_static_prediction(con, song_id, _stored_version(analysis, "static"),
                                          **analysis.static)
        if analysis.dynamic is not None:
            times, valence, arousal = analysis.dynamic
            hop = float(times[1] - times[0]) if len(times) > 1 else 0.5
            emotion.put_curve(con, song_id, source="predicted", model_version=_stored_version(analysis, "dynamic"),
                              t0=float(times[0]) if len(times) else 0.5, hop=hop,
                              valence=valence, arousal=arousal)
    return song_id


def _version(models, kind: str) -> str:
    model = getattr(models, kind, None) if models is not None else None
    return str(getattr(model, "version", f"{kind}-unknown"))


def _stored_version(analysis: Analysis, kind: str) -> str:
    return analysis.model_versions.get(kind, f"{kind}-unknown")


# ---------------------------------------------------------------- batch ingest

@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        lines = [f"{len(self.added)} added, {len(self.skipped)} already indexed, "
                 f"{len(self.failed)} failed"]
        lines += [f"  FAILED {path}: {reason}" for path, reason in self.failed]
        return "\n".join(lines)


def find_audio_files(paths: Iterable) -> tuple[list[Path], list[tuple[str, str]]]:
    """Expand files and folders (recursively) into audio files, sorted; report the rest."""
    found, problems = [], []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found += sorted(p for p in path.rglob("*")
                            if p.is_file() and p.suffix.lower() in audio.AUDIO_EXTENSIONS)
        elif path.is_file():
            if path.suffix.lower() in audio.AUDIO_EXTENSIONS:
                found.append(path)
            else:
                problems.append((str(path), "not an audio file (expected .wav, .mp3, .flac or .ogg)"))
        else:
            problems.append((str(path), "no such file or folder"))
    unique = list(dict.fromkeys(p.resolve() for p in found))
    return unique, problems


def warm_up() -> None:
    """Compile librosa's numba kernels in this process before workers start.

    librosa caches compiled kernels on disk; several processes compiling the same kernel at
    once can leave a corrupt cache that crashes every later run. After this call the
    workers only read the cache.
    """
    from emolab.features import spectral

    t = np.arange(ANALYSIS_SR * 2) / ANALYSIS_SR
    spectral.song_vector((0.1 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), ANALYSIS_SR)


def ingest(
    paths: Iterable,
    *,
    index,
    workers: int | None = None,
    origin: str = "ingested",
    metadata: dict | None = None,
    models_dir=None,
    with_models: bool = True,
    time_limit: float | None = None,
    progress: Progress | None = None,
) -> IngestReport:
    """Analyse and index audio files and folders; resumable and fault-tolerant.

    Parameters
    ----------
    paths : iterable of paths
        Files and folders (searched recursively for .wav/.mp3/.flac/.ogg).
    index : emolab.index.Index
        Open, writable index; all writes happen in this process.
    workers : int, optional
        Worker processes (default: the number of cores).
    origin : str
        Stored with each song (``ingested``, ``demo`` ...).
    metadata : dict, optional
        ``{path: {"title": ..., "artist": ...}}`` overriding the file-name title.
    with_models : bool
        Predict with the shipped models when they exist.
    time_limit : float, optional
        Seconds one file may take before its analysis is stopped and reported as failed
        (default :data:`emolab.worker.DEFAULT_TIME_LIMIT`).
    progress : callable(done, total, message), optional
        Called after each file; a tqdm bar is shown on stderr when omitted.

    Returns
    -------
    IngestReport
    """
    from emolab.index import songs
    from emolab.worker import DEFAULT_TIME_LIMIT, WorkerPool

    files, problems = find_audio_files(paths)
    report = IngestReport(failed=list(problems))
    metadata = {str(Path(k).resolve()): v for k, v in (metadata or {}).items()}
    todo = []
    for path in files:
        try:
            digest = audio.content_hash(audio.read_bytes(path))
        except EmolabError as exc:
            report.failed.append((str(path), str(exc)))
            continue
        if songs.song_id_by_hash(index.con, digest) is not None:
            report.skipped.append(str(path))
        else:
            todo.append(str(path))
    if not todo:
        return report
    bar = None
    if progress is None:
        from tqdm import tqdm

        bar = tqdm(total=len(todo), unit="file", desc="ingest")
    workers = max(1, min(workers or os.cpu_count() or 1, len(todo)))
    pool = WorkerPool(workers, models_dir=models_dir, with_models=with_models,
                      time_limit=time_limit or DEFAULT_TIME_LIMIT)
    with ThreadPoolExecutor(1) as starter:
        warming = starter.submit(warm_up)  # compiled while the workers start (see warm_up)
        with pool:
            warming.result()
            for done, (path, analysis, error) in enumerate(pool.analyse_all(todo), start=1):
                error = error or _store(index, analysis, path, origin, metadata.get(path, {}))
                if error is None:
                    report.added.append(path)
                else:
                    report.failed.append((path, error))
                if bar is not None:
                    bar.update(1)
                if progress is not None:
                    progress(done, len(todo), Path(path).name)
    if bar is not None:
        bar.close()
    return report


def _store(index, analysis: Analysis, path: str, origin: str, meta: dict) -> str | None:
    """Add one ingested file to the index; return why it failed, or None."""
    try:
        add_to_index(index, analysis, origin=origin, source_path=path,
                     title=meta.get("title"), artist=meta.get("artist"))
    except EmolabError as exc:
        return str(exc)
    return None


def check_workers(workers) -> int | None:
    if workers is not None and workers < 1:
        raise ParameterError("--workers must be at least 1.")
    return workers
