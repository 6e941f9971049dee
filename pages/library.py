"""Library: what the index holds, on the valence–arousal plane and as a table."""
import numpy as np
import streamlit as st

from emolab import demo, demo_data, plots, ui
from emolab.exceptions import EmolabError

st.title("Library")
index = ui.get_index()
stats = ui.library_stats()


def add_demo():
    with st.spinner("Adding the demo library: public-domain pieces analysed by the shipped models…"):
        try:
            report = demo_data.load_demo(index)
        except EmolabError as exc:
            ui.show_error(exc)
            return
    ui.index_changed()
    st.session_state["demo_added"] = report["added"]
    st.rerun()


if stats["songs"] == 0:
    st.info("The library is empty.")
    if not ui.demo_disabled() and not st.session_state.get("demo_tried"):
        st.session_state["demo_tried"] = True
        add_demo()
    elif st.button("Add the demo library (a few dozen public-domain pieces, ready in seconds)"):
        add_demo()
    st.caption("Or add your own music: **Import a folder**, upload recordings on **Analyse**, "
               "or run `python -m emolab ingest FOLDER`.")
    st.stop()

if ((st.session_state.pop("demo_added", 0) or st.session_state.get("demo_audio"))
        and not ui.warm_up_disabled()):
    st.session_state["demo_audio"] = True
    job = ui.render_demo_audio_in_background()
    if not job["finished"]:
        st.caption(f"Rendering the demo pieces' audio in the background ({job['done']}/"
                   f"{job['total'] or len(demo.DEMO_PIECES)}); a piece you play first is "
                   "rendered on the spot.")
    for name, reason in job["failed"]:
        st.warning(f"The audio of demo piece {name} could not be rendered: {reason}")

cols = st.columns(5)
cols[0].metric("Songs", f"{stats['songs']:,}")
cols[1].metric("With audio", f"{stats['with_audio']:,}")
cols[2].metric("Human static labels", f"{stats['with_human_static']:,}")
cols[3].metric("Human curves", f"{stats['with_human_curves']:,}")
cols[4].metric("With predictions", f"{stats['with_predictions']:,}")

table = ui.song_table()
table["valence"] = table["human_valence"].combine_first(table["pred_valence"])
table["arousal"] = table["human_arousal"].combine_first(table["pred_arousal"])
table["emotion from"] = np.where(table["human_valence"].notna(), "human",
                                 np.where(table["pred_valence"].notna(), "predicted", "none"))
table["annotated"] = table["n_annotations"] > 0

with st.expander("Filter", expanded=False):
    f1, f2, f3 = st.columns(3)
    text = f1.text_input("Title or artist contains", key="lib_text")
    origins = sorted(table["origin"].dropna().unique())
    chosen_origins = f1.multiselect("Origin", origins, default=origins, key="lib_origin")
    v_range = f2.slider("Valence", -1.0, 1.0, (-1.0, 1.0), 0.05, key="lib_v")
    a_range = f2.slider("Arousal", -1.0, 1.0, (-1.0, 1.0), 0.05, key="lib_a")
    annotated = f3.radio("Human labels", ["all", "annotated", "not annotated"],
                         horizontal=True, key="lib_annotated")

shown = table[table["origin"].isin(chosen_origins)]
if text:
    haystack = (shown["title"].fillna("") + " " + shown["artist"].fillna("")).str.lower()
    shown = shown[haystack.str.contains(text.lower(), regex=False)]
in_range = shown["valence"].between(*v_range) & shown["arousal"].between(*a_range)
unfiltered_va = (v_range == (-1.0, 1.0)) and (a_range == (-1.0, 1.0))
shown = shown[in_range | (unfiltered_va & shown["valence"].isna())]
if annotated != "all":
    shown = shown[shown["annotated"] == (annotated == "annotated")]

left, right = st.columns([5, 6])
with left:
    colour = st.segmented_control("Colour by", ["origin", "emotion from"], default="origin",
                                  key="lib_colour") or "origin"
    on_plane = shown.dropna(subset=["valence", "arousal"])
    chart = plots.va_plane(plots.song_points(on_plane, color=colour,
                                             tooltip=["title", "artist", "origin"]), height=430)
    event = st.altair_chart(chart, on_select="rerun", key="lib_plane")
    st.caption(f"{len(on_plane):,} songs with an emotion on the plane. "
               "Click a dot to open the song.")
    hits = ui.picked(event, plots.SONG_SELECTION)
    if hits:
        ui.select_song(int(hits[0]["song_id"]))
        st.switch_page("pages/analyse.py")

with right:
    columns = ["song_id", "title", "artist", "origin", "dataset", "duration", "valence",
               "arousal", "emotion from", "n_annotations"]
    picked = st.dataframe(
        shown[columns].fillna({"dataset": "", "artist": ""}), hide_index=True,
        height=min(470, 35 * (len(shown) + 1) + 3), on_select="rerun",
        selection_mode="single-row", key="lib_table",
        column_config={
            "song_id": st.column_config.NumberColumn("id", width="small"),
            "duration": st.column_config.NumberColumn("duration (s)", format="%.0f"),
            "valence": st.column_config.NumberColumn(format="%.2f"),
            "arousal": st.column_config.NumberColumn(format="%.2f"),
            "n_annotations": st.column_config.NumberColumn("labels", width="small"),
        },
    )
    st.caption(f"{len(shown):,} of {len(table):,} songs. Select a row to open it.")
    rows = picked.selection.rows if picked else []
    if rows:
        ui.select_song(int(shown.iloc[rows[0]]["song_id"]))
        st.switch_page("pages/analyse.py")
