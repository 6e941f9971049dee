"""Human annotations with an append-only history.

Conflict rule (optimistic concurrency): every annotation carries a ``revision``. An edit
names the revision it was based on; if someone saved in between, the edit is refused
with :class:`~emolab.exceptions.ConflictError` and the first save wins. The loser is
told and can reload. Every change, including dataset imports, is written to
``annotation_history`` in the same transaction as the change itself.

Who may write, and how (the rule every caller follows):

* **One writing process.** DuckDB lets one process write the index file at a time: the
  app's server process (all browser sessions are threads of it) or one CLI command. A
  second writer is refused at :func:`~emolab.index.open_index` with an
  :class:`~emolab.exceptions.SongIndexError` saying the index is in use, and changes nothing.
* **Threads with their own cursors.** Inside that process each thread works through its
  own cursor (``index.con``) on the one shared connection.
* **One save, one transaction:** :func:`save` runs a user's save (:func:`insert`,
  :func:`update`, :func:`delete` calls) all or nothing. A crash or a killed process
  leaves each annotation exactly as before or exactly as after the save, never a mix; a
  save is durable once :func:`save` returns (DuckDB writes and syncs its log on COMMIT).
* **First save wins.** :func:`update` and :func:`delete` check ``revision`` in the same
  statement that writes. The loser gets a ConflictError telling them to reload; nothing
  of their save is written.
* **DuckDB's own conflicts.** When two transactions write the same row at the same
  moment, DuckDB refuses the later one; :meth:`Index.transaction
  <emolab.index.connection.Index.transaction>` reports that as a ConflictError and rolls
  the whole save back. :func:`save` tries such a save again a few times, so the outcome
  is decided by the revision check alone: if the other save was stored, the retry is
  refused as above; if it was rolled back, this one goes through. Saves to *different*
  annotations (of the same song or of other songs) never conflict, in DuckDB 2.0 either:
  ``tests/test_annotations.py`` and ``benchmarks/concurrency.py`` check this.
"""
from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

import duckdb

from emolab.exceptions import ConflictError, ParameterError

if TYPE_CHECKING:  # pandas is imported where a frame is made (ingest never needs it)
    import pandas as pd

T = TypeVar("T")

KINDS = ("static", "segment")
FIELDS = ("song_id", "annotator", "kind", "t0", "t1", "valence", "arousal",
          "valence_std", "arousal_std", "tags", "note")


def validate(ann: dict) -> dict:
    """Check one annotation and return it cleaned; raise ParameterError with a reason."""
    out = {k: ann.get(k) for k in FIELDS}
    if not out["annotator"] or not str(out["annotator"]).strip():
        raise ParameterError("An annotation needs an annotator name.")
    out["annotator"] = str(out["annotator"]).strip()[:200]
    if out["kind"] not in KINDS:
        raise ParameterError(f"Annotation kind must be 'static' or 'segment', not {out['kind']!r}.")
    for key in ("valence", "arousal"):
        value = out[key]
        if value is None or (isinstance(value, float) and math.isnan(value)):
            out[key] = None
            continue
        value = float(value)
        if not math.isfinite(value) or not -1.0 <= value <= 1.0:
            raise ParameterError(f"{key.capitalize()} must lie between -1 and 1 (got {value}).")
        out[key] = value
    if out["valence"] is None and out["arousal"] is None:
        raise ParameterError("An annotation needs a valence or an arousal value.")
    if out["kind"] == "segment":
        t0, t1 = out["t0"], out["t1"]
        if t0 is None or t1 is None or not (0 <= float(t0) < float(t1)):
            raise ParameterError("A segment needs a start and an end time, with start < end.")
        out["t0"], out["t1"] = float(t0), float(t1)
    else:
        out["t0"] = out["t1"] = None
    tags = out["tags"]
    if tags is None or (isinstance(tags, float) and math.isnan(tags)):
        tags = []
    if isinstance(tags, str):
        tags = [t.strip() for t in tags.split(",")]
    out["tags"] = [str(t).strip()[:100] for t in list(tags) if str(t).strip()]
    out["note"] = None if out["note"] is None else str(out["note"])[:10_000]
    return out


def _row(con, annotation_id: int) -> dict | None:
    cur = con.execute("SELECT * FROM annotations WHERE annotation_id = ?", [annotation_id])
    rows = cur.fetchall()  # read to the end: a half-read result holds a transaction open
    if not rows:
        return None
    names = [d[0] for d in cur.description]
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in zip(names, rows[0])}


def _json(row) -> str | None:
    return None if row is None else json.dumps(row, default=str)


def _history(con, annotation_id, song_id, action, who, old, new) -> None:
    con.execute(
        "INSERT INTO annotation_history (annotation_id, song_id, action, who, old, new) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [annotation_id, song_id, action, who, _json(old), _json(new)],
    )


def insert(con, ann: dict, *, who: str | None = None) -> int:
    """Add one annotation (validated) and its history row; return its id."""
    ann = validate(ann)
    names = list(ann)
    row = con.execute(
        f"INSERT INTO annotations ({', '.join(names)}) VALUES ({', '.join('?' for _ in names)}) "
        "RETURNING annotation_id",
        [ann[n] for n in names],
    ).fetchone()
    annotation_id = int(row[0])
    _history(con, annotation_id, ann["song_id"], "insert", who or ann["annotator"], None,
             _row(con, annotation_id))
    return annotation_id


def update(con, annotation_id: int, changes: dict, *, expected_revision: int, who: str) -> int:
    """Change an annotation if nobody saved it since ``expected_revision``; return the new revision."""
    old = _row(con, annotation_id)
    if old is None:
        raise ConflictError("This annotation was deleted by someone else.")
    lost = ConflictError(
        f"{old['annotator']}'s annotation was changed by someone else while you edited it "
        "(the first save wins). Reload to see their version, then apply your change again."
    )
    if int(old["revision"]) != int(expected_revision):
        raise lost
    merged = validate({**old, **changes})
    assignments = ", ".join(f"{k} = ?" for k in merged)
    # The revision is checked again by the write itself, so a caller outside a
    # transaction cannot overwrite a save made between the read above and this line.
    if not con.execute(
        f"UPDATE annotations SET {assignments}, revision = revision + 1, "
        "updated_at = current_timestamp WHERE annotation_id = ? AND revision = ? "
        "RETURNING annotation_id",
        [*merged.values(), annotation_id, int(expected_revision)],
    ).fetchall():
        raise lost
    new = _row(con, annotation_id)
    _history(con, annotation_id, old["song_id"], "update", who, old, new)
    return int(new["revision"])


def delete(con, annotation_id: int, *, expected_revision: int, who: str) -> None:
    old = _row(con, annotation_id)
    if old is None:
        return
    lost = ConflictError("This annotation was changed by someone else; reload before deleting it.")
    if int(old["revision"]) != int(expected_revision):
        raise lost
    if not con.execute("DELETE FROM annotations WHERE annotation_id = ? AND revision = ? "
                       "RETURNING annotation_id", [annotation_id, int(expected_revision)]).fetchall():
        raise lost
    _history(con, annotation_id, old["song_id"], "delete", who, old, None)


#: How often :func:`save` tries a save that DuckDB refused for a simultaneous write.
SAVE_ATTEMPTS = 4


def save(index, write: Callable[..., T], *, attempts: int = SAVE_ATTEMPTS) -> T:
    """Run one user's save in its own transaction: all of it is stored, or none of it.

    This is how the app (every browser session is a thread of one process) and scripts
    save annotations; see the module docstring for the rule.

    Parameters
    ----------
    index : Index
        The open, writable index shared by the process; the calling thread uses its own
        cursor.
    write : callable
        ``write(con) -> result``: the :func:`insert`, :func:`update` and :func:`delete`
        calls of this save, made on the transaction's cursor ``con``. It may be run again
        (see ``attempts``), so it must do nothing but these calls.
    attempts : int
        How many times a save is tried when DuckDB refuses it because another transaction
        wrote the same row at the same moment (a short random pause between tries).
        Revision conflicts ("someone saved first") are never retried.

    Returns
    -------
    object
        What ``write`` returned, e.g. the new annotation id or the new revision.

    Raises
    ------
    ConflictError
        Someone else saved the annotation first, or DuckDB kept refusing the save. The
        message tells the user to reload; nothing of this save was written.
    ParameterError
        A value is invalid; nothing was written.
    """
    attempt = 1
    while True:
        try:
            with index.transaction() as con:
                return write(con)
        except ConflictError as exc:
            refused_by_duckdb = isinstance(exc.__cause__, duckdb.TransactionException)
            if not refused_by_duckdb or attempt >= attempts:
                raise
        time.sleep(random.uniform(0.002, 0.01) * attempt)
        attempt += 1


def list_annotations(con, *, song_id: int | None = None) -> pd.DataFrame:
    """All annotations (of one song, if given) with the song's title and dataset ids."""
    sql = (
        "SELECT a.*, s.title, s.artist, s.dataset, s.dataset_id FROM annotations a "
        "JOIN songs s USING (song_id)"
        + (" WHERE a.song_id = ?" if song_id is not None else "")
        + " ORDER BY a.song_id, a.kind, a.t0 NULLS FIRST, a.annotation_id"
    )
    return con.execute(sql, [song_id] if song_id is not None else []).df()


def history(con, *, annotation_id: int | None = None) -> pd.DataFrame:
    sql = "SELECT * FROM annotation_history" + (
        " WHERE annotation_id = ?" if annotation_id is not None else "") + " ORDER BY history_id"
    return con.execute(sql, [annotation_id] if annotation_id is not None else []).df()


def find_static(con, song_id: int, annotator: str) -> dict | None:
    """The static annotation one annotator gave a song, if any."""
    rows = con.execute(
        "SELECT annotation_id FROM annotations WHERE song_id = ? AND annotator = ? AND kind = 'static' "
        "ORDER BY annotation_id LIMIT 1",
        [song_id, annotator],
    ).fetchall()
    return _row(con, int(rows[0][0])) if rows else None


def upsert_static(con, song_id: int, annotator: str, **values) -> int:
    """Set the static annotation of ``annotator`` on a song (dataset imports use this)."""
    existing = find_static(con, song_id, annotator)
    if existing is None:
        return insert(con, {"song_id": song_id, "annotator": annotator, "kind": "static", **values})
    update(con, existing["annotation_id"], values, expected_revision=existing["revision"], who=annotator)
    return int(existing["annotation_id"])
