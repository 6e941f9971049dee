"""Sketch a profile: draw how valence and arousal should move, find songs that move so."""
import pandas as pd
import streamlit as st

from streamlit_drawable_canvas import st_canvas

from emolab import plots, search, sketch, ui
from emolab.exceptions import EmolabError

st.title("Sketch a profile")
index = ui.get_index()
WIDTH, HEIGHT, POINTS = 760, 150, 64
COLOURS = {"valence": plots.VALENCE_COLOR, "arousal": plots.AROUSAL_COLOR}

st.caption("Draw one stroke on each canvas, left (start) to right (end): high means pleasant "
           "for valence and energetic for arousal. Use the canvas toolbar to undo.")
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
SOURCES = ["predicted", "human"] if ui.library_stats().get("with_human_curves", 0) else ["predicted"]
source = o4.radio("Song curves", SOURCES, horizontal=True, key="sketch_source",
                  help="Predicted: the dynamic model's curves (every song with audio has them). "
                       "Human: curves from annotated datasets, where the library has any.")
k = o5.number_input("Songs", 1, 50, 8, key="sketch_k")
znorm = o1.toggle("Compare shape only", key="sketch_znorm",
                  help="Ignore each curve's level and range: match rises and falls.")
if o5.button("Clear", help="Clear both canvases"):
    st.session_state["sketch_round"] += 1
    st.rerun()
for name in ("valence", "arousal"):
    result = st_canvas(
        stroke_width=4, stroke_color=COLOURS[name], drawing_mode="freedraw",
        background_image=ui.sketch_background(WIDTH, HEIGHT, name),
        width=WIDTH, height=HEIGHT, key=f"sketch_{name}_{st.session_state['sketch_round']}",
    )
    curves[name] = sketch.stroke_to_curve(result.json_data, width=WIDTH, height=HEIGHT, n=POINTS)

if curves["valence"] is None and curves["arousal"] is None:
    st.info("Draw a curve on at least one canvas to search.")
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
    columns = [c for c in ("distance", "start", "end", "title", "artist") if c in results]
    picked = st.dataframe(
        results[columns], hide_index=True, on_select="rerun", selection_mode="single-row",
        key="sketch_results",
        column_config={**ui.number_columns("distance"),
                       "start": st.column_config.NumberColumn("from (s)", format="%.1f",
                                                              width="small"),
                       "end": st.column_config.NumberColumn("to (s)", format="%.1f",
                                                            width="small")},
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
    if source == "predicted":
        versions = ui.curve_versions(results["song_id"].head(5))
        ui.provenance_caption(versions=[], dynamic=", ".join(versions) or None)
