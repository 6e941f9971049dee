"""Sketch a profile: draw how valence and arousal should move, find songs that move so."""
import pandas as pd
import streamlit as st

from emolab import plots, ui
from emolab.exceptions import EmolabError

st.title("Sketch a profile")
index = ui.get_index()
search = ui.optional("emolab.search")
WIDTH, HEIGHT, POINTS = 760, 150, 64
COLOURS = {"valence": plots.VALENCE_COLOR, "arousal": plots.AROUSAL_COLOR}

st.caption("Draw one stroke on each canvas, left (start) to right (end): high means pleasant "
           "for valence and energetic for arousal. Use the canvas toolbar to undo.")
try:
    from streamlit_drawable_canvas import st_canvas
except Exception as exc:  # the component needs a running Streamlit server to register
    ui.missing(f"The drawing canvas could not be loaded ({exc}).",
               "`pip install streamlit-drawable-canvas` and start the app with `streamlit run`.")
    st.stop()

st.session_state.setdefault("sketch_round", 0)
curves = {}
o1, o2, o3, o4, o5 = st.columns([3, 3, 3, 3, 2])
mode = o1.radio("Match", ["whole song", "segment"], key="sketch_mode", horizontal=True,
                help="Whole song: the profile is stretched over each song. Segment: the "
                     "best-matching stretch of the given length in any song.")
seconds = o2.slider("Segment length (s)", 5, 60, 20, 5, key="sketch_seconds",
                    disabled=mode != "segment")
metric = o3.radio("Distance", ["dtw", "euclidean"], horizontal=True, key="sketch_metric",
                  format_func={"dtw": "time-warped", "euclidean": "point by point"}.get)
source = o4.radio("Song curves", ["predicted", "human"], horizontal=True, key="sketch_source")
k = o5.number_input("Songs", 1, 50, 8, key="sketch_k")
znorm = o1.toggle("Compare shape only", key="sketch_znorm",
                  help="Ignore each curve's level and range: match rises and falls.")
if o5.button("Clear", icon=":material/ink_eraser:", help="Clear both canvases"):
    st.session_state["sketch_round"] += 1
    st.rerun()
for name in ("valence", "arousal"):
    result = st_canvas(
        stroke_width=4, stroke_color=COLOURS[name], drawing_mode="freedraw",
        background_image=ui.sketch_background(WIDTH, HEIGHT, name),
        width=WIDTH, height=HEIGHT, key=f"sketch_{name}_{st.session_state['sketch_round']}",
    )
    curves[name] = ui.stroke_to_curve(result.json_data, width=WIDTH, height=HEIGHT, n=POINTS)

if search is None:
    ui.missing("Profile search is not installed yet.",
               "update EmoLab (the module `emolab.search` provides it).")
    st.stop()
if curves["valence"] is None and curves["arousal"] is None:
    st.info("Draw a curve on at least one canvas to search.", icon=":material/draw:")
    st.stop()
for name in ("valence", "arousal"):
    if curves[name] is None:
        st.caption(f"No {name} curve drawn: songs are matched on "
                   f"{'arousal' if name == 'valence' else 'valence'} alone.")

try:
    results = search.match_profile(
        index, curves["valence"], curves["arousal"], int(k), source=source,
        mode="whole" if mode == "whole song" else "segment", metric=metric, znorm=znorm,
        segment_seconds=float(seconds) if mode == "segment" else None)
except EmolabError as exc:
    ui.show_error(exc)
    st.stop()
if results.empty:
    st.info(f"No song in the library has {source} emotion curves yet.")
    st.stop()

drawn, matches = search.compared_curves(index, results.head(5), curves["valence"], curves["arousal"], source=source, znorm=znorm)

st.markdown(f"**{len(results)} songs closest to your sketch**")
res_col, plot_col = st.columns([5, 6])
with res_col:
    columns = [c for c in ("title", "artist", "distance", "start", "end") if c in results]
    picked = st.dataframe(
        results[columns], hide_index=True, on_select="rerun", selection_mode="single-row",
        key="sketch_results",
        column_config={"distance": st.column_config.NumberColumn(format="%.3f"),
                       "start": st.column_config.NumberColumn("from (s)", format="%.1f"),
                       "end": st.column_config.NumberColumn("to (s)", format="%.1f")},
    )
    rows = picked.selection.rows if picked else []
    best = results.iloc[rows[0] if rows else 0]
    start = float(best["start"]) if "start" in results and pd.notna(best.get("start")) else 0.0
    song = ui.song_table().set_index("song_id").loc[int(best["song_id"])]
    st.markdown(f"▶ **{song['label']}**" + (f" from {start:.1f} s" if start else ""))
    if not ui.play(song["source_path"], start=start):
        st.caption("No audio file is stored for this song.")
with plot_col:
    st.altair_chart(plots.sketch_overlay(drawn, matches), key="sketch_overlay")
    st.caption("Thick: your sketch. Thin: the five best matches over the matched stretch.")
