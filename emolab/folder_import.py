"""Importing a folder of recordings while the app keeps running.

A :class:`FolderImport` runs :func:`emolab.ingest.ingest` in a background thread of the
process that holds the index (the app), so pages stay usable and can show its progress.
It can be cancelled between two files; importing the same folder again resumes, because
files already in the index (same content) are skipped.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path

from emolab.exceptions import EmolabError, ParameterError

RUNNING, FINISHED, CANCELLED, FAILED = "running", "finished", "cancelled", "failed"


class _Cancelled(Exception):
    """Raised from the progress callback to stop the ingest between two files."""


class FolderImport:
    """One folder being imported into an index, in a background thread.

    Parameters
    ----------
    folder : path
        A folder searched recursively for .wav, .mp3, .flac and .ogg files.
    index : emolab.index.Index
        The open, writable index (writes happen in this process).
    workers : int, optional
        Analysis processes (default: the number of cores).
    time_limit : float, optional
        Seconds one file may take before it is reported as failed.
    with_models : bool
        Predict emotion with the shipped models (else features only).

    Attributes
    ----------
    state : str
        ``"running"``, ``"finished"``, ``"cancelled"`` or ``"failed"``.
    found : int
        Audio files found in the folder.
    done, total : int
        Files analysed so far, and files that needed analysing (not yet indexed).
    added, skipped : int
        Files added; files already in the index (known when finished).
    failures : list of (str, str)
        ``(file, reason)`` of every file that could not be imported (when finished).
    error : str or None
        Why the import as a whole stopped (state ``"failed"``).
    """

    def __init__(self, folder, *, index, workers: int | None = None,
                 time_limit: float | None = None, with_models: bool = True, models_dir=None):
        from emolab.ingest import find_audio_files

        text = str(folder).strip()
        if not text:
            raise ParameterError("Enter the path of a folder on this computer.")
        path = Path(text).expanduser()
        if not path.is_dir():
            raise ParameterError(f"There is no folder '{text}' on this computer "
                                 "(give the full path, e.g. /home/me/Music/corpus).")
        self.folder = path.resolve()
        self.index = index
        self.workers = workers
        self.time_limit = time_limit
        self.with_models = with_models
        self.models_dir = models_dir
        self.found = len(find_audio_files([self.folder])[0])
        self.state = RUNNING
        self.done = self.total = self.added = self.skipped = 0
        self.current = ""
        self.failures: list[tuple[str, str]] = []
        self.error: str | None = None
        self.started = time.time()
        self.finished_at: float | None = None
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._run, name="emolab-folder-import", daemon=True)

    # ------------------------------------------------------------------ control

    def start(self) -> "FolderImport":
        """Start importing in the background; returns self."""
        self._thread.start()
        return self

    def cancel(self) -> None:
        """Stop after the files being analysed now; what was added stays."""
        self._cancel.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the import ends (or ``timeout`` s pass); True when it has ended."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def running(self) -> bool:
        return self.state == RUNNING

    @property
    def fraction(self) -> float:
        """Share of the files to analyse that are done, 0–1."""
        if self.state == FINISHED:
            return 1.0
        return self.done / self.total if self.total else 0.0

    def summary(self) -> str:
        """One sentence on where the import stands."""
        if self.state == RUNNING:
            if not self.total:
                return f"Looking at {self.found} audio files in {self.folder}…"
            return f"Analysed {self.done} of {self.total} new files" + (
                f" (last: {self.current})" if self.current else "")
        if self.state == CANCELLED:
            return (f"Cancelled after {self.done} of {self.total} new files; they stay in the "
                    "library. Import the folder again to resume where it stopped.")
        if self.state == FAILED:
            return f"The import stopped: {self.error}"
        return (f"{self.added} added, {self.skipped} already in the library, "
                f"{len(self.failures)} could not be imported.")

    # ------------------------------------------------------------------ work

    def _progress(self, done: int, total: int, name: str) -> None:
        self.done, self.total, self.current = done, total, name
        if self._cancel.is_set():
            raise _Cancelled

    def _run(self) -> None:
        from emolab import ingest

        try:
            report = ingest.ingest([self.folder], index=self.index, workers=self.workers,
                                     time_limit=self.time_limit, with_models=self.with_models,
                                     models_dir=self.models_dir, progress=self._progress)
        except _Cancelled:
            self.state = CANCELLED
        except EmolabError as exc:
            self.error, self.state = str(exc), FAILED
        except Exception as exc:  # the thread must report, not vanish, whatever went wrong
            self.error, self.state = f"{type(exc).__name__}: {exc}", FAILED
        else:
            self.added, self.skipped = len(report.added), len(report.skipped)
            self.failures = [(_relative(path, self.folder), reason)
                             for path, reason in report.failed]
            self.state = FINISHED
        self.finished_at = time.time()


def _relative(path, folder: Path) -> str:
    try:
        return str(Path(path).relative_to(folder))
    except ValueError:
        return str(path)
