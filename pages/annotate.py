"""Annotate & export: set or correct human labels, edit them in a table, export and import CSV."""
import io

import streamlit as st

from emolab import curation, importers, plots, ui
from emolab.exceptions import EmolabError
from emolab.index import annotations

st.title("Annotate & export")
index = ui.get_index()

annotator = st.text_input("Annotator", key="annotator",
                          placeholder="Your name or initials (stored with every label)")
table = ui.song_table()
if table.empty:
    st.info("The library is empty: add songs first (Analyse page or `python -m emolab ingest`).")
    st.stop()

SECTIONS = ["Label a song", "All annotations", "Export / import"]
section = st.segmented_control("Section", SECTIONS, default=SECTIONS[0], key="ann_section",
                               label_visibility="collapsed") or SECTIONS[0]


def save(action, success: str, after=None) -> None:
    """Save ``action(con)`` all or nothing, then ``after(result)`` and a rerun showing it.

    Conflicts (the first save wins) and bad values are reported as sentences and nothing
    is changed.
    """
    if not annotator.strip():
        st.error("Type your name in “Annotator” first: every label is stored with its author.")
        return
    try:
        result = annotations.save(index, action)
    except EmolabError as exc:
        ui.show_error(exc)
        return
    ui.index_changed()
    st.session_state.pop("ann_snapshot", None)
    if after is not None:
        after(result)
    st.session_state["ann_flash"] = success
    st.rerun()


if "ann_flash" in st.session_state:
    st.toast(st.session_state.pop("ann_flash"))


if section == SECTIONS[0]:
    song_id = ui.song_picker(table, key="annotate_song")
    existing = annotations.list_annotations(index.con, song_id=song_id)
    mine = existing[(existing["annotator"] == annotator.strip()) & (existing["kind"] == "static")]
    current = mine.iloc[0] if not mine.empty else None
    seen_key = f"seen_{song_id}_{annotator.strip()}"
    if current is not None:
        st.session_state.setdefault(seen_key, int(current["revision"]))

    v_key, a_key = f"ann_v_{song_id}", f"ann_a_{song_id}"
    if v_key not in st.session_state:
        st.session_state[v_key] = float(current["valence"]) if current is not None else 0.0
        st.session_state[a_key] = float(current["arousal"]) if current is not None else 0.0
    clicked = ui.picked(st.session_state.get("annotate_plane"), plots.CLICK_SELECTION)
    if clicked and clicked[0] != st.session_state.get("annotate_last_click"):
        st.session_state["annotate_last_click"] = clicked[0]
        st.session_state[v_key] = round(float(clicked[0]["valence"]), 2)
        st.session_state[a_key] = round(float(clicked[0]["arousal"]), 2)

    plane_col, form_col = st.columns([5, 6])
    with form_col:
        st.markdown("**Whole-song (static) label**")
        c1, c2 = st.columns(2)
        valence = c1.number_input("Valence", -1.0, 1.0, step=0.05, format="%.2f", key=v_key)
        arousal = c2.number_input("Arousal", -1.0, 1.0, step=0.05, format="%.2f", key=a_key)
        tags = st.text_input("Tags (comma-separated)", key=f"ann_tags_{song_id}",
                             value=", ".join(current["tags"]) if current is not None
                             and current["tags"] is not None else "")
        note = st.text_area("Note", key=f"ann_note_{song_id}", height=80,
                            value=current["note"] if current is not None
                            and isinstance(current["note"], str) else "")
        values = {"valence": valence, "arousal": arousal, "tags": tags, "note": note or None}
        if current is None:
            if st.button("Save label", type="primary"):
                save(lambda con: annotations.insert(
                    con, {"song_id": song_id, "annotator": annotator, "kind": "static", **values}),
                    "Label saved.", after=lambda _: st.session_state.update({seen_key: 1}))
        else:
            b1, b2 = st.columns([1, 2])
            if b1.button("Save changes", type="primary"):
                save(lambda con: annotations.update(
                    con, int(current["annotation_id"]), values,
                    expected_revision=st.session_state[seen_key], who=annotator),
                    "Label updated.",
                    after=lambda revision: st.session_state.update({seen_key: int(revision)}))
            if b2.button("Reload the stored label"):
                for key in (seen_key, v_key, a_key, f"ann_tags_{song_id}", f"ann_note_{song_id}"):
                    st.session_state.pop(key, None)
                st.rerun()
            st.caption(f"Editing your label (based on revision {st.session_state[seen_key]}).")
    with plane_col:
        others = existing[existing["kind"] == "static"].dropna(subset=["valence", "arousal"])
        layers = [plots.click_grid()]
        if not others.empty:
            layers.append(plots.song_points(others.assign(song_id=others["annotation_id"]),
                                            color="annotator", selectable=False, size=90,
                                            tooltip=["annotator"]))
        layers.append(plots.marker(valence, arousal, color="#6a1b9a", label="your label"))
        st.altair_chart(plots.va_plane(*layers, height=360), on_select="rerun",
                        key="annotate_plane")
        st.caption("Click the plane to place your label; coloured dots are existing labels.")

    st.markdown("**Segment label**")
    curves = ui.song_curves(song_id)
    span = {}
    if curves.empty:
        st.caption("This song has no emotion curve to drag over: type the segment's times.")
    else:
        event = st.altair_chart(plots.emotion_curves(curves, clickable=False, span=True),
                                on_select="rerun", key="annotate_curves")
        span = ui.picked_interval(event, plots.SPAN_SELECTION).get("time") or {}
        st.caption("Drag over the curves to choose a segment.")
    s1, s2, s3, s4 = st.columns(4)
    t0 = s1.number_input("From (s)", 0.0, value=float(span[0]) if span else 0.0, step=0.5,
                         key=f"seg_t0_{song_id}_{span}")
    t1 = s2.number_input("To (s)", 0.0, value=float(span[1]) if span else 10.0, step=0.5,
                         key=f"seg_t1_{song_id}_{span}")
    seg_v = s3.slider("Valence", -1.0, 1.0, 0.0, 0.05, key="seg_v")
    seg_a = s4.slider("Arousal", -1.0, 1.0, 0.0, 0.05, key="seg_a")
    if st.button("Save segment label"):
        save(lambda con: annotations.insert(con, {
            "song_id": song_id, "annotator": annotator, "kind": "segment", "t0": t0, "t1": t1,
            "valence": seg_v, "arousal": seg_a}), "Segment label saved.")


if section == SECTIONS[1]:
    if "ann_snapshot" not in st.session_state:
        st.session_state["ann_snapshot"] = curation.annotation_table(index.con)
    snapshot = st.session_state["ann_snapshot"]
    st.caption(f"{len(snapshot):,} annotations. Edit cells or delete rows, then save. If "
               "someone saved the same annotation since you loaded the table, the first "
               "save wins and you are told.")
    st.data_editor(
        snapshot[list(curation.COLUMNS)], hide_index=True, num_rows="delete", key="ann_editor",
        disabled=[c for c in curation.COLUMNS if c not in curation.EDITABLE],
        column_config={
            "valence": st.column_config.NumberColumn(min_value=-1.0, max_value=1.0,
                                                     step=0.01, format="%.2f"),
            "arousal": st.column_config.NumberColumn(min_value=-1.0, max_value=1.0,
                                                     step=0.01, format="%.2f"),
            "annotation_id": st.column_config.NumberColumn("id", width="small"),
        },
    )
    b1, b2 = st.columns([1, 5])
    if b1.button("Save table", type="primary"):
        changes = st.session_state.get("ann_editor", {})
        save(lambda con: curation.apply_table_edits(con, snapshot, changes, who=annotator),
             "Annotations saved.")
    if b2.button("Reload"):
        st.session_state.pop("ann_snapshot", None)
        st.rerun()

if section == SECTIONS[2]:
    st.markdown("**Export** — one row per annotation (static and segment), with the song's "
                "title, dataset id, annotator, times, valence, arousal, tags and note.")
    e1, e2 = st.columns(2)
    scale = e1.radio("Scale of valence and arousal", ["unit", "1-9"], horizontal=True,
                     key="csv_scale", format_func={"unit": "−1 … 1", "1-9": "1 … 9 (DEAM)"}.get)
    annotators = sorted(annotations.list_annotations(index.con)["annotator"].unique())
    only = e2.selectbox("Whose annotations", ["everyone", *annotators],
                        key="csv_annotator")

    def export_csv() -> bytes:
        buf = io.StringIO()
        importers.export_annotations(index, buf, scale=scale,
                                     annotator=None if only == "everyone" else only)
        return buf.getvalue().encode("utf-8")

    st.download_button("Download annotations CSV", export_csv, file_name="emolab-annotations.csv",
                       mime="text/csv", key="export_csv",
                       on_click="ignore")
    st.markdown("**Import** — the same columns, on the scale chosen above. The file is applied "
                "all or nothing: if any row is bad, nothing is imported and the bad rows are "
                "listed.")
    uploaded = st.file_uploader("Annotation CSV", type=["csv"], key="import_csv")
    if uploaded is not None and st.button("Import"):
        try:
            report = importers.import_annotations(index, io.BytesIO(uploaded.getvalue()),
                                                  scale=scale,
                                                  annotator_default=annotator.strip() or None)
        except EmolabError as exc:
            ui.show_error(exc)
        else:
            if report.ok:
                ui.index_changed()
                st.session_state.pop("ann_snapshot", None)
                st.success(report.message)
            else:
                st.error(report.message)
                st.dataframe(report.to_frame(), hide_index=True)
