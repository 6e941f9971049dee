"""Analysis in child processes, with a time limit.

A damaged or hostile file can make a C decoder loop forever or crash. Analysing each
recording in a child process lets EmoLab stop it after a time limit, survive a crash,
and report either as a sentence: the caller gets an :class:`AnalysisTimeoutError` or a
:class:`CorruptAudioError`, and a fresh child is started for the next file.

Children are spawned (never forked: the caller may hold DuckDB and torch threads) with an
empty ``__main__``, so that a Streamlit page that started them is not re-run inside them.

Why not ``pebble``'s ``ProcessPool`` (per-task timeouts, dead workers replaced)? It would
give the time limit and the replacement, but it starts replacement processes from its own
manager thread whenever one times out or dies, so the ``__main__`` swap above could not be
scoped to a start (a replacement would re-run the app's page), and it has no start-up
handshake (a child that cannot start is respawned in a loop instead of being reported
once as a sentence). Those are two of the guarantees ``tests/test_worker.py`` and
``tests/test_pipeline.py`` check; keeping ~150 lines is cheaper than losing them.
"""
from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import time
import types
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from pathlib import Path
from queue import Queue
from typing import Iterable, Iterator

from emolab.config import available_cpus
from emolab.exceptions import AnalysisTimeoutError, CorruptAudioError, EmolabError, FeatureError

#: Longest time one recording may take to decode and analyse (seconds). A 20-minute
#: recording takes about a minute and a half on one core.
DEFAULT_TIME_LIMIT = 600.0
#: Longest time a child may take to start and load the models (seconds).
STARTUP_LIMIT = 300.0
#: By default children run at a lower CPU priority than the process that started them (the
#: app's server and browser stay responsive); the command line passes 0 (the user's own
#: ``nice`` then applies to the whole command).
NICENESS = 5


_MAIN_LOCK = threading.Lock()


@contextmanager
def neutral_main():
    """Let spawned children start without re-running the caller's ``__main__``.

    spawn re-imports the parent's main script in every child. Inside Streamlit (or its
    AppTest) that script is a page, which would open the index and draw widgets in the
    child. Children need none of it, so for the moment they start we show them an empty
    ``__main__``. One thread at a time: two overlapping swaps would restore each other's
    placeholder.
    """
    with _MAIN_LOCK:
        real = sys.modules["__main__"]
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            yield
        finally:
            sys.modules["__main__"] = real


def _noop() -> None:
    return None


def process_pool(workers: int, *, initializer=None, initargs=()) -> ProcessPoolExecutor:
    """A pool of ``workers`` spawned processes, every one started before this returns.

    Use it as a context manager, like any ``ProcessPoolExecutor``; the pool never starts
    another process later. For jobs that need no time limit (rendering the demo scores).
    """
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=initializer, initargs=initargs)
    with neutral_main():
        for _ in range(workers):
            pool.submit(_noop)
    return pool


#: The module the forkserver imports before forking analysis children.
PRELOAD = "emolab.worker_preload"


def forkserver_context():
    """The ``forkserver`` start method with :data:`PRELOAD` (Linux), or None elsewhere.

    The server imports the analysis code, numba and the compiled pitch kernels once; every
    child forked from it starts with them loaded (each spawned child spent ≈ 1.2 CPU s on that).
    """
    if not sys.platform.startswith("linux"):
        return None
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([PRELOAD])
    return context


def start_forkserver() -> None:
    """Start the forkserver (and its imports) now, in the background: a command that will
    start a :class:`WorkerPool` calls this first, so that the imports overlap its own."""
    if forkserver_context() is not None:
        from multiprocessing import forkserver

        forkserver.ensure_running()


class AnalysisWorker:
    """One child process that analyses recordings, replaced when it overruns or dies.

    Parameters
    ----------
    models_dir : path, optional
        Where the shipped models live (default ``data/models``).
    with_models : bool
        Predict emotion (load the models in the child); features only when False.
    time_limit : float
        Seconds one recording may take, decoding included.
    extractor : {'fast', 'opensmile'}
        How the DEAM features are computed (:func:`emolab.pipeline.deam_vector`).
    with_librosa : bool
        Also compute the broad librosa song vector.
    nice : int
        How much lower than this process's the child's CPU priority is.
    threads : int, optional
        Threads the child's pitch chain may use (``EMOLAB_THREADS`` there; default: every CPU
        this process may run on, right for one child; a pool of children gives each its share).
    start_method : {'spawn', 'forkserver'}
        ``'spawn'``: a fresh interpreter per child (a single child starts soonest so: it says
        "ready" before its models and kernels load). ``'forkserver'`` (Linux; elsewhere spawn):
        children forked from one server process that imported and initialised the analysis
        code once (:mod:`emolab.worker_preload`), for pools: each further child costs no
        start-up. Either way the child runs with this process's environment at its start.

    Notes
    -----
    One recording at a time: concurrent callers wait their turn (their wait does not
    count against the limit). Use as a context manager or call :meth:`close`.
    """

    def __init__(self, *, models_dir=None, with_models: bool = True,
                 time_limit: float = DEFAULT_TIME_LIMIT, extractor: str = "fast",
                 with_librosa: bool = False, nice: int = NICENESS, threads: int | None = None,
                 start_method: str = "spawn"):
        if start_method not in ("spawn", "forkserver"):
            raise ValueError(f"start_method must be 'spawn' or 'forkserver', not {start_method!r}")
        self.models_dir = models_dir
        self.with_models = with_models
        self.time_limit = time_limit
        self.extractor = extractor
        self.with_librosa = with_librosa
        self.nice = nice
        self.threads = threads
        self.start_method = start_method
        self._process = None
        self._conn = None
        self._lock = threading.Lock()

    def start(self) -> "AnalysisWorker":
        """Start the child now (otherwise it starts with the first recording)."""
        with self._lock:
            self._ensure_started()
        return self

    def analyse(self, source, *, name: str = "", progress=None):
        """Analyse a recording in the child; see :func:`emolab.pipeline.analyse`.

        Parameters
        ----------
        source : bytes or path
            The whole file, or the path of a file the child reads itself.
        name : str
            File name for messages (never used as a path).
        progress : callable(fraction, stage), optional
            Called in this process as the child starts each stage of the analysis.

        Returns
        -------
        emolab.pipeline.Analysis

        Raises
        ------
        AnalysisTimeoutError
            The recording took longer than ``time_limit``; the child was stopped.
        CorruptAudioError
            The child died while analysing (a decoder crashed on the file).
        EmolabError
            Whatever the analysis itself refuses (empty, corrupt, too long ...).
        """
        if isinstance(source, os.PathLike):
            source = str(source)
        with self._lock:
            self._ensure_started()
            self._conn.send((source, name, progress is not None))
            deadline = time.monotonic() + self.time_limit
            while True:
                if not self._conn.poll(max(0.0, deadline - time.monotonic())):
                    self._stop()
                    raise AnalysisTimeoutError(
                        f"Analysing {_label(name)} took longer than {self.time_limit:g} s and "
                        "was stopped. The file may be damaged; try converting it to WAV or FLAC.")
                try:
                    status, payload = self._conn.recv()
                except (EOFError, OSError):
                    self._stop()
                    raise CorruptAudioError(
                        f"The analysis of {_label(name)} stopped unexpectedly: the file is "
                        "probably damaged. Try converting it to WAV or FLAC.") from None
                if status != "progress":
                    break
                if progress is not None:
                    progress(*payload)
        if status == "error":
            raise payload
        return payload

    def close(self, *, grace: float = 5.0) -> None:
        """Stop the child: it is asked to exit and killed after ``grace`` seconds."""
        with self._lock:
            self._ask_to_exit()
            self._stop(grace=grace)

    def _ask_to_exit(self) -> None:
        if self._conn is not None:
            try:
                self._conn.send(None)
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _ensure_started(self, *, attempts: int = 2) -> None:
        if self._process is not None and self._process.is_alive():
            return
        self._stop()
        for _ in range(attempts):
            process, parent = self._spawn()
            try:
                if parent.poll(STARTUP_LIMIT) and parent.recv() == "ready":
                    self._process, self._conn = process, parent
                    return
            except EOFError:  # the child died while starting; a second start may succeed
                pass
            process.kill()
            process.join()
            parent.close()
        raise FeatureError("The analysis process could not start (loading the models "
                           "failed); see the terminal for details.")

    def _spawn(self):
        forked = forkserver_context() if self.start_method == "forkserver" else None
        if forked is not None:
            try:
                return self._start_in(forked)
            except (OSError, EOFError):  # the forkserver could not start or died: spawn instead
                pass
        return self._start_in(multiprocessing.get_context("spawn"))

    def _start_in(self, context):
        parent, child = context.Pipe()
        process = context.Process(target=_serve, args=(child, self.models_dir, self.with_models,
                                                       self.extractor, self.with_librosa, self.nice,
                                                       self.threads, dict(os.environ)),
                                  name="emolab-analysis", daemon=True)
        try:
            with neutral_main():
                process.start()
        except BaseException:
            parent.close()
            raise
        finally:
            child.close()
        return process, parent

    def _stop(self, grace: float = 0.0) -> None:
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if process is not None:
            process.join(grace)
            if process.is_alive():
                process.kill()
                process.join()
        if conn is not None:
            conn.close()


def _label(name: str) -> str:
    return f"'{name}'" if name else "the recording"


def _load_models(models_dir):
    from emolab.predict import load_models

    models = load_models(models_dir)  # the static model's numpy form: no torch, no scikit-learn
    from emolab.models import tree_kernel

    tree_kernel.ready()  # the boosted heads' compiled walk (numba: loaded here anyway)
    if "torch" in sys.modules:  # an older model that still needs torch (a VAE-LSTM curve)
        sys.modules["torch"].set_num_threads(1)
    from emolab.models.static_fast import FastStaticModel

    if models.static is not None and not isinstance(models.static, FastStaticModel):
        from emolab.models.fast_heads import compile_member  # the full model: flatten its heads now

        for member in models.static.members:
            compile_member(member)
    return models


def tune_memory() -> bool:
    """Make this process reuse the memory it frees instead of asking the kernel again.

    An analysis allocates and frees arrays of hundreds of MB (frames, spectra). By default
    glibc hands every one of them back to the kernel (``munmap``) and the next one is
    page-faulted in afresh; with transparent huge pages on (``always``), each fault zeroes
    2 MB and may compact memory first. Measured on a 4-minute song under load: 6.7 s of
    kernel time for 3 s of computation, 0.6 s once freed memory stays in the process's heap
    (``mallopt``: no mmap for large blocks, no trimming) and huge pages are off for this
    process only (``prctl(PR_SET_THP_DISABLE)``). For the analysis children (their memory
    stays at their largest song's peak); glibc on Linux only, a no-op elsewhere.

    Returns
    -------
    bool
        Whether the settings were applied.
    """
    try:
        libc_name = os.confstr("CS_GNU_LIBC_VERSION") or ""
    except (ValueError, OSError):  # not a GNU system: nothing to tune
        return False
    if not sys.platform.startswith("linux") or not libc_name.startswith("glibc"):
        return False
    import ctypes

    libc = ctypes.CDLL(None)
    libc.prctl(41, 1, 0, 0, 0)            # PR_SET_THP_DISABLE (inherited by children)
    libc.mallopt(-1, 1 << 30)             # M_TRIM_THRESHOLD: keep up to 1 GB of freed heap
    libc.mallopt(-2, 256 << 20)           # M_TOP_PAD: grow the heap in 256 MB steps
    libc.mallopt(-3, 1 << 30)             # M_MMAP_THRESHOLD: large arrays from the heap too
    libc.mallopt(-8, 1)                   # M_ARENA_MAX: threads share that heap (a thread's
    #                                       own arena maps every large array afresh)
    return True


def adopt_environment(environ: dict | None) -> None:
    """Make this process's environment ``environ`` (None: keep it), as a spawned child's is."""
    if environ is not None and environ != os.environ:
        os.environ.clear()
        os.environ.update(environ)


def _serve(conn, models_dir, with_models: bool, extractor: str = "fast",
           with_librosa: bool = False, nice: int = NICENESS, threads: int | None = None,
           environ: dict | None = None) -> None:
    """The child's loop: receive (source, name), send ("ok", Analysis) or ("error", exc).

    The child says "ready" as soon as it can decode and compute features; the models (torch
    and scikit-learn: most of a start) load in a thread meanwhile, and the first recording
    waits for them only once its features are computed. ``environ``: the parent's environment
    when it started the child (a forked child would otherwise keep its server's).
    """
    adopt_environment(environ)
    tune_memory()
    # One BLAS/OpenMP thread per child (numpy is not imported yet here): the children are
    # the parallelism, and idle BLAS threads spin on a shared machine's cores.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, "1")
    if threads:  # the pitch chain's threads (emolab.features.pitch.default_threads)
        os.environ["EMOLAB_THREADS"] = str(int(threads))
    from emolab import audio, pipeline
    from emolab.features import deam_fast  # noqa: F401  (imported before the thread starts)

    if nice:
        os.nice(nice)  # the app's server and the browser stay responsive while it works

    models = None
    if with_models:  # the models load while the first recording decodes
        models = ThreadPoolExecutor(1, thread_name_prefix="emolab-models").submit(
            _load_models, models_dir).result
    conn.send("ready")
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if job is None:
            return
        source, name, report = job if len(job) == 3 else (*job, False)

        def progress(fraction: float, text: str) -> None:
            conn.send(("progress", (float(fraction), str(text))))

        try:
            data = source if isinstance(source, bytes) else audio.read_bytes(source)
            reply = ("ok", pipeline.analyse(data, models=models, name=name, extractor=extractor,
                                            with_librosa=with_librosa,
                                            progress=progress if report else None))
        except EmolabError as exc:
            reply = ("error", exc)
        except Exception as exc:  # one bad file never stops the batch, and says why
            reply = ("error", FeatureError(
                f"The analysis of {_label(name)} failed unexpectedly ({type(exc).__name__}: {exc})."))
        try:
            conn.send(reply)
        except Exception as exc:  # an exception that cannot be pickled
            conn.send(("error", FeatureError(f"The analysis of {_label(name)} failed: {exc}")))


class WorkerPool:
    """Several :class:`AnalysisWorker`\\ s, for analysing many files at once.

    Parameters
    ----------
    workers : int
        Child processes (each analyses one file at a time).
    **options
        Passed to every :class:`AnalysisWorker` (``models_dir``, ``with_models``,
        ``time_limit``, ``extractor``, ``with_librosa``, ``nice``, ``threads``,
        ``start_method``); ``threads`` defaults to each child's share of the CPUs this process
        may run on, ``start_method`` to ``'forkserver'``.
    """

    def __init__(self, workers: int, **options):
        self.workers = workers
        options.setdefault("threads", max(1, available_cpus() // max(1, workers)))
        options.setdefault("start_method", "forkserver")
        self.options = options
        self._idle: Queue | None = None
        self._all: list[AnalysisWorker] = []
        self._threads: ThreadPoolExecutor | None = None

    def __enter__(self):
        self._all = [AnalysisWorker(**self.options) for _ in range(self.workers)]
        with ThreadPoolExecutor(self.workers) as starter:  # children load models in parallel
            list(starter.map(AnalysisWorker.start, self._all))
        self._idle = Queue()
        for worker in self._all:
            self._idle.put(worker)
        return self

    def __exit__(self, *exc):
        if self._threads is not None:  # left early (a cancelled import): start no other file
            self._threads.shutdown(wait=False, cancel_futures=True)
        for worker in self._all:  # all children shut down at once, not one after the other
            with worker._lock:
                worker._ask_to_exit()
        for worker in self._all:
            worker.close()

    def analyse_all(self, paths: Iterable) -> Iterator[tuple[str, object, str | None]]:
        """Yield ``(path, analysis, None)`` or ``(path, None, reason)`` as files finish."""
        threads = self._threads = ThreadPoolExecutor(self.workers)
        try:
            futures = [threads.submit(self._one, str(p)) for p in paths]
            for future in as_completed(futures):
                yield future.result()
        finally:  # a caller that stops early (a cancelled import) does not wait for the rest
            threads.shutdown(wait=True, cancel_futures=True)

    def _one(self, path: str):
        worker = self._idle.get()
        try:
            return path, worker.analyse(path, name=Path(path).name), None
        except EmolabError as exc:
            return path, None, str(exc)
        finally:
            self._idle.put(worker)
