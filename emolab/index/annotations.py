"""Human annotations with an append-only history.

Conflict rule (optimistic concurrency): every annotation carries a ``revision``. An edit
names the revision it was based on; if someone saved in between, the edit is refused
with :class:`~emolab.exceptions.ConflictError` and the first save wins. The loser is
told and can reload. Every change, including dataset imports, is written to
``annotation_history`` in the same transaction as the change itself.
"""
from __future__ import annotations

import json
import math

import pandas as pd

from emolab.exceptions import ConflictError, ParameterError

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
    values = cur.fetchone()
    if values is None:
        return None
    names = [d[0] for d in cur.description]
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in zip(names, values)}


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
    if int(old["revision"]) != int(expected_revision):
        raise ConflictError(
            f"{old['annotator']}'s annotation was changed by someone else while you edited it "
            "(the first save wins). Reload to see their version, then apply your change again."
        )
    merged = validate({**old, **changes})
    assignments = ", ".join(f"{k} = ?" for k in merged)
    con.execute(
        f"UPDATE annotations SET {assignments}, revision = revision + 1, "
        "updated_at = current_timestamp WHERE annotation_id = ?",
        [*merged.values(), annotation_id],
    )
    new = _row(con, annotation_id)
    _history(con, annotation_id, old["song_id"], "update", who, old, new)
    return int(new["revision"])


def delete(con, annotation_id: int, *, expected_revision: int, who: str) -> None:
    old = _row(con, annotation_id)
    if old is None:
        return
    if int(old["revision"]) != int(expected_revision):
        raise ConflictError("This annotation was changed by someone else; reload before deleting it.")
    con.execute("DELETE FROM annotations WHERE annotation_id = ?", [annotation_id])
    _history(con, annotation_id, old["song_id"], "delete", who, old, None)


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
    row = con.execute(
        "SELECT annotation_id FROM annotations WHERE song_id = ? AND annotator = ? AND kind = 'static' "
        "ORDER BY annotation_id LIMIT 1",
        [song_id, annotator],
    ).fetchone()
    return None if row is None else _row(con, int(row[0]))


def upsert_static(con, song_id: int, annotator: str, **values) -> int:
    """Set the static annotation of ``annotator`` on a song (dataset imports use this)."""
    existing = find_static(con, song_id, annotator)
    if existing is None:
        return insert(con, {"song_id": song_id, "annotator": annotator, "kind": "static", **values})
    update(con, existing["annotation_id"], values, expected_revision=existing["revision"], who=annotator)
    return int(existing["annotation_id"])
