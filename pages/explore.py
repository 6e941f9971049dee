"""Explore spaces: the raw feature space beside the TNN embedding, as 2-D maps (Fig. 2 live)."""
import streamlit as st

from emolab import plots, projection, ui
from emolab.exceptions import EmolabError, ModelError

st.title("Explore spaces")
st.caption("Each dot is a song, placed by t-SNE or UMAP so that songs with similar features lie "
           "close together. Left: the features the TNN reads; right: the TNN's own embedding "
           "(it only draws this map; the static model predicts without it). "
           "If the embedding has learned emotion, colours change smoothly across the right map. "
           "The score under each map is the R² of a k-nearest-neighbour regression of valence "
           "and arousal in that 2-D map (1 = emotion is perfectly ordered, 0 = not at all).")
index = ui.get_index()
SOURCES = ["human", "predicted"]

c1, c2, c3, c4, c5 = st.columns(5)
method = c1.segmented_control("Method", ["umap", "tsne"], default="umap", key="explore_method",
                              format_func=lambda m: {"umap": "UMAP", "tsne": "t-SNE"}[m]) or "umap"
if method == "umap":
    params = {"n_neighbors": c2.slider("Neighbours", 5, 100, 15, 5, key="explore_nn")}
else:
    params = {"perplexity": c2.slider("Perplexity", 5, 100, 30, 5, key="explore_perp")}
color_by = c3.radio("Colour by", ["valence", "arousal"], horizontal=True, key="explore_colour")
source = c4.radio("Emotion from", SOURCES, horizontal=True, key="explore_source",
                  index=SOURCES.index(ui.default_emotion_source()))
raw_family = c5.radio("Raw space", ["deam74", "librosa"], horizontal=True,
                      key="explore_raw_family",
                      format_func={"deam74": "TNN input (openSMILE)",
                                   "librosa": "broad librosa"}.get)


@st.cache_data(show_spinner="Computing the maps (once; they are kept in the index)…",
               max_entries=16)
def maps(path, gen, method, params_items, color_by, source, raw_family):
    return projection.paired_maps(ui.get_index(), method=method, params=dict(params_items),
                                  color_by=color_by, source=source, raw_family=raw_family)


try:
    points = maps(str(ui.default_db_path()), ui.generation(), method,
                  tuple(sorted(params.items())), color_by, source, raw_family)
except ModelError as exc:
    ui.missing(f"The TNN embedding needs the static model. {exc}",
               "`python -m emolab train-static --features …` (see the Models page).")
    st.stop()
except EmolabError as exc:  # the index does not hold what a map needs yet
    ui.missing(str(exc), "import DEAM's feature table (`python -m emolab import-dataset deam …`) "
               "or ingest music (`python -m emolab ingest FOLDER`).")
    st.stop()
if points is None or len(points) == 0:
    st.info("No song has both the TNN's input features and an emotion yet: import DEAM's "
            "features (`python -m emolab import-dataset deam …`) or ingest music.")
    st.stop()

raw_title = {"deam74": "Raw features (the TNN's openSMILE input)",
             "librosa": "Raw features (broad librosa vector)"}[raw_family]
spaces = [("raw", raw_title), ("tnn", "TNN embedding")]
selected = set()
columns = st.columns(len(spaces))
for (space, title), column in zip(spaces, columns):
    x, y = f"{space}_x", f"{space}_y"
    with column:
        chart = plots.projection_map(points.dropna(subset=[x, y]), x=x, y=y, color="colour",
                                     color_title=f"{source} {color_by}", title=title,
                                     selection_name=f"brush_{space}")
        event = st.altair_chart(chart, on_select="rerun", key=f"explore_map_{space}")
        score = points.attrs.get(f"{space}_score") or {}
        m1, m2 = st.columns(2)
        for dim, col in (("valence", m1), ("arousal", m2)):
            r2 = score.get(f"r2_{dim}")
            col.metric(f"k-NN R² {dim}", "—" if r2 is None else f"{r2:.2f}",
                       help=f"Scored on {score.get('scored_on', 'all songs')}: "
                            f"{score.get('n_' + dim, 0)} songs with a {source} {dim}, "
                            f"k = {score.get('k', '?')}.")
        if space == "tnn":
            st.caption(ui.tnn_score_note(score))
        else:
            st.caption("Scored on every song (5-fold cross-validation): the raw features "
                       "learnt nothing from any label.")
        box = ui.picked_interval(event, f"brush_{space}")
        if x in box and y in box:
            inside = points[x].between(*box[x]) & points[y].between(*box[y])
            selected |= set(points.loc[inside, "song_id"].astype(int))

st.caption(f"{len(points):,} songs. Drag a rectangle on either map to list those songs.")
if source == "predicted":
    ui.provenance_caption(ui.song_table())
if selected:
    table = ui.song_table().set_index("song_id")
    chosen = points[points["song_id"].isin(selected)]
    st.markdown(f"**{len(chosen)} songs selected**")
    shown = [c for c in ("valence", "arousal", "title", "artist") if c in chosen]
    st.dataframe(chosen[shown], hide_index=True, column_config=ui.number_columns())
    for song_id in chosen["song_id"].head(3):
        st.caption(table.loc[int(song_id), "label"])
        if not ui.play(table.loc[int(song_id), "source_path"]):
            st.caption("(no audio stored)")
