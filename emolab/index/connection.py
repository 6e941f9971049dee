"""Opening the index: one DuckDB file, one writing process, one cursor per thread.

DuckDB lets one process hold a file for writing, and while it does no other process may
open it, not even read-only. The app holds the index for as long as it runs, so other
programs read it through :func:`open_for_reading`: the file itself when it is free,
otherwise a *snapshot*, a byte copy of the index file and its write-ahead log taken
while neither changes (checked by size and modification time before and after the copy).
A committed transaction is in the log as soon as it commits, so the snapshot holds every
save made before it was taken and nothing half-written.
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import duckdb

from emolab.config import default_db_path
from emolab.exceptions import ConflictError, IndexInUseError, SongIndexError
from emolab.index.schema import migrate


_CONFLICT = ("Someone else changed the same data at the same moment; nothing of this change "
             "was saved. Reload and try again.")


class Index:
    """A handle on the song index.

    DuckDB lets one process write a file at a time; inside that process any number of
    threads may work through their own cursors. EmoLab therefore keeps a single writer
    (the app or the CLI process) and gives each thread its own cursor via :meth:`cursor`.

    Parameters
    ----------
    path : str or Path, optional
        The DuckDB file; default ``$EMOLAB_DB`` or ``data/emolab.duckdb``.
    read_only : bool
        Open without write access (several read-only processes may share a file).
    """

    def __init__(self, path=None, *, read_only: bool = False):
        self.path = Path(path) if path is not None else default_db_path()
        self.read_only = read_only
        #: The index this one is a snapshot of (see :func:`open_for_reading`), else None.
        self.snapshot_of: Path | None = None
        self.snapshot_time: float | None = None
        self._local = threading.local()
        self._lock = threading.Lock()
        self._con = self._open()

    def _open(self):
        if self.read_only and not self.path.exists():
            raise SongIndexError(f"There is no song index at '{self.path}' yet.")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            con = duckdb.connect(str(self.path), read_only=self.read_only)
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():  # "Could not set lock on file ...": another process has it
                holder = re.search(r"PID (\d+)", str(exc))
                who = f" (process {holder.group(1)})" if holder else ""
                raise IndexInUseError(
                    f"The song index '{self.path}' is in use by another program{who}, the EmoLab "
                    "app or another emolab command: DuckDB allows one writer at a time. Nothing "
                    "was changed; close that program or wait until it has finished, then try again."
                ) from exc
            raise SongIndexError(
                f"The song index '{self.path}' could not be opened: it is not a DuckDB file "
                f"or it cannot be read ({exc})."
            ) from exc
        except duckdb.Error as exc:
            if "corrupt" not in str(exc).lower():
                raise
            raise SongIndexError(
                f"The song index '{self.path}' is damaged and cannot be opened (DuckDB found a "
                f"block whose checksum does not match: {exc}). Nothing was changed. Put your latest "
                f"backup in its place with: python -m emolab restore BACKUP --db '{self.path}' (the "
                "damaged file is kept beside it, renamed '….damaged-DATE-TIME')."
            ) from exc
        if not self.read_only:
            migrate(con)
        return con

    @property
    def con(self):
        """This thread's cursor on the shared connection."""
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            with self._lock:
                cur = self._con.cursor()
            self._local.cursor = cur
        return cur

    @contextmanager
    def transaction(self):
        """All or nothing: commit when the block ends, roll back if it raises."""
        con = self.con
        con.execute("BEGIN TRANSACTION")
        try:
            yield con
        except duckdb.TransactionException as exc:
            con.execute("ROLLBACK")
            raise ConflictError(_CONFLICT) from exc
        except BaseException:
            con.execute("ROLLBACK")
            raise
        try:
            con.execute("COMMIT")
        except duckdb.TransactionException as exc:
            raise ConflictError(_CONFLICT) from exc

    def checkpoint(self) -> None:
        self.con.execute("CHECKPOINT")

    def close(self) -> None:
        self._con.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        return f"Index({str(self.path)!r}, read_only={self.read_only})"


def open_index(path=None, *, read_only: bool = False) -> Index:
    """Open (and create or migrate) the song index at ``path``."""
    return Index(path, read_only=read_only)


#: How often a snapshot is tried again when the index changed while it was copied.
SNAPSHOT_ATTEMPTS = 20


@contextmanager
def open_for_reading(path=None):
    """Open the index read-only, even while another program (the app) holds it.

    When the file is free it is opened read-only. When another process holds it for
    writing, a consistent snapshot is read instead (see the module's notes); the yielded
    :class:`Index` then has ``snapshot_of`` set to the real file and ``snapshot_time`` to
    when it was taken. The snapshot is deleted when the block ends.

    Raises
    ------
    SongIndexError
        There is no index at ``path``, or it kept changing for several seconds.
    """
    path = Path(path) if path is not None else default_db_path()
    try:
        index = Index(path, read_only=True)
    except IndexInUseError:
        index = None
    if index is not None:
        with index:
            yield index
        return
    folder = tempfile.mkdtemp(prefix="emolab-snapshot-")
    try:
        copy, taken = snapshot(path, Path(folder))
        with Index(copy, read_only=True) as index:
            index.snapshot_of, index.snapshot_time = path, taken
            yield index
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def snapshot(path, folder) -> tuple[Path, float]:
    """Copy the index file ``path`` and its ``.wal`` into ``folder`` while neither changes.

    Works while another process holds the index. Returns the copy's path and the time it
    was taken (seconds since the epoch).
    """
    path, folder = Path(path), Path(folder)
    wal = path.with_name(path.name + ".wal")
    copy = folder / path.name
    copy_wal = copy.with_name(copy.name + ".wal")
    for attempt in range(SNAPSHOT_ATTEMPTS):
        before = _file_state(path), _file_state(wal)
        taken = time.time()
        shutil.copyfile(path, copy)
        if before[1] is not None:
            try:
                shutil.copyfile(wal, copy_wal)
            except FileNotFoundError:  # checkpointed meanwhile: the state changed, try again
                pass
        elif copy_wal.exists():
            copy_wal.unlink()
        if (_file_state(path), _file_state(wal)) == before:
            return copy, taken
        time.sleep(0.05 * (attempt + 1))
    raise SongIndexError(f"The song index '{path}' is being written without a pause right now; "
                      "nothing could be read. Try again in a moment.")


def _file_state(path: Path):
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return st.st_size, st.st_mtime_ns
