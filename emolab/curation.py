"""Curating human labels as a table: the snapshot a user edits and applying the edits.

The Annotate page shows :func:`annotation_table`, lets the user edit cells or delete rows
(Streamlit's ``data_editor`` reports ``{"edited_rows": {row: {column: value}},
"deleted_rows": [row, ...]}``), and saves with :func:`apply_table_edits` inside
:func:`emolab.index.annotations.save` — all or nothing, first save wins::

    snapshot = annotation_table(index.con)
    annotations.save(index, lambda con: apply_table_edits(con, snapshot, changes, who="ana"))
"""
from __future__ import annotations

import pandas as pd

from emolab.exceptions import ParameterError

#: Columns a user may change in the table.
EDITABLE = ("valence", "arousal", "t0", "t1", "tags", "note")
#: Columns shown, in order.
COLUMNS = ("annotation_id", "title", "annotator", "kind", *EDITABLE, "revision")


def annotation_table(con) -> pd.DataFrame:
    """Every annotation, one row each, tags as one comma-separated string (row order = index)."""
    from emolab.index import annotations

    table = annotations.list_annotations(con)
    table["tags"] = [", ".join(t) if t is not None else "" for t in table["tags"]]
    return table.reset_index(drop=True)


def apply_table_edits(con, snapshot: pd.DataFrame, changes: dict | None, *, who: str) -> dict:
    """Apply a table's edits and deletions, each checked against the revision shown.

    Parameters
    ----------
    con : DuckDB cursor inside a transaction
    snapshot : pd.DataFrame
        The table as shown (from :func:`annotation_table`); row numbers refer to it.
    changes : dict
        ``edited_rows`` ({row: {column: value}}) and ``deleted_rows`` ([row]).
    who : str
        The annotator making the change (recorded in the history).

    Returns
    -------
    dict
        ``{"edited": n, "deleted": m}``.

    Raises
    ------
    ParameterError
        A change to a column that cannot be edited, or a row that is not in the table.
    ConflictError
        Someone saved the annotation since the snapshot was taken (nothing is changed
        when called inside ``annotations.save``).
    """
    from emolab.index import annotations

    changes = changes or {}
    edited = changes.get("edited_rows", {}) or {}
    deleted = changes.get("deleted_rows", []) or []
    for row, edit in edited.items():
        locked = set(edit) - set(EDITABLE)
        if locked:
            raise ParameterError(f"The column(s) {', '.join(sorted(locked))} cannot be edited.")
        original = _row(snapshot, row)
        annotations.update(con, int(original["annotation_id"]), dict(edit),
                           expected_revision=int(original["revision"]), who=who)
    for row in deleted:
        original = _row(snapshot, row)
        annotations.delete(con, int(original["annotation_id"]),
                           expected_revision=int(original["revision"]), who=who)
    return {"edited": len(edited), "deleted": len(deleted)}


def _row(snapshot: pd.DataFrame, row) -> pd.Series:
    position = int(row)
    if not 0 <= position < len(snapshot):
        raise ParameterError(f"Row {position} is not in the table; reload it and try again.")
    return snapshot.iloc[position]
