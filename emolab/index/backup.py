"""Consistent copies of the index: backup while it is in use, restore when it is not."""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import duckdb

from emolab.exceptions import SongIndexError


def backup(index, target) -> Path:
    """Write a consistent copy of ``index`` to the new file ``target`` (one transaction)."""
    target = Path(target).resolve()
    if target.exists():
        raise SongIndexError(f"'{target}' exists already; choose a new file for the backup.")
    if target == Path(index.path).resolve():
        raise SongIndexError("The backup must go to another file than the index itself.")
    target.parent.mkdir(parents=True, exist_ok=True)
    con = index.con
    source = con.execute("SELECT current_database()").fetchone()[0]
    alias = "emolab_backup"
    con.execute(f"ATTACH '{_quote(target)}' AS {alias}")
    try:
        con.execute(f'COPY FROM DATABASE "{source}" TO {alias}')
    finally:
        con.execute(f"DETACH {alias}")
    return target


def restore(backup_path, target) -> Path:
    """Replace the index file ``target`` by a backup, atomically; ``target`` must not be open."""
    backup_path, target = Path(backup_path), Path(target)
    _check_is_index(backup_path)
    if target.exists():
        try:
            duckdb.connect(str(target)).close()
        except duckdb.Error as exc:
            if "corrupt" in str(exc).lower():  # a damaged index: kept beside, for inspection
                _set_aside(target)
            elif isinstance(exc, duckdb.IOException):
                raise SongIndexError(f"'{target}' is open in another program; close it first.") from exc
            else:
                raise
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, suffix=".restore")
    os.close(fd)
    try:
        shutil.copyfile(backup_path, tmp)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    wal = target.with_name(target.name + ".wal")
    if wal.exists():
        wal.unlink()
    return target


def _set_aside(target: Path) -> Path:
    """Rename a damaged index (and its log) to ``NAME.damaged-TIME``; return the new path."""
    aside = target.with_name(f"{target.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
    os.replace(target, aside)
    wal = target.with_name(target.name + ".wal")
    if wal.exists():
        os.replace(wal, aside.with_name(aside.name + ".wal"))
    return aside


def _check_is_index(path: Path) -> None:
    if not path.is_file():
        raise SongIndexError(f"No backup at '{path}'.")
    try:
        con = duckdb.connect(str(path), read_only=True)
        con.execute("SELECT max(version) FROM schema_version").fetchone()
        con.close()
    except duckdb.Error as exc:
        raise SongIndexError(f"'{path}' is not an EmoLab index backup.") from exc


def _quote(path: Path) -> str:
    return str(path).replace("'", "''")
