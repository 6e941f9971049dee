"""Search by emotion: click a point of the valence–arousal plane, get the nearest songs."""
import streamlit as st

from emolab import plots, search, ui
from emolab.exceptions import EmolabError

st.title("Search by emotion")
index = ui.get_index()
SOURCES = {"human labels": "human", "model predictions": "predicted"}
DEFAULT_SOURCE = next(k for k, v in SOURCES.items() if v == ui.default_emotion_source())

st.session_state.setdefault("search_v", 0.5)
st.session_state.setdefault("search_a", 0.5)
clicked = ui.picked(st.session_state.get("search_plane"), plots.CLICK_SELECTION)
if clicked and clicked[0] != st.session_state.get("search_last_click"):
    st.session_state["search_last_click"] = clicked[0]
    st.session_state["search_v"] = round(float(clicked[0]["valence"]), 2)
    st.session_state["search_a"] = round(float(clicked[0]["arousal"]), 2)

left, right = st.columns([5, 6])
with right:
    c1, c2, c3 = st.columns(3)
    valence = c1.number_input("Valence", -1.0, 1.0, step=0.05, format="%.2f", key="search_v")
    arousal = c2.number_input("Arousal", -1.0, 1.0, step=0.05, format="%.2f", key="search_a")
    k = c3.number_input("Songs", 1, 200, 10, key="search_k")
    f1, f2 = st.columns([3, 2])
    source_label = f1.radio("Compare with", list(SOURCES), horizontal=True, key="search_source",
                            index=list(SOURCES).index(DEFAULT_SOURCE))
    only_audio = f2.toggle("Only songs with audio", key="search_audio")
    words = st.text_input("Title or artist contains", key="search_text")

table = ui.song_table()
library = table.assign(valence=table["human_valence"].combine_first(table["pred_valence"]),
                       arousal=table["human_arousal"].combine_first(table["pred_arousal"]))
library = library.dropna(subset=["valence", "arousal"])

with left:
    chart = plots.va_plane(
        plots.song_points(library, selectable=False, size=28, opacity=0.35, color=None),  # blue
        plots.click_grid(),
        plots.marker(valence, arousal, color="#6a1b9a", label="your point"),
        height=440,
    )
    st.altair_chart(chart, on_select="rerun", key="search_plane")
    st.caption("Click anywhere on the plane (or type the values) to search. "
               "Blue dots are the library's songs (human label where there is one, "
               "else the prediction); the purple cross is your point.")

with right:
    try:
        filters = search.SearchFilters(text=words or None, has_audio=True if only_audio else None)
        results = search.nearest_point(index, float(valence), float(arousal), int(k),
                                       source=SOURCES[source_label], filters=filters)
    except EmolabError as exc:
        ui.show_error(exc)
        st.stop()
    if results.empty:
        st.info(f"No song matches: none has {source_label} that pass the filters.")
        st.stop()
    st.markdown(f"**{len(results)} songs nearest to valence {valence:+.2f}, "
                f"arousal {arousal:+.2f}**")
    shown = [c for c in ("distance", "valence", "arousal", "title", "artist") if c in results]
    picked = st.dataframe(
        results[shown], hide_index=True, on_select="rerun", selection_mode="single-row",
        key="search_results", column_config=ui.number_columns(),
    )
    if SOURCES[source_label] == "predicted":
        ui.provenance_caption(table[table["song_id"].isin(results["song_id"])])
    rows = picked.selection.rows if picked else []
    row = results.iloc[rows[0] if rows else 0]
    song = table.set_index("song_id").loc[int(row["song_id"])]
    st.markdown(f"▶ **{song['label']}**")
    if not ui.play(song["source_path"]):
        st.caption("No audio file is stored for this song.")
    if st.button("Open in Analyse"):
        ui.select_song(int(row["song_id"]))
        st.switch_page("pages/analyse.py")
