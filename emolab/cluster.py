"""Ingest beyond one machine: the Ray engine.

:func:`ingest` gives the same index and the same guarantees as :func:`emolab.ingest.ingest`,
with the analysis spread over a Ray cluster:

- the driver (the calling process) lists the inputs, hands each Ray actor the content
  hashes already indexed (once, as one shared object) and files one at a time, and is the
  index's only writer: finished songs are written in batches, one transaction each, so a
  killed driver leaves whole songs only and the next run finishes the job;
- each actor reads its file itself (a path on a filesystem the cluster shares, or a URL:
  :mod:`emolab.sources`),
  recognises a known file by its hash before anything is decoded, and analyses the others
  in its own time-limited child (:class:`emolab.worker.AnalysisWorker`, models loaded
  once): an overrun or a crashed decoder is that file's failure and a fresh child takes
  the next.

Ray is an optional dependency (``requirements-cluster.txt``), imported only by
:func:`connect`, so nothing else in EmoLab ever imports it.
"""
from __future__ import annotations

import os
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from emolab import audio
from emolab.exceptions import EmolabError, FeatureError, ParameterError
from emolab.ingest import IngestReport, Progress
from emolab.pipeline import DEFAULT_EXTRACTOR
from emolab.sources import collect, read_source, source_name

#: Files each actor holds (one analysing, one waiting), so no actor idles between files.
DEPTH = 2
#: Songs per write transaction, and the longest a finished song waits to be written (s).
BATCH_SIZE = 64
FLUSH_SECONDS = 5.0
#: Times a file is handed out again when the actor holding it is lost (node gone, killed).
RETRIES = 1


# ---------------------------------------------------------------- the actor

def _known_set(hashes) -> np.ndarray:
    """Content hashes as a sorted fixed-width array (compact, shared zero-copy by Ray)."""
    return np.array(sorted(hashes), dtype="S64")


def _is_known(known: np.ndarray, digest: str) -> bool:
    key = digest.encode("ascii")
    i = int(np.searchsorted(known, key))
    return i < known.size and known[i] == key


class Analyser:
    """What one Ray actor does (wrapped with ``ray.remote`` by :func:`ingest`).

    Parameters
    ----------
    known : numpy.ndarray
        Sorted content hashes already in the index (see ``_known_set``).
    **options
        For its :class:`emolab.worker.AnalysisWorker` (``models_dir``, ``with_models``,
        ``time_limit``).
    """

    def __init__(self, known: np.ndarray, **options):
        from emolab.worker import AnalysisWorker

        self.known = known
        self.worker = AnalysisWorker(**options).start()  # the models load once, here
        _warm_up(self.worker)

    def ready(self) -> int:
        return os.getpid()

    def analyse(self, source: str) -> tuple[str, object]:
        """``("ok", Analysis)``, ``("known", None)`` or ``("failed", reason)``."""
        try:
            data = read_source(source)
        except EmolabError as exc:
            return "failed", str(exc)
        if _is_known(self.known, audio.content_hash(data)):
            return "known", None
        try:
            return "ok", self.worker.analyse(data, name=source_name(source))
        except EmolabError as exc:
            return "failed", str(exc)

    def close(self) -> None:
        self.worker.close()


def _warm_up(worker) -> None:
    """Analyse a short tone in ``worker``'s child before any real file, one child per machine
    at a time (a file lock).

    librosa compiles its numba kernels on first use into an on-disk cache that several
    processes compiling at once can corrupt (see :func:`emolab.ingest.warm_up`); the
    children that come later only read it. The tone gets the startup time limit, not the
    per-file one.
    """
    import fcntl
    import tempfile

    from emolab.worker import STARTUP_LIMIT

    limit, worker.time_limit = worker.time_limit, max(worker.time_limit, STARTUP_LIMIT)
    try:
        with open(Path(tempfile.gettempdir()) / "emolab-warm-up.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            worker.analyse(_tone_wav(), name="warm-up tone")
    finally:
        worker.time_limit = limit


def _tone_wav(seconds: float = 2.0, sr: int = 22050) -> bytes:
    """A 440 Hz tone as the bytes of a 16-bit mono WAV file."""
    import io
    import wave

    t = np.arange(int(seconds * sr)) / sr
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sr)
        out.writeframes((3000 * np.sin(2 * np.pi * 440 * t)).astype("<i2").tobytes())
    return buffer.getvalue()


# ---------------------------------------------------------------- the driver

def connect(address: str | None = None):
    """Join the Ray cluster at ``address``, or start one on this machine; return ``ray``.

    Ray's usage statistics are switched off and no dashboard is started. An already
    connected process (a test's cluster) is reused.
    """
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"  # never phone home
    import logging

    import ray

    if not ray.is_initialized():
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False,
                     logging_level=logging.WARNING)
        except (ConnectionError, RuntimeError) as exc:  # unreachable, or the token refused
            where = address or os.environ.get("RAY_ADDRESS") or "this machine"
            raise ParameterError(
                f"Could not join the Ray cluster at {where} ({_first_line(exc)}). "
                "Is 'ray start --head' running there, and is RAY_AUTH_MODE=token set here with "
                "the cluster's token in ~/.ray/auth_token?") from None
    return ray


def ingest(
    paths=(),
    *,
    index,
    listing=None,
    address: str | None = None,
    workers: int | None = None,
    origin: str = "ingested",
    metadata: dict | None = None,
    models_dir=None,
    with_models: bool = True,
    time_limit: float | None = None,
    batch_size: int = BATCH_SIZE,
    progress: Progress | None = None,
    extractor: str = DEFAULT_EXTRACTOR,
    with_librosa: bool = False,
) -> IngestReport:
    """Analyse and index audio on a Ray cluster; resumable and fault-tolerant.

    Parameters
    ----------
    paths : iterable of paths
        Files and folders (searched recursively), as for :func:`emolab.ingest.ingest`.
    index : emolab.index.Index
        Open, writable index; all writes happen in this process.
    listing : path, optional
        A file of paths and URLs, one per line (:func:`emolab.sources.read_listing`),
        read by the workers.
    address : str, optional
        The cluster to join (``host:6379``); default: the process's Ray connection, else
        ``$RAY_ADDRESS``, else one started by ``ray start`` on this machine, else a new
        cluster on this machine.
    workers : int, optional
        Actors, one CPU each (default: every CPU of the cluster).
    batch_size : int
        Songs written per transaction (also written every :data:`FLUSH_SECONDS`).
    origin, metadata, models_dir, with_models, time_limit, progress, extractor, with_librosa
        As for :func:`emolab.ingest.ingest`.

    Returns
    -------
    emolab.ingest.IngestReport
        ``skipped`` holds the files whose content was already indexed.
    """
    from emolab.index import songs
    from emolab.worker import DEFAULT_TIME_LIMIT

    if batch_size < 1:
        raise ParameterError("The batch size must be at least 1.")
    sources, problems = collect(paths, listing)
    report = IngestReport(failed=list(problems))
    if not sources:
        return report
    known = _known_set(songs.content_hashes(index.con))
    ray = connect(address)
    count = workers or int(ray.cluster_resources().get("CPU", 1))
    pool = _ActorPool(ray, known, max(1, min(count, len(sources))),
                      time_limit=time_limit or DEFAULT_TIME_LIMIT,
                      options={"models_dir": models_dir, "with_models": with_models,
                               "extractor": extractor, "with_librosa": with_librosa})
    writer = _BatchWriter(index, report, origin=origin, size=batch_size,
                          metadata={str(Path(k).resolve()): v for k, v in (metadata or {}).items()})
    bar = None
    if progress is None:
        from tqdm import tqdm

        bar = tqdm(total=len(sources), unit="file", desc="ingest (ray)")
    done = 0
    try:
        for item in pool.run(sources):
            if item is not None:
                source, status, payload = item
                if status == "ok":
                    writer.add(source, payload)
                elif status == "known":
                    report.skipped.append(source)
                else:
                    report.failed.append((source, payload))
                done += 1
                if bar is not None:
                    bar.update(1)
                if progress is not None:
                    progress(done, len(sources), source_name(source))
            writer.flush_if_due()
    finally:
        writer.flush()  # finished songs are whole: keep them even when interrupted
        pool.close()
        if bar is not None:
            bar.close()
    return report


@dataclass
class _BatchWriter:
    """Collects analysed songs and writes them, ``size`` at a time, one transaction each."""

    index: object
    report: IngestReport
    origin: str
    size: int
    metadata: dict
    pending: list = field(default_factory=list)
    since: float = 0.0

    def add(self, source: str, analysis) -> None:
        if not self.pending:
            self.since = time.monotonic()
        self.pending.append((source, analysis))
        if len(self.pending) >= self.size:
            self.flush()

    def flush_if_due(self) -> None:
        if self.pending and time.monotonic() - self.since >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        from emolab.pipeline import add_to_index, write_song

        batch, self.pending = self.pending, []
        if not batch:
            return
        try:
            with self.index.transaction() as con:
                for source, analysis in batch:
                    write_song(con, analysis, source_path=source, **self._fields(source))
        except EmolabError:  # one song spoilt the batch: find it, one transaction per song
            for source, analysis in batch:
                try:
                    add_to_index(self.index, analysis, source_path=source, **self._fields(source))
                except EmolabError as exc:
                    self.report.failed.append((source, str(exc)))
                else:
                    self.report.added.append(source)
        else:
            self.report.added += [source for source, _ in batch]

    def _fields(self, source: str) -> dict:
        meta = self.metadata.get(source, {})
        return {"origin": self.origin, "title": meta.get("title"), "artist": meta.get("artist")}


@dataclass
class _Slot:
    """One actor and the files it holds, oldest (the one being analysed) first."""

    actor: object
    starting: object = None          # its ``ready()`` reference until it has started
    queue: deque = field(default_factory=deque)   # (reference, source)
    since: float = 0.0                # when its oldest file started
    overdue: bool = False             # stopped by the driver's watchdog


class _ActorPool:
    """Actors that analyse files, replaced when lost; the driver's side of the work."""

    def __init__(self, ray, known: np.ndarray, size: int, *, time_limit: float, options: dict):
        from emolab.worker import STARTUP_LIMIT

        self.ray = ray
        self.size = size
        self.time_limit = time_limit
        self.startup_limit = STARTUP_LIMIT
        # the actor's own child enforces the limit; this only catches an actor that hangs
        self.watchdog = time_limit + STARTUP_LIMIT + 60.0
        self.actor_class = ray.remote(num_cpus=1, max_restarts=0)(Analyser)
        self.known_ref = ray.put(known)
        self.options = {"threads": 1, **options, "time_limit": time_limit}  # one core per actor
        self.slots: list[_Slot] = []
        self.lost: dict[str, int] = {}
        self.replaced = 0
        self.start_errors: list[str] = []

    def _new_slot(self) -> _Slot:
        actor = self.actor_class.remote(self.known_ref, **self.options)
        return _Slot(actor=actor, starting=actor.ready.remote(), since=time.monotonic())

    def run(self, sources):
        """Yield ``(source, status, payload)`` as files finish, ``None`` about every second."""
        ray = self.ray
        todo = deque(sources)
        self.slots = [self._new_slot() for _ in range(self.size)]
        begun = time.monotonic()
        while todo or any(s.queue for s in self.slots):
            waiting = {}
            for slot in self.slots:
                if slot.starting is not None:
                    waiting[slot.starting] = slot
                else:
                    self._feed(slot, todo)
                    waiting.update((ref, slot) for ref, _ in slot.queue)
            if not waiting:
                raise FeatureError("No Ray worker is left to analyse the files"
                                   + (f": {self.start_errors[-1]}" if self.start_errors else "."))
            ready, _ = ray.wait(list(waiting), num_returns=1, timeout=1.0)
            if ready:
                ready, _ = ray.wait(list(waiting), num_returns=len(waiting), timeout=0)
            for ref in ready:
                slot = waiting[ref]
                if slot not in self.slots:
                    continue  # replaced while handling an earlier reference
                if ref == slot.starting:
                    self._started(slot, ref)
                elif any(r == ref for r, _ in slot.queue):
                    yield from self._finished(slot, ref, todo)
            now = time.monotonic()
            for slot in self.slots:
                if slot.queue and slot.starting is None and now - slot.since > self.watchdog:
                    slot.overdue = True
                    ray.kill(slot.actor, no_restart=True)
            if not any(s.starting is None for s in self.slots) and \
                    now - begun > self.startup_limit:
                raise FeatureError(f"No Ray worker started within {self.startup_limit:g} s: "
                                   "does the cluster have a free CPU?")
            yield None

    def _feed(self, slot: _Slot, todo: deque) -> None:
        while todo and len(slot.queue) < DEPTH:
            source = todo.popleft()
            if not slot.queue:
                slot.since = time.monotonic()
            slot.queue.append((slot.actor.analyse.remote(source), source))

    def _started(self, slot: _Slot, ref) -> None:
        try:
            self.ray.get(ref)
        except self.ray.exceptions.RayActorError as exc:
            self.start_errors.append(_first_line(exc))
            self.slots.remove(slot)  # an actor that cannot start is not replaced
            return
        slot.starting = None

    def _finished(self, slot: _Slot, ref, todo: deque):
        ray = self.ray
        try:
            status, payload = ray.get(ref)
        except ray.exceptions.RayActorError as exc:
            yield from self._lost(slot, exc, todo)
            return
        source = next(s for r, s in slot.queue if r == ref)
        slot.queue = deque((r, s) for r, s in slot.queue if r != ref)
        slot.since = time.monotonic()
        yield source, status, payload

    def _lost(self, slot: _Slot, exc, todo: deque):
        """The actor died (its node was lost, or the watchdog stopped it): a new one takes
        over; only the file it was analysing may be blamed, the others go back in line."""
        self.slots.remove(slot)
        (_, head), *rest = slot.queue
        todo.extendleft(reversed([source for _, source in rest]))
        name = source_name(head)
        if slot.overdue:
            yield head, "failed", (f"Analysing '{name}' took longer than {self.time_limit:g} s and "
                                   "was stopped (its Ray worker stopped answering).")
        elif self.lost.get(head, 0) >= RETRIES:
            yield head, "failed", (f"The Ray worker analysing '{name}' was lost "
                                   f"{RETRIES + 1} times ({_first_line(exc)}).")
        else:
            self.lost[head] = self.lost.get(head, 0) + 1
            todo.appendleft(head)
        self.replaced += 1
        if self.replaced > 2 * self.size + 2:
            raise FeatureError(f"Ray workers keep being lost ({self.replaced} so far; last: "
                               f"{_first_line(exc)}); is the cluster healthy?")
        self.slots.append(self._new_slot())

    def close(self) -> None:
        """Stop the actors (their analysis children first, when they answer in time)."""
        ray = self.ray
        closing = [slot.actor.close.remote() for slot in self.slots if slot.starting is None]
        try:
            ray.get(closing, timeout=10)
        except ray.exceptions.RayError:  # lost or busy past the timeout: killed below
            pass
        for slot in self.slots:
            ray.kill(slot.actor, no_restart=True)
        self.slots = []


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines() or [type(exc).__name__])[0][:300]
