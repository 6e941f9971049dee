"""Opening the index: one DuckDB file, one writing process, one cursor per thread."""
from __future__ import annotations

import threading
from contextlib import contextmanager
from pathlib import Path

import duckdb

from emolab.config import default_db_path
from emolab.exceptions import ConflictError, SongIndexError
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
                raise SongIndexError(
                    f"The song index '{self.path}' is in use by another program (the EmoLab app "
                    "or another emolab command): DuckDB allows one writer at a time. Nothing was "
                    "changed; close that program or wait until it has finished, then try again."
                ) from exc
            raise SongIndexError(
                f"The song index '{self.path}' could not be opened: it is not a DuckDB file "
                f"or it cannot be read ({exc})."
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
