"""Many files into the index: resumable, fault-tolerant batch ingest.

:func:`ingest` analyses files in time-limited worker processes (:mod:`emolab.worker`,
which runs :func:`emolab.pipeline.analyse`) and writes each result in the calling process
(DuckDB's single writer) with :func:`emolab.pipeline.add_to_index`. Files whose content is
already indexed are skipped, so a killed ingest resumes where it stopped.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from emolab import audio
from emolab.config import ANALYSIS_SR, available_cpus
from emolab.exceptions import EmolabError, ParameterError
from emolab.pipeline import DEFAULT_EXTRACTOR, add_to_index
from emolab.worker import DEFAULT_TIME_LIMIT, NICENESS, WorkerPool

Progress = Callable[[int, int, str], None]



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
    """Compile librosa's, the pitch chain's and the boosted trees' numba kernels in this process.

    numba caches compiled kernels on disk; several processes compiling the same kernel at
    once can leave a corrupt cache that crashes every later run. After this call the
    workers only read the cache. (EmoLab's own kernels also compile under a file lock on first
    use, so an analysis is safe without this call; librosa's vector is computed only with
    ``--librosa``, and the 4Q valence stage's tonal pass needs no librosa.)
    """
    from emolab.features import deam_fast, spectral
    from emolab.models import tree_kernel

    tree_kernel.ready()

    t = np.arange(ANALYSIS_SR * 2) / ANALYSIS_SR
    tone = (0.1 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    spectral.song_vector(tone, ANALYSIS_SR)
    deam_fast.deam_song_vector(tone, ANALYSIS_SR, columns=deam_fast.PITCH_COLUMNS)


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
    extractor: str = DEFAULT_EXTRACTOR,
    with_librosa: bool = False,
    nice: int = NICENESS,
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
    extractor : {'fast', 'opensmile'}
        How the DEAM features are computed (:func:`emolab.pipeline.deam_vector`);
        ``'opensmile'`` is the research-licence reference.
    with_librosa : bool
        Also store the broad librosa song vector (the Explore page's "broad librosa" raw
        space); it costs more than the rest of the analysis, so only when asked.
    nice : int
        How much lower the workers' CPU priority is than this process's (the command line
        passes 0).

    Returns
    -------
    IngestReport
    """
    from emolab.index import songs

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
    workers = max(1, min(workers or available_cpus(), len(todo)))
    pool = WorkerPool(workers, models_dir=models_dir, with_models=with_models,
                      time_limit=time_limit or DEFAULT_TIME_LIMIT, extractor=extractor,
                      with_librosa=with_librosa, nice=nice)
    with ThreadPoolExecutor(1) as starter:
        # librosa's kernels are compiled here while the workers start (see warm_up)
        warming = starter.submit(warm_up if with_librosa else _nothing)
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


def _nothing() -> None:
    return None


def _store(index, analysis, path: str, origin: str, meta: dict) -> str | None:
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
