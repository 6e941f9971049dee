"""EmoLab: perceived emotion in music. Run with ``streamlit run app.py``."""
import streamlit as st

from emolab import ui

st.set_page_config(page_title="EmoLab", page_icon=":material/music_note:", layout="wide")

PAGES = [
    st.Page("pages/library.py", title="Library", icon=":material/library_music:", default=True),
    st.Page("pages/import_folder.py", title="Import a folder", icon=":material/drive_folder_upload:"),
    st.Page("pages/analyse.py", title="Analyse", icon=":material/graphic_eq:"),
    st.Page("pages/explore.py", title="Explore spaces", icon=":material/scatter_plot:"),
    st.Page("pages/search.py", title="Search by emotion", icon=":material/ads_click:"),
    st.Page("pages/sketch.py", title="Sketch a profile", icon=":material/draw:"),
    st.Page("pages/query.py", title="Query", icon=":material/database:"),
    st.Page("pages/annotate.py", title="Annotate & export", icon=":material/edit_note:"),
    st.Page("pages/models.py", title="Models", icon=":material/model_training:"),
]

page = st.navigation(PAGES)
with st.sidebar:
    st.markdown("### EmoLab")
    st.caption("Perceived emotion in music: valence (unpleasant → pleasant) and "
               "arousal (calm → excited), both on −1 … 1.")
    st.caption(f"Index: `{ui.default_db_path().name}`")
page.run()
if not ui.warm_up_disabled():
    ui.warm_up_in_background()
